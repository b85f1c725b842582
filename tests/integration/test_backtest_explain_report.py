"""``rollsafe backtest --data``: explaining a missed fault, and the ``--report`` HTML page.

A recording whose latency rises to 1.6 times its pre-upgrade level against a rule that needs
twice: the fault is missed, and the command must say which rule came closest and by how much
(mean vs limit, as a share). The HTML page must be one self-contained document with a chart
per signal and the upgrade, fault and decision markers on them.
"""

from __future__ import annotations

import html.parser
import json
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rollsafe.backtest import recordings
from rollsafe.domain import ids, observations
from rollsafe.interfaces.cli import main

ENV = {"COLUMNS": "200"}
START = 1_700_000_000.0
CONFIG = textwrap.dedent(
    """\
    version: 1
    policy: {dry_run: true}
    targets:
      - {id: web-1, address: 10.0.0.11}
      - {id: web-2, address: 10.0.0.12}
    probes:
      - {kind: http, name: health, url: "http://{address}/health", interval: 10s}
    rules:
      - id: latency-up
        kind: baseline
        severity: critical
        probe: health
        field: latency
        aggregate: mean
        window: 10m
        before: 1h
        max_increase: 2
        min_delta: 0.05
        min_samples: 10
      - id: down
        kind: threshold
        severity: critical
        probe: health
        op: "<"
        value: 1
        consecutive: 3
        for: 30s
    """
)


def _recording(path: Path) -> None:
    """web-1: latency 0.10 s -> 0.16 s after its upgrade (x1.6, the rule needs x2) and one
    refused check; web-2: down for good from 1:30 (caught). Both labelled."""
    with path.open("w", encoding="utf-8") as stream:
        writer = recordings.Writer(stream)
        writer.header(
            start=START,
            end=START + 7200,
            name="slow-and-down",
            description="a missed latency regression and a caught outage",
            faults=[
                recordings.Fault(ids.TargetId("web-1"), START + 3660, "latency"),
                recordings.Fault(ids.TargetId("web-2"), START + 5400, "outage"),
            ],
        )
        for target in ("web-1", "web-2"):
            writer.mark(observations.Mark(START + 3600, ids.TargetId(target), "upgrade"))
        t = 5.0
        while t < 7200:
            slow = t >= 3660
            writer.observation(
                observations.Observation(
                    START + t,
                    ids.TargetId("web-1"),
                    "health",
                    value=0.0 if 5000 <= t < 5010 else 1.0,
                    status=200,
                    latency_s=0.16 if slow else 0.10,
                )
            )
            down = t >= 5400
            writer.observation(
                observations.Observation(
                    START + t,
                    ids.TargetId("web-2"),
                    "health",
                    value=0.0 if down else 1.0,
                    status=None if down else 200,
                    latency_s=0.0004 if down else 0.05,
                    text="connect failed: Connection refused" if down else None,
                )
            )
            t += 10.0
        writer.observation(
            observations.Observation(
                START + 6000, ids.TargetId("web-1"), "health", error="timeout after 5s"
            )
        )


@pytest.fixture
def case(tmp_path: Path) -> tuple[Path, Path]:
    config = tmp_path / "rollsafe.yaml"
    config.write_text(CONFIG, encoding="utf-8")
    data = tmp_path / "slow-and-down.jsonl"
    _recording(data)
    return config, data


def _cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main.app, list(args), env=ENV)
    return result.exit_code, result.output


def test_a_missed_fault_names_the_rules_that_came_closest(case: tuple[Path, Path]) -> None:
    config, data = case
    code, output = _cli("backtest", "-c", str(config), "--data", str(data))
    assert code == 0, output
    assert "web-1: the fault was missed" in output
    # 0.16 s against a limit of max(0.10 x 2, 0.10 + 0.05) = 0.20 s: 80% of the way.
    assert "latency-up: mean 0.16 vs limit 0.2 (before the upgrade 0.1) (80%)" in output
    assert "down: 1 of 3 checks < 1 in a row" in output
    assert "web-2: the fault was missed" not in output  # caught: nothing to explain

    code, body = _cli("backtest", "-c", str(config), "--data", str(data), "--json")
    assert code == 0, body
    near = json.loads(body)["near_misses"]
    assert list(near) == ["web-1"]
    first = near["web-1"][0]
    assert first["rule"] == "latency-up"
    assert first["closeness"] == pytest.approx(0.8)
    assert first["offset"] >= 3660


class _Page(html.parser.HTMLParser):
    """Collects what the test checks: figures, SVG elements by class, external references."""

    def __init__(self) -> None:
        super().__init__()
        self.figures: list[dict[str, str | None]] = []
        self.classes: list[str] = []
        self.external: list[str] = []
        self.scripts = 0
        self.stack: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "figure":
            self.figures.append(found)
        if tag == "script":
            self.scripts += 1
        for key in ("src", "href"):
            if found.get(key):
                self.external.append(str(found[key]))
        self.classes.extend((found.get("class") or "").split())


def test_the_report_is_one_page_with_a_chart_per_signal_and_its_markers(
    case: tuple[Path, Path], tmp_path: Path
) -> None:
    config, data = case
    page = tmp_path / "report.html"
    code, output = _cli("backtest", "-c", str(config), "--data", str(data), "--report", str(page))
    assert code == 0, output
    assert f"report written to {page}" in output.replace("\n", "")
    text = page.read_text(encoding="utf-8")
    parser = _Page()
    parser.feed(text)
    parser.close()
    assert text.startswith("<!DOCTYPE html>")
    assert parser.scripts == 0
    assert parser.external == []  # self-contained: no script, style sheet, image or font
    charts = {(f["data-target"], f["data-source"], f["data-field"]) for f in parser.figures}
    assert charts == {
        ("web-1", "health", "value"),
        ("web-1", "health", "latency"),
        ("web-2", "health", "value"),
        ("web-2", "health", "latency"),
    }
    assert parser.classes.count("upgrade-mark") == 4  # one per chart, both targets upgraded
    assert parser.classes.count("fault-mark") == 4
    assert "decision-mark" in parser.classes
    assert "severity-critical" in parser.classes  # web-2's rollback decision is drawn
    assert "error-tick" in parser.classes  # the probe error at 1:40
    assert "series" in parser.classes
    assert "Missed: the rules that came closest" in text
    assert "latency-up" in text


def test_report_needs_data(case: tuple[Path, Path], tmp_path: Path) -> None:
    config, _ = case
    code, output = _cli(
        "backtest", "-c", str(config), "--corpus", str(tmp_path), "--report", "x.html"
    )
    assert code == 2
    assert "--report needs --data" in output
