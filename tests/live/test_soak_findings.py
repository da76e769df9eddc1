"""What the soak (tests/live/test_soak.py) found, each as a small deterministic run.

1. A frame that a connection's client still reads after the collector gave the connection up
   (queued, or arriving during the close handshake: here a protocol pong) must not make the
   session live. If it does, the session is "live" with no socket: the next connection's own
   first frame no longer marks where the stream came up, so the minute it came up in is not
   backfilled, and its first trades' proof hands that minute out covered, short by every trade
   before the new socket's first frame. (Soak, 60 min: coinbase m44, okx m47, binance m43 with
   a 300,000 whale missed; always both symbols of the exchange.) Was a bug: fixed by
   `Session.reading` (only the connection being read can make its session live).

Run: Binance BTC/USDT, a trade every 0.25 s; the clock starts 40 s into minute M0; the socket is
dropped at M0 + 59.6 s and, once the collector has given it up, its client reads one more frame
(a pong); the reconnect (backoff >= 0.5 s) comes up in M1. Every minute handed out covered must
equal the tape, and M1 must be covered (by its backfill).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from aiohttp import WSMessage, WSMsgType

from gme_tui.model import MINUTE_MS, ClosedMinutes
from gme_tui.sources.binance import BinanceAdapter
from gme_tui.sources.ccxt_common import FrameSink, WsClient
from tests.fakes.exchange_protocols import TapeTrade
from tests.fakes.harness import BASE_MINUTE, LiveRun, background, fake_exchange, minute_flows, pinned_clock, run_market
from tests.live.conftest import make_settings

SYMBOL = "BTC/USDT"


class RecordingBinance(BinanceAdapter):
    """The real Binance adapter, keeping the ccxt.pro clients it makes (to reach a given-up one)."""

    def __init__(self) -> None:
        self.made: list[WsClient] = []

    def ws_client(self, config: Mapping[str, object], sink: FrameSink) -> WsClient:
        ws = super().ws_client(config, sink)
        self.made.append(ws)
        return ws


async def test_a_frame_read_after_the_collector_gave_a_socket_up_does_not_make_it_live():
    clock = pinned_clock(40.0, speed=30.0)
    m0 = BASE_MINUTE
    adapter = RecordingBinance()
    async with fake_exchange(clock) as fake:
        settings = make_settings(fake, ("binance",), [SYMBOL], window=3)
        run = LiveRun(settings, clock, emit_minutes=True)
        collector = run.source.collectors["binance"]
        collector.adapter = adapter
        run.start()
        tape: list[TapeTrade] = []
        try:
            async with background(run_market(fake, ("binance",), [SYMBOL], tape, every_s=0.25, per_burst=1)):
                await fake.wait_subscribed("binance", 1)
                await run.until_clock(m0 * MINUTE_MS + 59_600, timeout=10)
                (session,) = collector.sessions
                assert session.live_since_ms is not None and len(adapter.made) == 1
                (old,) = adapter.made[0].clients.values()  # ccxt's per-socket client
                await fake.drop("binance")

                async def given_up() -> None:
                    while session.live_since_ms is not None:
                        await asyncio.sleep(0)

                await asyncio.wait_for(given_up(), 5)
                old.handle_message(WSMessage(WSMsgType.PONG, b"", None))  # read while it closes
                await run.until_clock((m0 + 2) * MINUTE_MS + 5_000, timeout=15)
        finally:
            await run.stop()
    assert fake.connections_total["binance"] == 2
    stored = {}
    for event in run.recorder.events:
        if isinstance(event, ClosedMinutes):
            for b in event.buckets:
                stored[b.minute] = (b.buy, b.sell, b.covered)
    wrong = {
        m - m0: (got, minute_flows(tape, "binance", SYMBOL, m))
        for m, (*got, covered) in stored.items()
        if covered and tuple(got) != minute_flows(tape, "binance", SYMBOL, m)
    }
    assert wrong == {}, f"covered minutes (M0 + n) that are not the tape: {wrong}"
    assert stored.get(m0 + 1, (0, 0, False))[2], "M1 (the reconnect's partial minute) is backfilled and covered"
