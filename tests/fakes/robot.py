"""A fake DingTalk / WeCom group robot on 127.0.0.1, behaving as specs/webhooks.md describes.

1. Accepts only POST with a JSON body.
2. Checks the token/key; with a secret, checks `timestamp` (±1 h) and `sign` (constant-time).
3. Checks keywords when configured; enforces the size limits.
4. Sliding 60 s window of 20 messages: past it 130101 and a 10-minute block (DingTalk) or 45009 (WeCom).
5. Scriptable failures: HTTP 500, a stall past the client timeout, a dropped connection, errcode -1,
   an HTTP 200 page that is not the robot's JSON (a captive portal or proxy).
6. HTTP 200 for every protocol-level rejection.

Its clock is injected (ms), so a test can cover hours in milliseconds.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from gme_tui.model import RobotName

DINGTALK_PATH = "/robot/send"
WECOM_PATH = "/cgi-bin/webhook/send"
FAILURES = ("http500", "stall", "drop", "busy", "notjson", "pass")  # "pass": answer this one normally


@dataclass
class FakeRobot:
    kind: RobotName
    credential: str
    secret: str = ""
    keywords: tuple[str, ...] = ()
    base_url: str = ""
    accepted: list[dict[str, Any]] = field(default_factory=list)
    answers: list[int | str] = field(default_factory=list)  # errcode or failure name, per request
    accept_times: list[int] = field(default_factory=list)
    scripted: deque[str] = field(default_factory=deque)  # consumed one per request
    outage: str | None = None  # a failure applied to every request until cleared
    window: deque[int] = field(default_factory=deque)
    blocked_until: int = 0

    @property
    def url(self) -> str:
        if self.kind == "dingtalk":
            return f"{self.base_url}{DINGTALK_PATH}?access_token={self.credential}"
        return f"{self.base_url}{WECOM_PATH}?key={self.credential}"

    def fail_next(self, *failures: str) -> None:
        assert all(f in FAILURES for f in failures)
        self.scripted.extend(failures)

    def texts(self) -> list[str]:
        """The markdown text (or text content) of every accepted message, in order."""
        out = []
        for body in self.accepted:
            if body["msgtype"] == "markdown":
                out.append(body["markdown"].get("text") or body["markdown"].get("content", ""))
            else:
                out.append(body["text"]["content"])
        return out


class FakeRobotServer:
    def __init__(self, clock: Callable[[], int], stall_seconds: float = 5.0) -> None:
        self.clock = clock
        self.stall_seconds = stall_seconds
        self.robots: dict[tuple[str, str], FakeRobot] = {}
        self._closing = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    async def __aenter__(self) -> FakeRobotServer:
        app = web.Application()
        app.router.add_route("*", DINGTALK_PATH, self._dingtalk)
        app.router.add_route("*", WECOM_PATH, self._wecom)
        self._runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base_url = f"http://127.0.0.1:{port}"
        for robot in self.robots.values():
            robot.base_url = self.base_url
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._closing.set()
        if self._runner is not None:
            await self._runner.cleanup()

    def add_dingtalk(self, token: str, secret: str = "", keywords: tuple[str, ...] = ()) -> FakeRobot:
        robot = FakeRobot("dingtalk", token, secret, keywords, self.base_url)
        self.robots[("dingtalk", token)] = robot
        return robot

    def add_wecom(self, key: str) -> FakeRobot:
        robot = FakeRobot("wecom", key, base_url=self.base_url)
        self.robots[("wecom", key)] = robot
        return robot

    # -------------------------------------------------------- handlers

    async def _dingtalk(self, request: web.Request) -> web.StreamResponse:
        robot = self.robots.get(("dingtalk", request.query.get("access_token", "")))
        return await self._handle(request, robot, "dingtalk")

    async def _wecom(self, request: web.Request) -> web.StreamResponse:
        robot = self.robots.get(("wecom", request.query.get("key", "")))
        return await self._handle(request, robot, "wecom")

    async def _handle(self, request: web.Request, robot: FakeRobot | None, kind: RobotName) -> web.StreamResponse:
        if request.method != "POST":
            return web.Response(status=405)
        raw = await request.read()
        if robot is None:
            return _answer(300001 if kind == "dingtalk" else 93000, "token/key not found")
        failure = robot.scripted.popleft() if robot.scripted else robot.outage
        if failure and failure != "pass":
            return await self._fail(request, robot, failure)
        try:
            body = json.loads(raw)
            assert isinstance(body, dict)
        except (ValueError, AssertionError):
            return self._record(robot, 40035 if kind == "wecom" else 400105, "body is not JSON")
        now = self.clock()
        if kind == "dingtalk":
            problem = self._dingtalk_checks(request, robot, body, raw, now)
        else:
            problem = self._wecom_checks(body)
        if problem:
            return self._record(robot, *problem)
        return self._rate_check(robot, body, now)

    async def _fail(self, request: web.Request, robot: FakeRobot, failure: str) -> web.StreamResponse:
        robot.answers.append(failure)
        if failure == "http500":
            return web.Response(status=500, text="internal error")
        if failure == "busy":
            return _answer(-1, "system busy")
        if failure == "notjson":
            return web.Response(status=200, text="<html><body>please log in</body></html>", content_type="text/html")
        if failure == "stall":
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), timeout=self.stall_seconds)
            return web.Response(status=504)
        # drop: close the connection without an answer
        assert request.transport is not None
        request.transport.abort()
        return web.Response(status=500)

    def _dingtalk_checks(
        self, request: web.Request, robot: FakeRobot, body: dict[str, Any], raw: bytes, now: int
    ) -> tuple[int, str] | None:
        if robot.secret:
            try:
                ts = int(request.query.get("timestamp", ""))
            except ValueError:
                return 310000, "sign not match (timestamp missing)"
            if abs(now - ts) > 3_600_000:
                return 310000, "timestamp expired"
            digest = hmac.new(robot.secret.encode(), f"{ts}\n{robot.secret}".encode(), hashlib.sha256).digest()
            expected = base64.b64encode(digest).decode()
            if not hmac.compare_digest(expected.encode(), request.query.get("sign", "").encode()):
                return 310000, "sign not match"
        if len(raw) > 20_000:
            return 460101, "message too large"
        msgtype = body.get("msgtype")
        if msgtype == "markdown":
            markdown = body.get("markdown") or {}
            if not markdown.get("title") or not markdown.get("text"):
                return 400105, "markdown needs title and text"
            content = markdown["title"] + markdown["text"]
        elif msgtype == "text":
            content = (body.get("text") or {}).get("content", "")
        else:
            return 400105, "unsupported msgtype"
        if robot.keywords and not any(k in content for k in robot.keywords):
            return 310000, "keywords not in content"
        return None

    def _wecom_checks(self, body: dict[str, Any]) -> tuple[int, str] | None:
        msgtype = body.get("msgtype")
        if msgtype == "markdown":
            content = (body.get("markdown") or {}).get("content", "")
            limit = 4096
        elif msgtype == "text":
            content = (body.get("text") or {}).get("content", "")
            limit = 2048
        else:
            return 40008, "invalid message type"
        if not content:
            return 44004, "empty content"
        if len(content.encode("utf-8")) > limit:
            return 40058, "content exceeds max length"
        return None

    def _rate_check(self, robot: FakeRobot, body: dict[str, Any], now: int) -> web.Response:
        if robot.kind == "dingtalk" and now < robot.blocked_until:
            return self._record(robot, 130101, "send too fast, blocked")
        while robot.window and robot.window[0] <= now - 60_000:
            robot.window.popleft()
        if len(robot.window) >= 20:
            if robot.kind == "dingtalk":
                robot.blocked_until = now + 10 * 60_000
                return self._record(robot, 130101, "send too fast, exceed 20 times per minute")
            return self._record(robot, 45009, "api freq out of limit")
        robot.window.append(now)
        robot.accepted.append(body)
        robot.accept_times.append(now)
        return self._record(robot, 0, "ok")

    @staticmethod
    def _record(robot: FakeRobot, errcode: int, errmsg: str) -> web.Response:
        robot.answers.append(errcode)
        return _answer(errcode, errmsg)


def _answer(errcode: int, errmsg: str) -> web.Response:
    return web.json_response({"errcode": errcode, "errmsg": errmsg})
