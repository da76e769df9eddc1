"""Bybit USDT linear perpetuals over ccxt (`bybit`, category linear), SPEC §4b.

- Trades: `publicTrade.<symbol>` on the linear public socket, the same frames as spot (`S` is the
  taker side); `v` is in the listing's base (linear contract size 1); a `1000X` / `X1000`
  listing's factor is applied on binding.
- Liquidations: `allLiquidation.<symbol>` (every liquidation, pushed every 500 ms), ≤ 10 topics
  per subscribe request. `S` is the POSITION side: "Buy" means a long was liquidated (unlike
  Binance and OKX, whose side is the order's). Value: `p` × `v`.
- Open interest: `GET /v5/market/tickers?category=linear`, ONE call for every linear contract
  (`openInterest` in base; the answer's `time` stamps it: the tickers carry no time of their
  own). Bybit's IP limit: 600 requests / 5 s. History: `GET /v5/market/open-interest`
  (intervalTime 5min, ≤ 200 rows, newest first).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Protocol, cast

import ccxt.async_support
import ccxt.pro

from gme_tui.model import OpenInterest, PositionSide
from gme_tui.sources import bybit as spot
from gme_tui.sources.ccxt_common import CcxtMarket, RestClient, Row, WsClient, chunks
from gme_tui.sources.perp.common import LiquidationRow, PerpAdapter, PerpMarket, millis, number, open_interest

Ticker = dict[str, str]  # {"symbol", "lastPrice", "openInterest" (base), "openInterestValue", ...}
OiRow = dict[str, str]  # {"openInterest" (base), "timestamp" (ms)}
_POSITION: Mapping[str, PositionSide] = {"Buy": "long", "Sell": "short"}


class _BybitRest(Protocol):
    """ccxt's implicit Bybit endpoints we call."""

    async def publicGetV5MarketTickers(self, params: Mapping[str, str]) -> dict[str, object]: ...

    async def publicGetV5MarketOpenInterest(self, params: Mapping[str, str | int]) -> dict[str, object]: ...

    async def publicGetV5MarketRecentTrade(
        self, params: Mapping[str, str | int]
    ) -> dict[str, dict[str, list[spot.RecentTrade]]]: ...


class _BybitWs(Protocol):
    """ccxt.pro bybit's subscription helpers (public methods of its class)."""

    async def get_url_by_market_type(
        self, symbol: str | None, isPrivate: bool, method: str | None, params: Mapping[str, object]
    ) -> str: ...

    async def watch_topics(
        self, url: str, messageHashes: list[str], topics: list[str], params: Mapping[str, object]
    ) -> object: ...


def position_of_bybit(side: str) -> PositionSide:
    """Bybit's allLiquidation `S`: the side of the position liquidated ("Buy": a long)."""
    position = _POSITION.get(side)
    if position is None:
        raise ValueError(f"not a Bybit position side: {side!r}")
    return position


class BybitLinearAdapter(PerpAdapter):
    id = "bybit"
    rest_class = ccxt.async_support.bybit
    pro_class = ccxt.pro.bybit
    default_config = {"options": {"fetchMarkets": {"types": ["linear"]}, "defaultType": "swap"}}
    symbols_per_connection = 200  # ≤ 21,000 characters of args per connection
    symbols_per_subscribe = 10  # ≤ 10 args per subscribe request
    has_history = False  # no public trade history beyond the last 1000 trades
    oi_batch = True
    oi_weight = 1
    oi_unit = "requests"
    liquidations_per_symbol = True  # allLiquidation.<symbol>

    def parse_trades(self, message: object, out: list[Row]) -> bool:
        if type(message) is not dict:
            return False
        topic = message.get("topic")
        if topic is None or not topic.startswith("publicTrade."):
            return False
        for d in message["data"]:
            out.append((d["s"], int(d["T"]), d["S"] == "Buy", float(d["p"]), float(d["v"]), str(d["i"])))
        return True

    def rejected_markets(self, message: object) -> list[str] | None:
        # the same whole-request refusals as spot ("Invalid symbol :[publicTrade.X]")
        return spot.ADAPTER.rejected_markets(message)

    def resubscribe(self, market_ids: list[str]) -> object | None:
        return spot.ADAPTER.resubscribe(market_ids)

    async def fetch_latest_trade(self, rest: RestClient, market: CcxtMarket) -> tuple[str, int] | None:
        # /v5/market/recent-trade?category=linear, newest first: execId is the stream's `i`
        answer = await cast(_BybitRest, rest).publicGetV5MarketRecentTrade(
            {"category": "linear", "symbol": market["id"], "limit": 1}
        )
        rows = answer.get("result", {}).get("list") or []
        return (str(rows[0]["execId"]), int(str(rows[0]["time"]))) if rows else None

    def parse_raw_liquidations(self, message: object, out: list[LiquidationRow]) -> bool:
        if type(message) is not dict:
            return False
        topic = message.get("topic")
        if type(topic) is not str or not topic.startswith("allLiquidation."):
            return False
        for d in message["data"]:
            out.append((str(d["s"]), millis(d["T"]), position_of_bybit(str(d["S"])), number(d["p"]), number(d["v"])))
        return True

    async def watch_liquidations(self, ws: WsClient, markets: Sequence[PerpMarket]) -> None:
        if not markets:
            return
        client = cast(_BybitWs, ws)
        url = await client.get_url_by_market_type(markets[0].ccxt_symbol, False, "watchLiquidations", {})
        async with asyncio.TaskGroup() as group:  # one subscribe request per 10 topics; a failure ends all
            for chunk in chunks(list(markets), self.symbols_per_subscribe):
                topics = [f"allLiquidation.{m.id}" for m in chunk]
                hashes = [f"liquidations::{m.ccxt_symbol}" for m in chunk]
                group.create_task(_watch_forever(client, url, hashes, topics))

    async def fetch_open_interest(self, rest: RestClient, markets: Sequence[PerpMarket]) -> list[OpenInterest]:
        answer = await cast(_BybitRest, rest).publicGetV5MarketTickers({"category": "linear"})
        ts = millis(answer["time"])
        result = cast(Mapping[str, list[Ticker]], answer.get("result") or {})
        wanted = {m.id: m for m in markets}
        out: list[OpenInterest] = []
        for ticker in result.get("list") or []:
            market = wanted.get(ticker["symbol"])
            if market is not None and ticker.get("openInterest"):
                out.append(open_interest(self.id, market, ts, number(ticker["openInterest"])))
        return out

    async def fetch_open_interest_history(
        self, rest: RestClient, market: PerpMarket, first_ms: int, last_ms: int
    ) -> list[OpenInterest]:
        answer = await cast(_BybitRest, rest).publicGetV5MarketOpenInterest(
            {
                "category": "linear",
                "symbol": market.id,
                "intervalTime": "5min",
                "startTime": first_ms,
                "endTime": last_ms,
                "limit": 200,
            }
        )
        result = cast(Mapping[str, list[OiRow]], answer.get("result") or {})
        samples = [
            open_interest(self.id, market, millis(r["timestamp"]), number(r["openInterest"]))
            for r in result.get("list") or []
        ]
        return sorted((s for s in samples if first_ms <= s.ts <= last_ms), key=lambda s: s.ts)


async def _watch_forever(client: _BybitWs, url: str, hashes: list[str], topics: list[str]) -> None:
    while True:  # our hook consumes the frames, so this resolves only in odd cases
        await client.watch_topics(url, hashes, topics, {})


ADAPTER = BybitLinearAdapter()
