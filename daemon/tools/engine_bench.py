"""One engine alone, no Kafka: how fast it turns the prompts of N synthetic emails into
completions, on the base model and through adapters (``replyd bench`` measures the daemon around
it). The last line printed is one JSON object; recorded figures are in docs/BENCHMARKS.md.

    python -m daemon.tools.engine_bench --engine vllm|peft|openai|echo [--emails 64]
                                        [--serve | --engine-url URL]
    python -m daemon.tools.engine_bench --model-dir DIR [--adapter-dir DIR] [--device cuda]
                                        [--dtype bfloat16] [--emails 64]

``--engine E``: the engine replyd's settings configure (``REPLYD_*`` variables, as for
``replyd run``), with the registry's default adapters. It times, in one process and one after
the other: the analysis stage (sentiment + entities prompts, 2N requests) through the adapters,
the same prompts on the bare base model, and the reply stage (N requests, base model).
``--engine openai --serve`` starts a local vLLM OpenAI server with the default adapters
registered under their customization IDs (as a fleet member would run), on 127.0.0.1, and stops
it afterwards; without ``--serve`` it uses ``--engine-url``.

``--model-dir DIR``: the peft engine on that model folder, for hosts that have only
torch/transformers/peft (e.g. a GPU host without the rest of replyd's dependencies): the
reply-stage prompts, one at a time and as one batch, on the base model and through
``--adapter-dir``. This mode imports only models/ and handlers/, never aiokafka or pydantic.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from handlers import entities, reply, sentiment
from handlers.types import EmailText, Entities
from models.engines.base import AdapterInfo, Engine, GenerateRequest, GenerateResult
from models.synth.emails import SyntheticEmail, generate_emails

if TYPE_CHECKING:
    from daemon.settings import Settings

ENGINES = ("vllm", "peft", "openai", "echo")
DTYPES = ("float32", "bfloat16", "float16")
# The synthetic eval emails each mode draws (the seeds of the recorded figures).
ENGINE_SEED, MODEL_DIR_SEED = 5, 3
ADAPTER_ID = "bench-adapter"  # the name --adapter-dir is loaded under


def email_text(email: SyntheticEmail) -> EmailText:
    """A synthetic email as the pipeline sees it."""
    return EmailText(email.message_id, email.subject, email.body)


async def timed(engine: Engine, requests: Sequence[GenerateRequest]
                ) -> tuple[float, list[GenerateResult]]:
    """Seconds for one ``generate`` call over all of ``requests``, and its results."""
    started = time.perf_counter()
    results = await engine.generate(requests)
    return time.perf_counter() - started, results


# -- --engine: the engine replyd's settings configure ---------------------------------------------


async def measure_stages(engine: Engine, settings: Settings, n: int) -> dict[str, Any]:
    """Analysis stage with adapters, the same prompts on the base model, reply stage (base)."""
    from daemon.service.build import task_adapters

    texts = [email_text(e) for e in generate_emails(n, seed=ENGINE_SEED, split="eval")]
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
            seconds, results = await timed(engine, requests)
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
    import httpx

    from daemon.service.build import registry_for, task_adapters
    from daemon.tools.broker import free_port
    from models.base_model import DEFAULT_MODEL_NAME, resolve_base_model
    from models.engines.dtype import vllm_dtype

    registry = registry_for(settings)
    model = resolve_base_model(settings.base_model_path, settings.model_cache_dir)
    port = free_port()
    # One module per adapter: the joint analysis adapter answers three tasks.
    modules = [f"{cid}={registry.adapter_info(cid).path}"
               for cid in sorted(set(task_adapters(settings).values()))]
    command = [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", str(model),
               "--served-model-name", DEFAULT_MODEL_NAME, "--host", "127.0.0.1",
               "--port", str(port), "--dtype", vllm_dtype(settings.dtype),
               "--max-model-len", str(settings.max_model_len),
               "--max-num-seqs", str(settings.engine_max_num_seqs),
               "--block-size", str(settings.vllm_block_size), "--enable-lora",
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


def run_configured(engine: str, emails: int, engine_url: str | None, serve: bool
                   ) -> dict[str, Any]:
    """``--engine``: settings from the environment, the engine built as ``replyd run`` builds it."""
    from daemon.service.build import build_engine
    from daemon.settings import Settings

    # A whole batch is submitted at once; on a CPU server the last of 2N requests waits minutes,
    # which the daemon's default per-request timeout (sized for its smaller batches) rejects.
    overrides: dict[str, Any] = {"engine": engine, "max_batch_size": emails,
                                 "engine_timeout_s": 900.0}
    if engine == "openai" and not serve:
        overrides["engine_url"] = engine_url
    settings = Settings(**overrides)  # type: ignore[arg-type]
    if engine == "openai" and serve:
        with local_server(settings) as url:
            settings = settings.model_copy(update={"engine_url": url})
            return asyncio.run(measure_stages(build_engine(settings), settings, emails))
    return asyncio.run(measure_stages(build_engine(settings), settings, emails))


# -- --model-dir: the peft engine on a model folder, without replyd's settings --------------------


def reply_requests(n: int, adapter: str | None, max_tokens: int) -> list[GenerateRequest]:
    """The reply-stage prompts of ``n`` synthetic emails, with their true sentiment and entities."""
    requests = []
    for email in generate_emails(n, seed=MODEL_DIR_SEED, split="eval"):
        found = Entities(**{k: tuple(v) for k, v in email.entities.items()})
        requests.append(reply.build_request(email_text(email), email.sentiment, found, adapter,
                                            max_tokens))
    return requests


async def measure_model_dir(args: argparse.Namespace) -> dict[str, Any]:
    """Reply stage as one batch and one email at a time, base model and (given) the adapter."""
    from models.engines.peft_engine import PeftEngine

    adapters = {}
    if args.adapter_dir:
        adapters[ADAPTER_ID] = AdapterInfo(ADAPTER_ID, "reply", "lora", args.adapter_dir)
    engine = PeftEngine(Path(args.model_dir), adapters, dtype=args.dtype,
                        max_batch_size=args.emails, device=args.device)
    figures: dict[str, Any] = {"device": args.device, "dtype": args.dtype,
                               "emails": args.emails, "max_tokens": args.max_tokens,
                               "python": platform.python_version()}
    async with engine:
        base = reply_requests(args.emails, None, args.max_tokens)
        await engine.generate(base[:2])  # warm-up
        runs = [("base", base)]
        if adapters:
            runs.append(("adapter", reply_requests(args.emails, ADAPTER_ID, args.max_tokens)))
        for label, requests in runs:
            seconds, results = await timed(engine, requests)
            figures[f"{label}_batch_emails_per_s"] = round(len(requests) / seconds, 2)
            figures[f"{label}_batch_gen_tokens_per_s"] = round(
                sum(r.completion_tokens for r in results) / seconds, 1)
            singles = requests[: args.singles]
            started = time.perf_counter()
            for request in singles:
                await engine.generate([request])
            figures[f"{label}_single_emails_per_s"] = round(
                len(singles) / (time.perf_counter() - started), 2)
        if adapters:
            figures["adapter_vs_base"] = round(
                figures["adapter_batch_emails_per_s"] / figures["base_batch_emails_per_s"], 3)
        figures["batching_gain"] = round(
            figures["base_batch_emails_per_s"] / figures["base_single_emails_per_s"], 2)
    return figures


# -- command line ---------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m daemon.tools.engine_bench",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engine", choices=ENGINES,
                        help="The engine replyd's settings configure [--model-dir: peft].")
    parser.add_argument("--emails", type=int, default=64, help="Emails per batch [default: 64].")
    served = parser.add_argument_group("--engine openai")
    served.add_argument("--engine-url", help="An already running server.")
    served.add_argument("--serve", action="store_true", help="Start a local vLLM server.")
    local = parser.add_argument_group("--model-dir (peft engine, no replyd settings)")
    local.add_argument("--model-dir", type=Path, help="A Hugging Face model folder.")
    local.add_argument("--adapter-dir", help="A LoRA adapter folder (task reply) to compare.")
    local.add_argument("--device", default="cpu", help="[default: cpu]")
    local.add_argument("--dtype", default="float32", choices=DTYPES, help="[default: float32]")
    local.add_argument("--singles", type=int, default=8,
                       help="Emails run one at a time [default: 8].")
    local.add_argument("--max-tokens", type=int, default=32,
                       help="Reply tokens per email [default: 32].")
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.model_dir is not None:
        if args.engine not in (None, "peft"):
            parser.error("--model-dir runs the peft engine; drop --engine or use --engine peft")
        figures = asyncio.run(measure_model_dir(args))
    elif args.engine is None:
        parser.error("give --engine E, or --model-dir DIR for the peft engine on a model folder")
    elif args.adapter_dir is not None:
        parser.error("--adapter-dir needs --model-dir (with --engine, adapters come from the "
                     "registry)")
    else:
        figures = run_configured(args.engine, args.emails, args.engine_url, args.serve)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
