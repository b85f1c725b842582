"""Operator commands that survive their controller: the SIGKILL-safe command supervisor.

Role in the loop (execute): a driver step that runs a command on this machine (the local
driver's checkpoint, rollback and restart commands; the upgrade command of the aws and tencent
drivers) launches it through ``run``. The command runs under a tiny supervisor process
(``supervisor.py``, outside the controller's session) that records its exit code itself, so a
controller SIGKILLed mid-command loses nothing: the resumed step uses the recorded result, or
adopts the supervisor still running and waits for it, and never starts a second copy. Only
when the supervisor died as well (a reboot, its process group killed) does the command run
again: operator commands must still tolerate running twice.

The command runs without a shell, in its own process group (killed whole on timeout or
cancellation, supervisor included); its stdout and stderr go to files rather than pipes, so a
daemon it starts never blocks the step nor dies of a closed pipe. Failures are
``DriverError`` with the last lines of stderr, never the environment (it may hold secrets).

Files, with ``<slug>`` the step key's ``journals.slug`` in the driver's journal directory:
``<slug>.run`` (the lock a live supervisor holds), ``<slug>.proc`` (its pid record),
``<slug>.result`` (the exit code) — see ``supervisor.py`` for the protocol.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from rollsafe.config import models
from rollsafe.domain import errors
from rollsafe.execute import commands, journals
from rollsafe.execute import supervisor as supervisor_process

__all__ = ["CommandFiles", "journaled", "run", "tail", "upgrade"]

_TAIL_BYTES = 64 * 1024
_TAIL_LINES = 20
_TERM_GRACE = 2.0  # seconds a timed-out command gets between SIGTERM and SIGKILL
_SUPERVISOR = supervisor_process.__file__
_STARTUP_WAIT = 10.0  # seconds a live supervisor may take to write its pid record
_POLL = 0.05  # seconds between looks while a supervisor starts (or without pidfd)


async def run(
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    journal: Path,
    key: str,
    stdout: Path,
    stderr: Path,
    what: str,
    limit_s: float,
    durable: bool = True,
) -> str:
    """Run one operator command to completion under a supervisor; its stdout tail.

    ``durable``: a result recorded by an earlier call's supervisor for ``key`` is used as is,
    and a supervisor of ``key`` still running is waited for, never doubled (a successful
    result stays until ``CommandFiles.forget``, once the caller journaled the step). Otherwise
    whatever an earlier call left is killed and forgotten first. ``limit_s`` counts from the
    command's start, also across a controller restart.
    """
    stdout.parent.mkdir(parents=True, exist_ok=True)
    stderr.parent.mkdir(parents=True, exist_ok=True)
    files = CommandFiles(journal, journals.slug(key))
    if not durable:
        await _discard(files)
    result = await _supervised(
        argv, env=env, files=files, stdout=stdout, stderr=stderr, what=what, limit_s=limit_s
    )
    if result is None:
        # Ours ended and recorded nothing: its process group was killed under us.
        result = {"lost": True}
    try:
        return _outcome(result, argv=argv, what=what, stdout=stdout, stderr=stderr)
    except errors.DriverError:
        files.forget()  # a failure is not kept: the same key runs the command again
        raise
    finally:
        if not durable:
            files.forget()


async def journaled(
    journal: journals.StepJournal,
    key: str,
    act: Callable[[], Awaitable[str]],
    *,
    step: str,
    record: Mapping[str, Any] | None = None,
    retry_after: float = 5.0,
) -> str:
    """``journal.once`` for a step whose ``act`` runs a command through ``run``: once the
    step is journaled, the supervisor's recorded result has served its purpose."""
    output = await journal.once(key, act, step=step, record=record, retry_after=retry_after)
    # Also when the key was found journaled: a crash after the journal write left it.
    CommandFiles(journal.root, journals.slug(key)).forget()
    return output


async def upgrade(
    journal: journals.StepJournal,
    key: str,
    command: models.Command,
    target: models.Target,
    *,
    env: Mapping[str, str],
    output_dir: Path,
    limit_s: float,
    retry_after: float = 5.0,
) -> str:
    """A cloud driver's ``upgrade``: ``command`` run on the controller, once per key.

    It runs under the supervisor (a controller killed mid-upgrade adopts it on resume, never
    runs it again) with rollsafe's environment, ``env`` and ``ROLLSAFE_TARGET`` /
    ``ROLLSAFE_STEP_KEY``; its output goes to ``<output_dir>/upgrade-<slug>.stdout|.stderr``.
    """
    environment = {**os.environ, **env, "ROLLSAFE_TARGET": target.id, "ROLLSAFE_STEP_KEY": key}
    output = output_dir / f"upgrade-{journals.slug(key)}"
    return await journaled(
        journal,
        key,
        lambda: run(
            commands.argv(command, target, what="upgrade"),
            env=environment,
            journal=journal.root,
            key=key,
            stdout=output.with_suffix(".stdout"),
            stderr=output.with_suffix(".stderr"),
            what="upgrade",
            limit_s=limit_s,
        ),
        step="upgrade",
        retry_after=retry_after,
    )


async def _supervised(
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    files: CommandFiles,
    stdout: Path,
    stderr: Path,
    what: str,
    limit_s: float,
) -> dict[str, Any] | None:
    """The command's recorded result: found, awaited from a live supervisor, or after a
    fresh run; None when the supervisor this call launched ended without one."""
    launched = False
    try:
        while True:
            result = files.read_result()
            if result is not None:
                break
            # A supervisor of this key that outlived its controller, or the one just launched.
            supervisor = await _adopt(files)
            if supervisor is not None:
                result = await _finish(
                    supervisor, files=files, argv=argv, what=what, limit_s=limit_s
                )
                if result is None and not launched:
                    # An adopted supervisor died recording nothing (killed with, or just
                    # after, its controller): as if there had been none, run it again.
                    continue
                break
            if launched:
                result = files.read_result()  # None: ours ended recording nothing
                break
            lock_fd = files.try_lock()
            if lock_fd is None:
                continue  # a supervisor just took the key: adopt it
            try:
                if files.read_result() is not None:
                    continue  # recorded between the first look and the lock
                files.stop_orphans()
                await _launch(
                    argv,
                    env=env,
                    files=files,
                    lock_fd=lock_fd,
                    stdout=stdout,
                    stderr=stderr,
                    what=what,
                )
                launched = True
            finally:
                os.close(lock_fd)  # the supervisor holds its own copy of the lock
    except asyncio.CancelledError:
        # A cancelled step leaves nothing running behind that could race its retry; a
        # result already recorded stays, so a finished command is not run again.
        with contextlib.suppress(TimeoutError, asyncio.CancelledError):
            async with asyncio.timeout(_STARTUP_WAIT + 5):
                await asyncio.shield(_kill(files))
        raise
    return result


async def _finish(
    supervisor: _Supervisor,
    *,
    files: CommandFiles,
    argv: Sequence[str],
    what: str,
    limit_s: float,
) -> dict[str, Any] | None:
    """Wait for the supervisor within ``limit_s``; the result it recorded, if any."""
    timeout = limit_s
    # The limit counts from the command's start, also across a controller restart.
    remaining = max(0.0, timeout - (time.time() - supervisor.started_at))
    try:
        async with asyncio.timeout(remaining):
            await supervisor.wait()
    except TimeoutError:
        await supervisor.stop()
        files.forget()
        raise errors.DriverError(
            f"the {what} command {argv[0]!r} timed out after {timeout:g}s; "
            "its process group was killed"
        ) from None
    finally:
        supervisor.close()
    return files.read_result()


class CommandFiles:
    """What the supervisor of one step key leaves in the journal (see ``supervisor``)."""

    def __init__(self, root: Path, slug: str) -> None:
        self.prefix = root / slug
        self._lock = root / f"{slug}.run"
        self._proc = root / f"{slug}.proc"
        self._result = root / f"{slug}.result"

    def try_lock(self) -> int | None:
        """The run lock's descriptor, held; None while a supervisor of this key is alive."""
        self.prefix.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self._lock, os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        return fd

    def busy(self) -> bool:
        fd = self.try_lock()
        if fd is None:
            return True
        os.close(fd)
        return False

    def read_proc(self) -> dict[str, Any] | None:
        return _read_json(self._proc)

    def read_result(self) -> dict[str, Any] | None:
        return _read_json(self._result)

    def stop_orphans(self) -> None:
        """Kill what is left of a dead supervisor's process group before a re-run.

        Its supervisor died without a result (killed on its own, say), so the command may
        still be running with nobody to record its end: it must not race its re-run.
        """
        record = self.read_proc()
        if record is None:
            return
        pgid = int(record["pgid"])
        ticks = supervisor_process.start_ticks(pgid)
        if ticks is not None and ticks != record.get("pgid_start_ticks"):
            return  # the pid now names another process: the group is not ours any more
        _signal_group(pgid, signal.SIGKILL)

    def forget(self) -> None:
        self._proc.unlink(missing_ok=True)
        self._result.unlink(missing_ok=True)


class _Supervisor:
    """A live supervisor (see ``supervisor``), watched through a pidfd where possible."""

    def __init__(
        self,
        pid: int,
        *,
        start_ticks: int,
        pgid: int,
        started_at: float,
        pidfd: int | None,
    ) -> None:
        self.pid = pid
        self.pgid = pgid
        self.started_at = started_at
        self._start_ticks = start_ticks
        self._pidfd = pidfd

    async def wait(self) -> None:
        if self._pidfd is not None:
            loop = asyncio.get_running_loop()
            exited = asyncio.Event()
            loop.add_reader(self._pidfd, exited.set)  # a pidfd turns readable at exit
            try:
                await exited.wait()
            finally:
                loop.remove_reader(self._pidfd)
        else:
            # Without pidfd_open (kernels before 5.3) there is no event to await for a
            # process that is not our child: watch its identity.
            while supervisor_process.start_ticks(self.pid) == self._start_ticks:  # noqa: ASYNC110
                await asyncio.sleep(_POLL)

    async def stop(self) -> None:
        """SIGTERM the command's process group, then SIGKILL whatever is left of it."""
        _signal_group(self.pgid, signal.SIGTERM)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(_TERM_GRACE):
                await self.wait()
        _signal_group(self.pgid, signal.SIGKILL)
        await self.wait()

    def close(self) -> None:
        if self._pidfd is not None:
            os.close(self._pidfd)
            self._pidfd = None


async def _launch(
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    files: CommandFiles,
    lock_fd: int,
    stdout: Path,
    stderr: Path,
    what: str,
) -> None:
    """Start the command under a new supervisor, which inherits the held run lock."""
    files.forget()
    with stdout.open("wb") as out, stderr.open("wb") as err:
        try:
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-I",  # neither PYTHON* variables from `env` nor the user's site apply
                _SUPERVISOR,
                str(lock_fd),
                str(files.prefix),
                *argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                env=env,
                pass_fds=(lock_fd,),
                start_new_session=True,  # out of the controller's session and terminal
            )
        except OSError as exc:
            raise errors.DriverError(
                f"the {what} command {argv[0]!r} could not start: its supervisor "
                f"{sys.executable!r} failed: {exc.strerror}"
            ) from exc
    try:
        # The first process only forks the supervisor and exits.
        returncode = await proc.wait()
    except asyncio.CancelledError:
        # Reap it all the same: a cancelled step leaves neither a zombie nor a transport.
        with contextlib.suppress(TimeoutError, asyncio.CancelledError):
            async with asyncio.timeout(5):
                await asyncio.shield(proc.wait())
        raise
    if returncode != 0:
        last = tail(stderr)
        raise errors.DriverError(
            f"the {what} command {argv[0]!r} could not start: its supervisor exited with "
            f"code {returncode}" + (f"; last lines of stderr:\n{last}" if last else "")
        )


async def _adopt(files: CommandFiles) -> _Supervisor | None:
    """The live supervisor holding ``files``' run lock, or None once it has ended."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + _STARTUP_WAIT
    while files.busy():
        record = files.read_proc()
        if record is not None:
            pid, ticks = int(record["pid"]), record.get("start_ticks")
            pidfd = _pidfd_open(pid)
            # Checked after pidfd_open, so that the descriptor refers to this very process
            # and not to a later one that reused its pid.
            if ticks is not None and supervisor_process.start_ticks(pid) == ticks:
                return _Supervisor(
                    pid,
                    start_ticks=ticks,
                    pgid=int(record["pgid"]),
                    started_at=float(record["started_at"]),
                    pidfd=pidfd,
                )
            if pidfd is not None:
                os.close(pidfd)
        # The lock is held but the record is missing or stale: the supervisor is in its
        # first milliseconds, before it writes its record.
        if loop.time() > deadline:
            raise errors.DriverTemporaryError(
                f"the command supervisor of {files.prefix.name} holds its lock but "
                "records no live process",
                retry_after=5.0,
            )
        await asyncio.sleep(_POLL)
    return None


async def _kill(files: CommandFiles) -> None:
    """Kill any live supervisor of ``files`` with its command's whole process group."""
    while files.busy():
        supervisor = await _adopt(files)
        if supervisor is not None:
            _signal_group(supervisor.pgid, signal.SIGKILL)
            try:
                await supervisor.wait()
            finally:
                supervisor.close()


async def _discard(files: CommandFiles) -> None:
    """Kill any supervisor of ``files`` and whatever it runs, and forget its records."""
    await _kill(files)
    files.stop_orphans()
    files.forget()


def _outcome(
    result: Mapping[str, Any],
    *,
    argv: Sequence[str],
    what: str,
    stdout: Path,
    stderr: Path,
) -> str:
    """The step's output from a supervisor's result, or the DriverError it means."""
    spawn_error = result.get("spawn_error")
    if isinstance(spawn_error, Mapping):
        if spawn_error.get("errno") == errno.ENOENT:
            raise errors.DriverError(f"the {what} command's executable {argv[0]!r} was not found")
        raise errors.DriverError(
            f"the {what} command {argv[0]!r} could not start: {spawn_error.get('strerror')}"
        )
    if "lost" in result:
        how = "ended without a recorded exit code (its process group was killed)"
    else:
        returncode = int(result["returncode"])
        if returncode == 0:
            return tail(stdout)
        how = _killed_by(-returncode) if returncode < 0 else f"failed with exit code {returncode}"
    last = tail(stderr)
    raise errors.DriverError(
        f"the {what} command {argv[0]!r} {how}"
        + (f"; last lines of stderr:\n{last}" if last else "")
    )


def _killed_by(signum: int) -> str:
    try:
        return f"was killed by signal {signal.Signals(signum).name}"
    except ValueError:
        return f"was killed by signal {signum}"


def _pidfd_open(pid: int) -> int | None:
    try:
        return os.pidfd_open(pid)
    except (OSError, AttributeError):  # gone, or no pidfd on this kernel or platform
        return None


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        record: dict[str, Any] = json.loads(path.read_bytes())
    except FileNotFoundError:
        return None
    return record


def tail(path: Path) -> str:
    """The last lines of a (possibly large) output file."""
    with path.open("rb") as f:
        f.seek(0, os.SEEK_END)
        size = f.tell()
        f.seek(max(0, size - _TAIL_BYTES))
        text = f.read().decode(errors="replace")
    return "\n".join(text.strip().splitlines()[-_TAIL_LINES:])


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)
