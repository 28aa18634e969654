"""Settings → an engine instance. Engine modules are imported lazily: vLLM and torch are heavy,
and the echo engine needs neither."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Literal

from pydantic import SecretStr

from daemon.extras import requires_extra
from daemon.settings import Settings
from handlers import reply
from handlers.pipeline import PipelineConfig
from models.customize.registry import Registry
from models.engines.base import AdapterInfo, Engine, tokenizer_counter
from models.errors import AdapterError, ConfigurationError


def task_adapters(settings: Settings) -> dict[str, str]:
    """Task → customization ID for the tasks the pipeline runs (settings, else the registry's
    defaults). Unknown IDs fail here, at start, not on the first email."""
    registry = registry_for(settings)
    mapping = settings.adapters if settings.adapters is not None else registry.defaults()
    # The request and steering adapters read beside the analysis wherever replies are drafted.
    readers = {"topic": settings.request_adapter, "steering": settings.steering_adapter}
    chosen = {task: cid for task, cid in mapping.items()
              if task in settings.tasks or readers.get(task, False)}
    if analysis_mode(settings, mapping) == "joint":
        chosen = _joint_analysis(chosen, mapping, registry, explicit=settings.adapters is not None)
    for cid in chosen.values():
        registry.path(cid)  # raises AdapterError for an unknown or unsafe adapter
    return chosen


def analysis_mode(settings: Settings, mapping: Mapping[str, str] | None = None) -> str:
    """"split" or "joint": the ``analysis`` setting, with "auto" resolved. Auto is joint only
    where it can be what the operator meant: the entities stage runs and an analysis adapter
    is at hand (in ``adapters`` when those are named, else among the registry's defaults), so
    naming split adapters, or dropping the entities stage, never puts the base model on it."""
    if settings.analysis != "auto":
        return settings.analysis
    if mapping is None:
        mapping = (settings.adapters if settings.adapters is not None
                   else registry_for(settings).defaults())
    return "joint" if "entities" in settings.tasks and "analysis" in mapping else "split"


def _joint_analysis(chosen: dict[str, str], mapping: Mapping[str, str], registry: Registry,
                    explicit: bool) -> dict[str, str]:
    """``chosen`` with the analysis adapter answering for sentiment and entities (so drafts,
    metrics and adapter reloads name the adapter that produced them) and under "analysis" (the
    one the first stage asks). Adapters named explicitly without "analysis" run it on the base
    model, as any unnamed task; the registry's defaults must have one."""
    cid = mapping.get("analysis")
    joint = {task: cid for task, cid in chosen.items() if task not in ("sentiment", "entities")}
    if cid is None:
        if explicit:
            return joint
        raise ConfigurationError("analysis='joint' needs an analysis adapter: the registry has "
                                 "no default for task 'analysis' (replyd train --task analysis "
                                 "--set-default), or name one in adapters")
    task = registry.get(cid).task
    if task != "analysis":
        raise ConfigurationError(f"adapters: {cid} is a {task} adapter, not an analysis one")
    return {**joint, "analysis": cid, "sentiment": cid, "entities": cid}


# "analysis": a joint candidate, compared with the live answers as sentiment and entities.
SHADOWED_TASKS = ("sentiment", "entities", "analysis")


def shadow_adapters(settings: Settings) -> dict[str, str]:
    """Task → candidate customization ID of shadow mode (empty when off). Each candidate must
    be registered for its task and trained on the base model of the adapters it shadows: a
    ``ConfigurationError`` at start, not a metric that quietly says nothing."""
    if not settings.shadow_adapters:
        return {}
    registry = registry_for(settings)
    live = task_adapters(settings)
    bases = {registry.get(cid).base_model for cid in live.values()}
    for task, cid in settings.shadow_adapters.items():
        runs = "entities" if task == "analysis" else task  # a joint answer needs both tasks
        if task not in SHADOWED_TASKS or runs not in settings.tasks:
            raise ConfigurationError(f"shadow_adapters: {task!r} is not shadowed; it takes the "
                                     f"analysis tasks the pipeline runs {SHADOWED_TASKS}")
        try:
            manifest = registry.get(cid)
        except AdapterError as error:
            raise ConfigurationError(f"shadow_adapters: candidate for {task}: {error}") from None
        if manifest.task != task:
            raise ConfigurationError(f"shadow_adapters: {cid} is a {manifest.task} adapter, "
                                     f"not a {task} one")
        if bases and manifest.base_model not in bases:
            raise ConfigurationError(
                f"shadow_adapters: {cid} was trained on {manifest.base_model}, the live "
                f"adapters on {sorted(bases)}; a candidate must share the base model")
    return dict(settings.shadow_adapters)


def registry_for(settings: Settings) -> Registry:
    """The adapter registry ``settings.registry_dir`` names, else the shipped one."""
    return Registry(settings.registry_dir) if settings.registry_dir else Registry()


def build_engine(settings: Settings) -> Engine:
    """The engine ``settings.engine`` names, on the configured (or default) base model, with the
    adapters the pipeline uses."""
    registry = registry_for(settings)
    wanted = {*task_adapters(settings).values(), *shadow_adapters(settings).values()}
    adapters = {cid: registry.adapter_info(cid) for cid in wanted}
    if settings.engine == "echo":
        from models.engines.echo import EchoEngine

        return EchoEngine(adapters, delay_ms=settings.echo_delay_ms,
                          context_tokens=settings.max_model_len)
    if settings.engine == "openai":
        return _openai_engine(settings, adapters)
    # Before the model's conversion, which needs torch too: a slim install names its extra.
    if settings.engine == "vllm":
        requires_extra("engine 'vllm'", "cpu", "vllm", "transformers")
    else:
        requires_extra(f"engine {settings.engine!r}", "peft", "torch", "transformers", "peft")
    from models.base_model import resolve_base_model

    model_path = resolve_base_model(settings.base_model_path, settings.model_cache_dir)
    if settings.engine == "vllm":
        from models.engines.vllm_engine import VllmEngine
        from models.engines.vllm_engine_reload import ReloadableVllmEngine

        # Spare LoRA slots only where adapters_reload can use them.
        reloads = settings.adapters_reload_s > 0 and settings.adapters is None
        return (ReloadableVllmEngine if reloads else VllmEngine)(
            model_path,
            adapters,
            dtype=settings.dtype,
            max_model_len=settings.max_model_len,
            max_num_seqs=settings.engine_max_num_seqs,
            kv_cache_gib=settings.vllm_kv_cache_gib,
            block_size=settings.vllm_block_size,
        )
    from models.engines.peft_engine import PeftEngine

    return PeftEngine(
        model_path,
        adapters,
        dtype="float32" if settings.dtype == "auto" else settings.dtype,
        max_batch_size=settings.max_batch_size,
        torch_threads=settings.torch_threads,
        device=settings.peft_device,
    )


def _openai_engine(settings: Settings, adapters: dict[str, AdapterInfo]) -> Engine:
    """A client of remote vLLM servers: no local model, adapters addressed by customization ID."""
    from models.base_model import DEFAULT_MODEL_NAME
    from models.engines.openai_engine import OpenAIEngine

    if not settings.engine_url:
        raise ConfigurationError(
            "engine 'openai' needs engine_url (--engine-url, REPLYD_ENGINE_URL)"
        )
    served = settings.served_model_name or (
        settings.base_model_path.name if settings.base_model_path else DEFAULT_MODEL_NAME
    )
    return OpenAIEngine(
        settings.engine_url.split(","),
        base_model=served,
        adapters=adapters,
        max_concurrency=settings.engine_max_concurrency,
        timeout_s=settings.engine_timeout_s,
        context_tokens=settings.max_model_len,
        count_tokens=_local_tokenizer(settings, served),
        **_credentials(settings, "engine_api_key"),
    )


def _credentials(settings: Settings, key_setting: str) -> dict[str, Any]:
    """The openai engine's API key (the value of the SecretStr setting ``key_setting``), CA
    bundle, and where to tell a refused key to be fixed (named in errors, never the key)."""
    key: SecretStr | None = getattr(settings, key_setting)
    return {
        "api_key": key.get_secret_value() if key is not None else None,
        "ca_bundle": settings.engine_ca_bundle,
        "key_setting": f"{key_setting} (REPLYD_{key_setting.upper()} or "
        f"--{key_setting.replace('_', '-')}-file)",
    }


def _local_tokenizer(settings: Settings, served: str) -> Callable[[str], int] | None:
    """The served model's tokenizer from a local copy of it (``base_model_path``, or the
    default model when it is the one served and already provisioned); None otherwise, and the
    engine counts an upper bound instead."""
    from models.base_model import DEFAULT_MODEL_NAME

    if settings.base_model_path is not None:
        return tokenizer_counter(settings.base_model_path.expanduser())
    if served == DEFAULT_MODEL_NAME:
        return tokenizer_counter(settings.model_cache_dir.expanduser() / DEFAULT_MODEL_NAME)
    return None


def build_reply_engine(settings: Settings) -> Engine | None:
    """The engine of the reply stage when ``reply_engine_url`` names one, else None (replies
    run on the main engine)."""
    if not settings.reply_engine_url:
        return None
    from models.engines.openai_engine import OpenAIEngine

    if not settings.reply_model:
        raise ConfigurationError(
            "reply_engine_url needs reply_model (--reply-model, REPLYD_REPLY_MODEL): the "
            "model's name on that server"
        )
    return OpenAIEngine(
        settings.reply_engine_url.split(","),
        base_model=settings.reply_model,
        max_concurrency=settings.engine_max_concurrency,
        timeout_s=settings.engine_timeout_s,
        **_credentials(settings, "reply_engine_api_key"),
    )


def build_pipeline_config(settings: Settings) -> PipelineConfig:
    """The pipeline the settings describe, each task on its adapter (or the base model)."""
    adapters: dict[str, str | None] = dict(task_adapters(settings))
    if settings.reply_engine_url:
        adapters.pop("reply", None)  # the reply server's own model writes, with no adapter
    return PipelineConfig(
        tasks=settings.tasks,
        adapters=adapters,
        analysis=analysis_mode(settings),
        persona=settings.persona if "persona" in settings.tasks else None,
        reply_max_tokens=settings.reply_max_tokens,
        # No sampling seeds: a seeded request whose prefill is split kills a vLLM-CPU engine
        # (models/engines/vllm_sampling.py), and a server fleet may be vLLM-CPU.
        reply_sampling=reply.sampling(
            settings.reply_max_tokens, settings.reply_temperature, settings.reply_top_p,
            settings.reply_top_k, settings.reply_repetition_penalty,
        ),
        retry_sampling=reply.sampling(
            settings.reply_max_tokens, settings.retry_temperature, settings.retry_top_p,
            settings.reply_top_k, settings.retry_repetition_penalty,
        ),
        retry_candidates=settings.retry_candidates,
        persona_sampling=reply.sampling(
            settings.reply_max_tokens, settings.persona_temperature,
            repetition_penalty=settings.persona_repetition_penalty,
        ),
        check_drafts=settings.check_drafts,
        repair_drafts=settings.repair_drafts,
        company=settings.company_name,
        max_email_tokens=settings.max_email_tokens,
        analysis_email_tokens=settings.analysis_email_tokens,
        reply_languages=settings.reply_languages,
        allowed_domains=settings.allowed_domains,
        check_wording=check_wording(settings, adapters.get("reply")),
        steering_threshold=settings.steering_threshold,
    )


def check_wording(settings: Settings, reply_adapter: str | None) -> Literal["off", "flag", "cut"]:
    """How drafts are checked for sentences the reply writer never learned (the setting; "on"
    is the older name of "flag"; "auto": "cut" when ``reply_adapter`` was trained on the
    generator's replies, by its manifest, else "off"). A remote writer (``reply_engine_url``)
    has no adapter here, so "auto" leaves it unchecked."""
    if settings.check_wording != "auto":
        return "flag" if settings.check_wording == "on" else settings.check_wording
    if reply_adapter is None:
        return "off"
    generator = registry_for(settings).get(reply_adapter).data.get("generator") or {}
    ours = isinstance(generator, dict) and generator.get("generator") == "models.synth.emails"
    return "cut" if ours else "off"

