"""277CA Claim Acknowledgment (005010X214): which claims of an 837 batch entered adjudication, which were rejected.

HL tree: 20 information source (payer or clearinghouse), 21 information receiver (the submitter), 19 billing
provider, PT patient (one per claim). Each claim's STC says accepted (action WQ, categories A1/A2) or rejected
(action U, categories A3/A4/A6/A7/A8) with the claim status code (CSCC 507) and entity (CSCC).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from domain.x12.envelope import (
    ControlNumbers,
    Delimiters,
    Party,
    Segment,
    TransactionBody,
    TransactionSet,
    X12Error,
    amount,
    cents,
    d8,
    get,
    read_envelope,
    write_interchange,
    x12_date,
)

IMPLEMENTATION = "005010X214"
ACCEPTED_CATEGORIES = frozenset({"A1", "A2", "A5"})


@dataclass(frozen=True)
class StatusCode:
    category: str  # STC01-1, e.g. A2 accepted into adjudication, A7 rejected for invalid information
    code: str  # STC01-2 (CSCC 508), e.g. 20 accepted for processing, 21 missing or invalid information
    entity: str = ""  # STC01-3, e.g. 85 billing provider, IL subscriber, QC patient

    def text(self, separator: str = ":") -> tuple[str, ...]:
        return (self.category, self.code, self.entity) if self.entity else (self.category, self.code)


@dataclass(frozen=True)
class ClaimAck:
    claim_id: str  # TRN02 of 2200D: our patient control number (CLM01)
    statuses: tuple[StatusCode, ...]
    charge_cents: int
    billing_npi: str
    billing_name: str
    member_id: str
    patient_last_name: str
    patient_first_name: str
    status_date: date | None = None
    payer_claim_number: str | None = None  # REF*1K
    clearinghouse_trace: str | None = None  # REF*D9
    service_from: date | None = None
    service_to: date | None = None

    @property
    def accepted(self) -> bool:
        return bool(self.statuses) and self.statuses[0].category in ACCEPTED_CATEGORIES


@dataclass(frozen=True)
class ClaimAcknowledgment:
    source_name: str  # 2100A: the payer or clearinghouse answering
    source_id: str
    receiver_name: str  # 2100B: the submitter
    receiver_id: str
    trace: str  # 2200A TRN02
    received_date: date
    process_date: date
    claims: tuple[ClaimAck, ...]
    batch_reference: str = ""  # 2200B TRN02: the 837 batch (BHT03) being acknowledged
    control_number: str = ""

    @property
    def accepted(self) -> tuple[ClaimAck, ...]:
        return tuple(c for c in self.claims if c.accepted)

    @property
    def rejected(self) -> tuple[ClaimAck, ...]:
        return tuple(c for c in self.claims if not c.accepted)


def ack_body(ack: ClaimAcknowledgment, when: datetime) -> TransactionBody:
    segments = _source_and_receiver(ack, when)
    hl = 2
    by_provider: dict[tuple[str, str], list[ClaimAck]] = {}
    for claim in ack.claims:
        by_provider.setdefault((claim.billing_npi, claim.billing_name), []).append(claim)
    for (npi, name), claims in by_provider.items():
        hl += 1
        provider_hl = hl
        segments += _provider_segments(provider_hl, npi, name, claims)
        for claim in claims:
            hl += 1
            segments += _claim_segments(ack, claim, hl, provider_hl)
    return TransactionBody("277", IMPLEMENTATION, segments)


def _source_and_receiver(ack: ClaimAcknowledgment, when: datetime) -> list[Segment]:
    """BHT, the information source (HL 20) and receiver (HL 21) with the batch's totals."""
    process = d8(ack.process_date)
    segments: list[Segment] = [
        ("BHT", "0085", "08", ack.trace, when.strftime("%Y%m%d"), when.strftime("%H%M"), "TH"),
        ("HL", "1", "", "20", "1"),
        ("NM1", "PR", "2", ack.source_name, "", "", "", "", "PI", ack.source_id),
        ("TRN", "1", ack.trace),
        ("DTP", "050", "D8", d8(ack.received_date)),
        ("DTP", "009", "D8", process),
        ("HL", "2", "1", "21", "1"),
        ("NM1", "41", "2", ack.receiver_name, "", "", "", "", "46", ack.receiver_id),
        ("TRN", "2", ack.batch_reference or ack.trace),
        ("STC", ("A1", "19", "PR"), process, "WQ", amount(sum(c.charge_cents for c in ack.claims))),
        ("QTY", "90", str(len(ack.accepted))),
        ("QTY", "AA", str(len(ack.rejected))),
        ("AMT", "YU", amount(sum(c.charge_cents for c in ack.accepted))),
        ("AMT", "YY", amount(sum(c.charge_cents for c in ack.rejected))),
    ]
    # QTY/AMT for an empty side (no accepted or no rejected claims) are not sent.
    return [s for s in segments if not (s[0] in ("QTY", "AMT") and s[2] == "0")]


def _provider_segments(provider_hl: int, npi: str, name: str, claims: list[ClaimAck]) -> list[Segment]:
    """The billing provider (HL 19) with its claims' totals."""
    segments: list[Segment] = [
        ("HL", str(provider_hl), "2", "19", "1"),
        ("NM1", "85", "2", name, "", "", "", "", "XX", npi),
        ("TRN", "1", "0"),
        ("STC", ("A1", "19", "85"), "", "WQ", amount(sum(c.charge_cents for c in claims))),
    ]
    accepted = [c for c in claims if c.accepted]
    rejected = [c for c in claims if not c.accepted]
    if accepted:
        segments.append(("QTY", "QA", str(len(accepted))))
    if rejected:
        segments.append(("QTY", "QC", str(len(rejected))))
    if accepted:
        segments.append(("AMT", "YU", amount(sum(c.charge_cents for c in accepted))))
    if rejected:
        segments.append(("AMT", "YY", amount(sum(c.charge_cents for c in rejected))))
    return segments


def _claim_segments(ack: ClaimAcknowledgment, claim: ClaimAck, hl: int, provider_hl: int) -> list[Segment]:
    """One claim (HL PT): the patient, TRN with our claim id, STC with up to three statuses, REF and DTP."""
    if not claim.statuses:
        raise X12Error(f"claim {claim.claim_id} has no status")
    first, *rest = claim.statuses
    stc: list[str | tuple[str, ...]] = [
        "STC",
        first.text(),
        d8(claim.status_date or ack.process_date),
        "WQ" if claim.accepted else "U",
        amount(claim.charge_cents),
    ]
    if rest:
        stc += ["", "", "", "", "", rest[0].text()]
        if len(rest) > 1:
            stc.append(rest[1].text())
    segments: list[Segment] = [
        ("HL", str(hl), str(provider_hl), "PT"),
        ("NM1", "QC", "1", claim.patient_last_name, claim.patient_first_name, "", "", "", "MI", claim.member_id),
        ("TRN", "2", claim.claim_id),
        tuple(stc),
    ]
    if claim.payer_claim_number:
        segments.append(("REF", "1K", claim.payer_claim_number))
    if claim.clearinghouse_trace:
        segments.append(("REF", "D9", claim.clearinghouse_trace))
    if claim.service_from:
        to = claim.service_to or claim.service_from
        segments.append(("DTP", "472", "RD8", f"{d8(claim.service_from)}-{d8(to)}"))
    return segments


def write_277ca(
    acks: Sequence[ClaimAcknowledgment],
    *,
    sender: Party,
    receiver: Party,
    control: ControlNumbers,
    when: datetime | None = None,
    usage: str = "P",
    delimiters: Delimiters = Delimiters(),
    line_breaks: bool = False,
) -> str:
    when = when or datetime.now()
    return write_interchange(
        [ack_body(a, when) for a in acks],
        sender=sender,
        receiver=receiver,
        control=control,
        when=when,
        usage=usage,
        delimiters=delimiters,
        line_breaks=line_breaks,
    )


def parse_277ca(text: str) -> list[ClaimAcknowledgment]:
    transactions = list(read_envelope(text).transactions())
    found = [t for t in transactions if t.set_id == "277" and t.guide.startswith("005010X214")]
    if not found:
        kinds = ", ".join(sorted({f"{t.set_id} {t.guide}".strip() for t in transactions})) or "none"
        raise X12Error(f"no 277CA (005010X214) transaction set in the file (found: {kinds})")
    return [parse_277ca_set(t) for t in found]


def _status(value: str, component: str) -> StatusCode:
    parts = value.split(component)
    return StatusCode(parts[0], get(parts, 1), get(parts, 2))


def parse_277ca_set(transaction: TransactionSet) -> ClaimAcknowledgment:
    reader = _Reader(transaction.delimiters.component)
    for position, el in transaction.elements():
        handler = _HANDLERS.get(el[0])
        if handler is not None:
            handler(reader, position, el)
        elif el[0] not in _IGNORED_SEGMENTS:
            raise _not_in_277ca(el[0], position)
    reader.finish()
    return reader.acknowledgment(transaction)


_IGNORED_SEGMENTS = ("ST", "SE", "QTY", "AMT", "SVC", "PER")


def _not_in_277ca(sid: str, position: int) -> X12Error:
    return X12Error(f"segment {sid} does not belong in a 277CA", position=position, segment_id=sid)


@dataclass
class _Reader:
    """The parser state of one 277CA: the HL level, the header's parts, and the claim being read."""

    component: str
    level: str = ""
    header: dict[str, str] = field(default_factory=dict)
    dates: dict[str, date] = field(default_factory=dict)
    provider: tuple[str, str] = ("", "")
    patient: tuple[str, str, str] = ("", "", "")
    claims: list[ClaimAck] = field(default_factory=list)
    claim: dict[str, object] | None = None

    def finish(self) -> None:
        if self.claim is not None:
            self.claims.append(ClaimAck(**self.claim))  # type: ignore[arg-type]
        self.claim = None

    def hl(self, position: int, el: list[str]) -> None:
        self.finish()
        level = self.level = get(el, 3)
        if level not in ("20", "21", "19", "PT"):
            raise X12Error(f"unknown HL level {level!r}", position=position, segment_id="HL", element=3)

    def bht(self, position: int, el: list[str]) -> None:
        self.header["bht"] = get(el, 3)

    def nm1(self, position: int, el: list[str]) -> None:
        level = self.level
        if level == "20":
            self.header.update(source_name=get(el, 3), source_id=get(el, 9))
        elif level == "21":
            self.header.update(receiver_name=get(el, 3), receiver_id=get(el, 9))
        elif level == "19":
            self.provider = (get(el, 9), get(el, 3))
        elif level == "PT":
            self.patient = (get(el, 3), get(el, 4), get(el, 9))

    def trn(self, position: int, el: list[str]) -> None:
        level = self.level
        if level == "20":
            self.header["trace"] = get(el, 2)
        elif level == "21":
            self.header["batch"] = get(el, 2)
        elif level == "PT":
            provider, patient = self.provider, self.patient
            self.claim = {
                "claim_id": get(el, 2),
                "statuses": (),
                "charge_cents": 0,
                "billing_npi": provider[0],
                "billing_name": provider[1],
                "member_id": patient[2],
                "patient_last_name": patient[0],
                "patient_first_name": patient[1],
            }

    def stc(self, position: int, el: list[str]) -> None:
        if self.level != "PT":
            return
        claim = self.claim
        if claim is None:
            raise X12Error("STC before the claim's TRN", position=position, segment_id="STC")
        statuses = [_status(get(el, 1), self.component)]
        statuses += [_status(v, self.component) for v in el[10:12] if v]
        claim["statuses"] = tuple(statuses)
        claim["status_date"] = x12_date(get(el, 2), position, "STC", 2) if get(el, 2) else None
        claim["charge_cents"] = cents(get(el, 4) or "0", position, "STC", 4)

    def ref(self, position: int, el: list[str]) -> None:
        claim = self.claim
        if claim is None:  # a REF outside a claim is not one the 277CA has
            raise _not_in_277ca("REF", position)
        if get(el, 1) == "1K":
            claim["payer_claim_number"] = get(el, 2)
        elif get(el, 1) == "D9":
            claim["clearinghouse_trace"] = get(el, 2)

    def dtp(self, position: int, el: list[str]) -> None:
        qualifier = get(el, 1)
        if qualifier in ("050", "009"):
            self.dates[qualifier] = x12_date(get(el, 3), position, "DTP", 3)
        elif qualifier == "472" and self.claim is not None:
            start, _, end = get(el, 3).partition("-")
            self.claim["service_from"] = x12_date(start, position, "DTP", 3)
            self.claim["service_to"] = x12_date(end or start, position, "DTP", 3)

    def acknowledgment(self, transaction: TransactionSet) -> ClaimAcknowledgment:
        header, dates = self.header, self.dates
        if "050" not in dates or "009" not in dates:
            raise X12Error(
                "277CA without received (DTP*050) and process (DTP*009) dates", position=transaction.first_position
            )
        return ClaimAcknowledgment(
            source_name=header.get("source_name", ""),
            source_id=header.get("source_id", ""),
            receiver_name=header.get("receiver_name", ""),
            receiver_id=header.get("receiver_id", ""),
            trace=header.get("trace", header.get("bht", "")),
            received_date=dates["050"],
            process_date=dates["009"],
            claims=tuple(self.claims),
            batch_reference=header.get("batch", ""),
            control_number=transaction.control_number,
        )


_HANDLERS: dict[str, Callable[[_Reader, int, list[str]], None]] = {
    "HL": _Reader.hl,
    "BHT": _Reader.bht,
    "NM1": _Reader.nm1,
    "TRN": _Reader.trn,
    "STC": _Reader.stc,
    "REF": _Reader.ref,
    "DTP": _Reader.dtp,
}
