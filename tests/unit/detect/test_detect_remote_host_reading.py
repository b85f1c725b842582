"""The host probes of one target share one remote reading per round (one command, not four).

Runs the real read script on this machine through the ``local`` transport, counting calls.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

import pytest

from rollsafe.config import models
from rollsafe.detect.probes import remote
from rollsafe.reach.transports import local, transporting
from rollsafe.testing import FakeClock

TARGET = models.Target(id="web-1", address="127.0.0.1")


class Counting:
    kind = "local"

    def __init__(self) -> None:
        self.inner = local.LocalTransport(output_limit=1 << 20)
        self.calls = 0

    async def run(
        self,
        target: models.Target,
        script: str,
        *,
        limit_s: float,
        env: Mapping[str, str] | None = None,
    ) -> transporting.CommandResult:
        self.calls += 1
        return await self.inner.run(target, script, limit_s=limit_s, env=env)

    async def close(self) -> None:
        await self.inner.close()


def _probe(metric: str, transport: Counting) -> remote.RemoteHostProbe:
    config = models.HostProbe.model_validate(
        {"kind": "host", "name": metric, "metric": metric, "transport": {"kind": "local"}}
    )
    return remote.RemoteHostProbe(config, FakeClock(start=1.0), transport)


async def test_probes_looking_together_share_one_reading(monkeypatch: pytest.MonkeyPatch):
    transport = Counting()
    probes = [_probe(m, transport) for m in ("memory", "load", "cpu")]
    seen = await asyncio.gather(*(p.observe(TARGET) for p in probes))
    assert transport.calls == 1
    assert seen[0].ok, seen[0].error
    assert seen[1].ok, seen[1].error
    assert seen[2].error == "warming up: first sample"
    # A probe looking again reads again, however fresh the shared reading is.
    await probes[0].observe(TARGET)
    assert transport.calls == 2
    monkeypatch.setattr(remote, "FRESH", -1.0)  # every reading is stale at once
    await asyncio.gather(*(p.observe(TARGET) for p in probes))
    assert transport.calls == 3


async def test_a_failed_reading_is_not_reused():
    transport = Counting()
    probe = _probe("memory", transport)
    gone = models.Target(id="gone", address="127.0.0.1", vars={})

    async def refuse(*_: object, **__: object) -> transporting.CommandResult:
        transport.calls += 1
        return transporting.CommandResult(exit_status=3, stdout="", stderr="no", duration=0.0)

    transport.run = refuse  # type: ignore[method-assign]
    first = await probe.observe(gone)
    second = await probe.observe(gone)
    assert first.error == second.error == "reading /proc on gone failed (exit 3): no"
    assert transport.calls == 2
