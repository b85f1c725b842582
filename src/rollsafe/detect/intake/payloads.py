"""Received alerts: the one shape every intake parser produces, and what the parsers share.

Role in the loop (detect): a webhook body from a monitoring system becomes a list of
:class:`Alert` here, by the pure parser of its source (``alertmanager``, ``grafana``, ``sns``,
``aliyun``, ``tencent``, ``generic``); ``mapping`` then turns alerts into observations for the
configured targets. Parsers do no I/O and read no clock: the receipt time is passed in.

A body that is not what the source documents raises :class:`Malformed` with a reason a person
can act on; the API answers it with a 4xx and stores nothing.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from rollsafe.domain import errors, observations

__all__ = [
    "Alert",
    "Malformed",
    "checked_count",
    "epoch_of",
    "identity_of",
    "json_object",
    "labels_of",
    "loads",
    "parse_local_time",
    "parse_rfc3339",
    "text_of",
]

MAX_ALERTS = 10_000  # per payload: a bound on the work one request can cause
MAX_DEPTH = 64  # nesting of JSON arrays/objects; no source's payload comes close


class Malformed(errors.PermanentError):
    """The body is not what the source documents; ``reason`` says what is wrong."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert as a source reported it.

    ``state`` is None when the source says it cannot tell (CloudWatch ``INSUFFICIENT_DATA``,
    Grafana's ``DatasourceNoData``): that becomes an error observation, a blind detector, never
    a firing alert. ``time`` is the alert's own time of this state (``startsAt`` for a firing
    alert, ``endsAt`` for a resolved one), None when the source gives none. ``identity`` is
    stable across resends of the same alert (a fingerprint, or a hash of name and labels).
    ``target`` is a target id the payload names explicitly (the generic form only).
    """

    name: str
    state: observations.AlertState | None
    time: float | None
    labels: Mapping[str, str] = field(default_factory=dict)
    identity: str = ""
    summary: str = ""
    target: str | None = None


def identity_of(name: str, labels: Mapping[str, str]) -> str:
    """A stable identity for an alert without one: its name and sorted labels, hashed."""
    canonical = json.dumps([name, sorted(labels.items())], separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def loads(body: bytes | str, *, what: str) -> Any:
    """``body`` as JSON, or Malformed naming ``what`` was expected.

    Nesting deeper than MAX_DEPTH is refused: ``[[[[...`` a hundred thousand deep stops
    ``json.loads`` at the interpreter's recursion limit (RecursionError, translated here), and
    a value just under that limit would overflow whatever walks it next, so the depth of what
    parsed is checked too (without recursion). NaN and Infinity literals are refused (they are
    not JSON, and a NaN compares unequal to every threshold).
    """
    try:
        data = json.loads(body, parse_constant=_no_constant, parse_float=_finite)
    except RecursionError:
        raise Malformed(f"JSON nested deeper than {MAX_DEPTH} levels ({what})") from None
    except ValueError as exc:
        raise Malformed(f"not JSON: {_short(str(exc))} (expected {what})") from exc
    if _depth(data) > MAX_DEPTH:
        raise Malformed(f"JSON nested deeper than {MAX_DEPTH} levels ({what})")
    return data


def _depth(value: Any) -> int:
    deepest = 0
    stack = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            item = list(item.values())
        if isinstance(item, list):
            deepest = max(deepest, level)
            if deepest > MAX_DEPTH:
                break
            stack.extend((inner, level + 1) for inner in item if isinstance(inner, dict | list))
    return deepest


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):  # 1e999 parses to inf: as useless as an Infinity literal
        raise ValueError(f"{_short(text)} is out of range")
    return number


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def json_object(body: bytes, *, what: str) -> dict[str, Any]:
    """``body`` as a JSON object, or Malformed naming ``what`` was expected."""
    data = loads(body, what=what)
    if not isinstance(data, dict):
        raise Malformed(f"a JSON {type(data).__name__}, not an object (expected {what})")
    return data


def text_of(value: Any, *, field_name: str, required: bool = False) -> str:
    """A string field (numbers and booleans as text); '' when absent and not required."""
    if value is None:
        if required:
            raise Malformed(f"`{field_name}` is missing")
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool | int | float):
        return json.dumps(value)
    raise Malformed(f"`{field_name}` is a {type(value).__name__}, not a string")


def labels_of(value: Any, *, field_name: str) -> dict[str, str]:
    """A label set: an object of scalar values, as strings. Absent means no labels."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise Malformed(f"`{field_name}` is a {type(value).__name__}, not an object of labels")
    labels = {}
    for key, item in value.items():
        if isinstance(item, dict | list):
            raise Malformed(f"`{field_name}.{key}` is not a scalar label value")
        labels[str(key)] = "" if item is None else text_of(item, field_name=f"{field_name}.{key}")
    return labels


_RFC3339 = re.compile(
    r"^(?P<date>\d{4}-\d{2}-\d{2})[Tt ](?P<time>\d{2}:\d{2}:\d{2})(?:\.(?P<frac>\d+))?"
    r"(?P<zone>[Zz]|[+-]\d{2}:?\d{2})?$"
)
_ZERO_YEAR = 1  # Go's zero time, 0001-01-01T00:00:00Z, means "not set" in Alertmanager/Grafana


def parse_rfc3339(text: str, *, field_name: str) -> float | None:
    """Epoch seconds of an RFC 3339 time (any fraction length, ``Z`` or offset, ``+0000`` too).

    Go's zero time and the empty string mean "not set": None. A time without a zone is UTC.
    """
    if not text:
        return None
    match = _RFC3339.match(text.strip())
    if match is None:
        raise Malformed(f"`{field_name}` {_short(text)!r} is not an RFC 3339 time")
    frac = (match["frac"] or "0")[:6].ljust(6, "0")
    zone = match["zone"] or "Z"
    try:
        when = datetime.fromisoformat(f"{match['date']}T{match['time']}.{frac}")
    except ValueError as exc:
        raise Malformed(f"`{field_name}` {_short(text)!r} is not a valid date") from exc
    if when.year <= _ZERO_YEAR:
        return None
    if zone in ("Z", "z"):
        tz: timezone = UTC
    else:
        sign = 1 if zone[0] == "+" else -1
        digits = zone[1:].replace(":", "")
        offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
        tz = timezone(sign * offset)
    return when.replace(tzinfo=tz).timestamp()


def parse_local_time(text: str, *, utc_offset_hours: float, field_name: str) -> float | None:
    """Epoch seconds of ``YYYY-MM-DD HH:MM:SS`` in a fixed offset; '' or '0' mean not set."""
    text = text.strip()
    if text in ("", "0"):
        return None
    try:
        when = datetime.strptime(text, "%Y-%m-%d %H:%M:%S")  # noqa: DTZ007 - zone added below
    except ValueError as exc:
        raise Malformed(f"`{field_name}` {_short(text)!r} is not YYYY-MM-DD HH:MM:SS") from exc
    return when.replace(tzinfo=timezone(timedelta(hours=utc_offset_hours))).timestamp()


def epoch_of(value: Any, *, field_name: str) -> float | None:
    """Epoch seconds from a number or numeric string in seconds or milliseconds."""
    text = text_of(value, field_name=field_name).strip()
    if not text:
        return None
    try:
        number = float(text)
    except ValueError as exc:
        raise Malformed(f"`{field_name}` {_short(text)!r} is not a Unix timestamp") from exc
    if not math.isfinite(number) or number < 0:
        raise Malformed(f"`{field_name}` {_short(text)!r} is not a Unix timestamp")
    # 1e11 seconds is in the year 5138; anything above is milliseconds.
    return number / 1000.0 if number > 1e11 else number


def checked_count(items: list[Any], *, field_name: str) -> list[Any]:
    if len(items) > MAX_ALERTS:
        raise Malformed(f"`{field_name}` has {len(items)} entries (at most {MAX_ALERTS})")
    return items


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
