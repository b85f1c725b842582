"""``/api/v1/views/...``: the dashboard's read-only views, bounded in time and paged.

Role in the loop (interfaces): what a person looks at to understand a judgement after the
fact. Every route needs a viewer's token (``roles``), reads the store only, and answers JSON;
a bad parameter is a 400 ``{"error": reason}`` naming it, a store failure a 503.

- ``targets/{id}/judged``: per rule, the quantity the rule judged (a threshold rule's value, a
  ratio, a rate, a baseline or cohort rule's current value with its baseline and limit) as
  recorded in the evidence of each stored decision, the rule's threshold, the decisions
  (severity markers), the upgrade/rollback marks and the rollback runs' start and end. The
  judge stores a decision when its outcome changes, so the points are those moments, not a
  sample per probe.
- ``audit`` and ``runs``: filtered (target, action prefix or run state, time) and paged
  newest first with ``offset``/``limit`` (at most ``MAX_PAGE`` a page).
- ``targets/{id}/restore-points``: the target's restore points with the runs that restored
  them, and its upgrades with the version before and after each (from the audit details of
  ``upgrade.*`` entries: ``version``, and the package changes with their old and new
  versions).

Time windows are ``range`` (15m, 1h, 6h, 24h, 7d: ending now) or ``since``/``until`` (Unix
seconds), never longer than ``MAX_SPAN``, so a query's cost is bounded. ``judged`` without
either spans from 15 minutes before the target's latest upgrade to now.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import fastapi
from fastapi import responses

from rollsafe.domain import clocks, errors, ids, runs
from rollsafe.interfaces.api import roles
from rollsafe.storage import repositories

__all__ = ["MAX_PAGE", "MAX_SPAN", "RANGES", "router"]

log = logging.getLogger("rollsafe.api")

_T = TypeVar("_T")
RANGES = {"15m": 900.0, "1h": 3600.0, "6h": 21_600.0, "24h": 86_400.0, "7d": 604_800.0}
MAX_SPAN = RANGES["7d"]
MAX_PAGE = 200
_MARK = "mark:"
_DECISION_LIMIT = 5000
_MARK_LIMIT = 1000
_RUN_SCAN = 10_000
_PACKAGES_SHOWN = 50  # of an upgrade's package changes (their versions before and after)
_BEFORE_UPGRADE = 900.0  # the default window starts this long before the latest upgrade

Viewer = Annotated[roles.Principal, fastapi.Depends(roles.viewer)]
Offset = Annotated[int, fastapi.Query(ge=0, le=1_000_000)]
Limit = Annotated[int, fastapi.Query(ge=1, le=MAX_PAGE)]
Range = Annotated[str | None, fastapi.Query(alias="range")]


class Paging:
    """The query parameters of a paged view (``audit``, ``runs``): its time filter, ``range``
    or ``since``/``until`` (none: the whole history), and the page, ``offset``/``limit``."""

    def __init__(
        self,
        range_: Range = None,
        since: float | None = None,
        until: float | None = None,
        offset: Offset = 0,
        limit: Limit = 50,
    ) -> None:
        self.range_, self.since, self.until = range_, since, until
        self.offset, self.limit = offset, limit

    def bounds(self, now: float) -> tuple[float | None, float | None]:
        """The time filter: none unless asked (the whole history, up to ``until`` if given);
        with ``range`` or ``since``, the window they ask for (``window``: bounded, checked)."""
        if self.range_ is None and self.since is None:
            return None, self.until
        return window(now, range_=self.range_, since=self.since, until=self.until)

    def page(self, newest_first: list[Any], *, key: str) -> dict[str, Any]:
        """The answer: ``newest_first``'s count and this page of it (each item's JSON)."""
        return {
            "total": len(newest_first),
            "offset": self.offset,
            "limit": self.limit,
            key: [item.to_json() for item in newest_first[self.offset : self.offset + self.limit]],
        }


Paged = Annotated[Paging, fastapi.Depends()]


class _Bad(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def window(
    now: float, *, range_: str | None, since: float | None, until: float | None
) -> tuple[float, float]:
    """The ``(since, until)`` a request asks for; _Bad(400) names what is wrong."""
    if range_ is not None:
        if since is not None:
            raise _Bad(400, "give either range or since/until, not both")
        span = RANGES.get(range_)
        if span is None:
            raise _Bad(400, f"range must be one of {', '.join(RANGES)}; got {range_!r}")
        end = now if until is None else until
        return end - span, end
    end = now if until is None else until
    start = end - RANGES["1h"] if since is None else since
    if start > end:
        raise _Bad(400, "since is after until")
    if end - start > MAX_SPAN:
        raise _Bad(400, f"the window is longer than {MAX_SPAN / 86_400:g} days")
    return start, end


def _judged(kind: str, evidence: dict[str, Any]) -> dict[str, Any] | None:
    """What a rule of ``kind`` judged, from one decision's evidence; None: nothing numeric."""

    def num(key: str) -> float | None:
        value = evidence.get(key)
        return (
            float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
        )

    def limit_of(base: float | None) -> float | None:
        factor = num("max_increase")
        if base is None or factor is None:
            return None
        return base + abs(base) * (factor - 1.0)  # as judge.rules._limit and judge.cohorts

    value_key, quantity = {
        "threshold": ("value", str(evidence.get("field") or "value")),
        "ratio": ("ratio", f"share with {evidence.get('when', '')}"),
        "rate": ("rate", f"rate per {evidence.get('per_s', '')}s"),
        "baseline": ("current", f"{evidence.get('aggregate', '')} {evidence.get('field') or ''}"),
        "cohort": ("canary", f"canary {evidence.get('aggregate', '')}"),
    }.get(kind, ("", ""))
    if not value_key:
        return None
    judged: dict[str, Any] = {"quantity": quantity.strip(), "value": num(value_key)}
    if kind == "threshold":
        judged.update(limit=num("threshold"), op=evidence.get("op"), baseline=None)
    elif kind in {"ratio", "rate"}:
        judged.update(limit=num("above"), op=">", baseline=None)
    else:  # the band between the baseline and the limit the rule allows above it
        base = num("baseline")
        judged.update(baseline=base, limit=limit_of(base), op=">")
    return judged
    return None


class ViewService:
    """The reads behind the views, over one store."""

    def __init__(
        self,
        *,
        store: repositories.Store,
        clock: clocks.Clock,
        configured: frozenset[str] = frozenset(),
    ) -> None:
        self.store = store
        self.clock = clock
        self.configured = configured  # targets of the configuration, known before first sync

    async def read(self, work: Callable[[], _T]) -> _T:
        try:
            return await asyncio.to_thread(work)
        except errors.StoreError as exc:
            log.error("view read failed: %s", exc)  # noqa: TRY400 - the reason is the message
            raise _Bad(503, "the store is unavailable; retry later") from None

    def _known(self, target: str) -> ids.TargetId:
        tid = ids.TargetId(target)
        if target not in self.configured and self.store.get_target(tid) is None:
            raise _Bad(404, f"unknown target {target!r}")
        return tid

    def around_upgrade(self, target: str) -> tuple[float, float]:
        """The default window: from shortly before the latest upgrade (or the last hour) to now,
        starting no earlier than the target's first decision in it (a young target's charts
        would otherwise be squeezed against their right edge)."""
        tid = self._known(target)
        now = self.clock.now()
        upgrades = self.store.list_observations(target=tid, source=f"{_MARK}upgrade", limit=1)
        since = upgrades[-1].time - _BEFORE_UPGRADE if upgrades else now - RANGES["1h"]
        first = self.store.list_decisions(target=tid, since=since, limit=_DECISION_LIMIT)
        if first:
            since = max(since, min(first[0].time, upgrades[-1].time if upgrades else now) - 30)
        return since, now

    def judged(self, target: str, since: float, until: float) -> dict[str, Any]:
        tid = self._known(target)
        decisions = [
            d
            for d in self.store.list_decisions(target=tid, since=since, limit=_DECISION_LIMIT)
            if d.time <= until
        ]
        rules: dict[str, dict[str, Any]] = {}
        for d in decisions:
            kind = str(d.evidence.get("kind", ""))
            entry = rules.setdefault(
                d.rule, {"rule": d.rule, "kind": kind, "quantity": None, "op": None, "points": []}
            )
            judged = _judged(kind, dict(d.evidence))
            if judged is None or judged["value"] is None:
                continue  # no data, or a rule without a number of its own (composite, blind)
            entry["quantity"] = judged["quantity"]
            entry["op"] = judged["op"]
            entry["points"].append(
                {"time": d.time, "value": judged["value"], "limit": judged["limit"],
                 "baseline": judged.get("baseline"), "severity": d.severity.label}
            )  # fmt: skip
        marks = [
            {"time": o.time, "name": o.source.removeprefix(_MARK)}
            for source in (f"{_MARK}upgrade", f"{_MARK}rollback")
            for o in self.store.list_observations(
                target=tid, source=source, since=since, limit=_MARK_LIMIT
            )
            if o.time <= until
        ]
        found_runs = [
            {"id": r.id, "state": r.state.value, "start": r.created_at,
             "end": None if r.open else r.updated_at}
            for r in self.store.list_runs(target=tid, limit=_RUN_SCAN)
            if r.created_at <= until and (r.open or r.updated_at >= since)
        ]  # fmt: skip
        return {
            "target": target,
            "since": since,
            "until": until,
            "rules": list(rules.values()),
            "decisions": [
                {"time": d.time, "rule": d.rule, "severity": d.severity.label, "summary": d.summary}
                for d in decisions
            ],
            "marks": sorted(marks, key=lambda m: m["time"]),
            "runs": found_runs,
        }

    def audit(self, *, target: str | None, action: str | None, paging: Paging) -> dict[str, Any]:
        since, until = paging.bounds(self.clock.now())
        # Newest first: keep only the last offset+limit matches while scanning in order; the
        # total counts them all.
        keep: collections.deque[Any] = collections.deque(maxlen=paging.offset + paging.limit)
        total = 0
        for event in self.store.list_audit_events(target=target):
            e = event.entry
            if action and not e.action.startswith(action):
                continue
            if (since is not None and e.time < since) or (until is not None and e.time > until):
                continue
            total += 1
            keep.append(event)
        answer = paging.page(list(reversed(keep)), key="events")
        answer["total"] = total
        return answer

    def runs(self, *, target: str | None, state: str | None, paging: Paging) -> dict[str, Any]:
        since, until = paging.bounds(self.clock.now())
        if state is not None and state not in {s.value for s in runs.RunState}:
            known = ", ".join(s.value for s in runs.RunState)
            raise _Bad(400, f"state must be one of {known}; got {state!r}")
        found = [
            r
            for r in self.store.list_runs(
                target=ids.TargetId(target) if target else None, since=since, limit=_RUN_SCAN
            )
            if (state is None or r.state.value == state)
            and (until is None or r.created_at <= until)
        ]
        found.reverse()
        return paging.page(found, key="runs")

    def restore_points(self, target: str) -> dict[str, Any]:
        tid = self._known(target)
        all_runs = self.store.list_runs(target=tid, limit=_RUN_SCAN)
        points = []
        for point in reversed(self.store.list_restore_points(tid)):
            used = [
                {"id": r.id, "state": r.state.value, "at": r.updated_at}
                for r in all_runs
                if r.restore_point == point.id
            ]
            points.append({**point.to_json(), "restored_by": used})
        upgrades = []
        version: str | None = None
        for event in self.store.list_audit_events(target=target):
            e = event.entry
            if not (e.action.startswith("upgrade.") or e.action.endswith(".marked")):
                continue
            if "upgrade" not in e.action:
                continue
            after = e.details.get("version")
            after = None if after is None else str(after)
            before = e.details.get("from_version") or e.details.get("previous_version") or version
            changed = e.details.get("packages")
            changed = changed if isinstance(changed, list) else []
            packages = [
                {"name": str(p.get("name", "")), "old": p.get("old"), "new": p.get("new"),
                 "action": p.get("action")}
                for p in changed[:_PACKAGES_SHOWN]
                if isinstance(p, dict)
            ]  # fmt: skip
            upgrades.append(
                {"seq": event.seq, "time": e.time, "action": e.action, "actor": e.actor,
                 "note": e.reason, "before": before, "after": after,
                 "restore_point": e.details.get("restore_point"), "packages": packages,
                 "packages_total": len(changed)}
            )  # fmt: skip
            version = after or version
        upgrades.reverse()
        return {"target": target, "restore_points": points, "upgrades": upgrades}


def router(service: ViewService) -> fastapi.APIRouter:
    """The view routes, bound to ``service``."""
    api = fastapi.APIRouter(prefix="/api/v1", tags=["people"])

    async def answer(work: Callable[[], Any]) -> responses.JSONResponse:
        try:
            return responses.JSONResponse(await service.read(work))
        except _Bad as bad:
            return responses.JSONResponse({"error": bad.reason}, status_code=bad.status)

    def span(range_: str | None, since: float | None, until: float | None) -> tuple[float, float]:
        return window(service.clock.now(), range_=range_, since=since, until=until)

    @api.get("/targets/{target}/judged", summary="What each rule judged over a time window")
    async def judged(
        target: str,
        who: Viewer,
        range_: Range = None,
        since: float | None = None,
        until: float | None = None,
    ) -> responses.JSONResponse:
        def work() -> dict[str, Any]:
            if range_ is None and since is None and until is None:
                start, end = service.around_upgrade(target)
            else:
                start, end = span(range_, since, until)
            return service.judged(target, start, end)

        return await answer(work)

    @api.get("/views/audit", summary="Audit events, filtered, newest first, paged")
    async def audit(
        *,
        who: Viewer,
        paging: Paged,
        target: str | None = None,
        action: Annotated[str | None, fastapi.Query(max_length=100)] = None,
    ) -> responses.JSONResponse:
        return await answer(
            lambda: service.audit(target=target or None, action=action or None, paging=paging)
        )

    @api.get("/views/runs", summary="Rollback runs, filtered, newest first, paged")
    async def list_runs(
        *, who: Viewer, paging: Paged, target: str | None = None, state: str | None = None
    ) -> responses.JSONResponse:
        return await answer(
            lambda: service.runs(target=target or None, state=state or None, paging=paging)
        )

    @api.get("/targets/{target}/restore-points", summary="Restore points and upgrades")
    async def restore_points(target: str, who: Viewer) -> responses.JSONResponse:
        return await answer(lambda: service.restore_points(target))

    return api
