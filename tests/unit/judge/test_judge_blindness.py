"""Detector blindness: repeated probe errors warn (never roll back), and recovery shows."""

from __future__ import annotations

from judge_helpers import CRITICAL, OK, WARNING, config, decision, feed, obs

from rollsafe.domain import observations

THRESHOLD = {
    "id": "down",
    "kind": "threshold",
    "probe": "http",
    "op": "<",
    "value": 1,
    "severity": "critical",
}


def _error(time: float, text: str = "connect timeout") -> observations.Observation:
    return obs(time, source="http", error=text)


def test_blind_after_n_consecutive_errors_is_a_warning() -> None:
    cfg = config(THRESHOLD, policy={"blind_after": 3})
    judge = feed(cfg, [obs(0, 1.0, source="http"), _error(1), _error(2)])
    assert decision(judge, "blind:http", now=3).severity == OK
    judge.observe(_error(3, "read timeout"))
    got = decision(judge, "blind:http", now=3)
    assert got.severity == WARNING
    assert got.summary == "detector blind: http failed 3 times: read timeout"
    assert got.evidence["errors"] == 3
    assert got.evidence["first_error_time"] == 1
    assert got.evidence["kind"] == "blind"
    # The service rule is untouched by the errors: its last real value was healthy.
    assert decision(judge, "down", now=3).severity == OK


def test_blindness_never_goes_beyond_warning() -> None:
    judge = feed(config(THRESHOLD), [_error(float(t)) for t in range(500)])
    decisions = judge.evaluate("web-1", now=500)
    assert max(d.severity for d in decisions) == WARNING
    assert decision(judge, "down", now=500).evidence["no_data"] is True
    assert decision(judge, "blind:http", now=500).summary.startswith(
        "detector blind: http failed 50+ times"
    )


def test_no_data_policy_ok_silences_blindness() -> None:
    cfg = config(THRESHOLD, policy={"no_data": "ok", "blind_after": 2})
    got = decision(feed(cfg, [_error(1), _error(2)]), "blind:http", now=3)
    assert got.severity == OK
    assert got.evidence["blind"] is True
    assert got.summary.startswith("detector blind")


def test_recovery_is_visible() -> None:
    judge = feed(config(THRESHOLD), [_error(float(t)) for t in range(5)])
    assert decision(judge, "blind:http", now=5).severity == WARNING
    judge.observe(obs(6, 1.0, source="http"))
    got = decision(judge, "blind:http", now=6)
    assert got.severity == OK
    assert got.summary == "detector http sees"


def test_errors_interrupted_by_a_value_restart_the_count() -> None:
    items = [_error(1), _error(2), obs(3, 1.0, source="http"), _error(4), _error(5)]
    got = decision(feed(config(THRESHOLD), items), "blind:http", now=6)
    assert got.severity == OK
    assert got.evidence["errors"] == 2


def test_one_blind_decision_per_source_seen_none_before() -> None:
    judge = feed(config(THRESHOLD), [])
    assert [d.rule for d in judge.evaluate("web-1", now=1)] == ["down"]
    judge.observe(obs(1, 1.0, source="http"))
    judge.observe(obs(1, 3.0, source="alerts"))
    assert [d.rule for d in judge.evaluate("web-1", now=1)] == [
        "down",
        "blind:alerts",
        "blind:http",
    ]


def test_a_broken_service_is_critical_while_a_blind_detector_is_not() -> None:
    refused = [obs(float(t), 0.0, source="http") for t in range(3)]  # observed: it is down
    judge = feed(config(THRESHOLD), refused)
    assert decision(judge, "down", now=3).severity == CRITICAL
    assert decision(judge, "blind:http", now=3).severity == OK
