"""The status bar: per-exchange state, rates, message age, coverage and REST weight; backfill progress; robots;
filter, sort, pause and the clock. Two lines, each fitted to the width: on a narrow terminal the
least useful pieces go first (whole, never cut mid-word), so neither line wraps and the
scan / filter line never disappears behind a long robot error.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo

from rich.cells import cell_len
from rich.style import Style
from rich.text import Text
from textual.app import RenderResult
from textual.widget import Widget

from gme_tui import format as fmt
from gme_tui.i18n import Catalogue
from gme_tui.model import EXCHANGE_SHORT, ExchangeHealth, HealthState, RobotStatus, SourceMode
from gme_tui.tui.replay import ReplayStatus, speed_text
from gme_tui.tui.theme import BOLD, PLAIN, Colours
from gme_tui.tui.widgets.cells import DEFAULT_COLOURS, EN, fit

# States that need no word beside their dot; states that come with a reason worth showing.
_QUIET_STATES = frozenset({HealthState.LIVE, HealthState.SIMULATED, HealthState.REPLAY})
_TROUBLE_STATES = frozenset({HealthState.DOWN, HealthState.RECONNECTING})


@dataclass(frozen=True)
class StatusInfo:
    mode: SourceMode
    health: Sequence[ExchangeHealth]
    coverage: Mapping[str, int]  # exchange -> fewest minutes covered among its symbols (live only)
    window_minutes: int
    now_ms: int
    zone: tzinfo
    scan_ts: int | None  # the scan the table shows (while paused: the frozen one)
    rows_total: int
    rows_shown: int
    filter_text: str
    sort_text: str
    paused: bool
    pending: int  # events waiting while paused
    finished: bool
    error: str = ""
    robots: Sequence[RobotStatus] = ()  # one per robot, configured or not
    replay: ReplayStatus | None = None  # a replay's pacing, data time, progress (None: not a replay)
    t: Catalogue = EN
    colours: Colours = DEFAULT_COLOURS


@dataclass(frozen=True, slots=True)
class Part:
    """A piece of a status line. Pieces go from the highest `drop` first when the line is too
    long (0: never), or take their `short` form; a `shrink` piece is cut with an ellipsis before
    anything essential goes."""

    text: str
    style: Style = PLAIN
    drop: int = 0
    shrink: bool = False
    least: int = 8  # cells a shrunk piece keeps
    short: str | None = None  # at its `drop` turn the piece becomes this (kept from then on) instead of going


def fit_parts(parts: Sequence[Part], width: int) -> Text:
    """One line of `parts` in at most `width` cells (see Part)."""
    kept = list(parts)

    def size() -> int:
        return sum(cell_len(p.text) for p in kept)

    for part in sorted((p for p in kept if p.drop), key=lambda p: -p.drop):
        if size() <= width:
            break
        if part.short is None:
            kept.remove(part)
        else:
            kept[kept.index(part)] = Part(part.short, part.style)
    for index in sorted((i for i, p in enumerate(kept) if p.shrink), key=lambda i: -cell_len(kept[i].text)):
        excess = size() - width
        if excess <= 0:
            break
        part = kept[index]
        room = max(part.least, cell_len(part.text) - excess)
        if room < cell_len(part.text):
            kept[index] = Part(fit(part.text, room - 1, "left").rstrip() + " ", part.style, part.drop)
    line = Text(no_wrap=True, overflow="ellipsis", end="")
    for part in kept:
        line.append(part.text, part.style)
    if line.cell_len > width:
        line.truncate(width, overflow="ellipsis")
    return line


def rate(per_second: float) -> str:
    if per_second >= 1000:
        return f"{per_second / 1000:.1f}k/s"
    return f"{per_second:.0f}/s"


def age(ms: int) -> str:
    seconds = max(0, ms) / 1000
    if seconds < 10:
        return f"{seconds:.1f}s"
    if seconds < 120:
        return f"{seconds:.0f}s"
    return f"{seconds / 60:.0f}m"


def zone_short(zone: tzinfo, ts_ms: int) -> str:
    return datetime.fromtimestamp(ts_ms / 1000, zone).tzname() or ""


def progress_bar(done: int, total: int, width: int = 10) -> str:
    filled = round(width * done / total) if total else 0
    return "█" * filled + "░" * (width - filled)


def exchange_parts(info: StatusInfo) -> list[Part]:
    """Line 1: each exchange's dot, state, rate, message age, coverage and trouble; backfill."""
    t, colours = info.t, info.colours
    parts: list[Part] = []
    for number, health in enumerate(info.health):
        if number:
            parts.append(Part(" │ ", colours.neutral))
        state_style = colours.state(health.state)
        retrying = health.attempt > 0 and health.state not in _QUIET_STATES
        parts.append(Part(EXCHANGE_SHORT.get(health.exchange, health.exchange) + " ", BOLD))
        parts.append(Part("●", state_style))
        if health.state not in _QUIET_STATES:
            # beside a retry the dot and ↻ say it already: the word may go on a narrow line
            word = t.status.states.get(health.state, health.state)
            parts.append(Part(" " + word, state_style, drop=3 if retrying else 0))
        if retrying:
            parts.append(retry_part(health, info.now_ms, t, state_style))
        parts.append(Part(" " + rate(health.trades_per_s), drop=6 if retrying else 4))  # a retry's rate: ~0
        if health.last_message_ms is not None and info.mode == SourceMode.LIVE:
            parts.append(Part(" " + age(info.now_ms - health.last_message_ms), colours.neutral, drop=5))
        covered = info.coverage.get(health.exchange)
        if covered is not None and covered < info.window_minutes:
            parts.append(Part(f" {covered}/{info.window_minutes}m", colours.warn, drop=3))
        if health.reason and health.state in _TROUBLE_STATES:
            parts.append(Part(f" ({health.reason})", colours.error, drop=2, shrink=True))
        weight = weight_part(health, t, colours)
        if weight is not None:
            parts.append(weight)
    parts.extend(replay_parts(info))
    backfill = [h for h in info.health if h.state == HealthState.BACKFILLING and h.backfill_total]
    if backfill:
        done = sum(h.backfill_done for h in backfill)
        total = sum(h.backfill_total for h in backfill)
        parts.append(Part(f"  {t.status.backfill} ", colours.warn))
        parts.append(Part(progress_bar(done, total), colours.warn, drop=1))
        parts.append(Part(f" {done}/{total}", colours.warn))
    return parts


WEIGHT_WARN_SHARE = 0.8
"""The share of the per-minute REST weight limit from which the figure is a warning."""


def weight_part(health: ExchangeHealth, t: Catalogue, colours: Colours) -> Part | None:
    """The REST weight the exchange's perp venue used this minute, of its limit (Binance USDⓈ-M:
    `weight 615/2400`, issue 14 item 2); None when it has none. Quiet (and the first piece to go
    on a narrow line) while well inside the limit; in the warning colour, and kept longer than
    rates and ages, from WEIGHT_WARN_SHARE of it on."""
    used, limit = health.rest_weight, health.rest_weight_limit
    if used is None or limit <= 0:
        return None
    text = " " + t.status.rest_weight.format(used=used, limit=limit)
    if used >= WEIGHT_WARN_SHARE * limit:
        return Part(text, colours.warn, drop=3)
    return Part(text, colours.neutral, drop=7)


def retry_part(health: ExchangeHealth, now_ms: int, t: Catalogue, style: Style) -> Part:
    """A backing-off exchange's attempt and the time to its next try (issue 13 item 7):
    `try 3 in 8s` (the catalogue's words), on a narrow line `↻3 8s`; `try 3 now` / `↻3` while the
    attempt runs (`next_try_ms` None or past). Seconds are rounded up, so 0 means now."""
    wait_ms = None if health.next_try_ms is None else health.next_try_ms - now_ms
    if wait_ms is None or wait_ms <= 0:
        return Part(" " + t.status.retry_now.format(attempt=health.attempt), style, drop=4, short=f" ↻{health.attempt}")
    seconds = -(-wait_ms // 1000)
    text = t.status.retry.format(attempt=health.attempt, seconds=seconds)
    wait = f"{seconds}s" if seconds < 120 else f"{-(-seconds // 60)}m"
    return Part(" " + text, style, drop=4, short=f" ↻{health.attempt} {wait}")


def replay_parts(info: StatusInfo) -> list[Part]:
    """Line 1 of a replay: paused, data time, speed (or the jump to the next signal), progress."""
    replay = info.replay
    if replay is None:
        return []
    status, colours = info.t.status, info.colours
    parts = [Part("  ")]
    if replay.paused:
        parts.append(Part(status.replay_paused, colours.warn + Style(bold=True, reverse=True)))
        parts.append(Part(" "))
    if replay.data_time is not None:
        parts.append(Part(status.data_time.format(time=fmt.clock(replay.data_time, info.zone)) + " ", BOLD))
    if replay.jumping:
        parts.append(Part(status.jumping + " ", colours.info + BOLD))
    else:
        speed = status.speed.format(speed=speed_text(replay.speed)) if replay.speed > 0 else status.speed_max
        parts.append(Part(speed + " ", colours.info + BOLD))
    if replay.progress is not None:
        parts.append(Part(progress_bar(round(replay.progress * 1000), 1000), colours.info, drop=1))
        percent = math.floor(replay.progress * 100)  # 100% only at the very end
        parts.append(Part(f" {percent}%", colours.info, drop=2))
    return parts


def robot_parts(robots: Sequence[RobotStatus], t: Catalogue, colours: Colours) -> list[Part]:
    """One short mark per configured robot: a tick when delivering, its error and hint when not."""
    parts: list[Part] = []
    for robot in robots:
        if not robot.configured:
            continue
        label = t.common.robots.get(robot.name, robot.label)
        pending = t.status.robot_pending.format(count=robot.pending)
        if robot.halted or robot.last_error:
            problem = robot.last_error or t.status.robot_stopped
            error = colours.error + BOLD
            # a failing robot stays on the line (cut if need be): alerts are not going out
            parts.append(Part(t.status.robot_error.format(robot=label, problem=problem), error, shrink=True, least=24))
            if robot.hint:
                parts.append(Part(f" ({robot.hint})", error, drop=6, shrink=True))
            parts.append(Part(f"{t.common.list_sep}{pending}  ", error, drop=4))
        elif robot.sent_by:  # another gme-tui sends this robot's alerts: this one only queues them
            sent_by = t.status.robot_sent_by.format(robot=label, who=robot.sent_by)
            parts.append(Part(sent_by + "  ", colours.neutral, drop=7, shrink=True, least=16))
        else:
            parts.append(Part(f"{label} ✓" + (f" {pending}" if robot.pending else "") + "  ", colours.ok, drop=8))
    return parts


def view_parts(info: StatusInfo) -> list[Part]:
    """Line 2: robots, source end or error, pause, the scan shown, rows, filter, sort, clock."""
    t, colours, status = info.t, info.colours, info.t.status
    parts = robot_parts(info.robots, t, colours)
    if info.error:
        parts.append(Part(status.source_error.format(error=info.error) + "  ", colours.error + BOLD, shrink=True))
    elif info.finished:
        ended = status.replay_finished if info.mode == SourceMode.REPLAY else status.source_ended
        summary = info.replay.summary if info.replay is not None else None
        if summary:  # what the replay read and skipped (SPEC §8), cut to fit; the notice has it whole
            parts.append(Part(" · ".join(summary.splitlines()) + "  ", colours.info + BOLD, shrink=True, least=24))
        else:
            parts.append(Part(ended + "  ", colours.info + BOLD, drop=2))
    if info.paused:
        parts.append(Part(status.paused.format(pending=info.pending), colours.warn + Style(bold=True, reverse=True)))
        parts.append(Part("  "))
    if info.scan_ts is not None:
        scan = fmt.clock(info.scan_ts, info.zone, seconds=False)
        parts.append(Part(status.scan.format(time=scan) + "  ", colours.neutral))
    elif info.replay is not None and info.replay.warmup is not None and not info.error:
        minutes, window = info.replay.warmup
        parts.append(Part(status.warmup.format(minutes=min(minutes, window), window=window) + "  ", colours.warn))
    elif not info.error:
        parts.append(Part(status.waiting.format(minutes=info.window_minutes) + "  ", colours.neutral, shrink=True))
    parts.append(Part(f"{info.rows_shown}/{info.rows_total} ", BOLD))
    parts.append(Part(info.filter_text, colours.info, shrink=True))
    parts.append(Part("  " + status.sort.format(column=info.sort_text), colours.info, drop=5))
    parts.append(Part("  " + fmt.clock(info.now_ms, info.zone), drop=6))
    zone = zone_short(info.zone, info.now_ms)
    if zone:
        parts.append(Part(" " + zone, drop=7))
    parts.append(Part(f" [{status.modes.get(info.mode, info.mode)}]", colours.neutral, drop=9))
    return parts


def status_text(info: StatusInfo, width: int = 1_000) -> Text:
    """Both lines, each fitted to `width` cells."""
    text = fit_parts(exchange_parts(info), width)
    text.append("\n")
    text.append_text(fit_parts(view_parts(info), width))
    return text


class StatusBar(Widget):
    DEFAULT_CSS = """
    StatusBar { height: 2; background: $panel; padding: 0 1; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.info: StatusInfo | None = None

    def show(self, info: StatusInfo) -> None:
        if info != self.info:
            self.info = info
            self.refresh()

    def render(self) -> RenderResult:
        if self.info is None:
            return Text("")
        return status_text(self.info, max(1, self.content_size.width))
