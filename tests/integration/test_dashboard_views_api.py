"""What the dashboard's views read: the fleet state after a rollback, judged series, the
filtered and paged audit and runs, restore points and upgrades (``views_routes``)."""

from __future__ import annotations

import pytest
from approvals_setup import Controller, bearer, make_config

from rollsafe.domain import audit_events, ids, observations, runs, verdicts

T1 = ids.TargetId("web-1")

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


# ---------------------------------------------------------------------------- views


async def test_judged_carries_each_rules_quantity_limit_baseline_and_markers(controller):
    now = controller.clock.now()
    controller.store.add_observations(
        [observations.Observation(time=now - 100, target=T1, source="mark:upgrade", value=1)]
    )
    _decision(controller, "errors", "ok", at=now - 90, kind="ratio", ratio=0.05, above=0.2,
              when="status >= 500")  # fmt: skip
    _decision(controller, "errors", "warning", at=now - 60, kind="ratio", ratio=0.4, above=0.2,
              when="status >= 500")  # fmt: skip
    _decision(controller, "lat", "critical", at=now - 30, kind="baseline", aggregate="mean",
              field="latency", current=0.9, baseline=0.2, max_increase=2.0)  # fmt: skip
    _decision(controller, "errors", "ok", at=now - 7200, kind="ratio", ratio=0.9, above=0.2)
    answer = await controller.client.get(
        "/api/v1/targets/web-1/judged?range=15m", headers=bearer("viewer")
    )
    assert answer.status_code == 200
    data = answer.json()
    assert data["until"] - data["since"] == 900
    by_rule = {r["rule"]: r for r in data["rules"]}
    # The 2 h old decision is outside the range.
    assert [p["value"] for p in by_rule["errors"]["points"]] == [0.05, 0.4]
    assert by_rule["errors"]["points"][1] | {"time": 0} == {
        "time": 0, "value": 0.4, "limit": 0.2, "baseline": None, "severity": "warning"
    }  # fmt: skip
    assert by_rule["errors"]["quantity"] == "share with status >= 500"
    [lat] = by_rule["lat"]["points"]
    assert (lat["value"], lat["baseline"], lat["limit"]) == (0.9, 0.2, 0.4)
    assert [d["severity"] for d in data["decisions"]] == ["ok", "warning", "critical"]
    assert data["marks"] == [{"time": now - 100, "name": "upgrade"}]


async def test_judged_refuses_bad_windows_and_unknown_targets(controller):
    get = controller.client.get
    for query, reason in [
        ("range=5y", "range must be one of"),
        ("range=1h&since=1", "either range or since"),
        ("since=100&until=50", "since is after until"),
        ("since=0&until=1000000000", "longer than 7 days"),
    ]:
        answer = await get(f"/api/v1/targets/web-1/judged?{query}", headers=bearer("viewer"))
        assert answer.status_code == 400, query
        assert reason in answer.json()["error"]
    answer = await get("/api/v1/targets/nope/judged", headers=bearer("viewer"))
    assert answer.status_code == 404
    assert (await get("/api/v1/targets/web-1/judged")).status_code == 401
    bad = {"Authorization": "Bearer not-a-token-at-all-really"}
    assert (await get("/api/v1/targets/web-1/judged", headers=bad)).status_code == 401


async def test_audit_view_filters_and_pages_newest_first(controller):
    start = controller.clock.now()
    for i in range(7):
        controller.store.append_audit(
            audit_events.AuditEntry(
                time=start + i, actor="test", action="probe.x" if i % 2 else "note.y",
                target="web-1" if i < 5 else "web-2", reason=f"event {i}",
            )
        )  # fmt: skip
    get = controller.client.get
    page = (await get("/api/v1/views/audit?target=web-1&limit=2", headers=bearer("viewer"))).json()
    assert page["total"] == 5
    assert [e["reason"] for e in page["events"]] == ["event 4", "event 3"]
    page = (
        await get("/api/v1/views/audit?target=web-1&limit=2&offset=4", headers=bearer("viewer"))
    ).json()
    assert [e["reason"] for e in page["events"]] == ["event 0"]
    page = (await get("/api/v1/views/audit?action=probe.", headers=bearer("viewer"))).json()
    assert [e["reason"] for e in page["events"]] == ["event 5", "event 3", "event 1"]
    page = (
        await get(
            f"/api/v1/views/audit?since={start + 2}&until={start + 3}", headers=bearer("viewer")
        )
    ).json()
    assert [e["reason"] for e in page["events"]] == ["event 3", "event 2"]
    for query in ("limit=0", "limit=201", "offset=-1", "since=9&until=1", "range=2d"):
        answer = await get(f"/api/v1/views/audit?{query}", headers=bearer("viewer"))
        assert 400 <= answer.status_code < 500, query
        assert answer.json().get("error") or answer.json().get("detail"), query
    assert (await get("/api/v1/views/audit")).status_code == 401


async def test_runs_view_filters_by_state_and_pages(controller):
    done = await _rolled_back(controller)
    get = controller.client.get
    page = (await get("/api/v1/views/runs?state=succeeded", headers=bearer("viewer"))).json()
    assert [r["id"] for r in page["runs"]] == [done.id]
    assert page["total"] == 1
    page = (await get("/api/v1/views/runs?state=failed", headers=bearer("viewer"))).json()
    assert page == {"total": 0, "offset": 0, "limit": 50, "runs": []}
    page = (await get("/api/v1/views/runs?target=web-2", headers=bearer("viewer"))).json()
    assert page["runs"] == []
    answer = await get("/api/v1/views/runs?state=exploded", headers=bearer("viewer"))
    assert answer.status_code == 400
    assert "state must be one of" in answer.json()["error"]
    assert (await get("/api/v1/views/runs?limit=1000", headers=bearer("viewer"))).status_code == 422
    assert (await get("/api/v1/views/runs")).status_code == 401


async def test_restore_points_name_the_runs_that_used_them_and_upgrade_versions(controller):
    done = await _rolled_back(controller)
    for version in ("1.0", "1.1"):
        controller.store.append_audit(
            audit_events.AuditEntry(
                time=controller.clock.now(), actor="cli:ann", action="upgrade.marked",
                target="web-1", reason=f"apt to {version}",
                details={"version": version, "packages": [
                    {"name": "openssl", "old": "3.0.11", "new": "3.0.13", "action": "upgrade"}
                ]},
            )
        )  # fmt: skip
    answer = await controller.client.get(
        "/api/v1/targets/web-1/restore-points", headers=bearer("viewer")
    )
    assert answer.status_code == 200
    data = answer.json()
    [point] = data["restore_points"]
    assert point["id"] == done.restore_point
    assert point["restored_by"] == [{"id": done.id, "state": "succeeded", "at": done.updated_at}]
    assert [(u["before"], u["after"]) for u in data["upgrades"]] == [("1.0", "1.1"), (None, "1.0")]
    assert data["upgrades"][0]["packages"] == [
        {"name": "openssl", "old": "3.0.11", "new": "3.0.13", "action": "upgrade"}
    ]
    assert data["upgrades"][0]["packages_total"] == 1
    missing = await controller.client.get(
        "/api/v1/targets/nope/restore-points", headers=bearer("viewer")
    )
    assert missing.status_code == 404
    assert (await controller.client.get("/api/v1/targets/web-1/restore-points")).status_code == 401


async def test_judged_without_a_range_spans_from_just_before_the_latest_upgrade(controller):
    now = controller.clock.now()
    controller.store.add_observations(
        [observations.Observation(time=now - 100, target=T1, source="mark:upgrade", value=1)]
    )
    _decision(controller, "errors", "ok", at=now - 7200, kind="ratio", ratio=0.9, above=0.2)
    _decision(controller, "errors", "critical", at=now - 60, kind="ratio", ratio=0.5, above=0.2)
    data = (
        await controller.client.get("/api/v1/targets/web-1/judged", headers=bearer("viewer"))
    ).json()
    # Not the whole last hour of a young upgrade: 30 s before the upgrade, to now.
    assert (data["since"], data["until"]) == (now - 130, now)
    [rule] = data["rules"]
    assert [p["value"] for p in rule["points"]] == [0.5]
