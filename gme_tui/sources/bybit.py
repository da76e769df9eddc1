"""Bybit spot over ccxt: `publicTrade.<symbol>`, `S` is documented as the taker side. Bybit has no
public spot history deeper than 60 trades, so there is no backfill: coverage grows from start."""

from __future__ import annotations

from typing import Any

from gme_tui.sources.ccxt_common import ExchangeAdapter


class BybitAdapter(ExchangeAdapter):
    id = "bybit"
    ccxt_id = "bybit"
    default_config = {"options": {"fetchMarkets": {"types": ["spot"]}}}
    symbols_per_connection = 200  # ≤ 21,000 characters of args per connection
    symbols_per_subscribe = 10  # ≤ 10 args per subscribe request
    has_history = False

    def parse_frame(self, message: Any, out: list) -> bool:
        if type(message) is not dict:
            return False
        topic = message.get("topic")
        if topic is None or not topic.startswith("publicTrade."):
            return False
        for d in message["data"]:
            out.append((d["s"], int(d["T"]), d["S"] == "Buy", float(d["p"]), float(d["v"]), str(d["i"])))
        return True


ADAPTER = BybitAdapter()
