"""``GET /healthz``, ``/openapi.json`` and the app's start-up checks of secrets."""

from __future__ import annotations

import httpx
import pytest

from rollsafe.config import models
from rollsafe.domain import errors
from rollsafe.interfaces.api import app as api_app
from rollsafe.storage import sql


def client_for(app):
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://rollsafe")


@pytest.fixture
def store(tmp_path):
    with sql.open_store(tmp_path / "state") as opened:
        yield opened


async def test_healthy(store):
    app = api_app.create_app(
        models.RollsafeConfig(), store=store, health=lambda: {"running": True, "failure": None}
    )
    async with client_for(app) as client:
        response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "store": "ok",
        "daemon": {"running": True, "failure": None},
    }


async def test_a_failed_daemon_task_is_unhealthy(store):
    app = api_app.create_app(
        models.RollsafeConfig(),
        store=store,
        health=lambda: {"running": False, "failure": "probes: crashed"},
    )
    async with client_for(app) as client:
        response = await client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["daemon"]["failure"] == "probes: crashed"


async def test_an_unreachable_store_is_unhealthy(tmp_path):
    store = sql.SqlStore(f"sqlite:///{tmp_path}/no/such/dir/rollsafe.db")
    try:
        app = api_app.create_app(models.RollsafeConfig(), store=store)
        async with client_for(app) as client:
            response = await client.get("/healthz")
        assert response.status_code == 503
        assert response.json()["store"].startswith("error")
    finally:
        store.close()


async def test_openapi_spec(store):
    app = api_app.create_app(models.RollsafeConfig(), store=store)
    async with client_for(app) as client:
        spec = (await client.get("/openapi.json")).json()
    assert {"/intake/{name}", "/healthz"} <= set(spec["paths"])
    intake = spec["paths"]["/intake/{name}"]["post"]
    assert {"202", "400", "401", "404", "413", "415"} <= set(intake["responses"])
    assert "text/plain" in intake["requestBody"]["content"]


def config_with(auth):
    return models.RollsafeConfig.model_validate(
        {"intake": [{"name": "am", "kind": "alertmanager", "auth": auth, "target_label": "i"}]}
    )


def test_a_missing_secret_stops_start_up(store):
    with pytest.raises(errors.ConfigError, match="environment variable AM_TOKEN is not set"):
        api_app.create_app(
            config_with({"kind": "bearer", "token_env": "AM_TOKEN"}), store=store, environ={}
        )


def test_secret_files_are_relative_to_the_config(store, tmp_path):
    (tmp_path / "am.token").write_text("from-a-file\n")
    api_app.create_app(
        config_with({"kind": "bearer", "token_file": "am.token"}), store=store, base_dir=tmp_path
    )
    (tmp_path / "empty.token").write_text("\n")
    with pytest.raises(errors.ConfigError, match="is empty"):
        api_app.create_app(
            config_with({"kind": "hmac", "secret_file": "empty.token"}),
            store=store,
            base_dir=tmp_path,
        )
    with pytest.raises(errors.ConfigError, match="cannot read"):
        api_app.create_app(
            config_with({"kind": "hmac", "secret_file": "absent"}), store=store, base_dir=tmp_path
        )
