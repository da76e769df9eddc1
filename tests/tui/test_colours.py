"""Issue 13, item 2 on screen: every drawn colour comes from the semantic theme variables, so a
theme or convention change reaches every cell, and every piece of text the main screen draws is
at WCAG contrast 4.5:1 or more against what it is drawn on."""

from __future__ import annotations

import msgspec
import pytest
from rich.color import Color
from rich.segment import Segment
from textual.strip import Strip

from gme_tui.i18n.colours import MIN_CONTRAST, contrast
from gme_tui.tui.app import GmeApp
from gme_tui.tui.widgets.feeds import SignalLogView, WhaleTicker
from gme_tui.tui.widgets.flow_table import FlowTable
from gme_tui.tui.widgets.keybar import KeyBar
from gme_tui.tui.widgets.status import StatusBar
from tests.tui.market import settle


def hex_of(color: Color) -> str:
    triplet = color.get_truecolor()
    return f"#{triplet.red:02X}{triplet.green:02X}{triplet.blue:02X}"


def drawn(app: GmeApp) -> list[tuple[str, Strip]]:
    """Every line the main screen's own widgets draw, by widget."""
    screen = app.main
    out: list[tuple[str, Strip]] = []
    table = screen.query_one(FlowTable)
    out += [("table", table.render_line(y)) for y in range(len(table.rows) + 1)]
    for feed in (screen.query_one(WhaleTicker), screen.query_one(SignalLogView)):
        out += [(feed.id or "feed", feed.render_line(y)) for y in range(5)]
    for widget in (screen.query_one(StatusBar), screen.query_one(KeyBar)):
        out += [(widget.id or "bar", widget.render_line(y)) for y in range(widget.size.height)]
    return out


def low_contrast(app: GmeApp) -> list[tuple[str, str, str, str, float]]:
    background = app.get_css_variables()["background"][:7]
    bad = []
    for where, strip in drawn(app):
        segment: Segment
        for segment in strip:
            style = segment.style
            if style is None or not segment.text.strip() or style.color is None:
                continue
            fg = hex_of(style.bgcolor if style.reverse and style.bgcolor else style.color)
            bg_color = style.color if style.reverse else style.bgcolor
            bg = hex_of(bg_color) if bg_color is not None else background
            ratio = contrast(fg, bg)
            if ratio < MIN_CONTRAST:
                bad.append((where, segment.text.strip()[:20], fg, bg, round(ratio, 2)))
    return bad


@pytest.mark.parametrize("language", ["en", "zh"])
@pytest.mark.parametrize("theme", ["textual-dark", "textual-light", "nord", "solarized-light", "gruvbox"])
async def test_every_text_on_the_main_screen_reaches_4_5_to_1(make_app, tui_settings, theme, language):
    app = make_app(msgspec.structs.replace(tui_settings, language=language))
    async with app.run_test(size=(160, 40)) as pilot:
        await settle(app, pilot)
        app.theme = theme
        await pilot.pause()
        assert app.colours.up.color is not None
        assert low_contrast(app) == []


def _total_colour(app: GmeApp) -> tuple[int, int, int]:
    table = app.main.query_one(FlowTable)
    line = table.render_line(2)  # a row below the cursor
    total = next(seg for seg in line if seg.text.strip().startswith("+") and seg.style and seg.style.bold)
    assert total.style is not None and total.style.color is not None
    triplet = total.style.color.get_truecolor()
    return triplet.red, triplet.green, triplet.blue


@pytest.mark.parametrize(("language", "reddish"), [("zh", True), ("en", False)])
async def test_inflow_is_red_in_chinese_and_green_in_english_by_default(make_app, tui_settings, language, reddish):
    app = make_app(msgspec.structs.replace(tui_settings, language=language))
    async with app.run_test(size=(160, 40)) as pilot:
        await settle(app, pilot)
        red, green, _ = _total_colour(app)
    assert (red > green) is reddish


async def test_the_convention_setting_overrides_the_language_and_applies_live(make_app, tui_settings):
    app = make_app(msgspec.structs.replace(tui_settings, language="zh", colour_convention="green-up"))
    async with app.run_test(size=(160, 40)) as pilot:
        await settle(app, pilot)
        red, green, _ = _total_colour(app)
        assert green > red
        app.apply_settings(msgspec.structs.replace(app.settings, colour_convention="red-up"))
        await pilot.pause()
        red, green, _ = _total_colour(app)
        assert red > green
        up = app.get_css_variables()["up"]  # the CSS variable too, for widgets styled in CSS
        assert int(up[1:3], 16) > int(up[3:5], 16)


async def test_a_theme_picked_over_the_detail_screen_recolours_it(make_app):
    from rich.style import Style
    from rich.text import Text

    def colours_in(app: GmeApp) -> set[Color]:
        content = app.screen.query_one("#chart").content
        assert isinstance(content, Text)
        return {span.style.color for span in content.spans if isinstance(span.style, Style) and span.style.color}

    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("down", "enter")
        dark_up = app.colours.up.color
        assert dark_up in colours_in(app)
        app.theme = "textual-light"
        await pilot.pause()
        light_up = app.colours.up.color
        assert light_up != dark_up and light_up in colours_in(app) and dark_up not in colours_in(app)
