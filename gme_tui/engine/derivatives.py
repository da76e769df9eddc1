"""The perpetual side of a scan as pure functions (SPEC §4b): the perp windows, open interest and
its change over the window, the `derivatives` line and the B signal `derivatives_hedge`.

Perp flow is kept apart from spot (its own minute buckets per (venue, symbol), built like spot's),
and reaches these functions as `ExchangeWindow`s, one per participating perp venue. Open interest
comes as samples per (venue, symbol), kept in `OiSamples`. Every comparison is strict and on
floats, exactly as SPEC words it, and a null (undefined ratio, no OI change) fails.

Sums run in display order (EXCHANGES), so the same data gives the same floats everywhere.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping

from gme_tui.engine.rules import RuleConfig
from gme_tui.model import EXCHANGES, Derivatives, ExchangeWindow, OiSpan, ratio_of

__all__ = [
    "OiSamples",
    "derivatives_hedge",
    "derivatives_line",
    "hedge_ratio",
    "oi_change",
    "oi_change_pct",
]


class OiSamples:
    """The open-interest samples of one (venue, symbol), in time order: (ts ms, oi in base units).

    A sample for a time already held replaces it (a re-poll, or history overlapping live
    samples); one arriving out of order is put in its place. `prune` keeps memory bounded.
    """

    __slots__ = ("oi", "ts")

    def __init__(self) -> None:
        self.ts: list[int] = []
        self.oi: list[float] = []

    def __len__(self) -> int:
        return len(self.ts)

    def add(self, ts: int, oi: float) -> None:
        stamps = self.ts
        if not stamps or ts > stamps[-1]:  # the common case: the newest poll
            stamps.append(ts)
            self.oi.append(oi)
            return
        index = bisect_right(stamps, ts)
        if index and stamps[index - 1] == ts:
            self.oi[index - 1] = oi
        else:
            stamps.insert(index, ts)
            self.oi.insert(index, oi)

    def at(self, at_ms: int, max_age_ms: int) -> tuple[int, float] | None:
        """The latest sample at or before `at_ms` and no older than `max_age_ms` there (an age of
        exactly `max_age_ms` still counts), as (ts, oi); None when there is none."""
        index = bisect_right(self.ts, at_ms)
        if index == 0:
            return None
        ts = self.ts[index - 1]
        if at_ms - ts > max_age_ms:
            return None
        return ts, self.oi[index - 1]

    def prune(self, before_ms: int) -> None:
        """Forget samples older than `before_ms`, except the latest of them: it may still be the
        sample at a window start that falls after it (within oi_max_age)."""
        keep = bisect_right(self.ts, before_ms) - 1
        if keep > 0:
            del self.ts[:keep], self.oi[:keep]


def oi_change(
    samples: Mapping[str, OiSamples],
    prices: Mapping[str, float | None],
    scan_ms: int,
    window_ms: int,
    max_age_ms: int,
) -> tuple[dict[str, OiSpan], float | None]:
    """The window's OI set and its change (SPEC §4b).

    Per venue: the latest sample at or before the window start `scan_ms − window_ms`, and the latest
    at or before `scan_ms`, each no older than `max_age_ms`. A venue with both, and with a last
    perp price `p` (`prices`, > 0), is in the OI set. Returns ({venue: OiSpan}, oi_change_pct),
    venues in display order; the change is None for an empty set or a start sum of 0.
    """
    start_at = scan_ms - window_ms
    spans: dict[str, OiSpan] = {}
    for venue in EXCHANGES:
        venue_samples = samples.get(venue)
        price = prices.get(venue)
        if venue_samples is None or price is None or not price > 0:
            continue
        start = venue_samples.at(start_at, max_age_ms)
        end = venue_samples.at(scan_ms, max_age_ms)
        if start is None or end is None:
            continue
        spans[venue] = OiSpan(start=start[1], end=end[1], start_ts=start[0], end_ts=end[0], price=price)
    return spans, oi_change_pct(spans)


def oi_change_pct(spans: Mapping[str, OiSpan]) -> float | None:
    """`(Σ oi_end·p − Σ oi_start·p) * 100.0 / Σ oi_start·p` over the OI set, exactly as SPEC §4b
    writes it (sums in the mapping's order); None when the set is empty or its start sum is 0."""
    if not spans:
        return None
    start_sum = 0.0
    end_sum = 0.0
    for span in spans.values():
        start_sum += span.start * span.price
        end_sum += span.end * span.price
    if start_sum == 0:
        return None
    return (end_sum - start_sum) * 100.0 / start_sum


def hedge_ratio(perp_total: float, spot_total: float) -> float | None:
    """`−perp_total / spot_total` (SPEC §4b, reported with B, not gated); None when spot_total is 0."""
    if spot_total == 0:
        return None
    return -perp_total / spot_total


def derivatives_line(
    ts: int,
    symbol: str,
    spot: Mapping[str, ExchangeWindow],
    spot_total: float,
    perp: Mapping[str, ExchangeWindow],
    oi: Mapping[str, OiSpan],
    change_pct: float | None,
    *,
    perp_coverage: Mapping[str, int] | None = None,
    window_minutes: int = 50,
    liquidated: tuple[float, float] = (0.0, 0.0),
    liquidations_sampled: bool = False,
) -> Derivatives | None:
    """The `derivatives` line of one symbol at scan `ts` (SPEC §4b, §7), or None when no perp venue
    participates (a symbol without a perp: no line, no B, no error).

    `spot`: the participating spot exchanges' windows; `spot_total`: SPEC §3's total of the same
    scan (passed in, so it is that very float); `perp`: the participating perp venues' windows;
    `oi`, `change_pct`: from `oi_change`; `liquidated`: (long, short) value liquidated in the window.
    """
    if not perp:
        return None
    windows: dict[str, ExchangeWindow] = {venue: perp[venue] for venue in EXCHANGES if venue in perp}
    perp_total = 0.0
    perp_buy = 0.0
    perp_sell = 0.0
    for window in windows.values():
        perp_total += window.net
        perp_buy += window.buy
        perp_sell += window.sell
    spot_buy = 0.0
    spot_sell = 0.0
    for exchange in EXCHANGES:
        spot_window = spot.get(exchange)
        if spot_window is not None:
            spot_buy += spot_window.buy
            spot_sell += spot_window.sell
    return Derivatives(
        ts=ts,
        symbol=symbol,
        windows=windows,
        perp_flows={venue: w.net for venue, w in windows.items()},
        perp_ratios={venue: w.ratio for venue, w in windows.items()},
        perp_total=perp_total,
        perp_ratio=ratio_of(perp_buy, perp_sell),
        spot_total=spot_total,
        spot_ratio=ratio_of(spot_buy, spot_sell),
        oi=dict(oi),
        oi_change_pct=change_pct,
        hedge_ratio=hedge_ratio(perp_total, spot_total),
        perp_coverage=perp_coverage,
        window_minutes=window_minutes,
        liquidated_long=liquidated[0],
        liquidated_short=liquidated[1],
        liquidations_sampled=liquidations_sampled,
    )


def derivatives_hedge(line: Derivatives | None, spot_exchanges: int, config: RuleConfig) -> bool:
    """B `derivatives_hedge` (SPEC §4b): spot bought while new perp shorts were opened against it.

    All must hold, every comparison strict, a null failing: at least 1 spot exchange
    (`spot_exchanges` participating) and `b_min_perp_venues` perp venues participate;
    spot_total > b_spot_min_flow and spot ratio > b_spot_min_ratio; perp_total < −b_perp_min_flow
    and perp ratio < b_perp_max_ratio; oi_change_pct > b_oi_min_change_pct.
    """
    if line is None or spot_exchanges < 1 or len(line.windows) < config.b_min_perp_venues:
        return False
    spot_ratio, perp_ratio, change = line.spot_ratio, line.perp_ratio, line.oi_change_pct
    if spot_ratio is None or perp_ratio is None or change is None:
        return False
    return (
        line.spot_total > config.b_spot_min_flow
        and spot_ratio > config.b_spot_min_ratio
        and line.perp_total < -config.b_perp_min_flow
        and perp_ratio < config.b_perp_max_ratio
        and change > config.b_oi_min_change_pct
    )
