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

from collections.abc import Mapping
from typing import Any

from rollsafe.config import models
from rollsafe.domain import errors
from rollsafe.execute.recipes import parsing, rebooting, recipes


class SnapperRecipe(recipes.Stepped):
    kind = "snapper"

    def __init__(self, config: models.SnapperRecipe, *, poll_interval: float = 5.0) -> None:
        self.config = config
        self._wait = rebooting.wait_step(
            timeout_s=config.reboot_timeout, poll_interval=poll_interval
        )

    def _snapper(self, *args: str, no_dbus: bool = False) -> str:
        # ``--no-dbus`` makes snapper work on the file system itself instead of asking
        # snapperd over D-Bus: for root on hosts without a system bus (containers, rescue
        # shells). It goes before the subcommand, as snapper wants its global options.
        flags = ["--no-dbus"] if no_dbus or self.config.no_dbus else []
        return parsing.quote_all(["snapper", *flags, "-c", self.config.config, *args])

    async def _list(self, host: recipes.Host, *, limit_s: float) -> list[parsing.SnapperSnapshot]:
        result = await host.run(self._snapper("list"), limit_s=limit_s)
        return parsing.parse_snapper_list(parsing.require_complete(result, what="snapper list"))

    async def checkpoint(
        self, host: recipes.Host, *, point_id: str, limit_s: float
    ) -> Mapping[str, Any]:
        description = f"rollsafe {point_id}"
        # A repeated checkpoint (controller restarted) finds the snapshot it already made.
        existing = await self._list(host, limit_s=limit_s)
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
            out = parsing.require_ok(await host.run(script, limit_s=limit_s), what="snapper create")
            number = parsing.parse_print_number(out, what="snapper create")
        data: dict[str, Any] = {
            "config": self.config.config,
            "number": number,
            "mode": self.config.mode,
            "point_id": point_id,
        }
        if self.config.mode == "rollback":
            data["boot_id"] = await rebooting.read_boot_id(host, limit_s=limit_s)
        return data

    async def precheck(
        self, host: recipes.Host, data: Mapping[str, Any], *, limit_s: float
    ) -> None:
        number = int(data["number"])
        if not any(s.number == number for s in await self._list(host, limit_s=limit_s)):
            raise errors.PrecheckFailed(
                f"snapper snapshot {number} of config {self.config.config!r} no longer exists"
            )

    def steps(self, data: Mapping[str, Any]) -> Mapping[str, recipes.Step]:
        if data.get("mode", self.config.mode) == "rollback":
            return {"rollback": self._rollback, "reboot": self._reboot, "wait": self._wait}
        return {"undo": self._undo}

    async def _changes(self, host: recipes.Host, number: int, *, limit_s: float) -> str:
        result = await host.run(self._snapper("status", f"{number}..0"), limit_s=limit_s)
        return parsing.require_ok(result, what="snapper status").strip()

    async def _copy(
        self, host: recipes.Host, number: int, *, limit_s: float
    ) -> parsing.SnapperSnapshot | None:
        """The newest writable copy ``snapper rollback`` made of snapshot ``number``."""
        wanted = parsing.snapper_rollback_description(number)
        copies = [s for s in await self._list(host, limit_s=limit_s) if s.description == wanted]
        return max(copies, key=lambda s: s.number) if copies else None

    async def _undo(self, host: recipes.Host, data: Mapping[str, Any], *, limit_s: float) -> str:
        number = int(data["number"])
        if not await self._changes(host, number, limit_s=limit_s):
            return f"nothing changed since snapshot {number}: already undone"
        result = await host.run(self._snapper("undochange", f"{number}..0"), limit_s=limit_s)
        parsing.require_ok(result, what="snapper undochange")
        return f"undid the changes made since snapshot {number}"

    async def _rollback(
        self, host: recipes.Host, data: Mapping[str, Any], *, limit_s: float
    ) -> str:
        number = int(data["number"])
        copy = await self._copy(host, number, limit_s=limit_s)
        if copy is not None and copy.default:
            return f"snapshot {copy.number} (writable copy of {number}) is already the default"
        script = self._snapper("rollback", str(number), no_dbus=True)
        out = parsing.require_ok(await host.run(script, limit_s=limit_s), what="snapper rollback")
        new_default = parsing.parse_snapper_rollback(out)
        shown = new_default if new_default is not None else "?"
        return f"snapshot {shown} (writable copy of {number}) is the new default"

    async def _reboot(self, host: recipes.Host, data: Mapping[str, Any], *, limit_s: float) -> str:
        copy = await self._copy(host, int(data["number"]), limit_s=limit_s)
        if copy is not None and copy.active:
            return f"already running on snapshot {copy.number}; no reboot needed"
        return await rebooting.reboot(host, point_id=str(data["point_id"]), limit_s=limit_s)

    async def verify(self, host: recipes.Host, data: Mapping[str, Any], *, limit_s: float) -> str:
        number = int(data["number"])
        if data.get("mode", self.config.mode) == "undochange":
            changes = await self._changes(host, number, limit_s=limit_s)
            if changes:
                raise errors.VerificationFailed(
                    f"files still differ from snapshot {number}: {parsing.tail(changes, lines=5)}"
                )
            return f"no file differs from snapshot {number}"
        copy = await self._copy(host, number, limit_s=limit_s)
        if copy is None or not (copy.active and copy.default):
            raise errors.VerificationFailed(
                f"the host does not run on a writable copy of snapshot {number}"
                + ("" if copy is None else f" (snapshot {copy.number} exists but is not active)")
            )
        return f"running on snapshot {copy.number}, the writable copy of {number}"

    async def delete(self, host: recipes.Host, data: Mapping[str, Any], *, limit_s: float) -> str:
        """``snapper delete N``, only when snapshot N is still the one rollsafe made."""
        number = int(data["number"])
        found = {s.number: s for s in await self._list(host, limit_s=limit_s)}
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
        result = await host.run(self._snapper("delete", str(number)), limit_s=limit_s)
        parsing.require_ok(result, what="snapper delete")
        return f"deleted snapper snapshot {number}"


def make(config: models.SnapperRecipe, *, poll_interval: float = 5.0) -> SnapperRecipe:
    return SnapperRecipe(config, poll_interval=poll_interval)


_IMPLEMENTS: recipes.Recipe = SnapperRecipe(models.SnapperRecipe(kind="snapper"))
