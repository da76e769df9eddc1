"""`gme-tui config path|show|init`: where settings and data live on this machine, the settings in
effect, and a commented settings file written where gme-tui looks for it (issue 13, SPEC §11).

The commented template is `gme_tui/settings.toml`, shipped in the package; the repository's
`settings.toml` is the same file (a test keeps them equal)."""

from __future__ import annotations

import sys
from importlib.resources import files
from pathlib import Path
from typing import Literal, TextIO

import msgspec
import tomlkit

from gme_tui.alerts.ledger import default_ledger_path
from gme_tui.alerts.outbox import default_outbox_path
from gme_tui.logs import log_dir
from gme_tui.model import SourceMode
from gme_tui.serve.protocol import default_socket
from gme_tui.settings import Settings, default_config_paths, user_settings_path
from gme_tui.store.wiring import store_path_for

ConfigAction = Literal["path", "show", "init"]
CONFIG_ACTIONS: tuple[ConfigAction, ...] = ("path", "show", "init")


def template_text() -> str:
    """The shipped, commented settings file (every key at its default)."""
    return files("gme_tui").joinpath("settings.toml").read_text(encoding="utf-8")


def run_config(
    action: ConfigAction,
    settings: Settings,
    *,
    target: Path | None = None,
    force: bool = False,
    out: TextIO | None = None,
) -> int:
    """Run one action; returns the exit code (0, or 2 when `init` would overwrite a file)."""
    out = out or sys.stdout
    if action == "path":
        return _paths(settings, out)
    if action == "show":
        out.write(show_text(settings))
        return 0
    return _init(target or user_settings_path(), force, out)


def _paths(settings: Settings, out: TextIO) -> int:
    in_use = str(settings.source_path) if settings.source_path else "none: built-in defaults"
    store = store_path_for(SourceMode.LIVE, settings, None)
    rows = [
        ("settings in use", in_use),
        ("looked for, in order", ", ".join(str(p.resolve()) for p in default_config_paths())),
        ("user settings file", str(user_settings_path())),
        ("robot secrets (.env)", str(Path(".env").resolve())),
        ("store (live)", str(store) if store else "off ([store] enabled = false)"),
        ("alert outbox (live)", str(default_outbox_path())),
        ("robot send ledger", str(default_ledger_path())),
        ("log directory", str(log_dir(settings.log.dir))),
        ("daemon socket (live)", str(default_socket(SourceMode.LIVE))),
    ]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        out.write(f"{name:<{width}}  {value}\n")
    return 0


def show_text(settings: Settings) -> str:
    """The settings in effect as TOML (every key, defaults included), headed by where they came from."""
    data = msgspec.to_builtins(msgspec.structs.replace(settings, source_path=None))
    data.pop("source_path", None)
    where = settings.source_path or "built-in defaults"
    return f"# gme-tui settings in effect (from {where})\n" + tomlkit.dumps(data)


def _init(target: Path, force: bool, out: TextIO) -> int:
    if target.exists() and not force:
        print(f"gme-tui: {target} exists already; `gme-tui config init --force` replaces it", file=sys.stderr)
        return 2
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(template_text(), encoding="utf-8")
    out.write(f"wrote {target}: every setting with its default and a comment; edit it, or press `o` in the TUI\n")
    return 0
