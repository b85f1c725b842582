"""A controller killed between storing a critical decision and opening its run still acts."""

from __future__ import annotations

import asyncio

from rollsafe.config import loading
from rollsafe.domain import ids, verdicts
from rollsafe.runtime import daemon
from rollsafe.storage import sql

CONFIG = """
state_dir: state
policy:
  dry_run: true
targets:
  - id: app-1
  - id: app-2
probes:
  - name: up
    kind: tcp
    port: 9
    interval: 1h
rules:
  - id: down
    kind: threshold
    probe: up
    op: "<"
    value: 1
    severity: critical
"""


async def test_a_critical_decision_without_a_run_gets_its_run_on_restart(tmp_path):
    path = tmp_path / "rollsafe.yaml"
    path.write_text(CONFIG)
    loaded = loading.load(path)
    store = sql.open_store(loaded.state_dir)
    # What a crash leaves: the decision is stored, the run was never opened.
    lost = verdicts.Decision(
        time=1.0,
        target=ids.TargetId("app-1"),
        rule=ids.RuleId("down"),
        severity=verdicts.Severity.CRITICAL,
        summary="up 0 < 1",
    )
    healthy = verdicts.Decision(
        time=1.0,
        target=ids.TargetId("app-2"),
        rule=ids.RuleId("down"),
        severity=verdicts.Severity.OK,
        summary="up 1 >= 1",
    )
    store.add_decisions([lost, healthy])
    store.close()

    controller = daemon.Daemon(loaded)
    stop = asyncio.Event()
    task = asyncio.create_task(controller.run(stop))
    await asyncio.wait_for(controller.ready.wait(), 30)
    stop.set()
    await asyncio.wait_for(task, 30)

    store = sql.open_store(loaded.state_dir)
    try:
        runs = store.list_runs()
        assert [(r.target, r.trigger) for r in runs] == [("app-1", "decision:down")]
        assert runs[0].state.value == "dry_run"
    finally:
        store.close()

    # A second restart does not open another run: the decision now has one.
    controller = daemon.Daemon(loaded)
    stop = asyncio.Event()
    task = asyncio.create_task(controller.run(stop))
    await asyncio.wait_for(controller.ready.wait(), 30)
    stop.set()
    await asyncio.wait_for(task, 30)
    store = sql.open_store(loaded.state_dir)
    try:
        assert len(store.list_runs()) == 1
    finally:
        store.close()
