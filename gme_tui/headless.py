"""Headless consumers: log lines in the original system's style, or SPEC §7 JSON events.

Everything written here goes to stdout and nothing else does; logs go to stderr and the log file.
The event lines keep the original's bilingual style whatever the language ("共识: 强力看跌 (Strong
Bearish)"); the health lines logged for the trader are in the settings' language.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from datetime import tzinfo
from typing import BinaryIO

import orjson

from gme_tui.engine.rules import LEVELS, SIGNALS
from gme_tui.format import money, price, stamp, usd
from gme_tui.i18n import catalogue
from gme_tui.model import (
    EXCHANGE_SHORT,
    Consensus,
    Derivatives,
    EngineEvent,
    HealthState,
    HealthUpdate,
    Language,
    Liquidation,
    PositionSide,
    Scan,
    Side,
    Signal,
    SourceMode,
    Whale,
)

log = logging.getLogger(__name__)

SIDE_ZH: Mapping[Side, str] = {"buy": "买入", "sell": "卖出"}
POSITION_ZH: Mapping[PositionSide, str] = {"long": "多头", "short": "空头"}

JsonEvent = dict[str, object]
"""One SPEC §7 event, ready for orjson (StrEnum members serialise as their values)."""

BACKFILL_LOG_EVERY_MS = 5_000
"""How often a backfill's progress is logged while it runs (ms of the heartbeat's time)."""


def _json_ratio(value: float | None) -> float | None:
    return None if value is None or math.isinf(value) else value


def consensus_json(item: Consensus) -> JsonEvent:
    event: JsonEvent = {
        "type": "consensus",
        "ts": item.ts,
        "symbol": item.symbol,
        "level": item.level,
        "flows": dict(item.flows),
        "ratios": {e: _json_ratio(r) for e, r in item.ratios.items()},
        "total": item.total,
    }
    if item.coverage is not None:
        event["coverage"] = dict(item.coverage)
    return event


def signal_json(item: Signal) -> JsonEvent:
    return {
        "type": "signal",
        "ts": item.ts,
        "symbol": item.symbol,
        "grade": item.grade,
        "code": item.code,
        "direction": item.direction,
        "flows": dict(item.flows),
    } | (_b_keys(item.derivatives) if item.derivatives is not None else {})


def _b_keys(line: Derivatives) -> JsonEvent:
    """What a B signal line carries besides the usual keys (SPEC §7)."""
    return {
        "perp_flows": dict(line.perp_flows),
        "spot_total": line.spot_total,
        "perp_total": line.perp_total,
        "oi_change_pct": line.oi_change_pct,
        "hedge_ratio": line.hedge_ratio,
    }


def derivatives_json(item: Derivatives) -> JsonEvent:
    event: JsonEvent = {
        "type": "derivatives",
        "ts": item.ts,
        "symbol": item.symbol,
        "perp_flows": dict(item.perp_flows),
        "perp_ratios": {v: _json_ratio(r) for v, r in item.perp_ratios.items()},
        "perp_total": item.perp_total,
        "spot_total": item.spot_total,
        "oi": {v: {"start": span.start, "end": span.end} for v, span in item.oi.items()},
        "oi_change_pct": item.oi_change_pct,
    }
    if item.perp_coverage is not None:
        event["perp_coverage"] = dict(item.perp_coverage)
    return event


def _order_json(kind: str, item: Whale | Liquidation) -> JsonEvent:
    """The keys a whale and a liquidation line share (SPEC §7): value in quote, amount in base."""
    return {
        "type": kind,
        "ts": item.ts,
        "exchange": item.exchange,
        "symbol": item.symbol,
        "side": item.side,
        "price": item.price,
        "amount": item.amount,
        "value": item.value,
    }


def liquidation_json(item: Liquidation) -> JsonEvent:
    return _order_json("liquidation", item)


def whale_json(item: Whale) -> JsonEvent:
    return _order_json("whale", item) | ({"backfilled": True} if item.backfilled else {})


def event_dicts(events: Sequence[EngineEvent]) -> list[JsonEvent]:
    """Engine events as SPEC §7 objects, in order: a scan symbol by symbol, consensus first."""
    out: list[JsonEvent] = []
    for event in events:
        if isinstance(event, Scan):
            for item in event.lines():
                if isinstance(item, Consensus):
                    out.append(consensus_json(item))
                elif isinstance(item, Derivatives):
                    out.append(derivatives_json(item))
                else:
                    out.append(signal_json(item))
        elif isinstance(event, Whale):
            out.append(whale_json(event))
        elif isinstance(event, Liquidation):
            out.append(liquidation_json(event))
    return out


def consensus_line(item: Consensus, tz: tzinfo) -> str:
    """`2025-12-12 17:00:29 | INFO  - 💰 ADA/USDT | 共识: 强力看跌 (Strong Bearish) | BIN:-97k | ...`"""
    figures = []
    for exchange, flow in item.flows.items():
        figure = f"{EXCHANGE_SHORT[exchange]}:{money(flow)}"
        if item.coverage is not None and item.coverage.get(exchange, 0) < item.window_minutes:
            figure += f"({item.coverage.get(exchange, 0)}/{item.window_minutes}m)"
        figures.append(figure)
    total_label = "总净流入" if item.total >= 0 else "总净流出"
    return (
        f"{stamp(item.ts, tz)} | INFO  - 💰 {item.symbol} | 共识: {LEVELS[item.level].both()} | "
        + " | ".join(figures)
        + f" | {total_label}: {money(item.total)}"
    )


def signal_line(item: Signal, tz: tzinfo) -> str:
    label = SIGNALS[item.code]
    return (
        f"{stamp(item.ts, tz)} | CRITICAL - 🚨 [{item.symbol}] 信号触发 [{item.grade}]: "
        f"{label.both()} - {label.meaning_zh}"
    )


def derivatives_text(item: Derivatives, tz: tzinfo) -> str:
    """`… | INFO  - 📊 BTC/USDT | 永续: BIN:-2.02M | OKX:-1.00M(12/50m) | 永续合计: -3.02M | 持仓变化 OI: +2.10%`
    (live: a perp venue's coverage when short of the window, as on consensus lines)."""
    figures = []
    for venue, flow in item.perp_flows.items():
        figure = f"{EXCHANGE_SHORT[venue]}:{money(flow)}"
        covered = item.perp_coverage.get(venue, 0) if item.perp_coverage is not None else item.window_minutes
        if covered < item.window_minutes:
            figure += f"({covered}/{item.window_minutes}m)"
        figures.append(figure)
    change = "n/a" if item.oi_change_pct is None else f"{item.oi_change_pct:+.2f}%"
    return (
        f"{stamp(item.ts, tz)} | INFO  - 📊 {item.symbol} | 永续: "
        + " | ".join(figures)
        + f" | 永续合计: {money(item.perp_total)} | 持仓变化 OI: {change}"
    )


def liquidation_text(item: Liquidation, tz: tzinfo) -> str:
    return (
        f"{stamp(item.ts, tz)} | INFO  - 💥 [{item.symbol}] 爆仓 [{item.exchange.upper()}]: "
        f"{POSITION_ZH[item.side]} {usd(item.value)} @ {price(item.price)}"
    )


def whale_line(item: Whale, tz: tzinfo) -> str:
    fills = f" ({item.fills} 笔成交)" if item.fills > 1 else ""
    if item.backfilled:
        fills += " [回补 backfill]"
    return (
        f"{stamp(item.ts, tz)} | INFO  - 🐳 [{item.symbol}] 巨鲸监测 [{item.exchange.upper()}]: "
        f"{SIDE_ZH[item.side]} {usd(item.value)} @ {price(item.price)}{fills}"
    )


def event_lines(events: Sequence[EngineEvent], tz: tzinfo) -> list[str]:
    out: list[str] = []
    for event in events:
        if isinstance(event, Scan):
            for item in event.lines():
                if isinstance(item, Consensus):
                    out.append(consensus_line(item, tz))
                elif isinstance(item, Derivatives):
                    out.append(derivatives_text(item, tz))
                else:
                    out.append(signal_line(item, tz))
        elif isinstance(event, Whale):
            out.append(whale_line(event, tz))
        elif isinstance(event, Liquidation):
            out.append(liquidation_text(event, tz))
    return out


class HeadlessPrinter:
    """A pipeline consumer that writes every event to a binary stream (stdout's buffer), and logs
    what the status bar would show live: each exchange's state changes and its backfill progress,
    in `language` (settings.language; English when not given)."""

    def __init__(
        self, out: BinaryIO, *, as_json: bool, tz: tzinfo, flush_each: bool, language: Language = "en"
    ) -> None:
        self.out = out
        self.as_json = as_json
        self.tz = tz
        self.flush_each = flush_each
        self.t = catalogue(language)
        self._states: dict[str, tuple[HealthState, str]] = {}  # exchange -> (state, reason) last logged
        self._backfill_logged_ms: dict[str, int] = {}  # exchange -> when its progress was last logged

    def on_events(self, events: Sequence[EngineEvent]) -> None:
        if self.as_json:
            chunk = b"".join(orjson.dumps(event) + b"\n" for event in event_dicts(events))
        else:
            chunk = "".join(line + "\n" for line in event_lines(events, self.tz)).encode("utf-8")
        if not chunk:
            return
        self.out.write(chunk)
        if self.flush_each:
            self.out.flush()

    def on_health(self, update: HealthUpdate) -> None:
        """Live only (a replay's or the demo's health says nothing new): log lines, never stdout."""
        if update.mode != SourceMode.LIVE:
            return
        words = self.t.summary
        for health in update.exchanges:
            state = (health.state, health.reason)
            if self._states.get(health.exchange) != state:
                self._states[health.exchange] = state
                reason = words.state_reason.format(reason=health.reason) if health.reason else ""
                name = self.t.status.states[HealthState(health.state)]
                log.info("%s", words.state_change.format(exchange=health.exchange, state=name, reason=reason))
            if health.state == HealthState.BACKFILLING and health.backfill_total:
                last = self._backfill_logged_ms.get(health.exchange)
                if last is None or update.now_ms - last >= BACKFILL_LOG_EVERY_MS:
                    self._backfill_logged_ms[health.exchange] = update.now_ms
                    line = words.backfill_progress.format(
                        exchange=health.exchange, done=health.backfill_done, total=health.backfill_total
                    )
                    log.info("%s", line)

    def flush(self) -> None:
        self.out.flush()
