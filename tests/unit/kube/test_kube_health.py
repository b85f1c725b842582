"""Rollout status as ``kubectl rollout status`` judges it, and failed-rollout detection."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rollsafe.execute.kube import health

State = health.RolloutState


def deployment(
    *,
    generation: int = 2,
    observed: int | None = 2,
    replicas: int | None = 3,
    current: int = 3,
    updated: int = 3,
    ready: int = 3,
    available: int = 3,
    reason: str | None = "NewReplicaSetAvailable",
) -> dict[str, Any]:
    status: dict[str, Any] = {
        "replicas": current,
        "updatedReplicas": updated,
        "readyReplicas": ready,
        "availableReplicas": available,
    }
    if observed is not None:
        status["observedGeneration"] = observed
    if reason is not None:
        status["conditions"] = [
            {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"},
            {"type": "Progressing", "status": "True", "reason": reason, "message": "m"},
        ]
    spec: dict[str, Any] = {} if replicas is None else {"replicas": replicas}
    return {
        "metadata": {"name": "shop", "generation": generation},
        "spec": spec,
        "status": status,
    }


def test_complete() -> None:
    result = health.rollout_status(deployment())
    assert result.state is State.COMPLETE
    assert result.done
    assert result.message == "deployment 'shop' successfully rolled out"


@pytest.mark.parametrize("observed", [None, 1])
def test_nothing_is_judged_before_the_generation_is_observed(observed: int | None) -> None:
    stale = deployment(observed=observed, reason="ProgressDeadlineExceeded")
    result = health.rollout_status(stale)
    assert result.state is State.PENDING
    assert "spec update to be observed" in result.message


def test_progress_deadline_exceeded_is_failed() -> None:
    result = health.rollout_status(deployment(updated=1, reason="ProgressDeadlineExceeded"))
    assert result.state is State.FAILED
    assert "ProgressDeadlineExceeded" in result.message
    assert result.message.endswith(": m")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"updated": 1}, "1 out of 3 new replicas have been updated"),
        ({"current": 4}, "1 old replicas are pending termination"),
        ({"available": 2}, "2 of 3 updated replicas are available"),
        ({"replicas": None, "current": 1, "updated": 0}, "0 out of 1 new replicas"),
    ],
)
def test_pending_reasons(fields: dict[str, Any], message: str) -> None:
    result = health.rollout_status(deployment(**fields))
    assert result.state is State.PENDING
    assert message in result.message


def test_scaled_to_zero_and_empty_status() -> None:
    assert health.rollout_status(
        deployment(replicas=0, current=0, updated=0, ready=0, available=0, reason=None)
    ).done
    assert health.rollout_status({"metadata": {"generation": 1}}).state is State.PENDING
    assert health.rollout_status({}).state is State.PENDING  # observedGeneration missing


def pod(name: str, *waiting: str, init: str | None = None) -> dict[str, Any]:
    status: dict[str, Any] = {
        "containerStatuses": [
            {"name": f"c{i}", "state": {"waiting": {"reason": r, "message": f"why {r}"}}}
            for i, r in enumerate(waiting)
        ]
        + [{"name": "ok", "state": {"running": {}}}]
    }
    if init is not None:
        status["initContainerStatuses"] = [{"name": "init", "state": {"waiting": {"reason": init}}}]
    return {"metadata": {"name": name}, "status": status}


def test_pod_failures() -> None:
    pods = [
        pod("a", "CrashLoopBackOff"),
        pod("b", "ImagePullBackOff", "ContainerCreating"),
        pod("c", "ErrImagePull", init="CrashLoopBackOff"),
        pod("d", "ContainerCreating", "PodInitializing"),
        {"metadata": {"name": "e"}},
    ]
    found = health.pod_failures(pods)
    assert [(f.pod, f.container, f.reason) for f in found] == [
        ("a", "c0", "CrashLoopBackOff"),
        ("b", "c0", "ImagePullBackOff"),
        ("c", "init", "CrashLoopBackOff"),
        ("c", "c0", "ErrImagePull"),
    ]
    assert found[0].message == "why CrashLoopBackOff"


def test_failed_rollout_needs_missing_ready_replicas_or_a_deadline() -> None:
    bad_pods = [pod("new", "ImagePullBackOff")]
    short = deployment(ready=2, available=2, updated=1, current=4)
    reasons = health.failed_rollout(short, bad_pods)
    assert len(reasons) == 1
    assert "2 of 3 replicas ready" in reasons[0]
    assert "ImagePullBackOff" in reasons[0]
    # Every replica ready: a failing leftover pod is not a failed rollout.
    assert health.failed_rollout(deployment(), bad_pods) == []
    # Short of ready replicas but nothing failing: still rolling out.
    assert health.failed_rollout(short, [pod("new", "ContainerCreating")]) == []
    deadline = deployment(ready=2, reason="ProgressDeadlineExceeded")
    assert len(health.failed_rollout(deadline, bad_pods)) == 2
    assert len(health.failed_rollout(deadline, [])) == 1


@given(
    generation=st.integers(1, 5),
    observed=st.one_of(st.none(), st.integers(0, 5)),
    counts=st.tuples(*[st.integers(0, 6)] * 5),
    reason=st.sampled_from([None, "NewReplicaSetAvailable", "ProgressDeadlineExceeded"]),
)
def test_property_complete_only_when_observed_and_fully_rolled_out(
    generation: int,
    observed: int | None,
    counts: tuple[int, int, int, int, int],
    reason: str | None,
) -> None:
    wanted, current, updated, ready, available = counts
    subject = deployment(
        generation=generation,
        observed=observed,
        replicas=wanted,
        current=current,
        updated=updated,
        ready=ready,
        available=available,
        reason=reason,
    )
    result = health.rollout_status(subject)
    seen = observed is not None and observed >= generation
    if result.state is not State.PENDING:
        assert seen
    if result.state is State.FAILED:
        assert reason == "ProgressDeadlineExceeded"
    if result.state is State.COMPLETE:
        assert reason != "ProgressDeadlineExceeded"
        assert updated >= wanted
        assert current <= updated
        assert available >= updated
