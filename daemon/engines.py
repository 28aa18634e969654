"""Settings → an engine instance. Engine modules are imported lazily: vLLM and torch are heavy,
and the echo engine needs neither."""

from __future__ import annotations

from daemon.settings import Settings
from handlers.pipeline import PipelineConfig
from models.engine import Engine


def build_engine(settings: Settings) -> Engine:
    """The engine ``settings.engine`` names, on the configured (or default) base model."""
    if settings.engine == "echo":
        from models.echo import EchoEngine

        return EchoEngine(delay_ms=settings.echo_delay_ms)
    from models.base_model import resolve_base_model

    model_path = resolve_base_model(settings.base_model_path, settings.model_cache_dir)
    if settings.engine == "vllm":
        from models.vllm_engine import VllmEngine

        return VllmEngine(
            model_path,
            dtype=settings.dtype,
            max_model_len=settings.max_model_len,
            max_num_seqs=settings.engine_max_num_seqs,
            kv_cache_gib=settings.vllm_kv_cache_gib,
        )
    from models.peft_engine import PeftEngine

    return PeftEngine(
        model_path,
        dtype="float32" if settings.dtype == "auto" else settings.dtype,
        max_batch_size=settings.max_batch_size,
        torch_threads=settings.torch_threads,
    )


def build_pipeline_config(settings: Settings) -> PipelineConfig:
    """The pipeline the settings describe (adapters come with the registry; none yet)."""
    return PipelineConfig(
        tasks=settings.tasks,
        persona=settings.persona if "persona" in settings.tasks else None,
        reply_max_tokens=settings.reply_max_tokens,
    )
