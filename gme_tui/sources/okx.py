"""OKX spot over ccxt: the public `trades` channel (one message per taker order and price, volume
complete; `side` is the taker side). A short range (a partial or
gap minute after a reconnect) is first read from `/api/v5/market/trades` (the newest 500, 100
requests / 2 s: one cheap request); a longer one, or one older than those 500, pages
`/api/v5/market/history-trades` back by trade id (100 per page; 10 requests / 2 s, which ccxt's
rate limiter keeps to)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Protocol, cast

import ccxt.async_support
import ccxt.pro

from gme_tui.model import MINUTE_MS
from gme_tui.sources.ccxt_common import CcxtMarket, ExchangeAdapter, History, RestClient, Row
from gme_tui.sources.history import MinuteSums

_UNKNOWN_INSTRUMENT = re.compile(r"instId:([A-Za-z0-9-]+)")
PAGE = 100  # history-trades
RECENT = 500  # market/trades
RECENT_FIRST_MINUTES = 2  # ranges this short try market/trades first
HistoryTrade = dict[str, str]  # {"instId", "tradeId", "px", "sz", "side", "ts"}: every value a string


class _OkxRest(Protocol):
    """ccxt's implicit OKX endpoint we call (GET /api/v5/market/history-trades)."""

    async def publicGetMarketHistoryTrades(self, params: Mapping[str, str]) -> dict[str, list[HistoryTrade]]: ...

    async def publicGetMarketTrades(self, params: Mapping[str, str]) -> dict[str, list[HistoryTrade]]: ...


class OkxAdapter(ExchangeAdapter):
    id = "okx"
    rest_class = ccxt.async_support.okx
    pro_class = ccxt.pro.okx
    default_config = {"options": {"fetchMarkets": {"types": ["spot"]}}}
    symbols_per_connection = 300  # args of one connection ≤ 64 KB (~45 bytes each)
    symbols_per_subscribe = 100  # ≤ 480 subscribe requests per hour per connection
    has_history = True

    def parse_frame(self, message: object, out: list[Row]) -> bool:
        if type(message) is not dict:
            return False
        arg = message.get("arg")
        if arg is None or arg.get("channel") not in ("trades", "trades-all") or "data" not in message:
            return False
        for d in message["data"]:
            out.append(
                (d["instId"], int(d["ts"]), d["side"] == "buy", float(d["px"]), float(d["sz"]), str(d["tradeId"]))
            )
        return True

    def rejected_markets(self, message: object) -> list[str] | None:
        # {"event":"error","code":"60018","msg":"Wrong URL or channel:trades,instId:XRP-USDT doesn't
        # exist. ..."}: one per bad arg; the request's other args are subscribed.
        if type(message) is not dict or message.get("event") != "error" or message.get("code") != "60018":
            return None
        return _UNKNOWN_INSTRUMENT.findall(str(message.get("msg", "")))

    async def fetch_latest_trade(self, rest: RestClient, market: CcxtMarket) -> tuple[str, int] | None:
        # /api/v5/market/trades, newest first: the same trade ids as the `trades` channel
        answer = await cast(_OkxRest, rest).publicGetMarketTrades({"instId": market["id"], "limit": "1"})
        rows = answer.get("data") or []
        return (str(rows[0]["tradeId"]), int(rows[0]["ts"])) if rows else None

    async def fetch_history(
        self, rest: RestClient, market: CcxtMarket, first: int, last: int, *, orders_from: int | None = None
    ) -> History:
        api = cast(_OkxRest, rest)
        sums = MinuteSums(first, last, orders_from)
        after: str | None = None
        if last - first < RECENT_FIRST_MINUTES:
            recent = (await api.publicGetMarketTrades({"instId": market["id"], "limit": str(RECENT)})).get("data")
            for d in recent or []:
                sums.add(str(d["tradeId"]), int(d["ts"]), d["side"] == "buy", float(d["px"]), float(d["sz"]))
            if not recent or len(recent) < RECENT or int(recent[-1]["ts"]) < first * MINUTE_MS:
                return sums.history()  # the newest trades reach back past the range: it is complete
            after = str(recent[-1]["tradeId"])
        while True:
            request = {"instId": market["id"], "type": "1", "limit": str(PAGE)}
            if after is not None:
                request["after"] = after
            page = (await api.publicGetMarketHistoryTrades(request)).get("data") or []
            for d in page:
                sums.add(str(d["tradeId"]), int(d["ts"]), d["side"] == "buy", float(d["px"]), float(d["sz"]))
            if len(page) < PAGE or int(page[-1]["ts"]) < first * MINUTE_MS:
                return sums.history()
            after = str(page[-1]["tradeId"])


ADAPTER = OkxAdapter()
