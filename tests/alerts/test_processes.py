"""Alerts across real processes (issue 11): the shared send ledger and the one sender per outbox.

Every process here is a real one (`python -m gme_tui ...`, or tests/alerts/sender_proc.py: a
live-mode AlertDispatcher in a process of its own) posting to one fake robot server in this test
process. The ledger is in XDG_DATA_HOME, shared by all of them as it is by a user's processes.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from gme_tui.alerts.outbox import Outbox
from gme_tui.settings import Secrets
from tests.alerts.conftest import T0, robot_secrets
from tests.fakes.robot import FakeRobot, FakeRobotServer

ROOT = Path(__file__).resolve().parents[2]
SPEED = 20.0  # shared clock of the sender processes: a 61.5 s rate window passes in about 3 s


def wall() -> int:
    return time.time_ns() // 1_000_000


def robot_env(secrets: Secrets) -> dict[str, str]:
    return {
        "ENABLE_DINGTALK": "true" if secrets.enable_dingtalk else "false",
        "DINGTALK_WEBHOOK": secrets.dingtalk_webhook,
        "DINGTALK_SECRET": secrets.dingtalk_secret,
        "ENABLE_WECHAT": "true" if secrets.enable_wechat else "false",
        "WECHAT_WEBHOOK": secrets.wechat_webhook,
    }


def max_in_any_minute(times: list[int]) -> int:
    return max((sum(1 for u in times if t - 60_000 < u <= t) for t in times), default=0)


def count(robot: FakeRobot, marker: str) -> int:
    return sum(1 for body in robot.accepted if marker in json.dumps(body, ensure_ascii=False))


def marker(i: int) -> str:
    return f"${600_000 + 1_000 * i:,}"


class Sender:
    """tests/alerts/sender_proc.py in its own process, and its latest status line."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.status: dict[str, Any] = {}
        self._changed = asyncio.Event()
        self._log = bytearray()
        self._reader = asyncio.create_task(self._read())
        self._log_reader = asyncio.create_task(self._read_log())

    @classmethod
    async def start(cls, outbox: Path, env: dict[str, str], base_ms: int, real0_ms: int) -> Sender:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.alerts.sender_proc",
            str(outbox),
            str(base_ms),
            str(real0_ms),
            str(SPEED),
            cwd=ROOT,
            env=env,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        return cls(process)

    async def _read(self) -> None:
        assert self.process.stdout is not None
        async for line in self.process.stdout:
            self.status = json.loads(line)
            self._changed.set()
        self._changed.set()

    async def _read_log(self) -> None:  # as it comes: a full pipe would stop the process
        assert self.process.stderr is not None
        while chunk := await self.process.stderr.read(65_536):
            self._log += chunk

    async def until(self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 30.0) -> None:
        async def wait() -> None:
            while not (self.status and predicate(self.status)):
                if self._reader.done():
                    await self._log_reader
                    raise AssertionError(self._log.decode()[-2000:])
                self._changed.clear()
                await self._changed.wait()

        try:
            await asyncio.wait_for(wait(), timeout)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()  # reaped: stop() then only collects the log
            log = await self.stop()
            raise AssertionError(f"no such status in {timeout:g} s; last {self.status}; log:\n{log[-4000:]}") from None

    def send(self, command: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(command.encode() + b"\n")

    async def stop(self) -> str:
        """Quit (or reap a killed one); returns its stderr (the log)."""
        if self.process.returncode is None:
            with_stdin = self.process.stdin is not None and not self.process.stdin.is_closing()
            if with_stdin:
                self.send("quit")
            try:
                await asyncio.wait_for(self.process.wait(), 20)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
        await self._reader
        await self._log_reader
        return self._log.decode()


def shared_time() -> tuple[int, int, Callable[[], int]]:
    base, real0 = T0, wall()

    def now() -> int:
        return base + int((wall() - real0) * SPEED)

    return base, real0, now


@pytest.fixture
def env(tmp_path: Path, cli_env: dict[str, str]) -> dict[str, str]:
    return {**cli_env, "PYTHONPATH": str(ROOT)}


def delivered(status: dict[str, Any], n: int) -> bool:
    return all(v >= n for v in status["delivered"].values()) and not any(status["pending"].values())


async def test_two_senders_at_once_keep_each_robot_within_20_a_minute(tmp_path, env):
    """Two live-mode senders with their own outboxes (so both send), 60 alerts at once between
    them: the shared ledger keeps every robot within 20 per rolling minute, never throttled,
    and every alert arrives once."""
    base, real0, now = shared_time()
    async with FakeRobotServer(now) as server:
        env.update(robot_env(robot_secrets(server)))
        senders = [await Sender.start(tmp_path / f"outbox-{n}.db", env, base, real0) for n in (1, 2)]
        for sender in senders:
            await sender.until(lambda s: s["sending"])
        senders[0].send("whales 0 30")
        senders[1].send("whales 100 30")
        for sender in senders:
            await sender.until(lambda s: delivered(s, 30), timeout=60)
        logs = [await sender.stop() for sender in senders]
    for robot in server.robots.values():
        assert set(robot.answers) == {0}, (robot.answers, logs)
        assert max_in_any_minute(robot.accept_times) == 20  # the limit was reached, never passed
        assert [count(robot, marker(i)) for i in [*range(30), *range(100, 130)]] == [1] * 60


async def test_one_sender_per_outbox_and_a_takeover_after_sigkill(tmp_path, env):
    """Two live instances on one outbox: one sends, the other says who does; both queue the same
    alerts, which go out once. The sender is killed (SIGKILL) with alerts pending: the other
    takes over and delivers them, nothing lost and nothing twice."""
    base, real0, now = shared_time()
    outbox = tmp_path / "outbox.db"
    async with FakeRobotServer(now) as server:
        env.update(robot_env(robot_secrets(server)))
        first = await Sender.start(outbox, env, base, real0)
        await first.until(lambda s: s["sending"])
        second = await Sender.start(outbox, env, base, real0)
        await second.until(lambda s: not s["sending"] and f"pid {first.process.pid}" in s["sent_by"])
        for sender in (first, second):  # both watch the same market: both decide these
            sender.send("whales 0 5")
        await first.until(lambda s: delivered(s, 5))
        robots = list(server.robots.values())
        for robot in robots:
            robot.outage = "http500"
        for sender in (first, second):
            sender.send("whales 5 5")
        await first.until(lambda s: all(v == 5 for v in s["pending"].values()))
        await asyncio.wait_for(_until(lambda: all("http500" in r.answers for r in robots)), 30)
        first.process.send_signal(signal.SIGKILL)
        await first.stop()
        for robot in robots:
            robot.outage = None
        await second.until(lambda s: s["sending"] and delivered(s, 5), timeout=60)
        log = await second.stop()
    assert "sends the alerts now" in log
    for robot in robots:
        assert [count(robot, marker(i)) for i in range(10)] == [1] * 10
    box = Outbox(outbox)
    assert box.backlog["dingtalk"].pending == 0 and box.backlog["wecom"].pending == 0
    rows = box.db.execute("SELECT COUNT(*) FROM alerts").fetchone()[0]
    box.close()
    assert rows == 20  # ten alerts per robot: each decided twice, queued once


async def _until(predicate: Callable[[], bool]) -> None:
    while not predicate():
        await asyncio.sleep(0.05)


async def test_notify_test_then_a_start_within_the_minute_never_exceed_20(tmp_path, env):
    """The issue's case: `notify-test`, then at once a run that alerts a lot. The test message is
    in the ledger, so the run sends 19 more in that minute, not 20, and no robot refuses one."""
    async with FakeRobotServer(wall) as server:
        env.update(robot_env(robot_secrets(server)))
        work = tmp_path / "work"
        work.mkdir()
        command = [sys.executable, "-m", "gme_tui"]
        test = await asyncio.create_subprocess_exec(
            *command, "notify-test", cwd=work, env=env, stdout=asyncio.subprocess.PIPE
        )
        out, _ = await asyncio.wait_for(test.communicate(), 60)
        assert test.returncode == 0, out
        demo = await asyncio.create_subprocess_exec(
            *command,
            "--demo",
            "--headless",
            "--alerts",
            "--speed",
            "60",
            cwd=work,
            env=env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        robots = list(server.robots.values())
        try:
            await asyncio.wait_for(_until(lambda: all(len(r.accepted) >= 20 for r in robots)), 50)
            await asyncio.sleep(2)  # more alerts keep coming: none of them may go in this minute
        finally:
            demo.send_signal(signal.SIGTERM)
            _, err = await asyncio.wait_for(demo.communicate(), 30)
    for robot in robots:
        assert max_in_any_minute(robot.accept_times) <= 20, (robot.kind, robot.answers, err.decode()[-2000:])
        assert robot.accept_times[19] - robot.accept_times[0] < 60_000  # the minute of the test, filled
        assert set(robot.answers) == {0}  # never refused (130101, 45009)
        assert "测试消息" in robot.texts()[0]
    box = Outbox(Path(env["XDG_DATA_HOME"]) / "gme-tui" / "alerts-outbox-demo.sqlite3")
    assert box.backlog["dingtalk"].pending > 0  # there was more to send: the ledger held it back
    box.close()
    assert not (Path(env["XDG_DATA_HOME"]) / "gme-tui" / "alerts-outbox.sqlite3").exists()  # not the live queue
