"""`gme-tui config path|show|init` (issue 13 item 9): where things live, what is in effect, a commented file."""

from __future__ import annotations

from pathlib import Path

import msgspec

from gme_tui.config_command import template_text
from gme_tui.settings import Settings, load_settings, parse_settings

REPO = Path(__file__).resolve().parent.parent


def test_the_shipped_template_is_the_repository_settings_file():
    assert template_text() == (REPO / "settings.toml").read_text(encoding="utf-8")
    assert parse_settings(template_text()) == Settings()  # every key at its default


def test_init_writes_the_commented_file_where_gme_tui_looks_and_never_overwrites(run_cli, cli_env):
    target = Path(cli_env["XDG_CONFIG_HOME"]) / "gme-tui" / "settings.toml"
    first = run_cli("config", "init")
    assert first.returncode == 0 and str(target) in first.stdout.decode()
    assert target.read_text(encoding="utf-8") == template_text()
    target.write_text('language = "en"\n', encoding="utf-8")
    again = run_cli("config", "init")
    assert again.returncode == 2 and "exists already" in again.stderr.decode()
    assert target.read_text(encoding="utf-8") == 'language = "en"\n'  # the user's file is kept
    assert run_cli("config", "init", "--force").returncode == 0
    assert target.read_text(encoding="utf-8") == template_text()


def test_path_names_the_file_in_use_and_where_data_is_kept(run_cli, cli_env):
    before = run_cli("config", "path").stdout.decode()
    assert "settings in use       none: built-in defaults" in before
    assert str(Path(cli_env["XDG_DATA_HOME"]) / "gme-tui" / "store.sqlite3") in before
    run_cli("config", "init")
    after = run_cli("config", "path").stdout.decode()
    assert f"settings in use       {Path(cli_env['XDG_CONFIG_HOME']) / 'gme-tui' / 'settings.toml'}" in after


def test_show_prints_the_settings_in_effect_as_toml(run_cli, tmp_path):
    mine = tmp_path / "mine.toml"
    mine.write_text('language = "en"\n[window]\nminutes = 30\n', encoding="utf-8")
    shown = run_cli("--config", str(mine), "config", "show")
    assert shown.returncode == 0
    text = shown.stdout.decode()
    assert text.startswith(f"# gme-tui settings in effect (from {mine})")
    assert parse_settings(text) == msgspec.structs.replace(load_settings(mine), source_path=None)
