"""System alerts from ExchangeHealth records: an exchange down longer than a setting, and its recovery."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from gme_tui.model import ExchangeHealth

UP_STATES = frozenset({"live", "backfilling", "replay", "simulated", "done"})


@dataclass(frozen=True)
class HealthChange:
    kind: str  # "down" | "up"
    exchange: str
    since_ms: int  # start of the outage
    now_ms: int
    reason: str = ""


class OutageTracker:
    """Remembers when each exchange stopped being up; reports each outage once, then its end."""

    def __init__(self, down_after_ms: int) -> None:
        self.down_after_ms = down_after_ms
        self.outage_start: dict[str, int] = {}
        self.alerted: set[str] = set()

    def update(self, records: Sequence[ExchangeHealth], now_ms: int) -> list[HealthChange]:
        changes: list[HealthChange] = []
        for record in records:
            name = record.exchange
            if record.state in UP_STATES:
                start = self.outage_start.pop(name, None)
                if name in self.alerted and start is not None:
                    self.alerted.discard(name)
                    changes.append(HealthChange("up", name, start, now_ms))
                continue
            # connecting / reconnecting / down all mean no data; the state may change during
            # one outage, so its start is the earliest seen.
            start = min(self.outage_start.get(name, now_ms), record.since_ms or now_ms)
            self.outage_start[name] = start
            if name not in self.alerted and now_ms - start >= self.down_after_ms:
                self.alerted.add(name)
                changes.append(HealthChange("down", name, start, now_ms, record.reason))
        return changes
