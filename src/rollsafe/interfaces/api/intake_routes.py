"""``POST /intake/<name>``: authenticate, bound, parse, store durably, then answer.

Role in the loop (interfaces): the door of the webhook intake. For each request, in order:
the endpoint must exist (404); credentials that need no body (401); media type and encoding
(415); the body, read with the size limit enforced while reading (413); signatures over the
body, freshness and replays (401; an SNS message from another topic: 403); the body must parse
with its source's pure parser (400 with the reason; nothing is stored). Only then is the body
stored in the inbox, committed, and the sender answered 202 (200 for Tencent Cloud, which
expects it) with the inbox row's id. Processing happens afterwards (``runtime/inbox``): a
controller killed after the answer loses nothing.

A body identical to one received within the endpoint's ``dedupe_window`` is a resend: it is
answered 202 with ``duplicate: true`` and not stored again. SNS subscription confirmations are
verified like notifications, then confirmed (a GET of the ``SubscribeURL``, itself checked to be
on an SNS host) and audited; they are not stored in the inbox.

A malformed request is always a 4xx with ``{"error": reason}``; only the store being
unavailable (503) or an SNS certificate that cannot be fetched (503) answers 5xx, so that the
sender retries.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from typing import Any

import fastapi
from fastapi import responses
from pydantic import BaseModel

from rollsafe.audit import redacting
from rollsafe.config import models
from rollsafe.detect.intake import payloads, signing, sns, sources
from rollsafe.domain import audit_events, clocks, errors
from rollsafe.interfaces.api import auth, bodies, fetching
from rollsafe.storage import group_commit, repositories

__all__ = ["Accepted", "IntakeService", "Problem", "router"]

log = logging.getLogger("rollsafe.api")

_CERTIFICATES_CACHED = 32
_REDACTED = redacting.MASK


class Accepted(BaseModel):
    """The body is stored and will be processed."""

    status: str = "accepted"
    id: int | None = None
    duplicate: bool = False
    alerts: int = 0


class Problem(BaseModel):
    """Why the request was refused."""

    error: str


class _Refused(Exception):
    def __init__(self, status: int, reason: str, *, headers: dict[str, str] | None = None):
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.headers = headers


class IntakeService:
    """Everything ``POST /intake/<name>`` needs, built once per app."""

    def __init__(
        self,
        config: models.RollsafeConfig,
        *,
        store: repositories.Store,
        clock: clocks.Clock,
        on_stored: Callable[[], None],
        gates: Mapping[str, auth.Gate],
        fetch: fetching.Fetcher,
        max_body_bytes: int,
    ) -> None:
        self.endpoints = {endpoint.name: endpoint for endpoint in config.intake}
        self._store = store
        self._writer = group_commit.InboxWriter(store)
        self._clock = clock
        self._on_stored = on_stored
        self._gates = dict(gates)
        self._fetch = fetch
        self._limit = max_body_bytes
        self._certificates: dict[str, bytes] = {}

    async def receive(self, name: str, request: fastapi.Request) -> responses.JSONResponse:
        """Handle one webhook (see the module notes)."""
        try:
            return await self._receive(name, request)
        except _Refused as refused:
            level = logging.INFO if refused.status == 404 else logging.WARNING
            log.log(level, "intake %s: %d %s", name, refused.status, refused.reason)
            return responses.JSONResponse(
                {"error": refused.reason}, status_code=refused.status, headers=refused.headers
            )

    async def _receive(self, name: str, request: fastapi.Request) -> responses.JSONResponse:
        endpoint = self.endpoints.get(name)
        if endpoint is None:
            raise _Refused(404, f"no intake endpoint named {name!r}")
        gate = self._gates[name]
        headers = {key.lower(): value for key, value in request.headers.items()}
        challenge = {"WWW-Authenticate": gate.scheme} if gate.scheme else None
        try:
            gate.before_body(headers, dict(request.query_params))
        except signing.Unauthenticated as exc:
            raise _Refused(401, str(exc), headers=challenge) from None
        try:
            bodies.check_media(headers, sources.CONTENT_TYPES[endpoint.kind])
            body = await bodies.read_limited(headers, request.stream(), limit=self._limit)
        except bodies.UnsupportedMedia as exc:
            raise _Refused(415, str(exc)) from None
        except bodies.BodyTooLarge as exc:
            # The rest of the body is not read: the connection closes after the answer.
            raise _Refused(413, str(exc), headers={"Connection": "close"}) from None
        except bodies.BodyCutShort as exc:
            raise _Refused(400, str(exc)) from None
        now = self._clock.now()
        try:
            # In a thread: remembering the signature against replays is a store write.
            await asyncio.to_thread(gate.with_body, body, headers, now=now)
        except signing.Unauthenticated as exc:
            raise _Refused(401, str(exc), headers=challenge) from None
        except errors.StoreError as exc:
            log.error("intake %s: cannot check for a replay: %s", name, exc)  # noqa: TRY400
            raise _Refused(503, "the store is unavailable; retry later") from None
        if isinstance(endpoint, models.SnsIntake):
            confirmed = await self._sns(endpoint, body, headers, now=now)
            if confirmed is not None:
                return confirmed
        try:
            found = sources.parse(endpoint, body, headers=headers, received_at=now)
        except payloads.Malformed as exc:
            raise _Refused(400, exc.reason) from None
        receipt = await self._store_body(endpoint, body, headers, gate=gate, now=now)
        if not receipt.duplicate:
            self._on_stored()
        log.info(
            "intake %s: %s #%d (%d alerts)",
            name,
            "duplicate of" if receipt.duplicate else "stored",
            receipt.id,
            len(found),
        )
        accepted = Accepted(id=receipt.id, duplicate=receipt.duplicate, alerts=len(found))
        content: dict[str, Any] = accepted.model_dump()
        status = 202
        if isinstance(endpoint, models.TencentIntake):
            # Tencent Cloud's callback counts 200 with its sessionId and retCode 0 as delivered.
            session = _session_id(body)
            content.update(sessionId=session, retCode=0)
            status = 200
        return responses.JSONResponse(content, status_code=status)

    async def _store_body(
        self,
        endpoint: models.IntakeBase,
        body: bytes,
        headers: Mapping[str, str],
        *,
        gate: auth.Gate,
        now: float,
    ) -> repositories.InboxReceipt:
        entry = repositories.InboxEntry(
            received_at=now,
            endpoint=endpoint.name,
            headers=_redacted(headers, gate.secret_headers()),
            body=body,
            dedupe_key=sources.dedupe_key(endpoint.name, body),
        )
        try:
            return await self._writer.add(entry, dedupe_since=now - endpoint.dedupe_window)
        except errors.StoreError as exc:
            log.error("intake %s: cannot store the body: %s", endpoint.name, exc)  # noqa: TRY400
            raise _Refused(503, "the store is unavailable; retry later") from None

    async def _sns(
        self, endpoint: models.SnsIntake, body: bytes, headers: Mapping[str, str], *, now: float
    ) -> responses.JSONResponse | None:
        """Verify an SNS message; answer confirmations here (None: a notification to store)."""
        try:
            envelope = sns.parse_envelope(body, headers=headers)
        except payloads.Malformed as exc:
            raise _Refused(400, exc.reason) from None
        try:
            sns.check_topic(envelope, topic_arn=endpoint.topic_arn)
            sns.check_sns_url(envelope.signing_cert_url, what="SigningCertURL", pem=True)
            certificate = await self._certificate(envelope.signing_cert_url)
            sns.verify(envelope, certificate, topic_arn=endpoint.topic_arn, now=now)
        except sns.WrongTopic as exc:
            raise _Refused(403, str(exc)) from None
        except signing.Unauthenticated as exc:
            raise _Refused(401, str(exc)) from None
        if envelope.type == sns.NOTIFICATION:
            return None
        if envelope.type == sns.UNSUBSCRIBE:
            await self._audit_sns(endpoint, envelope, action="intake.sns_unsubscribed", now=now)
            return responses.JSONResponse({"status": "unsubscribed"}, status_code=200)
        if not endpoint.confirm_subscriptions:
            await self._audit_sns(endpoint, envelope, action="intake.sns_subscription", now=now)
            return responses.JSONResponse({"status": "not confirmed"}, status_code=200)
        subscribe_url = envelope.subscribe_url or ""
        try:
            region = sns.check_sns_url(subscribe_url, what="SubscribeURL")
        except signing.Unauthenticated as exc:
            raise _Refused(401, str(exc)) from None
        if f":sns:{region}:" not in endpoint.topic_arn:
            raise _Refused(401, f"SubscribeURL is in region {region}, not the topic's")
        try:
            await self._fetch(subscribe_url)
        except Exception as exc:  # noqa: BLE001 - whatever the fetcher raises, SNS retries
            log.warning("intake %s: cannot confirm the subscription: %s", endpoint.name, exc)
            raise _Refused(503, "cannot confirm the subscription now; retry later") from None
        await self._audit_sns(endpoint, envelope, action="intake.sns_subscribed", now=now)
        return responses.JSONResponse({"status": "subscribed"}, status_code=200)

    async def _certificate(self, url: str) -> bytes:
        cached = self._certificates.get(url)
        if cached is not None:
            return cached
        try:
            pem = await self._fetch(url)
        except Exception as exc:  # noqa: BLE001 - whatever the fetcher raises, SNS retries
            log.warning("cannot fetch the SNS signing certificate %s: %s", url, exc)
            raise _Refused(503, "cannot fetch the SNS signing certificate; retry later") from None
        if len(self._certificates) >= _CERTIFICATES_CACHED:
            self._certificates.pop(next(iter(self._certificates)))
        self._certificates[url] = pem
        return pem

    async def _audit_sns(
        self, endpoint: models.SnsIntake, envelope: sns.Envelope, *, action: str, now: float
    ) -> None:
        entry = audit_events.AuditEntry(
            time=now,
            actor="intake",
            action=action,
            reason=f"SNS {envelope.type} for {envelope.topic_arn} on {endpoint.name}",
            details={"endpoint": endpoint.name, "message_id": envelope.message_id},
            result=action.rsplit(".", 1)[-1],
        )
        try:
            await asyncio.to_thread(self._store.append_audit, entry)
        except errors.StoreError as exc:
            log.error("intake %s: cannot audit %s: %s", endpoint.name, action, exc)  # noqa: TRY400
            raise _Refused(503, "the store is unavailable; retry later") from None


def _redacted(headers: Mapping[str, str], secret: frozenset[str]) -> dict[str, str]:
    """Headers as stored: credentials and signatures masked, whatever their name's case."""
    return {
        key: _REDACTED
        if key in secret or "signature" in key or redacting.is_secret_key(key)
        else value
        for key, value in headers.items()
    }


def _session_id(body: bytes) -> str:
    try:
        data = payloads.json_object(body, what="")
    except payloads.Malformed:
        return ""
    value = data.get("sessionId")
    return value if isinstance(value, str) else ""


_BODY_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "The source's own payload (Alertmanager, Grafana, SNS, Alibaba Cloud, "
        "Tencent Cloud, or rollsafe's generic form; see docs/integrations.md)",
        "content": {
            "application/json": {"schema": {"type": "object"}},
            "application/x-www-form-urlencoded": {"schema": {"type": "object"}},
            "text/plain": {"schema": {"type": "string"}},
        },
    }
}


def router(service: IntakeService) -> fastapi.APIRouter:
    """The intake route, bound to ``service``."""
    api = fastapi.APIRouter(tags=["intake"])

    @api.post(
        "/intake/{name}",
        status_code=202,
        response_model=Accepted,
        summary="Receive a webhook from a monitoring system",
        responses={
            200: {"model": Accepted, "description": "Tencent Cloud callbacks, SNS confirmations"},
            400: {"model": Problem, "description": "The body is not the source's form"},
            401: {"model": Problem, "description": "Missing or wrong credentials or signature"},
            403: {"model": Problem, "description": "An SNS message of another topic"},
            404: {"model": Problem, "description": "No such intake endpoint"},
            413: {"model": Problem, "description": "The body is too large"},
            415: {"model": Problem, "description": "Wrong media type or a compressed body"},
            503: {"model": Problem, "description": "Cannot store now; retry later"},
        },
        openapi_extra=_BODY_DOC,
    )
    async def receive(name: str, request: fastapi.Request) -> responses.JSONResponse:
        return await service.receive(name, request)

    return api
