"""The Kafka-free engine benchmark: the settings-configured mode on the echo engine, the
model-folder mode on the peft engine, its imports, and its usage errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from daemon.tools import engine_bench
from models.customize.registry import Registry
from tests.conftest import REPO


def last_json(capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_engine_mode_prints_one_json_line_with_every_figure(
    capsys: pytest.CaptureFixture[str],
) -> None:
    engine_bench.main(["--engine", "echo", "--emails", "6"])
    figures = last_json(capsys)
    assert figures["engine"] == "echo" and figures["emails"] == 6
    for stage in ("analysis_adapters", "analysis_base", "reply_base"):
        assert figures[f"{stage}_requests_per_s"] > 0
        assert figures[f"{stage}_emails_per_s"] > 0
    # 2 requests per email in the analysis stage, 1 in the reply stage.
    assert figures["analysis_adapters_requests_per_s"] == pytest.approx(
        2 * figures["analysis_adapters_emails_per_s"], rel=0.02)
    assert figures["adapter_vs_base"] == pytest.approx(
        figures["analysis_adapters_requests_per_s"]
        / figures["analysis_base_requests_per_s"], rel=0.02)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "give --engine E, or --model-dir DIR"),
        (["--engine", "vllm", "--model-dir", "m"], "--model-dir runs the peft engine"),
        (["--engine", "echo", "--adapter-dir", "a"], "--adapter-dir needs --model-dir"),
    ],
)
def test_usage_errors_exit_2(args: list[str], message: str,
                             capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        engine_bench.main(args)
    assert stopped.value.code == 2 and message in capsys.readouterr().err


def test_model_dir_mode_imports_neither_kafka_nor_pydantic() -> None:
    """A GPU host with only torch/transformers/peft can load it and parse its arguments."""
    code = (
        "import sys\n"
        "for name in ('aiokafka', 'pydantic', 'pydantic_settings', 'daemon.settings'):\n"
        "    sys.modules[name] = None  # any import of them fails\n"
        "from daemon.tools import engine_bench\n"
        "args = engine_bench.build_parser().parse_args(\n"
        "    ['--engine', 'peft', '--model-dir', 'M', '--device', 'cuda', '--dtype', 'bfloat16'])\n"
        "assert args.model_dir.name == 'M' and args.device == 'cuda'\n"
        "assert len(engine_bench.reply_requests(3, None, 8)) == 3\n"
        "print('ok')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, cwd=REPO)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr


@pytest.mark.peft
def test_model_dir_mode_on_the_peft_engine(
    model_cache_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from models.base_model import ensure_base_model

    model = ensure_base_model(model_cache_dir)
    registry = Registry()
    adapter = registry.path(registry.defaults()["sentiment"])  # any LoRA of this base model
    engine_bench.main(["--model-dir", str(model), "--adapter-dir", str(adapter), "--emails", "2",
                       "--singles", "1", "--max-tokens", "2"])
    figures = last_json(capsys)
    assert figures["device"] == "cpu" and figures["emails"] == 2
    for label in ("base", "adapter"):
        assert figures[f"{label}_batch_emails_per_s"] > 0
        assert figures[f"{label}_single_emails_per_s"] > 0
    assert figures["adapter_vs_base"] > 0 and figures["batching_gain"] > 0
