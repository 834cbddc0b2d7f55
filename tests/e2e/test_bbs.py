# SPDX-License-Identifier: MIT
"""BBS REST resources (API.md §2, §4, §7.2-7.4) through the real binary with requests: every
route and error body, field-error orders, ownership with two users and a staff account, cascades,
pagination edges and links, topic filters and search, and concurrent writers."""
import os
import subprocess
import threading
import urllib.parse

import pytest
import requests

from conftest import recv_all

PW = "password-123"
NOT_FOUND = {"detail": "見つかりませんでした。"}
FORBIDDEN = {"detail": "このアクションを実行する権限がありません。"}
NO_CREDENTIALS = {"detail": "認証情報が含まれていません。"}
INVALID_PAGE = {"detail": "不正なページです。"}
REQUIRED = "この項目は必須です。"
NULL = "この項目はnullにできません。"
BLANK = "この項目は空にできません。"
NOT_STRING = "Not a valid string."
BAD_DATE = ("日時の形式が違います。以下のどれかの形式にしてください: "
            "YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z]。")
BAD_INT = "有効な整数を入力してください。"
BAD_CHOICE = "正しく選択してください。選択したものは候補にありません。"
WHEN = "2025年01月14日 08時56分12秒"


def missing(value):
    return '主キー "%s" は不正です - データが存在しません。' % value


def wrong_type(name):
    return "不正な型です。%s 型ではなく主キーの値を入力してください。" % name


def too_long(n):
    return "この項目が%d文字より長くならないようにしてください。" % n


class Client:
    """One logged-in user: requests with its Bearer token against one server."""

    def __init__(self, server, username, token, user_id):
        self.server = server
        self.username = username
        self.id = user_id
        self.session = requests.Session()
        self.session.headers["Authorization"] = "Bearer " + token

    def author(self):
        return {"id": self.id, "username": self.username}

    def request(self, method, path, **kw):
        return self.session.request(method, self.server.url + path, timeout=30, **kw)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, json=body, **kw)

    def put(self, path, body=None, **kw):
        return self.request("PUT", path, json=body, **kw)

    def patch(self, path, body=None, **kw):
        return self.request("PATCH", path, json=body, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    def ok(self, method, path, body=None, status=None):
        """A request that must succeed; returns the decoded body (None for 204)."""
        r = self.request(method, path, json=body)
        want = status or {"POST": 201, "DELETE": 204}.get(method, 200)
        assert r.status_code == want, (method, path, r.status_code, r.text)
        if want == 204:
            assert r.content == b"" and "Content-Type" not in r.headers
            return None
        assert r.headers["Content-Type"] == "application/json"
        return r.json()


def login(server, username, password=PW):
    r = requests.post(server.url + "/api/token/", json={"username": username,
                                                         "password": password})
    assert r.status_code == 200, r.text
    return r.json()["access"]


def user_id(server, token):
    r = requests.get(server.url + "/api/me/", headers={"Authorization": "Bearer " + token})
    assert r.status_code == 200, r.text
    return r.json()["id"]


def make_user(server, username):
    r = requests.post(server.url + "/api/register/", json={
        "username": username, "email": "", "password": PW, "password_confirm": PW})
    assert r.status_code == 201, r.text
    token = login(server, username)
    return Client(server, username, token, user_id(server, token))


def make_staff(server, username="root"):
    env = dict(server.env)
    env["HIROBA_SUPERUSER_PASSWORD"] = PW
    subprocess.run([server.bin, "createsuperuser", "--database", server.db, "--username",
                    username, "--email", "root@example.com"], env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    token = login(server, username)
    return Client(server, username, token, user_id(server, token))


def db_path(server):
    return server.db[len("sqlite:///"):]


def sql(server, statement, params=()):
    """Runs one statement on the server's database, as other software would (conftest)."""
    return server.sql(statement, params)


class Users:
    def __init__(self, server):
        self.server = server
        self.alice = make_user(server, "alice")
        self.bob = make_user(server, "bob")
        self.staff = make_staff(server)


@pytest.fixture
def users(server_factory):
    """A server (long access tokens) with alice, bob and a staff account."""
    return Users(server_factory(args=["--access-ttl", "3600"]))


def new_category(client, name="雑談"):
    return client.ok("POST", "/api/categories/", {"name": name})


def new_topic(client, category, comment="hello", **extra):
    return client.ok("POST", "/api/topics/", dict({"category": category, "comment": comment},
                                                  **extra))


def new_reply(client, topic, comment="re", **extra):
    return client.ok("POST", "/api/replies/", dict({"topic": topic, "comment": comment}, **extra))


# ---- Routes, auth and the API root ----

ROUTES = [
    ("GET", "/api/"), ("GET", "/api/categories/"), ("POST", "/api/categories/"),
    ("GET", "/api/categories/1/"), ("PUT", "/api/categories/1/"), ("PATCH", "/api/categories/1/"),
    ("DELETE", "/api/categories/1/"), ("GET", "/api/topics/"), ("POST", "/api/topics/"),
    ("GET", "/api/topics/1/"), ("PUT", "/api/topics/abc/"), ("PATCH", "/api/topics/1/"),
    ("DELETE", "/api/topics/1/"), ("GET", "/api/topics/1/replies/"), ("GET", "/api/replies/"),
    ("POST", "/api/replies/"), ("GET", "/api/replies/x/"), ("PUT", "/api/replies/1/"),
    ("PATCH", "/api/replies/1/"), ("DELETE", "/api/replies/1/"), ("GET", "/api/rooms/"),
    ("POST", "/api/rooms/"), ("GET", "/api/rooms/1/"), ("PUT", "/api/rooms/1/"),
    ("PATCH", "/api/rooms/1/"), ("DELETE", "/api/rooms/abc/"), ("GET", "/api/rooms/1/chatlogs/"),
]


def test_every_route_requires_auth(server):
    for method, path in ROUTES:
        r = requests.request(method, server.url + path, json={"name": "x"})
        assert r.status_code == 401, (method, path, r.text)
        assert r.json() == NO_CREDENTIALS
        assert r.headers["WWW-Authenticate"] == 'Bearer realm="api"'


def test_api_root(users):
    a = users.alice
    r = a.get("/api/")
    assert r.status_code == 200
    assert r.headers["Allow"] == "GET, HEAD, OPTIONS"
    base = users.server.url
    assert r.text == ('{"topics":"%s/api/topics/","categories":"%s/api/categories/",'
                      '"replies":"%s/api/replies/","rooms":"%s/api/rooms/"}'
                      % (base, base, base, base))
    r = a.get("/api/", headers={"Host": "bbs.example.test:8443"})
    assert list(r.json()) == ["topics", "categories", "replies", "rooms"]
    assert r.json()["rooms"] == "http://bbs.example.test:8443/api/rooms/"
    r = a.request("HEAD", "/api/")
    assert r.status_code == 200 and r.content == b""
    assert a.post("/api/").status_code == 405
    # HTTP/1.0 without Host: the listening address.
    sock = users.server.connect()
    sock.sendall(b"GET /api/ HTTP/1.0\r\nAuthorization: " +
                 a.session.headers["Authorization"].encode() + b"\r\n\r\n")
    raw = recv_all(sock)
    sock.close()
    assert raw.startswith(b"HTTP/1.1 200 ")
    assert ('"topics":"%s/api/topics/"' % base).encode() in raw


def test_allow_and_405(users):
    a = users.alice
    cat = new_category(a)
    topic = new_topic(a, cat["id"])
    cases = [("/api/categories/", "GET, POST, HEAD, OPTIONS", "PUT"),
             ("/api/categories/%d/" % cat["id"], "GET, PUT, PATCH, DELETE, HEAD, OPTIONS", "POST"),
             ("/api/topics/%d/replies/" % topic["id"], "GET, HEAD, OPTIONS", "POST"),
             ("/api/rooms/1/chatlogs/", "GET, HEAD, OPTIONS", "DELETE")]
    for path, allow, bad in cases:
        r = a.get(path)
        assert r.status_code == 200 and r.headers["Allow"] == allow, path
        r = a.request(bad, path, json={})
        assert r.status_code == 405, path
        assert r.json() == {"detail": 'メソッド "%s" は許されていません。' % bad}
        assert r.headers["Allow"] == allow
    r = a.request("OPTIONS", "/api/topics/")
    assert r.status_code == 200 and r.json()["renders"] == ["application/json"]


def test_unmatched_nested_paths_404_without_auth(server):
    for path in ["/api/topics/abc/replies/", "/api/rooms/x/chatlogs/", "/api/topics/1/x/",
                 "/api/topics.json"]:
        r = requests.get(server.url + path)
        assert r.status_code == 404 and r.json() == NOT_FOUND, path


def test_missing_slash_redirects(users):
    r = requests.get(users.server.url + "/api/topics/1?id=2", allow_redirects=False)
    assert r.status_code == 301 and r.headers["Location"] == "/api/topics/1/?id=2"


# ---- Categories ----

def test_category_crud(users):
    a = users.alice
    r = a.post("/api/categories/", {"name": "雑談"})
    assert r.status_code == 201
    assert r.text == '{"id":1,"name":"雑談","author":{"id":%d,"username":"alice"}}' % a.id
    assert a.ok("GET", "/api/categories/") == [r.json()]
    assert a.ok("GET", "/api/categories/1/") == r.json()
    got = a.ok("PUT", "/api/categories/1/", {"id": 99, "name": " 趣味 ", "author": None})
    assert got == {"id": 1, "name": "趣味", "author": a.author()}
    assert a.ok("PATCH", "/api/categories/1/", {}) == got
    got = a.ok("PATCH", "/api/categories/1/", {"name": "news"})
    assert got["name"] == "news"
    new_category(a, "second")
    assert [c["id"] for c in a.ok("GET", "/api/categories/")] == [1, 2]
    assert a.ok("DELETE", "/api/categories/1/") is None
    assert a.get("/api/categories/1/").json() == NOT_FOUND
    assert a.get("/api/categories/1/").status_code == 404
    assert a.delete("/api/categories/1/").status_code == 404
    assert [c["id"] for c in a.ok("GET", "/api/categories/")] == [2]


def test_category_validation(users):
    a = users.alice
    cases = [
        ({}, {"name": [REQUIRED]}),
        ({"name": None}, {"name": [NULL]}),
        ({"name": ""}, {"name": [BLANK]}),
        ({"name": " \u3000\n"}, {"name": [BLANK]}),
        ({"name": "x" * 101}, {"name": [too_long(100)]}),
        ({"name": True}, {"name": [NOT_STRING]}),
        ({"name": ["a"]}, {"name": [NOT_STRING]}),
        ({"name": {"a": 1}}, {"name": [NOT_STRING]}),
        ({"name": "a\u0000b"}, {"name": ["何か文字を入力してください。"]}),
        ({"name": "x" * 101 + "\u0000"}, {"name": [too_long(100), "何か文字を入力してください。"]}),
    ]
    for body, errors in cases:
        r = a.post("/api/categories/", body)
        assert r.status_code == 400, body
        assert r.json() == errors, body
    assert a.ok("POST", "/api/categories/", {"name": 123})["name"] == "123"
    # 100 code points, each outside the BMP (2 UTF-16 units, 4 UTF-8 bytes).
    assert a.ok("POST", "/api/categories/", {"name": "😀" * 100})["name"] == "😀" * 100
    assert a.post("/api/categories/", {"name": "😀" * 101}).json() == {"name": [too_long(100)]}
    # PUT needs every required field; PATCH does not.
    cid = new_category(a)["id"]
    assert a.put("/api/categories/%d/" % cid, {}).json() == {"name": [REQUIRED]}
    assert a.patch("/api/categories/%d/" % cid, {"name": ""}).json() == {"name": [BLANK]}


def test_detail_ids(users):
    a = users.alice
    new_category(a)
    for seg in ["abc", "0", "-1", "99", "99999999999999999999", "1x", "%20"]:
        for method in ["GET", "PUT", "PATCH", "DELETE"]:
            r = a.request(method, "/api/categories/%s/" % seg, json={"name": "x"})
            assert r.status_code == 404 and r.json() == NOT_FOUND, (method, seg)
    # Django's int() lookup: leading zeros name the same row.
    assert a.ok("GET", "/api/categories/001/")["id"] == 1


def test_body_errors(users):
    a = users.alice
    url = a.server.url + "/api/categories/"
    h = a.session.headers
    r = a.session.post(url, data="name=x", headers={"Content-Type": "text/plain"})
    assert r.status_code == 415
    assert r.json() == {"detail": 'リクエストのメディアタイプ "text/plain" はサポートされていません。'}
    r = a.session.post(url, data='{"name":', headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["detail"].startswith("JSON parse error - ")
    r = a.session.post(url, data="[1]", headers={"Content-Type": "application/json"})
    assert r.json() == {"non_field_errors": ["不正なデータです。list 型ではなく辞書を入力してください。"]}
    r = a.session.post(url, data="null", headers={"Content-Type": "application/json"})
    assert r.json() == {"non_field_errors": ["No data provided"]}
    r = a.session.post(url, data="name=%E9%9B%91%E8%AB%87+x",
                       headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 201 and r.json()["name"] == "雑談 x"
    # Lookup (404) comes before the body (415), and so does ownership (403).
    r = a.session.put(url + "99/", data="x", headers={"Content-Type": "text/plain"})
    assert r.status_code == 404
    r = users.bob.session.put(url + "1/", data="{", headers={"Content-Type": "application/json"})
    assert r.status_code == 403 and r.json() == FORBIDDEN
    assert h["Authorization"].startswith("Bearer ")


# ---- Topics ----

def test_topic_crud(users):
    a = users.alice
    cat = new_category(a)
    r = a.post("/api/topics/", {"category": str(cat["id"]), "comment": "はじめまして",
                                "created_at": "2025-01-14T08:56:12+09:00"})
    assert r.status_code == 201
    assert r.text == ('{"id":1,"category":1,"created_at":"%s","comment":"はじめまして",'
                      '"author":{"id":%d,"username":"alice"}}' % (WHEN, a.id))
    t = r.json()
    assert a.ok("GET", "/api/topics/1/") == t
    assert a.ok("GET", "/api/topics/") == [t]
    # The SPA's edit page PUTs id, category and comment: created_at keeps its value.
    got = a.ok("PUT", "/api/topics/1/", {"id": 1, "category": "1", "comment": "edited"})
    assert got == dict(t, comment="edited")
    assert a.ok("PATCH", "/api/topics/1/", {}) == got
    got = a.ok("PATCH", "/api/topics/1/", {"created_at": WHEN})
    assert got["created_at"] == WHEN
    cat2 = new_category(a, "other")
    assert a.ok("PATCH", "/api/topics/1/", {"category": cat2["id"]})["category"] == cat2["id"]
    assert a.ok("DELETE", "/api/topics/1/") is None
    assert a.get("/api/topics/1/").status_code == 404
    assert a.ok("GET", "/api/topics/") == []


def test_topic_created_at_forms(users):
    a = users.alice
    cid = new_category(a)["id"]
    for given, shown in [("2025-01-14T08:56:12+09:00", WHEN), ("2025-01-13T23:56:12Z", WHEN),
                         ("2025-01-13 23:56:12.123456+00:00", WHEN), (WHEN, WHEN),
                         ("2025-01-14T08:56:12", WHEN), ("2025-01-14 08:56", "2025年01月14日 08時56分00秒"),
                         ("2025-01-13T18:56:12-0500", WHEN), ("2025-01-14T08:56:12,5+09", WHEN)]:
        assert new_topic(a, cid, created_at=given)["created_at"] == shown, given
    for bad in ["", "2025-01-14", "2025-13-01T00:00", "yesterday", 20250114, True, ["x"]]:
        r = a.post("/api/topics/", {"category": cid, "comment": "x", "created_at": bad})
        assert r.status_code == 400 and r.json() == {"created_at": [BAD_DATE]}, bad
    r = a.post("/api/topics/", {"category": cid, "comment": "x", "created_at": None})
    assert r.json() == {"created_at": [NULL]}


def test_topic_field_errors(users):
    a = users.alice
    cid = new_category(a)["id"]
    cases = [
        ({}, {"category": [REQUIRED], "comment": [REQUIRED]}),
        ({"category": None, "comment": None}, {"category": [NULL], "comment": [NULL]}),
        ({"category": "", "comment": ""}, {"category": [NULL], "comment": [BLANK]}),
        ({"category": 999, "comment": "x"}, {"category": [missing(999)]}),
        ({"category": "999", "comment": "x"}, {"category": [missing(999)]}),
        ({"category": -1, "comment": "x"}, {"category": [missing(-1)]}),
        ({"category": "0", "comment": "x"}, {"category": [missing(0)]}),
        ({"category": 99999999999999999999, "comment": "x"},
         {"category": [missing(99999999999999999999)]}),
        ({"category": "abc", "comment": "x"}, {"category": [wrong_type("str")]}),
        ({"category": True, "comment": "x"}, {"category": [wrong_type("bool")]}),
        ({"category": 1.5, "comment": "x"}, {"category": [wrong_type("float")]}),
        ({"category": [1], "comment": "x"}, {"category": [wrong_type("list")]}),
        ({"category": {"id": 1}, "comment": "x"}, {"category": [wrong_type("dict")]}),
        ({"category": cid, "comment": "x" * 2001}, {"comment": [too_long(2000)]}),
        ({"category": cid, "comment": []}, {"comment": [NOT_STRING]}),
        ({"category": "abc", "created_at": "nope", "comment": " "},
         {"category": [wrong_type("str")], "created_at": [BAD_DATE], "comment": [BLANK]}),
        ({"comment": " ", "created_at": "nope", "category": 999},
         {"category": [missing(999)], "created_at": [BAD_DATE], "comment": [BLANK]}),
    ]
    for body, errors in cases:
        r = a.post("/api/topics/", body)
        assert r.status_code == 400, body
        assert r.json() == errors, body
        assert list(r.json()) == list(errors), body
    assert new_topic(a, cid, "x" * 2000)["comment"] == "x" * 2000
    assert new_topic(a, str(cid), 12345)["comment"] == "12345"
    # The key order of a multi-field error body is the declared one, whatever the body's order.
    r = a.put("/api/topics/1/", {"comment": "", "category": "x"})
    assert r.text == '{"category":["%s"],"comment":["%s"]}' % (wrong_type("str"), BLANK)
    r = a.patch("/api/topics/1/", {"category": 12})
    assert r.json() == {"category": [missing(12)]}


def test_topic_form_body(users):
    a = users.alice
    cid = new_category(a)["id"]
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    r = a.post("/api/topics/", data="category=%d&comment=%%E3%%81%%82&created_at=" % cid,
               headers=form)
    assert r.status_code == 201, r.text
    assert r.json()["comment"] == "あ"
    r = a.post("/api/topics/", data="category=&comment=", headers=form)
    assert r.json() == {"category": [NULL], "comment": [BLANK]}


# ---- Replies ----

def test_reply_crud_and_scopes(users):
    a = users.alice
    cid = new_category(a)["id"]
    t1 = new_topic(a, cid)["id"]
    t2 = new_topic(a, cid)["id"]
    r = a.post("/api/replies/?id=%d" % t2, {"topic": str(t1), "comment": "最初の返信",
                                            "created_at": WHEN})
    assert r.status_code == 201
    assert r.text == ('{"id":1,"topic":%d,"created_at":"%s","comment":"最初の返信",'
                      '"author":{"id":%d,"username":"alice"}}' % (t1, WHEN, a.id))
    r1 = r.json()
    r2 = new_reply(a, t1, "second")
    r3 = new_reply(a, t2, "other topic")
    # The list is scoped by ?id=<topic>: absent, empty or not a number gives [].
    for q in ["", "?id=", "?id=abc", "?id=999", "?id=0", "?id=-1", "?after=1"]:
        assert a.ok("GET", "/api/replies/" + q) == [], q
    assert a.ok("GET", "/api/replies/?id=%d" % t1) == [r1, r2]
    assert a.ok("GET", "/api/replies/?id=%d" % t2) == [r3]
    assert a.ok("GET", "/api/topics/%d/replies/" % t1) == [r1, r2]
    assert a.ok("GET", "/api/topics/999/replies/") == []
    assert a.ok("GET", "/api/topics/0/replies/") == []
    assert a.ok("GET", "/api/topics/99999999999999999999/replies/") == []
    # Details work without ?id (hiroba fix), with the right one, and 404 with another.
    assert a.ok("GET", "/api/replies/1/") == r1
    assert a.ok("GET", "/api/replies/1/?id=") == r1
    assert a.ok("GET", "/api/replies/1/?id=%d" % t1) == r1
    for q in ["?id=%d" % t2, "?id=abc", "?id=999"]:
        for method in ["GET", "PUT", "PATCH", "DELETE"]:
            r = a.request(method, "/api/replies/1/" + q, json={"comment": "x"})
            assert r.status_code == 404 and r.json() == NOT_FOUND, (method, q)
    got = a.ok("PUT", "/api/replies/1/?id=%d" % t1, {"topic": t1, "comment": "edited"})
    assert got == dict(r1, comment="edited")
    got = a.ok("PATCH", "/api/replies/1/", {"topic": t2})
    assert got["topic"] == t2 and got["created_at"] == WHEN
    assert a.ok("DELETE", "/api/replies/1/?id=%d" % t2) is None
    assert a.get("/api/replies/1/").status_code == 404
    assert a.ok("GET", "/api/replies/?id=%d" % t2) == [r3]


def test_reply_field_errors(users):
    a = users.alice
    cid = new_category(a)["id"]
    tid = new_topic(a, cid)["id"]
    cases = [
        ({}, {"topic": [REQUIRED], "comment": [REQUIRED]}),
        ({"topic": "9", "comment": "x"}, {"topic": [missing(9)]}),
        ({"topic": "t", "comment": "x"}, {"topic": [wrong_type("str")]}),
        ({"comment": "", "created_at": 1, "topic": False},
         {"topic": [wrong_type("bool")], "created_at": [BAD_DATE], "comment": [BLANK]}),
        ({"topic": tid, "comment": "y" * 2001}, {"comment": [too_long(2000)]}),
    ]
    for body, errors in cases:
        r = a.post("/api/replies/", body)
        assert r.status_code == 400, body
        assert list(r.json()) == list(errors) and r.json() == errors, body
    # A reply to a topic of a category: the category is not a topic.
    r = a.post("/api/replies/", {"topic": cid + 100, "comment": "x"})
    assert r.json() == {"topic": [missing(cid + 100)]}


def test_after(users):
    a = users.alice
    cid = new_category(a)["id"]
    tid = new_topic(a, cid)["id"]
    ids = [new_reply(a, tid, "r%d" % i)["id"] for i in range(5)]
    for path in ["/api/replies/?id=%d&" % tid, "/api/topics/%d/replies/?" % tid]:
        assert [r["id"] for r in a.ok("GET", path + "after=%d" % ids[1])] == ids[2:]
        assert [r["id"] for r in a.ok("GET", path + "after=0")] == ids
        assert [r["id"] for r in a.ok("GET", path + "after=")] == ids
        assert a.ok("GET", path + "after=%d" % ids[-1]) == []
        assert a.ok("GET", path + "after=99999999999999999999") == []
        for bad in ["abc", "1.5", "true", "%20"]:
            r = a.get(path + "after=" + bad)
            assert r.status_code == 400 and r.json() == {"after": [BAD_INT]}, bad
        for neg in ["-1", "-99999999999999999999"]:
            r = a.get(path + "after=" + neg)
            assert r.status_code == 400
            assert r.json() == {"after": ["この値は0以上にしてください。"]}
        page = a.ok("GET", path + "after=%d&page_size=2" % ids[0])
        assert page["count"] == 4 and [r["id"] for r in page["results"]] == ids[1:3]


# ---- Ownership and cascades ----

def test_ownership(users):
    a, b, s = users.alice, users.bob, users.staff
    cat = new_category(a)
    topic = new_topic(a, cat["id"])
    reply = new_reply(a, topic["id"])
    bob_topic = new_topic(b, cat["id"], "bob's")
    assert bob_topic["author"] == b.author()
    for path, body in [("/api/categories/%d/" % cat["id"], {"name": "x"}),
                       ("/api/topics/%d/" % topic["id"], {"category": cat["id"], "comment": "x"}),
                       ("/api/replies/%d/" % reply["id"], {"topic": topic["id"], "comment": "x"})]:
        for method in ["PUT", "PATCH", "DELETE"]:
            r = b.request(method, path, json=body)
            assert r.status_code == 403 and r.json() == FORBIDDEN, (method, path)
            # The 403 comes before the body is validated.
            r = b.request(method, path, json={"name": None, "comment": None})
            assert r.status_code == 403
        assert b.get(path).status_code == 200  # reading stays open
        assert s.ok("PATCH", path, {}) == a.ok("GET", path)
    assert s.ok("PATCH", "/api/topics/%d/" % topic["id"], {"comment": "by staff"})["author"] == \
        a.author()  # staff edits keep the author
    assert a.ok("PATCH", "/api/topics/%d/" % bob_topic["id"], status=403) == FORBIDDEN
    assert b.ok("PATCH", "/api/topics/%d/" % bob_topic["id"], {"comment": "mine"})["comment"] == \
        "mine"
    assert s.ok("DELETE", "/api/replies/%d/" % reply["id"]) is None
    # Rows without an author (written by other software) are staff-only, with author null.
    sql(a.server, "INSERT INTO bbs_category (name) VALUES ('legacy')")
    legacy = [c for c in a.ok("GET", "/api/categories/") if c["name"] == "legacy"][0]
    assert legacy["author"] is None
    assert list(legacy) == ["id", "name", "author"]
    path = "/api/categories/%d/" % legacy["id"]
    assert a.patch(path, {"name": "mine"}).status_code == 403
    assert s.ok("PATCH", path, {"name": "kept"}) == {"id": legacy["id"], "name": "kept",
                                                     "author": None}
    # Deleting a category cascades to others' topics; that is allowed to its author.
    assert a.ok("DELETE", "/api/categories/%d/" % cat["id"]) is None
    assert b.get("/api/topics/%d/" % bob_topic["id"]).status_code == 404


def test_author_deleted_is_null(users):
    a, b = users.alice, users.bob
    cat = new_category(b)
    # Django deletes a user's tokens with it (no ON DELETE in the schema); author_id is SET NULL.
    sql(a.server, "DELETE FROM token_blacklist_blacklistedtoken WHERE token_id IN (SELECT id FROM "
                  "token_blacklist_outstandingtoken WHERE user_id = ?)", (b.id,))
    sql(a.server, "DELETE FROM token_blacklist_outstandingtoken WHERE user_id = ?", (b.id,))
    sql(a.server, "DELETE FROM auth_user WHERE id = ?", (b.id,))
    assert sql(a.server, "SELECT author_id FROM bbs_category WHERE id = ?", (cat["id"],)) == \
        [(None,)]
    assert a.ok("GET", "/api/categories/%d/" % cat["id"])["author"] is None


def test_cascades(users):
    a, b = users.alice, users.bob
    c1 = new_category(a)["id"]
    c2 = new_category(a, "keep")["id"]
    t1 = new_topic(a, c1)["id"]
    t2 = new_topic(b, c1)["id"]
    t3 = new_topic(a, c2)["id"]
    for t in (t1, t2, t3):
        new_reply(a, t)
        new_reply(b, t)
    assert a.ok("DELETE", "/api/topics/%d/" % t3) is None
    assert sql(a.server, "SELECT count(*) FROM bbs_reply WHERE topic_id = ?", (t3,)) == [(0,)]
    assert a.ok("DELETE", "/api/categories/%d/" % c1) is None
    assert sql(a.server, "SELECT count(*) FROM bbs_topic") == [(0,)]
    assert sql(a.server, "SELECT count(*) FROM bbs_reply") == [(0,)]
    assert [c["id"] for c in a.ok("GET", "/api/categories/")] == [c2]
    assert a.ok("GET", "/api/topics/%d/replies/" % t1) == []


# ---- Pagination (§7.2) ----

def page_ids(page):
    return [x["id"] for x in page["results"]]


def test_pagination(users):
    a = users.alice
    base = a.server.url
    cid = new_category(a)["id"]
    ids = [new_topic(a, cid, "t%d" % i)["id"] for i in range(25)]
    p = a.ok("GET", "/api/topics/?page=1")
    assert list(p) == ["count", "next", "previous", "results"]
    assert p["count"] == 25 and page_ids(p) == ids[:10] and p["previous"] is None
    assert p["next"] == base + "/api/topics/?page=2"
    p = a.ok("GET", "/api/topics/?page=2")
    assert p["previous"] == base + "/api/topics/" and p["next"] == base + "/api/topics/?page=3"
    p = a.ok("GET", "/api/topics/?page=3")
    assert page_ids(p) == ids[20:] and p["next"] is None
    assert p["previous"] == base + "/api/topics/?page=2"
    assert a.ok("GET", "/api/topics/?page=last") == p
    assert a.ok("GET", "/api/topics/?page=") == a.ok("GET", "/api/topics/?page=1")
    p = a.ok("GET", "/api/topics/?page_size=7&page=2")
    assert page_ids(p) == ids[7:14]
    assert p["next"] == base + "/api/topics/?page=3&page_size=7"
    assert p["previous"] == base + "/api/topics/?page_size=7"
    for size, n in [("0", 10), ("-3", 10), ("abc", 10), ("", 10), ("1000", 25), ("3", 3)]:
        assert len(a.ok("GET", "/api/topics/?page_size=" + size)["results"]) == n, size
    # Every parameter is kept, sorted by name, re-encoded as Python's urlencode() does.
    p = a.ok("GET", "/api/topics/?search=t&z=1&page_size=2&a=%E6%97%A5+%2B&ordering=id&a=2")
    assert p["next"] == (base + "/api/topics/?a=%E6%97%A5+%2B&a=2&ordering=id&page=2"
                         "&page_size=2&search=t&z=1")
    for bad in ["0", "-1", "4", "abc", "1.0", "99999999999999999999"]:
        r = a.get("/api/topics/?page=" + bad)
        assert r.status_code == 404 and r.json() == INVALID_PAGE, bad


def test_pagination_empty_and_every_list(users):
    a = users.alice
    empty = {"count": 0, "next": None, "previous": None, "results": []}
    for path in ["/api/categories/", "/api/topics/", "/api/replies/", "/api/replies/?id=1",
                 "/api/topics/1/replies/", "/api/rooms/", "/api/rooms/1/chatlogs/"]:
        sep = "&" if "?" in path else "?"
        assert a.ok("GET", path + sep + "page=1") == empty, path
        assert a.ok("GET", path + sep + "page=last") == empty, path
        assert a.ok("GET", path + sep + "page_size=5") == empty, path
        r = a.get(path + sep + "page=2")
        assert r.status_code == 404 and r.json() == INVALID_PAGE, path


def test_server_page_size(server_factory):
    server = server_factory(args=["--page-size", "3", "--access-ttl", "3600"])
    a = make_user(server, "alice")
    cid = new_category(a)["id"]
    for i in range(4):
        new_topic(a, cid, "t%d" % i)
    p = a.ok("GET", "/api/topics/")
    assert p["count"] == 4 and len(p["results"]) == 3
    assert p["next"] == server.url + "/api/topics/?page=2"
    assert a.ok("GET", "/api/categories/")["count"] == 1
    assert len(a.ok("GET", "/api/topics/?page_size=100")["results"]) == 4


# ---- Topic filters (§7.3) ----

def test_topic_filters(users):
    a = users.alice
    c1 = new_category(a)["id"]
    c2 = new_category(a, "two")["id"]
    t = [new_topic(a, c1, "Hello World 東京タワー", created_at="2025-01-03T00:00:00Z")["id"],
         new_topic(a, c2, "hello there, 大阪城", created_at="2025-01-01T00:00:00Z")["id"],
         new_topic(a, c1, "猫が好き world", created_at="2025-01-02T00:00:00Z")["id"],
         new_topic(a, c2, "say \"hello world\" twice", created_at="2025-01-02T00:00:00Z")["id"]]

    def ids(q):
        return [x["id"] for x in a.ok("GET", "/api/topics/?" + q)]

    assert ids("category=%d" % c1) == [t[0], t[2]]
    assert ids("category=") == t
    for bad in ["abc", "999", "0", "-1", "1.5"]:
        r = a.get("/api/topics/?category=" + bad)
        assert r.status_code == 400 and r.json() == {"category": [BAD_CHOICE]}, bad
    assert ids("search=hello") == [t[0], t[1], t[3]]
    assert ids("search=HELLO+world") == [t[0], t[3]]
    assert ids("search=hello,world") == [t[0], t[3]]
    assert ids("search=%22hello+world%22") == [t[0], t[3]]
    assert ids("search=%22world+twice%22") == []
    assert ids("search=東京タワー") == [t[0]]
    assert ids("search=タワー") == [t[0]]
    assert ids("search=猫") == [t[2]]
    assert ids("search=wo") == [t[0], t[2], t[3]]
    assert ids("search=大阪%E3%80%80hello") == [t[1]]
    assert ids("search=") == t
    assert ids("search=nothing") == []
    assert ids("search=hello&category=%d" % c2) == [t[1], t[3]]
    assert ids("ordering=-id") == t[::-1]
    assert ids("ordering=created_at") == [t[1], t[2], t[3], t[0]]
    assert ids("ordering=-created_at") == [t[0], t[2], t[3], t[1]]
    assert ids("ordering=-created_at,-id") == [t[0], t[3], t[2], t[1]]
    assert ids("ordering=bogus") == t
    assert ids("ordering=bogus,-id") == t[::-1]
    p = a.ok("GET", "/api/topics/?search=world&ordering=-id&page_size=2")
    assert p["count"] == 3 and page_ids(p) == [t[3], t[2]]
    assert p["next"] == a.server.url + "/api/topics/?ordering=-id&page=2&page_size=2&search=world"


# ---- Concurrency ----

def test_concurrent_writers(users):
    """50 writers at once: no lost or duplicated rows, every response a distinct id."""
    a = users.alice
    cid = new_category(a)["id"]
    n_threads, per_thread = 50, 6
    results, errors = [], []
    lock = threading.Lock()

    def writer(k):
        s = requests.Session()
        s.headers["Authorization"] = a.session.headers["Authorization"]
        try:
            for i in range(per_thread):
                if i % 2 == 0:
                    r = s.post(a.server.url + "/api/topics/",
                               json={"category": cid, "comment": "w%d-%d" % (k, i)}, timeout=60)
                else:
                    r = s.post(a.server.url + "/api/replies/",
                               json={"topic": results_topic, "comment": "w%d-%d" % (k, i)},
                               timeout=60)
                with lock:
                    if r.status_code != 201:
                        errors.append(r.text)
                    else:
                        results.append(r.json())
        except Exception as e:  # noqa: BLE001 - reported below
            with lock:
                errors.append(repr(e))

    results_topic = new_topic(a, cid, "target")["id"]
    threads = [threading.Thread(target=writer, args=(k,)) for k in range(n_threads)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []
    assert len(results) == n_threads * per_thread
    comments = sorted(r["comment"] for r in results)
    assert comments == sorted("w%d-%d" % (k, i) for k in range(n_threads)
                              for i in range(per_thread))
    topics = [r for r in results if "category" in r]
    replies = [r for r in results if "topic" in r]
    assert len({r["id"] for r in topics}) == len(topics)
    assert len({r["id"] for r in replies}) == len(replies)
    listed = a.ok("GET", "/api/topics/?category=%d" % cid)
    assert len(listed) == len(topics) + 1
    assert sorted(x["comment"] for x in listed if x["comment"] != "target") == \
        sorted(r["comment"] for r in topics)
    assert len(a.ok("GET", "/api/replies/?id=%d" % results_topic)) == len(replies)


def test_concurrent_deletes_and_writes(users):
    """Writers racing a cascade: every request answers 201, 204, 400 or 404, never 500."""
    a = users.alice
    statuses, bodies = [], []
    lock = threading.Lock()
    cats = [new_category(a, "c%d" % i)["id"] for i in range(10)]
    topics = [new_topic(a, c)["id"] for c in cats]

    def work(k):
        s = requests.Session()
        s.headers["Authorization"] = a.session.headers["Authorization"]
        for i in range(10):
            if k % 5 == 0 and i == 0:
                r = s.delete(a.server.url + "/api/categories/%d/" % cats[k // 5], timeout=60)
            else:
                r = s.post(a.server.url + "/api/replies/",
                           json={"topic": topics[(k + i) % 10], "comment": "x"}, timeout=60)
            with lock:
                statuses.append(r.status_code)
                if r.status_code == 400:
                    bodies.append(r.json())

    threads = [threading.Thread(target=work, args=(k,)) for k in range(50)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert set(statuses) <= {201, 204, 400, 404}
    assert statuses.count(204) == 10
    assert all(list(b) == ["topic"] for b in bodies)
    orphans = sql(a.server, "SELECT count(*) FROM bbs_reply WHERE topic_id NOT IN "
                            "(SELECT id FROM bbs_topic)")
    assert orphans == [(0,)]


def test_head_and_options(users):
    a = users.alice
    cid = new_category(a)["id"]
    for path in ["/api/categories/", "/api/categories/%d/" % cid, "/api/topics/?page=1"]:
        g = a.get(path)
        h = a.request("HEAD", path)
        assert h.status_code == 200 and h.content == b""
        assert h.headers["Content-Length"] == str(len(g.content))
    assert a.request("HEAD", "/api/categories/99/").status_code == 404


@pytest.mark.sqlite_only("PRAGMA foreign_key_check on the database file")
def test_database_constraint_fk(users):
    """The database keeps Django's deferred foreign keys: no orphan row was ever written."""
    a = users.alice
    cid = new_category(a)["id"]
    new_reply(a, new_topic(a, cid)["id"])
    assert sql(a.server, "PRAGMA foreign_key_check") == []
    assert os.path.exists(db_path(a.server))
    assert urllib.parse.urlsplit(a.server.url).scheme == "http"


def test_database_failure_is_500(users):
    """A store failure answers the fixed 500 body and logs one line; the server keeps going."""
    a = users.alice
    cid = new_category(a)["id"]
    tid = new_topic(a, cid)["id"]
    sql(a.server, "ALTER TABLE bbs_reply RENAME TO bbs_reply_gone")
    try:
        for method, path, body in [("GET", "/api/replies/?id=%d" % tid, None),
                                   ("GET", "/api/topics/%d/replies/?page=1" % tid, None),
                                   ("POST", "/api/replies/", {"topic": tid, "comment": "x"}),
                                   ("DELETE", "/api/topics/%d/" % tid, None)]:
            r = a.request(method, path, json=body)
            assert r.status_code == 500, (method, path, r.text)
            assert r.json() == {"detail": "サーバエラーが発生しました。"}
    finally:
        sql(a.server, "ALTER TABLE bbs_reply_gone RENAME TO bbs_reply")
    assert a.ok("GET", "/api/topics/%d/" % tid)["id"] == tid
    assert new_reply(a, tid)["topic"] == tid
    assert a.ok("DELETE", "/api/topics/%d/" % tid) is None
