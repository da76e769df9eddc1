"""Malformed frames, unknown symbols, NaN/negative numbers, trades from the future: dropped and
counted per exchange, never a crash, never a stalled stream."""

from __future__ import annotations

import orjson

from gme_tui.sources.live import LiveSource
from tests.fakes.exchange import make_tape
from tests.live.conftest import Drain, make_settings

SYMBOLS2 = ["BTC/USDT", "ETH/USDT"]


async def test_bad_frames_are_dropped_and_counted_and_the_stream_goes_on(fake_real):
    fake = fake_real
    settings = make_settings(fake, ("binance", "okx"), SYMBOLS2, backfill=False)
    source = LiveSource(settings, clock=fake.clock)
    drain = Drain(source)
    try:
        await fake.wait_subscribed("binance", 2)
        await fake.wait_subscribed("okx", 2)
        now = fake.clock.wall_ms()
        good = {"e": "aggTrade", "E": now, "s": "BTCUSDT", "a": 1, "p": "10.0", "q": "1.0", "T": now, "m": False}
        bad_binance = [
            "{not json",
            orjson.dumps({**good, "s": "NOPEUSDT"}).decode(),  # unknown symbol
            orjson.dumps({**good, "p": "NaN"}).decode(),
            orjson.dumps({**good, "q": "-1"}).decode(),
            orjson.dumps({**good, "T": now + 3_600_000}).decode(),  # an hour in the future
            orjson.dumps({**good, "p": "abc"}).decode(),  # malformed trade frame
            orjson.dumps({"e": "aggTrade"}).decode(),  # fields missing
            "[1, 2",
        ]
        for text in bad_binance:
            await fake.send_raw("binance", text)
        await fake.send_raw("okx", '{"arg": {"channel": "trades", "instId": "BTC-USDT"}, "data": [{"px": "1"}]}')
        await fake.send_raw("okx", b"\xff\xfe".decode("latin-1"))
        tape = make_tape(fake, "binance", SYMBOLS2, 5, now - 10, now) + make_tape(
            fake, "okx", SYMBOLS2, 5, now - 10, now
        )
        await fake.publish(tape)
        await drain.until(lambda: len(drain.trades()) == 10, timeout=5)
        health = {h.exchange: h for h in source.health()}
        assert health["binance"].dropped == len(bad_binance)
        assert health["okx"].dropped == 1  # the non-JSON text is not a trade frame: ccxt ignores it
        assert {h.state for h in health.values()} == {"live"}
        assert fake.connections_total["binance"] == 1  # no reconnect needed
        reasons = source.dropped()["binance"]
        assert reasons["unknown symbol"] == 1 and reasons["timestamp in the future"] == 1
    finally:
        await drain.stop()
