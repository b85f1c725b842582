"""Leader election among replicas sharing one store: exactly one of them acts (runtime).

Role in the loop: every ``rollsafe run`` on the same database serves the API and accepts
webhooks, but only the holder of the ``leader`` lease (``leases`` table) probes, judges,
processes the inbox and drives runs. ``Leadership.run`` takes the lease when it is free or
expired and renews it every ``store.lease_renew`` seconds for ``store.lease_ttl`` seconds.

The lease's token is the fencing token: the daemon binds it for every task of the term
(``storage.fencing``), so every write the leader makes (runs, steps, rollouts, observations,
inbox processing, decisions, audit, shipping cursors) carries it, and the store refuses a write
whose token is older than the lease's, in the same transaction. So a leader that was paused
(GC, a frozen VM, a slow disk) past its lease and wakes up cannot undo its successor's work:
its next write raises ``FencedOut``, and the daemon then ends the term and calls ``deposed``.

A leader steps down on its own as soon as it cannot prove it still holds the lease: a renewal
refused, or no successful renewal for ``lease_ttl`` (measured on this host's monotonic clock,
from before the renewal that succeeded last). Stepping down sets ``lost``; the daemon then
halts everything it was driving at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid

from rollsafe.domain import clocks, errors
from rollsafe.storage import repositories

__all__ = ["Leadership", "new_holder"]

log = logging.getLogger("rollsafe.leadership")


def new_holder() -> str:
    """A name unique to this process's life: ``host:pid:random`` (a restart is a new holder)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Leadership:
    """Takes and keeps the leader lease; tells the daemon when it gains or loses it.

    ``elected`` is set while this process leads and ``lost`` while it does not (exactly one of
    them is set once ``run`` has tried for the first time); ``changed`` is set at every change.
    """

    def __init__(
        self,
        store: repositories.Store,
        *,
        ttl: float,
        renew: float,
        clock: clocks.Clock,
        holder: str | None = None,
        name: str = repositories.LEADER_LEASE,
    ) -> None:
        if renew >= ttl:
            raise errors.ConfigError(
                f"store.lease_renew ({renew:g}s) must be shorter than store.lease_ttl ({ttl:g}s)"
            )
        self.store = store
        self.ttl = ttl
        self.renew = renew
        self.clock = clock
        self.holder = holder or new_holder()
        self.name = name
        self.token: int | None = None
        self.elected = asyncio.Event()
        self.lost = asyncio.Event()
        self.changed = asyncio.Event()
        self.terms = 0  # how many times this process became leader
        self.seen: repositories.Lease | None = None  # the lease as last read, for status()
        self._valid_until = 0.0  # monotonic: past this, our lease may be someone else's

    @property
    def is_leader(self) -> bool:
        return self.token is not None

    def status(self) -> dict[str, object]:
        """For /healthz and ``rollsafe status``: our role, and who leads as far as we know."""
        lease = self.seen  # read with each attempt: asking never waits on the database
        live = lease is not None and lease.live(self.clock.now())
        return {
            "role": "leader" if self.is_leader else "follower",
            "me": self.holder,
            "token": self.token,
            "holder": lease.holder if lease is not None and live else None,
            "lease_token": lease.token if lease is not None else None,
            "expires_at": lease.expires_at if lease is not None and live else None,
        }

    async def run(self) -> None:
        """Try to lead, and keep leading, until cancelled (then give the lease back)."""
        try:
            while True:
                await self._step()
                await asyncio.sleep(self._pause())
        finally:
            token = self.token
            self._step_down("stopping")
            if token is not None:
                # Let a follower take over now rather than after the ttl.
                with contextlib.suppress(errors.StoreError):
                    self.store.release_lease(self.name, holder=self.holder, token=token)

    def deposed(self, why: str) -> None:
        """Step down now: a write of ours was refused, so another replica leads already."""
        self._step_down(why)

    def _pause(self) -> float:
        if self.token is None:
            return self.renew
        # Never sleep past the point where we must have renewed or stepped down.
        return max(0.0, min(self.renew, self._valid_until - time.monotonic()))

    async def _step(self) -> None:
        started = time.monotonic()
        token = self.token
        try:
            if token is None:
                got = await asyncio.to_thread(self._acquire)
                if got is not None:
                    self._valid_until = started + self.ttl
                    self._step_up(got)
                else:
                    self._set_follower()
                return
            # A renewal that hangs must not keep us acting past the lease: bounded by it.
            left = self._valid_until - time.monotonic()
            if left <= 0:
                self._step_down("lease expired before it could be renewed")
                return
            async with asyncio.timeout(left):
                ok = await asyncio.to_thread(self._renew, token)
        except TimeoutError:
            self._step_down("the store did not answer before the lease ran out")
            return
        except errors.StoreError as exc:
            if token is not None and time.monotonic() >= self._valid_until:
                self._step_down(f"cannot renew the lease: {exc}")
            elif token is None:
                self._set_follower()
                log.warning("cannot read the leader lease: %s", exc)
            else:
                log.warning("lease renewal failed, retrying: %s", exc)
            return
        if ok:
            self._valid_until = started + self.ttl
        else:
            self._step_down("another replica holds the lease now")

    def _acquire(self) -> int | None:
        got = self.store.acquire_lease(
            self.name, holder=self.holder, ttl=self.ttl, now=self.clock.now()
        )
        self.seen = self.store.lease(self.name)
        return got

    def _renew(self, token: int) -> bool:
        ok = self.store.renew_lease(
            self.name, holder=self.holder, token=token, ttl=self.ttl, now=self.clock.now()
        )
        self.seen = self.store.lease(self.name)
        return ok

    def _step_up(self, token: int) -> None:
        self.token = token
        self.terms += 1
        log.warning("this replica (%s) leads now, fencing token %d", self.holder, token)
        self.lost.clear()
        self.elected.set()
        self.changed.set()

    def _set_follower(self) -> None:
        if not self.lost.is_set():
            self.lost.set()
            self.changed.set()

    def _step_down(self, why: str) -> None:
        if self.token is None:
            self._set_follower()
            return
        log.error("this replica stops leading (token %d): %s", self.token, why)
        self.token = None
        self.elected.clear()
        self.lost.set()
        self.changed.set()
