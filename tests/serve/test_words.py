"""Issue 13 (item 1): the daemon's words in the user's language. What reaches an attached TUI
(`AttachStatus.message`, `DaemonInfo.alerts`) is worded by the client in the TUI's language; what
the daemon itself says (ServeError, its lines about attaching TUIs) in the daemon's."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from gme_tui.i18n import catalogue
from gme_tui.model import RobotStatus
from gme_tui.serve.client import AttachedFeed, AttachError, alerts_words, probe
from gme_tui.serve.protocol import Address, DaemonInfo
from gme_tui.serve.server import ServeConfig, ServeError, StateServer
from tests.serve.conftest import facts, market_events

pytestmark = pytest.mark.timeout(60)


async def until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    async def wait() -> None:
        while not predicate():
            await asyncio.sleep(0.02)

    await asyncio.wait_for(wait(), timeout)


class Robots:
    """An AlertsView whose robots are configured; `sent_by` set: another process sends."""

    def __init__(self, sent_by: str = "") -> None:
        self.sent_by = sent_by

    async def start(self) -> None:
        return None

    async def close(self, timeout: float = 5.0) -> None:
        return None

    def status(self) -> Mapping[str, RobotStatus]:
        return {"dingtalk": RobotStatus("dingtalk", "DingTalk", True, 0, 0, 0, sent_by=self.sent_by)}


@pytest.mark.parametrize(
    ("alerts", "state", "en", "zh"),
    [
        (None, "off", "off", "关闭"),
        (Robots(), "sending", "sending", "发送中"),
        (
            Robots("pid 42 (gme-tui --headless)"),
            "queued",
            "queued: pid 42 (gme-tui --headless) sends them",
            "排队中：由 pid 42 (gme-tui --headless) 发送",
        ),
    ],
)
async def test_the_alerts_summary_is_worded_in_the_tuis_language(short_dir, alerts, state, en, zh):
    path = short_dir / "live.sock"
    server = StateServer(ServeConfig(unix=path), dataclasses.replace(facts(), language="zh"), alerts=alerts)
    await server.start()
    try:
        english = await probe(Address("unix", path), language="en")
        chinese = await probe(Address("unix", path), language="zh")
    finally:
        await server.close()
    assert english.daemon.alerts_state == state and english.daemon.alerts == en
    assert chinese.daemon.alerts == zh


def test_an_older_daemons_summary_is_shown_as_it_is():
    info = DaemonInfo("live", "0.1.0", 1, 0, "unix:/x", 50, ("binance",), "", "", "sending")  # type: ignore[arg-type]
    assert info.alerts_state == "" and alerts_words(info, catalogue("zh").daemon) == "sending"


async def test_the_feed_says_why_it_is_detached_in_chinese(short_dir):
    path = short_dir / "live.sock"
    server = StateServer(ServeConfig(unix=path), facts())
    await server.start()
    server.on_events(market_events()[-1:])
    feed = AttachedFeed(Address("unix", path), retry_cap_s=0.2, language="zh")
    assert feed.status.message == "正在连接…"
    task = asyncio.create_task(feed.run())
    try:
        await until(lambda: feed.status.attached)
        await server.close()  # no reason: the TUI says it in its own words
        await until(lambda: not feed.status.attached)
        assert feed.status.message == "守护进程已停止"
        await until(lambda: "没有 gme-tui 守护进程" in feed.status.message)  # retrying meanwhile
        assert feed.status.message == f"{path} 没有 gme-tui 守护进程（那里没有套接字）"
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_refusals_in_the_clients_language_and_the_daemons(short_dir, caplog):
    server = StateServer(
        ServeConfig(unix=None, tcp_port=0, token="s3cret"), dataclasses.replace(facts(), language="zh")
    )
    (address,) = await server.start()
    try:
        with caplog.at_level(logging.WARNING, logger="gme_tui.serve.server"):
            with pytest.raises(AttachError) as refused:
                await probe(address, token="guess", language="zh")
    finally:
        await server.close()
    assert refused.value.message == f"{address} 拒绝了令牌：请把 GME_TUI_TOKEN 设为守护进程的令牌"
    assert "拒绝连接：令牌错误或缺失" in [r.getMessage() for r in caplog.records]


async def test_the_daemons_own_errors_in_its_language(short_dir):
    zh = dataclasses.replace(facts(), language="zh")
    with pytest.raises(ServeError, match="通过 TCP 提供服务需要令牌：请设置 GME_TUI_TOKEN"):
        StateServer(ServeConfig(unix=None, tcp_port=0), zh)
    path = short_dir / "live.sock"
    server = StateServer(ServeConfig(unix=path), zh)
    await server.start()
    try:
        with pytest.raises(ServeError) as taken:
            await StateServer(ServeConfig(unix=path), zh).start()
        assert str(taken.value) == f"已有另一个 gme-tui 守护进程在 {path} 提供服务（pid {os.getpid()}）"
    finally:
        await server.close()
    notes = short_dir / "notes"
    notes.write_text("mine")
    with pytest.raises(ServeError, match="已存在且不是套接字：不替换"):
        await StateServer(ServeConfig(unix=notes), zh).start()


async def test_probe_failures_in_chinese(short_dir):
    with pytest.raises(AttachError) as missing:
        await probe(Address("unix", short_dir / "none.sock"), language="zh")
    assert missing.value.message == f"{short_dir / 'none.sock'} 没有 gme-tui 守护进程（那里没有套接字）"
    file = short_dir / "file"
    file.write_text("x")
    with pytest.raises(AttachError, match="不是套接字：不是 gme-tui 守护进程"):
        await probe(Address("unix", Path(file)), language="zh")
