"""Regenerate the README screenshots from the deterministic test market (no network).

    PYTHONPATH=. python screenshots/capture.py     (needs rsvg-convert for the PNGs)
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from gme_tui.settings import load_settings
from gme_tui.tui.app import GmeApp
from tests.tui.market import NOW_MS, make_pipeline, settings_file, settle

HERE = Path(__file__).resolve().parent
SHOTS = {  # name: (language, size, keys)
    "main": ("en", (160, 45), ()),
    "main-zh-80x24": ("zh", (80, 24), ("down", "down")),
    "detail": ("en", (160, 45), ("down", "enter")),
    "settings": ("en", (120, 40), ("o",)),
    "help": ("en", (120, 40), ("question_mark",)),
}


async def capture(name: str, language: str, size: tuple[int, int], keys: tuple[str, ...]) -> Path:
    settings = dataclasses.replace(load_settings(Path("settings.toml")), language=language)
    app = GmeApp(settings, make_pipeline(settings), now_ms=lambda: NOW_MS)
    async with app.run_test(size=size) as pilot:
        await settle(app, pilot)
        for key in keys:
            await pilot.press(key)
        await pilot.pause()
        svg = HERE / f"{name}.svg"
        svg.write_text(app.export_screenshot(title=f"gme-tui {name}"), encoding="utf-8")
    return svg


async def main() -> None:
    work = Path(tempfile.mkdtemp())
    settings_file(work)
    os.chdir(work)  # relative settings path, as a user would have it
    for name, (language, size, keys) in SHOTS.items():
        svg = await capture(name, language, size, keys)
        if shutil.which("rsvg-convert"):
            subprocess.run(["rsvg-convert", "-w", "1600", str(svg), "-o", str(svg.with_suffix(".png"))], check=True)
        print(svg)


if __name__ == "__main__":
    asyncio.run(main())
