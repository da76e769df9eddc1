"""Data shared by every part of gme-tui: sources produce it, the engine transforms it, consumers show it.

Everything here is a frozen dataclass (a NamedTuple or frozen msgspec Struct where one is built
per trade or per pair on a hot path) or a constant; nothing here does I/O.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Literal, NamedTuple

import msgspec

ExchangeId = Literal["binance", "okx", "bybit", "coinbase"]
"""The four exchange ids (SPEC §2)."""

EXCHANGES: tuple[ExchangeId, ...] = ("binance", "okx", "bybit", "coinbase")
"""Exchange ids in display order."""

EXCHANGE_SHORT: Mapping[str, str] = MappingProxyType(
    {"binance": "BIN", "okx": "OKX", "bybit": "BYB", "coinbase": "COI"}
)

Side = Literal["buy", "sell"]
Market = Literal["spot", "perp"]
"""Which book a flow comes from (SPEC §4b): spot, or the venue's USDT-margined perpetual swap."""
PositionSide = Literal["long", "short"]
"""The position a liquidation closed (SPEC §4b), whatever side the exchange's order had."""
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
    GLOBAL_SYNC_BEARISH = "global_sync_bearish"


class Direction(StrEnum):
    """The way a signal points (SPEC §4): B is `neutral`, a "watch" signal."""

    BULLISH = "bullish"
    BEARISH = "bearish"
    NEUTRAL = "neutral"


DIRECTION_OF: Mapping[SignalCode, Direction] = MappingProxyType(
    {
        SignalCode.GLOBAL_SYNC_BULLISH: Direction.BULLISH,
        SignalCode.US_INSTITUTIONAL_ACCUMULATION: Direction.BULLISH,
        SignalCode.DERIVATIVES_HEDGE: Direction.NEUTRAL,
        SignalCode.SINGLE_PLATFORM_LONG_TRAP: Direction.BEARISH,
        SignalCode.GLOBAL_SYNC_BEARISH: Direction.BEARISH,
    }
)
"""Every signal's direction (SPEC §4): a fact of its code, so it can never disagree with it."""


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


class Trade(msgspec.Struct, frozen=True, gc=False, forbid_unknown_fields=True):
    """One taker trade (a fill). `side` is the TAKER side: buy = the aggressor bought.

    A frozen msgspec Struct: immutable and hashable like a frozen dataclass, built in C, and the
    replay's parser decodes a recorded trade line straight into it (SPEC §8's common line), so a
    replayed trade is never built twice (issue 12: that was a twentieth of a replay). Decoding
    checks only these JSON types: any other key on the line (`type`, `market`, ...) fails it, and
    the parser then takes its detailed path. Untracked by the garbage collector (no cycles).
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


class PerpTrade(NamedTuple):
    """One taker trade on a perpetual swap (SPEC §4b), in the canonical symbol's units: `amount`
    in base units with the contract size (and a `1000X` listing's factor) applied, `price` per
    base unit, so `value = price * amount` is the quote value, as for spot.

    A type of its own rather than a `market` field on Trade: a perp trade must never land in spot
    flow by accident.
    """

    exchange: str
    symbol: str
    ts: int  # exchange timestamp, ms UTC
    side: Side  # the TAKER side
    price: float  # quote per base unit
    amount: float  # base units (contracts × contract size × listing factor)
    id: str | None = None

    @property
    def value(self) -> float:
        return self.price * self.amount

    @property
    def minute(self) -> int:
        return self.ts // MINUTE_MS


@dataclass(frozen=True, slots=True)
class OpenInterest:
    """One open-interest sample of (venue, symbol) (SPEC §4b, §8 `oi` lines)."""

    exchange: str
    symbol: str
    ts: int  # the exchange's timestamp of the figure, ms UTC
    oi: float  # base units (OKX: contracts × contract size)


@dataclass(frozen=True, slots=True)
class Liquidation:
    """One forced liquidation (SPEC §4b, §7): `side` is the position liquidated, not the
    exchange's order side; `value = price × amount` with the contract size applied by us."""

    ts: int  # ms UTC
    exchange: str
    symbol: str
    side: PositionSide
    price: float  # quote per base unit
    amount: float  # base units
    value: float  # quote units


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
    market: Market = "spot"  # "perp": a perpetual's minute (value with the contract size applied)


@dataclass(frozen=True, slots=True)
class Listings:
    """Which exchanges list which canonical symbols: they participate from the start."""

    symbols: Mapping[str, tuple[str, ...]]
    market: Market = "spot"  # "perp": the venues listing each symbol's perpetual (SPEC §8 perp_listings)


@dataclass(frozen=True, slots=True)
class Coverage:
    """Minutes of (exchange, symbol) that a source really covered (stream up or backfilled)."""

    exchange: str
    symbol: str
    first_minute: int
    last_minute: int  # inclusive
    market: Market = "spot"


@dataclass(frozen=True, slots=True)
class PastTrades:
    """Taker orders from a backfill of minutes the stream did not see, oldest first. Their flow
    already came as MinuteBuckets: the engine only looks for whales among them."""

    exchange: str
    symbol: str
    trades: tuple[Trade, ...]


@dataclass(frozen=True, slots=True)
class DuplicateTrades:
    """Trade lines a replay's parser found to be duplicates (SPEC §8: same exchange, symbol and id
    as a kept trade) and dropped: only their number reaches the engine, which counts them as it
    counts the duplicates it drops itself (EngineStats.duplicates, perp_duplicates)."""

    count: int
    market: Market = "spot"


SourceItem = (
    Trade | MinuteBucket | Listings | Coverage | PastTrades | PerpTrade | OpenInterest | Liquidation | DuplicateTrades
)
"""What a source hands to the engine (PerpTrade, OpenInterest, Liquidation: derivatives, SPEC §4b;
DuplicateTrades: a replay's)."""


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


class OiSpan(NamedTuple):
    """One venue of a window's OI set (SPEC §4b): the samples at the window's two ends."""

    start: float  # base units: the latest sample at or before T − W
    end: float  # base units: the latest sample at or before T
    start_ts: int  # ms of those samples
    end_ts: int
    price: float  # p: the venue's last perp price, which weighs both


@dataclass(frozen=True, slots=True)
class Derivatives:
    """A symbol's perpetual side at a scan (SPEC §4b, §7 `derivatives` lines), for a symbol with at
    least one perp venue. Values are quote units; ratios as SPEC §2 (None: undefined)."""

    ts: int  # scan time T (ms)
    symbol: str
    windows: Mapping[str, ExchangeWindow]  # per participating perp venue, display order
    perp_flows: Mapping[str, float]  # perp_net per venue
    perp_ratios: Mapping[str, float | None]
    perp_total: float  # Σ perp_net
    perp_ratio: float | None  # Σ buy / Σ sell over the perp venues
    spot_total: float  # SPEC §3's total
    spot_ratio: float | None  # Σ buy / Σ sell over the spot exchanges
    oi: Mapping[str, OiSpan]  # the OI set: venues with both samples and a price
    oi_change_pct: float | None  # None: empty OI set or a start sum of 0
    hedge_ratio: float | None  # −perp_total / spot_total; None when spot_total is 0
    perp_coverage: Mapping[str, int] | None = None  # live: minutes covered per venue
    window_minutes: int = 50
    liquidated_long: float = 0.0  # value of long positions liquidated in the window (quote)
    liquidated_short: float = 0.0
    liquidations_sampled: bool = False  # a venue sends at most one per symbol per second (Binance)


@dataclass(frozen=True, slots=True)
class Signal:
    ts: int
    symbol: str
    grade: Grade
    code: SignalCode
    flows: Mapping[str, float]
    derivatives: Derivatives | None = None  # B: the figures it held on (SPEC §7's extra keys)

    @property
    def direction(self) -> Direction:
        """bullish | bearish | neutral, from the code (SPEC §4)."""
        return DIRECTION_OF[self.code]


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
    derivatives: Derivatives | None = None  # None: the symbol has no perp venue (SPEC §4b)


@dataclass(frozen=True, slots=True)
class Scan:
    """One reported scan at minute boundary `ts`, symbols in sorted order."""

    ts: int
    window_minutes: int
    symbols: tuple[SymbolScan, ...]
    # A re-scan of boundary `ts` after the settings changed (issue 13): shown at once, but the
    # alert dispatcher and the store ignore it (the boundary was already alerted and stored).
    rescan: bool = False

    def events(self) -> list[Consensus | Signal]:
        """The scan as a stream: symbol by symbol, consensus before its signals (SPEC §6)."""
        out: list[Consensus | Signal] = []
        for item in self.symbols:
            out.append(item.consensus)
            out.extend(item.signals)
        return out

    def lines(self) -> list[Consensus | Derivatives | Signal]:
        """The scan as SPEC §7 writes it: symbol by symbol, the consensus line, then the symbol's
        derivatives line (when it has a perp venue), then its signals."""
        out: list[Consensus | Derivatives | Signal] = []
        for item in self.symbols:
            out.append(item.consensus)
            if item.derivatives is not None:
                out.append(item.derivatives)
            out.extend(item.signals)
        return out


@dataclass(frozen=True, slots=True)
class ClosedMinutes:
    """Minutes that closed (or changed after closing, by a late trade) since the previous scan,
    for the store. Emitted before the scan at `ts` when the engine is asked to."""

    ts: int
    buckets: tuple[MinuteBucket, ...]


EngineEvent = Scan | Whale | ClosedMinutes | Liquidation


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
    perp_trades: int = 0
    perp_buckets: int = 0
    perp_duplicates: int = 0
    perp_late: int = 0
    perp_ignored: int = 0  # perp trades, minutes, OI samples and liquidations of disabled venues
    oi_samples: int = 0
    liquidations: int = 0


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
    attempt: int = 0  # reconnect or reload attempts since the last success (0: none running)
    next_try_ms: int | None = None  # wall ms of the next attempt while backing off; None: trying now or live
    # Binance USDⓈ-M (issue 14 item 2): the REST weight this IP used in the minute of the last
    # open-interest poll (X-MBX-USED-WEIGHT-1M), of `rest_weight_limit` per minute (2400); None
    # where the exchange has no perp venue counting weight, or before its first poll.
    rest_weight: int | None = None
    rest_weight_limit: int = 0


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

    @property
    def direction(self) -> Direction:
        return DIRECTION_OF[self.code]


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
    sent_by: str = ""  # "" when this process sends; else who does ("pid 1234 (gme-tui --headless)")
