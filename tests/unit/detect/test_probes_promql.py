"""The PromQL probe against a stand-in Prometheus API on 127.0.0.1.

The stand-in answers with the JSON shapes of Prometheus' ``/api/v1/query`` (scalar, vector,
matrix, errors) and records what it was asked, so these tests pin the reading of every answer
shape and the request itself. tests/e2e/test_promql_real_prometheus.py runs the same probe
against a real Prometheus.
"""

from __future__ import annotations

import asyncio
import json
import socket
import typing
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from rollsafe.config import loading, models
from rollsafe.detect.probes import promql
from rollsafe.domain import errors
from rollsafe.testing import FakeClock

TARGET = models.Target(id="web-1", address="10.0.0.7", vars={"port": 8080})


def _vector(*samples: tuple[dict[str, str], str]) -> dict[str, typing.Any]:
    return {
        "status": "success",
        "data": {
            "resultType": "vector",
            "result": [{"metric": m, "value": [1700000000.0, v]} for m, v in samples],
        },
    }


class _Prometheus:
    """Answers the next query with ``answer`` (JSON) or ``raw`` (status, body)."""

    def __init__(self) -> None:
        self.answer: dict[str, typing.Any] = _vector(({}, "1"))
        self.status = 200
        self.raw: tuple[int, str] | None = None
        self.asked: list[tuple[str, dict[str, str], dict[str, str]]] = []
        self.release = asyncio.Event()
        self.hang = False
        self.port = 0

    async def query(self, request: web.Request) -> web.StreamResponse:
        form = await request.post()
        self.asked.append(
            (request.path, {k: str(v) for k, v in form.items()}, dict(request.headers))
        )
        if self.hang:
            await self.release.wait()
        if self.raw is not None:
            return web.Response(status=self.raw[0], text=self.raw[1])
        return web.json_response(self.answer, status=self.status)


@pytest.fixture
async def prometheus() -> AsyncIterator[_Prometheus]:
    state = _Prometheus()
    app = web.Application()
    app.add_routes(
        [web.post("/api/v1/query", state.query), web.post("/p/api/v1/query", state.query)]
    )
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    state.port = runner.addresses[0][1]
    yield state
    state.release.set()
    await runner.cleanup()


def _probe(
    port: int, query: str = "up", **extra: typing.Any
) -> tuple[promql.PromqlProbe, FakeClock]:
    clock = FakeClock(1000.0)
    config = models.PromqlProbe(
        kind="promql",
        name="prom",
        url=extra.pop("url", f"http://127.0.0.1:{port}"),
        query=query,
        **extra,
    )
    return promql.PromqlProbe(config, clock), clock


async def _observe(port: int, query: str = "up", **extra: typing.Any):
    probe, _ = _probe(port, query, **extra)
    try:
        return await probe.observe(TARGET)
    finally:
        await probe.close()


async def test_query_is_rendered_with_dollar_placeholders_and_braces_kept(prometheus):
    query = 'sum(rate(http_requests_total{instance="$address:${port}",code=~"5.."}[5m]))'
    seen = await _observe(prometheus.port, query, timeout=3)
    path, form, _ = prometheus.asked[0]
    assert path == "/api/v1/query"
    assert form == {
        "query": 'sum(rate(http_requests_total{instance="10.0.0.7:8080",code=~"5.."}[5m]))',
        "timeout": "3",
    }
    assert "time" not in form  # evaluated now
    assert seen.ok
    assert seen.value == 1.0
    assert seen.status == 200
    assert seen.source == "prom"
    assert seen.target == "web-1"


async def test_base_url_with_a_path_prefix_and_trailing_slash(prometheus):
    seen = await _observe(prometheus.port, url=f"http://127.0.0.1:{prometheus.port}/p/")
    assert seen.ok
    assert prometheus.asked[0][0] == "/p/api/v1/query"


async def test_scalar_result_is_the_value(prometheus):
    prometheus.answer = {
        "status": "success",
        "data": {"resultType": "scalar", "result": [1700000000.0, "0.25"]},
    }
    seen = await _observe(prometheus.port, "scalar(x)")
    assert seen.value == 0.25
    assert seen.error is None


async def test_single_sample_vector_is_the_value_with_its_labels(prometheus):
    prometheus.answer = _vector(({"__name__": "up", "job": "web", "instance": "a:1"}, "0"))
    seen = await _observe(prometheus.port)
    assert seen.value == 0.0
    assert seen.text == 'up{instance="a:1",job="web"}'


SAMPLES = (({"instance": "a"}, "3"), ({"instance": "b"}, "7.5"), ({"instance": "c"}, "1"))


@pytest.mark.parametrize(
    ("reduce", "value", "text"),
    [
        ("max", 7.5, 'max of 3 series: {instance="b"}'),
        ("min", 1.0, 'min of 3 series: {instance="c"}'),
        ("sum", 11.5, "sum of 3 series"),
        ("count", 3.0, "3 series"),
    ],
)
async def test_several_samples_are_reduced(prometheus, reduce, value, text):
    prometheus.answer = _vector(*SAMPLES)
    seen = await _observe(prometheus.port, reduce=reduce)
    assert (seen.value, seen.text, seen.error) == (value, text, None)


async def test_reduce_defaults_to_max(prometheus):
    prometheus.answer = _vector(*SAMPLES)
    assert (await _observe(prometheus.port)).value == 7.5


async def test_empty_vector_is_no_data_never_zero(prometheus):
    prometheus.answer = _vector()
    for reduce in ("max", "count"):
        seen = await _observe(prometheus.port, reduce=reduce)
        assert seen.value is None
        assert seen.error == "no data: the query returned an empty vector"


async def test_nan_samples_are_left_out_and_all_nan_is_no_data(prometheus):
    prometheus.answer = _vector(({"i": "a"}, "NaN"), ({"i": "b"}, "2"))
    assert (await _observe(prometheus.port, reduce="count")).value == 1.0
    prometheus.answer = _vector(({"i": "a"}, "NaN"))
    seen = await _observe(prometheus.port)
    assert seen.value is None
    assert seen.error is not None
    assert seen.error.startswith("no data")


async def test_infinity_is_a_value(prometheus):
    prometheus.answer = _vector(({}, "+Inf"))
    seen = await _observe(prometheus.port)
    assert seen.value == float("inf")


async def test_bad_query_is_an_error_with_prometheus_message(prometheus):
    prometheus.status = 400
    prometheus.answer = {
        "status": "error",
        "errorType": "bad_data",
        "error": 'invalid parameter "query": 1:5: parse error: unexpected "}"',
    }
    seen = await _observe(prometheus.port, "up{{")
    assert seen.value is None
    assert seen.error == (
        'prometheus: bad_data: invalid parameter "query": 1:5: parse error: unexpected "}"'
        " (HTTP 400)"
    )


async def test_range_vector_is_an_error_naming_the_fix(prometheus):
    prometheus.answer = {"status": "success", "data": {"resultType": "matrix", "result": []}}
    seen = await _observe(prometheus.port, "up[5m]")
    assert seen.error is not None
    assert "range vector" in seen.error


async def test_a_proxy_error_page_is_an_error(prometheus):
    prometheus.raw = (502, "<html>Bad Gateway</html>")
    seen = await _observe(prometheus.port)
    assert seen.value is None
    assert (
        seen.error == "HTTP 502 from prometheus without the API's JSON: '<html>Bad Gateway</html>'"
    )


async def test_unreachable_prometheus_is_an_error_not_a_down_target():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, never listening: refused
        seen = await _observe(port)
    assert seen.value is None
    assert seen.error == f"cannot reach prometheus at 127.0.0.1:{port}: connection refused"


async def test_a_hanging_prometheus_times_out_as_an_error(prometheus):
    prometheus.hang = True
    seen = await _observe(prometheus.port, timeout=0.2)
    assert seen.error == "timeout after 200ms"


async def test_headers_and_bearer_token_from_the_environment(prometheus, monkeypatch):
    monkeypatch.setenv("PROM_TOKEN", "s3cret")
    seen = await _observe(
        prometheus.port, headers={"X-Scope-OrgID": "team-{id}"}, bearer_token_env="PROM_TOKEN"
    )
    assert seen.ok
    headers = prometheus.asked[0][2]
    assert headers["X-Scope-OrgID"] == "team-web-1"
    assert headers["Authorization"] == "Bearer s3cret"


async def test_missing_token_variable_is_an_error_and_nothing_is_sent(prometheus, monkeypatch):
    monkeypatch.delenv("PROM_TOKEN", raising=False)
    seen = await _observe(prometheus.port, bearer_token_env="PROM_TOKEN")
    assert seen.error == "bearer token: environment variable PROM_TOKEN is not set"
    assert prometheus.asked == []


async def test_unknown_query_variable_is_an_error(prometheus):
    seen = await _observe(prometheus.port, 'up{instance="$nope"}')
    assert seen.error == "query: unknown template variable $nope for target web-1"
    assert prometheus.asked == []


async def test_one_session_is_reused_across_observations(prometheus):
    probe, _ = _probe(prometheus.port)
    try:
        for _ in range(3):
            assert (await probe.observe(TARGET)).ok
        session = probe._session
        assert (await probe.observe(TARGET)).ok
        assert probe._session is session
    finally:
        await probe.close()


def _check(tmp_path: Path, probe: dict[str, typing.Any]) -> list[str]:
    document = {
        "targets": [{"id": "web-1", "vars": {"port": 8080}}],
        "probes": [{"kind": "promql", "name": "p", "url": "http://{address}:9090", **probe}],
    }
    path = tmp_path / "rollsafe.yaml"
    path.write_text(json.dumps(document))  # JSON is YAML, and keeps the braces unambiguous
    try:
        loading.load(path)
    except errors.ConfigError as exc:
        return [p.split(": ", 2)[2] for p in exc.problems]
    return []


def test_config_check_uses_the_same_placeholder_rule_as_the_probe(tmp_path):
    assert _check(tmp_path, {"query": 'rate(x{instance="$address:${port}"}[5m])'}) == []
    [unknown] = _check(tmp_path, {"query": 'x{instance="$host"}'})
    assert unknown.startswith("unknown template variable $host for target 'web-1'")
    [malformed] = _check(tmp_path, {"query": "x > $ 1"})
    assert "expected $name or ${name} placeholders; write $$ for a literal $" in malformed
    [url] = _check(tmp_path, {"query": "up", "url": "{address}:9090"})
    assert "not an absolute http(s) URL" in url
