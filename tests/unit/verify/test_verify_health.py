"""HealthVerifier against real local HTTP servers, TCP ports, files and SQLite databases."""

from __future__ import annotations

import asyncio
import hashlib
import socket
import sqlite3

import pytest
from aiohttp import web

from rollsafe import testing
from rollsafe.config import models
from rollsafe.domain import ids, restore_points
from rollsafe.verify import health

FAIL_AFTER = 1.0  # verify_timeout of the tests that must fail: room for a few rounds


class Service:
    """A local HTTP server whose /health answers the statuses the test scripts."""

    def __init__(self) -> None:
        self.statuses: list[int] = []
        self.default = 200
        self.port = 0
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/health", self._health)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _health(self, request: web.Request) -> web.Response:
        status = self.statuses.pop(0) if self.statuses else self.default
        return web.Response(status=status, text="ok" if status == 200 else "broken")


@pytest.fixture
async def service():
    s = Service()
    await s.start()
    yield s
    await s.stop()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def config(port: int, *, probes=(), verify_timeout: float = 5.0) -> models.RollsafeConfig:
    return models.RollsafeConfig.model_validate(
        {
            "targets": [
                {"id": "web-1", "driver": "fake", "vars": {"port": port}},
                {"id": "db-1", "driver": "fake", "labels": {"role": "db"}},
            ],
            "policy": {"verify_timeout": verify_timeout},
            "probes": list(probes),
        }
    )


def http_probe(**extra):
    return {
        "name": "http",
        "kind": "http",
        "url": "http://127.0.0.1:{port}/health",
        "timeout": 1.0,
        "targets": {"ids": ["web-1"]},
        **extra,
    }


def point(checks=None) -> restore_points.RestorePoint:
    return restore_points.RestorePoint(
        id=ids.RestorePointId("rp-1"),
        target=ids.TargetId("web-1"),
        driver="fake",
        created_at=0.0,
        checks=checks or {},
    )


def verifier(cfg, **options) -> health.HealthVerifier:
    options.setdefault("poll_interval", 0.02)
    return health.HealthVerifier(cfg, clock=testing.FakeClock(), **options)


async def test_healthy_target_is_verified_after_consecutive_good_answers(service):
    cfg = config(service.port, probes=[http_probe()])

    outcome = await verifier(cfg, consecutive=2).verify(cfg.target("web-1"), point())

    assert outcome.ok, outcome.summary
    assert outcome.details["health"]["http"]["streak"] == 2
    assert "http" in outcome.summary


async def test_a_target_that_stays_broken_fails_with_a_precise_summary(service):
    service.default = 500
    cfg = config(service.port, probes=[http_probe()], verify_timeout=FAIL_AFTER)

    outcome = await verifier(cfg).verify(cfg.target("web-1"), point())

    assert not outcome.ok
    assert outcome.summary.startswith("http: status 500 (expected 200)")
    assert outcome.details["health"]["http"]["status"] == 500


async def test_a_target_that_recovers_after_a_restart_is_verified(service):
    service.statuses = [503, 503, 500]
    cfg = config(service.port, probes=[http_probe()])

    outcome = await verifier(cfg, consecutive=2).verify(cfg.target("web-1"), point())

    assert outcome.ok, outcome.summary
    assert outcome.details["rounds"] >= 5


async def test_flapping_never_counts_as_healthy(service):
    service.statuses = [200, 500] * 100
    cfg = config(service.port, probes=[http_probe()], verify_timeout=FAIL_AFTER)

    outcome = await verifier(cfg, consecutive=2).verify(cfg.target("web-1"), point())

    assert not outcome.ok
    assert outcome.summary.startswith("http: ")


async def test_refused_tcp_port_is_named():
    port = closed_port()
    probe = {"name": "tcp", "kind": "tcp", "port": "{port}", "targets": {"ids": ["web-1"]}}
    cfg = config(port, probes=[probe], verify_timeout=FAIL_AFTER)

    outcome = await verifier(cfg).verify(cfg.target("web-1"), point())

    assert not outcome.ok
    assert outcome.summary.startswith("tcp: connection refused")


async def test_data_mismatch_names_the_values(service, tmp_path):
    db = tmp_path / "app.db"
    with sqlite3.connect(db) as conn:
        conn.execute("create table orders (id integer)")
        conn.executemany("insert into orders values (?)", [(i,) for i in range(97)])
    rows = {
        "name": "rows",
        "kind": "data",
        "url": f"sqlite:///{db}",
        "query": "select count(*) from orders",
    }
    cfg = config(service.port, probes=[http_probe(), rows], verify_timeout=FAIL_AFTER)

    outcome = await verifier(cfg).verify(cfg.target("web-1"), point({"rows": 100.0}))

    assert not outcome.ok
    assert outcome.summary.startswith("data rows: 97 != 100 at checkpoint")
    assert outcome.details["checks"]["rows"] == {
        "expected": 100.0,
        "observed": 97.0,
        "error": None,
        "match": False,
    }


async def test_data_and_health_both_good_is_verified(service, tmp_path):
    data = tmp_path / "config.ini"
    data.write_text("a=1\n")
    probe = {"name": "conf", "kind": "data", "file": str(data)}
    cfg = config(service.port, probes=[http_probe(), probe])
    digest = hashlib.sha256(b"a=1\n").hexdigest()

    outcome = await verifier(cfg).verify(cfg.target("web-1"), point({"conf": digest}))

    assert outcome.ok, outcome.summary
    assert "data as at checkpoint: conf" in outcome.summary


async def test_both_problems_are_reported_together(service, tmp_path):
    service.default = 500
    data = tmp_path / "config.ini"
    data.write_text("changed\n")
    probe = {"name": "conf", "kind": "data", "file": str(data)}
    cfg = config(service.port, probes=[http_probe(), probe], verify_timeout=FAIL_AFTER)

    outcome = await verifier(cfg).verify(cfg.target("web-1"), point({"conf": "0" * 64}))

    assert not outcome.ok
    assert "http: status 500 (expected 200); data conf: " in outcome.summary
    assert "!= 000000000000… at checkpoint" in outcome.summary


async def test_a_check_whose_probe_is_gone_cannot_be_verified(service):
    cfg = config(service.port, probes=[http_probe()], verify_timeout=FAIL_AFTER)

    outcome = await verifier(cfg).verify(cfg.target("web-1"), point({"rows": 100.0}))

    assert not outcome.ok
    assert "data rows: probe no longer configured" in outcome.summary


async def test_a_blind_data_probe_is_not_a_match(service, tmp_path):
    probe = {"name": "conf", "kind": "data", "file": str(tmp_path / "missing.ini")}
    cfg = config(service.port, probes=[probe], verify_timeout=FAIL_AFTER)

    outcome = await verifier(cfg).verify(cfg.target("web-1"), point({"conf": "ab"}))

    assert not outcome.ok
    assert outcome.summary.startswith("data conf: cannot look: file not found")


async def test_nothing_to_verify_says_so(service):
    cfg = config(service.port, probes=[http_probe()])  # selects web-1 only

    outcome = await verifier(cfg).verify(cfg.target("db-1"), point())

    assert outcome.ok
    assert outcome.summary.startswith("nothing to verify")


async def test_gives_up_at_the_verify_timeout_even_with_a_slow_probe():
    # A server that accepts but never answers: each look would take the probe's full timeout.
    held: list[asyncio.StreamWriter] = []
    answered = asyncio.Event()

    async def never_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)
        await answered.wait()

    server = await asyncio.start_server(never_answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        cfg = config(port, probes=[http_probe(timeout=30)], verify_timeout=0.3)
        # Bounded by verify_timeout, not by the probe's 30 s (the summary says it gave up).
        outcome = await verifier(cfg).verify(cfg.target("web-1"), point())
    finally:
        answered.set()
        for writer in held:
            writer.close()
        server.close()
        await server.wait_closed()
    assert not outcome.ok
    assert outcome.summary.startswith("http: no answer before the verification timeout")
