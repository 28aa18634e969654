"""`replyd eval`: how well a task does on the user's own labelled data, with an adapter, zero-shot
or few-shot, on any engine. The last line printed is one JSON object (see handlers.scoring)."""

from __future__ import annotations

import re
import string
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

from daemon.service.build import build_engine, task_adapters
from daemon.settings import Settings
from daemon.tools import analysis_eval
from daemon.tools.injection_drafts import run_injection_drafts
from daemon.tools.injection_eval import INJECTION, run_injection_eval
from daemon.tools.jsonl import read_jsonl, write_predictions
from daemon.tools.steering_eval import run_steering_eval
from handlers import entities, guard_model, persona, reply, scoring, sentiment, topic, topic_model
from handlers.checks import CHECKS, FACTS_LOST, check_draft, check_rewrite
from handlers.checks_wording import cut, unfamiliar_sentences
from handlers.repair import repair
from handlers.types import ENTITY_FIELDS, SENTIMENTS, EmailText, Entities
from models.engines.base import Engine, GenerateRequest, GenerateResult
from models.errors import ConfigurationError, OutputError
from models.synth.answers import answer_kind, answer_report
from models.vocabulary import TASKS

# Reference baselines that need no engine: the task each one scores.
BASELINES = {"lexicon": "sentiment", "capitalised": "entities"}
# Scores the steering guard (handlers.guard), not a model: no engine starts.


@dataclass(frozen=True, slots=True)
class EvalOptions:
    task: str
    data: Path
    adapter: str | None = None  # a customization ID; None with neither flag = the default one
    zero_shot: bool = False
    few_shot: int = 0
    predictions: Path | None = None
    batch_size: int = 32
    progress: bool = True
    baseline: str | None = None  # one of BASELINES: score without a model (no engine starts)
    drafts: bool = False  # injection: the whole pipeline on the engine, reported on the drafts


def load_examples(task: str, path: Path) -> list[dict[str, Any]]:
    """Read and check every line up front, so a bad file fails before the engine starts."""
    if task == "analysis":
        return analysis_eval.load_examples(path)
    required = {
        "sentiment": ("text", "label"),
        "entities": ("text", "entities"),
        "reply": ("text",),
        "persona": ("text",),
        "topic": ("body", "label"),
    }[task]
    examples = []
    for number, example in read_jsonl(path):
        missing = [k for k in required if k not in example]
        if missing:
            raise ConfigurationError(f"{path}:{number}: missing {missing}")
        if task == "sentiment" and example["label"] not in SENTIMENTS:
            raise ConfigurationError(f"{path}:{number}: label must be one of {SENTIMENTS}")
        if task == "entities" and not isinstance(example["entities"], dict):
            raise ConfigurationError(f"{path}:{number}: entities must be an object")
        examples.append(example)
    if not examples:
        raise ConfigurationError(f"{path} holds no examples")
    return examples


def few_shot_examples(task: str, k: int) -> list[tuple[EmailText, str]]:
    """K solved examples from the project's own generator (train split), for prompting."""
    from models.synth.emails import entity_examples, sentiment_examples

    if task == "sentiment":
        return [(_email(e["text"]), e["label"]) for e in sentiment_examples(k, seed=0)]
    if task == "entities":
        return [(_email(e["text"]), entities.answer(e["entities"]))
                for e in entity_examples(k, seed=0)]
    raise ConfigurationError("--few-shot applies to sentiment and entities")


def _email(text: str) -> EmailText:
    return EmailText(message_id="eval", subject="", body=text)


async def run_eval(settings: Settings, options: EvalOptions) -> dict[str, Any]:
    task = options.task
    if task == INJECTION:
        if options.drafts:
            return await run_injection_drafts(settings, str(options.data),
                                              batch_size=options.batch_size,
                                              predictions=options.predictions,
                                              progress=options.progress)
        return run_injection_eval(options.data, options.predictions)
    if options.drafts:
        raise ConfigurationError("--drafts goes with --task injection only")
    if task == guard_model.TASK:  # the rules and the adapter, on the injection data
        return await run_steering_eval(settings, str(options.data), options.adapter,
                                       options.zero_shot, options.batch_size,
                                       settings.steering_threshold, options.predictions,
                                       options.progress)
    if task not in TASKS:
        raise ConfigurationError(f"--task must be one of {TASKS}")
    if options.baseline is not None:
        return run_baseline(options)
    examples = load_examples(task, options.data)
    if options.zero_shot or options.few_shot:
        adapter, mode = None, f"few-shot-{options.few_shot}" if options.few_shot else "zero-shot"
    else:
        defaults = task_adapters(settings.model_copy(update={"tasks": (task,), "adapters": None}))
        adapter = options.adapter or defaults.get(task)
        mode = "adapter" if adapter else "zero-shot"
    shots = few_shot_examples(task, options.few_shot) if options.few_shot else []
    scoped = settings.model_copy(update={"adapters": {task: adapter} if adapter else {},
                                         "tasks": ("sentiment", "reply", task)})
    build, parse, score = _task_functions(task, adapter, shots, settings.reply_max_tokens)
    predictions: list[Any] = []
    prompt_tokens = completion_tokens = 0
    started = time.perf_counter()
    engine: Engine = build_engine(scoped)
    async with engine:
        bar = tqdm(total=len(examples), desc=f"eval {task}", disable=not options.progress,
                   unit="ex")
        for start in range(0, len(examples), options.batch_size):
            chunk = examples[start : start + options.batch_size]
            results = await engine.generate([build(example) for example in chunk])
            for example, result in zip(chunk, results, strict=True):
                prompt_tokens += result.prompt_tokens
                completion_tokens += result.completion_tokens
                predictions.append(parse(example, result))
            bar.update(len(chunk))
        bar.close()
    seconds = time.perf_counter() - started
    report = score(examples, predictions)
    report.update(
        engine=engine.name,
        mode=mode,
        adapter=adapter,
        seconds=round(seconds, 2),
        prompt_tokens_per_example=round(prompt_tokens / len(examples), 1),
        completion_tokens_per_example=round(completion_tokens / len(examples), 1),
    )
    if options.predictions is not None:
        write_predictions(options.predictions, examples, predictions)
    return report


Build = Callable[[dict[str, Any]], GenerateRequest]
Parse = Callable[[dict[str, Any], GenerateResult], Any]
Score = Callable[[Sequence[dict[str, Any]], Sequence[Any]], dict[str, Any]]


def _task_functions(
    task: str, adapter: str | None, shots: list[tuple[EmailText, str]], max_tokens: int
) -> tuple[Build, Parse, Score]:
    def guarded(parse: Callable[[dict[str, Any], GenerateResult], Any]) -> Parse:
        def run(example: dict[str, Any], result: GenerateResult) -> Any:
            try:
                return parse(example, result)
            except OutputError:
                return None  # unusable output counts as wrong

        return run

    if task == "sentiment":
        return (
            lambda e: sentiment.build_request(_email(e["text"]), adapter, shots),
            guarded(lambda e, r: sentiment.parse(r)),
            lambda ex, pr: scoring.sentiment_report([e["label"] for e in ex], pr),
        )
    if task == "topic":  # accuracy against the rows' case, and which cases it confuses
        return (lambda e: topic_model.build_request(topic_model.row_email(e), adapter),
                guarded(lambda e, r: topic_model.parse(r)),
                lambda ex, pr: scoring.sentiment_report([e["label"] for e in ex], pr,
                                                        list(topic_model.CASES), "topic"))
    if task == "analysis":
        return (lambda e: analysis_eval.build_one(e, adapter, shots),
                guarded(analysis_eval.parse_one), analysis_eval.report)
    if task == "entities":
        return (
            lambda e: entities.build_request(_email(e["text"]), adapter, shots),
            guarded(lambda e, r: entities.parse(r, _email(e["text"])).as_dict()),
            lambda ex, pr: scoring.entities_report([e["entities"] for e in ex], pr),
        )
    if task == "reply":
        def build_reply(e: dict[str, Any]) -> GenerateRequest:
            found = e.get("entities", {})
            known = Entities(**{f: tuple(found.get(f, [])) for f in ENTITY_FIELDS})
            return reply.build_request(
                _email(e["text"]), e.get("sentiment", "neutral"), known, adapter, max_tokens
            )

        def score_replies(ex: Sequence[dict[str, Any]], pr: Sequence[Any]) -> dict[str, Any]:
            report = scoring.rubric_report("reply", [
                scoring.rubric(_case(e), p) for e, p in zip(ex, pr, strict=True)
            ])
            # Content: whether each draft answers what its email asks (rows from replyd synth).
            answers = answer_report([e.get("reply", "") for e in ex], pr)
            return {**report, **draft_check_report(ex, pr), "answers": answers,
                    "unfamiliar_wording": wording_report(ex, pr)}

        return (build_reply, guarded(lambda e, r: reply.parse(r)), score_replies)
    return (
        lambda e: persona.build_request(e["text"], e.get("persona", "pirate"), adapter, max_tokens),
        guarded(lambda e, r: persona.parse(r)),
        lambda ex, pr: {**scoring.rubric_report("persona", [
            scoring.rubric(_case(e, e.get("persona", "pirate")), p)
            for e, p in zip(ex, pr, strict=True)
        ]), **rewrite_check_report(ex, pr)},
    )


_GREETED = re.compile(r"(?:Hi|Hello|Dear) ([A-Z][\w'-]+),")


def rewrite_check_report(examples: Sequence[dict[str, Any]], rewrites: Sequence[str | None]
                         ) -> dict[str, Any]:
    """``usable`` for persona rewrites: the share passing :func:`handlers.checks.check_rewrite`
    against the draft they rewrite. Persona rows carry no analysis: the name is the one the
    draft greets ("Hi Noor," → Noor), so ``greeting_name`` and ``facts_lost`` check it; products
    are not known here (the rubric scores those)."""
    def failed(example: dict[str, Any], text: str | None) -> tuple[str, ...]:
        greeted = _GREETED.match(example["text"])
        known = Entities(name=(greeted.group(1),) if greeted else ())
        return (check_rewrite(text, example["text"], _email(""), "neutral", known)
                if text else ("empty",))

    return _check_report((failed(e, t) for e, t in zip(examples, rewrites, strict=True)),
                         (*CHECKS, FACTS_LOST, "empty"))


def draft_check_report(examples: Sequence[dict[str, Any]], drafts: Sequence[str | None]
                       ) -> dict[str, Any]:
    """``usable``: the share of drafts that pass every check a draft must pass before it leaves
    the daemon (:func:`handlers.checks.check_draft`), and each check's failure rate. An
    unusable output (None) fails as "empty". ``usable_mended``: the share that pass or that
    :func:`handlers.repair.repair` mends, as the daemon does before any second try."""
    results, mended = [], 0
    for example, draft in zip(examples, drafts, strict=True):
        found = example.get("entities", {})
        known = Entities(**{f: tuple(found.get(f, [])) for f in ENTITY_FIELDS})
        email, mood = _email(example["text"]), example.get("sentiment", "neutral")
        failed = check_draft(draft, email, mood, known) if draft else ("empty",)
        results.append(failed)
        mended += bool(failed and draft and repair(draft, failed, email, mood, known))
    report = _check_report(results, (*CHECKS, "empty"))
    share = (sum(not failed for failed in results) + mended) / max(1, len(results))
    return {**report, "usable_mended": round(share, 4)}


def wording_report(examples: Sequence[dict[str, Any]], drafts: Sequence[str | None]
                   ) -> dict[str, Any]:
    """How often :mod:`handlers.checks_wording` flags a draft (``unfamiliar_wording``): the
    share of drafts and of the reference replies, and per answer kind (the draft carries the
    reference's request's answer, another's or none) how many of how many are flagged, and
    ``after_cut``: what the flagged drafts of each kind carry once cut
    (:func:`handlers.checks_wording.cut`, as ``check_wording`` "cut" sends them; the case is
    read from the email's text, the rows having no subject)."""
    kinds = {kind: {"flagged": 0, "of": 0} for kind in ("right", "other", "none")}
    after_cut = {kind: dict.fromkeys(("right", "other", "none"), 0) for kind in kinds}
    flagged = references = 0
    for example, draft in zip(examples, drafts, strict=True):
        found = example.get("entities", {})
        known = Entities(**{f: tuple(found.get(f, [])) for f in ENTITY_FIELDS})
        hit = bool(draft) and bool(unfamiliar_sentences(draft or "", known))
        flagged += hit
        reference = example.get("reply", "")
        references += bool(reference) and bool(unfamiliar_sentences(reference, known))
        answered = answer_kind(reference, draft)
        if answered is not None:
            kinds[answered]["flagged"] += hit
            kinds[answered]["of"] += 1
        if hit and answered is not None:
            text = example.get("text", "")
            mended = cut(draft or "", known, example.get("sentiment", "neutral"),
                         topic.classify("", text))
            after_cut[answered][answer_kind(reference, mended) or "none"] += 1
    n = max(1, len(drafts))
    return {"share": round(flagged / n, 4), "references": round(references / n, 4), **kinds,
            "after_cut": after_cut}


def _check_report(results: Iterable[tuple[str, ...]], names: Sequence[str]) -> dict[str, Any]:
    """``usable`` (the share of outputs that failed no check) and each check's failure rate,
    from the checks each output failed."""
    failures: dict[str, int] = dict.fromkeys(names, 0)
    usable = n = 0
    for failed in results:
        n += 1
        usable += not failed
        for name in failed:
            failures[name] += 1
    n = max(1, n)
    return {"usable": round(usable / n, 4),
            "check_failure_rates": {name: round(count / n, 4) for name, count in failures.items()}}


def _case(example: dict[str, Any], persona_name: str | None = None) -> scoring.RubricCase:
    found = example.get("entities", {})
    return scoring.RubricCase(
        source_text=example["text"],
        names=found.get("name", []),
        products=found.get("product", []),
        sentiment=example.get("sentiment"),
        persona=persona_name,
    )


# -- baselines: reference figures on the same data, with no model ------------------------------

VADER_POSITIVE_AT_LEAST = 0.05  # the thresholds VADER's authors recommend on "compound"
VADER_NEGATIVE_AT_MOST = -0.05
# Capitalised words that are not names often enough to leave out of the naive entity baseline.
CAPITALISED_STOP = frozenset(
    "I The RT Hi Hello Hey Dear Thanks Thank Please Yes No Ok OK A An My We You It This That "
    "What When Where Why How Happy Good".split()
)
_EDGE = string.punctuation + "\u2018\u2019\u201c\u201d\u2026"
_SENTENCE_END = (".", "!", "?", "\u2026")
_CLOSING = "\"')]\u2019\u201d"


def run_baseline(options: EvalOptions) -> dict[str, Any]:
    """Score ``options.data`` with a reference baseline (no engine): ``lexicon`` is VADER
    (vaderSentiment 3.3.2) for sentiment, ``capitalised`` the naive rule of
    ``capitalised_names`` for entities. The report has the same shape as a model's."""
    baseline, task = options.baseline, options.task
    if baseline not in BASELINES:
        raise ConfigurationError(f"--baseline must be one of {tuple(BASELINES)}")
    if BASELINES[baseline] != task:
        raise ConfigurationError(f"--baseline {baseline} applies to --task {BASELINES[baseline]}")
    examples = load_examples(task, options.data)
    started = time.perf_counter()
    if baseline == "lexicon":
        predict = vader_predictor()
        predictions: list[Any] = [predict(e["text"]) for e in examples]
        report = scoring.sentiment_report([e["label"] for e in examples], predictions)
    else:
        predictions = [capitalised_names(e["text"]) for e in examples]
        report = scoring.entities_report([e["entities"] for e in examples], predictions)
    report.update(
        engine=None,
        mode=f"baseline-{baseline}",
        adapter=None,
        seconds=round(time.perf_counter() - started, 2),
        prompt_tokens_per_example=0.0,
        completion_tokens_per_example=0.0,
    )
    if options.predictions is not None:
        write_predictions(options.predictions, examples, predictions)
    return report


def vader_predictor() -> Callable[[str], str]:
    """VADER's compound score mapped to a label: >= 0.05 positive, <= -0.05 negative, else
    neutral."""
    try:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer
    except ImportError as exc:
        raise ConfigurationError(
            "--baseline lexicon needs vaderSentiment: pip install vaderSentiment==3.3.2"
        ) from exc
    analyzer = SentimentIntensityAnalyzer()

    def predict(text: str) -> str:
        compound = analyzer.polarity_scores(text)["compound"]
        if compound >= VADER_POSITIVE_AT_LEAST:
            return "positive"
        if compound <= VADER_NEGATIVE_AT_MOST:
            return "negative"
        return "neutral"

    return predict


def capitalised_names(text: str) -> dict[str, list[str]]:
    """A deliberately naive reference, not a model: every maximal run of Capitalised words is a
    ``name``. A word (split on whitespace, edge punctuation ignored) is Capitalised when it is an
    upper-case letter followed by at least one lower-case one; the first word of a sentence,
    the words of ``CAPITALISED_STOP`` and @mentions, #hashtags and links never are. A word
    ending in punctuation ends its run. Products and locations are never predicted."""
    names: list[str] = []
    run: list[str] = []

    def close() -> None:
        if run and " ".join(run) not in names:
            names.append(" ".join(run))
        run.clear()

    sentence_start = True
    for raw in text.split():
        word = raw.strip(_EDGE)
        if not sentence_start and _capitalised(raw, word):
            run.append(word)
        else:
            close()
        if raw[-1] in _EDGE:
            close()
        ends = raw.rstrip(_CLOSING).endswith(_SENTENCE_END)
        # A token of punctuation alone (a closing quote after the full stop) keeps the state.
        sentence_start = ends or (sentence_start and not word)
    close()
    return {"name": names, "product": [], "location": []}


def _capitalised(raw: str, word: str) -> bool:
    return (
        len(word) > 1
        and word[0].isupper()
        and any(c.islower() for c in word[1:])
        and word not in CAPITALISED_STOP
        and not raw.startswith(("@", "#", "http"))
    )
