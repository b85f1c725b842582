"""The ``aws_ssm`` transport: a command run by AWS Systems Manager Run Command.

Role in the loop (reach): for EC2 instances the controller cannot reach over SSH, a recipe's
script is sent with ``SendCommand`` (document ``AWS-RunShellScript``, ``executionTimeout`` the
step's limit) and its result read with ``GetCommandInvocation``, polled every
``poll_interval`` until a final status. ``Success`` and ``Failed`` are results (the exit code
is the invocation's ``ResponseCode``, -1 when it has none); ``TimedOut`` and ``Cancelled`` mean
the command could not be run to its end and raise ``DriverError``. The API returns at most
24,000 characters of each stream: a longer output is marked truncated (the whole of it is in
``output_s3_bucket`` when one is configured).

Errors are translated by ``reach/clouds/aws.py``: throttling, 5xx and unanswered calls raise
``DriverTemporaryError`` (nothing was sent, the executor retries the step); a throttled poll
only makes the poll late. ``InvalidInstanceId`` (the instance is not managed by SSM or its
agent is offline) and refused permissions raise ``DriverError``. Every call is reported with
its request id and the command id through ``api_calls.record``; the script and its
environment never are. boto3 blocks, so each call runs in a worker thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Mapping
from typing import Any

from rollsafe.config import models
from rollsafe.domain import errors
from rollsafe.reach import polling
from rollsafe.reach.clouds import aws
from rollsafe.reach.transports import outputs, remote_scripts, transporting

API_OUTPUT_LIMIT = 24_000  # characters of each stream GetCommandInvocation returns
_FINAL = frozenset({"Success", "Failed", "Cancelled", "TimedOut", "Cancelling"})
_RESULTS = frozenset({"Success", "Failed"})
_HINTS = {
    "InvalidInstanceId": "the instance is not managed by Systems Manager or its SSM agent is "
    "not online; the agent must be running and connected, and the instance profile must have "
    "the AmazonSSMManagedInstanceCore policy"
}
_DENIED_HINT = (
    " (the identity needs ssm:SendCommand, ssm:GetCommandInvocation and ssm:CancelCommand)"
)
_NOT_YET = "InvocationDoesNotExist"
_DELIVERY_MIN = 30  # SendCommand's TimeoutSeconds: the smallest delivery timeout AWS accepts
_NOT_YET_GRACE = 10.0  # seconds an invocation may be missing right after SendCommand


class SsmTransport:
    kind = "aws_ssm"

    def __init__(
        self,
        config: models.SsmTransport,
        *,
        output_limit: int,
        client_factory: aws.ClientFactory | None = None,
    ) -> None:
        self.config = config
        self._limit = output_limit
        self._client = aws.Client(
            "ssm",
            label="SSM",
            region=config.region,
            endpoint_url=config.endpoint_url,
            timeout=30,
            attempts=2,
            client_factory=client_factory,
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
        seconds = max(1, math.ceil(limit_s))
        params: dict[str, Any] = {
            "InstanceIds": [iid],
            "DocumentName": "AWS-RunShellScript",
            "Comment": f"rollsafe {target.id}"[:100],
            "Parameters": {"commands": [text], "executionTimeout": [str(seconds)]},
            "TimeoutSeconds": max(_DELIVERY_MIN, seconds),
        }
        if self.config.output_s3_bucket:
            params["OutputS3BucketName"] = self.config.output_s3_bucket
        sent = await self._call("SendCommand", params, instance_id=iid)
        command_id = str((sent.get("Command") or {}).get("CommandId") or "")
        if not command_id:
            raise errors.DriverError(f"SSM SendCommand for {iid} answered no CommandId")
        invocation = await self._wait(iid, command_id, limit_s=limit_s, started=started)
        status = str(invocation.get("Status"))
        details = str(invocation.get("StatusDetails") or status)
        if status not in _RESULTS:
            what = "timed out" if status == "TimedOut" else f"ended {status} ({details})"
            raise errors.DriverError(
                f"{target.id}: the SSM command {command_id} on {iid} {what}"
                + (f" after {limit_s:g}s" if status == "TimedOut" else "")
            )
        code = invocation.get("ResponseCode")
        raw_out = str(invocation.get("StandardOutputContent") or "")
        raw_err = str(invocation.get("StandardErrorContent") or "")
        hidden = remote_scripts.secrets(env)
        stdout, cut_out = outputs.keep(raw_out, limit=self._limit, secrets=hidden)
        stderr, cut_err = outputs.keep(raw_err, limit=self._limit, secrets=hidden)
        api_cut = len(raw_out) >= API_OUTPUT_LIMIT or len(raw_err) >= API_OUTPUT_LIMIT
        return transporting.CommandResult(
            exit_status=code if isinstance(code, int) and code >= 0 else -1,
            stdout=stdout,
            stderr=stderr,
            duration=time.monotonic() - started,
            truncated=cut_out or cut_err or api_cut,
            invocation_id=command_id,
        )

    async def _wait(
        self, iid: str, command_id: str, *, limit_s: float, started: float
    ) -> dict[str, Any]:
        """Polls GetCommandInvocation until a final status (SSM enforces the limit itself)."""
        interval = self.config.poll_interval
        # SSM stops the command at executionTimeout; the margin lets its answer arrive.
        margin = max(_NOT_YET_GRACE, 3 * interval)
        missing_until = time.monotonic() + margin
        params = {"CommandId": command_id, "InstanceId": iid}

        async def look() -> tuple[dict[str, Any] | None, str]:
            try:
                found = await self._call(
                    "GetCommandInvocation", params, instance_id=iid, command_id=command_id
                )
            except aws.ApiError as exc:
                if exc.code != _NOT_YET or time.monotonic() >= missing_until:
                    raise
                return None, "invocation not registered yet"
            status = str(found.get("Status"))
            return (found if status in _FINAL else None), status

        try:
            return await remote_scripts.poll(
                look,
                what=f"command {command_id}",
                limit_s=limit_s,
                started=started,
                interval=interval,
                margin=margin,
            )
        except polling.GaveUp as exc:
            await self._cancel(iid, command_id)
            raise errors.DriverError(
                f"the SSM command {command_id} on {iid} did not finish within "
                f"{limit_s:g}s (last seen: {exc.seen}); it was asked to cancel"
            ) from None

    async def _cancel(self, iid: str, command_id: str) -> None:
        with contextlib.suppress(errors.RollsafeError):  # recorded; the timeout matters
            await self._call(
                "CancelCommand",
                {"CommandId": command_id, "InstanceIds": [iid]},
                instance_id=iid,
                command_id=command_id,
            )

    async def _call(
        self,
        operation: str,
        params: Mapping[str, Any],
        *,
        instance_id: str,
        command_id: str | None = None,
    ) -> dict[str, Any]:
        def reported(answer: Mapping[str, Any]) -> dict[str, Any]:
            found = command_id or (answer.get("Command") or {}).get("CommandId")
            status = {"status": answer["Status"]} if "Status" in answer else {}
            return {"command_id": found, **status}

        return await self._client.call(
            operation,
            params,
            where=f"SSM {operation} on {instance_id}",
            details={"instance_id": instance_id, "command_id": command_id},
            reported=reported,
            retry_after=self.config.poll_interval,
            denied_hint=_DENIED_HINT,
            hints=_HINTS,
        )

    async def close(self) -> None:
        await asyncio.to_thread(self._client.close)


def make(config: models.SsmTransport, *, output_limit: int) -> SsmTransport:
    """The transport for ``kind: aws_ssm`` (called by the transport builder)."""
    return SsmTransport(config, output_limit=output_limit)
