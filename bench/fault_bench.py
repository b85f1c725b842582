"""Time from fault to rollback start on the local driver, stage by stage, two detection paths.

Everything is real and on 127.0.0.1: the demo service (``rollsafe.demo.service``), ``rollsafe
run`` as a process reading a config file in a temporary directory, and (path B) Debian's
Prometheus and Alertmanager. The fault is a release answering every request with HTTP 500
(``bench/fault_upgrade.py``), installed by ``rollsafe upgrade`` through the local driver the
way users upgrade; the rollback restores the release directory and restarts the service.
Every stage time is read afterwards from what the systems recorded (the store's observations,
decisions, runs and steps, the intake inbox, Prometheus' series), not from this process's
polling, so the figures do not depend on how often the benchmark looks.

A. rollsafe's own probes: an http probe on /health and the ``web-service`` preset's ``down``
   rule (3 failed checks in a row; ``down_for`` set to 0 s, see below). Stages: fault (upgrade
   finished) -> first failing observation -> critical decision -> run opened -> first rollback
   step started (rollback start) -> verified (run succeeded).
   - ``default``: probe interval and ``policy`` at their defaults (interval 15 s; after an
     upgrade the daemon probes the target at once and every ``watch_interval``, 2 s).
   - ``tuned``: probe interval 1 s, ``watch_interval`` 500 ms.
   - ``default_steady``: the default settings, fault injected long after any upgrade (the
     release broken directly, no upgrade mark; its fault time is when the restart returned,
     on this process's clock), so only the 15 s cadence applies.
   The preset's ``down_for`` (30 s by default) keeps fast probes from turning three checks
   into three seconds; left at 30 s it would be the whole figure, so it is 0 here and the
   figures are the loop's own. With the preset's defaults, add ``30 s - 3 checks``.
B. Classic: Prometheus scrapes the service's /metrics, an alerting rule (5xx share above 20%,
   ``for: 0s``) fires, Alertmanager posts to rollsafe's Alertmanager intake (bearer token), a
   critical ``alert`` rule opens the run. Stages: fault -> first Prometheus sample showing
   5xx -> alert firing (first ``ALERTS`` sample) -> notification stored in rollsafe's inbox ->
   critical decision -> run opened -> rollback start.
   - ``tuned``: scrape and evaluation every 1 s, group_wait 1 s, group_interval 1 s.
   - ``default``: Prometheus' defaults (scrape and evaluation every 1 m; rate over 2 m) and
     Alertmanager's group_wait 30 s. One run takes up to ~2.5 minutes: it runs only with
     ``python -m bench fault --full``; otherwise its expected value, computed from the
     intervals, is reported (``measured: false``).

Each measured setting repeats ``reps`` times with a fresh service, store and daemon; the
suite reports the median and max of each stage (seconds from the previous stage) and of the
total fault -> rollback start, plus the ratio rollsafe / classic.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bench import fault_upgrade
from rollsafe.demo import fleet, layout
from rollsafe.domain import ids, runs, verdicts
from rollsafe.storage import sql

# The e2e tests' Prometheus/Alertmanager process helpers, reused as they are.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "e2e"))
import monitoring_stack as stack

ROLLSAFE = str(Path(sys.executable).with_name("rollsafe"))
UPGRADE_SCRIPT = str(Path(fault_upgrade.__file__).resolve())
TARGET = "web-1"
PROBE = "health"
DOWN_RULE = "web-service.down"
ALERT = "BenchHttp5xxShare"
INTAKE = "alertmanager"
ALERT_RULE = "prometheus-5xx-alert"
FULL_ENV = "ROLLSAFE_BENCH_FULL"  # set by ``python -m bench fault --full``
READY_TIMEOUT_S = 40.0
TRAFFIC_INTERVAL_S = 0.1


@dataclass(frozen=True, slots=True)
class ProbeSetting:
    name: str
    interval: str | None  # None: the default (15 s)
    watch_interval: str | None  # None: the default (2 s)
    via_upgrade: bool
    reps: int
    deadline_s: float  # fault -> run finished, per repetition


@dataclass(frozen=True, slots=True)
class ClassicSetting:
    name: str
    scrape: str
    evaluation: str
    rate_window: str
    group_wait: str
    group_interval: str
    deadline_s: float


PROBE_STAGES = ("first_failing_obs", "critical_decision", "run_opened", "rollback_start")
CLASSIC_STAGES = (
    "prometheus_sample",
    "alert_firing",
    "notification_received",
    "critical_decision",
    "run_opened",
    "rollback_start",
)


# ------------------------------------------------------------------------ shared helpers


def _cli(*args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [ROLLSAFE, *args], capture_output=True, text=True, timeout=timeout, check=False
    )


def _driver() -> dict[str, Any]:
    return {
        "name": "release",
        "kind": "local",
        "directory": "{root}/" + layout.RELEASE_DIR,
        "upgrade": [sys.executable, UPGRADE_SCRIPT, "{root}"],
        "restart": [sys.executable, "-m", layout.CTL_MODULE, "restart", "{root}"],
    }


def _target(host: fleet.Host) -> dict[str, Any]:
    return {
        "id": host.id,
        "address": host.address,
        "driver": "release",
        "vars": {"root": str(host.root), "port": host.port},
    }


def _health_probe(interval: str | None) -> dict[str, Any]:
    probe: dict[str, Any] = {"name": PROBE, "kind": "http", "url": "http://{address}:{port}/health"}
    if interval is not None:
        probe["interval"] = interval
    return probe


@contextlib.contextmanager
def _service(workdir: Path) -> Iterator[fleet.Host]:
    built = fleet.build(workdir / "fleet", hosts=1, rows=20)
    try:
        fleet.start(built)
        yield built.host(TARGET)
    finally:
        fleet.stop(built)


@contextlib.contextmanager
def _daemon(workdir: Path, config: dict[str, Any]) -> Iterator[tuple[Path, sql.SqlStore]]:
    path = workdir / "rollsafe.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    # No separate `rollsafe config check`: `rollsafe run` refuses a bad file just the same.
    process = stack.Process(
        "rollsafe run",
        [ROLLSAFE, "run", "-c", str(path)],
        log=workdir / "rollsafe.log",
        cwd=workdir,
    )
    try:
        store = stack.wait_for(
            lambda: _open_store(workdir / "state"),
            timeout=READY_TIMEOUT_S,
            what="rollsafe's store",
            details=process.describe,
        )
        try:
            yield path, store
        finally:
            store.close()
    finally:
        process.stop(timeout=30)


def _open_store(state_dir: Path) -> sql.SqlStore | None:
    # open_store migrates under a lock, so opening it beside the starting daemon is safe.
    try:
        return sql.open_store(state_dir)
    except Exception:  # noqa: BLE001 (the daemon is still creating it: try again)
        return None


def _decided_ok(store: sql.SqlStore, rule: str) -> bool | None:
    latest = store.latest_decisions().get(ids.TargetId(TARGET), [])
    return (
        True if any(d.rule == rule and d.severity is verdicts.Severity.OK for d in latest) else None
    )


def _finished_run(store: sql.SqlStore, since: float) -> runs.RollbackRun | None:
    for run in store.list_runs(target=ids.TargetId(TARGET)):
        if run.created_at >= since and run.state.terminal:
            return run
    return None


def _first_critical(store: sql.SqlStore, rule: str, since: float) -> float | None:
    times = [
        d.time
        for d in store.list_decisions(target=ids.TargetId(TARGET), limit=1000)
        if d.rule == rule and d.severity is verdicts.Severity.CRITICAL and d.time >= since
    ]
    return min(times) if times else None


def _run_times(store: sql.SqlStore, run: runs.RollbackRun) -> dict[str, float | None]:
    steps = store.list_steps(run.id)
    return {
        "run_opened": run.created_at,
        "rollback_start": min((s.started_at for s in steps), default=None),
        "verified": run.updated_at if run.state is runs.RunState.SUCCEEDED else None,
    }


def _upgrade(config: Path, store: sql.SqlStore) -> float:
    """``rollsafe upgrade``; the fault time is its ``mark:upgrade`` (upgrade finished)."""
    done = _cli("upgrade", TARGET, "-c", str(config))
    if done.returncode != 0:
        raise stack.StackError(f"rollsafe upgrade failed: {done.stdout}{done.stderr}")
    marks = store.list_observations(target=ids.TargetId(TARGET), source="mark:upgrade")
    return marks[-1].time


def _since(times: dict[str, float | None], fault: float, stages: tuple[str, ...]) -> dict[str, Any]:
    """Stage durations (each from the previous stage) and totals, in seconds."""
    out: dict[str, Any] = {}
    previous = fault
    for stage in stages:
        at = times.get(stage)
        out[stage] = None if at is None or previous is None else round(at - previous, 3)
        previous = at  # type: ignore[assignment]
    start = times.get("rollback_start")
    out["total"] = None if start is None else round(start - fault, 3)
    verified = times.get("verified")
    out["to_verified"] = None if verified is None else round(verified - fault, 3)
    return out


def _summary(samples: list[dict[str, Any]], stages: tuple[str, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {"reps": len(samples)}
    for key in (*stages, "total", "to_verified"):
        values = [s[key] for s in samples if s.get(key) is not None]
        out[key] = (
            {"median": round(statistics.median(values), 2), "max": round(max(values), 2)}
            if values
            else None
        )
    return out


# ------------------------------------------------------------------ A: rollsafe's probes


def _probe_config(host: fleet.Host, setting: ProbeSetting) -> dict[str, Any]:
    policy: dict[str, Any] = {}
    if setting.watch_interval is not None:
        policy["watch_interval"] = setting.watch_interval
    return {
        "version": 1,
        "state_dir": "state",
        # The API is not needed here, and its default port may be taken on a shared machine.
        "server": {"enabled": False},
        **({"policy": policy} if policy else {}),
        "targets": [_target(host)],
        "probes": [_health_probe(setting.interval)],
        "presets": [
            {"preset": "web-service", "signals": {"health": PROBE}, "params": {"down_for": "0s"}}
        ],
        "drivers": [_driver()],
    }


def _probe_once(setting: ProbeSetting) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="fault-bench-") as tmp:
        workdir = Path(tmp)
        with (
            _service(workdir) as host,
            _daemon(workdir, _probe_config(host, setting)) as (config, store),
        ):
            stack.wait_for(
                lambda: _decided_ok(store, DOWN_RULE),
                timeout=READY_TIMEOUT_S,
                what="rollsafe judging the service healthy",
                details=lambda: "",
            )
            if setting.via_upgrade:
                fault = _upgrade(config, store)
            else:
                # The restore point an upgrade long ago would have left; then any moment of
                # the probe cycle, as a fault long after the upgrade would be.
                taken = _cli("checkpoint", TARGET, "-c", str(config))
                if taken.returncode != 0:
                    raise stack.StackError(f"checkpoint failed: {taken.stdout}{taken.stderr}")
                time.sleep(random.uniform(0.0, 15.0))
                fault_upgrade.break_host(host.root)
                fault = time.time()
            run = stack.wait_for(
                lambda: _finished_run(store, fault),
                timeout=setting.deadline_s,
                what=f"{setting.name}: a finished rollback run",
                details=lambda: "",
            )
            failing = [
                o.time
                for o in store.list_observations(
                    target=ids.TargetId(TARGET), source=PROBE, since=fault
                )
                if o.error is not None or (o.status is not None and o.status >= 500)
            ]
            times: dict[str, float | None] = {
                "first_failing_obs": min(failing) if failing else None,
                "critical_decision": _first_critical(store, DOWN_RULE, fault),
                **_run_times(store, run),
            }
            return _since(times, fault, PROBE_STAGES)


# --------------------------------------------------------------------------- B: classic


class _Traffic:
    """Requests to /items from a thread: Prometheus sees a 5xx share only if someone asks."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self._stop.wait(TRAFFIC_INTERVAL_S):
            with contextlib.suppress(urllib.error.URLError, OSError):
                urllib.request.urlopen(f"{self._url}/items", timeout=2).close()

    def __enter__(self) -> _Traffic:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


def _classic_configs(
    setting: ClassicSetting, *, host: fleet.Host, ports: list[int], token_file: Path
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any], dict[str, Any]]:
    _, alertmanager_port, api_port = ports
    prometheus = stack.prometheus_config(
        scrape={"shop": [f"{host.address}:{host.port}"]},
        labels={"shop": {"rollsafe_target": TARGET}},
        alertmanager_port=alertmanager_port,
    )
    prometheus["global"] = {
        "scrape_interval": setting.scrape,
        "evaluation_interval": setting.evaluation,
        "scrape_timeout": "1s",
    }
    window = setting.rate_window
    rules = {
        "groups": [
            {
                "name": "bench",
                "rules": [
                    {
                        "alert": ALERT,
                        "expr": (
                            f'sum by (rollsafe_target) (rate(http_requests_total{{code=~"5.."}}'
                            f"[{window}])) / sum by (rollsafe_target) "
                            f"(rate(http_requests_total[{window}])) > 0.2"
                        ),
                        "for": "0s",
                        "labels": {"severity": "critical"},
                    }
                ],
            }
        ]
    }
    alertmanager = {
        "route": {
            "receiver": "rollsafe",
            "group_by": ["alertname", "rollsafe_target"],
            "group_wait": setting.group_wait,
            "group_interval": setting.group_interval,
        },
        "receivers": [
            {
                "name": "rollsafe",
                "webhook_configs": [
                    {
                        "url": f"http://127.0.0.1:{api_port}/intake/{INTAKE}",
                        "http_config": {
                            "authorization": {"type": "Bearer", "credentials_file": str(token_file)}
                        },
                    }
                ],
            }
        ],
    }
    rollsafe = {
        "version": 1,
        "state_dir": "state",
        "server": {"address": "127.0.0.1", "port": api_port},
        "intake": [
            {
                "name": INTAKE,
                "kind": "alertmanager",
                "auth": {"kind": "bearer", "token_file": str(token_file)},
                "target_label": "rollsafe_target",
                "resolve_by": ["id"],
            }
        ],
        "targets": [_target(host)],
        # The probe only verifies the rollback; the alert alone decides.
        "probes": [_health_probe(None)],
        "rules": [
            {
                "id": ALERT_RULE,
                "kind": "alert",
                "severity": "critical",
                "source": INTAKE,
                "alertname": ALERT,
            }
        ],
        "drivers": [_driver()],
    }
    return prometheus, rules, alertmanager, rollsafe


def _first_sample(prometheus: stack.Prometheus, promql: str, since: float) -> float | None:
    """Timestamp of the first sample of ``promql`` (a range selector) after ``since``."""
    data = prometheus.query(promql)
    if data is None or data.get("resultType") != "matrix":
        return None
    times = [
        float(at)
        for series in data["result"]
        for at, value in series["values"]
        if float(at) >= since and float(value) > 0
    ]
    return min(times) if times else None


def _notified_at(store: sql.SqlStore, since: float) -> float | None:
    for row in store.list_inbox(endpoint=INTAKE, limit=1000):
        if row.received_at < since:
            continue
        payload = json.loads(row.body)
        if any(
            a.get("status") == "firing" and a.get("labels", {}).get("alertname") == ALERT
            for a in payload.get("alerts", [])
        ):
            return row.received_at
    return None


def _classic_once(setting: ClassicSetting) -> dict[str, Any]:
    with (
        tempfile.TemporaryDirectory(prefix="fault-bench-") as tmp,
        contextlib.ExitStack() as cleanup,
    ):
        workdir = Path(tmp)
        host = cleanup.enter_context(_service(workdir))
        cleanup.enter_context(_Traffic(host.url))
        token_file = workdir / "intake.token"
        token_file.write_text("fault-bench-token\n", encoding="utf-8")
        token_file.chmod(0o600)
        ports = fleet.free_ports(3)
        prom_config, rules, am_config, rollsafe = _classic_configs(
            setting, host=host, ports=ports, token_file=token_file
        )
        cleanup.enter_context(
            stack.alertmanager(workdir / "alertmanager", port=ports[1], config=am_config)
        )
        prometheus = cleanup.enter_context(
            stack.prometheus(workdir / "prometheus", port=ports[0], config=prom_config, rules=rules)
        )
        config, store = cleanup.enter_context(_daemon(workdir, rollsafe))
        # Ready: rollsafe answers, and Prometheus can compute the share (two scrapes at least).
        share = (
            f'sum(rate(http_requests_total{{rollsafe_target="{TARGET}"}}[{setting.rate_window}]))'
        )
        prometheus.wait_for(
            lambda: True if prometheus.vector(share) else None,
            timeout=READY_TIMEOUT_S + 3 * _seconds(setting.scrape),
            what="a request rate in Prometheus",
        )
        stack.wait_for(
            lambda: True if stack.answers_200(f"http://127.0.0.1:{ports[2]}/healthz") else None,
            timeout=READY_TIMEOUT_S,
            what="rollsafe's API",
            details=lambda: "",
        )
        fault = _upgrade(config, store)
        run = stack.wait_for(
            lambda: _finished_run(store, fault),
            timeout=setting.deadline_s,
            what=f"classic {setting.name}: a finished rollback run",
            details=prometheus.process.describe,
        )
        horizon = f"{int(time.time() - fault) + 60}s"
        times: dict[str, float | None] = {
            "prometheus_sample": _first_sample(
                prometheus,
                f'http_requests_total{{rollsafe_target="{TARGET}",code=~"5.."}}[{horizon}]',
                fault,
            ),
            "alert_firing": _first_sample(
                prometheus, f'ALERTS{{alertname="{ALERT}",alertstate="firing"}}[{horizon}]', fault
            ),
            "notification_received": _notified_at(store, fault),
            "critical_decision": _first_critical(store, ALERT_RULE, fault),
            **_run_times(store, run),
        }
        return _since(times, fault, CLASSIC_STAGES)


def _seconds(text: str) -> float:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|m)", text)
    if match is None:
        raise ValueError(text)
    number, unit = float(match.group(1)), match.group(2)
    return number * {"ms": 0.001, "s": 1.0, "m": 60.0}[unit]


def _expected_classic(setting: ClassicSetting) -> dict[str, Any]:
    """Fault -> rollback start from the intervals: mean and worst case, rollsafe's part aside.

    A fault waits for the next scrape (uniform over the interval), the sample for the next
    rule evaluation (uniform), the firing alert is sent at once (the first notification is not
    delayed by the resend delay), Alertmanager holds a new group for group_wait.
    """
    scrape, evaluation = _seconds(setting.scrape), _seconds(setting.evaluation)
    wait = _seconds(setting.group_wait)
    return {
        "prometheus_sample": {"median": scrape / 2, "max": scrape},
        "alert_firing": {"median": evaluation / 2, "max": evaluation},
        "notification_received": {"median": wait, "max": wait},
        "total_without_rollsafe": {
            "median": scrape / 2 + evaluation / 2 + wait,
            "max": scrape + evaluation + wait,
        },
    }


# ------------------------------------------------------------------------------- suite


PROBE_SETTINGS = (
    ProbeSetting("default", None, None, via_upgrade=True, reps=3, deadline_s=60.0),
    ProbeSetting("tuned", "1s", "500ms", via_upgrade=True, reps=3, deadline_s=60.0),
    ProbeSetting("default_steady", None, None, via_upgrade=False, reps=3, deadline_s=90.0),
)
CLASSIC_TUNED = ClassicSetting("tuned", "1s", "1s", "5s", "1s", "1s", deadline_s=60.0)
CLASSIC_DEFAULT = ClassicSetting("default", "1m", "1m", "2m", "30s", "5m", deadline_s=200.0)


def _repeat(name: str, reps: int, once: Any, stages: tuple[str, ...]) -> dict[str, Any]:
    print(f"  fault {name}: {reps} run(s)", file=sys.stderr, flush=True)
    samples = [once() for _ in range(reps)]
    return {**_summary(samples, stages), "samples_total": [s["total"] for s in samples]}


def _ratio(ours: dict[str, Any] | None, theirs: dict[str, Any] | None) -> float | None:
    if not ours or not theirs or not ours.get("median") or not theirs.get("median"):
        return None
    return round(float(ours["median"]) / float(theirs["median"]), 3)


def run(*, full: bool | None = None) -> dict[str, Any]:
    if full is None:
        full = os.environ.get(FULL_ENV) == "1"
    probes = {
        s.name: _repeat(
            f"probes/{s.name}",
            s.reps,
            lambda s=s: _probe_once(s),
            PROBE_STAGES,
        )
        for s in PROBE_SETTINGS
    }
    classic: dict[str, Any] = {}
    missing = stack.missing_binaries(stack.PROMETHEUS, stack.ALERTMANAGER)
    if missing is not None:
        classic["skipped"] = missing
    else:
        classic["tuned"] = {
            **_repeat("classic/tuned", 2, lambda: _classic_once(CLASSIC_TUNED), CLASSIC_STAGES),
            "expected": _expected_classic(CLASSIC_TUNED),
        }
        expected = _expected_classic(CLASSIC_DEFAULT)
        if full:
            measured = _repeat(
                "classic/default", 1, lambda: _classic_once(CLASSIC_DEFAULT), CLASSIC_STAGES
            )
            classic["default"] = {**measured, "measured": True, "expected": expected}
        else:
            classic["default"] = {
                "measured": False,
                "note": "expected from the intervals; measure with python -m bench fault --full",
                "expected": expected,
            }
    ratios: dict[str, float | None] = {}
    if "tuned" in classic:
        ratios["tuned"] = _ratio(probes["tuned"]["total"], classic["tuned"]["total"])
        default = classic["default"]
        theirs = (
            default["total"]
            if default["measured"]
            else default["expected"]["total_without_rollsafe"]
        )
        ratios["default"] = _ratio(probes["default"]["total"], theirs)
    return {"probes": probes, "classic": classic, "ratio_rollsafe_over_classic": ratios}
