"""`gme-tui record --out FILE [--minutes N]`: live data to a SPEC §8 replay file.

Order: the meta line (listings of every enabled exchange, and `perp_listings` of the perp
venues), the backfilled window as `bucket` lines (perp ones with `"market":"perp"`), the open
interest history as `oi` lines, then every trade (perp ones with `"market":"perp"`, base amounts),
`oi` sample, `liquidation` (as SPEC §7's line) and later backfill bucket (gap minutes) as they
arrive (SPEC §8). Until the
initial backfill is done (or `READY_TIMEOUT_S` passed) trades are held in memory so that the
file starts with a full window. `.gz` compresses. Each batch is flushed; SIGINT/SIGTERM or the
minute limit stop cleanly.

The recording goes to `FILE.partial` and takes its name only when something was recorded: a run
that recorded nothing leaves no file that would replay as valid, and never clobbers an existing
FILE (issue 12 item 4). The folder of FILE must exist: a typo is an error, not a new directory.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import io
import logging
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import orjson

from gme_tui.model import (
    ExchangeHealth,
    HealthState,
    Liquidation,
    Listings,
    MinuteBucket,
    OpenInterest,
    PerpTrade,
    SourceItem,
    Trade,
)

if TYPE_CHECKING:  # types only: the cli reads the settings; sources do not import consumers
    from gme_tui.core.seams import Source
    from gme_tui.settings import Settings

log = logging.getLogger(__name__)
READY_TIMEOUT_S = 15 * 60
PARTIAL_SUFFIX = ".partial"

_Row = dict[str, str | int | float]
Recorded = Trade | PerpTrade | MinuteBucket | OpenInterest | Liquidation
"""What goes into the file after the meta line."""


class OutputPathError(Exception):
    """An output path whose folder does not exist or is not a folder: one line, exit code 2."""


def require_parent_dir(path: Path, what: str) -> None:
    """Raise OutputPathError unless `path`'s folder exists (it is never created: a typo in
    `--out` or `--store` must not become a new directory). `what` names the option."""
    parent = path.expanduser().parent
    if not parent.exists():
        raise OutputPathError(f"{what} {path}: the folder {parent} does not exist")
    if not parent.is_dir():
        raise OutputPathError(f"{what} {path}: {parent} is not a folder")


def trade_line(t: Trade | PerpTrade) -> bytes:
    """A trade line; a perp trade's carries `"market":"perp"` (amount in base units, SPEC §8)."""
    row: _Row = {
        "ts": t.ts,
        "exchange": t.exchange,
        "symbol": t.symbol,
        "side": t.side,
        "price": t.price,
        "amount": t.amount,
    }
    if t.id is not None:
        row["id"] = t.id
    if type(t) is PerpTrade:
        row["market"] = "perp"
    return orjson.dumps(row)


def bucket_line(b: MinuteBucket) -> bytes:
    row: _Row = {
        "type": "bucket",
        "exchange": b.exchange,
        "symbol": b.symbol,
        "minute": b.minute,
        "buy": b.buy,
        "sell": b.sell,
    }
    if b.count:
        row["count"] = b.count
    if b.close is not None:  # keeps the price and its change over the window in a replay
        row["close"] = b.close
    if b.market == "perp":
        row["market"] = "perp"
    return orjson.dumps(row)


def oi_line(o: OpenInterest) -> bytes:
    """`{"type":"oi","exchange":..,"symbol":..,"ts":..,"oi":..}`, oi in base units (SPEC §8)."""
    return orjson.dumps({"type": "oi", "exchange": o.exchange, "symbol": o.symbol, "ts": o.ts, "oi": o.oi})


def liquidation_line(q: Liquidation) -> bytes:
    """SPEC §7's liquidation line: side = the position liquidated, value computed."""
    row: _Row = {
        "type": "liquidation",
        "ts": q.ts,
        "exchange": q.exchange,
        "symbol": q.symbol,
        "side": q.side,
        "price": q.price,
        "amount": q.amount,
        "value": q.value,
    }
    return orjson.dumps(row)


def source_health(source: Source) -> list[ExchangeHealth]:
    """Every collector's health: the spot ones, and a live source's perp ones."""
    from gme_tui.sources.live import LiveSource

    health = list(source.health())
    if isinstance(source, LiveSource):
        health += source.perp_health()
    return health


def backfill_ready(health: Sequence[ExchangeHealth]) -> bool:
    return all(
        h.state not in (HealthState.CONNECTING, HealthState.BACKFILLING) and h.backfill_done >= h.backfill_total
        for h in health
    )


async def record(settings: Settings, out: Path, minutes: float | None, *, source: Source | None = None) -> int:
    """Record until `minutes` have passed or SIGINT/SIGTERM. Returns the exit code: 0 recorded,
    1 nothing recorded (no file left), 2 unusable `out` (its folder missing, not writable)."""
    out = Path(out).expanduser()
    try:
        require_parent_dir(out, "--out")
    except OutputPathError as problem:
        print(f"gme-tui record: {problem}", file=sys.stderr)
        if source is not None:
            await source.close()
        return 2
    if source is None:
        from gme_tui.sources.live import LiveSource

        source = LiveSource.from_settings(settings)
    partial = out.with_name(out.name + PARTIAL_SUFFIX)
    try:
        handle = _open(partial, compress=out.name.endswith(".gz"))
    except OSError as exc:
        print(f"gme-tui record: cannot write {out}: {exc.strerror or exc}", file=sys.stderr)
        await source.close()
        return 2
    stop = asyncio.Event()
    recorded = False
    try:
        with _signals(stop):
            try:
                counts = await _record(source, handle, minutes, stop)
            finally:
                handle.close()
                health = source_health(source)
                await source.close()
        recorded = counts.trades > 0 or counts.buckets > 0
        if recorded:
            os.replace(partial, out)
    finally:
        if not recorded:  # nothing (or a failure): no file that would replay as a valid recording
            with contextlib.suppress(FileNotFoundError):
                partial.unlink()
    if not recorded:
        reasons = "; ".join(f"{h.exchange}: {h.reason}" for h in health if h.reason) or "no trades arrived"
        log.error("nothing recorded into %s (%s); no file written", out, reasons)
        return 1
    log.info(
        "recorded %d trades (%d perp), %d minute buckets, %d OI samples and %d liquidations of %d symbols into %s",
        counts.trades,
        counts.perp_trades,
        counts.buckets,
        counts.oi,
        counts.liquidations,
        counts.symbols,
        out,
    )
    return 0


@dataclass
class _Counts:
    trades: int = 0  # spot and perp
    perp_trades: int = 0
    buckets: int = 0
    oi: int = 0
    liquidations: int = 0
    symbols: int = 0

    def add(self, item: Recorded) -> None:
        kind = type(item)
        if kind is Trade or kind is PerpTrade:
            self.trades += 1
            self.perp_trades += kind is PerpTrade
        elif kind is MinuteBucket:
            self.buckets += 1
        elif kind is OpenInterest:
            self.oi += 1
        else:
            self.liquidations += 1


async def _record(source: Source, handle: TextIO, minutes: float | None, stop: asyncio.Event) -> _Counts:
    counts = _Counts()
    started = time.monotonic()
    deadline = None if minutes is None else started + minutes * 60
    listings: dict[str, set[str]] = {}
    perp_listings: dict[str, set[str]] = {}
    held: list[Recorded] = []  # what came before the meta line is written
    header_written = ready_seen = False
    batches = source.batches().__aiter__()
    while not stop.is_set() and (deadline is None or time.monotonic() < deadline):
        batch = await _next(batches, stop, deadline)
        if batch is None:
            break
        for item in batch:
            if isinstance(item, Listings):
                into = perp_listings if item.market == "perp" else listings
                for symbol, exchanges in item.symbols.items():
                    into.setdefault(symbol, set()).update(exchanges)
            elif isinstance(item, (Trade, PerpTrade, MinuteBucket, OpenInterest, Liquidation)):
                counts.add(item)
                if header_written:
                    handle.write(_line(item))
                else:
                    held.append(item)
        if not header_written:
            if ready_seen or time.monotonic() - started > READY_TIMEOUT_S:
                _write_header(handle, listings, perp_listings, held)
                held, header_written = [], True
            # Ready is read after a batch; the backfill's last buckets were queued before it said
            # so and come in the next batch: the header (history first) waits for that one.
            ready_seen = backfill_ready(source_health(source))
        handle.flush()
    if not header_written:
        _write_header(handle, listings, perp_listings, held)
    handle.flush()
    counts.symbols = len(listings)
    return counts


def _write_header(
    handle: TextIO, listings: dict[str, set[str]], perp_listings: dict[str, set[str]], held: list[Recorded]
) -> None:
    """The meta line, then the history (buckets by minute, OI samples by time: before the first
    trade, so a replay loads them at once, SPEC §8), then what streamed meanwhile, in order."""
    meta: dict[str, object] = {"type": "meta", "listings": {s: sorted(e) for s, e in sorted(listings.items())}}
    if perp_listings:
        meta["perp_listings"] = {s: sorted(e) for s, e in sorted(perp_listings.items())}
    handle.write(orjson.dumps(meta).decode() + "\n")
    buckets = sorted(
        (i for i in held if isinstance(i, MinuteBucket)), key=lambda b: (b.minute, b.market, b.exchange, b.symbol)
    )
    samples = sorted((i for i in held if isinstance(i, OpenInterest)), key=lambda o: (o.ts, o.exchange, o.symbol))
    streamed = [i for i in held if not isinstance(i, (MinuteBucket, OpenInterest))]
    for item in [*buckets, *samples, *streamed]:
        handle.write(_line(item))


def _line(item: Recorded) -> str:
    if isinstance(item, MinuteBucket):
        line = bucket_line(item)
    elif isinstance(item, OpenInterest):
        line = oi_line(item)
    elif isinstance(item, Liquidation):
        line = liquidation_line(item)
    else:
        line = trade_line(item)
    return line.decode() + "\n"


async def _next(
    batches: AsyncIterator[Sequence[SourceItem]], stop: asyncio.Event, deadline: float | None
) -> Sequence[SourceItem] | None:
    timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
    getter = asyncio.ensure_future(batches.__anext__())
    stopper = asyncio.ensure_future(stop.wait())
    done, _ = await asyncio.wait((getter, stopper), timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    stopper.cancel()
    if getter in done:
        try:
            return getter.result()
        except StopAsyncIteration:
            return None
    getter.cancel()
    with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
        await getter
    return None


def _open(path: Path, *, compress: bool) -> TextIO:
    """The file to write, truncated; `compress`: gzip. The folder must exist (never created)."""
    if compress:
        return io.TextIOWrapper(gzip.open(path, "wb"), encoding="utf-8")
    return path.open("w", encoding="utf-8")


@contextlib.contextmanager
def _signals(stop: asyncio.Event) -> Iterator[None]:
    loop = asyncio.get_running_loop()
    installed = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
            installed.append(sig)
        except (NotImplementedError, RuntimeError):  # not the main thread, or Windows
            pass
    try:
        yield
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
