"""`replyd eval --task steering`: the guard as the pipeline runs it, the rules (handlers.guard)
and the steering adapter (handlers.guard_model) together, on the injection evaluation's data.

An example counts as flagged when either flags it, as in the pipeline. The report holds the
figures of :func:`daemon.tools.injection_eval.injection_report` for that verdict, plus each
reader's own recall and false-positive rate, and how many attacks only the adapter found and
how many benign emails only it flagged (docs/INJECTION.md).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from tqdm import tqdm

from daemon.service.build import build_engine, registry_for
from daemon.settings import Settings
from daemon.tools.injection_eval import guard_verdicts, injection_report, load_injections
from daemon.tools.jsonl import write_predictions
from handlers import guard_model
from models.engines.base import Engine, GenerateResult
from models.errors import ConfigurationError
from models.synth.injections import ATTACK, BENIGN

# The adapter's thresholds the report sweeps (rules or adapter, per data source).
SWEEP = (0.5, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99, 0.995)


async def run_steering_eval(settings: Settings, data: str, adapter: str | None,
                            zero_shot: bool = False, batch_size: int = 32,
                            threshold: float = guard_model.THRESHOLD,
                            predictions: Path | None = None, progress: bool = True
                            ) -> dict[str, Any]:
    """The rules and the steering adapter (``adapter``, else the registry's default; the bare
    base model with ``zero_shot``) on every example ``data`` names."""
    if batch_size < 1:
        raise ConfigurationError("--batch must be at least 1")
    examples = load_injections(data)
    if not zero_shot and adapter is None:
        adapter = registry_for(settings).defaults().get(guard_model.TASK)
        if adapter is None:
            raise ConfigurationError("the registry has no steering adapter; name one with "
                                     "--adapter or use --zero-shot")
    scoped = settings.model_copy(update={
        "adapters": {guard_model.TASK: adapter} if adapter else {},
        "tasks": ("sentiment", "reply", guard_model.TASK), "steering_adapter": True})
    rules = guard_verdicts(examples)
    scores: list[float] = []
    started = time.perf_counter()
    engine: Engine = build_engine(scoped)
    async with engine:
        bar = tqdm(total=len(examples), desc="eval steering", disable=not progress, unit="ex")
        for start in range(0, len(examples), batch_size):
            chunk = examples[start : start + batch_size]
            results = await engine.generate([
                guard_model.build_request(guard_model.row_email(e), adapter) for e in chunk])
            scores += [_score(result) for result in results]
            bar.update(len(chunk))
        bar.close()
    said = [s >= threshold for s in scores]
    flagged = [r or s for r, s in zip(rules, said, strict=True)]
    both = list(zip(rules, scores, strict=True))
    report = injection_report(examples, flagged)
    labels = [e["label"] for e in examples]
    report.update(
        task=guard_model.TASK, engine=engine.name, adapter=adapter,
        mode="zero-shot" if zero_shot else "rules+adapter",
        rules=_figures(labels, rules), adapter_alone=_figures(labels, said),
        per_source_readers={source: {"rules": _figures(labels, rules, part),
                                     "adapter": _figures(labels, said, part)}
                            for source in dict.fromkeys(e.get("source") for e in examples)
                            for part in [[e.get("source") == source for e in examples]]},
        found_only_by_adapter=sum(s and not r and lab == ATTACK
                                  for r, s, lab in zip(rules, said, labels, strict=True)),
        flagged_only_by_adapter=sum(s and not r and lab == BENIGN
                                    for r, s, lab in zip(rules, said, labels, strict=True)),
        threshold=threshold,
        thresholds={str(t): {source: _figures(labels, [r or s >= t for r, s in both], part)
                             for source in dict.fromkeys(e.get("source") for e in examples)
                             for part in [[e.get("source") == source for e in examples]]}
                    for t in SWEEP},
        seconds=round(time.perf_counter() - started, 2))
    if predictions is not None:
        write_predictions(predictions, examples, [
            {"flagged": f, "rules": r, "adapter": s, "score": round(p, 4)}
            for f, r, s, p in zip(flagged, rules, said, scores, strict=True)])
    return report


def _score(result: GenerateResult) -> float:
    """The adapter's P(yes); where the engine gave no logprobs, its answer as 1.0 or 0.0."""
    p = guard_model.score(result)
    return p if p is not None else float(guard_model.steers(result))


def _figures(labels: list[str], verdicts: list[bool], part: list[bool] | None = None
             ) -> dict[str, float | None]:
    """Recall and false-positive rate of ``verdicts`` (on the examples ``part`` keeps)."""
    rows = [(v, lab) for k, (v, lab) in enumerate(zip(verdicts, labels, strict=True))
            if part is None or part[k]]
    attacks = [v for v, lab in rows if lab == ATTACK]
    benign = [v for v, lab in rows if lab == BENIGN]
    return {"recall": round(sum(attacks) / len(attacks), 4) if attacks else None,
            "false_positive_rate": round(sum(benign) / len(benign), 4) if benign else None}
