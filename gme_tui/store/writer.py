"""The store's pipeline consumer: `on_events` only stamps and queues (the event loop never touches
SQLite); a writer thread commits what is queued in ONE transaction per batch: in live mode that is
the closed minute of every pair plus the scan's signals (they arrive in one events list), and the
odd whale in between. Never a transaction per trade, and an events list is never split.

Commits follow wall time, never data time (issue 12 item 7). The first list after a quiet spell
is committed at once (live: each minute as it closes). While lists keep coming (a replay at full
speed) the writer commits at most every `commit_every` seconds, each transaction holding every
list that came meanwhile; a flush or close commits at once, and a backlog of more than `max_rows`
rows (after a stall) is written `max_rows` at a time without waiting. Grouping is what keeps up:
a commit writes about one page per pair however many minutes it holds, so committing each minute
of a full-speed replay on its own kept the writer busy all the time and seconds behind.
"""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from gme_tui.model import ClosedMinutes, EngineEvent, HealthUpdate, MinuteBucket, Scan, Whale
from gme_tui.store.store import SignalRow, Store, signal_row

log = logging.getLogger(__name__)

COMMIT_EVERY_SECONDS = 0.5
"""While lists keep coming: the shortest wall time between two commits."""
MAX_ROWS = 200_000
"""Rows of one transaction at most (unless one events list alone holds more): bounds it after a stall."""


class _Stop:
    """The queue's end marker: the writer thread stops after what came before it."""


_STOP = _Stop()
_Queued = tuple[float, list[EngineEvent]]  # (time.monotonic() when handed out, the events to write)
_Item = _Queued | threading.Event | _Stop  # events to write, a flush marker, the end


@dataclass(frozen=True, slots=True)
class WriterStats:
    transactions: int
    minutes: int
    signals: int
    whales: int
    errors: int
    dropped: int  # event lists refused: queue full, or written after close
    last_write_seconds: float  # duration of the last transaction on the writer thread
    max_lag_seconds: float = 0.0  # longest wait of an events list from on_events to its commit


@dataclass(slots=True)
class _Batch:
    """What the next transaction writes, and who waits for it."""

    minutes: list[MinuteBucket] = field(default_factory=list)
    signals: list[SignalRow] = field(default_factory=list)
    whales: list[Whale] = field(default_factory=list)
    waiters: list[threading.Event] = field(default_factory=list)
    oldest: float | None = None  # when its first events list was handed out
    stop: bool = False

    @property
    def rows(self) -> int:
        return len(self.minutes) + len(self.signals) + len(self.whales)

    @property
    def urgent(self) -> bool:
        """Someone waits for it (flush) or the writer is closing: commit without gathering."""
        return self.stop or bool(self.waiters)

    def add(self, item: _Item) -> None:
        if isinstance(item, threading.Event):
            self.waiters.append(item)
        elif isinstance(item, _Stop):
            self.stop = True
        else:
            handed_out, events = item
            if self.oldest is None:
                self.oldest = handed_out
            minutes, signals, whales = rows_of(events)
            self.minutes += minutes
            self.signals += signals
            self.whales += whales


class StoreWriter:
    def __init__(
        self,
        store: Store,
        *,
        max_queue: int = 10_000,
        start: bool = True,
        commit_every: float = COMMIT_EVERY_SECONDS,
        max_rows: int = MAX_ROWS,
    ) -> None:
        self.store = store
        self.commit_every = commit_every
        self.max_rows = max_rows
        self._queue: queue.Queue[_Item] = queue.Queue(maxsize=max_queue)
        self._wake = threading.Event()  # cuts a gathering wait short: flush() or close() waits
        self._thread = threading.Thread(target=self._run, name="gme-store-writer", daemon=True)
        self._closed = False
        self._counts = {"transactions": 0, "minutes": 0, "signals": 0, "whales": 0, "errors": 0, "dropped": 0}
        self._last_write_seconds = 0.0
        self._max_lag_seconds = 0.0
        self._last_logged = 0.0
        if start:
            self.start()

    def start(self) -> None:
        if not self._thread.is_alive():
            self._thread.start()

    # ------------------------------------------------------------ the consumer (event loop)

    def on_events(self, events: Sequence[EngineEvent]) -> None:
        """Queue the events that matter to the store; O(number of events), never blocks."""
        # A re-scan of a boundary after the settings changed (Scan.rescan) was stored already.
        # Liquidations are not stored (the store has no table for them).
        wanted: list[EngineEvent] = [
            e for e in events if type(e) is ClosedMinutes or (type(e) is Scan and not e.rescan) or type(e) is Whale
        ]
        if not wanted:
            return
        if self._closed:
            self._counts["dropped"] += 1
            return
        try:
            self._queue.put_nowait((time.monotonic(), wanted))
        except queue.Full:  # the disk cannot keep up: drop rather than stall the data
            self._counts["dropped"] += 1
            self._warn("store writer queue full: events dropped")

    def on_health(self, update: HealthUpdate) -> None:
        """The store keeps no health: a consumer like the others, it ignores the heartbeat."""

    # ------------------------------------------------------------ control

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything queued so far is committed (or failed). False on timeout."""
        if not self._thread.is_alive():
            return self._queue.empty()
        done = threading.Event()
        self._queue.put(done)
        self._wake.set()
        return done.wait(timeout)

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued, then stop the thread. The store stays open (the caller owns it)."""
        if self._closed:
            return
        self._closed = True
        if self._thread.is_alive():
            self._queue.put(_STOP)
            self._wake.set()
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.warning("store writer did not finish within %.0fs; unwritten minutes are lost", timeout)

    @property
    def stats(self) -> WriterStats:
        c = self._counts
        return WriterStats(
            c["transactions"],
            c["minutes"],
            c["signals"],
            c["whales"],
            c["errors"],
            c["dropped"],
            self._last_write_seconds,
            self._max_lag_seconds,
        )

    # ------------------------------------------------------------ the writer thread

    def _run(self) -> None:
        last_commit = -float("inf")
        while True:
            self._wake.clear()  # a marker set before this is in the queue: _take sees it
            batch = _Batch()
            drained = self._take(batch, block=True)
            delay = last_commit + self.commit_every - time.monotonic()
            if drained and not batch.urgent and delay > 0:
                self._wake.wait(delay)  # gather what comes meanwhile: one transaction for all of it
                self._take(batch, block=False)
            if self._write(batch):
                last_commit = time.monotonic()
            for done in batch.waiters:
                done.set()
            if batch.stop:
                return  # anything queued after the stop marker was refused by on_events (closed)

    def _take(self, batch: _Batch, *, block: bool) -> bool:
        """Move queued items into `batch` (waiting for the first if `block`) until the queue is
        empty (True) or `max_rows` rows are pending (False: a backlog, commit without waiting)."""
        if block:
            batch.add(self._queue.get())
        while batch.rows < self.max_rows:
            if batch.stop:
                return True
            try:
                batch.add(self._queue.get_nowait())
            except queue.Empty:
                return True
        return False

    def _write(self, batch: _Batch) -> bool:
        """One transaction for the batch; False if there was nothing to write or it failed."""
        if not batch.rows:
            return False
        started = time.perf_counter()
        try:
            self.store.write(batch.minutes, batch.signals, batch.whales)
        except (sqlite3.Error, OSError) as error:  # disk full, file removed, locked too long
            self._counts["errors"] += 1
            self._warn(f"store write failed, {len(batch.minutes)} minutes lost: {type(error).__name__}: {error}")
            return False
        self._last_write_seconds = time.perf_counter() - started
        if batch.oldest is not None:
            self._max_lag_seconds = max(self._max_lag_seconds, time.monotonic() - batch.oldest)
        c = self._counts
        c["transactions"] += 1
        c["minutes"] += len(batch.minutes)
        c["signals"] += len(batch.signals)
        c["whales"] += len(batch.whales)
        return True

    def _warn(self, message: str) -> None:
        now = time.monotonic()
        if now - self._last_logged >= 60:  # a sick disk must not flood the log
            self._last_logged = now
            log.warning("%s", message)


def rows_of(events: Iterable[EngineEvent]) -> tuple[list[MinuteBucket], list[SignalRow], list[Whale]]:
    """Split engine events into minute buckets, signal rows and whales, in order."""
    minutes: list[MinuteBucket] = []
    signals: list[SignalRow] = []
    whales: list[Whale] = []
    for event in events:
        if isinstance(event, ClosedMinutes):
            # The store has no market column: a perp minute would overwrite the spot row of its
            # pair. The engine hands out spot minutes only; this keeps it so whatever comes.
            minutes.extend(b for b in event.buckets if b.market == "spot")
        elif isinstance(event, Scan) and not event.rescan:
            for item in event.symbols:
                for signal in item.signals:
                    signals.append(signal_row(signal, item.consensus.coverage, event.window_minutes))
        elif isinstance(event, Whale):
            whales.append(event)
    return minutes, signals, whales
