"""A local AWS Systems Manager for the ``aws_ssm`` transport tests: moto behind a small proxy.

moto (``ThreadedMotoServer`` on 127.0.0.1) answers the SSM JSON API (``SendCommand`` makes a
command with its id, ``GetCommandInvocation`` answers it) and EC2 (the instances). moto does
not run anything and accepts any instance id, so the proxy in front of it does what the SSM
agent and service would: ``SendCommand`` to an instance EC2 does not know, or one marked
``offline`` (agent not connected), answers ``InvalidInstanceId``; otherwise the command goes
to moto and its script runs for real with ``sh -c`` in a temporary directory (``ShellRun``),
killed at its ``executionTimeout``. ``GetCommandInvocation`` answers ``InvocationDoesNotExist``
for the first ``not_yet`` polls of a command (as SSM does right after sending), then moto's
answer with the real ``Status`` (InProgress / Success / Failed / TimedOut), ``ResponseCode``
and outputs, each cut at 24,000 characters like the service. Faults on demand (``fail``:
ThrottlingException, 5xx ...) and a request id in every answer, kept in ``calls``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import http.client
import http.server
import json
import threading
import typing
import uuid

import boto3
from moto.server import ThreadedMotoServer

from support.standin_shell import ShellRun

REGION = "eu-west-1"
OUTPUT_CAP = 24_000


@dataclasses.dataclass
class Fault:
    action: str
    code: str
    status: int
    times: int


class SsmStandIn:
    def __init__(self) -> None:
        self._moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._moto_port = 0
        self._server: http.server.ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.calls: list[tuple[str, str]] = []  # (action, request id)
        self.faults: list[Fault] = []
        self.runs: dict[str, ShellRun] = {}  # command id -> the script running
        self.scripts: list[str] = []
        self.offline: set[str] = set()
        self.not_yet = 1
        self._misses: dict[str, int] = {}

    def start(self) -> None:
        self._moto.start()
        self._moto_port = self._moto._server.server_port  # type: ignore[union-attr]
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        for run in self.runs.values():
            if run.result is None:
                run.kill()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._moto.stop()

    @property
    def endpoint(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def launch(self) -> str:
        """A running EC2 instance (in moto) whose SSM agent is online; its id."""
        ec2 = boto3.client(
            "ec2",
            region_name=REGION,
            endpoint_url=f"http://127.0.0.1:{self._moto_port}",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        image = ec2.describe_images(Owners=["amazon"], MaxResults=5)["Images"][0]["ImageId"]
        made = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, InstanceType="t3.micro")
        ec2.close()
        return str(made["Instances"][0]["InstanceId"])

    def fail(self, action: str, code: str, *, status: int = 400, times: int = 1) -> None:
        with self._lock:
            self.faults.append(Fault(action, code, status, times))

    def count(self, action: str) -> int:
        with self._lock:
            return sum(1 for a, _ in self.calls if a == action)

    # ------------------------------------------------------------------ answering

    def answer(self, body: bytes, headers: dict[str, str]) -> tuple[int, bytes, str]:
        action = headers.get("X-Amz-Target", "").rpartition(".")[2]
        request_id = str(uuid.uuid4())
        with self._lock:
            self.calls.append((action, request_id))
            fault = next((f for f in self.faults if f.action == action and f.times > 0), None)
            if fault is not None:
                fault.times -= 1
                return fault.status, _error(fault.code, f"injected {fault.code}"), request_id
        params = json.loads(body or b"{}")
        if action == "SendCommand":
            for iid in params.get("InstanceIds", []):
                if iid in self.offline or not self._known(iid):
                    return (
                        400,
                        _error("InvalidInstanceId", "Instances not in a valid state for account"),
                        request_id,
                    )
        if action == "GetCommandInvocation":
            command_id = params.get("CommandId", "")
            with self._lock:
                missed = self._misses.get(command_id, 0)
                if command_id in self.runs and missed < self.not_yet:
                    self._misses[command_id] = missed + 1
                    return 400, _error("InvocationDoesNotExist", ""), request_id
        status, text = self._forward(body, headers)
        if status != 200:
            return status, text, request_id
        answer = json.loads(text)
        if action == "SendCommand":
            parameters = params.get("Parameters", {})
            script = "\n".join(parameters.get("commands", []))
            timeout = float(parameters.get("executionTimeout", ["3600"])[0])
            with self._lock:
                self.scripts.append(script)
                self.runs[answer["Command"]["CommandId"]] = ShellRun(script, timeout=timeout)
        elif action == "GetCommandInvocation":
            with self._lock:
                run = self.runs.get(params.get("CommandId", ""))
            if run is not None:
                answer.update(_invocation(run))
        return 200, json.dumps(answer, default=str).encode(), request_id

    def _known(self, instance_id: str) -> bool:
        ec2 = boto3.client(
            "ec2",
            region_name=REGION,
            endpoint_url=f"http://127.0.0.1:{self._moto_port}",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        try:
            found = ec2.describe_instances(
                Filters=[{"Name": "instance-id", "Values": [instance_id]}]
            )
        finally:
            ec2.close()
        return any(r["Instances"] for r in found["Reservations"])

    def _forward(self, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self._moto_port, timeout=30)
        try:
            sent = {k: v for k, v in headers.items() if k.lower() not in ("host", "content-length")}
            conn.request("POST", "/", body=body, headers=sent)
            reply = conn.getresponse()
            return reply.status, reply.read()
        finally:
            conn.close()


def _invocation(run: ShellRun) -> dict[str, typing.Any]:
    done = run.poll()
    if done is None:
        return {
            "Status": "InProgress",
            "StatusDetails": "InProgress",
            "ResponseCode": -1,
            "StandardOutputContent": "",
            "StandardErrorContent": "",
        }
    status = "TimedOut" if done.timed_out else "Success" if done.exit_code == 0 else "Failed"
    return {
        "Status": status,
        "StatusDetails": "ExecutionTimedOut" if done.timed_out else status,
        "ResponseCode": -1 if done.exit_code is None else done.exit_code,
        "StandardOutputContent": done.stdout[:OUTPUT_CAP],
        "StandardErrorContent": done.stderr[:OUTPUT_CAP],
    }


def _error(code: str, message: str) -> bytes:
    return json.dumps({"__type": code, "message": message}).encode()


def _handler(standin: SsmStandIn) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            status, text, request_id = standin.answer(body, dict(self.headers.items()))
            self.send_response(status)
            self.send_header("Content-Type", "application/x-amz-json-1.1")
            self.send_header("x-amzn-RequestId", request_id)
            self.send_header("Content-Length", str(len(text)))
            self.end_headers()
            self.wfile.write(text)

        def log_message(self, format: str, *args: typing.Any) -> None:  # noqa: A002
            return

    return Handler


@contextlib.contextmanager
def running() -> typing.Iterator[SsmStandIn]:
    standin = SsmStandIn()
    standin.start()
    try:
        yield standin
    finally:
        standin.stop()
