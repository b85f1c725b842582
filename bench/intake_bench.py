"""Webhook intake: Alertmanager payloads per second and latency, with durable acknowledgement.

The real API (``interfaces.api.app.create_app``) served by uvicorn (``interfaces.api.serving``)
on 127.0.0.1, in its own process, over the real SQLite store: a 202 means the body is
committed to the inbox. A bearer token is checked on every request. An aiohttp load generator
in this process sends ``count`` distinct Alertmanager payloads (two alerts each) from
``senders`` concurrent senders, stopping at ``count`` or ``limit_s`` seconds, whichever first.

The daemon is not running: this is the intake alone (store and answer). Processing the inbox
(parse, judge) is the decision path measured by ``decision_bench``.
"""

from __future__ import annotations

import asyncio
import datetime
import multiprocessing
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

TOKEN = "bench-token-not-secret"


def _config(state_dir: Path) -> dict[str, Any]:
    return {
        "state_dir": str(state_dir),
        "server": {"address": "127.0.0.1", "port": 0},
        "targets": [
            {"id": f"web-{i}", "address": f"10.0.{i // 250}.{i % 250}"} for i in range(100)
        ],
        "intake": [
            {
                "name": "am",
                "kind": "alertmanager",
                "auth": {"kind": "bearer", "token_env": "BENCH_INTAKE_TOKEN"},
                "target_label": "instance",
                "strip_port": True,
            }
        ],
        "rules": [{"id": "am-firing", "kind": "alert", "source": "am", "severity": "warning"}],
    }


def _serve(state_dir: str, ports: Any) -> None:
    """The API process: serve until killed, report the bound port on ``ports``."""
    from rollsafe.config import loading, models
    from rollsafe.interfaces.api import app as api_app
    from rollsafe.interfaces.api import serving
    from rollsafe.storage import sql

    os.environ["BENCH_INTAKE_TOKEN"] = TOKEN
    state = Path(state_dir)
    config = models.RollsafeConfig.model_validate(_config(state))
    loaded = loading.LoadedConfig(config=config, path=state / "rollsafe.yaml", state_dir=state)
    store = sql.open_store(loaded.state_dir)
    app = api_app.create_app(config, store=store, base_dir=state)
    stop = asyncio.Event()
    asyncio.run(
        serving.serve(
            app, config.server, stop, base_dir=state, listening=lambda _h, p: ports.put(p)
        )
    )


def _payload(n: int) -> dict[str, Any]:
    started = datetime.datetime.now(tz=datetime.UTC).isoformat()
    alerts = [
        {
            "status": "firing",
            "labels": {"alertname": "HighErrorRate", "instance": f"10.0.0.{(n + k) % 100}:9100"},
            "annotations": {"summary": "5xx above 5%"},
            "startsAt": started,
            "endsAt": "0001-01-01T00:00:00Z",
            "fingerprint": f"fp-{n}-{k}",
        }
        for k in range(2)
    ]
    return {
        "version": "4",
        "status": "firing",
        "receiver": "rollsafe",
        "groupKey": f"{{}}:{{n={n}}}",
        "alerts": alerts,
    }


async def _load(port: int, *, count: int, senders: int, limit_s: float) -> dict[str, Any]:
    url = f"http://127.0.0.1:{port}/intake/am"
    headers = {"Authorization": f"Bearer {TOKEN}"}
    latencies: list[float] = []
    failures = 0
    next_n = 0
    deadline = time.perf_counter() + limit_s

    async def sender(session: aiohttp.ClientSession) -> None:
        nonlocal next_n, failures
        while next_n < count and time.perf_counter() < deadline:
            n, next_n = next_n, next_n + 1
            body = _payload(n)
            began = time.perf_counter()
            async with session.post(url, json=body, headers=headers) as response:
                await response.read()
                if response.status != 202:
                    failures += 1
            latencies.append(time.perf_counter() - began)

    connector = aiohttp.TCPConnector(limit=senders)
    async with aiohttp.ClientSession(connector=connector) as session:
        began = time.perf_counter()
        await asyncio.gather(*(sender(session) for _ in range(senders)))
        wall = time.perf_counter() - began
    latencies.sort()
    done = len(latencies)
    return {
        "senders": senders,
        "payloads": done,
        "failures": failures,
        "payloads_per_s": round(done / wall, 1),
        "alerts_per_s": round(2 * done / wall, 1),
        "p50_ms": round(latencies[done // 2] * 1000, 2) if done else None,
        "p99_ms": round(latencies[min(done - 1, int(0.99 * done))] * 1000, 2) if done else None,
    }


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _drain(state: Path) -> dict[str, Any]:
    """What the leader then does with the backlog: parse, map and judge every stored payload,
    each row marked processed with its observations (``runtime.inbox.InboxProcessor``)."""
    from rollsafe.config import models
    from rollsafe.domain import clocks
    from rollsafe.judge import engine
    from rollsafe.runtime import inbox
    from rollsafe.storage import sql

    os.environ["BENCH_INTAKE_TOKEN"] = TOKEN
    config = models.RollsafeConfig.model_validate(_config(state))
    store = sql.open_store(state)
    judge = engine.Engine(config)
    seen = 0

    def sink(obs: Any) -> None:
        nonlocal seen
        seen += 1
        judge.observe(obs)
        judge.evaluate(obs.target, now=obs.time)

    processor = inbox.InboxProcessor(
        config, store, sink=sink, clock=clocks.SystemClock(), batch=500
    )

    async def drain() -> int:
        rows = 0
        while True:
            done = await processor.process_pending()
            if not done:
                return rows
            rows += len(done)

    began = time.perf_counter()
    rows = asyncio.run(drain())
    wall = time.perf_counter() - began
    store.close()
    return {
        "rows": rows,
        "alerts": seen,
        "rows_per_s": round(rows / wall, 1) if wall else None,
        "alerts_per_s": round(seen / wall, 1) if wall else None,
    }


def run(*, count: int = 3000, senders: int = 32, limit_s: float = 60.0) -> dict[str, Any]:
    context = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory() as tmp:
        ports = context.Queue()
        server = context.Process(target=_serve, args=(tmp, ports), daemon=True)
        server.start()
        try:
            port = ports.get(timeout=30)
            assert server.pid is not None
            # A short warm-up, so imports and first-request costs are not in the figures.
            asyncio.run(_load(port, count=50, senders=4, limit_s=10))
            cpu_before = _cpu_s(server.pid)
            outcome = asyncio.run(_load(port, count=count, senders=senders, limit_s=limit_s))
            cpu = _cpu_s(server.pid) - cpu_before
        finally:
            server.terminate()
            server.join(timeout=10)
        outcome["inbox_drain"] = _drain(Path(tmp))
    outcome["api_cpu_s"] = round(cpu, 2)
    outcome["note"] = "API in its own process; 202 = body committed to SQLite"
    return outcome
