"""Email: one plain-text message per notification over SMTP (stdlib ``smtplib`` in a thread).

``security`` picks the transport: ``starttls`` (submission port 587, upgraded with
STARTTLS), ``ssl`` (implicit TLS, port 465) or ``none`` (a relay on a trusted network).
TLS verifies the server's certificate against the system's trust store. The password comes
from ``password_env``. A 4xx SMTP answer or a lost connection is retried (the dispatcher's
backoff); a 5xx answer or refused credentials are permanent.

The body carries the text, the facts (event, target, run) and, while a run waits for a
person, the signed approve/reject links, which are single-use and expire.
"""

from __future__ import annotations

import asyncio
import email.message
import email.utils
import smtplib
import ssl

from rollsafe.config import models
from rollsafe.domain import errors
from rollsafe.notify import messages, webhook_posting

__all__ = ["EmailNotifier", "compose"]


class EmailNotifier:
    def __init__(self, config: models.EmailNotifier) -> None:
        self.name = config.name
        self._config = config

    async def send(self, message: messages.Message) -> None:
        mail = compose(message, self._config)
        password = None
        if self._config.password_env is not None:
            password = webhook_posting.from_env(
                self._config.password_env, what=f"email {self.name}"
            )
        # smtplib blocks: a thread keeps the loop (and every rollback) moving meanwhile.
        await asyncio.to_thread(self._deliver, mail, password)

    async def close(self) -> None:
        return None  # one connection per message: nothing stays open

    def _deliver(self, mail: email.message.EmailMessage, password: str | None) -> None:
        config = self._config
        what = f"email {self.name}: {config.host}:{config.port}"
        try:
            smtp: smtplib.SMTP
            if config.security == "ssl":
                smtp = smtplib.SMTP_SSL(
                    config.host,
                    config.port,
                    timeout=config.timeout,
                    context=ssl.create_default_context(),
                )
            else:
                smtp = smtplib.SMTP(config.host, config.port, timeout=config.timeout)
            with smtp:
                if config.security == "starttls":
                    smtp.starttls(context=ssl.create_default_context())
                if config.username is not None:
                    smtp.login(config.username, password or "")
                smtp.send_message(mail)
        except smtplib.SMTPAuthenticationError as exc:
            raise errors.PermanentError(f"{what}: login refused ({exc.smtp_code})") from None
        except smtplib.SMTPRecipientsRefused as exc:
            codes = sorted({code for code, _ in exc.recipients.values()})
            if all(400 <= code < 500 for code in codes):
                raise errors.TemporaryError(f"{what}: recipients deferred {codes}") from None
            raise errors.PermanentError(f"{what}: recipients refused {codes}") from None
        except smtplib.SMTPResponseException as exc:
            text = f"{what}: {exc.smtp_code} {exc.smtp_error!r}"
            if 400 <= exc.smtp_code < 500:
                raise errors.TemporaryError(text) from None
            raise errors.PermanentError(text) from None
        except smtplib.SMTPNotSupportedError as exc:
            raise errors.PermanentError(f"{what}: {exc}") from None
        except ssl.SSLError as exc:
            raise errors.PermanentError(f"{what}: TLS failed: {exc.reason}") from None
        except (smtplib.SMTPException, OSError) as exc:
            raise errors.TemporaryError(f"{what}: {type(exc).__name__}: {exc}") from None


def compose(message: messages.Message, config: models.EmailNotifier) -> email.message.EmailMessage:
    """The email for ``message``: subject from the title, plain-text body."""
    mail = email.message.EmailMessage()
    mail["Subject"] = f"[rollsafe {message.severity.label}] {message.title}"
    mail["From"] = config.sender
    mail["To"] = ", ".join(config.to)
    mail["Date"] = email.utils.formatdate(localtime=False)
    mail["Message-ID"] = email.utils.make_msgid(domain="rollsafe")
    mail["X-Rollsafe-Event"] = message.event
    if message.run_id:
        mail["X-Rollsafe-Run"] = message.run_id
    lines = [message.text, "", f"event:    {message.event}", f"severity: {message.severity.label}"]
    if message.target:
        lines.append(f"target:   {message.target}")
    if message.run_id:
        lines.append(f"run:      {message.run_id}")
    if message.awaiting_approval and message.links.get(messages.APPROVE):
        lines += [
            "",
            "This rollback waits for a person. Each link works once and expires:",
            f"  approve: {message.links[messages.APPROVE]}",
            f"  reject:  {message.links.get(messages.REJECT, '')}",
        ]
    if message.links.get(messages.DASHBOARD):
        lines += ["", f"dashboard: {message.links[messages.DASHBOARD]}"]
    mail.set_content("\n".join(lines) + "\n")
    return mail
