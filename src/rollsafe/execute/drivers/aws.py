"""The AWS EC2 driver: restore points are snapshots of an instance's root volume.

Role in the loop (execute): ``checkpoint`` snapshots the root EBS volume of the target's
instance (``vars.instance_id``) and waits until the snapshot is ``completed``; ``precheck``
proves the snapshot is complete, descends from the instance's current root volume, and that
the restore call is permitted (a ``DryRun``); ``rollback`` puts the snapshot back as the root
volume, by one of two strategies:

- ``replace-root-volume`` (default): one ``CreateReplaceRootVolumeTask`` on the running
  instance, the replaced volume kept (so a rollback can itself be undone), polled through
  ``pending``, ``in-progress`` to ``succeeded``; then the instance must be running with its
  status checks ok. ``failed`` (original volume still attached) and ``failed-detached`` (the
  instance has NO root volume) end the step for a person, with what to do; ``failing`` is
  followed to its end; a state this module does not know is tolerated and polled on.
- ``swap-volume``: stop the instance, create a volume from the snapshot in its availability
  zone, detach the root volume (kept, tagged), attach the new one at the root device, start,
  and wait for ``running`` and status checks ok.

The last resort, ``replace_instance`` (off by default): a last step ``replace-instance``
that does nothing unless a restore left the instance without a root volume (a task
``failed-detached``, a swap whose new volume could not be attached); those restore steps then
end with what happened instead of failing the run. It registers an image of the point's
snapshot, stops the old instance (kept, never terminated), launches a new one like it
(recorded in the point at checkpoint time) and waits for it to run with its checks ok. The
target's instance id changes: the step says so, and the operator updates ``vars.instance_id``.

Idempotency by step key: a replace-root-volume task carries a ``ClientToken`` derived from
the key and a ``rollsafe:step-key`` tag, and an existing task with that tag is followed
instead of creating another. A swap finds the volume it created by the same tag, and every
action checks the state first (already stopped, already detached, already attached), so a
step re-run after a crash performs no second restore.

EC2 is reached through ``reach/clouds/aws.py`` (shared with the SSM transport and the CloudWatch
probe): boto3 session and credentials from the SDK's standard chain, never the configuration;
every call in a worker thread, reported with its request id; throttling and 5xx become
``DriverTemporaryError``, permission, state and everything else ``DriverError``
(``PrecheckFailed`` in a precheck). No botocore exception reaches this module. The ``upgrade``
command runs on the controller under the command supervisor (``execute.supervising``).

Long operations poll through the one poller (``reach.polling``: ``poll_interval`` growing to
``max_poll_interval``) for at most ``snapshot_wait``, ``restore_wait`` or ``instance_wait``;
``policy.step_timeout`` must be longer than the wait of the longest step, or the executor
gives up first.
"""

from __future__ import annotations

import asyncio
import datetime
import hashlib
import logging
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from rollsafe.config import models
from rollsafe.domain import errors, restore_points
from rollsafe.execute import driving, journals, supervising
from rollsafe.reach import polling
from rollsafe.reach.clouds import aws as aws_cloud

__all__ = [
    "STEP_REPLACE_INSTANCE",
    "STEP_REPLACE_ROOT",
    "STEP_START",
    "STEP_STOP",
    "STEP_SWAP",
    "STEP_WAIT_OK",
    "AwsDriver",
    "Ec2Api",
    "Ec2Error",
    "InstanceUnusable",
    "client_token",
    "create",
    "discover",
]

_log = logging.getLogger(__name__)
_T = TypeVar("_T")

STRATEGY_REPLACE = "replace-root-volume"
STRATEGY_SWAP = "swap-volume"

STEP_REPLACE_ROOT = "replace-root-volume"
STEP_WAIT_OK = "wait-instance-ok"
STEP_STOP = "stop-instance"
STEP_SWAP = "swap-root-volume"
STEP_START = "start-instance"
STEP_REPLACE_INSTANCE = "replace-instance"

TAG_TARGET = "rollsafe:target"
TAG_POINT = "rollsafe:point"
TAG_INSTANCE = "rollsafe:instance"
TAG_DRIVER = "rollsafe:driver"
TAG_DEVICE = "rollsafe:device"
TAG_ROLLOUT = "rollsafe:rollout"
TAG_LABEL = "rollsafe:label"
TAG_STEP_KEY = "rollsafe:step-key"
TAG_REPLACED_VOLUME = "rollsafe:replaced-volume"
TAG_REPLACED_BY = "rollsafe:replaced-by"
TAG_REPLACES = "rollsafe:replaces"
TAG_REPLACEMENT = "rollsafe:replacement"

# Replace-root-volume task states (``failing-detached`` is documented, not yet in every SDK).
_TASK_RUNNING = frozenset({"pending", "in-progress"})
_TASK_FAILING = frozenset({"failing", "failing-detached"})

# Parameters and results copied into the audit of each call (ids only, never secrets).
_AUDITED_PARAMS = {
    "InstanceId": "instance_id",
    "InstanceIds": "instance_ids",
    "VolumeId": "volume_id",
    "VolumeIds": "volume_ids",
    "SnapshotId": "snapshot_id",
    "SnapshotIds": "snapshot_ids",
    "ReplaceRootVolumeTaskIds": "task_ids",
    "Device": "device",
    "AvailabilityZone": "availability_zone",
    "Resources": "resources",
    "ImageId": "image_id",
    "ImageIds": "image_ids",
}
_AUDITED_RESULTS = ("SnapshotId", "VolumeId", "ImageId")

_TOKEN_LENGTH = 40  # hex digits of the key's hash in a ClientToken (EC2 allows 64 characters)
_LINEAGE_DEPTH = 16  # restores followed back from the current root volume
_INSTANCE_ID = re.compile(r"^i-[0-9A-Za-z]{1,32}$")
_ROLLOUT_LABEL = re.compile(r"^before rollout (\S+)$")
_TAG_VALUE_MAX = 256

ClientFactory = Callable[[], Any]
"""Returns a boto3 EC2 client; the default builds one from the driver's config."""


def client_token(key: str) -> str:
    """The EC2 ``ClientToken`` of step ``key``: the same key always gives the same token."""
    return f"rollsafe-{hashlib.sha256(key.encode()).hexdigest()[:_TOKEN_LENGTH]}"


# --------------------------------------------------------------------------- the API boundary


Ec2Error = aws_cloud.ApiError
"""EC2 refused a call for good; ``code`` is its error code (``InvalidVolume.NotFound``)."""


class InstanceUnusable(errors.DriverError):
    """A restore failed and left the instance without a root volume: only a person, or the
    ``replace-instance`` last resort, can bring the target back."""


class Ec2Api:
    """EC2 through the one AWS client (``reach.clouds.aws``), with what EC2 puts in the audit."""

    def __init__(
        self, config: models.AwsDriver, *, client_factory: ClientFactory | None = None
    ) -> None:
        self._config = config
        self._client = aws_cloud.Client(
            "ec2",
            label="EC2",
            region=config.region,
            endpoint_url=config.endpoint_url,
            timeout=config.api_timeout,
            attempts=config.api_attempts,
            client_factory=client_factory,
        )

    @property
    def region(self) -> str | None:
        return self._client.region

    async def call(self, operation: str, *, dry_run: bool = False, **params: Any) -> dict[str, Any]:
        """Call ``operation`` (``CreateSnapshot``); the response, or a rollsafe error.

        With ``dry_run`` the call is made with ``DryRun=True`` and returns ``{}`` when EC2
        answers ``DryRunOperation`` (the call would have been permitted).
        """
        details = _audit_details(params)
        if dry_run:
            details["dry_run"] = True
        return await self._client.call(
            operation,
            params,
            details=details,
            reported=_created,
            retry_after=self._config.poll_interval,
            dry_run=dry_run,
        )

    def close(self) -> None:
        self._client.close()


def _audit_details(params: Mapping[str, Any]) -> dict[str, Any]:
    details: dict[str, Any] = {
        name: params[key] for key, name in _AUDITED_PARAMS.items() if key in params
    }
    filters = params.get("Filters")
    if filters:
        details["filters"] = {f["Name"]: list(f.get("Values", [])) for f in filters}
    return details


def _created(response: Mapping[str, Any]) -> dict[str, Any]:
    """The ids a call's answer created, for the audit."""
    details: dict[str, Any] = {}
    for key in _AUDITED_RESULTS:
        if isinstance(response.get(key), str):
            details[f"created_{aws_cloud.operation_name(key)}"] = response[key]
    launched = response.get("Instances")
    if isinstance(launched, list) and launched:
        details["created_instance_ids"] = [i.get("InstanceId") for i in launched]
    task = response.get("ReplaceRootVolumeTask")
    if isinstance(task, Mapping):
        details["task_id"] = task.get("ReplaceRootVolumeTaskId")
        details["task_state"] = task.get("TaskState")
    return details


# --------------------------------------------------------------------------- the driver


class AwsDriver:
    """Implements ``rollsafe.execute.driving.Driver`` for ``kind: aws``."""

    kind: str = "aws"

    def __init__(
        self,
        config: models.AwsDriver,
        state_dir: Path,
        *,
        client_factory: ClientFactory | None = None,
    ) -> None:
        self.config = config
        self.name: str = config.name
        self.state_dir = state_dir.absolute()
        self.api = Ec2Api(config, client_factory=client_factory)
        self._journal = journals.StepJournal(self.state_dir / "aws-journal", suffix=".done")
        self._output_dir = self.state_dir / "driver-output"

    async def close(self) -> None:
        """Release the SDK's connections (the driver works again afterwards)."""
        await asyncio.to_thread(self.api.close)

    # ------------------------------------------------------------------ checkpoint

    async def checkpoint(
        self, target: models.Target, *, point_id: str, label: str = ""
    ) -> restore_points.RestorePoint:
        instance_id = instance_id_of(target)
        instance = await self._instance(instance_id)
        device, volume_id, delete_on_termination = _root_volume(instance)
        if volume_id is None:
            raise errors.DriverError(
                f"{instance_id} has no volume attached at its root device {device}"
            )
        volume = await self._volume(volume_id)
        if volume is None:
            raise errors.DriverError(f"root volume {volume_id} of {instance_id} was not found")
        snapshot_id = await self._existing_snapshot(point_id)
        if snapshot_id is None:
            tags = self._point_tags(target, point_id, instance_id, device=device, label=label)
            created = await self.api.call(
                "CreateSnapshot",
                VolumeId=volume_id,
                Description=f"rollsafe restore point {point_id} of {target.id} "
                f"({instance_id} {device})",
                TagSpecifications=[{"ResourceType": "snapshot", "Tags": tags}],
            )
            snapshot_id = str(created["SnapshotId"])
        try:
            snapshot = await self._wait(
                lambda: self._snapshot_done(snapshot_id),
                limit=self.config.snapshot_wait,
                what=f"snapshot {snapshot_id} of {volume_id}",
            )
        except BaseException:
            # A snapshot that failed or was given up on must not linger as if it were a point.
            await asyncio.shield(self._discard_snapshot(snapshot_id))
            raise
        data = {
            "instance_id": instance_id,
            "region": self.api.region,
            "availability_zone": instance.get("Placement", {}).get("AvailabilityZone"),
            "image_id": instance.get("ImageId"),
            "instance_type": instance.get("InstanceType"),
            "root_device": device,
            "volume_id": volume_id,
            "volume_type": volume.get("VolumeType"),
            "volume_size": volume.get("Size"),
            "iops": volume.get("Iops"),
            "throughput": volume.get("Throughput"),
            "encrypted": bool(volume.get("Encrypted")),
            "delete_on_termination": delete_on_termination,
            "snapshot_id": snapshot_id,
            "snapshot_started": _iso(snapshot.get("StartTime")),
            "launch": _launch_settings(instance),
        }
        return driving.point_taken(self.name, target, point_id=point_id, label=label, data=data)

    def _point_tags(
        self, target: models.Target, point_id: str, instance_id: str, *, device: str, label: str
    ) -> list[dict[str, str]]:
        tags = {
            "Name": f"rollsafe {target.id} {point_id}",
            TAG_TARGET: target.id,
            TAG_POINT: point_id,
            TAG_INSTANCE: instance_id,
            TAG_DRIVER: self.name,
            TAG_DEVICE: device,
        }
        rollout = _ROLLOUT_LABEL.match(label)
        if rollout is not None:
            tags[TAG_ROLLOUT] = rollout.group(1)
        if label:
            tags[TAG_LABEL] = label
        return [{"Key": k, "Value": v[:_TAG_VALUE_MAX]} for k, v in tags.items()]

    async def _existing_snapshot(self, point_id: str) -> str | None:
        """A snapshot already made for ``point_id`` (a checkpoint retried), if any."""
        found = await self.api.call(
            "DescribeSnapshots",
            OwnerIds=["self"],
            Filters=[
                {"Name": f"tag:{TAG_POINT}", "Values": [point_id]},
                {"Name": f"tag:{TAG_DRIVER}", "Values": [self.name]},
            ],
        )
        usable = [s for s in found.get("Snapshots", []) if s.get("State") != "error"]
        return str(usable[0]["SnapshotId"]) if usable else None

    async def _snapshot_done(self, snapshot_id: str) -> tuple[dict[str, Any] | None, str]:
        snapshot = await self._snapshot(snapshot_id)
        if snapshot is None:
            return None, "not visible yet"  # EC2 is eventually consistent right after create
        state = snapshot.get("State")
        if state == "completed":
            return snapshot, "completed"
        if state == "error":
            reason = snapshot.get("StateMessage") or "no reason given"
            raise errors.DriverError(f"snapshot {snapshot_id} failed: {reason}")
        return None, f"{state} {snapshot.get('Progress') or ''}".strip()

    async def _discard_snapshot(self, snapshot_id: str) -> None:
        try:
            await self.api.call("DeleteSnapshot", SnapshotId=snapshot_id)
        except errors.RollsafeError as exc:
            _log.warning("could not delete the unusable snapshot %s: %s", snapshot_id, exc)

    # ------------------------------------------------------------------ retention

    async def delete(self, target: models.Target, point: restore_points.RestorePoint) -> str:
        """``DeleteSnapshot`` of the point's snapshot; a snapshot already gone is success.

        EC2 refuses (``InvalidSnapshot.InUse``) while an image registered from the snapshot
        exists (``replace-instance`` makes one): the point is kept and the error says why.
        """
        driving.require_own_point(self.name, target, point)
        snapshot_id = point.data.get("snapshot_id")
        if not isinstance(snapshot_id, str):
            raise errors.DriverError(f"restore point {point.id} records no snapshot")
        try:
            await self.api.call("DeleteSnapshot", SnapshotId=snapshot_id)
        except Ec2Error as exc:
            if exc.code == "InvalidSnapshot.NotFound":
                return f"snapshot {snapshot_id} already gone"
            raise
        return f"deleted snapshot {snapshot_id}"

    # ------------------------------------------------------------------ precheck

    async def precheck(self, target: models.Target, point: restore_points.RestorePoint) -> None:
        try:
            await self._precheck(target, point)
        except errors.PrecheckFailed:
            raise
        except errors.DriverError as exc:
            raise errors.PrecheckFailed(str(exc)) from exc

    async def _precheck(self, target: models.Target, point: restore_points.RestorePoint) -> None:
        instance_id, snapshot_id = self._check_point(target, point)
        snapshot = await self._snapshot(snapshot_id)
        if snapshot is None:
            raise errors.PrecheckFailed(f"snapshot {snapshot_id} of point {point.id} is gone")
        if snapshot.get("State") != "completed":
            raise errors.PrecheckFailed(
                f"snapshot {snapshot_id} is {snapshot.get('State')}, not completed"
            )
        if snapshot.get("VolumeId") != point.data.get("volume_id"):
            raise errors.PrecheckFailed(
                f"snapshot {snapshot_id} is of volume {snapshot.get('VolumeId')}, but point "
                f"{point.id} recorded {point.data.get('volume_id')}"
            )
        instance = await self._instance(instance_id)
        state = _state(instance)
        allowed = (
            {"running"} if self.config.strategy == STRATEGY_REPLACE else {"running", "stopped"}
        )
        if state not in allowed:
            raise errors.PrecheckFailed(
                f"{instance_id} is {state}; the {self.config.strategy} strategy needs it "
                + " or ".join(sorted(allowed))
            )
        device, root, _ = _root_volume(instance)
        if device != point.data.get("root_device"):
            raise errors.PrecheckFailed(
                f"the root device of {instance_id} is {device} now, {point.data.get('root_device')}"
                f" when point {point.id} was taken"
            )
        if root is None:
            raise errors.PrecheckFailed(
                f"{instance_id} has no root volume at {device}: a person must attach one first"
            )
        lineage = await self._lineage(root)
        if point.data.get("volume_id") not in lineage:
            raise errors.PrecheckFailed(
                f"snapshot {snapshot_id} was taken from {point.data.get('volume_id')}, which is "
                f"not in the lineage of the current root volume of {instance_id} "
                f"({' <- '.join(lineage)})"
            )
        await self._dry_runs(instance, point, root=root, device=device)

    def _check_point(
        self, target: models.Target, point: restore_points.RestorePoint
    ) -> tuple[str, str]:
        if point.target != target.id:
            raise errors.PrecheckFailed(
                f"restore point {point.id} belongs to target {point.target}, not {target.id}"
            )
        if point.driver != self.name:
            raise errors.PrecheckFailed(
                f"restore point {point.id} was taken by driver {point.driver}, not {self.name}"
            )
        try:
            instance_id = instance_id_of(target)
        except errors.DriverError as exc:
            raise errors.PrecheckFailed(str(exc)) from exc
        if point.data.get("instance_id") != instance_id:
            raise errors.PrecheckFailed(
                f"restore point {point.id} is of {point.data.get('instance_id')}, but "
                f"{target.id} is now {instance_id}: take a new restore point"
            )
        snapshot_id = point.data.get("snapshot_id")
        if not isinstance(snapshot_id, str):
            raise errors.PrecheckFailed(f"restore point {point.id} records no snapshot")
        return instance_id, snapshot_id

    async def _lineage(self, volume_id: str) -> list[str]:
        """The current root volume, then each volume it was restored from, newest first."""
        chain = [volume_id]
        for _ in range(_LINEAGE_DEPTH):
            volume = await self._volume(chain[-1])
            parent_snapshot = volume.get("SnapshotId") if volume is not None else None
            if not parent_snapshot:
                break
            snapshot = await self._snapshot(parent_snapshot)
            parent = snapshot.get("VolumeId") if snapshot is not None else None
            if not parent or parent in chain:
                break
            chain.append(str(parent))
        return chain

    async def _dry_runs(
        self,
        instance: Mapping[str, Any],
        point: restore_points.RestorePoint,
        *,
        root: str,
        device: str,
    ) -> None:
        """Each call the rollback will make, with DryRun: proves the permissions now."""
        instance_id = str(instance["InstanceId"])
        snapshot_id = str(point.data["snapshot_id"])
        calls: list[tuple[str, dict[str, Any]]]
        if self.config.strategy == STRATEGY_REPLACE:
            calls = [
                (
                    "CreateReplaceRootVolumeTask",
                    {
                        "InstanceId": instance_id,
                        "SnapshotId": snapshot_id,
                        "DeleteReplacedRootVolume": False,
                    },
                )
            ]
        else:
            zone = instance.get("Placement", {}).get("AvailabilityZone")
            calls = [
                ("StopInstances", {"InstanceIds": [instance_id]}),
                ("CreateVolume", {"AvailabilityZone": zone, "SnapshotId": snapshot_id}),
                (
                    "CreateTags",
                    {"Resources": [root], "Tags": [{"Key": TAG_REPLACED_BY, "Value": "-"}]},
                ),
                ("DetachVolume", {"VolumeId": root, "InstanceId": instance_id, "Device": device}),
                ("AttachVolume", {"VolumeId": root, "InstanceId": instance_id, "Device": device}),
                ("StartInstances", {"InstanceIds": [instance_id]}),
            ]
            if point.data.get("delete_on_termination"):
                mapping = {"DeviceName": device, "Ebs": {"DeleteOnTermination": True}}
                calls.append(
                    (
                        "ModifyInstanceAttribute",
                        {"InstanceId": instance_id, "BlockDeviceMappings": [mapping]},
                    )
                )
        for operation, params in calls:
            try:
                await self.api.call(operation, dry_run=True, **params)
            except errors.DriverError as exc:
                raise errors.PrecheckFailed(
                    f"the rollback could not run: {exc} (DryRun of {operation})"
                ) from exc

    # ------------------------------------------------------------------ rollback

    def rollback_steps(
        self, target: models.Target, point: restore_points.RestorePoint
    ) -> Sequence[str]:
        steps = (
            (STEP_STOP, STEP_SWAP, STEP_START)
            if self.config.strategy == STRATEGY_SWAP
            else (STEP_REPLACE_ROOT, STEP_WAIT_OK)
        )
        # The last resort is always the last step; it does nothing unless a restore step
        # left the instance without a root volume.
        return (*steps, STEP_REPLACE_INSTANCE) if self.config.replace_instance else steps

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
            instance_id, snapshot_id = self._check_point(target, point)
        except errors.PrecheckFailed as exc:
            raise errors.DriverError(str(exc)) from exc
        try:
            if step == STEP_REPLACE_ROOT:
                return await self._replace_root(target, point, instance_id, snapshot_id, key=key)
            if step == STEP_STOP:
                return await self._stop(instance_id)
            if step == STEP_SWAP:
                return await self._swap(target, point, instance_id, snapshot_id, key=key)
            if step == STEP_REPLACE_INSTANCE:
                return await self._replace_instance(target, point, instance_id, key=key)
            if self.config.replace_instance:
                skipped = await self._skipped_for_replacement(instance_id)
                if skipped is not None:
                    return skipped
            return await self._start_and_check(instance_id, start=step == STEP_START)
        except InstanceUnusable as exc:
            if not self.config.replace_instance:
                raise
            # Not a success: the step ends so that the last resort, the last step, runs.
            return f"{exc} -> the {STEP_REPLACE_INSTANCE} step launches a replacement instance"

    # replace-root-volume ------------------------------------------------

    async def _replace_root(
        self,
        target: models.Target,
        point: restore_points.RestorePoint,
        instance_id: str,
        snapshot_id: str,
        *,
        key: str,
    ) -> str:
        task = await self._task_of(instance_id, key)
        if task is None:
            instance = await self._instance(instance_id)
            state = _state(instance)
            if state != "running":
                raise errors.DriverError(
                    f"{instance_id} is {state}: replace-root-volume needs it running"
                )
            _, previous, _ = _root_volume(instance)
            tags = {TAG_STEP_KEY: key, TAG_TARGET: target.id, TAG_POINT: point.id}
            if previous is not None:
                tags[TAG_REPLACED_VOLUME] = previous
            created = await self.api.call(
                "CreateReplaceRootVolumeTask",
                InstanceId=instance_id,
                SnapshotId=snapshot_id,
                ClientToken=client_token(key),
                DeleteReplacedRootVolume=False,
                TagSpecifications=[
                    {
                        "ResourceType": "replace-root-volume-task",
                        "Tags": [{"Key": k, "Value": v[:_TAG_VALUE_MAX]} for k, v in tags.items()],
                    }
                ],
            )
            task = created["ReplaceRootVolumeTask"]
        task_id = str(task["ReplaceRootVolumeTaskId"])
        previous_volume = _tags(task.get("Tags")).get(TAG_REPLACED_VOLUME)
        await self._wait(
            lambda: self._task_done(task_id, instance_id, snapshot_id, previous_volume),
            limit=self.config.restore_wait,
            what=f"root volume replacement {task_id} of {instance_id}",
        )
        _, now_root, _ = _root_volume(await self._instance(instance_id))
        restored = await self._volume(now_root) if now_root is not None else None
        if restored is None or restored.get("SnapshotId") != snapshot_id:
            # "succeeded" is EC2's word; the root volume itself must show the restore.
            raise errors.DriverError(
                f"task {task_id} succeeded, but the root volume of {instance_id} is "
                f"{now_root}, not a volume made from {snapshot_id}: a person must look"
            )
        kept = f"; the previous root volume {previous_volume} is kept" if previous_volume else ""
        return (
            f"root volume of {instance_id} replaced from {snapshot_id} by task {task_id}: "
            f"now {now_root}{kept}"
        )

    async def _task_of(self, instance_id: str, key: str) -> dict[str, Any] | None:
        """The replace-root-volume task step ``key`` already created, if any."""
        token: str | None = None
        while True:
            params: dict[str, Any] = {"Filters": [{"Name": "instance-id", "Values": [instance_id]}]}
            if token:
                params["NextToken"] = token
            page = await self.api.call("DescribeReplaceRootVolumeTasks", **params)
            for task in page.get("ReplaceRootVolumeTasks", []):
                if _tags(task.get("Tags")).get(TAG_STEP_KEY) == key:
                    return dict(task)
            token = page.get("NextToken")
            if not token:
                return None

    async def _task_done(
        self, task_id: str, instance_id: str, snapshot_id: str, previous: str | None
    ) -> tuple[dict[str, Any] | None, str]:
        found = await self.api.call(
            "DescribeReplaceRootVolumeTasks", ReplaceRootVolumeTaskIds=[task_id]
        )
        tasks = found.get("ReplaceRootVolumeTasks", [])
        if not tasks:
            return None, "not visible yet"
        task = tasks[0]
        state = str(task.get("TaskState"))
        if state == "succeeded":
            return dict(task), state
        if state == "failing-detached":
            # Followed to its end like any failing task; said loudly if the wait runs out.
            return None, f"{state}: {instance_id} may have no root volume attached"
        if state in _TASK_RUNNING or state in _TASK_FAILING:
            return None, state  # a failing task is followed to its end, to say which one
        if state == "failed":
            raise errors.DriverError(
                f"root volume replacement {task_id} of {instance_id} failed; its original "
                f"root volume{f' {previous}' if previous else ''} is still attached and nothing "
                f"was restored from {snapshot_id}. A person must look (strategy swap-volume "
                "is the fallback)"
            )
        if state == "failed-detached":
            raise InstanceUnusable(
                f"root volume replacement {task_id} of {instance_id} failed and left the "
                "instance WITHOUT a root volume (failed-detached). A person must attach one "
                f"at its root device: the previous root volume{f' {previous}' if previous else ''}"
                f", or a volume made from {snapshot_id}; then start it"
            )
        _log.warning("replace-root-volume task %s is in unknown state %r", task_id, state)
        return None, f"unknown state {state!r}"

    # swap-volume ----------------------------------------------------------

    async def _stop(self, instance_id: str) -> str:
        asked = False

        async def stopped() -> tuple[bool | None, str]:
            nonlocal asked
            state = _state(await self._instance(instance_id))
            if state == "stopped":
                return True, state
            if state in ("terminated", "shutting-down"):
                raise errors.DriverError(f"{instance_id} is {state}: it cannot be rolled back")
            if state == "running" and not asked:
                await self.api.call("StopInstances", InstanceIds=[instance_id])
                asked = True
            return None, state

        await self._wait(stopped, limit=self.config.instance_wait, what=f"{instance_id} to stop")
        return f"{instance_id} is stopped" + ("" if asked else " (it was already)")

    async def _swap(
        self,
        target: models.Target,
        point: restore_points.RestorePoint,
        instance_id: str,
        snapshot_id: str,
        *,
        key: str,
    ) -> str:
        instance = await self._instance(instance_id)
        device, root, _ = _root_volume(instance)
        new = await self._volume_of_step(key)
        if new is not None and root == new:
            return await self._swapped(instance_id, device, point, new=new, key=key)
        state = _state(instance)
        if state != "stopped":
            raise errors.DriverError(
                f"{instance_id} is {state}: its root volume is swapped only while it is stopped"
            )
        if device != point.data.get("root_device"):
            raise errors.DriverError(
                f"the root device of {instance_id} is {device}, not "
                f"{point.data.get('root_device')} as when point {point.id} was taken"
            )
        if new is None:
            new = await self._create_volume(target, point, instance, snapshot_id, key=key)
        await self._wait(
            lambda: self._volume_in(new, {"available", "in-use"}),
            limit=self.config.restore_wait,
            what=f"volume {new} from {snapshot_id}",
        )
        if root is not None:
            # Kept, and marked, so that a person (or a later rollback) can put it back.
            await self.api.call(
                "CreateTags",
                Resources=[root],
                Tags=[
                    {"Key": TAG_REPLACED_BY, "Value": key[:_TAG_VALUE_MAX]},
                    {"Key": TAG_INSTANCE, "Value": instance_id},
                    {"Key": TAG_DEVICE, "Value": device},
                ],
            )
            await self.api.call(
                "DetachVolume", VolumeId=root, InstanceId=instance_id, Device=device
            )
            await self._wait(
                lambda: self._volume_in(root, {"available"}),
                limit=self.config.restore_wait,
                what=f"volume {root} to detach from {instance_id}",
            )
        try:
            await self.api.call("AttachVolume", VolumeId=new, InstanceId=instance_id, Device=device)
            await self._wait(
                lambda: self._attached(new, instance_id, device),
                limit=self.config.restore_wait,
                what=f"volume {new} to attach to {instance_id} at {device}",
            )
        except errors.DriverTemporaryError:
            raise  # the executor retries the step, which picks up where this one stopped
        except errors.DriverError as exc:
            raise InstanceUnusable(
                f"volume {new} (from {snapshot_id}) could not be attached to {instance_id} at "
                f"{device}, whose root volume{f' {root}' if root else ''} is detached (kept): "
                f"the instance has no root volume. A person must attach one: {exc}"
            ) from exc
        return await self._swapped(instance_id, device, point, new=new, key=key)

    async def _create_volume(
        self,
        target: models.Target,
        point: restore_points.RestorePoint,
        instance: Mapping[str, Any],
        snapshot_id: str,
        *,
        key: str,
    ) -> str:
        data = point.data
        params: dict[str, Any] = {
            "AvailabilityZone": instance.get("Placement", {}).get("AvailabilityZone"),
            "SnapshotId": snapshot_id,
            "ClientToken": client_token(key),
        }
        if data.get("volume_type"):
            params["VolumeType"] = data["volume_type"]
            if data["volume_type"] in ("io1", "io2", "gp3") and data.get("iops"):
                params["Iops"] = data["iops"]
            if data["volume_type"] == "gp3" and data.get("throughput"):
                params["Throughput"] = data["throughput"]
        tags = {
            "Name": f"rollsafe {target.id} {point.id}",
            TAG_STEP_KEY: key,
            TAG_TARGET: target.id,
            TAG_POINT: point.id,
            TAG_INSTANCE: str(instance["InstanceId"]),
            TAG_DRIVER: self.name,
        }
        params["TagSpecifications"] = [
            {
                "ResourceType": "volume",
                "Tags": [{"Key": k, "Value": v[:_TAG_VALUE_MAX]} for k, v in tags.items()],
            }
        ]
        created = await self.api.call("CreateVolume", **params)
        return str(created["VolumeId"])

    async def _volume_of_step(self, key: str) -> str | None:
        found = await self.api.call(
            "DescribeVolumes", Filters=[{"Name": f"tag:{TAG_STEP_KEY}", "Values": [key]}]
        )
        usable = [
            v for v in found.get("Volumes", []) if v.get("State") not in ("deleting", "deleted")
        ]
        return str(usable[0]["VolumeId"]) if usable else None

    async def _volume_in(self, volume_id: str, states: set[str]) -> tuple[bool | None, str]:
        volume = await self._volume(volume_id)
        if volume is None:
            return None, "not visible yet"
        state = str(volume.get("State"))
        if state in states:
            return True, state
        if state in ("error", "deleting", "deleted"):
            raise errors.DriverError(f"volume {volume_id} is {state}")
        return None, state

    async def _attached(
        self, volume_id: str, instance_id: str, device: str
    ) -> tuple[bool | None, str]:
        volume = await self._volume(volume_id)
        for attachment in (volume or {}).get("Attachments", []):
            if attachment.get("InstanceId") == instance_id:
                state = str(attachment.get("State"))
                if state == "attached" and attachment.get("Device") == device:
                    return True, state
                return None, state
        return None, "not attached yet"

    async def _swapped(
        self,
        instance_id: str,
        device: str,
        point: restore_points.RestorePoint,
        *,
        new: str,
        key: str,
    ) -> str:
        if point.data.get("delete_on_termination"):
            # A newly attached volume outlives its instance; the original root did not.
            await self.api.call(
                "ModifyInstanceAttribute",
                InstanceId=instance_id,
                BlockDeviceMappings=[{"DeviceName": device, "Ebs": {"DeleteOnTermination": True}}],
            )
        found = await self.api.call(
            "DescribeVolumes", Filters=[{"Name": f"tag:{TAG_REPLACED_BY}", "Values": [key]}]
        )
        kept = [str(v["VolumeId"]) for v in found.get("Volumes", [])]
        previous = f"{', '.join(kept)} (detached, kept)" if kept else "nothing"
        return (
            f"root volume of {instance_id} at {device}: {previous} -> {new} "
            f"(from {point.data.get('snapshot_id')})"
        )

    # replace-instance, the last resort ----------------------------------------

    async def _skipped_for_replacement(self, instance_id: str) -> str | None:
        """Why a start/wait step is skipped: the instance has no root volume to run on."""
        instance = await self._instance(instance_id)
        device, root, _ = _root_volume(instance)
        if root is not None:
            return None
        return (
            f"{instance_id} has no root volume at {device}: not started; the "
            f"{STEP_REPLACE_INSTANCE} step launches a replacement instance"
        )

    async def _replace_instance(
        self,
        target: models.Target,
        point: restore_points.RestorePoint,
        instance_id: str,
        *,
        key: str,
    ) -> str:
        """Launch a new instance from an image of the point's snapshot; keep the old one.

        Runs only when the restore left ``instance_id`` without a root volume; a replacement
        this step already launched (found by its step-key tag, and by the ClientToken inside
        EC2) is followed instead of launching another.
        """
        new_id = await self._replacement_of(key)
        if new_id is None:
            old = await self._instance(instance_id)
            device, root, _ = _root_volume(old)
            if root is not None:
                return f"not needed: {instance_id} was restored and runs on {root} at {device}"
            launch = point.data.get("launch")  # absent from points taken by older versions
            settings = launch if isinstance(launch, Mapping) else _launch_settings(old)
            image_id = await self._image_of(target, point, device=device, launch=settings)
            await self._stop(instance_id)
            new_id = await self._launch(target, point, old, settings, image_id=image_id, key=key)
            # The old instance is kept, stopped, for forensics: never terminated here.
            await self.api.call(
                "CreateTags",
                Resources=[instance_id],
                Tags=[{"Key": TAG_REPLACEMENT, "Value": new_id}],
            )
        await self._start_and_check(new_id, start=True)
        found = await self._instance(new_id)
        address = found.get("PrivateIpAddress") or found.get("PublicIpAddress") or "none"
        return (
            f"REPLACED: {instance_id} (stopped, kept) by {new_id} launched from "
            f"{found.get('ImageId')} (snapshot {point.data.get('snapshot_id')}), address "
            f"{address}. Update `vars.instance_id` of {target.id} to {new_id} (and its "
            "address, probes, DNS, load balancers): rollsafe does not rewrite the config"
        )

    async def _replacement_of(self, key: str) -> str | None:
        found = await self.api.call(
            "DescribeInstances",
            Filters=[
                {"Name": f"tag:{TAG_STEP_KEY}", "Values": [key]},
                {
                    "Name": "instance-state-name",
                    "Values": ["pending", "running", "stopping", "stopped"],
                },
            ],
        )
        for reservation in found.get("Reservations", []):
            for instance in reservation.get("Instances", []):
                return str(instance["InstanceId"])
        return None

    async def _image_of(
        self,
        target: models.Target,
        point: restore_points.RestorePoint,
        *,
        device: str,
        launch: Mapping[str, Any],
    ) -> str:
        """The AMI registered from the point's snapshot (once: its name is deterministic)."""
        name = _image_name(self.name, point.id)
        image_id = await self._image_named(name)
        if image_id is None:
            data = point.data
            ebs: dict[str, Any] = {
                "SnapshotId": str(data["snapshot_id"]),
                "DeleteOnTermination": True,
            }
            if data.get("volume_type"):
                ebs["VolumeType"] = data["volume_type"]
            params: dict[str, Any] = {
                "Name": name,
                "Description": f"rollsafe: root snapshot of {target.id} at point {point.id}",
                "RootDeviceName": device,
                "BlockDeviceMappings": [{"DeviceName": device, "Ebs": ebs}],
                "VirtualizationType": "hvm",
                "TagSpecifications": [
                    {
                        "ResourceType": "image",
                        "Tags": [
                            {"Key": TAG_TARGET, "Value": target.id},
                            {"Key": TAG_POINT, "Value": point.id},
                            {"Key": TAG_DRIVER, "Value": self.name},
                        ],
                    }
                ],
            }
            if launch.get("architecture"):
                params["Architecture"] = launch["architecture"]
            if launch.get("ena_support"):
                params["EnaSupport"] = True
            try:
                image_id = str((await self.api.call("RegisterImage", **params))["ImageId"])
            except Ec2Error as exc:
                if exc.code != "InvalidAMIName.Duplicate":
                    raise
                image_id = await self._image_named(name)  # registered by an earlier attempt
                if image_id is None:
                    raise
        await self._wait(
            lambda: self._image_available(image_id),
            limit=self.config.restore_wait,
            what=f"image {image_id} of {point.data.get('snapshot_id')}",
        )
        return image_id

    async def _image_named(self, name: str) -> str | None:
        found = await self.api.call(
            "DescribeImages", Owners=["self"], Filters=[{"Name": "name", "Values": [name]}]
        )
        images = [i for i in found.get("Images", []) if i.get("State") != "deregistered"]
        return str(images[0]["ImageId"]) if images else None

    async def _image_available(self, image_id: str) -> tuple[bool | None, str]:
        found = await self.api.call("DescribeImages", ImageIds=[image_id])
        images = found.get("Images", [])
        if not images:
            return None, "not visible yet"
        state = str(images[0].get("State"))
        if state == "available":
            return True, state
        if state in ("failed", "invalid", "deregistered", "error"):
            reason = images[0].get("StateReason", {}).get("Message") or "no reason given"
            raise errors.DriverError(f"image {image_id} is {state}: {reason}")
        return None, state

    async def _launch(
        self,
        target: models.Target,
        point: restore_points.RestorePoint,
        old: Mapping[str, Any],
        settings: Mapping[str, Any],
        *,
        image_id: str,
        key: str,
    ) -> str:
        instance_id = str(old["InstanceId"])
        params: dict[str, Any] = {
            "ImageId": image_id,
            "InstanceType": point.data.get("instance_type") or old.get("InstanceType"),
            "MinCount": 1,
            "MaxCount": 1,
            "ClientToken": client_token(key),
        }
        if settings.get("subnet_id"):
            params["SubnetId"] = settings["subnet_id"]
        else:
            zone = point.data.get("availability_zone")
            if zone:
                params["Placement"] = {"AvailabilityZone": zone}
        if settings.get("security_group_ids"):
            params["SecurityGroupIds"] = list(settings["security_group_ids"])
        if settings.get("key_name"):
            params["KeyName"] = settings["key_name"]
        if settings.get("iam_instance_profile_arn"):
            params["IamInstanceProfile"] = {"Arn": settings["iam_instance_profile_arn"]}
        copied = settings.get("tags")
        tags = dict(copied) if isinstance(copied, Mapping) else {}
        tags.update(
            {
                TAG_STEP_KEY: key,
                TAG_TARGET: target.id,
                TAG_POINT: point.id,
                TAG_DRIVER: self.name,
                TAG_REPLACES: instance_id,
            }
        )
        rollout = _ROLLOUT_LABEL.match(point.label)
        if rollout is not None:
            tags[TAG_ROLLOUT] = rollout.group(1)
        tag_list = [{"Key": k, "Value": str(v)[:_TAG_VALUE_MAX]} for k, v in tags.items()]
        params["TagSpecifications"] = [
            {"ResourceType": "instance", "Tags": tag_list},
            {"ResourceType": "volume", "Tags": tag_list},
        ]
        launched = await self.api.call("RunInstances", **params)
        return str(launched["Instances"][0]["InstanceId"])

    # start, wait ----------------------------------------------------------

    async def _start_and_check(self, instance_id: str, *, start: bool) -> str:
        asked = False

        async def healthy() -> tuple[bool | None, str]:
            nonlocal asked
            state = _state(await self._instance(instance_id))
            if state == "stopped" and start and not asked:
                await self.api.call("StartInstances", InstanceIds=[instance_id])
                asked = True
                return None, state
            if state in ("terminated", "shutting-down") or (state == "stopped" and not start):
                raise errors.DriverError(f"{instance_id} is {state}, not running")
            if state != "running":
                return None, state
            if not self.config.status_checks:
                return True, state
            return await self._status_ok(instance_id)

        await self._wait(
            healthy,
            limit=self.config.instance_wait,
            what=f"{instance_id} to run"
            + (" with its status checks ok" if self.config.status_checks else ""),
        )
        checks = " and its status checks are ok" if self.config.status_checks else ""
        return f"{instance_id} is running{checks}" + (" (started)" if asked else "")

    async def _status_ok(self, instance_id: str) -> tuple[bool | None, str]:
        found = await self.api.call(
            "DescribeInstanceStatus", InstanceIds=[instance_id], IncludeAllInstances=True
        )
        for status in found.get("InstanceStatuses", []):
            system = status.get("SystemStatus", {}).get("Status")
            own = status.get("InstanceStatus", {}).get("Status")
            if system == "ok" and own == "ok":
                return True, "status ok"
            return None, f"status checks: instance {own}, system {system}"
        return None, "no status yet"

    # ------------------------------------------------------------------ upgrade, status

    async def upgrade(self, target: models.Target, *, key: str) -> str:
        command = self.config.upgrade
        if command is None:
            raise errors.DriverError(f"driver {self.name} has no `upgrade` command configured")
        instance = str(target.vars.get("instance_id", ""))
        return await supervising.upgrade(
            self._journal,
            key,
            command,
            target,
            env={**self.config.env, "ROLLSAFE_INSTANCE_ID": instance},
            output_dir=self._output_dir,
            limit_s=self.config.upgrade_timeout,
        )

    async def status(self, target: models.Target) -> Mapping[str, Any]:
        try:
            instance_id = instance_id_of(target)
            instance = await self._instance(instance_id)
            device, root, _ = _root_volume(instance)
            found = await self.api.call(
                "DescribeSnapshots",
                OwnerIds=["self"],
                Filters=[
                    {"Name": f"tag:{TAG_INSTANCE}", "Values": [instance_id]},
                    {"Name": f"tag:{TAG_DRIVER}", "Values": [self.name]},
                ],
            )
        except errors.RollsafeError as exc:
            return {"error": str(exc)}
        snapshots = sorted(
            (
                {
                    "snapshot_id": s.get("SnapshotId"),
                    "point": _tags(s.get("Tags")).get(TAG_POINT),
                    "state": s.get("State"),
                    "started": _iso(s.get("StartTime")),
                }
                for s in found.get("Snapshots", [])
            ),
            key=lambda s: str(s["started"]),
        )
        return {
            "instance_id": instance_id,
            "state": _state(instance),
            "root_device": device,
            "root_volume": root,
            "strategy": self.config.strategy,
            "snapshots": snapshots,
        }

    # ------------------------------------------------------------------ EC2 reads

    async def _instance(self, instance_id: str) -> dict[str, Any]:
        found = await self.api.call("DescribeInstances", InstanceIds=[instance_id])
        for reservation in found.get("Reservations", []):
            for instance in reservation.get("Instances", []):
                if instance.get("InstanceId") == instance_id:
                    return dict(instance)
        raise errors.DriverError(f"instance {instance_id} was not found")

    async def _volume(self, volume_id: str) -> dict[str, Any] | None:
        return await self._describe("Volume", volume_id)

    async def _snapshot(self, snapshot_id: str) -> dict[str, Any] | None:
        return await self._describe("Snapshot", snapshot_id)

    async def _describe(self, kind: str, wanted: str) -> dict[str, Any] | None:
        """One volume or snapshot by id (``Describe<kind>s``), None when EC2 knows none."""
        try:
            ids: dict[str, Any] = {f"{kind}Ids": [wanted]}
            found = await self.api.call(f"Describe{kind}s", **ids)
        except Ec2Error as exc:
            if exc.code == f"Invalid{kind}.NotFound":
                return None
            raise
        items = found.get(f"{kind}s", [])
        return dict(items[0]) if items else None

    async def _wait(
        self,
        probe: polling.Look[_T],
        *,
        limit: float,
        what: str,
    ) -> _T:
        return await polling.until(
            probe,
            what=what,
            limit=limit,
            interval=self.config.poll_interval,
            max_interval=self.config.max_poll_interval,
        )

    # ------------------------------------------------------------------ the upgrade command


# --------------------------------------------------------------------------- discovery


async def discover(
    config: models.AwsDriver,
    *,
    tags: Mapping[str, str],
    client_factory: ClientFactory | None = None,
) -> list[models.Target]:
    """Targets for the EC2 instances carrying every tag in ``tags`` (``""``: any value).

    Terminated instances are left out. A target's id is its ``Name`` tag made into a valid
    id (the instance id when there is none, or when two instances share a name); its labels
    are the other tags (not ``aws:*``); ``vars`` hold ``instance_id``, ``region`` and
    ``availability_zone``.
    """
    api = Ec2Api(config, client_factory=client_factory)
    filters = [
        {"Name": f"tag:{k}", "Values": [v]} if v else {"Name": "tag-key", "Values": [k]}
        for k, v in sorted(tags.items())
    ]
    filters.append(
        {"Name": "instance-state-name", "Values": ["pending", "running", "stopping", "stopped"]}
    )
    instances: list[dict[str, Any]] = []
    token: str | None = None
    try:
        while True:
            params: dict[str, Any] = {"Filters": filters, "MaxResults": 500}
            if token:
                params["NextToken"] = token
            page = await api.call("DescribeInstances", **params)
            for reservation in page.get("Reservations", []):
                instances.extend(reservation.get("Instances", []))
            token = page.get("NextToken")
            if not token:
                break
        region = api.region
    finally:
        await asyncio.to_thread(api.close)
    return _targets(instances, driver=config.name, region=region)


def _targets(
    instances: Iterable[Mapping[str, Any]], *, driver: str, region: str | None
) -> list[models.Target]:
    named = [(_name_id(_tags(i.get("Tags")).get("Name", "")), i) for i in instances]
    counts: dict[str, int] = {}
    for name, _ in named:
        counts[name] = counts.get(name, 0) + 1
    found: list[models.Target] = []
    for name, instance in named:
        instance_id = str(instance["InstanceId"])
        target_id = name if name and counts[name] == 1 else instance_id
        labels = {
            k: v
            for k, v in _tags(instance.get("Tags")).items()
            if k != "Name" and not k.startswith("aws:")
        }
        variables: dict[str, str | int | float] = {"instance_id": instance_id}
        if region:
            variables["region"] = region
        zone = instance.get("Placement", {}).get("AvailabilityZone")
        if zone:
            variables["availability_zone"] = str(zone)
        address = instance.get("PrivateIpAddress") or instance.get("PublicIpAddress")
        entry: dict[str, Any] = {
            "id": target_id,
            "labels": labels,
            "driver": driver,
            "vars": variables,
        }
        if address:
            entry["address"] = str(address)
        found.append(models.Target(**entry))
    return sorted(found, key=lambda t: t.id)


def _name_id(name: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9_.:-]+", "-", name.strip()).strip("-_.:")
    return cleaned if cleaned and cleaned[0].isalnum() else ""


# --------------------------------------------------------------------------- helpers


def instance_id_of(target: models.Target) -> str:
    """The EC2 instance of ``target``: its ``vars.instance_id``."""
    value = target.vars.get("instance_id")
    if not isinstance(value, str) or not _INSTANCE_ID.match(value):
        raise errors.DriverError(
            f"target {target.id} has no valid `vars.instance_id` (an EC2 instance id, i-...): "
            f"got {value!r}"
        )
    return value


def _launch_settings(instance: Mapping[str, Any]) -> dict[str, Any]:
    """What a replacement of ``instance`` is launched with (recorded in each restore point)."""
    profile = instance.get("IamInstanceProfile") or {}
    return {
        "subnet_id": instance.get("SubnetId"),
        "security_group_ids": [
            str(g["GroupId"]) for g in instance.get("SecurityGroups", []) if g.get("GroupId")
        ],
        "key_name": instance.get("KeyName"),
        "iam_instance_profile_arn": profile.get("Arn"),
        "architecture": instance.get("Architecture"),
        "ena_support": bool(instance.get("EnaSupport")),
        "tags": {
            k: v
            for k, v in _tags(instance.get("Tags")).items()
            if not k.startswith(("aws:", "rollsafe:"))
        },
    }


def _image_name(driver: str, point_id: str) -> str:
    """An AMI name (unique per account and region) for the image of ``point_id``."""
    readable = re.sub(r"[^A-Za-z0-9()./_-]+", "-", point_id)[:60]
    digest = hashlib.sha256(f"{driver}\0{point_id}".encode()).hexdigest()[:16]
    return f"rollsafe-{readable}-{digest}"


def _state(instance: Mapping[str, Any]) -> str:
    return str(instance.get("State", {}).get("Name", "unknown"))


def _root_volume(instance: Mapping[str, Any]) -> tuple[str, str | None, bool]:
    """(root device, the EBS volume attached there or None, its DeleteOnTermination)."""
    if instance.get("RootDeviceType") == "instance-store":
        raise errors.DriverError(
            f"{instance.get('InstanceId')} has an instance-store root: no snapshot can restore it"
        )
    device = instance.get("RootDeviceName")
    if not device:
        raise errors.DriverError(f"{instance.get('InstanceId')} reports no RootDeviceName")
    for mapping in instance.get("BlockDeviceMappings", []):
        if _same_device(mapping.get("DeviceName", ""), device):
            ebs = mapping.get("Ebs") or {}
            volume = ebs.get("VolumeId")
            return (
                str(device),
                str(volume) if volume else None,
                bool(ebs.get("DeleteOnTermination")),
            )
    return str(device), None, False


def _same_device(a: str, b: str) -> bool:
    return a.removeprefix("/dev/") == b.removeprefix("/dev/")


def _tags(tags: Any) -> dict[str, str]:
    if not isinstance(tags, list):
        return {}
    return {str(t.get("Key")): str(t.get("Value", "")) for t in tags if isinstance(t, Mapping)}


def _iso(value: Any) -> str | None:
    if isinstance(value, datetime.datetime):
        return value.astimezone(datetime.UTC).isoformat()
    return None if value is None else str(value)


def create(config: models.Driver, state_dir: Path) -> AwsDriver:
    """Factory registered under ``aws``; ConfigError when boto3 is not installed."""
    if not isinstance(config, models.AwsDriver):
        raise errors.ConfigError(f"driver {config.name!r} is not a `kind: aws` driver")
    if not aws_cloud.available():
        raise errors.ConfigError(
            f"driver {config.name!r}: the aws driver needs boto3: pip install 'rollsafe[aws]'"
        )
    return AwsDriver(config, state_dir)
