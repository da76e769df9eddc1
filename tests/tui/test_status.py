"""The status bar's text: robots' state beside the exchanges'."""

from __future__ import annotations

from dataclasses import replace

from gme_tui.model import ExchangeHealth, RobotStatus
from gme_tui.tui.widgets.status import StatusInfo, status_text
from tests.tui.status_info import live_info


def info(robots) -> StatusInfo:
    return replace(live_info([ExchangeHealth("binance", "live", 0, 0, 12.0)]), robots=robots)


def test_a_halted_robot_shows_its_error_hint_and_pending_alerts():
    bad = RobotStatus(
        "dingtalk", "DingTalk", True, 3, 7, 0, "errcode 310000 (sign not match)", "check DINGTALK_SECRET", halted=True
    )
    good = RobotStatus("wecom", "WeCom", True, 12, 0, 0)
    line = status_text(info([bad, good])).plain
    assert "DingTalk: errcode 310000 (sign not match) (check DINGTALK_SECRET), 7 pending" in line
    assert "WeCom ✓" in line


def test_unconfigured_robots_are_not_shown():
    line = status_text(info([RobotStatus("wecom", "WeCom", False, 0, 0, 0, hint="set ENABLE_WECHAT")])).plain
    assert "WeCom" not in line


def test_a_robot_sent_by_another_process_says_who_sends():
    other = RobotStatus("dingtalk", "DingTalk", True, 0, 2, 0, sent_by="pid 1234 (gme-tui --headless)")
    line = status_text(info([other])).plain
    assert "DingTalk: sent by pid 1234 (gme-tui --headless)" in line and "✓" not in line
