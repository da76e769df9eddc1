"""The simulated perpetual market behind `gme-tui --demo` (SPEC §4b): taker flow on the USDT
perpetuals of Binance, OKX and Bybit, an open-interest sample per venue and symbol each minute,
and forced liquidations.

Perp flow follows its symbol's spot sentiment loosely, so most symbols' perps agree with spot and
show no B. A story (simulator_market.py's roles) can script the perp side: "hedge" (always
BNB/USDT) sells perps against steady spot buying from the start, and its open interest, flat
until two minutes before streaming, then grows 0.3 % a minute: B `derivatives_hedge` holds from
the third scan of streaming (OI up 1.2 % over the window at minute 2, 0.9 % at minute 1) until
open interest falls back some twenty minutes later.

Liquidations arrive at random across venues and symbols, more of them where prices run, on the
side the move hurts (a sell-off liquidates longs). The first comes within the first seconds and
one of more than 1,000,000 within the first minute and a half. Binance sends at most one per
symbol per second (SPEC §4b): the simulator drops the others, as Binance does.

Pure: data time only, no clock, no I/O. Its random generators derive from the seed but apart from
the spot market's, so simulating perps changes no spot trade, and every venue draws whether it is
simulated or not, so the perp trades and open interest of one venue do not depend on which others
are on (liquidations are drawn across the venues that are).
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from gme_tui.model import MINUTE_MS, Liquidation, Listings, MinuteBucket, OpenInterest, PerpTrade, SourceItem
from gme_tui.sources.simulator_flow import TICK_MS, FlowGenerator, PriceWalk, Stream
from gme_tui.sources.simulator_market import MAX_IMBALANCE, SymbolSpec

PERP_MARKETS: tuple[str, ...] = ("binance", "okx", "bybit")  # the venues the demo can simulate perps on
PERP_VOLUME_FACTOR = 1.6  # perps out-trade spot
PERP_SHARES: Mapping[str, float] = {"binance": 0.5, "okx": 0.27, "bybit": 0.23}
PERP_BASIS: Mapping[str, float] = {"binance": 0.0002, "okx": 0.00025, "bybit": 0.00015}  # premium over spot
PERP_ID_BASE: Mapping[str, int] = {"binance": 6_100_000_000, "okx": 1_450_000_000, "bybit": 3_100_000_000_017}
PERP_TRADE_SHARE = 0.5  # perp trades per second, as a share of the spot market's
PERP_FOLLOW = 0.8  # perp imbalance per unit of spot imbalance, outside a story
PERP_NET_NOISE = 0.03
PERP_VOLUME_NOISE = 0.2
OI_MINUTES = 300.0  # open interest is worth this many minutes of the venue's perp volume
OI_STEP_SIGMA = 0.0008  # log open interest: random walk per minute, outside a story
OI_SAMPLE_NOISE = 0.0002  # per venue and sample
OI_HISTORY_EXTRA = 10  # minutes of OI history before the window: a start sample within oi_max_age
LIQUIDATIONS_PER_MINUTE = 24.0  # every venue and symbol together
LIQUIDATION_LEAN_BOOST = 6.0  # pair weight per unit of |spot imbalance|: more where prices run
LIQUIDATION_SIGMA = 1.4
LIQUIDATION_MAX = 2_500_000.0
BIG_LIQUIDATION = (1_050_000.0, 1_800_000.0)  # scheduled once in the first minute and a half
SAMPLED_VENUES = frozenset({"binance"})  # at most one liquidation per symbol per second

GVector3 = tuple[float, float, float]  # per venue, in PERP_MARKETS order


@dataclass(frozen=True)
class PerpStory:
    """The scripted perp side of a spot role, in relative minutes (0 = the first streaming minute).

    `flow`: (from, until (exclusive), imbalance per venue), perp flow outside them follows spot.
    `oi`: (from, slope of log open interest per minute, None = random walk); the first segment
    also holds before its start.
    """

    flow: tuple[tuple[int, int, GVector3], ...]
    oi: tuple[tuple[int, float | None], ...]


PERP_STORIES: Mapping[str, PerpStory] = {
    "hedge": PerpStory(
        flow=((-60, 14, (-0.16, -0.15, -0.14)),),
        oi=((-60, 0.0), (-2, 0.003), (14, -0.0035), (30, None)),
    ),
}


@dataclass(frozen=True)
class PerpMinute:
    net: float  # taker buy minus taker sell value
    volume: float


class PerpQuote:
    """A perp book's prices: the symbol's spot mid plus the venue's premium."""

    def __init__(self, walk: PriceWalk) -> None:
        self.walk = walk

    def quote(self, exchange: str, is_buy: bool, levels: float = 0.0) -> float:
        walk = self.walk
        away = walk.half_spread * (1.0 + levels)
        price = walk.mid * (1.0 + PERP_BASIS[exchange]) * (1.0 + away if is_buy else 1.0 - away)
        return round(price, walk.spec.price_decimals)


class PerpPlan:
    """Per-minute perp flow of one symbol on every perp venue, drawn minute by minute in order."""

    def __init__(self, spec: SymbolSpec, story: PerpStory | None, rng: random.Random) -> None:
        self.spec = spec
        self.story = story
        self.rng = rng
        self.base = {v: spec.volume_per_minute * PERP_VOLUME_FACTOR * PERP_SHARES[v] for v in PERP_MARKETS}

    def draw(self, k: int, spot_lean: float) -> dict[str, PerpMinute]:
        g = self._g(k, spot_lean)
        rng = self.rng
        factor = rng.lognormvariate(-(PERP_VOLUME_NOISE**2) / 2, PERP_VOLUME_NOISE)
        out: dict[str, PerpMinute] = {}
        for index, venue in enumerate(PERP_MARKETS):  # every venue draws: same seed, same plan
            noise = rng.gauss(0.0, PERP_NET_NOISE)
            venue_factor = factor * rng.lognormvariate(-0.005, 0.1)
            base = self.base[venue]
            imbalance = max(-MAX_IMBALANCE, min(MAX_IMBALANCE, g[index] + noise))
            net = base * imbalance
            out[venue] = PerpMinute(net, max(base * venue_factor, abs(net) / MAX_IMBALANCE))
        return out

    def _g(self, k: int, spot_lean: float) -> GVector3:
        if self.story is not None:
            for start, until, g in self.story.flow:
                if start <= k < until:
                    return g
        follow = PERP_FOLLOW * spot_lean
        return (follow, follow, follow)


class OpenInterestPath:
    """Open interest of one symbol on every perp venue, minute boundary by minute boundary, in order."""

    def __init__(self, spec: SymbolSpec, story: PerpStory | None, first_k: int, rng: random.Random) -> None:
        self.story = story
        self.rng = rng
        self.k = first_k  # the next boundary to sample
        self.log = 0.0
        self.decimals = spec.amount_decimals
        self.base = {
            v: OI_MINUTES * spec.volume_per_minute * PERP_VOLUME_FACTOR * PERP_SHARES[v] / spec.price
            for v in PERP_MARKETS
        }

    def next(self) -> tuple[int, dict[str, float]]:
        """(k, {venue: oi in base units}) at the next minute boundary k, then one step on."""
        k = self.k
        samples = {
            venue: round(base * math.exp(self.log + self.rng.gauss(0.0, OI_SAMPLE_NOISE)), self.decimals)
            for venue, base in self.base.items()
        }
        slope = self._slope(k)
        self.log += self.rng.gauss(0.0, OI_STEP_SIGMA) if slope is None else slope
        self.k = k + 1
        return k, samples

    def _slope(self, k: int) -> float | None:
        if self.story is None or not self.story.oi:
            return None
        segments = self.story.oi
        current = segments[0][1]
        for start, slope in segments:
            if start <= k:
                current = slope
        return current


class LiquidationDesk:
    """When, where, which side and how big the forced liquidations are."""

    def __init__(
        self,
        specs: Sequence[SymbolSpec],
        venues: Sequence[str],
        quotes: Mapping[str, PerpQuote],
        start_ms: int,
        rng: random.Random,
    ) -> None:
        self.rng = rng
        self.quotes = quotes
        self.specs = {spec.symbol: spec for spec in specs}
        self.pairs = [(spec.symbol, v) for spec in specs for v in venues]
        self.base_weights = [self.specs[s].volume_per_minute ** 0.5 * PERP_SHARES[v] for s, v in self.pairs]
        self.weights = list(self.base_weights)
        self.leans: dict[str, float] = {spec.symbol: 0.0 for spec in specs}
        self.last_second: dict[str, int] = {}  # sampled venues: symbol -> last second sent
        self.queue: list[tuple[int, str, str, float]] = []  # (ts, symbol, venue, value)
        first = rng.randint(1_500, 5_000)
        big = rng.randint(20_000, 75_000)
        small_value = rng.uniform(15_000, 120_000)
        big_value = rng.uniform(*BIG_LIQUIDATION)
        big_symbol = rng.choice(("BTC/USDT", "ETH/USDT"))
        if self.pairs:
            largest = max(self.pairs, key=lambda pair: self.specs[pair[0]].volume_per_minute * PERP_SHARES[pair[1]])
            self.queue.append((start_ms + first, largest[0], largest[1], small_value))
            targets = [p for p in self.pairs if p[0] == big_symbol] or self.pairs
            target = max(targets, key=lambda pair: (pair[1] not in SAMPLED_VENUES, PERP_SHARES[pair[1]]))
            self.queue.append((start_ms + big, target[0], target[1], big_value))
        self.next_random = start_ms + rng.expovariate(LIQUIDATIONS_PER_MINUTE / MINUTE_MS)

    def set_leans(self, leans: Mapping[str, float]) -> None:
        """This minute's spot imbalance per symbol: which side gets liquidated, and where."""
        self.leans.update(leans)
        self.weights = [
            weight * (1.0 + LIQUIDATION_LEAN_BOOST * abs(self.leans[symbol]))
            for weight, (symbol, _venue) in zip(self.base_weights, self.pairs)
        ]

    def until(self, end_ms: int, not_before: int) -> list[Liquidation]:
        """Liquidations with ts < end_ms, in time order; none before `not_before`."""
        rng = self.rng
        while self.pairs and self.next_random < end_ms:
            symbol, venue = rng.choices(self.pairs, self.weights)[0]
            spec = self.specs[symbol]
            value = rng.lognormvariate(0.0, LIQUIDATION_SIGMA) * 4_000.0 * (spec.volume_per_minute / 1e6) ** 0.5
            self.queue.append((int(self.next_random), symbol, venue, min(LIQUIDATION_MAX, max(50.0, value))))
            self.next_random += rng.expovariate(LIQUIDATIONS_PER_MINUTE / MINUTE_MS)
        due = sorted((item for item in self.queue if item[0] < end_ms), key=lambda item: item[0])
        self.queue = [item for item in self.queue if item[0] >= end_ms]
        out: list[Liquidation] = []
        for ts, symbol, venue, value in due:
            liquidation = self._make(max(ts, not_before), symbol, venue, value)
            if liquidation is not None:
                out.append(liquidation)
        return out

    def _make(self, ts: int, symbol: str, venue: str, value: float) -> Liquidation | None:
        rng = self.rng
        lean = self.leans[symbol]
        is_long = rng.random() < 0.5 - max(-0.4, min(0.4, 3.0 * lean))  # a sell-off liquidates longs
        slip = rng.uniform(0.0005, 0.003)
        if venue in SAMPLED_VENUES:
            second = ts // 1000
            if self.last_second.get(symbol) == second:
                return None  # Binance sends one per symbol per second: the rest never arrive
            self.last_second[symbol] = second
        spec = self.specs[symbol]
        mid = self.quotes[symbol].walk.mid * (1.0 + PERP_BASIS[venue])
        # the liquidation order sells a long below the market, buys back a short above it
        price = round(mid * (1.0 - slip if is_long else 1.0 + slip), spec.price_decimals)
        amount = round(value / price, spec.amount_decimals) or 10.0**-spec.amount_decimals
        return Liquidation(
            ts=ts,
            exchange=venue,
            symbol=symbol,
            side="long" if is_long else "short",
            price=price,
            amount=amount,
            value=price * amount,
        )


class PerpGenerator:
    """The perp side of the simulated market, driven by the spot `FlowGenerator` (its prices, its
    plan's sentiment, its roles). Call `backfill` after the spot backfill, and `tick` after the
    spot tick of the same time: the perps read what spot has planned, never ahead of it."""

    def __init__(
        self,
        *,
        seed: int,
        flow: FlowGenerator,
        venues: Sequence[str],
        trades_per_second: float = 400.0,
    ) -> None:
        master = random.Random(f"gme-tui perps {seed}")  # apart from the spot market's generators
        self.flow = flow
        self.venues = tuple(v for v in PERP_MARKETS if v in venues)
        self.start_ms = flow.start_ms
        self.start_minute = flow.start_minute
        self.window_minutes = flow.window_minutes
        specs = [plan.spec for plan in flow.plans.values()]
        self.specs = specs
        self.quotes = {symbol: PerpQuote(walk) for symbol, walk in flow.walks.items()}
        first_oi = -(self.window_minutes + OI_HISTORY_EXTRA)
        self.plans: dict[str, PerpPlan] = {}
        self.oi: dict[str, OpenInterestPath] = {}
        for symbol, plan in flow.plans.items():
            story = PERP_STORIES.get(plan.role)
            self.plans[symbol] = PerpPlan(plan.spec, story, random.Random(master.getrandbits(64)))
            self.oi[symbol] = OpenInterestPath(plan.spec, story, first_oi, random.Random(master.getrandbits(64)))
        rates = _perp_rates(trades_per_second * PERP_TRADE_SHARE, specs)
        self.streams: list[Stream[PerpTrade]] = []
        for spec in specs:
            for venue in PERP_MARKETS:  # every stream draws its seed, simulated or not
                stream_rng = random.Random(master.getrandbits(64))
                if venue in self.venues:
                    self.streams.append(
                        Stream(
                            spec,
                            venue,
                            rates[(spec.symbol, venue)],
                            self.quotes[spec.symbol],
                            stream_rng,
                            PerpTrade,
                            base_volume=self.plans[spec.symbol].base[venue],
                        )
                    )
        self.liquidations = LiquidationDesk(
            specs, self.venues, self.quotes, self.start_ms, random.Random(master.getrandbits(64))
        )
        self.ids: dict[str, int] = {v: PERP_ID_BASE[v] + master.randint(0, 10_000_000) for v in PERP_MARKETS}
        self.minute = self.start_minute - 1

    def listings(self) -> Listings:
        """Every symbol's perpetual on every simulated venue (SPEC §8 perp_listings)."""
        return Listings(symbols={spec.symbol: self.venues for spec in self.specs if self.venues}, market="perp")

    def backfill(self) -> list[SourceItem]:
        """The window before start as closed perp minutes, then open-interest history from
        OI_HISTORY_EXTRA minutes before the window up to the last minute before start."""
        items: list[SourceItem] = []
        mids = self.flow.backfill_mids
        mean_values = {(s.spec.symbol, s.exchange): s.mean_value for s in self.streams}
        for i, k in enumerate(range(-self.window_minutes, 0)):
            minute = self.start_minute + k
            for spec in self.specs:
                symbol = spec.symbol
                row = self.plans[symbol].draw(k, self.flow.spot_lean(symbol, k))
                mid = mids[symbol][i]
                for venue in self.venues:
                    plan = row[venue]
                    items.append(
                        MinuteBucket(
                            exchange=venue,
                            symbol=symbol,
                            minute=minute,
                            buy=(plan.volume + plan.net) / 2,
                            sell=(plan.volume - plan.net) / 2,
                            count=max(1, round(plan.volume / mean_values[(symbol, venue)])),
                            close=round(mid * (1.0 + PERP_BASIS[venue]), spec.price_decimals),
                            market="perp",
                        )
                    )
        while True:
            k = next(iter(self.oi.values())).k if self.oi else 0
            if k >= 0:
                break
            items.extend(self._oi_samples())
        return items

    def tick(self, tick_start: int) -> tuple[list[OpenInterest], list[PerpTrade | Liquidation]]:
        """(open interest sampled at this tick's minute boundary, if it starts a minute; the perp
        trades and liquidations with tick_start <= ts < tick_start + TICK_MS, ts non-decreasing)."""
        minute = tick_start // MINUTE_MS
        oi: list[OpenInterest] = []
        if minute != self.minute:
            oi = self._start_minute(minute)
        end = tick_start + TICK_MS
        trades: list[PerpTrade] = []
        for stream in self.streams:
            stream.trades_until(end, self.ids, trades)
        trades.sort(key=_ts)
        liquidations = self.liquidations.until(end, tick_start)
        if not liquidations:
            return oi, list(trades)
        merged: list[PerpTrade | Liquidation] = [*trades, *liquidations]
        merged.sort(key=_ts)  # stable: trades before a liquidation of the same ms
        return oi, merged

    def _start_minute(self, minute: int) -> list[OpenInterest]:
        self.minute = minute
        k = minute - self.start_minute
        leans = {spec.symbol: self.flow.spot_lean(spec.symbol, k) for spec in self.specs}
        rows = {symbol: self.plans[symbol].draw(k, lean) for symbol, lean in leans.items()}
        for stream in self.streams:
            row = rows[stream.spec.symbol][stream.exchange]
            stream.start_minute(minute * MINUTE_MS, row.net, row.volume)
        self.liquidations.set_leans(leans)
        samples: list[OpenInterest] = []
        while self.oi and next(iter(self.oi.values())).k <= k:  # one boundary each call, k on time
            samples.extend(self._oi_samples())
        return samples

    def _oi_samples(self) -> list[OpenInterest]:
        out: list[OpenInterest] = []
        for symbol, path in self.oi.items():
            k, by_venue = path.next()
            ts = (self.start_minute + k) * MINUTE_MS
            out.extend(OpenInterest(venue, symbol, ts, by_venue[venue]) for venue in self.venues)
        return out


def _perp_rates(trades_per_second: float, specs: Sequence[SymbolSpec]) -> dict[tuple[str, str], float]:
    """Perp trades per second per (symbol, venue), as spot's: larger markets trade more often,
    less than in proportion to their volume."""
    weights = {
        (spec.symbol, venue): spec.volume_per_minute**0.6 * PERP_SHARES[venue]
        for spec in specs
        for venue in PERP_MARKETS
    }
    total = sum(weights.values())
    return {key: trades_per_second * weight / total for key, weight in weights.items()}


def _ts(item: PerpTrade | Liquidation) -> int:
    return item.ts
