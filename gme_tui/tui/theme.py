"""Rich colours from the semantic theme variables (gme_tui.i18n.colours): every colour a cell,
bar or badge is drawn in, for the current theme and colour convention.

The line-API widgets paint Rich Colours, not CSS, so the app turns `$up`, `$down`, ... into one
`Colours` whenever the theme or the convention changes and hands it to the widgets, which cache
their lines per Colours. Nothing here names a hue: "up" is red under red-up and green under
green-up.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from rich.style import Style

from gme_tui.i18n.colours import ColourConvention, theme_variables_for
from gme_tui.model import DIRECTION_OF, Direction, Grade, HealthState, Level, SignalCode

PLAIN = Style()
BOLD = Style(bold=True)


@dataclass(frozen=True, slots=True)
class Colours:
    """The colours of one theme and convention. `neutral` replaces the terminal's dim (whose
    contrast the terminal decides) for secondary text."""

    convention: ColourConvention
    up: Style
    up_bold: Style
    down: Style
    down_bold: Style
    neutral: Style
    warn: Style
    error: Style
    ok: Style
    info: Style
    key: Style
    pin: Style
    series: tuple[Style, Style, Style, Style]  # chart lines per exchange, in EXCHANGES order
    badges: Mapping[tuple[Direction, bool], Style]  # (direction, strong) -> letters on a badge

    def signed(self, value: float | None) -> Style:
        """Up for a positive figure, down for a negative one, neutral for zero, NaN or none."""
        if value is None or value == 0 or value != value:
            return self.neutral
        return self.up if value > 0 else self.down

    def signed_bold(self, value: float | None) -> Style:
        if value is None or value == 0 or value != value:
            return self.neutral
        return self.up_bold if value > 0 else self.down_bold

    def level(self, level: Level) -> Style:
        return _level_style(self, level)

    def badge(self, grade: Grade, code: SignalCode | None) -> Style:
        """A grade badge in the colour of its signal's direction (a bearish A+ is not bullish)."""
        direction = DIRECTION_OF[code] if code is not None else _GRADE_DIRECTION[grade]
        return self.badges[(direction, grade == Grade.A_PLUS)]

    def state(self, state: HealthState) -> Style:
        if state in (HealthState.LIVE,):
            return self.ok
        if state == HealthState.DOWN:
            return self.error + BOLD
        if state in (HealthState.SIMULATED, HealthState.REPLAY, HealthState.DONE):
            return self.info
        return self.warn


_GRADE_DIRECTION: Mapping[Grade, Direction] = {
    Grade.A_PLUS: Direction.BULLISH,
    Grade.A: Direction.BULLISH,
    Grade.B: Direction.NEUTRAL,
    Grade.C: Direction.BEARISH,
}


def _level_style(colours: Colours, level: Level) -> Style:
    if level == Level.STRONG_BULLISH:
        return colours.up_bold
    if level == Level.LEAN_BULLISH:
        return colours.up
    if level == Level.LEAN_BEARISH:
        return colours.down
    if level == Level.STRONG_BEARISH:
        return colours.down_bold
    return colours.neutral


def colours_from(variables: Mapping[str, str], convention: ColourConvention) -> Colours:
    """Colours from the semantic variables (`theme_variables` names, `#RRGGBB`)."""

    def fg(name: str, bold: bool = False) -> Style:
        return Style(color=variables[name], bold=bold)

    def badge(name: str) -> Style:
        return Style(color=variables[f"{name}-text"], bgcolor=variables[name], bold=True)

    return Colours(
        convention=convention,
        up=fg("up"),
        up_bold=fg("up-strong", bold=True),
        down=fg("down"),
        down_bold=fg("down-strong", bold=True),
        neutral=fg("neutral-text"),
        warn=fg("warn-text"),
        error=fg("error-text"),
        ok=fg("ok-text"),
        info=fg("info-text"),
        key=fg("key-text", bold=True),
        pin=fg("warn-text", bold=True),
        series=(fg("series-1"), fg("series-2"), fg("series-3"), fg("series-4")),
        badges={
            (Direction.BULLISH, True): badge("badge-bullish-strong"),
            (Direction.BULLISH, False): badge("badge-bullish"),
            (Direction.NEUTRAL, True): badge("badge-neutral"),
            (Direction.NEUTRAL, False): badge("badge-neutral"),
            (Direction.BEARISH, False): badge("badge-bearish"),
            (Direction.BEARISH, True): badge("badge-bearish-strong"),
        },
    )


def default_colours(convention: ColourConvention = "green-up") -> Colours:
    """Colours for Textual's default dark theme: what widgets draw before the app configures them,
    and what pure renderers (tests, status text) use when given none."""
    return colours_from(DEFAULT_DARK_VARIABLES[convention], convention)


DEFAULT_DARK_VARIABLES: Mapping[ColourConvention, Mapping[str, str]] = {
    convention: theme_variables_for(
        {
            "background": "#121212",
            "surface": "#1E1E1E",
            "panel": "#242F38",
            "foreground": "#E0E0E0",
            "accent": "#FEA62B",
        },
        dark=True,
        convention=convention,
    )
    for convention in ("red-up", "green-up")
}
"""textual-dark's colours, the default theme (checked against Textual's in tests/tui)."""
