"""examples/tour.yaml (the README's tour) end to end, on rollsafe's demo service.

The file is used as written; only its target's ``vars`` are pointed at the demo host this
test starts (its directory and port), and the host gets the ``bin/appctl`` control script the
file expects. The upgrade leaves the service down (a release that does not start): no 5xx, no
log line, only a failing health check and a closed port. rollsafe must decide from those,
roll the release back, restart the service and verify that it answers again.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from rollsafe.demo import fleet, layout, releases
from rollsafe.domain import ids, runs
from rollsafe.storage import sql

ROOT = Path(__file__).resolve().parents[2]
TOUR = ROOT / "examples" / "tour.yaml"
ROLLSAFE = str(Path(sys.executable).with_name("rollsafe"))

APPCTL = """#!/bin/sh
# The service's control script, as examples/tour.yaml expects it: restart, or upgrade.
ctl="{python} -m {module}"
case "$1" in
  restart) exec $ctl restart {root} ;;
  # The new release is installed, and then the service does not come back.
  upgrade) $ctl upgrade {root} {version} && exec $ctl stop {root} ;;
  *) echo "usage: appctl restart|upgrade" >&2; exit 2 ;;
esac
"""


def rollsafe(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [ROLLSAFE, *args], cwd=cwd, capture_output=True, text=True, timeout=180, check=False
    )


@pytest.mark.slow
def test_the_tour_rolls_back_a_service_that_is_down_after_its_upgrade(tmp_path):
    demo = fleet.build(tmp_path / "fleet", hosts=1)
    host = demo.hosts[0]
    appctl = host.root / "bin" / "appctl"
    appctl.parent.mkdir(parents=True, exist_ok=True)
    appctl.write_text(
        APPCTL.format(
            python=sys.executable,
            module=layout.CTL_MODULE,
            root=host.root,
            version=releases.NEXT.version,
        ),
        encoding="utf-8",
    )
    appctl.chmod(0o755)
    doc = yaml.safe_load(TOUR.read_text(encoding="utf-8"))
    (target,) = doc["targets"]
    assert set(target["vars"]) == {"root", "port"}
    target["vars"] = {"root": str(host.root), "port": host.port}
    config = tmp_path / "tour.yaml"
    config.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    daemon: subprocess.Popen[str] | None = None
    fleet.start(demo)
    try:
        assert fleet.health(host)["version"] == releases.GOOD.version
        checked = rollsafe("config", "check", "-c", str(config), cwd=tmp_path)
        assert checked.returncode == 0, checked.stderr
        upgraded = rollsafe("upgrade", target["id"], "-c", str(config), cwd=tmp_path)
        assert upgraded.returncode == 0, upgraded.stdout + upgraded.stderr
        assert fleet.health(host) is None  # down: no answer at all

        daemon = subprocess.Popen(
            [ROLLSAFE, "run", "-c", str(config), "--port", "0"],
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        run = wait_for_finished_run(tmp_path / "state", target["id"], daemon)
        assert run.state is runs.RunState.SUCCEEDED, run
        assert run.trigger == "decision:web-down", run
        answer = fleet.health(host)
        assert answer is not None
        assert answer["version"] == releases.GOOD.version  # the release before the upgrade
    finally:
        if daemon is not None:
            daemon.send_signal(signal.SIGINT)
            try:
                daemon.communicate(timeout=60)
            finally:
                if daemon.poll() is None:
                    daemon.kill()
                    daemon.communicate()
        fleet.stop(demo)


def wait_for_finished_run(
    state: Path, target: str, daemon: subprocess.Popen[str]
) -> runs.RollbackRun:
    # The judge needs 30 s of failing checks (the tour's `for: 30s`), then the rollback runs.
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        if daemon.poll() is not None:
            pytest.fail(f"rollsafe run exited {daemon.returncode}: {daemon.communicate()[1]}")
        if (state / sql.DB_FILE).exists():
            store = sql.open_store(state, None)
            try:
                found = store.list_runs(target=ids.TargetId(target))
            finally:
                store.close()
            done = [r for r in found if r.state.terminal]
            if done:
                return done[0]
        time.sleep(1)
    pytest.fail(f"no finished rollback run for {target}")


def test_the_readme_shows_the_tour_file():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    first_block = readme.split("```yaml\n", 1)[1].split("```", 1)[0]
    assert yaml.safe_load(first_block) == yaml.safe_load(TOUR.read_text(encoding="utf-8"))
