"""Translation between table rows and the domain's frozen dataclasses.

One pair of functions per table: ``<thing>_values`` builds the column values to write and
``<thing>`` rebuilds the domain object from a row read back. Nothing here touches a
connection; ``rollsafe.storage.sql`` does the I/O, and ``rollsafe.storage.sqlite_read`` reads
the embedded store with the same functions (any row whose columns are attributes will do).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from rollsafe.audit import chain
from rollsafe.domain import (
    audit_events,
    ids,
    observations,
    restore_points,
    rollouts,
    runs,
    verdicts,
)
from rollsafe.storage import repositories

if TYPE_CHECKING:  # annotations only: sqlite_read passes rows of its own, without SQLAlchemy
    import sqlalchemy as sa


def target_values(target: repositories.TargetRecord) -> dict[str, Any]:
    return {
        "id": target.id,
        "address": target.address,
        "labels": dict(target.labels),
        "driver": target.driver,
        "quarantined": target.quarantined,
        "quarantine_reason": target.quarantine_reason,
        "pinned": target.pinned,
        "pin_reason": target.pin_reason,
    }


def target(row: sa.Row[Any]) -> repositories.TargetRecord:
    return repositories.TargetRecord(
        id=ids.TargetId(row.id),
        address=row.address,
        labels={str(key): str(value) for key, value in row.labels.items()},
        driver=row.driver,
        quarantined=bool(row.quarantined),
        quarantine_reason=row.quarantine_reason,
        pinned=bool(row.pinned),
        pin_reason=row.pin_reason,
    )


def observation_values(observation: observations.Observation) -> dict[str, Any]:
    return {
        "time": observation.time,
        "target": observation.target,
        "source": observation.source,
        "value": observation.value,
        "status": observation.status,
        "latency_s": observation.latency_s,
        "text": observation.text,
        "alert_state": None if observation.alert_state is None else observation.alert_state.value,
        "error": observation.error,
    }


def observation(row: sa.Row[Any]) -> observations.Observation:
    return observations.Observation(
        time=row.time,
        target=ids.TargetId(row.target),
        source=row.source,
        value=row.value,
        status=row.status,
        latency_s=row.latency_s,
        text=row.text,
        alert_state=None if row.alert_state is None else observations.AlertState(row.alert_state),
        error=row.error,
    )


def decision_values(decision: verdicts.Decision) -> dict[str, Any]:
    return {
        "time": decision.time,
        "target": decision.target,
        "rule": decision.rule,
        "severity": decision.severity.label,
        "summary": decision.summary,
        "evidence": _plain(decision.evidence),
    }


def decision(row: sa.Row[Any]) -> verdicts.Decision:
    return verdicts.Decision(
        time=row.time,
        target=ids.TargetId(row.target),
        rule=ids.RuleId(row.rule),
        severity=verdicts.Severity.parse(row.severity),
        summary=row.summary,
        evidence=row.evidence,
    )


def restore_point_values(point: restore_points.RestorePoint) -> dict[str, Any]:
    return {
        "id": point.id,
        "target": point.target,
        "driver": point.driver,
        "created_at": point.created_at,
        "label": point.label,
        "data": _plain(point.data),
        "checks": _plain(point.checks),
    }


def restore_point(row: sa.Row[Any]) -> restore_points.RestorePoint:
    return restore_points.RestorePoint(
        id=ids.RestorePointId(row.id),
        target=ids.TargetId(row.target),
        driver=row.driver,
        created_at=row.created_at,
        data=row.data,
        checks=row.checks,
        label=row.label,
    )


def run_values(run: runs.RollbackRun) -> dict[str, Any]:
    return {
        "id": run.id,
        "target": run.target,
        "state": run.state.value,
        "trigger": run.trigger,
        "actor": run.actor,
        "reason": run.reason,
        "created_at": run.created_at,
        "updated_at": run.updated_at,
        "restore_point": run.restore_point,
        "approval_mode": run.approval.mode.value,
        "approval_deadline": run.approval.deadline,
        "approval_decided_by": run.approval.decided_by,
        "approval_decision": run.approval.decision,
        "approval_reason": run.approval.reason,
        "error": run.error,
        "evidence": _plain(run.evidence),
        # Only an open run holds its target (see schema.runs.open_target).
        "open_target": run.target if run.open else None,
    }


def run(row: sa.Row[Any]) -> runs.RollbackRun:
    return runs.RollbackRun(
        id=ids.RunId(row.id),
        target=ids.TargetId(row.target),
        state=runs.RunState(row.state),
        trigger=row.trigger,
        actor=row.actor,
        reason=row.reason,
        created_at=row.created_at,
        updated_at=row.updated_at,
        restore_point=(
            None if row.restore_point is None else ids.RestorePointId(row.restore_point)
        ),
        approval=runs.Approval(
            mode=runs.ApprovalMode(row.approval_mode),
            deadline=row.approval_deadline,
            decided_by=row.approval_decided_by,
            decision=row.approval_decision,
            reason=row.approval_reason,
        ),
        error=row.error,
        evidence=row.evidence,
    )


def step_values(step: runs.StepRecord) -> dict[str, Any]:
    return {
        "run_id": step.run_id,
        "step_index": step.index,
        "name": step.name,
        "state": step.state.value,
        "started_at": step.started_at,
        "finished_at": step.finished_at,
        "attempt": step.attempt,
        "output": step.output,
    }


def step(row: sa.Row[Any]) -> runs.StepRecord:
    return runs.StepRecord(
        run_id=ids.RunId(row.run_id),
        index=row.step_index,
        name=row.name,
        state=runs.StepState(row.state),
        started_at=row.started_at,
        finished_at=row.finished_at,
        attempt=row.attempt,
        output=row.output,
    )


def audit_event_values(event: audit_events.AuditEvent) -> dict[str, Any]:
    entry = event.entry
    return {
        "seq": event.seq,
        "time": entry.time,
        "actor": entry.actor,
        "action": entry.action,
        "target": entry.target,
        "run_id": entry.run_id,
        "reason": entry.reason,
        "details": dict(entry.details),
        "result": entry.result,
        "prev_hash": event.prev_hash,
        "hash": event.hash,
    }


def audit_event(row: sa.Row[Any]) -> audit_events.AuditEvent:
    return audit_events.AuditEvent(
        seq=row.seq,
        entry=audit_events.AuditEntry(
            time=row.time,
            actor=row.actor,
            action=row.action,
            target=row.target,
            run_id=row.run_id,
            reason=row.reason,
            details=row.details,
            result=row.result,
        ),
        prev_hash=row.prev_hash,
        hash=row.hash,
    )


def rollout_values(rollout: rollouts.Rollout) -> dict[str, Any]:
    """Every column but ``desired``, which only people write (see ``desired_value``)."""
    return {
        "id": rollout.id,
        "plan": rollout.plan,
        "state": rollout.state.value,
        "created_at": rollout.created_at,
        "updated_at": rollout.updated_at,
        "actor": rollout.actor,
        "reason": rollout.reason,
        "wave": rollout.wave,
        "spec": _plain(rollout.spec.to_json()),
        "halt_reason": rollout.halt_reason,
        "wave_log": [_plain(w.to_json()) for w in rollout.wave_log],
        # Only an open rollout holds the slot (see schema.rollouts.active).
        "active": "active" if rollout.open else None,
    }


def rollout(row: sa.Row[Any]) -> rollouts.Rollout:
    return rollouts.Rollout(
        id=rollouts.RolloutId(row.id),
        plan=row.plan,
        state=rollouts.RolloutState(row.state),
        desired=rollouts.Desired(row.desired),
        created_at=row.created_at,
        updated_at=row.updated_at,
        actor=row.actor,
        reason=row.reason,
        wave=row.wave,
        spec=rollouts.RolloutSpec.from_json(row.spec),
        halt_reason=row.halt_reason,
        wave_log=tuple(rollouts.WaveLog.from_json(w) for w in row.wave_log),
    )


def rollout_target_values(target: rollouts.RolloutTarget) -> dict[str, Any]:
    return {
        "rollout_id": target.rollout_id,
        "target": target.target,
        "wave": target.wave,
        "position": target.position,
        "state": target.state.value,
        "updated_at": target.updated_at,
        "restore_point": target.restore_point,
        "upgrade_key": target.upgrade_key,
        "run_id": target.run_id,
        "failure": target.failure,
        "note": target.note,
        "evidence": _plain(target.evidence),
        "started_at": target.started_at,
        "upgraded_at": target.upgraded_at,
        "bake_until": target.bake_until,
        "finished_at": target.finished_at,
    }


def rollout_target(row: sa.Row[Any]) -> rollouts.RolloutTarget:
    return rollouts.RolloutTarget(
        rollout_id=rollouts.RolloutId(row.rollout_id),
        target=ids.TargetId(row.target),
        wave=row.wave,
        position=row.position,
        state=rollouts.TargetState(row.state),
        updated_at=row.updated_at,
        restore_point=(
            None if row.restore_point is None else ids.RestorePointId(row.restore_point)
        ),
        upgrade_key=row.upgrade_key,
        run_id=None if row.run_id is None else ids.RunId(row.run_id),
        failure=row.failure,
        note=row.note,
        evidence=row.evidence,
        started_at=row.started_at,
        upgraded_at=row.upgraded_at,
        bake_until=row.bake_until,
        finished_at=row.finished_at,
    )


def _plain(value: Mapping[str, Any]) -> dict[str, Any]:
    """A mapping as plain JSON data (nested mappings, tuples and enums included)."""
    plain: dict[str, Any] = chain.normalized(value)
    return plain


def inbox_values(entry: repositories.InboxEntry) -> dict[str, Any]:
    return {
        "received_at": float(entry.received_at),
        "endpoint": entry.endpoint,
        "headers": dict(entry.headers),
        "body": bytes(entry.body),
        "dedupe_key": entry.dedupe_key,
        "processed_at": None,
        "outcome": None,
    }


def inbox_record(row: sa.Row[Any]) -> repositories.InboxRecord:
    return repositories.InboxRecord(
        id=int(row.id),
        received_at=row.received_at,
        endpoint=row.endpoint,
        headers={str(k): str(v) for k, v in (row.headers or {}).items()},
        body=bytes(row.body),
        dedupe_key=row.dedupe_key,
        processed_at=row.processed_at,
        outcome=row.outcome,
    )
