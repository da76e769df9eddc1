"""The SQLite store: closed minutes, signals and whales (store.py), written off the event loop
(writer.py), pruned in the background (retention.py), restored at a live start (restore.py),
opened per run by the cli (wiring.py). A consumer: imports model, never sources or the UI."""

from gme_tui.store.restore import known_by_pair, restore_window
from gme_tui.store.retention import Retention
from gme_tui.store.store import SCHEMA_VERSION, PruneResult, Store, StoreError, default_store_path
from gme_tui.store.wiring import StoreRun, store_path_for
from gme_tui.store.writer import StoreWriter, WriterStats

__all__ = [
    "SCHEMA_VERSION",
    "PruneResult",
    "Retention",
    "Store",
    "StoreError",
    "StoreRun",
    "StoreWriter",
    "WriterStats",
    "default_store_path",
    "known_by_pair",
    "restore_window",
    "store_path_for",
]
