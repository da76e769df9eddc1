"""Mutes through the one shared `Mutes` object, and the outbox's writes off the event loop."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

from gme_tui.alerts import AlertDispatcher
from gme_tui.alerts.outbox import Outbox
from gme_tui.core.mutes import Mutes
from tests.alerts.conftest import T0, make_dispatcher, make_settings, robot_secrets, whale

MIN = 60_000
ROOT = Path(__file__).resolve().parents[2]


def sent(server, symbol: str) -> list[int]:
    """Messages per robot that name `symbol`."""
    return [sum(symbol in json.dumps(b, ensure_ascii=False) for b in r.accepted) for r in server.robots.values()]


async def test_a_symbol_muted_in_settings_gets_no_alert_until_removed_there(server, clock, tmp_path):
    dispatcher = make_dispatcher(make_settings(muted=("DOGE/USDT",)), robot_secrets(server), clock, tmp_path / "o.db")
    assert dispatcher.mutes.is_muted("DOGE/USDT", clock.now)  # the table asks the same object
    dispatcher.on_events([whale(T0, symbol="DOGE/USDT"), whale(T0 + 1, symbol="BTC/USDT")])
    await dispatcher.deliver_due()
    assert sent(server, "DOGE/USDT") == [0, 0] and sent(server, "BTC/USDT") == [1, 1]
    dispatcher.update_settings(make_settings())  # saved without it
    assert not dispatcher.mutes.is_muted("DOGE/USDT", clock.now)
    dispatcher.on_events([whale(T0 + 2, symbol="DOGE/USDT")])
    await dispatcher.deliver_due()
    assert sent(server, "DOGE/USDT") == [1, 1]
    await dispatcher.close(timeout=1)


async def test_a_temporary_mute_on_the_shared_object_expires(server, clock, tmp_path):
    mutes = Mutes()
    dispatcher = AlertDispatcher(
        make_settings(), robot_secrets(server), mode="live", clock=clock, outbox_path=tmp_path / "o.db", mutes=mutes
    )
    assert dispatcher.mutes is mutes
    mutes.mute("BTC/USDT", clock.now + 10 * MIN)  # what the TUI's `m` does
    dispatcher.update_settings(make_settings(muted=("ETH/USDT",)))  # a settings save keeps it
    dispatcher.on_events([whale(T0, symbol="BTC/USDT"), whale(T0, symbol="ETH/USDT")])
    await dispatcher.deliver_due()
    assert sent(server, "BTC/USDT") == [0, 0] and sent(server, "ETH/USDT") == [0, 0]
    clock.advance(10 * MIN)
    assert mutes.muted(clock.now) == frozenset({"ETH/USDT"})
    dispatcher.on_events([whale(clock.now, symbol="BTC/USDT"), whale(clock.now, symbol="ETH/USDT")])
    await dispatcher.deliver_due()
    assert sent(server, "BTC/USDT") == [1, 1] and sent(server, "ETH/USDT") == [0, 0]
    await dispatcher.close(timeout=1)


async def test_on_events_never_waits_on_the_outbox_and_close_writes_everything(server, clock, tmp_path):
    path = tmp_path / "o.db"
    secrets = robot_secrets(server)
    dispatcher = make_dispatcher(make_settings(), secrets, clock, path)
    disk = threading.Event()
    dispatcher.outbox.submit(lambda box: disk.wait(10))  # a disk that does not answer (bounded)
    dispatcher.on_events([whale(T0 + i, value=600_000.0 + i) for i in range(100)])  # returns all the same
    assert dispatcher.status()["dingtalk"].pending == 0  # not written yet: the loop did not wait
    disk.set()
    await dispatcher.close(timeout=0)  # nothing sent, everything written
    again = make_dispatcher(make_settings(), secrets, clock, path)
    assert again.status()["dingtalk"].pending == again.status()["wecom"].pending == 100
    await again.deliver_due()
    assert again.status()["dingtalk"].pending == 0 and again.status()["dingtalk"].delivered == 100
    await again.close(timeout=1)


CRASH = """
import sys, threading
from pathlib import Path
from gme_tui.alerts import AlertDispatcher
from gme_tui.settings import Secrets
from tests.alerts.conftest import T0, make_settings, whale

secrets = Secrets(dingtalk_webhook="http://127.0.0.1:9/robot/send?access_token=abcdef012345", enable_dingtalk=True)
dispatcher = AlertDispatcher(make_settings(), secrets, mode="live", clock=lambda: T0, outbox_path=Path(sys.argv[1]))
slow = threading.Event()
dispatcher.outbox.submit(lambda box: slow.wait(0.5))  # a slow disk: the alerts are still queued below
dispatcher.on_events([whale(T0 + i, value=600_000.0 + i) for i in range(5)])
raise RuntimeError("the program dies before closing the dispatcher")
"""


def test_alerts_handed_to_the_outbox_survive_an_exception_that_ends_the_program(tmp_path):
    path = tmp_path / "o.db"
    done = subprocess.run(
        [sys.executable, "-c", CRASH, str(path)], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1 and "the program dies" in done.stderr
    outbox = Outbox(path)
    assert outbox.backlog["dingtalk"].pending == 5
    outbox.close()
