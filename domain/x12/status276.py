"""276/277 Health Care Claim Status Request and Response (005010X212).

HL tree: 20 payer, 21 information receiver (the submitter), 19 service provider, 22 subscriber (one per claim
asked about). The 2200D TRN carries our trace, REF*EJ our patient control number (Claim.id), REF*1K the payer's
claim number; the 277 answers with STC (category F0-F4 finalized, P pending, A acknowledged, R requests).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from domain.x12.ack277ca import StatusCode
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

IMPLEMENTATION = "005010X212"


@dataclass(frozen=True)
class ClaimStatusInquiry:
    trace: str  # TRN02 of 2200D: an opaque reference of ours
    payer_name: str
    payer_id: str
    submitter_name: str
    submitter_id: str
    provider_name: str
    provider_npi: str
    member_id: str
    subscriber_last_name: str
    subscriber_first_name: str
    claim_id: str  # REF*EJ: our patient control number
    charge_cents: int
    service_from: date
    service_to: date | None = None
    payer_claim_number: str | None = None  # REF*1K
    subscriber_birth_date: date | None = None


@dataclass(frozen=True)
class ClaimStatusResult:
    trace: str
    payer_name: str
    payer_id: str
    submitter_name: str
    submitter_id: str
    provider_name: str
    provider_npi: str
    member_id: str
    subscriber_last_name: str
    subscriber_first_name: str
    claim_id: str
    statuses: tuple[StatusCode, ...]
    status_date: date
    charge_cents: int
    paid_cents: int | None = None  # STC05
    adjudication_date: date | None = None  # STC06
    payment_method: str = ""  # STC07: ACH, BOP, CHK, FWT, NON
    check_date: date | None = None  # STC08
    check_number: str = ""  # STC09
    payer_claim_number: str | None = None
    service_from: date | None = None
    service_to: date | None = None
    control_number: str = ""

    @property
    def finalized(self) -> bool:
        return bool(self.statuses) and self.statuses[0].category.startswith("F")


def _upper_loops(
    payer: tuple[str, str], submitter: tuple[str, str], provider: tuple[str, str], hl: int
) -> tuple[list[Segment], int]:
    source, receiver, service = hl + 1, hl + 2, hl + 3
    return [
        ("HL", str(source), "", "20", "1"),
        ("NM1", "PR", "2", payer[0], "", "", "", "", "PI", payer[1]),
        ("HL", str(receiver), str(source), "21", "1"),
        ("NM1", "41", "2", submitter[0], "", "", "", "", "46", submitter[1]),
        ("HL", str(service), str(receiver), "19", "1"),
        ("NM1", "1P", "2", provider[0], "", "", "", "", "XX", provider[1]),
    ], service


def _dates(start: date | None, end: date | None) -> list[Segment]:
    if start is None:
        return []
    return [("DTP", "472", "RD8", f"{d8(start)}-{d8(end or start)}")]


def request_body(inquiries: Sequence[ClaimStatusInquiry], reference: str, when: datetime) -> TransactionBody:
    if not inquiries:
        raise X12Error("nothing to write: no claim status inquiries")
    segments: list[Segment] = [("BHT", "0010", "13", reference, when.strftime("%Y%m%d"), when.strftime("%H%M"))]
    hl = 0
    for q in inquiries:
        upper, provider_hl = _upper_loops(
            (q.payer_name, q.payer_id), (q.submitter_name, q.submitter_id), (q.provider_name, q.provider_npi), hl
        )
        segments += upper
        hl = provider_hl + 1
        segments.append(("HL", str(hl), str(provider_hl), "22", "0"))
        if q.subscriber_birth_date:
            segments.append(("DMG", "D8", d8(q.subscriber_birth_date)))
        segments += [
            ("NM1", "IL", "1", q.subscriber_last_name, q.subscriber_first_name, "", "", "", "MI", q.member_id),
            ("TRN", "1", q.trace),
        ]
        if q.payer_claim_number:
            segments.append(("REF", "1K", q.payer_claim_number))
        segments.append(("REF", "EJ", q.claim_id))
        segments.append(("AMT", "T3", amount(q.charge_cents)))
        segments += _dates(q.service_from, q.service_to)
    return TransactionBody("276", IMPLEMENTATION, segments)


def response_body(results: Sequence[ClaimStatusResult], reference: str, when: datetime) -> TransactionBody:
    if not results:
        raise X12Error("nothing to write: no claim status results")
    segments: list[Segment] = [("BHT", "0010", "08", reference, when.strftime("%Y%m%d"), when.strftime("%H%M"), "DG")]
    hl = 0
    for r in results:
        upper, provider_hl = _upper_loops(
            (r.payer_name, r.payer_id), (r.submitter_name, r.submitter_id), (r.provider_name, r.provider_npi), hl
        )
        segments += upper
        hl = provider_hl + 1
        if not r.statuses:
            raise X12Error(f"claim status result {r.trace} has no status")
        first, *rest = r.statuses
        stc: list[str | tuple[str, ...]] = [
            "STC",
            first.text(),
            d8(r.status_date),
            "",
            amount(r.charge_cents),
            "" if r.paid_cents is None else amount(r.paid_cents),
            d8(r.adjudication_date) if r.adjudication_date else "",
            r.payment_method,
            d8(r.check_date) if r.check_date else "",
            r.check_number,
        ]
        stc += [s.text() for s in rest[:2]]
        segments += [
            ("HL", str(hl), str(provider_hl), "22", "0"),
            ("NM1", "IL", "1", r.subscriber_last_name, r.subscriber_first_name, "", "", "", "MI", r.member_id),
            ("TRN", "2", r.trace),
            tuple(stc),
        ]
        if r.payer_claim_number:
            segments.append(("REF", "1K", r.payer_claim_number))
        segments.append(("REF", "EJ", r.claim_id))
        segments += _dates(r.service_from, r.service_to)
    return TransactionBody("277", IMPLEMENTATION, segments)


def write_276(
    inquiries: Sequence[ClaimStatusInquiry],
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
        [request_body(inquiries, str(control.interchange), when)],
        sender=sender,
        receiver=receiver,
        control=control,
        when=when,
        usage=usage,
        delimiters=delimiters,
        line_breaks=line_breaks,
    )


def write_277(
    results: Sequence[ClaimStatusResult],
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
        [response_body(results, str(control.interchange), when)],
        sender=sender,
        receiver=receiver,
        control=control,
        when=when,
        usage=usage,
        delimiters=delimiters,
        line_breaks=line_breaks,
    )


def _sets(text: str, set_id: str) -> list[TransactionSet]:
    transactions = list(read_envelope(text).transactions())
    found = [t for t in transactions if t.set_id == set_id and t.guide.startswith(IMPLEMENTATION)]
    if not found:
        kinds = ", ".join(sorted({f"{t.set_id} {t.guide}".strip() for t in transactions})) or "none"
        raise X12Error(f"no {set_id} ({IMPLEMENTATION}) transaction set in the file (found: {kinds})")
    return found


class _Claim:
    def __init__(self, upper: dict[str, tuple[str, str]]) -> None:
        self.upper = dict(upper)
        self.member = ("", "", "")
        self.birth: date | None = None
        self.trace = ""
        self.refs: dict[str, str] = {}
        self.charge = 0
        self.stc: list[str] | None = None
        self.stc_position = 0
        self.dates: tuple[date | None, date | None] = (None, None)


def _read(transaction: TransactionSet) -> list[_Claim]:
    claims: list[_Claim] = []
    upper: dict[str, tuple[str, str]] = {}
    level = ""
    current: _Claim | None = None
    for position, el in transaction.elements():
        sid = el[0]
        if sid == "HL":
            level = get(el, 3)
            if level == "22":
                current = _Claim(upper)
                claims.append(current)
            elif level in ("20", "21", "19"):
                current = None
            else:
                raise X12Error(f"unknown HL level {level!r}", position=position, segment_id="HL", element=3)
        elif sid == "NM1":
            if level in ("20", "21", "19"):
                upper[level] = (get(el, 3), get(el, 9))
            elif current is not None:
                current.member = (get(el, 3), get(el, 4), get(el, 9))
        elif current is None:
            if sid not in ("ST", "SE", "BHT", "TRN", "STC", "QTY", "AMT", "PER", "DTP", "REF"):
                raise X12Error(f"segment {sid} does not belong here", position=position, segment_id=sid)
        elif sid == "DMG":
            current.birth = x12_date(get(el, 2), position, "DMG", 2)
        elif sid == "TRN":
            current.trace = get(el, 2)
        elif sid == "REF":
            current.refs.setdefault(get(el, 1), get(el, 2))
        elif sid == "AMT" and get(el, 1) == "T3":
            current.charge = cents(get(el, 2), position, "AMT", 2)
        elif sid == "STC":
            if current.stc is None:
                current.stc = el
                current.stc_position = position
        elif sid == "DTP" and get(el, 1) == "472":
            start, _, end = get(el, 3).partition("-")
            current.dates = (x12_date(start, position, "DTP", 3), x12_date(end or start, position, "DTP", 3))
        elif sid not in ("ST", "SE", "SVC", "QTY", "DTP", "AMT"):
            raise X12Error(
                f"segment {sid} does not belong in a {transaction.set_id}", position=position, segment_id=sid
            )
    return claims


def parse_276(text: str) -> list[ClaimStatusInquiry]:
    return [inquiry for t in _sets(text, "276") for inquiry in parse_276_set(t)]


def parse_277(text: str) -> list[ClaimStatusResult]:
    return [result for t in _sets(text, "277") for result in parse_277_set(t)]


def parse_276_set(transaction: TransactionSet) -> list[ClaimStatusInquiry]:
    inquiries: list[ClaimStatusInquiry] = []
    for c in _read(transaction):
        if c.dates[0] is None:
            raise X12Error(f"claim status inquiry {c.trace} without a service date", segment_id="DTP")
        payer, submitter, provider = (
            c.upper.get("20", ("", "")),
            c.upper.get("21", ("", "")),
            c.upper.get("19", ("", "")),
        )
        inquiries.append(
            ClaimStatusInquiry(
                trace=c.trace,
                payer_name=payer[0],
                payer_id=payer[1],
                submitter_name=submitter[0],
                submitter_id=submitter[1],
                provider_name=provider[0],
                provider_npi=provider[1],
                member_id=c.member[2],
                subscriber_last_name=c.member[0],
                subscriber_first_name=c.member[1],
                claim_id=c.refs.get("EJ", ""),
                charge_cents=c.charge,
                service_from=c.dates[0],
                service_to=c.dates[1],
                payer_claim_number=c.refs.get("1K"),
                subscriber_birth_date=c.birth,
            )
        )
    return inquiries


def _status(value: str, component: str) -> StatusCode:
    parts = value.split(component)
    return StatusCode(parts[0], get(parts, 1), get(parts, 2))


def parse_277_set(transaction: TransactionSet) -> list[ClaimStatusResult]:
    results: list[ClaimStatusResult] = []
    component = transaction.delimiters.component
    for c in _read(transaction):
        stc = c.stc
        if stc is None:
            raise X12Error(f"claim status result {c.trace} without STC", segment_id="STC")
        p = c.stc_position
        statuses = [_status(v, component) for v in [stc[1], *stc[10:12]] if v]
        payer, submitter, provider = (
            c.upper.get("20", ("", "")),
            c.upper.get("21", ("", "")),
            c.upper.get("19", ("", "")),
        )
        results.append(
            ClaimStatusResult(
                trace=c.trace,
                payer_name=payer[0],
                payer_id=payer[1],
                submitter_name=submitter[0],
                submitter_id=submitter[1],
                provider_name=provider[0],
                provider_npi=provider[1],
                member_id=c.member[2],
                subscriber_last_name=c.member[0],
                subscriber_first_name=c.member[1],
                claim_id=c.refs.get("EJ", ""),
                statuses=tuple(statuses),
                status_date=x12_date(get(stc, 2), p, "STC", 2),
                charge_cents=cents(get(stc, 4) or "0", p, "STC", 4),
                paid_cents=cents(get(stc, 5), p, "STC", 5) if get(stc, 5) else None,
                adjudication_date=x12_date(get(stc, 6), p, "STC", 6) if get(stc, 6) else None,
                payment_method=get(stc, 7),
                check_date=x12_date(get(stc, 8), p, "STC", 8) if get(stc, 8) else None,
                check_number=get(stc, 9),
                payer_claim_number=c.refs.get("1K"),
                service_from=c.dates[0],
                service_to=c.dates[1],
                control_number=transaction.control_number,
            )
        )
    return results
