"""Which code drives which ``kind`` of driver: built-ins by name, third parties by entry point.

Role in the loop (execute): the runtime turns each ``drivers:`` entry of the config into a
``Driver`` here. Built-in factories import their module only when called, so a driver whose
optional dependencies are missing cannot break the others. A ``kind`` that is not built in
is looked up in the ``rollsafe.drivers`` entry point group, where an installed package
registers ``kind = "package.module:factory"``.
"""

from __future__ import annotations

import importlib
import importlib.metadata
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol, cast

from rollsafe.config import models
from rollsafe.domain import errors
from rollsafe.execute import driving

ENTRY_POINT_GROUP = "rollsafe.drivers"


def _local(config: models.Driver, state_dir: Path) -> driving.Driver:
    from rollsafe.execute.drivers import local

    if not isinstance(config, models.LocalDriver):
        raise errors.ConfigError(f"driver {config.name!r} is not a `kind: local` driver")
    return local.LocalDriver(config, state_dir)


def _aws(config: models.Driver, state_dir: Path) -> driving.Driver:
    from rollsafe.execute.drivers import aws

    return aws.create(config, state_dir)


def _tencent(config: models.Driver, state_dir: Path) -> driving.Driver:
    from rollsafe.execute.drivers import tencent

    return tencent.make_driver(config, state_dir)


def _aliyun(config: models.Driver, state_dir: Path) -> driving.Driver:
    from rollsafe.execute.drivers import aliyun

    return aliyun.make_driver(config, state_dir)


def _host(config: models.Driver, state_dir: Path) -> driving.Driver:
    from rollsafe.execute.drivers import host

    return host.make_driver(config, state_dir)


def _kubernetes(config: models.Driver, state_dir: Path) -> driving.Driver:
    from rollsafe.execute.drivers import kubernetes

    return kubernetes.make_driver(config, state_dir)


FACTORIES: dict[str, driving.DriverFactory] = {
    "local": _local,
    "aws": _aws,
    "tencent": _tencent,
    "aliyun": _aliyun,
    "kubernetes": _kubernetes,
    "host": _host,
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


class Discoverer(Protocol):
    """A driver module's ``discover``: the targets its cloud has with all of ``tags``."""

    async def __call__(self, config: Any, /, *, tags: Mapping[str, str]) -> list[models.Target]: ...


DRIVER_MODULES: dict[str, str] = {
    "local": "rollsafe.execute.drivers.local",
    "aws": "rollsafe.execute.drivers.aws",
    "tencent": "rollsafe.execute.drivers.tencent",
    "aliyun": "rollsafe.execute.drivers.aliyun",
}
"""Built-in ``kind`` -> its module (default: ``rollsafe.execute.drivers.<kind>``)."""


def discoverer(kind: str) -> Discoverer:
    """The ``discover`` function of the driver module of ``kind``, imported now.

    Built-in kinds use ``DRIVER_MODULES``; an installed plug-in's module is the one its entry
    point names. ConfigError when the module cannot be imported or has no ``discover``.
    """
    if kind in FACTORIES:
        module_name = DRIVER_MODULES.get(kind, f"rollsafe.execute.drivers.{kind}")
    else:
        found = [
            ep for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP) if ep.name == kind
        ]
        if len(found) != 1:
            raise errors.ConfigError(
                f"no driver of kind {kind!r} is built in or installed exactly once"
            )
        module_name = found[0].module
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise errors.ConfigError(
            f"the {kind!r} driver cannot be loaded to discover targets: {exc}"
        ) from exc
    function = getattr(module, "discover", None)
    if not callable(function):
        raise errors.ConfigError(f"drivers of kind {kind!r} cannot discover targets")
    return cast(Discoverer, function)
