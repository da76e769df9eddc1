"""The daemon's side of attach: a pipeline consumer that serves its state on a local socket.

`StateServer` is an `EventConsumer` (gme_tui.core.seams). It folds events into a `ServedState`
(references only) and, when clients are attached, encodes each batch once and hands the same
bytes to every client's queue, so the daemon's cost is one encode per batch, whatever the number
of clients. A client that cannot keep up (its queue full) is dropped with close code 1013; it
attaches again and gets a fresh snapshot, rather than the daemon buffering without bound.

Sockets (SPEC §9 `serve`): by default a Unix socket in the user's runtime directory (mode 0600;
bound under a private temporary name, then renamed into place, so it is never reachable with
wider permissions). One daemon per socket: the server holds an exclusive `flock` on
`<socket>.lock` for its lifetime (released by the kernel however the process ends), so a socket
file found while that lock is free is stale and is replaced; a socket file of another user, or
anything that is not a socket, is left alone. Optionally TCP on 127.0.0.1 with a token (for an
SSH tunnel); Unix peers are checked to be this user (SO_PEERCRED) on top of the file mode.

Words (issue 13): what the daemon says to the trader (ServeError, its log lines about attaching
TUIs, a refused client's answer) is in the daemon's language (`DaemonFacts.language`); its alerts
summary goes to the TUI as data too (`DaemonInfo.alerts_state`), which the TUI words in its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hmac
import json
import logging
import os
import socket
import stat
import struct
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from aiohttp import WSCloseCode, web

from gme_tui import __version__
from gme_tui.core.clock import wall_ms
from gme_tui.i18n import catalogue
from gme_tui.i18n.catalogue import Daemon
from gme_tui.model import EngineEvent, HealthUpdate, Language, SourceMode
from gme_tui.serve.protocol import (
    PROTOCOL,
    PROTOCOL_HEADER,
    STREAM_PATH,
    VERSION_HEADER,
    Address,
    AlertsState,
    Bye,
    DaemonInfo,
    Events,
    Health,
    Hello,
    encode,
    item_of,
)
from gme_tui.serve.state import ServedState

if TYPE_CHECKING:
    from gme_tui.core.seams import AlertsView, EventConsumer

log = logging.getLogger(__name__)

QUEUE_FRAMES = 256
"""Frames a client may lag behind (about four minutes of heartbeats and scans) before it is dropped."""
HEARTBEAT_S = 10.0
CLOSE_WAIT_S = 1.0


class ServeError(Exception):
    """The socket cannot be served: one line for the user."""


@dataclass(frozen=True)
class ServeConfig:
    """Where to serve. `unix`: the socket path (None: no Unix socket); `tcp_port`: also serve on
    127.0.0.1 (0 picks a free port); `token`: required from TCP clients (never empty with TCP)."""

    unix: Path | None
    tcp_port: int | None = None
    token: str = ""


@dataclass(frozen=True)
class DaemonFacts:
    """What the hello says about the daemon besides its address (see protocol.DaemonInfo), and
    the `language` the daemon speaks in (settings.language; English when not given)."""

    mode: SourceMode
    window_minutes: int
    exchanges: tuple[str, ...]
    settings_path: str = ""
    store_path: str = ""
    started_ms: int = field(default_factory=wall_ms)
    language: Language = "en"


@dataclass(eq=False)
class _Client:
    ws: web.WebSocketResponse
    queue: asyncio.Queue[bytes | None] = field(default_factory=lambda: asyncio.Queue(QUEUE_FRAMES))
    dropped: bool = False
    closing: asyncio.Task[bool] | None = None


class StateServer:
    """See the module docstring. `start()` before the pipeline runs, `close()` after it."""

    def __init__(
        self,
        config: ServeConfig,
        facts: DaemonFacts,
        *,
        alerts: AlertsView | None = None,
        whale_rows: int = 200,
        signal_rows: int = 500,
    ) -> None:
        self.words: Daemon = catalogue(facts.language).daemon
        if config.tcp_port is not None and not config.token:
            raise ServeError(self.words.tcp_needs_token)
        self.config = config
        self.facts = facts
        self.alerts = alerts
        self.state = ServedState(whale_rows=whale_rows, signal_rows=signal_rows)
        self.addresses: list[Address] = []
        self._clients: set[_Client] = set()
        self._runner: web.AppRunner | None = None
        self._snapshot: tuple[int, bytes] | None = None
        self._lock_fd = -1
        self._socket_inode: tuple[int, int] | None = None
        self.frames_encoded = 0  # batches and heartbeats encoded for clients (for the benchmark)

    @property
    def clients(self) -> int:
        return len(self._clients)

    # ------------------------------------------------------------ life

    async def start(self) -> list[Address]:
        """Listen; returns the addresses served. Raises ServeError (nothing is left listening)."""
        sockets: list[tuple[Address, socket.socket]] = []
        try:
            if self.config.unix is not None:
                sockets.append((Address("unix", self.config.unix), self._unix_socket(self.config.unix)))
            if self.config.tcp_port is not None:
                sockets.append(_tcp_socket(self.config.tcp_port, self.words))
        except BaseException:
            for _, sock in sockets:
                sock.close()
            self._release()
            raise
        app = web.Application()
        app.router.add_get(STREAM_PATH, self._stream)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=CLOSE_WAIT_S)
        await self._runner.setup()
        for address, sock in sockets:
            await web.SockSite(self._runner, sock).start()
            self.addresses.append(address)
            mode = catalogue(self.facts.language).status.modes[self.facts.mode]
            log.info("%s", self.words.serving.format(mode=mode, address=address))
        return list(self.addresses)

    async def close(self, reason: str = "") -> None:
        """Say goodbye to every client, stop listening, remove our socket file. `reason`: why,
        in the daemon's words ("": it just stopped; each TUI says so in its own language)."""
        bye = encode(Bye(reason))
        for client in list(self._clients):
            with contextlib.suppress(asyncio.QueueFull):
                client.queue.put_nowait(bye)
            with contextlib.suppress(asyncio.QueueFull):
                client.queue.put_nowait(None)  # the writer closes after the goodbye
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        self._remove_socket()
        self._release()

    # ------------------------------------------------------------ the consumer

    def on_events(self, events: Sequence[EngineEvent]) -> None:
        served = self.state.apply(events)
        if not served or not self._clients:
            return
        items = tuple(item_of(event) for event in served)
        self._broadcast(encode(Events(items)))

    def on_health(self, update: HealthUpdate) -> None:
        robots = tuple(self.alerts.status().values()) if self.alerts is not None else ()
        self.state.set_health(update, robots)
        if self._clients:
            self._broadcast(encode(Health(update, robots)))

    def _broadcast(self, frame: bytes) -> None:
        self.frames_encoded += 1
        for client in list(self._clients):
            try:
                client.queue.put_nowait(frame)
            except asyncio.QueueFull:
                self._drop(client)

    def _drop(self, client: _Client) -> None:
        if client.dropped:
            return
        client.dropped = True
        self._clients.discard(client)
        log.warning("%s", self.words.dropped.format(frames=QUEUE_FRAMES))
        client.closing = asyncio.create_task(
            client.ws.close(code=WSCloseCode.TRY_AGAIN_LATER, message=b"too slow: attach again")
        )

    # ------------------------------------------------------------ one client

    async def _stream(self, request: web.Request) -> web.StreamResponse:
        refusal = self._refusal(request)
        if refusal is not None:
            status, text = refusal
            log.warning("%s", self.words.refused_log.format(reason=text))
            headers = {PROTOCOL_HEADER: str(PROTOCOL), VERSION_HEADER: __version__}
            return web.Response(status=status, text=text, headers=headers)
        ws = web.WebSocketResponse(heartbeat=HEARTBEAT_S, max_msg_size=4096)  # clients send nothing
        await ws.prepare(request)
        client = _Client(ws)
        # No await between the snapshot and the registration: no batch falls between the two.
        client.queue.put_nowait(self._hello(request))
        client.queue.put_nowait(self._snapshot_frame())
        self._clients.add(client)
        writer = asyncio.create_task(self._write(client))
        try:
            async for _ in ws:  # nothing is expected from a client: this waits for it to leave
                pass
        finally:
            self._clients.discard(client)
            writer.cancel()
            await asyncio.gather(writer, return_exceptions=True)
            await ws.close()
        return ws

    async def _write(self, client: _Client) -> None:
        with contextlib.suppress(ConnectionError, RuntimeError):  # the client left mid-send
            while (frame := await client.queue.get()) is not None:
                await client.ws.send_bytes(frame)
            await client.ws.close(code=WSCloseCode.GOING_AWAY, message=b"the daemon stopped")

    def _refusal(self, request: web.Request) -> tuple[int, str] | None:
        """(HTTP status, reason in the daemon's words) for a client that may not attach, else
        None. The client words its refusal from the status alone."""
        d = self.words
        announced = request.headers.get(PROTOCOL_HEADER, "")
        if announced != str(PROTOCOL):
            theirs = announced or d.protocol_none
            return 426, d.refused_protocol.format(version=__version__, protocol=PROTOCOL, theirs=theirs)
        sock = request.transport.get_extra_info("socket") if request.transport else None
        if isinstance(sock, socket.socket) and sock.family == socket.AF_UNIX:
            uid = _peer_uid(sock)
            if uid is not None and uid != os.getuid():
                return 403, d.refused_user.format(uid=uid)
            return None
        given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(given.encode(), self.config.token.encode()):
            return 401, d.refused_token
        return None

    def _hello(self, request: web.Request) -> bytes:
        facts = self.facts
        state, sender = self._alerts_state()
        sock = request.transport.get_extra_info("socket") if request.transport else None
        address = next(
            (str(a) for a in self.addresses if isinstance(sock, socket.socket) and _serves(a, sock)),
            str(self.addresses[0]) if self.addresses else "",
        )
        info = DaemonInfo(
            mode=facts.mode,
            version=__version__,
            pid=os.getpid(),
            started_ms=facts.started_ms,
            address=address,
            window_minutes=facts.window_minutes,
            exchanges=facts.exchanges,
            settings_path=facts.settings_path,
            store_path=facts.store_path,
            alerts=self._alerts_words(state, sender),
            alerts_state=state,
            alerts_sender=sender,
        )
        return encode(Hello(PROTOCOL, info))

    def _alerts_state(self) -> tuple[AlertsState, str]:
        """How this daemon sends alerts, and who sends them while it only queues them."""
        if self.alerts is None:
            return "off", ""
        robots = [r for r in self.alerts.status().values() if r.configured]
        if not robots:
            return "no_robot", ""
        sent_by = next((r.sent_by for r in robots if r.sent_by), "")
        return ("queued", sent_by) if sent_by else ("sending", "")

    @staticmethod
    def _alerts_words(state: AlertsState, sender: str) -> str:
        """The summary in English, as a client of before `alerts_state` shows it."""
        d = catalogue("en").daemon
        words = {"off": d.alerts_off, "no_robot": d.alerts_no_robot, "sending": d.alerts_sending, "": ""}
        return d.alerts_queued.format(sender=sender) if state == "queued" else words[state]

    def _snapshot_frame(self) -> bytes:
        version = self.state.version
        if self._snapshot is None or self._snapshot[0] != version:
            self._snapshot = (version, encode(self.state.snapshot()))
        return self._snapshot[1]

    # ------------------------------------------------------------ the Unix socket

    def _unix_socket(self, path: Path) -> socket.socket:
        """Take the socket's lock, replace a stale socket file, bind privately, move into place."""
        d = self.words
        if len(os.fsencode(path)) > 107:
            raise ServeError(d.path_too_long.format(path=path))
        _private_dir(path.parent, d)
        self._lock(path)
        try:
            existing = path.lstat()
        except FileNotFoundError:
            existing = None
        if existing is not None:
            if not stat.S_ISSOCK(existing.st_mode):
                raise ServeError(d.not_a_socket_here.format(path=path))
            if existing.st_uid != os.getuid():
                raise ServeError(d.others_socket_file.format(path=path, uid=existing.st_uid))
            log.info("%s", d.stale_replaced.format(path=path))
        staging = Path(tempfile.mkdtemp(prefix=".gme-tui-", dir=path.parent))  # mode 0700
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            temporary = staging / "s"
            sock.bind(str(temporary))
            os.chmod(temporary, 0o600)
            os.replace(temporary, path)  # atomic, also over the stale file
            sock.listen(64)
            sock.setblocking(False)
        except OSError as exc:
            sock.close()
            raise ServeError(d.cannot_serve_here.format(path=path, error=exc.strerror or exc)) from None
        finally:
            with contextlib.suppress(OSError):
                os.rmdir(staging)
        info = path.stat()
        self._socket_inode = (info.st_dev, info.st_ino)
        return sock

    def _lock(self, path: Path) -> None:
        d = self.words
        lock = path.with_name(path.name + ".lock")
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise ServeError(d.cannot_open_lock.format(lock=lock, error=exc.strerror or exc)) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = _read_holder(fd)
            os.close(fd)
            holder = d.holder_pid.format(pid=pid) if pid is not None else ""
            raise ServeError(d.already_served.format(path=path, holder=holder)) from None
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps({"pid": os.getpid()}).encode(), 0)
        self._lock_fd = fd

    def _remove_socket(self) -> None:
        path = self.config.unix
        if path is None or self._socket_inode is None:
            return
        with contextlib.suppress(OSError):
            info = path.lstat()
            if (info.st_dev, info.st_ino) == self._socket_inode:  # still ours, not a newer daemon's
                path.unlink()
        self._socket_inode = None

    def _release(self) -> None:
        if self._lock_fd >= 0:
            fd, self._lock_fd = self._lock_fd, -1
            os.close(fd)


def _private_dir(directory: Path, d: Daemon) -> None:
    """Create the socket's directory for this user only; refuse one of another user."""
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = directory.stat()
    except OSError as exc:
        raise ServeError(d.cannot_create_dir.format(directory=directory, error=exc.strerror or exc)) from None
    if info.st_uid != os.getuid():
        raise ServeError(d.others_dir.format(directory=directory, uid=info.st_uid))


def _read_holder(fd: int) -> int | None:
    """The pid the lock's holder wrote into it (None when it cannot be read)."""
    with contextlib.suppress(OSError, ValueError):
        data = json.loads(os.pread(fd, 256, 0) or b"{}")
        if isinstance(data, dict) and isinstance(data.get("pid"), int):
            return int(data["pid"])
    return None


def _tcp_socket(port: int, d: Daemon) -> tuple[Address, socket.socket]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        sock.listen(64)
        sock.setblocking(False)
    except OSError as exc:
        sock.close()
        raise ServeError(d.cannot_serve_tcp.format(port=port, error=exc.strerror or exc)) from None
    return Address("tcp", port=sock.getsockname()[1]), sock


def _peer_uid(sock: socket.socket) -> int | None:
    """The connecting process's uid (Linux SO_PEERCRED); None where the platform cannot say."""
    if sys.platform != "linux":
        return None
    try:
        raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        _pid, uid, _gid = struct.unpack("3i", raw)
    except OSError:
        return None
    return int(uid)


def _serves(address: Address, sock: socket.socket) -> bool:
    if address.kind == "unix":
        return sock.family == socket.AF_UNIX
    return sock.family == socket.AF_INET


if TYPE_CHECKING:

    def _is_a_consumer(server: StateServer) -> EventConsumer:
        return server  # mypy checks the server against the Protocol
