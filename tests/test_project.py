"""The project's own promises: the README's commands are the ones CI runs, and arrows point one way."""

from __future__ import annotations

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "gme_tui"


def test_readme_quick_start_is_what_ci_runs():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    block = re.search(r"## Quick start\s+```bash\n(.*?)```", readme, re.S)
    assert block, "README has a Quick start code block"
    install_and_demo, tests = block.group(1).strip().splitlines()
    install, demo = install_and_demo.split(" && ")
    assert demo == "gme-tui --demo" and tests == "pytest"
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert install in ci and tests in ci


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return {name for name in found if name.startswith("gme_tui")}


def _modules(folder: str) -> list[Path]:
    return sorted((PACKAGE / folder).rglob("*.py")) if (PACKAGE / folder).is_dir() else [PACKAGE / f"{folder}.py"]


def test_engine_imports_only_the_model():
    for path in _modules("engine"):
        for name in _imports(path):
            assert name.startswith(("gme_tui.engine", "gme_tui.model")), f"{path.name} imports {name}"


def test_sources_import_no_consumer():
    consumers = ("gme_tui.tui", "gme_tui.alerts", "gme_tui.headless", "gme_tui.store", "gme_tui.cli")
    for path in _modules("sources"):
        for name in _imports(path):
            assert not name.startswith(consumers), f"sources/{path.name} imports {name}"


def test_consumers_import_no_source():
    for folder in ("tui", "alerts", "headless", "store"):
        for path in _modules(folder):
            if not path.exists():
                continue
            for name in _imports(path):
                assert not name.startswith("gme_tui.sources.") or name == "gme_tui.sources.base", (
                    f"{folder}/{path.name} imports {name}"
                )


def test_no_engine_module_uses_a_clock_or_io():
    forbidden = {
        "time",
        "datetime",
        "asyncio",
        "os",
        "io",
        "pathlib",
        "socket",
        "sqlite3",
        "textual",
        "ccxt",
        "aiohttp",
        "logging",
    }
    for path in _modules("engine"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else ([node.module] if isinstance(node, ast.ImportFrom) and node.module else [])
            )
            for name in names:
                assert name.split(".")[0] not in forbidden, f"{path.name} imports {name}"
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                assert node.func.id not in ("open", "print", "input"), f"{path.name} calls {node.func.id}"
