"""Backfill at start and after a gap, one source per minute, coverage, reconnects, watchdog,
bans: on a clock 60× faster than real time (a virtual minute per real second)."""

from __future__ import annotations

import asyncio
from collections import defaultdict

from gme_tui.model import MINUTE_MS, Coverage, Scan
from gme_tui.sources.live import LiveSource
from tests.fakes.exchange import make_tape
from tests.live.conftest import Drain, make_engine, make_settings

HISTORY = ("binance", "okx", "coinbase")
SYMBOLS2 = ["BTC/USDT", "ETH/USDT"]
W = 3


def window_totals(tape, first_minute, last_minute):
    out = defaultdict(lambda: [0.0, 0.0])
    for t in tape:
        if first_minute <= t.ts // MINUTE_MS <= last_minute:
            out[(t.exchange, t.symbol)][0 if t.side == "buy" else 1] += t.value
    return {k: tuple(v) for k, v in out.items()}


async def run_market(fake, exchanges, symbols, tape, every_s: float = 3.0) -> None:
    seed = 100
    while True:
        now = fake.clock.wall_ms()
        for exchange in exchanges:
            burst = make_tape(fake, exchange, symbols, 3, now - 20, now, seed=seed)
            seed += 1
            tape.extend(burst)
            await fake.publish(burst)
        await fake.clock.sleep(every_s)


def scan_at(engine, ts):
    engine.advance(ts - 1)
    scans = [e for e in engine.advance(ts) if isinstance(e, Scan)]
    assert scans and scans[-1].ts == ts
    return scans[-1]


def idle(source):
    return all(not c.backfiller or c.backfiller.idle for c in source.collectors.values())


async def test_flows_equal_the_tape_across_a_disconnect_with_backfill(fake_fast):
    fake, clock = fake_fast, fake_fast.clock
    start = clock.wall_ms()
    tape = []
    for i, exchange in enumerate(HISTORY):  # the exchange traded before we started
        tape += make_tape(fake, exchange, SYMBOLS2, 60, start - (W + 1) * MINUTE_MS, start - 50, seed=i)
    fake.add_history(tape)
    settings = make_settings(fake, HISTORY, SYMBOLS2, window=W)
    source = LiveSource(settings, clock=clock, settle_seconds=2.0)
    engine = make_engine(settings)
    drain = Drain(source, engine)
    market = None
    try:
        for exchange in HISTORY:
            await fake.wait_subscribed(exchange, 2)

        market = asyncio.create_task(run_market(fake, HISTORY, SYMBOLS2, tape))  # trades every 3 s, never quiet
        await drain.until(lambda: clock.wall_ms() > start + 70_000, timeout=5)
        fake.refuse_ws.update(HISTORY)  # a gap: sockets down, the market trades on
        for exchange in HISTORY:
            await fake.drop(exchange)
        await drain.until(lambda: all(h.state in ("reconnecting", "down") for h in source.health()), timeout=5)
        gap_end = clock.wall_ms() + 40_000
        await drain.until(lambda: clock.wall_ms() > gap_end, timeout=5)
        fake.refuse_ws.clear()
        await drain.until(lambda: {h.state for h in source.health()} == {"live"}, timeout=5)
        boundary = (clock.wall_ms() // MINUTE_MS + 2) * MINUTE_MS  # the window holds the gap's last minutes
        last_minute = boundary // MINUTE_MS - 1
        await drain.until(lambda: clock.wall_ms() > boundary + 4000 and idle(source), timeout=10)
        scan = scan_at(engine, boundary)
        expected = window_totals(tape, last_minute - W + 1, last_minute)
        for item in scan.symbols:
            for exchange, window in item.exchanges.items():
                pair = engine._pairs[(exchange, item.consensus.symbol)]
                per_minute = {m: (r[0], r[1]) for m, r in pair.minutes.items() if m >= last_minute - W + 1}
                tape_minutes = {
                    m: window_totals(tape, m, m).get((exchange, item.consensus.symbol))
                    for m in range(last_minute - W + 1, last_minute + 1)
                }
                assert (window.buy, window.sell) == expected[(exchange, item.consensus.symbol)], (
                    exchange,
                    per_minute,
                    tape_minutes,
                    sorted(pair.covered),
                    sorted(pair.bucket_minutes),
                    [(s.covered_through, s.proven_ts, s.gap_from) for s in source.collectors[exchange].sessions],
                    source.collectors[exchange].dropped,
                )
                pair = engine._pairs[(exchange, item.consensus.symbol)]
                assert window.covered_minutes == W, (
                    exchange,
                    sorted(pair.covered),
                    sorted(pair.bucket_minutes),
                    last_minute,
                    [(s.covered_through, s.proven_ts, s.gap_from) for s in source.collectors[exchange].sessions],
                )
            assert item.consensus.coverage == {e: W for e in HISTORY}
        assert {h.state for h in source.health()} == {"live"}
        assert all(fake.connections_total[e] >= 2 for e in HISTORY)
        assert any(isinstance(i, Coverage) for i in drain.items)

        calls = sum(len(fake.rest_calls[e]) for e in HISTORY)  # steady state: no REST at all
        quiet_until = clock.wall_ms() + 2 * MINUTE_MS
        await drain.until(lambda: clock.wall_ms() > quiet_until, timeout=5)
        assert sum(len(fake.rest_calls[e]) for e in HISTORY) == calls, {e: fake.rest_calls[e][-6:] for e in HISTORY}
    finally:
        if market is not None:
            market.cancel()
        await drain.stop()


async def test_bybit_has_no_history_and_its_coverage_grows_from_the_start(fake_fast):
    fake, clock = fake_fast, fake_fast.clock
    settings = make_settings(fake, ("bybit",), SYMBOLS2, window=W)
    source = LiveSource(settings, clock=clock)
    engine = make_engine(settings)
    drain = Drain(source, engine)
    try:
        await fake.wait_subscribed("bybit", 2)
        market = asyncio.create_task(run_market(fake, ("bybit",), SYMBOLS2, []))
        up = clock.wall_ms()
        target = (up // MINUTE_MS + 3) * MINUTE_MS
        await drain.until(lambda: clock.wall_ms() > target + 500, timeout=6)
        scan = scan_at(engine, target)
        coverage = {item.consensus.symbol: item.consensus.coverage["bybit"] for item in scan.symbols}
        assert coverage == {"BTC/USDT": 2, "ETH/USDT": 2}  # the connect minute is partial: not covered
        (health,) = source.health()
        assert health.backfill_total == 0 and health.state == "live"
        assert all("instruments" in p for _, p in fake.rest_calls["bybit"])  # markets only, no history
        market.cancel()
    finally:
        await drain.stop()


async def test_the_watchdog_reconnects_a_silent_socket(fake_fast):
    fake, clock = fake_fast, fake_fast.clock
    settings = make_settings(fake, ("okx",), SYMBOLS2, window=W, watchdog=30, backfill=False)
    source = LiveSource(settings, clock=clock)
    drain = Drain(source)
    try:
        await fake.wait_subscribed("okx", 2)
        fake.stall("okx")  # open socket, nothing sent, pings unanswered
        await drain.until(lambda: source.health()[0].state == "reconnecting", timeout=5)
        assert "no message for 30s" in source.health()[0].reason
        fake.stall("okx", False)
        await fake.wait_connections("okx", 2)
        await fake.wait_subscribed("okx", 2)
        now = clock.wall_ms()
        await fake.publish(make_tape(fake, "okx", SYMBOLS2, 5, now - 10, now))
        await drain.until(lambda: len(drain.trades("okx")) == 5, timeout=5)
        assert source.health()[0].state == "live"
    finally:
        await drain.stop()


async def test_an_unreachable_exchange_says_why_and_the_others_run_on(fake_fast):
    fake, clock = fake_fast, fake_fast.clock
    dead = {"urls": {"api": {"rest": "http://127.0.0.1:9/okx", "ws": "ws://127.0.0.1:9/okx/ws/v5"}}}
    settings = make_settings(fake, ("okx", "binance"), SYMBOLS2, window=W, backfill=False, overrides={"okx": dead})
    source = LiveSource(settings, clock=clock)
    drain = Drain(source)
    try:
        await fake.wait_subscribed("binance", 2)
        await drain.until(lambda: source.health()[1].state == "down", timeout=10)
        okx = source.health()[1]
        assert okx.exchange == "okx" and okx.reason == "connection refused"
        now = clock.wall_ms()
        await fake.publish(make_tape(fake, "binance", SYMBOLS2, 4, now - 10, now))
        await drain.until(lambda: len(drain.trades("binance")) == 4, timeout=5)
        assert source.health()[0].state == "live"
        failures = source.collectors["okx"].markets_failures
        await drain.until(lambda: source.collectors["okx"].markets_failures > failures + 1, timeout=10)  # forever
    finally:
        await drain.stop()


async def test_a_binance_418_ban_is_waited_out_then_the_backfill_completes(fake_fast):
    fake, clock = fake_fast, fake_fast.clock
    fake.fail_rest("binance", 418, times=1, path="klines")
    settings = make_settings(fake, ("binance",), ["BTC/USDT"], window=W)
    source = LiveSource(settings, clock=clock)
    drain = Drain(source)
    try:
        await drain.until(lambda: "418" in source.health()[0].reason, timeout=5)
        health = source.health()[0]
        assert "until" in health.reason and health.state == "backfilling"
        await drain.until(lambda: source.health()[0].backfill_done == 1, timeout=8)
        klines = [ts for ts, p in fake.rest_calls["binance"] if "klines" in p]
        assert klines[1] - klines[0] >= 119_000  # kept off the exchange for the whole 120 s ban
    finally:
        await drain.stop()


async def test_429_and_503_on_markets_are_retried(fake_fast):
    fake, clock = fake_fast, fake_fast.clock
    fake.fail_rest("okx", 429, times=1, path="instruments")
    fake.fail_rest("okx", 503, times=1, path="instruments")
    settings = make_settings(fake, ("okx",), SYMBOLS2, window=W, backfill=False)
    source = LiveSource(settings, clock=clock)
    drain = Drain(source)
    try:
        await fake.wait_subscribed("okx", 2, timeout=10)
        assert source.collectors["okx"].markets_failures == 2
    finally:
        await drain.stop()
