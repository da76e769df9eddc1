"""`gme-tui scorecard --replay FILE [--json]` and `gme-tui scorecard [--since WHEN] [--json]`
(SPEC §13): the table on stdout, or one JSON object. Exit 0, or 2 with one line on stderr for
unusable input (a replay file that cannot be replayed, no store, a bad `--since`).

The cli adds the subcommand with `add_arguments` and calls `run_scorecard`.
"""

from __future__ import annotations

import argparse
import re
import sqlite3
import sys
from collections.abc import Sequence
from datetime import datetime, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import orjson

from gme_tui.core.clock import wall_ms
from gme_tui.engine import EngineConfig
from gme_tui.format import zone
from gme_tui.model import MINUTE_MS, SourceMode
from gme_tui.scorecard.compute import HORIZONS, compute
from gme_tui.scorecard.data import ScoreData
from gme_tui.scorecard.inputs import history_data, replay_data, stored_symbols
from gme_tui.scorecard.report import table, to_json
from gme_tui.sources.replay import ReplayError
from gme_tui.store import Store, StoreError, store_path_for

if TYPE_CHECKING:
    from gme_tui.settings import Settings

EXIT_OK, EXIT_UNUSABLE = 0, 2
_AGE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([mhd])\s*$")
_AGE_MS = {"m": MINUTE_MS, "h": 60 * MINUTE_MS, "d": 24 * 60 * MINUTE_MS}


class ScorecardError(Exception):
    """Unusable input for the scorecard: one line, exit code 2."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The subcommand's options, for the cli's `scorecard` subparser."""
    parser.add_argument("--replay", metavar="FILE", help="score a recorded file instead of the store")
    parser.add_argument(
        "--since",
        metavar="WHEN",
        help="only scans from then on: a date or time (2025-12-12, '2025-12-12 09:00', in the timezone"
        " setting unless it names one) or an age (90m, 24h, 7d)",
    )
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout instead of the table")
    parser.add_argument("--store", metavar="PATH", help="the store file (default: the [store] setting)")


def run_scorecard(
    settings: Settings,
    *,
    replay: str | Path | None = None,
    since: str | None = None,
    as_json: bool = False,
    store: str | None = None,
    horizons: Sequence[int] = HORIZONS,
    out: TextIO | None = None,
    err: TextIO | None = None,
    now_ms: int | None = None,
) -> int:
    """Compute and print the scorecard; returns the exit code. `horizons`: minutes (SPEC §13's
    setting); `now_ms`: the clock for `--since` ages (wall time by default)."""
    out = out or sys.stdout
    err = err or sys.stderr
    tz = zone(settings.timezone)
    try:
        since_ms = parse_since(since, tz, wall_ms() if now_ms is None else now_ms) if since else None
        data, source = _data(settings, replay, store, since_ms)
        card = compute(data, horizons)
    except (ScorecardError, ReplayError, StoreError) as problem:
        print(f"gme-tui scorecard: {problem}", file=err)
        return EXIT_UNUSABLE
    if as_json:
        out.write(orjson.dumps(to_json(card)).decode() + "\n")
    else:
        out.write(table(card, tz, source) + "\n")
    out.flush()
    return EXIT_OK


def _data(
    settings: Settings, replay: str | Path | None, store: str | None, since_ms: int | None
) -> tuple[ScoreData, str]:
    """The input and a name for where it came from."""
    if replay is not None:
        config = EngineConfig.from_settings(settings, live=False)
        return replay_data(Path(replay), config, since_ms=since_ms), str(replay)
    path = store_path_for(SourceMode.LIVE, settings, store)
    if path is None:
        raise ScorecardError("the store is off ([store] enabled = false): give --store PATH or --replay FILE")
    if not path.is_file():
        raise ScorecardError(f"no store at {path}: nothing recorded yet (give --store PATH or --replay FILE)")
    try:
        symbols = stored_symbols(path)
    except sqlite3.Error as error:
        raise ScorecardError(f"cannot read the store {path}: {error}") from None
    reader = Store(path)
    try:
        data = history_data(reader, symbols, window_minutes=settings.window.minutes, since_ms=since_ms)
    finally:
        reader.close()
    return data, f"the store {path}"


def parse_since(text: str, tz: tzinfo, now_ms: int) -> int:
    """`--since` as ms UTC: an age before `now_ms` (`90m`, `24h`, `7d`), or an ISO date or time
    (naive ones in `tz`). Raises ScorecardError."""
    age = _AGE.match(text)
    if age is not None:
        return now_ms - round(float(age.group(1)) * _AGE_MS[age.group(2)])
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ScorecardError(
            f"--since {text!r}: not a date, a time or an age (2025-12-12, '2025-12-12 09:00', 90m, 24h, 7d)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    return round(moment.timestamp() * 1000)
