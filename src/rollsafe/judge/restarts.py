"""Planned restarts (judge, pure): when the service's own unit was going through a restart
someone asked for.

An upgrade restarts the service it upgrades, and so does the person or tool running it: a
database then refuses connections while it replays its journal, and when nothing marked the
upgrade's start lasting rules such as ``down`` see an outage. What tells a restart apart from
a crash is what PID 1 logs *before* the service goes down. A stop job (``systemctl stop`` or
``restart``, a package's postinst, a config manager) begins with "Stopping X..." and ends
with "Stopped X."; the start after it with "Starting X..." and, once the service is ready,
"Started X.". A crash logs none of the first: systemd logs the death ("Main process exited,
code=killed, status=9/KILL", "Failed with result 'signal'"), and when ``Restart=`` brings the
unit back it goes straight to "Stopped X." and "Starting X..." (the stop job never ran).
systemd names the unit in these lines two ways: newer versions log the unit and its
description ("Stopping postgresql@15-main.service - PostgreSQL Cluster 15-main..."), older
ones the description alone ("Stopping PostgreSQL Cluster 11-main..."); ``units`` are globs on
the first, ``descriptions`` on the second (log presets ``unit_stop`` and ``unit_start``).

``policy.planned_restarts`` names the probe counting stops, and optionally the ones counting
starts and unit failures (preset ``systemd_failure``). Each observation in which the stops
probe counts a stop of a listed unit opens a hold on its target:

* it starts one probe interval before that observation (the lines came since the previous
  look), so checks failing from the moment the service stopped are inside;
* it ends at the first observation at or after it in which the starts probe counts a start of
  a listed unit (the service is ready: from there on, warm-up is judged as always) or the
  failures probe counts a failure of one, or of a unit it cannot name (a stop that timed out,
  a new release that cannot start: the hold must not hide it), and at the latest ``grace``
  after the stop's observation: a restart that never completes is an outage.

The engine adds these intervals to the target's upgrade holds (``windows.Holds``), like the
planned reboots' (``reboots``): lasting thresholds do not count failing checks inside them,
and judge as usual after. Rules on single events are never held. A stop whose unit cannot be
placed (the observation's text names neither a listed unit nor a listed description) holds
nothing: a hold that cannot tell must not hide an outage. The text is the newest event's line
of the observation, so in a look that saw several stops only the newest is read (a host
shutting down stops dozens; its reboot has its own hold).
"""

from __future__ import annotations

import bisect
import fnmatch
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from rollsafe.config import models
from rollsafe.domain import errors, observations
from rollsafe.judge import units, windows

__all__ = ["KEPT", "Book", "Plan", "Seen", "subject"]

KEPT = 16  # stops and ends remembered per target (a restart loop keeps the newest)

# What a job line says about its unit, after the verb: "NAME.service - DESCRIPTION" (newer
# systemd) or "DESCRIPTION" (older); the stop's "..." (or "…") and the start's "." end it.
_JOB = re.compile(
    r"(?:^|\s|:)(?:Stopping|Started) (?P<what>\S.*?)(?:\.\.\.|…|\.)?\s*(?:\[[^\]]*\]\s*)*$"
)
_COMBINED = re.compile(r"^(?P<unit>\S+) - (?P<description>.+)$")


def subject(text: str | None) -> tuple[tuple[str, ...], str | None]:
    """The unit names and the description a job line (``text``) names: newer systemd gives
    both, older the description alone, a line of another shape neither."""
    if not text:
        return (), None
    job = _JOB.search(text)
    if job is None:
        return (), None  # not a job line (a probe counting more than its preset): no subject
    what = job.group("what")
    combined = _COMBINED.match(what)
    if combined is not None:
        return units.named(combined.group("unit")), combined.group("description")
    named = units.named(what)
    if named and named[0] == what:
        return named, None  # "Stopping app.service..." (a unit without a description)
    return named, what


@dataclass(frozen=True, slots=True)
class Plan:
    """The policy as the engine reads it: which sources say what, for which units, how long."""

    stops: str | None = None
    starts: str | None = None
    failures: str | None = None
    units: tuple[str, ...] = ()
    descriptions: tuple[str, ...] = ()
    grace: float = 120.0
    lead: float = 0.0  # the stops probe's interval: its lines came at most this early

    @property
    def sources(self) -> frozenset[str]:
        named = (self.stops, self.starts, self.failures)
        return frozenset(s for s in named if s is not None)

    @classmethod
    def of(cls, policy: models.PlannedRestarts, intervals: Mapping[str, float]) -> Plan:
        """The plan of ``policy``; ``intervals``: each probe's interval, by name. A named
        probe that does not exist is a ConfigError (``config check`` says so first)."""
        if policy.stops is None:
            return cls()
        for name in (policy.stops, policy.starts, policy.failures):
            if name is not None and name not in intervals:
                raise errors.ConfigError(f"policy.planned_restarts: unknown probe {name!r}")
        return cls(
            stops=policy.stops,
            starts=policy.starts,
            failures=policy.failures,
            units=tuple(policy.units),
            descriptions=tuple(policy.descriptions),
            grace=policy.grace,
            lead=intervals[policy.stops],
        )

    def listed(self, text: str | None) -> bool:
        """Whether the job line ``text`` is about a listed unit (by name, else by
        description); False when it names neither (it cannot be placed)."""
        named, description = subject(text)
        if named:
            return bool(self.units) and units.covers(named, self.units)
        if description is None:
            return False
        return any(fnmatch.fnmatchcase(description, glob) for glob in self.descriptions)

    def failed(self, text: str | None) -> bool:
        """Whether a failure observation with ``text`` ends a hold: it names a listed unit,
        or no unit at all (it cannot be placed, so it is taken as the service's)."""
        named = units.named(text)
        if not named:
            return True
        if self.units and units.covers(named, self.units):
            return True
        description = _failed_description(text)
        return description is not None and any(
            fnmatch.fnmatchcase(description, glob) for glob in self.descriptions
        )


_FAILED_TO_START = re.compile(r"\bFailed to start (?P<description>\S.*?)\.?\s*(?:\[[^\]]*\]\s*)*$")


def _failed_description(text: str | None) -> str | None:
    found = _FAILED_TO_START.search(text or "")
    return None if found is None else found.group("description")


@dataclass(slots=True)
class Seen:
    """One target's observations that counted a stop of a listed unit, and those that ended
    one (a start or a failure of a listed unit): their times, sorted."""

    stops: list[float] = field(default_factory=list)
    ends: list[float] = field(default_factory=list)

    def fold(self, plan: Plan, obs: observations.Observation) -> bool:
        """Take ``obs`` if it counted an event of a source ``plan`` reads about a listed
        unit; True when the holds it gives changed."""
        if obs.error is not None or not obs.value or obs.value <= 0:
            return False
        if obs.source == plan.stops and plan.listed(obs.text):
            kept = self.stops
        elif (obs.source == plan.starts and plan.listed(obs.text)) or (
            obs.source == plan.failures and plan.failed(obs.text)
        ):
            kept = self.ends
        else:
            return False
        return windows.keep_time(kept, obs.time, KEPT, lambda: self.holds(plan))

    def holds(self, plan: Plan) -> list[tuple[float, float]]:
        """``[start, end)`` of each restart (see the module notes), in time order."""
        out = []
        for at in self.stops:
            end = at + plan.grace
            index = bisect.bisect_left(self.ends, at)
            if index < len(self.ends):
                end = min(end, self.ends[index])
            out.append((at - plan.lead, end))
        return out


class Book:
    """Every target's restarts under one plan: what the engine keeps."""

    __slots__ = ("plan", "seen", "sources")

    def __init__(self, policy: models.PlannedRestarts, intervals: Mapping[str, float]) -> None:
        self.plan = Plan.of(policy, intervals)
        self.sources = self.plan.sources  # read for every observation: computed once
        self.seen: dict[str, Seen] = {}

    def fold(self, obs: observations.Observation) -> bool:
        """Fold ``obs`` into its target's restarts; True when its holds changed."""
        return self.seen.setdefault(obs.target, Seen()).fold(self.plan, obs)

    def holds(self, target: str) -> list[tuple[float, float]]:
        """``target``'s restarts, ``[start, end)`` in time order (none: empty)."""
        seen = self.seen.get(target)
        return [] if seen is None else seen.holds(self.plan)
