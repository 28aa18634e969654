"""The daemon loop: consume → decode → batch → pipeline → publish → commit.

At-least-once: a batch's offsets are committed only after every draft and dead letter it produced
is acknowledged by the broker. A crash before the commit replays the batch (a duplicate draft is
possible, identified downstream by its idempotency header; a lost email is not).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaConnectionError, KafkaError

from daemon import codec
from daemon.contracts import DeadLetter, Draft, IncomingEmail
from daemon.health import HealthServer
from daemon.metrics import Metrics
from daemon.settings import Settings
from handlers.pipeline import Pipeline, PipelineConfig
from handlers.types import TaskFailure
from models.engine import Engine
from models.errors import EngineDeadError, EngineError, ReplydError

log = logging.getLogger(__name__)


class BrokerUnavailableError(ReplydError):
    """The broker could not be reached before the daemon was told to stop."""

    retriable = True


@dataclass(frozen=True, slots=True)
class _Output:
    topic: str
    key: bytes | None
    value: bytes
    headers: list[tuple[str, bytes]]
    kind: str  # "draft" or a dead-letter reason


class Daemon:
    """One replyd instance: a consumer-group member, its engine, its producer, its probes."""

    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        pipeline_config: PipelineConfig,
        metrics: Metrics | None = None,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.pipeline = Pipeline(engine, pipeline_config)
        self.metrics = metrics or Metrics()
        self.should_exit = False
        self.force_exit = False
        self._consumer: AIOKafkaConsumer | None = None
        self._producer: AIOKafkaProducer | None = None
        self._broker_connected = False
        self._last_progress = time.monotonic()
        self.health: HealthServer | None = None

    # --- lifecycle ---------------------------------------------------------------------------
    def request_stop(self) -> None:
        """Stop fetching; the batch in flight finishes (bounded by ``shutdown_timeout_s``)."""
        self.should_exit = True

    async def run(self) -> None:
        """Run until ``request_stop``. Raises ``EngineDeadError`` without committing the batch in
        flight when the engine dies, so the orchestrator restarts the process."""
        s = self.settings
        async with contextlib.AsyncExitStack() as stack:
            self.health = HealthServer(
                s.metrics_host, s.metrics_port, self.metrics, self._live_checks, self._ready_checks
            )
            await stack.enter_async_context(self.health)
            await stack.enter_async_context(self.engine)
            self.metrics.engine_up.set(1)
            self.metrics.set_build(self.engine.name, self.engine.base_model)
            stack.callback(self.metrics.engine_up.set, 0)
            self._producer = AIOKafkaProducer(
                **s.kafka_common(), acks="all", linger_ms=5, enable_idempotence=False
            )
            self._consumer = AIOKafkaConsumer(
                s.input_topic,
                **s.kafka_common(),
                group_id=s.group_id,
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                max_poll_records=s.max_batch_size,
                session_timeout_ms=s.session_timeout_ms,
                heartbeat_interval_ms=s.heartbeat_interval_ms,
                max_poll_interval_ms=s.max_poll_interval_ms,
                max_partition_fetch_bytes=max(1_048_576, s.max_body_bytes + 65_536),
            )
            await self._start_with_backoff(self._producer)
            stack.push_async_callback(self._producer.stop)
            await self._start_with_backoff(self._consumer)
            stack.push_async_callback(self._consumer.stop)
            self._broker_connected = True
            log.info(
                "daemon started",
                extra={"engine": self.engine.name, "group": s.group_id, "topic": s.input_topic},
            )
            await self._consume_loop()
        log.info("daemon stopped")

    async def _start_with_backoff(self, client: AIOKafkaConsumer | AIOKafkaProducer) -> None:
        backoff = 0.5
        while True:
            try:
                await client.start()
                return
            except KafkaConnectionError as exc:
                with contextlib.suppress(KafkaError):
                    await client.stop()
                if self.should_exit:
                    raise BrokerUnavailableError(f"broker unreachable: {exc}") from exc
                log.warning("broker unreachable, retrying", extra={"retry_in_s": round(backoff, 2)})
                await asyncio.sleep(backoff * (0.5 + random.random()))
                backoff = min(backoff * 2, 30.0)

    # --- the loop ----------------------------------------------------------------------------
    async def _consume_loop(self) -> None:
        assert self._consumer is not None
        while not self.should_exit:
            records = await self._fetch_batch()
            self._last_progress = time.monotonic()
            if not records:
                continue
            # Cancellation (shutdown timeout, forced exit) abandons the batch before its commit,
            # so it is replayed by whoever owns the partition next: nothing is lost.
            await self._process(records)

    async def _fetch_batch(self) -> list[ConsumerRecord[bytes, bytes]]:
        """Up to ``max_batch_size`` records: wait for the first, then at most ``max_wait_ms``."""
        consumer = self._consumer
        assert consumer is not None
        s = self.settings
        records: list[ConsumerRecord[bytes, bytes]] = []
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
                records.extend(batch)
                self._record_lag(tp, batch[-1].offset)
            if records and batch_deadline is None:
                batch_deadline = time.monotonic() + s.max_wait_ms / 1000
            if not records:
                break
        return records

    def _record_lag(self, tp: TopicPartition, last_offset: int) -> None:
        assert self._consumer is not None
        highwater = self._consumer.highwater(tp)
        if highwater is not None:
            lag = max(0, highwater - last_offset - 1)
            self.metrics.consumer_lag.labels(tp.topic, str(tp.partition)).set(lag)

    async def _process(self, records: Sequence[ConsumerRecord[bytes, bytes]]) -> None:
        s = self.settings
        m = self.metrics
        m.emails_consumed.inc(len(records))
        m.inflight.inc(len(records))
        try:
            started = time.perf_counter()
            outputs: list[_Output | None] = [None] * len(records)
            valid: list[tuple[int, IncomingEmail]] = []
            for i, record in enumerate(records):
                decoded = codec.decode(record.value, s.max_body_bytes)
                if isinstance(decoded, codec.Rejected):
                    outputs[i] = self._dead(record, decoded.reason, decoded.error)
                else:
                    valid.append((i, decoded))
            m.stage_latency.labels("parse").observe(time.perf_counter() - started)

            if valid:
                m.batch_size.observe(len(valid))
                await self._infer(records, valid, outputs)
            self._last_progress = time.monotonic()

            started = time.perf_counter()
            await self._publish([o for o in outputs if o is not None])
            m.stage_latency.labels("publish").observe(time.perf_counter() - started)
            await self._commit(records)
            now = time.time()
            for record in records:
                m.email_latency.observe(max(0.0, now - record.timestamp / 1000))
        finally:
            m.inflight.dec(len(records))
        self._last_progress = time.monotonic()

    async def _infer(
        self,
        records: Sequence[ConsumerRecord[bytes, bytes]],
        valid: list[tuple[int, IncomingEmail]],
        outputs: list[_Output | None],
    ) -> None:
        try:
            result = await self.pipeline.run([codec.email_text(email) for _, email in valid])
        except EngineDeadError:
            raise
        except EngineError as exc:
            log.error("engine kept failing; dead-lettering the batch", extra={"error": str(exc)})
            for i, _ in valid:
                outputs[i] = self._dead(records[i], "engine_error", f"engine error: {exc}")
            return
        for stage, seconds in result.stage_seconds.items():
            for name in stage.split("+"):
                self.metrics.stage_latency.labels(name).observe(seconds)
        config = self.pipeline.config
        for task, usage in result.usage_by_task.items():
            adapter = config.adapter(task) or "base"
            self.metrics.inference_tokens.labels(adapter, "prompt").inc(usage.prompt_tokens)
            self.metrics.inference_tokens.labels(adapter, "completion").inc(usage.completion_tokens)
        for task in config.tasks:
            self.metrics.adapter_requests.labels(config.adapter(task) or "base").inc(len(valid))
        for (i, email), outcome in zip(valid, result.outcomes, strict=True):
            if isinstance(outcome, TaskFailure):
                outputs[i] = self._dead(
                    records[i], outcome.reason, f"{outcome.task}: {outcome.error}"
                )
            else:
                draft = codec.draft_for(email, outcome, self.engine.base_model)
                outputs[i] = self._draft(email, draft)

    def _draft(self, email: IncomingEmail, draft: Draft) -> _Output:
        key = email.message_id.encode()
        return _Output(
            topic=self.settings.drafts_topic,
            key=key,
            value=draft.model_dump_json(by_alias=True).encode(),
            headers=[(codec.IDEMPOTENCY_HEADER, key)],
            kind="draft",
        )

    def _dead(
        self, record: ConsumerRecord[bytes, bytes], reason: str, error: str
    ) -> _Output:
        letter: DeadLetter = codec.dead_letter(
            reason,  # type: ignore[arg-type]
            error,
            record.topic,
            record.partition,
            record.offset,
            record.value,
            self.settings.deadletter_max_original_bytes,
        )
        coordinates = f"{record.topic}/{record.partition}/{record.offset}".encode()
        log.warning(
            "dead letter",
            extra={"reason": reason, "topic": record.topic, "partition": record.partition,
                   "offset": record.offset},
        )
        return _Output(
            topic=self.settings.deadletter_topic,
            key=record.key,
            value=letter.model_dump_json().encode(),
            headers=[(codec.IDEMPOTENCY_HEADER, coordinates)],
            kind=reason,
        )

    async def _publish(self, outputs: list[_Output]) -> None:
        """Send everything, then wait for every acknowledgement (raises if any send failed)."""
        producer = self._producer
        assert producer is not None
        pending = [
            await producer.send(o.topic, o.value, key=o.key, headers=o.headers) for o in outputs
        ]
        await asyncio.gather(*pending)
        for output in outputs:
            if output.kind == "draft":
                self.metrics.drafts_published.inc()
            else:
                self.metrics.dead_letters.labels(output.kind).inc()

    async def _commit(self, records: Sequence[ConsumerRecord[bytes, bytes]]) -> None:
        assert self._consumer is not None
        offsets: dict[TopicPartition, int] = {}
        for record in records:
            tp = TopicPartition(record.topic, record.partition)
            offsets[tp] = max(offsets.get(tp, -1), record.offset + 1)
        await self._consumer.commit(offsets)

    # --- probes ------------------------------------------------------------------------------
    def _live_checks(self) -> dict[str, bool]:
        stuck_after = max(60.0, self.settings.max_poll_interval_ms / 1000)
        return {"loop": time.monotonic() - self._last_progress < stuck_after}

    def _ready_checks(self) -> dict[str, bool]:
        return {
            "broker": self._broker_connected,
            "engine": self.engine.healthy(),
        }
