"""``rollsafe rollout`` and ``rollsafe target unpin`` without a fleet: the paths that stop early,
the status of a stored rollout, and the example of docs/rollouts.md."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rollsafe.config import loading
from rollsafe.domain import clocks, rollouts
from rollsafe.interfaces.cli import main
from rollsafe.rollouts import opening, plans
from rollsafe.runtime import assembly
from rollsafe.storage import sql

DOCS = Path(__file__).resolve().parents[3] / "docs" / "rollouts.md"
CONFIG = """\
state_dir: state
targets:
  - {id: web-1, driver: app}
  - {id: web-2, driver: app}
rules:
  - {id: r, kind: threshold, probe: p, op: ">", value: 1, severity: critical}
probes:
  - {name: p, kind: command, command: "true"}
drivers:
  - {kind: local, name: app, directory: "/srv/{id}", upgrade: ["true"]}
rollouts:
  - {name: shop, waves: [1, 100%], bake: 1s}
"""


@pytest.fixture
def runner():
    return CliRunner()


@pytest.fixture
def config(tmp_path):
    path = tmp_path / "rollsafe.yaml"
    path.write_text(CONFIG, encoding="utf-8")
    return path


def rollsafe(runner, *args):
    return runner.invoke(main.app, list(args), catch_exceptions=False)


def open_one(config: Path) -> rollouts.Rollout:
    loaded = loading.load(config)
    with sql.open_store(loaded.state_dir) as store:
        assembly.sync_targets(loaded.config, store)
        return opening.open_rollout(
            config=loaded.config,
            store=store,
            plan_name="shop",
            actor="test",
            reason="test",
            clock=clocks.SystemClock(),
        )


def test_the_docs_example_is_a_valid_configuration(tmp_path):
    example = re.search(r"```yaml\n(.*?)```", DOCS.read_text(encoding="utf-8"), re.S)
    assert example is not None
    path = tmp_path / "rollsafe.yaml"
    path.write_text(example.group(1), encoding="utf-8")
    loaded = loading.load(path)
    plan = loaded.config.rollout("shop-api-1.5")
    spec = plans.build_spec(loaded.config, plan, [t.id for t in loaded.config.targets])
    assert [len(w.targets) for w in spec.waves] == [1, 1, 2]  # 10% of 4 adds nobody
    assert [w.bake for w in spec.waves] == [1800.0, 900.0, 900.0]


def test_an_unknown_plan_is_a_usage_error(runner, config):
    result = rollsafe(runner, "rollout", "start", "nope", "-c", str(config))
    assert result.exit_code == 2
    assert "unknown rollout plan 'nope' (known: shop)" in result.stderr


def test_a_second_rollout_is_refused(runner, config):
    first = open_one(config)
    result = rollsafe(runner, "rollout", "start", "shop", "-c", str(config))
    assert result.exit_code == 1
    assert f"rollout {first.id} of plan shop is still pending" in result.stderr


def test_status_of_a_stored_rollout(runner, config):
    first = open_one(config)
    result = rollsafe(runner, "rollout", "status", "-c", str(config), "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["rollout"]["id"] == first.id
    assert summary["rollout"]["state"] == "pending"
    assert [w["outcome"] for w in summary["waves"]] == ["not started", "not started"]
    assert [t["target"] for t in summary["targets"]] == ["web-1", "web-2"]
    assert summary["budget"] == {
        "overall": {"max_failures": 0, "max_failure_ratio": None},
        "planned": 2,
        "allowed_failures": 0,
        "failures": 0,
    }
    table = rollsafe(runner, "rollout", "status", "-c", str(config))
    assert f"rollout {first.id} (plan shop): pending" in table.stdout
    listed = rollsafe(runner, "rollout", "list", "-c", str(config), "--json")
    assert [r["id"] for r in json.loads(listed.stdout)] == [first.id]


def test_pause_records_the_request_and_refuses_an_ended_rollout(runner, config, tmp_path):
    first = open_one(config)
    result = rollsafe(runner, "rollout", "pause", "-c", str(config), "--reason", "lunch")
    assert result.exit_code == 0, result.output
    with sql.open_store(tmp_path / "state") as store:
        assert store.get_rollout(first.id).desired is rollouts.Desired.PAUSE
        events = [e.entry for e in store.list_audit_events()]
        assert events[-1].action == "rollout.pause_requested"
        assert events[-1].reason == "lunch"
        store.save_rollout(first.moved(rollouts.RolloutState.HALTED, at=1.0, reason="x"))
    ended = rollsafe(runner, "rollout", "pause", "-c", str(config))
    assert ended.exit_code == 1
    assert "ended halted: nothing to pause" in ended.stderr


def test_status_without_any_rollout(runner, config, tmp_path):
    sql.open_store(tmp_path / "state").close()  # a store (read commands never create one)
    result = rollsafe(runner, "rollout", "status", "-c", str(config))
    assert result.exit_code == 2
    assert "no rollout in the store" in result.stderr


def test_unpin(runner, config, tmp_path):
    open_one(config)
    with sql.open_store(tmp_path / "state") as store:
        store.set_pin("web-1", reason="rolled back by ro-1")
    listed = rollsafe(runner, "target", "list", "-c", str(config), "--json")
    pins = {t["id"]: t["pin_reason"] for t in json.loads(listed.stdout) if t["pinned"]}
    assert pins == {"web-1": "rolled back by ro-1"}

    result = rollsafe(runner, "target", "unpin", "web-1", "--reason", "fixed", "-c", str(config))
    assert result.exit_code == 0, result.output
    assert "web-1 unpinned" in result.stdout
    again = rollsafe(runner, "target", "unpin", "web-1", "--reason", "x", "-c", str(config))
    assert "not pinned: nothing to do" in again.stdout
    with sql.open_store(tmp_path / "state") as store:
        assert not any(r.pinned for r in store.list_targets())
        last = list(store.list_audit_events())[-1].entry
        assert last.action == "target.unpinned"
        assert last.details["was"] == "rolled back by ro-1"
    unknown = rollsafe(runner, "target", "unpin", "web-9", "--reason", "x", "-c", str(config))
    assert unknown.exit_code == 2
