"""Settings: `settings.toml` plus secrets from the environment or `.env`. Read once, passed down.

The schema is the frozen dataclasses below; their defaults are the documented defaults and the
repository's `settings.toml` mirrors them (a test keeps the two equal). Validation names the key and
its line; saving goes through tomlkit so the user's comments, order and other keys survive.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_origin, get_type_hints

from gme_tui.model import EXCHANGES

GRADES = ("A+", "A", "B", "C")
LANGUAGES = ("zh", "en")


class SettingsError(Exception):
    """A settings file that cannot be used; the message names the file, key and line."""


def _range(lo: float | None = None, hi: float | None = None, **extra: Any) -> dict[str, Any]:
    return {"min": lo, "max": hi, **extra}


@dataclass(frozen=True)
class ExchangeSettings:
    enabled: bool = True
    # Merged into the ccxt client's configuration: urls, options, httpsProxy, wsProxy, hostname...
    ccxt: Mapping[str, Any] = field(default_factory=dict, metadata={"free_form": True})


@dataclass(frozen=True)
class SymbolSettings:
    universe: str = field(default="list", metadata={"choices": ("list", "okx_all")})
    list: tuple[str, ...] = (
        "BTC/USDT",
        "ETH/USDT",
        "SOL/USDT",
        "XRP/USDT",
        "BNB/USDT",
        "DOGE/USDT",
        "ADA/USDT",
        "TRX/USDT",
        "AVAX/USDT",
        "LINK/USDT",
        "DOT/USDT",
        "LTC/USDT",
        "BCH/USDT",
        "TON/USDT",
        "SHIB/USDT",
        "UNI/USDT",
        "NEAR/USDT",
        "APT/USDT",
        "SUI/USDT",
        "ARB/USDT",
        "OP/USDT",
        "FIL/USDT",
        "ATOM/USDT",
        "ETC/USDT",
        "HBAR/USDT",
        "PEPE/USDT",
        "AAVE/USDT",
        "INJ/USDT",
        "XLM/USDT",
        "ICP/USDT",
    )
    # Quotes tried in order for each exchange's market of a canonical BASE/USDT symbol.
    quote_map: Mapping[str, tuple[str, ...]] = field(
        default_factory=lambda: {"coinbase": ("USD", "USDT")}, metadata={"free_form": True}
    )
    include_stablecoin_pairs: bool = False


@dataclass(frozen=True)
class WindowSettings:
    minutes: int = field(default=50, metadata=_range(1, 1440))
    scan_grace_seconds: float = field(default=2.0, metadata=_range(0, 30))
    keep_extra_minutes: int = field(default=10, metadata=_range(0, 1440))


@dataclass(frozen=True)
class ConsensusSettings:
    strong_flow: float = field(default=1_000.0, metadata=_range(0))
    lean_total: float = field(default=50_000_000.0, metadata=_range(0))
    min_exchanges: int = field(default=0, metadata=_range(0, len(EXCHANGES)))  # 0 = all enabled


@dataclass(frozen=True)
class SignalSettings:
    aplus_ratio: float = field(default=1.15, metadata=_range(0))
    a_min_flow: float = field(default=1_000_000.0, metadata=_range(0))
    a_multiple: float = field(default=1.5, metadata=_range(0))


@dataclass(frozen=True)
class WhaleSettings:
    threshold: float = field(default=200_000.0, metadata=_range(0))
    quiet_ms: int = field(default=1_500, metadata=_range(0, 60_000))


@dataclass(frozen=True)
class AlertSettings:
    notify_grades: tuple[str, ...] = field(default=("A+", "A", "B"), metadata={"choices": GRADES})
    enable_whale_notify: bool = True
    whale_notify_threshold: float = field(default=500_000.0, metadata=_range(0))
    enable_consensus_notify: bool = True
    cooldown_minutes: float = field(default=30.0, metadata=_range(0, 1440))
    b_digest_minutes: float = field(default=30.0, metadata=_range(1, 1440))
    exchange_down_minutes: float = field(default=5.0, metadata=_range(0, 1440))
    max_per_minute: int = field(default=20, metadata=_range(1, 20))
    mute_minutes: float = field(default=60.0, metadata=_range(1, 10080))
    muted: tuple[str, ...] = ()
    request_timeout_seconds: float = field(default=10.0, metadata=_range(1, 120))
    outbox_path: str = ""  # empty = the user data directory
    # An alert still undelivered after this long is reported as undeliverable and dropped.
    give_up_hours: float = field(default=24.0, metadata=_range(0.1, 720))


@dataclass(frozen=True)
class LiveSettings:
    proxy: str = ""  # applied to every exchange's REST and WS unless its ccxt table says otherwise
    watchdog_seconds: float = field(default=30.0, metadata=_range(5, 600))
    backoff_max_seconds: float = field(default=60.0, metadata=_range(1, 3600))
    backfill: bool = True
    # Whales of the last N backfilled minutes are looked up too (Binance aggTrades); 0 = never.
    whale_backfill_minutes: int = field(default=15, metadata=_range(0, 1440))


@dataclass(frozen=True)
class UiSettings:
    refresh_ms: int = field(default=1000, metadata=_range(100, 60_000))
    pinned: tuple[str, ...] = ()
    whale_rows: int = field(default=200, metadata=_range(10, 10_000))
    signal_rows: int = field(default=500, metadata=_range(10, 10_000))


@dataclass(frozen=True)
class StoreSettings:
    enabled: bool = True  # live mode only; replays and the demo use --store
    path: str = ""  # empty = the user data directory
    bucket_days: float = field(default=7.0, metadata=_range(0.1, 3650))
    history_days: float = field(default=90.0, metadata=_range(1, 3650))


@dataclass(frozen=True)
class LogSettings:
    level: str = field(default="INFO", metadata={"choices": ("DEBUG", "INFO", "WARNING", "ERROR")})
    dir: str = ""  # empty = the user log directory


def _default_exchanges() -> Mapping[str, ExchangeSettings]:
    return {name: ExchangeSettings() for name in EXCHANGES}


@dataclass(frozen=True)
class Settings:
    language: str = field(default="zh", metadata={"choices": LANGUAGES})
    timezone: str = ""  # IANA name such as "Asia/Shanghai"; empty = the system's zone
    exchanges: Mapping[str, ExchangeSettings] = field(default_factory=_default_exchanges)
    symbols: SymbolSettings = field(default_factory=SymbolSettings)
    window: WindowSettings = field(default_factory=WindowSettings)
    consensus: ConsensusSettings = field(default_factory=ConsensusSettings)
    signals: SignalSettings = field(default_factory=SignalSettings)
    whales: WhaleSettings = field(default_factory=WhaleSettings)
    alerts: AlertSettings = field(default_factory=AlertSettings)
    live: LiveSettings = field(default_factory=LiveSettings)
    ui: UiSettings = field(default_factory=UiSettings)
    store: StoreSettings = field(default_factory=StoreSettings)
    log: LogSettings = field(default_factory=LogSettings)
    # Where the settings came from (None = built-in defaults); the settings screen saves there.
    source_path: Path | None = field(default=None, compare=False, metadata={"internal": True})

    @property
    def enabled_exchanges(self) -> tuple[str, ...]:
        return tuple(name for name in EXCHANGES if self.exchanges[name].enabled)

    @property
    def min_exchanges(self) -> int:
        """The consensus/A+ quorum: the setting, or every enabled exchange when it is 0."""
        return self.consensus.min_exchanges or len(self.enabled_exchanges)


# ---------------------------------------------------------------- secrets


@dataclass(frozen=True)
class Secrets:
    """Robot credentials. Never written to settings.toml, never printed: repr redacts them."""

    dingtalk_webhook: str = field(default="", repr=False)
    dingtalk_secret: str = field(default="", repr=False)
    wechat_webhook: str = field(default="", repr=False)
    enable_dingtalk: bool = False
    enable_wechat: bool = False

    @classmethod
    def from_environment(cls, env: Mapping[str, str] | None = None, dotenv: Path | None = None) -> Secrets:
        """Read the environment, falling back on a `.env` file (the environment wins)."""
        values: dict[str, str] = {}
        if dotenv is None:
            dotenv = Path(".env")
        if dotenv.is_file():
            values.update(parse_dotenv(dotenv.read_text(encoding="utf-8", errors="replace")))
        values.update(os.environ if env is None else env)
        flag = lambda key: values.get(key, "").strip().lower() in ("1", "true", "yes", "on")  # noqa: E731
        return cls(
            dingtalk_webhook=values.get("DINGTALK_WEBHOOK", "").strip(),
            dingtalk_secret=values.get("DINGTALK_SECRET", "").strip(),
            wechat_webhook=values.get("WECHAT_WEBHOOK", "").strip(),
            enable_dingtalk=flag("ENABLE_DINGTALK"),
            enable_wechat=flag("ENABLE_WECHAT"),
        )


def parse_dotenv(text: str) -> dict[str, str]:
    """KEY=VALUE lines, `export` allowed, quotes stripped, comments and junk ignored."""
    out: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        key = key.removeprefix("export ").strip()
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        elif " #" in value:
            value = value.split(" #", 1)[0].rstrip()
        if key:
            out[key] = value
    return out


# ---------------------------------------------------------------- loading


def user_settings_path() -> Path:
    """The user's own settings file (~/.config/gme-tui/settings.toml on Linux): where settings
    saved from the TUI go when gme-tui started from built-in defaults."""
    from platformdirs import user_config_dir

    return Path(user_config_dir("gme-tui")) / "settings.toml"


def default_config_paths() -> list[Path]:
    return [Path("settings.toml"), user_settings_path()]


def load_settings(path: str | Path | None = None) -> Settings:
    """Load and validate. An explicit path must exist; otherwise the first default that exists,
    else the built-in defaults. Raises SettingsError with a message fit for the user."""
    if path is not None:
        target = Path(path)
        if not target.is_file():
            raise SettingsError(f"settings file not found: {target}")
        return _load_file(target)
    for candidate in default_config_paths():
        if candidate.is_file():
            return _load_file(candidate)
    return Settings()


def _load_file(path: Path) -> Settings:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SettingsError(f"{path}: cannot read settings file: {exc}") from None
    return parse_settings(text, path)


def parse_settings(text: str, path: Path | None = None) -> Settings:
    where = str(path) if path else "settings"
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{where}: not valid TOML: {exc}") from None
    lines = _KeyLines(text)
    try:
        values = _convert_dataclass(Settings, data, (), lines)
    except _Invalid as exc:
        line = lines.find(exc.key)
        at = f" (line {line})" if line else ""
        raise SettingsError(f"{where}: {'.'.join(exc.key)}{at}: {exc.reason}") from None
    settings = dataclasses.replace(Settings(**values), source_path=path)
    _check_cross_field(settings, where, lines)
    return settings


def _check_cross_field(settings: Settings, where: str, lines: _KeyLines) -> None:
    if not settings.enabled_exchanges:
        raise SettingsError(f"{where}: exchanges: at least one exchange must be enabled")
    if settings.consensus.min_exchanges > len(settings.enabled_exchanges):
        line = lines.find(("consensus", "min_exchanges"))
        at = f" (line {line})" if line else ""
        raise SettingsError(
            f"{where}: consensus.min_exchanges{at}: {settings.consensus.min_exchanges} is more than "
            f"the {len(settings.enabled_exchanges)} enabled exchanges"
        )
    if settings.timezone:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(settings.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            line = lines.find(("timezone",))
            at = f" (line {line})" if line else ""
            raise SettingsError(f"{where}: timezone{at}: unknown time zone {settings.timezone!r}") from None


class _Invalid(Exception):
    def __init__(self, key: tuple[str, ...], reason: str) -> None:
        super().__init__(reason)
        self.key = key
        self.reason = reason


def _convert_dataclass(cls: type, data: Any, key: tuple[str, ...], lines: _KeyLines) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise _Invalid(key, f"expected a table, got {_kind(data)}")
    hints = get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if not f.metadata.get("internal")}
    out: dict[str, Any] = {}
    for name, value in data.items():
        if name not in fields:
            known = ", ".join(sorted(fields))
            raise _Invalid(key + (name,), f"unknown key (known here: {known})")
        out[name] = _convert_value(fields[name], hints[name], value, key + (name,), lines)
    return out


def _convert_value(f: dataclasses.Field, hint: Any, value: Any, key: tuple[str, ...], lines: _KeyLines) -> Any:
    meta = f.metadata
    if key == ("exchanges",):
        return _convert_exchanges(value, key, lines)
    if dataclasses.is_dataclass(hint):
        return hint(**_convert_dataclass(hint, value, key, lines))
    if meta.get("free_form"):
        if not isinstance(value, dict):
            raise _Invalid(key, f"expected a table, got {_kind(value)}")
        if key[-1] == "quote_map":
            return {k: _string_tuple(v, key + (k,)) for k, v in value.items()}
        return value
    origin = get_origin(hint)
    if origin is tuple:
        items = _string_tuple(value, key)
        choices = meta.get("choices")
        for item in items:
            if choices and item not in choices:
                raise _Invalid(key, f"{item!r} is not one of {', '.join(choices)}")
        return items
    if hint is bool:
        if not isinstance(value, bool):
            raise _Invalid(key, f"expected true or false, got {_kind(value)}")
        return value
    if hint in (int, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _Invalid(key, f"expected a number, got {_kind(value)}")
        if hint is int and not isinstance(value, int):
            raise _Invalid(key, f"expected a whole number, got {value!r}")
        if value != value or value in (float("inf"), float("-inf")):
            raise _Invalid(key, "expected a finite number")
        lo, hi = meta.get("min"), meta.get("max")
        if lo is not None and value < lo:
            raise _Invalid(key, f"{value!r} is below the minimum {lo}")
        if hi is not None and value > hi:
            raise _Invalid(key, f"{value!r} is above the maximum {hi}")
        return hint(value)
    if hint is str:
        if not isinstance(value, str):
            raise _Invalid(key, f"expected a string, got {_kind(value)}")
        choices = meta.get("choices")
        if choices and value not in choices:
            raise _Invalid(key, f"{value!r} is not one of {', '.join(choices)}")
        return value
    raise _Invalid(key, "unsupported setting")  # pragma: no cover - schema bug


def _convert_exchanges(value: Any, key: tuple[str, ...], lines: _KeyLines) -> Mapping[str, ExchangeSettings]:
    if not isinstance(value, dict):
        raise _Invalid(key, f"expected a table, got {_kind(value)}")
    out = dict(_default_exchanges())
    for name, table in value.items():
        if name not in EXCHANGES:
            raise _Invalid(key + (name,), f"unknown exchange (known: {', '.join(EXCHANGES)})")
        out[name] = ExchangeSettings(**_convert_dataclass(ExchangeSettings, table, key + (name,), lines))
    return out


def _string_tuple(value: Any, key: tuple[str, ...]) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _Invalid(key, f"expected a list of strings, got {_kind(value)}")
    return tuple(value)


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, (int, float)):
        return f"a number ({value!r})"
    if isinstance(value, str):
        return f"a string ({value!r})"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a table"
    return type(value).__name__


class _KeyLines:
    """Finds the line a dotted key is written on, for error messages (tomllib reports none)."""

    _HEADER = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
    _KEY = re.compile(r"^\s*([A-Za-z0-9_\-\"'.]+)\s*=")

    def __init__(self, text: str) -> None:
        self._lines = text.splitlines()

    def find(self, key: tuple[str, ...]) -> int | None:
        table: tuple[str, ...] = ()
        for number, line in enumerate(self._lines, start=1):
            header = self._HEADER.match(line)
            if header:
                table = tuple(p.strip().strip("\"'") for p in header.group(1).split("."))
                if table == key:
                    return number
                continue
            match = self._KEY.match(line)
            if match:
                dotted = tuple(p.strip().strip("\"'") for p in match.group(1).split("."))
                full = table + dotted
                shorter = min(len(full), len(key))
                if full[:shorter] == key[:shorter] and len(full) >= len(table) + 1:
                    return number
        return None


# ---------------------------------------------------------------- saving


def save_changes(path: Path, changes: Mapping[str, Any]) -> None:
    """Write `changes` (dotted keys → values) into the TOML file at `path`, keeping its comments,
    order and every other key. The file is replaced atomically."""
    import tomlkit

    text = path.read_text(encoding="utf-8") if path.exists() else ""
    document = tomlkit.parse(text)
    for dotted, value in changes.items():
        parts = dotted.split(".")
        table: Any = document
        for part in parts[:-1]:
            if part not in table:
                table[part] = tomlkit.table()
            table = table[part]
        table[parts[-1]] = list(value) if isinstance(value, tuple) else value
    new_text = tomlkit.dumps(document)
    parse_settings(new_text, path)  # never write a file we would refuse to load
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(new_text, encoding="utf-8")
    os.replace(temporary, path)
