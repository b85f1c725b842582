"""Probe throughput side by side: rollsafe's scheduler vs Prometheus blackbox_exporter.

The same work on both sides: N targets spread over a few aiohttp servers on 127.0.0.1 (in
their own process, so serving costs neither side), each probed over HTTP every ``interval``
seconds for ``duration`` seconds.

- rollsafe: ``detect.scheduling.Scheduler`` with an HTTP probe, in a process of its own; its
  CPU is that process's CPU time, its memory per target the growth of its resident set from
  before the configuration was built to the end of the run (connection pools warm).
- peer: Debian's ``prometheus-blackbox-exporter`` with an ``http_2xx`` module, driven the way
  Prometheus drives it: every target scraped as ``GET /probe?target=...&module=http_2xx``
  once per interval, targets spread evenly over the interval, the scrape-timeout header set.
  Its CPU is the exporter process's utime+stime from /proc; the driver (standing in for
  Prometheus) is not counted, which flatters the peer: Prometheus's own scrape work is real.

The figure compared is completed probes per CPU second; ``ratio`` > 1 means rollsafe does the
same probing with less CPU.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

EXPORTER = "prometheus-blackbox-exporter"


def _servers(count: int, ports: Any) -> None:
    """The target process: ``count`` aiohttp servers answering /health until killed."""
    from aiohttp import web

    async def health(_: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def main() -> None:
        found = []
        for _ in range(count):
            app = web.Application()
            app.router.add_get("/health", health)
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            found.append(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]
        ports.put(found)
        await asyncio.Event().wait()

    asyncio.run(main())


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _rss_kib_self() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


async def _rollsafe(urls: list[str], interval: float, duration: float) -> dict[str, Any]:
    from rollsafe.config import models
    from rollsafe.detect import scheduling
    from rollsafe.domain import clocks

    rss_before = _rss_kib_self()  # imports done, nothing built yet
    config = models.RollsafeConfig.model_validate(
        {
            "targets": [{"id": f"t{i}", "vars": {"url": url}} for i, url in enumerate(urls)],
            "probes": [
                {
                    "name": "http",
                    "kind": "http",
                    "url": "{url}",
                    "interval": interval,
                    "timeout": 5,
                }
            ],
        }
    )
    scheduler = scheduling.Scheduler(config, clock=clocks.SystemClock(), sink=lambda _: None)
    cpu_before = time.process_time()
    began = time.perf_counter()
    task = asyncio.create_task(scheduler.run())
    await asyncio.sleep(duration)
    rss_after = _rss_kib_self()  # every target probed at least once: pools are warm
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    wall = time.perf_counter() - began
    cpu = time.process_time() - cpu_before
    stats = scheduler.stats()
    return {
        "probes": stats.completed,
        "errors": stats.errors,
        "cpu_s": round(cpu, 2),
        "probes_per_s": round(stats.completed / wall, 1),
        "probes_per_cpu_s": round(stats.completed / cpu, 1) if cpu else None,
        "lag_p99_ms": round(stats.lag_p99_s * 1000, 2),
        "lag_max_ms": round(stats.max_lag_s * 1000, 2),
        "kib_per_target": round((rss_after - rss_before) / len(urls), 2),
    }


def _rollsafe_process(urls: list[str], interval: float, duration: float, out: Any) -> None:
    """The rollsafe side in its own process, so its CPU and memory are its own."""
    import logging

    logging.disable(logging.WARNING)
    out.put(asyncio.run(_rollsafe(urls, interval, duration)))


async def _prometheus_like(
    exporter: str, urls: list[str], interval: float, duration: float, pid: int
) -> dict[str, Any]:
    done = 0
    failed = 0
    headers = {"X-Prometheus-Scrape-Timeout-Seconds": "10"}
    began = time.perf_counter()
    deadline = began + duration

    async def scrape_loop(session: aiohttp.ClientSession, index: int, url: str) -> None:
        nonlocal done, failed
        next_at = began + index * interval / len(urls)
        while next_at < deadline:
            await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
            params = {"target": url, "module": "http_2xx"}
            async with session.get(exporter, params=params, headers=headers) as response:
                text = await response.text()
            if response.status == 200 and "\nprobe_success 1" in text:
                done += 1
            else:
                failed += 1
            next_at += interval

    cpu_before = _cpu_s(pid)
    connector = aiohttp.TCPConnector(limit=256)
    async with aiohttp.ClientSession(connector=connector) as session:
        await asyncio.gather(*(scrape_loop(session, i, u) for i, u in enumerate(urls)))
    wall = time.perf_counter() - began
    cpu = _cpu_s(pid) - cpu_before
    return {
        "probes": done,
        "errors": failed,
        "cpu_s": round(cpu, 2),
        "probes_per_s": round(done / wall, 1),
        "probes_per_cpu_s": round(done / cpu, 1) if cpu else None,
        "exporter_rss_mib": _rss_mib(pid),
    }


def _one_size(
    context: Any,
    ports: list[int],
    *,
    targets: int,
    interval: float,
    duration: float,
    exporter_url: str,
    exporter_pid: int,
) -> dict[str, Any]:
    urls = [f"http://127.0.0.1:{ports[i % len(ports)]}/health" for i in range(targets)]
    results = context.Queue()
    child = context.Process(target=_rollsafe_process, args=(urls, interval, duration, results))
    child.start()
    ours = results.get(timeout=duration + 120)
    child.join(timeout=30)
    peer = asyncio.run(_prometheus_like(exporter_url, urls, interval, duration, exporter_pid))
    ratio = None
    if ours["probes_per_cpu_s"] and peer["probes_per_cpu_s"]:
        ratio = round(ours["probes_per_cpu_s"] / peer["probes_per_cpu_s"], 2)
    return {
        "targets": targets,
        "rollsafe": ours,
        "blackbox_exporter": peer,
        "ratio_probes_per_cpu_s": ratio,
    }


def run(
    *,
    sizes: tuple[int, ...] = (1000, 5000, 10000),
    interval: float = 15.0,
    duration: float = 20.0,
    servers: int = 4,
) -> dict[str, Any]:
    """Each size for ``duration`` seconds on each side (longer than one interval: every
    target is probed at least once, so memory figures include warm connection pools)."""
    binary = shutil.which(EXPORTER)
    if binary is None:
        return {"skipped": f"{EXPORTER} not installed (apt-get install {EXPORTER})"}
    context = multiprocessing.get_context("spawn")
    ports_queue = context.Queue()
    target_process = context.Process(target=_servers, args=(servers, ports_queue), daemon=True)
    target_process.start()
    out: dict[str, Any] = {"interval_s": interval, "duration_s": duration}
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "blackbox.yml"
        config.write_text("modules:\n  http_2xx:\n    prober: http\n    timeout: 5s\n")
        exporter_port = _free_port()
        exporter = subprocess.Popen(
            [
                binary,
                f"--config.file={config}",
                f"--web.listen-address=127.0.0.1:{exporter_port}",
                "--log.level=warn",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            ports = ports_queue.get(timeout=30)
            for size in sizes:
                out[f"n{size}"] = _one_size(
                    context,
                    ports,
                    targets=size,
                    interval=interval,
                    duration=duration,
                    exporter_url=f"http://127.0.0.1:{exporter_port}/probe",
                    exporter_pid=exporter.pid,
                )
        finally:
            exporter.terminate()
            exporter.wait(timeout=10)
            target_process.terminate()
            target_process.join(timeout=10)
    return out
