"""Alibaba Cloud (ECS, CloudMonitor), as every part of rollsafe reaches it: errors by what to do.

Role in the loop (shared by detect and execute): the aliyun driver and the ``aliyun_assistant``
transport (Cloud Assistant is an ECS API) call ECS through ``Client``, the ``aliyun_cms`` probe
calls CloudMonitor (``product="cms"``) through the same class. It builds the SDK
client on first use with the credentials chain (``_credentials``: the environment's AccessKey,
read when the client is built, else the SDK's default chain: CLI profile, credentials file,
OIDC, ECS RAM role), runs every call in a worker thread, reports it with its ``RequestId``
(``api_calls.record``, answered or not) and classifies what came back with one table:

- throttling, 5xx, ``TEMPORARY_CODES`` and unanswered calls -> ``DriverTemporaryError``;
- ``REFUSAL_PREFIXES`` (a RAM permission missing) and everything else -> ``DriverError``
  naming the code, the RAM action and the request id.

CloudMonitor also refuses some calls inside an HTTP 200 answer (``Success: false`` with an
HTTP status as ``Code``); ``refused_in_body`` turns those into the same failed ``ApiResult``.

A cancelled call is waited for (an HTTP call in a thread cannot be interrupted), so nothing of
a step is still in flight when it is retried. The SDKs (``alibabacloud-ecs20140526``,
``alibabacloud-cms20190101``) are optional dependencies imported on first use only, and only
here (an import-linter contract).
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import importlib.util
import logging
import os
import re
import threading
from collections.abc import Callable, Collection, Mapping
from typing import Any

from rollsafe.domain import errors
from rollsafe.reach import api_calls

__all__ = [
    "REFUSAL_PREFIXES",
    "TEMPORARY_CODES",
    "ApiResult",
    "Client",
    "available",
    "classify",
    "items",
    "refused_in_body",
    "text",
    "token",
    "translate",
]

_log = logging.getLogger(__name__)
# Product -> its SDK package; the product is also the RAM namespace of its actions.
_SDK_MODULES = {"ecs": "alibabacloud_ecs20140526", "cms": "alibabacloud_cms20190101"}
# CloudMonitor's in-body codes are HTTP statuses: these mean "who you are is refused".
_REFUSED_STATUSES = frozenset({"401", "403"})
_BUSY_STATUSES = frozenset({"429"})

TEMPORARY_CODES = frozenset(
    {
        "ServiceUnavailable",
        "InternalError",
        "UnknownError",
        "OperationConflict",
        "IdempotenceProcessing",
        "LastTokenProcessing",
    }
)
REFUSAL_PREFIXES = (
    "Forbidden",
    "NoPermission",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "IncompleteSignature",
    "InvalidSecurityToken",
)
# Request parameters worth keeping in the audit; a command's content is never among them.
_AUDITED = {
    "RegionId": "region_id",
    "InstanceId": "instance_id",
    "InstanceIds": "instance_ids",
    "DiskId": "disk_id",
    "DiskIds": "disk_ids",
    "DiskType": "disk_type",
    "SnapshotId": "snapshot_id",
    "SnapshotIds": "snapshot_ids",
    "ImageId": "image_id",
    "InvokeId": "invoke_id",
    "ClientToken": "client_token",
    "StoppedMode": "stopped_mode",
    "ForceStop": "force_stop",
    "DryRun": "dry_run",
    "PageNumber": "page_number",
}
_SNAKE = re.compile(r"(?<!^)(?=[A-Z])")
_QUERY = re.compile(r"\?[^\s'\")]+")


@dataclasses.dataclass(frozen=True, slots=True)
class ApiResult:
    """One ECS call as this module sees it: the answer's body, or why there is none.

    ``code`` is the error code of a refused call (None on success); ``answered`` is False when
    no answer came back at all (so the call may or may not have taken effect).
    """

    action: str
    request_id: str | None = None
    body: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    code: str | None = None
    message: str = ""
    status: int | None = None
    retry_after: float | None = None
    answered: bool = True
    credentials: bool = False

    @property
    def ok(self) -> bool:
        return self.answered and self.code is None and not self.credentials


class Client:
    """One product (``ecs`` or ``cms``) through its SDK: calls in threads, audited, classified.

    The SDK client is built on first use (``invoke`` is blocking: ``call`` runs it in a
    thread). ``name`` (the driver's) is added to every audit record when given.
    """

    def __init__(
        self,
        *,
        region_id: str,
        endpoint: str | None,
        protocol: str = "https",
        api_timeout: float = 30.0,
        retry_interval: float = 1.0,
        max_retry_interval: float = 30.0,
        name: str | None = None,
        product: str = "ecs",
    ) -> None:
        if product not in _SDK_MODULES:
            raise errors.ConfigError(f"no Alibaba Cloud product {product!r} in rollsafe")
        self.product = product
        self.region_id = region_id
        self.endpoint = endpoint
        self.protocol = protocol
        self.api_timeout = api_timeout
        self.name = name
        self._retry_interval = retry_interval
        self._max_retry_interval = max_retry_interval
        self._lock = threading.Lock()
        self._sdk: tuple[Any, Any] | None = None
        self.where = endpoint or f"the {product.upper()} endpoint of {region_id}"

    def invoke(self, action: str, params: Mapping[str, Any]) -> ApiResult:
        client, sdk_models = self._client()
        from darabonba.runtime import RuntimeOptions

        request = getattr(sdk_models, f"{action}Request")().from_map(dict(params))
        method = getattr(client, _SNAKE.sub("_", action).lower() + "_with_options")
        millis = int(self.api_timeout * 1000)
        try:
            response = method(request, RuntimeOptions(read_timeout=millis, connect_timeout=millis))
        except Exception as exc:  # noqa: BLE001 - the SDK's own errors, classified right here
            return classify(action, exc)
        body = response.body.to_map() if response.body is not None else {}
        return ApiResult(action=action, request_id=text(body.get("RequestId")), body=body)

    def _client(self) -> tuple[Any, Any]:
        with self._lock:
            if self._sdk is None:
                from alibabacloud_tea_openapi import models as openapi_models

                sdk_client, sdk_models = _product_sdk(self.product)

                millis = int(self.api_timeout * 1000)
                config = openapi_models.Config(
                    credential=_credentials(),
                    region_id=self.region_id,
                    endpoint=self.endpoint,
                    protocol=self.protocol,
                    read_timeout=millis,
                    connect_timeout=millis,
                )
                self._sdk = (sdk_client.Client(config), sdk_models)
            return self._sdk

    async def call(
        self,
        action: str,
        params: Mapping[str, Any],
        *,
        retries: int = 0,
        ok_codes: Collection[str] = frozenset(),
        refusals_ok: bool = False,
        details: Mapping[str, Any] | None = None,
    ) -> ApiResult:
        """One ECS call; a refusal in ``ok_codes`` is returned, any other failure raised.

        ``retries`` repeats a temporary failure here, for reads and calls with a ClientToken
        (repeating them cannot act twice); the executor retries whole steps for the others.
        """
        attempt = 0
        while True:
            result = await self.invoke_once(action, params, details=details)
            if result.ok or result.code in ok_codes:
                return result
            if refusals_ok and result.code is not None and result.code.startswith(REFUSAL_PREFIXES):
                return result
            error = translate(result, endpoint=self.where, product=self.product)
            if not isinstance(error, errors.DriverTemporaryError) or attempt >= retries:
                raise error
            attempt += 1
            delay = error.retry_after or min(
                self._retry_interval * 2 ** (attempt - 1), self._max_retry_interval
            )
            _log.info("%s: %s; attempt %d again in %.1fs", self.where, error, attempt + 1, delay)
            await asyncio.sleep(delay)

    async def invoke_once(
        self,
        action: str,
        params: Mapping[str, Any],
        *,
        journal: Callable[[ApiResult | None], None] | None = None,
        details: Mapping[str, Any] | None = None,
        reported: Callable[[ApiResult], Mapping[str, Any]] | None = None,
    ) -> ApiResult:
        """The call in a worker thread, reported to the audit with its request id (and
        ``details``); ``journal`` is called in that thread just before and after it."""

        def work() -> ApiResult:
            if journal is not None:
                journal(None)
            result = self.invoke(action, params)
            if journal is not None:
                journal(result)
            return result

        task = asyncio.ensure_future(asyncio.to_thread(work))
        try:
            result = await asyncio.shield(task)
        except asyncio.CancelledError:
            # The HTTP call cannot be interrupted: wait for it (bounded by its timeout), so
            # that nothing of a cancelled step is still in flight when it is retried.
            done, _ = await asyncio.wait({task}, timeout=2 * self.api_timeout + 5)
            if task in done and not task.cancelled() and task.exception() is None:
                self._record(task.result(), params, details, reported)
            raise
        self._record(result, params, details, reported)
        return result

    def _record(
        self,
        result: ApiResult,
        params: Mapping[str, Any],
        extra: Mapping[str, Any] | None,
        reported: Callable[[ApiResult], Mapping[str, Any]] | None = None,
    ) -> None:
        details: dict[str, Any] = {"request_id": result.request_id}
        if self.name is not None:
            details["driver"] = self.name
        for name, key in _AUDITED.items():
            if name in params:
                value = params[name]
                details[key] = value if isinstance(value, str | int | float | bool) else list(value)
        details.update(extra or {})
        if reported is not None:
            details.update(reported(result))
        if result.code is not None:
            details["code"] = result.code  # DryRunOperation and accepted codes too
        elif not result.answered:
            details["code"] = "no answer"
        api_calls.record(result.action, **details)


def _product_sdk(product: str) -> tuple[Any, Any]:
    """(client module, models module) of a product's SDK; ImportError when not installed."""
    if product == "cms":
        from alibabacloud_cms20190101 import client as cms_client
        from alibabacloud_cms20190101 import models as cms_models

        return cms_client, cms_models
    from alibabacloud_ecs20140526 import client as ecs_client
    from alibabacloud_ecs20140526 import models as ecs_models

    return ecs_client, ecs_models


def _credentials() -> Any:
    """The environment's AccessKey (read now), else the SDK's default chain.

    The SDK's own environment provider reads ALIBABA_CLOUD_ACCESS_KEY_ID / _SECRET /
    ALIBABA_CLOUD_SECURITY_TOKEN once, when it is first imported; reading them here, when the
    client is built, makes a change of the environment (a rotated key, a test) count.
    """
    from alibabacloud_credentials.client import Client as CredentialClient
    from alibabacloud_credentials.models import Config as CredentialConfig

    key_id = os.environ.get("ALIBABA_CLOUD_ACCESS_KEY_ID")
    secret = os.environ.get("ALIBABA_CLOUD_ACCESS_KEY_SECRET")
    token = os.environ.get("ALIBABA_CLOUD_SECURITY_TOKEN")
    if key_id and secret:
        return CredentialClient(
            CredentialConfig(
                type="sts" if token else "access_key",
                access_key_id=key_id,
                access_key_secret=secret,
                security_token=token or None,
            )
        )
    # CLI profile, credentials file, OIDC, ECS RAM role, credentials URI.
    return CredentialClient()


def classify(action: str, exc: Exception) -> ApiResult:
    """An SDK exception as an ``ApiResult`` (the exception itself goes no further)."""
    code = getattr(exc, "code", None)
    data = getattr(exc, "data", None)
    status = getattr(exc, "status_code", None)
    if isinstance(code, str) and code not in ("", "None") and isinstance(status, int):
        body = data if isinstance(data, Mapping) else {}
        retry_after = getattr(exc, "retry_after", None)  # x-acs-retry-after, in milliseconds
        return ApiResult(
            action=action,
            request_id=text(getattr(exc, "request_id", None)) or text(body.get("RequestId")),
            code=code,
            message=text(body.get("Message")) or "",
            status=status,
            retry_after=retry_after / 1000 if isinstance(retry_after, int | float) else None,
        )
    if isinstance(code, str) and code not in ("", "None"):
        # Refused by the SDK itself before anything was sent (a missing parameter ...).
        return ApiResult(action=action, code=code, message=_short(str(exc)))
    inner = getattr(exc, "inner_exception", None) or exc
    if type(inner).__name__ == "CredentialException":
        return ApiResult(action=action, answered=False, credentials=True, message=_short(inner))
    return ApiResult(action=action, answered=False, message=_short(inner))


def refused_in_body(result: ApiResult) -> ApiResult:
    """``result`` as failed when its answer says ``Success: false`` (CloudMonitor's way).

    CloudMonitor answers some refusals with HTTP 200 and ``{"Success": false, "Code": "403",
    "Message": ...}``; the SDK passes those on as answers. Others pass through unchanged.
    """
    body = result.body
    if not result.ok or body.get("Success") is not False:
        return result
    code = str(body.get("Code") or "Unknown")
    return dataclasses.replace(
        result,
        code=code,
        message=text(body.get("Message")) or "no message",
        status=int(code) if code.isdigit() else None,
    )


def translate(result: ApiResult, *, endpoint: str, product: str = "ecs") -> errors.RollsafeError:
    """What a failed call means for the executor: retry (temporary) or a person (permanent)."""
    rid = f" (request id {result.request_id})" if result.request_id else ""
    action = result.action
    if result.credentials:
        return errors.DriverError(
            f"{action}: no Alibaba Cloud credentials found (set ALIBABA_CLOUD_ACCESS_KEY_ID and "
            "ALIBABA_CLOUD_ACCESS_KEY_SECRET, a CLI profile, or an ECS RAM role): "
            f"{result.message}"
        )
    if not result.answered:
        return errors.DriverTemporaryError(
            f"{action} got no answer from {endpoint}: {result.message}", retry_after=None
        )
    code = result.code or "Unknown"
    text = f"{action} failed: {code}: {result.message}{rid}"
    if (
        code.startswith("Throttling")
        or code in TEMPORARY_CODES
        or code in _BUSY_STATUSES
        or (result.status is not None and result.status >= 500)
    ):
        return errors.DriverTemporaryError(text, retry_after=result.retry_after)
    if code.startswith(REFUSAL_PREFIXES) or code in _REFUSED_STATUSES:
        return errors.DriverError(
            f"{action} was refused: {code}: {result.message} (the RAM identity needs "
            f"{product}:{action}){rid}"
        )
    return errors.DriverError(text)


def text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _short(value: object, limit: int = 300) -> str:
    text = " ".join(str(value).split())
    # A transport error quotes the request URL, whose query holds every parameter (a
    # command's content among them): it goes to messages and the audit, so it is cut.
    text = _QUERY.sub("?…", text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def items(body: Mapping[str, Any], outer: str, inner: str) -> list[dict[str, Any]]:
    """``body[outer][inner]`` of an ECS answer (``{"Disks": {"Disk": [...]}}``), as a list."""
    wrapper = body.get(outer)
    found = wrapper.get(inner) if isinstance(wrapper, Mapping) else None
    return [item for item in found if isinstance(item, dict)] if isinstance(found, list) else []


def token(*parts: str) -> str:
    """A ClientToken for ``parts`` (ASCII, at most 64 characters as ECS requires)."""
    return "rollsafe-" + hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:40]


def available(product: str = "ecs") -> bool:
    """Whether a product's SDK is installed (``pip install 'rollsafe[aliyun]'``)."""
    return importlib.util.find_spec(_SDK_MODULES[product]) is not None
