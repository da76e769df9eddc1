"""A process killed with SIGKILL while it writes: the store reopens intact and loses at most the
minute that was being written (each minute is one transaction: all of it or nothing)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from gme_tui.store import Store
from tests.store.flows import M0

REPO = Path(__file__).resolve().parents[2]
PAIRS = 2_400

CHILD = """
import sys
from gme_tui.model import EXCHANGES, ClosedMinutes
from gme_tui.store import Store, StoreWriter
from tests.store.flows import bucket

store = Store(sys.argv[1])
writer = StoreWriter(store)
first = int(sys.argv[2])
for minute in range(first, first + 400):  # bounded: stops by itself if never killed
    buckets = tuple(bucket(e, f"S{i:03d}/USDT", minute) for i in range(600) for e in EXCHANGES)
    writer.on_events([ClosedMinutes(ts=(minute + 1) * 60000, buckets=buckets)])
    writer.flush()
    print(minute, flush=True)  # acknowledged: committed
"""


def write_until_killed(path: Path, first: int, acks_before_kill: int) -> int:
    """Run the writer child, SIGKILL it right after its n-th acknowledged minute (it is then busy
    writing the next one). Returns the last acknowledged minute."""
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(path), str(first)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    acked = None
    try:
        for _ in range(acks_before_kill):
            line = child.stdout.readline()
            assert line, "the writer child ended early"
            acked = int(line)
        child.send_signal(signal.SIGKILL)
    finally:
        child.wait(timeout=30)
        child.stdout.close()
    assert child.returncode == -signal.SIGKILL
    return acked


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="POSIX only")
def test_sigkill_during_writes_never_corrupts_and_loses_at_most_the_minute_in_flight(store_path):
    first = M0
    for round_, acks in enumerate((3, 5, 4)):
        acked = write_until_killed(store_path, first, acks)
        store = Store(store_path)  # restarts cleanly
        try:
            assert store.integrity() == "ok"
            last = store.last_minute()
            assert last in (acked, acked + 1), f"round {round_}: acked {acked}, stored through {last}"
            counts = store._query("SELECT minute, count(*) FROM minutes WHERE minute >= ? GROUP BY minute", (M0,))
            assert dict(counts) == {m: PAIRS for m in range(M0, last + 1)}  # no partial minute
        finally:
            store.close()
        first = last + 1
