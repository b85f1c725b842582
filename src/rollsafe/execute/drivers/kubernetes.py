"""The kubernetes driver: a Deployment rolled back to an earlier ReplicaSet's pod template.

Role in the loop (execute): ``checkpoint`` records the Deployment's current revision, the
ReplicaSet that carries it and that ReplicaSet's ``pod-template-hash`` (plus the Deployment's
uid); ``precheck`` proves the Deployment is the same object, not paused, and still owns that
ReplicaSet (``revisionHistoryLimit`` prunes old ones); ``rollback`` runs two steps:

- ``undo``: reads the Deployment and its ReplicaSets fresh and patches the Deployment as
  ``kubectl rollout undo --to-revision`` does (``rollsafe.execute.kube.undo``). The restore
  point is found by ReplicaSet name, else template hash, never by its old revision number:
  after a rollback the controller renumbers the restored ReplicaSet (max + 1).
- ``wait``: polls the rollout (``rollsafe.execute.kube.health``) until it is complete and the
  Deployment runs the restore point's template, or fails for good (a progress deadline
  exceeded) or ``rollout_timeout`` passes.

The Deployment of a target is ``vars.deployment`` in ``vars.namespace`` (default: the driver's
``namespace``). ``upgrade`` sets the image of one container (``upgrade_image``:
``container=image``), for drills and demos. ``status`` reports revision, replicas, conditions,
the rollout state and failing pods (``failed_rollout``), which a command or HTTP probe can use
to tell a failed rollout.

Idempotency: by state, not by journal. ``undo`` re-run with the same key finds the template
already restored and skips ("skipped rollback (current template already matches revision
N)"); ``wait`` only reads; ``upgrade`` does nothing when the image is already set.

The official ``kubernetes`` client is imported lazily, only here; its calls are synchronous
and run in worker threads, each with a request timeout. Errors: 404 is DriverError (or
PrecheckFailed during a precheck), 409 / 429 / 5xx and network failures are
DriverTemporaryError, anything else (401, 403: missing RBAC, 422) DriverError. Every call,
answered or refused, is reported through ``driving.record_api_call`` with the API server's
``Audit-Id`` as ``request_id``.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from rollsafe.config import models
from rollsafe.domain import errors, restore_points
from rollsafe.execute import driving
from rollsafe.execute.kube import health, undo

__all__ = ["STEP_UNDO", "STEP_WAIT", "KubernetesDriver", "make_driver"]

STEP_UNDO = "undo"
STEP_WAIT = "wait"
_REQUEST_TIMEOUT = (10.0, 30.0)  # connect, read (seconds) of every API call


class KubernetesDriver:
    """Implements ``rollsafe.execute.driving.Driver`` for ``kind: kubernetes``."""

    kind: str = "kubernetes"

    def __init__(self, config: models.KubernetesDriver, state_dir: Path) -> None:
        self.config = config
        self.name: str = config.name
        self.state_dir = state_dir
        self._client: Any = None
        self._client_lock = threading.Lock()

    # ------------------------------------------------------------------ driver

    async def checkpoint(
        self, target: models.Target, *, point_id: str, label: str = ""
    ) -> restore_points.RestorePoint:
        namespace, name = self._ref(target)
        deployment = await self._get_deployment(namespace, name)
        replicasets = await self._list_replicasets(namespace, deployment)
        revision = undo.current_revision(deployment, replicasets)
        owned = undo.history(deployment, replicasets)
        replicaset = owned.get(revision) if revision is not None else None
        if replicaset is None or not undo.templates_equal(
            _template(replicaset), _template(deployment)
        ):
            # The controller has not caught up with the latest template yet: the revision
            # the point would record is not the one the Deployment runs.
            raise errors.DriverTemporaryError(
                f"deployment {namespace}/{name} is between revisions (its ReplicaSet for the "
                "current template does not exist yet); take the restore point again shortly",
                retry_after=self.config.poll_interval,
            )
        labels = _template(replicaset).get("metadata", {}).get("labels", {})
        data = {
            "namespace": namespace,
            "deployment": name,
            "uid": _meta(deployment).get("uid"),
            "revision": revision,
            "replicaset": _meta(replicaset).get("name"),
            "template_hash": labels.get(undo.HASH_LABEL),
            "images": _images(deployment),
        }
        return driving.point_taken(self.name, target, point_id=point_id, label=label, data=data)

    async def precheck(self, target: models.Target, point: restore_points.RestorePoint) -> None:
        try:
            await self._precheck(target, point)
        except errors.PrecheckFailed:
            raise
        except errors.DriverTemporaryError:
            raise  # the API server was busy: the precheck may be retried
        except errors.DriverError as exc:
            raise errors.PrecheckFailed(str(exc)) from exc

    async def _precheck(self, target: models.Target, point: restore_points.RestorePoint) -> None:
        if point.target != target.id:
            raise errors.PrecheckFailed(
                f"restore point {point.id} belongs to {point.target}, not {target.id}"
            )
        namespace, name = self._ref(target)
        data = point.data
        if data.get("namespace") != namespace or data.get("deployment") != name:
            raise errors.PrecheckFailed(
                f"restore point {point.id} is of deployment {data.get('namespace')}/"
                f"{data.get('deployment')}, but {target.id} is now {namespace}/{name}"
            )
        deployment = await self._get_deployment(namespace, name)
        if _meta(deployment).get("uid") != data.get("uid"):
            raise errors.PrecheckFailed(
                f"deployment {namespace}/{name} was deleted and created again since restore "
                f"point {point.id}: its ReplicaSets are not the ones the point refers to"
            )
        replicasets = await self._list_replicasets(namespace, deployment)
        revision = self._find(point, deployment, replicasets)
        try:
            undo.plan(deployment, replicasets, to_revision=revision)
        except undo.UndoRefused as exc:
            raise errors.PrecheckFailed(str(exc)) from exc

    def rollback_steps(
        self, target: models.Target, point: restore_points.RestorePoint
    ) -> Sequence[str]:
        return (STEP_UNDO, STEP_WAIT)

    async def rollback(
        self,
        target: models.Target,
        point: restore_points.RestorePoint,
        *,
        step: str,
        key: str,
    ) -> str:
        if step == STEP_UNDO:
            return await self._undo(target, point)
        if step == STEP_WAIT:
            return await self._wait(target, point)
        raise errors.DriverError(f"the kubernetes driver has no rollback step {step!r}")

    async def upgrade(self, target: models.Target, *, key: str) -> str:
        spec = self.config.upgrade_image
        if not spec or "=" not in spec:
            raise errors.DriverError(
                f"driver {self.name}: set `upgrade_image: container=image` to upgrade"
            )
        container, image = (part.strip() for part in spec.split("=", 1))
        namespace, name = self._ref(target)
        deployment = await self._get_deployment(namespace, name)
        containers = _template(deployment).get("spec", {}).get("containers") or []
        for index, item in enumerate(containers):
            if item.get("name") != container:
                continue
            if item.get("image") == image:
                return f"deployment {namespace}/{name}: container {container} already runs {image}"
            path = f"/spec/template/spec/containers/{index}"
            await self._patch(
                namespace,
                name,
                [
                    # The test pins the index to the container read above.
                    {"op": "test", "path": f"{path}/name", "value": container},
                    {"op": "replace", "path": f"{path}/image", "value": image},
                ],
                why="upgrade",
            )
            return f"deployment {namespace}/{name}: container {container} set to {image}"
        raise errors.DriverError(
            f"deployment {namespace}/{name} has no container {container!r} "
            f"(containers: {', '.join(str(c.get('name')) for c in containers) or 'none'})"
        )

    async def delete(self, target: models.Target, point: restore_points.RestorePoint) -> str:
        """Nothing to delete: the point is a record of a ReplicaSet Kubernetes keeps itself.

        The Deployment's ``revisionHistoryLimit`` prunes old ReplicaSets; deleting one here
        would fight the controller. Retention only forgets the record.
        """
        driving.require_own_point(self.name, target, point)
        return (
            "nothing to delete: the ReplicaSet is kept or pruned by Kubernetes "
            "(revisionHistoryLimit); only the record is dropped"
        )

    async def status(self, target: models.Target) -> Mapping[str, Any]:
        try:
            namespace, name = self._ref(target)
            deployment = await self._get_deployment(namespace, name)
            pods = await self._list_pods(namespace, deployment)
        except errors.RollsafeError as exc:
            return {"driver": self.name, "error": str(exc)}
        spec = deployment.get("spec") or {}
        state = deployment.get("status") or {}
        rollout = health.rollout_status(deployment)
        return {
            "driver": self.name,
            "deployment": f"{namespace}/{name}",
            "revision": undo.current_revision(deployment),
            "generation": _meta(deployment).get("generation"),
            "observed_generation": state.get("observedGeneration"),
            "paused": bool(spec.get("paused")),
            "images": _images(deployment),
            "replicas": {
                "desired": spec.get("replicas", 1),
                "current": state.get("replicas", 0),
                "updated": state.get("updatedReplicas", 0),
                "ready": state.get("readyReplicas", 0),
                "available": state.get("availableReplicas", 0),
            },
            "conditions": [
                {k: c.get(k) for k in ("type", "status", "reason", "message")}
                for c in state.get("conditions") or []
            ],
            "rollout": rollout.state.value,
            "rollout_message": rollout.message,
            "failed_rollout": health.failed_rollout(deployment, pods),
            "pod_failures": [
                {"pod": f.pod, "container": f.container, "reason": f.reason}
                for f in health.pod_failures(pods)
            ],
        }

    def close(self) -> None:
        """Release the API client's connections (the driver may be used again afterwards)."""
        with self._client_lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    # ------------------------------------------------------------------ steps

    async def _undo(self, target: models.Target, point: restore_points.RestorePoint) -> str:
        namespace, name = self._ref(target)
        deployment = await self._get_deployment(namespace, name)
        replicasets = await self._list_replicasets(namespace, deployment)
        revision = self._find(point, deployment, replicasets)
        try:
            result = undo.plan(deployment, replicasets, to_revision=revision)
        except undo.UndoRefused as exc:
            raise errors.DriverError(str(exc)) from exc
        if result.skipped:
            return f"deployment {namespace}/{name}: {result.reason}"
        await self._patch(namespace, name, undo.json_patch(result), why="rollback")
        return (
            f"deployment {namespace}/{name}: {result.reason}; the controller gives it a new "
            "revision number"
        )

    async def _wait(self, target: models.Target, point: restore_points.RestorePoint) -> str:
        namespace, name = self._ref(target)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.config.rollout_timeout
        while True:
            deployment = await self._get_deployment(namespace, name)
            rollout = health.rollout_status(deployment)
            if rollout.state is health.RolloutState.FAILED:
                raise errors.DriverError(
                    f"rollback of {namespace}/{name} failed: {rollout.message}"
                    + await self._pod_summary(namespace, deployment)
                )
            if rollout.state is health.RolloutState.COMPLETE:
                replicasets = await self._list_replicasets(namespace, deployment)
                revision = self._find(point, deployment, replicasets)
                restored = undo.history(deployment, replicasets)[revision]
                if not undo.templates_equal(_template(restored), _template(deployment)):
                    raise errors.DriverError(
                        f"deployment {namespace}/{name} rolled out, but not the template of "
                        f"restore point {point.id} (ReplicaSet {_meta(restored).get('name')}): "
                        "someone changed it during the rollback"
                    )
                return f"{rollout.message} at revision {undo.current_revision(deployment)}"
            if loop.time() >= deadline:
                raise errors.DriverError(
                    f"rollback of {namespace}/{name} did not complete within "
                    f"{self.config.rollout_timeout:g} s: {rollout.message}"
                    + await self._pod_summary(namespace, deployment)
                )
            await asyncio.sleep(min(self.config.poll_interval, max(0.0, deadline - loop.time())))

    async def _pod_summary(self, namespace: str, deployment: Mapping[str, Any]) -> str:
        try:
            pods = await self._list_pods(namespace, deployment)
        except errors.RollsafeError:
            return ""  # the summary only adds detail to an error already being raised
        failures = health.pod_failures(pods)
        if not failures:
            return ""
        shown = ", ".join(f"{f.pod}/{f.container}: {f.reason}" for f in failures[:5])
        return f"; failing pods: {shown}"

    def _find(
        self,
        point: restore_points.RestorePoint,
        deployment: Mapping[str, Any],
        replicasets: Sequence[Mapping[str, Any]],
    ) -> int:
        """The revision the restore point's ReplicaSet carries now (it is renumbered on undo)."""
        data = point.data
        revision = undo.revision_of(
            deployment,
            replicasets,
            name=data.get("replicaset"),
            template_hash=data.get("template_hash"),
        )
        if revision is None:
            raise errors.PrecheckFailed(
                f"restore point {point.id}: ReplicaSet {data.get('replicaset')} (revision "
                f"{data.get('revision')}, template {data.get('template_hash')}) is no longer "
                f"owned by deployment {data.get('namespace')}/{data.get('deployment')}; "
                "revisionHistoryLimit may have pruned it"
            )
        return revision

    # ------------------------------------------------------------------ API

    def _ref(self, target: models.Target) -> tuple[str, str]:
        name = target.vars.get("deployment")
        if not name:
            raise errors.DriverError(
                f"target {target.id} names no Deployment: set `vars.deployment` in its config"
            )
        namespace = target.vars.get("namespace") or self.config.namespace
        return str(namespace), str(name)

    def _api_client(self) -> Any:
        with self._client_lock:
            if self._client is None:
                self._client = _load_client(self.config)
            return self._client

    async def _get_deployment(self, namespace: str, name: str) -> dict[str, Any]:
        def call(apps: Any) -> Any:
            return apps.read_namespaced_deployment(
                name, namespace, _preload_content=False, _request_timeout=_REQUEST_TIMEOUT
            )

        return await self._call(
            "kubernetes.get_deployment", call, namespace=namespace, name=name, api="apps"
        )

    async def _list_replicasets(
        self, namespace: str, deployment: Mapping[str, Any]
    ) -> list[dict[str, Any]]:
        return await self._list_selected(
            namespace,
            deployment,
            method="list_namespaced_replica_set",
            kind="replicasets",
            api="apps",
        )

    async def _list_pods(
        self, namespace: str, deployment: Mapping[str, Any]
    ) -> list[dict[str, Any]]:
        return await self._list_selected(
            namespace, deployment, method="list_namespaced_pod", kind="pods", api="core"
        )

    async def _list_selected(
        self, namespace: str, deployment: Mapping[str, Any], *, method: str, kind: str, api: str
    ) -> list[dict[str, Any]]:
        """The ``kind`` objects the Deployment's selector matches (``<api>.<method>``)."""
        selector = _selector(deployment)

        def call(client: Any) -> Any:
            return getattr(client, method)(
                namespace,
                label_selector=selector,
                _preload_content=False,
                _request_timeout=_REQUEST_TIMEOUT,
            )

        answer = await self._call(
            f"kubernetes.list_{kind}",
            call,
            namespace=namespace,
            name=_meta(deployment).get("name"),
            api=api,
        )
        return list(answer.get("items") or [])

    async def _patch(
        self, namespace: str, name: str, body: list[dict[str, Any]], *, why: str
    ) -> dict[str, Any]:
        def call(apps: Any) -> Any:
            # A list body makes the client send application/json-patch+json, as kubectl does.
            return apps.patch_namespaced_deployment(
                name, namespace, body, _preload_content=False, _request_timeout=_REQUEST_TIMEOUT
            )

        return await self._call(
            "kubernetes.patch_deployment",
            call,
            namespace=namespace,
            name=name,
            api="apps",
            purpose=why,
        )

    async def _call(
        self,
        operation: str,
        call: Callable[[Any], Any],
        *,
        namespace: str,
        name: Any,
        api: str,
        purpose: str | None = None,
    ) -> dict[str, Any]:
        details: dict[str, Any] = {"namespace": namespace, "name": name}
        if purpose:
            details["purpose"] = purpose

        def run() -> tuple[int, str | None, bytes]:
            from kubernetes import client as k8s  # type: ignore[import-untyped]

            api_client = self._api_client()
            bound = k8s.AppsV1Api(api_client) if api == "apps" else k8s.CoreV1Api(api_client)
            response = call(bound)
            try:
                return int(response.status), response.headers.get("Audit-Id"), response.data
            finally:
                response.release_conn()

        try:
            status, request_id, raw = await asyncio.to_thread(run)
        except errors.RollsafeError:
            raise
        except Exception as exc:  # the client's errors, translated just below
            failure = _translate(exc, operation=operation, namespace=namespace, name=name)
            driving.record_api_call(
                operation,
                **details,
                status=getattr(exc, "status", None),
                request_id=_audit_id(exc),
                error=str(failure),
            )
            raise failure from exc
        driving.record_api_call(operation, **details, status=status, request_id=request_id)
        try:
            answer = json.loads(raw)
        except ValueError as exc:
            raise errors.DriverTemporaryError(
                f"{operation} on {namespace}/{name}: the API server answered no JSON"
            ) from exc
        if not isinstance(answer, dict):
            raise errors.DriverError(f"{operation} on {namespace}/{name}: unexpected answer")
        return answer


def _load_client(config: models.KubernetesDriver) -> Any:
    """An ApiClient for ``config``: its kubeconfig, else in-cluster, else ~/.kube/config."""
    from kubernetes import client as k8s
    from kubernetes import config as k8s_config

    try:
        if config.kubeconfig is not None:
            return k8s_config.new_client_from_config(
                config_file=str(Path(config.kubeconfig).expanduser()),
                context=config.context,
                persist_config=False,
            )
        if os.environ.get("KUBERNETES_SERVICE_HOST") and config.context is None:
            configuration = k8s.Configuration()
            k8s_config.load_incluster_config(client_configuration=configuration)
            return k8s.ApiClient(configuration=configuration)
        return k8s_config.new_client_from_config(context=config.context, persist_config=False)
    except (k8s_config.ConfigException, OSError, ValueError) as exc:
        raise errors.DriverError(
            f"driver {config.name}: no usable Kubernetes client configuration: {exc}"
        ) from exc


def _translate(
    exc: Exception, *, operation: str, namespace: str, name: Any
) -> errors.RollsafeError:
    from kubernetes.client import exceptions as k8s_errors  # type: ignore[import-untyped]

    where = f"{operation} on {namespace}/{name}"
    if isinstance(exc, k8s_errors.ApiException):
        status = exc.status or 0
        message = _status_message(exc) or str(exc.reason or "")
        text = f"{where}: HTTP {status} {message}".rstrip()
        if status == 404:
            return errors.DriverError(f"{where}: not found (HTTP 404) {message}".rstrip())
        if status in (401, 403):
            return errors.DriverError(
                f"{text} (check the credentials and RBAC: get/list/patch deployments, "
                "list replicasets and pods)"
            )
        if status in (409, 429) or status >= 500 or status == 0:
            return errors.DriverTemporaryError(text, retry_after=_retry_after(exc))
        return errors.DriverError(text)
    # urllib3 and socket errors: the API server could not be reached or did not answer.
    return errors.DriverTemporaryError(f"{where}: the API server did not answer: {exc}")


def _status_message(exc: Any) -> str:
    body = getattr(exc, "body", None)
    if not body:
        return ""
    try:
        parsed = json.loads(body)
    except (ValueError, TypeError):
        return ""
    return str(parsed.get("message", "")) if isinstance(parsed, dict) else ""


def _audit_id(exc: Any) -> str | None:
    headers = getattr(exc, "headers", None)
    return headers.get("Audit-Id") if headers is not None else None


def _retry_after(exc: Any) -> float | None:
    headers = getattr(exc, "headers", None)
    raw = headers.get("Retry-After") if headers is not None else None
    try:
        return float(raw) if raw is not None else None
    except ValueError:
        return None


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    meta = obj.get("metadata")
    return meta if isinstance(meta, Mapping) else {}


def _template(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    template = (obj.get("spec") or {}).get("template")
    return template if isinstance(template, Mapping) else {}


def _images(deployment: Mapping[str, Any]) -> dict[str, str]:
    containers = (_template(deployment).get("spec") or {}).get("containers") or []
    return {str(c.get("name")): str(c.get("image")) for c in containers if isinstance(c, Mapping)}


def _selector(deployment: Mapping[str, Any]) -> str:
    """The Deployment's ``matchLabels`` as a label selector (ownership is checked anyway)."""
    selector = (deployment.get("spec") or {}).get("selector") or {}
    labels = selector.get("matchLabels") or {}
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


def make_driver(config: models.Driver, state_dir: Path) -> KubernetesDriver:
    """The registry's factory for ``kind: kubernetes``."""
    if not isinstance(config, models.KubernetesDriver):
        raise errors.ConfigError(f"driver {config.name!r} is not a `kind: kubernetes` driver")
    return KubernetesDriver(config, state_dir)
