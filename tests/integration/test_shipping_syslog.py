"""Audit shipping to a real rsyslogd over UDP, TCP (octet counting) and TLS.

rsyslogd runs in the foreground with its own configuration: imudp and imtcp inputs on free
127.0.0.1 ports (one of them TLS through the ossl driver) and an omfile action whose template
keeps what rsyslog parsed out of each RFC 5424 message: APP-NAME, MSGID, STRUCTURED-DATA and
MSG. So the test proves rsyslog itself understood the messages, not only that bytes arrived.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from rollsafe.config import models
from rollsafe.domain import audit_events
from rollsafe.shipping import shipping, syslog
from rollsafe.storage import sql

RSYSLOGD = shutil.which("rsyslogd") or shutil.which("rsyslogd", path="/usr/sbin:/sbin")
OPENSSL = shutil.which("openssl")
# The ossl network stream driver (TLS) is a separate Debian package.
HAS_OSSL = (
    any(Path("/usr/lib").glob("*/rsyslog/lmnsd_ossl.so"))
    or Path("/usr/lib/rsyslog/lmnsd_ossl.so").exists()
)

pytestmark = pytest.mark.requires("rsyslogd")
needs_tls = pytest.mark.requires("rsyslog-tls", "openssl")

WAIT = 30.0
SEP = "\x1f"  # unit separator between template fields: never in a message
LINE = re.compile(r"^(?P<app>[^\x1f]*)\x1f(?P<msgid>[^\x1f]*)\x1f(?P<sd>[^\x1f]*)\x1f(?P<msg>.*)$")
PARAM = re.compile(r' ([^ =\]"]+)="((?:[^"\\\]]|\\["\\\]])*)"')


def _free_port(kind: int) -> int:
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Rsyslog:
    """One rsyslogd with UDP, TCP and (when possible) TLS inputs, writing one file."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.out = workdir / "received.log"
        self.udp = _free_port(socket.SOCK_DGRAM)
        self.tcp = _free_port(socket.SOCK_STREAM)
        self.tls = _free_port(socket.SOCK_STREAM) if HAS_OSSL and OPENSSL else None
        self.cert = workdir / "cert.pem"
        self.process: subprocess.Popen[bytes] | None = None
        if self.tls is not None:
            _self_signed(workdir / "key.pem", self.cert)
        (workdir / "rsyslog.conf").write_text(self._config())

    def _config(self) -> str:
        work = self.workdir
        tls_global = (
            f' DefaultNetstreamDriverCAFile="{self.cert}"'
            f' DefaultNetstreamDriverCertFile="{self.cert}"'
            f' DefaultNetstreamDriverKeyFile="{work / "key.pem"}"'
            if self.tls is not None
            else ""
        )
        tls_input = (
            f'input(type="imtcp" address="127.0.0.1" port="{self.tls}"'
            ' streamDriver.name="ossl" streamDriver.mode="1" streamDriver.authMode="anon")\n'
            if self.tls is not None
            else ""
        )
        fields = SEP.join(["%app-name%", "%msgid%", "%structured-data%", "%msg%"])
        return (
            f'global(workDirectory="{work}"{tls_global})\n'
            'module(load="imudp")\n'
            'module(load="imtcp")\n'
            f'input(type="imudp" address="127.0.0.1" port="{self.udp}")\n'
            f'input(type="imtcp" address="127.0.0.1" port="{self.tcp}")\n'
            f"{tls_input}"
            f'template(name="fields" type="string" string="{fields}\\n")\n'
            f'action(type="omfile" file="{self.out}" template="fields")\n'
        )

    def start(self) -> None:
        assert RSYSLOGD is not None
        with (self.workdir / "rsyslogd.err").open("ab") as errors:
            self.process = subprocess.Popen(
                [
                    RSYSLOGD,
                    "-n",
                    "-f",
                    str(self.workdir / "rsyslog.conf"),
                    "-i",
                    str(self.workdir / "rsyslogd.pid"),
                ],
                stdout=subprocess.DEVNULL,
                stderr=errors,
            )
        deadline = time.monotonic() + WAIT
        for port in (self.tcp, self.tls):
            while port is not None:
                if self.process.poll() is not None:
                    err = (self.workdir / "rsyslogd.err").read_text()
                    pytest.fail(f"rsyslogd exited with {self.process.returncode}: {err}")
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        pytest.fail("rsyslogd did not open its TCP inputs")
                    time.sleep(0.05)

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)

    def received(self) -> list[dict]:
        """Each message rsyslog wrote, as the fields it parsed."""
        if not self.out.exists():
            return []
        out = []
        for line in self.out.read_text(encoding="utf-8").splitlines():
            match = LINE.match(line)
            assert match is not None, line
            params = {k: re.sub(r"\\(.)", r"\1", v) for k, v in PARAM.findall(match["sd"])}
            out.append(
                {
                    "app": match["app"],
                    "msgid": match["msgid"],
                    "sd_id": match["sd"][1:].split(" ", 1)[0],
                    "params": params,
                    "msg": match["msg"],
                }
            )
        return out

    async def wait_for(self, count: int) -> list[dict]:
        """The received messages once there are ``count`` (rsyslog writes asynchronously)."""
        async with asyncio.timeout(WAIT):
            while len(found := self.received()) < count:
                await asyncio.sleep(0.05)
        return found


def _self_signed(key: Path, cert: Path) -> None:
    assert OPENSSL is not None
    subprocess.run(
        [
            OPENSSL, "req", "-x509", "-newkey", "rsa:2048", "-nodes",
            "-keyout", str(key), "-out", str(cert), "-days", "1",
            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )  # fmt: skip


@pytest.fixture
def rsyslog(tmp_path: Path) -> Iterator[Rsyslog]:
    server = Rsyslog(tmp_path / "rsyslog")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[sql.SqlStore]:
    opened = sql.open_store(tmp_path / "state")
    yield opened
    opened.close()


def _audit(store: sql.SqlStore, *actions: str) -> list[audit_events.AuditEvent]:
    return [
        store.append_audit(
            audit_events.AuditEntry(
                time=time.time(),
                actor="judge",
                action=action,
                target="web-1",
                run_id="run-7" if action.startswith("run.") else None,
                reason='5xx ratio 0.4 > 0.2 "for 2m"',
                details={"rule": "http-5xx", "value": 0.4, "note": "naïve ]quote["},
            )
        )
        for action in actions
    ]


def _sink(name: str, rsyslog: Rsyslog, transport: str, **extra: object) -> models.SyslogSink:
    port = {"udp": rsyslog.udp, "tcp": rsyslog.tcp, "tls": rsyslog.tls}[transport]
    fields = {"ca_file": str(rsyslog.cert)} if transport == "tls" else {}
    return models.SyslogSink(
        kind="syslog",
        name=name,
        host="127.0.0.1",
        port=port,
        transport=transport,
        **(fields | extra),  # type: ignore[arg-type]
    )


@contextlib.asynccontextmanager
async def _shipping(store: sql.SqlStore, *configs: models.SyslogSink):
    group = shipping.AuditShipping.from_config(
        list(configs), store, first_backoff=0.05, poll_interval=0.05
    )
    task = asyncio.create_task(group.run())
    try:
        yield group
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _udp_ready(rsyslog: Rsyslog) -> int:
    """imudp binds on its own schedule: send probes until rsyslog writes one."""
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(
        asyncio.DatagramProtocol, remote_addr=("127.0.0.1", rsyslog.udp)
    )
    try:
        async with asyncio.timeout(WAIT):
            while not rsyslog.received():
                transport.sendto(b"<14>1 - - probe - ready - ready")
                await asyncio.sleep(0.05)
    finally:
        transport.close()
    return len(rsyslog.received())


@pytest.mark.parametrize("transport", ["udp", "tcp", pytest.param("tls", marks=needs_tls)])
async def test_events_arrive_parsed_by_rsyslog(rsyslog, store, transport):
    before = await _udp_ready(rsyslog) if transport == "udp" else 0
    events = _audit(store, "daemon.started", "decision.critical", "run.opened", "run.succeeded")
    async with _shipping(store, _sink("siem", rsyslog, transport)) as group:
        async with asyncio.timeout(WAIT):
            await group.shipper("siem").cursor.reached(events[-1].seq)
        found = (await rsyslog.wait_for(before + len(events)))[before:]
    chain = events[0].hash[:16]
    assert [m["msgid"] for m in found] == [e.entry.action for e in events]
    for message, event in zip(found, events, strict=True):
        assert message["app"] == "rollsafe"
        assert message["sd_id"] == "rollsafe@32473"
        assert message["params"]["seq"] == str(event.seq)
        assert message["params"]["hash"] == event.hash
        assert message["params"]["chain"] == chain
        assert message["params"]["actor"] == "judge"
        assert message["params"]["target"] == "web-1"
        assert message["params"].get("run") == event.entry.run_id
        document = json.loads(message["msg"])
        assert document == event.to_json() | {"chain": chain}


async def test_tcp_receiver_restart_waits_at_the_cursor_then_resumes(rsyslog, store):
    first = _audit(store, "run.opened", "run.step.started")
    async with _shipping(store, _sink("siem", rsyslog, "tcp")) as group:
        shipper = group.shipper("siem")
        async with asyncio.timeout(WAIT):
            await shipper.cursor.reached(first[-1].seq)
        await rsyslog.wait_for(2)
        rsyslog.stop()
        sink = shipper.sink
        assert isinstance(sink, syslog.SyslogSink)
        async with asyncio.timeout(WAIT):
            while sink.connected:  # the receiver's close reached us
                await asyncio.sleep(0.01)
        later = _audit(store, "run.step.done", "run.succeeded")
        async with asyncio.timeout(WAIT):
            while shipper.failures < 2:  # connection refused, retried with backoff
                await asyncio.sleep(0.01)
        assert store.get_cursor("siem") == first[-1].seq
        rsyslog.start()
        async with asyncio.timeout(WAIT):
            await shipper.cursor.reached(later[-1].seq)
        found = await rsyslog.wait_for(4)
    assert [m["params"]["seq"] for m in found] == [str(e.seq) for e in first + later]


@needs_tls
async def test_tls_refuses_a_server_it_cannot_verify(rsyslog, store, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    _self_signed(other / "key.pem", other / "cert.pem")
    events = _audit(store, "run.opened")
    config = _sink("siem", rsyslog, "tls", ca_file=str(other / "cert.pem"))
    async with _shipping(store, config) as group:
        shipper = group.shipper("siem")
        async with asyncio.timeout(WAIT):
            while shipper.failures < 1:
                await asyncio.sleep(0.01)
        assert "CERTIFICATE_VERIFY_FAILED" in (shipper.last_error or "")
        assert store.get_cursor("siem") == 0
    assert len(events) == 1
    assert rsyslog.received() == []
