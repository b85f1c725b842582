"""The `server` and `intake` sections, the `alert` rule, and their cross-section checks."""

from __future__ import annotations

import textwrap

import pytest
from pydantic import ValidationError

from rollsafe.config import loading, models
from rollsafe.domain import errors


def load(tmp_path, text):
    path = tmp_path / "rollsafe.yaml"
    path.write_text(textwrap.dedent(text))
    return loading.load(path)


def problems(tmp_path, text):
    with pytest.raises(errors.ConfigError) as caught:
        load(tmp_path, text)
    return caught.value.problems


BASE = """
targets:
  - id: web-1
    address: 10.0.0.11
"""


def test_defaults():
    config = models.RollsafeConfig()
    assert config.server == models.Server()
    assert (config.server.address, config.server.port) == ("127.0.0.1", 8787)
    assert config.server.max_body_bytes == 1024 * 1024
    assert config.server.enabled
    assert config.server.tls is None
    assert config.intake == []


def test_a_full_intake_section_loads(tmp_path):
    loaded = load(
        tmp_path,
        BASE
        + """
server:
  address: 0.0.0.0
  port: 9443
  tls: {certfile: tls/cert.pem, keyfile: tls/key.pem}
  max_body_bytes: 65536
intake:
  - name: alertmanager
    kind: alertmanager
    auth: {kind: bearer, token_env: AM_TOKEN}
    target_label: instance
    strip_port: true
  - name: grafana
    kind: grafana
    auth: {kind: grafana_hmac, secret_file: grafana.key, timestamp_header: X-Ts}
    match: [{labels: {service: api}, target: web-1}]
  - name: cloudwatch
    kind: sns
    topic_arn: arn:aws:sns:us-east-1:123456789012:alarms
    target_label: InstanceId
    resolve_by: ["label:instance_id"]
  - name: aliyun
    kind: aliyun
    auth: {kind: bearer, token_file: aliyun.token, allow_query: true}
    target_label: instanceId
  - name: tencent
    kind: tencent
    auth: {kind: bearer, token_env: TC, allow_query: true}
    target_label: unInstanceId
    utc_offset: 8
  - name: scripts
    kind: generic
    source: custom
    auth: {kind: hmac, secret_env: HOOK_KEY}
    target_label: host
    severity: {label: level, map: {P1: critical}, default: info}
rules:
  - id: am-critical
    kind: alert
    source: alertmanager
    alertname: HighErrorRate
    min_severity: critical
    severity: critical
  - id: custom-any
    kind: threshold
    probe: custom
    op: ">="
    value: 1
""",
    )
    config = loaded.config
    assert [e.kind for e in config.intake] == [
        "alertmanager",
        "grafana",
        "sns",
        "aliyun",
        "tencent",
        "generic",
    ]
    assert config.intake[2].auth == models.NoAuth(kind="none")  # SNS signs its messages
    assert config.intake[5].source_name == "custom"
    assert config.rules[0].alertname == ["HighErrorRate"]


@pytest.mark.parametrize(
    ("snippet", "expected"),
    [
        (
            "intake: [{name: a, kind: alertmanager, auth: {kind: none}}]",
            "give `target_label`, `match`, or both",
        ),
        (
            "intake: [{name: a, kind: alertmanager, target_label: x,"
            " auth: {kind: bearer, token_env: A, token_file: b}}]",
            "exactly one of `token_env` or `token_file`",
        ),
        (
            "intake: [{name: a, kind: alertmanager, target_label: x, auth: {kind: hmac}}]",
            "exactly one of `secret_env` or `secret_file`",
        ),
        ("intake: [{name: a, kind: sns, target_label: x, topic_arn: nope}]", "topic_arn"),
        ("intake: [{name: a, kind: pagerduty, target_label: x}]", "unknown kind 'pagerduty'"),
        ("server: {port: 70000}", "server.port"),
        (
            "intake: [{name: a, kind: generic, auth: {kind: none}, target_label: x,"
            " resolve_by: [hostname]}]",
            "resolve_by",
        ),
    ],
)
def test_model_errors(tmp_path, snippet, expected):
    found = problems(tmp_path, BASE + snippet + "\n")
    assert any(expected in p for p in found), found


def test_cross_checks(tmp_path):
    found = problems(
        tmp_path,
        BASE
        + """
intake:
  - name: am
    kind: alertmanager
    auth: {kind: none}
    match: [{labels: {a: b}, target: web-9}]
  - name: am
    kind: generic
    auth: {kind: none}
    target_label: host
rules:
  - id: r1
    kind: alert
    source: alertmanagr
  - id: r2
    kind: threshold
    probe: nothing
    op: ">"
    value: 1
""",
    )
    text = "\n".join(found)
    assert "intake[0].match[0].target: unknown target 'web-9'" in text
    assert "intake[1].name: duplicate intake endpoint name 'am'" in text
    assert (
        "rules[0].source: unknown intake source 'alertmanagr' (expected one of the intake "
        "sources: am)" in text
    )
    assert "rules[1].probe: unknown probe 'nothing'" in text


def test_alert_rule_model():
    rule = models.AlertRule.model_validate(
        {"id": "r", "kind": "alert", "source": "am", "labels": {"team": "web"}}
    )
    assert rule.alertname is None
    assert rule.min_severity == "info"
    assert rule.severity == "warning"
    with pytest.raises(ValidationError):
        models.AlertRule.model_validate(
            {"id": "r", "kind": "alert", "source": "am", "min_severity": "urgent"}
        )


def test_the_commented_example_is_valid(tmp_path):
    """The commented server/intake section of examples/rollsafe.yaml, uncommented, loads."""
    from pathlib import Path

    example = Path(__file__).resolve().parents[3] / "examples" / "rollsafe.yaml"
    text = example.read_text(encoding="utf-8")
    block = text[text.index("# server:") :]
    lines = []
    rules = []
    in_rules = False
    for line in block.splitlines():
        if line.startswith("# And a rule"):
            in_rules = True
            continue
        if not line.startswith("#"):
            continue
        content = line[2:] if line.startswith("# ") else line[1:]
        (rules if in_rules else lines).append(content)
    uncommented = "\n".join(lines) + "\nrules:\n" + "\n".join(rules)
    path = tmp_path / "rollsafe.yaml"
    path.write_text(
        textwrap.dedent(
            """\
            targets:
              - {id: web-1, address: 10.0.0.11, labels: {instance_id: i-0abc}}
            probes:
              - {name: web-health, kind: http, url: "http://{address}/health"}
            """
        )
        + uncommented.replace(
            "rules:\n",
            "rules:\n  - {kind: threshold, id: http-5xx, probe: web-health, op: '<', value: 1}\n",
        )
    )
    config = loading.load(path).config
    assert [e.name for e in config.intake] == ["alertmanager", "grafana", "cloudwatch"]
    assert config.server.address == "0.0.0.0"
