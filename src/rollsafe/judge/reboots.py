"""Planned reboots (judge, pure): when a host was going through a reboot it was asked for.

A host that reboots for its upgrade is down for a minute or more, and when nothing marked the
upgrade's start (a tool that reports only its end, or marks one host of several) lasting
rules such as ``down`` see an outage. What tells the two apart is what the host logged
*before* going down: an orderly shutdown (logind's "System is rebooting.", PID 1 stopping the
multi-user target, systemd-shutdown, the kernel's "reboot: Restarting system", the log
preset ``shutdown``), which a kernel panic, an oops, an OOM kill, a hang or a power loss
never logs (``tests/unit/detect/test_detect_log_events.py`` runs every quoted crash report
through it).

``policy.planned_reboots`` names the probe that counts such shutdowns (and, optionally, the
one that counts finished boots, preset ``boot``). Each observation in which the shutdown
probe counts an event opens a hold on its target:

* it starts one probe interval before that observation (the lines came since the previous
  look: a replayed log bucket is ``(t - interval, t]``), so checks failing from the moment
  the services stopped are inside;
* it ends at the first observation in which the boot probe counts a finished boot at or after
  the shutdown's, and at the latest ``grace`` after the shutdown's observation.

The engine adds these intervals to the target's upgrade holds (``windows.Holds``): lasting
thresholds do not count failing checks inside them, exactly as between ``upgrade_started``
and ``upgrade`` marks, and judge as usual after (a host not back within ``grace`` is down, a
host back and failing fails). Rules on single events are not lasting and are never held: a
crash during a reboot still rolls back. No shutdown event, no hold: a target whose shutdown
probe never counted anything is judged exactly as without this policy.

A reboot the upgrade itself announced (``expected``, log preset ``reboot_expected``: a
package run that installed a kernel, unattended-upgrades' automatic reboot) holds when no
shutdown reaches a probe (a file read over ssh sees the shutdown's last seconds only if it
reads just then; the package manager's lines come minutes earlier). An announcement is weaker
than a shutdown (a kernel installed is a reboot *required*, maybe next week), so it holds only
the time the **host itself** was gone: the ``host`` probe (its ssh port, its node exporter's
``up``) read 0. A reboot takes the whole host away; a service that crashed after the upgrade
leaves the host answering, and is never held. Each announcement holds the first time the
host is gone after it (from the host probe's look before its first 0: the host may have
gone just after it) until it answers again, within ``[announcement - its probe's
interval, announcement + grace)`` and before the first boot logged after the announcement:
one reboot, not a boot loop's second fall. What it does not hold: an outage with the host
answering, a host gone with no package run before it (a panic, a power cut: a boot alone
opens nothing), a host not back within ``grace``, and never a rule on single events (a
panic logged, an OOM kill).
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from rollsafe.config import models
from rollsafe.domain import errors, observations
from rollsafe.judge import windows

__all__ = ["FLIPS", "KEPT", "Plan", "Seen"]

KEPT = 8  # shutdowns and boots remembered per target (a reboot loop keeps the newest)
# Changes of the host probe remembered per target: more than a flapping host makes within a
# grace (40 looks in 10 minutes at 15 s), so the first time it was gone is never forgotten
# while an announcement still reads it.
FLIPS = 128


@dataclass(frozen=True, slots=True)
class Plan:
    """The policy as the engine reads it: which sources say what, and for how long."""

    shutdowns: str | None = None
    boots: str | None = None
    grace: float = 600.0
    lead: float = 0.0  # the shutdown probe's interval: its lines came at most this early
    expected: str | None = None  # the probe counting package runs that announce a reboot
    expected_lead: float = 0.0  # its interval
    host: str | None = None  # the probe of the host itself: 0 while it does not answer
    host_lead: float = 0.0  # its interval

    @property
    def sources(self) -> frozenset[str]:
        named = (self.shutdowns, self.boots, self.expected, self.host)
        return frozenset(s for s in named if s is not None)

    @classmethod
    def of(cls, policy: models.PlannedReboots, intervals: Mapping[str, float]) -> Plan:
        """The plan of ``policy``; ``intervals``: each probe's interval, by name. A named
        probe that does not exist is a ConfigError (``config check`` says so first)."""
        if policy.shutdowns is None and policy.expected is None:
            return cls()
        for name in (policy.shutdowns, policy.boots, policy.expected, policy.host):
            if name is not None and name not in intervals:
                raise errors.ConfigError(f"policy.planned_reboots: unknown probe {name!r}")
        if policy.expected is not None and policy.host is None:
            # Without the host's own probe a kernel install would hold every outage of the
            # service in the grace after it, the upgrade's own crash included.
            raise errors.ConfigError("policy.planned_reboots: `expected` needs `host`")

        def lead(name: str | None) -> float:
            return 0.0 if name is None else intervals[name]

        return cls(
            shutdowns=policy.shutdowns,
            boots=policy.boots,
            grace=policy.grace,
            lead=lead(policy.shutdowns),
            expected=policy.expected,
            expected_lead=lead(policy.expected),
            host=policy.host,
            host_lead=lead(policy.host),
        )


@dataclass(slots=True)
class Seen:
    """One target's observations that counted a shutdown, a boot or a package run that
    announced a reboot (their times, sorted)."""

    shutdowns: list[float] = field(default_factory=list)
    boots: list[float] = field(default_factory=list)
    expected: list[float] = field(default_factory=list)
    # The host probe's changes, in time order: (time, answering); and its newest reading.
    # A probe's observations come in time order (live and in a replay), so its changes do.
    changes: list[tuple[float, bool]] = field(default_factory=list)
    newest: tuple[float, bool] = (-math.inf, True)

    def fold(self, plan: Plan, obs: observations.Observation) -> bool:
        """Take ``obs`` if it counted an event of a source ``plan`` reads, or is the host
        probe's reading; True when the holds it gives changed."""
        if obs.source == plan.host and plan.host is not None:
            return self._fold_host(plan, obs)
        if obs.error is not None or not obs.value or obs.value <= 0:
            return False
        if obs.source == plan.shutdowns:
            kept = self.shutdowns
        elif obs.source == plan.boots:
            kept = self.boots
        elif obs.source == plan.expected:
            kept = self.expected
        else:
            return False
        return windows.keep_time(kept, obs.time, KEPT, lambda: self.holds(plan))

    def _fold_host(self, plan: Plan, obs: observations.Observation) -> bool:
        """A reading of the host itself: above 0 it answers, 0 or below it is gone; a probe
        that could not observe says neither (blind, not gone)."""
        if obs.error is not None or obs.value is None or obs.time <= self.newest[0]:
            return False
        answering = obs.value > 0
        changed = answering != self.newest[1]
        self.newest = (obs.time, answering)
        if not changed:
            return False
        before = self.holds(plan)
        self.changes.append((obs.time, answering))
        if len(self.changes) > FLIPS:
            del self.changes[0]
        return self.holds(plan) != before

    def holds(self, plan: Plan) -> list[tuple[float, float]]:
        """``[start, end)`` of each reboot (see the module notes), in time order."""
        out = [self._until_boot(plan, t, lead=plan.lead) for t in self.shutdowns]
        for at in self.expected:
            start, end = self._until_boot(plan, at, lead=plan.expected_lead)
            gone = self._first_gone(plan, start, end)
            if gone is not None:
                out.append(gone)
        return sorted(out)

    def _first_gone(self, plan: Plan, start: float, end: float) -> tuple[float, float] | None:
        """The first time the host was gone that overlaps ``[start, end)``, clipped to it:
        from the host probe's look before it read 0 until it answered again."""
        for index, (at, answering) in enumerate(self.changes):
            if answering:
                continue
            back = next((t for t, up in self.changes[index + 1 :] if up), math.inf)
            since = at - plan.host_lead
            if back > start and since < end:
                return (max(since, start), min(back, end))
        return None

    def _until_boot(self, plan: Plan, at: float, *, lead: float) -> tuple[float, float]:
        """From ``lead`` before ``at`` to the first boot at or after it, at most ``grace``."""
        end = at + plan.grace
        index = bisect.bisect_left(self.boots, at)
        if index < len(self.boots):
            end = min(end, self.boots[index])
        return (at - lead, end)
