"""Which engine events become alerts, for which robot, and when (SPEC §10).

| kind                                  | DingTalk          | WeCom     | @all |
| A+ / A signal                         | immediate         | immediate | yes  |
| strong_bullish / strong_bearish, on entering | immediate  | immediate | yes  |
| whale ≥ whale_notify_threshold        | immediate         | immediate | no   |
| B signal                              | 30-minute digest  | immediate | no   |
| C signal                              | log only          | log only  | no   |
| liquidation ≥ liquidation_notify_threshold (off by default) | immediate | immediate | no |

A re-scan (`Scan.rescan`: the last boundary scanned again after a settings change) is shown, never
alerted: that boundary was decided already.

The policy decides before it renders: grade, mute and cooldown are checked on the event itself,
and only an alert that goes out is rendered to markdown. Pure apart from the log and two pieces
of memory that the dispatcher persists in the outbox: each symbol's previous level (so a restart
does not announce again a strong level that held before it stopped) and the cooldown times.
Cooldowns use event time, so a replay behaves like the day it recorded; mutes use the wall clock.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from gme_tui.alerts.messages import AlertMessage, Category, MessageRenderer
from gme_tui.core.mutes import Mutes
from gme_tui.model import (
    MINUTE_MS,
    Consensus,
    EngineEvent,
    Grade,
    Level,
    Liquidation,
    RobotName,
    Scan,
    Signal,
    SymbolScan,
    Whale,
)
from gme_tui.settings import AlertSettings

log = logging.getLogger("gme_tui.alerts")


class Route(StrEnum):
    """How one robot gets an alert."""

    IMMEDIATE = "immediate"
    DIGEST = "digest"  # waits for the periodic digest (B signals on DingTalk)


STRONG_LEVELS = (Level.STRONG_BULLISH, Level.STRONG_BEARISH)

CooldownSlot = tuple[str, str]
"""(symbol, cooldown key): a signal code, a level, ..."""


@dataclass(frozen=True)
class Decision:
    """An alert and how each robot gets it. `dedupe`: the same for the same alert decided by
    another process from the same market (None for system alerts, which are each process's own)."""

    message: AlertMessage
    routes: Mapping[RobotName, Route]
    dedupe: str | None = None


@dataclass(frozen=True)
class LevelChanges:
    """What the level memory learnt since it was last taken: symbols whose level changed, and the
    latest scan time (ms; None when no scan was seen)."""

    levels: Mapping[str, Level]
    scan_ts: int | None


class AlertPolicy:
    def __init__(
        self,
        alerts: AlertSettings,
        renderer: MessageRenderer,
        cooldowns: dict[CooldownSlot, int],
        mutes: Mutes | None = None,
        *,
        remembered: Mapping[str, Level] | None = None,
        remembered_scan_ts: int = 0,
    ) -> None:
        """`cooldowns`: (symbol, key) -> event time (ms) of its last alert, as the outbox kept them.
        `mutes`: the one mute state, shared with the UI (by default the settings' `alerts.muted`).
        `remembered`: each symbol's level at the last scan of the previous run (at
        `remembered_scan_ts`, ms): it counts as the previous level of a symbol's first scan in
        this run when no more than a window lies between the two scans."""
        self.alerts = alerts
        self.renderer = renderer
        self.mutes = mutes if mutes is not None else Mutes(alerts.muted)
        self.cooldowns = cooldowns
        self.cooldown_ms = int(alerts.cooldown_minutes * 60_000)
        self.levels: dict[str, Level] = {}  # symbol -> level at its previous scan
        self.remembered: Mapping[str, Level] = dict(remembered or {})
        self.remembered_scan_ts = remembered_scan_ts
        self.new_cooldowns: list[tuple[str, str, int]] = []  # for the dispatcher to persist
        self._level_changes: dict[str, Level] = {}
        self._last_scan_ts: int | None = None

    def reconfigure(self, alerts: AlertSettings) -> None:
        """New grades, thresholds and cooldown from the next event on."""
        self.alerts = alerts
        self.cooldown_ms = int(alerts.cooldown_minutes * 60_000)

    # -------------------------------------------------------- cooldowns

    def cooling_down(self, symbol: str, key: str, ts_ms: int) -> bool:
        """Whether (symbol, key) was alerted less than the cooldown before event time `ts_ms`.
        A question only: nothing changes."""
        last = self.cooldowns.get((symbol, key))
        return last is not None and ts_ms - last < self.cooldown_ms and ts_ms >= last

    def start_cooldown(self, symbol: str, key: str, ts_ms: int) -> None:
        """Record that (symbol, key) went out at event time `ts_ms` (kept for the dispatcher to persist)."""
        self.cooldowns[(symbol, key)] = ts_ms
        self.new_cooldowns.append((symbol, key, ts_ms))

    def take_new_cooldowns(self) -> Sequence[tuple[str, str, int]]:
        entries, self.new_cooldowns = self.new_cooldowns, []
        return entries

    def take_level_changes(self) -> LevelChanges:
        changes = LevelChanges(self._level_changes, self._last_scan_ts)
        self._level_changes, self._last_scan_ts = {}, None
        return changes

    def _previous_level(self, consensus: Consensus) -> Level | None:
        """The symbol's level at its previous scan: this run's, else the remembered one when the
        gap since the previous run's last scan is at most a window (the windows then overlap)."""
        if consensus.symbol in self.levels:
            return self.levels[consensus.symbol]
        gap = consensus.ts - self.remembered_scan_ts
        if self.remembered_scan_ts and 0 <= gap <= consensus.window_minutes * MINUTE_MS:
            return self.remembered.get(consensus.symbol)
        return None

    # -------------------------------------------------------- events

    def decide(self, events: Iterable[EngineEvent], now_ms: int) -> list[Decision]:
        """`now_ms` is the wall clock, for muting; cooldowns use each event's own time."""
        out: list[Decision] = []
        for event in events:
            if isinstance(event, Scan):
                if not event.rescan:
                    self._scan(event, now_ms, out)
            elif isinstance(event, Whale):
                self._whale(event, now_ms, out)
            elif isinstance(event, Liquidation):
                self._liquidation(event, now_ms, out)
        return out

    def _scan(self, scan: Scan, now_ms: int, out: list[Decision]) -> None:
        self._last_scan_ts = max(scan.ts, self._last_scan_ts or scan.ts)
        for item in scan.symbols:
            consensus = item.consensus
            previous = self._previous_level(consensus)
            if self.levels.get(consensus.symbol) != consensus.level:
                self._level_changes[consensus.symbol] = consensus.level
            self.levels[consensus.symbol] = consensus.level
            # Entering a strong level: this scan strong, the previous one (if any) not that level.
            # The first scan seen counts unless the previous run saw the level hold just before
            # it stopped (the level memory); the persisted cooldown covers the rest.
            entering = consensus.level in STRONG_LEVELS and previous != consensus.level
            if (
                entering
                and self.alerts.enable_consensus_notify
                and self._admit(Category.CONSENSUS, consensus.symbol, consensus.level, consensus.ts, now_ms)
            ):
                dedupe = f"consensus|{consensus.symbol}|{consensus.level}|{consensus.ts}"
                out.append(Decision(self.renderer.consensus(consensus), both(Route.IMMEDIATE), dedupe))
            for signal in item.signals:
                self._signal(signal, item, now_ms, out)

    def _signal(self, signal: Signal, item: SymbolScan, now_ms: int, out: list[Decision]) -> None:
        grade = signal.grade
        if grade == Grade.C:
            # Log only, with the cooldown so the log is not flooded; only its line is rendered.
            if not self.cooling_down(signal.symbol, signal.code, signal.ts):
                self.start_cooldown(signal.symbol, signal.code, signal.ts)
                log.info("C signal (log only): %s", self.renderer.signal_line(signal))
            return
        if grade not in self.alerts.notify_grades:
            log.debug(
                "signal not notified (grade %s not in alerts.notify_grades): %s %s", grade, signal.symbol, signal.code
            )
            return
        if self._admit(Category.SIGNAL, signal.symbol, signal.code, signal.ts, now_ms):
            routes = route(dingtalk=Route.DIGEST, wecom=Route.IMMEDIATE) if grade == Grade.B else both(Route.IMMEDIATE)
            dedupe = f"signal|{signal.symbol}|{signal.code}|{signal.ts}"
            out.append(Decision(self.renderer.signal(signal, item), routes, dedupe))

    def _whale(self, whale: Whale, now_ms: int, out: list[Decision]) -> None:
        if not self.alerts.enable_whale_notify or whale.value < self.alerts.whale_notify_threshold:
            return
        if whale.backfilled:  # found in history after a gap or a restart: old news, and a restart would repeat it
            return
        # No cooldown: each whale is a distinct order, not a repeated state. Floods are merged
        # into digests by the rate limiter instead.
        if self._muted(Category.WHALE, whale.symbol, "whale", now_ms):
            return
        dedupe = f"whale|{whale.exchange}|{whale.symbol}|{whale.ts}|{whale.side}"  # one taker order (SPEC §5)
        out.append(Decision(self.renderer.whale(whale), both(Route.IMMEDIATE), dedupe))

    def _liquidation(self, event: Liquidation, now_ms: int, out: list[Decision]) -> None:
        alerts = self.alerts
        if not alerts.enable_liquidation_notify or event.value < alerts.liquidation_notify_threshold:
            return
        # No cooldown, as for whales: each is a distinct forced order; floods go into digests.
        if self._muted(Category.LIQUIDATION, event.symbol, "liquidation", now_ms):
            return
        dedupe = f"liquidation|{event.exchange}|{event.symbol}|{event.ts}|{event.side}|{event.value!r}"
        out.append(Decision(self.renderer.liquidation(event), both(Route.IMMEDIATE), dedupe))

    def system(self, message: AlertMessage) -> Decision:
        return Decision(message, both(Route.IMMEDIATE))

    def _admit(self, category: Category, symbol: str, key: str, ts_ms: int, now_ms: int) -> bool:
        """Not muted and out of its cooldown: the alert goes out, and its cooldown starts."""
        if self._muted(category, symbol, key, now_ms):
            return False
        if self.cooling_down(symbol, key, ts_ms):
            log.debug("in cooldown: %s %s %s", symbol, category, key)
            return False
        self.start_cooldown(symbol, key, ts_ms)
        return True

    def _muted(self, category: Category, symbol: str, key: str, now_ms: int) -> bool:
        if not self.mutes.is_muted(symbol, now_ms):
            return False
        log.info("muted %s: %s %s not sent", symbol, category, key)
        return True


def route(*, dingtalk: Route, wecom: Route) -> dict[RobotName, Route]:
    return {"dingtalk": dingtalk, "wecom": wecom}


def both(how: Route) -> dict[RobotName, Route]:
    return route(dingtalk=how, wecom=how)
