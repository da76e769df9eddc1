"""Issue 14 item 6 (record, live side): `gme-tui record` writes the derivatives lines of SPEC §8
from the live perp collectors (REAL ccxt clients against the spot and perp fakes): the meta
line's `perp_listings`, perp buckets (Binance futures klines) and the OI history before the first
trade, then perp trades with `"market":"perp"` and base amounts, `oi` samples and `liquidation`
lines (the position's side, value computed)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from pathlib import Path

from gme_tui.model import MINUTE_MS
from gme_tui.settings import DerivativeSettings
from gme_tui.sources.live import LiveSource
from gme_tui.sources.recorder import record
from tests.fakes.exchange import FakeExchange, make_tape
from tests.fakes.harness import pinned_clock
from tests.fakes.perp_exchange import FakePerpExchange
from tests.live.conftest import make_settings

VENUES = ("binance", "okx")


def lines_of(path: Path) -> list[dict]:
    if not path.exists():
        return []
    text = path.read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines()[:-1] if line]  # the last may be half written


async def test_a_recording_holds_perp_trades_buckets_oi_and_liquidations(tmp_path: Path) -> None:
    clock = pinned_clock(20.0, speed=10.0)
    spot = await FakeExchange(clock, ("BTC", "ETH")).start()
    perp = await FakePerpExchange(clock, ("BTC", "ETH")).start()
    start = clock.wall_ms()
    first = start // MINUTE_MS * MINUTE_MS - 2 * MINUTE_MS
    spot.add_history(make_tape(spot, "binance", ["BTC/USDT"], 10, first, start - 1_000))
    perp.history["binance"].append(perp.trade("binance", "BTC", first + 1_000, "buy", 50_000.0, 0.5))
    for venue in VENUES:
        spot.keepalive(venue, 5.0)
        perp.keepalive(venue, 5.0)
        for base in ("BTC", "ETH"):
            perp.set_oi(venue, perp.market_id(venue, base), start - 1_000, 100.0)
            perp.add_oi_history(venue, perp.market_id(venue, base), start - 5 * MINUTE_MS, 90.0)
    settings = make_settings(
        spot,
        VENUES,
        ["BTC/USDT", "ETH/USDT"],
        window=3,
        perp=perp,
        derivatives=DerivativeSettings(oi_poll_seconds=60.0),
        perp_overrides={v: {"enableRateLimit": False} for v in VENUES},
    )
    source = LiveSource(settings, clock=clock, settle_seconds=1.0)
    out = tmp_path / "rec.jsonl"
    partial = tmp_path / "rec.jsonl.partial"

    async def market_then_stop() -> None:
        await perp.wait_for(lambda: all(perp.subscribed(v) and perp.on_liquidations(v) for v in VENUES), 20)
        await spot.wait_subscribed("binance", 2, timeout=20)
        now = clock.wall_ms()
        await perp.publish([perp.trade("okx", "BTC", now, "sell", 63_913.5, 1.0)])
        await perp.liquidate("okx", "ETH", now, "short", 3_000.0, 20.0)
        await spot.publish(make_tape(spot, "binance", ["BTC/USDT"], 3, now - 10, now))
        for _ in range(400):  # bounded: until the file holds what was sent, then stop as a user would
            kinds = {(line.get("type", "trade"), line.get("market", "spot")) for line in lines_of(partial)}
            if {("trade", "perp"), ("liquidation", "spot"), ("trade", "spot")} <= kinds:
                os.kill(os.getpid(), signal.SIGTERM)
                return
            await asyncio.sleep(0.05)

    stopper = asyncio.create_task(market_then_stop())
    try:
        assert await asyncio.wait_for(record(settings, out, minutes=None, source=source), 40) == 0
    finally:
        stopper.cancel()
        await asyncio.gather(stopper, return_exceptions=True)
        await perp.stop()
        await spot.stop()
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    meta = lines[0]
    assert meta["type"] == "meta" and meta["perp_listings"] == {"BTC/USDT": list(VENUES), "ETH/USDT": list(VENUES)}
    kinds = [line.get("type", "trade") for line in lines[1:]]
    first_trade = kinds.index("trade")
    assert set(kinds[:first_trade]) == {"bucket", "oi"}  # the history loads before the first trade
    perp_buckets = [b for b in lines[1:] if b.get("type") == "bucket" and b.get("market") == "perp"]
    assert {"exchange": "binance", "symbol": "BTC/USDT", "buy": 25_000.0, "sell": 0.0}.items() <= next(
        b for b in perp_buckets if b["buy"]
    ).items()
    oi = [line for line in lines if line.get("type") == "oi"]
    assert {"type": "oi", "exchange": "okx", "symbol": "BTC/USDT", "ts": start - 1_000, "oi": 1.0} in oi  # 100 × 0.01
    (trade,) = [t for t in lines if t.get("type", "trade") == "trade" and t.get("market") == "perp"]
    assert (trade["exchange"], trade["side"], trade["amount"], trade["price"]) == ("okx", "sell", 0.01, 63_913.5)
    (liquidation,) = [line for line in lines if line.get("type") == "liquidation"]
    assert {k: liquidation[k] for k in ("exchange", "symbol", "side", "price", "amount", "value")} == {
        "exchange": "okx",
        "symbol": "ETH/USDT",
        "side": "short",
        "price": 3_000.0,
        "amount": 2.0,
        "value": 6_000.0,
    }
