"""Victims of OOM kills in events (judge, pure): which processes an observation says were
killed, and whether one of them is a process the rule guards.

A rate rule with ``processes`` (the ``database-host`` preset's ``oom-kills``) counts only OOM
kills of the processes it guards: on a database host the database's own processes, not a
monitoring agent killed at its cgroup's limit. The log probe names the victims of the events
it counted in its observation's text, ``[killed: postgres, node_exporter]`` (from the kernel's
``Killed process N (name)``, ``task=name`` and systemd-oomd's cgroup; see
``detect/probes/logevents.py``). A text from elsewhere (a log platform's single line) is read
for the kernel's own wording too. An observation that names no victim cannot be placed and
counts, as it did before ``processes`` existed: a guard that cannot tell must not hide a
failure.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Sequence

__all__ = ["guards", "named"]

_TAG = re.compile(r"\[killed: ([^\]]*?)(?:\]|…)?\s*$")
_KERNEL = (
    re.compile(r"\bkill(?:ed)? process \d+(?:, UID \d+,)? \((?P<name>[^)]+)\)", re.IGNORECASE),
    re.compile(r"\boom-kill:constraint=\S*?\btask=(?P<name>[^,\s]+)", re.IGNORECASE),
)


def named(text: str | None) -> tuple[str, ...]:
    """The killed processes ``text`` names, in order, each once."""
    if not text:
        return ()
    tagged = _TAG.search(text)
    if tagged is not None:
        parts = (part.strip() for part in tagged.group(1).split(","))
        return tuple(dict.fromkeys(part for part in parts if part))
    found = (match.group("name") for regex in _KERNEL for match in regex.finditer(text))
    return tuple(dict.fromkeys(found))


def guards(text: str | None, patterns: Sequence[str]) -> tuple[bool, tuple[str, ...]]:
    """Whether an observation with ``text`` counts: it names a killed process matching one of
    ``patterns`` (globs), or names none (it cannot be placed); and the victims it names."""
    victims = named(text)
    if not victims:
        return True, victims
    return any(fnmatch.fnmatchcase(v, p) for v in victims for p in patterns), victims
