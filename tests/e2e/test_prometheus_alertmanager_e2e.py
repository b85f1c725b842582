"""A bad upgrade, caught by a real Prometheus, routed by a real Alertmanager, rolled back.

Everything runs for real on 127.0.0.1:

- the demo web service (``rollsafe.demo.service``) as its own process, exporting
  ``http_requests_total{path,code}`` on ``/metrics``, with a load generator sending it
  ~20 requests a second;
- Prometheus (Debian ``prometheus``) scraping it every second and evaluating, every second,
  the alert "more than 20% of requests answer 5xx for 2s";
- Alertmanager (Debian ``prometheus-alertmanager``, clustering off, group_wait 1s) posting
  that alert to rollsafe's Alertmanager intake endpoint with a bearer token;
- ``rollsafe run`` as a process: an ``alert`` rule on that endpoint, cross-validated with a
  ``promql`` probe asking Prometheus for the same ratio, is critical; the local driver
  restores the service's release directory and restarts it; the http probe verifies.

The test upgrades the service to the bad release with ``rollsafe upgrade`` (checkpoint, then
the driver's upgrade), waits, polling the store and the APIs and bounded by deadlines, until
the run succeeded, checks the service is healthy and its release byte-identical to before,
and prints how long each stage took, from the fault (the bad release starting) to the alert
firing in Prometheus, its arrival at rollsafe, the run opening and the verified recovery.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import re
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import monitoring_stack as stack
import pytest
import yaml

from rollsafe.demo import fleet, layout, releases
from rollsafe.domain import ids, runs, verdicts
from rollsafe.storage import sql

pytestmark = pytest.mark.requires("prometheus", "alertmanager")

ROLLSAFE = str(Path(sys.executable).with_name("rollsafe"))
TARGET = "web-1"
ALERT = "E2EHttp5xxRatio"
INTAKE = "alertmanager"
ALERT_RULE = "prometheus-5xx-alert"
PROMQL_RULE = "promql-5xx-ratio"
CRITICAL_RULE = "upgrade-failed"
STEP_TIMEOUT_S = 60.0  # one stage (start-up, a wait); generous for a slow 2-core machine
LOOP_TIMEOUT_S = 180.0  # fault -> verified recovery, the whole loop
TRAFFIC_INTERVAL_S = 0.05

# The ratio of 5xx answers over the last 5 s, per rollsafe target. `or vector(0)` for the
# probe: with a good release there is no 5xx series at all, and "no 5xx" is a real zero here.
RATIO_RULE_EXPR = (
    'sum by (rollsafe_target) (rate(http_requests_total{code=~"5.."}[5s]))'
    " / sum by (rollsafe_target) (rate(http_requests_total[5s])) > 0.2"
)
RATIO_PROBE_QUERY = (
    '(sum(rate(http_requests_total{rollsafe_target="$id",code=~"5.."}[5s])) or vector(0))'
    ' / sum(rate(http_requests_total{rollsafe_target="$id"}[5s]))'
)


@dataclass
class Timeline:
    """Wall-clock times (Unix seconds) of each stage, as observed."""

    fault: float | None = None  # the bad release started serving (its own log line)
    pending: float | None = None  # Prometheus: the alert condition first true (activeAt)
    firing: float | None = None  # Prometheus: the alert seen firing (polled)
    in_alertmanager: float | None = None  # Alertmanager: the alert received (polled)
    webhook: float | None = None  # rollsafe: the notification stored in the inbox (answered)
    received: float | None = None  # rollsafe: the critical decision made
    run_opened: float | None = None  # rollsafe: the rollback run opened
    recovered: float | None = None  # rollsafe: the run succeeded (verified healthy)
    notes: list[str] = field(default_factory=list)

    def report(self) -> str:
        assert self.fault is not None
        rows = [
            ("alert condition true (Prometheus activeAt)", self.pending),
            ("alert firing in Prometheus (ALERTS, polled)", self.firing),
            ("alert received by Alertmanager (polled)", self.in_alertmanager),
            ("webhook received by rollsafe (inbox, 202)", self.webhook),
            ("critical decision (alert observation judged)", self.received),
            ("rollback run opened", self.run_opened),
            ("rollback verified, run succeeded", self.recovered),
        ]
        lines = ["", "fault -> recovery through Prometheus and Alertmanager (seconds after fault):"]
        previous = self.fault
        for name, at in rows:
            if at is None:
                lines.append(f"  {name:<50} (not observed)")
                continue
            lines.append(f"  {name:<50} +{at - self.fault:6.2f}  (stage {at - previous:+6.2f})")
            previous = at
        lines.extend(f"  note: {n}" for n in self.notes)
        return "\n".join(lines)


class Traffic:
    """Requests to the service's /items from a thread, until stopped."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="traffic", daemon=True)
        self.answers: dict[int, int] = {}

    def _loop(self) -> None:
        while not self._stop.wait(TRAFFIC_INTERVAL_S):
            try:
                with urllib.request.urlopen(f"{self._url}/items", timeout=2) as response:
                    status = response.status
            except urllib.error.HTTPError as exc:
                status = exc.code
            except (urllib.error.URLError, OSError):
                status = 0  # restarting: nobody listens for a moment
            self.answers[status] = self.answers.get(status, 0) + 1

    def __enter__(self) -> Traffic:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


def _rollsafe_config(
    *, host: fleet.Host, state_dir: Path, api_port: int, prometheus_url: str, token_file: Path
) -> dict[str, Any]:
    return {
        "version": 1,
        "state_dir": str(state_dir),
        "policy": {
            "approval": "auto",
            "no_data": "warning",
            "verify_timeout": "60s",
            "step_timeout": "60s",
        },
        "server": {"address": "127.0.0.1", "port": api_port},
        "intake": [
            {
                "name": INTAKE,
                "kind": "alertmanager",
                "auth": {"kind": "bearer", "token_file": str(token_file)},
                # Prometheus' scrape config labels every series with the rollsafe target id.
                "target_label": "rollsafe_target",
                "resolve_by": ["id"],
            }
        ],
        "targets": [
            {
                "id": host.id,
                "address": host.address,
                "driver": "release",
                "vars": {"root": str(host.root), "port": host.port},
            }
        ],
        "probes": [
            {
                "name": "health",
                "kind": "http",
                "url": "http://{address}:{port}/health",
                "interval": "500ms",
                "timeout": "2s",
            },
            {
                "name": "error-ratio",
                "kind": "promql",
                "url": prometheus_url,
                "query": RATIO_PROBE_QUERY,
                "interval": "1s",
                "timeout": "2s",
            },
            {
                "name": "data-file",
                "kind": "data",
                "file": "{root}/" + layout.DATA_FILE,
                "interval": "5s",
                "timeout": "2s",
            },
        ],
        "rules": [
            {
                "id": ALERT_RULE,
                "kind": "alert",
                "severity": "warning",
                "description": "Prometheus says more than 20% of requests fail",
                "source": INTAKE,
                "alertname": ALERT,
                "min_severity": "critical",
            },
            {
                "id": PROMQL_RULE,
                "kind": "threshold",
                "severity": "warning",
                "description": "rollsafe's own PromQL look agrees: 5xx ratio above 20%",
                "probe": "error-ratio",
                "op": ">",
                "value": 0.2,
            },
            {
                "id": CRITICAL_RULE,
                "kind": "all",
                "severity": "critical",
                "description": "the alert and a direct look agree: the upgrade failed",
                "rules": [ALERT_RULE, PROMQL_RULE],
            },
        ],
        "drivers": [
            {
                "name": "release",
                "kind": "local",
                "directory": "{root}/" + layout.RELEASE_DIR,
                "upgrade": [sys.executable, "-m", layout.CTL_MODULE, "upgrade", "{root}"],
                "restart": [sys.executable, "-m", layout.CTL_MODULE, "restart", "{root}"],
                "step_timeout": "60s",
            }
        ],
    }


def _prometheus_rules() -> dict[str, Any]:
    return {
        "groups": [
            {
                "name": "e2e",
                "rules": [
                    {
                        "alert": ALERT,
                        "expr": RATIO_RULE_EXPR,
                        "for": "2s",
                        "labels": {"severity": "critical"},
                        "annotations": {"summary": "{{ $value }} of requests answer 5xx"},
                    }
                ],
            }
        ]
    }


def _alertmanager_config(api_port: int, token_file: Path) -> dict[str, Any]:
    return {
        "route": {
            "receiver": "rollsafe",
            "group_by": ["alertname", "rollsafe_target"],
            "group_wait": "1s",
            "group_interval": "1s",
            "repeat_interval": "1m",
        },
        "receivers": [
            {
                "name": "rollsafe",
                "webhook_configs": [
                    {
                        "url": f"http://127.0.0.1:{api_port}/intake/{INTAKE}",
                        "send_resolved": True,
                        "http_config": {
                            "authorization": {
                                "type": "Bearer",
                                "credentials_file": str(token_file),
                            }
                        },
                    }
                ],
            }
        ],
    }


def _started_at(log: Path, version: str) -> float | None:
    """When the service logged starting ``version`` (its own clock, millisecond precision)."""
    pattern = re.compile(rf"^(\S+) INFO  \[[^\]]+\] starting release {re.escape(version)} ")
    found = None
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        match = pattern.match(line)
        if match:
            found = datetime.datetime.fromisoformat(match.group(1)).timestamp()
    return found


@dataclass
class Loop:
    """Everything running, rollsafe watching a healthy service: ready for the fault."""

    host: fleet.Host
    config: Path
    prometheus: stack.Prometheus
    alertmanager: stack.Alertmanager
    daemon: stack.Process
    store: sql.SqlStore
    traffic: Traffic

    def details(self) -> str:
        processes = (self.daemon, self.prometheus.process, self.alertmanager.process)
        return "\n\n".join(p.describe() for p in processes)


@contextlib.contextmanager
def _running_loop(tmp_path: Path) -> Iterator[Loop]:
    """Service + traffic, Alertmanager, Prometheus, then ``rollsafe run``; stopped in reverse."""
    prometheus_port, alertmanager_port, api_port = fleet.free_ports(3)
    built = fleet.build(tmp_path / "fleet", hosts=1, rows=20)
    host = built.host(TARGET)
    token_file = tmp_path / "intake.token"
    token_file.write_text("e2e-intake-token\n", encoding="utf-8")
    token_file.chmod(0o600)
    config_path = tmp_path / "rollsafe.yaml"
    with contextlib.ExitStack() as cleanup:
        cleanup.callback(fleet.stop, built)
        fleet.start(built)
        traffic = cleanup.enter_context(Traffic(host.url))
        alertmanager = cleanup.enter_context(
            stack.alertmanager(
                tmp_path / "alertmanager",
                port=alertmanager_port,
                config=_alertmanager_config(api_port, token_file),
            )
        )
        prometheus = cleanup.enter_context(
            stack.prometheus(
                tmp_path / "prometheus",
                port=prometheus_port,
                config=stack.prometheus_config(
                    scrape={"shop": [f"{host.address}:{host.port}"]},
                    labels={"shop": {"rollsafe_target": TARGET}},
                    alertmanager_port=alertmanager_port,
                ),
                rules=_prometheus_rules(),
            )
        )
        # Prometheus has seen traffic (two scrapes at least, so rate() has an answer).
        rate = f'sum(rate(http_requests_total{{rollsafe_target="{TARGET}"}}[5s]))'
        prometheus.wait_for(
            lambda: True if prometheus.vector(rate) else None,
            timeout=STEP_TIMEOUT_S,
            what="a request rate in Prometheus",
        )
        document = _rollsafe_config(
            host=host,
            state_dir=tmp_path / "state",
            api_port=api_port,
            prometheus_url=prometheus.url,
            token_file=token_file,
        )
        config_path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
        checked = _cli("config", "check", str(config_path))
        assert checked.returncode == 0, checked.stdout + checked.stderr

        daemon = stack.Process(
            "rollsafe run",
            [ROLLSAFE, "run", "-c", str(config_path)],
            log=tmp_path / "rollsafe.log",
            cwd=tmp_path,
        )
        cleanup.callback(daemon.stop, timeout=30)
        api = f"http://127.0.0.1:{api_port}/healthz"
        stack.wait_for(
            lambda: True if stack.answers_200(api) else None,
            timeout=STEP_TIMEOUT_S,
            what="rollsafe's API answering /healthz",
            details=daemon.describe,
        )
        store = sql.open_store(tmp_path / "state")
        cleanup.callback(store.close)
        loop = Loop(host, config_path, prometheus, alertmanager, daemon, store, traffic)

        def judged_healthy() -> bool | None:
            latest = store.latest_decisions().get(ids.TargetId(TARGET), [])
            by_rule = {d.rule: d.severity for d in latest}
            # The PromQL probe has answered (its rule decided) and nothing is critical.
            if PROMQL_RULE in by_rule and verdicts.Severity.CRITICAL not in by_rule.values():
                return by_rule[PROMQL_RULE] is verdicts.Severity.OK or None
            return None

        stack.wait_for(
            judged_healthy,
            timeout=STEP_TIMEOUT_S,
            what="rollsafe judging web-1 healthy through the PromQL probe",
            details=loop.details,
        )
        yield loop


def _cli(*args: str, timeout: float = STEP_TIMEOUT_S) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [ROLLSAFE, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**os.environ, "COLUMNS": "200"},
    )


@pytest.mark.slow
def test_bad_upgrade_is_alerted_routed_and_rolled_back(tmp_path: Path) -> None:
    timeline = Timeline()
    with _running_loop(tmp_path) as loop:
        host, store = loop.host, loop.store
        good = releases.fingerprint(host.root / layout.RELEASE_DIR)

        # The fault: checkpoint, then the bad release through the driver's upgrade command.
        upgraded = _cli("upgrade", TARGET, "-c", str(loop.config))
        assert upgraded.returncode == 0, upgraded.stdout + upgraded.stderr
        timeline.fault = _started_at(host.root / layout.LOG_FILE, releases.BAD.version)
        assert timeline.fault is not None, "the bad release never logged its start"

        run = _follow(timeline, loop)
        print(timeline.report())
        print(f"  traffic answers by status: {dict(sorted(loop.traffic.answers.items()))}")

        # The loop closed: the right run, by the right rule, with the driver's two steps.
        assert run.state is runs.RunState.SUCCEEDED, f"{run.state}: {run.error}\n{loop.details()}"
        assert run.trigger == f"decision:{CRITICAL_RULE}"
        assert run.actor == "rollsafe"
        steps = store.list_steps(run.id)
        assert [s.name for s in steps] == ["restore-directory", "restart"]
        assert all(s.state is runs.StepState.DONE for s in steps)
        # The alert was the evidence: the critical decision names it.
        evidence = json.dumps(run.evidence)
        assert ALERT in evidence, evidence
        # The service is the good release again, byte for byte, and answers healthy.
        assert releases.fingerprint(host.root / layout.RELEASE_DIR) == good
        answer = fleet.health(host)
        assert answer == {"status": "ok", "version": releases.GOOD.version}, answer

        # The alert resolves (Prometheus' rate window empties of errors), Alertmanager says so,
        # and rollsafe's alert rule goes back to ok...
        def alert_rule_ok() -> bool | None:
            latest = store.latest_decisions().get(ids.TargetId(TARGET), [])
            ok = [d for d in latest if d.rule == ALERT_RULE and d.time > run.updated_at]
            return True if ok and ok[0].severity is verdicts.Severity.OK else None

        stack.wait_for(
            alert_rule_ok,
            timeout=STEP_TIMEOUT_S,
            what="the resolved alert reaching rollsafe",
            details=loop.details,
        )
        # ...and through all of it, one rollback for one fault: the alert still firing after
        # the rollback (and Alertmanager's resends) opened no second run.
        assert [r.id for r in store.list_runs(target=ids.TargetId(TARGET))] == [run.id]
        verified = _cli("audit", "verify", "-c", str(loop.config))
        assert verified.returncode == 0, verified.stdout + verified.stderr


def _follow(timeline: Timeline, loop: Loop) -> runs.RollbackRun:
    """Poll Prometheus, Alertmanager and the store until the run ends; fill ``timeline``."""
    target = ids.TargetId(TARGET)
    prometheus, alertmanager, store = loop.prometheus, loop.alertmanager, loop.store
    assert timeline.fault is not None
    deadline = time.monotonic() + LOOP_TIMEOUT_S
    while time.monotonic() < deadline:
        now = time.time()
        if timeline.firing is None:
            for alert in prometheus.alerts():
                if alert.get("labels", {}).get("alertname") != ALERT:
                    continue
                if timeline.pending is None and alert.get("activeAt"):
                    timeline.pending = _rfc3339(alert["activeAt"])
                if alert.get("state") == "firing":
                    timeline.firing = now
        if timeline.in_alertmanager is None and any(
            a.get("labels", {}).get("alertname") == ALERT for a in alertmanager.alerts()
        ):
            timeline.in_alertmanager = now
        if timeline.webhook is None:
            for row in store.list_inbox(endpoint=INTAKE):
                if row.received_at >= timeline.fault and _fires(row.body):
                    timeline.webhook = row.received_at
                    break
        if timeline.received is None:
            critical = [
                d
                for d in store.list_decisions(target=target)
                if d.rule == CRITICAL_RULE
                and d.severity is verdicts.Severity.CRITICAL
                and d.time >= timeline.fault
            ]
            if critical:
                timeline.received = critical[0].time
        found = [r for r in store.list_runs(target=target) if r.created_at >= timeline.fault]
        if found:
            run = found[0]
            timeline.run_opened = run.created_at
            if run.state.terminal:
                if run.state is runs.RunState.SUCCEEDED:
                    timeline.recovered = run.updated_at
                if timeline.firing is None:
                    timeline.notes.append("the alert was not seen firing by the poll (too brief)")
                return run
        time.sleep(stack.POLL_S)
    raise stack.StackError(
        f"no finished rollback run within {LOOP_TIMEOUT_S:g}s of the fault\n"
        f"{timeline.report()}\n{loop.details()}"
    )


def _fires(body: bytes) -> bool:
    """True when an Alertmanager notification says our alert fires."""
    payload = json.loads(body)
    return any(
        a.get("status") == "firing" and a.get("labels", {}).get("alertname") == ALERT
        for a in payload.get("alerts", [])
    )


def _rfc3339(text: str) -> float:
    # Prometheus writes nanoseconds; Python parses at most microseconds.
    trimmed = re.sub(r"(\.\d{6})\d+", r"\1", text.replace("Z", "+00:00"))
    return datetime.datetime.fromisoformat(trimmed).timestamp()
