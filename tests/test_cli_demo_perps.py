"""`gme-tui --demo` simulates perpetuals on the venues of `Settings.perp_venues` (SPEC §4b, §7):
derivatives lines, liquidations and B in its headless JSON; none with every perp switched off.
Bounded by data: each run reads at most a few scans' worth of lines (the demo streams at 120×)."""

from __future__ import annotations

import subprocess
import sys

import orjson

SYMBOLS = 12


def _lines(cli_env, tmp_path, *args: str, scans: int):
    """(every JSON event of the first `scans` scans, the process's stderr); the demo is stopped."""
    process = subprocess.Popen(
        [sys.executable, "-m", "gme_tui", *args, "--demo", "--headless", "--json", "--speed", "120", "--no-serve"],
        cwd=tmp_path,
        env=cli_env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    events = []
    consensus = 0
    try:
        assert process.stdout is not None
        for line in process.stdout:
            event = orjson.loads(line)
            events.append(event)
            consensus += event["type"] == "consensus"
            if consensus >= SYMBOLS * scans:
                break
        process.terminate()
        _, stderr = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
    return events, stderr


def test_demo_shows_derivatives_b_and_liquidations(tmp_path, cli_env):
    events, stderr = _lines(cli_env, tmp_path, "--seed", "3", scans=4)
    assert b"Traceback" not in stderr
    types = {event["type"] for event in events}
    assert {"consensus", "derivatives", "liquidation", "whale", "signal"} <= types
    codes = {(event["code"], event["symbol"]) for event in events if event["type"] == "signal"}
    assert ("derivatives_hedge", "BNB/USDT") in codes
    assert any(code == "global_sync_bearish" for code, _ in codes)
    liquidation = next(event for event in events if event["type"] == "liquidation")
    assert liquidation["side"] in ("long", "short") and liquidation["exchange"] in ("binance", "okx", "bybit")
    derivatives = [event for event in events if event["type"] == "derivatives"]
    assert {v for event in derivatives for v in event["perp_flows"]} == {"binance", "okx", "bybit"}


def test_demo_perps_follow_the_settings(tmp_path, cli_env):
    config = tmp_path / "settings.toml"
    config.write_text(
        "[exchanges.binance]\nperp = false\n\n[exchanges.okx]\nperp = true\n\n[exchanges.bybit]\nperp = false\n"
    )
    events, stderr = _lines(cli_env, tmp_path, "--config", str(config), scans=2)
    assert b"Traceback" not in stderr
    derivatives = [event for event in events if event["type"] == "derivatives"]
    assert derivatives and {v for event in derivatives for v in event["perp_flows"]} == {"okx"}
    assert {event["exchange"] for event in events if event["type"] == "liquidation"} <= {"okx"}

    config.write_text("".join(f"[exchanges.{name}]\nperp = false\n\n" for name in ("binance", "okx", "bybit")))
    events, stderr = _lines(cli_env, tmp_path, "--config", str(config), scans=2)
    assert b"Traceback" not in stderr
    assert {event["type"] for event in events} & {"derivatives", "liquidation"} == set()
