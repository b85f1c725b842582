"""The shipped presets on the shipped scenario corpus, through ``rollsafe backtest --corpus``.

This is the measurement the presets are held to: precision and recall of at least 0.95 on
tests/scenarios, with every fault detected and no healthy target rolled back, and the same on
the corpus plus a scenario built from the real logs in ../shared/data/logs when present.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
from typer.testing import CliRunner

from rollsafe.interfaces.cli import main

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "tests" / "scenarios"
CONFIG = SCENARIOS / "rollsafe.yaml"
REAL_LOGS = ROOT.parent / "shared" / "data" / "logs"
ENV = {"COLUMNS": "200"}
REQUIRED = {  # what the corpus must cover (issue #8), by scenario file
    "fault-crash-after-upgrade",
    "fault-sustained-5xx",
    "fault-slow-memory-leak",
    "fault-latency-regression",
    "fault-oom-kills",
    "fault-kernel-panic",
    "fault-data-check-mismatch",
    "healthy-warmup-blip",
    "healthy-cron-cpu-spike",
    "healthy-noisy-error-logs",
    "healthy-monitoring-gap",
    "healthy-flapping-alert",
}


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("scenario_generator", SCENARIOS / "generate.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being defined
    spec.loader.exec_module(module)
    return module


def _corpus(directory: Path, *extra: str) -> tuple[int, str]:
    result = CliRunner().invoke(
        main.app, ["backtest", "-c", str(CONFIG), "--corpus", str(directory), *extra], env=ENV
    )
    return result.exit_code, result.output


def test_shipped_presets_score_at_least_095_on_the_shipped_corpus() -> None:
    code, output = _corpus(SCENARIOS, "--json")
    assert code == 0, output
    report = json.loads(output)
    assert report["format"] == "rollsafe-backtest-corpus"
    assert report["version"] == 1
    names = {s["name"] for s in report["scenarios"]}
    assert names >= REQUIRED
    assert report["skipped"] == []
    total = report["total"]
    assert total["precision"] >= 0.95
    assert total["recall"] >= 0.95
    assert total["tp"] >= 7
    assert total["tn"] >= 7
    for scenario in report["scenarios"]:
        for target in scenario["targets"]:
            expected = "TP" if target["fault"] else "TN"
            assert target["outcome"] == expected, (scenario["name"], target)
    assert total["delay_s"]["count"] == total["tp"]
    assert 0 < total["delay_s"]["median"] <= total["delay_s"]["max"]


def test_the_corpus_table_is_printed_with_totals() -> None:
    code, output = _corpus(SCENARIOS, "--min-precision", "0.95", "--min-recall", "0.95")
    assert code == 0, output
    assert "backtest of 14 labelled recordings" in output
    for name in REQUIRED:
        assert name in output
    assert "web-service.errors-confirmed" in output  # the rule that rolled back the 5xx
    assert "precision 1.000  recall 1.000" in output
    assert "detection delay median" in output


@pytest.mark.may_skip  # optional data beside the repository, not a component
@pytest.mark.skipif(
    not (REAL_LOGS / "Apache_2k.log").is_file(),
    reason=f"real logs not available at {REAL_LOGS} (optional data, see shared/data/README.md)",
)
def test_real_noisy_logs_roll_nothing_back(tmp_path: Path) -> None:
    for path in SCENARIOS.glob("*.jsonl"):
        shutil.copy(path, tmp_path / path.name)
    (tmp_path / "healthy-real-noise.jsonl").write_text(
        _generator().real_noise(REAL_LOGS), encoding="utf-8"
    )
    code, output = _corpus(tmp_path, "--json", "--min-precision", "0.95", "--min-recall", "0.95")
    assert code == 0, output
    report = json.loads(output)
    (real,) = [s for s in report["scenarios"] if s["name"] == "healthy-real-noise"]
    assert [t["outcome"] for t in real["targets"]] == ["TN", "TN"]
    assert real["criticals"] == 0
    assert report["total"]["precision"] >= 0.95
    assert report["total"]["recall"] >= 0.95


def test_a_policy_below_the_bar_exits_1(tmp_path: Path) -> None:
    # Without the rules that catch them, several faults go unseen: recall drops.
    weak = CONFIG.read_text(encoding="utf-8").replace(
        "  - preset: web-service\n",
        "  - preset: web-service\n    exclude: [down, errors-confirmed, latency-up, memory-leak]\n",
    )
    config = tmp_path / "weak.yaml"
    config.write_text(weak, encoding="utf-8")
    corpus = tmp_path / "faults"
    corpus.mkdir()
    for path in SCENARIOS.glob("fault-*.jsonl"):
        shutil.copy(path, corpus / path.name)
    result = CliRunner().invoke(
        main.app,
        ["backtest", "-c", str(config), "--corpus", str(corpus), "--min-recall", "0.95"],
        env=ENV,
    )
    assert result.exit_code == 1, result.output
    assert "below the bar: recall" in result.output


def test_the_corpus_is_what_the_generator_writes_and_stays_small() -> None:
    check = subprocess.run(
        [sys.executable, str(SCENARIOS / "generate.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    total = sum(path.stat().st_size for path in SCENARIOS.glob("*.jsonl"))
    assert total < 700 * 1024
