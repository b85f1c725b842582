"""The daemon: wires detect -> judge -> execute -> verify, persists and audits, until stopped.

Flow of one observation: a probe's result reaches ``_consume`` through a queue, an alert's
through the inbox processor (``accept_stored``); both enter the judge through ``_observe``,
which counts it, folds it in and re-evaluates that target at once (a critical decision reaches
the executor within milliseconds, not at the next tick). Decisions whose severity changed
(``judge.changes``) are stored with an audit event, and ``runtime.acting`` decides what a
critical one does (open a run, or not when there is nothing to undo). Probe observations are
persisted in batches; an alert's with its inbox row.

Only one controller executes runs for a state directory: the daemon holds the controller lock
for its lifetime (``rollsafe rollback`` uses it to know whether to act itself).

Replicas: on a shared database (PostgreSQL), several daemons run at once and exactly one
leads (``rollsafe.runtime.leadership``). Every replica serves the API and stores webhooks in
the durable inbox; only the leader probes, judges, processes the inbox, drives runs and
rollouts and ships the audit. Each time a replica becomes leader it starts a *term*: it reads
the store afresh (decisions, observations) and resumes every open run and rollout exactly as a
restarted controller does. The term's fencing token is bound for every task the term starts
(``storage.fencing``), so every write they make (observations, inbox processing, decisions,
runs, rollouts, shipping cursors) is refused once another replica leads. When it loses the
lease, or one of its writes is refused, it halts the term at once and steps down. On SQLite
(one host) the controller lock alone decides, as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from rollsafe.config import loading
from rollsafe.detect import scheduling
from rollsafe.domain import audit_events, clocks, errors, ids, observations, verdicts
from rollsafe.execute import runs, upgrading
from rollsafe.judge import changes, engine
from rollsafe.notify import dispatching, links, routing
from rollsafe.rollouts import conducting
from rollsafe.runtime import (
    acting,
    assembly,
    inbox,
    leadership,
    locking,
    metrics,
    recall,
    tasks,
)
from rollsafe.shipping import shipping
from rollsafe.storage import engines, fencing, repositories, sql

log = logging.getLogger("rollsafe.daemon")

MARK_PREFIX = "mark:"
FLUSH_INTERVAL = 1.0
FLUSH_BATCH = 2000
PRUNE_INTERVAL = 3600.0
MARK_POLL_INTERVAL = 1.0
WARM_UP_LIMIT = 200_000


class ControllerBusy(RuntimeError):
    """Another controller already holds the state directory's lock."""


class Daemon:
    """One controller process. Construct, then ``await run(stop)``."""

    def __init__(
        self,
        loaded: loading.LoadedConfig,
        *,
        clock: clocks.Clock | None = None,
        store: repositories.Store | None = None,
        leader_election: bool | None = None,
    ) -> None:
        """``leader_election``: share the work with other replicas through the leader lease;
        default: when the store is not SQLite (SQLite is one host: the lock is enough)."""
        self.loaded = loaded
        self.config = loaded.config
        self.clock: clocks.Clock = clock or clocks.SystemClock()
        self.store: repositories.Store = store or sql.open_store(
            loaded.state_dir, self.config.store.url, password_env=self.config.store.password_env
        )
        self.engine = engine.Engine(self.config)
        self.metrics = metrics.Metrics(
            probes=[p.name for p in self.config.probes],
            open_runs=lambda: self.store.list_runs(open_only=True, limit=10_000),
            log_backlog=lambda: self._scheduler.log_backlog() if self._scheduler else {},
        )
        # Run events (announced, started, succeeded, failed ...) reach people through the
        # executor's audit hook; see rollsafe.notify.routing for what is said when.
        self.announcer = routing.Announcer(
            clock=self.clock,
            links=_link_maker(loaded),
            public_url=self.config.access.public_url,
            lookup=lambda run_id: self.store.get_run(ids.RunId(run_id)),
            quiet_rules=frozenset(r.id for r in self.config.rules if not r.notify),
        )
        self.executor: runs.Executor = assembly.build_executor(
            loaded, self.store, clock=self.clock, on_audit=self._on_run_audit
        )
        # Rollouts run here because their bakes read this engine's live decisions.
        self.rollouts = self._rollout_driver()
        self.ledger = changes.Ledger()
        self.acting = self._acting()
        self.notifications = dispatching.Dispatcher.from_config(
            self.config.notifiers, clock=self.clock, on_outcome=self.metrics.notified
        )
        self.shipping = shipping.AuditShipping.from_config(self.config.audit_shipping, self.store)
        # Webhook bodies the API stored, parsed and judged as they are processed.
        self.inbox = inbox.InboxProcessor(
            self.config, self.store, sink=self.accept_stored, clock=self.clock
        )
        self.ready = asyncio.Event()
        self.observed = 0
        self._queue: asyncio.Queue[observations.Observation] = asyncio.Queue()
        self._unsaved: list[observations.Observation] = []
        self._tasks: tasks.TaskGroup | None = None
        self._last_marks: dict[str, float] = {}  # per mark source: the newest one folded
        if leader_election is None:
            leader_election = not engines.is_sqlite(self.config.store.url or "sqlite://")
        self.leadership: leadership.Leadership | None = (
            leadership.Leadership(
                self.store,
                ttl=self.config.store.lease_ttl,
                renew=self.config.store.lease_renew,
                clock=self.clock,
            )
            if leader_election
            else None
        )
        # Replicas share the state directory's lock; the lease decides which one acts.
        self._lock = locking.ControllerLock(loaded.state_dir, shared=self.leadership is not None)
        self._scheduler: scheduling.Scheduler | None = None

    # ------------------------------------------------------------------ lifecycle

    @property
    def failed(self) -> bool:
        """True when the daemon stopped because one of its tasks failed."""
        return self._tasks is not None and self._tasks.failure is not None

    def health(self) -> dict[str, object]:
        """The daemon's own health (``GET /healthz``): running, or the task that failed."""
        failure = self._tasks.failure if self._tasks is not None else None
        report: dict[str, object] = {
            "running": self.ready.is_set() and failure is None,
            "failure": failure,
        }
        if self.leadership is not None:
            report["leadership"] = self.leadership.status()
        return report

    async def run(self, stop: asyncio.Event) -> None:
        """Run the loop until ``stop`` is set; raises ControllerBusy if another one runs."""
        group = self._tasks = tasks.TaskGroup(stopping=stop)
        if not self._lock.try_acquire():
            raise ControllerBusy(
                f"another rollsafe controller holds {self.loaded.state_dir}/controller.lock"
            )
        try:
            group.start("notify", self.notifications.run())
            if self.leadership is None:
                self._start_acting(group, stop)
            else:
                self._sync_targets()
                group.start("leadership", self.leadership.run())
                group.start("lead", self._lead(stop, self.leadership))
            self.ready.set()
            self._audit("daemon.started", reason=f"config {self.loaded.path}")
            log.info(
                "rollsafe running: %d targets, %d probes, %d rules",
                len(self.config.targets),
                len(self.config.probes),
                len(self.config.rules),
            )
            waiters = [
                asyncio.create_task(stop.wait(), name="wait-stop"),
                asyncio.create_task(group.failed.wait(), name="wait-failure"),
            ]
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
            for waiter in waiters:
                waiter.cancel()
            stop.set()
        finally:
            await self._shut_down(group)

    def _start_acting(
        self,
        group: tasks.TaskGroup,
        stop: asyncio.Event,
        *,
        fence: int | None = None,
        halt: asyncio.Event | None = None,
    ) -> None:
        """Start up and start the tasks that act: only one controller (the leader) runs them."""
        self.metrics.leader.set(1)
        # Built before start-up, so upgrades replayed from the store are watched too.
        scheduler = scheduling.Scheduler(self.config, clock=self.clock, sink=self._accept)
        self._scheduler = scheduler
        self.acting.watcher = scheduler
        self._start_up()
        group.start("judge", self._consume())
        group.start("persist", self._flush_forever())
        group.start("marks", self._watch_marks())
        group.start("prune", self._prune_forever())
        if self.shipping:
            # Never critical: a log platform that is down must not stop rollbacks.
            group.start("ship-audit", self.shipping.run(), critical=False)
        group.start("execute", self.executor.serve(stop, fence=fence, halt=halt))
        group.start("rollouts", self.rollouts.serve(stop, fence=fence, halt=halt))
        if self.config.intake:
            group.start("inbox", self.inbox.run())
        group.start("probes", scheduler.run())

    async def _lead(self, stop: asyncio.Event, lead: leadership.Leadership) -> None:
        """Follow until elected, act for the term, follow again when the lease is lost."""
        while not stop.is_set():
            await lead.elected.wait()
            await self._term(stop, lead)

    async def _term(self, stop: asyncio.Event, lead: leadership.Leadership) -> None:
        """One term as leader: start up like a fresh controller, act until stop or lost."""
        token = lead.token
        # Bound in this (the lead) task, so every task the term starts writes with it.
        bound = fencing.bind(token)
        ending = asyncio.Event()  # the term's tasks end on their own once this is set
        halt = asyncio.Event()  # deposed: no grace for anything in flight
        term = tasks.TaskGroup(stopping=ending)
        try:
            if lead.terms > 1:
                self._fresh_judgement()
            self._start_acting(term, ending, fence=token, halt=halt)
            self._audit("daemon.leading", reason=f"{lead.holder} leads with token {token}")
            waiters = [
                asyncio.create_task(stop.wait(), name="term-stop"),
                asyncio.create_task(lead.lost.wait(), name="term-lost"),
                asyncio.create_task(term.failed.wait(), name="term-failed"),
                # A write refused: another replica leads, whatever our lease renewal thinks.
                asyncio.create_task(term.fenced.wait(), name="term-fenced"),
                asyncio.create_task(halt.wait(), name="term-halted"),
            ]
            try:
                await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for waiter in waiters:
                    waiter.cancel()
        except errors.FencedOut:
            term.fenced.set()  # refused at start-up (take-over, the leading audit)
        finally:
            fenced = term.fenced.is_set() or (halt.is_set() and not lead.lost.is_set())
            if (lead.lost.is_set() or fenced) and not stop.is_set():
                halt.set()
            if fenced:
                lead.deposed("a write of this term was refused: another replica leads")
            ending.set()
            self.metrics.leader.set(0)
            await term.stop()
            self._scheduler = None
            self.acting.watcher = None
            if halt.is_set():
                # Deposed: what was not judged is the new leader's to judge; never act on it.
                self._queue = asyncio.Queue()
                self._unsaved = []
            else:
                with contextlib.suppress(errors.FencedOut):
                    self._drain_queue()
                    self._flush()
            fencing.unbind(bound)
        if term.failure is not None and not stop.is_set():
            raise RuntimeError(f"leader task failed: {term.failure}")

    def _fresh_judgement(self) -> None:
        """A new term after a lost one: forget what this replica knew, read the store anew."""
        self.engine = engine.Engine(self.config)
        self.ledger = changes.Ledger()
        self.acting = self._acting()
        self._last_marks = {}
        self.rollouts = self._rollout_driver()

    def _rollout_driver(self) -> conducting.RolloutConductor:
        return conducting.RolloutConductor(
            config=self.config,
            state_dir=self.loaded.state_dir,
            store=self.store,
            executor=self.executor,
            engine=self.engine,
            clock=self.clock,
        )

    def _acting(self) -> acting.Acting:
        return acting.Acting(
            config=self.config,
            store=self.store,
            executor=self.executor,
            clock=self.clock,
            horizon=self.engine.horizon(),
            announce=self._announce,
        )

    def _sync_targets(self) -> None:
        self.store.sync_targets(
            [
                repositories.TargetRecord(
                    id=ids.TargetId(t.id), address=t.address, labels=dict(t.labels), driver=t.driver
                )
                for t in self.config.targets
            ]
        )

    def _start_up(self) -> None:
        self._sync_targets()
        latest = self.store.latest_decisions()
        self.ledger.seed(d for decisions in latest.values() for d in decisions)
        self._warm_up()
        self.acting.take_over(latest)

    def _warm_up(self) -> None:
        """Refill the judge's windows from stored observations, so a restart keeps context."""
        since = self.clock.now() - self.engine.horizon()
        self.acting.runs_seen(self.store.list_runs(since=since, limit=WARM_UP_LIMIT))
        # What the judge knew from before its horizon: each target's newest marks (however
        # old) and the reference periods before them (``recall``); then the horizon's
        # observations, newer, in order. The mark watcher starts at the horizon.
        self._last_marks = dict.fromkeys(upgrading.MARKS, since)
        configured = [ids.TargetId(t.id) for t in self.config.targets]
        marks = recall.newest_marks(self.store, configured, per_kind=engine.MAX_MARKS)
        for mark in marks:
            self._fold(mark)
        for obs in recall.reference_observations(
            self.store, marks, before=self.engine.before_marks(), since=since, limit=WARM_UP_LIMIT
        ):
            self._fold(obs)
        for obs in self.store.list_observations(since=since, limit=WARM_UP_LIMIT):
            self._fold(obs)
            if obs.source in upgrading.MARKS:
                self._last_marks[obs.source] = max(self._last_marks.get(obs.source, 0.0), obs.time)
            if obs.source == upgrading.FINISHED:
                self._watch_upgraded(obs)
        # An alert's observation carries the alert's own time (when it started firing), which
        # may be far older than the horizon while the alert still fires: read alert sources
        # back over the whole retention.
        alerts_since = self.clock.now() - self.config.policy.observation_retention
        for source in sorted({endpoint.source_name for endpoint in self.config.intake}):
            for obs in self.store.list_observations(
                source=source, since=alerts_since, limit=WARM_UP_LIMIT
            ):
                if obs.time < since:  # newer ones were folded above
                    self._fold(obs)

    async def _shut_down(self, group: tasks.TaskGroup) -> None:
        await group.stop()
        self._drain_queue()
        self._flush()
        with contextlib.suppress(Exception):
            self._audit("daemon.stopped", reason=group.failure or "stop requested")
        self._lock.release()
        if group.failure:
            log.error("daemon stopped because a task failed: %s", group.failure)

    # ------------------------------------------------------------------ detect -> judge

    def _accept(self, obs: observations.Observation) -> None:
        """Sink for the scheduler: never blocks."""
        self._queue.put_nowait(obs)

    def accept_stored(self, obs: observations.Observation) -> None:
        """Sink for the inbox processor: judged now, not saved again (the processor saves it
        with the inbox row, after this returns)."""
        self._observe(obs, save=False)

    async def _consume(self) -> None:
        while True:
            obs = await self._queue.get()
            self._observe(obs, save=True)

    def _drain_queue(self) -> None:
        while not self._queue.empty():
            self._observe(self._queue.get_nowait(), save=True)

    def _observe(self, obs: observations.Observation, *, save: bool) -> None:
        """The one entry into the judge, for probe results and alerts alike."""
        self.observed += 1
        self.metrics.observed(obs)
        if save:
            self._unsaved.append(obs)
        self._fold(obs)
        if not obs.source.startswith(MARK_PREFIX):
            # A probe that could not observe (refused, timed out) is worth a quick second look.
            self.judge(obs.target, suspect=obs.error is not None)
            # A target the fleet veto holds is judged again when a peer reports: the peer's
            # check may release it (``Engine.held_targets``), as ``replay`` does.
            for held in self.engine.held_targets():
                if held != obs.target:
                    self.judge(held)

    def _fold(self, obs: observations.Observation) -> None:
        if obs.source.startswith(MARK_PREFIX):
            name = obs.source.removeprefix(MARK_PREFIX)
            self.engine.mark(observations.Mark(time=obs.time, target=obs.target, name=name))
            if obs.source in upgrading.MARKS:
                self.acting.upgrade_seen(obs.target, obs.time)
        else:
            self.engine.observe(obs)

    def judge(self, target: str, *, suspect: bool = False) -> list[verdicts.Decision]:
        """Evaluate ``target`` now; persist and act on what changed. Returns changed decisions.

        ``suspect``: the observation that prompted this could not be made (see
        ``acting.Acting.confirm_quickly``)."""
        decisions = self.engine.evaluate(target, now=self.clock.now())
        self.acting.confirm_quickly(target, decisions, suspect=suspect)
        noted = [(d, self.ledger.note(d.target, d.rule, d.severity)) for d in decisions]
        changed = [d for d, change in noted if change is not changes.Change.SAME]
        if not changed:
            return []
        # A rule seen for the first time at ok is not news; store it quietly, audit the rest.
        noteworthy = [d for d, change in noted if change is changes.Change.CHANGED]
        self.store.add_decisions(changed, audit=[_decision_entry(d) for d in noteworthy])
        for d in noteworthy:
            log.info("%s %s %s: %s", d.target, d.rule, d.severity.label, d.summary)
            self.metrics.decided(d)
            message = self.announcer.for_decision(d)
            if message is not None:  # warnings and blindness; critical ones via their run
                self.notifications.publish(message)
        for d in changed:
            self.acting.act(d)
        return changed

    def _on_run_audit(self, entry: audit_events.AuditEntry) -> None:
        """The executor's audit hook: count it, and tell people what they need to hear."""
        self.metrics.audited(entry)
        if entry.action == "run.succeeded" and entry.target is not None:
            self.acting.rolled_back(entry.target, entry.time)
        self._announce(entry)

    def _announce(self, entry: audit_events.AuditEntry) -> None:
        """Tell people about ``entry`` if it is something they need to hear."""
        message = self.announcer.for_audit(entry)
        if message is not None:
            self.notifications.publish(message)

    # ------------------------------------------------------------------ background work

    def _take_unsaved(self) -> list[observations.Observation]:
        # Marks are already stored by whoever made them; only probe results are saved here.
        batch, self._unsaved = self._unsaved, []
        return [o for o in batch if not o.source.startswith(MARK_PREFIX)]

    def _flush(self) -> None:
        batch = self._take_unsaved()
        if batch:
            self.store.add_observations(batch)

    async def _flush_forever(self) -> None:
        """Observations are saved in batches, never one transaction per observation."""
        while True:
            await asyncio.sleep(FLUSH_INTERVAL)
            batch = self._take_unsaved()
            for start in range(0, len(batch), FLUSH_BATCH):
                await asyncio.to_thread(
                    self.store.add_observations, batch[start : start + FLUSH_BATCH]
                )

    async def _watch_marks(self) -> None:
        """Upgrade marks are written to the store by ``rollsafe upgrade`` (another process)."""
        while True:
            for source in upgrading.MARKS:
                last = self._last_marks.get(source, 0.0)
                marks = await asyncio.to_thread(
                    self.store.list_observations, source=source, since=last
                )
                for mark in marks:
                    if mark.time > self._last_marks.get(source, 0.0):
                        self._last_marks[source] = mark.time
                        self._fold(mark)
                        if source == upgrading.FINISHED:
                            self._watch_upgraded(mark)
            await asyncio.sleep(MARK_POLL_INTERVAL)

    def _watch_upgraded(self, mark: observations.Observation) -> None:
        """A target just upgraded is probed closely for ``policy.watch_after_upgrade``."""
        policy = self.config.policy
        left = mark.time + policy.watch_after_upgrade - self.clock.now()
        if self._scheduler is not None and left > 0:
            self._scheduler.watch(mark.target, duration=left, interval=policy.watch_interval)

    async def _prune_forever(self) -> None:
        while True:
            cutoff = self.clock.now() - self.config.policy.observation_retention
            # Marks are kept: a target upgraded before the retention is still a marked one.
            removed = await asyncio.to_thread(
                self.store.prune_observations, older_than=cutoff, keep=recall.KEPT
            )
            if removed:
                log.info("pruned %d observations older than retention", removed)
            await asyncio.sleep(PRUNE_INTERVAL)

    def _audit(self, action: str, *, reason: str) -> None:
        self.store.append_audit(
            audit_events.AuditEntry(
                time=self.clock.now(), actor="daemon", action=action, reason=reason
            )
        )


def _decision_entry(d: verdicts.Decision) -> audit_events.AuditEntry:
    return audit_events.AuditEntry(
        time=d.time,
        actor="judge",
        action=f"decision.{d.severity.label}",
        target=d.target,
        reason=d.summary,
        details={"rule": d.rule, "evidence": dict(d.evidence)},
        result=d.severity.label,
    )


def _link_maker(loaded: loading.LoadedConfig) -> links.LinkMaker | None:
    """Approve/reject links for messages, or None (messages then carry no links).

    A broken key source is logged, not fatal: a daemon that does not start protects nobody,
    and people can still decide with the CLI, the API and the dashboard.
    """
    try:
        return links.maker_for(loaded.config.access, base_dir=loaded.path.parent)
    except errors.ConfigError as exc:
        log.error("approval links disabled: %s", exc)  # noqa: TRY400 - a condition, not a trace
        return None
