"""Builders shared by the X12 tests: small, valid values of every codec."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

from domain.remittance import Adjustment, ClaimPayment, ProviderAdjustment, Remittance, ServiceLinePayment
from domain.x12.claim837 import (
    Address,
    LineAdjudication,
    OtherPayer,
    PayerParty,
    Person,
    ProfessionalClaim,
    ProviderParty,
    ServiceLine,
    Submitter,
    Subscriber,
)
from domain.x12.envelope import ControlNumbers, Party

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "x12"
SENDER = Party("ZZ", "PRACTICE01")
RECEIVER = Party("ZZ", "CLEARING01")
CONTROL = ControlNumbers(interchange=17, group=17, first_transaction=1)
WHEN = datetime(2026, 1, 21, 10, 30)
SUBMITTER = Submitter("GOOD PRACTICE", "PRACTICE01")
ADDRESS = Address("1 MAIN ST", "HARRISBURG", "PA", "17101")
BILLING = ProviderParty("1234567893", "GOOD PRACTICE", taxonomy="207Q00000X", tax_id="123456789", address=ADDRESS)
RENDERING = ProviderParty("1245319599", "SMITH", "JANE", "1", "207Q00000X")
PAYER = PayerParty("ACME HEALTH", "60054")


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text()


def self_claim(claim_id: str = "c-self", *, pos: str = "11", modifiers: tuple[str, ...] = ()) -> ProfessionalClaim:
    subscriber = Subscriber("M555", Person("ROE", "RICK", date(1970, 5, 6), "M", ADDRESS))
    lines = (
        ServiceLine("99213", 13500, 1, modifiers, (1, 2), date(2026, 1, 6), None, f"{claim_id}-l1"),
        ServiceLine("36415", 1500, 1, (), (1,), date(2026, 1, 6), None, f"{claim_id}-l2"),
    )
    return ProfessionalClaim(
        claim_id, 15000, pos, BILLING, subscriber, PAYER, ("E119", "I10"), lines, rendering_provider=RENDERING
    )


def dependent_secondary_claim(claim_id: str = "c-dep") -> ProfessionalClaim:
    subscriber = Subscriber("M123", Person("DOE", "JOHN", None, "U", ADDRESS), "spouse", "G1", "S", "CI")
    patient = Person("DOE", "JANE", date(1982, 3, 4), "F", ADDRESS)
    primary_subscriber = Subscriber("P999", Person("DOE", "JOHN", address=ADDRESS), "spouse", None, "P", "CI")
    adjudicated = LineAdjudication(
        "99214", 11000, ("25",), 1, (Adjustment("CO", "45", 6000), Adjustment("PR", "2", 2500)), date(2026, 1, 20)
    )
    other = OtherPayer(PayerParty("BIG PAYER", "11111"), primary_subscriber, 11000, (), None, (adjudicated,))
    line = ServiceLine("99214", 19500, 1, ("25",), (1,), date(2026, 1, 5), None, f"{claim_id}-l1")
    return ProfessionalClaim(
        claim_id,
        19500,
        "11",
        BILLING,
        subscriber,
        PAYER,
        ("J069",),
        (line,),
        "7",
        "PCN-ORIGINAL-1",
        patient,
        RENDERING,
        other_payers=(other,),
    )


def remittance(trace: str = "TR1", *, method: str = "ACH") -> Remittance:
    paid_line = ServiceLinePayment(
        "99213",
        ("25",),
        13500,
        10000,
        1,
        "c1-l1",
        date(2026, 1, 6),
        (Adjustment("CO", "45", 2500), Adjustment("PR", "2", 1000)),
        ("M80",),
        11000,
    )
    denied_line = ServiceLinePayment(
        "36415", (), 1500, 0, 1, "c1-l2", date(2026, 1, 6), (Adjustment("CO", "97", 1500),), ("N19",)
    )
    paid = ClaimPayment(
        "c1",
        "1",
        15000,
        10000,
        1000,
        "PCN1",
        "12",
        (),
        (paid_line, denied_line),
        ("MA01",),
        "M555",
        service_date=date(2026, 1, 6),
        remark_source="MOA",
    )
    denied = ClaimPayment(
        "c2",
        "4",
        8500,
        0,
        0,
        "PCN2",
        "12",
        (Adjustment("CO", "16", 8500),),
        (),
        ("MA130",),
        "M556",
        service_date=date(2026, 1, 7),
        remark_source="MOA",
    )
    reversal = ClaimPayment("c3", "22", -5000, -4000, -1000, "PCN3", "12", (Adjustment("PR", "1", -1000),), ())
    plbs = (ProviderAdjustment("L6", "INTEREST", -250), ProviderAdjustment("WO", "PCN9", 1250))
    payment = 10000 + 0 - 4000 - (-250 + 1250)
    return Remittance(
        "60054",
        "ACME HEALTH",
        "GOOD PRACTICE",
        "1234567893",
        method,
        payment,
        trace,
        date(2026, 1, 20),
        (paid, denied, reversal),
        plbs,
        production_date=date(2026, 1, 19),
    )


def chunks(text: str, size: int) -> list[str]:
    """``text`` as a file read ``size`` characters at a time hands it out."""
    return [text[i : i + size] for i in range(0, len(text), size)]


def remittance_texts() -> dict[str, str]:
    """835 files to read in chunks: the guide's examples, and written ones with line breaks of every kind."""
    from dataclasses import replace

    from domain.x12.remit835 import write_835

    long = replace(remittance(), claims=remittance().claims * 20)
    long = replace(long, payment_amount_cents=long.expected_payment_cents())
    plain = write_835([long, remittance("TR2")], sender=SENDER, receiver=RECEIVER, control=CONTROL, when=WHEN)
    lines = write_835(
        [long, remittance("TR2")], sender=SENDER, receiver=RECEIVER, control=CONTROL, when=WHEN, line_breaks=True
    )
    isa, body = plain[:106], plain[106:]
    return {
        "example1": fixture("835_x221a1_example1_institutional.x12"),
        "examples3_5_crlf": fixture("835_x221a1_examples3_5_professional.x12"),
        "terminator_then_lf": lines,
        "terminator_then_crlf": plain.replace("~", "~\r\n"),
        "lf_terminator_crlf_line_ends": isa[:-1] + "\n" + body.replace("~", "\r\n"),
        "unbalanced": plain.replace("BPR*I*", "BPR*I*1", 1).replace("CLP*c1*1*150*100*", "CLP*c1*1*150*90*"),
    }
