"""The transport interface: run one shell command on a host and get its result.

Role in the loop (reach): the host driver's recipes decide *what* to run to checkpoint and
roll a host back; a transport decides *how* it gets there (this machine, SSH, AWS Systems
Manager, Alibaba Cloud Assistant, Tencent TAT). Transports never interpret output, never log
the environment, and translate their back end's errors into ``DriverError`` (permanent: bad
host key, authentication refused) or ``DriverTemporaryError`` (unreachable, throttled), so the
executor's retry logic works the same for all of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from rollsafe.config import models


@dataclass(frozen=True, slots=True)
class CommandResult:
    """What one command did. Output is already size-limited and redacted by the transport."""

    exit_status: int
    stdout: str
    stderr: str
    duration: float
    truncated: bool = False  # True when stdout or stderr was cut to the output limit
    invocation_id: str = ""  # the cloud's command/invocation id, "" for local and SSH

    @property
    def ok(self) -> bool:
        return self.exit_status == 0


class Transport(Protocol):
    kind: str  # "local", "ssh", "aws_ssm", ...

    async def run(
        self,
        target: models.Target,
        script: str,
        *,
        limit_s: float,
        env: Mapping[str, str] | None = None,
    ) -> CommandResult:
        """Run ``script`` with ``sh -c`` on the target's host and wait for it.

        A non-zero exit is a result, not an error: the recipe decides what it means. Errors
        are for "could not run it" (connection, authentication, timeout).
        """

    async def close(self) -> None:
        """Release connections (idempotent)."""
