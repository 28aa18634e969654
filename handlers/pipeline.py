"""The pipeline: one batch of emails in, one draft or failure per email out, in order.

Stages run for the whole batch at once, because the stage boundary is where batching happens:
sentiment and entities go to the engine as one mixed-adapter call (2 requests per email), then
replies, then the optional persona rewrite. An email whose output is unusable drops out of the
later stages as a ``TaskFailure``; the others carry on.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from handlers import entities, persona, reply, sentiment
from handlers.guard import looks_like_steering
from handlers.types import DraftText, EmailText, Entities, Sentiment, TaskFailure, Usage
from models.engines.base import Engine, GenerateRequest, GenerateResult
from models.errors import ConfigurationError, OutputError
from models.vocabulary import DEFAULT_TASKS, TASKS


@dataclass(frozen=True, slots=True)
class PipelineConfig:
    """Which stages run and with which adapters (task → customization ID, None = base model)."""

    tasks: tuple[str, ...] = DEFAULT_TASKS
    adapters: Mapping[str, str | None] = field(default_factory=dict)
    persona: str | None = None
    reply_max_tokens: int = 96

    def __post_init__(self) -> None:
        unknown = set(self.tasks) - set(TASKS)
        if unknown:
            raise ConfigurationError(f"unknown tasks {sorted(unknown)}; known: {TASKS}")
        for required in ("sentiment", "reply"):
            if required not in self.tasks:
                raise ConfigurationError(f"the pipeline needs the {required!r} task")
        if "persona" in self.tasks and not self.persona:
            raise ConfigurationError("the persona task needs a persona name")

    def adapter(self, task: str) -> str | None:
        return self.adapters.get(task)


@dataclass(slots=True)
class BatchResult:
    """Per-email outcomes in input order, plus what the batch cost per stage."""

    outcomes: list[DraftText | TaskFailure]
    stage_seconds: dict[str, float]
    usage_by_task: dict[str, Usage]


class Pipeline:
    """Runs the configured stages over batches of emails on one engine."""

    def __init__(
        self,
        engine: Engine,
        config: PipelineConfig,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self._engine = engine
        self._config = config
        self._clock = clock

    @property
    def config(self) -> PipelineConfig:
        return self._config

    async def run(self, emails: Sequence[EmailText]) -> BatchResult:
        """Draft every email. Engine failures raise (``EngineError``, ``EngineDeadError``) and
        are retried by the caller; output problems never raise."""
        config = self._config
        n = len(emails)
        failures: dict[int, TaskFailure] = {}
        # Token counts per email ([prompt, completion]) and per task, summed as plain ints.
        usage = [[0, 0] for _ in range(n)]
        stage_seconds: dict[str, float] = {}
        usage_by_task: dict[str, list[int]] = {}

        # Stage 1: sentiment and entities, one engine call for the whole batch.
        tasks = ["sentiment"] + (["entities"] if "entities" in config.tasks else [])
        requests: list[GenerateRequest] = []
        for email in emails:
            requests.append(sentiment.build_request(email, config.adapter("sentiment")))
            if "entities" in tasks:
                requests.append(entities.build_request(email, config.adapter("entities")))
        started = self._clock()
        results = await self._generate(requests)
        stage_seconds["+".join(tasks)] = self._clock() - started
        per_email = len(tasks)
        sentiments: dict[int, Sentiment] = {}
        found: dict[int, Entities] = {}
        for offset, task in enumerate(tasks):
            usage_by_task[task] = _total(results[offset::per_email])
        for i, email in enumerate(emails):
            row = results[i * per_email : (i + 1) * per_email]
            counts = usage[i]
            for result in row:
                counts[0] += result.prompt_tokens
                counts[1] += result.completion_tokens
            try:
                sentiments[i] = sentiment.parse(row[0])
            except OutputError as exc:
                failures[i] = TaskFailure("engine_output", "sentiment", str(exc))
                continue
            try:
                found[i] = entities.parse(row[1], email) if per_email == 2 else Entities()
            except OutputError as exc:
                failures[i] = TaskFailure("engine_output", "entities", str(exc))

        # Stage 2: replies for every email still standing.
        alive = [i for i in range(n) if i not in failures]
        bodies = await self._text_stage(
            "reply",
            alive,
            [
                reply.build_request(
                    emails[i], sentiments[i], found[i], config.adapter("reply"), config.reply_max_tokens
                )
                for i in alive
            ],
            reply.parse,
            failures,
            usage,
            stage_seconds,
            usage_by_task,
        )

        # Stage 3: the persona rewrite, optional.
        persona_name = None
        if "persona" in config.tasks and config.persona:
            persona_name = config.persona
            alive = [i for i in bodies if i not in failures]
            rewritten = await self._text_stage(
                "persona",
                alive,
                [
                    persona.build_request(
                        bodies[i], persona_name, config.adapter("persona"), config.reply_max_tokens
                    )
                    for i in alive
                ],
                persona.parse,
                failures,
                usage,
                stage_seconds,
                usage_by_task,
            )
            bodies.update(rewritten)

        timings_ms = {stage: round(seconds * 1000, 3) for stage, seconds in stage_seconds.items()}
        adapters = {task: config.adapter(task) for task in config.tasks}
        outcomes: list[DraftText | TaskFailure] = []
        for i, email in enumerate(emails):
            if i in failures:
                outcomes.append(failures[i])
                continue
            outcomes.append(
                DraftText(
                    body=bodies[i],
                    sentiment=sentiments[i],
                    entities=found[i],
                    persona=persona_name,
                    needs_review=looks_like_steering(f"{email.subject}\n{email.body}"),
                    adapters=adapters,
                    usage=Usage(*usage[i]),
                    timings_ms=timings_ms,
                )
            )
        totals = {task: Usage(*counts) for task, counts in usage_by_task.items()}
        return BatchResult(outcomes, stage_seconds, totals)

    async def _text_stage(
        self,
        task: str,
        rows: list[int],
        requests: list[GenerateRequest],
        parse: Callable[[GenerateResult], str],
        failures: dict[int, TaskFailure],
        usage: list[list[int]],
        stage_seconds: dict[str, float],
        usage_by_task: dict[str, list[int]],
    ) -> dict[int, str]:
        if not rows:
            return {}
        started = self._clock()
        results = await self._generate(requests)
        stage_seconds[task] = self._clock() - started
        texts: dict[int, str] = {}
        usage_by_task[task] = _total(results)
        for i, result in zip(rows, results, strict=True):
            counts = usage[i]
            counts[0] += result.prompt_tokens
            counts[1] += result.completion_tokens
            try:
                texts[i] = parse(result)
            except OutputError as exc:
                failures[i] = TaskFailure("engine_output", task, str(exc))
        return texts

    async def _generate(self, requests: list[GenerateRequest]) -> list[GenerateResult]:
        """One engine call. Engine errors propagate: the daemon is the one layer that retries."""
        return await self._engine.generate(requests)


def _total(results: Sequence[GenerateResult]) -> list[int]:
    return [sum(r.prompt_tokens for r in results), sum(r.completion_tokens for r in results)]
