"""Settings: `settings.toml` plus secrets from the environment or `.env`. Read once, passed down.

The schema is the frozen msgspec Structs below, with their constraints; their defaults are the
documented defaults and the repository's `settings.toml` mirrors them (a test keeps the two equal).
msgspec validates; this module only words its errors: the file, the dotted key, its line, and what
would be valid. Saving goes through tomlkit so the user's comments, order and other keys survive.
"""

from __future__ import annotations

import io
import logging
import math
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Annotated, Literal, get_args, get_origin

import msgspec
from dotenv import dotenv_values

from gme_tui.i18n.colours import ConventionSetting
from gme_tui.model import EXCHANGES, ExchangeId, Grade, Language

log = logging.getLogger(__name__)

GRADES: tuple[str, ...] = tuple(grade.value for grade in Grade)
LANGUAGES: tuple[Language, ...] = get_args(Language)

_LARGEST = 1e308  # the ceiling of a float setting with no natural one: it must stay a finite float


def _range(lo: float, hi: float = _LARGEST) -> msgspec.Meta:
    return msgspec.Meta(ge=lo, le=hi)


_Amount = Annotated[float, _range(0)]
"""A non-negative finite quote value, ratio or multiple."""


class SettingsError(Exception):
    """A settings file that cannot be used; the message names the file, key and line."""


class _Section(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A table of settings.toml: immutable, and a key it does not know is an error."""


class ExchangeSettings(_Section, frozen=True):
    enabled: bool = True
    # Merged into the ccxt client's configuration: urls, options, httpsProxy, wsProxy, hostname...
    ccxt: Mapping[str, object] = msgspec.field(default_factory=dict)
    # Also collect this exchange's perpetual (SPEC §4b): the USDT swap on Binance, OKX and Bybit;
    # Coinbase's US perp-style futures (X/USD:USD) only when `perp = true` is written (off by default).
    perp: bool = True
    # Merged into the perpetual client's configuration, like `ccxt` (binanceusdm is its own client).
    perp_ccxt: Mapping[str, object] = msgspec.field(default_factory=dict)


class SymbolSettings(_Section, frozen=True):
    universe: Literal["list", "okx_all"] = "list"
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
    quote_map: Mapping[ExchangeId, tuple[str, ...]] = msgspec.field(
        default_factory=lambda: {"coinbase": ("USD", "USDT")}
    )
    include_stablecoin_pairs: bool = False


class WindowSettings(_Section, frozen=True):
    minutes: Annotated[int, _range(1, 1440)] = 50
    scan_grace_seconds: Annotated[float, _range(0, 30)] = 2.0
    keep_extra_minutes: Annotated[int, _range(0, 1440)] = 10


class ConsensusSettings(_Section, frozen=True):
    strong_flow: _Amount = 1_000.0
    lean_total: _Amount = 50_000_000.0
    min_exchanges: Annotated[int, _range(0, len(EXCHANGES))] = 0  # 0 = all enabled


class SignalSettings(_Section, frozen=True):
    aplus_ratio: _Amount = 1.15
    a_min_flow: _Amount = 1_000_000.0
    a_multiple: _Amount = 1.5
    # A+ global_sync_bearish (全球协同出货, SPEC §4): every buy/sell ratio below this.
    bearish_ratio: _Amount = 0.85
    # B derivatives_hedge (衍生品对冲, SPEC §4b): every comparison strict, a null fails.
    b_min_perp_venues: Annotated[int, _range(0, len(EXCHANGES))] = 1  # Coinbase can be a 4th venue
    b_spot_min_flow: _Amount = 1_000_000.0
    b_spot_min_ratio: _Amount = 1.15
    b_perp_min_flow: _Amount = 1_000_000.0
    b_perp_max_ratio: _Amount = 0.85
    b_oi_min_change_pct: Annotated[float, _range(-1e6, 1e6)] = 1.0


class DerivativeSettings(_Section, frozen=True):
    """Perpetuals, open interest and liquidations (SPEC §4b)."""

    oi_max_age_minutes: Annotated[float, _range(0.1, 1440)] = 10.0
    oi_poll_seconds: Annotated[float, _range(10, 3600)] = 60.0
    oi_history: bool = True
    liquidations: bool = True
    binance_weight_budget: Annotated[int, _range(60, 2400)] = 1200


class WhaleSettings(_Section, frozen=True):
    threshold: _Amount = 200_000.0
    quiet_ms: Annotated[int, _range(0, 60_000)] = 1_500


class AlertSettings(_Section, frozen=True):
    notify_grades: tuple[Grade, ...] = (Grade.A_PLUS, Grade.A, Grade.B)
    enable_whale_notify: bool = True
    whale_notify_threshold: _Amount = 500_000.0
    enable_consensus_notify: bool = True
    enable_liquidation_notify: bool = False  # SPEC §10: off by default
    liquidation_notify_threshold: _Amount = 1_000_000.0
    cooldown_minutes: Annotated[float, _range(0, 1440)] = 30.0
    b_digest_minutes: Annotated[float, _range(1, 1440)] = 30.0
    exchange_down_minutes: Annotated[float, _range(0, 1440)] = 5.0
    max_per_minute: Annotated[int, _range(1, 20)] = 20
    mute_minutes: Annotated[float, _range(1, 10080)] = 60.0
    muted: tuple[str, ...] = ()
    request_timeout_seconds: Annotated[float, _range(1, 120)] = 10.0
    outbox_path: str = ""  # empty = the user data directory
    # An alert still undelivered after this long is reported as undeliverable and dropped.
    give_up_hours: Annotated[float, _range(0.1, 720)] = 24.0


class LiveSettings(_Section, frozen=True):
    proxy: str = ""  # applied to every exchange's REST and WS unless its ccxt table says otherwise
    watchdog_seconds: Annotated[float, _range(5, 600)] = 30.0
    backoff_max_seconds: Annotated[float, _range(1, 3600)] = 60.0
    backfill: bool = True
    # Whales of the last N backfilled minutes are looked up too (Binance aggTrades); 0 = never.
    whale_backfill_minutes: Annotated[int, _range(0, 1440)] = 15


class UiSettings(_Section, frozen=True):
    refresh_ms: Annotated[int, _range(100, 60_000)] = 1000
    pinned: tuple[str, ...] = ()
    whale_rows: Annotated[int, _range(10, 10_000)] = 200
    signal_rows: Annotated[int, _range(10, 10_000)] = 500


class StoreSettings(_Section, frozen=True):
    enabled: bool = True  # live mode only; replays and the demo use --store
    path: str = ""  # empty = the user data directory
    bucket_days: Annotated[float, _range(0.1, 3650)] = 7.0
    history_days: Annotated[float, _range(1, 3650)] = 90.0


class ScorecardSettings(_Section, frozen=True):
    # Forward-return horizons in minutes (SPEC §13), each from 1 minute to 30 days.
    horizons: tuple[Annotated[int, _range(1, 43_200)], ...] = (15, 60, 240)


class LogSettings(_Section, frozen=True):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    dir: str = ""  # empty = the user log directory


def _default_exchanges() -> Mapping[ExchangeId, ExchangeSettings]:
    return {name: ExchangeSettings(perp=name != "coinbase") for name in EXCHANGES}


class _FileSettings(_Section, frozen=True):
    """What a settings file may hold."""

    language: Language = "zh"
    colour_convention: ConventionSetting = "auto"  # red-up (红涨绿跌) or green-up; auto: by language
    timezone: str = ""  # IANA name such as "Asia/Shanghai"; empty = the system's zone
    exchanges: Mapping[ExchangeId, ExchangeSettings] = msgspec.field(default_factory=_default_exchanges)
    symbols: SymbolSettings = msgspec.field(default_factory=SymbolSettings)
    window: WindowSettings = msgspec.field(default_factory=WindowSettings)
    consensus: ConsensusSettings = msgspec.field(default_factory=ConsensusSettings)
    signals: SignalSettings = msgspec.field(default_factory=SignalSettings)
    derivatives: DerivativeSettings = msgspec.field(default_factory=DerivativeSettings)
    whales: WhaleSettings = msgspec.field(default_factory=WhaleSettings)
    alerts: AlertSettings = msgspec.field(default_factory=AlertSettings)
    live: LiveSettings = msgspec.field(default_factory=LiveSettings)
    ui: UiSettings = msgspec.field(default_factory=UiSettings)
    store: StoreSettings = msgspec.field(default_factory=StoreSettings)
    scorecard: ScorecardSettings = msgspec.field(default_factory=ScorecardSettings)
    log: LogSettings = msgspec.field(default_factory=LogSettings)


class Settings(_FileSettings, frozen=True):
    """Every setting (SPEC §11). Build a changed copy with `msgspec.structs.replace`. Equality
    compares every field, `source_path` too."""

    # Where the settings came from (None = built-in defaults); the settings screen saves there.
    source_path: Path | None = None

    @property
    def enabled_exchanges(self) -> tuple[ExchangeId, ...]:
        return tuple(name for name in EXCHANGES if self.exchanges[name].enabled)

    @property
    def perp_venues(self) -> tuple[ExchangeId, ...]:
        """Exchanges whose perpetual is collected (SPEC §4b): enabled and `perp` on. Coinbase has
        no USDT perpetual; its US perp-style futures (X/USD:USD) are off unless `perp = true`."""
        return tuple(name for name in EXCHANGES if self.exchanges[name].enabled and self.exchanges[name].perp)

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
        """Read the environment, falling back on a `.env` file (the environment wins). A `.env`
        that cannot be read is logged and skipped."""
        values: dict[str, str] = {}
        if dotenv is None:
            dotenv = Path(".env")
        if dotenv.is_file():
            try:
                values.update(parse_dotenv(dotenv.read_text(encoding="utf-8", errors="replace")))
            except OSError as exc:
                log.warning("%s not read: %s", dotenv, exc)
        values.update(os.environ if env is None else env)

        def flag(key: str) -> bool:
            return values.get(key, "").strip().lower() in ("1", "true", "yes", "on")

        return cls(
            dingtalk_webhook=values.get("DINGTALK_WEBHOOK", "").strip(),
            dingtalk_secret=values.get("DINGTALK_SECRET", "").strip(),
            wechat_webhook=values.get("WECHAT_WEBHOOK", "").strip(),
            enable_dingtalk=flag("ENABLE_DINGTALK"),
            enable_wechat=flag("ENABLE_WECHAT"),
        )


def parse_dotenv(text: str) -> dict[str, str]:
    """KEY=VALUE lines as python-dotenv reads them (`export`, quotes, comments); values are taken
    literally (no `${VAR}` expansion: a secret may hold a `$`). Lines it cannot parse are logged
    by python-dotenv and skipped, as are keys without a value."""
    values = dotenv_values(stream=io.StringIO(text), interpolate=False)
    return {key: value for key, value in values.items() if value is not None}


# ---------------------------------------------------------------- loading


def user_settings_path() -> Path:
    """The user's own settings file (~/.config/gme-tui/settings.toml on Linux): where settings
    saved from the TUI go when gme-tui started from built-in defaults."""
    from platformdirs import user_config_dir

    return Path(user_config_dir("gme-tui")) / "settings.toml"


def default_config_paths() -> list[Path]:
    return [Path("settings.toml"), user_settings_path()]


def load_settings(path: str | Path | None = None) -> Settings:
    """Load and validate. An explicit path must be a file; otherwise the first default that is
    one, else the built-in defaults. Raises SettingsError with a message fit for the user."""
    if path is not None:
        target = Path(path)
        if target.is_dir():
            raise SettingsError(f"{target}: is a directory, not a settings file")
        if not target.exists():
            raise SettingsError(f"settings file not found: {target}")
        if not target.is_file():  # a FIFO or a device: reading it could block or never end
            raise SettingsError(f"{target}: is not a regular file, not a settings file")
        return _load_file(target)
    for candidate in default_config_paths():
        if candidate.is_file():
            return _load_file(candidate)
    return Settings()


def _load_file(path: Path) -> Settings:
    return parse_settings(_read(path), path)


def _read(path: Path) -> str:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SettingsError(f"{path}: cannot read settings file: {exc.strerror or exc}") from None
    try:
        return data.decode("utf-8-sig")  # a BOM, as some Windows editors write, is not an error
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise SettingsError(f"{path}: cannot read settings file: line {line} is not UTF-8 text") from None


def parse_settings(text: str, path: Path | None = None) -> Settings:
    """Validate a settings document (TOML text); `path` only names it in messages and becomes
    `source_path`. Raises SettingsError: one line naming the file, the key, its line and what
    would be valid."""
    where = str(path) if path else "settings"
    data = _parse_toml(text, where)
    lines = _KeyLines(text)
    try:
        read = msgspec.convert(data, _FileSettings)
    except msgspec.ValidationError as error:
        key, reason = _explain(error, data, _FileSettings, ())
        raise SettingsError(f"{where}: {lines.locate(key)}: {reason}") from None
    values = msgspec.structs.asdict(read)
    defaults = _default_exchanges()
    values["exchanges"] = {name: _exchange(read, data, name, defaults[name]) for name in EXCHANGES}
    settings = Settings(**values, source_path=path)
    _check_cross_field(settings, where, lines)
    return settings


def _exchange(
    read: _FileSettings, data: Mapping[str, object], name: ExchangeId, default: ExchangeSettings
) -> ExchangeSettings:
    """The file's table of one exchange, with that exchange's own `perp` default where the table
    leaves it out (Coinbase: off, SPEC §4b; a bare `[exchanges.coinbase]` must not switch it on)."""
    table = read.exchanges.get(name)
    if table is None:
        return default
    tables = data.get("exchanges")
    raw = tables.get(name) if isinstance(tables, Mapping) else None
    if isinstance(raw, Mapping) and "perp" not in raw and table.perp != default.perp:
        return msgspec.structs.replace(table, perp=default.perp)
    return table


def _parse_toml(text: str, where: str) -> dict[str, object]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{where}: not valid TOML: {exc}") from None
    except ValueError:  # tomllib refuses integers of more than 4300 digits (sys.int_info)
        raise SettingsError(f"{where}: not valid TOML: a number has too many digits") from None
    except RecursionError:
        raise SettingsError(f"{where}: not valid TOML: arrays or tables nested too deeply") from None


def _check_cross_field(settings: Settings, where: str, lines: _KeyLines) -> None:
    if not settings.enabled_exchanges:
        raise SettingsError(f"{where}: exchanges: at least one exchange must be enabled")
    if settings.consensus.min_exchanges > len(settings.enabled_exchanges):
        raise SettingsError(
            f"{where}: {lines.locate(('consensus', 'min_exchanges'))}: {settings.consensus.min_exchanges} is more "
            f"than the {len(settings.enabled_exchanges)} enabled exchanges"
        )
    if settings.timezone:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(settings.timezone)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            raise SettingsError(
                f"{where}: {lines.locate(('timezone',))}: unknown time zone {_shown(settings.timezone)}"
            ) from None


# ---------------------------------------------------------------- msgspec's errors, worded

_Key = tuple[str, ...]

_AT = re.compile(r" - at `(?P<at>[^`]*)`(?: in `(?P<mapping>[^`]*)`)?$")  # `key` in `$.x`: a key of x
_STEP = re.compile(r"\.(\w+)|\[(\d+|\.\.\.)\]")
_UNKNOWN = re.compile(r"Object contains unknown field `(.*)`$")
_EXPECTED = {bool: "true or false", int: "a number", float: "a number", str: "a string"}


def _explain(error: msgspec.ValidationError, value: object, hint: object, key: _Key) -> tuple[_Key, str]:
    """msgspec's error as (dotted key, reason). msgspec says where and which check failed; the
    raw value and the schema (`hint`, the type at `value`) say what would be valid."""
    message = str(error)
    at = _AT.search(message)
    what = message[: at.start()] if at else message
    listed: tuple[object, object] | None = None  # (list, its type) when an item is bad: lists are reported whole
    for name, index in _STEP.findall(at["mapping"] or at["at"] if at else ""):
        if index == "...":  # an entry of a mapping, unnamed
            return _bad_entry(value, hint, key)
        if name:
            key, value, hint = key + (name,), _item(value, name), _field_types(_bare(hint))[name]
        else:
            listed, value, hint = (value, hint), _item(value, int(index)), get_args(_bare(hint))[0]
    if at and at["mapping"]:
        return _bad_entry(value, hint, key)
    unknown = _UNKNOWN.match(what)
    if unknown:
        return key + (unknown[1],), f"unknown key (known here: {', '.join(sorted(_field_types(_bare(hint))))})"
    return key, _reason(what, value, hint, listed)


def _bad_entry(table: object, hint: object, key: _Key) -> tuple[_Key, str]:
    """msgspec does not name the bad entry of a mapping: check the entries in its order to find it."""
    key_type, value_type = get_args(_bare(hint))
    for name, value in table.items() if isinstance(table, dict) else ():
        try:
            msgspec.convert(name, key_type)
        except msgspec.ValidationError:  # the schema's mappings are keyed by exchange id
            return key + (name,), f"unknown exchange (known: {', '.join(_choices(key_type))})"
        try:
            msgspec.convert(value, value_type)
        except msgspec.ValidationError as error:
            return _explain(error, value, value_type, key + (name,))
    return key, "invalid table"  # pragma: no cover - msgspec found a bad entry


def _reason(what: str, value: object, hint: object, listed: tuple[object, object] | None) -> str:
    base = _bare(hint)
    if what.startswith("Expected `") and ", got `" in what:  # the wrong type
        if listed is not None:
            return f"expected {_expected(_bare(listed[1]))}, got a list holding {_kind(value)}"
        if base is int and isinstance(value, float):
            return f"expected a whole number, got {_shown(value)}"
        return f"expected {_expected(base)}, got {_kind(value)}"
    if what.startswith("Invalid enum value"):
        return f"{_shown(value)} is not one of {', '.join(_choices(base))}"
    if isinstance(value, float) and not math.isfinite(value):
        return "expected a finite number"
    meta = get_args(hint)[-1] if get_origin(hint) is Annotated else None
    if isinstance(meta, msgspec.Meta) and isinstance(value, int | float):  # a range: `_range` sets both ends
        if meta.ge is not None and value < meta.ge:
            return f"{_shown(value)} is below the minimum {meta.ge}"
        return f"{_shown(value)} is above the maximum {meta.le}"
    return what[:1].lower() + what[1:]  # pragma: no cover - a check this schema does not use


def _bare(hint: object) -> object:
    """The type under `Annotated[type, msgspec.Meta(...)]`; its Meta is the last argument."""
    return get_args(hint)[0] if get_origin(hint) is Annotated else hint


def _field_types(struct: object) -> dict[str, object]:
    if isinstance(struct, type) and issubclass(struct, msgspec.Struct):
        return {spec.encode_name: spec.type for spec in msgspec.structs.fields(struct)}
    return {}


def _choices(hint: object) -> tuple[str, ...]:
    if isinstance(hint, type) and issubclass(hint, Enum):
        return tuple(str(member.value) for member in hint)
    return tuple(str(choice) for choice in get_args(hint))


def _expected(base: object) -> str:
    if base in _EXPECTED:
        return _EXPECTED[base]
    if get_origin(base) is Literal or (isinstance(base, type) and issubclass(base, Enum)):
        return "a string"
    if get_origin(base) is tuple:
        items = _bare(get_args(base)[0])
        return "a list of whole numbers" if items is int else "a list of strings"
    return "a table"


def _item(container: object, step: str | int) -> object:
    if isinstance(container, dict):
        return container.get(step)
    return container[step] if isinstance(container, list) and isinstance(step, int) else None


def _kind(value: object) -> str:
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, int | float | str):
        return f"a {'string' if isinstance(value, str) else 'number'} ({_shown(value)})"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a table"
    return f"a {type(value).__name__} ({value})"  # TOML's dates and times


def _shown(value: object) -> str:
    """repr for a message, kept to one short line: huge integers in scientific notation."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**21:
        return f"{Decimal(value):.3g}"
    text = repr(value)
    return text if len(text) <= 80 else text[:76] + " ..."


class _KeyLines:
    """Finds the line a dotted key is written on, for error messages (tomllib reports none)."""

    _HEADER = re.compile(r"^\s*\[\[?(.+?)\]\]?\s*(#.*)?$")
    _KEY = re.compile(r"^\s*([^\s\[#=][^=]*?)\s*=")

    def __init__(self, text: str) -> None:
        self._lines = text.split("\n")  # TOML's only line break (splitlines would also split at U+2028)

    def locate(self, key: _Key) -> str:
        """The dotted key as TOML would spell it, with its line when found: `window.minutes (line 2)`."""
        line = self.find(key)
        dotted = ".".join(part if _BARE_KEY.fullmatch(part) else repr(part) for part in key)
        return dotted + (f" (line {line})" if line else "")

    def find(self, key: _Key) -> int | None:
        table: _Key = ()
        for number, line in enumerate(self._lines, start=1):
            header = self._HEADER.match(line)
            if header:
                table = _dotted_key(header.group(1)) or table
                if table == key:
                    return number
                continue
            match = self._KEY.match(line)
            dotted = _dotted_key(match.group(1)) if match else None
            if dotted:
                full = table + dotted
                shorter = min(len(full), len(key))
                if full[:shorter] == key[:shorter]:
                    return number
        return None


_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def _dotted_key(text: str) -> _Key | None:
    """A TOML key (bare, quoted or dotted parts) as tomllib reads it; None if it is not one."""
    try:
        node: object = tomllib.loads(f"{text} = 0")
    except (ValueError, RecursionError):  # TOMLDecodeError is a ValueError
        return None
    parts: list[str] = []
    while isinstance(node, dict) and len(node) == 1:
        ((name, node),) = node.items()
        parts.append(name)
    return tuple(parts) or None


# ---------------------------------------------------------------- saving


def save_changes(path: Path, changes: Mapping[str, object]) -> None:
    """Write `changes` (dotted keys → values; tuples are written as arrays) into the TOML file at
    `path`, keeping its comments, order and every other key. The file is replaced atomically.
    Raises SettingsError, leaving the file as it was, when the result would not load; OSError
    when it cannot be written."""
    import tomlkit
    from tomlkit.exceptions import TOMLKitError

    text = _read(path) if path.exists() else ""
    try:
        document = tomlkit.parse(text)
        for dotted, value in changes.items():
            parts = dotted.split(".")
            table = document
            for part in parts[:-1]:
                if part not in table:
                    table[part] = tomlkit.table()
                table = table[part]
            table[parts[-1]] = list(value) if isinstance(value, tuple) else value
        new_text = tomlkit.dumps(document)
    except TOMLKitError as exc:
        raise SettingsError(f"{path}: not saved: {exc}") from None
    parse_settings(new_text, path)  # never write a file we would refuse to load
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(new_text, encoding="utf-8")
    os.replace(temporary, path)
