/* SPDX-License-Identifier: MIT */
/* SQLite schema migration (store layer, API.md §9). Every step checks the schema itself rather
 * than trusting a history table, because the database may have been created or rebuilt by
 * Django: a Django table rebuild on SQLite (its ALTER emulation) drops hiroba's author_id column
 * and the FTS triggers, and the next migrate puts them back. hiroba_migrations only records when
 * each step first ran. The whole run is one BEGIN IMMEDIATE transaction, so two processes
 * migrating at once serialise, and a run that finds nothing missing rolls back untouched.
 *
 * The Django DDL below is Django's own text, copied from sqlite_master of a database made by
 * `manage.py migrate` of tests/e2e/django_models/ (Django with DEFAULT_AUTO_FIELD=BigAutoField,
 * SimpleJWT's token_blacklist): the final state after all of Django's migrations, which is why
 * auth_user.first_name comes last and the token tables list id last. Keep it byte-identical:
 * test_store.c compares it with a Django-made database. */
#include <stdio.h>

#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"
#include "store/store_sqlite.h"

struct django_table {
    const char *name;
    const char *ddl; /* the table and its indexes */
};

static const struct django_table django_tables[] = {
    {"auth_user",
     "CREATE TABLE \"auth_user\" (\"id\" integer NOT NULL PRIMARY KEY AUTOINCREMENT, "
     "\"password\" varchar(128) NOT NULL, \"last_login\" datetime NULL, \"is_superuser\" bool "
     "NOT NULL, \"username\" varchar(150) NOT NULL UNIQUE, \"last_name\" varchar(150) NOT NULL, "
     "\"email\" varchar(254) NOT NULL, \"is_staff\" bool NOT NULL, \"is_active\" bool NOT NULL, "
     "\"date_joined\" datetime NOT NULL, \"first_name\" varchar(150) NOT NULL);"},
    {"bbs_category",
     "CREATE TABLE \"bbs_category\" (\"id\" integer NOT NULL PRIMARY KEY AUTOINCREMENT, \"name\" "
     "varchar(100) NOT NULL);"},
    {"bbs_topic",
     "CREATE TABLE \"bbs_topic\" (\"id\" integer NOT NULL PRIMARY KEY AUTOINCREMENT, "
     "\"created_at\" datetime NOT NULL, \"comment\" varchar(2000) NOT NULL, \"category_id\" "
     "bigint NOT NULL REFERENCES \"bbs_category\" (\"id\") DEFERRABLE INITIALLY DEFERRED);"
     "CREATE INDEX \"bbs_topic_category_id_332e03a8\" ON \"bbs_topic\" (\"category_id\");"},
    {"bbs_reply",
     "CREATE TABLE \"bbs_reply\" (\"id\" integer NOT NULL PRIMARY KEY AUTOINCREMENT, "
     "\"created_at\" datetime NOT NULL, \"comment\" varchar(2000) NOT NULL, \"topic_id\" bigint "
     "NOT NULL REFERENCES \"bbs_topic\" (\"id\") DEFERRABLE INITIALLY DEFERRED);"
     "CREATE INDEX \"bbs_reply_topic_id_bad3c583\" ON \"bbs_reply\" (\"topic_id\");"},
    {"chat_room",
     "CREATE TABLE \"chat_room\" (\"id\" integer NOT NULL PRIMARY KEY AUTOINCREMENT, "
     "\"created_at\" datetime NOT NULL, \"name\" varchar(200) NOT NULL UNIQUE, \"headcount\" "
     "integer unsigned NOT NULL CHECK (\"headcount\" >= 0));"},
    {"chat_chatlog",
     "CREATE TABLE \"chat_chatlog\" (\"id\" integer NOT NULL PRIMARY KEY AUTOINCREMENT, "
     "\"created_at\" datetime NOT NULL, \"message\" varchar(200) NOT NULL, \"room_id\" bigint "
     "NOT NULL REFERENCES \"chat_room\" (\"id\") DEFERRABLE INITIALLY DEFERRED);"
     "CREATE INDEX \"chat_chatlog_room_id_cd096de9\" ON \"chat_chatlog\" (\"room_id\");"},
    {"token_blacklist_outstandingtoken",
     "CREATE TABLE \"token_blacklist_outstandingtoken\" (\"token\" text NOT NULL, \"created_at\" "
     "datetime NULL, \"expires_at\" datetime NOT NULL, \"user_id\" integer NULL REFERENCES "
     "\"auth_user\" (\"id\") DEFERRABLE INITIALLY DEFERRED, \"jti\" varchar(255) NOT NULL "
     "UNIQUE, \"id\" integer NOT NULL PRIMARY KEY AUTOINCREMENT);"
     "CREATE INDEX \"token_blacklist_outstandingtoken_user_id_83bc629a\" ON "
     "\"token_blacklist_outstandingtoken\" (\"user_id\");"},
    {"token_blacklist_blacklistedtoken",
     "CREATE TABLE \"token_blacklist_blacklistedtoken\" (\"blacklisted_at\" datetime NOT NULL, "
     "\"token_id\" bigint NOT NULL UNIQUE REFERENCES \"token_blacklist_outstandingtoken\" "
     "(\"id\") DEFERRABLE INITIALLY DEFERRED, \"id\" integer NOT NULL PRIMARY KEY "
     "AUTOINCREMENT);"},
};

/* Tables that get hiroba's author_id column. */
static const char *const author_tables[] = {"bbs_category", "bbs_topic", "bbs_reply", "chat_room",
                                            "chat_chatlog"};

static const char migrations_ddl[] =
    "CREATE TABLE \"hiroba_migrations\" (\"id\" integer NOT NULL PRIMARY KEY, \"name\" text NOT "
    "NULL UNIQUE, \"applied_at\" datetime NOT NULL);";

static const char login_failure_ddl[] =
    "CREATE TABLE \"hiroba_login_failure\" (\"id\" integer NOT NULL PRIMARY KEY, \"scope\" text "
    "NOT NULL, \"key\" text NOT NULL, \"failed_at\" datetime NOT NULL);"
    "CREATE INDEX \"hiroba_login_failure_scope_key_failed_at\" ON \"hiroba_login_failure\" "
    "(\"scope\", \"key\", \"failed_at\");";

/* Which instance holds how many of a room's sockets, so the survivors can give back the seats of
 * an instance that died (API.md §6.3: headcount across instances). */
static const char instance_ddl[] =
    "CREATE TABLE \"hiroba_instance\" (\"id\" varchar(64) NOT NULL PRIMARY KEY, \"beat_at\" "
    "datetime NOT NULL);"
    "CREATE TABLE \"hiroba_presence\" (\"instance_id\" varchar(64) NOT NULL, \"room_id\" "
    "bigint NOT NULL, \"n\" integer NOT NULL, PRIMARY KEY (\"instance_id\", \"room_id\"));";

/* External content over bbs_topic.comment: the index holds trigrams only, and the triggers keep
 * it current for every writer, Django included. */
static const char fts_ddl[] =
    "CREATE VIRTUAL TABLE \"hiroba_topic_fts\" USING fts5(comment, content='bbs_topic', "
    "content_rowid='id', tokenize='trigram');";

static const char *const fts_triggers[] = {"hiroba_topic_fts_ai", "hiroba_topic_fts_ad",
                                           "hiroba_topic_fts_au"};

static const char fts_triggers_ddl[] =
    "DROP TRIGGER IF EXISTS \"hiroba_topic_fts_ai\";"
    "DROP TRIGGER IF EXISTS \"hiroba_topic_fts_ad\";"
    "DROP TRIGGER IF EXISTS \"hiroba_topic_fts_au\";"
    "CREATE TRIGGER \"hiroba_topic_fts_ai\" AFTER INSERT ON \"bbs_topic\" BEGIN "
    "INSERT INTO \"hiroba_topic_fts\" (rowid, comment) VALUES (new.id, new.comment); END;"
    "CREATE TRIGGER \"hiroba_topic_fts_ad\" AFTER DELETE ON \"bbs_topic\" BEGIN "
    "INSERT INTO \"hiroba_topic_fts\" (\"hiroba_topic_fts\", rowid, comment) "
    "VALUES ('delete', old.id, old.comment); END;"
    "CREATE TRIGGER \"hiroba_topic_fts_au\" AFTER UPDATE ON \"bbs_topic\" BEGIN "
    "INSERT INTO \"hiroba_topic_fts\" (\"hiroba_topic_fts\", rowid, comment) "
    "VALUES ('delete', old.id, old.comment); "
    "INSERT INTO \"hiroba_topic_fts\" (rowid, comment) VALUES (new.id, new.comment); END;";

static const char fts_rebuild[] =
    "INSERT INTO \"hiroba_topic_fts\" (\"hiroba_topic_fts\") VALUES ('rebuild');";

/* Runs a one-row query with text parameters; sets *found (false on an error). The statements are
 * not cached: this runs once per process. */
static int query_exists(struct hb_store__sqlite_conn *c, const char *sql, const char *a,
                        const char *b, bool *found)
{
    *found = false;
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(c->db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK)
        return hb_store__sqlite_err(c, rc, "migrate: prepare");
    sqlite3_bind_text(st, 1, a, -1, SQLITE_STATIC);
    if (b != NULL)
        sqlite3_bind_text(st, 2, b, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return hb_store__sqlite_err(c, rc, "migrate: query");
    *found = rc == SQLITE_ROW;
    return 0;
}

static int exists(struct hb_store__sqlite_conn *c, const char *type, const char *name, bool *found)
{
    return query_exists(c, "SELECT 1 FROM sqlite_master WHERE type = ?1 AND name = ?2", type, name,
                        found);
}

static int has_author_column(struct hb_store__sqlite_conn *c, const char *table, bool *found)
{
    return query_exists(c, "SELECT 1 FROM pragma_table_info(?1) WHERE name = 'author_id'", table,
                        NULL, found);
}

static int record(struct hb_store__sqlite_conn *c, const char *name)
{
    char now[HB_STORE_TIME_DB_SIZE];
    hb_store_time_format_db(hb_clock_unix_us(), now);
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(
        c->db, "INSERT OR IGNORE INTO hiroba_migrations (name, applied_at) VALUES (?1, ?2)", -1,
        &st, NULL);
    if (rc != SQLITE_OK)
        return hb_store__sqlite_err(c, rc, "migrate: prepare");
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, now, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : hb_store__sqlite_err(c, rc, "migrate: record");
}

static int migrate_django(struct hb_store__sqlite_conn *c, bool *changed)
{
    bool created = false;
    for (size_t i = 0; i < sizeof(django_tables) / sizeof(django_tables[0]); i++) {
        bool found;
        int err = exists(c, "table", django_tables[i].name, &found);
        if (err == 0 && !found) {
            err = hb_store__sqlite_exec(c, django_tables[i].ddl);
            created = true;
        }
        if (err < 0)
            return err;
    }
    if (!created)
        return 0;
    *changed = true;
    return record(c, "0001_django_tables");
}

static int migrate_authors(struct hb_store__sqlite_conn *c, bool *changed)
{
    bool added = false;
    for (size_t i = 0; i < sizeof(author_tables) / sizeof(author_tables[0]); i++) {
        const char *table = author_tables[i];
        char sql[512], index[128];
        bool found;
        int err = has_author_column(c, table, &found);
        if (err == 0 && !found) {
            /* SQLite allows ADD COLUMN with REFERENCES when the default is NULL. The FK is
             * deferred like Django's, and SET NULL lets Django delete users it cannot see the
             * references of. */
            snprintf(sql, sizeof(sql),
                     "ALTER TABLE \"%s\" ADD COLUMN \"author_id\" integer NULL REFERENCES "
                     "\"auth_user\" (\"id\") ON DELETE SET NULL DEFERRABLE INITIALLY DEFERRED;",
                     table);
            err = hb_store__sqlite_exec(c, sql);
            added = true;
        }
        snprintf(index, sizeof(index), "hiroba_%s_author_id", table);
        if (err == 0)
            err = exists(c, "index", index, &found);
        if (err == 0 && !found) {
            snprintf(sql, sizeof(sql), "CREATE INDEX \"%s\" ON \"%s\" (\"author_id\");", index,
                     table);
            err = hb_store__sqlite_exec(c, sql);
            added = true;
        }
        if (err < 0)
            return err;
    }
    if (!added)
        return 0;
    *changed = true;
    return record(c, "0002_author_id");
}

static int migrate_fts(struct hb_store__sqlite_conn *c, bool *changed)
{
    bool found, need_rebuild = false, need_triggers = false, had_index;
    int err = exists(c, "table", "hiroba_topic_fts", &found);
    had_index = found;
    if (err == 0 && !found) {
        err = hb_store__sqlite_exec(c, fts_ddl);
        need_rebuild = true;
    }
    for (size_t i = 0; err == 0 && i < sizeof(fts_triggers) / sizeof(fts_triggers[0]); i++) {
        err = exists(c, "trigger", fts_triggers[i], &found);
        if (err == 0 && !found)
            need_triggers = true;
    }
    if (err == 0 && need_triggers) {
        /* Rows may have changed while a trigger was missing: the index cannot be trusted. */
        err = hb_store__sqlite_exec(c, fts_triggers_ddl);
        need_rebuild = true;
    }
    if (err == 0 && need_rebuild) {
        if (had_index)
            hb_log_info("migrate: search triggers were missing; rebuilding hiroba_topic_fts");
        err = hb_store__sqlite_exec(c, fts_rebuild);
    }
    if (err < 0 || !need_rebuild)
        return err;
    *changed = true;
    return record(c, "0003_topic_fts");
}

static int migrate_login_failure(struct hb_store__sqlite_conn *c, bool *changed)
{
    bool found;
    int err = exists(c, "table", "hiroba_login_failure", &found);
    if (err < 0 || found)
        return err;
    err = hb_store__sqlite_exec(c, login_failure_ddl);
    if (err < 0)
        return err;
    *changed = true;
    return record(c, "0004_login_failure");
}

static int migrate_instance(struct hb_store__sqlite_conn *c, bool *changed)
{
    bool found;
    int err = exists(c, "table", "hiroba_presence", &found);
    if (err < 0 || found)
        return err;
    err = hb_store__sqlite_exec(c, instance_ddl);
    if (err < 0)
        return err;
    *changed = true;
    return record(c, "0005_instance_presence");
}

int hb_store__sqlite_migrate(struct hb_store__sqlite_conn *c)
{
    bool changed = false, found;
    int err = hb_store__sqlite_exec(c, "BEGIN IMMEDIATE");
    if (err < 0)
        return err;
    err = exists(c, "table", "hiroba_migrations", &found);
    if (err == 0 && !found) {
        err = hb_store__sqlite_exec(c, migrations_ddl);
        changed = true;
    }
    if (err == 0)
        err = migrate_django(c, &changed);
    if (err == 0)
        err = migrate_authors(c, &changed);
    if (err == 0)
        err = migrate_fts(c, &changed);
    if (err == 0)
        err = migrate_login_failure(c, &changed);
    if (err == 0)
        err = migrate_instance(c, &changed);
    if (err == 0 && changed)
        err = hb_store__sqlite_exec(c, "COMMIT");
    if (err < 0 || !changed)
        sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
    return err;
}
