"""Snapshots of every screen from deterministic data (fixed clock, UTC, in-memory replay), in both
languages, at the three sizes issue 13 names (80×24, 100×30, 160×45) for the main and detail screens;
the market has perpetuals (issue 14): perp columns, B, liquidations, the detail's perp section.

Update after an intended change: pytest tests/tui/test_snapshots.py --snapshot-update
(and look at each changed picture: the report pytest writes shows old and new side by side).
"""

from __future__ import annotations

import msgspec
import pytest
from textual.widgets import Static

from tests.tui.market import market_items, settle
from tests.tui.test_history import store  # noqa: F401 (a fixture)

SIZES = [(80, 24), (100, 30), (160, 45)]
LANGUAGES = ["en", "zh"]


def before(*keys: str):
    async def run(pilot) -> None:
        await settle(pilot.app, pilot)
        for key in keys:
            await pilot.press(key)
            await pilot.pause()
        await pilot.pause()

    return run


def in_language(settings, language: str):
    return msgspec.structs.replace(settings, language=language)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("language", LANGUAGES)
def test_main_screen(make_app, tui_settings, snap_compare, language, size):
    app = make_app(in_language(tui_settings, language))
    assert snap_compare(app, run_before=before("down", "down"), terminal_size=size)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("language", LANGUAGES)
def test_detail_screen(make_app, tui_settings, snap_compare, language, size):
    app = make_app(in_language(tui_settings, language))
    assert snap_compare(app, run_before=before("down", "enter"), terminal_size=size)


def test_detail_screen_with_the_store(make_app, snap_compare, store):  # noqa: F811
    assert snap_compare(make_app(store=store), run_before=before("down", "enter"), terminal_size=(160, 45))


@pytest.mark.parametrize("size", [(80, 24), (160, 45)], ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("language", LANGUAGES)
def test_settings_screen(make_app, tui_settings, snap_compare, language, size):
    app = make_app(in_language(tui_settings, language))
    assert snap_compare(app, run_before=before("o"), terminal_size=size)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("language", LANGUAGES)
def test_help_screen(make_app, tui_settings, snap_compare, language, size):
    app = make_app(in_language(tui_settings, language))
    assert snap_compare(app, run_before=before("question_mark"), terminal_size=size)


@pytest.mark.parametrize("language", LANGUAGES)
def test_history_screen(make_app, tui_settings, snap_compare, store, language):  # noqa: F811
    app = make_app(in_language(tui_settings, language), store=store)
    assert snap_compare(app, run_before=before("h"), terminal_size=(100, 30))


def test_history_screen_without_a_store(make_app, snap_compare):
    assert snap_compare(make_app(), run_before=before("h"), terminal_size=(80, 24))


@pytest.mark.parametrize("language", LANGUAGES)
def test_an_empty_filter_says_so(make_app, tui_settings, snap_compare, language):
    app = make_app(in_language(tui_settings, language), items=market_items(perps=False))  # spot only: no B
    assert snap_compare(app, run_before=before("3"), terminal_size=(80, 24))


@pytest.mark.parametrize("language", LANGUAGES)
def test_filter_3_shows_b(make_app, tui_settings, snap_compare, language):
    app = make_app(in_language(tui_settings, language))
    assert snap_compare(app, run_before=before("3"), terminal_size=(100, 30))


@pytest.mark.parametrize("language", LANGUAGES)
def test_liquidations_in_the_whales_place(make_app, tui_settings, snap_compare, language):
    app = make_app(in_language(tui_settings, language))
    assert snap_compare(app, run_before=before("l"), terminal_size=(80, 24))


@pytest.mark.parametrize("size", [(80, 24), (100, 30), (160, 45)], ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("language", LANGUAGES)
def test_detail_perp_section(make_app, tui_settings, snap_compare, language, size):
    """The detail screen scrolled to its perp section: spot against perp, OI, liquidations."""
    app = make_app(in_language(tui_settings, language))

    async def run(pilot) -> None:
        await before("down", "enter")(pilot)
        pilot.app.screen.query_one("#perp", Static).scroll_visible(top=True, animate=False, immediate=True)
        await pilot.pause()

    assert snap_compare(app, run_before=run, terminal_size=size)
