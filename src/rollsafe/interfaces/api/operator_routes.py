"""``/api/v1``: the fleet, signals, runs, rollouts and audit for people; approve, reject, roll back.

Role in the loop (interfaces): what the dashboard (and any script) reads and does. Reads need a
viewer's token; approve, reject, manual rollback and reporting an upgrade another tool made
(``POST /targets/{id}/upgrades``, ``runtime.marking``) an operator's; releasing a quarantined
target an admin's (``roles``). Every write is done as the token's holder (``api:<name>``), so
the audit names the person, and goes through the same code as the CLI: decisions through
``execute.approvals`` (via the controller's executor, which wakes the waiting run at once),
manual rollbacks through ``Executor.request`` (same governors as a decision's run).

Answers are JSON; a refusal is ``{"error": reason}`` with 400 (bad body; 422 with FastAPI's
``detail`` when a body does not validate), 401/403 (token,
role), 404 (no such run or target), 409 (the run is not waiting for a person) or 503 (store).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Annotated, Any, Literal, TypeVar

import fastapi
from fastapi import responses
from pydantic import BaseModel, ConfigDict, Field

from rollsafe.config import models
from rollsafe.domain import audit_events, clocks, errors, ids, runs, verdicts
from rollsafe.execute import approvals
from rollsafe.execute import runs as executing
from rollsafe.interfaces.api import roles
from rollsafe.runtime import marking
from rollsafe.storage import repositories

__all__ = ["OperatorService", "router"]

log = logging.getLogger("rollsafe.api")

_T = TypeVar("_T")
_MARK = "mark:"
_SIGNAL_LIMIT = 20_000
_BEFORE_UPGRADE = 900.0  # the chart starts this long before the target's latest upgrade
_DEFAULT_SPAN = 3600.0  # ... or spans this long when it has none

Viewer = Annotated[roles.Principal, fastapi.Depends(roles.viewer)]
Operator = Annotated[roles.Principal, fastapi.Depends(roles.operator)]
Admin = Annotated[roles.Principal, fastapi.Depends(roles.admin)]


class Decide(BaseModel):
    """A person's approval or rejection; rejecting needs a reason."""

    reason: str = Field(default="", max_length=2000)
    via: Literal["api", "dashboard"] = "api"


class Rollback(BaseModel):
    """A manual rollback: why, and optionally to which restore point."""

    reason: str = Field(min_length=1, max_length=2000)
    restore_point: str | None = None
    force: bool = False  # past a quarantine and an open breaker; audited as forced


class Package(BaseModel):
    """One package an upgrade changed (``old``/``new`` omitted: installed / removed)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    name: str = Field(min_length=1, max_length=300)
    old: str | None = Field(default=None, max_length=300)
    new: str | None = Field(default=None, max_length=300)
    action: Literal["install", "upgrade", "downgrade", "reinstall", "remove"] = "upgrade"


class Upgrade(BaseModel):
    """An upgrade another tool made (unattended-upgrades, Ansible, a patch manager, CI)."""

    model_config = ConfigDict(extra="forbid")

    note: str = Field(default="", max_length=marking.MAX_NOTE)
    version: str | None = Field(default=None, min_length=1, max_length=marking.MAX_VERSION)
    packages: list[Package] = Field(default_factory=list, max_length=marking.MAX_PACKAGES)
    started: bool = Field(
        default=False,
        description="The upgrade begins now (report again without it when it has ended): "
        "restarts and reboots in between are the upgrade's own, not an outage",
    )


class Release(BaseModel):
    reason: str = Field(min_length=1, max_length=2000)


class _Refused(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class OperatorService:
    """What the routes need: the configuration, the store, the clock, and the executor of the
    controller this API runs in (None: decisions go to the store, manual rollbacks refuse)."""

    def __init__(
        self,
        config: models.RollsafeConfig,
        *,
        store: repositories.Store,
        clock: clocks.Clock,
        executor: executing.Executor | None,
    ) -> None:
        self.config = config
        self.store = store
        self.clock = clock
        self.executor = executor

    # ------------------------------------------------------------------ reads

    async def read(self, work: Callable[[], _T]) -> _T:
        """Run a store read off the event loop; StoreError becomes 503."""
        try:
            return await asyncio.to_thread(work)
        except errors.StoreError as exc:
            log.error("API read failed: %s", exc)  # noqa: TRY400 - the reason is the message
            raise _Refused(503, "the store is unavailable; retry later") from None

    def fleet(self) -> dict[str, Any]:
        records = {r.id: r for r in self.store.list_targets()}
        latest = self.store.latest_decisions()
        open_runs = {r.target: r for r in self.store.list_runs(open_only=True, limit=10_000)}
        recent = self.store.list_runs(limit=500)
        last_run: dict[str, runs.RollbackRun] = {}
        for run in recent:
            last_run[run.target] = run  # oldest first: the last one wins
        configured = [t.id for t in self.config.targets]
        names = configured + sorted(set(records) - set(configured))
        targets = []
        for name in names:
            record = records.get(ids.TargetId(name))
            decisions = sorted(latest.get(ids.TargetId(name), []), key=lambda d: d.rule)
            targets.append(
                {
                    "id": name,
                    "address": record.address if record else "",
                    "labels": dict(record.labels) if record else {},
                    "driver": record.driver if record else None,
                    "configured": name in configured,
                    "quarantined": bool(record and record.quarantined),
                    "quarantine_reason": record.quarantine_reason if record else None,
                    "state": _state_of(
                        decisions,
                        open_runs.get(ids.TargetId(name)),
                        record=record,
                        last_run=last_run.get(name),
                    ),
                    "decisions": [d.to_json() for d in decisions],
                    "open_run": _run_json(open_runs.get(ids.TargetId(name))),
                    "last_run": _run_json(last_run.get(name)),
                }
            )
        return {"now": self.clock.now(), "targets": targets}

    def signals(self, target: str, *, since: float | None, until: float | None) -> dict[str, Any]:
        tid = ids.TargetId(target)
        now = self.clock.now()
        explicit = since is not None
        if since is None:
            upgrades = self.store.list_observations(target=tid, source=f"{_MARK}upgrade", limit=1)
            since = upgrades[-1].time - _BEFORE_UPGRADE if upgrades else now - _DEFAULT_SPAN
        until = now if until is None else until
        found = [
            o
            for o in self.store.list_observations(target=tid, since=since, limit=_SIGNAL_LIMIT)
            if o.time <= until
        ]
        if found and not explicit:
            since = max(since, found[0].time)  # a young target's chart starts with its data
        series: dict[str, list[dict[str, Any]]] = {}
        marks = []
        for obs in found:
            if obs.source.startswith(_MARK):
                marks.append({"time": obs.time, "name": obs.source.removeprefix(_MARK)})
                continue
            series.setdefault(obs.source, []).append(
                {
                    "time": obs.time,
                    "value": obs.value,
                    "status": obs.status,
                    "latency": obs.latency_s,
                    "error": obs.error,
                }
            )
        decisions = [
            d.to_json()
            for d in self.store.list_decisions(target=tid, limit=2000)
            if since <= d.time <= until
        ]
        return {
            "target": target,
            "since": since,
            "until": until,
            "series": [{"source": name, "points": points} for name, points in series.items()],
            "thresholds": _thresholds(self.config, target),
            "marks": marks,
            "decisions": decisions,
        }

    def run_report(self, run_id: str) -> dict[str, Any]:
        run = self.store.get_run(ids.RunId(run_id))
        if run is None:
            raise _Refused(404, f"no run {run_id}")
        events = [
            e.to_json()
            for e in self.store.list_audit_events(target=run.target)
            if e.entry.run_id == run.id
        ]
        return {
            "run": run.to_json(),
            "steps": [s.to_json() for s in self.store.list_steps(run.id)],
            "audit": events,
        }

    def audit(self, *, since_seq: int | None, target: str | None, limit: int) -> dict[str, Any]:
        head = self.store.audit_head()
        last = head.seq if head is not None else 0
        start = max(0, last - limit) if since_seq is None else since_seq
        events = []
        for event in self.store.list_audit_events(since_seq=start, target=target):
            events.append(event.to_json())
            if len(events) >= limit:
                break
        return {"head": last, "events": events}

    def rollouts(self, *, limit: int) -> dict[str, Any]:
        listing = getattr(self.store, "list_rollouts", None)
        if listing is None:
            return {"available": False, "rollouts": []}
        found = []
        for rollout in listing(limit=limit):
            targets = self.store.list_rollout_targets(rollout.id)
            found.append({"rollout": rollout.to_json(), "targets": [t.to_json() for t in targets]})
        return {"available": True, "rollouts": found}

    # ------------------------------------------------------------------ writes

    def decide(
        self, run_id: str, verdict: approvals.Verdict, *, who: roles.Principal, body: Decide
    ) -> runs.RollbackRun:
        reason = body.reason.strip() or ("approved" if verdict == "approve" else "")
        if not reason:
            raise _Refused(400, "a rejection needs a reason")
        try:
            if self.executor is not None:
                # In the controller's own process: the waiting run is woken at once.
                decide = self.executor.approve if verdict == "approve" else self.executor.reject
                return decide(run_id, actor=who.actor, reason=reason, via=body.via)
            run, _ = approvals.decide(
                self.store,
                run_id,
                verdict,
                actor=who.actor,
                reason=reason,
                now=self.clock.now(),
                via=body.via,
            )
        except approvals.RunNotFound:
            raise _Refused(404, f"no run {run_id}") from None
        except runs.InvalidTransition as exc:
            raise _Refused(409, str(exc)) from None
        except errors.StoreError as exc:
            log.error("cannot record a decision on %s: %s", run_id, exc)  # noqa: TRY400
            raise _Refused(503, "the store is unavailable; retry later") from None
        return run

    def rollback(self, target: str, *, who: roles.Principal, body: Rollback) -> runs.RollbackRun:
        if self.executor is None:
            raise _Refused(409, "no controller runs in this process: use `rollsafe rollback`")
        try:
            return self.executor.request(
                target,
                trigger="manual:api",
                actor=who.actor,
                reason=body.reason,
                restore_point=body.restore_point,
                force=body.force,
            )
        except errors.ConfigError as exc:
            raise _Refused(404, str(exc)) from None
        except errors.StoreError as exc:
            log.error("cannot open a run for %s: %s", target, exc)  # noqa: TRY400
            raise _Refused(503, "the store is unavailable; retry later") from None

    def mark_upgrade(self, target: str, *, who: roles.Principal, body: Upgrade) -> dict[str, Any]:
        """Record an upgrade made by another tool (``runtime.marking``): 404 for a target
        that is not configured, so a typo in a hook never marks nothing silently."""
        if target not in {t.id for t in self.config.targets}:
            raise _Refused(404, f"unknown target {target!r}")
        entry = marking.record_upgrade(
            self.store,
            ids.TargetId(target),
            actor=who.actor,
            at=self.clock.now(),
            via="api",
            note=body.note,
            version=body.version,
            packages=[
                marking.PackageChange(name=p.name, old=p.old, new=p.new, action=p.action)
                for p in body.packages
            ],
            started=body.started,
        )
        return {
            "target": target,
            "started": body.started,
            "time": entry.time,
            "actor": entry.actor,
            "note": entry.reason,
            "version": body.version,
            "packages": len(body.packages),
        }

    def release(self, target: str, *, who: roles.Principal, body: Release) -> dict[str, Any]:
        tid = ids.TargetId(target)
        record = next((r for r in self.store.list_targets() if r.id == tid), None)
        if record is None:
            raise _Refused(404, f"unknown target {target!r}")
        if not record.quarantined:
            return {"target": target, "quarantined": False, "changed": False}
        self.store.set_quarantine(
            tid,
            reason=None,
            audit=audit_events.AuditEntry(
                time=self.clock.now(),
                actor=who.actor,
                action="target.released",
                target=target,
                reason=body.reason,
                details={"was": record.quarantine_reason, "via": "api"},
                result="released",
            ),
        )
        return {"target": target, "quarantined": False, "changed": True}


def _run_json(run: runs.RollbackRun | None) -> dict[str, Any] | None:
    return None if run is None else run.to_json()


def _state_of(
    decisions: list[verdicts.Decision],
    open_run: runs.RollbackRun | None,
    *,
    record: repositories.TargetRecord | None,
    last_run: runs.RollbackRun | None = None,
) -> str:
    """One word for the fleet view: what a person should notice first.

    A verified rollback (the last run succeeded) answers every decision made before it ended:
    such a decision describes the version that was rolled back, and a rule that has not
    judged again since would otherwise keep the target ``critical`` after it recovered. Only
    a decision newer than the rollback counts again.
    """
    if open_run is not None:
        if open_run.state is runs.RunState.AWAITING_APPROVAL:
            return "awaiting_approval"
        return "rolling_back"
    if record is not None and record.quarantined:
        return "quarantined"
    recovered_at = (
        last_run.updated_at
        if last_run is not None and last_run.state is runs.RunState.SUCCEEDED
        else None
    )
    if recovered_at is not None:
        decisions = [d for d in decisions if d.time > recovered_at]
        if not any(d.severity > verdicts.Severity.OK for d in decisions):
            return "recovered"
    worst = max((d.severity for d in decisions), default=None)
    if worst is None:
        return "unknown"
    if worst is verdicts.Severity.CRITICAL:
        return "critical"
    if worst is verdicts.Severity.WARNING:
        blind_only = all(d.rule.startswith("blind:") for d in decisions if d.severity is worst)
        return "blind" if blind_only else "warning"
    return "ok"


def _thresholds(config: models.RollsafeConfig, target_id: str) -> list[dict[str, Any]]:
    """The rule thresholds a chart of ``target_id``'s signals can draw."""
    try:
        target = config.target(target_id)
    except KeyError:
        return []
    found: list[dict[str, Any]] = []
    for rule in config.rules:
        if not models.selects(rule.targets, target):
            continue
        common = {"rule": rule.id, "kind": rule.kind, "severity": rule.severity}
        if isinstance(rule, models.ThresholdRule):
            found.append(
                {**common, "source": rule.probe, "field": rule.field, "op": rule.op,
                 "value": rule.value, "label": f"{rule.field} {rule.op} {rule.value:g}"}
            )  # fmt: skip
        elif isinstance(rule, models.RatioRule):
            when = rule.when
            found.append(
                {**common, "source": rule.probe, "field": when.field, "op": when.op,
                 "value": when.value,
                 "label": f"{when.field} {when.op} {when.value:g} in > {rule.above:.0%} "
                 f"of {rule.window:g}s"}
            )  # fmt: skip
        elif isinstance(rule, models.RateRule):
            found.append(
                {**common, "source": rule.probe, "field": "value", "op": ">", "value": None,
                 "label": f"more than {rule.above:g} per {rule.per:g}s over {rule.window:g}s"}
            )  # fmt: skip
        elif isinstance(rule, models.BaselineRule):
            found.append(
                {**common, "source": rule.probe, "field": rule.field, "op": ">", "value": None,
                 "label": f"{rule.aggregate} > {rule.max_increase:g}x the {rule.before:g}s "
                 "before the upgrade"}
            )  # fmt: skip
    return found


def router(service: OperatorService) -> fastapi.APIRouter:
    """The ``/api/v1`` routes, bound to ``service``."""
    api = fastapi.APIRouter(prefix="/api/v1", tags=["people"])

    async def answer(work: Callable[[], Any], *, status: int = 200) -> responses.JSONResponse:
        try:
            return responses.JSONResponse(await service.read(work), status_code=status)
        except _Refused as refused:
            return responses.JSONResponse({"error": refused.reason}, status_code=refused.status)

    def act(work: Callable[[], Any], *, status: int = 200) -> responses.JSONResponse:
        # Writes run on the loop: the executor's wake-ups are asyncio events.
        try:
            return responses.JSONResponse(work(), status_code=status)
        except _Refused as refused:
            return responses.JSONResponse({"error": refused.reason}, status_code=refused.status)

    @api.get("/whoami", summary="The holder and role of this token")
    async def whoami(who: Viewer) -> dict[str, str]:
        return {"name": who.name, "role": who.role, "actor": who.actor}

    @api.get("/fleet", summary="Every target: state, latest decisions and evidence, runs")
    async def fleet(who: Viewer) -> responses.JSONResponse:
        return await answer(service.fleet)

    @api.get("/targets/{target}/signals", summary="Observations, thresholds, marks, decisions")
    async def signals(
        target: str, who: Viewer, since: float | None = None, until: float | None = None
    ) -> responses.JSONResponse:
        return await answer(lambda: service.signals(target, since=since, until=until))

    @api.get("/runs", summary="Rollback runs, oldest first")
    async def list_runs(
        who: Viewer,
        target: str | None = None,
        open_only: Annotated[bool, fastapi.Query(alias="open")] = False,
        limit: Annotated[int, fastapi.Query(ge=1, le=1000)] = 100,
    ) -> responses.JSONResponse:
        def work() -> list[dict[str, Any]]:
            found = service.store.list_runs(
                target=ids.TargetId(target) if target else None, open_only=open_only, limit=limit
            )
            return [run.to_json() for run in found]

        return await answer(work)

    @api.get("/runs/{run_id}", summary="One run: its steps and its audit events")
    async def get_run(run_id: str, who: Viewer) -> responses.JSONResponse:
        return await answer(lambda: service.run_report(run_id))

    @api.get("/audit", summary="Audit events (the newest `limit`, or those after `since_seq`)")
    async def audit(
        who: Viewer,
        since_seq: Annotated[int | None, fastapi.Query(ge=0)] = None,
        target: str | None = None,
        limit: Annotated[int, fastapi.Query(ge=1, le=1000)] = 200,
    ) -> responses.JSONResponse:
        return await answer(lambda: service.audit(since_seq=since_seq, target=target, limit=limit))

    @api.get("/rollouts", summary="Rollouts with their waves and targets")
    async def rollouts(
        who: Viewer, limit: Annotated[int, fastapi.Query(ge=1, le=100)] = 20
    ) -> responses.JSONResponse:
        return await answer(lambda: service.rollouts(limit=limit))

    @api.post("/runs/{run_id}/approve", summary="Approve a run waiting for a person (operator)")
    async def approve(run_id: str, body: Decide, who: Operator) -> responses.JSONResponse:
        return act(lambda: service.decide(run_id, "approve", who=who, body=body).to_json())

    @api.post("/runs/{run_id}/reject", summary="Reject a run waiting for a person (operator)")
    async def reject(run_id: str, body: Decide, who: Operator) -> responses.JSONResponse:
        return act(lambda: service.decide(run_id, "reject", who=who, body=body).to_json())

    @api.post(
        "/targets/{target}/rollback",
        status_code=202,
        summary="Start a manual rollback of a target (operator)",
    )
    async def rollback(target: str, body: Rollback, who: Operator) -> responses.JSONResponse:
        return act(lambda: service.rollback(target, who=who, body=body).to_json(), status=202)

    @api.post(
        "/targets/{target}/upgrades",
        status_code=201,
        summary="Record an upgrade made by another tool (operator)",
    )
    async def mark_upgrade(target: str, body: Upgrade, who: Operator) -> responses.JSONResponse:
        return await answer(lambda: service.mark_upgrade(target, who=who, body=body), status=201)

    @api.post("/targets/{target}/release", summary="Lift a target's quarantine (admin)")
    async def release(target: str, body: Release, who: Admin) -> responses.JSONResponse:
        return await answer(lambda: service.release(target, who=who, body=body))

    return api
