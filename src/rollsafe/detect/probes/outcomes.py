"""Shared vocabulary of the built-in probes: when a probe cannot look, and how results read.

Every built-in probe turns "I could not observe" into an ``Observation`` with ``error`` set
(the detector is blind) and "the target answered badly" into a value (the service is broken).
This module holds the small pieces they share so that the wording of errors stays the same
across probes: the judge and the people reading the audit log see one language.
"""

from __future__ import annotations

from rollsafe.config import durations, models
from rollsafe.domain import errors, ids, observations

TEXT_LIMIT = 500
"""Longest ``text`` a probe puts in an observation: evidence, not a log archive."""


class CannotObserve(errors.RollsafeError):
    """Raised inside a probe when it cannot look; its message becomes ``Observation.error``."""


def render(template: str, target: models.Target, *, what: str) -> str:
    """``template`` rendered for ``target``; an unknown variable means the probe cannot look."""
    try:
        return models.render(template, target)
    except KeyError as exc:
        raise CannotObserve(
            f"{what}: unknown template variable {exc.args[0]!r} for target {target.id}"
        ) from exc
    except (ValueError, IndexError) as exc:
        # A stray "{" or a positional "{}" in the template: a configuration mistake that only
        # shows once a target is rendered.
        raise CannotObserve(f"{what}: bad template {template!r}: {exc}") from exc


def timeout_reason(seconds: float) -> str:
    """The words every probe uses for a timeout: ``timeout after 2s``."""
    return f"timeout after {durations.format_duration(seconds)}"


def clip(text: str, limit: int = TEXT_LIMIT) -> str:
    """``text`` cut to ``limit`` characters, marking the cut so nobody mistakes it for whole."""
    if len(text) <= limit:
        return text
    return text[: limit - 1] + "…"


def blind(
    *, time: float, target: models.Target, source: str, reason: str
) -> observations.Observation:
    """An observation saying the probe could not look at ``target``."""
    return observations.Observation(
        time=time, target=ids.TargetId(target.id), source=source, error=clip(reason)
    )
