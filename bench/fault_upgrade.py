"""The fault the fault benchmark injects: a release that answers every request with HTTP 500.

``python bench/fault_upgrade.py HOST_DIR`` installs it over the demo host's release and
restarts the service: the ``upgrade`` command of the benchmark's local driver, so the fault
arrives the way users upgrade (``rollsafe upgrade``), and the rollback restores the directory.
The demo's own bad release fails one request in three; a health check that fails only now and
then measures a rule's statistics, not the time the loop takes, so this one fails them all.
Run as a script by the driver (no package import besides rollsafe's demo).
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

from rollsafe.demo import layout, releases, servicectl

BROKEN = replace(
    releases.BAD,
    version="1.5.0-broken",
    error_every=1,
    notes="every request fails: the fault benchmark's bad upgrade",
)


def break_host(root: Path) -> int:
    """Install the broken release in the host at ``root`` and restart it; returns the pid."""
    releases.install(root.resolve() / layout.RELEASE_DIR, BROKEN)
    return servicectl.restart(root)


if __name__ == "__main__":
    print(f"upgraded to {BROKEN.version}, pid {break_host(Path(sys.argv[1]))}")
