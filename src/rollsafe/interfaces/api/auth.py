"""Authentication of webhook requests, per intake endpoint.

Role in the loop (interfaces): nothing a webhook says is stored before it proves who sent it.
Per endpoint (``auth`` in the configuration):

* ``bearer``: ``Authorization: Bearer <token>`` (or ``?token=`` when ``allow_query`` is set,
  for senders that cannot set headers), checked before the body is read;
* ``hmac``: rollsafe's signature (``detect/intake/signing``) over ``timestamp.body``;
* ``grafana_hmac``: Grafana's signature header, with its optional timestamp header;
* SNS endpoints are authenticated by the message signature itself (``detect/intake/sns``),
  in the intake route, in addition to any ``auth`` given;
* ``none``: nothing (trusted networks and loopback only).

Comparisons are constant-time. Secrets are read once, at start, from the environment or a file
(``ConfigError`` if missing), and never logged or stored.

Replays: a signed request that verified is remembered (a digest of endpoint + signature) until
its timestamp leaves the tolerance window, and the same signature again is refused. The
signature is normalised first (``sha256=`` prefix, case, spaces), since the prefix is optional:
the same MAC sent without it is the same signature. The memory is the store's
(``Store.first_use``) when the app has one, so a restart or another replica remembers too; a
``ReplayCache`` without a store (tests, tools) remembers in memory.
"""

from __future__ import annotations

import collections
import hashlib
import hmac
import os
from collections.abc import Mapping
from pathlib import Path

from rollsafe.config import models
from rollsafe.detect.intake import grafana, signing
from rollsafe.domain import errors
from rollsafe.storage import repositories

__all__ = ["Gate", "ReplayCache", "read_secret", "replay_key"]

MAX_REMEMBERED = 100_000  # signatures held for replay rejection; the oldest go first


def read_secret(
    *,
    env: str | None,
    file: Path | None,
    base_dir: Path,
    environ: Mapping[str, str] | None = None,
    what: str,
) -> bytes:
    """The secret named by ``env`` or ``file`` (relative to ``base_dir``), without a trailing
    newline; ConfigError when it is missing or empty."""
    environ = os.environ if environ is None else environ
    if env is not None:
        value = environ.get(env, "")
        if not value:
            raise errors.ConfigError(f"{what}: environment variable {env} is not set or empty")
        return value.encode()
    if file is None:
        raise errors.ConfigError(f"{what}: no secret configured")
    path = file if file.is_absolute() else base_dir / file
    try:
        value = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise errors.ConfigError(f"{what}: cannot read {path}: {exc}") from exc
    if not value:
        raise errors.ConfigError(f"{what}: {path} is empty")
    return value.encode()


def replay_key(endpoint: str, signature: str) -> str:
    """What is remembered of a signature: a digest of the endpoint and its normalised form."""
    normal = signature.strip().lower().removeprefix(signing.PREFIX).strip()
    return hashlib.sha256(f"{endpoint}\n{normal}".encode()).hexdigest()


class ReplayCache:
    """Signatures seen recently, each until its expiry (see the module notes): in ``store``
    when given (durable, shared by replicas), else in memory."""

    def __init__(
        self, *, store: repositories.Store | None = None, max_entries: int = MAX_REMEMBERED
    ) -> None:
        self._store = store
        self._max = max_entries
        self._expiry: dict[str, float] = {}
        self._order: collections.deque[tuple[float, str]] = collections.deque()

    def __len__(self) -> int:
        return len(self._expiry)

    def first_use(self, key: str, *, now: float, keep_until: float) -> bool:
        """True the first time ``key`` is seen (then remembered until ``keep_until``).

        A store that cannot answer raises StoreError (the route answers 503: retry later).
        """
        if self._store is not None:
            return self._store.first_use(key, now=now, keep_until=keep_until)
        self._forget(now)
        if key in self._expiry:
            return False
        self._expiry[key] = keep_until
        self._order.append((keep_until, key))
        while len(self._expiry) > self._max:
            _, oldest = self._order.popleft()
            self._expiry.pop(oldest, None)
        return True

    def _forget(self, now: float) -> None:
        # Entries are appended with keep_until = their time + a fixed window, so the deque
        # is close to sorted; an out-of-order one is dropped a little late, never early.
        while self._order and self._order[0][0] < now:
            _, key = self._order.popleft()
            if self._expiry.get(key, now + 1) < now:
                del self._expiry[key]


class Gate:
    """The authentication of one intake endpoint (see the module notes)."""

    def __init__(
        self,
        endpoint: models.IntakeBase,
        *,
        base_dir: Path,
        environ: Mapping[str, str] | None = None,
        replays: ReplayCache,
    ) -> None:
        self.endpoint = endpoint
        self.auth = endpoint.auth
        self._replays = replays
        self._secret = b""
        what = f"intake {endpoint.name!r} auth"
        auth = self.auth
        if isinstance(auth, models.BearerAuth):
            self._secret = read_secret(
                env=auth.token_env,
                file=auth.token_file,
                base_dir=base_dir,
                environ=environ,
                what=what,
            )
        elif isinstance(auth, models.HmacAuth | models.GrafanaHmacAuth):
            self._secret = read_secret(
                env=auth.secret_env,
                file=auth.secret_file,
                base_dir=base_dir,
                environ=environ,
                what=what,
            )

    @property
    def scheme(self) -> str | None:
        """The ``WWW-Authenticate`` scheme to announce on a 401, if any."""
        return "Bearer" if isinstance(self.auth, models.BearerAuth) else None

    def secret_headers(self) -> frozenset[str]:
        """Lower-case names of headers that carry this endpoint's credentials."""
        names = {"authorization", signing.SIGNATURE_HEADER.lower()}
        if isinstance(self.auth, models.GrafanaHmacAuth):
            names.add(self.auth.header.lower())
        return frozenset(names)

    def before_body(self, headers: Mapping[str, str], query: Mapping[str, str]) -> None:
        """Checks that need no body (bearer); raises ``signing.Unauthenticated``."""
        auth = self.auth
        if not isinstance(auth, models.BearerAuth):
            return
        given: str | None = None
        header = headers.get("authorization")
        if header is not None:
            scheme, _, value = header.partition(" ")
            if scheme.lower() != "bearer" or not value.strip():
                raise signing.Unauthenticated("the Authorization header is not `Bearer <token>`")
            given = value.strip()
        elif auth.allow_query:
            given = query.get("token")
        if not given:
            raise signing.Unauthenticated("missing bearer token")
        if not hmac.compare_digest(given.encode(), self._secret):
            raise signing.Unauthenticated("wrong bearer token")

    def with_body(self, body: bytes, headers: Mapping[str, str], *, now: float) -> None:
        """Checks over the body (signatures, freshness, replays); raises Unauthenticated."""
        auth = self.auth
        if isinstance(auth, models.HmacAuth):
            timestamp = headers.get(signing.TIMESTAMP_HEADER.lower())
            signature = headers.get(signing.SIGNATURE_HEADER.lower())
            signing.verify(
                body,
                secret=self._secret,
                timestamp=timestamp,
                signature=signature,
                now=now,
                tolerance=auth.tolerance,
            )
            self._first_use(signature or "", timestamp or "", now=now, tolerance=auth.tolerance)
        elif isinstance(auth, models.GrafanaHmacAuth):
            timestamp_header = auth.timestamp_header
            timestamp = headers.get(timestamp_header.lower()) if timestamp_header else None
            signature = headers.get(auth.header.lower())
            grafana.verify_signature(
                body,
                secret=self._secret,
                signature=signature,
                timestamp=timestamp,
                now=now,
                tolerance=auth.tolerance,
                timestamp_expected=timestamp_header is not None,
            )
            if timestamp_header is not None:
                self._first_use(signature or "", timestamp or "", now=now, tolerance=auth.tolerance)

    def _first_use(self, signature: str, timestamp: str, *, now: float, tolerance: float) -> None:
        # A verified timestamp is within tolerance of now, so the signature can only be
        # replayed successfully until timestamp + tolerance; remember it that long.
        when = float(timestamp)
        key = replay_key(self.endpoint.name, signature)
        if not self._replays.first_use(key, now=now, keep_until=when + tolerance):
            raise signing.Unauthenticated("replayed request: this signature was already used")
