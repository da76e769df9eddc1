"""The store is off in replay and demo unless a path is given, and a store never changes what
a replay reports (replays stay pure)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import msgspec

from gme_tui.engine import Engine, EngineConfig
from gme_tui.model import Scan
from gme_tui.pipeline import Pipeline
from gme_tui.settings import Settings, StoreSettings
from gme_tui.store import Store, StoreRun, store_path_for
from tests.tui.market import MemorySource, market_items


def test_store_is_on_in_live_mode_only_unless_a_path_is_given(tmp_path):
    settings = Settings()
    assert store_path_for("live", settings, None).name == "store.sqlite3"
    assert store_path_for("replay", settings, None) is None
    assert store_path_for("demo", settings, None) is None
    assert store_path_for("replay", settings, str(tmp_path / "r.db")) == tmp_path / "r.db"
    assert store_path_for("demo", settings, str(tmp_path / "d.db")) == tmp_path / "d.db"
    off = msgspec.structs.replace(settings, store=StoreSettings(enabled=False))
    assert store_path_for("live", off, None) is None
    elsewhere = msgspec.structs.replace(settings, store=StoreSettings(path=str(tmp_path / "mine.db")))
    assert store_path_for("live", elsewhere, None) == tmp_path / "mine.db"


async def replay(settings: Settings, store_run: StoreRun | None) -> list[Scan]:
    config = EngineConfig.from_settings(settings, live=False)
    if store_run is not None:
        config = dataclasses.replace(config, emit_minutes=True)
    scans: list[Scan] = []

    class Collect:
        def on_events(self, events):
            scans.extend(e for e in events if isinstance(e, Scan))

        def on_health(self, update):
            pass

    consumers = [Collect()] + ([store_run.writer] if store_run is not None else [])
    await Pipeline(MemorySource([market_items()]), Engine(config), consumers).run()
    return scans


async def test_a_replay_with_a_store_reports_the_same_and_fills_the_store(tmp_path: Path):
    settings = Settings()
    plain = await replay(settings, None)
    path = store_path_for("replay", settings, str(tmp_path / "replay.db"))
    run = StoreRun.open(path, settings, live=False)
    assert run.retention is None  # old replay minutes must not be pruned against the wall clock
    stored = await replay(settings, run)
    run.close()
    assert stored == plain and plain  # the store changed nothing the replay reports
    store = Store(path)
    counts = store.counts()
    store.close()
    assert counts["minutes"] > 0 and counts["signals"] == sum(len(i.signals) for s in plain for i in s.symbols) > 0
    assert counts["whales"] == 5
