"""Tencent Cloud, as every part of rollsafe reaches it: one client, errors by what to do.

Role in the loop (shared by detect and execute): the tencent driver (CVM, CBS), the
``tencent_tat`` transport (TAT) and the ``cls`` and ``tencent_monitor`` probes (CLS, Cloud
Monitor) call Tencent Cloud through ``Client``. Credentials come from
the SDK's default chain (``TENCENTCLOUD_SECRET_ID`` / ``_KEY``, the profile file, the CVM role,
the TKE OIDC role), cached per client, never from the configuration or the audit. Every call
runs in a worker thread (the SDK blocks), is reported with its ``RequestId`` through
``api_calls.record`` (answered or refused) and is classified with one table:

- ``RequestLimitExceeded*``, ``InternalError*``, 5xx-like codes, network failures and the
  documented "busy, try again later" codes -> ``DriverTemporaryError``;
- ``AuthFailure*`` / ``UnauthorizedOperation*`` (a CAM permission missing), state and every
  other code -> ``DriverError`` naming the code and the request id.

The SDK (``tencentcloud-sdk-python``) is imported on first use only, and only here (an
import-linter contract); its exceptions never leave this module: a refused call is a
``Failure`` (a ``DriverError`` the caller translates with ``translate``).
"""

from __future__ import annotations

import asyncio
import math
import threading
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

from rollsafe.domain import errors
from rollsafe.reach import api_calls

__all__ = [
    "PERMISSION_PREFIXES",
    "TEMPORARY_CODES",
    "Client",
    "Failure",
    "short",
    "translate",
]

_T = TypeVar("_T")
_MESSAGE_LIMIT = 300

# Codes whose documented meaning is "busy or throttled: try again later".
TEMPORARY_CODES = frozenset(
    {
        "RequestLimitExceeded",
        "InternalError",
        "InternalServerError",
        "ServiceUnavailable",
        "ResourceBusy",
        "InvalidDisk.Busy",
        "MutexOperation.TaskRunning",
        "OperationDenied.InstanceOperationInProgress",
        "ServerNetworkError",
        "ClientNetworkError",
    }
)
_TEMPORARY_PREFIXES = ("RequestLimitExceeded.", "InternalError.")
_THROTTLING = ("RequestLimitExceeded",)
PERMISSION_PREFIXES = ("AuthFailure", "UnauthorizedOperation")

Runner = Callable[[Callable[[], dict[str, Any]]], Awaitable[dict[str, Any]]]
"""Runs a blocking call off the event loop (default ``asyncio.to_thread``; a driver passes its
step lease's ``call`` so that an abandoned call keeps the step's key until it returns)."""


class Failure(errors.DriverError):
    """A call the SDK or the service refused, before ``translate`` says what it means.

    Callers translate it at once (temporary or not is the table's call); one that escaped
    untranslated is at worst a permanent driver error, never an SDK type.
    """

    def __init__(self, *, code: str, message: str, request_id: str | None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.request_id = request_id

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"

    @property
    def temporary(self) -> bool:
        return self.code in TEMPORARY_CODES or self.code.startswith(_TEMPORARY_PREFIXES)

    @property
    def throttled(self) -> bool:
        return self.code.startswith(_THROTTLING)

    @property
    def permission(self) -> bool:
        return self.code.startswith(PERMISSION_PREFIXES)


class Client:
    """Tencent Cloud services (``cvm``, ``cbs``, ``tat``, ``cls``, ``monitor``) of one region.

    ``credentials`` (secret id, secret key, token) are used as given when set; otherwise the
    SDK's own chain finds them (environment, profile file, CVM role, TKE OIDC role).
    """

    def __init__(
        self,
        *,
        region: str,
        endpoints: Mapping[str, str | None],
        protocol: str = "https",
        api_timeout: float = 30.0,
        credentials: tuple[str, str, str | None] | None = None,
    ) -> None:
        self.region = region
        self._endpoints = dict(endpoints)
        self._protocol = protocol
        self._timeout = api_timeout
        self._given = credentials
        self._provider: Any = None
        self._lock = threading.Lock()

    def call(self, service: str, action: str, params: Mapping[str, Any]) -> dict[str, Any]:
        """Blocking: ``action`` of ``service``; the ``Response`` object it answered, or Failure."""
        from tencentcloud.common.exception.tencent_cloud_sdk_exception import (
            TencentCloudSDKException,
        )

        try:
            client = self._client(service)
            body = client.call_json(action, dict(params))
        except TencentCloudSDKException as exc:
            raise Failure(
                code=str(exc.code or "ClientError"),
                message=short(exc.message),
                request_id=str(exc.requestId) if exc.requestId else None,
            ) from None
        except Exception as exc:  # noqa: BLE001 - requests, ssl, json: a network-level failure
            raise Failure(code="ClientNetworkError", message=short(exc), request_id=None) from None
        response = body.get("Response") if isinstance(body, dict) else None
        if not isinstance(response, dict):
            raise Failure(
                code="InternalError", message="answer without a Response object", request_id=None
            )
        error = response.get("Error")
        if isinstance(error, dict):  # the SDK checks errors only for some content types
            raise Failure(
                code=str(error.get("Code") or "InternalError"),
                message=short(error.get("Message")),
                request_id=response.get("RequestId"),
            )
        return response

    async def request(
        self,
        service: str,
        action: str,
        params: Mapping[str, Any],
        *,
        details: Mapping[str, Any],
        runner: Runner | None = None,
        reported: Callable[[dict[str, Any]], Mapping[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """``call`` off the event loop, reported to the audit with ``details``; Failure raised."""

        def work() -> dict[str, Any]:
            return self.call(service, action, params)

        try:
            answer = await (runner(work) if runner is not None else asyncio.to_thread(work))
        except Failure as failure:
            api_calls.record(
                action,
                service=service,
                region=self.region,
                request_id=failure.request_id,
                error=failure.code,
                **details,
            )
            raise
        audit = {**details, **(reported(answer) if reported is not None else {})}
        api_calls.record(
            action, service=service, region=self.region, request_id=answer.get("RequestId"), **audit
        )
        return answer

    def _client(self, service: str) -> Any:
        from tencentcloud.common.profile.client_profile import ClientProfile
        from tencentcloud.common.profile.http_profile import HttpProfile

        http = HttpProfile(
            protocol=self._protocol,
            endpoint=self._endpoints.get(service),
            reqTimeout=max(1, math.ceil(self._timeout)),
        )
        profile = ClientProfile(httpProfile=http, language="en-US")
        # A client per call: the SDK's HTTP session is not meant to be shared across threads.
        return _factory(service)(self._credential(), self.region, profile)

    def _credential(self) -> Any:
        from tencentcloud.common import credential

        if self._given is not None:
            secret_id, secret_key, token = self._given
            return credential.Credential(secret_id, secret_key, token)
        with self._lock:
            if self._provider is None:
                # Environment first (TENCENTCLOUD_SECRET_ID / _KEY), then the profile file, the
                # CVM role and the TKE OIDC role: the SDK's own chain, cached per client.
                self._provider = credential.DefaultCredentialProvider()
            return self._provider.get_credentials()


def _factory(service: str) -> Any:
    if service == "cvm":
        from tencentcloud.cvm.v20170312 import cvm_client

        return cvm_client.CvmClient
    if service == "cbs":
        from tencentcloud.cbs.v20170312 import cbs_client

        return cbs_client.CbsClient
    if service == "tat":
        from tencentcloud.tat.v20201028 import tat_client

        return tat_client.TatClient
    if service == "cls":
        from tencentcloud.cls.v20201016 import cls_client

        return cls_client.ClsClient
    if service == "monitor":
        from tencentcloud.monitor.v20180724 import monitor_client

        return monitor_client.MonitorClient
    raise errors.DriverError(f"no Tencent Cloud service {service!r} in rollsafe")


def translate(
    failure: Failure,
    *,
    where: str,
    retry_after: float | None = None,
    denied_hint: str = "",
    hints: Mapping[str, str] | None = None,
) -> errors.RollsafeError:
    """What a refused call means for the caller: retry (temporary) or a person (permanent).

    ``hints`` maps a code, or the start of one, to what a person should know about it.
    """
    request = f" (request {failure.request_id})" if failure.request_id else ""
    text = f"{where} failed: {failure.code}: {failure.message}{request}"
    if failure.temporary:
        return errors.DriverTemporaryError(text, retry_after=retry_after)
    for code, hint in (hints or {}).items():
        if failure.code == code or failure.code.startswith(code):
            return errors.DriverError(f"{text}; {hint}")
    if failure.permission and denied_hint:
        return errors.DriverError(f"{text}; {denied_hint}")
    return errors.DriverError(text)


def short(value: object) -> str:
    """An SDK message on one line, cut to a readable length."""
    text = value.decode(errors="replace") if isinstance(value, bytes) else str(value or "")
    text = " ".join(text.split())
    return text if len(text) <= _MESSAGE_LIMIT else text[: _MESSAGE_LIMIT - 3] + "..."
