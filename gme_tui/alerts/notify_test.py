"""`gme-tui notify-test`: one test message to every configured robot, and a verdict for each.

Every line is in the settings' language: a failure in plain words (cannot connect, host not
found, TLS, timeout, HTTP status, not the robot's answer, the robot's own errcode and its
meaning) and what to do. It sends once and never retries.

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

from gme_tui.alerts.dispatcher import ROBOTS, Lane, build_lanes
from gme_tui.alerts.ledger import SendLedger, default_ledger_path
from gme_tui.alerts.messages import MessageRenderer
from gme_tui.alerts.problems import hint_text, problem_text
from gme_tui.alerts.robots import JsonBody, Outcome
from gme_tui.core.clock import wall_ms
from gme_tui.i18n import catalogue
from gme_tui.i18n.catalogue import Catalogue
from gme_tui.model import SourceMode
from gme_tui.settings import Secrets, Settings

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_NOT_CONFIGURED = 2


def _half_configured(secrets: Secrets, t: Catalogue) -> list[tuple[str, bool]]:
    """(line, is a failure) per robot set up by half: enabled without a webhook fails the test;
    a webhook that is not enabled is only skipped."""
    enabled = {"dingtalk": secrets.enable_dingtalk, "wecom": secrets.enable_wechat}
    webhooks = {"dingtalk": secrets.dingtalk_webhook, "wecom": secrets.wechat_webhook}
    notes: list[tuple[str, bool]] = []
    for name, _label, env in ROBOTS:
        robot = t.common.robots[name]
        if enabled[name] and not webhooks[name]:
            notes.append((t.notify_test.enabled_without_webhook.format(robot=robot, env=env), True))
        elif webhooks[name] and not enabled[name]:
            notes.append((t.notify_test.webhook_not_enabled.format(robot=robot, env=env), False))
    return notes


def _open_ledger(path: Path | None, out: TextIO, t: Catalogue) -> SendLedger:
    try:
        return SendLedger(path or default_ledger_path())
    except Exception as exc:  # the test still goes; say that it is not counted
        print(t.notify_test.ledger_note.format(error=exc), file=out)
        return SendLedger(":memory:")


async def _post_counted(
    lane: Lane,
    session: aiohttp.ClientSession,
    body: JsonBody,
    ledger: SendLedger,
    clock: Callable[[], int],
    out: TextIO,
    t: Catalogue,
) -> Outcome | str:
    """Post once a ledger slot is free (waiting up to one window), or say why it was not sent."""
    limiter, client = lane.limiter, lane.client
    words, robot = t.notify_test, t.common.robots[lane.name]
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
            return words.throttled_for.format(seconds=f"{(state.throttled_until_ms - now) / 1000:.0f}")
        limiter.load(state.sends)
        ready = limiter.next_free_ms(now)
        if not told:
            print(words.minute_full.format(robot=robot, seconds=f"{max(0, ready - now) / 1000:.0f}"), file=out)
            told = True
        await asyncio.sleep(max(0.05, (ready - now) / 1000))
    return words.no_free_slot


def verdict(outcome: Outcome, robot: str, t: Catalogue) -> list[str]:
    """The lines notify-test prints for one robot's outcome, in the words of `t`: delivered, or
    the failure in plain words and, indented below it, what to do. `robot`: its name in `t`."""
    words = t.notify_test
    if outcome.ok:
        return [words.delivered.format(robot=robot)]
    reason = problem_text(outcome.problem, words) if outcome.problem is not None else outcome.describe()
    lines = [words.failed.format(robot=robot, reason=reason)]
    if outcome.advice is not None:
        hint = hint_text(outcome.advice, robot, words, retryable=outcome.retryable, notify_test=True)
        lines.append("  " + words.hint.format(hint=hint))
    return lines


async def notify_test(
    settings: Settings,
    secrets: Secrets,
    out: TextIO,
    *,
    ledger_path: Path | None = None,
    clock: Callable[[], int] = wall_ms,
) -> int:
    """One test message to each configured robot; every line in `settings.language`. Exit code:
    0 all delivered, 1 some robot failed (or is enabled without a webhook), 2 none configured.
    Sends once, never retries. `ledger_path`: the shared send ledger (default: the user data
    directory's)."""
    t = catalogue(settings.language)
    lanes = build_lanes(settings, secrets, clock)
    notes = _half_configured(secrets, t)
    for note, _failed in notes:
        print(note, file=out)
    if not lanes:
        print(t.notify_test.no_robot, file=out)
        return EXIT_NOT_CONFIGURED
    message = MessageRenderer(settings, SourceMode.LIVE).test(clock())
    failures = sum(1 for _note, failed in notes if failed)
    ledger = _open_ledger(ledger_path, out, t)
    async with contextlib.AsyncExitStack() as stack:
        stack.callback(ledger.close)
        session = await stack.enter_async_context(aiohttp.ClientSession())
        for lane in lanes.values():
            robot = t.common.robots[lane.name]
            body = lane.client.markdown_body(message.title, message.text, False)
            outcome = await _post_counted(lane, session, body, ledger, clock, out, t)
            if isinstance(outcome, str):
                failures += 1
                print(t.notify_test.not_sent.format(robot=robot, reason=outcome), file=out)
                continue
            failures += 0 if outcome.ok else 1
            for line in verdict(outcome, robot, t):
                print(line, file=out)
    return EXIT_OK if failures == 0 else EXIT_FAILED
