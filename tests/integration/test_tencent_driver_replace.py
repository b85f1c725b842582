"""The tencent driver's last resort, ``replace_instance``, in whole runs against the stand-in.

The snapshot rollback fails for good (ApplySnapshot refused, or the instance cannot be started
again): with the last resort on, the run's last step launches a replacement instance from the
image recorded at checkpoint time (RunInstances with a ClientToken), waits for it to run and
stops the old one; with it off, the run fails and the target is quarantined as before. A
controller killed right after RunInstances resumes without launching a second instance.
"""

from __future__ import annotations

import pytest

from rollsafe.config import models
from rollsafe.domain import clocks, runs
from rollsafe.execute import runs as executing
from rollsafe.execute.drivers import tencent
from rollsafe.reach.clouds import tencent as tencent_cloud
from rollsafe.storage import sql
from rollsafe.storage.auditing import verify_store
from rollsafe.verify import checkpoints
from support.tencent_standin import TencentStandin

SECRET_ID = "AKIDrollsafeStandin0003"
SECRET_KEY = "standin-secret-key-3"
INSTANCE = "ins-web00001"
DISK = "disk-web00001"


class Crash(BaseException):
    """The controller dying (nothing in rollsafe catches it)."""


class StandinVerifier:
    """Healthy when the target's workload answers on its original or its replacement instance.

    The http probe of the other run tests names ``vars.instance_id``, which a replacement
    changes (the operator updates it), so these runs check the stand-in's workload directly.
    """

    def __init__(self, standin):
        self.standin = standin

    async def verify(self, target, point):
        candidates = [target.vars["instance_id"]] + [
            i.id
            for i in self.standin.instances.values()
            if i.tags.get("rollsafe-target") == target.id
        ]
        healthy = [i for i in candidates if self.standin.health(i) == 200]
        if healthy:
            return executing.VerifyOutcome(ok=True, summary=f"{healthy[0]} is healthy")
        return executing.VerifyOutcome(ok=False, summary="no instance of the target is healthy")


@pytest.fixture
def standin(monkeypatch):
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TENCENTCLOUD_SECRET_ID", SECRET_ID)
    monkeypatch.setenv("TENCENTCLOUD_SECRET_KEY", SECRET_KEY)
    with TencentStandin(secret_id=SECRET_ID, secret_key=SECRET_KEY) as s:
        s.add_instance(INSTANCE, name="web-1", tags={"team": "web"})
        yield s


@pytest.fixture
def store(tmp_path):
    opened = sql.open_store(tmp_path / "state")
    yield opened
    opened.close()


def make_config(standin, *, strategy="auto-stop", replace=True):
    return models.RollsafeConfig(
        targets=[models.Target(id="web-1", driver="tc", vars={"instance_id": INSTANCE})],
        drivers=[
            models.TencentDriver(
                kind="tencent",
                name="tc",
                strategy=strategy,
                replace_instance=replace,
                **standin.driver_settings(),
                poll_interval=0.01,
                max_poll_interval=0.03,
                snapshot_wait=10,
                restore_wait=10,
                instance_wait=10,
                throttle_retry_after=0.01,
            )
        ],
        policy=models.Policy(verify_timeout=10, step_timeout=20),
    )


def make_executor(config, store, driver, standin):
    return executing.Executor(
        config=config,
        store=store,
        drivers={driver.name: driver},
        verifier=StandinVerifier(standin),
        clock=clocks.SystemClock(),
        poll_interval=0.01,
        retry_backoff=0.01,
    )


async def checkpoint_and_break(config, store, driver, standin):
    point = await checkpoints.take_checkpoint(
        config=config,
        target_id="web-1",
        store=store,
        driver=driver,
        clock=clocks.SystemClock(),
        actor="test",
    )
    standin.write_disk(DISK, "release-2-broken")
    assert standin.health(INSTANCE) == 503
    return point


def replacements(standin):
    return [i for i in standin.instances.values() if i.id != INSTANCE]


def audit(store, action):
    return [e.entry for e in store.list_audit_events() if e.entry.action == action]


@pytest.mark.parametrize(
    ("strategy", "broken"),
    [("auto-stop", "ApplySnapshot"), ("explicit", "ApplySnapshot"), ("explicit", "StartInstances")],
)
async def test_an_unusable_instance_is_replaced_from_its_image(
    standin, store, tmp_path, strategy, broken
):
    config = make_config(standin, strategy=strategy)
    driver = tencent.make_driver(config.drivers[0], tmp_path / "state")
    point = await checkpoint_and_break(config, store, driver, standin)
    if broken == "ApplySnapshot":
        standin.fail("ApplySnapshot", "UnsupportedOperation", "the snapshot cannot be applied")
    else:
        standin.deny("StartInstances")  # the old instance cannot come back RUNNING
    executor = make_executor(config, store, driver, standin)

    run = executor.request("web-1", trigger="manual", actor="test", reason="bad release")
    done = await executor.drive(run.id)

    assert done.state is runs.RunState.SUCCEEDED, done
    [new] = replacements(standin)
    assert standin.state_of(new.id) == "RUNNING"
    assert standin.health(new.id) == 200
    assert new.image_id == point.data["launch"]["image_id"] == "img-base0001"
    assert standin.state_of(INSTANCE) == "STOPPED"  # stopped, never terminated
    assert new.tags == {"team": "web", "rollsafe-target": "web-1", "rollsafe-replaces": INSTANCE}
    # Launched with the recorded settings, a client token, and no password anywhere.
    sent = new.launch_params
    assert sent["Placement"]["Zone"] == "ap-guangzhou-3"
    assert sent["VirtualPrivateCloud"] == {"VpcId": "vpc-standin1", "SubnetId": "subnet-standin1"}
    assert sent["SecurityGroupIds"] == ["sg-standin1"]
    assert sent["LoginSettings"] == {"KeyIds": ["skey-standin1"]}
    assert sent["ClientToken"].startswith("rollsafe-")
    assert len(sent["ClientToken"]) <= 64
    assert "Password" not in str(sent)
    assert "Password" not in str(point.data)
    steps = store.list_steps(run.id)
    assert steps[-1].name == "replace-instance"
    assert new.id in steps[-1].output
    assert "vars.instance_id" in steps[-1].output
    [launch] = [
        c for c in audit(store, "driver.api_call") if c.details["operation"] == "RunInstances"
    ]
    assert launch.run_id == run.id
    assert launch.details["new_instances"] == new.id
    assert (
        launch.details["request_id"]
        == next(c for c in standin.calls if c.action == "RunInstances").request_id
    )
    assert verify_store(store).ok


async def test_without_the_last_resort_the_run_fails_and_escalates(standin, store, tmp_path):
    config = make_config(standin, replace=False)
    driver = tencent.make_driver(config.drivers[0], tmp_path / "state")
    await checkpoint_and_break(config, store, driver, standin)
    standin.fail("ApplySnapshot", "UnsupportedOperation", "the snapshot cannot be applied")
    executor = make_executor(config, store, driver, standin)

    run = executor.request("web-1", trigger="manual", actor="test", reason="bad release")
    done = await executor.drive(run.id)

    assert done.state is runs.RunState.FAILED
    assert "UnsupportedOperation" in (done.error or "")
    assert any(t.id == "web-1" and t.quarantined for t in store.list_targets())
    assert standin.count("RunInstances") == 0
    assert replacements(standin) == []


async def test_a_rollback_that_worked_launches_nothing(standin, store, tmp_path):
    config = make_config(standin)
    driver = tencent.make_driver(config.drivers[0], tmp_path / "state")
    await checkpoint_and_break(config, store, driver, standin)
    executor = make_executor(config, store, driver, standin)

    run = executor.request("web-1", trigger="manual", actor="test", reason="bad release")
    done = await executor.drive(run.id)

    assert done.state is runs.RunState.SUCCEEDED, done
    assert standin.health(INSTANCE) == 200
    assert store.list_steps(run.id)[-1].output.startswith("not needed")
    assert standin.count("RunInstances") == 0


class DiesAfterRunInstances(tencent_cloud.Client):
    """The real SDK boundary, but the controller dies as RunInstances' answer arrives."""

    def call(self, service, action, params):
        answer = super().call(service, action, params)
        if action == "RunInstances":
            raise Crash("right after RunInstances")
        return answer


async def test_a_controller_killed_right_after_run_instances_launches_no_second_one(
    standin, store, tmp_path
):
    config = make_config(standin)
    state = tmp_path / "state"
    dying = tencent.TencentDriver(
        config.drivers[0],
        state,
        cloud=DiesAfterRunInstances(**tencent.client_settings(config.drivers[0])),
    )
    await checkpoint_and_break(config, store, dying, standin)
    standin.fail("ApplySnapshot", "UnsupportedOperation", "the snapshot cannot be applied")
    run = make_executor(config, store, dying, standin).request(
        "web-1", trigger="manual", actor="test", reason="bad release"
    )
    with pytest.raises(Crash):
        await make_executor(config, store, dying, standin).drive(run.id)
    assert len(replacements(standin)) == 1
    assert store.get_run(run.id).state is runs.RunState.EXECUTING

    driver = tencent.make_driver(config.drivers[0], state)
    done = await make_executor(config, store, driver, standin).drive(run.id)

    assert done.state is runs.RunState.SUCCEEDED, done
    [new] = replacements(standin)  # the repeated call answered the same instance
    assert standin.count("RunInstances") == 2
    assert standin.state_of(new.id) == "RUNNING"
    assert standin.state_of(INSTANCE) == "STOPPED"
    assert new.id in store.list_steps(run.id)[-1].output
