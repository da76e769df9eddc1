"""One connection of a collector, and what it is known to have carried.

Two kinds of evidence, told apart (issue 10 items 2, 6, 8):
- The SOCKET is alive while frames come: trades, acks, keep-alives (OKX's `pong`, Bybit's ping
  answers, Coinbase heartbeats) and protocol pings (Binance's server pings every 20 s). A socket
  with nothing at all for a watchdog period is closed.
- The SUBSCRIPTION delivers while trade frames come. Keep-alives cannot prove that; a quiet
  session is checked against the exchange's REST (liveness.py) instead of being reconnected.

Coverage is measured on the EXCHANGE's clock, from the evidence: `proven_ts` is the exchange
time (ms) up to which the stream is known to have carried every trade: the newest trade it
delivered, or the moment a REST check found nothing the stream had not. A minute is covered only
once `proven_ts` has passed its end, never by the local clock's say-so, so a stall's last
seconds are not covered, and the minutes after `covered_through` go to the backfill when the
connection is lost (the interval ends at the last evidence, not when the loss is noticed).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from gme_tui.model import MINUTE_MS, HealthState

if TYPE_CHECKING:
    from gme_tui.core.clock import Clock
    from gme_tui.sources.ccxt_common import Connection, Row
    from gme_tui.sources.collector import Collector
    from gme_tui.sources.perp.common import LiquidationRow

INF = math.inf
NEVER = -(1 << 62)


FUTURE_RUN_FRAMES = 5  # frames in a row, all "in the future" by one clock: it is this clock that is off
FUTURE_RUN_MS = 5_000  # over at least this long (monotonic ms)
FUTURE_RUN_SPREAD_MS = 5_000  # agreeing within this (ms): bogus stamps do not agree


class ExchangeClock:
    """The exchange's clock as this process sees it, from the trades that arrive (issue 10):
    exchange ms = local MONOTONIC ms + `lead`, `lead` being the largest `ts - arrival` (arrival on
    the monotonic clock) over the trades of this monotonic minute and the last: latency is mostly
    taken out, a drift is followed within two minutes, and an NTP step of the local wall clock
    (which `monotonic` ignores) moves nothing, at once and in both directions. So the scans, the
    "future" limit, the backfill's due times and the REST proofs, timed on it, hold across a step
    (`offset_ms`, local wall minus exchange, changes by the step instead).

    Before any trade the wall clock at construction is the prior (exchange time = wall time then
    + time elapsed since): a step before the first trade moves nothing either. Without trades for
    two minutes the last estimate stays. Every valid trade of a frame is a sample, accepted or not
    (a duplicate, one late for a settled minute): such a trade can only say the exchange is
    behind, never ahead. Frames rejected as too far in the future (`sample_future`) are samples
    only as a run: FUTURE_RUN_FRAMES of them in a row (no frame accepted between) over
    FUTURE_RUN_MS whose leads agree within FUTURE_RUN_SPREAD_MS say that this clock is off (it
    started an hour behind): the estimate takes their lead. A single bogus stamp never moves it."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._minute = NEVER  # the monotonic minute of `_current`
        self._current = -INF  # the largest lead seen in it
        self._previous = -INF  # and in the minute before
        self._lead = clock.wall_ms() - self.monotonic_ms()  # the prior: the wall clock is right now
        self.sampled = False  # a trade was seen
        self._run = 0  # frames in the current run of "future" ones
        self._run_since = 0
        self._run_low = INF
        self._run_high = -INF

    def monotonic_ms(self) -> int:
        return int(self.clock.monotonic() * 1000)

    def sample(self, ts: int, arrival_ms: int | None = None) -> None:
        """A trade stamped `ts` (exchange ms) arrived at `arrival_ms` (monotonic ms; None: now)."""
        arrival = self.monotonic_ms() if arrival_ms is None else arrival_ms
        minute = arrival // MINUTE_MS
        if minute != self._minute:
            self._previous = self._current if minute == self._minute + 1 else -INF
            self._current = -INF
            self._minute = minute
        lead = ts - arrival
        if lead > self._current:
            self._current = lead
        self._lead = int(max(self._current, self._previous))
        self.sampled = True
        self._run = 0

    def sample_future(self, ts: int, arrival_ms: int | None = None) -> bool:
        """A frame whose trades were all rejected as in the future (its newest stamped `ts`).
        True when this completes a run: the estimate now takes their lead."""
        arrival = self.monotonic_ms() if arrival_ms is None else arrival_ms
        lead = ts - arrival
        if self._run and max(self._run_high, lead) - min(self._run_low, lead) > FUTURE_RUN_SPREAD_MS:
            self._run = 0  # they disagree: start a run over from this one
        if not self._run:
            self._run_since, self._run_low, self._run_high = arrival, lead, lead
        self._run += 1
        self._run_low, self._run_high = min(self._run_low, lead), max(self._run_high, lead)
        if self._run < FUTURE_RUN_FRAMES or arrival - self._run_since < FUTURE_RUN_MS:
            return False
        self._run = 0
        self._minute, self._current, self._previous = arrival // MINUTE_MS, self._run_high, -INF
        self._lead = int(self._run_high)
        self.sampled = True
        return True

    def now_ms(self) -> int:
        """The exchange's time now (ms UTC), as estimated."""
        return self.monotonic_ms() + self._lead

    def offset_ms(self) -> int:
        """The local wall clock minus the exchange's (ms)."""
        return self.clock.wall_ms() - self.now_ms()


class Session:
    """One connection (one ccxt.pro client) for a chunk of symbols: its state, the evidence of
    what it carried, and the minutes it covered. It is the `FrameSink` of its hooked client."""

    def __init__(self, collector: Collector, index: int, symbols: list[str]) -> None:
        self.collector = collector
        self.index = index
        self.symbols = symbols  # canonical
        self.groups: list[list[str]] = []  # the subscribe requests of the current connection
        self.state = HealthState.CONNECTING
        self.reason = ""
        self.failures = 0
        self.ever_live = False
        # The socket: monotonic seconds.
        self.last_frame = -INF  # any frame at all
        self.last_trade_frame = -INF  # a frame with trades
        self.live_since = -INF
        self.live_since_ms: int | None = None  # local wall ms; None while not connected
        self.reading = False  # a connection is open and read: only then can a frame make the session live
        # The subscription check (liveness.py).
        self.last_check = -INF  # monotonic seconds of the last check's start
        self.checked_boundary = NEVER  # the exchange minute boundary (ms) last checked for
        self.baseline: tuple[str, str] | None = None  # (symbol, the REST's newest trade id) then
        # Evidence and coverage, on the exchange's clock.
        self.up_ts = NEVER  # when it came up, on the exchange's clock (estimated)
        self.proven_ts = NEVER
        self.covered_through = NEVER  # the last minute handed out as covered (this connection)
        self.next_cover_ms = 1 << 62  # proven_ts at or past this covers one more minute
        self.gap_from: int | None = None  # first minute not covered when the last connection went
        self.next_try_ms: int | None = None  # local wall ms of the next connect while backing off

    # ------------------------------------------------------------ FrameSink

    def on_frame(self) -> None:
        collector = self.collector
        self.last_frame = collector.clock.monotonic()
        if self.live_since_ms is None and self.reading:
            collector.session_live(self)

    def on_rows(self, rows: list[Row]) -> None:
        self.collector.ingest(rows, self)

    def on_liquidations(self, rows: list[LiquidationRow]) -> None:
        """A perp venue's liquidation frame (its own session; SPEC §4b)."""
        self.collector.ingest_liquidations(rows)

    def on_bad_frame(self, why: str) -> None:
        self.collector.drop(why)

    def on_rejected(self, market_ids: list[str], connection: Connection) -> None:
        self.collector.subscription_rejected(self, market_ids, connection)

    # ------------------------------------------------------------ edges

    def went_live(self, now_ms: int, monotonic: float, exchange_ms: int) -> int:
        """The connection is up (its first frame; `now_ms` local wall, `exchange_ms` the
        exchange's clock): returns the exchange minute it came up in, which is partial (never
        covered by the stream)."""
        self.live_since_ms = now_ms
        self.live_since = monotonic
        self.state = HealthState.LIVE
        self.reason = ""
        self.failures = 0
        up_ts = exchange_ms
        up_minute = up_ts // MINUTE_MS
        self.up_ts = up_ts
        self.proven_ts = up_ts
        self.covered_through = up_minute
        self.next_cover_ms = (up_minute + 2) * MINUTE_MS
        self.baseline = None
        return up_minute

    def rebase(self, exchange_ms: int) -> tuple[int, int] | None:
        """The exchange clock's estimate moved (its first trade found the local clock off, or a
        run of "future" frames did): the evidence so far was on the wrong scale. Live, the
        session starts it over as if it came up now (`exchange_ms`): returns the minutes the
        backfill must now settle (from the first one not covered to the one it is up in, which is
        partial), or None (the scale moved back: what it covered lies ahead)."""
        if self.live_since_ms is None:
            return None
        first = self.covered_through + 1
        up_minute = exchange_ms // MINUTE_MS
        self.up_ts = self.proven_ts = exchange_ms
        self.covered_through = up_minute
        self.next_cover_ms = (up_minute + 2) * MINUTE_MS
        self.checked_boundary = NEVER
        self.baseline = None
        return (first, up_minute) if first <= up_minute else None

    def went_down(self) -> None:
        """The connection is gone: what it did not prove goes to the backfill from here. Frames
        its client still reads while it closes do not make the session live again."""
        self.reading = False
        if self.live_since_ms is None:
            return
        self.gap_from = self.covered_through + 1
        self.live_since_ms = None
        self.next_cover_ms = 1 << 62

    def prove(self, ts: int) -> tuple[int, int] | None:
        """Evidence up to exchange time `ts`: the minutes (first, last) it newly covers, if any."""
        if ts <= self.proven_ts:
            return None
        self.proven_ts = ts
        if ts < self.next_cover_ms:
            return None
        first = self.covered_through + 1
        last = ts // MINUTE_MS - 1
        self.covered_through = last
        self.next_cover_ms = (last + 2) * MINUTE_MS
        return first, last
