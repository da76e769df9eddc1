"""Delivery against the fake robots: limits, digests, outages, restarts, permanent errors."""

from __future__ import annotations

import json
import logging

from gme_tui.alerts.messages import Category
from gme_tui.alerts.outbox import NewAlert
from gme_tui.model import ExchangeHealth, HealthState, HealthUpdate, SourceMode
from tests.alerts.conftest import T0, make_dispatcher, make_settings, robot_secrets, scan, whale

MIN = 60_000


async def run_for(dispatcher, clock, ms: int, step: int = 5_000) -> None:
    """Let simulated time pass, delivering what is due at each step."""
    end = clock.now + ms
    while clock.now < end:
        await dispatcher.deliver_due()
        clock.advance(step)
    await dispatcher.deliver_due()


def max_in_any_minute(times: list[int]) -> int:
    return max((sum(1 for u in times if t - 60_000 < u <= t) for t in times), default=0)


def messages_containing(robot, marker: str) -> int:
    return sum(1 for body in robot.accepted if marker in json.dumps(body, ensure_ascii=False))


def whales(n: int, ts: int = T0):
    return [whale(ts + i, value=600_000.0 + 1_000.0 * i) for i in range(n)]


def marker(i: int) -> str:
    return f"${600_000 + 1_000 * i:,}"


async def test_burst_of_100_stays_under_20_per_minute_and_loses_nothing(server, clock, tmp_path):
    secrets = robot_secrets(server)
    dispatcher = make_dispatcher(make_settings(), secrets, clock, tmp_path / "outbox.db")
    dispatcher.on_events(whales(100))
    await run_for(dispatcher, clock, 5 * MIN)
    for robot in server.robots.values():
        assert max_in_any_minute(robot.accept_times) <= 20
        assert set(robot.answers) == {0}, robot.answers  # never throttled by the robot
        assert len(robot.accepted) <= 20  # merged, not spread over minutes
        assert [messages_containing(robot, marker(i)) for i in range(100)] == [1] * 100
    status = dispatcher.status()
    assert status["dingtalk"].delivered == status["wecom"].delivered == 100
    assert status["dingtalk"].pending == status["wecom"].pending == 0
    await dispatcher.close(timeout=1)


async def test_digests_are_split_under_each_robots_size_limit(server, clock, tmp_path):
    dispatcher = make_dispatcher(make_settings(), robot_secrets(server), clock, tmp_path / "o.db")
    dispatcher.on_events(whales(500))
    await run_for(dispatcher, clock, 3 * MIN)
    dingtalk = next(r for r in server.robots.values() if r.kind == "dingtalk")
    wecom = next(r for r in server.robots.values() if r.kind == "wecom")
    assert set(dingtalk.answers) == {0} and set(wecom.answers) == {0}
    for body in dingtalk.accepted:
        assert len(json.dumps(body, ensure_ascii=False).encode()) <= 20_000
    for body in wecom.accepted:
        assert len(body["markdown"]["content"].encode()) <= 4_096
    digests_dt = [b for b in dingtalk.accepted if "消息汇总" in b["markdown"]["title"]]
    digests_wc = [b for b in wecom.accepted if "消息汇总" in b["markdown"]["content"]]
    assert len(digests_dt) >= 2 and len(digests_wc) > len(digests_dt)  # WeCom's limit is smaller
    assert "(1/" in digests_wc[0]["markdown"]["content"]
    for robot in (dingtalk, wecom):
        assert [messages_containing(robot, marker(i)) for i in range(500)] == [1] * 500
    await dispatcher.close(timeout=1)


async def test_wecom_at_all_is_markdown_plus_text_and_both_count(server, clock, tmp_path):
    dispatcher = make_dispatcher(make_settings(), robot_secrets(server), clock, tmp_path / "o.db")
    dispatcher.on_events([scan(T0, ("BTC/USDT", "mixed", ("global_sync_bullish",)))])
    await dispatcher.deliver_due()
    wecom = next(r for r in server.robots.values() if r.kind == "wecom")
    dingtalk = next(r for r in server.robots.values() if r.kind == "dingtalk")
    assert [b["msgtype"] for b in wecom.accepted] == ["markdown", "text"]
    assert wecom.accepted[1]["text"]["mentioned_list"] == ["@all"]
    assert "BTC/USDT" in wecom.accepted[1]["text"]["content"]
    assert [b["msgtype"] for b in dingtalk.accepted] == ["markdown"]
    assert dingtalk.accepted[0]["at"]["isAtAll"] is True
    # Fifteen more @all alerts: 30 WeCom messages if sent one by one; the limiter keeps it at 20.
    symbols = [f"C{i:02d}/USDT" for i in range(15)]
    dispatcher.on_events([scan(T0 + MIN, *[(s, "mixed", ("global_sync_bullish",)) for s in symbols])])
    clock.advance(MIN + 2_000)
    await run_for(dispatcher, clock, 3 * MIN)
    assert max_in_any_minute(wecom.accept_times) <= 20 and set(wecom.answers) == {0}
    assert all(messages_containing(wecom, s) >= 1 for s in symbols)
    pings = [b for b in wecom.accepted if b["msgtype"] == "text"]
    assert len(pings) >= 2 and all(b["text"]["mentioned_list"] == ["@all"] for b in pings)
    await dispatcher.close(timeout=1)


async def test_b_signals_wait_for_the_dingtalk_digest_but_go_to_wecom_at_once(server, clock, tmp_path):
    dispatcher = make_dispatcher(make_settings(), robot_secrets(server), clock, tmp_path / "o.db")
    dispatcher.on_events([scan(T0 + MIN, ("SOL/USDT", "mixed", ("derivatives_hedge",)))])
    clock.advance(MIN)
    dispatcher.on_events([scan(T0 + 2 * MIN, ("ADA/USDT", "mixed", ("derivatives_hedge",)))])
    await run_for(dispatcher, clock, 27 * MIN)
    wecom = next(r for r in server.robots.values() if r.kind == "wecom")
    dingtalk = next(r for r in server.robots.values() if r.kind == "dingtalk")
    assert len(wecom.accepted) == 2 and dingtalk.accepted == []
    await run_for(dispatcher, clock, 2 * MIN)  # past T0 + 30 min
    assert len(dingtalk.accepted) == 1
    text = dingtalk.accepted[0]["markdown"]["text"]
    assert "B 级信号汇总" in text and "SOL/USDT" in text and "ADA/USDT" in text
    assert dingtalk.accepted[0]["at"]["isAtAll"] is False
    await dispatcher.close(timeout=1)


async def test_a_robot_down_for_a_while_then_back_gets_everything_once(server, clock, tmp_path):
    dispatcher = make_dispatcher(make_settings(), robot_secrets(server), clock, tmp_path / "o.db")
    dingtalk = next(r for r in server.robots.values() if r.kind == "dingtalk")
    wecom = next(r for r in server.robots.values() if r.kind == "wecom")
    dingtalk.outage, wecom.outage = "http500", "drop"
    dispatcher.on_events(whales(5))
    await run_for(dispatcher, clock, 20 * MIN)
    assert dingtalk.accepted == [] and wecom.accepted == []
    assert 3 <= len(dingtalk.answers) <= 15  # backing off, not hammering
    status = dispatcher.status()["dingtalk"]
    assert status.pending == 5 and "HTTP 500" in status.last_error
    dingtalk.outage = wecom.outage = None
    await run_for(dispatcher, clock, 6 * MIN)
    for robot in (dingtalk, wecom):
        assert [messages_containing(robot, marker(i)) for i in range(5)] == [1] * 5
    assert dispatcher.status()["wecom"].pending == 0 and dispatcher.status()["wecom"].last_error == ""
    await dispatcher.close(timeout=1)


async def test_retryable_errcodes_and_stalls_are_retried(server, clock, tmp_path):
    dispatcher = make_dispatcher(make_settings(), robot_secrets(server), clock, tmp_path / "o.db")
    dingtalk = next(r for r in server.robots.values() if r.kind == "dingtalk")
    wecom = next(r for r in server.robots.values() if r.kind == "wecom")
    dingtalk.fail_next("busy", "stall")
    wecom.fail_next("busy", "http500")
    dispatcher.on_events(whales(1))
    await run_for(dispatcher, clock, 2 * MIN)
    assert dingtalk.answers == ["busy", "stall", 0] and wecom.answers == ["busy", "http500", 0]
    await dispatcher.close(timeout=1)


async def test_throttled_robot_waits_out_the_ten_minutes(server, clock, tmp_path):
    dispatcher = make_dispatcher(make_settings(), robot_secrets(server), clock, tmp_path / "o.db")
    dingtalk = next(r for r in server.robots.values() if r.kind == "dingtalk")
    dingtalk.blocked_until = clock.now + 10 * MIN  # someone else used the robot too fast
    dispatcher.on_events(whales(3))
    await run_for(dispatcher, clock, 9 * MIN)
    assert dingtalk.answers == [130101]
    await run_for(dispatcher, clock, 3 * MIN)
    assert dingtalk.answers[1:] == [0, 0, 0]
    await dispatcher.close(timeout=1)


async def test_restart_mid_outage_delivers_pending_and_duplicates_none(server, clock, tmp_path):
    path = tmp_path / "outbox.db"
    settings = make_settings()
    secrets = robot_secrets(server)
    first = make_dispatcher(settings, secrets, clock, path)
    first.on_events([scan(T0, ("BTC/USDT", "mixed", ("global_sync_bullish",)))] + whales(3))
    await first.deliver_due()
    robots = list(server.robots.values())
    for robot in robots:
        robot.outage = "drop"
    first.on_events(whales(6)[3:])
    await run_for(first, clock, 2 * MIN)
    assert first.status()["dingtalk"].pending == 3
    await first.close(timeout=0.5)
    for robot in robots:
        robot.outage = None
    second = make_dispatcher(settings, secrets, clock, path)
    assert second.status()["dingtalk"].pending == 3
    second.on_events([scan(T0 + 5 * MIN, ("BTC/USDT", "mixed", ("global_sync_bullish",)))])  # in cooldown
    await run_for(second, clock, 5 * MIN)
    for robot in robots:
        assert [messages_containing(robot, marker(i)) for i in range(6)] == [1] * 6
        markdowns = [b for b in robot.accepted if b["msgtype"] == "markdown"]
        assert sum("全球协同看涨" in json.dumps(b, ensure_ascii=False) for b in markdowns) == 1
    await second.close(timeout=1)


async def test_permanent_errors_stop_retries_and_surface(server, clock, tmp_path, caplog):
    secrets = robot_secrets(server, dt_secret="SECwrong0000000000000000000000")
    secrets = type(secrets)(**{**secrets.__dict__, "wechat_webhook": secrets.wechat_webhook.replace("key=", "key=x")})
    dispatcher = make_dispatcher(make_settings(), secrets, clock, tmp_path / "o.db")
    with caplog.at_level(logging.ERROR):
        dispatcher.on_events(whales(2))
        await run_for(dispatcher, clock, 30 * MIN)
    dingtalk = next(r for r in server.robots.values() if r.kind == "dingtalk")
    assert dingtalk.answers == [310000]  # one try, then stop
    status = dispatcher.status()
    assert status["dingtalk"].halted and "310000" in status["dingtalk"].last_error
    assert "DINGTALK_SECRET" in status["dingtalk"].hint and status["dingtalk"].pending == 2
    assert status["wecom"].halted and "93000" in status["wecom"].last_error and "WECHAT_WEBHOOK" in status["wecom"].hint
    assert any("310000" in r.getMessage() for r in caplog.records)
    assert any("93000" in r.getMessage() for r in caplog.records)
    await dispatcher.close(timeout=1)


async def test_a_message_the_robot_refuses_is_reported_and_the_rest_goes(server, clock, tmp_path, caplog):
    dispatcher = make_dispatcher(make_settings(), robot_secrets(server, dingtalk=False), clock, tmp_path / "o.db")
    huge = NewAlert(
        "wecom", clock.now, Category.WHALE, "whale", "X/USDT", "资金流监控", "资" * 3000, "huge", False, False, 0
    )
    await dispatcher.outbox.call(lambda box: box.add(SourceMode.LIVE, [huge]))
    dispatcher.on_events(whales(1))
    with caplog.at_level(logging.ERROR):
        await run_for(dispatcher, clock, MIN)
    wecom = next(iter(server.robots.values()))
    assert wecom.answers == [40058, 0]
    status = dispatcher.status()["wecom"]
    assert status.failed == 1 and status.pending == 0 and status.delivered == 1
    assert any("40058" in r.getMessage() and "huge" in r.getMessage() for r in caplog.records)
    await dispatcher.close(timeout=1)


async def test_exchange_down_and_recovery_alerts(server, clock, tmp_path):
    dispatcher = make_dispatcher(
        make_settings(exchange_down_minutes=5), robot_secrets(server), clock, tmp_path / "o.db"
    )

    def health(state: HealthState, since: int, now: int) -> HealthUpdate:
        binance = ExchangeHealth("binance", HealthState.LIVE, T0)
        okx = ExchangeHealth("okx", state, since, reason="DNS lookup failed")
        return HealthUpdate(now, SourceMode.LIVE, (binance, okx))

    for minute in range(0, 7):
        dispatcher.on_health(health(HealthState.RECONNECTING, T0, T0 + minute * MIN))
    dispatcher.on_health(health(HealthState.DOWN, T0 + 6 * MIN, T0 + 7 * MIN))
    await dispatcher.deliver_due()
    wecom = next(r for r in server.robots.values() if r.kind == "wecom")
    assert len(wecom.accepted) == 1 and "OKX" in wecom.texts()[0] and "DNS lookup failed" in wecom.texts()[0]
    dispatcher.on_health(health(HealthState.LIVE, T0 + 9 * MIN, T0 + 9 * MIN))
    dispatcher.on_health(health(HealthState.LIVE, T0 + 9 * MIN, T0 + 10 * MIN))
    await dispatcher.deliver_due()
    assert len(wecom.accepted) == 2 and "恢复" in wecom.texts()[1] and "9 分钟" in wecom.texts()[1]
    await dispatcher.close(timeout=1)


async def test_demo_and_replay_messages_are_marked(server, clock, tmp_path):
    secrets = robot_secrets(server)
    for mode, _mark in (("demo", "【DEMO】"), ("replay", "【REPLAY】"), ("live", None)):
        dispatcher = make_dispatcher(make_settings(), secrets, clock, tmp_path / f"{mode}.db", mode=mode)
        dispatcher.on_events(whales(1, ts=clock.now))
        await dispatcher.deliver_due()
        await dispatcher.close(timeout=1)
        clock.advance(MIN)
    dingtalk = next(r for r in server.robots.values() if r.kind == "dingtalk")
    titles = [b["markdown"]["title"] for b in dingtalk.accepted]
    texts = dingtalk.texts()
    assert titles[0].startswith("【DEMO】") and "【DEMO】" in texts[0]
    assert titles[1].startswith("【REPLAY】") and "【REPLAY】" in texts[1]
    assert "【" not in titles[2]
    assert all("资金流监控" in t for t in titles + texts)


async def test_a_failed_at_all_text_is_retried_alone(server, clock, tmp_path):
    dispatcher = make_dispatcher(make_settings(), robot_secrets(server, dingtalk=False), clock, tmp_path / "o.db")
    wecom = next(iter(server.robots.values()))
    wecom.fail_next("pass", "http500")  # the markdown goes, its @all text fails
    dispatcher.on_events([scan(T0, ("BTC/USDT", "strong_bearish", ()))] + whales(30))
    await run_for(dispatcher, clock, 3 * MIN)
    assert wecom.answers[:2] == [0, "http500"]
    kinds = [b["msgtype"] for b in wecom.accepted]
    assert kinds[:2] == ["markdown", "text"]  # the retry sent the text only, before anything else
    assert messages_containing(wecom, "BTC/USDT 强力看跌") == 2  # one markdown, one @all text
    assert [messages_containing(wecom, marker(i)) for i in range(30)] == [1] * 30
    await dispatcher.close(timeout=1)


async def test_the_rate_window_survives_a_restart(server, clock, tmp_path):
    path = tmp_path / "o.db"
    secrets = robot_secrets(server)
    first = make_dispatcher(make_settings(), secrets, clock, path)
    first.on_events(whales(20))
    await first.deliver_due()
    await first.close(timeout=1)
    dingtalk = next(r for r in server.robots.values() if r.kind == "dingtalk")
    assert len(dingtalk.accepted) == 20
    clock.advance(10_000)
    second = make_dispatcher(make_settings(), secrets, clock, path)
    second.on_events(whales(25)[20:])
    await second.deliver_due()
    assert len(dingtalk.accepted) == 20  # waits for the window instead of earning a 10-minute block
    await run_for(second, clock, 2 * MIN)
    assert set(dingtalk.answers) == {0} and len(dingtalk.accepted) == 25
    await second.close(timeout=1)
