"""Threshold rules: latest value, ``consecutive``, ``for``, missing fields, errors excluded."""

from __future__ import annotations

from judge_helpers import CRITICAL, OK, WARNING, config, decision, feed, obs


def _rule(**extra: object) -> dict[str, object]:
    rule: dict[str, object] = {
        "id": "cpu-high",
        "kind": "threshold",
        "probe": "cpu",
        "op": ">",
        "value": 90,
        "severity": "critical",
    }
    rule.update(extra)
    return rule


def test_latest_value_over_threshold_is_the_rules_severity() -> None:
    judge = feed(config(_rule()), [obs(1, 10.0), obs(2, 95.0)])
    got = decision(judge, "cpu-high", now=3)
    assert got.severity == CRITICAL
    assert got.summary == "cpu value 95 > 90"
    assert got.evidence["value"] == 95.0
    assert got.evidence["last_time"] == 2


def test_warning_severity_is_taken_from_the_rule() -> None:
    judge = feed(config(_rule(severity="warning")), [obs(1, 95.0)])
    assert decision(judge, "cpu-high", now=1).severity == WARNING


def test_latest_value_under_threshold_is_ok() -> None:
    judge = feed(config(_rule()), [obs(1, 95.0), obs(2, 10.0)])
    got = decision(judge, "cpu-high", now=3)
    assert got.severity == OK
    assert got.summary == "cpu value 10, not > 90"
    assert got.evidence["no_data"] is False


def test_consecutive_needs_every_one_of_the_last_n_values() -> None:
    cfg = config(_rule(consecutive=3))
    two_of_three = feed(cfg, [obs(1, 95.0), obs(2, 50.0), obs(3, 95.0), obs(4, 96.0)])
    got = decision(two_of_three, "cpu-high", now=5)
    assert got.severity == OK
    assert "only 2 of the last 3" in got.summary
    three = feed(cfg, [obs(1, 50.0), obs(2, 95.0), obs(3, 95.0), obs(4, 96.0)])
    got = decision(three, "cpu-high", now=5)
    assert got.severity == CRITICAL
    assert got.evidence["values"] == [95.0, 95.0, 96.0]
    assert got.evidence["first_time"] == 2


def test_fewer_values_than_consecutive_is_no_data_not_a_breach() -> None:
    judge = feed(config(_rule(consecutive=3)), [obs(1, 99.0), obs(2, 99.0)])
    got = decision(judge, "cpu-high", now=3)
    assert got.severity == OK
    assert got.evidence["no_data"] is True


def test_for_needs_the_streak_to_have_lasted() -> None:
    cfg = config(_rule(**{"for": "1m"}))
    values = [obs(0, 10.0)] + [obs(float(t), 95.0) for t in range(15, 70, 15)]
    judge = feed(cfg, values)
    # Failing checks at 15, 30, 45, 60: they span 45 s, however late ``now`` is.
    early = decision(judge, "cpu-high", now=1000)
    assert early.severity == OK
    assert (early.evidence["streak_since"], early.evidence["streak_until"]) == (15, 60)
    assert early.evidence["streak_checks"] == 4
    assert "the failing checks span only 45s of 1m" in early.summary
    judge.observe(obs(75.0, 95.0))
    late = decision(judge, "cpu-high", now=75)
    assert late.severity == CRITICAL
    assert late.summary == "cpu value 95 > 90 (failing checks spanning 1m)"


def test_for_is_reset_by_one_healthy_value() -> None:
    values = [obs(float(t), 95.0) for t in range(0, 120, 10)] + [obs(115.0, 10.0)]
    values.append(obs(120.0, 95.0))
    judge = feed(config(_rule(**{"for": "1m"})), values)
    got = decision(judge, "cpu-high", now=130)
    assert got.severity == OK
    assert got.evidence["streak_since"] == 120


def test_for_and_consecutive_together_need_both() -> None:
    cfg = config(_rule(consecutive=3, **{"for": "30s"}))
    judge = feed(cfg, [obs(0, 95.0), obs(40, 95.0)])
    assert decision(judge, "cpu-high", now=40).evidence["no_data"] is True
    judge.observe(obs(41, 95.0))
    assert decision(judge, "cpu-high", now=41).severity == CRITICAL


def test_errors_are_excluded_not_read_as_values() -> None:
    cfg = config(_rule(consecutive=3))
    items = [obs(1, 95.0), obs(2, error="timeout"), obs(3, 95.0), obs(4, error="timeout")]
    items.append(obs(5, 95.0))
    items.append(obs(6, error="timeout"))
    got = decision(feed(cfg, items), "cpu-high", now=7)
    assert got.severity == CRITICAL
    assert got.evidence["last_time"] == 5


def test_an_error_never_counts_as_a_breach() -> None:
    cfg = config(_rule(op="<", value=1))  # "down" rule: value < 1
    judge = feed(cfg, [obs(1, 1.0), obs(2, error="connect timeout")])
    assert decision(judge, "cpu-high", now=3).severity == OK


def test_missing_status_satisfies_no_comparison() -> None:
    rule = _rule(id="http-5xx", probe="http", field="status", op=">=", value=500)
    judge = feed(config(rule), [obs(1, 0.0, source="http", status=None)])
    got = decision(judge, "http-5xx", now=2)
    assert got.severity == OK
    assert got.evidence["value"] is None
    assert got.evidence["no_data"] is False  # it is a real observation, just not a number
    not_equal = _rule(id="not-200", probe="http", field="status", op="!=", value=200)
    judge = feed(config(not_equal), [obs(1, 0.0, source="http", status=None)])
    assert decision(judge, "not-200", now=2).severity == OK


def test_latency_field_reads_latency_s() -> None:
    rule = _rule(id="slow", probe="http", field="latency", op=">", value=0.5)
    judge = feed(config(rule), [obs(1, 1.0, source="http", status=200, latency=0.8)])
    got = decision(judge, "slow", now=2)
    assert got.severity == CRITICAL
    assert got.summary == "http latency 0.8 > 0.5"


def test_values_after_now_are_not_read() -> None:
    judge = feed(config(_rule()), [obs(1, 10.0), obs(5, 95.0)])
    assert decision(judge, "cpu-high", now=3).severity == OK
    assert decision(judge, "cpu-high", now=5).severity == CRITICAL


def test_no_observation_at_all_is_ok_no_data() -> None:
    got = decision(feed(config(_rule()), []), "cpu-high", now=100)
    assert got.severity == OK
    assert got.evidence["no_data"] is True
    assert got.summary == "cpu: no data (no valid observation)"


def test_a_streak_reaching_past_the_windows_memory_counts_from_its_start() -> None:
    # for 30s keeps 30 s + 60 s of margin behind the newest value. A sparse probe: breaching
    # at 0 and 80, then at 100. The value at 0 is older than that horizon, yet the streak
    # did start there: 100 s of breaching, not 20 s.
    judge = feed(config(_rule(**{"for": "30s"})), [obs(0, 95.0), obs(80, 95.0), obs(100, 95.0)])
    got = decision(judge, "cpu-high", now=100)
    assert got.evidence["streak_since"] == 0
    assert got.severity == CRITICAL
