"""systemd unit names in text (domain, pure): the grammar the log probe and the judge share.

The log probe lists the units its events named (``detect/probes/logs.py``, ``[units: ...]``)
and the judge reads which units an event is about (``judge/units.py``); both find names with
:func:`named`. Names follow systemd's unit grammar (letters, digits, ``:-_.\\@``, a type
suffix).
"""

from __future__ import annotations

import re

__all__ = ["TYPES", "named"]

TYPES = (
    "service",
    "socket",
    "target",
    "mount",
    "automount",
    "swap",
    "timer",
    "path",
    "slice",
    "scope",
    "device",
)
_CHARS = r"[\w@:.\\-]"
# A unit name not glued to more name characters before it; ``:`` may follow (``x.service:``).
_NAMED = re.compile(rf"(?<!{_CHARS})({_CHARS}+?\.(?:{'|'.join(TYPES)}))(?![\w@\\-])")


def named(text: str | None) -> tuple[str, ...]:
    """The unit names ``text`` holds, in order, each once."""
    if not text:
        return ()
    return tuple(dict.fromkeys(match.group(1) for match in _NAMED.finditer(text)))
