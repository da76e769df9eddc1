"""The simulated market's cast: symbols, their listings and sizes, and the regimes their flow walks through.

Flow is planned per minute as an imbalance `g = net / volume` for each (symbol, exchange). A
regime is one `g` per exchange; a symbol's plan is a sequence of regimes. The first part of the
plan is a scripted story chosen so that the first scan (window = the simulated backfill) shows
every consensus level and every grade at once, and so that levels change within the first
minutes of streaming; after the story, regimes follow each other at random.

Nothing here does I/O or reads a clock: the same seed gives the same plan.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from gme_tui.model import EXCHANGES

GVector = tuple[float, float, float, float]  # imbalance per exchange, in EXCHANGES order


@dataclass(frozen=True)
class SymbolSpec:
    symbol: str
    price: float  # starting price (USD)
    price_decimals: int
    amount_decimals: int
    volume_per_minute: float  # traded value, all exchanges together (USD per minute)
    shares: Mapping[str, float]  # volume share per exchange that lists the symbol
    volatility: float  # standard deviation of the log price per minute
    whales: bool = False  # large enough for whale orders


def _shares(binance: float, okx: float, bybit: float, coinbase: float | None) -> dict[str, float]:
    shares = {"binance": binance, "okx": okx, "bybit": bybit}
    if coinbase is not None:  # None: not listed there, as in reality
        shares["coinbase"] = coinbase
    total = sum(shares.values())
    return {exchange: share / total for exchange, share in shares.items()}


# A busy day: BTC about $10M a minute on the four spot books together.
SYMBOLS: tuple[SymbolSpec, ...] = (
    SymbolSpec("BTC/USDT", 90_000.0, 2, 5, 10_000_000, _shares(0.45, 0.18, 0.12, 0.25), 0.0007, True),
    SymbolSpec("ETH/USDT", 3_000.0, 2, 4, 8_000_000, _shares(0.42, 0.20, 0.13, 0.25), 0.0009, True),
    SymbolSpec("SOL/USDT", 150.0, 2, 3, 2_000_000, _shares(0.40, 0.20, 0.15, 0.25), 0.0012, True),
    SymbolSpec("XRP/USDT", 2.2, 4, 1, 1_500_000, _shares(0.35, 0.15, 0.15, 0.35), 0.0012, True),
    SymbolSpec("BNB/USDT", 880.0, 2, 3, 600_000, _shares(0.60, 0.25, 0.15, None), 0.0008, True),
    SymbolSpec("DOGE/USDT", 0.15, 5, 0, 1_000_000, _shares(0.40, 0.20, 0.20, 0.20), 0.0015, True),
    SymbolSpec("ADA/USDT", 0.45, 4, 1, 300_000, _shares(0.40, 0.20, 0.15, 0.25), 0.0015),
    SymbolSpec("TRX/USDT", 0.28, 5, 1, 150_000, _shares(0.50, 0.30, 0.20, None), 0.0008),
    SymbolSpec("AVAX/USDT", 14.0, 2, 2, 250_000, _shares(0.40, 0.20, 0.15, 0.25), 0.0016),
    SymbolSpec("LINK/USDT", 13.5, 3, 2, 300_000, _shares(0.38, 0.20, 0.12, 0.30), 0.0015),
    SymbolSpec("LTC/USDT", 80.0, 2, 3, 200_000, _shares(0.40, 0.20, 0.20, 0.20), 0.0012),
    SymbolSpec("SUI/USDT", 1.6, 4, 1, 500_000, _shares(0.40, 0.22, 0.18, 0.20), 0.0018),
)

EXCHANGE_INDEX: Mapping[str, int] = {exchange: i for i, exchange in enumerate(EXCHANGES)}


def listed(spec: SymbolSpec, exchange: str) -> bool:
    return exchange in spec.shares


# ---------------------------------------------------------------- regimes

# g per exchange (binance, okx, bybit, coinbase). A ratio of 1.15 is g ≈ 0.07.
TEMPLATES: Mapping[str, GVector] = {
    "sync_bull": (0.12, 0.11, 0.10, 0.11),  # strong bullish, A+
    "bull": (0.07, 0.05, 0.04, 0.03),  # strong bullish, Coinbase too weak for A+
    "sync_bear": (-0.12, -0.10, -0.11, -0.10),  # strong bearish
    "bear": (-0.06, -0.05, -0.04, -0.03),
    "trap": (0.10, 0.08, 0.03, -0.07),  # Asia buys, Coinbase sells: C
    "trap_big": (0.20, 0.15, 0.10, -0.06),  # the same with size: lean bullish on BTC/ETH
    "distribution": (-0.25, -0.20, -0.15, 0.005),  # lean bearish on BTC/ETH
    "accumulation": (-0.03, 0.02, -0.02, 0.14),  # Coinbase leads: A on the larger symbols
    "chop": (0.02, -0.025, 0.01, -0.015),
    "chop_other_way": (-0.02, 0.015, -0.01, 0.02),
}

# Next regime, by weight, once the story is told; a turn of sentiment is likelier than more of
# the same, so that windows cross thresholds and levels keep changing.
NEXT_WEIGHTS: Mapping[str, float] = {
    "sync_bull": 1.0,
    "bull": 1.5,
    "sync_bear": 1.0,
    "bear": 1.5,
    "trap": 1.0,
    "trap_big": 0.7,
    "distribution": 0.7,
    "accumulation": 1.0,
    "chop": 0.8,
    "chop_other_way": 0.8,
}
FAMILY: Mapping[str, str] = {
    "sync_bull": "up",
    "bull": "up",
    "trap": "up",
    "trap_big": "up",
    "accumulation": "up",
    "sync_bear": "down",
    "bear": "down",
    "distribution": "down",
    "chop": "flat",
    "chop_other_way": "flat",
}
TURN_PREFERENCE = 3.0  # weight multiplier for a regime of another family
REGIME_MINUTES = (8, 20)


def _flat(g: float) -> GVector:
    return (g, g, g, g)


# A story: (first minute relative to streaming start, regime). Minutes -50..-1 are the backfill.
Story = tuple[tuple[int, GVector], ...]

STORIES: Mapping[str, Story] = {
    # lean bullish + C at the first scan, turning into distribution a few minutes in
    "lean_bull": ((-60, (0.25, 0.20, 0.15, -0.05)), (3, TEMPLATES["distribution"])),
    # lean bearish, Coinbase the last buyer until it gives in: strong bearish later
    "lean_bear": ((-60, TEMPLATES["distribution"]), (5, TEMPLATES["sync_bear"])),
    # an early rally, then steady buying: A+ for the first minutes, then plain strong bullish
    "aplus_fading": ((-60, _flat(0.25)), (-40, _flat(0.06)), (14, TEMPLATES["bear"])),
    # Coinbase accumulates while Asia sells: mixed with A
    "accumulation": ((-60, TEMPLATES["accumulation"]), (8, TEMPLATES["sync_bull"])),
    # a sell-off ending: strong bearish at first, mixed a minute later
    "bear_recovering": ((-60, _flat(-0.2)), (-42, (-0.02, -0.02, 0.035, -0.02)), (10, TEMPLATES["bull"])),
    # buying that Bybit stops: strong bullish at first, mixed two minutes later
    "bull_fading": ((-60, (0.08, 0.06, 0.22, 0.05)), (-44, (0.08, 0.06, -0.02, 0.05)), (15, TEMPLATES["chop"])),
    # chop, then a rally that turns every exchange positive within minutes
    "chop_to_rally": ((-60, (0.01, -0.03, 0.01, -0.01)), (-4, _flat(0.15)), (20, TEMPLATES["trap"])),
    # Asia buys, Coinbase sells: mixed with C
    "trap": ((-60, TEMPLATES["trap"]), (-6, TEMPLATES["sync_bear"])),
    # a heavy sell-off that buyers have been reversing for a while: the bearish A+ for the first
    # minutes, then strong bearish, mixed, strong bullish
    "bear_steady": ((-60, (-0.24, -0.22, -0.23, -0.22)), (-12, _flat(0.15))),
    # buying that has just turned: A+ for a few minutes, strong bullish for longer
    "sync_bull": ((-60, TEMPLATES["sync_bull"]), (-6, TEMPLATES["sync_bear"])),
    # symbols that Coinbase does not list can only be mixed (quorum), so they just wander
    "wander": ((-60, TEMPLATES["chop"]), (-20, TEMPLATES["bull"]), (5, TEMPLATES["chop_other_way"])),
    # steady spot buying while perps are sold against it (simulator_perps.py): B once open
    # interest has grown; without Coinbase the spot side stays mixed (quorum), as for "wander"
    "hedge": ((-60, (0.11, 0.10, 0.09, 0.0)), (14, TEMPLATES["chop"])),
}

LEAN_ROLES = ("lean_bull", "lean_bear")  # need BTC/ETH size (total > 50M)
A_ROLES = ("aplus_fading", "accumulation")  # accumulation needs Coinbase > 1M: SOL/XRP size
SMALL_ROLES = ("bear_recovering", "bull_fading", "chop_to_rally", "trap", "bear_steady", "sync_bull")


def cast_roles(rng: random.Random) -> dict[str, str]:
    """Which symbol plays which story; the seed shuffles roles among symbols that can play them."""
    lean = list(LEAN_ROLES)
    a_roles = list(A_ROLES)
    small = list(SMALL_ROLES)
    rng.shuffle(lean)
    rng.shuffle(a_roles)
    rng.shuffle(small)
    roles = dict(zip(("BTC/USDT", "ETH/USDT"), lean))
    roles.update(zip(("SOL/USDT", "XRP/USDT"), a_roles))
    roles.update(zip(("DOGE/USDT", "ADA/USDT", "AVAX/USDT", "LINK/USDT", "LTC/USDT", "SUI/USDT"), small))
    roles["BNB/USDT"] = "hedge"  # fixed, no draw: the other roles stay as they were for a seed
    for spec in SYMBOLS:
        roles.setdefault(spec.symbol, "wander")
    return roles


@dataclass(frozen=True)
class MinutePlan:
    """What one (symbol, exchange) should trade in one minute."""

    net: float  # taker buy minus taker sell value
    volume: float  # taker buy plus taker sell value


NET_NOISE = 0.03  # per-minute noise on g
VOLUME_NOISE = 0.2  # log-normal per-minute noise on volume, per symbol
MAX_IMBALANCE = 0.8  # |net| <= 0.8 volume: someone always takes the other side
RAMP_MINUTES = 2  # random regimes blend in over a couple of minutes
BACKFILL_JITTER = 0.06  # the backfill's window sums land within 6 % of the story's


class SymbolPlan:
    """The per-minute plan of one symbol on every exchange that lists it, extended lazily."""

    def __init__(self, spec: SymbolSpec, story: Story, rng: random.Random, first_minute: int, role: str = "") -> None:
        self.spec = spec
        self.role = role  # the story's name (STORIES): the perp side plays along (simulator_perps.py)
        self._rng = rng
        self._first = first_minute  # relative minute of index 0 (the backfill's first minute)
        self._segments: list[tuple[int, GVector, int]] = [(k, g, 0) for k, g in story]
        self._story_end = story[-1][0] + rng.randint(12, 25)
        self._last_name = ""
        self._minutes: list[dict[str, MinutePlan]] = []
        self._base = {e: spec.volume_per_minute * share for e, share in spec.shares.items()}

    def minute(self, k: int) -> dict[str, MinutePlan]:
        """The plan of relative minute k (0 = the first streaming minute)."""
        while len(self._minutes) <= k - self._first:
            self._minutes.append(self._draw(self._first + len(self._minutes)))
        return self._minutes[k - self._first]

    def g(self, k: int) -> GVector:
        """The regime's imbalance at relative minute k, ramps included, before noise."""
        self._extend_segments(k)
        # the first segment also holds before its start (a window longer than the story's past)
        index = max((i for i, segment in enumerate(self._segments) if segment[0] <= k), default=0)
        start, target, ramp = self._segments[index]
        if ramp and index > 0 and k < start + ramp:
            before = self._segments[index - 1][1]
            weight = (k - start + 1) / (ramp + 1)
            return _blend(before, target, weight)
        return target

    def balance_backfill(self, minutes: int) -> None:
        """Tame the noise over the backfill's window: its nets sum to the plan and its volumes to
        the nominal total, each within a few percent (round figures would look fake). Signs and
        margins then stay as the story wants, so the first scan shows it whatever the seed."""
        rows = [self.minute(self._first + i) for i in range(minutes)]
        for exchange, base in self._base.items():
            index = EXCHANGE_INDEX[exchange]
            planned = sum(base * self.g(self._first + i)[index] for i in range(minutes))
            planned *= self._rng.uniform(1 - BACKFILL_JITTER, 1 + BACKFILL_JITTER)
            drift = (sum(row[exchange].net for row in rows) - planned) / minutes
            volume = sum(row[exchange].volume for row in rows)
            scale = base * minutes * self._rng.uniform(1 - BACKFILL_JITTER, 1 + BACKFILL_JITTER) / volume
            for row in rows:
                plan = row[exchange]
                net = plan.net - drift
                row[exchange] = MinutePlan(net, max(plan.volume * scale, abs(net) / MAX_IMBALANCE))

    def _draw(self, k: int) -> dict[str, MinutePlan]:
        g = self.g(k)
        rng = self._rng
        symbol_factor = rng.lognormvariate(-(VOLUME_NOISE**2) / 2, VOLUME_NOISE)
        plans: dict[str, MinutePlan] = {}
        for exchange in EXCHANGES:  # every exchange draws, listed or not: same seed, same plan
            noise = rng.gauss(0.0, NET_NOISE)
            factor = symbol_factor * rng.lognormvariate(-0.005, 0.1)
            base = self._base.get(exchange)
            if base is None:
                continue
            net = base * (g[EXCHANGE_INDEX[exchange]] + noise)
            plans[exchange] = MinutePlan(net, max(base * factor, abs(net) / MAX_IMBALANCE))
        return plans

    def _extend_segments(self, k: int) -> None:
        while k >= self._story_end:
            family = FAMILY.get(self._last_name, "flat")
            names = [n for n in NEXT_WEIGHTS if n != self._last_name]
            weights = [NEXT_WEIGHTS[n] * (TURN_PREFERENCE if FAMILY[n] != family else 1.0) for n in names]
            name = self._rng.choices(names, weights)[0]
            scale = self._rng.uniform(0.8, 1.25)
            a, b, c, d = (round(v * scale, 4) for v in TEMPLATES[name])
            self._segments.append((self._story_end, (a, b, c, d), RAMP_MINUTES))
            self._last_name = name
            self._story_end += self._rng.randint(*REGIME_MINUTES)


def _blend(before: GVector, target: GVector, weight: float) -> GVector:
    """The point `weight` (0..1) of the way from `before` to `target`."""
    a, b, c, d = (x + (y - x) * weight for x, y in zip(before, target))
    return (a, b, c, d)


def make_plans(rng: random.Random, first_minute: int, specs: Sequence[SymbolSpec] = SYMBOLS) -> dict[str, SymbolPlan]:
    roles = cast_roles(random.Random(rng.getrandbits(64)))
    return {
        spec.symbol: SymbolPlan(
            spec, STORIES[roles[spec.symbol]], random.Random(rng.getrandbits(64)), first_minute, roles[spec.symbol]
        )
        for spec in specs
    }
