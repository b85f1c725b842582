"""How fast the ``rollsafe`` command starts, as ratios to ``python -c "import typer"``.

An apt hook or a script may call ``rollsafe`` once per host, so every call's start-up counts.
Each figure is a whole process, from exec to exit, measured here against the yardstick in
the same run: the yardstick and the command alternate (A B A B ...) and the ratio is the median
of the per-pair ratios, so a machine that slows down during the run moves both sides alike.

Goals (issue 18): ``--version`` within 1.5x, ``--help`` within 3x, ``status -c FILE`` on a
store of 1,000 targets within 5x. A floor to read them against: on the 2-core machine of
this project, a process that only imports typer and the pydantic part of it that typer 0.29
imports to convert any non-flag parameter (``typer._adapters``) takes about 2x the
yardstick; adding SQLAlchemy took it to about 4.6x, which is why ``status`` and ``runs`` read
the embedded SQLite store through the standard library (``storage.sqlite_read``).
The configuration and the store for ``status`` are built here, in a temporary directory,
before the timing starts, by the migrating store (``SqlStore``), as the controller would.

Bytecode: ``pip install rollsafe`` compiles every module to ``.pyc`` at install time, as it
did for typer, the yardstick. An editable install of this repository writes them on first
import, unless ``PYTHONDONTWRITEBYTECODE`` is set (it is in some shells and CI images); then
every call would compile rollsafe's sources again (about 0.5x more for ``status`` here) and
compare a compiled yardstick with an uncompiled command. So the package is compiled first
(``compileall``, what pip does) and the figures are those of an installed rollsafe.
"""

from __future__ import annotations

import compileall
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROUNDS = 11
TARGETS = 1_000
GOALS = {"version": 1.5, "help": 3.0, "status_1000_targets": 5.0}
"""Issue 18's goals; ``config check`` of the same 1,000 targets, and ``runs``, without one."""

_BIN = Path(sys.executable).parent
YARDSTICK = [sys.executable, "-c", "import typer"]


def write_fleet(directory: Path, *, targets: int = TARGETS) -> Path:
    """A configuration of ``targets`` local targets, and its store with them in it."""
    from rollsafe.config import loading
    from rollsafe.storage import repositories, sql

    lines = [
        "version: 1",
        "state_dir: ./state",
        "targets:",
        *(
            f"  - {{id: web-{i}, labels: {{role: web}}, driver: release, "
            f"vars: {{port: {8000 + i}}}}}"
            for i in range(targets)
        ),
        "probes:",
        '  - {name: http, kind: http, url: "http://{address}:{port}/health", interval: 5s}',
        "rules:",
        "  - {id: http-5xx, kind: ratio, probe: http, severity: critical,",
        '     when: {field: status, op: ">=", value: 500}, window: 1m, above: 0.2}',
        "drivers:",
        '  - {name: release, kind: local, directory: "/srv/app/{id}/release"}',
    ]
    config = directory / "rollsafe.yaml"
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    loaded = loading.load(config)
    store = sql.open_store(loaded.state_dir, None)
    try:
        store.sync_targets(
            [
                repositories.TargetRecord(
                    id=t.id, address=t.address, labels=dict(t.labels), driver=t.driver
                )
                for t in loaded.config.targets
            ]
        )
    finally:
        store.close()
    return config


def _wall(command: list[str]) -> float:
    began = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return time.perf_counter() - began


def ratio(command: list[str], *, rounds: int = ROUNDS) -> dict[str, float]:
    """Median seconds of ``command`` and of the yardstick, and the median pairwise ratio."""
    _wall(command)  # warm-up: page cache, .pyc files
    _wall(YARDSTICK)
    ours: list[float] = []
    theirs: list[float] = []
    for _ in range(rounds):
        ours.append(_wall(command))
        theirs.append(_wall(YARDSTICK))
    return {
        "seconds": round(statistics.median(ours), 3),
        "typer_seconds": round(statistics.median(theirs), 3),
        "ratio": round(statistics.median(a / b for a, b in zip(ours, theirs, strict=True)), 2),
    }


def commands(config: Path) -> dict[str, list[str]]:
    rollsafe = str(_BIN / "rollsafe")
    return {
        "version": [rollsafe, "--version"],
        "help": [rollsafe, "--help"],
        "status_1000_targets": [rollsafe, "status", "-c", str(config)],
        "config_check": [rollsafe, "config", "check", str(config)],
        "runs": [rollsafe, "runs", "-c", str(config)],
    }


def compile_package() -> None:
    """Write the ``.pyc`` files of rollsafe, as ``pip install`` does (see the docstring)."""
    import rollsafe

    compileall.compile_dir(Path(rollsafe.__file__).parent, quiet=1)


def run() -> dict[str, object]:
    os.environ.setdefault("COLUMNS", "100")  # the same help layout whatever the terminal
    compile_package()
    with tempfile.TemporaryDirectory(prefix="rollsafe-cli-bench-") as scratch:
        config = write_fleet(Path(scratch))
        out: dict[str, object] = {}
        for name, command in commands(config).items():
            figures: dict[str, object] = dict(ratio(command))
            goal = GOALS.get(name)
            if goal is not None:
                figures["goal"] = goal
                figures["met"] = float(figures["ratio"]) <= goal  # type: ignore[arg-type]
            out[name] = figures
        return out


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2))
