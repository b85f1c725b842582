"""Which severities changed: the judge's memory of its last word per (target, rule) (judge).

Role in the loop: the judge evaluates every rule on every observation, but only a change is
news. The daemon stores and acts on changed decisions; ``engine.replay`` (backtests) returns
them. Both ask this one ``Ledger``, so live and replayed runs cannot disagree on what a change
is:

- ``CHANGED``: the severity differs from the last one, or a rule is first seen at warning or
  critical (the first word counts as a change from ok);
- ``FIRST_OK``: a rule first seen at ok: nothing happened, but a store keeps it (quietly, no
  audit) so that a restart knows the rule was seen;
- ``SAME``: nothing new.

Pure: no I/O, no clock.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable

from rollsafe.domain import verdicts

__all__ = ["Change", "Ledger"]


class Change(enum.Enum):
    SAME = "same"
    FIRST_OK = "first_ok"
    CHANGED = "changed"


class Ledger:
    """The last severity per ``(target, rule)``; ``note`` says what a new one is."""

    def __init__(self) -> None:
        self._last: dict[tuple[str, str], verdicts.Severity] = {}

    def seed(self, decisions: Iterable[verdicts.Decision]) -> None:
        """Remember stored decisions (a restart, a new leader term) without noting a change."""
        for decision in decisions:
            self._last[(decision.target, decision.rule)] = decision.severity

    def note(self, target: str, rule: str, severity: verdicts.Severity) -> Change:
        """Remember ``severity`` as the last word of ``rule`` on ``target``; what it is."""
        key = (target, rule)
        before = self._last.get(key)
        self._last[key] = severity
        if before is None:
            return Change.FIRST_OK if severity is verdicts.Severity.OK else Change.CHANGED
        return Change.SAME if before is severity else Change.CHANGED
