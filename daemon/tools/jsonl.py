"""JSON Lines files, as the offline commands read and write them: one JSON value per line, UTF-8,
blank lines ignored, every problem reported as ``FILE:LINE: ...`` in a ``ConfigurationError``."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from models.errors import ConfigurationError


def numbered_lines(path: Path) -> Iterator[tuple[int, bytes]]:
    """(line number from 1, the line's bytes) for every non-blank line, line ending included."""
    try:
        with path.open("rb") as handle:
            for number, line in enumerate(handle, start=1):
                if line.strip():
                    yield number, line
    except OSError as error:
        raise ConfigurationError(f"cannot read {path}: {error}") from error


def read_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for every non-blank line, read lazily; a line that is not UTF-8
    JSON, or not a JSON object, raises ``ConfigurationError`` naming the file and the line."""
    for number, line in numbered_lines(path):
        try:
            value = json.loads(line)
        except json.JSONDecodeError as error:
            raise ConfigurationError(f"{path}:{number}: not JSON ({error.msg})") from error
        except ValueError as error:  # bytes that are not UTF-8
            raise ConfigurationError(f"{path}:{number}: not JSON ({error})") from error
        if not isinstance(value, dict):
            raise ConfigurationError(f"{path}:{number}: not a JSON object")
        yield number, value


def write_jsonl(rows: Iterable[Mapping[str, Any]], path: Path) -> None:
    """One JSON object per line, UTF-8 with non-ASCII text as is; the folder is made if missing."""
    data = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows).encode("utf-8")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def write_predictions(path: Path, examples: Iterable[Mapping[str, Any]],
                      predictions: Iterable[Any]) -> None:
    """Each example with its ``prediction`` added, as JSONL (``replyd eval --predictions``)."""
    write_jsonl(({**example, "prediction": prediction}
                 for example, prediction in zip(examples, predictions, strict=True)), path)
