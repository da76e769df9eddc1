"""What every perpetual venue shares (SPEC §4b): the market mapping, the units, the adapter base
class over the spot one, and the frame hook that also routes liquidation frames.

A perp venue is an `ExchangeAdapter` (ccxt_common.py), so the spot collector's sessions, hook,
watchdogs and backfill can drive it; on top it maps canonical symbols to swaps, parses
liquidations and polls open interest. Its frames are read by our own parsers, never by ccxt's
(which costs about 4× more per trade and leaves a liquidation's value empty).

Units. Exchanges count perps in contracts of a listing that may be a multiple of the base
(`1000PEPE/USDT:USDT`: a contract of 1000 PEPE on Binance and Bybit; `BTC-USDT-SWAP`: 0.01 BTC on
OKX). Everything leaving this package is in the canonical symbol's units: amounts in base units
(contracts × contractSize × listing factor), prices per base unit (listing price / factor), so a
trade's quote value is `price × amount` exactly as for spot, and a recording (whose perp lines
hold base amounts, SPEC §8) replays to the very same floats. For a factor of 1, the value is
`price × (amount × contractSize)`: an OKX fill of 1 contract at 63,913.5 with contract size 0.01
is worth 639.135.

An adapter is stateless until `bind(markets)` gives a copy that knows the venue's markets (their
contract sizes, read once from ccxt's markets), which its parsers then apply.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar, Literal, Protocol, Self, TypedDict, cast, runtime_checkable

from gme_tui.model import Liquidation, Market, OpenInterest, PositionSide
from gme_tui.sources.ccxt_common import (
    CcxtMarket,
    ExchangeAdapter,
    FrameSink,
    RestClient,
    Row,
    WsClient,
    hooked_class,
    response_header,
)

SETTLE = "USDT"
LISTING_FORMS: tuple[tuple[str, int], ...] = (("{base}", 1), ("1000{base}", 1000), ("{base}1000", 1000))
"""The swap listings of a canonical BASE/USDT, in order of preference (SPEC §4b): the first one the
venue lists is used, with its factor (base units per unit of the listing's own base)."""

LiquidationRow = tuple[str, int, PositionSide, float, float]
"""One liquidation from a frame: (market id, ts ms, position liquidated, price, amount); in base
units once the adapter is bound."""

OiUnit = Literal["weight", "requests"]


class CcxtContract(TypedDict, total=False):
    """The keys we read of a ccxt unified swap market (it has many more)."""

    id: str  # BTCUSDT, BTC-USDT-SWAP, 1000PEPEUSDT
    symbol: str  # BTC/USDT:USDT
    base: str
    quote: str
    settle: str
    swap: bool
    linear: bool
    active: bool | None
    contractSize: float | None


@dataclass(frozen=True, slots=True)
class PerpMarket:
    """One canonical symbol's swap on one venue."""

    symbol: str  # canonical BASE/USDT
    ccxt_symbol: str  # ccxt's unified symbol: BTC/USDT:USDT, 1000PEPE/USDT:USDT
    id: str  # the exchange's market id
    contract_size: float  # listing base units per contract (ccxt `contractSize`)
    factor: int = 1  # canonical base units per listing base unit: 1000 for 1000X and X1000

    @property
    def amount_scale(self) -> float:
        """Canonical base units per contract."""
        return self.contract_size * self.factor

    def base_amount(self, contracts: float) -> float:
        return contracts * self.amount_scale

    def base_price(self, price: float) -> float:
        return price / self.factor if self.factor != 1 else price


def map_perp_markets(
    canonical: Iterable[str], markets: Mapping[str, CcxtMarket], *, settle: str = SETTLE, linear: bool = True
) -> dict[str, PerpMarket]:
    """canonical symbol → its swap on this venue: the first listed of `X/USDT:USDT`,
    `1000X/USDT:USDT`, `X1000/USDT:USDT` (`settle` for USDT) that is an active swap settled in
    `settle` (and linear, if `linear`) with a positive contract size. Symbols without one are left
    out (no perp: no derivatives line, no B)."""
    contracts = cast(Mapping[str, CcxtContract], markets)
    out: dict[str, PerpMarket] = {}
    for symbol in canonical:
        base = symbol.partition("/")[0]
        for form, factor in LISTING_FORMS:
            ccxt_symbol = f"{form.format(base=base)}/{settle}:{settle}"
            market = contracts.get(ccxt_symbol)
            if market is None or not _usable(market, settle, linear):
                continue
            size = float(market.get("contractSize") or 0.0)
            out[symbol] = PerpMarket(symbol, ccxt_symbol, market["id"], size, factor)
            break
    return out


def _usable(market: CcxtContract, settle: str, linear: bool) -> bool:
    size = market.get("contractSize")
    return (
        market.get("swap") is True
        and (market.get("linear") is True or not linear)
        and market.get("settle") == settle
        and market.get("active", True) is not False
        and size is not None
        and float(size) > 0
    )


def position_of_order(order_side: str) -> PositionSide:
    """The position a liquidation ORDER closes (Binance, OKX): a sell closes a long."""
    side = order_side.lower()
    if side == "sell":
        return "long"
    if side == "buy":
        return "short"
    raise ValueError(f"not an order side: {order_side!r}")


def liquidation(exchange: str, symbol: str, row: LiquidationRow) -> Liquidation:
    """A bound adapter's row as the model's Liquidation, with `value = price × amount` computed by
    us (ccxt leaves it empty)."""
    _id, ts, side, price, amount = row
    return Liquidation(
        ts=ts, exchange=exchange, symbol=symbol, side=side, price=price, amount=amount, value=price * amount
    )


@runtime_checkable
class LiquidationSink(Protocol):
    """Takes a bound adapter's liquidation rows (checked at run time by `ws_client`)."""

    def on_liquidations(self, rows: list[LiquidationRow]) -> None: ...


class PerpFrameSink(FrameSink, LiquidationSink, Protocol):
    """A perp session's sink: the spot sink's frames and rows, plus liquidations."""


class PerpAdapter(ExchangeAdapter):
    """One perp venue over ccxt: the spot adapter's shape plus markets, liquidations and open
    interest (SPEC §4b). Subclasses write `parse_trades` (raw frame → rows in the venue's units),
    `parse_raw_liquidations`, `watch_liquidations`, `fetch_open_interest` and, where the venue has
    it, `fetch_open_interest_history`."""

    market: ClassVar[Market] = "perp"
    oi_batch: ClassVar[bool] = False  # one REST call answers for every swap of the venue
    oi_weight: ClassVar[int] = 1  # cost of one open-interest call, in `oi_unit`
    oi_unit: ClassVar[OiUnit] = "requests"
    oi_history_step_ms: ClassVar[int] = 5 * 60_000  # the granularity of the venue's OI history
    liquidations_sampled: ClassVar[bool] = False  # the venue sends at most one per symbol per second
    liquidations_per_symbol: ClassVar[bool] = False  # one liquidation topic per symbol (else all-market)
    weight_header: ClassVar[str | None] = None  # the response header with the weight used this minute

    _scales: Mapping[str, PerpMarket] = {}  # market id → market, once bound
    _bound: bool = False

    # ------------------------------------------------------------ markets

    def perp_markets(self, canonical: Iterable[str], markets: Mapping[str, CcxtMarket]) -> dict[str, PerpMarket]:
        """canonical symbol → this venue's swap for it (SPEC §4b's three listing forms)."""
        return map_perp_markets(canonical, markets)

    def bind(self, markets: Iterable[PerpMarket]) -> Self:
        """A copy of this adapter that converts its venue's units for these markets."""
        bound = copy.copy(self)
        bound._scales = {m.id: m for m in markets}
        bound._bound = True
        return bound

    def add_markets(self, markets: Iterable[PerpMarket]) -> None:
        """Teach a bound adapter (the collector's own copy) markets listed since it was bound, so
        its clients already connected convert their units too. Raises on an unbound adapter."""
        if not self._bound:
            raise RuntimeError(f"{self.id} perp adapter: add_markets before bind(markets)")
        self._scales = {**self._scales, **{m.id: m for m in markets}}

    @property
    def bound_markets(self) -> Mapping[str, PerpMarket]:
        return self._scales

    # ------------------------------------------------------------ frames

    def parse_frame(self, message: object, out: list[Row]) -> bool:
        """Trades of a frame in canonical units (see the module docstring); unknown market ids pass
        unconverted (the collector drops them as unknown symbols). Needs a bound adapter."""
        if not self._bound:
            raise RuntimeError(f"{self.id} perp adapter used before bind(markets)")
        start = len(out)
        if not self.parse_trades(message, out):
            return False
        scales = self._scales
        for i in range(start, len(out)):
            market_id, ts, bought, price, amount, trade_id = out[i]
            market = scales.get(market_id)
            if market is not None and (market.factor != 1 or market.contract_size != 1):
                out[i] = (market_id, ts, bought, market.base_price(price), market.base_amount(amount), trade_id)
        return True

    def parse_liquidations(self, message: object, out: list[LiquidationRow]) -> bool:
        """Liquidations of a frame in canonical units, sides normalised to the position liquidated;
        True when it was a liquidation frame. Raises on a malformed one. Needs a bound adapter."""
        if not self._bound:
            raise RuntimeError(f"{self.id} perp adapter used before bind(markets)")
        start = len(out)
        if not self.parse_raw_liquidations(message, out):
            return False
        scales = self._scales
        for i in range(start, len(out)):
            market_id, ts, side, price, amount = out[i]
            market = scales.get(market_id)
            if market is not None:
                out[i] = (market_id, ts, side, market.base_price(price), market.base_amount(amount))
        return True

    def parse_trades(self, message: object, out: list[Row]) -> bool:
        """Append a frame's trades in the venue's units (listing price, contracts); True when it was
        a trade frame. Raises on a malformed trade frame."""
        raise NotImplementedError

    def parse_raw_liquidations(self, message: object, out: list[LiquidationRow]) -> bool:
        """Append a frame's liquidations in the venue's units, side = the position liquidated."""
        raise NotImplementedError

    async def watch_liquidations(self, ws: WsClient, markets: Sequence[PerpMarket]) -> None:
        """Subscribe the venue's liquidation feed for `markets`; returns only in odd cases, raises
        when the socket closes (our hook consumes the frames, so ccxt's futures never resolve)."""
        raise NotImplementedError

    def ws_client(self, config: Mapping[str, object], sink: FrameSink) -> WsClient:
        """A new hooked ccxt.pro client whose trade frames go to `sink.on_rows` and liquidation
        frames to `sink.on_liquidations`. Raises TypeError when `sink` is not a PerpFrameSink."""
        if not isinstance(sink, LiquidationSink):
            raise TypeError(f"{self.id}: a perp session needs a sink with on_liquidations")
        ws = perp_hooked_class(self.pro_class)(dict(config))
        ws.gme_sink = sink
        ws.gme_adapter = self
        return ws

    # ------------------------------------------------------------ open interest

    def oi_calls(self, markets: int) -> int:
        """REST calls one open-interest poll of `markets` symbols makes."""
        return 1 if self.oi_batch else markets

    def oi_cost(self, markets: int) -> int:
        """What one poll costs, in `oi_unit` (Binance: request weight)."""
        return self.oi_calls(markets) * self.oi_weight

    async def fetch_open_interest(self, rest: RestClient, markets: Sequence[PerpMarket]) -> list[OpenInterest]:
        """The current open interest of `markets`, in base units (SPEC §4b)."""
        raise NotImplementedError

    async def fetch_open_interest_history(
        self, rest: RestClient, market: PerpMarket, first_ms: int, last_ms: int
    ) -> list[OpenInterest]:
        """OI samples of one market between first_ms and last_ms (inclusive), oldest first, base
        units: so B can hold from the first scan (SPEC §4b)."""
        raise NotImplementedError

    def used_weight(self, rest: RestClient) -> int | None:
        """The weight the venue says this IP used in the current minute, from the last response."""
        if self.weight_header is None:
            return None
        value = response_header(rest, self.weight_header)
        return int(value) if value is not None and value.isdigit() else None


def open_interest(exchange: str, market: PerpMarket, ts: int, contracts: float) -> OpenInterest:
    """A sample in base units: contracts × contract size × listing factor."""
    return OpenInterest(exchange=exchange, symbol=market.symbol, ts=ts, oi=market.base_amount(contracts))


def number(value: object) -> float:
    """A JSON number or numeric string as a float (exchanges send strings); raises on anything else."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ValueError(f"not a number: {value!r}")
    return float(value)


def millis(value: object) -> int:
    """A JSON integer or digit string of ms."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ValueError(f"not a time in ms: {value!r}")
    return int(value)


# ---------------------------------------------------------------- the frame hook


@functools.cache
def perp_hooked_class(base: type) -> Callable[[dict[str, object]], WsClient]:
    """The spot hook (ccxt_common.hooked_class) with liquidation frames routed to the sink first."""
    spot = cast(type, hooked_class(base))

    class PerpHooked(spot):  # type: ignore[misc,valid-type]  # a subclass of ccxt.pro's untyped class
        gme_sink: PerpFrameSink
        gme_adapter: PerpAdapter

        def handle_message(self, client: object, message: object) -> None:
            found: list[LiquidationRow] = []
            try:
                consumed = self.gme_adapter.parse_liquidations(message, found)
            except Exception as exc:  # a malformed liquidation frame: count it, keep the stream going
                self.gme_sink.on_bad_frame(f"malformed liquidation frame ({type(exc).__name__})")
                return
            if consumed:
                if found:
                    self.gme_sink.on_liquidations(found)
                return
            super().handle_message(client, message)

    PerpHooked.__name__ = f"PerpHooked_{base.__name__}"
    return cast(Callable[[dict[str, object]], WsClient], PerpHooked)
