"""systemd unit names in events (judge, pure): which units a log event names, and whether one
of them is a unit the rule guards.

A threshold rule with ``units`` (the presets' ``unit-gave-up``) rolls back only for events
about the units it guards: the service itself and what it cannot run without. systemd names
the unit in each of its failure messages (``nginx.service: Start request repeated too
quickly.``, older ``start request repeated too quickly for motdgen.service``); the log probe
passes the newest event's first line on as the observation's ``text``, followed by
``[units: a.service, b.service]`` when the look's other events named units that line does
not (two units giving up within one read: each is placed, so a guarded one counts whichever
gave up last). An event whose text names no unit at all (a count from a metric, a custom
pattern) cannot be placed and counts, as it did before ``units`` existed: a guard that cannot
tell must not hide a failure.

Names follow systemd's unit grammar (letters, digits, ``:-_.\\@``, a type suffix;
``domain/unit_names.py``, shared with the log probe). A pattern is a shell glob
(``app@*.service``, ``postgresql*``); a pattern without a unit type means a service (``nginx``
is ``nginx.service``, as ``systemctl`` reads it), and a template (``app@.service``) covers its
instances.
"""

from __future__ import annotations

import fnmatch
import functools
import re
from collections.abc import Sequence

from rollsafe.domain import unit_names

__all__ = ["TYPES", "covers", "guards", "named", "normalised"]

TYPES = unit_names.TYPES
named = unit_names.named  # the unit names a text holds, in order, each once
_TYPED = re.compile(rf"\.(?:{'|'.join(TYPES)})$")


def normalised(pattern: str) -> str:
    """``pattern`` as a glob on full unit names: ``.service`` added when it names no type,
    a template's ``@.`` opened to its instances."""
    if not _TYPED.search(pattern) and not pattern.endswith("*"):
        pattern = f"{pattern}.service"
    return pattern.replace("@.", "@*.")


@functools.lru_cache(maxsize=256)
def _globs(patterns: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(normalised(p) for p in patterns)


def guards(text: str | None, patterns: Sequence[str]) -> tuple[bool, tuple[str, ...]]:
    """Whether an event with ``text`` is about a guarded unit, and the units it names.

    True when it names a unit matching one of ``patterns``, or names no unit at all (it
    cannot be placed, see the module notes); False when every unit it names is outside them.
    """
    units = named(text)
    return covers(units, patterns), units


def covers(units: Sequence[str], patterns: Sequence[str]) -> bool:
    """Whether an event naming ``units`` is about a guarded one (see ``guards``): one of them
    matches ``patterns``, or it names none."""
    if not units:
        return True
    globs = _globs(tuple(patterns))
    return any(fnmatch.fnmatchcase(u, g) for u in units for g in globs)
