"""Which engine events become alerts, for which robot, and when (SPEC §10).

| kind                                  | DingTalk          | WeCom     | @all |
| A+ / A signal                         | immediate         | immediate | yes  |
| strong_bullish / strong_bearish, on entering | immediate  | immediate | yes  |
| whale ≥ whale_notify_threshold        | immediate         | immediate | no   |
| B signal                              | 30-minute digest  | immediate | no   |
| C signal                              | log only          | log only  | no   |

Pure apart from the log: time comes in, the cooldown memory is a plain dict the dispatcher
persists. Cooldowns and muting use event time, so a replay behaves like the day it recorded.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from gme_tui.alerts.messages import AlertMessage, MessageRenderer
from gme_tui.model import Scan, Whale
from gme_tui.settings import AlertSettings

log = logging.getLogger("gme_tui.alerts")

IMMEDIATE = "immediate"
DIGEST = "digest"
STRONG_LEVELS = ("strong_bullish", "strong_bearish")


@dataclass(frozen=True)
class Decision:
    """An alert and how each robot gets it: {robot name: IMMEDIATE | DIGEST}."""

    message: AlertMessage
    routes: dict[str, str]


class AlertPolicy:
    def __init__(self, alerts: AlertSettings, renderer: MessageRenderer, cooldowns: dict[tuple[str, str], int]) -> None:
        self.alerts = alerts
        self.renderer = renderer
        self.cooldowns = cooldowns  # (symbol, key) -> event time of the last alert
        self.cooldown_ms = int(alerts.cooldown_minutes * 60_000)
        self.levels: dict[str, str] = {}  # symbol -> level at its previous scan
        self.muted_until: dict[str, int] = {}
        self.new_cooldowns: list[tuple[str, str, int]] = []  # for the dispatcher to persist

    # -------------------------------------------------------- muting

    def mute(self, symbol: str, until_ms: int) -> None:
        self.muted_until[symbol] = until_ms

    def unmute(self, symbol: str) -> None:
        self.muted_until.pop(symbol, None)

    def is_muted(self, symbol: str, now_ms: int) -> bool:
        return symbol in self.alerts.muted or self.muted_until.get(symbol, 0) > now_ms

    # -------------------------------------------------------- events

    def decide(self, events: Iterable[object], now_ms: int) -> list[Decision]:
        """`now_ms` is the wall clock, for muting; cooldowns use each event's own time."""
        out: list[Decision] = []
        for event in events:
            if isinstance(event, Scan):
                self._scan(event, now_ms, out)
            elif isinstance(event, Whale):
                self._whale(event, now_ms, out)
        return out

    def _scan(self, scan: Scan, now_ms: int, out: list[Decision]) -> None:
        for item in scan.symbols:
            consensus = item.consensus
            previous = self.levels.get(consensus.symbol)
            self.levels[consensus.symbol] = consensus.level
            # Entering a strong level: this scan strong, the previous one (if any) not that level.
            # The first scan seen counts: the user wants to know the state now; the persisted
            # cooldown keeps a restart from repeating it.
            if consensus.level in STRONG_LEVELS and previous != consensus.level and self.alerts.enable_consensus_notify:
                message = self.renderer.consensus(consensus)
                self._admit(message, both(IMMEDIATE), now_ms, out)
            for signal in item.signals:
                self._signal(self.renderer.signal(signal, item), signal.grade, now_ms, out)

    def _signal(self, message: AlertMessage, grade: str, now_ms: int, out: list[Decision]) -> None:
        if grade == "C":
            if self._cool(message):  # log only, with the cooldown so the log is not flooded
                log.info("C signal (log only): %s", message.line)
            return
        if grade not in self.alerts.notify_grades:
            log.debug("signal not notified (grade %s not in alerts.notify_grades): %s", grade, message.line)
            return
        routes = {"dingtalk": DIGEST, "wecom": IMMEDIATE} if grade == "B" else both(IMMEDIATE)
        self._admit(message, routes, now_ms, out)

    def _whale(self, whale: Whale, now_ms: int, out: list[Decision]) -> None:
        if not self.alerts.enable_whale_notify or whale.value < self.alerts.whale_notify_threshold:
            return
        if whale.backfilled:  # found in history after a gap or a restart: old news, and a restart would repeat it
            return
        # No cooldown: each whale is a distinct order, not a repeated state. Floods are merged
        # into digests by the rate limiter instead.
        message = self.renderer.whale(whale)
        if self.is_muted(whale.symbol, now_ms):
            log.info("muted %s: %s", whale.symbol, message.line)
            return
        out.append(Decision(message, both(IMMEDIATE)))

    def system(self, message: AlertMessage) -> Decision:
        return Decision(message, both(IMMEDIATE))

    def _admit(self, message: AlertMessage, routes: dict[str, str], now_ms: int, out: list[Decision]) -> None:
        if self.is_muted(message.symbol, now_ms):
            log.info("muted %s: %s", message.symbol, message.line)
            return
        if not self._cool(message):
            log.debug("in cooldown: %s", message.line)
            return
        out.append(Decision(message, routes))

    def _cool(self, message: AlertMessage) -> bool:
        """True (and the cooldown restarts) when (symbol, key) is out of its cooldown."""
        slot = (message.symbol, message.key)
        last = self.cooldowns.get(slot)
        if last is not None and message.ts - last < self.cooldown_ms and message.ts >= last:
            return False
        self.cooldowns[slot] = message.ts
        self.new_cooldowns.append((message.symbol, message.key, message.ts))
        return True

    def take_new_cooldowns(self) -> Sequence[tuple[str, str, int]]:
        entries, self.new_cooldowns = self.new_cooldowns, []
        return entries


def both(route: str) -> dict[str, str]:
    return {"dingtalk": route, "wecom": route}
