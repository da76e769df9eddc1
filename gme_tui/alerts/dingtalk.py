"""DingTalk custom robot (钉钉自定义机器人): signing, bodies, limits, errcodes (specs/webhooks.md)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable, Mapping
from urllib.parse import quote

import yarl

from gme_tui.alerts.robots import ErrcodeRule, JsonBody, OutcomeKind, RobotClient, json_bytes

MAX_BODY_BYTES = 20_000
SAFETY_BYTES = 500  # stay clear of the limit: the service may count differently
THROTTLE_MS = 10 * 60_000

ERRCODES: Mapping[int, ErrcodeRule] = {
    310000: ErrcodeRule(OutcomeKind.ROBOT_ERROR, "security_check", "dingtalk_security"),
    130101: ErrcodeRule(OutcomeKind.THROTTLED, "throttled_10_minutes", "wait_10_minutes", THROTTLE_MS),
    410100: ErrcodeRule(OutcomeKind.THROTTLED, "throttled_10_minutes", "wait_10_minutes", THROTTLE_MS),
    300001: ErrcodeRule(OutcomeKind.ROBOT_ERROR, "token_missing", "dingtalk_token"),
    300005: ErrcodeRule(OutcomeKind.ROBOT_ERROR, "token_missing", "dingtalk_token"),
    400101: ErrcodeRule(OutcomeKind.ROBOT_ERROR, "token_missing", "dingtalk_token"),
    400013: ErrcodeRule(OutcomeKind.ROBOT_ERROR, "group_dissolved", "new_group"),
    400102: ErrcodeRule(OutcomeKind.ROBOT_ERROR, "robot_disabled", "enable_robot"),
    400106: ErrcodeRule(OutcomeKind.ROBOT_ERROR, "not_in_group", "add_to_group"),
    400105: ErrcodeRule(OutcomeKind.MESSAGE_ERROR, "unsupported_type", "report_bug"),
    430101: ErrcodeRule(OutcomeKind.MESSAGE_ERROR, "content_unsafe", "refused"),
    430102: ErrcodeRule(OutcomeKind.MESSAGE_ERROR, "content_unsafe", "refused"),
    430103: ErrcodeRule(OutcomeKind.MESSAGE_ERROR, "content_unsafe", "refused"),
    430104: ErrcodeRule(OutcomeKind.MESSAGE_ERROR, "content_unsafe", "refused"),
    460101: ErrcodeRule(OutcomeKind.MESSAGE_ERROR, "too_large", "report_bug"),
    101002: ErrcodeRule(OutcomeKind.MESSAGE_ERROR, "too_large", "report_bug"),
    -1: ErrcodeRule(OutcomeKind.RETRY, "busy", "temporary"),
}
"""Each errcode's kind, meaning and advice (the words: the catalogue's notify_test section)."""


def sign(secret: str, timestamp_ms: int) -> str:
    """The raw (not URL-encoded) signature: base64(HMAC_SHA256(secret, f"{ts}\\n{secret}"))."""
    digest = hmac.new(secret.encode("utf-8"), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def signed_url(webhook: str, secret: str, timestamp_ms: int) -> yarl.URL:
    """The webhook with `timestamp` and `sign` appended, the signature percent-encoded exactly once
    (`+` -> %2B, `/` -> %2F, `=` -> %3D). `encoded=True` stops yarl/aiohttp from encoding again."""
    separator = "&" if "?" in webhook else "?"
    query = f"timestamp={timestamp_ms}&sign={quote(sign(secret, timestamp_ms), safe='')}"
    return yarl.URL(f"{webhook}{separator}{query}", encoded=True)


class DingTalkRobot(RobotClient):
    name = "dingtalk"
    label = "DingTalk"

    def __init__(self, webhook: str, secret: str = "", *, timeout_s: float = 10.0, clock: Callable[[], int]) -> None:
        super().__init__(webhook, timeout_s=timeout_s, clock=clock)
        self.secret = secret

    def url(self) -> yarl.URL:
        if not self.secret:
            return super().url()
        return signed_url(self.webhook, self.secret, self.clock())  # afresh for every request

    def markdown_body(self, title: str, text: str, at_all: bool) -> JsonBody:
        return {
            "msgtype": "markdown",
            "markdown": {"title": title, "text": text},
            "at": {"atMobiles": [], "isAtAll": bool(at_all)},
        }

    def fits(self, title: str, text: str) -> bool:
        return len(json_bytes(self.markdown_body(title, text, True))) <= MAX_BODY_BYTES - SAFETY_BYTES

    def errcodes(self) -> Mapping[int, ErrcodeRule]:
        return ERRCODES
