"""The LVM recipe: a copy-on-write snapshot of a logical volume, merged back to roll back.

Role in the loop (execute): the restore point is ``VG/rollsafe-<id>``, made with
``lvcreate -s``. A snapshot that overflowed its ``-L`` size is invalid and restores nothing,
so the precheck refuses it. ``lvconvert --merge`` writes the snapshot back into its origin;
when the origin is in use (a mounted root) LVM delays the merge to the origin's next
activation, hence "reboot" and "wait" (the wait also lasts until the merge has finished, which
is when LVM removes the snapshot). Verified: the snapshot is gone and the origin is active.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rollsafe.config import models
from rollsafe.domain import errors
from rollsafe.execute.recipes import parsing, rebooting, recipes

LVS_FIELDS = "lv_name,vg_name,lv_attr,origin,data_percent,lv_merging"


class LvmRecipe(recipes.Stepped):
    kind = "lvm"

    def __init__(self, config: models.LvmRecipe, *, poll_interval: float = 5.0) -> None:
        self.config = config
        self._poll = poll_interval

    @property
    def _origin(self) -> str:
        return f"{self.config.volume_group}/{self.config.logical_volume}"

    async def _volumes(
        self, host: recipes.Host, *, limit_s: float
    ) -> dict[str, parsing.LogicalVolume]:
        script = parsing.quote_all(
            ["lvs", "--reportformat", "json", "-o", LVS_FIELDS, self.config.volume_group]
        )
        result = await host.run(script, limit_s=limit_s)
        volumes = parsing.parse_lvs(parsing.require_complete(result, what="lvs"))
        return {lv.name: lv for lv in volumes if lv.vg == self.config.volume_group}

    async def _run(self, host: recipes.Host, *words: str, what: str, limit_s: float) -> str:
        """Run ``words`` (quoted); its stdout, or DriverError saying ``what`` failed."""
        result = await host.run(parsing.quote_all(words), limit_s=limit_s)
        return parsing.require_ok(result, what=what)

    async def checkpoint(
        self, host: recipes.Host, *, point_id: str, limit_s: float
    ) -> Mapping[str, Any]:
        name = parsing.snapshot_name(point_id)
        existing = (await self._volumes(host, limit_s=limit_s)).get(name)
        if existing is None:
            size = self.config.snapshot_size
            create = ("lvcreate", "-s", "-n", name, "-L", size, self._origin)
            await self._run(host, *create, what="lvcreate", limit_s=limit_s)
        elif existing.origin != self.config.logical_volume:
            raise errors.DriverError(
                f"{self.config.volume_group}/{name} exists but is not a snapshot of "
                f"{self.config.logical_volume}"
            )
        return {
            "volume_group": self.config.volume_group,
            "origin": self.config.logical_volume,
            "snapshot": name,
            "point_id": point_id,
        }

    async def precheck(
        self, host: recipes.Host, data: Mapping[str, Any], *, limit_s: float
    ) -> None:
        name = str(data["snapshot"])
        lv = (await self._volumes(host, limit_s=limit_s)).get(name)
        if lv is None:
            raise errors.PrecheckFailed(f"LVM snapshot {self.config.volume_group}/{name} is gone")
        if lv.invalid:
            raise errors.PrecheckFailed(
                f"LVM snapshot {self.config.volume_group}/{name} is invalid (attr {lv.attr}, "
                f"{lv.data_percent}% used): it overflowed and cannot restore the origin"
            )
        if lv.origin != str(data["origin"]):
            raise errors.PrecheckFailed(
                f"LVM volume {self.config.volume_group}/{name} is not a snapshot of "
                f"{data['origin']}"
            )

    def steps(self, data: Mapping[str, Any]) -> Mapping[str, recipes.Step]:
        return {"merge": self._merge, "reboot": self._reboot, "wait": self._wait_merged}

    async def _merge(self, host: recipes.Host, data: Mapping[str, Any], *, limit_s: float) -> str:
        name = str(data["snapshot"])
        full = f"{self.config.volume_group}/{name}"
        lv = (await self._volumes(host, limit_s=limit_s)).get(name)
        if lv is None:
            return f"{full} is gone: the merge already happened"
        if lv.merging:
            return f"{full} is already merging into {lv.origin}"
        out = await self._run(
            host, "lvconvert", "--merge", full, what="lvconvert --merge", limit_s=limit_s
        )
        return f"merge of {full} started: {parsing.tail(out, lines=2)}"

    async def _reboot(self, host: recipes.Host, data: Mapping[str, Any], *, limit_s: float) -> str:
        volumes = await self._volumes(host, limit_s=limit_s)
        lv, origin = volumes.get(str(data["snapshot"])), volumes.get(str(data["origin"]))
        if lv is None:
            return "the merge has finished; no reboot needed"
        if origin is not None and not origin.open:
            # Not in use: LVM merges now, in the background; "wait" waits for it.
            return "the origin is not in use, so the merge runs now; no reboot needed"
        return await rebooting.reboot(host, point_id=str(data["point_id"]), limit_s=limit_s)

    async def _wait_merged(
        self, host: recipes.Host, data: Mapping[str, Any], *, limit_s: float
    ) -> str:
        name = str(data["snapshot"])

        # While the host reboots, lvs fails or the host is unreachable: poll_until treats
        # that as "not yet". The snapshot disappears when the merge has completed.
        async def merged() -> bool:
            limit = min(rebooting.POLL_LIMIT_S, self.config.reboot_timeout)
            return name not in await self._volumes(host, limit_s=limit)

        await rebooting.poll_until(
            merged,
            timeout_s=self.config.reboot_timeout,
            poll_interval=self._poll,
            what=f"the merge of {self.config.volume_group}/{name} to finish",
        )
        return f"{self.config.volume_group}/{name} has been merged into its origin"

    async def verify(self, host: recipes.Host, data: Mapping[str, Any], *, limit_s: float) -> str:
        volumes = await self._volumes(host, limit_s=limit_s)
        name, origin_name = str(data["snapshot"]), str(data["origin"])
        if name in volumes:
            raise errors.VerificationFailed(
                f"{self.config.volume_group}/{name} still exists: the merge has not completed"
            )
        origin = volumes.get(origin_name)
        if origin is None or not origin.active:
            raise errors.VerificationFailed(
                f"origin {self.config.volume_group}/{origin_name} is "
                + ("missing" if origin is None else f"not active (attr {origin.attr})")
            )
        return f"{self.config.volume_group}/{name} merged; {origin_name} is active"

    async def delete(self, host: recipes.Host, data: Mapping[str, Any], *, limit_s: float) -> str:
        """``lvremove`` the snapshot, unless it is merging (then it is the rollback itself)."""
        name, origin = str(data["snapshot"]), str(data["origin"])
        full = f"{self.config.volume_group}/{name}"
        lv = (await self._volumes(host, limit_s=limit_s)).get(name)
        if lv is None:
            return f"LVM snapshot {full} already gone"
        if lv.origin != origin:
            return f"{full} is no longer a snapshot of {origin}: ours is gone, it is left alone"
        if lv.merging:
            raise errors.DriverError(f"LVM snapshot {full} is being merged: not deleted")
        await self._run(host, "lvremove", "-y", full, what="lvremove", limit_s=limit_s)
        return f"removed LVM snapshot {full}"


def make(config: models.LvmRecipe, *, poll_interval: float = 5.0) -> LvmRecipe:
    return LvmRecipe(config, poll_interval=poll_interval)


_IMPLEMENTS: recipes.Recipe = LvmRecipe(
    models.LvmRecipe(kind="lvm", volume_group="vg", logical_volume="lv")
)
