"""``POST /intake/<name>``: auth, limits, parsing at the door, durable storage, then 202.

The app is called in-process (httpx's ASGI transport) over a real SQLite store on disk.
"""

from __future__ import annotations

import json
import time

import httpx
import pytest

from rollsafe.config import models
from rollsafe.detect.intake import signing
from rollsafe.interfaces.api import app as api_app
from rollsafe.storage import sql
from rollsafe.testing import clocks
from rollsafe.testing import sns as fake_sns

NOW = 1_767_261_700.0
ENV = {"AM_TOKEN": "am-token", "HOOK_KEY": "hook-key", "GRAFANA_KEY": "grafana-key", "TC": "tc"}
TARGETS = [{"id": "web-1", "address": "10.0.0.11"}, {"id": "web-2", "address": "10.0.0.12"}]


def alertmanager_body(status="firing", instance="10.0.0.11:9100", **extra):
    return json.dumps(
        {
            "version": "4",
            "groupKey": "{}:{}",
            "status": status,
            "receiver": "rollsafe",
            "externalURL": "http://alertmanager-0:9093",
            "alerts": [
                {
                    "status": status,
                    "labels": {"alertname": "HighErrorRate", "instance": instance},
                    "annotations": {"summary": "5xx"},
                    "startsAt": "2026-01-01T10:00:00Z",
                    "endsAt": "0001-01-01T00:00:00Z",
                    "fingerprint": "fp-1",
                }
            ],
            **extra,
        }
    ).encode()


ENDPOINTS = [
    {
        "name": "am",
        "kind": "alertmanager",
        "auth": {"kind": "bearer", "token_env": "AM_TOKEN"},
        "target_label": "instance",
        "strip_port": True,
    },
    {
        "name": "hook",
        "kind": "generic",
        "auth": {"kind": "hmac", "secret_env": "HOOK_KEY"},
        "target_label": "host",
    },
    {
        "name": "grafana",
        "kind": "grafana",
        "auth": {"kind": "grafana_hmac", "secret_env": "GRAFANA_KEY", "timestamp_header": "X-Ts"},
        "target_label": "instance",
    },
    {
        "name": "tencent",
        "kind": "tencent",
        "auth": {"kind": "bearer", "token_env": "TC", "allow_query": True},
        "target_label": "unInstanceId",
    },
    {"name": "open", "kind": "generic", "auth": {"kind": "none"}, "target_label": "host"},
]


class World:
    def __init__(
        self, tmp_path, *, endpoints=None, server=None, fetch=None, health=None, store=None
    ):
        self.config = models.RollsafeConfig.model_validate(
            {"targets": TARGETS, "intake": endpoints or ENDPOINTS, "server": server or {}}
        )
        self.store = store or sql.open_store(tmp_path / "state")
        self.clock = clocks.FakeClock(NOW)
        self.woken = 0
        self.app = api_app.create_app(
            self.config,
            store=self.store,
            clock=self.clock,
            on_stored=self._wake,
            environ=ENV,
            fetch=fetch,
            health=health,
            base_dir=tmp_path,
        )
        self.client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app), base_url="http://rollsafe"
        )

    def _wake(self):
        self.woken += 1

    def rows(self):
        return self.store.list_inbox()

    async def close(self):
        await self.client.aclose()
        self.store.close()


@pytest.fixture
async def world(tmp_path):
    made = World(tmp_path)
    yield made
    await made.close()


AM = {"Authorization": "Bearer am-token", "Content-Type": "application/json"}


async def test_accepted_means_stored_first(world):
    response = await world.client.post("/intake/am", content=alertmanager_body(), headers=AM)
    assert response.status_code == 202
    assert response.json() == {"status": "accepted", "id": 1, "duplicate": False, "alerts": 1}
    [row] = world.rows()
    assert row.id == 1
    assert row.endpoint == "am"
    assert row.received_at == NOW
    assert row.body == alertmanager_body()
    assert row.processed_at is None
    assert world.woken == 1


async def test_credentials_are_never_stored(world):
    await world.client.post(
        "/intake/am", content=alertmanager_body(), headers={**AM, "X-Api-Key": "k", "X-Trace": "t"}
    )
    [row] = world.rows()
    assert row.headers["authorization"] == "***"
    assert row.headers["x-api-key"] == "***"
    assert row.headers["x-trace"] == "t"
    assert "am-token" not in json.dumps(row.headers)


async def test_an_exact_resend_is_not_stored_twice(world):
    first = await world.client.post("/intake/am", content=alertmanager_body(), headers=AM)
    world.clock.advance(60)
    again = await world.client.post("/intake/am", content=alertmanager_body(), headers=AM)
    assert again.status_code == 202
    assert again.json()["duplicate"] is True
    assert again.json()["id"] == first.json()["id"]
    assert len(world.rows()) == 1
    assert world.woken == 1
    world.clock.advance(3600)  # outside the dedupe window: a new delivery
    later = await world.client.post("/intake/am", content=alertmanager_body(), headers=AM)
    assert later.json()["duplicate"] is False
    assert len(world.rows()) == 2


async def test_unknown_endpoint_is_404(world):
    response = await world.client.post("/intake/nope", content=b"{}", headers=AM)
    assert response.status_code == 404
    assert response.json() == {"error": "no intake endpoint named 'nope'"}


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({"Content-Type": "application/json"}, "missing bearer token"),
        (
            {"Content-Type": "application/json", "Authorization": "Bearer nope"},
            "wrong bearer token",
        ),
        ({"Content-Type": "application/json", "Authorization": "Basic YTpi"}, "not `Bearer"),
    ],
)
async def test_bearer_refusals(world, headers, reason):
    response = await world.client.post("/intake/am", content=alertmanager_body(), headers=headers)
    assert response.status_code == 401
    assert reason in response.json()["error"]
    assert response.headers["www-authenticate"] == "Bearer"
    assert world.rows() == []


async def test_query_token_only_where_allowed(world):
    refused = await world.client.post(
        "/intake/am?token=am-token",
        content=alertmanager_body(),
        headers={"Content-Type": "application/json"},
    )
    assert refused.status_code == 401
    body = json.dumps(
        {
            "sessionId": "s-1",
            "alarmStatus": "1",
            "alarmObjInfo": {"dimensions": {"unInstanceId": "web-1"}},
            "alarmPolicyInfo": {"policyName": "cpu"},
            "firstOccurTime": "2026-01-01 18:00:00",
        }
    ).encode()
    accepted = await world.client.post(
        "/intake/tencent?token=tc", content=body, headers={"Content-Type": "application/json"}
    )
    # Tencent Cloud expects a 200 with its sessionId and retCode 0.
    assert accepted.status_code == 200
    assert accepted.json()["sessionId"] == "s-1"
    assert accepted.json()["retCode"] == 0


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({"Content-Type": "text/plain"}, "Content-Type 'text/plain'"),
        ({}, "Content-Type 'none'"),
        ({"Content-Type": "application/json", "Content-Encoding": "gzip"}, "Content-Encoding"),
    ],
)
async def test_media_type(world, headers, reason):
    headers = {"Authorization": "Bearer am-token", **headers}
    response = await world.client.post("/intake/am", content=alertmanager_body(), headers=headers)
    assert response.status_code == 415
    assert reason in response.json()["error"]


async def test_a_declared_large_body_is_refused_before_reading(tmp_path):
    world = World(tmp_path, server={"max_body_bytes": 1000})
    try:
        response = await world.client.post(
            "/intake/am", content=b"{" + b" " * 2000 + b"}", headers=AM
        )
        assert response.status_code == 413
        assert world.rows() == []
    finally:
        await world.close()


async def test_the_limit_is_enforced_while_reading(tmp_path):
    world = World(tmp_path, server={"max_body_bytes": 1000})
    sent = []

    async def chunks():  # no Content-Length: chunked, as a sender that lies or streams would
        for _ in range(100):
            sent.append(1)
            yield b" " * 100

    try:
        response = await world.client.post("/intake/am", content=chunks(), headers={**AM})
        assert response.status_code == 413
        assert "larger than 1000 bytes" in response.json()["error"]
        assert world.rows() == []
    finally:
        await world.close()


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"[]",
        b'{"alerts": "no"}',
        b'{"version": "4", "alerts": [{"status": "pending"}]}',
        b'{"alerts": [{"status": "firing", "startsAt": "noon"}]}',
        '{"alerts": ["\u00e9"]}'.encode(),
        b"\xff\xfe\x00",
        b'{"a":' * 5000,  # deep nesting
    ],
)
async def test_malformed_is_400_with_a_reason_and_nothing_stored(world, body):
    response = await world.client.post("/intake/am", content=body, headers=AM)
    assert response.status_code == 400
    assert response.json()["error"]
    assert world.rows() == []
    assert world.woken == 0


def signed(body: bytes, *, timestamp: float, key: bytes = b"hook-key") -> dict[str, str]:
    stamp = int(timestamp)
    return {
        "Content-Type": "application/json",
        signing.TIMESTAMP_HEADER: str(stamp),
        signing.SIGNATURE_HEADER: signing.sign(key, body, timestamp=stamp),
    }


GENERIC = json.dumps(
    {
        "alerts": [
            {
                "name": "X",
                "state": "firing",
                "labels": {"host": "web-1"},
                "time": "2026-01-01T10:00:00Z",
            }
        ]
    }
).encode()


async def test_hmac_accepted_then_replay_refused(world):
    headers = signed(GENERIC, timestamp=NOW - 10)
    first = await world.client.post("/intake/hook", content=GENERIC, headers=headers)
    assert first.status_code == 202
    replay = await world.client.post("/intake/hook", content=GENERIC, headers=headers)
    assert replay.status_code == 401
    assert "replayed" in replay.json()["error"]
    # The sender's genuine retry signs again, with a new timestamp: a duplicate, not a replay.
    world.clock.advance(5)
    retry = await world.client.post(
        "/intake/hook", content=GENERIC, headers=signed(GENERIC, timestamp=NOW - 5)
    )
    assert retry.status_code == 202
    assert retry.json()["duplicate"] is True


SHORT_DEDUPE = [{**ENDPOINTS[1], "dedupe_window": "60s"}]


@pytest.mark.parametrize(
    "respell",
    [
        lambda sig: sig.removeprefix("sha256="),
        lambda sig: sig.upper(),
        lambda sig: " SHA256=" + sig.removeprefix("sha256=").upper() + " ",
    ],
    ids=["no-prefix", "upper", "spaced"],
)
async def test_a_respelled_signature_is_the_same_signature(tmp_path, respell):
    world = World(tmp_path, endpoints=SHORT_DEDUPE)
    try:
        headers = signed(GENERIC, timestamp=NOW - 10)
        first = await world.client.post("/intake/hook", content=GENERIC, headers=headers)
        assert first.status_code == 202
        # Past the body dedupe window (not a duplicate any more), inside the tolerance.
        world.clock.advance(61)
        sig = headers[signing.SIGNATURE_HEADER]
        again = {**headers, signing.SIGNATURE_HEADER: respell(sig)}
        replay = await world.client.post("/intake/hook", content=GENERIC, headers=again)
        assert replay.status_code == 401, replay.text
        assert "replayed" in replay.json()["error"]
        assert len(world.rows()) == 1
    finally:
        await world.close()


async def test_the_replay_memory_survives_a_restart(tmp_path):
    headers = signed(GENERIC, timestamp=NOW - 10)
    first = World(tmp_path, endpoints=SHORT_DEDUPE)
    try:
        response = await first.client.post("/intake/hook", content=GENERIC, headers=headers)
        assert response.status_code == 202
    finally:
        await first.close()
    restarted = World(tmp_path, endpoints=SHORT_DEDUPE)  # a new app, memory, on the same store
    try:
        restarted.clock.advance(61)  # past the dedupe window: only the replay memory refuses
        replay = await restarted.client.post("/intake/hook", content=GENERIC, headers=headers)
        assert replay.status_code == 401, replay.text
        assert "replayed" in replay.json()["error"]
        # Once the tolerance has passed, the memory is let go (and the timestamp is stale).
        restarted.clock.advance(400)
        late = await restarted.client.post(
            "/intake/hook", content=GENERIC, headers=signed(GENERIC, timestamp=NOW + 395)
        )
        assert late.status_code == 202, late.text
    finally:
        await restarted.close()


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda: {"Content-Type": "application/json"}, "missing X-Rollsafe-Timestamp"),
        (lambda: signed(GENERIC, timestamp=NOW - 301), "stale timestamp"),
        (lambda: signed(GENERIC, timestamp=NOW + 301), "stale timestamp"),
        (lambda: signed(GENERIC, timestamp=NOW, key=b"wrong"), "wrong signature"),
        (lambda: signed(b"{}", timestamp=NOW), "wrong signature"),  # signed another body
    ],
)
async def test_hmac_refusals(world, make, reason):
    response = await world.client.post("/intake/hook", content=GENERIC, headers=make())
    assert response.status_code == 401
    assert reason in response.json()["error"]
    assert world.rows() == []


async def test_grafana_signature(world):
    import hashlib
    import hmac

    body = json.dumps(
        {
            "alerts": [
                {
                    "status": "firing",
                    "labels": {"alertname": "A", "instance": "web-1"},
                    "startsAt": "2026-01-01T10:00:00Z",
                }
            ]
        }
    ).encode()
    stamp = str(int(NOW))
    digest = hmac.new(b"grafana-key", stamp.encode() + b":" + body, hashlib.sha256).hexdigest()
    headers = {
        "Content-Type": "application/json",
        "X-Grafana-Alerting-Signature": digest,
        "X-Ts": stamp,
    }
    ok = await world.client.post("/intake/grafana", content=body, headers=headers)
    assert ok.status_code == 202
    [row] = world.rows()
    assert row.headers["x-grafana-alerting-signature"] == "***"
    replay = await world.client.post("/intake/grafana", content=body, headers=headers)
    assert replay.status_code == 401
    wrong = await world.client.post(
        "/intake/grafana", content=body, headers={**headers, "X-Ts": str(int(NOW) - 1)}
    )
    assert wrong.status_code == 401


async def test_unmapped_payloads_are_still_stored(world):
    body = json.dumps({"name": "X", "state": "firing", "labels": {"host": "elsewhere"}}).encode()
    response = await world.client.post(
        "/intake/open", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 202  # the processor marks it unmapped and audits it
    assert len(world.rows()) == 1


async def test_store_down_is_503(tmp_path):
    world = World(tmp_path, store=sql.SqlStore(f"sqlite:///{tmp_path}/no/such/dir/x.db"))
    try:
        response = await world.client.post("/intake/am", content=alertmanager_body(), headers=AM)
        assert response.status_code == 503
        assert "retry later" in response.json()["error"]
    finally:
        await world.close()


# --------------------------------------------------------------------------- SNS


@pytest.fixture(scope="module")
def topic():
    return fake_sns.FakeSns()


@pytest.fixture
async def sns_world(tmp_path, topic):
    topic.fetched.clear()
    topic.confirmed.clear()
    endpoints = [
        {
            "name": "cw",
            "kind": "sns",
            "topic_arn": topic.topic_arn,
            "target_label": "InstanceId",
            "resolve_by": ["label:instance_id"],
        }
    ]
    targets = TARGETS
    made = World(tmp_path, endpoints=endpoints, fetch=topic.fetch)
    made.config = made.config.model_copy(update={"targets": targets})
    made.clock.set(time.time())  # the generated certificate is valid around now
    yield made
    await made.close()


SNS_HEADERS = {"Content-Type": "text/plain; charset=UTF-8"}


async def test_sns_notification_verified_and_stored(sns_world, topic):
    body = topic.notification(topic.alarm("HighCPU", "ALARM", dimensions={"InstanceId": "i-1"}))
    response = await sns_world.client.post("/intake/cw", content=body, headers=SNS_HEADERS)
    assert response.status_code == 202, response.text
    assert topic.fetched == [topic.cert_url]
    assert len(sns_world.rows()) == 1
    # The certificate is fetched once, then cached.
    body = topic.notification(topic.alarm("HighCPU", "OK"), version=1)
    assert (
        await sns_world.client.post("/intake/cw", content=body, headers=SNS_HEADERS)
    ).status_code == 202
    assert topic.fetched == [topic.cert_url]


async def test_sns_subscription_confirmed_only_after_verification(sns_world, topic):
    fields = json.loads(topic.confirmation())
    tampered = dict(fields, SubscribeURL=fields["SubscribeURL"] + "&x=1")
    refused = await sns_world.client.post(
        "/intake/cw", content=json.dumps(tampered).encode(), headers=SNS_HEADERS
    )
    assert refused.status_code == 401
    assert topic.confirmed == []
    accepted = await sns_world.client.post(
        "/intake/cw", content=json.dumps(fields).encode(), headers=SNS_HEADERS
    )
    assert accepted.status_code == 200
    assert topic.confirmed == [fields["SubscribeURL"]]
    assert sns_world.rows() == []  # confirmations are audited, not queued
    [event] = list(sns_world.store.list_audit_events())
    assert event.entry.action == "intake.sns_subscribed"


async def test_sns_subscribe_url_must_be_on_an_sns_host(sns_world, topic):
    body = topic.confirmation(subscribe_url="https://evil.example/?Action=ConfirmSubscription")
    response = await sns_world.client.post("/intake/cw", content=body, headers=SNS_HEADERS)
    assert response.status_code == 401
    assert topic.confirmed == []


async def test_sns_wrong_topic_is_403_without_fetching(sns_world, topic):
    body = topic.notification(
        topic.alarm("HighCPU", "ALARM"), topic_arn="arn:aws:sns:us-east-1:123456789012:other"
    )
    response = await sns_world.client.post("/intake/cw", content=body, headers=SNS_HEADERS)
    assert response.status_code == 403
    assert topic.fetched == []


async def test_sns_bad_certificate_host_is_401_without_fetching(sns_world, topic):
    fields = json.loads(topic.notification(topic.alarm("HighCPU", "ALARM")))
    fields["SigningCertURL"] = "https://sns.us-east-1.amazonaws.com.evil.example/cert.pem"
    response = await sns_world.client.post(
        "/intake/cw", content=json.dumps(fields).encode(), headers=SNS_HEADERS
    )
    assert response.status_code == 401
    assert topic.fetched == []


async def test_sns_certificate_unavailable_is_503(tmp_path, topic):
    async def failing(url):
        raise OSError("network down")

    endpoints = [
        {"name": "cw", "kind": "sns", "topic_arn": topic.topic_arn, "target_label": "InstanceId"}
    ]
    world = World(tmp_path, endpoints=endpoints, fetch=failing)
    try:
        body = topic.notification(topic.alarm("HighCPU", "ALARM"))
        response = await world.client.post("/intake/cw", content=body, headers=SNS_HEADERS)
        assert response.status_code == 503
        assert world.rows() == []
    finally:
        await world.close()
