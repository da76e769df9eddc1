"""Opening an SQLite file that several gme-tui processes may open at once, in WAL mode.

The send ledger is shared by every process of a user, an outbox by the live instances beside a
daemon, a store by whoever points at it. SQLite does not call the busy handler for `PRAGMA
journal_mode=WAL` (switching needs the file to itself), so when two processes open a fresh file at
the same moment one of them gets "database is locked" at once, whatever the busy timeout (measured
here: 96 of 400 such opens; the loser then alerted through a ledger of its own and the robot was
muted for ten minutes). WAL is kept in the file: once one process has switched it, the others find
it switched. So the mode is read first, and the switch is retried within the busy timeout.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

from gme_tui.core.backoff import backoff_seconds

_RETRY_BASE_S = 0.005
_RETRY_CAP_S = 0.1


def connect_wal(
    path: Path | str,
    *,
    busy_timeout_ms: int,
    sleep: Callable[[float], None] = time.sleep,
    monotonic: Callable[[], float] = time.monotonic,
) -> tuple[sqlite3.Connection, str]:
    """An autocommit connection (`isolation_level=None`, usable from any one thread at a time) with
    `busy_timeout_ms` as its busy timeout, and the journal mode it ended in: "wal", or what SQLite
    kept when it cannot use WAL ("memory" for ":memory:", "delete" on a file system without the
    shared memory WAL needs); the caller decides whether that will do.

    Raises sqlite3.Error when the file cannot be opened, or when it stays locked by another
    process for longer than `busy_timeout_ms`.
    """
    db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False, timeout=busy_timeout_ms / 1000)
    try:
        deadline = monotonic() + busy_timeout_ms / 1000
        for attempt in range(10_000):  # bounded: the deadline ends it long before
            try:
                return db, _switch_to_wal(db)
            except sqlite3.OperationalError as error:
                left = deadline - monotonic()
                if error.sqlite_errorcode not in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED) or left <= 0:
                    raise
                sleep(min(left, backoff_seconds(attempt, _RETRY_CAP_S, base=_RETRY_BASE_S)))
        raise sqlite3.OperationalError(f"{path}: still locked after {busy_timeout_ms} ms")
    except BaseException:
        db.close()
        raise


def _switch_to_wal(db: sqlite3.Connection) -> str:
    mode = str(db.execute("PRAGMA journal_mode").fetchone()[0]).lower()  # reading takes no exclusive lock
    if mode == "wal":
        return mode
    return str(db.execute("PRAGMA journal_mode=WAL").fetchone()[0]).lower()
