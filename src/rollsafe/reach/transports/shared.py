"""One transport per configuration, shared by a target's remote probes and its host driver.

Role in the loop (reach): ``detect`` (remote ``log``/``host``/``command`` probes) and
``execute`` (the host driver) both send commands to the same hosts. When they name the same
transport (``transports:`` in the configuration), they get the same instance here, so the SSH
transport's connection cache holds ONE connection per host for all of them, and its
``max_sessions`` bounds the commands on a host whoever sends them.

Each user gets a lease: its own output limit (the driver keeps ``output_limit`` bytes for the
audit; a log probe needs its whole bounded read) over one inner transport built with the
largest limit any user asked for; the inner transport is closed when its last lease is.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from rollsafe.config import models
from rollsafe.reach.transports import building, outputs, transporting

PROBE_OUTPUT_LIMIT = 1024 * 1024
"""Output kept per command for probes: a log read is bounded well below this (``remote``)."""


@dataclass
class _Entry:
    inner: transporting.Transport
    limit: int
    leases: set[int] = field(default_factory=set)


_SHARED: dict[models.Transport, _Entry] = {}


class Lease:
    """A ``transporting.Transport`` over the shared one, cutting output to its own limit."""

    def __init__(self, config: models.Transport, entry: _Entry, *, output_limit: int) -> None:
        self.kind = entry.inner.kind
        self.config = config
        self._entry = entry
        self._limit = output_limit
        self._closed = False

    async def run(
        self,
        target: models.Target,
        script: str,
        *,
        limit_s: float,
        env: Mapping[str, str] | None = None,
    ) -> transporting.CommandResult:
        result = await self._entry.inner.run(target, script, limit_s=limit_s, env=env)
        if self._limit >= self._entry.limit:
            return result
        stdout, cut_out = outputs.keep(result.stdout, limit=self._limit)
        stderr, cut_err = outputs.keep(result.stderr, limit=self._limit)
        return transporting.CommandResult(
            exit_status=result.exit_status,
            stdout=stdout,
            stderr=stderr,
            duration=result.duration,
            truncated=result.truncated or cut_out or cut_err,
            invocation_id=result.invocation_id,
        )

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._entry.leases.discard(id(self))
        if not self._entry.leases and _SHARED.get(self.config) is self._entry:
            del _SHARED[self.config]
            await self._entry.inner.close()


def lease(config: models.Transport, *, output_limit: int) -> Lease:
    """A lease on the one transport for ``config`` (built on first use)."""
    entry = _SHARED.get(config)
    if entry is None:
        limit = max(output_limit, PROBE_OUTPUT_LIMIT)
        entry = _Entry(inner=building.build(config, output_limit=limit), limit=limit)
        _SHARED[config] = entry
    leased = Lease(config, entry, output_limit=output_limit)
    entry.leases.add(id(leased))
    return leased


def active() -> int:
    """How many shared transports are open (for tests and ``rollsafe doctor``)."""
    return len(_SHARED)
