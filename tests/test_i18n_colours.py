"""The colour convention (issue 13, item 2): red-up (红涨绿跌) or green-up, defaulting to the
language's custom, and semantic colours whose WCAG contrast is at least 4.5:1 wherever text sits,
in every built-in Textual theme and both conventions."""

from __future__ import annotations

import pytest
from textual.theme import BUILTIN_THEMES

from gme_tui.i18n.colours import (
    BADGE_VARIABLES,
    CONVENTIONS,
    MIN_CONTRAST,
    SEMANTIC_VARIABLES,
    TEXT_VARIABLES,
    ColourConvention,
    contrast,
    convention_for,
    luminance,
    mix,
    parse_hex,
    readable,
    theme_variables_for,
)

THEMES = sorted(BUILTIN_THEMES)


def _generated(name: str) -> dict[str, str]:
    return BUILTIN_THEMES[name].to_color_system().generate()


def _grounds(name: str, out: dict[str, str]) -> list[str]:
    """The backgrounds text is drawn on: screen, surface, panel (header, status bar), cursor row."""
    generated = _generated(name)
    hexes = [generated[k][:7] for k in ("background", "surface", "panel") if generated[k].startswith("#")]
    return [*hexes, out["row-cursor"]]


def test_wcag_arithmetic() -> None:
    assert contrast("#000000", "#FFFFFF") == pytest.approx(21.0)
    assert contrast("#FFFFFF", "#FFFFFF") == pytest.approx(1.0)
    assert contrast("#777777", "#FFFFFF") == pytest.approx(4.48, abs=0.01)  # the classic just-fails grey
    assert luminance("#FFFFFF") == pytest.approx(1.0)
    assert parse_hex("#0A0B0CFF") == (10, 11, 12)
    assert mix("#000000", "#FFFFFF", 0.5) == "#808080"
    with pytest.raises(ValueError):
        parse_hex("ansi_red")


def test_readable_pushes_a_colour_until_it_reaches_the_minimum() -> None:
    dim_grey = "#555753"  # a terminal's bright_black: what 震荡/分歧 was drawn in
    assert contrast(dim_grey, "#121212") < 3
    fixed = readable(dim_grey, ["#121212"], toward="#FFFFFF")
    assert contrast(fixed, "#121212") >= MIN_CONTRAST
    assert readable("#FFFFFF", ["#000000"], toward="#FFFFFF") == "#FFFFFF"  # already fine: unchanged


@pytest.mark.parametrize(
    ("setting", "language", "expected"),
    [
        ("auto", "zh", "red-up"),
        ("auto", "en", "green-up"),
        ("green-up", "zh", "green-up"),
        ("red-up", "en", "red-up"),
    ],
)
def test_the_convention_defaults_to_the_languages_custom(setting: str, language: str, expected: str) -> None:
    assert convention_for(setting, language) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize("convention", CONVENTIONS)
@pytest.mark.parametrize("theme", THEMES)
def test_every_text_colour_reaches_4_5_to_1(theme: str, convention: ColourConvention) -> None:
    out = theme_variables_for(_generated(theme), dark=BUILTIN_THEMES[theme].dark, convention=convention)
    assert set(out) == set(SEMANTIC_VARIABLES)
    low = {
        (name, ground): round(contrast(out[name], ground), 2)
        for name in TEXT_VARIABLES
        for ground in _grounds(theme, out)
        if contrast(out[name], ground) < MIN_CONTRAST
    }
    assert low == {}
    for badge in BADGE_VARIABLES:  # a grade badge's letters on the badge
        assert contrast(out[f"{badge}-text"], out[badge]) >= MIN_CONTRAST, badge


def test_mixed_consensus_is_no_longer_drawn_at_2_5_to_1() -> None:
    out = theme_variables_for(_generated("textual-dark"), dark=True, convention="red-up")
    assert contrast(out["neutral-text"], "#121212") >= MIN_CONTRAST


def _reddish(colour: str) -> bool:
    r, g, _ = parse_hex(colour)
    return r > g


@pytest.mark.parametrize("theme", ["textual-dark", "textual-light", "solarized-light", "nord"])
def test_the_conventions_swap_up_and_down(theme: str) -> None:
    dark = BUILTIN_THEMES[theme].dark
    red_up = theme_variables_for(_generated(theme), dark=dark, convention="red-up")
    green_up = theme_variables_for(_generated(theme), dark=dark, convention="green-up")
    assert _reddish(red_up["up"]) and not _reddish(red_up["down"])
    assert not _reddish(green_up["up"]) and _reddish(green_up["down"])
    assert (red_up["up"], red_up["down"]) == (green_up["down"], green_up["up"])
    assert (red_up["up-strong"], red_up["down-strong"]) == (green_up["down-strong"], green_up["up-strong"])
    for badge in ("badge-bullish-strong", "badge-bullish"):  # bullish badges wear the up colour
        assert _reddish(red_up[badge]) and not _reddish(green_up[badge])
    for badge in ("badge-bearish-strong", "badge-bearish"):
        assert not _reddish(red_up[badge]) and _reddish(green_up[badge])
    directed = ("up", "down", "bullish", "bearish")
    assert {k: v for k, v in red_up.items() if not any(d in k for d in directed)} == {
        k: v for k, v in green_up.items() if not any(d in k for d in directed)
    }
