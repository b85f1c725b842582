"""Failure budget arithmetic: more than the limit halts, shares are exact, None is no limit."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rollsafe.domain import rollouts
from rollsafe.rollouts import budgets

Budget = rollouts.Budget


@pytest.mark.parametrize(
    ("budget", "size", "allowed"),
    [
        (Budget(), 10, None),
        (Budget(max_failures=0), 10, 0),
        (Budget(max_failures=3), 10, 3),
        (Budget(max_failure_ratio=0.1), 10, 1),
        (Budget(max_failure_ratio=0.3), 10, 3),  # 0.3 * 10 is 3.0000000000000004 in floats
        (Budget(max_failure_ratio=0.1), 9, 0),
        (Budget(max_failure_ratio=0.25), 1, 0),
        (Budget(max_failure_ratio=1.0), 7, 7),
        (Budget(max_failures=5, max_failure_ratio=0.1), 20, 2),  # the stricter one wins
        (Budget(max_failures=1, max_failure_ratio=0.5), 20, 1),
    ],
)
def test_allowed(budget, size, allowed):
    assert budgets.allowed(budget, size) == allowed


def test_spent_means_more_failures_than_allowed():
    budget = Budget(max_failures=1)
    assert not budgets.spent(budget, failures=0, size=5)
    assert not budgets.spent(budget, failures=1, size=5)
    assert budgets.spent(budget, failures=2, size=5)
    assert not budgets.spent(Budget(), failures=1000, size=5)
    assert budgets.spent(Budget(max_failures=0), failures=1, size=1)


def test_check_names_the_budget_that_was_spent():
    wave_spent = budgets.check(
        wave=Budget(max_failures=0),
        wave_failures=1,
        wave_size=1,
        wave_index=0,
        overall=Budget(max_failures=5),
        failures=1,
        planned=10,
    )
    assert wave_spent.spent
    assert wave_spent.reason == (
        "failure budget of wave 1 spent: 1 failed of 1 (at most 0 tolerated: max_failures 0)"
    )
    overall_spent = budgets.check(
        wave=Budget(),
        wave_failures=1,
        wave_size=5,
        wave_index=2,
        overall=Budget(max_failure_ratio=0.1),
        failures=2,
        planned=10,
    )
    assert overall_spent.spent
    assert "of the rollout spent: 2 failed of 10" in overall_spent.reason
    assert "max_failure_ratio 0.1" in overall_spent.reason
    fine = budgets.check(
        wave=Budget(max_failures=1),
        wave_failures=1,
        wave_size=5,
        wave_index=0,
        overall=Budget(max_failures=1),
        failures=1,
        planned=10,
    )
    assert fine == budgets.Verdict(spent=False)


@given(
    count=st.integers(min_value=0, max_value=100) | st.none(),
    percent=st.integers(min_value=0, max_value=100) | st.none(),
    size=st.integers(min_value=0, max_value=1000),
    failures=st.integers(min_value=0, max_value=1000),
)
def test_budget_properties(count, percent, size, failures):
    ratio = None if percent is None else percent / 100
    budget = Budget(max_failures=count, max_failure_ratio=ratio)
    limit = budgets.allowed(budget, size)
    if count is None and ratio is None:
        assert limit is None
        return
    assert limit is not None
    if count is not None:
        assert limit <= count
    if ratio is not None:
        # The largest whole number of failures whose share is at most the ratio, exactly.
        assert limit * 100 <= percent * size
        if count is None or limit < count:
            assert (limit + 1) * 100 > percent * size
    assert budgets.spent(budget, failures=failures, size=size) == (failures > limit)


def test_negative_size_is_a_mistake():
    with pytest.raises(ValueError, match="negative"):
        budgets.allowed(Budget(max_failures=1), -1)
