"""``rollsafe rollback`` leaves a run to a live leader elsewhere, even when the local lock is free.

Replicas on other hosts share the store and lead by its leader lease; the lock on this host
says nothing about them. The lease is written with the store API, as a replica would.
"""

from __future__ import annotations

import time
from pathlib import Path

from runs_workspace import TARGET, Workspace, kill_group

from rollsafe.domain import runs
from rollsafe.storage import repositories, sql

REPLICA = "replica-b:4242:0badcafe"


def take_lease(ws: Workspace, *, ttl: float, now: float) -> int:
    with sql.open_store(ws.state) as store:
        token = store.acquire_lease(repositories.LEADER_LEASE, holder=REPLICA, ttl=ttl, now=now)
    assert token is not None
    return token


def prepared(root: Path) -> Workspace:
    ws = Workspace(root)
    ws.checkpoint()
    ws.damage()
    return ws


def test_a_live_leader_elsewhere_gets_the_run_and_nothing_is_done_here(tmp_path):
    ws = prepared(tmp_path)
    damaged = ws.snapshot()
    take_lease(ws, ttl=3600, now=time.time())

    result = ws.rollback()

    assert result.returncode == 0, result.stderr
    assert f"queued for the running controller (the leader {REPLICA}" in result.stdout
    (run,) = ws.runs()
    assert run.open
    assert run.state is runs.RunState.PENDING
    assert ws.steps(run.id) == []
    assert ws.restores() == []
    assert ws.snapshot() == damaged


def test_an_expired_lease_does_not_stop_the_cli_from_driving(tmp_path):
    ws = prepared(tmp_path)
    take_lease(ws, ttl=10, now=time.time() - 3600)

    result = ws.rollback()

    assert result.returncode == 0, result.stdout + result.stderr
    assert "queued" not in result.stdout
    (run,) = ws.runs()
    assert run.state is runs.RunState.SUCCEEDED
    assert len(ws.restores()) == 1


def test_wait_follows_the_leader_and_takes_over_once_its_lease_is_gone(tmp_path):
    ws = prepared(tmp_path)
    token = take_lease(ws, ttl=3600, now=time.time())
    proc = ws.popen("rollback", TARGET, "--reason", "leader", "-c", str(ws.config), "--wait")
    try:
        # The CLI opened the run for the leader and follows it; nothing acted yet.
        deadline = time.monotonic() + 60
        while not ws.runs():
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the CLI never opened the run"
            time.sleep(0.05)
        (run,) = ws.runs()
        assert ws.steps(run.id) == []
        with sql.open_store(ws.state) as store:
            assert store.release_lease(repositories.LEADER_LEASE, holder=REPLICA, token=token)

        out, err = proc.communicate(timeout=60)
    finally:
        kill_group(proc.pid)

    assert proc.returncode == 0, out + err
    assert f"the leader {REPLICA}" in out
    assert "the controller stopped; driving the run here" in out
    final = ws.runs()[0]
    assert final.id == run.id
    assert final.state is runs.RunState.SUCCEEDED
    assert len(ws.restores()) == 1
