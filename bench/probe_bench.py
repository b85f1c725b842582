"""Probe throughput: the real scheduler and HTTP probe against real local HTTP servers.

N targets spread over a few aiohttp servers on 127.0.0.1, each probed every ``interval``
seconds for ``duration`` seconds. Reports completed probes per second, per core of CPU time
used by this process, the p99 scheduling lag and the memory per target.
"""

from __future__ import annotations

import asyncio
import contextlib
import resource
import time

from aiohttp import web

from rollsafe.config import models
from rollsafe.detect import scheduling
from rollsafe.domain import clocks


async def _servers(count: int) -> tuple[list[web.AppRunner], list[int]]:
    async def health(_: web.Request) -> web.Response:
        return web.Response(text="ok")

    runners, ports = [], []
    for _ in range(count):
        app = web.Application()
        app.router.add_get("/health", health)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        ports.append(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]
        runners.append(runner)
    return runners, ports


def _rss_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


async def _run(targets: int, interval: float, duration: float, servers: int) -> dict[str, float]:
    runners, ports = await _servers(servers)
    config = models.RollsafeConfig.model_validate(
        {
            "targets": [
                {"id": f"t{i}", "vars": {"port": ports[i % servers]}} for i in range(targets)
            ],
            "probes": [
                {
                    "name": "http",
                    "kind": "http",
                    "url": "http://{address}:{port}/health",
                    "interval": interval,
                    "timeout": 5,
                }
            ],
        }
    )
    seen = 0

    def sink(_: object) -> None:
        nonlocal seen
        seen += 1

    rss_before = _rss_kib()
    scheduler = scheduling.Scheduler(config, clock=clocks.SystemClock(), sink=sink)
    cpu_before = time.process_time()
    began = time.perf_counter()
    task = asyncio.create_task(scheduler.run())
    await asyncio.sleep(duration)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    wall = time.perf_counter() - began
    cpu = time.process_time() - cpu_before
    stats = scheduler.stats()
    for runner in runners:
        await runner.cleanup()
    return {
        "targets": targets,
        "interval_s": interval,
        "probes_per_s": round(stats.completed / wall, 1),
        "probes_per_cpu_s": round(stats.completed / cpu, 1) if cpu else 0.0,
        "cpu_share": round(cpu / wall, 3),
        "errors": stats.errors,
        "lag_p99_ms": round(stats.lag_p99_s * 1000, 2),
        "kib_per_target": round((_rss_kib() - rss_before) / targets, 2),
        "note": "servers run in the same process: CPU includes serving",
    }


def run(*, targets: int = 1000, interval: float = 15.0, duration: float = 20.0) -> dict[str, float]:
    return asyncio.run(_run(targets, interval, duration, servers=4))
