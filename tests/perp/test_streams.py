"""The perp streams end to end on a REAL hooked ccxt.pro client against the fake venues: what each
adapter subscribes (trades, and the liquidation feed), and the frames reaching the session's
sink in canonical units, with ccxt's own parsers skipped (SPEC §4b)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from gme_tui.sources.ccxt_common import Row, ccxt_config
from gme_tui.sources.perp.binance_usdm import ADAPTER as BINANCE
from gme_tui.sources.perp.bybit_linear import ADAPTER as BYBIT
from gme_tui.sources.perp.common import LiquidationRow, PerpAdapter, PerpMarket, map_perp_markets
from gme_tui.sources.perp.okx_swap import ADAPTER as OKX
from tests.fakes.perp_exchange import FakePerpExchange
from tests.perp.conftest import fixture

NOW = 29_425_570 * 60_000


class Sink:
    def __init__(self, fake: FakePerpExchange) -> None:
        self.fake = fake
        self.rows: list[Row] = []
        self.liquidations: list[LiquidationRow] = []
        self.bad: list[str] = []

    def on_frame(self) -> None:
        pass

    def on_rows(self, rows: list[Row]) -> None:
        self.rows.extend(rows)
        self.fake.changed()

    def on_bad_frame(self, why: str) -> None:
        self.bad.append(why)
        self.fake.changed()

    def on_liquidations(self, rows: list[LiquidationRow]) -> None:
        self.liquidations.extend(rows)
        self.fake.changed()

    def on_rejected(self, market_ids: list[str], connection: object) -> None:
        self.bad.append(f"rejected {market_ids}")
        self.fake.changed()


@pytest.fixture
async def fake() -> AsyncIterator[FakePerpExchange]:
    server = await FakePerpExchange(NOW).start()
    try:
        yield server
    finally:
        await server.stop()


async def stream(
    fake: FakePerpExchange,
    adapter: PerpAdapter,
    markets_file: str,
    canonical: list[str],
    subscribed: Any,
    frames: list[Any],
    extra: list[PerpMarket] = (),  # type: ignore[assignment]
) -> Sink:
    """Subscribe `canonical`'s trades and liquidations, wait until `subscribed(messages)`, push
    `frames`, and return the sink once it holds a trade and a liquidation."""
    recorded = fixture(markets_file)
    markets = list(map_perp_markets(canonical, recorded).values()) + list(extra)
    bound = adapter.bind(markets)
    sink = Sink(fake)
    ws = bound.ws_client(ccxt_config(bound, fake.ccxt_settings(adapter.id), ""), sink)
    ws.set_markets(list(recorded.values()))  # type: ignore[attr-defined]  # ccxt's offline markets
    tasks = [
        asyncio.create_task(bound.watch(ws, [m.ccxt_symbol for m in markets if m not in extra])),
        asyncio.create_task(bound.watch_liquidations(ws, markets)),
    ]
    try:
        await fake.wait_for(lambda: subscribed(fake.subscriptions(adapter.id)))
        for frame in frames:
            assert await fake.send(adapter.id, frame) >= 1
        await fake.wait_for(lambda: bool(sink.rows) and bool(sink.liquidations))
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await ws.close()
    assert all(not task.done() or task.cancelled() for task in tasks)  # no watch ended with an error
    return sink


async def test_binance_usdm_aggtrades_and_the_all_market_liquidation_stream(fake: FakePerpExchange) -> None:
    def subscribed(messages: list[dict]) -> bool:
        params = {p for m in messages for p in m["params"]}
        return {"btcusdt@aggTrade", "ethusdt@aggTrade", "!forceOrder@arr"} <= params

    frames = [
        {
            "e": "aggTrade",
            "E": 1,
            "s": "BTCUSDT",
            "a": 26129,
            "p": "64042.10",
            "q": "0.038",
            "f": 1,
            "l": 2,
            "T": 5,
            "m": True,
        },
        {
            "e": "forceOrder",
            "E": 1568014460893,
            "o": {
                "s": "ETHUSDT",
                "S": "SELL",
                "o": "LIMIT",
                "f": "IOC",
                "q": "2",
                "p": "3000",
                "ap": "3010",
                "X": "FILLED",
                "l": "2",
                "z": "2",
                "T": 1568014460893,
            },
        },
    ]
    sink = await stream(fake, BINANCE, "binance.markets.json", ["BTC/USDT", "ETH/USDT"], subscribed, frames)
    assert sink.rows[0] == ("BTCUSDT", 5, False, 64_042.1, 0.038, "26129")
    assert sink.liquidations[0] == ("ETHUSDT", 1568014460893, "long", 3010.0, 2.0)
    assert {c.path.rsplit("/", 1)[0] for c in fake.opened} == {"/market/ws"}  # ccxt's USDⓈ-M "market" category
    assert sink.bad == []


async def test_okx_swap_trades_in_contracts_and_one_liquidation_subscription(fake: FakePerpExchange) -> None:
    def subscribed(messages: list[dict]) -> bool:
        args = [a for m in messages for a in m["args"]]
        return {"channel": "liquidation-orders", "instType": "SWAP"} in args and len(args) >= 3

    frames = [
        {
            "arg": {"channel": "trades", "instId": "BTC-USDT-SWAP"},
            "data": [
                {
                    "instId": "BTC-USDT-SWAP",
                    "tradeId": "2832749635",
                    "px": "63913.5",
                    "sz": "1",
                    "side": "buy",
                    "ts": "1786540435948",
                    "count": "1",
                }
            ],
        },
        {
            "arg": {"channel": "liquidation-orders", "instType": "SWAP"},
            "data": [
                {
                    "instId": "ETH-USDT-SWAP",
                    "instType": "SWAP",
                    "details": [
                        {
                            "side": "buy",
                            "posSide": "short",
                            "bkPx": "3000",
                            "sz": "20",
                            "ts": "1786540435000",
                            "bkLoss": "0",
                            "ccy": "",
                        }
                    ],
                }
            ],
        },
    ]
    sink = await stream(fake, OKX, "okx.markets.json", ["BTC/USDT", "ETH/USDT"], subscribed, frames)
    trade_args = [a for m in fake.subscriptions("okx") for a in m["args"] if a.get("channel") == "trades"]
    assert sorted(a["instId"] for a in trade_args) == ["BTC-USDT-SWAP", "ETH-USDT-SWAP"]
    ((market_id, _ts, bought, price, amount, _id),) = sink.rows
    assert (market_id, bought, price, amount) == ("BTC-USDT-SWAP", True, 63_913.5, 0.01)
    assert price * amount == 639.135
    assert sink.liquidations == [("ETH-USDT-SWAP", 1786540435000, "short", 3000.0, 2.0)]  # 20 × 0.1 ETH
    assert [c.path for c in fake.opened] == ["/ws/v5/public"]


async def test_bybit_linear_liquidations_subscribe_ten_topics_at_most(fake: FakePerpExchange) -> None:
    canonical = ["BTC/USDT", "ETH/USDT", "LTC/USDT", "ADA/USDT", "XRP/USDT", "DOGE/USDT", "TRX/USDT", "ZRX/USDT"]
    extra = [PerpMarket(f"X{i}/USDT", f"X{i}/USDT:USDT", f"X{i}USDT", 1.0) for i in range(4)]  # 12 in all

    def subscribed(messages: list[dict]) -> bool:
        topics = [t for m in messages for t in m["args"]]
        return sum(t.startswith("allLiquidation.") for t in topics) == 12 and any(
            t.startswith("publicTrade.") for t in topics
        )

    frames = [
        {
            "topic": "publicTrade.BTCUSDT",
            "type": "snapshot",
            "ts": 1,
            "data": [
                {
                    "T": 1786540363843,
                    "s": "BTCUSDT",
                    "S": "Buy",
                    "v": "0.015",
                    "p": "63976.10",
                    "L": "ZeroPlusTick",
                    "i": "e799",
                    "BT": False,
                }
            ],
        },
        {
            "topic": "allLiquidation.X2USDT",
            "type": "snapshot",
            "ts": 2,
            "data": [{"T": 1739502302929, "s": "X2USDT", "S": "Buy", "v": "20000", "p": "0.04499"}],
        },
    ]
    sink = await stream(fake, BYBIT, "bybit.markets.json", canonical, subscribed, frames, extra)
    liquidation_requests = [m for m in fake.subscriptions("bybit") if m["args"][0].startswith("allLiquidation.")]
    assert sorted(len(m["args"]) for m in liquidation_requests) == [2, 10]
    assert fake.violations == []
    assert sink.rows == [("BTCUSDT", 1786540363843, True, 63_976.1, 0.015, "e799")]
    assert sink.liquidations == [("X2USDT", 1739502302929, "long", 0.04499, 20_000.0)]
