"""The people's part of the API: roles, ``/api/v1``, links, Slack buttons, ``/metrics``, dashboard.

Role in the loop (interfaces): one call, ``install``, adds to the app everything a person uses
to see and steer the loop (the rest of the app is the machines' part: webhook intake and
health). API tokens are read at once (``ConfigError`` before anything listens if one is
missing); a broken link key or Slack signing secret is logged instead, and only its feature
answers 404/503, because a controller that refuses to start protects no one.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

import fastapi

from rollsafe.config import models
from rollsafe.domain import clocks, errors
from rollsafe.execute import runs as executing
from rollsafe.interfaces.api import (
    breaker_routes,
    dashboard_routes,
    link_routes,
    metrics_routes,
    operator_routes,
    roles,
    slack_routes,
    views_routes,
)
from rollsafe.notify import links
from rollsafe.runtime import metrics
from rollsafe.storage import repositories

__all__ = ["install"]

log = logging.getLogger("rollsafe.api")


def install(
    app: fastapi.FastAPI,
    config: models.RollsafeConfig,
    *,
    store: repositories.Store,
    clock: clocks.Clock,
    base_dir: Path,
    environ: Mapping[str, str] | None = None,
    executor: executing.Executor | None = None,
    collected: metrics.Metrics | None = None,
) -> None:
    """Add the people's routes to ``app``. ``executor`` is the controller's (decisions wake its
    waiting runs at once; manual rollbacks need it); ``collected`` feeds ``/metrics``."""
    tokens = roles.Tokens.from_config(config.access, base_dir=base_dir, environ=environ)
    if not tokens:
        log.warning("no API tokens configured (access.tokens): the dashboard and /api/v1 refuse")
    roles.install(app, tokens)
    app.include_router(
        operator_routes.router(
            operator_routes.OperatorService(config, store=store, clock=clock, executor=executor)
        )
    )
    app.include_router(breaker_routes.router(store=store, clock=clock))
    configured = frozenset(t.id for t in config.targets)
    app.include_router(
        views_routes.router(
            views_routes.ViewService(store=store, clock=clock, configured=configured)
        )
    )
    key = _link_key(config.access, base_dir=base_dir, environ=environ)
    app.include_router(
        link_routes.router(
            link_routes.LinkService(key=key, store=store, clock=clock, executor=executor)
        )
    )
    app.include_router(
        slack_routes.router(
            slack_routes.SlackService(
                config, store=store, clock=clock, executor=executor, environ=environ
            )
        )
    )
    metrics_routes.install(
        app,
        collected,
        public=config.access.metrics_public,
        intake_names=frozenset(endpoint.name for endpoint in config.intake),
    )
    app.include_router(dashboard_routes.router())


def _link_key(
    access: models.Access, *, base_dir: Path, environ: Mapping[str, str] | None
) -> bytes | None:
    try:
        return links.load_key(access, base_dir=base_dir, environ=environ)
    except errors.ConfigError as exc:
        log.error("approval links disabled: %s", exc)  # noqa: TRY400 - a condition, not a trace
        return None
