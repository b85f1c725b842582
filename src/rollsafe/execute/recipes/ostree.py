"""The image-based recipes: rpm-ostree and bootc hosts boot back into the recorded deployment.

Role in the loop (execute): an rpm-ostree or bootc upgrade writes a new deployment next to the
booted one and needs a reboot; the old one stays as the rollback deployment. The restore
point is the deployment booted before the upgrade (its ostree checksum for rpm-ostree, its
image digest for bootc) plus the boot id then. Rolling back makes that deployment the default
(``rpm-ostree rollback`` / ``bootc rollback``, skipped when it already is), reboots, waits for
the host to answer with a new boot id, and verifies the booted deployment is the recorded one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from rollsafe.config import models
from rollsafe.domain import errors
from rollsafe.execute.recipes import parsing, rebooting, recipes


class OstreeRecipe(recipes.Stepped):
    def __init__(self, config: models.OstreeRecipe, *, poll_interval: float = 5.0) -> None:
        self.config = config
        self.kind: str = config.kind
        self._tool = "rpm-ostree" if config.kind == "rpm-ostree" else "bootc"
        self._parse: Callable[[str], parsing.DeploymentStatus] = (
            parsing.parse_rpm_ostree_status
            if config.kind == "rpm-ostree"
            else parsing.parse_bootc_status
        )
        self._wait = rebooting.wait_step(
            timeout_s=config.reboot_timeout, poll_interval=poll_interval
        )

    async def _status(self, host: recipes.Host, *, limit_s: float) -> parsing.DeploymentStatus:
        result = await host.run(
            parsing.quote_all([self._tool, "status", "--json"]), limit_s=limit_s
        )
        return self._parse(parsing.require_complete(result, what=f"{self._tool} status"))

    async def checkpoint(
        self, host: recipes.Host, *, point_id: str, limit_s: float
    ) -> Mapping[str, Any]:
        status = await self._status(host, limit_s=limit_s)
        if status.booted is None:
            raise errors.DriverError(f"{self._tool} status shows no booted deployment")
        return {
            "tool": self._tool,
            "deployment": status.booted.ident,
            "checksum": status.booted.checksum,
            "version": status.booted.version,
            "boot_id": await rebooting.read_boot_id(host, limit_s=limit_s),
            "point_id": point_id,
        }

    async def precheck(
        self, host: recipes.Host, data: Mapping[str, Any], *, limit_s: float
    ) -> None:
        wanted = str(data["deployment"])
        status = await self._status(host, limit_s=limit_s)
        if not any(d.ident == wanted for d in status.all):
            raise errors.PrecheckFailed(
                f"deployment {wanted} is no longer on the host (it was garbage-collected or "
                "replaced by a later upgrade)"
            )

    def steps(self, data: Mapping[str, Any]) -> Mapping[str, recipes.Step]:
        return {"rollback": self._rollback, "reboot": self._reboot, "wait": self._wait}

    async def _rollback(
        self, host: recipes.Host, data: Mapping[str, Any], *, limit_s: float
    ) -> str:
        wanted = str(data["deployment"])
        status = await self._status(host, limit_s=limit_s)
        if status.next_boot is not None and status.next_boot.ident == wanted:
            return f"deployment {wanted} is already the default"
        if status.rollback is None or status.rollback.ident != wanted:
            raise errors.DriverError(
                f"{self._tool} rollback would not reach deployment {wanted} "
                f"(it would boot {status.rollback.ident if status.rollback else 'nothing'})"
            )
        result = await host.run(parsing.quote_all([self._tool, "rollback"]), limit_s=limit_s)
        parsing.require_ok(result, what=f"{self._tool} rollback")
        after = await self._status(host, limit_s=limit_s)
        if after.next_boot is None or after.next_boot.ident != wanted:
            raise errors.DriverError(
                f"after {self._tool} rollback the default deployment is not {wanted}"
            )
        return f"deployment {wanted} is the default again"

    async def _reboot(self, host: recipes.Host, data: Mapping[str, Any], *, limit_s: float) -> str:
        wanted = str(data["deployment"])
        status = await self._status(host, limit_s=limit_s)
        if status.booted is not None and status.booted.ident == wanted:
            return f"already booted into {wanted}; no reboot needed"
        return await rebooting.reboot(host, point_id=str(data["point_id"]), limit_s=limit_s)

    async def verify(self, host: recipes.Host, data: Mapping[str, Any], *, limit_s: float) -> str:
        wanted = str(data["deployment"])
        status = await self._status(host, limit_s=limit_s)
        booted = status.booted.ident if status.booted else "nothing"
        if booted != wanted:
            raise errors.VerificationFailed(f"the host booted {booted}, not {wanted}")
        return f"booted deployment {wanted} ({data.get('version') or 'no version'})"


def make(config: models.OstreeRecipe, *, poll_interval: float = 5.0) -> OstreeRecipe:
    return OstreeRecipe(config, poll_interval=poll_interval)


_IMPLEMENTS: recipes.Recipe = OstreeRecipe(models.OstreeRecipe(kind="rpm-ostree"))
