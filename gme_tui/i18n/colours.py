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
    "foreground",  # the theme's own text colour, pushed to the minimum where a theme falls short
    "up",  # inflow, price up, buy
    "up-strong",  # strong bullish, a large positive total (drawn bold)
    "down",
    "down-strong",
    "neutral-text",  # mixed consensus, zero figures, secondary text (instead of a terminal's dim)
    "warn-text",  # partial coverage, pending alerts, pins
    "error-text",  # a source down, a robot failing
    "ok-text",  # a live source, a robot delivering
    "info-text",  # replay, demo
    "key-text",  # key names in the key bar, panel titles: the theme's accent, made readable
    "series-1",  # chart lines of Binance, OKX, Bybit, Coinbase (and their legend), in that order
    "series-2",
    "series-3",
    "series-4",
)
"""Foreground colours: each keeps `MIN_CONTRAST` against the background, surface, panel and the
row cursor (`row-cursor`)."""

BADGE_VARIABLES: tuple[str, ...] = (
    "badge-bullish-strong",  # A+ global_sync_bullish
    "badge-bullish",  # A
    "badge-neutral",  # B, a "watch" signal
    "badge-bearish",  # C, the long trap
    "badge-bearish-strong",  # A+ global_sync_bearish
)
"""Signal grade badge backgrounds, by the signal's direction (SPEC §4), so a bearish A+ never
wears the bullish colour; `<name>-text` is the badge's letters, at `MIN_CONTRAST` on it."""

BACKGROUND_VARIABLES: tuple[str, ...] = ("row-cursor",)
"""The table's cursor row: a step from the background toward the foreground, dark enough (or
light enough) that every text colour stays readable on it."""

SEMANTIC_VARIABLES: tuple[str, ...] = (
    *TEXT_VARIABLES,
    *BADGE_VARIABLES,
    *(f"{name}-text" for name in BADGE_VARIABLES),
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
    neutral_badge: str
    series: tuple[str, str, str, str]


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
    neutral_badge="#D29922",
    series=("#E3B341", "#58A6FF", "#F0883E", "#BC8CFF"),
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
    neutral_badge="#D4A72C",
    series=("#7D4E00", "#0969DA", "#BC4C00", "#8250DF"),
)
WHITE, BLACK = "#FFFFFF", "#000000"


def theme_variables(
    convention: ColourConvention,
    *,
    background: str,
    surface: str,
    panel: str,
    foreground: str,
    accent: str,
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
        "foreground": text(foreground),
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
        "key-text": text(accent),
        "row-cursor": cursor,
    }
    for number, hue in enumerate(hues.series, start=1):
        out[f"series-{number}"] = text(hue)
    badges = {
        "badge-bullish-strong": up_strong,
        "badge-bullish": up,
        "badge-neutral": hues.neutral_badge,
        "badge-bearish": down,
        "badge-bearish-strong": down_strong,
    }
    for name, colour in badges.items():
        ink = BLACK if contrast(BLACK, colour) >= contrast(WHITE, colour) else WHITE
        # the badge moves away from its ink (lighter under black text, darker under white)
        out[name] = readable(colour, (ink,), toward=WHITE if ink == BLACK else BLACK)
        out[f"{name}-text"] = ink
    return out


# Where a theme leaves its colours to the terminal (Textual's ansi-dark / ansi-light), assume the
# usual terminal backgrounds: a readable colour on both is readable on most.
_ANSI_FALLBACK: Mapping[bool, tuple[str, str, str, str, str]] = {
    True: ("#000000", "#1E1E1E", "#262626", "#E0E0E0", "#FEA62B"),
    False: ("#FFFFFF", "#F0F0F0", "#E4E4E4", "#1F1F1F", "#B35E00"),
}


def theme_variables_for(generated: Mapping[str, str], *, dark: bool, convention: ColourConvention) -> dict[str, str]:
    """`theme_variables` from a theme's generated CSS variables (Textual's
    `App.get_css_variables()`: `background`, `surface`, `panel`, `foreground`, `accent` as
    `#RRGGBB[AA]`).
    A colour that is not hex (`ansi_default`, `transparent`) falls back to a typical terminal's."""
    fallback = dict(zip(("background", "surface", "panel", "foreground", "accent"), _ANSI_FALLBACK[dark]))
    picked = {
        name: value if value.startswith("#") and len(value) in (7, 9) else fallback[name]
        for name in fallback
        for value in (generated.get(name, ""),)
    }
    return theme_variables(
        convention,
        background=picked["background"],
        surface=picked["surface"],
        panel=picked["panel"],
        foreground=picked["foreground"],
        accent=picked["accent"],
        dark=dark,
    )
