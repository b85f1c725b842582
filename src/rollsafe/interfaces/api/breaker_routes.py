"""``/api/v1/breaker``: the fleet circuit breaker's state, and its reset by an operator.

Role in the loop (interfaces): the breaker (``rollsafe.execute.breaker``) holds automatic
rollbacks for a person when much of the fleet turned critical at once. ``GET`` shows it (a
viewer's token); ``POST /reset`` closes it (an operator's token), audited as ``breaker.reset``
naming the token's holder. Answers are JSON; a refusal is ``{"error": reason}`` with 400 (bad
body), 401/403 (token, role), 409 (not tripped) or 503 (store).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Annotated, Any

import fastapi
from fastapi import responses
from pydantic import BaseModel, Field

from rollsafe.domain import audit_events, clocks, errors
from rollsafe.execute import breaker
from rollsafe.interfaces.api import roles
from rollsafe.storage import repositories

__all__ = ["Reset", "router"]

log = logging.getLogger("rollsafe.api")

Viewer = Annotated[roles.Principal, fastapi.Depends(roles.viewer)]
Operator = Annotated[roles.Principal, fastapi.Depends(roles.operator)]


class Reset(BaseModel):
    """What the operator checked before closing the breaker."""

    reason: str = Field(min_length=1, max_length=2000)


def router(
    *,
    store: repositories.Store,
    clock: clocks.Clock,
    on_audit: Callable[[audit_events.AuditEntry], None] | None = None,
) -> fastapi.APIRouter:
    """The breaker routes; ``on_audit`` hears the ``breaker.reset`` entry (notifications)."""
    api = fastapi.APIRouter(prefix="/api/v1", tags=["people"])

    async def answer(work: Callable[[], Any]) -> responses.JSONResponse:
        try:
            return responses.JSONResponse(await asyncio.to_thread(work))
        except breaker.NotTripped as exc:
            return responses.JSONResponse({"error": str(exc)}, status_code=409)
        except errors.StoreError as exc:
            log.error("breaker: store failed: %s", exc)  # noqa: TRY400 - the reason is the message
            return responses.JSONResponse(
                {"error": "the store is unavailable; retry later"}, status_code=503
            )

    @api.get("/breaker", summary="The fleet circuit breaker: open or closed, and why")
    async def status(who: Viewer) -> responses.JSONResponse:
        return await answer(lambda: breaker.read(store).to_json())

    @api.post("/breaker/reset", summary="Close the tripped circuit breaker (operator)")
    async def reset(body: Reset, who: Operator) -> responses.JSONResponse:
        def work() -> dict[str, Any]:
            state, entry = breaker.reset(
                store, actor=who.actor, reason=body.reason, now=clock.now()
            )
            if on_audit is not None:
                try:
                    on_audit(entry)
                except Exception:  # a notification must not undo the reset
                    log.exception("breaker reset listener failed")
            return state.to_json()

        return await answer(work)

    return api
