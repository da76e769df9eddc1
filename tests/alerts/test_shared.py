"""Issue 11 in one process: the send ledger, one sender per outbox, a queue per mode, the level
memory. (The same across real processes: test_processes.py.)"""

from __future__ import annotations

import json
from pathlib import Path

from gme_tui.alerts.ledger import SendLedger, default_ledger_path, robot_id
from gme_tui.alerts.outbox import Outbox, outbox_path_for
from gme_tui.model import SourceMode
from tests.alerts.conftest import DT_TOKEN, T0, make_dispatcher, make_settings, robot_secrets, scan, whale
from tests.alerts.test_delivery import run_for

MIN = 60_000
WINDOW = 61_500


def test_the_robot_id_is_a_hash_that_holds_no_credential():
    url = f"https://oapi.dingtalk.com/robot/send?access_token={DT_TOKEN}"
    rid = robot_id(url)
    assert len(rid) == 32 and DT_TOKEN not in rid and rid == robot_id(url + " ")
    assert rid != robot_id(url.replace("dt0", "dt1"))


def test_two_connections_never_take_more_than_the_capacity(tmp_path):
    """Two processes' ledgers (two connections to one file) share each robot's 20 slots."""
    path = tmp_path / "sends.db"
    first, second = SendLedger(path), SendLedger(path)
    taken = [
        ledger.reserve("r1", T0 + i, capacity=20, window_ms=WINDOW, hold_ms=0)
        for i in range(15)
        for ledger in (first, second)
    ]
    assert sum(slot is not None for slot in taken) == 20
    assert first.reserve("r2", T0, capacity=20, window_ms=WINDOW, hold_ms=0) is not None  # another robot
    assert second.reserve("r1", T0 + WINDOW - 1, capacity=20, window_ms=WINDOW, hold_ms=0) is None  # slot 1 still in
    assert second.reserve("r1", T0 + WINDOW, capacity=20, window_ms=WINDOW, hold_ms=0) is not None
    first.close()
    second.close()


def test_a_reservation_counts_from_the_latest_arrival_until_its_answer(tmp_path):
    ledger = SendLedger(tmp_path / "sends.db")
    slot = ledger.reserve("r", T0, capacity=1, window_ms=WINDOW, hold_ms=10_000)
    assert slot is not None
    assert ledger.state("r", T0, WINDOW).sends == (T0 + 10_000,)  # a process killed now still counts it
    ledger.settle(slot, T0 + 300)
    assert ledger.state("r", T0, WINDOW).sends == (T0 + 300,)
    assert ledger.reserve("r", T0 + 300 + WINDOW, capacity=1, window_ms=WINDOW, hold_ms=0) is not None
    ledger.set_throttled_until("r2", T0 + 10 * MIN)
    assert ledger.reserve("r2", T0 + MIN, capacity=20, window_ms=WINDOW, hold_ms=0) is None  # throttled: nobody sends
    assert ledger.state("r2", T0, WINDOW).throttled_until_ms == T0 + 10 * MIN
    ledger.close()


async def test_every_message_is_in_the_ledger_at_its_robot(server, clock, tmp_path):
    dispatcher = make_dispatcher(make_settings(), robot_secrets(server), clock, tmp_path / "o.db")
    dispatcher.on_events([scan(T0, ("BTC/USDT", "strong_bullish", ()))])  # WeCom: markdown + @all text
    await dispatcher.deliver_due()
    await dispatcher.close(timeout=1)
    ledger = SendLedger(default_ledger_path())
    for robot in server.robots.values():
        assert len(ledger.state(robot_id(robot.url), clock.now, WINDOW).sends) == len(robot.accepted)
    assert json.dumps(ledger.db.execute("SELECT * FROM sends").fetchall()).count(DT_TOKEN) == 0
    ledger.close()


async def test_a_second_instance_on_the_outbox_queues_says_who_sends_and_takes_over(server, clock, tmp_path):
    path = tmp_path / "o.db"
    secrets = robot_secrets(server)
    first = make_dispatcher(make_settings(), secrets, clock, path)
    second = make_dispatcher(make_settings(), secrets, clock, path)
    assert first.sending and not second.sending
    assert "pid" in second.status()["dingtalk"].sent_by and first.status()["dingtalk"].sent_by == ""
    for dispatcher in (first, second):
        dispatcher.on_events([whale(T0 + i, value=600_000.0 + 1_000.0 * i) for i in range(3)])
    await second.deliver_due()
    assert all(robot.accepted == [] for robot in server.robots.values())  # the standby sends nothing
    await first.deliver_due()
    assert all(len(robot.accepted) == 3 for robot in server.robots.values())  # once each
    await first.close(timeout=1)
    second.on_events([whale(T0 + 10, value=700_000.0)])
    await second.deliver_due()  # the lock is free: it sends from now on
    assert second.sending and second.status()["dingtalk"].sent_by == ""
    assert all(len(robot.accepted) == 4 for robot in server.robots.values())
    await second.close(timeout=1)


async def test_an_alert_another_instance_sent_within_its_cooldown_is_not_queued_again(server, clock, tmp_path):
    """The second instance missed the scan where BTC's A+ started (it started later, or its
    window differed); when it sees the signal five minutes later, the outbox knows the first one
    alerted it, and the cooldown holds across both."""
    path = tmp_path / "o.db"
    secrets = robot_secrets(server)
    first = make_dispatcher(make_settings(), secrets, clock, path)
    second = make_dispatcher(make_settings(), secrets, clock, path)
    first.on_events([scan(T0, ("BTC/USDT", "mixed", ("global_sync_bullish",)))])
    await first.deliver_due()
    second.on_events([scan(T0 + 5 * MIN, ("BTC/USDT", "mixed", ("global_sync_bullish",)))])
    await first.close(timeout=1)
    await run_for(second, clock, 2 * MIN)
    for robot in server.robots.values():
        markdowns = [b for b in robot.accepted if b["msgtype"] == "markdown"]
        assert len(markdowns) == 1
    await second.close(timeout=1)


async def test_demo_alerts_never_share_the_live_queue(server, clock, tmp_path):
    """Pending live alerts (robots down) stay in the live outbox; a demo run with --alerts has its
    own, so it sends only its own, marked ones."""
    secrets = robot_secrets(server)
    robots = list(server.robots.values())
    for robot in robots:
        robot.outage = "http500"
    live = make_dispatcher(make_settings(), secrets, clock, None)
    live.on_events([whale(T0, value=610_000.0)])
    await live.deliver_due()
    await live.close(timeout=0.2)
    for robot in robots:
        robot.outage = None
    demo = make_dispatcher(make_settings(), secrets, clock, None, mode="demo")
    clock.advance(10 * MIN)
    demo.on_events([whale(clock.now, value=620_000.0)])
    await run_for(demo, clock, MIN)
    await demo.close(timeout=1)
    for robot in robots:
        assert len(robot.accepted) == 1 and "【DEMO】" in robot.texts()[0] and "$610,000" not in robot.texts()[0]
    live_box = Outbox(outbox_path_for(SourceMode.LIVE))
    assert live_box.backlog["dingtalk"].pending == 1  # still waiting for a live run
    live_box.close()
    assert outbox_path_for(SourceMode.DEMO).name == "alerts-outbox-demo.sqlite3"
    assert outbox_path_for(SourceMode.REPLAY, Path("/x/box.db")) == Path("/x/box-replay.db")


def strong(ts: int, level: str = "strong_bullish"):
    return scan(ts, ("BTC/USDT", level, ()))


async def test_a_restart_does_not_announce_again_a_level_that_held(server, clock, tmp_path):
    path = tmp_path / "o.db"
    secrets = robot_secrets(server, wecom=False)
    dingtalk = next(iter(server.robots.values()))
    first = make_dispatcher(make_settings(), secrets, clock, path)
    for minute in range(45):  # strong all along, well past the 30-minute cooldown
        first.on_events([strong(T0 + minute * MIN)])
    await first.deliver_due()
    await first.close(timeout=1)
    assert len(dingtalk.accepted) == 1
    second = make_dispatcher(make_settings(), secrets, clock, path)  # restarted two minutes later
    second.on_events([strong(T0 + 46 * MIN)])
    await second.deliver_due()
    assert len(dingtalk.accepted) == 1  # it held before the stop: no new "entering"
    second.on_events([strong(T0 + 47 * MIN, "mixed"), strong(T0 + 48 * MIN)])
    await second.deliver_due()
    await second.close(timeout=1)
    assert len(dingtalk.accepted) == 2  # left and entered again: announced


async def test_after_a_stop_longer_than_the_window_a_strong_level_is_news_again(server, clock, tmp_path):
    path = tmp_path / "o.db"
    secrets = robot_secrets(server, wecom=False)
    dingtalk = next(iter(server.robots.values()))
    first = make_dispatcher(make_settings(), secrets, clock, path)
    first.on_events([strong(T0)])
    await first.deliver_due()
    await first.close(timeout=1)
    second = make_dispatcher(make_settings(), secrets, clock, path)
    second.on_events([strong(T0 + 3 * 60 * MIN)])  # three hours later: the windows share no minute
    await second.deliver_due()
    await second.close(timeout=1)
    assert len(dingtalk.accepted) == 2


async def test_a_level_that_changed_before_the_stop_is_announced_after_it(server, clock, tmp_path):
    path = tmp_path / "o.db"
    secrets = robot_secrets(server, wecom=False)
    dingtalk = next(iter(server.robots.values()))
    first = make_dispatcher(make_settings(cooldown_minutes=0), secrets, clock, path)
    first.on_events([strong(T0), strong(T0 + MIN, "mixed")])
    await first.deliver_due()
    await first.close(timeout=1)
    second = make_dispatcher(make_settings(cooldown_minutes=0), secrets, clock, path)
    second.on_events([strong(T0 + 3 * MIN)])
    await second.deliver_due()
    await second.close(timeout=1)
    assert len(dingtalk.accepted) == 2
