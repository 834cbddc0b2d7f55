# SPDX-License-Identifier: MIT
"""The command line: help texts, settings precedence (flag > env > default), bad usage exit codes,
and the secret-key rules (refuse short keys; a development key kept beside the SQLite file)."""
import os
import socket
import stat
import subprocess

from conftest import BIN, SECRET


def run(args, env=None, cwd=None):
    e = dict(os.environ)
    for k in list(e):
        if k.startswith("HIROBA_") or k == "DATABASE_URL":
            del e[k]
    e.update(env or {})
    return subprocess.run([BIN] + args, env=e, cwd=cwd, capture_output=True, text=True, timeout=30)


def test_help_lists_commands():
    r = run(["--help"])
    assert r.returncode == 0
    for cmd in ("serve", "migrate", "createsuperuser", "bench"):
        assert cmd in r.stdout


def test_no_command_is_usage_error():
    r = run([])
    assert r.returncode == 2
    assert "usage: hiroba" in r.stderr


def test_unknown_command():
    r = run(["frobnicate"])
    assert r.returncode == 2
    assert "unknown command 'frobnicate'" in r.stderr


def test_serve_help_names_every_setting_and_env():
    r = run(["serve", "--help"])
    assert r.returncode == 0
    for flag, env in (("--listen", "HIROBA_LISTEN"), ("--workers", "HIROBA_WORKERS"),
                      ("--database", "DATABASE_URL"), ("--secret-key", "HIROBA_SECRET_KEY"),
                      ("--static-dir", "HIROBA_STATIC_DIR"), ("--log-format", "HIROBA_LOG_FORMAT"),
                      ("--print-config", "")):
        assert flag in r.stdout
        assert env in r.stdout


def test_print_config_precedence_and_redaction():
    r = run(["serve", "--print-config", "--listen", "127.0.0.1:9001"],
            env={"HIROBA_LISTEN": "127.0.0.1:9002", "HIROBA_WORKERS": "3",
                 "HIROBA_SECRET_KEY": SECRET})
    assert r.returncode == 0, r.stderr
    lines = dict(l.split(" = ", 1) for l in r.stdout.splitlines())
    assert lines["listen".ljust(16)] == "127.0.0.1:9001"  # flag beats env
    assert lines["workers".ljust(16)] == "3"  # env beats default
    assert lines["time-zone".ljust(16)] == "Asia/Tokyo"  # default
    assert lines["secret-key".ljust(16)] == "(redacted)"
    assert SECRET not in r.stdout


def test_print_config_hides_url_passwords():
    r = run(["serve", "--print-config", "--redis", "redis://:hunter2@127.0.0.1:6379/0",
             "--database", "postgres://bob:pa:ss@db.internal/site"], env={"HIROBA_SECRET_KEY": SECRET})
    assert r.returncode == 0, r.stderr
    lines = dict(l.split(" = ", 1) for l in r.stdout.splitlines())
    assert lines["redis".ljust(16)] == "redis://:***@127.0.0.1:6379/0"
    assert lines["database".ljust(16)] == "postgres://bob:***@db.internal/site"
    assert "hunter2" not in r.stdout and "pa:ss" not in r.stdout


def test_bad_values_are_usage_errors():
    for args in (["--workers", "zero"], ["--listen", "nohostport"], ["--listen", "1.2.3.4:99999"],
                 ["--log-format", "xml"], ["--access-log=maybe"], ["--bogus"], ["--workers"]):
        r = run(["serve"] + args)
        assert r.returncode == 2, args
        assert r.stderr.startswith("hiroba: "), (args, r.stderr)
        assert len(r.stderr.strip().splitlines()) == 1, (args, r.stderr)


def test_short_secret_key_refused(tmp_path):
    r = run(["serve", "--secret-key", "x" * 31, "--database", "sqlite:///%s/db" % tmp_path])
    assert r.returncode == 2
    assert "shorter than 32 bytes" in r.stderr


def test_secret_key_file_and_dev_key(tmp_path):
    keyfile = tmp_path / "key"
    keyfile.write_text("k" * 10 + "\n")
    r = run(["serve", "--secret-key-file", str(keyfile), "--database",
             "sqlite:///%s/db" % tmp_path])
    assert r.returncode == 2 and "shorter than 32 bytes" in r.stderr

    r = run(["serve", "--secret-key-file", str(tmp_path / "missing")])
    assert r.returncode == 2 and "missing" in r.stderr

    # With no key at all, a development key is generated beside the SQLite file, once. The
    # listen address is taken, so serve stops right after resolving the key.
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    listen = "127.0.0.1:%d" % busy.getsockname()[1]
    db = "sqlite:///%s/db.sqlite3" % tmp_path
    r = run(["serve", "--database", db, "--listen", listen, "--workers", "1"])
    assert r.returncode == 1
    dev = tmp_path / ".hiroba_secret_key"
    assert dev.exists(), r.stderr
    assert "development secret key" in r.stderr
    key = dev.read_text()
    assert len(key) == 50
    assert stat.S_IMODE(dev.stat().st_mode) == 0o600
    run(["serve", "--database", db, "--listen", listen, "--workers", "1"])
    assert dev.read_text() == key
    busy.close()


def test_listen_on_a_bad_address_fails_with_one_line():
    r = run(["serve", "--listen", "256.1.1.1:8000", "--secret-key", SECRET])
    assert r.returncode == 1
    assert "256.1.1.1" in r.stderr


def test_createsuperuser_for_scripts(server):
    import requests
    env = {"HIROBA_SUPERUSER_PASSWORD": "admin-pass-1"}
    r = run(["createsuperuser", "--username", "admin", "--email", "admin@example.com",
             "--database", server.db], env=env)
    assert r.returncode == 0, r.stderr
    r = run(["createsuperuser", "--username", "admin", "--database", server.db], env=env)
    assert r.returncode == 1 and "already taken" in r.stderr
    r = run(["createsuperuser", "--database", server.db])
    assert r.returncode == 2 and "HIROBA_SUPERUSER_PASSWORD" in r.stderr
    t = requests.post(server.url + "/api/token/",
                      json={"username": "admin", "password": "admin-pass-1"}).json()
    me = requests.get(server.url + "/api/me/", headers={"Authorization": "Bearer " + t["access"]})
    assert me.json() == {"id": 1, "username": "admin", "email": "admin@example.com",
                         "is_staff": True}
