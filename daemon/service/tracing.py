"""Optional OpenTelemetry spans per email, exported over OTLP/HTTP (``otel_endpoint``).

Off by default, and then :func:`attach` returns at once: nothing here imports OpenTelemetry,
and the daemon runs exactly as without this module. On, every consumed record gets one
``replyd.email`` span, from the moment the worker takes its batch until its output is committed
(or abandoned in a rebalance, or left over at shutdown), with children:

* ``replyd.parse``: decoding the batch;
* ``replyd.pipeline``: the batch's engine work (retries through outages included), with one
  child per stage the pipeline timed (``replyd.sentiment+entities``, ``replyd.reply``,
  ``replyd.persona``). Stages run per batch: their durations are the batch's, exact; their
  positions are laid back to back ending where the pipeline ended (the untimed preparation and
  checks between stages are not shown apart);
* ``replyd.publish``: from the end of inference until the offsets are committed.

Its parent is the record's ``traceparent`` when it had exactly one valid one (the same rule as
the outputs' headers, codec.trace_headers), else it starts a trace. Its span id is the email's
``replyd-trace-id``, so the output's child ``traceparent`` names this very span as its parent.

Attributes are coordinates, counts, adapter IDs and reason codes: never a body, subject,
address or name (tests/daemon/service/test_tracing.py checks it). The daemon hook is two lines:
:func:`attach` wraps a few of the daemon's own methods on the instance (listed there).
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from daemon.extras import MissingExtraError, install_hint
from daemon.service import codec
from daemon.service.publisher import Batch, Output, Record
from daemon.settings import Settings
from handlers.pipeline import BatchResult
from handlers.types import DraftText

if TYPE_CHECKING:  # the extra's types, for the annotations only
    from opentelemetry.sdk.trace import Span, TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter

log = logging.getLogger(__name__)

# The span id the next span gets (the email span's: its replyd-trace-id); None = random.
_NEXT_SPAN_ID: contextvars.ContextVar[int | None] = contextvars.ContextVar(
    "replyd_next_span_id", default=None)


def attach(daemon: Any, exporter: SpanExporter | None = None) -> EmailTracer | None:
    """Trace ``daemon`` (a ``daemon.service.daemon.Daemon``) when its settings name an
    ``otel_endpoint`` (or a test passes ``exporter``); otherwise do nothing at all.

    Wraps, on the instance: ``_outputs`` (a batch decoded and drafted: the spans start),
    ``_runner.run`` (the pipeline's result and time), ``_infer`` (which records reached the
    pipeline), ``_published`` / ``_current`` / ``_abandon`` (spans end: committed or given up)
    and ``run`` (the exporter is flushed and shut down when the daemon stops)."""
    settings: Settings = daemon.settings
    if settings.otel_endpoint is None and exporter is None:
        return None
    tracer = EmailTracer(settings, exporter)
    tracer.wrap(daemon)
    return tracer


def _load_sdk() -> Any:
    """The OpenTelemetry SDK modules, or one line naming the ``otel`` extra."""
    try:
        from opentelemetry import trace
        from opentelemetry.sdk import resources
        from opentelemetry.sdk import trace as sdk_trace
        from opentelemetry.sdk.trace import export
    except ModuleNotFoundError as exc:
        raise MissingExtraError(
            f"tracing (otel_endpoint) needs {exc.name}, not installed: {install_hint('otel')}"
        ) from exc
    return trace, resources, sdk_trace, export


def _id_generator(base: type) -> Any:
    """The SDK's random ids, except a span id set in ``_NEXT_SPAN_ID`` (used once)."""

    class _Chosen(base):  # type: ignore[misc, valid-type]
        def generate_span_id(self) -> int:
            chosen = _NEXT_SPAN_ID.get()
            if chosen is None:
                return int(super().generate_span_id())
            _NEXT_SPAN_ID.set(None)
            return chosen

    return _Chosen()


@dataclass(slots=True)
class _Timing:
    """What one batch's inference looked like (perf_counter seconds)."""

    rows: list[int]  # indexes of the records that reached the pipeline, in order
    result: BatchResult | None = None
    started: float = 0.0
    ended: float = 0.0


@dataclass(slots=True)
class _Pending:
    """An email span waiting for its output's commit."""

    record: Record  # kept so that id(record) stays this record's while pending
    span: Span
    publish_start_ns: int


class EmailTracer:
    """Creates and ends the spans; one per daemon (its own provider, never the global one)."""

    def __init__(self, settings: Settings, exporter: SpanExporter | None = None) -> None:
        trace, resources, sdk_trace, export = _load_sdk()
        self._trace = trace
        if exporter is None:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            exporter = OTLPSpanExporter(endpoint=settings.otel_endpoint)
        self.provider: TracerProvider = sdk_trace.TracerProvider(
            resource=resources.Resource.create({"service.name": settings.otel_service_name}),
            id_generator=_id_generator(sdk_trace.RandomIdGenerator),
        )
        self.provider.add_span_processor(export.BatchSpanProcessor(exporter))
        self._tracer = self.provider.get_tracer("replyd")
        self._settings = settings
        # The batch's timing, per task: the daemon runs several batches at once.
        self._timing: contextvars.ContextVar[_Timing | None] = contextvars.ContextVar(
            "replyd_batch_timing", default=None)
        self._pending: dict[int, _Pending] = {}
        # perf_counter → epoch nanoseconds, for spans placed after the fact.
        self._epoch_offset_ns = time.time_ns() - int(time.perf_counter() * 1e9)

    def _ns(self, perf: float) -> int:
        return self._epoch_offset_ns + int(perf * 1e9)

    # --- the hook ------------------------------------------------------------------------------
    def wrap(self, daemon: Any) -> None:
        """Wrap the daemon's methods on the instance (see :func:`attach`)."""
        outputs, infer, runner_run = daemon._outputs, daemon._infer, daemon._runner.run
        published, current, abandon, run = (daemon._published, daemon._current,
                                            daemon._abandon, daemon.run)

        async def traced_outputs(records: Sequence[Record]) -> list[Output]:
            started = time.perf_counter()
            self._timing.set(None)
            out = await outputs(records)
            self.batch_done(records, out, self._timing.get(), started, time.perf_counter())
            return out

        async def traced_infer(records: Sequence[Record], valid: list[Any], out: list[Any]) -> None:
            self._timing.set(_Timing([i for i, _ in valid]))
            await infer(records, valid, out)

        async def traced_runner(texts: Sequence[Any]) -> BatchResult:
            started = time.perf_counter()
            result = await runner_run(texts)
            timing = self._timing.get()
            if timing is not None:
                timing.result, timing.started, timing.ended = result, started, time.perf_counter()
            return result

        def traced_published(batch: Batch) -> None:
            published(batch)
            self.finish(batch.records, committed=True)

        def traced_current(batch: Batch) -> Batch:
            kept = current(batch)
            if kept is not batch:
                left = {id(r) for r in kept.records}
                self.finish([r for r in batch.records if id(r) not in left], committed=False)
            return kept

        def traced_abandon(batch: Batch) -> None:
            abandon(batch)
            self.finish(batch.records, committed=False)

        async def traced_run() -> None:
            try:
                await run()
            finally:
                await asyncio.to_thread(self.shutdown)

        daemon._outputs, daemon._infer, daemon._runner.run = (
            traced_outputs, traced_infer, traced_runner)
        daemon._published, daemon._current, daemon._abandon, daemon.run = (
            traced_published, traced_current, traced_abandon, traced_run)

    # --- spans ---------------------------------------------------------------------------------
    def batch_done(self, records: Sequence[Record], outputs: Sequence[Output],
                   timing: _Timing | None, started: float, ended: float) -> None:
        """Start every record's email span (and end its parse and pipeline children)."""
        self._epoch_offset_ns = time.time_ns() - int(time.perf_counter() * 1e9)  # no drift
        drafted: dict[int, DraftText] = {}
        if timing is not None and timing.result is not None:
            for row, outcome in zip(timing.rows, timing.result.outcomes, strict=True):
                if isinstance(outcome, DraftText):
                    drafted[row] = outcome
        parse_end = timing.started if timing is not None and timing.result else ended
        in_pipeline = set(timing.rows) if timing is not None and timing.result else set()
        for row, (record, output) in enumerate(zip(records, outputs, strict=True)):
            span = self._email_span(record, output, len(records), drafted.get(row), started)
            context = self._trace.set_span_in_context(span)
            self._child("replyd.parse", context, started, parse_end)
            if row in in_pipeline:
                self._pipeline_spans(context, timing)  # type: ignore[arg-type]
            self._pending[id(record)] = _Pending(record, span, self._ns(ended))

    def _email_span(self, record: Record, output: Output, batch_size: int,
                    draft: DraftText | None, started: float) -> Span:
        span_id = codec.trace_id(record.topic, record.partition, record.offset)
        _NEXT_SPAN_ID.set(int(span_id, 16) or 1)  # as codec.child_traceparent: never all zero
        try:
            span = self._tracer.start_span(
                "replyd.email", context=self._parent(record), start_time=self._ns(started),
                kind=self._trace.SpanKind.CONSUMER,
                attributes=email_attributes(record, output, batch_size, span_id,
                                            self._settings.group_id, draft))
        finally:
            _NEXT_SPAN_ID.set(None)
        return span

    def _parent(self, record: Record) -> Any:
        """A context holding the record's remote parent, or None (a new trace)."""
        parent = incoming_parent(record.headers)
        if parent is None:
            return None
        trace_id, span_id, flags, state = parent
        from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags, TraceState

        states = TraceState.from_header([state]) if state else None
        remote = SpanContext(int(trace_id, 16), int(span_id, 16), is_remote=True,
                             trace_flags=TraceFlags(int(flags, 16)), trace_state=states)
        return self._trace.set_span_in_context(NonRecordingSpan(remote))

    def _child(self, name: str, context: Any, start: float, end: float,
               attributes: dict[str, Any] | None = None) -> Any:
        span = self._tracer.start_span(name, context=context, start_time=self._ns(start),
                                       attributes=attributes)
        span.end(end_time=self._ns(max(start, end)))
        return span

    def _pipeline_spans(self, context: Any, timing: _Timing) -> None:
        result = timing.result
        assert result is not None
        pipeline = self._tracer.start_span(
            "replyd.pipeline", context=context, start_time=self._ns(timing.started),
            attributes={"replyd.batch.emails": len(timing.rows)})
        inner = self._trace.set_span_in_context(pipeline)
        stages = list(result.stage_seconds.items())
        at = max(timing.started, timing.ended - sum(seconds for _, seconds in stages))
        for stage, seconds in stages:
            self._child(f"replyd.{stage}", inner, at, at + seconds,
                        {"replyd.stage": stage, "replyd.stage.duration_ms": seconds * 1000})
            at += seconds
        pipeline.end(end_time=self._ns(timing.ended))

    def finish(self, records: Sequence[Record], committed: bool) -> None:
        """End the email spans of ``records``: with a publish child when committed."""
        now = time.time_ns()
        for record in records:
            pending = self._pending.pop(id(record), None)
            if pending is None:
                continue
            if committed:
                context = self._trace.set_span_in_context(pending.span)
                span = self._tracer.start_span("replyd.publish", context=context,
                                               start_time=pending.publish_start_ns)
                span.end(end_time=now)
            pending.span.set_attribute("replyd.committed", committed)
            pending.span.end(end_time=now)

    def shutdown(self) -> None:
        """End what is still pending (not committed), then flush and stop the exporter."""
        left = [p.record for p in self._pending.values()]
        self.finish(left, committed=False)
        self.provider.shutdown()
        log.info("tracing stopped", extra={"unfinished_spans": len(left)})


def incoming_parent(headers: Sequence[codec.InHeader] | None) -> tuple[str, str, str, str] | None:
    """(trace id, parent span id, flags, tracestate) of the record's one valid ``traceparent``,
    by the rule the outputs' headers follow (codec.trace_headers); None when there is none."""
    continued = codec.trace_headers(headers, "1" * 16)
    if not continued:
        return None
    raw = next(v for name, v in headers or () if name.lower() == codec.TRACEPARENT_HEADER)
    _, trace_id, span_id, flags = raw.decode()[:55].split("-")  # type: ignore[union-attr]
    state = dict(continued).get(codec.TRACESTATE_HEADER, b"").decode("ascii", "replace")
    return trace_id, span_id, flags, state


def outcome_of(output: Output) -> tuple[str, str]:
    """(outcome, reason) of an output: drafted, skipped (its skip reason) or dead_letter (its
    dead-letter reason): codes, never content."""
    if output.kind == "draft":
        return "drafted", ""
    if output.kind.startswith("skipped:"):
        return "skipped", output.kind.split(":", 1)[1]
    return "dead_letter", output.kind


def email_attributes(record: Record, output: Output, batch_size: int, trace_id: str,
                     group_id: str, draft: DraftText | None) -> dict[str, Any]:
    """The email span's attributes: where the record came from, what became of it, what it
    cost. No field of the email itself."""
    outcome, reason = outcome_of(output)
    attributes: dict[str, Any] = {
        "messaging.system": "kafka",
        "messaging.operation.type": "process",
        "messaging.destination.name": record.topic,
        "messaging.destination.partition.id": str(record.partition),
        "messaging.kafka.offset": record.offset,
        "messaging.consumer.group.name": group_id,
        "replyd.trace_id": trace_id,
        "replyd.batch.size": batch_size,
        "replyd.outcome": outcome,
        "replyd.output.topic": output.topic,
    }
    if reason:
        attributes["replyd.outcome.reason"] = reason
    if draft is not None:
        attributes["replyd.needs_review"] = draft.needs_review
        if draft.review_reasons:
            attributes["replyd.review_reasons"] = list(draft.review_reasons)
        attributes["replyd.usage.prompt_tokens"] = draft.usage.prompt_tokens
        attributes["replyd.usage.completion_tokens"] = draft.usage.completion_tokens
        for task, adapter in sorted(draft.adapters.items()):
            attributes[f"replyd.adapter.{task}"] = adapter or "base"
    return attributes

