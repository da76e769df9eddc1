"""Perp frames through our own parsers (SPEC §4b), on recorded payload shapes: trades with the
contract size applied, and liquidations with the side normalised to the position liquidated
(Binance and OKX send the order side, Bybit the position side) and the value computed.

Recorded trades: /work/shared/fixtures/ccxt/*.ws.watchTrades.json ("linear swap trades").
Liquidation payloads: the exchanges' documented examples, as ccxt 4.5.90 quotes them in its
parsers (binance `forceOrder`, okx `liquidation-orders`, bybit `allLiquidation`).
"""

from __future__ import annotations

from typing import Any

import pytest

from gme_tui.model import Liquidation
from gme_tui.sources.ccxt_common import Row, ccxt_config
from gme_tui.sources.perp.binance_usdm import ADAPTER as BINANCE
from gme_tui.sources.perp.bybit_linear import ADAPTER as BYBIT
from gme_tui.sources.perp.common import LiquidationRow, PerpAdapter, PerpMarket, liquidation
from gme_tui.sources.perp.okx_swap import ADAPTER as OKX
from tests.perp.conftest import fixture

OKX_BTC = PerpMarket("BTC/USDT", "BTC/USDT:USDT", "BTC-USDT-SWAP", 0.01)
BINANCE_BTC = PerpMarket("BTC/USDT", "BTC/USDT:USDT", "BTCUSDT", 1.0)
BYBIT_BTC = PerpMarket("BTC/USDT", "BTC/USDT:USDT", "BTCUSDT", 1.0)


def rows(adapter: PerpAdapter, messages: list[Any]) -> list[Row]:
    out: list[Row] = []
    for message in messages:
        adapter.parse_frame(message, out)
    return out


def liquidations(adapter: PerpAdapter, message: Any) -> list[LiquidationRow]:
    out: list[LiquidationRow] = []
    assert adapter.parse_liquidations(message, out)
    return out


# ---------------------------------------------------------------- trades


def test_an_okx_contract_at_63913_5_with_contract_size_0_01_is_worth_639_135() -> None:
    (case, *_) = fixture("okx.ws.watchTrades.json")
    assert case["description"] == "linear swap trades"
    first, second = rows(OKX.bind([OKX_BTC]), case["messages"])
    market_id, ts, bought, price, amount, trade_id = first
    assert (market_id, ts, bought, trade_id) == ("BTC-USDT-SWAP", 1786540435948, True, "2832749635")
    assert price == 63_913.5
    assert amount == 0.01  # 1 contract × 0.01 BTC
    assert price * amount == 639.135  # binary-exact: the value the engine takes (price × amount)
    assert price * amount == case["parsedResponses"][0][0]["cost"]  # ccxt's own parse agrees
    assert second[4] == 34.95 * 0.01 and second[2] is False  # 34.95 contracts, the taker sold
    assert second[3] * second[4] == pytest.approx(case["parsedResponses"][1][0]["cost"], rel=1e-15)


@pytest.mark.parametrize(
    ("adapter", "market", "name"),
    [(BINANCE, BINANCE_BTC, "binance.ws.watchTrades.json"), (BYBIT, BYBIT_BTC, "bybit.ws.watchTrades.json")],
)
def test_binance_and_bybit_perp_trades_match_the_recorded_parse(
    adapter: PerpAdapter, market: PerpMarket, name: str
) -> None:
    (case, *_) = fixture(name)
    assert case["input"] == ["BTC/USDT:USDT"]
    parsed = [t for batch in case["parsedResponses"] for t in batch]
    found = rows(adapter.bind([market]), case["messages"])
    assert len(found) == len(parsed) == 2
    for (market_id, ts, bought, price, amount, trade_id), expected in zip(found, parsed):
        assert market_id == "BTCUSDT" and trade_id == expected["id"]
        assert ts == expected["timestamp"]
        assert ("buy" if bought else "sell") == expected["side"]
        assert (price, amount) == (expected["price"], expected["amount"])  # contract size 1: base as sent
        assert price * amount == pytest.approx(expected["cost"], rel=1e-15)


def test_a_1000x_listing_gives_base_amounts_and_per_base_prices() -> None:
    pepe = PerpMarket("PEPE/USDT", "1000PEPE/USDT:USDT", "1000PEPEUSDT", 1.0, 1000)
    frame = {"e": "aggTrade", "s": "1000PEPEUSDT", "a": 7, "p": "0.0125", "q": "400", "T": 5, "m": False}
    ((market_id, _ts, bought, price, amount, _id),) = rows(BINANCE.bind([pepe]), [frame])
    assert (market_id, bought) == ("1000PEPEUSDT", True)
    assert amount == 400_000.0  # PEPE, not 1000PEPE
    assert price == 0.0125 / 1000
    assert price * amount == pytest.approx(0.0125 * 400, rel=1e-15)


def test_an_unbound_adapter_refuses_to_parse() -> None:
    with pytest.raises(RuntimeError, match="bind"):
        OKX.parse_frame({"arg": {"channel": "trades"}, "data": []}, [])


def test_trade_parsers_leave_other_frames_to_ccxt() -> None:
    bound = [a.bind([]) for a in (BINANCE, OKX, BYBIT)]
    for adapter in bound:
        for frame in ("pong", {"result": None, "id": 1}, {"event": "subscribe"}, {"op": "pong", "success": True}):
            assert adapter.parse_frame(frame, []) is False
            assert adapter.parse_liquidations(frame, []) is False


# ---------------------------------------------------------------- liquidations

BINANCE_DOC = {  # Binance "Liquidation Order Streams" response example
    "e": "forceOrder",
    "E": 1568014460893,
    "o": {
        "s": "BTCUSDT",
        "S": "SELL",
        "o": "LIMIT",
        "f": "IOC",
        "q": "0.014",
        "p": "9910",
        "ap": "9910",
        "X": "FILLED",
        "l": "0.014",
        "z": "0.014",
        "T": 1568014460893,
    },
}
BINANCE_BUY = {  # ccxt pro/binance.py handle_liquidation, "future"
    "e": "forceOrder",
    "E": 1698871323061,
    "o": {
        "s": "BTCUSDT",
        "S": "BUY",
        "o": "LIMIT",
        "f": "IOC",
        "q": "1.437",
        "p": "35100.81",
        "ap": "34959.70",
        "X": "FILLED",
        "l": "1.437",
        "z": "1.437",
        "T": 1698871323059,
    },
}
OKX_DOC = {  # ccxt pro/okx.py handle_liquidation (OKX "Liquidation orders channel")
    "arg": {"channel": "liquidation-orders", "instType": "SWAP"},
    "data": [
        {
            "details": [
                {
                    "bkLoss": "0",
                    "bkPx": "0.007831",
                    "ccy": "",
                    "posSide": "short",
                    "side": "buy",
                    "sz": "13",
                    "ts": "1692266434010",
                }
            ],
            "instFamily": "IOST-USDT",
            "instId": "IOST-USDT-SWAP",
            "instType": "SWAP",
            "uly": "IOST-USDT",
        }
    ],
}
BYBIT_DOC = {  # Bybit "All Liquidation" response example, as ccxt pro/bybit.py quotes it
    "topic": "allLiquidation.ROSEUSDT",
    "type": "snapshot",
    "ts": 1739502303204,
    "data": [{"T": 1739502302929, "s": "ROSEUSDT", "S": "Sell", "v": "20000", "p": "0.04499"}],
}


def test_binance_gives_the_order_side_a_sell_closes_a_long() -> None:
    bound = BINANCE.bind([BINANCE_BTC])
    ((market_id, ts, side, price, amount),) = liquidations(bound, BINANCE_DOC)
    assert (market_id, ts, side, price, amount) == ("BTCUSDT", 1568014460893, "long", 9910.0, 0.014)
    (row,) = liquidations(bound, BINANCE_BUY)
    assert row[2] == "short"
    assert (row[3], row[4]) == (34_959.70, 1.437)  # the average fill price and the filled quantity
    wrapped = {"stream": "!forceOrder@arr", "data": BINANCE_DOC}  # the combined-stream form
    assert liquidations(bound, wrapped) == liquidations(bound, BINANCE_DOC)


def test_binance_unfilled_liquidation_falls_back_to_order_price_and_quantity() -> None:
    order = BINANCE_DOC["o"] | {"ap": "0", "z": "0", "X": "NEW", "p": "9900", "q": "0.02"}
    ((_id, _ts, side, price, amount),) = liquidations(BINANCE.bind([]), BINANCE_DOC | {"o": order})
    assert (side, price, amount) == ("long", 9900.0, 0.02)


def test_okx_gives_the_order_side_a_buy_closes_a_short() -> None:
    iost = PerpMarket("IOST/USDT", "IOST/USDT:USDT", "IOST-USDT-SWAP", 1.0)
    ((market_id, ts, side, price, amount),) = liquidations(OKX.bind([iost]), OKX_DOC)
    assert (market_id, ts, price, amount) == ("IOST-USDT-SWAP", 1692266434010, 0.007831, 13.0)
    assert side == "short" == OKX_DOC["data"][0]["details"][0]["posSide"]  # the record agrees


def test_okx_every_detail_counts_in_contracts_times_the_contract_size() -> None:
    frame = {
        "arg": {"channel": "liquidation-orders", "instType": "SWAP"},
        "data": [
            {
                "instId": "BTC-USDT-SWAP",
                "instType": "SWAP",
                "details": [
                    {"side": "sell", "posSide": "long", "bkPx": "63913.5", "sz": "1", "ts": "1786540435948"},
                    {"side": "buy", "posSide": "short", "bkPx": "64000", "sz": "250", "ts": "1786540435950"},
                ],
            }
        ],
    }
    found = liquidations(OKX.bind([OKX_BTC]), frame)
    assert [(r[2], r[3], r[4]) for r in found] == [("long", 63_913.5, 0.01), ("short", 64_000.0, 2.5)]
    first = liquidation("okx", "BTC/USDT", found[0])
    assert first == Liquidation(1786540435948, "okx", "BTC/USDT", "long", 63_913.5, 0.01, 639.135)


def test_bybit_gives_the_position_side_buy_is_a_long() -> None:
    rose = PerpMarket("ROSE/USDT", "ROSE/USDT:USDT", "ROSEUSDT", 1.0)
    bound = BYBIT.bind([rose])
    ((market_id, ts, side, price, amount),) = liquidations(bound, BYBIT_DOC)
    assert (market_id, ts, side, price, amount) == ("ROSEUSDT", 1739502302929, "short", 0.04499, 20_000.0)
    buy = BYBIT_DOC | {"data": [BYBIT_DOC["data"][0] | {"S": "Buy"}]}
    assert liquidations(bound, buy)[0][2] == "long"


def test_liquidation_value_is_computed_by_us() -> None:
    (row,) = liquidations(BINANCE.bind([BINANCE_BTC]), BINANCE_DOC)
    item = liquidation("binance", "BTC/USDT", row)
    assert item.value == 9910.0 * 0.014
    assert (item.side, item.exchange, item.symbol) == ("long", "binance", "BTC/USDT")


@pytest.mark.parametrize(
    ("adapter", "frame"),
    [
        (BINANCE, BINANCE_DOC | {"o": BINANCE_DOC["o"] | {"S": "HOLD"}}),
        (BINANCE, BINANCE_DOC | {"o": {"s": "BTCUSDT"}}),
        (OKX, OKX_DOC | {"data": [{"instId": "X", "details": [{"side": "buy", "sz": "1", "ts": "1"}]}]}),
        (BYBIT, BYBIT_DOC | {"data": [BYBIT_DOC["data"][0] | {"S": "Long"}]}),
        (BYBIT, BYBIT_DOC | {"data": [BYBIT_DOC["data"][0] | {"p": True}]}),
    ],
)
def test_a_malformed_liquidation_frame_raises(adapter: PerpAdapter, frame: Any) -> None:
    with pytest.raises((KeyError, ValueError)):
        adapter.bind([]).parse_liquidations(frame, [])


# ---------------------------------------------------------------- the hook, on a real ccxt.pro client


class Sink:
    def __init__(self) -> None:
        self.frames = 0
        self.rows: list[Row] = []
        self.liquidations: list[LiquidationRow] = []
        self.bad: list[str] = []

    def on_frame(self) -> None:
        self.frames += 1

    def on_rows(self, rows: list[Row]) -> None:
        self.rows.extend(rows)

    def on_bad_frame(self, why: str) -> None:
        self.bad.append(why)

    def on_liquidations(self, rows: list[LiquidationRow]) -> None:
        self.liquidations.extend(rows)

    def on_rejected(self, market_ids: list[str], connection: object) -> None:
        self.bad.append(f"rejected {market_ids}")


async def test_the_hooked_client_routes_trades_and_liquidations_past_ccxt() -> None:
    bound = OKX.bind([OKX_BTC])
    sink = Sink()
    ws = bound.ws_client(ccxt_config(bound, {}, ""), sink)
    try:
        (case, *_) = fixture("okx.ws.watchTrades.json")
        handle = ws.handle_message  # type: ignore[attr-defined]
        handle(None, case["messages"][1])  # a trade frame: ours, ccxt never sees it
        frame = {
            "arg": {"channel": "liquidation-orders", "instType": "SWAP"},
            "data": [{"instId": "BTC-USDT-SWAP", "details": [{"side": "sell", "bkPx": "60000", "sz": "3", "ts": "9"}]}],
        }
        handle(None, frame)
        handle(None, {"arg": {"channel": "liquidation-orders"}, "data": [{"instId": "BTC-USDT-SWAP"}]})
        assert [(r[0], r[4]) for r in sink.rows] == [("BTC-USDT-SWAP", 0.01)]
        assert sink.liquidations == [("BTC-USDT-SWAP", 9, "long", 60_000.0, 0.03)]
        assert sink.bad == ["malformed liquidation frame (KeyError)"]
    finally:
        await ws.close()


def test_a_perp_client_needs_a_sink_that_takes_liquidations() -> None:
    class SpotSink:
        def on_frame(self) -> None: ...
        def on_rows(self, rows: list[Row]) -> None: ...
        def on_bad_frame(self, why: str) -> None: ...

    bound = BYBIT.bind([])
    with pytest.raises(TypeError, match="on_liquidations"):
        bound.ws_client(ccxt_config(bound, {}, ""), SpotSink())


def test_refused_perp_subscriptions_are_named_as_for_spot() -> None:
    okx_error = {
        "event": "error",
        "code": "60018",
        "msg": "Wrong URL or channel:trades,instId:GONE-USDT-SWAP doesn't exist. Please use the correct URL, channel and parameters referring to API document.",
        "connId": "a4d3ae55",
    }
    assert OKX.rejected_markets(okx_error) == ["GONE-USDT-SWAP"]
    bybit_error = {
        "success": False,
        "ret_msg": "Invalid symbol :[publicTrade.GONEUSDT]",
        "conn_id": "x",
        "req_id": "3",
        "op": "subscribe",
    }
    assert BYBIT.rejected_markets(bybit_error) == ["GONEUSDT"]
    again = BYBIT.resubscribe(["BTCUSDT"])
    assert isinstance(again, dict) and again["args"] == ["publicTrade.BTCUSDT"]
    assert OKX.rejected_markets({"event": "subscribe"}) is None
