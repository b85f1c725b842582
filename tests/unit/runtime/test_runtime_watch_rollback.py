"""A rollback of a failure measured over several upgrades undoes all of them.

A leak that began with a first upgrade and went on through a second one (a hotfix that did
not fix it) is judged from the first upgrade's mark (``judge/trend.py``, its evidence says
``watch_from`` and ``later_marks``). ``rollsafe upgrade`` took a restore point before each
upgrade: the latest holds the first release, the one that leaks, so restoring it would undo
only the hotfix. The run restores the newest point taken before the first upgrade instead,
and its reason says so; a decision about one upgrade still restores the latest point.

Real SQLite store and executor (the run is opened, not driven).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from rollsafe.config import loading, models
from rollsafe.domain import ids, restore_points, verdicts
from rollsafe.runtime import daemon

TARGET = ids.TargetId("db-1")


def _daemon(tmp_path: Path) -> daemon.Daemon:
    config = models.RollsafeConfig.model_validate(
        {
            "state_dir": str(tmp_path),
            "drivers": [{"kind": "local", "name": "noop", "rollback": "true"}],
            "targets": [{"id": "db-1", "driver": "noop"}],
            "probes": [{"name": "memory", "kind": "host", "metric": "memory", "interval": 60}],
            "rules": [
                {
                    "id": "leak",
                    "kind": "trend",
                    "probe": "memory",
                    "severity": "critical",
                }
            ],
        }
    )
    loaded = loading.LoadedConfig(
        config=config, path=tmp_path / "rollsafe.yaml", state_dir=tmp_path
    )
    return daemon.Daemon(loaded)


def _point(d: daemon.Daemon, at: float, label: str) -> str:
    point = restore_points.RestorePoint(
        id=ids.new_restore_point_id(), target=TARGET, driver="noop", created_at=at, label=label
    )
    d.store.add_restore_point(point)
    return point.id


def _leak(at: float, evidence: dict[str, Any]) -> verdicts.Decision:
    return verdicts.Decision(
        time=at,
        target=TARGET,
        rule=ids.RuleId("leak"),
        severity=verdicts.Severity.CRITICAL,
        summary="memory grows 6%/h since the first of 2 upgrades",
        evidence=evidence,
    )


def test_a_leak_through_two_upgrades_restores_the_point_before_the_first(tmp_path: Path) -> None:
    d = _daemon(tmp_path)
    try:
        now = time.time()
        first = _point(d, now - 4 * 3600 - 60, "before upgrade")  # then upgraded at -4 h
        _point(d, now - 2 * 3600 - 60, "before upgrade")  # the hotfix at -2 h
        run = d.acting.act(
            _leak(now, {"watch_from": now - 4 * 3600, "later_marks": [now - 2 * 3600]})
        )
        assert run is not None
        assert run.restore_point == first
        assert run.reason.endswith(f"; restoring {first}, from before all 2 upgrades")
    finally:
        d.store.close()


def test_a_decision_about_one_upgrade_restores_the_latest_point(tmp_path: Path) -> None:
    d = _daemon(tmp_path)
    try:
        now = time.time()
        _point(d, now - 4 * 3600 - 60, "before upgrade")
        run = d.acting.act(_leak(now, {"reference_end": now - 4 * 3600}))
        assert run is not None
        assert run.restore_point is None  # chosen when prechecking: the latest
        assert run.reason == "memory grows 6%/h since the first of 2 upgrades"
    finally:
        d.store.close()


def test_with_no_point_before_the_first_upgrade_the_reason_says_what_is_undone(
    tmp_path: Path,
) -> None:
    d = _daemon(tmp_path)
    try:
        now = time.time()
        _point(d, now - 2 * 3600 - 60, "before upgrade")  # only the hotfix's
        run = d.acting.act(
            _leak(now, {"watch_from": now - 4 * 3600, "later_marks": [now - 2 * 3600]})
        )
        assert run is not None
        assert run.restore_point is None
        assert "no restore point from before the first of 2 upgrades" in run.reason
    finally:
        d.store.close()
