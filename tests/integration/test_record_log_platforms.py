"""``rollsafe record`` from log platforms: the probe's query pair asked at every step.

The stand-ins serve from a thread of their own (``record`` runs its own event loop, as the
command line does). Each step must be the observation the live probe would have made at that
time, and the recording must replay through the same rules as a log probe's.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rollsafe.backtest import capturing, recordings
from rollsafe.config import models
from rollsafe.interfaces.cli import main
from support.log_platforms import ClsStandIn, ElasticsearchStandIn, LokiStandIn, SlsStandIn

START = 1_714_557_600.0  # 2024-05-01T10:00:00Z
HOST = {"host.name": "web-1"}


def _config(probe: dict[str, object]) -> models.RollsafeConfig:
    return models.RollsafeConfig.model_validate(
        {"targets": [{"id": "web-1"}, {"id": "db-1", "labels": {"role": "db"}}], "probes": [probe]}
    )


def test_record_asks_elasticsearch_once_per_step_with_the_live_window(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ES_KEY", "k-1")
    es = ElasticsearchStandIn(api_key="k-1")
    es.add("logs-a", time=START + 10, message="oom-kill one", **HOST)
    es.add("logs-a", time=START + 70, message="oom-kill two", **HOST)
    es.add("logs-a", time=START + 75, message="oom-kill three", **HOST)
    es.add("logs-a", time=START + 80, message="quiet", **HOST)
    es.add("logs-a", time=START + 150, message="oom-kill on db", **{"host.name": "db-1"})
    config = _config(
        {
            "kind": "elasticsearch",
            "name": "oom",
            "targets": {"ids": ["web-1"]},
            "url": "http://placeholder",
            "index": "logs-*",
            "query": '"oom-kill"',
            "host_field": "host.name",
            "interval": "60s",
            "api_key_env": "ES_KEY",
        }
    )
    with es.in_thread():
        probe = config.probes[0].model_copy(update={"url": es.url})
        done = capturing.record(
            config.model_copy(update={"probes": [probe]}), start=START, end=START + 180
        )
    assert done.platform_steps == 3
    got = [(o.time - START, o.target, o.value, o.text, o.error) for o in done.observations]
    assert got == [
        (60.0, "web-1", 1.0, "oom-kill one", None),
        (120.0, "web-1", 2.0, "oom-kill three", None),
        (180.0, "web-1", 0.0, None, None),
    ]
    counts = sorted(
        (s.body["query"]["bool"]["filter"][0]["range"]["@timestamp"]["lte"] / 1000) - START
        for s in es.seen
        if s.path.endswith("/_count")
    )
    assert counts == [60.0, 120.0, 180.0]
    assert sum(1 for s in es.seen if s.path.endswith("/_search")) == 2  # not for the zero


def test_record_fails_when_the_platform_keeps_failing() -> None:
    es = ElasticsearchStandIn()
    es.mode = "down"
    config = _config(
        {
            "kind": "elasticsearch",
            "name": "oom",
            "url": "http://placeholder",
            "index": "logs-*",
            "query": '"oom"',
            "interval": "60s",
        }
    )
    waits: list[float] = []

    async def no_wait(seconds: float) -> None:
        waits.append(seconds)

    with es.in_thread():
        probe = config.probes[0].model_copy(update={"url": es.url})
        assert isinstance(probe, models.ElasticsearchProbe)
        with pytest.raises(capturing.RecordError) as caught:
            capturing.platform_observations(
                probe, config.targets[0], start=START, end=START + 60, sleep=no_wait
            )
    assert str(caught.value) == (
        "probe oom on web-1 at 2024-05-01T10:01:00Z: elasticsearch is unavailable for now "
        "(HTTP 503): 'service unavailable'"
    )
    assert len(es.seen) == capturing.PLATFORM_RETRIES + 1
    assert waits == [1.0] * capturing.PLATFORM_RETRIES


def test_record_refuses_a_range_of_too_many_steps() -> None:
    config = _config(
        {
            "kind": "loki",
            "name": "panics",
            "url": "http://127.0.0.1:9",
            "selector": '{host="$id"}',
            "interval": "1s",
        }
    )
    probe = config.probes[0]
    assert isinstance(probe, models.LokiProbe)
    with pytest.raises(capturing.RecordError, match="more than 50000"):
        capturing.platform_observations(probe, config.targets[0], start=0, end=86_400)


def test_record_cli_from_loki_then_backtest_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOKI_TOKEN", "t-1")
    loki = LokiStandIn(tenant="ops", token="t-1")
    labels = {"job": "syslog", "host": "web-1"}
    for second in (20, 21, 40):
        loki.add(labels, time=START + second, line=f"kernel: Kernel panic #{second}")
    loki.add(labels, time=START + 41, line="kernel: fine")
    with loki.in_thread():
        config = tmp_path / "rollsafe.yaml"
        config.write_text(
            textwrap.dedent(
                f"""\
                targets: [{{id: web-1}}]
                probes:
                  - kind: loki
                    name: panics
                    url: {loki.url}
                    selector: '{{job="syslog", host="$id"}}'
                    pipeline: '|= "Kernel panic"'
                    tenant: ops
                    token_env: LOKI_TOKEN
                    interval: 15s
                rules:
                  - {{id: panic, kind: threshold, probe: panics, op: ">", value: 1,
                     severity: critical}}
                """
            ),
            encoding="utf-8",
        )
        out = tmp_path / "recorded.jsonl"
        result = CliRunner().invoke(
            main.app,
            [
                "record",
                "-c",
                str(config),
                "--start",
                "2024-05-01T10:00:00Z",
                "--end",
                "2024-05-01T10:01:00Z",
                "-o",
                str(out),
            ],
            env={"COLUMNS": "200", "LOKI_TOKEN": "t-1"},
        )
    assert result.exit_code == 0, result.output
    assert "recorded 4 observations (0 without data) from 0 Prometheus queries and 4 log " in (
        result.output
    )
    recorded = recordings.read(out)
    assert [(o.time - START, o.value, o.text) for o in recorded.observations] == [
        (15.0, 0.0, None),
        (30.0, 2.0, "kernel: Kernel panic #21"),
        (45.0, 1.0, "kernel: Kernel panic #40"),
        (60.0, 0.0, None),
    ]
    replayed = CliRunner().invoke(
        main.app, ["backtest", "-c", str(config), "--data", str(out), "--json"]
    )
    assert replayed.exit_code == 0, replayed.output
    decisions = json.loads(replayed.output)["decisions"]
    assert [(d["rule"], d["severity"], d["offset"]) for d in decisions] == [
        ("panic", "critical", 30.0),
        ("panic", "ok", 45.0),  # one panic line in that step: not above 1
    ]


def test_record_from_sls_and_cls_gives_the_same_steps(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "LTAI-t")
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "s-1")
    monkeypatch.setenv("TENCENTCLOUD_SECRET_ID", "AKID-t")
    monkeypatch.setenv("TENCENTCLOUD_SECRET_KEY", "s-2")
    sls = SlsStandIn(project="ops", logstore="kern", keys={"LTAI-t": "s-1"})
    cls = ClsStandIn(region="ap-shanghai", secret_id="AKID-t", secret_key="s-2")
    for second in (5, 50, 55, 130):
        line = f"Kernel panic - not syncing #{second}"
        sls.add(time=int(START) + second, content=line, topic="web-1")
        cls.add("topic-web-1", time_ms=int(START + second) * 1000, content=line)
    with sls.in_thread(), cls.in_thread():
        config = models.RollsafeConfig.model_validate(
            {
                "targets": [{"id": "web-1"}],
                "probes": [
                    {
                        "kind": "sls",
                        "name": "sls-panics",
                        "endpoint": f"http://127.0.0.1:{sls.port}",
                        "project": "ops",
                        "logstore": "kern",
                        "query": '"Kernel panic"',
                        "topic": "{id}",
                        "interval": "60s",
                    },
                    {
                        "kind": "cls",
                        "name": "cls-panics",
                        "region": "ap-shanghai",
                        "topic_id": "topic-{id}",
                        "query": '"Kernel panic"',
                        "endpoint": f"127.0.0.1:{cls.port}",
                        "protocol": "http",
                        "interval": "60s",
                    },
                ],
            }
        )
        done = capturing.record(config, start=START, end=START + 180)
    by_source: dict[str, list[tuple[float, float | None, str | None]]] = {}
    for o in done.observations:
        assert o.error is None, o.error
        by_source.setdefault(o.source, []).append((o.time - START, o.value, o.text))
    expected = [
        (60.0, 3.0, "Kernel panic - not syncing #55"),
        (120.0, 0.0, None),
        (180.0, 1.0, "Kernel panic - not syncing #130"),
    ]
    assert by_source == {"sls-panics": expected, "cls-panics": expected}
    assert done.platform_steps == 6


def test_a_preset_signal_bound_to_a_platform_probe_judges_its_recording(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The web-service preset's OOM rules, unchanged, on an elasticsearch probe's steps."""
    monkeypatch.setenv("ES_KEY", "k-1")
    es = ElasticsearchStandIn(api_key="k-1")
    for second in (100, 110, 120, 130):
        es.add("kern-1", time=START + second, message="oom-kill:constraint=NONE", **HOST)
    with es.in_thread():
        config = tmp_path / "rollsafe.yaml"
        config.write_text(
            textwrap.dedent(
                f"""\
                targets: [{{id: web-1}}]
                probes:
                  - {{kind: http, name: health, url: "http://127.0.0.1:9/"}}
                  - kind: elasticsearch
                    name: kernel-oom
                    url: {es.url}
                    index: kern-*
                    query: '"oom-kill"'
                    host_field: host.name
                    api_key_env: ES_KEY
                    interval: 30s
                presets:
                  - preset: web-service
                    signals: {{health: health, oom: kernel-oom}}
                """
            ),
            encoding="utf-8",
        )
        out = tmp_path / "recorded.jsonl"
        env = {"COLUMNS": "200", "ES_KEY": "k-1"}
        args = ["record", "-c", str(config), "--start", str(START), "--end", str(START + 300)]
        result = CliRunner().invoke(main.app, [*args, "-o", str(out)], env=env)
    assert result.exit_code == 0, result.output
    replayed = CliRunner().invoke(
        main.app, ["backtest", "-c", str(config), "--data", str(out), "--json"], env=env
    )
    assert replayed.exit_code == 0, replayed.output
    decisions = json.loads(replayed.output)["decisions"]
    # Steps of 30 s: (90, 120] holds three OOM lines. The preset's rate rules see 3 lines in
    # the 90 s the recording covers so far, 20 per 10 minutes: any warns, more than
    # oom_lines_above (3) per 10 minutes rolls back.
    assert [(d["rule"], d["severity"], d["offset"]) for d in decisions][:2] == [
        ("web-service.oom-kill", "warning", 120.0),
        ("web-service.oom-kills", "critical", 120.0),
    ]
    assert decisions[1]["evidence"]["probe"] == "kernel-oom"
    assert decisions[1]["evidence"]["sum"] == 3.0
