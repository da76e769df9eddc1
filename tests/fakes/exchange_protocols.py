"""The four exchanges' wire formats, as the fake exchange speaks them: REST markets, history,
WebSocket subscribe acks, pings and trade frames, with the real payload shapes (see
/work/shared/fixtures/ccxt and the exchanges' docs)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

MINUTE_MS = 60_000


@dataclass(frozen=True)
class TapeTrade:
    exchange: str
    symbol: str  # canonical BASE/USDT
    ts: int
    side: str  # TAKER side
    price: float
    amount: float
    id: int

    @property
    def value(self) -> float:
        return self.price * self.amount


def iso(ts: int) -> str:
    return datetime.fromtimestamp(ts / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z"


def iso_exact(ts: int, digits: int = 6) -> str:
    """ms → Coinbase's ISO 8601 time with `digits` fraction digits, by integer arithmetic only
    (Coinbase sends microseconds: '2024-03-13T11:00:01.001000Z'; 3 digits: '...01.001Z')."""
    seconds, ms = divmod(ts, 1000)
    day = datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
    fraction = f"{ms:03d}{'0' * max(0, digits - 3)}"[:digits]
    return f"{day}.{fraction}Z" if digits else f"{day}Z"


class Proto:
    id = ""
    quote = "USDT"

    def market_id(self, symbol: str) -> str:
        base = symbol.split("/")[0]
        return self._market_id(base, self.quote)

    def _market_id(self, base: str, quote: str) -> str:
        raise NotImplementedError

    def ccxt_settings(self, http: str, ws: str) -> dict[str, Any]:
        raise NotImplementedError


class Binance(Proto):
    id = "binance"

    def _market_id(self, base: str, quote: str) -> str:
        return base + quote

    def ccxt_settings(self, http: str, ws: str) -> dict[str, Any]:
        return {"urls": {"api": {"public": f"{http}/binance/api/v3", "ws": {"spot": f"{ws}/binance/stream"}}}}

    def markets(self, bases: list[str]) -> Any:
        return {
            "timezone": "UTC",
            "serverTime": 0,
            "rateLimits": [{"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 6000}],
            "exchangeFilters": [],
            "symbols": [
                {
                    "symbol": b + "USDT",
                    "status": "TRADING",
                    "baseAsset": b,
                    "baseAssetPrecision": 8,
                    "quoteAsset": "USDT",
                    "quotePrecision": 8,
                    "quoteAssetPrecision": 8,
                    "baseCommissionPrecision": 8,
                    "quoteCommissionPrecision": 8,
                    "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET"],
                    "icebergAllowed": True,
                    "ocoAllowed": True,
                    "quoteOrderQtyMarketAllowed": True,
                    "allowTrailingStop": True,
                    "cancelReplaceAllowed": True,
                    "isSpotTradingAllowed": True,
                    "isMarginTradingAllowed": False,
                    "filters": [
                        {
                            "filterType": "PRICE_FILTER",
                            "minPrice": "0.00000001",
                            "maxPrice": "1000000.00",
                            "tickSize": "0.00000001",
                        },
                        {
                            "filterType": "LOT_SIZE",
                            "minQty": "0.00000001",
                            "maxQty": "9000000.00",
                            "stepSize": "0.00000001",
                        },
                    ],
                    "permissions": [],
                    "permissionSets": [["SPOT"]],
                    "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
                    "allowedSelfTradePreventionModes": ["EXPIRE_MAKER"],
                }
                for b in bases
            ],
        }

    def klines(self, trades: list[TapeTrade], start: int, end: int, limit: int) -> list[list]:
        rows = []
        first, last = start // MINUTE_MS, end // MINUTE_MS
        by_minute: dict[int, list[TapeTrade]] = {}
        for t in trades:
            by_minute.setdefault(t.ts // MINUTE_MS, []).append(t)
        for minute in range(first, last + 1):
            group = by_minute.get(minute, [])
            quote = sum(t.value for t in group)
            buy_quote = sum(t.value for t in group if t.side == "buy")
            prices = [t.price for t in group] or [0.0]
            rows.append(
                [
                    minute * MINUTE_MS,
                    str(prices[0]),
                    str(max(prices)),
                    str(min(prices)),
                    str(prices[-1]),
                    str(sum(t.amount for t in group)),
                    minute * MINUTE_MS + 59_999,
                    repr(quote),
                    len(group),
                    str(sum(t.amount for t in group if t.side == "buy")),
                    repr(buy_quote),
                    "0",
                ]
            )
        return rows[:limit]

    def agg_trades(self, trades: list[TapeTrade]) -> list[dict]:
        """REST /api/v3/aggTrades rows (the shape of the recorded fixture, numbers as Binance sends them)."""
        return [
            {
                "a": t.id,
                "p": repr(t.price),
                "q": repr(t.amount),
                "f": t.id * 10,
                "l": t.id * 10 + 1,
                "T": t.ts,
                "m": t.side == "sell",
                "M": True,
            }
            for t in trades
        ]

    def recent_trade_row(self, t: TapeTrade) -> dict:
        """REST /api/v3/trades row (Binance spot "Recent trades list"). Its `id` is a TRADE id, not
        the aggTrade id of the stream: the last trade (`l`) of the aggregate `agg_trades` shows."""
        return {
            "id": t.id * 10 + 1,
            "price": repr(t.price),
            "qty": repr(t.amount),
            "quoteQty": repr(t.value),
            "time": t.ts,
            "isBuyerMaker": t.side == "sell",
            "isBestMatch": True,
        }

    def frames(self, trades: list[TapeTrade]) -> list[dict]:
        return [
            {
                "e": "aggTrade",
                "E": t.ts + 1,
                "s": self.market_id(t.symbol),
                "a": t.id,
                "p": repr(t.price),
                "q": repr(t.amount),
                "f": t.id * 10,
                "l": t.id * 10 + 1,
                "T": t.ts,
                "m": t.side == "sell",
                "M": True,
            }
            for t in trades
        ]


class Okx(Proto):
    id = "okx"

    def _market_id(self, base: str, quote: str) -> str:
        return f"{base}-{quote}"

    def ccxt_settings(self, http: str, ws: str) -> dict[str, Any]:
        return {"urls": {"api": {"rest": f"{http}/okx", "ws": f"{ws}/okx/ws/v5"}}}

    def markets(self, bases: list[str]) -> Any:
        return {
            "code": "0",
            "msg": "",
            "data": [
                {
                    "alias": "",
                    "baseCcy": b,
                    "category": "1",
                    "ctMult": "",
                    "ctType": "",
                    "ctVal": "",
                    "ctValCcy": "",
                    "expTime": "",
                    "instFamily": "",
                    "instId": f"{b}-USDT",
                    "instType": "SPOT",
                    "lever": "10",
                    "listTime": "1548133413000",
                    "lotSz": "0.00000001",
                    "maxIcebergSz": "9999999999",
                    "maxLmtAmt": "1000000",
                    "maxLmtSz": "9999999999",
                    "maxMktAmt": "1000000",
                    "maxMktSz": "1000000",
                    "maxStopSz": "1000000",
                    "maxTriggerSz": "9999999999",
                    "maxTwapSz": "9999999999",
                    "minSz": "0.00001",
                    "optType": "",
                    "quoteCcy": "USDT",
                    "settleCcy": "",
                    "state": "live",
                    "stk": "",
                    "tickSz": "0.00000001",
                    "uly": "",
                    "ruleType": "normal",
                }
                for b in bases
            ],
        }

    def history_row(self, t: TapeTrade) -> dict:
        return {
            "instId": self.market_id(t.symbol),
            "side": t.side,
            "sz": repr(t.amount),
            "px": repr(t.price),
            "tradeId": str(t.id),
            "ts": str(t.ts),
        }

    def recent_trade_row(self, t: TapeTrade) -> dict:
        """REST /api/v5/market/trades row (OKX v5 "Get trades"), newest first in the answer."""
        return {**self.history_row(t), "source": "0", "count": "1"}

    def frames(self, trades: list[TapeTrade]) -> list[dict]:
        out = []
        for t in trades:  # one push per symbol run, several trades per frame as OKX batches them
            if out and out[-1]["arg"]["instId"] == self.market_id(t.symbol) and len(out[-1]["data"]) < 5:
                out[-1]["data"].append(self._ws_row(t))
            else:
                out.append(
                    {"arg": {"channel": "trades", "instId": self.market_id(t.symbol)}, "data": [self._ws_row(t)]}
                )
        return out

    def _ws_row(self, t: TapeTrade) -> dict:
        return {
            "instId": self.market_id(t.symbol),
            "tradeId": str(t.id),
            "px": repr(t.price),
            "sz": repr(t.amount),
            "side": t.side,
            "ts": str(t.ts),
            "count": "1",
            "source": "0",
            "seqId": t.id,
        }


class Bybit(Proto):
    id = "bybit"

    def _market_id(self, base: str, quote: str) -> str:
        return base + quote

    def ccxt_settings(self, http: str, ws: str) -> dict[str, Any]:
        rest = f"{http}/bybit"
        return {
            "urls": {
                "api": {
                    "spot": rest,
                    "futures": rest,
                    "v2": rest,
                    "public": rest,
                    "private": rest,
                    "ws": {"public": {"spot": f"{ws}/bybit/v5/public/spot"}},
                }
            }
        }

    def markets(self, bases: list[str]) -> Any:
        return {
            "retCode": 0,
            "retMsg": "OK",
            "result": {
                "category": "spot",
                "nextPageCursor": "",
                "list": [
                    {
                        "symbol": b + "USDT",
                        "baseCoin": b,
                        "quoteCoin": "USDT",
                        "innovation": "0",
                        "status": "Trading",
                        "marginTrading": "none",
                        "stTag": "0",
                        "lotSizeFilter": {
                            "basePrecision": "0.00000001",
                            "quotePrecision": "0.00000001",
                            "minOrderQty": "0.00000001",
                            "maxOrderQty": "9000000",
                            "minOrderAmt": "1",
                            "maxOrderAmt": "9000000",
                        },
                        "priceFilter": {"tickSize": "0.00000001"},
                        "riskParameters": {"limitParameter": "0.05", "marketParameter": "0.05"},
                    }
                    for b in bases
                ],
            },
            "retExtInfo": {},
            "time": 0,
        }

    def recent_trade_row(self, t: TapeTrade) -> dict:
        """REST /v5/market/recent-trade row (Bybit v5 "Get Public Recent Trading History")."""
        return {
            "execId": f"id-{t.id}",
            "symbol": self.market_id(t.symbol),
            "price": repr(t.price),
            "size": repr(t.amount),
            "side": "Buy" if t.side == "buy" else "Sell",
            "time": str(t.ts),
            "isBlockTrade": False,
            "isRPITrade": False,
            "seq": str(t.id),
        }

    def frames(self, trades: list[TapeTrade]) -> list[dict]:
        out = []
        for t in trades:
            row = {
                "T": t.ts,
                "s": self.market_id(t.symbol),
                "S": "Buy" if t.side == "buy" else "Sell",
                "v": repr(t.amount),
                "p": repr(t.price),
                "L": "PlusTick",
                "i": f"id-{t.id}",
                "BT": False,
            }
            if out and out[-1]["topic"] == "publicTrade." + row["s"] and len(out[-1]["data"]) < 5:
                out[-1]["data"].append(row)
            else:
                out.append({"topic": "publicTrade." + row["s"], "type": "snapshot", "ts": t.ts, "data": [row]})
        return out


class Coinbase(Proto):
    id = "coinbase"
    quote = "USD"

    def _market_id(self, base: str, quote: str) -> str:
        return f"{base}-{quote}"

    def ccxt_settings(self, http: str, ws: str) -> dict[str, Any]:
        return {
            "urls": {"api": {"public": f"{http}/coinbase", "private": f"{http}/coinbase", "ws": f"{ws}/coinbase/ws"}}
        }

    def markets(self, bases: list[str]) -> Any:
        return [
            {
                "id": f"{b}-USD",
                "base_currency": b,
                "quote_currency": "USD",
                "quote_increment": "0.00000001",
                "base_increment": "0.00000001",
                "display_name": f"{b}-USD",
                "min_market_funds": "1",
                "margin_enabled": False,
                "post_only": False,
                "limit_only": False,
                "cancel_only": False,
                "status": "online",
                "status_message": "",
                "auction_mode": False,
                "trading_disabled": False,
                "fx_stablecoin": False,
                "max_slippage_percentage": "0.10000000",
                "high_bid_limit_percentage": "",
            }
            for b in bases
        ]

    def history_row(self, t: TapeTrade) -> dict:
        # the Exchange API's side is the MAKER side: a taker buy is reported as "sell"
        return {
            "trade_id": t.id,
            "side": "sell" if t.side == "buy" else "buy",
            "size": repr(t.amount),
            "price": repr(t.price),
            "time": iso(t.ts),
        }

    def frames(self, trades: list[TapeTrade]) -> list[dict]:
        return [
            {
                "type": "match",
                "trade_id": t.id,
                "maker_order_id": f"m{t.id}",
                "taker_order_id": f"t{t.id}",
                "side": "sell" if t.side == "buy" else "buy",
                "size": repr(t.amount),
                "price": repr(t.price),
                "product_id": self.market_id(t.symbol),
                "sequence": t.id,
                "time": iso(t.ts),
            }
            for t in trades
        ]


PROTOCOLS: dict[str, Proto] = {p.id: p for p in (Binance(), Okx(), Bybit(), Coinbase())}
