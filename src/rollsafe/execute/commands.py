"""Configured commands rendered for one target: as an argv, or as one shell text.

Role in the loop (execute): a user's upgrade, restart, stop or rollback command is a template
(``{id}``, ``{address}``, labels, ``vars``), written as a string or a list of words. The
command supervisor runs it without a shell (``argv``); transports and cloud run-command
services take one shell text (``shell_text``). Both render here, so a template error reads
the same whichever driver or recipe meets it.
"""

from __future__ import annotations

import shlex

from rollsafe.config import models
from rollsafe.domain import errors

TEMPLATE_ERRORS = (KeyError, ValueError, IndexError, AttributeError)
"""What ``models.render`` raises for an unknown or malformed template variable."""


def argv(command: models.Command, target: models.Target, *, what: str) -> list[str]:
    """The argv of a configured command for ``target``: split (a string), then rendered."""
    try:
        tokens = shlex.split(command) if isinstance(command, str) else list(command)
    except ValueError as exc:
        raise errors.DriverError(f"the {what} command cannot be split: {exc}") from exc
    if not tokens:
        raise errors.DriverError(f"the {what} command is empty")
    try:
        return [models.render(token, target) for token in tokens]
    except TEMPLATE_ERRORS as exc:
        raise _unrenderable(what, target, exc) from exc


def shell_text(command: models.Command, target: models.Target, *, what: str) -> str:
    """One shell text: a string is the users' own shell line; a list is argv, word by word."""
    try:
        if isinstance(command, str):
            return models.render(command, target)
        return shlex.join(models.render(word, target) for word in command)
    except TEMPLATE_ERRORS as exc:
        raise _unrenderable(what, target, exc) from exc


def _unrenderable(what: str, target: models.Target, exc: Exception) -> errors.DriverError:
    return errors.DriverError(
        f"the {what} command cannot be rendered for {target.id}: unknown or invalid "
        f"template variable {exc} (write literal braces as {{{{ and }}}})"
    )
