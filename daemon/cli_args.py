"""How the `replyd` command line is spelled: the parser class, the settings flags, the names.

Kept apart from ``daemon.cli`` (which runs commands and maps errors to exit codes) so that each
stays readable. Nothing here imports a tool: ``replyd run`` builds this parser too.

Conventions every command follows:

* global flags (``--plain-logs``, ``--log-level``, ``--no-progress``) work before and after the
  subcommand;
* a setting with fixed values shows them (``--engine {vllm,peft,echo,openai}``);
* a default is shown one way, ``(default: X)``, added by :class:`HelpFormatter`;
* one name per concept (``--emails N``, ``--batch-size``, ``--registry``); older spellings still
  parse, are hidden from help and print a one-line deprecation note (:data:`DEPRECATED`).

The settings flags are pydantic-settings' own: :func:`add_settings_flags` lets its
``CliSettingsSource`` add them to a command's parser, and :func:`settings_source` loads the parsed
values (comma-separated or JSON lists, JSON or ``k=v`` mappings), so pydantic-settings parses
and validates them as it does the environment and the ``--config`` TOML file.
"""

from __future__ import annotations

import argparse
import importlib
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from types import UnionType
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import ValidationError
from pydantic_settings import CliSettingsSource, SettingsError

from daemon.secret_flags import SECRET_SETTINGS, secret_setting
from daemon.settings import Settings
from models.vocabulary import TASKS

# Old spelling → the one to use. Still accepted (scripts keep working), never shown in help.
DEPRECATED = {"--synthetic": "--emails", "--n": "--emails", "--batch": "--batch-size",
              "--registry-dir": "--registry"}
# Extra flag names (pydantic-settings' cli_shortcuts, keyed by the kebab-case field flag): short
# flags kept from the first CLI, and --registry, the name the other commands use for it.
SHORTCUTS = {"bootstrap-servers": "bootstrap", "group-id": "group", "registry-dir": "registry"}
# Settings whose flag is not their field name; the field's own flag is deprecated (DEPRECATED).
RENAMED = {"registry_dir": "--registry"}
# Settings flags store into setting_<field> (no clash with a command's own options).
SETTING = "setting_"
# Settings that are global flags rather than per-command settings flags.
GLOBAL_SETTINGS = frozenset({"log_level"})


class HelpFormatter(argparse.HelpFormatter):
    """Appends ``(default: X)`` to every option that has a default worth saying, and leaves
    deprecated spellings out of the help."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = getattr(action, "shown_default", action.default)
        unsaid = default in (None, False, argparse.SUPPRESS) or not action.option_strings
        if unsaid or "(default:" in text:
            return text
        if isinstance(default, tuple):
            default = ",".join(map(str, default)) or '""'
        return f"{text} (default: {str(default).replace('%', '%%')})".strip()

    def _format_action_invocation(self, action: argparse.Action) -> str:
        shown = [o for o in action.option_strings if o not in DEPRECATED]
        if len(shown) == len(action.option_strings) or not shown:
            return super()._format_action_invocation(action)
        hidden = argparse.Action(shown, action.dest, nargs=action.nargs, metavar=action.metavar,
                                 choices=action.choices)
        return super()._format_action_invocation(hidden)


class Parser(argparse.ArgumentParser):
    """Every (sub)command's parser: the house formatter, and the global flags. On subcommands
    their default is SUPPRESS, so a flag given before the subcommand is not reset by it."""

    def __init__(self, *args: Any, top: bool = False, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)
        unset: Any = None if top else argparse.SUPPRESS
        self.add_argument("--plain-logs", action="store_true",
                          default=False if top else argparse.SUPPRESS,
                          help="Human-readable logs instead of JSON lines.")
        self.add_argument("--log-level", dest="setting_log_level", default=unset,
                          choices=choices(Settings.model_fields["log_level"].annotation),
                          help="Log level (REPLYD_LOG_LEVEL) (default: INFO)")
        self.add_argument("--no-progress", action="store_true",
                          default=False if top else argparse.SUPPRESS,
                          help="No live progress line, even on a terminal (REPLYD_NO_PROGRESS=1).")


class RenamedStore(argparse._StoreAction):
    """A store action that notes on stderr when a deprecated spelling was used."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Any, option_string: str | None = None) -> None:
        if option_string in DEPRECATED:
            print(f"replyd: {option_string} is deprecated; use {DEPRECATED[option_string]}",
                  file=sys.stderr)
        super().__call__(parser, namespace, values, option_string)


def flag_of(name: str) -> str:
    """The flag of a setting, as help shows it."""
    return RENAMED.get(name, f"--{name.replace('_', '-')}")


def choices(annotation: Any) -> list[str] | None:
    """The values of a Literal setting (also inside ``X | None``), else None."""
    if get_origin(annotation) is Literal:
        values = get_args(annotation)
        return [str(v) for v in values] if all(isinstance(v, str) for v in values) else None
    if get_origin(annotation) in (Union, UnionType):  # Literal[...] | None; not tuple[Literal]
        for arg in get_args(annotation):
            if get_origin(arg) is Literal:
                return choices(arg)
    return None


def settings_source(parser: argparse.ArgumentParser | None = None,
                    add_argument: Callable[..., Any] | None = None) -> CliSettingsSource[Any]:
    """pydantic-settings' CLI source for :class:`Settings`, spelled the house way: kebab-case
    flags, :data:`SHORTCUTS`, no ``None`` in choices; ``null`` unsets an optional value."""
    return CliSettingsSource(
        Settings, root_parser=parser or argparse.ArgumentParser(add_help=False),
        add_argument_method=add_argument or (lambda *args, **kwargs: None),
        cli_kebab_case=True, cli_shortcuts=SHORTCUTS, cli_hide_none_type=True,
        cli_implicit_flags=False, cli_exit_on_error=True)


def settings_given(args: argparse.Namespace) -> CliSettingsSource[Any]:
    """The CLI source loaded with the settings flags ``args`` holds (those given)."""
    given = {key.removeprefix(SETTING): value for key, value in vars(args).items()
             if key.startswith(SETTING) and value is not None}
    return settings_source()(parsed_args=given)


def add_settings_flags(parser: argparse.ArgumentParser, only: Sequence[str] | None = None) -> None:
    """One flag per settings field (``--max-batch-size`` ↔ ``max_batch_size``), added by
    pydantic-settings' CLI source; help from the field's description and default, so ``--help``
    documents every setting. ``only``: this command's subset."""
    group = parser.add_argument_group(
        "settings (also REPLYD_<NAME> env vars or --config TOML)",
        "Secrets are no flags (flags show in ps): REPLYD_SASL_PASSWORD, REPLYD_ENGINE_API_KEY, "
        "REPLYD_REPLY_ENGINE_API_KEY, --config, or the keys' --*-api-key-file flags.")
    group.add_argument("--config", type=Path, help="TOML file with settings (lowest precedence).")

    def add(_parser: Any, *flags: str, **kwargs: Any) -> argparse.Action | None:
        name = kwargs["dest"]
        if (only is not None and name not in only) or name in GLOBAL_SETTINGS:
            return None
        if secret_setting(group, name):
            return None
        return _add_flag(group, name, flags, kwargs)

    settings_source(parser, add)


def _add_flag(group: argparse._ArgumentGroup, name: str, flags: Sequence[str],
              kwargs: dict[str, Any]) -> argparse.Action:
    """pydantic-settings' flag with the house help, metavar, dest and deprecation note; its
    values stay strings (lists appended) for the CLI source to parse."""
    field = Settings.model_fields[name]
    kwargs = {**kwargs, "dest": f"{SETTING}{name}", "help": _help(field.description or "",
                                                                   field.annotation)}
    kwargs.pop("required", None)
    if not choices(field.annotation):  # pydantic-settings' metavar names the choices
        kwargs["metavar"] = _metavar(name, field.annotation)
    kwargs.setdefault("action", RenamedStore)
    flags = sorted(flags, key=lambda flag: flag != flag_of(name))  # usage shows the first
    action = group.add_argument(*flags, **kwargs)
    action.shown_default = None if callable(field.default) else field.default  # type: ignore[attr-defined]
    return action


def _help(text: str, annotation: Any) -> str:
    """A comma-separated list of fixed values (``--tasks``) names them, as choices would."""
    items = [choices(a) for a in get_args(annotation) if get_origin(annotation) is tuple]
    values = next((v for v in items if v), None)
    return f"{text} Of: {', '.join(values)}." if values else text


def _metavar(name: str, annotation: Any) -> str:
    name = flag_of(name).removeprefix("--").replace("-", "_")
    kinds = {annotation, *get_args(annotation)}
    if bool in kinds:
        return "{true,false}"
    if any(get_origin(a) is tuple for a in kinds):
        return f"{name.upper()},..."
    return name.upper()


def unparsable_line(exc: SettingsError) -> str:
    """A value pydantic-settings could not decode (a list or mapping flag or variable): its flag
    and variable, and why; never the value. What ``replyd`` prints, exit code 2."""
    found = re.search(r'field "(\w+)"|encountered for (\w+)', str(exc))
    name = next((g for g in found.groups() if g), "") if found else ""
    if name not in Settings.model_fields:
        return f"replyd: configuration error: {exc}"
    cause = exc.__cause__ or exc
    return (f"replyd: {flag_of(name)} / REPLYD_{name.upper()}: not a comma-separated list, JSON "
            f"or key=value ({cause})")


def validation_lines(exc: ValidationError) -> list[str]:
    """One line per error: for a setting, its flag and environment variable, the message and
    the value given (never a secret's); no pydantic URL. What ``replyd`` prints, exit code 2."""
    lines = []
    for error in exc.errors(include_url=False):
        msg = error["msg"].removeprefix("Value error, ")
        loc = error["loc"]
        name = str(loc[0]) if loc else ""
        if exc.title != Settings.__name__:
            where = ".".join(map(str, loc))
            where = f"{exc.title} {where}".strip()
            lines.append(f"replyd: configuration error: {where}: {msg}")
        elif not name:
            lines.append(f"replyd: settings: {msg}")
        elif name not in Settings.model_fields:
            lines.append(f"replyd: {name}: not a setting (in the --config file?)")
        else:
            shown = "" if name in SECRET_SETTINGS else _shown_input(error.get("input"), msg)
            lines.append(f"replyd: {flag_of(name)} / REPLYD_{name.upper()}: {msg}{shown}")
    return lines


def _shown_input(value: Any, msg: str) -> str:
    if isinstance(value, (dict, list)) or value is None:
        return ""
    text = value if isinstance(value, str) else repr(value)
    if text in msg:  # the message already quotes it
        return ""
    return f" (got {text if len(text) <= 60 else text[:57] + '...'})"


def tool(module: str, name: str) -> Callable[[argparse.Namespace], int]:
    """A command of a tool module, imported only when it runs: building the parser (as
    ``replyd run`` does) loads no tool."""

    def command(args: argparse.Namespace) -> int:
        return int(getattr(importlib.import_module(module), name)(args))

    command.__name__ = name
    return command


def add_customize_commands(sub: argparse._SubParsersAction) -> None:
    """``synth``, ``train`` and ``adapters``: the customization loop (daemon.tools.customize)."""
    from models.customize.registry import DEFAULT_ROOT, METHODS

    customize = "daemon.tools.customize"
    p = sub.add_parser("synth", help="Write a synthetic training or eval set as JSONL.")
    p.add_argument("--task", required=True, choices=TASKS)
    p.add_argument("--emails", "--n", dest="n", type=int, required=True, metavar="N",
                   action=RenamedStore, help="Rows (synthetic emails) to write.")
    p.add_argument("--seed", type=int, default=0, help="Generator seed.")
    p.add_argument("--split", choices=("train", "eval"), default="train",
                   help="Vocabulary split; eval entities never occur in train.")
    p.add_argument("--out", type=Path, required=True, help="JSONL file (a .meta.json beside it).")
    p.add_argument("--more-cases", action="store_true", help="reply only: a share of the emails "
                   "raise a missing part, a refund, a warranty, an address change or a login "
                   "problem (models.synth.emails.MORE_CASES_SHARE of the negative and neutral "
                   "ones); the other emails are the same (default: the first ten cases only)")
    p.add_argument("--more-cases-added", action="store_true", help="reply only: every email "
                   "of the first ten cases stays, and the emails --more-cases would put in their "
                   "place come after them (about 20 %% more rows)")
    p.add_argument("--paraphrased", action="store_true", help="reply only: a share of the "
                   "emails tell their problem in other words, without the case's usual words "
                   "(models.synth.emails.PARAPHRASE_SHARE), half of them under a subject that "
                   "names no case; the other emails are the same (default: off)")
    p.add_argument("--teacher-url", help="OpenAI-compatible server (e.g. vLLM) whose model "
                   "rewrites each example in its own words; labels are kept and checked "
                   "(sentiment, entities and reply only) (default: templates only)")
    p.add_argument("--teacher-model", help="Served model name (default: the server's first)")
    p.add_argument("--teacher-fraction", type=float, default=1.0,
                   help="Share of rows sent to the teacher.")
    p.add_argument("--teacher-api-key-file", type=Path, help="File with the teacher's bearer "
                   "token, if any (else REPLYD_TEACHER_API_KEY; no flag: ps shows flags).")
    p.set_defaults(func=tool(customize, "cmd_synth"))

    p = sub.add_parser("train", help="Train an adapter and register it under a new ID.")
    p.add_argument("--task", required=True, choices=TASKS)
    p.add_argument("--data", type=Path, required=True, help="Training JSONL (from replyd synth).")
    p.add_argument("--eval-data", type=Path, help="Held-out JSONL for loss and task figures.")
    p.add_argument("--eval-limit", type=int, help="Use at most this many eval rows.")
    p.add_argument("--method", choices=METHODS, default="lora", help="Adapter kind.")
    p.add_argument("--rank", type=int, default=8, help="LoRA rank.")
    p.add_argument("--alpha", type=int, help="LoRA alpha (default: 2 x rank)")
    p.add_argument("--layers", type=int, help="LoRA on the last N layers only (default: all)")
    p.add_argument("--virtual-tokens", type=int, default=16, help="p-tuning virtual tokens.")
    p.add_argument("--epochs", type=int, default=1, help="Passes over the data.")
    p.add_argument("--lr", type=float, help="Learning rate (default: 5e-4 LoRA, 3e-3 p-tuning)")
    p.add_argument("--batch-size", type=int, default=8, help="Examples per step.")
    p.add_argument("--max-len", type=int, default=320, help="Longer examples are dropped.")
    p.add_argument("--seed", type=int, default=0, help="Training seed.")
    p.add_argument("--torch-threads", type=int, default=1, help="Torch CPU threads.")
    p.add_argument("--registry", type=Path, help=f"Registry folder (default: {DEFAULT_ROOT})")
    p.add_argument("--set-default", action="store_true", help="Make it the task's default.")
    p.add_argument("--base-model-path", type=Path, help="HF model folder (default: SmolLM2)")
    p.add_argument("--model-cache-dir", type=Path, help="Where the default model is converted.")
    p.add_argument("--quiet", action="store_true",
                   help="No progress bar (there is none when stderr is not a terminal anyway).")
    p.set_defaults(func=tool(customize, "cmd_train"))

    p = sub.add_parser("adapters", help="List, show, verify or push registered adapters.")
    verbs = p.add_subparsers(dest="adapters_command", required=True)
    v = verbs.add_parser("list", help="Registered adapters.")
    v.add_argument("--json", action="store_true", help="A JSON array with every manifest field.")
    v.set_defaults(func=tool(customize, "cmd_adapters_list"))
    v = verbs.add_parser("show", help="One adapter's manifest.")
    v.add_argument("id", help="Customization ID.")
    v.set_defaults(func=tool(customize, "cmd_adapters_show"))
    v = verbs.add_parser("verify", help="Check every file's sha256 against its manifest.")
    v.add_argument("id", nargs="?", help="Only this adapter (default: all, and defaults.json)")
    v.set_defaults(func=tool(customize, "cmd_adapters_verify"))
    v = verbs.add_parser("push", help="Load an adapter into running vLLM servers, verified.",
                         description="Runtime LoRA load on every server (needs "
                         "VLLM_ALLOW_RUNTIME_LORA_UPDATING=True there), then /v1/models and a "
                         "1-token completion; exit 0 only when every server answers on it.")
    v.add_argument("id", help="Customization ID of a registered adapter.")
    v.add_argument("--server", action="append", metavar="URL",
                   help="A vLLM server (repeat or comma-separate; default: REPLYD_ENGINE_URL)")
    v.add_argument("--server-path-prefix", metavar="DIR", help="The registry as the servers "
                   "see it: load from DIR/ID (/adapters in deploy/k8s; default: local folder)")
    v.add_argument("--timeout", type=float, default=120.0, metavar="S", help="Per request.")
    secret_setting(v.add_argument_group("secrets"), "engine_api_key")
    v.set_defaults(func=tool(customize, "cmd_adapters_push"))
    for verb in (verbs.choices["list"], verbs.choices["show"], verbs.choices["verify"],
                 verbs.choices["push"]):
        verb.add_argument("--registry", "--registry-dir", dest="registry", type=Path,
                          action=RenamedStore, help=f"Registry folder (default: {DEFAULT_ROOT})")


def add_trial_command(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("trial", help="Real or hostile mail through the real daemon, measured.",
                       description="Embedded broker, `replyd run` as a subprocess (REPLYD_* env "
                       "passes through), report in OUT. See docs/TRIALS.md.")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--eml-dir", type=Path, metavar="DIR", help="Send every DIR/*.eml raw.")
    source.add_argument("--hostile", action="store_true", help="daemon/tools/hostile.py's cases.")
    p.add_argument("--good", type=int, default=10, help="--hostile: good emails mixed in.")
    p.add_argument("--seed", type=int, default=7, help="Their generator's seed.")
    p.add_argument("--cases", metavar="A,B", help="--hostile: only these cases (default: all)")
    p.add_argument("--engine", choices=choices(Settings.model_fields["engine"].annotation),
                   default="vllm", help="The daemon's engine.")
    p.add_argument("--timeout", type=float, default=1800.0, metavar="S", help="Seconds.")
    p.add_argument("--rate", type=float, metavar="R", help="Launch the daemon first, then send "
                   "R emails per second once it is ready (default: all at once, before it).")
    p.add_argument("--out", type=Path, default=Path("trial-out"), help="Output folder.")
    p.set_defaults(func=tool("daemon.tools.trial", "cmd_trial"))
