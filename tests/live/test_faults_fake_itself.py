"""The fake exchange's fault switches, checked with a bare aiohttp client (no product code, no
ccxt): what each switch does on the wire, so the issue-10 tests rest on a fake that is proven."""

from __future__ import annotations

import asyncio

import aiohttp
import orjson

from tests.fakes.exchange import FakeExchange
from tests.fakes.exchange_protocols import TapeTrade
from tests.fakes.faults import FrameFaults
from tests.fakes.harness import fake_exchange, pinned_clock


def trade(fake: FakeExchange, exchange: str, base: str = "BTC", ts: int | None = None) -> TapeTrade:
    return TapeTrade(exchange, f"{base}/USDT", ts or fake.exchange_ms(exchange), "buy", 10.0, 1.0, fake.new_id())


async def binance_socket(session: aiohttp.ClientSession, fake: FakeExchange, *streams: str):
    ws = await session.ws_connect(f"ws://127.0.0.1:{fake.port}/binance/stream", autoping=False)
    await ws.send_str(orjson.dumps({"method": "SUBSCRIBE", "params": list(streams), "id": 1}).decode())
    assert orjson.loads((await ws.receive(timeout=2)).data) == {"result": None, "id": 1}
    return ws


async def texts(ws, seconds: float) -> list:
    """Every message (text decoded, pings as 'PING') that arrives within `seconds` of real time."""
    out: list = []
    try:
        async with asyncio.timeout(seconds):
            while True:
                message = await ws.receive()
                if message.type == aiohttp.WSMsgType.TEXT:
                    out.append(message.data if message.data == "pong" else orjson.loads(message.data))
                elif message.type == aiohttp.WSMsgType.PING:
                    out.append("PING")
                elif message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING):
                    out.append("CLOSED")
                    return out
    except TimeoutError:
        pass
    return out


async def test_frame_faults_delay_duplicate_swap_and_hold_frames_back():
    clock = pinned_clock(10.0, speed=10.0)
    async with fake_exchange(clock) as fake, aiohttp.ClientSession() as session:
        ws = await binance_socket(session, fake, "btcusdt@aggTrade")
        fake.faults["binance"] = FrameFaults(latency_s=1.0, duplicate_every=4, swap_every=2, late_every=5, late_s=3.0)
        trades = [trade(fake, "binance") for _ in range(6)]
        published = clock.monotonic()
        assert await fake.publish(trades) == 7  # six frames, the 4th twice
        got = [m["a"] for m in await texts(ws, 0.6)]
        ids = [t.id for t in trades]
        # 2 and 3 swapped, 4 twice (and 4, 5 swapped), 5 held 3 s longer, 6 in order
        assert got == [ids[0], ids[2], ids[1], ids[3], ids[3], ids[5], ids[4]]
        assert clock.monotonic() - published >= 1.0
        await ws.close()


async def test_mute_stops_trades_but_not_answers_and_stall_from_silences_everything():
    clock = pinned_clock(10.0, speed=10.0)
    async with fake_exchange(clock) as fake, aiohttp.ClientSession() as session:
        fake.keepalive("okx", 1.0)
        ws = await session.ws_connect(f"ws://127.0.0.1:{fake.port}/okx/ws/v5/public", autoping=False)
        args = [{"channel": "trades", "instId": "BTC-USDT"}, {"channel": "trades", "instId": "NOPE-USDT"}]
        await ws.send_str(orjson.dumps({"op": "subscribe", "args": args}).decode())
        acks = await texts(ws, 0.05)
        assert acks[0]["event"] == "subscribe" and acks[1]["code"] == "60018"  # the unknown arg only
        fake.mute("okx")
        await fake.publish([trade(fake, "okx")])
        await ws.send_str("ping")
        got = await texts(ws, 0.25)
        assert "pong" in got and not [m for m in got if isinstance(m, dict) and "data" in m]
        fake.mute("okx", False)
        fake.stall_from("okx", fake.exchange_ms("okx"))
        await texts(ws, 0.05)  # what was already on the wire before the stall
        await fake.publish([trade(fake, "okx")])
        await ws.send_str("ping")
        assert await texts(ws, 0.25) == []  # no trade, no keep-alive, no pong: open and silent
        assert not ws.closed
        await ws.close()


async def test_keepalives_of_each_exchange():
    clock = pinned_clock(10.0, speed=10.0)
    async with fake_exchange(clock) as fake, aiohttp.ClientSession() as session:
        for exchange in ("binance", "bybit", "coinbase"):
            fake.keepalive(exchange, 1.0)
        binance = await binance_socket(session, fake, "btcusdt@aggTrade")
        bybit = await session.ws_connect(f"ws://127.0.0.1:{fake.port}/bybit/v5/public/spot")
        coinbase = await session.ws_connect(f"ws://127.0.0.1:{fake.port}/coinbase/ws")
        channels = ["matches", {"name": "heartbeat", "product_ids": ["BTC-USD"]}]
        await coinbase.send_str(
            orjson.dumps({"type": "subscribe", "product_ids": ["BTC-USD"], "channels": channels}).decode()
        )
        assert "PING" in await texts(binance, 0.15)  # protocol pings, Binance-style
        assert {"success": True, "ret_msg": "pong", "conn_id": "fake", "req_id": "", "op": "ping"} in await texts(
            bybit, 0.15
        )
        beats = [m for m in await texts(coinbase, 0.15) if m.get("type") == "heartbeat"]
        assert beats and beats[0]["product_id"] == "BTC-USD" and "last_trade_id" in beats[0]
        for ws in (binance, bybit, coinbase):
            await ws.close()


async def test_rejections_of_delisted_symbols_in_each_exchange_form():
    clock = pinned_clock(10.0, speed=10.0)
    async with fake_exchange(clock) as fake, aiohttp.ClientSession() as session:
        for exchange in ("binance", "bybit", "coinbase"):
            fake.delist(exchange, "XRP")
        binance = await binance_socket(session, fake, "btcusdt@aggTrade", "xrpusdt@aggTrade")  # accepted, silent
        assert fake.subscribed("binance") == {"BTCUSDT"}
        bybit = await session.ws_connect(f"ws://127.0.0.1:{fake.port}/bybit/v5/public/spot")
        await bybit.send_str(
            orjson.dumps({"op": "subscribe", "args": ["publicTrade.BTCUSDT", "publicTrade.XRPUSDT"]}).decode()
        )
        (answer,) = await texts(bybit, 0.1)
        assert answer["success"] is False and "publicTrade.XRPUSDT" in answer["ret_msg"]
        assert fake.subscribed("bybit") == set()  # the whole request failed
        coinbase = await session.ws_connect(f"ws://127.0.0.1:{fake.port}/coinbase/ws")
        await coinbase.send_str(
            orjson.dumps({"type": "subscribe", "product_ids": ["XRP-USD"], "channels": ["matches"]}).decode()
        )
        assert await texts(coinbase, 0.1) == [
            {"type": "error", "message": "Failed to subscribe", "reason": "XRP-USD is not a valid product"}
        ]
        for ws in (binance, bybit, coinbase):
            await ws.close()


async def test_rate_limit_answers_have_the_exchanges_shapes():
    clock = pinned_clock(10.0, speed=10.0)
    async with fake_exchange(clock) as fake, aiohttp.ClientSession() as session:
        base = f"http://127.0.0.1:{fake.port}"
        fake.rate_limit("binance", "binance-418", wait_s=120)
        fake.rate_limit("okx", "okx-50011")
        fake.rate_limit("okx", "okx-429-html")
        fake.rate_limit("bybit", "bybit-10006", wait_s=2)
        fake.rate_limit("bybit", "bybit-403")
        fake.rate_limit("coinbase", "coinbase-429")
        async with session.get(f"{base}/binance/api/v3/exchangeInfo") as r:
            body = await r.json()
            assert r.status == 418 and r.headers["Retry-After"] == "120" and body["code"] == -1003
            assert "IP banned until" in body["msg"]
        async with session.get(f"{base}/okx/api/v5/public/instruments?instType=SPOT") as r:
            assert (r.status, await r.json()) == (429, {"code": "50011", "msg": "Too Many Requests", "data": []})
        async with session.get(f"{base}/okx/api/v5/public/instruments?instType=SPOT") as r:
            assert r.status == 429 and r.content_type == "text/html"
        async with session.get(f"{base}/bybit/v5/market/instruments-info?category=spot") as r:
            body = await r.json()
            assert r.status == 200 and body["retCode"] == 10006 and body["retMsg"] == "Too many visits!"
            assert int(r.headers["X-Bapi-Limit-Reset-Timestamp"]) - body["time"] == 2000
        async with session.get(f"{base}/bybit/v5/market/instruments-info?category=spot") as r:
            assert r.status == 403 and "access too frequent" in await r.text()
        async with session.get(f"{base}/coinbase/products") as r:
            assert (r.status, await r.json()) == (429, {"message": "Public rate limit exceeded"})
        async with session.get(f"{base}/coinbase/products") as r:  # the answers are used up
            assert r.status == 200
        assert [kind for _, _, kind in fake.limit_answers["okx"]] == ["okx-50011", "okx-429-html"]


async def test_documented_connection_limits():
    clock = pinned_clock(10.0, speed=10.0)
    async with fake_exchange(clock) as fake, aiohttp.ClientSession() as session:
        for exchange in ("binance", "okx", "coinbase"):
            fake.enforce_limits(exchange)
        too_many = [f"s{i}usdt@aggTrade" for i in range(1025)]
        ws = await session.ws_connect(f"ws://127.0.0.1:{fake.port}/binance/stream", autoping=False)
        await ws.send_str(orjson.dumps({"method": "SUBSCRIBE", "params": too_many, "id": 7}).decode())
        assert (await texts(ws, 0.2))[0] == {
            "error": {"code": 2, "msg": "Invalid request: too many parameters"},
            "id": 7,
        }
        for _ in range(6):  # a 6th message within one second disconnects
            await ws.send_str(orjson.dumps({"method": "LIST_SUBSCRIPTIONS", "id": 8}).decode())
        assert "CLOSED" in await texts(ws, 0.5)
        statuses = []
        for _ in range(4):  # OKX: 3 connection requests per second
            try:
                okx = await session.ws_connect(f"ws://127.0.0.1:{fake.port}/okx/ws/v5/public")
                statuses.append(101)
                await okx.close()
            except aiohttp.WSServerHandshakeError as error:
                statuses.append(error.status)
        assert statuses == [101, 101, 101, 429]
        coinbase = await session.ws_connect(f"ws://127.0.0.1:{fake.port}/coinbase/ws")  # and never subscribes
        assert await texts(coinbase, 1.0) == ["CLOSED"]  # 5 s of the 10x clock
        assert any("within 5 s" in v for v in fake.protocol_violations)
