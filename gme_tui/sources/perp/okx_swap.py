"""OKX USDT-margined perpetual swaps (SWAP) over ccxt, SPEC §4b.

- Trades: the public `trades` channel, the same frames as spot (`side` is the taker side), but
  `sz` counts CONTRACTS: a BTC-USDT-SWAP contract is 0.01 BTC (ccxt `contractSize`, OKX `ctVal`).
  Binding applies it: 1 contract at 63,913.5 is 0.01 BTC, worth 639.135.
- Liquidations: the `liquidation-orders` channel, one subscription (instType SWAP) for every swap.
  Each message may hold several instruments, each with several `details`; every detail counts
  (ccxt's parse reads only the first). `side` is the liquidation ORDER's side (a buy closes a
  short); `bkPx` the bankruptcy price, `sz` contracts.
- Open interest: `GET /api/v5/public/open-interest?instType=SWAP`, ONE call for every swap
  (`oi` in contracts, times the contract size = base; `oiCcy` is the same in base); OKX's limit
  20 requests / 2 s per IP. History: `GET /api/v5/rubik/stat/contracts/open-interest-history`
  (period 5m, ≤ 100 rows, newest first, rows [ts, oi, oiCcy, oiUsd]), limit 10 requests / 2 s.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol, cast

import ccxt.async_support
import ccxt.pro

from gme_tui.model import OpenInterest
from gme_tui.sources import okx as spot
from gme_tui.sources.ccxt_common import CcxtMarket, RestClient, Row, WsClient
from gme_tui.sources.perp.common import (
    LiquidationRow,
    PerpAdapter,
    PerpMarket,
    millis,
    number,
    open_interest,
    position_of_order,
)

OpenInterestRow = dict[str, str]  # {"instId", "instType", "oi" (contracts), "oiCcy" (base), "oiUsd", "ts"}
HistoryRow = list[str]  # [ts ms, oi (contracts), oiCcy (base), oiUsd]


class _OkxRest(Protocol):
    """ccxt's implicit OKX endpoints we call."""

    async def publicGetPublicOpenInterest(self, params: Mapping[str, str]) -> dict[str, list[OpenInterestRow]]: ...

    async def publicGetRubikStatContractsOpenInterestHistory(
        self, params: Mapping[str, str]
    ) -> dict[str, list[HistoryRow]]: ...


class _OkxWs(Protocol):
    async def watch_liquidations_for_symbols(self, symbols: list[str]) -> object: ...


class OkxSwapAdapter(PerpAdapter):
    id = "okx"
    rest_class = ccxt.async_support.okx
    pro_class = ccxt.pro.okx
    default_config = {"options": {"fetchMarkets": {"types": ["swap"]}, "defaultType": "swap"}}
    symbols_per_connection = 300  # args of one connection ≤ 64 KB (~50 bytes each)
    symbols_per_subscribe = 100  # ≤ 480 subscribe requests per hour per connection
    has_history = False  # history-trades pages work for swaps too, but cost one request per 100 trades
    oi_batch = True
    oi_weight = 1
    oi_unit = "requests"

    def parse_trades(self, message: object, out: list[Row]) -> bool:
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
        # the same 60018 error frames as spot (one per refused arg): the spot adapter names them
        return spot.ADAPTER.rejected_markets(message)

    async def fetch_latest_trade(self, rest: RestClient, market: CcxtMarket) -> tuple[str, int] | None:
        # /api/v5/market/trades takes a SWAP instId too, with the channel's trade ids
        return await spot.ADAPTER.fetch_latest_trade(rest, market)

    def parse_raw_liquidations(self, message: object, out: list[LiquidationRow]) -> bool:
        if type(message) is not dict:
            return False
        arg = message.get("arg")
        if type(arg) is not dict or arg.get("channel") != "liquidation-orders" or "data" not in message:
            return False
        for instrument in message["data"]:
            market_id = str(instrument["instId"])
            for detail in instrument["details"]:
                out.append(
                    (
                        market_id,
                        millis(detail["ts"]),
                        position_of_order(str(detail["side"])),
                        number(detail["bkPx"]),
                        number(detail["sz"]),
                    )
                )
        return True

    async def watch_liquidations(self, ws: WsClient, markets: Sequence[PerpMarket]) -> None:
        # One arg for every swap ({"channel": "liquidation-orders", "instType": "SWAP"}): ccxt
        # sends that for any swap symbols given; the parser keeps the bound markets' rows.
        symbols = [m.ccxt_symbol for m in markets[:1]]
        await cast(_OkxWs, ws).watch_liquidations_for_symbols(symbols)

    async def fetch_open_interest(self, rest: RestClient, markets: Sequence[PerpMarket]) -> list[OpenInterest]:
        answer = await cast(_OkxRest, rest).publicGetPublicOpenInterest({"instType": "SWAP"})
        wanted = {m.id: m for m in markets}
        out: list[OpenInterest] = []
        for row in answer.get("data") or []:
            market = wanted.get(row["instId"])
            if market is not None:
                out.append(open_interest(self.id, market, millis(row["ts"]), number(row["oi"])))
        return out

    async def fetch_open_interest_history(
        self, rest: RestClient, market: PerpMarket, first_ms: int, last_ms: int
    ) -> list[OpenInterest]:
        answer = await cast(_OkxRest, rest).publicGetRubikStatContractsOpenInterestHistory(
            {"instId": market.id, "period": "5m", "begin": str(first_ms), "end": str(last_ms), "limit": "100"}
        )
        samples = [open_interest(self.id, market, millis(r[0]), number(r[1])) for r in answer.get("data") or []]
        return sorted((s for s in samples if first_ms <= s.ts <= last_ms), key=lambda s: s.ts)


ADAPTER = OkxSwapAdapter()
