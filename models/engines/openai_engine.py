"""A client engine for a fleet of OpenAI-compatible vLLM servers.

The servers do the batching: this engine only sends every request of a ``generate`` call at once
(bounded by a semaphore) over one pooled HTTP/1.1 keep-alive client, spread round-robin over the
base URLs. A fleet behind a Kubernetes Service is usually one URL; several URLs also work.

Adapters are addressed by their served model names, which are the customization IDs (servers run
with ``--enable-lora --lora-modules <customization_id>=<path>``); rows without an adapter use the
base model's served name (``--served-model-name``).

Structured outputs, as vLLM 0.32's server honours them (``structured_outputs_from_response_format``
in ``vllm/entrypoints/openai/generate/base/protocol.py``): a JSON schema goes in the standard
``response_format={"type": "json_schema", "json_schema": {"name": ..., "schema": ...}}``; a closed
list of choices and a regular expression have no OpenAI field and go in vLLM's extra body field
``structured_outputs={"choice": [...]}`` or ``{"regex": "..."}``. The old ``guided_choice`` and
``guided_json`` fields are accepted and silently ignored (only a server-side warning), so they
must not be used.

Credentials: ``api_key`` goes out as ``Authorization: Bearer <key>`` on every request (vLLM's
``--api-key`` / ``VLLM_API_KEY`` guards ``/v1``); ``ca_bundle`` is a PEM file of the CA that
signed an ``https://`` server's certificate (else the system's trust store). A 401 or 403 is a
configuration error, not an outage: retrying cannot fix a wrong key, and holding every batch
silently would hide it. The engine turns unhealthy for good (``/readyz`` 503, ``replyd_engine_up``
0), logs an error naming the setting to fix (``key_setting``), and raises ``EngineDeadError``,
so the daemon exits with code 3 without committing; the restart reads the key again (a rotated
Secret is picked up).

Timing: a request's ``queue_s`` is its wait for a concurrency slot (the semaphore) before its first
attempt, ``total_s`` its whole round trip, retries and backoff included. Requests are not streamed,
so ``ttft_s`` is ``None``: the servers export time to first token themselves, at their
``/metrics`` (``vllm:time_to_first_token_seconds``), with their own queue and batch figures.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import ssl
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Any

import httpx

from models.engines.base import (
    AdapterInfo,
    Engine,
    GenerateRequest,
    GenerateResult,
    PendingRequests,
    RequestTiming,
    estimate_tokens,
)
from models.engines.openai_wire import first_logprobs, request_body
from models.errors import (
    AdapterError,
    ConfigurationError,
    EngineDeadError,
    EngineError,
    UnsupportedRequestError,
)
from models.retry import Backoff

log = logging.getLogger(__name__)

_NO_ADAPTERS: Mapping[str, AdapterInfo] = MappingProxyType({})
# Unavailability failures in a row (across all requests: no connection, a timeout, 429, 5xx)
# after which healthy() turns false; any 2xx answer restores it.
_UNHEALTHY_AFTER = 3
_MAX_BACKOFF_S = 10.0


class EngineResponseError(EngineError):
    """A server answered 2xx with a body that is not a completion: asking again gives the same
    answer, so the batch's emails are dead-lettered (``engine_error``) instead of retried."""

    retriable = False


class _Retriable(Exception):
    """One attempt failed in a way another attempt (maybe on another URL) can fix."""

    def __init__(self, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class OpenAIEngine(Engine):
    """Requests to OpenAI-compatible vLLM servers over HTTP (``/v1/chat/completions`` for
    ``messages``, ``/v1/completions`` for ``prompt``).

    The engine being unavailable (no connection, a connect/read/write/pool timeout, 429, 5xx:
    a mesh's "no healthy upstream", a server still loading) is retried ``max_retries`` times
    with jittered exponential backoff (on the next URL), then raises ``EngineError``
    (retriable); every such failure counts toward ``healthy()`` turning false, and only a 2xx
    answer resets the count. Other 4xx raise ``UnsupportedRequestError``, an unknown model name
    ``AdapterError``, 401/403 ``EngineDeadError`` (a wrong key would otherwise dead-letter every
    email), a 2xx that is not a completion ``EngineResponseError`` (not retriable).
    """

    name = "openai"

    def __init__(
        self,
        base_urls: Sequence[str],
        base_model: str,
        adapters: Mapping[str, AdapterInfo] = _NO_ADAPTERS,
        max_concurrency: int = 64,
        timeout_s: float = 20,
        max_retries: int = 3,
        api_key: str | None = None,
        *,
        backoff_s: float = 0.25,
        context_tokens: int | None = None,
        count_tokens: Callable[[str], int] | None = None,
        ca_bundle: Path | None = None,
        key_setting: str = "the API key",
    ) -> None:
        """``context_tokens`` is the servers' ``--max-model-len``; ``count_tokens`` counts with
        a local copy of the served model's tokenizer (``tokenizer_counter``). ``ca_bundle``
        verifies ``https://`` servers against that CA (PEM) instead of the system's;
        ``key_setting`` names, in errors, where ``api_key`` comes from."""
        urls = [_normalise_url(url) for url in base_urls if url.strip()]
        if not urls:
            raise ConfigurationError("the openai engine needs at least one base URL")
        if not base_model:
            raise ConfigurationError("the openai engine needs the served base model name")
        for key, info in adapters.items():
            if key != info.customization_id:
                raise ConfigurationError(
                    f"adapter key {key!r} differs from its customization_id "
                    f"{info.customization_id!r}"
                )
        if max_concurrency < 1 or timeout_s <= 0 or max_retries < 0 or backoff_s < 0:
            raise ConfigurationError(
                "max_concurrency must be >= 1, timeout_s > 0, max_retries and backoff_s >= 0"
            )
        self._urls = tuple(urls)
        self._base_model = base_model
        self._adapters: Mapping[str, AdapterInfo] = MappingProxyType(dict(adapters))
        self._max_concurrency = max_concurrency
        self._timeout_s = timeout_s
        self._max_retries = max_retries
        self._api_key = api_key
        self._verify = _tls_verify(ca_bundle)
        self._key_setting = key_setting
        self._refused: str | None = None  # set by a 401/403: unhealthy until stop
        self._backoff_s = backoff_s
        self._next_url = itertools.cycle(self._urls)
        self._client: httpx.AsyncClient | None = None
        self._semaphore = asyncio.Semaphore(max_concurrency)  # replaced in start (its loop)
        self._failures = 0
        self._pending = PendingRequests()
        self._context_tokens = context_tokens
        self._count = count_tokens

    @property
    def base_model(self) -> str:
        """The base model's served name (``--served-model-name`` on the servers)."""
        return self._base_model

    @property
    def base_urls(self) -> tuple[str, ...]:
        """The servers' base URLs, without a trailing ``/v1``."""
        return self._urls

    def adapters(self) -> Mapping[str, AdapterInfo]:
        """The adapters this engine expects the servers to serve, by customization ID."""
        return self._adapters

    def healthy(self) -> bool:
        """True after a successful ``start`` until ``stop``, except after several attempts in a
        row found the servers unavailable (unreachable, timed out, 429 or 5xx); the next 2xx
        answer restores it. A server that refused our credentials (401/403) makes it false
        for good: a wrong key does not fix itself."""
        return (self._client is not None and self._failures < _UNHEALTHY_AFTER
                and self._refused is None)

    def queue_depth(self) -> int:
        """Requests sent or waiting to be sent (for a slot or a retry) and not answered yet."""
        return self._pending.count

    def context_tokens(self) -> int | None:
        return self._context_tokens

    def count_tokens(self, text: str) -> int:
        """Tokens by the served model's tokenizer when a local copy was given, else an upper
        bound."""
        return self._count(text) if self._count is not None else estimate_tokens(text)

    async def start(self) -> None:
        """Open the client and check, on every URL, that ``/v1/models`` lists the base model and
        every adapter. Raises ``EngineDeadError`` naming what is missing or unreachable."""
        if self._client is not None:
            return
        headers = {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}
        # Connect fails fast; reads may wait for a full generation on a busy server.
        timeout = httpx.Timeout(self._timeout_s, connect=min(10.0, self._timeout_s))
        limits = httpx.Limits(
            max_connections=self._max_concurrency, max_keepalive_connections=self._max_concurrency
        )
        self._client = httpx.AsyncClient(
            headers=headers, timeout=timeout, limits=limits, verify=self._verify
        )
        self._semaphore = asyncio.Semaphore(self._max_concurrency)
        self._failures = 0
        self._refused = None
        try:
            served = await asyncio.gather(
                *(self._list_models(url) for url in self._urls), return_exceptions=True
            )
        except BaseException:
            await self.stop()
            raise
        wanted = [self._base_model, *sorted(self._adapters)]
        problems: list[str] = []
        for url, names in zip(self._urls, served, strict=True):
            if isinstance(names, BaseException):
                problems.append(f"{url} is unusable: {names}")
            elif missing := [name for name in wanted if name not in names]:
                problems.append(
                    f"{url} lacks {', '.join(missing)} (serves {', '.join(sorted(names))})"
                )
        if problems:
            await self.stop()
            raise EngineDeadError(
                "the openai engine cannot start: the vLLM servers must be reachable and serve "
                f"{', '.join(wanted)} (--served-model-name, --lora-modules "
                "<customization_id>=<path>): " + "; ".join(problems)
            )
        log.info(
            "openai engine started: %d server URL(s), model %s, %d adapter(s)",
            len(self._urls),
            self._base_model,
            len(self._adapters),
        )

    async def served_everywhere(self) -> set[str]:
        """The model names every server lists now (adapters loaded at runtime included)."""
        if self._client is None:
            raise EngineDeadError("the openai engine is not started")
        served = await asyncio.gather(*(self._list_models(url) for url in self._urls))
        return set.intersection(*served)

    def add_adapter(self, info: AdapterInfo) -> None:
        """Accept requests for ``info`` from now on; the caller has seen every server list it."""
        self._adapters = MappingProxyType({**self._adapters, info.customization_id: info})

    async def stop(self) -> None:
        """Close the HTTP client (dropping its connections). Idempotent."""
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    async def generate(self, requests: Sequence[GenerateRequest]) -> list[GenerateResult]:
        """Send every request concurrently (at most ``max_concurrency`` in flight) and return the
        results in request order. The first failure cancels the rest of the call.

        Raises ``AdapterError`` for an adapter this engine was not built with or the server does
        not serve, ``UnsupportedRequestError`` for a request the server rejects (4xx, e.g. a
        prompt over ``--max-model-len``), ``EngineError`` (retriable) when the servers stay
        unavailable (unreachable, timing out, 429 or 5xx) through the retries,
        ``EngineResponseError`` (not retriable) for a 2xx that is not a completion, and
        ``EngineDeadError`` before ``start`` or when the servers refuse our credentials.
        """
        client = self._client
        if client is None:
            raise EngineDeadError("the openai engine is not started")
        if not requests:
            return []
        for request in requests:
            self.check_adapter(request.adapter)
        submitted = time.perf_counter()
        with self._pending.hold(len(requests)) as done:
            tasks = [
                asyncio.create_task(self._generate_one(client, r, submitted)) for r in requests
            ]
            for task in tasks:
                task.add_done_callback(lambda _: done(1))
            try:
                return list(await asyncio.gather(*tasks))
            except BaseException:
                # Closing a cancelled request's connection makes vLLM abort that generation.
                for task in tasks:
                    task.cancel()
                await asyncio.wait(tasks)
                raise

    async def _generate_one(
        self, client: httpx.AsyncClient, request: GenerateRequest, submitted: float
    ) -> GenerateResult:
        path, body = request_body(request, request.adapter or self._base_model)
        slots: list[float] = []
        data = await self._call(client, "POST", path, body, slots=slots)
        try:
            choice = data["choices"][0]
            usage = data["usage"]
            text = choice["message"]["content"] if request.messages is not None else choice["text"]
            return GenerateResult(
                text=text or "",
                finish_reason=choice.get("finish_reason") or "stop",
                prompt_tokens=int(usage["prompt_tokens"]),
                completion_tokens=int(usage["completion_tokens"]),
                timing=RequestTiming(
                    queue_s=slots[0] - submitted if slots else None,
                    ttft_s=None,  # not streamed: the servers' own /metrics have it
                    total_s=time.perf_counter() - submitted,
                ),
                top_logprobs=first_logprobs(choice, request.messages is not None)
                if request.sampling.logprobs else (),
            )
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            raise EngineResponseError(
                f"malformed response from {path}: {exc!r}: {data!r:.300}"
            ) from exc

    async def _list_models(self, url: str) -> set[str]:
        """The model names one server serves (base and adapters)."""
        assert self._client is not None
        data = await self._call(self._client, "GET", "/v1/models", None, url=url)
        try:
            return {str(model["id"]) for model in data["data"]}
        except (KeyError, TypeError) as exc:
            raise EngineDeadError(f"{url}/v1/models gave no model list: {data!r:.300}") from exc

    async def _call(
        self,
        client: httpx.AsyncClient,
        method: str,
        path: str,
        body: dict[str, Any] | None,
        url: str | None = None,
        slots: list[float] | None = None,
    ) -> Any:
        """One HTTP call with retries; returns the decoded JSON body. ``url`` pins the server,
        otherwise each attempt takes the next URL in turn. ``slots``, if given, gets the
        ``perf_counter`` at which each attempt got its concurrency slot."""
        backoff = Backoff(self._backoff_s, _MAX_BACKOFF_S)
        for attempt in range(self._max_retries + 1):
            base = url or next(self._next_url)
            try:
                # The semaphore bounds requests in flight, not ones waiting out a backoff.
                async with self._semaphore:
                    if slots is not None:
                        slots.append(time.perf_counter())
                    return await self._attempt(client, method, base + path, body)
            except _Retriable as exc:
                if attempt == self._max_retries:
                    raise EngineError(
                        f"{method} {path} failed after {attempt + 1} attempt(s): {exc}"
                    ) from exc
                log.warning("retrying %s %s: %s", method, path, exc)
                await backoff.wait(at_least_s=min(exc.retry_after_s or 0.0, _MAX_BACKOFF_S))
        raise AssertionError("unreachable")

    async def _attempt(
        self, client: httpx.AsyncClient, method: str, url: str, body: dict[str, Any] | None
    ) -> Any:
        try:
            response = await client.request(method, url, json=body)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            self._failures += 1
            raise _Retriable(f"cannot connect to {url}: {exc!r}") from exc
        except httpx.TimeoutException as exc:
            # Read, write or pool timeout: the server is too slow or stuck. Another attempt,
            # possibly on another URL, after a backoff; the daemon holds the batch meanwhile.
            self._failures += 1
            raise _Retriable(f"{url} did not answer within {self._timeout_s} s ({exc!r})") from exc
        except httpx.TransportError as exc:
            # E.g. a keep-alive connection the server closed just as we reused it.
            self._failures += 1
            raise _Retriable(f"{url}: {exc!r}") from exc
        status = response.status_code
        if status == 429 or status >= 500:
            # Overloaded, loading or behind a mesh without a healthy upstream: unavailable.
            self._failures += 1
            raise _Retriable(
                f"{url} answered {status}: {_error_message(response)}",
                _retry_after(response) if status in (429, 503) else None,
            )
        if status < 300:
            self._failures = 0
        if status in (401, 403):
            raise self._credentials_refused(url, status, response)
        if status == 404 and isinstance(body, dict) and "model" in body:
            raise AdapterError(
                f"the server does not serve model {body['model']!r}: {_error_message(response)}"
            )
        if status >= 400:
            raise UnsupportedRequestError(
                f"{url} rejected the request ({status}): {_error_message(response)}"
            )
        try:
            return response.json()
        except ValueError as exc:
            raise EngineResponseError(
                f"{url} answered {status} with non-JSON: {response.text:.300}"
            ) from exc

    def _credentials_refused(
        self, url: str, status: int, response: httpx.Response
    ) -> EngineDeadError:
        """A 401/403: mark the engine unhealthy for good, log it once, and name the setting."""
        problem = "no API key was sent" if not self._api_key else "the API key was refused"
        message = (
            f"{url} refused our credentials ({status}: {_error_message(response)}): {problem}; set "
            f"{self._key_setting} to the key the server was started with (vLLM --api-key or "
            "VLLM_API_KEY)"
        )
        if self._refused is None:
            log.error("engine refused our credentials: %s", message)
        self._refused = message
        return EngineDeadError(message)


def _tls_verify(ca_bundle: Path | None) -> ssl.SSLContext | bool:
    """httpx's ``verify``: a context trusting only ``ca_bundle``'s CAs, else the system's."""
    if ca_bundle is None:
        return True
    try:
        return ssl.create_default_context(cafile=str(ca_bundle))
    except (OSError, ssl.SSLError) as exc:
        raise ConfigurationError(
            f"the CA bundle {ca_bundle} cannot be loaded as PEM certificates: {exc}"
        ) from exc


def _normalise_url(url: str) -> str:
    """``http://host:8000``, ``http://host:8000/`` and ``http://host:8000/v1`` are one server."""
    url = url.strip().rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise ConfigurationError(f"engine URL {url!r} must start with http:// or https://")
    return url.removesuffix("/v1")


def _error_message(response: httpx.Response) -> str:
    """The server's error message (OpenAI error body), else the start of the body."""
    try:
        data = response.json()
        return str(data["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return response.text[:300] or response.reason_phrase


def _retry_after(response: httpx.Response) -> float | None:
    """A ``Retry-After`` given in seconds (the HTTP-date form is ignored)."""
    try:
        return max(0.0, float(response.headers.get("retry-after", "")))
    except ValueError:
        return None
