"""Signed one-time links: approve or reject a waiting run from a chat message or an email.

A link is ``{public_url}/links/{run_id}/{action}?token={token}``. The token is::

    base64url(payload) "." base64url(HMAC-SHA256(key, "rollsafe-link-v1." + base64url(payload)))

with the payload ``{"r": run id, "a": "approve"|"reject", "e": expiry, "n": nonce}`` (compact
JSON). ``verify`` checks, in order: the shape, the signature (constant-time), the expiry, and
that the token is bound to the run and action of the URL it came in on. Minting and verifying
are pure (no clock, no store): single use is enforced by the caller, which records the nonce in
the store the first time a link is used (``Store.use_link``, through
``execute.approvals.decide``) and refuses it every time after. ``load_key`` reads the key.

The key is a secret of the operator's (``access.link_key_env`` / ``link_key_file``); without
one, messages carry no links and only the CLI, the API and the dashboard can decide.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import secrets
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rollsafe.config import models
from rollsafe.domain import errors

__all__ = [
    "ACTIONS",
    "Claim",
    "LinkMaker",
    "LinkRejected",
    "load_key",
    "maker_for",
    "mint",
    "path_for",
    "verify",
]

ACTIONS = frozenset({"approve", "reject"})
_CONTEXT = b"rollsafe-link-v1."
MIN_KEY_BYTES = 16


class LinkRejected(errors.PermanentError):
    """A link that must not act: malformed, forged, expired, used, or for another run."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason  # "malformed" | "signature" | "expired" | "wrong_run" | "used" ...


@dataclass(frozen=True, slots=True)
class Claim:
    """What a valid token says: this action on this run, until ``expires``; ``nonce`` is its id."""

    run_id: str
    action: str
    expires: float
    nonce: str


def mint(key: bytes, *, run_id: str, action: str, expires: float) -> str:
    """A token allowing ``action`` on ``run_id`` until ``expires`` (epoch seconds)."""
    if action not in ACTIONS:
        raise ValueError(f"unknown link action {action!r}")
    payload = {"r": run_id, "a": action, "e": round(expires, 3), "n": secrets.token_urlsafe(12)}
    body = _b64(json.dumps(payload, separators=(",", ":"), sort_keys=True).encode())
    return f"{body}.{_b64(_sign(key, body))}"


def verify(key: bytes, token: str, *, run_id: str, action: str, now: float) -> Claim:
    """The claim of ``token`` if it is genuine, unexpired and for ``run_id``/``action``.

    Raises LinkRejected (``reason`` says which check failed). Does not know about reuse.
    """
    body, dot, signature = token.partition(".")
    if not dot or not body or not signature:
        raise LinkRejected("this link is malformed", reason="malformed")
    try:
        given = _unb64(signature)
    except (binascii.Error, ValueError):
        raise LinkRejected("this link is malformed", reason="malformed") from None
    if not hmac.compare_digest(given, _sign(key, body)):
        raise LinkRejected("this link's signature is not valid", reason="signature")
    try:
        payload: Any = json.loads(_unb64(body))
        claim = Claim(
            run_id=str(payload["r"]),
            action=str(payload["a"]),
            expires=float(payload["e"]),
            nonce=str(payload["n"]),
        )
    except (binascii.Error, ValueError, KeyError, TypeError):
        raise LinkRejected("this link is malformed", reason="malformed") from None
    if now >= claim.expires:
        raise LinkRejected("this link has expired", reason="expired")
    if claim.run_id != run_id:
        raise LinkRejected("this link belongs to another run", reason="wrong_run")
    if claim.action != action:
        raise LinkRejected(f"this link does not {action} the run", reason="wrong_action")
    return claim


def path_for(run_id: str, action: str, token: str) -> str:
    """The path (and query) of a link, to be put after the public URL."""
    quoted = urllib.parse.quote(run_id, safe="")
    return f"/links/{quoted}/{action}?token={urllib.parse.quote(token, safe='')}"


class LinkMaker:
    """Mints full link URLs for messages: ``public_url`` + ``path_for``, valid ``ttl`` seconds."""

    def __init__(self, key: bytes, *, public_url: str, ttl: float) -> None:
        if len(key) < MIN_KEY_BYTES:
            raise errors.ConfigError(
                f"the approval link key must be at least {MIN_KEY_BYTES} bytes long"
            )
        self._key = key
        self._base = public_url.rstrip("/")
        self._ttl = ttl

    def url(self, run_id: str, action: str, *, now: float, until: float | None = None) -> str:
        """A link for ``action`` on ``run_id``; it expires after ``ttl`` or at ``until``."""
        expires = now + self._ttl if until is None else min(now + self._ttl, until)
        token = mint(self._key, run_id=run_id, action=action, expires=expires)
        return self._base + path_for(run_id, action, token)


def _sign(key: bytes, body: str) -> bytes:
    return hmac.new(key, _CONTEXT + body.encode("utf-8"), hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def load_key(
    access: models.Access, *, base_dir: Path, environ: Mapping[str, str] | None = None
) -> bytes | None:
    """The link key from ``access.link_key_env`` or ``link_key_file`` (relative to
    ``base_dir``, the configuration's directory); None when neither is configured.

    Raises ConfigError when the configured source is missing, empty or too short.
    """
    if access.link_key_env is not None:
        value = (os.environ if environ is None else environ).get(access.link_key_env, "").strip()
        where = f"environment variable {access.link_key_env}"
    elif access.link_key_file is not None:
        path = access.link_key_file.expanduser()
        path = path if path.is_absolute() else base_dir / path
        where = f"file {path}"
        try:
            value = path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise errors.ConfigError(f"cannot read the link key from {where}: {exc}") from exc
    else:
        return None
    if len(value.encode()) < MIN_KEY_BYTES:
        raise errors.ConfigError(
            f"the approval link key in {where} is missing or shorter than {MIN_KEY_BYTES} bytes"
        )
    return value.encode()


def maker_for(access: models.Access, *, base_dir: Path) -> LinkMaker | None:
    """The LinkMaker messages use: needs both a key and ``access.public_url``."""
    key = load_key(access, base_dir=base_dir)
    if key is None or access.public_url is None:
        return None
    return LinkMaker(key, public_url=access.public_url, ttl=access.link_ttl)
