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

from collections.abc import Mapping
from typing import Any

from rollsafe.config import models
from rollsafe.domain import errors
from rollsafe.execute import commands
from rollsafe.execute.recipes import parsing, rebooting, recipes

_CHECK_CORRUPT = 2  # qemu-img check: 0 clean, 2 corrupt, 3 leaked clusters only (harmless)


class Qcow2Recipe(recipes.Stepped):
    kind = "qcow2"

    def __init__(self, config: models.Qcow2Recipe, *, poll_interval: float = 2.0) -> None:
        self.config = config
        self._poll = poll_interval

    def _image(self, target: models.Target) -> str:
        return commands.shell_text(self.config.image, target, what="image path")

    async def _in_use(self, host: recipes.Host, *, limit_s: float) -> str | None:
        """QEMU's complaint when the image is locked by a running VM, None when it is free."""
        script = parsing.quote_all(
            ["qemu-img", "info", "--output", "json", self._image(host.target)]
        )
        result = await host.run(script, limit_s=limit_s)
        if result.ok:
            return None
        if "lock" in result.stderr.lower():
            return parsing.tail(result.stderr, lines=2)
        parsing.require_ok(result, what="qemu-img info")  # any other failure is an error
        return None

    async def _info(self, host: recipes.Host, *, limit_s: float) -> parsing.ImageInfo:
        script = parsing.quote_all(
            ["qemu-img", "info", "--force-share", "--output", "json", self._image(host.target)]
        )
        result = await host.run(script, limit_s=limit_s)
        return parsing.parse_qemu_img_info(parsing.require_complete(result, what="qemu-img info"))

    async def _run_user(
        self, host: recipes.Host, command: models.Command, *, what: str, limit_s: float
    ) -> None:
        script = commands.shell_text(command, host.target, what=what)
        parsing.require_ok(await host.run(script, limit_s=limit_s), what=f"the {what} command")

    # Stopping and starting read the VM's state from the host, not from the point: ``data``
    # is taken so that both serve as rollback steps, and may be left out.

    async def _stop(
        self, host: recipes.Host, data: Mapping[str, Any] | None = None, *, limit_s: float
    ) -> str:
        if await self._in_use(host, limit_s=limit_s) is None:
            return "the image is not in use: the VM is already stopped"
        if self.config.stop is None:
            raise errors.DriverError(
                f"{self._image(host.target)} is in use by a running VM and no `stop` command is set"
            )
        await self._run_user(host, self.config.stop, what="stop", limit_s=limit_s)

        # `virsh shutdown` and friends return before QEMU exits; wait for the lock to go.
        async def free() -> bool:
            return await self._in_use(host, limit_s=limit_s) is None

        await rebooting.poll_until(
            free,
            timeout_s=limit_s,
            poll_interval=self._poll,
            what=f"the VM to release {self._image(host.target)}",
        )
        return "the VM was stopped"

    async def _start(
        self, host: recipes.Host, data: Mapping[str, Any] | None = None, *, limit_s: float
    ) -> str:
        if self.config.start is None:
            return "no `start` command is set"
        if await self._in_use(host, limit_s=limit_s) is not None:
            return "the image is in use: the VM is already running"
        await self._run_user(host, self.config.start, what="start", limit_s=limit_s)
        return "the VM was started"

    async def checkpoint(
        self, host: recipes.Host, *, point_id: str, limit_s: float
    ) -> Mapping[str, Any]:
        tag = parsing.snapshot_name(point_id)
        image = self._image(host.target)
        stopped = await self._stop(host, limit_s=limit_s)
        try:
            info = await self._info(host, limit_s=limit_s)
            if tag not in info.snapshots:
                script = parsing.quote_all(["qemu-img", "snapshot", "-c", tag, image])
                result = await host.run(script, limit_s=limit_s)
                parsing.require_ok(result, what="qemu-img snapshot -c")
        finally:
            # A VM stopped for the checkpoint runs again whatever happened to the snapshot.
            if stopped == "the VM was stopped":
                await self._start(host, limit_s=limit_s)
        return {
            "image": image,
            "tag": tag,
            "virtual_size": info.virtual_size,
            "point_id": point_id,
        }

    async def precheck(
        self, host: recipes.Host, data: Mapping[str, Any], *, limit_s: float
    ) -> None:
        info = await self._info(host, limit_s=limit_s)
        if str(data["tag"]) not in info.snapshots:
            raise errors.PrecheckFailed(f"snapshot {data['tag']} is no longer in {data['image']}")

    def steps(self, data: Mapping[str, Any]) -> Mapping[str, recipes.Step]:
        return {"stop": self._stop, "apply": self._apply, "start": self._start}

    async def _apply(self, host: recipes.Host, data: Mapping[str, Any], *, limit_s: float) -> str:
        image, tag = str(data["image"]), str(data["tag"])
        locked = await self._in_use(host, limit_s=limit_s)
        if locked is not None:
            raise errors.DriverError(f"refusing to apply {tag}: {image} is in use ({locked})")
        # Applying is naturally idempotent while the VM stays stopped: a repeat reverts the
        # image to the same snapshot again, and no guest has written in between.
        script = parsing.quote_all(["qemu-img", "snapshot", "-a", tag, image])
        result = await host.run(script, limit_s=limit_s)
        parsing.require_ok(result, what="qemu-img snapshot -a")
        check = await host.run(parsing.quote_all(["qemu-img", "check", image]), limit_s=limit_s)
        if check.exit_status in (1, _CHECK_CORRUPT):  # 1: check could not run
            parsing.require_ok(check, what="qemu-img check after applying the snapshot")
        return f"{image} is back at snapshot {tag}"

    async def verify(self, host: recipes.Host, data: Mapping[str, Any], *, limit_s: float) -> str:
        image, tag = str(data["image"]), str(data["tag"])
        info = await self._info(host, limit_s=limit_s)
        if tag not in info.snapshots:
            raise errors.VerificationFailed(f"snapshot {tag} is missing from {image}")
        if info.virtual_size != int(data["virtual_size"]):
            raise errors.VerificationFailed(
                f"{image} is {info.virtual_size} bytes, the restore point had "
                f"{data['virtual_size']}"
            )
        if await self._in_use(host, limit_s=limit_s) is not None:
            return f"{image} has snapshot {tag} and its size; in use, so not checked further"
        check = await host.run(parsing.quote_all(["qemu-img", "check", image]), limit_s=limit_s)
        if check.exit_status not in (0, 3):
            raise errors.VerificationFailed(
                f"qemu-img check of {image} failed ({check.exit_status}): "
                f"{parsing.tail(check.stderr or check.stdout, lines=3)}"
            )
        return f"{image} has snapshot {tag}, its size, and a clean qemu-img check"

    async def delete(self, host: recipes.Host, data: Mapping[str, Any], *, limit_s: float) -> str:
        """``qemu-img snapshot -d`` while the VM is stopped; a running VM keeps the snapshot.

        Pruning never stops a VM: an image in use is a temporary refusal, tried again at the
        next prune.
        """
        image, tag = str(data["image"]), str(data["tag"])
        info = await self._info(host, limit_s=limit_s)
        if tag not in info.snapshots:
            return f"snapshot {tag} already gone from {image}"
        locked = await self._in_use(host, limit_s=limit_s)
        if locked is not None:
            raise errors.DriverTemporaryError(
                f"snapshot {tag} kept: {image} is in use by a running VM ({locked})",
                retry_after=3600.0,
            )
        script = parsing.quote_all(["qemu-img", "snapshot", "-d", tag, image])
        result = await host.run(script, limit_s=limit_s)
        parsing.require_ok(result, what="qemu-img snapshot -d")
        return f"deleted snapshot {tag} from {image}"


def make(config: models.Qcow2Recipe, *, poll_interval: float = 2.0) -> Qcow2Recipe:
    return Qcow2Recipe(config, poll_interval=poll_interval)


_IMPLEMENTS: recipes.Recipe = Qcow2Recipe(models.Qcow2Recipe(kind="qcow2", image="/x.qcow2"))
