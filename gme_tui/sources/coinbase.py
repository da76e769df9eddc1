"""Coinbase over ccxt's `coinbaseexchange` (the Coinbase Exchange API), not Advanced Trade.

Why: its `matches` channel and `/products/{id}/trades` are public without keys, and its side is
DOCUMENTED (the maker's side: "sell" = an up-tick, a taker buy), while Advanced Trade's
`market_trades` side is undocumented. So the raw `side` is inverted here, on the stream and in
the backfill. We read `match` frames ourselves: ccxt 4.5.90's watch_trades_for_symbols never
resolves for coinbaseexchange. `last_match` (the trade before we subscribed) is ignored.
Backfill pages the product's trades back with the `after` cursor (≤ 1000 per page, ccxt's rate
limiter keeps to 10 requests/s). Canonical BASE/USDT maps to BASE/USD by default (SPEC §2).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Protocol, cast

import ccxt.async_support
import ccxt.pro

from gme_tui.model import MINUTE_MS
from gme_tui.sources.ccxt_common import CcxtMarket, ExchangeAdapter, History, RestClient, Row, response_header
from gme_tui.sources.history import MinuteSums

_NOT_A_PRODUCT = re.compile(r"([A-Za-z0-9]+-[A-Za-z0-9]+) is not a valid product")
PAGE = 1000
HistoryTrade = dict[str, str | int]  # {"trade_id": int, "side": maker side, "size", "price", "time": ISO 8601}


class _CoinbaseRest(Protocol):
    """ccxt's implicit Coinbase Exchange endpoint we call (GET /products/{id}/trades)."""

    async def publicGetProductsIdTrades(self, params: Mapping[str, str | int]) -> list[HistoryTrade]: ...


_DAY_MS: dict[str, int] = {}


def iso_ms(text: str) -> int:
    """'2024-03-13T11:00:17.710679Z' (UTC) → 1710327617710 ms, exactly: the fraction is read as
    digits, never through a float (0.001 s × 1000 is 0.999… in binary), and cut to the ms like
    `ts // 1`. Fast: the date part is cached."""
    day, _, clock = text.partition("T")
    base = _DAY_MS.get(day)
    if base is None:
        base = _DAY_MS[day] = int(datetime.fromisoformat(day + "T00:00:00+00:00").timestamp()) * 1000
        if len(_DAY_MS) > 8:
            _DAY_MS.pop(next(iter(_DAY_MS)))
    clock = clock.rstrip("Z")
    whole, _, fraction = clock[6:].partition(".")
    millis = int((fraction + "00")[:3]) if fraction else 0
    return base + (int(clock[0:2]) * 3600 + int(clock[3:5]) * 60 + int(whole)) * 1000 + millis


class CoinbaseAdapter(ExchangeAdapter):
    id = "coinbase"
    rest_class = ccxt.async_support.coinbaseexchange
    pro_class = ccxt.pro.coinbaseexchange
    symbols_per_connection = 100
    symbols_per_subscribe = 100
    has_history = True

    def parse_frame(self, message: object, out: list[Row]) -> bool:
        if type(message) is not dict:
            return False
        kind = message.get("type")
        if kind == "match":
            maker_sold = message["side"] == "sell"
            out.append(
                (
                    message["product_id"],
                    iso_ms(message["time"]),
                    maker_sold,
                    float(message["price"]),
                    float(message["size"]),
                    str(message["trade_id"]),
                )
            )
            return True
        return kind == "last_match"

    def rejected_markets(self, message: object) -> list[str] | None:
        # {"type":"error","message":"Failed to subscribe","reason":"XRP-USD is not a valid
        # product"}: the whole subscribe fails, so the others of it are subscribed again.
        if type(message) is not dict or message.get("type") != "error":
            return None
        found = _NOT_A_PRODUCT.findall(str(message.get("reason", "")))
        return found or None

    def resubscribe(self, market_ids: list[str]) -> object | None:
        if not market_ids:
            return None
        return {"type": "subscribe", "product_ids": market_ids, "channels": ["matches"]}

    async def fetch_latest_trade(self, rest: RestClient, market: CcxtMarket) -> tuple[str, int] | None:
        # /products/{id}/trades, newest first: the same trade ids as the `matches` channel
        rows = await cast(_CoinbaseRest, rest).publicGetProductsIdTrades({"id": market["id"], "limit": 1}) or []
        return (str(rows[0]["trade_id"]), iso_ms(str(rows[0]["time"]))) if rows else None

    async def fetch_history(
        self, rest: RestClient, market: CcxtMarket, first: int, last: int, *, orders_from: int | None = None
    ) -> History:
        api = cast(_CoinbaseRest, rest)
        sums = MinuteSums(first, last, orders_from)
        after: str | None = None
        while True:
            request: dict[str, str | int] = {"id": market["id"], "limit": PAGE}
            if after is not None:
                request["after"] = after
            page = await api.publicGetProductsIdTrades(request) or []
            for d in page:
                sums.add(
                    str(d["trade_id"]),
                    iso_ms(str(d["time"])),
                    d["side"] == "sell",
                    float(d["price"]),
                    float(d["size"]),
                )
            if len(page) < PAGE or iso_ms(str(page[-1]["time"])) < first * MINUTE_MS:
                return sums.history()
            after = response_header(rest, "CB-AFTER") or str(min(int(d["trade_id"]) for d in page))


ADAPTER = CoinbaseAdapter()
