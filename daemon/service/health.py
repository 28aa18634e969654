"""``/healthz``, ``/readyz`` and ``/metrics`` on one small asyncio HTTP/1.1 server.

Probes and Prometheus scrapes are tiny GET requests; a dependency-free server keeps them off any
framework and on the daemon's own event loop, so ``/healthz`` answering proves the loop turns.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from daemon.service.metrics import Metrics

log = logging.getLogger(__name__)
Check = Callable[[], dict[str, bool]]
_REASONS = {200: "OK", 404: "Not Found", 405: "Method Not Allowed", 503: "Service Unavailable"}


class HealthServer:
    """Serves liveness from ``live()``, readiness from ``ready()`` and the metrics registry."""

    def __init__(self, host: str, port: int, metrics: Metrics, live: Check, ready: Check) -> None:
        self._host = host
        self._port = port
        self._metrics = metrics
        self._live = live
        self._ready = ready
        self._server: asyncio.Server | None = None

    @property
    def port(self) -> int:
        """The bound port (useful when configured as 0)."""
        if self._server is None:
            return self._port
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, self._host, self._port)
        log.info("health server listening", extra={"port": self.port})

    async def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
            await server.wait_closed()

    async def __aenter__(self) -> HealthServer:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request_line = await asyncio.wait_for(reader.readline(), timeout=5)
            while (await asyncio.wait_for(reader.readline(), timeout=5)) not in (b"\r\n", b"\n", b""):
                pass  # headers are not needed for these endpoints
            parts = request_line.decode("latin-1").split()
            method, path = (parts[0], parts[1].split("?")[0]) if len(parts) >= 2 else ("", "")
            status, content_type, body = self._route(method, path)
            head = (
                f"HTTP/1.1 {status} {_REASONS[status]}\r\nContent-Type: {content_type}\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            )
            writer.write(head.encode("latin-1") + (body if method != "HEAD" else b""))
            await writer.drain()
        except (TimeoutError, ConnectionError):
            pass  # a probe that hung up or stalled; nothing to answer
        finally:
            writer.close()

    def _route(self, method: str, path: str) -> tuple[int, str, bytes]:
        if method not in ("GET", "HEAD"):
            return 405, "text/plain", b"method not allowed\n"
        if path == "/metrics":
            return 200, CONTENT_TYPE_LATEST, generate_latest(self._metrics.registry)
        if path in ("/healthz", "/readyz"):
            checks = (self._live if path == "/healthz" else self._ready)()
            ok = all(checks.values())
            body = json.dumps({"status": "ok" if ok else "fail", "checks": checks}).encode()
            return (200 if ok else 503), "application/json", body + b"\n"
        return 404, "text/plain", b"not found\n"
