"""The alert dispatcher: engine events and health in, robot messages out, never blocking, never losing.

A pipeline consumer (`gme_tui.core.seams.EventConsumer`): `on_events` and `on_health` only decide
(policy) and hand the new rows to the outbox's worker thread, so they never wait on the disk; a
background task delivers. Each robot is a lane with its own rolling limiter, backoff and state.
When more is due than the limiter allows, what does not fit is merged into digest messages,
split to each robot's size limit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import aiohttp

from gme_tui.alerts.dingtalk import DingTalkRobot
from gme_tui.alerts.health import HealthChange, OutageTracker
from gme_tui.alerts.limiter import RollingLimiter
from gme_tui.alerts.messages import AlertMessage, MessageRenderer, split_digest
from gme_tui.alerts.outbox import Backlog, NewAlert, Outbox, OutboxThread, PendingAlert, default_outbox_path
from gme_tui.alerts.policy import AlertPolicy, Decision, Route
from gme_tui.alerts.redact import secret_values
from gme_tui.alerts.robots import JsonBody, Outcome, OutcomeKind, RobotClient
from gme_tui.alerts.wecom import WeComRobot
from gme_tui.core.backoff import backoff_seconds
from gme_tui.core.clock import wall_ms
from gme_tui.core.mutes import Mutes
from gme_tui.model import EngineEvent, HealthUpdate, RobotName, RobotStatus, SourceMode
from gme_tui.settings import Secrets, Settings

if TYPE_CHECKING:
    from gme_tui.core.seams import AlertsView, EventConsumer

log = logging.getLogger("gme_tui.alerts")

BACKOFF_BASE_S = 2.0
BACKOFF_CAP_S = 5 * 60.0
IDLE_WAKE_S = 30.0
ROBOTS: tuple[tuple[RobotName, str, str], ...] = (("dingtalk", "DingTalk", "DINGTALK"), ("wecom", "WeCom", "WECHAT"))
"""(name, label, prefix of its environment variables), in status-bar order."""


@dataclass
class _Lane:
    client: RobotClient
    limiter: RollingLimiter
    wait_until_ms: int = 0  # throttle or backoff
    failures: int = 0  # consecutive retryable failures, for the backoff
    halted: bool = False
    last_error: str = ""
    hint: str = ""
    delivered: int = 0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def name(self) -> RobotName:
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


_Step = _Single | _DigestPart | _Ping
"""One message of a delivery plan: an alert alone, a digest part, or a WeCom @all text."""


class AlertDispatcher:
    """A consumer of engine output and health (TUI and headless alike). See the module docstring."""

    def __init__(
        self,
        settings: Settings,
        secrets: Secrets,
        *,
        mode: SourceMode,
        clock: Callable[[], int] = wall_ms,
        outbox_path: Path | None = None,
        mutes: Mutes | None = None,
    ) -> None:
        """`clock`: wall ms. `mutes`: the mute state shared with the UI (default: the settings'
        `alerts.muted`). Raises ValueError for a mode that is not a SourceMode value."""
        try:
            self.mode = SourceMode(mode)
        except ValueError:
            raise ValueError(f"mode must be one of {', '.join(m.value for m in SourceMode)}, not {mode!r}") from None
        self.alerts = settings.alerts
        self.clock = clock
        self.mutes = mutes if mutes is not None else Mutes(settings.alerts.muted)
        self.renderer = MessageRenderer(settings, self.mode)
        self.random = random.Random()
        self.lanes = build_lanes(settings, secrets, clock)
        self.outbox_note = ""
        # Opened and read once here, before the loop runs; from now on only its thread touches it.
        outbox = self._open_outbox(outbox_path) if self.lanes else None
        cooldowns = outbox.cooldowns(self.mode) if outbox else {}
        if outbox is not None:
            self._restore_lanes(outbox)
        self.outbox = OutboxThread(outbox) if outbox is not None else None
        self.policy = AlertPolicy(self.alerts, self.renderer, cooldowns, self.mutes)
        self.outages = OutageTracker(int(self.alerts.exchange_down_minutes * 60_000))
        self._session: aiohttp.ClientSession | None = None
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._closing = False

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

    def _restore_lanes(self, outbox: Outbox) -> None:
        now = self.clock()
        for lane in self.lanes.values():
            lane.wait_until_ms = outbox.throttled_until(lane.name)
            for ts in outbox.recent_sends(lane.name, now - lane.limiter.window_ms):
                lane.limiter.record(ts)

    @property
    def active(self) -> bool:
        return bool(self.lanes)

    def update_settings(self, settings: Settings) -> None:
        """The settings screen saved: new grades, thresholds, cooldown and mutes apply from the
        next event. Robots, secrets and the outbox stay as they were started."""
        self.alerts = settings.alerts
        self.policy.reconfigure(settings.alerts)
        self.mutes.set_configured(settings.alerts.muted)
        self.outages.down_after_ms = int(settings.alerts.exchange_down_minutes * 60_000)

    async def start(self) -> None:
        """Start delivering in the background (pending alerts from an earlier run first)."""
        if not self.lanes or self._task is not None:
            return
        self._task = asyncio.create_task(self._run(), name="alert-dispatcher")

    # ------------------------------------------------------------ input (quick, never blocks, never raises)

    def on_events(self, events: Sequence[EngineEvent]) -> None:
        try:
            now = self.clock()
            self._enqueue(self.policy.decide(events, now), now)
        except Exception:  # alerts must never take the data pipeline down
            log.exception("alert dispatcher: could not process events")

    def on_health(self, update: HealthUpdate) -> None:
        """The pipeline's heartbeat: an exchange down longer than `alerts.exchange_down_minutes`
        (measured in `update.now_ms`), and its recovery, become system alerts."""
        try:
            changes = self.outages.update(update.exchanges, update.now_ms)
            if changes:
                self._enqueue([self.policy.system(self._health_message(c)) for c in changes], self.clock())
        except Exception:
            log.exception("alert dispatcher: could not process health records")

    def _health_message(self, change: HealthChange) -> AlertMessage:
        if change.kind == "down":
            return self.renderer.exchange_down(change.exchange, change.since_ms, change.now_ms, change.reason)
        return self.renderer.exchange_up(change.exchange, change.since_ms, change.now_ms)

    def _enqueue(self, decisions: Sequence[Decision], now: int) -> None:
        rows: list[NewAlert] = []
        period = int(self.alerts.b_digest_minutes * 60_000)
        for decision in decisions:
            message = decision.message
            targets = [lane for name, lane in self.lanes.items() if name in decision.routes]
            log.info("alert%s: %s", "" if targets else " (no robot configured)", message.line)
            for lane in targets:
                digest_only = decision.routes[lane.name] == Route.DIGEST
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
        cooldowns = self.policy.take_new_cooldowns()
        if self.outbox is None or not (rows or cooldowns):
            return
        mode = self.mode
        # Written on the outbox's thread, before any later read of it (the delivery's included).
        written = self.outbox.submit(lambda box: box.add(mode, rows, cooldowns))
        written.add_done_callback(lambda future: _report_unwritten(future, len(rows)))
        if rows:
            self._wake.set()

    # ------------------------------------------------------------ status

    def status(self) -> Mapping[str, RobotStatus]:
        """Per robot, configured or not (a robot left unconfigured says how to configure it).
        Never waits on the disk: the outbox's counts are those of its last change."""
        backlog = self.outbox.backlog if self.outbox is not None else {}
        out: dict[str, RobotStatus] = {}
        for name, label, env in ROBOTS:
            lane = self.lanes.get(name)
            if lane is None:
                hint = f"set ENABLE_{env}=true and {env}_WEBHOOK in the environment or .env"
                out[name] = RobotStatus(name, label, False, 0, 0, 0, hint=hint)
                continue
            counts = backlog.get(name, Backlog())
            out[name] = RobotStatus(
                name,
                label,
                True,
                lane.delivered,
                counts.pending,
                counts.failed,
                lane.last_error or self.outbox_note,
                lane.hint,
                lane.halted,
                lane.wait_until_ms,
            )
        return out

    # ------------------------------------------------------------ delivery

    def _box(self) -> OutboxThread:
        if self.outbox is None:
            raise RuntimeError("the alert outbox is closed")
        return self.outbox

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
                await self._prune()
            except Exception:  # keep delivering whatever happens to one round
                log.exception("alert delivery round failed")
            try:
                delay = await self._seconds_to_next_wake()
            except Exception:
                log.exception("alert delivery: could not read the outbox")
                delay = IDLE_WAKE_S
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=delay)

    async def _prune(self) -> None:
        now = self.clock()
        await self._box().call(lambda box: box.prune(now))

    async def _seconds_to_next_wake(self) -> float:
        now = self.clock()
        wake = now + int(IDLE_WAKE_S * 1000)
        for ready in await asyncio.gather(*(self._lane_ready_ms(lane, now) for lane in self.lanes.values())):
            if ready is not None:
                wake = min(wake, ready)
        return max(0.05, (wake - now) / 1000)

    async def _lane_ready_ms(self, lane: _Lane, now: int) -> int | None:
        """When the lane can next send something it holds; None when it holds nothing or halted."""
        if lane.halted:
            return None
        earliest = await self._box().call(lambda box: box.earliest_hold(lane.name))
        if earliest is None:
            return None
        return max(earliest, lane.wait_until_ms, lane.limiter.next_free_ms(now))

    async def _deliver_lane(self, lane: _Lane, flush: bool) -> None:
        async with lane.lock:
            for _ in range(1_000):  # bounded: each round sends at least one message or stops
                now = self.clock()
                if lane.halted or now < lane.wait_until_ms:
                    return
                rows = await self._drop_expired(lane, await self._pending(lane), now)
                due = [row for row in rows if flush or row.hold_until_ms <= now]
                free = lane.limiter.free(now)
                if not due or free <= 0:
                    return
                if not await self._execute(lane, self._plan(lane, due, free)):
                    return

    async def _pending(self, lane: _Lane) -> list[PendingAlert]:
        return await self._box().call(lambda box: box.pending(lane.name))

    async def _drop_expired(self, lane: _Lane, rows: list[PendingAlert], now: int) -> list[PendingAlert]:
        limit = now - int(self.alerts.give_up_hours * 3_600_000)
        expired = [row for row in rows if row.created_ms < limit]
        if expired:
            reason = (
                f"undeliverable: still pending after {self.alerts.give_up_hours:g} h ({lane.last_error or 'no answer'})"
            )
            ids = [row.id for row in expired]
            await self._box().call(lambda box: box.mark_failed(ids, now, reason))
            for row in expired:
                log.error("%s: alert lost, %s: %s", lane.client.label, reason, row.line)
        return [row for row in rows if row.created_ms >= limit]

    # ------------------------------------------------------------ planning

    def _cost(self, lane: _Lane, row: PendingAlert) -> int:
        if lane.client.at_all_body("") is not None and row.at_all:
            return 2 - row.parts_done
        return 1

    def _plan(self, lane: _Lane, due: list[PendingAlert], free: int) -> list[_Step]:
        # A row whose markdown went but whose @all text did not is finished alone, never merged.
        started = [row for row in due if row.parts_done]
        if started:
            return [_Single(row) for row in started[:free]]
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
                return [*(_Single(row) for row in head), *parts, *ping]
        parts = self._digest_parts(lane, singles + merged)  # even the digest needs several minutes
        ping = self._ping(lane, singles + merged)
        room = free - len(ping)
        return [*parts[: max(1, room)], *(ping if room >= len(parts) else [])]

    def _digest_parts(self, lane: _Lane, rows: list[PendingAlert]) -> list[_DigestPart]:
        periodic = all(row.digest_only for row in rows)
        period = self.alerts.b_digest_minutes
        renderer = self.renderer

        def render(lines: Sequence[str], part: int, parts: int) -> tuple[str, str]:
            title = renderer.digest_title(periodic, part, parts)
            return title, renderer.digest_text(title, lines, periodic, period)

        pieces = split_digest([row.line for row in rows], render, lane.client.fits)
        out: list[_DigestPart] = []
        start = 0
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

    async def _execute(self, lane: _Lane, plan: list[_Step]) -> bool:
        """Send the plan in order; stop at the first robot-level failure. True if all went."""
        for step in plan:
            if isinstance(step, _Single):
                ok = await self._send_single(lane, step.row)
            elif isinstance(step, _DigestPart):
                ok = await self._send_digest(lane, step)
            else:
                outcome = await self._post(lane, lane.client.at_all_body(step.content) or {})
                ok = outcome.kind in (OutcomeKind.OK, OutcomeKind.MESSAGE_ERROR)
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
            if outcome.kind == OutcomeKind.MESSAGE_ERROR and index > 0:
                log.warning("%s: the @all of %r was refused: %s", lane.client.label, row.title, outcome.describe())
            elif outcome.kind == OutcomeKind.MESSAGE_ERROR:
                await self._fail(lane, [row], outcome)
                return True
            elif not outcome.ok:
                return False
            if index + 1 < len(bodies):
                await self._parts_done(row, index + 1)
        await self._delivered(lane, [row])
        return True

    async def _parts_done(self, row: PendingAlert, parts: int) -> None:
        await self._box().call(lambda box: box.mark_parts_done(row.id, parts))

    async def _send_digest(self, lane: _Lane, part: _DigestPart) -> bool:
        outcome = await self._post(lane, lane.client.markdown_body(part.title, part.text, part.at_all))
        if outcome.kind == OutcomeKind.MESSAGE_ERROR:
            await self._fail(lane, list(part.rows), outcome)
            return True
        if not outcome.ok:
            return False
        await self._delivered(lane, list(part.rows))
        return True

    async def _delivered(self, lane: _Lane, rows: list[PendingAlert]) -> None:
        ids, now = [row.id for row in rows], self.clock()
        await self._box().call(lambda box: box.mark_delivered(ids, now))
        lane.delivered += len(rows)
        for row in rows:
            log.info("%s: delivered %s", lane.client.label, row.line)

    async def _fail(self, lane: _Lane, rows: list[PendingAlert], outcome: Outcome) -> None:
        reason = f"undeliverable: {outcome.describe()} ({outcome.hint})"
        ids, now = [row.id for row in rows], self.clock()
        await self._box().call(lambda box: box.mark_failed(ids, now, reason))
        for row in rows:
            log.error("%s: alert lost, %s: %s", lane.client.label, reason, row.line)

    async def _post(self, lane: _Lane, body: JsonBody) -> Outcome:
        assert self._session is not None
        outcome = await lane.client.post(self._session, body)
        now = self.clock()
        lane.limiter.record(now)
        await self._box().call(lambda box: box.record_send(lane.name, now))
        self._after(lane, outcome, now)
        if outcome.kind == OutcomeKind.THROTTLED:  # only a throttle outlives a restart
            until = lane.wait_until_ms
            await self._box().call(lambda box: box.set_throttled_until(lane.name, until))
        return outcome

    def _after(self, lane: _Lane, outcome: Outcome, now: int) -> None:
        if outcome.kind == OutcomeKind.OK:
            lane.failures, lane.last_error, lane.hint = 0, "", ""
        else:
            lane.last_error, lane.hint = outcome.describe(), outcome.hint
        if outcome.kind == OutcomeKind.RETRY:
            lane.failures += 1
            delay_s = backoff_seconds(lane.failures - 1, BACKOFF_CAP_S, self.random.random, base=BACKOFF_BASE_S)
            lane.wait_until_ms = now + int(delay_s * 1000)
            log.warning(
                "%s: %s; retry in %.0f s", lane.client.label, outcome.describe(), (lane.wait_until_ms - now) / 1000
            )
        elif outcome.kind == OutcomeKind.THROTTLED:
            lane.wait_until_ms = now + outcome.retry_after_ms + self.random.randint(0, 2_000)
            log.warning(
                "%s: %s; waiting %.0f s", lane.client.label, outcome.describe(), (lane.wait_until_ms - now) / 1000
            )
        elif outcome.kind == OutcomeKind.ROBOT_ERROR:
            lane.halted = True
            log.error(
                "%s: %s. %s. Alerts stay in the outbox until this is fixed and gme-tui restarted.",
                lane.client.label,
                outcome.describe(),
                outcome.hint,
            )

    # ------------------------------------------------------------ closing

    async def close(self, timeout: float = 5.0) -> None:
        """Flush what can go within `timeout` seconds; the rest stays in the outbox. Every alert
        handed to the outbox is written before it closes."""
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
            outbox, self.outbox = self.outbox, None
            if outbox is not None:
                await outbox.close()
                pending = sum(counts.pending for counts in outbox.backlog.values())
                if pending:
                    log.info("%d alert(s) left in the outbox for the next start", pending)


def _report_unwritten(future: Future[None], count: int) -> None:
    """On the outbox's thread: a write that failed (disk full, file removed) loses its alerts; say so."""
    error = None if future.cancelled() else future.exception()
    if error is not None:
        log.error("alert outbox: %d alert(s) could not be stored and are lost: %s", count, error)


def build_lanes(settings: Settings, secrets: Secrets, clock: Callable[[], int]) -> dict[RobotName, _Lane]:
    """One lane per robot that is enabled and has a webhook."""
    timeout = settings.alerts.request_timeout_seconds
    capacity = min(settings.alerts.max_per_minute, 20)
    values = secret_values(secrets)
    clients: list[RobotClient] = []
    if secrets.enable_dingtalk and secrets.dingtalk_webhook:
        clients.append(DingTalkRobot(secrets.dingtalk_webhook, secrets.dingtalk_secret, timeout_s=timeout, clock=clock))
    if secrets.enable_wechat and secrets.wechat_webhook:
        clients.append(WeComRobot(secrets.wechat_webhook, timeout_s=timeout, clock=clock))
    lanes: dict[RobotName, _Lane] = {}
    for client in clients:
        client.set_secret_values(values)
        lanes[client.name] = _Lane(client, RollingLimiter(capacity))
    return lanes


if TYPE_CHECKING:

    def _is_a_consumer_and_a_view(dispatcher: AlertDispatcher) -> tuple[EventConsumer, AlertsView]:
        return dispatcher, dispatcher  # mypy checks the dispatcher against both Protocols
