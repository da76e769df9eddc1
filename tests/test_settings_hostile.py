"""Hostile settings files: each is refused with one SettingsError line naming the file, the key, its
line and what would be valid (exit 2 from the command line), never a traceback."""

from __future__ import annotations

import os
from pathlib import Path

import msgspec
import pytest

from gme_tui.settings import (
    ExchangeSettings,
    Settings,
    SettingsError,
    UiSettings,
    load_settings,
    parse_dotenv,
    parse_settings,
    save_changes,
)

HUGE = "1" + "0" * 320  # beyond any float: found by fuzzing, it ended in an OverflowError traceback

FLOAT_KEYS = [
    ("consensus", "strong_flow"),
    ("consensus", "lean_total"),
    ("signals", "aplus_ratio"),
    ("signals", "a_min_flow"),
    ("signals", "a_multiple"),
    ("whales", "threshold"),
    ("alerts", "whale_notify_threshold"),
]


def refusal(text: str) -> str:
    with pytest.raises(SettingsError) as caught:
        parse_settings(text, Path("s.toml"))
    return str(caught.value)


@pytest.mark.parametrize(("section", "key"), FLOAT_KEYS)
def test_a_huge_integer_where_a_float_goes_is_out_of_range(section, key):
    assert refusal(f"[{section}]\n{key} = {HUGE}\n") == (
        f"s.toml: {section}.{key} (line 2): 1.00e+320 is above the maximum 1e+308"
    )
    assert (
        refusal(f"[{section}]\n{key} = -{HUGE}\n")
        == f"s.toml: {section}.{key} (line 2): -1.00e+320 is below the minimum 0"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[consensus]\nlean_total = nan\n", "consensus.lean_total (line 2): expected a finite number"),
        ("[consensus]\nlean_total = inf\n", "consensus.lean_total (line 2): expected a finite number"),
        ("[consensus]\nlean_total = -inf\n", "consensus.lean_total (line 2): expected a finite number"),
        ("[consensus]\nlean_total = -5\n", "consensus.lean_total (line 2): -5 is below the minimum 0"),
        ("[consensus]\nmin_exchanges = 5\n", "consensus.min_exchanges (line 2): 5 is above the maximum 4"),
        (f"[window]\nminutes = {HUGE}\n", "window.minutes (line 2): 1.00e+320 is above the maximum 1440"),
        ("[window]\nminutes = inf\n", "window.minutes (line 2): expected a whole number, got inf"),
        ("[window]\nminutes = 2024-01-01\n", "window.minutes (line 2): expected a number, got a date (2024-01-01)"),
        ("[alerts]\ngive_up_hours = 0.01\n", "alerts.give_up_hours (line 2): 0.01 is below the minimum 0.1"),
        ("[store]\npath = 5\n", "store.path (line 2): expected a string, got a number (5)"),
        ("timezone = 5\n", "timezone (line 1): expected a string, got a number (5)"),
        ('timezone = "UTC/"\n', "timezone (line 1): unknown time zone 'UTC/'"),
        ('timezone = "America"\n', "timezone (line 1): unknown time zone 'America'"),
        # arrays where tables go, tables where values go
        ("[[window]]\nminutes = 5\n", "window (line 1): expected a table, got a list"),
        ("[[exchanges.okx]]\nenabled = true\n", "exchanges.okx (line 1): expected a table, got a list"),
        ("[exchanges]\nokx = 3\n", "exchanges.okx (line 2): expected a table, got a number (3)"),
        ("[exchanges.okx]\nccxt = 5\n", "exchanges.okx.ccxt (line 2): expected a table, got a number (5)"),
        ('[symbols]\nquote_map = ["USD"]\n', "symbols.quote_map (line 2): expected a table, got a list"),
        ("[window.minutes]\nx = 1\n", "window.minutes (line 1): expected a number, got a table"),
        # keys it does not know
        (
            "[exchanges.okx]\nenbled = true\n",
            "exchanges.okx.enbled (line 2): unknown key (known here: ccxt, enabled, perp, perp_ccxt)",
        ),
        (
            'source_path = "/etc"\n',
            "source_path (line 1): unknown key (known here: alerts, colour_convention, consensus, derivatives, exchanges, language, live, log, scorecard, "
            "signals, store, symbols, timezone, ui, whales, window)",
        ),
        (
            '[symbols.quote_map]\nkraken = ["USD"]\n',
            "symbols.quote_map.kraken (line 2): unknown exchange (known: binance, okx, bybit, coinbase)",
        ),
        # lists
        (
            '[symbols.quote_map]\ncoinbase = "USD"\n',
            "symbols.quote_map.coinbase (line 2): expected a list of strings, got a string ('USD')",
        ),
        (
            '[symbols.quote_map]\ncoinbase = ["USD", 1]\n',
            "symbols.quote_map.coinbase (line 2): expected a list of strings, got a list holding a number (1)",
        ),
        (
            '[alerts]\nmuted = ["BTC/USDT", true]\n',
            "alerts.muted (line 2): expected a list of strings, got a list holding a boolean (true)",
        ),
        (
            '[alerts]\nnotify_grades = "A"\n',
            "alerts.notify_grades (line 2): expected a list of strings, got a string ('A')",
        ),
        # closed sets
        ('[symbols]\nuniverse = "all"\n', "symbols.universe (line 2): 'all' is not one of list, okx_all"),
        ('[log]\nlevel = "debug"\n', "log.level (line 2): 'debug' is not one of DEBUG, INFO, WARNING, ERROR"),
        ("language = 1\n", "language (line 1): expected a string, got a number (1)"),
        (
            f'language = "{"x" * 200}"\n',
            f"language (line 1): '{'x' * 75} ... is not one of zh, en",
        ),
    ],
)
def test_hostile_values_name_key_line_and_what_is_valid(text, message):
    assert refusal(text) == f"s.toml: {message}"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a = 1\na = 2\n", "not valid TOML: Cannot overwrite a value"),
        ("[window]\n[window]\n", "not valid TOML: Cannot declare ('window',) twice (at line 2, column 8)"),
        ("a = " + "1" * 5000 + "\n", "not valid TOML: a number has too many digits"),
        ("a = " + "[" * 3000 + "]" * 3000 + "\n", "not valid TOML: arrays or tables nested too deeply"),
    ],
)
def test_documents_tomllib_refuses(text, message):
    assert refusal(text).startswith(f"s.toml: {message}")


def test_free_form_ccxt_tables_take_any_toml_value():
    s = parse_settings("[exchanges.okx.ccxt]\nwhen = 2024-01-01T00:00:00\nnested = [[1, 2], {a = nan}]\n")
    assert s.exchanges["okx"].ccxt["nested"][0] == [1, 2]  # type: ignore[index]


def test_exchanges_missing_from_the_file_take_the_defaults_in_display_order():
    s = parse_settings("[exchanges.coinbase]\nenabled = false\n[exchanges.binance]\nenabled = true\n")
    assert list(s.exchanges) == ["binance", "okx", "bybit", "coinbase"]
    assert s.exchanges["okx"] == ExchangeSettings() and not s.exchanges["coinbase"].enabled


def test_a_file_that_is_not_utf8_names_the_line(tmp_path):
    path = tmp_path / "latin1.toml"
    path.write_bytes(b'[window]\nminutes = 5\nlanguage = "\xe9"\n')
    with pytest.raises(SettingsError) as caught:
        load_settings(path)
    assert str(caught.value) == f"{path}: cannot read settings file: line 3 is not UTF-8 text"


def test_a_byte_order_mark_is_not_an_error(tmp_path):
    path = tmp_path / "bom.toml"
    path.write_bytes(b'\xef\xbb\xbflanguage = "en"\n')
    assert load_settings(path).language == "en"


def test_a_directory_is_not_a_settings_file(tmp_path):
    with pytest.raises(SettingsError) as caught:
        load_settings(tmp_path)
    assert str(caught.value) == f"{tmp_path}: is a directory, not a settings file"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_is_refused_without_reading_it(tmp_path):
    fifo = tmp_path / "settings.toml"
    os.mkfifo(fifo)
    with pytest.raises(SettingsError) as caught:
        load_settings(fifo)  # reading it would block until a writer came
    assert str(caught.value) == f"{fifo}: is not a regular file, not a settings file"


def test_the_command_line_refuses_a_directory_with_exit_2(tmp_path, run_cli):
    replay = tmp_path / "t.jsonl"
    replay.write_text("", encoding="utf-8")
    done = run_cli("--config", str(tmp_path), "--replay", str(replay), "--json")
    assert done.returncode == 2
    assert done.stderr.decode().strip() == f"gme-tui: {tmp_path}: is a directory, not a settings file"


def test_the_command_line_refuses_a_huge_number_with_exit_2(tmp_path, run_cli):
    settings = tmp_path / "huge.toml"
    settings.write_text(f"[consensus]\nstrong_flow = {HUGE}\n", encoding="utf-8")
    replay = tmp_path / "t.jsonl"
    replay.write_text("", encoding="utf-8")
    done = run_cli("--config", str(settings), "--replay", str(replay), "--json")
    assert done.returncode == 2
    assert done.stderr.decode().strip() == (
        f"gme-tui: {settings}: consensus.strong_flow (line 2): 1.00e+320 is above the maximum 1e+308"
    )


def test_save_refuses_an_unparseable_file_and_leaves_it(tmp_path):
    path = tmp_path / "settings.toml"
    path.write_text("a = = 1\n", encoding="utf-8")
    with pytest.raises(SettingsError, match="not saved"):
        save_changes(path, {"window.minutes": 20})
    assert path.read_text(encoding="utf-8") == "a = = 1\n"


def test_settings_are_immutable_and_copied_with_a_change():
    s = Settings()
    with pytest.raises(AttributeError):
        s.language = "en"  # type: ignore[misc]
    assert msgspec.structs.replace(s, language="en").language == "en"
    changed = msgspec.structs.replace(s, ui=UiSettings(refresh_ms=250), source_path=Path("x.toml"))
    assert changed.ui.refresh_ms == 250 and changed.source_path == Path("x.toml") and changed.window == s.window


def test_dotenv_values_are_taken_literally():
    assert parse_dotenv('A=x${HOME}y\nB="two words"\nC\n') == {"A": "x${HOME}y", "B": "two words"}
