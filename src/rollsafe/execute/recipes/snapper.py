"""The snapper recipe: a ``pre`` snapshot before the upgrade, undone or booted back into.

Role in the loop (execute): the restore point is the snapshot number snapper printed. Mode
``undochange`` reverts the changed files in place (``snapper undochange N..0``) and proves it
with an empty ``snapper status N..0``. Mode ``rollback`` makes a writable copy of snapshot N
the default subvolume (``snapper --no-dbus rollback N``), reboots and waits for the host, and
proves the host runs on that copy: snapper describes it as "writable copy of #N", which is
also how a repeated step sees its work already done. With ``no_dbus`` every command runs
``snapper --no-dbus`` (root, no snapperd needed).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rollsafe.config import models
from rollsafe.domain import errors
from rollsafe.execute.recipes import parsing, rebooting, recipes
from rollsafe.reach.transports import transporting


class SnapperRecipe:
    kind = "snapper"

    def __init__(self, config: models.SnapperRecipe, *, poll_interval: float = 5.0) -> None:
        self.config = config
        self._poll = poll_interval

    def _snapper(self, *args: str, no_dbus: bool = False) -> str:
        # ``--no-dbus`` makes snapper work on the file system itself instead of asking
        # snapperd over D-Bus: for root on hosts without a system bus (containers, rescue
        # shells). It goes before the subcommand, as snapper wants its global options.
        flags = ["--no-dbus"] if no_dbus or self.config.no_dbus else []
        return parsing.quote_all(["snapper", *flags, "-c", self.config.config, *args])

    async def _list(
        self, transport: transporting.Transport, target: models.Target, *, limit_s: float
    ) -> list[parsing.SnapperSnapshot]:
        result = await transport.run(target, self._snapper("list"), limit_s=limit_s)
        return parsing.parse_snapper_list(parsing.require_complete(result, what="snapper list"))

    async def checkpoint(
        self,
        transport: transporting.Transport,
        target: models.Target,
        *,
        point_id: str,
        limit_s: float,
    ) -> Mapping[str, Any]:
        description = f"rollsafe {point_id}"
        # A repeated checkpoint (controller restarted) finds the snapshot it already made.
        existing = await self._list(transport, target, limit_s=limit_s)
        number = next((s.number for s in existing if s.description == description), None)
        if number is None:
            script = self._snapper(
                "create",
                "--type",
                "pre",
                "--print-number",
                "--cleanup-algorithm",
                "number",
                "--description",
                description,
            )
            result = await transport.run(target, script, limit_s=limit_s)
            out = parsing.require_ok(result, what="snapper create")
            number = parsing.parse_print_number(out, what="snapper create")
        data: dict[str, Any] = {
            "config": self.config.config,
            "number": number,
            "mode": self.config.mode,
            "point_id": point_id,
        }
        if self.config.mode == "rollback":
            data["boot_id"] = await rebooting.read_boot_id(transport, target, limit_s=limit_s)
        return data

    async def precheck(
        self,
        transport: transporting.Transport,
        target: models.Target,
        data: Mapping[str, Any],
        *,
        limit_s: float,
    ) -> None:
        number = int(data["number"])
        found = await self._list(transport, target, limit_s=limit_s)
        if not any(s.number == number for s in found):
            raise errors.PrecheckFailed(
                f"snapper snapshot {number} of config {self.config.config!r} no longer exists"
            )

    def rollback_steps(self, data: Mapping[str, Any]) -> Sequence[str]:
        if data.get("mode", self.config.mode) == "rollback":
            return ["rollback", "reboot", "wait"]
        return ["undo"]

    async def _changes(
        self, transport: transporting.Transport, target: models.Target, number: int, limit_s: float
    ) -> str:
        result = await transport.run(
            target, self._snapper("status", f"{number}..0"), limit_s=limit_s
        )
        return parsing.require_ok(result, what="snapper status").strip()

    def _copy(
        self, snapshots: list[parsing.SnapperSnapshot], number: int
    ) -> parsing.SnapperSnapshot | None:
        wanted = parsing.snapper_rollback_description(number)
        copies = [s for s in snapshots if s.description == wanted]
        return max(copies, key=lambda s: s.number) if copies else None

    async def rollback(
        self,
        transport: transporting.Transport,
        target: models.Target,
        data: Mapping[str, Any],
        *,
        step: str,
        limit_s: float,
    ) -> str:
        number = int(data["number"])
        if step == "undo":
            if not await self._changes(transport, target, number, limit_s):
                return f"nothing changed since snapshot {number}: already undone"
            result = await transport.run(
                target, self._snapper("undochange", f"{number}..0"), limit_s=limit_s
            )
            parsing.require_ok(result, what="snapper undochange")
            return f"undid the changes made since snapshot {number}"
        if step == "rollback":
            copy = self._copy(await self._list(transport, target, limit_s=limit_s), number)
            if copy is not None and copy.default:
                return f"snapshot {copy.number} (writable copy of {number}) is already the default"
            script = self._snapper("rollback", str(number), no_dbus=True)
            result = await transport.run(target, script, limit_s=limit_s)
            out = parsing.require_ok(result, what="snapper rollback")
            new_default = parsing.parse_snapper_rollback(out)
            shown = new_default if new_default is not None else "?"
            return f"snapshot {shown} (writable copy of {number}) is the new default"
        if step == "reboot":
            copy = self._copy(await self._list(transport, target, limit_s=limit_s), number)
            if copy is not None and copy.active:
                return f"already running on snapshot {copy.number}; no reboot needed"
            return await rebooting.reboot(
                transport, target, point_id=str(data["point_id"]), limit_s=limit_s
            )
        if step == "wait":
            return await rebooting.wait_for_new_boot(
                transport,
                target,
                point_id=str(data["point_id"]),
                timeout_s=self.config.reboot_timeout,
                poll_interval=self._poll,
            )
        raise errors.DriverError(f"snapper recipe has no step {step!r}")

    async def verify(
        self,
        transport: transporting.Transport,
        target: models.Target,
        data: Mapping[str, Any],
        *,
        limit_s: float,
    ) -> str:
        number = int(data["number"])
        if data.get("mode", self.config.mode) == "undochange":
            changes = await self._changes(transport, target, number, limit_s)
            if changes:
                raise errors.VerificationFailed(
                    f"files still differ from snapshot {number}: {parsing.tail(changes, lines=5)}"
                )
            return f"no file differs from snapshot {number}"
        copy = self._copy(await self._list(transport, target, limit_s=limit_s), number)
        if copy is None or not (copy.active and copy.default):
            raise errors.VerificationFailed(
                f"the host does not run on a writable copy of snapshot {number}"
                + ("" if copy is None else f" (snapshot {copy.number} exists but is not active)")
            )
        return f"running on snapshot {copy.number}, the writable copy of {number}"

    async def delete(
        self,
        transport: transporting.Transport,
        target: models.Target,
        data: Mapping[str, Any],
        *,
        limit_s: float,
    ) -> str:
        """``snapper delete N``, only when snapshot N is still the one rollsafe made."""
        number = int(data["number"])
        found = {s.number: s for s in await self._list(transport, target, limit_s=limit_s)}
        snapshot = found.get(number)
        if snapshot is None:
            return f"snapper snapshot {number} already gone"
        if snapshot.description != f"rollsafe {data['point_id']}":
            return (
                f"snapper snapshot {number} is now {snapshot.description!r}, not this "
                "restore point's: ours is gone, that one is left alone"
            )
        if snapshot.default or snapshot.active:
            raise errors.DriverError(
                f"snapper snapshot {number} is the default or mounted subvolume: not deleted"
            )
        result = await transport.run(target, self._snapper("delete", str(number)), limit_s=limit_s)
        parsing.require_ok(result, what="snapper delete")
        return f"deleted snapper snapshot {number}"


def make(config: models.SnapperRecipe, *, poll_interval: float = 5.0) -> SnapperRecipe:
    return SnapperRecipe(config, poll_interval=poll_interval)


_IMPLEMENTS: recipes.Recipe = SnapperRecipe(models.SnapperRecipe(kind="snapper"))
