"""Shared set-up for the aws driver unit tests: a real botocore EC2 client under a Stubber.

The Stubber answers each call from a queue the test fills, after checking the parameters
against the EC2 model (and, where a test gives them, against expected values), so these tests
follow the documented API without any server. Nothing is sent anywhere.
"""

from __future__ import annotations

import datetime
import typing
from pathlib import Path

import botocore.session
from botocore.stub import Stubber

from rollsafe.config import models
from rollsafe.domain import ids, restore_points
from rollsafe.execute import driving
from rollsafe.execute.drivers import aws

REGION = "eu-west-1"
INSTANCE = "i-0123456789abcdef0"
ROOT = "vol-0aaaaaaaaaaaaaaaa"
NEW_ROOT = "vol-0bbbbbbbbbbbbbbbb"
SNAPSHOT = "snap-0ccccccccccccccc"
DEVICE = "/dev/xvda"
TASK = "replacevol-0ddddddddddddddd"
TARGET = models.Target(id="web-1", driver="ec2", vars={"instance_id": INSTANCE})


_SESSION = botocore.session.get_session()  # one session: EC2's large model is parsed once


def make_client() -> typing.Any:
    return _SESSION.create_client(
        "ec2",
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        endpoint_url="http://127.0.0.1:9",  # never reached: the Stubber answers first
    )


def make_driver(tmp_path: Path, **overrides: typing.Any) -> tuple[aws.AwsDriver, Stubber]:
    settings: dict[str, typing.Any] = {
        "kind": "aws",
        "name": "ec2",
        "region": REGION,
        "poll_interval": 0.001,
        "max_poll_interval": 0.005,
        "snapshot_wait": 5,
        "restore_wait": 5,
        "instance_wait": 5,
    }
    settings.update(overrides)
    client = make_client()
    stub = Stubber(client)
    stub.activate()
    driver = aws.AwsDriver(models.AwsDriver(**settings), tmp_path, client_factory=lambda: client)
    return driver, stub


def point(**data: typing.Any) -> restore_points.RestorePoint:
    base = {
        "instance_id": INSTANCE,
        "root_device": DEVICE,
        "volume_id": ROOT,
        "volume_type": "gp3",
        "snapshot_id": SNAPSHOT,
        "delete_on_termination": True,
    }
    base.update(data)
    return restore_points.RestorePoint(
        id=ids.RestorePointId("rp-1"),
        target=ids.TargetId("web-1"),
        driver="ec2",
        created_at=0.0,
        data=base,
    )


def meta(request_id: str) -> dict[str, typing.Any]:
    return {"ResponseMetadata": {"RequestId": request_id, "HTTPStatusCode": 200}}


def instance(state: str = "running", root: str | None = ROOT) -> dict[str, typing.Any]:
    mappings = (
        [{"DeviceName": DEVICE, "Ebs": {"VolumeId": root, "DeleteOnTermination": True}}]
        if root is not None
        else []
    )
    return {
        "Reservations": [
            {
                "Instances": [
                    {
                        "InstanceId": INSTANCE,
                        "State": {"Name": state, "Code": 16},
                        "RootDeviceName": DEVICE,
                        "RootDeviceType": "ebs",
                        "BlockDeviceMappings": mappings,
                        "Placement": {"AvailabilityZone": f"{REGION}a"},
                        "ImageId": "ami-0123",
                        "InstanceType": "t3.micro",
                    }
                ]
            }
        ],
        **meta("req-instances"),
    }


def task(state: str, *, key: str = "run-1/0/replace-root-volume") -> dict[str, typing.Any]:
    return {
        "ReplaceRootVolumeTaskId": TASK,
        "InstanceId": INSTANCE,
        "TaskState": state,
        "SnapshotId": SNAPSHOT,
        "DeleteReplacedRootVolume": False,
        "Tags": [
            {"Key": aws.TAG_STEP_KEY, "Value": key},
            {"Key": aws.TAG_REPLACED_VOLUME, "Value": ROOT},
        ],
    }


def snapshot(state: str, **extra: typing.Any) -> dict[str, typing.Any]:
    return {
        "Snapshots": [
            {
                "SnapshotId": SNAPSHOT,
                "VolumeId": ROOT,
                "State": state,
                "Progress": "42%",
                "StartTime": datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC),
                **extra,
            }
        ],
        **meta(f"req-snap-{state}"),
    }


class Recorder:
    """Installs itself as the API call recorder; ``calls`` are ``(operation, details)``."""

    def __init__(
        self, on_call: typing.Callable[[str, dict[str, typing.Any]], None] | None = None
    ) -> None:
        self.calls: list[tuple[str, dict[str, typing.Any]]] = []
        self._on_call = on_call
        self._token = driving.recording_api_calls(self._record)

    def _record(self, operation: str, details: typing.Mapping[str, typing.Any]) -> None:
        self.calls.append((operation, dict(details)))
        if self._on_call is not None:
            self._on_call(operation, dict(details))

    def close(self) -> None:
        driving.reset_api_calls(self._token)

    def operations(self) -> list[str]:
        return [op for op, _ in self.calls]
