"""Is a quiet subscription still delivering? Asked of the exchange's REST, never guessed from
keep-alives (issue 10 items 2 and 8).

A check reads the newest trade of one of the session's symbols (the one the stream carried most
lately; majors come first in universe order) from the exchange's public recent-trades endpoint:
- the stream delivered it (its id, or a later trade of that symbol): alive, and everything up
  to the check is proven;
- the exchange has no trade at all for the symbol, or the same newest trade as at the previous
  check: nothing happened that the stream could have missed: alive;
- a trade the stream has not delivered, still missing after a short grace (frames in flight),
  while no trade frame at all came during the check (a stream that is only behind, in a busy
  process, still delivers): dead when it is newer than a trade of that symbol the stream
  delivered on this connection, or when the previous check already knew an older newest trade
  (so it came since, and never arrived); else unknown (it may predate the connection), checked
  again soon.
A failed request (network, rate limit) is unknown: the session is neither reconnected nor proven.
"""

from __future__ import annotations

import asyncio
import logging
from enum import Enum
from typing import TYPE_CHECKING

from gme_tui.model import MINUTE_MS
from gme_tui.sources.ccxt_common import response_headers
from gme_tui.sources.errors import Preempted, describe_error

if TYPE_CHECKING:
    from gme_tui.sources.backfill import StreamLedger
    from gme_tui.sources.collector import Collector
    from gme_tui.sources.session import Session

log = logging.getLogger(__name__)

CHECK_GRACE_SECONDS = 2.0  # a trade the REST shows may still be on its way in a frame
CONFIRMATIONS = 1  # graces in a row without it (nor any trade frame) before a verdict of dead
RECENT_MINUTES = 5  # the check symbol: the one with most streamed trades over these minutes


class Verdict(Enum):
    ALIVE = "alive"
    DEAD = "dead"
    UNKNOWN = "unknown"


async def check_subscription(collector: Collector, session: Session) -> Verdict:
    """One REST check of `session`'s subscription (see the module docstring); on ALIVE the
    session is proven up to the check's start, on the exchange's clock."""
    clock = collector.clock
    rest = collector.rest
    session.last_check = clock.monotonic()
    if rest is None or collector.rest_gate.blocked():
        return Verdict.UNKNOWN
    available = [s for s in session.symbols if s not in collector.unavailable] or session.symbols
    started_ms = collector.exchange_ms()  # on the exchange's clock, whatever the local one did
    symbol = _check_symbol(collector.ledger, available, started_ms)
    try:
        newest = await collector.rest_gate.call(
            lambda: collector.adapter.fetch_latest_trade(rest, collector.market_of[symbol])
        )
    except asyncio.CancelledError:
        raise
    except Preempted:
        return Verdict.UNKNOWN
    except Exception as exc:
        info = describe_error(exc, clock.wall_ms(), response_headers(rest), collector.id)
        if info.limit is not None:
            collector.rest_gate.stop(info)
        log.debug("%s session %d: subscription check failed: %s", collector.id, session.index, info.reason)
        return Verdict.UNKNOWN
    verdict = await _judge(collector, session, symbol, newest)
    if verdict is Verdict.ALIVE:
        collector.prove(session, started_ms)
    return verdict


async def _judge(collector: Collector, session: Session, symbol: str, newest: tuple[str, int] | None) -> Verdict:
    if newest is None:
        return Verdict.ALIVE  # the exchange has no trade of it at all: nothing to miss
    trade_id, ts = newest
    previous, session.baseline = session.baseline, (symbol, trade_id)
    if previous == (symbol, trade_id) or streamed(collector.ledger, symbol, trade_id, ts):
        return Verdict.ALIVE
    clock = collector.clock
    for _ in range(CONFIRMATIONS):  # a stream that is behind (a busy process) must not be called dead
        slept_from = clock.monotonic()
        await clock.sleep(CHECK_GRACE_SECONDS)
        if streamed(collector.ledger, symbol, trade_id, ts):
            return Verdict.ALIVE
        if session.last_trade_frame >= session.last_check:
            return Verdict.UNKNOWN  # trades are flowing, just behind: they prove it themselves
        if clock.monotonic() - slept_from > 1.5 * CHECK_GRACE_SECONDS:
            return Verdict.UNKNOWN  # this process was too busy to read its sockets: no verdict
    ours = newest_streamed_ts(collector.ledger, symbol)
    if (ours is not None and ours >= session.up_ts) or (previous is not None and previous[0] == symbol):
        log.warning(
            "%s session %d: %s traded (id %s) since the last check, the stream did not deliver it",
            collector.id,
            session.index,
            symbol,
            trade_id,
        )
        return Verdict.DEAD
    return Verdict.UNKNOWN


def streamed(ledger: StreamLedger, symbol: str, trade_id: str, ts: int) -> bool:
    """Did the stream deliver this trade (ts: exchange ms), or one of the same symbol as new?"""
    record = ledger.minutes.get((symbol, ts // MINUTE_MS))
    if record is not None and record.ids is not None and trade_id in record.ids:
        return True
    ours = newest_streamed_ts(ledger, symbol)
    return ours is not None and ours >= ts


def newest_streamed_ts(ledger: StreamLedger, symbol: str) -> int | None:
    """The exchange ms of the newest trade of `symbol` the stream delivered (still kept)."""
    minute = ledger.newest_minute.get(symbol)
    record = None if minute is None else ledger.minutes.get((symbol, minute))
    return None if record is None or record.last_ts < 0 else record.last_ts


def _check_symbol(ledger: StreamLedger, symbols: list[str], exchange_now_ms: int) -> str:
    now_minute = exchange_now_ms // MINUTE_MS
    best, best_count = symbols[0], 0
    for symbol in symbols:
        count = 0
        for minute in range(now_minute - RECENT_MINUTES, now_minute + 1):
            record = ledger.minutes.get((symbol, minute))
            if record is not None:
                count += record.count
        if count > best_count:
            best, best_count = symbol, count
    return best
