"""The PromQL probe against a real Prometheus scraping a real exporter on 127.0.0.1.

The exporter serves fixed values, so every answer is known: three ``fixed_gauge`` series
(3, 7.5 and 1) and one ``fixed_nan`` series (NaN). Prometheus scrapes it every second; the
module waits until the first scrape is queryable, then every test asks through the probe.
"""

from __future__ import annotations

import http.server
import threading
import typing
from collections.abc import Iterator
from pathlib import Path

import monitoring_stack as stack
import pytest

from rollsafe.config import models
from rollsafe.demo import fleet
from rollsafe.detect.probes import promql
from rollsafe.domain import clocks

pytestmark = [pytest.mark.slow, pytest.mark.requires("prometheus")]

EXPOSITION = b"""\
# TYPE fixed_gauge gauge
fixed_gauge{shard="a"} 3
fixed_gauge{shard="b"} 7.5
fixed_gauge{shard="c"} 1
# TYPE fixed_nan gauge
fixed_nan NaN
"""
TARGET = models.Target(id="shard-b", vars={"shard": "b"})


class _Exporter(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(EXPOSITION)))
        self.end_headers()
        self.wfile.write(EXPOSITION)

    def log_message(self, format: str, *args: typing.Any) -> None:  # noqa: A002
        return


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[stack.Prometheus]:
    exporter = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Exporter)
    serving = threading.Thread(target=exporter.serve_forever, kwargs={"poll_interval": 0.1})
    serving.start()
    [port] = fleet.free_ports(1)
    directory: Path = tmp_path_factory.mktemp("prometheus")
    config = stack.prometheus_config(scrape={"fixed": [f"127.0.0.1:{exporter.server_port}"]})
    try:
        with stack.prometheus(directory, port=port, config=config) as server:
            server.wait_for(
                lambda: True if len(server.vector("fixed_gauge")) == 3 else None,
                timeout=stack.START_TIMEOUT_S,
                what="the first scrape of the exporter",
            )
            yield server
    finally:
        exporter.shutdown()
        exporter.server_close()
        serving.join(timeout=5)


async def _observe(server: stack.Prometheus, query: str, **extra: typing.Any):
    config = models.PromqlProbe(
        kind="promql", name="prom", url=server.url, query=query, timeout="5s", **extra
    )
    probe = promql.PromqlProbe(config, clocks.SystemClock())
    try:
        return await probe.observe(TARGET)
    finally:
        await probe.close()


async def test_one_series_selected_by_a_target_variable(prometheus):
    seen = await _observe(prometheus, 'fixed_gauge{shard="$shard"}')
    assert seen.error is None
    assert seen.value == 7.5
    assert seen.status == 200
    assert seen.text is not None
    assert seen.text.startswith("fixed_gauge{")
    assert 'shard="b"' in seen.text
    assert 'job="fixed"' in seen.text


async def test_scalar_query(prometheus):
    seen = await _observe(prometheus, "scalar(sum(fixed_gauge))")
    assert (seen.value, seen.error) == (11.5, None)


@pytest.mark.parametrize(
    ("reduce", "value"), [("max", 7.5), ("min", 1.0), ("sum", 11.5), ("count", 3.0)]
)
async def test_a_vector_is_reduced(prometheus, reduce, value):
    seen = await _observe(prometheus, "fixed_gauge", reduce=reduce)
    assert (seen.value, seen.error) == (value, None)


async def test_an_empty_result_is_no_data(prometheus):
    seen = await _observe(prometheus, 'fixed_gauge{shard="nope"}')
    assert seen.value is None
    assert seen.error == "no data: the query returned an empty vector"


async def test_nan_is_no_data(prometheus):
    seen = await _observe(prometheus, "fixed_nan")
    assert seen.value is None
    assert seen.error is not None
    assert seen.error.startswith("no data: ")


async def test_a_bad_query_is_an_error_with_prometheus_reason(prometheus):
    seen = await _observe(prometheus, "fixed_gauge{")
    assert seen.value is None
    assert seen.error is not None
    assert seen.error.startswith("prometheus: bad_data: ")
    assert seen.error.endswith("(HTTP 400)")


async def test_a_range_vector_is_an_error(prometheus):
    seen = await _observe(prometheus, "fixed_gauge[10s]")
    assert seen.value is None
    assert seen.error is not None
    assert "range vector" in seen.error
