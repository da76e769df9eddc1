"""The texts: the seed's fields, zone-named times, money format, marks, digest splitting."""

from __future__ import annotations

import time

import msgspec

from gme_tui.alerts.dingtalk import DingTalkRobot
from gme_tui.alerts.messages import MessageRenderer, split_digest
from gme_tui.alerts.wecom import WeComRobot
from gme_tui.model import Consensus
from tests.alerts.conftest import T0, make_settings, scan, whale


def test_signal_message_has_the_seed_fields():
    item = scan(T0, ("BTC/USDT", "strong_bullish", ("global_sync_bullish",))).symbols[0]
    message = MessageRenderer(make_settings(), "live").signal(item.signals[0], item)
    text = message.text
    for expected in (
        "**信号类型**: 全球协同看涨 (Global Sync Bullish)",
        "**信号等级**: A+",
        "**币种**: BTC/USDT",
        "**触发时间**: 2025-12-12 17:00:00 UTC+08:00 (CST)",
        "- 📈 BINANCE: +500k USDT",
        "- 📈 COINBASE: +50k USDT",
        "**市场共识**: 强力看涨 (Strong Bullish) — 全平台净流入",
        "**信号解读**: 主力全平台吸筹",
        "**强烈建议**",
        "资金流监控",
    ):
        assert expected in text, expected
    assert message.title.startswith("🚨 资金流监控 gme-tui") and message.at_all
    assert "|" not in text and "```" not in text  # no tables, no code blocks


def test_partial_coverage_is_shown_and_english_works():
    consensus = Consensus(
        T0,
        "ETH/USDT",
        "strong_bearish",
        {"binance": -2.02e6, "bybit": -5_000.0},
        {"binance": 0.8, "bybit": 0.9},
        -2.025e6,
        coverage={"binance": 50, "bybit": 12},
    )
    zh = MessageRenderer(make_settings(), "replay").consensus(consensus)
    assert "BYBIT: -5k USDT (12/50m)" in zh.text and "BINANCE: -2.02M USDT\n" in zh.text
    assert zh.title.startswith("【REPLAY】") and "强力看跌" in zh.title
    settings = msgspec.structs.replace(make_settings(), language="en")
    en = MessageRenderer(settings, "live").whale(whale(T0))
    assert "Whale order" in en.title and "**Value**: $600,000" in en.text and "资金流监控" in en.text


def test_digest_split_keeps_every_line_in_order_and_is_fast_on_a_backlog():
    renderer = MessageRenderer(make_settings(), "live")
    lines = [f"17:{i % 60:02d}:00 🐳 SYM{i}/USDT BINANCE 买入 ${600_000 + i:,} @ 42,150" for i in range(3000)]
    lines[7] = "x" * 30_000  # absurd: shortened, not dropped, not blocking the rest

    for robot in (
        WeComRobot("http://x/?key=a", clock=lambda: T0),
        DingTalkRobot("http://x/?access_token=a", clock=lambda: T0),
    ):

        def render(chunk, part, parts):
            title = renderer.digest_title(False, part, parts)
            return title, renderer.digest_text(title, chunk, False, 30)

        started = time.perf_counter()
        parts = split_digest(lines, render, robot.fits)
        assert time.perf_counter() - started < 2
        assert sum(count for _, _, count in parts) == len(lines)
        assert all(robot.fits(title, text) for title, text, _ in parts)
        assert parts[0][0].endswith(f"(1/{len(parts)})")
        joined = "\n".join(text for _, _, text in [(0, 0, p[1]) for p in parts])
        assert lines[2999] in joined and lines[8] in joined and "xxxxxxxx…" in joined
