"""Which transport class carries a host driver's commands, by ``transport.kind``.

Role in the loop (reach): the host driver asks here for its transport once. Each module is
imported only in its own branch, so a missing cloud SDK cannot break SSH or local hosts.
"""

from __future__ import annotations

from rollsafe.config import models
from rollsafe.domain import errors
from rollsafe.reach.transports import transporting


def build(config: models.Transport, *, output_limit: int) -> transporting.Transport:
    """The transport ``config`` describes; ConfigError for a kind nobody provides."""
    if isinstance(config, models.LocalTransport):
        from rollsafe.reach.transports import local

        return local.LocalTransport(output_limit=output_limit)
    if isinstance(config, models.SshTransport):
        from rollsafe.reach.transports import ssh

        return ssh.make(config, output_limit=output_limit)
    if isinstance(config, models.SsmTransport):
        from rollsafe.reach.transports import ssm

        return ssm.make(config, output_limit=output_limit)
    if isinstance(config, models.AliyunAssistantTransport):
        from rollsafe.reach.transports import aliyun_assistant

        return aliyun_assistant.make(config, output_limit=output_limit)
    if isinstance(config, models.TencentTatTransport):
        from rollsafe.reach.transports import tencent_tat

        return tencent_tat.make(config, output_limit=output_limit)
    raise errors.ConfigError(f"no transport of kind {getattr(config, 'kind', config)!r}")
