"""The engine: trades and backfilled minutes in, scans and whales out. Pure: no I/O, no clock.

Perpetuals (SPEC §4b): PerpTrade items and MinuteBucket/Listings/Coverage with market="perp" go to
engine/perps.py's PerpSide, apart from spot; OpenInterest samples too; a Liquidation is passed
through as an event and summed per window. Each SymbolScan carries its `derivatives` line, and B
takes its place among the signals in grade order.

Two clocks drive scans (SPEC §6):
- `data` (replay, demo): data time is the largest ts applied; before a trade with ts ≥ T is
  applied, every boundary T not yet scanned is scanned, in order; `finish()` runs the last scan.
- `external` (live): the caller says what time it is with `advance(now_ms)`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Literal

from gme_tui.engine.buckets import PairFlow
from gme_tui.engine.derivatives import derivatives_hedge
from gme_tui.engine.perps import PerpSide
from gme_tui.engine.rules import GRADE_OF, GRADE_ORDER, RuleConfig, consensus_level, signal_codes
from gme_tui.engine.whales import WhaleTracker, order_whale, whale_ts
from gme_tui.model import (
    EXCHANGES,
    MINUTE_MS,
    ClosedMinutes,
    Consensus,
    Coverage,
    DuplicateTrades,
    EngineEvent,
    EngineStats,
    ExchangeWindow,
    Liquidation,
    Listings,
    MinuteBucket,
    OpenInterest,
    PastTrades,
    PerpTrade,
    Scan,
    Signal,
    SignalCode,
    SourceItem,
    SymbolScan,
    Trade,
    Whale,
    ratio_of,
)

if TYPE_CHECKING:  # a type only: the engine never imports the settings at run time
    from gme_tui.settings import Settings

Clock = Literal["data", "external"]

_NEVER = -(1 << 62)  # an int "no time yet": the hot path compares ints, never None
# SPEC §4b: the perp venues by default (Coinbase's US perp-style futures are off by default)
PERP_VENUES: tuple[str, ...] = ("binance", "okx", "bybit")
_B = SignalCode.DERIVATIVES_HEDGE
_new = tuple.__new__  # a NamedTuple without its Python-level __new__ (one per pair per scan)
_NO_FLOW = PairFlow()  # read only: the window of a participant with no minute yet


@dataclass(frozen=True)
class EngineConfig:
    exchanges: tuple[str, ...] = EXCHANGES  # the enabled ones; others are ignored entirely
    window_minutes: int = 50
    keep_extra_minutes: int = 10
    rules: RuleConfig | None = None  # None: defaults with quorum = number of enabled exchanges
    whale_threshold: float = 200_000.0
    whale_quiet_ms: int = 1_500
    clock: Clock = "data"
    warmup: bool = True  # replay and demo: report scans only once a full window has passed
    track_coverage: bool = False  # live: report minutes covered per exchange
    emit_minutes: bool = False  # emit ClosedMinutes before each scan (for the store)
    perp_venues: tuple[str, ...] = PERP_VENUES  # the enabled perp venues (SPEC §4b); others are ignored
    # False for a replay: its parser already drops duplicate trades and hands on their number
    # (DuplicateTrades), so the engine keeps no trade ids: remembering every id of the kept
    # minutes was a fifth of a replay's time (issue 12). True wherever else trades come from,
    # and for any source that sends PastTrades (they skip what streamed by its ids).
    dedupe_trades: bool = True

    @property
    def rule_config(self) -> RuleConfig:
        return self.rules or RuleConfig(quorum=len(self.exchanges))

    @classmethod
    def from_settings(cls, settings: Settings, *, live: bool) -> EngineConfig:
        """The engine's part of the settings; `live` picks the external clock, no warm-up and coverage."""
        return cls(
            exchanges=settings.enabled_exchanges,
            window_minutes=settings.window.minutes,
            keep_extra_minutes=settings.window.keep_extra_minutes,
            rules=RuleConfig(
                quorum=settings.min_exchanges,
                strong_flow=settings.consensus.strong_flow,
                lean_total=settings.consensus.lean_total,
                aplus_ratio=settings.signals.aplus_ratio,
                a_min_flow=settings.signals.a_min_flow,
                a_multiple=settings.signals.a_multiple,
                bearish_ratio=settings.signals.bearish_ratio,
                b_min_perp_venues=settings.signals.b_min_perp_venues,
                b_spot_min_flow=settings.signals.b_spot_min_flow,
                b_spot_min_ratio=settings.signals.b_spot_min_ratio,
                b_perp_min_flow=settings.signals.b_perp_min_flow,
                b_perp_max_ratio=settings.signals.b_perp_max_ratio,
                b_oi_min_change_pct=settings.signals.b_oi_min_change_pct,
                oi_max_age_ms=round(settings.derivatives.oi_max_age_minutes * MINUTE_MS),
            ),
            perp_venues=settings.perp_venues,
            whale_threshold=settings.whales.threshold,
            whale_quiet_ms=settings.whales.quiet_ms,
            clock="external" if live else "data",
            warmup=not live,
            track_coverage=live,
        )


class Engine:
    def __init__(self, config: EngineConfig | None = None) -> None:
        self.config = config or EngineConfig()
        self._rules = self.config.rule_config
        self._enabled = frozenset(self.config.exchanges)
        self._window_ms = self.config.window_minutes * MINUTE_MS
        self._pairs: dict[tuple[str, str], PairFlow] = {}
        self._participants: dict[str, set[str]] = {}
        self._whale_threshold = self.config.whale_threshold  # open orders: on their pairs (PairFlow.order_*)
        self._dedupe = self.config.dedupe_trades
        self._perps = PerpSide(self.config.perp_venues, keep_ids=self._dedupe)
        self._data_time = _NEVER  # the largest ts applied (data clock); _NEVER before the first
        self._first_minute: int | None = None  # T0 / 60000: the first valid item's minute
        self._next_scan: int | None = None  # the next boundary not yet scanned
        self.last_scan: Scan | None = None
        self._counts = {"buckets": 0, "duplicates": 0, "late": 0, "ignored": 0, "whales": 0, "scans": 0}
        self._trades = 0
        # Hot-path mirrors of the state above, as plain ints: no None checks per trade.
        self._data_clock = self.config.clock == "data"
        self._keep_from = -(1 << 62)  # the oldest minute still kept: older ones are dropped as late
        self._data_scan_at = -(1 << 62) if self._data_clock else 1 << 62  # data time ≥ this → scan
        # With emit_minutes: minutes before this were already handed out, so a change to one of
        # them (a late trade, a backfill) marks it dirty to be handed out again.
        self._dirty_before = -(1 << 62)
        self._dirty: set[tuple[tuple[str, str], int]] = set()

    def reconfigure(self, config: EngineConfig) -> None:
        """Apply new thresholds, window or exchange switches from the next trade/scan on.

        The clock, warm-up and coverage mode stay as they were (they belong to the run, not to
        the settings). A disabled exchange stops participating at once; its kept minutes go.
        """
        config = replace(
            config,
            clock=self.config.clock,
            warmup=self.config.warmup,
            track_coverage=self.config.track_coverage,
            emit_minutes=self.config.emit_minutes,
            dedupe_trades=self.config.dedupe_trades,
        )
        self.config = config
        self._rules = config.rule_config
        self._enabled = frozenset(config.exchanges)
        self._window_ms = config.window_minutes * MINUTE_MS
        self._whale_threshold = config.whale_threshold
        for key in [key for key in self._pairs if key[0] not in self._enabled]:
            del self._pairs[key]
        for participants in self._participants.values():
            participants.intersection_update(self._enabled)
        self._perps.reconfigure(config.perp_venues)

    # ------------------------------------------------------------ input

    def feed(self, item: SourceItem, arrived_ms: int | None = None) -> list[EngineEvent]:
        """One source item; `arrived_ms`: when it arrived on the local clock (live), see add_trade."""
        if type(item) is Trade:
            return self.add_trade(item, arrived_ms)
        if type(item) is PerpTrade:
            return self.add_perp_trade(item)
        if isinstance(item, MinuteBucket):
            return self.add_bucket(item)
        if isinstance(item, Listings):
            self.set_listings(item)
            return []
        if isinstance(item, Coverage):
            self.cover(item)
            return []
        if isinstance(item, PastTrades):
            return self.add_past_trades(item)
        if isinstance(item, OpenInterest):
            self._perps.add_oi(item)
            return []
        if isinstance(item, Liquidation):
            return self.add_liquidation(item)
        if isinstance(item, DuplicateTrades):
            self._add_duplicates(item)
            return []
        raise TypeError(f"not a source item: {item!r}")

    def add_past_trades(self, item: PastTrades) -> list[EngineEvent]:
        """Whales among trades of minutes the stream missed (their flow came as buckets). A trade
        the stream also delivered (same id) is skipped, so no order is reported twice."""
        if item.exchange not in self._enabled:
            return []
        pair = self._pairs.get((item.exchange, item.symbol))
        streamed = pair.ids if pair is not None else frozenset()
        tracker = WhaleTracker(self.config.whale_threshold, backfilled=True)
        whales: list[EngineEvent] = []
        for trade in item.trades:
            if trade.id is not None and trade.id in streamed:
                continue
            whale = tracker.add(
                trade.exchange, trade.symbol, trade.ts, trade.side, trade.amount, trade.price * trade.amount
            )
            if whale is not None:
                whales.append(whale)
        whales.extend(tracker.close_all())
        self._counts["whales"] += len(whales)
        return whales

    def feed_many(self, items: Iterable[SourceItem], arrived_ms: int | None = None) -> list[EngineEvent]:
        """Items in order; `arrived_ms`: when the batch arrived on the local clock (live), see
        `add_trade`.

        The one spot trade path (`add_trade` is this with one trade): a replay's hot loop, with
        what it reads often in locals, the whale merge (SPEC §5) inlined on the pair's open order,
        and one call per trade, the bucket's (profiled: calls, dicts and tuples per trade were a
        third of the engine's trade path)."""
        events: list[EngineEvent] = []
        feed, pairs_get = self.feed, self._pairs.get
        counts = self._counts
        data_clock, dedupe, threshold = self._data_clock, self._dedupe, self._whale_threshold
        trades = 0
        try:
            for item in items:
                if type(item) is not Trade:
                    produced = feed(item)
                    if produced:
                        events.extend(produced)
                    continue
                exchange = item.exchange
                symbol = item.symbol
                ts = item.ts
                side = item.side
                price = item.price
                amount = item.amount
                trade_id = item.id
                key = (exchange, symbol)
                pair = pairs_get(key)
                if pair is None:
                    if exchange not in self._enabled:
                        counts["ignored"] += 1
                        continue
                    pair = self._pair(exchange, symbol)
                if dedupe and trade_id is not None:
                    if trade_id in pair.ids:
                        counts["duplicates"] += 1
                        continue
                else:
                    trade_id = None  # the source dropped duplicates: no id to remember
                minute = ts // MINUTE_MS
                if minute < self._keep_from:
                    counts["late"] += 1
                    continue
                if minute < self._dirty_before:
                    self._dirty.add((key, minute))
                value = price * amount
                if pair.order_fills and pair.order_ts == ts and pair.order_side == side:  # the same order
                    pair.order_amount += amount
                    pair.order_value += value
                    pair.order_fills += 1
                else:  # a new order: the open one closes, judged once (SPEC §5)
                    if pair.order_fills and pair.order_value >= threshold:
                        counts["whales"] += 1
                        events.append(_closed_order(key, pair))
                    pair.order_ts, pair.order_side, pair.order_fills = ts, side, 1
                    pair.order_amount, pair.order_value = amount, value
                pair.order_arrived = ts if arrived_ms is None else arrived_ms
                if ts >= self._data_scan_at:
                    self._on_data_time(ts, events)
                elif data_clock and ts > self._data_time:
                    self._data_time = ts
                pair.add(minute, side == "buy", value, price, ts, trade_id)
                if not pair.participating:
                    self._participate(exchange, symbol, pair)
                trades += 1
        finally:
            self._trades += trades
        return events

    def _close_orders(self, closing: Callable[[PairFlow], bool]) -> list[Whale]:
        """Close the open orders of the pairs `closing` picks; the whales among them (SPEC §5:
        each judged once, when it closes), in the order they traded (ts; ties: the pairs' order)."""
        whales = []
        for key, pair in self._pairs.items():
            if pair.order_fills and closing(pair):
                if pair.order_value >= self._whale_threshold:
                    whales.append(_closed_order(key, pair))
                pair.order_fills = 0
        self._counts["whales"] += len(whales)
        whales.sort(key=whale_ts)
        return whales

    def _add_duplicates(self, item: DuplicateTrades) -> None:
        if item.market == "perp":
            self._perps.counts["duplicates"] += item.count
        else:
            self._counts["duplicates"] += item.count

    def set_listings(self, listings: Listings) -> None:
        if listings.market == "perp":
            self._perps.set_listings(listings)
            return
        for symbol, exchanges in listings.symbols.items():
            participants = self._participants.setdefault(symbol, set())
            participants.update(e for e in exchanges if e in self._enabled)

    def cover(self, coverage: Coverage) -> None:
        if coverage.market == "perp":
            span = self.config.window_minutes + self.config.keep_extra_minutes
            self._perps.cover(coverage, max(coverage.last_minute - span, self._keep_from))
            return
        if coverage.exchange not in self._enabled:
            return
        pair = self._pair(coverage.exchange, coverage.symbol)
        # Only the window plus the margin is ever read: a range reaching far back (a source that
        # says "covered since connect") must not become millions of remembered minutes.
        kept_span = self.config.window_minutes + self.config.keep_extra_minutes
        keep_from = coverage.last_minute - kept_span
        keep_from = max(keep_from, self._keep_from)
        pair.cover(coverage.first_minute, coverage.last_minute, keep_from)

    def add_trade(self, trade: Trade, arrived_ms: int | None = None) -> list[EngineEvent]:
        """One trade. `arrived_ms` (live): its arrival on the local clock, from which a whale
        order's quiet time is measured (SPEC §5); None: its ts (data time is the clock). A
        duplicate id (SPEC §8), a minute no longer kept (late) or a disabled exchange's trade is
        counted and dropped."""
        return self.feed_many((trade,), arrived_ms)

    def add_perp_trade(self, trade: PerpTrade) -> list[EngineEvent]:
        """A perpetual's taker trade (SPEC §4b): perp flow only, never spot, never a whale. It moves
        data time like any trade line (SPEC §6, §8)."""
        pair = self._perps.admit(trade, self._keep_from)
        if pair is None:
            return []
        events: list[EngineEvent] = []
        ts = trade.ts
        if ts >= self._data_scan_at:
            self._on_data_time(ts, events)
        elif self._data_clock and ts > self._data_time:
            self._data_time = ts
        self._perps.apply(pair, trade)
        return events

    def add_liquidation(self, item: Liquidation) -> list[EngineEvent]:
        """A liquidation: passed on at once (the feed, alerts) and summed into its window's long
        and short totals; a disabled venue's is ignored (counted). It does not move data time."""
        if item.exchange not in self._perps.venues:
            self._perps.counts["ignored"] += 1
            return []
        self._perps.add_liquidation(item, self._keep_from)
        return [item]

    def _add_perp_bucket(self, bucket: MinuteBucket, replace: bool) -> list[EngineEvent]:
        pair = self._perps.admit_bucket(bucket, self._keep_from, replace)
        if pair is None:
            return []
        events: list[EngineEvent] = []
        if self.config.clock == "data":
            self._on_data_time(bucket.minute * MINUTE_MS, events)
        self._perps.apply_bucket(pair, bucket, replace)
        return events

    def add_bucket(self, bucket: MinuteBucket, *, replace: bool = False) -> list[EngineEvent]:
        """A closed minute from a backfill. `replace` lets it supersede the stream's partial minute."""
        if bucket.market == "perp":
            return self._add_perp_bucket(bucket, replace)
        if bucket.exchange not in self._enabled:
            self._counts["ignored"] += 1
            return []
        pair = self._pair(bucket.exchange, bucket.symbol)
        if bucket.minute in pair.bucket_minutes and not replace:
            self._counts["duplicates"] += 1
            return []
        if bucket.minute < self._keep_from:
            self._counts["late"] += 1
            return []
        events: list[EngineEvent] = []
        if self.config.clock == "data":
            self._on_data_time(bucket.minute * MINUTE_MS, events)
        pair.set_minute(bucket.minute, bucket.buy, bucket.sell, bucket.count, bucket.close, replace, bucket.covered)
        if bucket.minute < self._dirty_before:
            self._dirty.add(((bucket.exchange, bucket.symbol), bucket.minute))
        if not pair.participating:
            self._participate(bucket.exchange, bucket.symbol, pair)
        self._counts["buckets"] += 1
        return events

    # ------------------------------------------------------------ clock

    def advance(
        self,
        now_ms: int,
        *,
        scan_grace_ms: int = 0,
        scan_before_ms: int | None = None,
        quiet_now_ms: int | None = None,
        start_ms: int | None = None,
    ) -> list[EngineEvent]:
        """External clock: close whale orders whose last fill arrived `whale_quiet_ms` or more
        before `quiet_now_ms` (now on the clock `arrived_ms` was given on; None: `now_ms`), then
        scan every boundary T with
        T + scan_grace_ms ≤ now_ms (the grace lets late trades land first) and, when given,
        T < scan_before_ms (the caller holds a boundary whose minutes the source is settling).
        The first call fixes the first boundary: the one just passed (less the grace) at
        `start_ms`, when the run started (the caller may first have waited to know the time);
        None: at `now_ms`."""
        events: list[EngineEvent] = []
        quiet_now = now_ms if quiet_now_ms is None else quiet_now_ms
        quiet_before = quiet_now - self.config.whale_quiet_ms
        events.extend(self._close_orders(lambda pair: pair.order_arrived <= quiet_before))
        scan_until = now_ms - scan_grace_ms
        if self._next_scan is None:
            # Live: the first scan is the boundary just passed, so numbers show at once (with
            # their coverage) instead of up to a minute later.
            origin = scan_until if start_ms is None else min(start_ms - scan_grace_ms, scan_until)
            self._next_scan = (origin // MINUTE_MS) * MINUTE_MS
            if self._first_minute is None:
                self._first_minute = origin // MINUTE_MS
        if scan_before_ms is not None:
            scan_until = min(scan_until, scan_before_ms - 1)
        self._scan_through(scan_until, events)
        return events

    def finish(self) -> list[EngineEvent]:
        """End of a replay: close open orders, then the last scan after data time (SPEC §6)."""
        events: list[EngineEvent] = []
        events.extend(self._close_orders(lambda pair: True))
        if self.config.clock == "data" and self._data_time != _NEVER:
            self._scan_through((self._data_time // MINUTE_MS + 1) * MINUTE_MS, events)
        return events

    def _on_data_time(self, ts: int, events: list[EngineEvent]) -> None:
        if self._next_scan is None:  # the first item starts data time (in the data clock only this sets both)
            self._first_minute = ts // MINUTE_MS
            self._next_scan = (self._first_minute + 1) * MINUTE_MS
        if ts >= self._next_scan:
            self._scan_through(ts, events)
        if ts > self._data_time:
            self._data_time = ts
        self._data_scan_at = self._next_scan

    def _scan_through(self, until_ms: int, events: list[EngineEvent]) -> None:
        while self._next_scan is not None and self._next_scan <= until_ms:
            if self.config.emit_minutes:
                events.append(self._closed_minutes(self._next_scan))
            scan = self._scan(self._next_scan)
            if scan is not None:
                events.append(scan)
            self._next_scan += MINUTE_MS

    # ------------------------------------------------------------ scans

    def rescan(self) -> Scan | None:
        """The last reported boundary scanned again under the current config (issue 13: settings
        applied at once), marked `rescan=True`: alerts and the store ignore it, the screens show
        it. Same `ts`; it emits no ClosedMinutes, is not counted as a scan, and moves no clock.
        None before the first reported scan (or when warm-up now hides that boundary)."""
        if self.last_scan is None:
            return None
        return self._scan(self.last_scan.ts, rescan=True)

    def _scan(self, scan_ms: int, *, rescan: bool = False) -> Scan | None:
        window = self.config.window_minutes
        last = scan_ms // MINUTE_MS - 1
        first = last - window + 1
        self._prune(first - self.config.keep_extra_minutes)
        self._perps.prune(first - self.config.keep_extra_minutes, scan_ms - self._window_ms - self._rules.oi_max_age_ms)
        reported = not self.config.warmup or (
            self._first_minute is not None and scan_ms >= self._first_minute * MINUTE_MS + self._window_ms
        )
        if not reported:
            return None
        symbols = tuple(
            item
            for symbol in sorted(self._participants)
            if (item := self._scan_symbol(symbol, scan_ms, first, last)) is not None
        )
        scan = Scan(ts=scan_ms, window_minutes=window, symbols=symbols, rescan=rescan)
        if not rescan:
            self._counts["scans"] += 1
        self.last_scan = scan
        return scan

    def _scan_symbol(self, symbol: str, scan_ms: int, first: int, last: int) -> SymbolScan | None:
        participants = self._participants[symbol]
        if not participants:
            return None
        rules, track = self._rules, self.config.track_coverage
        windows: dict[str, ExchangeWindow] = {}
        flows: dict[str, float] = {}
        ratios: dict[str, float | None] = {}
        # One pass in display order builds the windows and what is summed over them: the same
        # additions in the same order as summing afterwards, so the same floats.
        total = volume = 0.0
        price: float | None = None  # the first exchange's (display order) that has one
        change: float | None = None  # its change since its first close inside the window
        pairs_get = self._pairs.get
        for exchange in EXCHANGES:
            if exchange not in participants:
                continue
            pair = pairs_get((exchange, symbol), _NO_FLOW)
            buy, sell, trades, covered, nets, opening = pair.window(first, last)
            net = buy - sell
            ratio = ratio_of(buy, sell)
            last_price = pair.last_price
            windows[exchange] = _new(
                ExchangeWindow, (exchange, buy, sell, net, ratio, trades, covered if track else None, nets, last_price)
            )
            flows[exchange] = net
            ratios[exchange] = ratio
            total += net
            volume += buy + sell
            if price is None and last_price is not None:
                price, change = last_price, (last_price / opening - 1 if opening else None)
        coverage = {e: w.covered_minutes or 0 for e, w in windows.items()} if track else None
        minutes = self.config.window_minutes
        consensus = Consensus(scan_ms, symbol, consensus_level(flows, rules), flows, ratios, total, coverage, minutes)
        codes = signal_codes(flows, ratios, rules)  # mostly none: then no comprehension to run
        signals = [Signal(scan_ms, symbol, GRADE_OF[code], code, flows) for code in codes] if codes else []
        derivatives = self._perps.scan_symbol(
            symbol, scan_ms, first, last, windows, total, rules, track_coverage=track, window_minutes=minutes
        )
        if derivatives is not None and derivatives_hedge(derivatives, len(windows), rules):
            signals.append(Signal(scan_ms, symbol, GRADE_OF[_B], _B, flows, derivatives=derivatives))
            signals.sort(key=lambda signal: GRADE_ORDER[signal.grade])  # stable: A+, A, B, C
        return SymbolScan(consensus, tuple(signals), windows, price, change, volume, derivatives)

    def flush_minutes(self, now_ms: int) -> list[EngineEvent]:
        """At a stop (live, with `emit_minutes`): the closed minutes changed since the last
        hand-out (a late trade after the last scan, a backfill), as one ClosedMinutes at `now_ms`,
        so the store is not left with a short minute marked covered. The open minute is not
        handed out: it is partial, and a restart must backfill it rather than restore it."""
        if not self.config.emit_minutes or not self._dirty:
            return []
        wanted, self._dirty = self._dirty, set()
        return [ClosedMinutes(ts=now_ms, buckets=self._buckets_of(wanted))]

    def _closed_minutes(self, scan_ms: int) -> ClosedMinutes:
        """The minute that closed at `scan_ms` for every pair, plus minutes changed since handed out."""
        closing = scan_ms // MINUTE_MS - 1
        if self._dirty_before == -(1 << 62):  # the first hand-out: everything known so far (a backfill)
            wanted = {(key, m) for key, pair in self._pairs.items() for m in pair.minutes if m <= closing}
            wanted.update((key, m) for key, pair in self._pairs.items() for m in pair.covered if m <= closing)
        else:
            wanted = set()
        wanted.update((key, closing) for key in self._pairs)
        wanted.update(self._dirty)
        self._dirty = set()
        self._dirty_before = closing + 1
        return ClosedMinutes(ts=scan_ms, buckets=self._buckets_of(wanted))

    def _buckets_of(self, wanted: set[tuple[tuple[str, str], int]]) -> tuple[MinuteBucket, ...]:
        buckets = []
        for key, minute in sorted(wanted):
            pair = self._pairs.get(key)
            known = pair.closed(minute) if pair is not None else None
            if known is not None:
                buy, sell, count, close, covered = known
                buckets.append(MinuteBucket(key[0], key[1], minute, buy, sell, count, close, covered))
        return tuple(buckets)

    def _prune(self, keep_from: int) -> None:
        if keep_from <= self._keep_from:
            return
        self._keep_from = keep_from
        for pair in self._pairs.values():
            pair.prune(keep_from)

    def _pair(self, exchange: str, symbol: str) -> PairFlow:
        key = (exchange, symbol)
        pair = self._pairs.get(key)
        if pair is None:
            pair = self._pairs[key] = PairFlow()
        return pair

    def _participate(self, exchange: str, symbol: str, pair: PairFlow) -> None:
        pair.participating = True
        self._participants.setdefault(symbol, set()).add(exchange)

    # ------------------------------------------------------------ state

    @property
    def data_time(self) -> int | None:
        return None if self._data_time == _NEVER else self._data_time

    @property
    def stats(self) -> EngineStats:
        return EngineStats(data_time=self.data_time, trades=self._trades, **self._counts, **self._perps.stats())

    def open_whale_orders(self) -> int:
        return sum(1 for pair in self._pairs.values() if pair.order_fills)


def _closed_order(key: tuple[str, str], pair: PairFlow) -> Whale:
    return order_whale(
        key[0], key[1], pair.order_ts, pair.order_side, pair.order_amount, pair.order_value, pair.order_fills
    )


def whales_in(events: Iterable[EngineEvent]) -> list[Whale]:
    return [e for e in events if isinstance(e, Whale)]


def scans_in(events: Iterable[EngineEvent]) -> list[Scan]:
    return [e for e in events if isinstance(e, Scan)]
