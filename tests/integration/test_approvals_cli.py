"""``rollsafe approve`` / ``rollsafe reject``: real processes, a real store, with and without a
running controller. The decision is in the durable run either way, the audit names the person.
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from rollsafe.config import loading
from rollsafe.domain import clocks, ids, runs
from rollsafe.runtime import assembly, locking
from rollsafe.storage import sql
from rollsafe.verify import checkpoints

ROLLSAFE = str(Path(sys.executable).with_name("rollsafe"))
PERSON = f"cli:{getpass.getuser()}"


class Site:
    """A target directory managed by the local driver, its configuration and its state."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.live = root / "srv" / "web-1"
        self.live.mkdir(parents=True)
        (self.live / "app.conf").write_text("workers = 4\n")
        self.config = root / "rollsafe.yaml"
        self.config.write_text(
            textwrap.dedent(
                f"""
                state_dir: state
                server: {{enabled: false}}
                policy: {{approval: require_approval, approval_timeout: 10m, verify_timeout: 5s}}
                targets:
                  - id: web-1
                    driver: files
                    vars: {{root: "{root / "srv"}"}}
                drivers:
                  - kind: local
                    name: files
                    directory: "{{root}}/{{id}}"
                """
            )
        )
        self.loaded = loading.load(self.config)
        self.state = self.loaded.state_dir

    def checkpoint_and_break(self) -> None:
        with sql.open_store(self.state) as store:
            driver = assembly.build_drivers(self.loaded.config, self.state)["files"]
            asyncio.run(
                checkpoints.take_checkpoint(
                    config=self.loaded.config, target_id="web-1", store=store, driver=driver,
                    clock=clocks.SystemClock(), actor="test",
                )
            )  # fmt: skip
        (self.live / "app.conf").write_text("workers = broken\n")

    def open_decision_run(self) -> runs.RollbackRun:
        """What a critical decision does: open a run (the controller drives it)."""
        with sql.open_store(self.state) as store:
            executor = assembly.build_executor(self.loaded, store, clock=clocks.SystemClock())
            return executor.request(
                "web-1", trigger="decision:http-5xx", actor="rollsafe", reason="5xx ratio 0.4"
            )

    def drive_until_waiting(self, run_id: str) -> None:
        """A controller that drives the run to the approval gate, then stops."""

        async def drive() -> None:
            with sql.open_store(self.state) as store:
                executor = assembly.build_executor(self.loaded, store, clock=clocks.SystemClock())
                task = asyncio.create_task(executor.drive(run_id))
                async with asyncio.timeout(30):
                    while store.get_run(ids.RunId(run_id)).state is not (
                        runs.RunState.AWAITING_APPROVAL
                    ):
                        await asyncio.sleep(0.02)
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

        asyncio.run(drive())

    def run(self, run_id: str) -> runs.RollbackRun:
        with sql.open_store(self.state) as store:
            return store.get_run(ids.RunId(run_id))

    def audit(self, run_id: str) -> list:
        with sql.open_store(self.state) as store:
            return [e.entry for e in store.list_audit_events() if e.entry.run_id == run_id]

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [ROLLSAFE, *args],
            cwd=self.root,
            env={**os.environ, "COLUMNS": "200"},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )


@pytest.fixture
def site(tmp_path):
    return Site(tmp_path)


def test_approve_without_a_controller_is_stored_and_acted_on_when_the_run_resumes(site):
    site.checkpoint_and_break()
    run = site.open_decision_run()
    site.drive_until_waiting(run.id)

    approved = site.cli(
        "approve", run.id, "--reason", "saw the graphs", "--state-dir", str(site.state)
    )
    assert approved.returncode == 0, approved.stderr
    assert f"approved by {PERSON}" in approved.stdout
    assert "no controller is running" in approved.stdout
    stored = site.run(run.id)
    assert stored.state is runs.RunState.AWAITING_APPROVAL  # nobody acted yet
    assert (stored.approval.decision, stored.approval.decided_by) == ("approved", PERSON)
    [entry] = [e for e in site.audit(run.id) if e.action == "run.approved"]
    assert (entry.actor, entry.reason, entry.details["via"]) == (PERSON, "saw the graphs", "cli")

    resumed = site.cli("rollback", "web-1", "--reason", "resume", "-c", str(site.config))
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert site.run(run.id).state is runs.RunState.SUCCEEDED
    assert (site.live / "app.conf").read_text() == "workers = 4\n"


def test_reject_needs_a_reason_ends_the_run_and_only_once(site):
    site.checkpoint_and_break()
    run = site.open_decision_run()
    site.drive_until_waiting(run.id)

    no_reason = site.cli("reject", run.id, "-c", str(site.config))
    assert no_reason.returncode == 2
    assert site.run(run.id).approval.decision is None

    rejected = site.cli("reject", run.id, "--reason", "deploy in progress", "-c", str(site.config))
    assert rejected.returncode == 0, rejected.stderr
    stored = site.run(run.id)
    assert stored.state is runs.RunState.REJECTED
    assert stored.error == f"rejected by {PERSON}: deploy in progress"
    assert (site.live / "app.conf").read_text() == "workers = broken\n"  # untouched

    again = site.cli("approve", run.id, "-c", str(site.config), "--json")
    assert again.returncode == 1
    assert "not waiting for approval" in again.stderr
    unknown = site.cli("approve", "run-nope", "-c", str(site.config))
    assert unknown.returncode == 2
    assert "no run run-nope" in unknown.stderr


@pytest.mark.slow
def test_approve_while_the_controller_runs_lets_it_go_on(site):
    site.checkpoint_and_break()
    daemon = subprocess.Popen(
        [ROLLSAFE, "run", "-c", str(site.config)],
        cwd=site.root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        lock = locking.ControllerLock(site.state)
        deadline = time.monotonic() + 60
        while lock.holder() is None or lock.holder().role != "daemon":
            assert daemon.poll() is None, daemon.stderr.read()
            assert time.monotonic() < deadline, "the controller did not start"
            time.sleep(0.1)  # another process: nothing to await but its lock file
        run = site.open_decision_run()
        while site.run(run.id).state is not runs.RunState.AWAITING_APPROVAL:
            assert time.monotonic() < deadline, site.run(run.id)
            time.sleep(0.1)

        approved = site.cli("approve", run.id, "-c", str(site.config), "--json")
        assert approved.returncode == 0, approved.stderr
        assert '"decided_by": "' + PERSON in approved.stdout

        while site.run(run.id).open:
            assert time.monotonic() < deadline, site.run(run.id)
            time.sleep(0.1)
        assert site.run(run.id).state is runs.RunState.SUCCEEDED
        assert (site.live / "app.conf").read_text() == "workers = 4\n"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(daemon.pid, signal.SIGTERM)
        daemon.wait(timeout=60)
        daemon.stderr.close()
