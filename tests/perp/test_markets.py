"""Perp market mapping and units (SPEC §4b): the first listed of X/USDT:USDT, 1000X/USDT:USDT,
X1000/USDT:USDT; contract sizes and the listing factor give base amounts and per-base prices."""

from __future__ import annotations

import pytest

from gme_tui.sources.perp.binance_usdm import ADAPTER as BINANCE
from gme_tui.sources.perp.bybit_linear import ADAPTER as BYBIT
from gme_tui.sources.perp.common import PerpMarket, map_perp_markets
from gme_tui.sources.perp.okx_swap import ADAPTER as OKX
from tests.perp.conftest import fixture, swap


def test_recorded_markets_map_to_their_usdt_linear_swaps() -> None:
    okx = map_perp_markets(["BTC/USDT", "ETH/USDT", "DOGE/USDT", "SOL/USDT"], fixture("okx.markets.json"))
    assert okx == {
        "BTC/USDT": PerpMarket("BTC/USDT", "BTC/USDT:USDT", "BTC-USDT-SWAP", 0.01),
        "ETH/USDT": PerpMarket("ETH/USDT", "ETH/USDT:USDT", "ETH-USDT-SWAP", 0.1),
        "DOGE/USDT": PerpMarket("DOGE/USDT", "DOGE/USDT:USDT", "DOGE-USDT-SWAP", 1000),
    }  # SOL has no swap in the recording: left out, not an error
    binance = map_perp_markets(["BTC/USDT", "ETH/USDT"], fixture("binance.markets.json"))
    assert [(m.id, m.contract_size, m.factor) for m in binance.values()] == [("BTCUSDT", 1, 1), ("ETHUSDT", 1, 1)]
    bybit = map_perp_markets(["BTC/USDT", "ZRX/USDT"], fixture("bybit.markets.json"))
    assert [(m.id, m.contract_size) for m in bybit.values()] == [("BTCUSDT", 1), ("ZRXUSDT", 1)]


def test_the_first_listed_form_wins_in_spec_order() -> None:
    markets = {
        "PEPE/USDT:USDT": swap("PEPE/USDT:USDT", "PEPEUSDT", 1),
        "1000PEPE/USDT:USDT": swap("1000PEPE/USDT:USDT", "1000PEPEUSDT", 1),
        "1000SHIB/USDT:USDT": swap("1000SHIB/USDT:USDT", "1000SHIBUSDT", 1),
        "SHIB1000/USDT:USDT": swap("SHIB1000/USDT:USDT", "SHIB1000USDT", 1),
        "BONK1000/USDT:USDT": swap("BONK1000/USDT:USDT", "BONK1000USDT", 1),
    }
    found = map_perp_markets(["PEPE/USDT", "SHIB/USDT", "BONK/USDT", "WIF/USDT"], markets)
    assert {s: (m.id, m.factor) for s, m in found.items()} == {
        "PEPE/USDT": ("PEPEUSDT", 1),  # X/USDT:USDT first
        "SHIB/USDT": ("1000SHIBUSDT", 1000),  # 1000X before X1000
        "BONK/USDT": ("BONK1000USDT", 1000),
    }


@pytest.mark.parametrize(
    "market",
    [
        swap("BTC/USDT:USDT", "BTCUSDT", 1, active=False),  # delisted
        swap("BTC/USDT:USDT", "BTCUSDT", 1, linear=False),
        swap("BTC/USDT:USDT", "BTCUSDT", 1, swap=False),
        swap("BTC/USDT:USDT", "BTCUSDT", 0),  # no usable contract size
        swap("BTC/USDT:USDT", "BTCUSDT", None),
        swap("BTC/USDT:USDT", "BTCUSDT", 1, settle="USDC"),
    ],
)
def test_unusable_listings_are_skipped(market: dict) -> None:
    fallback = swap("1000BTC/USDT:USDT", "1000BTCUSDT", 1)
    found = map_perp_markets(["BTC/USDT"], {"BTC/USDT:USDT": market, "1000BTC/USDT:USDT": fallback})
    assert found["BTC/USDT"].id == "1000BTCUSDT"
    assert map_perp_markets(["BTC/USDT"], {"BTC/USDT:USDT": market}) == {}


def test_inverse_swaps_are_never_mapped() -> None:
    recorded = fixture("okx.markets.json")
    inverse_only = {"BTC/USD:BTC": recorded["BTC/USD:BTC"]}  # BTC-USD-SWAP, settled in BTC
    assert map_perp_markets(["BTC/USDT"], inverse_only) == {}
    assert map_perp_markets(["BTC/USDT"], recorded)["BTC/USDT"].id == "BTC-USDT-SWAP"


def test_units_contract_size_and_listing_factor() -> None:
    okx_btc = PerpMarket("BTC/USDT", "BTC/USDT:USDT", "BTC-USDT-SWAP", 0.01)
    assert okx_btc.base_amount(1.0) == 0.01
    assert okx_btc.base_price(63_913.5) == 63_913.5
    pepe = PerpMarket("PEPE/USDT", "1000PEPE/USDT:USDT", "1000PEPEUSDT", 1.0, 1000)
    assert pepe.amount_scale == 1000.0
    assert pepe.base_amount(2.5) == 2_500.0
    assert pepe.base_price(0.0125) == 0.0125 / 1000


def test_every_venue_maps_through_the_same_rule() -> None:
    markets = fixture("okx.markets.json")
    for adapter in (BINANCE, OKX, BYBIT):
        assert adapter.perp_markets(["BTC/USDT"], markets) == map_perp_markets(["BTC/USDT"], markets)
        assert adapter.market == "perp"
