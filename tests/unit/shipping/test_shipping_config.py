"""The ``audit_shipping`` section: every sink kind loads, and mistakes are named by line."""

from __future__ import annotations

from pathlib import Path

import pytest

from rollsafe.config import loading, models
from rollsafe.domain import errors
from rollsafe.shipping import elasticsearch, loki, shipping, sls, syslog

FULL = """\
audit_shipping:
  - kind: syslog
    name: siem
    host: 127.0.0.1
    transport: tls
    facility: audit
    ca_file: /etc/ssl/siem-ca.pem
  - kind: elasticsearch
    name: es
    url: https://es.example:9200
    index: rollsafe-audit-{date}
    api_key_env: ES_API_KEY
    max_backoff: 2m
  - kind: loki
    name: loki
    url: http://loki:3100
    tenant: ops
    labels: {job: rollsafe, env: prod}
  - kind: sls
    name: sls
    endpoint: cn-hangzhou.log.aliyuncs.com
    project: ops-audit
    logstore: rollsafe
    batch_size: 1000
"""


def _load(tmp_path: Path, text: str) -> models.RollsafeConfig:
    path = tmp_path / "rollsafe.yaml"
    path.write_text(text, encoding="utf-8")
    return loading.load(path).config


def _problems(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "rollsafe.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(errors.ConfigError) as caught:
        loading.load(path)
    return [p.removeprefix(f"{path}:") for p in caught.value.problems]


def test_every_kind_loads_with_its_defaults(tmp_path):
    config = _load(tmp_path, FULL)
    siem, es, lok, ali = config.audit_shipping
    assert isinstance(siem, models.SyslogSink)
    assert (siem.port, siem.app_name, siem.facility) == (None, "rollsafe", "audit")
    assert isinstance(es, models.ElasticsearchSink)
    assert (es.max_backoff, es.batch_size, es.op_type) == (120.0, 500, "index")
    assert isinstance(lok, models.LokiSink)
    assert lok.labels == {"job": "rollsafe", "env": "prod"}
    assert isinstance(ali, models.SlsSink)
    assert ali.access_key_id_env == "ALIBABA_CLOUD_ACCESS_KEY_ID"
    assert ali.compress == "deflate"
    built = [shipping.build(sink) for sink in config.audit_shipping]
    assert [type(b) for b in built] == [
        syslog.SyslogSink,
        elasticsearch.ElasticsearchSink,
        loki.LokiSink,
        sls.SlsSink,
    ]
    assert [b.name for b in built] == ["siem", "es", "loki", "sls"]


def test_nothing_configured_ships_nothing(tmp_path):
    assert _load(tmp_path, "targets: []\n").audit_shipping == []


def test_an_unknown_kind_names_the_kinds(tmp_path):
    text = "audit_shipping:\n  - kind: splunk\n    name: s\n"
    assert _problems(tmp_path, text) == [
        "2: audit_shipping[0].kind: unknown kind 'splunk' "
        "(expected one of: syslog, elasticsearch, loki, sls)"
    ]


def test_sink_names_are_unique(tmp_path):
    text = FULL.replace("name: loki", "name: es")
    found = _problems(tmp_path, text)
    assert len(found) == 1
    assert "duplicate audit_shipping name 'es'" in found[0]


def test_half_configured_basic_auth_is_refused(tmp_path):
    text = "audit_shipping:\n  - kind: loki\n    name: l\n    url: http://x\n    username: bob\n"
    (found,) = _problems(tmp_path, text)
    assert "give both `username` and `password_env`, or neither" in found


def test_two_kinds_of_auth_are_refused(tmp_path):
    text = (
        "audit_shipping:\n  - kind: elasticsearch\n    name: e\n    url: http://x\n"
        "    api_key_env: K\n    username: u\n    password_env: P\n"
    )
    (found,) = _problems(tmp_path, text)
    assert "not both" in found


def test_loki_label_names_are_checked(tmp_path):
    text = "audit_shipping:\n  - kind: loki\n    name: l\n    url: http://x\n    labels: {1x: a}\n"
    (found,) = _problems(tmp_path, text)
    assert "is not a Loki label name" in found


def test_sls_batches_fit_a_log_group(tmp_path):
    text = FULL.replace("batch_size: 1000", "batch_size: 5000")
    (found,) = _problems(tmp_path, text)
    assert "at most 4096" in found


def test_syslog_rejects_unknown_facilities_and_transports(tmp_path):
    text = FULL.replace("facility: audit", "facility: local9").replace(
        "transport: tls", "transport: relp"
    )
    found = _problems(tmp_path, text)
    assert len(found) == 2
    assert found[0].startswith("5: audit_shipping[0].transport:")
    assert found[1].startswith("6: audit_shipping[0].facility:")
