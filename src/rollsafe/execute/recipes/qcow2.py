"""The qcow2 recipe: an internal snapshot of a stopped VM's disk image, applied back.

Role in the loop (execute): the host is a hypervisor and the target a VM whose disk is one
qcow2 file. ``qemu-img snapshot`` must never touch an image a running QEMU holds, so every
write is preceded by ``qemu-img info`` *without* ``--force-share``: QEMU's image lock makes
it fail while the VM runs, which is the proof the image is free. The checkpoint stops the VM
(``stop``), snapshots, and starts it again even when the snapshot failed. Rollback: "stop",
"apply" (``qemu-img snapshot -a``, then ``qemu-img check``), "start". Verify, kept cheap
because images are large: the snapshot still exists, the virtual size is the recorded one and,
when the image is not in use, ``qemu-img check`` finds no corruption.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from typing import Any

from rollsafe.config import models
from rollsafe.domain import errors
from rollsafe.execute.recipes import parsing, rebooting, recipes
from rollsafe.reach.transports import transporting

_CHECK_CORRUPT = 2  # qemu-img check: 0 clean, 2 corrupt, 3 leaked clusters only (harmless)


def render_command(command: models.Command, target: models.Target, *, what: str) -> str:
    """The shell text of a user's command: a string is their own shell line; a list is argv."""
    try:
        if isinstance(command, str):
            return models.render(command, target)
        return shlex.join(models.render(token, target) for token in command)
    except (KeyError, ValueError, IndexError, AttributeError) as exc:
        raise errors.DriverError(
            f"the {what} command cannot be rendered for {target.id}: unknown or invalid "
            f"template variable {exc}"
        ) from exc


class Qcow2Recipe:
    kind = "qcow2"

    def __init__(self, config: models.Qcow2Recipe, *, poll_interval: float = 2.0) -> None:
        self.config = config
        self._poll = poll_interval

    def _image(self, target: models.Target) -> str:
        return render_command(self.config.image, target, what="image path")

    async def _in_use(
        self, transport: transporting.Transport, target: models.Target, *, limit_s: float
    ) -> str | None:
        """QEMU's complaint when the image is locked by a running VM, None when it is free."""
        script = parsing.quote_all(["qemu-img", "info", "--output", "json", self._image(target)])
        result = await transport.run(target, script, limit_s=limit_s)
        if result.ok:
            return None
        if "lock" in result.stderr.lower():
            return parsing.tail(result.stderr, lines=2)
        parsing.require_ok(result, what="qemu-img info")  # any other failure is an error
        return None

    async def _info(
        self, transport: transporting.Transport, target: models.Target, *, limit_s: float
    ) -> parsing.ImageInfo:
        script = parsing.quote_all(
            ["qemu-img", "info", "--force-share", "--output", "json", self._image(target)]
        )
        result = await transport.run(target, script, limit_s=limit_s)
        return parsing.parse_qemu_img_info(parsing.require_complete(result, what="qemu-img info"))

    async def _run_user(
        self,
        transport: transporting.Transport,
        target: models.Target,
        command: models.Command,
        *,
        what: str,
        limit_s: float,
    ) -> None:
        result = await transport.run(
            target, render_command(command, target, what=what), limit_s=limit_s
        )
        parsing.require_ok(result, what=f"the {what} command")

    async def _stop(
        self, transport: transporting.Transport, target: models.Target, *, limit_s: float
    ) -> str:
        if await self._in_use(transport, target, limit_s=limit_s) is None:
            return "the image is not in use: the VM is already stopped"
        if self.config.stop is None:
            raise errors.DriverError(
                f"{self._image(target)} is in use by a running VM and no `stop` command is set"
            )
        await self._run_user(transport, target, self.config.stop, what="stop", limit_s=limit_s)

        # `virsh shutdown` and friends return before QEMU exits; wait for the lock to go.
        async def free() -> bool:
            return await self._in_use(transport, target, limit_s=limit_s) is None

        await rebooting.poll_until(
            free,
            timeout_s=limit_s,
            poll_interval=self._poll,
            what=f"the VM to release {self._image(target)}",
        )
        return "the VM was stopped"

    async def _start(
        self, transport: transporting.Transport, target: models.Target, *, limit_s: float
    ) -> str:
        if self.config.start is None:
            return "no `start` command is set"
        if await self._in_use(transport, target, limit_s=limit_s) is not None:
            return "the image is in use: the VM is already running"
        await self._run_user(transport, target, self.config.start, what="start", limit_s=limit_s)
        return "the VM was started"

    async def checkpoint(
        self,
        transport: transporting.Transport,
        target: models.Target,
        *,
        point_id: str,
        limit_s: float,
    ) -> Mapping[str, Any]:
        tag = parsing.snapshot_name(point_id)
        image = self._image(target)
        stopped = await self._stop(transport, target, limit_s=limit_s)
        try:
            info = await self._info(transport, target, limit_s=limit_s)
            if tag not in info.snapshots:
                script = parsing.quote_all(["qemu-img", "snapshot", "-c", tag, image])
                result = await transport.run(target, script, limit_s=limit_s)
                parsing.require_ok(result, what="qemu-img snapshot -c")
        finally:
            # A VM stopped for the checkpoint runs again whatever happened to the snapshot.
            if stopped == "the VM was stopped":
                await self._start(transport, target, limit_s=limit_s)
        return {
            "image": image,
            "tag": tag,
            "virtual_size": info.virtual_size,
            "point_id": point_id,
        }

    async def precheck(
        self,
        transport: transporting.Transport,
        target: models.Target,
        data: Mapping[str, Any],
        *,
        limit_s: float,
    ) -> None:
        info = await self._info(transport, target, limit_s=limit_s)
        if str(data["tag"]) not in info.snapshots:
            raise errors.PrecheckFailed(f"snapshot {data['tag']} is no longer in {data['image']}")

    def rollback_steps(self, data: Mapping[str, Any]) -> Sequence[str]:
        return ["stop", "apply", "start"]

    async def rollback(
        self,
        transport: transporting.Transport,
        target: models.Target,
        data: Mapping[str, Any],
        *,
        step: str,
        limit_s: float,
    ) -> str:
        if step == "stop":
            return await self._stop(transport, target, limit_s=limit_s)
        if step == "apply":
            return await self._apply(transport, target, data, limit_s=limit_s)
        if step == "start":
            return await self._start(transport, target, limit_s=limit_s)
        raise errors.DriverError(f"qcow2 recipe has no step {step!r}")

    async def _apply(
        self,
        transport: transporting.Transport,
        target: models.Target,
        data: Mapping[str, Any],
        *,
        limit_s: float,
    ) -> str:
        image, tag = str(data["image"]), str(data["tag"])
        locked = await self._in_use(transport, target, limit_s=limit_s)
        if locked is not None:
            raise errors.DriverError(f"refusing to apply {tag}: {image} is in use ({locked})")
        # Applying is naturally idempotent while the VM stays stopped: a repeat reverts the
        # image to the same snapshot again, and no guest has written in between.
        script = parsing.quote_all(["qemu-img", "snapshot", "-a", tag, image])
        result = await transport.run(target, script, limit_s=limit_s)
        parsing.require_ok(result, what="qemu-img snapshot -a")
        check = await transport.run(
            target, parsing.quote_all(["qemu-img", "check", image]), limit_s=limit_s
        )
        if check.exit_status in (1, _CHECK_CORRUPT):  # 1: check could not run
            parsing.require_ok(check, what="qemu-img check after applying the snapshot")
        return f"{image} is back at snapshot {tag}"

    async def verify(
        self,
        transport: transporting.Transport,
        target: models.Target,
        data: Mapping[str, Any],
        *,
        limit_s: float,
    ) -> str:
        image, tag = str(data["image"]), str(data["tag"])
        info = await self._info(transport, target, limit_s=limit_s)
        if tag not in info.snapshots:
            raise errors.VerificationFailed(f"snapshot {tag} is missing from {image}")
        if info.virtual_size != int(data["virtual_size"]):
            raise errors.VerificationFailed(
                f"{image} is {info.virtual_size} bytes, the restore point had "
                f"{data['virtual_size']}"
            )
        if await self._in_use(transport, target, limit_s=limit_s) is not None:
            return f"{image} has snapshot {tag} and its size; in use, so not checked further"
        check = await transport.run(
            target, parsing.quote_all(["qemu-img", "check", image]), limit_s=limit_s
        )
        if check.exit_status not in (0, 3):
            raise errors.VerificationFailed(
                f"qemu-img check of {image} failed ({check.exit_status}): "
                f"{parsing.tail(check.stderr or check.stdout, lines=3)}"
            )
        return f"{image} has snapshot {tag}, its size, and a clean qemu-img check"

    async def delete(
        self,
        transport: transporting.Transport,
        target: models.Target,
        data: Mapping[str, Any],
        *,
        limit_s: float,
    ) -> str:
        """``qemu-img snapshot -d`` while the VM is stopped; a running VM keeps the snapshot.

        Pruning never stops a VM: an image in use is a temporary refusal, tried again at the
        next prune.
        """
        image, tag = str(data["image"]), str(data["tag"])
        info = await self._info(transport, target, limit_s=limit_s)
        if tag not in info.snapshots:
            return f"snapshot {tag} already gone from {image}"
        locked = await self._in_use(transport, target, limit_s=limit_s)
        if locked is not None:
            raise errors.DriverTemporaryError(
                f"snapshot {tag} kept: {image} is in use by a running VM ({locked})",
                retry_after=3600.0,
            )
        script = parsing.quote_all(["qemu-img", "snapshot", "-d", tag, image])
        result = await transport.run(target, script, limit_s=limit_s)
        parsing.require_ok(result, what="qemu-img snapshot -d")
        return f"deleted snapshot {tag} from {image}"


def make(config: models.Qcow2Recipe, *, poll_interval: float = 2.0) -> Qcow2Recipe:
    return Qcow2Recipe(config, poll_interval=poll_interval)


_IMPLEMENTS: recipes.Recipe = Qcow2Recipe(models.Qcow2Recipe(kind="qcow2", image="/x.qcow2"))
