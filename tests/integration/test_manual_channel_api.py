"""The manual channel through the API (what the dashboard's button calls): ``force`` goes past
a quarantine, audited as forced; a restore point that is not the target's writes nothing."""

from __future__ import annotations

import pytest
from approvals_setup import Controller, bearer

from rollsafe.domain import ids


@pytest.fixture
async def controller(tmp_path):
    c = Controller(tmp_path)
    yield c
    await c.close()


async def test_force_goes_past_a_quarantine(controller):
    await controller.checkpoint("web-2")
    controller.store.set_quarantine(ids.TargetId("web-2"), reason="run-1 failed")
    path = "/api/v1/targets/web-2/rollback"

    plain = await controller.client.post(
        path, json={"reason": "still broken"}, headers=bearer("operator")
    )
    assert plain.status_code == 202, plain.text
    assert plain.json()["state"] == "blocked"

    forced = await controller.client.post(
        path, json={"reason": "still broken", "force": True}, headers=bearer("operator")
    )
    assert forced.status_code == 202, forced.text
    run = forced.json()
    assert run["state"] == "pending"
    [opened] = [
        e.entry
        for e in controller.store.list_audit_events()
        if e.entry.run_id == run["id"] and e.entry.action == "run.opened"
    ]
    assert (opened.actor, opened.result) == ("api:oscar", "forced")
    assert "run-1 failed" in opened.details["forced_past"]["quarantine"]


async def test_an_unknown_restore_point_is_refused_and_writes_nothing(controller):
    await controller.checkpoint("web-2")
    head = controller.store.audit_head()
    answer = await controller.client.post(
        "/api/v1/targets/web-2/rollback",
        json={"reason": "x", "restore_point": "rp-typo"},
        headers=bearer("operator"),
    )
    assert answer.status_code == 404
    assert "no restore point 'rp-typo'" in answer.json()["error"]
    assert controller.store.list_runs(target="web-2") == []
    assert controller.store.audit_head() == head
