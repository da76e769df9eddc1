"""The texts the robots post: one markdown message per alert, one-line summaries for digests.

Simple markdown only (headings, bold, lists, line breaks): tables render badly on mobile. Every
title and text names the product ("资金流监控 gme-tui") so robots with keyword security accept it.
Times are in the `timezone` setting and name the zone.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from gme_tui import format as fmt
from gme_tui.engine.rules import LEVELS, SIGNALS, Label
from gme_tui.model import (
    EXCHANGE_SHORT,
    EXCHANGES,
    Consensus,
    Derivatives,
    Grade,
    Language,
    Level,
    Liquidation,
    Signal,
    SourceMode,
    SymbolScan,
    Whale,
)
from gme_tui.settings import Settings

PRODUCT = "资金流监控 gme-tui"
MODE_MARK: Mapping[SourceMode, str] = {
    SourceMode.LIVE: "",
    SourceMode.DEMO: "【DEMO】",
    SourceMode.REPLAY: "【REPLAY】",
}


class Category(StrEnum):
    """What an alert is about (kept with it in the outbox, for the record)."""

    SIGNAL = "signal"
    CONSENSUS = "consensus"
    WHALE = "whale"
    LIQUIDATION = "liquidation"
    SYSTEM = "system"
    TEST = "test"


@dataclass(frozen=True)
class AlertMessage:
    """One alert, rendered. `key` is its cooldown kind (a signal code, a level, `whale`,
    `down:okx`...); `line` its one-line digest summary."""

    category: Category
    key: str
    symbol: str
    ts: int  # event time (ms)
    title: str
    text: str
    line: str
    at_all: bool = False


_WORDS: Mapping[Language, Mapping[str, str]] = {
    "zh": {
        "alert": "报警",
        "type": "信号类型",
        "grade": "信号等级",
        "symbol": "币种",
        "time": "触发时间",
        "flows": "平台资金流向",
        "past": "过去{w}分钟",
        "consensus": "市场共识",
        "meaning": "信号解读",
        "whale": "巨鲸成交",
        "side": "方向",
        "buy": "买入",
        "sell": "卖出",
        "exchange": "交易所",
        "value": "成交额",
        "price": "均价",
        "amount": "数量",
        "level": "共识等级",
        "total": "总净流量",
        "down": "交易所连接中断",
        "up": "交易所连接恢复",
        "since": "中断开始",
        "lasted": "持续",
        "reason": "原因",
        "digest": "消息汇总",
        "digest_b": "B 级信号汇总",
        "count": "共 {n} 条",
        "throttled": "发送频率受限，以下消息合并发送",
        "periodic": "过去 {m} 分钟的 B 级信号",
        "test": "测试消息",
        "test_body": "机器人配置正确，报警将发送到本群。",
        "disclaimer": "仅供参考，不构成投资建议。",
        "minutes": "{m} 分钟",
        "down_note": "该交易所的数据缺失期间，共识与信号只基于其余交易所。",
        "direction": "方向",
        "bullish": "看涨",
        "bearish": "看跌",
        "neutral": "中性（观望）",
        "derivatives": "现货与合约",
        "spot_line": "现货净流入 {flow} USDT，买卖比 {ratio}",
        "perp_line": "合约净流入 {flow} USDT，买卖比 {ratio}",
        "oi_line": "持仓量变化 {pct}",
        "hedge_line": "对冲比例 {ratio}（合约净卖出 / 现货净买入）",
        "liquidation": "爆仓",
        "long": "多单",
        "short": "空单",
        "position": "被强平仓位",
        "liq_note": "币安每个币种每秒最多推送一笔爆仓，合计为抽样值。",
    },
    "en": {
        "alert": "alert",
        "type": "Signal",
        "grade": "Grade",
        "symbol": "Symbol",
        "time": "Time",
        "flows": "Net flow per exchange",
        "past": "last {w} min",
        "consensus": "Consensus",
        "meaning": "Meaning",
        "whale": "Whale order",
        "side": "Side",
        "buy": "buy",
        "sell": "sell",
        "exchange": "Exchange",
        "value": "Value",
        "price": "Avg price",
        "amount": "Amount",
        "level": "Level",
        "total": "Total net flow",
        "down": "Exchange connection down",
        "up": "Exchange connection restored",
        "since": "Down since",
        "lasted": "Lasted",
        "reason": "Reason",
        "digest": "Digest",
        "digest_b": "B-grade signals digest",
        "count": "{n} messages",
        "throttled": "Rate limit reached: messages merged",
        "periodic": "B-grade signals of the last {m} minutes",
        "test": "test message",
        "test_body": "The robot is configured correctly; alerts will be posted to this group.",
        "disclaimer": "For information only, not investment advice.",
        "minutes": "{m} min",
        "down_note": "While its data is missing, consensus and signals rely on the other exchanges.",
        "direction": "Direction",
        "bullish": "bullish",
        "bearish": "bearish",
        "neutral": "neutral (watch)",
        "derivatives": "Spot and perpetuals",
        "spot_line": "spot net flow {flow} USDT, buy/sell {ratio}",
        "perp_line": "perpetual net flow {flow} USDT, buy/sell {ratio}",
        "oi_line": "open interest change {pct}",
        "hedge_line": "hedge ratio {ratio} (perp net sold / spot net bought)",
        "liquidation": "Liquidation",
        "long": "long",
        "short": "short",
        "position": "Position liquidated",
        "liq_note": "Binance sends at most one liquidation per symbol per second: totals are sampled.",
    },
}

_ADVICE = {
    "global_sync_bullish": (
        "🚀 **强烈建议**: 主力全平台建仓，适合追涨或加仓，止损设置在关键支撑位。",
        "🚀 **Advice**: buyers lead everywhere; consider adding, stop below key support.",
    ),
    "us_institutional_accumulation": (
        "💎 **建议**: 中长期看多信号，适合建仓或持有，关注其他平台是否跟进。",
        "💎 **Advice**: medium-term bullish; watch whether other exchanges follow.",
    ),
    "derivatives_hedge": (
        "⚖️ **建议**: 中等信号，现货买盘可能被衍生品对冲，注意仓位。",
        "⚖️ **Advice**: medium signal; spot buying may be hedged, size positions carefully.",
    ),
    "global_sync_bearish": (
        "🔻 **强烈建议**: 主力全平台出货，避免抄底；持仓可考虑减仓，止损设置在关键阻力位上方。",
        "🔻 **Advice**: sellers lead everywhere; avoid buying the dip, consider trimming, stop above key resistance.",
    ),
    "single_platform_long_trap": (
        "⚠️ **建议**: 警惕信号，不建议追涨；已持仓可考虑减仓或止盈。",
        "⚠️ **Advice**: caution, do not chase; consider trimming positions.",
    ),
    "strong_bullish": (
        "🟢 **建议**: 全平台资金一致流入，顺势为主，止损设置在关键支撑位。",
        "🟢 **Advice**: inflow on every exchange; trade with the trend, stop below support.",
    ),
    "strong_bearish": (
        "🔴 **建议**: 全平台资金一致流出，注意风险，避免逆势抄底。",
        "🔴 **Advice**: outflow on every exchange; mind the risk, avoid catching knives.",
    ),
}


@dataclass(frozen=True)
class _LargeOrder:
    """What a whale and a liquidation message share: value in quote (USDT), amount in base."""

    symbol: str
    exchange: str
    ts: int
    price: float
    amount: float
    value: float


class MessageRenderer:
    """Renders alerts for one run: the language, time zone and mode mark are fixed at start."""

    def __init__(self, settings: Settings, mode: SourceMode) -> None:
        self.language: Language = "en" if settings.language == "en" else "zh"
        self.words = _WORDS[self.language]
        self.tz = fmt.zone(settings.timezone)
        self.mark = MODE_MARK[SourceMode(mode)]

    # ------------------------------------------------------------ helpers

    def _label(self, label: Label) -> str:
        return label.both() if self.language == "zh" else label.en

    def _meaning(self, label: Label) -> str:
        return label.meaning_zh if self.language == "zh" else (label.meaning_en or label.meaning_zh)

    def when(self, ts_ms: int) -> str:
        return f"{fmt.stamp(ts_ms, self.tz)} {fmt.zone_label(self.tz, ts_ms)}"

    def _title(self, icon: str, subject: str) -> str:
        return f"{self.mark}{icon} {PRODUCT} {subject}"

    def _advice(self, code: str) -> str:
        pair = _ADVICE.get(code)
        return "" if pair is None else pair[0 if self.language == "zh" else 1]

    def _flow_lines(self, flows: Mapping[str, float], coverage: Mapping[str, int] | None, window: int) -> list[str]:
        lines = []
        for exchange in EXCHANGES:
            flow = flows.get(exchange)
            if flow is None:
                continue
            icon = "📈" if flow > 0 else ("📉" if flow < 0 else "➖")
            covered = coverage.get(exchange) if coverage else None
            partial = f" ({covered}/{window}m)" if covered is not None and covered < window else ""
            lines.append(f"- {icon} {exchange.upper()}: {fmt.money(flow)} USDT{partial}")
        return lines

    @staticmethod
    def short_flows(flows: Mapping[str, float]) -> str:
        return " ".join(f"{EXCHANGE_SHORT[e]}:{fmt.money(flows[e])}" for e in EXCHANGES if e in flows)

    def _body(self, heading: str, fields: Sequence[tuple[str, str]], sections: Sequence[Sequence[str]]) -> str:
        out = [f"### {heading}", ""]
        out += [f"**{name}**: {value}  " for name, value in fields]
        for section in sections:
            if section:
                out += ["", "---", ""] + list(section)
        out += ["", f"> {PRODUCT} · {self.words['disclaimer']}"]
        return "\n".join(out)

    # ------------------------------------------------------------ alerts

    @staticmethod
    def _signal_label(signal: Signal) -> Label:
        return SIGNALS.get(signal.code, Label(signal.code, signal.code, signal.code))

    def signal_line(self, signal: Signal) -> str:
        """A signal's one-line summary alone (the log of a C signal), without the full message."""
        return (
            f"{fmt.clock(signal.ts, self.tz, seconds=False)} [{signal.grade}] {signal.symbol} "
            f"{self._signal_label(signal).text(self.language)} {self.short_flows(signal.flows)}"
        )

    def signal(self, signal: Signal, scan: SymbolScan | None) -> AlertMessage:
        w = self.words
        label = self._signal_label(signal)
        consensus = scan.consensus if scan else None
        window = consensus.window_minutes if consensus else 50
        flows = self._flow_lines(signal.flows, consensus.coverage if consensus else None, window)
        title = self._title("🚨", f"{w['alert']} [{signal.grade}] {signal.symbol} {label.text(self.language)}")
        level = LEVELS.get(consensus.level) if consensus else None
        consensus_line = [f"**{w['consensus']}**: {self._label(level)} — {self._meaning(level)}"] if level else []
        text = self._body(
            title,
            [
                (w["type"], self._label(label)),
                (w["grade"], signal.grade),
                (w["direction"], w[signal.direction]),
                (w["symbol"], signal.symbol),
                (w["time"], self.when(signal.ts)),
            ],
            [
                [f"**{w['flows']}** ({w['past'].format(w=window)}):", *flows, "", *consensus_line],
                *([self._derivative_lines(signal.derivatives)] if signal.derivatives is not None else []),
                [f"**{w['meaning']}**: {self._meaning(label)}", "", self._advice(signal.code)],
            ],
        )
        return AlertMessage(
            Category.SIGNAL,
            signal.code,
            signal.symbol,
            signal.ts,
            title,
            text,
            self.signal_line(signal),
            at_all=signal.grade in (Grade.A_PLUS, Grade.A),
        )

    def _derivative_lines(self, line: Derivatives) -> list[str]:
        """B's figures (SPEC §4b): spot against perp flow and ratio, the OI change, the hedge ratio."""
        w = self.words

        def ratio(value: float | None) -> str:
            return "—" if value is None else ("∞" if value == math.inf else f"{value:.2f}")

        pct = "—" if line.oi_change_pct is None else f"{line.oi_change_pct:+.2f}%"
        return [
            f"**{w['derivatives']}** ({w['past'].format(w=line.window_minutes)}):",
            f"- {w['spot_line'].format(flow=fmt.money(line.spot_total), ratio=ratio(line.spot_ratio))}",
            f"- {w['perp_line'].format(flow=fmt.money(line.perp_total), ratio=ratio(line.perp_ratio))}",
            f"- {w['oi_line'].format(pct=pct)}",
            f"- {w['hedge_line'].format(ratio=ratio(line.hedge_ratio))}",
        ]

    def liquidation(self, event: Liquidation) -> AlertMessage:
        """A large liquidation (SPEC §10's row; `side` is the position liquidated, SPEC §4b)."""
        w = self.words
        icon = "💥🔴" if event.side == "long" else "💥🟢"
        notes = [[w["liq_note"]]] if event.exchange == "binance" else []
        order = _LargeOrder(event.symbol, event.exchange, event.ts, event.price, event.amount, event.value)
        return self._large_order(
            Category.LIQUIDATION, icon, "💥", w["liquidation"], (w["position"], w[event.side]), order, notes
        )

    def consensus(self, consensus: Consensus) -> AlertMessage:
        w = self.words
        level = LEVELS[consensus.level]
        icon = "🟢" if consensus.level == Level.STRONG_BULLISH else "🔴"
        title = self._title(icon, f"{w['consensus']} {consensus.symbol} {level.text(self.language)}")
        flows = self._flow_lines(consensus.flows, consensus.coverage, consensus.window_minutes)
        text = self._body(
            title,
            [
                (w["level"], self._label(level)),
                (w["symbol"], consensus.symbol),
                (w["time"], self.when(consensus.ts)),
                (w["total"], f"{fmt.money(consensus.total)} USDT"),
            ],
            [
                [f"**{w['flows']}** ({w['past'].format(w=consensus.window_minutes)}):", *flows],
                [f"**{w['meaning']}**: {self._meaning(level)}", "", self._advice(consensus.level)],
            ],
        )
        line = (
            f"{fmt.clock(consensus.ts, self.tz, seconds=False)} {icon} {consensus.symbol} "
            f"{level.text(self.language)} {self.short_flows(consensus.flows)}"
        )
        return AlertMessage(
            Category.CONSENSUS, consensus.level, consensus.symbol, consensus.ts, title, text, line, True
        )

    def whale(self, whale: Whale) -> AlertMessage:
        w = self.words
        icon = "🐳🟢" if whale.side == "buy" else "🐳🔴"
        order = _LargeOrder(whale.symbol, whale.exchange, whale.ts, whale.price, whale.amount, whale.value)
        return self._large_order(Category.WHALE, icon, "🐳", w["whale"], (w["side"], w[whale.side]), order, [])

    def _large_order(
        self,
        category: Category,
        icon: str,
        mark: str,
        kind: str,
        side: tuple[str, str],
        order: _LargeOrder,
        notes: list[list[str]],
    ) -> AlertMessage:
        """One large order's message (a whale, a liquidation): `side` is (its label, its word)."""
        w = self.words
        title = self._title(icon, f"{kind} {order.symbol} {side[1]} {fmt.usd(order.value)}")
        text = self._body(
            title,
            [
                (w["symbol"], order.symbol),
                (w["exchange"], order.exchange.upper()),
                side,
                (w["value"], fmt.usd(order.value)),
                (w["price"], fmt.price(order.price)),
                (w["amount"], fmt.price(order.amount)),
                (w["time"], self.when(order.ts)),
            ],
            notes,
        )
        line = (
            f"{fmt.clock(order.ts, self.tz)} {mark} {order.symbol} {order.exchange.upper()} {side[1]} "
            f"{fmt.usd(order.value)} @ {fmt.price(order.price)}"
        )
        return AlertMessage(category, category.value, order.symbol, order.ts, title, text, line)

    def exchange_down(self, exchange: str, since_ms: int, now_ms: int, reason: str) -> AlertMessage:
        w = self.words
        minutes = max(0, (now_ms - since_ms) // 60_000)
        title = self._title("⛔", f"{w['down']} {exchange.upper()}")
        fields = [
            (w["exchange"], exchange.upper()),
            (w["since"], self.when(since_ms)),
            (w["lasted"], w["minutes"].format(m=minutes)),
        ]
        if reason:
            fields.append((w["reason"], reason))
        text = self._body(title, fields, [[w["down_note"]]])
        line = f"{fmt.clock(now_ms, self.tz, seconds=False)} ⛔ {exchange.upper()} {w['down']} ({w['minutes'].format(m=minutes)})"
        return AlertMessage(Category.SYSTEM, f"down:{exchange}", "", now_ms, title, text, line)

    def exchange_up(self, exchange: str, since_ms: int, now_ms: int) -> AlertMessage:
        w = self.words
        minutes = max(0, (now_ms - since_ms) // 60_000)
        title = self._title("✅", f"{w['up']} {exchange.upper()}")
        text = self._body(
            title,
            [
                (w["exchange"], exchange.upper()),
                (w["since"], self.when(since_ms)),
                (w["lasted"], w["minutes"].format(m=minutes)),
                (w["time"], self.when(now_ms)),
            ],
            [],
        )
        line = f"{fmt.clock(now_ms, self.tz, seconds=False)} ✅ {exchange.upper()} {w['up']}"
        return AlertMessage(Category.SYSTEM, f"up:{exchange}", "", now_ms, title, text, line)

    def test(self, now_ms: int) -> AlertMessage:
        w = self.words
        title = self._title("✅", w["test"])
        text = self._body(title, [(w["time"], self.when(now_ms))], [[w["test_body"]]])
        return AlertMessage(Category.TEST, "test", "", now_ms, title, text, title)

    # ------------------------------------------------------------ digests

    def digest_title(self, periodic: bool, part: int, parts: int) -> str:
        w = self.words
        subject = w["digest_b"] if periodic else w["digest"]
        suffix = f" ({part}/{parts})" if parts > 1 else ""
        return self._title("📋", subject + suffix)

    def digest_text(self, title: str, lines: Sequence[str], periodic: bool, period_minutes: float) -> str:
        w = self.words
        intro = w["periodic"].format(m=f"{period_minutes:g}") if periodic else w["throttled"]
        body = [f"### {title}", "", f"{intro} · {w['count'].format(n=len(lines))}", ""]
        body += [f"- {line}" for line in lines]
        return "\n".join(body)

    def at_all_text(self, title: str) -> str:
        """The WeCom text message that carries the @all of a markdown alert."""
        return f"{title} (@all)"


def split_digest(
    lines: Sequence[str],
    render: Callable[[Sequence[str], int, int], tuple[str, str]],
    fits: Callable[[str, str], bool],
) -> list[tuple[str, str, int]]:
    """Split digest lines into as few messages as fit the robot: [(title, text, line_count)].

    `render(lines, part, parts)` returns (title, text); `fits(title, text)` applies the robot's
    size limit. Each part takes the longest prefix that fits (a binary search, so a backlog of
    thousands of lines stays cheap). A line too long on its own is shortened rather than dropped.
    """

    def ok(chunk: Sequence[str]) -> bool:
        return fits(*render(chunk, 99, 99))  # widest part numbers: the final titles are no longer

    chunks: list[list[str]] = []
    rest = list(lines)
    while rest:
        if not ok(rest[:1]):
            line = rest[0]
            while not ok([line]) and len(line) > 20:
                line = line[: len(line) * 3 // 4] + "…"
            chunks.append([line])
            rest = rest[1:]
            continue
        low, high = 1, len(rest)  # ok(rest[:low]) holds
        while low < high:
            middle = (low + high + 1) // 2
            if ok(rest[:middle]):
                low = middle
            else:
                high = middle - 1
        chunks.append(rest[:low])
        rest = rest[low:]
    out = []
    for index, chunk in enumerate(chunks, start=1):
        title, text = render(chunk, index, len(chunks))
        out.append((title, text, len(chunk)))
    return out
