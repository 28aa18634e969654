"""Process-wide garbage-collector settings for a serving process."""

from __future__ import annotations

import gc

# Young-generation threshold while serving (Python's default is 700).
GC_GEN0_THRESHOLD = 50_000


def tune_gc(gen0_threshold: int = GC_GEN0_THRESHOLD) -> None:
    """Apply the serving collector settings, once everything long-lived exists.

    A batch allocates tens of container objects per email that live until the batch is
    published. At the default threshold the young collection runs every 700 of them, promotes
    the batch's live objects, and every few batches a full collection walks the whole heap:
    libraries, clients and the engine's objects included (what that costs per email is in
    docs/BENCHMARKS.md). ``gc.freeze`` moves what is alive now out of the collector's reach (it
    stays alive anyway); the higher threshold still finds reference cycles, only after
    ``gen0_threshold`` net allocations instead of 700."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(gen0_threshold, *gc.get_threshold()[1:])
