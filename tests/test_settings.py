"""Settings: defaults, the repository file, validation messages, saving that keeps the file intact."""

from __future__ import annotations

import re
from pathlib import Path

import msgspec
import pytest

from gme_tui.settings import Secrets, Settings, SettingsError, load_settings, parse_dotenv, parse_settings, save_changes

REPO_SETTINGS = Path(__file__).resolve().parent.parent / "settings.toml"


def test_repository_settings_file_equals_the_built_in_defaults():
    loaded = load_settings(REPO_SETTINGS)
    assert msgspec.structs.replace(loaded, source_path=None) == Settings()
    assert loaded.source_path == REPO_SETTINGS


def test_defaults_are_the_documented_ones():
    s = Settings()
    assert s.window.minutes == 50
    assert s.consensus.strong_flow == 1_000 and s.consensus.lean_total == 50_000_000
    assert s.signals.aplus_ratio == 1.15 and s.signals.a_min_flow == 1_000_000 and s.signals.a_multiple == 1.5
    assert s.whales.threshold == 200_000 and s.alerts.whale_notify_threshold == 500_000
    assert s.alerts.cooldown_minutes == 30 and s.alerts.exchange_down_minutes == 5
    assert s.enabled_exchanges == ("binance", "okx", "bybit", "coinbase") and s.min_exchanges == 4
    assert s.symbols.quote_map == {"coinbase": ("USD", "USDT")}
    assert 25 <= len(s.symbols.list) <= 40


def test_no_file_anywhere_gives_defaults(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "none"))
    assert load_settings() == Settings()


def test_min_exchanges_follows_the_enabled_exchanges():
    s = parse_settings("[exchanges.bybit]\nenabled = false\n")
    assert s.enabled_exchanges == ("binance", "okx", "coinbase") and s.min_exchanges == 3
    assert parse_settings("[consensus]\nmin_exchanges = 2\n").min_exchanges == 2


def test_ccxt_table_is_passed_through():
    s = parse_settings(
        '[exchanges.okx.ccxt]\nhttpsProxy = "http://127.0.0.1:7890"\n[exchanges.okx.ccxt.options]\nx = 1\n'
    )
    assert s.exchanges["okx"].ccxt == {"httpsProxy": "http://127.0.0.1:7890", "options": {"x": 1}}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[window]\nminutes = "fifty"\n', "window.minutes (line 2): expected a number, got a string ('fifty')"),
        ("[window]\nminutes = 0\n", "window.minutes (line 2): 0 is below the minimum 1"),
        ("[window]\nminutes = 2.5\n", "window.minutes (line 2): expected a whole number, got 2.5"),
        ("[whales]\nthreshold = true\n", "whales.threshold (line 2): expected a number, got a boolean (true)"),
        ("\n[whales]\nthreshhold = 5\n", "whales.threshhold (line 3): unknown key (known here: quiet_ms, threshold)"),
        ('language = "fr"\n', "language (line 1): 'fr' is not one of zh, en"),
        ('[alerts]\nnotify_grades = ["A+", "Z"]\n', "alerts.notify_grades (line 2): 'Z' is not one of A+, A, B, C"),
        (
            "[exchanges.kraken]\nenabled = true\n",
            "exchanges.kraken (line 1): unknown exchange (known: binance, okx, bybit, coinbase)",
        ),
        (
            '[exchanges.okx]\nenabled = "yes"\n',
            "exchanges.okx.enabled (line 2): expected true or false, got a string ('yes')",
        ),
        ("window = 5\n", "window (line 1): expected a table, got a number (5)"),
        ('timezone = "Mars/Olympus"\n', "timezone (line 1): unknown time zone 'Mars/Olympus'"),
        (
            "[consensus]\nmin_exchanges = 4\n[exchanges.okx]\nenabled = false\n",
            "consensus.min_exchanges (line 2): 4 is more than the 3 enabled exchanges",
        ),
    ],
)
def test_bad_values_name_key_and_line(text, message):
    with pytest.raises(SettingsError) as caught:
        parse_settings(text, Path("s.toml"))
    assert str(caught.value) == f"s.toml: {message}"


def test_invalid_toml_reports_the_parser_line():
    with pytest.raises(SettingsError, match=r"s\.toml: not valid TOML: .*line 2"):
        parse_settings("a = 1\nb = = 2\n", Path("s.toml"))


def test_all_exchanges_disabled_is_refused():
    text = "".join(f"[exchanges.{e}]\nenabled = false\n" for e in ("binance", "okx", "bybit", "coinbase"))
    with pytest.raises(SettingsError, match="at least one exchange must be enabled"):
        parse_settings(text)


def test_missing_explicit_file_is_refused(tmp_path):
    with pytest.raises(SettingsError, match="settings file not found"):
        load_settings(tmp_path / "absent.toml")


def test_unreadable_file_is_refused(tmp_path):
    path = tmp_path / "latin1.toml"
    path.write_bytes(b'language = "\xe9"\n')
    with pytest.raises(SettingsError, match="cannot read settings file"):
        load_settings(path)


def test_save_keeps_comments_order_and_other_keys(tmp_path):
    path = tmp_path / "settings.toml"
    original = REPO_SETTINGS.read_text(encoding="utf-8").replace("[whales]\n", "[whales]\n# my own note about whales\n")
    path.write_text(original, encoding="utf-8")
    save_changes(path, {"whales.threshold": 300000.0, "exchanges.bybit.enabled": False, "ui.pinned": ("BTC/USDT",)})
    text = path.read_text(encoding="utf-8")
    assert "# my own note about whales" in text
    assert "threshold = 300000.0" in text
    assert (
        text.replace("threshold = 300000.0", "threshold = 200000.0")
        .replace("[exchanges.bybit]\nenabled = false", "[exchanges.bybit]\nenabled = true")
        .replace('pinned = ["BTC/USDT"]', "pinned = []")
        == original
    )
    reloaded = load_settings(path)
    assert reloaded.whales.threshold == 300000.0 and reloaded.enabled_exchanges == ("binance", "okx", "coinbase")


def test_save_refuses_a_change_that_would_not_load(tmp_path):
    path = tmp_path / "settings.toml"
    path.write_text("[window]\nminutes = 50\n", encoding="utf-8")
    with pytest.raises(SettingsError):
        save_changes(path, {"window.minutes": 0})
    assert path.read_text(encoding="utf-8") == "[window]\nminutes = 50\n"


def test_secrets_come_from_environment_over_dotenv_and_never_show_in_repr(tmp_path):
    dotenv = tmp_path / ".env"
    dotenv.write_text(
        "# robots\nexport ENABLE_DINGTALK=true\nDINGTALK_WEBHOOK='https://x/robot/send?access_token=fromfile'\n"
        "DINGTALK_SECRET=SECabc # trailing comment\nWECHAT_WEBHOOK=https://y/send?key=k1\n",
        encoding="utf-8",
    )
    secrets = Secrets.from_environment({"WECHAT_WEBHOOK": "https://y/send?key=fromenv"}, dotenv)
    assert secrets.enable_dingtalk and not secrets.enable_wechat
    assert secrets.dingtalk_webhook.endswith("access_token=fromfile")
    assert secrets.dingtalk_secret == "SECabc"
    assert secrets.wechat_webhook.endswith("key=fromenv")
    assert "fromfile" not in repr(secrets) and "SECabc" not in repr(secrets) and "fromenv" not in repr(secrets)


def test_dotenv_ignores_junk():
    assert parse_dotenv("garbage line\n=novalue\nA=1\n\n#B=2\n") == {"A": "1"}


def test_settings_started_from_defaults_are_saved_where_they_will_be_read_again(tmp_path, monkeypatch):
    from gme_tui.settings import user_settings_path

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    assert load_settings().source_path is None  # built-in defaults
    save_changes(user_settings_path(), {"whales.threshold": 250000.0})
    reloaded = load_settings()
    assert reloaded.whales.threshold == 250000.0 and reloaded.source_path == user_settings_path()


def test_scorecard_horizons_are_whole_minutes():
    assert parse_settings("[scorecard]\nhorizons = [5, 30]\n").scorecard.horizons == (5, 30)
    assert Settings().scorecard.horizons == (15, 60, 240)
    for text, reason in (
        ("[scorecard]\nhorizons = [0]\n", "scorecard.horizons (line 2): 0 is below the minimum 1"),
        ("[scorecard]\nhorizons = [1.5]\n", "expected a list of whole numbers, got a list holding a number (1.5)"),
        ('[scorecard]\nhorizons = "15"\n', "expected a list of whole numbers, got a string ('15')"),
    ):
        with pytest.raises(SettingsError, match=re.escape(reason)):
            parse_settings(text)


def test_colour_convention_is_one_of_three():
    assert Settings().colour_convention == "auto"
    assert parse_settings('colour_convention = "green-up"\n').colour_convention == "green-up"
    with pytest.raises(SettingsError, match=re.escape("'blue' is not one of auto, red-up, green-up")):
        parse_settings('colour_convention = "blue"\n')


def test_perp_venues_default_and_follow_the_exchange_switches() -> None:
    """SPEC §4b: Binance, OKX and Bybit perpetuals by default; Coinbase's US perp-style futures only
    when `perp = true` is written; an exchange switched off has no perpetual either."""
    from gme_tui.settings import parse_settings

    assert parse_settings("").perp_venues == ("binance", "okx", "bybit")
    text = "[exchanges.okx]\nenabled = false\n[exchanges.bybit]\nperp = false\n[exchanges.coinbase]\nperp = true\n"
    assert parse_settings(text).perp_venues == ("binance", "coinbase")
    assert parse_settings("").exchanges["coinbase"].perp is False
    defaults = parse_settings("")
    assert (defaults.signals.bearish_ratio, defaults.signals.b_oi_min_change_pct) == (0.85, 1.0)
    assert defaults.derivatives.oi_max_age_minutes == 10.0
    assert defaults.alerts.enable_liquidation_notify is False
