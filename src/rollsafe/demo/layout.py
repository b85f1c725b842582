"""Where things live inside one demo host's directory.

::

    <root>/service.json      name, address and port of the host (written at fleet build)
    <root>/release/          the installed release: what the local driver checkpoints
    <root>/data/app.db       the host's SQLite data (table ``items``)
    <root>/logs/app.log      the application log the log probe follows
    <root>/logs/service.out  the process's stdout/stderr (crashes land here)
    <root>/run/service.pid   pid of the running service
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

HOST_FILE = "service.json"
RELEASE_DIR = "release"
DATA_FILE = "data/app.db"
LOG_FILE = "logs/app.log"
OUT_FILE = "logs/service.out"
PID_FILE = "run/service.pid"
SERVICE_MODULE = "rollsafe.demo.service"
CTL_MODULE = "rollsafe.demo.servicectl"


@dataclass(frozen=True, slots=True)
class HostInfo:
    name: str
    address: str
    port: int


def write_host(root: Path, info: HostInfo) -> None:
    payload = {"name": info.name, "address": info.address, "port": info.port}
    (root / HOST_FILE).write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")


def read_host(root: Path) -> HostInfo:
    data = json.loads((root / HOST_FILE).read_text(encoding="utf-8"))
    return HostInfo(name=str(data["name"]), address=str(data["address"]), port=int(data["port"]))
