from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def cli_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    """An environment that isolates a gme-tui subprocess from the user's config, logs, robots and
    daemon sockets. The runtime dir is short (a Unix socket path is limited to ~107 bytes) and
    user-only, as a real XDG_RUNTIME_DIR is."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DINGTALK", "WECHAT", "ENABLE_"))}
    env["XDG_CONFIG_HOME"] = str(tmp_path / "config")
    env["XDG_STATE_HOME"] = str(tmp_path / "state")
    env["XDG_DATA_HOME"] = str(tmp_path / "data")
    runtime = tempfile.mkdtemp(prefix="gme-rt-")
    env["XDG_RUNTIME_DIR"] = runtime
    env["PYTHONPATH"] = str(REPO)
    yield env
    shutil.rmtree(runtime, ignore_errors=True)


@pytest.fixture
def run_cli(tmp_path: Path, cli_env: dict[str, str]):
    """Run `python -m gme_tui ARGS` in an empty working directory; returns the CompletedProcess."""

    def run(*args: str, timeout: float = 60, cwd: Path | None = None) -> subprocess.CompletedProcess:
        workdir = cwd or tmp_path / "work"
        workdir.mkdir(exist_ok=True)
        return subprocess.run(
            [sys.executable, "-m", "gme_tui", *args],
            cwd=workdir,
            env=cli_env,
            capture_output=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )

    return run
