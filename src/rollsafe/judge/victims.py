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

The kernel names a process by its ``comm``, cut to 15 characters (``TASK_COMM_LEN`` is 16 with
the closing NUL; proc(5), ``/proc/pid/comm``): ClickHouse's ``clickhouse-server`` is killed
as ``clickhouse-serv``. So a pattern without wildcards longer than that also matches a victim
named by exactly its first 15 characters. Where the report names the victim's unit (the
oom-kill summary's ``task_memcg``, PID 1's own OOM lines), the unit is a victim's name too:
a database run by a shared runtime (``java``, ``beam.smp``) is guarded by its unit
(``elasticsearch.service``), never by the runtime's name, which another program on the host
may share.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Sequence

__all__ = ["COMM_MAX", "guards", "matches", "named"]

COMM_MAX = 15  # characters of a process name the kernel keeps (TASK_COMM_LEN - 1)
_WILD = re.compile(r"[*?\[]")
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
    return any(matches(v, p) for v in victims for p in patterns), victims


def matches(victim: str, pattern: str) -> bool:
    """Whether the victim's name matches ``pattern`` (a glob), the kernel's cut to
    :data:`COMM_MAX` characters allowed for a pattern without wildcards."""
    if fnmatch.fnmatchcase(victim, pattern):
        return True
    return (
        len(victim) == COMM_MAX
        and len(pattern) > COMM_MAX
        and _WILD.search(pattern) is None
        and pattern.startswith(victim)
    )
