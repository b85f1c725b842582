"""Webhook intake: Alertmanager payloads per second and latency, with durable acknowledgement.

The real API (``interfaces.api.app.create_app``) served by uvicorn (``interfaces.api.serving``)
on 127.0.0.1, in its own process, over the real SQLite store: a 202 means the body is
committed to the inbox. A bearer token is checked on every request. An aiohttp load generator
in this process sends ``count`` distinct Alertmanager payloads (two alerts each) from
``senders`` concurrent senders, stopping at ``count`` or ``limit_s`` seconds, whichever first.

The daemon is not running: this is the intake alone (store and answer). Processing the inbox
(parse, judge) is the decision path measured by ``decision_bench``; ``many_alerts`` measures
it for targets with hundreds of alerts firing each (stored -> judged latency of a burst).
"""

from __future__ import annotations

import asyncio
import datetime
import json
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


def _many_alerts(
    *, targets: int = 20, alerts: int = 500, per_payload: int = 25, rounds: int = 2
) -> dict[str, Any]:
    """Hundreds of alerts firing per target: stored -> judged latency of a burst.

    ``targets`` x ``alerts`` distinct alerts fire; Alertmanager sends them grouped,
    ``per_payload`` per body, and sends every group again each round (its repeat interval),
    all rows landing in the inbox at once. The inbox processor then parses, maps and judges
    them as the daemon does (every observation folded, its target evaluated); a row is judged
    when its processing is done. Judging cost per alert must not grow with the number of alerts
    firing on the target, or the backlog, and so the latency, grows with it.
    """
    from rollsafe.config import models
    from rollsafe.detect.intake import sources
    from rollsafe.domain import clocks
    from rollsafe.judge import engine
    from rollsafe.runtime import inbox
    from rollsafe.storage import repositories, sql

    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp)
        raw = _config(state)
        raw["targets"] = raw["targets"][:targets]
        config = models.RollsafeConfig.model_validate(raw)
        store = sql.open_store(state)
        judge = engine.Engine(config)
        seen = 0

        def sink(obs: Any) -> None:
            nonlocal seen
            seen += 1
            judge.observe(obs)
            judge.evaluate(obs.target, now=time.time())

        processor = inbox.InboxProcessor(config, store, sink=sink, clock=clocks.SystemClock())
        started = datetime.datetime.now(tz=datetime.UTC).isoformat()
        latencies: list[float] = []
        wall = cpu = 0.0
        rows = 0
        for round_ in range(rounds):
            bodies = []
            for t in range(targets):
                for first in range(0, alerts, per_payload):
                    group = [
                        {
                            "status": "firing",
                            "labels": {
                                "alertname": f"Check{k}",
                                "instance": f"10.0.0.{t}:9100",
                                "job": "node",
                            },
                            "annotations": {"summary": f"check {k} failing"},
                            "startsAt": started,
                            "endsAt": "0001-01-01T00:00:00Z",
                            "fingerprint": f"fp-{t}-{k}",
                        }
                        for k in range(first, min(alerts, first + per_payload))
                    ]
                    body = {"version": "4", "status": "firing", "receiver": "rollsafe",
                            "groupKey": f"{{}}:{{t={t},g={first}}}", "alerts": group}  # fmt: skip
                    bodies.append(json.dumps({**body, "round": round_}).encode())
            now = time.time()
            store.add_inbox_many(
                [
                    (
                        repositories.InboxEntry(
                            received_at=now,
                            endpoint="am",
                            headers={"content-type": "application/json"},
                            body=body,
                            dedupe_key=sources.dedupe_key("am", body),
                        ),
                        None,
                    )
                    for body in bodies
                ]
            )
            began = time.perf_counter()
            cpu_began = time.process_time()
            while pending := store.list_inbox(pending_only=True, limit=500):
                for record in pending:
                    processor.process(record)
                    latencies.append(time.time() - record.received_at)
                    rows += 1
            wall += time.perf_counter() - began
            cpu += time.process_time() - cpu_began
        store.close()
    latencies.sort()
    return {
        "targets": targets,
        "alerts_per_target": alerts,
        "rows": rows,
        "alerts_judged": seen,
        "rows_per_s": round(rows / wall, 1),
        "us_per_alert": round(wall / seen * 1e6, 1),
        "cpu_us_per_alert": round(cpu / seen * 1e6, 1),
        "stored_to_judged_p50_s": round(latencies[len(latencies) // 2], 2),
        "stored_to_judged_p99_s": round(latencies[int(0.99 * (len(latencies) - 1))], 2),
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
    outcome["many_alerts"] = _many_alerts()
    outcome["api_cpu_s"] = round(cpu, 2)
    outcome["note"] = "API in its own process; 202 = body committed to SQLite"
    return outcome
