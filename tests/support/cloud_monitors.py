"""Local stand-ins for Alibaba CloudMonitor and Tencent Cloud Monitor metric queries.

Each serves one documented read API over datapoints the test puts in, with the request's
signature recomputed and checked here, from the documented rules, as the real service does:

- ``CmsStandIn``: CloudMonitor API 2019-01-01, ``DescribeMetricLast`` as the official SDK
  (``alibabacloud-cms20190101`` 4.x on tea-openapi 0.4) sends it: ``POST /`` with every
  parameter in the query string, an empty body, ``x-acs-action`` / ``x-acs-version``, and
  ``Authorization: ACS3-HMAC-SHA256 Credential=<id>,SignedHeaders=...,Signature=<hex>`` over
  the canonical request (method, path, sorted query, signed headers, SHA-256 of the body).
  Answers ``{"RequestId", "Code": "200", "Success": true, "Period", "Datapoints": "<JSON>"}``
  with the newest datapoint of each dimension set in ``[StartTime, EndTime]``; errors are
  ``{"RequestId", "HostId", "Code", "Message"}`` with the HTTP status (``SignatureDoesNotMatch``
  400, ``InvalidAccessKeyId.NotFound`` 404, ``Throttling.User`` 400, ``Forbidden.RAM`` 403), or,
  as CloudMonitor also does, an HTTP 200 with ``"Success": false, "Code": "403"``.
  ``DescribeMetricList`` (history, for ``rollsafe record``): every datapoint in
  ``(StartTime, EndTime]`` (the API's left-open span, at most 31 days), oldest first, ``Length``
  per page (default 1000) with an opaque ``NextToken`` while more remain.
- ``MonitorStandIn``: Tencent Cloud Monitor API 2018-07-24, ``GetMonitorData``: ``POST /``
  with a JSON body, ``X-TC-Action`` / ``X-TC-Version`` / ``X-TC-Region`` / ``X-TC-Timestamp``,
  TC3-HMAC-SHA256 (credential scope ``<date>/monitor/tc3_request``) verified; answers
  ``{"Response": {"Period", "MetricName", "DataPoints": [{"Dimensions", "Timestamps",
  "Values", ...}], "StartTime", "EndTime", "RequestId"}}``; errors in ``Response.Error`` with
  HTTP 200 (``AuthFailure.SignatureFailure``, ``RequestLimitExceeded``,
  ``UnauthorizedOperation``, ``InvalidParameterValue`` for a period it does not have, and for a
  span of more than 1,440 datapoints, the API's documented limit per request).

``mode`` (from ``log_platforms.StandIn``): ``down`` answers a gateway's 503, ``hang`` holds the
request until the stand-in stops; ``fault`` here: ``throttle``, ``deny``, ``deny_in_body``
(CloudMonitor only). Where no documented code was found the stand-in chose one (a missing
parameter: ``InvalidParameter``); the probes depend on none of them beyond their class.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import re
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from aiohttp import web

from support.log_platforms import StandIn

CMS_VERSION = "2019-01-01"
MONITOR_VERSION = "2018-07-24"
_ACS3 = "ACS3-HMAC-SHA256"
_TC3 = re.compile(
    r"^TC3-HMAC-SHA256 Credential=(?P<id>[^/]+)/(?P<date>\d{4}-\d{2}-\d{2})/(?P<service>[a-z]+)"
    r"/tc3_request, SignedHeaders=(?P<headers>[a-z0-9;-]+), Signature=(?P<sig>[0-9a-f]{64})$"
)


@dataclass
class Point:
    """One stored datapoint: epoch seconds and one value per statistic."""

    namespace: str
    metric: str
    dimensions: dict[str, str]
    time: float
    values: dict[str, float] = field(default_factory=dict)


class _Refused(Exception):
    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(code)
        self.code = code
        self.message = message
        self.status = status


# --------------------------------------------------------------------------- CloudMonitor


class CmsStandIn(StandIn):
    """Alibaba Cloud CloudMonitor DescribeMetricLast (see the module docstring)."""

    def __init__(self, *, access_key_id: str, secret: str) -> None:
        super().__init__()
        self.access_key_id = access_key_id
        self.secret = secret
        self.fault: str | None = None
        self.points: list[Point] = []

    def add(
        self,
        namespace: str,
        metric: str,
        dimensions: dict[str, str],
        *,
        time: float,
        **values: float,
    ) -> None:
        self.points.append(Point(namespace, metric, dimensions, time, values))

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/", self._call)

    async def _call(self, request: web.Request) -> web.Response:
        early = await self.note(request)
        if early is not None:
            return early
        body = await request.read()
        request_id = str(uuid.uuid4()).upper()
        try:
            self._authenticate(request, body)
            action = request.headers.get("x-acs-action")
            if action not in ("DescribeMetricLast", "DescribeMetricList"):
                raise _Refused("InvalidAction.NotFound", "Specified api is not found.", 404)
            if request.headers.get("x-acs-version") != CMS_VERSION:
                raise _Refused("InvalidVersion", "Specified parameter Version is not valid.")
            if self.fault == "throttle":
                raise _Refused("Throttling.User", "Request was denied due to user flow control.")
            if self.fault == "deny":
                raise _Refused(
                    "Forbidden.RAM", "User not authorized to operate on the resource.", 403
                )
            if self.fault == "deny_in_body":
                return web.json_response(
                    {
                        "RequestId": request_id,
                        "Success": False,
                        "Code": "403",
                        "Message": "You are not authorized to operate the specified resource.",
                    }
                )
            if action == "DescribeMetricList":
                answer = self._describe_metric_list(dict(request.query))
            else:
                answer = self._describe_metric_last(dict(request.query))
        except _Refused as exc:
            return web.json_response(
                {
                    "RequestId": request_id,
                    "HostId": "metrics.aliyuncs.com",
                    "Code": exc.code,
                    "Message": exc.message,
                },
                status=exc.status,
            )
        return web.json_response(
            {"RequestId": request_id, "Code": "200", "Success": True, **answer}
        )

    def _describe_metric_list(self, query: dict[str, str]) -> dict[str, Any]:
        period, start, end, wanted = self._query(query)
        if end - start > 31 * 86_400:
            raise _Refused("InvalidParameter", "The interval of StartTime and EndTime is > 31d.")
        try:
            length = int(query.get("Length", "1000"))
            offset = int(query.get("NextToken") or "0", 16)
        except ValueError:
            raise _Refused("InvalidParameter", "Length or NextToken is malformed.") from None
        chosen = sorted(
            (
                p
                for p in self.points
                if (p.namespace, p.metric) == (query["Namespace"], query["MetricName"])
                and start < p.time <= end
                and (
                    not wanted
                    or any(all(p.dimensions.get(k) == v for k, v in one.items()) for one in wanted)
                )
            ),
            key=lambda p: p.time,
        )
        page = chosen[offset : offset + length]
        answer: dict[str, Any] = {"Period": str(period), "Datapoints": json.dumps(_rows(page))}
        if offset + length < len(chosen):
            answer["NextToken"] = f"{offset + length:x}"
        return answer

    def _query(self, query: dict[str, str]) -> tuple[int, float, float, list[dict[str, str]]]:
        for name in ("Namespace", "MetricName"):
            if not query.get(name):
                raise _Refused("InvalidParameter", f"{name} is mandatory for this action.")
        try:
            period = int(query.get("Period", "60"))
            start = int(query["StartTime"]) / 1000
            end = int(query["EndTime"]) / 1000
        except (KeyError, ValueError):
            raise _Refused(
                "InvalidParameter", "Period, StartTime or EndTime is malformed."
            ) from None
        wanted: list[dict[str, str]] = []
        if "Dimensions" in query:
            try:
                wanted = json.loads(query["Dimensions"])
            except ValueError:
                raise _Refused("InvalidParameter", "Dimensions is not valid JSON.") from None
            if not isinstance(wanted, list) or not all(isinstance(d, dict) for d in wanted):
                raise _Refused("InvalidParameter", "Dimensions must be a JSON array of objects.")
        return period, start, end, wanted

    def _describe_metric_last(self, query: dict[str, str]) -> dict[str, Any]:
        period, start, end, wanted = self._query(query)
        newest: dict[str, Point] = {}
        for point in self.points:
            if (point.namespace, point.metric) != (query["Namespace"], query["MetricName"]):
                continue
            if not start <= point.time <= end:
                continue
            if wanted and not any(
                all(point.dimensions.get(k) == v for k, v in one.items()) for one in wanted
            ):
                continue
            key = json.dumps(point.dimensions, sort_keys=True)
            if key not in newest or newest[key].time < point.time:
                newest[key] = point
        rows = [
            {
                "timestamp": int(p.time * 1000),
                "userId": "1270676679546704",
                **p.dimensions,
                **p.values,
            }
            for p in newest.values()
        ]
        return {"Period": str(period), "Datapoints": json.dumps(rows)}

    def _authenticate(self, request: web.Request, body: bytes) -> None:
        """The ACS3-HMAC-SHA256 signature, recomputed as CloudMonitor's gateway does."""
        scheme, _, rest = request.headers.get("Authorization", "").partition(" ")
        fields = dict(part.split("=", 1) for part in rest.split(",") if "=" in part)
        if scheme != _ACS3 or not {"Credential", "SignedHeaders", "Signature"} <= fields.keys():
            raise _Refused(
                "IncompleteSignature", "The request signature does not conform to Aliyun standards."
            )
        if fields["Credential"] != self.access_key_id:
            raise _Refused("InvalidAccessKeyId.NotFound", "Specified access key is not found.", 404)
        payload = hashlib.sha256(body).hexdigest()
        if request.headers.get("x-acs-content-sha256") != payload:
            raise _Refused("SignatureDoesNotMatch", "Specified content sha256 is not matched.")
        signed = fields["SignedHeaders"].split(";")
        if not {"host", "x-acs-action", "x-acs-date", "x-acs-version"} <= set(signed):
            raise _Refused("IncompleteSignature", "Required headers are not signed.")
        query = "&".join(
            f"{quote(k, safe='~')}={quote(v, safe='~')}" for k, v in sorted(request.query.items())
        )
        headers = "".join(f"{name}:{request.headers.get(name, '').strip()}\n" for name in signed)
        canonical = "\n".join(
            [request.method, request.path, query, headers, fields["SignedHeaders"], payload]
        )
        to_sign = f"{_ACS3}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
        expected = hmac.new(self.secret.encode(), to_sign.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, fields["Signature"]):
            raise _Refused(
                "SignatureDoesNotMatch", "Specified signature is not matched with our calculation."
            )


# --------------------------------------------------------------------------- Cloud Monitor


class MonitorStandIn(StandIn):
    """Tencent Cloud Monitor GetMonitorData (see the module docstring)."""

    PERIODS = (10, 60, 300, 3600, 86400)

    def __init__(self, *, region: str, secret_id: str, secret_key: str) -> None:
        super().__init__()
        self.region = region
        self.secret_id = secret_id
        self.secret_key = secret_key
        self.fault: str | None = None
        self.points: list[Point] = []

    def add(
        self,
        namespace: str,
        metric: str,
        dimensions: dict[str, str],
        *,
        time: float,
        **values: float,
    ) -> None:
        """``values``: ``value`` (the metric's own statistic), ``avg``, ``max``, ``min``."""
        self.points.append(Point(namespace, metric, dimensions, time, values))

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/", self._call)

    async def _call(self, request: web.Request) -> web.Response:
        early = await self.note(request)
        if early is not None:
            return early
        body = await request.read()
        try:
            self._authenticate(request, body)
            if self.fault == "throttle":
                raise _Refused("RequestLimitExceeded", "Your current request times exceeds limit.")
            if self.fault == "deny":
                raise _Refused(
                    "UnauthorizedOperation", "CAM denied monitor:GetMonitorData on the resource."
                )
            answer = self._get_monitor_data(json.loads(body))
        except _Refused as exc:
            return web.json_response(
                {
                    "Response": {
                        "Error": {"Code": exc.code, "Message": exc.message},
                        "RequestId": str(uuid.uuid4()),
                    }
                }
            )
        return web.json_response({"Response": {**answer, "RequestId": str(uuid.uuid4())}})

    def _get_monitor_data(self, params: dict[str, Any]) -> dict[str, Any]:
        for name in ("Namespace", "MetricName", "Instances"):
            if not params.get(name):
                raise _Refused("MissingParameter", f"the parameter {name} is missing")
        period = params.get("Period", 300)
        if period not in self.PERIODS:
            raise _Refused("InvalidParameterValue", f"Period {period} is not supported")
        try:
            start = dt.datetime.fromisoformat(params["StartTime"]).timestamp()
            end = dt.datetime.fromisoformat(params["EndTime"]).timestamp()
        except (KeyError, TypeError, ValueError):
            raise _Refused("InvalidParameterValue", "StartTime or EndTime is malformed") from None
        if end < start:
            raise _Refused("InvalidParameterValue", "EndTime is before StartTime")
        if (end - start) // period + 1 > 1440:
            raise _Refused("InvalidParameterValue", "a request may not cover more than 1440 points")
        bits = params.get("SpecifyStatistics")
        extra = (
            []
            if bits is None
            else [
                (bit, name, key)
                for bit, name, key in (
                    (1, "AvgValues", "avg"),
                    (2, "MaxValues", "max"),
                    (4, "MinValues", "min"),
                )
                if bits & bit
            ]
        )
        out = []
        for instance in params["Instances"]:
            dims = {d["Name"]: d["Value"] for d in instance.get("Dimensions", [])}
            chosen = sorted(
                (
                    p
                    for p in self.points
                    if (p.namespace, p.metric) == (params["Namespace"], params["MetricName"])
                    and p.dimensions == dims
                    and start <= p.time <= end
                ),
                key=lambda p: p.time,
            )
            series: dict[str, Any] = {
                "Dimensions": instance["Dimensions"],
                "Timestamps": [int(p.time) for p in chosen],
                "Values": [p.values.get("value") for p in chosen],
            }
            for _, name, key in extra:
                series[name] = [p.values.get(key) for p in chosen]
            out.append(series)
        return {
            "Period": period,
            "MetricName": params["MetricName"],
            "DataPoints": out,
            "StartTime": params["StartTime"],
            "EndTime": params["EndTime"],
            "Msg": "",
        }

    def _authenticate(self, request: web.Request, body: bytes) -> None:
        """TC3-HMAC-SHA256 recomputed as the API 3.0 gateway does, for service ``monitor``."""
        headers = {k.lower(): v for k, v in request.headers.items()}
        if headers.get("x-tc-action") != "GetMonitorData":
            raise _Refused("InvalidAction", f"{headers.get('x-tc-action')} is not served here")
        if headers.get("x-tc-version") != MONITOR_VERSION:
            raise _Refused("NoSuchVersion", f"no version {headers.get('x-tc-version')}")
        if headers.get("x-tc-region") != self.region:
            raise _Refused("UnsupportedRegion", f"this stand-in serves {self.region} only")
        auth = _TC3.match(headers.get("authorization", ""))
        if auth is None:
            raise _Refused("AuthFailure.InvalidAuthorization", "not TC3-HMAC-SHA256")
        if auth["id"] != self.secret_id:
            raise _Refused("AuthFailure.SecretIdNotFound", "the SecretId is not found")
        timestamp = int(headers.get("x-tc-timestamp", "0"))
        if abs(dt.datetime.now(dt.UTC).timestamp() - timestamp) > 300:
            raise _Refused("AuthFailure.SignatureExpire", "the signature has expired")
        date = dt.datetime.fromtimestamp(timestamp, dt.UTC).strftime("%Y-%m-%d")
        signed = auth["headers"].split(";")
        if (
            auth["date"] != date
            or auth["service"] != "monitor"
            or not {"content-type", "host"} <= set(signed)
        ):
            raise _Refused("AuthFailure.SignatureFailure", "the credential scope is wrong")
        canonical_headers = "".join(f"{n}:{headers[n].strip().lower()}\n" for n in signed)
        canonical = "\n".join(
            [
                request.method,
                "/",
                "",
                canonical_headers,
                auth["headers"],
                hashlib.sha256(body).hexdigest(),
            ]
        )
        to_sign = "\n".join(
            [
                "TC3-HMAC-SHA256",
                str(timestamp),
                f"{date}/monitor/tc3_request",
                hashlib.sha256(canonical.encode()).hexdigest(),
            ]
        )
        key = f"TC3{self.secret_key}".encode()
        for part in (date, "monitor", "tc3_request"):
            key = hmac.new(key, part.encode(), hashlib.sha256).digest()
        expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, auth["sig"]):
            raise _Refused("AuthFailure.SignatureFailure", "the signature does not match")


def _rows(points: list[Point]) -> list[dict[str, Any]]:
    return [
        {"timestamp": int(p.time * 1000), "userId": "1270676679546704", **p.dimensions, **p.values}
        for p in points
    ]
