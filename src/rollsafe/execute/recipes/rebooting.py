"""Reboot a host and wait until it is back, with a new boot, through any transport.

Role in the loop (execute): snapper ``rollback``, LVM merges of an origin in use and
rpm-ostree/bootc only take effect at the next boot. The "reboot" step leaves a marker holding
the current boot id in ``/run`` (a tmpfs, emptied by every boot) and asks systemd to reboot;
the "wait" step polls until the host answers again, the marker is gone and the boot id is not
the one in the marker. A lost connection while the host goes down is expected, not an error.
Because the marker lives on the host, a controller restarted mid-wait still knows whether the
reboot it asked for has happened.
"""

from __future__ import annotations

import asyncio
import shlex
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from rollsafe.domain import errors
from rollsafe.execute.recipes import parsing, recipes

BOOT_ID_PATH = "/proc/sys/kernel/random/boot_id"
POLL_LIMIT_S = 30.0
"""Longest a single poll command may take; the host may be half up."""

_PENDING = "rollsafe-reboot-pending"


def marker_path(point_id: str) -> str:
    return f"/run/{parsing.snapshot_name(point_id)}.reboot"


def boot_id_script() -> str:
    return f"cat {BOOT_ID_PATH}"


async def read_boot_id(host: recipes.Host, *, limit_s: float) -> str:
    result = await host.run(boot_id_script(), limit_s=limit_s)
    return parsing.require_ok(result, what="reading the boot id").strip()


async def reboot(host: recipes.Host, *, point_id: str, limit_s: float) -> str:
    """Leave the marker and ask for a reboot; a marker already there means it was asked."""
    marker = shlex.quote(marker_path(point_id))
    check = await host.run(f"test -e {marker}", limit_s=limit_s)
    if check.ok:
        return "a reboot was already requested; the host has not gone down yet"
    script = f"cat {BOOT_ID_PATH} > {marker} && systemctl reboot"
    try:
        result = await host.run(script, limit_s=limit_s)
    except errors.RollsafeError as exc:
        # The host may drop the connection before the command reports back.
        return f"reboot requested; the connection was lost as the host went down ({exc})"
    if not result.ok and result.exit_status not in (-1, 255):
        # -1/255: the transport's "connection closed" statuses, a reboot cutting us off.
        parsing.require_ok(result, what="systemctl reboot")
    return "reboot requested"


def _wait_script(point_id: str) -> str:
    marker = shlex.quote(marker_path(point_id))
    return (
        f"if [ -e {marker} ]; then printf '{_PENDING} '; cat {marker}; else cat {BOOT_ID_PATH}; fi"
    )


async def poll_until(
    check: Callable[[], Awaitable[bool]],
    *,
    timeout_s: float,
    poll_interval: float,
    what: str,
) -> None:
    """Await ``check`` until it is true; transport errors count as "not yet" (host down)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    last_error = ""
    while True:
        try:
            if await check():
                return
            last_error = ""
        except (errors.DriverError, errors.DriverTemporaryError) as exc:
            last_error = f"; last error: {exc}"
        if loop.time() >= deadline:
            raise errors.DriverError(f"gave up waiting for {what} after {timeout_s:g}s{last_error}")
        await asyncio.sleep(poll_interval)


async def wait_for_new_boot(
    host: recipes.Host,
    *,
    point_id: str,
    timeout_s: float,
    poll_interval: float,
) -> str:
    """Poll until the host answers with the marker gone and a boot id other than before."""
    before: set[str] = set()
    seen: list[str] = []

    async def booted_again() -> bool:
        result = await host.run(_wait_script(point_id), limit_s=min(POLL_LIMIT_S, timeout_s))
        if not result.ok:
            return False
        words = result.stdout.split()
        if words[:1] == [_PENDING]:
            before.update(words[1:2])
            return False
        if not words or words[0] in before:
            return False
        seen.append(words[0])
        return True

    await poll_until(
        booted_again,
        timeout_s=timeout_s,
        poll_interval=poll_interval,
        what=f"{host.target.id} to come back from its reboot",
    )
    return f"host is back with boot id {seen[-1]}"


def wait_step(*, timeout_s: float, poll_interval: float) -> recipes.Step:
    """The "wait" step of a recipe that reboots: the host is back from the reboot its
    "reboot" step asked for (the point's marker), within ``timeout_s``."""

    async def wait(host: recipes.Host, data: Mapping[str, Any], *, limit_s: float) -> str:
        return await wait_for_new_boot(
            host,
            point_id=str(data["point_id"]),
            timeout_s=timeout_s,
            poll_interval=poll_interval,
        )

    return wait
