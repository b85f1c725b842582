"""The ``aws_ssm`` transport: a command run by AWS Systems Manager Run Command.

Role in the loop (reach): for EC2 instances the controller cannot reach over SSH, a recipe's
script is sent with ``SendCommand`` (document ``AWS-RunShellScript``, ``executionTimeout`` the
step's limit) and its result read with ``GetCommandInvocation``, polled every
``poll_interval`` until a final status. ``Success`` and ``Failed`` are results (the exit code
is the invocation's ``ResponseCode``, -1 when it has none); ``TimedOut`` and ``Cancelled`` mean
the command could not be run to its end and raise ``DriverError``. The API returns at most
24,000 characters of each stream: a longer output is marked truncated (the whole of it is in
``output_s3_bucket`` when one is configured).

Errors are translated here: throttling, 5xx and unanswered calls to ``SendCommand`` raise
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
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from rollsafe.config import models
from rollsafe.domain import errors
from rollsafe.reach import api_calls
from rollsafe.reach.transports import outputs, remote_scripts, transporting

API_OUTPUT_LIMIT = 24_000  # characters of each stream GetCommandInvocation returns
_FINAL = frozenset({"Success", "Failed", "Cancelled", "TimedOut", "Cancelling"})
_RESULTS = frozenset({"Success", "Failed"})
_THROTTLED = frozenset(
    {"ThrottlingException", "Throttling", "TooManyRequestsException", "RequestLimitExceeded"}
)
_UNAVAILABLE = frozenset({"InternalServerError", "InternalFailure", "ServiceUnavailable"})
_DENIED = frozenset(
    {
        "AccessDeniedException",
        "AccessDenied",
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "SignatureDoesNotMatch",
        "ExpiredTokenException",
    }
)
_NOT_MANAGED = frozenset({"InvalidInstanceId"})
_NOT_YET = "InvocationDoesNotExist"
_DELIVERY_MIN = 30  # SendCommand's TimeoutSeconds: the smallest delivery timeout AWS accepts
_NOT_YET_GRACE = 10.0  # seconds an invocation may be missing right after SendCommand

ClientFactory = Callable[[], Any]


class _Failed(Exception):
    """A call that did not answer normally: its code (or None when unanswered)."""

    def __init__(self, code: str | None, message: str, *, status: int, request_id: str | None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.request_id = request_id


class SsmTransport:
    kind = "aws_ssm"

    def __init__(
        self,
        config: models.SsmTransport,
        *,
        output_limit: int,
        client_factory: ClientFactory | None = None,
    ) -> None:
        self.config = config
        self._limit = output_limit
        self._factory = client_factory or self._default_client
        self._client: Any = None
        self._lock = threading.Lock()

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
        try:
            sent = await self._call("SendCommand", params, instance_id=iid)
        except _Failed as exc:
            raise self._translate("SendCommand", exc, iid) from None
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
        deadline = started + limit_s + max(_NOT_YET_GRACE, 3 * interval)
        missing_until = time.monotonic() + max(_NOT_YET_GRACE, 3 * interval)
        seen = "nothing yet"
        params = {"CommandId": command_id, "InstanceId": iid}
        while True:
            try:
                found = await self._call(
                    "GetCommandInvocation", params, instance_id=iid, command_id=command_id
                )
            except _Failed as exc:
                error = self._translate("GetCommandInvocation", exc, iid)
                if exc.code == _NOT_YET and time.monotonic() < missing_until:
                    seen = "invocation not registered yet"
                elif isinstance(error, errors.DriverTemporaryError):
                    seen = f"not seen ({error})"  # a throttled poll is only a late one
                else:
                    raise error from None
            else:
                status = str(found.get("Status"))
                if status in _FINAL:
                    return found
                seen = status
            if time.monotonic() >= deadline:
                await self._cancel(iid, command_id)
                raise errors.DriverError(
                    f"the SSM command {command_id} on {iid} did not finish within "
                    f"{limit_s:g}s (last seen: {seen}); it was asked to cancel"
                )
            await asyncio.sleep(interval)

    async def _cancel(self, iid: str, command_id: str) -> None:
        with contextlib.suppress(_Failed):  # recorded; the timeout is the error that matters
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
        outcome = await asyncio.to_thread(self._invoke, operation, dict(params))
        details: dict[str, Any] = {"instance_id": instance_id}
        if isinstance(outcome, _Failed):
            api_calls.record(
                operation,
                request_id=outcome.request_id,
                command_id=command_id,
                error=outcome.code or "no answer",
                **details,
            )
            raise outcome
        meta = outcome.get("ResponseMetadata") or {}
        if command_id is None:
            command_id = (outcome.get("Command") or {}).get("CommandId")
        if "Status" in outcome:
            details["status"] = outcome["Status"]
        api_calls.record(
            operation, request_id=meta.get("RequestId"), command_id=command_id, **details
        )
        return outcome

    def _invoke(self, operation: str, params: dict[str, Any]) -> dict[str, Any] | _Failed:
        """In a worker thread: the answer, or why there is none (no botocore type escapes)."""
        from botocore import exceptions as aws_errors
        from botocore import xform_name

        try:
            client = self._get_client()
            response: dict[str, Any] = getattr(client, xform_name(operation))(**params)
        except aws_errors.ClientError as exc:
            error = exc.response.get("Error") or {}
            meta = exc.response.get("ResponseMetadata") or {}
            return _Failed(
                str(error.get("Code") or ""),
                " ".join(str(error.get("Message") or "").split()),
                status=int(meta.get("HTTPStatusCode") or 0),
                request_id=meta.get("RequestId"),
            )
        except aws_errors.NoRegionError:
            return _Failed(
                "NoRegion", "no region: set `region` or AWS_REGION", status=0, request_id=None
            )
        except (aws_errors.NoCredentialsError, aws_errors.PartialCredentialsError):
            return _Failed(
                "NoCredentials",
                "no usable AWS credentials in the SDK's chain",
                status=0,
                request_id=None,
            )
        except aws_errors.ParamValidationError as exc:
            return _Failed("ParamValidation", type(exc).__name__, status=0, request_id=None)
        except (aws_errors.BotoCoreError, OSError) as exc:
            return _Failed(None, type(exc).__name__, status=0, request_id=None)
        return response

    def _translate(self, operation: str, exc: _Failed, iid: str) -> errors.RollsafeError:
        rid = f" (request {exc.request_id})" if exc.request_id else ""
        where = f"SSM {operation} on {iid}"
        if exc.code is None:
            return errors.DriverTemporaryError(
                f"{where}: no answer from SSM ({exc.message})", retry_after=None
            )
        if exc.code in _THROTTLED or exc.code in _UNAVAILABLE or exc.status >= 500:
            return errors.DriverTemporaryError(
                f"{where}: {exc.code or f'HTTP {exc.status}'}: {exc.message}{rid}",
                retry_after=self.config.poll_interval,
            )
        if exc.code in _NOT_MANAGED:
            return errors.DriverError(
                f"{where}: {exc.code}: the instance is not managed by Systems Manager or its "
                "SSM agent is not online; the agent must be running and connected, and the "
                "instance profile must have the AmazonSSMManagedInstanceCore policy"
                f"{rid}"
            )
        if exc.code in _DENIED:
            return errors.DriverError(
                f"{where} is not permitted: {exc.code}: {exc.message} (the identity needs "
                f"ssm:SendCommand, ssm:GetCommandInvocation and ssm:CancelCommand){rid}"
            )
        return errors.DriverError(f"{where} failed: {exc.code}: {exc.message}{rid}")

    def _get_client(self) -> Any:
        with self._lock:  # botocore clients are thread-safe, their creation is not
            if self._client is None:
                self._client = self._factory()
            return self._client

    def _default_client(self) -> Any:
        import boto3
        from botocore import config as aws_config

        settings = aws_config.Config(
            connect_timeout=30,
            read_timeout=30,
            retries={"mode": "standard", "total_max_attempts": 2},
            user_agent_extra="rollsafe",
        )
        return boto3.session.Session().client(
            "ssm",
            region_name=self.config.region,
            endpoint_url=self.config.endpoint_url,
            config=settings,
        )

    async def close(self) -> None:
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            await asyncio.to_thread(client.close)


def make(config: models.SsmTransport, *, output_limit: int) -> SsmTransport:
    """The transport for ``kind: aws_ssm`` (called by the transport builder)."""
    return SsmTransport(config, output_limit=output_limit)
