"""Syslog sink: audit events as RFC 5424 messages over UDP, TCP or TLS.

Role in the loop (audit, outward): one message per event::

    <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [rollsafe@32473 seq=".." hash=".." ...] MSG

- PRI: the configured facility and a severity derived from the action (below);
- TIMESTAMP: when the event happened, RFC 3339 in UTC with microseconds;
- MSGID: the action (``run.opened``), cut to the 32 characters RFC 5424 allows;
- STRUCTURED-DATA: one element whose SD-ID uses 32473, the example private enterprise
  number of RFC 5612 (rollsafe has none of its own), with seq, hash, chain, actor, target,
  run;
- MSG: the event as JSON. An event longer than ``max_message_bytes`` is sent without its
  details (``"truncated": true``); seq and hash still find it in the local audit log.

Transports: UDP (one datagram per message), TCP with octet-counting framing (RFC 6587:
``LEN SP MSG``), TLS (the same framing inside TLS, RFC 5425). Syslog has no acknowledgement
and no deduplication: a message counts as delivered once the datagram was handed to the
kernel (UDP) or the bytes were written to the connection (TCP, TLS), and a resend after a
failure arrives twice. Duplicates and gaps are recognisable downstream by ``seq``.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import os
import socket
import ssl
from typing import Any

from rollsafe.config import models
from rollsafe.shipping import sinks

__all__ = [
    "FACILITIES",
    "SD_ID",
    "SyslogSink",
    "format_message",
    "frame",
    "severity",
]

SD_ID = "rollsafe@32473"
"""RFC 5612's example enterprise number: documentation use, until rollsafe has its own."""

FACILITIES: dict[str, int] = {
    "kern": 0,
    "user": 1,
    "mail": 2,
    "daemon": 3,
    "auth": 4,
    "syslog": 5,
    "lpr": 6,
    "news": 7,
    "uucp": 8,
    "cron": 9,
    "authpriv": 10,
    "ftp": 11,
    "ntp": 12,
    "audit": 13,
    "alert": 14,
    "clock": 15,
    **{f"local{n}": 16 + n for n in range(8)},
}

_CRITICAL, _ERROR, _WARNING, _NOTICE, _INFO = 2, 3, 4, 5, 6
_NIL = "-"
_MSGID_MAX = 32
_PARAM_MAX = 200  # characters of an SD-PARAM value: the header stays well under 2048 bytes
_DEFAULT_PORTS = {"udp": 514, "tcp": 514, "tls": 6514}


def severity(action: str) -> int:
    """Syslog severity for an audit action: what a person scanning syslog should notice."""
    if action == "decision.critical":
        return _CRITICAL
    if "failed" in action or action.endswith((".error", ".crashed")):
        return _ERROR
    if action == "decision.warning" or "quarantine" in action:
        return _WARNING
    if action.startswith("run."):
        return _NOTICE
    return _INFO


def format_message(
    record: sinks.Record,
    *,
    facility: int,
    app_name: str,
    hostname: str,
    procid: str,
    max_bytes: int,
) -> bytes:
    """One RFC 5424 message (without transport framing), at most ``max_bytes`` long."""
    entry = record.event.entry
    header = " ".join(
        (
            f"<{facility * 8 + severity(entry.action)}>1",
            _timestamp(record.utc()),
            _printable(hostname, 255),
            _printable(app_name, 48),
            _printable(procid, 128),
            _printable(entry.action, _MSGID_MAX),
        )
    )
    params: list[tuple[str, Any]] = [
        ("seq", record.seq),
        ("hash", record.event.hash),
        ("chain", record.chain),
        ("actor", entry.actor),
        ("target", entry.target),
        ("run", entry.run_id),
    ]
    data = (
        f"[{SD_ID}"
        + "".join(
            f' {name}="{_param_value(str(value)[:_PARAM_MAX])}"'
            for name, value in params
            if value is not None
        )
        + "]"
    )
    prefix = f"{header} {data} ".encode()
    message = prefix + record.line().encode("utf-8")
    if len(message) <= max_bytes:
        return message
    # Too long for the receiver: keep the event's identity, drop the details.
    document = record.document()
    document["details"] = {}
    document["truncated"] = True
    message = prefix + sinks.to_json(document).encode("utf-8")
    if len(message) <= max_bytes:
        return message
    stub = {"seq": record.seq, "hash": record.event.hash, "chain": record.chain}
    stub |= {"action": entry.action, "truncated": True}
    return (prefix + sinks.to_json(stub).encode("utf-8"))[:max_bytes]


def frame(message: bytes) -> bytes:
    """RFC 6587 octet counting: the length in decimal, a space, the message."""
    return str(len(message)).encode("ascii") + b" " + message


class SyslogSink:
    """Implements ``sinks.Sink`` for one ``kind: syslog`` entry."""

    def __init__(self, config: models.SyslogSink) -> None:
        self.name = config.name
        self._config = config
        self._port = config.port or _DEFAULT_PORTS[config.transport]
        self._facility = FACILITIES[config.facility]
        self._hostname = config.hostname or socket.gethostname() or _NIL
        self._procid = str(os.getpid())
        self._writer: asyncio.StreamWriter | None = None
        self._reader: asyncio.StreamReader | None = None
        self._datagrams: asyncio.DatagramTransport | None = None
        self._datagram_errors: _DatagramErrors | None = None
        self._tls: ssl.SSLContext | None = None

    @property
    def where(self) -> str:
        return f"syslog {self._config.transport}://{self._config.host}:{self._port}"

    @property
    def connected(self) -> bool:
        """TCP and TLS: a connection is open and the receiver has not closed it."""
        return self._writer is not None and not (self._reader is None or self._reader.at_eof())

    async def send(self, records: list[sinks.Record]) -> None:
        messages = [
            format_message(
                record,
                facility=self._facility,
                app_name=self._config.app_name,
                hostname=self._hostname,
                procid=self._procid,
                max_bytes=self._config.max_message_bytes,
            )
            for record in records
        ]
        if self._config.transport == "udp":
            await self._send_datagrams(messages)
        else:
            await self._send_stream(messages)

    async def close(self) -> None:
        if self._datagrams is not None:
            self._datagrams.close()
            self._datagrams = None
        await self._close_stream()

    # ------------------------------------------------------------------ transports

    async def _send_datagrams(self, messages: list[bytes]) -> None:
        errors = self._datagram_errors
        if errors is not None and errors.error is not None:
            # The kernel reported the previous datagrams undeliverable (ICMP unreachable).
            problem = errors.error
            await self.close()
            raise sinks.SinkUnavailable(f"{self.where}: {problem}")
        if self._datagrams is None:
            loop = asyncio.get_running_loop()
            try:
                transport, protocol = await loop.create_datagram_endpoint(
                    _DatagramErrors, remote_addr=(self._config.host, self._port)
                )
            except OSError as exc:
                raise sinks.SinkUnavailable(f"{self.where}: {exc.strerror or exc}") from exc
            self._datagrams, self._datagram_errors = transport, protocol
        for position, message in enumerate(messages):
            try:
                self._datagrams.sendto(message)
            except OSError as exc:
                await self.close()
                raise sinks.SinkUnavailable(
                    f"{self.where}: {exc.strerror or exc}", acked=position
                ) from exc

    async def _send_stream(self, messages: list[bytes]) -> None:
        reader = self._reader
        if reader is not None and reader.at_eof():
            # The receiver closed the connection (a restart): do not write into a dead one.
            await self._close_stream()
        writer = self._writer or await self._connect()
        try:
            writer.write(b"".join(frame(message) for message in messages))
            await writer.drain()
        except (OSError, ssl.SSLError) as exc:
            await self._close_stream()
            raise sinks.SinkUnavailable(f"{self.where}: {_os_reason(exc)}") from exc

    async def _connect(self) -> asyncio.StreamWriter:
        context = self._tls_context() if self._config.transport == "tls" else None
        try:
            reader, writer = await asyncio.open_connection(
                self._config.host,
                self._port,
                ssl=context,
                server_hostname=self._config.host if context is not None else None,
            )
        except (OSError, ssl.SSLError) as exc:
            raise sinks.SinkUnavailable(f"{self.where}: {_os_reason(exc)}") from exc
        self._reader, self._writer = reader, writer
        return writer

    async def _close_stream(self) -> None:
        writer, self._writer, self._reader = self._writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    def _tls_context(self) -> ssl.SSLContext:
        if self._tls is None:
            config = self._config
            try:
                context = ssl.create_default_context(cafile=config.ca_file)
                if config.cert_file is not None:
                    context.load_cert_chain(config.cert_file, config.key_file)
            except (OSError, ssl.SSLError) as exc:
                raise sinks.SinkRefused(f"{self.where}: TLS set-up: {_os_reason(exc)}") from exc
            if not config.verify:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            self._tls = context
        return self._tls


class _DatagramErrors(asyncio.DatagramProtocol):
    """Remembers the error the kernel reports for a connected UDP socket."""

    def __init__(self) -> None:
        self.error: str | None = None

    def error_received(self, exc: Exception) -> None:
        self.error = _os_reason(exc)


def _timestamp(moment: datetime.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _printable(text: str, limit: int) -> str:
    """A header field: printable US-ASCII without spaces, at most ``limit`` long, or ``-``."""
    cleaned = "".join(c if "!" <= c <= "~" else "_" for c in text)[:limit]
    return cleaned or _NIL


def _param_value(text: str) -> str:
    """An SD-PARAM value: ``\\``, ``"`` and ``]`` escaped with a backslash (RFC 5424 6.3.3)."""
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")


def _os_reason(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLError):
        return f"TLS: {exc.reason or exc}"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__
