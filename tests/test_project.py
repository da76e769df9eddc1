"""The project's own promises: the README's commands are the ones CI runs, and arrows point one way."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "gme_tui"


def test_readme_quick_start_is_what_ci_runs():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    block = re.search(r"## Quick start\s+```bash\n(.*?)```", readme, re.S)
    assert block, "README has a Quick start code block"
    install_and_demo, tests = block.group(1).strip().splitlines()
    *install, demo = install_and_demo.split(" && ")
    assert demo == "gme-tui --demo" and tests == "pytest"
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert [step for step in install if step not in ci] == [], "CI runs the README's install steps"
    assert tests in ci


def test_readme_checks_are_what_ci_runs_before_the_tests():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    block = re.search(r"## Development\s+```bash\n(.*?)```", readme, re.S)
    assert block, "README's Development section opens with its checks command"
    (checks,) = block.group(1).strip().splitlines()
    assert checks.split(" && ") == ["ruff check .", "ruff format --check .", "mypy", "lint-imports"]
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    (line,) = [number for number, text in enumerate(ci) if text.startswith(checks)]
    assert ci[line] == checks + " || exit 1"  # set -e alone does not stop at a failure inside an && list
    assert ci.index("pytest") > line and ci[-1] == "pytest"


def _modules(folder: str) -> list[Path]:
    return sorted((PACKAGE / folder).rglob("*.py")) if (PACKAGE / folder).is_dir() else [PACKAGE / f"{folder}.py"]


def test_layer_contracts_hold():
    """The one-way rule lives in pyproject.toml as import-linter contracts; this runs them."""
    lint_imports = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint_imports)], cwd=REPO, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout


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
