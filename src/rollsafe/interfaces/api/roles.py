"""Roles: who may look and who may act, through the API and the dashboard.

Role in the loop (interfaces): the people's side of the loop is gated here. Every request to
``/api/v1/...`` (and ``/metrics`` unless it is public) carries ``Authorization: Bearer
<token>``; the token names a person (``access.tokens[].name``, audited as ``api:<name>``) and
a role:

======== ==============================================================================
viewer   reads everything: fleet, signals, runs, rollouts, audit, metrics
operator also approves and rejects waiting runs and starts manual rollbacks
admin    also releases quarantined targets
======== ==============================================================================

Tokens are read once, at start, from the environment or files (``ConfigError`` when one is
missing, before anything listens). A presented token is compared with every configured one in
constant time, all of them every time, so the answer's timing says nothing about which
token came close. Refusals are ``Denied`` (401 without a valid token, 403 with a role too
low), answered as ``{"error": reason}`` by the handler ``install`` registers.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import fastapi
from fastapi import responses

from rollsafe.config import models
from rollsafe.interfaces.api import auth

__all__ = [
    "RANKS",
    "Denied",
    "Principal",
    "Tokens",
    "admin",
    "install",
    "operator",
    "viewer",
]

RANKS: Mapping[str, int] = {"viewer": 0, "operator": 1, "admin": 2}
_STATE_KEY = "rollsafe_tokens"


@dataclass(frozen=True, slots=True)
class Principal:
    """The holder of a token: ``actor`` is how the audit names them."""

    name: str
    role: str

    @property
    def actor(self) -> str:
        return f"api:{self.name}"

    def can(self, role: str) -> bool:
        return RANKS[self.role] >= RANKS[role]


class Denied(Exception):
    """A request without the right to do what it asks: 401 (who are you?) or 403 (not you)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class Tokens:
    """The configured tokens, each with its principal."""

    def __init__(self, entries: list[tuple[bytes, Principal]]) -> None:
        self._entries = entries

    @classmethod
    def from_config(
        cls,
        access: models.Access,
        *,
        base_dir: Path,
        environ: Mapping[str, str] | None = None,
    ) -> Tokens:
        """Read every token now; ConfigError names the first one that is missing."""
        entries = [
            (
                auth.read_secret(
                    env=token.token_env,
                    file=token.token_file,
                    base_dir=base_dir,
                    environ=environ,
                    what=f"access.tokens {token.name!r}",
                ),
                Principal(name=token.name, role=token.role),
            )
            for token in access.tokens
        ]
        return cls(entries)

    def __bool__(self) -> bool:
        return bool(self._entries)

    def identify(self, presented: str) -> Principal | None:
        """The principal whose token is ``presented``, or None."""
        given = presented.encode()
        found: Principal | None = None
        for secret, principal in self._entries:
            # No early exit: every comparison runs, whatever matched.
            if hmac.compare_digest(given, secret) and found is None:
                found = principal
        return found

    def check(self, authorization: str | None, *, role: str) -> Principal:
        """The principal of an ``Authorization`` header, if it may act as ``role``."""
        if not self._entries:
            raise Denied(401, "no API tokens are configured (access.tokens)")
        if not authorization:
            raise Denied(401, "missing bearer token")
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise Denied(401, "the Authorization header is not `Bearer <token>`")
        principal = self.identify(value.strip())
        if principal is None:
            raise Denied(401, "unknown token")
        if not principal.can(role):
            raise Denied(403, f"{principal.name} is a {principal.role}; this needs {role}")
        return principal


def install(app: fastapi.FastAPI, tokens: Tokens) -> None:
    """Make ``tokens`` the app's, and answer ``Denied`` as ``{"error": reason}``."""
    setattr(app.state, _STATE_KEY, tokens)

    async def denied(request: fastapi.Request, exc: Exception) -> responses.Response:
        assert isinstance(exc, Denied)  # noqa: S101 - registered for Denied only
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return responses.JSONResponse(
            {"error": exc.reason}, status_code=exc.status, headers=headers
        )

    app.add_exception_handler(Denied, denied)


def _check(request: fastapi.Request, role: str) -> Principal:
    tokens: Tokens = getattr(request.app.state, _STATE_KEY)
    return tokens.check(request.headers.get("authorization"), role=role)


async def viewer(request: fastapi.Request) -> Principal:
    """Dependency: any valid token."""
    return _check(request, "viewer")


async def operator(request: fastapi.Request) -> Principal:
    """Dependency: an operator's or an admin's token."""
    return _check(request, "operator")


async def admin(request: fastapi.Request) -> Principal:
    """Dependency: an admin's token."""
    return _check(request, "admin")
