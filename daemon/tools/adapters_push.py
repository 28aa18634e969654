"""``replyd adapters push ID``: roll a registered adapter out to a running vLLM fleet.

No server restarts: each server loads the adapter through vLLM's runtime LoRA endpoint
(``POST /v1/load_lora_adapter`` with ``lora_name`` and ``lora_path``; the server runs with
``VLLM_ALLOW_RUNTIME_LORA_UPDATING=True`` and ``--enable-lora``). A push is only reported done
when it is proven: ``/v1/models`` lists the ID and a one-token chat completion on it answers.
"Already loaded" (vLLM's 400) counts as loaded, and is then verified like a fresh load.

Before anything is sent, the adapter is checked against its manifest (every file's sha256), and
every server must serve the manifest's base model: a LoRA trained on another base would load (the
shapes may even fit) and answer nonsense. vLLM does not report a served model's weights hash, so
the check is by name: the manifest's ``base_model`` must be a served model ID or the folder name
of a served base model's ``root``.

``lora_path`` is the adapter's folder as the *server* sees it: ``--server-path-prefix DIR``
gives ``DIR/<ID>`` (the Kubernetes image mounts the registry at ``/adapters``), else this
machine's registry folder (a server on the same host or a shared volume).
"""

from __future__ import annotations

import argparse
import asyncio
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

import httpx

from models.customize.registry import DEFAULT_ROOT, Registry
from models.errors import ConfigurationError

EXIT_OK, EXIT_FAILURE = 0, 1
LOAD_PATH = "/v1/load_lora_adapter"
_ALREADY = "already"  # vLLM 0.32: "The lora adapter 'X' has already been loaded. ..."


@dataclass(frozen=True, slots=True)
class PushResult:
    """What happened on one server: ``ok`` only when the adapter was listed and answered."""

    url: str
    ok: bool
    detail: str

    def line(self) -> str:
        return f"{'ok' if self.ok else 'FAIL'} {self.url}: {self.detail}"


class _Refused(Exception):
    """One server's push failed; the message says why (never the key)."""


def server_url(url: str) -> str:
    """A server's root URL: a trailing slash and ``/v1`` dropped, as the engine accepts both."""
    url = url.strip().rstrip("/")
    return url.removesuffix("/v1")


def server_path(registry: Registry, customization_id: str, prefix: str | None) -> str:
    """The adapter's folder as the server sees it: ``prefix/<ID>``, else the local folder."""
    if prefix:
        return str(PurePosixPath(prefix) / customization_id)
    return str(registry.path(customization_id))


def _error_text(response: httpx.Response) -> str:
    """vLLM's error message (``{"error": {"message": ...}}`` or a flat one), else the body."""
    try:
        data = response.json()
    except ValueError:
        return response.text[:300]
    if isinstance(data, dict):
        error = data.get("error", data)
        if isinstance(error, dict) and "message" in error:
            return str(error["message"])[:300]
        if "message" in data:
            return str(data["message"])[:300]
    return str(data)[:300]


async def _models(client: httpx.AsyncClient, url: str) -> list[dict[str, Any]]:
    response = await client.get(f"{url}/v1/models")
    if response.status_code != 200:
        raise _Refused(f"GET /v1/models: HTTP {response.status_code}: {_error_text(response)}")
    try:
        cards = response.json()["data"]
        return [card for card in cards if isinstance(card, dict) and "id" in card]
    except (ValueError, KeyError, TypeError) as error:
        raise _Refused(f"GET /v1/models gave no model list: {error!r}") from None


def _serves_base(cards: Sequence[dict[str, Any]], base_model: str) -> bool:
    """Whether a base model card (no ``parent``) is ``base_model`` by ID or by its root's name."""
    for card in cards:
        if card.get("parent"):
            continue  # a LoRA card
        root = str(card.get("root") or "")
        if card["id"] == base_model or (root and PurePosixPath(root).name == base_model):
            return True
    return False


async def _load(client: httpx.AsyncClient, url: str, cid: str, path: str) -> str:
    response = await client.post(f"{url}{LOAD_PATH}", json={"lora_name": cid, "lora_path": path})
    if response.status_code == 200:
        return "loaded"
    message = _error_text(response)
    if response.status_code == 400 and _ALREADY in message:
        return "already loaded"
    if response.status_code == 404 and "Not Found" in message:
        raise _Refused(f"{LOAD_PATH} does not exist: start the server with "
                       "VLLM_ALLOW_RUNTIME_LORA_UPDATING=True")
    raise _Refused(f"load refused: HTTP {response.status_code}: {message}")


async def _answers(client: httpx.AsyncClient, url: str, cid: str) -> None:
    body = {"model": cid, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 1,
            "temperature": 0}
    response = await client.post(f"{url}/v1/chat/completions", json=body)
    if response.status_code != 200:
        raise _Refused(f"loaded, but a completion on it gave HTTP {response.status_code}: "
                       f"{_error_text(response)}")


async def push_one(client: httpx.AsyncClient, url: str, cid: str, path: str,
                   base_model: str) -> PushResult:
    """Load ``cid`` from ``path`` into one server and prove it answers."""
    url = server_url(url)
    try:
        cards = await _models(client, url)
        if not _serves_base(cards, base_model):
            served = ", ".join(sorted(str(c["id"]) for c in cards if not c.get("parent")))
            raise _Refused(f"serves {served or 'nothing'}, not the adapter's base model "
                           f"{base_model}; not loaded")
        how = ("already loaded" if any(c["id"] == cid for c in cards)
               else await _load(client, url, cid, path))
        if not any(c["id"] == cid for c in await _models(client, url)):
            raise _Refused(f"{how}, but /v1/models does not list {cid}")
        await _answers(client, url, cid)
    except _Refused as refused:
        return PushResult(url, False, str(refused))
    except httpx.HTTPError as error:
        return PushResult(url, False, f"unreachable: {type(error).__name__}: {error}")
    return PushResult(url, True, f"{cid} {how}, listed, answers")


async def push(urls: Sequence[str], cid: str, path: str, base_model: str, *,
               api_key: str | None = None, verify: Any = True,
               timeout_s: float = 120.0) -> list[PushResult]:
    """Push to every server at once; one result per URL, in the order given."""
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    # Loading reads the weights on the server and the first completion may wait for a batch.
    timeout = httpx.Timeout(timeout_s, connect=min(10.0, timeout_s))
    async with httpx.AsyncClient(headers=headers, timeout=timeout, verify=verify) as client:
        return list(await asyncio.gather(
            *(push_one(client, url, cid, path, base_model) for url in urls)))


def _urls(given: Sequence[str] | None, configured: str | None) -> list[str]:
    """``--server`` URLs (each may be comma-separated), else ``engine_url``."""
    raw = list(given or ([configured] if configured else []))
    urls = [url for item in raw for url in item.split(",") if url.strip()]
    if not urls:
        raise ConfigurationError("push needs --server URL (or REPLYD_ENGINE_URL)")
    return urls


def cmd_adapters_push(args: argparse.Namespace) -> int:
    """Verify the adapter, push it to every server, print one line per server; exit 0 only
    when every server lists it and answers on it."""
    from daemon.secret_flags import secrets_from_files
    from daemon.settings import load_settings

    settings = load_settings(None, **secrets_from_files(args))
    registry = Registry(args.registry or settings.registry_dir or DEFAULT_ROOT)
    manifest = registry.get(args.id)
    problems = registry.verify(args.id)
    if problems:
        for problem in problems:
            print(f"FAIL {problem}")
        print(f"not pushed: {args.id} differs from its manifest")
        return EXIT_FAILURE
    urls = _urls(args.server, settings.engine_url)
    key = settings.engine_api_key.get_secret_value() if settings.engine_api_key else None
    verify: Any = (ssl.create_default_context(cafile=str(settings.engine_ca_bundle))
                   if settings.engine_ca_bundle else True)
    path = server_path(registry, args.id, args.server_path_prefix)
    results = asyncio.run(push(urls, args.id, path, manifest.base_model, api_key=key,
                               verify=verify, timeout_s=args.timeout))
    for result in results:
        print(result.line())
    return EXIT_OK if all(result.ok for result in results) else EXIT_FAILURE


__all__ = ["PushResult", "cmd_adapters_push", "push", "push_one", "server_path", "server_url"]
