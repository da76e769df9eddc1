"""notify-test, the background task with the wall clock, closing, the no-robot no-op."""

from __future__ import annotations

import asyncio
import io
import logging
import time

import pytest

from gme_tui.alerts import AlertDispatcher, notify_test
from gme_tui.model import HealthUpdate, SourceMode
from gme_tui.settings import Secrets
from tests.alerts.conftest import DT_TOKEN, WC_KEY, make_settings, robot_secrets, scan, whale
from tests.fakes.robot import FakeRobotServer


def wall() -> int:
    return time.time_ns() // 1_000_000


@pytest.fixture
async def wall_server():
    async with FakeRobotServer(wall) as fake:
        yield fake


@pytest.mark.parametrize(
    ("language", "lines", "word"),
    [
        ("en", ["DingTalk: delivered", "WeCom: delivered"], "test message"),
        ("zh", ["钉钉：发送成功", "企业微信：发送成功"], "测试消息"),  # the default settings' language
    ],
)
async def test_notify_test_all_delivered(wall_server, language, lines, word):
    server = wall_server
    out = io.StringIO()
    code = await notify_test(make_settings(language=language), robot_secrets(server), out)
    assert code == 0
    assert out.getvalue().splitlines() == lines
    assert all(len(r.accepted) == 1 and word in r.texts()[0] for r in server.robots.values())


async def test_notify_test_reports_the_errcode_and_its_meaning(wall_server):
    server = wall_server
    out = io.StringIO()
    secrets = robot_secrets(server, dt_secret="SECwrong-secret-0000000000")
    code = await notify_test(make_settings(language="en"), secrets, out)
    text = out.getvalue()
    assert code == 1
    # issue 13 reworded notify-test: "FAILED: <plain words>", then "what to do: ..." (was "(hint: ...)")
    assert "DingTalk: FAILED: errcode 310000: security check failed" in text and "what to do:" in text
    assert "WeCom: delivered" in text
    assert DT_TOKEN not in text and "SECwrong" not in text and WC_KEY not in text


async def test_notify_test_with_no_robot_configured_exits_2_with_a_hint():
    out = io.StringIO()
    assert await notify_test(make_settings(language="en"), Secrets(), out) == 2
    assert "ENABLE_DINGTALK=true" in out.getvalue() and "WECHAT_WEBHOOK" in out.getvalue()
    out = io.StringIO()
    half = Secrets(dingtalk_webhook=f"https://x/robot/send?access_token={DT_TOKEN}")
    assert await notify_test(make_settings(language="en"), half, out) == 2
    assert "ENABLE_DINGTALK is not true" in out.getvalue() and DT_TOKEN not in out.getvalue()


async def test_background_delivery_and_close_with_the_wall_clock(tmp_path):
    async with FakeRobotServer(wall) as server:
        secrets = robot_secrets(server)
        dispatcher = AlertDispatcher(make_settings(), secrets, mode="live", outbox_path=tmp_path / "o.db")
        await dispatcher.start()
        started = time.perf_counter()
        dispatcher.on_events([scan(wall() // 60_000 * 60_000, ("BTC/USDT", "strong_bullish", ()))])
        assert time.perf_counter() - started < 0.05  # only enqueues
        assert all(r.answers == [] for r in server.robots.values())
        await dispatcher.close(timeout=3)
        assert [len(r.accepted) for r in server.robots.values()] == [1, 2]  # WeCom: markdown + @all


async def test_close_gives_up_on_time_and_keeps_the_rest_for_the_next_start(tmp_path):
    async with FakeRobotServer(wall, stall_seconds=5) as server:
        secrets = robot_secrets(server, dingtalk=False)
        robot = next(iter(server.robots.values()))
        robot.outage = "stall"
        settings = make_settings(request_timeout_seconds=3)
        dispatcher = AlertDispatcher(settings, secrets, mode="live", outbox_path=tmp_path / "o.db")
        await dispatcher.start()
        dispatcher.on_events([whale(wall())])
        await asyncio.sleep(0)  # let the background task start its request
        started = time.perf_counter()
        await dispatcher.close(timeout=0.3)
        assert time.perf_counter() - started < 1.5
        robot.outage = None
        again = AlertDispatcher(settings, secrets, mode="live", outbox_path=tmp_path / "o.db")
        assert again.status()["wecom"].pending == 1
        await again.deliver_due()
        assert len(robot.accepted) == 1
        await again.close(timeout=1)


async def test_no_robot_configured_is_a_cheap_no_op_that_still_logs(tmp_path, caplog):
    path = tmp_path / "never.db"
    dispatcher = AlertDispatcher(make_settings(), Secrets(), mode="live", outbox_path=path)
    with caplog.at_level(logging.INFO, logger="gme_tui.alerts"):
        await dispatcher.start()
        dispatcher.on_events(
            [
                scan(
                    1_765_530_000_000,
                    ("BTC/USDT", "mixed", ("global_sync_bullish",)),
                    ("HBAR/USDT", "mixed", ("single_platform_long_trap",)),
                )
            ]
        )
        await dispatcher.close()
    messages = [r.getMessage() for r in caplog.records]
    assert any("no robot configured" in m and "BTC/USDT" in m for m in messages)
    assert any("log only" in m and "HBAR/USDT" in m for m in messages)
    assert not path.exists() and not dispatcher.active
    status = dispatcher.status()
    assert not status["dingtalk"].configured and "ENABLE_DINGTALK" in status["dingtalk"].hint


async def test_a_broken_event_never_raises(tmp_path, caplog):
    dispatcher = AlertDispatcher(make_settings(), Secrets(), mode="replay")
    dispatcher.on_events([object(), None])  # ignored
    dispatcher.on_health(HealthUpdate(0, SourceMode.REPLAY, (object(),)))  # logged, not raised
    assert any("health" in r.getMessage() for r in caplog.records)
    await dispatcher.close()
