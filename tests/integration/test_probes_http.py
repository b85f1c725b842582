"""The HTTP probe against a real aiohttp server on 127.0.0.1: up, down, slow, gone, reset."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from rollsafe.config import models
from rollsafe.detect.probes import http
from rollsafe.testing import FakeClock


class _Server:
    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.port = 0
        self.peers: list[tuple[str, int]] = []

    async def ok(self, request: web.Request) -> web.Response:
        self.peers.append(request.transport.get_extra_info("peername"))
        return web.Response(text="status: healthy")

    async def plain(self, request: web.Request) -> web.Response:
        return web.Response(body="état: healthy".encode("latin-1"), content_type="text/plain")

    async def odd(self, request: web.Request) -> web.Response:
        response = web.Response(body=b"status: healthy")
        response.headers["Content-Type"] = "text/plain; charset=no-such-charset"
        return response

    async def fail(self, request: web.Request) -> web.Response:
        return web.Response(status=500, text="status: broken")

    async def slow(self, request: web.Request) -> web.Response:
        await self.release.wait()
        return web.Response(text="late")

    async def moved(self, request: web.Request) -> web.Response:
        raise web.HTTPFound("/ok")

    async def reset(self, request: web.Request) -> web.Response:
        assert request.transport is not None
        request.transport.abort()
        await self.release.wait()
        return web.Response(text="never")


@pytest.fixture
async def server() -> AsyncIterator[_Server]:
    state = _Server()
    app = web.Application()
    app.add_routes(
        [
            web.get("/ok", state.ok),
            web.get("/fail", state.fail),
            web.get("/plain", state.plain),
            web.get("/odd", state.odd),
            web.get("/slow", state.slow),
            web.get("/moved", state.moved),
            web.get("/reset", state.reset),
        ]
    )
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    state.port = runner.addresses[0][1]
    yield state
    state.release.set()
    await runner.cleanup()


def _target(port: int) -> models.Target:
    return models.Target(id="web-1", address="127.0.0.1", vars={"port": port})


def _probe(url: str, **options: object) -> http.HttpProbe:
    config = models.HttpProbe.model_validate(
        {"kind": "http", "name": "health", "url": url, **options}
    )
    return http.HttpProbe(config, FakeClock(start=1000.0))


async def test_healthy_endpoint_is_up_with_status_and_latency(server: _Server) -> None:
    probe = _probe("http://{address}:{port}/ok", body_match="healthy")
    try:
        seen = await probe.observe(_target(server.port))
    finally:
        await probe.close()
    assert seen.ok
    assert (seen.value, seen.status, seen.text) == (1.0, 200, None)
    assert seen.latency_s is not None
    assert seen.latency_s >= 0
    assert (seen.time, seen.target, seen.source) == (1000.0, "web-1", "health")


async def test_server_error_is_a_fact_about_the_target(server: _Server) -> None:
    probe = _probe("http://{address}:{port}/fail")
    try:
        seen = await probe.observe(_target(server.port))
    finally:
        await probe.close()
    assert seen.ok
    assert (seen.value, seen.status, seen.text) == (0.0, 500, "unexpected status 500")


async def test_expected_status_list_is_honoured(server: _Server) -> None:
    probe = _probe("http://{address}:{port}/fail", expect_status=[200, 500])
    try:
        seen = await probe.observe(_target(server.port))
    finally:
        await probe.close()
    assert (seen.value, seen.status) == (1.0, 500)


async def test_body_that_does_not_match_is_down(server: _Server) -> None:
    probe = _probe("http://{address}:{port}/ok", body_match=r"status: (ok|green)")
    try:
        seen = await probe.observe(_target(server.port))
    finally:
        await probe.close()
    assert (seen.value, seen.status, seen.text) == (0.0, 200, "body did not match")


@pytest.mark.parametrize("path", ["/plain", "/odd"])
async def test_body_without_usable_charset_is_still_matched(server: _Server, path: str) -> None:
    probe = _probe("http://{address}:{port}" + path, body_match="healthy")
    try:
        seen = await probe.observe(_target(server.port))
    finally:
        await probe.close()
    assert (seen.value, seen.status, seen.text) == (1.0, 200, None)


async def test_redirects_are_not_followed(server: _Server) -> None:
    probe = _probe("http://{address}:{port}/moved")
    try:
        seen = await probe.observe(_target(server.port))
    finally:
        await probe.close()
    assert (seen.value, seen.status) == (0.0, 302)


async def test_slow_server_times_out_as_down(server: _Server) -> None:
    probe = _probe("http://{address}:{port}/slow", timeout="200ms")
    try:
        seen = await probe.observe(_target(server.port))
    finally:
        await probe.close()
    assert seen.ok
    assert (seen.value, seen.status, seen.text) == (0.0, None, "timeout after 200ms")
    assert seen.latency_s is not None
    assert seen.latency_s >= 0.2


async def test_closed_port_is_refused() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    probe = _probe("http://{address}:{port}/ok")
    try:
        seen = await probe.observe(_target(port))
    finally:
        await probe.close()
    assert seen.ok
    assert (seen.value, seen.status, seen.text) == (0.0, None, "connection refused")


async def test_connection_dropped_mid_request_is_reset(server: _Server) -> None:
    probe = _probe("http://{address}:{port}/reset")
    try:
        seen = await probe.observe(_target(server.port))
    finally:
        await probe.close()
    assert seen.ok
    assert (seen.value, seen.status, seen.text) == (0.0, None, "connection reset")


async def test_connections_are_reused_across_observations(server: _Server) -> None:
    probe = _probe("http://{address}:{port}/ok")
    try:
        for _ in range(3):
            assert (await probe.observe(_target(server.port))).value == 1.0
    finally:
        await probe.close()
    # One pooled keep-alive connection: every request came from the same client port.
    assert len(set(server.peers)) == 1


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://{address}:{nope}/ok", "url: unknown template variable 'nope' for target web-1"),
        ("ftp://{address}/file", "invalid url 'ftp://127.0.0.1/file'"),
        ("/health", "invalid url '/health'"),
    ],
)
async def test_url_that_cannot_be_requested_is_a_probe_error(url: str, reason: str) -> None:
    probe = _probe(url)
    try:
        seen = await probe.observe(_target(1))
    finally:
        await probe.close()
    assert not seen.ok
    assert seen.value is None
    assert seen.error is not None
    assert seen.error.startswith(reason)


def test_invalid_body_match_is_a_config_error() -> None:
    from rollsafe.domain import errors

    with pytest.raises(errors.ConfigError, match="body_match"):
        _probe("http://x/", body_match="(unclosed")
