"""The aws driver's configuration, registration, steps and discovery (Stubber, no server)."""

from __future__ import annotations

import subprocess
import sys

import pydantic
import pytest
from aws_stubbing import INSTANCE, REGION, TARGET, make_client, make_driver, meta, point
from botocore.stub import Stubber

from rollsafe.config import loading, models
from rollsafe.domain import errors
from rollsafe.execute import registry
from rollsafe.execute.drivers import aws

CONFIG = """\
targets:
  - id: web-1
    driver: ec2
    vars: {instance_id: i-0123456789abcdef0}
  - id: web-2
    driver: ec2
drivers:
  - kind: aws
    name: ec2
    region: eu-west-1
    strategy: swap-volume
    poll_interval: 2s
    restore_wait: 20m
policy:
  step_timeout: 30m  # the executor's limit of a step must fit restore_wait and instance_wait
"""


def test_the_registry_builds_it(tmp_path):
    config = models.AwsDriver(kind="aws", name="ec2", region=REGION)

    driver = registry.build(config, tmp_path)

    assert isinstance(driver, aws.AwsDriver)
    assert (driver.name, driver.kind) == ("ec2", "aws")


def test_importing_the_registry_does_not_import_boto3():
    code = (
        "import sys, rollsafe.execute.registry, rollsafe.config.models; "
        "print('boto3' in sys.modules, 'rollsafe.execute.drivers.aws' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_the_discoverer_of_aws_is_its_discover():
    assert registry.discoverer("aws") is aws.discover
    with pytest.raises(errors.ConfigError, match="cannot discover"):
        registry.discoverer("local")
    with pytest.raises(errors.ConfigError, match="no-such-kind"):
        registry.discoverer("no-such-kind")


def test_a_target_of_an_aws_driver_needs_an_instance_id(tmp_path):
    path = tmp_path / "rollsafe.yaml"
    path.write_text(CONFIG)

    with pytest.raises(errors.ConfigError) as caught:
        loading.load(path)

    (problem,) = caught.value.problems
    assert ":5: targets[1]:" in problem  # the web-2 entry
    assert "`vars.instance_id` is missing" in problem


def test_durations_and_strategy_load(tmp_path):
    path = tmp_path / "rollsafe.yaml"
    path.write_text(
        CONFIG.replace(
            "    driver: ec2\ndrivers:",
            "    driver: ec2\n    vars: {instance_id: i-0fff}\ndrivers:",
        )
    )

    driver = loading.load(path).config.driver("ec2")

    assert isinstance(driver, models.AwsDriver)
    assert (driver.strategy, driver.poll_interval, driver.restore_wait) == ("swap-volume", 2, 1200)
    assert driver.replace_instance is False


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"poll_interval": 10, "max_poll_interval": 5}, "max_poll_interval"),
        ({"restore_wait": 0}, "restore_wait must be greater than 0"),
        ({"strategy": "reimage"}, "replace-root-volume"),
        ({"access_key": "AKIA..."}, "Extra inputs are not permitted"),
    ],
)
def test_invalid_settings_are_refused(settings, message):
    with pytest.raises(pydantic.ValidationError, match=message):
        models.AwsDriver(kind="aws", name="ec2", **settings)


def test_steps_follow_the_strategy(tmp_path):
    replace, _ = make_driver(tmp_path)
    swap, _ = make_driver(tmp_path, strategy="swap-volume")

    assert replace.rollback_steps(TARGET, point()) == (aws.STEP_REPLACE_ROOT, aws.STEP_WAIT_OK)
    assert swap.rollback_steps(TARGET, point()) == (aws.STEP_STOP, aws.STEP_SWAP, aws.STEP_START)


def test_replace_instance_is_off_by_default_and_adds_a_last_step(tmp_path):
    assert models.AwsDriver(kind="aws", name="ec2").replace_instance is False
    replace, _ = make_driver(tmp_path, replace_instance=True)
    swap, _ = make_driver(tmp_path, strategy="swap-volume", replace_instance=True)

    assert replace.rollback_steps(TARGET, point())[-1] == aws.STEP_REPLACE_INSTANCE
    assert swap.rollback_steps(TARGET, point()) == (
        aws.STEP_STOP,
        aws.STEP_SWAP,
        aws.STEP_START,
        aws.STEP_REPLACE_INSTANCE,
    )


def test_image_names_are_stable_and_valid_for_ec2():
    name = aws._image_name("ec2", "pt:2026-11-27T08:00")

    assert name == aws._image_name("ec2", "pt:2026-11-27T08:00")
    assert name != aws._image_name("other", "pt:2026-11-27T08:00")
    assert 3 <= len(name) <= 128
    assert all(c.isalnum() or c in "()./_-" for c in name)


def test_the_client_token_is_stable_per_key_and_fits_ec2():
    first = aws.client_token("run-1/0/replace-root-volume")

    assert first == aws.client_token("run-1/0/replace-root-volume")
    assert first != aws.client_token("run-2/0/replace-root-volume")
    assert len(first) <= 64
    assert first.isascii()


async def test_discover_maps_tagged_instances_to_targets():
    client = make_client()
    stub = Stubber(client)
    stub.activate()

    def described(instance_id, name, ip, **tags):
        return {
            "InstanceId": instance_id,
            "PrivateIpAddress": ip,
            "Placement": {"AvailabilityZone": f"{REGION}a"},
            "Tags": [{"Key": "Name", "Value": name}]
            + [{"Key": k, "Value": v} for k, v in tags.items()],
        }

    stub.add_response(
        "describe_instances",
        {
            "Reservations": [
                {
                    "Instances": [
                        described("i-0aaa", "web 1", "10.0.0.1", env="prod"),
                        described("i-0bbb", "db", "10.0.0.2", env="prod"),
                    ]
                }
            ],
            "NextToken": "page-2",
            **meta("req-1"),
        },
        {
            "Filters": [
                {"Name": "tag:env", "Values": ["prod"]},
                {"Name": "tag-key", "Values": ["team"]},
                {
                    "Name": "instance-state-name",
                    "Values": ["pending", "running", "stopping", "stopped"],
                },
            ],
            "MaxResults": 500,
        },
    )
    stub.add_response(
        "describe_instances",
        {
            "Reservations": [
                {
                    "Instances": [
                        {
                            **described("i-0ccc", "db", "10.0.0.3", env="prod"),
                            "Tags": [
                                {"Key": "Name", "Value": "db"},
                                {"Key": "aws:autoscaling:groupName", "Value": "asg"},
                            ],
                        },
                        {"InstanceId": "i-0ddd", "Placement": {"AvailabilityZone": f"{REGION}b"}},
                    ]
                }
            ]
        },
    )
    config = models.AwsDriver(kind="aws", name="ec2", region=REGION)

    found = await aws.discover(
        config, tags={"env": "prod", "team": ""}, client_factory=lambda: client
    )

    stub.assert_no_pending_responses()
    by_id = {t.id: t for t in found}
    # two instances named "db": both go by their instance ids
    assert sorted(by_id) == ["i-0bbb", "i-0ccc", "i-0ddd", "web-1"]
    web = by_id["web-1"]
    assert (web.address, web.driver, web.labels) == ("10.0.0.1", "ec2", {"env": "prod"})
    assert web.vars == {
        "instance_id": "i-0aaa",
        "region": REGION,
        "availability_zone": f"{REGION}a",
    }
    assert by_id["i-0ccc"].labels == {}  # aws:* tags are not labels
    assert by_id["i-0ddd"].address == "127.0.0.1"  # no address known: the default
    assert INSTANCE not in by_id
