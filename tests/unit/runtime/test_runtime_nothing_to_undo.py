"""A verified rollback is not repeated on the failed release's lingering evidence."""

from __future__ import annotations

import time
from pathlib import Path

from rollsafe.config import loading, models
from rollsafe.domain import audit_events, ids, observations, verdicts
from rollsafe.runtime import daemon


def _daemon(tmp_path: Path) -> daemon.Daemon:
    config = models.RollsafeConfig.model_validate(
        {
            "state_dir": str(tmp_path),
            "drivers": [{"kind": "local", "name": "noop", "rollback": "true"}],
            "targets": [{"id": "web-1", "driver": "noop"}],
            "probes": [{"name": "http", "kind": "http", "url": "http://{address}/"}],
            "rules": [
                {
                    "id": "5xx",
                    "kind": "ratio",
                    "probe": "http",
                    "when": {"field": "status", "op": ">=", "value": 500},
                    "window": "5m",
                    "above": 0.2,
                    "severity": "critical",
                }
            ],
        }
    )
    loaded = loading.LoadedConfig(
        config=config, path=tmp_path / "rollsafe.yaml", state_dir=tmp_path
    )
    return daemon.Daemon(loaded)


def _critical(at: float) -> verdicts.Decision:
    return verdicts.Decision(
        time=at,
        target=ids.TargetId("web-1"),
        rule=ids.RuleId("5xx"),
        severity=verdicts.Severity.CRITICAL,
        summary="5xx share 0.4 > 0.2",
    )


def test_critical_again_soon_after_a_verified_rollback_opens_no_second_run(
    tmp_path: Path,
) -> None:
    d = _daemon(tmp_path)
    try:
        now = time.time()
        d._on_run_audit(
            audit_events.AuditEntry(
                time=now - 10, actor="rollsafe", action="run.succeeded", target="web-1", reason=""
            )
        )
        d.acting.act(_critical(now))
        assert d.store.list_runs(target=ids.TargetId("web-1")) == []
        (skipped,) = [
            e.entry for e in d.store.list_audit_events() if e.entry.action == "run.not_requested"
        ]
        assert skipped.target == "web-1"
        assert "nothing left to undo" in skipped.reason

        # An upgrade after the rollback gives a rollback something to undo again.
        d._fold(
            observations.Observation(
                time=now - 5, target=ids.TargetId("web-1"), source="mark:upgrade", value=1.0
            )
        )
        d.acting.act(_critical(now))
        assert len(d.store.list_runs(target=ids.TargetId("web-1"))) == 1
    finally:
        d.store.close()


def test_long_after_the_rollback_a_critical_decision_acts_again(tmp_path: Path) -> None:
    d = _daemon(tmp_path)
    try:
        now = time.time()
        long_ago = now - d.engine.horizon() - 1
        d._on_run_audit(
            audit_events.AuditEntry(
                time=long_ago, actor="rollsafe", action="run.succeeded", target="web-1", reason=""
            )
        )
        d.acting.act(_critical(now))
        assert len(d.store.list_runs(target=ids.TargetId("web-1"))) == 1
    finally:
        d.store.close()
