"""Acting on the judge's decisions: which critical decision opens a rollback run (runtime).

Role in the loop: between judge and execute. The daemon hands every decision whose severity
changed to ``Acting.act``, and at the start of each leader term (a restart, a failover) the
latest stored decisions to ``Acting.take_over``. Both apply the same policy, so a failover in
between never changes the outcome:

- **one rollback per upgrade**: a target rolled back and verified less than the judge's
  horizon ago, and not upgraded since, is not rolled back again: its windows and lagging
  sources (a Prometheus rate window, an alert not yet resolved) still hold the failed
  release's evidence, and a second rollback to the same restore point would undo nothing.
  That decision is audited ``run.not_requested`` for a person. An upgrade counts from the
  moment it STARTS (``mark:upgrade_started``, ``execute.upgrading``): a failure seen while
  ``rollsafe upgrade`` still runs has a new release to undo.
- **take-over**: a critical decision with no run for its target since it was made (the
  controller died between storing the decision and opening its run, or a leader lost its
  lease there) gets the same ``act`` as on the live path.
- **confirm quickly**: a rule whose condition starts to hold (``Decision.pending``), or a
  probe that could not observe, gets its target probed every ``policy.watch_interval`` for
  ``policy.confirm_window``: a real failure is confirmed in seconds, a blip cleared.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

from rollsafe.config import models
from rollsafe.domain import audit_events, clocks, ids, verdicts
from rollsafe.domain import runs as run_states
from rollsafe.execute import runs, upgrading
from rollsafe.storage import repositories

__all__ = ["Acting", "Watcher"]

log = logging.getLogger("rollsafe.daemon")


class Watcher(Protocol):
    """What confirming quickly needs of the scheduler."""

    def watch(
        self, target_id: str, *, duration: float, interval: float, at_once: bool = True
    ) -> int: ...


class Acting:
    """The act-on-decision policy of one leader term (see the module notes).

    ``horizon``: how far back the judge's windows reach. ``announce``: tells people about an
    audit entry (a ``run.not_requested`` is for a person to look at).
    """

    def __init__(
        self,
        *,
        config: models.RollsafeConfig,
        store: repositories.Store,
        executor: runs.Executor,
        clock: clocks.Clock,
        horizon: float,
        announce: Callable[[audit_events.AuditEntry], None],
    ) -> None:
        self._config = config
        self._store = store
        self._executor = executor
        self._clock = clock
        self._horizon = horizon
        self._announce = announce
        self.watcher: Watcher | None = None
        self._pending: set[str] = set()  # targets being confirmed quickly
        # Per target: the newest start of an upgrade, and the end of the newest verified
        # rollback.
        self.upgraded: dict[str, float] = {}
        self._rolled_back: dict[str, float] = {}

    # ------------------------------------------------------------------ what happened

    def upgrade_seen(self, target: str, at: float) -> None:
        """An upgrade of ``target`` started (or ended) at ``at``."""
        self.upgraded[target] = max(self.upgraded.get(target, 0.0), at)

    def rolled_back(self, target: str, at: float) -> None:
        """A rollback of ``target`` was verified at ``at``."""
        self._rolled_back[target] = max(self._rolled_back.get(target, 0.0), at)

    def runs_seen(self, found: Sequence[run_states.RollbackRun]) -> None:
        """Stored runs read at start-up: the verified ones count as rollbacks."""
        for run in found:
            if run.state is run_states.RunState.SUCCEEDED:
                self.rolled_back(run.target, run.updated_at)

    # ------------------------------------------------------------------ acting

    def act(self, decision: verdicts.Decision) -> run_states.RollbackRun | None:
        """A critical decision: open its rollback run unless there is nothing to undo."""
        if decision.severity is not verdicts.Severity.CRITICAL:
            return None
        if self._nothing_to_undo(decision):
            return None
        point, why = self._point_before_watch(decision)
        run = self._executor.request(
            decision.target,
            trigger=f"decision:{decision.rule}",
            actor="rollsafe",
            reason=decision.summary + why,
            evidence=decision.to_json(),
            restore_point=point,
        )
        log.warning("%s: rollback run %s is %s", decision.target, run.id, run.state.value)
        return run

    def take_over(self, latest: Mapping[ids.TargetId, Sequence[verdicts.Decision]]) -> None:
        """Act on the critical decisions a previous term stored but may not have acted on.

        The decision is stored before its run is requested; a controller killed (or deposed)
        in between would otherwise never act on it, since to the new term its severity is
        no longer *new*. A critical decision with no run for its target since it was made
        goes through ``act``, exactly as on the live path.
        """
        configured = {t.id for t in self._config.targets}
        for target, decisions in latest.items():
            if target not in configured:
                continue
            critical = [d for d in decisions if d.severity is verdicts.Severity.CRITICAL]
            if not critical:
                continue
            first = min(critical, key=lambda d: d.time)
            if self._store.list_runs(target=target, since=first.time, limit=1):
                continue
            if self._answered(target, since=first.time):
                continue  # a previous term found nothing to undo; said once is enough
            log.warning("%s: critical decision without a run; acting on it now", target)
            self.act(first)

    def confirm_quickly(
        self, target: str, decisions: Sequence[verdicts.Decision], *, suspect: bool = False
    ) -> None:
        """Watch ``target`` closely when a rule is pending or a probe could not observe.

        Only the change into "pending" watches, so a target that stays there is not probed
        closely forever.
        """
        if not (suspect or any(d.pending for d in decisions)):
            self._pending.discard(target)
            return
        if target in self._pending:
            return
        self._pending.add(target)
        policy = self._config.policy
        if self.watcher is not None and policy.confirm_window > 0:
            self.watcher.watch(
                target,
                duration=policy.confirm_window,
                interval=policy.watch_interval,
                at_once=False,  # it was looked at just now
            )

    # ------------------------------------------------------------------ policy

    def _nothing_to_undo(self, decision: verdicts.Decision) -> bool:
        """True (audited) when the target was rolled back and verified less than the judge's
        horizon ago and no upgrade has started since."""
        target = decision.target
        rolled_back = self._rolled_back.get(target)
        if rolled_back is None or decision.time - rolled_back >= self._horizon:
            return False
        if self.upgraded.get(target, 0.0) > rolled_back or self._upgrade_stored(
            target, rolled_back
        ):
            return False
        reason = (
            f"{decision.rule} is critical again {decision.time - rolled_back:.1f}s after the "
            "verified rollback, with no upgrade since: nothing left to undo (the judge's "
            "windows may still hold the failed release's evidence); no second run"
        )
        log.warning("%s: %s", target, reason)
        entry = audit_events.AuditEntry(
            time=self._clock.now(),
            actor="rollsafe",
            action="run.not_requested",
            target=target,
            reason=reason,
            details={"rule": decision.rule, "rolled_back_at": rolled_back},
            result="skipped",
        )
        self._store.append_audit(entry)
        self._announce(entry)
        return True

    def _point_before_watch(self, decision: verdicts.Decision) -> tuple[str | None, str]:
        """(the restore point to restore, words for the run's reason): for a decision measured
        from the first of several upgrades of one watch (a trend through a hotfix: its evidence
        says ``watch_from`` and ``later_marks``, ``judge/trend.py``), the newest point taken
        before that first upgrade ended, so the rollback undoes every upgrade of the watch,
        not only the latest (whose restore point holds the first release, the one that
        failed). Otherwise (None) the executor's default, the latest point."""
        watch_from = decision.evidence.get("watch_from")
        later = decision.evidence.get("later_marks")
        if not isinstance(watch_from, int | float) or not later:
            return None, ""
        upgrades = len(later) + 1
        points = self._store.list_restore_points(ids.TargetId(decision.target))
        before = [p for p in points if p.created_at < watch_from]
        if not before:
            return None, (
                f"; no restore point from before the first of {upgrades} upgrades: the "
                "latest is restored, undoing only what came after it"
            )
        return before[-1].id, f"; restoring {before[-1].id}, from before all {upgrades} upgrades"

    def _answered(self, target: str, *, since: float) -> bool:
        """True when ``run.not_requested`` was audited for ``target`` at or after ``since``."""
        return any(
            event.entry.action == "run.not_requested" and event.entry.time >= since
            for event in self._store.list_audit_events(target=target)
        )

    def _upgrade_stored(self, target: str, since: float) -> bool:
        """The store's word, asked before refusing: an upgrade another process began (``rollsafe
        upgrade``) may be stored but not yet seen by the daemon's mark watcher."""
        for source in upgrading.MARKS:
            found = self._store.list_observations(
                target=ids.TargetId(target), source=source, since=since, limit=1
            )
            if any(mark.time > since for mark in found):
                self.upgrade_seen(target, max(mark.time for mark in found))
                return True
        return False
