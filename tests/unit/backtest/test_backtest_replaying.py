"""Replaying: log lines become the log probe's observations; decisions are the daemon's."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from rollsafe.backtest import recordings, replaying
from rollsafe.config import models
from rollsafe.config import presets as preset_catalog
from rollsafe.detect.probes import logs
from rollsafe.domain import ids, observations, verdicts
from rollsafe.judge import engine
from rollsafe.testing import clocks

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
TRICKY_LINES = [
    "2024-05-01 10:00:01,001 ERROR [main] app: boom",
    "2024-05-01 10:00:02,001 WARN [main] app: payments status: ERROR budget at 80%",
    "[Sun Dec 04 04:47:44 2005] [error] mod_jk child workerEnv in error state 6",
    "Jun 14 15:16:01 combo sshd(pam_unix)[19939]: authentication failure; user unknown",
    "Jun 14 15:16:02 combo logrotate: ALERT exited abnormally with [1]",
    'level=error msg="disk full"',
    '{"level": "fatal", "msg": "gone"}',
    "Nov 14 23:20:11 web-1 kernel: [1.0] Out of memory: Killed process 42 (java)",
    "Nov 14 23:20:11 web-1 kernel: [1.0] Kernel panic - not syncing: Fatal exception",
    "plain text mentioning error and ERRORS without a level",
]


def _config(*, interval: str = "15s") -> models.RollsafeConfig:
    return models.RollsafeConfig.model_validate(
        {
            "targets": [{"id": "web-1"}],
            "probes": [
                {
                    "kind": "log",
                    "name": "app-log",
                    "path": "/x/{id}.log",
                    "presets": ["app_error", "oom"],
                    "patterns": ["Kernel panic"],
                    "interval": interval,
                },
                {"kind": "http", "name": "health", "url": "http://{address}/"},
            ],
            "rules": [
                {
                    "id": "errors",
                    "kind": "rate",
                    "probe": "app-log",
                    "window": "1m",
                    "above": 2,
                    "severity": "critical",
                },
                {
                    "id": "down",
                    "kind": "threshold",
                    "probe": "health",
                    "op": "<",
                    "value": 1,
                    "consecutive": 2,
                    "severity": "critical",
                },
            ],
        }
    )


def _recording(
    *lines: dict[str, object], start: float = 1000.0, end: float | None = None
) -> recordings.Recording:
    header: dict[str, object] = {"type": "header", "start": start}
    if end is not None:
        header["end"] = end
    return recordings.parse([json.dumps(header), *(json.dumps(line) for line in lines)])


def _log(t: float, line: str, target: str = "web-1") -> dict[str, object]:
    return {"type": "log", "t": t, "target": target, "source": "app-log", "line": line}


def test_log_lines_become_one_count_per_interval_with_the_last_matching_line() -> None:
    recording = _recording(
        _log(1, "ERROR first"),
        _log(14, "INFO nothing"),
        _log(15, "ERROR on the boundary\r"),
        _log(16, "ERROR next bucket"),
        end=1060.0,
    )
    found = replaying.log_observations(_config(), recording)
    assert [(o.time, o.value, o.text) for o in found] == [
        (1015.0, 2.0, "ERROR on the boundary"),
        (1030.0, 1.0, "ERROR next bucket"),
        (1045.0, 0.0, None),
        (1060.0, 0.0, None),
    ]
    assert {o.source for o in found} == {"app-log"}


def test_followed_logs_without_lines_still_report_zero_counts() -> None:
    header = {
        "type": "header",
        "start": 0,
        "end": 60,
        "logs": [{"target": "web-1", "source": "app-log"}],
    }
    recording = recordings.parse([json.dumps(header)])
    found = replaying.log_observations(_config(interval="30s"), recording)
    assert [(o.time, o.value) for o in found] == [(30.0, 0.0), (60.0, 0.0)]


async def test_lines_are_counted_exactly_as_the_live_log_probe_counts_them(tmp_path: Path) -> None:
    config = _config()
    probe_config = config.probes[0]
    assert isinstance(probe_config, models.LogProbe)
    path = tmp_path / "app.log"
    path.write_text("\n".join(TRICKY_LINES) + "\n", encoding="utf-8")
    clock = clocks.FakeClock(1015.0)
    live = logs.LogProbe(
        probe_config.model_copy(update={"path": str(path), "from_start": True}), clock
    )
    try:
        seen = await live.observe(config.targets[0])
    finally:
        await live.close()
    recording = _recording(*(_log(5, line) for line in TRICKY_LINES), end=1015.0)
    (replayed,) = replaying.log_observations(config, recording)
    assert (replayed.time, replayed.value, replayed.text) == (seen.time, seen.value, seen.text)
    assert replayed.value == 6.0  # ERROR, [error], level=error, fatal JSON, OOM, panic


def test_log_lines_of_a_source_that_is_not_a_log_probe_are_refused() -> None:
    recording = _recording(
        {"type": "log", "t": 1, "target": "web-1", "source": "health", "line": "x"}
    )
    with pytest.raises(recordings.RecordingError, match="which is a http probe"):
        replaying.replay(_config(), recording)
    unknown = _recording({"type": "log", "t": 1, "target": "web-1", "source": "nope", "line": "x"})
    with pytest.raises(recordings.RecordingError, match="which is no probe"):
        replaying.replay(_config(), unknown)


def test_decisions_are_those_of_the_daemon_path_observe_then_evaluate_the_target() -> None:
    lines = [
        {"t": t, "target": "web-1", "source": "health", "value": v}
        for t, v in [(0, 1), (15, 0), (30, 0), (45, 1), (60, 0), (75, 0)]
    ]
    lines += [_log(t, "ERROR x") for t in (50, 51, 52, 53)]
    lines.append({"type": "mark", "t": 10, "target": "web-1", "name": "upgrade"})
    lines.append({"t": 20, "target": "web-9", "source": "health", "value": 0})
    recording = _recording(*lines, end=1090.0)
    # web-9 (unconfigured, never upgraded) fails a check 10 s before web-1's outage and is
    # never seen again: a peer the fleet veto (on by default) would wait for; here the two
    # judge paths are compared on the rules alone.
    base = _config()
    off = models.FleetVeto.model_validate({"rules": []})
    config = base.model_copy(update={"policy": base.policy.model_copy(update={"fleet_veto": off})})
    replayed = replaying.replay(config, recording)

    # The daemon: fold each observation as it arrives, judge that target at once, keep changes.
    judge = engine.Engine(config)
    judge.mark(recording.marks[0])
    fed = sorted(
        replaying.observations_of(config, recording), key=lambda o: (o.time, o.target, o.source)
    )
    last: dict[tuple[str, str], verdicts.Severity] = {}
    expected = []
    for obs in fed:
        judge.observe(obs)
        for decision in judge.evaluate(obs.target, now=obs.time):
            key = (decision.target, decision.rule)
            if decision.severity != last.get(key, verdicts.Severity.OK):
                expected.append(decision)
            last[key] = decision.severity
    assert list(replayed.decisions) == expected
    summary = [(d.time, d.rule, d.severity.label) for d in replayed.decisions]
    assert (1030.0, "down", "critical") in summary
    assert (1060.0, "errors", "critical") in summary
    assert replayed.unconfigured_targets == ("web-9",)
    assert replayed.observations == len(fed)


def _preset_config() -> models.RollsafeConfig:
    from rollsafe.config import loading

    return loading.load(SCENARIOS / "rollsafe.yaml").config


def test_replaying_twice_and_shuffled_gives_identical_decisions() -> None:
    config = _preset_config()
    path = SCENARIOS / "fault-sustained-5xx.jsonl"
    first = replaying.replay(config, recordings.read(path))
    second = replaying.replay(config, recordings.read(path))
    assert first.decisions == second.decisions
    assert first.to_json() == second.to_json()
    assert any(d.severity is verdicts.Severity.CRITICAL for d in first.decisions)
    header, *body = path.read_text(encoding="utf-8").splitlines()
    random.Random(4).shuffle(body)
    shuffled = replaying.replay(
        config, recordings.parse([header, *body], name=first.recording.name)
    )
    assert shuffled.decisions == first.decisions


def test_replay_json_names_the_recording_and_places_decisions_in_it() -> None:
    config = _config()
    recording = _recording(
        {"t": 0, "target": "web-1", "source": "health", "value": 0},
        {"t": 15, "target": "web-1", "source": "health", "value": 0},
        end=1030.0,
    )
    body = replaying.replay(config, recording).to_json()
    assert body["recording"]["start"] == 1000.0
    assert body["recording"]["targets"] == ["web-1"]
    (decision,) = body["decisions"]
    assert decision["offset"] == 15.0
    assert decision["severity"] == "critical"
    assert decision["evidence"]["rule"] == "down"
    json.dumps(body, allow_nan=False)


def test_preset_config_is_expanded_and_judges_with_prefixed_rule_ids() -> None:
    config = preset_catalog.apply(_preset_config())
    ids_ = {rule.id for rule in config.rules}
    assert "web-service.down" in ids_
    assert "database-host.data-mismatch" in ids_
    mark = observations.Mark(0.0, ids.TargetId("web-1"), "upgrade")
    decisions = engine.replay(
        config,
        [
            observations.Observation(float(t), ids.TargetId("web-1"), "health", value=0.0)
            for t in range(0, 120, 30)
        ],
        [mark],
    )
    assert [d.rule for d in decisions if d.severity is verdicts.Severity.CRITICAL] == [
        "web-service.down"
    ]
