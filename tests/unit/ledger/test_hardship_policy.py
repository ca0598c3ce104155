"""A hardship re-plan's terms come from the collections policy: smaller installments, more of them."""

from __future__ import annotations

from datetime import date

import pytest

from domain.collections_policy import CollectionsPolicy, hardship_terms, plan_installments
from domain.errors import ValidationError

D0 = date(2026, 1, 1)


def test_a_hardship_plan_allows_what_an_ordinary_plan_refuses() -> None:
    policy = CollectionsPolicy()
    with pytest.raises(ValidationError, match="below the minimum"):
        plan_installments(policy, 12_000, 12, D0)  # 10.00 a month: too small for an ordinary plan
    relief = hardship_terms(policy)
    plan = plan_installments(relief, 12_000, 12, D0)
    assert [i.amount_cents for i in plan] == [1000] * 12
    assert relief.max_installments == policy.hardship_max_installments == 24
    with pytest.raises(ValidationError, match="1 to 24 installments"):
        plan_installments(relief, 30_000, 25, D0)


@pytest.mark.parametrize("field", ["hardship_min_installment_cents", "hardship_max_installments"])
def test_hardship_terms_must_be_positive(field: str) -> None:
    with pytest.raises(ValidationError, match="hardship"):
        CollectionsPolicy(**{field: 0})
