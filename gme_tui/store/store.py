"""The SQLite store: closed minute buckets, signals and whales, so a restart needs no warm-up and
history reaches back beyond the 50-minute window.

stdlib sqlite3 in WAL mode with `synchronous=NORMAL`: a killed process loses nothing committed and
never leaves a corrupt file (only a power cut may lose the last transactions). Writes come in
batches, one transaction each (see writer.py); reads use their own connection, so the UI never
waits behind a write. The schema version is `PRAGMA user_version`; `_MIGRATIONS[n]` upgrades
version n to n + 1.

Writes are cheap for the writer thread however busy the pipeline thread is (issue 12 item 7):
- rows go in as multi-row INSERTs of up to 4,096 rows, never a statement step per row: sqlite3
  releases the GIL around every step, and under a busy pipeline thread each release may cost the
  writer a switch interval (5 ms) to get it back. With `executemany`, measured during a full-speed
  replay: 3,051 rows of 38 ms of CPU took 1.1 s. Values are bound as they are (exact floats);
- minute rows go in in key order (pair, minute), so a transaction of many minutes touches each
  pair's page once instead of hopping across the table for every minute;
- pair ids come back as one JSON row, not one row (one step) per pair.

Data model, kept small and honest:
- `pairs(id, exchange, symbol)`: a 2-byte id instead of two strings on each of the ~3.5 M minute
  rows a day at 600 symbols x 4 exchanges;
- `minutes(pair, minute, buy, sell, count, close, covered)`, key (pair, minute): a re-emitted
  minute (late trade, backfill) replaces the stored one. `covered` = the source really covered
  the whole minute; an uncovered minute keeps its flow but claims no coverage when restored;
- `signals(ts, symbol, code, grade, flows and coverage per exchange)`, key (ts, symbol, code);
- `whales(ts, exchange, symbol, side, price, amount, value, fills)`, one row per taker order.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import chain
from operator import itemgetter
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeAlias

import msgspec

from gme_tui.core.sqlite_wal import connect_wal
from gme_tui.model import EXCHANGES, MINUTE_MS, Grade, MinuteBucket, Side, Signal, SignalCode, StoredSignal, Whale

DAY_MS = 86_400_000

_MIGRATIONS: tuple[str, ...] = (
    # 0 -> 1
    """
    CREATE TABLE pairs(
        id INTEGER PRIMARY KEY,
        exchange TEXT NOT NULL,
        symbol TEXT NOT NULL,
        UNIQUE(exchange, symbol)
    );
    CREATE TABLE minutes(
        pair INTEGER NOT NULL,
        minute INTEGER NOT NULL,
        buy REAL NOT NULL,
        sell REAL NOT NULL,
        count INTEGER NOT NULL,
        close REAL,
        covered INTEGER NOT NULL,
        PRIMARY KEY(pair, minute)
    ) WITHOUT ROWID;
    CREATE TABLE signals(
        ts INTEGER NOT NULL,
        symbol TEXT NOT NULL,
        code TEXT NOT NULL,
        grade TEXT NOT NULL,
        flow_binance REAL, flow_okx REAL, flow_bybit REAL, flow_coinbase REAL,
        cov_binance INTEGER, cov_okx INTEGER, cov_bybit INTEGER, cov_coinbase INTEGER,
        window_minutes INTEGER NOT NULL,
        PRIMARY KEY(ts, symbol, code)
    ) WITHOUT ROWID;
    CREATE INDEX signals_by_symbol ON signals(symbol, ts);
    CREATE TABLE whales(
        ts INTEGER NOT NULL,
        exchange TEXT NOT NULL,
        symbol TEXT NOT NULL,
        side TEXT NOT NULL,
        price REAL NOT NULL,
        amount REAL NOT NULL,
        value REAL NOT NULL,
        fills INTEGER NOT NULL,
        UNIQUE(exchange, symbol, ts, side, value)
    );
    CREATE INDEX whales_by_ts ON whales(ts);
    """,
)
SCHEMA_VERSION = len(_MIGRATIONS)

_FLOW_COLUMNS = ", ".join(f"flow_{e}" for e in EXCHANGES)
_COV_COLUMNS = ", ".join(f"cov_{e}" for e in EXCHANGES)

_INSERT_MINUTES = "INSERT OR REPLACE INTO minutes(pair, minute, buy, sell, count, close, covered)"
_INSERT_SIGNALS = (
    f"INSERT OR REPLACE INTO signals(ts, symbol, code, grade, {_FLOW_COLUMNS}, {_COV_COLUMNS}, window_minutes)"
)
_SIGNAL_WIDTH = 5 + 2 * len(EXCHANGES)  # ts, symbol, code, grade, flows, coverages, window_minutes
_INSERT_WHALES = "INSERT OR IGNORE INTO whales(ts, exchange, symbol, side, price, amount, value, fills)"
_INSERT_PAIRS = "INSERT OR IGNORE INTO pairs(exchange, symbol)"
_ALL_PAIRS = "SELECT json_group_array(json_array(id, exchange, symbol)) FROM pairs"  # one row: one step
_MAX_ROWS_PER_INSERT = 4_096  # a power of two; fewer when SQLite allows fewer variables per statement
_BY_KEY = itemgetter(0, 1)  # (pair, minute): the minutes table's key, so rows go in page after page
_PAIRS_JSON = msgspec.json.Decoder(list[tuple[int, str, str]])


class StoreError(Exception):
    """The store cannot be opened or used: a clear one-line reason, never a traceback."""


@dataclass(frozen=True, slots=True)
class PruneResult:
    minutes: int = 0
    signals: int = 0
    whales: int = 0


def default_store_path() -> Path:
    from platformdirs import user_data_dir

    return Path(user_data_dir("gme-tui")) / "store.sqlite3"


SignalRow = tuple[int | float | str | None, ...]
"""A row of the signals table, in column order (see `signal_row`)."""
SqlValue = int | float | str | None
"""What a query parameter may be."""
# Rows as the schema declares them (sqlite3 returns untyped rows; each reader names its shape).
_MinuteRow = tuple[int, float, float, int, float | None, int]
_MinuteInsertRow = tuple[int, int, float, float, int, float | None, int]  # pair id first
_PairMinuteRow = tuple[str, str, int, float, float, int, float | None, int]
_WhaleRow = tuple[int, str, str, Side, float, float, float, int]
# One flow and one coverage column per exchange, NULL where the exchange did not participate:
_F: TypeAlias = float | None
_C: TypeAlias = int | None
_StoredSignalRow = tuple[int, str, str, str, _F, _F, _F, _F, _C, _C, _C, _C, int]


def signal_row(signal: Signal, coverage: Mapping[str, int] | None, window_minutes: int) -> SignalRow:
    """A signals row: ts, symbol, code, grade, one flow and one coverage column per exchange."""
    flows = signal.flows
    cov = coverage or {}
    return (
        signal.ts,
        signal.symbol,
        signal.code,
        signal.grade,
        *(flows.get(e) for e in EXCHANGES),
        *(cov.get(e) if coverage is not None and e in flows else None for e in EXCHANGES),
        window_minutes,
    )


class Store:
    """One store file. Thread-safe: writes are serialised on one connection, reads on another."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._write_lock = threading.Lock()
        self._read_lock = threading.Lock()
        self._pair_ids: dict[tuple[str, str], int] = {}
        self._insert_sql: dict[tuple[str, int], str] = {}  # (head, rows) -> statement text
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = self._connect()
            self._variable_limit = self._db.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
            self._migrate()
            self._reader = self._connect()
            self._reader.execute("PRAGMA query_only=1")
            self._load_pairs()
        except (sqlite3.Error, OSError) as error:
            raise StoreError(f"cannot open the store {self.path}: {error}") from None

    def _connect(self) -> sqlite3.Connection:
        db, mode = connect_wal(self.path, busy_timeout_ms=10_000)
        if mode != "wal":
            db.close()
            raise StoreError(f"{self.path}: the file system does not support SQLite's WAL mode")
        db.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: a killed process loses nothing committed
        db.execute("PRAGMA journal_size_limit=67108864")  # keep the -wal file near 64 MB at most
        return db

    def _migrate(self) -> None:
        """Bring the file to SCHEMA_VERSION, one migration per transaction. The version is read
        inside each transaction: another process opening the same new file at the same moment may
        have run that step already."""
        for _ in range(SCHEMA_VERSION + 1):  # bounded: each round applies one step or ends
            self._db.execute("BEGIN IMMEDIATE")
            try:
                version = self._db.execute("PRAGMA user_version").fetchone()[0]
                if version > SCHEMA_VERSION:
                    raise StoreError(
                        f"{self.path} was written by a newer gme-tui (schema {version} > {SCHEMA_VERSION}); "
                        "upgrade gme-tui or point [store] path elsewhere"
                    )
                if version == SCHEMA_VERSION:
                    self._db.execute("COMMIT")
                    return
                for statement in _MIGRATIONS[version].split(";"):
                    if statement.strip():
                        self._db.execute(statement)
                self._db.execute(f"PRAGMA user_version={version + 1}")
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def _load_pairs(self) -> None:
        """Every pair's id, read as one JSON row (a row per pair would be a GIL hand-off per pair)."""
        text = self._db.execute(_ALL_PAIRS).fetchone()[0]
        self._pair_ids = {(exchange, symbol): pair_id for pair_id, exchange, symbol in _PAIRS_JSON.decode(text)}

    def close(self) -> None:
        with self._write_lock, self._read_lock:
            self._reader.close()
            self._db.close()

    # ------------------------------------------------------------ writes

    def write(
        self,
        minutes: Sequence[MinuteBucket] = (),
        signals: Sequence[SignalRow] = (),
        whales: Sequence[Whale] = (),
    ) -> None:
        """One transaction: minutes upserted, signals upserted (rows from `signal_row`), whales
        inserted once. Raises sqlite3.Error (the writer counts and logs it)."""
        if not (minutes or signals or whales):
            return
        with self._write_lock:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                if minutes:
                    rows = self._minute_rows(minutes)
                    rows.sort(key=_BY_KEY)  # stable: of two rows of one minute, the later still wins
                    self._insert(_INSERT_MINUTES, 7, rows)
                if signals:
                    if any(len(row) != _SIGNAL_WIDTH for row in signals):  # bound flat: a short row shifts the rest
                        raise sqlite3.ProgrammingError(f"a signals row must have {_SIGNAL_WIDTH} values")
                    self._insert(_INSERT_SIGNALS, _SIGNAL_WIDTH, signals)
                if whales:
                    self._insert(
                        _INSERT_WHALES,
                        8,
                        [(w.ts, w.exchange, w.symbol, w.side, w.price, w.amount, w.value, w.fills) for w in whales],
                    )
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                self._load_pairs()  # ids inserted in the rolled-back transaction are gone
                raise

    def _minute_rows(self, minutes: Sequence[MinuteBucket]) -> list[_MinuteInsertRow]:
        """Rows of the minutes table; pairs not seen before get their ids first (inside the
        caller's transaction)."""
        try:
            return self._rows_with_ids(minutes)
        except KeyError:  # a new pair: rare (a start, a new listing), so no lookup pass before
            ids = self._pair_ids
            new = list(dict.fromkeys(key for b in minutes if (key := (b.exchange, b.symbol)) not in ids))
            self._insert(_INSERT_PAIRS, 2, new)
            self._load_pairs()  # with the ids just given (and any another process gave)
            return self._rows_with_ids(minutes)

    def _rows_with_ids(self, minutes: Sequence[MinuteBucket]) -> list[_MinuteInsertRow]:
        ids = self._pair_ids
        return [
            (ids[(b.exchange, b.symbol)], b.minute, b.buy, b.sell, b.count, b.close, int(b.covered)) for b in minutes
        ]

    def _insert(self, head: str, width: int, rows: Sequence[Sequence[SqlValue]]) -> None:
        """`head VALUES (...),(...),...` over `rows`, in order, in few statements (a statement
        step is a GIL hand-off, see the module docstring). Statement sizes are powers of two, so
        their texts stay in sqlite3's statement cache; the last statement is padded with copies of
        the last row, which change nothing: with OR REPLACE the last row of its key stays the
        last, with OR IGNORE a copy is ignored."""
        largest = _MAX_ROWS_PER_INSERT
        while largest > 1 and largest * width > self._variable_limit:
            largest //= 2
        at = 0
        for size in _statement_sizes(len(rows), largest):
            chunk = list(rows[at : at + size])
            chunk += [chunk[-1]] * (size - len(chunk))
            sql = self._insert_sql.get((head, size))
            if sql is None:
                one = "(" + ",".join("?" * width) + ")"
                sql = self._insert_sql[(head, size)] = f"{head} VALUES {','.join([one] * size)}"
            self._db.execute(sql, list(chain.from_iterable(chunk)))
            at += size

    def prune(self, now_ms: int, *, bucket_days: float, history_days: float, chunk: int = 100) -> PruneResult:
        """Delete minutes that started more than `bucket_days` before `now_ms`, and signals and
        whales older than `history_days`. Minutes go in small transactions (`chunk` pairs each)
        so the writer never waits long."""
        bucket_ms, history_ms = round(bucket_days * DAY_MS), round(history_days * DAY_MS)
        minute_cutoff = -((bucket_ms - now_ms) // MINUTE_MS)  # ceil: a minute is kept while minute*60000 >= now - age
        history_cutoff = now_ms - history_ms
        with self._write_lock:
            pair_ids = sorted(self._pair_ids.values())
        deleted_minutes = 0
        for start in range(0, len(pair_ids), chunk):
            deleted_minutes += self._delete(
                "DELETE FROM minutes WHERE pair = ? AND minute < ?",
                [(pair, minute_cutoff) for pair in pair_ids[start : start + chunk]],
            )
        signals = self._delete("DELETE FROM signals WHERE ts < ?", [(history_cutoff,)])
        whales = self._delete("DELETE FROM whales WHERE ts < ?", [(history_cutoff,)])
        return PruneResult(deleted_minutes, signals, whales)

    def _delete(self, sql: str, params: list[tuple[SqlValue, ...]]) -> int:
        with self._write_lock:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                before = db.total_changes
                db.executemany(sql, params)
                changed = db.total_changes - before
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            return changed

    # ------------------------------------------------------------ reads

    def _query(self, sql: str, params: Sequence[SqlValue] = ()) -> list[Any]:
        """Rows of a read; untyped as sqlite3 gives them: the caller annotates their shape."""
        with self._read_lock:
            return self._reader.execute(sql, params).fetchall()

    def minutes(
        self,
        symbol: str,
        since_minute: int,
        until_minute: int,
        exchange: str | None = None,
    ) -> list[MinuteBucket]:
        """Stored minutes since_minute..until_minute (inclusive) of a symbol, ordered by exchange
        then minute; one exchange only if given."""
        exchanges = [exchange] if exchange else list(EXCHANGES)
        out: list[MinuteBucket] = []
        for name in exchanges:
            pair = self._pair_id(name, symbol)
            if pair is None:
                continue
            rows: list[_MinuteRow] = self._query(
                "SELECT minute, buy, sell, count, close, covered FROM minutes"
                " WHERE pair = ? AND minute BETWEEN ? AND ? ORDER BY minute",
                (pair, since_minute, until_minute),
            )
            out.extend(
                MinuteBucket(name, symbol, m, float(b), float(s), c, _float(cl), bool(cov))
                for m, b, s, c, cl, cov in rows
            )
        return out

    def _pair_id(self, exchange: str, symbol: str) -> int | None:
        rows: list[tuple[int]] = self._query(
            "SELECT id FROM pairs WHERE exchange = ? AND symbol = ?", (exchange, symbol)
        )
        return rows[0][0] if rows else None

    def restore_items(self, now_ms: int, window_minutes: int, extra_minutes: int = 1) -> list[MinuteBucket]:
        """Every stored minute of the `window_minutes` (+ `extra_minutes`) before the minute of
        `now_ms`, with its coverage as stored. The extra minute covers a first scan that falls in
        the grace period, when the window still ends one minute earlier."""
        last = now_ms // MINUTE_MS - 1
        first = last - window_minutes - extra_minutes + 1
        rows: list[_PairMinuteRow] = self._query(
            "SELECT p.exchange, p.symbol, m.minute, m.buy, m.sell, m.count, m.close, m.covered"
            " FROM pairs p JOIN minutes m ON m.pair = p.id AND m.minute BETWEEN ? AND ?"
            " ORDER BY m.minute, p.exchange, p.symbol",
            (first, last),
        )
        return [
            MinuteBucket(e, s, m, float(b), float(se), c, _float(cl), bool(cov)) for e, s, m, b, se, c, cl, cov in rows
        ]

    def last_minute(self, exchange: str | None = None) -> int | None:
        """The newest stored minute (of one exchange if given), or None for an empty store. One
        index lookup per pair, not a scan of the table."""
        sql = "SELECT max((SELECT max(minute) FROM minutes WHERE pair = p.id)) FROM pairs p"
        rows: list[tuple[int | None]] = (
            self._query(sql + " WHERE p.exchange = ?", (exchange,)) if exchange else self._query(sql)
        )
        return rows[0][0]

    def known_minutes(self, exchange: str, symbol: str, first: int, last: int) -> set[int]:
        """Minutes first..last (inclusive) of (exchange, symbol) the store holds, covered or not."""
        pair = self._pair_id(exchange, symbol)
        if pair is None:
            return set()
        rows: list[tuple[int]] = self._query(
            "SELECT minute FROM minutes WHERE pair = ? AND minute BETWEEN ? AND ?", (pair, first, last)
        )
        return {minute for (minute,) in rows}

    def signals(
        self,
        since_ms: int,
        grade: str | Sequence[str] | None = None,
        symbol: str | None = None,
        *,
        text: str = "",
        until_ms: int | None = None,
        limit: int = 1_000,
    ) -> list[StoredSignal]:
        """Signals since `since_ms`, newest first. `grade`: one grade or several; `symbol`: exact;
        `text`: part of the symbol, any case."""
        where: list[str] = ["ts >= ?"]
        params: list[SqlValue] = [since_ms]
        if until_ms is not None:
            where.append("ts < ?")
            params.append(until_ms)
        if grade:
            grades = [grade] if isinstance(grade, str) else list(grade)
            where.append(f"grade IN ({','.join('?' * len(grades))})")
            params.extend(grades)
        if symbol:
            where.append("symbol = ?")
            params.append(symbol)
        if text:
            where.append("instr(upper(symbol), ?) > 0")
            params.append(text.upper())
        rows: list[_StoredSignalRow] = self._query(
            f"SELECT ts, symbol, code, grade, {_FLOW_COLUMNS}, {_COV_COLUMNS}, window_minutes FROM signals"
            f" WHERE {' AND '.join(where)} ORDER BY ts DESC, symbol, code LIMIT ?",
            (*params, limit),
        )
        return [signal for row in rows if (signal := _stored_signal(row)) is not None]

    def whales(
        self,
        since_ms: int,
        symbol: str | None = None,
        exchange: str | None = None,
        *,
        min_value: float = 0.0,
        until_ms: int | None = None,
        limit: int = 1_000,
    ) -> list[Whale]:
        """Whales since `since_ms`, newest first."""
        where: list[str] = ["ts >= ?", "value >= ?"]
        params: list[SqlValue] = [since_ms, min_value]
        if until_ms is not None:
            where.append("ts < ?")
            params.append(until_ms)
        if symbol:
            where.append("symbol = ?")
            params.append(symbol)
        if exchange:
            where.append("exchange = ?")
            params.append(exchange)
        rows: list[_WhaleRow] = self._query(
            "SELECT ts, exchange, symbol, side, price, amount, value, fills FROM whales"
            f" WHERE {' AND '.join(where)} ORDER BY ts DESC, exchange, symbol LIMIT ?",
            (*params, limit),
        )
        return [Whale(*row) for row in rows]

    def integrity(self) -> str:
        """`PRAGMA integrity_check`'s verdict: 'ok' for a sound file."""
        rows: list[tuple[str]] = self._query("PRAGMA integrity_check")
        return "; ".join(str(r[0]) for r in rows)

    def counts(self) -> dict[str, int]:
        """Rows per table: minutes, signals, whales."""
        out: dict[str, int] = {}
        for table in ("minutes", "signals", "whales"):
            rows: list[tuple[int]] = self._query(f"SELECT count(*) FROM {table}")
            out[table] = rows[0][0]
        return out


def _statement_sizes(total: int, largest: int) -> list[int]:
    """Rows per INSERT for `total` rows (`largest` a power of two): as many `largest` as fit, then
    the largest power of two left, then what remains padded up to a power of two (less padding
    than rows). 2,400 rows: 2,048 + 512 (352 rows and 160 copies)."""
    sizes = [largest] * (total // largest)
    rest = total % largest
    if rest:
        exact = 1 << (rest.bit_length() - 1)
        sizes.append(exact)
        if rest > exact:
            sizes.append(1 << (rest - exact - 1).bit_length())
    return sizes


def _float(value: float | None) -> float | None:
    return None if value is None else float(value)


def _stored_signal(row: _StoredSignalRow) -> StoredSignal | None:
    """A signals row back as a StoredSignal: flows and coverage only of the exchanges that
    participated (their columns are not NULL). None for a grade or code this version does not
    know (a row written by a newer gme-tui with the same schema)."""
    ts, symbol, code, grade = row[:4]
    if code not in _CODES or grade not in _GRADES:
        return None
    flow_values, cov_values = row[4:8], row[8:12]
    flows: dict[str, float] = {e: float(v) for e, v in zip(EXCHANGES, flow_values) if v is not None}
    covered = any(v is not None for v in cov_values)
    coverage: dict[str, int] | None = (
        {e: int(v) for e, v in zip(EXCHANGES, cov_values) if v is not None} if covered else None
    )
    return StoredSignal(
        ts,
        symbol,
        Grade(grade),
        SignalCode(code),
        MappingProxyType(flows),
        MappingProxyType(coverage) if coverage is not None else None,
        row[12],
    )


_CODES = frozenset(SignalCode)
_GRADES = frozenset(Grade)
