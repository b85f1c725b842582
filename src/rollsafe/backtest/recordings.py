"""Recordings: what probes and alerts saw, kept as JSON Lines so policies can be replayed on it.

A recording is the input of ``rollsafe backtest``: the judge is fed its observations and marks
on virtual time, exactly as the daemon feeds it live. The format (docs/recording-format.md)
is one JSON object per line:

* an optional **header** first: ``{"type": "header", "format": "rollsafe-recording",
  "version": 1, "start": ..., "labels": {"faults": [...]}, ...}``;
* **observations** (``type`` may be left out): time, target, source, and what was seen:
  ``value``, ``status``, ``latency``, ``text``, ``alert``, or ``error`` (the probe could not
  look);
* **marks**: ``{"type": "mark", "name": "upgrade", ...}``;
* **series**: regular values of one source in one line, ``{"type": "series", "every": 60,
  "values": [25.1, null, ...]}`` (``null``: a probe error, the line's ``error`` text);
* raw **log lines**: ``{"type": "log", "source": "<log probe>", "line": "..."}``, turned into
  the log probe's per-interval counts when replayed (``replaying``).

Times are ``t`` (seconds after the header's ``start``, default 0) or ``time`` (Unix seconds,
or ISO 8601 with a zone). Reading is strict: unknown keys, missing fields and contradictions
(an ``error`` with a ``value``) are reported as ``FILE:LINE: problem`` lines, so a typo never
silently becomes "no data". ``Writer`` produces the same format (``rollsafe record``, the
scenario generator).
"""

from __future__ import annotations

import datetime as dt
import gzip
import io
import json
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from rollsafe.domain import alerts, errors, ids, observations

__all__ = [
    "FORMAT",
    "MAX_PROBLEMS",
    "VERSION",
    "Fault",
    "Header",
    "LogLine",
    "Recording",
    "RecordingError",
    "Writer",
    "parse",
    "read",
]

FORMAT = "rollsafe-recording"
VERSION = 1
MAX_PROBLEMS = 20  # a file that is wrong everywhere is reported by its first lines

_HEADER_KEYS = {
    "type",
    "format",
    "version",
    "start",
    "end",
    "name",
    "description",
    "labels",
    "logs",
    "meta",
}
_TIME_KEYS = {"t", "time"}
_OBSERVATION_KEYS = {
    "type",
    "target",
    "source",
    "value",
    "status",
    "latency",
    "text",
    "alert",
    "error",
} | _TIME_KEYS
_MARK_KEYS = {"type", "target", "name"} | _TIME_KEYS
_LOG_KEYS = {"type", "target", "source", "line"} | _TIME_KEYS
_SERIES_KEYS = {"type", "target", "source", "every", "values", "error"} | _TIME_KEYS
_ALERT_KEYS = {"state", "id", "name", "severity", "labels", "summary"}
_NUMBER_WORDS = {"NaN": math.nan, "+Inf": math.inf, "Inf": math.inf, "-Inf": -math.inf}


class RecordingError(errors.RollsafeError):
    """A recording cannot be read. ``problems`` holds one ``FILE:LINE: problem`` per mistake."""

    def __init__(self, message: str, *, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or [message]


@dataclass(frozen=True, slots=True)
class Fault:
    """A label: ``target`` is faulty from ``start`` on and should be rolled back."""

    target: ids.TargetId
    start: float
    kind: str = ""


@dataclass(frozen=True, slots=True)
class Header:
    """The first line's facts. ``labelled`` is True when it carries ``labels`` (even empty)."""

    start: float | None = None  # origin of ``t``, and the start of the recorded range
    end: float | None = None
    name: str | None = None
    description: str = ""
    labelled: bool = False
    faults: tuple[Fault, ...] = ()
    logs: tuple[tuple[ids.TargetId, str], ...] = ()  # log sources followed the whole time
    meta: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class LogLine:
    """One raw line of a log file, attributed to a log probe (``source``) and a target."""

    time: float
    target: ids.TargetId
    source: str
    line: str


Observation = observations.Observation
Mark = observations.Mark


@dataclass(frozen=True)
class Recording:
    """Everything one recording file holds."""

    name: str
    header: Header
    observations: tuple[Observation, ...]
    marks: tuple[Mark, ...]
    log_lines: tuple[LogLine, ...]
    file: str = ""  # where it was read from, for reports

    @property
    def start(self) -> float | None:
        """Where the recording begins: the header's ``start``, else its first record."""
        if self.header.start is not None:
            return self.header.start
        return min(self._times(), default=None)

    @property
    def end(self) -> float | None:
        """Where it ends: the header's ``end``, else its last record."""
        if self.header.end is not None:
            return self.header.end
        return max(self._times(), default=None)

    def targets(self) -> list[ids.TargetId]:
        """Every target the recording mentions (records, log sources and labels), sorted."""
        found: set[ids.TargetId] = {o.target for o in self.observations}
        found.update(m.target for m in self.marks)
        found.update(line.target for line in self.log_lines)
        found.update(f.target for f in self.header.faults)
        found.update(target for target, _ in self.header.logs)
        return sorted(found)

    def _times(self) -> Iterator[float]:
        for obs in self.observations:
            yield obs.time
        for mark in self.marks:
            yield mark.time
        for line in self.log_lines:
            yield line.time


# --------------------------------------------------------------------------- reading


def read(path: Path) -> Recording:
    """The recording in ``path`` (``.gz`` is decompressed); RecordingError on any mistake."""
    path = Path(path)
    try:
        raw = path.read_bytes()
        if path.suffix == ".gz":
            raw = gzip.decompress(raw)
        text = raw.decode("utf-8")
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise RecordingError(f"{path}: cannot read: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise RecordingError(f"{path}: not UTF-8 text (byte {exc.start})") from exc
    name = path.name.removesuffix(".gz").removesuffix(".jsonl")
    return parse(io.StringIO(text), file=str(path), name=name)


def parse(lines: Iterable[str], *, file: str = "<recording>", name: str = "") -> Recording:
    """A recording from JSON Lines text; ``file`` names it in problems."""
    reader = _Reader(file)
    for number, line in enumerate(lines, start=1):
        reader.line(number, line)
        if len(reader.problems) >= MAX_PROBLEMS:
            break
    if reader.problems:
        count = len(reader.problems)
        more = "+" if count >= MAX_PROBLEMS else ""
        raise RecordingError(
            f"{file}: {count}{more} problem{'s' if count > 1 else ''}", problems=reader.problems
        )
    header = reader.header or Header()
    return Recording(
        name=header.name or name,
        header=header,
        observations=tuple(reader.observations),
        marks=tuple(reader.marks),
        log_lines=tuple(reader.log_lines),
        file=file,
    )


class _Invalid(Exception):
    """One problem on the current line."""


class _Reader:
    def __init__(self, file: str) -> None:
        self.file = file
        self.header: Header | None = None
        self.origin = 0.0
        self.seen_record = False
        self.observations: list[observations.Observation] = []
        self.marks: list[observations.Mark] = []
        self.log_lines: list[LogLine] = []
        self.problems: list[str] = []

    def line(self, number: int, text: str) -> None:
        if not text.strip():
            return
        try:
            self._record(text)
        except _Invalid as exc:
            self.problems.append(f"{self.file}:{number}: {exc}")

    def _record(self, text: str) -> None:
        try:
            item = json.loads(text)
        except ValueError as exc:
            raise _Invalid(f"not JSON: {exc}") from None
        if not isinstance(item, dict):
            raise _Invalid("expected a JSON object")
        kind = item.get("type", "observation")
        if kind == "header":
            self._header(item)
            return
        self.seen_record = True
        if kind == "observation":
            self.observations.append(self._observation(item))
        elif kind == "mark":
            self.marks.append(self._mark(item))
        elif kind == "log":
            self.log_lines.append(self._log(item))
        elif kind == "series":
            self.observations.extend(self._series(item))
        else:
            raise _Invalid(
                f"unknown type {kind!r} (expected header, observation, series, mark or log)"
            )

    # ---------------------------------------------------------------- per type

    def _header(self, item: dict[str, Any]) -> None:
        if self.header is not None or self.seen_record:
            raise _Invalid("a header must be the first line, and only one")
        _known(item, _HEADER_KEYS, "header")
        if item.get("format", FORMAT) != FORMAT:
            raise _Invalid(f"format {item.get('format')!r} (expected {FORMAT!r})")
        version = item.get("version", VERSION)
        if not isinstance(version, int) or isinstance(version, bool) or version > VERSION:
            raise _Invalid(f"format version {version!r} (this rollsafe reads up to {VERSION})")
        start = None if item.get("start") is None else _absolute(item["start"], "start")
        end = None if item.get("end") is None else _absolute(item["end"], "end")
        if start is not None and end is not None and end < start:
            raise _Invalid("end is before start")
        self.origin = start or 0.0
        labels = item.get("labels")
        faults: list[Fault] = []
        if labels is not None:
            if not isinstance(labels, dict):
                raise _Invalid('labels: expected an object such as {"faults": [...]}')
            _known(labels, {"faults"}, "labels")
            raw_faults = labels.get("faults", [])
            if not isinstance(raw_faults, list):
                raise _Invalid("labels.faults: expected a list")
            for position, fault in enumerate(raw_faults):
                where = f"labels.faults[{position}]"
                if not isinstance(fault, dict):
                    raise _Invalid(f"{where}: expected an object")
                _known(fault, {"target", "kind"} | _TIME_KEYS, where)
                kind = fault.get("kind", "")
                if not isinstance(kind, str):
                    raise _Invalid(f"{where}.kind: expected a string")
                faults.append(
                    Fault(
                        target=_target(fault, where),
                        start=self._time(fault, where),
                        kind=kind,
                    )
                )
        logs: list[tuple[ids.TargetId, str]] = []
        for position, entry in enumerate(_list(item.get("logs", []), "logs")):
            where = f"logs[{position}]"
            if not isinstance(entry, dict):
                raise _Invalid(f"{where}: expected an object with target and source")
            _known(entry, {"target", "source"}, where)
            logs.append((_target(entry, where), _string(entry, "source", where)))
        meta = item.get("meta", {})
        if not isinstance(meta, dict):
            raise _Invalid("meta: expected an object")
        name = item.get("name")
        description = item.get("description", "")
        if name is not None and not isinstance(name, str):
            raise _Invalid("name: expected a string")
        if not isinstance(description, str):
            raise _Invalid("description: expected a string")
        self.header = Header(
            start=start,
            end=end,
            name=name,
            description=description,
            labelled=labels is not None,
            faults=tuple(faults),
            logs=tuple(logs),
            meta=meta,
        )

    def _observation(self, item: dict[str, Any]) -> observations.Observation:
        _known(item, _OBSERVATION_KEYS, "observation")
        what = [
            key for key in ("value", "status", "latency", "text", "alert", "error") if key in item
        ]
        if not what:
            raise _Invalid(
                "an observation needs one of value, status, latency, text, alert or error"
            )
        error = item.get("error")
        if error is not None:
            if not isinstance(error, str):
                raise _Invalid("error: expected a string (why the probe could not look)")
            if set(what) - {"error"}:
                raise _Invalid(
                    "an observation with an error has no other result (the probe could not look)"
                )
        value = _number(item.get("value"), "value")
        status = item.get("status")
        if status is not None and (not isinstance(status, int) or isinstance(status, bool)):
            raise _Invalid("status: expected an integer (HTTP status or exit code)")
        latency = _number(item.get("latency"), "latency")
        if latency is not None and latency < 0:
            raise _Invalid("latency: expected seconds, 0 or more")
        text = item.get("text")
        if text is not None and not isinstance(text, str):
            raise _Invalid("text: expected a string")
        state: observations.AlertState | None = None
        if item.get("alert") is not None:
            state, details = _alert(item["alert"])
            if value is None:
                value = 1.0 if state is observations.AlertState.FIRING else 0.0
            if details is not None:
                if text is not None:
                    raise _Invalid("give the alert's details in `alert` or in `text`, not both")
                text = details.to_text()
        return observations.Observation(
            time=self._time(item, "observation"),
            target=_target(item, "observation"),
            source=_string(item, "source", "observation"),
            value=value,
            status=status,
            latency_s=latency,
            text=text,
            alert_state=state,
            error=error,
        )

    def _mark(self, item: dict[str, Any]) -> observations.Mark:
        _known(item, _MARK_KEYS, "mark")
        return observations.Mark(
            time=self._time(item, "mark"),
            target=_target(item, "mark"),
            name=_string(item, "name", "mark"),
        )

    def _log(self, item: dict[str, Any]) -> LogLine:
        _known(item, _LOG_KEYS, "log")
        line = item.get("line")
        if not isinstance(line, str):
            raise _Invalid("log: line: expected the log line as a string")
        return LogLine(
            time=self._time(item, "log"),
            target=_target(item, "log"),
            source=_string(item, "source", "log"),
            line=line,
        )

    def _series(self, item: dict[str, Any]) -> list[observations.Observation]:
        _known(item, _SERIES_KEYS, "series")
        every = _number(item.get("every"), "every")
        if every is None or not math.isfinite(every) or every <= 0:
            raise _Invalid("series: every: expected the seconds between values, more than 0")
        values = item.get("values")
        if not isinstance(values, list):
            raise _Invalid("series: values: expected a list of numbers (null: no data)")
        error = item.get("error", "no data")
        if not isinstance(error, str) or not error:
            raise _Invalid("series: error: expected the probe's error text for null values")
        first = self._time(item, "series")
        target = _target(item, "series")
        source = _string(item, "source", "series")
        out = []
        for index, raw in enumerate(values):
            time = first + index * every  # multiplied, not summed: no drift on long series
            value = _number(raw, f"values[{index}]")
            if value is None:
                out.append(observations.Observation(time, target, source, error=error))
            else:
                out.append(observations.Observation(time, target, source, value=value))
        return out

    def _time(self, item: Mapping[str, Any], where: str) -> float:
        if ("t" in item) == ("time" in item):
            raise _Invalid(f"{where}: give exactly one of t (offset) and time (timestamp)")
        if "t" in item:
            offset = _number(item["t"], "t")
            if offset is None or not math.isfinite(offset):
                raise _Invalid(f"{where}: t: expected seconds after the header's start")
            return self.origin + offset
        return _absolute(item["time"], "time")


def _known(item: Mapping[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(item) - allowed)
    if unknown:
        raise _Invalid(
            f"{where}: unknown key {unknown[0]!r} (expected one of: {', '.join(sorted(allowed))})"
        )


def _string(item: Mapping[str, Any], key: str, where: str) -> str:
    value = item.get(key)
    if not isinstance(value, str) or not value:
        raise _Invalid(f"{where}: {key}: expected a non-empty string")
    return value


def _target(item: Mapping[str, Any], where: str) -> ids.TargetId:
    return ids.TargetId(_string(item, "target", where))


def _list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise _Invalid(f"{where}: expected a list")
    return value


def _number(value: Any, key: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise _Invalid(f"{key}: expected a number, got {value!r}")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str) and value in _NUMBER_WORDS:
        return _NUMBER_WORDS[value]
    raise _Invalid(f'{key}: expected a number (or "NaN", "+Inf", "-Inf"), got {value!r}')


def _absolute(value: Any, key: str) -> float:
    """Unix seconds, or ISO 8601 text with a zone (``2024-05-01T10:00:00Z``)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        if not math.isfinite(value):
            raise _Invalid(f"{key}: expected a finite timestamp")
        return float(value)
    if isinstance(value, str):
        try:
            stamp = dt.datetime.fromisoformat(value)
        except ValueError:
            raise _Invalid(f"{key}: {value!r} is not an ISO 8601 time") from None
        if stamp.tzinfo is None:
            raise _Invalid(f"{key}: {value!r} has no zone (expected e.g. 2024-05-01T10:00:00Z)")
        return stamp.timestamp()
    raise _Invalid(f"{key}: expected Unix seconds or an ISO 8601 time with a zone")


def _alert(value: Any) -> tuple[observations.AlertState, alerts.AlertDetails | None]:
    def state_of(text: Any) -> observations.AlertState:
        try:
            return observations.AlertState(text)
        except ValueError:
            raise _Invalid(f"alert: state {text!r} (expected firing or resolved)") from None

    if isinstance(value, str):
        return state_of(value), None
    if not isinstance(value, dict):
        raise _Invalid('alert: expected "firing", "resolved" or an object with state')
    _known(value, _ALERT_KEYS, "alert")
    state = state_of(value.get("state"))
    labels = value.get("labels", {})
    severity = value.get("severity", "warning")
    if not isinstance(labels, dict) or severity not in alerts.SEVERITIES:
        raise _Invalid(
            "alert: labels must be an object and severity one of " + ", ".join(alerts.SEVERITIES)
        )
    name = str(value.get("name", ""))
    details = alerts.AlertDetails(
        identity=str(value.get("id", name)),
        name=name,
        severity=severity,
        labels={str(k): str(v) for k, v in labels.items()},
        summary=str(value.get("summary", "")),
    )
    return state, details


# --------------------------------------------------------------------------- writing


class Writer:
    """Writes a recording, one canonical JSON object per line.

    Times are written as ``t`` offsets from the header's ``start`` when there is one, else as
    ``time``; whole numbers without ``.0``; infinities as ``"+Inf"``/``"-Inf"`` (JSON has
    none). Key order is fixed, so the same records always give the same bytes.
    """

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream
        self._origin: float | None = None
        self._records = 0

    def header(
        self,
        *,
        start: float | None = None,
        end: float | None = None,
        name: str | None = None,
        description: str = "",
        faults: Iterable[Fault] | None = None,
        logs: Iterable[tuple[str, str]] = (),
        meta: Mapping[str, Any] | None = None,
    ) -> None:
        """The header; ``faults`` None writes no labels, ``[]`` labels everything healthy."""
        if self._records:
            raise ValueError("the header must be written first")
        self._origin = start
        item: dict[str, Any] = {"type": "header", "format": FORMAT, "version": VERSION}
        if start is not None:
            item["start"] = _compact(start)
        if end is not None:
            item["end"] = _compact(end)
        if name is not None:
            item["name"] = name
        if description:
            item["description"] = description
        if faults is not None:
            item["labels"] = {
                "faults": [
                    {
                        "target": f.target,
                        **self._when(f.start),
                        **({"kind": f.kind} if f.kind else {}),
                    }
                    for f in faults
                ]
            }
        listed = [{"target": target, "source": source} for target, source in logs]
        if listed:
            item["logs"] = listed
        if meta:
            item["meta"] = dict(meta)
        self._emit(item)

    def observation(self, obs: observations.Observation) -> None:
        item: dict[str, Any] = {**self._when(obs.time), "target": obs.target, "source": obs.source}
        if obs.error is not None:
            item["error"] = obs.error
            self._emit(item)
            return
        for key, value in (
            ("value", obs.value),
            ("status", obs.status),
            ("latency", obs.latency_s),
        ):
            if value is not None:
                item[key] = _compact(value)
        if obs.alert_state is not None:
            item["alert"] = obs.alert_state.value
        if obs.text is not None:
            item["text"] = obs.text
        self._emit(item)

    def series(
        self,
        *,
        target: str,
        source: str,
        start: float,
        every: float,
        values: Iterable[float | None],
        error: str | None = None,
    ) -> None:
        """Regular values of one source in one line; None is a probe error (``error``)."""
        item: dict[str, Any] = {
            "type": "series",
            **self._when(start),
            "every": _compact(every),
            "target": target,
            "source": source,
            "values": [None if v is None else _compact(v) for v in values],
        }
        if error is not None:
            item["error"] = error
        self._emit(item)

    def mark(self, mark: observations.Mark) -> None:
        self._emit(
            {"type": "mark", **self._when(mark.time), "target": mark.target, "name": mark.name}
        )

    def log(self, line: LogLine) -> None:
        self._emit(
            {
                "type": "log",
                **self._when(line.time),
                "target": line.target,
                "source": line.source,
                "line": line.line,
            }
        )

    @property
    def records(self) -> int:
        """Lines written after the header."""
        return self._records

    def _when(self, time: float) -> dict[str, Any]:
        if self._origin is None:
            return {"time": _compact(time)}
        # Rounded to microseconds: offsets of float timestamps otherwise print 17 digits.
        return {"t": _compact(round(time - self._origin, 6))}

    def _emit(self, item: dict[str, Any]) -> None:
        if item.get("type") != "header":
            self._records += 1
        self._stream.write(json.dumps(item, ensure_ascii=False, separators=(",", ":")) + "\n")


def _compact(number: float) -> float | int | str:
    if isinstance(number, int):
        return number
    if math.isnan(number):
        return "NaN"
    if math.isinf(number):
        return "+Inf" if number > 0 else "-Inf"
    return int(number) if number.is_integer() and abs(number) < 2**53 else number
