"""``GET /healthz``: the API's own health, for load balancers and supervisors.

Role in the loop (interfaces): healthy means the store answers a read and the daemon's tasks
are running (none has failed). 200 when healthy, 503 otherwise, with what was checked.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping

import fastapi
from fastapi import responses
from pydantic import BaseModel

from rollsafe.domain import errors
from rollsafe.storage import repositories

__all__ = ["Health", "router"]


class Health(BaseModel):
    status: str
    store: str
    daemon: dict[str, object]


def router(
    store: repositories.Store, health: Callable[[], Mapping[str, object]] | None
) -> fastapi.APIRouter:
    api = fastapi.APIRouter(tags=["health"])

    @api.get(
        "/healthz",
        response_model=Health,
        summary="Is this controller healthy?",
        responses={503: {"model": Health, "description": "Something is not healthy"}},
    )
    async def healthz() -> responses.JSONResponse:
        try:
            await asyncio.to_thread(store.audit_head)
            store_state = "ok"
        except errors.StoreError as exc:
            store_state = f"error: {exc}"
        daemon = dict(health()) if health is not None else {"running": True, "failure": None}
        healthy = store_state == "ok" and bool(daemon.get("running"))
        report = Health(status="ok" if healthy else "failing", store=store_state, daemon=daemon)
        return responses.JSONResponse(report.model_dump(), status_code=200 if healthy else 503)

    return api
