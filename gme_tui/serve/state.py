"""What a daemon keeps to serve an attaching TUI at once: the state a TUI started with it would show.

Pure (no I/O), fed by the server's `on_events` / `on_health`. It holds references to the engine's
frozen events, so keeping it costs no copy; the snapshot is encoded only when a client attaches.

- the latest scan, in full (the table, the detail screen's per-minute flows);
- earlier scans reduced to their symbols with signals (consensus and signals, no per-exchange
  windows): enough for an attached TUI to fold the same signal log as a local one. Bounded to
  `SIGNALS_PER_ROW` times the log's rows in signals, which covers a log whose every entry folds
  a repeat a minute for half an hour;
- whales in arrival order (twice the ticker's rows: the ticker places backfilled ones itself);
- the latest health heartbeat and the robots' status.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

from gme_tui.model import EngineEvent, HealthUpdate, Liquidation, RobotStatus, Scan, SymbolScan, Whale
from gme_tui.serve.protocol import ServedEvent, Snapshot

SIGNALS_PER_ROW = 32


def signals_only(scan: Scan) -> Scan | None:
    """The scan reduced to its symbols with signals (None when it has none)."""
    items = tuple(
        SymbolScan(item.consensus, item.signals, {}, None, None, 0.0) for item in scan.symbols if item.signals
    )
    return Scan(scan.ts, scan.window_minutes, items) if items else None


class ServedState:
    def __init__(self, *, whale_rows: int = 200, signal_rows: int = 500) -> None:
        self.scan: Scan | None = None
        self.history: deque[Scan] = deque()
        self._history_signals = 0
        self._signal_cap = signal_rows * SIGNALS_PER_ROW
        self.whales: deque[Whale] = deque(maxlen=2 * whale_rows)
        self.liquidations: deque[Liquidation] = deque(maxlen=2 * whale_rows)  # the feed pane's rows
        self.health: HealthUpdate | None = None
        self.robots: tuple[RobotStatus, ...] = ()
        self.version = 0  # bumped on every change: the server caches one snapshot per version

    def apply(self, events: Sequence[EngineEvent]) -> list[ServedEvent]:
        """Fold a batch in; returns what attached TUIs get of it (scans, whales and liquidations,
        in order)."""
        served: list[ServedEvent] = []
        for event in events:
            if isinstance(event, Scan):
                self._new_scan(event)
                served.append(event)
            elif isinstance(event, Whale):
                self.whales.append(event)
                served.append(event)
            elif isinstance(event, Liquidation):
                self.liquidations.append(event)
                served.append(event)
        if served:
            self.version += 1
        return served

    def _new_scan(self, scan: Scan) -> None:
        previous, self.scan = self.scan, scan
        if previous is None:
            return
        reduced = signals_only(previous)
        if reduced is None:
            return
        self.history.append(reduced)
        self._history_signals += _signal_count(reduced)
        while self._history_signals > self._signal_cap and len(self.history) > 1:
            self._history_signals -= _signal_count(self.history.popleft())

    def set_health(self, update: HealthUpdate, robots: Sequence[RobotStatus]) -> None:
        self.health = update
        self.robots = tuple(robots)
        self.version += 1

    def snapshot(self) -> Snapshot:
        return Snapshot(
            tuple(self.history), tuple(self.whales), self.scan, self.health, self.robots, tuple(self.liquidations)
        )


def _signal_count(scan: Scan) -> int:
    return sum(len(item.signals) for item in scan.symbols)
