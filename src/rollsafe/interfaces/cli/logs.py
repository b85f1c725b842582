"""How ``rollsafe run`` writes its log: for a person at a terminal, or for a log collector.

Role in the loop (interfaces): the daemon's log is how operators follow detect -> judge ->
execute -> verify in production, so it must survive journald, Docker and Kubernetes log
pipelines: one event per line, never wrapped to a terminal's width.

Formats (``--log-format``):

* ``auto`` (default): ``rich`` when standard error is a terminal, else ``plain``;
* ``plain``: ``2026-12-06T14:20:17.123Z INFO rollsafe.api: message key=value`` on one line
  (line breaks inside a message are escaped);
* ``json``: one JSON object per line: ``time`` (ISO 8601, UTC), ``level``, ``logger``,
  ``message``, any ``extra={...}`` fields, and ``exception`` with the traceback;
* ``rich``: coloured, wrapped to the terminal (for people only).
"""

from __future__ import annotations

import datetime
import json
import logging
import sys
from typing import Any, TextIO

__all__ = ["FORMATS", "LEVELS", "JsonFormatter", "PlainFormatter", "configure"]

FORMATS = ("auto", "plain", "json", "rich")
LEVELS = ("debug", "info", "warning", "error")

# Attributes every LogRecord has: anything else was passed with ``extra=`` and is a field.
_STANDARD = frozenset(vars(logging.LogRecord("x", logging.INFO, "x", 0, "x", None, None))) | {
    "message",
    "asctime",
}


def _utc(created: float) -> str:
    moment = datetime.datetime.fromtimestamp(created, tz=datetime.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _extra(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")}


class PlainFormatter(logging.Formatter):
    """One line per event: UTC time, level, logger, message, ``key=value`` extras."""

    def format(self, record: logging.LogRecord) -> str:
        text = record.getMessage()
        extras = " ".join(f"{k}={v!r}" for k, v in sorted(_extra(record).items()))
        line = f"{_utc(record.created)} {record.levelname} {record.name}: {text}"
        if extras:
            line += f" {extras}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        # A collector splits events on newlines: keep one event on one line.
        return line.replace("\r", "\\r").replace("\n", "\\n")


class JsonFormatter(logging.Formatter):
    """One JSON object per line (see the module notes)."""

    def format(self, record: logging.LogRecord) -> str:
        event: dict[str, Any] = {
            "time": _utc(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in _extra(record).items():
            event.setdefault(key, value)
        if record.exc_info:
            event["exception"] = self.formatException(record.exc_info)
        return json.dumps(event, default=str, ensure_ascii=False)


def configure(*, fmt: str = "auto", level: str = "info", stream: TextIO | None = None) -> None:
    """Route the root logger to ``stream`` (standard error) in ``fmt`` at ``level``."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown log format {fmt!r} (expected one of {', '.join(FORMATS)})")
    if level not in LEVELS:
        raise ValueError(f"unknown log level {level!r} (expected one of {', '.join(LEVELS)})")
    stream = sys.stderr if stream is None else stream
    if fmt == "auto":
        fmt = "rich" if stream.isatty() else "plain"
    handler: logging.Handler
    if fmt == "rich":
        from rich.console import Console
        from rich.logging import RichHandler

        handler = RichHandler(console=Console(file=stream), show_path=False)
        handler.setFormatter(logging.Formatter("%(message)s"))
    else:
        handler = logging.StreamHandler(stream)
        handler.setFormatter(JsonFormatter() if fmt == "json" else PlainFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(getattr(logging, level.upper()))
