"""Post-rollback verification: the same probes must be healthy again, the data as checkpointed.

Role in the loop (verify): after the driver says "done", the executor asks ``HealthVerifier``
to prove it. The verifier looks at the target with every probe that selects it, round after
round (``poll_interval`` apart), until

- every ``http`` and ``tcp`` probe has seen the target up (value 1.0) ``consecutive`` times in
  a row (one good answer after a restart proves little), and
- every data check recorded in the restore point's ``checks`` (probe name -> value or text at
  checkpoint time, see ``rollsafe.verify.checkpoints``) matches a fresh look by that data
  probe,

or ``policy.verify_timeout`` runs out; then the outcome is not ok and its summary names what is
still unhealthy or mismatched, e.g. ``http: status 500 (expected 200); data rows: 97 != 100 at
checkpoint``. A probe that cannot look never counts as healthy. A restore point check whose
probe is no longer configured cannot be verified and fails the verification. Other probe kinds
(host, log, command) are the judge's business, not verification's. A target with no
http/tcp probe and no data check has nothing to verify: the outcome is ok and says so.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from rollsafe.config import models
from rollsafe.detect import probes, probing
from rollsafe.domain import clocks, observations, restore_points
from rollsafe.execute import runs

__all__ = ["HEALTH_KINDS", "HealthVerifier", "checkpoint_value", "checks_of", "show"]

HEALTH_KINDS = frozenset({"http", "tcp"})

_Update = Callable[[observations.Observation | None], None]


def checkpoint_value(observation: observations.Observation) -> str | float | None:
    """What a data observation contributes to a restore point's checks: its text or value."""
    return observation.text if observation.text is not None else observation.value


def show(value: object) -> str:
    """A check value for people: ``100`` not ``100.0``, hashes cut to 12 characters."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, str) and len(value) > 16:
        return value[:12] + "…"
    return str(value)


@dataclass(slots=True)
class _Health:
    probe: probing.Probe
    config: models.Probe
    streak: int = 0
    last: observations.Observation | None = None


@dataclass(slots=True)
class _Check:
    name: str
    expected: Any
    probe: probing.Probe | None
    observed: Any = None
    error: str | None = None
    matched: bool = False


class HealthVerifier:
    """Implements ``rollsafe.execute.runs.Verifier`` with the configured probes."""

    def __init__(
        self,
        config: models.RollsafeConfig,
        *,
        probe_factory: probing.ProbeFactory = probes.build,
        clock: clocks.Clock,
        poll_interval: float = 1.0,
        consecutive: int = 2,
    ) -> None:
        if consecutive < 1:
            raise ValueError("consecutive must be at least 1")
        self._config = config
        self._factory = probe_factory
        self._clock = clock
        self._poll_interval = poll_interval
        self._consecutive = consecutive

    async def verify(
        self, target: models.Target, point: restore_points.RestorePoint
    ) -> runs.VerifyOutcome:
        timeout = self._config.policy.verify_timeout
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        selected = [p for p in self._config.probes if models.selects(p.targets, target)]
        health = [
            _Health(self._factory(p, self._clock), p) for p in selected if p.kind in HEALTH_KINDS
        ]
        data = {p.name: p for p in self._config.probes if p.kind == "data"}
        checks = [
            _Check(
                name,
                expected,
                self._factory(data[name], self._clock) if name in data else None,
            )
            for name, expected in sorted(point.checks.items())
        ]
        rounds = 0
        try:
            if not health and not checks:
                return runs.VerifyOutcome(
                    ok=True,
                    summary="nothing to verify: no http/tcp probe selects "
                    f"{target.id} and restore point {point.id} records no data check",
                    details={"rounds": 0, "health": {}, "checks": {}},
                )
            while True:
                rounds += 1
                remaining = deadline - loop.time()
                if remaining > 0:
                    await self._round(target, health, checks, remaining)
                healthy = all(h.streak >= self._consecutive for h in health) and all(
                    c.matched for c in checks
                )
                if healthy:
                    return runs.VerifyOutcome(
                        ok=True,
                        summary=self._good_summary(health, checks),
                        details=self._details(health, checks, rounds),
                    )
                if loop.time() + self._poll_interval >= deadline:
                    problems = self._problems(health, checks)
                    return runs.VerifyOutcome(
                        ok=False,
                        summary="; ".join(problems)
                        + f" (still so after {timeout:g}s of verification)",
                        details=self._details(health, checks, rounds),
                    )
                await asyncio.sleep(self._poll_interval)
        finally:
            for closable in [h.probe for h in health] + [c.probe for c in checks if c.probe]:
                with contextlib.suppress(Exception):
                    await closable.close()

    async def _round(
        self,
        target: models.Target,
        health: list[_Health],
        checks: list[_Check],
        remaining: float,
    ) -> None:
        """One look by every probe not yet satisfied, all at once, within ``remaining``."""
        looks: list[tuple[_Update, probing.Probe]] = [(_health_updater(h), h.probe) for h in health]
        looks += [
            (_check_updater(c), c.probe) for c in checks if not c.matched and c.probe is not None
        ]
        results = await asyncio.gather(
            *(_observe(probe, target, remaining) for _, probe in looks),
        )
        for (update, _), observation in zip(looks, results, strict=True):
            update(observation)

    def _problems(self, health: list[_Health], checks: list[_Check]) -> list[str]:
        problems = []
        for h in health:
            if h.streak >= self._consecutive:
                continue
            problems.append(f"{h.config.name}: {_why_unhealthy(h, self._consecutive)}")
        for c in checks:
            if c.matched:
                continue
            if c.probe is None:
                problems.append(f"data {c.name}: probe no longer configured, cannot verify")
            elif c.error is not None:
                problems.append(f"data {c.name}: cannot look: {c.error}")
            else:
                problems.append(
                    f"data {c.name}: {show(c.observed)} != {show(c.expected)} at checkpoint"
                )
        return problems

    def _good_summary(self, health: list[_Health], checks: list[_Check]) -> str:
        parts = []
        if health:
            names = ", ".join(h.config.name for h in health)
            parts.append(f"healthy {self._consecutive} times in a row: {names}")
        if checks:
            parts.append("data as at checkpoint: " + ", ".join(c.name for c in checks))
        return "; ".join(parts)

    def _details(self, health: list[_Health], checks: list[_Check], rounds: int) -> dict[str, Any]:
        return {
            "rounds": rounds,
            "consecutive": self._consecutive,
            "health": {
                h.config.name: {
                    "streak": h.streak,
                    "value": h.last.value if h.last else None,
                    "status": h.last.status if h.last else None,
                    "text": h.last.text if h.last else None,
                    "error": h.last.error if h.last else None,
                }
                for h in health
            },
            "checks": {
                c.name: {
                    "expected": c.expected,
                    "observed": c.observed,
                    "error": c.error,
                    "match": c.matched,
                }
                for c in checks
            },
        }


async def _observe(
    probe: probing.Probe, target: models.Target, remaining: float
) -> observations.Observation | None:
    """The probe's look, or None when verification time ran out first."""
    try:
        async with asyncio.timeout(remaining):
            return await probe.observe(target)
    except TimeoutError:
        return None


def _health_updater(h: _Health) -> _Update:
    def update(observation: observations.Observation | None) -> None:
        if observation is None:
            h.streak = 0
            return
        h.last = observation
        h.streak = h.streak + 1 if observation.ok and observation.value == 1.0 else 0

    return update


def _check_updater(c: _Check) -> _Update:
    def update(observation: observations.Observation | None) -> None:
        if observation is None:
            c.error = c.error or "no answer before the verification timeout"
            return
        if not observation.ok:
            c.error = observation.error
            return
        c.error = None
        c.observed = checkpoint_value(observation)
        c.matched = _same(c.observed, c.expected)

    return update


def _same(observed: Any, expected: Any) -> bool:
    if isinstance(observed, int | float) and isinstance(expected, int | float):
        return float(observed) == float(expected)
    return bool(observed == expected)


def _why_unhealthy(h: _Health, consecutive: int) -> str:
    last = h.last
    if last is None:
        return "no answer before the verification timeout"
    if not last.ok:
        return f"cannot look: {last.error}"
    if last.value == 1.0:
        return f"healthy only {h.streak} of {consecutive} times in a row"
    if last.status is not None and isinstance(h.config, models.HttpProbe):
        expected = ", ".join(str(s) for s in h.config.expect_status)
        if last.status in h.config.expect_status:
            return f"status {last.status} but {last.text or 'body did not match'}"
        return f"status {last.status} (expected {expected})"
    return last.text or "down"


def checks_of(
    results: Mapping[str, observations.Observation],
) -> dict[str, str | float | None]:
    """Restore point checks from data observations (probe name -> value or text)."""
    return {name: checkpoint_value(obs) for name, obs in results.items()}
