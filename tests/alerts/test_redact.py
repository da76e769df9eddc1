"""No credential in any log line, status text or exception message, aiohttp's included."""

from __future__ import annotations

import logging

import aiohttp

from gme_tui.alerts import install_log_redaction, redact
from gme_tui.settings import Secrets
from tests.alerts.conftest import DT_SECRET, DT_TOKEN, WC_KEY, make_dispatcher, make_settings, robot_secrets, whale

MIN = 60_000


def leaked(text: str) -> list[str]:
    return [s for s in (DT_TOKEN, DT_SECRET, WC_KEY, DT_TOKEN[5:30], WC_KEY[5:30]) if s in text]


def test_redact_masks_query_credentials_and_literal_secrets():
    text = f"POST https://oapi.dingtalk.com/robot/send?access_token={DT_TOKEN}&timestamp=1&sign=abc%2Bdef"
    out = redact(text)
    assert "access_token=dt0t…" in out and "sign=…" in out and not leaked(out)
    assert redact(f"key={WC_KEY}") == "key=wc0k…"
    assert redact(f"the secret is {DT_SECRET}!", [DT_SECRET]) == "the secret is SEC0…!"


async def test_no_secret_in_logs_status_or_aiohttp_exception_texts(server, clock, tmp_path, caplog):
    secrets = robot_secrets(server)
    install_log_redaction(secrets)
    dingtalk = next(r for r in server.robots.values() if r.kind == "dingtalk")
    wecom = next(r for r in server.robots.values() if r.kind == "wecom")
    caplog.set_level(logging.DEBUG)
    # 1. our own failures: HTTP 500, dropped connections, stalls, then success
    dingtalk.fail_next("http500", "stall", "drop", "busy")
    wecom.fail_next("drop", "stall", "http500")
    dispatcher = make_dispatcher(make_settings(), secrets, clock, tmp_path / "o.db")
    dispatcher.on_events([whale(clock.now)])
    for _ in range(40):
        await dispatcher.deliver_due()
        clock.advance(10_000)
    assert len(dingtalk.accepted) == 1 and len(wecom.accepted) == 1
    await dispatcher.close(timeout=1)
    # 2. our wrapping of aiohttp errors: InvalidUrlClientError's text is the whole URL
    from gme_tui.alerts.wecom import WeComRobot

    client = WeComRobot(f"http:///cgi-bin/webhook/send?key={WC_KEY}", clock=clock)
    client.set_secret_values([WC_KEY])
    client.config_problem = lambda: ""  # let the request reach aiohttp, which refuses the URL
    async with aiohttp.ClientSession() as session:
        outcome = await client.post(session, {"msgtype": "text"})
    assert "InvalidUrlClientError" in outcome.reason and not leaked(repr(outcome))
    logging.getLogger("gme_tui.alerts").warning("wrapped: %s", outcome.reason)
    # and a webhook that is no URL at all is refused before any request, without echoing it
    broken = Secrets(wechat_webhook=f"http://127.0.0.1:99999/cgi-bin/webhook/send?key={WC_KEY}", enable_wechat=True)
    second = make_dispatcher(make_settings(language="en"), broken, clock, tmp_path / "p.db")
    second.on_events([whale(clock.now + 1)])
    await second.deliver_due()
    status = second.status()["wecom"]
    assert status.halted and "not a URL" in status.last_error and not leaked(repr(status))
    await second.close(timeout=1)
    # 3. somebody else logs a raw aiohttp exception whose text holds the full URL
    async with aiohttp.ClientSession() as session:
        dingtalk.fail_next("http500")
        try:
            async with session.post(dingtalk.url, json={}) as response:
                response.raise_for_status()
        except aiohttp.ClientResponseError as exc:
            assert DT_TOKEN in str(exc)  # the premise: aiohttp does put it there
            logging.getLogger("somebody.else").exception("request failed: %s", exc)
    texts = caplog.text + "\n".join(r.getMessage() for r in caplog.records)
    assert "ClientResponseError" in caplog.text and "InvalidUrlClientError" in texts
    assert not leaked(texts), leaked(texts)


def test_filter_applies_to_handlers_added_later(caplog):
    import io

    secrets = Secrets(
        dingtalk_webhook=f"https://oapi.dingtalk.com/robot/send?access_token={DT_TOKEN}",
        dingtalk_secret=DT_SECRET,
        enable_dingtalk=True,
    )
    install_log_redaction(secrets)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger = logging.getLogger("late.handler")
    logger.addHandler(handler)
    try:
        logger.error("secret %s and url %s", DT_SECRET, secrets.dingtalk_webhook)
    finally:
        logger.removeHandler(handler)
    assert "SEC0…" in stream.getvalue() and not leaked(stream.getvalue())
    assert repr(secrets).count("SEC") == 0
