"""A local Alibaba Cloud ECS endpoint that the real SDK talks to, for the aliyun driver's tests.

Wire format, as ``alibabacloud-ecs20140526`` 7.x (tea-openapi 0.4, signature V3) sends it and as
observed against this stand-in: ``POST /`` with every parameter in the query string (lists as
``InstanceId.1=..``, structs as ``Tag.1.Key=..``, booleans as ``True``), an empty body, the
action in the ``x-acs-action`` header and the version in ``x-acs-version``, signed with
``ACS3-HMAC-SHA256`` in ``Authorization``. The stand-in verifies that signature against the
secrets it knows. Answers are JSON in the documented response shapes with a ``RequestId``;
errors are ``{RequestId, HostId, Code, Message}`` with the documented HTTP status.

State: instances (Running / Stopping / Stopped / Starting), disks (system / data, In_use or
ReIniting), snapshots (progressing / accomplished / failed, with SourceDiskId), images and
Cloud Assistant invocations. What is on a disk is modelled as a list of lines (``content``):
an image's lines on a new system disk, a snapshot copies its disk's lines, ResetDisk copies
them back, an upgrade command appends its script. Each instance also answers
``GET /instances/<id>/health`` like the service on it: 200 when it is Running and nothing on
its system disk contains ``BROKEN``, 500 when it does, 503 while it is not running.

Preconditions and documented error codes: ResetDisk on an instance not Stopped ->
IncorrectInstanceStatus (403); a snapshot of another disk -> InvalidParameter.Mismatch (403);
unknown ids -> InvalidInstanceId.NotFound / InvalidDiskId.NotFound / InvalidSnapshotId.NotFound
/ InvalidImageId.NotFound (404); Stop/Start from the wrong state -> IncorrectInstanceStatus;
CreateSnapshot needs a Running or Stopped instance; DeleteSnapshot ignores an unknown id and
refuses a snapshot an image was made from (SnapshotCreatedImage) or, without Force, a disk
(SnapshotCreatedDisk); ClientToken reuse with other parameters ->
IdempotentParameterMismatch; a security lock -> InstanceLockedForSecurity; a missing
parameter -> MissingParameter. ``DryRun=true`` runs every check and then answers
``DryRunOperation`` (400) instead of acting. Permissions: a RAM identity may be limited to
some actions; a refused action answers Forbidden.RAM (403), except that the list APIs
(DescribeInstances, DescribeDisks, DescribeSnapshots, DescribeImages) answer an empty list
unless DryRun is set, as ECS documents for RAM users (``quiet_denials = False`` refuses them
too). Where no documented code was found the stand-in chose one, and the driver depends on
none of them: ResetDisk from a snapshot still progressing (IncorrectSnapshotStatus), RunCommand
on an instance not running (IncorrectInstanceStatus), StartInstance while the system disk
is still being reset (IncorrectDiskStatus), malformed values
(``Invalid<Parameter>.Malformed``, InvalidStoppedMode.Malformed,
InvalidDiskType.ValueNotSupported, InvalidCommandType) and a wrong ``x-acs-version``
(InvalidVersion).

Cloud Assistant for the ``aliyun_assistant`` transport: with ``real_shell`` set, RunCommand
runs the script it was sent (``ContentEncoding=Base64`` decoded; malformed Base64 ->
InvalidCmdContent.Malformed) for real with ``sh -c`` in a temporary directory
(``standin_shell.ShellRun``), killed at its ``Timeout``; DescribeInvocationResults answers
Running, then Success / Failed (ErrorCode ExitCodeNonzero) with the real ExitCode, or Timeout
(ErrorCode ExecutionTimeout), and the output (stdout then stderr) Base64-encoded unless
``ContentEncoding=PlainText``, as documented. An unknown instance -> InvalidInstance.NotFound
(404, RunCommand's documented code); an instance in ``agent_offline`` -> the invocation fails
with ErrorCode ClientNotRunning and no exit code. StopInvocation kills a running script.

Faults on demand: ``throttle`` (Throttling.User, 400), ``inject`` (any code and status),
``drop_answer`` (the call takes effect, the connection is closed before the answer), and slow
or held transitions (``slow``: how many observations an intermediate state lasts, None to hold
it until ``release``).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import dataclasses
import hashlib
import hmac
import itertools
import json
import threading
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any
from urllib.parse import quote

from aiohttp import web

from support.standin_shell import ShellRun

ACCESS_KEY_ID = "LTAI-standin-test-key"
ACCESS_KEY_SECRET = "standin-test-secret"
REGION = "cn-hangzhou"
VERSION = "2014-05-26"
_SIGNATURE = "ACS3-HMAC-SHA256"


class ApiError(Exception):
    """An ECS error answer: code, HTTP status, message."""

    def __init__(self, code: str, status: int, message: str) -> None:
        super().__init__(code)
        self.code = code
        self.status = status
        self.message = message


def _state() -> ApiError:
    return ApiError(
        "IncorrectInstanceStatus",
        403,
        "The current status of the resource does not support this operation.",
    )


@dataclasses.dataclass
class Identity:
    secret: str
    allowed: set[str] | None = None  # RAM actions such as "ecs:ResetDisk"; None: everything


@dataclasses.dataclass
class Instance:
    instance_id: str
    name: str
    status: str
    image_id: str
    system_disk_id: str
    tags: dict[str, str]
    private_ip: str
    start_time: str
    locked: bool = False
    stopped_mode: str = "Not-applicable"
    # (status it becomes, observations left before it does); None observations: held
    pending: tuple[str, int | None] | None = None


@dataclasses.dataclass
class Disk:
    disk_id: str
    instance_id: str | None
    type: str
    size: int
    content: list[str]
    status: str = "In_use"
    pending: tuple[str, int | None] | None = None


@dataclasses.dataclass
class Snapshot:
    snapshot_id: str
    disk_id: str
    disk_type: str
    disk_size: int
    name: str
    description: str
    content: list[str]
    created: str
    status: str = "progressing"
    polls_left: int | None = 0
    outcome: str = "accomplished"
    made_image: bool = False  # a custom image was created from it: DeleteSnapshot refuses
    made_disk: bool = False  # a disk was created from it: DeleteSnapshot refuses unless Force


@dataclasses.dataclass
class Image:
    image_id: str
    content: list[str]
    status: str = "Available"


@dataclasses.dataclass
class Invocation:
    invoke_id: str
    command_id: str
    instance_id: str
    script: str
    polls_left: int | None
    status: str = "Running"
    exit_code: int | None = None
    output: str = ""
    run: ShellRun | None = None  # real_shell: the script running on this machine
    error_code: str = ""


@dataclasses.dataclass
class Fault:
    action: str
    code: str
    status: int
    message: str
    times: int
    retry_after_ms: int | None = None
    drop: bool = False  # act, then close the connection without an answer
    real_only: bool = False  # leave dry runs alone


@dataclasses.dataclass(frozen=True)
class Call:
    action: str
    params: dict[str, str]
    code: str | None
    request_id: str
    access_key_id: str | None


CommandRunner = Callable[[Instance, Disk, str], tuple[str, int, str]]


def append_script(instance: Instance, disk: Disk, script: str) -> tuple[str, int, str]:
    """The default upgrade: whatever the script is, it is now written on the system disk."""
    disk.content.append(script)
    return "Success", 0, f"ran on {instance.instance_id}\n"


class EcsStandIn:
    """ECS state and its API; ``serve()`` puts it on 127.0.0.1 for the SDK."""

    def __init__(self, *, region: str = REGION) -> None:
        self.region = region
        self.instances: dict[str, Instance] = {}
        self.disks: dict[str, Disk] = {}
        self.snapshots: dict[str, Snapshot] = {}
        self.images: dict[str, Image] = {}
        self.invocations: dict[str, Invocation] = {}
        self.identities: dict[str, Identity] = {ACCESS_KEY_ID: Identity(ACCESS_KEY_SECRET)}
        self.calls: list[Call] = []
        self.effects: list[tuple[str, dict[str, Any]]] = []
        self.faults: list[Fault] = []
        # How many observations an intermediate state lasts (None: held until `release`).
        self.slow: dict[str, int | None] = {
            "stop": 1,
            "start": 1,
            "snapshot": 1,
            "reset": 0,
            "replace": 0,
            "command": 1,
        }
        self.quiet_denials = True
        self.max_page_size = 100
        self.on_command: CommandRunner = append_script
        self.command_outcome: tuple[str, int, str] | None = None
        self.fail_next_snapshot = False
        self.real_shell = False  # RunCommand runs its script with sh -c (transport tests)
        self.agent_offline: set[str] = set()  # instances whose Cloud Assistant is not running
        self._tokens: dict[tuple[str, str], tuple[str, dict[str, Any]]] = {}
        self._ids = itertools.count(1)
        self._minutes = itertools.count(0)
        self.port: int | None = None
        self.changed = asyncio.Event()

    # ------------------------------------------------------------------ building the world

    def new_id(self, prefix: str) -> str:
        return f"{prefix}-bp{next(self._ids):012d}"

    def clock(self) -> str:
        """Virtual time: every state change moves it on by a minute (the docs' resolution)."""
        minute = next(self._minutes)
        return f"2024-05-01T{8 + minute // 60:02d}:{minute % 60:02d}Z"

    def add_image(self, image_id: str, content: list[str] | None = None) -> Image:
        image = Image(image_id, list(content or [f"image:{image_id}"]))
        self.images[image_id] = image
        return image

    def add_instance(
        self,
        name: str,
        *,
        tags: dict[str, str] | None = None,
        status: str = "Running",
        image_id: str = "m-base-image",
        private_ip: str | None = None,
        data_disk: bool = True,
    ) -> Instance:
        image = self.images.get(image_id) or self.add_image(image_id)
        iid = self.new_id("i")
        system = Disk(self.new_id("d"), iid, "system", 40, list(image.content))
        self.disks[system.disk_id] = system
        if data_disk:
            data = Disk(self.new_id("d"), iid, "data", 100, ["data volume"])
            self.disks[data.disk_id] = data
        instance = Instance(
            instance_id=iid,
            name=name,
            status=status,
            image_id=image_id,
            system_disk_id=system.disk_id,
            tags=dict(tags or {}),
            private_ip=private_ip or f"172.16.0.{len(self.instances) + 10}",
            start_time=self.clock(),
        )
        self.instances[iid] = instance
        return instance

    def system_disk(self, instance_id: str) -> Disk:
        return self.disks[self.instances[instance_id].system_disk_id]

    def health_url(self, instance_id: str) -> str:
        return f"http://127.0.0.1:{self.port}/instances/{instance_id}/health"

    # ------------------------------------------------------------------ faults and control

    def inject(
        self,
        action: str,
        code: str,
        *,
        status: int = 400,
        message: str = "injected",
        times: int = 1,
        retry_after_ms: int | None = None,
        real_only: bool = False,
    ) -> None:
        self.faults.append(
            Fault(action, code, status, message, times, retry_after_ms, real_only=real_only)
        )

    def throttle(
        self,
        action: str,
        *,
        times: int = 1,
        retry_after_ms: int | None = None,
        real_only: bool = False,
    ) -> None:
        self.inject(
            action,
            "Throttling.User",
            status=400,
            message="Request was denied due to user flow control.",
            times=times,
            retry_after_ms=retry_after_ms,
            real_only=real_only,
        )

    def drop_answer(self, action: str, *, times: int = 1) -> None:
        """The next ``times`` calls of ``action`` take effect, but their answer is lost."""
        self.faults.append(Fault(action, "", 0, "", times, drop=True))

    def deny(self, *actions: str, access_key_id: str = ACCESS_KEY_ID) -> None:
        """The identity may no longer call ``actions`` (names like ``ResetDisk``)."""
        identity = self.identities[access_key_id]
        if identity.allowed is None:
            identity.allowed = {f"ecs:{a}" for a in _HANDLERS}
        identity.allowed -= {f"ecs:{a}" for a in actions}

    def release(self, kind: str) -> None:
        """Finish every held ``kind`` transition at the next observation."""
        self.slow[kind] = 0
        for item in [*self.instances.values(), *self.disks.values()]:
            if item.pending is not None:
                item.pending = (item.pending[0], 0)
        for snapshot in self.snapshots.values():
            snapshot.polls_left = 0
        for invocation in self.invocations.values():
            invocation.polls_left = 0

    def effects_of(self, action: str) -> list[dict[str, Any]]:
        return [details for name, details in self.effects if name == action]

    def calls_of(self, action: str) -> list[Call]:
        return [c for c in self.calls if c.action == action]

    # ------------------------------------------------------------------ serving

    @contextlib.asynccontextmanager
    async def serve(self) -> AsyncIterator[str]:
        """Listen on 127.0.0.1 (a free port) in this event loop; yields ``host:port``."""
        app = web.Application()
        app.router.add_post("/", self._handle)
        app.router.add_get("/instances/{instance_id}/health", self._health)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self.port = runner.addresses[0][1]
        try:
            yield f"127.0.0.1:{self.port}"
        finally:
            await runner.cleanup()

    @contextlib.contextmanager
    def serve_in_thread(self) -> Iterator[str]:
        """The same, from a thread with its own loop: for a ``rollsafe`` subprocess."""
        ready = threading.Event()
        stop: list[asyncio.Event] = []
        endpoint: list[str] = []

        async def main() -> None:
            self.changed = asyncio.Event()
            stop.append(asyncio.Event())
            async with self.serve() as address:
                endpoint.append(address)
                ready.set()
                await stop[0].wait()

        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
        thread.start()
        ready.wait(10)
        try:
            yield endpoint[0]
        finally:
            loop.call_soon_threadsafe(stop[0].set)
            thread.join(10)
            loop.close()

    async def _health(self, request: web.Request) -> web.Response:
        instance = self.instances.get(request.match_info["instance_id"])
        if instance is None:
            return web.Response(status=404, text="no such instance\n")
        if instance.status != "Running":
            return web.Response(status=503, text=f"{instance.status}\n")
        disk = self.disks.get(instance.system_disk_id)
        if disk is None or any("BROKEN" in line for line in disk.content):
            return web.Response(status=500, text="the service is broken\n")
        return web.Response(text="ok\n")

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        params = dict(request.query)
        action = request.headers.get("x-acs-action", "")
        request_id = str(uuid.uuid4()).upper()
        access_key: str | None = None
        fault: Fault | None = None
        try:
            access_key = self._authenticate(request, body)
            if request.headers.get("x-acs-version") != VERSION:
                raise ApiError("InvalidVersion", 400, "Specified parameter Version is not valid.")
            handler = _HANDLERS.get(action)
            if handler is None:
                raise ApiError(
                    "InvalidAction.NotFound",
                    404,
                    "Specified api is not found, please check your url and method.",
                )
            fault = self._fault(action, dry_run=params.get("DryRun", "").lower() == "true")
            if fault is not None and not fault.drop:
                raise ApiError(fault.code, fault.status, fault.message)
            answer = handler(self, _Params(params), self._allowed(access_key, action))
        except ApiError as exc:
            self.calls.append(Call(action, params, exc.code, request_id, access_key))
            self.changed.set()
            headers = {}
            if fault is not None and fault.code == exc.code and fault.retry_after_ms is not None:
                headers["x-acs-retry-after"] = str(fault.retry_after_ms)
            return web.json_response(
                {
                    "RequestId": request_id,
                    "HostId": "ecs.aliyuncs.com",
                    "Code": exc.code,
                    "Message": exc.message,
                },
                status=exc.status,
                headers=headers,
            )
        self.calls.append(Call(action, params, None, request_id, access_key))
        self.changed.set()
        if fault is not None and fault.drop:
            # The effect happened; the caller never hears of it.
            assert request.transport is not None
            request.transport.close()
            return web.Response(status=500)
        return web.json_response({"RequestId": request_id, **answer})

    def _fault(self, action: str, *, dry_run: bool) -> Fault | None:
        for fault in self.faults:
            if fault.real_only and dry_run:
                continue
            if fault.action == action and fault.times > 0:
                fault.times -= 1
                return fault
        return None

    def _authenticate(self, request: web.Request, body: bytes) -> str:
        """Check the ACS3-HMAC-SHA256 signature exactly as ECS would; the AccessKey id."""
        auth = request.headers.get("Authorization", "")
        scheme, _, rest = auth.partition(" ")
        fields = dict(part.split("=", 1) for part in rest.split(",") if "=" in part)
        if (
            scheme != _SIGNATURE
            or not {"Credential", "SignedHeaders", "Signature"} <= fields.keys()
        ):
            raise ApiError(
                "IncompleteSignature",
                400,
                "The request signature does not conform to Aliyun standards.",
            )
        identity = self.identities.get(fields["Credential"])
        if identity is None:
            raise ApiError("InvalidAccessKeyId.NotFound", 404, "Specified access key is not found.")
        payload = hashlib.sha256(body).hexdigest()
        if request.headers.get("x-acs-content-sha256") != payload:
            raise ApiError("SignatureDoesNotMatch", 400, "Specified content sha256 is not matched.")
        query = "&".join(
            f"{key}={quote(value, safe='~')}" for key, value in sorted(request.query.items())
        )
        signed = fields["SignedHeaders"].split(";")
        headers = "".join(f"{name}:{request.headers.get(name, '').strip()}\n" for name in signed)
        canonical = "\n".join(
            [request.method, request.path, query, headers, fields["SignedHeaders"], payload]
        )
        to_sign = f"{_SIGNATURE}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
        expected = hmac.new(identity.secret.encode(), to_sign.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, fields["Signature"]):
            raise ApiError(
                "SignatureDoesNotMatch",
                400,
                "Specified signature is not matched with our calculation.",
            )
        return fields["Credential"]

    def _allowed(self, access_key: str, action: str) -> bool:
        allowed = self.identities[access_key].allowed
        return allowed is None or f"ecs:{action}" in allowed

    # ------------------------------------------------------------------ transitions

    def observe_instance(self, instance: Instance) -> None:
        if instance.pending is None:
            return
        status, left = instance.pending
        if left == 0:
            instance.status = status
            instance.pending = None
            if status == "Running":
                instance.start_time = self.clock()
        elif left is not None:
            instance.pending = (status, left - 1)

    def observe_disk(self, disk: Disk) -> None:
        if disk.pending is None:
            return
        status, left = disk.pending
        if left == 0:
            disk.status = status
            disk.pending = None
        elif left is not None:
            disk.pending = (status, left - 1)

    def observe_snapshot(self, snapshot: Snapshot) -> None:
        if snapshot.status != "progressing":
            return
        if snapshot.polls_left == 0:
            snapshot.status = snapshot.outcome
        elif snapshot.polls_left is not None:
            snapshot.polls_left -= 1

    def observe_invocation(self, invocation: Invocation) -> None:
        if invocation.status != "Running":
            return
        if invocation.run is not None:
            done = invocation.run.poll()
            if done is not None:
                if done.timed_out:
                    invocation.status, invocation.error_code = "Timeout", "ExecutionTimeout"
                elif done.exit_code == 0:
                    invocation.status = "Success"
                else:
                    invocation.status, invocation.error_code = "Failed", "ExitCodeNonzero"
                invocation.exit_code = done.exit_code
                invocation.output = done.stdout + done.stderr
            return
        if invocation.polls_left == 0:
            instance = self.instances[invocation.instance_id]
            disk = self.disks[instance.system_disk_id]
            status, code, output = self.command_outcome or self.on_command(
                instance, disk, invocation.script
            )
            invocation.status, invocation.exit_code, invocation.output = status, code, output
            self.effects.append(
                ("RunCommand", {"instance": instance.instance_id, "script": invocation.script})
            )
        elif invocation.polls_left is not None:
            invocation.polls_left -= 1

    def answered_before(
        self, action: str, token: str | None, params: dict[str, Any]
    ) -> dict[str, Any] | None:
        """The first answer of a request with this ClientToken, or None for a new one."""
        if not token:
            return None
        seen = self._tokens.get((action, token))
        if seen is None:
            return None
        fingerprint, answer = seen
        if fingerprint != json.dumps(params, sort_keys=True):
            raise ApiError(
                "IdempotentParameterMismatch",
                400,
                "The request uses the same client token as a previous, but non-identical request.",
            )
        return answer

    def remember(
        self, action: str, token: str | None, params: dict[str, Any], answer: dict[str, Any]
    ) -> None:
        if token:
            self._tokens[(action, token)] = (json.dumps(params, sort_keys=True), answer)

    def live_instance(self, instance_id: str) -> Instance:
        instance = self.instances.get(instance_id)
        if instance is None:
            raise ApiError(
                "InvalidInstanceId.NotFound", 404, "The specified InstanceId does not exist."
            )
        if instance.locked:
            raise ApiError(
                "InstanceLockedForSecurity",
                403,
                "The specified operation is denied as your instance is locked for security "
                "reasons.",
            )
        return instance

    # ------------------------------------------------------------------ shapes

    def instance_shape(self, instance: Instance) -> dict[str, Any]:
        return {
            "InstanceId": instance.instance_id,
            "InstanceName": instance.name,
            "Status": instance.status,
            "ImageId": instance.image_id,
            "RegionId": self.region,
            "ZoneId": f"{self.region}-h",
            "InstanceType": "ecs.g7.large",
            "StartTime": instance.start_time,
            "StoppedMode": instance.stopped_mode,
            "Tags": {"Tag": [{"TagKey": k, "TagValue": v} for k, v in instance.tags.items()]},
            "VpcAttributes": {
                "VpcId": "vpc-bp1standin",
                "PrivateIpAddress": {"IpAddress": [instance.private_ip]},
            },
            "PublicIpAddress": {"IpAddress": []},
            "OperationLocks": {
                "LockReason": [{"LockReason": "security"}] if instance.locked else []
            },
        }

    def disk_shape(self, disk: Disk) -> dict[str, Any]:
        return {
            "DiskId": disk.disk_id,
            "InstanceId": disk.instance_id or "",
            "Type": disk.type,
            "Status": disk.status,
            "Size": disk.size,
            "Category": "cloud_essd",
            "RegionId": self.region,
            "ZoneId": f"{self.region}-h",
            "Device": "/dev/xvda" if disk.type == "system" else "/dev/xvdb",
        }

    def snapshot_shape(self, snapshot: Snapshot) -> dict[str, Any]:
        progress = {"accomplished": "100%", "failed": "0%"}.get(snapshot.status, "40%")
        return {
            "SnapshotId": snapshot.snapshot_id,
            "SnapshotName": snapshot.name,
            "Description": snapshot.description,
            "Status": snapshot.status,
            "Progress": progress,
            "SourceDiskId": snapshot.disk_id,
            "SourceDiskType": snapshot.disk_type,
            "SourceDiskSize": snapshot.disk_size,
            "CreationTime": snapshot.created,
            "Available": snapshot.status == "accomplished",
            "RegionId": self.region,
        }


class _Params:
    """The query parameters of one request, read the way ECS reads them."""

    def __init__(self, raw: dict[str, str]) -> None:
        self.raw = raw

    def get(self, name: str) -> str | None:
        value = self.raw.get(name)
        return value if value else None

    def need(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise ApiError(
                "MissingParameter",
                400,
                f'The input parameter "{name}" that is mandatory for processing this request '
                "is not supplied.",
            )
        return value

    def flag(self, name: str) -> bool:
        value = self.get(name)
        if value is None:
            return False
        if value.lower() not in ("true", "false"):
            raise ApiError(
                "InvalidParameter", 400, f'The specified parameter "{name}" is not valid.'
            )
        return value.lower() == "true"

    def number(self, name: str, default: int) -> int:
        value = self.get(name)
        if value is None:
            return default
        if not value.isdigit():
            raise ApiError(
                "InvalidParameter", 400, f'The specified parameter "{name}" is not valid.'
            )
        return int(value)

    def listed(self, name: str) -> list[str]:
        """``Name.1``, ``Name.2`` ... (a repeated parameter)."""
        return _repeated(self.raw, name)

    def json_list(self, name: str) -> list[str] | None:
        """A parameter holding a JSON array of ids (``InstanceIds``, ``DiskIds`` ...)."""
        value = self.get(name)
        if value is None:
            return None
        try:
            parsed = json.loads(value)
        except ValueError:
            parsed = None
        if not isinstance(parsed, list) or not all(isinstance(v, str) for v in parsed):
            raise ApiError(
                f"Invalid{name}.Malformed", 400, f'The specified parameter "{name}" is not valid.'
            )
        return parsed

    def tags(self) -> dict[str, str | None]:
        """``Tag.N.Key`` / ``Tag.N.Value``; a key without a value matches any value."""
        out: dict[str, str | None] = {}
        for i in itertools.count(1):
            key = self.raw.get(f"Tag.{i}.Key")
            if key is None:
                return out
            out[key] = self.raw.get(f"Tag.{i}.Value")
        return out


def _repeated(raw: dict[str, str], name: str) -> list[str]:
    out = []
    for i in itertools.count(1):
        value = raw.get(f"{name}.{i}")
        if value is None:
            return out
        out.append(value)
    return out


def _denied(action: str) -> ApiError:
    return ApiError(
        "Forbidden.RAM",
        403,
        "User not authorized to operate on the specified resource, or this API doesn't "
        f"support RAM. (ecs:{action})",
    )


def _dry_run() -> ApiError:
    return ApiError(
        "DryRunOperation", 400, "Request validation has been passed with DryRun flag set."
    )


def _page(
    p: _Params, items: list[dict[str, Any]], limit: int
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    size = min(max(p.number("PageSize", 10), 1), limit)
    number = max(p.number("PageNumber", 1), 1)
    chosen = items[(number - 1) * size : number * size]
    return chosen, {"TotalCount": len(items), "PageNumber": number, "PageSize": size}


def _listing(s: EcsStandIn, p: _Params, action: str, allowed: bool) -> bool:
    """Permission and DryRun of a list API: True when it should list nothing."""
    p.need("RegionId")
    if not allowed:
        if p.flag("DryRun") or not s.quiet_denials:
            raise _denied(action)
        return True
    if p.flag("DryRun"):
        raise _dry_run()
    return p.get("RegionId") != s.region


# --------------------------------------------------------------------------- actions


def describe_instances(s: EcsStandIn, p: _Params, allowed: bool) -> dict[str, Any]:
    empty = _listing(s, p, "DescribeInstances", allowed)
    ids = p.json_list("InstanceIds")
    tags = p.tags()
    found = []
    for instance in [] if empty else s.instances.values():
        if ids is not None and instance.instance_id not in ids:
            continue
        if any(
            k not in instance.tags or v not in (None, instance.tags[k]) for k, v in tags.items()
        ):
            continue
        if p.get("Status") and instance.status != p.get("Status"):
            continue
        s.observe_instance(instance)
        found.append(s.instance_shape(instance))
    chosen, paging = _page(p, found, s.max_page_size)
    return {**paging, "Instances": {"Instance": chosen}, "NextToken": ""}


def describe_instance_status(s: EcsStandIn, p: _Params, allowed: bool) -> dict[str, Any]:
    p.need("RegionId")
    if not allowed:
        raise _denied("DescribeInstanceStatus")
    ids = p.listed("InstanceId")
    found = []
    for instance in s.instances.values() if p.get("RegionId") == s.region else []:
        if ids and instance.instance_id not in ids:
            continue
        s.observe_instance(instance)
        found.append({"InstanceId": instance.instance_id, "Status": instance.status})
    chosen, paging = _page(p, found, 50)
    return {**paging, "InstanceStatuses": {"InstanceStatus": chosen}}


def describe_disks(s: EcsStandIn, p: _Params, allowed: bool) -> dict[str, Any]:
    empty = _listing(s, p, "DescribeDisks", allowed)
    ids = p.json_list("DiskIds")
    kind = (p.get("DiskType") or "all").lower()
    if kind not in ("all", "system", "data"):
        raise ApiError(
            "InvalidDiskType.ValueNotSupported", 400, "The specified DiskType is not supported."
        )
    found = []
    for disk in [] if empty else s.disks.values():
        if ids is not None and disk.disk_id not in ids:
            continue
        if p.get("InstanceId") and disk.instance_id != p.get("InstanceId"):
            continue
        if kind not in ("all", disk.type):
            continue
        s.observe_disk(disk)
        found.append(s.disk_shape(disk))
    chosen, paging = _page(p, found, s.max_page_size)
    return {**paging, "Disks": {"Disk": chosen}}


def describe_snapshots(s: EcsStandIn, p: _Params, allowed: bool) -> dict[str, Any]:
    empty = _listing(s, p, "DescribeSnapshots", allowed)
    ids = p.json_list("SnapshotIds")
    found = []
    for snapshot in [] if empty else s.snapshots.values():
        if ids is not None and snapshot.snapshot_id not in ids:
            continue
        if p.get("DiskId") and snapshot.disk_id != p.get("DiskId"):
            continue
        s.observe_snapshot(snapshot)
        found.append(s.snapshot_shape(snapshot))
    chosen, paging = _page(p, found, s.max_page_size)
    return {**paging, "Snapshots": {"Snapshot": chosen}}


def describe_images(s: EcsStandIn, p: _Params, allowed: bool) -> dict[str, Any]:
    empty = _listing(s, p, "DescribeImages", allowed)
    wanted = set((p.get("ImageId") or "").split(",")) - {""}
    found = [
        {"ImageId": image.image_id, "ImageName": image.image_id, "Status": image.status}
        for image in ([] if empty else s.images.values())
        if not wanted or image.image_id in wanted
    ]
    chosen, paging = _page(p, found, s.max_page_size)
    return {**paging, "Images": {"Image": chosen}}


def create_snapshot(s: EcsStandIn, p: _Params, allowed: bool) -> dict[str, Any]:
    disk_id = p.need("DiskId")
    if not allowed:
        raise _denied("CreateSnapshot")
    token = p.get("ClientToken")
    request = {k: v for k, v in p.raw.items() if k != "ClientToken"}
    answer = s.answered_before("CreateSnapshot", token, request)
    if answer is not None:
        return answer
    disk = s.disks.get(disk_id)
    if disk is None:
        raise ApiError("InvalidDiskId.NotFound", 404, "The specified disk does not exist.")
    if disk.instance_id is not None:
        instance = s.live_instance(disk.instance_id)
        if instance.status not in ("Running", "Stopped"):
            raise _state()
    snapshot = Snapshot(
        snapshot_id=s.new_id("s"),
        disk_id=disk_id,
        disk_type=disk.type,
        disk_size=disk.size,
        name=p.get("SnapshotName") or "",
        description=p.get("Description") or "",
        content=list(disk.content),
        created=s.clock(),
        polls_left=s.slow["snapshot"],
        outcome="failed" if s.fail_next_snapshot else "accomplished",
    )
    s.fail_next_snapshot = False
    s.snapshots[snapshot.snapshot_id] = snapshot
    s.effects.append(("CreateSnapshot", {"disk": disk_id, "snapshot": snapshot.snapshot_id}))
    answer = {"SnapshotId": snapshot.snapshot_id}
    s.remember("CreateSnapshot", token, request, answer)
    return answer


def delete_snapshot(s: EcsStandIn, p: _Params, allowed: bool) -> dict[str, Any]:
    # Documented: an unknown id is ignored; an image made from it -> SnapshotCreatedImage,
    # a disk made from it without Force=true -> SnapshotCreatedDisk (both 403); deleting a
    # snapshot still being created cancels it.
    snapshot_id = p.need("SnapshotId")
    if not allowed:
        raise _denied("DeleteSnapshot")
    snapshot = s.snapshots.get(snapshot_id)
    if snapshot is None:
        return {}
    if snapshot.made_image:
        raise ApiError(
            "SnapshotCreatedImage",
            403,
            "The snapshot has been used to create user defined image(s).",
        )
    if snapshot.made_disk and not p.flag("Force"):
        raise ApiError("SnapshotCreatedDisk", 403, "The snapshot has been used to create disk(s).")
    del s.snapshots[snapshot_id]
    s.effects.append(("DeleteSnapshot", {"snapshot": snapshot_id}))
    return {}


def stop_instance(s: EcsStandIn, p: _Params, allowed: bool) -> dict[str, Any]:
    iid = p.need("InstanceId")
    if not allowed:
        raise _denied("StopInstance")
    mode = p.get("StoppedMode") or "KeepCharging"
    if mode not in ("KeepCharging", "StopCharging"):
        raise ApiError(
            "InvalidStoppedMode.Malformed", 400, "The specified StoppedMode is not valid."
        )
    p.flag("ForceStop")
    instance = s.live_instance(iid)
    if instance.status != "Running" or instance.pending is not None:
        raise _state()
    if p.flag("DryRun"):
        raise _dry_run()
    instance.status = "Stopping"
    instance.stopped_mode = mode
    instance.pending = ("Stopped", s.slow["stop"])
    s.effects.append(("StopInstance", {"instance": iid, "mode": mode}))
    return {}


def start_instance(s: EcsStandIn, p: _Params, allowed: bool) -> dict[str, Any]:
    iid = p.need("InstanceId")
    if not allowed:
        raise _denied("StartInstance")
    instance = s.live_instance(iid)
    if instance.status != "Stopped" or instance.pending is not None:
        raise _state()
    disk = s.disks.get(instance.system_disk_id)
    if disk is None or disk.status != "In_use":
        raise ApiError(
            "IncorrectDiskStatus", 403, "The current disk status does not support this operation."
        )
    if p.flag("DryRun"):
        raise _dry_run()
    instance.status = "Starting"
    instance.pending = ("Running", s.slow["start"])
    s.effects.append(("StartInstance", {"instance": iid}))
    return {}


def reset_disk(s: EcsStandIn, p: _Params, allowed: bool) -> dict[str, Any]:
    disk_id = p.need("DiskId")
    snapshot_id = p.need("SnapshotId")
    if not allowed:
        raise _denied("ResetDisk")
    disk = s.disks.get(disk_id)
    if disk is None:
        raise ApiError("InvalidDiskId.NotFound", 404, "The specified disk does not exist.")
    snapshot = s.snapshots.get(snapshot_id)
    if snapshot is None:
        raise ApiError(
            "InvalidSnapshotId.NotFound", 404, "The specified SnapshotId does not exist."
        )
    if snapshot.disk_id != disk_id:
        raise ApiError(
            "InvalidParameter.Mismatch",
            403,
            "Specified snapshot is not created from the specified disk.",
        )
    if snapshot.status != "accomplished":
        raise ApiError(
            "IncorrectSnapshotStatus",
            403,
            "The current snapshot status does not support this operation.",
        )
    if disk.instance_id is not None:
        instance = s.live_instance(disk.instance_id)
        if instance.status != "Stopped" or instance.pending is not None:
            raise _state()
    if disk.status not in ("In_use", "Available"):
        raise ApiError(
            "IncorrectDiskStatus", 403, "The current disk status does not support this operation."
        )
    if p.flag("DryRun"):
        raise _dry_run()
    disk.content = list(snapshot.content)
    if s.slow["reset"] != 0:
        disk.status = "ReIniting"
        disk.pending = ("In_use", s.slow["reset"])
    s.effects.append(("ResetDisk", {"disk": disk_id, "snapshot": snapshot_id}))
    return {}


def replace_system_disk(s: EcsStandIn, p: _Params, allowed: bool) -> dict[str, Any]:
    iid = p.need("InstanceId")
    if not allowed:
        raise _denied("ReplaceSystemDisk")
    token = p.get("ClientToken")
    request = {k: v for k, v in p.raw.items() if k != "ClientToken"}
    answer = s.answered_before("ReplaceSystemDisk", token, request)
    if answer is not None:
        return answer
    instance = s.live_instance(iid)
    image_id = p.need("ImageId")
    image = s.images.get(image_id)
    if image is None:
        raise ApiError("InvalidImageId.NotFound", 404, "The specified ImageId does not exist.")
    if instance.status != "Stopped" or instance.pending is not None:
        raise _state()
    old = s.disks.pop(instance.system_disk_id)
    new = Disk(s.new_id("d"), iid, "system", old.size, list(image.content))
    if s.slow["replace"] != 0:
        new.status = "Creating"
        new.pending = ("In_use", s.slow["replace"])
    s.disks[new.disk_id] = new
    instance.system_disk_id = new.disk_id
    instance.image_id = image_id
    s.effects.append(
        ("ReplaceSystemDisk", {"instance": iid, "image": image_id, "disk": new.disk_id})
    )
    answer = {"DiskId": new.disk_id}
    s.remember("ReplaceSystemDisk", token, request, answer)
    return answer


def run_command(s: EcsStandIn, p: _Params, allowed: bool) -> dict[str, Any]:
    p.need("RegionId")
    kind = p.need("Type")
    script = p.need("CommandContent")
    ids = p.listed("InstanceId")
    if not ids:
        p.need("InstanceId.1")
    if not allowed:
        raise _denied("RunCommand")
    if kind != "RunShellScript":
        raise ApiError("InvalidCommandType", 400, "The specified command type is not valid.")
    if p.get("ContentEncoding") == "Base64":
        try:
            script = base64.b64decode(script, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise ApiError(
                "InvalidCmdContent.Malformed", 400, "The specified command content is not valid."
            ) from None
    if s.real_shell:
        for iid in ids:
            if iid not in s.instances:
                raise ApiError(
                    "InvalidInstance.NotFound", 404, "The specified instance does not exist."
                )
    token = p.get("ClientToken")
    request = {k: v for k, v in p.raw.items() if k != "ClientToken"}
    answer = s.answered_before("RunCommand", token, request)
    if answer is not None:
        return answer
    for iid in ids:
        if s.live_instance(iid).status != "Running":
            raise _state()
    command_id = s.new_id("c")
    invoke_id = s.new_id("t")
    for iid in ids:
        invocation = Invocation(invoke_id, command_id, iid, script, polls_left=s.slow["command"])
        if s.real_shell and iid in s.agent_offline:
            invocation.status, invocation.error_code = "Failed", "ClientNotRunning"
        elif s.real_shell:
            invocation.run = ShellRun(script, timeout=p.number("Timeout", 60))
        s.invocations[f"{invoke_id}/{iid}"] = invocation
    answer = {"InvokeId": invoke_id, "CommandId": command_id}
    s.remember("RunCommand", token, request, answer)
    return answer


def describe_invocation_results(s: EcsStandIn, p: _Params, allowed: bool) -> dict[str, Any]:
    p.need("RegionId")
    if not allowed:
        raise _denied("DescribeInvocationResults")
    found = []
    for invocation in s.invocations.values():
        if p.get("InvokeId") and invocation.invoke_id != p.get("InvokeId"):
            continue
        if p.get("InstanceId") and invocation.instance_id != p.get("InstanceId"):
            continue
        s.observe_invocation(invocation)
        found.append(
            {
                "InstanceId": invocation.instance_id,
                "InvokeId": invocation.invoke_id,
                "CommandId": invocation.command_id,
                "InvocationStatus": invocation.status,
                "InvokeRecordStatus": "Running" if invocation.status == "Running" else "Finished",
                "ExitCode": invocation.exit_code,
                "Output": invocation.output
                if p.get("ContentEncoding") == "PlainText" or invocation.run is None
                else base64.b64encode(invocation.output.encode()).decode(),
                "ErrorCode": invocation.error_code
                or ("" if invocation.status in ("Running", "Success") else "CommandFailed"),
                "ErrorInfo": "",
            }
        )
    chosen, paging = _page(p, found, 50)
    return {"Invocation": {**paging, "InvocationResults": {"InvocationResult": chosen}}}


def stop_invocation(s: EcsStandIn, p: _Params, allowed: bool) -> dict[str, Any]:
    p.need("RegionId")
    invoke_id = p.need("InvokeId")
    if not allowed:
        raise _denied("StopInvocation")
    mine = [i for i in s.invocations.values() if i.invoke_id == invoke_id]
    if not mine:
        raise ApiError("InvalidInvokeId.NotFound", 404, "The specified invoke does not exist.")
    for invocation in mine:
        if invocation.status == "Running":
            if invocation.run is not None:
                invocation.run.kill()
                invocation.run.poll()
            invocation.status, invocation.error_code = "Stopped", "ExecutionInterrupted"
    return {}


_HANDLERS: dict[str, Callable[[EcsStandIn, _Params, bool], dict[str, Any]]] = {
    "DescribeInstances": describe_instances,
    "DescribeInstanceStatus": describe_instance_status,
    "DescribeDisks": describe_disks,
    "DescribeSnapshots": describe_snapshots,
    "DescribeImages": describe_images,
    "CreateSnapshot": create_snapshot,
    "DeleteSnapshot": delete_snapshot,
    "StopInstance": stop_instance,
    "StartInstance": start_instance,
    "ResetDisk": reset_disk,
    "ReplaceSystemDisk": replace_system_disk,
    "RunCommand": run_command,
    "DescribeInvocationResults": describe_invocation_results,
    "StopInvocation": stop_invocation,
}
