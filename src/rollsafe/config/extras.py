"""Optional extras: which configured kinds need which ``pip install 'rollsafe[...]'``.

Role in the loop (config, the edge): ``pip install rollsafe`` carries only what the embedded
default needs (SQLite, the local and host drivers over local commands, the probes, the API).
Kubernetes, PostgreSQL, ssh and each cloud are extras, imported lazily by the one module that
uses them. A configuration that names such a kind without its extra would otherwise fail
later, deep inside a driver, with a bare ``No module named ...``; loading (and so
``rollsafe config check``) reports it up front instead, on the line of the ``kind``::

    rollsafe.yaml:31: drivers[2].kind: 'kubernetes' needs the extra:
        pip install 'rollsafe[kubernetes]' (not installed: kubernetes)

(one line in the real message).

Whether a package is installed is asked of the import system (``importlib.util.find_spec``)
without importing it, so the check costs a few file look-ups, not an SDK import.
"""

from __future__ import annotations

import dataclasses
import importlib.util
from collections.abc import Callable, Iterator, Sequence

import yaml
from pydantic import BaseModel

from rollsafe.config import locating, models

__all__ = ["EXTRAS", "Extra", "installed", "missing", "problems", "requirement"]


@dataclasses.dataclass(frozen=True, slots=True)
class Extra:
    """One optional extra: its name in pyproject and the modules that prove it is installed."""

    name: str
    modules: tuple[str, ...]

    @property
    def command(self) -> str:
        return f"pip install 'rollsafe[{self.name}]'"


KUBERNETES = Extra("kubernetes", ("kubernetes",))
POSTGRES = Extra("postgres", ("psycopg",))
SSH = Extra("ssh", ("asyncssh", "bcrypt"))
AWS = Extra("aws", ("boto3",))
# The SNS intake verifies AWS's RSA signatures; nothing else in the core needs cryptography.
AWS_SNS = Extra("aws", ("cryptography",))
TENCENT = Extra("tencent", ("tencentcloud.cvm", "tencentcloud.cbs"))
TENCENT_TAT = Extra("tencent", ("tencentcloud.tat",))
ALIYUN = Extra("aliyun", ("alibabacloud_ecs20140526",))
TENCENT_LOGS = Extra("tencent-logs", ("tencentcloud.cls",))
# The CloudMonitor / Cloud Monitor probes: their own SDK package inside the cloud's extra.
ALIYUN_CMS = Extra("aliyun", ("alibabacloud_cms20190101",))
TENCENT_MONITOR = Extra("tencent", ("tencentcloud.monitor",))

EXTRAS: dict[type[BaseModel], Extra] = {
    models.KubernetesDriver: KUBERNETES,
    models.SshTransport: SSH,
    models.AwsDriver: AWS,
    models.SsmTransport: AWS,
    models.CloudwatchProbe: AWS,
    models.SnsIntake: AWS_SNS,
    models.TencentDriver: TENCENT,
    models.TencentTatTransport: TENCENT_TAT,
    models.AliyunDriver: ALIYUN,
    models.AliyunAssistantTransport: ALIYUN,
    models.ClsProbe: TENCENT_LOGS,
    models.AliyunCmsProbe: ALIYUN_CMS,
    models.TencentMonitorProbe: TENCENT_MONITOR,
}
"""Configuration models whose ``kind`` needs an extra. Every other kind is in the core."""

_POSTGRES_SCHEMES = ("postgresql", "postgres")


def installed(module: str) -> bool:
    """True when ``module`` can be imported (looked up, not imported)."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        # A missing parent package (tencentcloud for tencentcloud.cvm), or a module that an
        # import blocker refuses: either way it cannot be imported.
        return False


Installed = Callable[[str], bool]


def missing(extra: Extra, *, is_installed: Installed = installed) -> list[str]:
    """The modules of ``extra`` that cannot be imported (empty: the extra is installed)."""
    return [module for module in extra.modules if not is_installed(module)]


def requirement(kind: str, extra: Extra, absent: Sequence[str]) -> str:
    """The message for a ``kind`` whose extra is not installed."""
    return (
        f"{kind!r} needs the extra: {extra.command} "
        f"(not installed: {', '.join(sorted(set(absent)))})"
    )


def problems(
    config: models.RollsafeConfig, root: yaml.Node, *, is_installed: Installed = installed
) -> list[locating.Problem]:
    """Every configured kind whose extra is missing, each placed on the line of its ``kind``."""
    out: list[locating.Problem] = []
    for path, model in _walk(config, ()):
        extra = EXTRAS.get(type(model))
        if extra is None:
            continue
        absent = missing(extra, is_installed=is_installed)
        if absent:
            kind = str(getattr(model, "kind", type(model).__name__))
            out.append(locating.problem(root, (*path, "kind"), requirement(kind, extra, absent)))
    url = config.store.url
    if url is not None and url.split(":", 1)[0].split("+", 1)[0] in _POSTGRES_SCHEMES:
        absent = missing(POSTGRES, is_installed=is_installed)
        if absent:
            out.append(
                locating.problem(
                    root, ("store", "url"), requirement("postgresql", POSTGRES, absent)
                )
            )
    return out


def _walk(
    value: object, path: tuple[locating.PathPart, ...]
) -> Iterator[tuple[tuple[locating.PathPart, ...], BaseModel]]:
    """Every model inside ``value`` with the field path a person wrote to reach it."""
    if isinstance(value, BaseModel):
        yield path, value
        for name, field in type(value).model_fields.items():
            yield from _walk(getattr(value, name), (*path, field.alias or name))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _walk(item, (*path, index))
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _walk(item, (*path, str(key)))
