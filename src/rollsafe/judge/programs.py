"""Crashed programs in events (judge, pure): which program a segfault event names, and
whether one program's crashes come at a steady pace.

A rate rule with ``same_program`` (a rule users write themselves: docs/presets.md's steady
crash loop, measured but not shipped on by default) counts each program's crashes apart: a
supervisor restarting a program that crashes again is a loop of ONE program, while a host
where several tools crash now and then has crashes of many. The log
probe passes the event's first line on as the observation's ``text``; the kernel names the
crashed task there (``python3[7777]: segfault at 0 ip ...``, ``traps: nginx[1963] general
protection ...``, RHEL 6's ``cupsd[9073] general protection ip:...``), and systemd-coredump's
line names its process (``Process 7777 (python3) of user 1000 dumped core.``). The name is the
kernel's task name (``comm``: 15 characters at most, a thread's own name where it set one,
``IPMI[sensors]``). An observation that names no program (a count from a metric, a pattern of
the user's) is a program of its own: it is still counted, never merged with another's.

When one observation holds several crashes, its text names the newest one only: all are
counted as that program's (a read every 15 s rarely sees two programs crash in it).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence

__all__ = ["UNNAMED", "named", "steady"]

UNNAMED = ""  # the program of an observation whose text names none
_KERNEL = re.compile(
    r"(?:^|\s)(?:traps: )?(?P<name>\S+?)\[\d+\]:? (?:segfault at |general protection|trap )"
)
_COREDUMP = re.compile(r"\bProcess \d+ \((?P<name>[^)]*)\) of user \d+ dumped core\b")


def named(text: str | None) -> str:
    """The program a crash event's ``text`` names, or ``UNNAMED``."""
    if not text:
        return UNNAMED
    for regex in (_KERNEL, _COREDUMP):
        found = regex.search(text)
        if found is not None:
            return found.group("name")
    return UNNAMED


def steady(times: Sequence[float], ratio: float) -> bool:
    """Whether crashes at ``times`` (sorted) come at a steady pace: at least three, and the
    longest gap between two in a row at most ``ratio`` times the shortest (two in one
    observation are a gap of 0: not steady)."""
    if len(times) < 3:
        return False
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    shortest = min(gaps)
    return shortest > 0 and max(gaps) <= ratio * shortest
