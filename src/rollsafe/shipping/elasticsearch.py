"""Elasticsearch sink: audit events through the bulk API, idempotent by document id.

Role in the loop (audit, outward): a batch is one ``POST <url>/_bulk`` in NDJSON (an action
line and a document line per event, a newline after the last one). Each document's ``_id`` is
``<chain>-<seq>``, so sending an event again overwrites the same document: Elasticsearch never
holds a duplicate, whatever retries happened. With ``op_type: create`` (data streams) a resend
answers 409 for that document, which means "already there" and counts as delivered.

The answer is read item by item: the cursor advances over the leading items that were
indexed; a 429 or 5xx (for the request or an item) is retried later, any other refusal
(a mapping conflict, a closed index, bad credentials) holds the sink at that event and is
logged until someone fixes it.

``details`` is sent as a JSON string: audit details differ from action to action, and as
objects they would sooner or later clash in the index mapping and stall shipping.
"""

from __future__ import annotations

import json
from typing import Any

from rollsafe.config import models
from rollsafe.shipping import sink_posting, sinks

__all__ = ["CONTENT_TYPE", "ElasticsearchSink", "document", "index_name"]

CONTENT_TYPE = "application/x-ndjson"


class ElasticsearchSink:
    """Implements ``sinks.Sink`` for one ``kind: elasticsearch`` entry."""

    def __init__(self, config: models.ElasticsearchSink) -> None:
        self.name = config.name
        self._config = config
        self._url = config.url.rstrip("/") + "/_bulk"
        self._poster = sink_posting.Poster(ca_file=config.ca_file, verify=config.verify)

    async def send(self, records: list[sinks.Record]) -> None:
        if not records:
            return
        config = self._config
        headers = {"Content-Type": CONTENT_TYPE, "Accept": "application/json"}
        if config.api_key_env is not None:
            headers["Authorization"] = f"ApiKey {sink_posting.secret(config.api_key_env)}"
        answer = await self._poster.post(
            self._url,
            body=bulk_body(records, index=config.index, op_type=config.op_type),
            headers=headers,
            auth=sink_posting.basic_auth(config.username, config.password_env),
        )
        where = sink_posting.shown(self._url)
        if answer.status == 429 or answer.status >= 500:
            raise sinks.SinkUnavailable(
                f"{where} answered {answer.status}: {answer.text()}",
                retry_after=sink_posting.retry_after(answer),
            )
        if answer.status != 200:
            raise sinks.SinkRefused(f"{where} answered {answer.status}: {answer.text()}")
        try:
            result = json.loads(answer.body)
        except ValueError as exc:
            raise sinks.SinkUnavailable(f"{where} answered 200 without JSON") from exc
        if not isinstance(result, dict):
            raise sinks.SinkUnavailable(f"{where} answered 200 without a bulk result")
        if result.get("errors") is False and len(result.get("items") or ()) == len(records):
            return
        _check_items(result.get("items"), records, op_type=config.op_type, where=where)

    async def close(self) -> None:
        await self._poster.close()


def bulk_body(records: list[sinks.Record], *, index: str, op_type: str) -> bytes:
    """The NDJSON body: an action line and a document line per record, newline-terminated."""
    lines: list[str] = []
    for record in records:
        action = {op_type: {"_index": index_name(index, record), "_id": record.key}}
        lines.append(sinks.to_json(action))
        lines.append(sinks.to_json(document(record)))
    return ("\n".join(lines) + "\n").encode("utf-8")


def document(record: sinks.Record) -> dict[str, Any]:
    """The indexed document: the exported event, ``chain``, ``@timestamp``, details as text."""
    doc = record.document()
    doc["details"] = sinks.to_json(doc["details"])
    doc["@timestamp"] = record.utc().isoformat(timespec="microseconds").replace("+00:00", "Z")
    return doc


def index_name(template: str, record: sinks.Record) -> str:
    """``template`` with ``{date}`` replaced by the event's UTC date (``2024.05.01``)."""
    if "{date}" not in template:
        return template
    return template.replace("{date}", record.utc().strftime("%Y.%m.%d"))


def _check_items(items: Any, records: list[sinks.Record], *, op_type: str, where: str) -> None:
    """Raise for the first item that was not stored, with how many before it were."""
    if not isinstance(items, list) or len(items) != len(records):
        count = len(items) if isinstance(items, list) else 0
        raise sinks.SinkUnavailable(
            f"{where} answered {count} bulk items for {len(records)} documents"
        )
    for position, (item, record) in enumerate(zip(items, records, strict=True)):
        outcome = item.get(op_type) if isinstance(item, dict) else None
        status = outcome.get("status") if isinstance(outcome, dict) else None
        if not isinstance(status, int):
            raise sinks.SinkUnavailable(
                f"{where}: bulk item for event {record.seq} has no status", acked=position
            )
        if 200 <= status < 300 or (status == 409 and op_type == "create"):
            continue  # stored, or (create) stored by an earlier attempt
        reason = _item_error(outcome)
        message = f"{where}: event {record.seq} answered {status}: {reason}"
        if status == 429 or status >= 500:
            raise sinks.SinkUnavailable(message, acked=position)
        raise sinks.SinkRefused(message, acked=position)


def _item_error(outcome: Any) -> str:
    error = outcome.get("error") if isinstance(outcome, dict) else None
    if isinstance(error, dict):
        kind = error.get("type", "error")
        reason = error.get("reason", "")
        return f"{kind}: {reason}" if reason else str(kind)
    return str(error) if error else "no reason given"
