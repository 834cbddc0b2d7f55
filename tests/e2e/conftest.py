# SPDX-License-Identifier: MIT
"""Fixtures for the end-to-end tests: each starts the real hiroba binary on an ephemeral loopback
port with a temporary database and drives it with independent clients (requests, websockets, raw
sockets). HIROBA_BIN names the binary (default build/hiroba).

HIROBA_TEST_DATABASE=postgres runs the same tests on PostgreSQL: one throwaway cluster for the
session (services.py), and every Server without an explicit database gets a fresh one, copied
from a template database that `hiroba migrate` prepared once. server.db is then its postgres://
URL. Tests marked sqlite_only("why") look underneath the interface at the SQLite file and are
skipped there with that reason."""
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
DATABASE_MODE = os.environ.get("HIROBA_TEST_DATABASE", "sqlite")
if DATABASE_MODE not in ("sqlite", "postgres"):
    raise RuntimeError("HIROBA_TEST_DATABASE must be sqlite or postgres, not %r" % DATABASE_MODE)
IS_POSTGRES = DATABASE_MODE == "postgres"
PG_TEMPLATE = "hiroba_template"
_pg = {}  # the session's cluster and a counter for database names (PostgreSQL mode)


def pytest_configure(config):
    config.addinivalue_line("markers", "sqlite_only(reason): the test needs the SQLite backend")


def pytest_collection_modifyitems(config, items):
    if not IS_POSTGRES:
        return
    for item in items:
        m = item.get_closest_marker("sqlite_only")
        if m is not None:
            why = m.args[0] if m.args else m.kwargs.get("reason", "")
            item.add_marker(pytest.mark.skip(reason="SQLite only: " + why))


@pytest.fixture(scope="session", autouse=True)
def _postgres_cluster():
    """PostgreSQL mode: the session's cluster and its migrated template database."""
    if not IS_POSTGRES:
        yield None
        return
    import services

    cluster = services.PostgresCluster().start()
    try:
        url = cluster.create_database(PG_TEMPLATE)
        r = subprocess.run([BIN, "migrate", "--database", url], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, env=dict(os.environ, HIROBA_SECRET_KEY=SECRET))
        if r.returncode != 0:
            raise RuntimeError("hiroba migrate of the template failed:\n" +
                               r.stdout.decode("utf-8", "replace"))
        _pg.update(cluster=cluster, n=0)
        yield cluster
    finally:
        _pg.clear()
        cluster.destroy()


def new_pg_database():
    """A fresh, migrated PostgreSQL database of the session cluster: (name, url)."""
    if "cluster" not in _pg:
        raise RuntimeError("no PostgreSQL cluster: run with HIROBA_TEST_DATABASE=postgres")
    _pg["n"] += 1
    name = "e2e_%d_%d" % (os.getpid(), _pg["n"])
    return name, _pg["cluster"].create_database(name, template=PG_TEMPLATE)


def drop_pg_database(name):
    if "cluster" in _pg:
        _pg["cluster"].drop_database(name)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pg_literal(value):
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"  # standard_conforming_strings is on


def _pg_value(text):
    if text == "\\N":
        return None
    try:
        return int(text)
    except ValueError:
        return text


class Server:
    """A running hiroba process. url has no trailing slash."""

    def __init__(self, tmpdir, args=(), env=None, database=None):
        self.port = free_port()
        self.host = "127.0.0.1"
        self.url = "http://127.0.0.1:%d" % self.port
        self.tmpdir = tmpdir
        self.pg_database = None  # the database this Server created (PostgreSQL mode)
        if database is None and IS_POSTGRES:
            self.pg_database, database = new_pg_database()
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

    def sql(self, statement, params=()):
        """Runs one statement on the server's database as other software would, with ?
        placeholders, and returns its rows as tuples: sqlite3 (foreign keys on, like Django's
        connections) or, in PostgreSQL mode, psql with the parameters quoted as literals (ints
        come back as int, NULL as None, everything else as text)."""
        if not self.db.startswith(("postgres://", "postgresql://")):
            import sqlite3

            con = sqlite3.connect(self.db[len("sqlite:///"):], timeout=30)
            try:
                con.execute("PRAGMA foreign_keys = ON")
                rows = con.execute(statement, params).fetchall()
                con.commit()
                return rows
            finally:
                con.close()
        parts = statement.split("?")
        assert len(parts) == len(params) + 1, "one ? per parameter (and no ? in literals)"
        text = parts[0]
        for value, part in zip(params, parts[1:]):
            text += _pg_literal(value) + part
        cmd = ["/usr/lib/postgresql/15/bin/psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
               "-F", "\x1f", "-P", "null=\\N", "-d", self.db, "-c", text]
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        if r.returncode != 0:
            raise RuntimeError("psql: %s: %s" % (text, r.stderr.decode("utf-8", "replace")))
        out = r.stdout.decode("utf-8")
        return [tuple(_pg_value(v) for v in line.split("\x1f")) for line in out.splitlines()]

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
        if getattr(s, "killed", False):
            continue  # the test killed it on purpose (SIGKILL): no clean exit to check
        assert code == 0, "hiroba exited with %s:\n%s" % (code, s.read_log())
    for s in servers:
        if s.pg_database is not None:
            drop_pg_database(s.pg_database)
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
