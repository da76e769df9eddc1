"""The status bar shows the Binance USDⓈ-M REST weight used this minute (issue 14 item 2: the
open-interest poll's cost, read back from X-MBX-USED-WEIGHT-1M) beside Binance, in both
languages, fitted to 80, 100 and 160 columns: quiet and the first piece to go while well inside
the limit, a warning that outlives rates and ages near it."""

from __future__ import annotations

import pytest
from rich.cells import cell_len

from gme_tui.model import ExchangeHealth, HealthState
from gme_tui.tui.widgets.status import StatusInfo, status_text
from tests.tui.status_info import NOW, live_info

WORD = {"en": "weight", "zh": "权重"}


def info(health: list[ExchangeHealth], language: str = "en") -> StatusInfo:
    return live_info(health, language, coverage={"bybit": 12})


def exchanges(weight: int | None) -> list[ExchangeHealth]:
    binance = ExchangeHealth(
        "binance", HealthState.LIVE, 0, NOW - 300, 1234.0, rest_weight=weight, rest_weight_limit=2400
    )
    others = [ExchangeHealth(e, HealthState.LIVE, 0, NOW - 300, 300.0) for e in ("okx", "bybit", "coinbase")]
    return [binance, *others]


def first_line(status: StatusInfo, width: int) -> str:
    text = status_text(status, width).plain.split("\n")[0]
    assert cell_len(text) <= width
    return text


@pytest.mark.parametrize("language", ["en", "zh"])
@pytest.mark.parametrize("width", [100, 160])
def test_the_weight_used_of_the_limit_beside_binance(language: str, width: int) -> None:
    line = first_line(info(exchanges(615), language), width)
    assert f"BIN ● 1.2k/s 0.3s {WORD[language]} 615/2400 │ OKX" in line
    assert "BYB ● 300/s 0.3s 12/50m" in line  # nothing else gave way


@pytest.mark.parametrize("language", ["en", "zh"])
def test_at_80_columns_a_quiet_weight_goes_first(language: str) -> None:
    line = first_line(info(exchanges(615), language), 80)
    assert WORD[language] not in line
    assert line.startswith("BIN ● 1.2k/s ") and "/2400" not in line and "12/50m" in line


@pytest.mark.parametrize("language", ["en", "zh"])
def test_near_the_limit_it_stays_at_80_columns_and_ages_go_first(language: str) -> None:
    status = info(exchanges(2_100), language)
    line = first_line(status, 80)
    assert f"BIN ● 1.2k/s {WORD[language]} 2100/2400 │" in line and "12/50m" in line
    spans = [s for s in status_text(status, 80).spans if s.end <= len(line)]
    start = line.index(WORD[language])
    style = next(s.style for s in spans if s.start <= start < s.end)
    assert style == status.colours.warn


def test_no_figure_before_the_first_poll_nor_on_other_exchanges() -> None:
    line = first_line(info(exchanges(None)), 160)
    assert "weight" not in line and "/2400" not in line
    assert first_line(info(exchanges(600)), 160).count("/2400") == 1
