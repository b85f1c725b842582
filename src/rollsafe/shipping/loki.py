"""Loki sink: audit events through the push API, one line per event in one stream.

Role in the loop (audit, outward): a batch is one ``POST <url>/loki/api/v1/push`` with
``{"streams": [{"stream": <labels>, "values": [["<ns>", "<line>"], ...]}]}``. The timestamp is
the event's own time in nanoseconds (as a string, as Loki wants it) and the line is the event
as compact JSON with sorted keys, so a resend carries exactly the same timestamp and line and
Loki drops it as a duplicate of the stored entry. Labels stay the few fixed ones configured
(many distinct label values would make many streams); search the line with ``| json``.

204 is success. 429 and 5xx are retried later; any other answer (bad labels, an entry Loki
refuses, bad credentials) holds the sink at the batch and is logged until someone fixes it.
Loki does not say which entries of a refused push it kept, so the whole batch is resent.
"""

from __future__ import annotations

from rollsafe.config import models
from rollsafe.shipping import sink_posting, sinks

__all__ = ["PUSH_PATH", "LokiSink", "nanoseconds", "push_body"]

PUSH_PATH = "/loki/api/v1/push"
TENANT_HEADER = "X-Scope-OrgID"


class LokiSink:
    """Implements ``sinks.Sink`` for one ``kind: loki`` entry."""

    def __init__(self, config: models.LokiSink) -> None:
        self.name = config.name
        self._config = config
        self._url = config.url.rstrip("/") + PUSH_PATH
        self._poster = sink_posting.Poster(ca_file=config.ca_file, verify=config.verify)

    async def send(self, records: list[sinks.Record]) -> None:
        if not records:
            return
        config = self._config
        headers = {"Content-Type": "application/json"}
        if config.tenant is not None:
            headers[TENANT_HEADER] = config.tenant
        if config.token_env is not None:
            headers["Authorization"] = f"Bearer {sink_posting.secret(config.token_env)}"
        answer = await self._poster.post(
            self._url,
            body=push_body(records, labels=config.labels),
            headers=headers,
            auth=sink_posting.basic_auth(config.username, config.password_env),
        )
        if answer.status in (200, 204):
            return
        message = f"{sink_posting.shown(self._url)} answered {answer.status}: {answer.text()}"
        if answer.status == 429 or answer.status >= 500:
            raise sinks.SinkUnavailable(message, retry_after=sink_posting.retry_after(answer))
        raise sinks.SinkRefused(message)

    async def close(self) -> None:
        await self._poster.close()


def push_body(records: list[sinks.Record], *, labels: dict[str, str]) -> bytes:
    values = [[str(nanoseconds(record.time)), record.line()] for record in records]
    return sinks.to_json({"streams": [{"stream": dict(labels), "values": values}]}).encode()


def nanoseconds(seconds: float) -> int:
    """Epoch nanoseconds, via whole microseconds: the same float always gives the same number."""
    return round(seconds * 1_000_000) * 1000
