"""SLS probe: Alibaba Cloud Simple Log Service, GetLogs with ``| select count(*)``, then the line.

Role in the loop (detect): the ``log`` probe's question asked of an SLS logstore (see
``platforms`` for the observation's shape and the window). Two GetLogs calls per observation
(API 0.6.0, the documented ``GET /logstores/<logstore>?type=log``)::

    from=<s> to=<s> query=<query> | select count(*) as count    line=100 offset=0 reverse=false
    from=<s> to=<s> query=<query>              line=1 offset=0 reverse=true  (only if count > 0)

SLS keeps log times in whole seconds and reads ``[from, to)``, so the window ``(start, end]``
is sent as ``from = floor(start) + 1``, ``to = floor(end) + 1``: exact for windows on whole
seconds. The count needs the logstore's index with analytics (SQL) enabled, as any
``select`` does. An answer marked ``x-log-progress: Incomplete`` is not a count (it may be
low): the observation is blind, as with a throttled platform.

Signed here, from the documented algorithm, not with ``aliyun-log-python-sdk``: that SDK is
blocking (``requests``), retries a 5xx answer up to ten times with one-second sleeps inside a
call that cannot be cancelled (a probe with a 5-second timeout would leave a thread busy for
ten), and pulls ``elasticsearch``, ``dateparser``, ``lz4`` and ``protobuf``. The signature::

    Authorization: LOG <AccessKeyId>:base64(hmac-sha1(<secret>, <string to sign>))
    string to sign = GET \\n \\n \\n <Date> \\n <x-log-* and x-acs-* headers, name:value, sorted,
                     each + \\n> /logstores/<logstore>?<params k=v sorted, joined by &, raw>

``Host`` is ``<project>.<endpoint>``; an endpoint given as an IP address is connected to as
it is, with the project in the Host header only. Credentials come from the environment at
each query (``access_key_id_env``, ``access_key_secret_env``, ``security_token_env`` sent as
``x-acs-security-token``). Errors are ``{"errorCode", "errorMessage"}``: throttling and
server codes are ``Unavailable``, 401 / 403 and signature codes ``Refused``.
"""

from __future__ import annotations

import email.utils
import math
import typing

from rollsafe.config import models
from rollsafe.detect.probes import outcomes, platforms
from rollsafe.domain import clocks, errors
from rollsafe.reach.clouds import aliyun_sls

WHAT = "sls"
API_VERSION = "0.6.0"
_TEMPORARY = frozenset(
    {
        "ReadQuotaExceed",
        "QpsLimitExceeded",
        "ExceedQPSLimit",
        "ProjectQuotaExceed",
        "InternalServerError",
        "ServerBusy",
        "RequestTimeout",
    }
)
_REFUSED = frozenset(
    {"Unauthorized", "SignatureNotMatch", "InvalidAccessKeyId", "SecurityTokenExpired"}
)


class Querier:
    """Implements ``platforms.Querier`` for one ``kind: sls`` probe."""

    def __init__(self, config: models.SlsProbe) -> None:
        self._config = config
        self._base, self._host = aliyun_sls.endpoint(config.endpoint, config.project)
        self._resource = f"/logstores/{config.logstore}"
        self._http = platforms.Http(what=WHAT)

    async def count(self, target: models.Target, window: platforms.Window) -> int:
        search, span = self._search(target, window)
        rows = await self._get_logs(
            {
                **span,
                "query": f"{search} | select count(*) as count",
                "line": "100",
                "offset": "0",
                "reverse": "false",
            }
        )
        return _count(rows)

    async def newest(self, target: models.Target, window: platforms.Window) -> str | None:
        search, span = self._search(target, window)
        logs = await self._get_logs(
            {**span, "query": search, "line": "1", "offset": "0", "reverse": "true"}
        )
        if logs and isinstance(logs[0], dict):
            return platforms.field_value(logs[0], self._config.message_field)
        return None

    def _search(
        self, target: models.Target, window: platforms.Window
    ) -> tuple[str, dict[str, str]]:
        config = self._config
        search = outcomes.render(config.query, target, what="query").strip() or "*"
        span = {"from": str(math.floor(window.start) + 1), "to": str(math.floor(window.end) + 1)}
        if config.topic is not None:
            span["topic"] = outcomes.render(config.topic, target, what="topic")
        return search, span

    async def _get_logs(self, params: dict[str, str]) -> list[typing.Any]:
        config = self._config
        params = {"type": "log", **params}
        headers = {
            "Date": email.utils.formatdate(usegmt=True),
            "x-log-apiversion": API_VERSION,
            "x-log-signaturemethod": "hmac-sha1",
            "x-log-bodyrawsize": "0",
            "Accept": "application/json",
        }
        if config.security_token_env is not None:
            headers["x-acs-security-token"] = platforms.secret(
                config.security_token_env, what="security token"
            )
        key_id = platforms.secret(config.access_key_id_env, what="access key id")
        key_secret = platforms.secret(config.access_key_secret_env, what="access key secret")
        sign = aliyun_sls.signature(
            key_secret, method="GET", resource=self._resource, headers=headers, params=params
        )
        headers["Authorization"] = f"LOG {key_id}:{sign}"
        if self._host is not None:
            headers["Host"] = self._host
        answer = await self._http.request(
            "GET", self._base + self._resource, headers=headers, params=params
        )
        payload = answer.json()
        if answer.status != 200:
            raise _refusal(answer, payload, config)
        if answer.headers.get("x-log-progress", "Complete") != "Complete":
            raise platforms.Unavailable(
                f"{WHAT} answered an incomplete result (x-log-progress: "
                f"{answer.headers['x-log-progress']}): not a count yet"
            )
        if not isinstance(payload, list):
            raise outcomes.CannotObserve(
                f"{WHAT} answered without a list of logs: {platforms.snippet(answer.body)}"
            )
        return payload

    async def close(self) -> None:
        await self._http.close()


def _count(rows: list[typing.Any]) -> int:
    if len(rows) != 1 or not isinstance(rows[0], dict) or "count" not in rows[0]:
        raise outcomes.CannotObserve(f"{WHAT}: the count query did not answer one row of count")
    try:
        # SQL results come back as text.
        return int(float(rows[0]["count"]))
    except (TypeError, ValueError):
        raise outcomes.CannotObserve(
            f"{WHAT}: the count {rows[0]['count']!r} is not a number"
        ) from None


def _refusal(
    answer: platforms.Answer, payload: typing.Any, config: models.SlsProbe
) -> outcomes.CannotObserve:
    code = message = ""
    if isinstance(payload, dict):
        code = str(payload.get("errorCode", ""))
        message = str(payload.get("errorMessage", ""))
    request = answer.headers.get("x-log-requestid", "")
    said = f"{code}: {message}" if code else platforms.snippet(answer.body)
    said += f" (request {request})" if request else ""
    if code in _TEMPORARY or answer.status == 429 or answer.status >= 500:
        return platforms.Unavailable(
            f"{WHAT} is unavailable for now (HTTP {answer.status}): {said}",
            retry_after=platforms.retry_after(answer),
        )
    if code in _REFUSED or answer.status in (401, 403):
        return platforms.Refused(
            f"{WHAT} refused the credentials (HTTP {answer.status}): {said}; check "
            f"{config.access_key_id_env} / {config.access_key_secret_env} and the RAM "
            f"policy (log:GetLogStoreLogs on {config.project}/{config.logstore})"
        )
    return outcomes.CannotObserve(f"{WHAT} refused the query (HTTP {answer.status}): {said}")


def create(config: models.Probe, clock: clocks.Clock) -> platforms.PlatformProbe:
    """Factory registered under ``sls``."""
    if not isinstance(config, models.SlsProbe):
        raise errors.ConfigError(f"probe {config.name}: not an sls probe")
    return platforms.PlatformProbe(config, clock, Querier(config))
