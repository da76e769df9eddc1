"""Minute-range arithmetic shared by the sources (what to backfill) and the store (what it has)."""

from __future__ import annotations

from collections.abc import Collection


def missing_ranges(known: Collection[int], first: int, last: int) -> list[tuple[int, int]]:
    """The maximal runs of minutes in first..last that are not known, oldest first: what a
    backfill still has to fetch. (Oldest first matters: Backfiller.schedule skips a range that
    starts before one already scheduled.)"""
    ranges: list[tuple[int, int]] = []
    start: int | None = None
    for minute in range(first, last + 1):
        if minute in known:
            if start is not None:
                ranges.append((start, minute - 1))
                start = None
        elif start is None:
            start = minute
    if start is not None:
        ranges.append((start, last))
    return ranges
