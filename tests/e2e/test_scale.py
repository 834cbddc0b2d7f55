# SPDX-License-Identifier: MIT
"""Several hiroba instances as one site (issue #8, API.md §6.3, §6.5, §6.6): PostgreSQL and Redis
from Debian, started on loopback by these tests, two real hiroba processes on one database and one
Redis, driven with python3-websockets and requests. Covers chat between instances in id order,
Redis killed and restarted mid-conversation with no message lost, and headcount repaired after an
instance is killed with SIGKILL."""
import asyncio
import json
import signal
import time
import uuid

import pytest
import requests
import websockets

from services import PostgresCluster, RedisServer

PW = "correct horse 1"
FAST_BEAT = {"HIROBA_INSTANCE_BEAT_MS": "200", "HIROBA_INSTANCE_STALE_MS": "1500"}


@pytest.fixture(scope="module")
def pg():
    with PostgresCluster() as cluster:
        yield cluster


@pytest.fixture
def redis():
    r = RedisServer().start()
    yield r
    r.destroy()


@pytest.fixture
def site(pg, redis, server_factory):
    """start(n) -> n hiroba instances on one fresh PostgreSQL database and the Redis server."""
    name = "scale_" + uuid.uuid4().hex[:12]
    pg.create_database(name)
    url = pg.url(name)

    def start(n=2, env=None):
        e = dict(FAST_BEAT, REDIS_URL=redis.url)
        e.update(env or {})
        return [server_factory(env=e, database=url) for _ in range(n)]

    return start


def login(s, name):
    r = requests.post(s.url + "/api/register/", json={
        "username": name, "password": PW, "password_confirm": PW})
    assert r.status_code == 201, r.text
    r = requests.post(s.url + "/api/token/", json={"username": name, "password": PW})
    assert r.status_code == 200, r.text
    return r.json()["access"]


def api(s, token, method, path, body=None):
    r = requests.request(method, s.url + path, json=body,
                         headers={"Authorization": "Bearer " + token}, timeout=10)
    assert r.status_code < 300, (r.status_code, r.text)
    return r.json() if r.content else None


def ws_url(s, room, after=None):
    q = "" if after is None else "?after=%d" % after
    return "ws://127.0.0.1:%d/ws/chat/%d/%s" % (s.port, room, q)


async def recv_messages(ws, n, timeout=15):
    """Reads frames until n chat messages have arrived; returns their ids and texts in order."""
    got = []
    deadline = time.monotonic() + timeout
    while len(got) < n:
        frame = json.loads(await asyncio.wait_for(ws.recv(), deadline - time.monotonic()))
        if frame.get("type", "message") == "message":
            got.append((frame["id"], frame["message"]))
    return got


def assert_increasing(ids):
    assert all(a < b for a, b in zip(ids, ids[1:])), ids


def test_chat_across_two_instances_in_order(site):
    a, b = site(2)
    ta, tb = login(a, "alice"), login(b, "bob")
    room = api(a, ta, "POST", "/api/rooms/", {"name": "lobby"})["id"]
    n = 60

    async def run():
        async with websockets.connect(ws_url(a, room), subprotocols=["hiroba.v1", ta]) as wa, \
                websockets.connect(ws_url(b, room), subprotocols=[tb]) as wb:
            async def send(ws, who):
                for i in range(n):
                    await ws.send(json.dumps({"message": "%s %d" % (who, i)}))
                    await asyncio.sleep(0.002)
            got_a, got_b, _, _ = await asyncio.gather(
                recv_messages(wa, 2 * n), recv_messages(wb, 2 * n), send(wa, "a"), send(wb, "b"))
            return got_a, got_b

    got_a, got_b = asyncio.run(run())
    # Each socket sees every message of both instances once, in strictly increasing id order,
    # and both see the same sequence: the one the database holds.
    assert got_a == got_b
    assert_increasing([i for i, _ in got_a])
    stored = api(b, tb, "GET", "/api/rooms/%d/chatlogs/" % room)
    assert [(m["id"], m["message"]) for m in stored] == got_a
    for who in "ab":
        mine = [t for _, t in got_a if t.startswith(who + " ")]
        assert mine == ["%s %d" % (who, i) for i in range(n)]  # each sender's order kept


def test_redis_restart_loses_nothing(site, redis):
    a, b = site(2)
    ta, tb = login(a, "alice"), login(b, "bob")
    room = api(a, ta, "POST", "/api/rooms/", {"name": "lobby"})["id"]
    total = 90

    async def run():
        async with websockets.connect(ws_url(a, room), subprotocols=["hiroba.v1", ta]) as wa, \
                websockets.connect(ws_url(b, room), subprotocols=["hiroba.v1", tb]) as wb:
            received = {"a": [], "b": []}

            async def reader(ws, key):
                try:
                    while True:
                        frame = json.loads(await ws.recv())
                        if frame.get("type") == "message":
                            received[key].append(frame["id"])
                except websockets.ConnectionClosed:
                    pass

            readers = [asyncio.create_task(reader(wa, "a")), asyncio.create_task(reader(wb, "b"))]
            for i in range(total):
                if i == 30:
                    redis.kill()  # mid-conversation: SIGKILL
                if i == 60:
                    redis.start()  # same port: both instances reconnect and catch up
                await (wa if i % 2 else wb).send(json.dumps({"message": "m%d" % i}))
                await asyncio.sleep(0.02)
            # Live sockets on both instances end up with every message, in order.
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline and min(len(received["a"]),
                                                      len(received["b"])) < total:
                await asyncio.sleep(0.1)
            for t in readers:
                t.cancel()
            return received

    received = asyncio.run(run())
    stored = [m["id"] for m in api(a, ta, "GET", "/api/rooms/%d/chatlogs/" % room)]
    assert len(stored) == total
    for key in "ab":
        assert received[key] == stored, key

    # A client that lost its connection resumes from its last id on the other instance.
    last = stored[44]

    async def resume():
        async with websockets.connect(ws_url(b, room, after=last),
                                      subprotocols=["hiroba.v1", tb]) as ws:
            return [i for i, _ in await recv_messages(ws, total - 45)]

    assert asyncio.run(resume()) == stored[45:]


def test_headcount_repaired_after_sigkill(site):
    a, b = site(2)
    ta, tb = login(a, "alice"), login(b, "bob")
    room = api(a, ta, "POST", "/api/rooms/", {"name": "lobby"})["id"]

    def headcount():
        return api(b, tb, "GET", "/api/rooms/%d/" % room)["headcount"]

    def wait_headcount(want, timeout=10):
        deadline = time.time() + timeout
        while time.time() < deadline and headcount() != want:
            time.sleep(0.1)
        assert headcount() == want

    async def run():
        socks = [await websockets.connect(ws_url(a, room), subprotocols=[ta]) for _ in range(3)]
        socks += [await websockets.connect(ws_url(b, room), subprotocols=[tb]) for _ in range(2)]
        await asyncio.sleep(0.3)
        wait_headcount(5)
        a.proc.send_signal(signal.SIGKILL)  # no leave, no goodbye
        a.proc.wait()
        a.killed = True
        # B's heartbeat gives back A's three seats once A's beat is stale; B's two stay.
        wait_headcount(2)
        for s in socks[3:]:
            await s.close()
        wait_headcount(0)
        for s in socks[:3]:
            s.transport.abort()

    asyncio.run(run())


def test_bbs_events_in_one_order_on_every_instance(site):
    """API.md §6.8 across instances: writers on both instances at once, a /ws/bbs/ socket on
    each; both sockets get every event once and in the same order (the event clock's, which is
    commit order), whichever instance made it."""
    a, b = site(2)
    tokens = [login(s, "w%d" % i) for i, s in enumerate([a, b] * 3)]
    cat = api(a, tokens[0], "POST", "/api/categories/", {"name": "c"})["id"]
    n_each = 15

    def writer(s, token):
        sess = requests.Session()
        sess.headers["Authorization"] = "Bearer " + token
        ids = []
        for _ in range(n_each):
            r = sess.post(s.url + "/api/topics/", json={"category": cat, "comment": "x"})
            assert r.status_code == 201, r.text
            ids.append(r.json()["id"])
        return ids

    async def go():
        async with websockets.connect("ws://127.0.0.1:%d/ws/bbs/" % a.port,
                                      subprotocols=["hiroba.v1", tokens[0]]) as wa, \
                websockets.connect("ws://127.0.0.1:%d/ws/bbs/" % b.port,
                                   subprotocols=["hiroba.v1", tokens[1]]) as wb:
            loop = asyncio.get_running_loop()
            jobs = [loop.run_in_executor(None, writer, s, t)
                    for s, t in zip([a, b] * 3, tokens)]
            written = sorted(i for ids in await asyncio.gather(*jobs) for i in ids)
            seen = []
            for ws in (wa, wb):
                seen.append([json.loads(await asyncio.wait_for(ws.recv(), 5))["id"]
                             for _ in written])
            assert sorted(seen[0]) == written
            assert seen[0] == seen[1]
    asyncio.run(go())
