"""Replay end to end through the command line: exact JSON events, .gz, damage, bad input."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import orjson

from gme_tui.sources.replay import BOM as BOM_BYTES

M0 = 29_425_500  # a minute number; its start is ts0
TS0 = M0 * 60_000


def _trade(ts: int, exchange: str, side: str, price: float, amount: float, trade_id) -> dict:
    return {
        "ts": ts,
        "exchange": exchange,
        "symbol": "BTC/USDT",
        "side": side,
        "price": price,
        "amount": amount,
        "id": trade_id,
    }


def scenario_lines() -> list[str]:
    """Two-minute window: the first reported scan is strong bullish with A+ and A; the final scan
    is mixed with C. One whale: two fills of one coinbase order merged."""
    rows: list = [
        {"type": "meta", "listings": {"BTC/USDT": ["binance", "okx", "bybit", "coinbase"]}},
        _trade(TS0 + 1_000, "binance", "buy", 1000.0, 2.0, "1"),
        _trade(TS0 + 2_000, "okx", "buy", 1000.0, 3.0, "a1"),
        _trade(TS0 + 2_500, "bybit", "buy", 1000.0, 4.0, 7),
        _trade(TS0 + 3_000, "coinbase", "buy", 1000.0, 1500.0, "c1"),
        _trade(TS0 + 3_000, "coinbase", "buy", 1000.0, 500.0, "c2"),  # same order: merged
        "this line is broken",
        _trade(TS0 + 61_000, "binance", "sell", 1000.0, 0.5, "2"),
        _trade(TS0 + 62_000, "okx", "sell", 1000.0, 1.0, "a2"),
        _trade(TS0 + 63_000, "coinbase", "sell", 1000.0, 100.0, "c3"),
        _trade(TS0 + 125_000, "binance", "buy", 1000.0, 1.0, "3"),
        _trade(TS0 + 125_500, "binance", "buy", 1000.0, 1.0, "3"),  # duplicate id: skipped
        _trade(TS0 + 126_000, "okx", "buy", 1000.0, 2.0, "a3"),
        _trade(TS0 + 127_000, "coinbase", "sell", 1000.0, 2.0, "c4"),
        {"type": "meta", "listings": {}},  # not first: a bad line
    ]
    return [row if isinstance(row, str) else json.dumps(row) for row in rows]


EXPECTED = [
    {
        "type": "whale",
        "ts": TS0 + 3_000,
        "exchange": "coinbase",
        "symbol": "BTC/USDT",
        "side": "buy",
        "price": 1000.0,
        "amount": 2000.0,
        "value": 2_000_000.0,
    },
    {
        "type": "consensus",
        "ts": TS0 + 120_000,
        "symbol": "BTC/USDT",
        "level": "strong_bullish",
        "flows": {"binance": 1500.0, "okx": 2000.0, "bybit": 4000.0, "coinbase": 1_900_000.0},
        "ratios": {"binance": 4.0, "okx": 3.0, "bybit": None, "coinbase": 20.0},
        "total": 1_907_500.0,
    },
    {
        "type": "signal",
        "ts": TS0 + 120_000,
        "symbol": "BTC/USDT",
        "grade": "A+",
        "code": "global_sync_bullish",
        "direction": "bullish",  # SPEC §7: every signal line carries its direction
        "flows": {"binance": 1500.0, "okx": 2000.0, "bybit": 4000.0, "coinbase": 1_900_000.0},
    },
    {
        "type": "signal",
        "ts": TS0 + 120_000,
        "symbol": "BTC/USDT",
        "grade": "A",
        "code": "us_institutional_accumulation",
        "direction": "bullish",  # SPEC §7: every signal line carries its direction
        "flows": {"binance": 1500.0, "okx": 2000.0, "bybit": 4000.0, "coinbase": 1_900_000.0},
    },
    {
        "type": "consensus",
        "ts": TS0 + 180_000,
        "symbol": "BTC/USDT",
        "level": "mixed",
        "flows": {"binance": 500.0, "okx": 1000.0, "bybit": 0.0, "coinbase": -102_000.0},
        "ratios": {"binance": 2.0, "okx": 2.0, "bybit": None, "coinbase": 0.0},
        "total": -100_500.0,
    },
    {
        "type": "signal",
        "ts": TS0 + 180_000,
        "symbol": "BTC/USDT",
        "grade": "C",
        "code": "single_platform_long_trap",
        "direction": "bearish",  # SPEC §7: every signal line carries its direction
        "flows": {"binance": 500.0, "okx": 1000.0, "bybit": 0.0, "coinbase": -102_000.0},
    },
]


def _settings(tmp_path: Path, window: int = 2, language: str = "zh") -> Path:
    """A settings file: UTC, a `window`-minute window, `language` (zh: the default settings')."""
    path = tmp_path / "settings.toml"
    path.write_text(f'language = "{language}"\ntimezone = "UTC"\n[window]\nminutes = {window}\n', encoding="utf-8")
    return path


def _english(tmp_path: Path) -> Path:
    """The default settings but in English: for the tests that pin the English summary lines."""
    path = tmp_path / "english.toml"
    path.write_text('language = "en"\n', encoding="utf-8")
    return path


def _events(stdout: bytes) -> list[dict]:
    return [orjson.loads(line) for line in stdout.splitlines()]


def test_replay_json_events_are_exact(tmp_path, run_cli):
    replay = tmp_path / "tape.jsonl"
    replay.write_text("\n".join(scenario_lines()) + "\n", encoding="utf-8")
    done = run_cli("--config", str(_settings(tmp_path, language="en")), "--replay", str(replay), "--headless", "--json")
    assert done.returncode == 0, done.stderr
    assert _events(done.stdout) == EXPECTED
    stderr = done.stderr.decode()
    assert "tape.jsonl:7: line skipped: not valid JSON" in stderr
    assert "tape.jsonl:15: line skipped: meta line that is not the first line" in stderr
    assert "2 bad lines skipped" in stderr and "1 duplicates skipped" in stderr
    assert "Traceback" not in stderr


def test_gzip_replay_gives_the_same_events(tmp_path, run_cli):
    replay = tmp_path / "tape.jsonl.gz"
    replay.write_bytes(gzip.compress(("\n".join(scenario_lines()) + "\n").encode()))
    done = run_cli("--config", str(_settings(tmp_path)), "--replay", str(replay), "--json")
    assert done.returncode == 0, done.stderr
    assert _events(done.stdout) == EXPECTED


def test_truncated_gzip_reports_what_was_read_then_exits_2(tmp_path, run_cli):
    body = ("\n".join(scenario_lines()) + "\n").encode()
    whole = gzip.compress(body * 3)
    replay = tmp_path / "cut.jsonl.gz"
    replay.write_bytes(whole[: len(whole) - 30])  # the end of the stream is missing
    done = run_cli("--config", str(_settings(tmp_path)), "--replay", str(replay), "--json")
    assert done.returncode == 2
    stderr = done.stderr.decode()
    assert "truncated or corrupt" in stderr and "Traceback" not in stderr
    events = _events(done.stdout)
    assert events[: len(EXPECTED)] == EXPECTED  # the first copy of the tape was read in full


def test_headless_log_lines_in_the_original_style(tmp_path, run_cli):
    replay = tmp_path / "tape.jsonl"
    replay.write_text("\n".join(scenario_lines()) + "\n", encoding="utf-8")
    done = run_cli("--config", str(_settings(tmp_path)), "--replay", str(replay), "--headless")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.decode().splitlines()
    t = "2025-12-12 09:0"
    assert lines == [
        f"{t}0:03 | INFO  - 🐳 [BTC/USDT] 巨鲸监测 [COINBASE]: 买入 $2,000,000 @ 1,000 (2 笔成交)",
        f"{t}2:00 | INFO  - 💰 BTC/USDT | 共识: 强力看涨 (Strong Bullish) | BIN:+2k | OKX:+2k | BYB:+4k | COI:+1.90M | 总净流入: +1.91M",
        f"{t}2:00 | CRITICAL - 🚨 [BTC/USDT] 信号触发 [A+]: 全球协同看涨 (Global Sync Bullish) - 主力全平台吸筹，市场做多情绪一致。",
        f"{t}2:00 | CRITICAL - 🚨 [BTC/USDT] 信号触发 [A]: 美资机构吸筹 (US Institutional Accumulation) - Coinbase 领涨，机构资金流入显著。",
        f"{t}3:00 | INFO  - 💰 BTC/USDT | 共识: 震荡/分歧 (Mixed) | BIN:+0.5k | OKX:+1k | BYB:0k | COI:-102k | 总净流出: -100k",
        f"{t}3:00 | CRITICAL - 🚨 [BTC/USDT] 信号触发 [C]: 单平台诱多 (Single Platform Long Trap) - 东方交易所买入，西方交易所卖出。警惕诱多。",
    ]


def test_warm_up_with_the_default_window_and_bucket_lines(tmp_path, run_cli):
    """A recording that starts with 50 bucket minutes reports from its first streamed minute."""
    rows = [
        json.dumps(
            {
                "type": "bucket",
                "exchange": "binance",
                "symbol": "ETH/USDT",
                "minute": M0 + m,
                "buy": 2000.0,
                "sell": 500.0,
            }
        )
        for m in range(50)
    ]
    rows.append(rows[3])  # a second bucket line for the same minute: duplicate
    rows.append(json.dumps(_trade(TS0 + 50 * 60_000 + 10, "binance", "buy", 10.0, 1.0, "x") | {"symbol": "ETH/USDT"}))
    replay = tmp_path / "buckets.jsonl"
    replay.write_text("\n".join(rows) + "\n", encoding="utf-8")
    settings = tmp_path / "s.toml"
    settings.write_text('language = "en"\ntimezone = "UTC"\n[consensus]\nmin_exchanges = 1\n', encoding="utf-8")
    done = run_cli("--config", str(settings), "--replay", str(replay), "--json")
    assert done.returncode == 0, done.stderr
    events = _events(done.stdout)
    assert [e["ts"] for e in events if e["type"] == "consensus"] == [TS0 + 50 * 60_000, TS0 + 51 * 60_000]
    first = events[0]
    assert first["flows"] == {"binance": 50 * 1500.0} and first["level"] == "strong_bullish"
    assert first["ratios"] == {"binance": 4.0}
    assert "1 duplicates skipped" in done.stderr.decode()


def test_empty_file_is_exit_2_with_one_line(tmp_path, run_cli):
    """SPEC §8 (issue 12): an empty file is unusable input, not a silent exit 0."""
    for name, body in (("empty.jsonl", ""), ("blank.jsonl", "\n\n")):
        replay = tmp_path / name
        replay.write_text(body, encoding="utf-8")
        done = run_cli("--replay", str(replay), "--json")
        assert done.returncode == 2
        assert done.stdout == b""
        what = "the file is empty" if not body else "the file holds only blank lines"
        assert done.stderr.decode().strip() == f"gme-tui: {replay}: nothing to replay: {what}"


def test_file_of_only_bad_lines_is_exit_2_naming_the_reasons(tmp_path, run_cli):
    replay = tmp_path / "bad.jsonl"
    replay.write_text('{"ts": "1", "exchange": "binance"}\n[1, 2]\n', encoding="utf-8")
    done = run_cli("--replay", str(replay), "--json")
    assert done.returncode == 2
    assert done.stdout == b""
    assert done.stderr.decode().strip() == (
        f"gme-tui: {replay}: nothing to replay: no valid line in 2 lines"
        " (1 not a JSON object, 1 symbol is not a non-empty string)"
    )


def test_random_bytes_are_exit_2(tmp_path, run_cli):
    import random

    replay = tmp_path / "noise.jsonl"
    replay.write_bytes(bytes(random.Random(3).randrange(1, 256) for _ in range(5_000)))
    done = run_cli("--replay", str(replay), "--json")
    assert done.returncode == 2
    stderr = done.stderr.decode()
    assert stderr.startswith(f"gme-tui: {replay}: nothing to replay: no valid line in ")
    assert "Traceback" not in stderr and len(stderr.strip().splitlines()) == 1


def test_a_long_file_of_bad_lines_is_exit_2_at_its_end(tmp_path, run_cli):
    """Past the lines `check` reads ahead, the replay itself ends with the same error."""
    from gme_tui.sources.replay import CHECK_LINES

    replay = tmp_path / "long.jsonl"
    replay.write_text('{"exchange": []}\n' * (CHECK_LINES + 5), encoding="utf-8")
    done = run_cli("--replay", str(replay), "--json")
    assert done.returncode == 2
    stderr = done.stderr.decode()
    assert done.stdout == b"" and "Traceback" not in stderr
    assert f"gme-tui: {replay}: nothing to replay: no valid line in {CHECK_LINES + 5} lines" in stderr


def test_missing_replay_file_is_exit_2_without_traceback(tmp_path, run_cli):
    done = run_cli("--replay", str(tmp_path / "nope.jsonl"), "--json")
    assert done.returncode == 2
    assert done.stderr.decode().strip() == f"gme-tui: replay file not found: {tmp_path / 'nope.jsonl'}"


def test_a_directory_is_not_a_replay_file(tmp_path, run_cli):
    done = run_cli("--replay", str(tmp_path), "--json")
    assert done.returncode == 2
    assert "is a directory" in done.stderr.decode() and "Traceback" not in done.stderr.decode()


def test_unknown_flag_is_exit_2(run_cli):
    done = run_cli("--frobnicate")
    assert done.returncode == 2
    assert "unrecognized arguments: --frobnicate" in done.stderr.decode()


def test_speed_without_a_replay_is_refused(run_cli):
    done = run_cli("--speed", "2", "--headless")
    assert done.returncode == 2
    assert done.stderr.decode().strip() == "gme-tui: --speed goes with --demo or --replay"


def test_bad_settings_file_names_key_and_line(tmp_path, run_cli):
    settings = tmp_path / "bad.toml"
    settings.write_text('language = "zh"\n\n[window]\nminutes = "fifty"\n', encoding="utf-8")
    replay = tmp_path / "t.jsonl"
    replay.write_text("", encoding="utf-8")
    done = run_cli("--config", str(settings), "--replay", str(replay), "--json")
    assert done.returncode == 2
    assert done.stderr.decode().strip() == (
        f"gme-tui: {settings}: window.minutes (line 4): expected a number, got a string ('fifty')"
    )


def test_version(run_cli):
    done = run_cli("--version")
    assert done.returncode == 0
    assert done.stdout.decode().startswith("gme-tui ")


def test_replay_with_store_writes_minutes_and_signals_and_prints_the_same(tmp_path, run_cli):
    import sqlite3

    replay = tmp_path / "tape.jsonl"
    replay.write_text("\n".join(scenario_lines()) + "\n", encoding="utf-8")
    database = tmp_path / "history.db"
    done = run_cli("--config", str(_settings(tmp_path)), "--replay", str(replay), "--json", "--store", str(database))
    assert done.returncode == 0, done.stderr
    assert _events(done.stdout) == EXPECTED  # storing changes nothing of the output
    with sqlite3.connect(database) as db:
        tables = {row[0] for row in db.execute("select name from sqlite_master where type = 'table'")}
        counts = {name: db.execute(f"select count(*) from {name}").fetchone()[0] for name in tables}
    assert any(count >= 7 for name, count in counts.items() if "minute" in name), (
        counts
    )  # 3 minutes x 4 pairs, less gaps
    assert any(count == 3 for name, count in counts.items() if "signal" in name), counts
    assert any(count == 1 for name, count in counts.items() if "whale" in name), counts


def test_replay_without_store_writes_no_database(tmp_path, run_cli):
    replay = tmp_path / "tape.jsonl"
    replay.write_text("\n".join(scenario_lines()) + "\n", encoding="utf-8")
    done = run_cli("--config", str(_settings(tmp_path)), "--replay", str(replay), "--json")
    assert done.returncode == 0
    assert sorted(p.name for p in tmp_path.rglob("*.db*")) == []  # replays stay pure: no store anywhere


def test_unusable_store_path_is_exit_2(tmp_path, run_cli):
    replay = tmp_path / "tape.jsonl"
    replay.write_text("\n".join(scenario_lines()) + "\n", encoding="utf-8")
    bogus = tmp_path / "not-a-db.db"
    bogus.write_text("this is not sqlite", encoding="utf-8")
    done = run_cli("--replay", str(replay), "--json", "--store", str(bogus))
    assert done.returncode == 2
    assert done.stderr.decode().startswith("gme-tui: ") and "Traceback" not in done.stderr.decode()


NASTY = [
    '{"exchange":[]}',
    '{"exchange":{"binance":1},"symbol":"BTC/USDT","side":"buy","ts":1,"price":1,"amount":1}',
    json.dumps(_trade(TS0 + 4_000, "okx", "buy", 1000.0, 1.0, "n1") | {"side": ["buy"]}),
    json.dumps(_trade(TS0 + 4_000, "okx", "buy", 1000.0, 1.0, "n2") | {"side": {"buy": True}}),
    json.dumps(_trade(TS0 + 4_000, "okx", "buy", 1e308, 10.0, "n3")),  # price × amount overflows
    '{"type":"meta","listings":{"BTC/USDT":[["binance"]]}}',
]


def test_bad_lines_of_any_shape_are_skipped_end_to_end(tmp_path, run_cli):
    """Issue 12 item 6: arrays and objects where strings belong, a non-finite value: skipped,
    counted and logged with their numbers; the events are those of the file without them."""
    lines = scenario_lines()
    lines[2:2] = NASTY
    replay = tmp_path / "nasty.jsonl"
    replay.write_bytes(BOM_BYTES + ("\n".join(lines) + "\n").encode())  # a BOM before the meta line too
    for mode in ("--json", "--headless"):
        done = run_cli("--config", str(_settings(tmp_path, language="en")), "--replay", str(replay), mode)
        assert done.returncode == 0, done.stderr
        stderr = done.stderr.decode()
        assert "Traceback" not in stderr
        for number in range(3, 3 + len(NASTY)):
            assert f"nasty.jsonl:{number}: line skipped: " in stderr
        assert f"{len(NASTY) + 2} bad lines skipped" in stderr
        if mode == "--json":
            assert _events(done.stdout) == EXPECTED
        else:
            assert len(done.stdout.decode().splitlines()) == 6  # every line printed, no OverflowError


def test_far_past_trade_and_a_duplicate_ahead(tmp_path, run_cli):
    """ts 0 after a first trade of the same pair is late (no 1.4 GB); a duplicate 23 h ahead does
    not move data time, so a trade 47 h ahead is a bad line: 0 events."""
    far_past = tmp_path / "past.jsonl"
    far_past.write_text(
        json.dumps(_trade(TS0 + 1_000, "binance", "buy", 10.0, 1.0, "1"))
        + "\n"
        + json.dumps(_trade(0, "binance", "buy", 10.0, 1.0, "2"))
        + "\n",
        encoding="utf-8",
    )
    done = run_cli("--config", str(_english(tmp_path)), "--replay", str(far_past), "--json")
    assert done.returncode == 0 and done.stdout == b""
    assert "Traceback" not in done.stderr.decode()
    ahead = tmp_path / "ahead.jsonl"
    hour = 3_600_000
    ahead.write_text(
        "\n".join(
            json.dumps(_trade(TS0 + offset, "binance", "buy", 10.0, 1.0, 1))
            if i < 2
            else json.dumps(_trade(TS0 + offset, "binance", "buy", 10.0, 1.0, 2))
            for i, offset in enumerate((0, 23 * hour, 47 * hour))
        ),
        encoding="utf-8",
    )
    done = run_cli("--config", str(_english(tmp_path)), "--replay", str(ahead), "--json")
    assert done.returncode == 0 and done.stdout == b""
    stderr = done.stderr.decode()
    assert "ahead.jsonl:3: line skipped: ts more than 24 h beyond data time" in stderr
    assert "1 duplicates skipped" in stderr


# ---------------------------------------------------------------- short files, late trades, the scorecard


def test_a_file_shorter_than_a_window_says_so(tmp_path, run_cli):
    replay = tmp_path / "short.jsonl"
    replay.write_text(json.dumps(_trade(TS0 + 1_000, "binance", "buy", 10.0, 1.0, "1")) + "\n", encoding="utf-8")
    done = run_cli("--config", str(_settings(tmp_path, language="en")), "--replay", str(replay), "--json")
    assert done.returncode == 0 and done.stdout == b""
    assert (
        "the replay ended before a full window: its data covers 1 minute, a scan needs 2; no scan was reported"
        in done.stderr.decode()
    )


def test_late_trades_dropped_by_the_source_are_in_the_summary(tmp_path, run_cli):
    replay = tmp_path / "late.jsonl"
    rows = [_trade(TS0 + 1_000, "binance", "buy", 10.0, 1.0, "1"), _trade(0, "binance", "buy", 10.0, 1.0, "2")]
    replay.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    done = run_cli("--config", str(_english(tmp_path)), "--replay", str(replay), "--json")
    assert done.returncode == 0
    assert "1 late trades dropped" in done.stderr.decode()


def test_the_summary_lines_in_the_default_language(tmp_path, run_cli):
    """Issue 13: the lines a trader reads on stderr follow settings.language (zh by default);
    the event lines keep the original's bilingual style."""
    replay = tmp_path / "tape.jsonl"
    replay.write_text("\n".join(scenario_lines()) + "\n", encoding="utf-8")
    done = run_cli("--config", str(_settings(tmp_path)), "--replay", str(replay), "--headless")
    assert done.returncode == 0, done.stderr
    finished = [line for line in done.stderr.decode().splitlines() if "回放结束" in line]
    assert len(finished) == 1
    assert finished[0].endswith(
        "回放结束：15 行，11 笔成交，0 个分钟数据，报告 2 次扫描，"
        "跳过 2 行坏数据（1 meta line that is not the first line，1 not valid JSON），跳过 1 笔重复成交"
    )
    assert "共识: 强力看涨 (Strong Bullish)" in done.stdout.decode()
    short = tmp_path / "short.jsonl"
    short.write_text(json.dumps(_trade(TS0 + 1_000, "binance", "buy", 10.0, 1.0, "1")) + "\n", encoding="utf-8")
    done = run_cli("--replay", str(short), "--json")  # no settings file at all: the defaults
    assert done.returncode == 0
    stderr = done.stderr.decode()
    assert "回放在满一个窗口前结束：数据只覆盖 1 分钟，一次扫描需要 50 分钟；没有报告扫描" in stderr
    assert "the replay" not in stderr and "replay finished" not in stderr


def test_the_scorecard_subcommand(tmp_path, run_cli):
    replay = tmp_path / "tape.jsonl"
    replay.write_text("\n".join(scenario_lines()) + "\n", encoding="utf-8")
    done = run_cli("--config", str(_settings(tmp_path)), "scorecard", "--replay", str(replay), "--json")
    assert done.returncode == 0, done.stderr
    card = orjson.loads(done.stdout)
    assert card["horizons"] == [15, 60, 240] and "global_sync_bullish" in card["codes"]


def test_config_is_honoured_before_and_after_a_subcommand(tmp_path, run_cli):
    """`--config` before the subcommand used to be dropped by the subparser's default."""
    bad = tmp_path / "bad.toml"
    bad.write_text("[window]\nminutes = 0\n", encoding="utf-8")
    replay = tmp_path / "tape.jsonl"
    replay.write_text("\n".join(scenario_lines()) + "\n", encoding="utf-8")
    for args in (
        ("--config", str(bad), "scorecard", "--replay", str(replay)),
        ("scorecard", "--config", str(bad), "--replay", str(replay)),
        ("--config", str(bad), "notify-test"),
        ("notify-test", "--config", str(bad)),
    ):
        result = run_cli(*args)
        assert result.returncode == 2, args
        assert "window.minutes (line 2)" in result.stderr.decode(), args
