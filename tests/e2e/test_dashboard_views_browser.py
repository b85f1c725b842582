"""The dashboard's views in a real headless Chromium, over a store with history: what each rule
judged (ratio against its limit, a baseline with its band) with decision, upgrade and run
markers; the time range; restore points and versions; the runs history and audit trail with
filters and paging; the breaker's reset; a run's timeline by step.

The store is real (SQLite), filled by the real code paths: decisions and observations as the
judge stores them, a rollback run driven to success by the real executor over the fake driver,
the breaker tripped by ``breaker.consider``. The API is the real app served by uvicorn on a
loopback port; the browser is Debian's Chromium at /usr/bin/chromium (never ``playwright
install``). With ``ROLLSAFE_REFRESH_SCREENSHOT=1`` the screenshots replace
``docs/dashboard-judged.png`` and ``docs/dashboard-views.png``.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
from playwright import async_api as playwright_api

from rollsafe.config import models
from rollsafe.domain import audit_events, clocks, ids, observations, runs, verdicts
from rollsafe.execute import breaker
from rollsafe.execute import runs as executing
from rollsafe.interfaces.api import app as api_app
from rollsafe.interfaces.api import serving
from rollsafe.storage import sql
from rollsafe.testing import drivers
from rollsafe.verify import checkpoints

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = pytest.mark.requires("chromium")

DOCS = Path(__file__).resolve().parents[2] / "docs"
TOKEN = "operator-token-for-the-views-test"
BROWSER_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WAIT_MS = 30_000
T1 = ids.TargetId("web-1")


class Verified:
    async def verify(self, target, point):
        return executing.VerifyOutcome(ok=True, summary="healthy again", details={})


def _config() -> models.RollsafeConfig:
    return models.RollsafeConfig.model_validate(
        {
            "targets": [{"id": f"web-{i}", "driver": "fake"} for i in (1, 2, 3)],
            "policy": {
                "approval": "auto",
                "circuit_breaker": {"max_critical_share": 0.5, "min_targets": 2},
            },
            "probes": [{"name": "http", "kind": "http", "url": "http://127.0.0.1:9/"}],
            "rules": [
                {
                    "id": "errors",
                    "kind": "ratio",
                    "probe": "http",
                    "when": {"field": "status", "op": ">=", "value": 500},
                    "above": 0.2,
                    "severity": "critical",
                },
                {
                    "id": "errors-held",
                    "kind": "ratio",
                    "probe": "http",
                    "when": {"field": "status", "op": ">=", "value": 500},
                    "above": 0.5,
                    "severity": "critical",
                    "approval": "require_approval",
                },
                {
                    "id": "latency-vs-before",
                    "kind": "baseline",
                    "probe": "http",
                    "field": "latency",
                    "aggregate": "mean",
                    "max_increase": 2.0,
                    "severity": "warning",
                },
            ],
            "access": {"tokens": [{"name": "oscar", "role": "operator", "token_env": "TOKEN"}]},
        }
    )


def _decide(store, at: float, rule: str, severity: str, target=T1, **evidence) -> None:
    store.add_decisions(
        [
            verdicts.Decision(
                time=at, target=target, rule=ids.RuleId(rule),
                severity=verdicts.Severity.parse(severity),
                summary=f"{rule} {severity}", evidence=evidence,
            )
        ]
    )  # fmt: skip


async def _history(
    config: models.RollsafeConfig, store
) -> tuple[runs.RollbackRun, asyncio.Task[None]]:
    """An upgrade of web-1 that failed, judged and rolled back; a tripped breaker; 45 probes."""
    clock = clocks.SystemClock()
    now = clock.now()
    store.append_audit(
        audit_events.AuditEntry(
            time=now - 3 * 3600, actor="cli:ann", action="upgrade.marked", target="web-1",
            reason="apt: openssl", details={"version": "1.0"},
        )
    )  # fmt: skip
    store.append_audit(
        audit_events.AuditEntry(
            time=now - 1500, actor="cli:ann", action="upgrade.marked", target="web-1",
            reason="apt: openssl 3",
            details={"version": "1.1", "packages": [
                {"name": "openssl", "old": "1.1.1w", "new": "3.0.13", "action": "upgrade"}]},
        )
    )  # fmt: skip
    store.add_observations(
        [observations.Observation(time=now - 1500, target=T1, source="mark:upgrade", value=1)]
        + [
            observations.Observation(
                time=now - 1800 + 30 * i, target=T1, source="http",
                status=503 if 50 <= i < 56 else 200, latency_s=0.05 if i < 50 else 0.3,
            )
            for i in range(60)
        ]
    )  # fmt: skip
    # An old decision (2 h ago): inside "last 6h", outside "last 15m" and "last 1h".
    _decide(store, now - 7200, "errors", "ok", kind="ratio", ratio=0.01, above=0.2,
            when="status >= 500")  # fmt: skip
    for minutes, ratio, severity in ((20, 0.0, "ok"), (6, 0.35, "critical")):
        _decide(store, now - minutes * 60, "errors", severity, kind="ratio", ratio=ratio,
                above=0.2, when="status >= 500")  # fmt: skip
    _decide(store, now - 300, "latency-vs-before", "warning", kind="baseline", aggregate="mean",
            field="latency", current=0.3, baseline=0.05, max_increase=2.0)  # fmt: skip
    # The rollback, driven by the real executor (auto approval), after a restore point.
    driver = drivers.FakeDriver(clock=clock)
    await checkpoints.take_checkpoint(
        config=config, target_id="web-1", store=store, driver=driver, clock=clock, actor="test",
        label="before openssl 3",
    )  # fmt: skip
    waiting = asyncio.Event()

    def heard(entry: audit_events.AuditEntry) -> None:
        if entry.action == "run.state.awaiting_approval":
            waiting.set()

    executor = executing.Executor(
        config=config, store=store, drivers={"fake": driver}, verifier=Verified(), clock=clock,
        fault=lambda name: None, poll_interval=0.01, on_audit=heard,
    )  # fmt: skip
    run = executor.request(
        "web-1", trigger="decision:errors", actor="rollsafe",
        reason="share of 5xx 0.35 > 0.2 over 5m after the openssl 3 upgrade",
    )  # fmt: skip
    await executor.drive(run.id)
    done = store.get_run(run.id)
    assert done.state is runs.RunState.SUCCEEDED
    # web-3's run waits for a person (its rule asks for approval), with a long reason.
    await checkpoints.take_checkpoint(
        config=config, target_id="web-3", store=store, driver=driver, clock=clock, actor="test"
    )
    held = executor.request(
        "web-3", trigger="decision:errors-held", actor="rollsafe",
        reason="share of 5xx 0.9 > 0.5 over 5m on web-3 after the kernel upgrade to 6.1.0-18",
    )  # fmt: skip
    waiting_task = asyncio.create_task(executor.drive(held.id))
    await asyncio.wait_for(waiting.wait(), 30)
    # Then two other targets critical at once: the breaker trips.
    for target in ("web-2", "web-3"):
        _decide(store, clock.now(), "errors-held", "critical", target=ids.TargetId(target),
                kind="ratio", ratio=0.9, above=0.2)  # fmt: skip
    state, _ = breaker.consider(store, config, now=clock.now())
    assert state.open
    for i in range(45):
        store.append_audit(
            audit_events.AuditEntry(
                time=clock.now(), actor="test", action="probe.note", target="web-2",
                reason=f"note {i}",
            )
        )  # fmt: skip
    return done, waiting_task


async def _judged(page, base: str, run: runs.RollbackRun, shots: Path) -> None:
    await page.goto(f"{base}/dashboard/")
    await page.fill("#token", TOKEN)
    await page.click("#signin-form button[type=submit]")
    await page.wait_for_selector("#who:has-text('oscar (operator)')")

    # web-1 was critical, then rolled back and verified: recovered, not critical.
    row = page.locator('#fleet tr[data-target="web-1"]')
    await row.locator(".badge", has_text="recovered").wait_for(timeout=WAIT_MS)
    await row.click()
    superseded = page.locator("#target-head tr.superseded", has_text="errors critical")
    await superseded.wait_for(timeout=WAIT_MS)
    assert "before the rollback" in await superseded.inner_text()

    # What the ratio rule judged, against its limit, with markers; the baseline with its band.
    errors = page.locator('svg.judged-chart[data-rule="errors"]')
    await errors.wait_for(timeout=WAIT_MS)
    # By default the range starts just before the upgrade: not the 2 h old decision.
    assert await page.locator('#range-bar button.on[data-range="auto"]').count() == 1
    assert await errors.locator("circle.point").count() == 2
    assert await errors.locator("circle.point.sev-critical").count() == 1
    assert await errors.locator("path.limit").count() == 1
    assert await errors.locator("path.decision.sev-critical").count() == 1
    assert await errors.locator("line.mark-upgrade").count() == 1
    assert await errors.locator(f'rect.run-span[data-run="{run.id}"]').count() == 1
    caption = await page.locator('figure[data-rule="errors"] figcaption').inner_text()
    assert "share with status >= 500" in caption
    assert "last 0.35 vs limit 0.20" in caption
    lat = page.locator('svg.judged-chart[data-rule="latency-vs-before"]')
    assert await lat.locator("rect.band").count() == 1
    assert await lat.locator("path.baseline").count() == 1
    assert (
        "(baseline 0.05)"
        in await page.locator('figure[data-rule="latency-vs-before"] figcaption').inner_text()
    )

    # Restore points and versions.
    points = page.locator("#restore-points")
    assert run.restore_point is not None
    point_row = points.locator(f'tr[data-point="{run.restore_point}"]')
    assert "before openssl 3" in await point_row.inner_text()
    assert f"restored by {run.id}" in await point_row.inner_text()
    version = await points.locator("td.version").first.inner_text()
    assert "1.0 → 1.1" in version
    assert "openssl 1.1.1w → 3.0.13" in version
    await page.screenshot(path=str(shots / "dashboard-judged.png"), full_page=True)


async def _range(page) -> None:
    errors = page.locator('svg.judged-chart[data-rule="errors"]')
    # The range: 6h brings back the 2 h old decision; 15m keeps only the last one.
    await page.click('#range-bar button[data-range="6h"]')
    await errors.locator("circle.point").nth(2).wait_for(timeout=WAIT_MS)
    assert await errors.locator("circle.point").count() == 3
    await page.click('#range-bar button[data-range="15m"]')
    await page.locator('#range-bar button.on[data-range="15m"]').wait_for(timeout=WAIT_MS)
    assert await errors.locator("circle.point").count() == 1
    # A custom range ending 3 hours ago holds no decision at all.
    ago = await page.evaluate("() => Date.now() / 1000 - 4 * 3600")
    await page.evaluate(
        """(t) => {
          const bar = document.getElementById('range-bar');
          const local = (s) => new Date(s * 1000 - new Date(s * 1000).getTimezoneOffset() * 60000)
            .toISOString().slice(0, 16);
          bar.querySelector('input[name=since]').value = local(t);
          bar.querySelector('input[name=until]').value = local(t + 3600);
        }""",
        ago,
    )
    await page.click("#range-bar button[data-range-apply]")
    await page.locator("#detail .judged p.empty").wait_for(timeout=WAIT_MS)
    assert await page.locator("#range-bar .custom.on").count() == 1


async def _lists(page, run: runs.RollbackRun) -> None:
    # The open run's reason keeps a readable width next to the approval controls (it once
    # collapsed to one letter per line) and wraps at words.
    reason = page.locator("#open-runs tr[data-run] td.evidence").first
    await reason.wait_for(timeout=WAIT_MS)
    box = await reason.bounding_box()
    assert box is not None
    assert box["width"] >= 150, box
    assert box["height"] <= 6 * 22, box  # a few lines, not one letter per line
    assert await page.locator("#open-runs button[data-action=approve]").count() == 1
    # ... and the runs table stays inside its card (nothing spills over the next one).
    card = "document.getElementById('runs-card')"
    scroll, client = await page.evaluate(f"() => [{card}.scrollWidth, {card}.clientWidth]")
    assert scroll <= client, (scroll, client)
    # The runs history, filtered by state.
    history = page.locator(f'#past-runs tr[data-run="{run.id}"]')
    await history.wait_for(timeout=WAIT_MS)
    await page.select_option("#runs-filter select[name=state]", "failed")
    await page.click("#runs-filter button[type=submit]")
    await page.locator("#past-runs td.empty", has_text="no run matches").wait_for(timeout=WAIT_MS)
    await page.select_option("#runs-filter select[name=state]", "succeeded")
    await page.click("#runs-filter button[type=submit]")
    await history.wait_for(timeout=WAIT_MS)

    # The audit trail: paged, then filtered by action.
    info = page.locator("#audit-pager .page-info")
    await info.filter(has_text="1-20 of").wait_for(timeout=WAIT_MS)
    total = int((await info.inner_text()).split(" of ")[1])
    assert total > 45
    await page.click("#audit-pager button.next")
    await info.filter(has_text="21-40 of").wait_for(timeout=WAIT_MS)
    await page.fill("#audit-filter input[name=action]", "breaker.")
    await page.click("#audit-filter button[type=submit]")
    await info.filter(has_text="1-1 of 1").wait_for(timeout=WAIT_MS)
    assert "breaker.tripped" in await page.locator("#audit tbody").inner_text()


async def _breaker(page) -> None:
    info = page.locator("#audit-pager .page-info")
    # The breaker: tripped; an operator resets it with a reason.
    card = page.locator("#breaker")
    await card.locator(".badge", has_text="tripped").wait_for(timeout=WAIT_MS)
    assert "web-2, web-3" in await card.inner_text()
    await page.click("#breaker button[data-action=breaker-reset]")  # no reason: refused
    await page.locator(".toast", has_text="Give a reason").wait_for(timeout=WAIT_MS)
    await page.fill("#breaker-reason", "checked: the probe network was down")
    await page.click("#breaker button[data-action=breaker-reset]")
    await card.locator(".badge", has_text="closed").wait_for(timeout=WAIT_MS)
    last = await page.locator("#breaker-last-reset").inner_text()
    assert "by api:oscar: checked: the probe network was down" in last
    await info.filter(has_text="1-2 of 2").wait_for(timeout=WAIT_MS)  # tripped and reset


async def _timeline(page, base: str, run: runs.RollbackRun, shots: Path) -> None:
    # The run's timeline names its phases and each driver step with its key and result.
    await page.goto(f"{base}/dashboard/#run={run.id}")
    timeline = page.locator("#detail .timeline")
    await timeline.wait_for(timeout=WAIT_MS)
    phases = await timeline.locator("li").evaluate_all(
        "(items) => items.map((li) => li.dataset.phase)"
    )
    assert phases[0] == "opened"
    for phase in ("prechecks", "execute", "verify", "end"):
        assert phase in phases, phases
    assert phases.index("prechecks") < phases.index("execute") < phases.index("verify")
    steps = timeline.locator("li[data-step]")
    assert await steps.count() == 2
    first_step = await steps.first.inner_text()
    assert f"{run.id}/0/restore" in first_step
    assert " done " in first_step
    await page.evaluate("() => document.querySelectorAll('.toast').forEach((t) => t.remove())")
    await page.screenshot(path=str(shots / "dashboard-views.png"), full_page=True)


async def test_the_views_show_what_was_judged_and_let_a_person_filter_page_and_reset(
    tmp_path, monkeypatch
):
    config = _config()
    store = sql.open_store(tmp_path / "state")
    stop = asyncio.Event()
    bound: list[int] = []
    try:
        run, waiting_task = await _history(config, store)
        app = api_app.create_app(
            config, store=store, clock=clocks.SystemClock(), base_dir=tmp_path,
            environ={"TOKEN": TOKEN},
        )  # fmt: skip
        listening = asyncio.Event()

        def heard(host: str, port: int) -> None:
            bound.append(port)
            listening.set()

        server = models.Server(address="127.0.0.1", port=0)
        serving_task = asyncio.create_task(serving.serve(app, server, stop, listening=heard))
        await asyncio.wait_for(listening.wait(), 30)
        async with playwright_api.async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=BROWSER_ARGS)
            try:
                page = await browser.new_page(viewport={"width": 1440, "height": 1100})
                base = f"http://127.0.0.1:{bound[0]}"
                await _judged(page, base, run, tmp_path)
                await _range(page)
                await _lists(page, run)
                await _breaker(page)
                await _timeline(page, base, run, tmp_path)
            finally:
                await browser.close()
        stop.set()
        await asyncio.wait_for(serving_task, 30)
        waiting_task.cancel()
        # The reset went through the same code as the CLI's: audited, naming the person.
        resets = [e for e in store.list_audit_events() if e.entry.action == "breaker.reset"]
        assert [(e.entry.actor, e.entry.reason) for e in resets] == [
            ("api:oscar", "checked: the probe network was down")
        ]
        assert not breaker.read(store).open
    finally:
        stop.set()
        store.close()
    for name in ("dashboard-judged.png", "dashboard-views.png"):
        shot = tmp_path / name
        assert shot.stat().st_size > 10_000
        if os.environ.get("ROLLSAFE_REFRESH_SCREENSHOT") == "1":
            (DOCS / name).write_bytes(shot.read_bytes())
