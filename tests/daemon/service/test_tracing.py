"""OpenTelemetry spans per email (daemon/service/tracing.py): in memory, over real OTLP/HTTP to
a collector stand-in on 127.0.0.1, and through the real broker with the echo engine."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiokafka.structs import ConsumerRecord
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from daemon.service import codec, tracing
from daemon.service.daemon import Daemon
from daemon.service.publisher import Output
from daemon.settings import Settings
from handlers.pipeline import BatchResult, Pipeline, PipelineConfig
from handlers.types import DraftText, EmailText, TaskFailure
from models.engines.echo import EchoEngine
from tests.daemon.kafka_helpers import email_bytes, read, send

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE}-{PARENT}-01".encode()
# What must never show in a span: the test email's fields.
BODY = "My Zentrix 9000 blender smells of smoke since Tuesday, says Quentin Marlowe"
SUBJECT = "Smoke from Zentrix order 77341"
SENDER = "quentin.marlowe@customers.example"
NAME = "Quentin Marlowe"


def _record(offset: int, headers: list[tuple[str, bytes]] | None = None) -> ConsumerRecord:
    value = json.dumps({"message_id": f"<m{offset}@x>", "from": SENDER, "subject": SUBJECT,
                        "body": BODY, "from_name": NAME}).encode()
    return ConsumerRecord("in", 2, offset, 0, 0, None, value, None, 0, len(value),
                          headers or [])


async def _real_result(n: int) -> BatchResult:
    """A real pipeline's result (echo engine) for ``n`` copies of the test email."""
    engine = EchoEngine()
    async with engine:
        return await Pipeline(engine, PipelineConfig()).run(
            [EmailText(f"<m{i}@x>", SUBJECT, BODY, NAME) for i in range(n)])


def _by_name(spans: list[ReadableSpan], name: str) -> list[ReadableSpan]:
    return [s for s in spans if s.name == name]


def _assert_no_content(values: list[str]) -> None:
    for value in values:
        for secret in (BODY, SUBJECT, SENDER, NAME, "Zentrix", "Quentin", "Marlowe"):
            assert secret not in value, f"{secret!r} in span attribute {value!r}"


async def test_spans_per_email_parent_attributes_and_no_content() -> None:
    result = await _real_result(2)
    assert isinstance(result.outcomes[0], DraftText)
    result.outcomes[0] = replace(result.outcomes[0], adapters={"sentiment": "sent-v1",
                                                               "reply": None})
    result.outcomes.append(TaskFailure("engine_output", "reply", f"bad output near {BODY}"))
    exporter = InMemorySpanExporter()
    tracer = tracing.EmailTracer(Settings(group_id="g1"), exporter)
    records = [_record(10, [("traceparent", TRACEPARENT), ("tracestate", b"k=v")]),
               _record(11), _record(12, [("traceparent", b"00-bad")]), _record(13)]
    outputs = [Output("drafts", None, b"{}", [], "draft"),
               Output("drafts", None, b"{}", [], "draft"),
               Output("dead", None, b"{}", [], "engine_output"),
               Output("drafts", None, b"{}", [], "skipped:auto_reply")]
    timing = tracing._Timing([0, 1, 2], result, started=100.0, ended=101.0)
    tracer.batch_done(records, outputs, timing, started=99.5, ended=101.2)
    tracer.finish(records[:3], committed=True)
    tracer.shutdown()  # record 13: never committed, ended here
    spans = list(exporter.get_finished_spans())

    emails = {s.attributes["messaging.kafka.offset"]: s for s in _by_name(spans, "replyd.email")}
    assert sorted(emails) == [10, 11, 12, 13]
    for offset, span in emails.items():
        assert span.context.span_id == int(codec.trace_id("in", 2, offset), 16)
        assert span.attributes["replyd.trace_id"] == codec.trace_id("in", 2, offset)
        assert span.attributes["replyd.batch.size"] == 4
    first = emails[10]
    assert f"{first.context.trace_id:032x}" == TRACE
    assert f"{first.parent.span_id:016x}" == PARENT and first.parent.is_remote
    assert first.context.trace_state.get("k") == "v"
    assert emails[11].parent is None and emails[12].parent is None  # a new trace each
    assert len({emails[o].context.trace_id for o in (10, 11, 12)}) == 3
    assert first.attributes["replyd.outcome"] == "drafted"
    assert first.attributes["replyd.adapter.sentiment"] == "sent-v1"
    assert first.attributes["replyd.adapter.reply"] == "base"
    tokens = result.outcomes[0].usage.prompt_tokens
    assert first.attributes["replyd.usage.prompt_tokens"] == tokens > 0
    assert first.attributes["replyd.needs_review"] is result.outcomes[0].needs_review
    assert first.attributes["replyd.committed"] is True
    assert (emails[12].attributes["replyd.outcome"], emails[12].attributes[
        "replyd.outcome.reason"]) == ("dead_letter", "engine_output")
    assert (emails[13].attributes["replyd.outcome"], emails[13].attributes[
        "replyd.outcome.reason"]) == ("skipped", "auto_reply")
    assert emails[13].attributes["replyd.committed"] is False

    children = {}
    for span in spans:
        if span.parent is not None and not span.parent.is_remote:
            children.setdefault(span.parent.span_id, []).append(span)
    names = sorted(s.name for s in children[first.context.span_id])
    assert names == ["replyd.parse", "replyd.pipeline", "replyd.publish"]
    (pipeline,) = _by_name(children[first.context.span_id], "replyd.pipeline")
    stages = sorted(s.name for s in children[pipeline.context.span_id])
    assert stages == sorted(f"replyd.{stage}" for stage in result.stage_seconds)
    assert all(pipeline.start_time <= s.start_time <= s.end_time <= pipeline.end_time
               for s in children[pipeline.context.span_id])
    assert sorted(s.name for s in children[emails[13].context.span_id]) == ["replyd.parse"]
    assert len(spans) == 4 + 3 * 3 + 1 + 3 * len(result.stage_seconds)
    _assert_no_content([str(v) for s in spans for v in (s.attributes or {}).values()]
                       + [s.name for s in spans])


def test_no_endpoint_means_no_tracing(settings: Settings) -> None:
    daemon = Daemon(settings, EchoEngine(), PipelineConfig())
    assert tracing.attach(daemon) is None
    assert daemon._outputs.__func__ is Daemon._outputs  # type: ignore[attr-defined]
    assert daemon.run.__func__ is Daemon.run  # type: ignore[attr-defined]


# --- a collector stand-in: OTLP/HTTP protobuf on 127.0.0.1 ------------------------------------
class _Collector(ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.requests: list[tuple[str, str, ExportTraceServiceRequest]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1/traces"

    def spans(self) -> list[tuple[str, Any]]:
        """(service.name, span) of every span received."""
        out = []
        for _, _, request in self.requests:
            for resource in request.resource_spans:
                service = next(a.value.string_value for a in resource.resource.attributes
                               if a.key == "service.name")
                out += [(service, s) for scope in resource.scope_spans for s in scope.spans]
        return out


class _Handler(BaseHTTPRequestHandler):
    server: _Collector

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        self.server.requests.append((self.path, self.headers["Content-Type"], request))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def collector() -> Iterator[_Collector]:
    server = _Collector()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def _attributes(span: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for a in span.attributes:
        kind = a.value.WhichOneof("value")
        out[a.key] = getattr(a.value, kind) if kind != "array_value" else [
            v.string_value for v in a.value.array_value.values]
    return out


async def test_spans_are_exported_over_otlp_http(collector: _Collector) -> None:
    result = await _real_result(1)
    settings = Settings(otel_endpoint=collector.url, otel_service_name="replyd-test")
    tracer = tracing.EmailTracer(settings)
    records = [_record(5, [("traceparent", TRACEPARENT)])]
    tracer.batch_done(records, [Output("drafts", None, b"{}", [], "draft")],
                      tracing._Timing([0], result, 1.0, 2.0), 0.5, 2.5)
    tracer.finish(records, committed=True)
    await asyncio.to_thread(tracer.shutdown)  # flushes

    assert {(path, kind) for path, kind, _ in collector.requests} == {
        ("/v1/traces", "application/x-protobuf")}
    spans = collector.spans()
    assert {service for service, _ in spans} == {"replyd-test"}
    (email,) = [s for _, s in spans if s.name == "replyd.email"]
    assert email.trace_id.hex() == TRACE and email.parent_span_id.hex() == PARENT
    assert email.span_id.hex() == codec.trace_id("in", 2, 5)
    assert _attributes(email)["replyd.outcome"] == "drafted"
    assert len(spans) == 4 + len(result.stage_seconds)
    assert all(s.trace_id.hex() == TRACE for _, s in spans)


async def test_every_email_through_the_broker_gets_its_spans(
        settings: Settings, collector: _Collector) -> None:
    settings = settings.model_copy(update={"otel_endpoint": collector.url, "max_batch_size": 4})
    good = [email_bytes(i, body=BODY) for i in range(6)]
    await send(settings, good, headers=[("traceparent", TRACEPARENT)])
    await send(settings, [b"{not json"])
    daemon = Daemon(settings, EchoEngine(), PipelineConfig())
    task = asyncio.create_task(daemon.run())
    try:
        drafts = await read(settings, settings.drafts_topic, 6)
        await read(settings, settings.deadletter_topic, 1)
    finally:
        daemon.request_stop()
        await asyncio.wait_for(task, 30)  # the exporter is flushed as run() ends

    spans = [s for _, s in collector.spans()]
    emails = {_attributes(s)["messaging.kafka.offset"]: s for s in spans
              if s.name == "replyd.email"}
    assert sorted(emails) == list(range(7))
    outcomes = {o: _attributes(s)["replyd.outcome"] for o, s in emails.items()}
    assert outcomes == {**{i: "drafted" for i in range(6)}, 6: "dead_letter"}
    assert all(_attributes(s)["replyd.committed"] is True for s in emails.values())
    for draft in drafts:  # the draft's traceparent names the email span as its parent
        _, trace_id, parent_id, _ = dict(draft.headers)["traceparent"].decode().split("-")
        (span,) = [s for s in emails.values() if s.span_id.hex() == parent_id]
        assert span.trace_id.hex() == trace_id == TRACE
        assert span.parent_span_id.hex() == PARENT
    publish = [s for s in spans if s.name == "replyd.publish"]
    assert {s.parent_span_id for s in publish} == {s.span_id for s in emails.values()}
    assert sum(s.name == "replyd.reply" for s in spans) == 6
    _assert_no_content([str(v) for s in spans for v in _attributes(s).values()])
    for s in spans:
        for value in map(str, _attributes(s).values()):
            assert not any(f"customer{i}@example.com" in value or f"Question {i}" in value
                           for i in range(6)), value
