"""The attach protocol (version 1): what a daemon serves and an attached TUI reads.

Transport: a WebSocket (aiohttp) over a Unix socket in the user's runtime directory, or over TCP
on 127.0.0.1 with a token (for an SSH tunnel). A WebSocket rather than hand-made length-prefixed
frames because aiohttp already has both ends: framing, ping/pong heartbeats that notice a dead
peer behind a tunnel, close codes with a reason, and an HTTP handshake where the token and the
protocol version are checked before any data flows (a refusal is an HTTP status the client turns
into one clear line).

Frames: binary WebSocket messages, each one msgpack-encoded `Message` (msgspec). Not orjson/JSON:
the model holds ±inf ratios (nothing sold in the window: SPEC §2), which JSON cannot carry and
orjson writes as null (which means "undefined" there), and its NamedTuples (ExchangeWindow) are
not JSON-serialisable as such. msgspec encodes the model's frozen dataclasses as they are and
decodes them back into the same types with validation, so a garbage frame is one DecodeError.
A 600-symbol scan is about 1.4 MB; it encodes in ~2 ms and decodes in ~8 ms.

Order on a connection: `Hello` (protocol and gme-tui versions, the daemon's summary), `Snapshot`
(the full state: latest scan, the scans whose signals fill the signal log, whales, health,
robots), then `Events` and `Health` as they come, `Bye` when the daemon stops. The client checks
`Hello.protocol` before it decodes anything else; the server refuses a client that announces
another protocol in the `X-Gme-Tui-Protocol` header with HTTP 426.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import msgspec

from gme_tui.model import HealthUpdate, Liquidation, RobotStatus, Scan, SourceMode, Whale

PROTOCOL = 2  # 2: liquidations (SPEC §4b) in events and snapshots
"""Bumped on any change of the messages below that an older peer could misread."""

STREAM_PATH = "/gme-tui/stream"
PROTOCOL_HEADER = "X-Gme-Tui-Protocol"
VERSION_HEADER = "X-Gme-Tui-Version"
TOKEN_ENV = "GME_TUI_TOKEN"
"""The environment variable holding the TCP token, for the daemon and the attaching TUI alike."""

MAX_UNIX_PATH = 107  # bytes: sockaddr_un.sun_path less its terminating NUL (Linux)


AlertsState = Literal["", "off", "no_robot", "sending", "queued"]
"""How a daemon sends alerts: none (no dispatcher), no robot configured, sending, or queueing
them while another process sends ("": not said, an older daemon)."""


class DaemonInfo(msgspec.Struct, frozen=True):
    """The daemon as an attached TUI shows it ("settings summary")."""

    mode: SourceMode
    version: str  # gme-tui version
    pid: int
    started_ms: int
    address: str  # where this client reached it
    window_minutes: int
    exchanges: tuple[str, ...]  # enabled exchanges
    settings_path: str  # "" when it runs on the built-in defaults
    store_path: str  # "" without a store
    alerts: str  # "sending", "queued: pid 1234 (...) sends them", "off": English, as older clients show it
    # The same as data, which the attaching TUI words in its own language ("": a daemon without it).
    # Added after protocol 1 shipped, with defaults: older peers ignore them or go without.
    alerts_state: AlertsState = ""
    alerts_sender: str = ""  # with "queued": who sends ("pid 1234 (gme-tui --headless)")


class Hello(msgspec.Struct, frozen=True, tag="hello"):
    protocol: int
    daemon: DaemonInfo


class Snapshot(msgspec.Struct, frozen=True, tag="snapshot"):
    """Everything a TUI started with the daemon would show now. `history`: earlier scans, oldest
    first, reduced to the symbols with signals (no per-exchange windows), so the signal log can
    be rebuilt; `whales` and `liquidations` oldest first, in arrival order; `scan` the latest,
    in full."""

    history: tuple[Scan, ...]
    whales: tuple[Whale, ...]
    scan: Scan | None
    health: HealthUpdate | None
    robots: tuple[RobotStatus, ...]
    liquidations: tuple[Liquidation, ...] = ()


class ScanItem(msgspec.Struct, frozen=True, tag="scan"):
    scan: Scan


class WhaleItem(msgspec.Struct, frozen=True, tag="whale"):
    whale: Whale


class LiquidationItem(msgspec.Struct, frozen=True, tag="liquidation"):
    liquidation: Liquidation


ServedEvent = Scan | Whale | Liquidation
"""What attached TUIs get of the engine's output."""


class Events(msgspec.Struct, frozen=True, tag="events"):
    """One batch of engine output, in order (closed minutes, which only the store needs, left out)."""

    items: tuple[ScanItem | WhaleItem | LiquidationItem, ...]


def item_of(event: ServedEvent) -> ScanItem | WhaleItem | LiquidationItem:
    if isinstance(event, Scan):
        return ScanItem(event)
    if isinstance(event, Whale):
        return WhaleItem(event)
    return LiquidationItem(event)


def event_of(item: ScanItem | WhaleItem | LiquidationItem) -> ServedEvent:
    if isinstance(item, ScanItem):
        return item.scan
    if isinstance(item, WhaleItem):
        return item.whale
    return item.liquidation


class Health(msgspec.Struct, frozen=True, tag="health"):
    update: HealthUpdate
    robots: tuple[RobotStatus, ...]


class Bye(msgspec.Struct, frozen=True, tag="bye"):
    reason: str


Message = Hello | Snapshot | Events | Health | Bye

_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(Message)


def encode(message: Message) -> bytes:
    return _encoder.encode(message)


def decode(frame: bytes) -> Message:
    """Raises msgspec.DecodeError (not msgpack) or msgspec.ValidationError (not a message)."""
    return _decoder.decode(frame)


def replay_events(snapshot: Snapshot) -> list[ServedEvent]:
    """The snapshot as one batch of events that rebuilds the same view in a fresh TUI: the reduced
    scans (signal log), the whales and liquidations in arrival order, then the latest scan (the
    table) last."""
    events: list[ServedEvent] = [*snapshot.history, *snapshot.whales, *snapshot.liquidations]
    if snapshot.scan is not None:
        events.append(snapshot.scan)
    return events


def read_protocol(frame: bytes) -> tuple[int, str] | None:
    """The (protocol, gme-tui version) a first frame announces, read loosely so that a hello of
    another protocol version still says which it is; None when the frame is no hello at all."""
    try:
        raw = msgspec.msgpack.decode(frame)
    except msgspec.DecodeError:
        return None
    if not isinstance(raw, dict) or raw.get("type") != "hello" or not isinstance(raw.get("protocol"), int):
        return None
    daemon = raw.get("daemon")
    version = daemon.get("version") if isinstance(daemon, dict) else None
    return raw["protocol"], version if isinstance(version, str) else "?"


# ---------------------------------------------------------------- addresses


@dataclass(frozen=True)
class Address:
    """Where a daemon serves: a Unix socket path, or 127.0.0.1:port."""

    kind: Literal["unix", "tcp"]
    path: Path | None = None
    port: int = 0
    host: str = "127.0.0.1"

    def __str__(self) -> str:
        return f"unix:{self.path}" if self.kind == "unix" else f"tcp://{self.host}:{self.port}"


class AddressError(ValueError):
    """An address that cannot be used: one line for the user."""


def runtime_dir() -> Path:
    """The user's private runtime directory for gme-tui (XDG_RUNTIME_DIR/gme-tui, or platformdirs'
    checked fallback under the temporary directory)."""
    from platformdirs import user_runtime_dir

    with warnings.catch_warnings():  # its fallback warning would land on the terminal
        warnings.simplefilter("ignore")
        return Path(user_runtime_dir("gme-tui"))


def default_socket(mode: SourceMode) -> Path:
    """Where a daemon of `mode` serves by default: `<runtime dir>/live.sock`, `demo.sock`, ..."""
    return runtime_dir() / f"{mode}.sock"


def parse_address(text: str) -> Address:
    """`live` / `demo` (the default sockets), `unix:PATH` or a path, `tcp://127.0.0.1:PORT`,
    `127.0.0.1:PORT`, `localhost:PORT` or `:PORT`. TCP is only ever local (an SSH tunnel ends on
    127.0.0.1). Raises AddressError."""
    text = text.strip()
    if text in ("live", "demo", "replay"):
        return Address("unix", default_socket(SourceMode(text)))
    if text.startswith("unix:"):
        return _unix(text[5:])
    rest = text[6:] if text.startswith("tcp://") else text
    host, sep, port = rest.rpartition(":")
    if sep and port.isdigit() and "/" not in rest:
        if host not in ("", "127.0.0.1", "localhost"):
            raise AddressError(f"{text}: only 127.0.0.1 is served (reach another host through an SSH tunnel)")
        number = int(port)
        if not 0 < number < 65536:
            raise AddressError(f"{text}: not a port number")
        return Address("tcp", port=number)
    if text.startswith("tcp://"):
        raise AddressError(f"{text}: expected tcp://127.0.0.1:PORT")
    return _unix(text)


def _unix(path: str) -> Address:
    if not path:
        raise AddressError("an empty socket path")
    target = Path(os.path.expanduser(path))
    if len(os.fsencode(target)) > MAX_UNIX_PATH:
        raise AddressError(f"{target}: a socket path is limited to {MAX_UNIX_PATH} bytes; choose a shorter one")
    return Address("unix", target)
