"""Logging: a rotating file in the user's log directory, plus stderr when no TUI owns the terminal.

Both stamp their lines in the `timezone` setting's zone (SPEC §9), resolved per line, so after a
daylight-saving change the file, stderr and the screen still agree.
"""

from __future__ import annotations

import logging
import logging.handlers
import sys
from datetime import datetime, tzinfo
from pathlib import Path

from gme_tui.format import zone

FORMAT = "%(asctime)s | %(levelname)-8s | %(name)s - %(message)s"
STDERR_FORMAT = "%(asctime)s | %(levelname)-8s - %(message)s"
STDERR_DATEFMT = "%H:%M:%S"


class ZonedFormatter(logging.Formatter):
    """A Formatter whose `%(asctime)s` is the record's time in `tz` (any tzinfo; the offset is
    looked up for each record's own instant). Without a date format: `2025-07-01 14:00:00,123`,
    the standard library's layout."""

    def __init__(self, fmt: str, datefmt: str | None = None, *, tz: tzinfo) -> None:
        super().__init__(fmt, datefmt)
        self.tz = tz

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        moment = datetime.fromtimestamp(record.created, self.tz)
        if datefmt:
            return moment.strftime(datefmt)
        return f"{moment:%Y-%m-%d %H:%M:%S},{int(record.msecs):03d}"


def log_dir(configured: str) -> Path:
    if configured:
        return Path(configured).expanduser()
    from platformdirs import user_log_dir

    return Path(user_log_dir("gme-tui"))


def setup_logging(
    *, level: str, directory: str, to_stderr: bool, stderr_level: str = "INFO", timezone: str = ""
) -> Path | None:
    """Configure the root logger once. `level` and `stderr_level` are level names (DEBUG, INFO,
    WARNING, ERROR); `timezone` is the settings' (an IANA name, empty for the system's zone).
    Returns the log file path, or None if it cannot be written (then stderr alone is used and a
    warning says why)."""
    levels = logging.getLevelNamesMapping()
    tz = zone(timezone)
    root = logging.getLogger()
    root.setLevel(levels[level])
    for handler in list(root.handlers):
        root.removeHandler(handler)
    path = log_dir(directory) / "gme-tui.log"
    problem = ""
    try:
        root.addHandler(_file_handler(path, tz))
    except OSError as exc:
        problem = f"cannot write the log file {path}: {exc}"
    if to_stderr or problem:
        stream = logging.StreamHandler(sys.stderr)
        stream.setLevel(levels[stderr_level])
        stream.setFormatter(ZonedFormatter(STDERR_FORMAT, STDERR_DATEFMT, tz=tz))
        root.addHandler(stream)
    for noisy in ("asyncio", "ccxt", "aiohttp"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    if problem:
        logging.getLogger(__name__).warning(problem)
        return None
    return path


def set_log_timezone(timezone: str) -> None:
    """Re-stamp the root logger's lines in a new `timezone` setting (after the settings screen saved
    one). Raises ZoneInfoNotFoundError for an unknown name (the settings loader refuses those)."""
    tz = zone(timezone)
    for handler in logging.getLogger().handlers:
        if isinstance(handler.formatter, ZonedFormatter):
            handler.formatter.tz = tz


def _file_handler(path: Path, tz: tzinfo) -> logging.Handler:
    """The rotating log file (5 files of 5 MB); OSError when it cannot be written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.handlers.RotatingFileHandler(path, maxBytes=5_000_000, backupCount=5, encoding="utf-8")
    handler.setFormatter(ZonedFormatter(FORMAT, tz=tz))
    return handler
