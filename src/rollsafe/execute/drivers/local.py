"""The local driver: hosts managed on this machine by a directory restore point and commands.

Role in the loop (execute): ``checkpoint`` copies the target's ``directory`` (the built-in
restore point, see ``directories``) and runs the optional checkpoint command; ``precheck``
proves the copy is intact byte for byte before a rollback may start; ``rollback`` restores
the directory, runs the rollback command and restarts the service, one step at a time.

Idempotency: every step with a key writes ``<state_dir>/driver-journal/<slug>.done`` after
its effect, atomically; a call whose key is already journaled returns the recorded output
and does nothing. A restore's swap is itself resumable (``directories.restore``). A command
runs under a supervisor (``execute.supervising``) that outlives a SIGKILLed controller and
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
import json
import os
import re
import shutil
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rollsafe.audit import redacting
from rollsafe.config import models
from rollsafe.domain import errors, restore_points
from rollsafe.execute import commands, driving, journals, supervising
from rollsafe.execute.drivers import directories

STEP_RESTORE = "restore-directory"
STEP_ROLLBACK = "run-rollback-command"
STEP_RESTART = "restart"
RESTORES_LOG = "restores.log"

_POINT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")


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
        return driving.point_taken(self.name, target, point_id=point_id, label=label, data=data)

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
        argv = commands.argv(command, target, what=what)
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
        with self._journal.lease(key):
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
                    slug=journals.slug(key),
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

    # ------------------------------------------------------------------ retention

    async def delete(self, target: models.Target, point: restore_points.RestorePoint) -> str:
        """Remove the point's copy from the state directory; a copy already gone is success."""
        driving.require_own_point(self.name, target, point)
        point_dir = self.point_dir(target.id, point.id)

        def remove() -> bool:
            if not os.path.lexists(point_dir):
                return False
            # The completion marker goes first: a removal cut short leaves a copy that no
            # precheck accepts, never one that looks whole with files missing.
            with contextlib.suppress(FileNotFoundError):
                (point_dir / directories.COMPLETE).unlink()
            directories.remove_tree(point_dir)
            return True

        try:
            removed = await asyncio.shield(asyncio.to_thread(remove))
        except OSError as exc:
            raise errors.DriverError(
                f"restore point {point.id} of {target.id} could not be deleted: {exc}"
            ) from exc
        return f"removed {point_dir}" if removed else f"{point_dir} already gone"

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
        point_dir = self.point_dir(target.id, point.id) if point is not None else None
        return await supervising.journaled(
            self._journal,
            key,
            lambda: self._run(
                command,
                target,
                what=what,
                key=key,
                point_id=point.id if point is not None else None,
                point_dir=point_dir,
                durable=True,
            ),
            step=step,
            record={"driver": self.name, "target": target.id, "point": point.id if point else None},
        )

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
        """Run one operator command under the supervisor; its stdout tail is the output.

        ``durable``: a result recorded by an earlier call's supervisor is used as is, and a
        supervisor of ``key`` still running is waited for, never doubled. Otherwise (the
        checkpoint command, whose point directory is taken afresh on every call) whatever an
        earlier call left is killed and forgotten first. The values of the driver's ``env``
        are masked in what it returns or raises: a script that echoes its $DB_PASSWORD must
        not put it in the audit.
        """
        slug = journals.slug(f"{what}:{key}")
        try:
            output = await supervising.run(
                commands.argv(command, target, what=what),
                env=self._env(target, key=key, point_id=point_id, point_dir=point_dir),
                journal=self._journal.root,
                key=key,
                stdout=self._output_dir / f"{slug}.stdout",
                stderr=self._output_dir / f"{slug}.stderr",
                what=what,
                limit_s=self.config.step_timeout,
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


# --------------------------------------------------------------------------- helpers


def step_slug(key: str) -> str:
    """The file-name-safe, collision-free form of a step key used in journal and tree names.

    ``<state_dir>/driver-journal/<slug>.done`` records the step; a restore parks the previous
    tree at ``<parent>/.rollsafe-old-<slug>`` (see ``directories.swap_paths``).
    """
    return journals.slug(key)


class _Journal(journals.StepJournal):
    """The step journal, plus the restore's swap marker and the log of effective restores."""

    def __init__(self, root: Path) -> None:
        super().__init__(root, suffix=".done")

    def swap_marker(self, key: str) -> Path:
        return self.root / f"{journals.slug(key)}.swap"

    def command(self, key: str) -> supervising.CommandFiles:
        return supervising.CommandFiles(self.root, journals.slug(key))

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


def _fresh_directory(path: Path) -> None:
    directories.remove_tree(path)
    path.mkdir(parents=True)
