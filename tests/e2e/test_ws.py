# SPDX-License-Identifier: MIT
"""WebSocket chat and the live BBS stream (API.md §6) with python3-websockets against the real
binary: handshake answers, both subprotocol modes, fan-out, validation, resume, headcount."""
import asyncio
import json
import socket
import time

import requests
import websockets

PW = "correct horse 1"


def user(s, name):
    r = requests.post(s.url + "/api/register/", json={
        "username": name, "password": PW, "password_confirm": PW})
    assert r.status_code == 201, r.text
    return requests.post(s.url + "/api/token/", json={"username": name, "password": PW}).json()


def make_room(s, name="lobby"):
    return s.sql("INSERT INTO chat_room (created_at, name, headcount) VALUES "
                 "('2025-01-01 00:00:00', ?, 0) RETURNING id", (name,))[0][0]


def headcount(s, room):
    return s.sql("SELECT headcount FROM chat_room WHERE id = ?", (room,))[0][0]


def ws_url(s, path):
    return "ws://127.0.0.1:%d%s" % (s.port, path)


async def closed_with(ws, code):
    """Reads until the server closes the socket, then checks its close code."""
    try:
        while True:
            await asyncio.wait_for(ws.recv(), 5)
    except websockets.ConnectionClosed as e:
        assert e.rcvd.code == code


async def silent(ws, what="frame"):
    """Nothing more arrives within 0.3 s."""
    try:
        extra = await asyncio.wait_for(ws.recv(), 0.3)
        raise AssertionError("unexpected %s %r" % (what, extra))
    except asyncio.TimeoutError:
        pass


def raw_handshake(s, path, headers):
    sock = s.connect()
    head = "GET %s HTTP/1.1\r\nHost: x\r\n" % path + "".join(
        "%s: %s\r\n" % kv for kv in headers) + "\r\n"
    sock.sendall(head.encode())
    sock.settimeout(5)
    data = sock.recv(4096).decode("latin-1")
    sock.close()
    return data


def test_handshake_rejections(server):
    t = user(server, "alice")
    room = make_room(server)
    up = [("Upgrade", "websocket"), ("Connection", "Upgrade"),
          ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="), ("Sec-WebSocket-Version", "13")]
    path = "/ws/chat/%d/" % room
    assert raw_handshake(server, path, []).startswith("HTTP/1.1 426")
    r = raw_handshake(server, path, up[:3] + [("Sec-WebSocket-Version", "8")])
    assert r.startswith("HTTP/1.1 426") and "Sec-WebSocket-Version: 13" in r
    assert raw_handshake(server, path, up).startswith("HTTP/1.1 403")  # no token
    assert raw_handshake(server, path, up + [("Sec-WebSocket-Protocol", "junk")]).startswith(
        "HTTP/1.1 403")
    assert raw_handshake(server, path, up + [("Sec-WebSocket-Protocol", t["refresh"])]).startswith(
        "HTTP/1.1 403")
    proto = [("Sec-WebSocket-Protocol", t["access"])]
    assert raw_handshake(server, "/ws/chat/999/", up + proto).startswith("HTTP/1.1 403")
    assert raw_handshake(server, "/ws/chat/abc/", up + proto).startswith("HTTP/1.1 403")
    assert raw_handshake(server, path + "?after=-1", up + proto).startswith("HTTP/1.1 400")
    assert raw_handshake(server, "/ws/other/", up + proto).startswith("HTTP/1.1 404")
    assert raw_handshake(server, "/ws/chat/%d" % room, up + proto).startswith("HTTP/1.1 404")
    ok = raw_handshake(server, path, up + proto)
    assert ok.startswith("HTTP/1.1 101")
    assert "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" in ok
    assert "Sec-WebSocket-Protocol: " + t["access"] in ok


def test_chat_seed_and_v1(server):
    a, b = user(server, "alice"), user(server, "bob")
    room, other = make_room(server), make_room(server, "other")

    async def go():
        url = ws_url(server, "/ws/chat/%d/" % room)
        async with websockets.connect(url, subprotocols=[a["access"]]) as seed, \
                websockets.connect(url, subprotocols=["hiroba.v1", b["access"]]) as v1, \
                websockets.connect(ws_url(server, "/ws/chat/%d/" % other),
                                   subprotocols=["hiroba.v1", b["access"]]) as elsewhere:
            assert seed.subprotocol == a["access"]
            assert v1.subprotocol == "hiroba.v1"
            # v1 sockets see presence; wait until both joined.
            while True:
                f = json.loads(await asyncio.wait_for(v1.recv(), 5))
                assert f["type"] == "presence"
                if f["headcount"] == 2:
                    break
            await seed.send(json.dumps({"message": "  こんにちは  "}))
            got = json.loads(await asyncio.wait_for(seed.recv(), 5))
            assert list(got) == ["id", "message", "created_at"]
            assert got["message"] == "こんにちは"
            f = json.loads(await asyncio.wait_for(v1.recv(), 5))
            assert list(f) == ["type", "id", "message", "created_at", "room", "author"]
            assert f["author"] == {"id": 1, "username": "alice"} and f["id"] == got["id"]
            # Invalid messages: seed drops silently, v1 gets an error frame.
            await seed.send(json.dumps({"message": ""}))
            await v1.send(json.dumps({"message": 5}))
            e = json.loads(await asyncio.wait_for(v1.recv(), 5))
            assert e == {"type": "error", "code": "invalid", "detail": "Not a valid string."}
            await v1.send(json.dumps({"message": "x" * 201}))
            e = json.loads(await asyncio.wait_for(v1.recv(), 5))
            assert e["code"] == "max_length"
            await v1.send(json.dumps({"type": "typing", "message": "x"}))
            e = json.loads(await asyncio.wait_for(v1.recv(), 5))
            assert e["code"] == "unsupported_type"
            await v1.send(json.dumps({"message": "second"}))
            assert json.loads(await asyncio.wait_for(seed.recv(), 5))["message"] == "second"
            # Another room heard nothing but its own presence.
            f = json.loads(await asyncio.wait_for(elsewhere.recv(), 5))
            assert f["type"] == "presence"
            await silent(elsewhere, "frame in another room:")
            assert headcount(server, room) == 2
            # A malformed frame closes with 4400; binary with 1003.
            await seed.send("not json")
            await closed_with(seed, 4400)
            await v1.send(b"\x00")
            await closed_with(v1, 1003)
    asyncio.run(go())
    deadline = time.time() + 5
    while headcount(server, room) != 0 and time.time() < deadline:
        time.sleep(0.05)
    assert headcount(server, room) == 0


def test_resume_no_gap_no_duplicate(server):
    a = user(server, "alice")
    room = make_room(server)

    async def go():
        url = ws_url(server, "/ws/chat/%d/" % room)
        async with websockets.connect(url, subprotocols=[a["access"]]) as w:
            ids = []
            for i in range(20):
                await w.send(json.dumps({"message": "m%d" % i}))
                ids.append(json.loads(await asyncio.wait_for(w.recv(), 5))["id"])
            # A second client resumes from the 5th message while the first keeps sending.
            async with websockets.connect(url + "?after=%d" % ids[4],
                                          subprotocols=[a["access"]]) as r:
                sends = [w.send(json.dumps({"message": "live%d" % i})) for i in range(10)]
                await asyncio.gather(*sends)
                got = []
                while len(got) < 25:
                    got.append(json.loads(await asyncio.wait_for(r.recv(), 5))["id"])
                assert got == sorted(got) and len(set(got)) == 25
                assert got[:15] == ids[5:]
    asyncio.run(go())


def test_headcount_after_abrupt_resets(server):
    a = user(server, "alice")
    room = make_room(server)

    async def go():
        url = ws_url(server, "/ws/chat/%d/" % room)
        for i in range(60):
            ws = await websockets.connect(url, subprotocols=[a["access"]])
            if i % 2:
                await ws.close()
            else:
                ws.transport.get_extra_info("socket").setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                ws.transport.abort()
    asyncio.run(go())
    deadline = time.time() + 10
    while headcount(server, room) != 0 and time.time() < deadline:
        time.sleep(0.05)
    assert headcount(server, room) == 0
    m = requests.get(server.url + "/metrics").text
    assert 'hiroba_ws_connections_open{endpoint="chat"} 0' in m


def test_shutdown_closes_with_1001(server):
    a = user(server, "alice")
    room = make_room(server)

    async def go():
        async with websockets.connect(ws_url(server, "/ws/chat/%d/" % room),
                                      subprotocols=[a["access"]]) as w:
            server.proc.terminate()
            try:
                while True:
                    await asyncio.wait_for(w.recv(), 5)
            except websockets.ConnectionClosed as e:
                assert e.rcvd.code == 1001
    asyncio.run(go())
    assert server.proc.wait(timeout=15) == 0


def test_bbs_stream(server):
    """/ws/bbs/ (API.md §6.8): every REST write of topics and replies as a typed frame with the
    REST object's keys, to every socket in both modes, the author's own included; a category
    delete gives one topic.deleted per topic and nothing for their replies; category changes
    are not streamed; text frames are ignored, binary closes with 1003."""
    a, b = user(server, "alice"), user(server, "bob")
    ha = {"Authorization": "Bearer " + a["access"]}
    hb = {"Authorization": "Bearer " + b["access"]}

    def ok(method, path, headers, body=None, status=200):
        r = requests.request(method, server.url + path, headers=headers, json=body)
        assert r.status_code == status, (method, path, r.status_code, r.text)
        return r.json() if r.content else None

    async def go():
        url = ws_url(server, "/ws/bbs/")
        async with websockets.connect(url, subprotocols=[a["access"]]) as seed, \
                websockets.connect(url, subprotocols=["hiroba.v1", b["access"]]) as v1:
            await seed.send("text frames are ignored")
            loop = asyncio.get_running_loop()
            call = lambda *args, **kw: loop.run_in_executor(None, lambda: ok(*args, **kw))  # noqa
            cat = await call("POST", "/api/categories/", ha, {"name": "c"}, status=201)
            await call("PATCH", "/api/categories/%d/" % cat["id"], ha, {"name": "c2"})
            t = await call("POST", "/api/topics/", ha, {"category": cat["id"], "comment": "t1"},
                           status=201)
            t2 = await call("POST", "/api/topics/", hb, {"category": cat["id"], "comment": "t2"},
                            status=201)
            r = await call("POST", "/api/replies/", hb, {"topic": t["id"], "comment": "r1"},
                           status=201)
            t_up = await call("PATCH", "/api/topics/%d/" % t["id"], ha, {"comment": "t1!"})
            r_up = await call("PATCH", "/api/replies/%d/" % r["id"], hb, {"comment": "r1!"})
            await call("DELETE", "/api/replies/%d/" % r["id"], hb, status=204)
            r2 = await call("POST", "/api/replies/", ha, {"topic": t2["id"], "comment": "r2"},
                            status=201)
            await call("DELETE", "/api/categories/%d/" % cat["id"], ha, status=204)
            want = [dict(type="topic.created", **t), dict(type="topic.created", **t2),
                    dict(type="reply.created", **r), dict(type="topic.updated", **t_up),
                    dict(type="reply.updated", **r_up),
                    {"type": "reply.deleted", "id": r["id"], "topic": t["id"]},
                    dict(type="reply.created", **r2)]
            for ws in (seed, v1):
                got = [json.loads(await asyncio.wait_for(ws.recv(), 5)) for _ in want]
                assert got == want
                assert [list(f) for f in got[:2]] == [["type"] + list(t), ["type"] + list(t2)]
                deleted = [json.loads(await asyncio.wait_for(ws.recv(), 5)) for _ in range(2)]
                assert sorted(d["id"] for d in deleted) == sorted([t["id"], t2["id"]])
                assert all(d == {"type": "topic.deleted", "id": d["id"]} for d in deleted)
                await silent(ws)
            await v1.send(b"\x00")
            await closed_with(v1, 1003)
    asyncio.run(go())


def test_bbs_stream_in_commit_order(server):
    """Concurrent writers: every event arrives once, and on SQLite (one writer, ids in commit
    order) in increasing id order on every socket."""
    tokens = [user(server, "w%d" % i)["access"] for i in range(6)]
    h = {"Authorization": "Bearer " + tokens[0]}
    cat = requests.post(server.url + "/api/categories/", headers=h, json={"name": "c"}).json()
    n_each = 25

    def writer(token):
        s = requests.Session()
        s.headers["Authorization"] = "Bearer " + token
        ids = []
        for i in range(n_each):
            r = s.post(server.url + "/api/topics/", json={"category": cat["id"], "comment": "x"})
            assert r.status_code == 201, r.text
            ids.append(r.json()["id"])
        return ids

    async def go():
        async with websockets.connect(ws_url(server, "/ws/bbs/"),
                                      subprotocols=["hiroba.v1", tokens[0]]) as ws:
            loop = asyncio.get_running_loop()
            jobs = [loop.run_in_executor(None, writer, t) for t in tokens]
            written = sorted(i for ids in await asyncio.gather(*jobs) for i in ids)
            got = [json.loads(await asyncio.wait_for(ws.recv(), 5))["id"] for _ in written]
            assert sorted(got) == written
            if not server.db.startswith("postgres"):
                assert got == written
    asyncio.run(go())
