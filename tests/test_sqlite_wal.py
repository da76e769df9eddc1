"""Shared SQLite files opened by several processes at once (gme_tui/core/sqlite_wal.py).

The send ledger, an outbox and a store may be opened by two processes in the same instant (a
daemon and a TUI started together). SQLite answers the switch to WAL with "database is locked"
without waiting, so one of them used to fall back to a ledger of its own and the two together
sent a robot 21 messages in a minute (DingTalk: muted for ten minutes).
"""

from __future__ import annotations

import multiprocessing
import sqlite3
from pathlib import Path

import pytest

from gme_tui.alerts.ledger import SendLedger
from gme_tui.alerts.outbox import Outbox
from gme_tui.core.sqlite_wal import connect_wal
from gme_tui.store import Store


def holding_a_write_lock(path: Path) -> sqlite3.Connection:
    """Another process's connection in the middle of a write (a RESERVED lock) on a file in
    rollback-journal mode, as a fresh file is until someone switches it."""
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE IF NOT EXISTS t(x)")
    holder.execute("BEGIN IMMEDIATE")
    holder.execute("INSERT INTO t VALUES (1)")
    return holder


def test_sqlite_refuses_the_switch_at_once_while_another_connection_writes(tmp_path):
    """Why connect_wal exists: with a 2 s busy timeout the switch still fails at once."""
    path = tmp_path / "f.sqlite3"
    holder = holding_a_write_lock(path)
    other = sqlite3.connect(path, isolation_level=None, timeout=2.0)
    with pytest.raises(sqlite3.OperationalError) as refused:
        other.execute("PRAGMA journal_mode=WAL")
    assert refused.value.sqlite_errorcode == sqlite3.SQLITE_BUSY
    holder.close()
    other.close()


def test_the_switch_is_retried_until_the_other_writer_is_done(tmp_path):
    path = tmp_path / "f.sqlite3"
    holder = holding_a_write_lock(path)
    slept: list[float] = []

    def sleep(seconds: float) -> None:  # the other process commits while we wait
        slept.append(seconds)
        if len(slept) == 2:
            holder.execute("COMMIT")

    db, mode = connect_wal(path, busy_timeout_ms=5_000, sleep=sleep)
    assert mode == "wal"
    assert len(slept) == 2 and all(0 < s <= 0.1 for s in slept)
    assert db.execute("SELECT COUNT(*) FROM t").fetchone() == (1,)  # the other's write is there
    assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone() == ("wal",)  # kept in the file
    db.close()
    holder.close()


def test_a_file_locked_past_the_busy_timeout_is_an_error_after_that_long(tmp_path):
    path = tmp_path / "f.sqlite3"
    holder = holding_a_write_lock(path)
    now = [100.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    with pytest.raises(sqlite3.OperationalError, match="locked"):
        connect_wal(path, busy_timeout_ms=2_000, sleep=sleep, monotonic=lambda: now[0])
    assert now[0] == pytest.approx(102.0)  # waited the whole budget, not a moment more
    holder.close()


def test_a_file_already_in_wal_is_opened_without_waiting_for_a_writer(tmp_path):
    path = tmp_path / "f.sqlite3"
    first, _ = connect_wal(path, busy_timeout_ms=1_000)
    first.execute("CREATE TABLE t(x)")
    first.execute("BEGIN IMMEDIATE")
    first.execute("INSERT INTO t VALUES (1)")

    def sleep(seconds: float) -> None:
        raise AssertionError("no wait is needed for a file already in WAL")

    second, mode = connect_wal(path, busy_timeout_ms=1_000, sleep=sleep)
    assert mode == "wal"
    first.close()
    second.close()


def test_memory_databases_say_so():
    db, mode = connect_wal(":memory:", busy_timeout_ms=1_000)
    assert mode == "memory"
    db.close()


ROUNDS = 15


def _open_all(root: str, barrier: multiprocessing.synchronize.Barrier, results: multiprocessing.Queue) -> None:
    """In a child process: open round N's ledger, outbox and store when the other child does."""
    for n in range(ROUNDS):
        directory = Path(root) / str(n)
        barrier.wait(timeout=30)
        try:
            ledger = SendLedger(directory / "robot-sends.sqlite3")
            outbox = Outbox(directory / "outbox.sqlite3")
            store = Store(directory / "store.sqlite3")
            modes = [db.execute("PRAGMA journal_mode").fetchone()[0] for db in (ledger.db, outbox.db)]
            store.close()
            outbox.close()
            ledger.close()
            results.put((n, "ok" if modes == ["wal", "wal"] else f"modes {modes}"))
        except Exception as error:
            results.put((n, repr(error)))


def test_two_processes_opening_the_same_fresh_files_at_once_both_get_them(tmp_path):
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(2)
    results = context.Queue()
    children = [context.Process(target=_open_all, args=(str(tmp_path), barrier, results)) for _ in range(2)]
    for child in children:
        child.start()
    answers = sorted(results.get(timeout=60) for _ in range(2 * ROUNDS))
    for child in children:
        child.join(timeout=30)
    assert answers == sorted((n, "ok") for n in range(ROUNDS) for _ in range(2))
    assert [child.exitcode for child in children] == [0, 0]
