"""The API over HTTPS (``server.tls``), served by uvicorn in the caller's event loop."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import ssl

import aiohttp
import pytest

from rollsafe.config import models
from rollsafe.interfaces.api import app as api_app
from rollsafe.interfaces.api import serving
from rollsafe.storage import sql


def write_certificate(directory):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(tz=datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    (directory / "tls").mkdir()
    (directory / "tls" / "cert.pem").write_bytes(
        certificate.public_bytes(serialization.Encoding.PEM)
    )
    (directory / "tls" / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


async def test_https_with_relative_certificate_paths(tmp_path):
    write_certificate(tmp_path)
    server = models.Server(port=0, tls=models.Tls(certfile="tls/cert.pem", keyfile="tls/key.pem"))
    with sql.open_store(tmp_path / "state") as store:
        app = api_app.create_app(models.RollsafeConfig(), store=store)
        stop = asyncio.Event()
        bound = asyncio.get_running_loop().create_future()
        task = asyncio.create_task(
            serving.serve(
                app, server, stop, base_dir=tmp_path, listening=lambda h, p: bound.set_result(p)
            )
        )
        try:
            port = await asyncio.wait_for(bound, 30)
            trust = ssl.create_default_context(cafile=str(tmp_path / "tls" / "cert.pem"))
            async with aiohttp.ClientSession() as session:
                async with session.get(f"https://127.0.0.1:{port}/healthz", ssl=trust) as answer:
                    assert answer.status == 200
                    assert (await answer.json())["status"] == "ok"
                with pytest.raises(aiohttp.ClientError):
                    async with session.get(f"http://127.0.0.1:{port}/healthz") as plain:
                        await plain.read()
        finally:
            stop.set()
            await asyncio.wait_for(task, 30)


async def test_unusable_tls_files_are_a_clear_error(tmp_path):
    server = models.Server(port=0, tls=models.Tls(certfile="missing.pem", keyfile="missing.key"))
    with sql.open_store(tmp_path / "state") as store:
        app = api_app.create_app(models.RollsafeConfig(), store=store)
        with pytest.raises(serving.ServeError, match=r"server\.tls"):
            await serving.serve(app, server, asyncio.Event(), base_dir=tmp_path)


async def test_a_taken_port_is_a_clear_error(tmp_path):
    first = serving.bind("127.0.0.1", 0)
    try:
        port = first.getsockname()[1]
        with pytest.raises(serving.ServeError, match=f"cannot listen on 127\\.0\\.0\\.1:{port}"):
            serving.bind("127.0.0.1", port)
    finally:
        first.close()
