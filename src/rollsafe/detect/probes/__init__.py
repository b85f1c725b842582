"""The built-in probes, one module per kind, and the ``kind -> factory`` registry.

``build(config, clock)`` turns one configured probe into a live ``Probe``; the scheduler calls
it once per probe at start. A factory raises ``ConfigError`` for a mistake only visible when
building (a regex that does not compile, a command that cannot be split).
"""

from __future__ import annotations

from rollsafe.config import models
from rollsafe.detect import probing
from rollsafe.detect.probes import (
    aliyun_cms,
    cloudwatch,
    cls,
    command,
    data,
    elasticsearch,
    host,
    http,
    logs,
    loki,
    promql,
    sls,
    tcp,
    tencent_monitor,
)
from rollsafe.domain import clocks, errors

FACTORIES: dict[str, probing.ProbeFactory] = {
    "http": http.create,
    "tcp": tcp.create,
    "host": host.create,
    "log": logs.create,
    "data": data.create,
    "command": command.create,
    "promql": promql.create,
    "cloudwatch": cloudwatch.create,
    "aliyun_cms": aliyun_cms.create,
    "tencent_monitor": tencent_monitor.create,
    "elasticsearch": elasticsearch.create,
    "loki": loki.create,
    "sls": sls.create,
    "cls": cls.create,
}
"""Probe kind (the ``kind`` key in YAML) -> factory."""


def build(config: models.Probe, clock: clocks.Clock) -> probing.Probe:
    """A live probe for ``config``; ConfigError when its kind has no factory."""
    try:
        factory = FACTORIES[config.kind]
    except KeyError:
        raise errors.ConfigError(
            f"probe {config.name}: unknown kind {config.kind!r}"
            f" (known: {', '.join(sorted(FACTORIES))})"
        ) from None
    return factory(config, clock)


__all__ = ["FACTORIES", "build"]
