"""Issue 13 (items 1 and 7): notify-test and the robots' status in the user's language, failures in
plain words. Every failure against the fake robot on 127.0.0.1 (an unknown host under the reserved
`.invalid` TLD, which never resolves: no traffic), in English and in Chinese."""

from __future__ import annotations

import io
import socket
import time
from collections.abc import Iterator

import pytest

from gme_tui.alerts import notify_test
from gme_tui.alerts.dingtalk import ERRCODES as DINGTALK_ERRCODES
from gme_tui.alerts.problems import Problem, problem_text
from gme_tui.alerts.wecom import ERRCODES as WECOM_ERRCODES
from gme_tui.i18n import catalogue
from gme_tui.settings import Secrets
from tests.alerts.conftest import DT_SECRET, DT_TOKEN, WC_KEY, make_dispatcher, make_settings, robot_secrets, whale
from tests.fakes.robot import FakeRobotServer

RAW_AIOHTTP = ("ssl:default", "Cannot connect to host", "ClientConnector", "Errno", "Traceback")


def wall() -> int:
    return time.time_ns() // 1_000_000


@pytest.fixture
async def robots():
    async with FakeRobotServer(wall, stall_seconds=3.0) as fake:
        yield fake


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A port bound but not listening: a connection is refused, and no other test can take it."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    try:
        yield sock.getsockname()[1]
    finally:
        sock.close()


async def run(language: str, secrets: Secrets) -> tuple[int, list[str]]:
    out = io.StringIO()
    code = await notify_test(make_settings(language=language), secrets, out)
    text = out.getvalue()
    assert not any(raw in text for raw in RAW_AIOHTTP), text
    assert DT_TOKEN not in text and WC_KEY not in text and DT_SECRET not in text
    assert "retried" not in text and "重试" not in text  # notify-test sends once
    return code, text.splitlines()


def wecom_at(url: str) -> Secrets:
    return Secrets(wechat_webhook=url, enable_wechat=True)


# ---------------------------------------------------------------- each failure, both languages


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("en", ["WeCom: FAILED: cannot connect to {host}", "  what to do: {network}"]),
        ("zh", ["企业微信：发送失败：无法连接 {host}", "  处理办法：{network}"]),
    ],
)
async def test_a_refused_port_is_cannot_connect(closed_port, language, expected):
    host = f"127.0.0.1:{closed_port}"
    code, lines = await run(language, wecom_at(f"http://{host}/cgi-bin/webhook/send?key={WC_KEY}"))
    network = catalogue(language).notify_test.hint_network
    assert code == 1
    assert lines == [line.format(host=host, network=network) for line in expected]


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("en", "WeCom: FAILED: the host robot.gme-tui.invalid is not found (DNS)"),
        ("zh", "企业微信：发送失败：找不到主机 robot.gme-tui.invalid（DNS 解析失败）"),
    ],
)
async def test_an_unknown_host_is_host_not_found(language, expected):
    code, lines = await run(language, wecom_at(f"http://robot.gme-tui.invalid/cgi-bin/webhook/send?key={WC_KEY}"))
    assert code == 1
    assert lines == [expected, "  " + catalogue(language).notify_test.hint.format(hint=_network(language))]


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("en", "WeCom: FAILED: the secure connection to {host} failed (certificate or proxy?)"),
        ("zh", "企业微信：发送失败：与 {host} 的加密连接失败（证书或代理问题？）"),
    ],
)
async def test_https_to_a_plain_http_server_is_a_tls_failure(robots, language, expected):
    robot = robots.add_wecom(WC_KEY)
    host = robot.base_url.removeprefix("http://")
    code, lines = await run(language, wecom_at(robot.url.replace("http://", "https://")))
    assert code == 1 and lines[0] == expected.format(host=host) and robot.answers == []


@pytest.mark.parametrize(
    ("language", "expected"),
    [("en", "WeCom: FAILED: no answer within 0.5 s"), ("zh", "企业微信：发送失败：0.5 秒内没有应答")],
)
async def test_a_stall_past_the_timeout(robots, language, expected):
    secrets = robot_secrets(robots, dingtalk=False)
    next(iter(robots.robots.values())).outage = "stall"
    code, lines = await run(language, secrets)
    assert code == 1 and lines == [
        expected,
        "  " + catalogue(language).notify_test.hint.format(hint=_network(language)),
    ]


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        (
            "en",
            ["WeCom: FAILED: the robot service answered HTTP 500", "  what to do: {hint}: run notify-test again later"],
        ),
        ("zh", ["企业微信：发送失败：机器人服务返回 HTTP 500", "  处理办法：{hint}：稍后再运行一次 notify-test"]),
    ],
)
async def test_http_500(robots, language, expected):
    secrets = robot_secrets(robots, dingtalk=False)
    next(iter(robots.robots.values())).outage = "http500"
    code, lines = await run(language, secrets)
    hint = catalogue(language).notify_test.advice["service"]
    assert code == 1 and lines == [line.format(hint=hint) for line in expected]


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("en", "WeCom: FAILED: the answer is not the robot's JSON (a proxy in the way?)"),
        ("zh", "企业微信：发送失败：返回的不是机器人的 JSON（中间有代理？）"),
    ],
)
async def test_a_page_that_is_not_the_robots_json(robots, language, expected):
    secrets = robot_secrets(robots, dingtalk=False)
    next(iter(robots.robots.values())).outage = "notjson"
    code, lines = await run(language, secrets)
    assert code == 1 and lines == [
        expected,
        "  " + catalogue(language).notify_test.hint.format(hint=_network(language)),
    ]


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        (
            "en",
            [
                "DingTalk: FAILED: errcode 310000: security check failed: keyword, sign, timestamp or IP",
                "  what to do: check DINGTALK_SECRET (signing), that the robot's keyword is 资金流监控 or gme-tui, "
                "the robot's IP whitelist, and this computer's clock",
                "WeCom: delivered",
            ],
        ),
        (
            "zh",
            [
                "钉钉：发送失败：错误码 310000：安全校验失败：关键词、加签、时间戳或 IP 不符",
                "  处理办法：检查 DINGTALK_SECRET（加签）、机器人的关键词是否为 资金流监控 或 gme-tui、机器人的 IP 白名单，"
                "以及本机时钟",
                "企业微信：发送成功",
            ],
        ),
    ],
)
async def test_errcode_310000_with_its_meaning(robots, language, expected):
    code, lines = await run(language, robot_secrets(robots, dt_secret="SECwrong-secret-0000000000"))
    assert code == 1 and lines == expected


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        (
            "en",
            [
                "WeCom: FAILED: errcode 93000: invalid webhook key",
                "  what to do: check the key in WECHAT_WEBHOOK (the robot may have been removed)",
            ],
        ),
        (
            "zh",
            [
                "企业微信：发送失败：错误码 93000：Webhook 的 key 无效",
                "  处理办法：检查 WECHAT_WEBHOOK 中的 key（机器人可能已被移除）",
            ],
        ),
    ],
)
async def test_errcode_93000_with_its_meaning(robots, language, expected):
    robot = robots.add_wecom(WC_KEY)
    code, lines = await run(language, wecom_at(robot.url.replace("key=", "key=x")))
    assert code == 1 and lines == expected


@pytest.mark.parametrize("language", ["en", "zh"])
async def test_half_configured_and_unconfigured_in_the_language(language):
    t = catalogue(language)
    out = io.StringIO()
    half = Secrets(dingtalk_webhook=f"https://x/robot/send?access_token={DT_TOKEN}", enable_wechat=True)
    assert await notify_test(make_settings(language=language), half, out) == 2
    robots = t.common.robots
    assert out.getvalue().splitlines() == [
        t.notify_test.webhook_not_enabled.format(robot=robots["dingtalk"], env="DINGTALK"),
        t.notify_test.enabled_without_webhook.format(robot=robots["wecom"], env="WECHAT"),
        t.notify_test.no_robot,
    ]


async def test_enabled_without_a_webhook_still_fails_the_test(robots):
    """Exit 1 when one robot is delivered but another is enabled without a webhook (zh lines)."""
    secrets = robot_secrets(robots, dingtalk=False)
    secrets = Secrets(wechat_webhook=secrets.wechat_webhook, enable_wechat=True, enable_dingtalk=True)
    code, lines = await run("zh", secrets)
    assert code == 1
    assert lines == ["钉钉：ENABLE_DINGTALK 为 true，但 DINGTALK_WEBHOOK 为空", "企业微信：发送成功"]


def _network(language: str) -> str:
    return catalogue(language).notify_test.hint_network


# ---------------------------------------------------------------- the status bar's words


async def test_the_status_words_follow_the_language_and_switch_live(robots, tmp_path):
    """RobotStatus.last_error / hint in the settings' language; update_settings switches them."""
    secrets = robot_secrets(robots)
    for robot in robots.robots.values():
        robot.outage = "http500"
    dispatcher = make_dispatcher(make_settings(), secrets, wall, tmp_path / "o.db")
    dispatcher.on_events([whale(wall())])
    await dispatcher.deliver_due()
    status = dispatcher.status()["dingtalk"]
    assert status.last_error == "机器人服务返回 HTTP 500"
    assert status.hint == "机器人服务出了问题；推送会自动重试"  # the dispatcher does retry
    dispatcher.update_settings(make_settings(language="en"))
    status = dispatcher.status()["dingtalk"]
    assert status.last_error == "the robot service answered HTTP 500"
    assert status.hint == "the robot service has trouble; alerts are retried"
    await dispatcher.close(timeout=0.5)


async def test_a_halted_robot_and_an_unconfigured_one_in_chinese(robots, tmp_path):
    secrets = robot_secrets(robots, wecom=False, dt_secret="SECwrong-secret-0000000000")
    dispatcher = make_dispatcher(make_settings(), secrets, wall, tmp_path / "o.db")
    dispatcher.on_events([whale(wall())])
    await dispatcher.deliver_due()
    status = dispatcher.status()
    assert status["dingtalk"].halted
    assert status["dingtalk"].last_error == "错误码 310000：安全校验失败：关键词、加签、时间戳或 IP 不符"
    assert status["dingtalk"].hint.startswith("检查 DINGTALK_SECRET（加签）")
    assert status["wecom"].hint == "请在环境变量或 .env 中设置 ENABLE_WECHAT=true 和 WECHAT_WEBHOOK"
    await dispatcher.close(timeout=0.5)


# ---------------------------------------------------------------- the tables and the words agree


def test_every_errcode_has_words_in_both_languages():
    for language in ("en", "zh"):
        t = catalogue(language).notify_test
        for code, rule in (*DINGTALK_ERRCODES.items(), *WECOM_ERRCODES.items()):
            assert t.meanings[rule.meaning] and t.advice[rule.advice], (language, code)
        text = problem_text(Problem("robot_refused", errcode=777, errmsg="odd"), t)
        assert "777" in text and "odd" in text
