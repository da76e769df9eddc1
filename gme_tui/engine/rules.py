"""Consensus levels and signal grades as plain functions of window flows (SPEC §3 and §4).

Comparisons are strict and on floats, exactly as SPEC words them: a flow of exactly 1,000 is not
"> 1,000", and a ratio of exactly 1.15 is not "> 1.15". B (`derivatives_hedge`) needs the perp
side and open interest: it is decided in derivatives.py, from the thresholds kept here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from itertools import repeat
from operator import gt, lt
from typing import TypeVar

from gme_tui.model import Grade, Level, SignalCode


@dataclass(frozen=True)
class RuleConfig:
    """Every rule threshold (SPEC §3, §4, §4b), defaults as SPEC gives them. Flows in quote units."""

    quorum: int  # min_exchanges: participating exchanges needed for strong levels and both A+
    strong_flow: float = 1_000.0
    lean_total: float = 50_000_000.0
    aplus_ratio: float = 1.15
    a_min_flow: float = 1_000_000.0
    a_multiple: float = 1.5
    # A+ global_sync_bearish: every ratio below this (the seed's "strong selling" line, not 1/1.15)
    bearish_ratio: float = 0.85
    # B derivatives_hedge (SPEC §4b): every comparison strict, a null fails
    b_min_perp_venues: int = 1  # perp venues that must participate
    b_spot_min_flow: float = 1_000_000.0  # spot_total must be above this
    b_spot_min_ratio: float = 1.15  # spot Σ buy / Σ sell must be above this
    b_perp_min_flow: float = 1_000_000.0  # perp_total must be below minus this
    b_perp_max_ratio: float = 0.85  # perp Σ buy / Σ sell must be below this
    b_oi_min_change_pct: float = 1.0  # oi_change_pct must be above this (percent)
    oi_max_age_ms: int = 600_000  # an OI sample older than this at its window end does not count


@dataclass(frozen=True)
class Label:
    code: Level | SignalCode
    zh: str
    en: str
    meaning_zh: str = ""
    meaning_en: str = ""

    def text(self, language: str) -> str:
        """The label in `language` ("zh" or "en"; anything else reads English)."""
        return self.zh if language == "zh" else self.en

    def both(self) -> str:
        """The original system's style: Chinese label with the English name."""
        return f"{self.zh} ({self.en})"


_Code = TypeVar("_Code", Level, SignalCode)


def _by_code(kind: type[_Code], labels: Iterable[Label]) -> Mapping[_Code, Label]:
    """{code: label}; `kind(...)` also proves each label's code is of that kind (at import)."""
    return {kind(label.code): label for label in labels}


LEVELS: Mapping[Level, Label] = _by_code(
    Level,
    (
        Label(
            Level.STRONG_BULLISH,
            "强力看涨",
            "Strong Bullish",
            "全平台净流入，主力资金全面进场",
            "Net inflow on every exchange",
        ),
        Label(
            Level.STRONG_BEARISH,
            "强力看跌",
            "Strong Bearish",
            "全平台净流出，主力资金全面撤离",
            "Net outflow on every exchange",
        ),
        Label(
            Level.LEAN_BULLISH,
            "倾向看涨",
            "Lean Bullish",
            "整体资金流入显著，但平台间存在分歧",
            "Large total inflow, exchanges disagree",
        ),
        Label(
            Level.LEAN_BEARISH,
            "倾向看跌",
            "Lean Bearish",
            "整体资金流出显著，但平台间存在分歧",
            "Large total outflow, exchanges disagree",
        ),
        Label(
            Level.MIXED,
            "震荡/分歧",
            "Mixed",
            "平台间意见不一致，或资金流量不够显著",
            "Exchanges disagree or flow is small",
        ),
    ),
)

SIGNALS: Mapping[SignalCode, Label] = _by_code(
    SignalCode,
    (
        Label(
            SignalCode.GLOBAL_SYNC_BULLISH,
            "全球协同看涨",
            "Global Sync Bullish",
            "主力全平台吸筹，市场做多情绪一致。",
            "Buyers lead on every exchange at once.",
        ),
        Label(
            SignalCode.US_INSTITUTIONAL_ACCUMULATION,
            "美资机构吸筹",
            "US Institutional Accumulation",
            "Coinbase 领涨，机构资金流入显著。",
            "Coinbase leads: strong US institutional inflow.",
        ),
        Label(
            SignalCode.DERIVATIVES_HEDGE,
            "衍生品对冲",
            "Derivatives Hedge",
            "现货买入、期货对冲。",
            "Spot buying hedged with derivatives.",
        ),
        Label(
            SignalCode.SINGLE_PLATFORM_LONG_TRAP,
            "单平台诱多",
            "Single Platform Long Trap",
            "东方交易所买入，西方交易所卖出。警惕诱多。",
            "Asian exchanges buy while Coinbase sells: beware a bull trap.",
        ),
        Label(
            SignalCode.GLOBAL_SYNC_BEARISH,
            "全球协同出货",
            "Global Sync Bearish",
            "主力全平台出货，市场做空情绪一致。",
            "Sellers lead on every exchange at once.",
        ),
    ),
)

GRADE_OF: Mapping[SignalCode, Grade] = {
    SignalCode.GLOBAL_SYNC_BULLISH: Grade.A_PLUS,
    SignalCode.US_INSTITUTIONAL_ACCUMULATION: Grade.A,
    SignalCode.DERIVATIVES_HEDGE: Grade.B,
    SignalCode.SINGLE_PLATFORM_LONG_TRAP: Grade.C,
    SignalCode.GLOBAL_SYNC_BEARISH: Grade.A_PLUS,
}
GRADE_ORDER: Mapping[Grade, int] = {Grade.A_PLUS: 0, Grade.A: 1, Grade.B: 2, Grade.C: 3}

# Plain module globals for the per-symbol path (an Enum attribute lookup costs ten times a global).
_STRONG_BULLISH, _STRONG_BEARISH = Level.STRONG_BULLISH, Level.STRONG_BEARISH
_LEAN_BULLISH, _LEAN_BEARISH, _MIXED = Level.LEAN_BULLISH, Level.LEAN_BEARISH, Level.MIXED
_GLOBAL_SYNC_BULLISH = SignalCode.GLOBAL_SYNC_BULLISH
_US_INSTITUTIONAL_ACCUMULATION = SignalCode.US_INSTITUTIONAL_ACCUMULATION
_SINGLE_PLATFORM_LONG_TRAP = SignalCode.SINGLE_PLATFORM_LONG_TRAP
_GLOBAL_SYNC_BEARISH = SignalCode.GLOBAL_SYNC_BEARISH


def consensus_level(flows: Mapping[str, float], config: RuleConfig) -> Level:
    """SPEC §3, evaluated in order. `flows` holds exactly the participating exchanges."""
    values = flows.values()
    if len(flows) >= config.quorum and flows:
        # Every f > strong_flow, then every f < -strong_flow: compared in C (map), not a generator.
        if all(map(gt, values, repeat(config.strong_flow))):
            return _STRONG_BULLISH
        if all(map(lt, values, repeat(-config.strong_flow))):
            return _STRONG_BEARISH
    total = sum(values)
    if total > config.lean_total:
        return _LEAN_BULLISH
    if total < -config.lean_total:
        return _LEAN_BEARISH
    return _MIXED


def signal_codes(
    flows: Mapping[str, float], ratios: Mapping[str, float | None], config: RuleConfig
) -> list[SignalCode]:
    """SPEC §4: every signal of the spot flows that holds, in grade order (B needs the perp side:
    derivatives.derivatives_hedge)."""
    codes: list[SignalCode] = []
    if _global_sync_bullish(flows, ratios, config):
        codes.append(_GLOBAL_SYNC_BULLISH)
    elif _global_sync_bearish(flows, ratios, config):  # flows > 0 everywhere and < 0 everywhere never both hold
        codes.append(_GLOBAL_SYNC_BEARISH)
    if _us_institutional_accumulation(flows, config):
        codes.append(_US_INSTITUTIONAL_ACCUMULATION)
    if _single_platform_long_trap(flows):
        codes.append(_SINGLE_PLATFORM_LONG_TRAP)
    return codes


def _global_sync_bullish(flows: Mapping[str, float], ratios: Mapping[str, float | None], config: RuleConfig) -> bool:
    if not flows or len(flows) < config.quorum:
        return False
    for exchange, flow in flows.items():
        ratio = ratios.get(exchange)
        if not flow > 0 or ratio is None or not ratio > config.aplus_ratio:
            return False
    return True


def _global_sync_bearish(flows: Mapping[str, float], ratios: Mapping[str, float | None], config: RuleConfig) -> bool:
    """The bearish mirror of A+ (the original's later 全球协同出货): every flow < 0 and every ratio
    < bearish_ratio, with the quorum. A null ratio fails (it cannot come with a flow < 0 anyway)."""
    if not flows or len(flows) < config.quorum:
        return False
    for exchange, flow in flows.items():
        ratio = ratios.get(exchange)
        if not flow < 0 or ratio is None or not ratio < config.bearish_ratio:
            return False
    return True


def _us_institutional_accumulation(flows: Mapping[str, float], config: RuleConfig) -> bool:
    coinbase = flows.get("coinbase")
    # The cheap test first: most symbols fail it, and then the others' mean is never needed.
    if coinbase is None or not coinbase > config.a_min_flow:
        return False
    others = [flow for exchange, flow in flows.items() if exchange != "coinbase"]
    return bool(others) and coinbase > config.a_multiple * (sum(others) / len(others))


def _single_platform_long_trap(flows: Mapping[str, float]) -> bool:
    coinbase = flows.get("coinbase")
    if coinbase is None or not coinbase < 0:  # the cheap test first, as above
        return False
    eastern = [flows[e] for e in ("binance", "okx") if e in flows]
    return bool(eastern) and all(flow > 0 for flow in eastern)
