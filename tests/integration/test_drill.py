"""``rollsafe drill`` end to end: the CLI as a subprocess, a real config, a host over real SSH.

The target is an sshd in a network namespace (tests/support/netns_hosts); the host driver
copies a directory there with the directory recipe, the upgrade changes it, the rollback
restores it, and verification uses the recipe's check plus a real tcp probe on the host's
sshd port. Needs root, ip and openssh-server; fails naming what is missing otherwise.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from rollsafe.storage import sql
from support import netns_hosts

ROLLSAFE = str(Path(sys.executable).with_name("rollsafe"))


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[netns_hosts.Lab]:
    netns_hosts.require()
    with netns_hosts.hosts(tmp_path_factory.mktemp("drill-lab"), 1) as made:
        yield made


def _workspace(root: Path, lab: netns_hosts.Lab, *, label: bool, restart: str = "true") -> Path:
    live = root / "srv" / "site"
    live.mkdir(parents=True)
    (live / "app.conf").write_text("version = 1\n")
    transport = lab.transport()
    config = root / "rollsafe.yaml"
    labels = '    labels: {drill: "true"}\n' if label else ""
    config.write_text(
        f"""\
version: 1
state_dir: state
policy:
  verify_timeout: 20s
targets:
  - id: site1
    address: {lab.hosts[0].address}
    driver: hosts
{labels}probes:
  - name: ssh-up
    kind: tcp
    port: 22
    interval: 5s
    timeout: 2s
drivers:
  - kind: host
    name: hosts
    transport:
      kind: ssh
      user: root
      known_hosts: {transport["known_hosts"]}
      identity_file: {transport["identity_file"]}
    recipe:
      kind: directory
      path: {live}
    upgrade: "echo 'version = 2' > {live}/app.conf"
    restart: "{restart}"
    step_timeout: 30s
"""
    )
    return config


def _drill(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [ROLLSAFE, "drill", "site1", "-c", str(config), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_a_drill_upgrades_rolls_back_and_verifies(lab, tmp_path):
    config = _workspace(tmp_path, lab, label=True)

    done = _drill(config, "--json")

    assert done.returncode == 0, done.stderr + done.stdout
    report = json.loads(done.stdout)
    assert report["ok"] is True
    assert [s["step"] for s in report["steps"]] == [
        "checkpoint",
        "precheck",
        "upgrade",
        "rollback:restore",
        "rollback:restart",
        "verify:driver",
        "verify:health",
    ]
    assert all(s["outcome"] == "ok" and s["duration"] >= 0 for s in report["steps"])
    assert (tmp_path / "srv" / "site" / "app.conf").read_text() == "version = 1\n"

    store = sql.open_store(tmp_path / "state")
    try:
        events = [e.entry for e in store.list_audit_events()]
    finally:
        store.close()
    actions = [e.action for e in events]
    assert actions.count("drill.started") == 1
    assert actions.count("drill.step") == 7
    assert actions.count("drill.finished") == 1
    assert "restore_point.created" in actions
    commands = [e for e in events if e.action == "driver.api_call"]
    assert commands
    assert all(e.details["operation"] == "host.command" for e in commands)
    # The checkpoint's commands are audited by the checkpoint code itself, the rest by the drill.
    steps = {e.details["step"] for e in commands if e.details.get("drill") == report["drill"]}
    assert steps >= {"precheck", "upgrade", "restore", "restart", "verify"}
    assert any(e.details["step"] == "checkpoint" for e in commands)
    finished = next(e for e in events if e.action == "drill.finished")
    assert finished.result == "ok"


def test_a_target_not_meant_for_drills_is_refused_without_yes(lab, tmp_path):
    config = _workspace(tmp_path, lab, label=False)

    refused = _drill(config)

    assert refused.returncode == 2
    assert "--yes" in refused.stderr
    assert not (tmp_path / "srv" / "site.rollsafe-snapshots").exists()

    forced = _drill(config, "--yes")
    assert forced.returncode == 0, forced.stderr + forced.stdout
    assert "drill passed" in forced.stdout


def test_a_failing_step_fails_the_drill(lab, tmp_path):
    config = _workspace(tmp_path, lab, label=True, restart="echo no service >&2; exit 5")

    failed = _drill(config)

    assert failed.returncode == 1
    assert "drill FAILED" in failed.stdout
    assert "rollback:restart" in failed.stdout
    assert "no service" in failed.stdout
    # The restore before it still happened.
    assert (tmp_path / "srv" / "site" / "app.conf").read_text() == "version = 1\n"
