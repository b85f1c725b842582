"""``rollsafe backtest --data`` and ``rollsafe record`` (log files) as a person runs them."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from typer.testing import CliRunner

from rollsafe.backtest import recordings
from rollsafe.interfaces.cli import main

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "tests" / "scenarios"
CONFIG = SCENARIOS / "rollsafe.yaml"
ENV = {"COLUMNS": "200"}
ROLLSAFE = Path(sys.executable).parent / "rollsafe"


def _cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main.app, list(args), env=ENV)
    return result.exit_code, result.output


def test_data_prints_every_decision_and_the_score() -> None:
    code, output = _cli(
        "backtest", "-c", str(CONFIG), "--data", str(SCENARIOS / "fault-crash-after-upgrade.jsonl")
    )
    assert code == 0, output
    assert "fault-crash-after-upgrade: " in output
    assert "2h from 2023-11-14T22:13:20Z to 2023-11-15T00:13:20Z" in output
    for column in ("at", "time (UTC)", "target", "severity", "rule", "evidence"):
        assert column in output
    # When web-1 was judged down: 33 s after the crash. The scenario probes health every 30 s:
    # since round 9 two failing checks at the probe's own pace spanning down_for (30 s) are
    # enough (rules._paced); a third, 63 s after the crash, was needed before.
    assert "+1:04:33" in output
    assert "web-service.down" in output
    assert (
        "health value 0 < 1 (2 times in a row, a check every 30s, failing checks spanning 30s)"
        in output
    )
    assert "precision 1.000  recall 1.000  (TP 1, FP 0, FN 0, TN 1)" in output


def test_data_json_is_stable_and_identical_on_every_replay() -> None:
    args = ("backtest", "-c", str(CONFIG), "--data", str(SCENARIOS / "fault-oom-kills.jsonl"))
    code, first = _cli(*args, "--json")
    assert code == 0, first
    _, second = _cli(*args, "--json")
    assert first == second
    report = json.loads(first)
    assert report["format"] == "rollsafe-backtest"
    assert report["version"] == 1
    assert set(report) == {
        "format",
        "version",
        "config",
        "file",
        "recording",
        "judged_observations",
        "unconfigured_targets",
        "decisions",
        "score",
        "near_misses",
    }
    assert report["near_misses"] == {}  # nothing was missed
    assert report["recording"]["labelled"] is True
    decision = next(d for d in report["decisions"] if d["severity"] == "critical")
    assert set(decision) == {"time", "offset", "target", "rule", "severity", "summary", "evidence"}
    assert decision["rule"] == "batch-host.oom-kills"
    assert decision["evidence"]["kind"] == "rate"
    assert report["score"]["targets"][0]["outcome"] == "TP"


def test_mistakes_exit_2_with_what_is_wrong(tmp_path: Path) -> None:
    code, output = _cli("backtest", "-c", str(CONFIG))
    assert code == 2
    assert "give exactly one of --data FILE and --corpus DIR" in output
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"t": 1, "target": "web-1", "source": "health"}\n{oops\n', encoding="utf-8")
    code, output = _cli("backtest", "-c", str(CONFIG), "--data", str(broken))
    assert code == 2
    assert f"{broken}:1: an observation needs one of value" in output
    assert f"{broken}:2: not JSON" in output
    code, output = _cli("backtest", "-c", str(tmp_path / "none.yaml"), "--data", str(broken))
    assert code == 2
    assert "cannot read" in output
    code, output = _cli("backtest", "-c", str(CONFIG), "--corpus", str(broken))
    assert code == 2
    assert "not a directory" in output


def test_an_unlabelled_recording_of_an_unknown_target_is_replayed_without_a_score(
    tmp_path: Path,
) -> None:
    data = tmp_path / "plain.jsonl"
    data.write_text(
        "".join(
            json.dumps({"time": 1000 + 30 * k, "target": "web-7", "source": "health", "value": 0})
            + "\n"
            for k in range(4)
        ),
        encoding="utf-8",
    )
    code, output = _cli("backtest", "-c", str(CONFIG), "--data", str(data))
    assert code == 0, output
    assert "targets not in the configuration, judged without labels: web-7" in output
    assert "unlabelled recording: no score" in output
    assert "0 decisions" in output  # the presets select targets by label: web-7 has none


LOG = """\
2024-05-01T10:00:05Z INFO app: started
2024-05-01T10:00:20Z ERROR app: cannot reach the database
2024-05-01T10:00:21Z ERROR app: cannot reach the database
Traceback (most recent call last):
2024-05-01T10:00:40Z ERROR app: cannot reach the database
2024-05-01T10:02:00Z ERROR app: after the range
"""


def test_record_from_a_log_file_then_backtest_it(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_text(LOG, encoding="utf-8")
    config = tmp_path / "rollsafe.yaml"
    config.write_text(
        textwrap.dedent(
            f"""\
            targets: [{{id: web-1}}]
            probes:
              - {{kind: log, name: app-log, path: "{tmp_path}/{{id}}.log", presets: [app_error],
                 interval: 15s}}
            rules:
              - {{id: errors, kind: rate, probe: app-log, window: 1m, above: 2,
                 severity: critical}}
            """
        ),
        encoding="utf-8",
    )
    out = tmp_path / "recorded.jsonl"
    # A real process, as a person runs it: the summary goes to stderr, the file to -o.
    done = subprocess.run(
        [
            str(ROLLSAFE),
            "record",
            "-c",
            str(config),
            "--start",
            "2024-05-01T10:00:00Z",
            "--end",
            "2024-05-01T10:01:00Z",
            "--log",
            f"app-log:web-1={log}",
            "--upgrade",
            "web-1@2024-05-01T10:00:10Z",
            "--fault",
            "web-1@2024-05-01T10:00:15Z",
            "--name",
            "db-outage",
            "-o",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "3 log lines from 1 log, 1 mark: 4 records" in done.stderr
    recording = recordings.read(out)
    assert recording.name == "db-outage"
    assert [line.line for line in recording.log_lines] == [
        "2024-05-01T10:00:20Z ERROR app: cannot reach the database",
        "2024-05-01T10:00:21Z ERROR app: cannot reach the database",
        "2024-05-01T10:00:40Z ERROR app: cannot reach the database",
    ]
    assert recording.header.faults[0].start == 1714557615.0
    code, output = _cli("backtest", "-c", str(config), "--data", str(out), "--json")
    assert code == 0, output
    report = json.loads(output)
    (decision,) = report["decisions"]
    # More than 2 errors a minute: the third error line (10:00:40) is judged at the next look,
    # 45 s in. Since round 9 a partly watched window is never scaled above the count seen
    # (rules._rate_floor), so the first two lines alone, 10 s after the probe's first value,
    # no longer read as 8 a minute (critical at 30 s before).
    assert (decision["rule"], decision["severity"], decision["offset"]) == (
        "errors",
        "critical",
        45.0,
    )
    assert report["score"]["tp"] == 1


def test_record_needs_a_range(tmp_path: Path) -> None:
    code, output = _cli("record", "-c", str(CONFIG))
    assert code == 2
    assert "give exactly one of --start and --since" in output
    code, output = _cli("record", "-c", str(CONFIG), "--since", "5 minutes")
    assert code == 2
    assert "--since:" in output
    code, output = _cli("record", "-c", str(CONFIG), "--since", "1h", "--upgrade", "web-1")
    assert code == 2
    assert "expected TARGET@TIME" in output
