"""The replace-root-volume step against botocore's Stubber, following the documented states.

pending -> in-progress -> succeeded is success; failed (the original volume still attached)
and failed-detached (no root volume at all) end the step for a person, each with what to do;
failing is followed to its end; a state the driver does not know is polled on.
"""

from __future__ import annotations

import pytest
from aws_stubbing import (
    INSTANCE,
    NEW_ROOT,
    ROOT,
    SNAPSHOT,
    TARGET,
    TASK,
    Recorder,
    instance,
    make_driver,
    meta,
    point,
    task,
)
from botocore.stub import ANY

from rollsafe.domain import errors
from rollsafe.execute.drivers import aws

KEY = "run-1/0/replace-root-volume"


@pytest.fixture
def recorder():
    r = Recorder()
    yield r
    r.close()


def _no_task_yet(stub) -> None:
    stub.add_response(
        "describe_replace_root_volume_tasks",
        {"ReplaceRootVolumeTasks": [], **meta("req-lookup")},
        {"Filters": [{"Name": "instance-id", "Values": [INSTANCE]}]},
    )


def _create(stub) -> None:
    stub.add_response("describe_instances", instance(), {"InstanceIds": [INSTANCE]})
    stub.add_response(
        "create_replace_root_volume_task",
        {"ReplaceRootVolumeTask": task("pending"), **meta("req-create")},
        {
            "InstanceId": INSTANCE,
            "SnapshotId": SNAPSHOT,
            "ClientToken": aws.client_token(KEY),
            "DeleteReplacedRootVolume": False,
            "TagSpecifications": ANY,
        },
    )


def _replaced(stub, *, source: str = SNAPSHOT) -> None:
    """The instance after the task: its root volume is a new one, made from ``source``."""
    stub.add_response("describe_instances", instance(root=NEW_ROOT), {"InstanceIds": [INSTANCE]})
    stub.add_response(
        "describe_volumes",
        {"Volumes": [{"VolumeId": NEW_ROOT, "SnapshotId": source}], **meta("req-volume")},
        {"VolumeIds": [NEW_ROOT]},
    )


def _poll(stub, *states: str) -> None:
    for i, state in enumerate(states):
        stub.add_response(
            "describe_replace_root_volume_tasks",
            {"ReplaceRootVolumeTasks": [task(state)], **meta(f"req-poll-{i}")},
            {"ReplaceRootVolumeTaskIds": [TASK]},
        )


async def test_the_documented_path_to_succeeded(tmp_path, recorder):
    driver, stub = make_driver(tmp_path)
    _no_task_yet(stub)
    _create(stub)
    _poll(stub, "pending", "in-progress", "in-progress", "succeeded")
    _replaced(stub)

    output = await driver.rollback(TARGET, point(), step=aws.STEP_REPLACE_ROOT, key=KEY)

    stub.assert_no_pending_responses()
    assert output == (
        f"root volume of {INSTANCE} replaced from {SNAPSHOT} by task {TASK}: now {NEW_ROOT}; "
        f"the previous root volume {ROOT} is kept"
    )
    created = dict(recorder.calls)["CreateReplaceRootVolumeTask"]
    assert created["request_id"] == "req-create"
    assert created["task_id"] == TASK
    assert [d["request_id"] for op, d in recorder.calls][-6:] == [
        "req-poll-0",
        "req-poll-1",
        "req-poll-2",
        "req-poll-3",
        "req-instances",
        "req-volume",
    ]


async def test_succeeded_is_checked_against_the_root_volume_itself(tmp_path):
    driver, stub = make_driver(tmp_path)
    _no_task_yet(stub)
    _create(stub)
    _poll(stub, "succeeded")
    _replaced(stub, source="snap-0eeeeeeeeeeeeeee")

    with pytest.raises(errors.DriverError, match=f"not a volume made from {SNAPSHOT}"):
        await driver.rollback(TARGET, point(), step=aws.STEP_REPLACE_ROOT, key=KEY)


async def test_the_task_is_tagged_with_the_step_key_and_keeps_the_old_volume(tmp_path):
    driver, stub = make_driver(tmp_path)
    _no_task_yet(stub)
    stub.add_response("describe_instances", instance(), {"InstanceIds": [INSTANCE]})
    stub.add_response(
        "create_replace_root_volume_task",
        {"ReplaceRootVolumeTask": task("pending"), **meta("req-create")},
        {
            "InstanceId": INSTANCE,
            "SnapshotId": SNAPSHOT,
            "ClientToken": aws.client_token(KEY),
            "DeleteReplacedRootVolume": False,
            "TagSpecifications": [
                {
                    "ResourceType": "replace-root-volume-task",
                    "Tags": [
                        {"Key": aws.TAG_STEP_KEY, "Value": KEY},
                        {"Key": aws.TAG_TARGET, "Value": "web-1"},
                        {"Key": aws.TAG_POINT, "Value": "rp-1"},
                        {"Key": aws.TAG_REPLACED_VOLUME, "Value": ROOT},
                    ],
                }
            ],
        },
    )
    _poll(stub, "succeeded")
    _replaced(stub)

    await driver.rollback(TARGET, point(), step=aws.STEP_REPLACE_ROOT, key=KEY)

    stub.assert_no_pending_responses()


async def test_a_resumed_step_follows_its_task_instead_of_creating_one(tmp_path):
    driver, stub = make_driver(tmp_path)
    stub.add_response(
        "describe_replace_root_volume_tasks",
        {
            "ReplaceRootVolumeTasks": [task("succeeded", key="other-run/0/x"), task("in-progress")],
            **meta("req-lookup"),
        },
    )
    _poll(stub, "succeeded")
    _replaced(stub)

    output = await driver.rollback(TARGET, point(), step=aws.STEP_REPLACE_ROOT, key=KEY)

    stub.assert_no_pending_responses()  # no DescribeInstances + Create before the poll
    assert f"now {NEW_ROOT}" in output


@pytest.mark.parametrize(
    ("states", "expected"),
    [
        (["in-progress", "failing", "failed"], f"original root volume {ROOT} is still attached"),
        (["in-progress", "failed-detached"], "WITHOUT a root volume (failed-detached)"),
        (["failing-detached", "failing-detached", "failed-detached"], "WITHOUT a root volume"),
    ],
)
async def test_failed_states_escalate_with_what_to_do(tmp_path, recorder, states, expected):
    driver, stub = make_driver(tmp_path)
    _no_task_yet(stub)
    _create(stub)
    _poll(stub, *states)

    with pytest.raises(errors.DriverError) as caught:
        await driver.rollback(TARGET, point(), step=aws.STEP_REPLACE_ROOT, key=KEY)

    assert not isinstance(caught.value, errors.DriverTemporaryError)  # never retried
    assert expected in str(caught.value)
    assert "A person must" in str(caught.value)
    stub.assert_no_pending_responses()


async def test_an_unknown_state_is_tolerated(tmp_path):
    driver, stub = make_driver(tmp_path)
    _no_task_yet(stub)
    _create(stub)
    _poll(stub, "pending", "reticulating", "in-progress", "succeeded")
    _replaced(stub)

    await driver.rollback(TARGET, point(), step=aws.STEP_REPLACE_ROOT, key=KEY)

    stub.assert_no_pending_responses()


async def test_a_task_that_never_ends_is_given_up_with_its_last_state(tmp_path):
    driver, stub = make_driver(tmp_path, restore_wait=0.05)
    _no_task_yet(stub)
    _create(stub)
    _poll(stub, *(["in-progress"] * 400))

    with pytest.raises(errors.DriverError, match=r"gave up waiting .* \(last seen: in-progress\)"):
        await driver.rollback(TARGET, point(), step=aws.STEP_REPLACE_ROOT, key=KEY)


async def test_a_stopped_instance_is_not_replaced(tmp_path):
    driver, stub = make_driver(tmp_path)
    _no_task_yet(stub)
    stub.add_response("describe_instances", instance(state="stopped"))

    with pytest.raises(errors.DriverError, match="needs it running"):
        await driver.rollback(TARGET, point(), step=aws.STEP_REPLACE_ROOT, key=KEY)
    stub.assert_no_pending_responses()


async def test_wait_step_needs_running_and_status_checks_ok(tmp_path):
    driver, stub = make_driver(tmp_path)
    stub.add_response("describe_instances", instance(state="pending"))
    stub.add_response("describe_instances", instance())
    stub.add_response(
        "describe_instance_status",
        {
            "InstanceStatuses": [
                {
                    "InstanceId": INSTANCE,
                    "InstanceStatus": {"Status": "initializing"},
                    "SystemStatus": {"Status": "ok"},
                }
            ]
        },
        {"InstanceIds": [INSTANCE], "IncludeAllInstances": True},
    )
    stub.add_response("describe_instances", instance())
    stub.add_response(
        "describe_instance_status",
        {
            "InstanceStatuses": [
                {
                    "InstanceId": INSTANCE,
                    "InstanceStatus": {"Status": "ok"},
                    "SystemStatus": {"Status": "ok"},
                }
            ]
        },
    )

    output = await driver.rollback(TARGET, point(), step=aws.STEP_WAIT_OK, key="run-1/1/wait")

    assert output == f"{INSTANCE} is running and its status checks are ok"
    stub.assert_no_pending_responses()


async def test_a_point_of_another_target_or_driver_is_refused(tmp_path):
    driver, _ = make_driver(tmp_path)
    other = TARGET.model_copy(update={"vars": {"instance_id": "i-0fffffffffffffff0"}})

    with pytest.raises(errors.DriverError, match="take a new restore point"):
        await driver.rollback(other, point(), step=aws.STEP_REPLACE_ROOT, key=KEY)
    with pytest.raises(errors.DriverError, match="has no rollback step"):
        await driver.rollback(TARGET, point(), step=aws.STEP_SWAP, key=KEY)
