from __future__ import annotations

from datetime import date

from domain import models as m
from domain.codes import is_valid_npi
from workers.synthetic import SyntheticPractice


def _rows(seed: int) -> dict[str, list[dict[str, object]]]:
    practice = SyntheticPractice(seed, date(2026, 1, 15)).generate(60)
    return {table.name: rows for table, rows in practice.tables()}


def test_same_seed_same_data_and_other_seed_other_data() -> None:
    assert _rows(3) == _rows(3)
    assert _rows(3)["patients"] != _rows(4)["patients"]


def test_the_practice_has_the_mix_the_demo_needs() -> None:
    rows = _rows(11)
    assert all(is_valid_npi(str(p["npi"])) for p in rows["providers"])
    kinds = {p["kind"] for p in rows["payers"]}
    assert kinds == {"commercial", "medicare", "medicaid", "self_pay"}
    ranks = {c["rank"] for c in rows["coverages"]}
    assert "secondary" in ranks
    assert any(c["effective_to"] is not None for c in rows["coverages"]), "some coverages expired"
    covered = {c["patient_id"] for c in rows["coverages"]}
    assert any(p["id"] not in covered for p in rows["patients"]), "some patients are self-pay"
    assert any(a["kind"] == "telehealth" for a in rows["appointments"])
    statuses = {c["status"] for c in rows["claims"]}
    assert "ready" in statuses and len(statuses) >= 4
    assert any(c["expires_on"] is not None and c["expires_on"] < date(2026, 1, 15) for c in rows["credentials"])
    assert any(r["expires_on"] < date(2026, 1, 15) for r in rows["training_records"]), "some training is due"
    for claim in rows["claims"]:
        lines = [line for line in rows["claim_lines"] if line["claim_id"] == claim["id"]]
        assert claim["total_charge_cents"] == sum(int(str(line["charge_cents"])) for line in lines)


def test_repr_hides_phi() -> None:
    patient = m.Patient(first_name="Zelda", last_name="Quimby", birth_date=date(1970, 1, 1), account_number="P1")
    assert "Zelda" not in repr(patient) and "1970" not in repr(patient) and "P1" in repr(patient)
    coverage = m.Coverage(member_id="XY123456789")
    assert "XY123456789" not in repr(coverage)
