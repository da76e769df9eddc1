"""The signal scorecard (SPEC §13) as a pure function of a ScoreData: no I/O, no clock.

Definitions, as SPEC §13 words them and where it is silent:
- **Scans** of the data: every minute boundary `T = (m + 1) · 60000` after a minute `m` that has a
  row (a scan closed it), from the first row's minute plus the window on (the warm-up, SPEC §6),
  within the period. A replay's scans, and a store's, derive the same way from the same rows.
- **Episode**: a run of scans one minute apart in which the same (symbol, code) holds; it starts at
  its first scan `T`, and it is scored when `T` falls in the period.
- **Reference exchange** of a symbol at `T`: Binance when it participates, else the first of okx,
  bybit, coinbase that does. An episode takes the participants of its signal (its flows); the
  baseline takes the exchanges with a row before `T`.
- **Prices**: `p0` = the close of the latest minute before `T` with a trade on the reference
  exchange; `p_h` the same before `T + h`; `r_h = p_h / p0 − 1`. Without `p0` there is no return.
- An episode (or a baseline scan) whose `T + h` is after the data's last scan is open at `h` and
  left out of it. Hits: bullish `r_h > 0`, bearish `r_h < 0`; neutral codes have none.
- **Baseline**: the same returns over every scan of every symbol (`up_rate`: share with `r_h > 0`).
Rates are rounded to 4 decimals as SPEC shows them; mean and median are left exact.
"""

from __future__ import annotations

import statistics
from array import array
from bisect import bisect_left
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from gme_tui.model import DIRECTION_OF, EXCHANGES, MINUTE_MS, Direction, SignalCode
from gme_tui.scorecard.data import PriceSeries, ScoreData, SignalMark, SymbolHistory

HORIZONS: tuple[int, ...] = (15, 60, 240)
"""Forward-return horizons in minutes (SPEC §13's default)."""

RATE_DIGITS = 4


@dataclass(frozen=True, slots=True)
class HorizonScore:
    """One code at one horizon: closed `episodes`, their `hits` and `hit_rate` (None for neutral
    codes and without episodes), `mean` and `median` return (fractions: 0.01 = +1 %)."""

    episodes: int
    hits: int | None
    hit_rate: float | None
    mean: float | None
    median: float | None


@dataclass(frozen=True, slots=True)
class CodeScore:
    """One signal code: `episodes` started in the period (`unpriced`: of them, without a reference
    price before T), and per horizon the closed ones' figures."""

    code: SignalCode
    direction: Direction
    episodes: int
    unpriced: int
    horizons: Mapping[int, HorizonScore]


@dataclass(frozen=True, slots=True)
class BaselineScore:
    """Every scan of every symbol at one horizon: `scans` with a return, `up_rate` (share > 0),
    `mean` and `median` return; None without scans."""

    scans: int
    up_rate: float | None
    mean: float | None
    median: float | None


@dataclass(frozen=True, slots=True)
class Scorecard:
    horizons: tuple[int, ...]
    codes: tuple[CodeScore, ...]  # every known code, by grade
    baseline: Mapping[int, BaselineScore]
    symbols: int  # symbols with data
    scans: int  # scan times in the period
    first_scan_ms: int | None
    last_scan_ms: int | None  # the data's last scan (horizons past it are open)


def code_order() -> tuple[SignalCode, ...]:
    """Every code, bullish A+ first: A+ bullish, A+ bearish, A, B, C (SPEC §4's grades)."""
    rank = {
        SignalCode.GLOBAL_SYNC_BULLISH: 0,
        SignalCode.GLOBAL_SYNC_BEARISH: 1,
        SignalCode.US_INSTITUTIONAL_ACCUMULATION: 2,
        SignalCode.DERIVATIVES_HEDGE: 3,
        SignalCode.SINGLE_PLATFORM_LONG_TRAP: 4,
    }
    return tuple(sorted(SignalCode, key=lambda code: (rank.get(code, len(rank)), code.value)))


def scan_times(data: ScoreData) -> list[int]:
    """The data's scans in the period (ms, ascending): see the module's definition."""
    if not data.row_minutes:
        return []
    first_reported = data.row_minutes[0] + data.window_minutes  # in minutes
    since = data.since_ms if data.since_ms is not None else -(1 << 62)
    until = data.until_ms if data.until_ms is not None else 1 << 62
    times = ((m + 1) * MINUTE_MS for m in data.row_minutes if m + 1 >= first_reported)
    return [t for t in times if since <= t <= until]


def compute(data: ScoreData, horizons: Sequence[int] = HORIZONS) -> Scorecard:
    """The scorecard of `data` at `horizons` (minutes, positive; duplicates dropped)."""
    steps = tuple(sorted(set(horizons)))
    if not steps or steps[0] <= 0:
        raise ValueError(f"horizons must be positive minutes: {tuple(horizons)}")
    times = scan_times(data)
    last = data.last_scan_ms
    codes = code_order()
    returns: dict[SignalCode, dict[int, array[float]]] = {c: {h: array("d") for h in steps} for c in codes}
    started = dict.fromkeys(codes, 0)
    unpriced = dict.fromkeys(codes, 0)
    baseline: dict[int, array[float]] = {h: array("d") for h in steps}
    for history in data.symbols:
        order = [history.prices[e] for e in EXCHANGES if e in history.prices]  # binance first
        if last is not None:
            _baseline(order, times, steps, last, baseline)
        for mark in _episode_starts(history, data):
            if mark.code not in started:
                continue
            started[mark.code] += 1
            if not _score_episode(history, mark, steps, last, returns[mark.code]):
                unpriced[mark.code] += 1
    return Scorecard(
        horizons=steps,
        codes=tuple(
            CodeScore(
                code=code,
                direction=DIRECTION_OF[code],
                episodes=started[code],
                unpriced=unpriced[code],
                horizons={h: horizon_score(returns[code][h], DIRECTION_OF[code]) for h in steps},
            )
            for code in codes
        ),
        baseline={h: baseline_score(baseline[h]) for h in steps},
        symbols=sum(1 for h in data.symbols if h.prices),
        scans=len(times),
        first_scan_ms=times[0] if times else None,
        last_scan_ms=last,
    )


def close_before(series: PriceSeries, minute: int) -> float | None:
    """The close of the latest minute before `minute` that has one, or None."""
    index = bisect_left(series.minutes, minute) - 1
    return series.closes[index] if index >= 0 else None


def _baseline(
    order: list[PriceSeries],
    times: list[int],
    steps: tuple[int, ...],
    last: int,
    out: dict[int, array[float]],
) -> None:
    """Every scan of one symbol: its returns per horizon, on the reference exchange at that scan."""
    for scan in times:
        minute = scan // MINUTE_MS
        reference = next((series for series in order if series.first_minute < minute), None)
        if reference is None:  # the symbol is not in this scan yet
            continue
        p0 = close_before(reference, minute)
        if p0 is None:
            continue
        for h in steps:
            if scan + h * MINUTE_MS > last:
                break  # open at h, and at every longer horizon
            p_h = close_before(reference, minute + h) or p0  # never None: p0's minute is before it
            out[h].append(p_h / p0 - 1)


def _episode_starts(history: SymbolHistory, data: ScoreData) -> list[SignalMark]:
    """Signals that start an episode (the same code did not hold a minute before) within the period."""
    held = {(mark.code, mark.ts) for mark in history.signals}
    since = data.since_ms if data.since_ms is not None else -(1 << 62)
    until = data.until_ms if data.until_ms is not None else 1 << 62
    return [
        mark for mark in history.signals if (mark.code, mark.ts - MINUTE_MS) not in held and since <= mark.ts <= until
    ]


def _score_episode(
    history: SymbolHistory,
    mark: SignalMark,
    steps: tuple[int, ...],
    last: int | None,
    out: dict[int, array[float]],
) -> bool:
    """Add one episode's returns at its closed horizons; False when it has no reference price."""
    exchange = next((e for e in EXCHANGES if e in mark.exchanges), None)
    series = history.prices.get(exchange) if exchange is not None else None
    minute = mark.ts // MINUTE_MS
    p0 = close_before(series, minute) if series is not None else None
    if series is None or p0 is None:
        return False
    for h in steps:
        if last is None or mark.ts + h * MINUTE_MS > last:
            break
        p_h = close_before(series, minute + h) or p0  # never None: p0's minute is before it
        out[h].append(p_h / p0 - 1)
    return True


def horizon_score(returns: Sequence[float], direction: Direction) -> HorizonScore:
    """Episodes, hits, hit rate, mean and median of one code's closed returns at one horizon."""
    if not returns:
        return HorizonScore(0, None, None, None, None)
    if direction == Direction.NEUTRAL:
        hits = None
    elif direction == Direction.BULLISH:
        hits = sum(1 for r in returns if r > 0)
    else:
        hits = sum(1 for r in returns if r < 0)
    rate = round(hits / len(returns), RATE_DIGITS) if hits is not None else None
    return HorizonScore(len(returns), hits, rate, statistics.fmean(returns), statistics.median(returns))


def baseline_score(returns: Sequence[float]) -> BaselineScore:
    if not returns:
        return BaselineScore(0, None, None, None)
    up = sum(1 for r in returns if r > 0)
    return BaselineScore(
        len(returns), round(up / len(returns), RATE_DIGITS), statistics.fmean(returns), statistics.median(returns)
    )
