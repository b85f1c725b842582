"""The daemon ships its audit log while it runs, and a hanging platform never holds up judging.

A real in-process daemon (real config file, real SQLite, a real command probe) with two sinks:
an Elasticsearch stand-in that accepts connections and never answers, and a Loki stand-in
that works. The target breaks and heals; the decisions must be judged, stored and shipped to
Loki as they happen, and Elasticsearch must get every event once it answers again.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from pathlib import Path

from shipping_standins import Elasticsearch, Loki

from rollsafe.config import loading
from rollsafe.runtime import daemon

WAIT = 60.0


async def _until(condition: Callable[[], bool], what: str) -> None:
    try:
        async with asyncio.timeout(WAIT):
            while not condition():
                await asyncio.sleep(0.05)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


def _config(tmp_path: Path, *, es_url: str, loki_url: str) -> Path:
    path = tmp_path / "rollsafe.yaml"
    path.write_text(
        f"""
state_dir: state
policy:
  dry_run: true
targets:
  - id: web-1
probes:
  - name: broken-flag
    kind: command
    command: ["test", "-e", "{tmp_path}/broken"]
    interval: 100ms
    timeout: 5s
rules:
  - id: broken
    kind: threshold
    probe: broken-flag
    op: "=="
    value: 1
audit_shipping:
  - kind: elasticsearch
    name: es
    url: {es_url}
    timeout: 500ms
    max_backoff: 200ms
  - kind: loki
    name: loki
    url: {loki_url}
    max_backoff: 200ms
""",
        encoding="utf-8",
    )
    return path


async def test_judging_and_shipping_go_on_while_a_platform_hangs(tmp_path):
    es = await Elasticsearch().start()
    loki = await Loki().start()
    es.mode = "hang"
    loaded = loading.load(_config(tmp_path, es_url=es.url, loki_url=loki.url))
    controller = daemon.Daemon(loaded)
    stop = asyncio.Event()
    task = asyncio.create_task(controller.run(stop))
    try:
        await _until(lambda: controller.ready.is_set(), "the daemon to start")

        def shipped_to_loki(action: str) -> bool:
            return any(line["action"] == action for line in loki.lines())

        await _until(lambda: shipped_to_loki("daemon.started"), "daemon.started in Loki")
        await _until(lambda: es.requests > 0, "Elasticsearch to be asked (and hang)")

        (tmp_path / "broken").write_text("")
        await _until(lambda: shipped_to_loki("decision.warning"), "the warning in Loki")
        (tmp_path / "broken").unlink()
        await _until(lambda: shipped_to_loki("decision.ok"), "the recovery in Loki")

        # Judged and stored while Elasticsearch hung; none of it reached Elasticsearch.
        decisions = controller.store.list_decisions(target="web-1")
        severities = [d.severity.label for d in decisions if d.rule == "broken"]
        assert severities[-2:] == ["warning", "ok"]
        assert es.docs == {}
        assert controller.store.get_cursor("es") == 0

        es.mode = "ok"
        es.release()
        head = controller.store.audit_head()
        assert head is not None
        await _until(lambda: controller.store.get_cursor("es") >= head.seq, "ES to catch up")
        assert es.seqs() == list(range(1, head.seq + 1))
        assert not controller.failed
    finally:
        stop.set()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, WAIT)
        controller.store.close()
        await es.stop()
        await loki.stop()
