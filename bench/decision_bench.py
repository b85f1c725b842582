"""Decision overhead: an observation arriving -> decision stored -> rollback run opened.

The real daemon (``runtime.daemon.Daemon``) over the real SQLite store in a temporary state
directory, with N targets configured. Each observation goes through the daemon's own path
(``_observe``: fold, judge that target, store what changed, request a run for a new critical
decision). The store's ``add_decisions`` and the executor's ``request`` are wrapped on this
instance only, to note when each returned; nothing is replaced.

Figures per size, p50/p99 in milliseconds:

- ``judged``: an ordinary observation (nothing changes), arrival to handled;
- ``stored``: a failing observation, arrival to its critical decision committed;
- ``run``: the same observation, arrival to the rollback run opened (``executor.request``
  returned; the executor is not served here, so the driver is never called);
- ``webhook_stored`` / ``webhook_run``: the webhook path: an Alertmanager payload (one
  critical alert) already committed to the inbox, from the inbox processor picking it up
  (parse, map to the target, judge) to the decision committed and to the run opened; the
  inbox row is marked processed after that, so ``webhook_processed`` is the whole row.

At every size the failing targets are a sample (``failing``), so 10k targets do not mean 10k
rollbacks; the daemon still holds all N targets, their windows and their stored decisions.
"""

from __future__ import annotations

import datetime
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from rollsafe.config import loading, models
from rollsafe.domain import ids, observations
from rollsafe.runtime import daemon
from rollsafe.storage import repositories


def _loaded(state_dir: Path, targets: int) -> loading.LoadedConfig:
    config = models.RollsafeConfig.model_validate(
        {
            "state_dir": str(state_dir),
            # The samples make much of a small fleet critical on purpose; the breaker would
            # (rightly) hold those runs, and its check still runs on every request.
            "policy": {"circuit_breaker": {"max_critical_share": 1.0}},
            "drivers": [{"kind": "local", "name": "noop", "rollback": ["true"]}],
            "targets": [
                {"id": f"t{i}", "driver": "noop", "vars": {"port": 8000}} for i in range(targets)
            ],
            "probes": [
                {"name": "http", "kind": "http", "url": "http://{address}:{port}/", "interval": 15}
            ],
            "intake": [
                {
                    "name": "am",
                    "kind": "alertmanager",
                    "auth": {"kind": "none"},
                    "target_label": "target",
                }
            ],
            "rules": [
                {
                    "id": "down",
                    "kind": "threshold",
                    "probe": "http",
                    "field": "status",
                    "op": ">=",
                    "value": 500,
                    "severity": "critical",
                },
                {"id": "am-critical", "kind": "alert", "source": "am", "severity": "critical"},
            ],
        }
    )
    return loading.LoadedConfig(
        config=config, path=state_dir / "rollsafe.yaml", state_dir=state_dir
    )


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _ms(values: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(_pct(values, 0.50) * 1000, 3),
        "p99_ms": round(_pct(values, 0.99) * 1000, 3),
    }


def _obs(target: str, status: int) -> observations.Observation:
    return observations.Observation(
        time=time.time(),
        target=ids.TargetId(target),
        source="http",
        value=float(status < 500),
        status=status,
        latency_s=0.01,
    )


def _alert_entry(target: str) -> repositories.InboxEntry:
    now = time.time()
    body = {
        "version": "4",
        "status": "firing",
        "receiver": "rollsafe",
        "groupKey": f"{{}}:{{target={target}}}",
        "alerts": [
            {
                "status": "firing",
                "labels": {"alertname": "Down", "target": target, "severity": "critical"},
                "annotations": {},
                "startsAt": datetime.datetime.fromtimestamp(now, tz=datetime.UTC).isoformat(),
                "endsAt": "0001-01-01T00:00:00Z",
                "fingerprint": f"fp-{target}",
            }
        ],
    }
    raw = json.dumps(body).encode()
    return repositories.InboxEntry(
        received_at=now, endpoint="am", headers={}, body=raw, dedupe_key=f"am:{target}:{now}"
    )


def _one_size(targets: int, *, rounds: int, failing: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp)
        d = daemon.Daemon(_loaded(state, targets))
        marks: dict[str, float] = {}
        add_decisions = d.store.add_decisions
        request = d.executor.request

        def timed_add(*args: Any, **kwargs: Any) -> Any:
            result = add_decisions(*args, **kwargs)
            marks["stored"] = time.perf_counter()
            return result

        def timed_request(*args: Any, **kwargs: Any) -> Any:
            result = request(*args, **kwargs)
            marks["run"] = time.perf_counter()
            return result

        d.store.add_decisions = timed_add  # type: ignore[method-assign]
        d.executor.request = timed_request  # type: ignore[method-assign]
        try:
            d._start_up()
            # First observation per target: the rule is seen for the first time at ok and
            # stored quietly; not part of any figure.
            for i in range(targets):
                d._observe(_obs(f"t{i}", 200), save=True)
            judged: list[float] = []
            for _ in range(rounds):
                for i in range(targets):
                    began = time.perf_counter()
                    d._observe(_obs(f"t{i}", 200), save=True)
                    judged.append(time.perf_counter() - began)
            stored: list[float] = []
            opened: list[float] = []
            # Probe-path and webhook-path samples on different targets (a target with an open
            # run gets no second one): even and odd indices, spread over the fleet.
            spacing = max(2, targets // failing)
            for i in range(0, targets, spacing)[:failing]:
                marks.clear()
                began = time.perf_counter()
                d._observe(_obs(f"t{i}", 503), save=True)
                stored.append(marks["stored"] - began)
                opened.append(marks["run"] - began)
            # The webhook path, on targets that are still healthy (no open run yet).
            hooked_stored: list[float] = []
            hooked_run: list[float] = []
            hooked_done: list[float] = []
            for i in range(1, targets, spacing)[:failing]:
                (receipt,) = d.store.add_inbox_many([(_alert_entry(f"t{i}"), None)])
                (record,) = d.store.list_inbox(pending_only=True, after_id=receipt.id - 1, limit=1)
                marks.clear()
                began = time.perf_counter()
                d.inbox.process(record)
                done = time.perf_counter()
                if "stored" in marks:
                    hooked_stored.append(marks["stored"] - began)
                if "run" in marks:
                    hooked_run.append(marks["run"] - began)
                hooked_done.append(done - began)
            states = sorted({r.state.value for r in d.store.list_runs(limit=2 * failing + 1)})
        finally:
            d.store.close()
    return {
        "targets": targets,
        "judged": _ms(judged),
        "stored": _ms(stored),
        "run": _ms(opened),
        "webhook_stored": _ms(hooked_stored),
        "webhook_run": _ms(hooked_run),
        "webhook_processed": _ms(hooked_done),
        "failing": len(stored),
        "webhook_runs": len(hooked_run),
        "run_states": states,
    }


def run(
    *, sizes: tuple[int, ...] = (10, 1000, 10_000), rounds: int = 3, failing: int = 200
) -> dict[str, Any]:
    return {f"n{n}": _one_size(n, rounds=rounds, failing=min(failing, n)) for n in sizes}
