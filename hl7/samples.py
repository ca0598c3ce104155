"""HL7 v2.5.1 messages as a practice's EHR sends them (ADT^A04, SIU^S12, DFT^P03...), built from values.

Used by the demo (which sends some visits and charges over MLLP), the benchmark, the tests and the examples in
docs/integration.md. Values are synthetic; the builders escape them (``\\F\\``, ``\\S\\``...).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from hl7.message import escape_text

SENDING_APPLICATION = "EHR"
SENDING_FACILITY = "CLINIC"


@dataclass(frozen=True)
class SamplePatient:
    mrn: str
    first_name: str
    last_name: str
    birth_date: date
    sex: str = "F"
    address_line: str = "1 Main St"
    city: str = "Springfield"
    state: str = "IL"
    postal_code: str = "62701"
    phone: str = "5550100"
    authority: str = SENDING_FACILITY  # PID-3.4, the MRN's assigning authority (HD: "EHR&2.16.840...&ISO")


@dataclass(frozen=True)
class SampleInsurance:
    payer_id: str  # the payer's X12 payer id
    member_id: str
    group_number: str = ""
    effective_from: date | None = None  # IN1-12 (plan effective date)


@dataclass(frozen=True)
class SampleCharge:
    code: str  # CPT/HCPCS
    quantity: int = 1
    modifiers: tuple[str, ...] = ()
    amount: str = ""  # FT1-12 unit amount ("125.00"); empty: the fee schedule
    diagnoses: tuple[str, ...] = ()


def _e(value: str) -> str:
    return escape_text(value)


def _msh(message_type: str, control_id: str, when: datetime, *, enhanced: bool = False) -> str:
    fields = [
        "MSH",
        "^~\\&",
        SENDING_APPLICATION,
        SENDING_FACILITY,
        "CARECYCLE",
        "PRACTICE",
        when.strftime("%Y%m%d%H%M%S"),
        "",
        message_type,
        control_id,
        "P",
        "2.5.1",
    ]
    if enhanced:
        fields += ["", "", "AL", "AL"]
    return "|".join(fields)


def _pid(patient: SamplePatient) -> str:
    return "|".join(
        [
            "PID",
            "1",
            "",
            f"{_e(patient.mrn)}^^^{patient.authority}^MR",
            "",
            f"{_e(patient.last_name)}^{_e(patient.first_name)}",
            "",
            patient.birth_date.strftime("%Y%m%d"),
            patient.sex,
            "",
            "",
            f"{_e(patient.address_line)}^^{_e(patient.city)}^{patient.state}^{patient.postal_code}",
            "",
            f"{patient.phone}^PRN^PH",
        ]
    )


def adt(
    trigger: str,
    control_id: str,
    patient: SamplePatient,
    insurances: Sequence[SampleInsurance] = (),
    *,
    when: datetime,
    enhanced: bool = False,
) -> str:
    """ADT^A04 (register) or ADT^A08 (update) with one IN1 per insurance (primary first)."""
    segments = [
        _msh(f"ADT^{trigger}^ADT_A01", control_id, when, enhanced=enhanced),
        f"EVN|{trigger}|{when:%Y%m%d%H%M%S}",
        _pid(patient),
        "PV1|1|O",
    ]
    for number, insurance in enumerate(insurances, start=1):
        in1 = ["IN1", str(number), "PLAN", _e(insurance.payer_id), "", "", "", "", _e(insurance.group_number)]
        in1 += ["", "", "", insurance.effective_from.strftime("%Y%m%d") if insurance.effective_from else ""]  # IN1-12
        in1 += [""] * (16 - len(in1)) + ["", "SEL"]  # IN1-17 relationship: self
        in1 += [""] * (36 - len(in1)) + [_e(insurance.member_id)]
        segments.append("|".join(in1))
    return "\r".join(segments) + "\r"


def merge(control_id: str, survivor: SamplePatient, merged_mrn: str, *, when: datetime) -> str:
    """ADT^A40: ``merged_mrn`` is the same person as ``survivor``."""
    return (
        "\r".join(
            [
                _msh("ADT^A40^ADT_A39", control_id, when),
                f"EVN|A40|{when:%Y%m%d%H%M%S}",
                _pid(survivor),
                f"MRG|{_e(merged_mrn)}^^^{survivor.authority}^MR",
            ]
        )
        + "\r"
    )


def siu(
    trigger: str,
    control_id: str,
    appointment_id: str,
    patient: SamplePatient,
    provider_npi: str,
    starts_at: datetime,
    *,
    minutes: int = 20,
    when: datetime,
    telehealth: bool = False,
    authority: str = SENDING_FACILITY,
) -> str:
    """SIU^S12 (book), S13 (reschedule), S14 (modify) or S15 (cancel). ``starts_at`` in UTC; ``authority`` is the
    appointment id's (HD, ``EHR&<oid>&ISO``; SCH-1 spells it as components)."""
    status = "Cancelled" if trigger == "S15" else "Booked"
    sch = [
        "SCH",
        f"{_e(appointment_id)}^{authority.replace('&', '^')}",
        "",
        "",
        "",
        "",
        "",
        "TELEHEALTH" if telehealth else "",
        "",
        str(minutes),
        "MIN",
        f"^^{minutes}^{starts_at:%Y%m%d%H%M%S}+0000",
    ]
    sch += [""] * (25 - len(sch)) + [status]
    return (
        "\r".join(
            [
                _msh(f"SIU^{trigger}^SIU_S12", control_id, when),
                "|".join(sch),
                _pid(patient),
                f"PV1|1|O|{'VIRTUAL' if telehealth else ''}||||{provider_npi}^^^^^^^^^^^^NPI",
                "RGS|1",
                f"AIS|1||99213^Office visit^CPT|{starts_at:%Y%m%d%H%M%S}+0000|||{minutes}|MIN",
                f"AIP|1||{provider_npi}^^^^^^^^^^^^NPI|||",
            ]
        )
        + "\r"
    )


def dft(
    control_id: str,
    visit_number: str,
    patient: SamplePatient,
    provider_npi: str,
    day: date,
    diagnoses: Sequence[str],
    charges: Sequence[SampleCharge],
    *,
    when: datetime,
    telehealth: bool = False,
    authority: str = SENDING_FACILITY,
) -> str:
    """DFT^P03: the visit's charges (FT1) with its diagnoses (DG1); PV1-19 is the visit (= the SIU's SCH-1, under
    the same ``authority``)."""
    pv1 = ["PV1", "1", "O", "VIRTUAL" if telehealth else "", "", "", "", f"{provider_npi}^^^^^^^^^^^^NPI"]
    pv1 += [""] * (19 - len(pv1)) + [f"{_e(visit_number)}^^^{authority}"]
    segments = [
        _msh("DFT^P03^DFT_P03", control_id, when),
        f"EVN|P03|{when:%Y%m%d%H%M%S}",
        _pid(patient),
        "|".join(pv1),
    ]
    for number, charge in enumerate(charges, start=1):
        ft1 = [
            "FT1",
            str(number),
            f"{_e(visit_number)}-{number}",
            "",
            day.strftime("%Y%m%d"),
            "",
            "CG",
            f"{charge.code}^^CPT",
            "",
            "",
            str(charge.quantity),
            "",
            charge.amount,
        ]
        ft1 += [""] * (19 - len(ft1)) + ["~".join(f"{d}^^I10" for d in charge.diagnoses)]
        ft1 += ["", provider_npi]
        ft1 += [""] * (25 - len(ft1)) + [f"{charge.code}^^CPT", "~".join(charge.modifiers)]
        segments.append("|".join(ft1))
    for number, code in enumerate(diagnoses, start=1):
        dg1 = ["DG1", str(number), "", f"{code}^^I10", "", "", "F"]
        dg1 += [""] * (15 - len(dg1)) + [str(number)]
        segments.append("|".join(dg1))
    return "\r".join(segments) + "\r"
