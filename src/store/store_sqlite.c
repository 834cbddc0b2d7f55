/* SPDX-License-Identifier: MIT */
/* The SQLite backend (store layer). Each connection caches its prepared statements for its whole
 * life; every value travels as a bound parameter, and the only SQL assembled at run time is the
 * topic list's, from fixed fragments. An operation records each statement it touches and end_op()
 * resets them all, so no statement outlives its call holding a read snapshot (which would stall
 * WAL checkpoints), and rolls back any transaction an error left open.
 * Writes use BEGIN IMMEDIATE so the write lock is taken up front: a deferred transaction that
 * upgrades later can fail with SQLITE_BUSY without waiting. */
#include "store/store_sqlite.h"

#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"

#define HEADCOUNT_MAX "2147483647"
#define SCRATCH_MAX   (1u << 20)

/* Column lists shared by the statements that emit a resource (the emit_* decoders read them by
 * position). */
#define CATEGORY_COLS "c.id, c.name, c.author_id, u.username"
#define CATEGORY_FROM "bbs_category c LEFT JOIN auth_user u ON u.id = c.author_id"
#define TOPIC_COLS    "t.id, t.category_id, t.created_at, t.comment, t.author_id, u.username"
#define TOPIC_FROM    "bbs_topic t LEFT JOIN auth_user u ON u.id = t.author_id"
#define REPLY_COLS    "t.id, t.topic_id, t.created_at, t.comment, t.author_id, u.username"
#define REPLY_FROM    "bbs_reply t LEFT JOIN auth_user u ON u.id = t.author_id"
#define ROOM_COLS     "r.id, r.created_at, r.name, r.headcount, r.author_id, u.username"
#define ROOM_FROM     "chat_room r LEFT JOIN auth_user u ON u.id = r.author_id"
#define LOG_COLS      "l.id, l.room_id, l.created_at, l.message, l.author_id, u.username"
#define LOG_FROM      "chat_chatlog l LEFT JOIN auth_user u ON u.id = l.author_id"
/* The instances whose seats are given back: the stale others (?2 = stale before), or this one
 * (?1) when ?2 is NULL. */
#define GONE_INSTANCES                                                                             \
    "(SELECT id FROM hiroba_instance WHERE ?2 IS NOT NULL AND id <> ?1 AND beat_at < ?2 UNION "    \
    "SELECT ?1 WHERE ?2 IS NULL)"
#define USER_COLS "id, password, is_active, is_staff, is_superuser, username, email"
/* An author id that names no user is stored as NULL rather than failing the insert. */
#define AUTHOR(n) "(SELECT id FROM auth_user WHERE id = ?" #n ")"
#define TOKEN_INSERT                                                                               \
    "INSERT INTO token_blacklist_outstandingtoken (token, created_at, expires_at, user_id, jti) "  \
    "VALUES ('', ?1, ?2, " AUTHOR(3) ", ?4)"

#define STMTS(X)                                                                                   \
    X(ST_BEGIN, "BEGIN IMMEDIATE")                                                                 \
    X(ST_BEGIN_READ, "BEGIN")                                                                      \
    X(ST_COMMIT, "COMMIT")                                                                         \
    X(ST_PING, "SELECT 1")                                                                         \
    X(ST_USER_INSERT,                                                                              \
      "INSERT INTO auth_user (password, last_login, is_superuser, username, first_name, "          \
      "last_name, email, is_staff, is_active, date_joined) VALUES (?1, NULL, ?2, ?3, '', '', ?4, " \
      "?5, 1, ?6)")                                                                                \
    X(ST_USER_BY_NAME, "SELECT " USER_COLS " FROM auth_user WHERE username = ?1")                  \
    X(ST_USER_BY_ID, "SELECT " USER_COLS " FROM auth_user WHERE id = ?1")                          \
    X(ST_USER_SET_PASSWORD, "UPDATE auth_user SET password = ?2 WHERE id = ?1")                    \
    X(ST_USER_SET_LAST_LOGIN, "UPDATE auth_user SET last_login = ?2 WHERE id = ?1")                \
    X(ST_USER_SET_ACTIVE, "UPDATE auth_user SET is_active = ?2 WHERE id = ?1")                     \
    X(ST_TOKEN_INSERT, TOKEN_INSERT)                                                               \
    X(ST_TOKEN_INSERT_IF_MISSING, TOKEN_INSERT " ON CONFLICT (jti) DO NOTHING")                    \
    X(ST_TOKEN_ID, "SELECT id FROM token_blacklist_outstandingtoken WHERE jti = ?1")               \
    X(ST_BLACKLIST_INSERT,                                                                         \
      "INSERT INTO token_blacklist_blacklistedtoken (blacklisted_at, token_id) VALUES (?1, ?2)")   \
    X(ST_IS_BLACKLISTED,                                                                           \
      "SELECT 1 FROM token_blacklist_blacklistedtoken b JOIN token_blacklist_outstandingtoken o "  \
      "ON o.id = b.token_id WHERE o.jti = ?1")                                                     \
    X(ST_PURGE_BLACKLISTED,                                                                        \
      "DELETE FROM token_blacklist_blacklistedtoken WHERE token_id IN (SELECT id FROM "            \
      "token_blacklist_outstandingtoken WHERE expires_at < ?1)")                                   \
    X(ST_PURGE_OUTSTANDING, "DELETE FROM token_blacklist_outstandingtoken WHERE expires_at < ?1")  \
    X(ST_THROTTLE_INSERT,                                                                          \
      "INSERT INTO hiroba_login_failure (scope, key, failed_at) VALUES (?1, ?2, ?3)")              \
    X(ST_THROTTLE_COUNT,                                                                           \
      "SELECT count(*), min(failed_at) FROM hiroba_login_failure WHERE scope = ?1 AND key = ?2 "   \
      "AND failed_at > ?3")                                                                        \
    X(ST_THROTTLE_CLEAR, "DELETE FROM hiroba_login_failure WHERE scope = ?1 AND key = ?2")         \
    X(ST_THROTTLE_PURGE, "DELETE FROM hiroba_login_failure WHERE failed_at <= ?1")                 \
    X(ST_CATEGORY_LIST,                                                                            \
      "SELECT " CATEGORY_COLS " FROM " CATEGORY_FROM " ORDER BY c.id LIMIT ?1 OFFSET ?2")          \
    X(ST_CATEGORY_COUNT, "SELECT count(*) FROM bbs_category")                                      \
    X(ST_CATEGORY_GET, "SELECT " CATEGORY_COLS " FROM " CATEGORY_FROM " WHERE c.id = ?1")          \
    X(ST_CATEGORY_EXISTS, "SELECT 1 FROM bbs_category WHERE id = ?1")                              \
    X(ST_CATEGORY_INSERT, "INSERT INTO bbs_category (name, author_id) VALUES (?1, " AUTHOR(2) ")") \
    X(ST_CATEGORY_UPDATE, "UPDATE bbs_category SET name = ?2 WHERE id = ?1")                       \
    X(ST_CATEGORY_TOPIC_IDS, "SELECT id FROM bbs_topic WHERE category_id = ?1 ORDER BY id")        \
    X(ST_CATEGORY_DELETE_REPLIES,                                                                  \
      "DELETE FROM bbs_reply WHERE topic_id IN (SELECT id FROM bbs_topic WHERE category_id = ?1)") \
    X(ST_CATEGORY_DELETE_TOPICS, "DELETE FROM bbs_topic WHERE category_id = ?1")                   \
    X(ST_CATEGORY_DELETE, "DELETE FROM bbs_category WHERE id = ?1")                                \
    X(ST_TOPIC_GET, "SELECT " TOPIC_COLS " FROM " TOPIC_FROM " WHERE t.id = ?1")                   \
    X(ST_TOPIC_EXISTS, "SELECT 1 FROM bbs_topic WHERE id = ?1")                                    \
    X(ST_TOPIC_INSERT, "INSERT INTO bbs_topic (created_at, comment, category_id, author_id) "      \
                       "VALUES (?1, ?2, ?3, " AUTHOR(4) ")")                                       \
    X(ST_TOPIC_UPDATE,                                                                             \
      "UPDATE bbs_topic SET category_id = coalesce(?2, category_id), comment = coalesce(?3, "      \
      "comment), created_at = coalesce(?4, created_at) WHERE id = ?1")                             \
    X(ST_TOPIC_DELETE_REPLIES, "DELETE FROM bbs_reply WHERE topic_id = ?1")                        \
    X(ST_TOPIC_DELETE, "DELETE FROM bbs_topic WHERE id = ?1")                                      \
    X(ST_REPLY_GET, "SELECT " REPLY_COLS " FROM " REPLY_FROM " WHERE t.id = ?1")                   \
    X(ST_REPLY_INSERT, "INSERT INTO bbs_reply (created_at, comment, topic_id, author_id) VALUES "  \
                       "(?1, ?2, ?3, " AUTHOR(4) ")")                                              \
    X(ST_REPLY_UPDATE,                                                                             \
      "UPDATE bbs_reply SET topic_id = coalesce(?2, topic_id), comment = coalesce(?3, comment), "  \
      "created_at = coalesce(?4, created_at) WHERE id = ?1")                                       \
    X(ST_REPLY_DELETE, "DELETE FROM bbs_reply WHERE id = ?1")                                      \
    X(ST_REPLY_LIST_TOPIC,                                                                         \
      "SELECT " REPLY_COLS " FROM " REPLY_FROM " WHERE t.topic_id = ?1 AND t.id > ?2 ORDER BY "    \
      "t.id LIMIT ?3 OFFSET ?4")                                                                   \
    X(ST_REPLY_COUNT_TOPIC, "SELECT count(*) FROM bbs_reply WHERE topic_id = ?1 AND id > ?2")      \
    X(ST_REPLY_LIST_ALL,                                                                           \
      "SELECT " REPLY_COLS " FROM " REPLY_FROM " WHERE t.id > ?2 ORDER BY t.id LIMIT ?3 OFFSET "   \
      "?4")                                                                                        \
    X(ST_REPLY_COUNT_ALL, "SELECT count(*) FROM bbs_reply WHERE id > ?2")                          \
    X(ST_ROOM_LIST, "SELECT " ROOM_COLS " FROM " ROOM_FROM " ORDER BY r.id LIMIT ?1 OFFSET ?2")    \
    X(ST_ROOM_COUNT, "SELECT count(*) FROM chat_room")                                             \
    X(ST_ROOM_GET, "SELECT " ROOM_COLS " FROM " ROOM_FROM " WHERE r.id = ?1")                      \
    X(ST_ROOM_INSERT, "INSERT INTO chat_room (created_at, name, headcount, author_id) VALUES "     \
                      "(?1, ?2, ?3, " AUTHOR(4) ")")                                               \
    X(ST_ROOM_UPDATE,                                                                              \
      "UPDATE chat_room SET name = coalesce(?2, name), headcount = coalesce(?3, headcount), "      \
      "created_at = coalesce(?4, created_at) WHERE id = ?1")                                       \
    X(ST_ROOM_DELETE_LOGS, "DELETE FROM chat_chatlog WHERE room_id = ?1")                          \
    X(ST_ROOM_DELETE, "DELETE FROM chat_room WHERE id = ?1")                                       \
    X(ST_ROOM_JOIN,                                                                                \
      "UPDATE chat_room SET headcount = min(headcount + 1, " HEADCOUNT_MAX ") WHERE id = ?1 "      \
      "RETURNING headcount")                                                                       \
    X(ST_ROOM_LEAVE,                                                                               \
      "UPDATE chat_room SET headcount = max(headcount - 1, 0) WHERE id = ?1 RETURNING headcount")  \
    X(ST_ROOM_RESET, "UPDATE chat_room SET headcount = 0 WHERE headcount <> 0")                    \
    X(ST_PRESENCE_RESET, "DELETE FROM hiroba_presence")                                            \
    X(ST_INSTANCE_RESET, "DELETE FROM hiroba_instance")                                            \
    X(ST_PRESENCE_ADD,                                                                             \
      "INSERT INTO hiroba_presence (instance_id, room_id, n) VALUES (?1, ?2, 1) ON CONFLICT "      \
      "(instance_id, room_id) DO UPDATE SET n = n + 1")                                            \
    X(ST_PRESENCE_TAKE,                                                                            \
      "UPDATE hiroba_presence SET n = n - 1 WHERE instance_id = ?1 AND room_id = ?2 AND n > 0")    \
    X(ST_ROOM_HEADCOUNT, "SELECT headcount FROM chat_room WHERE id = ?1")                          \
    X(ST_PRESENCE_PRUNE,                                                                           \
      "DELETE FROM hiroba_presence WHERE instance_id = ?1 AND room_id = ?2 AND n <= 0")            \
    X(ST_INSTANCE_BEAT,                                                                            \
      "INSERT INTO hiroba_instance (id, beat_at) VALUES (?1, ?2) ON CONFLICT (id) DO UPDATE SET "  \
      "beat_at = excluded.beat_at")                                                                \
    /* ?1 = this instance, ?2 = stale before; NULL ?2 = this instance's own rows (leave). */       \
    X(ST_INSTANCE_GIVE_BACK,                                                                       \
      "UPDATE chat_room SET headcount = max(headcount - (SELECT coalesce(sum(p.n), 0) FROM "       \
      "hiroba_presence p WHERE p.room_id = chat_room.id AND p.instance_id IN " GONE_INSTANCES      \
      "), 0) WHERE id IN (SELECT room_id FROM hiroba_presence WHERE instance_id "                  \
      "IN " GONE_INSTANCES ")")                                                                    \
    X(ST_INSTANCE_DROP_PRESENCE,                                                                   \
      "DELETE FROM hiroba_presence WHERE instance_id IN " GONE_INSTANCES)                          \
    X(ST_INSTANCE_DROP, "DELETE FROM hiroba_instance WHERE id IN " GONE_INSTANCES)                 \
    X(ST_ROOM_EXISTS, "SELECT 1 FROM chat_room WHERE id = ?1")                                     \
    X(ST_LOG_LAST, "SELECT coalesce(max(id), 0) FROM chat_chatlog WHERE room_id = ?1")             \
    X(ST_LOG_LIST,                                                                                 \
      "SELECT " LOG_COLS " FROM " LOG_FROM " WHERE l.room_id = ?1 AND l.id > ?2 ORDER BY l.id "    \
      "LIMIT ?3 OFFSET ?4")                                                                        \
    X(ST_LOG_COUNT, "SELECT count(*) FROM chat_chatlog WHERE room_id = ?1 AND id > ?2")            \
    X(ST_LOG_INSERT, "INSERT INTO chat_chatlog (created_at, message, room_id, author_id) VALUES "  \
                     "(?1, ?2, ?3, " AUTHOR(4) ")")

enum stmt_id {
#define STMT_ENUM(id, sql) id,
    STMTS(STMT_ENUM)
#undef STMT_ENUM
        N_STMTS
};

static const char *const stmt_sql[] = {
#define STMT_SQL(id, sql) sql,
    STMTS(STMT_SQL)
#undef STMT_SQL
};

_Static_assert(N_STMTS <= HB_SQ_MAX_STMTS, "raise HB_SQ_MAX_STMTS");

typedef struct hb_store__sqlite_conn sq_conn;

/* Checkpoints run on a thread of their own, never inside a commit: SQLite's automatic one copies
 * the WAL into the database file and fsyncs it in whichever commit crosses the threshold, which
 * stalls that commit (and every chat message queued behind it) for milliseconds. The writer's
 * WAL hook only signals this thread; a PASSIVE checkpoint never blocks writers or readers. */
#define CKPT_PAGES       1000 /* SQLite's own default threshold */
#define CKPT_INTERVAL_MS 1000

struct sq_checkpointer {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    sqlite3 *db; /* the thread's own connection */
    bool is_running, stop, is_due;
};

struct sq_store {
    char *path;
    bool is_memory;
    struct sq_checkpointer ckpt;
};

static sq_conn *sq(struct hb_store_conn *conn)
{
    return (sq_conn *)conn;
}

/* ---- Errors, statements, transactions ---- */

int hb_store__sqlite_err(sq_conn *c, int rc, const char *what)
{
    switch (rc) {
    case SQLITE_CONSTRAINT_UNIQUE:
    case SQLITE_CONSTRAINT_PRIMARYKEY:
        return HB_EEXIST;
    case SQLITE_CONSTRAINT_FOREIGNKEY:
        return HB_ECONFLICT;
    default:
        break;
    }
    switch (rc & 0xff) {
    case SQLITE_CONSTRAINT:
        return HB_EINVAL;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        hb_log_warn("sqlite: %s: %s", what, sqlite3_errstr(rc));
        return HB_EBUSY;
    case SQLITE_NOMEM:
        return HB_ENOMEM;
    default:
        hb_log_error("sqlite: %s: %s", what, c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc));
        return HB_EDB;
    }
}

int hb_store__sqlite_exec(sq_conn *c, const char *sql)
{
    int rc = sqlite3_exec(c->db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? 0 : hb_store__sqlite_err(c, rc, "exec");
}

/* Remembers st so end_op() resets it. */
static int track(sq_conn *c, sqlite3_stmt *st)
{
    for (int i = 0; i < c->n_used; i++)
        if (c->used[i] == st)
            return 0;
    if (c->n_used == HB_SQ_MAX_USED)
        HB_BUG("an operation used more than HB_SQ_MAX_USED statements");
    c->used[c->n_used++] = st;
    return 0;
}

/* Readies a cached statement (prepared on first use) for binding. */
static int use_sql(sq_conn *c, sqlite3_stmt **slot, const char *sql, sqlite3_stmt **out)
{
    *out = NULL;
    if (*slot == NULL) {
        int rc = sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, slot, NULL);
        if (rc != SQLITE_OK) {
            *slot = NULL;
            return hb_store__sqlite_err(c, rc, "prepare");
        }
    } else {
        sqlite3_reset(*slot);
        sqlite3_clear_bindings(*slot);
    }
    *out = *slot;
    return track(c, *slot);
}

static int use(sq_conn *c, enum stmt_id id, sqlite3_stmt **out)
{
    return use_sql(c, &c->stmts[id], stmt_sql[id], out);
}

/* Ends an operation: resets its statements and rolls back a transaction left open. */
static int end_op(sq_conn *c, int err)
{
    for (int i = 0; i < c->n_used; i++) {
        sqlite3_reset(c->used[i]);
        sqlite3_clear_bindings(c->used[i]);
    }
    c->n_used = 0;
    if (!sqlite3_get_autocommit(c->db))
        sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
    return err;
}

/* Steps st: 1 for a row, 0 when done, or an error. */
static int step(sq_conn *c, sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        return 1;
    if (rc == SQLITE_DONE)
        return 0;
    return hb_store__sqlite_err(c, rc, "step");
}

/* Runs st to completion. */
static int run(sq_conn *c, sqlite3_stmt *st)
{
    int err;
    while ((err = step(c, st)) == 1)
        ;
    return err;
}

static int run_id(sq_conn *c, enum stmt_id id)
{
    sqlite3_stmt *st;
    int err = use(c, id, &st);
    return err < 0 ? err : run(c, st);
}

static int begin_write(sq_conn *c)
{
    return run_id(c, ST_BEGIN);
}

/* A read snapshot, so a count and the page it sizes agree. */
static int begin_read(sq_conn *c)
{
    return run_id(c, ST_BEGIN_READ);
}

static int commit(sq_conn *c)
{
    return run_id(c, ST_COMMIT);
}

/* ---- Binding and reading values ---- */

static void bind_str(sqlite3_stmt *st, int i, struct hb_str s)
{
    sqlite3_bind_text(st, i, s.ptr ? s.ptr : "", (int)s.len, SQLITE_STATIC);
}

/* Binds s, or NULL when s.ptr is NULL ("unchanged" in partial updates). */
static void bind_opt_str(sqlite3_stmt *st, int i, struct hb_str s)
{
    if (s.ptr != NULL)
        bind_str(st, i, s);
}

static void bind_time(sqlite3_stmt *st, int i, int64_t us)
{
    char text[HB_STORE_TIME_DB_SIZE];
    size_t n = hb_store_time_format_db(us, text);
    sqlite3_bind_text(st, i, text, (int)n, SQLITE_TRANSIENT);
}

static void bind_opt_time(sqlite3_stmt *st, int i, int64_t us)
{
    if (us != HB_STORE_TIME_NONE)
        bind_time(st, i, us);
}

/* Binds v, or NULL when v is 0 (no author, no user, no change). */
static void bind_opt_id(sqlite3_stmt *st, int i, int64_t v)
{
    if (v > 0)
        sqlite3_bind_int64(st, i, v);
}

static struct hb_str col_str(sqlite3_stmt *st, int i)
{
    const unsigned char *p = sqlite3_column_text(st, i);
    int n = sqlite3_column_bytes(st, i);
    if (p == NULL)
        return (struct hb_str){"", 0};
    return (struct hb_str){(const char *)p, (size_t)n};
}

static int64_t col_time(sqlite3_stmt *st, int i)
{
    struct hb_str s = col_str(st, i);
    int64_t us;
    return hb_store_time_parse_db(s.ptr, s.len, &us) == 0 ? us : HB_STORE_TIME_NONE;
}

/* The author of a row: its id when the joined user exists (username column i + 1), else 0. */
static int64_t col_author(sqlite3_stmt *st, int i)
{
    if (sqlite3_column_type(st, i) == SQLITE_NULL || sqlite3_column_type(st, i + 1) == SQLITE_NULL)
        return 0;
    return sqlite3_column_int64(st, i);
}

/* Copies a text column into dst[cap], cutting at a UTF-8 boundary if it does not fit. */
static void col_copy(sqlite3_stmt *st, int i, char *dst, size_t cap)
{
    struct hb_str s = col_str(st, i);
    size_t n = s.len < cap - 1 ? s.len : cap - 1;
    while (n < s.len && n > 0 && ((unsigned char)s.ptr[n] & 0xc0) == 0x80)
        n--;
    memcpy(dst, s.ptr, n);
    dst[n] = '\0';
}

/* ---- Rows to meta and JSON ---- */

/* An emitter decodes the current row of a statement with its resource's columns, fills meta and
 * appends the JSON object (either may be NULL). flag is is_reply for posts. */
typedef int emit_fn(sqlite3_stmt *st, bool flag, struct hb_store_meta *meta, struct hb_buf *json);

static int emit_category(sqlite3_stmt *st, bool flag, struct hb_store_meta *meta,
                         struct hb_buf *json)
{
    (void)flag;
    struct hb_store__category_row row = {
        .id = sqlite3_column_int64(st, 0),
        .name = col_str(st, 1),
        .author_id = col_author(st, 2),
        .author_username = col_str(st, 3),
    };
    hb_store__set_meta(meta, row.id, 0, row.author_id);
    return json ? hb_store__json_category(json, &row) : 0;
}

static int emit_post(sqlite3_stmt *st, bool is_reply, struct hb_store_meta *meta,
                     struct hb_buf *json)
{
    struct hb_store__post_row row = {
        .id = sqlite3_column_int64(st, 0),
        .parent_id = sqlite3_column_int64(st, 1),
        .created_us = col_time(st, 2),
        .comment = col_str(st, 3),
        .author_id = col_author(st, 4),
        .author_username = col_str(st, 5),
    };
    hb_store__set_meta(meta, row.id, row.parent_id, row.author_id);
    return json ? hb_store__json_post(json, is_reply, &row) : 0;
}

static int emit_room(sqlite3_stmt *st, bool flag, struct hb_store_meta *meta, struct hb_buf *json)
{
    (void)flag;
    struct hb_store__room_row row = {
        .id = sqlite3_column_int64(st, 0),
        .created_us = col_time(st, 1),
        .name = col_str(st, 2),
        .headcount = sqlite3_column_int64(st, 3),
        .author_id = col_author(st, 4),
        .author_username = col_str(st, 5),
    };
    hb_store__set_meta(meta, row.id, 0, row.author_id);
    return json ? hb_store__json_room(json, &row) : 0;
}

static void decode_chatlog(sqlite3_stmt *st, struct hb_store_chatlog *row)
{
    row->id = sqlite3_column_int64(st, 0);
    row->room_id = sqlite3_column_int64(st, 1);
    row->created_us = col_time(st, 2);
    row->message = col_str(st, 3);
    row->author_id = col_author(st, 4);
    row->author_username = row->author_id ? col_str(st, 5) : (struct hb_str){"", 0};
}

static int emit_chatlog(sqlite3_stmt *st, bool flag, struct hb_store_meta *meta,
                        struct hb_buf *json)
{
    (void)flag;
    struct hb_store_chatlog row;
    decode_chatlog(st, &row);
    hb_store__set_meta(meta, row.id, row.room_id, row.author_id);
    return json ? hb_store_chatlog_write_json(json, HB_STORE_CHAT_REST, &row) : 0;
}

/* Steps a single-row query and emits it; HB_ENOTFOUND without a row. On failure json is left as
 * it was. */
static int emit_one(sq_conn *c, sqlite3_stmt *st, emit_fn *emit, bool flag,
                    struct hb_store_meta *meta, struct hb_buf *json)
{
    size_t start = json ? json->len : 0;
    int err = step(c, st);
    if (err == 0)
        return HB_ENOTFOUND;
    if (err < 0)
        return err;
    err = emit(st, flag, meta, json);
    if (err < 0)
        hb_store__truncate(json, start);
    return err;
}

/* Appends every row of st as a JSON array. On failure json is left as it was. */
static int emit_array(sq_conn *c, sqlite3_stmt *st, emit_fn *emit, bool flag, struct hb_buf *json)
{
    size_t start = json->len;
    int err = hb_buf_append_char(json, '[');
    bool is_first = true;
    while (err == 0 && (err = step(c, st)) == 1) {
        err = is_first ? 0 : hb_buf_append_char(json, ',');
        is_first = false;
        if (err == 0)
            err = emit(st, flag, NULL, json);
    }
    if (err == 0)
        err = hb_buf_append_char(json, ']');
    if (err < 0)
        hb_store__truncate(json, start);
    return err;
}

/* Pagination: when page is given, opens a read snapshot, runs the count statement (already
 * bound) and turns the page number into limit and offset; otherwise the whole list. */
static int page_window(sq_conn *c, sqlite3_stmt *count_st, struct hb_store_page *page,
                       int64_t *limit, int64_t *offset)
{
    *limit = -1; /* SQLite: no limit */
    *offset = 0;
    if (page == NULL)
        return 0;
    int err = step(c, count_st);
    if (err <= 0)
        return err < 0 ? err : HB_EDB;
    int64_t count = sqlite3_column_int64(count_st, 0);
    sqlite3_reset(count_st);
    page->count = count;
    int64_t last = count == 0 ? 1 : (count - 1) / page->size + 1;
    int64_t number = page->number == HB_STORE_PAGE_LAST ? last : page->number;
    if (number < 1 || number > last)
        return HB_ENOTFOUND;
    page->number = number;
    *limit = page->size;
    *offset = (number - 1) * page->size;
    return 0;
}

/* The list skeleton every resource shares: optional snapshot and count, then the rows. The
 * statements are bound by the caller except for the limit and offset parameters. */
static int list(sq_conn *c, sqlite3_stmt *rows, int limit_param, sqlite3_stmt *count,
                struct hb_store_page *page, emit_fn *emit, bool flag, struct hb_buf *json)
{
    int64_t limit = -1, offset = 0;
    int err = page ? begin_read(c) : 0;
    if (err == 0)
        err = page_window(c, count, page, &limit, &offset);
    if (err < 0)
        return err;
    sqlite3_bind_int64(rows, limit_param, limit);
    sqlite3_bind_int64(rows, limit_param + 1, offset);
    err = emit_array(c, rows, emit, flag, json);
    if (err == 0 && page != NULL)
        err = commit(c);
    return err;
}

/* ---- Backend lifecycle ---- */

static int sq_open(struct hb_store *store, const char *url)
{
    const char *rest;
    if (strncmp(url, "sqlite:///", 10) == 0)
        rest = url + 10;
    else if (strcmp(url, "sqlite://:memory:") == 0)
        rest = ":memory:";
    else
        return HB_EINVAL;
    if (rest[0] == '\0')
        return HB_EINVAL;

    struct sq_store *s = hb_xcalloc(1, sizeof(*s));
    if (strcmp(rest, ":memory:") == 0) {
        s->is_memory = true;
        s->path = hb_xstrdup(":memory:");
        store->readers_share_writer = true;
    } else if (rest[0] == '/') {
        s->path = hb_xstrdup(rest);
    } else {
        /* Resolve now: readers opened later must find the same file whatever the cwd is then. */
        char cwd[PATH_MAX];
        if (getcwd(cwd, sizeof(cwd)) == NULL) {
            free(s);
            return HB_EIO;
        }
        size_t n = strlen(cwd) + strlen(rest) + 2;
        s->path = hb_xmalloc(n);
        memcpy(s->path, cwd, strlen(cwd));
        s->path[strlen(cwd)] = '/';
        memcpy(s->path + strlen(cwd) + 1, rest, strlen(rest) + 1);
    }
    store->backend = s;
    return 0;
}

static void *checkpoint_main(void *arg)
{
    struct sq_store *s = arg;
    struct sq_checkpointer *k = &s->ckpt;
    sqlite3 *db = k->db;
    pthread_mutex_lock(&k->lock);
    while (!k->stop) {
        if (!k->is_due) {
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_sec += CKPT_INTERVAL_MS / 1000;
            (void)pthread_cond_timedwait(&k->wake, &k->lock, &until);
            if (k->stop)
                break;
        }
        k->is_due = false;
        pthread_mutex_unlock(&k->lock);
        int n_log = 0, n_done = 0;
        int rc = sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_PASSIVE, &n_log, &n_done);
        if (rc != SQLITE_OK && rc != SQLITE_BUSY && rc != SQLITE_LOCKED)
            hb_log_warn("checkpoint '%s': %s", s->path, sqlite3_errmsg(db));
        pthread_mutex_lock(&k->lock);
    }
    pthread_mutex_unlock(&k->lock);
    return NULL;
}

/* The writer's WAL hook, after each commit: signals the checkpoint thread past the threshold. */
static int on_wal_commit(void *arg, sqlite3 *db, const char *name, int n_pages)
{
    struct sq_checkpointer *k = arg;
    (void)db;
    (void)name;
    if (n_pages >= CKPT_PAGES) {
        pthread_mutex_lock(&k->lock);
        k->is_due = true;
        pthread_cond_signal(&k->wake);
        pthread_mutex_unlock(&k->lock);
    }
    return SQLITE_OK;
}

static void checkpointer_start(struct sq_store *s, sqlite3 *writer)
{
    struct sq_checkpointer *k = &s->ckpt;
    if (k->is_running)
        return;
    /* Without the thread, SQLite's automatic checkpoint stays in place. */
    /* A connection learns the file is in WAL mode when it first reads it: read once now. */
    if (sqlite3_open_v2(s->path, &k->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
            SQLITE_OK ||
        sqlite3_exec(k->db, "SELECT count(*) FROM sqlite_master", NULL, NULL, NULL) != SQLITE_OK) {
        hb_log_warn("open '%s': checkpoints stay in commits: %s", s->path,
                    k->db ? sqlite3_errmsg(k->db) : "out of memory");
        sqlite3_close_v2(k->db);
        k->db = NULL;
        return;
    }
    pthread_mutex_init(&k->lock, NULL);
    pthread_cond_init(&k->wake, NULL);
    k->stop = k->is_due = false;
    k->is_running = pthread_create(&k->thread, NULL, checkpoint_main, s) == 0;
    if (k->is_running) {
        sqlite3_wal_hook(writer, on_wal_commit, k); /* replaces the automatic checkpoint */
    } else {
        pthread_cond_destroy(&k->wake);
        pthread_mutex_destroy(&k->lock);
        sqlite3_close_v2(k->db);
        k->db = NULL;
    }
}

static void checkpointer_stop(struct sq_store *s)
{
    struct sq_checkpointer *k = &s->ckpt;
    if (!k->is_running)
        return;
    pthread_mutex_lock(&k->lock);
    k->stop = true;
    pthread_cond_signal(&k->wake);
    pthread_mutex_unlock(&k->lock);
    pthread_join(k->thread, NULL);
    sqlite3_close_v2(k->db);
    k->db = NULL;
    pthread_cond_destroy(&k->wake);
    pthread_mutex_destroy(&k->lock);
    k->is_running = false;
}

static void sq_close(struct hb_store *store)
{
    struct sq_store *s = store->backend;
    if (s == NULL)
        return;
    checkpointer_stop(s);
    free(s->path);
    free(s);
    store->backend = NULL;
}

static void sq_conn_close(struct hb_store_conn *conn)
{
    sq_conn *c = sq(conn);
    for (int i = 0; i < HB_SQ_MAX_STMTS; i++)
        sqlite3_finalize(c->stmts[i]);
    for (int i = 0; i < HB_SQ_TOPIC_VARIANTS; i++)
        sqlite3_finalize(c->topic_rows[i]);
    for (int i = 0; i < HB_SQ_TOPIC_COUNTS; i++)
        sqlite3_finalize(c->topic_counts[i]);
    sqlite3_close_v2(c->db);
    hb_buf_release(&c->scratch);
    hb_store__conn_release(&c->base);
    free(c);
}

static int sq_conn_open(struct hb_store *store, bool is_writer, struct hb_store_conn **out)
{
    struct sq_store *s = store->backend;
    sq_conn *c = hb_xcalloc(1, sizeof(*c));
    hb_store__conn_init(&c->base, store, is_writer);
    hb_buf_init(&c->scratch, SCRATCH_MAX);

    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (is_writer ? SQLITE_OPEN_CREATE : 0);
    int rc = sqlite3_open_v2(s->path, &c->db, flags, NULL);
    if (rc != SQLITE_OK) {
        hb_log_error("open '%s': %s", s->path, c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc));
        sq_conn_close(&c->base);
        return HB_EDB;
    }
    sqlite3_extended_result_codes(c->db, 1);
    sqlite3_busy_timeout(c->db, store->opts.busy_timeout_ms);
    int err = hb_store__sqlite_exec(c, "PRAGMA foreign_keys = ON");
    if (err == 0)
        err = hb_store__sqlite_exec(c, store->opts.is_durable ? "PRAGMA synchronous = FULL"
                                                              : "PRAGMA synchronous = NORMAL");
    if (err == 0 && !is_writer)
        err = hb_store__sqlite_exec(c, "PRAGMA query_only = ON");
    if (err == 0 && is_writer && !s->is_memory) {
        /* WAL lets readers run beside the writer; the mode is stored in the file. */
        sqlite3_stmt *st;
        rc = sqlite3_prepare_v2(c->db, "PRAGMA journal_mode = WAL", -1, &st, NULL);
        if (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
            const char *mode = (const char *)sqlite3_column_text(st, 0);
            if (mode == NULL || strcmp(mode, "wal") != 0)
                hb_log_warn("open '%s': journal mode is '%s', not wal", s->path, mode ? mode : "?");
        } else {
            err = hb_store__sqlite_err(c, sqlite3_errcode(c->db), "journal_mode");
        }
        sqlite3_finalize(st);
        if (err == 0)
            checkpointer_start(s, c->db);
    }
    if (err < 0) {
        hb_log_error("open '%s': %s", s->path, hb_strerror(err));
        sq_conn_close(&c->base);
        return err;
    }
    *out = &c->base;
    return 0;
}

static int sq_migrate(struct hb_store_conn *conn)
{
    return hb_store__sqlite_migrate(sq(conn));
}

static int sq_ping(struct hb_store_conn *conn)
{
    sq_conn *c = sq(conn);
    sqlite3_stmt *st;
    int err = use(c, ST_PING, &st);
    if (err == 0)
        err = step(c, st) == 1 ? 0 : HB_EDB;
    return end_op(c, err);
}

/* ---- Users ---- */

static int sq_user_create(struct hb_store_conn *conn, const struct hb_store_user_input *in,
                          int64_t *id)
{
    sq_conn *c = sq(conn);
    sqlite3_stmt *st;
    int err = use(c, ST_USER_INSERT, &st);
    if (err == 0) {
        bind_str(st, 1, in->password);
        sqlite3_bind_int(st, 2, in->is_superuser);
        bind_str(st, 3, in->username);
        bind_str(st, 4, in->email);
        sqlite3_bind_int(st, 5, in->is_staff);
        bind_time(st, 6, hb_clock_unix_us());
        err = run(c, st);
    }
    if (err == 0 && id != NULL)
        *id = sqlite3_last_insert_rowid(c->db);
    return end_op(c, err);
}

static int read_user(sq_conn *c, sqlite3_stmt *st, struct hb_store_user *out)
{
    int err = step(c, st);
    if (err <= 0)
        return err < 0 ? err : HB_ENOTFOUND;
    out->id = sqlite3_column_int64(st, 0);
    if ((size_t)sqlite3_column_bytes(st, 1) > HB_STORE_PASSWORD_MAX) {
        /* A truncated hash could never verify anyway; "" is documented as never matching. */
        hb_log_warn("user %lld: password hash longer than %d bytes", (long long)out->id,
                    HB_STORE_PASSWORD_MAX);
        out->password[0] = '\0';
    } else {
        col_copy(st, 1, out->password, sizeof(out->password));
    }
    out->is_active = sqlite3_column_int(st, 2) != 0;
    out->is_staff = sqlite3_column_int(st, 3) != 0;
    out->is_superuser = sqlite3_column_int(st, 4) != 0;
    col_copy(st, 5, out->username, sizeof(out->username));
    col_copy(st, 6, out->email, sizeof(out->email));
    return 0;
}

static int sq_user_get_by_username(struct hb_store_conn *conn, struct hb_str username,
                                   struct hb_store_user *out)
{
    sq_conn *c = sq(conn);
    sqlite3_stmt *st;
    int err = use(c, ST_USER_BY_NAME, &st);
    if (err == 0) {
        bind_str(st, 1, username);
        err = read_user(c, st, out);
    }
    return end_op(c, err);
}

static int sq_user_get(struct hb_store_conn *conn, int64_t id, struct hb_store_user *out)
{
    sq_conn *c = sq(conn);
    sqlite3_stmt *st;
    int err = use(c, ST_USER_BY_ID, &st);
    if (err == 0) {
        sqlite3_bind_int64(st, 1, id);
        err = read_user(c, st, out);
    }
    return end_op(c, err);
}

/* Runs an UPDATE ... WHERE id = ?1 whose ?2 the caller bound; HB_ENOTFOUND if no row matched. */
static int update_one(sq_conn *c, sqlite3_stmt *st)
{
    int err = run(c, st);
    if (err == 0 && sqlite3_changes(c->db) == 0)
        err = HB_ENOTFOUND;
    return err;
}

static int sq_user_set_password(struct hb_store_conn *conn, int64_t id, struct hb_str hash)
{
    sq_conn *c = sq(conn);
    sqlite3_stmt *st;
    int err = use(c, ST_USER_SET_PASSWORD, &st);
    if (err == 0) {
        sqlite3_bind_int64(st, 1, id);
        bind_str(st, 2, hash);
        err = update_one(c, st);
    }
    return end_op(c, err);
}

static int sq_user_set_last_login(struct hb_store_conn *conn, int64_t id, int64_t at_us)
{
    sq_conn *c = sq(conn);
    sqlite3_stmt *st;
    int err = use(c, ST_USER_SET_LAST_LOGIN, &st);
    if (err == 0) {
        sqlite3_bind_int64(st, 1, id);
        bind_time(st, 2, at_us);
        err = update_one(c, st);
    }
    return end_op(c, err);
}

static int sq_user_set_active(struct hb_store_conn *conn, int64_t id, bool is_active)
{
    sq_conn *c = sq(conn);
    sqlite3_stmt *st;
    int err = use(c, ST_USER_SET_ACTIVE, &st);
    if (err == 0) {
        sqlite3_bind_int64(st, 1, id);
        sqlite3_bind_int(st, 2, is_active);
        err = update_one(c, st);
    }
    return end_op(c, err);
}

/* ---- Tokens ---- */

static void bind_token(sqlite3_stmt *st, const struct hb_store_token *tok)
{
    bind_time(st, 1, tok->created_us);
    bind_time(st, 2, tok->expires_us);
    bind_opt_id(st, 3, tok->user_id);
    bind_str(st, 4, tok->jti);
}

static int sq_token_record(struct hb_store_conn *conn, const struct hb_store_token *tok)
{
    sq_conn *c = sq(conn);
    sqlite3_stmt *st;
    int err = use(c, ST_TOKEN_INSERT, &st);
    if (err == 0) {
        bind_token(st, tok);
        err = run(c, st);
    }
    return end_op(c, err);
}

static int sq_token_is_blacklisted(struct hb_store_conn *conn, struct hb_str jti, bool *out)
{
    sq_conn *c = sq(conn);
    sqlite3_stmt *st;
    int err = use(c, ST_IS_BLACKLISTED, &st);
    if (err == 0) {
        bind_str(st, 1, jti);
        err = step(c, st);
    }
    if (err >= 0) {
        *out = err == 1;
        err = 0;
    }
    return end_op(c, err);
}

static int sq_token_rotate(struct hb_store_conn *conn, const struct hb_store_token *old,
                           const struct hb_store_token *new_tok, int64_t now_us)
{
    /* SimpleJWT's blacklist(): get_or_create the outstanding row by jti, then create the
     * blacklisted row; its UNIQUE token_id makes the second of two racing rotations fail. The
     * write lock taken by BEGIN IMMEDIATE serialises them across processes too. */
    sq_conn *c = sq(conn);
    sqlite3_stmt *st;
    int64_t token_id = 0;
    int err = begin_write(c);
    if (err == 0)
        err = use(c, ST_TOKEN_INSERT_IF_MISSING, &st);
    if (err == 0) {
        bind_token(st, old);
        err = run(c, st);
    }
    if (err == 0)
        err = use(c, ST_TOKEN_ID, &st);
    if (err == 0) {
        bind_str(st, 1, old->jti);
        err = step(c, st);
        if (err == 1)
            token_id = sqlite3_column_int64(st, 0);
        err = err == 1 ? 0 : err < 0 ? err : HB_EDB;
    }
    if (err == 0)
        err = use(c, ST_BLACKLIST_INSERT, &st);
    if (err == 0) {
        bind_time(st, 1, now_us);
        sqlite3_bind_int64(st, 2, token_id);
        err = run(c, st);
    }
    if (err == 0 && new_tok != NULL)
        err = use(c, ST_TOKEN_INSERT, &st);
    if (err == 0 && new_tok != NULL) {
        bind_token(st, new_tok);
        err = run(c, st);
        if (err == HB_EEXIST)
            err = HB_EDB; /* a jti collision on 128 random bits: not "already blacklisted" */
    }
    if (err == 0)
        err = commit(c);
    return end_op(c, err);
}

static int sq_token_purge(struct hb_store_conn *conn, int64_t now_us, int64_t *n_deleted)
{
    sq_conn *c = sq(conn);
    sqlite3_stmt *st;
    int err = begin_write(c);
    if (err == 0)
        err = use(c, ST_PURGE_BLACKLISTED, &st);
    if (err == 0) {
        bind_time(st, 1, now_us);
        err = run(c, st);
    }
    if (err == 0)
        err = use(c, ST_PURGE_OUTSTANDING, &st);
    if (err == 0) {
        bind_time(st, 1, now_us);
        err = run(c, st);
    }
    if (err == 0 && n_deleted != NULL)
        *n_deleted = sqlite3_changes(c->db);
    if (err == 0)
        err = commit(c);
    return end_op(c, err);
}

/* ---- Throttle ---- */

static int sq_throttle_record(struct hb_store_conn *conn, enum hb_store_throttle_scope scope,
                              struct hb_str key, int64_t at_us)
{
    sq_conn *c = sq(conn);
    sqlite3_stmt *st;
    int err = use(c, ST_THROTTLE_INSERT, &st);
    if (err == 0) {
        sqlite3_bind_text(st, 1, hb_store__scope_text(scope), -1, SQLITE_STATIC);
        bind_str(st, 2, key);
        bind_time(st, 3, at_us);
        err = run(c, st);
    }
    return end_op(c, err);
}

static int sq_throttle_count(struct hb_store_conn *conn, enum hb_store_throttle_scope scope,
                             struct hb_str key, int64_t since_us, int64_t *n, int64_t *oldest_us)
{
    sq_conn *c = sq(conn);
    sqlite3_stmt *st;
    int err = use(c, ST_THROTTLE_COUNT, &st);
    if (err == 0) {
        sqlite3_bind_text(st, 1, hb_store__scope_text(scope), -1, SQLITE_STATIC);
        bind_str(st, 2, key);
        bind_time(st, 3, since_us);
        err = step(c, st);
        err = err == 1 ? 0 : err < 0 ? err : HB_EDB;
    }
    if (err == 0) {
        *n = sqlite3_column_int64(st, 0);
        *oldest_us = *n > 0 ? col_time(st, 1) : HB_STORE_TIME_NONE;
    }
    return end_op(c, err);
}

static int sq_throttle_clear(struct hb_store_conn *conn, enum hb_store_throttle_scope scope,
                             struct hb_str key)
{
    sq_conn *c = sq(conn);
    sqlite3_stmt *st;
    int err = use(c, ST_THROTTLE_CLEAR, &st);
    if (err == 0) {
        sqlite3_bind_text(st, 1, hb_store__scope_text(scope), -1, SQLITE_STATIC);
        bind_str(st, 2, key);
        err = run(c, st);
    }
    return end_op(c, err);
}

static int sq_throttle_purge(struct hb_store_conn *conn, int64_t before_us)
{
    sq_conn *c = sq(conn);
    sqlite3_stmt *st;
    int err = use(c, ST_THROTTLE_PURGE, &st);
    if (err == 0) {
        bind_time(st, 1, before_us);
        err = run(c, st);
    }
    return end_op(c, err);
}

/* ---- Categories ---- */

static int sq_category_list(struct hb_store_conn *conn, struct hb_store_page *page,
                            struct hb_buf *json)
{
    sq_conn *c = sq(conn);
    sqlite3_stmt *rows, *count = NULL;
    int err = use(c, ST_CATEGORY_LIST, &rows);
    if (err == 0 && page != NULL)
        err = use(c, ST_CATEGORY_COUNT, &count);
    if (err == 0)
        err = list(c, rows, 1, count, page, emit_category, false, json);
    return end_op(c, err);
}

/* Emits the row id of a get statement: the read-back after an insert or update. */
static int get_by_id(sq_conn *c, enum stmt_id id, int64_t row_id, emit_fn *emit, bool flag,
                     struct hb_store_meta *meta, struct hb_buf *json)
{
    sqlite3_stmt *st;
    int err = use(c, id, &st);
    if (err < 0)
        return err;
    sqlite3_bind_int64(st, 1, row_id);
    return emit_one(c, st, emit, flag, meta, json);
}

static int sq_category_get(struct hb_store_conn *conn, int64_t id, struct hb_store_meta *meta,
                           struct hb_buf *json)
{
    sq_conn *c = sq(conn);
    return end_op(c, get_by_id(c, ST_CATEGORY_GET, id, emit_category, false, meta, json));
}

/* Commits a write whose result was read back into json; on failure the read-back is undone. */
static int commit_emitted(sq_conn *c, int err, struct hb_buf *json, size_t start)
{
    if (err == 0)
        err = commit(c);
    if (err < 0)
        hb_store__truncate(json, start);
    return end_op(c, err);
}

static int sq_category_create(struct hb_store_conn *conn, struct hb_str name, int64_t author_id,
                              struct hb_store_meta *meta, struct hb_buf *json)
{
    sq_conn *c = sq(conn);
    size_t start = json ? json->len : 0;
    sqlite3_stmt *st;
    int err = begin_write(c);
    if (err == 0)
        err = use(c, ST_CATEGORY_INSERT, &st);
    if (err == 0) {
        bind_str(st, 1, name);
        bind_opt_id(st, 2, author_id);
        err = run(c, st);
    }
    if (err == 0)
        err = get_by_id(c, ST_CATEGORY_GET, sqlite3_last_insert_rowid(c->db), emit_category, false,
                        meta, json);
    return commit_emitted(c, err, json, start);
}

static int sq_category_update(struct hb_store_conn *conn, int64_t id, struct hb_str name,
                              struct hb_store_meta *meta, struct hb_buf *json)
{
    sq_conn *c = sq(conn);
    size_t start = json ? json->len : 0;
    sqlite3_stmt *st;
    int err = begin_write(c);
    if (err == 0)
        err = use(c, ST_CATEGORY_UPDATE, &st);
    if (err == 0) {
        sqlite3_bind_int64(st, 1, id);
        bind_str(st, 2, name);
        err = update_one(c, st);
    }
    if (err == 0)
        err = get_by_id(c, ST_CATEGORY_GET, id, emit_category, false, meta, json);
    return commit_emitted(c, err, json, start);
}

/* Runs a DELETE ... WHERE <key> = ?1. */
static int delete_by(sq_conn *c, enum stmt_id id, int64_t key)
{
    sqlite3_stmt *st;
    int err = use(c, id, &st);
    if (err < 0)
        return err;
    sqlite3_bind_int64(st, 1, key);
    return run(c, st);
}

static int exists_by_id(sq_conn *c, enum stmt_id id, int64_t key)
{
    sqlite3_stmt *st;
    int err = use(c, id, &st);
    if (err < 0)
        return err;
    sqlite3_bind_int64(st, 1, key);
    err = step(c, st);
    return err == 1 ? 0 : err < 0 ? err : HB_ENOTFOUND;
}

static int sq_category_delete(struct hb_store_conn *conn, int64_t id, struct hb_buf *topic_ids)
{
    sq_conn *c = sq(conn);
    size_t start = topic_ids ? topic_ids->len : 0;
    sqlite3_stmt *st;
    int err = begin_write(c);
    if (err == 0)
        err = exists_by_id(c, ST_CATEGORY_EXISTS, id);
    if (err == 0 && topic_ids != NULL) {
        err = use(c, ST_CATEGORY_TOPIC_IDS, &st);
        if (err == 0)
            sqlite3_bind_int64(st, 1, id);
        while (err == 0 && (err = step(c, st)) == 1) {
            int64_t topic_id = sqlite3_column_int64(st, 0);
            err = hb_buf_append(topic_ids, &topic_id, sizeof(topic_id));
        }
    }
    if (err == 0)
        err = delete_by(c, ST_CATEGORY_DELETE_REPLIES, id);
    if (err == 0)
        err = delete_by(c, ST_CATEGORY_DELETE_TOPICS, id);
    if (err == 0)
        err = delete_by(c, ST_CATEGORY_DELETE, id);
    return commit_emitted(c, err, topic_ids, start);
}

/* ---- Topics and replies ---- */

/* The search of a topic query, split into what the FTS index answers and what needs a scan. */
struct search_plan {
    size_t fts_len;   /* scratch[0..fts_len): an FTS5 query, "t1" AND "t2"; 0: none */
    size_t short_len; /* scratch[fts_len..+short_len): a JSON array of short terms; 0: none */
};

/* Appends term to the scratch buffer without NUL bytes (DRF strips them from search text),
 * doubling '"' when quote is set (FTS5 string syntax). */
static int put_term(struct hb_buf *buf, struct hb_str term, bool quote)
{
    int err = 0;
    for (size_t i = 0; err == 0 && i < term.len; i++) {
        if (term.ptr[i] == '\0')
            continue;
        if (quote && term.ptr[i] == '"')
            err = hb_buf_append_char(buf, '"');
        if (err == 0)
            err = hb_buf_append_char(buf, term.ptr[i]);
    }
    return err;
}

/* Appends term as a JSON string without its NUL bytes (n_nul of them). */
static int put_json_term(struct hb_buf *buf, struct hb_str term, size_t n_nul)
{
    if (n_nul == 0)
        return hb_store__json_str(buf, term.ptr, term.len);
    char *copy = hb_xmalloc(term.len);
    size_t n = 0;
    for (size_t i = 0; i < term.len; i++)
        if (term.ptr[i] != '\0')
            copy[n++] = term.ptr[i];
    int err = hb_store__json_str(buf, copy, n);
    free(copy);
    return err;
}

static int plan_search(sq_conn *c, struct hb_str search, struct search_plan *plan)
{
    struct hb_buf *buf = &c->scratch;
    struct hb_str rest = search, term;
    size_t n_nul;
    int err = 0;
    hb_buf_reset(buf);
    plan->fts_len = plan->short_len = 0;
    /* Two passes over the terms: the FTS query first, then the short-term array after it. */
    for (int pass = 0; pass < 2 && err == 0; pass++) {
        size_t pass_start = buf->len;
        bool is_first = true;
        rest = search;
        while (err == 0 && hb_store__search_next(&rest, &term)) {
            n_nul = 0;
            for (size_t i = 0; i < term.len; i++)
                n_nul += term.ptr[i] == '\0';
            size_t n_chars = hb_store__utf8_len(term) - n_nul;
            if (n_chars == 0 || (n_chars >= 3) != (pass == 0))
                continue;
            if (pass == 0) {
                /* Trigram tokens are 3 code points: a phrase of 3+ is a substring match. */
                err = hb_buf_append_str(buf, is_first ? "\"" : " AND \"");
                if (err == 0)
                    err = put_term(buf, term, true);
                if (err == 0)
                    err = hb_buf_append_char(buf, '"');
            } else {
                err = hb_buf_append_char(buf, is_first ? '[' : ',');
                if (err == 0)
                    err = put_json_term(buf, term, n_nul);
            }
            is_first = false;
        }
        if (err == 0 && pass == 1 && !is_first)
            err = hb_buf_append_char(buf, ']');
        if (pass == 0)
            plan->fts_len = buf->len - pass_start;
        else
            plan->short_len = buf->len - pass_start;
    }
    return err == HB_ETOOLARGE ? HB_EINVAL : err;
}

static const char *const order_sql[] = {
    [HB_STORE_ORDER_ID] = "t.id",
    [HB_STORE_ORDER_ID_DESC] = "t.id DESC",
    [HB_STORE_ORDER_CREATED] = "t.created_at, t.id",
    [HB_STORE_ORDER_CREATED_DESC] = "t.created_at DESC, t.id",
    [HB_STORE_ORDER_CREATED_THEN_ID_DESC] = "t.created_at, t.id DESC",
    [HB_STORE_ORDER_CREATED_DESC_THEN_ID_DESC] = "t.created_at DESC, t.id DESC",
};

/* Writes the WHERE clause of a topic list variant: fixed fragments only, values are bound as
 * ?1 (category), ?2 (FTS query) and ?3 (short terms). */
static void topic_where(char *out, size_t cap, bool has_category, bool has_fts, bool has_short)
{
    snprintf(out, cap, "WHERE 1 %s %s %s", has_category ? "AND t.category_id = ?1" : "",
             has_fts ? "AND t.id IN (SELECT rowid FROM hiroba_topic_fts WHERE hiroba_topic_fts "
                       "MATCH ?2)"
                     : "",
             has_short ? "AND NOT EXISTS (SELECT 1 FROM json_each(?3) j WHERE "
                         "instr(lower(t.comment), lower(j.value)) = 0)"
                       : "");
}

static void bind_topic_filters(sqlite3_stmt *st, const sq_conn *c,
                               const struct hb_store_topic_query *q, const struct search_plan *plan)
{
    if (q->category_id != 0)
        sqlite3_bind_int64(st, 1, q->category_id);
    if (plan->fts_len > 0)
        sqlite3_bind_text(st, 2, c->scratch.data, (int)plan->fts_len, SQLITE_STATIC);
    if (plan->short_len > 0)
        sqlite3_bind_text(st, 3, c->scratch.data + plan->fts_len, (int)plan->short_len,
                          SQLITE_STATIC);
}

static int sq_topic_list(struct hb_store_conn *conn, const struct hb_store_topic_query *q,
                         struct hb_store_page *page, struct hb_buf *json)
{
    sq_conn *c = sq(conn);
    struct search_plan plan;
    int err = plan_search(c, q->search, &plan);
    if (err < 0)
        return end_op(c, err);
    bool has_category = q->category_id != 0, has_fts = plan.fts_len > 0,
         has_short = plan.short_len > 0;
    int filters = (has_category * 2 + has_fts) * 2 + has_short;
    sqlite3_stmt **rows_slot = &c->topic_rows[filters * 6 + (int)q->order];
    sqlite3_stmt **count_slot = &c->topic_counts[filters];
    char where[512], sql[1024] = "";
    if (*rows_slot == NULL || (page != NULL && *count_slot == NULL))
        topic_where(where, sizeof(where), has_category, has_fts, has_short);

    sqlite3_stmt *rows, *count = NULL;
    if (*rows_slot == NULL)
        snprintf(sql, sizeof(sql),
                 "SELECT " TOPIC_COLS " FROM " TOPIC_FROM " %s ORDER BY %s LIMIT ?4 OFFSET ?5",
                 where, order_sql[q->order]);
    err = use_sql(c, rows_slot, sql, &rows);
    if (err == 0 && page != NULL) {
        if (*count_slot == NULL)
            snprintf(sql, sizeof(sql), "SELECT count(*) FROM bbs_topic t %s", where);
        err = use_sql(c, count_slot, sql, &count);
    }
    if (err == 0) {
        bind_topic_filters(rows, c, q, &plan);
        if (count != NULL)
            bind_topic_filters(count, c, q, &plan);
        err = list(c, rows, 4, count, page, emit_post, false, json);
    }
    return end_op(c, err);
}

static enum stmt_id post_stmt(bool is_reply, enum stmt_id topic_id, enum stmt_id reply_id)
{
    return is_reply ? reply_id : topic_id;
}

static int sq_post_get(struct hb_store_conn *conn, bool is_reply, int64_t id,
                       struct hb_store_meta *meta, struct hb_buf *json)
{
    sq_conn *c = sq(conn);
    enum stmt_id get = post_stmt(is_reply, ST_TOPIC_GET, ST_REPLY_GET);
    return end_op(c, get_by_id(c, get, id, emit_post, is_reply, meta, json));
}

/* HB_ECONFLICT unless the parent (category of a topic, topic of a reply) exists. */
static int check_parent(sq_conn *c, bool is_reply, int64_t parent_id)
{
    int err = exists_by_id(c, post_stmt(is_reply, ST_CATEGORY_EXISTS, ST_TOPIC_EXISTS), parent_id);
    return err == HB_ENOTFOUND ? HB_ECONFLICT : err;
}

static int sq_post_create(struct hb_store_conn *conn, bool is_reply,
                          const struct hb_store_post_input *in, struct hb_store_meta *meta,
                          struct hb_buf *json)
{
    sq_conn *c = sq(conn);
    size_t start = json ? json->len : 0;
    sqlite3_stmt *st;
    int err = begin_write(c);
    if (err == 0)
        err = check_parent(c, is_reply, in->parent_id);
    if (err == 0)
        err = use(c, post_stmt(is_reply, ST_TOPIC_INSERT, ST_REPLY_INSERT), &st);
    if (err == 0) {
        bind_time(st, 1,
                  in->created_us != HB_STORE_TIME_NONE ? in->created_us : hb_clock_unix_us());
        bind_str(st, 2, in->comment);
        sqlite3_bind_int64(st, 3, in->parent_id);
        bind_opt_id(st, 4, in->author_id);
        err = run(c, st);
    }
    if (err == 0)
        err = get_by_id(c, post_stmt(is_reply, ST_TOPIC_GET, ST_REPLY_GET),
                        sqlite3_last_insert_rowid(c->db), emit_post, is_reply, meta, json);
    return commit_emitted(c, err, json, start);
}

static int sq_post_update(struct hb_store_conn *conn, bool is_reply, int64_t id,
                          const struct hb_store_post_input *in, struct hb_store_meta *meta,
                          struct hb_buf *json)
{
    sq_conn *c = sq(conn);
    size_t start = json ? json->len : 0;
    sqlite3_stmt *st;
    int err = begin_write(c);
    if (err == 0)
        err = use(c, post_stmt(is_reply, ST_TOPIC_UPDATE, ST_REPLY_UPDATE), &st);
    if (err == 0) {
        sqlite3_bind_int64(st, 1, id);
        bind_opt_id(st, 2, in->parent_id);
        bind_opt_str(st, 3, in->comment);
        bind_opt_time(st, 4, in->created_us);
        err = update_one(c, st);
    }
    if (err == 0 && in->parent_id > 0)
        err = check_parent(c, is_reply, in->parent_id);
    if (err == 0)
        err = get_by_id(c, post_stmt(is_reply, ST_TOPIC_GET, ST_REPLY_GET), id, emit_post, is_reply,
                        meta, json);
    return commit_emitted(c, err, json, start);
}

static int sq_post_delete(struct hb_store_conn *conn, bool is_reply, int64_t id,
                          struct hb_store_meta *meta)
{
    sq_conn *c = sq(conn);
    int err = begin_write(c);
    if (err == 0)
        err = get_by_id(c, post_stmt(is_reply, ST_TOPIC_GET, ST_REPLY_GET), id, emit_post, is_reply,
                        meta, NULL);
    if (err == 0 && !is_reply)
        err = delete_by(c, ST_TOPIC_DELETE_REPLIES, id);
    if (err == 0)
        err = delete_by(c, post_stmt(is_reply, ST_TOPIC_DELETE, ST_REPLY_DELETE), id);
    if (err == 0)
        err = commit(c);
    return end_op(c, err);
}

static int sq_reply_list(struct hb_store_conn *conn, int64_t topic_id, int64_t after_id,
                         struct hb_store_page *page, struct hb_buf *json)
{
    sq_conn *c = sq(conn);
    bool is_all = topic_id == 0;
    sqlite3_stmt *rows, *count = NULL;
    int err = use(c, is_all ? ST_REPLY_LIST_ALL : ST_REPLY_LIST_TOPIC, &rows);
    if (err == 0 && page != NULL)
        err = use(c, is_all ? ST_REPLY_COUNT_ALL : ST_REPLY_COUNT_TOPIC, &count);
    if (err == 0) {
        for (int i = 0; i < 2; i++) {
            sqlite3_stmt *st = i == 0 ? rows : count;
            if (st == NULL)
                continue;
            if (!is_all)
                sqlite3_bind_int64(st, 1, topic_id);
            sqlite3_bind_int64(st, 2, after_id);
        }
        err = list(c, rows, 3, count, page, emit_post, true, json);
    }
    return end_op(c, err);
}

/* ---- Rooms ---- */

static int sq_room_list(struct hb_store_conn *conn, struct hb_store_page *page, struct hb_buf *json)
{
    sq_conn *c = sq(conn);
    sqlite3_stmt *rows, *count = NULL;
    int err = use(c, ST_ROOM_LIST, &rows);
    if (err == 0 && page != NULL)
        err = use(c, ST_ROOM_COUNT, &count);
    if (err == 0)
        err = list(c, rows, 1, count, page, emit_room, false, json);
    return end_op(c, err);
}

static int sq_room_get(struct hb_store_conn *conn, int64_t id, struct hb_store_meta *meta,
                       struct hb_buf *json)
{
    sq_conn *c = sq(conn);
    return end_op(c, get_by_id(c, ST_ROOM_GET, id, emit_room, false, meta, json));
}

static int sq_room_create(struct hb_store_conn *conn, const struct hb_store_room_input *in,
                          struct hb_store_meta *meta, struct hb_buf *json)
{
    sq_conn *c = sq(conn);
    size_t start = json ? json->len : 0;
    sqlite3_stmt *st;
    int err = begin_write(c);
    if (err == 0)
        err = use(c, ST_ROOM_INSERT, &st);
    if (err == 0) {
        bind_time(st, 1,
                  in->created_us != HB_STORE_TIME_NONE ? in->created_us : hb_clock_unix_us());
        bind_str(st, 2, in->name);
        sqlite3_bind_int64(st, 3, in->headcount >= 0 ? in->headcount : 0);
        bind_opt_id(st, 4, in->author_id);
        err = run(c, st);
    }
    if (err == 0)
        err = get_by_id(c, ST_ROOM_GET, sqlite3_last_insert_rowid(c->db), emit_room, false, meta,
                        json);
    return commit_emitted(c, err, json, start);
}

static int sq_room_update(struct hb_store_conn *conn, int64_t id,
                          const struct hb_store_room_input *in, struct hb_store_meta *meta,
                          struct hb_buf *json)
{
    sq_conn *c = sq(conn);
    size_t start = json ? json->len : 0;
    sqlite3_stmt *st;
    int err = begin_write(c);
    if (err == 0)
        err = use(c, ST_ROOM_UPDATE, &st);
    if (err == 0) {
        sqlite3_bind_int64(st, 1, id);
        bind_opt_str(st, 2, in->name);
        if (in->headcount >= 0)
            sqlite3_bind_int64(st, 3, in->headcount);
        bind_opt_time(st, 4, in->created_us);
        err = update_one(c, st);
    }
    if (err == 0)
        err = get_by_id(c, ST_ROOM_GET, id, emit_room, false, meta, json);
    return commit_emitted(c, err, json, start);
}

static int sq_room_delete(struct hb_store_conn *conn, int64_t id, struct hb_store_meta *meta)
{
    sq_conn *c = sq(conn);
    int err = begin_write(c);
    if (err == 0)
        err = get_by_id(c, ST_ROOM_GET, id, emit_room, false, meta, NULL);
    if (err == 0)
        err = delete_by(c, ST_ROOM_DELETE_LOGS, id);
    if (err == 0)
        err = delete_by(c, ST_ROOM_DELETE, id);
    if (err == 0)
        err = commit(c);
    return end_op(c, err);
}

/* Binds (instance, room) and runs st. */
static int run_presence(sq_conn *c, enum stmt_id id, struct hb_str instance, int64_t room)
{
    sqlite3_stmt *st;
    int err = use(c, id, &st);
    if (err < 0)
        return err;
    bind_str(st, 1, instance);
    sqlite3_bind_int64(st, 2, room);
    return run(c, st);
}

/* A leave takes a seat only if this instance holds one in the room: the late leave of an
 * instance already reaped as dead must not take someone else's. */
static int sq_room_move_headcount(struct hb_store_conn *conn, int64_t id, int delta,
                                  struct hb_str instance, int64_t *headcount)
{
    sq_conn *c = sq(conn);
    sqlite3_stmt *st;
    int err = begin_write(c);
    bool holds = true;
    if (err == 0 && delta < 0) {
        err = run_presence(c, ST_PRESENCE_TAKE, instance, id);
        holds = sqlite3_changes(c->db) > 0;
    }
    if (err == 0)
        err = use(c, holds ? (delta > 0 ? ST_ROOM_JOIN : ST_ROOM_LEAVE) : ST_ROOM_HEADCOUNT, &st);
    if (err == 0) {
        sqlite3_bind_int64(st, 1, id);
        err = step(c, st);
        if (err == 1 && headcount != NULL)
            *headcount = sqlite3_column_int64(st, 0);
        err = err == 1 ? run(c, st) : err < 0 ? err : HB_ENOTFOUND;
    }
    if (err == 0)
        err = run_presence(c, delta > 0 ? ST_PRESENCE_ADD : ST_PRESENCE_PRUNE, instance, id);
    if (err == 0)
        err = commit(c);
    return end_op(c, err);
}

static int sq_room_reset_headcounts(struct hb_store_conn *conn)
{
    sq_conn *c = sq(conn);
    int err = begin_write(c);
    if (err == 0)
        err = run_id(c, ST_ROOM_RESET);
    if (err == 0)
        err = run_id(c, ST_PRESENCE_RESET);
    if (err == 0)
        err = run_id(c, ST_INSTANCE_RESET);
    if (err == 0)
        err = commit(c);
    return end_op(c, err);
}

/* Gives back the seats of the instances GONE_INSTANCES names and forgets them; stale_before is
 * -1 for this instance's own. */
static int give_back(sq_conn *c, struct hb_str instance, int64_t stale_before, int64_t *n_gone)
{
    static const enum stmt_id steps[] = {ST_INSTANCE_GIVE_BACK, ST_INSTANCE_DROP_PRESENCE,
                                         ST_INSTANCE_DROP};
    int err = 0;
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]) && err == 0; i++) {
        sqlite3_stmt *st;
        err = use(c, steps[i], &st);
        if (err < 0)
            break;
        bind_str(st, 1, instance);
        if (stale_before >= 0)
            bind_time(st, 2, stale_before);
        err = run(c, st);
        if (err == 0 && steps[i] == ST_INSTANCE_DROP && n_gone != NULL)
            *n_gone = sqlite3_changes(c->db);
    }
    return err;
}

static int sq_instance_beat(struct hb_store_conn *conn, struct hb_str instance, int64_t now_us,
                            int64_t stale_before_us, int64_t *n_reaped)
{
    sq_conn *c = sq(conn);
    sqlite3_stmt *st;
    int err = begin_write(c);
    if (err == 0)
        err = use(c, ST_INSTANCE_BEAT, &st);
    if (err == 0) {
        bind_str(st, 1, instance);
        bind_time(st, 2, now_us);
        err = run(c, st);
    }
    if (err == 0)
        err = give_back(c, instance, stale_before_us < 0 ? 0 : stale_before_us, n_reaped);
    if (err == 0)
        err = commit(c);
    return end_op(c, err);
}

static int sq_instance_leave(struct hb_store_conn *conn, struct hb_str instance)
{
    sq_conn *c = sq(conn);
    int err = begin_write(c);
    if (err == 0)
        err = give_back(c, instance, -1, NULL);
    if (err == 0)
        err = commit(c);
    return end_op(c, err);
}

/* ---- Chat logs ---- */

static int sq_chatlog_list(struct hb_store_conn *conn, int64_t room_id, int64_t after_id,
                           struct hb_store_page *page, struct hb_buf *json)
{
    sq_conn *c = sq(conn);
    sqlite3_stmt *rows, *count = NULL;
    int err = use(c, ST_LOG_LIST, &rows);
    if (err == 0 && page != NULL)
        err = use(c, ST_LOG_COUNT, &count);
    if (err == 0) {
        sqlite3_bind_int64(rows, 1, room_id);
        sqlite3_bind_int64(rows, 2, after_id);
        if (count != NULL) {
            sqlite3_bind_int64(count, 1, room_id);
            sqlite3_bind_int64(count, 2, after_id);
        }
        err = list(c, rows, 3, count, page, emit_chatlog, false, json);
    }
    return end_op(c, err);
}

static int sq_chatlog_each(struct hb_store_conn *conn, int64_t room_id, int64_t after_id,
                           int64_t limit, hb_store_chatlog_cb *cb, void *ctx)
{
    sq_conn *c = sq(conn);
    sqlite3_stmt *st;
    int n = 0;
    int err = use(c, ST_LOG_LIST, &st);
    if (err == 0) {
        sqlite3_bind_int64(st, 1, room_id);
        sqlite3_bind_int64(st, 2, after_id);
        sqlite3_bind_int64(st, 3, limit);
        sqlite3_bind_int64(st, 4, 0);
    }
    while (err == 0 && (err = step(c, st)) == 1) {
        struct hb_store_chatlog row;
        decode_chatlog(st, &row);
        err = cb(ctx, &row);
        if (err > 0)
            err = 0;
        if (err == 0 && n < INT_MAX)
            n++;
    }
    return end_op(c, err < 0 ? err : n);
}

static int sq_chatlog_last(struct hb_store_conn *conn, int64_t room_id, int64_t *id)
{
    sq_conn *c = sq(conn);
    sqlite3_stmt *st;
    int err = use(c, ST_LOG_LAST, &st);
    if (err == 0) {
        sqlite3_bind_int64(st, 1, room_id);
        err = step(c, st);
        *id = err == 1 ? sqlite3_column_int64(st, 0) : 0;
        err = err < 0 ? err : 0;
    }
    return end_op(c, err);
}

/* Inserts one message inside the caller's write transaction: HB_ECONFLICT when the room is gone
 * (checked first, so a gone room fails its message alone instead of the deferred foreign key
 * failing the whole commit). */
static int insert_message(sq_conn *c, const struct hb_store_chat_input *in, int64_t now,
                          struct hb_store_chat_result *out)
{
    sqlite3_stmt *exists, *last, *st;
    int err = use(c, ST_ROOM_EXISTS, &exists);
    if (err == 0) {
        sqlite3_bind_int64(exists, 1, in->room_id);
        err = step(c, exists);
        sqlite3_reset(exists);
        err = err == 1 ? 0 : err < 0 ? err : HB_ECONFLICT;
    }
    if (err == 0)
        err = use(c, ST_LOG_LAST, &last);
    if (err == 0) {
        sqlite3_bind_int64(last, 1, in->room_id);
        err = step(c, last);
        out->prev_id = err == 1 ? sqlite3_column_int64(last, 0) : 0;
        sqlite3_reset(last);
        err = err < 0 ? err : 0;
    }
    if (err == 0)
        err = use(c, ST_LOG_INSERT, &st);
    if (err == 0) {
        bind_time(st, 1, now);
        bind_str(st, 2, in->message);
        sqlite3_bind_int64(st, 3, in->room_id);
        bind_opt_id(st, 4, in->author_id);
        err = run(c, st);
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
    }
    if (err == 0) {
        out->id = sqlite3_last_insert_rowid(c->db);
        out->created_us = now;
    }
    return err;
}

/* Group commit: one write transaction for the lot. */
static int sq_chatlog_create_many(struct hb_store_conn *conn, const struct hb_store_chat_input *in,
                                  size_t n, struct hb_store_chat_result *out)
{
    sq_conn *c = sq(conn);
    int64_t now = hb_clock_unix_us();
    int err = begin_write(c);
    for (size_t i = 0; i < n && err == 0; i++) {
        out[i].rc = insert_message(c, &in[i], now, &out[i]);
        if (out[i].rc != HB_ECONFLICT)
            err = out[i].rc;
    }
    if (err == 0)
        err = commit(c);
    if (err < 0) {
        for (size_t i = 0; i < n; i++)
            out[i].rc = err;
    }
    return end_op(c, err < 0 ? err : 0);
}

static int sq_chatlog_create(struct hb_store_conn *conn, int64_t room_id, struct hb_str message,
                             int64_t author_id, int64_t *id, int64_t *created_us, int64_t *prev_id)
{
    /* The deferred foreign key is checked at COMMIT, so a room deleted meanwhile fails it with
     * SQLITE_CONSTRAINT_FOREIGNKEY (HB_ECONFLICT). BEGIN IMMEDIATE takes the write lock first, so
     * the room's last id read here is still the last one when the row goes in. */
    sq_conn *c = sq(conn);
    int64_t now = hb_clock_unix_us();
    int64_t prev = 0;
    sqlite3_stmt *last, *st;
    int err = begin_write(c);
    if (err == 0)
        err = use(c, ST_LOG_LAST, &last);
    if (err == 0) {
        sqlite3_bind_int64(last, 1, room_id);
        err = step(c, last);
        if (err == 1)
            prev = sqlite3_column_int64(last, 0);
        err = err == 1 ? run(c, last) : err < 0 ? err : 0;
    }
    if (err == 0)
        err = use(c, ST_LOG_INSERT, &st);
    if (err == 0) {
        bind_time(st, 1, now);
        bind_str(st, 2, message);
        sqlite3_bind_int64(st, 3, room_id);
        bind_opt_id(st, 4, author_id);
        err = run(c, st);
    }
    int64_t new_id = err == 0 ? sqlite3_last_insert_rowid(c->db) : 0;
    if (err == 0)
        err = commit(c);
    if (err == 0) {
        if (id != NULL)
            *id = new_id;
        if (created_us != NULL)
            *created_us = now;
        if (prev_id != NULL)
            *prev_id = prev;
    }
    return end_op(c, err);
}

const struct hb_store_ops hb_store__sqlite_ops = {
    .name = "sqlite",
    .open = sq_open,
    .close = sq_close,
    .conn_open = sq_conn_open,
    .conn_close = sq_conn_close,
    .migrate = sq_migrate,
    .ping = sq_ping,
    .user_create = sq_user_create,
    .user_get_by_username = sq_user_get_by_username,
    .user_get = sq_user_get,
    .user_set_password = sq_user_set_password,
    .user_set_last_login = sq_user_set_last_login,
    .user_set_active = sq_user_set_active,
    .token_record = sq_token_record,
    .token_is_blacklisted = sq_token_is_blacklisted,
    .token_rotate = sq_token_rotate,
    .token_purge = sq_token_purge,
    .throttle_record = sq_throttle_record,
    .throttle_count = sq_throttle_count,
    .throttle_clear = sq_throttle_clear,
    .throttle_purge = sq_throttle_purge,
    .category_list = sq_category_list,
    .category_get = sq_category_get,
    .category_create = sq_category_create,
    .category_update = sq_category_update,
    .category_delete = sq_category_delete,
    .topic_list = sq_topic_list,
    .post_get = sq_post_get,
    .post_create = sq_post_create,
    .post_update = sq_post_update,
    .post_delete = sq_post_delete,
    .reply_list = sq_reply_list,
    .room_list = sq_room_list,
    .room_get = sq_room_get,
    .room_create = sq_room_create,
    .room_update = sq_room_update,
    .room_delete = sq_room_delete,
    .room_move_headcount = sq_room_move_headcount,
    .room_reset_headcounts = sq_room_reset_headcounts,
    .instance_beat = sq_instance_beat,
    .instance_leave = sq_instance_leave,
    .chatlog_list = sq_chatlog_list,
    .chatlog_each = sq_chatlog_each,
    .chatlog_last = sq_chatlog_last,
    .chatlog_create_many = sq_chatlog_create_many,
    .chatlog_create = sq_chatlog_create,
};
