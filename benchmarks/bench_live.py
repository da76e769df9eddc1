"""Live path speed: per-trade cost (raw frame → Trade → engine) beside ccxt's own bare handler on
the same frames, per exchange, and end-to-end trades/s through the fake exchange's sockets.

    python benchmarks/bench_live.py [--trades 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gme_tui.core.clock import SystemClock
from gme_tui.engine import Engine, EngineConfig
from gme_tui.model import EXCHANGES
from gme_tui.sources.ccxt_common import _decode_frame
from gme_tui.sources.live import LiveSource, load_adapter
from tests.fakes.exchange import FakeExchange, make_tape
from tests.fakes.exchange_protocols import PROTOCOLS
from tests.live.conftest import SYMBOLS, Drain, make_settings


async def handler_costs(fake: FakeExchange, n: int) -> None:
    settings = make_settings(fake, EXCHANGES, SYMBOLS, backfill=False)
    source = LiveSource(settings, clock=fake.clock)
    print(f"{'exchange':10} {'ours µs/trade':>14} {'ccxt bare µs/trade':>19} {'ratio':>6} {'ours trades/s':>14}")
    for exchange in EXCHANGES:
        collector = source.collectors[exchange]
        adapter = load_adapter(exchange)
        rest = adapter.rest_client(collector.config)
        markets = await rest.load_markets()
        await rest.close()
        collector.symbol_of_id = {markets[s]["id"]: s.split("/")[0] + "/USDT" for s in markets}
        now = fake.clock.wall_ms()
        tape = make_tape(fake, exchange, SYMBOLS, n, now - 50_000, now)
        frames = [orjson.dumps(f).decode() for f in PROTOCOLS[exchange].frames(tape)]

        # ours: decode + parse + validate + ledger + Trade, then the engine
        from gme_tui.sources.collector import Session

        ours = adapter.ws_client(collector.config, Session(collector, 0, []))
        ours.set_markets(list(markets.values()))
        client = ours.client("ws://127.0.0.1:1/bench")
        sink: list = []
        collector.emit_trade = sink.append
        engine = Engine(EngineConfig(exchanges=EXCHANGES, clock="external", warmup=False, track_coverage=True))
        t0 = time.perf_counter()
        for text in frames:
            _decode_frame(client, ours, text)
        engine.feed_many(sink)
        ours_s = time.perf_counter() - t0
        assert len(sink) == n, (exchange, len(sink))

        # ccxt's own handler on the same frames (decode + parse + cache), no engine
        bare = adapter.pro_class(dict(collector.config))
        bare.set_markets(list(markets.values()))
        bare_client = bare.client("ws://127.0.0.1:1/bench")
        t0 = time.perf_counter()
        for text in frames:
            bare_client.handle_text_or_binary_message(text)
        bare_s = time.perf_counter() - t0
        await ours.close()
        await bare.close()
        print(
            f"{exchange:10} {ours_s / n * 1e6:14.2f} {bare_s / n * 1e6:19.2f} {ours_s / bare_s:6.2f} {n / ours_s:14,.0f}"
        )
    await source.close()


async def through_sockets(fake: FakeExchange, n: int) -> None:
    print("\nend to end through the fake's sockets (server and client share this process/core):")
    for exchange in EXCHANGES:
        settings = make_settings(fake, (exchange,), SYMBOLS, backfill=False)
        source = LiveSource(settings, clock=fake.clock)
        drain = Drain(source)
        await fake.wait_subscribed(exchange, len(SYMBOLS))
        now = fake.clock.wall_ms()
        tape = make_tape(fake, exchange, SYMBOLS, n, now - 50_000, now)
        t0 = time.perf_counter()
        await fake.publish(tape)
        await drain.until(lambda d=drain: len(d.trades()) >= n, timeout=120)
        elapsed = time.perf_counter() - t0
        print(f"  {exchange:10} {n:,} trades in {elapsed:.2f}s = {n / elapsed:,.0f} trades/s (fake server included)")
        await drain.stop()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trades", type=int, default=20_000)
    args = parser.parse_args()
    fake = await FakeExchange(SystemClock()).start()
    try:
        await handler_costs(fake, args.trades)
        await through_sockets(fake, args.trades)
    finally:
        await fake.stop()


if __name__ == "__main__":
    asyncio.run(main())
