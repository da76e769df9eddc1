from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from gme_tui.model import EngineEvent, HealthUpdate, RobotStatus
from gme_tui.settings import Settings
from gme_tui.tui.app import GmeApp
from tests.tui.market import NOW_MS, make_pipeline, settings_file


class RecordingAlerts:
    """Stands in for gme_tui.alerts: an AlertsView for the app, an EventConsumer for the pipeline.
    Records its lifecycle and the health the pipeline hands it; `calls` records anything else the
    app might call (mute, unmute: the app has no business doing so any more)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, ...]] = []
        self.lifecycle: list[str] = []
        self.health_seen = 0

    async def start(self) -> None:
        self.lifecycle.append("start")

    async def close(self, timeout: float = 5.0) -> None:
        self.lifecycle.append("close")

    def on_events(self, events: Sequence[EngineEvent]) -> None:
        pass

    def on_health(self, update: HealthUpdate) -> None:
        assert isinstance(update, HealthUpdate)
        self.health_seen += 1

    def mute(self, symbol: str, until_ms: int) -> None:
        self.calls.append(("mute", symbol, str(until_ms)))

    def unmute(self, symbol: str) -> None:
        self.calls.append(("unmute", symbol))

    def status(self) -> dict[str, RobotStatus]:
        return {}


@pytest.fixture
def tui_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.chdir(tmp_path)  # a relative settings path keeps snapshots free of tmp names
    settings_file(tmp_path)
    from gme_tui.settings import load_settings

    return load_settings(Path("settings.toml"))


@pytest.fixture
def make_app(tui_settings: Settings):
    saved: list[Settings] = []

    def build(settings: Settings | None = None, items=None, **kwargs: Any) -> GmeApp:
        chosen = settings or tui_settings
        kwargs.setdefault("now_ms", lambda: NOW_MS)
        app = GmeApp(chosen, make_pipeline(chosen, items), on_settings_saved=saved.append, **kwargs)
        app.saved_settings = saved  # type: ignore[attr-defined]
        return app

    return build
