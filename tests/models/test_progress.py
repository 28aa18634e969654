"""models.progress: a live line only where a person watches, start and end log lines elsewhere;
train's tqdm bar follows the same rule."""

from __future__ import annotations

import io
import logging

import pytest

from models import progress
from models.progress import Progress


class _Terminal(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


@pytest.fixture(autouse=True)
def _progress_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(progress.NO_PROGRESS_ENV, raising=False)


def test_not_a_terminal_prints_nothing_and_logs_start_and_end(
        caplog: pytest.LogCaptureFixture) -> None:
    stream = io.StringIO()
    with caplog.at_level(logging.INFO, logger="replyd.progress"):
        with Progress("bench", total=3, unit="steps", stream=stream) as bar:
            bar.step("warm-up")
            bar.step("latency")
    assert stream.getvalue() == ""
    assert [r.getMessage() for r in caplog.records] == ["bench: started", "bench: done"]
    assert caplog.records[-1].done == 2  # type: ignore[attr-defined]


def test_a_terminal_gets_one_redrawn_line() -> None:
    stream = _Terminal()
    with Progress("demo", total=4, unit="emails done", stream=stream) as bar:
        bar.update_to(2)
        bar.advance(2)
    text = stream.getvalue()
    assert text.startswith("\rdemo: ") and text.endswith("\n") and text.count("\n") == 1
    assert "demo: 4/4 emails done" in text


def test_forced_on_prints_even_without_a_terminal() -> None:
    stream = io.StringIO()
    with Progress("model", total=2, unit="steps", stream=stream, live=True) as bar:
        bar.step("convert")
    assert "model: 0/2 steps · convert" in stream.getvalue()
    assert "model: 1/2 steps" in stream.getvalue()  # closing counts the last step done


def test_failure_is_logged_as_such(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="replyd.progress"):
        with pytest.raises(RuntimeError), Progress("corpus get x", stream=io.StringIO()):
            raise RuntimeError("boom")
    assert caplog.records[-1].getMessage() == "corpus get x: failed"


def test_wanted_follows_the_terminal_and_the_switch(monkeypatch: pytest.MonkeyPatch) -> None:
    assert progress.wanted(_Terminal()) is True
    assert progress.wanted(io.StringIO()) is False
    monkeypatch.setenv(progress.NO_PROGRESS_ENV, "1")
    assert progress.wanted(_Terminal()) is False
    stream = _Terminal()
    with Progress("bench", total=1, stream=stream) as bar:
        bar.advance()
    assert stream.getvalue() == ""


def test_train_bar_is_off_without_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    from models.customize import training

    monkeypatch.setattr("sys.stderr", io.StringIO())
    with training._bar(3, "lora", progress=True) as bar:
        assert bar.disable
    monkeypatch.setattr("sys.stderr", _Terminal())
    with training._bar(3, "lora", progress=True) as bar:
        assert not bar.disable
    with training._bar(3, "lora", progress=False) as bar:  # --quiet
        assert bar.disable
