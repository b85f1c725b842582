"""``GET /metrics``: the controller's metrics in the Prometheus text format, and intake counts.

Role in the loop (interfaces): Prometheus scrapes what the daemon counted
(``runtime.metrics``). The endpoint needs a viewer's token (Prometheus sends it with
``authorization: {credentials_file: ...}`` in its scrape config) unless
``access.metrics_public`` is set. Webhook intake requests are counted here, by endpoint and
outcome (accepted 2xx, refused 4xx, failed 5xx), by a middleware around ``/intake/...``: the
intake routes stay unaware of metrics. An endpoint name that is not configured is counted as
``unknown`` so that probing random paths cannot grow the label set.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import fastapi
from fastapi import responses

from rollsafe.interfaces.api import roles
from rollsafe.runtime import metrics

__all__ = ["install"]

_INTAKE = "/intake/"


def _outcome(status: int) -> str:
    if status < 400:
        return "accepted"
    if status < 500:
        return "refused"
    return "failed"


def install(
    app: fastapi.FastAPI,
    collected: metrics.Metrics | None,
    *,
    public: bool,
    intake_names: frozenset[str],
) -> None:
    """Serve ``/metrics`` from ``collected`` (404 when None) and count intake requests."""

    @app.get("/metrics", tags=["metrics"], summary="Prometheus metrics", response_model=None)
    async def scrape(request: fastapi.Request) -> responses.Response:
        if not public:
            await roles.viewer(request)
        if collected is None:
            return responses.JSONResponse({"error": "no metrics here"}, status_code=404)
        return responses.Response(collected.render(), media_type=metrics.CONTENT_TYPE)

    if collected is None:
        return

    @app.middleware("http")
    async def count_intake(
        request: fastapi.Request,
        call_next: Callable[[fastapi.Request], Awaitable[responses.Response]],
    ) -> responses.Response:
        response = await call_next(request)
        path = request.url.path
        if path.startswith(_INTAKE) and request.method == "POST":
            name = path[len(_INTAKE) :]
            collected.intake_request(
                name if name in intake_names else "unknown", _outcome(response.status_code)
            )
        return response
