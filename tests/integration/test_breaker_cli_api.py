"""``rollsafe breaker status|reset`` and ``/api/v1/breaker``: real store, real app, real CLI."""

from __future__ import annotations

import json

import pytest
from approvals_setup import Controller, bearer
from typer.testing import CliRunner

from rollsafe.config import models
from rollsafe.domain import ids, verdicts
from rollsafe.execute import breaker
from rollsafe.interfaces.cli import main
from rollsafe.storage import sql


def trip(store, now: float) -> None:
    """Two of the two configured targets critical: the breaker trips (min_targets 2)."""
    config = models.RollsafeConfig.model_validate(
        {
            "targets": [{"id": "web-1", "driver": "fake"}, {"id": "web-2", "driver": "fake"}],
            "policy": {"circuit_breaker": {"min_targets": 2}},
        }
    )
    store.add_decisions(
        [
            verdicts.Decision(
                time=now,
                target=ids.TargetId(t),
                rule=ids.RuleId("down"),
                severity=verdicts.Severity.CRITICAL,
                summary="down",
            )
            for t in ("web-1", "web-2")
        ]
    )
    state, entry = breaker.consider(store, config, now=now)
    assert state.open
    assert entry is not None


@pytest.fixture
async def controller(tmp_path):
    c = Controller(tmp_path)
    yield c
    await c.close()


async def test_api_shows_and_an_operator_resets(controller):
    closed = await controller.client.get("/api/v1/breaker", headers=bearer("viewer"))
    assert closed.status_code == 200
    assert closed.json()["open"] is False
    refused = await controller.client.post(
        "/api/v1/breaker/reset", json={"reason": "x"}, headers=bearer("operator")
    )
    assert refused.status_code == 409

    trip(controller.store, controller.clock.now())
    shown = (await controller.client.get("/api/v1/breaker", headers=bearer("viewer"))).json()
    assert shown["open"] is True
    assert shown["targets"] == ["web-1", "web-2"]

    viewer = await controller.client.post(
        "/api/v1/breaker/reset", json={"reason": "x"}, headers=bearer("viewer")
    )
    assert viewer.status_code == 403
    assert breaker.read(controller.store).open
    done = await controller.client.post(
        "/api/v1/breaker/reset", json={"reason": "probe outage fixed"}, headers=bearer("operator")
    )
    assert done.status_code == 200
    assert done.json()["open"] is False
    (entry,) = [
        e.entry for e in controller.store.list_audit_events() if e.entry.action == "breaker.reset"
    ]
    assert entry.actor == "api:oscar"
    assert entry.reason == "probe outage fixed"


def test_cli_status_and_reset(tmp_path):
    state_dir = tmp_path / "state"
    runner = CliRunner()
    sql.open_store(state_dir).close()  # an empty, migrated store
    closed = runner.invoke(main.app, ["breaker", "status", "--state-dir", str(state_dir)])
    assert closed.exit_code == 0, closed.output
    assert "closed" in closed.output

    with sql.open_store(state_dir) as store:
        trip(store, 1_700_000_000.0)
    shown = runner.invoke(main.app, ["breaker", "status", "--state-dir", str(state_dir), "--json"])
    assert shown.exit_code == 3
    assert json.loads(shown.output)["targets"] == ["web-1", "web-2"]

    reset = runner.invoke(
        main.app, ["breaker", "reset", "--reason", "dns fixed", "--state-dir", str(state_dir)]
    )
    assert reset.exit_code == 0, reset.output
    again = runner.invoke(
        main.app, ["breaker", "reset", "--reason", "again", "--state-dir", str(state_dir)]
    )
    assert again.exit_code == 1
    with sql.open_store(state_dir) as store:
        assert not breaker.read(store).open
        actions = [e.entry.action for e in store.list_audit_events()]
    assert actions.count("breaker.tripped") == 1
    assert actions.count("breaker.reset") == 1
