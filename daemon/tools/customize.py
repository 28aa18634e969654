"""``replyd synth``, ``replyd train`` and ``replyd adapters``: making and inspecting adapters.

Training data is rendered here, in the CLI layer, with the handlers' own ``messages()``
functions, so an adapter is trained on exactly the prompt it is served with;
``models.customize.training`` only sees chat messages and completions. The held-out task figures
(sentiment accuracy, entity micro-F1, rewrite match) are measured through the peft engine and the
handlers' parsers, i.e. the serving path, on the trained adapter before it is registered, and
stored in its manifest.

"""

from __future__ import annotations

import argparse
import asyncio
import difflib
import itertools
import json
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from daemon.tools.jsonl import read_jsonl, write_jsonl
from handlers import analysis as analysis_handler
from handlers import entities as entities_handler
from handlers import guard_model, scoring, topic_model
from handlers import persona as persona_handler
from handlers import reply as reply_handler
from handlers import sentiment as sentiment_handler
from handlers.types import ENTITY_FIELDS, SENTIMENTS, EmailText, Entities
from models.customize.registry import DEFAULT_ROOT, WEIGHTS_FILE, Manifest, Registry
from models.engines.base import AdapterInfo, GenerateRequest, GenerateResult
from models.errors import ConfigurationError, OutputError
from models.files import sha256_file

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2
META_SUFFIX = ".meta.json"
_CANDIDATE = "candidate"  # the engine's name for an adapter that has no customization ID yet
_REWRITE_MAX_TOKENS = 192


# -- synth --------------------------------------------------------------------------------------


def cmd_synth(args: argparse.Namespace) -> int:
    """Write the dataset and a ``.meta.json`` recording how it was generated."""
    from models.synth.datasets import write_dataset

    if args.n < 1:
        raise ConfigurationError("--emails must be at least 1")
    if args.teacher_url and args.task not in ("sentiment", "entities", "reply"):
        raise ConfigurationError(
            f"--teacher-url rewrites customer messages; task {args.task!r} has none to rewrite"
        )
    if not 0.0 <= args.teacher_fraction <= 1.0:
        raise ConfigurationError("--teacher-fraction must be within [0, 1]")
    more_cases = getattr(args, "more_cases", False)
    added = getattr(args, "more_cases_added", False)
    paraphrased = getattr(args, "paraphrased", False)
    if (more_cases or added or paraphrased) and args.task != "reply":
        raise ConfigurationError("--more-cases and --paraphrased write reply rows; use them with "
                                 "--task reply")
    try:
        count = write_dataset(args.task, args.n, args.seed, args.split, args.out,
                              more_cases=more_cases, added=added, paraphrased=paraphrased)
    except ValueError as error:
        raise ConfigurationError(str(error)) from error
    meta: dict[str, Any] = {"generator": "models.synth.emails", "task": args.task, "n": args.n,
                            "seed": args.seed, "split": args.split}
    if more_cases or added:
        meta["more_cases"] = "added" if added else True
    if paraphrased:
        meta["paraphrased"] = True
    if args.teacher_url:
        meta["teacher"] = asyncio.run(_teach(args))
    meta["sha256"] = sha256_file(args.out)
    _meta_path(args.out).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {count} {args.task} rows ({args.split}, seed {args.seed}) to {args.out}")
    return EXIT_OK


async def _teach(args: argparse.Namespace) -> dict[str, Any]:
    """Rewrite the rows just written through the teacher; returns the generator record part."""
    from models.customize import teacher
    from models.engines.openai_engine import OpenAIEngine

    api_key = teacher_api_key(args.teacher_api_key_file)
    model = args.teacher_model or await _first_served_model(args.teacher_url, api_key)
    rows = [row for _, row in read_jsonl(args.out)]
    engine = OpenAIEngine([args.teacher_url], model, api_key=api_key,
                          max_concurrency=16, timeout_s=120)
    async with engine:
        rewritten, stats = await teacher.rewrite(rows, engine, fraction=args.teacher_fraction,
                                                 seed=args.seed, progress=True)
    write_jsonl(rewritten, args.out)
    summary = stats.as_dict()
    print(f"teacher {model}: {json.dumps(summary)}")
    return {"url": args.teacher_url, "model": model, "fraction": args.teacher_fraction, **summary}


def teacher_api_key(path: Path | None) -> str | None:
    """The teacher's bearer token: from ``path`` when given, else ``REPLYD_TEACHER_API_KEY``."""
    if path is not None:
        try:
            return path.read_text(encoding="utf-8").strip() or None
        except OSError as exc:
            # Not the path: "--teacher-api-key SECRET" abbreviates the file flag.
            raise ConfigurationError("cannot read the file given as --teacher-api-key-file: "
                                     f"{exc.strerror}") from None
    return os.environ.get("REPLYD_TEACHER_API_KEY") or None


async def _first_served_model(url: str, api_key: str | None) -> str:
    import httpx

    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    base = url.rstrip("/").removesuffix("/v1")
    try:
        async with httpx.AsyncClient(timeout=30) as client:
            response = await client.get(f"{base}/v1/models", headers=headers)
            response.raise_for_status()
            models = [m["id"] for m in response.json()["data"]]
    except (httpx.HTTPError, KeyError, TypeError, ValueError) as error:
        raise ConfigurationError(f"cannot list the teacher's models at {base}: {error}") from error
    if not models:
        raise ConfigurationError(f"the teacher at {base} serves no model")
    return models[0]


def _meta_path(data: Path) -> Path:
    return data.with_name(data.name + META_SUFFIX)


def _provenance(data: Path) -> dict[str, Any] | None:
    """The generator record of a synth file, if it has one and the file is unchanged."""
    meta_path = _meta_path(data)
    if not meta_path.is_file():
        return None
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ConfigurationError(f"unreadable {meta_path}: {error}") from error
    if meta.get("sha256") != sha256_file(data):
        raise ConfigurationError(
            f"{data} changed since {meta_path} was written; regenerate it or delete the .meta.json"
        )
    return {key: meta[key] for key in ("generator", "seed", "split", "n", "more_cases",
                                        "paraphrased", "teacher") if key in meta}


# -- rendering training rows --------------------------------------------------------------------


def _email(text: str) -> EmailText:
    return EmailText(message_id="train", subject="", body=text)


def _entities(values: Mapping[str, Sequence[str]]) -> Entities:
    return Entities(**{name: tuple(values.get(name, ())) for name in ENTITY_FIELDS})


def render_row(task: str, row: Mapping[str, Any]) -> tuple[Any, str]:
    """One JSONL row → (chat messages, completion), with the task handler's own prompt."""
    if task == "sentiment":
        if row["label"] not in SENTIMENTS:
            raise ValueError(f"label {row['label']!r} is not one of {SENTIMENTS}")
        return sentiment_handler.messages(_email(row["text"])), row["label"]
    if task == "entities":
        # The handler's answer: the JSON the engines' schema grammar lets the model write.
        completion = entities_handler.answer(row["entities"])
        return entities_handler.messages(_email(row["text"])), completion
    if task == "reply":
        messages = reply_handler.messages(_email(row["text"]), row["sentiment"],
                                          _entities(row["entities"]))
        return messages, row["reply"]
    if task == "persona":
        return persona_handler.messages(row["text"], row["persona"]), row["rewrite"]
    if task == "analysis":
        completion = analysis_handler.answer(row["label"], row["entities"])
        return analysis_handler.messages(_email(row["text"])), completion
    if task == "topic":
        return topic_model.render(row)
    if task == "steering":
        return guard_model.render(row)
    raise ValueError(f"unknown task {task!r}")


def load_rows(path: Path, limit: int | None = None) -> list[dict[str, Any]]:
    """The JSON objects of a JSONL file, at most ``limit``; ``ConfigurationError`` naming the
    bad line."""
    return [row for _, row in itertools.islice(read_jsonl(path), limit)]


def render_examples(task: str, rows: Sequence[Mapping[str, Any]], path: Path) -> list[Any]:
    """Every row as a ``models.customize.training.Example``; ``ConfigurationError`` names a bad
    row."""
    from models.customize.training import Example

    examples = []
    for number, row in enumerate(rows, start=1):
        try:
            messages, completion = render_row(task, row)
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise ConfigurationError(
                f"{path}: row {number} is not a valid {task} row: {error!r}"
            ) from error
        examples.append(Example(messages=messages, completion=completion))
    return examples


# -- held-out task figures ----------------------------------------------------------------------


def _requests(task: str, rows: Sequence[Mapping[str, Any]], adapter: str) -> list[GenerateRequest]:
    if task == "sentiment":
        return [sentiment_handler.build_request(_email(r["text"]), adapter) for r in rows]
    if task == "entities":
        return [entities_handler.build_request(_email(r["text"]), adapter) for r in rows]
    if task == "analysis":
        return [analysis_handler.build_request(_email(r["text"]), adapter) for r in rows]
    if task == "topic":
        return [topic_model.build_request(topic_model.row_email(r), adapter) for r in rows]
    if task == "steering":
        return [guard_model.build_request(guard_model.row_email(r), adapter) for r in rows]
    if task == "persona":
        return [persona_handler.build_request(r["text"], r["persona"], adapter,
                                              _REWRITE_MAX_TOKENS) for r in rows]
    return [reply_handler.build_request(_email(r["text"]), r["sentiment"],
                                        _entities(r["entities"]), adapter, _REWRITE_MAX_TOKENS)
            for r in rows]


def score(task: str, rows: Sequence[Mapping[str, Any]],
          results: Sequence[GenerateResult]) -> dict[str, Any]:
    """Task figures of generated outputs against the rows' labels, via the handlers' parsers.

    sentiment and topic: accuracy (an unparseable output counts as wrong); steering: accuracy,
    recall on attacks and the false-positive rate on benign rows; entities: micro-F1 over
    (field, normalised value) pairs and whole-answer exact match; persona/reply: exact match and
    mean character similarity (difflib ratio) to the reference text.
    """
    n = len(rows)
    if task == "analysis":
        from daemon.tools import analysis_eval

        return analysis_eval.score(rows, results)
    if task in ("sentiment", "topic"):
        parse_label = sentiment_handler.parse if task == "sentiment" else topic_model.parse
        correct = 0
        for row, result in zip(rows, results, strict=True):
            try:
                correct += parse_label(result) == row["label"]
            except OutputError:
                continue  # counted as wrong: that is the figure's meaning
        return {"accuracy": round(correct / n, 4), "accuracy_examples": n}
    if task == "steering":
        said = [guard_model.steers(result) for result in results]
        attacks = [s for s, row in zip(said, rows, strict=True) if row["label"] == "attack"]
        benign = [s for s, row in zip(said, rows, strict=True) if row["label"] != "attack"]
        return {"accuracy": round(sum(s == (row["label"] == "attack")
                                      for s, row in zip(said, rows, strict=True)) / n, 4),
                "recall": round(sum(attacks) / len(attacks), 4) if attacks else None,
                "false_positive_rate": round(sum(benign) / len(benign), 4) if benign else None,
                "accuracy_examples": n}
    if task == "entities":
        gold = [row["entities"] for row in rows]
        found: list[Mapping[str, Sequence[str]] | None] = []
        for row, result in zip(rows, results, strict=True):
            try:
                found.append(entities_handler.parse(result, _email(row["text"])).as_dict())
            except OutputError:
                found.append(None)  # no pairs: every gold entity counts as missed
        report = scoring.entities_report(gold, found)
        exact = sum(scoring.entity_pairs(g) == scoring.entity_pairs(f or {})
                    for g, f in zip(gold, found, strict=True))
        return {"micro_f1": report["f1"], "precision": report["precision"],
                "recall": report["recall"], "exact_match": round(exact / n, 4),
                "f1_examples": n}
    key = "rewrite" if task == "persona" else "reply"
    parse = persona_handler.parse if task == "persona" else reply_handler.parse
    texts = []
    for result in results:
        try:
            texts.append(parse(result))
        except OutputError:
            texts.append("")  # an empty output scores 0 on both figures
    exact = sum(text == row[key].strip() for text, row in zip(texts, rows, strict=True))
    ratio = sum(difflib.SequenceMatcher(None, text, row[key].strip()).ratio()
                for text, row in zip(texts, rows, strict=True))
    return {"exact_match": round(exact / n, 4), "similarity": round(ratio / n, 4),
            "generation_examples": n}


def evaluator(task: str, method: str, model_dir: Path, rows: Sequence[Mapping[str, Any]],
              torch_threads: int) -> Callable[[Path], dict[str, Any]]:
    """A callback that scores a saved adapter folder on ``rows`` through the peft engine."""

    def evaluate(adapter_dir: Path) -> dict[str, Any]:
        from models.engines.peft_engine import PeftEngine

        info = AdapterInfo(_CANDIDATE, task, method, str(adapter_dir))
        engine = PeftEngine(model_dir, {_CANDIDATE: info}, dtype="float32",
                            max_batch_size=16, torch_threads=torch_threads)

        async def run() -> list[GenerateResult]:
            async with engine:
                return await engine.generate(_requests(task, rows, _CANDIDATE))

        return score(task, rows, asyncio.run(run()))

    return evaluate


# -- train --------------------------------------------------------------------------------------


def cmd_train(args: argparse.Namespace) -> int:
    """Render, train, score on the eval rows, register; print the new ID last."""
    from daemon.settings import load_settings
    from models.base_model import resolve_base_model
    from models.customize.training import TrainConfig, train_and_register

    if args.eval_limit is not None and args.eval_limit < 1:
        raise ConfigurationError("--eval-limit must be at least 1")
    rows = load_rows(args.data)
    if not rows:
        raise ConfigurationError(f"{args.data} has no rows")
    examples = render_examples(args.task, rows, args.data)
    eval_rows = load_rows(args.eval_data, args.eval_limit) if args.eval_data else []
    eval_examples = render_examples(args.task, eval_rows, args.eval_data) if eval_rows else None
    config = TrainConfig(
        method=args.method, rank=args.rank,
        alpha=args.alpha if args.alpha is not None else 2 * args.rank,
        layers=args.layers, num_virtual_tokens=args.virtual_tokens, epochs=args.epochs,
        lr=args.lr, batch_size=args.batch_size, max_len=args.max_len, seed=args.seed,
        torch_threads=args.torch_threads,
    )
    settings = load_settings(None, base_model_path=args.base_model_path,
                             model_cache_dir=args.model_cache_dir)
    model_dir = resolve_base_model(settings.base_model_path, settings.model_cache_dir)
    registry = Registry(args.registry or DEFAULT_ROOT)
    data: dict[str, Any] = {"file_rows": len(rows), "generator": _provenance(args.data)}
    if args.eval_data:
        data.update(eval_data_sha256=sha256_file(args.eval_data), eval_rows=len(eval_rows),
                    eval_generator=_provenance(args.eval_data))
    evaluate = (evaluator(args.task, args.method, model_dir, eval_rows, args.torch_threads)
                if eval_rows else None)
    manifest, result = train_and_register(
        registry, task=args.task, model_dir=model_dir, examples=examples, config=config,
        data_sha256=sha256_file(args.data), data=data, eval_examples=eval_examples,
        evaluate=evaluate, progress=not args.quiet,
    )
    if args.set_default:
        registry.set_default(args.task, manifest.id)
    folder = registry.path(manifest.id)
    print(f"trained {manifest.task}/{manifest.method} on {result.train_examples} examples "
          f"({result.steps} steps, {result.wall_s:.0f}s)")
    print(f"held-out: {json.dumps(manifest.eval, sort_keys=True)}")
    print(f"adapter: {folder} ({(folder / WEIGHTS_FILE).stat().st_size} bytes of weights)"
          + (" [default]" if args.set_default else ""))
    print(manifest.id)
    return EXIT_OK


# -- adapters -----------------------------------------------------------------------------------


def _summary(registry: Registry, manifest: Manifest, defaults: Mapping[str, str]) -> dict[str, Any]:
    folder = registry.path(manifest.id)
    return {
        **manifest.to_dict(),
        "sha256": manifest.weights_sha256,
        "size_bytes": (folder / WEIGHTS_FILE).stat().st_size,
        "path": str(folder),
        "default": defaults.get(manifest.task) == manifest.id,
    }


def cmd_adapters_list(args: argparse.Namespace) -> int:
    """Every adapter: a table, or with ``--json`` a JSON array of full manifests."""
    registry = Registry(args.registry or DEFAULT_ROOT)
    defaults = registry.defaults()
    rows = [_summary(registry, m, defaults) for m in registry.list()]
    if args.json:
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return EXIT_OK
    if not rows:
        print(f"no adapters in {registry.root}")
        return EXIT_OK
    print(f"{'customization id':<40} {'task':<10} {'method':<8} {'bytes':>9}  default")
    for row in rows:
        print(f"{row['id']:<40} {row['task']:<10} {row['method']:<8} {row['size_bytes']:>9}  "
              f"{'yes' if row['default'] else ''}")
    return EXIT_OK


def cmd_adapters_show(args: argparse.Namespace) -> int:
    """One adapter's manifest, with its folder, weights hash and size."""
    registry = Registry(args.registry or DEFAULT_ROOT)
    row = _summary(registry, registry.get(args.id), registry.defaults())
    print(json.dumps(row, indent=2, ensure_ascii=False))
    return EXIT_OK


def cmd_adapters_verify(args: argparse.Namespace) -> int:
    """Exit 1 with every problem listed when any file differs from its manifest."""
    registry = Registry(args.registry or DEFAULT_ROOT)
    problems = registry.verify(args.id)
    if problems:
        for problem in problems:
            print(f"FAIL {problem}")
        return EXIT_FAILURE
    count = 1 if args.id else len(registry.list())
    print(f"ok: {count} adapter(s) in {registry.root} match their manifests")
    return EXIT_OK


def cmd_adapters_push(args: argparse.Namespace) -> int:
    """Load an adapter into running vLLM servers and verify it answers (``adapters_push``)."""
    from daemon.tools.adapters_push import cmd_adapters_push as push

    return push(args)
