"""The durable run executor: a decision (or a person) becomes a verified rollback (execute stage).

``Executor.request`` opens one ``RollbackRun`` per target, behind the safety governors
(``rollsafe.execute.governors``). ``Executor.drive`` moves a run through its state machine
(``rollsafe.domain.runs``) to a terminal state::

    pending -> prechecking -> [awaiting_approval] -> executing -> verifying -> succeeded
                                                                        \\--> failed

Every transition is one store write carrying its audit entry (one transaction), and every
driver step is written ``started`` before the driver is called and ``done``/``failed`` after,
under the step's idempotency key. A controller killed at any instant therefore leaves a run
that ``drive`` resumes: a step recorded ``started`` but not ``done`` is invoked again with the
SAME key (drivers are idempotent by key), a ``done`` step is never invoked again.

Failure policy: a failed run is never retried automatically. The executor quarantines its
target (``store.set_quarantine``) before recording the failure, so every later automatic
request for the target is BLOCKED until a person releases it. While a target is quarantined,
repeated automatic requests return the latest blocked/failed run instead of opening (and
auditing) a new one each evaluation; a person's request (trigger ``manual...``) always gets its
own BLOCKED run, so they see why nothing happened, unless it is forced (``force=True``: past the
quarantine, audited ``forced``). The rate limit and the fleet breaker brake automatic runs
only: the manual channel always works.

Approval: the mode is the triggering rule's ``approval`` (trigger ``decision:<rule>``), else
``policy.approval``. ``auto`` goes straight on. Otherwise the run waits in
``awaiting_approval`` with a stored deadline (``policy.approval_timeout``): ``approve`` lets it
go on, ``reject`` ends it ``rejected``; at the deadline ``unless_rejected`` proceeds and
``require_approval`` does what ``policy.on_approval_timeout`` says: ``escalate`` (default) fails
it ("approval timed out", which escalates like any failure), ``proceed`` goes on. A manual
request is approved by the person who made it. A run waiting for a person gives its
concurrency slot back while it waits. Decisions are ``rollsafe.execute.approvals.decide``
(compare-and-set on the stored run, so a rejection and the deadline cannot both win).

Serving: ``serve`` is the durable-controller skeleton (``rollsafe.execute.serve_loop``) over the
open runs: one guarded task per run, woken by ``request``, every write fenced with the leader
term's token; at a stop only runs that are acting (calling the driver or the verifier) get
the shutdown grace, and a halt (lease lost, a write fenced out) stops every run at once.

Fault injection (a TEST HOOK for the crash test, one environment lookup per boundary): when
``ROLLSAFE_FAULT_KILL_AT`` equals a boundary name, the process SIGKILLs itself at that
boundary (``serve_loop.kill_at_boundary``), right after the store write it names. The
boundaries, in the order a run passes them (``fault_boundaries`` lists them for a given number
of steps):

- ``after:run.opened``            the pending run is stored
- ``after:state.prechecking``     the run is prechecking, restore point chosen
- ``after:state.awaiting_approval``  (only when a person must decide)
- ``after:state.executing``       approval passed
- ``before:step:<i>``             step ``i`` is stored ``started``; the driver is not called yet
- ``after:step:<i>``              step ``i`` is stored ``done``
- ``after:state.verifying``       every step is done; verification has not started

and, on the failure path only, ``after:step:<i>:failed`` (step ``i`` is stored ``failed``, the
run not yet).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, Unpack

from rollsafe.config import models, step_limits
from rollsafe.domain import (
    audit_events,
    clocks,
    errors,
    ids,
    observations,
    restore_points,
    runs,
)
from rollsafe.execute import approvals, breaker, driving, governors, serve_loop
from rollsafe.storage import repositories

__all__ = [
    "FAULT_ENV",
    "VERIFY_GRACE_S",
    "Executor",
    "RunNotFound",
    "Verifier",
    "VerifyOutcome",
    "fault_boundaries",
    "is_automatic",
    "kill_at_boundary",
    "target_records",
]

_log = logging.getLogger(__name__)

FAULT_ENV = serve_loop.FAULT_ENV
kill_at_boundary = serve_loop.kill_at_boundary
VERIFY_GRACE_S = 5.0
"""Extra time over ``policy.verify_timeout`` before the executor stops waiting for the
verifier: the verifier gives up at ``verify_timeout`` itself and reports what was unhealthy."""

_OUTPUT_LIMIT = 2000
_APPROVED = approvals.APPROVED
_TIMEOUT = approvals.TIMEOUT
# Terminal states an automatic request may be answered with instead of a new run.
_QUARANTINE_ANSWERS = frozenset(
    {runs.RunState.BLOCKED, runs.RunState.FAILED, runs.RunState.REJECTED, runs.RunState.DRY_RUN}
)
_REPEAT_ANSWERS = frozenset({runs.RunState.DRY_RUN, runs.RunState.REJECTED})


def fault_boundaries(step_count: int, *, approval: bool = False) -> list[str]:
    """Every fault boundary a run with ``step_count`` steps passes, in order."""
    names = ["after:run.opened", "after:state.prechecking"]
    if approval:
        names.append("after:state.awaiting_approval")
    names.append("after:state.executing")
    for index in range(step_count):
        names += [f"before:step:{index}", f"after:step:{index}"]
    names.append("after:state.verifying")
    return names


@dataclass(frozen=True, slots=True)
class VerifyOutcome:
    """What a verifier concluded: ``summary`` names what is still unhealthy when not ok."""

    ok: bool
    summary: str
    details: dict[str, Any] = field(default_factory=dict)


class Verifier(Protocol):
    """Proves a rolled-back target healthy and consistent with its restore point."""

    async def verify(
        self, target: models.Target, point: restore_points.RestorePoint
    ) -> VerifyOutcome: ...


RunNotFound = approvals.RunNotFound
"""No run with this id in the store (defined with the approvals, which raise it too)."""


def is_automatic(trigger: str) -> bool:
    """True for triggers that are not a person asking (``manual`` and ``manual:...``)."""
    return not trigger.startswith("manual")


class Executor:
    """Opens, drives and resumes rollback runs; the only code that calls ``Driver.rollback``.

    ``on_audit`` is called with each audit entry right after it is stored (the CLI prints
    progress with it). ``fault`` is called at every fault boundary (default:
    ``kill_at_boundary``); tests pass a hook that raises to simulate a crash in-process.
    """

    def __init__(
        self,
        *,
        config: models.RollsafeConfig,
        store: repositories.Store,
        drivers: Mapping[str, driving.Driver],
        verifier: Verifier,
        clock: clocks.Clock,
        actor: str = "rollsafe",
        on_audit: Callable[[audit_events.AuditEntry], None] | None = None,
        fault: Callable[[str], None] = kill_at_boundary,
        poll_interval: float = 0.5,
        step_retries: int = 3,
        retry_backoff: float = 1.0,
        shutdown_grace: float = 30.0,
    ) -> None:
        self._config = config
        self._policy = config.policy
        self._store = store
        self._drivers = dict(drivers)
        self._verifier = verifier
        self._clock = clock
        self._actor = actor
        self._on_audit = on_audit
        self._fault = fault
        self._poll_interval = poll_interval
        self._step_retries = step_retries
        self._retry_backoff = retry_backoff
        self._shutdown_grace = shutdown_grace
        self.limit = governors.ConcurrencyLimit(config.policy.max_concurrent_runs)
        # Events are bound to the loop that first waits on them, so they are made per loop.
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._decided: asyncio.Event | None = None
        self._acting: set[ids.RunId] = set()

    # ------------------------------------------------------------------ requests

    def request(
        self,
        target_id: str,
        *,
        trigger: str,
        actor: str,
        reason: str,
        evidence: dict[str, Any] | None = None,
        restore_point: str | None = None,
        force: bool = False,
    ) -> runs.RollbackRun:
        """Open one run for ``target_id`` (or return the one already open); never acts itself.

        A person's request (trigger ``manual...``) is never stopped by the rate limit, which
        is a brake on automatic loops; with ``force`` it also goes past a quarantine (the
        fleet breaker holds automatic runs only), and ``run.opened`` says what it went past.

        Raises ConfigError for a target that is not in the configuration, or a
        ``restore_point`` that is not one of the target's, before anything is written.
        """
        target = self._target(target_id)
        tid = ids.TargetId(target.id)
        now = self._clock.now()
        if force and is_automatic(trigger):
            raise ValueError("only a person's request can be forced")
        if restore_point is not None:
            self._check_point(tid, restore_point)
        if is_automatic(trigger):
            # Every automatic request re-assesses the fleet: trips (and pages) when it must.
            self._emit_breaker(breaker.consider(self._store, self._config, now=now)[1])
        already = self._store.list_runs(target=tid, open_only=True, limit=1)
        if already:
            return already[0]
        automatic = is_automatic(trigger)
        latest = self._latest_run(tid)
        # A run a governor stopped before it started: born terminal, recorded all the same.
        refused = functools.partial(
            self._open_refused,
            target=tid,
            trigger=trigger,
            actor=actor,
            reason=reason,
            evidence=evidence,
            now=now,
        )

        forced: dict[str, Any] = {}
        refusal = governors.check_quarantine(self._target_record(tid))
        if refusal is not None and force:
            forced[refusal.governor] = refusal.reason
            refusal = None
        if refusal is not None:
            if automatic and latest is not None and latest.state in _QUARANTINE_ANSWERS:
                return latest  # the person was already asked; do not flood the audit
            return refused(runs.RunState.BLOCKED, refusal)
        if (
            automatic
            and latest is not None
            and latest.state in _REPEAT_ANSWERS
            and latest.trigger == trigger
            and latest.created_at >= now - self._policy.rollback_window
        ):
            return latest  # same decision again: already dry-run or rejected in this window

        refusal = governors.dry_run(self._policy)
        if refusal is not None:
            return refused(runs.RunState.DRY_RUN, refusal)

        # The rate limit stops automatic loops; a person asking is the escape from them.
        refusal = (
            governors.check_rate_limit(self._store, tid, policy=self._policy, now=now)
            if automatic
            else None
        )
        if refusal is not None:
            blocked = refused(runs.RunState.BLOCKED, refusal)
            self._emit(
                governors.trip(
                    self._store, tid, refusal, actor=self._actor, now=now, run_id=blocked.id
                )
            )
            _log.warning("governor tripped for %s: %s", tid, refusal.reason)
            return blocked

        run = runs.RollbackRun(
            id=ids.new_run_id(),
            target=tid,
            state=runs.RunState.PENDING,
            trigger=trigger,
            actor=actor,
            reason=reason,
            created_at=now,
            updated_at=now,
            restore_point=ids.RestorePointId(restore_point) if restore_point else None,
            approval=self._approval_for(trigger, actor=actor, automatic=automatic),
            evidence=dict(evidence or {}),
        )
        entry = self._entry(
            run,
            "run.opened",
            actor=actor,
            reason=reason,
            details={
                "trigger": trigger,
                "approval": run.approval.mode.value,
                "restore_point": run.restore_point,
                "evidence": run.evidence,
                **self._forced_details(force, forced),
            },
            result="forced" if force else "",
        )
        try:
            run = self._store.open_run(run, audit=entry)
        except repositories.OpenRunExistsError as exc:
            # Another process opened one between our check and our write: that one wins.
            existing = self._store.get_run(exc.run_id)
            if existing is None:
                raise errors.StoreError(f"run {exc.run_id} is open but cannot be read") from exc
            return existing
        self._emit(entry)
        self._fault("after:run.opened")
        if self._wake is not None:
            self._wake.set()
        return run

    def approve(
        self, run_id: str, *, actor: str, reason: str, **how: Unpack[approvals.How]
    ) -> runs.RollbackRun:
        """A person lets a run waiting in ``awaiting_approval`` go on (``approvals.decide``)."""
        return self._decide(run_id, "approve", actor=actor, reason=reason, **how)

    def reject(
        self, run_id: str, *, actor: str, reason: str, **how: Unpack[approvals.How]
    ) -> runs.RollbackRun:
        """A person stops a run waiting in ``awaiting_approval``: it ends ``rejected``."""
        return self._decide(run_id, "reject", actor=actor, reason=reason, **how)

    def _decide(
        self,
        run_id: str,
        verdict: approvals.Verdict,
        *,
        actor: str,
        reason: str,
        **how: Unpack[approvals.How],
    ) -> runs.RollbackRun:
        run, entry = approvals.decide(
            self._store, run_id, verdict, actor=actor, reason=reason, now=self._clock.now(), **how
        )
        self._emit(entry)
        if self._decided is not None:
            self._decided.set()
        return run

    # ------------------------------------------------------------------ driving

    async def drive(self, run_id: str) -> runs.RollbackRun:
        """Run ``run_id`` to a terminal state, resuming wherever it stopped.

        Never raises for a failure of the run itself (that is the FAILED state); an unexpected
        error is logged and recorded as the run's failure. Cancellation leaves the run where
        it is, to be resumed.
        """
        try:
            return await self._drive(ids.RunId(run_id))
        except (RunNotFound, errors.FencedOut):
            raise  # fenced out: another replica leads and drives this run; write nothing more
        except Exception as exc:
            _log.exception("run %s crashed", run_id)
            run = self._store.get_run(ids.RunId(run_id))
            if run is None or not run.open:
                raise
            return self._fail(run, f"internal error: {type(exc).__name__}: {exc}")

    async def _drive(self, run_id: ids.RunId) -> runs.RollbackRun:
        run = self._load(run_id)
        if not run.open:
            return run
        driving.recording_api_calls(self._api_call_recorder(run))
        try:
            target = self._config.target(run.target)
        except KeyError:
            return self._fail(run, f"target {run.target} is no longer in the configuration")
        if target.driver is None or target.driver not in self._drivers:
            return self._fail(run, f"target {target.id} has no usable driver ({target.driver})")
        driver = self._drivers[target.driver]

        async with self.limit.slot() as slot:
            if run.state is runs.RunState.PENDING:
                run = self._start(run, driver)
                if not run.open:
                    return run
            point = self._store.get_restore_point(run.restore_point) if run.restore_point else None
            if point is None:
                return self._fail(run, f"restore point {run.restore_point} is missing")
            if run.state is runs.RunState.PRECHECKING:
                run = await self._precheck(run, target, point, driver)
            if run.state is runs.RunState.AWAITING_APPROVAL:
                if run.approval.decision is None:
                    async with slot.released():
                        run = await self._wait_for_person(run)
                if not run.open:
                    return run
                run = self._move(run, runs.RunState.EXECUTING, "run.state.executing")
                self._fault("after:state.executing")
            self._acting.add(run.id)
            try:
                if run.state is runs.RunState.EXECUTING:
                    run = await self._execute(run, target, point, driver)
                if run.state is runs.RunState.VERIFYING:
                    run = await self._verify(run, target, point)
            finally:
                self._acting.discard(run.id)
        return run

    def _step_limit(self, driver: driving.Driver) -> float:
        """``policy.step_timeout``, or longer for a driver that waits longer by its settings."""
        try:
            configured: models.Driver | None = self._config.driver(driver.name)
        except KeyError:  # a driver built outside the config (tests, plug-ins)
            configured = None
        return step_limits.for_driver(self._policy, configured)

    def _start(self, run: runs.RollbackRun, driver: driving.Driver) -> runs.RollbackRun:
        """pending -> prechecking, with the restore point chosen and stored."""
        if run.restore_point is not None:
            point = self._store.get_restore_point(run.restore_point)
            if point is None or point.target != run.target:
                return self._fail(
                    run, f"restore point {run.restore_point} does not exist for {run.target}"
                )
        else:
            points = self._store.list_restore_points(run.target)
            if not points:
                return self._fail(run, "no restore point")
            point = points[-1]
        if point.driver != driver.name:
            return self._fail(
                run,
                f"restore point {point.id} was taken by driver {point.driver}, "
                f"the target now uses {driver.name}",
            )
        moved = dataclasses.replace(
            run.moved(runs.RunState.PRECHECKING, at=self._clock.now()), restore_point=point.id
        )
        self._save_run(
            moved,
            self._entry(
                moved,
                "run.state.prechecking",
                details={"restore_point": point.id, "point_created_at": point.created_at},
            ),
        )
        self._fault("after:state.prechecking")
        return moved

    async def _precheck(
        self,
        run: runs.RollbackRun,
        target: models.Target,
        point: restore_points.RestorePoint,
        driver: driving.Driver,
    ) -> runs.RollbackRun:
        limit = self._step_limit(driver)
        try:
            async with asyncio.timeout(limit):
                await driver.precheck(target, point)
        except errors.PrecheckFailed as exc:
            return self._fail(run, f"precheck failed: {exc}")
        except TimeoutError:
            return self._fail(run, f"precheck timed out after {limit:g}s")
        except errors.RollsafeError as exc:
            return self._fail(run, f"precheck failed: {type(exc).__name__}: {exc}")
        now = self._clock.now()
        run = self._breaker_gate(run)
        if run.approval.mode is runs.ApprovalMode.AUTO or run.approval.decision is not None:
            # Nobody to wait for: pass the gate in one write.
            ahead = run.moved(runs.RunState.AWAITING_APPROVAL, at=now).moved(
                runs.RunState.EXECUTING, at=now
            )
            self._save_run(
                ahead,
                self._entry(
                    ahead,
                    "run.state.executing",
                    details={
                        "approval": ahead.approval.mode.value,
                        "approved_by": ahead.approval.decided_by,
                    },
                ),
            )
            self._fault("after:state.executing")
            return ahead
        held = breaker.holding(run)  # held by the breaker: no deadline, a person decides
        deadline = None if held else now + self._policy.approval_timeout
        approval = dataclasses.replace(run.approval, deadline=deadline)
        waiting = dataclasses.replace(
            run.moved(runs.RunState.AWAITING_APPROVAL, at=now), approval=approval
        )
        self._save_run(
            waiting,
            self._entry(
                waiting,
                "run.state.awaiting_approval",
                details={
                    "approval": approval.mode.value,
                    "deadline": approval.deadline,
                    **({"breaker": waiting.evidence.get("breaker")} if held else {}),
                },
                result="escalated",
            ),
        )
        self._fault("after:state.awaiting_approval")
        return waiting

    async def _wait_for_person(self, run: runs.RollbackRun) -> runs.RollbackRun:
        """Until approved, rejected (possibly by another process) or past the deadline."""
        decided = self._events()[1]
        while True:
            decided.clear()
            fresh = self._load(run.id)
            if fresh.state is not runs.RunState.AWAITING_APPROVAL:
                return fresh
            if fresh.approval.decision is not None:
                return fresh
            now = self._clock.now()
            deadline = fresh.approval.deadline
            if deadline is not None and now >= deadline and not self._breaker_open():
                unless = fresh.approval.mode is runs.ApprovalMode.UNLESS_REJECTED
                if unless or self._policy.on_approval_timeout == "proceed":
                    approval = dataclasses.replace(
                        fresh.approval,
                        decided_by="policy",
                        decision=_TIMEOUT,
                        reason="nobody rejected it before the deadline"
                        if unless
                        else "nobody approved it before the deadline; the policy proceeds",
                    )
                    ahead = dataclasses.replace(fresh, approval=approval, updated_at=now)
                    entry = self._entry(
                        ahead,
                        "run.approval.timeout",
                        reason=approval.reason or "",
                        result="proceed",
                    )
                    try:
                        # Only if nobody decided since we looked: a rejection must win.
                        self._store.save_run(ahead, audit=entry, expected=fresh)
                    except repositories.StaleRunError:
                        continue
                    self._emit(entry)
                    return ahead
                return self._fail(fresh, "approval timed out")
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._poll_interval):
                    await decided.wait()

    async def _execute(
        self,
        run: runs.RollbackRun,
        target: models.Target,
        point: restore_points.RestorePoint,
        driver: driving.Driver,
    ) -> runs.RollbackRun:
        names = list(driver.rollback_steps(target, point))
        recorded = {step.index: step for step in self._store.list_steps(run.id)}
        for index, name in enumerate(names):
            prior = recorded.get(index)
            if prior is not None and prior.name != name:
                return self._fail(
                    run,
                    f"the driver's steps changed since step {index} was recorded "
                    f"({prior.name} -> {name}); a person must finish this rollback",
                )
            if prior is not None and prior.state is runs.StepState.DONE:
                continue  # its effect happened; never again
            if prior is not None and prior.state is runs.StepState.FAILED:
                return self._fail(run, f"step {name} failed: {prior.output}")
            failure = await self._run_step(
                run, target, point, driver, index=index, name=name, prior=prior
            )
            if failure is not None:
                return self._fail(run, failure)
        verifying = self._move(run, runs.RunState.VERIFYING, "run.state.verifying")
        self._fault("after:state.verifying")
        return verifying

    async def _run_step(
        self,
        run: runs.RollbackRun,
        target: models.Target,
        point: restore_points.RestorePoint,
        driver: driving.Driver,
        *,
        index: int,
        name: str,
        prior: runs.StepRecord | None,
    ) -> str | None:
        """Perform one step; None when done, else why it failed (already recorded)."""
        step = runs.StepRecord(
            run_id=run.id,
            index=index,
            name=name,
            state=runs.StepState.STARTED,
            started_at=self._clock.now(),
            attempt=prior.attempt + 1 if prior is not None else 1,
        )
        self._save_step(step, run, "run.step.started", resumed=prior is not None)
        self._fault(f"before:step:{index}")
        retries = 0
        while True:
            try:
                async with asyncio.timeout(self._step_limit(driver)):
                    output = await driver.rollback(target, point, step=name, key=step.key)
            except errors.DriverTemporaryError as exc:
                if retries >= self._step_retries:
                    why = f"step {name} still failing after {retries + 1} attempts: {exc}"
                    return self._step_failed(step, run, why)
                retries += 1
                delay = (
                    exc.retry_after
                    if exc.retry_after is not None
                    else self._retry_backoff * 2 ** (retries - 1)
                )
                step = dataclasses.replace(step, attempt=step.attempt + 1, output=str(exc))
                self._save_step(step, run, "run.step.retry", error=str(exc), delay_s=delay)
                await asyncio.sleep(delay)
                continue
            except TimeoutError:
                why = f"step {name} timed out after {self._step_limit(driver):g}s"
                return self._step_failed(step, run, why)
            except errors.RollsafeError as exc:
                return self._step_failed(step, run, f"step {name} failed: {exc}")
            except Exception as exc:  # noqa: BLE001 - a driver let a foreign error escape: fail the step, do not crash the run
                why = f"step {name} failed: {type(exc).__name__}: {exc}"
                return self._step_failed(step, run, why)
            break
        done = dataclasses.replace(
            step,
            state=runs.StepState.DONE,
            finished_at=self._clock.now(),
            output=(output or "")[:_OUTPUT_LIMIT],
        )
        self._save_step(done, run, "run.step.done", result=done.output)
        self._fault(f"after:step:{index}")
        return None

    def _step_failed(self, step: runs.StepRecord, run: runs.RollbackRun, why: str) -> str:
        failed = dataclasses.replace(
            step, state=runs.StepState.FAILED, finished_at=self._clock.now(), output=why
        )
        self._save_step(failed, run, "run.step.failed", result="failed", reason=why)
        self._fault(f"after:step:{step.index}:failed")
        return why

    async def _verify(
        self, run: runs.RollbackRun, target: models.Target, point: restore_points.RestorePoint
    ) -> runs.RollbackRun:
        limit = self._policy.verify_timeout + VERIFY_GRACE_S
        try:
            async with asyncio.timeout(limit):
                outcome = await self._verifier.verify(target, point)
        except TimeoutError:
            return self._fail(run, f"verification did not finish within {limit:g}s")
        except errors.VerificationFailed as exc:
            return self._fail(run, f"verification failed: {exc}")
        if not outcome.ok:
            return self._fail(
                run, f"verification failed: {outcome.summary}", details=outcome.details
            )
        now = self._clock.now()
        done = run.moved(runs.RunState.SUCCEEDED, at=now)
        self._save_run(
            done,
            self._entry(
                done,
                "run.succeeded",
                reason=outcome.summary,
                details=outcome.details,
                result="succeeded",
            ),
        )
        # A mark on the target's timeline, so the judge can tell "after the rollback" apart.
        mark = observations.Observation(
            time=now, target=run.target, source="mark:rollback", value=1.0
        )
        try:
            self._store.add_observations([mark])
        except errors.StoreError:
            _log.exception("could not record the rollback mark of run %s", run.id)
        return done

    # ------------------------------------------------------------------ serving

    async def serve(
        self,
        stop: asyncio.Event,
        *,
        fence: int | None = None,
        halt: asyncio.Event | None = None,
    ) -> None:
        """Resume every open run, then drive new ones as they come, until ``stop`` is set.

        Runs start oldest first; ``policy.max_concurrent_runs`` of them hold a slot at once and
        the rest wait in ``pending``. ``request`` in this process wakes the loop at once; runs
        opened by another process (the CLI, another replica's API) are found by polling.

        ``fence``: the leader-lease token every run write carries (the store refuses it once
        another replica leads). ``halt``: like ``stop`` but without the shutdown grace, for a
        leader that lost its lease and must stop acting at once.
        """
        wake, _ = self._events()
        loop = serve_loop.ServeLoop(
            kind="run",
            find=self._open_run_ids,
            drive=self.drive,
            poll_interval=self._poll_interval,
            shutdown_grace=self._shutdown_grace,
            # A run not acting just stops (its state is durable); one calling the driver or
            # the verifier is given the grace to finish that call.
            graced=lambda run_id: run_id in self._acting,
        )
        await loop.serve(stop, fence=fence, halt=halt, wake=wake)

    def _open_run_ids(self) -> list[str]:
        return [run.id for run in self._store.list_runs(open_only=True, limit=100_000)]

    # ------------------------------------------------------------------ helpers

    def _events(self) -> tuple[asyncio.Event, asyncio.Event]:
        loop = asyncio.get_running_loop()
        if self._loop is not loop or self._wake is None or self._decided is None:
            self._loop = loop
            self._wake = asyncio.Event()
            self._decided = asyncio.Event()
        return self._wake, self._decided

    def _target(self, target_id: str) -> models.Target:
        try:
            return self._config.target(target_id)
        except KeyError:
            raise errors.ConfigError(f"unknown target {target_id!r}") from None

    def _target_record(self, target: ids.TargetId) -> repositories.TargetRecord | None:
        record = self._store.get_target(target)
        if record is not None:
            return record
        # The store has not seen this target yet: the configuration is the source of truth.
        self._store.sync_targets(target_records(self._config))
        return None

    def _latest_run(self, target: ids.TargetId) -> runs.RollbackRun | None:
        recent = self._store.list_runs(
            target=target, since=self._clock.now() - self._policy.rollback_window, limit=10_000
        )
        return recent[-1] if recent else None

    def _approval_for(self, trigger: str, *, actor: str, automatic: bool) -> runs.Approval:
        mode = runs.ApprovalMode(self._policy.approval)
        if trigger.startswith("decision:"):
            rule_id = trigger.split(":", 1)[1]
            for rule in self._config.rules:
                if rule.id == rule_id and rule.approval is not None:
                    mode = runs.ApprovalMode(rule.approval)
        if mode is runs.ApprovalMode.AUTO or automatic:
            return runs.Approval(mode=mode)
        # A person asked for this rollback: their request is the approval.
        return runs.Approval(
            mode=mode, decided_by=actor, decision=_APPROVED, reason="requested by a person"
        )

    def _check_point(self, target: ids.TargetId, point_id: str) -> None:
        """A named restore point must be the target's: a typo is refused, nothing written."""
        point = self._store.get_restore_point(ids.RestorePointId(point_id))
        if point is not None and point.target == target:
            return
        known = [p.id for p in self._store.list_restore_points(target)][-5:]
        raise errors.ConfigError(
            f"no restore point {point_id!r} for {target} "
            f"(latest: {', '.join(known) if known else 'none taken yet'})"
        )

    def _forced_details(self, force: bool, forced: Mapping[str, Any]) -> dict[str, Any]:
        """What a forced request went past, for its ``run.opened`` audit entry."""
        if not force:
            return {}
        past = dict(forced)
        if self._breaker_open():
            past[breaker.FLAG] = "the fleet circuit breaker is open"
        return {"forced": True, "forced_past": past}

    def _breaker_gate(self, run: runs.RollbackRun) -> runs.RollbackRun:
        """An automatic run nobody approved yet waits for a person while the breaker is open."""
        if not is_automatic(run.trigger) or run.approval.decision is not None:
            return run
        if breaker.holding(run):
            return run
        state = breaker.read(self._store)
        if not state.open or not self._policy.circuit_breaker.enabled:
            return run
        _log.warning("circuit breaker open: run %s for %s waits for a person", run.id, run.target)
        return breaker.hold(run, state)

    def _breaker_open(self) -> bool:
        """At an approval deadline: an open breaker lets nothing proceed (or fail) by itself."""
        return self._policy.circuit_breaker.enabled and breaker.read(self._store).open

    def _emit_breaker(self, entry: audit_events.AuditEntry | None) -> None:
        if entry is not None:
            _log.error("circuit breaker tripped: %s", entry.reason)
            self._emit(entry)

    def _open_refused(
        self,
        state: runs.RunState,
        refusal: governors.Refusal,
        *,
        target: ids.TargetId,
        trigger: str,
        actor: str,
        reason: str,
        evidence: dict[str, Any] | None,
        now: float,
    ) -> runs.RollbackRun:
        """Record a run that a governor stopped before it started: born terminal."""
        run = runs.RollbackRun(
            id=ids.new_run_id(),
            target=target,
            state=state,
            trigger=trigger,
            actor=actor,
            reason=reason,
            created_at=now,
            updated_at=now,
            error=refusal.reason if state is runs.RunState.BLOCKED else None,
            evidence=dict(evidence or {}),
        )
        action = "run.blocked" if state is runs.RunState.BLOCKED else "run.dry_run"
        entry = self._entry(
            run,
            action,
            actor=actor,
            reason=refusal.reason,
            details={
                "governor": refusal.governor,
                "trigger": trigger,
                "request_reason": reason,
                **refusal.details,
            },
            result=state.value,
        )
        run = self._store.open_run(run, audit=entry)
        self._emit(entry)
        return run

    def _fail(
        self, run: runs.RollbackRun, reason: str, *, details: Mapping[str, Any] | None = None
    ) -> runs.RollbackRun:
        """End ``run`` failed and escalate: quarantine first, so nothing automatic loops."""
        now = self._clock.now()
        why = f"run {run.id} failed: {reason}"
        quarantine = audit_events.AuditEntry(
            time=now,
            actor=self._actor,
            action="target.quarantined",
            target=run.target,
            run_id=run.id,
            reason=why,
            details={"escalate": True},
            result="quarantined",
        )
        self._store.set_quarantine(run.target, reason=why, audit=quarantine)
        self._emit(quarantine)
        failed = run.moved(runs.RunState.FAILED, at=now, error=reason)
        self._save_run(
            failed,
            self._entry(
                failed,
                "run.failed",
                reason=reason,
                details={"from_state": run.state.value, "escalate": True, **(details or {})},
                result="failed",
            ),
        )
        _log.error("run %s for %s failed: %s", run.id, run.target, reason)
        return failed

    def _move(self, run: runs.RollbackRun, state: runs.RunState, action: str) -> runs.RollbackRun:
        moved = run.moved(state, at=self._clock.now())
        self._save_run(moved, self._entry(moved, action))
        return moved

    def _load(self, run_id: ids.RunId) -> runs.RollbackRun:
        run = self._store.get_run(run_id)
        if run is None:
            raise RunNotFound(run_id)
        return run

    def _api_call_recorder(self, run: runs.RollbackRun) -> driving.ApiCallRecorder:
        """Cloud API calls made while driving ``run`` go to the audit with their request ids."""

        def record(operation: str, details: Mapping[str, Any]) -> None:
            entry = self._entry(run, "driver.api_call", details={"operation": operation, **details})
            self._store.append_audit(entry)
            self._emit(entry)

        return record

    def _entry(
        self,
        run: runs.RollbackRun,
        action: str,
        *,
        actor: str | None = None,
        reason: str = "",
        details: Mapping[str, Any] | None = None,
        result: str = "",
    ) -> audit_events.AuditEntry:
        return audit_events.AuditEntry(
            time=self._clock.now(),
            actor=actor or self._actor,
            action=action,
            target=run.target,
            run_id=run.id,
            reason=reason,
            details=dict(details or {}),
            result=result,
        )

    def _save_run(self, run: runs.RollbackRun, entry: audit_events.AuditEntry) -> None:
        self._store.save_run(run, audit=entry)
        self._emit(entry)

    def _save_step(
        self,
        step: runs.StepRecord,
        run: runs.RollbackRun,
        action: str,
        *,
        result: str = "",
        reason: str = "",
        **details: Any,
    ) -> None:
        entry = self._entry(
            run,
            action,
            reason=reason,
            details={
                "step": step.name,
                "index": step.index,
                "key": step.key,
                "attempt": step.attempt,
                **details,
            },
            result=result,
        )
        self._store.save_step(step, audit=entry)
        self._emit(entry)

    def _emit(self, entry: audit_events.AuditEntry) -> None:
        if self._on_audit is None:
            return
        try:
            self._on_audit(entry)
        except Exception:  # noqa: BLE001 - progress display must never break a rollback
            _log.exception("audit listener failed")


def target_records(config: models.RollsafeConfig) -> list[repositories.TargetRecord]:
    """The configuration's targets as the store keeps them."""
    return [
        repositories.TargetRecord(
            id=ids.TargetId(t.id), address=t.address, labels=dict(t.labels), driver=t.driver
        )
        for t in config.targets
    ]
