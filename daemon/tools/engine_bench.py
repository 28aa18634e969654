"""A Kafka-free engine benchmark, for machines that have only torch/transformers/peft (e.g. a GPU
host without the rest of replyd's dependencies): the pipeline's reply-stage prompts for N
synthetic emails, one at a time and as one batch, on the base model and through an adapter.

    python -m daemon.tools.engine_bench --model-dir DIR [--device cuda] [--adapter-dir DIR] [--emails 64]

It imports only models/ and handlers/, never aiokafka or pydantic. The last line is JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import time
from pathlib import Path

from handlers import reply
from handlers.types import EmailText, Entities
from models.engines.base import AdapterInfo, GenerateRequest
from models.engines.peft_engine import PeftEngine
from models.synth.emails import generate_emails


def reply_requests(n: int, adapter: str | None, max_tokens: int) -> list[GenerateRequest]:
    requests = []
    for email in generate_emails(n, seed=3, split="eval"):
        text = EmailText(email.message_id, email.subject, email.body)
        found = Entities(**{k: tuple(v) for k, v in email.entities.items()})
        requests.append(reply.build_request(text, email.sentiment, found, adapter, max_tokens))
    return requests


async def measure(args: argparse.Namespace) -> dict[str, object]:
    adapters = {}
    if args.adapter_dir:
        adapters["bench-adapter"] = AdapterInfo("bench-adapter", "reply", "lora", args.adapter_dir)
    engine = PeftEngine(Path(args.model_dir), adapters, dtype=args.dtype,
                        max_batch_size=args.emails, device=args.device)
    figures: dict[str, object] = {"device": args.device, "dtype": args.dtype,
                                  "emails": args.emails, "max_tokens": args.max_tokens,
                                  "python": platform.python_version()}
    async with engine:
        base = reply_requests(args.emails, None, args.max_tokens)
        await engine.generate(base[:2])  # warm-up
        for label, requests in [("base", base)] + (
            [("adapter", reply_requests(args.emails, "bench-adapter", args.max_tokens))]
            if adapters else []
        ):
            started = time.perf_counter()
            results = await engine.generate(requests)
            seconds = time.perf_counter() - started
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
                figures["adapter_batch_emails_per_s"] / figures["base_batch_emails_per_s"], 3)  # type: ignore[operator]
        figures["batching_gain"] = round(
            figures["base_batch_emails_per_s"] / figures["base_single_emails_per_s"], 2)  # type: ignore[operator]
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model-dir", required=True)
    parser.add_argument("--adapter-dir")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "float16"])
    parser.add_argument("--emails", type=int, default=64)
    parser.add_argument("--singles", type=int, default=8)
    parser.add_argument("--max-tokens", type=int, default=32)
    print(json.dumps(asyncio.run(measure(parser.parse_args()))))


if __name__ == "__main__":
    main()
