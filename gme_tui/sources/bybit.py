"""Bybit spot over ccxt: `publicTrade.<symbol>`, `S` is documented as the taker side. Bybit has no
public spot history deeper than 60 trades, so there is no backfill: coverage grows from start."""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping
from typing import Protocol, cast

import ccxt.async_support
import ccxt.pro

from gme_tui.sources.ccxt_common import CcxtMarket, ExchangeAdapter, RestClient, Row

RecentTrade = dict[
    str, str | bool
]  # {"execId": the stream's "i", "time": ms as a string, "price", "size", "side", ...}


_INVALID_TOPIC = re.compile(r"publicTrade\.([A-Za-z0-9]+)")
_REQ_IDS = itertools.count(1)


class _BybitRest(Protocol):
    """ccxt's implicit Bybit endpoint we call (GET /v5/market/recent-trade)."""

    async def publicGetV5MarketRecentTrade(
        self, params: Mapping[str, str | int]
    ) -> dict[str, dict[str, list[RecentTrade]]]: ...


class BybitAdapter(ExchangeAdapter):
    id = "bybit"
    rest_class = ccxt.async_support.bybit
    pro_class = ccxt.pro.bybit
    default_config = {"options": {"fetchMarkets": {"types": ["spot"]}}}
    symbols_per_connection = 200  # ≤ 21,000 characters of args per connection
    symbols_per_subscribe = 10  # ≤ 10 args per subscribe request
    has_history = False

    def rejected_markets(self, message: object) -> list[str] | None:
        # {"success":false,"ret_msg":"Invalid symbol :[publicTrade.XRPUSDT]","op":"subscribe",...}:
        # Bybit refuses the whole request, so the others of it are subscribed again (resubscribe).
        if type(message) is not dict or message.get("op") != "subscribe" or message.get("success") is not False:
            return None
        return _INVALID_TOPIC.findall(str(message.get("ret_msg", "")))

    def resubscribe(self, market_ids: list[str]) -> object | None:
        args = [f"publicTrade.{market_id}" for market_id in market_ids]
        return {"op": "subscribe", "req_id": f"gme-{next(_REQ_IDS)}", "args": args} if args else None

    async def fetch_latest_trade(self, rest: RestClient, market: CcxtMarket) -> tuple[str, int] | None:
        # /v5/market/recent-trade, newest first: execId is the stream's trade id `i`
        answer = await cast(_BybitRest, rest).publicGetV5MarketRecentTrade(
            {"category": "spot", "symbol": market["id"], "limit": 1}
        )
        rows = answer.get("result", {}).get("list") or []
        return (str(rows[0]["execId"]), int(str(rows[0]["time"]))) if rows else None

    def parse_frame(self, message: object, out: list[Row]) -> bool:
        if type(message) is not dict:
            return False
        topic = message.get("topic")
        if topic is None or not topic.startswith("publicTrade."):
            return False
        for d in message["data"]:
            out.append((d["s"], int(d["T"]), d["S"] == "Buy", float(d["p"]), float(d["v"]), str(d["i"])))
        return True


ADAPTER = BybitAdapter()
