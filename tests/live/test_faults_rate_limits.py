"""Issue 10 item 3: every exchange's rate-limit and ban answers, in their real shapes
(tests/fakes/faults.py), are shown as a rate limit or ban with its wait, and the next call comes
no earlier than the exchange asked (Retry-After, Bybit's reset timestamp) or documented (Bybit's
HTTP 403: at least 10 minutes; OKX counts its public limits per 2 s, Coinbase per second), with a
growing backoff when the exchange keeps saying stop without saying how long (four answers in a
row: the last wait at least twice the documented one).

Each case answers the first calls of one REST path with the limit answer, then serves normally;
the fake records when every call came (on the test clock).
"""

from __future__ import annotations

import asyncio
import itertools
import re
from dataclasses import dataclass

from tests.fakes.exchange import make_tape
from tests.fakes.faults import RateLimitKind, documented_wait_s
from tests.fakes.harness import LiveRun, fake_exchange, pinned_clock
from tests.live.conftest import make_settings

LIMIT_SHOWN = re.compile(r"rate.?limit|\bban", re.IGNORECASE)
WAIT_SHOWN = re.compile(r"until \d\d:\d\d(:\d\d)?|\b\d+(\.\d+)?\s?(s|sec|seconds|m|min|minutes)\b")


@dataclass(frozen=True)
class Case:
    exchange: str
    kind: RateLimitKind
    path: str  # the REST path the answer is given on
    times: int  # answers in a row
    wait_s: float | None  # what the answer asks for (None: the answer names no wait)
    speed: float  # the test clock's speed, so that the waits take about a second of real time
    backfill: bool = False

    @property
    def id(self) -> str:
        return f"{self.kind}-{'backfill' if self.backfill else 'markets'}"


MARKETS = [
    Case("binance", "binance-429", "exchangeInfo", 2, 5.0, 60.0),
    Case("binance", "binance-418", "exchangeInfo", 1, 120.0, 400.0),
    Case("okx", "okx-50011", "instruments", 4, None, 30.0),
    Case("okx", "okx-429-html", "instruments", 4, None, 30.0),
    Case("bybit", "bybit-10006", "instruments-info", 2, 1.0, 15.0),
    Case("bybit", "bybit-10018", "instruments-info", 2, 1.0, 15.0),
    Case("bybit", "bybit-403", "instruments-info", 1, None, 1200.0),
    Case("coinbase", "coinbase-429", "/products", 4, None, 15.0),
]
BACKFILL = [
    Case("binance", "binance-429", "klines", 2, 5.0, 60.0, backfill=True),
    Case("okx", "okx-50011", "history-trades", 4, None, 30.0, backfill=True),
    Case("coinbase", "coinbase-429", "/trades", 4, None, 15.0, backfill=True),
]


def shown_as_limit(reason: str) -> bool:
    """A rate limit or ban, with its wait, in words: not ccxt's raw text with URLs and JSON."""
    return bool(LIMIT_SHOWN.search(reason) and WAIT_SHOWN.search(reason)) and "{" not in reason and "://" not in reason


async def verdict(case: Case) -> str:
    """'' when the case is handled right, else what went wrong."""
    clock = pinned_clock(20.0, speed=case.speed)
    async with fake_exchange(clock) as fake:
        if case.backfill:  # something to backfill: the minutes before the start traded
            start = clock.wall_ms()
            fake.add_history(make_tape(fake, case.exchange, ["BTC/USDT"], 20, start - 180_000, start - 1_000))
        fake.rate_limit(case.exchange, case.kind, times=case.times, path=case.path, wait_s=case.wait_s)
        # The socket watchdog at 2 s of real time whatever the speed: at 1200x a 30 s watchdog is 25 ms
        # real, which a loaded machine's pause trips (a reconnect, not what is tested here).
        watchdog = max(30.0, 2.0 * case.speed)
        settings = make_settings(
            fake, (case.exchange,), ["BTC/USDT"], window=3, backfill=case.backfill, watchdog=watchdog
        )
        run = LiveRun(settings, clock, settle_seconds=1.0).start()
        reasons: set[str] = set()
        wait = documented_wait_s(case.kind, case.wait_s or 0.0)

        def done() -> bool:
            reasons.update(h.reason for h in run.source.health() if h.reason)
            calls = [ms for ms, path in fake.rest_calls[case.exchange] if case.path in path]
            if len(calls) <= case.times:
                return False
            health = run.source.health()[0]
            return health.backfill_done >= 1 if case.backfill else bool(fake.subscribed(case.exchange))

        try:
            await run.until(done, timeout=5 + case.times * 3 * wait / case.speed)
        except TimeoutError:
            return f"no successful call after the limit answers (reasons {sorted(reasons)})"
        finally:
            await run.stop()
    calls = [ms for ms, path in fake.rest_calls[case.exchange] if case.path in path][: case.times + 1]
    gaps = [(b - a) / 1000 for a, b in itertools.pairwise(calls)]
    if not any(shown_as_limit(r) for r in reasons):
        return f"not shown as a rate limit or ban with its wait: {sorted(reasons)}"
    if not all(gap >= wait for gap in gaps):
        return f"called again too soon: gaps {gaps} s, least wait {wait} s"
    # The exchange named no wait: the client's must grow. Load only ever lengthens a measured gap,
    # so the check is a lower bound: by the 4th stop in a row, twice the documented least wait.
    if case.wait_s is None and case.times >= 4 and not gaps[-1] >= 2 * wait:
        return f"the backoff does not grow: gaps {gaps} s, least wait {wait} s"
    return ""


async def verdicts(cases: list[Case]) -> dict[str, str]:
    """Every case at once (each on its own fake and clock): {case id: what went wrong}."""
    results = await asyncio.gather(*(verdict(c) for c in cases))
    return {c.id: r for c, r in zip(cases, results) if r}


async def test_limit_answers_on_the_markets_endpoint_are_shown_and_waited_out():
    assert await verdicts(MARKETS) == {}


async def test_limit_answers_during_the_backfill_are_shown_and_waited_out():
    assert await verdicts(BACKFILL) == {}
