"""Upgrades made by other tools reach the judge: ``rollsafe mark upgrade`` and
``POST /api/v1/targets/{id}/upgrades`` write the mark ``rollsafe upgrade`` writes, audited, and
a running ``rollsafe run`` puts the target under close watch because of it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from approvals_setup import Controller, bearer
from typer.testing import CliRunner

from rollsafe.config import loading
from rollsafe.execute import runs as executing
from rollsafe.interfaces.cli import context, main
from rollsafe.storage import sql
from support import counting_server

ROLLSAFE = [sys.executable, "-m", "rollsafe.interfaces.cli.main"]
runner = CliRunner()


def _marks(store, target: str) -> list[float]:
    return [o.time for o in store.list_observations(target=target, source="mark:upgrade")]


def _marked(store) -> list:
    return [e.entry for e in store.list_audit_events() if e.entry.action == "upgrade.marked"]


# ---------------------------------------------------------------------------- the API


@pytest.fixture
async def controller(tmp_path):
    c = Controller(tmp_path)
    yield c
    await c.close()


async def test_an_operator_reports_an_upgrade_with_its_packages(controller):
    body = {
        "note": "unattended-upgrades",
        "version": "bookworm 12.8",
        "packages": [
            {"name": "openssl", "old": "3.0.14-1", "new": "3.0.15-1", "action": "upgrade"},
            {"name": "libfoo", "new": "1.0", "action": "install"},
        ],
    }
    answer = await controller.client.post(
        "/api/v1/targets/web-1/upgrades", json=body, headers=bearer("operator")
    )
    assert answer.status_code == 201, answer.text
    assert answer.json()["packages"] == 2
    assert _marks(controller.store, "web-1") == [controller.clock.now()]
    [entry] = _marked(controller.store)
    assert (entry.actor, entry.target, entry.reason) == ("api:oscar", "web-1", body["note"])
    assert entry.details["via"] == "api"
    assert entry.details["version"] == "bookworm 12.8"
    assert entry.details["packages"][0] == {
        "name": "openssl", "old": "3.0.14-1", "new": "3.0.15-1", "action": "upgrade"
    }  # fmt: skip


@pytest.mark.parametrize(
    ("path", "body", "status", "says"),
    [
        ("/api/v1/targets/nope/upgrades", {}, 404, "unknown target 'nope'"),
        ("/api/v1/targets/web-1/upgrades", {"packages": [{"old": "1"}]}, 422, "name"),
        ("/api/v1/targets/web-1/upgrades", {"version": ""}, 422, "version"),
        ("/api/v1/targets/web-1/upgrades", {"when": 1}, 422, "when"),
        ("/api/v1/targets/web-1/upgrades", {"packages": [{"name": "x", "action": "z"}]}, 422,
         "action"),
        ("/api/v1/targets/web-1/upgrades", {"note": "x" * 2001}, 422, "note"),
    ],
)  # fmt: skip
async def test_bad_requests_are_refused_with_a_reason_and_write_nothing(
    controller, path, body, status, says
):
    answer = await controller.client.post(path, json=body, headers=bearer("operator"))
    assert answer.status_code == status, answer.text
    assert says in answer.text
    assert _marked(controller.store) == []
    assert _marks(controller.store, "web-1") == []


# ---------------------------------------------------------------------------- the CLI

CONFIG = """\
state_dir: state
targets:
  - id: app-1
"""


def test_the_cli_marks_without_a_daemon(tmp_path: Path) -> None:
    config = tmp_path / "rollsafe.yaml"
    config.write_text(CONFIG)
    result = runner.invoke(
        main.app,
        ["mark", "upgrade", "app-1", "-c", str(config), "--note", "ansible site.yml",
         "--version", "2.4.1", "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert (shown["target"], shown["version"], shown["via"]) == ("app-1", "2.4.1", "cli")
    with sql.open_store(tmp_path / "state") as store:
        assert _marks(store, "app-1") == [shown["time"]]
        [entry] = _marked(store)
        assert entry.actor.startswith("cli:")
        assert entry.reason == "ansible site.yml"

    # By the state directory alone: the store must exist and know the target (a daemon
    # wrote the configured targets there).
    with sql.open_store(tmp_path / "state") as store:
        store.sync_targets(executing.target_records(loading.load(config).config))
    again = runner.invoke(
        main.app, ["mark", "upgrade", "app-1", "--state-dir", str(tmp_path / "state")]
    )
    assert again.exit_code == 0, again.output
    typo = tmp_path / "stat"
    missing = runner.invoke(main.app, ["mark", "upgrade", "app-1", "--state-dir", str(typo)])
    assert missing.exit_code == context.EXIT_ERROR
    assert not typo.exists()
    unknown = runner.invoke(main.app, ["mark", "upgrade", "app-2", "-c", str(config)])
    assert unknown.exit_code == context.EXIT_ERROR
    assert "unknown target 'app-2'" in unknown.stderr
    with sql.open_store(tmp_path / "state") as store:
        assert len(_marks(store, "app-1")) == 2
        assert _marks(store, "app-2") == []


def test_an_upgrade_s_start_and_end_are_marked_by_the_cli(tmp_path: Path) -> None:
    """A pre-upgrade hook marks the start (``--started``), the post-upgrade hook the end: the
    two marks ``rollsafe upgrade`` leaves, so a restart in between is the upgrade's own."""
    config = tmp_path / "rollsafe.yaml"
    config.write_text(CONFIG)
    begun = runner.invoke(
        main.app, ["mark", "upgrade", "app-1", "-c", str(config), "--started", "--json"]
    )
    assert begun.exit_code == 0, begun.output
    started_at = json.loads(begun.stdout)["time"]
    ended = runner.invoke(main.app, ["mark", "upgrade", "app-1", "-c", str(config)])
    assert ended.exit_code == 0, ended.output
    assert "marked app-1 upgraded" in ended.stdout
    with sql.open_store(tmp_path / "state") as store:
        starts = store.list_observations(target="app-1", source="mark:upgrade_started")
        assert [o.time for o in starts] == [started_at]
        [end] = _marks(store, "app-1")
        assert end >= started_at
        actions = [e.entry.action for e in store.list_audit_events()]
        assert actions == ["upgrade.start_marked", "upgrade.marked"]


async def test_an_operator_reports_an_upgrade_s_start(controller):
    answer = await controller.client.post(
        "/api/v1/targets/web-1/upgrades",
        json={"note": "apt pre-invoke", "started": True},
        headers=bearer("operator"),
    )
    assert answer.status_code == 201, answer.text
    assert answer.json()["started"] is True
    starts = controller.store.list_observations(target="web-1", source="mark:upgrade_started")
    assert [o.time for o in starts] == [answer.json()["time"]]
    assert _marks(controller.store, "web-1") == []  # not ended yet
    wrong = await controller.client.post(
        "/api/v1/targets/web-1/upgrades", json={"started": "soon"}, headers=bearer("operator")
    )
    assert wrong.status_code == 422, wrong.text


def test_a_running_daemon_watches_a_target_marked_by_the_cli(tmp_path: Path) -> None:
    service = counting_server.Counted()
    thread = threading.Thread(target=service.serve_forever, daemon=True)
    thread.start()
    config = tmp_path / "rollsafe.yaml"
    config.write_text(
        f"""
state_dir: state
server: {{port: 0}}  # a free port: other tests' daemons may run beside this one
policy:
  dry_run: true
  watch_after_upgrade: 10m
  watch_interval: 200ms
targets:
  - id: app-1
    vars: {{port: {service.server_address[1]}}}
probes:
  - name: http
    kind: http
    url: "http://{{address}}:{{port}}/health"
    interval: 1h
    timeout: 2s
"""
    )
    proc = subprocess.Popen(
        [*ROLLSAFE, "run", "-c", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        # The mark comes once the daemon runs (not read back at its start-up); the rest of
        # its log is drained so that it never blocks on a full pipe.
        assert proc.stderr is not None
        for line in proc.stderr:
            if "rollsafe running" in line:
                break
        drain = threading.Thread(target=proc.stderr.read, daemon=True)
        drain.start()
        marked = subprocess.run(
            [*ROLLSAFE, "mark", "upgrade", "app-1", "-c", str(config), "--note", "patch manager"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert marked.returncode == 0, marked.stderr
        assert service.third_hit.wait(timeout=60), f"only {service.hits} probe(s) after the mark"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        if proc.stderr is not None:
            proc.stderr.close()
        service.shutdown()
        service.server_close()
