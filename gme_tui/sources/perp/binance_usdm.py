"""Binance USDⓈ-M perpetuals over ccxt (`binanceusdm`), SPEC §4b.

- Trades: the `aggTrade` stream, as on spot (one message per taker order and price; `m` = buyer is
  maker, so the taker sold when it is true); `trade` frames are read too. `q` is in the listing's
  base (contract size 1); a `1000X` listing's factor is applied on binding.
- Liquidations: the all-market stream `!forceOrder@arr` (one socket for every symbol). `S` is the
  liquidation ORDER's side: a SELL closes a long. Binance pushes at most one liquidation per
  symbol per second (the latest), so totals are samples. Value: `ap` (average price) × `z`
  (filled quantity), falling back to `p` × `q` when nothing is filled yet.
- Open interest: `GET /fapi/v1/openInterest` per symbol (no batch endpoint), weight 1 each: 600
  symbols polled each minute cost 600 of the IP's 2,400 weight per minute (exchangeInfo
  `rateLimits`). History: `GET /futures/data/openInterestHist` (period 5m, ≤ 500 rows, last 30
  days), ccxt cost 1 (Binance counts it on a limit of its own, 1000 requests / 5 min: *verify*).
- Backfill: `GET /fapi/v1/klines` 1m: [7] quote volume, [10] taker-buy quote volume, so taker sell
  = [7] − [10], as spot; weight 1 up to 99 rows, 2 to 499, 5 to 1000.
The weight used in the current minute comes back in the `X-MBX-USED-WEIGHT-1M` header.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol, cast

import ccxt
import ccxt.async_support
import ccxt.pro

from gme_tui.model import MINUTE_MS, OpenInterest
from gme_tui.sources.ccxt_common import CcxtMarket, MinuteFlow, RestClient, Row, WsClient
from gme_tui.sources.perp.common import (
    LiquidationRow,
    PerpAdapter,
    PerpMarket,
    millis,
    number,
    open_interest,
    position_of_order,
)

KlineRow = list[
    str | int
]  # as spot: [open ms, o, h, l, c, volume, close ms, quote volume, trades, tb base, tb quote, _]
OpenInterestAnswer = dict[str, str | int]  # {"openInterest": "10659.509", "symbol": "BTCUSDT", "time": ms}
OpenInterestHistRow = dict[str, str | int]  # {"symbol", "sumOpenInterest" (base), "sumOpenInterestValue", "timestamp"}
RecentTrade = dict[str, str | int | bool]  # {"id": trade id, "price", "qty", "time": ms, "isBuyerMaker", ...}
KLINE_WEIGHTS = ((99, 1), (499, 2), (1000, 5))


class _UsdmRest(Protocol):
    """ccxt's implicit USDⓈ-M endpoints we call."""

    async def fapiPublicGetOpenInterest(self, params: Mapping[str, str]) -> OpenInterestAnswer: ...

    async def fapiDataGetOpenInterestHist(self, params: Mapping[str, str | int]) -> list[OpenInterestHistRow]: ...

    async def fapiPublicGetKlines(self, params: Mapping[str, str | int]) -> list[KlineRow]: ...

    async def fapiPublicGetTrades(self, params: Mapping[str, str | int]) -> list[RecentTrade]: ...


class _UsdmWs(Protocol):
    async def watch_liquidations_for_symbols(self, symbols: list[str] | None) -> object: ...


class BinanceUsdmAdapter(PerpAdapter):
    id = "binance"
    rest_class = ccxt.async_support.binanceusdm
    pro_class = ccxt.pro.binanceusdm
    default_config = {"options": {"fetchMarkets": {"types": ["linear"]}, "watchTradesForSymbols": {"name": "aggTrade"}}}
    symbols_per_connection = 200  # ccxt's subscriptions per stream; Binance allows 1024 streams
    symbols_per_subscribe = 200
    has_history = True
    watch_params = {"name": "aggTrade"}
    oi_batch = False
    oi_weight = 1
    oi_unit = "weight"
    liquidations_sampled = True
    weight_header = "X-MBX-USED-WEIGHT-1M"

    def parse_trades(self, message: object, out: list[Row]) -> bool:
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

    def parse_raw_liquidations(self, message: object, out: list[LiquidationRow]) -> bool:
        if type(message) is not dict:
            return False
        data = message.get("data", message) if "stream" in message else message
        if type(data) is not dict or data.get("e") != "forceOrder":
            return False
        order = data["o"]
        filled = number(order.get("z", 0))
        average = number(order.get("ap", 0))
        if filled > 0 and average > 0:
            price, amount = average, filled
        else:
            price, amount = number(order["p"]), number(order["q"])
        out.append((str(order["s"]), millis(order["T"]), position_of_order(str(order["S"])), price, amount))
        return True

    async def fetch_latest_trade(self, rest: RestClient, market: CcxtMarket) -> tuple[str, int] | None:
        # /fapi/v1/trades (weight 5): trade ids, not the stream's aggTrade ids, so (as on spot)
        # the check matches it by time or by "unchanged" (liveness.streamed)
        rows = await cast(_UsdmRest, rest).fapiPublicGetTrades({"symbol": market["id"], "limit": 1})
        return (f"t{rows[-1]['id']}", int(rows[-1]["time"])) if rows else None

    async def watch_liquidations(self, ws: WsClient, markets: Sequence[PerpMarket]) -> None:
        # No symbols: ccxt subscribes the all-market stream `!forceOrder@arr` (one stream for all).
        await cast(_UsdmWs, ws).watch_liquidations_for_symbols(None)

    async def fetch_open_interest(self, rest: RestClient, markets: Sequence[PerpMarket]) -> list[OpenInterest]:
        api = cast(_UsdmRest, rest)
        out: list[OpenInterest] = []
        for market in markets:  # one weight-1 request each; ccxt's rate limiter spaces them
            try:
                answer = await api.fapiPublicGetOpenInterest({"symbol": market.id})
            except ccxt.BadSymbol:  # delisted since the markets were loaded: skip it, not the poll
                continue
            out.append(open_interest(self.id, market, millis(answer["time"]), number(answer["openInterest"])))
        return out

    async def fetch_open_interest_history(
        self, rest: RestClient, market: PerpMarket, first_ms: int, last_ms: int
    ) -> list[OpenInterest]:
        rows = await cast(_UsdmRest, rest).fapiDataGetOpenInterestHist(
            {"symbol": market.id, "period": "5m", "startTime": first_ms, "endTime": last_ms, "limit": 500}
        )
        samples = [open_interest(self.id, market, millis(r["timestamp"]), number(r["sumOpenInterest"])) for r in rows]
        return sorted((s for s in samples if first_ms <= s.ts <= last_ms), key=lambda s: s.ts)

    async def fetch_minutes(self, rest: RestClient, market: CcxtMarket, first: int, last: int) -> dict[int, MinuteFlow]:
        """Closed minutes first..last from 1m klines: quote values, so no contract size applies;
        the close is a per-base price (a `1000X` listing's close divided by its factor)."""
        api = cast(_UsdmRest, rest)
        scale = self.bound_markets.get(market["id"])
        flows: dict[int, MinuteFlow] = {}
        start = first
        while start <= last:
            rows = await api.fapiPublicGetKlines(
                {
                    "symbol": market["id"],
                    "interval": "1m",
                    "startTime": start * MINUTE_MS,
                    "endTime": last * MINUTE_MS + MINUTE_MS - 1,
                    "limit": min(1000, last - start + 1),
                }
            )
            if not rows:
                break
            for row in rows:
                minute = int(row[0]) // MINUTE_MS
                buy = float(row[10])
                close = float(row[4])
                flows[minute] = MinuteFlow(
                    buy=buy,
                    sell=float(row[7]) - buy,
                    count=int(row[8]),
                    close=scale.base_price(close) if scale is not None else close,
                )
            start = int(rows[-1][0]) // MINUTE_MS + 1
        return flows


def kline_weight(limit: int) -> int:
    """The request weight of one /fapi/v1/klines call with `limit` rows."""
    for up_to, weight in KLINE_WEIGHTS:
        if limit <= up_to:
            return weight
    return 10


ADAPTER = BinanceUsdmAdapter()
