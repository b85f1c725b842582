"""Signed one-time links against the real app: look without acting, act once, refuse the rest."""

from __future__ import annotations

import asyncio
import urllib.parse

import pytest
from approvals_setup import LINK_KEY, Controller

from rollsafe.domain import runs
from rollsafe.notify import links


@pytest.fixture
async def controller(tmp_path):
    c = Controller(tmp_path)
    yield c
    await c.close()


def _maker(controller: Controller) -> links.LinkMaker:
    return links.LinkMaker(LINK_KEY.encode(), public_url="http://rollsafe.test", ttl=3600)


def _parts(url: str) -> tuple[str, str]:
    parsed = urllib.parse.urlsplit(url)
    return parsed.path, urllib.parse.parse_qs(parsed.query)["token"][0]


async def _use(controller, url, **form):
    path, token = _parts(url)
    return await controller.client.post(path, data={"token": token, **form})


async def test_opening_a_link_shows_the_run_and_changes_nothing(controller):
    run, task = await controller.waiting_run()
    url = _maker(controller).url(run.id, "approve", now=controller.clock.now())
    for _ in range(3):  # chat previews and mail scanners open links by themselves
        page = await controller.client.get(url.removeprefix("http://rollsafe.test"))
        assert page.status_code == 200
        assert "Approve the rollback" in page.text
        assert "5xx ratio 0.4" in page.text
        assert page.headers["Referrer-Policy"] == "no-referrer"
        assert page.headers["Cache-Control"] == "no-store"
    assert controller.store.get_run(run.id).approval.decision is None
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_a_link_approves_once_and_names_the_person(controller):
    run, task = await controller.waiting_run()
    url = _maker(controller).url(run.id, "approve", now=controller.clock.now())
    answer = await _use(controller, url, name="Alice Example")
    assert answer.status_code == 200, answer.text
    assert "approved" in answer.text
    done = await asyncio.wait_for(task, 10)
    assert done.state is runs.RunState.SUCCEEDED
    [approved] = [
        e.entry for e in controller.store.list_audit_events() if e.entry.action == "run.approved"
    ]
    assert approved.actor == "link:Alice Example"
    assert approved.details["via"] == "link"
    claim = links.verify(LINK_KEY.encode(), _parts(url)[1], run_id=run.id, action="approve",
                         now=controller.clock.now())  # fmt: skip
    assert approved.details["link"] == claim.nonce
    # The same link again: refused, nothing else happens.
    again = await _use(controller, url, name="Mallory")
    assert again.status_code == 409
    assert (
        len([e for e in controller.store.list_audit_events() if e.entry.actor == "link:Mallory"])
        == 0
    )


async def test_a_link_used_elsewhere_is_refused_while_the_run_still_waits(controller):
    run, task = await controller.waiting_run()
    url = _maker(controller).url(run.id, "approve", now=controller.clock.now())
    claim = links.verify(LINK_KEY.encode(), _parts(url)[1], run_id=run.id, action="approve",
                         now=controller.clock.now())  # fmt: skip
    # Another replica (or a double click racing) recorded this link as used first.
    assert controller.store.use_link(
        claim.nonce, run_id=run.id, action="approve", used_by="x", at=0
    )
    answer = await _use(controller, url, name="Alice")
    assert answer.status_code == 409
    assert "already used" in answer.text
    assert controller.store.get_run(run.id).state is runs.RunState.AWAITING_APPROVAL
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_an_expired_link_does_nothing(controller):
    run, task = await controller.waiting_run()
    maker = links.LinkMaker(LINK_KEY.encode(), public_url="http://rollsafe.test", ttl=60)
    url = maker.url(run.id, "approve", now=controller.clock.now())
    controller.clock.advance(61)
    answer = await _use(controller, url, name="Alice")
    assert answer.status_code == 410
    assert "expired" in answer.text
    page = await controller.client.get(url.removeprefix("http://rollsafe.test"))
    assert page.status_code == 410
    assert controller.store.get_run(run.id).approval.decision is None
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_a_link_for_another_run_or_action_or_forged_does_nothing(controller):
    run, task = await controller.waiting_run("web-1")
    other, other_task = await controller.waiting_run("web-2")
    maker = _maker(controller)
    approve_web1 = maker.url(run.id, "approve", now=controller.clock.now())
    _, token = _parts(approve_web1)
    wrong_run = await controller.client.post(
        f"/links/{other.id}/approve", data={"token": token, "name": "Alice"}
    )
    assert wrong_run.status_code == 403
    assert "another run" in wrong_run.text
    wrong_action = await controller.client.post(
        f"/links/{run.id}/reject", data={"token": token, "name": "Alice", "reason": "x"}
    )
    assert wrong_action.status_code == 403
    body, _, signature = token.partition(".")
    forged = body[:-2] + ("AA" if body[-2:] != "AA" else "BB") + "." + signature
    tampered = await controller.client.post(
        f"/links/{run.id}/approve", data={"token": forged, "name": "Alice"}
    )
    assert tampered.status_code == 403
    for r in (run, other):
        assert controller.store.get_run(r.id).approval.decision is None
    for t in (task, other_task):
        t.cancel()
    await asyncio.gather(task, other_task, return_exceptions=True)


async def test_a_reject_link_needs_a_name_and_a_reason(controller):
    run, task = await controller.waiting_run()
    url = _maker(controller).url(run.id, "reject", now=controller.clock.now())
    assert (await _use(controller, url, name="", reason="x")).status_code == 400
    assert (await _use(controller, url, name="Bob", reason="")).status_code == 400
    answer = await _use(controller, url, name="Bob", reason="planned maintenance")
    assert answer.status_code == 200
    done = await asyncio.wait_for(task, 10)
    assert done.state is runs.RunState.REJECTED
    assert done.error == "rejected by link:Bob: planned maintenance"
