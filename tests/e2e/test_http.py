# SPDX-License-Identifier: MIT
"""HTTP/1.1 engine end to end (API.md §2.1, §2.3, §2.7, §2.9, §2.10, §7.6, §8, §11): the demo and
operations endpoints, HEAD/OPTIONS/405/301/404, keep-alive, pipelining, byte-at-a-time input,
100-continue, half-close, every limit and framing refusal over the wire (status, JSON body,
connection closed), deadlines, the connection cap, metrics, graceful shutdown and CORS.
Well-formed traffic goes through requests; malformed bytes through raw sockets."""
import json
import re
import signal
import socket
import threading
import time

import requests

HELLO = b'{"message":"Hello, World!"}'
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}
BAD_REQUEST = '{"detail":"不正な形式のリクエストです。"}'
TOO_LARGE_HEAD = '{"detail":"リクエストヘッダが大きすぎます。"}'
URI_TOO_LONG = '{"detail":"リクエストURIが長すぎます。"}'
BODY_TOO_LARGE = '{"detail":"リクエストボディが大きすぎます。"}'
TIMEOUT = '{"detail":"リクエストがタイムアウトしました。"}'
NOT_FOUND = '{"detail":"見つかりませんでした。"}'
BUSY = '{"detail":"サーバが混雑しています。"}'


# ---- raw-socket helpers (also used by test_static.py) ----

class Resp:
    def __init__(self, status, reason, headers, body):
        self.status = status
        self.reason = reason
        self.headers = headers  # lower-case name -> [values]
        self.body = body

    def header(self, name):
        values = self.headers.get(name.lower())
        return values[0] if values else None

    def text(self):
        return self.body.decode("utf-8")

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return "<Resp %d %r %r>" % (self.status, self.headers, self.body[:200])


def parse_responses(data, head_responses=()):
    """Splits raw bytes into responses framed by Content-Length. head_responses: indices of
    responses to HEAD requests (their Content-Length describes a body that is not sent)."""
    out = []
    while data:
        head, sep, rest = data.partition(b"\r\n\r\n")
        assert sep, "incomplete response head: %r" % data[:300]
        lines = head.split(b"\r\n")
        version, status, reason = (lines[0].split(b" ", 2) + [b""])[:3]
        assert version == b"HTTP/1.1", lines[0]
        headers = {}
        for line in lines[1:]:
            name, colon, value = line.partition(b":")
            assert colon, line
            headers.setdefault(name.decode().lower(), []).append(value.strip().decode("utf-8"))
        status = int(status)
        n = 0
        if status >= 200 and len(out) not in head_responses and "content-length" in headers:
            n = int(headers["content-length"][0])
        assert len(rest) >= n, "short body: want %d, have %d" % (n, len(rest))
        out.append(Resp(status, reason.decode(), headers, rest[:n]))
        data = rest[n:]
    return out


def read_until_close(sock, timeout=5.0):
    """Reads until the peer closes (closed=True) or nothing arrives for timeout seconds."""
    sock.settimeout(timeout)
    chunks = []
    while True:
        try:
            b = sock.recv(65536)
        except socket.timeout:
            return b"".join(chunks), False
        except ConnectionResetError:
            return b"".join(chunks), True
        if not b:
            return b"".join(chunks), True
        chunks.append(b)


def read_responses(sock, n, timeout=5.0, head_responses=()):
    """Reads exactly n responses (framed by Content-Length) from a keep-alive socket."""
    sock.settimeout(timeout)
    data = b""
    while True:
        try:
            got = parse_responses(data, head_responses)
            if len(got) == n:
                return got
        except AssertionError:
            pass
        b = sock.recv(65536)
        assert b, "closed after %r" % data[-300:]
        data += b


def exchange(server, data, timeout=5.0):
    """Sends raw bytes on a new connection; returns (responses, closed)."""
    with server.connect() as s:
        s.sendall(data)
        raw, closed = read_until_close(s, timeout)
    return parse_responses(raw), closed


def get(path, host="x", extra=""):
    return ("GET %s HTTP/1.1\r\nHost: %s\r\n%s\r\n" % (path, host, extra)).encode()


def assert_refused(server, data, status, body, timeout=5.0):
    """The request gets status with a JSON body, Connection: close, and the server closes."""
    resps, closed = exchange(server, data, timeout)
    assert [r.status for r in resps] == [status], resps
    r = resps[0]
    assert r.header("Content-Type") == "application/json"
    assert r.text() == body
    assert r.header("Connection") == "close"
    for name, value in SECURITY_HEADERS.items():
        assert r.header(name) == value
    assert closed, "the server kept the connection open"


# ---- demo endpoints, HEAD, OPTIONS, 405, 301, 404 ----

def test_hello_endpoints_are_exactly_27_bytes(server):
    for path in ("/hello/", "/test/", "/aaa/"):
        r = requests.get(server.url + path)
        assert r.status_code == 200
        assert r.content == HELLO and len(r.content) == 27
        assert r.headers["Content-Type"] == "application/json"
        assert r.headers["Content-Length"] == "27"
        assert r.headers["Allow"] == "GET, HEAD, OPTIONS"
        for name, value in SECURITY_HEADERS.items():
            assert r.headers[name] == value
        assert re.fullmatch(r"\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT", r.headers["Date"])
        assert "Connection" not in r.headers  # keep-alive is the HTTP/1.1 default


def test_root_is_not_hello(server):
    r = requests.get(server.url + "/")
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "text/html; charset=utf-8"
    assert r.content != HELLO


def test_head_has_get_headers_and_no_body(server):
    with server.connect() as s:
        s.sendall(b"HEAD /hello/ HTTP/1.1\r\nHost: x\r\n\r\n" + get("/test/"))
        head, after = read_responses(s, 2, head_responses=(0,))
    assert head.status == 200
    assert head.header("Content-Length") == "27"
    assert head.header("Content-Type") == "application/json"
    assert head.header("Allow") == "GET, HEAD, OPTIONS"
    assert head.body == b""
    assert after.body == HELLO  # the next response starts right after the HEAD head
    r = requests.head(server.url + "/slow/?ms=1")
    assert r.status_code == 200 and r.content == b""


def test_options_metadata(server):
    r = requests.options(server.url + "/hello/")
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "application/json"
    assert r.headers["Allow"] == "GET, HEAD, OPTIONS"
    body = r.json()
    assert list(body) == ["name", "description", "renders", "parses"]
    assert body["description"] == ""
    assert body["renders"] == ["application/json"]
    assert "application/json" in body["parses"]
    assert b" " not in r.content.replace(b"Hello World", b"")  # compact JSON


def test_405_body_is_drf_text(server):
    r = requests.put(server.url + "/hello/", data=b"x")
    assert r.status_code == 405
    assert r.content.decode() == '{"detail":"メソッド \\"PUT\\" は許されていません。"}'
    assert r.headers["Allow"] == "GET, HEAD, OPTIONS"
    assert r.headers["Content-Type"] == "application/json"
    for method in ("POST", "PATCH", "DELETE"):
        r = requests.request(method, server.url + "/slow/?ms=1")
        assert r.status_code == 405
        assert r.json() == {"detail": 'メソッド "%s" は許されていません。' % method}
    resps, _ = exchange(server, b"PROPFIND /test/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert resps[0].status == 405
    assert resps[0].json() == {"detail": 'メソッド "PROPFIND" は許されていません。'}


def test_missing_slash_redirects_with_query(server):
    for method in ("GET", "POST", "DELETE", "HEAD"):
        r = requests.request(method, server.url + "/hello?a=1&b=%20", allow_redirects=False)
        assert r.status_code == 301
        assert r.headers["Location"] == "/hello/?a=1&b=%20"
        assert r.headers["Content-Type"] == "text/html; charset=utf-8"
        assert r.content == b""
    r = requests.get(server.url + "/slow", allow_redirects=False)
    assert r.status_code == 301 and r.headers["Location"] == "/slow/"
    # The operations paths have no slash and are never redirected.
    assert requests.get(server.url + "/healthz", allow_redirects=False).status_code == 200


def test_unmatched_api_path_is_json_404(server):
    for method, path in (("GET", "/api/nothing/"), ("GET", "/api/topics/abc/replies/"),
                         ("POST", "/api/x/"), ("GET", "/api/x"), ("DELETE", "/api/nothing/")):
        r = requests.request(method, server.url + path, allow_redirects=False)
        assert r.status_code == 404, path
        assert r.content.decode() == NOT_FOUND
        assert r.headers["Content-Type"] == "application/json"
        assert "Allow" not in r.headers
    # /api itself redirects: its slashed form is the API root (API.md §4.5).
    r = requests.get(server.url + "/api", allow_redirects=False)
    assert r.status_code == 301 and r.headers["Location"] == "/api/"
    # Other methods on SPA paths get the same 404.
    r = requests.post(server.url + "/topic/3/", data=b"{}")
    assert r.status_code == 404 and r.content.decode() == NOT_FOUND


def test_absolute_form_target(server):
    resps, _ = exchange(server, b"GET http://example.com/hello/ HTTP/1.1\r\nHost: example.com\r\n"
                                b"Connection: close\r\n\r\n")
    assert resps[0].status == 200 and resps[0].body == HELLO


def test_percent_encoded_path_routes(server):
    r = requests.get(server.url + "/%68ello/")
    assert r.status_code == 200 and r.content == HELLO


# ---- /slow/ ----

def test_slow_validation_errors(server):
    cases = [
        ("", '{"ms":["この項目は必須です。"]}'),
        ("?other=1", '{"ms":["この項目は必須です。"]}'),
        ("?ms=abc", '{"ms":["有効な整数を入力してください。"]}'),
        ("?ms=", '{"ms":["有効な整数を入力してください。"]}'),
        ("?ms=1.5", '{"ms":["有効な整数を入力してください。"]}'),
        ("?ms=-1", '{"ms":["この値は0以上にしてください。"]}'),
        ("?ms=10001", '{"ms":["この値は10000以下にしてください。"]}'),
        ("?ms=99999999999999999999", '{"ms":["有効な整数を入力してください。"]}'),
    ]
    for query, body in cases:
        r = requests.get(server.url + "/slow/" + query)
        assert r.status_code == 400, query
        assert r.content.decode() == body, query
        assert r.headers["Content-Type"] == "application/json"
        assert r.headers["Allow"] == "GET, HEAD, OPTIONS"


def test_slow_waits_on_a_timer(server):
    t = time.monotonic()
    r = requests.get(server.url + "/slow/?ms=300")
    elapsed = time.monotonic() - t
    assert r.status_code == 200
    assert r.content == b'{"message":"Hello, World!","slept_ms":300}'
    assert 0.29 <= elapsed < 2.0
    r = requests.get(server.url + "/slow/?ms=0")
    assert r.json() == {"message": "Hello, World!", "slept_ms": 0}
    r = requests.get(server.url + "/slow/?ms=1&ms=7")  # the last value wins
    assert r.json()["slept_ms"] == 7


def test_slow_never_blocks_the_loop(server_factory):
    server = server_factory(args=["--workers", "1"])
    results = []

    def slow():
        results.append(requests.get(server.url + "/slow/?ms=1500").status_code)

    threads = [threading.Thread(target=slow) for _ in range(5)]
    for th in threads:
        th.start()
    time.sleep(0.2)
    t = time.monotonic()
    for _ in range(10):
        assert requests.get(server.url + "/hello/").status_code == 200
    assert time.monotonic() - t < 1.0
    for th in threads:
        th.join()
    assert results == [200] * 5


# ---- connections: keep-alive, pipelining, partial input ----

def test_keep_alive_reuses_one_connection(server):
    with server.connect() as s:
        for path in ("/hello/", "/test/", "/aaa/", "/slow/?ms=5", "/api/x/", "/healthz"):
            s.sendall(get(path))
            (r,) = read_responses(s, 1)
            assert r.header("Connection") is None
        s.sendall(get("/hello/", extra="Connection: close\r\n"))
        raw, closed = read_until_close(s)
    assert closed
    (r,) = parse_responses(raw)
    assert r.header("Connection") == "close" and r.body == HELLO
    with requests.Session() as session:
        for _ in range(20):
            assert session.get(server.url + "/hello/").content == HELLO


def test_http10(server):
    resps, closed = exchange(server, b"GET /hello/ HTTP/1.0\r\n\r\n")
    assert closed and resps[0].status == 200 and resps[0].header("Connection") == "close"
    with server.connect() as s:
        s.sendall(b"GET /hello/ HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        (r,) = read_responses(s, 1)
        assert r.header("Connection") == "keep-alive"
        s.sendall(b"GET /test/ HTTP/1.0\r\n\r\n")
        raw, closed = read_until_close(s)
    assert closed and parse_responses(raw)[0].body == HELLO


def test_ten_pipelined_requests_answered_in_order(server):
    reqs = [
        ("GET", "/hello/", 200, HELLO),
        ("GET", "/slow/?ms=50", 200, b'{"message":"Hello, World!","slept_ms":50}'),
        ("GET", "/test/", 200, HELLO),
        ("GET", "/api/nothing/", 404, NOT_FOUND.encode()),
        ("GET", "/slow/?ms=1", 200, b'{"message":"Hello, World!","slept_ms":1}'),
        ("PUT", "/aaa/", 405, '{"detail":"メソッド \\"PUT\\" は許されていません。"}'.encode()),
        ("GET", "/slow/?ms=20", 200, b'{"message":"Hello, World!","slept_ms":20}'),
        ("GET", "/slow/?ms=0", 200, b'{"message":"Hello, World!","slept_ms":0}'),
        ("GET", "/slow/", 400, '{"ms":["この項目は必須です。"]}'.encode()),
        ("GET", "/healthz", 200, b'{"status":"ok"}'),
    ]
    data = b""
    for i, (method, path, _, _) in enumerate(reqs):
        last = "Connection: close\r\n" if i == len(reqs) - 1 else ""
        data += ("%s %s HTTP/1.1\r\nHost: x\r\n%s\r\n" % (method, path, last)).encode()
    resps, closed = exchange(server, data)  # one write
    assert closed
    assert [(r.status, r.body) for r in resps] == [(s, b) for _, _, s, b in reqs]


def test_byte_at_a_time(server):
    data = (b"POST /hello/?x=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello" +
            get("/slow/?ms=2") + get("/hello/", extra="Connection: close\r\n"))
    with server.connect() as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for i in range(len(data)):
            s.sendall(data[i:i + 1])
            if i % 16 == 0:
                time.sleep(0.001)
        raw, closed = read_until_close(s)
    assert closed
    resps = parse_responses(raw)
    assert [r.status for r in resps] == [405, 200, 200]
    assert resps[2].body == HELLO


def test_chunked_request_body_then_keep_alive(server):
    with server.connect() as s:
        s.sendall(b"POST /hello/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                  b"5\r\nhello\r\n3;ext=1\r\nabc\r\n0\r\nX-Trailer: 1\r\n\r\n" + get("/test/"))
        a, b = read_responses(s, 2)
    assert a.status == 405 and b.body == HELLO


def test_half_close_still_answers_everything(server):
    with server.connect() as s:
        s.sendall(get("/hello/") + get("/slow/?ms=300") + get("/test/"))
        s.shutdown(socket.SHUT_WR)
        raw, closed = read_until_close(s)
    assert closed
    resps = parse_responses(raw)
    assert [r.status for r in resps] == [200, 200, 200]
    assert resps[1].json()["slept_ms"] == 300


def test_nothing_answered_after_connection_close(server):
    resps, closed = exchange(server, get("/hello/", extra="Connection: close\r\n") + get("/test/"))
    assert closed and len(resps) == 1


def test_upgrade_request_answered_as_http(server):
    resps, closed = exchange(server, get("/hello/", extra="Connection: Upgrade\r\nUpgrade: h2c\r\n")
                             + get("/test/", extra="Connection: close\r\n"))
    assert closed
    assert [(r.status, r.body) for r in resps] == [(200, HELLO), (200, HELLO)]


def test_100_continue(server):
    with server.connect() as s:
        s.sendall(b"POST /hello/ HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                  b"Content-Length: 5\r\n\r\n")
        s.settimeout(5)
        interim = s.recv(4096)
        assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
        s.sendall(b"hello")
        (r,) = read_responses(s, 1)
        assert r.status == 405
        # A declared length over the limit is refused before 100 Continue.
        s.sendall(b"POST /hello/ HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                  b"Content-Length: 2000000\r\n\r\n")
        raw, closed = read_until_close(s)
    assert closed
    resps = parse_responses(raw)
    assert [r.status for r in resps] == [413]
    assert resps[0].text() == BODY_TOO_LARGE


# ---- limits and framing over the wire (API.md §11, RFC 9112 §6.3) ----

def test_head_over_16k_is_431(server):
    assert_refused(server, get("/hello/", extra="X-Big: %s\r\n" % ("a" * 17000)), 431,
                   TOO_LARGE_HEAD)
    # Headers that never end.
    assert_refused(server, b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20000, 431,
                   TOO_LARGE_HEAD)


def test_more_than_100_fields_is_431(server):
    fields = "".join("X-%d: v\r\n" % i for i in range(100))  # plus Host: 101
    assert_refused(server, get("/hello/", extra=fields), 431, TOO_LARGE_HEAD)


def test_exactly_100_fields_is_fine(server):
    fields = "".join("X-%d: v\r\n" % i for i in range(98)) + "Connection: close\r\n"
    resps, _ = exchange(server, get("/hello/", extra=fields))
    assert resps[0].status == 200


def test_target_over_8k_is_414(server):
    assert_refused(server, get("/hello/?q=" + "a" * 8200), 414, URI_TOO_LONG)
    resps, _ = exchange(server, get("/slow/?ms=1&q=" + "a" * 8000, extra="Connection: close\r\n"))
    assert resps[0].status == 200


def test_body_over_1mib_is_413(server):
    assert_refused(server, b"POST /hello/ HTTP/1.1\r\nHost: x\r\nContent-Length: 1048577\r\n\r\n",
                   413, BODY_TOO_LARGE)
    # Chunked: refused when the chunks add up past 1 MiB.
    data = b"POST /hello/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    data += b"10000\r\n" + b"z" * 0x10000 + b"\r\n"
    data = data + (b"10000\r\n" + b"z" * 0x10000 + b"\r\n") * 15 + b"1\r\nz\r\n0\r\n\r\n"
    assert_refused(server, data, 413, BODY_TOO_LARGE)
    # One chunk announced larger than the limit.
    assert_refused(server, b"POST /hello/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                           b"100001\r\n", 413, BODY_TOO_LARGE)
    # Exactly 1 MiB is read (then 405: /hello/ takes no POST).
    resps, _ = exchange(server, b"POST /hello/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                                b"Content-Length: 1048576\r\n\r\n" + b"b" * 1048576)
    assert resps[0].status == 405


def test_chunked_body_with_tiny_chunks_is_413_not_a_stall(server):
    """1-byte chunks cost 6 wire bytes per body byte: the read buffer fills before the body
    limit is reached; the answer is 413 at once, not a 408 ten seconds later."""
    data = b"POST /hello/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    data += b"1\r\nz\r\n" * 300000
    t = time.monotonic()
    with server.connect() as s:
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
        raw, closed = read_until_close(s)
    assert time.monotonic() - t < 5
    resps = parse_responses(raw)
    assert [r.status for r in resps] == [413] and resps[0].text() == BODY_TOO_LARGE


FRAMING_CASES = [
    ("CL+TE", b"POST /hello/ HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
              b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
    ("TE+CL", b"POST /hello/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
              b"Content-Length: 5\r\n\r\n0\r\n\r\n"),
    ("conflicting CL", b"POST /hello/ HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                       b"Content-Length: 6\r\n\r\nhello!"),
    ("CL list", b"POST /hello/ HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 5\r\n\r\nhello"),
    ("CL not a number", b"POST /hello/ HTTP/1.1\r\nHost: x\r\nContent-Length: five\r\n\r\n"),
    ("CL negative", b"POST /hello/ HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n"),
    ("TE gzip", b"POST /hello/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n"),
    ("TE gzip, chunked", b"POST /hello/ HTTP/1.1\r\nHost: x\r\n"
                         b"Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n"),
    ("TE twice", b"POST /hello/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                 b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
    ("TE in HTTP/1.0", b"POST /hello/ HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
    ("chunk data without CRLF", b"POST /hello/ HTTP/1.1\r\nHost: x\r\n"
                                b"Transfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n"),
    ("bad chunk size", b"POST /hello/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                       b"zz\r\n"),
    ("bare CR", b"GET /hello/ HTTP/1.1\r\nHost: x\rX-A: b\r\n\r\n"),
    ("bare LF", b"GET /hello/ HTTP/1.1\nHost: x\r\n\r\n"),
    ("bare LF at end", b"GET /hello/ HTTP/1.1\r\nHost: x\r\n\n"),
    ("obs-fold", b"GET /hello/ HTTP/1.1\r\nHost: x\r\nX-A: one\r\n two\r\n\r\n"),
    ("NUL in value", b"GET /hello/ HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n"),
    ("NUL in name", b"GET /hello/ HTTP/1.1\r\nHost: x\r\nX-\x00A: b\r\n\r\n"),
    ("CTL in value", b"GET /hello/ HTTP/1.1\r\nHost: x\r\nX-A: a\x1bb\r\n\r\n"),
    ("DEL in value", b"GET /hello/ HTTP/1.1\r\nHost: x\r\nX-A: a\x7fb\r\n\r\n"),
    ("space in name", b"GET /hello/ HTTP/1.1\r\nHost: x\r\nX A: b\r\n\r\n"),
    ("space before colon", b"GET /hello/ HTTP/1.1\r\nHost: x\r\nX-A : b\r\n\r\n"),
    ("empty name", b"GET /hello/ HTTP/1.1\r\nHost: x\r\n: b\r\n\r\n"),
    ("missing Host", b"GET /hello/ HTTP/1.1\r\n\r\n"),
    ("two Hosts", b"GET /hello/ HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n"),
    ("HTTP/2.0", b"GET /hello/ HTTP/2.0\r\nHost: x\r\n\r\n"),
    ("h2 preface", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"),
    ("double space", b"GET  /hello/ HTTP/1.1\r\nHost: x\r\n\r\n"),
    ("space in target", b"GET /hel lo/ HTTP/1.1\r\nHost: x\r\n\r\n"),
    ("bad method", b"G@T /hello/ HTTP/1.1\r\nHost: x\r\n\r\n"),
    ("bad version", b"GET /hello/ HTTP/1.x\r\nHost: x\r\n\r\n"),
    ("leading space", b" GET /hello/ HTTP/1.1\r\nHost: x\r\n\r\n"),
    ("unknown expectation", b"POST /hello/ HTTP/1.1\r\nHost: x\r\nExpect: magic\r\n"
                            b"Content-Length: 1\r\n\r\nx"),
    ("binary garbage", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"),
]


def test_framing_and_syntax_errors_are_400_and_close(server):
    for name, data in FRAMING_CASES:
        try:
            assert_refused(server, data, 400, BAD_REQUEST)
        except AssertionError as e:
            raise AssertionError("%s: %s" % (name, e)) from e
    # A bad request after good pipelined ones: the good ones are answered first.
    resps, closed = exchange(server, get("/hello/") + get("/test/") + FRAMING_CASES[0][1])
    assert closed and [r.status for r in resps] == [200, 200, 400]


def test_allowed_hosts(server_factory):
    server = server_factory(args=["--allowed-hosts", "example.com,[::1],127.0.0.1"])
    for host, status in (("example.com", 200), ("EXAMPLE.com:8000", 200), ("[::1]:80", 200),
                         ("evil.example", 400), ("example.com.evil", 400), ("", 400)):
        resps, _ = exchange(server, get("/hello/", host=host, extra="Connection: close\r\n"))
        assert resps[0].status == status, host
        if status == 400:
            assert resps[0].text() == BAD_REQUEST


# ---- deadlines ----

def test_head_and_body_deadlines_and_slowloris(server_factory):
    """The head deadline runs 10 s from the first byte and is never extended by trickling; the
    body deadline is 10 s of silence. Meanwhile other clients on the same loop are served."""
    server = server_factory(args=["--workers", "1"])
    t0 = time.monotonic()
    partial_head = server.connect()
    partial_head.sendall(b"GET /hello/ HTTP/1.1\r\nHost: x\r\n")
    partial_body = server.connect()
    partial_body.sendall(b"POST /hello/ HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nhello")
    trickle = server.connect()
    trickle.sendall(b"GET /hello/ HTTP/1.1\r\n")
    stop = threading.Event()
    trickle_error = []

    def trickler():
        i = 0
        while not stop.wait(0.5):
            try:
                trickle.sendall(b"X-%d: y\r\n" % i)
            except OSError as e:
                trickle_error.append(e)
                return
            i += 1

    th = threading.Thread(target=trickler)
    th.start()
    try:
        # Other clients are served while the three hang.
        for _ in range(5):
            t = time.monotonic()
            assert requests.get(server.url + "/hello/", timeout=2).content == HELLO
            assert time.monotonic() - t < 0.5
            time.sleep(1)
        for sock, name in ((partial_head, "head"), (trickle, "trickle")):
            raw, closed = read_until_close(sock, timeout=15)
            elapsed = time.monotonic() - t0
            resps = parse_responses(raw)
            assert [r.status for r in resps] == [408], name
            assert resps[0].text() == TIMEOUT
            assert closed, name
            assert 9.0 <= elapsed < 13, (name, elapsed)
        raw, closed = read_until_close(partial_body, timeout=15)
        resps = parse_responses(raw)
        assert [r.status for r in resps] == [408] and closed
    finally:
        stop.set()
        th.join()
        for s in (partial_head, partial_body, trickle):
            s.close()


def test_idle_keep_alive_is_not_a_408(server):
    with server.connect() as s:
        s.sendall(get("/hello/"))
        read_responses(s, 1)
        s.sendall(b"\r\n")  # an empty line between requests is allowed (RFC 9112 §2.2)
        s.sendall(get("/test/", extra="Connection: close\r\n"))
        raw, closed = read_until_close(s)
    assert [r.body for r in parse_responses(raw)] == [HELLO]


# ---- connection cap ----

def test_connection_cap_503(server_factory):
    server = server_factory(args=["--max-connections", "5", "--workers", "1"])
    time.sleep(0.2)  # let the readiness probes' connections close
    held = []
    try:
        for _ in range(5):
            s = server.connect()
            s.sendall(get("/hello/"))
            read_responses(s, 1)
            held.append(s)
        resps, closed = exchange(server, get("/hello/"))
        assert closed
        assert [r.status for r in resps] == [503]
        assert resps[0].text() == BUSY
        assert resps[0].header("Content-Type") == "application/json"
        assert resps[0].header("Connection") == "close"
        # One leaves, one more gets in.
        held.pop().close()
        time.sleep(0.3)
        resps, _ = exchange(server, get("/hello/", extra="Connection: close\r\n"))
        assert [r.status for r in resps] == [200]
    finally:
        for s in held:
            s.close()


# ---- operations endpoints ----

def test_healthz_and_readyz(server):
    for path in ("/healthz", "/readyz"):
        r = requests.get(server.url + path)
        assert r.status_code == 200
        assert r.content == b'{"status":"ok"}'
        assert r.headers["Content-Type"] == "application/json"


def metric(text, name, **labels):
    want = ",".join('%s="%s"' % kv for kv in labels.items())
    line = "%s{%s} " % (name, want) if labels else name + " "
    for row in text.splitlines():
        if row.startswith(line):
            return float(row[len(line):])
    return None


def test_metrics(server):
    for _ in range(3):
        requests.get(server.url + "/hello/")
    requests.put(server.url + "/hello/")
    requests.get(server.url + "/api/nope/")
    requests.get(server.url + "/topic/3/")
    requests.get(server.url + "/slow/?ms=30")
    r = requests.get(server.url + "/metrics")
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    text = r.text
    assert "# TYPE hiroba_http_requests_total counter" in text
    assert "# TYPE hiroba_http_request_duration_seconds histogram" in text
    assert "# TYPE hiroba_http_connections_open gauge" in text
    total = "hiroba_http_requests_total"
    assert metric(text, total, route="/hello/", method="GET", status="200") == 3
    assert metric(text, total, route="/hello/", method="PUT", status="405") == 1
    assert metric(text, total, route="unmatched", method="GET", status="404") == 1
    assert metric(text, total, route="spa", method="GET", status="200") == 1
    assert metric(text, total, route="/slow/", method="GET", status="200") == 1
    hist = "hiroba_http_request_duration_seconds"
    assert metric(text, hist + "_count", route="/hello/") == 4
    assert metric(text, hist + "_bucket", route="/hello/", le="+Inf") == 4
    assert metric(text, hist + "_bucket", route="/slow/", le="0.025") == 0
    assert metric(text, hist + "_bucket", route="/slow/", le="0.05") == 1
    assert 0.03 <= metric(text, hist + "_sum", route="/slow/") < 1
    buckets = [row for row in text.splitlines() if row.startswith(hist + '_bucket{route="/hello/"')]
    les = [re.search(r'le="([^"]+)"', row).group(1) for row in buckets]
    assert les == ["0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1",
                   "2.5", "5", "10", "+Inf"]
    assert metric(text, "hiroba_http_connections_open") >= 1
    # Raw paths never become labels.
    assert "/topic/3/" not in text and "/api/nope/" not in text


def test_access_log_line(server):
    requests.get(server.url + "/hello/?secret=1")
    time.sleep(0.1)
    lines = [json.loads(line) for line in server.read_log().splitlines() if line.startswith("{")]
    reqs = [l for l in lines if l.get("msg") == "request" and l.get("path") == "/hello/"]
    assert reqs, lines
    line = reqs[-1]
    assert line["method"] == "GET" and line["status"] == 200 and line["bytes"] == 27
    assert "duration_ms" in line and "request_id" in line and line["peer"] == "127.0.0.1"


# ---- graceful shutdown ----

def test_graceful_shutdown_finishes_in_flight_requests(server):
    result = {}

    def slow():
        try:
            r = requests.get(server.url + "/slow/?ms=1500", timeout=10)
            result["status"], result["body"] = r.status_code, r.content
            result["connection"] = r.headers.get("Connection")
        except requests.RequestException as e:
            result["error"] = e

    idle = server.connect()  # an idle keep-alive connection is closed at once
    th = threading.Thread(target=slow)
    th.start()
    time.sleep(0.4)
    t = time.monotonic()
    code = server.stop()
    th.join()
    assert code == 0
    assert result.get("status") == 200, result
    assert result["body"] == b'{"message":"Hello, World!","slept_ms":1500}'
    assert result["connection"] == "close"
    assert time.monotonic() - t < 5
    raw, closed = read_until_close(idle, timeout=2)
    assert closed and raw == b""
    idle.close()


def test_shutdown_with_sigint(server):
    requests.get(server.url + "/hello/")
    assert server.stop(sig=signal.SIGINT) == 0


# ---- CORS (API.md §2.10) ----

ALLOW_HEADERS = ("accept, accept-encoding, authorization, content-type, dnt, origin, user-agent, "
                 "x-csrftoken, x-requested-with")


def test_cors(server_factory):
    server = server_factory(args=["--cors-origins", "http://a.example, http://b.example:8080"])
    pre = {"Origin": "http://a.example", "Access-Control-Request-Method": "PUT"}
    for path in ("/hello/", "/api/anything/", "/topic/1/"):
        r = requests.options(server.url + path, headers=pre)
        assert r.status_code == 200, path
        assert r.content == b""
        assert r.headers["Content-Type"] == "text/html; charset=utf-8"
        assert r.headers["Access-Control-Allow-Origin"] == "http://a.example"
        assert r.headers["Access-Control-Allow-Methods"] == "DELETE, GET, OPTIONS, PATCH, POST, PUT"
        assert r.headers["Access-Control-Allow-Headers"] == ALLOW_HEADERS
        assert r.headers["Access-Control-Max-Age"] == "86400"
        assert r.headers["Vary"] == "Origin"
        assert "Access-Control-Allow-Credentials" not in r.headers
    # A disallowed origin gets the bare 200.
    for origin in ("http://c.example", "http://a.example:80", "https://a.example", "null"):
        r = requests.options(server.url + "/hello/",
                             headers={"Origin": origin, "Access-Control-Request-Method": "GET"})
        assert r.status_code == 200 and r.content == b""
        assert r.headers["Content-Type"] == "text/html; charset=utf-8"
        for h in ("Access-Control-Allow-Origin", "Access-Control-Allow-Methods",
                  "Access-Control-Allow-Headers", "Access-Control-Max-Age"):
            assert h not in r.headers, (origin, h)
        assert r.headers["Vary"] == "Origin"
    # Normal responses: ACAO for allowed origins, 301/404/405 included; Vary whenever Origin.
    for path, status in (("/hello/", 200), ("/hello", 301), ("/api/x/", 404)):
        r = requests.get(server.url + path, headers={"Origin": "http://b.example:8080"},
                         allow_redirects=False)
        assert r.status_code == status
        assert r.headers["Access-Control-Allow-Origin"] == "http://b.example:8080"
        assert r.headers["Vary"] == "Origin"
        assert "Access-Control-Allow-Methods" not in r.headers
    r = requests.put(server.url + "/hello/", headers={"Origin": "http://a.example"})
    assert r.status_code == 405 and r.headers["Access-Control-Allow-Origin"] == "http://a.example"
    r = requests.get(server.url + "/hello/", headers={"Origin": "http://evil.example"})
    assert "Access-Control-Allow-Origin" not in r.headers and r.headers["Vary"] == "Origin"
    r = requests.get(server.url + "/hello/")
    assert "Access-Control-Allow-Origin" not in r.headers and "Vary" not in r.headers
    # OPTIONS without Access-Control-Request-Method is not a preflight: route metadata.
    r = requests.options(server.url + "/hello/", headers={"Origin": "http://a.example"})
    assert r.json()["renders"] == ["application/json"]
    assert r.headers["Access-Control-Allow-Origin"] == "http://a.example"


def test_cors_wildcard_and_default_none(server_factory):
    star = server_factory(args=["--cors-origins", "*"])
    r = requests.get(star.url + "/hello/", headers={"Origin": "http://anything.example"})
    assert r.headers["Access-Control-Allow-Origin"] == "*"
    r = requests.options(star.url + "/hello/", headers={"Origin": "http://x.example",
                                                        "Access-Control-Request-Method": "GET"})
    assert r.headers["Access-Control-Allow-Origin"] == "*"
    assert r.headers["Access-Control-Max-Age"] == "86400"
    none = server_factory()
    r = requests.options(none.url + "/hello/", headers={"Origin": "http://a.example",
                                                        "Access-Control-Request-Method": "GET"})
    assert r.status_code == 200 and "Access-Control-Allow-Origin" not in r.headers
