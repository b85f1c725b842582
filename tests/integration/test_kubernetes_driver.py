"""The kubernetes driver end to end: the official client against a local API stand-in."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rollsafe.config import models
from rollsafe.domain import errors
from rollsafe.execute import driving, registry
from rollsafe.execute.drivers import kubernetes

sys.path.insert(0, str(Path(__file__).parent))
import kube_standin

NS = "prod"
GOOD = "registry.example/shop:1.0"
BAD = "registry.example/shop:2.0"
TARGET = models.Target(id="shop", vars={"deployment": "shop", "namespace": NS})


@pytest.fixture
def standin() -> Iterator[kube_standin.KubeStandin]:
    with kube_standin.KubeStandin() as server:
        server.broken_images.add(BAD)
        yield server


def make_driver(
    standin: kube_standin.KubeStandin,
    tmp_path: Path,
    *,
    token: str | None = None,
    **overrides: Any,
) -> kubernetes.KubernetesDriver:
    config = models.KubernetesDriver.model_validate(
        {
            "kind": "kubernetes",
            "name": "k8s",
            "kubeconfig": str(standin.write_kubeconfig(tmp_path / "kubeconfig", token=token)),
            "namespace": "default",
            "rollout_timeout": 20,
            "poll_interval": 0.05,
            "upgrade_image": f"app={BAD}",
            **overrides,
        }
    )
    built = registry.build(config, tmp_path)
    assert isinstance(built, kubernetes.KubernetesDriver)
    return built


@pytest.fixture
def driver(standin: kube_standin.KubeStandin, tmp_path: Path) -> Iterator[Any]:
    built = make_driver(standin, tmp_path)
    yield built
    built.close()


@pytest.fixture
def calls() -> Iterator[list[tuple[str, dict[str, Any]]]]:
    seen: list[tuple[str, dict[str, Any]]] = []
    token = driving.recording_api_calls(lambda op, details: seen.append((op, dict(details))))
    yield seen
    driving.reset_api_calls(token)


async def test_bad_upgrade_is_detected_and_rolled_back_to_a_new_revision(
    standin: kube_standin.KubeStandin, driver: Any, calls: list[Any]
) -> None:
    standin.add_deployment(NS, "shop", image=GOOD, replicas=3)
    point = await driver.checkpoint(TARGET, point_id="p1")
    assert point.data["revision"] == 1
    rev1_rs = point.data["replicaset"]
    assert point.data["template_hash"]
    assert rev1_rs.endswith(point.data["template_hash"])
    rev1_template = standin.deployment(NS, "shop")["spec"]["template"]

    assert "set to" in await driver.upgrade(TARGET, key="up-1")
    assert "already runs" in await driver.upgrade(TARGET, key="up-1")  # idempotent
    broken = await driver.status(TARGET)
    assert broken["revision"] == 2
    assert broken["rollout"] == "failed"
    assert any("ProgressDeadlineExceeded" in r for r in broken["failed_rollout"])
    assert {f["reason"] for f in broken["pod_failures"]} == {"ImagePullBackOff"}

    await driver.precheck(TARGET, point)
    assert list(driver.rollback_steps(TARGET, point)) == ["undo", "wait"]
    out = await driver.rollback(TARGET, point, step="undo", key="run/0/undo")
    assert "rolled back to revision 1" in out
    after = standin.deployment(NS, "shop")
    # Real Kubernetes renumbers the restored ReplicaSet: revision 3, same ReplicaSet.
    assert after["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "3"
    assert after["spec"]["template"] == rev1_template
    assert after["metadata"]["annotations"]["team"] == "payments"
    owned = {rs["metadata"]["name"]: rs for rs in standin.owned_replicasets(NS, "shop")}
    restored = owned[rev1_rs]["metadata"]["annotations"]
    assert restored["deployment.kubernetes.io/revision"] == "3"
    assert restored["deployment.kubernetes.io/revision-history"] == "1"

    done = await driver.rollback(TARGET, point, step="wait", key="run/1/wait")
    assert "successfully rolled out at revision 3" in done
    healthy = await driver.status(TARGET)
    assert healthy["rollout"] == "complete"
    assert healthy["failed_rollout"] == []
    assert healthy["images"] == {"app": GOOD}

    # The step re-run with the same key (a controller killed after the PATCH) does nothing.
    patches = standin.count("PATCH")
    again = await driver.rollback(TARGET, point, step="undo", key="run/0/undo")
    assert "skipped rollback (current template already matches revision 3)" in again
    assert standin.count("PATCH") == patches
    # The point still prechecks (found by ReplicaSet name, not by its old revision number).
    await driver.precheck(TARGET, point)

    operations = {op for op, _ in calls}
    assert {
        "kubernetes.get_deployment",
        "kubernetes.list_replicasets",
        "kubernetes.patch_deployment",
        "kubernetes.list_pods",
    } <= operations
    patch_calls = [d for op, d in calls if op == "kubernetes.patch_deployment"]
    assert [d["purpose"] for d in patch_calls] == ["upgrade", "rollback"]
    assert all(d["request_id"] and d["status"] == 200 for d in patch_calls)
    assert all(auth == f"Bearer {standin.token}" for _, _, auth in standin.requests)


async def test_wait_judges_only_after_the_new_generation_is_observed(tmp_path: Path) -> None:
    with kube_standin.KubeStandin(auto_rollout=False) as standin:
        standin.broken_images.add(BAD)
        driver = make_driver(standin, tmp_path)
        try:
            standin.add_deployment(NS, "shop", image=GOOD)
            standin.rollout(NS, "shop")
            point = await driver.checkpoint(TARGET, point_id="p1")
            await driver.upgrade(TARGET, key="up")
            standin.rollout(NS, "shop")
            assert (await driver.status(TARGET))["rollout"] == "failed"
            await driver.rollback(TARGET, point, step="undo", key="k-undo")
            # The stale ProgressDeadlineExceeded of the bad rollout must not fail the wait:
            # the controller has not observed the rollback's generation yet.
            gets = standin.count("GET")
            waiting = asyncio.create_task(driver.rollback(TARGET, point, step="wait", key="k-wait"))
            await asyncio.to_thread(standin.wait_for_requests, "GET", gets + 2)
            assert not waiting.done()
            standin.rollout(NS, "shop")
            assert "successfully rolled out" in await waiting
        finally:
            driver.close()


async def test_wait_fails_with_the_reason_when_the_restored_template_cannot_run(
    standin: kube_standin.KubeStandin, driver: Any
) -> None:
    standin.add_deployment(NS, "shop", image=GOOD)
    point = await driver.checkpoint(TARGET, point_id="p1")
    await driver.upgrade(TARGET, key="up")
    standin.broken_images.add(GOOD)  # the registry lost the old image too
    await driver.rollback(TARGET, point, step="undo", key="k-undo")
    with pytest.raises(errors.DriverError) as failed:
        await driver.rollback(TARGET, point, step="wait", key="k-wait")
    assert "ProgressDeadlineExceeded" in str(failed.value)
    assert "ImagePullBackOff" in str(failed.value)


async def test_wait_gives_up_after_rollout_timeout(tmp_path: Path) -> None:
    with kube_standin.KubeStandin(auto_rollout=False) as standin:
        driver = make_driver(standin, tmp_path, rollout_timeout=0.2)
        try:
            standin.add_deployment(NS, "shop", image=GOOD)
            standin.rollout(NS, "shop")
            point = await driver.checkpoint(TARGET, point_id="p1")
            await driver.upgrade(TARGET, key="up")
            standin.rollout(NS, "shop")
            await driver.rollback(TARGET, point, step="undo", key="k-undo")
            with pytest.raises(errors.DriverError, match=r"did not complete within 0\.2 s"):
                await driver.rollback(TARGET, point, step="wait", key="k-wait")
        finally:
            driver.close()


async def test_paused_deployment_is_refused(standin: kube_standin.KubeStandin, driver: Any) -> None:
    standin.add_deployment(NS, "shop", image=GOOD)
    point = await driver.checkpoint(TARGET, point_id="p1")
    await driver.upgrade(TARGET, key="up")
    standin.set_paused(NS, "shop", True)
    with pytest.raises(errors.PrecheckFailed, match="cannot rollback a paused deployment"):
        await driver.precheck(TARGET, point)
    with pytest.raises(errors.DriverError, match="resume it first"):
        await driver.rollback(TARGET, point, step="undo", key="k")
    assert standin.count("PATCH") == 1  # only the upgrade


async def test_pruned_replicaset_fails_the_precheck(
    standin: kube_standin.KubeStandin, tmp_path: Path
) -> None:
    standin.add_deployment(NS, "shop", image=GOOD, history_limit=1)
    first = make_driver(standin, tmp_path, upgrade_image="app=shop:2")
    second = make_driver(standin, tmp_path, upgrade_image="app=shop:3")
    try:
        point = await first.checkpoint(TARGET, point_id="p1")
        await first.upgrade(TARGET, key="a")
        await first.precheck(TARGET, point)  # one old ReplicaSet is kept
        await second.upgrade(TARGET, key="b")
        with pytest.raises(errors.PrecheckFailed, match="revisionHistoryLimit"):
            await first.precheck(TARGET, point)
    finally:
        first.close()
        second.close()


async def test_deleted_replicaset_and_recreated_deployment_fail_the_precheck(
    standin: kube_standin.KubeStandin, driver: Any
) -> None:
    standin.add_deployment(NS, "shop", image=GOOD)
    point = await driver.checkpoint(TARGET, point_id="p1")
    await driver.upgrade(TARGET, key="up")
    standin.delete_replicaset(NS, point.data["replicaset"])
    with pytest.raises(errors.PrecheckFailed, match="no longer owned"):
        await driver.precheck(TARGET, point)
    standin.add_deployment(NS, "shop", image=GOOD)  # a new object under the same name
    with pytest.raises(errors.PrecheckFailed, match="deleted and created again"):
        await driver.precheck(TARGET, point)


async def test_api_errors_are_translated(
    standin: kube_standin.KubeStandin, driver: Any, tmp_path: Path, calls: list[Any]
) -> None:
    missing = models.Target(id="gone", vars={"deployment": "gone"})
    with pytest.raises(errors.DriverError, match="404"):
        await driver.checkpoint(missing, point_id="p")
    assert calls[-1][1]["status"] == 404
    assert calls[-1][1]["namespace"] == "default"

    standin.add_deployment(NS, "shop", image=GOOD)
    point = await driver.checkpoint(TARGET, point_id="p1")
    await driver.upgrade(TARGET, key="up")
    standin.fail_next("PATCH", 409)
    with pytest.raises(errors.DriverTemporaryError, match="409"):
        await driver.rollback(TARGET, point, step="undo", key="k")
    standin.fail_next("GET", 503)
    with pytest.raises(errors.DriverTemporaryError, match="503"):
        await driver.rollback(TARGET, point, step="undo", key="k")
    standin.fail_next("GET", 429)
    with pytest.raises(errors.DriverTemporaryError):
        await driver.precheck(TARGET, point)
    assert "rolled back" in await driver.rollback(TARGET, point, step="undo", key="k")

    with pytest.raises(errors.DriverError, match="no Deployment"):
        await driver.checkpoint(models.Target(id="x"), point_id="p")

    (tmp_path / "other").mkdir()
    intruder = make_driver(standin, tmp_path / "other", token="wrong-token")
    try:
        with pytest.raises(errors.DriverError, match=r"401.*RBAC"):
            await intruder.checkpoint(TARGET, point_id="p")
        report = await intruder.status(TARGET)
        assert "401" in report["error"]
    finally:
        intruder.close()
