"""The elasticsearch and loki probes against local stand-ins of their query APIs.

The stand-ins (tests/support/log_platforms.py) evaluate the query they receive over documents
put in by the test, so these tests pin both the request (paths, bodies, parameters, headers)
and what the probe makes of each answer: the log probe's shape (count + last line), and a
blind observation, never a value, when the platform cannot be asked.
"""

from __future__ import annotations

import asyncio
import base64
import json
import sys
from collections.abc import AsyncIterator

import pytest

from rollsafe.config import models
from rollsafe.detect import probes
from rollsafe.detect.probes import platforms
from rollsafe.domain import errors
from rollsafe.testing import FakeClock
from support.log_platforms import (
    ClsStandIn,
    ElasticsearchStandIn,
    LokiStandIn,
    SlsStandIn,
    iso,
)

NOW = 1_700_000_000.0
TARGET = models.Target(id="web-1", address="10.0.0.7")
OTHER = models.Target(id="web-2", address="10.0.0.8")


@pytest.fixture
async def es() -> AsyncIterator[ElasticsearchStandIn]:
    standin = ElasticsearchStandIn(api_key="c2VjcmV0OmtleQ==")
    await standin.start()
    yield standin
    await standin.stop()


@pytest.fixture
async def loki() -> AsyncIterator[LokiStandIn]:
    standin = LokiStandIn(tenant="team-a", token="tok-1")
    await standin.start()
    yield standin
    await standin.stop()


def _build(settings: dict[str, object], *, now: float = NOW) -> platforms.PlatformProbe:
    # A generous timeout unless a test is about timeouts: a first call imports the cloud SDK,
    # which took more than the 5 s default once on a loaded machine (round 12, xdist at load 9).
    settings = {"timeout": "30s", **settings}
    config = models.RollsafeConfig.model_validate(
        {"targets": [{"id": "web-1"}], "probes": [settings]}
    ).probes[0]
    probe = probes.build(config, FakeClock(start=now))
    assert isinstance(probe, platforms.PlatformProbe)
    return probe


def _es_probe(es: ElasticsearchStandIn, **extra: object) -> platforms.PlatformProbe:
    return _build(
        {
            "kind": "elasticsearch",
            "name": "oom",
            "url": es.url,
            "index": "logs-*",
            "query": '"Out of memory" OR "oom-kill"',
            "host_field": "host.name",
            "interval": "60s",
            "api_key_env": "ES_KEY",
            **extra,
        }
    )


# --------------------------------------------------------------------------- elasticsearch


async def test_es_counts_matching_documents_of_the_target_in_the_window(
    es: ElasticsearchStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ES_KEY", "c2VjcmV0OmtleQ==")
    host = {"host.name": "web-1"}
    es.add("logs-2023.11", time=NOW - 120, message="Out of memory: Killed process 1", **host)
    es.add("logs-2023.11", time=NOW - 50, message="Out of memory: Killed process 7", **host)
    es.add("logs-2023.11", time=NOW - 10, message="kernel: oom-kill:constraint=NONE", **host)
    es.add("logs-2023.11", time=NOW - 5, message="all good", **host)
    es.add("logs-2023.11", time=NOW - 5, message="oom-kill on another", **{"host.name": "web-2"})
    es.add("other", time=NOW - 5, message="oom-kill in another index", **host)
    probe = _es_probe(es)
    try:
        seen = await probe.observe(TARGET)
    finally:
        await probe.close()
    assert seen.error is None
    assert seen.value == 2.0  # the 120s-old one is outside the 60s window
    assert seen.text == "kernel: oom-kill:constraint=NONE"
    count, search = es.seen
    assert (count.method, count.path, search.path) == ("POST", "/logs-*/_count", "/logs-*/_search")
    assert count.headers["Authorization"] == "ApiKey c2VjcmV0OmtleQ=="
    assert count.body == {
        "query": {
            "bool": {
                "must": [
                    {
                        "query_string": {
                            "query": '"Out of memory" OR "oom-kill"',
                            "default_field": "message",
                        }
                    }
                ],
                "filter": [
                    {
                        "range": {
                            "@timestamp": {
                                "gt": int((NOW - 60) * 1000),
                                "lte": int(NOW * 1000),
                                "format": "epoch_millis",
                            }
                        }
                    },
                    {"term": {"host.name": "web-1"}},
                ],
            }
        }
    }
    assert search.body["size"] == 1
    assert search.body["sort"] == [{"@timestamp": {"order": "desc"}}]
    assert search.body["query"] == count.body["query"]


async def test_es_nothing_matching_is_zero_and_asks_once(
    es: ElasticsearchStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ES_KEY", "c2VjcmV0OmtleQ==")
    es.add("logs-1", time=NOW - 5, message="fine", **{"host.name": "web-1"})
    probe = _es_probe(es, window="5m", delay="30s")
    try:
        seen = await probe.observe(TARGET)
    finally:
        await probe.close()
    assert (seen.error, seen.value, seen.text) == (None, 0.0, None)
    assert len(es.seen) == 1
    bounds = es.seen[0].body["query"]["bool"]["filter"][0]["range"]["@timestamp"]
    assert (bounds["gt"], bounds["lte"]) == ((NOW - 330) * 1000, (NOW - 30) * 1000)


async def test_es_basic_auth_and_nested_message_field(monkeypatch: pytest.MonkeyPatch) -> None:
    standin = ElasticsearchStandIn(basic=("watcher", "pw-9"))
    await standin.start()
    monkeypatch.setenv("ES_PASSWORD", "pw-9")
    standin.indices["app"] = [
        {"@timestamp": iso(NOW - 1), "log": {"original": "ERROR boom"}, "message": "x"},
    ]
    probe = _build(
        {
            "kind": "elasticsearch",
            "name": "errors",
            "url": standin.url,
            "index": "app",
            "query": '"boom"',
            "message_field": "log.original",
            "username": "watcher",
            "password_env": "ES_PASSWORD",
        }
    )
    try:
        seen = await probe.observe(TARGET)
    finally:
        await probe.close()
        await standin.stop()
    assert (seen.error, seen.value, seen.text) == (None, 1.0, "ERROR boom")
    assert standin.seen[1].body["_source"] == ["log.original"]
    assert (
        standin.seen[0].headers["Authorization"]
        == "Basic " + base64.b64encode(b"watcher:pw-9").decode()
    )
    assert standin.seen[0].body["query"]["bool"]["must"][0]["query_string"]["default_field"] == (
        "log.original"
    )


async def test_es_refusals_are_blind_with_their_reason(
    es: ElasticsearchStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    es.add("logs-1", time=NOW - 5, message="oom-kill", **{"host.name": "web-1"})
    probe = _es_probe(es)
    try:
        monkeypatch.delenv("ES_KEY", raising=False)
        unset = await probe.observe(TARGET)
        monkeypatch.setenv("ES_KEY", "wrong")
        refused = await probe.observe(TARGET)
        monkeypatch.setenv("ES_KEY", "c2VjcmV0OmtleQ==")
        es.mode = "throttle"
        throttled = await probe.observe(TARGET)
        es.mode = "down"
        down = await probe.observe(TARGET)
        es.mode = "ok"
        healthy = await probe.observe(TARGET)
    finally:
        await probe.close()
    assert unset.error == "api key: environment variable ES_KEY is not set"
    assert refused.error is not None
    assert "refused the credentials (HTTP 401)" in refused.error
    assert "security_exception" in refused.error
    assert "check the API key in ES_KEY" in refused.error
    assert throttled.error is not None
    assert "unavailable for now (HTTP 429)" in throttled.error
    assert down.error is not None
    assert "unavailable for now (HTTP 503)" in down.error
    for blind in (unset, refused, throttled, down):
        assert blind.value is None
        assert "c2VjcmV0OmtleQ==" not in str(blind)  # the key never shows in an error
    assert (healthy.error, healthy.value) == (None, 1.0)


async def test_es_missing_index_and_unparsable_query_are_blind(
    es: ElasticsearchStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ES_KEY", "c2VjcmV0OmtleQ==")
    missing = _es_probe(es, index="nope")
    bad = _es_probe(es, query="message:(a AND")
    try:
        no_index = await missing.observe(TARGET)
        es.add("logs-1", time=NOW - 5, message="oom-kill")
        no_parse = await bad.observe(TARGET)
    finally:
        await missing.close()
        await bad.close()
    assert no_index.error == (
        "elasticsearch refused the query (HTTP 404): "
        "index_not_found_exception: no such index [nope]"
    )
    assert no_parse.error is not None
    assert "HTTP 400" in no_parse.error
    assert "parse_exception" in no_parse.error


async def test_es_unreachable_and_hung_are_blind(
    es: ElasticsearchStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ES_KEY", "c2VjcmV0OmtleQ==")
    port = es.port
    es.mode = "hang"
    hung = _es_probe(es, timeout="0.2s")
    try:
        seen = await hung.observe(TARGET)
    finally:
        await hung.close()
    assert seen.error == "timeout after 200ms"
    await es.stop()
    gone = _build(
        {
            "kind": "elasticsearch",
            "name": "oom",
            "url": f"http://127.0.0.1:{port}",
            "index": "logs-*",
            "query": '"oom"',
        }
    )
    try:
        refused = await gone.observe(TARGET)
    finally:
        await gone.close()
    assert refused.error == f"cannot reach elasticsearch at 127.0.0.1:{port}: connection refused"


# --------------------------------------------------------------------------- loki


def _loki_probe(loki: LokiStandIn, **extra: object) -> platforms.PlatformProbe:
    return _build(
        {
            "kind": "loki",
            "name": "panics",
            "url": loki.url,
            "selector": '{job="syslog", host="$id"}',
            "pipeline": '|= "Kernel panic"',
            "tenant": "team-a",
            "token_env": "LOKI_TOKEN",
            "interval": "30s",
            **extra,
        }
    )


async def test_loki_counts_over_the_window_and_reads_the_newest_line(
    loki: LokiStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOKI_TOKEN", "tok-1")
    mine = {"job": "syslog", "host": "web-1"}
    loki.add(mine, time=NOW - 40, line="Kernel panic - not syncing: old")
    loki.add(mine, time=NOW - 20, line="Kernel panic - not syncing: first")
    loki.add({**mine, "stream": "kern"}, time=NOW - 3, line="Kernel panic - not syncing: last")
    loki.add(mine, time=NOW - 2, line="all fine")
    loki.add({"job": "syslog", "host": "web-2"}, time=NOW - 1, line="Kernel panic on web-2")
    probe = _loki_probe(loki)
    try:
        seen = await probe.observe(TARGET)
    finally:
        await probe.close()
    assert seen.error is None
    assert seen.value == 2.0  # two streams of web-1, summed; the 40s-old line is out
    assert seen.text == "Kernel panic - not syncing: last"
    count, lines = loki.seen
    assert count.path == "/loki/api/v1/query"
    assert count.query == {
        "query": 'sum(count_over_time({job="syslog", host="web-1"} |= "Kernel panic" [30000ms]))',
        "time": str(int(NOW * 1e9)),
    }
    assert lines.path == "/loki/api/v1/query_range"
    assert lines.query == {
        "query": '{job="syslog", host="web-1"} |= "Kernel panic"',
        "start": str(int((NOW - 30) * 1e9) + 1),
        "end": str(int(NOW * 1e9) + 1),
        "direction": "backward",
        "limit": "1",
    }
    for request in (count, lines):
        assert request.headers["X-Scope-OrgID"] == "team-a"
        assert request.headers["Authorization"] == "Bearer tok-1"


async def test_loki_empty_vector_is_zero(
    loki: LokiStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOKI_TOKEN", "tok-1")
    loki.add({"job": "syslog", "host": "web-1"}, time=NOW - 1, line="quiet")
    probe = _loki_probe(loki)
    try:
        seen = await probe.observe(OTHER)
    finally:
        await probe.close()
    assert (seen.error, seen.value, seen.text) == (None, 0.0, None)
    assert len(loki.seen) == 1


async def test_loki_errors_are_blind(loki: LokiStandIn, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOKI_TOKEN", "tok-1")
    no_tenant = _loki_probe(loki, tenant=None)
    bad = _loki_probe(loki, pipeline="| json | level=`error`")
    good = _loki_probe(loki)
    try:
        missing_org = await no_tenant.observe(TARGET)
        unparsable = await bad.observe(TARGET)
        monkeypatch.setenv("LOKI_TOKEN", "stale")
        refused = await good.observe(TARGET)
        monkeypatch.setenv("LOKI_TOKEN", "tok-1")
        loki.mode = "throttle"
        throttled = await good.observe(TARGET)
        loki.mode = "down"
        down = await good.observe(TARGET)
    finally:
        for probe in (no_tenant, bad, good):
            await probe.close()
    assert missing_org.error is not None
    assert "loki refused the credentials (HTTP 401): no org id" in missing_org.error
    assert unparsable.error is not None
    assert unparsable.error.startswith("loki refused the query (HTTP 400): parse error :")
    assert refused.error is not None
    assert "check the bearer token in LOKI_TOKEN" in refused.error
    assert throttled.error is not None
    assert "loki is unavailable for now (HTTP 429)" in throttled.error
    assert down.error is not None
    assert "(HTTP 503)" in down.error
    for blind in (missing_org, unparsable, refused, throttled, down):
        assert blind.value is None


async def test_loki_hang_is_a_timeout_and_the_probe_recovers(
    loki: LokiStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOKI_TOKEN", "tok-1")
    loki.add({"job": "syslog", "host": "web-1"}, time=NOW - 1, line="Kernel panic x")
    probe = _loki_probe(loki, timeout="0.2s")
    try:
        loki.mode = "hang"
        hung = await probe.observe(TARGET)
        loki.mode = "ok"
        loki.release()
        await asyncio.sleep(0)
        back = await probe.observe(TARGET)
    finally:
        await probe.close()
    assert hung.error == "timeout after 200ms"
    assert (back.error, back.value, back.text) == (None, 1.0, "Kernel panic x")


def test_loki_config_refuses_a_selector_without_braces() -> None:
    with pytest.raises(ValueError, match="stream selector"):
        models.LokiProbe.model_validate(
            {"kind": "loki", "name": "x", "url": "http://l:3100", "selector": 'job="a"'}
        )


# --------------------------------------------------------------------------- sls

SLS_KEYS = {"LTAI-test": "sls-secret"}


@pytest.fixture
async def sls_standin(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[SlsStandIn]:
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "LTAI-test")
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "sls-secret")
    standin = SlsStandIn(project="ops-logs", logstore="syslog", keys=SLS_KEYS)
    await standin.start()
    yield standin
    await standin.stop()


def _sls_probe(standin: SlsStandIn, **extra: object) -> platforms.PlatformProbe:
    return _build(
        {
            "kind": "sls",
            "name": "oom",
            "endpoint": f"http://127.0.0.1:{standin.port}",
            "project": "ops-logs",
            "logstore": "syslog",
            "query": '"oom-kill" or "Out of memory"',
            "topic": "{id}",
            "interval": "60s",
            **extra,
        }
    )


async def test_sls_counts_with_sql_then_reads_the_newest_log(sls_standin: SlsStandIn) -> None:
    now = int(NOW)
    sls_standin.add(time=now - 60, content="oom-kill at the window's open end", topic="web-1")
    sls_standin.add(time=now - 59, content="Out of memory: Killed process 3", topic="web-1")
    sls_standin.add(time=now, content="kernel: oom-kill:constraint=NONE", topic="web-1")
    sls_standin.add(time=now - 1, content="fine", topic="web-1")
    sls_standin.add(time=now - 1, content="oom-kill elsewhere", topic="web-2")
    probe = _sls_probe(sls_standin)
    try:
        seen = await probe.observe(TARGET)
    finally:
        await probe.close()
    assert seen.error is None
    assert seen.value == 2.0  # (now-60, now]: the log at now-60 is out, the one at now is in
    assert seen.text == "kernel: oom-kill:constraint=NONE"
    count, last = sls_standin.seen
    assert count.path == last.path == "/logstores/syslog"
    assert count.query == {
        "type": "log",
        "from": str(now - 59),
        "to": str(now + 1),
        "topic": "web-1",
        "query": '"oom-kill" or "Out of memory" | select count(*) as count',
        "line": "100",
        "offset": "0",
        "reverse": "false",
    }
    assert (last.query["query"], last.query["line"], last.query["reverse"]) == (
        '"oom-kill" or "Out of memory"',
        "1",
        "true",
    )
    assert count.headers["Host"] == f"ops-logs.127.0.0.1:{sls_standin.port}"
    assert count.headers["Authorization"].startswith("LOG LTAI-test:")
    assert "sls-secret" not in json.dumps(count.headers)


async def test_sls_sts_token_is_sent_and_signed(
    sls_standin: SlsStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STS_TOKEN", "sts-abc")
    probe = _sls_probe(sls_standin, security_token_env="STS_TOKEN")
    try:
        seen = await probe.observe(TARGET)
    finally:
        await probe.close()
    assert (seen.error, seen.value) == (None, 0.0)
    assert sls_standin.seen[0].headers["x-acs-security-token"] == "sts-abc"


async def test_sls_refusals_are_blind_with_their_reason(
    sls_standin: SlsStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    probe = _sls_probe(sls_standin)
    wrong_store = _sls_probe(sls_standin, logstore="nope")
    bad_query = _sls_probe(sls_standin, query="a and (b")
    try:
        monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "wrong")
        bad_signature = await probe.observe(TARGET)
        monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "sls-secret")
        sls_standin.mode = "deny"
        denied = await probe.observe(TARGET)
        sls_standin.mode = "quota"
        quota = await probe.observe(TARGET)
        sls_standin.mode = "down"
        down = await probe.observe(TARGET)
        sls_standin.mode = "incomplete"
        incomplete = await probe.observe(TARGET)
        sls_standin.mode = "ok"
        missing = await wrong_store.observe(TARGET)
        unparsable = await bad_query.observe(TARGET)
        healthy = await probe.observe(TARGET)
    finally:
        for each in (probe, wrong_store, bad_query):
            await each.close()
    assert bad_signature.error is not None
    assert bad_signature.error.startswith(
        "sls refused the credentials (HTTP 401): SignatureNotMatch: signature not match "
        "(request standin-req); check ALIBABA_CLOUD_ACCESS_KEY_ID"
    )
    assert denied.error is not None
    assert "refused the credentials (HTTP 403): Unauthorized" in denied.error
    assert "log:GetLogStoreLogs on ops-logs/syslog" in denied.error
    assert quota.error is not None
    assert quota.error.startswith("sls is unavailable for now (HTTP 403): ReadQuotaExceed")
    assert down.error is not None
    assert down.error.startswith("sls is unavailable for now (HTTP 503)")
    assert incomplete.error == (
        "sls answered an incomplete result (x-log-progress: Incomplete): not a count yet"
    )
    assert missing.error is not None
    assert missing.error.startswith("sls refused the query (HTTP 404): LogStoreNotExist")
    assert unparsable.error is not None
    assert unparsable.error.startswith("sls refused the query (HTTP 400): ParameterInvalid")
    for blind in (bad_signature, denied, quota, down, incomplete, missing, unparsable):
        assert blind.value is None
        assert "sls-secret" not in str(blind)
    assert (healthy.error, healthy.value) == (None, 0.0)


def test_sls_query_must_be_a_search_statement_only() -> None:
    with pytest.raises(ValueError, match=r"adds `\| select count"):
        models.SlsProbe.model_validate(
            {
                "kind": "sls",
                "name": "x",
                "endpoint": "cn-hangzhou.log.aliyuncs.com",
                "project": "ops",
                "logstore": "syslog",
                "query": "oom | select count(*)",
            }
        )


# --------------------------------------------------------------------------- cls


@pytest.fixture
async def cls_standin(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[ClsStandIn]:
    monkeypatch.setenv("TENCENTCLOUD_SECRET_ID", "AKID-test")
    monkeypatch.setenv("TENCENTCLOUD_SECRET_KEY", "cls-secret")
    standin = ClsStandIn(region="ap-guangzhou", secret_id="AKID-test", secret_key="cls-secret")
    await standin.start()
    yield standin
    await standin.stop()


def _cls_probe(standin: ClsStandIn, **extra: object) -> platforms.PlatformProbe:
    return _build(
        {
            "kind": "cls",
            "name": "oom",
            "region": "ap-guangzhou",
            "topic_id": "topic-{id}",
            "query": '"oom-kill" OR "Out of memory"',
            "endpoint": f"127.0.0.1:{standin.port}",
            "protocol": "http",
            "interval": "60s",
            **extra,
        }
    )


async def test_cls_counts_with_sql_then_reads_the_newest_log(cls_standin: ClsStandIn) -> None:
    now_ms = int(NOW * 1000)
    cls_standin.add("topic-web-1", time_ms=now_ms - 60_000, content="oom-kill at the open end")
    cls_standin.add("topic-web-1", time_ms=now_ms - 59_999, content="Out of memory: Killed 9")
    cls_standin.add("topic-web-1", time_ms=now_ms, content="kernel: oom-kill:constraint=NONE")
    cls_standin.add("topic-web-1", time_ms=now_ms - 5, content="fine")
    cls_standin.add("topic-web-2", time_ms=now_ms - 5, content="oom-kill elsewhere")
    probe = _cls_probe(cls_standin)
    try:
        seen = await probe.observe(TARGET)
    finally:
        await probe.close()
    assert seen.error is None
    assert seen.value == 2.0
    assert seen.text == "kernel: oom-kill:constraint=NONE"
    count, last = cls_standin.seen
    assert count.headers["X-TC-Action"] == "SearchLog"
    assert count.headers["X-TC-Version"] == "2020-10-16"
    assert count.headers["X-TC-Region"] == "ap-guangzhou"
    assert count.headers["Authorization"].startswith("TC3-HMAC-SHA256 Credential=AKID-test/")
    assert count.body == {
        "TopicId": "topic-web-1",
        "From": now_ms - 60_000 + 1,
        "To": now_ms + 1,
        "QuerySyntax": 1,
        "QueryString": '"oom-kill" OR "Out of memory" | select count(*) as count',
        "UseNewAnalysis": True,
    }
    assert (last.body["QueryString"], last.body["Sort"], last.body["Limit"]) == (
        '"oom-kill" OR "Out of memory"',
        "desc",
        1,
    )


async def test_cls_refusals_are_blind_with_their_reason(
    cls_standin: ClsStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    cls_standin.add("topic-web-1", time_ms=int(NOW * 1000) - 5, content="oom-kill")
    probe = _cls_probe(cls_standin)
    no_topic = _cls_probe(cls_standin, topic_id="nope")
    bad = _cls_probe(cls_standin, query="oom AND (")
    try:
        monkeypatch.setenv("TENCENTCLOUD_SECRET_KEY", "wrong")
        bad_signature = await probe.observe(TARGET)
        monkeypatch.setenv("TENCENTCLOUD_SECRET_KEY", "cls-secret")
        cls_standin.fault = "deny"
        denied = await probe.observe(TARGET)
        cls_standin.fault = "throttle"
        throttled = await probe.observe(TARGET)
        cls_standin.fault = None
        cls_standin.mode = "down"
        down = await probe.observe(TARGET)
        cls_standin.mode = "ok"
        missing = await no_topic.observe(TARGET)
        unparsable = await bad.observe(TARGET)
        healthy = await probe.observe(TARGET)
    finally:
        for each in (probe, no_topic, bad):
            await each.close()
    assert bad_signature.error is not None
    assert bad_signature.error.startswith(
        "cls refused the credentials: AuthFailure.SignatureFailure: the signature does not match"
    )
    assert denied.error is not None
    assert denied.error.startswith("cls refused the credentials: UnauthorizedOperation")
    assert throttled.error is not None
    assert throttled.error.startswith("cls is unavailable for now: RequestLimitExceeded")
    assert down.error is not None
    assert down.error.startswith("cls is unavailable for now: ServerNetworkError")
    assert missing.error is not None
    assert missing.error.startswith("cls refused the query: ResourceNotFound.TopicNotExist")
    assert unparsable.error is not None
    assert unparsable.error.startswith("cls refused the query: FailedOperation.SyntaxError")
    for blind in (bad_signature, denied, throttled, down, missing, unparsable):
        assert blind.value is None
    assert (healthy.error, healthy.value, healthy.text) == (None, 1.0, "oom-kill")


async def test_cls_unreachable_and_hung_are_blind(cls_standin: ClsStandIn) -> None:
    cls_standin.mode = "hang"
    hung = _cls_probe(cls_standin, timeout="0.3s")
    try:
        seen = await hung.observe(TARGET)
    finally:
        await hung.close()
        cls_standin.release()
    assert seen.error == "timeout after 300ms"
    port = cls_standin.port
    await cls_standin.stop()
    gone = _build(
        {
            "kind": "cls",
            "name": "oom",
            "region": "ap-guangzhou",
            "topic_id": "t",
            "query": "*",
            "endpoint": f"127.0.0.1:{port}",
            "protocol": "http",
        }
    )
    try:
        refused = await gone.observe(TARGET)
    finally:
        await gone.close()
    assert refused.error is not None
    assert refused.error.startswith("cannot reach cls:")


async def test_a_failing_line_query_keeps_the_count(
    es: ElasticsearchStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The count is the fact rules judge; the line is evidence, and losing it loses no count."""
    monkeypatch.setenv("ES_KEY", "c2VjcmV0OmtleQ==")
    es.add("logs-1", time=NOW - 5, message="oom-kill", **{"host.name": "web-1"})
    es.failing_search = True
    probe = _es_probe(es)
    try:
        seen = await probe.observe(TARGET)
    finally:
        await probe.close()
    assert (seen.error, seen.value, seen.text) == (None, 1.0, None)
    assert [s.path for s in es.seen] == ["/logs-*/_count", "/logs-*/_search"]


def test_cls_without_its_sdk_is_refused_when_built(monkeypatch: pytest.MonkeyPatch) -> None:
    # As if tencentcloud-sdk-python-cls were not installed: the import system finds nothing.
    monkeypatch.setitem(sys.modules, "tencentcloud.cls", None)
    config = models.RollsafeConfig.model_validate(
        {
            "probes": [
                {
                    "kind": "cls",
                    "name": "x",
                    "region": "ap-guangzhou",
                    "topic_id": "t",
                    "query": "oom",
                }
            ]
        }
    ).probes[0]
    with pytest.raises(errors.ConfigError, match=r"pip install 'rollsafe\[tencent-logs\]'"):
        probes.build(config, FakeClock())
