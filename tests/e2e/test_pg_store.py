# SPDX-License-Identifier: MIT
"""The PostgreSQL backend below the API: the schema `hiroba migrate` makes (Django's types,
constraint and index names), migrate twice and two migrates at once, a database made by Django's
own DDL used as it is, and reconnecting after the server killed hiroba's sessions. Runs in both
modes of the suite: it needs PostgreSQL itself (the session cluster in PostgreSQL mode, else one
of its own), and fails if the binaries are missing."""
import concurrent.futures
import subprocess
import time
import uuid

import pytest
import requests

import conftest
import services

PW = "correct horse 1"


@pytest.fixture(scope="module")
def cluster():
    if conftest.IS_POSTGRES:
        yield conftest._pg["cluster"]
        return
    with services.PostgresCluster() as c:
        yield c


@pytest.fixture
def db(cluster):
    """An empty database: (name, url)."""
    name = "store_" + uuid.uuid4().hex[:12]
    url = cluster.create_database(name)
    yield name, url
    cluster.drop_database(name)


def migrate(url):
    return subprocess.run([conftest.BIN, "migrate", "--database", url], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, env=dict(conftest.os.environ,
                                                             HIROBA_SECRET_KEY=conftest.SECRET))


def schema(cluster, name):
    """pg_dump's schema text of the database (comments and empty lines dropped)."""
    r = subprocess.run([cluster.bin_dir + "/pg_dump", "-s", "-h", "127.0.0.1", "-p",
                        str(cluster.port), "-U", cluster.user, name], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, check=True)
    return "\n".join(line for line in r.stdout.decode().splitlines()
                     if line and not line.startswith("--") and not line.startswith("\\"))


def login(s, name):
    r = requests.post(s.url + "/api/register/", json={
        "username": name, "email": "", "password": PW, "password_confirm": PW})
    assert r.status_code == 201, r.text
    r = requests.post(s.url + "/api/token/", json={"username": name, "password": PW})
    assert r.status_code == 200, r.text
    return {"Authorization": "Bearer " + r.json()["access"]}


def test_migrate_makes_djangos_schema(cluster, db):
    name, url = db
    r = migrate(url)
    assert r.returncode == 0, r.stdout
    q = lambda sql: cluster.psql(name, sql)  # noqa: E731
    # Identity ids: integer for auth_user, bigint elsewhere.
    assert q("SELECT data_type, is_identity FROM information_schema.columns WHERE "
             "table_name = 'auth_user' AND column_name = 'id'") == "integer|YES"
    assert q("SELECT data_type, is_identity FROM information_schema.columns WHERE "
             "table_name = 'bbs_topic' AND column_name = 'id'") == "bigint|YES"
    assert q("SELECT data_type FROM information_schema.columns WHERE table_name = 'bbs_topic' "
             "AND column_name = 'created_at'") == "timestamp with time zone"
    assert q("SELECT data_type FROM information_schema.columns WHERE table_name = 'auth_user' "
             "AND column_name = 'is_staff'") == "boolean"
    # Django's foreign keys: deferred, no ON DELETE; hiroba's author_id: SET NULL.
    fks = q("SELECT conname, condeferrable, condeferred, confdeltype FROM pg_constraint WHERE "
            "contype = 'f' ORDER BY conname").splitlines()
    assert "bbs_topic_category_id_332e03a8_fk_bbs_category_id|t|t|a" in fks
    assert "chat_chatlog_room_id_cd096de9_fk_chat_room_id|t|t|a" in fks
    assert "token_blacklist_outs_user_id_83bc629a_fk_auth_user|t|t|a" in fks
    author_fks = [f for f in fks if f.split("|")[0].endswith("author_id_fkey")]
    assert len(author_fks) == 5 and all(f.endswith("|t|t|n") for f in author_fks), fks
    indexes = q("SELECT indexname FROM pg_indexes WHERE schemaname = 'public'").splitlines()
    for want in ("bbs_topic_category_id_332e03a8", "bbs_reply_topic_id_bad3c583",
                 "chat_chatlog_room_id_cd096de9", "auth_user_username_6821ab7c_like",
                 "token_blacklist_outstandingtoken_user_id_83bc629a",
                 "token_blacklist_outstandingtoken_jti_hex_d9bdf6f7_uniq",
                 "hiroba_bbs_topic_author_id", "hiroba_chat_chatlog_author_id",
                 "hiroba_login_failure_scope_key_failed_at", "hiroba_topic_comment_tsv",
                 "hiroba_topic_comment_trgm"):
        assert want in indexes, (want, indexes)
    # headcount >= 0 is enforced by the database.
    r = subprocess.run(cluster._psql_cmd(name, "INSERT INTO chat_room (created_at, name, "
                                         "headcount) VALUES (now(), 'x', -1)"),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert r.returncode != 0 and b"chat_room_headcount_check" in r.stderr
    assert q("SELECT name FROM hiroba_migrations ORDER BY name").splitlines() == [
        "0001_django_tables", "0002_author_id", "0003_topic_search", "0004_login_failure",
        "0005_instance_presence", "0006_topic_trigram", "0007_event_clock"]
    assert q("SELECT id, n FROM hiroba_event_clock") == "1|0"
    assert q("SELECT indexdef FROM pg_indexes WHERE indexname = 'hiroba_topic_comment_trgm'") == \
        "CREATE INDEX hiroba_topic_comment_trgm ON public.bbs_topic USING gin (comment " \
        "gin_trgm_ops)"
    assert q("SELECT count(*) FROM pg_class WHERE relname IN ('hiroba_instance', "
             "'hiroba_presence')") == "2"


def test_migrate_twice_changes_nothing(cluster, db):
    name, url = db
    assert migrate(url).returncode == 0
    before = schema(cluster, name)
    applied = cluster.psql(name, "SELECT name, applied_at FROM hiroba_migrations ORDER BY id")
    xid = cluster.psql(name, "SELECT txid_current()")
    r = migrate(url)
    assert r.returncode == 0, r.stdout
    assert b"schema updated" not in r.stdout  # nothing to do: rolled back, not committed
    assert schema(cluster, name) == before
    assert cluster.psql(name, "SELECT name, applied_at FROM hiroba_migrations ORDER BY id") == \
        applied
    # No committed write: only our own two txid_current() calls consumed transaction ids.
    assert int(cluster.psql(name, "SELECT txid_current()")) == int(xid) + 1


def test_two_migrates_at_once(cluster, db):
    name, url = db
    procs = [subprocess.Popen([conftest.BIN, "migrate", "--database", url],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
             for _ in range(3)]
    outs = [p.communicate(timeout=60)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], outs
    assert cluster.psql(name, "SELECT count(*) FROM hiroba_migrations") == "7"


# What Django 3.2's `migrate` makes on PostgreSQL (serial ids, not identity columns), trimmed to
# the tables hiroba uses; pg_dump of tests/e2e/django_models/ migrated with psycopg2.
DJANGO_DDL = """
CREATE TABLE auth_user (id serial PRIMARY KEY, password varchar(128) NOT NULL,
  last_login timestamp with time zone, is_superuser boolean NOT NULL,
  username varchar(150) NOT NULL UNIQUE, first_name varchar(150) NOT NULL,
  last_name varchar(150) NOT NULL, email varchar(254) NOT NULL, is_staff boolean NOT NULL,
  is_active boolean NOT NULL, date_joined timestamp with time zone NOT NULL);
CREATE TABLE bbs_category (id bigserial PRIMARY KEY, name varchar(100) NOT NULL);
CREATE TABLE bbs_topic (id bigserial PRIMARY KEY, created_at timestamp with time zone NOT NULL,
  comment varchar(2000) NOT NULL, category_id bigint NOT NULL
  REFERENCES bbs_category (id) DEFERRABLE INITIALLY DEFERRED);
CREATE INDEX bbs_topic_category_id_332e03a8 ON bbs_topic (category_id);
CREATE TABLE bbs_reply (id bigserial PRIMARY KEY, created_at timestamp with time zone NOT NULL,
  comment varchar(2000) NOT NULL, topic_id bigint NOT NULL
  REFERENCES bbs_topic (id) DEFERRABLE INITIALLY DEFERRED);
CREATE INDEX bbs_reply_topic_id_bad3c583 ON bbs_reply (topic_id);
CREATE TABLE chat_room (id bigserial PRIMARY KEY, created_at timestamp with time zone NOT NULL,
  name varchar(200) NOT NULL UNIQUE, headcount integer NOT NULL CHECK (headcount >= 0));
CREATE TABLE chat_chatlog (id bigserial PRIMARY KEY,
  created_at timestamp with time zone NOT NULL, message varchar(200) NOT NULL,
  room_id bigint NOT NULL REFERENCES chat_room (id) DEFERRABLE INITIALLY DEFERRED);
CREATE INDEX chat_chatlog_room_id_cd096de9 ON chat_chatlog (room_id);
CREATE TABLE token_blacklist_outstandingtoken (id bigserial PRIMARY KEY, token text NOT NULL,
  created_at timestamp with time zone, expires_at timestamp with time zone NOT NULL,
  user_id integer REFERENCES auth_user (id) DEFERRABLE INITIALLY DEFERRED,
  jti varchar(255) NOT NULL CONSTRAINT token_blacklist_outstandingtoken_jti_hex_d9bdf6f7_uniq UNIQUE);
CREATE TABLE token_blacklist_blacklistedtoken (id bigserial PRIMARY KEY,
  blacklisted_at timestamp with time zone NOT NULL, token_id bigint NOT NULL UNIQUE
  REFERENCES token_blacklist_outstandingtoken (id) DEFERRABLE INITIALLY DEFERRED);
INSERT INTO auth_user (password, is_superuser, username, first_name, last_name, email, is_staff,
  is_active, date_joined) VALUES ('!', false, 'django-user', '', '', '', false, true, now());
INSERT INTO bbs_category (name) VALUES ('made by django');
INSERT INTO bbs_topic (created_at, comment, category_id)
  VALUES ('2025-01-13 23:56:12+00', 'Django の話題', 1);
"""


def test_django_made_database_is_used_as_is(cluster, db, server_factory):
    name, url = db
    cluster.psql(name, DJANGO_DDL)
    columns = "SELECT table_name, column_name, data_type, column_default FROM " \
              "information_schema.columns WHERE table_schema = 'public' AND column_name <> " \
              "'author_id' AND table_name NOT LIKE 'hiroba%' ORDER BY 1, 2"
    before = cluster.psql(name, columns)
    s = server_factory(database=url)  # migrates, then serves
    assert cluster.psql(name, columns) == before  # Django's columns untouched, serials kept
    assert cluster.psql(name, "SELECT count(*) FROM information_schema.columns WHERE "
                        "column_name = 'author_id'") == "5"
    h = login(s, "alice")
    topics = requests.get(s.url + "/api/topics/", headers=h).json()
    assert [(t["id"], t["comment"], t["created_at"], t["author"]) for t in topics] == [
        (1, "Django の話題", "2025年01月14日 08時56分12秒", None)]
    r = requests.post(s.url + "/api/topics/", headers=h, json={"category": 1, "comment": "hiroba"})
    assert r.status_code == 201, r.text
    assert r.json()["id"] == 2  # the serial sequence handed out the id
    assert requests.get(s.url + "/api/topics/?search=django", headers=h).json()[0]["id"] == 1
    # A user Django deletes leaves hiroba's rows authorless (ON DELETE SET NULL).
    cluster.psql(name, "DELETE FROM token_blacklist_blacklistedtoken; DELETE FROM "
                 "token_blacklist_outstandingtoken; DELETE FROM auth_user WHERE username = 'alice'")
    assert cluster.psql(name, "SELECT author_id IS NULL FROM bbs_topic WHERE id = 2") == "t"


def test_reconnects_after_sessions_are_killed(cluster, db, server_factory):
    name, url = db
    # One pool thread: its reader and writer connections (one each per thread) are the ones
    # killed, so the requests after the kill must reconnect rather than open fresh ones.
    s = server_factory(database=url, env={"UV_THREADPOOL_SIZE": "1"})
    h = login(s, "alice")
    r = requests.post(s.url + "/api/categories/", headers=h, json={"name": "before"})
    assert r.status_code == 201, r.text
    cat = r.json()["id"]
    for round_ in range(2):
        killed = cluster.psql(name, "SELECT count(pg_terminate_backend(pid)) FROM "
                              "pg_stat_activity WHERE datname = current_database() AND "
                              "application_name = 'hiroba'")
        assert int(killed) >= 1
        # Reads and writes work again at once: the first statement of each runs again on a new
        # session (a read, or BEGIN, or refused by the terminated session before it ran).
        for _ in range(4):
            r = requests.get(s.url + "/api/categories/%d/" % cat, headers=h)
            assert r.status_code == 200, (r.status_code, r.text, s.read_log()[-3000:])
        r = requests.post(s.url + "/api/topics/", headers=h,
                          json={"category": cat, "comment": "after %d" % round_})
        assert r.status_code == 201, (r.text, s.read_log()[-3000:])
        r = requests.post(s.url + "/api/token/", json={"username": "alice", "password": PW})
        assert r.status_code == 200, r.text
    topics = requests.get(s.url + "/api/topics/?category=%d" % cat, headers=h).json()
    assert [t["comment"] for t in topics] == ["after 0", "after 1"]  # each written once
    assert "reconnected" in s.read_log()
    assert int(cluster.psql(name, "SELECT count(*) FROM pg_stat_activity WHERE "
                            "application_name = 'hiroba'")) >= 1


def test_chat_group_commit_keeps_every_message_in_order(cluster, db, server_factory):
    """Many sockets sending at once: the app batches the queued messages into one transaction
    (chatlog_create_many). Nothing is lost or stored twice, every room's ids reach its listener
    strictly increasing, and some transactions did store several messages (rows sharing xmin)."""
    import asyncio
    import json

    import websockets

    name, url = db
    s = server_factory(database=url)
    tokens = []
    for u in ("alice", "bob", "carol"):
        login(s, u)
        tokens.append(requests.post(s.url + "/api/token/", json={
            "username": u, "password": PW}).json()["access"])
    rooms = [int(cluster.psql(name, "INSERT INTO chat_room (created_at, name, headcount) VALUES "
                              "(now(), 'room%d', 0) RETURNING id" % i)) for i in range(3)]
    senders_per_room, per_sender = 4, 40
    want = {room: senders_per_room * per_sender for room in rooms}

    async def go():
        def url_of(room):
            return "ws://127.0.0.1:%d/ws/chat/%d/" % (s.port, room)

        async def listen(ws, room, got):
            while len(got) < want[room]:
                f = json.loads(await asyncio.wait_for(ws.recv(), 30))
                if f.get("type") == "message":
                    got.append((f["id"], f["message"]))

        async def send(ws, tag):
            for k in range(per_sender):
                await ws.send(json.dumps({"message": "%s-%d" % (tag, k)}))

        listeners = [await websockets.connect(url_of(room), subprotocols=["hiroba.v1", tokens[0]])
                     for room in rooms]
        senders = []
        for i, room in enumerate(rooms):
            for j in range(senders_per_room):
                senders.append((await websockets.connect(
                    url_of(room), subprotocols=["hiroba.v1", tokens[j % 3]]),
                    "r%d-s%d" % (i, j)))
        got = {room: [] for room in rooms}
        try:
            await asyncio.gather(*[send(ws, tag) for ws, tag in senders],
                                 *[listen(ws, room, got[room])
                                   for ws, room in zip(listeners, rooms)])
        finally:
            for ws in listeners + [ws for ws, _ in senders]:
                await ws.close()
        return got

    got = asyncio.run(go())
    for i, room in enumerate(rooms):
        ids = [m[0] for m in got[room]]
        assert ids == sorted(set(ids)), "room %d: ids not strictly increasing" % room
        texts = sorted(m[1] for m in got[room])
        assert texts == sorted("r%d-s%d-%d" % (i, j, k) for j in range(senders_per_room)
                               for k in range(per_sender))
        stored = cluster.psql(name, "SELECT id, message FROM chat_chatlog WHERE room_id = %d "
                              "ORDER BY id" % room).splitlines()
        assert [tuple(r.split("|")) for r in stored] == [(str(a), b) for a, b in got[room]]
        # Each sender's messages were stored in the order it sent them.
        for j in range(senders_per_room):
            mine = [t for _, t in got[room] if t.startswith("r%d-s%d-" % (i, j))]
            assert mine == ["r%d-s%d-%d" % (i, j, k) for k in range(per_sender)]
    per_tx = cluster.psql(name, "SELECT count(*), count(DISTINCT room_id) FROM chat_chatlog "
                          "GROUP BY xmin::text ORDER BY 1 DESC LIMIT 1").split("|")
    print("largest transaction: %s messages in %s rooms" % tuple(per_tx))
    assert int(per_tx[0]) > 1, "no transaction stored more than one message"


# Topics for the search tests: (comment, how many copies). The filler makes the table big enough
# for the index to matter; the rest are the cases API.md §7.3's substring semantics must get right.
SEARCH_ROWS = [
    ("Hello World from hiroba", 1), ("hello there", 1), ("HELLO again, WORLD", 1),
    ("日本語のテキストです", 1), ("東京の天気は晴れ", 1), ("I write C++ daily", 1),
    ("c and c# and go", 1), ("100% sure", 1), ("1000 items", 1), ("snake a_b case", 1),
    ("aXb is not a_b", 1), ("back\\slash path", 1), ("ünïcödé Straße", 1),
]
SEARCHES = ["hello", "HeLLo world", "ell", "日本語", "テキスト", "京の天", "c++", "C++ daily", "100%",
            "%", "a_b", "_", "back\\slash", "\\", "filler", "filler 1234", "o", "zzz-none",
            "straße", '"hello there"', "world,hello", "hello　world"]


def fill_topics(cluster, name):
    cluster.psql(name, "INSERT INTO bbs_category (name) VALUES ('c')")
    values = ", ".join("(now(), %s, 1)" % conftest._pg_literal(text)
                       for text, n in SEARCH_ROWS for _ in range(n))
    cluster.psql(name, "INSERT INTO bbs_topic (created_at, comment, category_id) VALUES " + values)
    cluster.psql(name, "INSERT INTO bbs_topic (created_at, comment, category_id) SELECT now(), "
                 "'filler topic number ' || i || ' ' || md5(i::text), 1 FROM "
                 "generate_series(1, 3000) i")
    cluster.psql(name, "VACUUM ANALYZE bbs_topic")  # flushes the GIN pending list


def expected_ids(cluster, name, search):
    """The ids whose comment contains every term as a substring, case-insensitively, computed
    here from the rows (terms split as API.md §7.3 says, for the searches above)."""
    rows = cluster.psql(name, "SELECT id, comment FROM bbs_topic ORDER BY id").splitlines()
    if search.startswith('"'):
        terms = [search.strip('"')]
    else:
        terms = [t for t in search.replace(",", " ").replace("\u3000", " ").split() if t]
    out = []
    for row in rows:
        id_, comment = row.split("|", 1)
        if all(t.lower() in comment.lower() for t in terms):
            out.append(int(id_))
    return out


def search_ids(s, h, search):
    r = requests.get(s.url + "/api/topics/", headers=h, params={"search": search})
    assert r.status_code == 200, r.text
    return [t["id"] for t in r.json()]


def check_searches(cluster, name, s, h):
    for search in SEARCHES:
        want = expected_ids(cluster, name, search)
        assert search_ids(s, h, search) == want, search
        r = requests.get(s.url + "/api/topics/", headers=h, params={"search": search, "page": 1})
        assert r.status_code == 200, r.text
        assert r.json()["count"] == len(want), search


def test_search_uses_the_trigram_index(cluster, db, server_factory):
    """The server's own search statements, as auto_explain logs them, read the pg_trgm index
    (enable_seqscan=off for this database), and give exactly the substring matches."""
    name, url = db
    assert migrate(url).returncode == 0
    fill_topics(cluster, name)
    cluster.psql(name, "ALTER DATABASE %s SET session_preload_libraries = 'auto_explain'; "
                 "ALTER DATABASE %s SET auto_explain.log_min_duration = 0; "
                 "ALTER DATABASE %s SET enable_seqscan = off" % (name, name, name))
    with open(cluster.log_path, "rb") as f:
        f.seek(0, 2)
        log_start = f.tell()
    s = server_factory(database=url)
    h = login(s, "alice")
    marker = "zq" + uuid.uuid4().hex[:10]  # a term of its own, to find its plan in the log
    cluster.psql(name, "INSERT INTO bbs_topic (created_at, comment, category_id) VALUES (now(), "
                 "'find %s here: 広場の検索', 1)" % marker)
    cluster.psql(name, "VACUUM ANALYZE bbs_topic")
    # The first run of a prepared statement gets a custom plan, which shows the patterns.
    assert len(search_ids(s, h, "FIND " + marker.upper() + " 広場の検索 he")) == 1
    check_searches(cluster, name, s, h)
    with open(cluster.log_path, "rb") as f:
        f.seek(log_start)
        log = f.read().decode("utf-8", "replace")
    plans = [e for e in log.split("LOG:  duration:") if "FROM bbs_topic t" in e and "ILIKE" in e]
    mine = [p for p in plans if "Index Cond" in p and marker.upper() in p]
    assert len(mine) == 1, log[-4000:]
    # The three longest terms are index conditions; the short one is checked on what they found.
    cond = mine[0].split("Bitmap Index Scan on hiroba_topic_comment_trgm")[1]
    for pattern in ("'%%%s%%'" % marker.upper(), "'%広場の検索%'", "'%FIND%'"):
        assert pattern in cond.split("\n", 2)[1], mine[0]
    # Japanese text has trigrams (the cluster's ctype classifies it as letters).
    assert cluster.psql(name, "SELECT cardinality(show_trgm('日本語のテキスト'))") == "9"
    used = sum("Bitmap Index Scan on hiroba_topic_comment_trgm" in p for p in plans)
    print("%d of %d search plans read hiroba_topic_comment_trgm" % (used, len(plans)))


def test_search_without_pg_trgm_privilege(cluster, db, server_factory):
    """A role that may not CREATE EXTENSION still migrates (one warning, no index, step 0006 left
    for later) and searches by scanning with the same results; a later migrate by a role that may
    adds the index, and the results stay the same."""
    name, url = db
    role = "noext_" + uuid.uuid4().hex[:8]
    cluster.psql(name, "CREATE ROLE %s LOGIN; GRANT CREATE ON SCHEMA public TO %s" % (role, role))
    try:
        role_url = url.replace("://%s@" % cluster.user, "://%s@" % role)
        assert role_url != url
        r = migrate(role_url)
        out = r.stdout.decode()
        assert r.returncode == 0, out
        warnings = [line for line in out.splitlines() if "pg_trgm" in line]
        assert len(warnings) == 1 and "42501" in warnings[0], out
        assert cluster.psql(name, "SELECT count(*) FROM pg_extension WHERE extname = 'pg_trgm'") \
            == "0"
        assert cluster.psql(name, "SELECT count(*) FROM pg_indexes WHERE indexname = "
                            "'hiroba_topic_comment_trgm'") == "0"
        assert cluster.psql(name, "SELECT name FROM hiroba_migrations ORDER BY name").splitlines() \
            == ["0001_django_tables", "0002_author_id", "0003_topic_search",
                "0004_login_failure", "0005_instance_presence", "0007_event_clock"]
        fill_topics(cluster, name)
        s = server_factory(database=role_url)
        h = login(s, "alice")
        check_searches(cluster, name, s, h)
        # The database owner's migrate completes the step; the running server's statements are
        # planned again and answer the same.
        r = migrate(url)
        assert r.returncode == 0, r.stdout
        assert b"pg_trgm" not in r.stdout
        assert cluster.psql(name, "SELECT count(*) FROM hiroba_migrations WHERE name = "
                            "'0006_topic_trigram'") == "1"
        check_searches(cluster, name, s, h)
        s.stop()
    finally:
        cluster.drop_database(name)
        cluster.psql("postgres", "DROP ROLE %s" % role)


def test_api_requests_park_on_the_loop(cluster, db, server_factory):
    """API handlers run as fibers on the worker's loop and wait for PostgreSQL without blocking
    it: with one worker, --db-conns 2 and a single pool thread, twenty reads stuck behind a table
    lock keep exactly two sessions waiting in PostgreSQL (the pool's bound; on pool threads it
    would be one), the rest parked, the loop still answering; all twenty answer once the lock
    goes."""
    name, url = db
    s = server_factory(database=url, args=["--workers", "1", "--db-conns", "2"],
                       env={"UV_THREADPOOL_SIZE": "1"})
    h = login(s, "alice")  # the password hash runs on the pool while the fiber waits
    cat = requests.post(s.url + "/api/categories/", headers=h, json={"name": "c"}).json()["id"]
    r = requests.post(s.url + "/api/topics/", headers=h, json={"category": cat, "comment": "t"})
    assert r.status_code == 201, r.text
    locker = subprocess.Popen(cluster._psql_cmd(name, "BEGIN; LOCK TABLE bbs_topic IN ACCESS "
                                                "EXCLUSIVE MODE; SELECT pg_sleep(4); COMMIT;"),
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    waiting = "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'hiroba' AND " \
              "wait_event_type = 'Lock'"
    try:
        deadline = time.time() + 5
        while time.time() < deadline and int(cluster.psql(name, "SELECT count(*) FROM pg_locks "
                                                          "WHERE mode = 'AccessExclusiveLock' "
                                                          "AND relation = 'bbs_topic'::regclass")) == 0:
            time.sleep(0.05)
        with concurrent.futures.ThreadPoolExecutor(20) as pool:
            futures = [pool.submit(requests.get, s.url + "/api/topics/", headers=h, timeout=20)
                       for _ in range(20)]
            time.sleep(1.0)
            assert int(cluster.psql(name, waiting)) == 2
            t0 = time.time()
            assert requests.get(s.url + "/healthz", timeout=2).status_code == 200
            assert time.time() - t0 < 0.5  # the loop is free while all of them wait
            results = [f.result() for f in futures]
    finally:
        locker.wait(timeout=20)
    assert [r.status_code for r in results] == [200] * 20
    assert all(r.json()[0]["comment"] == "t" for r in results)
    assert int(cluster.psql(name, waiting)) == 0
