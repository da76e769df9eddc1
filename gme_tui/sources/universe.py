"""The symbol universe: which canonical BASE/USDT symbols to watch, and each exchange's market
for each of them (SPEC §2: Binance/OKX/Bybit BASE/USDT; Coinbase BASE/USD first by default)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gme_tui.settings import SymbolSettings
    from gme_tui.sources.ccxt_common import CcxtMarket

STABLECOINS = frozenset(
    {
        "USDT",
        "USDC",
        "FDUSD",
        "TUSD",
        "DAI",
        "BUSD",
        "USDP",
        "PYUSD",
        "USDD",
        "USDE",
        "EURC",
        "EURT",
        "USD1",
        "RLUSD",
        "FRAX",
        "GUSD",
        "LUSD",
        "USDG",
        "USTC",
        "SUSD",
        "USDS",
        "AEUR",
        "EURI",
    }
)
CANONICAL_QUOTE = "USDT"


def is_stablecoin_pair(symbol: str) -> bool:
    base, _, quote = symbol.partition("/")
    return base.upper() in STABLECOINS and quote.upper() in STABLECOINS


def canonical_universe(symbols_settings: SymbolSettings, okx_markets: Mapping[str, CcxtMarket] | None) -> list[str]:
    """The canonical symbols to watch, in settings order (majors first) for `list`, or every
    active OKX USDT spot pair for `okx_all`. Stablecoin pairs only when listed explicitly (or
    `include_stablecoin_pairs`)."""
    explicit = [s.upper() for s in symbols_settings.list]
    if symbols_settings.universe != "okx_all":
        return _unique(explicit)
    if okx_markets is None:
        raise ValueError("okx_all needs OKX's markets")
    found = sorted(
        f"{m['base']}/{CANONICAL_QUOTE}"
        for m in okx_markets.values()
        if m.get("spot") and m.get("quote") == CANONICAL_QUOTE and m.get("active", True) is not False
    )
    keep = [s for s in found if symbols_settings.include_stablecoin_pairs or not is_stablecoin_pair(s) or s in explicit]
    listed_first = [s for s in explicit if s in keep]  # the user's list keeps its priority
    return _unique(listed_first + keep)


def map_markets(
    exchange: str,
    canonical: list[str],
    markets: Mapping[str, CcxtMarket],
    quote_map: Mapping[str, tuple[str, ...]],
) -> dict[str, str]:
    """canonical symbol → this exchange's ccxt spot symbol, for the symbols it lists."""
    quotes = tuple(quote_map.get(exchange, ())) or (CANONICAL_QUOTE,)
    out: dict[str, str] = {}
    for symbol in canonical:
        base = symbol.partition("/")[0]
        for quote in quotes:
            market = markets.get(f"{base}/{quote}")
            if market and market.get("spot") and market.get("active", True) is not False:
                out[symbol] = market["symbol"]
                break
    return out


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))
