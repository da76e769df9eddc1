"""The Textual UI: `run_tui(settings, pipeline, ...)` is the entry point the command line calls."""

from gme_tui.tui.app import GmeApp, run_tui

__all__ = ["GmeApp", "run_tui"]
