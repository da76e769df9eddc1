"""How numbers and times look, on screen, in log lines and in alerts (SPEC §9)."""

from __future__ import annotations

import math
from datetime import UTC, datetime, tzinfo
from functools import lru_cache


def money(value: float) -> str:
    """`+523k` below one million, `-2.02M` from one million, `+1.23B` from one billion, `0k` for zero.

    Below 1k the figure keeps one decimal (`+0.4k`) so a small flow never loses its sign.
    Rounding never produces `1000k` or `1000.00M`: the next unit takes over.
    """
    if value == 0 or value != value:
        return "0k"
    if math.isinf(value):
        return "+∞" if value > 0 else "-∞"
    sign = "+" if value > 0 else "-"
    size = abs(value)
    if size >= 999_995_000 or size >= 1e9:
        return f"{sign}{size / 1e9:.2f}B"
    if size >= 999_500 or size >= 1e6:
        return f"{sign}{size / 1e6:.2f}M"
    if size >= 999.5 or size >= 1e3:
        return f"{sign}{size / 1e3:.0f}k"
    if size < 50:
        return f"{sign}{size / 1e3:.2f}k"
    tenths = f"{size / 1e3:.1f}"
    # 950..999.49 round to "1.0": write it like the 1k just above, not "+1.0k".
    return f"{sign}{'1' if tenths == '1.0' else tenths}k"


def usd(value: float) -> str:
    """A whole-dollar amount with thousands separators: `$523,450`."""
    return f"${value:,.0f}"


def price(value: float | None) -> str:
    """A price with sensible precision for its size: 42,150 / 98.5 / 0.0000123."""
    if value is None or value != value:
        return "-"
    size = abs(value)
    if size >= 1000:
        return f"{value:,.0f}" if value == int(value) else f"{value:,.2f}"
    if size >= 1:
        return f"{value:,.4f}".rstrip("0").rstrip(".")
    if size == 0:
        return "0"
    digits = max(2, -math.floor(math.log10(size)) + 3)
    return f"{value:.{digits}f}".rstrip("0").rstrip(".")


def ratio(value: float | None) -> str:
    if value is None:
        return "-"
    if math.isinf(value):
        return "∞"
    return f"{value:.2f}"


def percent(value: float | None) -> str:
    if value is None or value != value:
        return "-"
    return f"{value * 100:+.2f}%"


@lru_cache(maxsize=8)
def zone(name: str) -> tzinfo:
    """The `timezone` setting: an IANA name, or empty for the system's zone."""
    if not name:
        local = datetime.now().astimezone().tzinfo
        return local or UTC
    from zoneinfo import ZoneInfo

    return ZoneInfo(name)


def clock(ts_ms: int, tz: tzinfo, seconds: bool = True) -> str:
    moment = datetime.fromtimestamp(ts_ms / 1000, tz)
    return moment.strftime("%H:%M:%S" if seconds else "%H:%M")


def stamp(ts_ms: int, tz: tzinfo) -> str:
    return datetime.fromtimestamp(ts_ms / 1000, tz).strftime("%Y-%m-%d %H:%M:%S")


def zone_label(tz: tzinfo, ts_ms: int) -> str:
    """`UTC+08:00 (CST)`, for alert messages that must name the zone."""
    moment = datetime.fromtimestamp(ts_ms / 1000, tz)
    offset = moment.strftime("%z")
    name = moment.tzname() or ""
    pretty = f"UTC{offset[:3]}:{offset[3:]}" if offset else "UTC"
    return f"{pretty} ({name})" if name and name not in ("UTC", pretty) else pretty
