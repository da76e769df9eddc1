"""The durable outbox: alerts waiting for each robot, cooldown times, the last level per symbol.

Its own SQLite file (stdlib sqlite3, WAL), one per mode: live, demo and replay alerts never share
a queue (`outbox_path_for`). A row is written when an alert is decided and marked delivered only
after the robot said `errcode 0`, so a restart delivers what was pending and never re-sends what
was delivered. (A crash between the robot's answer and the commit would re-send those rows once:
at-least-once is the only honest promise over HTTP.)

Several processes may share one outbox (a second live instance beside the daemon): each decides
the same alerts from the same market and writes them, and the file keeps one of each. A row's
`dedupe` key (the same alert decided twice) is unique per robot, and `add` checks every signal
and level alert against the cooldowns already in the file in the same transaction, so an alert
another process queued within its cooldown is not queued again. One process sends (sender.py).
The message counts per robot live in the shared send ledger (ledger.py), not here.

`Outbox` is plain synchronous SQLite. `OutboxThread` runs every call of it on one worker thread,
in the order the calls were made, so the event loop never waits on the disk and a read always
sees the writes asked for before it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TypeVar

from gme_tui.alerts.messages import Category
from gme_tui.core.sqlite_wal import connect_wal
from gme_tui.model import Level, RobotName, SourceMode

T = TypeVar("T")

DELIVERED_KEEP_MS = 7 * 24 * 3_600_000

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
CREATE TABLE IF NOT EXISTS levels(
    mode TEXT NOT NULL, symbol TEXT NOT NULL, level TEXT NOT NULL, PRIMARY KEY(mode, symbol)
);
CREATE TABLE IF NOT EXISTS last_scan(mode TEXT PRIMARY KEY, ts_ms INTEGER NOT NULL);
"""
# Files written by earlier versions: alerts without a dedupe key (their rows keep NULL: never a duplicate).
_MIGRATE = (
    ("alerts", "dedupe", "ALTER TABLE alerts ADD COLUMN dedupe TEXT"),
    ("alerts", "event_ts", "ALTER TABLE alerts ADD COLUMN event_ts INTEGER NOT NULL DEFAULT 0"),
)
_INDEXES = "CREATE UNIQUE INDEX IF NOT EXISTS alerts_dedupe ON alerts(robot, dedupe);"
_COOLED = frozenset({"signal", "consensus"})  # categories whose alerts have a cooldown slot


CooldownEntry = tuple[str, str, int]
"""(symbol, cooldown key, event time in ms) of an alert that went out."""


@dataclass(frozen=True)
class LevelMemory:
    """The consensus level of each symbol at the last scan a run of this mode saw, and that scan's
    time (ms; 0 when none): a restart does not announce again a level that held before it."""

    levels: Mapping[str, Level]
    scan_ts: int


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
    dedupe: str | None = None  # the same alert decided by another process has the same key
    event_ts: int = 0  # the event's time (ms): its cooldown slot is (symbol, key, event_ts)


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


def outbox_path_for(mode: SourceMode, configured: Path | None = None) -> Path:
    """The outbox of a mode: the live one is `configured` (default: the user data directory's
    `alerts-outbox.sqlite3`); demo and replay alerts get their own file beside it
    (`alerts-outbox-demo.sqlite3`, `alerts-outbox-replay.sqlite3`), so they never share a queue."""
    live = configured or default_outbox_path()
    if mode == SourceMode.LIVE:
        return live
    return live.with_name(f"{live.stem}-{mode}{live.suffix}")


class Outbox:
    """Synchronous: use it through an `OutboxThread` once the event loop runs."""

    def __init__(self, path: Path | str) -> None:
        self.path = str(path)
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.db, _ = connect_wal(path, busy_timeout_ms=2_000)
        self.db.execute("PRAGMA synchronous=NORMAL")  # durable across crashes of the program
        self._set_up_schema()
        #: robot -> its backlog, counted again after every change (so reading it costs no query).
        self.backlog: Mapping[str, Backlog] = self._count()

    def _set_up_schema(self) -> None:
        """Tables, migrations and indexes in one transaction: another process opening the same new
        file at the same moment would otherwise add the same column twice."""
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    self.db.execute(statement)
            for table, column, statement in _MIGRATE:
                columns = {row[1] for row in self.db.execute(f"PRAGMA table_info({table})")}
                if column not in columns:
                    self.db.execute(statement)
            self.db.execute(_INDEXES)

    def close(self) -> None:
        self.db.close()

    # -------------------------------------------------------- alerts

    def add(
        self,
        mode: SourceMode,
        alerts: Sequence[NewAlert],
        cooldowns: Sequence[CooldownEntry] = (),
        *,
        cooldown_ms: int = 0,
        levels: Mapping[str, Level] | None = None,
        scan_ts: int | None = None,
    ) -> int:
        """New alerts and the cooldowns they started, in one transaction: after a crash both are
        there or neither (an alert without its cooldown could be sent twice). An alert another
        process already queued (same dedupe key), or whose slot another process alerted less than
        `cooldown_ms` before, is left out, and so is its cooldown. `levels` (symbols whose level
        changed) and `scan_ts` update the level memory. Returns how many rows were added."""
        if not alerts and not cooldowns and not levels and scan_ts is None:
            return 0
        added = 0
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")  # shared with other processes: check and write together
            skipped = self._cooled_elsewhere(mode, alerts, cooldown_ms)
            for a in alerts:
                if (a.symbol, a.key, a.event_ts) in skipped:
                    continue
                cursor = self.db.execute(
                    "INSERT OR IGNORE INTO alerts(robot, created_ms, category, key, symbol, title, text, line, at_all,"
                    " digest_only, hold_until_ms, dedupe, event_ts) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
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
                        a.dedupe,
                        a.event_ts,
                    ),
                )
                added += cursor.rowcount
            self.db.executemany(
                "INSERT INTO cooldowns(mode, symbol, key, sent_ms) VALUES (?,?,?,?)"
                " ON CONFLICT(mode, symbol, key) DO UPDATE SET sent_ms = excluded.sent_ms",
                [
                    (str(mode), symbol, str(key), ts)
                    for symbol, key, ts in cooldowns
                    if (symbol, key, ts) not in skipped
                ],
            )
            if levels:
                self.db.executemany(
                    "INSERT INTO levels(mode, symbol, level) VALUES (?,?,?)"
                    " ON CONFLICT(mode, symbol) DO UPDATE SET level = excluded.level",
                    [(str(mode), symbol, str(level)) for symbol, level in levels.items()],
                )
            if scan_ts is not None:
                self.db.execute(
                    "INSERT INTO last_scan(mode, ts_ms) VALUES (?,?)"
                    " ON CONFLICT(mode) DO UPDATE SET ts_ms = MAX(ts_ms, excluded.ts_ms)",
                    (str(mode), scan_ts),
                )
        if alerts:  # counted even when another process had queued them all: its rows are ours too
            self.backlog = self._count()
        return added

    def _cooled_elsewhere(
        self, mode: SourceMode, alerts: Sequence[NewAlert], cooldown_ms: int
    ) -> set[tuple[str, str, int]]:
        """Slots (symbol, key, event ts) of `alerts` that the file says are in their cooldown,
        set by another process (this one's policy never decides an alert in its own cooldown)."""
        slots = {(a.symbol, a.key, a.event_ts) for a in alerts if str(a.category) in _COOLED}
        out: set[tuple[str, str, int]] = set()
        for symbol, key, ts in slots:
            row = self.db.execute(
                "SELECT sent_ms FROM cooldowns WHERE mode = ? AND symbol = ? AND key = ?", (str(mode), symbol, key)
            ).fetchone()
            if row is not None and 0 <= ts - int(row[0]) < max(cooldown_ms, 1):
                out.add((symbol, key, ts))
        return out

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

    def refresh(self) -> None:
        """Count the backlog again (other processes sharing the file change it too)."""
        self.backlog = self._count()

    def _count(self) -> dict[str, Backlog]:
        rows = self.db.execute(
            "SELECT robot, SUM(state = 'pending'), SUM(state = 'failed') FROM alerts GROUP BY robot"
        ).fetchall()
        return {robot: Backlog(pending, failed) for robot, pending, failed in rows}

    def prune(self, now_ms: int) -> None:
        """Forget delivered and failed rows after a week."""
        self.db.execute("DELETE FROM alerts WHERE state != 'pending' AND done_ms < ?", (now_ms - DELIVERED_KEEP_MS,))
        self.backlog = self._count()

    # -------------------------------------------------------- cooldowns

    def cooldowns(self, mode: SourceMode) -> dict[tuple[str, str], int]:
        rows = self.db.execute("SELECT symbol, key, sent_ms FROM cooldowns WHERE mode = ?", (str(mode),)).fetchall()
        return {(symbol, key): sent for symbol, key, sent in rows}

    def level_memory(self, mode: SourceMode) -> LevelMemory:
        rows = self.db.execute("SELECT symbol, level FROM levels WHERE mode = ?", (str(mode),)).fetchall()
        levels: dict[str, Level] = {}
        for symbol, level in rows:
            with contextlib.suppress(ValueError):  # a level a later version added: forgotten
                levels[symbol] = Level(level)
        row = self.db.execute("SELECT ts_ms FROM last_scan WHERE mode = ?", (str(mode),)).fetchone()
        return LevelMemory(levels, int(row[0]) if row else 0)


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

    async def run(self, job: Callable[[], T]) -> T:
        """Any other disk work of the alerts (the send ledger) on the same thread, in the same order."""
        return await asyncio.shield(asyncio.wrap_future(self._pool.submit(job)))

    async def close(self) -> None:
        """After every call handed over before it."""
        await self.call(Outbox.close)
        self._pool.shutdown(wait=False)
