"""A live StatusInfo for status-bar tests: `health` of the exchanges at NOW, a scan 30 s ago."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC

from gme_tui.i18n import catalogue
from gme_tui.model import ExchangeHealth, SourceMode
from gme_tui.tui.widgets.status import StatusInfo

NOW = 1_700_000_000_000


def live_info(
    health: list[ExchangeHealth], language: str = "en", coverage: Mapping[str, int] | None = None
) -> StatusInfo:
    return StatusInfo(
        mode=SourceMode.LIVE,
        health=health,
        coverage=dict(coverage or {}),
        window_minutes=50,
        now_ms=NOW,
        zone=UTC,
        scan_ts=NOW - 30_000,
        rows_total=120,
        rows_shown=120,
        filter_text="grade all",
        sort_text="TOTAL",
        paused=False,
        pending=0,
        finished=False,
        t=catalogue(language),  # type: ignore[arg-type]
    )
