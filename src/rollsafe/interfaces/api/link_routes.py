"""``/links/<run>/<action>``: the signed one-time links in chat messages and emails.

Role in the loop (interfaces): a person in a chat channel decides a waiting run with one click.
``GET`` only shows what the link would do and asks for a name (chat services and mail
scanners open links by themselves to preview them: a GET must never act). ``POST`` (the
page's button) acts: the token must be genuine, unexpired and bound to this run and action
(``notify.links.verify``); the decision is written through ``execute.approvals`` with the
link's nonce, which is recorded in the store the first time, so a link works once, whichever
process or replica receives it. The audit names the person as ``link:<name they typed>``
(the link itself proves they received the message; the name says who clicked).

Answers are small HTML pages: 200 done, 400 no name, 403 forged or for another run, 404 no
such run (or links are not enabled), 409 already used or the run no longer waits, 410
expired. Pages are ``no-store`` and send no referrer (the token is in the URL).
"""

from __future__ import annotations

import html
import logging
import urllib.parse
from typing import Any

import fastapi
from fastapi import responses

from rollsafe.domain import clocks, errors, ids, runs
from rollsafe.execute import approvals
from rollsafe.execute import runs as executing
from rollsafe.interfaces.api import bodies
from rollsafe.notify import links
from rollsafe.storage import repositories

__all__ = ["LinkService", "router"]

log = logging.getLogger("rollsafe.api")

_STATUS = {
    "malformed": 403,
    "signature": 403,
    "wrong_run": 403,
    "wrong_action": 403,
    "expired": 410,
}
_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
}
_FORM_LIMIT = 8192
_FORM_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "token": {"type": "string"},
                        "name": {"type": "string"},
                        "reason": {"type": "string"},
                    },
                    "required": ["token", "name"],
                }
            }
        },
    }
}
_VERB = {"approve": "Approve the rollback", "reject": "Reject the rollback"}


class LinkService:
    """Verifies and acts on links; ``key`` None means links are not enabled."""

    def __init__(
        self,
        *,
        key: bytes | None,
        store: repositories.Store,
        clock: clocks.Clock,
        executor: executing.Executor | None,
    ) -> None:
        self._key = key
        self._store = store
        self._clock = clock
        self._executor = executor

    def page(self, run_id: str, action: str, token: str) -> responses.HTMLResponse:
        """The confirmation page of a link (no effect)."""
        refused = self._check(run_id, action, token)
        if refused is not None:
            return refused
        run = self._store.get_run(ids.RunId(run_id))
        assert run is not None  # noqa: S101 - _check found it
        if run.state is not runs.RunState.AWAITING_APPROVAL or run.approval.decision:
            return _page(409, "Nothing to decide", _describe(run) + _p("It no longer waits."))
        reason_field = (
            '<label>Why <input name="reason" required maxlength="500"></label>'
            if action == "reject"
            else '<label>Why (optional) <input name="reason" maxlength="500"></label>'
        )
        form = (
            f'<form method="post" action="/links/{_e(run_id)}/{_e(action)}">'
            f'<input type="hidden" name="token" value="{_e(token)}">'
            "<label>Your name (recorded in the audit) "
            '<input name="name" required maxlength="100" autocomplete="name"></label>'
            f"{reason_field}"
            f'<button type="submit" class="{_e(action)}">{_e(_VERB[action])}</button>'
            "</form>"
        )
        return _page(200, _VERB[action] + "?", _describe(run) + form)

    def act(
        self, run_id: str, action: str, *, token: str, name: str, reason: str
    ) -> responses.HTMLResponse:
        """Decide the run as the link says, once."""
        refused = self._check(run_id, action, token)
        if refused is not None:
            return refused
        assert self._key is not None  # noqa: S101 - _check refused otherwise
        claim = links.verify(self._key, token, run_id=run_id, action=action, now=self._clock.now())
        name = " ".join(name.split())[:100]
        reason = reason.strip()[:500]
        if not name:
            return _page(400, "Who are you?", _p("Give your name: the audit records who decided."))
        if action == "reject" and not reason:
            return _page(400, "Why?", _p("A rejection needs a reason."))
        actor = f"link:{name}"
        why = reason or "approved from a link"
        try:
            if self._executor is not None:
                decide = self._executor.approve if action == "approve" else self._executor.reject
                run = decide(run_id, actor=actor, reason=why, via="link", link=claim.nonce)
            else:
                run, _ = approvals.decide(
                    self._store,
                    run_id,
                    "approve" if action == "approve" else "reject",
                    actor=actor,
                    reason=why,
                    now=self._clock.now(),
                    via="link",
                    link=claim.nonce,
                )
        except approvals.LinkAlreadyUsed:
            return _page(409, "Link already used", _p("Each link works once."))
        except approvals.RunNotFound:
            return _page(404, "No such run", _p(f"There is no run {run_id}."))
        except runs.InvalidTransition as exc:
            return _page(409, "Nothing to decide", _p(str(exc)))
        except errors.StoreError as exc:
            log.error("link for %s: cannot record the decision: %s", run_id, exc)  # noqa: TRY400
            return _page(503, "Try again", _p("The store is unavailable; nothing was decided."))
        done = "approved: the rollback goes on now" if action == "approve" else "rejected"
        return _page(200, "Done", _describe(run) + _p(f"Run {run.id} {done}. Thank you, {name}."))

    def _check(self, run_id: str, action: str, token: str) -> responses.HTMLResponse | None:
        if self._key is None:
            return _page(404, "Links are off", _p("This controller has no link key configured."))
        if action not in links.ACTIONS:
            return _page(404, "No such link", _p("Links approve or reject."))
        try:
            links.verify(self._key, token, run_id=run_id, action=action, now=self._clock.now())
        except links.LinkRejected as exc:
            log.warning("link for %s refused: %s", run_id, exc.reason)
            return _page(_STATUS.get(exc.reason, 403), "This link does not work", _p(str(exc)))
        try:
            found = self._store.get_run(ids.RunId(run_id))
        except errors.StoreError:
            return _page(503, "Try again", _p("The store is unavailable."))
        if found is None:
            return _page(404, "No such run", _p(f"There is no run {run_id}."))
        return None


def _describe(run: runs.RollbackRun) -> str:
    rows = [
        ("target", run.target),
        ("run", run.id),
        ("state", run.state.value),
        ("why", run.reason),
        ("approval", run.approval.mode.value),
    ]
    cells = "".join(f"<tr><th>{_e(k)}</th><td>{_e(str(v))}</td></tr>" for k, v in rows)
    return f"<table>{cells}</table>"


def _p(text: str) -> str:
    return f"<p>{_e(text)}</p>"


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _page(status: int, title: str, body: str) -> responses.HTMLResponse:
    document = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>rollsafe: {_e(title)}</title><style>"
        "body{font:16px system-ui,sans-serif;max-width:36em;margin:2em auto;padding:0 1em}"
        "th{text-align:left;padding-right:1em;color:#555}label{display:block;margin:.8em 0}"
        "input{display:block;width:100%;padding:.4em;font:inherit}"
        "button{margin-top:1em;padding:.6em 1.2em;font:inherit;border:0;border-radius:4px;"
        "color:#fff;background:#1a7f37}button.reject{background:#b42318}"
        f"</style></head><body><h1>{_e(title)}</h1>{body}</body></html>"
    )
    return responses.HTMLResponse(document, status_code=status, headers=_HEADERS)


def router(service: LinkService) -> fastapi.APIRouter:
    """The link routes, bound to ``service``."""
    api = fastapi.APIRouter(tags=["links"])

    @api.get(
        "/links/{run_id}/{action}",
        response_class=responses.HTMLResponse,
        summary="What a signed approve/reject link would do (no effect)",
    )
    async def show(run_id: str, action: str, token: str = "") -> responses.HTMLResponse:
        return service.page(run_id, action, token)

    @api.post(
        "/links/{run_id}/{action}",
        response_class=responses.HTMLResponse,
        summary="Use a signed approve/reject link (once)",
        openapi_extra=_FORM_DOC,
    )
    async def use(run_id: str, action: str, request: fastapi.Request) -> responses.HTMLResponse:
        headers = {key.lower(): value for key, value in request.headers.items()}
        try:
            bodies.check_media(headers, ("application/x-www-form-urlencoded",))
            raw = await bodies.read_limited(headers, request.stream(), limit=_FORM_LIMIT)
        except bodies.UnsupportedMedia as exc:
            return _page(415, "Not a form", _p(str(exc)))
        except bodies.BodyTooLarge:
            return _page(413, "Too large", _p("The form is too large."))
        form = urllib.parse.parse_qs(raw.decode("utf-8", "replace"))

        def field(name: str) -> str:
            return form.get(name, [""])[0]

        return service.act(
            run_id, action, token=field("token"), name=field("name"), reason=field("reason")
        )

    return api
