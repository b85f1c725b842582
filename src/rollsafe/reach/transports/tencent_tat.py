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
from rollsafe.reach.clouds import tencent
from rollsafe.reach.transports import outputs, remote_scripts, transporting

CAM_ACTIONS = ("tat:RunCommand", "tat:DescribeInvocationTasks", "tat:CancelInvocation")
_RESULTS = frozenset({"SUCCESS", "FAILED"})
_PENDING = frozenset({"PENDING", "DELIVERING", "DELIVER_DELAYED", "RUNNING", "CANCELLING"})
_NOT_FOUND = frozenset(
    {"ResourceNotFound.InstanceNotFound", "InvalidParameterValue.InvalidInstanceId"}
)
_AGENT = "ResourceUnavailable.Agent"
_TIMEOUT_MAX = 86_400


class TatTransport:
    kind = "tencent_tat"

    def __init__(self, config: models.TencentTatTransport, *, output_limit: int) -> None:
        self.config = config
        self._limit = output_limit
        protocol, _, host = (config.endpoint or "").rpartition("://")
        # "http://host:port" only for a local stand-in; the SDK wants host[:port] + protocol.
        self._cloud = tencent.Client(
            region=config.region,
            endpoints={"tat": host or "tat.tencentcloudapi.com"},
            protocol="http" if protocol == "http" else "https",
        )

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
        params = {
            "Filters": [{"Name": "invocation-id", "Values": [invocation_id]}],
            "HideOutput": False,
            "Limit": 100,
        }

        async def look() -> tuple[dict[str, Any] | None, str]:
            found = await self._call(
                "DescribeInvocationTasks", params, iid=iid, invocation_id=invocation_id
            )
            tasks = found.get("InvocationTaskSet")
            mine = [
                t
                for t in (tasks if isinstance(tasks, list) else [])
                if isinstance(t, dict) and t.get("InstanceId") == iid
            ]
            if not mine:
                return None, "not listed yet"
            status = str(mine[0].get("TaskStatus"))
            return (mine[0] if status not in _PENDING else None), status

        try:
            return await remote_scripts.poll(
                look,
                what=f"invocation {invocation_id}",
                limit_s=limit_s,
                started=started,
                interval=self.config.poll_interval,
            )
        except polling.GaveUp as exc:
            with contextlib.suppress(errors.RollsafeError):  # recorded; the timeout matters
                await self._call(
                    "CancelInvocation",
                    {"InvocationId": invocation_id, "InstanceIds": [iid]},
                    iid=iid,
                    invocation_id=invocation_id,
                )
            raise errors.DriverError(
                f"the TAT command {invocation_id} on {iid} timed out: not finished within "
                f"{limit_s:g}s (last seen: {exc.seen}); it was asked to cancel"
            ) from None

    async def _call(
        self,
        action: str,
        params: Mapping[str, Any],
        *,
        iid: str,
        invocation_id: str | None = None,
    ) -> dict[str, Any]:
        try:
            return await self._cloud.request(
                "tat",
                action,
                params,
                details={"instance_id": iid, "invocation_id": invocation_id},
                reported=_invocation if invocation_id is None else None,
            )
        except tencent.Failure as failure:
            raise self._translate(action, failure, iid) from None

    def _translate(self, action: str, failure: tencent.Failure, iid: str) -> errors.RollsafeError:
        where = f"TAT {action} on {iid}"
        if failure.code in _NOT_FOUND:
            return errors.DriverError(
                f"{where}: the instance does not exist in {self.config.region} "
                f"({failure.code}, request {failure.request_id})"
            )
        return tencent.translate(
            failure,
            where=where,
            retry_after=self.config.poll_interval,
            denied_hint=f"the CAM identity needs {', '.join(CAM_ACTIONS)}",
            hints={
                _AGENT: "the TAT agent must be installed and online on the instance, and the "
                "instance running"
            },
        )

    async def close(self) -> None:
        return None


def _invocation(answer: Mapping[str, Any]) -> Mapping[str, Any]:
    """The invocation a RunCommand started, for the audit of that call."""
    return {"invocation_id": str(answer.get("InvocationId") or "") or None}


def _decoded(output: object) -> bytes:
    if not isinstance(output, str) or not output:
        return b""
    try:
        return base64.b64decode(output, validate=True)
    except (binascii.Error, ValueError):
        return output.encode()


def make(config: models.TencentTatTransport, *, output_limit: int) -> TatTransport:
    """The transport for ``kind: tencent_tat`` (called by the transport builder)."""
    return TatTransport(config, output_limit=output_limit)
