"""Backfill over REST, and the rule that gives every minute exactly one source.

The rule, per (exchange, symbol):
- The stream passes trades on at once (whales and flows must not wait). The ledger remembers, per
  minute, what the stream delivered.
- A minute the stream covered whole (the connection was up from before the minute began until
  after it ended) belongs to the stream: the collector emits `Coverage` for it when it closes.
- Every other minute of the window belongs to the backfill: the minutes before the first
  connection, the minutes of a gap, and the two partial minutes at the edges (the minute the
  stream came up in and the minute it dropped in). Once such a minute is closed (plus a settle
  delay so the exchange's history has it), the backfill fetches it and emits ONE bucket equal to
  the exchange's figure minus what the stream already delivered for that minute. The engine adds
  the two, so the minute totals exactly the exchange's own figure, never stream + history. From
  then on the minute is settled: stream trades that still arrive for it are dropped and counted.
- Each minute is scheduled at most once (`scheduled_through`), so two jobs never settle the same
  minute twice.
- If the history says less than the stream already delivered (history not yet complete), the
  minute is left to the stream and not marked covered: coverage is never faked.
- Exchanges without public history (Bybit) schedule nothing: their coverage grows from the start.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from gme_tui.core.backoff import backoff_seconds
from gme_tui.core.clock import Clock
from gme_tui.model import MINUTE_MS, Market, MinuteBucket, PastTrades, SourceItem, Trade
from gme_tui.sources.ccxt_common import (
    CcxtMarket,
    ExchangeAdapter,
    MinuteFlow,
    RestClient,
    TakerOrder,
    response_headers,
)
from gme_tui.sources.errors import Gate, Preempted, describe_error

log = logging.getLogger(__name__)


@dataclass(slots=True)
class StreamMinute:
    """What the stream delivered for one (symbol, minute): quote values, trade count, the trade
    ids (a frame delivered twice counts once; kept for recent minutes only), and whether the
    backfill has settled the minute (stream trades that still come for it are dropped)."""

    buy: float = 0.0
    sell: float = 0.0
    count: int = 0
    settled: bool = False
    ids: set[str] | None = None
    last_ts: int = -1  # the newest trade's exchange ms


class StreamLedger:
    """(symbol, minute) → StreamMinute: what the stream delivered per minute (exchange minutes)."""

    def __init__(self) -> None:
        self.minutes: dict[tuple[str, int], StreamMinute] = {}
        self.newest_minute: dict[str, int] = {}  # symbol → the newest minute the stream delivered a trade of

    def settle(
        self, symbol: str, minute: int, flow: MinuteFlow, exchange: str, market: Market = "spot"
    ) -> MinuteBucket | None:
        """The bucket that completes `minute` to the history's figure, or None if the history is
        short of what the stream already gave (then the minute stays the stream's, uncovered)."""
        record = self.minutes.get((symbol, minute)) or StreamMinute()
        buy = flow.buy - record.buy
        sell = flow.sell - record.sell
        if buy < -_tolerance(flow.buy) or sell < -_tolerance(flow.sell):
            return None
        record.settled = True
        self.minutes[(symbol, minute)] = record
        return MinuteBucket(
            exchange=exchange,
            symbol=symbol,
            minute=minute,
            buy=max(buy, 0.0),
            sell=max(sell, 0.0),
            count=max(flow.count - record.count, 0),
            close=flow.close,
            market=market,
        )

    def prune(self, keep_from_minute: int, ids_from_minute: int) -> None:
        """Forget minutes before `keep_from_minute`, and the trade ids of minutes before
        `ids_from_minute` (a duplicate frame comes within seconds, not minutes)."""
        for key in [k for k in self.minutes if k[1] < keep_from_minute]:
            del self.minutes[key]
        for key, record in self.minutes.items():
            if key[1] < ids_from_minute:
                record.ids = None


def _tolerance(value: float) -> float:
    return 1e-6 + abs(value) * 1e-9


@dataclass(order=True)
class Job:
    due_ms: int
    seq: int
    symbol: str = field(compare=False)
    first: int = field(compare=False)
    last: int = field(compare=False)
    initial: bool = field(compare=False, default=False)
    attempts: int = field(compare=False, default=0)  # failed requests so far
    rereads: int = field(compare=False, default=0)  # times the history was read again, being short


CONCURRENCY = 4  # requests in flight per exchange (ccxt's rate limiter spaces them within its budget)
REREAD_AFTER_MS = 2_000  # a history still short of what the stream gave: read again this much later
REREADS = 2


class Backfiller:
    """One per exchange: runs the jobs with CONCURRENCY requests in flight, inside the exchange's
    REST limits (ccxt's rate limiter), and never while the exchange's REST `gate` is shut (it
    said stop: a rate limit or a ban). Order: every due window job (the flows the scans read)
    before any whale look-up, each kind in due order, then universe order (majors first)."""

    def __init__(
        self,
        adapter: ExchangeAdapter,
        ledger: StreamLedger,
        emit: Callable[[Sequence[SourceItem]], None],
        clock: Clock,
        gate: Gate,
        *,
        exchange_ms: Callable[[], int] | None = None,
        window_minutes: int,
        settle_seconds: float = 1.0,
        backoff_max_seconds: float = 60.0,
        whale_minutes: int = 0,
        concurrency: int = CONCURRENCY,
        market: Market = "spot",
    ) -> None:
        self.adapter = adapter
        self.market: Market = market  # "perp": its buckets are a perp venue's minutes
        # Whales are looked up in the last `whale_minutes` of each backfilled range (0: never):
        # in the trades the history is read as (OKX, Coinbase), or over fetch_taker_orders (Binance).
        self.whale_minutes = whale_minutes
        self.ledger = ledger
        self.emit = emit
        self.clock = clock
        # Due times and the window are on the exchange's clock (the collector's estimate), so a
        # step of the local wall clock neither fetches a minute before it ended nor an hour late.
        self.exchange_ms = exchange_ms or clock.wall_ms
        self.gate = gate
        self.window_minutes = window_minutes
        self.settle_ms = int(settle_seconds * 1000)
        self.backoff_max = backoff_max_seconds
        self.concurrency = concurrency
        self.scheduled_through: dict[str, int] = {}
        self.initial_total = 0
        self.initial_done = 0
        self.reason = ""  # the last failure that was not a rate limit ('' once a job works)
        self._windows: list[Job] = []
        self._whales: list[Job] = []
        self._running: dict[int, Job] = {}  # window jobs whose request is in flight, by seq
        self._seq = itertools.count()
        self._wake = asyncio.Event()
        self._initial_pending: dict[str, int] = {}

    @property
    def busy(self) -> bool:
        return self.initial_done < self.initial_total

    @property
    def idle(self) -> bool:
        """Nothing queued or in flight."""
        return not (self._windows or self._whales or self._running)

    def schedule(self, symbol: str, first: int, last: int, *, initial: bool = False) -> None:
        """Fetch minutes first..last of `symbol` once `last` is closed; minutes already given to
        a job are skipped."""
        first = max(first, self.scheduled_through.get(symbol, first - 1) + 1)
        if first > last:
            return
        self.scheduled_through[symbol] = last
        if initial:
            if symbol not in self._initial_pending:
                self.initial_total += 1
            self._initial_pending[symbol] = self._initial_pending.get(symbol, 0) + 1
        self._push(self._windows, Job(self._due(last), next(self._seq), symbol, first, last, initial))

    def restart(self, symbols: Sequence[str], first: int) -> None:
        """Plan these symbols again from minute `first` (the exchange clock's estimate moved
        back: what was planned lies in the exchange's future): their queued window jobs go (an
        initial one counts as done), and their next `schedule` may give minutes from `first` on."""
        wanted = set(symbols)
        kept = [job for job in self._windows if job.symbol not in wanted]
        for job in self._windows:
            if job.symbol in wanted:
                self._finish(job)
        heapq.heapify(kept)
        self._windows = kept
        for symbol in wanted:
            if self.scheduled_through.get(symbol, first - 1) >= first:
                self.scheduled_through[symbol] = first - 1

    def pending_before(self, minute: int, *, initial: bool) -> bool:
        """Will a window job soon settle a minute before `minute`? Queued or in flight, not
        failing, the exchange not keeping us off, and (unless `initial`) not part of the window
        before the first connection, which can take minutes: what a scan would wait for (item 7)."""
        if self.gate.blocked():
            return False
        return any(
            job.first < minute and job.attempts == 0 and (initial or not job.initial)
            for job in (*self._windows, *self._running.values())
        )

    def _due(self, last: int) -> int:
        return (last + 1) * MINUTE_MS + self.settle_ms

    def _push(self, heap: list[Job], job: Job) -> None:
        heapq.heappush(heap, job)
        self._wake.set()
        self._wake = asyncio.Event()  # the next waiters wait on a fresh one: no wake-up is lost

    async def run(self, rest: RestClient, markets: Mapping[str, CcxtMarket]) -> None:
        """Forever (cancelled by the collector). `markets`: canonical symbol → ccxt market."""
        workers = [asyncio.create_task(self._worker(rest, markets)) for _ in range(self.concurrency)]
        try:
            await asyncio.gather(*workers)
        finally:
            for worker in workers:
                worker.cancel()
            await asyncio.gather(*workers, return_exceptions=True)

    async def _worker(self, rest: RestClient, markets: Mapping[str, CcxtMarket]) -> None:
        while True:
            wake = self._wake
            wall = self.clock.wall_ms()  # the gate's times are the local clock's
            if self.gate.until_ms > wall:
                await self._sleep_or_wake(wake, (self.gate.until_ms - wall) / 1000)
                continue
            now = self.exchange_ms()
            job, heap = self._next(now)
            if job is None:
                await self._sleep_or_wake(wake, self._wait_ms(now) / 1000)
                continue
            heapq.heappop(heap)
            if heap is self._windows:
                self._running[job.seq] = job
                try:
                    await self._run_window(job, rest, markets[job.symbol])
                finally:
                    del self._running[job.seq]
            elif not await self._past_whales(job.symbol, rest, markets[job.symbol], job.first, job.last):
                self._push(self._whales, job)  # called off by a stop: looked up when the gate opens

    def _next(self, now: int) -> tuple[Job | None, list[Job]]:
        for heap in (self._windows, self._whales):
            if heap and heap[0].due_ms <= now:
                return heap[0], heap
        return None, self._windows

    def _wait_ms(self, now: int) -> int:
        dues = [heap[0].due_ms for heap in (self._windows, self._whales) if heap]
        return min([60_000, *(due - now for due in dues)])

    async def _run_window(self, job: Job, rest: RestClient, market: CcxtMarket) -> None:
        now = self.exchange_ms()
        oldest = now // MINUTE_MS - self.window_minutes - 1
        first = max(job.first, oldest)
        if first > job.last:
            self._finish(job)
            return
        whale_first = max(first, now // MINUTE_MS - self.whale_minutes) if self.whale_minutes else None
        try:
            history = await self.gate.call(
                lambda: self.adapter.fetch_history(rest, market, first, job.last, orders_from=whale_first)
            )
        except asyncio.CancelledError:
            raise
        except Preempted:  # the exchange said stop to another request: this one waits too
            self._push(self._windows, job)
            return
        except Exception as exc:
            self._failed(job, exc, rest)
            return
        self.gate.ok()
        items: list[SourceItem] = []
        short: list[int] = []
        for minute in range(first, job.last + 1):
            bucket = self.ledger.settle(
                job.symbol, minute, history.flows.get(minute, _EMPTY), self.adapter.id, self.market
            )
            if bucket is not None:
                items.append(bucket)
            else:
                short.append(minute)
        self.reason = ""
        self.emit(items)
        self._finish(job)
        self._reread(job, short, now)
        if whale_first is None or whale_first > job.last:
            return
        if history.orders is not None:
            self._emit_orders(job.symbol, history.orders)
        elif self.adapter.has_taker_orders:
            self._push(self._whales, Job(now, next(self._seq), job.symbol, whale_first, job.last))

    def _reread(self, job: Job, short: list[int], now: int) -> None:
        """Minutes whose history was still short of what the stream gave (not yet complete at
        the exchange): read once or twice more before leaving them to the stream, uncovered."""
        if job.rereads >= REREADS:
            return
        for minute in short:
            retry = Job(now + REREAD_AFTER_MS, next(self._seq), job.symbol, minute, minute, rereads=job.rereads + 1)
            self._push(self._windows, retry)

    async def _past_whales(self, symbol: str, rest: RestClient, market: CcxtMarket, first: int, last: int) -> bool:
        """The taker orders of backfilled minutes, for the engine's whale check. Best effort: the
        flows are settled already, so a failure is logged and not retried. False when called off
        by a stop (to be done again)."""
        try:
            rows = await self.gate.call(lambda: self.adapter.fetch_taker_orders(rest, market, first, last))
        except asyncio.CancelledError:
            raise
        except Preempted:
            return False
        except Exception as exc:
            info = describe_error(exc, self.clock.wall_ms(), response_headers(rest), self.adapter.id)
            if info.limit is not None:
                self.gate.stop(info)
            log.warning("%s: whales of %s %d..%d not looked up: %s", self.adapter.id, symbol, first, last, info.reason)
            return True
        self._emit_orders(symbol, rows)
        return True

    def _emit_orders(self, symbol: str, rows: Sequence[TakerOrder]) -> None:
        trades = tuple(
            Trade(self.adapter.id, symbol, ts, "buy" if is_buy else "sell", price, amount, trade_id)
            for ts, is_buy, price, amount, trade_id in rows
        )
        if trades:
            self.emit([PastTrades(self.adapter.id, symbol, trades)])

    def _failed(self, job: Job, exc: BaseException, rest: RestClient) -> None:
        now = self.exchange_ms()
        info = describe_error(exc, self.clock.wall_ms(), response_headers(rest), self.adapter.id)
        if info.limit is not None:
            wait = self.gate.stop(info)  # the workers keep off the exchange until the gate opens
            delay_ms = 0
        else:
            wait = backoff_seconds(job.attempts, self.backoff_max)
            delay_ms = int(wait * 1000)
            self.reason = f"backfill: {info.reason}"
        log.warning(
            "%s backfill %s %d..%d failed: %s (next try in %.1fs)",
            self.adapter.id,
            job.symbol,
            job.first,
            job.last,
            info.reason,
            wait,
        )
        job.attempts += 1
        job.due_ms = now + delay_ms
        self._push(self._windows, job)

    def _finish(self, job: Job) -> None:
        if job.initial:
            left = self._initial_pending.get(job.symbol, 0) - 1
            self._initial_pending[job.symbol] = left
            if left == 0:
                self.initial_done += 1

    async def _sleep_or_wake(self, wake: asyncio.Event, seconds: float) -> None:
        sleeper = asyncio.ensure_future(self.clock.sleep(seconds))
        waker = asyncio.ensure_future(wake.wait())
        try:
            await asyncio.wait((sleeper, waker), return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeper.cancel()
            waker.cancel()


_EMPTY = MinuteFlow()
