"""SPEC §10's table row by row, cooldowns, entering strong levels, muting."""

from __future__ import annotations

import logging

import pytest

from gme_tui.alerts.messages import MessageRenderer
from gme_tui.alerts.policy import AlertPolicy, Route
from gme_tui.core.mutes import Mutes
from tests.alerts.conftest import T0, make_settings, scan, whale

MIN = 60_000
IMMEDIATE, DIGEST = Route.IMMEDIATE, Route.DIGEST
BOTH_NOW = {"dingtalk": IMMEDIATE, "wecom": IMMEDIATE}


def policy(mutes: Mutes | None = None, **alerts) -> AlertPolicy:
    settings = make_settings(**alerts)
    return AlertPolicy(settings.alerts, MessageRenderer(settings, "live"), {}, mutes)


def decide(p: AlertPolicy, *events, now: int = T0):
    return [
        (d.message.category, d.message.key, d.message.symbol, d.routes, d.message.at_all) for d in p.decide(events, now)
    ]


@pytest.mark.parametrize("code,grade", [("global_sync_bullish", "A+"), ("us_institutional_accumulation", "A")])
def test_a_plus_and_a_go_to_both_robots_at_once_with_at_all(code, grade):
    out = decide(policy(), scan(T0, ("BTC/USDT", "mixed", (code,))))
    assert out == [("signal", code, "BTC/USDT", BOTH_NOW, True)]


@pytest.mark.parametrize("level", ["strong_bullish", "strong_bearish"])
def test_strong_consensus_on_entering_goes_to_both_with_at_all(level):
    p = policy()
    assert decide(p, scan(T0, ("ETH/USDT", "mixed", ()))) == []
    out = decide(p, scan(T0 + MIN, ("ETH/USDT", level, ())))
    assert out == [("consensus", level, "ETH/USDT", BOTH_NOW, True)]
    assert decide(p, scan(T0 + 2 * MIN, ("ETH/USDT", level, ()))) == []  # staying is not entering


def test_lean_and_mixed_levels_never_alert():
    p = policy()
    for i, level in enumerate(["lean_bullish", "lean_bearish", "mixed"]):
        assert decide(p, scan(T0 + i * MIN, ("ETH/USDT", level, ()))) == []


def test_first_scan_seen_counts_as_entering():
    assert decide(policy(), scan(T0, ("ETH/USDT", "strong_bullish", ())))[0][1] == "strong_bullish"


def test_whales_at_or_above_the_notify_threshold_go_to_both_without_at_all():
    p = policy()
    assert decide(p, whale(T0, value=500_000.0)) == [("whale", "whale", "BTC/USDT", BOTH_NOW, False)]
    assert decide(p, whale(T0, value=499_999.0)) == []
    assert len(decide(p, whale(T0 + 1, value=800_000.0))) == 1  # a distinct order: no cooldown
    assert decide(policy(enable_whale_notify=False), whale(T0, value=5e6)) == []
    assert decide(policy(whale_notify_threshold=1e6), whale(T0, value=900_000.0)) == []


def test_backfilled_whales_are_never_alerted():
    import dataclasses

    old_news = dataclasses.replace(whale(T0, value=5e6), backfilled=True)
    assert decide(policy(), old_news) == []


def test_b_goes_to_the_dingtalk_digest_and_to_wecom_at_once():
    out = decide(policy(), scan(T0, ("SOL/USDT", "mixed", ("derivatives_hedge",))))
    assert out == [("signal", "derivatives_hedge", "SOL/USDT", {"dingtalk": DIGEST, "wecom": IMMEDIATE}, False)]


def test_c_is_logged_only(caplog):
    p = policy(notify_grades=("A+", "A", "B", "C"))
    with caplog.at_level(logging.INFO, logger="gme_tui.alerts"):
        assert decide(p, scan(T0, ("HBAR/USDT", "mixed", ("single_platform_long_trap",)))) == []
        assert decide(p, scan(T0 + MIN, ("HBAR/USDT", "mixed", ("single_platform_long_trap",)))) == []
    logged = [r.getMessage() for r in caplog.records if "log only" in r.getMessage()]
    assert len(logged) == 1 and "HBAR/USDT" in logged[0]  # the cooldown keeps the log quiet too


def test_notify_grades_and_consensus_switch():
    p = policy(notify_grades=("A+",))
    assert decide(p, scan(T0, ("BTC/USDT", "mixed", ("us_institutional_accumulation",)))) == []
    assert len(decide(p, scan(T0, ("XRP/USDT", "mixed", ("global_sync_bullish",))))) == 1
    assert decide(policy(enable_consensus_notify=False), scan(T0, ("BTC/USDT", "strong_bullish", ()))) == []


def test_cooldown_per_symbol_and_kind():
    p = policy(cooldown_minutes=30)
    first = decide(p, scan(T0, ("BTC/USDT", "mixed", ("global_sync_bullish", "us_institutional_accumulation"))))
    assert len(first) == 2
    assert decide(p, scan(T0 + 29 * MIN, ("BTC/USDT", "mixed", ("global_sync_bullish",)))) == []
    other = decide(p, scan(T0 + 29 * MIN, ("ETH/USDT", "mixed", ("global_sync_bullish",))))
    assert len(other) == 1  # another symbol is another (symbol, kind)
    again = decide(p, scan(T0 + 30 * MIN, ("BTC/USDT", "mixed", ("global_sync_bullish",))))
    assert [k for _, k, *_ in again] == ["global_sync_bullish"]


def test_re_entering_a_strong_level_within_the_cooldown_is_not_resent():
    p = policy(cooldown_minutes=30)
    assert len(decide(p, scan(T0, ("BTC/USDT", "strong_bullish", ())))) == 1
    assert decide(p, scan(T0 + MIN, ("BTC/USDT", "mixed", ()))) == []
    assert decide(p, scan(T0 + 2 * MIN, ("BTC/USDT", "strong_bullish", ()))) == []
    assert len(decide(p, scan(T0 + 3 * MIN, ("BTC/USDT", "strong_bearish", ())))) == 1  # another kind
    assert decide(p, scan(T0 + 40 * MIN, ("BTC/USDT", "mixed", ()))) == []
    assert len(decide(p, scan(T0 + 41 * MIN, ("BTC/USDT", "strong_bullish", ())))) == 1


def test_mute_for_a_while_and_unmute_and_settings_mute():
    mutes = Mutes()
    p = policy(mutes)
    mutes.mute("BTC/USDT", T0 + 10 * MIN)
    assert decide(p, whale(T0), now=T0) == []
    assert decide(p, scan(T0, ("BTC/USDT", "mixed", ("global_sync_bullish",))), now=T0) == []
    assert len(decide(p, whale(T0 + 1), now=T0 + 10 * MIN)) == 1  # the mute ran out
    mutes.mute("BTC/USDT", T0 + 60 * MIN)
    mutes.unmute("BTC/USDT")
    assert len(decide(p, whale(T0 + 2), now=T0 + 11 * MIN)) == 1
    q = policy(muted=("DOGE/USDT",))
    assert decide(q, whale(T0, symbol="DOGE/USDT"), scan(T0, ("DOGE/USDT", "strong_bullish", ()))) == []


class CountingRenderer(MessageRenderer):
    """Counts the full messages it renders (what the policy decided to send)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.rendered: list[tuple[str, str]] = []

    def signal(self, signal, scan):
        self.rendered.append(("signal", signal.symbol))
        return super().signal(signal, scan)

    def consensus(self, consensus):
        self.rendered.append(("consensus", consensus.symbol))
        return super().consensus(consensus)

    def whale(self, whale):
        self.rendered.append(("whale", whale.symbol))
        return super().whale(whale)


def counting_policy(mutes: Mutes | None = None, **alerts) -> tuple[AlertPolicy, CountingRenderer]:
    settings = make_settings(**alerts)
    renderer = CountingRenderer(settings, "live")
    return AlertPolicy(settings.alerts, renderer, {}, mutes), renderer


def test_a_muted_symbol_is_never_rendered():
    mutes = Mutes(["DOGE/USDT"])
    p, renderer = counting_policy(mutes)
    mutes.mute("BTC/USDT", T0 + 10 * MIN)
    events = [
        scan(T0, ("BTC/USDT", "strong_bullish", ("global_sync_bullish",)), ("DOGE/USDT", "strong_bearish", ())),
        whale(T0, symbol="BTC/USDT"),
        whale(T0, symbol="DOGE/USDT"),
    ]
    assert decide(p, *events, now=T0) == []
    assert renderer.rendered == []


def test_a_cooled_down_or_unnotified_alert_is_never_rendered(caplog):
    p, renderer = counting_policy(cooldown_minutes=30, notify_grades=("A+", "B"))
    assert len(decide(p, scan(T0, ("ETH/USDT", "mixed", ("global_sync_bullish",))))) == 1
    assert renderer.rendered == [("signal", "ETH/USDT")]
    assert decide(p, scan(T0 + 5 * MIN, ("ETH/USDT", "mixed", ("global_sync_bullish",)))) == []  # cooling down
    assert decide(p, scan(T0 + 6 * MIN, ("ETH/USDT", "mixed", ("us_institutional_accumulation",)))) == []  # grade A
    with caplog.at_level(logging.INFO, logger="gme_tui.alerts"):
        assert decide(p, scan(T0 + 7 * MIN, ("HBAR/USDT", "mixed", ("single_platform_long_trap",)))) == []
    assert renderer.rendered == [("signal", "ETH/USDT")]  # the C signal's log line is not a message
    assert any("log only" in r.getMessage() and "HBAR/USDT" in r.getMessage() for r in caplog.records)


def test_the_cooldown_query_changes_nothing():
    p = policy(cooldown_minutes=30)
    assert len(decide(p, scan(T0, ("BTC/USDT", "mixed", ("global_sync_bullish",))))) == 1
    assert p.take_new_cooldowns() == [("BTC/USDT", "global_sync_bullish", T0)]
    before = dict(p.cooldowns)
    for _ in range(3):  # asked again and again: the same answers, and no state changes
        assert p.cooling_down("BTC/USDT", "global_sync_bullish", T0 + 29 * MIN)
        assert not p.cooling_down("BTC/USDT", "global_sync_bullish", T0 + 30 * MIN)
        assert not p.cooling_down("ETH/USDT", "global_sync_bullish", T0 + MIN)
    assert p.cooldowns == before and p.take_new_cooldowns() == []
    p.start_cooldown("ETH/USDT", "global_sync_bullish", T0 + MIN)  # the command is what changes it
    assert p.cooling_down("ETH/USDT", "global_sync_bullish", T0 + 2 * MIN)
    assert p.take_new_cooldowns() == [("ETH/USDT", "global_sync_bullish", T0 + MIN)]
