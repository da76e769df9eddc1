"""Binance spot over ccxt: the `aggTrade` stream (one message per taker order and price, the same
ids as REST aggTrades), taker side from `m` (buyer is maker → taker sold), backfill from 1m
klines: taker-buy quote = row[10], taker-sell quote = row[7] − row[10], one request per symbol;
whales of backfilled minutes from REST aggTrades (1,000 a request, paged by id)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gme_tui.model import MINUTE_MS
from gme_tui.sources.ccxt_common import ExchangeAdapter, MinuteFlow


class BinanceAdapter(ExchangeAdapter):
    id = "binance"
    ccxt_id = "binance"
    default_config = {"options": {"fetchMarkets": {"types": ["spot"]}, "watchTradesForSymbols": {"name": "aggTrade"}}}
    symbols_per_connection = 200  # ccxt's cap per watch call; Binance allows 1024 streams
    symbols_per_subscribe = 200
    has_history = True
    has_taker_orders = True
    watch_params = {"name": "aggTrade"}
    max_aggtrade_pages = 100  # a bound on one lookup: 100,000 taker orders

    def parse_frame(self, message: Any, out: list) -> bool:
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

    async def fetch_minutes(self, rest: Any, market: Mapping[str, Any], first: int, last: int) -> dict[int, MinuteFlow]:
        flows: dict[int, MinuteFlow] = {}
        start = first
        while start <= last:
            rows = await rest.publicGetKlines(
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

    async def fetch_taker_orders(self, rest: Any, market: Mapping[str, Any], first: int, last: int) -> list[tuple]:
        end = last * MINUTE_MS + MINUTE_MS - 1
        params: dict[str, Any] = {"symbol": market["id"], "startTime": first * MINUTE_MS, "endTime": end, "limit": 1000}
        rows: list[tuple] = []
        for _ in range(self.max_aggtrade_pages):
            page = await rest.publicGetAggTrades(params)
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
