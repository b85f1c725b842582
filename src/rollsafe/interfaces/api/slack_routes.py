"""``POST /slack/actions``: the approve/reject buttons of Slack messages.

Role in the loop (interfaces): a Slack notifier with ``interactive: true`` posts buttons; when
someone clicks one, Slack POSTs the interaction here (the Slack app's "Request URL"). Nothing
is believed before Slack's request signature checks out (``notify.slack.verify_request``: v0
HMAC-SHA256 over ``v0:{timestamp}:{body}`` with the app's signing secret, at most 300 s old).
The clicker must be in the notifier's ``approvers`` (when given). The decision is written
through ``execute.approvals`` as ``slack:<user name>`` with the Slack user and team ids in the
audit details.

Answers: 200 decided; 401 unsigned, forged or stale; 403 not an approver; 400 not a button of
rollsafe's; 404 no such run (or no interactive Slack notifier with its signing secret); 409 the
run no longer waits; 503 the store is unavailable.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping

import fastapi
from fastapi import responses

from rollsafe.config import models
from rollsafe.domain import clocks, errors, runs
from rollsafe.execute import approvals
from rollsafe.execute import runs as executing
from rollsafe.interfaces.api import bodies
from rollsafe.notify import slack
from rollsafe.storage import repositories

__all__ = ["SlackService", "router"]

log = logging.getLogger("rollsafe.api")

_BODY_LIMIT = 64 * 1024


class SlackService:
    """The interactive Slack notifiers' secrets, and where decisions go."""

    def __init__(
        self,
        config: models.RollsafeConfig,
        *,
        store: repositories.Store,
        clock: clocks.Clock,
        executor: executing.Executor | None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self._store = store
        self._clock = clock
        self._executor = executor
        environ = os.environ if environ is None else environ
        self._apps: list[tuple[str, models.SlackNotifier]] = []
        for notifier in config.notifiers:
            if not isinstance(notifier, models.SlackNotifier) or not notifier.interactive:
                continue
            secret = environ.get(notifier.signing_secret_env or "", "")
            if not secret:
                # Not fatal: the daemon must run; the buttons answer 503 until it is fixed.
                log.error(
                    "slack %s: %s is not set: its buttons will not work",
                    notifier.name,
                    notifier.signing_secret_env,
                )
                continue
            self._apps.append((secret, notifier))

    @property
    def configured(self) -> bool:
        return bool(self._apps)

    async def receive(self, request: fastapi.Request) -> responses.JSONResponse:
        if not self._apps:
            return _answer(404, "no interactive Slack notifier with a signing secret is configured")
        headers = {key.lower(): value for key, value in request.headers.items()}
        try:
            body = await bodies.read_limited(headers, request.stream(), limit=_BODY_LIMIT)
        except bodies.BodyTooLarge:
            return _answer(413, "the body is too large")
        now = self._clock.now()
        app: models.SlackNotifier | None = None
        refusal = "no signing secret matched"
        for secret, notifier in self._apps:
            try:
                slack.verify_request(
                    secret,
                    timestamp=headers.get("x-slack-request-timestamp"),
                    signature=headers.get("x-slack-signature"),
                    body=body,
                    now=now,
                )
            except slack.SlackRequestRefused as exc:
                refusal = str(exc)
                continue
            app = notifier
            break
        if app is None:
            log.warning("slack interaction refused: %s", refusal)
            return _answer(401, refusal)
        try:
            click = slack.parse_action(body)
        except slack.SlackRequestRefused as exc:
            return _answer(400, str(exc))
        if app.approvers is not None and not (
            click.user_id in app.approvers or click.user_name in app.approvers
        ):
            log.warning("slack %s: %s may not decide runs", app.name, click.user_name)
            return _answer(403, f"{click.user_name} is not an approver of {app.name}")
        return self._decide(click, app)

    def _decide(self, click: slack.Click, app: models.SlackNotifier) -> responses.JSONResponse:
        actor = f"slack:{click.user_name}"
        who = {"slack_user_id": click.user_id, "slack_team_id": click.team_id, "notifier": app.name}
        reason = (
            "approved in Slack" if click.action == "approve" else f"rejected in Slack ({app.name})"
        )
        try:
            if self._executor is not None:
                decide = (
                    self._executor.approve if click.action == "approve" else self._executor.reject
                )
                run = decide(click.run_id, actor=actor, reason=reason, via="slack", details=who)
            else:
                run, _ = approvals.decide(
                    self._store,
                    click.run_id,
                    "approve" if click.action == "approve" else "reject",
                    actor=actor,
                    reason=reason,
                    now=self._clock.now(),
                    via="slack",
                    details=who,
                )
        except approvals.RunNotFound:
            return _answer(404, f"no run {click.run_id}")
        except runs.InvalidTransition as exc:
            return _answer(409, str(exc))
        except errors.StoreError as exc:
            log.error("slack: cannot record the decision on %s: %s", click.run_id, exc)  # noqa: TRY400
            return _answer(503, "the store is unavailable")
        log.info("slack %s: %s %sd run %s", app.name, click.user_name, click.action, run.id)
        return responses.JSONResponse(
            {"ok": True, "run": run.id, "state": run.state.value, "decided_by": actor}
        )


def _answer(status: int, reason: str) -> responses.JSONResponse:
    return responses.JSONResponse({"error": reason}, status_code=status)


def router(service: SlackService) -> fastapi.APIRouter:
    api = fastapi.APIRouter(tags=["slack"])

    @api.post("/slack/actions", summary="Slack interactive buttons (signed by Slack)")
    async def actions(request: fastapi.Request) -> responses.JSONResponse:
        return await service.receive(request)

    return api
