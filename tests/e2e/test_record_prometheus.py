"""``rollsafe record`` against a real Prometheus and a real log file, then a backtest of it.

A tiny exporter on 127.0.0.1 serves what the test says (memory at 40%, then 95%; a queue
depth as two series; a metric that disappears half way); the Debian ``prometheus`` binary
scrapes it every second into its own storage under tmp. Once Prometheus holds both phases
(every wait polls its query API, bounded), ``rollsafe record`` is run as a process over that
range, with the log file the test wrote meanwhile, and the recording is checked step by step
against what was served. ``rollsafe backtest`` on it then finds the memory rule's rollback.
"""

from __future__ import annotations

import datetime as dt
import http.server
import json
import math
import subprocess
import sys
import textwrap
import threading
import typing
from collections.abc import Iterator
from pathlib import Path

import monitoring_stack as stack
import pytest

from rollsafe.backtest import recordings
from rollsafe.demo import fleet

pytestmark = [pytest.mark.slow, pytest.mark.requires("prometheus")]
ROLLSAFE = Path(sys.executable).parent / "rollsafe"
SCRAPES_PER_PHASE = 6


class Exporter:
    """Serves the Prometheus text format of whatever ``state`` holds at each scrape."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.memory = 40.0
        self.flaky = True
        exporter = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = exporter.exposition().encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: typing.Any) -> None:  # noqa: A002
                return

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.1}
        )

    def exposition(self) -> str:
        with self.lock:
            lines = [
                "# TYPE app_memory_percent gauge",
                f'app_memory_percent{{host="web-1"}} {self.memory}',
                "# TYPE app_queue_depth gauge",
                'app_queue_depth{pod="a"} 3',
                'app_queue_depth{pod="b"} 7',
            ]
            if self.flaky:
                lines += ["# TYPE app_flaky gauge", "app_flaky 1"]
        return "\n".join(lines) + "\n"

    def set(self, *, memory: float, flaky: bool) -> None:
        with self.lock:
            self.memory = memory
            self.flaky = flaky


@pytest.fixture
def exporter() -> Iterator[Exporter]:
    served = Exporter()
    served.thread.start()
    try:
        yield served
    finally:
        served.server.shutdown()
        served.server.server_close()
        served.thread.join(timeout=5)


def _sample_time(server: stack.Prometheus, query: str) -> float | None:
    """Timestamp of the newest sample of a one-series query (``timestamp()``), if any."""
    found = server.vector(f"timestamp({query})")
    return found[0][1] if len(found) == 1 else None


def _config(tmp_path: Path, prometheus_url: str) -> Path:
    path = tmp_path / "rollsafe.yaml"
    path.write_text(
        textwrap.dedent(
            f"""\
            targets: [{{id: web-1}}]
            policy: {{blind_after: 3}}
            probes:
              - kind: promql
                name: memory
                url: {prometheus_url}
                query: app_memory_percent{{host="$id"}}
                interval: 1s
              - kind: promql
                name: queue
                url: {prometheus_url}
                query: app_queue_depth
                reduce: sum
                interval: 1s
              - kind: promql
                name: flaky
                url: {prometheus_url}
                query: app_flaky
                interval: 1s
              - kind: log
                name: app-log
                path: {tmp_path}/{{id}}.log
                presets: [app_error]
                interval: 1s
            rules:
              - id: memory-high
                kind: threshold
                probe: memory
                op: ">"
                value: 90
                consecutive: 3
                severity: critical
            """
        ),
        encoding="utf-8",
    )
    return path


def _iso(seconds: float) -> str:
    return dt.datetime.fromtimestamp(seconds, tz=dt.UTC).isoformat(timespec="milliseconds")


def _two_phases(
    server: stack.Prometheus, exporter: Exporter, log: Path
) -> tuple[float, float, float]:
    """Memory at 40%, then 95% with app_flaky gone, each held in Prometheus for a few scrapes.

    Returns the times of the first sample, of the first 95% sample seen, and of the last one.
    """
    first = server.wait_for(
        lambda: _sample_time(server, "app_memory_percent"),
        timeout=stack.START_TIMEOUT_S,
        what="the first scrape of the exporter",
    )
    server.wait_for(
        lambda: (
            True
            if (_sample_time(server, "app_memory_percent") or 0) >= first + SCRAPES_PER_PHASE
            else None
        ),
        timeout=stack.START_TIMEOUT_S,
        what="the first phase (memory 40%) in Prometheus",
    )
    log.write_text(
        f"{_iso(first)} INFO app: started\n{_iso(first + 1)} WARN app: status: ERROR soon\n",
        encoding="utf-8",
    )
    exporter.set(memory=95.0, flaky=False)

    def newest_at_95() -> float | None:
        if not server.vector("app_memory_percent > 90"):
            return None
        return _sample_time(server, "app_memory_percent")

    switched = server.wait_for(
        newest_at_95, timeout=stack.START_TIMEOUT_S, what="the switch to 95% in Prometheus"
    )
    with log.open("a", encoding="utf-8") as out:
        out.write(f"{_iso(switched)} ERROR app: out of memory soon\n")

    def second_phase_done() -> float | None:
        newest = _sample_time(server, "app_memory_percent") or 0.0
        if newest < switched + SCRAPES_PER_PHASE or server.vector("app_flaky"):
            return None
        return newest

    last = server.wait_for(
        second_phase_done,
        timeout=stack.START_TIMEOUT_S,
        what="the second phase (memory 95%, app_flaky gone) in Prometheus",
    )
    return first, switched, last


def test_record_reads_prometheus_history_and_the_log_then_backtests_it(
    tmp_path: Path, exporter: Exporter
) -> None:
    [port] = fleet.free_ports(1)
    config = stack.prometheus_config(scrape={"app": [f"127.0.0.1:{exporter.server.server_port}"]})
    log = tmp_path / "web-1.log"
    with stack.prometheus(tmp_path / "prometheus", port=port, config=config) as server:
        first, switched, last = _two_phases(server, exporter, log)
        start, end = math.ceil(first), math.floor(last)
        recorded = tmp_path / "recorded.jsonl"
        done = subprocess.run(
            [
                str(ROLLSAFE),
                "record",
                "-c",
                str(_config(tmp_path, server.url)),
                "--start",
                str(start),
                "--end",
                str(end),
                "-o",
                str(recorded),
                "--upgrade",
                f"web-1@{math.floor(switched)}",
                "--name",
                "memory-spike",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert done.returncode == 0, done.stderr
    assert "from 3 Prometheus queries, 1 log line from 1 log, 1 mark" in done.stderr

    recording = recordings.read(recorded)
    steps = end - start + 1
    by_source: dict[str, list[typing.Any]] = {}
    for obs in recording.observations:
        by_source.setdefault(obs.source, []).append(obs)
    for source in ("memory", "queue", "flaky"):
        times = [o.time for o in by_source[source]]
        assert times == [float(start + k) for k in range(steps)], source

    # Each step holds the newest sample at or before it: 40% up to the switch, 95% after.
    memory = [o.value for o in by_source["memory"]]
    at_95 = memory.index(95.0)
    assert memory == [40.0] * at_95 + [95.0] * (steps - at_95)
    assert at_95 >= 3
    assert steps - at_95 >= 3
    switch_step = by_source["memory"][at_95].time

    assert {(o.value, o.text) for o in by_source["queue"]} == {(10.0, "sum of 2 series")}

    flaky = by_source["flaky"]
    assert flaky[0].value == 1.0
    assert flaky[-1].error == "no data: the query returned an empty vector"
    gone = [o for o in flaky if o.error is not None]
    assert gone == flaky[len(flaky) - len(gone) :]  # data, then none: the series went stale

    assert [line.line for line in recording.log_lines] == [
        f"{_iso(switched)} ERROR app: out of memory soon"
    ]
    assert recording.header.logs == (("web-1", "app-log"),)
    assert recording.marks[0].time == math.floor(switched)

    replayed = subprocess.run(
        [
            str(ROLLSAFE),
            "backtest",
            "-c",
            str(tmp_path / "rollsafe.yaml"),
            "--data",
            str(recorded),
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert replayed.returncode == 0, replayed.stderr
    decisions = json.loads(replayed.stdout)["decisions"]
    critical = [d for d in decisions if d["severity"] == "critical"]
    assert [d["rule"] for d in critical] == ["memory-high"]
    assert critical[0]["time"] >= switch_step
    blind = [d for d in decisions if d["rule"] == "blind:flaky" and d["severity"] == "warning"]
    assert len(blind) == 1
