"""Replay controls' pure part (issue 12): the speed steps and what the status bar shows of a replay.

The UI drives a replay through `gme_tui.core.seams.ReplayControl` (it never imports the source).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gme_tui.core.seams import ReplayControl

SPEEDS: tuple[float, ...] = (1, 2, 5, 10, 30, 60, 120, 300, 600)
"""The speed steps of the faster / slower keys (data seconds per wall second). 0 (as fast as
possible) comes after 600, and only for a replay started with `--speed 0`."""


def faster(speed: float, *, allow_max: bool) -> float:
    """The next step above `speed`; at ×600 (or above) 0 when `allow_max`, else it stays."""
    if speed <= 0:
        return speed
    above = [step for step in SPEEDS if step > speed]
    if above:
        return above[0]
    return 0.0 if allow_max else speed


def slower(speed: float) -> float:
    """The next step below `speed` (0 counts as above ×600); ×1 stays ×1."""
    if speed <= 0:
        return SPEEDS[-1]
    below = [step for step in SPEEDS if step < speed]
    return below[-1] if below else speed


@dataclass(frozen=True, slots=True)
class ReplayStatus:
    """A replay's state for the status bar, read once per tick. `data_time` ms UTC; `progress`
    0..1; `warmup` (minutes seen, minutes needed) while the first window fills; `summary` the
    skip summary once the replay has ended."""

    paused: bool
    speed: float
    data_time: int | None
    progress: float | None
    warmup: tuple[int, int] | None
    jumping: bool = False
    summary: str | None = None


def replay_status(control: ReplayControl, *, jumping: bool, ended: bool) -> ReplayStatus:
    """Read `control` once (the summary only after the pipeline `ended`, when the counts are final)."""
    return ReplayStatus(
        paused=control.paused,
        speed=control.speed,
        data_time=control.data_time(),
        progress=control.progress(),
        warmup=control.warmup_minutes(),
        jumping=jumping,
        summary=control.summary_text() if ended else None,
    )


def speed_text(speed: float) -> str:
    """`10` for ×10, `0.5` for ×0.5 (the label adds the ×)."""
    return f"{speed:g}"
