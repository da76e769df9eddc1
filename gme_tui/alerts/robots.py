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

from gme_tui.alerts.problems import (
    HintCode,
    Problem,
    hint_text,
    host_of,
    network_problem,
    problem_text,
    robot_refused,
)
from gme_tui.alerts.redact import redact, safe_error
from gme_tui.i18n import catalogue
from gme_tui.i18n.catalogue import RobotAdvice, RobotMeaning
from gme_tui.model import RobotName

_EN = catalogue("en").notify_test  # the logs' words

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
    """One request's result. `reason`/`hint`: English, for the logs (a network error's reason is
    the redacted exception text); `problem`/`advice`: the same as data, for the words the user
    reads in the settings' language (`problems.problem_text`, `hint_text`); None when ok."""

    kind: OutcomeKind
    errcode: int | None = None
    reason: str = ""
    hint: str = ""
    retry_after_ms: int = 0
    problem: Problem | None = None
    advice: HintCode | None = None

    @property
    def ok(self) -> bool:
        return self.kind == OutcomeKind.OK

    @property
    def retryable(self) -> bool:
        """Whether the same message may go later (the dispatcher retries it; notify-test does not)."""
        return self.kind in (OutcomeKind.RETRY, OutcomeKind.THROTTLED)

    def describe(self) -> str:
        code = f"errcode {self.errcode}: " if self.errcode is not None else ""
        return f"{code}{self.reason}"


@dataclass(frozen=True)
class ErrcodeRule:
    kind: OutcomeKind
    meaning: RobotMeaning
    advice: RobotAdvice
    retry_after_ms: int = 0


def failure(
    kind: OutcomeKind, problem: Problem, advice: HintCode, robot: str, *, reason: str = "", retry_after_ms: int = 0
) -> Outcome:
    """A failed Outcome whose English `reason` (unless given) and `hint` come from the catalogue."""
    retryable = kind in (OutcomeKind.RETRY, OutcomeKind.THROTTLED)
    hint = hint_text(advice, robot, _EN, retryable=retryable, notify_test=False)
    return Outcome(
        kind,
        problem.errcode,
        reason or problem_text(problem, _EN),
        hint,
        retry_after_ms,
        problem=problem,
        advice=advice,
    )


def classify(errcode: int, errmsg: str, table: Mapping[int, ErrcodeRule], robot: str = "") -> Outcome:
    """The Outcome of a robot's answer (errcode 0: ok). English reason: the meaning alone (the
    logs print the errcode beside it, `Outcome.describe`)."""
    if errcode == 0:
        return Outcome(OutcomeKind.OK, 0, "ok")
    rule = table.get(errcode)
    if rule is None:  # unknown: assume transient; the age limit bounds the retries
        problem = robot_refused(errcode, None, errmsg)
        reason = _EN.unknown_errcode.format(errmsg=problem.errmsg)
        return failure(OutcomeKind.RETRY, problem, "unknown_errcode", robot, reason=reason)
    problem = robot_refused(errcode, rule.meaning, errmsg)
    reason = _EN.meanings[rule.meaning]
    return failure(rule.kind, problem, rule.advice, robot, reason=reason, retry_after_ms=rule.retry_after_ms)


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

    def webhook_problem(self) -> Problem | None:
        """Why this webhook cannot work at all (None when it looks usable)."""
        try:
            url = yarl.URL(self.webhook)
        except (ValueError, TypeError):
            return Problem("not_a_url")
        if url.scheme not in ("http", "https") or not url.host:
            return Problem("not_http_url")
        return None

    def config_problem(self) -> str:
        """`webhook_problem` in English ('' when the webhook looks usable)."""
        problem = self.webhook_problem()
        return problem_text(problem, _EN) if problem else ""

    # -------------------------------------------------------- sending

    def set_secret_values(self, values: list[str]) -> None:
        self._secret_values = values

    def redact(self, text: str) -> str:
        return redact(text, self._secret_values)

    async def post(self, session: aiohttp.ClientSession, body: JsonBody) -> Outcome:
        """One HTTP POST. Never raises for network trouble: it becomes a redacted Outcome."""
        reason = self.config_problem()
        if reason:
            problem = self.webhook_problem() or Problem("not_a_url")
            return failure(OutcomeKind.ROBOT_ERROR, problem, "webhook", self.label, reason=reason)
        host = host_of(self.webhook)
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
            return failure(
                OutcomeKind.RETRY, Problem("timeout", host=host, seconds=self.timeout.total or 0), "network", ""
            )
        except (aiohttp.ClientError, OSError, ValueError) as exc:  # aiohttp texts hold the full URL
            problem = network_problem(exc, host)
            advice: HintCode = "webhook" if problem.code == "not_a_url" else "network"
            reason = safe_error(exc, self._secret_values)
            return failure(OutcomeKind.RETRY, problem, advice, self.label, reason=reason)
        return self._read_answer(status, raw)

    def _read_answer(self, status: int, raw: bytes) -> Outcome:
        if status in (408, 425, 429) or status >= 500:
            return failure(OutcomeKind.RETRY, Problem("http_status", status=status), "service", "")
        if status != 200:
            return failure(OutcomeKind.ROBOT_ERROR, Problem("http_status", status=status), "webhook", self.label)
        try:
            answer: object = json.loads(raw)
            if not isinstance(answer, dict):
                raise TypeError("not a JSON object")
            errcode = int(answer["errcode"])
            errmsg = str(answer.get("errmsg", ""))
        except (ValueError, KeyError, TypeError):
            return failure(OutcomeKind.RETRY, Problem("not_robot_json"), "network", "")
        return classify(errcode, self.redact(errmsg), self.errcodes(), self.label)
