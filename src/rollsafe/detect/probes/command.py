"""Command probe: run an operator's check command and read its exit code or a number it prints.

The escape hatch for anything no built-in probe covers (``systemctl is-active``, a vendor CLI,
a script printing a queue depth). Each observation runs the command once:

- ``status`` is the exit code;
- with ``parse``, ``value`` is the number the regex finds in stdout (its first group, or the
  whole match when it has none); without ``parse``, ``value`` is 1.0 for exit 0, else 0.0,
  and ``text`` the last line the command printed on stderr (or stdout) when it failed.

A string command is split with shell rules (``shlex``) FIRST and each word is then rendered
as a template, so a label containing spaces stays one argument and no shell ever sees it.

The command runs in a new session (its own process group). When it outlives ``timeout``, or
the observation is cancelled, the whole group is killed: a hung check must not leave
processes behind. A timeout is an error ("timeout after 5s"), not a value: a check that did
not finish said nothing about the target. So are a command that is not found or cannot be
run, and output in which ``parse`` finds no number. Output beyond 1 MiB per stream is read
and dropped so a chatty command cannot exhaust memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shlex
import signal

from rollsafe.config import models
from rollsafe.detect.probes import outcomes
from rollsafe.domain import clocks, errors, ids, observations
from rollsafe.reach.transports import shared, transporting

OUTPUT_LIMIT = 1024 * 1024
_KILL_WAIT = 5.0


class CommandProbe:
    """Runs a templated command per target and turns its outcome into an observation."""

    def __init__(self, config: models.CommandProbe, clock: clocks.Clock) -> None:
        self.name = config.name
        self._config = config
        self._clock = clock
        # With `transport`, the command runs on the target (one shared connection per host).
        self._transport: transporting.Transport | None = None
        if config.transport is not None:
            self._transport = shared.lease(config.transport, output_limit=shared.PROBE_OUTPUT_LIMIT)
        if isinstance(config.command, str):
            try:
                self._argv = shlex.split(config.command)
            except ValueError as exc:
                raise errors.ConfigError(
                    f"probe {config.name}: command cannot be split: {exc}"
                ) from exc
        else:
            self._argv = list(config.command)
        if not self._argv:
            raise errors.ConfigError(f"probe {config.name}: command is empty")
        try:
            self._parse = re.compile(config.parse) if config.parse else None
        except re.error as exc:
            raise errors.ConfigError(
                f"probe {config.name}: parse is not a valid regex: {exc}"
            ) from exc

    async def observe(self, target: models.Target) -> observations.Observation:
        try:
            argv = [outcomes.render(word, target, what="command") for word in self._argv]
            code, stdout, stderr, latency = await self._run(argv, target)
            value, text = self._outcome(code, stdout, stderr)
        except outcomes.CannotObserve as exc:
            return outcomes.blind(
                time=self._clock.now(), target=target, source=self.name, reason=str(exc)
            )
        return observations.Observation(
            time=self._clock.now(),
            target=ids.TargetId(target.id),
            source=self.name,
            value=value,
            status=code,
            latency_s=latency,
            text=text,
        )

    async def _run(self, argv: list[str], target: models.Target) -> tuple[int, str, str, float]:
        if self._transport is not None:
            return await self._run_remote(argv, target, self._transport)
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            process = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                start_new_session=True,
            )
        except FileNotFoundError:
            raise outcomes.CannotObserve(f"command not found: {argv[0]}") from None
        except PermissionError:
            raise outcomes.CannotObserve(f"permission denied: {argv[0]}") from None
        except OSError as exc:
            raise outcomes.CannotObserve(f"cannot run {argv[0]}: {exc.strerror or exc}") from None

        finished = False
        try:
            async with asyncio.timeout(self._config.timeout):
                stdout, stderr, code = await asyncio.gather(
                    _read_capped(process.stdout),
                    _read_capped(process.stderr),
                    process.wait(),
                )
            finished = True
        except TimeoutError:
            raise outcomes.CannotObserve(outcomes.timeout_reason(self._config.timeout)) from None
        finally:
            if not finished:
                # Timed out or cancelled: the group may hold children that keep our pipes open.
                await _kill_group(process)
        return code, stdout, stderr, loop.time() - started

    async def _run_remote(
        self, argv: list[str], target: models.Target, transport: transporting.Transport
    ) -> tuple[int, str, str, float]:
        """The words, shell-quoted, run by ``sh -c`` on the target through the transport."""
        from rollsafe.detect.probes import remote  # imported only for remote probes

        result = await remote.run(transport, target, shlex.join(argv), limit_s=self._config.timeout)
        if result.exit_status == 124 and result.duration >= self._config.timeout:
            raise outcomes.CannotObserve(outcomes.timeout_reason(self._config.timeout))
        return result.exit_status, result.stdout, result.stderr, result.duration

    def _outcome(self, code: int, stdout: str, stderr: str) -> tuple[float, str | None]:
        if self._parse is None:
            if code == 0:
                return 1.0, None
            last = _last_line(stderr) or _last_line(stdout)
            return 0.0, outcomes.clip(last) if last else None
        match = self._parse.search(stdout)
        if match is None:
            raise outcomes.CannotObserve(f"parse found no match in the output (exit {code})")
        found = match.group(1) if self._parse.groups else match.group(0)
        try:
            return float(found), None
        except (TypeError, ValueError):
            raise outcomes.CannotObserve(
                f"parse matched {outcomes.clip(str(found), 80)!r}, not a number"
            ) from None

    async def close(self) -> None:
        """Release the transport lease; local commands reap their own processes."""
        if self._transport is not None:
            await self._transport.close()


async def _read_capped(stream: asyncio.StreamReader | None) -> str:
    if stream is None:
        return ""
    kept = bytearray()
    while chunk := await stream.read(64 * 1024):
        if len(kept) < OUTPUT_LIMIT:
            kept += chunk[: OUTPUT_LIMIT - len(kept)]
    return kept.decode("utf-8", errors="replace")


async def _kill_group(process: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(_KILL_WAIT):
            await process.wait()


def _last_line(output: str) -> str | None:
    for line in reversed(output.strip().splitlines()):
        if line.strip():
            return line.strip()
    return None


def create(config: models.Probe, clock: clocks.Clock) -> CommandProbe:
    """Factory registered under ``command``."""
    if not isinstance(config, models.CommandProbe):
        raise errors.ConfigError(f"probe {config.name}: not a command probe")
    return CommandProbe(config, clock)
