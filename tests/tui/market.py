"""Deterministic market data and an in-memory Source for the TUI tests and snapshots.

Eight symbols shaped so that every consensus level and the A+, A and C grades appear; Bybit is
backfilled for only 12 of the 50 minutes so its coverage mark shows; whales at the last minute.
With `perps` (the TUI's default market, `make_pipeline`), perpetual minutes, open interest and
liquidations too: B holds on BTC (beside its A+) and on XRP; HBAR's OI is unknown, DOGE's has no end sample, 币安人生 has no perp;
Bybit's perp is covered 20 minutes; liquidations in the last minute (Binance's are sampled).
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Sequence
from dataclasses import replace
from pathlib import Path

from gme_tui.engine import Engine, EngineConfig
from gme_tui.model import (
    ExchangeHealth,
    HealthState,
    Liquidation,
    Listings,
    MinuteBucket,
    OpenInterest,
    SourceItem,
    SourceMode,
    Trade,
)
from gme_tui.pipeline import Pipeline
from gme_tui.settings import Settings, load_settings

START_MINUTE = 29_425_500  # 2025-12-12 07:00 UTC
WINDOW = 50
NOW_MS = (START_MINUTE + WINDOW) * 60_000 + 12_345  # fixed wall clock for snapshots

# symbol -> net per minute on (binance, okx, bybit, coinbase), volume per minute, price
SHAPES: dict[str, tuple[tuple[float, float, float, float], float, float]] = {
    "BTC/USDT": ((60_000, 50_000, 40_000, 45_000), 150_000, 42_150.0),  # strong bullish, A+
    "ETH/USDT": ((4_000, 3_000, 2_000, 90_000), 300_000, 2_280.5),  # strong bullish, A
    "SOL/USDT": ((-30_000, -20_000, -9_000, -15_000), 200_000, 98.5),  # strong bearish
    "HBAR/USDT": ((6_000, 5_000, -1_000, -8_000), 60_000, 0.1234),  # C: east buys, coinbase sells
    "DOGE/USDT": ((5_000, -6_000, 300, -200), 90_000, 0.0912),  # mixed
    "XRP/USDT": ((2_000_000, -100_000, 30_000, -50_000), 3_000_000, 2.05),  # lean bullish
    "ADA/USDT": ((-1_500_000, 200_000, -10_000, 5_000), 2_500_000, 0.41),  # lean bearish
    "币安人生/USDT": ((1_500, 2_000, 900, -700), 20_000, 0.0356),  # CJK name, mixed
}
EXCHANGE_ORDER = ("binance", "okx", "bybit", "coinbase")


def minute_net(net: float, symbol_index: int, k: int) -> float:
    """A wavy but exact-enough per-minute net around the average, so sparklines have shape."""
    wave = math.sin((k + symbol_index * 3) / 4.0)
    return net * (1.0 + 0.5 * wave)


# symbol -> perp net per minute on (binance, okx, bybit) (None: no perp there), volume per minute per
# venue, OI (start, end) in base units per venue (None: no samples; an end of None: no end sample)
PERP_SHAPES: dict[str, tuple[tuple[float | None, ...], float, tuple[tuple[float, float | None] | None, ...]]] = {
    "BTC/USDT": ((-40_000, -20_000, -10_000), 100_000, ((1_000, 1_030), (2_000, 2_040), (500, 505))),  # B
    "ETH/USDT": ((8_000, 3_000, -1_000), 80_000, ((50_000, 50_200), (40_000, 40_100), None)),
    "SOL/USDT": ((-9_000, -4_000, -2_000), 60_000, ((9_000, 8_890), (6_000, 5_940), (3_000, 2_980))),
    "HBAR/USDT": ((2_000, None, None), 20_000, (None, None, None)),  # OI unknown
    "DOGE/USDT": ((None, 1_500, -2_500), 30_000, (None, (7e6, None), (5e6, None))),  # no end sample
    "XRP/USDT": ((-400_000, -100_000, 0.0), 900_000, ((8e6, 8.2e6), (6e6, 6.1e6), (2e6, 2e6))),  # B
    "ADA/USDT": ((-30_000, 10_000, 2_000), 400_000, ((9e7, 9.07e7), (5e7, 5.05e7), (1e7, 1e7))),
}
PERP_VENUES = ("binance", "okx", "bybit")
BYBIT_PERP_MINUTES = 20
LIQUIDATIONS = [  # exchange, symbol, side (the position liquidated), price, amount
    ("binance", "BTC/USDT", "long", 42_000.0, 28.5),
    ("bybit", "BTC/USDT", "short", 42_200.0, 7.1),
    ("okx", "ETH/USDT", "long", 2_275.0, 66.0),
    ("binance", "XRP/USDT", "short", 2.06, 1_020_000.0),
    ("bybit", "SOL/USDT", "long", 98.0, 815.0),
    ("okx", "ADA/USDT", "short", 0.412, 95_000.0),
]


def perp_items(symbols: Sequence[str] = tuple(SHAPES)) -> list[SourceItem]:
    """Perpetual minutes, OI samples at both ends of the window, liquidations in its last minute."""
    listed = {
        s: tuple(v for v, net in zip(PERP_VENUES, PERP_SHAPES[s][0]) if net is not None)
        for s in symbols
        if s in PERP_SHAPES
    }
    items: list[SourceItem] = [Listings({s: v for s, v in listed.items() if v}, market="perp")]
    start_ms, end_ms = START_MINUTE * 60_000, (START_MINUTE + WINDOW) * 60_000
    for index, symbol in enumerate(symbols):
        if symbol not in PERP_SHAPES:
            continue
        nets, volume, interest = PERP_SHAPES[symbol]
        price = SHAPES[symbol][2]
        for venue, net, oi in zip(PERP_VENUES, nets, interest):
            if net is None:
                continue
            for k in range(WINDOW):
                if venue == "bybit" and k < WINDOW - BYBIT_PERP_MINUTES:
                    continue
                flow = minute_net(net, index + 1, k)
                bucket = MinuteBucket(
                    venue, symbol, START_MINUTE + k, (volume + flow) / 2, (volume - flow) / 2, 5, price, market="perp"
                )
                items.append(bucket)
            if oi is not None:
                first, last = oi
                items.append(OpenInterest(venue, symbol, start_ms - 30_000, first))
                if last is not None:
                    items.append(OpenInterest(venue, symbol, end_ms - 30_000, last))
    last_minute = end_ms - 60_000
    for n, (venue, symbol, side, price, amount) in enumerate(LIQUIDATIONS):
        if symbol in symbols:
            ts = last_minute + 2_000 * (n + 1)
            items.append(Liquidation(ts, venue, symbol, side, price, amount, price * amount))
    return items


def market_items(
    symbols: Sequence[str] = tuple(SHAPES), bybit_minutes: int = 12, *, perps: bool = False
) -> list[SourceItem]:
    items: list[SourceItem] = [Listings({s: EXCHANGE_ORDER for s in symbols})]
    for k in range(WINDOW):
        minute = START_MINUTE + k
        for index, symbol in enumerate(symbols):
            nets, volume, price = SHAPES[symbol]
            for exchange, net in zip(EXCHANGE_ORDER, nets):
                if exchange == "bybit" and k < WINDOW - bybit_minutes:
                    continue
                flow = minute_net(net, index, k)
                drift = 1 + 0.02 * k / WINDOW * (1 if sum(nets) > 0 else -1)
                items.append(
                    MinuteBucket(exchange, symbol, minute, (volume + flow) / 2, (volume - flow) / 2, 10, price * drift)
                )
    last = (START_MINUTE + WINDOW - 1) * 60_000
    whales = [
        ("binance", "BTC/USDT", "buy", 42_150.0, 12.4),
        ("coinbase", "ETH/USDT", "sell", 2_280.0, 548.0),
        ("okx", "SOL/USDT", "buy", 98.5, 3_105.0),
        ("bybit", "XRP/USDT", "sell", 2.05, 1_300_000.0),
        ("binance", "币安人生/USDT", "buy", 0.0356, 7_000_000.0),
    ]
    for n, (exchange, symbol, side, price, amount) in enumerate(whales):
        if symbol in symbols:
            items.append(Trade(exchange, symbol, last + 1_000 * (n + 1), side, price, amount, f"w{n}"))
    if perps:
        items[1:1] = perp_items(symbols)  # before the spot minutes: data time must not pass them
    return items


class MemorySource:
    """A Source that yields predefined batches, then ends (like a replay)."""

    def __init__(self, batches: Sequence[Sequence[SourceItem]], mode: SourceMode = SourceMode.REPLAY) -> None:
        self.mode = mode
        self._batches = list(batches)
        self.closed = False
        self.state = HealthState.REPLAY

    async def batches(self) -> AsyncIterator[Sequence[SourceItem]]:
        for batch in self._batches:
            yield batch

    def health(self) -> list[ExchangeHealth]:
        return [
            ExchangeHealth(name, self.state, NOW_MS - 60_000, NOW_MS - 400, 120.0 + 10 * i, 0, "", 0, 0)
            for i, name in enumerate(EXCHANGE_ORDER)
        ]

    async def close(self) -> None:
        self.closed = True


def settings_file(tmp_path: Path, text: str = "") -> Settings:
    """Settings loaded from a real file in tmp_path (so saving has somewhere to go), UTC clock."""
    path = tmp_path / "settings.toml"
    path.write_text(
        text or '# my settings\nlanguage = "en"  # labels\ntimezone = "UTC"\n\n[ui]\nrefresh_ms = 100\n', "utf-8"
    )
    return load_settings(path)


def make_pipeline(
    settings: Settings, items: Sequence[SourceItem] | None = None, *, track_coverage: bool = True
) -> Pipeline:
    config = replace(EngineConfig.from_settings(settings, live=False), track_coverage=track_coverage)
    source = MemorySource([market_items(perps=True) if items is None else items])
    return Pipeline(source, Engine(config))


async def settle(app, pilot) -> None:
    """Wait for the in-memory replay to end (its last health update included), then run one UI
    tick and let the screen catch up."""
    while not app._started:
        await pilot.pause()
    await app.workers.wait_for_complete()
    app.tick()
    await pilot.pause()
