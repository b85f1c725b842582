"""The durable rollout conductor: waves of readiness, checkpoint, upgrade and bake (rollouts).

``RolloutConductor.serve`` runs inside the controller (the daemon, or the one ``rollsafe rollout
start`` runs in-process), beside the run executor, because a bake needs the judge's live
decisions. It finds open rollouts in the store (opened by ``rollouts.opening``) and drives
each to its end. For every target of a wave, at most ``max_parallel`` at a time:

1. **readiness**: skipped when pinned, quarantined or busy with a rollback run; not ready
   when the judge already sees it critical or has no data on it, or when its driver cannot
   take a restore point (``take_checkpoint``) or that point fails the driver's ``precheck``.
   A target that could not be rolled back is never upgraded.
2. **upgrade**: a ``mark:upgrade_started`` observation (``execute.upgrading``), stored before
   the effect; then the plan's upgrade command for the target's driver (default: the
   driver's own), under the key ``<rollout>/<target>/upgrade``; then a ``mark:upgrade``
   observation, so baseline rules compare with before the upgrade.
3. **bake**: for the wave's bake time the judge's decisions on the target, restricted to the
   plan's bake rules, are read every ``poll_interval``; a critical one (or a rollback run
   opened for the target meanwhile) fails it. A bake that ends without any bake rule having
   data on the target fails too: an upgrade nobody could watch is not promoted.
4. **failure**: the target is pinned and gets a rollback run (``Executor.request`` with
   trigger ``rollout:<id>`` and the restore point of step 1); the rollout waits for the run
   to end. Only that target is touched. The failure budgets are checked at once: spent, the
   rollout halts (no target starts any more, bakes under way are cut short) and, with
   ``on_halt: rollback_all``, every target it upgraded is rolled back too.

The next wave starts only when every target of the current one is done and no budget is
spent. During a bake the engine's cohorts say which targets are canaries (baking) and which
the baseline (waiting for their wave), for ``cohort`` rules.

Serving and fencing: ``serve`` is the durable-controller skeleton (``execute.serve_loop``) shared
with runs. Inside a leader term every write (rollout rows, target rows, marks, restore points,
audit) carries the term's fencing token: a deposed leader's first write is refused, its
rollout tasks are cancelled at once and no upgrade it had not begun is begun.

Durability: every step is stored before its effect and after it. A controller killed at any
instant resumes the rollout at the stored wave and step: a target stored ``upgrading`` calls
the driver again with the same key (the effect happens once); a ``baking`` target restarts
its bake in full (a bake is only as good as the watching during it); a ``rolling_back``
target adopts the run opened for it instead of opening another.

Control: people write only the rollout's ``desired`` (run, pause, abort); the driver reads
it every ``poll_interval``. Pause stops new targets from starting (those under way finish),
resume lets them start again, abort stops like a halt and rolls back what ``on_halt`` says.

Fault injection (test hook, ``ROLLSAFE_FAULT_KILL_AT`` as for runs): ``after:rollout.started``,
``after:rollout.wave.started:<i>``, ``before:rollout.upgrade:<target>`` (stored upgrading,
driver not called), ``after:rollout.upgrade.effect:<target>`` (driver returned, nothing
stored yet), ``after:rollout.upgrade:<target>`` (stored baking), ``after:rollout.target.passed:
<target>``, ``after:rollout.target.failed:<target>``, ``after:rollout.rollback.requested:
<target>``, ``after:rollout.wave.passed:<i>``, ``after:rollout.halting``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import Callable, Coroutine, Mapping
from pathlib import Path
from typing import Any

from rollsafe.config import models
from rollsafe.detect import probes, probing
from rollsafe.domain import (
    audit_events,
    clocks,
    errors,
    ids,
    observations,
    rollouts,
    runs,
    verdicts,
)
from rollsafe.execute import driving, registry, serve_loop, upgrading
from rollsafe.execute import runs as executing
from rollsafe.judge import cohorts, engine
from rollsafe.rollouts import budgets
from rollsafe.storage import repositories
from rollsafe.verify import checkpoints

__all__ = ["EVIDENCE_TIMEOUT_S", "RolloutConductor", "has_evidence"]

_log = logging.getLogger(__name__)

EVIDENCE_TIMEOUT_S = 30.0
"""How long readiness waits for the judge to have data on a target before calling it not
ready (a controller that just started has not observed anything yet)."""
_OUTPUT_LIMIT = 2000
_RUN_POLL_S = 0.5
_RECORDS_TTL_S = 1.0
_RETRY_S = 5.0


class _Closing(Exception):
    """The controller is shutting down: stop at this safe point, the state is durable."""


def has_evidence(decisions: list[verdicts.Decision]) -> bool:
    """True when a decision that applies to the target rests on data (not ``no_data``)."""
    return any(
        d.evidence.get("applies", True) is not False and not d.evidence.get("no_data", False)
        for d in decisions
    )


def _applicable(decisions: list[verdicts.Decision]) -> list[verdicts.Decision]:
    return [d for d in decisions if d.evidence.get("applies", True) is not False]


@dataclasses.dataclass(slots=True)
class _Drive:
    """One rollout being driven: its latest state and what its tasks share."""

    rollout: rollouts.Rollout
    rows: dict[ids.TargetId, rollouts.RolloutTarget]
    stopping: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)
    running: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)
    changed: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)
    lock: asyncio.Lock = dataclasses.field(default_factory=asyncio.Lock)
    fresh_bakes: set[ids.TargetId] = dataclasses.field(default_factory=set)
    records: dict[ids.TargetId, repositories.TargetRecord] = dataclasses.field(default_factory=dict)
    records_read: float = -1e9  # time.monotonic() of the last read of the target table

    @property
    def spec(self) -> rollouts.RolloutSpec:
        return self.rollout.spec

    def wave_rows(self, index: int) -> list[rollouts.RolloutTarget]:
        return sorted(
            (row for row in self.rows.values() if row.wave == index), key=lambda r: r.position
        )


class RolloutConductor:
    """Drives every open rollout of the store to its end; see the module notes."""

    def __init__(
        self,
        *,
        config: models.RollsafeConfig,
        state_dir: Path,
        store: repositories.Store,
        executor: executing.Executor,
        engine: engine.Engine,
        clock: clocks.Clock,
        drivers: Mapping[str, driving.Driver] | None = None,
        probe_factory: probing.ProbeFactory = probes.build,
        actor: str = "rollsafe",
        fault: Callable[[str], None] = serve_loop.kill_at_boundary,
        poll_interval: float = 0.5,
        evidence_timeout: float = EVIDENCE_TIMEOUT_S,
        upgrade_retries: int = 3,
        retry_backoff: float = 1.0,
        shutdown_grace: float = 30.0,
    ) -> None:
        self._config = config
        self._policy = config.policy
        self._state_dir = state_dir
        self._store = store
        self._executor = executor
        self._engine = engine
        self._clock = clock
        self._given = dict(drivers) if drivers is not None else None
        self._built: dict[tuple[str, str], driving.Driver] = {}
        self._probe_factory = probe_factory
        self._actor = actor
        self._fault = fault
        self._poll = poll_interval
        self._evidence_timeout = evidence_timeout
        self._upgrade_retries = upgrade_retries
        self._retry_backoff = retry_backoff
        self._shutdown_grace = shutdown_grace
        self._closing: asyncio.Event | None = None
        self._known_rules = {rule.id for rule in config.rules}

    # ------------------------------------------------------------------ serving

    async def serve(
        self,
        stop: asyncio.Event,
        *,
        fence: int | None = None,
        halt: asyncio.Event | None = None,
    ) -> None:
        """Drive open rollouts (resuming any a crash left) until ``stop`` or ``halt`` is set.

        The durable-controller skeleton (``execute.serve_loop``), as for runs: ``fence`` is the
        leader term's token every rollout write (rows, marks, restore points, audit) carries,
        so a deposed leader's next write is refused and the loop halts; ``halt`` (the lease
        was lost) cancels every rollout task at once, with no grace, so none goes on to call
        a driver. On ``stop`` rollouts stop at their next safe point within the grace.
        """
        closing = self._closing_event()
        loop = serve_loop.ServeLoop(
            kind="rollout",
            find=lambda: [r.id for r in self._store.list_rollouts(open_only=True, limit=10)],
            drive=self.drive,
            poll_interval=self._poll,
            shutdown_grace=self._shutdown_grace,
            retry_after=_RETRY_S,  # a rollout whose driving crashed is not retried at once
            closing=closing.set,
        )
        try:
            await loop.serve(stop, fence=fence, halt=halt)
        finally:
            self._engine.set_cohorts({})

    def _closing_event(self) -> asyncio.Event:
        if self._closing is None or self._closing.is_set():
            self._closing = asyncio.Event()
        return self._closing

    # ------------------------------------------------------------------ one rollout

    async def drive(self, rollout_id: str) -> rollouts.Rollout:
        """Drive ``rollout_id`` until it ends (a paused one waits to be resumed or aborted), or
        until the controller closes. Returns the rollout as stored last."""
        if self._closing is None:
            self._closing_event()
        rollout = self._store.get_rollout(rollouts.RolloutId(rollout_id))
        if rollout is None:
            raise LookupError(f"no rollout {rollout_id} in the store")
        if not rollout.open:
            return rollout
        rows = {row.target: row for row in self._store.list_rollout_targets(rollout.id)}
        d = _Drive(rollout=rollout, rows=rows)
        try:
            if rollout.state is rollouts.RolloutState.PENDING:
                problem = self._unusable(rollout)
                if problem is not None:
                    await self._end(d, rollouts.RolloutState.HALTED, reason=problem)
                    return d.rollout
                await self._move(d, rollouts.RolloutState.RUNNING, "rollout.started")
                self._fault("after:rollout.started")
            await self._apply(d, d.rollout.desired)
            await self._check_budgets(d)
            watcher = asyncio.create_task(
                self._watch(d), name=f"rollsafe-rollout-watch-{d.rollout.id}"
            )
            try:
                await self._main(d)
            finally:
                watcher.cancel()
                with contextlib.suppress(asyncio.CancelledError, _Closing):
                    await watcher
        except _Closing:
            _log.info("rollout %s left %s for the next controller", d.rollout.id, d.rollout.state)
        finally:
            self._engine.set_cohorts({})
        return d.rollout

    async def _main(self, d: _Drive) -> None:
        while True:
            self._check_closing()
            state = d.rollout.state
            if state.terminal:
                return
            if state.stopping:
                await self._finish_stop(d)
                return
            index = d.rollout.wave
            if index >= len(d.spec.waves):
                await self._end(d, rollouts.RolloutState.COMPLETED, reason="")
                return
            begun = any(w.index == index for w in d.rollout.wave_log)
            if not begun and not d.running.is_set():
                # Paused between waves: the next one starts only once resumed.
                await self._wait_any(d.running, d.stopping)
                continue
            await self._wave(d, index)
            await self._check_budgets(d)  # also counts failures a crash left unchecked
            if d.rollout.state.stopping:
                continue
            wave_rows = d.wave_rows(index)
            if not all(row.state.terminal for row in wave_rows):
                # Only a stop or a close ends a wave early; go round (without spinning).
                await self._wait_any(d.stopping, seconds=self._poll)
                continue
            started = self._wave_started(d, index)
            log = rollouts.WaveLog(
                index=index, started_at=started, finished_at=self._clock.now(), outcome="passed"
            )
            async with d.lock:
                moved = dataclasses.replace(
                    d.rollout.logged(log), wave=index + 1, updated_at=self._clock.now()
                )
                self._save_rollout(
                    d,
                    moved,
                    "rollout.wave.passed",
                    details={
                        "wave": index + 1,
                        "size": d.spec.waves[index].size,
                        "states": _count_states(wave_rows),
                    },
                    result="passed",
                )
            self._fault(f"after:rollout.wave.passed:{index}")

    async def _wave(self, d: _Drive, index: int) -> None:
        if not any(w.index == index for w in d.rollout.wave_log):
            log = rollouts.WaveLog(index=index, started_at=self._clock.now())
            async with d.lock:
                self._save_rollout(
                    d,
                    dataclasses.replace(d.rollout.logged(log), updated_at=self._clock.now()),
                    "rollout.wave.started",
                    details={
                        "wave": index + 1,
                        "size": d.spec.waves[index].size,
                        "targets": list(d.spec.waves[index].targets),
                        "bake_s": d.spec.waves[index].bake,
                    },
                )
            self._fault(f"after:rollout.wave.started:{index}")
        self._refresh_cohorts(d)
        slots = asyncio.Semaphore(d.spec.max_parallel)
        await _all(*(self._advance(d, row, slots) for row in d.wave_rows(index)))

    async def _finish_stop(self, d: _Drive) -> None:
        """Halting or aborting: finish what is under way, roll back what the policy says."""
        busy = [row for row in d.rows.values() if row.state.in_flight]
        await _all(*(self._advance(d, row, None) for row in busy))
        if d.spec.on_halt == rollouts.ROLLBACK_ALL_POLICY:
            why = (
                "the rollout was aborted"
                if d.rollout.state is rollouts.RolloutState.ABORTING
                else "the rollout halted"
            )
            targets = [row for row in d.rows.values() if row.state in rollouts.UPGRADED_STATES]
            moved = [
                await self._save_target(
                    d,
                    dataclasses.replace(row, state=rollouts.TargetState.ROLLING_BACK),
                    "rollout.target.rolling_back",
                    reason=f"{why}; on_halt is rollback_all",
                )
                for row in targets
            ]
            await _all(*(self._advance(d, row, None) for row in moved))
        final = (
            rollouts.RolloutState.ABORTED
            if d.rollout.state is rollouts.RolloutState.ABORTING
            else rollouts.RolloutState.HALTED
        )
        await self._end(d, final, reason=d.rollout.halt_reason or "")

    # ------------------------------------------------------------------ one target

    async def _advance(
        self, d: _Drive, row: rollouts.RolloutTarget, slots: asyncio.Semaphore | None
    ) -> None:
        """Move one target through its steps until it is done (or must wait)."""
        while True:
            self._check_closing()
            state = row.state
            if state is rollouts.TargetState.PENDING:
                if slots is None or d.stopping.is_set():
                    return
                await self._wait_any(d.running, d.stopping)
                if d.stopping.is_set():
                    return
                async with slots:
                    if d.stopping.is_set() or not d.running.is_set():
                        continue
                    row = await self._ready(d, row)
                    if row.state is rollouts.TargetState.UPGRADING:
                        row = await self._upgrade(d, row)
            elif state is rollouts.TargetState.READYING:
                row = await self._ready(d, row)
            elif state is rollouts.TargetState.UPGRADING:
                row = await self._upgrade(d, row)
            elif state is rollouts.TargetState.BAKING:
                row = await self._bake(d, row)
            elif state is rollouts.TargetState.ROLLING_BACK:
                row = await self._rollback(d, row)
            else:
                return

    async def _ready(self, d: _Drive, row: rollouts.RolloutTarget) -> rollouts.RolloutTarget:
        """Readiness: can this target be upgraded, and rolled back if it must?"""
        tid = row.target
        try:
            target = self._config.target(tid)
        except KeyError:
            return await self._skip(d, row, "no longer in the configuration")
        record = self._record(d, tid)
        if record is not None and record.pinned:
            return await self._skip(d, row, f"pinned ({record.pin_reason})")
        if record is not None and record.quarantined:
            return await self._skip(d, row, f"quarantined ({record.quarantine_reason})")
        if self._store.list_runs(target=tid, open_only=True, limit=1):
            return await self._skip(d, row, "a rollback run is open for it")
        row = await self._save_target(
            d,
            dataclasses.replace(
                row,
                state=rollouts.TargetState.READYING,
                started_at=row.started_at or self._clock.now(),
                note="",
            ),
            "rollout.target.readying",
        )
        decisions = await self._wait_for_evidence(d, tid)
        if d.stopping.is_set():
            return await self._save_target(
                d,
                dataclasses.replace(row, state=rollouts.TargetState.PENDING),
                "rollout.target.not_started",
                reason="the rollout stopped before it was ready",
            )
        critical = [x for x in decisions if x.severity is verdicts.Severity.CRITICAL]
        if critical:
            return await self._not_ready(
                d,
                row,
                f"already critical before the upgrade: {critical[0].rule}: {critical[0].summary}",
            )
        if not has_evidence(decisions) and _applicable(decisions):
            return await self._not_ready(
                d,
                row,
                f"the judge had no data on it within {self._evidence_timeout:g}s "
                "(a bake could not judge it)",
            )
        try:
            base = self._driver(target)
        except errors.ConfigError as exc:
            return await self._not_ready(d, row, str(exc))
        try:
            async with asyncio.timeout(self._policy.step_timeout):
                point = await checkpoints.take_checkpoint(
                    config=self._config,
                    target_id=tid,
                    store=self._store,
                    driver=base,
                    clock=self._clock,
                    probe_factory=self._probe_factory,
                    label=f"before rollout {d.rollout.id}",
                    actor=self._rollout_actor(d),
                )
        except TimeoutError:
            return await self._not_ready(
                d,
                row,
                f"no restore point: checkpoint timed out after {self._policy.step_timeout:g}s",
            )
        except errors.RollsafeError as exc:
            return await self._not_ready(d, row, f"no restore point: {exc}")
        try:
            async with asyncio.timeout(self._policy.step_timeout):
                await base.precheck(target, point)
        except TimeoutError:
            return await self._not_ready(d, row, f"restore point {point.id} precheck timed out")
        except errors.RollsafeError as exc:
            return await self._not_ready(d, row, f"restore point {point.id} is not usable: {exc}")
        if d.stopping.is_set():
            return await self._save_target(
                d,
                dataclasses.replace(
                    row,
                    state=rollouts.TargetState.PENDING,
                    restore_point=point.id,
                    note="ready, not upgraded: the rollout stopped",
                ),
                "rollout.target.not_started",
            )
        row = await self._save_target(
            d,
            dataclasses.replace(
                row,
                state=rollouts.TargetState.UPGRADING,
                restore_point=point.id,
                upgrade_key=rollouts.upgrade_key(d.rollout.id, tid),
            ),
            "rollout.target.upgrading",
            details={"restore_point": point.id, "checks": dict(point.checks)},
        )
        self._fault(f"before:rollout.upgrade:{tid}")
        return row

    async def _upgrade(self, d: _Drive, row: rollouts.RolloutTarget) -> rollouts.RolloutTarget:
        tid = row.target
        key = row.upgrade_key or rollouts.upgrade_key(d.rollout.id, tid)
        failure: str | None = None
        output = ""
        try:
            target = self._config.target(tid)
            driver = self._driver(target, upgrade=d.spec.upgrade)
        except (KeyError, errors.ConfigError) as exc:
            failure = f"cannot upgrade: {exc}"
        else:
            # Stored before the effect: the target counts as upgraded from now on ("one
            # rollback per upgrade"), and a deposed leader's write stops here (FencedOut).
            upgrading.started(self._store, tid, at=self._clock.now())
            failure, output = await self._call_upgrade(driver, target, key)
        self._fault(f"after:rollout.upgrade.effect:{tid}")
        now = self._clock.now()
        # Even a failed upgrade may have changed the target: the judge must know when.
        self._mark(tid, now)
        if failure is not None:
            self._store.append_audit(
                self._entry(
                    d,
                    "upgrade.failed",
                    target=tid,
                    reason=failure,
                    details={"key": key, "restore_point": row.restore_point},
                    result="failed",
                )
            )
            return await self._fail(d, dataclasses.replace(row, upgraded_at=now), failure, {})
        bake = d.spec.waves[row.wave or 0].bake
        d.fresh_bakes.add(tid)
        row = await self._save_target(
            d,
            dataclasses.replace(
                row,
                state=rollouts.TargetState.BAKING,
                upgraded_at=now,
                bake_until=now + bake,
                upgrade_key=key,
            ),
            "upgrade.finished",
            reason=output[:_OUTPUT_LIMIT],
            details={"key": key, "restore_point": row.restore_point, "bake_s": bake},
            result="ok",
        )
        self._fault(f"after:rollout.upgrade:{tid}")
        return row

    async def _call_upgrade(
        self, driver: driving.Driver, target: models.Target, key: str
    ) -> tuple[str | None, str]:
        """(why it failed or None, output), retrying temporary errors with the same key."""
        retries = 0
        while True:
            try:
                async with asyncio.timeout(self._policy.step_timeout):
                    return None, await driver.upgrade(target, key=key)
            except errors.DriverTemporaryError as exc:
                if retries >= self._upgrade_retries:
                    return f"upgrade still failing after {retries + 1} attempts: {exc}", ""
                retries += 1
                delay = exc.retry_after or self._retry_backoff * 2 ** (retries - 1)
                await asyncio.sleep(delay)
            except TimeoutError:
                return f"upgrade timed out after {self._policy.step_timeout:g}s", ""
            except errors.RollsafeError as exc:
                return f"upgrade failed: {exc}", ""
            except Exception as exc:  # noqa: BLE001 - a driver let a foreign error escape
                return f"upgrade failed: {type(exc).__name__}: {exc}", ""

    async def _bake(self, d: _Drive, row: rollouts.RolloutTarget) -> rollouts.RolloutTarget:
        tid = row.target
        bake = d.spec.waves[row.wave or 0].bake
        if tid not in d.fresh_bakes:
            # Resumed after a restart: nobody watched meanwhile, so the bake starts over.
            d.fresh_bakes.add(tid)
            now = self._clock.now()
            row = await self._save_target(
                d,
                dataclasses.replace(row, bake_until=now + bake),
                "rollout.target.bake_restarted",
                reason="the controller restarted during the bake; it starts over",
            )
        self._refresh_cohorts(d)
        until = row.bake_until or self._clock.now()
        while True:
            self._check_closing()
            if d.stopping.is_set():
                return await self._save_target(
                    d,
                    dataclasses.replace(
                        row,
                        state=rollouts.TargetState.UPGRADED,
                        finished_at=self._clock.now(),
                        note=f"bake cut short: the rollout is {d.rollout.state.value}",
                    ),
                    "rollout.target.bake_cut",
                )
            run = self._run_since(tid, row.upgraded_at)
            if run is not None:
                # The daemon's judge acts on each observation and may open the run first.
                if run.trigger.startswith("decision:"):
                    rule = run.trigger.removeprefix("decision:")
                    why = f"{rule}: {run.reason} (run {run.id} opened by the judge)"
                else:
                    why = f"rollback run {run.id} was opened for it ({run.trigger}: {run.reason})"
                return await self._fail(d, row, why, dict(run.evidence), run_id=run.id)
            decisions = self._bake_decisions(d, tid)
            critical = [x for x in decisions if x.severity is verdicts.Severity.CRITICAL]
            if critical:
                first = critical[0]
                return await self._fail(d, row, f"{first.rule}: {first.summary}", first.to_json())
            now = self._clock.now()
            if now >= until:
                break
            await self._wait_any(d.stopping, seconds=min(self._poll, until - now))
        if not has_evidence(decisions) and _applicable(decisions):
            rules = ", ".join(x.rule for x in _applicable(decisions))
            why = f"bake inconclusive: no bake rule had data on {tid} ({rules})"
            return await self._fail(d, row, why, {})
        evidence: dict[str, Any] = {str(x.rule): x.summary for x in decisions}
        row = await self._save_target(
            d,
            dataclasses.replace(
                row,
                state=rollouts.TargetState.PASSED,
                finished_at=self._clock.now(),
                evidence=evidence,
            ),
            "rollout.target.passed",
            details={"bake_s": bake},
            result="passed",
        )
        self._fault(f"after:rollout.target.passed:{tid}")
        return row

    async def _fail(
        self,
        d: _Drive,
        row: rollouts.RolloutTarget,
        why: str,
        evidence: Mapping[str, Any],
        *,
        run_id: ids.RunId | None = None,
    ) -> rollouts.RolloutTarget:
        """The target failed: pin it, count it, and move it to its rollback."""
        row = await self._save_target(
            d,
            dataclasses.replace(
                row,
                state=rollouts.TargetState.ROLLING_BACK,
                failure=why,
                evidence=dict(evidence),
                run_id=run_id,
            ),
            "rollout.target.failed",
            reason=why,
            details={"pinned": True},
            result="failed",
            pin=f"rollout {d.rollout.id} ({d.rollout.plan}): {why}",
        )
        self._fault(f"after:rollout.target.failed:{row.target}")
        await self._check_budgets(d)
        return row

    async def _rollback(self, d: _Drive, row: rollouts.RolloutTarget) -> rollouts.RolloutTarget:
        tid = row.target
        run: runs.RollbackRun | None = None
        if row.run_id is not None:
            run = self._store.get_run(row.run_id)
        if run is None:
            # A run opened for it since the upgrade (by the judge, or by us before a crash).
            run = self._run_since(tid, row.upgraded_at or row.started_at)
        if run is None:
            reason = row.failure or f"the rollout {d.rollout.id} is rolled back by its policy"
            try:
                run = self._executor.request(
                    tid,
                    trigger=f"rollout:{d.rollout.id}",
                    actor=self._rollout_actor(d),
                    reason=reason,
                    evidence=dict(row.evidence),
                    restore_point=row.restore_point,
                )
            except errors.RollsafeError as exc:
                return await self._save_target(
                    d,
                    dataclasses.replace(
                        row,
                        state=rollouts.TargetState.ROLLBACK_FAILED,
                        finished_at=self._clock.now(),
                        note=f"no rollback run could be opened: {exc}",
                    ),
                    "rollout.target.rollback_failed",
                    reason=str(exc),
                    result="failed",
                )
        if row.run_id != run.id:
            row = await self._save_target(
                d,
                dataclasses.replace(row, run_id=run.id),
                "rollout.target.rolling_back",
                reason=run.reason,
                details={"run": run.id, "run_state": run.state.value},
            )
            self._fault(f"after:rollout.rollback.requested:{tid}")
        while run.open:
            self._check_closing()
            await self._wait_any(seconds=_RUN_POLL_S)
            run = self._store.get_run(run.id) or run
        if run.state is runs.RunState.SUCCEEDED:
            return await self._save_target(
                d,
                dataclasses.replace(
                    row, state=rollouts.TargetState.ROLLED_BACK, finished_at=self._clock.now()
                ),
                "rollout.target.rolled_back",
                details={"run": run.id},
                result="rolled_back",
            )
        return await self._save_target(
            d,
            dataclasses.replace(
                row,
                state=rollouts.TargetState.ROLLBACK_FAILED,
                finished_at=self._clock.now(),
                note=f"run {run.id} ended {run.state.value}: {run.error or ''}".rstrip(": "),
            ),
            "rollout.target.rollback_failed",
            reason=run.error or run.state.value,
            details={"run": run.id, "run_state": run.state.value},
            result="failed",
        )

    async def _skip(
        self, d: _Drive, row: rollouts.RolloutTarget, why: str
    ) -> rollouts.RolloutTarget:
        return await self._save_target(
            d,
            dataclasses.replace(
                row, state=rollouts.TargetState.SKIPPED, note=why, finished_at=self._clock.now()
            ),
            "rollout.target.skipped",
            reason=why,
            result="skipped",
        )

    async def _not_ready(
        self, d: _Drive, row: rollouts.RolloutTarget, why: str
    ) -> rollouts.RolloutTarget:
        return await self._save_target(
            d,
            dataclasses.replace(
                row, state=rollouts.TargetState.NOT_READY, note=why, finished_at=self._clock.now()
            ),
            "rollout.target.not_ready",
            reason=why,
            details={"escalate": True},
            result="not_ready",
        )

    # ------------------------------------------------------------------ judge

    def _record(self, d: _Drive, target: ids.TargetId) -> repositories.TargetRecord | None:
        """The target's stored record (pins, quarantine), read at most once a second: a wave
        of thousands of targets must not read the whole table once per target."""
        if time.monotonic() - d.records_read > _RECORDS_TTL_S:
            d.records = {record.id: record for record in self._store.list_targets()}
            d.records_read = time.monotonic()
        return d.records.get(target)

    def _bake_decisions(self, d: _Drive, target: str) -> list[verdicts.Decision]:
        rules = set(d.spec.bake_rules)
        return [x for x in self._engine.evaluate(target, now=self._clock.now()) if x.rule in rules]

    async def _wait_for_evidence(self, d: _Drive, target: str) -> list[verdicts.Decision]:
        """The bake rules' decisions on ``target`` once one of them rests on data (bounded)."""
        deadline = self._clock.now() + self._evidence_timeout
        while True:
            decisions = self._bake_decisions(d, target)
            if has_evidence(decisions) or not _applicable(decisions):
                return decisions
            if self._clock.now() >= deadline or d.stopping.is_set():
                return decisions
            self._check_closing()
            await self._wait_any(d.stopping, seconds=self._poll)

    def _refresh_cohorts(self, d: _Drive) -> None:
        """Canaries: targets baking now; baseline: targets still waiting for their wave."""
        assignment: dict[str, str] = {}
        for row in d.rows.values():
            cohort = _cohort_of(row)
            if cohort is not None:
                assignment[row.target] = cohort
        self._engine.set_cohorts(assignment)

    def _mark(self, target: ids.TargetId, at: float) -> None:
        try:
            upgrading.finished(self._store, target, at=at)
        except errors.StoreError:
            _log.exception("could not store the upgrade mark of %s", target)
        # Folded at once too: the daemon's mark watcher would only see it within a second.
        self._engine.mark(observations.Mark(time=at, target=target, name=engine.UPGRADE))

    # ------------------------------------------------------------------ control

    async def _watch(self, d: _Drive) -> None:
        """Apply what people asked for (pause, resume, abort), read from the store."""
        while True:
            await self._wait_any(seconds=self._poll)
            try:
                fresh = self._store.get_rollout(d.rollout.id)
            except errors.StoreError:
                _log.exception("cannot read rollout %s; trying again", d.rollout.id)
                continue
            if fresh is None or d.rollout.state.terminal:
                return
            await self._apply(d, fresh.desired)

    async def _apply(self, d: _Drive, desired: rollouts.Desired) -> None:
        async with d.lock:
            rollout = d.rollout
            state = rollout.state
            if rollout.state.terminal:
                return
            if desired is rollouts.Desired.ABORT and state is not rollouts.RolloutState.ABORTING:
                self._save_rollout(
                    d,
                    rollout.moved(
                        rollouts.RolloutState.ABORTING,
                        at=self._clock.now(),
                        reason="aborted by a person",
                    ),
                    "rollout.aborting",
                    reason="a person asked to abort",
                    details={"on_halt": d.spec.on_halt},
                )
            elif desired is rollouts.Desired.PAUSE and state is rollouts.RolloutState.RUNNING:
                self._save_rollout(
                    d,
                    rollout.moved(rollouts.RolloutState.PAUSED, at=self._clock.now()),
                    "rollout.paused",
                    reason="a person asked to pause: targets under way finish, none starts",
                )
            elif desired is rollouts.Desired.RUN and state is rollouts.RolloutState.PAUSED:
                self._save_rollout(
                    d,
                    rollout.moved(rollouts.RolloutState.RUNNING, at=self._clock.now()),
                    "rollout.resumed",
                )
            self._sync_gates(d)

    def _sync_gates(self, d: _Drive) -> None:
        state = d.rollout.state
        if state.stopping or state.terminal:
            d.stopping.set()
        if state is rollouts.RolloutState.RUNNING:
            d.running.set()
        else:
            d.running.clear()

    async def _check_budgets(self, d: _Drive) -> None:
        """Halt when a wave's budget or the rollout's is spent by the failures so far."""
        failures = sum(1 for r in d.rows.values() if r.failed)
        verdict = budgets.Verdict(spent=False)
        for wave in d.spec.waves:
            in_wave = d.wave_rows(wave.index)
            verdict = budgets.check(
                wave=wave.budget,
                wave_failures=sum(1 for r in in_wave if r.failed),
                wave_size=len(wave.targets),
                wave_index=wave.index,
                overall=d.spec.overall,
                failures=failures,
                planned=d.spec.planned,
            )
            if verdict.spent:
                break
        if not verdict.spent:
            return
        async with d.lock:
            if d.rollout.state not in (rollouts.RolloutState.RUNNING, rollouts.RolloutState.PAUSED):
                return
            self._save_rollout(
                d,
                d.rollout.moved(
                    rollouts.RolloutState.HALTING, at=self._clock.now(), reason=verdict.reason
                ),
                "rollout.halting",
                reason=verdict.reason,
                details={"on_halt": d.spec.on_halt, "failures": failures, "escalate": True},
                result="halting",
            )
            self._sync_gates(d)
        self._fault("after:rollout.halting")

    # ------------------------------------------------------------------ state and audit

    async def _move(self, d: _Drive, state: rollouts.RolloutState, action: str) -> None:
        async with d.lock:
            self._save_rollout(d, d.rollout.moved(state, at=self._clock.now()), action)

    async def _end(self, d: _Drive, state: rollouts.RolloutState, *, reason: str) -> None:
        now = self._clock.now()
        async with d.lock:
            rollout = d.rollout.moved(state, at=now, reason=reason or None)
            index = rollout.wave
            current = next((w for w in rollout.wave_log if w.index == index), None)
            if current is not None and current.finished_at is None:
                rollout = rollout.logged(
                    dataclasses.replace(current, finished_at=now, outcome=state.value)
                )
            self._save_rollout(
                d,
                rollout,
                f"rollout.{state.value}",
                reason=reason,
                details={"states": _count_states(list(d.rows.values()))},
                result=state.value,
            )
            self._sync_gates(d)

    def _save_rollout(
        self,
        d: _Drive,
        rollout: rollouts.Rollout,
        action: str,
        *,
        reason: str = "",
        details: Mapping[str, Any] | None = None,
        result: str = "",
    ) -> None:
        entry = self._entry(
            d,
            action,
            reason=reason,
            details={"state": rollout.state.value, **(details or {})},
            result=result,
        )
        self._store.save_rollout(rollout, audit=entry)
        d.rollout = rollout
        d.changed.set()

    async def _save_target(
        self,
        d: _Drive,
        row: rollouts.RolloutTarget,
        action: str,
        *,
        reason: str = "",
        details: Mapping[str, Any] | None = None,
        result: str = "",
        pin: str | None = None,
    ) -> rollouts.RolloutTarget:
        row = dataclasses.replace(row, updated_at=self._clock.now())
        entry = self._entry(
            d,
            action,
            target=row.target,
            run_id=row.run_id,
            reason=reason,
            details={
                "wave": None if row.wave is None else row.wave + 1,
                "state": row.state.value,
                **(details or {}),
            },
            result=result,
        )
        self._store.save_rollout_target(row, audit=entry, pin=pin)
        before = d.rows.get(row.target)
        d.rows[row.target] = row
        d.changed.set()
        if before is None or _cohort_of(before) != _cohort_of(row):
            self._refresh_cohorts(d)
        return row

    def _entry(
        self,
        d: _Drive,
        action: str,
        *,
        target: str | None = None,
        run_id: str | None = None,
        reason: str = "",
        details: Mapping[str, Any] | None = None,
        result: str = "",
    ) -> audit_events.AuditEntry:
        return audit_events.AuditEntry(
            time=self._clock.now(),
            actor=self._rollout_actor(d),
            action=action,
            target=target,
            run_id=run_id,
            reason=reason,
            details={"rollout": d.rollout.id, "plan": d.rollout.plan, **(details or {})},
            result=result,
        )

    @staticmethod
    def _rollout_actor(d: _Drive) -> str:
        return f"rollout:{d.rollout.id}"

    # ------------------------------------------------------------------ helpers

    def _unusable(self, rollout: rollouts.Rollout) -> str | None:
        """Why this controller cannot drive ``rollout`` (its configuration differs), or None."""
        missing = [r for r in rollout.spec.bake_rules if r not in self._known_rules]
        if missing:
            return (
                f"bake rule(s) {', '.join(missing)} unknown to this controller's "
                "configuration: restart it with the configuration the rollout was opened with"
            )
        return None

    def _driver(
        self, target: models.Target, *, upgrade: Mapping[str, rollouts.Command] | None = None
    ) -> driving.Driver:
        """The target's driver; with ``upgrade`` (the plan's commands by driver name), one
        whose upgrade runs the plan's command for it, when the plan has one."""
        name = target.driver
        if name is None:
            raise errors.ConfigError(f"target {target.id} has no driver")
        override = None if upgrade is None else upgrade.get(name)
        key = (name, "" if override is None else repr(override))
        cached = self._built.get(key)
        if cached is not None:
            return cached
        if override is None and self._given is not None and name in self._given:
            return self._given[name]
        try:
            config = self._config.driver(name)
        except KeyError:
            raise errors.ConfigError(f"driver {name} of {target.id} is not configured") from None
        if override is not None:
            if "upgrade" not in type(config).model_fields:
                raise errors.ConfigError(f"driver {name} ({config.kind}) takes no upgrade command")
            config = config.model_copy(update={"upgrade": override})
        built = registry.build(config, self._state_dir)
        self._built[key] = built
        return built

    def _run_since(self, target: ids.TargetId, since: float | None) -> runs.RollbackRun | None:
        """The latest rollback run of ``target`` opened at or after ``since``."""
        if since is None:
            return None
        found = self._store.list_runs(target=target, since=since, limit=1)
        return found[-1] if found else None

    def _wave_started(self, d: _Drive, index: int) -> float:
        entry = next((w for w in d.rollout.wave_log if w.index == index), None)
        return entry.started_at if entry is not None else self._clock.now()

    def _check_closing(self) -> None:
        if self._closing is not None and self._closing.is_set():
            raise _Closing

    async def _wait_any(self, *events: asyncio.Event, seconds: float | None = None) -> None:
        """Until one of ``events`` (or the controller closing) is set, or ``seconds`` pass."""
        closing = [] if self._closing is None else [self._closing]
        await serve_loop.wait_any(*events, *closing, seconds=seconds)
        self._check_closing()


def _cohort_of(row: rollouts.RolloutTarget) -> str | None:
    if row.state is rollouts.TargetState.BAKING:
        return cohorts.CANARY
    if row.state is rollouts.TargetState.PENDING and row.wave is not None:
        return cohorts.BASELINE
    return None


def _count_states(rows: list[rollouts.RolloutTarget]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.state.value] = counts.get(row.state.value, 0) + 1
    return counts


async def _all(*coros: Coroutine[Any, Any, None]) -> None:
    """Run ``coros`` together until every one ended; then re-raise the first error, if any.

    Unlike a bare ``gather``, no coroutine is left running behind an error (the others
    reach their own safe point first). A write fenced out is the exception: another replica
    leads, so the others are cancelled at once rather than let to call a driver once more.
    """
    tasks = [asyncio.ensure_future(coro) for coro in coros]
    try:
        pending = set(tasks)
        while pending:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_EXCEPTION)
            for task in done:
                if not task.cancelled() and isinstance(task.exception(), errors.FencedOut):
                    raise errors.FencedOut(str(task.exception()))
    finally:
        for task in tasks:
            task.cancel()  # a no-op for those that ended
        await asyncio.gather(*tasks, return_exceptions=True)
    results = [asyncio.CancelledError() if t.cancelled() else t.exception() for t in tasks]
    failures = [r for r in results if isinstance(r, BaseException)]
    closing = [r for r in failures if isinstance(r, _Closing)]
    if len(closing) < len(failures):
        raise next(r for r in failures if not isinstance(r, _Closing))
    if closing:
        raise closing[0]
