"""Serve and attach in one process: a StateServer on a real socket, the real client and feed."""

from __future__ import annotations

import asyncio
import dataclasses
import math
import os
import socket
import stat
from collections.abc import Callable
from pathlib import Path

import msgspec
import pytest
from aiohttp import web

from gme_tui.model import Consensus, ExchangeWindow, Liquidation, Scan, SymbolScan
from gme_tui.serve.client import AttachedFeed, AttachError, AttachStatus, connect, probe
from gme_tui.serve.protocol import (
    PROTOCOL,
    STREAM_PATH,
    Address,
    AddressError,
    DaemonInfo,
    Events,
    Health,
    Hello,
    Snapshot,
    decode,
    encode,
    parse_address,
    replay_events,
)
from gme_tui.serve.server import QUEUE_FRAMES, ServeConfig, ServeError, StateServer
from gme_tui.serve.state import ServedState, signals_only
from gme_tui.tui.view import Market
from tests.serve.conftest import facts, health, market_events

pytestmark = pytest.mark.timeout(60)


class Collector:
    """An EventConsumer that keeps what it gets and lets the test await a condition."""

    def __init__(self) -> None:
        self.events: list = []
        self.health: list = []
        self.changed = asyncio.Event()

    def on_events(self, events) -> None:
        self.events.extend(events)
        self.changed.set()

    def on_health(self, update) -> None:
        self.health.append(update)
        self.changed.set()


async def until(predicate: Callable[[], bool], timeout: float = 10.0, event: asyncio.Event | None = None) -> None:
    async def wait() -> None:
        while not predicate():
            if event is None:
                await asyncio.sleep(0.01)
            else:
                event.clear()
                await event.wait()

    await asyncio.wait_for(wait(), timeout)


def unix(server: StateServer) -> Address:
    return server.addresses[0]


# ---------------------------------------------------------------- protocol


def test_frames_carry_the_model_exactly_infinite_ratios_included():
    scan = next(e for e in market_events() if isinstance(e, Scan))
    item = scan.symbols[0]
    window = item.exchanges["binance"]._replace(ratio=math.inf, covered_minutes=12)
    consensus = dataclasses.replace(item.consensus, ratios={**item.consensus.ratios, "okx": math.inf, "bybit": None})
    odd = SymbolScan(consensus, item.signals, {**item.exchanges, "binance": window}, None, None, 0.0)
    scan = Scan(scan.ts, scan.window_minutes, (odd, *scan.symbols[1:]))
    back = decode(encode(Snapshot((), (), scan, health(), ())))
    assert isinstance(back, Snapshot) and back.scan == scan
    assert back.scan.symbols[0].exchanges["binance"].ratio == math.inf
    assert isinstance(back.scan.symbols[0].exchanges["binance"], ExchangeWindow)
    assert back.scan.symbols[0].consensus.ratios == {**consensus.ratios}


def test_addresses():
    assert parse_address("127.0.0.1:8765") == Address("tcp", port=8765)
    assert parse_address("tcp://localhost:1") == Address("tcp", port=1)
    assert parse_address("unix:/tmp/a.sock") == Address("unix", Path("/tmp/a.sock"))
    assert parse_address("/tmp/b.sock").path == Path("/tmp/b.sock")
    for bad, words in (("10.1.2.3:80", "SSH tunnel"), (":0", "port"), ("/" + "x" * 120, "107 bytes")):
        with pytest.raises(AddressError, match=words):
            parse_address(bad)


def test_the_served_state_keeps_the_signal_log_reduced_and_bounded():
    events = market_events()
    scan = next(e for e in events if isinstance(e, Scan))
    state = ServedState(signal_rows=10)
    for k in range(400):  # 400 scans with signals: far more than the log needs
        state.apply([dataclasses.replace(scan, ts=scan.ts + k * 60_000)])
    history_signals = sum(len(i.signals) for s in state.history for i in s.symbols)
    assert history_signals <= 10 * 32 and len(state.history) > 1
    assert all(i.exchanges == {} for s in state.history for i in s.symbols)  # reduced
    assert state.scan is not None and state.scan.ts == scan.ts + 399 * 60_000  # the latest, in full
    reduced = signals_only(scan)
    assert reduced is not None and {i.consensus.symbol for i in reduced.symbols} == {
        i.consensus.symbol for i in scan.symbols if i.signals
    }


# ---------------------------------------------------------------- attach


async def test_snapshot_on_connect_then_increments_rebuild_the_same_view(served):
    events = market_events()
    scan = next(e for e in events if isinstance(e, Scan))
    first, later = events[:3], events[3:]
    served.on_events(first)  # before anyone attached
    served.on_health(health())
    feed = AttachedFeed(unix(served))
    seen = Collector()
    feed.add_consumer(seen)
    task = asyncio.create_task(feed.run())
    try:
        await until(lambda: feed.status.attached and seen.health, event=seen.changed)
        served.on_events(later)
        later_scan = dataclasses.replace(scan, ts=scan.ts + 60_000)
        served.on_events([later_scan])
        await until(lambda: any(e is not None and getattr(e, "ts", 0) == later_scan.ts for e in seen.events))
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    attached, local = Market(), Market()
    attached.apply(seen.events, 30 * 60_000)
    local.apply([*events, later_scan], 30 * 60_000)
    assert attached.scan == local.scan == later_scan
    assert list(attached.whales) == list(local.whales)
    assert [(e.symbol, e.grade, e.first_ts, e.count) for e in attached.signals.entries] == [
        (e.symbol, e.grade, e.first_ts, e.count) for e in local.signals.entries
    ]
    assert feed.mode == "live" and feed.status.daemon is not None and feed.status.daemon.pid == os.getpid()
    assert seen.health[0] == health()


async def test_derivatives_and_liquidations_reach_an_attached_tui(served):
    """Issue 14: the scan's derivatives lines (B included) and the liquidation feed, served before
    the client attached (snapshot) and after (events), rebuild the same view as the local one."""
    events = market_events(perps=True)
    liquidations = [e for e in events if isinstance(e, Liquidation)]
    scan = next(e for e in events if isinstance(e, Scan))
    assert liquidations and any(i.derivatives is not None for i in scan.symbols)
    assert any(s.grade == "B" for i in scan.symbols for s in i.signals)
    half = len(events) // 2
    served.on_events(events[:half])
    feed = AttachedFeed(unix(served))
    seen = Collector()
    feed.add_consumer(seen)
    task = asyncio.create_task(feed.run())
    try:
        await until(lambda: feed.status.attached, event=seen.changed)
        served.on_events(events[half:])
        await until(lambda: sum(isinstance(e, Liquidation) for e in seen.events) == len(liquidations))
        await until(lambda: any(isinstance(e, Scan) and e.ts == scan.ts for e in seen.events))
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    attached, local = Market(), Market()
    attached.apply(seen.events, 30 * 60_000)
    local.apply(events, 30 * 60_000)
    assert attached.scan == local.scan == scan
    assert list(attached.liquidations) == list(local.liquidations) and len(local.liquidations) > 0


async def test_five_clients_cost_one_encode_per_batch(served):
    feeds = [AttachedFeed(unix(served)) for _ in range(5)]
    seen = [Collector() for _ in feeds]
    for feed, collector in zip(feeds, seen):
        feed.add_consumer(collector)
    tasks = [asyncio.create_task(feed.run()) for feed in feeds]
    try:
        await until(lambda: served.clients == 5)
        before = served.frames_encoded
        events = market_events()
        served.on_events(events)
        served.on_health(health())
        await until(lambda: all(len(c.health) == 1 for c in seen))
        assert served.frames_encoded - before == 2  # one batch, one heartbeat: encoded once for all five
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def test_the_feed_says_when_the_daemon_stops_and_attaches_again_when_it_is_back(short_dir):
    path = short_dir / "live.sock"
    server = StateServer(ServeConfig(unix=path), facts())
    await server.start()
    server.on_events(market_events())
    feed = AttachedFeed(Address("unix", path), retry_cap_s=0.2)
    statuses: list[AttachStatus] = []
    feed.add_listener(statuses.append)
    seen = Collector()
    feed.add_consumer(seen)
    task = asyncio.create_task(feed.run())
    try:
        await until(lambda: feed.status.attached)
        await server.close("stopping for a test")
        await until(lambda: not feed.status.attached)
        assert "the daemon stopped (stopping for a test)" in feed.status.message
        await until(lambda: "no gme-tui daemon" in feed.status.message)  # retrying meanwhile
        again = StateServer(ServeConfig(unix=path), facts())
        await again.start()
        again.on_events(market_events()[-1:])
        await until(lambda: feed.status.attached and feed.status.sessions == 2)
        await again.close()
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    attaches = [s for s in statuses if s.attached]
    assert [s.sessions for s in attaches] == [1, 2]


async def test_a_slow_client_is_dropped_not_buffered_without_bound(served):
    connection = await connect(unix(served))  # reads nothing from here on
    try:
        await until(lambda: served.clients == 1)
        client = next(iter(served._clients))
        frame = encode(Health(health(), ()))
        while not client.queue.full():  # no await: nothing drains meanwhile, as with a client that reads nothing
            client.queue.put_nowait(frame)
        served.on_health(health())  # one more frame than it may lag behind
        assert served.clients == 0
        with pytest.raises(AttachError, match=r"code 1013|closed"):
            for _ in range(QUEUE_FRAMES + 10):
                await connection.receive(timeout=10)
    finally:
        await connection.close()


# ---------------------------------------------------------------- the socket


async def test_the_socket_is_private_and_a_stale_one_is_replaced(short_dir):
    path = short_dir / "run" / "live.sock"
    path.parent.mkdir(mode=0o700)
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(str(path))
    stale.close()  # a socket file nobody listens on: what a killed daemon leaves
    with pytest.raises(AttachError, match="stale socket") as refused:
        await probe(Address("unix", path))
    assert refused.value.retry
    server = StateServer(ServeConfig(unix=path), facts())
    await server.start()
    try:
        info = path.stat()
        assert stat.S_ISSOCK(info.st_mode) and stat.S_IMODE(info.st_mode) == 0o600
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
        hello = await probe(Address("unix", path))
        assert hello.protocol == PROTOCOL and hello.daemon.address == f"unix:{path}"
        second = StateServer(ServeConfig(unix=path), facts())
        with pytest.raises(
            ServeError, match=f"another gme-tui daemon already serves on {path} \\(pid {os.getpid()}\\)"
        ):
            await second.start()
    finally:
        await server.close()
    assert not path.exists()  # removed at the end; the lock file stays (it is no pid file)


async def test_what_is_not_a_socket_is_left_alone(short_dir):
    path = short_dir / "live.sock"
    path.write_text("my notes")
    with pytest.raises(ServeError, match="not a socket"):
        await StateServer(ServeConfig(unix=path), facts()).start()
    with pytest.raises(AttachError, match="is not a socket"):
        await probe(Address("unix", path))
    assert path.read_text() == "my notes"


async def test_a_socket_of_another_user_is_refused_both_ways(short_dir):
    path = short_dir / "live.sock"
    server = StateServer(ServeConfig(unix=path), facts())
    await server.start()
    try:
        try:
            os.chown(path, 54321, -1)
        except PermissionError:
            pytest.skip("changing a file's owner needs root")
        with pytest.raises(AttachError, match="belongs to another user \\(uid 54321\\)") as refused:
            await probe(Address("unix", path))
        assert not refused.value.retry
    finally:
        await server.close()
    theirs = short_dir / "theirs.sock"
    leftover = socket.socket(socket.AF_UNIX)
    leftover.bind(str(theirs))
    leftover.close()
    os.chown(theirs, 54321, -1)
    with pytest.raises(ServeError, match="belongs to another user \\(uid 54321\\): not replacing it"):
        await StateServer(ServeConfig(unix=theirs), facts()).start()
    assert theirs.exists()


async def test_tcp_needs_the_token():
    with pytest.raises(ServeError, match="GME_TUI_TOKEN"):
        StateServer(ServeConfig(unix=None, tcp_port=0), facts())
    server = StateServer(ServeConfig(unix=None, tcp_port=0, token="s3cret-token"), facts())
    (address,) = await server.start()
    try:
        assert address.kind == "tcp" and address.port > 0
        for wrong in ("", "guess"):
            with pytest.raises(AttachError, match="refused the token: set GME_TUI_TOKEN") as refused:
                await probe(address, token=wrong)
            assert not refused.value.retry
        assert (await probe(address, token="s3cret-token")).daemon.mode == "live"
    finally:
        await server.close()


async def test_a_client_of_another_protocol_is_told_in_one_line(served):
    with pytest.raises(AttachError, match="run the same version on both sides"):
        await connect(unix(served), protocol=PROTOCOL + 1)


# ---------------------------------------------------------------- not a (current) daemon


async def fake_daemon(path: Path, first: bytes, then: bytes | None = None) -> web.AppRunner:
    """A WebSocket server on `path` that sends `first` (and `then`) and waits."""

    async def stream(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_bytes(first)
        if then is not None:
            await ws.send_bytes(then)
        async for _ in ws:
            pass
        return ws

    app = web.Application()
    app.router.add_get(STREAM_PATH, stream)
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    await web.UnixSite(runner, str(path)).start()
    return runner


HELLO = Hello(
    PROTOCOL,
    DaemonInfo("live", "0.1.0", 1, 0, "unix:/x", 50, ("binance",), "", "", "off"),  # type: ignore[arg-type]
)


async def test_a_daemon_of_another_version_is_one_clear_line(short_dir):
    newer = Hello(PROTOCOL + 1, msgspec.structs.replace(HELLO.daemon, version="9.9.9"))
    path = short_dir / "other.sock"
    runner = await fake_daemon(path, encode(newer))
    try:
        with pytest.raises(AttachError) as refused:
            await probe(Address("unix", path))
    finally:
        await runner.cleanup()
    assert f"is gme-tui 9.9.9 (attach protocol {PROTOCOL + 1})" in refused.value.message
    assert "run the same version on both sides" in refused.value.message and not refused.value.retry


async def test_garbage_frames_are_one_clear_line(short_dir):
    path = short_dir / "garbage.sock"
    runner = await fake_daemon(path, b"\xc1\x00garbage")
    try:
        with pytest.raises(AttachError, match="not a gme-tui hello: not a gme-tui daemon"):
            await probe(Address("unix", path))
    finally:
        await runner.cleanup()
    path = short_dir / "later.sock"  # a good hello, then garbage mid-session
    runner = await fake_daemon(path, encode(HELLO), b"\xc1\xc1\xc1")
    feed = AttachedFeed(Address("unix", path), retry_cap_s=0.2)
    task = asyncio.create_task(feed.run())
    try:
        await until(lambda: "cannot read" in feed.status.message)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await runner.cleanup()
    assert feed.status.message.startswith(f"unix:{path} sent a frame this gme-tui cannot read")


async def test_nothing_there(short_dir):
    with pytest.raises(AttachError, match=r"no gme-tui daemon at .* \(no socket there\)") as refused:
        await probe(Address("unix", short_dir / "none.sock"))
    assert refused.value.retry


def test_events_and_health_frames_decode_to_their_types():
    events = market_events()
    scan = next(e for e in events if isinstance(e, Scan))
    snapshot = Snapshot((), tuple(e for e in events if not isinstance(e, Scan)), scan, None, ())
    assert replay_events(snapshot)[-1] == scan
    assert isinstance(decode(encode(Health(health(), ()))), Health)
    assert isinstance(decode(encode(Events(()))), Events)
    assert isinstance(scan.symbols[0].consensus, Consensus)
