"""837P reading: transaction sets to :class:`ProfessionalClaim` values, one segment handler per segment id.

The reader walks the segments once. :class:`_Reader` holds what the HL loops said so far (billing provider,
subscriber, payer, patient), the claim being read (:class:`Draft`), its current service line and its current
other-payer (2320) loop; each handler reads one segment into that state. Every X12Error names the segment.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

from domain.remittance import Adjustment
from domain.x12.claim837.drafts import (
    Draft,
    OtherLine,
    OtherLoop,
    claim_from,
    line_from,
    replace_taxonomy,
    split_components,
)
from domain.x12.claim837.values import (
    KNOWN_SEGMENTS,
    RELATIONSHIP_CODES,
    Address,
    PayerParty,
    Person,
    ProfessionalClaim,
    ProviderParty,
    Subscriber,
)
from domain.x12.envelope import (
    TransactionSet,
    X12Error,
    cents,
    get,
    read_envelope,
    x12_date,
)


def date_range(text: str, position: int) -> tuple[date, date]:
    """DTP03 of an RD8 period, ``CCYYMMDD-CCYYMMDD``: the first and the last day (the last not before the first)."""
    first, dash, last = text.partition("-")
    if not dash:
        raise X12Error(
            f"not a date range (CCYYMMDD-CCYYMMDD): {text[:20]!r}", position=position, segment_id="DTP", element=3
        )
    start, end = x12_date(first, position, "DTP", 3), x12_date(last, position, "DTP", 3)
    if end < start:
        raise X12Error(
            f"date range ends before it starts: {text[:20]!r}", position=position, segment_id="DTP", element=3
        )
    return start, end


def parse_837p(text: str) -> list[ProfessionalClaim]:
    """Every claim of every 837P transaction set in the file (raises X12Error on malformed input)."""
    transactions = list(read_envelope(text).transactions())
    found = [t for t in transactions if t.set_id == "837"]
    if not found:
        kinds = ", ".join(sorted({t.set_id for t in transactions})) or "none"
        raise X12Error(f"no 837 transaction set in the file (found: {kinds})")
    claims: list[ProfessionalClaim] = []
    for transaction in found:
        claims += parse_837p_set(transaction)
    return claims


def parse_837p_set(transaction: TransactionSet) -> list[ProfessionalClaim]:
    reader = _Reader(transaction.delimiters.component)
    for position, el in transaction.elements():
        reader.read(position, el)
    reader.finish_claim()
    return reader.claims


_NO_BIRTH: tuple[date | None, str] = (None, "U")


@dataclass
class _Reader:
    """The parser state of one 837P transaction set, read segment by segment."""

    component: str
    claims: list[ProfessionalClaim] = field(default_factory=list)
    level: str = ""  # 20, 22, 23 or "" before the first HL
    entity: str = ""  # the NM1 qualifier whose N3/N4/DMG/REF follow
    billing_parts: dict[str, str] = field(default_factory=dict)
    billing_address: Address | None = None
    pay_to: Address | None = None
    subscriber_parts: dict[str, str] = field(default_factory=dict)
    subscriber_address: Address | None = None
    subscriber_birth: tuple[date | None, str] = _NO_BIRTH
    payer: PayerParty = field(default_factory=lambda: PayerParty("", ""))
    patient_parts: dict[str, str] = field(default_factory=dict)
    patient_address: Address | None = None
    patient_birth: tuple[date | None, str] = _NO_BIRTH
    draft: Draft | None = None
    line: dict[str, object] | None = None
    other: OtherLoop | None = None
    pending_n3: str = ""
    seen_hl: set[str] = field(default_factory=set)

    def read(self, position: int, el: list[str]) -> None:
        sid = el[0]
        if sid not in KNOWN_SEGMENTS:
            raise X12Error(f"segment {sid} does not belong in an 837P", position=position, segment_id=sid)
        handler = _HANDLERS.get(sid)
        if handler is not None:
            handler(self, position, el)

    def finish_line(self) -> None:
        if self.line is not None and self.draft is not None:
            self.draft.lines.append(line_from(self.line))
        self.line = None

    def finish_claim(self) -> None:
        self.finish_line()
        if self.draft is not None:
            self.claims.append(claim_from(self.draft, self.component))
        self.draft = None

    def billing(self) -> ProviderParty:
        parts = self.billing_parts
        return ProviderParty(
            npi=parts.get("npi", ""),
            last_or_organization_name=parts.get("name", ""),
            first_name=parts.get("first", ""),
            entity_type=parts.get("entity", "2"),
            taxonomy=parts.get("taxonomy"),
            tax_id=parts.get("tax_id"),
            address=self.billing_address,
        )

    def subscriber(self) -> Subscriber:
        parts = self.subscriber_parts
        return Subscriber(
            member_id=parts.get("member_id", ""),
            person=Person(
                parts.get("last", ""),
                parts.get("first", ""),
                self.subscriber_birth[0],
                self.subscriber_birth[1],
                self.subscriber_address,
            ),
            relationship=parts.get("relationship", "self"),
            group_number=parts.get("group") or None,
            responsibility=parts.get("responsibility", "P"),
            claim_filing_indicator=parts.get("filing", "CI"),
        )

    def other_line(self, other: OtherLoop) -> OtherLine:
        """The 2430 loop of ``other`` for the service line being read."""
        return other.lines.setdefault(len(self.draft.lines) + 1 if self.draft else 0, OtherLine())

    # --- the HL loops: 2000A billing provider, 2000B subscriber, 2000C patient ---

    def hl(self, position: int, el: list[str]) -> None:
        self.finish_claim()
        self.other = None
        number = get(el, 1)
        if number in self.seen_hl:
            raise X12Error(f"HL01 {number} is used twice", position=position, segment_id="HL", element=1)
        parent = get(el, 2)
        if parent and parent not in self.seen_hl:
            raise X12Error(f"HL02 {parent} names no earlier HL", position=position, segment_id="HL", element=2)
        self.seen_hl.add(number)
        self.level = get(el, 3)
        if self.level == "20":
            self.billing_parts, self.billing_address, self.pay_to = {}, None, None
        elif self.level == "22":
            self.subscriber_parts, self.subscriber_address, self.subscriber_birth = {}, None, _NO_BIRTH
            self.patient_parts, self.patient_address, self.patient_birth = {}, None, _NO_BIRTH
        elif self.level == "23":
            self.patient_parts, self.patient_address, self.patient_birth = {}, None, _NO_BIRTH
        else:
            raise X12Error(f"unknown HL level {self.level!r}", position=position, segment_id="HL", element=3)
        self.entity = ""

    def prv(self, position: int, el: list[str]) -> None:
        draft = self.draft
        if draft is None and self.level == "20":
            self.billing_parts["taxonomy"] = get(el, 3)
        elif draft is not None and self.entity == "82" and draft.rendering is not None:
            draft.rendering = replace_taxonomy(draft.rendering, get(el, 3))

    def nm1(self, position: int, el: list[str]) -> None:
        self.entity = entity = get(el, 1)
        draft, other = self.draft, self.other
        if draft is None:
            self._hl_party_name(entity, el)
        elif other is not None and entity in ("IL", "PR"):
            if entity == "IL":
                other.sub_name = (get(el, 3), get(el, 4), get(el, 9))
            else:
                other.payer = (get(el, 3), get(el, 9))
        elif entity == "82":
            draft.rendering = ProviderParty(get(el, 9), get(el, 3), get(el, 4), get(el, 2))
        elif entity == "77":
            draft.facility = ProviderParty(get(el, 9), get(el, 3), "", get(el, 2))

    def _hl_party_name(self, entity: str, el: list[str]) -> None:
        """An NM1 of the HL loops, before the claim: billing provider, subscriber, payer or patient."""
        if entity == "85":
            self.billing_parts.update(name=get(el, 3), first=get(el, 4), entity=get(el, 2), npi=get(el, 9))
        elif entity == "IL":
            self.subscriber_parts.update(last=get(el, 3), first=get(el, 4), member_id=get(el, 9))
        elif entity == "PR":
            self.payer = PayerParty(get(el, 3), get(el, 9))
        elif entity == "QC":
            self.patient_parts.update(last=get(el, 3), first=get(el, 4))

    def n3(self, position: int, el: list[str]) -> None:
        self.pending_n3 = get(el, 1)

    def n4(self, position: int, el: list[str]) -> None:
        address = Address(self.pending_n3, get(el, 1), get(el, 2), get(el, 3))
        entity, draft, other = self.entity, self.draft, self.other
        if entity == "85":
            self.billing_address = address
        elif entity == "87":
            self.pay_to = address
        elif entity == "IL" and other is None:
            self.subscriber_address = address
        elif entity == "IL" and other is not None:
            other.sub_address = address
        elif entity == "PR" and draft is None:
            self.payer = PayerParty(self.payer.name, self.payer.payer_id, address)
        elif entity == "QC":
            self.patient_address = address
        elif entity == "77" and draft is not None and draft.facility is not None:
            facility = draft.facility
            draft.facility = ProviderParty(facility.npi, facility.last_or_organization_name, address=address)

    def dmg(self, position: int, el: list[str]) -> None:
        birth = x12_date(get(el, 2), position, "DMG", 2) if get(el, 2) else None
        if self.entity == "QC":
            self.patient_birth = (birth, get(el, 3) or "U")
        else:
            self.subscriber_birth = (birth, get(el, 3) or "U")

    def ref(self, position: int, el: list[str]) -> None:
        qualifier = get(el, 1)
        draft, line = self.draft, self.line
        if draft is None and self.level == "20" and qualifier in ("EI", "SY"):
            self.billing_parts["tax_id"] = get(el, 2)
        elif draft is not None and line is not None and qualifier == "6R":
            line["control"] = get(el, 2)
        elif draft is not None and line is None and qualifier == "F8":
            draft.original_claim_number = get(el, 2)
        elif draft is not None and qualifier == "G1" and self.other is None and line is None:
            draft.prior_authorization = get(el, 2) or None
        elif line is not None and qualifier == "G1" and "in_2430" not in line:
            # 2400 REF*G1 comes before the line's 2430 loops; a 2330B REF*G1 (other payer's) is not ours.
            line["prior_auth"] = get(el, 2)

    def sbr(self, position: int, el: list[str]) -> None:
        if self.draft is None:
            self.subscriber_parts.update(
                responsibility=get(el, 1), group=get(el, 3), filing=get(el, 9) or "CI", relationship="self"
            )
        else:
            self.finish_line()
            self.other = OtherLoop(el)
            self.draft.others.append(self.other)

    def pat(self, position: int, el: list[str]) -> None:
        relationship = {v: k for k, v in RELATIONSHIP_CODES.items()}.get(get(el, 1), "other")
        self.subscriber_parts["relationship"] = relationship

    # --- loop 2300: the claim ---

    def clm(self, position: int, el: list[str]) -> None:
        self.finish_claim()
        self.other = None
        if self.level not in ("22", "23"):
            raise X12Error("CLM outside a subscriber or patient HL", position=position, segment_id="CLM")
        patient = None
        if self.level == "23":
            patient = Person(
                self.patient_parts.get("last", ""),
                self.patient_parts.get("first", ""),
                self.patient_birth[0],
                self.patient_birth[1],
                self.patient_address,
            )
        if len(el) < 6:
            raise X12Error("CLM needs CLM01 to CLM05", position=position, segment_id="CLM")
        self.draft = Draft(self.billing(), self.pay_to, self.subscriber(), self.payer, patient, el, position)

    def hi(self, position: int, el: list[str]) -> None:
        if self.draft is None:
            raise X12Error("HI outside a claim", position=position, segment_id="HI")
        for value in el[1:]:
            parts = split_components(value, self.component)
            if len(parts) >= 2 and parts[0] in ("ABK", "ABF", "BK", "BF"):
                self.draft.diagnoses.append(parts[1])

    # --- loops 2320/2430: the other payer's adjudication, of the claim or of a line ---

    def cas(self, position: int, el: list[str]) -> None:
        other = self.other
        if other is None:
            return
        group = get(el, 1)
        adjustments: list[Adjustment] = []
        for index in range(2, min(len(el), 20), 3):
            if el[index]:
                quantity = get(el, index + 2)
                adjustments.append(
                    Adjustment(
                        group,
                        el[index],
                        cents(get(el, index + 1), position, "CAS", index + 1),
                        int(quantity) if quantity.isdigit() else None,
                    )
                )
        if self.line is None:
            other.cas.extend(adjustments)
        else:
            self.other_line(other).cas.extend(adjustments)

    def amt(self, position: int, el: list[str]) -> None:
        if self.other is not None and get(el, 1) == "D":
            self.other.paid = cents(get(el, 2), position, "AMT", 2)

    def svd(self, position: int, el: list[str]) -> None:
        draft, line = self.draft, self.line
        if line is None or draft is None:
            return
        # Find the 2320 loop of this payer: SVD01 is the other payer's id.
        for candidate in draft.others:
            if candidate.payer[1] == get(el, 1):
                entry = candidate.lines.setdefault(len(draft.lines) + 1, OtherLine())
                entry.svd = el
                entry.position = position
                self.other = candidate
                line["in_2430"] = True
                break

    # --- loop 2400: a service line ---

    def lx(self, position: int, el: list[str]) -> None:
        if self.draft is None:
            raise X12Error("LX outside a claim", position=position, segment_id="LX")
        self.finish_line()
        self.line = {"position": position}

    def sv1(self, position: int, el: list[str]) -> None:
        line = self.line
        if line is None:
            raise X12Error("SV1 without an LX", position=position, segment_id="SV1")
        line["sv1"] = el
        line["component"] = self.component
        line["claim_pos"] = self.draft.clm[5].split(self.component)[0] if self.draft is not None else ""

    def dtp(self, position: int, el: list[str]) -> None:
        qualifier = get(el, 1)
        line, other = self.line, self.other
        if get(el, 2) == "RD8":  # a period: a line's service dates (472), or a claim-level one we only check
            first, last = date_range(get(el, 3), position)
            if qualifier == "472" and line is not None:
                line["date"], line["date_end"] = first, last
            return
        day = x12_date(get(el, 3), position, "DTP", 3) if get(el, 3) else None
        if qualifier == "472" and line is not None:
            line["date"] = day
        elif qualifier == "573" and other is not None:
            if line is not None:
                self.other_line(other).day = day
            else:
                other.day = day


_HANDLERS: dict[str, Callable[[_Reader, int, list[str]], None]] = {
    "HL": _Reader.hl,
    "PRV": _Reader.prv,
    "NM1": _Reader.nm1,
    "N3": _Reader.n3,
    "N4": _Reader.n4,
    "DMG": _Reader.dmg,
    "REF": _Reader.ref,
    "SBR": _Reader.sbr,
    "PAT": _Reader.pat,
    "CLM": _Reader.clm,
    "HI": _Reader.hi,
    "CAS": _Reader.cas,
    "AMT": _Reader.amt,
    "LX": _Reader.lx,
    "SV1": _Reader.sv1,
    "SVD": _Reader.svd,
    "DTP": _Reader.dtp,
}
