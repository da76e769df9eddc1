"""The one input of the scorecard (SPEC §13), built the same way from a replay's engine events and
from the store: closed minutes (each one's close, the last spot trade price) and the signals.

Both sources hand over exactly what the store keeps: the engine's `ClosedMinutes` rows (a
re-emitted minute replaces the earlier one, as in the store) and the reported signals with their
participating exchanges. So a replay and a store holding that replay's data give the same figures.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from gme_tui.model import MINUTE_MS, ClosedMinutes, EngineEvent, HealthUpdate, MinuteBucket, Scan, SignalCode


@dataclass(frozen=True, slots=True)
class SignalMark:
    """One reported signal: scan time `ts` (ms), its code, the exchanges that participated."""

    ts: int
    code: SignalCode
    exchanges: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PriceSeries:
    """One (exchange, symbol)'s minutes: `minutes` (ascending, ts // 60000) that have a close and
    their `closes` (quote per base unit); `first_minute`: its first minute with any row, the
    minute from which it participates."""

    first_minute: int
    minutes: Sequence[int]
    closes: Sequence[float]


@dataclass(frozen=True, slots=True)
class SymbolHistory:
    symbol: str
    prices: Mapping[str, PriceSeries]  # per exchange that has any row
    signals: tuple[SignalMark, ...]  # by ts, then code


@dataclass(frozen=True, slots=True)
class ScoreData:
    """Everything the scorecard reads. `row_minutes`: ascending minutes with a row of any symbol
    (a scan closed them: the scans of the data are derived from them); `since_ms`/`until_ms`:
    the period scored (scan times T, ms), None for no bound."""

    window_minutes: int
    row_minutes: tuple[int, ...]
    symbols: tuple[SymbolHistory, ...]
    since_ms: int | None = None
    until_ms: int | None = None

    @property
    def last_scan_ms(self) -> int | None:
        """The data's last scan: the one that closed its last minute."""
        return (self.row_minutes[-1] + 1) * MINUTE_MS if self.row_minutes else None


@dataclass
class ScoreDataBuilder:
    """Collects rows and signals, in any order; `build` sorts them into a ScoreData."""

    window_minutes: int
    _rows: dict[tuple[str, str], dict[int, float | None]] = field(default_factory=dict)
    _signals: dict[str, set[SignalMark]] = field(default_factory=dict)

    def add_minute(self, bucket: MinuteBucket) -> None:
        """A stored (or closed) minute; a later one for the same minute replaces it. Perp minutes
        are left out: the scorecard prices on spot trades (SPEC §13)."""
        if bucket.market != "spot":
            return
        self._rows.setdefault((bucket.symbol, bucket.exchange), {})[bucket.minute] = bucket.close

    def forget_before(self, minute: int) -> None:
        """Drop rows of minutes before `minute` and signals before it (a session's bound: a TUI
        open for days must not grow without end). Rows are kept in arrival order, which is minute
        order but for late ones, so the oldest are at the front."""
        for rows in self._rows.values():
            while rows:
                first = next(iter(rows))
                if first >= minute:
                    break
                del rows[first]
        cut_ms = minute * MINUTE_MS
        for symbol, marks in self._signals.items():
            if any(mark.ts < cut_ms for mark in marks):
                self._signals[symbol] = {mark for mark in marks if mark.ts >= cut_ms}

    def add_signal(self, symbol: str, ts: int, code: SignalCode, exchanges: Iterable[str]) -> None:
        self._signals.setdefault(symbol, set()).add(SignalMark(ts, code, tuple(exchanges)))

    def build(self, *, since_ms: int | None = None, until_ms: int | None = None) -> ScoreData:
        per_symbol: dict[str, dict[str, PriceSeries]] = {}
        row_minutes: set[int] = set()
        for (symbol, exchange), rows in self._rows.items():
            if not rows:
                continue
            row_minutes.update(rows)
            priced = sorted((m, c) for m, c in rows.items() if c is not None)
            per_symbol.setdefault(symbol, {})[exchange] = PriceSeries(
                first_minute=min(rows),
                minutes=array("q", (m for m, _ in priced)),
                closes=array("d", (c for _, c in priced)),
            )
        names = sorted(set(per_symbol) | set(self._signals))
        symbols = tuple(
            SymbolHistory(
                symbol=name,
                prices=per_symbol.get(name, {}),
                signals=tuple(sorted(self._signals.get(name, ()), key=lambda s: (s.ts, s.code))),
            )
            for name in names
        )
        return ScoreData(self.window_minutes, tuple(sorted(row_minutes)), symbols, since_ms, until_ms)


class ScoreCollector:
    """An event consumer that keeps what the scorecard needs from a run (a replay, or the TUI's
    session: the engine must emit ClosedMinutes, `EngineConfig(emit_minutes=True)`)."""

    def __init__(self, window_minutes: int, *, keep_minutes: int | None = None) -> None:
        """`keep_minutes`: keep only the latest this many minutes of data (None: all of it, as
        a replay's scorecard needs)."""
        self.builder = ScoreDataBuilder(window_minutes)
        self.keep_minutes = keep_minutes
        self._newest = -1

    def on_events(self, events: Sequence[EngineEvent]) -> None:
        for event in events:
            if isinstance(event, ClosedMinutes):
                for bucket in event.buckets:
                    self.builder.add_minute(bucket)
                    if bucket.minute > self._newest:
                        self._newest = bucket.minute
                if self.keep_minutes is not None and self._newest >= 0:
                    self.builder.forget_before(self._newest - self.keep_minutes + 1)
            elif isinstance(event, Scan) and not event.rescan:  # a re-scan under new settings: not data
                for item in event.symbols:
                    for signal in item.signals:
                        self.builder.add_signal(signal.symbol, signal.ts, signal.code, signal.flows)

    def on_health(self, update: HealthUpdate) -> None:
        return None

    def data(self, *, since_ms: int | None = None, until_ms: int | None = None) -> ScoreData:
        return self.builder.build(since_ms=since_ms, until_ms=until_ms)
