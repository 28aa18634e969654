"""The house's rules, checked on the source: arrows point one way (daemon → handlers → models),
no import cycles, the service never loads a tool, and modules stay small enough to read."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from tests.conftest import REPO

PACKAGES = ("daemon", "handlers", "models")
MAX_LINES = 500


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            parts = list(path.relative_to(REPO).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


MODULES = _modules()


def _imports(name: str, path: Path) -> Iterator[str]:
    """Every replyd module ``name`` imports, at any depth of the file (lazy imports count)."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # ``from package import module`` imports the module; ``from module import name`` the module.
            targets = [f"{node.module}.{alias.name}" for alias in node.names] + [node.module]
        else:
            continue
        for target in targets:
            while target and target not in MODULES:
                target = target.rpartition(".")[0]
            if target and target != name and target.split(".")[0] in PACKAGES:
                yield target


GRAPH = {name: sorted(set(_imports(name, path))) for name, path in MODULES.items()}


def test_the_walk_sees_the_whole_house() -> None:
    assert {"daemon.cli", "daemon.service.daemon", "handlers.pipeline",
            "models.engines.base", "models.vocabulary"} <= set(MODULES)
    assert "models.engines.base" in GRAPH["handlers.pipeline"]


def test_arrows_point_down_only() -> None:
    layer = {"daemon": 2, "handlers": 1, "models": 0}
    upward = [
        f"{name} -> {target}"
        for name, targets in GRAPH.items()
        for target in targets
        if layer[target.split(".")[0]] > layer[name.split(".")[0]]
    ]
    assert upward == []


def test_the_service_never_imports_a_tool() -> None:
    bad = [f"{name} -> {target}" for name, targets in GRAPH.items() if name.startswith(
        "daemon.service") for target in targets if target.startswith("daemon.tools")]
    assert bad == []


def test_there_is_no_import_cycle() -> None:
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: list[str] = []

    def visit(name: str) -> None:
        state[name] = 1
        path.append(name)
        for target in GRAPH[name]:
            if state.get(target) == 1:
                # A package importing its own submodules (``__init__`` re-exports) is no cycle.
                cycle = [*path[path.index(target):], target]
                if not all(m.startswith(target + ".") or m == target for m in cycle):
                    cycles.append(cycle)
            elif target not in state:
                visit(target)
        path.pop()
        state[name] = 2

    for name in GRAPH:
        if name not in state:
            visit(name)
    assert cycles == []


def test_modules_stay_readable() -> None:
    """Over MAX_LINES only for data (word lists), never for logic."""
    long = {name: n for name, path in MODULES.items()
            if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert long == {}


def test_replyd_run_loads_no_tool_module() -> None:
    """What ``replyd run`` executes (the CLI's parser, the run command, the service it starts)
    imports nothing from daemon.tools."""
    code = (
        "import sys\n"
        "from daemon import cli\n"
        "args = cli.build_parser().parse_args(['run'])\n"
        "assert args.func is cli.cmd_run\n"
        "import daemon.service.daemon, daemon.service.build\n"
        "loaded = sorted(m for m in sys.modules if m.startswith('daemon.tools'))\n"
        "print(loaded)\n"
        "raise SystemExit(1 if loaded else 0)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
