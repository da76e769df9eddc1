"""Issue 13 item 7, live side: every retry is visible. The collector's health carries the attempts
since the last success and the wall ms of the next try while it backs off (None while trying or
live), and every attempt is logged at INFO or above with its number, wait and reason.

Against the fake exchange with the REAL ccxt clients: a refused connection (nothing listens on
the REST port), HTTP 429 with Retry-After on the markets endpoint, refused WebSocket handshakes.
"""

from __future__ import annotations

import logging
import re
import socket

import orjson
import pytest

from gme_tui.model import ExchangeHealth, HealthState
from tests.fakes.harness import LiveRun, fake_exchange, pinned_clock
from tests.live.conftest import make_settings

ATTEMPT_LOGGED = re.compile(r"attempt (\d+), next in (\d+\.\d)s")


def closed_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def attempts_logged(caplog: pytest.LogCaptureFixture, what: str) -> list[int]:
    return [
        int(m.group(1))
        for r in caplog.records
        if r.levelno >= logging.INFO and what in r.getMessage() and (m := ATTEMPT_LOGGED.search(r.getMessage()))
    ]


async def test_a_refused_connection_shows_each_attempt_and_its_next_try(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="gme_tui.sources")
    clock = pinned_clock(10.0, speed=20.0)
    async with fake_exchange(clock) as fake:
        dead = orjson.dumps(fake.ccxt_settings("binance")).decode().replace(str(fake.port), str(closed_port()))
        settings = make_settings(fake, ("binance",), ["BTC/USDT"], overrides={"binance": orjson.loads(dead)})
        run = LiveRun(settings, clock).start()
        seen: list[tuple[int, ExchangeHealth]] = []

        def third_attempt() -> bool:
            health = run.source.health()[0]
            seen.append((clock.wall_ms(), health))
            return health.attempt >= 3

        try:
            await run.until(third_attempt, timeout=20)
        finally:
            await run.stop()
    backing_off = [(now, h) for now, h in seen if h.attempt > 0]
    assert {h.attempt for _, h in backing_off} >= {1, 2, 3}
    assert all(h.reason == "connection refused" for _, h in backing_off)
    assert all(h.state in (HealthState.CONNECTING, HealthState.DOWN) for _, h in backing_off)
    # while it waits, the next try is ahead of the clock, and never further than the backoff cap (20 s)
    waits = [(h.next_try_ms - now) for now, h in backing_off if h.next_try_ms is not None]
    assert waits and all(0 < w <= 20_000 for w in waits)
    assert attempts_logged(caplog, "cannot load markets")[:3] == [1, 2, 3]


async def test_a_429_with_retry_after_shows_its_wait_then_live_clears_it(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="gme_tui.sources")
    clock = pinned_clock(10.0, speed=10.0)
    async with fake_exchange(clock) as fake:
        fake.rate_limit("binance", "binance-429", times=2, path="exchangeInfo", wait_s=5.0)
        settings = make_settings(fake, ("binance",), ["BTC/USDT"], backfill=False)
        run = LiveRun(settings, clock).start()
        seen: list[tuple[int, ExchangeHealth]] = []

        def live() -> bool:
            health = run.source.health()[0]
            seen.append((clock.wall_ms(), health))
            return health.state == HealthState.LIVE

        try:
            await run.until(live, timeout=20)
            answers = [ms for ms, _path, _kind in fake.limit_answers["binance"]]
        finally:
            await run.stop()
    first = [(now, h) for now, h in seen if h.attempt == 1 and h.next_try_ms is not None]
    second = [(now, h) for now, h in seen if h.attempt == 2 and h.next_try_ms is not None]
    assert first and second
    assert all(h.next_try_ms is not None and h.next_try_ms >= answers[0] + 5_000 for _, h in first)  # Retry-After
    assert all("rate limited" in h.reason for _, h in first + second)
    last = seen[-1][1]
    assert (last.attempt, last.next_try_ms) == (0, None)
    assert attempts_logged(caplog, "cannot load markets") == [1, 2]


async def test_refused_sockets_count_attempts_and_going_live_resets_them(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="gme_tui.sources")
    clock = pinned_clock(10.0, speed=20.0)
    async with fake_exchange(clock) as fake:
        fake.refuse_ws.add("okx")
        settings = make_settings(fake, ("okx",), ["BTC/USDT"], backfill=False)
        run = LiveRun(settings, clock).start()
        seen: list[tuple[int, ExchangeHealth]] = []

        def watch(predicate):  # type: ignore[no-untyped-def]
            def check() -> bool:
                health = run.source.health()[0]
                seen.append((clock.wall_ms(), health))
                return bool(predicate(health))

            return check

        try:
            await run.until(watch(lambda h: h.attempt >= 2), timeout=20)
            fake.refuse_ws.clear()
            await run.until(watch(lambda h: h.state == HealthState.LIVE), timeout=20)
        finally:
            await run.stop()
    retrying = [(now, h) for now, h in seen if h.attempt > 0]
    assert {h.attempt for _, h in retrying} >= {1, 2}
    assert any(h.next_try_ms is not None and h.next_try_ms > now for now, h in retrying)
    assert all(h.state in (HealthState.RECONNECTING, HealthState.DOWN, HealthState.CONNECTING) for _, h in retrying)
    assert (seen[-1][1].attempt, seen[-1][1].next_try_ms) == (0, None)
    assert attempts_logged(caplog, "okx session 0")[:2] == [1, 2]
