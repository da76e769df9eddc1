"""Binance spot over ccxt: the `aggTrade` stream (one message per taker order and price, the same
ids as REST aggTrades), taker side from `m` (buyer is maker → taker sold), backfill from 1m
klines: taker-buy quote = row[10], taker-sell quote = row[7] − row[10], one request per symbol;
whales of backfilled minutes from REST aggTrades (1,000 a request, paged by id)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol, cast

import ccxt.async_support
import ccxt.pro

from gme_tui.model import MINUTE_MS
from gme_tui.sources.ccxt_common import CcxtMarket, ExchangeAdapter, MinuteFlow, RestClient, Row, TakerOrder

KlineRow = list[
    str | int
]  # [open ms, open, high, low, close, volume, close ms, quote volume, trades, taker-buy base, taker-buy quote, _]
AggTrade = dict[str, str | int | bool]  # {"a": id, "p": price, "q": amount, "T": ms, "m": buyer is maker, ...}
RecentTrade = dict[str, str | int | bool]  # {"id": trade id, "price", "qty", "time": ms, "isBuyerMaker", ...}


class _BinanceRest(Protocol):
    """ccxt's implicit Binance endpoints we call (GET /api/v3/klines, /api/v3/aggTrades)."""

    async def publicGetKlines(self, params: Mapping[str, str | int]) -> list[KlineRow]: ...

    async def publicGetAggTrades(self, params: Mapping[str, str | int]) -> list[AggTrade]: ...

    async def publicGetTrades(self, params: Mapping[str, str | int]) -> list[RecentTrade]: ...


class BinanceAdapter(ExchangeAdapter):
    id = "binance"
    rest_class = ccxt.async_support.binance
    pro_class = ccxt.pro.binance
    default_config = {"options": {"fetchMarkets": {"types": ["spot"]}, "watchTradesForSymbols": {"name": "aggTrade"}}}
    symbols_per_connection = 200  # ccxt's cap per watch call; Binance allows 1024 streams
    symbols_per_subscribe = 200
    has_history = True
    has_taker_orders = True
    watch_params = {"name": "aggTrade"}
    max_aggtrade_pages = 100  # a bound on one lookup: 100,000 taker orders

    def parse_frame(self, message: object, out: list[Row]) -> bool:
        if type(message) is not dict:
            return False
        data = message.get("data", message) if "stream" in message else message
        event = data.get("e")
        if event == "aggTrade":
            out.append((data["s"], int(data["T"]), not data["m"], float(data["p"]), float(data["q"]), str(data["a"])))
            return True
        if event == "trade":
            out.append((data["s"], int(data["T"]), not data["m"], float(data["p"]), float(data["q"]), str(data["t"])))
            return True
        return False

    async def fetch_latest_trade(self, rest: RestClient, market: CcxtMarket) -> tuple[str, int] | None:
        # /api/v3/trades (weight 25): its ids are trade ids, not the stream's aggTrade ids, so the
        # check matches it by time (liveness.streamed: a later minute) or by "unchanged".
        rows = await cast(_BinanceRest, rest).publicGetTrades({"symbol": market["id"], "limit": 1})
        return (f"t{rows[-1]['id']}", int(rows[-1]["time"])) if rows else None

    async def fetch_minutes(self, rest: RestClient, market: CcxtMarket, first: int, last: int) -> dict[int, MinuteFlow]:
        # klines carry no orders: whales come from fetch_taker_orders (aggTrades), after the windows
        api = cast(_BinanceRest, rest)
        flows: dict[int, MinuteFlow] = {}
        start = first
        while start <= last:
            rows = await api.publicGetKlines(
                {
                    "symbol": market["id"],
                    "interval": "1m",
                    "startTime": start * MINUTE_MS,
                    "endTime": last * MINUTE_MS + MINUTE_MS - 1,
                    "limit": 1000,
                }
            )
            if not rows:
                break
            for row in rows:
                minute = int(row[0]) // MINUTE_MS
                buy = float(row[10])
                flows[minute] = MinuteFlow(buy=buy, sell=float(row[7]) - buy, count=int(row[8]), close=float(row[4]))
            start = int(rows[-1][0]) // MINUTE_MS + 1
        return flows

    async def fetch_taker_orders(self, rest: RestClient, market: CcxtMarket, first: int, last: int) -> list[TakerOrder]:
        api = cast(_BinanceRest, rest)
        end = last * MINUTE_MS + MINUTE_MS - 1
        params: dict[str, str | int] = {
            "symbol": market["id"],
            "startTime": first * MINUTE_MS,
            "endTime": end,
            "limit": 1000,
        }
        rows: list[TakerOrder] = []
        for _ in range(self.max_aggtrade_pages):
            page = await api.publicGetAggTrades(params)
            for item in page:
                ts = int(item["T"])
                if ts > end:
                    return rows
                rows.append((ts, not item["m"], float(item["p"]), float(item["q"]), str(item["a"])))
            if len(page) < 1000:
                return rows
            # Later pages by id: Binance does not take fromId together with a time range.
            params = {"symbol": market["id"], "fromId": int(page[-1]["a"]) + 1, "limit": 1000}
        return rows


ADAPTER = BinanceAdapter()
