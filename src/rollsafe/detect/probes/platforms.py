"""Log platforms: the part shared by the probes that ask a log store instead of reading a file.

Role in the loop (detect): fleets already ship their logs to Elasticsearch / OpenSearch, Loki,
Alibaba Cloud SLS or Tencent Cloud CLS. The ``elasticsearch``, ``loki``, ``sls`` and ``cls``
probes ask those platforms the question the ``log`` probe answers from a file, and give an
observation of the same shape, so the presets and rules written for ``log`` apply unchanged:

- ``value``: how many matching events have a time in the window ``(end - window, end]``
  where ``end = now - delay`` and ``window`` defaults to the probe's interval (successive
  observations then cover time with neither gap nor overlap, like the file follower);
- ``text``: the last matching line, cut to 500 characters; absent when nothing matched.

Each platform module implements a ``Querier`` (one count query, then, only when the count is
not zero, one query for the newest matching line). ``PlatformProbe`` wraps it with the probe's
timeout and turns every failure of the count into a blind observation, never a value (a line
that cannot be fetched only leaves ``text`` empty: the count stands):

- ``Unavailable`` (HTTP 429 and 5xx, throttling codes): the platform is busy or down for now;
  ``rollsafe record`` retries these;
- ``Refused`` (HTTP 401 / 403, a refused signature): the reason names the credential
  settings to check; retrying does not help;
- any other ``CannotObserve``: unreachable, timeout, a bad query, an answer not in the API's
  shape.

The same ``Querier`` runs live and in ``rollsafe record`` (one query pair per step), so a
recorded observation is the one the probe would have made at that time.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import ssl
import typing
from collections.abc import Mapping
from dataclasses import dataclass

import aiohttp
import yarl

from rollsafe.config import models
from rollsafe.detect.probes import outcomes
from rollsafe.domain import clocks, ids, observations

BODY_LIMIT = 4 * 1024 * 1024
"""Largest answer read: a count and one line never come near it."""


@dataclass(frozen=True, slots=True)
class Window:
    """The span an observation counts: events with ``start < time <= end`` (Unix seconds)."""

    start: float
    end: float


@dataclass(frozen=True, slots=True)
class Found:
    """What a platform answered: the number of matching events and the newest of them."""

    count: int
    last: str | None


class Unavailable(outcomes.CannotObserve):
    """The platform is overloaded or failing for now (429, 5xx): worth asking again later."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Refused(outcomes.CannotObserve):
    """The platform refused who we are (401, 403, a bad signature): fix the credentials."""


class Querier(typing.Protocol):
    """One platform's two questions, asked for one target and one window."""

    async def count(self, target: models.Target, window: Window) -> int:
        """How many matching events the window holds; CannotObserve when it cannot say."""

    async def newest(self, target: models.Target, window: Window) -> str | None:
        """The newest matching line of the window (asked only when the count is not 0)."""

    async def close(self) -> None: ...


async def ask(querier: Querier, target: models.Target, window: Window, *, budget: float) -> Found:
    """The count within ``budget`` seconds, then the newest line within what is left of it.

    A count that cannot be had raises (``TimeoutError``, ``CannotObserve``): the observation
    is blind. A line that cannot be had leaves ``last`` empty: the count is the fact rules
    judge, the line only its evidence, and losing the second request must not lose the first.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + budget
    async with asyncio.timeout(budget):
        count = await querier.count(target, window)
    if count == 0:
        return Found(count=0, last=None)
    try:
        async with asyncio.timeout_at(deadline):
            last = await querier.newest(target, window)
    except (TimeoutError, outcomes.CannotObserve):
        last = None
    return Found(count=count, last=last)


def window_at(config: models.LogPlatformProbe, now: float) -> Window:
    """The window an observation made at ``now`` counts (see the module notes)."""
    end = now - config.delay
    span = config.window if config.window is not None else config.interval
    return Window(start=end - span, end=end)


class PlatformProbe:
    """A ``Probe`` over a ``Querier``: timeout, blind observations, the log probe's shape."""

    def __init__(
        self, config: models.LogPlatformProbe, clock: clocks.Clock, querier: Querier
    ) -> None:
        self.name = config.name
        self._config = config
        self._clock = clock
        self.querier = querier

    async def observe(self, target: models.Target) -> observations.Observation:
        window = window_at(self._config, self._clock.now())
        try:
            found = await ask(self.querier, target, window, budget=self._config.timeout)
        except TimeoutError:
            return outcomes.blind(
                time=self._clock.now(),
                target=target,
                source=self.name,
                reason=outcomes.timeout_reason(self._config.timeout),
            )
        except outcomes.CannotObserve as exc:
            return outcomes.blind(
                time=self._clock.now(), target=target, source=self.name, reason=str(exc)
            )
        return observation(found, time=self._clock.now(), target=target, source=self.name)

    async def close(self) -> None:
        await self.querier.close()


def observation(
    found: Found, *, time: float, target: models.Target, source: str
) -> observations.Observation:
    """The log-shaped observation of ``found``."""
    return observations.Observation(
        time=time,
        target=ids.TargetId(target.id),
        source=source,
        value=float(found.count),
        text=None if found.last is None else outcomes.clip(found.last.rstrip("\r\n")),
    )


# --------------------------------------------------------------------------- HTTP


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    headers: Mapping[str, str]  # names lower-case
    body: bytes

    def json(self) -> typing.Any:
        """The body as JSON, or None when it is not JSON."""
        try:
            return json.loads(self.body)
        except ValueError:
            return None


class Http:
    """One aiohttp pool per probe, reused across targets; the probe's timeout bounds each call."""

    def __init__(self, *, what: str, ca_file: str | None = None, verify: bool = True) -> None:
        self.what = what  # "elasticsearch", "loki": names the platform in errors
        self._ca_file = ca_file
        self._verify = verify
        self._session: aiohttp.ClientSession | None = None
        self._ssl: ssl.SSLContext | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=32),
                # The probe's own timeout surrounds each request; aiohttp's 5-minute default
                # would only hide a hung platform from `rollsafe record`, so keep a bound.
                timeout=aiohttp.ClientTimeout(total=300),
            )
        return self._session

    def _context(self) -> ssl.SSLContext:
        if self._ssl is None:
            context = ssl.create_default_context(cafile=self._ca_file)
            if not self._verify:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            self._ssl = context
        return self._ssl

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        body: bytes | None = None,
    ) -> Answer:
        """Send one request; CannotObserve when the platform cannot be reached."""
        try:
            async with self._client().request(
                method,
                url,
                headers=dict(headers or {}),
                params=dict(params) if params is not None else None,
                data=body,
                allow_redirects=False,
                ssl=self._context() if url.startswith("https:") else True,
            ) as response:
                raw = await response.content.read(BODY_LIMIT + 1)
                answer = Answer(
                    status=response.status,
                    headers={k.lower(): v for k, v in response.headers.items()},
                    body=raw,
                )
        except aiohttp.ClientConnectorError as exc:
            raise outcomes.CannotObserve(self._connect_reason(exc)) from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise outcomes.CannotObserve(
                f"cannot query {self.what}: {type(exc).__name__}: {exc}"
            ) from exc
        if len(answer.body) > BODY_LIMIT:
            raise outcomes.CannotObserve(f"{self.what} answered more than 4 MiB")
        return answer

    def _connect_reason(self, exc: aiohttp.ClientConnectorError) -> str:
        where = f"{exc.host}:{exc.port}"
        if isinstance(exc.os_error, socket.gaierror):
            return f"cannot resolve {exc.host}: {exc.os_error.strerror}"
        if isinstance(exc.os_error, ConnectionRefusedError):
            return f"cannot reach {self.what} at {where}: connection refused"
        return f"cannot reach {self.what} at {where}: {exc.os_error.strerror or exc}"

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def check_status(answer: Answer, *, what: str, detail: str = "", auth_hint: str = "") -> None:
    """Raise the error that fits an HTTP status other than 200 (see the module notes)."""
    if answer.status == 200:
        return
    said = f": {detail}" if detail else ""
    if answer.status == 429 or answer.status >= 500:
        raise Unavailable(
            f"{what} is unavailable for now (HTTP {answer.status}){said}",
            retry_after=retry_after(answer),
        )
    if answer.status in (401, 403):
        hint = f"; check {auth_hint}" if auth_hint else ""
        verb = "refused the credentials" if answer.status == 401 else "denied the query"
        raise Refused(f"{what} {verb} (HTTP {answer.status}){said}{hint}")
    raise outcomes.CannotObserve(f"{what} refused the query (HTTP {answer.status}){said}")


def retry_after(answer: Answer) -> float | None:
    """Seconds from a ``Retry-After`` header in seconds (the HTTP-date form is ignored)."""
    try:
        seconds = float(answer.headers.get("retry-after", "").strip())
    except ValueError:
        return None
    return max(0.0, seconds)


def snippet(body: bytes) -> str:
    """The start of a body, for an error message."""
    text = body[:200].decode("utf-8", errors="replace").strip()
    return repr(text) if text else "(empty body)"


def secret(env: str, *, what: str) -> str:
    """The value of the environment variable ``env``, read at each query so rotation works."""
    value = os.environ.get(env)
    if not value:
        raise Refused(f"{what}: environment variable {env} is not set")
    return value


def basic_auth(username: str, password_env: str) -> str:
    """An ``Authorization: Basic`` value; the password comes from the environment."""
    password = secret(password_env, what="password")
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def base_url(template: str, target: models.Target) -> str:
    """The probe's base URL rendered for ``target``, checked to be http(s), no trailing slash."""
    rendered = outcomes.render(template, target, what="url")
    try:
        parsed = yarl.URL(rendered)
    except (ValueError, TypeError) as exc:
        raise outcomes.CannotObserve(f"invalid url {rendered!r}: {exc}") from exc
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise outcomes.CannotObserve("url: expected an absolute http(s) base URL")
    return str(parsed).rstrip("/")


def render_dollar(template: str, target: models.Target, *, what: str) -> str:
    """A ``$name`` template (LogQL, full of braces) rendered for ``target``."""
    try:
        return models.render_dollar(template, target)
    except KeyError as exc:
        raise outcomes.CannotObserve(
            f"{what}: unknown template variable ${exc.args[0]} for target {target.id}"
        ) from exc
    except ValueError as exc:
        raise outcomes.CannotObserve(f"{what}: bad template: {exc}") from exc


def field_value(document: Mapping[str, typing.Any], field: str) -> str | None:
    """``field`` of a document: a flat key (``log.message``) or a dotted path into objects."""
    if field in document:
        return as_text(document[field])
    current: typing.Any = document
    for part in field.split("."):
        if not isinstance(current, Mapping) or part not in current:
            return None
        current = current[part]
    return as_text(current)


def as_text(value: typing.Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, list) and value:
        return as_text(value[0])
    return json.dumps(value, sort_keys=True)
