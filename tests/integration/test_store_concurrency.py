"""Two processes share one store (SQLite, PostgreSQL): the chain stays whole, one run per target.

Each worker process opens (and so migrates) the store only after both are started and told to
go, so migration, audit appends and run opening really race.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from rollsafe.audit import chain
from rollsafe.storage import auditing, sql

_WORKER = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    from rollsafe.domain import audit_events, ids, runs
    from rollsafe.storage import repositories, sql

    state, name, appends = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    url = sys.argv[4] or None
    print("ready", flush=True)
    sys.stdin.readline()  # both workers start together
    store = sql.open_store(state, url)
    for n in range(appends):
        store.append_audit(
            audit_events.AuditEntry(
                time=1_700_000_000.0 + n, actor=name, action="test.append", details={"n": n}
            )
        )
    run = runs.RollbackRun(
        id=ids.RunId("run-" + name), target=ids.TargetId("db-1"), state=runs.RunState.PENDING,
        trigger="manual", actor=name, reason="race", created_at=1.0, updated_at=1.0,
    )
    entry = audit_events.AuditEntry(time=2.0, actor=name, action="run.opened")
    try:
        store.open_run(run, audit=entry)
        outcome = {"opened": run.id}
    except repositories.OpenRunExistsError as exc:
        outcome = {"refused_by": exc.run_id}
    store.close()
    print(json.dumps(outcome), flush=True)
    """
)


def _start(state: Path, name: str, appends: int, url: str | None) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-c", _WORKER, str(state), name, str(appends), url or ""],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "ready"
    return process


def test_two_processes_append_and_race_for_one_run(tmp_path: Path, store_url: str | None) -> None:
    state = tmp_path / "state"
    workers = {name: _start(state, name, 200, store_url) for name in ("alpha", "beta")}
    for process in workers.values():
        assert process.stdin is not None
        process.stdin.write("go\n")
        process.stdin.flush()
    outcomes = {}
    for name, process in workers.items():
        out, _ = process.communicate(timeout=120)
        assert process.returncode == 0, out
        outcomes[name] = json.loads(out.strip().splitlines()[-1])

    opened = [o["opened"] for o in outcomes.values() if "opened" in o]
    refused = [o["refused_by"] for o in outcomes.values() if "refused_by" in o]
    assert len(opened) == 1
    assert refused == opened  # the loser was told which run holds the target

    with sql.open_store(state, store_url) as store:
        assert auditing.verify_store(store) == chain.VerifyResult(ok=True, count=401)
        events = list(store.list_audit_events())
        assert [e.seq for e in events] == list(range(1, 402))
        for name in workers:
            mine = [
                e.entry.details["n"]
                for e in events
                if e.entry.actor == name and e.entry.action == "test.append"
            ]
            assert mine == list(range(200))  # each process's appends, in its own order
        assert [r.id for r in store.list_runs(open_only=True)] == opened
