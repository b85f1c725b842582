"""A whole controller (daemon + API): a failing target, a chat message with a signed link,
a person's click, the rollback, the success message.

Real parts: a local HTTP service whose health is a file inside the target's directory, the
local driver restoring that directory, the SQLite store, the API on a loopback port, a local
webhook receiver standing in for the chat channel.
"""

from __future__ import annotations

import asyncio
import json
import socket
import textwrap
import urllib.parse

import aiohttp
import pytest
from aiohttp import web

from rollsafe.config import loading
from rollsafe.domain import clocks, ids, runs
from rollsafe.interfaces.api import hosting
from rollsafe.runtime import assembly, daemon
from rollsafe.storage import sql
from rollsafe.verify import checkpoints

LINK_KEY = "end-to-end-link-key-0123456789"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Inbox:
    """The chat channel: a webhook receiver that keeps every message."""

    def __init__(self) -> None:
        self.messages: list[dict] = []
        self.arrived = asyncio.Event()

    async def handle(self, request: web.Request) -> web.Response:
        self.messages.append(json.loads(await request.read()))
        self.arrived.set()
        return web.Response(status=204)

    async def message(self, event: str, *, timeout: float = 30.0) -> dict:
        async with asyncio.timeout(timeout):
            while True:
                for message in self.messages:
                    if message["event"] == event:
                        return message
                self.arrived.clear()
                await self.arrived.wait()


async def _serve(app: web.Application) -> tuple[web.AppRunner, int]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, site._server.sockets[0].getsockname()[1]


@pytest.fixture
async def service(tmp_path):
    """The target's service: healthy while ``srv/web-1/healthy`` exists."""
    live = tmp_path / "srv" / "web-1"
    live.mkdir(parents=True)
    (live / "healthy").write_text("yes\n")
    (live / "app.conf").write_text("workers = 4\n")

    async def health(request: web.Request) -> web.Response:
        return web.Response(status=200 if (live / "healthy").exists() else 500)

    app = web.Application()
    app.router.add_get("/health", health)
    runner, port = await _serve(app)
    yield live, port
    await runner.cleanup()


@pytest.fixture
async def inbox():
    box = Inbox()
    app = web.Application()
    app.router.add_post("/hook", box.handle)
    runner, port = await _serve(app)
    box.url = f"http://127.0.0.1:{port}/hook"
    yield box
    await runner.cleanup()


async def test_a_failing_target_is_rolled_back_after_a_click_on_the_chat_link(
    tmp_path, service, inbox, monkeypatch
):
    live, service_port = service
    api_port = _free_port()
    monkeypatch.setenv("ROLLSAFE_LINK_KEY", LINK_KEY)
    config_path = tmp_path / "rollsafe.yaml"
    config_path.write_text(
        textwrap.dedent(
            f"""
            state_dir: state
            server: {{address: 127.0.0.1, port: {api_port}}}
            access:
              link_key_env: ROLLSAFE_LINK_KEY
              public_url: http://127.0.0.1:{api_port}
            policy:
              approval: unless_rejected
              approval_timeout: 10m
              verify_timeout: 20s
            targets:
              - id: web-1
                driver: files
                vars: {{port: {service_port}, root: "{tmp_path / "srv"}"}}
            probes:
              - name: http
                kind: http
                url: "http://127.0.0.1:{{port}}/health"
                expect_status: [200]
                interval: 200ms
                timeout: 2s
            rules:
              - id: http-5xx
                kind: threshold
                probe: http
                field: status
                op: ">="
                value: 500
                consecutive: 2
                severity: critical
            drivers:
              - kind: local
                name: files
                directory: "{{root}}/{{id}}"
            notifiers:
              - kind: webhook
                name: chat
                url: {inbox.url}
                min_severity: warning
            """
        )
    )
    loaded = loading.load(config_path)
    with sql.open_store(loaded.state_dir) as store:
        drivers = assembly.build_drivers(loaded.config, loaded.state_dir)
        await checkpoints.take_checkpoint(
            config=loaded.config, target_id="web-1", store=store, driver=drivers["files"],
            clock=clocks.SystemClock(), actor="test",
        )  # fmt: skip

    controller = daemon.Daemon(loaded)
    stop = asyncio.Event()
    listening = asyncio.Event()
    running = asyncio.create_task(
        hosting.run_controller(controller, stop, listening=lambda host, port: listening.set())
    )
    try:
        await asyncio.wait_for(listening.wait(), 30)
        (live / "healthy").unlink()  # the bad upgrade
        (live / "app.conf").write_text("workers = broken\n")

        announced = await inbox.message("run.announced")
        assert announced["awaiting_approval"] is True
        assert announced["target"] == "web-1"
        assert announced["title"] == "web-1: rollback waits for approval (http-5xx)"
        approve_url = announced["links"]["approve"]
        assert approve_url.startswith(f"http://127.0.0.1:{api_port}/links/{announced['run_id']}/")
        assert announced["links"]["dashboard"].endswith(f"#run={announced['run_id']}")

        async with aiohttp.ClientSession() as session:
            async with session.get(approve_url) as page:  # what the person sees first
                assert page.status == 200
                assert "Approve the rollback" in await page.text()
            token = urllib.parse.parse_qs(urllib.parse.urlsplit(approve_url).query)["token"][0]
            async with session.post(
                approve_url.split("?")[0], data={"token": token, "name": "Alice"}
            ) as done:
                assert done.status == 200, await done.text()

        started = await inbox.message("run.started")
        assert started["text"] == "approved by link:Alice"
        succeeded = await inbox.message("run.succeeded")
        assert succeeded["run_id"] == announced["run_id"]
    finally:
        stop.set()
        await asyncio.wait_for(running, 30)

    assert (live / "healthy").exists()
    assert (live / "app.conf").read_text() == "workers = 4\n"
    with sql.open_store(loaded.state_dir) as store:
        run = store.get_run(ids.RunId(announced["run_id"]))
        assert run.state is runs.RunState.SUCCEEDED
        assert run.approval.decided_by == "link:Alice"
    events = [m["event"] for m in inbox.messages]
    assert (
        events.index("run.announced") < events.index("run.started") < events.index("run.succeeded")
    )
