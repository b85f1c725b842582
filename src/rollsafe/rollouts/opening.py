"""Opening a rollout: a plan of the configuration becomes a frozen, stored ``pending`` rollout.

Role in the loop (rollouts): ``rollsafe rollout start`` calls ``open_rollout``; the controller
that drives rollouts (``rollsafe.rollouts.conducting``) finds the pending rollout in the store.
The waves are computed here, once, over the targets the plan selects that are neither pinned
nor quarantined; those are recorded as skipped, with the reason, and so are selected targets
beyond the last wave. At most one rollout is in progress at a time (the store refuses a
second one), so two rollouts never fight over a target or over the judge's cohorts.
"""

from __future__ import annotations

from rollsafe.config import models
from rollsafe.domain import audit_events, clocks, errors, ids, rollouts
from rollsafe.rollouts import plans
from rollsafe.storage import repositories

__all__ = ["RolloutRefused", "open_rollout"]


class RolloutRefused(errors.PermanentError):
    """The rollout cannot be opened as asked (another is in progress, nothing to upgrade)."""


def open_rollout(
    *,
    config: models.RollsafeConfig,
    store: repositories.Store,
    plan_name: str,
    actor: str,
    reason: str,
    clock: clocks.Clock,
) -> rollouts.Rollout:
    """Store a pending rollout of ``plan_name``; raises ConfigError or RolloutRefused."""
    try:
        plan = config.rollout(plan_name)
    except KeyError:
        known = ", ".join(p.name for p in config.rollouts) or "none is configured"
        raise errors.ConfigError(f"unknown rollout plan {plan_name!r} (known: {known})") from None
    selected = plans.selected(config, plan)
    if not selected:
        raise RolloutRefused(f"plan {plan.name} selects no target")
    for target in selected:
        if target.driver is None:
            raise errors.ConfigError(f"target {target.id} has no driver: it cannot be upgraded")
    active = store.list_rollouts(open_only=True, limit=1)
    if active:
        raise RolloutRefused(
            f"rollout {active[0].id} of plan {active[0].plan} is still {active[0].state.value}: "
            "one rollout at a time (abort it, or wait for it to end)"
        )
    records = {record.id: record for record in store.list_targets()}
    eligible: list[str] = []
    left_out: dict[str, str] = {}
    for target in selected:
        record = records.get(ids.TargetId(target.id))
        if record is not None and record.pinned:
            left_out[target.id] = f"pinned ({record.pin_reason or 'no reason recorded'})"
        elif record is not None and record.quarantined:
            why = record.quarantine_reason or "no reason recorded"
            left_out[target.id] = f"quarantined ({why})"
        else:
            eligible.append(target.id)
    if not eligible:
        raise RolloutRefused(
            f"nothing to upgrade: every target plan {plan.name} selects is pinned or "
            "quarantined (rollsafe target list)"
        )
    spec = plans.build_spec(config, plan, eligible)
    in_waves = {t for wave in spec.waves for t in wave.targets}
    for target_id in eligible:
        if target_id not in in_waves:
            left_out[target_id] = f"beyond the last wave ({spec.waves[-1].size})"
    now = clock.now()
    rollout = rollouts.Rollout(
        id=rollouts.new_rollout_id(),
        plan=plan.name,
        state=rollouts.RolloutState.PENDING,
        created_at=now,
        updated_at=now,
        actor=actor,
        reason=reason,
        spec=spec,
    )
    rows: list[rollouts.RolloutTarget] = []
    for wave in spec.waves:
        for target_id in wave.targets:
            rows.append(
                rollouts.RolloutTarget(
                    rollout_id=rollout.id,
                    target=target_id,
                    wave=wave.index,
                    position=len(rows),
                    updated_at=now,
                )
            )
    for target_id, why in left_out.items():
        rows.append(
            rollouts.RolloutTarget(
                rollout_id=rollout.id,
                target=ids.TargetId(target_id),
                wave=None,
                position=len(rows),
                state=rollouts.TargetState.SKIPPED,
                updated_at=now,
                note=why,
            )
        )
    entry = audit_events.AuditEntry(
        time=now,
        actor=actor,
        action="rollout.opened",
        reason=reason,
        details={
            "rollout": rollout.id,
            "plan": plan.name,
            "waves": [{"size": w.size, "targets": list(w.targets)} for w in spec.waves],
            "left_out": left_out,
            "bake_rules": list(spec.bake_rules),
            "on_halt": spec.on_halt,
        },
        result="pending",
    )
    try:
        return store.open_rollout(rollout, rows, audit=entry)
    except repositories.ActiveRolloutExistsError as exc:
        raise RolloutRefused(
            f"rollout {exc.rollout_id} is in progress: one rollout at a time"
        ) from exc
