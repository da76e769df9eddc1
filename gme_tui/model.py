"""Data shared by every part of gme-tui: sources produce it, the engine transforms it, consumers show it.

Everything here is a frozen dataclass or a constant; nothing here does I/O.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Literal, NamedTuple

ExchangeId = Literal["binance", "okx", "bybit", "coinbase"]
"""The four exchange ids (SPEC §2)."""

EXCHANGES: tuple[ExchangeId, ...] = ("binance", "okx", "bybit", "coinbase")
"""Exchange ids in display order."""

EXCHANGE_SHORT: Mapping[str, str] = MappingProxyType(
    {"binance": "BIN", "okx": "OKX", "bybit": "BYB", "coinbase": "COI"}
)

Side = Literal["buy", "sell"]
Language = Literal["zh", "en"]
MINUTE_MS = 60_000


class Level(StrEnum):
    """Consensus level codes (SPEC §3), in rule order."""

    STRONG_BULLISH = "strong_bullish"
    STRONG_BEARISH = "strong_bearish"
    LEAN_BULLISH = "lean_bullish"
    LEAN_BEARISH = "lean_bearish"
    MIXED = "mixed"


class Grade(StrEnum):
    """Signal grades (SPEC §4)."""

    A_PLUS = "A+"
    A = "A"
    B = "B"
    C = "C"


class SignalCode(StrEnum):
    """Signal codes (SPEC §4)."""

    GLOBAL_SYNC_BULLISH = "global_sync_bullish"
    US_INSTITUTIONAL_ACCUMULATION = "us_institutional_accumulation"
    DERIVATIVES_HEDGE = "derivatives_hedge"
    SINGLE_PLATFORM_LONG_TRAP = "single_platform_long_trap"


class SourceMode(StrEnum):
    """What feeds the engine: decides its clock, warm-up and how alerts are marked (SPEC §10)."""

    LIVE = "live"
    REPLAY = "replay"
    DEMO = "demo"


class HealthState(StrEnum):
    """One exchange's state as its source reports it."""

    CONNECTING = "connecting"
    BACKFILLING = "backfilling"
    LIVE = "live"
    RECONNECTING = "reconnecting"
    DOWN = "down"
    REPLAY = "replay"
    SIMULATED = "simulated"
    DONE = "done"

    @property
    def up(self) -> bool:
        """Data flows (or the source ended normally): not an outage."""
        return self in _UP_STATES


_UP_STATES = frozenset(
    {HealthState.LIVE, HealthState.BACKFILLING, HealthState.REPLAY, HealthState.SIMULATED, HealthState.DONE}
)


class Trade(NamedTuple):
    """One taker trade (a fill). `side` is the TAKER side: buy = the aggressor bought.

    A NamedTuple rather than a frozen dataclass: it is built once per trade on the hot path, where
    a frozen dataclass's __init__ costs several times more. It is just as immutable.
    """

    exchange: str
    symbol: str
    ts: int  # exchange timestamp, ms UTC
    side: Side
    price: float
    amount: float  # base units
    id: str | None = None

    @property
    def value(self) -> float:
        return self.price * self.amount

    @property
    def minute(self) -> int:
        return self.ts // MINUTE_MS


@dataclass(frozen=True, slots=True)
class MinuteBucket:
    """A closed minute of flow that came from a backfill rather than from individual trades."""

    exchange: str
    symbol: str
    minute: int  # ts // 60000
    buy: float  # taker-buy value (quote units)
    sell: float  # taker-sell value (quote units)
    count: int = 0
    close: float | None = None  # last price of the minute, when the source knows it
    covered: bool = True  # False: a minute the source saw only in part (restored from the store)


@dataclass(frozen=True, slots=True)
class Listings:
    """Which exchanges list which canonical symbols: they participate from the start."""

    symbols: Mapping[str, tuple[str, ...]]


@dataclass(frozen=True, slots=True)
class Coverage:
    """Minutes of (exchange, symbol) that a source really covered (stream up or backfilled)."""

    exchange: str
    symbol: str
    first_minute: int
    last_minute: int  # inclusive


@dataclass(frozen=True, slots=True)
class PastTrades:
    """Taker orders from a backfill of minutes the stream did not see, oldest first. Their flow
    already came as MinuteBuckets: the engine only looks for whales among them."""

    exchange: str
    symbol: str
    trades: tuple[Trade, ...]


SourceItem = Trade | MinuteBucket | Listings | Coverage | PastTrades
"""What a source hands to the engine."""


# ---------------------------------------------------------------- engine output


def ratio_of(buy: float, sell: float) -> float | None:
    """Buy/sell ratio: +inf when only buys, None when nothing traded (SPEC §2)."""
    if sell > 0:
        return buy / sell
    if buy > 0:
        return math.inf
    return None


class ExchangeWindow(NamedTuple):
    """One exchange's figures for one symbol over the scan window (a NamedTuple: one is built
    per pair per scan, thousands a minute)."""

    exchange: str
    buy: float
    sell: float
    net: float
    ratio: float | None
    trades: int
    covered_minutes: int | None  # None when coverage is not tracked (replay, demo)
    minute_nets: tuple[float, ...]  # net flow per minute, oldest first, one per window minute
    last_price: float | None


@dataclass(frozen=True, slots=True)
class Consensus:
    ts: int  # scan time T (ms, minute-aligned)
    symbol: str
    level: Level
    flows: Mapping[str, float]
    ratios: Mapping[str, float | None]
    total: float
    coverage: Mapping[str, int] | None = None
    window_minutes: int = 50


@dataclass(frozen=True, slots=True)
class Signal:
    ts: int
    symbol: str
    grade: Grade
    code: SignalCode
    flows: Mapping[str, float]


@dataclass(frozen=True, slots=True)
class Whale:
    """One taker ORDER (consecutive same-ts, same-side fills merged) at or above the threshold."""

    ts: int
    exchange: str
    symbol: str
    side: Side
    price: float  # value / amount
    amount: float
    value: float
    fills: int = 1
    backfilled: bool = False  # found in the history of minutes the stream missed: old news, never alerted


@dataclass(frozen=True, slots=True)
class SymbolScan:
    """Everything a scan knows about one symbol: its consensus, its signals, its per-exchange windows."""

    consensus: Consensus
    signals: tuple[Signal, ...]
    exchanges: Mapping[str, ExchangeWindow]
    price: float | None  # last price on the first participating exchange in display order
    price_change: float | None  # relative change of that price over the window (0.01 = +1 %)
    volume: float  # buy + sell value over the window, all participating exchanges


@dataclass(frozen=True, slots=True)
class Scan:
    """One reported scan at minute boundary `ts`, symbols in sorted order."""

    ts: int
    window_minutes: int
    symbols: tuple[SymbolScan, ...]

    def events(self) -> list[Consensus | Signal]:
        """The scan as a stream: symbol by symbol, consensus before its signals (SPEC §6)."""
        out: list[Consensus | Signal] = []
        for item in self.symbols:
            out.append(item.consensus)
            out.extend(item.signals)
        return out


@dataclass(frozen=True, slots=True)
class ClosedMinutes:
    """Minutes that closed (or changed after closing, by a late trade) since the previous scan,
    for the store. Emitted before the scan at `ts` when the engine is asked to."""

    ts: int
    buckets: tuple[MinuteBucket, ...]


EngineEvent = Scan | Whale | ClosedMinutes


@dataclass(frozen=True, slots=True)
class EngineStats:
    trades: int = 0
    buckets: int = 0
    duplicates: int = 0
    late: int = 0
    ignored: int = 0  # trades of disabled exchanges
    whales: int = 0
    scans: int = 0
    data_time: int | None = None


# ---------------------------------------------------------------- source health


@dataclass(frozen=True, slots=True)
class ExchangeHealth:
    """What a source says about one exchange, for the status bar and the system alerts."""

    exchange: str
    state: HealthState
    since_ms: int  # when the current state began (wall or data time)
    last_message_ms: int | None = None
    trades_per_s: float = 0.0
    dropped: int = 0  # malformed or rejected frames/trades, counted
    reason: str = ""  # why it is not live: "DNS lookup failed", "HTTP 418 IP ban until 12:03", ...
    backfill_done: int = 0  # symbols backfilled so far
    backfill_total: int = 0


@dataclass(frozen=True, slots=True)
class HealthUpdate:
    """The pipeline's heartbeat to its consumers: every exchange's health at `now_ms` (the
    pipeline's wall clock, ms UTC, in every mode)."""

    now_ms: int
    mode: SourceMode
    exchanges: tuple[ExchangeHealth, ...]


# ---------------------------------------------------------------- consumers' records


@dataclass(frozen=True, slots=True)
class StoredSignal:
    """A signal as the store keeps it (history screen, scorecard)."""

    ts: int
    symbol: str
    grade: Grade
    code: SignalCode
    flows: Mapping[str, float]  # participating exchanges only
    coverage: Mapping[str, int] | None  # minutes covered per exchange (live), None otherwise
    window_minutes: int


RobotName = Literal["dingtalk", "wecom"]


@dataclass(frozen=True, slots=True)
class RobotStatus:
    """What the UI shows per alert robot. Never holds a credential."""

    name: RobotName
    label: str  # DingTalk | WeCom
    configured: bool
    delivered: int  # alerts delivered during this run
    pending: int  # alerts waiting in the outbox
    failed: int  # alerts reported undeliverable (kept a week in the outbox)
    last_error: str = ""
    hint: str = ""
    halted: bool = False  # a configuration error: nothing more is sent during this run
    waiting_until_ms: int = 0  # throttled or backing off until then
