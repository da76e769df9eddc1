"""Shared pieces for the alert tests: a settable clock, a fake robot server, engine events."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import pytest

from gme_tui.alerts import AlertDispatcher
from gme_tui.alerts.redact import uninstall_log_redaction
from gme_tui.model import Consensus, Language, Scan, Signal, SymbolScan, Whale
from gme_tui.settings import AlertSettings, Secrets, Settings
from tests.fakes.robot import FakeRobotServer

T0 = 1_765_530_000_000  # 2025-12-12 09:00:00 UTC, minute aligned
DT_TOKEN = "dt0token0abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
DT_SECRET = "SEC0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcd"
WC_KEY = "wc0key00-1111-2222-3333-444455556666"
FLOWS = {"binance": 500_000.0, "okx": 200_000.0, "bybit": 100_000.0, "coinbase": 50_000.0}


class Clock:
    """Milliseconds, moved by the test."""

    def __init__(self, now: int = T0) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now

    def advance(self, ms: int) -> None:
        self.now += ms


@pytest.fixture(autouse=True)
def _no_lasting_redaction():
    yield
    uninstall_log_redaction()


@pytest.fixture(autouse=True)
def _own_data_dir(tmp_path, monkeypatch):
    """The shared send ledger lives in the user data directory: each test gets its own (and so do
    the processes it starts)."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def server(clock: Clock):
    async with FakeRobotServer(clock, stall_seconds=3.0) as fake:
        yield fake


def make_settings(*, language: Language = "zh", **alerts: Any) -> Settings:
    """Settings with these alert settings, in `language` (the default settings' zh unless told)."""
    base = {"request_timeout_seconds": 0.5}
    base.update(alerts)
    return msgspec.structs.replace(Settings(timezone="Asia/Shanghai", language=language), alerts=AlertSettings(**base))


def robot_secrets(
    server: FakeRobotServer,
    *,
    dingtalk: bool = True,
    wecom: bool = True,
    dt_secret: str = DT_SECRET,
    keywords: tuple[str, ...] = ("资金流监控",),
) -> Secrets:
    dt = server.add_dingtalk(DT_TOKEN, DT_SECRET, keywords) if dingtalk else None
    wc = server.add_wecom(WC_KEY) if wecom else None
    return Secrets(
        dingtalk_webhook=dt.url if dt else "",
        dingtalk_secret=dt_secret if dt else "",
        wechat_webhook=wc.url if wc else "",
        enable_dingtalk=dingtalk,
        enable_wechat=wecom,
    )


def make_dispatcher(
    settings: Settings, secrets: Secrets, clock: Clock, path: Path, mode: str = "live"
) -> AlertDispatcher:
    return AlertDispatcher(settings, secrets, mode=mode, clock=clock, outbox_path=path)


def consensus(symbol: str, level: str, ts: int = T0, flows: dict[str, float] | None = None) -> Consensus:
    flows = dict(flows or FLOWS)
    return Consensus(
        ts=ts, symbol=symbol, level=level, flows=flows, ratios={e: 1.2 for e in flows}, total=sum(flows.values())
    )


def scan(ts: int, *items: tuple[str, str, tuple[str, ...]]) -> Scan:
    """items: (symbol, level, signal codes)."""
    from gme_tui.engine.rules import GRADE_OF

    symbols = []
    for symbol, level, codes in sorted(items):
        signals = tuple(Signal(ts, symbol, GRADE_OF[code], code, dict(FLOWS)) for code in codes)
        symbols.append(SymbolScan(consensus(symbol, level, ts), signals, {}, None, None, 0.0))
    return Scan(ts=ts, window_minutes=50, symbols=tuple(symbols))


def whale(ts: int, symbol: str = "BTC/USDT", value: float = 600_000.0, side: str = "buy") -> Whale:
    return Whale(
        ts=ts, exchange="binance", symbol=symbol, side=side, price=42_150.0, amount=value / 42_150.0, value=value
    )
