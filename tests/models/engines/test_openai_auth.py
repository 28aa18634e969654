"""The openai engine's credentials: the API key as a bearer token, a private CA for https, and
what a refused key does. Against a small local server on 127.0.0.1 that checks the token the
way vLLM's ``--api-key`` middleware does (``/v1`` guarded, 401 ``{"error": "Unauthorized"}``).
No vLLM needed, so no ``vllm`` mark: these run everywhere."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import ipaddress
import json
import logging
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from daemon.service.build import build_engine, build_reply_engine
from daemon.settings import Settings
from models.engines.openai_engine import OpenAIEngine
from models.errors import ConfigurationError, EngineDeadError
from tests.models.engines.engine_helpers import raw

SERVED = "SmolLM2-135M-Instruct"
KEY = "test-key-7c1f0e"


@dataclass
class AuthServer:
    """An OpenAI-compatible stub that wants ``Authorization: Bearer <key>`` on ``/v1``."""

    key: str | None = KEY
    ssl_context: ssl.SSLContext | None = None
    seen: list[tuple[str, str | None]] = field(default_factory=list)  # (request line, auth)
    server: asyncio.Server | None = None

    async def start(self) -> str:
        self.server = await asyncio.start_server(
            self._handle, "127.0.0.1", 0, ssl=self.ssl_context
        )
        port = self.server.sockets[0].getsockname()[1]
        scheme = "https" if self.ssl_context else "http"
        return f"{scheme}://{'localhost' if self.ssl_context else '127.0.0.1'}:{port}"

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode()
            headers = {}
            for line in head.split("\r\n")[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            await reader.readexactly(int(headers.get("content-length", 0)))
            request_line = head.split("\r\n")[0]
            auth = headers.get("authorization")
            self.seen.append((request_line, auth))
            status, payload = self._answer(request_line, auth)
            data = json.dumps(payload).encode()
            writer.write(
                f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n".encode() + data
            )
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
            pass  # a client that refused our certificate, or went away
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError, ssl.SSLError):
                await writer.wait_closed()

    def _answer(self, request_line: str, auth: str | None) -> tuple[int, dict[str, object]]:
        path = request_line.split(" ")[1]
        if path.startswith("/v1") and self.key is not None and auth != f"Bearer {self.key}":
            return 401, {"error": "Unauthorized"}
        if request_line.startswith("GET"):
            return 200, {"data": [{"id": SERVED}]}
        return 200, {"choices": [{"text": "ok", "finish_reason": "stop"}],
                     "usage": {"prompt_tokens": 2, "completion_tokens": 1}}


@pytest.fixture
async def server() -> AsyncIterator[AuthServer]:
    running = AuthServer()
    yield running
    await running.close()


async def test_the_key_goes_out_as_a_bearer_token(server: AuthServer) -> None:
    url = await server.start()
    async with OpenAIEngine([url], SERVED, api_key=KEY) as engine:
        (result,) = await engine.generate([raw("Hi")])
        assert result.text == "ok"
        assert engine.healthy()
    assert [auth for _, auth in server.seen] == [f"Bearer {KEY}"] * 2  # /v1/models + POST


@pytest.mark.parametrize("api_key", [None, "wrong-key-93ab"])
async def test_a_missing_or_wrong_key_stops_the_start_naming_the_setting(
    server: AuthServer, api_key: str | None, caplog: pytest.LogCaptureFixture
) -> None:
    url = await server.start()
    engine = OpenAIEngine([url], SERVED, api_key=api_key, backoff_s=0.01,
                          key_setting="engine_api_key (REPLYD_ENGINE_API_KEY)")
    with caplog.at_level(logging.INFO), pytest.raises(EngineDeadError) as caught:
        await engine.start()
    message = str(caught.value)
    assert "401" in message and "engine_api_key (REPLYD_ENGINE_API_KEY)" in message
    assert ("no API key was sent" if api_key is None else "the API key was refused") in message
    assert len(server.seen) == 1, "a refused key is not retried"
    assert not engine.healthy()
    logged = caplog.text + message
    assert "engine_api_key" in caplog.text
    if api_key is not None:
        assert api_key not in logged, "the key must never be logged"


async def test_a_key_refused_while_running_is_engine_dead_and_stays_unhealthy(
    server: AuthServer, caplog: pytest.LogCaptureFixture
) -> None:
    """The server's key was rotated under a running daemon: no silent retries, no dead letters;
    /readyz and replyd_engine_up report it until the process exits (code 3) and restarts."""
    url = await server.start()
    async with OpenAIEngine([url], SERVED, api_key=KEY, backoff_s=0.01,
                            key_setting="the_setting") as engine:
        await engine.generate([raw("Hi")])
        server.key = "rotated-key"
        posts = len(server.seen)
        with caplog.at_level(logging.ERROR), pytest.raises(EngineDeadError, match="the_setting"):
            await engine.generate([raw("Hi")] * 3)
        assert len(server.seen) - posts <= 3, "each request once, none retried"
        assert not engine.healthy()
        server.key = KEY  # a later 2xx does not make a refused key healthy again
        await engine.generate([raw("Hi")])
        assert not engine.healthy()
    # The engine's own records: a client an earlier test left on the session's event loop may
    # log its own errors meanwhile (seen once in CI: aiokafka retrying a stopped broker).
    errors = [r for r in caplog.records
              if r.levelno == logging.ERROR and r.name == "models.engines.openai_engine"]
    assert len(errors) == 1, "logged once, not once per request"
    assert KEY not in caplog.text


async def test_settings_give_both_engines_their_own_key(server: AuthServer) -> None:
    url = await server.start()
    settings = Settings(engine="openai", adapters={}, engine_url=url, engine_api_key=KEY,
                        reply_engine_url=url, reply_model=SERVED,
                        reply_engine_api_key="reply-key-55d2")
    main = build_engine(settings)
    reply = build_reply_engine(settings)
    assert isinstance(main, OpenAIEngine) and isinstance(reply, OpenAIEngine)
    async with main:
        await main.generate([raw("Hi")])
    with pytest.raises(EngineDeadError, match="reply_engine_api_key") as caught:
        await reply.start()
    assert "REPLYD_REPLY_ENGINE_API_KEY" in str(caught.value)
    assert "reply-key-55d2" not in str(caught.value)
    assert server.seen[-1][1] == "Bearer reply-key-55d2"


# --- TLS with a private CA ---------------------------------------------------------------------
def _private_ca(folder: Path) -> tuple[Path, Path, Path]:
    """A CA and a server certificate for localhost/127.0.0.1 signed by it: (ca, cert, key)."""
    x509 = pytest.importorskip("cryptography.x509")
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)

    def name(common: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(name("replyd test CA"))
          .issuer_name(name("replyd test CA")).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(minutes=5))
          .not_valid_after(now + datetime.timedelta(hours=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False,
                                       data_encipherment=False, key_agreement=False,
                                       encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()),
                         critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(name("localhost")).issuer_name(ca.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([
                x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                           critical=False)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths = folder / "ca.pem", folder / "server.pem", folder / "server.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return paths


async def test_https_server_is_verified_against_the_ca_bundle(tmp_path: Path) -> None:
    ca, cert, key = _private_ca(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    server = AuthServer(ssl_context=context)
    url = await server.start()
    try:
        settings = Settings(engine="openai", adapters={}, engine_url=url, engine_api_key=KEY,
                            engine_ca_bundle=ca)
        engine = build_engine(settings)
        async with engine:
            (result,) = await engine.generate([raw("Hi")])
            assert result.text == "ok"
        assert server.seen[-1][1] == f"Bearer {KEY}"
        # Without the bundle the system trust store does not know this CA: the start fails.
        untrusted = OpenAIEngine([url], SERVED, api_key=KEY, max_retries=0)
        with pytest.raises(EngineDeadError, match=r"CERTIFICATE_VERIFY_FAILED|certificate"):
            await untrusted.start()
        # A bundle whose CA did not sign the server's certificate fails the same way.
        (tmp_path / "other").mkdir()
        other_ca, _, _ = _private_ca(tmp_path / "other")
        wrong = OpenAIEngine([url], SERVED, api_key=KEY, max_retries=0, ca_bundle=other_ca)
        with pytest.raises(EngineDeadError, match=r"CERTIFICATE_VERIFY_FAILED|certificate"):
            await wrong.start()
    finally:
        await server.close()


def test_a_ca_bundle_that_is_not_pem_or_missing_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bundle.pem"
    bad.write_text("not a certificate\n")
    with pytest.raises(ConfigurationError, match="CA bundle"):
        OpenAIEngine(["https://vllm:8000"], SERVED, ca_bundle=bad)
    with pytest.raises(ValueError, match="engine_ca_bundle"):
        Settings(engine_ca_bundle=tmp_path / "missing.pem")
