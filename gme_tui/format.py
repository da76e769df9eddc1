"""How numbers and times look, on screen, in log lines and in alerts (SPEC §9)."""

from __future__ import annotations

import calendar
import math
import os
import time
from datetime import UTC, datetime, timedelta, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


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
    """The `timezone` setting as a tzinfo that resolves its offset per timestamp: an IANA name
    (`Europe/Berlin`, checked by the settings loader), or empty for the system's zone
    (`system_zone`). Raises ZoneInfoNotFoundError for an unknown name."""
    if not name:
        return system_zone()
    return ZoneInfo(name)


def system_zone() -> tzinfo:
    """The operating system's zone, with its daylight-saving rules (never an offset frozen at
    start): `TZ` when set (an IANA name; a POSIX rule or a file path goes to the C library),
    else /etc/localtime, else the C library's local time (Windows)."""
    if "TZ" in os.environ:
        value = os.environ["TZ"]
        if not value:  # an empty TZ means UTC to the C library too
            return UTC
        try:
            return ZoneInfo(value.removeprefix(":"))
        except (ZoneInfoNotFoundError, ValueError):  # "CET-1CEST,M3.5.0,M10.5.0/3", "/path/to/zone"
            return LocalZone()
    try:
        with open("/etc/localtime", "rb") as data:
            return ZoneInfo.from_file(data, key="localtime")
    except (OSError, ValueError):
        return LocalZone()


class LocalZone(tzinfo):
    """The C library's local time (`time.localtime`), resolved per timestamp: the fallback where
    no zone file names the system's zone. Ambiguous and missing wall times follow PEP 495 (`fold`)."""

    def fromutc(self, dt: datetime) -> datetime:
        if dt.tzinfo is not self:
            raise ValueError("fromutc: dt.tzinfo is not self")
        seconds = calendar.timegm(dt.replace(tzinfo=None).timetuple())
        offset = time.localtime(seconds).tm_gmtoff
        local = dt + timedelta(seconds=offset)
        # the second of two equal wall times (clocks set back) is fold=1
        later = local.replace(fold=1)
        return later if self._offset(later) == offset != self._offset(local) else local

    def utcoffset(self, dt: datetime | None) -> timedelta:
        if dt is None:
            return timedelta(seconds=time.localtime().tm_gmtoff)
        return timedelta(seconds=self._offset(dt))

    def dst(self, dt: datetime | None) -> timedelta:
        moment = time.localtime() if dt is None else time.localtime(self._instant(dt))
        return timedelta(seconds=moment.tm_gmtoff + time.timezone) if moment.tm_isdst > 0 else timedelta(0)

    def tzname(self, dt: datetime | None) -> str:
        moment = time.localtime() if dt is None else time.localtime(self._instant(dt))
        return moment.tm_zone

    def _instant(self, dt: datetime) -> float:
        return calendar.timegm(dt.replace(tzinfo=None).timetuple()) - self._offset(dt)

    @staticmethod
    def _offset(dt: datetime) -> int:
        """Seconds east of UTC at the wall time `dt`: the offsets in force a day either side are the
        candidates; one that maps back onto `dt` is valid (two in a repeated hour, none in a gap)."""
        wall = calendar.timegm(dt.replace(tzinfo=None).timetuple())
        before = time.localtime(wall - 86_400).tm_gmtoff
        after = time.localtime(wall + 86_400).tm_gmtoff
        valid = sorted({o for o in (before, after) if time.localtime(wall - o).tm_gmtoff == o})
        if not valid:  # a skipped wall time: the offset before the change for fold=0, after for fold=1
            return after if dt.fold else before
        # repeated: fold=0 is the earlier instant, which has the larger offset
        return valid[0] if dt.fold and len(valid) > 1 else valid[-1]

    def __repr__(self) -> str:
        return "LocalZone()"


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
    pretty = f"UTC{offset[:3]}:{offset[3:5]}" if offset else "UTC"
    # a zone without an abbreviation names itself by its offset ("+08"): said once is enough
    plain = not name or name == "UTC" or name[0] in "+-"
    return pretty if plain else f"{pretty} ({name})"
