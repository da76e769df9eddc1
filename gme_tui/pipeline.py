"""Wires one source to the engine and fans out to consumers: the engine's events, and the source's
health on the pipeline's own heartbeat.

Arrows point one way: the source knows nothing of consumers, consumers nothing of sources.
Consumers' `on_events` and `on_health` must be quick and must not raise (the UI posts a message;
the alert dispatcher enqueues); a consumer that raises is logged and the others still get theirs.

Heartbeat: after each batch the pipeline reads `source.health()` and hands every consumer a
`HealthUpdate` at most once a second of `now_ms` time, at once when any exchange's state, reason or
retry attempt changed, and a last time when the source ends. So an "exchange down" alert goes out on the
pipeline's clock, not on a screen's refresh rate, and no consumer polls another.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Protocol, runtime_checkable

from gme_tui.core.clock import wall_ms
from gme_tui.core.seams import EventConsumer, Source
from gme_tui.engine import Engine, EngineConfig
from gme_tui.model import MINUTE_MS, EngineEvent, ExchangeHealth, HealthState, HealthUpdate, Scan, SourceItem

log = logging.getLogger(__name__)

SCAN_WAIT_MAX_MS = 15_000
"""Live: how long past its grace a scan waits for the source to settle its minutes (the backfill
of a partial or gap minute, a stream minute's proof)."""
FIRST_SCAN_WAIT_MAX_MS = 60_000
"""Live: how long past the start the first scan waits for the window's initial backfill."""
CLOCK_WAIT_MAX_MS = 15_000
"""Live: how long (monotonic) the engine's clock waits for a first trade to tell the exchanges'
time before it starts on the local clock's word (a market without a trade for that long)."""


@runtime_checkable
class ScanReadiness(Protocol):
    """A live source that can say when the minutes before a boundary are settled, and what time
    it is on the exchanges' clock, which its trades' minutes are on (LiveSource)."""

    def ready_for_scan(self, boundary_ms: int, *, initial: bool = False) -> bool: ...

    def exchange_now_ms(self) -> int:
        """The exchanges' time now (ms UTC) as the source estimates it (local wall minus the
        measured offset, immune to a step of the local clock)."""
        ...

    def exchange_time_known(self) -> bool:
        """Has a trade told the exchanges' time yet? (Before, exchange_now_ms is a guess: the
        local clock.)"""
        ...


HEARTBEAT_MS = 1_000
"""The longest wait between two health updates while batches arrive (ms of `now_ms` time)."""

_HealthKey = tuple[tuple[str, HealthState, str, int], ...]


class Pipeline:
    def __init__(
        self,
        source: Source,
        engine: Engine,
        consumers: Sequence[EventConsumer] = (),
        *,
        scan_grace_ms: int = 2_000,
        now_ms: Callable[[], int] = wall_ms,
        monotonic_ms: Callable[[], int] | None = None,
    ) -> None:
        """`now_ms`: the local wall clock (ms UTC): the health updates' stamps, and the time scans
        are scheduled on unless the source tells the exchanges' time (a ScanReadiness, live): then
        boundaries are the exchanges' (their trades' minutes), so a local clock ahead, behind or
        stepped (NTP) neither scans a minute before it ended there nor stalls or bursts. The
        engine has no clock of its own: it is handed this time. `monotonic_ms` (live): a
        clock that never steps (ms), which arrivals and the whale quiet time are measured on, so an
        NTP step of the wall clock cannot split or hold back an order (SPEC §5); None: `now_ms`."""
        self.source = source
        self.engine = engine
        self.consumers: list[EventConsumer] = list(consumers)
        self.scan_grace_ms = scan_grace_ms
        self.now_ms = now_ms
        self.monotonic_ms = monotonic_ms or now_ms
        self._pending_config: EngineConfig | None = None
        self._health_key: _HealthKey | None = None  # what the last update said (state, reason)
        self._health_due_ms: int | None = None  # when the next update is due without a change
        self._health_failing = False  # health() raised: logged once until it works again
        self._readiness = source if isinstance(source, ScanReadiness) else None
        self._first_step_ms: int | None = None  # the first live step, on `monotonic_ms`
        self._started_ms: int | None = None  # then, on the exchanges' clock, once that is known

    @property
    def live(self) -> bool:
        return self.engine.config.clock == "external"

    def add_consumer(self, consumer: EventConsumer) -> None:
        self.consumers.append(consumer)

    async def run(self) -> None:
        """Until the source ends (replay) or the task is cancelled (live, demo)."""
        engine = self.engine
        try:
            async for batch in self.source.batches():
                events = self._step(batch)
                if events:
                    self._publish(events)
                self._heartbeat(final=False)
        except Exception:
            if not self.live:  # a damaged file ends the replay: still report what was read
                self._publish(engine.finish())
            self._heartbeat(final=True)
            raise
        else:
            if not self.live:
                self._publish(engine.finish())
            self._heartbeat(final=True)
        finally:
            if self.live:  # stopped (cancelled): minutes changed since the last scan still reach the store
                self._publish(engine.flush_minutes(self._scan_now()))
            await self.source.close()

    def reconfigure(self, config: EngineConfig) -> None:
        """Hand the engine new settings; applied before the next batch, or at once by `rescan_now`."""
        self._pending_config = config

    def rescan_now(self) -> Scan | None:
        """Apply the settings handed to `reconfigure` now and publish the last reported boundary
        re-scanned under them (same `ts`, `Scan.rescan=True`) to every consumer, so figures, TOTAL,
        consensus, signals and coverage follow a saved setting at once, not at the next minute
        (issue 13 item 3). Works while the source runs and after it ended (a finished replay).
        Call it on the pipeline's event loop (the UI's handlers are): batches are applied
        synchronously, so it always lands between two. Returns the re-scan, None before the first
        scan (nothing shown yet to recompute) or while the new window warms up (replay, demo).
        The store and the alerts ignore a re-scan: that boundary was stored and alerted."""
        self._apply_pending_config()
        scan = self.engine.rescan()
        if scan is not None:
            self._publish([scan])
        return scan

    def _apply_pending_config(self) -> None:
        if self._pending_config is not None:
            config, self._pending_config = self._pending_config, None
            self.engine.reconfigure(config)

    def _step(self, batch: Sequence[SourceItem]) -> list[EngineEvent]:
        self._apply_pending_config()
        if not self.live:
            return self.engine.feed_many(batch) if batch else []
        # Live: trades are stamped with their arrival on the local monotonic clock, which the whale
        # quiet time is measured on (SPEC §5), never against their exchange ts nor the wall clock.
        arrived = self.monotonic_ms()
        events = self.engine.feed_many(batch, arrived_ms=arrived) if batch else []
        start = self._live_start(arrived)
        if start is None:
            return events  # no trade yet told the exchanges' time (whales come with trades)
        now = self._scan_now()
        events.extend(
            self.engine.advance(
                now,
                scan_grace_ms=self.scan_grace_ms,
                scan_before_ms=self._hold(now),
                quiet_now_ms=arrived,
                start_ms=start,
            )
        )
        return events

    def _scan_now(self) -> int:
        """The time scans are due on (ms UTC): the exchanges' when the source tells it."""
        readiness = self._readiness
        return readiness.exchange_now_ms() if readiness is not None else self.now_ms()

    def _live_start(self, arrived: int) -> int | None:
        """When the run started (the first live step), on the exchanges' clock; None until a
        trade told that clock, for at most CLOCK_WAIT_MAX_MS (a local clock off at the start
        must not fix the engine's first boundary an hour away)."""
        if self._started_ms is not None:
            return self._started_ms
        if self._first_step_ms is None:
            self._first_step_ms = arrived
        waited = arrived - self._first_step_ms
        readiness = self._readiness
        if readiness is not None and not readiness.exchange_time_known() and waited < CLOCK_WAIT_MAX_MS:
            return None
        self._started_ms = self._scan_now() - waited
        return self._started_ms

    def _hold(self, now: int) -> int | None:
        """The boundary to hold back, if any: the latest one due whose minutes the source is
        still settling, for at most SCAN_WAIT_MAX_MS (so no scan is short for no reason: the
        first after a start or a reconnect, issue 10 item 7; what cannot settle soon is shown
        short rather than waited for)."""
        if self._started_ms is None:  # not via _step (a caller of its own)
            self._started_ms = now
        if self._readiness is None:
            return None
        boundary = (now - self.scan_grace_ms) // MINUTE_MS * MINUTE_MS
        initial = self.engine.last_scan is None
        if initial:
            deadline = self._started_ms + FIRST_SCAN_WAIT_MAX_MS
        else:
            deadline = boundary + self.scan_grace_ms + SCAN_WAIT_MAX_MS
        if now >= deadline or self._readiness.ready_for_scan(boundary, initial=initial):
            return None
        return boundary

    def _publish(self, events: list[EngineEvent]) -> None:
        if not events:
            return
        for consumer in self.consumers:
            try:
                consumer.on_events(events)
            except BrokenPipeError:  # stdout's reader left: nothing more to do
                raise
            except Exception:  # one broken consumer must not stop the others or the data
                log.exception("consumer %s failed", type(consumer).__name__)

    # ------------------------------------------------------------ health

    def _heartbeat(self, *, final: bool) -> None:
        """Read the source's health; hand it out when due, changed, or at the end (`final`)."""
        now = self.now_ms()
        records = self._read_health()
        if records is None:
            return
        key = tuple((h.exchange, h.state, h.reason, h.attempt) for h in records)  # a new retry shows at once
        due = self._health_due_ms is None or now >= self._health_due_ms
        if not (final or due or key != self._health_key):
            return
        self._health_key = key
        self._health_due_ms = now + HEARTBEAT_MS
        update = HealthUpdate(now_ms=now, mode=self.source.mode, exchanges=records)
        for consumer in self.consumers:
            try:
                consumer.on_health(update)
            except Exception:  # as for events: the others still get their update
                log.exception("consumer %s failed on health", type(consumer).__name__)

    def _read_health(self) -> tuple[ExchangeHealth, ...] | None:
        try:
            records = tuple(self.source.health())
        except Exception:  # a broken health() must not stop the data
            if not self._health_failing:
                log.exception("source health() failed")
            self._health_failing = True
            return None
        self._health_failing = False
        return records
