"""Open interest (SPEC §4b) through the REAL ccxt clients against the fake perp venues: OKX one call
for every swap, Bybit one call for every linear ticker, Binance one weight-1 call per symbol; all
in base units; history for the first scan; and Binance's futures klines for the backfill."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from gme_tui.model import OpenInterest
from gme_tui.sources.ccxt_common import RestClient, ccxt_config
from gme_tui.sources.perp.binance_usdm import ADAPTER as BINANCE
from gme_tui.sources.perp.binance_usdm import kline_weight
from gme_tui.sources.perp.bybit_linear import ADAPTER as BYBIT
from gme_tui.sources.perp.common import PerpAdapter, PerpMarket
from gme_tui.sources.perp.okx_swap import ADAPTER as OKX
from tests.fakes.perp_exchange import FakePerpExchange, Kline
from tests.perp.conftest import fixture

MIN = 60_000
NOW = 29_425_570 * MIN + 12_345  # the venues' clock
T = NOW // MIN * MIN


@pytest.fixture
async def fake() -> AsyncIterator[FakePerpExchange]:
    server = await FakePerpExchange(NOW).start()
    try:
        yield server
    finally:
        await server.stop()


async def client(fake: FakePerpExchange, adapter: PerpAdapter) -> RestClient:
    return adapter.rest_client(ccxt_config(adapter, fake.ccxt_settings(adapter.id), ""))


def markets(venue: str, *items: tuple[str, str, float, int]) -> list[PerpMarket]:
    return [PerpMarket(symbol, f"{symbol}:USDT", market_id, size, factor) for symbol, market_id, size, factor in items]


async def test_okx_polls_every_swap_in_one_call_in_base_units(fake: FakePerpExchange) -> None:
    wanted = markets("okx", ("BTC/USDT", "BTC-USDT-SWAP", 0.01, 1), ("DOGE/USDT", "DOGE-USDT-SWAP", 1000, 1))
    fake.set_oi("okx", "BTC-USDT-SWAP", T - 5_000, 2_663_107.3)  # contracts of 0.01 BTC
    fake.set_oi("okx", "DOGE-USDT-SWAP", T - 4_000, 125.5)
    fake.set_oi("okx", "BTC-USD-SWAP", T - 4_000, 999.0)  # inverse, in the same answer: not ours
    fake.set_oi("okx", "ETH-USDT-SWAP", T - 4_000, 7.0)  # not in the universe
    rest = await client(fake, OKX)
    try:
        found = await OKX.fetch_open_interest(rest, wanted)
    finally:
        await rest.close()
    assert found == [
        OpenInterest("okx", "BTC/USDT", T - 5_000, 2_663_107.3 * 0.01),
        OpenInterest("okx", "DOGE/USDT", T - 4_000, 125_500.0),
    ]
    assert fake.calls("okx", "/api/v5/public/open-interest") == [{"instType": "SWAP"}]
    assert OKX.oi_calls(600) == 1 and OKX.oi_cost(600) == 1


async def test_bybit_polls_every_linear_ticker_in_one_call(fake: FakePerpExchange) -> None:
    wanted = markets("bybit", ("BTC/USDT", "BTCUSDT", 1, 1), ("SHIB/USDT", "SHIB1000USDT", 1, 1000))
    fake.set_oi("bybit", "BTCUSDT", 0, 57_798.137)
    fake.set_oi("bybit", "SHIB1000USDT", 0, 2_500.0)
    fake.set_oi("bybit", "ETHUSDT", 0, 1.0)
    rest = await client(fake, BYBIT)
    try:
        found = await BYBIT.fetch_open_interest(rest, wanted)
    finally:
        await rest.close()
    # the tickers carry no time: the answer's `time` stamps every sample
    assert found == [
        OpenInterest("bybit", "BTC/USDT", NOW, 57_798.137),
        OpenInterest("bybit", "SHIB/USDT", NOW, 2_500_000.0),
    ]
    assert fake.calls("bybit", "/v5/market/tickers") == [{"category": "linear"}]
    assert BYBIT.oi_calls(600) == 1


async def test_binance_polls_per_symbol_at_weight_1_each(fake: FakePerpExchange) -> None:
    wanted = markets(
        "binance",
        ("BTC/USDT", "BTCUSDT", 1, 1),
        ("PEPE/USDT", "1000PEPEUSDT", 1, 1000),
        ("GONE/USDT", "GONEUSDT", 1, 1),  # delisted since the markets loaded: skipped, the poll goes on
        ("ETH/USDT", "ETHUSDT", 1, 1),
    )
    fake.set_oi("binance", "BTCUSDT", T - 2_000, 10_659.509)
    fake.set_oi("binance", "1000PEPEUSDT", T - 1_000, 4_000.0)
    fake.set_oi("binance", "ETHUSDT", T - 3_000, 2.5)
    rest = await client(fake, BINANCE)
    try:
        found = await BINANCE.fetch_open_interest(rest, wanted)
        used = BINANCE.used_weight(rest)
    finally:
        await rest.close()
    assert found == [
        OpenInterest("binance", "BTC/USDT", T - 2_000, 10_659.509),
        OpenInterest("binance", "PEPE/USDT", T - 1_000, 4_000_000.0),
        OpenInterest("binance", "ETH/USDT", T - 3_000, 2.5),
    ]
    assert [q["symbol"] for q in fake.calls("binance", "/fapi/v1/openInterest")] == [
        "BTCUSDT",
        "1000PEPEUSDT",
        "GONEUSDT",
        "ETHUSDT",
    ]
    assert used == 4 == fake.binance_weight[NOW // MIN]  # the venue's own count, read from its header
    # 600 symbols a minute: 600 of the 2,400 weight Binance allows an IP per minute
    assert (BINANCE.oi_calls(600), BINANCE.oi_cost(600), BINANCE.oi_unit) == (600, 600, "weight")


@pytest.mark.parametrize("adapter", [BINANCE, OKX, BYBIT], ids=lambda a: a.id)
async def test_oi_history_for_the_first_scan_oldest_first_in_base_units(
    fake: FakePerpExchange, adapter: PerpAdapter
) -> None:
    size = 0.01 if adapter is OKX else 1.0
    market_id = "BTC-USDT-SWAP" if adapter is OKX else "BTCUSDT"
    market = PerpMarket("BTC/USDT", "BTC/USDT:USDT", market_id, size)
    first, last = T - 60 * MIN, T
    for i in range(-2, 14):  # every 5 minutes from before `first` to past `last`
        fake.add_oi_history(adapter.id, market_id, first + i * 5 * MIN, 1000.0 + i)
    rest = await client(fake, adapter)
    try:
        found = await adapter.fetch_open_interest_history(rest, market, first, last)
    finally:
        await rest.close()
    assert [s.ts for s in found] == [first + i * 5 * MIN for i in range(13)]
    assert [s.oi for s in found] == [(1000.0 + i) * size for i in range(13)]
    assert {(s.exchange, s.symbol) for s in found} == {(adapter.id, "BTC/USDT")}


async def test_binance_futures_klines_backfill_taker_flow_in_quote(fake: FakePerpExchange) -> None:
    pepe = PerpMarket("PEPE/USDT", "1000PEPE/USDT:USDT", "1000PEPEUSDT", 1.0, 1000)
    first = T // MIN - 50
    for m in range(first, first + 50):
        fake.add_kline("1000PEPEUSDT", Kline(m * MIN, close=0.0125, quote_volume=5_000.0, taker_buy_quote=3_000.0))
    bound = BINANCE.bind([pepe])
    rest = await client(fake, bound)
    try:
        flows = await bound.fetch_minutes(rest, {"id": "1000PEPEUSDT"}, first, first + 49)  # type: ignore[typeddict-item]
    finally:
        await rest.close()
    assert sorted(flows) == list(range(first, first + 50))
    minute = flows[first]
    assert (minute.buy, minute.sell, minute.count) == (3_000.0, 2_000.0, 10)  # quote values: no contract size
    assert minute.close == 0.0125 / 1000  # per PEPE
    (call,) = fake.calls("binance", "/fapi/v1/klines")
    assert call["limit"] == "50" and kline_weight(50) == 1  # a window in one weight-1 request


async def test_recorded_oi_answers_parse_to_base_units(fake: FakePerpExchange) -> None:
    okx_case = fixture("okx.response.fetchOpenInterest.json")[0]
    fake.recorded[("okx", "/api/v5/public/open-interest")] = okx_case["httpResponse"]
    tickers_case = fixture("bybit.response.fetchFundingRates.json")[0]  # its raw answer: linear tickers
    fake.recorded[("bybit", "/v5/market/tickers")] = tickers_case["httpResponse"]
    history_case = fixture("bybit.response.fetchOpenInterest.json")[0]
    fake.recorded[("bybit", "/v5/market/open-interest")] = history_case["httpResponse"]
    okx_btc = PerpMarket("BTC/USDT", "BTC/USDT:USDT", "BTC-USDT-SWAP", 0.01)
    bybit_btc = PerpMarket("BTC/USDT", "BTC/USDT:USDT", "BTCUSDT", 1.0)
    okx_rest, bybit_rest = await client(fake, OKX), await client(fake, BYBIT)
    try:
        (okx,) = await OKX.fetch_open_interest(okx_rest, [okx_btc])
        (bybit,) = await BYBIT.fetch_open_interest(bybit_rest, [bybit_btc])
        (sample,) = await BYBIT.fetch_open_interest_history(bybit_rest, bybit_btc, 0, 1 << 62)
    finally:
        await okx_rest.close()
        await bybit_rest.close()
    raw = okx_case["httpResponse"]["data"][0]
    assert okx == OpenInterest("okx", "BTC/USDT", int(raw["ts"]), float(raw["oi"]) * 0.01)
    assert okx.oi == pytest.approx(float(raw["oiCcy"]), rel=1e-15)  # OKX's own base figure agrees
    assert okx.oi == pytest.approx(okx_case["parsedResponse"]["baseVolume"], rel=1e-15)
    assert bybit == OpenInterest("bybit", "BTC/USDT", 1730729903941, 69_655.813)  # "time" is a string here
    parsed = history_case["parsedResponse"]
    assert (sample.ts, sample.oi) == (parsed["timestamp"], parsed["openInterestAmount"])
