"""The local driver: hosts managed on this machine by a directory restore point and commands.

Role in the loop (execute): ``checkpoint`` copies the target's ``directory`` (the built-in
restore point, see ``directories``) and runs the optional checkpoint command; ``precheck``
proves the copy is intact byte for byte before a rollback may start; ``rollback`` restores
the directory, runs the rollback command and restarts the service, one step at a time.

Idempotency: every step with a key writes ``<state_dir>/driver-journal/<slug>.done`` after
its effect, atomically; a call whose key is already journaled returns the recorded output
and does nothing. A restore's swap is itself resumable (``directories.restore``). A command
runs under a supervisor (``local_supervisor``) that outlives a SIGKILLed controller and
records the exit code itself: a resumed step uses that result, or adopts the supervisor
still running, and never starts a second copy. Only when the supervisor died as well (a
reboot, its process group killed) does the command run again: operator commands must still
tolerate running twice.

Commands run without a shell, in their own process group (killed whole on timeout or
cancellation, supervisor included), with the environment of rollsafe plus ``env`` from the
config and ``ROLLSAFE_TARGET``, ``ROLLSAFE_STEP_KEY``, ``ROLLSAFE_POINT_ID`` and
``ROLLSAFE_POINT_DIR``. Their stdout and stderr go to files under
``<state_dir>/driver-output/`` rather than pipes, so that a daemon started by a restart
command never blocks the step nor dies of a closed pipe.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import hashlib
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from rollsafe.audit import redacting
from rollsafe.config import models
from rollsafe.domain import errors, ids, restore_points
from rollsafe.execute import driving
from rollsafe.execute.drivers import directories, local_supervisor

STEP_RESTORE = "restore-directory"
STEP_ROLLBACK = "run-rollback-command"
STEP_RESTART = "restart"
RESTORES_LOG = "restores.log"

_POINT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")
_TAIL_BYTES = 64 * 1024
_TAIL_LINES = 20
_TERM_GRACE = 2.0  # seconds a timed-out command gets between SIGTERM and SIGKILL
_SUPERVISOR = local_supervisor.__file__
_STARTUP_WAIT = 10.0  # seconds a live supervisor may take to write its pid record
_POLL = 0.05  # seconds between looks while a supervisor starts (or without pidfd)


class LocalDriver:
    """Implements ``rollsafe.execute.driving.Driver`` for ``kind: local``."""

    kind: str = "local"

    def __init__(self, config: models.LocalDriver, state_dir: Path) -> None:
        self.config = config
        self.name: str = config.name
        self.state_dir = state_dir.absolute()
        self._points_root = self.state_dir / "restore-points"
        self._output_dir = self.state_dir / "driver-output"
        self._journal = _Journal(self.state_dir / "driver-journal")

    # ------------------------------------------------------------------ checkpoint

    async def checkpoint(
        self, target: models.Target, *, point_id: str, label: str = ""
    ) -> restore_points.RestorePoint:
        point_dir = self.point_dir(target.id, point_id)
        data: dict[str, Any] = {"point_dir": str(point_dir)}
        live = self._live(target)
        try:
            await self._take(target, point_id=point_id, point_dir=point_dir, live=live, data=data)
        except BaseException:
            # Whatever was left (a partial copy, a point whose checkpoint command failed)
            # must neither look usable later nor keep the space.
            await asyncio.shield(asyncio.to_thread(directories.remove_tree, point_dir))
            raise
        return restore_points.RestorePoint(
            id=ids.RestorePointId(point_id),
            target=ids.TargetId(target.id),
            driver=self.name,
            created_at=time.time(),
            data=data,
            label=label,
        )

    async def _take(
        self,
        target: models.Target,
        *,
        point_id: str,
        point_dir: Path,
        live: Path | None,
        data: dict[str, Any],
    ) -> None:
        try:
            if live is not None:
                snapshot = await asyncio.to_thread(directories.take, live, point_dir)
                data.update(
                    directory=str(live),
                    copy=str(snapshot.copy),
                    manifest_sha256=snapshot.manifest_sha256,
                    files=snapshot.files,
                    bytes=snapshot.bytes,
                )
            else:
                await asyncio.to_thread(_fresh_directory, point_dir)
        except OSError as exc:
            raise errors.DriverError(
                f"restore point {point_id} of {target.id} could not be taken: {exc}"
            ) from exc
        if self.config.checkpoint is not None:
            await self._run(
                self.config.checkpoint,
                target,
                what="checkpoint",
                key=f"checkpoint:{target.id}:{point_id}",
                point_id=point_id,
                point_dir=point_dir,
                durable=False,
            )
        if live is None:
            # A command-only point is complete once its checkpoint command has succeeded.
            marker = json.dumps({"command_only": True}).encode()
            await asyncio.to_thread(
                directories.write_atomic, point_dir / directories.COMPLETE, marker
            )

    # ------------------------------------------------------------------ precheck

    async def precheck(self, target: models.Target, point: restore_points.RestorePoint) -> None:
        try:
            self._check_belongs(target, point)
            live = self._live(target)
            recorded = point.data.get("directory")
            if recorded is None and live is not None:
                raise errors.PrecheckFailed(
                    f"restore point {point.id} holds no copy of a directory, but driver "
                    f"{self.name} now manages {live}: take a new restore point"
                )
            if recorded is not None:
                await self._precheck_directory(target, point)
            for what, command in (
                ("rollback", self.config.rollback),
                ("restart", self.config.restart),
            ):
                if command is not None:
                    self._check_executable(command, target, what=what)
        except errors.DriverError as exc:
            raise errors.PrecheckFailed(str(exc)) from exc

    async def _precheck_directory(
        self,
        target: models.Target,
        point: restore_points.RestorePoint,
    ) -> None:
        live, point_dir, manifest_sha256 = self._sealed_copy(target, point)
        try:
            await asyncio.to_thread(
                directories.verify_point, point_dir, manifest_sha256=manifest_sha256
            )
        except OSError as exc:
            raise errors.PrecheckFailed(
                f"restore point {point.id} could not be verified: {exc}"
            ) from exc
        directories.check_live_directory(live, must_exist=False)
        parent = live.parent
        if not parent.is_dir():
            raise errors.PrecheckFailed(f"{parent}, where {live.name} is restored, is missing")
        if not os.access(parent, os.W_OK | os.X_OK):
            raise errors.PrecheckFailed(
                f"{parent} is not writable by this process: {live.name} cannot be swapped there"
            )

    def _sealed_copy(
        self,
        target: models.Target,
        point: restore_points.RestorePoint,
    ) -> tuple[Path, Path, str]:
        """The live directory, the point's directory and its manifest hash, once checked."""
        recorded = point.data.get("directory")
        live = self._live(target)
        if live is None or str(live) != recorded:
            raise errors.PrecheckFailed(
                f"restore point {point.id} is a copy of {recorded}, but driver {self.name} "
                f"now manages {live}: take a new restore point"
            )
        point_dir = self.point_dir(target.id, point.id)
        expected_copy = point_dir / directories.TREE
        if point.data.get("copy") != str(expected_copy):
            raise errors.PrecheckFailed(
                f"restore point {point.id} names its copy {point.data.get('copy')}, not "
                f"{expected_copy} in this driver's state directory"
            )
        manifest_sha256 = point.data.get("manifest_sha256")
        if not isinstance(manifest_sha256, str):
            raise errors.PrecheckFailed(f"restore point {point.id} records no manifest hash")
        return live, point_dir, manifest_sha256

    def _check_belongs(self, target: models.Target, point: restore_points.RestorePoint) -> None:
        driving.require_own_point(self.name, target, point, error=errors.PrecheckFailed)

    def _check_executable(
        self, command: models.Command, target: models.Target, *, what: str
    ) -> None:
        argv = self._argv(command, target, what=what)
        path = self._env(target, key="", point_id=None, point_dir=None).get("PATH")
        if "/" in argv[0]:
            found = os.access(argv[0], os.X_OK) and Path(argv[0]).is_file()
        else:
            found = shutil.which(argv[0], path=path) is not None
        if not found:
            raise errors.PrecheckFailed(
                f"the {what} command's executable {argv[0]!r} was not found or is not executable"
            )

    # ------------------------------------------------------------------ rollback

    def rollback_steps(
        self, target: models.Target, point: restore_points.RestorePoint
    ) -> Sequence[str]:
        steps: list[str] = []
        if point.data.get("directory") is not None:
            steps.append(STEP_RESTORE)
        if self.config.rollback is not None:
            steps.append(STEP_ROLLBACK)
        if self.config.restart is not None:
            steps.append(STEP_RESTART)
        return steps

    async def rollback(
        self,
        target: models.Target,
        point: restore_points.RestorePoint,
        *,
        step: str,
        key: str,
    ) -> str:
        driving.require_step(self.name, step, self.rollback_steps(target, point), point=point.id)
        self._check_belongs(target, point)
        if step == STEP_RESTORE:
            # The whole step, lock included, lives in the worker thread: a cancelled caller
            # cannot release the lock while the thread is still moving trees.
            return await asyncio.to_thread(self._restore_step, target, point, key)
        if step == STEP_ROLLBACK and self.config.rollback is not None:
            command, what = self.config.rollback, "rollback"
        elif step == STEP_RESTART and self.config.restart is not None:
            command, what = self.config.restart, "restart"
        else:  # rollback_steps lists only configured commands; kept for the type checker
            raise errors.DriverError(f"driver {self.name} has no command for step {step!r}")
        return await self._command_step(command, target, step=step, key=key, point=point, what=what)

    def _restore_step(
        self, target: models.Target, point: restore_points.RestorePoint, key: str
    ) -> str:
        with self._journal.lock(key):
            record = self._journal.read(key, step=STEP_RESTORE)
            if record is not None:
                self._journal.log_restore_once(record)
                return str(record.get("output", ""))
            live, point_dir, manifest_sha256 = self._sealed_copy(target, point)
            try:
                manifest = directories.read_manifest(point_dir, manifest_sha256=manifest_sha256)
                directories.restore(
                    copy=point_dir / directories.TREE,
                    manifest=manifest,
                    live=live,
                    slug=self._journal.slug(key),
                    marker=self._journal.swap_marker(key),
                )
            except OSError as exc:
                raise errors.DriverError(f"restoring {live} failed: {exc}") from exc
            files = [e for e in manifest.values() if e.type == "file"]
            output = (
                f"restored {live} from restore point {point.id} "
                f"({len(files)} files, {sum(e.size or 0 for e in files)} bytes)"
            )
            record = self._record(key, step=STEP_RESTORE, target=target, point=point)
            record["output"] = output
            record["restore"] = {
                "target": target.id,
                "point": point.id,
                "key": key,
                "directory": str(live),
                "time": record["finished_at"],
            }
            self._journal.write(key, record)
            self._journal.log_restore_once(record)
            self._journal.swap_marker(key).unlink(missing_ok=True)
            return output

    # ------------------------------------------------------------------ upgrade, status

    async def upgrade(self, target: models.Target, *, key: str) -> str:
        if self.config.upgrade is None:
            raise errors.DriverError(f"driver {self.name} has no `upgrade` command configured")
        return await self._command_step(
            self.config.upgrade, target, step="upgrade", key=key, point=None, what="upgrade"
        )

    async def status(self, target: models.Target) -> Mapping[str, Any]:
        points_dir = self._points_root / target.id
        try:
            live = self._live(target)
        except errors.DriverError:
            live = None
        complete = (
            sorted(p.name for p in points_dir.iterdir() if (p / directories.COMPLETE).is_file())
            if points_dir.is_dir()
            else []
        )
        return {
            "restore_points_dir": str(points_dir),
            "directory": str(live) if live is not None else None,
            "exists": live is not None and live.is_dir(),
            "restore_points": complete,
        }

    # ------------------------------------------------------------------ paths

    def point_dir(self, target_id: str, point_id: str) -> Path:
        """Where restore point ``point_id`` of ``target_id`` lives in the state directory."""
        if not _POINT_ID.match(point_id):
            raise errors.DriverError(
                f"restore point id {point_id!r} is not usable as a directory name "
                "(letters, digits, `_.:-`, starting with a letter or digit)"
            )
        return self._points_root / target_id / point_id

    def _live(self, target: models.Target) -> Path | None:
        if self.config.directory is None:
            return None
        try:
            rendered = models.render(self.config.directory, target)
        except (KeyError, ValueError, IndexError, AttributeError) as exc:
            raise errors.DriverError(
                f"`directory` of driver {self.name} cannot be rendered for {target.id}: "
                f"unknown or invalid template variable {exc}"
            ) from exc
        return Path(rendered).absolute()

    # ------------------------------------------------------------------ commands

    async def _command_step(
        self,
        command: models.Command,
        target: models.Target,
        *,
        step: str,
        key: str,
        point: restore_points.RestorePoint | None,
        what: str,
    ) -> str:
        with self._journal.lock(key):
            record = self._journal.read(key, step=step)
            if record is not None:
                self._journal.command(key).forget()  # left by a crash after the journal write
                return str(record.get("output", ""))
            point_dir = self.point_dir(target.id, point.id) if point is not None else None
            output = await self._run(
                command,
                target,
                what=what,
                key=key,
                point_id=point.id if point is not None else None,
                point_dir=point_dir,
                durable=True,
            )
            record = self._record(key, step=step, target=target, point=point)
            record["output"] = output
            await asyncio.to_thread(self._journal.write, key, record)
            # Journaled: the supervisor's result has served its purpose.
            self._journal.command(key).forget()
            return output

    def _record(
        self,
        key: str,
        *,
        step: str,
        target: models.Target,
        point: restore_points.RestorePoint | None,
    ) -> dict[str, Any]:
        return {
            "key": key,
            "step": step,
            "driver": self.name,
            "target": target.id,
            "point": point.id if point is not None else None,
            "finished_at": time.time(),
        }

    def _argv(self, command: models.Command, target: models.Target, *, what: str) -> list[str]:
        try:
            tokens = shlex.split(command) if isinstance(command, str) else list(command)
        except ValueError as exc:
            raise errors.DriverError(f"the {what} command cannot be split: {exc}") from exc
        if not tokens:
            raise errors.DriverError(f"the {what} command is empty")
        try:
            return [models.render(token, target) for token in tokens]
        except (KeyError, ValueError, IndexError, AttributeError) as exc:
            raise errors.DriverError(
                f"the {what} command cannot be rendered for {target.id}: unknown or invalid "
                f"template variable {exc} (write literal braces as {{{{ and }}}})"
            ) from exc

    def _env(
        self,
        target: models.Target,
        *,
        key: str,
        point_id: str | None,
        point_dir: Path | None,
    ) -> dict[str, str]:
        env = {**os.environ, **self.config.env}
        env["ROLLSAFE_TARGET"] = target.id
        env["ROLLSAFE_STEP_KEY"] = key
        if point_id is not None:
            env["ROLLSAFE_POINT_ID"] = point_id
        if point_dir is not None:
            env["ROLLSAFE_POINT_DIR"] = str(point_dir)
        return env

    async def _run(
        self,
        command: models.Command,
        target: models.Target,
        *,
        what: str,
        key: str,
        point_id: str | None,
        point_dir: Path | None,
        durable: bool,
    ) -> str:
        """``_run_command`` with the values of the driver's ``env`` masked in what it returns
        or raises: a script that echoes its $DB_PASSWORD must not put it in the audit."""
        try:
            output = await self._run_command(
                command,
                target,
                what=what,
                key=key,
                point_id=point_id,
                point_dir=point_dir,
                durable=durable,
            )
        except errors.DriverError as exc:
            # ``from None``: the unmasked original must not ride along in a logged traceback.
            raise errors.DriverError(self._masked(str(exc))) from None
        return self._masked(output)

    def _masked(self, text: str) -> str:
        for value in self.config.env.values():
            if len(value) >= 4:  # masking "1" everywhere would destroy the text, not protect
                text = text.replace(value, redacting.MASK)
        return text

    async def _run_command(
        self,
        command: models.Command,
        target: models.Target,
        *,
        what: str,
        key: str,
        point_id: str | None,
        point_dir: Path | None,
        durable: bool,
    ) -> str:
        """Run one operator command to completion; its stdout tail is the step's output.

        ``durable``: a result recorded by an earlier call's supervisor is used as is, and a
        supervisor of ``key`` still running is waited for, never doubled. Otherwise (the
        checkpoint command, whose point directory is taken afresh on every call) whatever an
        earlier call left is killed and forgotten first.
        """
        argv = self._argv(command, target, what=what)
        env = self._env(target, key=key, point_id=point_id, point_dir=point_dir)
        self._output_dir.mkdir(parents=True, exist_ok=True)
        slug = self._journal.slug(f"{what}:{key}")
        stdout_path = self._output_dir / f"{slug}.stdout"
        stderr_path = self._output_dir / f"{slug}.stderr"
        files = self._journal.command(key)
        if not durable:
            await _discard(files)
        result = await self._supervised(
            argv, env=env, files=files, stdout=stdout_path, stderr=stderr_path, what=what
        )
        if result is None:
            # Ours ended and recorded nothing: its process group was killed under us.
            result = {"lost": True}
        try:
            return _outcome(result, argv=argv, what=what, stdout=stdout_path, stderr=stderr_path)
        except errors.DriverError:
            files.forget()  # a failure is not kept: the same key runs the command again
            raise
        finally:
            if not durable:
                files.forget()

    async def _supervised(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str],
        files: _CommandFiles,
        stdout: Path,
        stderr: Path,
        what: str,
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
                    result = await self._finish(supervisor, files=files, argv=argv, what=what)
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
        self,
        supervisor: _Supervisor,
        *,
        files: _CommandFiles,
        argv: Sequence[str],
        what: str,
    ) -> dict[str, Any] | None:
        """Wait for the supervisor within the step timeout; the result it recorded, if any."""
        timeout = self.config.step_timeout
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


# --------------------------------------------------------------------------- helpers


def step_slug(key: str) -> str:
    """The file-name-safe, collision-free form of a step key used in journal and tree names.

    ``<state_dir>/driver-journal/<slug>.done`` records the step; a restore parks the previous
    tree at ``<parent>/.rollsafe-old-<slug>`` (see ``directories.swap_paths``).
    """
    readable = re.sub(r"[^A-Za-z0-9_.-]+", "_", key)[:64]
    return f"{readable}-{hashlib.sha256(key.encode()).hexdigest()[:12]}"


class _Journal:
    """Per-key records of finished steps, and the log of effective restores."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @staticmethod
    def slug(key: str) -> str:
        return step_slug(key)

    def done_path(self, key: str) -> Path:
        return self.root / f"{self.slug(key)}.done"

    def swap_marker(self, key: str) -> Path:
        return self.root / f"{self.slug(key)}.swap"

    def command(self, key: str) -> _CommandFiles:
        return _CommandFiles(self.root, self.slug(key))

    def read(self, key: str, *, step: str) -> dict[str, Any] | None:
        path = self.done_path(key)
        if not path.exists():
            return None
        record: dict[str, Any] = json.loads(path.read_bytes())
        if record.get("step") != step:
            raise errors.DriverError(
                f"step key {key!r} was already used for step {record.get('step')!r}, not {step!r}"
            )
        return record

    def write(self, key: str, record: Mapping[str, Any]) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        directories.write_atomic(self.done_path(key), json.dumps(record, sort_keys=True).encode())

    @contextlib.contextmanager
    def lock(self, key: str) -> Iterator[None]:
        """Exclusive use of ``key`` across threads and processes, or DriverTemporaryError."""
        self.root.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.root / f"{self.slug(key)}.lock", os.O_CREAT | os.O_RDWR, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError as exc:
                raise errors.DriverTemporaryError(
                    f"step key {key!r} is being run right now by another worker",
                    retry_after=5.0,
                ) from exc
            yield
        finally:
            os.close(fd)  # closing releases the lock

    def log_restore_once(self, record: Mapping[str, Any]) -> None:
        """Append the restore's line to ``restores.log`` unless it is there already.

        Called after the ``.done`` record is written, and again whenever that record is
        found: a crash between the two writes is repaired, and the line is never doubled.
        """
        entry = record.get("restore")
        if not isinstance(entry, Mapping):
            return
        path = self.root / RESTORES_LOG
        existing = path.read_bytes() if path.exists() else b""
        for line in existing.splitlines():
            with contextlib.suppress(ValueError):
                if json.loads(line).get("key") == entry["key"]:
                    return
        line = json.dumps(dict(entry), sort_keys=True).encode() + b"\n"
        if existing and not existing.endswith(b"\n"):
            line = b"\n" + line  # a torn earlier append must not swallow this line
        with path.open("ab") as f:
            f.write(line)
            f.flush()
            os.fsync(f.fileno())


class _CommandFiles:
    """What the supervisor of one step key leaves in the journal (see ``local_supervisor``)."""

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
        ticks = local_supervisor.start_ticks(pgid)
        if ticks is not None and ticks != record.get("pgid_start_ticks"):
            return  # the pid now names another process: the group is not ours any more
        _signal_group(pgid, signal.SIGKILL)

    def forget(self) -> None:
        self._proc.unlink(missing_ok=True)
        self._result.unlink(missing_ok=True)


class _Supervisor:
    """A live supervisor (see ``local_supervisor``), watched through a pidfd where possible."""

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
            while local_supervisor.start_ticks(self.pid) == self._start_ticks:  # noqa: ASYNC110
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
    files: _CommandFiles,
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
        tail = _tail(stderr)
        raise errors.DriverError(
            f"the {what} command {argv[0]!r} could not start: its supervisor exited with "
            f"code {returncode}" + (f"; last lines of stderr:\n{tail}" if tail else "")
        )


async def _adopt(files: _CommandFiles) -> _Supervisor | None:
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
            if ticks is not None and local_supervisor.start_ticks(pid) == ticks:
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


async def _kill(files: _CommandFiles) -> None:
    """Kill any live supervisor of ``files`` with its command's whole process group."""
    while files.busy():
        supervisor = await _adopt(files)
        if supervisor is not None:
            _signal_group(supervisor.pgid, signal.SIGKILL)
            try:
                await supervisor.wait()
            finally:
                supervisor.close()


async def _discard(files: _CommandFiles) -> None:
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
            return _tail(stdout)
        how = _killed_by(-returncode) if returncode < 0 else f"failed with exit code {returncode}"
    tail = _tail(stderr)
    raise errors.DriverError(
        f"the {what} command {argv[0]!r} {how}"
        + (f"; last lines of stderr:\n{tail}" if tail else "")
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


def _fresh_directory(path: Path) -> None:
    directories.remove_tree(path)
    path.mkdir(parents=True)


def _tail(path: Path) -> str:
    with path.open("rb") as f:
        f.seek(0, os.SEEK_END)
        size = f.tell()
        f.seek(max(0, size - _TAIL_BYTES))
        text = f.read().decode(errors="replace")
    return "\n".join(text.strip().splitlines()[-_TAIL_LINES:])


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)
