"""JSONL reading and writing shared by the offline commands."""

from __future__ import annotations

from pathlib import Path

import pytest

from daemon.tools.jsonl import numbered_lines, read_jsonl, write_jsonl
from models.errors import ConfigurationError


def test_read_numbers_lines_and_skips_blank_ones(tmp_path: Path) -> None:
    path = tmp_path / "rows.jsonl"
    path.write_bytes(b'{"a": 1}\n\n   \r\n{"b": "W\xc3\xb3jcik"}\r\n{"c": null}')
    assert list(read_jsonl(path)) == [(1, {"a": 1}), (4, {"b": "Wójcik"}), (5, {"c": None})]
    assert [number for number, _ in numbered_lines(path)] == [1, 4, 5]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{"a": 1}\n{"a": \n', r"rows\.jsonl:2: not JSON \(Expecting value\)"),
        (b'{"a": 1}\n\n[1, 2]\n', r"rows\.jsonl:3: not a JSON object"),
        (b'{"a": "caf\xe9"}\n', r"rows\.jsonl:1: not JSON \("),
    ],
)
def test_bad_lines_name_the_file_and_the_line(tmp_path: Path, content: bytes,
                                              message: str) -> None:
    path = tmp_path / "rows.jsonl"
    path.write_bytes(content)
    with pytest.raises(ConfigurationError, match=message):
        list(read_jsonl(path))


def test_a_missing_file_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"cannot read .*absent\.jsonl"):
        list(read_jsonl(tmp_path / "absent.jsonl"))


def test_write_then_read_round_trips_with_text_as_is(tmp_path: Path) -> None:
    rows = [{"text": "Wójcik's café", "n": 1}, {"text": "", "entities": {"name": []}}]
    path = tmp_path / "new" / "folder" / "rows.jsonl"
    write_jsonl(iter(rows), path)
    assert "Wójcik's café" in path.read_text(encoding="utf-8")
    assert path.read_bytes().count(b"\n") == 2
    assert [row for _, row in read_jsonl(path)] == rows
