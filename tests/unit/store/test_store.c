/* SPDX-License-Identifier: MIT */
/* Unit tests for the store on SQLite: URLs, migrations (twice, over a Django-made database, after
 * a Django-style table rebuild), every operation with its JSON, cascades, unique and foreign-key
 * failures, concurrent token rotation, throttle windows, search, pagination and fault injection.
 * Each test gets a fresh database in its own temporary directory. Tests may open the file with
 * sqlite3 directly to look underneath the interface. */
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/err.h"
#include "store/store.h"
#include "store/store_internal.h"
#include "unit.h"

/* 2025-01-13 23:56:12 UTC = 2025年01月14日 08時56分12秒 in Tokyo. */
#define T0     (1736812572LL * 1000000)
#define T0_JST "2025年01月14日 08時56分12秒"
#define SEC    1000000LL

static char tmp_dir[64];

static void remove_tmp_dir(void)
{
    if (tmp_dir[0] != '\0') {
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp_dir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", tmp_dir);
    }
}

/* A temporary directory removed at exit, even when an assertion fails. */
static const char *make_tmp_dir(void)
{
    if (tmp_dir[0] == '\0') {
        strcpy(tmp_dir, "/tmp/hb-store-XXXXXX");
        ASSERT(mkdtemp(tmp_dir) != NULL);
        atexit(remove_tmp_dir);
    }
    return tmp_dir;
}

struct fx {
    char path[128];
    char url[160];
    struct hb_store *store;
    struct hb_store_conn *w, *r;
    struct hb_buf json;
};

static void fx_open_named(struct fx *f, const char *name)
{
    setenv("TZ", "Asia/Tokyo", 1);
    tzset();
    snprintf(f->path, sizeof(f->path), "%s/%s", make_tmp_dir(), name);
    snprintf(f->url, sizeof(f->url), "sqlite:///%s", f->path);
    ASSERT_EQ_INT(hb_store_open(f->url, NULL, &f->store), 0);
    ASSERT_EQ_INT(hb_store_migrate(f->store), 0);
    f->w = hb_store_writer(f->store);
    ASSERT_EQ_INT(hb_store_reader_open(f->store, &f->r), 0);
    hb_buf_init(&f->json, 1 << 20);
}

static void fx_open(struct fx *f)
{
    fx_open_named(f, "db.sqlite3");
}

static void fx_close(struct fx *f)
{
    hb_buf_release(&f->json);
    hb_store_reader_close(f->r);
    hb_store_destroy(f->store);
}

/* Compares the JSON written so far with want, then empties the buffer. */
#define ASSERT_JSON(f, want)                                                                       \
    do {                                                                                           \
        ASSERT_EQ_STR((f)->json.len > 0 ? (f)->json.data : "", (want));                            \
        hb_buf_reset(&(f)->json);                                                                  \
    } while (0)

/* Runs SQL on its own connection to the file, bypassing the store. */
static void raw_exec(const char *path, const char *sql)
{
    sqlite3 *db;
    ASSERT_EQ_INT(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
        HB_FAIL_("raw_exec '%s': %s", sql, msg ? msg : "?");
    sqlite3_close(db);
}

/* The first column of the first row of sql as an integer (-1 without a row). */
static long long raw_int(const char *path, const char *sql)
{
    sqlite3 *db;
    sqlite3_stmt *st;
    ASSERT_EQ_INT(sqlite3_open(path, &db), SQLITE_OK);
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        HB_FAIL_("raw_int '%s': %s", sql, sqlite3_errmsg(db));
    long long v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

/* Every schema object's SQL (minus Django's other apps), one per line, for comparisons. */
static char *raw_schema(const char *path)
{
    sqlite3 *db;
    sqlite3_stmt *st;
    struct hb_buf out;
    hb_buf_init(&out, 1 << 20);
    ASSERT_EQ_INT(sqlite3_open(path, &db), SQLITE_OK);
    ASSERT_EQ_INT(sqlite3_prepare_v2(
                      db,
                      "SELECT type || ' ' || name || ' ' || tbl_name || ': ' || coalesce(sql, '') "
                      "FROM sqlite_master WHERE tbl_name IN ('auth_user', 'bbs_category', "
                      "'bbs_topic', 'bbs_reply', 'chat_room', 'chat_chatlog', "
                      "'token_blacklist_outstandingtoken', 'token_blacklist_blacklistedtoken') "
                      "OR name LIKE 'hiroba%' ORDER BY type, name",
                      -1, &st, NULL),
                  SQLITE_OK);
    while (sqlite3_step(st) == SQLITE_ROW) {
        hb_buf_append_str(&out, (const char *)sqlite3_column_text(st, 0));
        hb_buf_append_char(&out, '\n');
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return hb_buf_detach(&out, NULL);
}

static int64_t make_user(struct fx *f, const char *name, bool is_staff)
{
    struct hb_store_user_input in = {
        .username = hb_str_from(name),
        .password = HB_STR("argon2$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA"),
        .email = HB_STR("a@example.com"),
        .is_staff = is_staff,
    };
    int64_t id = 0;
    ASSERT_EQ_INT(hb_store_user_create(f->w, &in, &id), 0);
    ASSERT(id > 0);
    return id;
}

static int64_t make_category(struct fx *f, const char *name, int64_t author_id)
{
    struct hb_store_meta meta;
    ASSERT_EQ_INT(hb_store_category_create(f->w, hb_str_from(name), author_id, &meta, NULL), 0);
    return meta.id;
}

static int64_t make_post(struct fx *f, bool is_reply, int64_t parent_id, const char *comment,
                         int64_t created_us, int64_t author_id)
{
    struct hb_store_post_input in = {parent_id, hb_str_from(comment), created_us, author_id};
    struct hb_store_meta meta;
    int err = is_reply ? hb_store_reply_create(f->w, &in, &meta, NULL)
                       : hb_store_topic_create(f->w, &in, &meta, NULL);
    ASSERT_EQ_INT(err, 0);
    return meta.id;
}

static int64_t make_room(struct fx *f, const char *name)
{
    struct hb_store_room_input in = {hb_str_from(name), -1, T0, 0};
    struct hb_store_meta meta;
    ASSERT_EQ_INT(hb_store_room_create(f->w, &in, &meta, NULL), 0);
    return meta.id;
}

/* ---- Opening and migrating ---- */

HB_TEST(store, open_urls)
{
    struct hb_store *store;
    const char *dir = make_tmp_dir();
    /* PostgreSQL URLs reach store_pg.c: an empty one is refused, an unreachable server is
     * HB_EDB (port 1 on loopback refuses at once). */
    ASSERT_EQ_INT(hb_store_open("postgres://", NULL, &store), HB_EINVAL);
    ASSERT_EQ_INT(hb_store_open("postgresql://127.0.0.1:1/x", NULL, &store), HB_EDB);
    ASSERT_EQ_INT(hb_store_open("mysql:///x", NULL, &store), HB_EINVAL);
    ASSERT_EQ_INT(hb_store_open("sqlite:///", NULL, &store), HB_EINVAL);
    ASSERT_EQ_INT(hb_store_open("sqlite:/x", NULL, &store), HB_EINVAL);
    ASSERT_EQ_INT(hb_store_open(NULL, NULL, &store), HB_EINVAL);
    char url[160];
    snprintf(url, sizeof(url), "sqlite:///%s/missing-dir/x.sqlite3", dir);
    ASSERT_EQ_INT(hb_store_open(url, NULL, &store), HB_EDB);

    /* Relative: resolved against the cwd at open, so a later chdir does not move readers. */
    ASSERT_EQ_INT(chdir(dir), 0);
    struct hb_store_options opts = {.is_durable = true, .busy_timeout_ms = 100};
    ASSERT_EQ_INT(hb_store_open("sqlite:///rel.sqlite3", &opts, &store), 0);
    ASSERT_EQ_STR(hb_store_backend_name(store), "sqlite");
    ASSERT_EQ_INT(hb_store_migrate(store), 0);
    ASSERT_EQ_INT(chdir("/"), 0);
    struct hb_store_conn *r;
    ASSERT_EQ_INT(hb_store_reader_open(store, &r), 0);
    ASSERT_EQ_INT(hb_store_ping(r), 0);
    hb_store_reader_close(r);
    hb_store_destroy(store);
    char path[128];
    snprintf(path, sizeof(path), "%s/rel.sqlite3", dir);
    ASSERT_EQ_INT(access(path, F_OK), 0);
    sqlite3 *db;
    sqlite3_stmt *st;
    sqlite3_open(path, &db);
    sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL);
    ASSERT_EQ_INT(sqlite3_step(st), SQLITE_ROW);
    ASSERT_EQ_STR((const char *)sqlite3_column_text(st, 0), "wal");
    sqlite3_finalize(st);
    sqlite3_close(db);

    /* :memory: works, readers share the writer. */
    ASSERT_EQ_INT(hb_store_open("sqlite:///:memory:", NULL, &store), 0);
    ASSERT_EQ_INT(hb_store_migrate(store), 0);
    ASSERT_EQ_INT(hb_store_reader_open(store, &r), 0);
    ASSERT(r == hb_store_writer(store));
    ASSERT_EQ_INT(hb_store_category_create(r, HB_STR("mem"), 0, NULL, NULL), 0);
    hb_store_reader_close(r);
    hb_store_destroy(store);
    hb_store_destroy(NULL);
}

HB_TEST(store, migrate_creates_schema_and_is_idempotent)
{
    struct fx f;
    fx_open(&f);
    const char *tables[] = {"auth_user",
                            "bbs_category",
                            "bbs_topic",
                            "bbs_reply",
                            "chat_room",
                            "chat_chatlog",
                            "token_blacklist_outstandingtoken",
                            "token_blacklist_blacklistedtoken",
                            "hiroba_migrations",
                            "hiroba_topic_fts",
                            "hiroba_login_failure"};
    char sql[256];
    for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
        snprintf(sql, sizeof(sql), "SELECT count(*) FROM sqlite_master WHERE name = '%s'",
                 tables[i]);
        if (raw_int(f.path, sql) != 1)
            HB_FAIL_("table %s missing", tables[i]);
    }
    const char *indexes[] = {"bbs_topic_category_id_332e03a8",
                             "bbs_reply_topic_id_bad3c583",
                             "chat_chatlog_room_id_cd096de9",
                             "token_blacklist_outstandingtoken_user_id_83bc629a",
                             "hiroba_bbs_category_author_id",
                             "hiroba_bbs_topic_author_id",
                             "hiroba_bbs_reply_author_id",
                             "hiroba_chat_room_author_id",
                             "hiroba_chat_chatlog_author_id",
                             "hiroba_login_failure_scope_key_failed_at",
                             "hiroba_instance",
                             "hiroba_presence",
                             "hiroba_topic_fts_ai",
                             "hiroba_topic_fts_ad",
                             "hiroba_topic_fts_au"};
    for (size_t i = 0; i < sizeof(indexes) / sizeof(indexes[0]); i++) {
        snprintf(sql, sizeof(sql), "SELECT count(*) FROM sqlite_master WHERE name = '%s'",
                 indexes[i]);
        if (raw_int(f.path, sql) != 1)
            HB_FAIL_("index or trigger %s missing", indexes[i]);
    }
    ASSERT_EQ_INT(raw_int(f.path, "SELECT count(*) FROM hiroba_migrations"), 5);
    ASSERT_EQ_INT(raw_int(f.path, "SELECT count(*) FROM sqlite_master WHERE name = "
                                  "'django_migrations'"),
                  0);
    ASSERT_EQ_INT(raw_int(f.path, "SELECT count(*) FROM pragma_table_info('chat_chatlog') WHERE "
                                  "name = 'author_id' AND \"notnull\" = 0"),
                  1);

    /* A second run changes nothing: another connection sees no new commit. */
    sqlite3 *db;
    sqlite3_stmt *st;
    ASSERT_EQ_INT(sqlite3_open(f.path, &db), SQLITE_OK);
    sqlite3_prepare_v2(db, "PRAGMA data_version", -1, &st, NULL);
    sqlite3_step(st);
    long long before = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    char *schema = raw_schema(f.path);
    ASSERT_EQ_INT(hb_store_migrate(f.store), 0);
    ASSERT_EQ_INT(hb_store_migrate(f.store), 0);
    sqlite3_step(st);
    ASSERT_EQ_INT(sqlite3_column_int64(st, 0), before);
    sqlite3_finalize(st);
    sqlite3_close(db);
    char *again = raw_schema(f.path);
    ASSERT_EQ_STR(again, schema);
    free(schema);
    free(again);
    ASSERT_EQ_INT(raw_int(f.path, "SELECT count(*) FROM hiroba_migrations"), 5);
    ASSERT_EQ_INT(hb_store_migrate(NULL), HB_EINVAL);
    fx_close(&f);
}

HB_TEST(store, migrate_repairs_a_django_table_rebuild)
{
    struct fx f;
    fx_open(&f);
    int64_t cat = make_category(&f, "c", 0);
    make_post(&f, false, cat, "before the rebuild", T0, 0);
    /* What Django's SQLite schema editor does to alter a table: copy into a new table with only
     * the columns it knows, drop the old one (and with it hiroba's triggers), rename. */
    raw_exec(f.path, "PRAGMA foreign_keys = OFF; BEGIN;"
                     "CREATE TABLE \"new__bbs_topic\" (\"id\" integer NOT NULL PRIMARY KEY "
                     "AUTOINCREMENT, \"created_at\" datetime NOT NULL, \"comment\" varchar(2000) "
                     "NOT NULL, \"category_id\" bigint NOT NULL REFERENCES \"bbs_category\" "
                     "(\"id\") DEFERRABLE INITIALLY DEFERRED);"
                     "INSERT INTO new__bbs_topic (id, created_at, comment, category_id) "
                     "SELECT id, created_at, comment, category_id FROM bbs_topic;"
                     "DROP TABLE bbs_topic; ALTER TABLE new__bbs_topic RENAME TO bbs_topic;"
                     "CREATE INDEX \"bbs_topic_category_id_332e03a8\" ON \"bbs_topic\" "
                     "(\"category_id\");"
                     "INSERT INTO bbs_topic (created_at, comment, category_id) "
                     "VALUES ('2025-01-13 23:56:12', 'written while unindexed', 1);"
                     "COMMIT;");
    ASSERT_EQ_INT(raw_int(f.path, "SELECT count(*) FROM sqlite_master WHERE type = 'trigger'"), 0);
    ASSERT_EQ_INT(hb_store_migrate(f.store), 0);
    ASSERT_EQ_INT(raw_int(f.path, "SELECT count(*) FROM sqlite_master WHERE type = 'trigger'"), 3);
    ASSERT_EQ_INT(raw_int(f.path, "SELECT count(*) FROM pragma_table_info('bbs_topic') WHERE "
                                  "name = 'author_id'"),
                  1);
    struct hb_store_topic_query q = {.search = HB_STR("unindexed")};
    ASSERT_EQ_INT(hb_store_topic_list(f.r, &q, NULL, &f.json), 0);
    ASSERT_JSON(&f, "[{\"id\":2,\"category\":1,\"created_at\":\"" T0_JST
                    "\",\"comment\":\"written while unindexed\",\"author\":null}]");
    q.search = HB_STR("rebuild");
    ASSERT_EQ_INT(hb_store_topic_list(f.r, &q, NULL, &f.json), 0);
    ASSERT(strstr(f.json.data, "\"id\":1,") != NULL);
    hb_buf_reset(&f.json);
    fx_close(&f);
}

/* ---- Users ---- */

HB_TEST(store, users)
{
    struct fx f;
    fx_open(&f);
    int64_t alice = make_user(&f, "alice", false);
    int64_t bob = make_user(&f, "bob", true);
    ASSERT(bob > alice);
    struct hb_store_user_input dup = {.username = HB_STR("alice"), .password = HB_STR("x")};
    ASSERT_EQ_INT(hb_store_user_create(f.w, &dup, NULL), HB_EEXIST);
    dup.username = HB_STR("Alice"); /* case-sensitive */
    ASSERT_EQ_INT(hb_store_user_create(f.w, &dup, NULL), 0);
    dup.username = HB_STR("");
    ASSERT_EQ_INT(hb_store_user_create(f.w, &dup, NULL), HB_EINVAL);
    ASSERT_EQ_INT(hb_store_user_create(f.w, NULL, NULL), HB_EINVAL);
    ASSERT_EQ_INT(hb_store_user_create(f.r, &dup, NULL), HB_EINVAL);
    dup.username = HB_STR("carol");
    ASSERT_EQ_INT(hb_store_user_create(f.r, &dup, NULL), HB_EPERM); /* a reader never writes */

    struct hb_store_user u;
    ASSERT_EQ_INT(hb_store_user_get_by_username(f.r, HB_STR("alice"), &u), 0);
    ASSERT_EQ_INT(u.id, alice);
    ASSERT_EQ_STR(u.username, "alice");
    ASSERT_EQ_STR(u.email, "a@example.com");
    ASSERT_EQ_STR(u.password, "argon2$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA");
    ASSERT(u.is_active && !u.is_staff && !u.is_superuser);
    ASSERT_EQ_INT(hb_store_user_get(f.r, bob, &u), 0);
    ASSERT_EQ_STR(u.username, "bob");
    ASSERT(u.is_staff);
    ASSERT_EQ_INT(hb_store_user_get_by_username(f.r, HB_STR("nobody"), &u), HB_ENOTFOUND);
    ASSERT_EQ_INT(hb_store_user_get_by_username(f.r, HB_STR(""), &u), HB_ENOTFOUND);
    ASSERT_EQ_INT(hb_store_user_get(f.r, 999, &u), HB_ENOTFOUND);
    ASSERT_EQ_INT(hb_store_user_get(f.r, -1, &u), HB_ENOTFOUND);

    ASSERT_EQ_INT(hb_store_user_set_password(f.w, alice, HB_STR("pbkdf2_sha256$1$s$h")), 0);
    ASSERT_EQ_INT(hb_store_user_set_last_login(f.w, alice, T0), 0);
    ASSERT_EQ_INT(hb_store_user_set_active(f.w, alice, false), 0);
    ASSERT_EQ_INT(hb_store_user_get(f.r, alice, &u), 0);
    ASSERT_EQ_STR(u.password, "pbkdf2_sha256$1$s$h");
    ASSERT(!u.is_active);
    ASSERT_EQ_INT(hb_store_user_set_password(f.w, 999, HB_STR("x")), HB_ENOTFOUND);
    ASSERT_EQ_INT(hb_store_user_set_last_login(f.w, 999, T0), HB_ENOTFOUND);

    /* Django's columns, as Django would write them. */
    ASSERT_EQ_INT(raw_int(f.path, "SELECT count(*) FROM auth_user WHERE username = 'alice' AND "
                                  "last_login = '2025-01-13 23:56:12' AND first_name = '' AND "
                                  "last_name = '' AND is_superuser = 0 AND date_joined LIKE "
                                  "'2%'"),
                  1);

    /* A hash too long for the struct is reported as "" (never verifies), not truncated. */
    raw_exec(f.path, "UPDATE auth_user SET password = printf('%.600c', 'x') WHERE username = "
                     "'bob'");
    ASSERT_EQ_INT(hb_store_user_get(f.r, bob, &u), 0);
    ASSERT_EQ_STR(u.password, "");
    fx_close(&f);
}

/* ---- Tokens ---- */

static struct hb_store_token token(const char *jti, int64_t user_id, int64_t exp_s)
{
    return (struct hb_store_token){hb_str_from(jti), user_id, T0, T0 + exp_s * SEC};
}

HB_TEST(store, tokens_record_blacklist_purge)
{
    struct fx f;
    fx_open(&f);
    int64_t alice = make_user(&f, "alice", false);
    struct hb_store_token a = token("aaaa", alice, 3600);
    bool is_bl = true;
    ASSERT_EQ_INT(hb_store_token_record(f.w, &a), 0);
    ASSERT_EQ_INT(hb_store_token_record(f.w, &a), HB_EEXIST);
    ASSERT_EQ_INT(hb_store_token_is_blacklisted(f.r, a.jti, &is_bl), 0);
    ASSERT(!is_bl);
    ASSERT_EQ_INT(hb_store_token_blacklist(f.w, &a, T0), 0);
    ASSERT_EQ_INT(hb_store_token_blacklist(f.w, &a, T0), HB_EEXIST);
    ASSERT_EQ_INT(hb_store_token_is_blacklisted(f.r, a.jti, &is_bl), 0);
    ASSERT(is_bl);
    ASSERT_EQ_INT(raw_int(f.path, "SELECT count(*) FROM token_blacklist_outstandingtoken WHERE "
                                  "jti = 'aaaa' AND token = '' AND user_id = 1 AND created_at = "
                                  "'2025-01-13 23:56:12' AND expires_at = '2025-01-14 00:56:12'"),
                  1);

    /* Blacklisting a token never recorded (rotated ones) inserts its outstanding row first; a
     * user that does not exist is stored as NULL. */
    struct hb_store_token b = token("bbbb", 999, 60);
    ASSERT_EQ_INT(hb_store_token_blacklist(f.w, &b, T0), 0);
    ASSERT_EQ_INT(hb_store_token_is_blacklisted(f.r, b.jti, &is_bl), 0);
    ASSERT(is_bl);
    ASSERT_EQ_INT(raw_int(f.path, "SELECT count(*) FROM token_blacklist_outstandingtoken WHERE "
                                  "jti = 'bbbb' AND user_id IS NULL"),
                  1);

    /* Rotation: old blacklisted, new recorded; the same old again is refused and changes
     * nothing. */
    struct hb_store_token c = token("cccc", alice, 7200), d = token("dddd", alice, 7200);
    struct hb_store_token e = token("eeee", alice, 7200);
    ASSERT_EQ_INT(hb_store_token_rotate(f.w, &c, &d, T0), 0);
    ASSERT_EQ_INT(hb_store_token_rotate(f.w, &c, &e, T0), HB_EEXIST);
    ASSERT_EQ_INT(raw_int(f.path, "SELECT count(*) FROM token_blacklist_outstandingtoken WHERE "
                                  "jti = 'eeee'"),
                  0);
    ASSERT_EQ_INT(hb_store_token_is_blacklisted(f.r, d.jti, &is_bl), 0);
    ASSERT(!is_bl);
    ASSERT_EQ_INT(hb_store_token_rotate(f.w, &d, NULL, T0), 0);
    ASSERT_EQ_INT(hb_store_token_is_blacklisted(f.r, HB_STR("never-seen"), &is_bl), 0);
    ASSERT(!is_bl);

    /* Bad input. */
    struct hb_store_token bad = token("", alice, 60);
    ASSERT_EQ_INT(hb_store_token_record(f.w, &bad), HB_EINVAL);
    ASSERT_EQ_INT(hb_store_token_record(f.w, NULL), HB_EINVAL);
    bad.jti = (struct hb_str){"x", 256};
    ASSERT_EQ_INT(hb_store_token_blacklist(f.w, &bad, T0), HB_EINVAL);
    ASSERT_EQ_INT(hb_store_token_is_blacklisted(f.r, bad.jti, &is_bl), 0);
    ASSERT(!is_bl);
    bad = token("ffff", alice, 60);
    bad.expires_us = HB_STORE_TIME_NONE;
    ASSERT_EQ_INT(hb_store_token_rotate(f.w, &a, &bad, T0), HB_EINVAL);

    /* Purge at T0 + 1 h + 1 s: a (1 h) and b (60 s) expired with their blacklist rows; c, d
     * (2 h) stay. */
    int64_t n = -1;
    ASSERT_EQ_INT(hb_store_token_purge(f.w, T0 + 3601 * SEC, &n), 0);
    ASSERT_EQ_INT(n, 2);
    ASSERT_EQ_INT(raw_int(f.path, "SELECT count(*) FROM token_blacklist_outstandingtoken"), 2);
    ASSERT_EQ_INT(raw_int(f.path, "SELECT count(*) FROM token_blacklist_blacklistedtoken"), 2);
    ASSERT_EQ_INT(hb_store_token_purge(f.w, T0 + 3601 * SEC, NULL), 0);
    fx_close(&f);
}

struct race {
    struct hb_store_conn *conn;
    struct hb_store_token old, new_tok;
    pthread_barrier_t *barrier;
    int result;
};

static void *race_main(void *arg)
{
    struct race *r = arg;
    pthread_barrier_wait(r->barrier);
    r->result = hb_store_token_rotate(r->conn, &r->old, &r->new_tok, T0);
    return NULL;
}

/* Two threads rotate the same refresh token at once; exactly one may win. */
static void rotate_race(struct hb_store_conn *c1, struct hb_store_conn *c2, const char *tag,
                        int rounds)
{
    for (int i = 0; i < rounds; i++) {
        char old_jti[32], new1[32], new2[32];
        snprintf(old_jti, sizeof(old_jti), "old-%s-%d", tag, i);
        snprintf(new1, sizeof(new1), "new1-%s-%d", tag, i);
        snprintf(new2, sizeof(new2), "new2-%s-%d", tag, i);
        pthread_barrier_t barrier;
        pthread_barrier_init(&barrier, NULL, 2);
        struct race r[2] = {{c1, token(old_jti, 1, 60), token(new1, 1, 60), &barrier, 1},
                            {c2, token(old_jti, 1, 60), token(new2, 1, 60), &barrier, 1}};
        pthread_t t[2];
        for (int k = 0; k < 2; k++)
            ASSERT_EQ_INT(pthread_create(&t[k], NULL, race_main, &r[k]), 0);
        for (int k = 0; k < 2; k++)
            pthread_join(t[k], NULL);
        pthread_barrier_destroy(&barrier);
        int wins = (r[0].result == 0) + (r[1].result == 0);
        int losses = (r[0].result == HB_EEXIST) + (r[1].result == HB_EEXIST);
        if (wins != 1 || losses != 1)
            HB_FAIL_("round %d: results %d and %d", i, r[0].result, r[1].result);
    }
}

HB_TEST(store, tokens_concurrent_rotation)
{
    struct fx f;
    fx_open(&f);
    make_user(&f, "alice", false);
    /* One writer shared by two pool threads (the server's setup). */
    rotate_race(f.w, f.w, "shared", 50);
    /* Two processes' writers on one file: SQLite's write lock decides. */
    struct hb_store *other;
    ASSERT_EQ_INT(hb_store_open(f.url, NULL, &other), 0);
    rotate_race(f.w, hb_store_writer(other), "two", 50);
    hb_store_destroy(other);
    ASSERT_EQ_INT(raw_int(f.path, "SELECT count(*) FROM token_blacklist_blacklistedtoken"), 100);
    /* Each round recorded exactly one new token. */
    ASSERT_EQ_INT(raw_int(f.path, "SELECT count(*) FROM token_blacklist_outstandingtoken WHERE "
                                  "jti LIKE 'new%'"),
                  100);
    fx_close(&f);
}

/* ---- Throttle ---- */

HB_TEST(store, throttle_window)
{
    struct fx f;
    fx_open(&f);
    enum hb_store_throttle_scope acct = HB_STORE_THROTTLE_ACCOUNT, ip = HB_STORE_THROTTLE_IP;
    for (int i = 0; i < 5; i++)
        ASSERT_EQ_INT(hb_store_throttle_record(f.w, acct, HB_STR("alice"), T0 + i * 60 * SEC), 0);
    ASSERT_EQ_INT(hb_store_throttle_record(f.w, ip, HB_STR("alice"), T0), 0);
    ASSERT_EQ_INT(hb_store_throttle_record(f.w, ip, HB_STR("127.0.0.1"), T0 + 1), 0);

    int64_t n, oldest;
    ASSERT_EQ_INT(hb_store_throttle_count(f.r, acct, HB_STR("alice"), T0 - 1, &n, &oldest), 0);
    ASSERT_EQ_INT(n, 5);
    ASSERT_EQ_INT(oldest, T0);
    /* The window is strictly after since: the failure at T0 has left it. */
    ASSERT_EQ_INT(hb_store_throttle_count(f.r, acct, HB_STR("alice"), T0, &n, &oldest), 0);
    ASSERT_EQ_INT(n, 4);
    ASSERT_EQ_INT(oldest, T0 + 60 * SEC);
    ASSERT_EQ_INT(
        hb_store_throttle_count(f.r, acct, HB_STR("alice"), T0 + 10 * 60 * SEC, &n, &oldest), 0);
    ASSERT_EQ_INT(n, 0);
    ASSERT_EQ_INT(oldest, HB_STORE_TIME_NONE);
    ASSERT_EQ_INT(hb_store_throttle_count(f.r, acct, HB_STR("Alice"), T0 - 1, &n, &oldest), 0);
    ASSERT_EQ_INT(n, 0);
    ASSERT_EQ_INT(hb_store_throttle_count(f.r, ip, HB_STR("127.0.0.1"), T0 - 1, &n, &oldest), 0);
    ASSERT_EQ_INT(n, 1);
    ASSERT_EQ_INT(oldest, T0 + 1);

    ASSERT_EQ_INT(hb_store_throttle_clear(f.w, acct, HB_STR("alice")), 0);
    ASSERT_EQ_INT(hb_store_throttle_count(f.r, acct, HB_STR("alice"), T0 - 1, &n, &oldest), 0);
    ASSERT_EQ_INT(n, 0);
    ASSERT_EQ_INT(hb_store_throttle_count(f.r, ip, HB_STR("alice"), T0 - 1, &n, &oldest), 0);
    ASSERT_EQ_INT(n, 1); /* the ip scope is untouched */

    ASSERT_EQ_INT(hb_store_throttle_purge(f.w, T0), 0);
    ASSERT_EQ_INT(raw_int(f.path, "SELECT count(*) FROM hiroba_login_failure"), 1);
    ASSERT_EQ_INT(hb_store_throttle_record(f.w, acct, HB_STR(""), T0), HB_EINVAL);
    ASSERT_EQ_INT(hb_store_throttle_record(f.w, (enum hb_store_throttle_scope)7, HB_STR("x"), T0),
                  HB_EINVAL);
    ASSERT_EQ_INT(hb_store_throttle_count(f.r, acct, HB_STR("x"), INT64_MIN, &n, &oldest), 0);
    fx_close(&f);
}

/* ---- Categories ---- */

HB_TEST(store, categories)
{
    struct fx f;
    fx_open(&f);
    int64_t alice = make_user(&f, "alice", false);
    struct hb_store_meta meta;
    ASSERT_EQ_INT(hb_store_category_list(f.r, NULL, &f.json), 0);
    ASSERT_JSON(&f, "[]");
    ASSERT_EQ_INT(hb_store_category_create(f.w, HB_STR("雑談"), alice, &meta, &f.json), 0);
    ASSERT_JSON(&f, "{\"id\":1,\"name\":\"雑談\",\"author\":{\"id\":1,\"username\":\"alice\"}}");
    ASSERT_EQ_INT(meta.id, 1);
    ASSERT_EQ_INT(meta.author_id, alice);
    ASSERT_EQ_INT(meta.parent_id, 0);
    ASSERT_EQ_INT(hb_store_category_create(f.w, HB_STR("雑談"), 0, &meta, &f.json), 0); /* dup ok */
    ASSERT_JSON(&f, "{\"id\":2,\"name\":\"雑談\",\"author\":null}");
    ASSERT_EQ_INT(hb_store_category_create(f.w, HB_STR("ghost"), 999, NULL, &f.json), 0);
    ASSERT_JSON(&f, "{\"id\":3,\"name\":\"ghost\",\"author\":null}");
    ASSERT_EQ_INT(hb_store_category_list(f.r, NULL, &f.json), 0);
    ASSERT_JSON(&f, "[{\"id\":1,\"name\":\"雑談\",\"author\":{\"id\":1,\"username\":\"alice\"}},"
                    "{\"id\":2,\"name\":\"雑談\",\"author\":null},"
                    "{\"id\":3,\"name\":\"ghost\",\"author\":null}]");
    ASSERT_EQ_INT(hb_store_category_update(f.w, 2, HB_STR("news \"quoted\"\n"), &meta, &f.json), 0);
    ASSERT_JSON(&f, "{\"id\":2,\"name\":\"news \\\"quoted\\\"\\n\",\"author\":null}");
    ASSERT_EQ_INT(hb_store_category_get(f.r, 1, &meta, NULL), 0);
    ASSERT_EQ_INT(meta.author_id, alice);
    ASSERT_EQ_INT(hb_store_category_get(f.r, 1, NULL, &f.json), 0);
    ASSERT_JSON(&f, "{\"id\":1,\"name\":\"雑談\",\"author\":{\"id\":1,\"username\":\"alice\"}}");
    ASSERT_EQ_INT(hb_store_category_get(f.r, 99, &meta, &f.json), HB_ENOTFOUND);
    ASSERT_EQ_INT(f.json.len, 0);
    ASSERT_EQ_INT(hb_store_category_update(f.w, 99, HB_STR("x"), &meta, &f.json), HB_ENOTFOUND);
    ASSERT_EQ_INT(f.json.len, 0);
    ASSERT_EQ_INT(hb_store_category_create(f.w, HB_STR(""), 0, NULL, NULL), HB_EINVAL);
    ASSERT_EQ_INT(hb_store_category_create(f.w, (struct hb_str){NULL, 3}, 0, NULL, NULL),
                  HB_EINVAL);
    ASSERT_EQ_INT(hb_store_category_delete(f.w, 99, NULL), HB_ENOTFOUND);
    ASSERT_EQ_INT(hb_store_category_delete(f.w, 3, NULL), 0);
    ASSERT_EQ_INT(hb_store_category_get(f.r, 3, NULL, NULL), HB_ENOTFOUND);
    fx_close(&f);
}

HB_TEST(store, category_delete_cascades)
{
    struct fx f;
    fx_open(&f);
    int64_t keep = make_category(&f, "keep", 0), doomed = make_category(&f, "doomed", 0);
    int64_t t1 = make_post(&f, false, doomed, "t1", T0, 0);
    int64_t t_keep = make_post(&f, false, keep, "kept", T0, 0);
    int64_t t2 = make_post(&f, false, doomed, "t2", T0, 0);
    make_post(&f, true, t1, "r1", T0, 0);
    make_post(&f, true, t2, "r2", T0, 0);
    make_post(&f, true, t2, "r3", T0, 0);
    int64_t r_keep = make_post(&f, true, t_keep, "kept reply", T0, 0);

    struct hb_buf ids;
    hb_buf_init(&ids, 1024);
    ASSERT_EQ_INT(hb_store_category_delete(f.w, doomed, &ids), 0);
    ASSERT_EQ_INT(ids.len, 2 * sizeof(int64_t));
    int64_t got[2];
    memcpy(got, ids.data, sizeof(got));
    ASSERT_EQ_INT(got[0], t1);
    ASSERT_EQ_INT(got[1], t2);
    hb_buf_release(&ids);
    ASSERT_EQ_INT(raw_int(f.path, "SELECT count(*) FROM bbs_topic"), 1);
    ASSERT_EQ_INT(raw_int(f.path, "SELECT count(*) FROM bbs_reply"), 1);
    ASSERT_EQ_INT(raw_int(f.path, "SELECT count(*) FROM bbs_category"), 1);
    ASSERT_EQ_INT(hb_store_reply_get(f.r, r_keep, NULL, NULL), 0);
    /* The search index followed the deletes (the triggers). */
    struct hb_store_topic_query q = {.search = HB_STR("t1")};
    ASSERT_EQ_INT(hb_store_topic_list(f.r, &q, NULL, &f.json), 0);
    ASSERT_JSON(&f, "[]");
    ASSERT_EQ_INT(raw_int(f.path, "SELECT count(*) FROM hiroba_topic_fts WHERE hiroba_topic_fts "
                                  "MATCH 'kept'"),
                  1);
    fx_close(&f);
}

/* ---- Topics and replies ---- */

HB_TEST(store, topics_crud)
{
    struct fx f;
    fx_open(&f);
    int64_t alice = make_user(&f, "alice", false);
    int64_t cat = make_category(&f, "c", alice), cat2 = make_category(&f, "d", alice);
    struct hb_store_meta meta;
    struct hb_store_post_input in = {cat, HB_STR("こんにちは \"世界\"\t\\"), T0, alice};
    ASSERT_EQ_INT(hb_store_topic_create(f.w, &in, &meta, &f.json), 0);
    ASSERT_JSON(&f, "{\"id\":1,\"category\":1,\"created_at\":\"" T0_JST
                    "\",\"comment\":\"こんにちは \\\"世界\\\"\\t\\\\\",\"author\":{\"id\":1,"
                    "\"username\":\"alice\"}}");
    ASSERT_EQ_INT(meta.parent_id, cat);
    ASSERT_EQ_INT(meta.author_id, alice);
    ASSERT_EQ_INT(raw_int(f.path, "SELECT count(*) FROM bbs_topic WHERE created_at = "
                                  "'2025-01-13 23:56:12'"),
                  1);

    /* created_at omitted: now; microseconds stored, dropped on output. */
    in = (struct hb_store_post_input){cat, HB_STR("now"), HB_STORE_TIME_NONE, 0};
    ASSERT_EQ_INT(hb_store_topic_create(f.w, &in, &meta, NULL), 0);
    ASSERT_EQ_INT(raw_int(f.path, "SELECT count(*) FROM bbs_topic WHERE id = 2 AND "
                                  "abs(strftime('%s', created_at) - strftime('%s', 'now')) < 5"),
                  1);

    in = (struct hb_store_post_input){999, HB_STR("orphan"), T0, 0};
    ASSERT_EQ_INT(hb_store_topic_create(f.w, &in, &meta, &f.json), HB_ECONFLICT);
    ASSERT_EQ_INT(f.json.len, 0);
    in.parent_id = 0;
    ASSERT_EQ_INT(hb_store_topic_create(f.w, &in, &meta, &f.json), HB_EINVAL);
    in = (struct hb_store_post_input){cat, HB_STR(""), T0, 0};
    ASSERT_EQ_INT(hb_store_topic_create(f.w, &in, &meta, &f.json), HB_EINVAL);
    in = (struct hb_store_post_input){cat, {NULL, 0}, T0, 0};
    ASSERT_EQ_INT(hb_store_topic_create(f.w, &in, &meta, &f.json), HB_EINVAL);
    in = (struct hb_store_post_input){cat, HB_STR("x"), HB_STORE_TIME_MAX_US + 1, 0};
    ASSERT_EQ_INT(hb_store_topic_create(f.w, &in, &meta, &f.json), HB_EINVAL);
    ASSERT_EQ_INT(hb_store_topic_create(f.w, NULL, &meta, &f.json), HB_EINVAL);

    /* Partial updates: each field alone, and none at all (PATCH {}). */
    struct hb_store_post_input upd = {0, HB_STR("edited"), HB_STORE_TIME_NONE, 0};
    ASSERT_EQ_INT(hb_store_topic_update(f.w, 1, &upd, &meta, &f.json), 0);
    ASSERT_JSON(&f, "{\"id\":1,\"category\":1,\"created_at\":\"" T0_JST
                    "\",\"comment\":\"edited\",\"author\":{\"id\":1,\"username\":\"alice\"}}");
    upd = (struct hb_store_post_input){cat2, {NULL, 0}, T0 + 3600 * SEC + 250000, 0};
    ASSERT_EQ_INT(hb_store_topic_update(f.w, 1, &upd, &meta, &f.json), 0);
    ASSERT_JSON(&f, "{\"id\":1,\"category\":2,\"created_at\":\"2025年01月14日 09時56分12秒\","
                    "\"comment\":\"edited\",\"author\":{\"id\":1,\"username\":\"alice\"}}");
    ASSERT_EQ_INT(raw_int(f.path, "SELECT count(*) FROM bbs_topic WHERE created_at = "
                                  "'2025-01-14 00:56:12.250000'"),
                  1);
    upd = (struct hb_store_post_input){0, {NULL, 0}, HB_STORE_TIME_NONE, 0};
    ASSERT_EQ_INT(hb_store_topic_update(f.w, 1, &upd, &meta, &f.json), 0);
    ASSERT_JSON(&f, "{\"id\":1,\"category\":2,\"created_at\":\"2025年01月14日 09時56分12秒\","
                    "\"comment\":\"edited\",\"author\":{\"id\":1,\"username\":\"alice\"}}");
    upd.parent_id = 999;
    ASSERT_EQ_INT(hb_store_topic_update(f.w, 1, &upd, &meta, &f.json), HB_ECONFLICT);
    ASSERT_EQ_INT(f.json.len, 0);
    ASSERT_EQ_INT(hb_store_topic_get(f.r, 1, &meta, NULL), 0);
    ASSERT_EQ_INT(meta.parent_id, cat2); /* rolled back */
    upd.parent_id = 0;
    ASSERT_EQ_INT(hb_store_topic_update(f.w, 999, &upd, &meta, &f.json), HB_ENOTFOUND);
    ASSERT_EQ_INT(hb_store_topic_get(f.r, 999, &meta, &f.json), HB_ENOTFOUND);

    /* Delete cascades to the topic's replies only. */
    int64_t r1 = make_post(&f, true, 1, "r1", T0, 0);
    int64_t r_other = make_post(&f, true, 2, "r2", T0, 0);
    ASSERT_EQ_INT(hb_store_topic_delete(f.w, 1, &meta), 0);
    ASSERT_EQ_INT(meta.id, 1);
    ASSERT_EQ_INT(meta.parent_id, cat2);
    ASSERT_EQ_INT(hb_store_reply_get(f.r, r1, NULL, NULL), HB_ENOTFOUND);
    ASSERT_EQ_INT(hb_store_reply_get(f.r, r_other, NULL, NULL), 0);
    ASSERT_EQ_INT(hb_store_topic_delete(f.w, 1, &meta), HB_ENOTFOUND);
    ASSERT_EQ_INT(hb_store_topic_delete(f.r, 2, &meta), HB_EPERM);
    fx_close(&f);
}

HB_TEST(store, replies)
{
    struct fx f;
    fx_open(&f);
    int64_t bob = make_user(&f, "bob", false);
    int64_t cat = make_category(&f, "c", 0);
    int64_t t1 = make_post(&f, false, cat, "t1", T0, 0),
            t2 = make_post(&f, false, cat, "t2", T0, 0);
    struct hb_store_meta meta;
    struct hb_store_post_input in = {t1, HB_STR("first"), T0, bob};
    ASSERT_EQ_INT(hb_store_reply_create(f.w, &in, &meta, &f.json), 0);
    ASSERT_JSON(&f, "{\"id\":1,\"topic\":1,\"created_at\":\"" T0_JST
                    "\",\"comment\":\"first\",\"author\":{\"id\":1,\"username\":\"bob\"}}");
    ASSERT_EQ_INT(meta.parent_id, t1);
    make_post(&f, true, t2, "other", T0, 0);
    make_post(&f, true, t1, "third", T0, 0);
    in.parent_id = 999;
    ASSERT_EQ_INT(hb_store_reply_create(f.w, &in, &meta, &f.json), HB_ECONFLICT);

    ASSERT_EQ_INT(hb_store_reply_list(f.r, t1, 0, NULL, &f.json), 0);
    ASSERT_JSON(&f, "[{\"id\":1,\"topic\":1,\"created_at\":\"" T0_JST "\",\"comment\":\"first\","
                    "\"author\":{\"id\":1,\"username\":\"bob\"}},{\"id\":3,\"topic\":1,"
                    "\"created_at\":\"" T0_JST "\",\"comment\":\"third\",\"author\":null}]");
    ASSERT_EQ_INT(hb_store_reply_list(f.r, t1, 1, NULL, &f.json), 0); /* ?after=1 */
    ASSERT_JSON(&f, "[{\"id\":3,\"topic\":1,\"created_at\":\"" T0_JST
                    "\",\"comment\":\"third\",\"author\":null}]");
    ASSERT_EQ_INT(hb_store_reply_list(f.r, 999, 0, NULL, &f.json), 0);
    ASSERT_JSON(&f, "[]");
    ASSERT_EQ_INT(hb_store_reply_list(f.r, 0, 1, NULL, &f.json), 0); /* every topic */
    ASSERT(strstr(f.json.data, "\"id\":2,") && strstr(f.json.data, "\"id\":3,") &&
           !strstr(f.json.data, "\"id\":1,"));
    hb_buf_reset(&f.json);

    struct hb_store_page page = {.size = 1, .number = 2};
    ASSERT_EQ_INT(hb_store_reply_list(f.r, t1, 0, &page, &f.json), 0);
    ASSERT_EQ_INT(page.count, 2);
    ASSERT(strstr(f.json.data, "\"id\":3,") != NULL);
    hb_buf_reset(&f.json);

    struct hb_store_post_input upd = {t2, HB_STR("moved"), HB_STORE_TIME_NONE, 0};
    ASSERT_EQ_INT(hb_store_reply_update(f.w, 1, &upd, &meta, &f.json), 0);
    ASSERT_JSON(&f, "{\"id\":1,\"topic\":2,\"created_at\":\"" T0_JST
                    "\",\"comment\":\"moved\",\"author\":{\"id\":1,\"username\":\"bob\"}}");
    ASSERT_EQ_INT(hb_store_reply_update(f.w, 99, &upd, &meta, &f.json), HB_ENOTFOUND);
    ASSERT_EQ_INT(hb_store_reply_delete(f.w, 1, &meta), 0);
    ASSERT_EQ_INT(meta.parent_id, t2);
    ASSERT_EQ_INT(hb_store_reply_delete(f.w, 1, &meta), HB_ENOTFOUND);
    ASSERT_EQ_INT(hb_store_reply_get(f.r, 3, &meta, &f.json), 0);
    ASSERT_JSON(&f, "{\"id\":3,\"topic\":1,\"created_at\":\"" T0_JST
                    "\",\"comment\":\"third\",\"author\":null}");
    fx_close(&f);
}

/* Appends the ids of a topic list as "1,2,3". */
static const char *topic_ids(struct fx *f, const struct hb_store_topic_query *q,
                             struct hb_store_page *page)
{
    static char out[256];
    hb_buf_reset(&f->json);
    int err = hb_store_topic_list(f->r, q, page, &f->json);
    if (err < 0) {
        snprintf(out, sizeof(out), "error %s", hb_err_name(err));
        return out;
    }
    out[0] = '\0';
    const char *p = f->json.data;
    while ((p = strstr(p, "{\"id\":")) != NULL) {
        p += 6;
        size_t n = strlen(out);
        snprintf(out + n, sizeof(out) - n, "%s%lld", n ? "," : "", strtoll(p, NULL, 10));
    }
    hb_buf_reset(&f->json);
    return out;
}

HB_TEST(store, topic_list_filters_and_order)
{
    struct fx f;
    fx_open(&f);
    int64_t a = make_category(&f, "a", 0), b = make_category(&f, "b", 0);
    /* ids 1..5 with created_at out of id order, and a tie between 2 and 4. */
    make_post(&f, false, a, "one", T0 + 30 * SEC, 0);
    make_post(&f, false, b, "two", T0 + 10 * SEC, 0);
    make_post(&f, false, a, "three", T0 + 50 * SEC, 0);
    make_post(&f, false, b, "four", T0 + 10 * SEC, 0);
    make_post(&f, false, a, "five", T0 + 10 * SEC + 1, 0); /* later by 1 µs */

    struct hb_store_topic_query q = {0};
    ASSERT_EQ_STR(topic_ids(&f, &q, NULL), "1,2,3,4,5");
    ASSERT_EQ_STR(topic_ids(&f, NULL, NULL), "1,2,3,4,5");
    q.category_id = a;
    ASSERT_EQ_STR(topic_ids(&f, &q, NULL), "1,3,5");
    q.category_id = 999;
    ASSERT_EQ_STR(topic_ids(&f, &q, NULL), "");
    q.category_id = 0;

    struct {
        const char *ordering;
        const char *want;
    } cases[] = {
        {"", "1,2,3,4,5"},
        {"id", "1,2,3,4,5"},
        {"-id", "5,4,3,2,1"},
        {"created_at", "2,4,5,1,3"},
        {"-created_at", "3,1,5,2,4"},
        {"created_at,-id", "4,2,5,1,3"},
        {"-created_at,-id", "3,1,5,4,2"},
        {"-created_at,id", "3,1,5,2,4"},
        {"bogus,-id", "5,4,3,2,1"},
        {"bogus", "1,2,3,4,5"},
        {" -created_at , -id ", "3,1,5,4,2"},
        {"--id", "1,2,3,4,5"},
        {"id,-created_at", "1,2,3,4,5"},
        {"comment", "1,2,3,4,5"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        q.order = hb_store_topic_order_parse(hb_str_from(cases[i].ordering));
        const char *got = topic_ids(&f, &q, NULL);
        if (strcmp(got, cases[i].want) != 0)
            HB_FAIL_("ordering '%s': got %s, want %s", cases[i].ordering, got, cases[i].want);
    }
    ASSERT_EQ_INT(hb_store_topic_order_parse(HB_STR_NULL), HB_STORE_ORDER_ID);
    q.order = (enum hb_store_topic_order)42;
    ASSERT_EQ_INT(hb_store_topic_list(f.r, &q, NULL, &f.json), HB_EINVAL);
    fx_close(&f);
}

HB_TEST(store, topic_list_pagination)
{
    struct fx f;
    fx_open(&f);
    struct hb_store_topic_query q = {0};
    struct hb_store_page page = {.size = 10, .number = 1};
    ASSERT_EQ_STR(topic_ids(&f, &q, &page), ""); /* page 1 of nothing exists */
    ASSERT_EQ_INT(page.count, 0);
    page.number = 2;
    ASSERT_EQ_STR(topic_ids(&f, &q, &page), "error HB_ENOTFOUND");
    page = (struct hb_store_page){.size = 10, .number = HB_STORE_PAGE_LAST};
    ASSERT_EQ_STR(topic_ids(&f, &q, &page), "");
    ASSERT_EQ_INT(page.number, 1);

    int64_t a = make_category(&f, "a", 0), b = make_category(&f, "b", 0);
    for (int i = 0; i < 25; i++)
        make_post(&f, false, i % 5 == 0 ? b : a, i % 2 ? "odd topic" : "even topic", T0 + i * SEC,
                  0);
    page = (struct hb_store_page){.size = 10, .number = 1};
    ASSERT_EQ_STR(topic_ids(&f, &q, &page), "1,2,3,4,5,6,7,8,9,10");
    ASSERT_EQ_INT(page.count, 25);
    page.number = 3;
    ASSERT_EQ_STR(topic_ids(&f, &q, &page), "21,22,23,24,25");
    page.number = 4;
    ASSERT_EQ_STR(topic_ids(&f, &q, &page), "error HB_ENOTFOUND");
    page.number = 0;
    ASSERT_EQ_STR(topic_ids(&f, &q, &page), "error HB_ENOTFOUND");
    page.number = -5;
    ASSERT_EQ_STR(topic_ids(&f, &q, &page), "error HB_ENOTFOUND");
    page = (struct hb_store_page){.size = 0, .number = 1};
    ASSERT_EQ_STR(topic_ids(&f, &q, &page), "error HB_ENOTFOUND");
    page = (struct hb_store_page){.size = 10, .number = INT64_MAX};
    ASSERT_EQ_STR(topic_ids(&f, &q, &page), "error HB_ENOTFOUND");
    page = (struct hb_store_page){.size = INT64_MAX, .number = 1};
    ASSERT_EQ_STR(topic_ids(&f, &q, &page), "1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,"
                                            "21,22,23,24,25");

    /* Filters, order and pages combine: category a's "odd" topics, newest first. */
    q = (struct hb_store_topic_query){a, HB_STR("odd"), HB_STORE_ORDER_CREATED_DESC};
    page = (struct hb_store_page){.size = 3, .number = HB_STORE_PAGE_LAST};
    ASSERT_EQ_STR(topic_ids(&f, &q, &page), "2");
    ASSERT_EQ_INT(page.count, 10);
    ASSERT_EQ_INT(page.number, 4);
    page.number = 1;
    ASSERT_EQ_STR(topic_ids(&f, &q, &page), "24,22,20");
    fx_close(&f);
}

HB_TEST(store, topic_search)
{
    struct fx f;
    fx_open(&f);
    int64_t c = make_category(&f, "c", 0);
    make_post(&f, false, c, "Hello World from hiroba", T0, 0);             /* 1 */
    make_post(&f, false, c, "東京タワーに行きました", T0, 0);              /* 2 */
    make_post(&f, false, c, "東京の空", T0, 0);                            /* 3 */
    make_post(&f, false, c, "worldwide 100% \"quoted\" text, a_b", T0, 0); /* 4 */
    make_post(&f, false, c, "京都 and hello", T0, 0);                      /* 5 */
    make_post(&f, false, c, "ÉCOLE école", T0, 0);                         /* 6 */

    struct {
        const char *search;
        const char *want;
    } cases[] = {
        {"", "1,2,3,4,5,6"},
        {"   ", "1,2,3,4,5,6"},
        {"hello", "1,5"},
        {"HELLO", "1,5"}, /* ASCII case-insensitive (FTS) */
        {"He", "1,5"},    /* short term: scan, still case-insensitive */
        {"world", "1,4"},
        {"hello world", "1"},            /* every term */
        {"hello,world", "1"},            /* commas split too */
        {"hello\xe3\x80\x80world", "1"}, /* U+3000 IDEOGRAPHIC SPACE */
        {"\"hello world\"", "1"},        /* a phrase: one substring */
        {"\"world hello\"", ""},
        {"\"\" hello", "1,5"},        /* an empty phrase filters nothing */
        {"\"unterminated hello", ""}, /* the quote is a character */
        {"東京タワー", "2"},
        {"京タワ", "2"},      /* trigram: any 3-character substring */
        {"東京", "2,3"},      /* 2 characters: scan */
        {"京", "2,3,5"},      /* 1 character */
        {"東京 空", "3"},     /* two short terms */
        {"東京 タワー", "2"}, /* a short and a long term */
        {"100%", "4"},
        {"%", "4"}, /* no LIKE wildcards leak through */
        {"_", "4"},
        {"a_b", "4"},
        {"\"quoted\"", "4"},
        {"ext,", "4"},
        {"nomatch", ""},
        {"hello nomatch", ""},
        {"xy", ""},
        {"école", "6"},
        {"hel\x00lo", "1,5"}, /* NUL bytes are dropped, as DRF does */
    };
    struct hb_store_topic_query q = {0};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        q.search = hb_str_from(cases[i].search);
        if (strcmp(cases[i].search, "hel") == 0)
            q.search.len = 6; /* the literal with an embedded NUL */
        const char *got = topic_ids(&f, &q, NULL);
        if (strcmp(got, cases[i].want) != 0)
            HB_FAIL_("search '%s': got '%s', want '%s'", cases[i].search, got, cases[i].want);
    }
    /* Updates reach the index (the AFTER UPDATE trigger). */
    struct hb_store_post_input upd = {0, HB_STR("renamed to goodbye"), HB_STORE_TIME_NONE, 0};
    ASSERT_EQ_INT(hb_store_topic_update(f.w, 1, &upd, NULL, NULL), 0);
    q.search = HB_STR("hello");
    ASSERT_EQ_STR(topic_ids(&f, &q, NULL), "5");
    q.search = HB_STR("goodbye");
    ASSERT_EQ_STR(topic_ids(&f, &q, NULL), "1");
    q.search = (struct hb_str){NULL, 3};
    ASSERT_EQ_INT(hb_store_topic_list(f.r, &q, NULL, &f.json), HB_EINVAL);
    fx_close(&f);
}

HB_TEST(store, search_terms_split)
{
    struct {
        const char *text;
        const char *want; /* terms joined by | */
    } cases[] = {
        {"a b", "a|b"},
        {"  a,,b , c  ", "a|b|c"},
        {"\"a b\" c", "a b|c"},
        {"x\"a b\"", "x\"a|b\""},
        {"\"a,b\",c", "a,b|c"},
        {"\"open only", "\"open|only"},
        {"東京\xe3\x80\x80タワー", "東京|タワー"},
        {"a\xc2\xa0"
         "b\xe2\x80\x83"
         "c\x1f"
         "d",
         "a|b|c|d"},
        {"", ""},
        {"\"\"", ""},
        {"\xff\xfe", "\xff\xfe"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char got[128] = "";
        struct hb_str rest = hb_str_from(cases[i].text), term;
        while (hb_store__search_next(&rest, &term)) {
            size_t n = strlen(got);
            snprintf(got + n, sizeof(got) - n, "%s%.*s", n ? "|" : "", (int)term.len, term.ptr);
        }
        if (strcmp(got, cases[i].want) != 0)
            HB_FAIL_("split '%s': got '%s', want '%s'", cases[i].text, got, cases[i].want);
    }
    struct hb_str none = HB_STR_NULL, term;
    ASSERT(!hb_store__search_next(&none, &term));
    ASSERT_EQ_INT(hb_store__utf8_len(HB_STR("東京a")), 3);
}

/* ---- Rooms and chat logs ---- */

HB_TEST(store, rooms)
{
    struct fx f;
    fx_open(&f);
    int64_t alice = make_user(&f, "alice", false);
    struct hb_store_meta meta;
    struct hb_store_room_input in = {HB_STR("lobby"), -1, T0, alice};
    ASSERT_EQ_INT(hb_store_room_create(f.w, &in, &meta, &f.json), 0);
    ASSERT_JSON(&f, "{\"id\":1,\"created_at\":\"" T0_JST "\",\"name\":\"lobby\",\"headcount\":0,"
                    "\"author\":{\"id\":1,\"username\":\"alice\"}}");
    ASSERT_EQ_INT(hb_store_room_create(f.w, &in, &meta, &f.json), HB_EEXIST);
    ASSERT_EQ_INT(f.json.len, 0);
    in = (struct hb_store_room_input){HB_STR("Lobby"), 7, T0, 0};
    ASSERT_EQ_INT(hb_store_room_create(f.w, &in, &meta, &f.json), 0); /* case-sensitive */
    ASSERT_JSON(&f, "{\"id\":2,\"created_at\":\"" T0_JST "\",\"name\":\"Lobby\",\"headcount\":7,"
                    "\"author\":null}");
    in.headcount = -2;
    ASSERT_EQ_INT(hb_store_room_create(f.w, &in, &meta, NULL), HB_EINVAL);
    in = (struct hb_store_room_input){HB_STR("x"), 2147483648LL, T0, 0};
    ASSERT_EQ_INT(hb_store_room_create(f.w, &in, &meta, NULL), HB_EINVAL);

    /* Update: another room's name is taken; its own is fine; partial fields. */
    struct hb_store_room_input upd = {HB_STR("lobby"), -1, HB_STORE_TIME_NONE, 0};
    ASSERT_EQ_INT(hb_store_room_update(f.w, 2, &upd, &meta, &f.json), HB_EEXIST);
    ASSERT_EQ_INT(hb_store_room_update(f.w, 1, &upd, &meta, &f.json), 0);
    ASSERT_JSON(&f, "{\"id\":1,\"created_at\":\"" T0_JST "\",\"name\":\"lobby\",\"headcount\":0,"
                    "\"author\":{\"id\":1,\"username\":\"alice\"}}");
    upd = (struct hb_store_room_input){{NULL, 0}, 3, T0 + SEC, 0};
    ASSERT_EQ_INT(hb_store_room_update(f.w, 1, &upd, &meta, &f.json), 0);
    ASSERT_JSON(&f, "{\"id\":1,\"created_at\":\"2025年01月14日 08時56分13秒\",\"name\":"
                    "\"lobby\",\"headcount\":3,\"author\":{\"id\":1,\"username\":\"alice\"}}");
    ASSERT_EQ_INT(hb_store_room_update(f.w, 99, &upd, &meta, &f.json), HB_ENOTFOUND);

    ASSERT_EQ_INT(hb_store_room_list(f.r, NULL, &f.json), 0);
    ASSERT_JSON(&f, "[{\"id\":1,\"created_at\":\"2025年01月14日 08時56分13秒\",\"name\":"
                    "\"lobby\",\"headcount\":3,\"author\":{\"id\":1,\"username\":\"alice\"}},"
                    "{\"id\":2,\"created_at\":\"" T0_JST "\",\"name\":\"Lobby\",\"headcount\":7,"
                    "\"author\":null}]");
    struct hb_store_page page = {.size = 1, .number = HB_STORE_PAGE_LAST};
    ASSERT_EQ_INT(hb_store_room_list(f.r, &page, &f.json), 0);
    ASSERT_EQ_INT(page.count, 2);
    ASSERT_EQ_INT(page.number, 2);
    hb_buf_reset(&f.json);

    /* Headcount: atomic moves, never below 0; reset. */
    int64_t n = -1;
    ASSERT_EQ_INT(hb_store_room_join(f.w, 1, HB_STR("i1"), &n), 0);
    ASSERT_EQ_INT(n, 4);
    /* Only seats this instance took are given back: the 3 others stay. */
    for (int i = 0; i < 6; i++)
        ASSERT_EQ_INT(hb_store_room_leave(f.w, 1, HB_STR("i1"), &n), 0);
    ASSERT_EQ_INT(n, 3);
    ASSERT_EQ_INT(hb_store_room_join(f.w, 1, HB_STR("i1"), &n), 0);
    raw_exec(f.path, "UPDATE chat_room SET headcount = 0 WHERE id = 1");
    ASSERT_EQ_INT(hb_store_room_leave(f.w, 1, HB_STR("i1"), &n), 0);
    ASSERT_EQ_INT(n, 0); /* never below 0 */
    ASSERT_EQ_INT(hb_store_room_join(f.w, 1, HB_STR("i1"), NULL), 0);
    ASSERT_EQ_INT(hb_store_room_join(f.w, 99, HB_STR("i1"), &n), HB_ENOTFOUND);
    ASSERT_EQ_INT(hb_store_room_leave(f.w, 99, HB_STR("i1"), &n), HB_ENOTFOUND);
    ASSERT_EQ_INT(hb_store_room_join(f.r, 1, HB_STR("i1"), &n), HB_EPERM);
    ASSERT_EQ_INT(hb_store_room_reset_headcounts(f.w), 0);
    ASSERT_EQ_INT(raw_int(f.path, "SELECT sum(headcount) FROM chat_room"), 0);
    raw_exec(f.path, "UPDATE chat_room SET headcount = 2147483647 WHERE id = 2");
    ASSERT_EQ_INT(hb_store_room_join(f.w, 2, HB_STR("i1"), &n), 0);
    ASSERT_EQ_INT(n, 2147483647);

    /* Delete cascades to the room's logs only. */
    ASSERT_EQ_INT(hb_store_chatlog_create(f.w, 1, HB_STR("hi"), 0, NULL, NULL, NULL), 0);
    ASSERT_EQ_INT(hb_store_chatlog_create(f.w, 2, HB_STR("kept"), 0, NULL, NULL, NULL), 0);
    ASSERT_EQ_INT(hb_store_room_delete(f.w, 1, &meta), 0);
    ASSERT_EQ_INT(meta.author_id, alice);
    ASSERT_EQ_INT(raw_int(f.path, "SELECT count(*) FROM chat_chatlog"), 1);
    ASSERT_EQ_INT(hb_store_room_delete(f.w, 1, &meta), HB_ENOTFOUND);
    ASSERT_EQ_INT(hb_store_room_get(f.r, 1, &meta, &f.json), HB_ENOTFOUND);
    ASSERT_EQ_INT(hb_store_room_get(f.r, 2, &meta, NULL), 0);
    fx_close(&f);
}

/* Checkpoints happen on the store's own thread, not in a commit: after a burst of commits the
 * database file grows (the WAL's pages copied in) without any further write. */
HB_TEST(store, checkpoints_off_the_commit_path)
{
    struct fx f;
    fx_open(&f);
    int64_t lobby = make_room(&f, "lobby");
    struct stat before, after;
    ASSERT_EQ_INT(stat(f.path, &before), 0);
    for (int i = 0; i < 1200; i++) /* each commit appends at least one WAL frame */
        ASSERT_EQ_INT(hb_store_chatlog_create(f.w, lobby, HB_STR("ping"), 0, NULL, NULL, NULL), 0);
    bool grew = false;
    for (int i = 0; i < 300 && !grew; i++) {
        usleep(10000);
        ASSERT_EQ_INT(stat(f.path, &after), 0);
        grew = after.st_size > before.st_size;
    }
    ASSERT(grew);
    fx_close(&f);
}

/* Each instance's seats are recorded beside headcount, so a stale instance's seats are given back
 * by a live one, and a clean leave gives back its own. */
HB_TEST(store, instance_presence)
{
    struct fx f;
    fx_open(&f);
    int64_t lobby = make_room(&f, "lobby"), other = make_room(&f, "other");
    int64_t n = -1, reaped = -1, t0 = 1700000000000000;
    ASSERT_EQ_INT(hb_store_instance_beat(f.w, HB_STR("a"), t0, t0 - 10000000, &reaped), 0);
    ASSERT_EQ_INT(reaped, 0);
    ASSERT_EQ_INT(hb_store_instance_beat(f.w, HB_STR("b"), t0, t0 - 10000000, &reaped), 0);
    for (int i = 0; i < 3; i++)
        ASSERT_EQ_INT(hb_store_room_join(f.w, lobby, HB_STR("a"), &n), 0);
    ASSERT_EQ_INT(hb_store_room_join(f.w, other, HB_STR("a"), &n), 0);
    ASSERT_EQ_INT(hb_store_room_join(f.w, lobby, HB_STR("b"), &n), 0);
    ASSERT_EQ_INT(hb_store_room_join(f.w, lobby, HB_STR("b"), &n), 0);
    ASSERT_EQ_INT(hb_store_room_leave(f.w, lobby, HB_STR("b"), &n), 0);
    ASSERT_EQ_INT(n, 4);
    ASSERT_EQ_INT(raw_int(f.path, "SELECT n FROM hiroba_presence WHERE instance_id = 'a' AND "
                                  "room_id = 1"),
                  3);
    /* b beats later; a is stale for b: a's 3 + 1 seats go back, b's one stays. */
    ASSERT_EQ_INT(hb_store_instance_beat(f.w, HB_STR("b"), t0 + 20000000, t0 + 10000000, &reaped),
                  0);
    ASSERT_EQ_INT(reaped, 1);
    ASSERT_EQ_INT(raw_int(f.path, "SELECT headcount FROM chat_room WHERE id = 1"), 1);
    ASSERT_EQ_INT(raw_int(f.path, "SELECT headcount FROM chat_room WHERE id = 2"), 0);
    ASSERT_EQ_INT(raw_int(f.path, "SELECT count(*) FROM hiroba_instance"), 1);
    /* A reaped instance's late leave cannot take a seat it no longer holds. */
    ASSERT_EQ_INT(hb_store_room_leave(f.w, lobby, HB_STR("a"), &n), 0);
    ASSERT_EQ_INT(n, 1);
    ASSERT_EQ_INT(hb_store_instance_leave(f.w, HB_STR("b")), 0);
    ASSERT_EQ_INT(raw_int(f.path, "SELECT sum(headcount) FROM chat_room"), 0);
    ASSERT_EQ_INT(raw_int(f.path, "SELECT count(*) FROM hiroba_presence"), 0);
    ASSERT_EQ_INT(hb_store_instance_beat(f.w, HB_STR(""), t0, t0, NULL), HB_EINVAL);
    fx_close(&f);
}

struct replay {
    struct hb_buf frames;
    int n;
    int stop_after;
};

static int replay_cb(void *ctx, const struct hb_store_chatlog *row)
{
    struct replay *r = ctx;
    if (r->n == r->stop_after)
        return HB_ECLOSED;
    r->n++;
    hb_store_chatlog_write_json(&r->frames, HB_STORE_CHAT_SEED, row);
    return hb_buf_append_char(&r->frames, '\n');
}

HB_TEST(store, chat_logs)
{
    struct fx f;
    fx_open(&f);
    int64_t alice = make_user(&f, "alice", false);
    int64_t lobby = make_room(&f, "lobby"), other = make_room(&f, "other");
    int64_t id = 0, created = 0, before = hb_clock_unix_us();
    ASSERT_EQ_INT(
        hb_store_chatlog_create(f.w, lobby, HB_STR("こんにちは"), alice, &id, &created, NULL), 0);
    ASSERT_EQ_INT(id, 1);
    ASSERT(created >= before && created <= hb_clock_unix_us());
    ASSERT_EQ_INT(hb_store_chatlog_create(f.w, other, HB_STR("elsewhere"), 0, &id, NULL, NULL), 0);
    ASSERT_EQ_INT(hb_store_chatlog_create(f.w, lobby, HB_STR("two"), 0, &id, NULL, NULL), 0);
    int64_t prev = -1;
    ASSERT_EQ_INT(hb_store_chatlog_create(f.w, lobby, HB_STR("three"), alice, &id, NULL, &prev), 0);
    ASSERT_EQ_INT(id, 4);
    ASSERT_EQ_INT(prev, 3); /* the room's previous message, not the table's */
    ASSERT_EQ_INT(hb_store_chatlog_create(f.w, other, HB_STR("2nd"), 0, &id, NULL, &prev), 0);
    ASSERT_EQ_INT(prev, 2);
    ASSERT_EQ_INT(hb_store_chatlog_last(f.r, other, &prev), 0);
    ASSERT_EQ_INT(prev, 5);
    ASSERT_EQ_INT(hb_store_chatlog_last(f.r, 999, &prev), 0);
    ASSERT_EQ_INT(prev, 0);
    raw_exec(f.path, "DELETE FROM chat_chatlog WHERE id = 5");

    /* Group commit: one transaction, each message its own result, a gone room fails alone. */
    struct hb_store_chat_input many[3] = {
        {lobby, HB_STR("g1"), alice}, {999, HB_STR("nowhere"), 0}, {lobby, HB_STR("g2"), 0}};
    struct hb_store_chat_result res[3];
    ASSERT_EQ_INT(hb_store_chatlog_create_many(f.w, many, 3, res), 0);
    ASSERT_EQ_INT(res[0].rc, 0);
    ASSERT_EQ_INT(res[0].prev_id, 4);
    ASSERT_EQ_INT(res[1].rc, HB_ECONFLICT);
    ASSERT_EQ_INT(res[2].rc, 0);
    ASSERT_EQ_INT(res[2].prev_id, res[0].id);
    ASSERT(res[2].id > res[0].id);
    many[1] = (struct hb_store_chat_input){lobby, HB_STR(""), 0};
    ASSERT_EQ_INT(hb_store_chatlog_create_many(f.w, many, 2, res), 0);
    ASSERT_EQ_INT(res[0].rc, 0); /* the valid one is stored; the blank one is refused */
    ASSERT_EQ_INT(res[1].rc, HB_EINVAL);
    ASSERT_EQ_INT(hb_store_chatlog_create_many(f.r, many, 1, res), HB_EPERM);
    raw_exec(f.path, "DELETE FROM chat_chatlog WHERE id > 5");
    ASSERT_EQ_INT(hb_store_chatlog_create(f.w, 999, HB_STR("lost"), 0, &id, NULL, NULL),
                  HB_ECONFLICT);
    ASSERT_EQ_INT(hb_store_chatlog_create(f.w, lobby, HB_STR(""), 0, &id, NULL, NULL), HB_EINVAL);
    ASSERT_EQ_INT(hb_store_chatlog_create(f.r, lobby, HB_STR("x"), 0, &id, NULL, NULL), HB_EPERM);
    raw_exec(f.path, "UPDATE chat_chatlog SET created_at = '2025-01-13 23:56:12.5'");

    ASSERT_EQ_INT(hb_store_chatlog_list(f.r, lobby, 0, NULL, &f.json), 0);
    ASSERT_JSON(&f, "[{\"id\":1,\"created_at\":\"" T0_JST "\",\"message\":\"こんにちは\","
                    "\"room\":1,\"author\":{\"id\":1,\"username\":\"alice\"}},{\"id\":3,"
                    "\"created_at\":\"" T0_JST "\",\"message\":\"two\",\"room\":1,\"author\":null},"
                    "{\"id\":4,\"created_at\":\"" T0_JST "\",\"message\":\"three\",\"room\":1,"
                    "\"author\":{\"id\":1,\"username\":\"alice\"}}]");
    ASSERT_EQ_INT(hb_store_chatlog_list(f.r, lobby, 3, NULL, &f.json), 0);
    ASSERT_JSON(&f, "[{\"id\":4,\"created_at\":\"" T0_JST "\",\"message\":\"three\",\"room\":1,"
                    "\"author\":{\"id\":1,\"username\":\"alice\"}}]");
    ASSERT_EQ_INT(hb_store_chatlog_list(f.r, 999, 0, NULL, &f.json), 0);
    ASSERT_JSON(&f, "[]");
    struct hb_store_page page = {.size = 2, .number = 2};
    ASSERT_EQ_INT(hb_store_chatlog_list(f.r, lobby, 0, &page, &f.json), 0);
    ASSERT_EQ_INT(page.count, 3);
    ASSERT(strstr(f.json.data, "\"id\":4,") && !strstr(f.json.data, "\"id\":3,"));
    hb_buf_reset(&f.json);

    /* Replay in batches, in the seed frame format. */
    struct replay r = {.stop_after = -1};
    hb_buf_init(&r.frames, 4096);
    ASSERT_EQ_INT(hb_store_chatlog_each(f.r, lobby, 0, 2, replay_cb, &r), 2);
    ASSERT_EQ_INT(hb_store_chatlog_each(f.r, lobby, 3, 2, replay_cb, &r), 1);
    ASSERT_EQ_INT(hb_store_chatlog_each(f.r, lobby, 4, 2, replay_cb, &r), 0);
    ASSERT_EQ_MEM(r.frames.data, r.frames.len,
                  "{\"id\":1,\"message\":\"こんにちは\",\"created_at\":\"" T0_JST "\"}\n"
                  "{\"id\":3,\"message\":\"two\",\"created_at\":\"" T0_JST "\"}\n"
                  "{\"id\":4,\"message\":\"three\",\"created_at\":\"" T0_JST "\"}\n");
    r.n = 0;
    r.stop_after = 1;
    ASSERT_EQ_INT(hb_store_chatlog_each(f.r, lobby, 0, 10, replay_cb, &r), HB_ECLOSED);
    ASSERT_EQ_INT(hb_store_chatlog_each(f.r, lobby, 0, 0, replay_cb, &r), HB_EINVAL);
    ASSERT_EQ_INT(hb_store_chatlog_each(f.r, lobby, 0, 1, NULL, &r), HB_EINVAL);
    hb_buf_release(&r.frames);
    /* The reader holds no snapshot after the stopped replay: a write is visible next read. */
    ASSERT_EQ_INT(hb_store_chatlog_create(f.w, lobby, HB_STR("five"), 0, &id, NULL, NULL), 0);
    ASSERT_EQ_INT(hb_store_chatlog_list(f.r, lobby, 4, NULL, &f.json), 0);
    ASSERT(strstr(f.json.data, "five") != NULL);
    hb_buf_reset(&f.json);
    fx_close(&f);
}

HB_TEST(store, chat_frame_formats)
{
    setenv("TZ", "Asia/Tokyo", 1);
    tzset();
    struct hb_store_chatlog row = {12, 1, T0, HB_STR("こんにちは"), 3, HB_STR("alice")};
    struct hb_buf buf;
    hb_buf_init(&buf, 1024);
    ASSERT_EQ_INT(hb_store_chatlog_write_json(&buf, HB_STORE_CHAT_SEED, &row), 0);
    ASSERT_EQ_MEM(buf.data, buf.len,
                  "{\"id\":12,\"message\":\"こんにちは\",\"created_at\":\"" T0_JST "\"}");
    hb_buf_reset(&buf);
    ASSERT_EQ_INT(hb_store_chatlog_write_json(&buf, HB_STORE_CHAT_V1, &row), 0);
    ASSERT_EQ_MEM(
        buf.data, buf.len,
        "{\"type\":\"message\",\"id\":12,\"message\":\"こんにちは\",\"created_at\":\"" T0_JST
        "\",\"room\":1,\"author\":{\"id\":3,\"username\":\"alice\"}}");
    hb_buf_reset(&buf);
    row.author_id = 0;
    ASSERT_EQ_INT(hb_store_chatlog_write_json(&buf, HB_STORE_CHAT_REST, &row), 0);
    ASSERT_EQ_MEM(buf.data, buf.len,
                  "{\"id\":12,\"created_at\":\"" T0_JST "\",\"message\":\"こんにちは\",\"room\":1,"
                  "\"author\":null}");
    hb_buf_reset(&buf);
    ASSERT_EQ_INT(hb_store_chatlog_write_json(&buf, (enum hb_store_chat_format)9, &row), HB_EINVAL);
    ASSERT_EQ_INT(hb_store_chatlog_write_json(NULL, HB_STORE_CHAT_V1, &row), HB_EINVAL);
    hb_buf_release(&buf);

    /* A full buffer leaves it unchanged. */
    hb_buf_init(&buf, 20);
    hb_buf_append_str(&buf, "[");
    ASSERT_EQ_INT(hb_store_chatlog_write_json(&buf, HB_STORE_CHAT_V1, &row), HB_ETOOLARGE);
    ASSERT_EQ_MEM(buf.data, buf.len, "[");
    hb_buf_release(&buf);
}

/* ---- JSON details, authors, faults ---- */

HB_TEST(store, json_escaping_and_bad_rows)
{
    struct fx f;
    fx_open(&f);
    int64_t alice = make_user(&f, "alice", false);
    int64_t c = make_category(&f, "c", 0);
    make_post(&f, false, c, "ctl \x01\x1f\x7f \b\f\r tab\t nl\n quote\" bs\\ slash/ \xe2\x80\xa8",
              T0, alice);
    ASSERT_EQ_INT(hb_store_topic_get(f.r, 1, NULL, &f.json), 0);
    ASSERT_JSON(&f, "{\"id\":1,\"category\":1,\"created_at\":\"" T0_JST
                    "\",\"comment\":\"ctl \\u0001\\u001f\x7f \\b\\f\\r tab\\t nl\\n quote\\\" "
                    "bs\\\\ slash/ \xe2\x80\xa8\",\"author\":{\"id\":1,\"username\":\"alice\"}}");

    /* Rows other software wrote: invalid UTF-8, an unparseable date, an author id that names
     * nobody (foreign keys were off). The output stays valid JSON. */
    raw_exec(f.path, "PRAGMA foreign_keys = OFF;"
                     "INSERT INTO bbs_topic (created_at, comment, category_id, author_id) VALUES "
                     "('not a date', CAST(X'61FF62C0AFEDA080F4908080' AS TEXT), 1, 77);"
                     "INSERT INTO bbs_topic (created_at, comment, category_id) VALUES "
                     "('2025-01-13T23:56:12.123+00:00', '', 1);");
    ASSERT_EQ_INT(hb_store_topic_get(f.r, 2, NULL, &f.json), 0);
    /* One U+FFFD per byte that starts no valid sequence: FF; C0 AF (overlong); ED A0 80 (a
     * surrogate); F4 90 80 80 (above U+10FFFF). */
#define FFFD "\xef\xbf\xbd"
    ASSERT_JSON(&f, "{\"id\":2,\"category\":1,\"created_at\":null,\"comment\":\"a" FFFD
                    "b" FFFD FFFD FFFD FFFD FFFD FFFD FFFD FFFD FFFD "\",\"author\":null}");
#undef FFFD
    struct hb_store_meta meta;
    ASSERT_EQ_INT(hb_store_topic_get(f.r, 2, &meta, NULL), 0);
    ASSERT_EQ_INT(meta.author_id, 0); /* staff-only, like a row without an author */
    ASSERT_EQ_INT(hb_store_topic_get(f.r, 3, NULL, &f.json), 0);
    ASSERT_JSON(&f, "{\"id\":3,\"category\":1,\"created_at\":\"" T0_JST
                    "\",\"comment\":\"\",\"author\":null}");

    /* Deleting a user (as Django would) sets author_id NULL through ON DELETE SET NULL. */
    raw_exec(f.path, "PRAGMA foreign_keys = ON; DELETE FROM auth_user WHERE id = 1;");
    ASSERT_EQ_INT(hb_store_topic_get(f.r, 1, &meta, NULL), 0);
    ASSERT_EQ_INT(meta.author_id, 0);
    ASSERT_EQ_INT(raw_int(f.path, "SELECT count(*) FROM bbs_topic WHERE author_id IS NULL"), 2);

    /* A list that does not fit the caller's cap leaves the buffer as it was. */
    struct hb_buf small;
    hb_buf_init(&small, 64);
    hb_buf_append_str(&small, "{\"results\":");
    ASSERT_EQ_INT(hb_store_topic_list(f.r, NULL, NULL, &small), HB_ETOOLARGE);
    ASSERT_EQ_MEM(small.data, small.len, "{\"results\":");
    ASSERT_EQ_INT(hb_store_topic_get(f.r, 1, NULL, &small), HB_ETOOLARGE);
    ASSERT_EQ_MEM(small.data, small.len, "{\"results\":");
    hb_buf_release(&small);
    ASSERT_EQ_INT(hb_store_category_list(f.r, NULL, NULL), HB_EINVAL);
    ASSERT_EQ_INT(hb_store_ping(NULL), HB_EDB); /* no connection: a fiber found the database down */
    fx_close(&f);
}

HB_TEST(store, fault_injection)
{
    struct fx f;
    fx_open(&f);
    hb_store_inject_fault(f.store, 2, HB_EBUSY);
    ASSERT_EQ_INT(hb_store_ping(f.r), 0);
    ASSERT_EQ_INT(hb_store_ping(f.r), HB_EBUSY);
    ASSERT_EQ_INT(hb_store_ping(f.r), 0);
    hb_store_inject_fault(f.store, 1, 0);
    ASSERT_EQ_INT(hb_store_category_create(f.w, HB_STR("x"), 0, NULL, NULL), HB_EDB);
    ASSERT_EQ_INT(raw_int(f.path, "SELECT count(*) FROM bbs_category"), 0);
    hb_store_inject_fault(f.store, 1, HB_EIO);
    hb_store_inject_fault(f.store, 0, HB_EIO); /* disarmed */
    ASSERT_EQ_INT(hb_store_ping(f.w), 0);
    fx_close(&f);
}

HB_TEST(store, readers_see_commits_and_lock_waits_are_bounded)
{
    struct fx f;
    fx_open(&f);
    /* Another process holds the write lock: the writer waits busy_timeout, then HB_EBUSY;
     * readers keep reading in WAL mode meanwhile. */
    struct hb_store *store;
    struct hb_store_options opts = {.busy_timeout_ms = 50};
    ASSERT_EQ_INT(hb_store_open(f.url, &opts, &store), 0);
    sqlite3 *db;
    ASSERT_EQ_INT(sqlite3_open(f.path, &db), SQLITE_OK);
    ASSERT_EQ_INT(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    ASSERT_EQ_INT(hb_store_category_create(hb_store_writer(store), HB_STR("x"), 0, NULL, NULL),
                  HB_EBUSY);
    ASSERT_EQ_INT(hb_store_category_list(f.r, NULL, &f.json), 0);
    ASSERT_JSON(&f, "[]");
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_close(db);
    ASSERT_EQ_INT(hb_store_category_create(hb_store_writer(store), HB_STR("x"), 0, NULL, NULL), 0);
    hb_store_destroy(store);
    ASSERT_EQ_INT(hb_store_category_list(f.r, NULL, &f.json), 0);
    ASSERT_JSON(&f, "[{\"id\":1,\"name\":\"x\",\"author\":null}]");
    fx_close(&f);
}

/* ---- Django interop ---- */

/* The repository root, from this file's path (CMake compiles it by absolute path). */
static const char *repo_root(void)
{
    static char root[512];
    const char *suffix = "/tests/unit/store/test_store.c";
    size_t n = strlen(__FILE__), s = strlen(suffix);
    if (n <= s || strcmp(__FILE__ + n - s, suffix) != 0 || n - s >= sizeof(root))
        return NULL;
    memcpy(root, __FILE__, n - s);
    root[n - s] = '\0';
    return root;
}

/* Runs manage.py with a command against db; returns its stdout (heap) or NULL on failure. */
static char *django(const char *db, const char *command)
{
    char cmd[1536];
    snprintf(cmd, sizeof(cmd),
             "cd '%s/tests/e2e/django_models' && HIROBA_DJANGO_DB='%s' PYTHONDONTWRITEBYTECODE=1 "
             "/usr/bin/python3 manage.py %s",
             repo_root(), db, command);
    FILE *p = popen(cmd, "r");
    if (p == NULL)
        return NULL;
    struct hb_buf out;
    hb_buf_init(&out, 1 << 22);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), p)) > 0)
        hb_buf_append(&out, chunk, n);
    int status = pclose(p);
    if (status != 0) {
        fprintf(stderr, "manage.py %s: exit status %d\n%s\n", command, status,
                out.data ? out.data : "");
        hb_buf_release(&out);
        return NULL;
    }
    hb_buf_append(&out, "", 0);
    return hb_buf_detach(&out, NULL);
}

static bool have_django(void)
{
    if (repo_root() == NULL) {
        printf("  skip: cannot find the repository from __FILE__\n");
        return false;
    }
    if (system("/usr/bin/python3 -c 'import django, rest_framework_simplejwt' 2>/dev/null") != 0) {
        printf("  skip: /usr/bin/python3 cannot import django and rest_framework_simplejwt "
               "(apt install python3-django python3-djangorestframework-simplejwt)\n");
        return false;
    }
    return true;
}

#define ASSERT_HAS(text, needle)                                                                   \
    do {                                                                                           \
        if (strstr((text), (needle)) == NULL)                                                      \
            HB_FAIL_("missing %s in:\n%s", (needle), (text));                                      \
    } while (0)

HB_TEST(store, django_interop)
{
    if (!have_django())
        return;
    setenv("TZ", "Asia/Tokyo", 1);
    tzset();
    char path[128], url[160];
    snprintf(path, sizeof(path), "%s/django.sqlite3", make_tmp_dir());
    snprintf(url, sizeof(url), "sqlite:///%s", path);

    /* Django creates the schema and writes rows; hiroba adds its parts around them. */
    char *out = django(path, "migrate -v0");
    ASSERT(out != NULL);
    free(out);
    out = django(path, "hiroba_seed");
    ASSERT(out != NULL);
    free(out);
    struct hb_store *store;
    ASSERT_EQ_INT(hb_store_open(url, NULL, &store), 0);
    ASSERT_EQ_INT(hb_store_migrate(store), 0);
    ASSERT_EQ_INT(hb_store_migrate(store), 0);
    ASSERT_EQ_INT(raw_int(path, "SELECT count(*) FROM django_migrations WHERE app = 'hiroba'"), 0);
    struct hb_store_conn *w = hb_store_writer(store), *r;
    ASSERT_EQ_INT(hb_store_reader_open(store, &r), 0);

    /* hiroba's fresh schema is byte-identical to Django's plus hiroba's migration. */
    struct fx fresh;
    fx_open_named(&fresh, "fresh.sqlite3");
    char *want = raw_schema(fresh.path), *got = raw_schema(path);
    ASSERT_EQ_STR(got, want);
    free(want);
    free(got);
    fx_close(&fresh);

    /* hiroba reads Django's rows, and the search index covers them. */
    struct hb_buf json;
    hb_buf_init(&json, 1 << 20);
    struct hb_store_topic_query q = {.search = HB_STR("東京タワー")};
    ASSERT_EQ_INT(hb_store_topic_list(r, &q, NULL, &json), 0);
    ASSERT_EQ_MEM(json.data, json.len,
                  "[{\"id\":1,\"category\":1,\"created_at\":\"" T0_JST "\",\"comment\":\"written "
                  "by Django 東京タワー\",\"author\":null}]");
    hb_buf_reset(&json);
    ASSERT_EQ_INT(hb_store_chatlog_list(r, 1, 0, NULL, &json), 0);
    ASSERT_EQ_MEM(json.data, json.len,
                  "[{\"id\":1,\"created_at\":\"" T0_JST "\",\"message\":\"hello from django\","
                  "\"room\":1,\"author\":null}]");
    hb_buf_reset(&json);
    struct hb_store_user u;
    ASSERT_EQ_INT(hb_store_user_get_by_username(r, HB_STR("django_user"), &u), 0);
    ASSERT(strncmp(u.password, "pbkdf2_sha256$", 14) == 0);
    ASSERT_EQ_STR(u.email, "dj@example.com");

    /* hiroba writes; Django reads it all back through its ORM. */
    struct hb_store_user_input in = {.username = HB_STR("alice"),
                                     .password = HB_STR("argon2$argon2id$v=19$m=19456,t=2,"
                                                        "p=1$c2FsdHNhbHQ$aGFzaGhhc2g")};
    int64_t alice;
    ASSERT_EQ_INT(hb_store_user_create(w, &in, &alice), 0);
    struct hb_store_meta meta;
    ASSERT_EQ_INT(hb_store_category_create(w, HB_STR("hiroba category"), alice, &meta, NULL), 0);
    struct hb_store_post_input post = {meta.id, HB_STR("hiroba topic"), T0 + 123456, alice};
    ASSERT_EQ_INT(hb_store_topic_create(w, &post, &meta, NULL), 0);
    post = (struct hb_store_post_input){meta.id, HB_STR("hiroba reply"), T0, alice};
    ASSERT_EQ_INT(hb_store_reply_create(w, &post, NULL, NULL), 0);
    struct hb_store_room_input room = {HB_STR("hiroba-room"), -1, T0, alice};
    ASSERT_EQ_INT(hb_store_room_create(w, &room, &meta, NULL), 0);
    ASSERT_EQ_INT(hb_store_room_join(w, meta.id, HB_STR("i1"), NULL), 0);
    ASSERT_EQ_INT(
        hb_store_chatlog_create(w, meta.id, HB_STR("hiroba message"), alice, NULL, NULL, NULL), 0);
    struct hb_store_token login = {HB_STR("0123456789abcdef0123456789abcdef"), alice, T0,
                                   T0 + 7 * 86400 * SEC};
    struct hb_store_token rotated = {HB_STR("fedcba9876543210fedcba9876543210"), alice, T0,
                                     T0 + 7 * 86400 * SEC};
    ASSERT_EQ_INT(hb_store_token_record(w, &login), 0);
    ASSERT_EQ_INT(hb_store_token_rotate(w, &login, NULL, T0), 0);
    ASSERT_EQ_INT(hb_store_token_blacklist(w, &rotated, T0), 0);

    out = django(path, "hiroba_dump");
    ASSERT(out != NULL);
    ASSERT_HAS(out, "\"username\": \"alice\"");
    ASSERT_HAS(out,
               "\"password\": \"argon2$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2g\"");
    ASSERT_HAS(out, "\"name\": \"hiroba category\"");
    ASSERT_HAS(out, "\"comment\": \"hiroba topic\", \"created_at\": "
                    "\"2025-01-13T23:56:12.123456+00:00\"");
    ASSERT_HAS(out, "\"comment\": \"hiroba reply\", \"created_at\": \"2025-01-13T23:56:12+00:00\"");
    ASSERT_HAS(out, "\"headcount\": 1, \"id\": 2, \"name\": \"hiroba-room\"");
    ASSERT_HAS(out, "\"message\": \"hiroba message\", \"room\": 2");
    ASSERT_HAS(out, "{\"blacklisted\": true, \"created_at\": \"2025-01-13T23:56:12+00:00\", "
                    "\"expires_at\": \"2025-01-20T23:56:12+00:00\", \"jti\": "
                    "\"0123456789abcdef0123456789abcdef\", \"token\": \"\", \"user\": 2}");
    ASSERT_HAS(out, "\"jti\": \"fedcba9876543210fedcba9876543210\", \"token\": \"\", \"user\": 2}");
    free(out);

    /* Django deletes a hiroba author (it cannot see author_id): SET NULL keeps it working, and
     * Django's own cascade removes a category hiroba made, topics included. */
    out = django(path, "shell -c \"from django.contrib.auth.models import User; "
                       "User.objects.filter(username='alice').delete(); "
                       "from bbs.models import Category; Category.objects.filter(id=1).delete()\"");
    ASSERT(out != NULL);
    free(out);
    ASSERT_EQ_INT(hb_store_topic_get(r, 2, &meta, &json), 0);
    ASSERT_EQ_MEM(json.data, json.len,
                  "{\"id\":2,\"category\":2,\"created_at\":\"" T0_JST "\",\"comment\":\"hiroba "
                  "topic\",\"author\":null}");
    hb_buf_reset(&json);
    q.search = HB_STR("Django");
    ASSERT_EQ_INT(hb_store_topic_list(r, &q, NULL, &json), 0);
    ASSERT_EQ_MEM(json.data, json.len, "[]"); /* Django's delete went through the triggers */

    hb_buf_release(&json);
    hb_store_reader_close(r);
    hb_store_destroy(store);
}
