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

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from gme_tui.model import MINUTE_MS
from gme_tui.sources.ccxt_common import ExchangeAdapter, MinuteFlow
from gme_tui.sources.history import MinuteSums

PAGE = 1000
_DAY_MS: dict[str, int] = {}


def iso_ms(text: str) -> int:
    """'2024-03-13T11:00:17.710679Z' → ms, fast: the date part is cached."""
    day, _, clock = text.partition("T")
    base = _DAY_MS.get(day)
    if base is None:
        base = _DAY_MS[day] = int(datetime.fromisoformat(day + "T00:00:00+00:00").timestamp()) * 1000
        if len(_DAY_MS) > 8:
            _DAY_MS.pop(next(iter(_DAY_MS)))
    clock = clock.rstrip("Z")
    hours, minutes, seconds = clock[0:2], clock[3:5], clock[6:]
    return base + (int(hours) * 3600 + int(minutes) * 60) * 1000 + int(float(seconds) * 1000)


class CoinbaseAdapter(ExchangeAdapter):
    id = "coinbase"
    ccxt_id = "coinbaseexchange"
    default_config: dict = {}
    symbols_per_connection = 100
    symbols_per_subscribe = 100
    has_history = True

    def parse_frame(self, message: Any, out: list) -> bool:
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

    async def fetch_minutes(self, rest: Any, market: Mapping[str, Any], first: int, last: int) -> dict[int, MinuteFlow]:
        sums = MinuteSums(first, last)
        after: str | None = None
        while True:
            request: dict[str, Any] = {"id": market["id"], "limit": PAGE}
            if after is not None:
                request["after"] = after
            page = await rest.publicGetProductsIdTrades(request) or []
            for d in page:
                sums.add(
                    str(d["trade_id"]), iso_ms(d["time"]), d["side"] == "sell", float(d["price"]), float(d["size"])
                )
            if len(page) < PAGE or iso_ms(page[-1]["time"]) < first * MINUTE_MS:
                return sums.flows()
            headers = getattr(rest, "last_response_headers", None) or {}
            after = headers.get("CB-AFTER") or headers.get("Cb-After") or str(min(int(d["trade_id"]) for d in page))


ADAPTER = CoinbaseAdapter()
