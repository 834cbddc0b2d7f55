# SPDX-License-Identifier: MIT
"""Chat REST resources (API.md §5.1, §7.2, §7.4) through the real binary with requests: rooms
with their unique names, headcount rules and field-error order, ownership, the history list with
?after and pagination, and the cascade to chat logs. Chat logs are written into the database
directly here, as the WebSocket layer (or Django) would."""
import threading

from test_bbs import (BAD_DATE, BAD_INT, BLANK, FORBIDDEN, INVALID_PAGE, NOT_FOUND, NOT_STRING,
                      NULL, REQUIRED, WHEN, sql, too_long, users)  # noqa: F401 - users: fixture

TAKEN = "この 部屋名 を持った room が既に存在します。"
MIN0 = "この値は0以上にしてください。"
MAX = "この値は2147483647以下にしてください。"


def new_room(client, name="lobby", **extra):
    return client.ok("POST", "/api/rooms/", dict({"name": name}, **extra))


def add_log(server, room, message, author=None, created_at="2025-01-13 23:56:12"):
    sql(server, "INSERT INTO chat_chatlog (created_at, message, room_id, author_id) "
                "VALUES (?, ?, ?, ?)", (created_at, message, room, author))
    return sql(server, "SELECT max(id) FROM chat_chatlog")[0][0]


def test_room_crud(users):
    a = users.alice
    r = a.post("/api/rooms/", {"name": "lobby", "created_at": "2025-01-14T08:56:12+09:00"})
    assert r.status_code == 201
    assert r.text == ('{"id":1,"created_at":"%s","name":"lobby","headcount":0,'
                      '"author":{"id":%d,"username":"alice"}}' % (WHEN, a.id))
    room = r.json()
    assert a.ok("GET", "/api/rooms/") == [room]
    assert a.ok("GET", "/api/rooms/1/") == room
    got = a.ok("PUT", "/api/rooms/1/", {"name": " ロビー ", "headcount": "3"})
    assert got == dict(room, name="ロビー", headcount=3)
    assert a.ok("PATCH", "/api/rooms/1/", {}) == got
    assert a.ok("PATCH", "/api/rooms/1/", {"headcount": 0})["headcount"] == 0
    # PUT keeps the name it already has: the uniqueness check excludes the room itself.
    assert a.ok("PUT", "/api/rooms/1/", {"name": "ロビー"})["name"] == "ロビー"
    new_room(a, "second")
    assert [x["id"] for x in a.ok("GET", "/api/rooms/")] == [1, 2]
    assert a.ok("DELETE", "/api/rooms/1/") is None
    assert a.get("/api/rooms/1/").json() == NOT_FOUND
    for method in ["GET", "PUT", "PATCH", "DELETE"]:
        for seg in ["1", "abc", "0", "99999999999999999999"]:
            r = a.request(method, "/api/rooms/%s/" % seg, json={"name": "x"})
            assert r.status_code == 404 and r.json() == NOT_FOUND, (method, seg)


def test_room_names_unique(users):
    a, b = users.alice, users.bob
    new_room(a, "lobby")
    r = b.post("/api/rooms/", {"name": "lobby"})
    assert r.status_code == 400 and r.text == '{"name":["%s"]}' % TAKEN
    r = b.post("/api/rooms/", {"name": "  lobby\u3000"})
    assert r.json() == {"name": [TAKEN]}
    assert new_room(b, "Lobby")["name"] == "Lobby"  # case-sensitive
    other = new_room(a, "other")
    r = a.put("/api/rooms/%d/" % other["id"], {"name": "lobby"})
    assert r.status_code == 400 and r.json() == {"name": [TAKEN]}
    r = a.patch("/api/rooms/%d/" % other["id"], {"name": "Lobby"})
    assert r.json() == {"name": [TAKEN]}
    # With other failing fields, the taken name is listed in its place.
    r = a.post("/api/rooms/", {"headcount": -1, "name": "lobby", "created_at": "x"})
    assert r.text == ('{"created_at":["%s"],"name":["%s"],"headcount":["%s"]}'
                      % (BAD_DATE, TAKEN, MIN0))
    r = a.patch("/api/rooms/%d/" % other["id"], {"name": "other", "headcount": "x"})
    assert r.json() == {"headcount": [BAD_INT]}


def test_room_concurrent_same_name(users):
    """Ten simultaneous creates of one name: exactly one wins."""
    a = users.alice
    statuses = []
    lock = threading.Lock()

    def create():
        r = a.session.post(a.server.url + "/api/rooms/", json={"name": "race"}, timeout=60)
        with lock:
            statuses.append((r.status_code, r.json()))

    threads = [threading.Thread(target=create) for _ in range(10)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert sorted(s for s, _ in statuses) == [201] + [400] * 9
    assert all(body == {"name": [TAKEN]} for s, body in statuses if s == 400)
    assert len(a.ok("GET", "/api/rooms/")) == 1


def test_room_field_errors(users):
    a = users.alice
    cases = [
        ({}, {"name": [REQUIRED]}),
        ({"name": None}, {"name": [NULL]}),
        ({"name": " "}, {"name": [BLANK]}),
        ({"name": "x" * 201}, {"name": [too_long(200)]}),
        ({"name": False}, {"name": [NOT_STRING]}),
        ({"name": "a", "headcount": -1}, {"headcount": [MIN0]}),
        ({"name": "a", "headcount": "-5"}, {"headcount": [MIN0]}),
        ({"name": "a", "headcount": 2147483648}, {"headcount": [MAX]}),
        ({"name": "a", "headcount": 99999999999999999999}, {"headcount": [MAX]}),
        ({"name": "a", "headcount": -99999999999999999999}, {"headcount": [MIN0]}),
        ({"name": "a", "headcount": "abc"}, {"headcount": [BAD_INT]}),
        ({"name": "a", "headcount": ""}, {"headcount": [BAD_INT]}),
        ({"name": "a", "headcount": True}, {"headcount": [BAD_INT]}),
        ({"name": "a", "headcount": 1.5}, {"headcount": [BAD_INT]}),
        ({"name": "a", "headcount": [1]}, {"headcount": [BAD_INT]}),
        ({"name": "a", "headcount": None}, {"headcount": [NULL]}),
        ({"name": "a", "created_at": None}, {"created_at": [NULL]}),
        ({"name": "a", "created_at": ""}, {"created_at": [BAD_DATE]}),
        ({"headcount": "x", "name": "", "created_at": 5},
         {"created_at": [BAD_DATE], "name": [BLANK], "headcount": [BAD_INT]}),
    ]
    for body, errors in cases:
        r = a.post("/api/rooms/", body)
        assert r.status_code == 400, body
        assert list(r.json()) == list(errors) and r.json() == errors, body
    assert new_room(a, "x" * 200)["name"] == "x" * 200
    for i, (given, want) in enumerate([(2147483647, 2147483647), ("7", 7), (3.0, 3), ("4.0", 4),
                                       (" 5 ", 5), (0, 0)]):
        assert new_room(a, "h%d" % i, headcount=given)["headcount"] == want, given
    assert new_room(a, "when", created_at=WHEN)["created_at"] == WHEN
    assert new_room(a, 42)["name"] == "42"


def test_room_form_body(users):
    a = users.alice
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    r = a.post("/api/rooms/", data="name=form+room&headcount=&created_at=", headers=form)
    assert r.status_code == 201, r.text
    assert r.json()["headcount"] == 0 and r.json()["name"] == "form room"
    r = a.post("/api/rooms/", data="name=&headcount=x", headers=form)
    assert r.json() == {"name": [BLANK], "headcount": [BAD_INT]}


def test_room_ownership(users):
    a, b, s = users.alice, users.bob, users.staff
    room = new_room(a)
    path = "/api/rooms/%d/" % room["id"]
    for method in ["PUT", "PATCH", "DELETE"]:
        r = b.request(method, path, json={"name": "mine"})
        assert r.status_code == 403 and r.json() == FORBIDDEN
        r = b.request(method, path, data="{", headers={"Content-Type": "application/json"})
        assert r.status_code == 403
    assert b.ok("GET", path) == room
    assert s.ok("PATCH", path, {"headcount": 2})["author"] == a.author()
    sql(a.server, "INSERT INTO chat_room (created_at, name, headcount) "
                  "VALUES ('2025-01-13 23:56:12', 'legacy', 0)")
    legacy = [x for x in a.ok("GET", "/api/rooms/") if x["name"] == "legacy"][0]
    assert legacy == {"id": legacy["id"], "created_at": WHEN, "name": "legacy", "headcount": 0,
                      "author": None}
    assert a.delete("/api/rooms/%d/" % legacy["id"]).status_code == 403
    assert s.ok("DELETE", "/api/rooms/%d/" % legacy["id"]) is None
    assert s.ok("DELETE", path) is None


def test_chatlogs(users):
    a, b = users.alice, users.bob
    r1 = new_room(a, "one")["id"]
    r2 = new_room(a, "two")["id"]
    ids = [add_log(a.server, r1, "こんにちは %d" % i, a.id if i % 2 == 0 else None)
           for i in range(5)]
    other = add_log(a.server, r2, "elsewhere", b.id)
    logs = a.ok("GET", "/api/rooms/%d/chatlogs/" % r1)
    assert [x["id"] for x in logs] == ids
    assert logs[0] == {"id": ids[0], "created_at": WHEN, "message": "こんにちは 0", "room": r1,
                       "author": a.author()}
    assert list(logs[0]) == ["id", "created_at", "message", "room", "author"]
    assert logs[1]["author"] is None
    assert [x["id"] for x in a.ok("GET", "/api/rooms/%d/chatlogs/" % r2)] == [other]
    assert a.ok("GET", "/api/rooms/999/chatlogs/") == []
    assert a.ok("GET", "/api/rooms/0/chatlogs/") == []
    path = "/api/rooms/%d/chatlogs/" % r1
    assert [x["id"] for x in a.ok("GET", path + "?after=%d" % ids[2])] == ids[3:]
    assert a.ok("GET", path + "?after=%d" % ids[-1]) == []
    assert [x["id"] for x in a.ok("GET", path + "?after=")] == ids
    assert a.get(path + "?after=x").json() == {"after": [BAD_INT]}
    assert a.get(path + "?after=-1").json() == {"after": [MIN0]}
    p = a.ok("GET", path + "?page_size=2&after=%d" % ids[0])
    assert p["count"] == 4 and [x["id"] for x in p["results"]] == ids[1:3]
    assert p["next"] == a.server.url + path + "?after=%d&page=2&page_size=2" % ids[0]
    p = a.ok("GET", path + "?page=last&page_size=2")
    assert [x["id"] for x in p["results"]] == ids[4:]
    assert p["previous"] == a.server.url + path + "?page=2&page_size=2"
    assert a.get(path + "?page=9").json() == INVALID_PAGE
    for method in ["POST", "PUT", "PATCH", "DELETE"]:
        r = a.request(method, path, json={"message": "x"})
        assert r.status_code == 405 and r.headers["Allow"] == "GET, HEAD, OPTIONS"
    # Deleting a room deletes its history.
    assert a.ok("DELETE", "/api/rooms/%d/" % r1) is None
    assert sql(a.server, "SELECT count(*) FROM chat_chatlog WHERE room_id = ?", (r1,)) == [(0,)]
    assert a.ok("GET", path) == []
    assert [x["id"] for x in a.ok("GET", "/api/rooms/%d/chatlogs/" % r2)] == [other]
