"""SPEC §10 for issue 14's alerts: B (digest on DingTalk, at once on WeCom) with its figures, the
bearish A+ like A+, liquidations (off by default, at or above the threshold), and re-scans
(issue 13: a settings change re-scans the last boundary) never alerted again."""

from __future__ import annotations

import dataclasses

from gme_tui.alerts.messages import MessageRenderer
from gme_tui.alerts.policy import AlertPolicy, Route
from gme_tui.model import Derivatives, Grade, Liquidation, Scan, Signal, SignalCode, SymbolScan
from tests.alerts.conftest import FLOWS, T0, consensus, make_settings, scan

BOTH_NOW = {"dingtalk": Route.IMMEDIATE, "wecom": Route.IMMEDIATE}


def policy(language: str = "zh", **alerts) -> AlertPolicy:
    settings = make_settings(language=language, **alerts)
    return AlertPolicy(settings.alerts, MessageRenderer(settings, "live"), {})


def b_scan(ts: int = T0) -> Scan:
    line = Derivatives(
        ts=ts,
        symbol="BNB/USDT",
        windows={},
        perp_flows={"binance": -1_500_000.0, "okx": -500_000.0},
        perp_ratios={"binance": 0.5, "okx": 0.75},
        perp_total=-2_000_000.0,
        perp_ratio=0.625,
        spot_total=4_000_000.0,
        spot_ratio=1.25,
        oi={},
        oi_change_pct=1.5,
        hedge_ratio=0.5,
    )
    signal = Signal(ts, "BNB/USDT", Grade.B, SignalCode.DERIVATIVES_HEDGE, dict(FLOWS), derivatives=line)
    item = SymbolScan(consensus("BNB/USDT", "mixed", ts), (signal,), {}, None, None, 0.0, derivatives=line)
    return Scan(ts=ts, window_minutes=50, symbols=(item,))


def liquidation(value: float, ts: int = T0 + 1234, exchange: str = "bybit", side: str = "long") -> Liquidation:
    return Liquidation(ts, exchange, "BTC/USDT", side, 42_000.0, value / 42_000.0, value)  # type: ignore[arg-type]


def test_b_goes_to_the_dingtalk_digest_and_to_wecom_at_once_with_its_figures():
    [decision] = policy().decide([b_scan()], T0)
    assert decision.routes == {"dingtalk": Route.DIGEST, "wecom": Route.IMMEDIATE}
    assert not decision.message.at_all
    text = decision.message.text
    assert "方向**: 中性（观望）" in text
    assert "现货净流入 +4.00M USDT，买卖比 1.25" in text
    assert "合约净流入 -2.00M USDT，买卖比 0.62" in text  # 0.625 is exact in binary: rounds half to even
    assert "持仓量变化 +1.50%" in text and "对冲比例 0.50" in text
    [english] = policy("en").decide([b_scan()], T0)
    assert "spot net flow +4.00M USDT, buy/sell 1.25" in english.message.text
    assert "Direction**: neutral (watch)" in english.message.text


def test_the_bearish_a_plus_goes_to_both_at_once_with_at_all_and_its_direction():
    decisions = policy().decide([scan(T0, ("SUI/USDT", "mixed", ("global_sync_bearish",)))], T0)
    assert [(d.message.key, d.routes, d.message.at_all) for d in decisions] == [("global_sync_bearish", BOTH_NOW, True)]
    assert "方向**: 看跌" in decisions[0].message.text and "主力全平台出货" in decisions[0].message.text


def test_a_rescan_is_never_alerted_again_and_does_not_move_the_level_memory():
    p = policy()
    first = scan(T0, ("ETH/USDT", "mixed", ()))
    assert p.decide([first], T0) == []
    # The settings changed: the same boundary re-scanned under new thresholds is strong with A+.
    rescan = dataclasses.replace(scan(T0, ("ETH/USDT", "strong_bullish", ("global_sync_bullish",))), rescan=True)
    assert p.decide([rescan], T0) == []
    # The next real scan decides as usual: entering the strong level, and the A+.
    later = scan(T0 + 60_000, ("ETH/USDT", "strong_bullish", ("global_sync_bullish",)))
    assert sorted(d.message.key for d in p.decide([later], T0)) == ["global_sync_bullish", "strong_bullish"]


def test_liquidations_are_off_by_default():
    assert policy().decide([liquidation(5e6)], T0) == []


def test_liquidations_at_or_above_the_threshold_go_to_both_at_once():
    p = policy(enable_liquidation_notify=True)
    assert p.decide([liquidation(999_999.99)], T0) == []
    [decision] = p.decide([liquidation(1_000_000.0)], T0)
    assert decision.routes == BOTH_NOW and not decision.message.at_all
    assert decision.message.category == "liquidation"
    assert "爆仓 BTC/USDT 多单 $1,000,000" in decision.message.title
    assert len(p.decide([liquidation(2e6, ts=T0 + 1500)], T0)) == 1  # a distinct order: no cooldown
    assert (
        len(policy(enable_liquidation_notify=True, liquidation_notify_threshold=3e6).decide([liquidation(2e6)], T0))
        == 0
    )


def test_a_binance_liquidation_says_the_feed_is_sampled_in_each_language():
    [zh] = policy(enable_liquidation_notify=True).decide([liquidation(2e6, exchange="binance", side="short")], T0)
    assert "空单" in zh.message.title and "抽样" in zh.message.text
    [en] = policy("en", enable_liquidation_notify=True).decide([liquidation(2e6, exchange="binance")], T0)
    assert "Liquidation BTC/USDT long" in en.message.title and "sampled" in en.message.text
    [okx] = policy("en", enable_liquidation_notify=True).decide([liquidation(2e6, exchange="okx")], T0)
    assert "sampled" not in okx.message.text
