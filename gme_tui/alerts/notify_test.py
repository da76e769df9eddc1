"""`gme-tui notify-test`: one test message to every configured robot, and a verdict for each.

The message takes its slot in the shared send ledger like any alert (SPEC §10), so a test sent
just before (or while) the daemon alerts never pushes a robot past 20 messages a minute. When a
robot's minute is full, it waits for the next free slot (at most about a minute) and says so.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

import aiohttp

from gme_tui.alerts.dispatcher import Lane, build_lanes
from gme_tui.alerts.ledger import SendLedger, default_ledger_path
from gme_tui.alerts.messages import MessageRenderer
from gme_tui.alerts.robots import JsonBody, Outcome
from gme_tui.core.clock import wall_ms
from gme_tui.model import SourceMode
from gme_tui.settings import Secrets, Settings

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_NOT_CONFIGURED = 2

_SETUP_HINT = (
    "no robot configured: set ENABLE_DINGTALK=true and DINGTALK_WEBHOOK=... (plus DINGTALK_SECRET when the "
    "robot uses 加签), and/or ENABLE_WECHAT=true and WECHAT_WEBHOOK=..., in the environment or in .env"
)


def _half_configured(secrets: Secrets) -> list[str]:
    notes = []
    for label, env, enabled, webhook in (
        ("DingTalk", "DINGTALK", secrets.enable_dingtalk, secrets.dingtalk_webhook),
        ("WeCom", "WECHAT", secrets.enable_wechat, secrets.wechat_webhook),
    ):
        if enabled and not webhook:
            notes.append(f"{label}: ENABLE_{env} is true but {env}_WEBHOOK is empty")
        elif webhook and not enabled:
            notes.append(f"{label}: {env}_WEBHOOK is set but ENABLE_{env} is not true (skipped)")
    return notes


def _open_ledger(path: Path | None, out: TextIO) -> SendLedger:
    try:
        return SendLedger(path or default_ledger_path())
    except Exception as exc:  # the test still goes; say that it is not counted
        print(f"note: the send ledger cannot be opened ({exc}); this message is not counted", file=out)
        return SendLedger(":memory:")


async def _post_counted(
    lane: Lane,
    session: aiohttp.ClientSession,
    body: JsonBody,
    ledger: SendLedger,
    clock: Callable[[], int],
    out: TextIO,
) -> Outcome | str:
    """Post once a ledger slot is free (waiting up to one window), or say why it was not sent."""
    limiter, client = lane.limiter, lane.client
    hold_ms = int((client.timeout.total or 60) * 1000) + 1_000
    told = False
    for _ in range(100):  # bounded: each wait is until the next slot frees
        now = clock()
        slot = await asyncio.to_thread(
            ledger.reserve, lane.robot_id, now, capacity=limiter.capacity, window_ms=limiter.window_ms, hold_ms=hold_ms
        )
        if slot is not None:
            outcome = await client.post(session, body)
            await asyncio.to_thread(ledger.settle, slot, clock())
            return outcome
        state = await asyncio.to_thread(ledger.state, lane.robot_id, now, limiter.window_ms)
        if state.throttled_until_ms > now:
            wait_s = (state.throttled_until_ms - now) / 1000
            return f"the robot refused messages for sending too fast and is throttled for {wait_s:.0f} s more"
        limiter.load(state.sends)
        ready = limiter.next_free_ms(now)
        if not told:
            print(
                f"{client.label}: its minute is full (20 messages, from gme-tui alerts); "
                f"waiting {max(0, ready - now) / 1000:.0f} s for a free slot",
                file=out,
            )
            told = True
        await asyncio.sleep(max(0.05, (ready - now) / 1000))
    return "no free slot within a minute"


async def notify_test(
    settings: Settings,
    secrets: Secrets,
    out: TextIO,
    *,
    ledger_path: Path | None = None,
    clock: Callable[[], int] = wall_ms,
) -> int:
    """Exit code: 0 all delivered, 1 some robot failed, 2 none configured. `ledger_path`: the
    shared send ledger (default: the user data directory's)."""
    lanes = build_lanes(settings, secrets, clock)
    notes = _half_configured(secrets)
    for note in notes:
        print(note, file=out)
    if not lanes:
        print(_SETUP_HINT, file=out)
        return EXIT_NOT_CONFIGURED
    message = MessageRenderer(settings, SourceMode.LIVE).test(clock())
    failures = 0
    ledger = _open_ledger(ledger_path, out)
    async with contextlib.AsyncExitStack() as stack:
        stack.callback(ledger.close)
        session = await stack.enter_async_context(aiohttp.ClientSession())
        for lane in lanes.values():
            client = lane.client
            body = client.markdown_body(message.title, message.text, False)
            outcome = await _post_counted(lane, session, body, ledger, clock, out)
            if isinstance(outcome, str):
                failures += 1
                print(f"{client.label}: NOT SENT: {outcome}; try again later", file=out)
                continue
            if outcome.ok:
                print(f"{client.label}: delivered", file=out)
                continue
            failures += 1
            hint = f" (hint: {outcome.hint})" if outcome.hint else ""
            print(f"{client.label}: FAILED {outcome.describe()}{hint}", file=out)
    failures += sum(1 for note in notes if "is empty" in note)
    return EXIT_OK if failures == 0 else EXIT_FAILED
