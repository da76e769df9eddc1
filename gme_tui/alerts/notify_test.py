"""`gme-tui notify-test`: one test message to every configured robot, and a verdict for each."""

from __future__ import annotations

from typing import TextIO

import aiohttp

from gme_tui.alerts.dispatcher import build_lanes
from gme_tui.alerts.messages import MessageRenderer
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


async def notify_test(settings: Settings, secrets: Secrets, out: TextIO) -> int:
    """Exit code: 0 all delivered, 1 some robot failed, 2 none configured."""
    lanes = build_lanes(settings, secrets, wall_ms)
    notes = _half_configured(secrets)
    for note in notes:
        print(note, file=out)
    if not lanes:
        print(_SETUP_HINT, file=out)
        return EXIT_NOT_CONFIGURED
    message = MessageRenderer(settings, SourceMode.LIVE).test(wall_ms())
    failures = 0
    async with aiohttp.ClientSession() as session:
        for lane in lanes.values():
            client = lane.client
            outcome = await client.post(session, client.markdown_body(message.title, message.text, False))
            if outcome.ok:
                print(f"{client.label}: delivered", file=out)
                continue
            failures += 1
            hint = f" (hint: {outcome.hint})" if outcome.hint else ""
            print(f"{client.label}: FAILED {outcome.describe()}{hint}", file=out)
    failures += sum(1 for note in notes if "is empty" in note)
    return EXIT_OK if failures == 0 else EXIT_FAILED
