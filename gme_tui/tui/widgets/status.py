"""The status bar: per-exchange state, rates, message age and coverage; backfill progress; filter,
sort, pause and the clock. Built as a pure function of its inputs, shown by a plain Static."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo

from rich.text import Text
from textual.widgets import Static

from gme_tui import format as fmt
from gme_tui.model import EXCHANGE_SHORT, ExchangeHealth, HealthState, RobotStatus, SourceMode

STATE_STYLE: Mapping[HealthState, str] = {
    HealthState.LIVE: "green",
    HealthState.SIMULATED: "cyan",
    HealthState.REPLAY: "cyan",
    HealthState.DONE: "cyan",
    HealthState.BACKFILLING: "yellow",
    HealthState.CONNECTING: "yellow",
    HealthState.RECONNECTING: "yellow",
    HealthState.DOWN: "bold red",
}
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
    scan_ts: int | None
    rows_total: int
    rows_shown: int
    filter_text: str
    sort_text: str
    paused: bool
    pending: int  # events waiting while paused
    finished: bool
    error: str = ""
    robots: Sequence[RobotStatus] = ()  # one per robot, configured or not


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


def status_text(info: StatusInfo) -> Text:
    text = Text(no_wrap=True, overflow="ellipsis")
    for number, health in enumerate(info.health):
        if number:
            text.append(" │ ", style="dim")
        text.append(EXCHANGE_SHORT.get(health.exchange, health.exchange) + " ", style="bold")
        style = STATE_STYLE.get(health.state, "white")
        text.append("●", style=style)
        if health.state not in _QUIET_STATES:
            text.append(" " + health.state, style=style)
        text.append(" " + rate(health.trades_per_s))
        if health.last_message_ms is not None and info.mode == SourceMode.LIVE:
            text.append(" " + age(info.now_ms - health.last_message_ms), style="dim")
        covered = info.coverage.get(health.exchange)
        if covered is not None and covered < info.window_minutes:
            text.append(f" {covered}/{info.window_minutes}m", style="yellow")
        if health.reason and health.state in _TROUBLE_STATES:
            text.append(f" ({health.reason})", style="red")
    text.append("\n")
    backfill = [h for h in info.health if h.state == HealthState.BACKFILLING and h.backfill_total]
    if backfill:
        done = sum(h.backfill_done for h in backfill)
        total = sum(h.backfill_total for h in backfill)
        text.append("backfill ", style="yellow")
        text.append(progress_bar(done, total), style="yellow")
        text.append(f" {done}/{total}  ", style="yellow")
    append_robots(text, info.robots)
    if info.error:
        text.append(f"source error: {info.error}  ", style="bold red")
    elif info.finished:
        text.append("replay finished  " if info.mode == SourceMode.REPLAY else "source ended  ", style="bold cyan")
    if info.paused:
        text.append(f"PAUSED (+{info.pending}) ", style="bold reverse yellow")
        text.append(" ")
    if info.scan_ts is not None:
        text.append(f"scan {fmt.clock(info.scan_ts, info.zone, seconds=False)}  ", style="dim")
    elif not info.error:
        text.append(f"waiting for the first {info.window_minutes}m window  ", style="dim")
    text.append(f"{info.rows_shown}/{info.rows_total} ", style="bold")
    text.append(info.filter_text + " ", style="cyan")
    text.append(f"  sort {info.sort_text}", style="cyan")
    text.append(f"  {fmt.clock(info.now_ms, info.zone)} {zone_short(info.zone, info.now_ms)}".rstrip())
    text.append(f" [{info.mode}]", style="dim")
    return text


def append_robots(text: Text, robots: Sequence[RobotStatus]) -> None:
    """One short mark per configured robot: green when delivering, its error and hint when not."""
    for robot in robots:
        if not robot.configured:
            continue
        label, pending = robot.label, robot.pending
        if robot.halted or robot.last_error:
            problem = robot.last_error or "stopped"
            hint = f" ({robot.hint})" if robot.hint else ""
            text.append(f"{label}: {problem}{hint}, {pending} pending  ", style="bold red")
        else:
            text.append(f"{label} ✓" + (f" {pending} pending" if pending else "") + "  ", style="green")


class StatusBar(Static):
    DEFAULT_CSS = """
    StatusBar { height: 2; background: $panel; padding: 0 1; }
    """

    def show(self, info: StatusInfo) -> None:
        self.update(status_text(info))
