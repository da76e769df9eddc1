"""Shared pieces of the serve/attach tests: a short private runtime directory (Unix socket paths
are limited to 107 bytes, pytest's tmp paths are long), engine events of a small market, and a
state server on a socket in it."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from gme_tui.engine import Engine, EngineConfig
from gme_tui.model import EngineEvent, ExchangeHealth, HealthState, HealthUpdate, SourceMode
from gme_tui.serve.server import DaemonFacts, ServeConfig, StateServer
from gme_tui.settings import Settings
from tests.tui.market import NOW_MS, market_items


@pytest.fixture
def short_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="gt", dir="/tmp"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def runtime(short_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """XDG_RUNTIME_DIR for this test (the default sockets go under it)."""
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(short_dir))
    return short_dir


def market_events(*, perps: bool = False) -> list[EngineEvent]:
    """A replayed 50-minute window of eight symbols: one reported scan (every level, A+, A, C;
    ratios of +inf where an exchange only bought) and whales; with `perps`, also perpetual flow,
    open interest (derivatives lines, B) and liquidations."""
    config = replace(EngineConfig.from_settings(Settings(), live=False), track_coverage=True)
    engine = Engine(config)
    return [*engine.feed_many(market_items(perps=perps)), *engine.finish()]


def health(now: int = NOW_MS, state: HealthState = HealthState.LIVE) -> HealthUpdate:
    return HealthUpdate(now, SourceMode.LIVE, tuple(ExchangeHealth(e, state, now - 60_000) for e in ("binance", "okx")))


def facts(mode: SourceMode = SourceMode.LIVE) -> DaemonFacts:
    return DaemonFacts(mode=mode, window_minutes=50, exchanges=("binance", "okx", "bybit", "coinbase"))


@pytest.fixture
async def served(short_dir: Path) -> AsyncIterator[StateServer]:
    server = StateServer(ServeConfig(unix=short_dir / "live.sock"), facts())
    await server.start()
    try:
        yield server
    finally:
        await server.close()
