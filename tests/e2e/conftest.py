# SPDX-License-Identifier: MIT
"""Fixtures for the end-to-end tests: each starts the real hiroba binary on an ephemeral loopback
port with a temporary database and drives it with independent clients (requests, websockets, raw
sockets). HIROBA_BIN names the binary (default build/hiroba)."""
import os
import signal
import socket
import subprocess
import tempfile
import time

import pytest
import requests

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("HIROBA_BIN", os.path.join(ROOT, "build", "hiroba"))
SECRET = "e2e-secret-key-that-is-long-enough-0123456789"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A running hiroba process. url has no trailing slash."""

    def __init__(self, tmpdir, args=(), env=None, database=None):
        self.port = free_port()
        self.host = "127.0.0.1"
        self.url = "http://127.0.0.1:%d" % self.port
        self.tmpdir = tmpdir
        self.db = database or "sqlite:///" + os.path.join(tmpdir, "db.sqlite3")
        self.log_path = os.path.join(tmpdir, "server.log")
        self.bin = BIN
        e = dict(os.environ)
        e.update({"HIROBA_SECRET_KEY": SECRET, "HIROBA_LOG_FORMAT": "json"})
        e.update(env or {})
        self.env = e
        subprocess.run([BIN, "migrate", "--database", self.db], env=e, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        cmd = [BIN, "serve", "--listen", "127.0.0.1:%d" % self.port, "--database", self.db,
               "--workers", "2", "--static-dir", os.path.join(tmpdir, "static")] + list(args)
        os.makedirs(os.path.join(tmpdir, "static"), exist_ok=True)
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(cmd, env=e, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 20
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("hiroba exited early:\n" + self.read_log())
            try:
                if requests.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("hiroba did not become healthy:\n" + self.read_log())

    def read_log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def connect(self):
        """A raw TCP socket to the server."""
        return socket.create_connection((self.host, self.port), timeout=10)

    def stop(self, sig=signal.SIGTERM, timeout=15):
        """Stops the server and returns its exit code; fails on sanitizer reports."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        log = self.read_log()
        assert "ERROR: AddressSanitizer" not in log, log
        assert "runtime error:" not in log, log
        assert "LeakSanitizer" not in log, log
        return self.proc.returncode


@pytest.fixture
def server_factory():
    """Returns start(args=(), env=None, database=None) -> Server; every server is stopped after the test."""
    servers = []
    dirs = []

    def start(args=(), env=None, database=None):
        d = tempfile.TemporaryDirectory(prefix="hiroba-e2e-")
        dirs.append(d)
        s = Server(d.name, args, env, database)
        servers.append(s)
        return s

    yield start
    for s in servers:
        code = s.stop()
        assert code == 0, "hiroba exited with %s:\n%s" % (code, s.read_log())
    for d in dirs:
        d.cleanup()


@pytest.fixture
def server(server_factory):
    """One hiroba server with a fresh database, stopped (and checked for a clean exit) after."""
    return server_factory()


def recv_all(sock, timeout=5.0):
    """Reads from a raw socket until the peer closes or timeout passes."""
    sock.settimeout(timeout)
    chunks = []
    try:
        while True:
            b = sock.recv(65536)
            if not b:
                break
            chunks.append(b)
    except socket.timeout:
        pass
    return b"".join(chunks)
