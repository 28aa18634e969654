"""The second readers: small adapters that read each email beside the first stage, in the same
engine call, one short constrained request each. The request adapter
(:mod:`handlers.topic_model`) reads what the email asks for; the steering adapter
(:mod:`handlers.guard_model`) whether it tries to steer the model. Each runs only where the
pipeline has its adapter (the registry's default, settings ``request_adapter`` and
``steering_adapter``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

from handlers import guard_model, topic_model
from handlers.prepare import Prepared
from handlers.types import Sentiment
from models.engines.base import GenerateRequest, GenerateResult

READERS: tuple[str, ...] = (topic_model.TASK, guard_model.TASK)


def requests(asked: Sequence[str], adapter: Callable[[str], str | None],
             prepared: Sequence[Prepared]) -> list[GenerateRequest]:
    """One request per email for each reader in ``asked``, reader by reader. The request
    adapter reads what the stages quote (the new text); the steering adapter what the rules
    read, the email as it arrived (:attr:`Prepared.arrived`)."""
    out: list[GenerateRequest] = []
    for task in asked:
        if task == topic_model.TASK:
            out += [topic_model.build_request(p.text, adapter(task)) for p in prepared]
        else:
            out += [guard_model.build_request(p.arrived or p.text, adapter(task))
                    for p in prepared]
    return out


def apply(task: str, prepared: Prepared, result: GenerateResult, mood: Sentiment | None,
          threshold: float = guard_model.THRESHOLD) -> Prepared:
    """``prepared`` after reader ``task``'s answer: the request read again
    (:func:`handlers.topic_model.reread`), or ``steering`` set when the steering adapter's
    P(yes) reaches ``threshold`` (:func:`handlers.guard_model.steers`); it never clears what the
    rules found."""
    if task == topic_model.TASK:
        return topic_model.reread(prepared, result, mood)
    steers = guard_model.steers(result, threshold)
    return dataclasses.replace(prepared, steering=True) if steers else prepared
