"""Acting on a critical decision: one rollback per upgrade, counted from when it STARTS, and the
same outcome whether the leader that judged it acted or a new leader took over in between.

Real SQLite store and executor (the run is opened, not driven). Before the decision: a
verified rollback 20 s ago; then, in one case, an upgrade started 10 s ago and still running
(only its ``mark:upgrade_started`` is stored: ``rollsafe upgrade`` writes ``mark:upgrade`` when
it ends). A failure now has that new release to undo: a run opens. Without the upgrade there
is nothing to undo: no run, one ``run.not_requested``. With a failover between the decision
and acting on it, the new leader's take-over reaches the same outcome.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from rollsafe.config import loading, models
from rollsafe.domain import audit_events, ids, observations, runs, verdicts
from rollsafe.execute import upgrading
from rollsafe.runtime import daemon

TARGET = ids.TargetId("web-1")


def _loaded(tmp_path: Path, **policy: object) -> loading.LoadedConfig:
    config = models.RollsafeConfig.model_validate(
        {
            "state_dir": str(tmp_path),
            "policy": {"watch_interval": 1, **policy},
            "drivers": [{"kind": "local", "name": "noop", "rollback": "true"}],
            "targets": [{"id": "web-1", "driver": "noop"}],
            "probes": [
                {"name": "http", "kind": "http", "url": "http://{address}/", "interval": 60}
            ],
            "rules": [
                {
                    "id": "5xx",
                    "kind": "threshold",
                    "probe": "http",
                    "field": "status",
                    "op": ">=",
                    "value": 500,
                    "consecutive": 3,
                    "severity": "critical",
                }
            ],
        }
    )
    return loading.LoadedConfig(config=config, path=tmp_path / "rollsafe.yaml", state_dir=tmp_path)


def _verified_rollback(d: daemon.Daemon, at: float) -> None:
    """A run for web-1 that succeeded at ``at`` (stored, and heard by the daemon)."""
    run = runs.RollbackRun(
        id=ids.new_run_id(),
        target=TARGET,
        state=runs.RunState.SUCCEEDED,
        trigger="decision:5xx",
        actor="rollsafe",
        reason="earlier failure",
        created_at=at - 5,
        updated_at=at,
    )
    d.store.open_run(run)
    d._on_run_audit(
        audit_events.AuditEntry(
            time=at, actor="rollsafe", action="run.succeeded", target=TARGET, reason=""
        )
    )


def _critical(at: float) -> verdicts.Decision:
    return verdicts.Decision(
        time=at,
        target=TARGET,
        rule=ids.RuleId("5xx"),
        severity=verdicts.Severity.CRITICAL,
        summary="5xx 3 times in a row",
    )


def _outcome(d: daemon.Daemon, since: float) -> tuple[int, int]:
    """(runs opened for the decision, run.not_requested audited)."""
    opened = [r for r in d.store.list_runs(target=TARGET, since=since) if r.state.terminal is False]
    skipped = [
        e for e in d.store.list_audit_events(target=TARGET) if e.entry.action == "run.not_requested"
    ]
    return len(opened), len(skipped)


@pytest.mark.parametrize("failover", [False, True], ids=["same-leader", "failover"])
@pytest.mark.parametrize(
    ("upgrade_started", "expected"),
    [(True, (1, 0)), (False, (0, 1))],
    ids=["upgrade-running", "no-upgrade"],
)
def test_the_outcome_is_the_same_with_or_without_a_failover(
    tmp_path: Path, failover: bool, upgrade_started: bool, expected: tuple[int, int]
) -> None:
    loaded = _loaded(tmp_path)
    leader = daemon.Daemon(loaded)
    successor: daemon.Daemon | None = None
    try:
        now = time.time()
        leader._start_up()
        _verified_rollback(leader, now - 20)
        if upgrade_started:
            # Another process (``rollsafe upgrade``) began an upgrade; the daemon's mark watcher
            # has not polled since.
            upgrading.started(leader.store, TARGET, at=now - 10)
        critical = _critical(now)
        leader.store.add_decisions([critical])  # the judge stores the decision first ...
        if failover:
            # ... and the leader dies (or is deposed) before acting on it; a new one takes over.
            successor = daemon.Daemon(loaded, store=leader.store)
            successor._start_up()
        else:
            leader.acting.act(critical)
        assert _outcome(leader, since=now - 1) == expected
    finally:
        leader.store.close()


def test_a_take_over_does_not_repeat_a_refusal_the_old_leader_audited(tmp_path: Path) -> None:
    loaded = _loaded(tmp_path)
    leader = daemon.Daemon(loaded)
    try:
        now = time.time()
        leader._start_up()
        _verified_rollback(leader, now - 20)
        critical = _critical(now)
        leader.store.add_decisions([critical])
        assert leader.acting.act(critical) is None  # nothing to undo, audited once
        successor = daemon.Daemon(loaded, store=leader.store)
        successor._start_up()  # the failover
        assert _outcome(leader, since=now - 1) == (0, 1)
    finally:
        leader.store.close()


def test_an_upgrade_mark_folded_while_running_counts_as_an_upgrade(tmp_path: Path) -> None:
    """The mark watcher's path: the start mark reaches the daemon before the failure does."""
    d = daemon.Daemon(_loaded(tmp_path))
    try:
        now = time.time()
        _verified_rollback(d, now - 20)
        d._fold(
            observations.Observation(
                time=now - 10, target=TARGET, source=upgrading.STARTED, value=1.0
            )
        )
        assert d.acting.upgraded[TARGET] == now - 10
        assert d.acting.act(_critical(now)) is not None
    finally:
        d.store.close()


class _Watches:
    def __init__(self) -> None:
        self.asked: list[str] = []

    def watch(self, target_id: str, *, duration: float, interval: float, at_once: bool = True):
        self.asked.append(target_id)
        return 1


def test_an_alert_from_the_inbox_is_counted_and_marks_its_target_suspect(tmp_path: Path) -> None:
    """Probe results and inbox observations enter the judge the same way (``_observe``)."""
    d = daemon.Daemon(_loaded(tmp_path, confirm_window=60))
    watches = _Watches()
    d.acting.watcher = watches
    try:
        failed = observations.Observation(
            time=time.time(), target=TARGET, source="http", error="connection refused"
        )
        d.accept_stored(failed)  # the inbox processor's sink
        sample = d.metrics.registry.get_sample_value
        assert sample("rollsafe_probe_observations_total", {"probe": "http"}) == 1.0
        assert sample("rollsafe_probe_errors_total", {"probe": "http"}) == 1.0
        assert watches.asked == ["web-1"]  # could not observe: a quick second look
        assert d._take_unsaved() == []  # the inbox saves it with its row, not the daemon
    finally:
        d.store.close()
