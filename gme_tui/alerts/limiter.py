"""A rolling per-robot limiter: at most `capacity` messages in any `window_ms`.

A send is stamped when its answer arrives (never earlier than the robot received it), and the
window carries a margin, so our count is never kinder than the robot's own. The dispatcher loads
it from the shared send ledger (ledger.py) before each delivery round, so it counts every
process's sends; the ledger's reservation is what finally admits each message.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

WINDOW_MS = 60_000
MARGIN_MS = 1_500


class RollingLimiter:
    def __init__(self, capacity: int, window_ms: int = WINDOW_MS + MARGIN_MS) -> None:
        self.capacity = capacity
        self.window_ms = window_ms
        self._sent: deque[int] = deque()  # send times (ms), oldest first

    def _expire(self, now_ms: int) -> None:
        while self._sent and self._sent[0] <= now_ms - self.window_ms:
            self._sent.popleft()

    def free(self, now_ms: int) -> int:
        self._expire(now_ms)
        return max(0, self.capacity - len(self._sent))

    def next_free_ms(self, now_ms: int) -> int:
        """When at least one slot is free."""
        if self.free(now_ms) > 0:
            return now_ms
        return self._sent[len(self._sent) - self.capacity] + self.window_ms

    def record(self, ts_ms: int) -> None:
        self._sent.append(ts_ms)

    def load(self, sends: Iterable[int]) -> None:
        """Replace what it knows with these send times (ms), e.g. the ledger's."""
        self._sent = deque(sorted(sends))
