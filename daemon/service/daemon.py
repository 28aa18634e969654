"""The daemon loop: consume → decode → batch → pipeline → publish → commit.

Three tasks share the work so that fetching, inference and acknowledgements overlap:

* the **fetcher** polls Kafka, forms micro-batches (``max_batch_size`` / ``max_wait_ms``) and
  pauses the partitions while ``max_inflight_emails`` are uncommitted (polls go on);
* the **worker** runs up to ``max_concurrent_batches`` batches through the pipeline at once,
  merging those that waited (ordered.py), and sends their outputs in fetch order;
* the **committer** (at-least-once) waits for a batch's acknowledgements, then commits its
  offsets, in batch order; exactly-once, the worker puts the outputs and the offsets in one Kafka
  transaction per input partition instead (zombie fencing: transactions.py).

No offset is committed before what its record produced is acknowledged: a crash replays work
(same idempotency keys) but never loses an email. Records of partitions revoked in a rebalance
are abandoned uncommitted after ``rebalance_drain_timeout_s``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter, defaultdict
from collections.abc import Sequence

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.errors import KafkaConnectionError, KafkaError

from daemon.contracts import IncomingEmail
from daemon.service import codec, outputs, shadow, tracing
from daemon.service.adapters_reload import AdapterReloader
from daemon.service.gc_tuning import tune_gc
from daemon.service.health import HealthServer
from daemon.service.isolate import BatchRunner
from daemon.service.metered import MeteredEngine
from daemon.service.metrics import LoopStats, Metrics, observe_many
from daemon.service.ordered import Coalescing, in_order
from daemon.service.outage import EngineOutage
from daemon.service.publisher import Batch, Output, Publisher, Record
from daemon.settings import Settings
from handlers.pipeline import Pipeline, PipelineConfig
from handlers.types import TaskFailure
from models.engines.base import Engine
from models.errors import EngineDeadError, EngineError
from models.retry import Backoff

log = logging.getLogger(__name__)


class _StoppedDuringStart(Exception):
    """A stop was requested while a Kafka client was still starting (joining the group)."""


class _Rebalance(ConsumerRebalanceListener):
    def __init__(self, daemon: Daemon) -> None:
        self._daemon = daemon

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        await self._daemon._on_revoked(revoked)

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        await self._daemon._on_assigned(assigned)


class Daemon:
    """One replyd instance: a consumer-group member, its engine, its producer, its probes."""

    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        pipeline_config: PipelineConfig,
        metrics: Metrics | None = None,
        tune_gc: bool = False,
        reply_engine: Engine | None = None,
    ) -> None:
        """``tune_gc``: apply :func:`tune_gc` once the engine has started (for a process that
        serves; tests leave the collector alone). ``reply_engine``: a second engine that writes
        the replies (``reply_engine_url``); both must be up for the daemon to be ready."""
        self.settings = settings
        self._tune_gc = tune_gc
        self.engine = engine
        self.reply_engine = reply_engine
        self.metrics = metrics or Metrics()
        # Every engine call of the pipeline is recorded (batch size, timings, queue depth).
        self.pipeline = Pipeline(
            MeteredEngine(engine, self.metrics),
            pipeline_config,
            reply_engine=MeteredEngine(reply_engine, self.metrics) if reply_engine else None,
        )
        if reply_engine is not None:
            self.metrics.watch_queue_depth(
                lambda: engine.queue_depth() + reply_engine.queue_depth()
            )
        self.should_exit = False
        self.stats = LoopStats()
        self._stop_requested = asyncio.Event()
        self.health: HealthServer | None = None
        self._exactly_once = settings.processing_guarantee == "exactly_once"
        self._consumer: AIOKafkaConsumer | None = None
        self._publisher: Publisher | None = None
        self._last_progress = time.monotonic()
        self._batches: asyncio.Queue[Batch | None] = asyncio.Queue()
        self._sent: asyncio.Queue[Batch | None] = asyncio.Queue()
        self._inflight = 0
        self._drained = asyncio.Event()
        self._drained.set()
        self._paused = False
        self._epochs: defaultdict[TopicPartition, int] = defaultdict(int)
        self._outage = EngineOutage(settings.engine_retry_deadline_s,
                                    settings.engine_retry_initial_backoff_s, self._engines_healthy)
        self._runner = BatchRunner(  # holds a batch through outages, isolates emails that fail
            self.pipeline.run, [e for e in (engine, reply_engine) if e], self._outage,
            settings.engine_retry_deadline_s, settings.engine_retry_initial_backoff_s,
            self._stop_requested)
        tracing.attach(self)  # otel_endpoint: spans per email (tracing.py); unset: nothing
        self._shadow = shadow.Shadow(settings, engine, self.pipeline, self.metrics)

    @property
    def broker_connected(self) -> bool:
        """Whether the Kafka clients have started and the last send or commit went through."""
        return self._publisher is not None and self._publisher.broker_connected

    # --- lifecycle ---------------------------------------------------------------------------
    def request_stop(self) -> None:
        """Stop fetching; fetched batches finish and commit (bounded by ``shutdown_timeout_s``)."""
        self.should_exit = True
        self._stop_requested.set()

    async def run(self) -> None:
        """Run until ``request_stop``. Raises ``EngineDeadError`` (without committing the work in
        flight) when the engine dies, so the orchestrator restarts the process."""
        s = self.settings
        async with contextlib.AsyncExitStack() as stack:
            self.health = HealthServer(
                s.metrics_host, s.metrics_port, self.metrics, self._live_checks, self._ready_checks
            )
            await stack.enter_async_context(self.health)
            await stack.enter_async_context(self.engine)
            if self.reply_engine is not None:
                await stack.enter_async_context(self.reply_engine)
            self.metrics.watch_engine(self._engine_ready)
            self.metrics.set_build(self.engine.name, self.engine.base_model)
            if self._tune_gc:
                tune_gc()
            await stack.enter_async_context(
                AdapterReloader(s, self.engine, self.pipeline, self.metrics, self._shadow))
            self._publisher = publisher = Publisher(s, self.metrics)
            stack.push_async_callback(publisher.stop)
            self._consumer = AIOKafkaConsumer(
                **s.kafka_common(),
                group_id=s.group_id,
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                isolation_level="read_committed" if self._exactly_once else "read_uncommitted",
                max_poll_records=s.max_batch_size,
                session_timeout_ms=s.session_timeout_ms,
                heartbeat_interval_ms=s.heartbeat_interval_ms,
                max_poll_interval_ms=s.max_poll_interval_ms,
                max_partition_fetch_bytes=max(1_048_576, s.max_body_bytes + 65_536),
            )
            self._consumer.subscribe([s.input_topic], listener=_Rebalance(self))
            stack.push_async_callback(self._consumer.stop)
            try:
                await self._start_with_backoff(publisher)
                await self._start_with_backoff(self._consumer)
            except _StoppedDuringStart:
                log.info("stopped before the first fetch")
                return
            publisher.broker_connected = True
            log.info(
                "daemon started",
                extra={"engine": self.engine.name, "group": s.group_id, "topic": s.input_topic,
                       "guarantee": s.processing_guarantee},
            )
            await self._run_tasks()
        log.info("daemon stopped")

    async def _run_tasks(self) -> None:
        """Fetcher → worker → committer; the first failure stops all three."""
        tasks = [
            asyncio.create_task(self._fetch_loop(), name="replyd-fetch"),
            asyncio.create_task(self._work_loop(), name="replyd-work"),
            asyncio.create_task(self._commit_loop(), name="replyd-commit"),
        ]
        try:
            pending = set(tasks)
            while pending:
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_EXCEPTION)
                for task in done:
                    if task.exception() is not None:
                        raise task.exception()  # type: ignore[misc]
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _start_with_backoff(self, client: AIOKafkaConsumer | Publisher) -> None:
        """Start a client, retrying while the broker is unreachable; a stop request wins."""
        backoff = Backoff(0.5)
        while True:
            starting = asyncio.ensure_future(client.start())
            stopping = asyncio.ensure_future(self._stop_requested.wait())
            await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
            stopping.cancel()
            if not starting.done():
                starting.cancel()
                with contextlib.suppress(asyncio.CancelledError, KafkaError):
                    await starting
                raise _StoppedDuringStart
            try:
                starting.result()
                return
            except KafkaConnectionError as exc:
                with contextlib.suppress(KafkaError):
                    await client.stop()
                if self.should_exit:
                    raise _StoppedDuringStart from exc
                log.warning("broker unreachable, retrying")
                await backoff.wait(self._stop_requested)

    # --- fetching and backpressure -----------------------------------------------------------
    async def _fetch_loop(self) -> None:
        while not self.should_exit:
            records, epochs = await self._fetch_batch()
            if self._inflight == 0:
                # Idle and polling is progress; with work in flight only finished work counts,
                # so a batch stuck in the engine turns /healthz red even though polls go on.
                self._last_progress = time.monotonic()
            if records:
                if self.stats.first_fetch_at is None:
                    self.stats.first_fetch_at = time.perf_counter()
                self._hold(len(records))
                self._batches.put_nowait(Batch(records, epochs))
        await self._batches.put(None)

    async def _fetch_batch(self) -> tuple[list[Record], dict[TopicPartition, int]]:
        """Up to ``max_batch_size`` records: wait for the first, then at most ``max_wait_ms``;
        with each partition's epoch when its records came (a seek since then makes them stale)."""
        consumer = self._consumer
        assert consumer is not None
        s = self.settings
        records: list[Record] = []
        epochs: dict[TopicPartition, int] = {}
        batch_deadline: float | None = None
        while len(records) < s.max_batch_size and not self.should_exit:
            if batch_deadline is None:
                timeout_ms = 500  # short, so a stop request is seen quickly
            else:
                timeout_ms = int((batch_deadline - time.monotonic()) * 1000)
                if timeout_ms <= 0:
                    break
            fetched = await consumer.getmany(
                timeout_ms=timeout_ms, max_records=s.max_batch_size - len(records)
            )
            for tp, batch in fetched.items():
                if epochs.setdefault(tp, self._epochs[tp]) != self._epochs[tp]:  # reassigned
                    records = [r for r in records if (r.topic, r.partition) != tuple(tp)]
                    epochs[tp] = self._epochs[tp]
                records.extend(batch)
                self._record_lag(tp, batch[-1].offset)
            if records and batch_deadline is None:
                batch_deadline = time.monotonic() + s.max_wait_ms / 1000
            if not records:
                break
        return records, epochs

    def _record_lag(self, tp: TopicPartition, last_offset: int) -> None:
        assert self._consumer is not None
        highwater = self._consumer.highwater(tp)
        if highwater is not None:
            lag = max(0, highwater - last_offset - 1)
            self.metrics.consumer_lag.labels(tp.topic, str(tp.partition)).set(lag)

    def _hold(self, n: int) -> None:
        """Count fetched records; pause every partition when too many are uncommitted."""
        self._inflight += n
        self._drained.clear()
        self.metrics.inflight.set(self._inflight)
        if not self._paused and self._inflight >= self.settings.max_inflight_emails:
            assert self._consumer is not None
            self._consumer.pause(*self._consumer.assignment())
            self._paused = True
            log.info("backpressure: partitions paused", extra={"inflight": self._inflight})

    def _release(self, n: int) -> None:
        self._inflight -= n
        self.metrics.inflight.set(self._inflight)
        if self._paused and self._inflight <= self.settings.max_inflight_emails // 2:
            assert self._consumer is not None
            self._consumer.resume(*self._consumer.assignment())
            self._paused = False
            log.info("backpressure: partitions resumed", extra={"inflight": self._inflight})
        if self._inflight == 0:
            self._drained.set()

    # --- rebalances --------------------------------------------------------------------------
    async def _on_revoked(self, revoked: set[TopicPartition]) -> None:
        """Let in-flight work finish and commit for a while; abandon the rest uncommitted."""
        if not revoked:
            return
        self.metrics.rebalances.inc()
        try:
            await asyncio.wait_for(self._drained.wait(), self.settings.rebalance_drain_timeout_s)
        except TimeoutError:
            log.warning(
                "rebalance: abandoning uncommitted work of revoked partitions",
                extra={"inflight": self._inflight},
            )
        for tp in revoked:
            self._epochs[tp] += 1  # outputs of records fetched before now are not published
            with contextlib.suppress(KeyError):  # never fetched from: no series to remove
                self.metrics.consumer_lag.remove(tp.topic, str(tp.partition))
        # A transaction under way finishes, or is given up, before the partitions change hands.
        if self._publisher is not None:
            await self._publisher.revoke(revoked)

    async def _on_assigned(self, assigned: set[TopicPartition]) -> None:
        """Exactly-once: the partitions' producers start (fencing their last owners), then the
        consumer seeks to the offsets as that settled them; what was fetched before is stale."""
        consumer = self._consumer
        if assigned and consumer is not None and (self._paused or self._exactly_once):
            consumer.pause(*assigned)
        if self._exactly_once and assigned and self._publisher and consumer:
            await self._publisher.assign(assigned, consumer, self._stop_requested)
            for tp in assigned:
                self._epochs[tp] += 1
            if not self._paused:
                consumer.resume(*assigned)
        log.info("partitions assigned",
                 extra={"partitions": sorted(tp.partition for tp in assigned)})

    def _current(self, batch: Batch) -> Batch:
        """The batch without records whose partition was revoked since they were fetched."""
        keep = [
            r
            for r in batch.records
            if self._epochs[TopicPartition(r.topic, r.partition)]
            == batch.epochs[TopicPartition(r.topic, r.partition)]
        ]
        if len(keep) == len(batch.records):
            return batch
        self.metrics.abandoned.inc(len(batch.records) - len(keep))
        self._release(len(batch.records) - len(keep))
        kept = {id(r) for r in keep}
        outputs = [o for r, o in zip(batch.records, batch.outputs, strict=True) if id(r) in kept]
        return Batch(keep, batch.epochs, outputs)

    def _abandon(self, batch: Batch) -> None:
        """Records given up uncommitted (their partition's new owner replays them)."""
        self.metrics.abandoned.inc(len(batch.records))
        self._release(len(batch.records))

    # --- inference and publishing ------------------------------------------------------------
    async def _work_loop(self) -> None:
        s = self.settings
        fetched = Coalescing(self._batches, lambda a, b: a.merged(b, s.max_batch_size))
        async for batch, done in in_order(fetched.next, self._batch_outputs,
                                          s.max_concurrent_batches):
            batch.outputs = done
            self._last_progress = time.monotonic()
            publisher = self._publisher
            assert publisher is not None
            if self._exactly_once:
                published = await publisher.publish_transaction(
                    batch, self._current, self._abandon)
                if published.records:
                    self._published(published)
            else:
                batch = self._current(batch)
                await publisher.send(batch)  # a failed send is resent by the committer
                self._sent.put_nowait(batch)
        await self._sent.put(None)

    async def _batch_outputs(self, batch: Batch) -> list[Output]:
        return await self._outputs(batch.records)  # looked up per call: tracing wraps it

    async def _outputs(self, records: Sequence[Record]) -> list[Output]:
        """A draft or a dead letter for every record, in order."""
        s = self.settings
        m = self.metrics
        m.emails_consumed.inc(len(records))
        started = time.perf_counter()
        outputs: list[Output | None] = [None] * len(records)
        valid: list[tuple[int, IncomingEmail]] = []
        args = ([(r.value, r.headers) for r in records], s.max_body_bytes,
                s.input_content_type, s.skip_bulk_text, s.skip_spam_verdict)
        big = sum(len(r.value or b"") for r in records) > codec.INLINE_DECODE_BYTES
        all_decoded = await asyncio.to_thread(codec.decode_all, *args) if big \
            else codec.decode_all(*args)
        for i, (record, decoded) in enumerate(zip(records, all_decoded, strict=True)):
            if isinstance(decoded, codec.Rejected):
                outputs[i] = self._dead(record, decoded.reason, decoded.error)
            elif isinstance(decoded, codec.Skipped):
                outputs[i] = self._skipped(record, decoded)
            else:
                valid.append((i, decoded))
        m.stage_latency.labels("parse").observe(time.perf_counter() - started)
        if valid:
            m.batch_size.observe(len(valid))
            m.unknown_fields.inc(sum(bool(email.model_extra) for _, email in valid))  # ignored
            await self._infer(records, valid, outputs)
        assert all(o is not None for o in outputs)
        return outputs  # type: ignore[return-value]

    async def _infer(
        self,
        records: Sequence[Record],
        valid: list[tuple[int, IncomingEmail]],
        outputs: list[Output | None],
    ) -> None:
        texts = [codec.email_text(email) for _, email in valid]
        # The one place engine errors are retried (the pipeline raises them as they come): the
        # batch is held through outages; emails the engine alone fails are isolated (isolate.py).
        try:
            result = await self._runner.run(texts)
        except EngineDeadError:
            raise
        except EngineError as exc:  # not retriable: e.g. a 2xx that is not a completion
            log.error("engine failed on the batch; dead-lettering it",
                      extra={"error_type": type(exc).__name__, "emails": len(valid)})
            for i, _ in valid:
                outputs[i] = self._dead(records[i], "engine_error", f"engine error: {exc}")
            return
        self.metrics.record_batch(result, self.pipeline.config, len(valid))
        self._shadow.offer(texts, result)  # sampled emails on candidate adapters, in background
        debug = log.isEnabledFor(logging.DEBUG)
        encoder: codec.DraftEncoder | None = None
        for (i, email), outcome in zip(valid, result.outcomes, strict=True):
            if isinstance(outcome, TaskFailure):
                error = f"{outcome.task}: {outcome.error}"
                outputs[i] = self._dead(records[i], outcome.reason, error)
            else:
                if encoder is None:  # what the batch's drafts share, encoded once
                    encoder = codec.DraftEncoder(
                        outcome.adapters, outcome.timings_ms, self.engine.base_model
                    )
                key = email.message_id.encode()
                record = records[i]
                trace = codec.trace_id(record.topic, record.partition, record.offset)
                if debug:
                    log.debug("drafted", extra={"trace_id": trace, "sentiment": outcome.sentiment,
                                                "needs_review": outcome.needs_review})
                value = encoder.encode(email, outcome)
                headers = codec.draft_headers(record.headers, key, trace)
                if codec.record_bytes(key, value, headers) > self.settings.max_record_bytes:
                    # Never seen (a draft is a few KiB), but never sent either: the broker
                    # would refuse it and stop the daemon.
                    outputs[i] = self._dead(record, "engine_output", f"draft of {len(value)} "
                                            "bytes exceeds max_record_bytes")
                    continue
                outputs[i] = Output(self.settings.drafts_topic, key, value, headers, "draft")

    def _skipped(self, record: Record, skipped: codec.Skipped) -> Output:
        return outputs.skipped(record, skipped, self.settings.drafts_topic)

    def _dead(self, record: Record, reason: str, error: str) -> Output:
        return outputs.dead(record, reason, error, self.settings)

    async def _commit_loop(self) -> None:
        """At-least-once: acknowledgements of a batch, then its offsets, in batch order."""
        while (batch := await self._sent.get()) is not None:
            publisher = self._publisher
            assert publisher is not None and self._consumer is not None
            started = time.perf_counter()
            await publisher.until_acknowledged(batch)
            self.metrics.stage_latency.labels("publish").observe(time.perf_counter() - started)
            batch = self._current(batch)
            await publisher.commit(self._consumer, batch.offsets())
            self._published(batch)

    def _published(self, batch: Batch) -> None:
        now = time.time()
        self.metrics.count_outputs(Counter(output.kind for output in batch.outputs))
        observe_many(
            self.metrics.email_latency,
            (max(0.0, now - record.timestamp / 1000) for record in batch.records),
        )
        self._release(len(batch.records))
        self._last_progress = time.monotonic()
        self.stats.published += len(batch.records)
        self.stats.last_publish_at = time.perf_counter()

    # --- probes ------------------------------------------------------------------------------
    def _live_checks(self) -> dict[str, bool]:
        stuck_after = max(60.0, self.settings.max_poll_interval_ms / 1000)
        return {"loop": time.monotonic() - self._last_progress < stuck_after}

    def _ready_checks(self) -> dict[str, bool]:
        return {"broker": self.broker_connected, "engine": self._engine_ready()}

    def _engine_ready(self) -> bool:
        """The engines report themselves healthy and no batch is waiting out an outage."""
        return self._engines_healthy() and not self._outage.down

    def _engines_healthy(self) -> bool:
        return self.engine.healthy() and (self.reply_engine is None or self.reply_engine.healthy())
