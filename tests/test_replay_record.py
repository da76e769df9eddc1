"""`gme-tui record` (issue 12 item 4): nothing recorded leaves no file that replays as valid; the
output's folder must exist; an existing recording is never clobbered by a failed run."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence

import msgspec
import pytest

from gme_tui.model import ExchangeHealth, HealthState, Listings, SourceItem, SourceMode, Trade
from gme_tui.settings import Settings
from gme_tui.sources.recorder import PARTIAL_SUFFIX, OutputPathError, record, require_parent_dir
from gme_tui.sources.replay import ReplaySource


class Scripted:
    """A source that hands out the given batches, then ends."""

    mode = SourceMode.LIVE

    def __init__(self, batches: Sequence[Sequence[SourceItem]], reason: str = "") -> None:
        self._batches = batches
        self._reason = reason
        self.closed = False

    async def batches(self) -> AsyncIterator[Sequence[SourceItem]]:
        for batch in self._batches:
            yield batch

    def health(self) -> Sequence[ExchangeHealth]:
        return [ExchangeHealth("okx", HealthState.DOWN, 0, reason=self._reason)] if self._reason else []

    async def close(self) -> None:
        self.closed = True


TRADE = Trade("okx", "BTC/USDT", 120_000, "buy", 2.0, 1.0, "7")


@pytest.mark.parametrize("name", ["r.jsonl", "r.jsonl.gz"])
async def test_nothing_recorded_leaves_no_file(tmp_path, name):
    out = tmp_path / name
    source = Scripted([[Listings({"BTC/USDT": ("okx",)})]], reason="DNS lookup failed")
    assert await record(Settings(), out, None, source=source) == 1
    assert sorted(tmp_path.iterdir()) == [] and source.closed


async def test_a_failed_run_does_not_clobber_an_existing_recording(tmp_path):
    out = tmp_path / "r.jsonl"
    out.write_text('{"type":"meta","listings":{}}\nprecious\n', encoding="utf-8")
    assert await record(Settings(), out, None, source=Scripted([[]])) == 1
    assert out.read_text(encoding="utf-8") == '{"type":"meta","listings":{}}\nprecious\n'
    assert not (tmp_path / ("r.jsonl" + PARTIAL_SUFFIX)).exists()


@pytest.mark.parametrize("name", ["r.jsonl", "r.jsonl.gz"])
async def test_a_recording_takes_its_name_when_done_and_replays(tmp_path, name):
    out = tmp_path / name
    source = Scripted([[Listings({"BTC/USDT": ("okx",)})], [TRADE]])
    assert await record(Settings(), out, None, source=source) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]
    assert list(ReplaySource(out).items()) == [Listings({"BTC/USDT": ("okx",)}), TRADE]


async def test_a_missing_folder_is_exit_2_and_is_not_created(tmp_path, capsys):
    out = tmp_path / "no" / "such" / "r.jsonl"
    source = Scripted([[TRADE]])
    assert await record(Settings(), out, None, source=source) == 2
    assert not (tmp_path / "no").exists() and source.closed
    assert capsys.readouterr().err.strip() == (f"gme-tui record: --out {out}: the folder {out.parent} does not exist")


def test_require_parent_dir(tmp_path):
    require_parent_dir(tmp_path / "x.db", "--store")
    (tmp_path / "file").write_text("", encoding="utf-8")
    with pytest.raises(OutputPathError, match="is not a folder"):
        require_parent_dir(tmp_path / "file" / "x.db", "--store")
    with pytest.raises(OutputPathError, match=r"^--store .*: the folder .* does not exist$"):
        require_parent_dir(tmp_path / "a" / "x.db", "--store")


def test_record_with_a_missing_folder_through_the_cli(tmp_path, run_cli):
    out = tmp_path / "missing" / "r.jsonl"
    done = run_cli("record", "--out", str(out), "--minutes", "0.01")
    assert done.returncode == 2
    assert done.stderr.decode().strip().splitlines()[-1] == (
        f"gme-tui record: --out {out}: the folder {out.parent} does not exist"
    )
    assert not out.parent.exists()


def test_a_store_in_a_missing_folder_is_exit_2(tmp_path, run_cli):
    replay = tmp_path / "t.jsonl"
    replay.write_text(json.dumps({**msgspec.structs.asdict(TRADE), "ts": 120_000}) + "\n", encoding="utf-8")
    database = tmp_path / "nowhere" / "history.db"
    done = run_cli("--replay", str(replay), "--json", "--store", str(database))
    assert done.returncode == 2
    assert done.stderr.decode().strip() == f"gme-tui: --store {database}: the folder {database.parent} does not exist"
    assert not database.parent.exists()
