"""What the dashboard reads: the fleet's states and the signals around an upgrade."""

from __future__ import annotations

import asyncio

import pytest
from approvals_setup import Controller, bearer, make_config

from rollsafe.domain import ids, observations, verdicts

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


async def test_the_fleet_shows_each_targets_state_and_evidence(controller):
    run, task = await controller.waiting_run("web-1")
    controller.store.add_decisions(
        [
            verdicts.Decision(
                time=controller.clock.now(),
                target=ids.TargetId("web-2"),
                rule=ids.RuleId("blind:http"),
                severity=verdicts.Severity.WARNING,
                summary="detector blind: http failed 3 times",
            )
        ]
    )
    fleet = (await controller.client.get("/api/v1/fleet", headers=bearer("viewer"))).json()
    states = {t["id"]: t["state"] for t in fleet["targets"]}
    assert states == {"web-1": "awaiting_approval", "web-2": "blind"}
    web1 = next(t for t in fleet["targets"] if t["id"] == "web-1")
    assert web1["open_run"]["id"] == run.id
    assert web1["open_run"]["approval"]["deadline"] == controller.clock.now() + 600
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_signals_carry_the_series_thresholds_marks_and_decisions(controller):
    t = ids.TargetId("web-1")
    start = controller.clock.now()
    controller.store.add_observations(
        [
            observations.Observation(time=start - 7200, target=t, source="http", status=200),
            observations.Observation(time=start + 1, target=t, source="http", status=200, value=1),
            observations.Observation(time=start + 2, target=t, source="mark:upgrade", value=1),
            observations.Observation(time=start + 3, target=t, source="http", status=503, value=0),
            observations.Observation(time=start + 4, target=t, source="http", error="timeout"),
        ]
    )
    controller.store.add_decisions(
        [
            verdicts.Decision(
                time=start + 3, target=t, rule=ids.RuleId("http-5xx"),
                severity=verdicts.Severity.CRITICAL, summary="http status 503 >= 500",
            )
        ]
    )  # fmt: skip
    controller.clock.advance(10)
    answer = await controller.client.get("/api/v1/targets/web-1/signals", headers=bearer("viewer"))
    data = answer.json()
    # The window starts before the upgrade (at the first observation of it), not 2 h back.
    assert data["since"] == start + 1
    [series] = data["series"]
    assert [p["status"] for p in series["points"]] == [200, 503, None]
    assert series["points"][-1]["error"] == "timeout"
    assert data["marks"] == [{"time": start + 2, "name": "upgrade"}]
    assert [d["rule"] for d in data["decisions"]] == ["http-5xx"]
    by_rule = {x["rule"]: x for x in data["thresholds"]}
    assert (
        by_rule["http-5xx"]["field"],
        by_rule["http-5xx"]["op"],
        by_rule["http-5xx"]["value"],
    ) == ("status", ">=", 500)
    assert by_rule["errors"]["label"] == "status >= 500 in > 20% of 300s"


async def test_the_dashboard_page_is_served_without_a_token_and_loads_nothing_foreign(controller):
    page = await controller.client.get("/dashboard/")
    assert page.status_code == 200
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert 'src="/dashboard/app.js"' in page.text
    assert "http" not in page.text.replace("http-equiv", "")
    for name in ("app.js", "app.css"):
        assert (await controller.client.get(f"/dashboard/{name}")).status_code == 200
    assert (await controller.client.get("/dashboard/../../etc/passwd")).status_code == 404
    assert (await controller.client.get("/", follow_redirects=False)).headers[
        "location"
    ] == "/dashboard/"
