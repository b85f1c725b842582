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
package run that installed a kernel, unattended-upgrades' automatic reboot) holds the same
way when no shutdown reaches a probe (a file read over ssh sees the shutdown's last seconds
only if it reads just then; the package manager's lines come minutes earlier): from the
observation that counted it, less that probe's interval, to the next finished boot, at most
``grace``. It needs the boot probe (``Plan.of`` refuses it without): what ends a hold early
is the host back, and a host that never reboots after its kernel install is held the whole
``grace`` (its lasting rules judge ``grace`` later, never not at all). What it does not hold:
a boot, an outage or a crash with no package run before it, an outage after the boot (a boot
loop's second fall), a host not back within ``grace``, and never a rule on single events (a
panic logged, an OOM kill).
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping
from dataclasses import dataclass, field

from rollsafe.config import models
from rollsafe.domain import errors, observations

__all__ = ["KEPT", "Plan", "Seen"]

KEPT = 8  # shutdowns and boots remembered per target (a reboot loop keeps the newest)


@dataclass(frozen=True, slots=True)
class Plan:
    """The policy as the engine reads it: which sources say what, and for how long."""

    shutdowns: str | None = None
    boots: str | None = None
    grace: float = 600.0
    lead: float = 0.0  # the shutdown probe's interval: its lines came at most this early
    expected: str | None = None  # the probe counting package runs that announce a reboot
    expected_lead: float = 0.0  # its interval

    @property
    def sources(self) -> frozenset[str]:
        return frozenset(s for s in (self.shutdowns, self.boots, self.expected) if s is not None)

    @classmethod
    def of(cls, policy: models.PlannedReboots, intervals: Mapping[str, float]) -> Plan:
        """The plan of ``policy``; ``intervals``: each probe's interval, by name. A named
        probe that does not exist is a ConfigError (``config check`` says so first)."""
        if policy.shutdowns is None and policy.expected is None:
            return cls()
        for name in (policy.shutdowns, policy.boots, policy.expected):
            if name is not None and name not in intervals:
                raise errors.ConfigError(f"policy.planned_reboots: unknown probe {name!r}")
        if policy.expected is not None and policy.boots is None:
            # Without the boot nothing ends the hold but the grace: every kernel install
            # would blind lasting rules for the whole grace, reboot or not.
            raise errors.ConfigError("policy.planned_reboots: `expected` needs `boots`")
        return cls(
            shutdowns=policy.shutdowns,
            boots=policy.boots,
            grace=policy.grace,
            lead=0.0 if policy.shutdowns is None else intervals[policy.shutdowns],
            expected=policy.expected,
            expected_lead=0.0 if policy.expected is None else intervals[policy.expected],
        )


@dataclass(slots=True)
class Seen:
    """One target's observations that counted a shutdown, a boot or a package run that
    announced a reboot (their times, sorted)."""

    shutdowns: list[float] = field(default_factory=list)
    boots: list[float] = field(default_factory=list)
    expected: list[float] = field(default_factory=list)

    def fold(self, plan: Plan, obs: observations.Observation) -> bool:
        """Take ``obs`` if it counted an event of a source ``plan`` reads; True when the
        holds it gives changed."""
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
        if obs.time in kept:
            return False
        before = self.holds(plan)
        bisect.insort(kept, obs.time)
        if len(kept) > KEPT:
            del kept[0]
        return self.holds(plan) != before

    def holds(self, plan: Plan) -> list[tuple[float, float]]:
        """``[start, end)`` of each reboot (see the module notes), in time order."""
        out = [self._until_boot(plan, t, lead=plan.lead) for t in self.shutdowns]
        out += [self._until_boot(plan, t, lead=plan.expected_lead) for t in self.expected]
        return sorted(out)

    def _until_boot(self, plan: Plan, at: float, *, lead: float) -> tuple[float, float]:
        """From ``lead`` before ``at`` to the first boot at or after it, at most ``grace``."""
        end = at + plan.grace
        index = bisect.bisect_left(self.boots, at)
        if index < len(self.boots):
            end = min(end, self.boots[index])
        return (at - lead, end)
