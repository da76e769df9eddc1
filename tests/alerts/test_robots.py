"""The two robot protocols against the fake robot: signing, bodies, errcodes."""

from __future__ import annotations

import aiohttp
import pytest
import yarl

from gme_tui.alerts.dingtalk import DingTalkRobot, sign, signed_url
from gme_tui.alerts.robots import OutcomeKind
from gme_tui.alerts.wecom import WeComRobot
from tests.alerts.conftest import DT_SECRET, DT_TOKEN, WC_KEY, Clock

OK, RETRY, THROTTLED = OutcomeKind.OK, OutcomeKind.RETRY, OutcomeKind.THROTTLED
ROBOT_ERROR, MESSAGE_ERROR = OutcomeKind.ROBOT_ERROR, OutcomeKind.MESSAGE_ERROR
VECTOR_SECRET = "SEC0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcd"
VECTOR_TS = 1700000000015
VECTOR_RAW = "WkhwWv/d9lDN+iQSL1g+x4dWEUFe/9+W28zhERrfbFU="
VECTOR_ENCODED = "WkhwWv%2Fd9lDN%2BiQSL1g%2Bx4dWEUFe%2F9%2BW28zhERrfbFU%3D"


def test_sign_matches_the_documented_vector():
    assert sign(VECTOR_SECRET, VECTOR_TS) == VECTOR_RAW


def test_signed_url_encodes_plus_and_slash_exactly_once():
    url = signed_url("https://oapi.dingtalk.com/robot/send?access_token=abc", VECTOR_SECRET, VECTOR_TS)
    assert str(url).endswith(f"?access_token=abc&timestamp={VECTOR_TS}&sign={VECTOR_ENCODED}")
    assert url.query["sign"] == VECTOR_RAW  # decoding once gives the raw signature back


async def test_the_vector_is_accepted_by_the_fake_robot(server):
    """The fake's clock sits at the vector's timestamp, so the request carries the exact vector."""
    server.clock.now = VECTOR_TS
    robot = server.add_dingtalk(DT_TOKEN, VECTOR_SECRET)
    client = DingTalkRobot(robot.url, VECTOR_SECRET, clock=lambda: VECTOR_TS)
    assert VECTOR_ENCODED in str(client.url())
    async with aiohttp.ClientSession() as session:
        outcome = await client.post(session, client.markdown_body("资金流监控 t", "资金流监控 x", False))
    assert outcome.kind == OK, outcome
    assert robot.accepted and robot.answers == [0]


@pytest.mark.parametrize("how", ["raw", "twice"])
async def test_wrongly_encoded_signatures_are_refused_like_dingtalk_does(server, how):
    """Proves the fake checks what DingTalk checks: `+` left raw, or encoded twice, gives 310000."""
    server.clock.now = VECTOR_TS
    robot = server.add_dingtalk(DT_TOKEN, VECTOR_SECRET)
    value = VECTOR_RAW if how == "raw" else VECTOR_ENCODED.replace("%", "%25")
    url = yarl.URL(f"{robot.url}&timestamp={VECTOR_TS}&sign={value}", encoded=True)
    async with aiohttp.ClientSession() as session:
        async with session.post(url, json={"msgtype": "text", "text": {"content": "资金流监控"}}) as response:
            answer = await response.json()
    assert response.status == 200 and answer["errcode"] == 310000


async def test_signature_is_fresh_per_request_and_timestamp_checked(server):
    clock = Clock(server.clock())
    robot = server.add_dingtalk(DT_TOKEN, DT_SECRET)
    client = DingTalkRobot(robot.url, DT_SECRET, clock=clock)
    async with aiohttp.ClientSession() as session:
        body = client.markdown_body("资金流监控 a", "资金流监控 b", False)
        assert (await client.post(session, body)).kind == OK
        clock.advance(1)
        assert (await client.post(session, body)).kind == OK
        clock.advance(2 * 3_600_000)  # our clock two hours off the robot's
        expired = await client.post(session, body)
        wrong = await DingTalkRobot(robot.url, DT_SECRET[:-1] + "x", clock=server.clock).post(session, body)
    assert expired.kind == ROBOT_ERROR and expired.errcode == 310000 and "clock" in expired.hint
    assert wrong.kind == ROBOT_ERROR and wrong.errcode == 310000
    assert robot.answers == [0, 0, 310000, 310000]


async def test_keyword_security(server):
    robot = server.add_dingtalk(DT_TOKEN, keywords=("资金流监控",))
    client = DingTalkRobot(robot.url, clock=server.clock)
    async with aiohttp.ClientSession() as session:
        missing = await client.post(session, client.markdown_body("hello", "world", False))
        present = await client.post(session, client.markdown_body("资金流监控 gme-tui", "text", False))
    assert missing.errcode == 310000 and present.kind == OK


async def test_token_and_key_checks(server):
    server.add_dingtalk(DT_TOKEN)
    server.add_wecom(WC_KEY)
    dt = DingTalkRobot(f"{server.base_url}/robot/send?access_token=nope", clock=server.clock)
    wc = WeComRobot(f"{server.base_url}/cgi-bin/webhook/send?key=nope", clock=server.clock)
    async with aiohttp.ClientSession() as session:
        a = await dt.post(session, dt.markdown_body("资金流监控", "x", False))
        b = await wc.post(session, wc.markdown_body("资金流监控", "x", False))
    assert (a.kind, a.errcode) == (ROBOT_ERROR, 300001)
    assert (b.kind, b.errcode) == (ROBOT_ERROR, 93000)


async def test_size_limits_are_enforced_by_the_fake_and_respected_by_fits(server):
    robot = server.add_wecom(WC_KEY)
    client = WeComRobot(robot.url, clock=server.clock)
    big = "资" * 1400  # 4,200 bytes
    assert not client.fits("t", big) and client.fits("t", "资" * 1300)
    async with aiohttp.ClientSession() as session:
        outcome = await client.post(session, client.markdown_body("t", big, False))
    assert (outcome.kind, outcome.errcode) == (MESSAGE_ERROR, 40058)
    dt = DingTalkRobot("http://x/robot/send?access_token=a", clock=server.clock)
    assert dt.fits("t", "资" * 6000) and not dt.fits("t", "资" * 7000)


@pytest.mark.parametrize("failure,kind", [("http500", RETRY), ("busy", RETRY), ("drop", RETRY), ("stall", RETRY)])
async def test_transport_failures_are_retryable(server, failure, kind):
    robot = server.add_wecom(WC_KEY)
    robot.fail_next(failure)
    client = WeComRobot(robot.url, timeout_s=0.3, clock=server.clock)
    async with aiohttp.ClientSession() as session:
        outcome = await client.post(session, client.markdown_body("资金流监控", "x", False))
        again = await client.post(session, client.markdown_body("资金流监控", "x", False))
    assert outcome.kind == kind, outcome
    assert again.kind == OK


async def test_fake_rate_window_blocks_dingtalk_ten_minutes_and_wecom_per_window(server):
    dt = server.add_dingtalk(DT_TOKEN)
    wc = server.add_wecom(WC_KEY)
    d = DingTalkRobot(dt.url, clock=server.clock)
    w = WeComRobot(wc.url, clock=server.clock)
    async with aiohttp.ClientSession() as session:
        for _ in range(20):
            assert (await d.post(session, d.markdown_body("资金流监控", "x", False))).ok
            assert (await w.post(session, w.markdown_body("资金流监控", "x", False))).ok
        over_d = await d.post(session, d.markdown_body("资金流监控", "x", False))
        over_w = await w.post(session, w.markdown_body("资金流监控", "x", False))
        server.clock.now += 61_000
        later_d = await d.post(session, d.markdown_body("资金流监控", "x", False))
        later_w = await w.post(session, w.markdown_body("资金流监控", "x", False))
        server.clock.now += 10 * 60_000
        free_d = await d.post(session, d.markdown_body("资金流监控", "x", False))
    assert (over_d.kind, over_d.errcode, over_d.retry_after_ms) == (THROTTLED, 130101, 600_000)
    assert (over_w.kind, over_w.errcode) == (THROTTLED, 45009)
    assert later_d.errcode == 130101 and later_w.ok  # DingTalk stays blocked for 10 minutes
    assert free_d.ok


async def test_non_json_and_http_errors(server):
    client = WeComRobot(f"{server.base_url}/nowhere?key=abc", clock=server.clock)
    async with aiohttp.ClientSession() as session:
        outcome = await client.post(session, client.markdown_body("资金流监控", "x", False))
    assert outcome.kind == ROBOT_ERROR and "HTTP 404" in outcome.reason
    bad = WeComRobot("not a url", clock=server.clock)
    async with aiohttp.ClientSession() as session:
        assert (await bad.post(session, {})).kind == ROBOT_ERROR
