"""The host probes of one target share one remote reading per round (one command, not four).

Runs the real read script on this machine through ``rollsafe.testing.FakeTransport``, which
counts the calls per target.
"""

from __future__ import annotations

import asyncio

import pytest

from rollsafe.config import models
from rollsafe.detect.probes import remote
from rollsafe.reach.transports import transporting
from rollsafe.testing import FakeClock, FakeTransport

TARGET = models.Target(id="web-1", address="127.0.0.1")


def _probe(metric: str, transport: FakeTransport) -> remote.RemoteHostProbe:
    config = models.HostProbe.model_validate(
        {"kind": "host", "name": metric, "metric": metric, "transport": {"kind": "local"}}
    )
    return remote.RemoteHostProbe(config, FakeClock(start=1.0), transport)


async def test_probes_looking_together_share_one_reading(monkeypatch: pytest.MonkeyPatch):
    transport = FakeTransport()
    probes = [_probe(m, transport) for m in ("memory", "load", "cpu")]
    seen = await asyncio.gather(*(p.observe(TARGET) for p in probes))
    assert transport.calls["web-1"] == 1
    assert seen[0].ok, seen[0].error
    assert seen[1].ok, seen[1].error
    assert seen[2].error == "warming up: first sample"
    # A probe looking again reads again, however fresh the shared reading is.
    await probes[0].observe(TARGET)
    assert transport.calls["web-1"] == 2
    monkeypatch.setattr(remote, "FRESH", -1.0)  # every reading is stale at once
    await asyncio.gather(*(p.observe(TARGET) for p in probes))
    assert transport.calls["web-1"] == 3


async def test_a_failed_reading_is_not_reused():
    transport = FakeTransport()
    probe = _probe("memory", transport)
    gone = models.Target(id="gone", address="127.0.0.1", vars={})

    async def refuse(*_: object, **__: object) -> transporting.CommandResult:
        transport.calls["gone"] += 1
        return transporting.CommandResult(exit_status=3, stdout="", stderr="no", duration=0.0)

    transport.run = refuse  # type: ignore[method-assign]
    first = await probe.observe(gone)
    second = await probe.observe(gone)
    assert first.error == second.error == "reading /proc on gone failed (exit 3): no"
    assert transport.calls["gone"] == 2
