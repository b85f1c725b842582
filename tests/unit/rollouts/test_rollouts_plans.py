"""Wave arithmetic: counts and percentages, cumulative, exact, never an empty wave."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rollsafe.config import models
from rollsafe.rollouts import plans

HOSTS = [f"web-{i}" for i in range(1, 11)]


def sizes_of(waves):
    return [len(targets) for _, targets in waves]


@pytest.mark.parametrize(
    ("sizes", "expected"),
    [
        ([1, "10%", "50%", "100%"], [1, 4, 5]),  # 10% of 10 is 1: that wave adds nothing
        ([1, "20%", "50%", "100%"], [1, 1, 3, 5]),
        (["30%", "100%"], [3, 7]),  # exactly 3, never 4 by float rounding
        (["1%", "100%"], [1, 9]),  # a non-zero share is at least one target
        ([2, 5, 100], [2, 3, 5]),  # counts are cumulative too, capped at the fleet
        ([3], [3]),  # the plan may stop before the whole fleet
        (["33.3%", "66.6%", "100%"], [4, 3, 3]),
    ],
)
def test_split(sizes, expected):
    assert sizes_of(plans.split(HOSTS, sizes)) == expected


def test_split_keeps_order_and_reports_which_wave_entry_each_came_from():
    waves = plans.split(HOSTS[:4], [1, "10%", "50%", "100%"])
    assert waves == [(0, ("web-1",)), (2, ("web-2",)), (3, ("web-3", "web-4"))]


def test_cumulative_refuses_what_is_not_a_size():
    with pytest.raises(ValueError, match="not a share"):
        plans.cumulative("0%", 10)
    with pytest.raises(ValueError, match="not a share"):
        plans.cumulative("150%", 10)
    with pytest.raises(ValueError, match="neither"):
        plans.cumulative("ten", 10)
    with pytest.raises(ValueError, match="empty"):
        plans.cumulative(0, 10)


size = st.one_of(
    st.integers(min_value=1, max_value=50),
    st.integers(min_value=1, max_value=100).map(lambda p: f"{p}%"),
)


@given(total=st.integers(min_value=0, max_value=60), sizes=st.lists(size, min_size=1, max_size=6))
def test_split_properties(total, sizes):
    items = list(range(total))
    waves = plans.split(items, sizes)
    flat = [item for _, targets in waves for item in targets]
    assert flat == items[: len(flat)]  # in order, each at most once
    assert all(targets for _, targets in waves)  # no empty wave
    positions = [position for position, _ in waves]
    assert positions == sorted(set(positions))
    reach = max((plans.cumulative(s, total) for s in sizes), default=0)
    assert len(flat) == reach  # as far as the largest wave reaches, no further
    if "100%" in sizes:
        assert len(flat) == total


def test_build_spec_takes_bake_and_budget_per_wave():
    config = models.RollsafeConfig.model_validate(
        {
            "targets": [{"id": h, "driver": "d"} for h in HOSTS],
            "rules": [{"id": "r", "kind": "threshold", "probe": "p", "op": ">", "value": 1}],
            "rollouts": [
                {
                    "name": "plan",
                    "waves": [
                        {"size": 1, "bake": "1m", "budget": {"max_failures": 0}},
                        "10%",
                        "100%",
                    ],
                    "bake": "5m",
                    "budget": {"per_wave": {"max_failure_ratio": 0.2}},
                    "upgrade": {"d": ["upgrade", "{id}"]},
                }
            ],
        }
    )
    plan = config.rollout("plan")
    spec = plans.build_spec(config, plan, HOSTS)
    assert [w.size for w in spec.waves] == ["1", "100%"]
    assert [w.bake for w in spec.waves] == [60.0, 300.0]
    assert spec.waves[0].budget.max_failures == 0
    assert spec.waves[1].budget.max_failure_ratio == 0.2
    assert spec.overall.max_failures == 0  # the default: the first failure halts
    assert spec.bake_rules == ("r",)  # default: every rule
    assert spec.planned == 10
    assert spec.upgrade == {"d": ["upgrade", "{id}"]}
    assert spec.wave_of("web-5") == 1
    assert type(spec).from_json(spec.to_json()) == spec
