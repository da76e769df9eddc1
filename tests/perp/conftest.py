"""Shared pieces of the perp venue tests: recorded payloads and markets (/work/shared/fixtures/ccxt)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

FIXTURES = Path("/work/shared/fixtures/ccxt")


def fixture(name: str) -> Any:
    path = FIXTURES / name
    if not path.exists():
        pytest.skip(f"{path} not available")
    return json.loads(path.read_text())


def swap(ccxt_symbol: str, market_id: str, contract_size: float, **extra: Any) -> dict[str, Any]:
    """A minimal unified swap market: the keys the mapping reads."""
    base, _, rest = ccxt_symbol.partition("/")
    quote, _, settle = rest.partition(":")
    market = {
        "id": market_id,
        "symbol": ccxt_symbol,
        "base": base,
        "quote": quote,
        "settle": settle,
        "spot": False,
        "swap": True,
        "linear": settle == quote,
        "active": True,
        "contractSize": contract_size,
    }
    market.update(extra)
    return market
