"""The store's pipeline consumer: `on_events` only queues (the event loop never touches SQLite);
a writer thread drains the queue and commits ONE transaction per drain: in live mode that is the
closed minute of every pair plus the scan's signals (they arrive in one events list), and the odd
whale in between. Never a transaction per trade.
"""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from gme_tui.model import ClosedMinutes, EngineEvent, HealthUpdate, MinuteBucket, Scan, Whale
from gme_tui.store.store import SignalRow, Store, signal_row

log = logging.getLogger(__name__)


class _Stop:
    """The queue's end marker: the writer thread stops after what came before it."""


_STOP = _Stop()
_Item = list[EngineEvent] | threading.Event | _Stop  # events to write, a flush marker, the end
MAX_DRAIN = 200  # event lists per transaction at most: bounds one transaction's size after a stall


@dataclass(frozen=True, slots=True)
class WriterStats:
    transactions: int
    minutes: int
    signals: int
    whales: int
    errors: int
    dropped: int  # event lists refused: queue full, or written after close
    last_write_seconds: float  # duration of the last transaction on the writer thread


class StoreWriter:
    def __init__(self, store: Store, *, max_queue: int = 10_000, start: bool = True) -> None:
        self.store = store
        self._queue: queue.Queue[_Item] = queue.Queue(maxsize=max_queue)
        self._thread = threading.Thread(target=self._run, name="gme-store-writer", daemon=True)
        self._closed = False
        self._counts = {"transactions": 0, "minutes": 0, "signals": 0, "whales": 0, "errors": 0, "dropped": 0}
        self._last_write_seconds = 0.0
        self._last_logged = 0.0
        if start:
            self.start()

    def start(self) -> None:
        if not self._thread.is_alive():
            self._thread.start()

    # ------------------------------------------------------------ the consumer (event loop)

    def on_events(self, events: Sequence[EngineEvent]) -> None:
        """Queue the events that matter to the store; O(number of events), never blocks."""
        wanted = [e for e in events if type(e) is ClosedMinutes or type(e) is Scan or type(e) is Whale]
        if not wanted:
            return
        if self._closed:
            self._counts["dropped"] += 1
            return
        try:
            self._queue.put_nowait(wanted)
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
        return done.wait(timeout)

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued, then stop the thread. The store stays open (the caller owns it)."""
        if self._closed:
            return
        self._closed = True
        if self._thread.is_alive():
            self._queue.put(_STOP)
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
        )

    # ------------------------------------------------------------ the writer thread

    def _run(self) -> None:
        stop = False
        while not stop:
            drained = [self._queue.get()]
            while len(drained) < MAX_DRAIN:
                try:
                    drained.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            batches = [item for item in drained if isinstance(item, list)]
            if batches:
                self._write(batches)
            for item in drained:
                if isinstance(item, threading.Event):
                    item.set()
                elif item is _STOP:
                    stop = True
        # anything queued after the stop marker was refused by on_events (closed); nothing to do

    def _write(self, batches: list[list[EngineEvent]]) -> None:
        minutes, signals, whales = rows_of(event for batch in batches for event in batch)
        started = time.perf_counter()
        try:
            self.store.write(minutes, signals, whales)
        except (sqlite3.Error, OSError) as error:  # disk full, file removed, locked too long
            self._counts["errors"] += 1
            self._warn(f"store write failed, {len(minutes)} minutes lost: {type(error).__name__}: {error}")
            return
        self._last_write_seconds = time.perf_counter() - started
        c = self._counts
        c["transactions"] += 1
        c["minutes"] += len(minutes)
        c["signals"] += len(signals)
        c["whales"] += len(whales)

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
            minutes.extend(event.buckets)
        elif isinstance(event, Scan):
            for item in event.symbols:
                for signal in item.signals:
                    signals.append(signal_row(signal, item.consensus.coverage, event.window_minutes))
        elif isinstance(event, Whale):
            whales.append(event)
    return minutes, signals, whales
