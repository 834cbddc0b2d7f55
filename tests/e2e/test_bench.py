# SPDX-License-Identifier: MIT
"""`hiroba bench`, the load generator, against the real server: exact request counts (checked on
the server's own /metrics too), the JSON report, the seed workload over three URLs, the time
order async < threads < serial on /slow/, the SVG chart, and the one-line errors and exit codes
for bad URLs, refused connections, timeouts, servers that hang up, and non-loopback targets.
HIROBA_BENCH_BIN may name another binary that has the bench command (default: the server's)."""
import json
import os
import re
import socket
import subprocess
import threading
import xml.etree.ElementTree as ET
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from conftest import BIN

BENCH = os.environ.get("HIROBA_BENCH_BIN", BIN)
SEED_PATHS = ("/hello/", "/test/", "/aaa/")


def bench(args, timeout=120):
    return subprocess.run([BENCH, "bench"] + list(args), capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture(scope="module", autouse=True)
def bench_command_exists():
    r = bench(["--help"], timeout=30)
    assert r.returncode == 0 and "usage: hiroba bench" in r.stdout, r.stderr


def bench_json(args):
    r = bench(["--json"] + list(args))
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def served_counts(server):
    """{(route, status): count} from the server's /metrics."""
    text = requests.get(server.url + "/metrics", timeout=5).text
    counts = {}
    for m in re.finditer(r'^hiroba_http_requests_total\{route="([^"]*)",method="GET",'
                         r'status="(\d+)"\} (\d+)$', text, re.M):
        counts[(m.group(1), int(m.group(2)))] = int(m.group(3))
    return counts


def delta(before, after, route):
    return after.get((route, 200), 0) - before.get((route, 200), 0)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def one_line_error(r):
    lines = [l for l in r.stderr.splitlines() if l.strip()]
    assert len(lines) >= 1, r.stderr
    assert all(l.startswith("hiroba bench") for l in lines), r.stderr
    return lines


def test_exact_counts_in_every_mode(server):
    before = served_counts(server)
    doc = bench_json(["--mode", "all", "-n", "37", "-t", "3", "-c", "5", server.url + "/hello/"])
    after = served_counts(server)
    assert [m["mode"] for m in doc["modes"]] == ["serial", "threads", "async"]
    for m in doc["modes"]:
        assert m["requests"] == 37, m
        assert m["errors"] == 0, m
        assert m["status"] == {"200": 37}
        assert m["bytes_read"] >= 37 * (27 + len("HTTP/1.1 200 OK\r\n\r\n"))
        assert 0 < m["latency_ms"]["min"] <= m["latency_ms"]["p50"] <= m["latency_ms"]["p99"]
        assert m["latency_ms"]["p99"] <= m["latency_ms"]["max"]
    assert doc["modes"][0]["speedup_vs_serial"] == pytest.approx(1.0)
    assert doc["modes"][1]["workers"] == 3
    assert doc["modes"][2]["connections"] == 5
    assert delta(before, after, "/hello/") == 3 * 37


def test_seed_workload_splits_evenly(server):
    """The seed experiment: 600 requests over /hello/, /test/, /aaa/, three ways."""
    before = served_counts(server)
    doc = bench_json(["--mode", "all", "-n", "600"] + [server.url + p for p in SEED_PATHS])
    after = served_counts(server)
    assert doc["requests_per_mode"] == 600
    assert doc["urls"] == [server.url + p for p in SEED_PATHS]
    for m in doc["modes"]:
        assert m["requests"] == 600 and m["errors"] == 0, m
    for p in SEED_PATHS:
        assert delta(before, after, p) == 3 * 200, p


def test_time_order_on_slow_endpoint(server):
    url = server.url + "/slow/?ms=50"
    doc = bench_json(["--mode", "all", "-n", "30", "-t", "5", "-c", "30", url])
    t = {m["mode"]: m["elapsed_s"] for m in doc["modes"]}
    assert all(m["requests"] == 30 and m["errors"] == 0 for m in doc["modes"])
    assert t["async"] < t["threads"] < t["serial"], t
    assert t["serial"] >= 30 * 0.050  # one at a time
    assert t["threads"] >= 6 * 0.050  # five at a time: six rounds
    assert t["async"] < 6 * 0.050  # all at once
    speedup = {m["mode"]: m["speedup_vs_serial"] for m in doc["modes"]}
    assert speedup["async"] > speedup["threads"] > 1.0


def test_text_report_without_tty(server):
    r = bench(["--mode", "serial,async", "-n", "20", server.url + "/hello/"])
    assert r.returncode == 0, r.stderr
    assert "\r" not in r.stdout and "\x1b" not in r.stdout  # no progress bar into a pipe
    for word in ("serial", "async", "latency", "p99.9", "status    200: 20", "speed-up"):
        assert word in r.stdout, r.stdout
    assert "threads" not in r.stdout


def test_duration_and_rate(server):
    doc = bench_json(["-d", "1s", "-R", "200", "-c", "4", server.url + "/hello/"])
    m = doc["modes"][0]
    assert doc["duration_s"] == pytest.approx(1.0)
    assert 0.95 <= m["elapsed_s"] < 2.0
    assert 160 <= m["requests"] <= 205, m
    assert m["errors"] == 0


def test_pipelined_async(server):
    doc = bench_json(["-n", "2000", "-c", "4", "-p", "8", server.url + "/hello/"])
    m = doc["modes"][0]
    assert m["requests"] == 2000 and m["errors"] == 0 and m["pipeline"] == 8


def test_svg_chart(server, tmp_path):
    path = tmp_path / "bench.svg"
    r = bench(["--mode", "all", "-n", "30", "--svg", str(path)]
              + [server.url + p for p in SEED_PATHS])
    assert r.returncode == 0, r.stderr
    root = ET.parse(path).getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    text = path.read_text()
    assert "<script" not in text and "href" not in text  # self-contained
    for mode in ("serial", "threads", "async"):
        assert ">%s<" % mode in text
    assert text.count("<polyline") == 3


def test_json_post_with_headers(tmp_path):
    """Method, headers and body reach the server (an independent one: http.server)."""
    seen = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            seen.append((self.command, self.path, dict(self.headers), body))
            out = b'{"ok":true}'
            self.send_response(201)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

        do_PUT = do_POST

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    try:
        url = "http://127.0.0.1:%d/api/topics/" % httpd.server_address[1]
        body_file = tmp_path / "body.json"
        body_file.write_text('{"title": "hi"}')
        doc = bench_json(["--mode", "serial", "-n", "5", "-H", "Authorization: Bearer tok.en",
                          "--body-file", str(body_file), url])
        assert doc["method"] == "POST"
        assert doc["modes"][0]["status"] == {"201": 5}
        doc = bench_json(["--mode", "async", "-n", "3", "-X", "PUT", "--body", "hello",
                          "-H", "X-Test: 1", url])
        assert doc["method"] == "PUT"
        assert doc["modes"][0]["status"] == {"201": 3}
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert len(seen) == 8
    for method, path, headers, body in seen[:5]:
        assert method == "POST" and path == "/api/topics/"
        assert headers["Authorization"] == "Bearer tok.en"
        assert headers["Content-Type"] == "application/json"
        assert body == b'{"title": "hi"}'
    for method, path, headers, body in seen[5:]:
        assert method == "PUT" and headers["X-Test"] == "1" and body == b"hello"
        assert headers["Content-Type"] == "application/octet-stream"


@pytest.mark.parametrize("url,why", [
    ("ftp://127.0.0.1/", "only http://"),
    ("https://127.0.0.1/", "only http://"),
    ("127.0.0.1:8000/hello/", "expected http://"),
    ("http://127.0.0.1:99999/", "bad port"),
    ("http://[::1/", "'['"),
])
def test_bad_url_is_usage_error(url, why):
    r = bench([url])
    assert r.returncode == 2
    lines = one_line_error(r)
    assert len(lines) == 1 and "bad URL" in lines[0] and why in lines[0], r.stderr
    assert r.stdout == ""


def test_bad_usage():
    assert bench([]).returncode == 2
    for args in (["--mode", "fast", "http://127.0.0.1/"], ["-n", "0", "http://127.0.0.1/"],
                 ["-n", "5", "-d", "1s", "http://127.0.0.1/"], ["--frob", "http://127.0.0.1/"],
                 ["-R", "100", "-p", "4", "http://127.0.0.1/"],
                 ["-H", "no colon", "http://127.0.0.1/"],
                 ["http://127.0.0.1:1/", "http://127.0.0.1:2/"]):
        r = bench(args)
        assert r.returncode == 2, (args, r.stderr)
        assert len(one_line_error(r)) == 1, r.stderr


def test_help():
    r = bench(["--help"])
    assert r.returncode == 0
    for flag in ("--mode", "--requests", "--duration", "--rate", "--connections", "--pipeline",
                 "--header", "--body-file", "--json", "--svg", "--allow-remote"):
        assert flag in r.stdout


def test_refused_connection():
    port = free_port()
    r = bench(["-n", "5", "http://127.0.0.1:%d/" % port], timeout=30)
    assert r.returncode == 1
    lines = one_line_error(r)
    assert len(lines) == 1
    assert "connect to 127.0.0.1:%d: connection refused" % port in lines[0]


def test_non_loopback_refused(server):
    port = server.port
    for host in ("192.0.2.1", "10.1.2.3", "example.com", "0.0.0.0", "[2001:db8::1]"):
        r = bench(["-n", "1", "http://%s:%d/hello/" % (host, port)])
        assert r.returncode == 2, r.stderr
        lines = one_line_error(r)
        assert len(lines) == 1 and "non-loopback" in lines[0] and "--allow-remote" in lines[0]
    # 0.0.0.0 reaches this machine on Linux, so --allow-remote can be shown working locally.
    doc = bench_json(["--allow-remote", "-n", "3", "http://0.0.0.0:%d/hello/" % port])
    assert doc["modes"][0]["requests"] == 3


def test_loopback_names(server):
    doc = bench_json(["-n", "3", "http://localhost:%d/hello/" % server.port])
    assert doc["modes"][0]["requests"] == 3


def test_timeout(server):
    r = bench(["--mode", "all", "-n", "2", "--timeout", "200ms", server.url + "/slow/?ms=2000"])
    assert r.returncode == 1
    lines = one_line_error(r)
    assert len(lines) == 3, r.stderr  # one per mode
    for mode, line in zip(("serial", "threads", "async"), lines):
        assert line.startswith("hiroba bench: %s: 2 timeout errors: no response from" % mode)
        assert "within 200 ms" in line


def test_server_that_closes_early():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    stop = threading.Event()

    def hang_up():
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            try:
                conn.recv(4096)
            except OSError:
                pass
            conn.close()

    t = threading.Thread(target=hang_up, daemon=True)
    t.start()
    try:
        r = bench(["--mode", "serial", "-n", "3",
                   "http://127.0.0.1:%d/" % listener.getsockname()[1]], timeout=30)
    finally:
        stop.set()
        listener.close()
    assert r.returncode == 1
    lines = one_line_error(r)
    assert any("closed the connection before responding" in l for l in lines), r.stderr
