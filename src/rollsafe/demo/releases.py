"""The releases a demo host can run: a good one, and an upgrade that breaks it.

A release is a directory (``<host>/release``) holding ``release.json`` and a few content
files. The upgrade writes the bad release over the good one the way a package manager would
(changed files replaced, new files added), so a rollback has something real to undo: the
local driver restores the directory, and the demo checks it is byte-identical again.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

RELEASE_FILE = "release.json"


@dataclass(frozen=True, slots=True)
class Release:
    """One installable release. ``error_every`` > 0 makes every n-th request fail."""

    version: str
    error_every: int = 0
    notes: str = ""
    files: dict[str, str] = field(default_factory=dict)

    def manifest(self) -> dict[str, Any]:
        return {"version": self.version, "error_every": self.error_every, "notes": self.notes}


GOOD = Release(
    version="1.4.2",
    notes="stable",
    files={
        "app.conf": (
            "# shop-api settings\nworkers = 4\ncache_ttl_s = 30\nitems_page_size = 20\n"
            "tenant_lookup = legacy\n"
        ),
        "templates/item.txt": "item {id}: {name} ({price} EUR)\n",
    },
)

BAD = Release(
    version="1.5.0",
    error_every=3,
    notes="new tenant lookup; its cache key is wrong, so a third of requests fail",
    files={
        "app.conf": (
            "# shop-api settings\nworkers = 4\ncache_ttl_s = 30\nitems_page_size = 20\n"
            "tenant_lookup = sharded\n"
        ),
        "migrations/0042_tenant_shards.sql": "ALTER TABLE items ADD COLUMN tenant TEXT;\n",
    },
)

NEXT = Release(
    version="1.4.3",
    notes="a good release: faster item pages, nothing broken (the rollout demo's good case)",
    files={
        "app.conf": (
            "# shop-api settings\nworkers = 4\ncache_ttl_s = 60\nitems_page_size = 20\n"
            "tenant_lookup = legacy\n"
        ),
        "templates/item.txt": "item {id}: {name} ({price} EUR)\n",
    },
)

CATALOG: dict[str, Release] = {GOOD.version: GOOD, BAD.version: BAD, NEXT.version: NEXT}


def install(release_dir: Path, release: Release) -> None:
    """Write ``release`` into ``release_dir`` over whatever is there (files are not removed)."""
    release_dir.mkdir(parents=True, exist_ok=True)
    for name, text in release.files.items():
        path = release_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    # The manifest last: a service started mid-install reads the old version, never half.
    tmp = release_dir / f".{RELEASE_FILE}.tmp"
    tmp.write_text(json.dumps(release.manifest(), indent=2) + "\n", encoding="utf-8")
    tmp.replace(release_dir / RELEASE_FILE)


def read(release_dir: Path) -> Release:
    """The release installed in ``release_dir`` (files not loaded: the service needs none)."""
    data = json.loads((release_dir / RELEASE_FILE).read_text(encoding="utf-8"))
    return Release(
        version=str(data["version"]),
        error_every=int(data.get("error_every", 0)),
        notes=str(data.get("notes", "")),
    )


def fingerprint(directory: Path) -> dict[str, str]:
    """Relative path -> SHA-256 of every file under ``directory``: equal means byte-identical."""
    out: dict[str, str] = {}
    for path in sorted(directory.rglob("*")):
        if path.is_file():
            out[path.relative_to(directory).as_posix()] = hashlib.sha256(
                path.read_bytes()
            ).hexdigest()
    return out
