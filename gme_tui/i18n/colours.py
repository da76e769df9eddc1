"""Which way the colours point, and the semantic colours every cell is drawn with.

Chinese traders read red as up and green as down (红涨绿跌); most others the reverse. The
convention only swaps which hue is `up` and which is `down`: every widget asks for `$up` / `$down`
(never "green" / "red"), so a convention or theme change reaches every cell.

`theme_variables` computes the colours for the backgrounds of the current theme: each text colour
is pushed toward white (dark theme) or black (light theme) until its WCAG contrast against every
background it is drawn on is at least `MIN_CONTRAST` (4.5:1, WCAG AA for text). Pure functions on
hex strings; nothing here imports Textual.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, get_args

from gme_tui.model import Language

ColourConvention = Literal["red-up", "green-up"]
"""`red-up`: 红涨绿跌 (rising and inflow in red); `green-up`: rising and inflow in green."""

ConventionSetting = Literal["auto", "red-up", "green-up"]
"""The setting: `auto` follows the labels' language (zh: red-up, en: green-up)."""

CONVENTIONS: tuple[ColourConvention, ...] = get_args(ColourConvention)
CONVENTION_SETTINGS: tuple[ConventionSetting, ...] = get_args(ConventionSetting)
DEFAULT_CONVENTION: Mapping[Language, ColourConvention] = {"zh": "red-up", "en": "green-up"}

MIN_CONTRAST = 4.5

TEXT_VARIABLES: tuple[str, ...] = (
    "up",  # inflow, price up, buy
    "up-strong",  # strong bullish, a large positive total (drawn bold)
    "down",
    "down-strong",
    "neutral-text",  # mixed consensus, zero figures, secondary text (instead of a terminal's dim)
    "warn-text",  # partial coverage, pending alerts, pins
    "error-text",  # a source down, a robot failing
    "ok-text",  # a live source, a robot delivering
    "info-text",  # replay, demo
)
"""Foreground colours: each keeps `MIN_CONTRAST` against the background, surface, panel and the
row cursor (`row-cursor`)."""

GRADE_VARIABLES: tuple[str, ...] = ("grade-a-plus", "grade-a", "grade-b", "grade-c")
"""Badge backgrounds; `<name>-text` is the badge's text colour, at `MIN_CONTRAST` on it."""

BACKGROUND_VARIABLES: tuple[str, ...] = ("row-cursor",)
"""The table's cursor row: a step from the background toward the foreground, dark enough (or
light enough) that every text colour stays readable on it."""

SEMANTIC_VARIABLES: tuple[str, ...] = (
    *TEXT_VARIABLES,
    *GRADE_VARIABLES,
    *(f"{name}-text" for name in GRADE_VARIABLES),
    *BACKGROUND_VARIABLES,
)
"""Every variable `theme_variables` returns (CSS: `$up`, `$grade-a-plus-text`, ...)."""


def convention_for(setting: ConventionSetting, language: Language) -> ColourConvention:
    """The convention in force: the setting, or for `auto` the language's custom."""
    return DEFAULT_CONVENTION[language] if setting == "auto" else setting


# ---------------------------------------------------------------- WCAG arithmetic

Rgb = tuple[int, int, int]


def parse_hex(colour: str) -> Rgb:
    """`#RRGGBB` (or `#RRGGBBAA`, alpha ignored) -> (r, g, b) 0..255. ValueError otherwise."""
    digits = colour.removeprefix("#")
    if len(digits) not in (6, 8):
        raise ValueError(f"not a #RRGGBB colour: {colour!r}")
    return int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16)


def to_hex(rgb: Rgb) -> str:
    return "#{:02X}{:02X}{:02X}".format(*rgb)


def _channel(value: int) -> float:
    c = value / 255
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def luminance(colour: str) -> float:
    """WCAG 2 relative luminance, 0 (black) .. 1 (white)."""
    r, g, b = parse_hex(colour)
    return 0.2126 * _channel(r) + 0.7152 * _channel(g) + 0.0722 * _channel(b)


def contrast(foreground: str, background: str) -> float:
    """WCAG 2 contrast ratio, 1 .. 21."""
    a, b = luminance(foreground), luminance(background)
    return (max(a, b) + 0.05) / (min(a, b) + 0.05)


def mix(colour: str, other: str, amount: float) -> str:
    """`colour` moved `amount` (0..1) of the way to `other`, in sRGB."""
    a, b = parse_hex(colour), parse_hex(other)
    r, g, bl = (round(x + (y - x) * amount) for x, y in zip(a, b))
    return to_hex((r, g, bl))


def readable(colour: str, backgrounds: Sequence[str], *, toward: str, minimum: float = MIN_CONTRAST) -> str:
    """`colour`, or the least step of it toward `toward` (white or black) whose contrast against
    every background reaches `minimum`. Steps of 2 %: at most 50 tries."""
    for step in range(51):
        candidate = mix(colour, toward, step / 50)
        if all(contrast(candidate, bg) >= minimum for bg in backgrounds):
            return candidate
    return toward


# ---------------------------------------------------------------- the palette


@dataclass(frozen=True, slots=True)
class Hues:
    """The hues a role starts from, before contrast adjusts them to the theme."""

    rise: str
    rise_strong: str
    fall: str
    fall_strong: str
    warn: str
    error: str
    ok: str
    info: str
    grade_b: str
    grade_c: str


# Green and red are the same two hues in both conventions: only their meaning swaps.
DARK_HUES = Hues(
    rise="#3FB950",
    rise_strong="#56D364",
    fall="#F85149",
    fall_strong="#FF7B72",
    warn="#D29922",
    error="#FF6A69",
    ok="#3FB950",
    info="#39C5CF",
    grade_b="#D29922",
    grade_c="#BC8CFF",
)
LIGHT_HUES = Hues(
    rise="#1A7F37",
    rise_strong="#116329",
    fall="#CF222E",
    fall_strong="#A40E26",
    warn="#9A6700",
    error="#D1242F",
    ok="#1A7F37",
    info="#1B7C83",
    grade_b="#D4A72C",
    grade_c="#8250DF",
)
WHITE, BLACK = "#FFFFFF", "#000000"


def theme_variables(
    convention: ColourConvention,
    *,
    background: str,
    surface: str,
    panel: str,
    foreground: str,
    dark: bool,
) -> dict[str, str]:
    """The `SEMANTIC_VARIABLES` as `#RRGGBB` for a theme of these colours (hex, from Textual's
    generated theme variables), in `convention`. Raises ValueError for a colour that is not hex."""
    hues = DARK_HUES if dark else LIGHT_HUES
    toward = WHITE if dark else BLACK
    cursor = mix(background, foreground, 0.14)
    grounds = (background, surface, panel, cursor)

    def text(colour: str) -> str:
        return readable(colour, grounds, toward=toward)

    if convention == "red-up":
        up, up_strong, down, down_strong = hues.fall, hues.fall_strong, hues.rise, hues.rise_strong
    else:
        up, up_strong, down, down_strong = hues.rise, hues.rise_strong, hues.fall, hues.fall_strong
    out = {
        "up": text(up),
        "up-strong": text(up_strong),
        "down": text(down),
        "down-strong": text(down_strong),
        # the theme's own text colour, quietened toward the background, then made readable again
        "neutral-text": text(mix(foreground, background, 0.45)),
        "warn-text": text(hues.warn),
        "error-text": text(hues.error),
        "ok-text": text(hues.ok),
        "info-text": text(hues.info),
        "row-cursor": cursor,
    }
    badges = {"grade-a-plus": up_strong, "grade-a": up, "grade-b": hues.grade_b, "grade-c": hues.grade_c}
    for name, colour in badges.items():
        ink = BLACK if contrast(BLACK, colour) >= contrast(WHITE, colour) else WHITE
        # the badge moves away from its ink (lighter under black text, darker under white)
        out[name] = readable(colour, (ink,), toward=WHITE if ink == BLACK else BLACK)
        out[f"{name}-text"] = ink
    return out
