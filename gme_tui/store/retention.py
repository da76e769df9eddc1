"""Background pruning: minutes older than `bucket_days`, signals and whales older than
`history_days`. Runs at start and then every `every_seconds` on its own thread; the clock is
injected, so tests prune "a week later" at once with `run_once()`.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from gme_tui.core.clock import wall_ms
from gme_tui.store.store import PruneResult, Store

if TYPE_CHECKING:  # a type only: settings are read once by the cli
    from gme_tui.settings import Settings

log = logging.getLogger(__name__)


class Retention:
    def __init__(
        self,
        store: Store,
        *,
        bucket_days: float = 7.0,
        history_days: float = 90.0,
        clock: Callable[[], int] = wall_ms,
        every_seconds: float = 600.0,
    ) -> None:
        self.store = store
        self.bucket_days = bucket_days
        self.history_days = history_days
        self.clock = clock
        self.every_seconds = every_seconds
        self.runs = 0  # prunes that completed
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @classmethod
    def from_settings(
        cls, store: Store, settings: Settings, *, clock: Callable[[], int] = wall_ms, every_seconds: float = 600.0
    ) -> Retention:
        """Ages from `[store] bucket_days` and `history_days`."""
        return cls(
            store,
            bucket_days=settings.store.bucket_days,
            history_days=settings.store.history_days,
            clock=clock,
            every_seconds=every_seconds,
        )

    def run_once(self) -> PruneResult:
        """Prune what is past its age at the clock's now. Errors are logged and counted."""
        try:
            result = self.store.prune(self.clock(), bucket_days=self.bucket_days, history_days=self.history_days)
        except (sqlite3.Error, OSError) as error:
            log.warning("store pruning failed: %s", error)
            return PruneResult()
        self.runs += 1
        if result.minutes or result.signals or result.whales:
            log.info("store pruned %d minutes, %d signals, %d whales", result.minutes, result.signals, result.whales)
        return result

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="gme-store-retention", daemon=True)
            self._thread.start()

    def close(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _loop(self) -> None:
        while True:  # prune once at start, then every `every_seconds` until closed
            self.run_once()
            if self._stop.wait(self.every_seconds):
                return
