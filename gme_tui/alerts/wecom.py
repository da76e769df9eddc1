"""WeCom group robot (企业微信群机器人): bodies, limits, errcodes (specs/webhooks.md).

@all works only in text messages, so an @all alert is a markdown message followed by a short
text message with `mentioned_list: ["@all"]`; both count against the 20 per minute.
"""

from __future__ import annotations

from collections.abc import Mapping

from gme_tui.alerts.robots import ErrcodeRule, JsonBody, OutcomeKind, RobotClient

MAX_MARKDOWN_BYTES = 4_096
MAX_TEXT_BYTES = 2_048
SAFETY_BYTES = 96
RATE_LIMIT_WAIT_MS = 60_000

ERRCODES: Mapping[int, ErrcodeRule] = {
    45009: ErrcodeRule(OutcomeKind.THROTTLED, "rate_limited", "wait_a_minute", RATE_LIMIT_WAIT_MS),
    93000: ErrcodeRule(OutcomeKind.ROBOT_ERROR, "invalid_key", "wecom_key"),
    40058: ErrcodeRule(OutcomeKind.MESSAGE_ERROR, "too_long", "report_bug"),
    40008: ErrcodeRule(OutcomeKind.MESSAGE_ERROR, "invalid_type", "report_bug"),
    -1: ErrcodeRule(OutcomeKind.RETRY, "busy", "temporary"),
}
"""Each errcode's kind, meaning and advice (the words: the catalogue's notify_test section)."""


class WeComRobot(RobotClient):
    name = "wecom"
    label = "WeCom"

    def markdown_body(self, title: str, text: str, at_all: bool) -> JsonBody:
        return {"msgtype": "markdown", "markdown": {"content": text}}  # mention lists are ignored here

    def at_all_body(self, content: str) -> JsonBody | None:
        data = content.encode("utf-8")[: MAX_TEXT_BYTES - SAFETY_BYTES].decode("utf-8", "ignore")
        return {"msgtype": "text", "text": {"content": data, "mentioned_list": ["@all"]}}

    def fits(self, title: str, text: str) -> bool:
        return len(text.encode("utf-8")) <= MAX_MARKDOWN_BYTES - SAFETY_BYTES

    def errcodes(self) -> Mapping[int, ErrcodeRule]:
        return ERRCODES
