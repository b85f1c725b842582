"""Audit shipping to Elasticsearch, Loki and SLS stand-ins over real HTTP on 127.0.0.1.

The stand-ins (``shipping_standins``) speak each platform's documented wire protocol and
enforce its preconditions; see their module docstring for what each one checks. The store is
real SQLite in a temporary state directory.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from shipping_standins import Elasticsearch, Loki, Sls, refusing_port

from rollsafe.config import models
from rollsafe.domain import audit_events
from rollsafe.shipping import shipping
from rollsafe.storage import sql

WAIT = 30.0
KEY_ID, KEY_SECRET = "LTAI-test-id", "test-secret-value"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[sql.SqlStore]:
    opened = sql.open_store(tmp_path / "state")
    yield opened
    opened.close()


@pytest.fixture
async def es() -> AsyncIterator[Elasticsearch]:
    server = await Elasticsearch(api_key="c2VjcmV0LWtleQ==").start()
    yield server  # type: ignore[misc]
    await server.stop()


@pytest.fixture
async def loki() -> AsyncIterator[Loki]:
    server = await Loki(tenant="ops").start()
    yield server  # type: ignore[misc]
    await server.stop()


@pytest.fixture
async def sls_server() -> AsyncIterator[Sls]:
    server = Sls(project="ops-audit", logstore="rollsafe", key_id=KEY_ID, key_secret=KEY_SECRET)
    await server.start()
    yield server
    await server.stop()


@pytest.fixture(autouse=True)
def _credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ES_API_KEY", "c2VjcmV0LWtleQ==")
    monkeypatch.setenv("SLS_KEY_ID", KEY_ID)
    monkeypatch.setenv("SLS_KEY_SECRET", KEY_SECRET)


def _es_sink(url: str, **extra: object) -> models.ElasticsearchSink:
    fields: dict[str, object] = {
        "kind": "elasticsearch",
        "name": "es",
        "url": url,
        "index": "rollsafe-audit-{date}",
        "api_key_env": "ES_API_KEY",
        "max_backoff": 0.2,
    }
    return models.ElasticsearchSink.model_validate(fields | extra)


def _loki_sink(url: str, **extra: object) -> models.LokiSink:
    fields: dict[str, object] = {
        "kind": "loki",
        "name": "loki",
        "url": url,
        "tenant": "ops",
        "max_backoff": 0.2,
    }
    return models.LokiSink.model_validate(fields | extra)


def _sls_sink(server: Sls, **extra: object) -> models.SlsSink:
    fields: dict[str, object] = {
        "kind": "sls",
        "name": "sls",
        "endpoint": server.url,
        "project": "ops-audit",
        "logstore": "rollsafe",
        "access_key_id_env": "SLS_KEY_ID",
        "access_key_secret_env": "SLS_KEY_SECRET",
        "source": "ctl-1",
        "max_backoff": 0.2,
    }
    return models.SlsSink.model_validate(fields | extra)


def _audit(store: sql.SqlStore, count: int) -> list[audit_events.AuditEvent]:
    return [
        store.append_audit(
            audit_events.AuditEntry(
                time=time.time(),
                actor="rollsafe",
                action="run.step.done",
                target="web-1",
                run_id="run-1",
                reason=f"step {n}",
                details={"step": n, "output": "ok", "token": "s3cr3t"},
                result="done",
            )
        )
        for n in range(count)
    ]


@contextlib.asynccontextmanager
async def _shipping(store: sql.SqlStore, *configs: models.AuditSink, timeout: float | None = None):
    if timeout is not None:
        configs = tuple(c.model_copy(update={"timeout": timeout}) for c in configs)
    group = shipping.AuditShipping.from_config(
        list(configs), store, first_backoff=0.02, poll_interval=0.02
    )
    task = asyncio.create_task(group.run())
    try:
        yield group
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _reached(group: shipping.AuditShipping, name: str, seq: int) -> None:
    async with asyncio.timeout(WAIT):
        await group.shipper(name).cursor.reached(seq)


async def _failing(group: shipping.AuditShipping, name: str, times: int = 2) -> str:
    """Wait until the sink failed ``times`` in a row; returns its last error."""
    shipper = group.shipper(name)
    async with asyncio.timeout(WAIT):
        while shipper.failures < times:
            await asyncio.sleep(0.01)
    return shipper.last_error or ""


# --------------------------------------------------------------------------- Elasticsearch


async def test_elasticsearch_indexes_each_event_under_chain_and_seq(store, es):
    events = _audit(store, 5)
    async with _shipping(store, _es_sink(es.url, batch_size=2)) as group:
        await _reached(group, "es", events[-1].seq)
    chain = events[0].hash[:16]
    day = time.strftime("%Y.%m.%d", time.gmtime(events[0].entry.time))
    assert sorted(es.docs) == sorted((f"rollsafe-audit-{day}", f"{chain}-{e.seq}") for e in events)
    doc = es.docs[(f"rollsafe-audit-{day}", f"{chain}-1")]
    assert (doc["seq"], doc["hash"], doc["chain"]) == (1, events[0].hash, chain)
    # Redaction happened at append time; shipping carries the stored, masked value.
    assert json.loads(doc["details"])["token"] == "***"
    assert es.batches == [
        [f"{chain}-1", f"{chain}-2"],
        [f"{chain}-3", f"{chain}-4"],
        [f"{chain}-5"],
    ]


async def test_a_lost_answer_is_resent_and_leaves_no_duplicate(store, es):
    events = _audit(store, 3)
    es.lose_answers = 1  # indexed, but the answer never arrives intact
    async with _shipping(store, _es_sink(es.url)) as group:
        await _reached(group, "es", events[-1].seq)
    assert len(es.batches) == 2  # the same batch, twice
    assert es.seqs() == [1, 2, 3]  # one document each: the _id made the resend an overwrite
    assert set(es.versions.values()) == {2}


async def test_a_throttled_item_is_retried_from_that_item(store, es):
    events = _audit(store, 4)
    chain = events[0].hash[:16]
    es.fail_items[f"{chain}-3"] = (429, "es_rejected_execution_exception")
    async with _shipping(store, _es_sink(es.url)) as group:
        await _failing(group, "es", 1)
        assert store.get_cursor("es") == 2  # items 1 and 2 were indexed
        es.fail_items.clear()
        await _reached(group, "es", events[-1].seq)
    assert es.batches[-1] == [f"{chain}-3", f"{chain}-4"]
    assert es.seqs() == [1, 2, 3, 4]


async def test_a_refused_document_holds_the_sink_there_until_fixed(store, es):
    events = _audit(store, 3)
    chain = events[0].hash[:16]
    es.fail_items[f"{chain}-2"] = (400, "mapper_parsing_exception")
    async with _shipping(store, _es_sink(es.url)) as group:
        error = await _failing(group, "es", 3)
        assert "event 2 answered 400: mapper_parsing_exception" in error
        assert store.get_cursor("es") == 1  # never skipped past the refused event
        es.fail_items.clear()  # someone fixed the mapping
        await _reached(group, "es", events[-1].seq)
    assert es.seqs() == [1, 2, 3]


async def test_create_for_data_streams_counts_a_conflict_as_already_shipped(store, es):
    events = _audit(store, 2)
    es.lose_answers = 1
    config = _es_sink(es.url, op_type="create", index="logs-rollsafe-audit")
    async with _shipping(store, config) as group:
        await _reached(group, "es", events[-1].seq)
    assert len(es.batches) == 2
    assert es.seqs() == [1, 2]


async def test_bad_credentials_are_refused_and_never_logged(store, es, monkeypatch, caplog):
    _audit(store, 1)
    monkeypatch.setenv("ES_API_KEY", "d3Jvbmcta2V5")
    async with _shipping(store, _es_sink(es.url)) as group:
        error = await _failing(group, "es", 2)
    assert "answered 401" in error
    assert store.get_cursor("es") == 0
    assert "d3Jvbmcta2V5" not in caplog.text


async def test_a_missing_secret_names_the_variable(store, es, monkeypatch):
    _audit(store, 1)
    monkeypatch.delenv("ES_API_KEY")
    async with _shipping(store, _es_sink(es.url)) as group:
        error = await _failing(group, "es", 1)
    assert "environment variable ES_API_KEY is not set" in error
    assert es.requests == 0


async def test_a_platform_that_is_down_waits_at_its_cursor_while_others_ship(store, es, loki):
    first = _audit(store, 3)
    es.mode = "down"
    async with _shipping(store, _es_sink(es.url), _loki_sink(loki.url)) as group:
        await _reached(group, "loki", first[-1].seq)
        assert "answered 503" in await _failing(group, "es", 2)
        later = _audit(store, 2)
        await _reached(group, "loki", later[-1].seq)
        assert store.get_cursor("es") == 0
        es.mode = "ok"
        await _reached(group, "es", later[-1].seq)
    chain = first[0].hash[:16]
    # The first request that got through started exactly at the cursor and had everything.
    assert es.batches == [[f"{chain}-{n}" for n in range(1, 6)]]
    assert loki.seqs() == [1, 2, 3, 4, 5]


async def test_an_unreachable_platform_is_shipped_to_once_it_comes_up(store):
    events = _audit(store, 3)
    placeholder = refusing_port()
    port = placeholder.getsockname()[1]
    try:
        async with _shipping(store, _es_sink(f"http://127.0.0.1:{port}")) as group:
            error = await _failing(group, "es", 2)
            assert "unreachable" in error
            assert store.get_cursor("es") == 0
            placeholder.close()
            server = await Elasticsearch(api_key="c2VjcmV0LWtleQ==").start(port)
            try:
                await _reached(group, "es", events[-1].seq)
            finally:
                await server.stop()
    finally:
        placeholder.close()
    assert server.seqs() == [1, 2, 3]


async def test_a_hanging_platform_times_out_and_the_others_keep_shipping(store, es, loki):
    events = _audit(store, 2)
    es.mode = "hang"
    async with _shipping(store, _es_sink(es.url), _loki_sink(loki.url), timeout=0.3) as group:
        await _reached(group, "loki", events[-1].seq)
        assert "no answer within 0.3s" in await _failing(group, "es", 2)
        es.mode = "ok"
        await _reached(group, "es", events[-1].seq)
    assert es.seqs() == [1, 2]


async def test_a_restart_resumes_every_sink_exactly_after_its_cursor(store, es, loki, sls_server):
    configs = (_es_sink(es.url), _loki_sink(loki.url), _sls_sink(sls_server))
    first = _audit(store, 3)
    async with _shipping(store, *configs) as group:
        for name in ("es", "loki", "sls"):
            await _reached(group, name, first[-1].seq)
    later = _audit(store, 2)
    async with _shipping(store, *configs) as group:
        for name in ("es", "loki", "sls"):
            await _reached(group, name, later[-1].seq)
    chain = first[0].hash[:16]
    assert es.batches == [[f"{chain}-{n}" for n in (1, 2, 3)], [f"{chain}-4", f"{chain}-5"]]
    assert loki.pushes == [[1, 2, 3], [4, 5]]
    assert [[int(log.contents["seq"]) for log in g.logs] for g in sls_server.groups] == [
        [1, 2, 3],
        [4, 5],
    ]


# --------------------------------------------------------------------------- Loki


async def test_loki_receives_one_stream_with_the_event_lines(store, loki):
    events = _audit(store, 3)
    async with _shipping(store, _loki_sink(loki.url, labels={"job": "rollsafe"})) as group:
        await _reached(group, "loki", events[-1].seq)
    ((labels, entries),) = loki.entries.items()
    assert dict(labels) == {"job": "rollsafe"}
    for (ts, line), event in zip(entries, events, strict=True):
        assert int(ts) == round(event.entry.time * 1_000_000) * 1000
        assert json.loads(line) == event.to_json() | {"chain": events[0].hash[:16]}


async def test_loki_drops_the_resent_duplicates(store, loki):
    events = _audit(store, 3)
    loki.lose_answers = 1
    async with _shipping(store, _loki_sink(loki.url)) as group:
        await _reached(group, "loki", events[-1].seq)
    assert loki.pushes == [[1, 2, 3], [1, 2, 3]]
    assert loki.seqs() == [1, 2, 3]  # identical timestamp and line: stored once


async def test_loki_refusal_holds_the_sink(store, loki):
    events = _audit(store, 1)
    async with _shipping(store, _loki_sink(loki.url, tenant="other")) as group:
        assert "answered 401: no org id" in await _failing(group, "loki", 2)
        assert store.get_cursor("loki") == 0
    assert len(events) == 1
    assert loki.seqs() == []


async def test_loki_throttling_is_retried(store, loki):
    events = _audit(store, 2)
    loki.mode = "throttle"
    async with _shipping(store, _loki_sink(loki.url)) as group:
        assert "answered 429" in await _failing(group, "loki", 2)
        loki.mode = "ok"
        await _reached(group, "loki", events[-1].seq)
    assert loki.seqs() == [1, 2]


# --------------------------------------------------------------------------- SLS


@pytest.mark.parametrize("compress", ["deflate", "none"])
async def test_sls_accepts_the_signed_put_logs_and_decodes_the_log_group(
    store, sls_server, compress
):
    events = _audit(store, 3)
    async with _shipping(store, _sls_sink(sls_server, compress=compress)) as group:
        await _reached(group, "sls", events[-1].seq)
    assert sls_server.refusals == []
    ((log_group),) = sls_server.groups
    assert (log_group.topic, log_group.source) == ("rollsafe-audit", "ctl-1")
    chain = events[0].hash[:16]
    for log, event in zip(log_group.logs, events, strict=True):
        seconds, micros = divmod(round(event.entry.time * 1_000_000), 1_000_000)
        assert (log.time, log.time_ns) == (seconds, micros * 1000)
        assert log.contents["seq"] == str(event.seq)
        assert log.contents["hash"] == event.hash
        assert log.contents["chain"] == chain
        assert log.contents["action"] == "run.step.done"
        assert json.loads(log.contents["details"])["token"] == "***"


async def test_sls_temporary_credentials_are_signed_too(store, sls_server, monkeypatch):
    monkeypatch.setenv("SLS_STS_TOKEN", "sts-token-value")
    events = _audit(store, 1)
    config = _sls_sink(sls_server, security_token_env="SLS_STS_TOKEN")
    async with _shipping(store, config) as group:
        await _reached(group, "sls", events[-1].seq)
    assert sls_server.refusals == []


async def test_sls_wrong_secret_is_refused_until_fixed(store, sls_server, monkeypatch, caplog):
    events = _audit(store, 2)
    monkeypatch.setenv("SLS_KEY_SECRET", "not-the-secret")
    async with _shipping(store, _sls_sink(sls_server)) as group:
        error = await _failing(group, "sls", 2)
        assert "answered 401 SignatureNotMatch" in error
        assert "(request standin-1)" in error
        assert store.get_cursor("sls") == 0
        monkeypatch.setenv("SLS_KEY_SECRET", KEY_SECRET)  # read at each send
        await _reached(group, "sls", events[-1].seq)
    assert sls_server.seqs() == [1, 2]
    assert "not-the-secret" not in caplog.text


async def test_sls_quota_errors_are_retried(store, sls_server):
    events = _audit(store, 2)
    sls_server.quota_exceeded = True
    async with _shipping(store, _sls_sink(sls_server)) as group:
        assert "403 WriteQuotaExceed" in await _failing(group, "sls", 2)
        sls_server.quota_exceeded = False
        await _reached(group, "sls", events[-1].seq)
    assert sls_server.seqs() == [1, 2]
