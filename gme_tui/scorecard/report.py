"""The scorecard's two outputs (SPEC §13): one JSON object, and a table for a terminal."""

from __future__ import annotations

from datetime import datetime, tzinfo

from gme_tui.engine.rules import GRADE_OF
from gme_tui.model import Direction
from gme_tui.scorecard.compute import BaselineScore, CodeScore, HorizonScore, Scorecard

JsonValue = int | float | str | None
JsonObject = dict[str, "JsonValue | list[int] | JsonObject"]


def to_json(card: Scorecard) -> JsonObject:
    """`{"horizons":[15,60,240],"codes":{code:{"direction":..,"15":{"episodes","hits","hit_rate",
    "mean","median"},..},..},"baseline":{"15":{"scans","up_rate","mean","median"},..}}`."""
    codes: JsonObject = {}
    for score in card.codes:
        entry: JsonObject = {"direction": str(score.direction)}
        for h in card.horizons:
            entry[str(h)] = _horizon_json(score.horizons[h])
        codes[str(score.code)] = entry
    baseline: JsonObject = {str(h): _baseline_json(card.baseline[h]) for h in card.horizons}
    return {"horizons": list(card.horizons), "codes": codes, "baseline": baseline}


def _horizon_json(score: HorizonScore) -> JsonObject:
    return {
        "episodes": score.episodes,
        "hits": score.hits,
        "hit_rate": score.hit_rate,
        "mean": score.mean,
        "median": score.median,
    }


def _baseline_json(score: BaselineScore) -> JsonObject:
    return {"scans": score.scans, "up_rate": score.up_rate, "mean": score.mean, "median": score.median}


# ---------------------------------------------------------------- the table

_HEADER = ("grade", "signal", "direction", "h", "episodes", "open", "hits", "hit rate", "mean", "median")
_RIGHT = frozenset(("episodes", "open", "hits", "hit rate", "mean", "median"))


def table(card: Scorecard, tz: tzinfo, source: str) -> str:
    """The scorecard as aligned text: a heading line, then per code and horizon the closed
    episodes, the ones still open, hits, hit rate, mean and median return, then the baseline.
    `source` names where the data came from (a file, the store)."""
    rows: list[tuple[str, ...]] = [_HEADER]
    rows += [row for _, row in code_rows(card)]
    rows += [row for _, row in baseline_rows(card)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(_HEADER))]
    lines = [_heading(card, tz, source)]
    for number, row in enumerate(rows):
        cells = [
            cell.rjust(width) if _HEADER[i] in _RIGHT else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
        if number == 0:
            lines.append("  ".join("-" * w for w in widths))
    lines.append(
        "returns r_h = p_h / p0 - 1 on the reference exchange's close; open: T + h after the last scan; "
        "hits: bullish r > 0, bearish r < 0"
    )
    return "\n".join(lines)


def code_rows(card: Scorecard) -> list[tuple[CodeScore, tuple[str, ...]]]:
    """The table's code rows, per code and horizon (the columns of its header), with their score:
    the TUI's scorecard screen shows the same cells."""
    return [(score, _code_row(score, h)) for score in card.codes for h in card.horizons]


def baseline_rows(card: Scorecard) -> list[tuple[BaselineScore, tuple[str, ...]]]:
    """The table's baseline rows, one per horizon, with their score."""
    rows: list[tuple[BaselineScore, tuple[str, ...]]] = []
    for h in card.horizons:
        base = card.baseline[h]
        cells = (
            "",
            "baseline: every scan",
            "",
            f"{h}m",
            str(base.scans),
            "",
            "",
            _rate(base.up_rate, "up "),
            _percent(base.mean),
            _percent(base.median),
        )
        rows.append((base, cells))
    return rows


def _code_row(score: CodeScore, h: int) -> tuple[str, ...]:
    closed = score.horizons[h]
    still_open = score.episodes - score.unpriced - closed.episodes
    hits = "" if closed.hits is None else str(closed.hits)
    return (
        str(GRADE_OF.get(score.code, "")),
        str(score.code),
        str(score.direction),
        f"{h}m",
        str(closed.episodes),
        str(still_open) if still_open else "",
        hits if score.direction != Direction.NEUTRAL else "n/a",
        _rate(closed.hit_rate) if score.direction != Direction.NEUTRAL else "",
        _percent(closed.mean),
        _percent(closed.median),
    )


def _heading(card: Scorecard, tz: tzinfo, source: str) -> str:
    if card.first_scan_ms is None or card.last_scan_ms is None:
        return f"signal scorecard of {source}: no scan after a full window in the data"
    first = datetime.fromtimestamp(card.first_scan_ms / 1000, tz)
    last = datetime.fromtimestamp(card.last_scan_ms / 1000, tz)
    zone = first.tzname() or ""
    return (
        f"signal scorecard of {source}: scans {first:%Y-%m-%d %H:%M} to {last:%Y-%m-%d %H:%M} {zone}".rstrip()
        + f", {card.scans} scans of {card.symbols} symbols"
    )


def _rate(value: float | None, prefix: str = "") -> str:
    return "—" if value is None else f"{prefix}{value * 100:.1f}%"


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:+.3f}%"
