"""The demo scenario: break one host of a real local fleet and watch the loop close by itself.

``run_demo`` builds and starts the fleet (``rollsafe.demo.fleet``), runs the real daemon
in-process on the generated configuration, waits until the judge sees every host healthy,
checkpoints the victim, upgrades it to the bad release through the local driver, and then only
watches: the daemon must detect the fault (5xx ratio and log error rate, cross-validated by a
composite ``all`` rule), decide, roll back, and verify on its own. The demo then checks the
outcome independently (the release directory byte-identical to before, data unchanged, the
good version serving, every other host untouched, the audit chain intact) and stops
everything it started, whatever happens (errors, Ctrl-C, SIGTERM).

Times are measured on the daemon's clock: the fault is the moment the bad release was
serving (its upgrade command returned); the decision is the first critical decision's time;
recovery is when the run reached ``succeeded``, which the executor records only once
verification passed.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import signal
import sqlite3
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rollsafe.config import loading
from rollsafe.demo import fleet, layout, releases, workdirs
from rollsafe.domain import audit_events, errors, ids, observations, runs, verdicts
from rollsafe.runtime import assembly, daemon
from rollsafe.storage import auditing, repositories
from rollsafe.verify import checkpoints

DEADLINE_S = 50.0
"""From the fault on, how long the loop may take to close before the demo gives up."""
READY_TIMEOUT_S = 20.0
"""How long the daemon may take to start and see every host healthy with enough data."""
_POLL_S = 0.1

Emit = Callable[["TimelineEvent"], None]


class DemoFailed(errors.RollsafeError):
    """The demo could not run at all (not the same as the loop not closing)."""


class DemoInterrupted(DemoFailed):
    """SIGTERM stopped the demo; every process it started was stopped first."""


@dataclass(frozen=True, slots=True)
class TimelineEvent:
    """One line of the demo's story. ``since_fault`` is None before the fault."""

    at: float
    kind: str  # fleet, daemon, baseline, checkpoint, fault, warning, critical, ok, run, ...
    text: str
    since_fault: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "at": round(self.at, 3),
            "since_fault_s": None if self.since_fault is None else round(self.since_fault, 3),
            "kind": self.kind,
            "text": self.text,
        }


@dataclass(frozen=True, slots=True)
class Check:
    """One independent check of the outcome, made by the demo itself after the run."""

    name: str
    ok: bool
    detail: str

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "ok": self.ok, "detail": self.detail}


@dataclass(frozen=True, slots=True)
class DemoResult:
    """What happened, measured. ``closed`` is the demo's verdict: exit 0 only when True."""

    target: str
    hosts: int
    workdir: str
    kept: bool
    run_id: str | None
    run_state: str | None
    rolled_back: bool
    verified: bool
    others_untouched: bool
    fault_to_decision_s: float | None
    fault_to_recovered_s: float | None
    decision: Mapping[str, Any] | None
    steps: tuple[Mapping[str, Any], ...]
    checks: tuple[Check, ...]
    timeline: tuple[TimelineEvent, ...]
    audit_events: int
    audit_ok: bool
    audit_summary: str
    audit_trail: tuple[Mapping[str, Any], ...]
    error: str | None = None
    duration_s: float = 0.0

    @property
    def closed(self) -> bool:
        return (
            self.error is None
            and self.run_state == runs.RunState.SUCCEEDED.value
            and self.rolled_back
            and self.verified
            and self.others_untouched
            and self.audit_ok
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "closed": self.closed,
            "target": self.target,
            "hosts": self.hosts,
            "workdir": self.workdir,
            "kept": self.kept,
            "run_id": self.run_id,
            "run_state": self.run_state,
            "rolled_back": self.rolled_back,
            "verified": self.verified,
            "others_untouched": self.others_untouched,
            "fault_to_decision_s": _rounded(self.fault_to_decision_s),
            "fault_to_recovered_s": _rounded(self.fault_to_recovered_s),
            "decision": dict(self.decision) if self.decision is not None else None,
            "steps": [dict(s) for s in self.steps],
            "checks": [c.to_json() for c in self.checks],
            "timeline": [e.to_json() for e in self.timeline],
            "audit_events": self.audit_events,
            "audit_ok": self.audit_ok,
            "audit_summary": self.audit_summary,
            "audit_trail": [dict(a) for a in self.audit_trail],
            "error": self.error,
            "duration_s": round(self.duration_s, 3),
        }


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def victim_of(host_ids: list[str]) -> str:
    """The host the demo breaks: web-3 in a fleet of five, the last one in smaller fleets."""
    return host_ids[min(2, len(host_ids) - 1)]


def run_demo(
    *,
    hosts: int = 5,
    workdir: Path | None = None,
    keep: bool = False,
    emit: Emit | None = None,
    deadline_s: float = DEADLINE_S,
) -> DemoResult:
    """Run the whole scenario and return what happened; never leaves a process behind.

    ``workdir`` must not exist or be empty; default: a fresh temporary directory. It is
    removed at the end unless ``keep``. Ctrl-C and SIGTERM stop the demo cleanly (the
    KeyboardInterrupt is re-raised once everything is stopped).
    """
    if hosts < 2:
        raise DemoFailed("the demo needs at least 2 hosts: one to break, one to leave alone")
    created = workdir is None or not workdir.exists()
    if workdir is None:
        workdir = Path(tempfile.mkdtemp(prefix="rollsafe-demo-"))
    elif workdir.exists() and any(workdir.iterdir()):
        raise DemoFailed(f"{workdir} is not empty: give a new or empty directory")
    workdir = workdir.resolve()
    scenario = _Scenario(workdir, hosts=hosts, emit=emit, deadline_s=deadline_s, keep=keep)
    try:
        with workdirs.daemon_log(workdir / workdirs.DAEMON_LOG):
            return asyncio.run(scenario.main())
    except asyncio.CancelledError:
        raise DemoInterrupted(
            "the demo was stopped by a signal; its processes are stopped"
        ) from None
    finally:
        # Second line of defence (the scenario stops everything itself): a Ctrl-C that lands
        # during the scenario's own cleanup must not leave services running either.
        if scenario.fleet is not None:
            fleet.stop(scenario.fleet)
        if not keep:
            workdirs.remove(workdir, whole=created)


@dataclass(slots=True)
class _Watch:
    """What the demo has seen in the store since the fault."""

    audit_seq: int = 0
    decision: verdicts.Decision | None = None
    run: runs.RollbackRun | None = None
    steps: list[runs.StepRecord] = field(default_factory=list)


class _Scenario:
    def __init__(
        self, workdir: Path, *, hosts: int, emit: Emit | None, deadline_s: float, keep: bool
    ) -> None:
        self.workdir = workdir
        self.hosts = hosts
        self.keep = keep
        self.deadline_s = deadline_s
        self._emit_to = emit
        self.fleet: fleet.Fleet | None = None
        self.timeline: list[TimelineEvent] = []
        self.t_fault: float | None = None
        self.started = time.time()
        self.target = victim_of([f"web-{i}" for i in range(1, hosts + 1)])
        self.watch = _Watch()
        self.good: dict[str, dict[str, str]] = {}

    # ------------------------------------------------------------------ story

    def emit(self, kind: str, text: str, *, at: float | None = None) -> None:
        when = time.time() if at is None else at
        since = None if self.t_fault is None or when < self.t_fault else when - self.t_fault
        event = TimelineEvent(at=when, kind=kind, text=text, since_fault=since)
        self.timeline.append(event)
        if self._emit_to is not None:
            self._emit_to(event)

    # ------------------------------------------------------------------ main

    async def main(self) -> DemoResult:
        loop = asyncio.get_running_loop()
        me = asyncio.current_task()
        if me is not None:
            # SIGTERM ends the demo like Ctrl-C does: cancel, clean up, stop every process.
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(signal.SIGTERM, me.cancel)
        try:
            return await self._main()
        finally:
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(signal.SIGTERM)

    async def _main(self) -> DemoResult:
        built = await asyncio.to_thread(fleet.build, self.workdir, hosts=self.hosts)
        self.fleet = built
        self.emit(
            "fleet",
            f"built in {built.workdir}: {fleet.CONFIG_FILE}, {fleet.STATE_DIR}/, "
            f"hosts/{built.hosts[0].id}..{built.hosts[-1].id} (own port, log, SQLite data)",
        )
        self.good = {h.id: releases.fingerprint(h.root / layout.RELEASE_DIR) for h in built.hosts}
        try:
            await asyncio.to_thread(fleet.start, built)
        except fleet.FleetError as exc:
            return self._failed(f"the fleet did not start: {exc}")
        ports = ", ".join(f"{h.id}:{h.port}" for h in built.hosts)
        self.emit(
            "fleet",
            f"{len(built.hosts)} services up on 127.0.0.1 ({ports}), release "
            f"{releases.GOOD.version}, {built.rows} rows each",
        )
        try:
            loaded = loading.load(built.config_path)
        except errors.ConfigError as exc:
            return self._failed("the generated config is invalid: " + "; ".join(exc.problems))
        controller = daemon.Daemon(loaded)
        stop = asyncio.Event()
        task = asyncio.create_task(controller.run(stop), name="rollsafe-demo-daemon")
        try:
            try:
                result = await self._with_daemon(loaded, controller, task)
            finally:
                await workdirs.stop_daemon(stop, task)
                stopped = await asyncio.to_thread(fleet.stop, built)
            self._follow(controller.store, self.watch)
            self.emit("cleanup", f"daemon stopped; {len(stopped)} demo processes stopped")
            return self._audited(result, controller.store)
        finally:
            controller.store.close()

    def _audited(self, result: DemoResult, store: repositories.Store) -> DemoResult:
        """The result with the audit chain verified and the final timeline."""
        verdict = auditing.verify_store(store)
        events = list(store.list_audit_events())
        self.emit("audit", str(verdict))
        return dataclasses.replace(
            result,
            timeline=tuple(self.timeline),
            audit_events=len(events),
            audit_ok=verdict.ok,
            audit_summary=str(verdict),
            audit_trail=audit_rows(events),
            duration_s=time.time() - self.started,
        )

    async def _with_daemon(
        self,
        loaded: loading.LoadedConfig,
        controller: daemon.Daemon,
        task: asyncio.Task[None],
    ) -> DemoResult:
        config = loaded.config
        problem = await self._wait_ready(controller, task)
        if problem is not None:
            return self._failed(problem)
        watch = self.watch
        watch.audit_seq = _last_seq(controller.store)

        driver = assembly.build_drivers(config, loaded.state_dir)[fleet.DRIVER]
        host = self._host(self.target)
        target = config.target(self.target)
        data_before = _data_facts(host)
        point = await checkpoints.take_checkpoint(
            config=config,
            target_id=self.target,
            store=controller.store,
            driver=driver,
            clock=controller.clock,
            label=f"before upgrade to {releases.BAD.version}",
            actor="demo",
        )
        checks = ", ".join(f"{k}={_short(v)}" for k, v in sorted(point.checks.items()))
        self.emit(
            "checkpoint",
            f"{self.target}: restore point {point.id} of {host.root / layout.RELEASE_DIR} "
            f"({point.data.get('files', '?')} files; {checks})",
        )
        watch.audit_seq = _last_seq(controller.store)

        upgrade_started = controller.clock.now()
        try:
            await driver.upgrade(target, key=f"demo-upgrade:{self.target}:{point.id}")
        except errors.RollsafeError as exc:
            return self._failed(f"the upgrade of {self.target} failed: {exc}")
        self.t_fault = controller.clock.now()
        # The mark tells the judge (and anyone replaying the store) when the upgrade landed.
        controller.store.add_observations(
            [
                observations.Observation(
                    time=self.t_fault,
                    target=ids.TargetId(self.target),
                    source=f"{daemon.MARK_PREFIX}upgrade",
                    value=1.0,
                )
            ]
        )
        self.emit(
            "fault",
            f"{self.target} upgraded to {releases.BAD.version} in "
            f"{self.t_fault - upgrade_started:.2f}s: every 3rd request now answers 500 "
            "and logs an ERROR line",
            at=self.t_fault,
        )

        timed_out = await self._watch(controller, task, watch, fault_at=self.t_fault)
        return self._conclude(
            controller,
            task,
            watch,
            data_before=data_before,
            timed_out=timed_out,
            fault_at=self.t_fault,
        )

    # ------------------------------------------------------------------ phases

    async def _wait_ready(self, controller: daemon.Daemon, task: asyncio.Task[None]) -> str | None:
        """None once every host is judged ok on data; else why the demo cannot go on."""
        deadline = time.monotonic() + READY_TIMEOUT_S
        ready = asyncio.ensure_future(controller.ready.wait())
        try:
            done, _ = await asyncio.wait(
                [ready, task], timeout=READY_TIMEOUT_S, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            ready.cancel()
        if task in done:
            return f"the daemon stopped while starting: {workdirs.task_error(task)}"
        if not controller.ready.is_set():
            return f"the daemon was not ready within {READY_TIMEOUT_S:g}s"
        config = controller.config
        self.emit(
            "daemon",
            f"rollsafe watching {len(config.targets)} targets: {len(config.probes)} probes, "
            f"{len(config.rules)} rules (critical: {fleet.CRITICAL_RULE} = "
            f"{fleet.RATIO_RULE} AND {fleet.RATE_RULE})",
        )
        pending = [h.id for h in self._fleet.hosts]
        while pending:
            if task.done():
                return f"the daemon stopped: {workdirs.task_error(task)}"
            now = controller.clock.now()
            pending = [t for t in pending if not _judged_healthy(controller, t, now)]
            if not pending:
                break
            if time.monotonic() > deadline:
                return f"hosts not judged healthy within {READY_TIMEOUT_S:g}s: {', '.join(pending)}"
            await asyncio.sleep(_POLL_S)
        self.emit("baseline", "the judge sees every host healthy, with enough data on each rule")
        return None

    async def _watch(
        self, controller: daemon.Daemon, task: asyncio.Task[None], watch: _Watch, *, fault_at: float
    ) -> bool:
        """Follow the store until the victim's run ends; True if the deadline passed first."""
        deadline = fault_at + self.deadline_s
        while True:
            self._follow(controller.store, watch)
            if watch.run is not None and not watch.run.open:
                return False
            if task.done() or controller.clock.now() > deadline:
                return True
            await asyncio.sleep(_POLL_S)

    def _follow(self, store: repositories.Store, watch: _Watch) -> None:
        """Turn new audit events into timeline lines; note the decision and the run."""
        for event in list(store.list_audit_events(since_seq=watch.audit_seq)):
            watch.audit_seq = event.seq
            self._narrate(store, event, watch)
        if watch.run is not None:
            watch.run = store.get_run(watch.run.id) or watch.run

    def _narrate(
        self, store: repositories.Store, event: audit_events.AuditEvent, watch: _Watch
    ) -> None:
        e = event.entry
        action = e.action
        if action.startswith("decision."):
            severity = action.removeprefix("decision.")
            rule = str(e.details.get("rule", "?"))
            text = f"{e.target} {rule}: {e.reason}"
            if severity == "critical" and e.target == self.target and watch.decision is None:
                watch.decision = _critical_decision(store, self.target, at=e.time)
                children = (watch.decision.evidence if watch.decision else {}).get("children", [])
                found = "; ".join(f"{c['rule']}: {c['summary']}" for c in children)
                text = f"{e.target} {rule}: both signals agree, roll back ({found})"
            self.emit(severity, text, at=e.time)
        elif action == "run.opened":
            if e.target == self.target and watch.run is None and e.run_id is not None:
                watch.run = store.get_run(ids.RunId(e.run_id))
            self.emit(
                "run",
                f"{e.run_id} opened for {e.target} by {e.actor} "
                f"(trigger {e.details.get('trigger')}, approval {e.details.get('approval')})",
                at=e.time,
            )
        elif action.startswith("run.state."):
            state = action.removeprefix("run.state.")
            extra = ""
            if state == "prechecking":
                extra = f": restore point {e.details.get('restore_point')}"
            elif state == "executing":
                extra = ": precheck passed, restore point intact"
            self.emit("run", f"{e.run_id} {state}{extra}", at=e.time)
        elif action in ("run.step.done", "run.step.failed", "run.step.retry"):
            name = e.details.get("step", "?")
            step = _step(store, e.run_id, e.details.get("index"))
            took = (
                f" in {step.finished_at - step.started_at:.2f}s"
                if step is not None and step.finished_at is not None
                else ""
            )
            verb = action.removeprefix("run.step.")
            text = f"step {name} {verb}{took}: {_first_line(e.result or e.reason)}"
            self.emit("step", text, at=e.time)
        elif action == "run.succeeded":
            self.emit("verified", f"{e.run_id} succeeded, verified: {e.reason}", at=e.time)
        elif action == "run.failed":
            self.emit("failed", f"{e.run_id} failed: {e.reason}", at=e.time)
        elif action in (
            "run.step.started",
            "daemon.started",
            "daemon.stopped",
            "restore_point.created",
        ):
            return  # told by the step's end, the daemon line, the checkpoint line
        else:
            self.emit("audit", f"{action} {e.target or ''} {e.reason}".strip(), at=e.time)

    # ------------------------------------------------------------------ outcome

    def _conclude(
        self,
        controller: daemon.Daemon,
        task: asyncio.Task[None],
        watch: _Watch,
        *,
        data_before: Mapping[str, Any],
        timed_out: bool,
        fault_at: float,
    ) -> DemoResult:
        store = controller.store
        run = watch.run
        error: str | None = None
        if timed_out:
            error = (
                f"the daemon stopped: {workdirs.task_error(task)}"
                if task.done()
                else f"the loop did not close within {self.deadline_s:g}s of the fault"
            )
        steps = store.list_steps(run.id) if run is not None else []
        succeeded = run is not None and run.state is runs.RunState.SUCCEEDED
        host = self._host(self.target)

        checks: list[Check] = []
        restored = releases.fingerprint(host.root / layout.RELEASE_DIR)
        same_release = restored == self.good[self.target]
        checks.append(
            Check(
                "release restored",
                same_release,
                f"{host.root / layout.RELEASE_DIR}: "
                + (
                    f"byte-identical to the checkpoint ({len(restored)} files)"
                    if same_release
                    else f"differs from the checkpoint: {_diff(self.good[self.target], restored)}"
                ),
            )
        )
        data_after = _data_facts(host)
        same_data = data_after == data_before
        checks.append(
            Check(
                "data unchanged",
                same_data,
                f"{data_after.get('rows')} rows, sha256 {_short(data_after.get('sha256'))}"
                + ("" if same_data else f" (before: {data_before})"),
            )
        )
        answer = fleet.health(host)
        serving = answer is not None and answer.get("version") == releases.GOOD.version
        checks.append(
            Check(
                "serving the good release",
                serving,
                f"{self.target} /health -> {answer}" if answer else f"{self.target} not answering",
            )
        )
        others_ok, others_detail = self._others(store)
        checks.append(Check("other hosts untouched", others_ok, others_detail))

        if succeeded and run is not None:
            self.emit(
                "recovered",
                f"{self.target} serves {releases.GOOD.version} again, verified by rollsafe "
                "and by the demo's own checks"
                if all(c.ok for c in checks)
                else f"{self.target}: run succeeded, but the demo's own checks disagree",
                at=run.updated_at,
            )
        decision = watch.decision
        return DemoResult(
            target=self.target,
            hosts=self.hosts,
            workdir=str(self.workdir),
            kept=self.keep,
            run_id=run.id if run is not None else None,
            run_state=run.state.value if run is not None else None,
            rolled_back=bool(steps)
            and all(s.state is runs.StepState.DONE for s in steps)
            and same_release,
            verified=succeeded and same_data and serving,
            others_untouched=others_ok,
            fault_to_decision_s=decision.time - fault_at if decision is not None else None,
            fault_to_recovered_s=(
                run.updated_at - fault_at if succeeded and run is not None else None
            ),
            decision=decision.to_json() if decision is not None else None,
            steps=tuple(s.to_json() for s in steps),
            checks=tuple(checks),
            timeline=(),  # filled in by main() once the daemon has stopped
            audit_events=0,
            audit_ok=False,
            audit_summary="",
            audit_trail=(),
            error=error or (run.error if run is not None and not succeeded else None),
        )

    def _others(self, store: repositories.Store) -> tuple[bool, str]:
        others = [h for h in self._fleet.hosts if h.id != self.target]
        problems: list[str] = []
        for h in others:
            if store.list_runs(target=ids.TargetId(h.id), limit=1):
                problems.append(f"{h.id} had a rollback run")
            worst = max(
                (d.severity for d in store.list_decisions(target=ids.TargetId(h.id), limit=1000)),
                default=verdicts.Severity.OK,
            )
            if worst is not verdicts.Severity.OK:
                problems.append(f"{h.id} was judged {worst.label}")
            if releases.fingerprint(h.root / layout.RELEASE_DIR) != self.good[h.id]:
                problems.append(f"{h.id} release changed")
            if fleet.health(h) is None:
                problems.append(f"{h.id} not healthy")
        if problems:
            return False, "; ".join(problems)
        return True, f"{len(others)} hosts: no run, never judged worse than ok, release unchanged"

    def _failed(self, why: str) -> DemoResult:
        return DemoResult(
            target=self.target,
            hosts=self.hosts,
            workdir=str(self.workdir),
            kept=self.keep,
            run_id=None,
            run_state=None,
            rolled_back=False,
            verified=False,
            others_untouched=False,
            fault_to_decision_s=None,
            fault_to_recovered_s=None,
            decision=None,
            steps=(),
            checks=(),
            timeline=(),
            audit_events=0,
            audit_ok=False,
            audit_summary="",
            audit_trail=(),
            error=why,
        )

    @property
    def _fleet(self) -> fleet.Fleet:
        if self.fleet is None:
            raise DemoFailed("the fleet is not built yet")
        return self.fleet

    def _host(self, host_id: str) -> fleet.Host:
        return self._fleet.host(host_id)


# --------------------------------------------------------------------------- helpers


def _judged_healthy(controller: daemon.Daemon, target: str, now: float) -> bool:
    """Every rule ok for ``target`` and every rule backed by data (not ok for lack of it)."""
    decisions = controller.engine.evaluate(target, now=now)
    return bool(decisions) and all(
        d.severity is verdicts.Severity.OK and not d.evidence.get("no_data", False)
        for d in decisions
    )


def _last_seq(store: repositories.Store) -> int:
    last = 0
    for event in store.list_audit_events():
        last = event.seq
    return last


def _critical_decision(
    store: repositories.Store, target: str, *, at: float
) -> verdicts.Decision | None:
    for decision in store.list_decisions(target=ids.TargetId(target), limit=1000):
        if decision.severity is verdicts.Severity.CRITICAL and decision.time >= at - 1e-6:
            return decision
    return None


def _step(store: repositories.Store, run_id: str | None, index: object) -> runs.StepRecord | None:
    if run_id is None or not isinstance(index, int):
        return None
    for step in store.list_steps(ids.RunId(run_id)):
        if step.index == index:
            return step
    return None


def _data_facts(host: fleet.Host) -> dict[str, Any]:
    path = host.root / layout.DATA_FILE
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        rows = int(db.execute("SELECT count(*) FROM items").fetchone()[0])
    return {"rows": rows, "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}


def _diff(before: Mapping[str, str], after: Mapping[str, str]) -> str:
    added = sorted(set(after) - set(before))
    removed = sorted(set(before) - set(after))
    changed = sorted(k for k in set(before) & set(after) if before[k] != after[k])
    parts = [f"{label}: {', '.join(names)}" for label, names in
             (("added", added), ("removed", removed), ("changed", changed)) if names]  # fmt: skip
    return "; ".join(parts) or "no difference"


def _short(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, str) and len(value) > 16:
        return value[:12] + "…"
    return str(value)


def _first_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[-1] if lines else ""


def audit_rows(events: list[audit_events.AuditEvent]) -> tuple[dict[str, Any], ...]:
    """The audit trail, compact: one row per event."""
    return tuple(
        {
            "seq": ev.seq,
            "time": ev.entry.time,
            "actor": ev.entry.actor,
            "action": ev.entry.action,
            "target": ev.entry.target,
            "run_id": ev.entry.run_id,
            "result": ev.entry.result,
            "reason": ev.entry.reason,
            "rule": ev.entry.details.get("rule"),
            "hash": ev.hash,
        }
        for ev in events
    )
