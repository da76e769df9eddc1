"""Snapshots of every screen from deterministic data (fixed clock, UTC, in-memory replay).

Update after an intended change: pytest tests/tui/test_snapshots.py --snapshot-update
"""

from __future__ import annotations

from tests.tui.market import settle


def before(*keys: str):
    async def run(pilot) -> None:
        await settle(pilot.app, pilot)
        for key in keys:
            await pilot.press(key)
        await pilot.pause()

    return run


def test_main_screen(make_app, snap_compare):
    assert snap_compare(make_app(), run_before=before(), terminal_size=(160, 45))


def test_main_screen_at_80x24_in_chinese(make_app, tui_settings, snap_compare):
    import msgspec

    zh = msgspec.structs.replace(tui_settings, language="zh")
    assert snap_compare(make_app(zh), run_before=before("down", "down"), terminal_size=(80, 24))


def test_detail_screen(make_app, snap_compare):
    assert snap_compare(make_app(), run_before=before("down", "enter"), terminal_size=(160, 45))


def test_settings_screen(make_app, snap_compare):
    assert snap_compare(make_app(), run_before=before("o"), terminal_size=(120, 45))


def test_help_screen(make_app, snap_compare):
    assert snap_compare(make_app(), run_before=before("question_mark"), terminal_size=(120, 40))
