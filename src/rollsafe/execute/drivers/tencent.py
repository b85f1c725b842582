"""The Tencent Cloud driver: CVM instances rolled back to a CBS snapshot of their system disk.

Role in the loop (execute): ``checkpoint`` finds the target's system disk (CVM
``DescribeInstances``, CBS ``DescribeDisks`` filtered on ``disk-usage=SYSTEM_DISK``), takes a
CBS snapshot of it (``CreateSnapshot``) and waits until the snapshot is ``NORMAL``;
``precheck`` proves instance, disk and snapshot still belong together; ``rollback`` restores
the disk with ``ApplySnapshot`` and brings the instance back to ``RUNNING``:

- strategy ``auto-stop``: ``apply-snapshot`` (``AutoStopInstance`` and ``AutoStartInstance``:
  the cloud stops the instance, rolls the disk back and starts it), ``start-instance`` (waits
  for ``RUNNING``; starts the instance only if it is still ``STOPPED``);
- strategy ``explicit``: ``stop-instance`` (``StopInstances``, wait for ``STOPPED``),
  ``apply-snapshot``, ``start-instance`` (``StartInstances``, wait for ``RUNNING``).

With ``replace_instance`` (off by default) a last step ``replace-instance`` follows. When the
snapshot rollback left the instance unusable (``apply-snapshot`` failed for good, or the
instance did not come back ``RUNNING``), those steps journal the run as *degraded* instead of
failing it, and ``replace-instance`` launches a new instance from the image the old one ran at
checkpoint time (``RunInstances`` with a ``ClientToken`` derived from the step key, the launch
settings recorded in the restore point), waits for it to be ``RUNNING`` and stops (never
terminates) the old one. Otherwise that step does nothing. The target's instance id changes:
the operator updates ``vars.instance_id`` (rollsafe does not rewrite configuration).

The instance of a target is its ``vars.instance_id``. CVM and CBS are reached through
``reach/clouds/tencent.py`` (shared with the TAT transport): credentials from
``TENCENTCLOUD_SECRET_ID`` / ``TENCENTCLOUD_SECRET_KEY`` or the SDK's default provider chain,
never from the configuration or the audit; every SDK call in a worker thread (through the
step's lease). Long operations wait through the one poller (``reach.polling``), where a read
still throttled after its retries only delays the next look.

Idempotency: CBS has no client token for ``CreateSnapshot`` or ``ApplySnapshot``, so the
driver checks state before acting. A snapshot is named ``rollsafe-<point id>`` and a
checkpoint retried with the same point id adopts it instead of taking a second one. Each
rollback step holds an exclusive lease on its key (a file lock the worker thread of an
abandoned call keeps until that call returns) and journals its progress under
``<state_dir>/tencent-journal/``: ``ApplySnapshot`` is journaled ``requested`` before the call
and ``accepted`` (with its request id) after it, so a step re-run with the same key follows
the rollback already under way rather than starting another. The one window left is a
controller killed during the ``ApplySnapshot`` HTTP exchange itself: if the disk is then no
longer rolling back, the same snapshot is applied once more (see docs/drivers.md).

Errors: ``RequestLimitExceeded*``, ``InternalError*``, 5xx answers, network failures and the
documented "busy, try again later" codes are ``DriverTemporaryError`` (read-only calls are
also retried here, inside the poll budget); ``AuthFailure*`` and ``UnauthorizedOperation*``
(a CAM permission missing) and state errors are ``DriverError`` naming the code, or
``PrecheckFailed`` during a precheck (the table is the cloud module's). Every call, answered or
refused, is reported to the audit with its ``RequestId``. The ``upgrade`` command runs on the
controller under the command supervisor (``execute.supervising``), journaled by key.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import hashlib
import re
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from rollsafe.config import models
from rollsafe.domain import errors, restore_points
from rollsafe.execute import driving, journals, supervising
from rollsafe.reach import polling
from rollsafe.reach.clouds import tencent as tencent_cloud

__all__ = [
    "SNAPSHOT_PREFIX",
    "STEP_APPLY",
    "STEP_REPLACE",
    "STEP_START",
    "STEP_STOP",
    "TencentDriver",
    "discover",
    "make_driver",
]

STEP_STOP = "stop-instance"
STEP_APPLY = "apply-snapshot"
STEP_START = "start-instance"
STEP_REPLACE = "replace-instance"
_DEGRADED = "degraded"  # journal step of "this run needs the replacement"
SNAPSHOT_PREFIX = "rollsafe-"
"""Snapshots are named ``rollsafe-<point id>``: how a retried checkpoint finds its own."""

_T = TypeVar("_T")
_PAGE = 100  # the largest Limit DescribeInstances accepts
_READ_ATTEMPTS = 4  # tries of one read-only call that was throttled or hit a 5xx

_NOT_FOUND = frozenset(
    {
        "InvalidInstanceId.NotFound",
        "InvalidDiskId.NotFound",
        "InvalidSnapshotId.NotFound",
        "ResourceNotFound.NotFound",
    }
)
# Answers to StartInstances meaning "it is starting or running already".
_ALREADY_STARTING = frozenset(
    {
        "UnsupportedOperation.InstanceStateRunning",
        "UnsupportedOperation.InstanceStateStarting",
        "OperationDenied.InstanceOperationInProgress",
    }
)
_ALREADY_STOPPING = frozenset(
    {
        "UnsupportedOperation.InstanceStateStopped",
        "UnsupportedOperation.InstanceStateStopping",
        "OperationDenied.InstanceOperationInProgress",
    }
)
# Instance states from which no rollback can bring the target back.
_LOST_STATES = frozenset(
    {"LAUNCH_FAILED", "SHUTDOWN", "TERMINATING", "TERMINATED", "ISOLATING", "ISOLATED"}
)


# --------------------------------------------------------------------------- the driver


@dataclasses.dataclass(frozen=True, slots=True)
class _Place:
    """The cloud resources a restore point is about."""

    instance_id: str
    disk_id: str
    snapshot_id: str


class TencentDriver:
    """Implements ``rollsafe.execute.driving.Driver`` for ``kind: tencent``."""

    kind: str = "tencent"

    def __init__(
        self,
        config: models.TencentDriver,
        state_dir: Path,
        *,
        cloud: tencent_cloud.Client | None = None,
    ) -> None:
        self.config = config
        self.name: str = config.name
        self.state_dir = state_dir.absolute()
        self._cloud = cloud or client_for(config)
        self._journal = journals.StepJournal(self.state_dir / "tencent-journal")
        self._output_dir = self.state_dir / "driver-output"

    # ------------------------------------------------------------------ checkpoint

    async def checkpoint(
        self, target: models.Target, *, point_id: str, label: str = ""
    ) -> restore_points.RestorePoint:
        instance_id = self._instance_id(target)
        instance = await self._describe_instance(instance_id)
        if instance is None:
            raise errors.DriverError(
                f"instance {instance_id} of target {target.id} was not found in region "
                f"{self.config.region}"
            )
        disk = await self._system_disk(instance)
        disk_id = str(disk["DiskId"])
        if disk.get("SnapshotAbility") is False:
            raise errors.DriverError(f"system disk {disk_id} of {instance_id} cannot be snapshot")
        name = f"{SNAPSHOT_PREFIX}{point_id}"
        snapshot_id = await self._own_snapshot(name, disk_id=disk_id)
        if snapshot_id is None:
            params: dict[str, Any] = {"DiskId": disk_id, "SnapshotName": name}
            if self.config.snapshot_expiry is not None:
                params["Deadline"] = _iso_after(self.config.snapshot_expiry)
            answer = await self._mutate("cbs", "CreateSnapshot", params, about={"disk": disk_id})
            snapshot_id = str(answer.get("SnapshotId") or "")
            if not snapshot_id:
                raise errors.DriverError(f"CreateSnapshot of {disk_id} answered no SnapshotId")
        snapshot = await self._wait_snapshot(snapshot_id, disk_id=disk_id)
        placement = instance.get("Placement") or {}
        return driving.point_taken(
            self.name,
            target,
            point_id=point_id,
            label=label,
            data={
                "region": self.config.region,
                "instance_id": instance_id,
                "disk_id": disk_id,
                "snapshot_id": snapshot_id,
                "snapshot_name": name,
                "disk_size": snapshot.get("DiskSize", disk.get("DiskSize")),
                "image_id": instance.get("ImageId"),
                "zone": placement.get("Zone") if isinstance(placement, dict) else None,
                "launch": _launch_settings(instance),
            },
        )

    async def _system_disk(self, instance: Mapping[str, Any]) -> dict[str, Any]:
        instance_id = str(instance["InstanceId"])
        answer = await self._read(
            "cbs",
            "DescribeDisks",
            {
                "Filters": [
                    {"Name": "instance-id", "Values": [instance_id]},
                    {"Name": "disk-usage", "Values": ["SYSTEM_DISK"]},
                ],
                "Limit": 20,
            },
            about={"instance": instance_id},
        )
        disks = [d for d in answer.get("DiskSet") or [] if isinstance(d, dict)]
        if len(disks) != 1:
            raise errors.DriverError(
                f"instance {instance_id} has {len(disks)} CBS system disks (expected exactly "
                "one: local system disks cannot be snapshot)"
            )
        disk = disks[0]
        recorded = (instance.get("SystemDisk") or {}).get("DiskId")
        if recorded and recorded != disk.get("DiskId"):
            raise errors.DriverError(
                f"instance {instance_id} names system disk {recorded}, but CBS lists "
                f"{disk.get('DiskId')}"
            )
        return disk

    async def _own_snapshot(self, name: str, *, disk_id: str) -> str | None:
        """The snapshot an earlier attempt of this checkpoint already created, if any."""
        answer = await self._read(
            "cbs",
            "DescribeSnapshots",
            {
                "Filters": [
                    {"Name": "snapshot-name", "Values": [name]},
                    {"Name": "disk-id", "Values": [disk_id]},
                ],
                "Limit": 20,
            },
            about={"disk": disk_id},
        )
        found = [
            s
            for s in answer.get("SnapshotSet") or []
            if isinstance(s, dict) and s.get("SnapshotName") == name
        ]
        if len(found) > 1:
            raise errors.DriverError(
                f"disk {disk_id} has {len(found)} snapshots named {name}: a person must "
                "delete the extra ones"
            )
        return str(found[0]["SnapshotId"]) if found else None

    async def _wait_snapshot(self, snapshot_id: str, *, disk_id: str) -> dict[str, Any]:
        async def look() -> tuple[dict[str, Any] | None, str]:
            snapshot = await self._describe_snapshot(snapshot_id)
            if snapshot is None:
                raise errors.DriverError(
                    f"snapshot {snapshot_id} of disk {disk_id} disappeared while it was created"
                )
            state = str(snapshot.get("SnapshotState"))
            if state == "NORMAL":
                return snapshot, state
            if state != "CREATING":
                raise errors.DriverError(
                    f"snapshot {snapshot_id} of disk {disk_id} is {state}, not NORMAL"
                )
            return None, f"CREATING {snapshot.get('Percent', 0)}%"

        return await self._poll(
            look, what=f"snapshot {snapshot_id} to be NORMAL", limit=self.config.snapshot_wait
        )

    # ------------------------------------------------------------------ precheck

    async def precheck(self, target: models.Target, point: restore_points.RestorePoint) -> None:
        try:
            await self._precheck(target, point)
        except errors.PrecheckFailed:
            raise
        except errors.RollsafeError as exc:
            raise errors.PrecheckFailed(str(exc)) from exc

    async def _precheck(self, target: models.Target, point: restore_points.RestorePoint) -> None:
        place = self._place(target, point)
        instance = await self._describe_instance(place.instance_id)
        if instance is None:
            raise errors.PrecheckFailed(f"instance {place.instance_id} no longer exists")
        state = str(instance.get("InstanceState"))
        if state in _LOST_STATES:
            raise errors.PrecheckFailed(
                f"instance {place.instance_id} is {state}: it cannot be rolled back"
            )
        system_disk = (instance.get("SystemDisk") or {}).get("DiskId")
        if system_disk != place.disk_id:
            raise errors.PrecheckFailed(
                f"the system disk of {place.instance_id} is now {system_disk}, not "
                f"{place.disk_id} whose snapshot restore point {point.id} holds"
            )
        disk = await self._describe_disk(place.disk_id)
        if disk is None:
            raise errors.PrecheckFailed(f"disk {place.disk_id} no longer exists")
        if disk.get("DiskUsage") != "SYSTEM_DISK" or disk.get("InstanceId") != place.instance_id:
            raise errors.PrecheckFailed(
                f"disk {place.disk_id} is not the system disk of {place.instance_id} any more"
            )
        if _rolling_back(disk):
            raise errors.PrecheckFailed(
                f"disk {place.disk_id} is being rolled back already (DiskState "
                f"{disk.get('DiskState')})"
            )
        snapshot = await self._describe_snapshot(place.snapshot_id)
        if snapshot is None:
            raise errors.PrecheckFailed(f"snapshot {place.snapshot_id} no longer exists")
        if snapshot.get("DiskId") != place.disk_id:
            raise errors.PrecheckFailed(
                f"snapshot {place.snapshot_id} was taken of {snapshot.get('DiskId')}, "
                f"not of {place.disk_id}"
            )
        if snapshot.get("SnapshotState") != "NORMAL":
            raise errors.PrecheckFailed(
                f"snapshot {place.snapshot_id} is {snapshot.get('SnapshotState')}, not NORMAL"
            )

    def _place(self, target: models.Target, point: restore_points.RestorePoint) -> _Place:
        if point.target != target.id:
            raise errors.PrecheckFailed(
                f"restore point {point.id} belongs to target {point.target}, not {target.id}"
            )
        if point.driver != self.name:
            raise errors.PrecheckFailed(
                f"restore point {point.id} was taken by driver {point.driver}, not {self.name}"
            )
        region = point.data.get("region")
        if region != self.config.region:
            raise errors.PrecheckFailed(
                f"restore point {point.id} is in region {region}, driver {self.name} works "
                f"in {self.config.region}"
            )
        values = {k: point.data.get(k) for k in ("instance_id", "disk_id", "snapshot_id")}
        missing = sorted(k for k, v in values.items() if not isinstance(v, str) or not v)
        if missing:
            raise errors.PrecheckFailed(
                f"restore point {point.id} records no {', '.join(missing)}: it was not taken "
                "by a tencent driver"
            )
        instance_id = self._instance_id(target)
        if values["instance_id"] != instance_id:
            raise errors.PrecheckFailed(
                f"restore point {point.id} is of instance {values['instance_id']}, but target "
                f"{target.id} is now instance {instance_id}"
            )
        return _Place(
            instance_id=instance_id,
            disk_id=str(values["disk_id"]),
            snapshot_id=str(values["snapshot_id"]),
        )

    # ------------------------------------------------------------------ rollback

    def rollback_steps(
        self, target: models.Target, point: restore_points.RestorePoint
    ) -> Sequence[str]:
        steps = [STEP_APPLY, STEP_START]
        if self.config.strategy == "explicit":
            steps.insert(0, STEP_STOP)
        if self.config.replace_instance:
            steps.append(STEP_REPLACE)
        return steps

    async def rollback(
        self,
        target: models.Target,
        point: restore_points.RestorePoint,
        *,
        step: str,
        key: str,
    ) -> str:
        driving.require_step(self.name, step, self.rollback_steps(target, point))
        try:
            place = self._place(target, point)
        except errors.PrecheckFailed as exc:
            raise errors.DriverError(str(exc)) from exc
        lease = self._journal.lease(key, retry_after=self.config.poll_interval)
        try:
            record = self._journal.read(key, step=step)
            if record is not None and record.get("phase") == "done":
                return str(record.get("output", ""))
            output = await self._perform(
                step, target, point, place, key=key, record=record, lease=lease
            )
            self._journal.write(
                key, {**self._base(key, step, place), "phase": "done", "output": output}
            )
            return output
        finally:
            lease.release()

    async def _perform(
        self,
        step: str,
        target: models.Target,
        point: restore_points.RestorePoint,
        place: _Place,
        *,
        key: str,
        record: Mapping[str, Any] | None,
        lease: journals.Lease,
    ) -> str:
        if step == STEP_REPLACE:
            return await self._replace_step(target, point, place, key=key, lease=lease)
        degraded = self._degraded(key)
        if self.config.replace_instance and degraded is not None:
            # The snapshot rollback already failed: touching the old instance is pointless.
            return f"skipped: the instance is to be replaced ({degraded.get('reason')})"
        try:
            if step == STEP_STOP:
                return await self._stop_step(place, lease=lease)
            if step == STEP_APPLY:
                return await self._apply_step(place, key=key, record=record, lease=lease)
            return await self._start_step(place, lease=lease)
        except errors.DriverTemporaryError:
            raise  # the executor retries it; a rollback still possible is not given up
        except errors.DriverError as exc:
            if not self.config.replace_instance or step == STEP_STOP:
                raise
            # The last resort is on: the run goes on to replace-instance instead of failing.
            reason = f"{step} failed: {exc}"
            self._journal.write(
                self._degraded_key(key),
                {**self._base(key, _DEGRADED, place), "phase": "done", "reason": reason},
            )
            return f"{reason}; the last step launches a replacement instance"

    @staticmethod
    def _degraded_key(key: str) -> str:
        # Step keys are "<run id>/<index>/<step>": the marker is shared by the run's steps.
        return f"{key.rsplit('/', 2)[0]}/{_DEGRADED}"

    def _degraded(self, key: str) -> dict[str, Any] | None:
        return self._journal.read(self._degraded_key(key), step=_DEGRADED)

    def _base(self, key: str, step: str, place: _Place) -> dict[str, Any]:
        return {
            "key": key,
            "step": step,
            "driver": self.name,
            "instance_id": place.instance_id,
            "disk_id": place.disk_id,
            "snapshot_id": place.snapshot_id,
            "at": time.time(),
        }

    async def _stop_step(self, place: _Place, *, lease: journals.Lease) -> str:
        iid = place.instance_id
        state, request = await self._stop(iid, lease=lease, what=f"instance {iid}")
        if state in ("gone", *_LOST_STATES):
            raise errors.DriverError(f"instance {iid} is {state}")
        if request is None:
            return f"instance {iid} was STOPPED already"
        return f"stopped instance {iid} (StopInstances request {request})"

    async def _stop(
        self, instance_id: str, *, lease: journals.Lease, what: str
    ) -> tuple[str, str | None]:
        """Stop (never terminate) ``instance_id``: its final state, the first request's id.

        A state no stop can change (gone, terminated ...) ends the wait too: the caller says
        whether that is a failure.
        """
        requests: list[str] = []

        async def look() -> tuple[str | None, str]:
            instance = await self._describe_instance(instance_id, lease=lease)
            if instance is None:
                return "gone", "gone"
            state = str(instance.get("InstanceState"))
            if state == "STOPPED" or state in _LOST_STATES:
                return state, state
            if state == "RUNNING" and len(requests) < 3:
                answer = await self._mutate(
                    "cvm",
                    "StopInstances",
                    {"InstanceIds": [instance_id], "StopType": self.config.stop_type},
                    about={"instance": instance_id},
                    lease=lease,
                    tolerate=_ALREADY_STOPPING,
                )
                requests.append(str(answer.get("RequestId", "")))
            return None, state

        state = await self._poll(
            look, what=f"{what} to be STOPPED", limit=self.config.instance_wait
        )
        return state, requests[0] if requests else None

    async def _apply_step(
        self,
        place: _Place,
        *,
        key: str,
        record: Mapping[str, Any] | None,
        lease: journals.Lease,
    ) -> str:
        auto = self.config.strategy == "auto-stop"
        progress: dict[str, Any] = dict(record or {})
        phase = progress.get("phase")
        if phase != "accepted":
            disk = await self._require_disk(place.disk_id, lease=lease)
            if phase == "requested" and _rolling_back(disk):
                # Our earlier call was accepted but its answer never journaled: follow it.
                progress.update(phase="accepted", request_id=None, seen_rollback=True)
            else:
                if _rolling_back(disk):
                    raise errors.DriverError(
                        f"disk {place.disk_id} is being rolled back by someone else "
                        f"(DiskState {disk.get('DiskState')}); not applying {place.snapshot_id}"
                    )
                progress = {**self._base(key, STEP_APPLY, place), "phase": "requested"}
                self._journal.write(key, progress)
                params: dict[str, Any] = {"SnapshotId": place.snapshot_id, "DiskId": place.disk_id}
                if auto:
                    params.update(AutoStopInstance=True, AutoStartInstance=True)
                answer = await self._mutate(
                    "cbs",
                    "ApplySnapshot",
                    params,
                    about={"disk": place.disk_id, "snapshot": place.snapshot_id},
                    lease=lease,
                )
                progress.update(
                    phase="accepted",
                    request_id=answer.get("RequestId"),
                    accepted_at=time.time(),
                    seen_rollback=False,
                    seen_stop=False,
                )
            self._journal.write(key, progress)

        async def look() -> tuple[bool | None, str]:
            disk = await self._require_disk(place.disk_id, lease=lease)
            snapshot = await self._describe_snapshot(place.snapshot_id, lease=lease)
            rolling = _rolling_back(disk) or (
                snapshot is not None and snapshot.get("SnapshotState") == "ROLLBACKING"
            )
            state = f"disk {disk.get('DiskState')} {disk.get('RollbackPercent', 0)}%"
            evidence = bool(progress.get("seen_rollback"))
            if auto:
                instance = await self._require_instance(place.instance_id, lease=lease)
                instance_state = str(instance.get("InstanceState"))
                state += f", instance {instance_state}"
                if instance_state in _LOST_STATES:
                    raise errors.DriverError(
                        f"instance {place.instance_id} became {instance_state} during the rollback"
                    )
                if instance_state in ("STOPPING", "STOPPED") and not progress.get("seen_stop"):
                    progress["seen_stop"] = True
                    self._journal.write(key, progress)
                # The cloud starts the instance only after the disk was rolled back.
                if progress.get("seen_stop") and instance_state in ("STARTING", "RUNNING"):
                    evidence = True
            if rolling and not progress.get("seen_rollback"):
                progress["seen_rollback"] = True
                self._journal.write(key, progress)
                return None, state
            if rolling or not evidence:
                return None, state
            return True, state

        await self._poll(
            look,
            what=f"disk {place.disk_id} to be rolled back to {place.snapshot_id}",
            limit=self.config.restore_wait,
        )
        request = progress.get("request_id") or "unknown"
        return (
            f"rolled disk {place.disk_id} of {place.instance_id} back to snapshot "
            f"{place.snapshot_id} (ApplySnapshot request {request})"
        )

    async def _start_step(self, place: _Place, *, lease: journals.Lease) -> str:
        requests: list[str] = []

        async def look() -> tuple[str | None, str]:
            instance = await self._require_instance(place.instance_id, lease=lease)
            state = str(instance.get("InstanceState"))
            if state == "RUNNING":
                return state, state
            if state in _LOST_STATES:
                raise errors.DriverError(f"instance {place.instance_id} is {state}")
            if state == "STOPPED" and len(requests) < 3:
                disk = await self._require_disk(place.disk_id, lease=lease)
                if _rolling_back(disk):
                    return None, f"{state}, disk {disk.get('DiskState')}"
                answer = await self._mutate(
                    "cvm",
                    "StartInstances",
                    {"InstanceIds": [place.instance_id]},
                    about={"instance": place.instance_id},
                    lease=lease,
                    tolerate=_ALREADY_STARTING,
                )
                requests.append(str(answer.get("RequestId", "")))
            return None, state

        await self._poll(
            look,
            what=f"instance {place.instance_id} to be RUNNING",
            limit=self.config.instance_wait,
        )
        if not requests:
            return f"instance {place.instance_id} is RUNNING"
        return f"started instance {place.instance_id} (StartInstances request {requests[0]})"

    async def _replace_step(
        self,
        target: models.Target,
        point: restore_points.RestorePoint,
        place: _Place,
        *,
        key: str,
        lease: journals.Lease,
    ) -> str:
        degraded = self._degraded(key)
        if degraded is None:
            return f"not needed: instance {place.instance_id} was rolled back and is RUNNING"
        launch = point.data.get("launch")
        if not isinstance(launch, Mapping) or not launch.get("image_id"):
            raise errors.DriverError(
                f"restore point {point.id} records no launch settings (taken before "
                "replace_instance existed?): cannot launch a replacement of "
                f"{place.instance_id}; {degraded.get('reason')}"
            )
        progress = dict(self._journal.read(key, step=STEP_REPLACE) or {})
        new_id = progress.get("new_instance_id")
        if not new_id:
            progress = {**self._base(key, STEP_REPLACE, place), "phase": "requested"}
            self._journal.write(key, progress)
            answer = await self._mutate(
                "cvm",
                "RunInstances",
                _run_params(launch, target=target, place=place, token=_client_token(key)),
                about={"instance": place.instance_id, "image": str(launch["image_id"])},
                lease=lease,
                reported=lambda a: {"new_instances": ",".join(a.get("InstanceIdSet") or [])},
            )
            launched = [str(i) for i in answer.get("InstanceIdSet") or []]
            if len(launched) != 1:
                raise errors.DriverError(
                    f"RunInstances answered {len(launched)} instance ids, expected one "
                    f"(request {answer.get('RequestId')})"
                )
            new_id = launched[0]
            progress.update(
                phase="launched", new_instance_id=new_id, request_id=answer.get("RequestId")
            )
            self._journal.write(key, progress)
        new_id = str(new_id)

        async def running() -> tuple[str | None, str]:
            instance = await self._require_instance(new_id, lease=lease)
            state = str(instance.get("InstanceState"))
            if state in _LOST_STATES:
                raise errors.DriverError(f"replacement instance {new_id} is {state}")
            return (state if state == "RUNNING" else None), state

        await self._poll(
            running,
            what=f"replacement instance {new_id} to be RUNNING",
            limit=self.config.instance_wait,
        )
        old = await self._stop_old(place.instance_id, lease=lease)
        return (
            f"launched replacement instance {new_id} from image {launch['image_id']} "
            f"(RunInstances request {progress.get('request_id') or 'unknown'}); {old}; "
            f"set vars.instance_id of target {target.id} to {new_id} "
            f"({degraded.get('reason')})"
        )

    async def _stop_old(self, instance_id: str, *, lease: journals.Lease) -> str:
        """Stop, never terminate, the instance a replacement took over from."""
        state, _ = await self._stop(instance_id, lease=lease, what=f"old instance {instance_id}")
        return f"old instance {instance_id} is {state} (kept, not terminated)"

    # ------------------------------------------------------------------ retention

    async def delete(self, target: models.Target, point: restore_points.RestorePoint) -> str:
        """``DeleteSnapshots`` of the point's snapshot; a snapshot already gone is success.

        ``DeleteBindImages`` is never sent: an image made from the snapshot (the last
        resort's) keeps it, and CBS's refusal says so.
        """
        driving.require_own_point(self.name, target, point)
        snapshot_id = point.data.get("snapshot_id")
        if not isinstance(snapshot_id, str) or not snapshot_id:
            raise errors.DriverError(f"restore point {point.id} records no snapshot_id")
        if await self._describe_snapshot(snapshot_id) is None:
            return f"snapshot {snapshot_id} already gone"
        answer = await self._mutate(
            "cbs",
            "DeleteSnapshots",
            {"SnapshotIds": [snapshot_id]},
            about={"snapshot": snapshot_id},
            tolerate=frozenset({"InvalidSnapshotId.NotFound"}),
        )
        if answer.get("Tolerated"):
            return f"snapshot {snapshot_id} already gone"
        return f"deleted snapshot {snapshot_id}"

    # ------------------------------------------------------------------ upgrade, status

    async def upgrade(self, target: models.Target, *, key: str) -> str:
        if self.config.upgrade is None:
            raise errors.DriverError(f"driver {self.name} has no `upgrade` command configured")
        return await supervising.upgrade(
            self._journal,
            key,
            self.config.upgrade,
            target,
            env={
                **self.config.env,
                "ROLLSAFE_INSTANCE_ID": self._instance_id(target),
                "ROLLSAFE_REGION": self.config.region,
            },
            output_dir=self._output_dir,
            limit_s=self.config.upgrade_timeout,
            retry_after=self.config.poll_interval,
        )

    async def status(self, target: models.Target) -> Mapping[str, Any]:
        out: dict[str, Any] = {"region": self.config.region, "strategy": self.config.strategy}
        try:
            instance_id = self._instance_id(target)
            out["instance_id"] = instance_id
            instance = await self._describe_instance(instance_id)
        except errors.RollsafeError as exc:
            out["error"] = str(exc)
            return out
        if instance is None:
            out["error"] = f"instance {instance_id} not found"
            return out
        out["state"] = instance.get("InstanceState")
        out["system_disk"] = (instance.get("SystemDisk") or {}).get("DiskId")
        out["image_id"] = instance.get("ImageId")
        return out

    # ------------------------------------------------------------------ reading the cloud

    def _instance_id(self, target: models.Target) -> str:
        value = target.vars.get("instance_id")
        if not isinstance(value, str) or not value:
            raise errors.DriverError(
                f"target {target.id} has no `vars.instance_id` (the CVM instance id, e.g. "
                "ins-abcd1234) for driver " + self.name
            )
        return value

    async def _describe_instance(
        self, instance_id: str, *, lease: journals.Lease | None = None
    ) -> dict[str, Any] | None:
        return await self._describe("cvm", "Instance", instance_id, about="instance", lease=lease)

    async def _describe_disk(
        self, disk_id: str, *, lease: journals.Lease | None = None
    ) -> dict[str, Any] | None:
        return await self._describe("cbs", "Disk", disk_id, about="disk", lease=lease)

    async def _describe_snapshot(
        self, snapshot_id: str, *, lease: journals.Lease | None = None
    ) -> dict[str, Any] | None:
        return await self._describe("cbs", "Snapshot", snapshot_id, about="snapshot", lease=lease)

    async def _describe(
        self, service: str, kind: str, wanted: str, *, about: str, lease: journals.Lease | None
    ) -> dict[str, Any] | None:
        """One resource by id (``Describe<kind>s``, ``<kind>Ids``, ``<kind>Set``), or None."""
        try:
            answer = await self._read(
                service,
                f"Describe{kind}s",
                {f"{kind}Ids": [wanted]},
                about={about: wanted},
                lease=lease,
            )
        except _NotFound:
            return None
        found = [
            item
            for item in answer.get(f"{kind}Set") or []
            if isinstance(item, dict) and item.get(f"{kind}Id") == wanted
        ]
        return found[0] if found else None

    async def _require_instance(self, instance_id: str, *, lease: journals.Lease) -> dict[str, Any]:
        instance = await self._describe_instance(instance_id, lease=lease)
        if instance is None:
            raise errors.DriverError(f"instance {instance_id} no longer exists")
        return instance

    async def _require_disk(self, disk_id: str, *, lease: journals.Lease) -> dict[str, Any]:
        disk = await self._describe_disk(disk_id, lease=lease)
        if disk is None:
            raise errors.DriverError(f"disk {disk_id} no longer exists")
        return disk

    # ------------------------------------------------------------------ calling the cloud

    async def _read(
        self,
        service: str,
        action: str,
        params: Mapping[str, Any],
        *,
        about: Mapping[str, str],
        lease: journals.Lease | None = None,
    ) -> dict[str, Any]:
        """A read-only call, retried here when throttled or when the service failed."""
        for attempt in range(1, _READ_ATTEMPTS + 1):
            try:
                return await self._invoke(service, action, params, about=about, lease=lease)
            except tencent_cloud.Failure as failure:
                if failure.code in _NOT_FOUND:
                    raise _NotFound(failure.code) from None
                if not failure.temporary or attempt == _READ_ATTEMPTS:
                    raise _translate(failure, action=action, about=about) from None
                await asyncio.sleep(self._retry_after(failure) or self.config.poll_interval)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _mutate(
        self,
        service: str,
        action: str,
        params: Mapping[str, Any],
        *,
        about: Mapping[str, str],
        lease: journals.Lease | None = None,
        tolerate: frozenset[str] = frozenset(),
        reported: Callable[[dict[str, Any]], Mapping[str, str]] | None = None,
    ) -> dict[str, Any]:
        """A call with an effect: never retried here (the step is, by key, after a check)."""
        try:
            return await self._invoke(
                service, action, params, about=about, lease=lease, reported=reported
            )
        except tencent_cloud.Failure as failure:
            if failure.code in tolerate:
                return {"RequestId": failure.request_id or "", "Tolerated": failure.code}
            error = _translate(failure, action=action, about=about)
            if isinstance(error, errors.DriverTemporaryError):
                error.retry_after = self._retry_after(failure)
            raise error from None

    async def _invoke(
        self,
        service: str,
        action: str,
        params: Mapping[str, Any],
        *,
        about: Mapping[str, str],
        lease: journals.Lease | None,
        reported: Callable[[dict[str, Any]], Mapping[str, str]] | None = None,
    ) -> dict[str, Any]:
        return await self._cloud.request(
            service,
            action,
            params,
            details=about,
            runner=lease.call if lease is not None else None,
            reported=reported,
        )

    def _retry_after(self, failure: tencent_cloud.Failure) -> float | None:
        return self.config.throttle_retry_after if failure.throttled else None

    async def _poll(self, look: polling.Look[_T], *, what: str, limit: float) -> _T:
        return await polling.until(
            look,
            what=what,
            limit=limit,
            interval=self.config.poll_interval,
            max_interval=self.config.max_poll_interval,
            hint="; raise the driver's waits (and policy.step_timeout) if this is normal",
        )

    # ------------------------------------------------------------------ the upgrade command


class _NotFound(Exception):
    """A Describe call answered that the resource does not exist."""


def _translate(
    failure: tencent_cloud.Failure, *, action: str, about: Mapping[str, str]
) -> errors.RollsafeError:
    where = ", ".join(f"{k} {v}" for k, v in about.items())
    return tencent_cloud.translate(
        failure,
        where=f"{action} ({where})",
        denied_hint="the CAM policy of these credentials must allow it (see docs/drivers.md)",
    )


def client_settings(config: models.TencentDriver) -> dict[str, Any]:
    """How a ``kind: tencent`` driver reaches the cloud: CVM and CBS of its region."""
    return {
        "region": config.region,
        "endpoints": {"cvm": config.endpoints.cvm, "cbs": config.endpoints.cbs},
        "protocol": config.protocol,
        "api_timeout": config.api_timeout,
    }


def client_for(config: models.TencentDriver) -> tencent_cloud.Client:
    """The Tencent Cloud client of a ``kind: tencent`` driver."""
    return tencent_cloud.Client(**client_settings(config))


def _launch_settings(instance: Mapping[str, Any]) -> dict[str, Any]:
    """What a replacement launch needs, from DescribeInstances; key pair ids, never passwords."""
    placement = instance.get("Placement") or {}
    vpc = instance.get("VirtualPrivateCloud") or {}
    login = instance.get("LoginSettings") or {}
    return {
        "image_id": instance.get("ImageId"),
        "instance_type": instance.get("InstanceType"),
        "instance_name": instance.get("InstanceName"),
        "zone": placement.get("Zone"),
        "project_id": placement.get("ProjectId"),
        "vpc_id": vpc.get("VpcId"),
        "subnet_id": vpc.get("SubnetId"),
        "security_group_ids": [str(g) for g in instance.get("SecurityGroupIds") or []],
        "key_ids": [str(k) for k in login.get("KeyIds") or []],
        "tags": {
            str(t["Key"]): str(t["Value"])
            for t in instance.get("Tags") or []
            if isinstance(t, dict) and "Key" in t and "Value" in t
        },
    }


def _client_token(key: str) -> str:
    # RunInstances' ClientToken (at most 64 ASCII characters): the same step key, the same token,
    # so a repeated call after a crash answers the instance already launched.
    return f"rollsafe-{hashlib.sha256(key.encode()).hexdigest()[:40]}"


def _run_params(
    launch: Mapping[str, Any], *, target: models.Target, place: _Place, token: str
) -> dict[str, Any]:
    placement: dict[str, Any] = {"Zone": launch.get("zone")}
    if launch.get("project_id") is not None:
        placement["ProjectId"] = launch["project_id"]
    tags = dict(launch.get("tags") or {})
    tags.update({"rollsafe-target": target.id, "rollsafe-replaces": place.instance_id})
    params: dict[str, Any] = {
        "ImageId": launch["image_id"],
        "Placement": placement,
        "InstanceCount": 1,
        "ClientToken": token,
        "TagSpecification": [
            {
                "ResourceType": "instance",
                "Tags": [{"Key": k, "Value": v} for k, v in sorted(tags.items())],
            }
        ],
    }
    if launch.get("instance_type"):
        params["InstanceType"] = launch["instance_type"]
    if launch.get("instance_name"):
        params["InstanceName"] = launch["instance_name"]
    if launch.get("vpc_id") and launch.get("subnet_id"):
        params["VirtualPrivateCloud"] = {
            "VpcId": launch["vpc_id"],
            "SubnetId": launch["subnet_id"],
        }
    if launch.get("security_group_ids"):
        params["SecurityGroupIds"] = list(launch["security_group_ids"])
    if launch.get("key_ids"):
        params["LoginSettings"] = {"KeyIds": list(launch["key_ids"])}
    return params


def _rolling_back(disk: Mapping[str, Any]) -> bool:
    return disk.get("DiskState") == "ROLLBACKING" or disk.get("Rollbacking") is True


def _iso_after(seconds: float) -> str:
    moment = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=seconds)
    return moment.replace(microsecond=0).isoformat()


# --------------------------------------------------------------------------- discovery, factory


async def discover(config: models.TencentDriver, *, tags: Mapping[str, str]) -> list[models.Target]:
    """Targets for the CVM instances of ``config.region`` carrying every tag of ``tags``.

    One ``DescribeInstances`` filter ``tag:<key>`` per tag (``tag-key`` for a tag given
    without a value: any value), paged 100 at a time. A target's id is the instance name when
    it is a valid, unique target id, else the instance id; its ``vars.instance_id`` names the
    instance and its labels are the instance's tags.
    """
    cloud = client_for(config)
    # A tag given without a value ("team") asks for the key with any value.
    filters = [
        {"Name": f"tag:{k}", "Values": [v]} if v else {"Name": "tag-key", "Values": [k]}
        for k, v in sorted(tags.items())
    ]
    instances: list[dict[str, Any]] = []
    offset = 0
    while True:
        params: dict[str, Any] = {"Offset": offset, "Limit": _PAGE}
        if filters:
            params["Filters"] = filters

        try:
            answer = await cloud.request("cvm", "DescribeInstances", params, details={})
        except tencent_cloud.Failure as failure:
            raise _translate(
                failure, action="DescribeInstances", about={"tags": str(dict(tags))}
            ) from None
        page = [i for i in answer.get("InstanceSet") or [] if isinstance(i, dict)]
        instances.extend(page)
        offset += len(page)
        if not page or offset >= int(answer.get("TotalCount") or 0):
            break
    return _targets(config, instances)


_TARGET_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")


def _targets(config: models.TencentDriver, instances: list[dict[str, Any]]) -> list[models.Target]:
    names = [str(i.get("InstanceName") or "") for i in instances]
    targets = []
    for instance, name in zip(instances, names, strict=True):
        instance_id = str(instance["InstanceId"])
        usable = bool(_TARGET_ID.match(name)) and names.count(name) == 1
        addresses = instance.get("PrivateIpAddresses") or []
        labels = {
            str(t["Key"]): str(t["Value"])
            for t in instance.get("Tags") or []
            if isinstance(t, dict) and "Key" in t and "Value" in t
        }
        targets.append(
            models.Target(
                id=name if usable else instance_id,
                address=str(addresses[0]) if addresses else "127.0.0.1",
                labels=labels,
                driver=config.name,
                vars={"instance_id": instance_id},
            )
        )
    return sorted(targets, key=lambda t: t.id)


def make_driver(config: models.Driver, state_dir: Path) -> TencentDriver:
    """The registry's factory for ``kind: tencent``."""
    if not isinstance(config, models.TencentDriver):
        raise errors.ConfigError(f"driver {config.name!r} is not a `kind: tencent` driver")
    return TencentDriver(config, state_dir)
