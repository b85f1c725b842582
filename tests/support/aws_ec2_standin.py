"""A local EC2 for the aws driver tests: moto's server, behind a small proxy of our own.

moto (run as a real HTTP server, ``ThreadedMotoServer`` on 127.0.0.1) answers the EC2 API:
instances, volumes, snapshots, stop/start, DryRun. It does not implement the root volume
replacement tasks, so the proxy in front of it answers ``CreateReplaceRootVolumeTask`` and
``DescribeReplaceRootVolumeTasks`` itself, following the states AWS documents (``pending``
-> ``in-progress`` -> ``succeeded``, or ``failing`` -> ``failed`` / ``failed-detached``),
one state further at each describe of a task. Its effects are made on moto's instance with
ordinary EC2 calls: a volume created from the snapshot, the old root volume detached and kept,
the new one attached at the root device.

The proxy also injects faults that a test asks for: an error answer for the next calls of an
action (throttling, permission denied), or snapshot states for the next DescribeSnapshots
answers (pending, error). Every answer carries a unique request id, logged in ``calls``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import http.client
import http.server
import itertools
import threading
import typing
import urllib.parse
import urllib.request
import uuid
from xml.sax.saxutils import escape

import boto3
import pytest
from moto.server import ThreadedMotoServer

REGION = "eu-west-1"
_TASK_ACTIONS = ("CreateReplaceRootVolumeTask", "DescribeReplaceRootVolumeTasks")
_STATUS = {"DryRunOperation": 412, "UnauthorizedOperation": 403, "RequestLimitExceeded": 503}
DEFAULT_SCRIPT = ("pending", "in-progress", "succeeded")


@dataclasses.dataclass
class Fault:
    action: str
    code: str
    status: int
    times: int
    message: str
    only_real: bool  # leave DryRun calls alone (a precheck passes, the real call fails)
    skip: int  # matching calls let through first


@dataclasses.dataclass
class Task:
    id: str
    instance_id: str
    snapshot_id: str
    token: str
    tags: dict[str, str]
    script: list[str]
    position: int = 0
    effects_done: set[str] = dataclasses.field(default_factory=set)
    started: str = ""

    @property
    def state(self) -> str:
        return self.script[self.position]


class Ec2StandIn:
    """moto's EC2 plus the replace-root-volume task API and injected faults."""

    def __init__(self) -> None:
        self._moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._moto_port = 0
        self._server: http.server.ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self.calls: list[tuple[str, str]] = []  # (action, request id) of every answer
        self.faults: list[Fault] = []
        self.snapshot_states: list[str] = []
        self.task_script: list[str] = list(DEFAULT_SCRIPT)
        self.tasks: dict[str, Task] = {}
        self.page_size: int | None = None
        self.ignore_dry_run = False
        self.effects: list[tuple[str, str]] = []  # (task id, effect) once each
        self._image: str | None = None
        self._client: typing.Any = None
        self._client_lock = threading.Lock()

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        self._moto.start()
        self._moto_port = self._moto._server.server_port  # type: ignore[union-attr]
        handler = _handler(self)
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="ec2-standin", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._client is not None:
            self._client.close()
        self._moto.stop()

    def reset(self) -> None:
        request = urllib.request.Request(f"{self.moto_endpoint}/moto-api/reset", method="POST")
        with urllib.request.urlopen(request) as answer:
            answer.read()
        with self._lock:
            self.calls.clear()
            self.faults.clear()
            self.snapshot_states.clear()
            self.task_script = list(DEFAULT_SCRIPT)
            self.tasks.clear()
            self.page_size = None
            self.ignore_dry_run = False
            self.effects.clear()

    @property
    def endpoint(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def moto_endpoint(self) -> str:
        return f"http://127.0.0.1:{self._moto_port}"

    def client(self) -> typing.Any:
        """A boto3 EC2 client straight to moto (set-up and assertions, never the driver)."""
        with self._client_lock:  # made once: creating a client costs far more than a call
            if self._client is None:
                self._client = boto3.client(
                    "ec2",
                    region_name=REGION,
                    endpoint_url=self.moto_endpoint,
                    aws_access_key_id="testing",
                    aws_secret_access_key="testing",
                )
            return self._client

    # ------------------------------------------------------------------ test controls

    def fail(
        self,
        action: str,
        code: str,
        *,
        times: int = 1,
        status: int | None = None,
        message: str = "",
        only_real: bool = False,
        skip: int = 0,
    ) -> None:
        """The next ``times`` calls of ``action`` (after ``skip`` more) get the error ``code``."""
        with self._lock:
            self.faults.append(
                Fault(
                    action,
                    code,
                    status or _STATUS.get(code, 400),
                    times,
                    message or code,
                    only_real,
                    skip,
                )
            )

    def count(self, action: str) -> int:
        with self._lock:
            return sum(1 for a, _ in self.calls if a == action)

    def request_ids(self) -> set[str]:
        with self._lock:
            return {r for _, r in self.calls}

    def launch(self, name: str = "web-1", **tags: str) -> dict[str, typing.Any]:
        """A running instance with an EBS root volume, tagged ``Name`` and ``tags``."""
        ec2 = self.client()
        if self._image is None:  # moto's public images are the same after every reset
            self._image = ec2.describe_images(Owners=["amazon"], MaxResults=5)["Images"][0][
                "ImageId"
            ]
        image = self._image
        all_tags = [{"Key": "Name", "Value": name}] + [
            {"Key": k, "Value": v} for k, v in tags.items()
        ]
        made = ec2.run_instances(
            ImageId=image,
            MinCount=1,
            MaxCount=1,
            InstanceType="t3.micro",
            Placement={"AvailabilityZone": f"{REGION}b"},
            TagSpecifications=[{"ResourceType": "instance", "Tags": all_tags}],
        )
        return dict(made["Instances"][0])

    def root_volume(self, instance_id: str) -> str | None:
        instance = self.instance(instance_id)
        for mapping in instance.get("BlockDeviceMappings", []):
            if mapping["DeviceName"] == instance["RootDeviceName"]:
                return str(mapping["Ebs"]["VolumeId"])
        return None

    def instance(self, instance_id: str) -> dict[str, typing.Any]:
        found = self.client().describe_instances(InstanceIds=[instance_id])
        return dict(found["Reservations"][0]["Instances"][0])

    def volume(self, volume_id: str) -> dict[str, typing.Any]:
        return dict(self.client().describe_volumes(VolumeIds=[volume_id])["Volumes"][0])

    # ------------------------------------------------------------------ serving

    def answer(self, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        form = {k: v[0] for k, v in urllib.parse.parse_qs(body.decode()).items()}
        action = form.get("Action", "")
        request_id = f"req-{next(self._ids):05d}-{uuid.uuid4().hex[:8]}"
        with self._lock:
            self.calls.append((action, request_id))
            dry = form.get("DryRun") == "true"
            fault = next(
                (
                    f
                    for f in self.faults
                    if f.action == action and f.times > 0 and not (f.only_real and dry)
                ),
                None,
            )
            if fault is not None and fault.skip > 0:
                fault.skip -= 1
            elif fault is not None:
                fault.times -= 1
                return fault.status, _error(fault.code, fault.message, request_id)
            if action in _TASK_ACTIONS:
                return self._tasks_api(action, form, request_id)
        status, text = self._forward(body, headers)
        with self._lock:
            completed = b"<status>completed</status>" in text
            if action == "DescribeSnapshots" and self.snapshot_states and completed:
                state = self.snapshot_states.pop(0)
                text = text.replace(
                    b"<status>completed</status>", f"<status>{state}</status>".encode()
                )
        return status, text.replace(b"request-id<", f"{request_id}<".encode())

    def _forward(self, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self._moto_port, timeout=30)
        try:
            sent = {k: v for k, v in headers.items() if k.lower() not in ("host", "content-length")}
            conn.request("POST", "/", body=body, headers=sent)
            reply = conn.getresponse()
            return reply.status, reply.read()
        finally:
            conn.close()

    # ------------------------------------------------------------------ the task API

    def _tasks_api(self, action: str, form: dict[str, str], request_id: str) -> tuple[int, bytes]:
        if form.get("DryRun") == "true" and not self.ignore_dry_run:
            return 412, _error(
                "DryRunOperation",
                "Request would have succeeded, but DryRun flag is set.",
                request_id,
            )
        if action == "CreateReplaceRootVolumeTask":
            return self._create_task(form, request_id)
        return self._describe_tasks(form, request_id)

    def _create_task(self, form: dict[str, str], request_id: str) -> tuple[int, bytes]:
        instance_id = form.get("InstanceId", "")
        snapshot_id = form.get("SnapshotId", "")
        token = form.get("ClientToken") or uuid.uuid4().hex
        for task in self.tasks.values():
            if task.token == token:
                if (task.instance_id, task.snapshot_id) != (instance_id, snapshot_id):
                    return 400, _error(
                        "IdempotentParameterMismatch", "token reused, other parameters", request_id
                    )
                return 200, _task_answer("CreateReplaceRootVolumeTaskResponse", task, request_id)
        ec2 = self.client()
        try:
            instance = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0][
                "Instances"
            ][0]
            ec2.describe_snapshots(SnapshotIds=[snapshot_id])
        except ec2.exceptions.ClientError as exc:
            error = exc.response["Error"]
            return 400, _error(error["Code"], error.get("Message") or "", request_id)
        if instance["State"]["Name"] != "running":
            return 400, _error(
                "IncorrectInstanceState",
                f"The instance '{instance_id}' is not in the 'running' state.",
                request_id,
            )
        tags: dict[str, str] = {}
        for index in itertools.count(1):
            kind = form.get(f"TagSpecification.{index}.ResourceType")
            if kind is None:
                break
            for tag in itertools.count(1):
                key = form.get(f"TagSpecification.{index}.Tag.{tag}.Key")
                if key is None:
                    break
                tags[key] = form.get(f"TagSpecification.{index}.Tag.{tag}.Value", "")
        task = Task(
            id=f"replacevol-{uuid.uuid4().hex[:17]}",
            instance_id=instance_id,
            snapshot_id=snapshot_id,
            token=token,
            tags=tags,
            script=list(self.task_script),
            started=datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        )
        self.tasks[task.id] = task
        return 200, _task_answer("CreateReplaceRootVolumeTaskResponse", task, request_id)

    def _describe_tasks(self, form: dict[str, str], request_id: str) -> tuple[int, bytes]:
        wanted = {v for k, v in form.items() if k.startswith("ReplaceRootVolumeTaskId.")}
        instances: set[str] = set()
        for index in itertools.count(1):
            name = form.get(f"Filter.{index}.Name")
            if name is None:
                break
            values = {v for k, v in form.items() if k.startswith(f"Filter.{index}.Value.")}
            if name != "instance-id":
                return 400, _error("InvalidParameterValue", f"unknown filter {name}", request_id)
            instances |= values
        chosen = [
            t
            for t in self.tasks.values()
            if (not wanted or t.id in wanted) and (not instances or t.instance_id in instances)
        ]
        if wanted - {t.id for t in chosen}:
            return 400, _error(
                "InvalidReplaceRootVolumeTaskId.NotFound", "no such task", request_id
            )
        start = int(form.get("NextToken") or 0)
        end = len(chosen) if self.page_size is None else start + self.page_size
        page, token = chosen[start:end], (str(end) if end < len(chosen) else None)
        for task in page:
            self._advance(task)
        items = "".join(f"<item>{_task_xml(t)}</item>" for t in page)
        more = f"<nextToken>{token}</nextToken>" if token else ""
        return 200, (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<DescribeReplaceRootVolumeTasksResponse '
            f'xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>{request_id}</requestId>'
            f"<replaceRootVolumeTaskSet>{items}</replaceRootVolumeTaskSet>{more}"
            "</DescribeReplaceRootVolumeTasksResponse>"
        ).encode()

    def _advance(self, task: Task) -> None:
        """One state further (the last one stays), with the effects of the state reached."""
        if task.position < len(task.script) - 1:
            task.position += 1
        state = task.state
        if state == "succeeded" and "replaced" not in task.effects_done:
            self._replace(task)
        elif (
            state in ("failed-detached", "failing-detached") and "detached" not in task.effects_done
        ):
            self._detach_only(task)

    def _replace(self, task: Task) -> None:
        ec2 = self.client()
        instance = ec2.describe_instances(InstanceIds=[task.instance_id])["Reservations"][0][
            "Instances"
        ][0]
        device = instance["RootDeviceName"]
        old = next(
            m["Ebs"]["VolumeId"]
            for m in instance["BlockDeviceMappings"]
            if m["DeviceName"] == device
        )
        new = ec2.create_volume(
            AvailabilityZone=instance["Placement"]["AvailabilityZone"], SnapshotId=task.snapshot_id
        )["VolumeId"]
        ec2.detach_volume(VolumeId=old, InstanceId=task.instance_id, Device=device)
        ec2.attach_volume(VolumeId=new, InstanceId=task.instance_id, Device=device)
        task.effects_done.add("replaced")
        self.effects.append((task.id, f"replaced {old} by {new}"))

    def _detach_only(self, task: Task) -> None:
        ec2 = self.client()
        instance = ec2.describe_instances(InstanceIds=[task.instance_id])["Reservations"][0][
            "Instances"
        ][0]
        device = instance["RootDeviceName"]
        for mapping in instance["BlockDeviceMappings"]:
            if mapping["DeviceName"] == device:
                ec2.detach_volume(
                    VolumeId=mapping["Ebs"]["VolumeId"], InstanceId=task.instance_id, Device=device
                )
        task.effects_done.add("detached")
        self.effects.append((task.id, "detached"))


def _handler(standin: Ec2StandIn) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            status, text = standin.answer(body, dict(self.headers.items()))
            self.send_response(status)
            self.send_header("Content-Type", "text/xml;charset=UTF-8")
            self.send_header("Content-Length", str(len(text)))
            self.end_headers()
            self.wfile.write(text)

        def log_message(self, format: str, *args: typing.Any) -> None:  # noqa: A002
            return  # quiet: the test output is for failures

    return Handler


def _error(code: str, message: str, request_id: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error>'
        f"<Code>{escape(code)}</Code><Message>{escape(message)}</Message>"
        f"</Error></Errors><RequestID>{request_id}</RequestID></Response>"
    ).encode()


def _task_xml(task: Task) -> str:
    tags = "".join(
        f"<item><key>{escape(k)}</key><value>{escape(v)}</value></item>"
        for k, v in task.tags.items()
    )
    return (
        f"<replaceRootVolumeTaskId>{task.id}</replaceRootVolumeTaskId>"
        f"<instanceId>{task.instance_id}</instanceId><taskState>{task.state}</taskState>"
        f"<startTime>{task.started}</startTime><snapshotId>{task.snapshot_id}</snapshotId>"
        f"<deleteReplacedRootVolume>false</deleteReplacedRootVolume><tagSet>{tags}</tagSet>"
    )


def _task_answer(root: str, task: Task, request_id: str) -> bytes:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<{root} '
        f'xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>{request_id}</requestId>'
        f"<replaceRootVolumeTask>{_task_xml(task)}</replaceRootVolumeTask></{root}>"
    ).encode()


@contextlib.contextmanager
def running() -> typing.Iterator[Ec2StandIn]:
    standin = Ec2StandIn()
    standin.start()
    try:
        yield standin
    finally:
        standin.stop()


# --------------------------------------------------------------------------- test set-up


def prepared(standin: Ec2StandIn, monkeypatch: pytest.MonkeyPatch) -> Ec2StandIn:
    """The stand-in, emptied, with fake credentials: never the developer's real ones."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/aws-config")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/aws-credentials")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.delenv("AWS_REGION", raising=False)
    standin.reset()
    return standin


def driver_config(standin: Ec2StandIn, **overrides: typing.Any) -> typing.Any:
    """An aws driver config pointed at the stand-in, with waits sized for tests."""
    from rollsafe.config import models

    settings: dict[str, typing.Any] = {
        "kind": "aws",
        "name": "ec2",
        "region": REGION,
        "endpoint_url": standin.endpoint,
        "poll_interval": 0.01,
        "max_poll_interval": 0.05,
        "snapshot_wait": 10,
        "restore_wait": 10,
        "instance_wait": 10,
        "api_timeout": 10,
        "api_attempts": 1,
    }
    settings.update(overrides)
    return models.AwsDriver(**settings)
