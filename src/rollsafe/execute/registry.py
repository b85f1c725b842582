"""Which code drives which ``kind`` of driver: built-ins by name, third parties by entry point.

Role in the loop (execute): the runtime turns each ``drivers:`` entry of the config into a
``Driver`` here. Built-in factories import their module only when called, so a driver whose
optional dependencies are missing cannot break the others. A ``kind`` that is not built in
is looked up in the ``rollsafe.drivers`` entry point group, where an installed package
registers ``kind = "package.module:factory"``.
"""

from __future__ import annotations

import importlib.metadata
from pathlib import Path
from typing import cast

from rollsafe.config import models
from rollsafe.domain import errors
from rollsafe.execute import driving

ENTRY_POINT_GROUP = "rollsafe.drivers"


def _local(config: models.Driver, state_dir: Path) -> driving.Driver:
    from rollsafe.execute.drivers import local

    if not isinstance(config, models.LocalDriver):
        raise errors.ConfigError(f"driver {config.name!r} is not a `kind: local` driver")
    return local.LocalDriver(config, state_dir)


FACTORIES: dict[str, driving.DriverFactory] = {
    "local": _local,
}
"""Built-in drivers: ``kind`` -> factory."""


def build(config: models.Driver, state_dir: Path) -> driving.Driver:
    """The driver ``config`` describes, keeping its files under ``state_dir``.

    Raises ConfigError when no built-in or installed driver handles ``config.kind``.
    """
    kind: str = config.kind
    factory = FACTORIES.get(kind) or _from_entry_points(kind, name=config.name)
    return factory(config, state_dir)


def _from_entry_points(kind: str, *, name: str) -> driving.DriverFactory:
    found = [
        ep for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP) if ep.name == kind
    ]
    if not found:
        known = sorted(
            set(FACTORIES)
            | {ep.name for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)}
        )
        raise errors.ConfigError(
            f"driver {name!r}: no driver of kind {kind!r} is built in or installed "
            f"(known kinds: {', '.join(known)})"
        )
    if len(found) > 1:
        owners = ", ".join(ep.value for ep in found)
        raise errors.ConfigError(
            f"driver {name!r}: several installed packages provide kind {kind!r}: {owners}"
        )
    entry = found[0]
    try:
        factory = entry.load()
    except Exception as exc:  # any import failure of a plug-in is a config problem
        raise errors.ConfigError(
            f"driver {name!r}: the {kind!r} driver from {entry.value} failed to load: {exc}"
        ) from exc
    if not callable(factory):
        raise errors.ConfigError(
            f"driver {name!r}: entry point {entry.value} is not a callable factory"
        )
    return cast(driving.DriverFactory, factory)
