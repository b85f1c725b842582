"""/metrics: what the controller counted, in the Prometheus text format, behind a viewer token."""

from __future__ import annotations

import asyncio

import pytest
from approvals_setup import Controller, bearer, make_config
from prometheus_client.parser import text_string_to_metric_families

from rollsafe.domain import ids, observations, verdicts
from rollsafe.runtime import metrics


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


@pytest.fixture
async def controller(tmp_path):
    intake = {"name": "am", "kind": "alertmanager", "auth": {"kind": "none"},
              "target_label": "instance"}  # fmt: skip
    c = Controller(tmp_path, make_config(top={"intake": [intake]}))
    yield c
    await c.close()


async def test_metrics_need_a_token_and_count_runs_steps_approvals(controller):
    assert (await controller.client.get("/metrics")).status_code == 401
    run, task = await controller.waiting_run()
    await controller.client.post(
        f"/api/v1/runs/{run.id}/approve", json={"reason": "go"}, headers=bearer("operator")
    )
    await asyncio.wait_for(task, 10)

    answer = await controller.client.get("/metrics", headers=bearer("viewer"))
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    found = _samples(answer.text)
    assert found[("rollsafe_runs_finished_total", (("outcome", "succeeded"),))] == 1
    assert found[("rollsafe_runs_finished_total", (("outcome", "failed"),))] == 0
    assert found[("rollsafe_approvals_total", (("decision", "approved"), ("via", "api")))] == 1
    steps = len(controller.driver.rollback_steps(None, None))
    assert found[("rollsafe_run_step_duration_seconds_count", (("outcome", "done"),))] == steps
    assert found[("rollsafe_runs_open", (("state", "pending"),))] == 0


async def test_webhook_intake_is_counted_by_endpoint_and_outcome(controller):
    await controller.client.post(
        "/intake/am", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    await controller.client.post(
        "/intake/no-such-endpoint", content=b"{}", headers={"Content-Type": "application/json"}
    )
    found = _samples((await controller.client.get("/metrics", headers=bearer("viewer"))).text)
    assert (
        found[
            ("rollsafe_webhook_intake_requests_total", (("outcome", "refused"), ("source", "am")))
        ]
        == 1
    )
    assert (
        found[
            (
                "rollsafe_webhook_intake_requests_total",
                (("outcome", "refused"), ("source", "unknown")),
            )
        ]
        == 1
    )


async def test_public_metrics_need_no_token(tmp_path):
    c = Controller(tmp_path, make_config(metrics_public=True))
    try:
        assert (await c.client.get("/metrics")).status_code == 200
    finally:
        await c.close()


def test_decisions_probe_latencies_errors_and_notifications_are_counted():
    collected = metrics.Metrics(probes=["http"])
    t = ids.TargetId("web-1")
    collected.observed(
        observations.Observation(time=1, target=t, source="http", value=1, latency_s=0.03)
    )
    collected.observed(observations.Observation(time=2, target=t, source="http", error="timeout"))
    collected.observed(observations.Observation(time=3, target=t, source="alert:x", value=1))
    collected.observed(observations.Observation(time=3, target=t, source="mark:upgrade", value=1))
    collected.decided(
        verdicts.Decision(
            time=1, target=t, rule=ids.RuleId("r"), severity=verdicts.Severity.CRITICAL, summary="s"
        )
    )
    collected.notified("ops", "delivered")
    found = _samples(collected.render().decode())
    assert found[("rollsafe_probe_observations_total", (("probe", "http"),))] == 2
    assert found[("rollsafe_probe_observations_total", (("probe", "other"),))] == 1
    assert found[("rollsafe_probe_errors_total", (("probe", "http"),))] == 1
    assert found[("rollsafe_probe_latency_seconds_count", (("probe", "http"),))] == 1
    assert found[("rollsafe_decisions_total", (("severity", "critical"),))] == 1
    assert found[("rollsafe_decisions_total", (("severity", "warning"),))] == 0
    assert (
        found[("rollsafe_notifications_total", (("notifier", "ops"), ("outcome", "delivered")))]
        == 1
    )
