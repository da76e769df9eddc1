"""The durable outbox: alerts waiting for each robot, cooldown times, recent sends, robot state.

Its own SQLite file (stdlib sqlite3, WAL). A row is written when an alert is decided and marked
delivered only after the robot said `errcode 0`, so a restart delivers what was pending and never
re-sends what was delivered. (A crash between the robot's answer and the commit would re-send
those rows once: at-least-once is the only honest promise over HTTP.)

`Outbox` is plain synchronous SQLite. `OutboxThread` runs every call of it on one worker thread,
in the order the calls were made, so the event loop never waits on the disk and a read always
sees the writes asked for before it.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TypeVar

from gme_tui.alerts.messages import Category
from gme_tui.model import RobotName, SourceMode

T = TypeVar("T")

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


CooldownEntry = tuple[str, str, int]
"""(symbol, cooldown key, event time in ms) of an alert that went out."""


@dataclass(frozen=True)
class NewAlert:
    robot: RobotName
    created_ms: int
    category: Category  # this and `key`, `symbol`: kept with the row, for the record
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
    created_ms: int
    title: str
    text: str
    line: str
    at_all: bool
    digest_only: bool
    hold_until_ms: int
    parts_done: int


@dataclass(frozen=True)
class Backlog:
    """One robot's rows that are not delivered: waiting, and reported undeliverable (kept a week)."""

    pending: int = 0
    failed: int = 0


def default_outbox_path() -> Path:
    from platformdirs import user_data_dir

    return Path(user_data_dir("gme-tui")) / "alerts-outbox.sqlite3"


class Outbox:
    """Synchronous: use it through an `OutboxThread` once the event loop runs."""

    def __init__(self, path: Path | str) -> None:
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")  # durable across crashes of the program
        self.db.execute("PRAGMA busy_timeout=2000")
        self.db.executescript(_SCHEMA)
        #: robot -> its backlog, counted again after every change (so reading it costs no query).
        self.backlog: Mapping[str, Backlog] = self._count()

    def close(self) -> None:
        self.db.close()

    # -------------------------------------------------------- alerts

    def add(self, mode: SourceMode, alerts: Sequence[NewAlert], cooldowns: Sequence[CooldownEntry] = ()) -> None:
        """New alerts and the cooldowns they started, in one transaction: after a crash both are
        there or neither (an alert without its cooldown could be sent twice)."""
        if not alerts and not cooldowns:
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
                        str(a.category),
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
            self.db.executemany(
                "INSERT INTO cooldowns(mode, symbol, key, sent_ms) VALUES (?,?,?,?)"
                " ON CONFLICT(mode, symbol, key) DO UPDATE SET sent_ms = excluded.sent_ms",
                [(str(mode), symbol, str(key), ts) for symbol, key, ts in cooldowns],
            )
        if alerts:
            self.backlog = self._count()

    def pending(self, robot: RobotName) -> list[PendingAlert]:
        rows = self.db.execute(
            "SELECT id, created_ms, title, text, line, at_all, digest_only, hold_until_ms, parts_done"
            " FROM alerts WHERE robot = ? AND state = 'pending' ORDER BY id",
            (robot,),
        ).fetchall()
        return [PendingAlert(r[0], r[1], r[2], r[3], r[4], bool(r[5]), bool(r[6]), r[7], r[8]) for r in rows]

    def earliest_hold(self, robot: RobotName) -> int | None:
        """The smallest `hold_until_ms` of the robot's pending rows; None when none is pending."""
        row = self.db.execute(
            "SELECT MIN(hold_until_ms) FROM alerts WHERE robot = ? AND state = 'pending'", (robot,)
        ).fetchone()
        return None if row is None else row[0]

    def mark_delivered(self, ids: Iterable[int], now_ms: int) -> None:
        self._set_state(ids, "delivered", now_ms, None)

    def mark_failed(self, ids: Iterable[int], now_ms: int, reason: str) -> None:
        self._set_state(ids, "failed", now_ms, reason)

    def mark_parts_done(self, alert_id: int, parts: int) -> None:
        self.db.execute("UPDATE alerts SET parts_done = ? WHERE id = ?", (parts, alert_id))

    def _set_state(
        self, ids: Iterable[int], state: Literal["delivered", "failed"], now_ms: int, reason: str | None
    ) -> None:
        with self.db:
            self.db.execute("BEGIN")
            self.db.executemany(
                "UPDATE alerts SET state = ?, done_ms = ?, error = ? WHERE id = ? AND state = 'pending'",
                [(state, now_ms, reason, i) for i in ids],
            )
        self.backlog = self._count()

    def _count(self) -> dict[str, Backlog]:
        rows = self.db.execute(
            "SELECT robot, SUM(state = 'pending'), SUM(state = 'failed') FROM alerts GROUP BY robot"
        ).fetchall()
        return {robot: Backlog(pending, failed) for robot, pending, failed in rows}

    def prune(self, now_ms: int) -> None:
        """Forget delivered and failed rows after a week, and sends older than the rate window."""
        self.db.execute("DELETE FROM alerts WHERE state != 'pending' AND done_ms < ?", (now_ms - DELIVERED_KEEP_MS,))
        self.db.execute("DELETE FROM sends WHERE ts_ms < ?", (now_ms - SENDS_KEEP_MS,))
        self.backlog = self._count()

    # -------------------------------------------------------- cooldowns

    def cooldowns(self, mode: SourceMode) -> dict[tuple[str, str], int]:
        rows = self.db.execute("SELECT symbol, key, sent_ms FROM cooldowns WHERE mode = ?", (str(mode),)).fetchall()
        return {(symbol, key): sent for symbol, key, sent in rows}

    # -------------------------------------------------------- robot state (survives restarts)

    def record_send(self, robot: RobotName, ts_ms: int) -> None:
        self.db.execute("INSERT INTO sends(robot, ts_ms) VALUES (?, ?)", (robot, ts_ms))

    def recent_sends(self, robot: RobotName, since_ms: int) -> list[int]:
        rows = self.db.execute(
            "SELECT ts_ms FROM sends WHERE robot = ? AND ts_ms >= ? ORDER BY ts_ms", (robot, since_ms)
        ).fetchall()
        return [r[0] for r in rows]

    def throttled_until(self, robot: RobotName) -> int:
        """Until when (ms) the robot said to wait; 0 when it never did."""
        row = self.db.execute("SELECT blocked_until_ms FROM robots WHERE robot = ?", (robot,)).fetchone()
        return int(row[0]) if row else 0

    def set_throttled_until(self, robot: RobotName, until_ms: int) -> None:
        # `failures` is no longer read (a restart retries network trouble at once); files of
        # earlier versions declare it NOT NULL, so it is written as 0.
        self.db.execute(
            "INSERT INTO robots(robot, blocked_until_ms, failures) VALUES (?,?,0) ON CONFLICT(robot)"
            " DO UPDATE SET blocked_until_ms = excluded.blocked_until_ms",
            (robot, until_ms),
        )


class OutboxThread:
    """An `Outbox` on its own worker thread: every call runs there, one at a time, in order.

    `submit` hands a call over and returns at once (`on_events`: the alerts are written a moment
    later, before anything asked for after them); `call` awaits its result without blocking the
    loop. A call that started always finishes, even when the coroutine awaiting it is cancelled,
    so a delivery cut short by `close()` still records what the robot acknowledged. The thread
    finishes the calls handed to it before the interpreter exits.
    """

    def __init__(self, outbox: Outbox) -> None:
        self._outbox = outbox
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="alert-outbox")
        self._pool.submit(int)  # start the thread now, not on the first alert

    @property
    def backlog(self) -> Mapping[str, Backlog]:
        """As of the last change (a snapshot: reading it never waits on the disk)."""
        return self._outbox.backlog

    def submit(self, job: Callable[[Outbox], T]) -> Future[T]:
        return self._pool.submit(job, self._outbox)

    async def call(self, job: Callable[[Outbox], T]) -> T:
        return await asyncio.shield(asyncio.wrap_future(self.submit(job)))

    async def close(self) -> None:
        """After every call handed over before it."""
        await self.call(Outbox.close)
        self._pool.shutdown(wait=False)
