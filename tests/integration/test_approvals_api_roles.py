"""The API's roles: every write endpoint checks the token's role; reads need a token.

Real app, real SQLite store, a FakeDriver executor in the test's event loop.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from approvals_setup import TOKENS, Controller, bearer, make_config

from rollsafe.domain import errors, runs
from rollsafe.interfaces.api import app as api_app
from rollsafe.interfaces.api import roles
from rollsafe.storage import sql

# Every POST under /api/v1 and the role it needs. The test below fails when a write endpoint
# is added without being listed here, so none can slip through unchecked.
WRITES = {
    "/api/v1/runs/{run_id}/approve": "operator",
    "/api/v1/runs/{run_id}/reject": "operator",
    "/api/v1/targets/{target}/rollback": "operator",
    "/api/v1/targets/{target}/release": "admin",
    "/api/v1/targets/{target}/upgrades": "operator",
    "/api/v1/breaker/reset": "operator",
}
BODIES = {
    "/api/v1/runs/{run_id}/approve": {"reason": "go"},
    "/api/v1/runs/{run_id}/reject": {"reason": "no"},
    "/api/v1/targets/{target}/rollback": {"reason": "by hand"},
    "/api/v1/targets/{target}/release": {"reason": "fixed"},
    "/api/v1/targets/{target}/upgrades": {"note": "apt"},
    "/api/v1/breaker/reset": {"reason": "checked"},
}


@pytest.fixture
async def controller(tmp_path):
    c = Controller(tmp_path)
    yield c
    await c.close()


def _path(template: str) -> str:
    return template.replace("{run_id}", "run-nope").replace("{target}", "web-2")


def test_the_list_of_write_endpoints_is_complete(tmp_path):
    with sql.open_store(tmp_path) as store:
        app = api_app.create_app(
            make_config(), store=store, environ=TOKENS | {"LINK_KEY": "x" * 20}
        )
    found = {
        path
        for path, operations in app.openapi()["paths"].items()
        if path.startswith("/api/") and set(operations) - {"get", "head"}
    }
    assert found == set(WRITES)


@pytest.mark.parametrize("template", sorted(WRITES))
async def test_every_write_refuses_no_token_a_bad_token_and_a_role_too_low(controller, template):
    path, body = _path(template), BODIES[template]
    missing = await controller.client.post(path, json=body)
    assert missing.status_code == 401
    assert missing.headers["WWW-Authenticate"] == "Bearer"
    wrong = await controller.client.post(path, json=body, headers={"Authorization": "Bearer x"})
    assert wrong.status_code == 401
    basic = await controller.client.post(path, json=body, headers={"Authorization": "Basic eDp5"})
    assert basic.status_code == 401
    needed = roles.RANKS[WRITES[template]]
    for role, rank in roles.RANKS.items():
        answer = await controller.client.post(path, json=body, headers=bearer(role))
        if rank < needed:
            assert answer.status_code == 403, (role, answer.text)
            assert "needs" in answer.json()["error"]
        else:
            assert answer.status_code not in (401, 403), (role, answer.text)
    # Nothing a refused request asked for happened.
    assert controller.store.list_runs(limit=100) == [] or template.endswith("rollback")


async def test_refused_writes_change_nothing(controller):
    run, task = await controller.waiting_run()
    viewer = await controller.client.post(
        f"/api/v1/runs/{run.id}/approve", json={"reason": "go"}, headers=bearer("viewer")
    )
    assert viewer.status_code == 403
    assert controller.store.get_run(run.id).approval.decision is None
    rollback = await controller.client.post(
        "/api/v1/targets/web-2/rollback", json={"reason": "x"}, headers=bearer("viewer")
    )
    assert rollback.status_code == 403
    assert controller.store.list_runs(target="web-2") == []
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_reads_need_a_token_of_any_role(controller):
    for path in ("/api/v1/fleet", "/api/v1/runs", "/api/v1/audit", "/api/v1/rollouts",
                 "/api/v1/whoami", "/api/v1/targets/web-1/signals"):  # fmt: skip
        assert (await controller.client.get(path)).status_code == 401
        answer = await controller.client.get(path, headers=bearer("viewer"))
        assert answer.status_code == 200, (path, answer.text)
    me = await controller.client.get("/api/v1/whoami", headers=bearer("operator"))
    assert me.json() == {"name": "oscar", "role": "operator", "actor": "api:oscar"}


async def test_an_operator_approves_and_the_audit_names_them(controller):
    run, task = await controller.waiting_run()
    answer = await controller.client.post(
        f"/api/v1/runs/{run.id}/approve",
        json={"reason": "looked at the graphs", "via": "dashboard"},
        headers=bearer("operator"),
    )
    assert answer.status_code == 200, answer.text
    done = await asyncio.wait_for(task, 10)
    assert done.state is runs.RunState.SUCCEEDED
    [approved] = [
        e.entry for e in controller.store.list_audit_events() if e.entry.action == "run.approved"
    ]
    assert (approved.actor, approved.reason) == ("api:oscar", "looked at the graphs")
    assert approved.details["via"] == "dashboard"
    # Deciding again is a conflict, not a second decision.
    again = await controller.client.post(
        f"/api/v1/runs/{run.id}/reject", json={"reason": "late"}, headers=bearer("admin")
    )
    assert again.status_code == 409


async def test_a_rejection_needs_a_reason(controller):
    run, task = await controller.waiting_run()
    answer = await controller.client.post(
        f"/api/v1/runs/{run.id}/reject", json={"reason": "  "}, headers=bearer("operator")
    )
    assert answer.status_code == 400
    answer = await controller.client.post(
        f"/api/v1/runs/{run.id}/reject", json={"reason": "deploy in progress"},
        headers=bearer("operator"),
    )  # fmt: skip
    assert answer.status_code == 200
    assert (await asyncio.wait_for(task, 10)).state is runs.RunState.REJECTED


async def test_an_operator_starts_a_manual_rollback_an_admin_releases_a_quarantine(controller):
    await controller.checkpoint("web-2")
    answer = await controller.client.post(
        "/api/v1/targets/web-2/rollback", json={"reason": "customers report errors"},
        headers=bearer("operator"),
    )  # fmt: skip
    assert answer.status_code == 202, answer.text
    run = answer.json()
    assert (run["trigger"], run["actor"]) == ("manual:api", "api:oscar")
    assert run["approval"]["decided_by"] == "api:oscar"  # a person's request is its approval
    unknown = await controller.client.post(
        "/api/v1/targets/nope/rollback", json={"reason": "x"}, headers=bearer("operator")
    )
    assert unknown.status_code == 404

    controller.store.set_quarantine("web-1", reason="run failed")
    answer = await controller.client.post(
        "/api/v1/targets/web-1/release", json={"reason": "fixed by hand"}, headers=bearer("admin")
    )
    assert answer.json() == {"target": "web-1", "quarantined": False, "changed": True}
    [released] = [
        e.entry for e in controller.store.list_audit_events() if e.entry.action == "target.released"
    ]
    assert released.actor == "api:ada"


async def test_without_tokens_configured_everything_is_refused(tmp_path):
    config = make_config()
    bare = config.model_copy(update={"access": config.access.model_copy(update={"tokens": []})})
    c = Controller(tmp_path, bare)
    try:
        answer = await c.client.get("/api/v1/fleet", headers=bearer("admin"))
        assert answer.status_code == 401
        assert "no API tokens are configured" in answer.json()["error"]
    finally:
        await c.close()


def test_tokens_come_from_files_and_a_missing_one_stops_the_start(tmp_path):
    (tmp_path / "ops.token").write_text("file-token-0123456789\n")
    config = make_config()
    access = config.access.model_copy(
        update={
            "tokens": [
                config.access.tokens[0].model_copy(
                    update={"token_env": None, "token_file": Path("ops.token")}
                )
            ]
        }
    )
    tokens = roles.Tokens.from_config(access, base_dir=tmp_path, environ={})
    assert tokens.identify("file-token-0123456789").name == "vera"
    assert tokens.identify("file-token-012345678") is None
    with pytest.raises(errors.ConfigError, match="VIEWER_TOKEN"):
        roles.Tokens.from_config(config.access, base_dir=tmp_path, environ={})
