"""835 reading: one :class:`~domain.remittance.Remittance` per ST..SE, one segment handler per segment id.

Balancing is checked and reported as warnings with the amounts (never silently fixed): BPR02 against the
claims' CLP04 minus PLB, each claim's charge minus its adjustments against its payment, and the same for each
service line.

One reader, :class:`RemittanceReader`, takes a set's segments as they come and hands out each claim once its loop
is complete, keeping only running totals for BPR02; :func:`stream_835` reads a file arriving in chunks that way (a
payer's 50 MB 835 is never held whole), and :func:`parse_835` / :func:`parse_835_set` are the same reader over a
text held whole, keeping the claims in the Remittance.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import replace
from datetime import date

from domain.money import format_cents
from domain.remittance import Adjustment, ClaimPayment, ProviderAdjustment, Remittance
from domain.x12.envelope import (
    TransactionSet,
    X12Error,
    cents,
    read_envelope,
    stream_transactions,
    x12_date,
)
from domain.x12.remit835.claims import ClaimInProgress, ServiceLineInProgress, finish_claim, units

CLAIM_STATUS_CODES = frozenset(
    {"1", "2", "3", "4", "5", "10", "13", "15", "16", "17", "19", "20", "21", "22", "23", "25"}
)
ADJUSTMENT_GROUPS = frozenset({"CO", "PR", "OA", "PI", "CR"})
PAYMENT_METHODS = frozenset({"ACH", "CHK", "BOP", "FWT", "NON"})
KNOWN_SEGMENTS = frozenset(
    {"ST", "SE", "BPR", "TRN", "CUR", "REF", "DTM", "N1", "N3", "N4", "PER", "RDM", "LX", "TS3", "TS2", "CLP", "CAS"}
    | {"NM1", "MIA", "MOA", "AMT", "QTY", "SVC", "LQ", "PLB"}
)


def parse_835(text: str) -> list[Remittance]:
    """Every 835 transaction set in the file as a Remittance; raises X12Error on malformed input."""
    transactions = [t for t in read_envelope(text).transactions()]
    found = [t for t in transactions if t.set_id == "835"]
    if not found:
        raise _no_835({t.set_id for t in transactions})
    return [parse_835_set(t) for t in found]


def parse_835_set(transaction: TransactionSet) -> Remittance:
    reader = RemittanceReader(transaction, (transaction.raw,))
    claims = tuple(reader.claims())
    return reader.remittance(claims)


def stream_835(chunks: Iterable[str]) -> Iterator[RemittanceReader]:
    """Every 835 transaction set of X12 text arriving in ``chunks``, as a reader to take its claims from as they are
    read (each reader before the next is asked for); other sets are skipped. Raises X12Error on malformed input."""
    kinds: set[str] = set()
    for transaction, segments in stream_transactions(chunks):
        kinds.add(transaction.set_id)
        if transaction.set_id == "835":
            yield RemittanceReader(transaction, segments)
    if "835" not in kinds:
        raise _no_835(kinds)


def _no_835(kinds: set[str]) -> X12Error:
    return X12Error(f"no 835 transaction set in the file (found: {', '.join(sorted(kinds)) or 'none'})")


class RemittanceReader:
    """One 835 transaction set read segment by segment as its segments come (one handler per segment id).

    ``claims()`` hands out each claim once its loop is complete (at the next CLP, LX or PLB, or SE) and keeps none;
    then ``remittance()`` is the set with the claims it is given, its PLBs and its balancing warnings (BPR02 is
    checked against running totals). ``header()`` is the payment, payer and payee as read so far, for a reader
    that writes them before the claims: from then on a segment that would change them is an error.

    Adjustments, dates, amounts and codes are values that payers repeat (the same CO-45 for the same fee): the
    reader keeps one instance of each, so a file of tens of thousands of claims does not hold thousands of copies.
    """

    __slots__ = (
        "adjustments_seen",
        "amounts",
        "batches",
        "bpr",
        "bpr_position",
        "claim",
        "component",
        "days_seen",
        "finished",
        "header_written",
        "intern",
        "line",
        "paid_total",
        "party",
        "payee_id",
        "payee_name",
        "payer_ids",
        "payer_name",
        "plbs",
        "production",
        "transaction",
        "trn",
        "warnings",
    )

    def __init__(self, transaction: TransactionSet, segments: Iterable[Sequence[str]]) -> None:
        """``transaction``: the set's header (its segments may be absent); ``segments``: its raw segments ST..SE,
        in runs."""
        self.transaction = transaction
        self.batches = segments
        self.component = transaction.delimiters.component
        self.intern: dict[str, str] = {}
        self.adjustments_seen: dict[tuple[str, str, str, str], Adjustment] = {}
        self.days_seen: dict[str, date] = {}
        self.amounts: dict[str, int] = {}  # amount text -> cents: fee schedules make the same amounts recur
        self.bpr: list[str] | None = None
        self.bpr_position = 0
        self.trn: list[str] | None = None
        self.production: date | None = None
        self.party = ""
        self.payer_name = self.payee_name = self.payee_id = ""
        self.payer_ids: dict[str, str] = {}
        self.finished: list[ClaimPayment] = []  # completed, not yet handed out
        self.paid_total = 0  # CLP04 of every claim so far
        self.plbs: list[ProviderAdjustment] = []
        self.warnings: list[str] = []
        self.claim: ClaimInProgress | None = None
        self.line: ServiceLineInProgress | None = None
        self.header_written = False

    def claims(self) -> Iterator[ClaimPayment]:
        """Read the set to its end, handing out each claim as soon as its loop is complete."""
        e = self.transaction.delimiters.element
        handlers = _HANDLERS
        finished = self.finished
        position = self.transaction.first_position - 1
        for batch in self.batches:
            for raw in batch:
                position += 1
                el = raw.split(e)
                handler = handlers.get(el[0])
                if handler is not None:
                    handler(self, position, el)
                    if finished:
                        yield from finished
                        finished.clear()
                elif el[0] not in KNOWN_SEGMENTS:
                    sid = el[0]
                    raise X12Error(f"segment {sid} does not belong in an 835", position=position, segment_id=sid)
        self.finish_claim()
        yield from finished
        finished.clear()

    def finish_claim(self) -> None:
        if self.claim is not None:
            claim = finish_claim(self.claim, self.component, self.intern, self.amounts, self.warnings)
            self.paid_total += claim.paid_cents
            self.finished.append(claim)
        self.claim = self.line = None

    def _header_unchanged(self, position: int, sid: str) -> None:
        """The header is written (claims follow it): a segment that would change it comes too late."""
        if self.header_written:
            raise X12Error(
                f"{sid} after the claims began: the payment, payer and payee come before the first claim",
                position=position,
                segment_id=sid,
            )

    # --- header: BPR, TRN, DTM*405, and the 1000A payer / 1000B payee loops ---

    def bpr_segment(self, position: int, el: list[str]) -> None:
        self._header_unchanged(position, "BPR")
        if len(el) < 5:
            raise X12Error("BPR needs BPR01 to BPR04", position=position, segment_id="BPR")
        if el[4] not in PAYMENT_METHODS:
            raise X12Error(f"unknown payment method {el[4][:4]!r}", position=position, segment_id="BPR", element=4)
        cents(el[2], position, "BPR", 2)
        self.bpr = el
        self.bpr_position = position

    def trn_segment(self, position: int, el: list[str]) -> None:
        self._header_unchanged(position, "TRN")
        self.trn = el

    def n1(self, position: int, el: list[str]) -> None:
        self._header_unchanged(position, "N1")
        party = self.party = el[1] if len(el) > 1 else ""
        name = el[2] if len(el) > 2 else ""
        if party == "PR":
            self.payer_name = name
            if len(el) > 4 and el[4]:
                self.payer_ids.setdefault(el[3], el[4])
        elif party == "PE":
            self.payee_name = name
            self.payee_id = el[4] if len(el) > 4 else ""

    def lx(self, position: int, el: list[str]) -> None:
        self.finish_claim()

    def plb(self, position: int, el: list[str]) -> None:
        self.finish_claim()
        component = self.component
        for index in range(3, min(len(el), 15), 2):
            if not el[index]:
                continue
            reason, _, reference = el[index].partition(component)
            if index + 1 >= len(el) or not el[index + 1]:
                raise X12Error("provider adjustment without an amount", position=position, segment_id="PLB")
            self.plbs.append(ProviderAdjustment(reason, reference, cents(el[index + 1], position, "PLB", index + 1)))

    # --- loop 2100: a claim payment ---

    def clp(self, position: int, el: list[str]) -> None:
        if self.bpr is None:
            raise X12Error("CLP before BPR", position=position, segment_id="CLP")
        if len(el) < 5 or not el[1]:
            raise X12Error("CLP needs CLP01 to CLP04", position=position, segment_id="CLP")
        if el[2] not in CLAIM_STATUS_CODES:
            raise X12Error(f"unknown claim status {el[2][:4]!r}", position=position, segment_id="CLP", element=2)
        self.finish_claim()
        self.claim = ClaimInProgress(el, position)

    def nm1(self, position: int, el: list[str]) -> None:
        claim = self.claim
        if claim is not None:
            qualifier = el[1] if len(el) > 1 else ""
            if qualifier == "QC" and len(el) > 9:
                claim.member_id = el[9] or None
            elif qualifier == "82" and len(el) > 9:
                claim.rendering_npi = el[9] or None

    def remarks(self, position: int, el: list[str]) -> None:
        """MOA or MIA: the claim's remark codes."""
        sid = el[0]
        claim = self.claim
        if claim is None:
            raise X12Error(f"{sid} outside a claim", position=position, segment_id=sid)
        indexes = (3, 4, 5, 6, 7) if sid == "MOA" else (5, 20, 21, 22, 23)
        for index in indexes:
            if index < len(el) and el[index]:
                claim.remarks.append(el[index])
        claim.remark_source = sid

    def cas(self, position: int, el: list[str]) -> None:
        line, claim = self.line, self.claim
        target = line.adjustments if line is not None else claim.adjustments if claim is not None else None
        if target is None:
            raise X12Error("CAS outside a claim", position=position, segment_id="CAS")
        size = len(el)
        if size < 4:
            raise X12Error("CAS needs a group, a reason and an amount", position=position, segment_id="CAS")
        group = el[1]
        seen, intern = self.adjustments_seen, self.intern
        # Up to six reason/amount/quantity triplets: CAS02-04, CAS05-07, ... CAS17-19. Adjustments are values
        # and payers repeat them (the same CO-45 for the same fee): equal triplets share one instance.
        for index in range(2, min(size, 20), 3):
            reason = el[index]
            if not reason:
                continue
            amount_text = el[index + 1] if index + 1 < size else ""
            quantity_text = el[index + 2] if index + 2 < size else ""
            key = (group, reason, amount_text, quantity_text)
            adjustment = seen.get(key)
            if adjustment is None:
                if group not in ADJUSTMENT_GROUPS:
                    raise X12Error(
                        f"unknown adjustment group {group[:4]!r}", position=position, segment_id="CAS", element=1
                    )
                if not amount_text:
                    raise X12Error("adjustment reason without an amount", position=position, segment_id="CAS")
                adjustment = Adjustment(
                    intern.setdefault(group, group),
                    intern.setdefault(reason, reason),
                    cents(amount_text, position, "CAS", index + 1),
                    units(quantity_text, position) if quantity_text else None,
                )
                seen[key] = adjustment
            target.append(adjustment)

    # --- loop 2110: a service line payment (and what DTM, REF and AMT mean in either loop) ---

    def svc(self, position: int, el: list[str]) -> None:
        if self.claim is None:
            raise X12Error("SVC outside a claim", position=position, segment_id="SVC")
        if len(el) < 4:
            raise X12Error("SVC needs SVC01 to SVC03", position=position, segment_id="SVC")
        self.line = ServiceLineInProgress(el, position)
        self.claim.lines.append(self.line)

    def dtm(self, position: int, el: list[str]) -> None:
        qualifier = el[1] if len(el) > 1 else ""
        day_text = el[2] if len(el) > 2 else ""
        day = self.days_seen.get(day_text)
        if day is None:
            day = self.days_seen[day_text] = x12_date(day_text, position, "DTM", 2)
        line, claim = self.line, self.claim
        if line is not None and qualifier in ("472", "150", "151"):
            if line.day is None or qualifier != "151":
                line.day = day
        elif claim is not None:
            if qualifier == "232":
                claim.start = day
            elif qualifier == "233":
                claim.end = day
            elif qualifier == "050":
                claim.received = day
        elif qualifier == "405":
            self.production = day

    def ref(self, position: int, el: list[str]) -> None:
        qualifier = el[1] if len(el) > 1 else ""
        value = el[2] if len(el) > 2 else ""
        if self.line is not None:
            if qualifier == "6R":
                self.line.control = value
        elif self.claim is None and self.party == "PR":
            if qualifier not in self.payer_ids:
                self._header_unchanged(position, "REF")
                self.payer_ids[qualifier] = value
        elif self.claim is None and self.party == "PE" and not self.payee_id:
            self._header_unchanged(position, "REF")
            self.payee_id = value

    def amt(self, position: int, el: list[str]) -> None:
        qualifier = el[1] if len(el) > 1 else ""
        line, claim = self.line, self.claim
        if line is not None and qualifier == "B6":
            text = el[2] if len(el) > 2 else ""
            allowed = self.amounts.get(text)
            if allowed is None:
                allowed = self.amounts[text] = cents(text, position, "AMT", 2)
            line.allowed = allowed
        elif line is None and claim is not None and qualifier == "AU":
            claim.coverage = cents(el[2] if len(el) > 2 else "", position, "AMT", 2)

    def lq(self, position: int, el: list[str]) -> None:
        if self.line is not None and len(el) > 2 and el[1] == "HE":
            self.line.remarks.append(self.intern.setdefault(el[2], el[2]))

    # --- the end: the Remittance and its balancing warnings ---

    def header(self) -> Remittance:
        """The set as read so far without claims, PLBs or warnings: its payment, payer and payee, which may no
        longer change (they are written before the claims)."""
        self.header_written = True
        return self._remittance((), ())

    def remittance(self, claims: tuple[ClaimPayment, ...] = ()) -> Remittance:
        """Once ``claims()`` is done: the set with ``claims`` (those handed out, if kept), its PLBs and its
        balancing warnings, BPR02 first (checked against every claim read, kept or not)."""
        remittance = self._remittance(claims, tuple(self.plbs))
        warnings = list(self.warnings)
        payment_cents, paid = remittance.payment_amount_cents, self.paid_total
        plb = sum(p.amount_cents for p in self.plbs)
        expected = paid - plb
        if expected != payment_cents:
            warnings.insert(
                0,
                f"segment {self.bpr_position} BPR02: {format_cents(payment_cents)} != claims paid {format_cents(paid)}"
                f" - provider adjustments {format_cents(plb)} = {format_cents(expected)}"
                f" (set {self.transaction.control_number})",
            )
        if warnings:
            return replace(remittance, warnings=tuple(warnings))
        return remittance

    def _remittance(self, claims: tuple[ClaimPayment, ...], plbs: tuple[ProviderAdjustment, ...]) -> Remittance:
        bpr, trn, bpr_position, transaction = self.bpr, self.trn, self.bpr_position, self.transaction
        if bpr is None:
            raise X12Error("835 without a BPR segment", position=transaction.first_position, segment_id="ST")
        if trn is None or len(trn) < 3:
            raise X12Error("835 without a TRN trace number", position=transaction.first_position, segment_id="ST")
        payment_cents = cents(bpr[2], bpr_position, "BPR", 2)
        payment_date = x12_date(bpr[16], bpr_position, "BPR", 16) if len(bpr) > 16 and bpr[16] else None
        payer_ids = self.payer_ids
        payer_id = payer_ids.get("2U") or payer_ids.get("XV") or payer_ids.get("PI") or (trn[3] if len(trn) > 3 else "")
        return Remittance(
            payer_id=payer_id,
            payer_name=self.payer_name,
            payee_name=self.payee_name,
            payee_id=self.payee_id,
            payment_method=bpr[4],
            payment_amount_cents=payment_cents,
            trace_number=trn[2],
            payment_date=payment_date,
            claims=claims,
            provider_adjustments=plbs,
            control_number=transaction.control_number,
            source="835",
            production_date=self.production,
            credit_debit=bpr[3],
        )


_HANDLERS: dict[str, Callable[[RemittanceReader, int, list[str]], None]] = {
    "CAS": RemittanceReader.cas,
    "SVC": RemittanceReader.svc,
    "DTM": RemittanceReader.dtm,
    "REF": RemittanceReader.ref,
    "AMT": RemittanceReader.amt,
    "LQ": RemittanceReader.lq,
    "CLP": RemittanceReader.clp,
    "NM1": RemittanceReader.nm1,
    "MOA": RemittanceReader.remarks,
    "MIA": RemittanceReader.remarks,
    "PLB": RemittanceReader.plb,
    "BPR": RemittanceReader.bpr_segment,
    "TRN": RemittanceReader.trn_segment,
    "N1": RemittanceReader.n1,
    "LX": RemittanceReader.lx,
}
