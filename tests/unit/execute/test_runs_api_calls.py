"""Cloud API calls a driver reports land in the audit, bound to their run or checkpoint."""

from __future__ import annotations

from runs_helpers import checkpoint, make_config, make_executor

from rollsafe import testing
from rollsafe.execute import driving


class CloudishDriver(testing.FakeDriver):
    """A FakeDriver that reports an API call with a request id, as cloud drivers do."""

    async def checkpoint(self, target, *, point_id, label=""):
        driving.record_api_call("CreateSnapshot", request_id="req-snap", disk="d-1")
        return await super().checkpoint(target, point_id=point_id, label=label)

    async def rollback(self, target, point, *, step, key):
        driving.record_api_call("ResetDisk", request_id=f"req-{step}")
        return await super().rollback(target, point, step=step, key=key)


async def test_api_calls_are_audited_with_run_and_request_id(store, clock):
    driver = CloudishDriver(steps=("restore", "restart"), clock=clock)
    config = make_config()
    await checkpoint(config, store, driver, clock)
    executor = make_executor(config, store, driver, clock=clock)
    run = executor.request("web-1", trigger="manual", actor="test", reason="t")
    await executor.drive(run.id)
    calls = [e.entry for e in store.list_audit_events() if e.entry.action == "driver.api_call"]
    assert [(c.details["operation"], c.details["request_id"], c.run_id) for c in calls] == [
        ("CreateSnapshot", "req-snap", None),
        ("ResetDisk", "req-restore", run.id),
        ("ResetDisk", "req-restart", run.id),
    ]
    assert all(c.target == "web-1" for c in calls)


def test_outside_a_run_recording_is_a_no_op():
    driving.record_api_call("DescribeInstances", request_id="x")  # nothing installed: no error
