"""What the dashboard's views read: the fleet state after a rollback, judged series, the
filtered and paged audit and runs, restore points and upgrades (``views_routes``)."""

from __future__ import annotations

import pytest
from approvals_setup import Controller, bearer, make_config

from rollsafe.domain import ids, runs, verdicts

RULES = {
    "probes": [{"name": "http", "kind": "http", "url": "http://127.0.0.1:9/"}],
    "rules": [
        {"id": "http-5xx", "kind": "threshold", "probe": "http", "field": "status", "op": ">=",
         "value": 500, "severity": "critical"},
        {"id": "errors", "kind": "ratio", "probe": "http", "when": {"field": "status", "op": ">=",
         "value": 500}, "above": 0.2, "severity": "warning"},
    ],
}  # fmt: skip


@pytest.fixture
async def controller(tmp_path):
    c = Controller(tmp_path, make_config(top=RULES))
    yield c
    await c.close()


def _decision(c: Controller, rule: str, severity: str, *, at: float, **evidence) -> None:
    c.store.add_decisions(
        [
            verdicts.Decision(
                time=at,
                target=ids.TargetId("web-1"),
                rule=ids.RuleId(rule),
                severity=verdicts.Severity.parse(severity),
                summary=f"{rule} is {severity}",
                evidence=evidence,
            )
        ]
    )


async def _rolled_back(c: Controller) -> runs.RollbackRun:
    """web-1 judged critical, then its rollback approved through the API and verified."""
    _decision(c, "http-5xx", "critical", at=c.clock.now(), kind="threshold")
    run, task = await c.waiting_run("web-1")
    c.clock.advance(5)
    answer = await c.client.post(
        f"/api/v1/runs/{run.id}/approve", json={"reason": "go"}, headers=bearer("operator")
    )
    assert answer.status_code == 200
    await task
    done = c.store.get_run(run.id)
    assert done.state is runs.RunState.SUCCEEDED
    return done


async def test_a_target_after_its_verified_rollback_is_recovered_not_critical(controller):
    await _rolled_back(controller)
    fleet = (await controller.client.get("/api/v1/fleet", headers=bearer("viewer"))).json()
    states = {t["id"]: t["state"] for t in fleet["targets"]}
    assert states["web-1"] == "recovered"


async def test_a_new_critical_decision_after_the_rollback_counts_again(controller):
    done = await _rolled_back(controller)
    _decision(controller, "http-5xx", "critical", at=done.updated_at + 1, kind="threshold")
    fleet = (await controller.client.get("/api/v1/fleet", headers=bearer("viewer"))).json()
    states = {t["id"]: t["state"] for t in fleet["targets"]}
    assert states["web-1"] == "critical"
