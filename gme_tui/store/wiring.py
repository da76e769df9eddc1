"""When the store is used and where, and one object that owns it for a run (store, writer and,
in live mode, retention), so the cli opens and closes it in two lines.

The store is ON in live mode when `[store] enabled` (default), at `[store] path` or the user data
directory; OFF in replay and demo unless `--store PATH` is given, so replays stay pure. Retention
runs in live mode only: a replay's stored minutes are old by design and would be pruned at once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from gme_tui.model import SourceMode
from gme_tui.store.retention import Retention
from gme_tui.store.store import Store, default_store_path
from gme_tui.store.writer import StoreWriter

if TYPE_CHECKING:  # a type only: settings are read once by the cli
    from gme_tui.settings import Settings

log = logging.getLogger(__name__)


def store_path_for(mode: SourceMode, settings: Settings, cli_path: str | None) -> Path | None:
    """The store file for a run in `mode` (live | replay | demo), or None when it is off."""
    if cli_path:
        return Path(cli_path).expanduser()
    if mode != SourceMode.LIVE or not settings.store.enabled:
        return None
    return Path(settings.store.path).expanduser() if settings.store.path else default_store_path()


@dataclass(frozen=True)
class StoreRun:
    store: Store
    writer: StoreWriter
    retention: Retention | None

    @classmethod
    def open(cls, path: Path, settings: Settings, *, live: bool) -> StoreRun:
        """Open the store (StoreError with a clear reason if it cannot), start the writer and, live,
        the background pruning."""
        store = Store(path)
        writer = StoreWriter(store)
        retention = Retention.from_settings(store, settings) if live else None
        if retention is not None:
            retention.start()
        log.info("store: %s", path)
        return cls(store, writer, retention)

    def close(self, timeout: float = 10.0) -> None:
        """Commit what is queued, stop the threads, close the file."""
        self.writer.close(timeout)
        if self.retention is not None:
            self.retention.close(timeout)
        self.store.close()
