"""The Alibaba Cloud ECS driver: a snapshot of the system disk is the restore point.

Role in the loop (execute): ``checkpoint`` snapshots the instance's system disk
(``DescribeInstances``, ``DescribeDisks`` with ``DiskType=system``, ``CreateSnapshot``) and
waits until the snapshot is ``accomplished`` (``failed`` fails the checkpoint); ``precheck``
proves the snapshot is still usable on this instance (it exists, is ``accomplished``, was taken
of the system disk the instance has now) and dry-runs the calls the rollback will make, so a
missing RAM permission stops the run before any effect; ``rollback`` performs three steps:

``stop-instance``
    ``StopInstance`` (``StoppedMode`` from the config), then waits for ``Stopped``: ECS resets a
    disk only on a stopped instance.
``reset-system-disk``
    ``ResetDisk`` with the snapshot, then waits until the disk is no longer being rolled back.
    With ``replace_system_disk`` (off by default) a snapshot that can no longer be used
    (deleted, failed, or of a system disk replaced since) is replaced by the last resort:
    ``ReplaceSystemDisk`` from the image the instance ran at checkpoint time.
``start-instance``
    ``StartInstance``, then waits for ``Running``. The executor then proves the target healthy.

``upgrade`` runs the configured command on the instance with Cloud Assistant (``RunCommand``)
and waits for its result (``DescribeInvocationResults``). ``discover`` lists instances by tag
for ``rollsafe targets discover``.

Idempotency by step key: calls with a ``ClientToken`` (CreateSnapshot, ReplaceSystemDisk,
RunCommand) pass one derived from the key, so a repeated call returns the first one's result.
The stop and start steps look at the instance first and only ask for a transition it still
needs. Every step holds a lock on its key and journals it under
``<state_dir>/aliyun-journal/<driver>/``; a key journaled "done" returns its output and acts no
more. ResetDisk has no token, so the reset step also journals "calling" before the request and
"sent" once ECS accepted it; a key found "sent" or "done" never resets again. Only a
request cut off with no answer at all (the process killed mid-call, a lost connection) leaves
"calling" behind; it is repeated only if the instance is still stopped and has not been started
since (same ``StartTime``), so the disk nothing wrote to is reset to the same snapshot again,
which ends in the same state as one reset. Otherwise the step fails for a person.

ECS is reached through ``reach/clouds/aliyun.py`` (shared with the Cloud Assistant transport):
the SDK client and credentials chain, calls in worker threads (a cancelled call is waited for,
so nothing of a step is still in flight when it is retried), every call reported with its
``RequestId``, and the one table of codes: throttling, 5xx and unanswered calls become
``DriverTemporaryError`` (the executor retries the step); permission and state errors become
``DriverError`` (``PrecheckFailed`` during precheck) naming the code, the RAM action and the
request id. Long operations wait through the one poller (``reach.polling``).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from rollsafe.config import models
from rollsafe.domain import errors, restore_points
from rollsafe.execute import commands, driving, journals
from rollsafe.reach import polling
from rollsafe.reach.clouds import aliyun as aliyun_cloud

__all__ = [
    "RAM_ACTIONS",
    "STEPS",
    "STEP_RESET",
    "STEP_START",
    "STEP_STOP",
    "AliyunDriver",
    "discover",
    "instance_id_of",
    "make_driver",
    "upgrade_script",
]

_log = logging.getLogger(__name__)
_T = TypeVar("_T")

STEP_STOP = "stop-instance"
STEP_RESET = "reset-system-disk"
STEP_START = "start-instance"
STEPS = (STEP_STOP, STEP_RESET, STEP_START)

RAM_ACTIONS: dict[str, tuple[str, ...]] = {
    "checkpoint": ("DescribeInstances", "DescribeDisks", "CreateSnapshot", "DescribeSnapshots"),
    "precheck": (
        "DescribeInstances",
        "DescribeDisks",
        "DescribeSnapshots",
        "StopInstance",
        "ResetDisk",
        "StartInstance",
    ),
    "rollback": (
        "DescribeInstanceStatus",
        "StopInstance",
        "DescribeInstances",
        "DescribeDisks",
        "DescribeSnapshots",
        "ResetDisk",
        "StartInstance",
    ),
    "replace_system_disk": ("DescribeImages", "ReplaceSystemDisk"),
    "upgrade": ("RunCommand", "DescribeInvocationResults"),
    "discover": ("DescribeInstances",),
    "delete": ("DescribeSnapshots", "DeleteSnapshot"),
}
"""The ECS API actions each operation calls; the RAM action of each is ``ecs:<action>``."""

_SYSTEM = "system"
_ACCOMPLISHED = "accomplished"
_FAILED = "failed"
_DISK_READY = frozenset({"In_use", "Available"})
# Snapshot problems that the last resort (ReplaceSystemDisk) may work around.
_SNAPSHOT_GONE = frozenset(
    {"InvalidSnapshotId.NotFound", "InvalidParameter.Mismatch", "InvalidSnapshot.TooOld"}
)
_STATE = "IncorrectInstanceStatus"
_DRY_RUN_PASSED = "DryRunOperation"
# Cloud Assistant: per-instance statuses that are not final yet.
_INVOCATION_PENDING = frozenset({"Pending", "Scheduled", "Running", "Stopping"})
_TARGET_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")


# --------------------------------------------------------------------------- the driver


@dataclasses.dataclass(frozen=True, slots=True)
class _Point:
    """What a restore point of this driver holds (``RestorePoint.data``)."""

    region_id: str
    instance_id: str
    disk_id: str
    snapshot_id: str
    image_id: str | None


class AliyunDriver:
    """Implements ``rollsafe.execute.driving.Driver`` for ``kind: aliyun``."""

    kind: str = "aliyun"

    def __init__(
        self,
        config: models.AliyunDriver,
        state_dir: Path,
        *,
        client: aliyun_cloud.Client | None = None,
    ) -> None:
        self.config = config
        self.name: str = config.name
        self._ecs = client or client_for(config)
        self._journal = journals.StepJournal(state_dir.absolute() / "aliyun-journal" / config.name)

    # ------------------------------------------------------------------ checkpoint

    async def checkpoint(
        self, target: models.Target, *, point_id: str, label: str = ""
    ) -> restore_points.RestorePoint:
        iid = instance_id_of(target)
        instance = await self._instance(iid)
        disk = await self._system_disk(iid)
        disk_id = str(disk["DiskId"])
        description = f"rollsafe restore point {point_id} of {target.id}"
        if label:
            description += f": {label}"
        params: dict[str, Any] = {
            "DiskId": disk_id,
            "SnapshotName": f"rollsafe-{target.id}-{point_id}"[:128],
            "Description": description[:256],
            # A repeated request (throttled, unanswered) returns the first one's snapshot.
            "ClientToken": aliyun_cloud.token("snapshot", self.name, target.id, point_id),
        }
        if self.config.snapshot_retention_days is not None:
            params["RetentionDays"] = self.config.snapshot_retention_days
        created = await self._ecs.call("CreateSnapshot", params, retries=self.config.api_retries)
        snapshot_id = aliyun_cloud.text(created.body.get("SnapshotId"))
        if snapshot_id is None:
            raise errors.DriverError(f"CreateSnapshot of {disk_id} returned no SnapshotId")
        await self._wait_snapshot(snapshot_id, disk_id=disk_id)
        return driving.point_taken(
            self.name,
            target,
            point_id=point_id,
            label=label,
            data={
                "region_id": self.config.region_id,
                "instance_id": iid,
                "disk_id": disk_id,
                "snapshot_id": snapshot_id,
                "image_id": aliyun_cloud.text(instance.get("ImageId")),
                "disk_size_gib": disk.get("Size"),
            },
        )

    async def _wait_snapshot(self, snapshot_id: str, *, disk_id: str) -> dict[str, Any]:
        async def look() -> tuple[bool, str, dict[str, Any]]:
            snapshot = await self._snapshot(snapshot_id)
            if snapshot is None:
                return False, "not listed yet", {}
            status = str(snapshot.get("Status"))
            if status == _FAILED:
                raise errors.DriverError(
                    f"snapshot {snapshot_id} of disk {disk_id} failed; no restore point was taken"
                )
            return status == _ACCOMPLISHED, f"{status} {snapshot.get('Progress', '')}", snapshot

        return await self._wait(
            f"snapshot {snapshot_id} of disk {disk_id} to be accomplished",
            look,
            limit=self.config.snapshot_wait,
        )

    # ------------------------------------------------------------------ precheck

    async def precheck(self, target: models.Target, point: restore_points.RestorePoint) -> None:
        try:
            await self._precheck(target, point)
        except errors.DriverTemporaryError:
            raise
        except errors.DriverError as exc:
            raise errors.PrecheckFailed(str(exc)) from exc

    async def _precheck(self, target: models.Target, point: restore_points.RestorePoint) -> None:
        p = self._point(target, point)
        instance = await self._instance(p.instance_id)
        if _locked_for_security(instance):
            raise errors.PrecheckFailed(
                f"instance {p.instance_id} is locked for security reasons: ECS refuses every "
                "operation on it"
            )
        problem = await self._snapshot_problem(p)
        if problem is not None:
            if not self.config.replace_system_disk:
                raise errors.PrecheckFailed(problem)
            await self._precheck_image(p, problem)
        status = str(instance.get("Status"))
        # A dry run checks permissions first, then the instance's state: a state the earlier
        # steps will change (not stopped yet for ResetDisk ...) is not a problem now.
        await self._dry_run(
            "StopInstance", self._stop_params(p.instance_id), state_ok=status != "Running"
        )
        if problem is None:
            await self._dry_run(
                "ResetDisk",
                {"DiskId": p.disk_id, "SnapshotId": p.snapshot_id},
                state_ok=status != "Stopped",
            )
        await self._dry_run(
            "StartInstance", {"InstanceId": p.instance_id}, state_ok=status != "Stopped"
        )

    async def _snapshot_problem(self, p: _Point) -> str | None:
        """Why the point's snapshot cannot be reset onto the instance now, or None."""
        disk = await self._system_disk(p.instance_id)
        if disk.get("DiskId") != p.disk_id:
            return (
                f"the system disk of {p.instance_id} is now {disk.get('DiskId')}, but snapshot "
                f"{p.snapshot_id} is of {p.disk_id} (the system disk was replaced since): it "
                "cannot be reset onto the new disk"
            )
        snapshot = await self._snapshot(p.snapshot_id)
        if snapshot is None:
            denied = await self._dry_run_denied(
                "DescribeSnapshots", {"SnapshotIds": json.dumps([p.snapshot_id])}
            )
            return denied or f"snapshot {p.snapshot_id} of {p.instance_id} no longer exists"
        status = snapshot.get("Status")
        if status != _ACCOMPLISHED:
            progress = snapshot.get("Progress")
            return f"snapshot {p.snapshot_id} is {status} ({progress}), not accomplished"
        if snapshot.get("SourceDiskId") != p.disk_id:
            return (
                f"snapshot {p.snapshot_id} was taken of disk {snapshot.get('SourceDiskId')}, "
                f"not of the system disk {p.disk_id} of {p.instance_id}"
            )
        return None

    async def _precheck_image(self, p: _Point, problem: str) -> None:
        """With the last resort on, an unusable snapshot is fine if the image is usable."""
        if p.image_id is None:
            raise errors.PrecheckFailed(
                f"{problem}; the last resort (replace_system_disk) needs the image the instance "
                "ran at checkpoint time, and the restore point records none"
            )
        found = await self._ecs.call(
            "DescribeImages",
            {"RegionId": p.region_id, "ImageId": p.image_id, "ShowExpired": True},
            retries=self.config.api_retries,
        )
        images = [
            i
            for i in aliyun_cloud.items(found.body, "Images", "Image")
            if i.get("ImageId") == p.image_id
        ]
        if not images:
            denied = await self._dry_run_denied("DescribeImages", {"ImageId": p.image_id})
            if denied is not None:
                raise errors.PrecheckFailed(
                    f"{problem}; and the last resort cannot be checked: {denied}"
                )
        if not images or images[0].get("Status") != "Available":
            state = images[0].get("Status") if images else "not found"
            raise errors.PrecheckFailed(
                f"{problem}; the last resort cannot help either: image {p.image_id} is {state}"
            )
        _log.warning(
            "%s: %s; the rollback will REPLACE the system disk from image %s",
            p.instance_id,
            problem,
            p.image_id,
        )

    async def _dry_run(self, action: str, params: Mapping[str, Any], *, state_ok: bool) -> None:
        ok = {_DRY_RUN_PASSED, _STATE} if state_ok else {_DRY_RUN_PASSED}
        result = await self._ecs.call(
            action, {**params, "DryRun": True}, retries=self.config.api_retries, ok_codes=ok
        )
        if result.code is None:  # executed instead of checked: never expected from a dry run
            raise errors.PrecheckFailed(f"the dry run of {action} was not a dry run")

    async def _dry_run_denied(self, action: str, params: Mapping[str, Any]) -> str | None:
        """An empty list may mean "none" or "not allowed to list": a dry run tells which."""
        result = await self._ecs.call(
            action,
            {"RegionId": self.config.region_id, **params, "DryRun": True},
            retries=self.config.api_retries,
            ok_codes={_DRY_RUN_PASSED},
            refusals_ok=True,
        )
        if result.code is not None and result.code.startswith(aliyun_cloud.REFUSAL_PREFIXES):
            return str(aliyun_cloud.translate(result, endpoint=self._ecs.where))
        return None

    # ------------------------------------------------------------------ rollback

    def rollback_steps(
        self, target: models.Target, point: restore_points.RestorePoint
    ) -> Sequence[str]:
        return STEPS

    async def rollback(
        self,
        target: models.Target,
        point: restore_points.RestorePoint,
        *,
        step: str,
        key: str,
    ) -> str:
        p = self._point(target, point, error=errors.DriverError)
        if step == STEP_RESET:
            return await self._reset(p, key=key)
        if step not in (STEP_STOP, STEP_START):
            raise errors.DriverError(
                f"driver {self.name} has no rollback step {step!r} (its steps: {', '.join(STEPS)})"
            )
        # Stop and start look at the instance before they ask for anything; the journal also
        # keeps a key that is done from acting again later (after the start, say).
        if step == STEP_STOP:
            return await self._journal.once(key, lambda: self._stop(p.instance_id), step=step)
        return await self._journal.once(key, lambda: self._start(p.instance_id), step=step)

    def _stop_params(self, iid: str) -> dict[str, Any]:
        return {
            "InstanceId": iid,
            "StoppedMode": self.config.stopped_mode,
            "ForceStop": self.config.force_stop,
        }

    async def _stop(self, iid: str) -> str:
        stop = ("StopInstance", self._stop_params(iid))
        if not await self._transition(iid, ask=stop, when="Running", until="Stopped", what="stop"):
            return f"instance {iid} was already stopped"
        return f"stopped instance {iid} (StoppedMode {self.config.stopped_mode})"

    async def _start(self, iid: str) -> str:
        start = ("StartInstance", {"InstanceId": iid})
        if not await self._transition(iid, ask=start, when="Stopped", until="Running", what="run"):
            return f"instance {iid} was already running"
        return f"started instance {iid}: Running"

    async def _transition(
        self, iid: str, *, ask: tuple[str, dict[str, Any]], when: str, until: str, what: str
    ) -> bool:
        """Ask ``ask`` while the instance is ``when``, until it is ``until``; whether asked."""
        asked = False

        async def look() -> tuple[bool, str, None]:
            nonlocal asked
            status = await self._status(iid)
            if status == when:
                # Asking again is harmless: an instance on its way answers IncorrectInstanceStatus.
                await self._ecs.call(*ask, ok_codes={_STATE})
                asked = True
            return status == until, status, None

        await self._wait(f"instance {iid} to {what}", look, limit=self.config.instance_wait)
        return asked

    async def _reset(self, p: _Point, *, key: str) -> str:
        with self._journal.lease(key):
            record = self._journal.read(key) or {}
            phase = record.get("phase")
            if phase == "done":
                return str(record.get("output", ""))
            instance = await self._instance(p.instance_id)
            status = instance.get("Status")
            started = aliyun_cloud.text(instance.get("StartTime"))
            if phase == "calling" and started != record.get("start_time"):
                raise errors.DriverError(
                    f"a ResetDisk of {p.disk_id} was cut off with no answer, and {p.instance_id} "
                    f"has been started since ({record.get('start_time')} -> {started}): "
                    "resetting again could erase what it wrote; a person must look"
                )
            if status != "Stopped" and phase != "sent":
                raise errors.DriverError(
                    f"instance {p.instance_id} is {status}, not Stopped: its system disk can "
                    "only be reset on a stopped instance (was it started since the "
                    f"{STEP_STOP} step?); a person must look"
                )
            if phase == "replacing":
                output = await self._replace(p, key=key, why=str(record.get("why", "")))
            elif phase == "sent":
                await self._wait_disk(p.disk_id)
                output = f"reset system disk {p.disk_id} of {p.instance_id} to {p.snapshot_id}"
            else:
                output = await self._reset_or_replace(p, key=key, started=started, again=phase)
            self._journal.write(key, {"phase": "done", "step": STEP_RESET, "output": output})
            return output

    async def _reset_or_replace(
        self, p: _Point, *, key: str, started: str | None, again: object
    ) -> str:
        problem = await self._snapshot_problem(p)
        if problem is None:
            calling = {"phase": "calling", "start_time": started}

            def journal(result: aliyun_cloud.ApiResult | None) -> None:
                # In the worker thread, next to the call: a cancelled step still records it.
                if result is None:
                    self._journal.write(key, calling)
                elif result.ok:
                    self._journal.write(key, {"phase": "sent", "request_id": result.request_id})
                elif result.answered:
                    self._journal.clear(key)  # refused: it had no effect

            result = await self._ecs.invoke_once(
                "ResetDisk", {"DiskId": p.disk_id, "SnapshotId": p.snapshot_id}, journal=journal
            )
            if result.ok:
                await self._wait_disk(p.disk_id)
                note = " (repeated after an unanswered attempt)" if again == "calling" else ""
                return f"reset system disk {p.disk_id} of {p.instance_id} to {p.snapshot_id}{note}"
            if result.code not in _SNAPSHOT_GONE or not self.config.replace_system_disk:
                raise aliyun_cloud.translate(result, endpoint=self._ecs.where)
            problem = f"ResetDisk refused: {result.code}: {result.message}"
        if not self.config.replace_system_disk:
            raise errors.DriverError(problem)
        self._journal.write(key, {"phase": "replacing", "why": problem})
        return await self._replace(p, key=key, why=problem)

    async def _replace(self, p: _Point, *, key: str, why: str) -> str:
        """The last resort: a new system disk from the image of checkpoint time."""
        if p.image_id is None:
            raise errors.DriverError(
                f"{why}; and the restore point records no image to replace from"
            )
        replaced = await self._ecs.call(
            "ReplaceSystemDisk",
            {
                "InstanceId": p.instance_id,
                "ImageId": p.image_id,
                "ClientToken": aliyun_cloud.token("replace", self.name, key),
            },
            retries=self.config.api_retries,
        )
        new_disk = aliyun_cloud.text(replaced.body.get("DiskId"))

        async def look() -> tuple[bool, str, None]:
            disk = await self._system_disk(p.instance_id)
            current = disk.get("DiskId")
            done = current != p.disk_id and (new_disk is None or current == new_disk)
            return (
                done and disk.get("Status") in _DISK_READY,
                f"{current} {disk.get('Status')}",
                None,
            )

        await self._wait(
            f"the system disk of {p.instance_id} to be replaced",
            look,
            limit=self.config.restore_wait,
        )
        return (
            f"LAST RESORT: {why}; replaced the system disk of {p.instance_id} from image "
            f"{p.image_id} (new disk {new_disk}); everything written since that image was "
            "built is gone"
        )

    async def _wait_disk(self, disk_id: str) -> None:
        async def look() -> tuple[bool, str, None]:
            found = await self._ecs.call(
                "DescribeDisks",
                {"RegionId": self.config.region_id, "DiskIds": json.dumps([disk_id])},
                retries=self.config.api_retries,
            )
            disks = [
                d
                for d in aliyun_cloud.items(found.body, "Disks", "Disk")
                if d.get("DiskId") == disk_id
            ]
            status = str(disks[0].get("Status")) if disks else "not listed"
            return status in _DISK_READY, status, None

        await self._wait(f"disk {disk_id} to be reset", look, limit=self.config.restore_wait)

    # ------------------------------------------------------------------ upgrade, status

    async def upgrade(self, target: models.Target, *, key: str) -> str:
        if self.config.upgrade is None:
            raise errors.DriverError(f"driver {self.name} has no `upgrade` command configured")
        iid = instance_id_of(target)
        script = upgrade_script(self.config.upgrade, target)
        ran = await self._ecs.call(
            "RunCommand",
            {
                "RegionId": self.config.region_id,
                "Type": "RunShellScript",
                "CommandContent": script,
                "ContentEncoding": "PlainText",
                "InstanceId": [iid],
                "Timeout": int(self.config.upgrade_timeout),
                "Name": f"rollsafe-upgrade-{target.id}"[:128],
                # The same key runs the command once: a repeat returns the first invocation.
                "ClientToken": aliyun_cloud.token("upgrade", self.name, target.id, key),
            },
            retries=self.config.api_retries,
        )
        invoke_id = aliyun_cloud.text(ran.body.get("InvokeId"))
        if invoke_id is None:
            raise errors.DriverError(f"RunCommand on {iid} returned no InvokeId")

        async def look() -> tuple[bool, str, dict[str, Any]]:
            found = await self._ecs.call(
                "DescribeInvocationResults",
                {
                    "RegionId": self.config.region_id,
                    "InvokeId": invoke_id,
                    "InstanceId": iid,
                    "ContentEncoding": "PlainText",
                },
                retries=self.config.api_retries,
            )
            invocation = found.body.get("Invocation")
            results = (
                aliyun_cloud.items(invocation, "InvocationResults", "InvocationResult")
                if isinstance(invocation, Mapping)
                else []
            )
            mine = [r for r in results if r.get("InstanceId") == iid]
            status = str(mine[0].get("InvocationStatus")) if mine else "Pending"
            return status not in _INVOCATION_PENDING, status, mine[0] if mine else {}

        result = await self._wait(
            f"the upgrade command on {iid} to finish",
            look,
            limit=self.config.upgrade_timeout + self.config.max_poll_interval,
        )
        output = str(result.get("Output") or "").strip()
        tail = "\n".join(output.splitlines()[-20:])
        if result.get("InvocationStatus") != "Success":
            raise errors.DriverError(
                f"the upgrade command on {iid} ended {result.get('InvocationStatus')} "
                f"(exit code {result.get('ExitCode')}, {result.get('ErrorCode') or 'no error code'}"
                f": {result.get('ErrorInfo') or ''}, invocation {invoke_id})"
                + (f"; last lines of output:\n{tail}" if tail else "")
            )
        return tail or f"upgrade command ran on {iid} (invocation {invoke_id})"

    async def status(self, target: models.Target) -> Mapping[str, Any]:
        try:
            iid = instance_id_of(target)
            instance = await self._instance(iid, retries=0)
        except errors.RollsafeError as exc:
            return {"region_id": self.config.region_id, "error": str(exc)}
        return {
            "region_id": self.config.region_id,
            "instance_id": iid,
            "status": instance.get("Status"),
            "image_id": instance.get("ImageId"),
            "name": instance.get("InstanceName"),
        }

    # ------------------------------------------------------------------ describing

    async def instances(self, *, tags: Mapping[str, str]) -> list[dict[str, Any]]:
        """Every instance of the region carrying all of ``tags`` (DescribeInstances, paged)."""
        instances: list[dict[str, Any]] = []
        page = 1
        while True:
            params: dict[str, Any] = {
                "RegionId": self.config.region_id,
                "PageSize": 100,
                "PageNumber": page,
            }
            if tags:
                # A key without a value matches the key with any value.
                params["Tag"] = [
                    {"Key": k, "Value": v} if v else {"Key": k} for k, v in tags.items()
                ]
            found = await self._ecs.call(
                "DescribeInstances", params, retries=self.config.api_retries
            )
            batch = aliyun_cloud.items(found.body, "Instances", "Instance")
            instances.extend(batch)
            total = found.body.get("TotalCount")
            if not batch or not isinstance(total, int) or len(instances) >= total:
                return instances
            page += 1

    async def _instance(self, iid: str, *, retries: int | None = None) -> dict[str, Any]:
        found = await self._ecs.call(
            "DescribeInstances",
            {"RegionId": self.config.region_id, "InstanceIds": json.dumps([iid])},
            retries=self.config.api_retries if retries is None else retries,
        )
        mine = [
            i
            for i in aliyun_cloud.items(found.body, "Instances", "Instance")
            if i.get("InstanceId") == iid
        ]
        if not mine:
            denied = await self._dry_run_denied(
                "DescribeInstances", {"InstanceIds": json.dumps([iid])}
            )
            raise errors.DriverError(
                denied or f"instance {iid} does not exist in region {self.config.region_id}"
            )
        return mine[0]

    async def _status(self, iid: str) -> str:
        found = await self._ecs.call(
            "DescribeInstanceStatus",
            {"RegionId": self.config.region_id, "InstanceId": [iid]},
            retries=self.config.api_retries,
        )
        for item in aliyun_cloud.items(found.body, "InstanceStatuses", "InstanceStatus"):
            if item.get("InstanceId") == iid:
                return str(item.get("Status"))
        raise errors.DriverError(
            f"instance {iid} is not listed by DescribeInstanceStatus in {self.config.region_id}"
        )

    async def _system_disk(self, iid: str) -> dict[str, Any]:
        found = await self._ecs.call(
            "DescribeDisks",
            {"RegionId": self.config.region_id, "InstanceId": iid, "DiskType": _SYSTEM},
            retries=self.config.api_retries,
        )
        disks = [
            d
            for d in aliyun_cloud.items(found.body, "Disks", "Disk")
            if d.get("InstanceId") == iid and str(d.get("Type", "")).lower() == _SYSTEM
        ]
        if len(disks) != 1:
            denied = None
            if not disks:
                denied = await self._dry_run_denied("DescribeDisks", {"InstanceId": iid})
            raise errors.DriverError(
                denied or f"instance {iid} has {len(disks)} system disks listed, expected one"
            )
        return disks[0]

    async def _snapshot(self, snapshot_id: str) -> dict[str, Any] | None:
        found = await self._ecs.call(
            "DescribeSnapshots",
            {"RegionId": self.config.region_id, "SnapshotIds": json.dumps([snapshot_id])},
            retries=self.config.api_retries,
        )
        for snapshot in aliyun_cloud.items(found.body, "Snapshots", "Snapshot"):
            if snapshot.get("SnapshotId") == snapshot_id:
                return snapshot
        return None

    def _point(
        self,
        target: models.Target,
        point: restore_points.RestorePoint,
        *,
        error: type[errors.PermanentError] = errors.PrecheckFailed,
    ) -> _Point:
        if point.target != target.id:
            raise error(
                f"restore point {point.id} belongs to target {point.target}, not {target.id}"
            )
        if point.driver != self.name:
            raise error(
                f"restore point {point.id} was taken by driver {point.driver}, not {self.name}"
            )
        data = point.data
        fields = {
            name: data.get(name) for name in ("region_id", "instance_id", "disk_id", "snapshot_id")
        }
        missing = [
            name for name, value in fields.items() if not isinstance(value, str) or not value
        ]
        if missing:
            raise error(f"restore point {point.id} records no {', '.join(missing)}")
        try:
            iid = instance_id_of(target)
        except errors.DriverError as exc:
            raise error(str(exc)) from None
        if fields["instance_id"] != iid:
            raise error(
                f"restore point {point.id} is of instance {fields['instance_id']}, but target "
                f"{target.id} is now instance {iid}: take a new restore point"
            )
        if fields["region_id"] != self.config.region_id:
            raise error(
                f"restore point {point.id} is in region {fields['region_id']}, driver "
                f"{self.name} works in {self.config.region_id}"
            )
        image = data.get("image_id")
        return _Point(
            region_id=str(fields["region_id"]),
            instance_id=iid,
            disk_id=str(fields["disk_id"]),
            snapshot_id=str(fields["snapshot_id"]),
            image_id=image if isinstance(image, str) and image else None,
        )

    # ------------------------------------------------------------------ retention

    async def delete(self, target: models.Target, point: restore_points.RestorePoint) -> str:
        """``DeleteSnapshot`` of the point's snapshot; gone already is success.

        ECS ignores an unknown id (and older answers say InvalidSnapshotId.NotFound: both are
        "gone"). ``Force`` is never sent: a snapshot disks were made from stays
        (SnapshotCreatedDisk), as does one an image was made from (SnapshotCreatedImage).
        """
        driving.require_own_point(self.name, target, point)
        snapshot_id = point.data.get("snapshot_id")
        if not isinstance(snapshot_id, str) or not snapshot_id:
            raise errors.DriverError(f"restore point {point.id} records no snapshot_id")
        if await self._snapshot(snapshot_id) is None:
            return f"snapshot {snapshot_id} already gone"
        result = await self._ecs.call(
            "DeleteSnapshot",
            {"SnapshotId": snapshot_id},
            ok_codes={"InvalidSnapshotId.NotFound"},
        )
        if result.code is not None:
            return f"snapshot {snapshot_id} already gone"
        return f"deleted snapshot {snapshot_id}"

    # ------------------------------------------------------------------ calling and waiting

    async def _wait(
        self,
        what: str,
        look: Callable[[], Awaitable[tuple[bool, str, _T]]],
        *,
        limit: float,
    ) -> _T:
        """Until ``look`` says done (``polling.until``; its value may be None, hence the box)."""

        async def boxed() -> tuple[tuple[_T] | None, str]:
            done, seen, value = await look()
            return ((value,) if done else None), seen

        (value,) = await polling.until(
            boxed,
            what=what,
            limit=limit,
            interval=self.config.poll_interval,
            max_interval=self.config.max_poll_interval,
        )
        return value


def _locked_for_security(instance: Mapping[str, Any]) -> bool:
    locks = aliyun_cloud.items(instance, "OperationLocks", "LockReason")
    return any(lock.get("LockReason") == "security" for lock in locks)


def upgrade_script(command: models.Command, target: models.Target) -> str:
    """The upgrade as one shell script: a string is a template, a list one template per word."""
    return commands.shell_text(command, target, what="upgrade")


def instance_id_of(target: models.Target) -> str:
    """The ECS instance of ``target``: its ``vars.instance_id``."""
    value = target.vars.get("instance_id")
    if not isinstance(value, str) or not value:
        raise errors.DriverError(
            f"target {target.id} has no `vars: {{instance_id: i-...}}`: the aliyun driver needs "
            "the ECS instance id"
        )
    return value


# --------------------------------------------------------------------------- discovery


async def discover(config: models.AliyunDriver, *, tags: Mapping[str, str]) -> list[models.Target]:
    """Instances of ``config.region_id`` carrying every tag in ``tags``, as targets.

    A tag with an empty value matches its key with any value.

    A target's id is the instance's name when that is a valid, unique target id, else the
    instance id; its address the first private IP (else a public one); its labels the
    instance's tags (``acs:`` system tags left out); ``vars.instance_id`` the instance id.
    """
    # Discovery writes nothing: the driver's journal directory is never touched here.
    instances = await AliyunDriver(config, Path()).instances(tags=tags)
    names = [str(i.get("InstanceName") or "") for i in instances]
    targets = []
    for instance, name in zip(instances, names, strict=True):
        iid = str(instance.get("InstanceId"))
        usable = bool(_TARGET_ID.match(name)) and names.count(name) == 1
        labels = {
            str(t.get("TagKey")): str(t.get("TagValue", ""))
            for t in aliyun_cloud.items(instance, "Tags", "Tag")
            if t.get("TagKey") and not str(t.get("TagKey")).startswith("acs:")
        }
        targets.append(
            models.Target(
                id=name if usable else iid,
                address=_address(instance),
                labels=labels,
                driver=config.name,
                vars={"instance_id": iid},
            )
        )
    return targets


def _address(instance: Mapping[str, Any]) -> str:
    vpc = instance.get("VpcAttributes")
    candidates = [
        vpc.get("PrivateIpAddress") if isinstance(vpc, Mapping) else None,
        instance.get("InnerIpAddress"),
        instance.get("PublicIpAddress"),
    ]
    for wrapper in candidates:
        addresses = wrapper.get("IpAddress") if isinstance(wrapper, Mapping) else None
        if isinstance(addresses, list) and addresses and isinstance(addresses[0], str):
            return addresses[0]
    eip = instance.get("EipAddress")
    if isinstance(eip, Mapping) and aliyun_cloud.text(eip.get("IpAddress")):
        return str(eip["IpAddress"])
    return str(instance.get("InstanceId"))


# --------------------------------------------------------------------------- factory


def client_settings(config: models.AliyunDriver) -> dict[str, Any]:
    """How a ``kind: aliyun`` driver reaches ECS (its calls audited under its name)."""
    return {
        "region_id": config.region_id,
        "endpoint": config.endpoint,
        "protocol": config.protocol,
        "api_timeout": config.api_timeout,
        "retry_interval": config.poll_interval,
        "max_retry_interval": config.max_poll_interval,
        "name": config.name,
    }


def client_for(config: models.AliyunDriver) -> aliyun_cloud.Client:
    """The ECS client of a ``kind: aliyun`` driver."""
    return aliyun_cloud.Client(**client_settings(config))


def make_driver(config: models.Driver, state_dir: Path) -> AliyunDriver:
    """The registry's factory: ConfigError when this is not an aliyun entry or the SDK is
    missing (``pip install 'rollsafe[aliyun]'``)."""
    if not isinstance(config, models.AliyunDriver):
        raise errors.ConfigError(f"driver {config.name!r} is not a `kind: aliyun` driver")
    if not aliyun_cloud.available():
        raise errors.ConfigError(
            f"driver {config.name!r}: the Alibaba Cloud SDK is not installed "
            "(pip install 'rollsafe[aliyun]')"
        )
    return AliyunDriver(config, state_dir)
