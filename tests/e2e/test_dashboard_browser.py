"""The dashboard in a real headless Chromium: a failing target, a pending rollback approved by
a click, the rollback watched until it succeeded. Takes a screenshot; with
``ROLLSAFE_REFRESH_SCREENSHOT=1`` it replaces ``docs/dashboard.png`` (otherwise a test run
leaves the working tree as it found it).

Everything is real: the controller (daemon + API) on a loopback port, a local HTTP service
whose health is a file inside its directory, the local driver restoring that directory, the
SQLite store, Debian's Chromium at /usr/bin/chromium driven by Playwright (never
``playwright install``: no browser is downloaded).
"""

from __future__ import annotations

import asyncio
import os
import socket
import textwrap
from pathlib import Path

import pytest
from aiohttp import web
from playwright import async_api as playwright_api

from rollsafe.config import loading
from rollsafe.domain import clocks, ids, observations, runs
from rollsafe.interfaces.api import hosting
from rollsafe.runtime import assembly, daemon
from rollsafe.storage import sql
from rollsafe.verify import checkpoints

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = pytest.mark.requires("chromium")

DOCS_SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "dashboard.png"
OPERATOR_TOKEN = "operator-token-for-the-browser-test"
TARGETS = ("web-1", "web-2", "web-3")
BROWSER_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
WAIT_MS = 60_000


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
async def fleet(tmp_path):
    """Three services, each healthy while ``srv/<id>/healthy`` exists; slow-ish on purpose."""
    root = tmp_path / "srv"
    for target in TARGETS:
        (root / target).mkdir(parents=True)
        (root / target / "healthy").write_text("yes\n")
        (root / target / "release").write_text("v1\n")

    async def health(request: web.Request) -> web.Response:
        target = request.match_info["target"]
        await asyncio.sleep(0.02 if target == "web-2" else 0.005)
        ok = (root / target / "healthy").exists()
        return web.Response(status=200 if ok else 500, text="ok" if ok else "boom")

    app = web.Application()
    app.router.add_get("/{target}/health", health)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield root, site._server.sockets[0].getsockname()[1]
    await runner.cleanup()


def _config(tmp_path: Path, *, root: Path, service_port: int, api_port: int) -> Path:
    targets = "\n".join(
        f'  - {{id: {t}, driver: files, labels: {{role: web}}, vars: {{root: "{root}"}}}}'
        for t in TARGETS
    )
    path = tmp_path / "rollsafe.yaml"
    path.write_text(
        textwrap.dedent(
            f"""\
            state_dir: state
            server: {{address: 127.0.0.1, port: {api_port}}}
            access:
              tokens:
                - {{name: oscar, role: operator, token_env: ROLLSAFE_TEST_OPERATOR}}
            policy:
              approval: require_approval
              approval_timeout: 10m
              verify_timeout: 20s
            """
        )
        + "targets:\n"
        + targets
        + "\n"
        + textwrap.dedent(
            f"""\
            probes:
              - name: http
                kind: http
                url: "http://127.0.0.1:{service_port}/{{id}}/health"
                interval: 250ms
                timeout: 2s
            rules:
              - id: http-5xx
                kind: threshold
                probe: http
                field: status
                op: ">="
                value: 500
                consecutive: 3
                severity: critical
                description: the service answers 5xx
              - id: slow
                kind: threshold
                probe: http
                field: latency
                op: ">"
                value: 0.5
                consecutive: 3
                severity: warning
            drivers:
              - kind: local
                name: files
                directory: "{{root}}/{{id}}"
            """
        )
    )
    return path


async def _checkpoint_all(loaded: loading.LoadedConfig) -> None:
    with sql.open_store(loaded.state_dir) as store:
        driver = assembly.build_drivers(loaded.config, loaded.state_dir)["files"]
        for target in TARGETS:
            await checkpoints.take_checkpoint(
                config=loaded.config,
                target_id=target,
                store=store,
                driver=driver,
                clock=clocks.SystemClock(),
                actor="test",
            )


async def _approve_in_the_dashboard(
    page, base: str, controller: daemon.Daemon, screenshot: Path
) -> str:
    """Sign in, see web-1 failing, approve its rollback, watch it succeed, take the screenshot."""
    await page.goto(f"{base}/dashboard/")
    await page.fill("#token", OPERATOR_TOKEN)
    await page.click("#signin-form button[type=submit]")
    await page.wait_for_selector("#who:has-text('oscar (operator)')")

    # The failing target shows up, with the evidence of why.
    row = page.locator('#fleet tr[data-target="web-1"]')
    await row.locator(".badge", has_text="awaiting approval").wait_for(timeout=WAIT_MS)
    assert "http-5xx" in await row.locator(".evidence").inner_text()
    assert await page.locator('#fleet tr[data-target="web-2"] .badge').inner_text() == "ok"

    # Its chart: the status signal with the rule's threshold and the upgrade mark.
    await row.click()
    chart = page.locator('svg.chart[data-source="http"][data-field="status"]')
    await chart.wait_for(timeout=WAIT_MS)
    assert await chart.locator("line.threshold").count() == 1
    assert await chart.locator("line.mark-upgrade").count() == 1

    # The pending rollback: approve it, with a reason.
    approve = page.locator("#open-runs button[data-action=approve]")
    await approve.wait_for(timeout=WAIT_MS)
    run_id = await approve.get_attribute("data-run")
    waiting = controller.store.get_run(ids.RunId(run_id))
    assert waiting.state is runs.RunState.AWAITING_APPROVAL
    await page.fill(f'#open-runs input.reason[data-run="{run_id}"]', "5xx after v2")
    await approve.click()

    # Watch it succeed, and the target shown as recovered (not critical) after it.
    done = page.locator(f'#past-runs tr[data-run="{run_id}"] .badge')
    await done.filter(has_text="succeeded").wait_for(timeout=WAIT_MS)
    await row.locator(".badge", has_text="recovered").wait_for(timeout=WAIT_MS)

    # The run's timeline names the person who approved it.
    await page.locator(f'#past-runs tr[data-run="{run_id}"]').click()
    await page.wait_for_selector(f"#detail-title:has-text('Run {run_id}')")
    timeline = await page.locator("#detail .timeline").inner_text()
    assert "run.approved api:oscar" in timeline
    assert "run.succeeded" in timeline

    # The screenshot for docs/: the target's charts around the upgrade and the rollback.
    await row.click()
    rollback_mark = page.locator("#detail svg.chart line.mark-rollback").first
    await rollback_mark.wait_for(state="attached", timeout=WAIT_MS)
    await page.screenshot(path=str(screenshot), full_page=True)
    if os.environ.get("ROLLSAFE_REFRESH_SCREENSHOT") == "1":
        DOCS_SCREENSHOT.write_bytes(screenshot.read_bytes())
    return run_id


async def test_a_person_approves_a_pending_rollback_and_watches_it_succeed(
    tmp_path, fleet, monkeypatch
):
    root, service_port = fleet
    api_port = _free_port()
    monkeypatch.setenv("ROLLSAFE_TEST_OPERATOR", OPERATOR_TOKEN)
    loaded = loading.load(
        _config(tmp_path, root=root, service_port=service_port, api_port=api_port)
    )
    await _checkpoint_all(loaded)
    controller = daemon.Daemon(loaded)
    stop = asyncio.Event()
    listening = asyncio.Event()
    running = asyncio.create_task(
        hosting.run_controller(controller, stop, listening=lambda host, port: listening.set())
    )
    base = f"http://127.0.0.1:{api_port}"
    try:
        await asyncio.wait_for(listening.wait(), 30)
        # Not waiting for an event: letting healthy history accumulate, for the chart.
        await asyncio.sleep(3)
        # The bad upgrade of web-1: marked on its timeline, then its service breaks.
        controller.store.add_observations(
            [
                observations.Observation(
                    time=clocks.SystemClock().now(),
                    target=ids.TargetId("web-1"),
                    source="mark:upgrade",
                    value=1.0,
                )
            ]
        )
        (root / "web-1" / "healthy").unlink()
        (root / "web-1" / "release").write_text("v2 (bad)\n")

        async with playwright_api.async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=BROWSER_ARGS)
            try:
                page = await browser.new_page(viewport={"width": 1440, "height": 1100})
                run_id = await _approve_in_the_dashboard(
                    page, base, controller, tmp_path / "dashboard.png"
                )
            finally:
                await browser.close()
    finally:
        stop.set()
        await asyncio.wait_for(running, 30)

    with sql.open_store(loaded.state_dir) as store:
        run = store.get_run(ids.RunId(run_id))
        assert run.state is runs.RunState.SUCCEEDED
        assert run.approval.decided_by == "api:oscar"
    assert (root / "web-1" / "healthy").exists()
    assert (root / "web-1" / "release").read_text() == "v1\n"
    assert (tmp_path / "dashboard.png").stat().st_size > 10_000
