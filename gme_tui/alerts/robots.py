"""What the two robot clients share: outcomes, HTTP posting with redacted errors, size checks.

Both services answer HTTP 200 even when they reject a message; success is `errcode == 0` in the
JSON body and nothing else. Each protocol module supplies its errcode table and its bodies.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import ClassVar

import aiohttp
import yarl

from gme_tui.alerts.redact import redact, safe_error
from gme_tui.model import RobotName

JsonBody = Mapping[str, object]
"""A robot request body, as JSON-ready data."""


class OutcomeKind(StrEnum):
    """What the dispatcher does next after one request."""

    OK = "ok"
    RETRY = "retry"  # transient: back off and try again
    THROTTLED = "throttled"  # the robot refuses for a while: wait `retry_after_ms`
    ROBOT_ERROR = "robot_error"  # configuration: every message would fail; stop, keep them pending
    MESSAGE_ERROR = "message_error"  # this message can never go: report it as undeliverable


@dataclass(frozen=True)
class Outcome:
    kind: OutcomeKind
    errcode: int | None = None
    reason: str = ""
    hint: str = ""
    retry_after_ms: int = 0

    @property
    def ok(self) -> bool:
        return self.kind == OutcomeKind.OK

    def describe(self) -> str:
        code = f"errcode {self.errcode}: " if self.errcode is not None else ""
        return f"{code}{self.reason}"


@dataclass(frozen=True)
class ErrcodeRule:
    kind: OutcomeKind
    reason: str
    hint: str = ""
    retry_after_ms: int = 0


def classify(errcode: int, errmsg: str, table: Mapping[int, ErrcodeRule]) -> Outcome:
    if errcode == 0:
        return Outcome(OutcomeKind.OK, 0, "ok")
    rule = table.get(errcode)
    if rule is None:  # unknown: assume transient; the age limit bounds the retries
        return Outcome(OutcomeKind.RETRY, errcode, f"unknown error ({errmsg[:120]})", "alerts are retried with backoff")
    return Outcome(rule.kind, errcode, rule.reason, rule.hint, rule.retry_after_ms)


def json_bytes(body: JsonBody) -> bytes:
    """UTF-8 JSON, not \\u escapes: the size limits are in bytes and escapes would double them."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class RobotClient(ABC):
    """One robot (one webhook). Subclasses: DingTalkRobot, WeComRobot."""

    name: ClassVar[RobotName]
    label: ClassVar[str]

    def __init__(self, webhook: str, *, timeout_s: float = 10.0, clock: Callable[[], int]) -> None:
        self.webhook = webhook
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)
        self.clock = clock
        self._secret_values: list[str] = []

    # -------------------------------------------------------- protocol specifics

    @abstractmethod
    def markdown_body(self, title: str, text: str, at_all: bool) -> JsonBody: ...

    def at_all_body(self, content: str) -> JsonBody | None:
        """The extra text message an @all needs, or None when the markdown carries it."""
        return None

    @abstractmethod
    def fits(self, title: str, text: str) -> bool:
        """Whether a markdown message of this title and text is within the robot's size limit."""

    def url(self) -> yarl.URL:
        return yarl.URL(self.webhook, encoded=True)

    @abstractmethod
    def errcodes(self) -> Mapping[int, ErrcodeRule]: ...

    def config_problem(self) -> str:
        """Why this webhook cannot work at all ('' when it looks usable)."""
        try:
            url = yarl.URL(self.webhook)
        except (ValueError, TypeError):
            return "the webhook is not a URL"
        if url.scheme not in ("http", "https") or not url.host:
            return "the webhook is not an http(s) URL"
        return ""

    # -------------------------------------------------------- sending

    def set_secret_values(self, values: list[str]) -> None:
        self._secret_values = values

    def redact(self, text: str) -> str:
        return redact(text, self._secret_values)

    async def post(self, session: aiohttp.ClientSession, body: JsonBody) -> Outcome:
        """One HTTP POST. Never raises for network trouble: it becomes a redacted Outcome."""
        problem = self.config_problem()
        if problem:
            return Outcome(
                OutcomeKind.ROBOT_ERROR, None, problem, f"check {self.label}'s webhook in the environment or .env"
            )
        try:
            async with session.post(
                self.url(),
                data=json_bytes(body),
                headers={"Content-Type": "application/json; charset=utf-8"},
                timeout=self.timeout,
                allow_redirects=False,
            ) as response:
                raw = await response.read()
                status = response.status
        except TimeoutError:
            return Outcome(
                OutcomeKind.RETRY, None, f"no answer within {self.timeout.total:g} s", "network or robot slow"
            )
        except (aiohttp.ClientError, OSError, ValueError) as exc:  # aiohttp texts hold the full URL
            return Outcome(
                OutcomeKind.RETRY,
                None,
                safe_error(exc, self._secret_values),
                "network problem or robot unreachable (alerts are retried)",
            )
        return self._read_answer(status, raw)

    def _read_answer(self, status: int, raw: bytes) -> Outcome:
        if status in (408, 425, 429) or status >= 500:
            return Outcome(
                OutcomeKind.RETRY, None, f"HTTP {status}", "the service is having trouble (alerts are retried)"
            )
        if status != 200:
            return Outcome(OutcomeKind.ROBOT_ERROR, None, f"HTTP {status}", f"check the {self.label} webhook URL")
        try:
            answer: object = json.loads(raw)
            if not isinstance(answer, dict):
                raise TypeError("not a JSON object")
            errcode = int(answer["errcode"])
            errmsg = str(answer.get("errmsg", ""))
        except (ValueError, KeyError, TypeError):
            return Outcome(
                OutcomeKind.RETRY, None, "answer is not the robot's JSON", "a proxy in the way? (alerts are retried)"
            )
        return classify(errcode, self.redact(errmsg), self.errcodes())
