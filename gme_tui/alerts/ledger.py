"""The send ledger: every message posted to a robot by any gme-tui process of this user (SPEC §10).

The robots count messages per robot, whoever sends them, and DingTalk answers a 21st message in a
minute by muting the robot for ten minutes. So the 20-per-minute limit is kept here, in one small
SQLite file in the user data directory that every process shares (the live daemon, a second
instance, `notify-test`, a demo run with `--alerts`), rather than in each process's memory.

A robot is known by `robot_id(webhook)`: a hash of its webhook URL, never the URL or the secret.

A slot is *reserved* before a message goes out, in one `BEGIN IMMEDIATE` transaction that counts
the robot's sends of the last window and inserts the new one only when there is room: two
processes can never both take the 20th slot. The reservation is stamped with the latest time the
robot could receive the message (now + the request timeout) and settled to the time its answer
arrived, so the ledger's count is never kinder than the robot's, even if the process dies in
between. A robot's throttle ("wait ten minutes") is kept here too: every process then waits.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from gme_tui.core.sqlite_wal import connect_wal

KEEP_MS = 10 * 60_000
"""Sends older than this are forgotten (far more than any rate window)."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sends(
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    robot TEXT NOT NULL,
    ts_ms INTEGER NOT NULL,
    pid INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS sends_by_robot ON sends(robot, ts_ms);
CREATE TABLE IF NOT EXISTS throttles(robot TEXT PRIMARY KEY, until_ms INTEGER NOT NULL);
"""


def robot_id(webhook: str) -> str:
    """A robot's identity in the ledger: 32 hex digits of a SHA-256 of its webhook URL (which holds
    its token or key). One-way, so the ledger file never holds a credential."""
    return hashlib.sha256(b"gme-tui robot\0" + webhook.strip().encode("utf-8")).hexdigest()[:32]


def default_ledger_path() -> Path:
    from platformdirs import user_data_dir

    return Path(user_data_dir("gme-tui")) / "robot-sends.sqlite3"


@dataclass(frozen=True)
class RobotState:
    """One robot as the ledger sees it at a moment: its sends in the window (ms, oldest first) and
    until when it asked every sender to wait (0: never)."""

    sends: tuple[int, ...]
    throttled_until_ms: int


class SendLedger:
    """Synchronous SQLite; each call is one short transaction (safe from any one thread at a time).

    Raises sqlite3.Error when the file cannot be opened or written.
    """

    def __init__(self, path: Path | str, *, busy_timeout_ms: int = 5_000) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.db, _ = connect_wal(self.path, busy_timeout_ms=busy_timeout_ms)
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(_SCHEMA)
        self.pid = os.getpid()

    def close(self) -> None:
        self.db.close()

    def reserve(self, robot: str, now_ms: int, *, capacity: int, window_ms: int, hold_ms: int) -> int | None:
        """Take a slot for one message to `robot` at `now_ms`, if fewer than `capacity` messages
        went to it in the last `window_ms` and it is not throttled. Returns the reservation's id
        (for `settle`), or None when there is no room. `hold_ms`: how long after `now_ms` the
        robot might still receive the message (the request timeout)."""
        db = self.db
        db.execute("BEGIN IMMEDIATE")  # one writer at a time across processes: count and insert together
        try:
            row = db.execute("SELECT until_ms FROM throttles WHERE robot = ?", (robot,)).fetchone()
            if row is not None and int(row[0]) > now_ms:
                db.execute("ROLLBACK")
                return None
            (count,) = db.execute(
                "SELECT COUNT(*) FROM sends WHERE robot = ? AND ts_ms > ?", (robot, now_ms - window_ms)
            ).fetchone()
            if int(count) >= capacity:
                db.execute("ROLLBACK")
                return None
            cursor = db.execute(
                "INSERT INTO sends(robot, ts_ms, pid) VALUES (?, ?, ?)", (robot, now_ms + hold_ms, self.pid)
            )
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        return cursor.lastrowid

    def settle(self, reservation: int, answered_ms: int) -> None:
        """The robot answered at `answered_ms`: the send counts from then (never later than reserved)."""
        self.db.execute("UPDATE sends SET ts_ms = MIN(ts_ms, ?) WHERE id = ?", (answered_ms, reservation))

    def state(self, robot: str, now_ms: int, window_ms: int) -> RobotState:
        """The robot's sends in the window ending at `now_ms` and its throttle."""
        rows = self.db.execute(
            "SELECT ts_ms FROM sends WHERE robot = ? AND ts_ms > ? ORDER BY ts_ms", (robot, now_ms - window_ms)
        ).fetchall()
        row = self.db.execute("SELECT until_ms FROM throttles WHERE robot = ?", (robot,)).fetchone()
        return RobotState(tuple(int(r[0]) for r in rows), int(row[0]) if row else 0)

    def set_throttled_until(self, robot: str, until_ms: int) -> None:
        """The robot said to wait: no process sends to it before `until_ms`."""
        self.db.execute(
            "INSERT INTO throttles(robot, until_ms) VALUES (?, ?)"
            " ON CONFLICT(robot) DO UPDATE SET until_ms = MAX(until_ms, excluded.until_ms)",
            (robot, until_ms),
        )

    def prune(self, now_ms: int) -> None:
        self.db.execute("DELETE FROM sends WHERE ts_ms < ?", (now_ms - KEEP_MS,))
        self.db.execute("DELETE FROM throttles WHERE until_ms < ?", (now_ms - KEEP_MS,))
