"""The scheduler driving real built-in probes against real local services, then stopping."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from rollsafe.config import models
from rollsafe.detect import scheduling
from rollsafe.domain import observations
from rollsafe.testing import FakeClock


async def _echo_server() -> asyncio.Server:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()
        writer.close()
        await writer.wait_closed()

    return await asyncio.start_server(handle, "127.0.0.1", 0)


async def test_real_probes_on_three_targets(tmp_path: Path) -> None:
    servers = [await _echo_server() for _ in range(3)]
    ports = [server.sockets[0].getsockname()[1] for server in servers]
    for i in range(3):
        (tmp_path / f"web-{i}.log").write_text("")
    config = models.RollsafeConfig.model_validate(
        {
            "targets": [
                {"id": f"web-{i}", "address": "127.0.0.1", "vars": {"port": ports[i]}}
                for i in range(3)
            ],
            "probes": [
                {"kind": "tcp", "name": "port", "port": "{port}", "interval": "200ms"},
                {"kind": "command", "name": "alive", "command": "true", "interval": "200ms"},
                {
                    "kind": "log",
                    "name": "errors",
                    "path": str(tmp_path / "{id}.log"),
                    "presets": ["app_error"],
                    "interval": "200ms",
                },
            ],
        }
    )
    seen: list[observations.Observation] = []
    arrived = asyncio.Event()

    def sink(observation: observations.Observation) -> None:
        seen.append(observation)
        arrived.set()

    async def until(condition: Callable[[], bool]) -> None:
        async def wait() -> None:
            while not condition():
                arrived.clear()
                await arrived.wait()

        await asyncio.wait_for(wait(), timeout=30)

    def every_pair_twice() -> bool:
        counts = Counter((o.source, o.target) for o in seen)
        return len(counts) == 9 and min(counts.values()) >= 2

    scheduler = scheduling.Scheduler(config, clock=FakeClock(), sink=sink)
    task = asyncio.create_task(scheduler.run())
    try:
        await until(every_pair_twice)
        with (tmp_path / "web-1.log").open("a") as handle:
            handle.write("2024-01-01 ERROR upgrade broke the db pool\n")
        await until(
            lambda: any(o.source == "errors" and o.target == "web-1" and o.value for o in seen)
        )
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        for server in servers:
            server.close()
            await server.wait_closed()
    assert all(o.ok for o in seen), [o for o in seen if not o.ok]
    assert {o.value for o in seen if o.source in ("port", "alive")} == {1.0}
    assert scheduler.stats().completed == len(seen)
