"""The status bar shows a backing-off exchange's attempt and next try (issue 13 item 7), fitted to
80 columns in both languages."""

from __future__ import annotations

import pytest
from rich.cells import cell_len

from gme_tui.model import ExchangeHealth, HealthState
from gme_tui.tui.widgets.status import StatusInfo, status_text
from tests.tui.status_info import NOW, live_info


def info(health: list[ExchangeHealth], language: str = "en") -> StatusInfo:
    return live_info(health, language)


def live(exchange: str) -> ExchangeHealth:
    return ExchangeHealth(exchange, HealthState.LIVE, 0, NOW - 300, 165.0)


def retrying(exchange: str, attempt: int, next_try_ms: int | None, reason: str = "timeout") -> ExchangeHealth:
    return ExchangeHealth(
        exchange, HealthState.RECONNECTING, 0, NOW - 9_000, reason=reason, attempt=attempt, next_try_ms=next_try_ms
    )


def first_line(status: StatusInfo, width: int = 1_000) -> str:
    return status_text(status, width).plain.split("\n")[0]


def test_the_attempt_and_the_seconds_to_the_next_try_in_words_when_there_is_room():
    line = first_line(info([live("binance"), retrying("okx", 3, NOW + 7_200)]))
    # 7.2 s rounded up: never "in 0s" before the try runs
    assert "OKX ● reconnecting try 3 in 8s 0/s 9.0s (timeout)" in line


def test_a_try_running_now_says_so():
    assert "try 2 now" in first_line(info([retrying("okx", 2, None)]))
    assert "try 2 now" in first_line(info([retrying("okx", 2, NOW - 1)]))  # its time has come


def test_in_chinese():
    line = first_line(info([retrying("okx", 3, NOW + 8_000)], "zh"))
    assert "OKX ● 重连中 8秒后第3次重试" in line


def test_no_attempt_no_retry_mark():
    line = first_line(info([retrying("okx", 0, None)]))
    assert "try" not in line and "↻" not in line
    assert "OKX ● reconnecting 0/s 9.0s (timeout)" in line


@pytest.mark.parametrize("language", ["en", "zh"])
def test_at_80_columns_every_exchange_keeps_its_attempt_and_next_try(language):
    health = [
        retrying(e, 3 + n, NOW + 8_000 + n * 1_000, "DNS lookup failed")
        for n, e in enumerate(["binance", "okx", "bybit", "coinbase"])
    ]
    text = status_text(info(health, language), 80)
    lines = text.plain.split("\n")
    assert all(cell_len(line) <= 80 for line in lines) and len(lines) == 2
    assert "…" not in lines[0]  # pieces gave way whole: nothing cut
    for short, attempt, seconds in [("BIN", 3, 8), ("OKX", 4, 9), ("BYB", 5, 10), ("COI", 6, 11)]:
        assert f"{short} ● ↻{attempt} {seconds}s" in lines[0]
    assert ("scan" if language == "en" else "扫描") in lines[1]  # the scan line stays


@pytest.mark.parametrize("language", ["en", "zh"])
def test_at_80_columns_one_retrying_exchange_keeps_its_words(language):
    health = [live("binance"), retrying("okx", 3, NOW + 8_000), live("bybit"), live("coinbase")]
    line = first_line(info(health, language), 80)
    assert cell_len(line) <= 80
    assert ("try 3 in 8s" if language == "en" else "8秒后第3次重试") in line


def test_a_long_wait_reads_in_minutes_when_short():
    health = [
        retrying(e, 1, NOW + 600_000, "HTTP 418 IP ban until 12:03") for e in ["binance", "okx", "bybit", "coinbase"]
    ]
    line = first_line(info(health), 80)
    assert "BIN ● ↻1 10m" in line
