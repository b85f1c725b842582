"""After a verified rollback the judge forgets what it saw of the failed release."""

from __future__ import annotations

from rollsafe.config import models
from rollsafe.domain import ids, observations, verdicts
from rollsafe.judge import engine


def _engine() -> engine.Engine:
    return engine.Engine(
        models.RollsafeConfig.model_validate(
            {
                "targets": [{"id": "web-1"}, {"id": "web-2"}],
                "probes": [{"name": "http", "kind": "http", "url": "http://x/"}],
                "rules": [
                    {
                        "id": "5xx",
                        "kind": "ratio",
                        "probe": "http",
                        "when": {"field": "status", "op": ">=", "value": 500},
                        "window": "60s",
                        "above": 0.2,
                        "min_samples": 3,
                        "severity": "critical",
                    }
                ],
            }
        )
    )


def _seen(target: str, at: float, status: int) -> observations.Observation:
    return observations.Observation(
        time=at, target=ids.TargetId(target), source="http", value=1.0, status=status
    )


def _severity(judge: engine.Engine, target: str, now: float) -> verdicts.Severity:
    (decision,) = [d for d in judge.evaluate(target, now=now) if d.rule == "5xx"]
    return decision.severity


def test_forgotten_observations_no_longer_count_and_late_ones_are_ignored() -> None:
    judge = _engine()
    for t in range(10):
        judge.observe(_seen("web-1", 100.0 + t, 503))
        judge.observe(_seen("web-2", 100.0 + t, 503))
    assert _severity(judge, "web-1", 110.0) is verdicts.Severity.CRITICAL

    judge.forget("web-1", before=120.0)  # the rollback was verified at 120
    judge.observe(_seen("web-1", 119.0, 503))  # a probe result of the old release, late
    assert _severity(judge, "web-1", 121.0) is verdicts.Severity.OK  # no data yet
    for t in range(3):
        judge.observe(_seen("web-1", 121.0 + t, 200))
    assert _severity(judge, "web-1", 124.0) is verdicts.Severity.OK
    # Other targets keep their evidence.
    assert _severity(judge, "web-2", 110.0) is verdicts.Severity.CRITICAL


def test_a_release_still_failing_after_the_rollback_is_judged_again() -> None:
    judge = _engine()
    judge.forget("web-1", before=100.0)
    for t in range(5):
        judge.observe(_seen("web-1", 100.0 + t, 500))
    assert _severity(judge, "web-1", 105.0) is verdicts.Severity.CRITICAL
