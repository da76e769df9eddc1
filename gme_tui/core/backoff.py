"""The one retry backoff of gme-tui: exchanges (reconnects, backfill) and robots (alert retries)."""

from __future__ import annotations

import random
from collections.abc import Callable


def backoff_seconds(attempt: int, cap: float, rng: Callable[[], float] = random.random, base: float = 1.0) -> float:
    """Exponential backoff with jitter, in seconds: between half and all of min(cap, base·2^attempt).

    `attempt` counts failures so far (0 for the first retry). The jitter spreads reconnects of
    many clients (and of our own sockets) so they do not hit a recovering server at once; the
    lower half-bound keeps the wait growing, so a server that said stop is never hammered.
    """
    ceiling = min(cap, base * 2.0 ** min(attempt, 30))
    return ceiling * (0.5 + 0.5 * rng())
