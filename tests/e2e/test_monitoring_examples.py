"""The shipped Prometheus and Alertmanager examples are valid, and their rules do what they say.

``promtool`` (Debian ``prometheus``) checks the scrape configuration and the rules and runs
the rules' unit tests (examples/prometheus/post-upgrade.rules.test.yml: each alert fires for
the broken host only, and not before its ``for``); ``amtool`` (Debian
``prometheus-alertmanager``) checks the routing.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
PROMETHEUS = EXAMPLES / "prometheus"
ALERTMANAGER = EXAMPLES / "alertmanager" / "alertmanager.yml"


def _tool(name: str) -> str:
    found = shutil.which(name) or (
        f"/usr/bin/{name}" if Path(f"/usr/bin/{name}").exists() else None
    )
    if found is None:
        pytest.fail(f"{name} not installed: run scripts/install-system-deps as root", pytrace=False)
    return found


def _run(*command: str, cwd: Path) -> str:
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


def test_prometheus_config_is_valid():
    out = _run(_tool("promtool"), "check", "config", "prometheus.yml", cwd=PROMETHEUS)
    assert "SUCCESS" in out


def test_alert_rules_are_valid_and_their_unit_tests_pass():
    promtool = _tool("promtool")
    _run(promtool, "check", "rules", "post-upgrade.rules.yml", cwd=PROMETHEUS)
    out = _run(promtool, "test", "rules", "post-upgrade.rules.test.yml", cwd=PROMETHEUS)
    assert "SUCCESS" in out


def test_every_alert_rule_is_unit_tested_and_keeps_the_target_label():
    rules = yaml.safe_load((PROMETHEUS / "post-upgrade.rules.yml").read_text())
    tests = yaml.safe_load((PROMETHEUS / "post-upgrade.rules.test.yml").read_text())
    names = {r["alert"] for g in rules["groups"] for r in g["rules"]}
    tested = {
        case["alertname"]
        for test in tests["tests"]
        for case in test.get("alert_rule_test", [])
        if case.get("exp_alerts")
    }
    assert names == tested
    for test in tests["tests"]:
        for case in test.get("alert_rule_test", []):
            for alert in case.get("exp_alerts", []):
                # rollsafe maps an alert to a target by this label (target_label).
                assert alert["exp_labels"]["rollsafe_target"] == "web-1"
                assert alert["exp_labels"]["severity"] in ("warning", "critical")


def test_alertmanager_config_is_valid_and_routes_to_the_intake_endpoint():
    out = _run(_tool("amtool"), "check-config", str(ALERTMANAGER), cwd=ALERTMANAGER.parent)
    assert "SUCCESS" in out
    config = yaml.safe_load(ALERTMANAGER.read_text())
    [receiver] = [r for r in config["receivers"] if r["name"] == "rollsafe"]
    [webhook] = receiver["webhook_configs"]
    assert webhook["url"].endswith("/intake/alertmanager")
    assert webhook["send_resolved"] is True
    [route] = [r for r in config["route"]["routes"] if r["receiver"] == "rollsafe"]
    assert route["continue"] is True  # people are still paged
