# SPDX-License-Identifier: MIT
"""SPA serving end to end (API.md §7.8): files from the server's static directory with their
content types, validators and 304, cache lifetimes, precompressed .gz variants, the index.html
fallback for client routes, the placeholder page, and no way out of the root (dot segments raw
and encoded, encoded slashes, NUL, backslashes, hidden files, symlinks)."""
import gzip
import os
import time

import requests

from test_http import (NOT_FOUND, SECURITY_HEADERS, exchange, get, parse_responses,
                       read_until_close)

INDEX = b"<!doctype html><html><head><title>app</title></head><body>app</body></html>\n"
JS = b"console.log('hiroba');\n" * 50
CSS = b"body { color: #333; }\n"


def write(server, rel, data, mtime=None):
    path = os.path.join(server.tmpdir, "static", rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


def populate(server):
    write(server, "index.html", INDEX, mtime=1700000000)
    write(server, "assets/index-AbCdEf12.js", JS, mtime=1700000000)
    write(server, "assets/index-AbCdEf12.js.gz", gzip.compress(JS), mtime=1700000000)
    write(server, "assets/app.css", CSS)
    write(server, "favicon.svg", b"<svg xmlns='http://www.w3.org/2000/svg'/>")
    write(server, "manifest.webmanifest", b"{}")
    write(server, "data.json", b'{"a":1}')
    write(server, ".env", b"SECRET=do-not-serve")
    write(server, ".git/config", b"[core] secret")


def test_files_content_types_and_headers(server):
    populate(server)
    cases = [
        ("/assets/index-AbCdEf12.js", "text/javascript; charset=utf-8", JS,
         "public, max-age=31536000, immutable"),
        ("/assets/app.css", "text/css; charset=utf-8", CSS, "public, max-age=3600"),
        ("/favicon.svg", "image/svg+xml", None, "public, max-age=3600"),
        ("/manifest.webmanifest", "application/manifest+json", b"{}", "public, max-age=3600"),
        ("/data.json", "application/json", b'{"a":1}', "public, max-age=3600"),
        ("/index.html", "text/html; charset=utf-8", INDEX, "no-cache"),
        ("/", "text/html; charset=utf-8", INDEX, "no-cache"),
    ]
    for path, ctype, body, cache in cases:
        r = requests.get(server.url + path, headers={"Accept-Encoding": "identity"})
        assert r.status_code == 200, path
        assert r.headers["Content-Type"] == ctype, path
        assert r.headers["Cache-Control"] == cache, path
        if body is not None:
            assert r.content == body, path
        assert r.headers["ETag"].startswith('"')
        assert r.headers["Last-Modified"].endswith(" GMT")
        assert "default-src 'self'" in r.headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]
        for name, value in SECURITY_HEADERS.items():
            assert r.headers[name] == value
        assert "Allow" not in r.headers
    r = requests.head(server.url + "/assets/app.css")
    assert r.status_code == 200 and r.content == b""
    assert r.headers["Content-Length"] == str(len(CSS))


def test_etag_and_last_modified_give_304(server):
    populate(server)
    url = server.url + "/assets/app.css"
    r = requests.get(url)
    etag, lm = r.headers["ETag"], r.headers["Last-Modified"]
    for inm in (etag, "W/" + etag, '"nope", ' + etag, "*"):
        r = requests.get(url, headers={"If-None-Match": inm})
        assert r.status_code == 304, inm
        assert r.content == b""
        assert r.headers["ETag"] == etag
        assert "Content-Length" not in r.headers and "Content-Type" not in r.headers
    assert requests.get(url, headers={"If-None-Match": '"nope"'}).status_code == 200
    assert requests.get(url, headers={"If-Modified-Since": lm}).status_code == 304
    r = requests.get(url, headers={"If-Modified-Since": "Sun, 06 Nov 1994 08:49:37 GMT"})
    assert r.status_code == 200 and r.content == CSS
    assert requests.get(url, headers={"If-Modified-Since": "garbage"}).status_code == 200
    # If-None-Match takes precedence over If-Modified-Since.
    r = requests.get(url, headers={"If-None-Match": '"nope"', "If-Modified-Since": lm})
    assert r.status_code == 200
    # A changed file gets a new tag.
    time.sleep(0.01)
    write(server, "assets/app.css", CSS + b"/* v2 */")
    r = requests.get(url, headers={"If-None-Match": etag})
    assert r.status_code == 200 and r.headers["ETag"] != etag
    # index.html revalidates too (no-cache means "ask", not "do not store").
    r = requests.get(server.url + "/topic/3/")
    r2 = requests.get(server.url + "/topic/3/", headers={"If-None-Match": r.headers["ETag"]})
    assert r2.status_code == 304


def test_precompressed_gzip(server):
    populate(server)
    url = server.url + "/assets/index-AbCdEf12.js"
    r = requests.get(url, headers={"Accept-Encoding": "gzip, deflate, br"}, stream=True)
    raw = r.raw.read(decode_content=False)
    assert r.headers["Content-Encoding"] == "gzip"
    assert r.headers["Content-Type"] == "text/javascript; charset=utf-8"
    assert r.headers["Vary"] == "Accept-Encoding"
    assert gzip.decompress(raw) == JS
    assert int(r.headers["Content-Length"]) == len(raw) < len(JS)
    gz_etag = r.headers["ETag"]
    for ae in ("identity", "gzip;q=0", "br", ""):
        r = requests.get(url, headers={"Accept-Encoding": ae})
        assert "Content-Encoding" not in r.headers, ae
        assert r.content == JS
        assert r.headers["ETag"] != gz_etag
    # No .gz sibling: identity even when gzip is accepted.
    r = requests.get(server.url + "/assets/app.css", headers={"Accept-Encoding": "gzip"})
    assert "Content-Encoding" not in r.headers and r.content == CSS


def test_client_routes_fall_back_to_index(server):
    populate(server)
    for path in ("/topic/3/", "/topic/edit/3/", "/rooms/1", "/assets/", "/missing.js",
                 "/login?next=/x", "/%E3%81%82/"):
        r = requests.get(server.url + path)
        assert r.status_code == 200, path
        assert r.content == INDEX, path
        assert r.headers["Content-Type"] == "text/html; charset=utf-8"
        assert r.headers["Cache-Control"] == "no-cache"


def test_placeholder_without_index(server):
    for path in ("/", "/topic/3/"):
        r = requests.get(server.url + path)
        assert r.status_code == 200
        assert r.headers["Content-Type"] == "text/html; charset=utf-8"
        assert "hiroba" in r.text
        assert "Content-Security-Policy" in r.headers


def test_other_methods_on_spa_paths_are_json_404(server):
    populate(server)
    for method in ("POST", "PUT", "PATCH", "DELETE", "OPTIONS"):
        r = requests.request(method, server.url + "/topic/3/", data=b"{}")
        assert r.status_code == 404, method
        assert r.content.decode() == NOT_FOUND
        assert r.headers["Content-Type"] == "application/json"
    r = requests.post(server.url + "/index.html")
    assert r.status_code == 404


def test_traversal_never_leaks(server):
    populate(server)
    static = os.path.join(server.tmpdir, "static")
    os.symlink("/etc", os.path.join(static, "etc"))
    os.symlink("/etc/passwd", os.path.join(static, "passwd"))
    os.symlink("/etc/hostname", os.path.join(static, "host.txt"))
    write(server, "../outside.txt", b"OUTSIDE-SECRET")  # beside the static dir
    os.symlink("../outside.txt", os.path.join(static, "out.txt"))
    os.symlink("app.css", os.path.join(static, "assets", "alias.css"))  # stays inside: fine
    attempts = [
        "/../etc/passwd", "/../../../../etc/passwd", "/assets/../../outside.txt",
        "/%2e%2e/%2e%2e/etc/passwd", "/%2E%2E/outside.txt", "/.%2e/outside.txt",
        "/%2F..%2F..%2Fetc%2Fpasswd", "/assets%2F..%2F..%2Foutside.txt", "/%2f%2e%2e%2foutside.txt",
        "/..%5C..%5Cetc%5Cpasswd", "/..\\..\\etc\\passwd", "/index.html%00.js", "/%00",
        "/etc/passwd", "/passwd", "/host.txt", "/out.txt", "/.env", "/.git/config", "/%2eenv",
        "//etc/passwd", "/./.env", "/assets/./../.env",
    ]
    for path in attempts:
        for method in ("GET", "HEAD"):
            data = ("%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % (method, path))
            with server.connect() as s:
                s.sendall(data.encode("latin-1"))
                raw, closed = read_until_close(s)
            assert b"root:" not in raw, path
            assert b"OUTSIDE-SECRET" not in raw, path
            assert b"do-not-serve" not in raw and b"[core]" not in raw, path
            resps = parse_responses(raw, head_responses=(0,) if method == "HEAD" else ())
            assert resps[0].status in (200, 400), (path, resps[0])
            if resps[0].status == 200 and method == "GET":
                assert resps[0].body == INDEX, path
    r = requests.get(server.url + "/assets/alias.css")
    assert r.content == CSS


def test_pipelined_large_files_arrive_intact(server):
    """Many pipelined requests for a large file: the output passes the high-water mark, reading
    pauses, and every response still arrives whole and in order."""
    big = bytes(range(256)) * 1024  # 256 KiB
    write(server, "assets/big-AbCdEf12.bin", big)
    n = 60
    data = b"".join(get("/assets/big-AbCdEf12.bin" + ("?n=%d" % i)) for i in range(n - 1))
    data += get("/hello/", extra="Connection: close\r\n")
    with server.connect() as s:
        s.sendall(data)
        time.sleep(0.5)  # let the server fill its output before we read
        raw, closed = read_until_close(s, timeout=20)
    assert closed
    resps = parse_responses(raw)
    assert len(resps) == n
    for r in resps[:-1]:
        assert r.status == 200 and r.body == big
    assert resps[-1].body == b'{"message":"Hello, World!"}'


def test_static_metrics_label_is_spa(server):
    populate(server)
    requests.get(server.url + "/assets/app.css")
    requests.get(server.url + "/topic/9/")
    text = requests.get(server.url + "/metrics").text
    assert 'hiroba_http_requests_total{route="spa",method="GET",status="200"} 2' in text
    assert "/assets/app.css" not in text
