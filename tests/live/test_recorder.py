"""`record` writes meta, then the backfilled window as buckets, then trades; .gz compresses."""

from __future__ import annotations

import asyncio
import gzip
import json
import os
import signal

from gme_tui.engine import Engine, EngineConfig
from gme_tui.model import MINUTE_MS, Listings, MinuteBucket, Scan, Trade
from gme_tui.settings import Settings
from gme_tui.sources.live import LiveSource
from gme_tui.sources.recorder import backfill_ready, record
from tests.fakes.exchange import make_tape
from tests.live.conftest import make_settings


async def test_a_live_recording_of_the_fake_replays_with_a_full_window(fake_fast, tmp_path):
    fake, clock = fake_fast, fake_fast.clock
    start = clock.wall_ms()
    history = make_tape(fake, "binance", ["BTC/USDT"], 40, start - 4 * MINUTE_MS, start - 50)
    fake.add_history(history)
    settings = make_settings(fake, ("binance",), ["BTC/USDT"], window=3)
    source = LiveSource(settings, clock=clock)
    out = tmp_path / "rec.jsonl.gz"

    async def publish_some() -> None:
        await fake.wait_subscribed("binance", 1)
        for _ in range(200):
            now = clock.wall_ms()
            await fake.publish(make_tape(fake, "binance", ["BTC/USDT"], 2, now - 10, now))
            await clock.sleep(3)

    async def stop_when_recorded() -> None:
        """SIGTERM (as a user would stop it) once the window is backfilled and trades followed:
        on the test clock, so a loaded machine cannot cut the recording short."""
        for _ in range(600):
            await clock.sleep(1)
            health = source.health()
            if health and backfill_ready(health) and health[0].backfill_total and len(fake.history["binance"]) > 50:
                os.kill(os.getpid(), signal.SIGTERM)
                return

    market = asyncio.create_task(publish_some())
    stopper = asyncio.create_task(stop_when_recorded())
    try:
        assert await asyncio.wait_for(record(settings, out, minutes=None, source=source), 30) == 0
    finally:
        market.cancel()
        stopper.cancel()
        await asyncio.gather(market, stopper, return_exceptions=True)
    # The recording's window is the one before the minute its stream came up in, which is not
    # the minute the test started in when it starts in the last seconds of one (issue 10 "Also").
    up_minute = fake.connect_times["binance"][0] // MINUTE_MS
    with gzip.open(out, "rt") as file:
        lines = [json.loads(line) for line in file]
    assert lines[0] == {"type": "meta", "listings": {"BTC/USDT": ["binance"]}}
    kinds = [line.get("type", "trade") for line in lines[1:]]
    first_trade = kinds.index("trade")
    assert kinds[:first_trade] == ["bucket"] * first_trade and first_trade >= 3
    assert all(isinstance(line["id"], str) for line in lines[1:] if line.get("type", "trade") == "trade")

    # replayed through the engine (data clock), the first scan after the start has a full window
    engine = Engine(EngineConfig(exchanges=("binance",), window_minutes=3, warmup=False))
    scans = []
    for line in lines[1:]:
        if line.get("type") == "bucket":
            item = MinuteBucket(line["exchange"], line["symbol"], line["minute"], line["buy"], line["sell"])
        else:
            item = Trade(
                line["exchange"], line["symbol"], line["ts"], line["side"], line["price"], line["amount"], line["id"]
            )
        scans += [e for e in engine.feed(item) if isinstance(e, Scan)]
    scan = next(s for s in scans if s.ts == up_minute * MINUTE_MS)
    expected = sum(
        t.value if t.side == "buy" else -t.value for t in history if up_minute - 3 <= t.ts // MINUTE_MS < up_minute
    )
    assert scan.symbols[0].exchanges["binance"].net == expected


class ScriptedSource:
    mode = "live"

    def __init__(self, batches):
        self._batches = batches
        self.closed = False

    async def batches(self):
        for batch in self._batches:
            yield batch

    def health(self):
        return []

    async def close(self):
        self.closed = True


async def test_plain_file_order_and_clean_end(tmp_path):
    source = ScriptedSource(
        [
            [Listings({"BTC/USDT": ("okx",)})],
            [Trade("okx", "BTC/USDT", 120_000, "buy", 2.0, 1.0, "7")],
            [MinuteBucket("okx", "BTC/USDT", 1, 3.0, 1.0)],
        ]
    )
    out = tmp_path / "r.jsonl"
    assert await record(Settings(), out, None, source=source) == 0
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [line.get("type", "trade") for line in lines] == ["meta", "trade", "bucket"] or [
        line.get("type", "trade") for line in lines
    ] == ["meta", "bucket", "trade"]
    assert source.closed


async def test_bucket_lines_keep_count_and_close(tmp_path):
    source = ScriptedSource([[Listings({"BTC/USDT": ("okx",)}), MinuteBucket("okx", "BTC/USDT", 1, 3.0, 1.0, 4, 42.5)]])
    out = tmp_path / "r.jsonl"
    assert await record(Settings(), out, None, source=source) == 0
    bucket = json.loads(out.read_text().splitlines()[1])
    assert bucket == {
        "type": "bucket",
        "exchange": "okx",
        "symbol": "BTC/USDT",
        "minute": 1,
        "buy": 3.0,
        "sell": 1.0,
        "count": 4,
        "close": 42.5,
    }


async def test_nothing_recorded_is_exit_1_with_the_reasons(tmp_path, caplog):
    from gme_tui.model import ExchangeHealth

    class Unreachable(ScriptedSource):
        def health(self):
            return [ExchangeHealth("okx", "down", 0, reason="DNS lookup failed")]

    out = tmp_path / "r.jsonl"
    assert await record(Settings(), out, None, source=Unreachable([[Listings({})]])) == 1
    assert "nothing recorded" in caplog.text and "okx: DNS lookup failed" in caplog.text
