"""Two ``rollsafe run`` replicas on one PostgreSQL: one leads, the other takes over its run.

Real processes, a real PostgreSQL server, real sockets, the local driver on a real directory.
Replica A leads; an alert is POSTed to replica B (a follower), which stores it in the shared
inbox; A processes it, opens the rollback run and is SIGKILLed right after the run's first step
(``ROLLSAFE_FAULT_KILL_AT``). B takes the lease once A's expires and finishes the run: each
step's effect happens exactly once (the restore's and the restart's own logs say so), and the
steps carry the fencing token of the replica that wrote them.
"""

from __future__ import annotations

import asyncio
import datetime
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from runs_workspace import TARGET, Workspace, kill_group

from rollsafe.config import loading
from rollsafe.domain import clocks, ids, runs
from rollsafe.execute.runs import FAULT_ENV
from rollsafe.runtime import assembly
from rollsafe.storage import repositories, sql
from rollsafe.verify import checkpoints

pytestmark = pytest.mark.postgres

ROLLSAFE = str(Path(sys.executable).with_name("rollsafe"))
TTL = 3.0
RENEW = 1.0
PATIENCE = 120.0  # generous bound for a loaded machine; the assertions are about events


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def write_replica_config(ws: Workspace, name: str, *, url: str, port: int) -> Path:
    """The workspace's config, on PostgreSQL, with an Alertmanager intake and a critical rule.

    Both replicas live next to each other and share ``state`` (the local driver's restore
    points and journal); only their API ports differ.
    """
    text = ws.config.read_text().replace(
        f"  - id: {TARGET}\n", f"  - id: {TARGET}\n    address: 10.0.0.11\n", 1
    )
    text += (
        f"store: {{url: '{url}', lease_ttl: {TTL:g}s, lease_renew: {RENEW:g}s}}\n"
        f"server: {{port: {port}}}\n"
        "intake:\n"
        "  - name: am\n"
        "    kind: alertmanager\n"
        "    auth: {kind: bearer, token_file: am.token}\n"
        "    target_label: instance\n"
        "    strip_port: true\n"
        "rules:\n"
        "  - id: am-firing\n"
        "    kind: alert\n"
        "    source: am\n"
        "    severity: critical\n"
    )
    path = ws.root / f"{name}.yaml"
    path.write_text(text)
    return path


def checkpoint(config: Path) -> None:
    loaded = loading.load(config)
    with sql.open_store(loaded.state_dir, loaded.config.store.url) as store:
        drivers = assembly.build_drivers(loaded.config, loaded.state_dir)
        asyncio.run(
            checkpoints.take_checkpoint(
                config=loaded.config,
                target_id=TARGET,
                store=store,
                driver=drivers["files"],
                clock=clocks.SystemClock(),
                actor="test",
            )
        )


def start(ws: Workspace, config: Path, *, fault: str | None = None) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k != FAULT_ENV}
    if fault is not None:
        env[FAULT_ENV] = fault
    with (ws.root / f"{config.stem}.log").open("w") as log:
        return subprocess.Popen(
            [ROLLSAFE, "run", "-c", str(config)],
            cwd=ws.root,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )


def _log(ws: Workspace, name: str) -> str:
    return (ws.root / f"{name}.log").read_text()[-3000:]


def health(port: int) -> dict[str, Any] | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
            return dict(json.loads(response.read()))
    except urllib.error.HTTPError as exc:
        return dict(json.loads(exc.read()))
    except OSError:
        return None


def wait_role(port: int, process: subprocess.Popen[str], role: str) -> dict[str, Any]:
    deadline = time.monotonic() + PATIENCE
    while time.monotonic() < deadline:
        assert process.poll() is None, f"replica on port {port} ended ({process.returncode})"
        report = health(port)
        if report is not None and report["daemon"].get("leadership", {}).get("role") == role:
            return report
        time.sleep(0.1)
    raise AssertionError(f"the replica on port {port} never became {role}")


def post_alert(port: int) -> int:
    started = (datetime.datetime.now(tz=datetime.UTC) - datetime.timedelta(minutes=1)).isoformat()
    body = json.dumps(
        {
            "version": "4",
            "status": "firing",
            "alerts": [
                {
                    "status": "firing",
                    "labels": {"alertname": "UpgradeBroke", "instance": "10.0.0.11:9100"},
                    "annotations": {},
                    "startsAt": started,
                    "fingerprint": "fp-1",
                }
            ],
        }
    ).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/intake/am",
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "Authorization": "Bearer am-token"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return int(response.status)


def wait_run_ended(store: sql.SqlStore) -> runs.RollbackRun:
    deadline = time.monotonic() + PATIENCE
    while time.monotonic() < deadline:
        found = store.list_runs(target=ids.TargetId(TARGET), limit=10)
        if found and not found[0].open:
            return found[0]
        time.sleep(0.2)
    raise AssertionError(f"the run never ended: {found}")


def test_the_follower_finishes_a_killed_leaders_run_exactly_once(tmp_path, postgres_url):
    ws = Workspace(tmp_path)
    (tmp_path / "am.token").write_text("am-token\n")
    port_a, port_b = free_port(), free_port()
    config_a = write_replica_config(ws, "a", url=postgres_url, port=port_a)
    config_b = write_replica_config(ws, "b", url=postgres_url, port=port_b)
    checkpoint(config_a)
    checkpointed = ws.snapshot()
    ws.damage()

    # A leads (it is alone), and will die right after the run's first step is recorded done.
    leader = start(ws, config_a, fault="after:step:0")
    follower: subprocess.Popen[str] | None = None
    store = sql.open_store(ws.state, postgres_url)
    try:
        led = wait_role(port_a, leader, "leader")
        assert led["daemon"]["leadership"]["token"] == 1
        follower = start(ws, config_b)
        followed = wait_role(port_b, follower, "follower")
        assert followed["daemon"]["leadership"]["holder"] == led["daemon"]["leadership"]["me"]

        # The alert reaches the follower; the leader is the one that acts on it.
        assert post_alert(port_b) == 202
        leader.wait(timeout=PATIENCE)
        assert leader.returncode == -signal.SIGKILL, _log(ws, "a")

        run = wait_run_ended(store)
        assert run.state is runs.RunState.SUCCEEDED, run.error
        steps = store.list_steps(run.id)
        assert [(s.index, s.state, s.attempt) for s in steps] == [
            (0, runs.StepState.DONE, 1),
            (1, runs.StepState.DONE, 1),
        ]
        assert steps[0].name.startswith("restore")
        assert steps[1].name.startswith("restart")
        # Every effect happened once: the journal's restore log and the restart command's log.
        assert len(ws.restores()) == 1
        assert ws.restarts.read_text().splitlines() == ["restarted"]
        assert ws.snapshot() == checkpointed

        assert_who_did_what(store, postgres_url, run.id)
        assert wait_role(port_b, follower, "leader")["daemon"]["leadership"]["token"] == 2

        follower.send_signal(signal.SIGINT)
        follower.wait(timeout=60)
        assert follower.returncode == 0
    finally:
        store.close()
        for process in (leader, follower):
            if process is not None:
                kill_group(process.pid)
                process.wait(timeout=30)


def assert_who_did_what(store: sql.SqlStore, url: str, run_id: ids.RunId) -> None:
    """A (token 1) processed the webhook and did step 0; B (token 2) did the rest."""
    assert _step_fences(url, run_id) == {0: 1, 1: 2}
    [inbox_row] = store.list_inbox()
    assert inbox_row.processed_at is not None
    events = list(store.list_audit_events())
    leading = [e for e in events if e.entry.action == "daemon.leading"]
    assert [e.entry.reason.rsplit(" ", 1)[-1] for e in leading] == ["1", "2"]
    lease = store.lease(repositories.LEADER_LEASE)
    assert lease is not None
    assert lease.token == 2
    # The failover time, for the operations guide: step 0 recorded done (A dies) -> B leads.
    died = min(
        e.entry.time
        for e in events
        if e.entry.action == "run.step.done" and e.entry.details.get("index") == 0
    )
    print(f"failover: {leading[1].entry.time - died:.2f}s from the leader's death to the new term")


def _step_fences(url: str, run_id: ids.RunId) -> dict[int, int | None]:
    """The ``fence`` each step row was last written with (not part of StepRecord)."""
    import sqlalchemy as sa

    from rollsafe.storage import schema

    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            table = schema.run_steps
            rows = connection.execute(
                sa.select(table.c.step_index, table.c.fence).where(table.c.run_id == run_id)
            )
            return {int(r.step_index): r.fence for r in rows}
    finally:
        engine.dispose()
