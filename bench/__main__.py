"""Runs every benchmark, prints a table and writes bench/out/latest.json.

``python -m bench`` (or ``make bench``). ``python -m bench judge store`` runs a subset.
"""

from __future__ import annotations

import json
import platform
import sys
import time
from pathlib import Path

from bench import backtest_bench, judge_bench, probe_bench, store_bench

SUITES = {
    "judge": judge_bench.run,
    "store": store_bench.run,
    "probes": probe_bench.run,
    "backtest": backtest_bench.run,
}


def main(argv: list[str]) -> int:
    chosen = argv or list(SUITES)
    results: dict[str, object] = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
    for name in chosen:
        print(f"running {name} ...", file=sys.stderr)
        outcome = SUITES[name]()
        results[name] = outcome
        print(f"\n== {name}")
        for key, value in outcome.items():
            print(f"  {key:28} {value}")
    out = Path(__file__).parent / "out"
    out.mkdir(exist_ok=True)
    (out / "latest.json").write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwritten: {out / 'latest.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
