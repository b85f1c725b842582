"""A small stand-in of the Kubernetes API server and Deployment controller, on 127.0.0.1.

It serves the real paths the official client calls for the kubernetes driver:

- ``GET`` / ``PATCH`` (``application/json-patch+json``)
  ``/apis/apps/v1/namespaces/{ns}/deployments/{name}``
- ``GET /apis/apps/v1/namespaces/{ns}/replicasets?labelSelector=...``
- ``GET /api/v1/namespaces/{ns}/pods?labelSelector=...``

and checks a bearer token. A change of a Deployment's pod template bumps its ``generation``
and, like the Deployment controller, creates a ReplicaSet for the new template (or reuses the
owned one whose template matches) and gives it revision max + 1, on the ReplicaSet and the
Deployment, pruning old ReplicaSets beyond ``revisionHistoryLimit``. The rollout itself
(observedGeneration, replica counts, conditions, pods) happens immediately with
``auto_rollout=True``, else when the test calls ``rollout()``. An image listed in
``broken_images`` never becomes ready: its pod waits in ``ImagePullBackOff`` and the
Deployment's ``Progressing`` condition turns ``ProgressDeadlineExceeded``.
"""

from __future__ import annotations

import copy
import hashlib
import http.server
import json
import re
import secrets
import threading
import urllib.parse
import uuid
from pathlib import Path
from typing import Any

REVISION = "deployment.kubernetes.io/revision"
HISTORY = "deployment.kubernetes.io/revision-history"
HASH = "pod-template-hash"
_NOT_COPIED = {REVISION, HISTORY, "kubectl.kubernetes.io/last-applied-configuration"}

_DEPLOYMENT = re.compile(r"^/apis/apps/v1/namespaces/([^/]+)/deployments/([^/]+)$")
_REPLICASETS = re.compile(r"^/apis/apps/v1/namespaces/([^/]+)/replicasets$")
_PODS = re.compile(r"^/api/v1/namespaces/([^/]+)/pods$")


class PatchError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def _unhashed(template: dict[str, Any]) -> dict[str, Any]:
    result = copy.deepcopy(template)
    labels = result.get("metadata", {}).get("labels")
    if isinstance(labels, dict):
        labels.pop(HASH, None)
    return result


def _hash(template: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(_unhashed(template), sort_keys=True).encode()).hexdigest()[:10]


def _pointer(path: str) -> list[str]:
    if not path.startswith("/"):
        raise PatchError(422, f"bad JSON pointer {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _apply(doc: dict[str, Any], ops: list[dict[str, Any]]) -> dict[str, Any]:
    """RFC 6902 add / replace / remove / test, enough for the driver's patches."""
    doc = copy.deepcopy(doc)
    for op in ops:
        parts = _pointer(op["path"])
        parent: Any = doc
        for part in parts[:-1]:
            try:
                parent = parent[int(part)] if isinstance(parent, list) else parent[part]
            except (KeyError, IndexError, ValueError) as exc:
                raise PatchError(422, f"path {op['path']} does not exist") from exc
        last = parts[-1]
        kind = op["op"]
        if isinstance(parent, list):
            index = int(last)
            if kind == "test":
                if parent[index] != op["value"]:
                    raise PatchError(422, f"test of {op['path']} failed")
            elif kind in ("replace", "add"):
                parent[index] = copy.deepcopy(op["value"])
            elif kind == "remove":
                del parent[index]
            continue
        if kind == "test":
            if parent.get(last) != op["value"]:
                raise PatchError(422, f"test of {op['path']} failed")
        elif kind == "replace":
            if last not in parent:
                raise PatchError(422, f"replace of missing {op['path']}")
            parent[last] = copy.deepcopy(op["value"])
        elif kind == "add":
            parent[last] = copy.deepcopy(op["value"])
        elif kind == "remove":
            parent.pop(last)
        else:
            raise PatchError(422, f"unsupported op {kind}")
    return doc


class KubeStandin:
    """The API server and Deployment controller; state is only touched under ``lock``."""

    def __init__(self, *, token: str | None = None, auto_rollout: bool = True) -> None:
        self.token = token or secrets.token_hex(16)
        self.auto_rollout = auto_rollout
        self.broken_images: set[str] = set()
        self.lock = threading.Lock()
        self.deployments: dict[tuple[str, str], dict[str, Any]] = {}
        self.replicasets: dict[tuple[str, str], dict[str, Any]] = {}
        self.requests: list[tuple[str, str, str | None]] = []  # method, path, auth header
        self.failures: list[tuple[str, int]] = []  # (method, status) answered once each
        self.request_seen = threading.Condition(self.lock)
        self._resource_version = 100
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    # ------------------------------------------------------------------ lifecycle

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> KubeStandin:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def write_kubeconfig(self, path: Path, *, token: str | None = None) -> Path:
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "standin", "cluster": {"server": self.url}}],
            "users": [{"name": "rollsafe", "user": {"token": token or self.token}}],
            "contexts": [
                {
                    "name": "standin",
                    "context": {"cluster": "standin", "user": "rollsafe", "namespace": "default"},
                }
            ],
            "current-context": "standin",
        }
        path.write_text(json.dumps(config))  # JSON is YAML
        return path

    # ------------------------------------------------------------------ test controls

    def add_deployment(
        self,
        namespace: str,
        name: str,
        *,
        image: str,
        container: str = "app",
        replicas: int = 2,
        history_limit: int = 10,
    ) -> dict[str, Any]:
        with self.lock:
            deployment = {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {
                    "name": name,
                    "namespace": namespace,
                    "uid": str(uuid.uuid4()),
                    "generation": 1,
                    "resourceVersion": self._next_version(),
                    "labels": {"app": name},
                    "annotations": {"team": "payments"},
                },
                "spec": {
                    "replicas": replicas,
                    "revisionHistoryLimit": history_limit,
                    "progressDeadlineSeconds": 600,
                    "selector": {"matchLabels": {"app": name}},
                    "template": {
                        "metadata": {"labels": {"app": name}},
                        "spec": {"containers": [{"name": container, "image": image}]},
                    },
                },
                "status": {},
            }
            self.deployments[(namespace, name)] = deployment
            self._sync(deployment)
            if self.auto_rollout:
                self._roll_out(deployment)
            return copy.deepcopy(deployment)

    def deployment(self, namespace: str, name: str) -> dict[str, Any]:
        with self.lock:
            return copy.deepcopy(self.deployments[(namespace, name)])

    def owned_replicasets(self, namespace: str, name: str) -> list[dict[str, Any]]:
        with self.lock:
            uid = self.deployments[(namespace, name)]["metadata"]["uid"]
            return [
                copy.deepcopy(rs)
                for (ns, _), rs in sorted(self.replicasets.items())
                if ns == namespace and rs["metadata"]["ownerReferences"][0]["uid"] == uid
            ]

    def rollout(self, namespace: str, name: str) -> None:
        """The controller observes the latest generation and rolls it out (or fails to)."""
        with self.lock:
            self._roll_out(self.deployments[(namespace, name)])

    def set_paused(self, namespace: str, name: str, paused: bool) -> None:
        with self.lock:
            self.deployments[(namespace, name)]["spec"]["paused"] = paused

    def delete_replicaset(self, namespace: str, name: str) -> None:
        with self.lock:
            del self.replicasets[(namespace, name)]

    def fail_next(self, method: str, status: int) -> None:
        with self.lock:
            self.failures.append((method, status))

    def wait_for_requests(self, method: str, count: int, *, timeout: float = 30.0) -> None:
        """Block until ``count`` requests of ``method`` have arrived in total."""
        with self.request_seen:
            ok = self.request_seen.wait_for(
                lambda: sum(1 for m, _, _ in self.requests if m == method) >= count,
                timeout=timeout,
            )
        if not ok:
            raise TimeoutError(f"fewer than {count} {method} requests arrived")

    def count(self, method: str, path_contains: str = "") -> int:
        with self.lock:
            return sum(1 for m, p, _ in self.requests if m == method and path_contains in p)

    # ------------------------------------------------------------------ controller

    def _next_version(self) -> str:
        self._resource_version += 1
        return str(self._resource_version)

    def _owned(self, deployment: dict[str, Any]) -> list[dict[str, Any]]:
        uid = deployment["metadata"]["uid"]
        return [
            rs
            for rs in self.replicasets.values()
            if rs["metadata"]["ownerReferences"][0]["uid"] == uid
        ]

    def _sync(self, deployment: dict[str, Any]) -> None:
        """Find or create the ReplicaSet of the current template and number its revision."""
        meta = deployment["metadata"]
        template = deployment["spec"]["template"]
        owned = self._owned(deployment)
        revisions = [int(rs["metadata"]["annotations"][REVISION]) for rs in owned]
        top = max(revisions, default=0)
        wanted = _unhashed(template)
        match = next((rs for rs in owned if _unhashed(rs["spec"]["template"]) == wanted), None)
        copied = {k: v for k, v in meta.get("annotations", {}).items() if k not in _NOT_COPIED}
        if match is None:
            pod_hash = _hash(template)
            rs_template = copy.deepcopy(template)
            rs_template.setdefault("metadata", {}).setdefault("labels", {})[HASH] = pod_hash
            labels = dict(rs_template["metadata"]["labels"])
            match = {
                "apiVersion": "apps/v1",
                "kind": "ReplicaSet",
                "metadata": {
                    "name": f"{meta['name']}-{pod_hash}",
                    "namespace": meta["namespace"],
                    "uid": str(uuid.uuid4()),
                    "labels": labels,
                    "annotations": {**copied, REVISION: str(top + 1)},
                    "ownerReferences": [
                        {
                            "apiVersion": "apps/v1",
                            "kind": "Deployment",
                            "name": meta["name"],
                            "uid": meta["uid"],
                            "controller": True,
                            "blockOwnerDeletion": True,
                        }
                    ],
                },
                "spec": {
                    "replicas": 0,
                    "selector": {"matchLabels": labels},
                    "template": rs_template,
                },
                "status": {"replicas": 0, "readyReplicas": 0, "availableReplicas": 0},
            }
            self.replicasets[(meta["namespace"], match["metadata"]["name"])] = match
        else:
            annotations = match["metadata"]["annotations"]
            old = int(annotations[REVISION])
            if old != top:
                # An older template came back: it gets a new, higher revision and remembers
                # the old one, as the real controller does.
                history = [h for h in annotations.get(HISTORY, "").split(",") if h]
                annotations.update(copied)
                annotations[HISTORY] = ",".join([*history, str(old)])
                annotations[REVISION] = str(top + 1)
        meta.setdefault("annotations", {})[REVISION] = match["metadata"]["annotations"][REVISION]
        self._prune(deployment)

    def _prune(self, deployment: dict[str, Any]) -> None:
        limit = deployment["spec"].get("revisionHistoryLimit", 10)
        current = deployment["metadata"]["annotations"][REVISION]
        old = sorted(
            (
                rs
                for rs in self._owned(deployment)
                if rs["metadata"]["annotations"][REVISION] != current
            ),
            key=lambda rs: int(rs["metadata"]["annotations"][REVISION]),
        )
        for rs in old[: max(0, len(old) - limit)]:
            if rs["spec"]["replicas"] == 0:
                del self.replicasets[(rs["metadata"]["namespace"], rs["metadata"]["name"])]

    def _roll_out(self, deployment: dict[str, Any]) -> None:
        meta, spec = deployment["metadata"], deployment["spec"]
        wanted = spec.get("replicas", 1)
        status = deployment["status"]
        status["observedGeneration"] = meta["generation"]
        if spec.get("paused"):
            return
        current = meta["annotations"][REVISION]
        owned = self._owned(deployment)
        new = next(rs for rs in owned if rs["metadata"]["annotations"][REVISION] == current)
        images = {c["image"] for c in new["spec"]["template"]["spec"]["containers"]}
        if images & self.broken_images:
            new["spec"]["replicas"] = 1  # the surge pod, which never becomes ready
            new["status"] = {"replicas": 1, "readyReplicas": 0, "availableReplicas": 0}
            old_ready = sum(rs["status"].get("readyReplicas", 0) for rs in owned if rs is not new)
            status.update(
                replicas=old_ready + 1,
                updatedReplicas=1,
                readyReplicas=old_ready,
                availableReplicas=old_ready,
                unavailableReplicas=1,
            )
            progressing = {
                "type": "Progressing",
                "status": "False",
                "reason": "ProgressDeadlineExceeded",
                "message": f'ReplicaSet "{new["metadata"]["name"]}" has timed out progressing.',
            }
        else:
            for rs in owned:
                count = wanted if rs is new else 0
                rs["spec"]["replicas"] = count
                rs["status"] = {
                    "replicas": count,
                    "readyReplicas": count,
                    "availableReplicas": count,
                }
            status.update(
                replicas=wanted,
                updatedReplicas=wanted,
                readyReplicas=wanted,
                availableReplicas=wanted,
                unavailableReplicas=0,
            )
            progressing = {
                "type": "Progressing",
                "status": "True",
                "reason": "NewReplicaSetAvailable",
                "message": f'ReplicaSet "{new["metadata"]["name"]}" has successfully progressed.',
            }
        status["conditions"] = [
            {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"},
            progressing,
        ]

    def _pods(self, namespace: str) -> list[dict[str, Any]]:
        pods = []
        for (ns, name), rs in sorted(self.replicasets.items()):
            if ns != namespace:
                continue
            ready = rs["status"].get("readyReplicas", 0)
            for index in range(rs["spec"]["replicas"]):
                good = index < ready
                containers = rs["spec"]["template"]["spec"]["containers"]
                pods.append(
                    {
                        "metadata": {
                            "name": f"{name}-pod{index}",
                            "namespace": ns,
                            "labels": dict(rs["spec"]["template"]["metadata"]["labels"]),
                        },
                        "status": {
                            "phase": "Running" if good else "Pending",
                            "containerStatuses": [
                                {
                                    "name": c["name"],
                                    "image": c["image"],
                                    "ready": good,
                                    "state": {"running": {}}
                                    if good
                                    else {
                                        "waiting": {
                                            "reason": "ImagePullBackOff",
                                            "message": f'Back-off pulling image "{c["image"]}"',
                                        }
                                    },
                                }
                                for c in containers
                            ],
                        },
                    }
                )
        return pods

    # ------------------------------------------------------------------ HTTP

    def _patch(self, namespace: str, name: str, ops: list[dict[str, Any]]) -> dict[str, Any]:
        deployment = self.deployments.get((namespace, name))
        if deployment is None:
            raise PatchError(404, f'deployments.apps "{name}" not found')
        patched = _apply(deployment, ops)
        for key in ("uid", "name", "namespace", "generation"):
            if patched["metadata"].get(key) != deployment["metadata"].get(key):
                raise PatchError(422, f"metadata.{key} may not be changed")
        spec_changed = patched["spec"] != deployment["spec"]
        template_changed = patched["spec"]["template"] != deployment["spec"]["template"]
        patched["status"] = deployment["status"]
        patched["metadata"]["resourceVersion"] = self._next_version()
        if spec_changed:
            patched["metadata"]["generation"] += 1
        self.deployments[(namespace, name)] = patched
        if template_changed and not patched["spec"].get("paused"):
            self._sync(patched)
        if self.auto_rollout:
            self._roll_out(patched)
        return copy.deepcopy(patched)

    def _handler(self) -> type[http.server.BaseHTTPRequestHandler]:
        standin = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _answer(self, code: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Audit-Id", str(uuid.uuid4()))
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _status(self, code: int, message: str) -> None:
                reasons = {401: "Unauthorized", 404: "NotFound", 409: "Conflict", 422: "Invalid"}
                self._answer(
                    code,
                    {
                        "kind": "Status",
                        "apiVersion": "v1",
                        "status": "Failure",
                        "message": message,
                        "reason": reasons.get(code, "InternalError"),
                        "code": code,
                    },
                )

            def _serve(self, method: str) -> None:
                url = urllib.parse.urlsplit(self.path)
                query = urllib.parse.parse_qs(url.query)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with standin.request_seen:
                    standin.requests.append((method, url.path, self.headers.get("Authorization")))
                    standin.request_seen.notify_all()
                    if self.headers.get("Authorization") != f"Bearer {standin.token}":
                        self._status(401, "Unauthorized")
                        return
                    for index, (m, code) in enumerate(standin.failures):
                        if m == method:
                            del standin.failures[index]
                            self._status(code, f"injected failure {code}")
                            return
                    try:
                        self._route(method, url.path, query, body)
                    except PatchError as exc:
                        self._status(exc.code, str(exc))

            def _route(
                self, method: str, path: str, query: dict[str, list[str]], body: bytes
            ) -> None:
                selector = dict(
                    part.split("=", 1)
                    for part in (query.get("labelSelector") or [""])[0].split(",")
                    if part
                )
                if found := _DEPLOYMENT.match(path):
                    namespace, name = found.groups()
                    if method == "GET":
                        deployment = standin.deployments.get((namespace, name))
                        if deployment is None:
                            raise PatchError(404, f'deployments.apps "{name}" not found')
                        self._answer(200, deployment)
                        return
                    if method == "PATCH":
                        if self.headers.get("Content-Type") != "application/json-patch+json":
                            raise PatchError(415, "only JSON patches are served here")
                        self._answer(200, standin._patch(namespace, name, json.loads(body)))
                        return
                if method == "GET" and (found := _REPLICASETS.match(path)):
                    items = [
                        rs
                        for (ns, _), rs in sorted(standin.replicasets.items())
                        if ns == found.group(1)
                        and all(rs["metadata"]["labels"].get(k) == v for k, v in selector.items())
                    ]
                    self._answer(
                        200, {"kind": "ReplicaSetList", "apiVersion": "apps/v1", "items": items}
                    )
                    return
                if method == "GET" and (found := _PODS.match(path)):
                    items = [
                        pod
                        for pod in standin._pods(found.group(1))
                        if all(pod["metadata"]["labels"].get(k) == v for k, v in selector.items())
                    ]
                    self._answer(200, {"kind": "PodList", "apiVersion": "v1", "items": items})
                    return
                raise PatchError(404, f"no route for {method} {path}")

            def do_GET(self) -> None:
                self._serve("GET")

            def do_PATCH(self) -> None:
                self._serve("PATCH")

        return Handler
