"""The ``aliyun_assistant`` transport: a command run by Alibaba Cloud Assistant.

Role in the loop (reach): for ECS instances the controller cannot reach over SSH, a recipe's
script is sent with ``RunCommand`` (``Type=RunShellScript``, the script Base64-encoded with
``ContentEncoding=Base64``, ``Timeout`` the step's limit, at least the API's 10 s) and its
result read with ``DescribeInvocationResults``, polled every ``poll_interval`` until the
instance's ``InvocationStatus`` is final. ``Success`` and ``Failed`` with an exit code are
results (``ExitCode``; ``Output``, Base64 on the wire, is stdout and stderr together, so
``stderr`` is empty); ``Timeout``, ``Cancelled``, ``Terminated`` and a failure without an exit
code (the agent offline: ``ClientNotRunning`` ...) raise ``DriverError``. A command still
running past the limit is stopped with ``StopInvocation``.

The SDK client, the credentials chain and the classification of SDK errors are those of
``reach/clouds/aliyun.py``, shared with the aliyun driver: throttling, 5xx and unanswered
calls are ``DriverTemporaryError`` (a throttled poll only makes the poll late), refusals and unknown
instances ``DriverError``. Every call is reported with its ``RequestId`` and the invocation id
through ``api_calls.record``; the script and its environment never are.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import math
import time
from collections.abc import Mapping
from typing import Any

from rollsafe.config import models
from rollsafe.domain import errors
from rollsafe.reach import polling
from rollsafe.reach.clouds import aliyun
from rollsafe.reach.transports import outputs, remote_scripts, transporting

RAM_ACTIONS = ("ecs:RunCommand", "ecs:DescribeInvocationResults", "ecs:StopInvocation")
_PENDING = frozenset({"Pending", "Scheduled", "Running", "Stopping"})
_NOT_RUN = frozenset({"Timeout", "Cancelled", "Stopped", "Terminated", "Invalid", "Aborted"})
_NOT_FOUND = frozenset({"InvalidInstance.NotFound", "InvalidInstanceId.NotFound"})
_TIMEOUT_MIN = 10  # RunCommand's smallest Timeout
_TIMEOUT_MAX = 86_400


class AssistantTransport:
    kind = "aliyun_assistant"

    def __init__(self, config: models.AliyunAssistantTransport, *, output_limit: int) -> None:
        self.config = config
        self._limit = output_limit
        protocol, _, host = (config.endpoint or "").rpartition("://")
        # The client wants host[:port] and a protocol: "http://" only for a stand-in.
        self._ecs = aliyun.Client(
            region_id=config.region,
            endpoint=host or None,
            protocol="http" if protocol == "http" else "https",
        )
        self._where = host or f"ecs.{config.region}.aliyuncs.com"

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
        seconds = min(_TIMEOUT_MAX, max(_TIMEOUT_MIN, math.ceil(limit_s)))
        ran = await self._call(
            "RunCommand",
            {
                "RegionId": self.config.region,
                "Type": "RunShellScript",
                "CommandContent": base64.b64encode(text.encode()).decode(),
                "ContentEncoding": "Base64",
                "InstanceId": [iid],
                "Timeout": seconds,
                "Name": f"rollsafe-{target.id}"[:128],
            },
            iid=iid,
        )
        invoke_id = str(ran.body.get("InvokeId") or "")
        if not invoke_id:
            raise errors.DriverError(f"Cloud Assistant RunCommand on {iid} answered no InvokeId")
        found = await self._wait(iid, invoke_id, limit_s=limit_s, started=started)
        status = str(found.get("InvocationStatus"))
        code = found.get("ExitCode")
        error_code = str(found.get("ErrorCode") or "")
        said = f"{error_code or 'no error code'}: {found.get('ErrorInfo') or ''}".strip()
        if status == "Timeout":
            raise errors.DriverError(
                f"{target.id}: the Cloud Assistant command {invoke_id} on {iid} timed out "
                f"after {limit_s:g}s ({said})"
            )
        if (
            status in _NOT_RUN
            or not isinstance(code, int)
            or (status != "Success" and error_code not in ("", "ExitCodeNonzero"))
        ):
            raise errors.DriverError(
                f"{target.id}: the Cloud Assistant command {invoke_id} on {iid} could not run: "
                f"{status} ({said}); the Cloud Assistant agent must be installed and online"
            )
        raw = _decoded(found.get("Output"))
        stdout, cut = outputs.keep(raw, limit=self._limit, secrets=remote_scripts.secrets(env))
        return transporting.CommandResult(
            exit_status=code,
            stdout=stdout,
            stderr="",
            duration=time.monotonic() - started,
            truncated=cut,
            invocation_id=invoke_id,
        )

    async def _wait(
        self, iid: str, invoke_id: str, *, limit_s: float, started: float
    ) -> dict[str, Any]:
        params = {
            "RegionId": self.config.region,
            "InvokeId": invoke_id,
            "InstanceId": iid,
            "ContentEncoding": "Base64",
        }

        async def look() -> tuple[dict[str, Any] | None, str]:
            found = await self._call(
                "DescribeInvocationResults", params, iid=iid, invoke_id=invoke_id
            )
            invocation = found.body.get("Invocation")
            results = (
                invocation.get("InvocationResults") if isinstance(invocation, Mapping) else None
            )
            listed = results.get("InvocationResult") if isinstance(results, Mapping) else None
            mine = [
                r
                for r in (listed if isinstance(listed, list) else [])
                if isinstance(r, dict) and r.get("InstanceId") == iid
            ]
            if not mine:
                return None, "not listed yet"
            status = str(mine[0].get("InvocationStatus"))
            return (mine[0] if status not in _PENDING else None), status

        try:
            return await remote_scripts.poll(
                look,
                what=f"invocation {invoke_id}",
                limit_s=limit_s,
                started=started,
                interval=self.config.poll_interval,
            )
        except polling.GaveUp as exc:
            await self._stop(iid, invoke_id)
            raise errors.DriverError(
                f"the Cloud Assistant command {invoke_id} on {iid} timed out: not finished "
                f"within {limit_s:g}s (last seen: {exc.seen}); it was asked to stop"
            ) from None

    async def _stop(self, iid: str, invoke_id: str) -> None:
        with contextlib.suppress(errors.RollsafeError):  # recorded; the timeout matters
            await self._call(
                "StopInvocation",
                {"RegionId": self.config.region, "InvokeId": invoke_id, "InstanceId": [iid]},
                iid=iid,
                invoke_id=invoke_id,
            )

    async def _call(
        self, action: str, params: Mapping[str, Any], *, iid: str, invoke_id: str | None = None
    ) -> aliyun.ApiResult:
        result = await self._ecs.invoke_once(
            action,
            params,
            details={"instance_id": iid, "invoke_id": invoke_id},
            reported=_invoke_id if invoke_id is None else None,
        )
        if result.ok:
            return result
        if result.code in _NOT_FOUND:
            raise errors.DriverError(
                f"Cloud Assistant {action}: the instance {iid} does not exist in "
                f"{self.config.region} ({result.code}, request id {result.request_id})"
            )
        raise aliyun.translate(result, endpoint=self._where)

    async def close(self) -> None:
        return None


def _invoke_id(result: aliyun.ApiResult) -> Mapping[str, Any]:
    """The invocation a RunCommand started, for the audit of that call."""
    return {"invoke_id": str(result.body.get("InvokeId") or "") or None} if result.ok else {}


def _decoded(output: object) -> bytes:
    if not isinstance(output, str) or not output:
        return b""
    try:
        return base64.b64decode(output, validate=True)
    except (binascii.Error, ValueError):
        return output.encode()  # not Base64 after all: keep what came


def make(config: models.AliyunAssistantTransport, *, output_limit: int) -> AssistantTransport:
    """The transport for ``kind: aliyun_assistant`` (called by the transport builder)."""
    return AssistantTransport(config, output_limit=output_limit)
