"""Email: a real local SMTP server (aiosmtpd) receives what the email notifier sends."""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from notify_receivers import waiting_message

from rollsafe.config import models
from rollsafe.domain import errors
from rollsafe.notify import email as email_channel


class Inbox:
    """An aiosmtpd handler: keeps every message; refuses recipients at refused.example."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], email.message.EmailMessage]] = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if address.endswith("@refused.example"):
            return "550 5.1.1 no such user"
        if address.endswith("@busy.example"):
            return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), parsed))
        return "250 Message accepted for delivery"


def _authenticate(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        b"rollsafe",
        b"s3cret",
    )
    return AuthResult(success=ok, handled=False)  # not handled: aiosmtpd answers 535 itself


def _free_port() -> int:
    # aiosmtpd's Controller connects to its own port to see it started: it needs a real one.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp():
    inbox = Inbox()
    port = _free_port()
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=port,
        authenticator=_authenticate,
        auth_require_tls=False,  # loopback only; TLS is the notifier's default elsewhere
    )
    controller.start()
    yield inbox, port
    controller.stop()


def _config(port: int, **extra) -> models.EmailNotifier:
    values = {
        "kind": "email",
        "name": "oncall",
        "host": "127.0.0.1",
        "port": port,
        "security": "none",
        "sender": "rollsafe@example.com",
        "to": ["oncall@example.com", "sre@example.com"],
        "timeout": 10,
    }
    values.update(extra)
    return models.EmailNotifier(**values)


async def test_the_message_arrives_with_the_links_to_decide(smtp):
    inbox, port = smtp
    notifier = email_channel.EmailNotifier(_config(port))
    await notifier.send(waiting_message())

    [(sender, recipients, mail)] = inbox.messages
    assert sender == "rollsafe@example.com"
    assert recipients == ["oncall@example.com", "sre@example.com"]
    assert mail["Subject"] == "[rollsafe critical] web-1: rollback waits for approval (http-5xx)"
    assert mail["X-Rollsafe-Run"] == "run-abc123"
    body = mail.get_content()
    assert "5xx ratio 0.42" in body
    assert "approve: https://rollsafe.example.com/links/run-abc123/approve?token=A.B" in body
    assert "reject:  https://rollsafe.example.com/links/run-abc123/reject?token=C.D" in body


async def test_login_with_the_password_from_the_environment(smtp, monkeypatch):
    inbox, port = smtp
    monkeypatch.setenv("SMTP_PASSWORD", "s3cret")
    notifier = email_channel.EmailNotifier(
        _config(port, username="rollsafe", password_env="SMTP_PASSWORD")
    )
    await notifier.send(waiting_message())
    assert len(inbox.messages) == 1


async def test_a_refused_login_is_permanent(smtp, monkeypatch):
    inbox, port = smtp
    monkeypatch.setenv("SMTP_PASSWORD", "wrong")
    notifier = email_channel.EmailNotifier(
        _config(port, username="rollsafe", password_env="SMTP_PASSWORD")
    )
    with pytest.raises(errors.PermanentError, match="login refused"):
        await notifier.send(waiting_message())
    assert inbox.messages == []


async def test_refused_recipients_are_permanent_deferred_ones_temporary(smtp):
    _, port = smtp
    refused = email_channel.EmailNotifier(_config(port, to=["nobody@refused.example"]))
    with pytest.raises(errors.PermanentError, match="550"):
        await refused.send(waiting_message())
    busy = email_channel.EmailNotifier(_config(port, to=["someone@busy.example"]))
    with pytest.raises(errors.TemporaryError, match="451"):
        await busy.send(waiting_message())


async def test_starttls_against_a_server_without_it_is_refused(smtp):
    _, port = smtp
    notifier = email_channel.EmailNotifier(_config(port, security="starttls"))
    with pytest.raises(errors.PermanentError, match="STARTTLS"):
        await notifier.send(waiting_message())


async def test_no_server_is_temporary_and_the_loop_keeps_running():
    notifier = email_channel.EmailNotifier(_config(9, timeout=5))
    ticks = 0

    async def tick():
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    ticker = asyncio.create_task(tick())
    try:
        with pytest.raises(errors.TemporaryError):
            await notifier.send(waiting_message())
    finally:
        ticker.cancel()
    assert ticks > 0  # smtplib ran in a thread: the event loop was never blocked
