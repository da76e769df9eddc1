"""System alerts from the pipeline's health heartbeat: an exchange down longer than a setting, and
its recovery (SPEC §10)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from gme_tui.model import ExchangeHealth, HealthState

ChangeKind = Literal["down", "up"]


@dataclass(frozen=True)
class HealthChange:
    kind: ChangeKind
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
        """The changes worth an alert at `now_ms` (ms: wall time live, data time in replays)."""
        changes: list[HealthChange] = []
        for record in records:
            name = record.exchange
            # HealthState(...) is a no-op for members and accepts a source's plain string too.
            if HealthState(record.state).up:
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
