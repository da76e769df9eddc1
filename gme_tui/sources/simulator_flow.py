"""Turns the simulated market's per-minute plan into trades and backfilled minutes.

Each (symbol, exchange) is a stream of taker trades: Poisson arrivals, heavy-tailed sizes, and a
side chosen by a small controller so that the minute's realized net flow lands on the plan
(what it misses is carried into the next minute). Whale orders are scheduled apart, split into
fills that share one ts and side, and count towards the stream's flow like any other trade.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from gme_tui.model import EXCHANGES, MINUTE_MS, MinuteBucket, PerpTrade, Side, Trade
from gme_tui.sources.simulator_market import EXCHANGE_INDEX, SYMBOLS, SymbolPlan, SymbolSpec, make_plans

TICK_MS = 100
SIZE_SIGMA = 1.3  # log-normal sigma of trade sizes: a long tail of larger trades
MAX_TRADE = 150_000.0  # ordinary trades stay below the whale threshold
MAX_CORRECTION = 0.85  # the controller never makes a stream all buys or all sells
CARRY_LIMIT = 0.3  # what a minute missed is carried into the next, up to this share of its volume
PRICE_DRIFT = 0.003  # log price drift per minute per unit of imbalance: buying lifts the price
WHALES_PER_MINUTE = 3.0
WHALE_MIN, WHALE_MAX = 200_000.0, 3_000_000.0
WHALE_STREAM_MIN_VOLUME = 300_000.0  # per minute: whales only where the book can take them

# Quote premium/discount per exchange (Coinbase trades against USD, a little richer).
BASIS: Mapping[str, float] = {"binance": 0.0, "okx": 0.00005, "bybit": -0.00005, "coinbase": 0.0003}
ID_BASE: Mapping[str, int] = {
    "binance": 5_400_000_000,
    "okx": 720_000_000,
    "bybit": 2_290_000_000_061,
    "coinbase": 915_000_000,
}


TradeT = TypeVar("TradeT", Trade, PerpTrade)
# Trade or PerpTrade: both take (exchange, symbol, ts, side, price, amount, id)
TradeFactory = Callable[[str, str, int, Side, float, float, str | None], TradeT]


class Quoter(Protocol):
    """Where a stream's taker prices come from: a market's book around the symbol's mid."""

    def quote(self, exchange: str, is_buy: bool, levels: float = 0.0) -> float: ...


@dataclass(frozen=True)
class StreamKey:
    symbol: str
    exchange: str


class PriceWalk:
    """One mid price per symbol: a random walk that drifts with the symbol's planned flow."""

    def __init__(self, spec: SymbolSpec, rng: random.Random) -> None:
        self.spec = spec
        self.rng = rng
        self.mid = spec.price * rng.uniform(0.97, 1.03)
        self.half_spread = 0.00005 if spec.volume_per_minute >= 5_000_000 else 0.0002

    def step(self, drift_per_minute: float, fraction_of_minute: float) -> None:
        sigma = self.spec.volatility * math.sqrt(fraction_of_minute)
        self.mid *= math.exp(drift_per_minute * fraction_of_minute + self.rng.gauss(0.0, sigma))

    def mid_on(self, exchange: str) -> float:
        return round(self.mid * (1.0 + BASIS[exchange]), self.spec.price_decimals)

    def quote(self, exchange: str, is_buy: bool, levels: float = 0.0) -> float:
        """The price a taker pays (buy, at the ask) or gets (sell, at the bid), `levels` deep."""
        away = self.half_spread * (1.0 + levels)
        price = self.mid * (1.0 + BASIS[exchange]) * (1.0 + away if is_buy else 1.0 - away)
        return round(price, self.spec.price_decimals)


class Stream(Generic[TradeT]):
    """Taker trades of one (symbol, exchange), spot (`Trade`, the default) or perpetual (`make`
    = PerpTrade, `base_volume` and `walk` of the perp book)."""

    __slots__ = (
        "base_rate",
        "base_volume",
        "exchange",
        "make",
        "mean_value",
        "minute_end",
        "next_at",
        "rate_per_ms",
        "realized",
        "rng",
        "spec",
        "target",
        "volume",
        "walk",
    )

    def __init__(
        self,
        spec: SymbolSpec,
        exchange: str,
        rate_per_s: float,
        walk: Quoter,
        rng: random.Random,
        make: TradeFactory[TradeT],
        base_volume: float | None = None,
    ) -> None:
        self.spec = spec
        self.exchange = exchange
        self.rng = rng
        self.walk = walk
        self.make: TradeFactory[TradeT] = make
        self.base_volume = spec.volume_per_minute * spec.shares[exchange] if base_volume is None else base_volume
        self.base_rate = rate_per_s / 1000.0
        self.rate_per_ms = self.base_rate
        self.mean_value = self.base_volume / (rate_per_s * 60.0)
        self.next_at = 0.0
        self.minute_end = 0
        self.target = 0.0  # planned net of the current minute, carry included
        self.volume = 0.0  # planned volume of the current minute
        self.realized = 0.0  # net traded so far this minute

    def start_minute(self, minute_start: int, net: float, volume: float) -> None:
        missed = self.target - self.realized if self.minute_end else 0.0
        limit = CARRY_LIMIT * volume
        self.target = net + max(-limit, min(limit, missed))
        self.volume = volume
        self.realized = 0.0
        self.minute_end = minute_start + MINUTE_MS
        self.rate_per_ms = self.base_rate * volume / self.base_volume  # busier minutes, more trades
        if self.next_at < minute_start:
            self.next_at = minute_start + self.rng.expovariate(self.rate_per_ms)

    def trades_until(self, end_ms: int, ids: dict[str, int], out: list[TradeT]) -> None:
        """Append this stream's trades with ts < end_ms."""
        rng = self.rng
        spec = self.spec
        while self.next_at < end_ms:
            ts = int(self.next_at)
            self.next_at += rng.expovariate(self.rate_per_ms)
            remaining = self.volume * (self.minute_end - ts) / MINUTE_MS
            wanted = (self.target - self.realized) / max(remaining, 3.0 * self.mean_value)
            wanted = max(-MAX_CORRECTION, min(MAX_CORRECTION, wanted))
            is_buy = rng.random() * 2.0 - 1.0 < wanted
            value = min(MAX_TRADE, self.mean_value * rng.lognormvariate(-(SIZE_SIGMA**2) / 2, SIZE_SIGMA))
            price = self.walk.quote(self.exchange, is_buy, rng.random())
            amount = round(value / price, spec.amount_decimals) or 10.0**-spec.amount_decimals
            self.realized += price * amount if is_buy else -price * amount
            ids[self.exchange] += 1
            out.append(
                self.make(
                    self.exchange, spec.symbol, ts, "buy" if is_buy else "sell", price, amount, str(ids[self.exchange])
                )
            )

    def whale(self, ts: int, value: float, is_buy: bool, fills: int, ids: dict[str, int], out: list[TradeT]) -> None:
        """One taker order swept through `fills` price levels: same ts, same side, consecutive ids."""
        weights = [self.rng.random() + 0.3 for _ in range(fills)]
        total = sum(weights)
        for level, weight in enumerate(weights):
            price = self.walk.quote(self.exchange, is_buy, 1.0 + level)
            amount = (
                round(value * weight / total / price, self.spec.amount_decimals) or 10.0**-self.spec.amount_decimals
            )
            self.realized += price * amount if is_buy else -price * amount
            ids[self.exchange] += 1
            out.append(
                self.make(
                    self.exchange,
                    self.spec.symbol,
                    ts,
                    "buy" if is_buy else "sell",
                    price,
                    amount,
                    str(ids[self.exchange]),
                )
            )


class WhaleDesk:
    """When, where and how big the whale orders are. The first minute always holds two of them,
    one of at least 550k, so a fresh demo shows whales (and whale alerts) right away."""

    def __init__(self, streams: Sequence[Stream[Trade]], start_ms: int, rng: random.Random) -> None:
        self.rng = rng
        self.streams = [s for s in streams if s.spec.whales and s.base_volume >= WHALE_STREAM_MIN_VOLUME]
        self.weights = [s.base_volume for s in self.streams]
        biggest = sorted(self.streams, key=lambda s: (s.exchange != "binance", -s.base_volume))
        self.queue: list[tuple[int, Stream[Trade], float]] = []
        if biggest:
            self.queue.append((start_ms + rng.randint(3_000, 12_000), biggest[0], rng.uniform(550_000, 1_500_000)))
            second = biggest[min(len(biggest) - 1, rng.randint(1, 4))]
            self.queue.append((start_ms + rng.randint(20_000, 45_000), second, rng.uniform(210_000, 450_000)))
        self.next_random = start_ms + rng.expovariate(WHALES_PER_MINUTE / MINUTE_MS)

    def due(self, end_ms: int) -> list[tuple[int, Stream[Trade], float]]:
        """Whales with ts < end_ms, in time order."""
        while self.streams and self.next_random < end_ms:
            stream = self.rng.choices(self.streams, self.weights)[0]
            value = WHALE_MIN * self.rng.paretovariate(1.2)
            self.queue.append((int(self.next_random), stream, value))
            self.next_random += self.rng.expovariate(WHALES_PER_MINUTE / MINUTE_MS)
        due = sorted((w for w in self.queue if w[0] < end_ms), key=lambda w: w[0])
        self.queue = [w for w in self.queue if w[0] >= end_ms]
        return due

    def place(self, ts: int, stream: Stream[Trade], value: float, ids: dict[str, int], out: list[Trade]) -> None:
        value = max(WHALE_MIN * 1.01, min(value, WHALE_MAX, 0.5 * stream.volume))
        lean = stream.target / stream.volume if stream.volume else 0.0
        is_buy = self.rng.random() < 0.5 + max(-0.35, min(0.35, 3.0 * lean))  # whales mostly follow the regime
        fills = self.rng.choice((1, 2, 2, 3, 4, 6))
        stream.whale(ts, value, is_buy, fills, ids, out)


def _rates(trades_per_second: float, specs: Sequence[SymbolSpec]) -> dict[StreamKey, float]:
    """Trades per second per stream: larger markets trade more often, but less than in proportion
    to their volume (small caps have smaller trades, not only fewer)."""
    weights = {
        StreamKey(spec.symbol, exchange): spec.volume_per_minute**0.6 * share
        for spec in specs
        for exchange, share in spec.shares.items()
    }
    total = sum(weights.values())
    return {key: trades_per_second * weight / total for key, weight in weights.items()}


class FlowGenerator:
    """The whole simulated market, tick by tick. Pure: data time only, no clock, no I/O."""

    def __init__(
        self,
        *,
        seed: int,
        start_ms: int,
        exchanges: Sequence[str] = EXCHANGES,
        window_minutes: int = 50,
        trades_per_second: float = 400.0,
        specs: Sequence[SymbolSpec] = SYMBOLS,
    ) -> None:
        if start_ms % MINUTE_MS:
            raise ValueError("start_ms must be on a minute boundary")
        master = random.Random(seed)
        self.start_ms = start_ms
        self.start_minute = start_ms // MINUTE_MS
        self.window_minutes = window_minutes
        self.enabled = tuple(e for e in EXCHANGES if e in exchanges)
        self.plans: dict[str, SymbolPlan] = make_plans(random.Random(master.getrandbits(64)), -window_minutes, specs)
        self.walks = {spec.symbol: PriceWalk(spec, random.Random(master.getrandbits(64))) for spec in specs}
        rates = _rates(trades_per_second, specs)
        self.streams: list[Stream[Trade]] = []
        for spec in specs:
            for exchange in EXCHANGES:  # every stream draws its seed, enabled or not: same seed, same data
                stream_rng = random.Random(master.getrandbits(64))
                if exchange in spec.shares and exchange in self.enabled:
                    key = StreamKey(spec.symbol, exchange)
                    self.streams.append(Stream(spec, exchange, rates[key], self.walks[spec.symbol], stream_rng, Trade))
        self._by_key = {StreamKey(s.spec.symbol, s.exchange): s for s in self.streams}
        self.whales = WhaleDesk(self.streams, start_ms, random.Random(master.getrandbits(64)))
        self.ids: dict[str, int] = {e: ID_BASE[e] + master.randint(0, 10_000_000) for e in EXCHANGES}
        self.minute = self.start_minute - 1  # the last minute started (streaming)
        self.backfill_mids: dict[str, list[float]] = {spec.symbol: [] for spec in specs}  # per backfill minute
        for plan in self.plans.values():
            plan.balance_backfill(window_minutes)

    def listings(self) -> dict[str, tuple[str, ...]]:
        out: dict[str, tuple[str, ...]] = {}
        for symbol, plan in self.plans.items():
            exchanges = tuple(e for e in self.enabled if e in plan.spec.shares)
            if exchanges:
                out[symbol] = exchanges
        return out

    def backfill(self) -> list[MinuteBucket]:
        """The window before start, minute by minute, as closed buckets with a close price."""
        buckets: list[MinuteBucket] = []
        for k in range(-self.window_minutes, 0):
            minute = self.start_minute + k
            for symbol, plan in self.plans.items():
                walk = self.walks[symbol]
                walk.step(self._drift(plan, k), 1.0)
                self.backfill_mids[symbol].append(walk.mid)
                for exchange, row in plan.minute(k).items():
                    if exchange not in self.enabled:
                        continue
                    stream = self._by_key[StreamKey(symbol, exchange)]
                    buckets.append(
                        MinuteBucket(
                            exchange=exchange,
                            symbol=symbol,
                            minute=minute,
                            buy=(row.volume + row.net) / 2,
                            sell=(row.volume - row.net) / 2,
                            count=max(1, round(stream.base_rate * MINUTE_MS * row.volume / stream.base_volume)),
                            close=walk.mid_on(exchange),
                        )
                    )
        return buckets

    def tick(self, tick_start: int) -> list[Trade]:
        """Every trade with tick_start <= ts < tick_start + TICK_MS, ts non-decreasing."""
        minute = tick_start // MINUTE_MS
        if minute != self.minute:
            self._start_minute(minute)
        k = minute - self.start_minute
        for symbol, plan in self.plans.items():
            self.walks[symbol].step(self._drift(plan, k), TICK_MS / MINUTE_MS)
        end = tick_start + TICK_MS
        out: list[Trade] = []
        ids = self.ids
        for stream in self.streams:
            stream.trades_until(end, ids, out)
        for ts, stream, value in self.whales.due(end):
            self.whales.place(max(ts, tick_start), stream, value, ids, out)
        out.sort(key=_ts)  # stable: a whale's fills stay together
        return out

    def spot_lean(self, symbol: str, k: int) -> float:
        """The planned imbalance (net / volume) of `symbol` on every spot book together in relative
        minute k. Only for minutes already planned (the backfill's, or streaming ones up to the
        current minute): planning ahead would draw from the plan's generator out of turn."""
        if k > self.minute - self.start_minute:
            raise ValueError(f"minute {k} is not planned yet")
        rows = self.plans[symbol].minute(k).values()
        volume = sum(row.volume for row in rows)
        return sum(row.net for row in rows) / volume if volume else 0.0

    def _start_minute(self, minute: int) -> None:
        self.minute = minute
        k = minute - self.start_minute
        for stream in self.streams:
            row = self.plans[stream.spec.symbol].minute(k)[stream.exchange]
            stream.start_minute(minute * MINUTE_MS, row.net, row.volume)

    def _drift(self, plan: SymbolPlan, k: int) -> float:
        g = plan.g(k)
        lean = sum(g[EXCHANGE_INDEX[e]] * share for e, share in plan.spec.shares.items())
        return PRICE_DRIFT * lean


def _ts(trade: Trade) -> int:
    return trade.ts
