"""Issue 11 end to end: a demo daemon in its own process serves its state; the TUI attaches (Pilot)
and shows the daemon's table; the daemon is killed and started again, the TUI attaches again.
Plus the command line's choices and its one-line refusals."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import orjson
import pytest

from gme_tui import cli
from gme_tui.model import SourceMode
from gme_tui.serve.client import AttachedFeed
from gme_tui.serve.protocol import Address
from gme_tui.serve.server import DaemonFacts, ServeConfig, StateServer
from gme_tui.tui.attach import AttachedApp
from tests.tui.market import settings_file

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def runtime() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="gt", dir="/tmp"))  # short: socket paths are limited to 107 bytes
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


class Daemon:
    """`gme-tui --demo --headless --json` in its own process; its consensus lines by scan time."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.scans: dict[int, dict[str, dict]] = {}
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def start(cls, env: dict[str, str], cwd: Path) -> Daemon:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "gme_tui",
            "--demo",
            "--headless",
            "--json",
            "--speed",
            "30",
            cwd=cwd,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
        return cls(process)

    async def _read(self) -> None:
        assert self.process.stdout is not None
        async for line in self.process.stdout:
            event = orjson.loads(line)
            if event["type"] == "consensus":
                self.scans.setdefault(event["ts"], {})[event["symbol"]] = event

    async def stop(self, signum: int = signal.SIGTERM) -> None:
        if self.process.returncode is None:
            self.process.send_signal(signum)
        await asyncio.wait_for(self.process.wait(), 30)
        await asyncio.gather(self._reader, return_exceptions=True)


async def until(predicate: Callable[[], bool], pilot, timeout: float = 30.0) -> None:
    async def wait() -> None:
        while not predicate():
            await pilot.pause(0.05)

    await asyncio.wait_for(wait(), timeout)


def table_matches(app: AttachedApp, daemon: Daemon) -> bool:
    """The attached TUI's table is the daemon's scan: same symbols, levels, totals, flows."""
    scan = app.market.scan
    if scan is None or scan.ts not in daemon.scans:
        return False
    lines = daemon.scans[scan.ts]
    rows = app.market.rows
    if set(rows) != set(lines) or app._rows_shown != len(lines):
        return False
    for symbol, row in rows.items():
        line = lines[symbol]
        consensus = row.scan.consensus
        if (
            consensus.level != line["level"]
            or consensus.total != line["total"]
            or dict(consensus.flows) != line["flows"]
        ):
            return False
    return True


async def test_an_attached_tui_shows_the_daemons_table_and_attaches_again_after_a_kill(tmp_path, cli_env, runtime):
    env = {**cli_env, "XDG_RUNTIME_DIR": str(runtime)}
    work = tmp_path / "work"
    work.mkdir()
    path = runtime / "gme-tui" / "demo.sock"
    daemon = await Daemon.start(env, work)
    settings = settings_file(tmp_path)
    feed = AttachedFeed(Address("unix", path), retry_cap_s=0.3)
    app = AttachedApp(settings, feed)
    try:
        async with app.run_test(size=(160, 50)) as pilot:
            await until(lambda: table_matches(app, daemon), pilot)
            bar = str(app.attach_bar.content)
            assert f"attached to demo daemon pid {daemon.process.pid} at unix:{path}" in bar
            assert "alerts: off" in bar
            assert app.save_settings({"ui.pinned": ["BTC/USDT"]}) is False  # refused, said on screen
            assert "ui.pinned" not in (tmp_path / "settings.toml").read_text()
            app.selected = "BTC/USDT"
            app.action_mute()  # refused too: the daemon sends the alerts
            assert app.mutes.muted(app.now_ms()) == frozenset()
            assert app.inbox.health is not None and app.inbox.health.mode == SourceMode.DEMO

            await daemon.stop(signal.SIGKILL)
            await until(lambda: not feed.status.attached, pilot)
            await until(lambda: "NOT ATTACHED" in str(app.attach_bar.content), pilot)
            assert path.exists()  # the killed daemon's socket, stale now

            daemon = await Daemon.start(env, work)
            await until(lambda: feed.status.sessions == 2 and table_matches(app, daemon), pilot)
            assert f"pid {daemon.process.pid}" in str(app.attach_bar.content)
    finally:
        await daemon.stop()


# ---------------------------------------------------------------- the command line


def test_attach_with_nothing_there_is_one_line_and_exit_2(run_cli, runtime, cli_env, tmp_path):
    cli_env["XDG_RUNTIME_DIR"] = str(runtime)
    english = tmp_path / "english.toml"  # the lines are in settings.language (issue 13): pin English
    english.write_text('language = "en"\n', encoding="utf-8")
    done = run_cli("--config", str(english), "attach")
    assert done.returncode == 2
    assert done.stderr.decode().strip().splitlines() == [
        f"gme-tui: no gme-tui daemon at {runtime}/gme-tui/live.sock (no socket there)"
    ]
    stale = runtime / "stale.sock"
    leftover = socket.socket(socket.AF_UNIX)
    leftover.bind(str(stale))
    leftover.close()
    done = run_cli("--config", str(english), "attach", str(stale))
    assert done.returncode == 2
    assert "stale socket" in done.stderr.decode() and len(done.stderr.decode().strip().splitlines()) == 1
    done = run_cli("attach", "10.0.0.1:80")
    assert done.returncode == 2 and "SSH tunnel" in done.stderr.decode()


def test_serving_tcp_without_a_token_is_refused(run_cli, runtime, cli_env):
    cli_env["XDG_RUNTIME_DIR"] = str(runtime)
    done = run_cli("--demo", "--headless", "--serve-tcp", "0")
    assert done.returncode == 2 and "GME_TUI_TOKEN" in done.stderr.decode()
    done = run_cli("--demo", "--serve-tcp", "0")
    assert done.returncode == 2 and "go with --headless" in done.stderr.decode()


async def serve_live(path: Path) -> StateServer:
    server = StateServer(ServeConfig(unix=path), DaemonFacts(SourceMode.LIVE, 50, ("binance",)))
    await server.start()
    return server


@pytest.fixture
def root_logging() -> Iterator[None]:
    """cli.main configures the root logger and log redaction: put both back afterwards."""
    import logging

    from gme_tui.alerts import uninstall_log_redaction

    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        yield
    finally:
        for handler in list(root.handlers):
            if handler not in handlers:
                root.removeHandler(handler)
                handler.close()
        for handler in handlers:
            if handler not in root.handlers:
                root.addHandler(handler)
        root.setLevel(level)
        uninstall_log_redaction()


@pytest.mark.usefixtures("root_logging")
def test_plain_gme_tui_attaches_to_a_running_live_daemon_and_standalone_opts_out(tmp_path, runtime, monkeypatch):
    """The choice only (no terminal here): the TUI functions are replaced by recorders."""
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    calls: list[str] = []
    monkeypatch.setattr("gme_tui.tui.attach.run_attached", lambda *a, **k: calls.append("attached") or 0)
    monkeypatch.setattr("gme_tui.tui.app.run_tui", lambda *a, **k: calls.append("standalone") or 0)
    path = runtime / "gme-tui" / "live.sock"
    loop = asyncio.new_event_loop()
    server = loop.run_until_complete(serve_live(path))
    runner = loop.run_in_executor(None, cli.main, [])  # the probe needs the daemon's loop to run
    assert loop.run_until_complete(asyncio.wait_for(runner, 30)) == 0
    runner = loop.run_in_executor(None, cli.main, ["--standalone", "--store", str(tmp_path / "s.db")])
    assert loop.run_until_complete(asyncio.wait_for(runner, 30)) == 0
    loop.run_until_complete(server.close())
    loop.close()
    assert calls == ["attached", "standalone"]
    assert cli.main(["--store", str(tmp_path / "s.db")]) == 0  # no daemon now: standalone
    assert calls[-1] == "standalone"
    assert not os.path.exists(path)
