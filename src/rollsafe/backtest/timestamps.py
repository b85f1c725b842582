"""Timestamps of log lines, for ``rollsafe record``: when was this line written?

Log files carry their time as text at the start of each line, in a handful of common shapes:

* ISO 8601 / RFC 3339: ``2024-05-01T10:00:00.123Z``, ``2015-10-18 18:01:47,978`` (Java,
  Python logging), optionally inside ``[...]``;
* nginx error logs: ``2024/05/01 10:00:00``;
* Apache error logs and ``ctime``: ``[Sun Dec 04 04:47:44 2005]``;
* syslog (RFC 3164): ``Jun 14 15:16:01``, which has no year;
* failing those, an ISO 8601 time among the first 100 characters (JSON ``"time": "..."``,
  logfmt ``ts=...``).

Times without a zone are in ``zone`` (the zone of the host that wrote the log: give it, since
the file does not say). A syslog time takes the year that puts it at most one day after
``latest`` (the end of the recorded range), so a range across New Year reads right. Lines
without a timestamp (stack trace continuations) get ``None``; the caller gives them the time
of the line before.
"""

from __future__ import annotations

import datetime as dt
import re

__all__ = ["parse"]

_MONTHS = {
    name: number
    for number, name in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"),
        start=1,
    )
}
_ISO_BODY = (
    r"(?P<y>\d{4})-(?P<mo>\d{2})-(?P<d>\d{2})[T ](?P<h>\d{2}):(?P<mi>\d{2}):(?P<s>\d{2})"
    r"(?:[.,](?P<frac>\d{1,9}))?\s?(?P<zone>Z|[+-]\d{2}:?\d{2})?"
)
_ISO = re.compile(r"^\[?" + _ISO_BODY)
_ISO_ANYWHERE = re.compile(r"(?<!\d)" + _ISO_BODY)
_NGINX = re.compile(
    r"^(?P<y>\d{4})/(?P<mo>\d{2})/(?P<d>\d{2}) (?P<h>\d{2}):(?P<mi>\d{2}):(?P<s>\d{2})"
)
_CTIME = re.compile(
    r"^\[(?:[A-Z][a-z]{2} )?(?P<mon>[A-Z][a-z]{2}) +(?P<d>\d{1,2}) "
    r"(?P<h>\d{2}):(?P<mi>\d{2}):(?P<s>\d{2})(?:\.(?P<frac>\d{1,9}))? (?P<y>\d{4})\]"
)
_SYSLOG = re.compile(
    r"^(?:<\d{1,3}>)?(?P<mon>[A-Z][a-z]{2}) +(?P<d>\d{1,2}) (?P<h>\d{2}):(?P<mi>\d{2}):(?P<s>\d{2})"
)


def parse(line: str, *, zone: dt.tzinfo, latest: float) -> float | None:
    """Unix seconds of the timestamp ``line`` starts with, or None (see the module notes)."""
    match = _ISO.match(line) or _NGINX.match(line)
    if match is None:
        match = _CTIME.match(line)
        if match is not None and match.group("mon") not in _MONTHS:
            match = None
    if match is not None:
        return _stamp(match, zone=zone)
    syslog = _SYSLOG.match(line)
    if syslog is not None and syslog.group("mon") in _MONTHS:
        return _syslog(syslog, zone=zone, latest=latest)
    found = _ISO_ANYWHERE.search(line, 0, 100)
    return None if found is None else _stamp(found, zone=zone)


def _stamp(match: re.Match[str], *, zone: dt.tzinfo) -> float | None:
    parts = match.groupdict()
    month = int(parts["mo"]) if parts.get("mo") else _MONTHS.get(parts.get("mon") or "", 0)
    try:
        stamp = dt.datetime(
            int(parts["y"]),
            month,
            int(parts["d"]),
            int(parts["h"]),
            int(parts["mi"]),
            min(int(parts["s"]), 59),  # a leap second is read as :59
            tzinfo=_zone_of(parts.get("zone"), zone),
        )
    except ValueError:
        return None  # a date that does not exist: not a timestamp after all
    frac = parts.get("frac")
    return stamp.timestamp() + (float(f"0.{frac}") if frac else 0.0)


def _syslog(match: re.Match[str], *, zone: dt.tzinfo, latest: float) -> float | None:
    year = dt.datetime.fromtimestamp(latest, tz=zone).year
    for candidate in (year, year - 1):
        try:
            stamp = dt.datetime(
                candidate,
                _MONTHS[match.group("mon")],
                int(match.group("d")),
                int(match.group("h")),
                int(match.group("mi")),
                min(int(match.group("s")), 59),
                tzinfo=zone,
            ).timestamp()
        except ValueError:
            continue  # Feb 29 in a year without one
        if stamp <= latest + 86400:
            return stamp
    return None


def _zone_of(text: str | None, default: dt.tzinfo) -> dt.tzinfo:
    if not text:
        return default
    if text == "Z":
        return dt.UTC
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    offset = dt.timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return dt.timezone(sign * offset)
