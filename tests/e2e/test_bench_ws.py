# SPDX-License-Identifier: MIT
"""`hiroba bench ws`, the WebSocket chat load generator, against the real server: every message
reaches every socket of its room (zero drops, delivered == expected == sent x room size), the
latency fields, the rooms it creates (and reuses on a second run), idle sockets with --rate 0,
and the one-line errors and exit codes for refused connections, a server that is not hiroba,
bad usage and non-loopback targets; --loops (sockets shared over threads, counts merged) and
--server-pid; and a smoke run against the Django Channels peer of bench/ws.sh. HIROBA_BENCH_BIN
may name another binary (default: the server's)."""
import json
import os
import socket
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests

from conftest import BIN, ROOT, free_port

BENCH = os.environ.get("HIROBA_BENCH_BIN", BIN)

def bench_ws(args, timeout=120):
    return subprocess.run([BENCH, "bench", "ws"] + list(args), capture_output=True, text=True,
                          timeout=timeout)


def error_lines(r):
    return [l for l in r.stderr.splitlines() if l.strip()]


def login(server, username="bench", password="bench-password-0123"):
    r = requests.post(server.url + "/api/token/", json={"username": username, "password": password},
                      timeout=10)
    assert r.status_code == 200, r.text
    return {"Authorization": "Bearer " + r.json()["access"]}


def test_every_message_reaches_every_room_member(server):
    r = bench_ws(["-c", "10", "--rooms", "2", "--rate", "20", "--duration", "2s", "--json",
                  server.url])
    assert r.returncode == 0, r.stderr
    rep = json.loads(r.stdout)
    assert rep["mode"] == "ws"
    assert rep["connections"] == 10 and rep["rooms"] == 2 and rep["connected"] == 10
    # 10 sockets x 20/s x 2 s, each delivered to the 5 sockets of its room (sender included).
    assert 350 <= rep["sent"] <= 400, rep
    assert rep["expected"] == rep["sent"] * 5, rep
    assert rep["delivered"] == rep["expected"], rep
    assert rep["drops"] == 0 and rep["errors"] == 0 and rep["foreign"] == 0, rep
    assert rep["delivered_per_s"] > 0
    lat = rep["latency_ns"]
    for key in ("min", "mean", "p50", "p90", "p99", "p99_9", "max"):
        assert key in lat, lat
    assert 0 < lat["min"] <= lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["p99_9"] <= lat["max"]
    assert lat["max"] < 10 * 10**9

    # The rooms exist under their names, and the history holds exactly what was sent.
    headers = login(server)
    rooms = {x["name"]: x["id"] for x in
             requests.get(server.url + "/api/rooms/", headers=headers, timeout=10).json()}
    assert "bench-1" in rooms and "bench-2" in rooms
    logs = []
    for name in ("bench-1", "bench-2"):
        logs += requests.get(server.url + "/api/rooms/%d/chatlogs/" % rooms[name],
                             headers=headers, timeout=10).json()
    assert len(logs) == rep["sent"]
    assert all(len(x["message"].split(":")) == 3 for x in logs)


def test_second_run_reuses_user_and_rooms(server):
    for _ in range(2):
        r = bench_ws(["-c", "4", "--rooms", "2", "--rate", "10", "--duration", "500ms", "--json",
                      server.url])
        assert r.returncode == 0, r.stderr
        rep = json.loads(r.stdout)
        assert rep["drops"] == 0 and rep["delivered"] == rep["expected"] > 0, rep
    headers = login(server)
    names = [x["name"] for x in
             requests.get(server.url + "/api/rooms/", headers=headers, timeout=10).json()]
    assert sorted(names) == ["bench-1", "bench-2"]


def test_text_report_and_idle_sockets(server):
    r = bench_ws(["-c", "20", "--rate", "0", "--duration", "300ms", server.url])
    assert r.returncode == 0, r.stderr
    for word in ("sockets", "sent", "delivered", "latency", "drops", "errors"):
        assert word in r.stdout, r.stdout
    assert "20 open" in r.stdout


def test_refused_connection():
    port = free_port()
    r = bench_ws(["http://127.0.0.1:%d" % port], timeout=30)
    assert r.returncode == 1
    lines = error_lines(r)
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("hiroba bench ws: ")
    assert "connection refused" in lines[0]


def test_server_that_is_not_hiroba():
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            # Read the body first: closing with unread input would reset the connection and
            # could destroy the 404 before the client reads it.
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    try:
        r = bench_ws(["http://127.0.0.1:%d" % httpd.server_address[1]], timeout=30)
    finally:
        httpd.shutdown()
    assert r.returncode == 1
    lines = error_lines(r)
    assert len(lines) == 1 and "HTTP 404" in lines[0], r.stderr


def test_wrong_password(server):
    requests.post(server.url + "/api/register/", json={
        "username": "taken", "password": "right-password-0123",
        "password_confirm": "right-password-0123"}, timeout=10)
    r = bench_ws(["--username", "taken", "--password", "wrong-password-0123", server.url])
    assert r.returncode == 1
    lines = error_lines(r)
    assert len(lines) == 1 and "login" in lines[0], r.stderr


def test_bad_usage():
    for args in ([], ["-c", "0", "http://127.0.0.1:1"], ["--rate", "x", "http://127.0.0.1:1"],
                 ["--rooms", "3", "-c", "2", "http://127.0.0.1:1"], ["--bogus", "http://x"],
                 ["ftp://127.0.0.1/"], ["http://127.0.0.1:1", "ftp://127.0.0.1:2"]):
        r = bench_ws(args, timeout=30)
        assert r.returncode == 2, (args, r.stderr)
        if args:
            assert len(error_lines(r)) == 1, (args, r.stderr)


def test_non_loopback_refused():
    r = bench_ws(["http://192.0.2.1:8000"], timeout=30)
    assert r.returncode == 2
    lines = error_lines(r)
    assert len(lines) == 1 and "non-loopback" in lines[0], r.stderr


def test_help():
    r = bench_ws(["--help"])
    assert r.returncode == 0
    for flag in ("--connections", "--rooms", "--rate", "--duration", "--json", "--username",
                 "--password", "--allow-remote"):
        assert flag in r.stdout


def test_loops_share_the_sockets_and_merge_the_counts(server):
    # 2 loops, 12 sockets over 3 rooms: each room has sockets on both loops, so deliveries cross
    # loops and the drain must wait for the other loop's counts.
    r = bench_ws(["-c", "12", "--rooms", "3", "--loops", "2", "--rate", "10", "--duration", "1s",
                  "--server-pid", str(server.proc.pid), "--json", server.url])
    assert r.returncode == 0, r.stderr
    rep = json.loads(r.stdout)
    assert rep["loops"] == 2 and rep["connected"] == 12, rep
    # 12 sockets x 10/s x 1 s, each delivered to the 4 sockets of its room.
    assert 100 <= rep["sent"] <= 120, rep
    assert rep["expected"] == rep["sent"] * 4, rep
    assert rep["delivered"] == rep["expected"], rep
    assert rep["drops"] == 0 and rep["errors"] == 0 and rep["foreign"] == 0, rep
    assert 0 < rep["last_delivery_s"] < rep["duration_s"] + 1, rep
    assert rep["server"]["cpu_s"] >= 0 and rep["server"]["window_s"] >= rep["duration_s"], rep
    headers = login(server)
    rooms = {x["name"]: x["id"] for x in
             requests.get(server.url + "/api/rooms/", headers=headers, timeout=10).json()}
    logs = []
    for name in ("bench-1", "bench-2", "bench-3"):
        logs += requests.get(server.url + "/api/rooms/%d/chatlogs/" % rooms[name],
                             headers=headers, timeout=10).json()
    assert len(logs) == rep["sent"]
    # Every sender index appears: both loops sent.
    assert {int(x["message"].split(":")[0]) for x in logs} == set(range(12))


def test_loops_usage():
    for args in (["--loops", "0", "http://127.0.0.1:1"], ["--loops", "65", "http://127.0.0.1:1"],
                 ["-c", "2", "--loops", "3", "http://127.0.0.1:1"],
                 ["--server-pid", "x", "http://127.0.0.1:1"]):
        r = bench_ws(args, timeout=30)
        assert r.returncode == 2, (args, r.stderr)
        assert len(error_lines(r)) == 1, (args, r.stderr)


PEER = os.path.join(ROOT, "bench", "peer", "channels")
PY = "/usr/bin/python3"


def test_channels_peer_smoke(tmp_path):
    """The Django Channels peer of bench/ws.sh starts under daphne and `hiroba bench ws` gets
    every message back from it (so the peer cannot rot). The packages come from scripts/setup: a
    missing one fails here, loudly."""
    env = dict(os.environ, PEER_DB=str(tmp_path / "peer.sqlite3"), PYTHONDONTWRITEBYTECODE="1")
    subprocess.run([PY, "manage.py", "migrate", "--run-syncdb", "-v0"], cwd=PEER, env=env,
                   check=True, timeout=60)
    port = free_port()
    log = open(tmp_path / "daphne.log", "wb")
    proc = subprocess.Popen([PY, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "-v", "0",
                             "chanpeer.asgi:application"], cwd=PEER, env=env, stdout=log,
                            stderr=subprocess.STDOUT)
    url = "http://127.0.0.1:%d" % port
    try:
        deadline = time.time() + 20
        while True:
            assert proc.poll() is None, (tmp_path / "daphne.log").read_text()
            try:
                requests.get(url + "/api/rooms/", timeout=1)
                break
            except requests.RequestException:
                assert time.time() < deadline, "daphne did not answer"
                time.sleep(0.1)
        r = bench_ws(["-c", "6", "--rooms", "2", "--rate", "5", "--duration", "1s", "--json",
                      url], timeout=60)
        assert r.returncode == 0, r.stderr + (tmp_path / "daphne.log").read_text()
        rep = json.loads(r.stdout)
        assert rep["connected"] == 6 and rep["sent"] >= 25, rep
        assert rep["expected"] == rep["sent"] * 3, rep
        assert rep["delivered"] == rep["expected"] and rep["drops"] == 0, rep
        assert rep["foreign"] == 0 and rep["errors"] == 0, rep
        # Without a token the peer refuses the upgrade with 403, like the stack.
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.sendall(b"GET /ws/chat/1/ HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                  b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                  b"Sec-WebSocket-Version: 13\r\n\r\n")
        assert s.recv(100).startswith(b"HTTP/1.1 403"), "no 403 without a token"
        s.close()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


# ---- several URLs: the instances of one site (issue #8, bench/scale.sh) ----
import pytest  # noqa: E402  (appended section)

from services import PostgresCluster, RedisServer  # noqa: E402


@pytest.fixture
def pg_and_redis():
    """A throwaway PostgreSQL cluster and Redis server; requested before server_factory, so the
    servers stop before these do."""
    with PostgresCluster() as pg, RedisServer() as redis:
        yield pg, redis


def ws_upgrades(server):
    """The 101 answers on /ws/chat/ the server counted (its /metrics)."""
    text = requests.get(server.url + "/metrics", timeout=10).text
    for line in text.splitlines():
        if line.startswith('hiroba_http_requests_total{route="/ws/chat/{id}/",method="GET",'
                           'status="101"}'):
            return int(line.split()[-1])
    return 0


def test_two_instances_share_every_room(pg_and_redis, server_factory):
    """`bench ws URL_A URL_B`: two hiroba instances on one PostgreSQL database and one Redis;
    the members of each room alternate between A and B, so every delivery of a message sent on
    the other instance crossed Redis, and still every message reaches every member."""
    pg, redis = pg_and_redis
    url = pg.create_database("bench_ws_two")
    env = {"REDIS_URL": redis.url}
    a = server_factory(env=env, database=url)
    b = server_factory(env=env, database=url)
    r = bench_ws(["-c", "8", "--rooms", "2", "--rate", "10", "--duration", "1s", "--server-pid",
                  "%d,%d" % (a.proc.pid, b.proc.pid), "--json", a.url, b.url + "/"])
    assert r.returncode == 0, r.stderr + a.read_log() + b.read_log()
    rep = json.loads(r.stdout)
    assert rep["urls"] == [a.url, b.url + "/"] and rep["url"] == a.url, rep
    assert rep["connected"] == 8, rep
    # 8 sockets x 10/s x 1 s, each delivered to the 4 members of its room (2 on A, 2 on B).
    assert 70 <= rep["sent"] <= 80, rep
    assert rep["expected"] == rep["sent"] * 4, rep
    assert rep["delivered"] == rep["expected"], rep
    assert rep["drops"] == 0 and rep["errors"] == 0 and rep["foreign"] == 0, rep
    assert rep["server"]["cpu_s"] >= 0 and rep["server"]["window_s"] >= rep["duration_s"], rep
    # Half the sockets upgraded on each instance.
    assert ws_upgrades(a) == 4 and ws_upgrades(b) == 4
    # Stop them while the database and Redis are still up: a clean exit is part of the test.
    assert a.stop() == 0, a.read_log()
    assert b.stop() == 0, b.read_log()
