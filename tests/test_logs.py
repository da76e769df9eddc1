"""Log lines are stamped in the `timezone` setting's zone, per line (SPEC §9): the file and stderr
agree with the screen, also after a daylight-saving change."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from gme_tui.format import zone
from gme_tui.logs import ZonedFormatter, set_log_timezone, setup_logging
from tests.conftest import REPO

JULY_NOON_UTC_S = 1_751_371_200.25  # 2025-07-01 12:00:00.250 UTC
DECEMBER_NOON_UTC_S = 1_765_540_800.0  # 2025-12-12 12:00:00 UTC


def _record(created: float, message: str = "hello") -> logging.LogRecord:
    record = logging.makeLogRecord(
        {"name": "gme_tui.test", "levelno": logging.INFO, "levelname": "INFO", "msg": message}
    )
    record.created = created
    record.msecs = (created - int(created)) * 1000
    return record


@pytest.fixture
def root_logger() -> Iterator[logging.Logger]:
    """The root logger, its handlers and level put back after the test."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield root
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)


def test_the_formatter_stamps_each_record_in_its_own_season() -> None:
    formatter = ZonedFormatter("%(asctime)s %(message)s", tz=zone("Europe/Berlin"))
    assert formatter.format(_record(JULY_NOON_UTC_S)) == "2025-07-01 14:00:00,250 hello"
    assert formatter.format(_record(DECEMBER_NOON_UTC_S)) == "2025-12-12 13:00:00,000 hello"
    short = ZonedFormatter("%(asctime)s", "%H:%M:%S %Z", tz=zone("Europe/Berlin"))
    assert short.format(_record(JULY_NOON_UTC_S)) == "14:00:00 CEST"


def _formatters(root: logging.Logger) -> dict[str, ZonedFormatter]:
    out: dict[str, ZonedFormatter] = {}
    for handler in root.handlers:
        kind = "file" if isinstance(handler, logging.FileHandler) else "stderr"
        assert isinstance(handler.formatter, ZonedFormatter)
        out[kind] = handler.formatter
    return out


def test_file_and_stderr_use_the_timezone_setting(tmp_path: Path, root_logger: logging.Logger) -> None:
    path = setup_logging(level="INFO", directory=str(tmp_path), to_stderr=True, timezone="Asia/Shanghai")
    assert path == tmp_path / "gme-tui.log"
    formatters = _formatters(root_logger)
    assert set(formatters) == {"file", "stderr"}
    record = _record(JULY_NOON_UTC_S, "scan done")
    assert formatters["file"].format(record) == "2025-07-01 20:00:00,250 | INFO     | gme_tui.test - scan done"
    assert formatters["stderr"].format(record) == "20:00:00 | INFO     - scan done"


def test_a_new_timezone_reaches_every_handler(tmp_path: Path, root_logger: logging.Logger) -> None:
    setup_logging(level="INFO", directory=str(tmp_path), to_stderr=True, timezone="Asia/Shanghai")
    set_log_timezone("Europe/Berlin")
    record = _record(JULY_NOON_UTC_S)
    assert {kind: f.formatTime(record, "%H:%M") for kind, f in _formatters(root_logger).items()} == {
        "file": "14:00",
        "stderr": "14:00",
    }


def test_lines_written_to_the_file_carry_the_zone_time(tmp_path: Path, root_logger: logging.Logger) -> None:
    setup_logging(level="INFO", directory=str(tmp_path), to_stderr=False, timezone="Europe/Berlin")
    root_logger.handle(_record(DECEMBER_NOON_UTC_S, "written"))
    for handler in root_logger.handlers:
        handler.flush()
    assert (tmp_path / "gme-tui.log").read_text(encoding="utf-8") == (
        "2025-12-12 13:00:00,000 | INFO     | gme_tui.test - written\n"
    )


SYSTEM_ZONE_LOG = f"""
import logging, sys
from gme_tui.logs import setup_logging
setup_logging(level="INFO", directory=sys.argv[1], to_stderr=True)  # timezone "" = the system's
for handler in logging.getLogger().handlers:
    for created in ({JULY_NOON_UTC_S}, {DECEMBER_NOON_UTC_S}):
        record = logging.makeLogRecord({{"msg": "x", "levelname": "INFO"}})
        record.created, record.msecs = created, 0
        print(type(handler).__name__, handler.formatter.formatTime(record, "%H:%M %Z"))
"""


def test_the_system_zone_in_logs_follows_daylight_saving(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "TZ"} | {"TZ": "Europe/Berlin", "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-c", SYSTEM_ZONE_LOG, str(tmp_path)], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "RotatingFileHandler 14:00 CEST",
        "RotatingFileHandler 13:00 CET",
        "StreamHandler 14:00 CEST",
        "StreamHandler 13:00 CET",
    ]
