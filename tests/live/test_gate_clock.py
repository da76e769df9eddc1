"""A ban or rate-limit wait (errors.Gate) is kept on the monotonic clock: an NTP step of the local
wall clock during a ban neither lifts it early nor holds it an hour (issue 10, clock steps)."""

from __future__ import annotations

import pytest

from gme_tui.sources.errors import ErrorInfo, Gate


class ManualClock:
    """Wall and monotonic time set by the test; `step` moves the wall clock only (NTP)."""

    def __init__(self) -> None:
        self.mono = 1_000.0
        self.offset_ms = 1_765_530_000_000 - 1_000_000

    def monotonic(self) -> float:
        return self.mono

    def wall_ms(self) -> int:
        return self.offset_ms + round(self.mono * 1000)

    async def sleep(self, seconds: float) -> None:
        self.mono += seconds


BAN = ErrorInfo("HTTP 418 IP ban", limit="ban", wait_seconds=120.0)


@pytest.mark.parametrize("step_ms", [0, -3_600_000, 3_600_000, -30_000, 30_000])
def test_a_ban_lasts_its_wait_whatever_the_wall_clock_does(step_ms: int) -> None:
    clock = ManualClock()
    gate = Gate(clock, cap_seconds=60.0)
    assert not gate.blocked() and gate.until_ms == 0
    wait = gate.stop(BAN)
    assert wait >= 120.0
    banned_at = clock.wall_ms()
    clock.offset_ms += step_ms
    clock.mono += 119.0
    assert gate.blocked()
    assert gate.remaining_seconds() == pytest.approx(wait - 119.0)
    assert gate.until_ms == banned_at + step_ms + round(wait * 1000)  # shown on the stepped wall clock
    clock.mono += wait - 119.0
    assert not gate.blocked() and gate.remaining_seconds() == 0.0


async def test_waiting_at_the_gate_sleeps_the_ban_out_once() -> None:
    clock = ManualClock()
    gate = Gate(clock, cap_seconds=60.0)
    wait = gate.stop(BAN)
    start = clock.mono
    clock.offset_ms -= 3_600_000  # the wall clock steps back an hour during the ban
    await gate.wait()
    assert clock.mono - start == pytest.approx(wait)
