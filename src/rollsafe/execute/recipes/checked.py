"""Running one recipe command and turning a non-zero exit into the right error.

Role in the loop (execute): the directory, btrfs and script recipes share this so that every
failed command says which step failed and ends with the host's own last words (stderr).
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping

from rollsafe.config import models
from rollsafe.domain import errors
from rollsafe.reach.transports import transporting

_TAIL_LINES = 15


async def run(
    transport: transporting.Transport,
    target: models.Target,
    script: str,
    *,
    limit_s: float,
    what: str,
    error: type[errors.RollsafeError] = errors.DriverError,
    env: Mapping[str, str] | None = None,
) -> transporting.CommandResult:
    """Run ``script``; raise ``error`` (DriverError by default) unless it exits 0."""
    result = await transport.run(target, script, limit_s=limit_s, env=env)
    if not result.ok:
        raise error(f"{target.id}: {what} failed (exit {result.exit_status}): {why(result)}")
    return result


def why(result: transporting.CommandResult) -> str:
    """The last lines of stderr (or stdout), for an error message."""
    text = result.stderr.strip() or result.stdout.strip() or "no output"
    return "\n".join(text.splitlines()[-_TAIL_LINES:])


def quote(value: str) -> str:
    return shlex.quote(value)


def text_of(command: models.Command) -> str:
    """A configured command as one shell text (a list is quoted word by word)."""
    return command if isinstance(command, str) else shlex.join(command)
