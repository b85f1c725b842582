"""The ``tencent_tat`` transport: a command run by Tencent Cloud TAT (Automation Tools).

Role in the loop (reach): for CVM instances the controller cannot reach over SSH, a recipe's
script is sent with TAT's ``RunCommand`` (``CommandType=SHELL``, ``Content`` Base64,
``Timeout`` the step's limit) and its result read with ``DescribeInvocationTasks`` (filter
``invocation-id``, ``HideOutput=false``), polled every ``poll_interval`` until the task's
``TaskStatus`` is final. ``SUCCESS`` and ``FAILED`` are results (``TaskResult.ExitCode``;
``TaskResult.Output``, Base64, is stdout and stderr together, so ``stderr`` is empty;
``TaskResult.Dropped`` > 0 means TAT cut it); ``TIMEOUT`` and the other final states
(``CANCELLED``, ``DELIVER_FAILED``, ``START_FAILED`` ...) raise ``DriverError``. A command
still running past the limit is cancelled with ``CancelInvocation``.

Errors are translated here: ``RequestLimitExceeded``, ``InternalError`` and unanswered calls
raise ``DriverTemporaryError`` (a throttled poll only makes the poll late); an unknown
instance (``ResourceNotFound.InstanceNotFound``), an agent not installed or not online and a
CAM refusal raise ``DriverError``. Credentials come from the SDK's default chain
(TENCENTCLOUD_SECRET_ID / _KEY, profile file, CVM role), never from the config. Every call is
reported with its ``RequestId`` and the invocation id through ``api_calls.record``;
the script and its environment never are. The SDK blocks, so each call runs in a thread.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import math
import threading
import time
from collections.abc import Mapping
from typing import Any

from rollsafe.config import models
from rollsafe.domain import errors
from rollsafe.reach import api_calls
from rollsafe.reach.transports import outputs, remote_scripts, transporting

CAM_ACTIONS = ("tat:RunCommand", "tat:DescribeInvocationTasks", "tat:CancelInvocation")
_RESULTS = frozenset({"SUCCESS", "FAILED"})
_PENDING = frozenset({"PENDING", "DELIVERING", "DELIVER_DELAYED", "RUNNING", "CANCELLING"})
_TEMPORARY = frozenset(
    {
        "RequestLimitExceeded",
        "InternalError",
        "InternalServerError",
        "ServiceUnavailable",
        "ClientNetworkError",
        "ServerNetworkError",
    }
)
_NOT_FOUND = frozenset(
    {"ResourceNotFound.InstanceNotFound", "InvalidParameterValue.InvalidInstanceId"}
)
_AGENT = ("ResourceUnavailable.Agent",)
_DENIED = ("AuthFailure", "UnauthorizedOperation")
_TIMEOUT_MAX = 86_400


class _Failure(Exception):
    def __init__(self, code: str, message: str, request_id: str | None) -> None:
        super().__init__(code)
        self.code = code
        self.message = message
        self.request_id = request_id


class TatTransport:
    kind = "tencent_tat"

    def __init__(self, config: models.TencentTatTransport, *, output_limit: int) -> None:
        self.config = config
        self._limit = output_limit
        self._provider: Any = None
        self._lock = threading.Lock()
        protocol, _, host = (config.endpoint or "").rpartition("://")
        # "http://host:port" only for a local stand-in; the SDK wants host[:port] + protocol.
        self._endpoint = host or "tat.tencentcloudapi.com"
        self._protocol = "http" if protocol == "http" else "https"

    async def run(
        self,
        target: models.Target,
        script: str,
        *,
        limit_s: float,
        env: Mapping[str, str] | None = None,
    ) -> transporting.CommandResult:
        iid = remote_scripts.instance_id(target, kind=self.kind)
        text = remote_scripts.with_env(script, env)
        started = time.monotonic()
        ran = await self._call(
            "RunCommand",
            {
                "Content": base64.b64encode(text.encode()).decode(),
                "CommandType": "SHELL",
                "InstanceIds": [iid],
                "Timeout": min(_TIMEOUT_MAX, max(1, math.ceil(limit_s))),
                "CommandName": f"rollsafe-{target.id}"[:60],
            },
            iid=iid,
        )
        invocation_id = str(ran.get("InvocationId") or "")
        if not invocation_id:
            raise errors.DriverError(f"TAT RunCommand on {iid} answered no InvocationId")
        task = await self._wait(iid, invocation_id, limit_s=limit_s, started=started)
        status = str(task.get("TaskStatus"))
        found = task.get("TaskResult")
        result: dict[str, Any] = found if isinstance(found, dict) else {}
        code = result.get("ExitCode")
        if status in {"TIMEOUT", "TASK_TIMEOUT"}:
            raise errors.DriverError(
                f"{target.id}: the TAT command {invocation_id} on {iid} timed out after "
                f"{limit_s:g}s"
            )
        if status not in _RESULTS or not isinstance(code, int):
            info = str(task.get("ErrorInfo") or "no error information")
            raise errors.DriverError(
                f"{target.id}: the TAT command {invocation_id} on {iid} could not run: "
                f"{status} ({info}); the TAT agent must be installed and online"
            )
        raw = _decoded(result.get("Output"))
        stdout, cut = outputs.keep(raw, limit=self._limit, secrets=remote_scripts.secrets(env))
        dropped = result.get("Dropped")
        return transporting.CommandResult(
            exit_status=code,
            stdout=stdout,
            stderr="",
            duration=time.monotonic() - started,
            truncated=cut or (isinstance(dropped, int) and dropped > 0),
            invocation_id=invocation_id,
        )

    async def _wait(
        self, iid: str, invocation_id: str, *, limit_s: float, started: float
    ) -> dict[str, Any]:
        interval = self.config.poll_interval
        deadline = started + limit_s + 2 + 3 * interval  # the agent's own answer may lag
        seen = "nothing yet"
        params = {
            "Filters": [{"Name": "invocation-id", "Values": [invocation_id]}],
            "HideOutput": False,
            "Limit": 100,
        }
        while True:
            try:
                found = await self._call(
                    "DescribeInvocationTasks", params, iid=iid, invocation_id=invocation_id
                )
            except errors.DriverTemporaryError as exc:
                seen = f"not seen ({exc})"  # a throttled poll is only a late one
            else:
                tasks = found.get("InvocationTaskSet")
                mine = [
                    t
                    for t in (tasks if isinstance(tasks, list) else [])
                    if isinstance(t, dict) and t.get("InstanceId") == iid
                ]
                if mine:
                    seen = str(mine[0].get("TaskStatus"))
                    if seen not in _PENDING:
                        return mine[0]
            if time.monotonic() >= deadline:
                with contextlib.suppress(errors.RollsafeError):  # recorded; timeout matters
                    await self._call(
                        "CancelInvocation",
                        {"InvocationId": invocation_id, "InstanceIds": [iid]},
                        iid=iid,
                        invocation_id=invocation_id,
                    )
                raise errors.DriverError(
                    f"the TAT command {invocation_id} on {iid} timed out: not finished within "
                    f"{limit_s:g}s (last seen: {seen}); it was asked to cancel"
                )
            await asyncio.sleep(interval)

    async def _call(
        self,
        action: str,
        params: Mapping[str, Any],
        *,
        iid: str,
        invocation_id: str | None = None,
    ) -> dict[str, Any]:
        outcome = await asyncio.to_thread(self._invoke, action, dict(params))
        details: dict[str, Any] = {"instance_id": iid}
        if isinstance(outcome, _Failure):
            api_calls.record(
                action,
                request_id=outcome.request_id,
                invocation_id=invocation_id,
                code=outcome.code,
                **details,
            )
            raise self._translate(action, outcome, iid)
        if invocation_id is None:
            invocation_id = str(outcome.get("InvocationId") or "") or None
        api_calls.record(
            action, request_id=outcome.get("RequestId"), invocation_id=invocation_id, **details
        )
        return outcome

    def _invoke(self, action: str, params: dict[str, Any]) -> dict[str, Any] | _Failure:
        """In a worker thread: the ``Response`` object, or why there is none."""
        from tencentcloud.common.exception.tencent_cloud_sdk_exception import (
            TencentCloudSDKException,
        )

        try:
            body = self._client().call_json(action, params)
        except TencentCloudSDKException as exc:
            return _Failure(
                str(exc.code or "ClientError"),
                _short(exc.message),
                str(exc.requestId) if exc.requestId else None,
            )
        except Exception as exc:  # noqa: BLE001 - requests, ssl, json: no answer
            return _Failure("ClientNetworkError", _short(exc), None)
        response = body.get("Response") if isinstance(body, dict) else None
        if not isinstance(response, dict):
            return _Failure("InternalError", "answer without a Response object", None)
        error = response.get("Error")
        if isinstance(error, dict):
            return _Failure(
                str(error.get("Code") or "InternalError"),
                _short(error.get("Message")),
                response.get("RequestId"),
            )
        return response

    def _translate(self, action: str, failure: _Failure, iid: str) -> errors.RollsafeError:
        rid = f" (request id {failure.request_id})" if failure.request_id else ""
        where = f"TAT {action} on {iid}"
        code = failure.code
        if code in _TEMPORARY or code.startswith(("RequestLimitExceeded.", "InternalError.")):
            return errors.DriverTemporaryError(
                f"{where}: {code}: {failure.message}{rid}", retry_after=self.config.poll_interval
            )
        if code in _NOT_FOUND:
            return errors.DriverError(
                f"{where}: the instance does not exist in {self.config.region} ({code}){rid}"
            )
        if code.startswith(_AGENT):
            return errors.DriverError(
                f"{where}: {code}: the TAT agent must be installed and online on the "
                f"instance, and the instance running{rid}"
            )
        if code.startswith(_DENIED):
            return errors.DriverError(
                f"{where} was refused: {code}: {failure.message} (the CAM identity needs "
                f"{', '.join(CAM_ACTIONS)}){rid}"
            )
        return errors.DriverError(f"{where} failed: {code}: {failure.message}{rid}")

    def _client(self) -> Any:
        from tencentcloud.common import credential
        from tencentcloud.common.profile.client_profile import ClientProfile
        from tencentcloud.common.profile.http_profile import HttpProfile
        from tencentcloud.tat.v20201028 import tat_client

        with self._lock:
            if self._provider is None:
                # Environment first (TENCENTCLOUD_SECRET_ID / _KEY), then the profile file,
                # the CVM role and the TKE OIDC role: the SDK's own chain.
                self._provider = credential.DefaultCredentialProvider()
            creds = self._provider.get_credentials()
        http = HttpProfile(protocol=self._protocol, endpoint=self._endpoint, reqTimeout=30)
        profile = ClientProfile(httpProfile=http, language="en-US")
        # A client per call: the SDK's HTTP session is not meant to be shared across threads.
        return tat_client.TatClient(creds, self.config.region, profile)

    async def close(self) -> None:
        return None


def _decoded(output: object) -> bytes:
    if not isinstance(output, str) or not output:
        return b""
    try:
        return base64.b64decode(output, validate=True)
    except (binascii.Error, ValueError):
        return output.encode()


def _short(value: object) -> str:
    text = " ".join(str(value or "").split())
    return text if len(text) <= 300 else text[:299] + "…"


def make(config: models.TencentTatTransport, *, output_limit: int) -> TatTransport:
    """The transport for ``kind: tencent_tat`` (called by the transport builder)."""
    return TatTransport(config, output_limit=output_limit)
