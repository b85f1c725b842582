"""Checkpoints: a restore point plus the data facts that will prove a rollback to it worked.

Role in the loop (verify, before the fact): before an upgrade, ``take_checkpoint`` asks the
target's driver for a restore point, then looks at the target with every ``data`` probe that
selects it and records what each saw (a row count, a file's SHA-256) in the point's
``checks``. After a rollback, ``rollsafe.verify.health`` compares fresh looks with these.

A data probe that cannot look at checkpoint time fails the checkpoint: a point whose data
cannot be compared later could never be verified, so it is not stored (``CheckpointFailed``).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Mapping
from typing import Any

from rollsafe.config import models
from rollsafe.detect import probes, probing
from rollsafe.domain import audit_events, clocks, errors, ids, observations, restore_points
from rollsafe.execute import driving, pruning
from rollsafe.storage import repositories
from rollsafe.verify import health

__all__ = ["CheckpointFailed", "take_checkpoint"]

_log = logging.getLogger(__name__)


class CheckpointFailed(errors.PermanentError):
    """The restore point could not be taken or would not be verifiable."""


async def take_checkpoint(
    *,
    config: models.RollsafeConfig,
    target_id: str,
    store: repositories.Store,
    driver: driving.Driver,
    clock: clocks.Clock,
    probe_factory: probing.ProbeFactory = probes.build,
    label: str = "",
    actor: str,
) -> restore_points.RestorePoint:
    """Take, measure and store a restore point of ``target_id``; audited as created."""
    try:
        target = config.target(target_id)
    except KeyError:
        raise errors.ConfigError(f"unknown target {target_id!r}") from None

    def record(operation: str, details: Mapping[str, Any]) -> None:
        store.append_audit(
            audit_events.AuditEntry(
                time=clock.now(),
                actor=actor,
                action="driver.api_call",
                target=target_id,
                details={"operation": operation, **details},
            )
        )

    token = driving.recording_api_calls(record)
    try:
        point = await driver.checkpoint(target, point_id=ids.new_restore_point_id(), label=label)
    finally:
        driving.reset_api_calls(token)
    looks = await _observe_data(config, target, clock=clock, probe_factory=probe_factory)
    blind = {name: obs.error for name, obs in looks.items() if not obs.ok}
    if blind:
        problems = "; ".join(f"data {name}: {error}" for name, error in sorted(blind.items()))
        raise CheckpointFailed(
            f"restore point of {target.id} not stored, its data could not be measured: {problems}"
        )
    point = dataclasses.replace(
        point, checks={**point.checks, **health.checks_of(looks)}, label=label or point.label
    )
    store.add_restore_point(
        point,
        audit=audit_events.AuditEntry(
            time=clock.now(),
            actor=actor,
            action="restore_point.created",
            target=target.id,
            reason=label,
            details={
                "restore_point": point.id,
                "driver": point.driver,
                "checks": dict(point.checks),
            },
            result="created",
        ),
    )
    if config.policy.retention.prune_after_checkpoint:
        await _prune_after(config, target, store=store, driver=driver, clock=clock, actor=actor)
    return point


async def _prune_after(
    config: models.RollsafeConfig,
    target: models.Target,
    *,
    store: repositories.Store,
    driver: driving.Driver,
    clock: clocks.Clock,
    actor: str,
) -> None:
    # The new point is stored: pruning can only fail to free space, never lose the point,
    # so its errors are logged (each deletion is audited) and the checkpoint stands.
    try:
        outcomes = await pruning.prune(
            config=config,
            store=store,
            drivers={driver.name: driver},
            clock=clock,
            actor=actor,
            target_id=target.id,
        )
    except errors.RollsafeError as exc:
        _log.warning("pruning restore points of %s after a checkpoint failed: %s", target.id, exc)
        return
    for outcome in outcomes:
        if outcome.action in {"failed", "unsupported"}:
            _log.warning(
                "restore point %s of %s not pruned: %s",
                outcome.point.id,
                target.id,
                outcome.detail,
            )


async def _observe_data(
    config: models.RollsafeConfig,
    target: models.Target,
    *,
    clock: clocks.Clock,
    probe_factory: probing.ProbeFactory,
) -> dict[str, observations.Observation]:
    selected = [p for p in config.probes if p.kind == "data" and models.selects(p.targets, target)]
    built = [probe_factory(p, clock) for p in selected]
    try:
        results = await asyncio.gather(*(probe.observe(target) for probe in built))
    finally:
        for probe in built:
            with contextlib.suppress(Exception):
                await probe.close()
    return {p.name: obs for p, obs in zip(selected, results, strict=True)}
