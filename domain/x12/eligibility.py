"""270/271 Eligibility, Coverage or Benefit Inquiry and Response (005010X279A1).

The platform writes 270 (one subscriber HL per inquiry) and reads 271; the sandbox payers do the reverse.
A 271 says active (EB01=1) or inactive (EB01=6), the co-pay (EB01=B), the deductible remaining (EB01=C with
EB06=29) and request errors (AAA: 72 invalid member id, 73 invalid name, 75 subscriber not found, 42 unable to
respond now) at the source or the subscriber level.
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

IMPLEMENTATION = "005010X279A1"


@dataclass(frozen=True)
class EligibilityInquiry:
    trace: str  # TRN02: our reference, echoed back in the 271 (an opaque id, never PHI)
    payer_name: str
    payer_id: str
    provider_name: str
    provider_npi: str
    member_id: str
    subscriber_last_name: str
    subscriber_first_name: str
    subscriber_birth_date: date | None
    service_date: date
    service_types: tuple[str, ...] = ("30",)  # 30 health benefit plan coverage


@dataclass(frozen=True)
class Benefit:
    info: str  # EB01: 1 active, 6 inactive, B co-payment, C deductible, A co-insurance, G out of pocket
    coverage_level: str = "IND"  # EB02: IND individual, FAM family
    service_types: tuple[str, ...] = ("30",)  # EB03
    insurance_type: str = ""  # EB04
    plan_description: str = ""  # EB05
    time_period: str = ""  # EB06: 29 remaining, 23 calendar year, 27 visit
    amount_cents: int | None = None  # EB07
    percent: str = ""  # EB08, e.g. 0.2
    in_network: str = ""  # EB12: Y, N, W (not applicable)


@dataclass(frozen=True)
class RequestError:
    code: str  # AAA03
    follow_up: str = "C"  # AAA04: C correct and resubmit, N do not resubmit, R resubmit, Y do not resubmit ...
    level: str = "subscriber"  # source (payer), receiver (provider) or subscriber


@dataclass(frozen=True)
class EligibilityResponse:
    trace: str
    payer_name: str
    payer_id: str
    provider_name: str
    provider_npi: str
    member_id: str
    subscriber_last_name: str
    subscriber_first_name: str
    subscriber_birth_date: date | None = None
    benefits: tuple[Benefit, ...] = ()
    errors: tuple[RequestError, ...] = ()
    plan_begin: date | None = None  # DTP*346
    control_number: str = ""

    @property
    def active(self) -> bool | None:
        """True active, False inactive, None when the payer did not say (e.g. an AAA error)."""
        for benefit in self.benefits:
            if benefit.info == "1":
                return True
            if benefit.info == "6":
                return False
        return None

    @property
    def copay_cents(self) -> int | None:
        return next((b.amount_cents for b in self.benefits if b.info == "B" and b.amount_cents is not None), None)

    @property
    def deductible_remaining_cents(self) -> int | None:
        return next(
            (
                b.amount_cents
                for b in self.benefits
                if b.info == "C" and b.time_period == "29" and b.amount_cents is not None
            ),
            None,
        )


def _trace_originator(npi: str) -> str:
    # TRN03 is a 10-character originating company id: "9" followed by an assigned number.
    return "9" + "".join(ch for ch in npi if ch.isdigit()).rjust(9, "0")[-9:]


def inquiry_body(inquiries: Sequence[EligibilityInquiry], reference: str, when: datetime) -> TransactionBody:
    if not inquiries:
        raise X12Error("nothing to write: no eligibility inquiries")
    segments: list[Segment] = [
        ("BHT", "0022", "13", reference, when.strftime("%Y%m%d"), when.strftime("%H%M")),
    ]
    hl = 0
    for inquiry in inquiries:
        hl += 1
        source = hl
        segments += [
            ("HL", str(source), "", "20", "1"),
            ("NM1", "PR", "2", inquiry.payer_name, "", "", "", "", "PI", inquiry.payer_id),
        ]
        hl += 1
        receiver = hl
        segments += [
            ("HL", str(receiver), str(source), "21", "1"),
            ("NM1", "1P", "2", inquiry.provider_name, "", "", "", "", "XX", inquiry.provider_npi),
        ]
        hl += 1
        segments += [
            ("HL", str(hl), str(receiver), "22", "0"),
            ("TRN", "1", inquiry.trace, _trace_originator(inquiry.provider_npi)),
            (
                "NM1",
                "IL",
                "1",
                inquiry.subscriber_last_name,
                inquiry.subscriber_first_name,
                "",
                "",
                "",
                "MI",
                inquiry.member_id,
            ),
        ]
        if inquiry.subscriber_birth_date:
            segments.append(("DMG", "D8", d8(inquiry.subscriber_birth_date)))
        segments.append(("DTP", "291", "D8", d8(inquiry.service_date)))
        segments += [("EQ", code) for code in inquiry.service_types]
    return TransactionBody("270", IMPLEMENTATION, segments)


def response_body(responses: Sequence[EligibilityResponse], reference: str, when: datetime) -> TransactionBody:
    if not responses:
        raise X12Error("nothing to write: no eligibility responses")
    segments: list[Segment] = [
        ("BHT", "0022", "11", reference, when.strftime("%Y%m%d"), when.strftime("%H%M")),
    ]
    for index, response in enumerate(responses):
        segments += _response_segments(response, source=3 * index + 1)
    return TransactionBody("271", IMPLEMENTATION, segments)


def _response_segments(response: EligibilityResponse, source: int) -> list[Segment]:
    """One response's three HL levels, numbered from `source`: payer (20), provider (21), subscriber (22)."""
    receiver = source + 1
    segments: list[Segment] = [
        ("HL", str(source), "", "20", "1"),
        ("NM1", "PR", "2", response.payer_name, "", "", "", "", "PI", response.payer_id),
        *_request_errors(response, "source"),
        ("HL", str(receiver), str(source), "21", "1"),
        ("NM1", "1P", "2", response.provider_name, "", "", "", "", "XX", response.provider_npi),
        *_request_errors(response, "receiver"),
        ("HL", str(receiver + 1), str(receiver), "22", "0"),
        ("TRN", "2", response.trace, _trace_originator(response.provider_npi)),
        (
            "NM1",
            "IL",
            "1",
            response.subscriber_last_name,
            response.subscriber_first_name,
            "",
            "",
            "",
            "MI",
            response.member_id,
        ),
        *_request_errors(response, "subscriber"),
    ]
    if response.subscriber_birth_date:
        segments.append(("DMG", "D8", d8(response.subscriber_birth_date)))
    if response.plan_begin:
        segments.append(("DTP", "346", "D8", d8(response.plan_begin)))
    segments += [_benefit_segment(benefit) for benefit in response.benefits]
    return segments


def _request_errors(response: EligibilityResponse, level: str) -> list[Segment]:
    return [("AAA", "N", "", e.code, e.follow_up) for e in response.errors if e.level == level]


def _benefit_segment(benefit: Benefit) -> Segment:
    return (
        "EB",
        benefit.info,
        benefit.coverage_level,
        list(benefit.service_types),
        benefit.insurance_type,
        benefit.plan_description,
        benefit.time_period,
        "" if benefit.amount_cents is None else amount(benefit.amount_cents),
        benefit.percent,
        "",
        "",
        "",
        benefit.in_network,
    )


def write_270(
    inquiries: Sequence[EligibilityInquiry],
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
    body = inquiry_body(inquiries, str(control.interchange), when)
    return write_interchange(
        [body],
        sender=sender,
        receiver=receiver,
        control=control,
        when=when,
        usage=usage,
        delimiters=delimiters,
        line_breaks=line_breaks,
    )


def write_271(
    responses: Sequence[EligibilityResponse],
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
    body = response_body(responses, str(control.interchange), when)
    return write_interchange(
        [body],
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
    found = [t for t in transactions if t.set_id == set_id]
    if not found:
        kinds = ", ".join(sorted({t.set_id for t in transactions})) or "none"
        raise X12Error(f"no {set_id} transaction set in the file (found: {kinds})")
    return found


def parse_270(text: str) -> list[EligibilityInquiry]:
    return [inquiry for t in _sets(text, "270") for inquiry in parse_270_set(t)]


def parse_271(text: str) -> list[EligibilityResponse]:
    return [response for t in _sets(text, "271") for response in parse_271_set(t)]


def parse_270_set(transaction: TransactionSet) -> list[EligibilityInquiry]:
    return [
        EligibilityInquiry(
            trace=s.trace,
            payer_name=s.payer[0],
            payer_id=s.payer[1],
            provider_name=s.provider[0],
            provider_npi=s.provider[1],
            member_id=s.member[2],
            subscriber_last_name=s.member[0],
            subscriber_first_name=s.member[1],
            subscriber_birth_date=s.birth,
            service_date=s.service_date or _missing_date(transaction),
            service_types=tuple(s.service_types) or ("30",),
        )
        for s in _read_subscribers(transaction)
    ]


def _missing_date(transaction: TransactionSet) -> date:
    raise X12Error("270 inquiry without a DTP*291 service date", position=transaction.first_position)


def parse_271_set(transaction: TransactionSet) -> list[EligibilityResponse]:
    return [
        EligibilityResponse(
            trace=s.trace,
            payer_name=s.payer[0],
            payer_id=s.payer[1],
            provider_name=s.provider[0],
            provider_npi=s.provider[1],
            member_id=s.member[2],
            subscriber_last_name=s.member[0],
            subscriber_first_name=s.member[1],
            subscriber_birth_date=s.birth,
            benefits=tuple(s.benefits),
            errors=tuple(s.errors),
            plan_begin=s.plan_begin,
            control_number=transaction.control_number,
        )
        for s in _read_subscribers(transaction)
    ]


class _Subscriber:
    def __init__(self, payer: tuple[str, str], provider: tuple[str, str], errors: list[RequestError]) -> None:
        self.payer = payer
        self.provider = provider
        self.trace = ""
        self.member = ("", "", "")
        self.birth: date | None = None
        self.service_date: date | None = None
        self.plan_begin: date | None = None
        self.service_types: list[str] = []
        self.benefits: list[Benefit] = []
        self.errors = list(errors)


def _read_subscribers(transaction: TransactionSet) -> list[_Subscriber]:
    reader = _Reader(transaction.delimiters.repetition)
    for position, el in transaction.elements():
        sid = el[0]
        level_handler = _LEVEL_HANDLERS.get(sid)
        subscriber_handler = _SUBSCRIBER_HANDLERS.get(sid)
        if level_handler is not None:
            level_handler(reader, position, el)
        elif subscriber_handler is not None and reader.current is not None:
            subscriber_handler(reader.current, position, el, reader.repetition)
        elif sid not in _IGNORED_SEGMENTS:
            raise X12Error(
                f"segment {sid} does not belong in a {transaction.set_id}", position=position, segment_id=sid
            )
    return reader.subscribers


_IGNORED_SEGMENTS = ("ST", "SE", "BHT", "N3", "N4", "PER", "REF", "PRV", "INS", "HSD", "MSG", "III", "LS", "LE")


@dataclass
class _Reader:
    """The parser state of one 270/271: the HL level, the payer and provider above the subscriber being read
    and their request errors, and the subscribers so far."""

    repetition: str
    level: str = ""
    payer: tuple[str, str] = ("", "")
    provider: tuple[str, str] = ("", "")
    upper_errors: list[RequestError] = field(default_factory=list)
    subscribers: list[_Subscriber] = field(default_factory=list)
    current: _Subscriber | None = None

    def hl(self, position: int, el: list[str]) -> None:
        level = self.level = get(el, 3)
        if level == "20":
            self.upper_errors = []
        elif level == "22":
            self.current = _Subscriber(self.payer, self.provider, self.upper_errors)
            self.subscribers.append(self.current)
        elif level not in ("21", "23"):
            raise X12Error(f"unknown HL level {level!r}", position=position, segment_id="HL", element=3)

    def nm1(self, position: int, el: list[str]) -> None:
        if self.level == "20":
            self.payer = (get(el, 3), get(el, 9))
        elif self.level == "21":
            self.provider = (get(el, 3), get(el, 9))
        elif self.level == "22" and self.current is not None and get(el, 1) == "IL":
            self.current.member = (get(el, 3), get(el, 4), get(el, 9))

    def aaa(self, position: int, el: list[str]) -> None:
        if not get(el, 3):
            raise X12Error("AAA without a reject reason", position=position, segment_id="AAA", element=3)
        if self.level == "22" and self.current is not None:
            self.current.errors.append(RequestError(get(el, 3), get(el, 4), "subscriber"))
        else:
            where = "source" if self.level == "20" else "receiver"
            self.upper_errors.append(RequestError(get(el, 3), get(el, 4), where))


_LEVEL_HANDLERS: dict[str, Callable[[_Reader, int, list[str]], None]] = {
    "HL": _Reader.hl,
    "NM1": _Reader.nm1,
    "AAA": _Reader.aaa,
}


def _trn(subscriber: _Subscriber, position: int, el: list[str], repetition: str) -> None:
    subscriber.trace = get(el, 2)


def _dmg(subscriber: _Subscriber, position: int, el: list[str], repetition: str) -> None:
    subscriber.birth = x12_date(get(el, 2), position, "DMG", 2) if get(el, 2) else None


def _dtp(subscriber: _Subscriber, position: int, el: list[str], repetition: str) -> None:
    day = x12_date(get(el, 3).partition("-")[0], position, "DTP", 3)
    if get(el, 1) == "291":
        subscriber.service_date = day
    elif get(el, 1) == "346":
        subscriber.plan_begin = day


def _eq(subscriber: _Subscriber, position: int, el: list[str], repetition: str) -> None:
    subscriber.service_types.append(get(el, 1))


def _eb(subscriber: _Subscriber, position: int, el: list[str], repetition: str) -> None:
    service_types = get(el, 3)
    types = tuple(service_types.split(repetition)) if repetition and service_types else (service_types,)
    subscriber.benefits.append(
        Benefit(
            info=get(el, 1),
            coverage_level=get(el, 2),
            service_types=tuple(t for t in types if t) or ("30",),
            insurance_type=get(el, 4),
            plan_description=get(el, 5),
            time_period=get(el, 6),
            amount_cents=cents(get(el, 7), position, "EB", 7) if get(el, 7) else None,
            percent=get(el, 8),
            in_network=get(el, 12),
        )
    )


# Segments of the subscriber loop: read only once a subscriber HL is open (before it, they do not belong).
_SUBSCRIBER_HANDLERS: dict[str, Callable[[_Subscriber, int, list[str], str], None]] = {
    "TRN": _trn,
    "DMG": _dmg,
    "DTP": _dtp,
    "EQ": _eq,
    "EB": _eb,
}
