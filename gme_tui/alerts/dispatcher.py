"""The alert dispatcher: engine events and health in, robot messages out, never blocking, never losing.

A pipeline consumer (`gme_tui.core.seams.EventConsumer`): `on_events` and `on_health` only decide
(policy) and hand the new rows to the outbox's worker thread, so they never wait on the disk; a
background task delivers. Each robot is a lane with its own limiter, backoff and state. When more
is due than the limiter allows, what does not fit is merged into digest messages, split to each
robot's size limit.

Across processes (SPEC §10): every message takes a slot in the shared send ledger first, so the
20 per minute hold per robot whoever sends; of the processes that share an outbox only the holder
of its sender lock delivers (the others queue the same alerts, which the outbox keeps once, and
take over when the sender stops); demo and replay runs have their own outbox.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import aiohttp

from gme_tui.alerts.dingtalk import DingTalkRobot
from gme_tui.alerts.health import HealthChange, OutageTracker
from gme_tui.alerts.ledger import SendLedger, default_ledger_path, robot_id
from gme_tui.alerts.limiter import RollingLimiter
from gme_tui.alerts.messages import AlertMessage, MessageRenderer, split_digest
from gme_tui.alerts.outbox import Backlog, LevelMemory, NewAlert, Outbox, OutboxThread, PendingAlert, outbox_path_for
from gme_tui.alerts.policy import AlertPolicy, Decision, Route
from gme_tui.alerts.problems import hint_text, problem_text
from gme_tui.alerts.redact import secret_values
from gme_tui.alerts.robots import JsonBody, Outcome, OutcomeKind, RobotClient
from gme_tui.alerts.sender import SenderInfo, SenderLock, lock_path_for
from gme_tui.alerts.wecom import WeComRobot
from gme_tui.core.backoff import backoff_seconds
from gme_tui.core.clock import wall_ms
from gme_tui.core.mutes import Mutes
from gme_tui.i18n import catalogue
from gme_tui.i18n.catalogue import NotifyTest
from gme_tui.model import EngineEvent, HealthUpdate, Language, RobotName, RobotStatus, SourceMode
from gme_tui.settings import Secrets, Settings

if TYPE_CHECKING:
    from gme_tui.core.seams import AlertsView, EventConsumer

log = logging.getLogger("gme_tui.alerts")

BACKOFF_BASE_S = 2.0
BACKOFF_CAP_S = 5 * 60.0
IDLE_WAKE_S = 30.0
STANDBY_POLL_S = 0.5
"""How often a process that does not send tries the sender lock (s): the takeover delay."""
ROBOTS: tuple[tuple[RobotName, str, str], ...] = (("dingtalk", "DingTalk", "DINGTALK"), ("wecom", "WeCom", "WECHAT"))
"""(name, label, prefix of its environment variables), in status-bar order."""


@dataclass
class Lane:
    client: RobotClient
    limiter: RollingLimiter
    robot_id: str  # its key in the send ledger (a hash of the webhook)
    wait_until_ms: int = 0  # throttle or backoff
    failures: int = 0  # consecutive retryable failures, for the backoff
    halted: bool = False
    last_error: str = ""  # English, for the logs and the outbox
    hint: str = ""
    failure: Outcome | None = None  # the last failed request (None after a success): the status bar's words
    delivered: int = 0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def name(self) -> RobotName:
        return self.client.name


@dataclass(frozen=True)
class _Note:
    """A file the dispatcher could not open: the status bar says so while no robot error does."""

    kind: Literal["outbox", "ledger"]
    path: str
    error: str

    def text(self, t: NotifyTest) -> str:
        template = t.outbox_unusable if self.kind == "outbox" else t.ledger_unusable
        return template.format(path=self.path, error=self.error)


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
        ledger_path: Path | None = None,
    ) -> None:
        """`clock`: wall ms. `outbox_path`: this run's outbox (default: the mode's file,
        `outbox_path_for`). `mutes`: the mute state shared with the UI (default: the settings'
        `alerts.muted`). `ledger_path`: the shared send ledger (default: the user data directory's).
        Raises ValueError for a mode that is not a SourceMode value."""
        try:
            self.mode = SourceMode(mode)
        except ValueError:
            raise ValueError(f"mode must be one of {', '.join(m.value for m in SourceMode)}, not {mode!r}") from None
        self.alerts = settings.alerts
        self.language: Language = settings.language  # of the status texts; switched by update_settings
        self.clock = clock
        self.mutes = mutes if mutes is not None else Mutes(settings.alerts.muted)
        self.renderer = MessageRenderer(settings, self.mode)
        self.random = random.Random()
        self.lanes = build_lanes(settings, secrets, clock)
        self.outbox_note = ""  # English, logged
        self._note: _Note | None = None
        # Opened and read once here, before the loop runs; from now on only its thread touches them.
        outbox = self._open_outbox(outbox_path) if self.lanes else None
        self.ledger = self._open_ledger(ledger_path) if self.lanes else None
        cooldowns = outbox.cooldowns(self.mode) if outbox else {}
        memory = outbox.level_memory(self.mode) if outbox else LevelMemory({}, 0)
        self.sender_lock = self._open_lock(outbox) if outbox is not None else None
        self._restore_lanes()
        self.outbox = OutboxThread(outbox) if outbox is not None else None
        self.policy = AlertPolicy(
            self.alerts,
            self.renderer,
            cooldowns,
            self.mutes,
            remembered=memory.levels,
            remembered_scan_ts=memory.scan_ts,
        )
        self.outages = OutageTracker(int(self.alerts.exchange_down_minutes * 60_000))
        self._session: aiohttp.ClientSession | None = None
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._closing = False

    # ------------------------------------------------------------ setup

    def _open_outbox(self, override: Path | None) -> Outbox:
        configured = Path(self.alerts.outbox_path).expanduser() if self.alerts.outbox_path else None
        path = override or outbox_path_for(self.mode, configured)
        try:
            return Outbox(path)
        except Exception as exc:  # unwritable directory, corrupt file: alert anyway, say so
            self._note = _Note("outbox", str(path), str(exc))
            self.outbox_note = self._note.text(catalogue("en").notify_test)
            log.error("%s", self.outbox_note)
            return Outbox(":memory:")

    def _open_ledger(self, override: Path | None) -> SendLedger:
        path = override or default_ledger_path()
        try:
            return SendLedger(path)
        except Exception as exc:  # as for the outbox: alert anyway, say what is missing
            ledger_note = _Note("ledger", str(path), str(exc))
            note = ledger_note.text(catalogue("en").notify_test)
            self._note = self._note or ledger_note
            self.outbox_note = self.outbox_note or note
            log.error("%s", note)
            return SendLedger(":memory:")

    def _open_lock(self, outbox: Outbox) -> SenderLock | None:
        """The outbox's sender lock, taken if free (None for an outbox no other process can share)."""
        if outbox.path == ":memory:":
            return None
        try:
            lock = SenderLock(lock_path_for(Path(outbox.path)), self.clock())
        except OSError as exc:
            log.error("alerts: no sender lock beside %s (%s); sending without one", outbox.path, exc)
            return None
        if not lock.try_acquire():
            log.warning(
                "alerts: %s sends the alerts of %s; this process queues them too and takes over if it stops",
                lock.holder().describe(),
                outbox.path,
            )
        return lock

    def _restore_lanes(self) -> None:
        """Every process's recent sends and a robot's throttle, from the ledger (before the loop runs)."""
        if self.ledger is None:
            return
        now = self.clock()
        for lane in self.lanes.values():
            state = self.ledger.state(lane.robot_id, now, lane.limiter.window_ms)
            lane.wait_until_ms = state.throttled_until_ms
            lane.limiter.load(state.sends)

    @property
    def sending(self) -> bool:
        """Whether this process delivers (holds the sender lock); the others only queue."""
        return self.sender_lock is None or self.sender_lock.held

    def sender(self) -> SenderInfo:
        """Who delivers the alerts of this outbox (this process when `sending`)."""
        if self.sender_lock is None:
            return SenderInfo()
        return self.sender_lock.holder()

    def _check_sender(self) -> bool:
        """Take over as the sender when the lock is free; True when this process sends."""
        lock = self.sender_lock
        if lock is None or lock.held:
            return True
        if lock.try_acquire():
            log.warning("alerts: the previous sender stopped; this process (pid %d) sends the alerts now", os.getpid())
            return True
        return False

    @property
    def active(self) -> bool:
        return bool(self.lanes)

    def update_settings(self, settings: Settings) -> None:
        """The settings screen saved: new grades, thresholds, cooldown and mutes apply from the
        next event, the language to the next `status()`. Robots, secrets and the outbox stay as
        they were started."""
        self.alerts = settings.alerts
        self.language = settings.language
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
        (measured in `update.now_ms`), and its recovery, become system alerts. Only the sender
        queues them: they are about its own connections."""
        try:
            changes = self.outages.update(update.exchanges, update.now_ms)
            if changes and self.sending:
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
                        dedupe=decision.dedupe,
                        event_ts=message.ts,
                    )
                )
        cooldowns = self.policy.take_new_cooldowns()
        changes = self.policy.take_level_changes()
        levels, scan_ts = (changes.levels, changes.scan_ts) if self.sending else ({}, None)
        if self.outbox is None or not (rows or cooldowns or levels or scan_ts is not None):
            return
        mode, cooldown_ms = self.mode, int(self.alerts.cooldown_minutes * 60_000)
        # Written on the outbox's thread, before any later read of it (the delivery's included).
        written = self.outbox.submit(
            lambda box: box.add(mode, rows, cooldowns, cooldown_ms=cooldown_ms, levels=levels, scan_ts=scan_ts)
        )
        written.add_done_callback(lambda future: _report_unwritten(future, len(rows)))
        if rows:
            self._wake.set()

    # ------------------------------------------------------------ status

    def status(self) -> Mapping[str, RobotStatus]:
        """Per robot, configured or not (a robot left unconfigured says how to configure it).
        `last_error` and `hint` in the words of the settings' language. Never waits on the disk:
        the outbox's counts are those of its last change."""
        t = catalogue(self.language)
        backlog = self.outbox.backlog if self.outbox is not None else {}
        sent_by = "" if self.sending else self.sender().describe()
        out: dict[str, RobotStatus] = {}
        for name, label, env in ROBOTS:
            lane = self.lanes.get(name)
            if lane is None:
                hint = t.notify_test.hint_configure.format(env=env)
                out[name] = RobotStatus(name, label, False, 0, 0, 0, hint=hint)
                continue
            counts = backlog.get(name, Backlog())
            error, hint = self._problem_words(lane, t.notify_test, t.common.robots[name])
            out[name] = RobotStatus(
                name,
                label,
                True,
                lane.delivered,
                counts.pending,
                counts.failed,
                error,
                hint,
                lane.halted,
                lane.wait_until_ms,
                sent_by=sent_by,
            )
        return out

    def _problem_words(self, lane: Lane, t: NotifyTest, robot: str) -> tuple[str, str]:
        """(last error, hint) of a lane for the status bar; a file note when the robot is fine."""
        failure = lane.failure
        if failure is None or failure.problem is None:
            return (self._note.text(t) if self._note is not None else lane.last_error), lane.hint
        hint = (
            ""
            if failure.advice is None
            else hint_text(failure.advice, robot, t, retryable=failure.retryable, notify_test=False)
        )
        return problem_text(failure.problem, t), hint

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
        if not self._check_sender():
            await self.outbox.call(Outbox.refresh)  # the sender changes the counts shown here
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
                delay = await self._seconds_to_next_wake() if self.sending else STANDBY_POLL_S
            except Exception:
                log.exception("alert delivery: could not read the outbox")
                delay = IDLE_WAKE_S
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=delay)

    async def _prune(self) -> None:
        now = self.clock()
        await self._box().call(lambda box: box.prune(now))
        ledger = self.ledger
        if ledger is not None:
            await self._box().run(lambda: ledger.prune(now))

    async def _refresh(self, lane: Lane, now: int) -> None:
        """What every process sent to the lane's robot lately, and its throttle, from the ledger."""
        ledger = self.ledger
        if ledger is None:
            return
        state = await self._box().run(lambda: ledger.state(lane.robot_id, now, lane.limiter.window_ms))
        lane.limiter.load(state.sends)
        lane.wait_until_ms = max(lane.wait_until_ms, state.throttled_until_ms)

    async def _seconds_to_next_wake(self) -> float:
        now = self.clock()
        wake = now + int(IDLE_WAKE_S * 1000)
        for ready in await asyncio.gather(*(self._lane_ready_ms(lane, now) for lane in self.lanes.values())):
            if ready is not None:
                wake = min(wake, ready)
        return max(0.05, (wake - now) / 1000)

    async def _lane_ready_ms(self, lane: Lane, now: int) -> int | None:
        """When the lane can next send something it holds; None when it holds nothing or halted."""
        if lane.halted:
            return None
        earliest = await self._box().call(lambda box: box.earliest_hold(lane.name))
        if earliest is None:
            return None
        await self._refresh(lane, now)
        return max(earliest, lane.wait_until_ms, lane.limiter.next_free_ms(now))

    async def _deliver_lane(self, lane: Lane, flush: bool) -> None:
        async with lane.lock:
            for _ in range(1_000):  # bounded: each round sends at least one message or stops
                now = self.clock()
                await self._refresh(lane, now)
                if lane.halted or now < lane.wait_until_ms:
                    return
                rows = await self._drop_expired(lane, await self._pending(lane), now)
                due = [row for row in rows if flush or row.hold_until_ms <= now]
                free = lane.limiter.free(now)
                if not due or free <= 0:
                    return
                if not await self._execute(lane, self._plan(lane, due, free)):
                    return

    async def _pending(self, lane: Lane) -> list[PendingAlert]:
        return await self._box().call(lambda box: box.pending(lane.name))

    async def _drop_expired(self, lane: Lane, rows: list[PendingAlert], now: int) -> list[PendingAlert]:
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

    def _cost(self, lane: Lane, row: PendingAlert) -> int:
        if lane.client.at_all_body("") is not None and row.at_all:
            return 2 - row.parts_done
        return 1

    def _plan(self, lane: Lane, due: list[PendingAlert], free: int) -> list[_Step]:
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

    def _digest_parts(self, lane: Lane, rows: list[PendingAlert]) -> list[_DigestPart]:
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

    def _ping(self, lane: Lane, rows: list[PendingAlert]) -> list[_Ping]:
        """WeCom: one @all text message for a digest that holds @all alerts."""
        if lane.client.at_all_body("") is None or not any(row.at_all for row in rows):
            return []
        return [_Ping(self.renderer.at_all_text(self.renderer.digest_title(False, 1, 1)))]

    # ------------------------------------------------------------ executing

    async def _execute(self, lane: Lane, plan: list[_Step]) -> bool:
        """Send the plan in order; stop at the first robot-level failure. True if all went."""
        for step in plan:
            if isinstance(step, _Single):
                ok = await self._send_single(lane, step.row)
            elif isinstance(step, _DigestPart):
                ok = await self._send_digest(lane, step)
            else:
                outcome = await self._post(lane, lane.client.at_all_body(step.content) or {})
                ok = outcome is not None and outcome.kind in (OutcomeKind.OK, OutcomeKind.MESSAGE_ERROR)
            if not ok:
                return False
        return True

    async def _send_single(self, lane: Lane, row: PendingAlert) -> bool:
        bodies = [lane.client.markdown_body(row.title, row.text, row.at_all)]
        extra = lane.client.at_all_body(self.renderer.at_all_text(row.title)) if row.at_all else None
        if extra is not None:
            bodies.append(extra)
        for index in range(row.parts_done, len(bodies)):
            outcome = await self._post(lane, bodies[index])
            if outcome is None:  # no free slot: another process took it; the rest waits
                return False
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

    async def _send_digest(self, lane: Lane, part: _DigestPart) -> bool:
        outcome = await self._post(lane, lane.client.markdown_body(part.title, part.text, part.at_all))
        if outcome is None:
            return False
        if outcome.kind == OutcomeKind.MESSAGE_ERROR:
            await self._fail(lane, list(part.rows), outcome)
            return True
        if not outcome.ok:
            return False
        await self._delivered(lane, list(part.rows))
        return True

    async def _delivered(self, lane: Lane, rows: list[PendingAlert]) -> None:
        ids, now = [row.id for row in rows], self.clock()
        await self._box().call(lambda box: box.mark_delivered(ids, now))
        lane.delivered += len(rows)
        for row in rows:
            log.info("%s: delivered %s", lane.client.label, row.line)

    async def _fail(self, lane: Lane, rows: list[PendingAlert], outcome: Outcome) -> None:
        reason = f"undeliverable: {outcome.describe()} ({outcome.hint})"
        ids, now = [row.id for row in rows], self.clock()
        await self._box().call(lambda box: box.mark_failed(ids, now, reason))
        for row in rows:
            log.error("%s: alert lost, %s: %s", lane.client.label, reason, row.line)

    async def _post(self, lane: Lane, body: JsonBody) -> Outcome | None:
        """One message, after taking its slot in the shared ledger; None (nothing sent) when every
        slot of the window is taken, by this process or another."""
        assert self._session is not None
        ledger, box = self.ledger, self._box()
        assert ledger is not None
        start = self.clock()
        hold_ms = int(lane.client.timeout.total * 1000 if lane.client.timeout.total else 60_000) + 1_000
        capacity, window = lane.limiter.capacity, lane.limiter.window_ms
        slot = await box.run(
            lambda: ledger.reserve(lane.robot_id, start, capacity=capacity, window_ms=window, hold_ms=hold_ms)
        )
        if slot is None:
            return None
        outcome = await lane.client.post(self._session, body)
        now = self.clock()
        lane.limiter.record(now)
        await box.run(lambda: ledger.settle(slot, now))
        self._after(lane, outcome, now)
        if outcome.kind == OutcomeKind.THROTTLED:  # every process waits it out (and a restart too)
            until = lane.wait_until_ms
            await box.run(lambda: ledger.set_throttled_until(lane.robot_id, until))
        return outcome

    def _after(self, lane: Lane, outcome: Outcome, now: int) -> None:
        if outcome.kind == OutcomeKind.OK:
            lane.failures, lane.last_error, lane.hint, lane.failure = 0, "", "", None
        else:
            lane.last_error, lane.hint, lane.failure = outcome.describe(), outcome.hint, outcome
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
            ledger = self.ledger
            if outbox is not None:
                if ledger is not None:
                    await outbox.run(ledger.close)
                await outbox.close()
                pending = sum(counts.pending for counts in outbox.backlog.values())
                if pending:
                    log.info("%d alert(s) left in the outbox for the next start", pending)
            if self.sender_lock is not None:  # after the last write: the next sender sees it all
                self.sender_lock.release()


def _report_unwritten(future: Future[int], count: int) -> None:
    """On the outbox's thread: a write that failed (disk full, file removed) loses its alerts; say so."""
    error = None if future.cancelled() else future.exception()
    if error is not None:
        log.error("alert outbox: %d alert(s) could not be stored and are lost: %s", count, error)


def build_lanes(settings: Settings, secrets: Secrets, clock: Callable[[], int]) -> dict[RobotName, Lane]:
    """One lane per robot that is enabled and has a webhook."""
    timeout = settings.alerts.request_timeout_seconds
    capacity = min(settings.alerts.max_per_minute, 20)
    values = secret_values(secrets)
    clients: list[RobotClient] = []
    if secrets.enable_dingtalk and secrets.dingtalk_webhook:
        clients.append(DingTalkRobot(secrets.dingtalk_webhook, secrets.dingtalk_secret, timeout_s=timeout, clock=clock))
    if secrets.enable_wechat and secrets.wechat_webhook:
        clients.append(WeComRobot(secrets.wechat_webhook, timeout_s=timeout, clock=clock))
    lanes: dict[RobotName, Lane] = {}
    for client in clients:
        client.set_secret_values(values)
        lanes[client.name] = Lane(client, RollingLimiter(capacity), robot_id(client.webhook))
    return lanes


if TYPE_CHECKING:

    def _is_a_consumer_and_a_view(dispatcher: AlertDispatcher) -> tuple[EventConsumer, AlertsView]:
        return dispatcher, dispatcher  # mypy checks the dispatcher against both Protocols
