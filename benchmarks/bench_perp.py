"""Perp path speed and cost (SPEC §4b): per-trade cost of our hooked parse (decode, parse,
contract size) beside ccxt's own handler on the same frames, per venue, at 600 symbols; and the
REST cost of one open-interest poll of 600 symbols per venue (Binance: weight from its header),
through the real ccxt clients against the fake perp venues.

    python benchmarks/bench_perp.py [--trades 20000] [--symbols 600]
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import random
import sys
import time
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gme_tui.sources.ccxt_common import _decode_frame, ccxt_config
from gme_tui.sources.perp.binance_usdm import ADAPTER as BINANCE
from gme_tui.sources.perp.bybit_linear import ADAPTER as BYBIT
from gme_tui.sources.perp.common import PerpAdapter, PerpMarket
from gme_tui.sources.perp.okx_swap import ADAPTER as OKX
from tests.fakes.perp_exchange import FakePerpExchange

FIXTURES = Path("/work/shared/fixtures/ccxt")
MARKETS = {"binance": "binance.markets.json", "okx": "okx.markets.json", "bybit": "bybit.markets.json"}


class Sink:
    def __init__(self) -> None:
        self.rows = 0

    def on_frame(self) -> None:
        pass

    def on_rows(self, rows: list[Any]) -> None:
        self.rows += len(rows)

    def on_bad_frame(self, why: str) -> None:
        raise AssertionError(why)

    def on_liquidations(self, rows: list[Any]) -> None:
        pass

    def on_rejected(self, market_ids: list[str], connection: object) -> None:
        raise AssertionError(market_ids)


def bases(n: int) -> list[str]:
    return [f"C{i:03d}" for i in range(n)]


def ccxt_markets(venue: str, n: int) -> list[dict[str, Any]]:
    """n copies of the recorded BTC/USDT:USDT market, one per synthetic base (ccxt needs whole markets)."""
    template = json.loads((FIXTURES / MARKETS[venue]).read_text())["BTC/USDT:USDT"]
    out = []
    for base in bases(n):
        market = copy.deepcopy(template)
        market_id = {"okx": f"{base}-USDT-SWAP"}.get(venue, f"{base}USDT")
        market.update(id=market_id, symbol=f"{base}/USDT:USDT", base=base, baseId=base)
        if "lowercaseId" in market:
            market["lowercaseId"] = market_id.lower()
        out.append(market)
    return out


def frame(venue: str, market_id: str, i: int, ts: int) -> dict[str, Any]:
    price, size, buy = f"{100 + i % 50}.5", f"{1 + i % 7}", i % 3 != 0
    if venue == "binance":
        return {
            "e": "aggTrade",
            "E": ts,
            "s": market_id,
            "a": i,
            "p": price,
            "q": size,
            "f": i,
            "l": i,
            "T": ts,
            "m": not buy,
        }
    if venue == "okx":
        data = {
            "instId": market_id,
            "tradeId": str(i),
            "px": price,
            "sz": size,
            "side": "buy" if buy else "sell",
            "ts": str(ts),
            "count": "1",
        }
        return {"arg": {"channel": "trades", "instId": market_id}, "data": [data]}
    data = {
        "T": ts,
        "s": market_id,
        "S": "Buy" if buy else "Sell",
        "v": size,
        "p": price,
        "L": "PlusTick",
        "i": str(i),
        "BT": False,
    }
    return {"topic": f"publicTrade.{market_id}", "type": "snapshot", "ts": ts, "data": [data]}


async def parse_costs(n: int, symbols: int) -> None:
    print(
        f"{'venue':8} {'ours µs/trade':>14} {'ccxt µs/trade':>14} {'ccxt/ours':>10}   ({symbols} symbols, {n} trades)"
    )
    rng = random.Random(7)
    for adapter in (BINANCE, OKX, BYBIT):
        markets = ccxt_markets(adapter.id, symbols)
        perps = [PerpMarket(f"{m['base']}/USDT", m["symbol"], m["id"], float(m["contractSize"])) for m in markets]
        ids = [m["id"] for m in markets]
        ts = 1_786_540_000_000
        texts = [orjson.dumps(frame(adapter.id, rng.choice(ids), i, ts + i)).decode() for i in range(n)]
        config = ccxt_config(adapter, {}, "")

        bound = adapter.bind(perps)
        sink = Sink()
        ours = bound.ws_client(config, sink)
        ours.set_markets(markets)  # type: ignore[attr-defined]
        client = ours.client("ws://127.0.0.1:1/bench")  # type: ignore[attr-defined]
        t0 = time.perf_counter()
        for text in texts:
            _decode_frame(client, ours, text)
        ours_s = time.perf_counter() - t0
        assert sink.rows == n, (adapter.id, sink.rows)

        bare = adapter.pro_class(dict(config))
        bare.set_markets(markets)
        bare_client = bare.client("ws://127.0.0.1:1/bench")
        t0 = time.perf_counter()
        for text in texts:
            bare_client.handle_text_or_binary_message(text)
        bare_s = time.perf_counter() - t0
        await _close(ours, bare)
        print(f"{adapter.id:8} {ours_s / n * 1e6:14.2f} {bare_s / n * 1e6:14.2f} {bare_s / ours_s:10.2f}")


async def _close(*clients: Any) -> None:
    for c in clients:
        await c.close()


async def oi_costs(symbols: int) -> None:
    print(f"\none open-interest poll of {symbols} symbols (real ccxt clients, fake venues):")
    now = 29_425_570 * 60_000
    fake = await FakePerpExchange(now).start()
    try:
        for adapter in (BINANCE, OKX, BYBIT):
            perps = _perp_markets(adapter, symbols)
            for m in perps:
                fake.set_oi(adapter.id, m.id, now - 1_000, 1234.5)
            config = ccxt_config(adapter, fake.ccxt_settings(adapter.id), "")
            config["enableRateLimit"] = False  # a fake: measure calls and weight, not Binance's pacing
            rest = adapter.rest_client(config)
            before = len(fake.requests)
            t0 = time.perf_counter()
            found = await adapter.fetch_open_interest(rest, perps)
            took = time.perf_counter() - t0
            weight = adapter.used_weight(rest)
            await rest.close()
            calls = len(fake.requests) - before
            assert len(found) == symbols and calls == adapter.oi_calls(symbols)
            cost = f"weight {weight} of 2,400/min" if weight is not None else f"{adapter.oi_cost(symbols)} request"
            print(f"  {adapter.id:8} {calls:4d} calls, {cost:22} {took * 1000:8.1f} ms")
    finally:
        await fake.stop()


def _perp_markets(adapter: PerpAdapter, n: int) -> list[PerpMarket]:
    ids = {"okx": "{b}-USDT-SWAP"}.get(adapter.id, "{b}USDT")
    return [PerpMarket(f"{b}/USDT", f"{b}/USDT:USDT", ids.format(b=b), 1.0) for b in bases(n)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trades", type=int, default=20_000)
    parser.add_argument("--symbols", type=int, default=600)
    args = parser.parse_args()
    asyncio.run(run(args.trades, args.symbols))


async def run(trades: int, symbols: int) -> None:
    await parse_costs(trades, symbols)
    await oi_costs(symbols)


if __name__ == "__main__":
    main()
