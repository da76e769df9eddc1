"""The store keeps up with a replay at full speed (issue 12 item 7): a real `gme-tui --replay FILE
--speed 0 --headless --json --store DB`, SIGKILLed once it has printed a given number of events;
every minute, signal and whale printed more than LAG_SECONDS of wall time before the kill is then
in the store, and the file is sound."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from gme_tui.model import MINUTE_MS
from gme_tui.store import Store
from tests.store.replays import write_replay

LAG_SECONDS = 2.0  # "printed more than a few seconds ago is in the store"
SYMBOLS, MINUTES, TRADES, WINDOW = 600, 120, 600_000, 5  # 2,400 pairs trading every minute
KILL_AFTER_SCANS = 100  # of the 116 the file reports: killed mid-run, well before its end

Printed = list[tuple[float, dict[str, object]]]  # (time.monotonic() when read, the JSON event)


def replay_until_killed(replay: Path, database: Path, settings: Path, env: dict[str, str]) -> tuple[Printed, float]:
    """Run the replay, read its stdout as it comes, SIGKILL it when the first line of its
    KILL_AFTER_SCANS-th scan arrives. Returns the events read (stamped) and the kill time."""
    child = subprocess.Popen(
        [sys.executable, "-m", "gme_tui", "--config", str(settings), "--replay", str(replay), "--speed", "0"]
        + ["--headless", "--json", "--store", str(database)],
        cwd=database.parent,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert child.stdout is not None
    printed: Printed = []
    scans: set[object] = set()
    killed_at = 0.0
    try:
        for line in child.stdout:  # ends when the child does: bounded by the file
            event = orjson.loads(line)
            printed.append((time.monotonic(), event))
            if event["type"] == "consensus":
                scans.add(event["ts"])
                if len(scans) == KILL_AFTER_SCANS:
                    killed_at = time.monotonic()
                    child.send_signal(signal.SIGKILL)
                    break
    finally:
        child.kill()  # no-op once killed; stops it if the test failed while reading
        child.wait(timeout=30)
        child.stdout.close()
    assert child.returncode == -signal.SIGKILL, "the replay ended before it was killed: make the file longer"
    return printed, killed_at


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="POSIX only")
def test_a_full_speed_replay_killed_mid_run_has_stored_everything_printed_seconds_before(
    tmp_path: Path, cli_env: dict[str, str]
) -> None:
    replay = write_replay(tmp_path / "tape.jsonl", trades=TRADES, symbols=SYMBOLS, minutes=MINUTES)
    settings = tmp_path / "settings.toml"
    settings.write_text(f'timezone = "UTC"\n[window]\nminutes = {WINDOW}\n', encoding="utf-8")
    database = tmp_path / "store.sqlite3"

    printed, killed_at = replay_until_killed(replay.path, database, settings, cli_env)

    old = [event for at, event in printed if killed_at - at > LAG_SECONDS]
    old_scans = sorted({int(str(e["ts"])) for e in old if e["type"] == "consensus"})
    assert len(old_scans) >= 10, f"only {len(old_scans)} scans printed {LAG_SECONDS}s before the kill"

    store = Store(database)  # reopens cleanly after SIGKILL
    try:
        assert store.integrity() == "ok"
        rows: list[tuple[int, int]] = store._query("SELECT minute, count(*) FROM minutes GROUP BY minute")
        stored_minutes = dict(rows)
        signals = {(s.ts, s.symbol, s.code) for s in store.signals(0, limit=1_000_000)}
        whales = {(w.ts, w.exchange, w.symbol, w.side, w.value) for w in store.whales(0, limit=1_000_000)}
    finally:
        store.close()

    # The minute that closed at each scan, with every pair that traded in it (same transaction
    # as the scan's signals), and every minute before it.
    last_closed = old_scans[-1] // MINUTE_MS - 1
    missing = {
        minute: (stored_minutes.get(minute, 0), pairs)
        for minute, pairs in replay.pairs_by_minute.items()
        if minute <= last_closed and stored_minutes.get(minute, 0) != pairs
    }
    assert not missing, f"minutes printed over {LAG_SECONDS}s before the kill, not stored (stored, expected): {missing}"

    old_signals = {(e["ts"], e["symbol"], e["code"]) for e in old if e["type"] == "signal"}
    assert old_signals, "the file should print signals"
    assert old_signals <= signals, f"{len(old_signals - signals)} of {len(old_signals)} printed signals not stored"

    old_whales = {(e["ts"], e["exchange"], e["symbol"], e["side"], e["value"]) for e in old if e["type"] == "whale"}
    assert old_whales, "the file should print whales"
    assert old_whales <= whales, f"{len(old_whales - whales)} of {len(old_whales)} printed whales not stored"


def test_the_replay_file_is_what_the_test_expects(tmp_path: Path) -> None:
    """The generator itself: seeded (same file twice), and nearly every pair trades each minute."""
    first = write_replay(tmp_path / "a.jsonl", trades=30_000, symbols=60, minutes=6)
    second = write_replay(tmp_path / "b.jsonl", trades=30_000, symbols=60, minutes=6)
    assert first.path.read_bytes() == second.path.read_bytes()
    assert len(first.pairs_by_minute) == 6
    assert min(first.pairs_by_minute.values()) >= 0.95 * 240
