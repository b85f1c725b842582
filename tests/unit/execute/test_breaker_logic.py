"""The circuit breaker's pure logic: when too much of the fleet is critical at once."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from rollsafe.config import models
from rollsafe.domain import ids, verdicts
from rollsafe.execute import breaker

NOW = 1_700_000_000.0
FLEET = [f"web-{i}" for i in range(10)]


def decision(target: str, *, at: float = NOW, severity=verdicts.Severity.CRITICAL):
    return verdicts.Decision(
        time=at, target=ids.TargetId(target), rule=ids.RuleId("down"), severity=severity, summary=""
    )


def settings(**fields) -> models.CircuitBreaker:
    return models.CircuitBreaker(**fields)


def test_trips_above_the_share_with_enough_targets():
    found = breaker.assess(
        [decision(t) for t in FLEET[:4]], fleet=FLEET, settings=settings(), now=NOW
    )
    assert found.trips
    assert found.critical == tuple(FLEET[:4])
    assert found.share == 0.4
    assert found.fleet_size == 10


def test_exactly_the_share_does_not_trip():
    found = breaker.assess(
        [decision(t) for t in FLEET[:3]], fleet=FLEET, settings=settings(), now=NOW
    )
    assert not found.trips  # 30% is not more than 30%


def test_a_small_fleet_needs_min_targets():
    small = FLEET[:2]
    found = breaker.assess([decision(t) for t in small], fleet=small, settings=settings(), now=NOW)
    assert found.share == 1.0
    assert not found.trips


def test_only_critical_decisions_in_the_window_of_configured_targets_count():
    decisions = [
        decision("web-0"),
        decision("web-1", at=NOW - 301),  # before the window
        decision("web-2", severity=verdicts.Severity.WARNING),
        decision("elsewhere"),  # not in the fleet
        decision("web-3", at=NOW - 10),
        decision("web-3", at=NOW - 5),  # counted once
        decision("web-4", at=NOW + 5),  # the future: not yet
    ]
    found = breaker.assess(decisions, fleet=FLEET[:5], settings=settings(), now=NOW)
    assert found.critical == ("web-0", "web-3")


def test_decisions_before_the_last_reset_do_not_count():
    decisions = [decision(t, at=NOW - 60) for t in FLEET[:5]]
    found = breaker.assess(decisions, fleet=FLEET, settings=settings(), now=NOW, since=NOW - 30)
    assert found.critical == ()
    assert not found.trips


def test_a_disabled_breaker_never_trips():
    found = breaker.assess(
        [decision(t) for t in FLEET], fleet=FLEET, settings=settings(enabled=False), now=NOW
    )
    assert not found.trips
    assert found.share == 1.0


shares = st.floats(min_value=0.01, max_value=1.0)


@given(
    critical=st.integers(min_value=0, max_value=200),
    fleet=st.integers(min_value=0, max_value=200),
    share=shares,
    minimum=st.integers(min_value=1, max_value=50),
)
def test_never_trips_below_min_targets(critical, fleet, share, minimum):
    if critical < minimum:
        assert not breaker.should_trip(critical, fleet, max_share=share, min_targets=minimum)


@given(
    critical=st.integers(min_value=0, max_value=199),
    fleet=st.integers(min_value=1, max_value=200),
    share=shares,
    minimum=st.integers(min_value=1, max_value=50),
)
def test_monotone_in_the_number_of_critical_targets(critical, fleet, share, minimum):
    if breaker.should_trip(critical, fleet, max_share=share, min_targets=minimum):
        assert breaker.should_trip(critical + 1, fleet, max_share=share, min_targets=minimum)


@given(
    picked=st.sets(st.sampled_from(FLEET)),
    extra=st.sampled_from(FLEET),
    share=shares,
    minimum=st.integers(min_value=1, max_value=10),
)
def test_assess_is_monotone_when_a_target_turns_critical(picked, extra, share, minimum):
    config = settings(max_critical_share=share, min_targets=minimum)
    before = breaker.assess([decision(t) for t in picked], fleet=FLEET, settings=config, now=NOW)
    after = breaker.assess(
        [decision(t) for t in picked | {extra}], fleet=FLEET, settings=config, now=NOW
    )
    assert after.trips >= before.trips
    assert before.trips == (len(picked) >= minimum and len(picked) / len(FLEET) > share)


def test_state_round_trips_through_json():
    state = breaker.State(
        open=True, tripped_at=NOW, targets=("a", "b"), share=0.5, fleet_size=4, window_s=300.0
    )
    assert breaker.State.from_json(state.to_json()) == state
    assert breaker.State.from_json({}) == breaker.State()
