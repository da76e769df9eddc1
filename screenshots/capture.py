"""Regenerate the README screenshots from the deterministic test market (no network).

PYTHONPATH=. python screenshots/capture.py     (needs rsvg-convert for the PNGs, and a CJK and an
emoji font for the Chinese pictures: Debian fonts-wqy-microhei and fonts-noto-color-emoji)
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import msgspec

from gme_tui.model import HealthState, HealthUpdate, SourceMode
from gme_tui.settings import load_settings
from gme_tui.tui.app import GmeApp
from tests.tui.market import NOW_MS, make_pipeline, settings_file, settle

HERE = Path(__file__).resolve().parent
SHOTS = {  # name: (language, size, keys)
    "main": ("en", (160, 45), ()),
    "main-zh": ("zh", (160, 45), ()),
    "main-en-100x30": ("en", (100, 30), ("down",)),
    "main-zh-80x24": ("zh", (80, 24), ("down", "down")),
    "detail": ("en", (160, 45), ("down", "enter")),
    "detail-zh-100x30": ("zh", (100, 30), ("down", "enter")),
    "settings": ("en", (120, 40), ("o",)),
    "settings-zh": ("zh", (120, 40), ("o",)),
    "help": ("en", (120, 40), ("question_mark",)),
    "help-zh": ("zh", (120, 40), ("question_mark",)),
    "liquidations-zh-80x24": ("zh", (80, 24), ("l",)),
}
SCROLLED = {  # name: (language, size, keys, the widget scrolled to the top)
    "detail-perp": ("en", (100, 40), ("down", "enter"), "#perp"),
    "detail-perp-zh": ("zh", (100, 40), ("down", "enter"), "#perp"),
}


async def capture(
    name: str, language: str, size: tuple[int, int], keys: tuple[str, ...], scroll_to: str | None = None
) -> Path:
    settings = msgspec.structs.replace(load_settings(Path("settings.toml")), language=language)
    app = GmeApp(settings, make_pipeline(settings), now_ms=lambda: NOW_MS)
    async with app.run_test(size=size) as pilot:
        await settle(app, pilot)
        for key in keys:
            await pilot.press(key)
        await pilot.pause()
        if scroll_to is not None:
            app.screen.query_one(scroll_to).scroll_visible(top=True, animate=False, immediate=True)
            await pilot.pause()
        svg = HERE / f"{name}.svg"
        svg.write_text(app.export_screenshot(title=f"gme-tui {name}"), encoding="utf-8")
    return svg


DEMO_START_MS = 1_765_530_000_000  # 2025-12-12 09:00 UTC: a fixed start keeps the picture stable
DEMO_MINUTES = 6
SCORECARD_MINUTES = 150
SCORECARDS = {"scorecard": "en", "scorecard-zh": "zh"}  # name: language


class _Frozen:
    """The simulator's health as it was while streaming (the picture is taken after it ended)."""

    mode = SourceMode.DEMO

    def __init__(self, market) -> None:
        self.records = tuple(dataclasses.replace(r, state=HealthState.SIMULATED) for r in market.health())

    def health(self):
        return self.records


async def capture_demo(
    name: str = "demo-zh", *, language: str = "zh", minutes: int = DEMO_MINUTES, keys: tuple[str, ...] = ()
) -> Path:
    """The real simulated market, Chinese labels, as `gme-tui --demo` shows it a few minutes in."""
    from gme_tui.engine import Engine, EngineConfig
    from gme_tui.pipeline import Pipeline
    from gme_tui.scorecard import ScoreCollector, compute
    from gme_tui.sources.simulator import SimulatedMarket

    settings = msgspec.structs.replace(load_settings(Path("settings.toml")), language=language)
    market = SimulatedMarket(
        seed=7,
        speed=0,
        start_ms=DEMO_START_MS,
        duration_minutes=minutes,
        perp_venues=settings.perp_venues,  # as `gme-tui --demo` does
    )
    engine = Engine(dataclasses.replace(EngineConfig.from_settings(settings, live=False), emit_minutes=True))
    events = [event async for batch in market.batches() for event in engine.feed_many(batch)]
    collector = ScoreCollector(settings.window.minutes)  # the `c` screen's, as cli's _session_scorecard
    collector.on_events(events)
    frozen = _Frozen(market)
    pipeline = Pipeline(frozen, engine)  # type: ignore[arg-type]
    now = DEMO_START_MS + minutes * 60_000 + 4_000
    app = GmeApp(
        settings,
        pipeline,
        now_ms=lambda: now,
        start_pipeline=False,
        scorecard=lambda: compute(collector.data(), settings.scorecard.horizons),
    )
    async with app.run_test(size=(160, 45)) as pilot:
        while not app._started:
            await pilot.pause()
        app.inbox.on_events(events)
        app.inbox.on_health(HealthUpdate(now, SourceMode.DEMO, frozen.records))  # the pipeline is not run
        app.tick()
        await pilot.pause()
        for key in keys:
            await pilot.press(key)
        await pilot.pause()
        svg = HERE / f"{name}.svg"
        svg.write_text(app.export_screenshot(title="gme-tui --demo"), encoding="utf-8")
    return svg


def to_png(svg: Path) -> None:
    """The PNG beside the SVG. rsvg-convert drops the spaces that open or close a text run unless
    told to keep them (xml:space): without it "q Quit" became "qQuit"."""
    if shutil.which("rsvg-convert"):
        keep_spaces = svg.read_text(encoding="utf-8").replace("<svg ", '<svg xml:space="preserve" ', 1)
        with tempfile.NamedTemporaryFile("w", suffix=".svg", encoding="utf-8", delete=False) as copy:
            copy.write(keep_spaces)
        try:
            png = str(svg.with_suffix(".png"))
            subprocess.run(["rsvg-convert", "-w", "1600", copy.name, "-o", png], check=True)
        finally:
            os.unlink(copy.name)
    print(svg)


async def main() -> None:
    work = Path(tempfile.mkdtemp())
    settings_file(work)
    os.chdir(work)  # relative settings path, as a user would have it
    for name, (language, size, keys) in SHOTS.items():
        to_png(await capture(name, language, size, keys))
    for name, (language, size, keys, widget) in SCROLLED.items():
        to_png(await capture(name, language, size, keys, widget))
    to_png(await capture_demo())
    for name, language in SCORECARDS.items():  # two hours of the demo: every horizon scored
        to_png(await capture_demo(name, language=language, minutes=SCORECARD_MINUTES, keys=("c",)))


if __name__ == "__main__":
    asyncio.run(main())
