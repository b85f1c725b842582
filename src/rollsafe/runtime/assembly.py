"""Assembly: the configured drivers, verifier and executor, built the same way everywhere.

Role in the loop (runtime): the daemon and the CLI both act through an ``Executor``; this
module is the one place that turns a loaded configuration and an open store into one, so a
rollback started by hand behaves exactly like one started by a decision.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from rollsafe.config import loading, models
from rollsafe.domain import audit_events, clocks
from rollsafe.execute import driving, registry, runs
from rollsafe.storage import repositories
from rollsafe.verify import health

__all__ = ["build_drivers", "build_executor", "build_verifier", "sync_targets"]


def build_drivers(config: models.RollsafeConfig, state_dir: Path) -> dict[str, driving.Driver]:
    """Every configured driver, by name. Raises ConfigError for a kind nobody provides."""
    return {d.name: registry.build(d, state_dir) for d in config.drivers}


def build_verifier(config: models.RollsafeConfig, *, clock: clocks.Clock) -> health.HealthVerifier:
    """The verifier runs use: the configured probes, through ``rollsafe.detect.probes``."""
    return health.HealthVerifier(config, clock=clock)


def sync_targets(config: models.RollsafeConfig, store: repositories.Store) -> None:
    """Make the store's target table match the configuration (quarantines are kept)."""
    store.sync_targets(runs.target_records(config))


def build_executor(
    loaded: loading.LoadedConfig,
    store: repositories.Store,
    *,
    clock: clocks.Clock,
    actor: str = "rollsafe",
    on_audit: Callable[[audit_events.AuditEntry], None] | None = None,
    drivers: dict[str, driving.Driver] | None = None,
) -> runs.Executor:
    """An executor for ``loaded`` over ``store``, with the HealthVerifier; targets synced."""
    config = loaded.config
    sync_targets(config, store)
    return runs.Executor(
        config=config,
        store=store,
        drivers=drivers if drivers is not None else build_drivers(config, loaded.state_dir),
        verifier=build_verifier(config, clock=clock),
        clock=clock,
        actor=actor,
        on_audit=on_audit,
    )
