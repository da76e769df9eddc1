from __future__ import annotations

import json
from pathlib import Path

import pytest

from gme_tui.settings import SymbolSettings
from gme_tui.sources.universe import canonical_universe, is_stablecoin_pair, map_markets

FIXTURES = Path("/work/shared/fixtures/ccxt")


def test_stablecoin_pairs_are_left_out_of_okx_all_unless_listed():
    markets = {
        "BTC/USDT": {"symbol": "BTC/USDT", "base": "BTC", "quote": "USDT", "spot": True},
        "USDC/USDT": {"symbol": "USDC/USDT", "base": "USDC", "quote": "USDT", "spot": True},
        "ETH/BTC": {"symbol": "ETH/BTC", "base": "ETH", "quote": "BTC", "spot": True},
        "OLD/USDT": {"symbol": "OLD/USDT", "base": "OLD", "quote": "USDT", "spot": True, "active": False},
    }
    assert canonical_universe(SymbolSettings(universe="okx_all", list=()), markets) == ["BTC/USDT"]
    listed = SymbolSettings(universe="okx_all", list=("USDC/USDT",))
    assert canonical_universe(listed, markets) == ["USDC/USDT", "BTC/USDT"]
    assert is_stablecoin_pair("FDUSD/USDT") and not is_stablecoin_pair("BTC/USDT")


def test_coinbase_maps_to_usd_first_then_usdt():
    path = FIXTURES / "coinbaseexchange.markets.json"
    if not path.exists():
        pytest.skip("fixture missing")
    markets = json.loads(path.read_text())
    mapping = map_markets("coinbase", ["BTC/USDT", "NOPE/USDT"], markets, {"coinbase": ("USD", "USDT")})
    assert mapping == {"BTC/USDT": "BTC/USD"}
    assert map_markets("okx", ["BTC/USDT"], {"BTC/USDT": {"symbol": "BTC/USDT", "spot": True}}, {}) == {
        "BTC/USDT": "BTC/USDT"
    }
