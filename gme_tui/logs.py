"""Logging: a rotating file in the user's log directory, plus stderr when no TUI owns the terminal."""

from __future__ import annotations

import logging
import logging.handlers
import sys
from pathlib import Path

FORMAT = "%(asctime)s | %(levelname)-8s | %(name)s - %(message)s"


def log_dir(configured: str) -> Path:
    if configured:
        return Path(configured).expanduser()
    from platformdirs import user_log_dir

    return Path(user_log_dir("gme-tui"))


def setup_logging(*, level: str, directory: str, to_stderr: bool, stderr_level: str = "INFO") -> Path | None:
    """Configure the root logger once. Returns the log file path, or None if it cannot be written
    (then stderr alone is used and a warning says why)."""
    root = logging.getLogger()
    root.setLevel(getattr(logging, level))
    for handler in list(root.handlers):
        root.removeHandler(handler)
    path: Path | None = log_dir(directory) / "gme-tui.log"
    problem = ""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        file_handler = logging.handlers.RotatingFileHandler(path, maxBytes=5_000_000, backupCount=5, encoding="utf-8")
        file_handler.setFormatter(logging.Formatter(FORMAT))
        root.addHandler(file_handler)
    except OSError as exc:
        problem = f"cannot write the log file {path}: {exc}"
        path = None
    if to_stderr or path is None:
        stream = logging.StreamHandler(sys.stderr)
        stream.setLevel(getattr(logging, stderr_level))
        stream.setFormatter(logging.Formatter("%(asctime)s | %(levelname)-8s - %(message)s", "%H:%M:%S"))
        root.addHandler(stream)
    for noisy in ("asyncio", "ccxt", "aiohttp"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    if problem:
        logging.getLogger(__name__).warning(problem)
    return path
