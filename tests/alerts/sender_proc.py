"""A live-mode alert sender in a process of its own, for the cross-process tests (test_processes.py).

    python -m tests.alerts.sender_proc OUTBOX BASE_MS REAL0_MS SPEED

Robots come from the environment (DINGTALK_WEBHOOK, ...), the send ledger from XDG_DATA_HOME, as
for gme-tui itself. Time is a clock shared by every process of a test and the fake robot:
`BASE_MS + (wall ms - REAL0_MS) * SPEED`, so a rate window passes in a few real seconds.

Reads commands on stdin, one per line: `whales FIRST COUNT` (that many whale alerts, numbered
from FIRST: ts = T0 + i, value = 600,000 + 1,000 × i) and `quit`. Writes a JSON status line on
stdout whenever it changes: {"sending", "sent_by", "delivered", "pending"}.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import time
from pathlib import Path

from gme_tui.alerts import AlertDispatcher
from gme_tui.settings import Secrets
from tests.alerts.conftest import T0, make_settings, whale


def shared_clock(base_ms: int, real0_ms: int, speed: float):
    def now() -> int:
        return base_ms + int((time.time_ns() // 1_000_000 - real0_ms) * speed)

    return now


def secrets_from_env() -> Secrets:
    return Secrets.from_environment()


async def main(outbox: Path, base_ms: int, real0_ms: int, speed: float) -> None:
    dispatcher = AlertDispatcher(
        make_settings(),
        secrets_from_env(),
        mode="live",
        clock=shared_clock(base_ms, real0_ms, speed),
        outbox_path=outbox,
    )
    commands: asyncio.Queue[str] = asyncio.Queue()
    loop = asyncio.get_running_loop()
    loop.add_reader(sys.stdin.fileno(), lambda: commands.put_nowait(sys.stdin.readline()))
    last = ""
    while True:
        while not commands.empty():
            words = commands.get_nowait().split()
            if not words or words[0] == "quit":
                await dispatcher.close(timeout=1)
                return
            first, count = int(words[1]), int(words[2])
            dispatcher.on_events([whale(T0 + i, value=600_000.0 + 1_000.0 * i) for i in range(first, first + count)])
        await dispatcher.deliver_due()
        status = dispatcher.status()
        line = json.dumps(
            {
                "sending": dispatcher.sending,
                "sent_by": next(iter(status.values())).sent_by,
                "delivered": {name: s.delivered for name, s in status.items()},
                "pending": {name: s.pending for name, s in status.items()},
            }
        )
        if line != last:
            print(line, flush=True)
            last = line
        await asyncio.sleep(0.02)


if __name__ == "__main__":
    # The log on stderr, with the shared clock's reading, is what a failing test shows.
    logging.basicConfig(level=logging.INFO, format="%(relativeCreated)6.0f ms real  %(levelname)s %(message)s")
    asyncio.run(main(Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])))
