"""The engine's perpetual side (SPEC §4b): perp flow per (venue, symbol) kept apart from spot,
perp participation, open-interest samples and liquidation sums, and each symbol's `derivatives`
line at a scan. Pure: the Engine owns the clocks and calls in.

Perp pairs are the same `PairFlow` minute columns as spot, in maps of their own, so a perp
trade can never add to a spot window (nor the other way round). Whales stay spot (SPEC §5).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from gme_tui.engine.buckets import PairFlow
from gme_tui.engine.derivatives import OiSamples, derivatives_line, oi_change
from gme_tui.engine.rules import RuleConfig
from gme_tui.model import (
    EXCHANGES,
    MINUTE_MS,
    Coverage,
    Derivatives,
    ExchangeWindow,
    Liquidation,
    Listings,
    MinuteBucket,
    OpenInterest,
    PerpTrade,
    ratio_of,
)

SAMPLED_LIQUIDATIONS = frozenset({"binance"})  # at most one liquidation per symbol per second


class PerpSide:
    """Perp flow, OI and liquidations of the enabled perp `venues`; everything else is ignored
    and counted. Counters: trades, buckets, duplicates, late, ignored, oi, liquidations."""

    def __init__(self, venues: Iterable[str], *, keep_ids: bool = True) -> None:
        self.venues = frozenset(venues)
        self.keep_ids = keep_ids  # False: the source drops duplicate ids (EngineConfig.dedupe_trades)
        self.pairs: dict[tuple[str, str], PairFlow] = {}
        self.participants: dict[str, set[str]] = {}
        self.oi: dict[str, dict[str, OiSamples]] = {}  # symbol -> venue -> samples
        # symbol -> minute -> [long value, short value, any sampled venue (0/1)]
        self.liquidations: dict[str, dict[int, list[float]]] = {}
        self.counts = dict.fromkeys(("trades", "buckets", "duplicates", "late", "ignored", "oi", "liquidations"), 0)

    def reconfigure(self, venues: Iterable[str]) -> None:
        """New venue switches: a venue switched off stops participating at once, its flow goes."""
        self.venues = frozenset(venues)
        for key in [key for key in self.pairs if key[0] not in self.venues]:
            del self.pairs[key]
        for participants in self.participants.values():
            participants.intersection_update(self.venues)
        for by_venue in self.oi.values():
            for venue in [v for v in by_venue if v not in self.venues]:
                del by_venue[venue]

    # ------------------------------------------------------------ input

    def admit(self, trade: PerpTrade, keep_from: int) -> PairFlow | None:
        """The pair a perp trade goes to, or None (counted) for a disabled venue, a duplicate id
        or a minute no longer kept. The caller moves its clock, then calls `apply`."""
        exchange, symbol, ts, _side, _price, _amount, trade_id = trade
        pair = self.pairs.get((exchange, symbol))
        if pair is None:
            if exchange not in self.venues:
                self.counts["ignored"] += 1
                return None
            pair = self.pairs[(exchange, symbol)] = PairFlow()
        if trade_id is not None and trade_id in pair.ids:
            self.counts["duplicates"] += 1
            return None
        if ts // MINUTE_MS < keep_from:
            self.counts["late"] += 1
            return None
        return pair

    def apply(self, pair: PairFlow, trade: PerpTrade) -> None:
        exchange, symbol, ts, side, price, amount, trade_id = trade
        pair.add(ts // MINUTE_MS, side == "buy", price * amount, price, ts, trade_id if self.keep_ids else None)
        if not pair.participating:
            self._participate(exchange, symbol, pair)
        self.counts["trades"] += 1

    def admit_bucket(self, bucket: MinuteBucket, keep_from: int, replace: bool = False) -> PairFlow | None:
        """The pair a perp minute goes to, or None (counted): disabled venue, duplicate, too old."""
        if bucket.exchange not in self.venues:
            self.counts["ignored"] += 1
            return None
        pair = self._pair(bucket.exchange, bucket.symbol)
        if bucket.minute in pair.bucket_minutes and not replace:
            self.counts["duplicates"] += 1
            return None
        if bucket.minute < keep_from:
            self.counts["late"] += 1
            return None
        return pair

    def apply_bucket(self, pair: PairFlow, bucket: MinuteBucket, replace: bool = False) -> None:
        pair.set_minute(bucket.minute, bucket.buy, bucket.sell, bucket.count, bucket.close, replace, bucket.covered)
        if not pair.participating:
            self._participate(bucket.exchange, bucket.symbol, pair)
        self.counts["buckets"] += 1

    def set_listings(self, listings: Listings) -> None:
        for symbol, venues in listings.symbols.items():
            self.participants.setdefault(symbol, set()).update(v for v in venues if v in self.venues)

    def cover(self, coverage: Coverage, keep_from: int) -> None:
        if coverage.exchange in self.venues:
            self._pair(coverage.exchange, coverage.symbol).cover(coverage.first_minute, coverage.last_minute, keep_from)

    def add_oi(self, sample: OpenInterest) -> None:
        if sample.exchange not in self.venues:
            self.counts["ignored"] += 1
            return
        by_venue = self.oi.setdefault(sample.symbol, {})
        samples = by_venue.get(sample.exchange)
        if samples is None:
            samples = by_venue[sample.exchange] = OiSamples()
        samples.add(sample.ts, sample.oi)
        self.counts["oi"] += 1

    def add_liquidation(self, item: Liquidation, keep_from: int) -> bool:
        """Sum a liquidation into its minute; False (counted) when its venue is off or its minute
        is no longer kept (it is still shown in the feed by the caller if it wishes)."""
        if item.exchange not in self.venues:
            self.counts["ignored"] += 1
            return False
        minute = item.ts // MINUTE_MS
        if minute < keep_from:
            self.counts["late"] += 1
            return False
        sums = self.liquidations.setdefault(item.symbol, {}).setdefault(minute, [0.0, 0.0, 0.0])
        sums[0 if item.side == "long" else 1] += item.value
        if item.exchange in SAMPLED_LIQUIDATIONS:
            sums[2] = 1.0
        self.counts["liquidations"] += 1
        return True

    def prune(self, keep_from: int, oi_before_ms: int) -> None:
        """Forget minutes before `keep_from` and OI samples before `oi_before_ms` (the latest one
        before it stays: it may still start a window within oi_max_age)."""
        for pair in self.pairs.values():
            pair.prune(keep_from)
        for by_venue in self.oi.values():
            for samples in by_venue.values():
                samples.prune(oi_before_ms)
        for minutes in self.liquidations.values():
            for minute in [m for m in minutes if m < keep_from]:
                del minutes[minute]

    def stats(self) -> dict[str, int]:
        """The counters under EngineStats' names."""
        c = self.counts
        return {
            "perp_trades": c["trades"],
            "perp_buckets": c["buckets"],
            "perp_duplicates": c["duplicates"],
            "perp_late": c["late"],
            "perp_ignored": c["ignored"],
            "oi_samples": c["oi"],
            "liquidations": c["liquidations"],
        }

    # ------------------------------------------------------------ output

    def scan_symbol(
        self,
        symbol: str,
        scan_ms: int,
        first: int,
        last: int,
        spot: Mapping[str, ExchangeWindow],
        spot_total: float,
        rules: RuleConfig,
        *,
        track_coverage: bool,
        window_minutes: int,
    ) -> Derivatives | None:
        """The symbol's derivatives line over minutes first..last (SPEC §4b), None without a perp
        venue. `spot`, `spot_total`: the same scan's spot windows and §3 total."""
        venues = self.participants.get(symbol)
        if not venues:
            return None
        windows: dict[str, ExchangeWindow] = {}
        for venue in EXCHANGES:
            if venue not in venues:
                continue
            pair = self.pairs.get((venue, symbol)) or PairFlow()
            sums = pair.window(first, last)
            windows[venue] = ExchangeWindow(
                exchange=venue,
                buy=sums.buy,
                sell=sums.sell,
                net=sums.buy - sums.sell,
                ratio=ratio_of(sums.buy, sums.sell),
                trades=sums.trades,
                covered_minutes=sums.covered if track_coverage else None,
                minute_nets=sums.minute_nets,
                last_price=pair.last_price,
            )
        prices = {venue: window.last_price for venue, window in windows.items()}
        spans, change = oi_change(
            self.oi.get(symbol, {}), prices, scan_ms, window_minutes * MINUTE_MS, rules.oi_max_age_ms
        )
        long_value, short_value, sampled = self._liquidated(symbol, first, last)
        return derivatives_line(
            scan_ms,
            symbol,
            spot,
            spot_total,
            windows,
            spans,
            change,
            perp_coverage={v: w.covered_minutes or 0 for v, w in windows.items()} if track_coverage else None,
            window_minutes=window_minutes,
            liquidated=(long_value, short_value),
            liquidations_sampled=sampled,
        )

    def _liquidated(self, symbol: str, first: int, last: int) -> tuple[float, float, bool]:
        minutes = self.liquidations.get(symbol)
        if not minutes:
            return 0.0, 0.0, False
        long_value = short_value = 0.0
        sampled = False
        for minute in sorted(m for m in minutes if first <= m <= last):  # minute order: stable floats
            sums = minutes[minute]
            long_value += sums[0]
            short_value += sums[1]
            sampled = sampled or sums[2] > 0
        return long_value, short_value, sampled

    # ------------------------------------------------------------ helpers

    def _pair(self, venue: str, symbol: str) -> PairFlow:
        pair = self.pairs.get((venue, symbol))
        if pair is None:
            pair = self.pairs[(venue, symbol)] = PairFlow()
        return pair

    def _participate(self, venue: str, symbol: str, pair: PairFlow) -> None:
        pair.participating = True
        self.participants.setdefault(symbol, set()).add(venue)
