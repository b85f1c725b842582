"""Shipped presets: definitions, expansion into rules, and mistakes reported with their line."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest
import yaml

from rollsafe.config import loading, models
from rollsafe.config import presets as preset_catalog
from rollsafe.config.presets import catalog, expanding
from rollsafe.detect.probes import logevents
from rollsafe.domain import errors, ids, observations, verdicts
from rollsafe.judge import engine

DOCS = Path(__file__).resolve().parents[3] / "docs" / "presets.md"
CORPUS_CONFIG = Path(__file__).resolve().parents[3] / "corpus" / "rollsafe.yaml"
KIND_FOR = {  # a probe kind that can provide each signal, for expanding everything
    "health": "http",
    "query": "command",
    "app_errors": "log",
    "job_errors": "log",
    "job_duration": "promql",
    "oom": "log",
    "panic": "log",
    "cpu": "host",
    "memory": "host",
    "data_check": "command",
    "error_ratio": "promql",
    "latency": "promql",
    "requests": "promql",
    "saturation": "promql",
    "kernel_bugs": "log",
    "nic_hangs": "log",
    "lockups": "log",
    "segfaults": "log",
    "db_crashes": "log",
    "unit_failures": "log",
    "unit_gave_up": "log",
}


def _everything_bound(name: str) -> models.PresetUse:
    preset = catalog.get(name)
    return models.PresetUse(preset=name, signals={s: f"p-{s}" for s in preset.signals})


def _probes() -> dict[str, str]:
    return {f"p-{signal}": kind for signal, kind in KIND_FOR.items()}


def test_the_three_presets_ship_and_every_rule_is_valid_with_every_signal_bound() -> None:
    assert catalog.names() == ["batch-host", "database-host", "web-service"]
    for name in catalog.names():
        preset = catalog.get(name)
        rules, found = expanding.expand(
            _everything_bound(name), index=0, probes=_probes(), taken=set()
        )
        assert found == []
        assert [r.id for r in rules] == [f"{name}.{r.id}" for r in preset.rules]
        assert all(param.why for param in preset.params.values())
        assert any(r.severity == "critical" for r in rules)
        # Thresholds are parameters: no rule text keeps an unreplaced placeholder.
        assert not any("$" in r.model_dump_json() for r in rules)


def test_every_preset_rule_and_parameter_is_explained_in_the_docs() -> None:
    text = DOCS.read_text(encoding="utf-8")
    for name in catalog.names():
        preset = catalog.get(name)
        assert f"`{name}`" in text
        for rule in preset.rules:
            assert f"`{rule.id}`" in text, f"{name}: rule {rule.id} not in docs/presets.md"
        for param in preset.params:
            assert f"`{param}`" in text, f"{name}: parameter {param} not in docs/presets.md"


def test_optional_signals_left_unbound_drop_their_rules_and_whole_composites_only() -> None:
    use = models.PresetUse(
        preset="web-service", signals={"health": "p-health", "memory": "p-memory"}
    )
    rules, found = expanding.expand(use, index=0, probes=_probes(), taken=set())
    assert found == []
    by_id = {r.id.removeprefix("web-service."): r for r in rules}
    assert set(by_id) == {
        "down",
        "outages-repeat",
        "http-5xx-up",
        "latency-up",
        "latency-far-above",  # round 13: reads the health check alone
        "latency-lasting-above",  # round 13 (lat2): the same, x2 for an hour
        "memory-pinned",
        "memory-grown",
        "memory-rising",
        "memory-leak",
        "memory-trend",
        "memory-slow-leak",
    }
    # No request latency bound: latency-up's slow tier judges alone (round 11), and with it
    # bound, requests-slower confirms it.
    alone = by_id["latency-up"]
    assert isinstance(alone, models.RegressionRule)
    assert alone.slow is not None
    assert alone.slow.confirm is None
    witnessed = models.PresetUse(
        preset="web-service", signals={"health": "p-health", "latency": "p-latency"}
    )
    rules_with, _ = expanding.expand(witnessed, index=0, probes=_probes(), taken=set())
    (confirmed_slow,) = [r for r in rules_with if r.id == "web-service.latency-up"]
    assert isinstance(confirmed_slow, models.RegressionRule)
    assert confirmed_slow.slow is not None
    assert confirmed_slow.slow.confirm == "web-service.requests-slower"
    assert "web-service.requests-slower" in {r.id for r in rules_with}
    trend = by_id["memory-trend"]
    assert isinstance(trend, models.TrendRule)
    assert (trend.probe, trend.within, trend.min_rate) == ("p-memory", 4 * 3600.0, 3.0)
    # oom-took-service-down needs the OOM signal: left out with its health leaf, which
    # `needs` it (alone it would only warn on every failed check).
    with_oom = models.PresetUse(
        preset="web-service", signals={"health": "p-health", "oom": "p-oom"}
    )
    rules, _ = expanding.expand(with_oom, index=0, probes=_probes(), taken=set())
    ids = {r.id.removeprefix("web-service.") for r in rules}
    assert {"oom-kill-now", "check-failed-now", "oom-took-service-down"} <= ids
    (took,) = [r for r in rules if r.id == "web-service.oom-took-service-down"]
    assert isinstance(took, models.AllRule)
    assert took.rules == ["web-service.oom-kill-now", "web-service.check-failed-now"]
    # unit-took-service-down likewise: its health leaf is kept only with the give-up signal.
    assert not {"service-failing-now", "unit-took-service-down"} & ids
    with_units = models.PresetUse(
        preset="web-service", signals={"health": "p-health", "unit_gave_up": "p-unit_gave_up"}
    )
    rules, _ = expanding.expand(with_units, index=0, probes=_probes(), taken=set())
    (took,) = [r for r in rules if r.id == "web-service.unit-took-service-down"]
    assert isinstance(took, models.AllRule)
    assert took.rules == ["web-service.unit-gave-up-now", "web-service.service-failing-now"]
    # errors-confirmed needs two of its three signals: with only 5xx bound it is left out.
    with_logs = models.PresetUse(
        preset="web-service", signals={"health": "p-health", "app_errors": "p-app_errors"}
    )
    rules, _ = expanding.expand(with_logs, index=0, probes=_probes(), taken=set())
    (confirmed,) = [r for r in rules if r.id == "web-service.errors-confirmed"]
    assert isinstance(confirmed, models.AtLeastRule)
    assert confirmed.rules == ["web-service.http-5xx-up", "web-service.app-errors-up"]
    assert confirmed.count == 2


def test_params_targets_prefix_and_exclude_shape_the_rules() -> None:
    use = models.PresetUse(
        preset="web-service",
        id="eu-web",
        targets=models.Selector(labels={"region": "eu"}),
        signals={"health": "p-health", "cpu": "p-cpu"},
        params={"down_checks": 5, "down_for": "2m", "cpu_pinned": 95},
        exclude=["latency-up"],
    )
    rules, found = expanding.expand(use, index=0, probes=_probes(), taken=set())
    assert found == []
    by_id = {r.id: r for r in rules}
    assert "eu-web.latency-up" not in by_id
    down = by_id["eu-web.down"]
    assert isinstance(down, models.ThresholdRule)
    assert (down.consecutive, down.for_, down.probe) == (5, 120.0, "p-health")
    assert down.targets.labels == {"region": "eu"}
    assert down.description == "The health check failed 5 times in a row, for at least 2m"
    cpu = by_id["eu-web.cpu-pinned"]
    assert isinstance(cpu, models.ThresholdRule)
    assert cpu.value == 95


def test_apply_appends_rules_once_and_is_idempotent() -> None:
    config = models.RollsafeConfig.model_validate(
        {
            "probes": [{"kind": "http", "name": "h", "url": "http://x/"}],
            "rules": [{"id": "mine", "kind": "threshold", "probe": "h", "op": "<", "value": 1}],
            "presets": [{"preset": "web-service", "signals": {"health": "h"}}],
        }
    )
    applied = preset_catalog.apply(config)
    assert [r.id for r in applied.rules][:2] == ["mine", "web-service.down"]
    assert preset_catalog.apply(applied) == applied
    assert preset_catalog.apply(models.RollsafeConfig()) == models.RollsafeConfig()
    broken = config.model_copy(update={"presets": [models.PresetUse(preset="nope")]})
    with pytest.raises(errors.ConfigError, match=r"presets\[0\]\.preset: unknown preset 'nope'"):
        preset_catalog.apply(broken)


def _criticals_with_oom(*, kills: list[float], failed: list[float]) -> list[str]:
    """Critical decisions of web-service (health every 10 s, kernel log every 15 s) when the
    OOM killer kills at ``kills`` and health checks fail at ``failed`` (seconds; kills after
    the first 30 minutes, so that the 30-minute rate rules see a whole window)."""
    config = preset_catalog.apply(
        models.RollsafeConfig.model_validate(
            {
                "targets": [{"id": "web-1"}],
                "probes": [
                    {"kind": "http", "name": "h", "url": "http://x/", "interval": "10s"},
                    {"kind": "log", "name": "k", "path": "/k.log", "presets": ["oom"]},
                ],
                "presets": [{"preset": "web-service", "signals": {"health": "h", "oom": "k"}}],
            }
        )
    )
    target = ids.TargetId("web-1")
    seen = [
        observations.Observation(float(t), target, "h", value=0.0 if t in failed else 1.0)
        for t in range(0, 3000, 10)
    ]
    seen += [
        observations.Observation(
            float(t), target, "k", value=float(sum(t - 15 < k <= t for k in kills))
        )
        for t in range(0, 3000, 15)
    ]
    decisions = engine.replay(config, seen, [])
    return [d.rule for d in decisions if d.severity is verdicts.Severity.CRITICAL]


def test_an_oom_kill_that_takes_the_service_down_rolls_back_at_the_first_kill() -> None:
    # A kill and a failed check within a minute: the kill hit the service (as on a database).
    assert _criticals_with_oom(kills=[2402.0], failed=[2410]) == [
        "web-service.oom-took-service-down"
    ]
    assert _criticals_with_oom(kills=[2402.0], failed=[2370]) == [
        "web-service.oom-took-service-down"
    ]
    # Either alone is healthy noise: one oversized request killed while the service answers,
    # or a check lost to a restart. Apart by more than a minute, they are not one event.
    assert _criticals_with_oom(kills=[2402.0], failed=[]) == []
    assert _criticals_with_oom(kills=[], failed=[2410, 2420]) == []
    assert _criticals_with_oom(kills=[2402.0], failed=[2600]) == []
    assert _criticals_with_oom(kills=[2402.0], failed=[2250]) == []


def _checked_by_tcp(use: dict[str, object], logs: list[dict[str, object]]) -> models.RollsafeConfig:
    """One target, a TCP health check ``h`` every 10 s and the log probes ``logs``, under the
    preset use ``use`` (its ``preset``, ``signals``, ``params``), expanded."""
    return preset_catalog.apply(
        models.RollsafeConfig.model_validate(
            {
                "targets": [{"id": "t-1"}],
                "probes": [
                    {"kind": "tcp", "name": "h", "host": "x", "port": 1, "interval": "10s"},
                    *logs,
                ],
                "presets": [use],
            }
        )
    )


def _criticals_with_units(
    preset: str, *, failures: list[float], gave_up: list[float], bound: bool = True
) -> list[str]:
    """Critical decisions of ``preset`` when systemd units fail at ``failures`` and systemd
    gives up on a unit (its start limit) at ``gave_up`` (log probes every 15 s, seconds after
    the first 30 minutes); ``bound=False`` leaves the give-up signal unbound."""
    signals = {"health": "h", "unit_failures": "u"}
    if bound:
        signals["unit_gave_up"] = "g"
    config = _checked_by_tcp(
        {"preset": preset, "signals": signals},
        [
            {"kind": "log", "name": "u", "path": "/s", "presets": ["systemd_failure"]},
            {
                "kind": "log",
                "name": "g",
                "path": "/s",
                "patterns": ["(?i)start request repeated too quickly"],
            },
        ],
    )
    target = ids.TargetId("t-1")
    seen = [observations.Observation(float(t), target, "h", value=1.0) for t in range(0, 3000, 10)]
    for name, times in (("u", failures), ("g", gave_up)):
        seen += [
            observations.Observation(
                float(t), target, name, value=float(sum(t - 15 < e <= t for e in times))
            )
            for t in range(0, 3000, 15)
        ]
    decisions = engine.replay(config, seen, [])
    return [d.rule for d in decisions if d.severity is verdicts.Severity.CRITICAL]


@pytest.mark.parametrize("preset", ["web-service", "database-host", "batch-host"])
def test_a_unit_systemd_gave_up_on_rolls_back_at_once(preset: str) -> None:
    # systemd's start limit: the unit failed again and again within seconds and stays down.
    # Its "Failed to start" line is one unit failure event as well. These give-ups carry no
    # text, so name no unit: `units` cannot place them and they count (a give-up that names
    # a unit outside `units` only warns: the test below).
    assert _criticals_with_units(preset, failures=[2402.0], gave_up=[2402.0]) == [
        f"{preset}.unit-gave-up"
    ]
    # One unit failure alone (a stop that timed out during the upgrade's restart) only warns.
    assert _criticals_with_units(preset, failures=[2402.0], gave_up=[]) == []
    # The second failure within 30 minutes still rolls back, give-up or not.
    assert _criticals_with_units(preset, failures=[2402.0, 2700.0], gave_up=[]) == [
        f"{preset}.unit-failures"
    ]
    # Without the signal bound the rule is left out, and the repeat is waited for.
    assert _criticals_with_units(preset, failures=[2402.0], gave_up=[2402.0], bound=False) == []


def _criticals_with_gave_up(
    preset: str,
    *,
    gave_up: dict[float, str],
    down: tuple[float, float] | None = None,
    units: str | None = None,
) -> list[str]:
    """Critical decisions of ``preset`` when systemd gives up on units (time -> the line
    the give-up probe passes on as text), the health check failing over ``down``, and the
    preset's ``units`` parameter set to ``units``."""
    use: dict[str, object] = {
        "preset": preset,
        "signals": {"health": "h", "unit_failures": "u", "unit_gave_up": "g"},
    }
    if units is not None:
        use["params"] = {"units": units}
    config = _checked_by_tcp(
        use,
        [
            {"kind": "log", "name": "u", "path": "/s", "presets": ["systemd_failure"]},
            {"kind": "log", "name": "g", "path": "/s", "patterns": ["(?i)start req"]},
        ],
    )
    target = ids.TargetId("t-1")
    seen = [
        observations.Observation(
            float(t),
            target,
            "h",
            value=0.0 if down is not None and down[0] <= t < down[1] else 1.0,
        )
        for t in range(0, 3000, 10)
    ]
    for t in range(0, 3000, 15):
        lines = [line for e, line in gave_up.items() if t - 15 < e <= t]
        text = lines[-1] if lines else None
        seen.append(observations.Observation(float(t), target, "g", value=len(lines), text=text))
        seen.append(observations.Observation(float(t), target, "u", value=len(lines)))
    decisions = engine.replay(config, seen, [])
    return [d.rule for d in decisions if d.severity is verdicts.Severity.CRITICAL]


MOTD = "Nov 14 23:19:20 web-1 systemd[1]: start request repeated too quickly for motdgen.service"
NGINX = "Jul 12 08:48:45 web-1 systemd[1]: nginx.service: Start request repeated too quickly."


@pytest.mark.parametrize("preset", ["web-service", "database-host", "batch-host"])
def test_systemd_giving_up_on_a_unit_the_service_does_not_run_as_only_warns(preset: str) -> None:
    # A login helper given up on while the service answers (healthy-motd-unit-fails): no
    # rollback, whether units are declared or not.
    assert _criticals_with_gave_up(preset, gave_up={2402.0: MOTD}) == []
    assert _criticals_with_gave_up(preset, gave_up={2402.0: MOTD}, units="nginx") == []
    # A declared unit of the service rolls back at its first give-up line, checks or not.
    assert _criticals_with_gave_up(preset, gave_up={2402.0: NGINX}, units="nginx, php-fpm") == [
        f"{preset}.unit-gave-up"
    ]
    assert _criticals_with_gave_up(preset, gave_up={2402.0: NGINX}, units="ngin*.service") == [
        f"{preset}.unit-gave-up"
    ]
    # Undeclared, the service's unit shows by its check failing: rolled back at the second
    # failed check, long before `down` (3 checks spanning 30 s).
    got = _criticals_with_gave_up(preset, gave_up={2402.0: NGINX}, down=(2395.0, 9999.0))
    assert got[0] == f"{preset}.unit-took-service-down"
    # ... and a check that failed and recovered before the give-up is no such evidence.
    assert _criticals_with_gave_up(preset, gave_up={2402.0: MOTD}, down=(2300.0, 2320.0)) == []
    # A give-up whose text names no unit (a metric's count) cannot be placed: it counts.
    assert _criticals_with_gave_up(preset, gave_up={2402.0: "gave up"}, units="nginx") == [
        f"{preset}.unit-gave-up"
    ]


@pytest.mark.parametrize(
    ("units", "message"),
    [
        ("nginx.service, bad/unit", "'bad/unit' is not a systemd unit name or glob"),
        ("nginx, app;rm", "'app;rm' is not a systemd unit name or glob"),
    ],
)
def test_a_bad_unit_list_is_reported_on_its_line_with_its_field(
    tmp_path: Path, units: str, message: str
) -> None:
    with pytest.raises(errors.ConfigError) as caught:
        _load(
            tmp_path,
            BASE
            + f"""\
presets:
  - preset: web-service
    signals: {{health: health, unit_gave_up: errors}}
    params:
      units: "{units}"
""",
        )
    (problem,) = caught.value.problems
    assert re.search(
        r":9: presets\[0\]\.params\.units: rule unit-gave-up of preset web-service is not "
        r"valid with these parameters: units: value error, ",
        problem,
    ), problem
    assert message in problem


def _criticals_with_outages(preset: str, downs: list[tuple[int, int]]) -> list[tuple[str, float]]:
    """(rule, time) of ``preset``'s critical decisions when its health check, every 10 s from
    0 to 7,200 s with an upgrade mark at 3,600 s, fails over each of ``downs`` (half-open)."""
    config = preset_catalog.apply(
        models.RollsafeConfig.model_validate(
            {
                "targets": [{"id": "t-1"}],
                "probes": [{"kind": "tcp", "name": "h", "host": "x", "port": 1}],
                "presets": [{"preset": preset, "signals": {"health": "h"}}],
            }
        )
    )
    target = ids.TargetId("t-1")
    seen = [
        observations.Observation(
            float(t), target, "h", value=0.0 if any(a <= t < b for a, b in downs) else 1.0
        )
        for t in range(3, 7200, 10)
    ]
    mark = observations.Mark(time=3600.0, target=target, name="upgrade")
    decisions = engine.replay(config, seen, [mark])
    return [(d.rule, d.time) for d in decisions if d.severity is verdicts.Severity.CRITICAL]


@pytest.mark.parametrize("preset", ["web-service", "database-host"])
def test_outages_that_keep_coming_back_roll_back_at_the_third(preset: str) -> None:
    # A postmaster restarting on a bad reload: refused 25 s four times, 4 to 7 minutes apart
    # (3 failing checks spanning 20 s each: under `down`'s 30 s).
    four = [(3600 + t, 3600 + t + 25) for t in (360, 600, 1020, 1260)]
    assert _criticals_with_outages(preset, four) == [(f"{preset}.outages-repeat", 4643.0)]
    # Two such outages in the hour (a config manager's restarts, a pooler failing over twice).
    assert _criticals_with_outages(preset, four[:2]) == []
    # Checks lost two at a time, every 3 minutes for an hour (a dependency's blips, timeouts
    # under load): never an outage.
    blips = [(3600 + t, 3600 + t + 15) for t in range(300, 3900, 180)]
    assert _criticals_with_outages(preset, blips) == []
    # Outages before the upgrade mark are not the upgrade's: once it is in force, they no
    # longer count (before it, the host is judged like any host never upgraded).
    before = [(3600 - t, 3600 - t + 25) for t in (1500, 1200, 900)]
    after = [d for d in _criticals_with_outages(preset, [*before, four[0]]) if d[1] >= 3600]
    assert after == []


def test_the_corpus_binds_unit_gave_up_to_systemd_giving_up_and_to_nothing_else() -> None:
    # The patterns docs/presets.md tells users to bind, as corpus/rollsafe.yaml binds them.
    corpus = yaml.safe_load(CORPUS_CONFIG.read_text(encoding="utf-8"))
    (probe,) = [p for p in corpus["probes"] if p["name"] == "unit-gave-up"]
    for use in corpus["presets"]:
        assert use["signals"]["unit_gave_up"] == "unit-gave-up"
    patterns = [re.compile(p) for p in probe["patterns"]]

    def matches(line: str) -> bool:
        return any(p.search(line) for p in patterns)

    # Real lines: https://github.com/brocaar/chirpstack-application-server/issues/337 (a
    # crash loop systemd gave up on, both wordings) and https://github.com/owfs/owfs/issues/116.
    prefix = "Jul 12 08:48:45 ubuntu systemd[1]: "
    assert matches(prefix + "loraserver.service: Start request repeated too quickly.")
    assert matches(prefix + "loraserver.service: Failed with result 'start-limit-hit'.")
    assert matches("systemd[1]: owserver.service: Start request repeated too quickly.")
    # Older systemd put the unit after the words (https://github.com/remind101/empire/issues/160).
    assert matches(
        "Mar 06 02:30:04 c1 systemd[1]: start request repeated too quickly for "
        "r101-bablefish.1.web.1.service"
    )
    # One crash and its restart are not a give-up.
    for line in (
        "loraserver.service: Main process exited, code=exited, status=1/FAILURE",
        "loraserver.service: Failed with result 'exit-code'.",
        "loraserver.service: Service hold-off time over, scheduling restart.",
        "Failed to start LoRa Server.",
        "miniflux.service: Scheduled restart job, restart counter is at 5.",
    ):
        assert not matches(prefix + line), line


def test_a_needs_entry_must_name_signals_of_the_preset() -> None:
    definition = {
        "name": "tiny",
        "signals": {"health": {"required": True, "means": "up"}},
        "rules": [
            {"id": "a", "kind": "threshold", "probe": "$health", "op": "<", "value": 1},
            {
                "id": "b",
                "kind": "threshold",
                "probe": "$health",
                "op": "<",
                "value": 1,
                "needs": ["nope"],
            },
        ],
    }
    with pytest.raises(errors.ConfigError, match="rule b: `needs` must list signals"):
        catalog._parse("tiny.yaml", definition)
    definition["rules"][1]["needs"] = ["health"]  # type: ignore[index]
    parsed = catalog._parse("tiny.yaml", definition)
    assert parsed.rules[1].needs == ("health",)
    assert "needs" not in parsed.rules[1].body


def _load(tmp_path: Path, text: str) -> models.RollsafeConfig:
    path = tmp_path / "rollsafe.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return loading.load(path).config


BASE = """\
targets: [{id: web-1}]
probes:
  - {kind: http, name: health, url: "http://{address}/"}
  - {kind: log, name: errors, path: /x.log, presets: [app_error]}
"""


def test_loading_expands_presets(tmp_path: Path) -> None:
    config = _load(
        tmp_path,
        BASE
        + """\
presets:
  - preset: web-service
    signals: {health: health, app_errors: errors}
""",
    )
    assert "web-service.errors-confirmed" in {r.id for r in config.rules}


def test_loading_reports_every_preset_mistake_on_its_line(tmp_path: Path) -> None:
    with pytest.raises(errors.ConfigError) as caught:
        _load(
            tmp_path,
            BASE
            + """\
presets:
  - preset: web-servise
  - preset: web-service
    signals:
      health: helth
      app_errors: health
      memroy: errors
    params:
      down_check: 3
      latency_delta: fast
    exclude: [donw]
  - preset: database-host
    signals: {cpu: errors}
  - {preset: batch-host, signals: {health: health}}
  - {preset: batch-host, signals: {health: health}}
""",
        )
    problems = caught.value.problems
    text = "\n".join(problems)
    expected = [
        r":6: presets\[0\]\.preset: unknown preset 'web-servise'; did you mean 'web-service'\?",
        r":9: presets\[1\]\.signals\.health: unknown probe 'helth'; did you mean 'health'\?",
        r":10: presets\[1\]\.signals\.app_errors: probe 'health' is a http probe \(expected a "
        r"probe of kind log, elasticsearch, loki, sls, cls, promql, cloudwatch, command for "
        r"app_errors: Application error",
        r":11: presets\[1\]\.signals\.memroy: preset web-service has no signal 'memroy'; did you "
        r"mean 'memory'\?",
        r":13: presets\[1\]\.params\.down_check: preset web-service has no parameter "
        r"'down_check'; did you mean 'down_checks'\?",
        r":14: presets\[1\]\.params\.latency_delta: got 'fast' \(expected a number, like 0\.05\)",
        r":15: presets\[1\]\.exclude\[0\]: preset web-service has no rule 'donw'",
        r":17: presets\[2\]\.signals: signal 'health' is required by preset database-host",
        r":17: presets\[2\]\.signals\.cpu: probe 'errors' is a log probe",
        r":19: presets\[4\]: rule id 'batch-host\.down' is already used",
        r":19: presets\[4\]: rule id 'batch-host\.outages-repeat' is already used",
        r":19: presets\[4\]: rule id 'batch-host\.latency-up' is already used",
        r":19: presets\[4\]: rule id 'batch-host\.latency-far-above' is already used",
    ]
    for pattern in expected:
        assert re.search(pattern, text), f"{pattern}\nnot in:\n{text}"
    assert len(problems) == len(expected)


def test_a_preset_rule_colliding_with_a_written_rule_is_reported(tmp_path: Path) -> None:
    with pytest.raises(errors.ConfigError) as caught:
        _load(
            tmp_path,
            BASE
            + """\
rules:
  - {id: web-service.down, kind: threshold, probe: health, op: "<", value: 1}
presets:
  - {preset: web-service, signals: {health: health}}
""",
        )
    (problem,) = caught.value.problems
    assert ":8: presets[0]: rule id 'web-service.down' is already used" in problem


def test_a_param_that_breaks_a_rule_names_the_rule_and_field(tmp_path: Path) -> None:
    with pytest.raises(errors.ConfigError) as caught:
        _load(
            tmp_path,
            BASE
            + """\
presets:
  - preset: web-service
    signals: {health: health}
    params: {down_checks: 0}
""",
        )
    # Both rules reading the parameter say so, each on the parameter's own line.
    down, outages = caught.value.problems
    for rule, problem in (("down", down), ("outages-repeat", outages)):
        assert re.search(
            rf":8: presets\[0\]\.params\.down_checks: rule {rule} of preset web-service is not "
            r"valid with these parameters: consecutive: input should be greater than or equal "
            r"to 1$",
            problem,
        ), problem


def _criticals_with_kernel_bugs(preset: str, reports: list[float]) -> list[tuple[str, float]]:
    """Critical decisions of ``preset`` when the kernel logs the quoted ``BUG: scheduling while
    atomic`` report at ``reports`` (seconds; a kernel log read every 15 s through the
    kernel_bug log preset, as a log probe counts it; reports after the first 30 minutes)."""
    config = _checked_by_tcp(
        {"preset": preset, "signals": {"health": "h", "kernel_bugs": "b"}},
        [{"kind": "log", "name": "b", "path": "/k", "presets": ["kernel_bug"]}],
    )
    # https://github.com/linux4wilc/driver/issues/50 (a Wi-Fi driver sleeping with preemption
    # off, "frequently"): the report's first lines as the reporter quoted them.
    report = [
        "BUG: scheduling while atomic: wpa_supplicant/903/0x00000202",
        "Preemption disabled at:[<  (null)>]   (null)",
    ]
    target = ids.TargetId("t-1")
    seen = [observations.Observation(float(t), target, "h", value=1.0) for t in range(0, 7200, 10)]
    counter = logevents.Counter([logevents.PRESETS["kernel_bug"]])
    for t in range(0, 7200, 15):
        for at in reports:
            if t - 15 < at <= t:
                counter.feed(report, time=float(t))
        seen.append(
            observations.Observation(float(t), target, "b", value=float(counter.take().events))
        )
    decisions = engine.replay(config, seen, [])
    return [(d.rule, d.time) for d in decisions if d.severity is verdicts.Severity.CRITICAL]


@pytest.mark.parametrize("preset", ["web-service", "database-host", "batch-host"])
def test_repeated_non_fatal_kernel_bugs_roll_back_and_a_single_one_warns(preset: str) -> None:
    # A non-fatal BUG (the kernel taints itself and carries on) repeated minutes apart: the
    # second report within 30 minutes rolls back (read at the next 15 s log read).
    assert _criticals_with_kernel_bugs(preset, [2400.0, 2640.0, 2900.0]) == [
        (f"{preset}.kernel-bugs", 2640.0)
    ]
    # One report, as a driver may log now and then for months, only warns; so do two more
    # than 30 minutes apart.
    assert _criticals_with_kernel_bugs(preset, [2400.0]) == []
    assert _criticals_with_kernel_bugs(preset, [2400.0, 4300.0]) == []
