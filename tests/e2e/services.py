# SPDX-License-Identifier: MIT
"""Throwaway PostgreSQL and Redis servers for the tests, on 127.0.0.1 with random free ports inside
a temporary directory. Nothing here is skipped: a missing binary raises ServiceError with what to
install, because a test that silently does not run proves nothing.

    with PostgresCluster() as pg:           # initdb + postgres, trust auth on 127.0.0.1
        url = pg.create_database("t1")      # postgres://postgres@127.0.0.1:PORT/t1
        pg.psql("t1", "SELECT 1")
    with RedisServer() as r:                # redis-server --save '' --appendonly no
        r.kill(); r.start()                 # same port again

As root, PostgreSQL runs as the `postgres` system user (it refuses to run as root) with a data
directory owned by it; otherwise as the current user."""
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time

PG_BIN = os.environ.get("HIROBA_PG_BIN", "/usr/lib/postgresql/15/bin")
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


class ServiceError(RuntimeError):
    pass


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_port(port, proc, what, log_path, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            raise ServiceError("%s exited early (%s):\n%s" % (what, proc.returncode, _tail(log_path)))
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise ServiceError("%s did not listen on 127.0.0.1:%d:\n%s" % (what, port, _tail(log_path)))


def _tail(path, n=4000):
    try:
        with open(path, "rb") as f:
            return f.read()[-n:].decode("utf-8", "replace")
    except OSError:
        return "(no log)"


class PostgresCluster:
    """A private PostgreSQL cluster: initdb into a temp dir, then postgres on a free port with
    fsync off, trust auth for 127.0.0.1 only, and its unix socket inside the temp dir."""

    def __init__(self, bin_dir=PG_BIN):
        self.bin_dir = bin_dir
        for prog in ("initdb", "postgres", "psql"):
            path = self._prog(prog)
            if not os.access(path, os.X_OK):
                raise ServiceError("PostgreSQL binary %s is missing: install the Debian package "
                                   "postgresql (scripts/setup does)" % path)
        self.tmp = tempfile.mkdtemp(prefix="hiroba-pg-")
        os.chmod(self.tmp, 0o755)
        self.data = os.path.join(self.tmp, "data")
        self.sock_dir = os.path.join(self.tmp, "sock")
        self.log_path = os.path.join(self.tmp, "postgres.log")
        self.user = "postgres"
        self.port = None
        self.proc = None
        self._as = []
        if os.geteuid() == 0:
            try:
                pw = pwd.getpwnam("postgres")
            except KeyError:
                raise ServiceError("running as root needs the 'postgres' system user "
                                   "(the Debian package postgresql creates it)")
            self._as = ["runuser", "-u", "postgres", "--"]
            self._uid, self._gid = pw.pw_uid, pw.pw_gid
        os.makedirs(self.sock_dir)
        open(self.log_path, "wb").close()
        if self._as:
            for p in (self.sock_dir, self.log_path):
                os.chown(p, self._uid, self._gid)
        self._initdb()

    def _prog(self, name):
        return os.path.join(self.bin_dir, name)

    def _initdb(self):
        os.makedirs(self.data, mode=0o700)
        if self._as:
            os.chown(self.data, self._uid, self._gid)
        r = subprocess.run(self._as + [self._prog("initdb"), "-D", self.data, "-U", self.user,
                                       "-A", "trust", "-E", "UTF8", "--locale=C.UTF-8",
                                       "--no-sync"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if r.returncode != 0:
            raise ServiceError("initdb failed:\n" + r.stdout.decode("utf-8", "replace"))
        # Only loopback TCP and the private socket, with trust: a test cluster, never a real one.
        with open(os.path.join(self.data, "pg_hba.conf"), "w") as f:
            f.write("local all all trust\nhost all all 127.0.0.1/32 trust\n")

    def start(self):
        """Starts postgres (again, after stop(), on the same port). Returns self."""
        if self.port is None:
            self.port = free_port()
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            self._as + [self._prog("postgres"), "-D", self.data, "-p", str(self.port),
                        "-h", "127.0.0.1", "-k", self.sock_dir, "-c", "fsync=off",
                        "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
                        "-c", "max_connections=200", "-c", "shared_buffers=32MB",
                        "-c", "timezone=UTC"],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        _wait_port(self.port, self.proc, "postgres", self.log_path)
        deadline = time.time() + 30
        while True:  # the port opens before the cluster accepts connections
            r = subprocess.run(self._psql_cmd("postgres", "SELECT 1"), stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT)
            if r.returncode == 0:
                return self
            if time.time() > deadline or self.proc.poll() is not None:
                self.stop()
                raise ServiceError("postgres did not accept connections:\n%s\n%s" % (
                    r.stdout.decode("utf-8", "replace"), _tail(self.log_path)))
            time.sleep(0.1)

    def url(self, dbname):
        return "postgres://%s@127.0.0.1:%d/%s" % (self.user, self.port, dbname)

    def _psql_cmd(self, dbname, sql):
        return [self._prog("psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                "-h", "127.0.0.1", "-p", str(self.port), "-U", self.user, "-d", dbname,
                "-c", sql]

    def psql(self, dbname, sql):
        """Runs sql in dbname and returns psql's unaligned, tuples-only output (stripped)."""
        r = subprocess.run(self._psql_cmd(dbname, sql), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE)
        if r.returncode != 0:
            raise ServiceError("psql %s: %s" % (sql, r.stderr.decode("utf-8", "replace")))
        return r.stdout.decode("utf-8").strip()

    def create_database(self, name, template=None):
        """Creates a database (from template when given) and returns its postgres:// URL."""
        sql = 'CREATE DATABASE "%s"' % name
        if template:
            sql += ' TEMPLATE "%s"' % template
        self.psql("postgres", sql)
        return self.url(name)

    def drop_database(self, name):
        self.psql("postgres", 'DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % name)

    def _postmaster_pid(self):
        try:
            with open(os.path.join(self.data, "postmaster.pid")) as f:
                return int(f.readline())
        except (OSError, ValueError):
            return None

    def stop(self):
        """Stops postgres ("fast" shutdown: sessions are disconnected) and waits for it."""
        if self.proc is not None and self.proc.poll() is None:
            # Signal the postmaster itself: runuser does not pass SIGINT on to its child.
            pid = self._postmaster_pid()
            try:
                os.kill(pid if pid else self.proc.pid, signal.SIGINT)
                self.proc.wait(timeout=30)
            except ProcessLookupError:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                for p in (pid, self.proc.pid):
                    if p:
                        try:
                            os.kill(p, signal.SIGKILL)
                        except ProcessLookupError:
                            pass
                self.proc.wait()
        self.proc = None

    def destroy(self):
        self.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.destroy()


class RedisServer:
    """redis-server on 127.0.0.1 with persistence off. kill() and start() keep the port, so a
    test can take Redis away and bring it back under the same address."""

    def __init__(self, port=None):
        if not os.access(REDIS_SERVER, os.X_OK):
            raise ServiceError("redis-server is missing: install the Debian package redis-server "
                               "(scripts/setup does)")
        self.tmp = tempfile.mkdtemp(prefix="hiroba-redis-")
        self.log_path = os.path.join(self.tmp, "redis.log")
        self.port = port or free_port()
        self.proc = None

    @property
    def url(self):
        return "redis://127.0.0.1:%d" % self.port

    def start(self):
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", self.tmp, "--daemonize", "no"],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        _wait_port(self.port, self.proc, "redis-server", self.log_path)
        return self

    def kill(self, sig=signal.SIGKILL):
        """Stops redis-server abruptly (SIGKILL by default) and waits for it to exit."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=30)
        self.proc = None

    def stop(self):
        self.kill(signal.SIGTERM)

    def destroy(self):
        self.kill()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.destroy()
