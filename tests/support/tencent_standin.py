"""A local stand-in for Tencent Cloud's CVM and CBS APIs, for the tencent driver's tests.

It speaks the API 3.0 wire format the real SDK sends: ``POST /`` with a JSON body, the action
in ``X-TC-Action``, ``X-TC-Version`` 2017-03-12, ``X-TC-Region``, ``X-TC-Timestamp``, and an
``Authorization`` header that it VERIFIES as documented for TC3-HMAC-SHA256 (canonical
request, string to sign, key derived from the secret key, date and service). Answers are
``{"Response": {..., "RequestId": ...}}`` or ``{"Response": {"Error": {"Code", "Message"},
"RequestId": ...}}`` with HTTP 200 and ``Content-Type: application/json``.

CVM and CBS listen on two ports over one shared state: instances (``RUNNING``, ``STOPPING``,
``STOPPED``, ``STARTING``), CBS disks (``SYSTEM_DISK`` / ``DATA_DISK``, ``ATTACHED``,
``ROLLBACKING``) and snapshots (``CREATING``, ``NORMAL``, ``ROLLBACKING``). Transitions take
the times in ``Timings`` and are applied lazily, on each request, from a timeline; each disk
and snapshot carries a ``content`` string standing for its data, so a test can see what an
upgrade wrote and what a rollback restored. ``GET /health/<instance>`` on the CVM port stands
for the workload: 200 while the instance is RUNNING on a system disk whose content is the
instance's ``healthy`` content, 503 otherwise.

Documented preconditions and error codes it enforces (CBS and CVM API 2017-03-12):

- ApplySnapshot: ``MissingParameter``; ``InvalidParameterValue`` (AutoStartInstance without
  AutoStopInstance, or a snapshot of another disk); ``InvalidSnapshotId.NotFound``,
  ``InvalidDiskId.NotFound``; ``ResourceUnavailable.SnapshotCreating``;
  ``ResourceInUse.DiskRollbacking``; ``InvalidDisk.Busy`` (instance stopping or starting);
  ``UnsupportedOperation.InstanceNotStopped`` (an attached disk of a running instance
  without AutoStopInstance; CBS's code for "the instance the disk is attached to is not shut
  down").
- DeleteSnapshots: ``MissingParameter``, ``InvalidSnapshotId.NotFound``,
  ``InvalidSnapshot.NotSupported`` (not NORMAL); all or nothing for a batch.
- CreateSnapshot: ``InvalidDiskId.NotFound``, ``InvalidDisk.SnapshotCreating``,
  ``ResourceInUse.DiskRollbacking``, ``InvalidParameterValue`` (a Deadline under a day).
- RunInstances: ``MissingParameter`` (ImageId, Placement.Zone), ``InvalidImageId.NotFound``,
  ``InvalidZone.MismatchRegion``, ``InvalidParameterValue`` (InstanceCount other than 1 here,
  or a ClientToken over 64 characters); a repeated ``ClientToken`` answers the instances the
  first request launched and launches none (the documented idempotency). A new instance is
  ``PENDING``, then ``RUNNING``; its system disk holds the image's content (``images``), and
  ``TagSpecification`` tags of ResourceType ``instance`` become its tags.
- StopInstances / StartInstances: ``InvalidInstanceId.NotFound`` / ``.Malformed``,
  ``UnsupportedOperation.InstanceStateStopped`` / ``Stopping`` / ``Running``,
  ``OperationDenied.InstanceOperationInProgress`` (starting, or its disk rolling back).
- Describe*: ``InvalidFilter``, ``InvalidParameterCombination`` / ``InvalidParameter``
  (ids and filters together), ``InvalidParameterValue`` (Limit over 100).
- Common: ``AuthFailure.InvalidAuthorization``, ``AuthFailure.SecretIdNotFound``,
  ``AuthFailure.SignatureFailure``, ``AuthFailure.SignatureExpire``, ``InvalidAction``,
  ``NoSuchVersion``, ``UnsupportedRegion``, ``MissingParameter``; ``RequestLimitExceeded``
  past ``rate_limit`` calls per action per second (when set).

TAT (Automation Tools, API 2020-10-28, its own port and signing service ``tat``) for the
``tencent_tat`` transport: RunCommand runs the Base64 ``Content`` for real with ``sh -c`` in a
temporary directory (``standin_shell.ShellRun``), killed at its ``Timeout``;
DescribeInvocationTasks (filter ``invocation-id``) answers RUNNING, then SUCCESS / FAILED with
``TaskResult.ExitCode`` and ``Output`` (stdout then stderr, Base64, its last 24 KB; ``Dropped``
the bytes cut), or TIMEOUT; CancelInvocation kills it (CANCELLED). Codes, as the SDK's
``tat/v20201028/errorcodes.py`` lists them: ``ResourceNotFound.InstanceNotFound``,
``ResourceUnavailable.AgentStatusNotOnline`` (instances in ``agent_offline``),
``ResourceUnavailable.InstanceStateNotRunning``, ``InvalidParameterValue.InvalidContent``
(not Base64), ``InvalidParameterValue.InvalidInvocationId``, plus the common ones above.

Injection for tests: ``throttle`` (RequestLimitExceeded), ``fail`` (any code), ``deny``
(``AuthFailure.UnauthorizedOperation``, a CAM permission missing), ``http_error`` (a 5xx),
``Timings`` (slow transitions), ``vanish_snapshots`` (a snapshot that disappears while it is
created), ``disk_waits_for_stop`` (ApplySnapshot marks the disk ROLLBACKING only once the
auto-stop is over), ``settle`` (let all pending transitions happen now).
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import datetime
import hashlib
import heapq
import hmac
import itertools
import json
import re
import threading
import time
import uuid
from collections.abc import Callable
from http import server
from typing import Any

from support.standin_shell import ShellRun

API_VERSION = "2017-03-12"
REGIONS = frozenset(
    {"ap-guangzhou", "ap-shanghai", "ap-beijing", "ap-chengdu", "ap-hongkong", "ap-singapore"}
)
ACTIONS = {
    "cvm": frozenset({"DescribeInstances", "StopInstances", "StartInstances", "RunInstances"}),
    "cbs": frozenset(
        {"DescribeDisks", "DescribeSnapshots", "CreateSnapshot", "ApplySnapshot", "DeleteSnapshots"}
    ),
    "tat": frozenset({"RunCommand", "DescribeInvocationTasks", "CancelInvocation"}),
}
TAT_VERSION = "2020-10-28"
TAT_OUTPUT_CAP = 24 * 1024
_VERSIONS = {"tat": TAT_VERSION}  # the other services speak API_VERSION
_AUTH = re.compile(
    r"^TC3-HMAC-SHA256 Credential=(?P<id>[^/]+)/(?P<date>\d{4}-\d{2}-\d{2})/(?P<service>[a-z]+)"
    r"/tc3_request, SignedHeaders=(?P<headers>[a-z0-9;-]+), Signature=(?P<sig>[0-9a-f]{64})$"
)
_INSTANCE_ID = re.compile(r"^ins-[a-z0-9]{8}$")
_SIGNATURE_WINDOW = 300.0


class ApiError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(code, message)
        self.code = code
        self.message = message


@dataclasses.dataclass
class Timings:
    """How long each transition takes, in seconds."""

    snapshot: float = 0.15  # CREATING -> NORMAL
    stop: float = 0.05  # STOPPING -> STOPPED
    start: float = 0.05  # STARTING -> RUNNING
    launch: float = 0.1  # PENDING -> RUNNING (RunInstances)
    rollback: float = 0.15  # ROLLBACKING -> ATTACHED


@dataclasses.dataclass
class Instance:
    id: str
    name: str
    zone: str
    image_id: str
    private_ip: str
    tags: dict[str, str]
    state: str
    system_disk: str
    healthy: str
    latest_operation: str | None = None
    instance_type: str = "S5.MEDIUM2"
    vpc_id: str = "vpc-standin1"
    subnet_id: str = "subnet-standin1"
    security_group_ids: list[str] = dataclasses.field(default_factory=lambda: ["sg-standin1"])
    key_ids: list[str] = dataclasses.field(default_factory=lambda: ["skey-standin1"])
    launch_params: dict[str, Any] | None = None  # what RunInstances was asked, if launched


@dataclasses.dataclass
class Disk:
    id: str
    usage: str
    instance_id: str | None
    size: int
    zone: str
    content: str
    state: str = "ATTACHED"
    rollback_percent: int = 0


@dataclasses.dataclass
class Snapshot:
    id: str
    name: str
    disk_id: str
    usage: str
    size: int
    zone: str
    content: str
    created: str
    state: str = "CREATING"
    percent: int = 0
    deadline: str | None = None
    tags: dict[str, str] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class Call:
    """One request the stand-in answered."""

    service: str
    action: str
    params: dict[str, Any]
    request_id: str
    error: str | None


class TencentStandin:
    """CVM + CBS on 127.0.0.1; use as a context manager or ``start()`` / ``stop()``."""

    def __init__(
        self,
        *,
        secret_id: str,
        secret_key: str,
        region: str = "ap-guangzhou",
        timings: Timings | None = None,
        rate_limit: int | None = None,
    ) -> None:
        self.secret_id = secret_id
        self.secret_key = secret_key
        self.region = region
        self.timings = timings or Timings()
        self.rate_limit = rate_limit
        self.vanish_snapshots = False
        self.disk_waits_for_stop = False
        self.instances: dict[str, Instance] = {}
        self.disks: dict[str, Disk] = {}
        self.snapshots: dict[str, Snapshot] = {}
        self.calls: list[Call] = []
        self.applied: list[tuple[str, str]] = []  # (disk, snapshot) of each effective restore
        self.images: dict[str, str] = {"img-base0001": "release-1"}  # image -> disk content
        self._tokens: dict[str, list[str]] = {}  # RunInstances ClientToken -> its instances
        self._lock = threading.RLock()
        self._timeline: list[tuple[float, int, Callable[[], None]]] = []
        self._order = itertools.count()
        self._faults: list[dict[str, Any]] = []
        self._denied: set[str] = set()
        self._recent: dict[str, list[float]] = {}
        self._servers: dict[str, server.ThreadingHTTPServer] = {}
        self._threads: list[threading.Thread] = []
        self.tat_tasks: dict[str, TatTask] = {}  # invocation id -> its one task
        self.agent_offline: set[str] = set()  # instances whose TAT agent is not online

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> TencentStandin:
        for service in ("cvm", "cbs", "tat"):
            httpd = server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(self, service))
            httpd.daemon_threads = True
            thread = threading.Thread(
                target=httpd.serve_forever,
                kwargs={"poll_interval": 0.05},
                name=f"tencent-standin-{service}",
                daemon=True,
            )
            thread.start()
            self._servers[service] = httpd
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        for task in self.tat_tasks.values():
            if task.run.result is None:
                task.run.kill()
        for httpd in self._servers.values():
            httpd.shutdown()
            httpd.server_close()
        for thread in self._threads:
            thread.join(timeout=5)

    def __enter__(self) -> TencentStandin:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def endpoint(self, service: str) -> str:
        """``host:port`` of ``service`` ("cvm" or "cbs"), for ``HttpProfile(endpoint=...)``."""
        host, port = self._servers[service].server_address[:2]
        return f"{host}:{port}"

    def health_url(self) -> str:
        return f"http://{self.endpoint('cvm')}/health"

    def driver_settings(self) -> dict[str, Any]:
        """The ``kind: tencent`` driver fields that point the SDK here."""
        return {
            "region": self.region,
            "protocol": "http",
            "endpoints": {"cvm": self.endpoint("cvm"), "cbs": self.endpoint("cbs")},
        }

    # ------------------------------------------------------------------ the world

    def add_instance(
        self,
        instance_id: str,
        *,
        name: str | None = None,
        state: str = "RUNNING",
        tags: dict[str, str] | None = None,
        zone: str | None = None,
        image_id: str = "img-base0001",
        private_ip: str = "10.0.0.10",
        content: str = "release-1",
        disk_size: int = 50,
        data_disk: bool = False,
    ) -> Instance:
        """A CVM instance with a CBS system disk holding ``content`` (its healthy content)."""
        with self._lock:
            zone = zone or f"{self.region}-3"
            disk_id = f"disk-{instance_id.removeprefix('ins-')}"
            self.disks[disk_id] = Disk(
                id=disk_id,
                usage="SYSTEM_DISK",
                instance_id=instance_id,
                size=disk_size,
                zone=zone,
                content=content,
            )
            if data_disk:
                data_id = f"disk-{instance_id.removeprefix('ins-')[::-1]}"
                self.disks[data_id] = Disk(
                    id=data_id,
                    usage="DATA_DISK",
                    instance_id=instance_id,
                    size=100,
                    zone=zone,
                    content="data",
                )
            instance = Instance(
                id=instance_id,
                name=name or instance_id,
                zone=zone,
                image_id=image_id,
                private_ip=private_ip,
                tags=dict(tags or {}),
                state=state,
                system_disk=disk_id,
                healthy=content,
            )
            self.instances[instance_id] = instance
            return instance

    def write_disk(self, disk_id: str, content: str) -> None:
        """What an upgrade does to a disk."""
        with self._lock:
            self.disks[disk_id].content = content

    def state_of(self, instance_id: str) -> str:
        with self._lock:
            self._advance()
            return self.instances[instance_id].state

    def disk(self, disk_id: str) -> Disk:
        with self._lock:
            self._advance()
            return dataclasses.replace(self.disks[disk_id])

    def settle(self) -> None:
        """Let every pending transition happen now (time passing while nobody looks)."""
        with self._lock:
            while self._timeline:
                _, _, action = heapq.heappop(self._timeline)
                action()

    def pending(self) -> int:
        with self._lock:
            self._advance()
            return len(self._timeline)

    def count(self, action: str, *, ok: bool | None = None) -> int:
        with self._lock:
            return sum(
                1
                for c in self.calls
                if c.action == action and (ok is None or (c.error is None) == ok)
            )

    # ------------------------------------------------------------------ injection

    def throttle(self, action: str, *, times: int = 1) -> None:
        self.fail(action, "RequestLimitExceeded", "Your request rate is too high.", times=times)

    def fail(self, action: str, code: str, message: str = "injected", *, times: int = 1) -> None:
        with self._lock:
            self._faults.append({"action": action, "code": code, "message": message, "n": times})

    def http_error(self, action: str, *, status: int = 502, times: int = 1) -> None:
        with self._lock:
            self._faults.append({"action": action, "status": status, "n": times})

    def deny(self, action: str) -> None:
        """The credentials' CAM policy does not allow ``action``."""
        with self._lock:
            self._denied.add(action)

    # ------------------------------------------------------------------ requests

    def handle(self, service: str, headers: dict[str, str], body: bytes) -> tuple[int, bytes]:
        request_id = str(uuid.uuid4())
        action = headers.get("x-tc-action", "")
        params: dict[str, Any] = {}
        try:
            with self._lock:
                self._advance()
                self._authenticate(service, headers, body)
                try:
                    params = json.loads(body or b"{}")
                except ValueError as exc:
                    raise ApiError("InvalidParameter", "the body is not JSON") from exc
                if not isinstance(params, dict):
                    raise ApiError("InvalidParameter", "the body is not a JSON object")
                status = self._injected(action)
                if status is not None:
                    self.calls.append(Call(service, action, params, request_id, f"HTTP {status}"))
                    return status, b"<html><body>502 Bad Gateway</body></html>"
                self._limit(action)
                if action in self._denied:
                    raise ApiError(
                        "AuthFailure.UnauthorizedOperation",
                        f"you are not authorized to perform operation ({service}:{action})",
                    )
                result = getattr(self, f"_{action}")(params)
        except ApiError as exc:
            with self._lock:
                self.calls.append(Call(service, action, params, request_id, exc.code))
            return 200, _encode(
                {"Error": {"Code": exc.code, "Message": exc.message}, "RequestId": request_id}
            )
        with self._lock:
            self.calls.append(Call(service, action, params, request_id, None))
        return 200, _encode({**result, "RequestId": request_id})

    def act(self, action: str, params: dict[str, Any]) -> dict[str, Any]:
        """Perform ``action`` as a request nobody saw answered would have (no signature)."""
        with self._lock:
            self._advance()
            result: dict[str, Any] = getattr(self, f"_{action}")(params)
            self.calls.append(Call("direct", action, params, "direct", None))
            return result

    def health(self, instance_id: str) -> int:
        with self._lock:
            self._advance()
            instance = self.instances.get(instance_id)
            if instance is None:
                return 404
            disk = self.disks[instance.system_disk]
            healthy = instance.state == "RUNNING" and disk.content == instance.healthy
            return 200 if healthy else 503

    def _authenticate(self, service: str, headers: dict[str, str], body: bytes) -> None:
        action = headers.get("x-tc-action")
        if not action:
            raise ApiError("MissingParameter", "the X-TC-Action header is missing")
        auth = _AUTH.match(headers.get("authorization", ""))
        if auth is None:
            raise ApiError(
                "AuthFailure.InvalidAuthorization",
                "the Authorization header does not follow TC3-HMAC-SHA256",
            )
        if auth["id"] != self.secret_id:
            raise ApiError("AuthFailure.SecretIdNotFound", "the SecretId is not found")
        try:
            timestamp = int(headers.get("x-tc-timestamp", ""))
        except ValueError as exc:
            raise ApiError("MissingParameter", "X-TC-Timestamp is missing or invalid") from exc
        if abs(time.time() - timestamp) > _SIGNATURE_WINDOW:
            raise ApiError("AuthFailure.SignatureExpire", "the signature has expired")
        date = datetime.datetime.fromtimestamp(timestamp, datetime.UTC).strftime("%Y-%m-%d")
        signed = auth["headers"].split(";")
        if (
            auth["date"] != date
            or auth["service"] != service
            or not {
                "content-type",
                "host",
            }
            <= set(signed)
        ):
            raise ApiError("AuthFailure.SignatureFailure", "the credential scope is wrong")
        if any(name not in headers for name in signed):
            raise ApiError("AuthFailure.SignatureFailure", "a signed header is missing")
        canonical_headers = "".join(f"{n}:{headers[n].strip().lower()}\n" for n in signed)
        if headers.get("x-tc-content-sha256") == "UNSIGNED-PAYLOAD":
            payload_hash = hashlib.sha256(b"UNSIGNED-PAYLOAD").hexdigest()
        else:
            payload_hash = hashlib.sha256(body).hexdigest()
        canonical = "\n".join(["POST", "/", "", canonical_headers, auth["headers"], payload_hash])
        scope = f"{date}/{service}/tc3_request"
        to_sign = "\n".join(
            [
                "TC3-HMAC-SHA256",
                str(timestamp),
                scope,
                hashlib.sha256(canonical.encode()).hexdigest(),
            ]
        )
        key = _hmac(f"TC3{self.secret_key}".encode(), date)
        key = _hmac(key, service)
        key = _hmac(key, "tc3_request")
        expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, auth["sig"]):
            raise ApiError("AuthFailure.SignatureFailure", "the signature does not match")
        if action not in ACTIONS[service]:
            raise ApiError("InvalidAction", f"{action} is not an action of {service}")
        if headers.get("x-tc-version") != _VERSIONS.get(service, API_VERSION):
            raise ApiError(
                "NoSuchVersion", f"{service} has no version {headers.get('x-tc-version')}"
            )
        region = headers.get("x-tc-region")
        if not region:
            raise ApiError("MissingParameter", "the X-TC-Region header is missing")
        if region not in REGIONS:
            raise ApiError("UnsupportedRegion", f"{service} is not offered in {region}")
        if region != self.region:
            # The stand-in's resources live in one region; others are empty.
            raise ApiError("UnsupportedRegion", f"this stand-in serves only {self.region}")

    def _injected(self, action: str) -> int | None:
        for fault in self._faults:
            if fault["action"] == action and fault["n"] > 0:
                fault["n"] -= 1
                if "status" in fault:
                    return int(fault["status"])
                raise ApiError(fault["code"], fault["message"])
        return None

    def _limit(self, action: str) -> None:
        if self.rate_limit is None:
            return
        now = time.monotonic()
        recent = [t for t in self._recent.get(action, []) if now - t < 1.0]
        if len(recent) >= self.rate_limit:
            self._recent[action] = recent
            raise ApiError("RequestLimitExceeded", "Your request rate is too high.")
        self._recent[action] = [*recent, now]

    # ------------------------------------------------------------------ the timeline

    def _at(self, delay: float, action: Callable[[], None]) -> None:
        heapq.heappush(self._timeline, (time.monotonic() + delay, next(self._order), action))

    def _advance(self) -> None:
        now = time.monotonic()
        while self._timeline and self._timeline[0][0] <= now:
            _, _, action = heapq.heappop(self._timeline)
            action()

    def _set_state(self, instance: Instance, state: str) -> Callable[[], None]:
        def change() -> None:
            instance.state = state

        return change

    # ------------------------------------------------------------------ TAT

    def _RunCommand(self, p: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        content = str(_required(p, "Content"))
        ids = _required(p, "InstanceIds")
        if not isinstance(ids, list) or len(ids) != 1:
            raise ApiError("InvalidParameterValue", "this stand-in runs on one instance a call")
        if p.get("CommandType", "SHELL") != "SHELL":
            raise ApiError("InvalidParameterValue.AgentUnsupportedCommandType", "SHELL only")
        try:
            script = base64.b64decode(content, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise ApiError(
                "InvalidParameterValue.InvalidContent", "Content is not Base64"
            ) from None
        instance = self.instances.get(str(ids[0]))
        if instance is None:
            raise ApiError("ResourceNotFound.InstanceNotFound", f"instance {ids[0]} not found")
        if instance.state != "RUNNING":
            raise ApiError("ResourceUnavailable.InstanceStateNotRunning", "instance not running")
        if instance.id in self.agent_offline:
            raise ApiError("ResourceUnavailable.AgentStatusNotOnline", "the agent is not online")
        timeout = int(p.get("Timeout", 60))
        if not 1 <= timeout <= 86400:
            raise ApiError("InvalidParameterValue", "Timeout is from 1 to 86400")
        number = len(self.tat_tasks) + 1
        task = TatTask(
            f"inv-{number:08x}",
            f"invt-{number:08x}",
            instance.id,
            ShellRun(script, timeout=timeout),
        )
        self.tat_tasks[task.invocation_id] = task
        return {"CommandId": f"cmd-{number:08x}", "InvocationId": task.invocation_id}

    def _DescribeInvocationTasks(self, p: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        wanted: list[str] | None = None
        for f in p.get("Filters") or []:
            if f.get("Name") != "invocation-id":
                raise ApiError("InvalidFilter", f"filter {f.get('Name')} is not supported")
            wanted = _values(f)
        offset, limit = _paging(p)
        tasks = [t for t in self.tat_tasks.values() if wanted is None or t.invocation_id in wanted]
        hide = p.get("HideOutput", True) is not False
        shown = [_show_task(t, hide_output=hide) for t in tasks[offset : offset + limit]]
        return {"TotalCount": len(tasks), "InvocationTaskSet": shown}

    def _CancelInvocation(self, p: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        task = self.tat_tasks.get(str(_required(p, "InvocationId")))
        if task is None:
            raise ApiError("InvalidParameterValue.InvalidInvocationId", "no such invocation")
        if task.run.result is None:
            task.run.kill()
            task.run.poll()
            task.cancelled = True
        return {}

    # ------------------------------------------------------------------ CVM

    def _DescribeInstances(self, p: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        ids = p.get("InstanceIds")
        filters = p.get("Filters")
        if ids and filters:
            raise ApiError(
                "InvalidParameterCombination", "InstanceIds and Filters cannot be used together"
            )
        offset, limit = _paging(p)
        if ids:
            found = [self._instance(i) for i in ids]
        else:
            found = [i for i in self.instances.values() if _instance_matches(i, filters or [])]
        page = found[offset : offset + limit]
        return {"TotalCount": len(found), "InstanceSet": [self._show_instance(i) for i in page]}

    def _StopInstances(self, p: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        stop_type = p.get("StopType", "SOFT")
        if stop_type not in ("SOFT", "HARD", "SOFT_FIRST"):
            raise ApiError("InvalidParameterValue", f"StopType {stop_type} is not valid")
        instances = [self._instance(i) for i in _required(p, "InstanceIds")]
        for instance in instances:
            if instance.state == "STOPPED":
                raise ApiError(
                    "UnsupportedOperation.InstanceStateStopped",
                    f"instance {instance.id} is already stopped",
                )
            if instance.state == "STOPPING":
                raise ApiError(
                    "UnsupportedOperation.InstanceStateStopping",
                    f"instance {instance.id} is stopping",
                )
            if instance.state != "RUNNING" or self._rolling(instance):
                raise ApiError(
                    "OperationDenied.InstanceOperationInProgress",
                    f"instance {instance.id} is busy ({instance.state})",
                )
        for instance in instances:
            instance.state = "STOPPING"
            instance.latest_operation = "StopInstances"
            self._at(self.timings.stop, self._set_state(instance, "STOPPED"))
        return {}

    def _RunInstances(self, p: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        token = p.get("ClientToken")
        if token is not None and (not isinstance(token, str) or len(token) > 64):
            raise ApiError("InvalidParameterValue", "ClientToken is at most 64 characters")
        if token in self._tokens:
            return {"InstanceIdSet": list(self._tokens[token])}
        image_id = _required(p, "ImageId")
        zone = _required(p.get("Placement") or {}, "Zone")
        if not str(zone).startswith(f"{self.region}-"):
            raise ApiError("InvalidZone.MismatchRegion", f"zone {zone} is not in {self.region}")
        if image_id not in self.images:
            raise ApiError("InvalidImageId.NotFound", f"image {image_id} not found")
        if int(p.get("InstanceCount", 1)) != 1:
            raise ApiError("InvalidParameterValue", "this stand-in launches one instance a call")
        tags: dict[str, str] = {}
        for spec in p.get("TagSpecification") or []:
            if spec.get("ResourceType") == "instance":
                tags.update({t["Key"]: t["Value"] for t in spec.get("Tags") or []})
        vpc = p.get("VirtualPrivateCloud") or {}
        login = p.get("LoginSettings") or {}
        instance_id = f"ins-{uuid.uuid4().hex[:8]}"
        instance = self.add_instance(
            instance_id,
            name=str(p.get("InstanceName") or instance_id),
            state="PENDING",
            tags=tags,
            zone=str(zone),
            image_id=image_id,
            private_ip="10.0.0.99",
            content=self.images[image_id],
        )
        instance.instance_type = str(p.get("InstanceType") or "S5.MEDIUM2")
        instance.vpc_id = str(vpc.get("VpcId") or "")
        instance.subnet_id = str(vpc.get("SubnetId") or "")
        instance.security_group_ids = list(p.get("SecurityGroupIds") or [])
        instance.key_ids = list(login.get("KeyIds") or [])
        instance.launch_params = dict(p)
        instance.latest_operation = "RunInstances"
        self._at(self.timings.launch, self._set_state(instance, "RUNNING"))
        if token is not None:
            self._tokens[token] = [instance_id]
        return {"InstanceIdSet": [instance_id]}

    def _StartInstances(self, p: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        instances = [self._instance(i) for i in _required(p, "InstanceIds")]
        for instance in instances:
            if instance.state == "RUNNING":
                raise ApiError(
                    "UnsupportedOperation.InstanceStateRunning",
                    f"instance {instance.id} is running",
                )
            if instance.state == "STOPPING":
                raise ApiError(
                    "UnsupportedOperation.InstanceStateStopping",
                    f"instance {instance.id} is stopping",
                )
            if instance.state != "STOPPED" or self._rolling(instance):
                raise ApiError(
                    "OperationDenied.InstanceOperationInProgress",
                    f"instance {instance.id} is busy ({instance.state})",
                )
        for instance in instances:
            self._boot(instance)
        return {}

    def _boot(self, instance: Instance) -> None:
        instance.state = "STARTING"
        instance.latest_operation = "StartInstances"
        self._at(self.timings.start, self._set_state(instance, "RUNNING"))

    def _instance(self, instance_id: Any) -> Instance:
        if not isinstance(instance_id, str) or not _INSTANCE_ID.match(instance_id):
            raise ApiError("InvalidInstanceId.Malformed", f"{instance_id!r} is not an instance id")
        instance = self.instances.get(instance_id)
        if instance is None:
            raise ApiError("InvalidInstanceId.NotFound", f"instance {instance_id} not found")
        return instance

    def _rolling(self, instance: Instance) -> bool:
        return any(
            d.state == "ROLLBACKING" for d in self.disks.values() if d.instance_id == instance.id
        )

    def _show_instance(self, i: Instance) -> dict[str, Any]:
        disk = self.disks[i.system_disk]
        return {
            "InstanceId": i.id,
            "InstanceName": i.name,
            "InstanceState": i.state,
            "InstanceType": i.instance_type,
            "ImageId": i.image_id,
            "Placement": {"Zone": i.zone, "ProjectId": 0},
            "SystemDisk": {"DiskId": disk.id, "DiskType": "CLOUD_PREMIUM", "DiskSize": disk.size},
            "DataDisks": [
                {"DiskId": d.id, "DiskType": "CLOUD_PREMIUM", "DiskSize": d.size}
                for d in self.disks.values()
                if d.instance_id == i.id and d.usage == "DATA_DISK"
            ],
            "PrivateIpAddresses": [i.private_ip],
            "VirtualPrivateCloud": {"VpcId": i.vpc_id, "SubnetId": i.subnet_id},
            "SecurityGroupIds": list(i.security_group_ids),
            "LoginSettings": {"KeyIds": list(i.key_ids)},
            "PublicIpAddresses": [],
            "Tags": [{"Key": k, "Value": v} for k, v in sorted(i.tags.items())],
            "LatestOperation": i.latest_operation,
            "LatestOperationState": "SUCCESS" if i.latest_operation else None,
            "CreatedTime": "2024-01-01T00:00:00Z",
        }

    # ------------------------------------------------------------------ CBS

    def _DescribeDisks(self, p: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        ids = p.get("DiskIds")
        filters = p.get("Filters")
        if ids and filters:
            raise ApiError("InvalidParameter", "DiskIds and Filters cannot be used together")
        offset, limit = _paging(p)
        if ids:
            found = [self.disks[d] for d in ids if d in self.disks]
        else:
            found = [d for d in self.disks.values() if _disk_matches(d, filters or [])]
        page = found[offset : offset + limit]
        return {"TotalCount": len(found), "DiskSet": [_show_disk(d) for d in page]}

    def _DescribeSnapshots(self, p: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        ids = p.get("SnapshotIds")
        filters = p.get("Filters")
        if ids and filters:
            raise ApiError("InvalidParameter", "SnapshotIds and Filters cannot be used together")
        offset, limit = _paging(p)
        if ids:
            found = [self.snapshots[s] for s in ids if s in self.snapshots]
        else:
            found = [s for s in self.snapshots.values() if _snapshot_matches(s, filters or [])]
        page = found[offset : offset + limit]
        return {"TotalCount": len(found), "SnapshotSet": [_show_snapshot(s) for s in page]}

    def _CreateSnapshot(self, p: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        disk_id = _required(p, "DiskId")
        disk = self.disks.get(disk_id)
        if disk is None:
            raise ApiError("InvalidDiskId.NotFound", f"disk {disk_id} not found")
        if disk.state == "ROLLBACKING":
            raise ApiError("ResourceInUse.DiskRollbacking", f"disk {disk_id} is rolling back")
        if any(s.disk_id == disk_id and s.state == "CREATING" for s in self.snapshots.values()):
            raise ApiError("InvalidDisk.SnapshotCreating", f"disk {disk_id} is being snapshot")
        deadline = p.get("Deadline")
        if deadline is not None:
            try:
                moment = datetime.datetime.fromisoformat(deadline)
            except (TypeError, ValueError) as exc:
                raise ApiError("InvalidParameterValue", "Deadline is not ISO-8601") from exc
            if moment < datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=23):
                raise ApiError("InvalidParameterValue", "Deadline must be at least a day ahead")
        snapshot = Snapshot(
            id=f"snap-{uuid.uuid4().hex[:8]}",
            name=str(p.get("SnapshotName") or "未命名"),
            disk_id=disk_id,
            usage=str(p.get("DiskUsage") or disk.usage),
            size=disk.size,
            zone=disk.zone,
            content=disk.content,
            created=datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M:%S"),
            deadline=deadline,
            tags={t["Key"]: t["Value"] for t in p.get("Tags") or []},
        )
        self.snapshots[snapshot.id] = snapshot

        def ready() -> None:
            if self.vanish_snapshots:
                self.snapshots.pop(snapshot.id, None)
                return
            snapshot.state = "NORMAL"
            snapshot.percent = 100

        self._at(self.timings.snapshot, ready)
        return {"SnapshotId": snapshot.id}

    def _DeleteSnapshots(self, p: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        # Documented: only NORMAL snapshots can be deleted, and a batch with one that cannot
        # be deleted deletes none (all or nothing).
        ids = p.get("SnapshotIds")
        if not ids:
            raise ApiError("MissingParameter", "SnapshotIds is required")
        for snapshot_id in ids:
            snapshot = self.snapshots.get(snapshot_id)
            if snapshot is None:
                raise ApiError("InvalidSnapshotId.NotFound", f"snapshot {snapshot_id} not found")
            if snapshot.state != "NORMAL":
                raise ApiError(
                    "InvalidSnapshot.NotSupported",
                    f"snapshot {snapshot_id} is {snapshot.state}: only NORMAL ones can be deleted",
                )
        for snapshot_id in ids:
            del self.snapshots[snapshot_id]
        return {}

    def _ApplySnapshot(self, p: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        snapshot, disk, instance, stop_first = self._check_apply(p)
        auto_start = bool(p.get("AutoStartInstance"))
        disk_id, snapshot_id = disk.id, snapshot.id
        self.applied.append((disk_id, snapshot_id))
        stop_time = self.timings.stop if stop_first else 0.0

        def begin() -> None:
            disk.state = "ROLLBACKING"
            disk.rollback_percent = 0
            snapshot.state = "ROLLBACKING"

        def finish() -> None:
            disk.content = snapshot.content
            disk.state = "ATTACHED"
            disk.rollback_percent = 100
            snapshot.state = "NORMAL"
            if instance is not None and auto_start:
                self._boot(instance)

        if instance is not None and stop_first:
            instance.state = "STOPPING"
            instance.latest_operation = "StopInstances"
            self._at(stop_time, self._set_state(instance, "STOPPED"))
        if self.disk_waits_for_stop and stop_first:
            self._at(stop_time, begin)
        else:
            begin()
        self._at(stop_time + self.timings.rollback, finish)
        return {}

    def _check_apply(self, p: dict[str, Any]) -> tuple[Snapshot, Disk, Instance | None, bool]:
        """ApplySnapshot's documented preconditions; whether the instance must stop first."""
        snapshot_id = _required(p, "SnapshotId")
        disk_id = _required(p, "DiskId")
        auto_stop = p.get("AutoStopInstance")
        auto_start = p.get("AutoStartInstance")
        if auto_start is not None and auto_stop is None:
            raise ApiError("MissingParameter", "AutoStartInstance requires AutoStopInstance")
        if auto_start and not auto_stop:
            raise ApiError(
                "InvalidParameterValue", "AutoStartInstance may be true only with AutoStopInstance"
            )
        snapshot = self.snapshots.get(snapshot_id)
        if snapshot is None:
            raise ApiError("InvalidSnapshotId.NotFound", f"snapshot {snapshot_id} not found")
        disk = self.disks.get(disk_id)
        if disk is None:
            raise ApiError("InvalidDiskId.NotFound", f"disk {disk_id} not found")
        if snapshot.disk_id != disk_id:
            raise ApiError(
                "InvalidParameterValue",
                f"snapshot {snapshot_id} was not taken of disk {disk_id}",
            )
        if snapshot.state == "CREATING":
            raise ApiError("ResourceUnavailable.SnapshotCreating", f"{snapshot_id} is creating")
        if disk.state == "ROLLBACKING" or snapshot.state == "ROLLBACKING":
            raise ApiError("ResourceInUse.DiskRollbacking", f"disk {disk_id} is rolling back")
        instance = self.instances.get(disk.instance_id or "")
        stop_first = False
        if instance is not None:
            if instance.state in ("STOPPING", "STARTING"):
                raise ApiError("InvalidDisk.Busy", f"instance {instance.id} is {instance.state}")
            if instance.state == "RUNNING":
                if not auto_stop:
                    raise ApiError(
                        "UnsupportedOperation.InstanceNotStopped",
                        f"instance {instance.id} of disk {disk_id} is not stopped",
                    )
                stop_first = True
        return snapshot, disk, instance, stop_first


# --------------------------------------------------------------------------- helpers


@dataclasses.dataclass
class TatTask:
    invocation_id: str
    task_id: str
    instance_id: str
    run: ShellRun
    cancelled: bool = False


def _show_task(t: TatTask, *, hide_output: bool) -> dict[str, Any]:
    done = t.run.poll()
    result: dict[str, Any] = {"ExitCode": 0, "Output": "", "Dropped": 0}
    if done is None:
        status = "RUNNING"
    elif t.cancelled:
        status = "CANCELLED"
    elif done.timed_out:
        status = "TIMEOUT"
    else:
        status = "SUCCESS" if done.exit_code == 0 else "FAILED"
    if done is not None and done.exit_code is not None:
        output = (done.stdout + done.stderr).encode()
        result["ExitCode"] = done.exit_code
        result["Dropped"] = max(0, len(output) - TAT_OUTPUT_CAP)
        if not hide_output:
            result["Output"] = base64.b64encode(output[-TAT_OUTPUT_CAP:]).decode()
    return {
        "InvocationId": t.invocation_id,
        "InvocationTaskId": t.task_id,
        "CommandId": "cmd-" + t.invocation_id[4:],
        "TaskStatus": status,
        "InstanceId": t.instance_id,
        "TaskResult": result,
        "ErrorInfo": "",
        "InvocationSource": "USER",
    }


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def _encode(response: dict[str, Any]) -> bytes:
    return json.dumps({"Response": response}).encode()


def _required(p: dict[str, Any], name: str) -> Any:
    value = p.get(name)
    if value in (None, "", []):
        raise ApiError("MissingParameter", f"the parameter {name} is missing")
    return value


def _paging(p: dict[str, Any]) -> tuple[int, int]:
    offset, limit = int(p.get("Offset", 0)), int(p.get("Limit", 20))
    if limit > 100 or limit < 0 or offset < 0:
        raise ApiError("InvalidParameterValue", "Limit is at most 100, Offset at least 0")
    return offset, limit


def _values(f: dict[str, Any]) -> list[str]:
    values = f.get("Values")
    if not isinstance(values, list) or not values:
        raise ApiError("InvalidFilter", f"filter {f.get('Name')} has no Values")
    return [str(v) for v in values]


def _instance_matches(i: Instance, filters: list[dict[str, Any]]) -> bool:
    for f in filters:
        name, values = str(f.get("Name")), _values(f)
        if name.startswith("tag:"):
            if i.tags.get(name[4:]) not in values:
                return False
            continue
        fields = {
            "instance-id": [i.id],
            "instance-name": [i.name],
            "instance-state": [i.state],
            "zone": [i.zone],
            "private-ip-address": [i.private_ip],
            "tag-key": list(i.tags),
            "tag-value": list(i.tags.values()),
        }
        if name not in fields:
            raise ApiError("InvalidFilter", f"filter {name} is not supported")
        if not set(fields[name]) & set(values):
            return False
    return True


def _disk_matches(d: Disk, filters: list[dict[str, Any]]) -> bool:
    for f in filters:
        name, values = str(f.get("Name")), _values(f)
        fields = {
            "disk-id": d.id,
            "disk-usage": d.usage,
            "instance-id": d.instance_id,
            "disk-state": d.state,
            "zone": d.zone,
        }
        if name not in fields:
            raise ApiError("InvalidFilter", f"filter {name} is not supported")
        if fields[name] not in values:
            return False
    return True


def _snapshot_matches(s: Snapshot, filters: list[dict[str, Any]]) -> bool:
    for f in filters:
        name, values = str(f.get("Name")), _values(f)
        fields = {
            "snapshot-id": s.id,
            "snapshot-name": s.name,
            "snapshot-state": s.state,
            "disk-usage": s.usage,
            "disk-id": s.disk_id,
        }
        if name not in fields:
            raise ApiError("InvalidFilter", f"filter {name} is not supported")
        if fields[name] not in values:
            return False
    return True


def _show_disk(d: Disk) -> dict[str, Any]:
    return {
        "DiskId": d.id,
        "DiskName": d.id,
        "DiskUsage": d.usage,
        "DiskState": d.state,
        "DiskType": "CLOUD_PREMIUM",
        "DiskSize": d.size,
        "Attached": d.instance_id is not None,
        "InstanceId": d.instance_id or "",
        "Rollbacking": d.state == "ROLLBACKING",
        "RollbackPercent": d.rollback_percent,
        "Portable": d.usage == "DATA_DISK",
        "SnapshotAbility": True,
        "Placement": {"Zone": d.zone, "ProjectId": 0},
    }


def _show_snapshot(s: Snapshot) -> dict[str, Any]:
    return {
        "SnapshotId": s.id,
        "SnapshotName": s.name,
        "SnapshotState": s.state,
        "DiskId": s.disk_id,
        "DiskUsage": s.usage,
        "DiskSize": s.size,
        "Percent": s.percent,
        "CreateTime": s.created,
        "DeadlineTime": s.deadline,
        "IsPermanent": s.deadline is None,
        "Encrypt": False,
        "Placement": {"Zone": s.zone, "ProjectId": 0},
        "Tags": [{"Key": k, "Value": v} for k, v in sorted(s.tags.items())],
    }


def _handler(standin: TencentStandin, service: str) -> type[server.BaseHTTPRequestHandler]:
    class Handler(server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, payload = standin.handle(service, headers, body)
            self.send_response(status)
            kind = "application/json" if status == 200 else "text/html"
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def do_GET(self) -> None:
            prefix = "/health/"
            status = 404
            if service == "cvm" and self.path.startswith(prefix):
                status = standin.health(self.path[len(prefix) :])
            payload = b"ok\n" if status == 200 else b"unhealthy\n"
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            return

    return Handler
