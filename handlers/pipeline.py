"""The pipeline: one batch of emails in, one draft or failure per email out, in order.

Stages run for the whole batch at once, because the stage boundary is where batching happens:
sentiment and entities go to the engine as one mixed-adapter call (2 requests per email, or 1
on the joint analysis adapter with ``analysis="joint"``; one more each per second reader,
:mod:`handlers.second_reads`, where there is one), then replies, then the optional persona
rewrite. An email whose output is unusable drops out of the later stages as a ``TaskFailure``;
the others carry on. The analysis quotes a shorter cut of a long email than the reply does
(``analysis_email_tokens``): on the 2-core CPU a batch's cost is its tokens.

Every reply draft is checked (:func:`handlers.checks.check_draft`); one that fails is mended if
it can be (:func:`handlers.repair.repair`), the rest written once more, together, with other
sampling (``retry_candidates`` samples each; the first that passes or is mended is kept). A
draft whose candidates all fail is replaced by a grounded fallback (:func:`handlers.reply.
fallback`), ``needs_review`` with the checks its first one failed. Also for review:
``answer_removed``, ``no_answer`` and ``off_request`` (:mod:`handlers.checks_request`),
``unfamiliar_wording`` (:mod:`handlers.checks_wording`)."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from handlers import analysis, checks_request, entities, persona, reply, second_reads, sentiment
from handlers.budget import PromptBudget
from handlers.checks import check_draft, check_rewrite
from handlers.checks_answer import leaves_unanswered
from handlers.checks_wording import review as wording
from handlers.prepare import Prepared, email_budget, prepare
from handlers.repair import repair
from handlers.request import review_reasons
from handlers.results import Refused, parse_reply, parse_rewrite, total
from handlers.types import DraftText, EmailText, Entities, Sentiment, TaskFailure, Usage
from models.engines.base import Engine, GenerateRequest, GenerateResult, SamplingParams
from models.errors import AdapterError, ConfigurationError, OutputError, UnsupportedRequestError
from models.vocabulary import DEFAULT_TASKS, STAGE_TASKS


@dataclass(frozen=True, slots=True)
class PipelineConfig:
    """Which stages run and with which adapters (task → customization ID, None = base model)."""

    tasks: tuple[str, ...] = DEFAULT_TASKS
    adapters: Mapping[str, str | None] = field(default_factory=dict)
    # The first stage: "split" (a sentiment and an entities request per email) or "joint" (one
    # request on the "analysis" adapter, sentiment and entities in one answer line).
    analysis: str = "split"
    persona: str | None = None
    reply_max_tokens: int = 96
    # Decoding of the reply and persona stages; None = greedy up to reply_max_tokens, with the
    # handlers' stop strings.
    reply_sampling: SamplingParams | None = None
    persona_sampling: SamplingParams | None = None
    # The second try of a draft that failed its checks: sampled, so it is not the same draft.
    retry_sampling: SamplingParams | None = None
    # Samples in that second try (rejection sampling): each costs a reply's decoding.
    retry_candidates: int = 3
    check_drafts: bool = True
    repair_drafts: bool = True  # mend a failing draft (handlers.repair) before writing it again
    company: str = reply.DEFAULT_COMPANY
    # Tokens the quoted email may take in a prompt (less where the context leaves less room).
    max_email_tokens: int = 1024
    # Tokens it may take in the analysis prompts (sentiment, entities), cut the same way; None
    # quotes the reply's text.
    analysis_email_tokens: int | None = None
    # Languages the reply model writes well; a draft for another is marked needs_review.
    reply_languages: tuple[str, ...] = ("en",)
    language_min_score: float = 0.5
    # The company's own domains: links and addresses on them are not invented facts.
    allowed_domains: tuple[str, ...] = ()
    # The reply adapter learned the generator's replies: a sentence of none is its guess, and
    # the draft is flagged ("flag"), or flagged with the guesses cut ("cut"; see
    # handlers.checks_wording). Any other writer's sentences are all new: "off".
    check_wording: Literal["off", "flag", "cut"] = "off"
    steering_threshold: float = 0.7  # the steering adapter's P(yes) that marks an email

    def __post_init__(self) -> None:
        unknown = set(self.tasks) - set(STAGE_TASKS)
        if unknown:
            raise ConfigurationError(f"unknown tasks {sorted(unknown)}; known: {STAGE_TASKS} "
                                     "(the joint analysis is analysis='joint', not a task)")
        if self.analysis not in ("split", "joint"):
            raise ConfigurationError(f"analysis must be 'split' or 'joint', got {self.analysis!r}")
        if self.analysis == "joint" and "entities" not in self.tasks:
            raise ConfigurationError("analysis='joint' answers sentiment and entities together; "
                                     "it needs the 'entities' task")
        if self.retry_candidates < 1:
            raise ConfigurationError(f"retry_candidates must be >= 1, got {self.retry_candidates}")
        for required in [task for task in ("sentiment", "reply") if task not in self.tasks]:
            raise ConfigurationError(f"the pipeline needs the {required!r} task")
        if "persona" in self.tasks and not self.persona:
            raise ConfigurationError("the persona task needs a persona name")

    def adapter(self, task: str) -> str | None:
        return self.adapters.get(task)

    def decoding(self, task: str) -> SamplingParams:
        """The sampling of a free-text stage ("reply", "persona" or "retry")."""
        chosen = {"reply": self.reply_sampling, "persona": self.persona_sampling,
                  "retry": self.retry_sampling}[task]
        if chosen is not None:
            return chosen
        if task == "retry":
            return reply.sampling(self.reply_max_tokens, temperature=0.7, top_p=0.9,
                                  repetition_penalty=1.15)
        return reply.sampling(self.reply_max_tokens)


@dataclass(slots=True)
class BatchResult:
    """Per-email outcomes in input order, plus what the batch cost per stage."""

    outcomes: list[DraftText | TaskFailure]
    stage_seconds: dict[str, float]
    usage_by_task: dict[str, Usage]
    # How each checked draft ended: "passed", "repaired", "regenerated" or "fallback".
    draft_outcomes: Counter[str] = field(default_factory=Counter)
    # Checks failed by first drafts (several per draft), persona rewrites' as "persona_<check>".
    check_failures: Counter[str] = field(default_factory=Counter)
    # How each persona rewrite ended: "rewritten", or "kept_plain" when it failed a check.
    persona_outcomes: Counter[str] = field(default_factory=Counter)


class Pipeline:
    """Runs the configured stages over batches of emails on one engine."""

    def __init__(self, engine: Engine, config: PipelineConfig,
                 clock: Callable[[], float] = time.perf_counter,
                 reply_engine: Engine | None = None) -> None:
        """``reply_engine``: where the reply stage runs when not on ``engine`` (a larger model)."""
        self._engine = engine
        self._reply_engine = reply_engine or engine
        self._config = config
        self._clock = clock

    @property
    def config(self) -> PipelineConfig:
        return self._config

    @config.setter
    def config(self, config: PipelineConfig) -> None:
        """A new config (an adapter rollout) applies from the next batch: ``run`` reads it once."""
        self._config = config

    async def run(self, emails: Sequence[EmailText]) -> BatchResult:
        """Draft every email. Engine failures raise (``EngineError``, ``EngineDeadError``) and
        are retried by the caller; output problems never raise."""
        config = self._config
        n = len(emails)
        # Thread split, language, steering and token fitting: CPU work, off the event loop.
        prepared = await asyncio.to_thread(self.prepare, emails)
        emails = [p.text for p in prepared]
        failures: dict[int, TaskFailure] = {}
        usage = [[0, 0] for _ in range(n)]  # tokens per email ([prompt, completion]) and task
        stage_seconds: dict[str, float] = {}
        usage_by_task: dict[str, list[int]] = {}

        # Stage 1: sentiment and entities, one engine call for the whole batch: two requests
        # per email (split), or one on the analysis adapter (joint: the email prefilled once).
        joint = config.analysis == "joint"
        tasks = ["analysis"] if joint else (
            ["sentiment"] + (["entities"] if "entities" in config.tasks else []))
        requests: list[GenerateRequest] = []
        analysed = [p.analysed for p in prepared]  # the shorter cut, where one was made
        for email in analysed:
            if joint:
                requests.append(analysis.build_request(email, config.adapter("analysis")))
                continue
            requests.append(sentiment.build_request(email, config.adapter("sentiment")))
            if "entities" in tasks:
                requests.append(entities.build_request(email, config.adapter("entities")))
        per_email, asked = len(tasks), [t for t in second_reads.READERS if config.adapter(t)]
        requests += await asyncio.to_thread(second_reads.requests, asked, config.adapter, prepared)
        started = self._clock()
        results = await self._generate(requests)
        stage_seconds["+".join(tasks)] = self._clock() - started
        results, reads = results[: n * per_email], results[n * per_email :]
        sentiments: dict[int, Sentiment] = {}
        found: dict[int, Entities] = {}
        for offset, task in enumerate(tasks):
            usage_by_task[task] = total(results[offset::per_email])
        for i, email in enumerate(analysed):
            row = results[i * per_email : (i + 1) * per_email]
            refused = [(task, r) for task, r in zip(tasks, row, strict=True)
                       if isinstance(r, Refused)]
            if refused:
                task, first = refused[0]
                failures[i] = TaskFailure("engine_request", task, first.error)
                continue
            counts = usage[i]
            for result in row:
                counts[0] += result.prompt_tokens
                counts[1] += result.completion_tokens
            try:
                if joint:
                    sentiments[i], found[i] = analysis.parse(row[0], email)
                else:
                    sentiments[i] = sentiment.parse(row[0])
            except OutputError as exc:
                failures[i] = TaskFailure("engine_output", tasks[0], str(exc))
                continue
            try:
                if not joint:
                    found[i] = entities.parse(row[1], email) if per_email == 2 else Entities()
            except OutputError as exc:
                if row[1].finish_reason != "length":
                    failures[i] = TaskFailure("engine_output", "entities", str(exc))
                    continue
                # Cut off at its token bound (a model listing junk from junk text): no usable
                # entities, but the email still gets its draft.
                found[i] = Entities()
            found[i] = entities.with_display_name(found[i], email.from_name, email.body)
        for k, task in enumerate(asked):  # the second readers' answers, reader by reader
            usage_by_task[task] = total(part := reads[k * n : (k + 1) * n])
            for i, read in enumerate(part):
                if i not in failures and not isinstance(read, Refused):
                    usage[i] = [was + now for was, now in zip(usage[i], total([read]), strict=True)]
                    prepared[i] = second_reads.apply(task, prepared[i], read, sentiments.get(i),
                                                     config.steering_threshold)
                    emails[i] = prepared[i].text  # with the request line inferred, if any

        # Stage 2: replies for every email still standing, checked; failures written again once.
        alive = [i for i in range(n) if i not in failures]
        reply_adapter = config.adapter("reply")

        def reply_requests(rows: list[int], decoding: SamplingParams) -> list[GenerateRequest]:
            return [reply.build_request(emails[i], sentiments[i], found[i], reply_adapter,
                                        config.reply_max_tokens, decoding) for i in rows]

        bodies = await self._text_stage(
            "reply",
            alive,
            reply_requests(alive, config.decoding("reply")),
            # Unchecked, an empty reply is unusable output (a dead letter); checked, it is a
            # failed check like any other, and the email still gets a draft.
            parse_reply if config.check_drafts else reply.parse,
            failures,
            usage,
            stage_seconds,
            usage_by_task,
        )
        alive = [i for i in alive if i not in failures]  # less any request the engine refused
        reasons: dict[int, tuple[str, ...]] = {}
        draft_outcomes: Counter[str] = Counter()
        check_failures: Counter[str] = Counter()
        fallen: set[int] = set()  # drafts replaced by the grounded fallback
        if config.check_drafts and alive:
            checked, mended, unanswered = await asyncio.to_thread(
                self._check_all, alive, bodies, prepared, sentiments, found)
            reasons.update(dict.fromkeys(unanswered, ("answer_removed",)))
            for failed in checked.values():
                check_failures.update(failed)
            for i, text in mended.items():
                if text is not None:
                    bodies[i] = text
                    draft_outcomes["repaired"] += 1
            again = [i for i, text in mended.items() if text is None]
            draft_outcomes["passed"] = len(alive) - len(mended)
            if again:
                second = await self._second_try(
                    again, reply_requests,
                    lambda i, text: self._final(text, prepared[i].source, sentiments[i], found[i]),
                    usage, stage_seconds, usage_by_task)
                for i in again:
                    failed, text = second[i]
                    if not failed:
                        bodies[i] = text
                        draft_outcomes["regenerated"] += 1
                        continue
                    bodies[i] = reply.fallback(emails[i], sentiments[i], found[i], config.company)
                    reasons[i] = failed
                    draft_outcomes["fallback"] += 1
                    fallen.add(i)
            def reread(i: int) -> tuple[str, tuple[str, ...]]:
                # Not the fallback's words: replyd wrote those. A cut draft is read again, and
                # under "cut" an answer to another request gives way to the holding line too.
                mode = "off" if i in fallen else config.check_wording
                text, why = (bodies[i], ()) if mode == "off" else wording(
                    bodies[i], found[i], sentiments[i], prepared[i].request, mode)
                if mode == "cut":
                    text, left = checks_request.hold_off_request(
                        text, emails[i], prepared[i].source, sentiments[i],
                        prepared[i].request_disputed)
                else:
                    left = checks_request.unanswered(text, emails[i], prepared[i].source,
                                                     sentiments[i])
                return text, left + why

            reread_all = await asyncio.to_thread(lambda: {i: reread(i) for i in alive})
            for i, (text, why) in reread_all.items():
                bodies[i] = text
                if why:
                    reasons[i] = (*reasons.get(i, ()), *why)

        # Stage 3: the persona rewrite, optional, checked like the draft it rewrites.
        persona_name = None
        plain: set[int] = set()  # emails whose rewrite failed its checks
        persona_outcomes: Counter[str] = Counter()
        if "persona" in config.tasks and config.persona:
            persona_name = config.persona
            alive = [i for i in bodies if i not in failures]
            rewritten = await self._text_stage(
                "persona", alive,
                [persona.build_request(bodies[i], persona_name, config.adapter("persona"),
                                       config.reply_max_tokens, config.decoding("persona"))
                 for i in alive],
                parse_rewrite if config.check_drafts else persona.parse,
                failures, usage, stage_seconds, usage_by_task)
            for i, text in rewritten.items():
                # A rewrite that fails a check is dropped: the checked plain draft goes out.
                failed = self._check_rewrite(text, bodies[i], prepared[i].source,
                                             sentiments[i], found[i]) if config.check_drafts else ()
                if failed:
                    plain.add(i)
                    persona_outcomes["kept_plain"] += 1
                    check_failures.update(f"persona_{name}" for name in failed)
                    continue
                bodies[i] = text
                persona_outcomes["rewritten"] += 1

        timings_ms = {stage: round(seconds * 1000, 3) for stage, seconds in stage_seconds.items()}
        adapters = {task: config.adapter(task) for task in config.tasks}
        adapters.update({task: config.adapter(task) for task in asked})
        outcomes: list[DraftText | TaskFailure] = []
        for i in range(n):
            if i in failures:
                outcomes.append(failures[i])
                continue
            review = reasons.get(i, ()) + review_reasons(prepared[i], found[i],
                                                         config.reply_languages,
                                                         config.language_min_score)
            outcomes.append(
                DraftText(
                    body=bodies[i],
                    sentiment=sentiments[i],
                    entities=found[i],
                    persona=None if i in plain else persona_name,
                    needs_review=bool(review),
                    review_reasons=review,
                    adapters=adapters,
                    usage=Usage(*usage[i]),
                    timings_ms=timings_ms,
                    language=prepared[i].language, request=prepared[i].request,
                )
            )
        totals = {task: Usage(*counts) for task, counts in usage_by_task.items()}
        return BatchResult(outcomes, stage_seconds, totals, draft_outcomes, check_failures,
                           persona_outcomes)

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
        results = await self._generate(requests, self._reply_engine if task == "reply" else None)
        # A stage run twice (a reply's second try) adds to its time and tokens.
        stage_seconds[task] = stage_seconds.get(task, 0.0) + self._clock() - started
        texts: dict[int, str] = {}
        spent = total(results)
        before = usage_by_task.get(task, [0, 0])
        usage_by_task[task] = [before[0] + spent[0], before[1] + spent[1]]
        for i, result in zip(rows, results, strict=True):
            if isinstance(result, Refused):
                failures[i] = TaskFailure("engine_request", task, result.error)
                continue
            counts = usage[i]
            counts[0] += result.prompt_tokens
            counts[1] += result.completion_tokens
            try:
                texts[i] = parse(result)
            except OutputError as exc:
                failures[i] = TaskFailure("engine_output", task, str(exc))
        return texts

    async def _second_try(
        self,
        rows: list[int],
        reply_requests: Callable[[list[int], SamplingParams], list[GenerateRequest]],
        check: Callable[[int, str], tuple[tuple[str, ...], str]],
        usage: list[list[int]],
        stage_seconds: dict[str, float],
        usage_by_task: dict[str, list[int]],
    ) -> dict[int, tuple[tuple[str, ...], str]]:
        """``retry_candidates`` sampled drafts per row in one engine call;
        per row, the first candidate that passes every check (or ``check`` mends), as
        ``((), text)``, else the first candidate's failed checks. A refused request counts as a
        candidate failing ``engine_request``: the email still gets a draft."""
        config = self._config
        base = config.decoding("retry")
        # Unseeded (the default) candidates differ by chance; a seeded config seeds them k apart.
        seeds = [None if base.seed is None else base.seed + k
                 for k in range(config.retry_candidates)]
        requests = [request for seed in seeds
                    for request in reply_requests(rows, dataclasses.replace(base, seed=seed))]
        started = self._clock()
        results = await self._generate(requests, self._reply_engine)
        stage_seconds["reply"] = stage_seconds.get("reply", 0.0) + self._clock() - started
        spent = total(results)
        before = usage_by_task.get("reply", [0, 0])
        usage_by_task["reply"] = [before[0] + spent[0], before[1] + spent[1]]
        chosen: dict[int, tuple[tuple[str, ...], str]] = {}
        for k, result in enumerate(results):
            i = rows[k % len(rows)]
            if i in chosen and not chosen[i][0]:
                continue  # an earlier candidate passed; this one's tokens were still spent
            if isinstance(result, Refused):
                failed, text = ("engine_request",), ""
            else:
                usage[i][0] += result.prompt_tokens
                usage[i][1] += result.completion_tokens
                failed, text = check(i, parse_reply(result))
            if i not in chosen or not failed:
                chosen[i] = (failed, text)
        return chosen

    def prepare(self, emails: Sequence[EmailText]) -> list[Prepared]:
        """What the stages quote of each email (thread split, language, steering, token cuts):
        CPU work, for a worker thread. The shadow run quotes the same."""
        budget = self._budget()
        tokens = self._config.analysis_email_tokens
        return [prepare(email, budget, tokens) for email in emails]

    def _budget(self) -> PromptBudget:
        """The quoted email's token budget, from the smallest context of the engines in use."""
        contexts = [c for c in (self._engine.context_tokens(), self._reply_engine.context_tokens())
                    if c is not None]
        output = max(self._config.reply_max_tokens, entities.SAMPLING.max_tokens)
        return email_budget(self._engine.count_tokens, min(contexts, default=None),
                            self._config.max_email_tokens, output)

    def _check_rewrite(self, text: str, draft: str, email: EmailText, mood: Sentiment,
                       found: Entities) -> tuple[str, ...]:
        if not text:
            return ("empty",)
        return check_rewrite(text, draft, email, mood, found,
                             allowed_domains=self._config.allowed_domains,
                             company=self._config.company)

    def _check_all(self, rows: list[int], bodies: dict[int, str], prepared: list[Prepared],
                   moods: dict[int, Sentiment], found: dict[int, Entities],
                   ) -> tuple[dict[int, tuple[str, ...]], dict[int, str | None], set[int]]:
        """Failed checks, mends (None: none) and the first drafts with a misread answer: CPU."""
        checked = {i: self._check(bodies[i], prepared[i].source, moods[i], found[i]) for i in rows}
        mended = {i: self._repair(bodies[i], checked[i], prepared[i].source, moods[i], found[i])
                  for i in rows if checked[i]}
        return checked, mended, {i for i in mended
                                 if leaves_unanswered(bodies[i], prepared[i].source, moods[i])}

    def _repair(self, body: str, failed: tuple[str, ...], email: EmailText, mood: Sentiment,
                found: Entities) -> str | None:
        config = self._config
        return repair(body, failed, email, mood, found, allowed_domains=config.allowed_domains,
                      company=config.company) if config.repair_drafts else None

    def _final(self, body: str, email: EmailText, mood: Sentiment, found: Entities
               ) -> tuple[tuple[str, ...], str]:
        """The checks ``body`` fails and the text to keep: its mended form when that passes."""
        failed = self._check(body, email, mood, found)
        mended = self._repair(body, failed, email, mood, found) if failed else None
        return ((), mended) if mended is not None else (failed, body)

    def _check(self, body: str, email: EmailText, mood: Sentiment, found: Entities
               ) -> tuple[str, ...]:
        if not body:
            return ("empty",)
        return check_draft(body, email, mood, found, allowed_domains=self._config.allowed_domains,
                           company=self._config.company)

    async def _generate(
        self, requests: list[GenerateRequest], engine: Engine | None = None
    ) -> list[GenerateResult | Refused]:
        """One engine call for the stage. Engine errors propagate (the daemon is the one layer
        that retries them). A request the engine refuses (``UnsupportedRequestError``,
        ``AdapterError``: a prompt longer than the context, say) fails only its own email: the
        batch is split in halves until the refused requests are found, so one bad email costs a
        few extra calls, never its batch."""
        engine = engine or self._engine
        try:
            return list(await engine.generate(requests))
        except (UnsupportedRequestError, AdapterError) as exc:
            if len(requests) == 1:
                return [Refused(f"{type(exc).__name__}: {exc}")]
        half = len(requests) // 2
        return (await self._generate(requests[:half], engine)
                + await self._generate(requests[half:], engine))
