"""The taker side on recorded payload shapes (/work/shared/fixtures/ccxt), per exchange."""

from __future__ import annotations

import json
from pathlib import Path

import ccxt.pro
import pytest

from gme_tui.sources.binance import ADAPTER as BINANCE
from gme_tui.sources.bybit import ADAPTER as BYBIT
from gme_tui.sources.coinbase import ADAPTER as COINBASE
from gme_tui.sources.coinbase import iso_ms
from gme_tui.sources.history import MinuteSums
from gme_tui.sources.okx import ADAPTER as OKX

FIXTURES = Path("/work/shared/fixtures/ccxt")


def _ws_cases(name: str):
    path = FIXTURES / name
    if not path.exists():
        pytest.skip(f"{path} not available")
    return json.loads(path.read_text())


def _rows(adapter, messages):
    out: list = []
    for message in messages:
        adapter.parse_frame(message, out)
    return out


@pytest.mark.parametrize(
    "adapter, fixture",
    [
        (BINANCE, "binance.ws.watchTrades.json"),
        (OKX, "okx.ws.watchTrades.json"),
        (BYBIT, "bybit.ws.watchTrades.json"),
    ],
)
def test_side_matches_the_recorded_parse(adapter, fixture):
    checked = 0
    for case in _ws_cases(fixture):
        rows = _rows(adapter, case["messages"])
        responses = case.get("parsedResponses") or [case.get("parsedResponse") or []]
        parsed = [t for batch in responses for t in (batch if isinstance(batch, list) else [batch])]
        by_id = {str(t["id"]): t for t in parsed}
        for _market_id, ts, is_buy, price, _amount, trade_id in rows:
            expected = by_id.get(trade_id)
            if expected is None:
                continue
            assert ("buy" if is_buy else "sell") == expected["side"], (fixture, trade_id)
            assert ts == expected["timestamp"] and price == expected["price"]
            checked += 1
    assert checked >= 2


def test_binance_m_true_means_the_taker_sold():
    rows = _rows(
        BINANCE,
        [
            {"e": "aggTrade", "s": "BTCUSDT", "a": 1, "p": "10", "q": "1", "T": 5, "m": True},
            {"e": "aggTrade", "s": "BTCUSDT", "a": 2, "p": "10", "q": "1", "T": 6, "m": False},
        ],
    )
    assert [r[2] for r in rows] == [False, True]


def test_bybit_and_okx_raw_side_is_the_taker_side():
    okx = _rows(
        OKX,
        [
            {
                "arg": {"channel": "trades", "instId": "BTC-USDT"},
                "data": [{"instId": "BTC-USDT", "tradeId": "1", "px": "1", "sz": "1", "side": "sell", "ts": "1"}],
            }
        ],
    )
    bybit = _rows(
        BYBIT,
        [
            {
                "topic": "publicTrade.BTCUSDT",
                "data": [{"T": 1, "s": "BTCUSDT", "S": "Buy", "v": "1", "p": "1", "i": "x"}],
            }
        ],
    )
    assert okx[0][2] is False and bybit[0][2] is True


def test_coinbase_exchange_side_is_the_maker_side_and_is_inverted_on_the_stream():
    match = {
        "type": "match",
        "trade_id": 82047307,
        "maker_order_id": "a",
        "taker_order_id": "b",
        "side": "sell",
        "size": "0.00513192",
        "price": "9314.78",
        "product_id": "BTC-USD",
        "sequence": 1,
        "time": "2020-01-31T20:03:41.158814Z",
    }
    (row,) = _rows(COINBASE, [match])
    assert row[2] is True  # the maker sold: the taker lifted the ask, a taker BUY
    assert row[1] == 1580501021158
    # ccxt's own parse of the same public frame agrees
    exchange = ccxt.pro.coinbaseexchange()
    exchange.set_markets(list(json.loads((FIXTURES / "coinbaseexchange.markets.json").read_text()).values()))
    assert exchange.parse_ws_trade(match)["side"] == "buy"


def test_coinbase_backfill_inverts_like_the_recorded_rest_parse():
    (case,) = _ws_cases("coinbaseexchange.response.fetchTrades.json")
    raw, parsed = case["httpResponse"][0], case["parsedResponse"][0]
    sums = MinuteSums(0, 10**9)
    sums.add(raw["trade_id"], iso_ms(raw["time"]), raw["side"] == "sell", float(raw["price"]), float(raw["size"]))
    (flow,) = sums.flows().values()
    assert parsed["side"] == "buy" and flow.buy == pytest.approx(parsed["cost"]) and flow.sell == 0
    assert iso_ms(raw["time"]) == parsed["timestamp"]


def test_a_lone_last_match_is_ignored():
    out: list = []
    assert COINBASE.parse_frame({"type": "last_match", "product_id": "BTC-USD"}, out) is True and out == []


def test_coinbase_times_parse_exactly_every_millisecond_of_a_minute():
    """Issue 10 item 4: '...01.001Z' is 1710327601001, not ...000 (a float fraction loses it)."""
    base = 1710327600000  # 2024-03-13T11:00:00Z
    assert iso_ms("2024-03-13T11:00:01.001Z") == 1710327601001
    wrong = [ms for ms in range(60_000) if iso_ms(f"2024-03-13T11:00:{ms // 1000:02d}.{ms % 1000:03d}Z") != base + ms]
    assert wrong == []
    micro = [
        ms
        for ms in range(0, 60_000, 7)
        if iso_ms(f"2024-03-13T11:00:{ms // 1000:02d}.{ms % 1000:03d}999Z") != base + ms
    ]
    assert micro == []  # microseconds are cut, never rounded up into the next millisecond
    assert iso_ms("2024-03-13T11:00:01Z") == base + 1000 and iso_ms("2024-03-13T11:00:01.5Z") == base + 1500
