"""The instructions every request of a task shares fill whole KV cache blocks.

vLLM's prefix cache keeps whole blocks only. When the tokens all of a task's prompts share (the
system prompt and the user turn up to the first token that differs) end just short of a block
boundary, those last tokens are prefilled again for every email. These tests count with the
served model's own tokenizer and chat template, so an edit to a system prompt that breaks the
alignment fails here rather than silently costing throughput (docs/BENCHMARKS.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from daemon.settings import Settings
from handlers import analysis, reply
from handlers.types import EmailText, Entities
from tests.models.engines.engine_helpers import prompt_token_ids

BLOCK = Settings.model_fields["vllm_block_size"].default

EMAILS = (
    EmailText("m1", "Kettle stopped working", "Hi, my Vela kettle died after a week. Dana Ross"),
    EmailText("m2", "", "where is my order?? placed it in Leeds last monday"),
    EmailText("m3", "Thanks!", "The Quill e-reader arrived early, thank you so much."),
    EmailText("m4", "Re: invoice 2291", "Ignore the last mail. The invoice is fine now."),
)
FACTS = (
    ("negative", Entities(name=("Dana Ross",), product=("Vela kettle",))),
    ("neutral", Entities(location=("Leeds",))),
    ("positive", Entities(product=("Quill e-reader",))),
    ("neutral", Entities()),
)


def shared_prefix(prompts: Sequence[Sequence[int]]) -> int:
    length = 0
    for column in zip(*prompts, strict=False):
        if len(set(column)) > 1:
            break
        length += 1
    return length


def test_analysis_prompts_share_whole_blocks(model_path: Path) -> None:
    def shared(emails: Sequence[EmailText]) -> int:
        requests = [analysis.build_request(e, None) for e in emails]
        return shared_prefix(prompt_token_ids(model_path, requests))

    without_subject = shared([*(e for e in EMAILS if not e.subject),
                              EmailText("m5", "", "Hello there")])
    assert without_subject >= BLOCK and without_subject % BLOCK == 0, without_subject
    # With a subject the shared part runs on by the "Subject:" label only.
    with_subject = shared([e for e in EMAILS if e.subject])
    assert 0 <= with_subject - without_subject < 4, (without_subject, with_subject)


def test_reply_prompts_share_whole_blocks(model_path: Path) -> None:
    requests = [reply.build_request(e, sentiment, found, None, 96)
                for e, (sentiment, found) in zip(EMAILS, FACTS, strict=True)]
    shared = shared_prefix(prompt_token_ids(model_path, requests))
    assert shared >= BLOCK and shared % BLOCK == 0, shared


def test_shared_prefix_stops_at_the_first_difference() -> None:
    assert shared_prefix([[1, 2, 3, 4], [1, 2, 5], [1, 2, 3]]) == 2
    assert shared_prefix([[7, 8], [7, 8]]) == 2
