"""`record` writes meta, then the backfilled window as buckets, then trades (scripted sources)."""

from __future__ import annotations

import json

from gme_tui.model import Listings, MinuteBucket, Trade
from gme_tui.settings import Settings
from gme_tui.sources.recorder import record

# The live recording through the fake (backfilled window, then trades, replayed with a full
# window) is tests/live/test_faults_recorder_phase.py, run at three fixed phases of the minute.


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
