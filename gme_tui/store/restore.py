"""Restart without a warm-up: the stored window goes back into the engine, and the live source
learns which minutes it need not backfill.

Order at a live start (as cli.py does it):
1. `buckets = restore_window(store, now_ms=..., window_minutes=..., exchanges=...)`
2. `engine.feed_many(buckets)` before the pipeline runs (coverage as stored: an uncovered minute
   adds its flow without claiming coverage);
3. `known = known_by_pair(buckets)` handed to the live source, which backfills per symbol only the
   runs `missing_ranges(known.get((exchange, symbol), ()), first, last)` of its initial window.
A minute both restored and backfilled is counted once anyway: the engine drops a second bucket
for a minute that already came from a bucket (counted as a duplicate).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

from gme_tui.model import MinuteBucket
from gme_tui.store.store import Store


def restore_window(store: Store, *, now_ms: int, window_minutes: int, exchanges: Collection[str]) -> list[MinuteBucket]:
    """The stored minutes of the window before `now_ms` (plus one minute, for a first scan still
    in its grace period) of the given (enabled) exchanges, oldest first, coverage as stored."""
    wanted = frozenset(exchanges)
    return [b for b in store.restore_items(now_ms, window_minutes) if b.exchange in wanted]


def known_by_pair(buckets: Iterable[MinuteBucket]) -> dict[tuple[str, str], frozenset[int]]:
    """(exchange, symbol) -> the minutes restored for it: plain data for the live source, which
    must not import the store."""
    known: dict[tuple[str, str], set[int]] = {}
    for bucket in buckets:
        known.setdefault((bucket.exchange, bucket.symbol), set()).add(bucket.minute)
    return {key: frozenset(minutes) for key, minutes in known.items()}
