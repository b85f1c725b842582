"""What the cloud command transports share: the instance of a target, a script with its env.

Role in the loop (reach): AWS Systems Manager, Alibaba Cloud Assistant and Tencent TAT all
run a shell script on an instance by its id and take no environment of their own, so the
environment a recipe passes is written into the script as ``export`` lines (values shell-quoted)
and then masked in the output; ``poll`` waits for the agent's answer. The script itself is never
logged nor audited.
"""

from __future__ import annotations

import re
import shlex
import time
from collections.abc import Mapping
from typing import TypeVar

from rollsafe.config import models
from rollsafe.domain import errors
from rollsafe.reach import polling

_T = TypeVar("_T")

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def instance_id(target: models.Target, *, kind: str) -> str:
    """The cloud instance of ``target``: its ``vars.instance_id``."""
    value = target.vars.get("instance_id")
    if not isinstance(value, str) or not value.strip():
        raise errors.DriverError(
            f"{target.id}: the {kind} transport needs the instance id in the target's "
            "`vars: {instance_id: ...}`"
        )
    return value.strip()


def with_env(script: str, env: Mapping[str, str] | None) -> str:
    """``script`` preceded by one ``export NAME='value'`` line per variable."""
    if not env:
        return script
    lines = []
    for name, value in env.items():
        if not _NAME.match(name):
            # Only the name is said: the value may be a secret.
            raise errors.DriverError(f"environment variable name {name!r} is not a shell name")
        lines.append(f"export {name}={shlex.quote(value)}\n")
    return "".join(lines) + script


def secrets(env: Mapping[str, str] | None) -> list[str]:
    """The values to mask in the output: every value of the env a recipe passed."""
    return list((env or {}).values())


async def poll(
    look: polling.Look[_T],
    *,
    what: str,
    limit_s: float,
    started: float,
    interval: float,
    margin: float | None = None,
) -> _T:
    """Poll a command sent to a cloud agent every ``interval`` until ``look`` has its result.

    The cloud stops the command at ``limit_s`` after ``started`` (``time.monotonic``); the
    ``margin`` (default 2 s and three polls) lets the agent's own answer arrive.
    ``polling.GaveUp`` after that: the caller cancels the command and says so.
    """
    deadline = started + limit_s + (2 + 3 * interval if margin is None else margin)
    return await polling.until(
        look,
        what=what,
        limit=max(0.0, deadline - time.monotonic()),
        interval=interval,
        max_interval=interval,
    )
