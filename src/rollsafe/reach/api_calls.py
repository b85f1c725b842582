"""The audit record of every call rollsafe makes to a cloud API or sends to a host.

Role in the loop (shared): a cloud module or a transport calls ``record`` after each call with
its request id; the executor and the checkpoint code install a recorder for the run being
driven (``recording``), which appends a ``driver.api_call`` audit event. Outside of them
``record`` does nothing, so a probe may use the same cloud module without an audit of its own.
Never pass secrets here: the details go to the audit trail.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Mapping
from typing import Any

Recorder = Callable[[str, Mapping[str, Any]], None]
"""Receives ``(operation, details)`` after each call."""

_recorder: contextvars.ContextVar[Recorder | None] = contextvars.ContextVar(
    "rollsafe_api_call_recorder", default=None
)


def record(operation: str, **details: Any) -> None:
    """Report one call (``details`` carry its ``request_id``) to the installed recorder."""
    recorder = _recorder.get()
    if recorder is not None:
        recorder(operation, details)


def recording(recorder: Recorder) -> contextvars.Token[Recorder | None]:
    """Install ``recorder`` for the current task (each run is driven in its own task)."""
    return _recorder.set(recorder)


def reset(token: contextvars.Token[Recorder | None]) -> None:
    """Undo ``recording``."""
    _recorder.reset(token)
