"""The durable outbox: alerts waiting for each robot, cooldown times, recent sends, robot state.

Its own SQLite file (stdlib sqlite3, WAL). A row is written when an alert is decided and marked
delivered only after the robot said `errcode 0`, so a restart delivers what was pending and never
re-sends what was delivered. (A crash between the robot's answer and the commit would re-send
those rows once: at-least-once is the only honest promise over HTTP.)
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

DELIVERED_KEEP_MS = 7 * 24 * 3_600_000
SENDS_KEEP_MS = 10 * 60_000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS alerts(
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    robot TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    category TEXT NOT NULL,
    key TEXT NOT NULL,
    symbol TEXT NOT NULL,
    title TEXT NOT NULL,
    text TEXT NOT NULL,
    line TEXT NOT NULL,
    at_all INTEGER NOT NULL,
    digest_only INTEGER NOT NULL,
    hold_until_ms INTEGER NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',
    parts_done INTEGER NOT NULL DEFAULT 0,
    done_ms INTEGER,
    error TEXT
);
CREATE INDEX IF NOT EXISTS alerts_by_state ON alerts(robot, state, id);
CREATE TABLE IF NOT EXISTS cooldowns(
    mode TEXT NOT NULL, symbol TEXT NOT NULL, key TEXT NOT NULL, sent_ms INTEGER NOT NULL,
    PRIMARY KEY(mode, symbol, key)
);
CREATE TABLE IF NOT EXISTS sends(robot TEXT NOT NULL, ts_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS robots(
    robot TEXT PRIMARY KEY, blocked_until_ms INTEGER NOT NULL, failures INTEGER NOT NULL
);
"""


@dataclass(frozen=True)
class NewAlert:
    robot: str
    created_ms: int
    category: str
    key: str
    symbol: str
    title: str
    text: str
    line: str
    at_all: bool
    digest_only: bool  # never sent alone: waits for the periodic digest (B signals on DingTalk)
    hold_until_ms: int


@dataclass(frozen=True)
class PendingAlert:
    id: int
    robot: str
    created_ms: int
    category: str
    key: str
    symbol: str
    title: str
    text: str
    line: str
    at_all: bool
    digest_only: bool
    hold_until_ms: int
    parts_done: int


def default_outbox_path() -> Path:
    from platformdirs import user_data_dir

    return Path(user_data_dir("gme-tui")) / "alerts-outbox.sqlite3"


class Outbox:
    def __init__(self, path: Path | str) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")  # durable across crashes of the program
        self.db.execute("PRAGMA busy_timeout=2000")
        self.db.executescript(_SCHEMA)

    def close(self) -> None:
        self.db.close()

    # -------------------------------------------------------- alerts

    def add(self, alerts: Sequence[NewAlert]) -> None:
        if not alerts:
            return
        with self.db:
            self.db.execute("BEGIN")
            self.db.executemany(
                "INSERT INTO alerts(robot, created_ms, category, key, symbol, title, text, line, at_all,"
                " digest_only, hold_until_ms) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                [
                    (
                        a.robot,
                        a.created_ms,
                        a.category,
                        a.key,
                        a.symbol,
                        a.title,
                        a.text,
                        a.line,
                        int(a.at_all),
                        int(a.digest_only),
                        a.hold_until_ms,
                    )
                    for a in alerts
                ],
            )

    def pending(self, robot: str) -> list[PendingAlert]:
        rows = self.db.execute(
            "SELECT id, robot, created_ms, category, key, symbol, title, text, line, at_all, digest_only,"
            " hold_until_ms, parts_done FROM alerts WHERE robot = ? AND state = 'pending' ORDER BY id",
            (robot,),
        ).fetchall()
        return [
            PendingAlert(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], bool(r[9]), bool(r[10]), r[11], r[12])
            for r in rows
        ]

    def mark_delivered(self, ids: Iterable[int], now_ms: int) -> None:
        self._set_state(ids, "delivered", now_ms, None)

    def mark_failed(self, ids: Iterable[int], now_ms: int, reason: str) -> None:
        self._set_state(ids, "failed", now_ms, reason)

    def mark_parts_done(self, alert_id: int, parts: int) -> None:
        self.db.execute("UPDATE alerts SET parts_done = ? WHERE id = ?", (parts, alert_id))

    def _set_state(self, ids: Iterable[int], state: str, now_ms: int, reason: str | None) -> None:
        with self.db:
            self.db.execute("BEGIN")
            self.db.executemany(
                "UPDATE alerts SET state = ?, done_ms = ?, error = ? WHERE id = ? AND state = 'pending'",
                [(state, now_ms, reason, i) for i in ids],
            )

    def counts(self) -> dict[tuple[str, str], int]:
        """(robot, state) -> rows; delivered rows are kept a week for the record."""
        rows = self.db.execute("SELECT robot, state, COUNT(*) FROM alerts GROUP BY robot, state").fetchall()
        return {(robot, state): n for robot, state, n in rows}

    def delivered_lines(self, robot: str) -> list[str]:
        """Digest lines and titles of what the robot got (tests and diagnostics)."""
        rows = self.db.execute(
            "SELECT line FROM alerts WHERE robot = ? AND state = 'delivered' ORDER BY id", (robot,)
        ).fetchall()
        return [r[0] for r in rows]

    def prune(self, now_ms: int) -> None:
        self.db.execute("DELETE FROM alerts WHERE state != 'pending' AND done_ms < ?", (now_ms - DELIVERED_KEEP_MS,))
        self.db.execute("DELETE FROM sends WHERE ts_ms < ?", (now_ms - SENDS_KEEP_MS,))

    # -------------------------------------------------------- cooldowns

    def cooldowns(self, mode: str) -> dict[tuple[str, str], int]:
        rows = self.db.execute("SELECT symbol, key, sent_ms FROM cooldowns WHERE mode = ?", (mode,)).fetchall()
        return {(symbol, key): sent for symbol, key, sent in rows}

    def set_cooldowns(self, mode: str, entries: Sequence[tuple[str, str, int]]) -> None:
        if not entries:
            return
        self.db.executemany(
            "INSERT INTO cooldowns(mode, symbol, key, sent_ms) VALUES (?,?,?,?)"
            " ON CONFLICT(mode, symbol, key) DO UPDATE SET sent_ms = excluded.sent_ms",
            [(mode, symbol, key, ts) for symbol, key, ts in entries],
        )

    # -------------------------------------------------------- robot state (survives restarts)

    def record_send(self, robot: str, ts_ms: int) -> None:
        self.db.execute("INSERT INTO sends(robot, ts_ms) VALUES (?, ?)", (robot, ts_ms))

    def recent_sends(self, robot: str, since_ms: int) -> list[int]:
        rows = self.db.execute(
            "SELECT ts_ms FROM sends WHERE robot = ? AND ts_ms >= ? ORDER BY ts_ms", (robot, since_ms)
        ).fetchall()
        return [r[0] for r in rows]

    def robot_state(self, robot: str) -> tuple[int, int]:
        row = self.db.execute("SELECT blocked_until_ms, failures FROM robots WHERE robot = ?", (robot,)).fetchone()
        return (row[0], row[1]) if row else (0, 0)

    def set_robot_state(self, robot: str, blocked_until_ms: int, failures: int) -> None:
        self.db.execute(
            "INSERT INTO robots(robot, blocked_until_ms, failures) VALUES (?,?,?) ON CONFLICT(robot)"
            " DO UPDATE SET blocked_until_ms = excluded.blocked_until_ms, failures = excluded.failures",
            (robot, blocked_until_ms, failures),
        )
