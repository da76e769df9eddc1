"""The attaching side: a Source-like feed of a daemon's engine events, for the TUI.

`AttachedFeed` stands where a `Pipeline` stands for a standalone TUI: consumers are added with
`add_consumer` and get `on_events` / `on_health` exactly as from a local pipeline, `run()` runs
until cancelled, `source.mode` is the daemon's mode. Like a `Source` it has `mode`, `health()`
and `close()`; unlike one it yields no trades for a local engine: the daemon's engine already
turned them into events. So the UI has one data path whichever feeds it, opens no exchange
connection and, with no dispatcher, sends no alert. Its `alerts` is an `AlertsView` of the
daemon's robots, read-only.

On connect the snapshot becomes one batch of events (`replay_events`) that rebuilds the full
view; the session listeners hear of each attach first (`AttachStatus.sessions` grows by one), so
a TUI can start from a clean view. When the daemon goes away the listeners hear why, and the
feed attaches again by itself, with backoff, until it is cancelled.

Every failure is an `AttachError` with one line for the user, in the `language` given (the
TUI's settings.language; English when not given); `retry` says whether trying again later can
help (a daemon that is not up yet) or not by itself (a wrong token, another version). The
daemon's alerts summary (`DaemonInfo.alerts`) is worded here too, from its `alerts_state`.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import random
import socket
import stat
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import aiohttp
import msgspec

from gme_tui import __version__
from gme_tui.core.backoff import backoff_seconds
from gme_tui.i18n import catalogue
from gme_tui.i18n.catalogue import Daemon
from gme_tui.model import EngineEvent, ExchangeHealth, HealthUpdate, Language, RobotStatus, SourceMode
from gme_tui.serve.protocol import (
    PROTOCOL,
    PROTOCOL_HEADER,
    STREAM_PATH,
    VERSION_HEADER,
    Address,
    Bye,
    DaemonInfo,
    Events,
    Health,
    Hello,
    Message,
    Snapshot,
    decode,
    event_of,
    read_protocol,
    replay_events,
)

if TYPE_CHECKING:
    from gme_tui.core.seams import AlertsView, EventConsumer

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 5.0
RETRY_CAP_S = 5.0
HEARTBEAT_S = 10.0
MAX_FRAME = 256 * 1024 * 1024  # a snapshot of thousands of symbols stays far below
_ENGLISH = catalogue("en").daemon


class AttachError(Exception):
    """Attaching failed or the session ended: `message` is one line for the user."""

    def __init__(self, message: str, *, retry: bool) -> None:
        super().__init__(message)
        self.message = message
        self.retry = retry


@dataclass(frozen=True)
class AttachStatus:
    """What the TUI shows about its attachment."""

    address: str
    attached: bool
    daemon: DaemonInfo | None  # the last daemon seen (kept while detached)
    message: str  # why detached (empty while attached)
    sessions: int  # successful attaches so far: a new one means a fresh snapshot follows


class Connection:
    """One attached session: the hello is read; `receive()` returns the next message. `words`:
    the catalogue section its failures are told in."""

    def __init__(
        self,
        address: Address,
        session: aiohttp.ClientSession,
        ws: aiohttp.ClientWebSocketResponse,
        words: Daemon = _ENGLISH,
    ) -> None:
        self.address = address
        self._session = session
        self._ws = ws
        self.words = words
        self.hello: Hello | None = None

    async def receive(self, timeout: float | None = None) -> Message:
        """Raises AttachError when the connection ends or a frame cannot be read."""
        d, address = self.words, self.address
        try:
            message = await self._ws.receive(timeout=timeout)
        except TimeoutError:
            raise AttachError(d.no_answer.format(address=address, seconds=f"{timeout:g}"), retry=True) from None
        if message.type == aiohttp.WSMsgType.BINARY:
            try:
                return decode(message.data)
            except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                text = d.unreadable_frame.format(address=address, error=str(exc)[:80])
                raise AttachError(text, retry=True) from None
        if message.type == aiohttp.WSMsgType.CLOSE:
            raise AttachError(d.closed.format(reason=_close_reason(message.data, message.extra, d)), retry=True)
        if message.type in (aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.CLOSED):
            raise AttachError(d.connection_closed, retry=True)
        if message.type == aiohttp.WSMsgType.ERROR:
            raise AttachError(d.connection_failed.format(address=address, error=self._ws.exception()), retry=True)
        raise AttachError(d.foreign_frame.format(address=address, kind=message.type.name), retry=True)

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self._ws.close()
        await self._session.close()


def _close_reason(code: object, extra: object, d: Daemon) -> str:
    """Why the daemon closed: our words for the codes it uses, else its own words or the code."""
    if code == aiohttp.WSCloseCode.TRY_AGAIN_LATER:  # the daemon drops a TUI that fell behind
        return d.reason_too_slow
    if code == aiohttp.WSCloseCode.GOING_AWAY:
        return d.stopped_plain
    return extra if isinstance(extra, str) and extra else d.reason_code.format(code=code)


def _check_socket(address: Address, d: Daemon) -> None:
    """Refuse, before connecting, what is not a socket of this user."""
    path = address.path
    assert path is not None
    try:
        info = path.lstat()
    except FileNotFoundError:
        raise AttachError(d.no_socket.format(path=path), retry=True) from None
    except OSError as exc:
        raise AttachError(d.path_error.format(path=path, error=exc.strerror or exc), retry=True) from None
    if not stat.S_ISSOCK(info.st_mode):
        raise AttachError(d.not_a_socket.format(path=path), retry=False)
    if info.st_uid != os.getuid():
        raise AttachError(d.socket_of_other_user.format(path=path, uid=info.st_uid), retry=False)


def _connect_error(address: Address, exc: BaseException, d: Daemon) -> AttachError:
    os_error = exc.os_error if isinstance(exc, aiohttp.ClientConnectorError) else exc
    code = os_error.errno if isinstance(os_error, OSError) else None
    if code in (errno.ECONNREFUSED, errno.ENOENT):
        template = d.stale_socket if address.kind == "unix" else d.no_daemon_tcp
        return AttachError(template.format(address=address), retry=True)
    if code == errno.EACCES:
        return AttachError(d.permission_denied.format(address=address), retry=False)
    return AttachError(d.cannot_reach.format(address=address, error=os_error), retry=True)


def _handshake_error(address: Address, exc: aiohttp.WSServerHandshakeError, d: Daemon) -> AttachError:
    headers: Mapping[str, str] = exc.headers or {}
    if exc.status == 401:
        return AttachError(d.token_refused.format(address=address), retry=False)
    if exc.status == 403:
        return AttachError(d.user_refused.format(address=address), retry=False)
    if exc.status == 426:
        theirs, version = headers.get(PROTOCOL_HEADER, "?"), headers.get(VERSION_HEADER, "?")
        return AttachError(_version_message(address, theirs, version, d), retry=False)
    return AttachError(d.not_a_daemon_http.format(address=address, status=exc.status), retry=False)


def _version_message(address: Address, protocol: object, version: object, d: Daemon) -> str:
    return d.other_version.format(
        address=address, version=version, protocol=protocol, ours=__version__, our_protocol=PROTOCOL
    )


def alerts_words(info: DaemonInfo, d: Daemon) -> str:
    """How the daemon sends alerts, in the words of `d` (an older daemon's own words as they are)."""
    match info.alerts_state:
        case "off":
            return d.alerts_off
        case "no_robot":
            return d.alerts_no_robot
        case "sending":
            return d.alerts_sending
        case "queued":
            return d.alerts_queued.format(sender=info.alerts_sender)
        case "":
            return info.alerts


async def connect(
    address: Address, *, token: str = "", protocol: int = PROTOCOL, language: Language = "en"
) -> Connection:
    """Connect, check the daemon's hello (its protocol first) and return the session; the
    snapshot is the next message. `protocol` is ours (a test may claim another). Raises
    AttachError, told in `language` (the hello's alerts summary is worded in it too)."""
    d = catalogue(language).daemon
    if address.kind == "unix":
        _check_socket(address, d)
        assert address.path is not None
        connector: aiohttp.BaseConnector = aiohttp.UnixConnector(path=str(address.path))
        url = f"http://localhost{STREAM_PATH}"
    else:
        connector = aiohttp.TCPConnector(family=socket.AF_INET)
        url = f"http://{address.host}:{address.port}{STREAM_PATH}"
    session = aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=None))
    headers = {PROTOCOL_HEADER: str(protocol), VERSION_HEADER: __version__}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        async with asyncio.timeout(CONNECT_TIMEOUT_S):
            ws = await session.ws_connect(
                url,
                headers=headers,
                heartbeat=HEARTBEAT_S,
                max_msg_size=MAX_FRAME,
                timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=2.0),
            )
    except aiohttp.WSServerHandshakeError as exc:
        await session.close()
        raise _handshake_error(address, exc, d) from None
    except (aiohttp.ClientError, OSError) as exc:
        await session.close()
        raise _connect_error(address, exc, d) from None
    except TimeoutError:
        await session.close()
        text = d.no_answer.format(address=address, seconds=f"{CONNECT_TIMEOUT_S:g}")
        raise AttachError(text, retry=True) from None
    connection = Connection(address, session, ws, d)
    try:
        hello = await _read_hello(connection, ws)
    except BaseException:
        await connection.close()
        raise
    info = hello.daemon
    connection.hello = msgspec.structs.replace(
        hello, daemon=msgspec.structs.replace(info, alerts=alerts_words(info, d))
    )
    return connection


async def _read_hello(connection: Connection, ws: aiohttp.ClientWebSocketResponse) -> Hello:
    address, d = connection.address, connection.words
    try:
        first = await ws.receive(timeout=CONNECT_TIMEOUT_S)
    except TimeoutError:
        text = d.no_hello.format(address=address, seconds=f"{CONNECT_TIMEOUT_S:g}")
        raise AttachError(text, retry=True) from None
    if first.type != aiohttp.WSMsgType.BINARY:
        raise AttachError(d.bad_greeting.format(address=address, kind=first.type.name), retry=True)
    announced = read_protocol(first.data)
    if announced is None:
        raise AttachError(d.not_a_hello.format(address=address), retry=False)
    if announced[0] != PROTOCOL:
        raise AttachError(_version_message(address, *announced, d), retry=False)
    try:
        hello = decode(first.data)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise AttachError(d.unreadable_hello.format(address=address, error=str(exc)[:80]), retry=False) from None
    if not isinstance(hello, Hello):
        raise AttachError(d.hello_first.format(address=address), retry=False)
    return hello


async def probe(address: Address, *, token: str = "", language: Language = "en") -> Hello:
    """Whether a daemon serves at `address`: its hello (raises AttachError otherwise, told in
    `language`)."""
    connection = await connect(address, token=token, language=language)
    try:
        assert connection.hello is not None
        return connection.hello
    finally:
        await connection.close()


class RemoteAlerts:
    """The daemon's robots as an `AlertsView`: status only; this process sends nothing."""

    def __init__(self) -> None:
        self.robots: tuple[RobotStatus, ...] = ()

    async def start(self) -> None:
        return None

    async def close(self, timeout: float = 5.0) -> None:
        return None

    def status(self) -> Mapping[str, RobotStatus]:
        return {robot.name: robot for robot in self.robots}


class AttachedFeed:
    """See the module docstring."""

    def __init__(
        self,
        address: Address,
        *,
        token: str = "",
        retry_cap_s: float = RETRY_CAP_S,
        rng: Callable[[], float] = random.random,
        language: Language = "en",
    ) -> None:
        """`language`: of the status messages (the TUI's settings.language; English when not given)."""
        self.address = address
        self.token = token
        self.language: Language = language
        self.words = catalogue(language).daemon
        self.retry_cap_s = retry_cap_s
        self.rng = rng
        self.mode = SourceMode.LIVE  # the daemon's, from its hello
        self.consumers: list[EventConsumer] = []
        self.listeners: list[Callable[[AttachStatus], None]] = []
        self.alerts = RemoteAlerts()
        self.status = AttachStatus(str(address), False, None, self.words.attaching, 0)
        self._health: HealthUpdate | None = None
        self._closed = False

    # ------------------------------------------------------------ the Pipeline / Source surface

    @property
    def source(self) -> AttachedFeed:
        """What the UI reads `mode` from (a Pipeline's `source`)."""
        return self

    def add_consumer(self, consumer: EventConsumer) -> None:
        self.consumers.append(consumer)

    def add_listener(self, listener: Callable[[AttachStatus], None]) -> None:
        """Called on the feed's loop at every attach and detach (before the snapshot's events)."""
        self.listeners.append(listener)

    def health(self) -> Sequence[ExchangeHealth]:
        """The daemon's exchanges, as of its last heartbeat."""
        return self._health.exchanges if self._health is not None else ()

    async def close(self) -> None:
        self._closed = True

    async def run(self) -> None:
        """Attach, feed the consumers, attach again when the daemon comes back; until cancelled."""
        failures = 0
        while not self._closed:
            try:
                connection = await connect(self.address, token=self.token, language=self.language)
            except AttachError as error:
                self._detached(error.message)
                await asyncio.sleep(backoff_seconds(failures, self.retry_cap_s, self.rng, base=0.25))
                failures += 1
                continue
            failures = 0
            try:
                await self._session(connection)
            except AttachError as error:
                self._detached(error.message)
            finally:
                await connection.close()
            await asyncio.sleep(backoff_seconds(0, self.retry_cap_s, self.rng, base=0.25))

    # ------------------------------------------------------------ a session

    async def _session(self, connection: Connection) -> None:
        hello = connection.hello
        assert hello is not None
        self.mode = hello.daemon.mode
        first = await connection.receive(timeout=60.0)
        if not isinstance(first, Snapshot):
            raise AttachError(self.words.no_snapshot.format(address=self.address), retry=True)
        self._set_status(
            replace(self.status, attached=True, daemon=hello.daemon, message="", sessions=self.status.sessions + 1)
        )
        log.info(
            "attached to %s (gme-tui %s, %s, pid %d)",
            self.address,
            hello.daemon.version,
            hello.daemon.mode,
            hello.daemon.pid,
        )
        self._publish(replay_events(first))
        if first.health is not None:
            self._health_update(first.health, first.robots)
        while True:
            message = await connection.receive()
            if isinstance(message, Events):
                self._publish([event_of(item) for item in message.items])
            elif isinstance(message, Health):
                self._health_update(message.update, message.robots)
            elif isinstance(message, Bye):
                d = self.words
                raise AttachError(
                    d.stopped.format(reason=message.reason) if message.reason else d.stopped_plain, retry=True
                )
            # another hello or snapshot mid-session: not sent by this protocol version; ignored

    def _publish(self, events: Sequence[EngineEvent]) -> None:
        if not events:
            return
        for consumer in self.consumers:
            try:
                consumer.on_events(events)
            except Exception:  # as in the pipeline: one broken consumer does not stop the others
                log.exception("consumer %s failed", type(consumer).__name__)

    def _health_update(self, update: HealthUpdate, robots: Sequence[RobotStatus]) -> None:
        self._health = update
        self.alerts.robots = tuple(robots)
        for consumer in self.consumers:
            try:
                consumer.on_health(update)
            except Exception:
                log.exception("consumer %s failed on health", type(consumer).__name__)

    def _detached(self, message: str) -> None:
        if self.status.attached:
            log.warning("detached from %s: %s", self.address, message)
        self._set_status(replace(self.status, attached=False, message=message))

    def _set_status(self, status: AttachStatus) -> None:
        changed = status != self.status
        self.status = status
        if not changed:
            return
        for listener in self.listeners:
            try:
                listener(status)
            except Exception:
                log.exception("attach listener failed")


if TYPE_CHECKING:

    def _is_an_alerts_view(alerts: RemoteAlerts) -> AlertsView:
        return alerts  # mypy checks RemoteAlerts against the Protocol
