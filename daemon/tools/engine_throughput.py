"""Engine throughput side by side: one batch of N emails' prompts per engine, base vs adapters.

    python -m daemon.tools.engine_throughput --engine vllm|peft|openai [--emails 64] [--serve]

For each engine it times, in one process and one after the other: the analysis stage
(sentiment + entities prompts of N synthetic eval emails, 2N requests) through the shipped
adapters, the same prompts on the bare base model, and the reply stage (N requests, base
model). ``--engine openai --serve`` starts a local vLLM OpenAI server with the default adapters
registered under their customization IDs (as a fleet member would run), on 127.0.0.1, and stops
it afterwards; without ``--serve`` it uses ``--engine-url``. No Kafka is involved: this is the
engine alone (``replyd bench`` measures the daemon around it). The last line printed is JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from daemon.service.build import _registry, build_engine, task_adapters
from daemon.settings import Settings
from daemon.tools.bench import _emails
from handlers import entities, reply, sentiment
from handlers.types import Entities
from models.base_model import DEFAULT_MODEL_NAME, resolve_base_model
from models.engines.base import Engine, GenerateRequest


async def measure(engine: Engine, settings: Settings, n: int) -> dict[str, Any]:
    texts, _ = _emails(n, seed=5)
    adapters = task_adapters(settings)
    analysis = [sentiment.build_request(t, adapters.get("sentiment")) for t in texts] + [
        entities.build_request(t, adapters.get("entities")) for t in texts]
    bare = [GenerateRequest(messages=r.messages, sampling=r.sampling, constraint=r.constraint)
            for r in analysis]
    replies = [reply.build_request(t, "neutral", Entities(), None, settings.reply_max_tokens)
               for t in texts]
    figures: dict[str, Any] = {"engine": settings.engine, "emails": n}
    async with engine:
        await engine.generate(analysis[:2] + bare[:2] + replies[:1])  # warm-up
        for label, requests in (("analysis_adapters", analysis), ("analysis_base", bare),
                                ("reply_base", replies)):
            started = time.perf_counter()
            results = await engine.generate(requests)
            seconds = time.perf_counter() - started
            figures[f"{label}_requests_per_s"] = round(len(requests) / seconds, 2)
            figures[f"{label}_emails_per_s"] = round(n / seconds, 2)
            figures[f"{label}_completion_tokens_per_s"] = round(
                sum(r.completion_tokens for r in results) / seconds, 1)
    figures["adapter_vs_base"] = round(figures["analysis_adapters_requests_per_s"]
                                       / figures["analysis_base_requests_per_s"], 3)
    return figures


@contextmanager
def local_server(settings: Settings) -> Iterator[str]:
    """A vLLM OpenAI server on 127.0.0.1 serving the base model and the default adapters."""
    registry = _registry(settings)
    model = resolve_base_model(settings.base_model_path, settings.model_cache_dir)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    modules = [f"{cid}={registry.adapter_info(cid).path}"
               for cid in task_adapters(settings).values()]
    command = [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", str(model),
               "--served-model-name", DEFAULT_MODEL_NAME, "--host", "127.0.0.1",
               "--port", str(port), "--dtype", settings.dtype,
               "--max-model-len", str(settings.max_model_len),
               "--max-num-seqs", str(settings.engine_max_num_seqs), "--enable-lora",
               "--max-loras", str(len(modules) + 1), "--max-lora-rank", "16",
               "--lora-modules", *modules]
    env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": str(settings.vllm_kv_cache_gib),
           "VLLM_NO_USAGE_STATS": "1"}
    process = subprocess.Popen(command, env=env, start_new_session=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 600
        while True:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"vLLM server did not come up (exit {process.poll()})")
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(1)
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engine", choices=["vllm", "peft", "openai", "echo"], required=True)
    parser.add_argument("--emails", type=int, default=64)
    parser.add_argument("--engine-url", help="openai: an already running server.")
    parser.add_argument("--serve", action="store_true", help="openai: start a local server.")
    args = parser.parse_args(argv)
    # A whole batch is submitted at once; on a CPU server the last of 2N requests waits minutes,
    # which the daemon's default per-request timeout (sized for its smaller batches) rejects.
    overrides: dict[str, Any] = {"engine": args.engine, "max_batch_size": args.emails,
                                 "engine_timeout_s": 900.0}
    if args.engine == "openai" and not args.serve:
        overrides["engine_url"] = args.engine_url
    settings = Settings(**overrides)  # type: ignore[arg-type]
    if args.engine == "openai" and args.serve:
        with local_server(settings) as url:
            settings = settings.model_copy(update={"engine_url": url})
            figures = asyncio.run(measure(build_engine(settings), settings, args.emails))
    else:
        figures = asyncio.run(measure(build_engine(settings), settings, args.emails))
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
