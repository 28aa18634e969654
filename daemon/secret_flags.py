"""Which settings are secrets, and the ``--<name>-file`` flags that read them from files.

A secret never becomes a flag of its own: flags show in ``ps`` and in shell history. It comes
from the environment (``REPLYD_<NAME>``), the ``--config`` TOML file, or, for the keys below, a
file named by a flag (a mounted Kubernetes Secret, a Docker secret). Neither the value nor the
path is ever echoed: ``--engine-api-key VALUE`` abbreviates ``--engine-api-key-file``, so the
"path" may be the secret itself.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

# Settings that never become flags: environment or --config only.
SECRET_SETTINGS = frozenset({"sasl_password", "engine_api_key", "reply_engine_api_key"})
# Those of them that also have a --<name>-file flag (the SASL password's is replay's own).
SECRET_FILES = frozenset({"engine_api_key", "reply_engine_api_key"})
_DEST = "secretfile_"


def secret_setting(group: argparse._ArgumentGroup, name: str) -> bool:
    """True for a secret setting, which gets no flag of its own; adds its ``--<name>-file PATH``
    flag to ``group`` where it has one."""
    if name in SECRET_FILES:
        _add_file_flag(group, name)
    return name in SECRET_SETTINGS


def _add_file_flag(group: argparse._ArgumentGroup, name: str) -> None:
    group.add_argument(f"--{name.replace('_', '-')}-file", dest=f"{_DEST}{name}", type=Path,
                       metavar="PATH", help=f"File holding {name} (instead of "
                       f"REPLYD_{name.upper()}); there is no flag for the value itself.")


def secrets_from_files(args: argparse.Namespace) -> dict[str, Any]:
    """Setting name → value for every ``--<name>-file`` given, one trailing newline dropped."""
    from models.errors import ConfigurationError

    found: dict[str, Any] = {}
    for key, path in vars(args).items():
        if not key.startswith(_DEST) or path is None:
            continue
        name = key.removeprefix(_DEST)
        try:
            found[name] = path.read_text(encoding="utf-8").removesuffix("\n").removesuffix("\r")
        except OSError as exc:
            raise ConfigurationError(f"cannot read the file given as --"
                                     f"{name.replace('_', '-')}-file: {exc.strerror}") from None
        except UnicodeDecodeError:
            raise ConfigurationError(f"the file given as --{name.replace('_', '-')}-file is "
                                     "not UTF-8 text") from None
    return found
