"""AWS, as every part of rollsafe reaches it: one boto3 client per service, errors by what to do.

Role in the loop (shared by detect and execute): the EC2 driver, the ``aws_ssm`` transport and
the CloudWatch probe call AWS through ``Client``. It holds the session (credentials and the
default region come from boto3's standard chain, never from the configuration), runs each
call in a worker thread (boto3 blocks), reports it with its request id to the audit
(``api_calls.record``, a no-op outside a run) and translates what AWS answered with one table:

- throttling, 5xx and calls that got no answer -> ``DriverTemporaryError`` (retry later);
- a refused permission, a wrong state, anything else -> ``ApiError`` (a ``DriverError`` that
  keeps the AWS error ``code``), for a person.

boto3 is an optional dependency (``pip install 'rollsafe[aws]'``) imported on first use only;
no botocore exception leaves this module (an import-linter contract keeps the SDK here).
"""

from __future__ import annotations

import asyncio
import dataclasses
import importlib.util
import threading
from collections.abc import Callable, Mapping
from typing import Any

from rollsafe.domain import errors
from rollsafe.reach import api_calls

__all__ = [
    "DENIED",
    "THROTTLED",
    "UNAVAILABLE",
    "WRONG_STATE",
    "ApiError",
    "Client",
    "ClientFactory",
    "Failure",
    "available",
    "operation_name",
]

# Error codes, by what the caller should do next (EC2, SSM and CloudWatch spell some apart).
THROTTLED = frozenset(
    {
        "RequestLimitExceeded",
        "Throttling",
        "ThrottlingException",
        "RequestThrottled",
        "RequestThrottledException",
        "TooManyRequestsException",
        "PriorRequestNotComplete",
    }
)
UNAVAILABLE = frozenset(
    {
        "InternalError",
        "InternalFailure",
        "InternalServerError",
        "ServiceUnavailable",
        "Unavailable",
        "RequestTimeout",
    }
)
DENIED = frozenset(
    {
        "UnauthorizedOperation",
        "AccessDenied",
        "AccessDeniedException",
        "AuthFailure",
        "OptInRequired",
        "Blocked",
        "InvalidClientTokenId",
        "SignatureDoesNotMatch",
        "ExpiredToken",
        "ExpiredTokenException",
        "UnrecognizedClientException",
    }
)
WRONG_STATE = frozenset({"IncorrectInstanceState", "IncorrectState"})
_DRY_RUN_OK = "DryRunOperation"

ClientFactory = Callable[[], Any]
"""Returns a boto3 client; the default builds one from the ``Client``'s settings."""


class ApiError(errors.DriverError):
    """AWS refused a call for good; ``code`` is its error code (``InvalidVolume.NotFound``)."""

    def __init__(self, message: str, *, code: str, request_id: str | None) -> None:
        super().__init__(message)
        self.code = code
        self.request_id = request_id


@dataclasses.dataclass(frozen=True, slots=True)
class Failure:
    """A call that did not answer normally: ``code`` None when no answer came back at all."""

    code: str | None
    message: str
    status: int = 0
    request_id: str | None = None

    @property
    def temporary(self) -> bool:
        return (
            self.code is None
            or self.code in THROTTLED
            or self.code in UNAVAILABLE
            or self.status >= 500
        )

    def describe(self, where: str, *, request: bool = True) -> str:
        """``<where>: <code>: <message>``; the HTTP status when AWS gave no readable code."""
        rid = f" (request {self.request_id})" if self.request_id and request else ""
        if self.code is None:
            return f"{where}: {self.message}"  # the message names the SDK's error
        if not self.code or self.code.isdigit():
            # botocore could not read an AWS error from the body (a proxy's page ...): it puts
            # the HTTP status there instead.
            return f"{where}: HTTP {self.status or self.code or '?'}: {self.message}{rid}"
        return f"{where}: {self.code}: {self.message}{rid}"

    def error(
        self,
        where: str,
        *,
        retry_after: float | None,
        denied_hint: str = "",
        hints: Mapping[str, str] | None = None,
    ) -> errors.RollsafeError:
        """What the failure means for the caller: retry (temporary) or a person (ApiError)."""
        if self.temporary:
            return errors.DriverTemporaryError(
                self.describe(where), retry_after=None if self.code is None else retry_after
            )
        code = str(self.code)
        rid = f" (request {self.request_id})" if self.request_id else ""
        hint = (hints or {}).get(code)
        if hint is not None:
            text = f"{where}: {code}: {hint}{rid}"
        elif code in DENIED:
            text = f"{where} is not permitted: {code}: {self.message}{denied_hint}{rid}"
        elif code in WRONG_STATE:
            text = f"{where} refused in this state: {code}: {self.message}{rid}"
        else:
            text = f"{where} failed: {code or f'HTTP {self.status}'}: {self.message}{rid}"
        return ApiError(text, code=code, request_id=self.request_id)


class Client:
    """One AWS service (``ec2``, ``ssm``, ``cloudwatch``): calls in worker threads, audited."""

    def __init__(
        self,
        service: str,
        *,
        label: str,
        region: str | None,
        endpoint_url: str | None,
        timeout: float,
        attempts: int,
        client_factory: ClientFactory | None = None,
    ) -> None:
        self.service = service
        self.label = label  # how messages name the service: "EC2", "SSM"
        self._region = region
        self._endpoint_url = endpoint_url
        self._timeout = timeout
        self._attempts = attempts
        self._factory = client_factory or self._default_client
        self._client: Any = None
        self._lock = threading.Lock()

    @property
    def region(self) -> str | None:
        """The region the client works in (the configured one or the SDK chain's)."""
        client = self._client
        return None if client is None else getattr(client.meta, "region_name", None)

    async def call(
        self,
        operation: str,
        params: Mapping[str, Any],
        *,
        where: str | None = None,
        details: Mapping[str, Any] | None = None,
        reported: Callable[[Mapping[str, Any]], Mapping[str, Any]] | None = None,
        retry_after: float | None = None,
        denied_hint: str = "",
        hints: Mapping[str, str] | None = None,
        dry_run: bool = False,
    ) -> dict[str, Any]:
        """Call ``operation`` (``CreateSnapshot``): its answer, or a rollsafe error.

        ``details`` go to the audit with the request id, ``reported(answer)`` adds what the
        answer created. With ``dry_run`` the call carries ``DryRun=True`` and returns ``{}``
        when AWS answers ``DryRunOperation`` (the call would have been permitted).
        """
        sent = dict(params)
        if dry_run:
            sent["DryRun"] = True
        outcome = await asyncio.to_thread(self.invoke, operation, sent)
        audit = dict(details or {})
        if isinstance(outcome, Failure):
            if dry_run and outcome.code == _DRY_RUN_OK:
                api_calls.record(
                    operation, request_id=outcome.request_id, dry_run_result="permitted", **audit
                )
                return {}
            api_calls.record(
                operation, request_id=outcome.request_id, error=outcome.code or "no answer", **audit
            )
            raise outcome.error(
                where or f"{self.label} {operation}",
                retry_after=retry_after,
                denied_hint=denied_hint,
                hints=hints,
            )
        meta = outcome.get("ResponseMetadata") or {}
        retries = meta.get("RetryAttempts") or 0
        if reported is not None:
            audit.update(reported(outcome))
        api_calls.record(
            operation,
            request_id=meta.get("RequestId"),
            **audit,
            **({"sdk_retries": retries} if retries else {}),
        )
        if dry_run:
            # An endpoint that ignores DryRun has just performed the action for real.
            raise errors.DriverError(
                f"{self.label} {operation} with DryRun was performed instead of refused: the "
                f"endpoint does not behave like {self.label}; a person must check what it did"
            )
        return outcome

    def invoke(self, operation: str, params: Mapping[str, Any]) -> dict[str, Any] | Failure:
        """Blocking (run it in a thread): the answer, or why there is none, never raised."""
        from botocore import exceptions as aws_errors

        try:
            client = self.sdk()
            response: dict[str, Any] = getattr(client, operation_name(operation))(**params)
        except aws_errors.ClientError as exc:
            error = exc.response.get("Error") or {}
            meta = exc.response.get("ResponseMetadata") or {}
            return Failure(
                str(error.get("Code") or ""),
                " ".join(str(error.get("Message") or "").split()) or "no message",
                status=int(meta.get("HTTPStatusCode") or 0),
                request_id=meta.get("RequestId"),
            )
        except aws_errors.NoRegionError:
            return Failure(
                "NoRegion", "no region: set `region` on the driver or AWS_REGION", status=0
            )
        except (aws_errors.NoCredentialsError, aws_errors.PartialCredentialsError):
            return Failure("NoCredentials", "no usable AWS credentials in the SDK's chain")
        except aws_errors.ParamValidationError as exc:
            return Failure("ParamValidation", " ".join(str(exc).split()))
        except (aws_errors.BotoCoreError, OSError) as exc:
            return Failure(None, f"{type(exc).__name__}: {exc}")
        except ValueError as exc:  # an endpoint_url botocore refuses to parse
            return Failure("InvalidEndpoint", str(exc))
        return response

    def sdk(self) -> Any:
        """The boto3 client itself, built on first use (for a test's ``Stubber``)."""
        with self._lock:  # botocore clients are thread-safe, their creation is not
            if self._client is None:
                self._client = self._factory()
            return self._client

    def _default_client(self) -> Any:
        import boto3
        from botocore import config as aws_config

        settings = aws_config.Config(
            connect_timeout=self._timeout,
            read_timeout=self._timeout,
            retries={"mode": "standard", "total_max_attempts": self._attempts},
            user_agent_extra="rollsafe",
        )
        return boto3.session.Session().client(
            self.service,
            region_name=self._region,
            endpoint_url=self._endpoint_url,
            config=settings,
        )

    def close(self) -> None:
        """Release the SDK's connections (the client works again afterwards)."""
        with self._lock:
            client, self._client = self._client, None
        close = getattr(client, "close", None)
        if close is not None:
            close()


def operation_name(operation: str) -> str:
    """boto3's method name of ``operation`` (``CreateSnapshot`` -> ``create_snapshot``)."""
    from botocore import xform_name

    return str(xform_name(operation))


def available() -> bool:
    """Whether boto3 is installed (``pip install 'rollsafe[aws]'``)."""
    return importlib.util.find_spec("boto3") is not None
