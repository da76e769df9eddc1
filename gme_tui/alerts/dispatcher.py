"""The alert dispatcher: engine events in, robot messages out, never blocking, never losing.

`on_events` only decides (policy) and writes the outbox; a background task delivers. Each robot
is a lane with its own rolling limiter, backoff and state. When more is due than the limiter
allows, what does not fit is merged into digest messages, split to each robot's size limit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from gme_tui.alerts.dingtalk import DingTalkRobot
from gme_tui.alerts.health import OutageTracker
from gme_tui.alerts.limiter import RollingLimiter
from gme_tui.alerts.messages import MessageRenderer, split_digest
from gme_tui.alerts.outbox import NewAlert, Outbox, PendingAlert, default_outbox_path
from gme_tui.alerts.policy import DIGEST, AlertPolicy, Decision
from gme_tui.alerts.redact import secret_values
from gme_tui.alerts.robots import MESSAGE_ERROR, OK, RETRY, ROBOT_ERROR, THROTTLED, Outcome, RobotClient
from gme_tui.alerts.wecom import WeComRobot
from gme_tui.core.clock import wall_ms
from gme_tui.model import ExchangeHealth, RobotStatus
from gme_tui.settings import Secrets, Settings

log = logging.getLogger("gme_tui.alerts")

MODES = ("live", "demo", "replay")
BACKOFF_BASE_MS = 2_000
BACKOFF_CAP_MS = 5 * 60_000
IDLE_WAKE_S = 30.0


@dataclass
class _Lane:
    client: RobotClient
    limiter: RollingLimiter
    wait_until_ms: int = 0  # throttle or backoff
    failures: int = 0
    halted: bool = False
    last_error: str = ""
    hint: str = ""
    delivered: int = 0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def name(self) -> str:
        return self.client.name


@dataclass(frozen=True)
class _Single:
    row: PendingAlert


@dataclass(frozen=True)
class _DigestPart:
    rows: tuple[PendingAlert, ...]
    title: str
    text: str
    at_all: bool


@dataclass(frozen=True)
class _Ping:
    content: str


class AlertDispatcher:
    """A consumer of engine output (TUI and headless alike). See the module docstring."""

    def __init__(
        self,
        settings: Settings,
        secrets: Secrets,
        *,
        mode: str,
        clock: Callable[[], int] = wall_ms,
        outbox_path: Path | None = None,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
        self.settings = settings
        self.alerts = settings.alerts
        self.mode = mode
        self.clock = clock
        self.renderer = MessageRenderer(settings, mode)
        self.random = random.Random()
        self.lanes = build_lanes(settings, secrets, clock)
        self.outbox_note = ""
        self.outbox = self._open_outbox(outbox_path) if self.lanes else None
        cooldowns = self.outbox.cooldowns(mode) if self.outbox else {}
        self.policy = AlertPolicy(self.alerts, self.renderer, cooldowns)
        self.outages = OutageTracker(int(self.alerts.exchange_down_minutes * 60_000))
        self._restore_lanes()
        self._session: aiohttp.ClientSession | None = None
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._closing = False
        self._counts: dict[tuple[str, str], int] | None = None

    # ------------------------------------------------------------ setup

    def _open_outbox(self, override: Path | None) -> Outbox:
        path = override or (Path(self.alerts.outbox_path).expanduser() if self.alerts.outbox_path else None)
        path = path or default_outbox_path()
        try:
            return Outbox(path)
        except Exception as exc:  # unwritable directory, corrupt file: alert anyway, say so
            self.outbox_note = f"outbox {path} unusable ({exc}); pending alerts will not survive a restart"
            log.error("%s", self.outbox_note)
            return Outbox(":memory:")

    def _restore_lanes(self) -> None:
        if self.outbox is None:
            return
        now = self.clock()
        for lane in self.lanes.values():
            lane.wait_until_ms, _failures = self.outbox.robot_state(lane.name)
            for ts in self.outbox.recent_sends(lane.name, now - lane.limiter.window_ms):
                lane.limiter.record(ts)

    @property
    def active(self) -> bool:
        return bool(self.lanes)

    def update_settings(self, settings: Settings) -> None:
        """The settings screen saved: new grades, thresholds, cooldown and mutes apply from the
        next event. Robots, secrets and the outbox stay as they were started."""
        self.settings = settings
        self.alerts = settings.alerts
        self.policy.alerts = settings.alerts
        self.policy.cooldown_ms = int(settings.alerts.cooldown_minutes * 60_000)
        self.outages.down_after_ms = int(settings.alerts.exchange_down_minutes * 60_000)

    async def start(self) -> None:
        """Start delivering in the background (pending alerts from an earlier run first)."""
        if not self.lanes or self._task is not None:
            return
        self._task = asyncio.create_task(self._run(), name="alert-dispatcher")

    # ------------------------------------------------------------ input (never blocks, never raises)

    def on_events(self, events: Sequence[object]) -> None:
        try:
            now = self.clock()
            decisions = self.policy.decide(events, now)
            self._enqueue(decisions, now)
        except Exception:  # alerts must never take the data pipeline down
            log.exception("alert dispatcher: could not process events")

    def on_health(self, records: Sequence[ExchangeHealth], now_ms: int) -> None:
        try:
            decisions = []
            for change in self.outages.update(records, now_ms):
                if change.kind == "down":
                    message = self.renderer.exchange_down(
                        change.exchange, change.since_ms, change.now_ms, change.reason
                    )
                else:
                    message = self.renderer.exchange_up(change.exchange, change.since_ms, change.now_ms)
                decisions.append(self.policy.system(message))
            self._enqueue(decisions, self.clock())
        except Exception:
            log.exception("alert dispatcher: could not process health records")

    def mute(self, symbol: str, until_ms: int) -> None:
        self.policy.mute(symbol, until_ms)
        log.info("alerts for %s muted until %d", symbol, until_ms)

    def unmute(self, symbol: str) -> None:
        self.policy.unmute(symbol)
        log.info("alerts for %s unmuted", symbol)

    def is_muted(self, symbol: str) -> bool:
        return self.policy.is_muted(symbol, self.clock())

    def _enqueue(self, decisions: Iterable[Decision], now: int) -> None:
        rows: list[NewAlert] = []
        period = int(self.alerts.b_digest_minutes * 60_000)
        for decision in decisions:
            message = decision.message
            targets = [lane for name, lane in self.lanes.items() if name in decision.routes]
            log.info("alert%s: %s", "" if targets else " (no robot configured)", message.line)
            for lane in targets:
                digest_only = decision.routes[lane.name] == DIGEST
                rows.append(
                    NewAlert(
                        robot=lane.name,
                        created_ms=now,
                        category=message.category,
                        key=message.key,
                        symbol=message.symbol,
                        title=message.title,
                        text=message.text,
                        line=message.line,
                        at_all=message.at_all,
                        digest_only=digest_only,
                        hold_until_ms=(now // period + 1) * period if digest_only else 0,
                    )
                )
        if self.outbox is None:
            self.policy.take_new_cooldowns()
            return
        self.outbox.add(rows)
        self.outbox.set_cooldowns(self.mode, self.policy.take_new_cooldowns())
        if rows:
            self._counts = None
            self._wake.set()

    # ------------------------------------------------------------ status

    def status(self) -> dict[str, RobotStatus]:
        """Per robot, configured or not (a robot left unconfigured says how to configure it)."""
        counts = self._current_counts()
        out = {}
        for name, label, env in (("dingtalk", "DingTalk", "DINGTALK"), ("wecom", "WeCom", "WECHAT")):
            lane = self.lanes.get(name)
            if lane is None:
                out[name] = RobotStatus(
                    name,
                    label,
                    False,
                    0,
                    0,
                    0,
                    hint=f"set ENABLE_{env}=true and {env}_WEBHOOK in the environment or .env",
                )
                continue
            out[name] = RobotStatus(
                name,
                label,
                True,
                lane.delivered,
                counts.get((name, "pending"), 0),
                counts.get((name, "failed"), 0),
                lane.last_error or self.outbox_note,
                lane.hint,
                lane.halted,
                lane.wait_until_ms,
            )
        return out

    def _current_counts(self) -> dict[tuple[str, str], int]:
        if self.outbox is None:
            return {}
        if self._counts is None:
            self._counts = self.outbox.counts()
        return self._counts

    # ------------------------------------------------------------ delivery

    def poke(self) -> None:
        """Wake the background task (a test moved its clock)."""
        self._wake.set()

    async def deliver_due(self, *, flush: bool = False) -> None:
        """Send everything due now, within each robot's limits. `flush` also sends digests that
        are waiting for their period (used when closing)."""
        if not self.lanes or self.outbox is None:
            return
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
        await asyncio.gather(*(self._deliver_lane(lane, flush) for lane in self.lanes.values()))

    async def _run(self) -> None:
        while not self._closing:
            self._wake.clear()
            try:
                await self.deliver_due()
                self.outbox.prune(self.clock())  # type: ignore[union-attr]
            except Exception:  # keep delivering whatever happens to one round
                log.exception("alert delivery round failed")
            delay = self._seconds_to_next_wake()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=delay)

    def _seconds_to_next_wake(self) -> float:
        now = self.clock()
        wake = now + int(IDLE_WAKE_S * 1000)
        for lane in self.lanes.values():
            if lane.halted:
                continue
            pending = self.outbox.pending(lane.name) if self.outbox else []
            if not pending:
                continue
            earliest = min(row.hold_until_ms for row in pending)
            ready = max(earliest, lane.wait_until_ms, lane.limiter.next_free_ms(now))
            wake = min(wake, ready)
        return max(0.05, (wake - now) / 1000)

    async def _deliver_lane(self, lane: _Lane, flush: bool) -> None:
        async with lane.lock:
            for _ in range(1_000):  # bounded: each round sends at least one message or stops
                now = self.clock()
                if lane.halted or now < lane.wait_until_ms:
                    return
                rows = self._drop_expired(lane, self.outbox.pending(lane.name), now)  # type: ignore[union-attr]
                due = [row for row in rows if flush or row.hold_until_ms <= now]
                free = lane.limiter.free(now)
                if not due or free <= 0:
                    return
                if not await self._execute(lane, self._plan(lane, due, free)):
                    return

    def _drop_expired(self, lane: _Lane, rows: list[PendingAlert], now: int) -> list[PendingAlert]:
        limit = now - int(self.alerts.give_up_hours * 3_600_000)
        expired = [row for row in rows if row.created_ms < limit]
        if expired:
            reason = (
                f"undeliverable: still pending after {self.alerts.give_up_hours:g} h ({lane.last_error or 'no answer'})"
            )
            self.outbox.mark_failed([row.id for row in expired], now, reason)  # type: ignore[union-attr]
            for row in expired:
                log.error("%s: alert lost, %s: %s", lane.client.label, reason, row.line)
            self._counts = None
        return [row for row in rows if row.created_ms >= limit]

    # ------------------------------------------------------------ planning

    def _cost(self, lane: _Lane, row: PendingAlert) -> int:
        if lane.client.at_all_body("") is not None and row.at_all:
            return 2 - row.parts_done
        return 1

    def _plan(self, lane: _Lane, due: list[PendingAlert], free: int) -> list[Any]:
        # A row whose markdown went but whose @all text did not is finished alone, never merged.
        started = [row for row in due if row.parts_done]
        if started:
            return [_Single(row) for row in started][:free]
        singles = [row for row in due if not row.digest_only]
        merged = [row for row in due if row.digest_only]
        if not merged and sum(self._cost(lane, r) for r in singles) <= free:
            return [_Single(row) for row in singles]
        for count in range(min(len(singles), free), -1, -1):
            head, rest = singles[:count], singles[count:] + merged
            head_cost = sum(self._cost(lane, r) for r in head)
            if head_cost >= free:
                continue
            parts = self._digest_parts(lane, rest)
            ping = self._ping(lane, rest)
            if head_cost + len(parts) + len(ping) <= free:
                return [_Single(row) for row in head] + parts + ping
        parts = self._digest_parts(lane, singles + merged)  # even the digest needs several minutes
        ping = self._ping(lane, singles + merged)
        room = free - len(ping)
        return parts[: max(1, room)] + (ping if room >= len(parts) else [])

    def _digest_parts(self, lane: _Lane, rows: list[PendingAlert]) -> list[_DigestPart]:
        periodic = all(row.digest_only for row in rows)
        period = self.alerts.b_digest_minutes
        renderer = self.renderer

        def render(lines: Sequence[str], part: int, parts: int) -> tuple[str, str]:
            title = renderer.digest_title(periodic, part, parts)
            return title, renderer.digest_text(title, lines, periodic, period)

        pieces = split_digest([row.line for row in rows], render, lane.client.fits)
        out, start = [], 0
        for title, text, count in pieces:
            chunk = tuple(rows[start : start + count])
            start += count
            out.append(_DigestPart(chunk, title, text, any(row.at_all for row in chunk)))
        return out

    def _ping(self, lane: _Lane, rows: list[PendingAlert]) -> list[_Ping]:
        """WeCom: one @all text message for a digest that holds @all alerts."""
        if lane.client.at_all_body("") is None or not any(row.at_all for row in rows):
            return []
        return [_Ping(self.renderer.at_all_text(self.renderer.digest_title(False, 1, 1)))]

    # ------------------------------------------------------------ executing

    async def _execute(self, lane: _Lane, plan: list[Any]) -> bool:
        """Send the plan in order; stop at the first robot-level failure. True if all went."""
        for step in plan:
            if isinstance(step, _Single):
                ok = await self._send_single(lane, step.row)
            elif isinstance(step, _DigestPart):
                ok = await self._send_digest(lane, step)
            else:
                outcome = await self._post(lane, lane.client.at_all_body(step.content) or {})
                ok = outcome.kind in (OK, MESSAGE_ERROR)
            if not ok:
                return False
        return True

    async def _send_single(self, lane: _Lane, row: PendingAlert) -> bool:
        bodies = [lane.client.markdown_body(row.title, row.text, row.at_all)]
        extra = lane.client.at_all_body(self.renderer.at_all_text(row.title)) if row.at_all else None
        if extra is not None:
            bodies.append(extra)
        for index in range(row.parts_done, len(bodies)):
            outcome = await self._post(lane, bodies[index])
            if outcome.kind == MESSAGE_ERROR and index > 0:
                log.warning("%s: the @all of %r was refused: %s", lane.client.label, row.title, outcome.describe())
            elif outcome.kind == MESSAGE_ERROR:
                self._fail(lane, [row], outcome)
                return True
            elif not outcome.ok:
                return False
            if index + 1 < len(bodies):
                self.outbox.mark_parts_done(row.id, index + 1)  # type: ignore[union-attr]
        self._delivered(lane, [row])
        return True

    async def _send_digest(self, lane: _Lane, part: _DigestPart) -> bool:
        outcome = await self._post(lane, lane.client.markdown_body(part.title, part.text, part.at_all))
        if outcome.kind == MESSAGE_ERROR:
            self._fail(lane, list(part.rows), outcome)
            return True
        if not outcome.ok:
            return False
        self._delivered(lane, list(part.rows))
        return True

    def _delivered(self, lane: _Lane, rows: list[PendingAlert]) -> None:
        self.outbox.mark_delivered([row.id for row in rows], self.clock())  # type: ignore[union-attr]
        lane.delivered += len(rows)
        self._counts = None
        for row in rows:
            log.info("%s: delivered %s", lane.client.label, row.line)

    def _fail(self, lane: _Lane, rows: list[PendingAlert], outcome: Outcome) -> None:
        reason = f"undeliverable: {outcome.describe()} ({outcome.hint})"
        self.outbox.mark_failed([row.id for row in rows], self.clock(), reason)  # type: ignore[union-attr]
        self._counts = None
        for row in rows:
            log.error("%s: alert lost, %s: %s", lane.client.label, reason, row.line)

    async def _post(self, lane: _Lane, body: dict[str, Any]) -> Outcome:
        assert self._session is not None
        outcome = await lane.client.post(self._session, body)
        now = self.clock()
        lane.limiter.record(now)
        self.outbox.record_send(lane.name, now)  # type: ignore[union-attr]
        self._after(lane, outcome, now)
        return outcome

    def _after(self, lane: _Lane, outcome: Outcome, now: int) -> None:
        if outcome.kind == OK:
            lane.failures, lane.last_error, lane.hint = 0, "", ""
        else:
            lane.last_error, lane.hint = outcome.describe(), outcome.hint
        if outcome.kind == RETRY:
            lane.failures += 1
            delay = min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** (lane.failures - 1))
            lane.wait_until_ms = now + int(delay * self.random.uniform(0.5, 1.0))
            log.warning(
                "%s: %s; retry in %.0f s", lane.client.label, outcome.describe(), (lane.wait_until_ms - now) / 1000
            )
        elif outcome.kind == THROTTLED:
            lane.wait_until_ms = now + outcome.retry_after_ms + self.random.randint(0, 2_000)
            log.warning(
                "%s: %s; waiting %.0f s", lane.client.label, outcome.describe(), (lane.wait_until_ms - now) / 1000
            )
        elif outcome.kind == ROBOT_ERROR:
            lane.halted = True
            log.error(
                "%s: %s. %s. Alerts stay in the outbox until this is fixed and gme-tui restarted.",
                lane.client.label,
                outcome.describe(),
                outcome.hint,
            )
        elif outcome.kind == MESSAGE_ERROR:
            pass
        # Only a throttle outlives a restart: a new run retries network trouble at once.
        throttle_until = lane.wait_until_ms if outcome.kind == THROTTLED else 0
        self.outbox.set_robot_state(lane.name, throttle_until, lane.failures)  # type: ignore[union-attr]

    # ------------------------------------------------------------ closing

    async def close(self, timeout: float = 5.0) -> None:
        """Flush what can go within `timeout` seconds; the rest stays in the outbox."""
        self._closing = True
        self._wake.set()
        deadline = asyncio.get_running_loop().time() + timeout
        try:
            if self._task is not None:
                await asyncio.wait_for(asyncio.shield(self._task), timeout=timeout)
            left = max(0.0, deadline - asyncio.get_running_loop().time())
            await asyncio.wait_for(self.deliver_due(flush=True), timeout=left)
        except (TimeoutError, asyncio.CancelledError):
            log.warning("alert dispatcher closed before everything was sent; the rest stays in the outbox")
        except Exception:
            log.exception("alert dispatcher: error while flushing")
        finally:
            if self._task is not None and not self._task.done():
                self._task.cancel()
                await asyncio.gather(self._task, return_exceptions=True)
            if self._session is not None:
                await self._session.close()
            if self.outbox is not None:
                pending = sum(n for (_, state), n in self.outbox.counts().items() if state == "pending")
                if pending:
                    log.info("%d alert(s) left in the outbox for the next start", pending)
                self.outbox.close()
                self.outbox = None


def build_lanes(settings: Settings, secrets: Secrets, clock: Callable[[], int]) -> dict[str, _Lane]:
    """One lane per robot that is enabled and has a webhook."""
    timeout = settings.alerts.request_timeout_seconds
    capacity = min(settings.alerts.max_per_minute, 20)
    values = secret_values(secrets)
    clients: list[RobotClient] = []
    if secrets.enable_dingtalk and secrets.dingtalk_webhook:
        clients.append(DingTalkRobot(secrets.dingtalk_webhook, secrets.dingtalk_secret, timeout_s=timeout, clock=clock))
    if secrets.enable_wechat and secrets.wechat_webhook:
        clients.append(WeComRobot(secrets.wechat_webhook, timeout_s=timeout, clock=clock))
    lanes = {}
    for client in clients:
        client.set_secret_values(values)
        lanes[client.name] = _Lane(client, RollingLimiter(capacity))
    return lanes
