/* SPDX-License-Identifier: MIT */
/* The PostgreSQL backend (store layer), on libpq's non-blocking API: every wait for the server
 * goes through hb_net_fiber_wait(), which parks the calling fiber on its worker's loop (the API
 * handlers run in fibers) or blocks a pool or background thread, never a loop. Each
 * connection prepares a statement the first time it uses it (PQsendPrepare, then
 * PQsendQueryPrepared);
 * every value travels as a bound text parameter, and the only SQL assembled at run time is the
 * topic list's, from fixed fragments. Times cross the wire as UTC text with an explicit "+00"
 * going in and as int8 microseconds since the epoch coming out (extract(epoch) is numeric, so
 * exact), which makes the session TimeZone irrelevant.
 *
 * Transactions follow the SQLite backend op by op, in READ COMMITTED: a unique violation is
 * HB_EEXIST, a deferred foreign key failing at COMMIT is HB_ECONFLICT. Where SQLite relied on
 * its single writer lock, the statements here take row locks instead (a chat room row for its
 * messages, the blacklisted token's unique index for rotations), always in the order presence
 * rows, then chat_room rows, and several chat_room rows in ascending id order (a chat batch, the
 * seats given back for a dead instance, the headcount reset), so neither the headcount operations
 * nor the chat writers of several instances can deadlock each other.
 *
 * Reconnect: when a connection is found broken (CONNECTION_BAD), it is reset with a short
 * backoff and its statements are prepared again on the new session. The failed statement is run
 * again only when that cannot apply anything twice: it was the first statement of its
 * operation and it reads, opens a transaction, or was refused because the server had already
 * terminated the session (SQLSTATE 57P01..57P03 arrives before the query is read). Anything
 * later in an operation fails with HB_EDB, as a transaction that may have committed must. */
#include "store/store_pg.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"
#include "net/net.h"

#define SCRATCH_MAX (1u << 20)
#define MAX_PARAMS  8
/* Resets tried after a broken connection, and the pause before each retry. */
#define RESET_TRIES        3
#define RESET_PAUSE_MS     100
#define CONNECT_TIMEOUT_MS 10000

/* Column lists shared by the statements that emit a resource (the emit_* decoders read them by
 * position). */
#define US(x)         "(extract(epoch from " x ") * 1000000)::int8"
#define CATEGORY_COLS "c.id, c.name, c.author_id, u.username"
#define CATEGORY_FROM "bbs_category c LEFT JOIN auth_user u ON u.id = c.author_id"
#define TOPIC_COLS    "t.id, t.category_id, " US("t.created_at") ", t.comment, t.author_id, u.username"
#define TOPIC_FROM    "bbs_topic t LEFT JOIN auth_user u ON u.id = t.author_id"
#define REPLY_COLS    "t.id, t.topic_id, " US("t.created_at") ", t.comment, t.author_id, u.username"
#define REPLY_FROM    "bbs_reply t LEFT JOIN auth_user u ON u.id = t.author_id"
#define ROOM_COLS     "r.id, " US("r.created_at") ", r.name, r.headcount, r.author_id, u.username"
#define ROOM_FROM     "chat_room r LEFT JOIN auth_user u ON u.id = r.author_id"
#define LOG_COLS      "l.id, l.room_id, " US("l.created_at") ", l.message, l.author_id, u.username"
#define LOG_FROM      "chat_chatlog l LEFT JOIN auth_user u ON u.id = l.author_id"
#define USER_COLS     "id, password, is_active, is_staff, is_superuser, username, email"
/* An author id that names no user is stored as NULL rather than failing the insert. */
#define AUTHOR(n) "(SELECT id FROM auth_user WHERE id = $" #n "::int8)"
#define TOKEN_INSERT                                                                               \
    "INSERT INTO token_blacklist_outstandingtoken (token, created_at, expires_at, user_id, jti) "  \
    "VALUES ('', $1::timestamptz, $2::timestamptz, " AUTHOR(3) ", $4)"
/* Gives back the seats the doomed instances held (gone: a DELETE ... RETURNING id on
 * hiroba_instance, seats: a DELETE ... RETURNING room_id, n on hiroba_presence) and counts the
 * instances. Presence rows are locked before chat_room rows, as everywhere else, and the rooms in
 * ascending id order (locked: LockRows above the sort), as a chat batch locks them. */
#define GIVE_BACK(gone, seats)                                                                     \
    "WITH gone AS (" gone "), seats AS (" seats "), sums AS (SELECT room_id, sum(n) AS n FROM "    \
    "seats GROUP BY room_id), locked AS (SELECT id FROM chat_room WHERE id IN (SELECT room_id "    \
    "FROM sums) ORDER BY id FOR UPDATE), fix AS (UPDATE chat_room r SET headcount = "              \
    "greatest(r.headcount - sums.n, 0) FROM sums WHERE r.id = sums.room_id AND r.id IN (SELECT "   \
    "id FROM locked) RETURNING r.id) SELECT (SELECT count(*) FROM gone), (SELECT count(*) FROM "   \
    "fix)"

#define STMTS(X)                                                                                   \
    X(ST_BEGIN, "BEGIN")                                                                           \
    X(ST_BEGIN_SNAPSHOT, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")                        \
    X(ST_COMMIT, "COMMIT")                                                                         \
    X(ST_PING, "SELECT 1")                                                                         \
    X(ST_USER_INSERT,                                                                              \
      "INSERT INTO auth_user (password, last_login, is_superuser, username, first_name, "          \
      "last_name, email, is_staff, is_active, date_joined) VALUES ($1, NULL, $2::bool, $3, '', "   \
      "'', $4, $5::bool, true, $6::timestamptz) RETURNING id")                                     \
    X(ST_USER_BY_NAME, "SELECT " USER_COLS " FROM auth_user WHERE username = $1")                  \
    X(ST_USER_BY_ID, "SELECT " USER_COLS " FROM auth_user WHERE id = $1::int8")                    \
    X(ST_USER_SET_PASSWORD, "UPDATE auth_user SET password = $2 WHERE id = $1::int8")              \
    X(ST_USER_SET_LAST_LOGIN,                                                                      \
      "UPDATE auth_user SET last_login = $2::timestamptz WHERE id = $1::int8")                     \
    X(ST_USER_SET_ACTIVE, "UPDATE auth_user SET is_active = $2::bool WHERE id = $1::int8")         \
    X(ST_TOKEN_INSERT, TOKEN_INSERT)                                                               \
    X(ST_TOKEN_INSERT_IF_MISSING, TOKEN_INSERT " ON CONFLICT (jti) DO NOTHING")                    \
    X(ST_TOKEN_ID, "SELECT id FROM token_blacklist_outstandingtoken WHERE jti = $1")               \
    X(ST_BLACKLIST_INSERT, "INSERT INTO token_blacklist_blacklistedtoken (blacklisted_at, "        \
                           "token_id) VALUES ($1::timestamptz, $2::int8)")                         \
    X(ST_IS_BLACKLISTED,                                                                           \
      "SELECT 1 FROM token_blacklist_blacklistedtoken b JOIN token_blacklist_outstandingtoken o "  \
      "ON o.id = b.token_id WHERE o.jti = $1")                                                     \
    X(ST_PURGE_BLACKLISTED,                                                                        \
      "DELETE FROM token_blacklist_blacklistedtoken WHERE token_id IN (SELECT id FROM "            \
      "token_blacklist_outstandingtoken WHERE expires_at < $1::timestamptz)")                      \
    X(ST_PURGE_OUTSTANDING,                                                                        \
      "DELETE FROM token_blacklist_outstandingtoken WHERE expires_at < $1::timestamptz")           \
    X(ST_THROTTLE_INSERT, "INSERT INTO hiroba_login_failure (scope, key, failed_at) VALUES ($1, "  \
                          "$2, $3::timestamptz)")                                                  \
    X(ST_THROTTLE_COUNT,                                                                           \
      "SELECT count(*), " US("min(failed_at)") " FROM hiroba_login_failure WHERE scope = $1 AND "  \
                                               "key = $2 AND failed_at > $3::timestamptz")         \
    X(ST_THROTTLE_CLEAR, "DELETE FROM hiroba_login_failure WHERE scope = $1 AND key = $2")         \
    X(ST_THROTTLE_PURGE, "DELETE FROM hiroba_login_failure WHERE failed_at <= $1::timestamptz")    \
    X(ST_CATEGORY_LIST, "SELECT " CATEGORY_COLS " FROM " CATEGORY_FROM                             \
                        " ORDER BY c.id LIMIT $1::int8 OFFSET $2::int8")                           \
    X(ST_CATEGORY_COUNT, "SELECT count(*) FROM bbs_category")                                      \
    X(ST_CATEGORY_GET, "SELECT " CATEGORY_COLS " FROM " CATEGORY_FROM " WHERE c.id = $1::int8")    \
    X(ST_CATEGORY_EXISTS, "SELECT 1 FROM bbs_category WHERE id = $1::int8")                        \
    /* Parents are locked: FOR SHARE by an insert under them, FOR UPDATE by a cascade, so a        \
     * cascade never misses a child committed while it ran (READ COMMITTED, several writers). */   \
    X(ST_CATEGORY_SHARE, "SELECT 1 FROM bbs_category WHERE id = $1::int8 FOR SHARE")               \
    X(ST_CATEGORY_LOCK, "SELECT 1 FROM bbs_category WHERE id = $1::int8 FOR UPDATE")               \
    X(ST_CATEGORY_LOCK_TOPICS,                                                                     \
      "SELECT id FROM bbs_topic WHERE category_id = $1::int8 ORDER BY id FOR UPDATE")              \
    X(ST_TOPIC_SHARE, "SELECT 1 FROM bbs_topic WHERE id = $1::int8 FOR SHARE")                     \
    X(ST_TOPIC_LOCK, "SELECT 1 FROM bbs_topic WHERE id = $1::int8 FOR UPDATE")                     \
    X(ST_CATEGORY_INSERT,                                                                          \
      "INSERT INTO bbs_category (name, author_id) VALUES ($1, " AUTHOR(2) ") RETURNING id")        \
    X(ST_CATEGORY_UPDATE, "UPDATE bbs_category SET name = $2 WHERE id = $1::int8")                 \
    X(ST_CATEGORY_TOPIC_IDS, "SELECT id FROM bbs_topic WHERE category_id = $1::int8 ORDER BY id")  \
    X(ST_CATEGORY_DELETE_REPLIES, "DELETE FROM bbs_reply WHERE topic_id IN (SELECT id FROM "       \
                                  "bbs_topic WHERE category_id = $1::int8)")                       \
    X(ST_CATEGORY_DELETE_TOPICS, "DELETE FROM bbs_topic WHERE category_id = $1::int8")             \
    X(ST_CATEGORY_DELETE, "DELETE FROM bbs_category WHERE id = $1::int8")                          \
    X(ST_TOPIC_GET, "SELECT " TOPIC_COLS " FROM " TOPIC_FROM " WHERE t.id = $1::int8")             \
    X(ST_TOPIC_EXISTS, "SELECT 1 FROM bbs_topic WHERE id = $1::int8")                              \
    X(ST_TOPIC_INSERT, "INSERT INTO bbs_topic (created_at, comment, category_id, author_id) "      \
                       "VALUES ($1::timestamptz, $2, $3::int8, " AUTHOR(4) ") RETURNING id")       \
    X(ST_TOPIC_UPDATE,                                                                             \
      "UPDATE bbs_topic SET category_id = coalesce($2::int8, category_id), comment = "             \
      "coalesce($3::text, comment), created_at = coalesce($4::timestamptz, created_at) WHERE id "  \
      "= $1::int8")                                                                                \
    X(ST_TOPIC_DELETE_REPLIES, "DELETE FROM bbs_reply WHERE topic_id = $1::int8")                  \
    X(ST_TOPIC_DELETE, "DELETE FROM bbs_topic WHERE id = $1::int8")                                \
    X(ST_REPLY_GET, "SELECT " REPLY_COLS " FROM " REPLY_FROM " WHERE t.id = $1::int8")             \
    X(ST_REPLY_INSERT, "INSERT INTO bbs_reply (created_at, comment, topic_id, author_id) VALUES "  \
                       "($1::timestamptz, $2, $3::int8, " AUTHOR(4) ") RETURNING id")              \
    X(ST_REPLY_UPDATE,                                                                             \
      "UPDATE bbs_reply SET topic_id = coalesce($2::int8, topic_id), comment = "                   \
      "coalesce($3::text, "                                                                        \
      "comment), created_at = coalesce($4::timestamptz, created_at) WHERE id = $1::int8")          \
    X(ST_REPLY_DELETE, "DELETE FROM bbs_reply WHERE id = $1::int8")                                \
    X(ST_REPLY_LIST_TOPIC,                                                                         \
      "SELECT " REPLY_COLS " FROM " REPLY_FROM " WHERE t.topic_id = $1::int8 AND t.id > $2::int8 " \
      "ORDER BY t.id LIMIT $3::int8 OFFSET $4::int8")                                              \
    X(ST_REPLY_COUNT_TOPIC,                                                                        \
      "SELECT count(*) FROM bbs_reply WHERE topic_id = $1::int8 AND id > $2::int8")                \
    X(ST_REPLY_LIST_ALL, "SELECT " REPLY_COLS " FROM " REPLY_FROM                                  \
                         " WHERE t.id > $1::int8 ORDER BY t.id LIMIT $2::int8 OFFSET $3::int8")    \
    X(ST_REPLY_COUNT_ALL, "SELECT count(*) FROM bbs_reply WHERE id > $1::int8")                    \
    X(ST_ROOM_LIST,                                                                                \
      "SELECT " ROOM_COLS " FROM " ROOM_FROM " ORDER BY r.id LIMIT $1::int8 OFFSET $2::int8")      \
    X(ST_ROOM_COUNT, "SELECT count(*) FROM chat_room")                                             \
    X(ST_ROOM_GET, "SELECT " ROOM_COLS " FROM " ROOM_FROM " WHERE r.id = $1::int8")                \
    X(ST_ROOM_INSERT,                                                                              \
      "INSERT INTO chat_room (created_at, name, headcount, author_id) VALUES ($1::timestamptz, "   \
      "$2, $3::int4, " AUTHOR(4) ") RETURNING id")                                                 \
    X(ST_ROOM_UPDATE,                                                                              \
      "UPDATE chat_room SET name = coalesce($2::text, name), headcount = coalesce($3::int4, "      \
      "headcount), created_at = coalesce($4::timestamptz, created_at) WHERE id = $1::int8")        \
    X(ST_ROOM_DELETE_LOGS, "DELETE FROM chat_chatlog WHERE room_id = $1::int8")                    \
    X(ST_ROOM_DELETE, "DELETE FROM chat_room WHERE id = $1::int8")                                 \
    X(ST_ROOM_JOIN, "UPDATE chat_room SET headcount = least(headcount::int8 + 1, 2147483647) "     \
                    "WHERE id = $1::int8 RETURNING headcount")                                     \
    X(ST_ROOM_LEAVE, "UPDATE chat_room SET headcount = greatest(headcount - 1, 0) WHERE id = "     \
                     "$1::int8 RETURNING headcount")                                               \
    X(ST_ROOM_HEADCOUNT, "SELECT headcount FROM chat_room WHERE id = $1::int8")                    \
    X(ST_ROOM_RESET, "UPDATE chat_room SET headcount = 0 WHERE id IN (SELECT id FROM chat_room "   \
                     "WHERE headcount <> 0 ORDER BY id FOR UPDATE)")                               \
    X(ST_PRESENCE_RESET, "DELETE FROM hiroba_presence")                                            \
    X(ST_INSTANCE_RESET, "DELETE FROM hiroba_instance")                                            \
    X(ST_PRESENCE_ADD,                                                                             \
      "INSERT INTO hiroba_presence (instance_id, room_id, n) VALUES ($1, $2::int8, 1) ON "         \
      "CONFLICT (instance_id, room_id) DO UPDATE SET n = hiroba_presence.n + 1")                   \
    X(ST_PRESENCE_TAKE, "UPDATE hiroba_presence SET n = n - 1 WHERE instance_id = $1 AND "         \
                        "room_id = $2::int8 AND n > 0")                                            \
    X(ST_PRESENCE_PRUNE, "DELETE FROM hiroba_presence WHERE instance_id = $1 AND room_id = "       \
                         "$2::int8 AND n <= 0")                                                    \
    X(ST_INSTANCE_BEAT,                                                                            \
      "INSERT INTO hiroba_instance (id, beat_at) VALUES ($1, $2::timestamptz) ON CONFLICT (id) "   \
      "DO UPDATE SET beat_at = excluded.beat_at")                                                  \
    X(ST_INSTANCE_REAP,                                                                            \
      GIVE_BACK("DELETE FROM hiroba_instance WHERE id <> $1 AND beat_at < $2::timestamptz "        \
                "RETURNING id",                                                                    \
                "DELETE FROM hiroba_presence p USING gone WHERE p.instance_id = gone.id "          \
                "RETURNING p.room_id, p.n"))                                                       \
    X(ST_INSTANCE_LEAVE,                                                                           \
      GIVE_BACK("DELETE FROM hiroba_instance WHERE id = $1 RETURNING id",                          \
                "DELETE FROM hiroba_presence p WHERE p.instance_id = $1 RETURNING p.room_id, "     \
                "p.n"))                                                                            \
    X(ST_ROOM_LOCK, "SELECT 1 FROM chat_room WHERE id = $1::int8 FOR UPDATE")                      \
    X(ST_CLOCK_TICK, "UPDATE hiroba_event_clock SET n = n + $1::int8 WHERE id = 1 RETURNING n")    \
    X(ST_CLOCK_READ, "SELECT n FROM hiroba_event_clock WHERE id = 1")                              \
    X(ST_ROOMS_LOCK, "SELECT id FROM chat_room WHERE id = ANY($1::int8[]) ORDER BY id FOR UPDATE") \
    X(ST_LOG_LAST, "SELECT coalesce(max(id), 0) FROM chat_chatlog WHERE room_id = $1::int8")       \
    X(ST_LOG_LIST, "SELECT " LOG_COLS " FROM " LOG_FROM                                            \
                   " WHERE l.room_id = $1::int8 AND l.id > $2::int8 ORDER BY l.id LIMIT $3::int8 " \
                   "OFFSET $4::int8")                                                              \
    X(ST_LOG_COUNT,                                                                                \
      "SELECT count(*) FROM chat_chatlog WHERE room_id = $1::int8 AND id > $2::int8")              \
    X(ST_LOG_INSERT, "INSERT INTO chat_chatlog (created_at, message, room_id, author_id) VALUES "  \
                     "($1::timestamptz, $2, $3::int8, " AUTHOR(4) ") RETURNING id")

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

/* Topic list variants: (category? x search none/scan/indexed) x 6 orders for the rows, then 6
 * counts. */
#define TOPIC_ROWS_SLOT   N_STMTS
#define TOPIC_COUNTS_SLOT (N_STMTS + 6 * 6)
_Static_assert(TOPIC_COUNTS_SLOT + 6 <= HB_PG_MAX_SLOTS, "raise HB_PG_MAX_SLOTS");

typedef struct hb_store__pg_conn pg_conn;

struct pg_store {
    char *url;
};

static pg_conn *pgc(struct hb_store_conn *conn)
{
    return (pg_conn *)conn;
}

/* ---- Parameters ---- */

/* Bound values as NUL-terminated text (libpq's text format); NULL is SQL NULL. A string with a
 * NUL byte cannot be stored in PostgreSQL text, so it makes the whole call HB_EINVAL. */
struct params {
    int n;
    int err;
    const char *v[MAX_PARAMS];
    char *heap[MAX_PARAMS];
    char num[MAX_PARAMS][HB_STORE_TIME_DB_SIZE + 4];
};

static void p_init(struct params *p)
{
    memset(p, 0, sizeof(*p));
}

static void p_release(struct params *p)
{
    for (int i = 0; i < MAX_PARAMS; i++)
        free(p->heap[i]);
    p_init(p);
}

static char *p_slot(struct params *p)
{
    if (p->n < MAX_PARAMS)
        return p->num[p->n];
    HB_BUG("raise MAX_PARAMS");
}

static void p_null(struct params *p)
{
    (void)p_slot(p);
    p->v[p->n++] = NULL;
}

static void p_i64(struct params *p, int64_t v)
{
    char *s = p_slot(p);
    snprintf(s, sizeof(p->num[0]), "%lld", (long long)v);
    p->v[p->n++] = s;
}

/* v, or NULL when v is 0 or less (no author, no user, no change). */
static void p_opt_id(struct params *p, int64_t v)
{
    if (v > 0)
        p_i64(p, v);
    else
        p_null(p);
}

static void p_bool(struct params *p, bool v)
{
    (void)p_slot(p);
    p->v[p->n++] = v ? "t" : "f";
}

static void p_lit(struct params *p, const char *s)
{
    (void)p_slot(p);
    p->v[p->n++] = s;
}

static void p_str(struct params *p, struct hb_str s)
{
    (void)p_slot(p);
    if (s.len > 0 && memchr(s.ptr, '\0', s.len) != NULL)
        p->err = HB_EINVAL;
    char *copy = hb_xmalloc(s.len + 1);
    if (s.len > 0)
        memcpy(copy, s.ptr, s.len);
    copy[s.len] = '\0';
    p->heap[p->n] = copy;
    p->v[p->n++] = copy;
}

/* s, or NULL when s.ptr is NULL ("unchanged" in partial updates). */
static void p_opt_str(struct params *p, struct hb_str s)
{
    if (s.ptr != NULL)
        p_str(p, s);
    else
        p_null(p);
}

/* UTC text with an explicit offset, so the server's TimeZone setting cannot shift it. */
static void p_time(struct params *p, int64_t us)
{
    char *s = p_slot(p);
    size_t n = hb_store_time_format_db(us, s);
    if (n == 0)
        p->err = HB_EINVAL;
    memcpy(s + n, "+00", 4);
    p->v[p->n++] = s;
}

static void p_opt_time(struct params *p, int64_t us)
{
    if (us != HB_STORE_TIME_NONE)
        p_time(p, us);
    else
        p_null(p);
}

/* ---- Results ---- */

static bool v_null(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) != 0;
}

static int64_t v_i64(const PGresult *r, int row, int col)
{
    return strtoll(PQgetvalue(r, row, col), NULL, 10);
}

static bool v_bool(const PGresult *r, int row, int col)
{
    return PQgetvalue(r, row, col)[0] == 't';
}

static struct hb_str v_str(const PGresult *r, int row, int col)
{
    return (struct hb_str){PQgetvalue(r, row, col), (size_t)PQgetlength(r, row, col)};
}

static int64_t v_time(const PGresult *r, int row, int col)
{
    if (v_null(r, row, col))
        return HB_STORE_TIME_NONE;
    return v_i64(r, row, col);
}

/* The author of a row: its id when the joined user exists (username column col + 1), else 0. */
static int64_t v_author(const PGresult *r, int row, int col)
{
    if (v_null(r, row, col) || v_null(r, row, col + 1))
        return 0;
    return v_i64(r, row, col);
}

/* Copies a text column into dst[cap], cutting at a UTF-8 boundary if it does not fit. */
static void v_copy(const PGresult *r, int row, int col, char *dst, size_t cap)
{
    struct hb_str s = v_str(r, row, col);
    size_t n = s.len < cap - 1 ? s.len : cap - 1;
    while (n < s.len && n > 0 && ((unsigned char)s.ptr[n] & 0xc0) == 0x80)
        n--;
    memcpy(dst, s.ptr, n);
    dst[n] = '\0';
}

/* Not const: PQcmdTuples takes a PGresult *. */
static int64_t affected(PGresult *r)
{
    return strtoll(PQcmdTuples(r), NULL, 10);
}

/* ---- Errors, statements, transactions ---- */

int hb_store__pg_err(pg_conn *c, const PGresult *res, const char *what)
{
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *msg = res ? PQresultErrorMessage(res) : PQerrorMessage(c->pg);
    if (state == NULL)
        state = "";
    if (strcmp(state, "23505") == 0)
        return HB_EEXIST;
    if (strcmp(state, "23503") == 0)
        return HB_ECONFLICT;
    /* Class 23 (integrity) and 22 (data: too long, bad encoding, out of range). */
    if (strncmp(state, "23", 2) == 0 || strncmp(state, "22", 2) == 0)
        return HB_EINVAL;
    if (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0 || strcmp(state, "55P03") == 0 ||
        strcmp(state, "57014") == 0) {
        hb_log_warn("postgres: %s: %s", what, msg);
        return HB_EBUSY;
    }
    hb_log_error("postgres: %s: [%s] %s", what, state, msg);
    return HB_EDB;
}

static void quiet_notice(void *arg, const char *message)
{
    (void)arg;
    hb_log_debug("postgres: %s", message);
}

/* ---- Waiting on the socket ----
 * Connections are in libpq's non-blocking mode and every wait goes through hb_net_fiber_wait():
 * inside a fiber on a worker's loop (the API handlers) the fiber parks and the loop serves
 * others meanwhile; on a pool or background thread the thread itself waits in poll(2). */

static bool wait_socket(pg_conn *c, int events, int timeout_ms)
{
    return hb_net_fiber_wait(PQsocket(c->pg), events, timeout_ms) == 0;
}

/* Pushes out what libpq has buffered. Returns false when the connection broke. */
static bool flush_out(pg_conn *c)
{
    for (;;) {
        int n = PQflush(c->pg);
        if (n <= 0)
            return n == 0;
        if (!wait_socket(c, HB_NET_READABLE | HB_NET_WRITABLE, -1) || !PQconsumeInput(c->pg))
            return false;
    }
}

/* The next result of what was sent, waiting for it without blocking a loop; NULL at the end of
 * a query's results. */
static PGresult *next_result(pg_conn *c)
{
    while (PQisBusy(c->pg)) {
        if (!wait_socket(c, HB_NET_READABLE, -1) || !PQconsumeInput(c->pg))
            break; /* PQgetResult then reports the broken connection without waiting */
    }
    return PQgetResult(c->pg);
}

/* Collects the results of the query just sent, as PQexec would: the last one, or the first
 * error. NULL when it could not even be sent. */
static PGresult *collect(pg_conn *c, int sent)
{
    if (!sent || !flush_out(c))
        return NULL;
    PGresult *kept = NULL;
    PGresult *res;
    while ((res = next_result(c)) != NULL) {
        ExecStatusType st = PQresultStatus(kept);
        if (kept != NULL && (st == PGRES_FATAL_ERROR || st == PGRES_NONFATAL_ERROR)) {
            PQclear(res);
            continue;
        }
        PQclear(kept);
        kept = res;
    }
    return kept;
}

static PGresult *send_simple(pg_conn *c, const char *sql)
{
    return collect(c, PQsendQuery(c->pg, sql));
}

static int64_t mono_ms(void)
{
    return (int64_t)(hb_clock_mono_ns() / 1000000);
}

/* Drives a connection attempt (PQconnectStart or PQresetStart) to its end, within the
 * connect timeout. start_ok: the start call's own verdict. */
static bool connect_poll(pg_conn *c, bool start_ok, PostgresPollingStatusType (*poll_fn)(PGconn *))
{
    if (!start_ok || PQstatus(c->pg) == CONNECTION_BAD)
        return false;
    int64_t deadline = mono_ms() + CONNECT_TIMEOUT_MS;
    PostgresPollingStatusType st = PGRES_POLLING_WRITING;
    for (;;) {
        if (st == PGRES_POLLING_OK)
            break;
        if (st == PGRES_POLLING_FAILED)
            return false;
        int64_t left = deadline - mono_ms();
        if (left <= 0 ||
            !wait_socket(c, st == PGRES_POLLING_READING ? HB_NET_READABLE : HB_NET_WRITABLE,
                         (int)left))
            return false;
        if (mono_ms() >= deadline)
            return false;
        st = poll_fn(c->pg);
    }
    return PQsetnonblocking(c->pg, 1) == 0;
}

/* Resets a broken connection, pausing between tries. Statements must be prepared again. */
static int reconnect(pg_conn *c)
{
    memset(c->prepared, 0, sizeof(c->prepared));
    c->in_tx = false;
    for (int i = 0; i < RESET_TRIES; i++) {
        if (i > 0)
            (void)hb_net_fiber_wait(-1, 0, RESET_PAUSE_MS * i);
        if (connect_poll(c, PQresetStart(c->pg) == 1, PQresetPoll)) {
            hb_log_info("postgres: reconnected");
            return 0;
        }
    }
    hb_log_error("postgres: reconnect: %s", PQerrorMessage(c->pg));
    return HB_EDB;
}

/* The server ended the session before it read the query: running it again cannot apply it twice
 * (admin_shutdown, crash_shutdown, cannot_connect_now). */
static bool terminated_before(const PGresult *res)
{
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    return state != NULL && strncmp(state, "57P0", 4) == 0;
}

static bool is_read_only(const char *sql)
{
    return strncmp(sql, "SELECT", 6) == 0 || strncmp(sql, "BEGIN", 5) == 0;
}

/* Runs the statement of slot (sql, prepared on first use) with p; *out gets the result (may be
 * NULL to discard it). Handles broken connections as the file comment says. */
static int exec_slot(pg_conn *c, int slot, const char *sql, struct params *p, PGresult **out)
{
    if (out != NULL)
        *out = NULL;
    if (p != NULL && p->err < 0)
        return p->err;
    bool is_first = c->n_run++ == 0;
    char name[16];
    snprintf(name, sizeof(name), "hb%d", slot);
    for (int attempt = 0;; attempt++) {
        if (PQstatus(c->pg) != CONNECTION_OK) {
            int err = reconnect(c);
            if (err < 0)
                return err;
        }
        PGresult *res = NULL;
        if (!c->prepared[slot]) {
            res = collect(c, PQsendPrepare(c->pg, name, sql, 0, NULL));
            if (PQresultStatus(res) == PGRES_COMMAND_OK) {
                c->prepared[slot] = true;
                PQclear(res);
                res = NULL;
            }
        }
        if (res == NULL)
            res = collect(
                c, PQsendQueryPrepared(c->pg, name, p ? p->n : 0, p ? p->v : NULL, NULL, NULL, 0));
        ExecStatusType st = PQresultStatus(res);
        if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
            if (out != NULL)
                *out = res;
            else
                PQclear(res);
            return 0;
        }
        if (PQstatus(c->pg) == CONNECTION_BAD) {
            bool is_safe = is_first && attempt == 0 && !c->in_tx &&
                           (is_read_only(sql) || terminated_before(res));
            hb_log_warn("postgres: connection lost%s: %s", is_safe ? ", retrying" : "",
                        PQerrorMessage(c->pg));
            PQclear(res);
            c->in_tx = false;
            if (is_safe)
                continue;
            return HB_EDB;
        }
        int err = hb_store__pg_err(c, res, name);
        PQclear(res);
        return err;
    }
}

static int run(pg_conn *c, enum stmt_id id, struct params *p, PGresult **out)
{
    return exec_slot(c, (int)id, stmt_sql[id], p, out);
}

int hb_store__pg_exec(pg_conn *c, const char *sql)
{
    PGresult *res = send_simple(c, sql);
    ExecStatusType st = PQresultStatus(res);
    int err =
        st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ? 0 : hb_store__pg_err(c, res, "exec");
    PQclear(res);
    return err;
}

static int begin_tx(pg_conn *c, enum stmt_id id)
{
    int err = run(c, id, NULL, NULL);
    if (err == 0)
        c->in_tx = true;
    return err;
}

static int begin_write(pg_conn *c)
{
    return begin_tx(c, ST_BEGIN);
}

static int commit(pg_conn *c)
{
    int err = run(c, ST_COMMIT, NULL, NULL);
    c->in_tx = false; /* a failed COMMIT ends the transaction too (rolled back) */
    return err;
}

/* Ends an operation: rolls back a transaction an error left open and frees the parameters. */
static int end_op(pg_conn *c, struct params *p, int err)
{
    if (c->in_tx) {
        if (PQstatus(c->pg) == CONNECTION_OK)
            PQclear(send_simple(c, "ROLLBACK"));
        c->in_tx = false;
    }
    c->n_run = 0;
    if (p != NULL)
        p_release(p);
    return err;
}

/* ---- Rows to meta and JSON ---- */

/* An emitter decodes row of a result with its resource's columns, fills meta and appends the
 * JSON object (either may be NULL). flag is is_reply for posts. */
typedef int emit_fn(const PGresult *r, int row, bool flag, struct hb_store_meta *meta,
                    struct hb_buf *json);

static int emit_category(const PGresult *r, int row, bool flag, struct hb_store_meta *meta,
                         struct hb_buf *json)
{
    (void)flag;
    struct hb_store__category_row v = {
        .id = v_i64(r, row, 0),
        .name = v_str(r, row, 1),
        .author_id = v_author(r, row, 2),
        .author_username = v_str(r, row, 3),
    };
    hb_store__set_meta(meta, v.id, 0, v.author_id);
    return json ? hb_store__json_category(json, &v) : 0;
}

static int emit_post(const PGresult *r, int row, bool is_reply, struct hb_store_meta *meta,
                     struct hb_buf *json)
{
    struct hb_store__post_row v = {
        .id = v_i64(r, row, 0),
        .parent_id = v_i64(r, row, 1),
        .created_us = v_time(r, row, 2),
        .comment = v_str(r, row, 3),
        .author_id = v_author(r, row, 4),
        .author_username = v_str(r, row, 5),
    };
    hb_store__set_meta(meta, v.id, v.parent_id, v.author_id);
    return json ? hb_store__json_post(json, is_reply, &v) : 0;
}

static int emit_room(const PGresult *r, int row, bool flag, struct hb_store_meta *meta,
                     struct hb_buf *json)
{
    (void)flag;
    struct hb_store__room_row v = {
        .id = v_i64(r, row, 0),
        .created_us = v_time(r, row, 1),
        .name = v_str(r, row, 2),
        .headcount = v_i64(r, row, 3),
        .author_id = v_author(r, row, 4),
        .author_username = v_str(r, row, 5),
    };
    hb_store__set_meta(meta, v.id, 0, v.author_id);
    return json ? hb_store__json_room(json, &v) : 0;
}

static void decode_chatlog(const PGresult *r, int row, struct hb_store_chatlog *out)
{
    out->id = v_i64(r, row, 0);
    out->room_id = v_i64(r, row, 1);
    out->created_us = v_time(r, row, 2);
    out->message = v_str(r, row, 3);
    out->author_id = v_author(r, row, 4);
    out->author_username = out->author_id ? v_str(r, row, 5) : (struct hb_str){"", 0};
}

static int emit_chatlog(const PGresult *r, int row, bool flag, struct hb_store_meta *meta,
                        struct hb_buf *json)
{
    (void)flag;
    struct hb_store_chatlog v;
    decode_chatlog(r, row, &v);
    hb_store__set_meta(meta, v.id, v.room_id, v.author_id);
    return json ? hb_store_chatlog_write_json(json, HB_STORE_CHAT_REST, &v) : 0;
}

/* Emits the single row of res; HB_ENOTFOUND without one. On failure json is left as it was. */
static int emit_one(const PGresult *res, emit_fn *emit, bool flag, struct hb_store_meta *meta,
                    struct hb_buf *json)
{
    if (PQntuples(res) == 0)
        return HB_ENOTFOUND;
    size_t start = json ? json->len : 0;
    int err = emit(res, 0, flag, meta, json);
    if (err < 0)
        hb_store__truncate(json, start);
    return err;
}

/* Appends every row of res as a JSON array. On failure json is left as it was. */
static int emit_array(const PGresult *res, emit_fn *emit, bool flag, struct hb_buf *json)
{
    size_t start = json->len;
    int err = hb_buf_append_char(json, '[');
    for (int i = 0; err == 0 && i < PQntuples(res); i++) {
        if (i > 0)
            err = hb_buf_append_char(json, ',');
        if (err == 0)
            err = emit(res, i, flag, NULL, json);
    }
    if (err == 0)
        err = hb_buf_append_char(json, ']');
    if (err < 0)
        hb_store__truncate(json, start);
    return err;
}

/* A statement slot with its SQL, for the list skeleton. */
struct stmt_ref {
    int slot;
    const char *sql;
};

static struct stmt_ref fixed(enum stmt_id id)
{
    return (struct stmt_ref){(int)id, stmt_sql[id]};
}

/* One statement of a pipeline: its slot and SQL, its n parameters v, and its result. */
struct pipe_step {
    struct stmt_ref stmt;
    int n;
    const char *const *v;
    PGresult *res;
};

static int prepare_slot(pg_conn *c, struct stmt_ref stmt)
{
    if (c->prepared[stmt.slot])
        return 0;
    char name[16];
    snprintf(name, sizeof(name), "hb%d", stmt.slot);
    PGresult *res = collect(c, PQsendPrepare(c->pg, name, stmt.sql, 0, NULL));
    int err = PQresultStatus(res) == PGRES_COMMAND_OK ? 0 : hb_store__pg_err(c, res, name);
    PQclear(res);
    c->prepared[stmt.slot] = err == 0;
    return err;
}

static void pipe_clear(struct pipe_step *steps, int n)
{
    for (int i = 0; i < n; i++) {
        PQclear(steps[i].res);
        steps[i].res = NULL;
    }
}

/* One try at a pipeline: the statements go out together, then their results come back.
 * *failed gets the index of the step that failed, or n. */
static int pipe_once(pg_conn *c, struct pipe_step *steps, int n, int *failed)
{
    *failed = n;
    if (PQstatus(c->pg) != CONNECTION_OK) {
        int err = reconnect(c);
        if (err < 0)
            return err;
    }
    for (int i = 0; i < n; i++) {
        int err = prepare_slot(c, steps[i].stmt);
        if (err < 0)
            return err;
    }
    if (!PQenterPipelineMode(c->pg))
        return hb_store__pg_err(c, NULL, "pipeline");
    bool is_sent = true;
    for (int i = 0; i < n && is_sent; i++) {
        char name[16];
        snprintf(name, sizeof(name), "hb%d", steps[i].stmt.slot);
        is_sent = PQsendQueryPrepared(c->pg, name, steps[i].n, steps[i].v, NULL, NULL, 0) == 1;
    }
    is_sent = is_sent && PQpipelineSync(c->pg) == 1 && flush_out(c);
    int err = is_sent ? 0 : HB_EDB;
    for (int i = 0; i < n && err == 0; i++) {
        steps[i].res = next_result(c);
        ExecStatusType st = PQresultStatus(steps[i].res);
        if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
            err = hb_store__pg_err(c, steps[i].res, "pipeline");
            *failed = i;
        } else {
            PQclear(next_result(c)); /* the NULL that ends a statement's results */
        }
    }
    /* Read up to the sync, past what an error skipped, so the connection is idle again. */
    PGresult *res;
    while (PQstatus(c->pg) == CONNECTION_OK && (res = next_result(c)) != NULL) {
        bool is_sync = PQresultStatus(res) == PGRES_PIPELINE_SYNC;
        PQclear(res);
        if (is_sync)
            break;
    }
    if (!PQexitPipelineMode(c->pg) && err == 0)
        err = hb_store__pg_err(c, NULL, "pipeline end");
    if (PQstatus(c->pg) == CONNECTION_OK && PQtransactionStatus(c->pg) != PQTRANS_IDLE &&
        (err < 0 || !c->in_tx))
        PQclear(send_simple(c, "ROLLBACK")); /* a failed step left its transaction open */
    return err;
}

/* Runs statements in one round trip (libpq's pipeline mode), each result in its step. A
 * pipeline that only reads (is_read_only) is sent once more on a new session when the
 * connection is lost on the way; one that writes then fails with HB_EDB, as a transaction that
 * may have committed must. Returns 0, or the first failure's error, with its step's index in
 * *failed (n: none in particular); the results are then cleared. */
static int pipeline(pg_conn *c, struct pipe_step *steps, int n, bool is_read_only, int *failed)
{
    int err = 0;
    for (int attempt = 0; attempt < 2; attempt++) {
        err = pipe_once(c, steps, n, failed);
        if (err == 0)
            return 0;
        pipe_clear(steps, n);
        if (PQstatus(c->pg) != CONNECTION_BAD || !is_read_only)
            break;
        hb_log_warn("postgres: connection lost%s: %s", attempt == 0 ? ", retrying" : "",
                    PQerrorMessage(c->pg));
    }
    return err;
}

/* The list skeleton every resource shares. p holds the filter parameters both statements take;
 * the rows statement takes limit and offset after them. With a page, the count and the rows
 * come from one REPEATABLE READ snapshot, in one round trip (BEGIN, count, rows, COMMIT
 * pipelined) unless the last page is asked for, whose offset needs the count first. */
static int list(pg_conn *c, struct stmt_ref rows, struct stmt_ref count, struct params *p,
                struct hb_store_page *page, emit_fn *emit, bool flag, struct hb_buf *json)
{
    PGresult *res = NULL;
    int err = 0;
    if (p->err < 0)
        return p->err;
    if (page != NULL && page->number != HB_STORE_PAGE_LAST) {
        if (page->number < 1 || page->number > INT64_MAX / page->size)
            return HB_ENOTFOUND;
        int n_filter = p->n;
        p_i64(p, page->size);
        p_i64(p, (page->number - 1) * page->size);
        struct pipe_step steps[] = {
            {fixed(ST_BEGIN_SNAPSHOT), 0, NULL, NULL},
            {count, n_filter, p->v, NULL},
            {rows, p->n, p->v, NULL},
            {fixed(ST_COMMIT), 0, NULL, NULL},
        };
        int failed;
        err = pipeline(c, steps, 4, true, &failed);
        if (err < 0)
            return err;
        int64_t n = PQntuples(steps[1].res) == 1 ? v_i64(steps[1].res, 0, 0) : 0;
        page->count = n;
        int64_t last = n == 0 ? 1 : (n - 1) / page->size + 1;
        err = page->number > last ? HB_ENOTFOUND : emit_array(steps[2].res, emit, flag, json);
        pipe_clear(steps, 4);
        return err;
    }
    if (page != NULL) {
        err = begin_tx(c, ST_BEGIN_SNAPSHOT);
        if (err == 0)
            err = exec_slot(c, count.slot, count.sql, p, &res);
        if (err < 0)
            return err;
        int64_t n = PQntuples(res) == 1 ? v_i64(res, 0, 0) : 0;
        PQclear(res);
        page->count = n;
        int64_t last = n == 0 ? 1 : (n - 1) / page->size + 1;
        page->number = last;
        p_i64(p, page->size);
        p_i64(p, (last - 1) * page->size);
    } else {
        p_null(p); /* LIMIT NULL is LIMIT ALL */
        p_i64(p, 0);
    }
    err = exec_slot(c, rows.slot, rows.sql, p, &res);
    if (err == 0)
        err = emit_array(res, emit, flag, json);
    PQclear(res);
    if (err == 0 && page != NULL)
        err = commit(c);
    return err;
}

/* Emits the row id of a get statement: the read-back after an insert or update. */
static int get_by_id(pg_conn *c, enum stmt_id id, int64_t row_id, emit_fn *emit, bool flag,
                     struct hb_store_meta *meta, struct hb_buf *json)
{
    struct params p;
    PGresult *res;
    p_init(&p);
    p_i64(&p, row_id);
    int err = run(c, id, &p, &res);
    if (err == 0)
        err = emit_one(res, emit, flag, meta, json);
    PQclear(res);
    return err;
}

/* Runs a statement whose only parameter is key: a DELETE ... WHERE <key> = $1. */
static int run_by(pg_conn *c, enum stmt_id id, int64_t key, PGresult **out)
{
    struct params p;
    p_init(&p);
    p_i64(&p, key);
    return run(c, id, &p, out);
}

static int exists_by_id(pg_conn *c, enum stmt_id id, int64_t key)
{
    PGresult *res;
    int err = run_by(c, id, key, &res);
    if (err == 0 && PQntuples(res) == 0)
        err = HB_ENOTFOUND;
    PQclear(res);
    return err;
}

/* Runs an UPDATE ... WHERE id = $1; HB_ENOTFOUND if no row matched. */
static int update_one(pg_conn *c, enum stmt_id id, struct params *p)
{
    PGresult *res;
    int err = run(c, id, p, &res);
    if (err == 0 && affected(res) == 0)
        err = HB_ENOTFOUND;
    PQclear(res);
    return err;
}

/* Runs an INSERT ... RETURNING id. */
static int insert_id(pg_conn *c, enum stmt_id id, struct params *p, int64_t *new_id)
{
    PGresult *res;
    int err = run(c, id, p, &res);
    if (err == 0)
        *new_id = PQntuples(res) == 1 ? v_i64(res, 0, 0) : 0;
    PQclear(res);
    return err;
}

/* Commits a write whose result was read back into json; on failure the read-back is undone. */
static int commit_emitted(pg_conn *c, struct params *p, int err, struct hb_buf *json, size_t start)
{
    if (err == 0)
        err = commit(c);
    if (err < 0)
        hb_store__truncate(json, start);
    return end_op(c, p, err);
}

/* Advances the BBS event clock by k inside the open write transaction, last before COMMIT: the
 * row lock it takes is held only for the commit, and the writers that stream events commit in
 * the clock's order (store.h). */
static int clock_tick(pg_conn *c, int64_t k)
{
    PGresult *res = NULL;
    int err = run_by(c, ST_CLOCK_TICK, k, &res);
    if (err == 0)
        c->base.event_clock = PQntuples(res) == 1 ? v_i64(res, 0, 0) : 0;
    PQclear(res);
    return err;
}

static int pg_event_clock_read(struct hb_store_conn *conn, int64_t *n)
{
    pg_conn *c = pgc(conn);
    PGresult *res = NULL;
    int err = run(c, ST_CLOCK_READ, NULL, &res);
    if (err == 0)
        *n = PQntuples(res) == 1 ? v_i64(res, 0, 0) : 0;
    PQclear(res);
    return end_op(c, NULL, err);
}

/* ---- Backend lifecycle ---- */

static int pg_open(struct hb_store *store, const char *url)
{
    const char *rest = NULL;
    if (strncmp(url, "postgres://", 11) == 0)
        rest = url + 11;
    else if (strncmp(url, "postgresql://", 13) == 0)
        rest = url + 13;
    if (rest == NULL || rest[0] == '\0')
        return HB_EINVAL;
    char *msg = NULL;
    PQconninfoOption *opts = PQconninfoParse(url, &msg);
    if (opts == NULL) {
        hb_log_error("database url: %s", msg ? msg : "cannot parse");
        PQfreemem(msg);
        return HB_EINVAL;
    }
    PQconninfoFree(opts);
    struct pg_store *s = hb_xcalloc(1, sizeof(*s));
    s->url = hb_xstrdup(url);
    store->backend = s;
    store->readers_share_writer = false;
    return 0;
}

static void pg_close(struct hb_store *store)
{
    struct pg_store *s = store->backend;
    if (s == NULL)
        return;
    free(s->url);
    free(s);
    store->backend = NULL;
}

static void pg_conn_close(struct hb_store_conn *conn)
{
    pg_conn *c = pgc(conn);
    PQfinish(c->pg);
    hb_buf_release(&c->scratch);
    hb_store__conn_release(&c->base);
    free(c);
}

static int pg_conn_open(struct hb_store *store, bool is_writer, struct hb_store_conn **out)
{
    struct pg_store *s = store->backend;
    pg_conn *c = hb_xcalloc(1, sizeof(*c));
    hb_store__conn_init(&c->base, store, is_writer);
    hb_buf_init(&c->scratch, SCRATCH_MAX);
    /* The URL's own settings win over these defaults: only the first dbname is expanded, and
     * what it expands to overrides the keywords before it. */
    const char *const keys[] = {"application_name", "dbname", NULL};
    const char *const values[] = {"hiroba", s->url, NULL};
    c->pg = PQconnectStartParams(keys, values, 1);
    if (c->pg == NULL || !connect_poll(c, true, PQconnectPoll)) {
        hb_log_error("open postgres: %s", c->pg ? PQerrorMessage(c->pg) : "out of memory");
        pg_conn_close(&c->base);
        return HB_EDB;
    }
    PQsetNoticeProcessor(c->pg, quiet_notice, NULL);
    *out = &c->base;
    return 0;
}

static int pg_migrate(struct hb_store_conn *conn)
{
    pg_conn *c = pgc(conn);
    if (PQstatus(c->pg) != CONNECTION_OK) {
        int err = reconnect(c);
        if (err < 0)
            return err;
    }
    /* DDL changes the tables the prepared statements were planned on: prepare them again. */
    memset(c->prepared, 0, sizeof(c->prepared));
    PQclear(send_simple(c, "DEALLOCATE ALL"));
    return end_op(c, NULL, hb_store__pg_migrate(c));
}

static int pg_ping(struct hb_store_conn *conn)
{
    pg_conn *c = pgc(conn);
    PGresult *res;
    int err = run(c, ST_PING, NULL, &res);
    PQclear(res);
    return end_op(c, NULL, err);
}

/* ---- Users ---- */

static int pg_user_create(struct hb_store_conn *conn, const struct hb_store_user_input *in,
                          int64_t *id)
{
    pg_conn *c = pgc(conn);
    struct params p;
    int64_t new_id = 0;
    p_init(&p);
    p_str(&p, in->password);
    p_bool(&p, in->is_superuser);
    p_str(&p, in->username);
    p_str(&p, in->email);
    p_bool(&p, in->is_staff);
    p_time(&p, hb_clock_unix_us());
    int err = insert_id(c, ST_USER_INSERT, &p, &new_id);
    if (err == 0 && id != NULL)
        *id = new_id;
    return end_op(c, &p, err);
}

static int read_user(const PGresult *res, struct hb_store_user *out)
{
    if (PQntuples(res) == 0)
        return HB_ENOTFOUND;
    out->id = v_i64(res, 0, 0);
    if ((size_t)PQgetlength(res, 0, 1) > HB_STORE_PASSWORD_MAX) {
        /* A truncated hash could never verify anyway; "" is documented as never matching. */
        hb_log_warn("user %lld: password hash longer than %d bytes", (long long)out->id,
                    HB_STORE_PASSWORD_MAX);
        out->password[0] = '\0';
    } else {
        v_copy(res, 0, 1, out->password, sizeof(out->password));
    }
    out->is_active = v_bool(res, 0, 2);
    out->is_staff = v_bool(res, 0, 3);
    out->is_superuser = v_bool(res, 0, 4);
    v_copy(res, 0, 5, out->username, sizeof(out->username));
    v_copy(res, 0, 6, out->email, sizeof(out->email));
    return 0;
}

static int pg_user_get_by_username(struct hb_store_conn *conn, struct hb_str username,
                                   struct hb_store_user *out)
{
    pg_conn *c = pgc(conn);
    struct params p;
    PGresult *res;
    p_init(&p);
    p_str(&p, username);
    if (p.err < 0) /* a NUL byte: no stored username has one */
        return end_op(c, &p, HB_ENOTFOUND);
    int err = run(c, ST_USER_BY_NAME, &p, &res);
    if (err == 0)
        err = read_user(res, out);
    PQclear(res);
    return end_op(c, &p, err);
}

static int pg_user_get(struct hb_store_conn *conn, int64_t id, struct hb_store_user *out)
{
    pg_conn *c = pgc(conn);
    PGresult *res;
    int err = run_by(c, ST_USER_BY_ID, id, &res);
    if (err == 0)
        err = read_user(res, out);
    PQclear(res);
    return end_op(c, NULL, err);
}

static int pg_user_set_password(struct hb_store_conn *conn, int64_t id, struct hb_str hash)
{
    pg_conn *c = pgc(conn);
    struct params p;
    p_init(&p);
    p_i64(&p, id);
    p_str(&p, hash);
    return end_op(c, &p, update_one(c, ST_USER_SET_PASSWORD, &p));
}

static int pg_user_set_last_login(struct hb_store_conn *conn, int64_t id, int64_t at_us)
{
    pg_conn *c = pgc(conn);
    struct params p;
    p_init(&p);
    p_i64(&p, id);
    p_time(&p, at_us);
    return end_op(c, &p, update_one(c, ST_USER_SET_LAST_LOGIN, &p));
}

static int pg_user_set_active(struct hb_store_conn *conn, int64_t id, bool is_active)
{
    pg_conn *c = pgc(conn);
    struct params p;
    p_init(&p);
    p_i64(&p, id);
    p_bool(&p, is_active);
    return end_op(c, &p, update_one(c, ST_USER_SET_ACTIVE, &p));
}

/* ---- Tokens ---- */

static void p_token(struct params *p, const struct hb_store_token *tok)
{
    p_time(p, tok->created_us);
    p_time(p, tok->expires_us);
    p_opt_id(p, tok->user_id);
    p_str(p, tok->jti);
}

static int pg_token_record(struct hb_store_conn *conn, const struct hb_store_token *tok)
{
    pg_conn *c = pgc(conn);
    struct params p;
    p_init(&p);
    p_token(&p, tok);
    return end_op(c, &p, run(c, ST_TOKEN_INSERT, &p, NULL));
}

static int pg_token_is_blacklisted(struct hb_store_conn *conn, struct hb_str jti, bool *out)
{
    pg_conn *c = pgc(conn);
    struct params p;
    PGresult *res;
    p_init(&p);
    p_str(&p, jti);
    if (p.err < 0) {
        *out = false;
        return end_op(c, &p, 0);
    }
    int err = run(c, ST_IS_BLACKLISTED, &p, &res);
    if (err == 0)
        *out = PQntuples(res) > 0;
    PQclear(res);
    return end_op(c, &p, err);
}

static int pg_token_rotate(struct hb_store_conn *conn, const struct hb_store_token *old,
                           const struct hb_store_token *new_tok, int64_t now_us)
{
    /* SimpleJWT's blacklist(): get_or_create the outstanding row by jti, then create the
     * blacklisted row. Of two racing rotations, the second's blacklisted insert waits on the
     * first's uncommitted entry in the UNIQUE token_id index and fails once it commits. */
    pg_conn *c = pgc(conn);
    struct params p;
    PGresult *res = NULL;
    int64_t token_id = 0;
    p_init(&p);
    int err = begin_write(c);
    if (err == 0) {
        p_token(&p, old);
        err = run(c, ST_TOKEN_INSERT_IF_MISSING, &p, NULL);
        p_release(&p);
    }
    if (err == 0) {
        p_str(&p, old->jti);
        err = run(c, ST_TOKEN_ID, &p, &res);
        p_release(&p);
        if (err == 0 && PQntuples(res) != 1)
            err = HB_EDB;
        if (err == 0)
            token_id = v_i64(res, 0, 0);
        PQclear(res);
    }
    if (err == 0) {
        p_time(&p, now_us);
        p_i64(&p, token_id);
        err = run(c, ST_BLACKLIST_INSERT, &p, NULL);
        p_release(&p);
    }
    if (err == 0 && new_tok != NULL) {
        p_token(&p, new_tok);
        err = run(c, ST_TOKEN_INSERT, &p, NULL);
        if (err == HB_EEXIST)
            err = HB_EDB; /* a jti collision on 128 random bits: not "already blacklisted" */
    }
    if (err == 0)
        err = commit(c);
    return end_op(c, &p, err);
}

static int pg_token_purge(struct hb_store_conn *conn, int64_t now_us, int64_t *n_deleted)
{
    pg_conn *c = pgc(conn);
    struct params p;
    PGresult *res = NULL;
    p_init(&p);
    p_time(&p, now_us);
    int err = begin_write(c);
    if (err == 0)
        err = run(c, ST_PURGE_BLACKLISTED, &p, NULL);
    if (err == 0)
        err = run(c, ST_PURGE_OUTSTANDING, &p, &res);
    if (err == 0 && n_deleted != NULL)
        *n_deleted = affected(res);
    PQclear(res);
    if (err == 0)
        err = commit(c);
    return end_op(c, &p, err);
}

/* ---- Throttle ---- */

static int pg_throttle_record(struct hb_store_conn *conn, enum hb_store_throttle_scope scope,
                              struct hb_str key, int64_t at_us)
{
    pg_conn *c = pgc(conn);
    struct params p;
    p_init(&p);
    p_lit(&p, hb_store__scope_text(scope));
    p_str(&p, key);
    p_time(&p, at_us);
    return end_op(c, &p, run(c, ST_THROTTLE_INSERT, &p, NULL));
}

static int pg_throttle_count(struct hb_store_conn *conn, enum hb_store_throttle_scope scope,
                             struct hb_str key, int64_t since_us, int64_t *n, int64_t *oldest_us)
{
    pg_conn *c = pgc(conn);
    struct params p;
    PGresult *res = NULL;
    p_init(&p);
    p_lit(&p, hb_store__scope_text(scope));
    p_str(&p, key);
    p_time(&p, since_us);
    if (p.err < 0) { /* a key with a NUL byte was never recorded */
        *n = 0;
        *oldest_us = HB_STORE_TIME_NONE;
        return end_op(c, &p, 0);
    }
    int err = run(c, ST_THROTTLE_COUNT, &p, &res);
    if (err == 0 && PQntuples(res) != 1)
        err = HB_EDB;
    if (err == 0) {
        *n = v_i64(res, 0, 0);
        *oldest_us = *n > 0 ? v_time(res, 0, 1) : HB_STORE_TIME_NONE;
    }
    PQclear(res);
    return end_op(c, &p, err);
}

static int pg_throttle_clear(struct hb_store_conn *conn, enum hb_store_throttle_scope scope,
                             struct hb_str key)
{
    pg_conn *c = pgc(conn);
    struct params p;
    p_init(&p);
    p_lit(&p, hb_store__scope_text(scope));
    p_str(&p, key);
    if (p.err < 0)
        return end_op(c, &p, 0);
    return end_op(c, &p, run(c, ST_THROTTLE_CLEAR, &p, NULL));
}

static int pg_throttle_purge(struct hb_store_conn *conn, int64_t before_us)
{
    pg_conn *c = pgc(conn);
    struct params p;
    p_init(&p);
    p_time(&p, before_us);
    return end_op(c, &p, run(c, ST_THROTTLE_PURGE, &p, NULL));
}

/* ---- Categories ---- */

static int pg_category_list(struct hb_store_conn *conn, struct hb_store_page *page,
                            struct hb_buf *json)
{
    pg_conn *c = pgc(conn);
    struct params p;
    p_init(&p);
    int err = list(c, fixed(ST_CATEGORY_LIST), fixed(ST_CATEGORY_COUNT), &p, page, emit_category,
                   false, json);
    return end_op(c, &p, err);
}

static int pg_category_get(struct hb_store_conn *conn, int64_t id, struct hb_store_meta *meta,
                           struct hb_buf *json)
{
    pg_conn *c = pgc(conn);
    return end_op(c, NULL, get_by_id(c, ST_CATEGORY_GET, id, emit_category, false, meta, json));
}

static int pg_category_create(struct hb_store_conn *conn, struct hb_str name, int64_t author_id,
                              struct hb_store_meta *meta, struct hb_buf *json)
{
    pg_conn *c = pgc(conn);
    size_t start = json ? json->len : 0;
    struct params p;
    int64_t id = 0;
    p_init(&p);
    p_str(&p, name);
    p_opt_id(&p, author_id);
    int err = p.err < 0 ? p.err : begin_write(c);
    if (err == 0)
        err = insert_id(c, ST_CATEGORY_INSERT, &p, &id);
    if (err == 0)
        err = get_by_id(c, ST_CATEGORY_GET, id, emit_category, false, meta, json);
    return commit_emitted(c, &p, err, json, start);
}

static int pg_category_update(struct hb_store_conn *conn, int64_t id, struct hb_str name,
                              struct hb_store_meta *meta, struct hb_buf *json)
{
    pg_conn *c = pgc(conn);
    size_t start = json ? json->len : 0;
    struct params p;
    p_init(&p);
    p_i64(&p, id);
    p_str(&p, name);
    int err = p.err < 0 ? p.err : begin_write(c);
    if (err == 0)
        err = update_one(c, ST_CATEGORY_UPDATE, &p);
    if (err == 0)
        err = get_by_id(c, ST_CATEGORY_GET, id, emit_category, false, meta, json);
    return commit_emitted(c, &p, err, json, start);
}

static int pg_category_delete(struct hb_store_conn *conn, int64_t id, struct hb_buf *topic_ids)
{
    pg_conn *c = pgc(conn);
    size_t start = topic_ids ? topic_ids->len : 0;
    PGresult *res = NULL;
    int64_t n_topics = 0;
    int err = begin_write(c);
    if (err == 0)
        err = exists_by_id(c, ST_CATEGORY_LOCK, id);
    if (err == 0)
        err = run_by(c, ST_CATEGORY_LOCK_TOPICS, id, NULL);
    if (err == 0 && topic_ids != NULL) {
        err = run_by(c, ST_CATEGORY_TOPIC_IDS, id, &res);
        for (int i = 0; err == 0 && i < PQntuples(res); i++) {
            int64_t topic_id = v_i64(res, i, 0);
            err = hb_buf_append(topic_ids, &topic_id, sizeof(topic_id));
            n_topics++;
        }
        PQclear(res);
    }
    if (err == 0)
        err = run_by(c, ST_CATEGORY_DELETE_REPLIES, id, NULL);
    if (err == 0)
        err = run_by(c, ST_CATEGORY_DELETE_TOPICS, id, NULL);
    if (err == 0)
        err = run_by(c, ST_CATEGORY_DELETE, id, NULL);
    if (err == 0 && n_topics > 0)
        err = clock_tick(c, n_topics); /* one topic.deleted event per topic */
    return commit_emitted(c, NULL, err, topic_ids, start);
}

/* ---- Topics and replies ---- */

/* Search (API.md §7.3). A topic matches when its comment contains every term as a substring,
 * case-insensitively: each term is tested as comment ILIKE '%term%' with %, _ and \ escaped in
 * the term. ILIKE compares lower() of both sides in a UTF-8 database, so these are the
 * semantics of the SQLite backend's trigram index (and of its scan for short terms): Japanese
 * text without spaces matches on any part of it and one-letter terms work.
 *
 * The index: migrate creates a pg_trgm GIN index on comment (gin_trgm_ops), which answers ILIKE
 * for patterns with trigrams in them, i.e. terms of 3+ characters. Up to SEARCH_ANCHORS of the
 * longest such terms become separate conditions ($3..$5, the last one repeated when there are
 * fewer) that the planner can hand to that index; every other term travels in a JSON array ($2)
 * and is tested on the rows the index let through. With only short terms there is nothing for
 * the index, and a variant without anchors scans. Without pg_trgm (migrate may be refused
 * CREATE EXTENSION) the same statements scan, with the same results. The word index on
 * to_tsvector('simple', comment) is not used here on purpose: a word index answers "contains
 * these words", a different question (it would not find "ell" in "hello" or any part of
 * 日本語のテキスト, and would find "c" for the term "c++"). */
#define SEARCH_ANCHORS 3

enum search_kind { SEARCH_NONE, SEARCH_SCAN, SEARCH_INDEXED };

/* Where plan_search left the bound values in the scratch buffer (NUL-terminated). */
struct search_plan {
    enum search_kind kind;
    size_t rest_off;                   /* JSON array of the other terms' patterns */
    size_t anchor_off[SEARCH_ANCHORS]; /* the anchors' patterns */
};

/* Appends '%' term '%' with NUL bytes dropped (DRF strips them from search text; PostgreSQL text
 * cannot hold them) and %, _ and \ escaped with \ (LIKE's default escape): as a JSON string, or
 * raw and NUL-terminated. */
static int put_pattern(struct hb_buf *buf, struct hb_str term, bool as_json)
{
    char *pat = hb_xmalloc(2 * term.len + 3);
    size_t n = 0;
    pat[n++] = '%';
    for (size_t i = 0; i < term.len; i++) {
        char ch = term.ptr[i];
        if (ch == '\0')
            continue;
        if (ch == '%' || ch == '_' || ch == '\\')
            pat[n++] = '\\';
        pat[n++] = ch;
    }
    pat[n++] = '%';
    int err = as_json ? hb_store__json_str(buf, pat, n) : hb_buf_append(buf, pat, n);
    if (err == 0 && !as_json)
        err = hb_buf_append_char(buf, '\0');
    free(pat);
    return err;
}

/* Code points of term, NUL bytes not counted. */
static size_t term_chars(struct hb_str term)
{
    size_t n_nul = 0;
    for (size_t i = 0; i < term.len; i++)
        n_nul += term.ptr[i] == '\0';
    return hb_store__utf8_len(term) - n_nul;
}

/* Fills the scratch buffer as struct search_plan describes; kind SEARCH_NONE when search has no
 * terms (no filter). */
static int plan_search(pg_conn *c, struct hb_str search, struct search_plan *plan)
{
    struct hb_buf *buf = &c->scratch;
    struct hb_str rest, term;
    size_t anchor[SEARCH_ANCHORS], anchor_len[SEARCH_ANCHORS], n_anchors = 0, n_terms = 0;
    int err = 0;
    hb_buf_reset(buf);
    *plan = (struct search_plan){.kind = SEARCH_NONE};
    /* The longest terms of 3+ characters (the earlier one on a tie), longest first. */
    rest = search;
    for (size_t i = 0; hb_store__search_next(&rest, &term); i++) {
        size_t len = term_chars(term);
        n_terms += len > 0;
        if (len < 3 || (n_anchors == SEARCH_ANCHORS && len <= anchor_len[n_anchors - 1]))
            continue;
        size_t k = n_anchors < SEARCH_ANCHORS ? n_anchors++ : n_anchors - 1;
        for (; k > 0 && anchor_len[k - 1] < len; k--) {
            anchor[k] = anchor[k - 1];
            anchor_len[k] = anchor_len[k - 1];
        }
        anchor[k] = i;
        anchor_len[k] = len;
    }
    if (n_terms == 0)
        return 0;
    plan->kind = n_anchors > 0 ? SEARCH_INDEXED : SEARCH_SCAN;
    err = hb_buf_append_char(buf, '[');
    rest = search;
    bool is_first = true;
    for (size_t i = 0; err == 0 && hb_store__search_next(&rest, &term); i++) {
        bool is_anchor = false;
        for (size_t k = 0; k < n_anchors; k++)
            is_anchor |= anchor[k] == i;
        if (is_anchor || term_chars(term) == 0)
            continue;
        if (!is_first)
            err = hb_buf_append_char(buf, ',');
        if (err == 0)
            err = put_pattern(buf, term, true);
        is_first = false;
    }
    if (err == 0)
        err = hb_buf_append(buf, "]", 2); /* with the NUL libpq reads up to */
    for (size_t k = 0; err == 0 && k < n_anchors; k++) {
        rest = search;
        for (size_t i = 0; hb_store__search_next(&rest, &term); i++) {
            if (i == anchor[k])
                break;
        }
        plan->anchor_off[k] = buf->len;
        err = put_pattern(buf, term, false);
    }
    for (size_t k = n_anchors; k < SEARCH_ANCHORS; k++)
        plan->anchor_off[k] = plan->anchor_off[n_anchors - 1];
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

/* The WHERE clause of a topic list variant, from fixed fragments. Every variant takes $1
 * (category), $2 (other terms) and $3..$5 (anchors); an unused one is bound NULL and tested as
 * such, because a prepared statement must use each of its parameters. */
static void topic_where(char *out, size_t cap, bool has_category, enum search_kind kind)
{
    snprintf(out, cap, "WHERE %s AND %s AND %s",
             has_category ? "t.category_id = $1::int8" : "$1::int8 IS NULL",
             kind != SEARCH_NONE ? "NOT EXISTS (SELECT 1 FROM jsonb_array_elements_text($2::jsonb) "
                                   "s(pattern) WHERE t.comment NOT ILIKE s.pattern)"
                                 : "$2::jsonb IS NULL",
             kind == SEARCH_INDEXED
                 ? "t.comment ILIKE $3::text AND t.comment ILIKE $4::text AND t.comment ILIKE "
                   "$5::text"
                 : "$3::text IS NULL AND $4::text IS NULL AND $5::text IS NULL");
}

static int pg_topic_list(struct hb_store_conn *conn, const struct hb_store_topic_query *q,
                         struct hb_store_page *page, struct hb_buf *json)
{
    pg_conn *c = pgc(conn);
    struct search_plan plan;
    int err = plan_search(c, q->search, &plan);
    if (err < 0)
        return end_op(c, NULL, err);
    bool has_category = q->category_id != 0;
    int filters = has_category * 3 + (int)plan.kind;
    char where[512], rows_sql[1024], count_sql[768];
    topic_where(where, sizeof(where), has_category, plan.kind);
    snprintf(rows_sql, sizeof(rows_sql),
             "SELECT " TOPIC_COLS " FROM " TOPIC_FROM " %s ORDER BY %s LIMIT $6::int8 OFFSET "
             "$7::int8",
             where, order_sql[q->order]);
    snprintf(count_sql, sizeof(count_sql), "SELECT count(*) FROM bbs_topic t %s", where);

    struct params p;
    p_init(&p);
    if (has_category)
        p_i64(&p, q->category_id);
    else
        p_null(&p);
    if (plan.kind != SEARCH_NONE)
        p_lit(&p, c->scratch.data + plan.rest_off);
    else
        p_null(&p);
    for (int k = 0; k < SEARCH_ANCHORS; k++) {
        if (plan.kind == SEARCH_INDEXED)
            p_lit(&p, c->scratch.data + plan.anchor_off[k]);
        else
            p_null(&p);
    }
    err = list(c, (struct stmt_ref){TOPIC_ROWS_SLOT + filters * 6 + (int)q->order, rows_sql},
               (struct stmt_ref){TOPIC_COUNTS_SLOT + filters, count_sql}, &p, page, emit_post,
               false, json);
    return end_op(c, &p, err);
}

static enum stmt_id post_stmt(bool is_reply, enum stmt_id topic_id, enum stmt_id reply_id)
{
    return is_reply ? reply_id : topic_id;
}

static int pg_post_get(struct hb_store_conn *conn, bool is_reply, int64_t id,
                       struct hb_store_meta *meta, struct hb_buf *json)
{
    pg_conn *c = pgc(conn);
    enum stmt_id get = post_stmt(is_reply, ST_TOPIC_GET, ST_REPLY_GET);
    return end_op(c, NULL, get_by_id(c, get, id, emit_post, is_reply, meta, json));
}

/* HB_ECONFLICT unless the parent (category of a topic, topic of a reply) exists. */
static int check_parent(pg_conn *c, bool is_reply, int64_t parent_id)
{
    int err = exists_by_id(c, post_stmt(is_reply, ST_CATEGORY_SHARE, ST_TOPIC_SHARE), parent_id);
    return err == HB_ENOTFOUND ? HB_ECONFLICT : err;
}

static int pg_post_create(struct hb_store_conn *conn, bool is_reply,
                          const struct hb_store_post_input *in, struct hb_store_meta *meta,
                          struct hb_buf *json)
{
    pg_conn *c = pgc(conn);
    size_t start = json ? json->len : 0;
    struct params p;
    int64_t id = 0;
    p_init(&p);
    p_time(&p, in->created_us != HB_STORE_TIME_NONE ? in->created_us : hb_clock_unix_us());
    p_str(&p, in->comment);
    p_i64(&p, in->parent_id);
    p_opt_id(&p, in->author_id);
    int err = p.err < 0 ? p.err : begin_write(c);
    if (err == 0)
        err = check_parent(c, is_reply, in->parent_id);
    if (err == 0)
        err = insert_id(c, post_stmt(is_reply, ST_TOPIC_INSERT, ST_REPLY_INSERT), &p, &id);
    if (err == 0)
        err = get_by_id(c, post_stmt(is_reply, ST_TOPIC_GET, ST_REPLY_GET), id, emit_post, is_reply,
                        meta, json);
    if (err == 0)
        err = clock_tick(c, 1);
    return commit_emitted(c, &p, err, json, start);
}

static int pg_post_update(struct hb_store_conn *conn, bool is_reply, int64_t id,
                          const struct hb_store_post_input *in, struct hb_store_meta *meta,
                          struct hb_buf *json)
{
    pg_conn *c = pgc(conn);
    size_t start = json ? json->len : 0;
    struct params p;
    p_init(&p);
    p_i64(&p, id);
    p_opt_id(&p, in->parent_id);
    p_opt_str(&p, in->comment);
    p_opt_time(&p, in->created_us);
    int err = p.err < 0 ? p.err : begin_write(c);
    if (err == 0)
        err = update_one(c, post_stmt(is_reply, ST_TOPIC_UPDATE, ST_REPLY_UPDATE), &p);
    if (err == 0 && in->parent_id > 0)
        err = check_parent(c, is_reply, in->parent_id);
    if (err == 0)
        err = get_by_id(c, post_stmt(is_reply, ST_TOPIC_GET, ST_REPLY_GET), id, emit_post, is_reply,
                        meta, json);
    if (err == 0)
        err = clock_tick(c, 1);
    return commit_emitted(c, &p, err, json, start);
}

static int pg_post_delete(struct hb_store_conn *conn, bool is_reply, int64_t id,
                          struct hb_store_meta *meta)
{
    pg_conn *c = pgc(conn);
    int err = begin_write(c);
    if (err == 0)
        err = get_by_id(c, post_stmt(is_reply, ST_TOPIC_GET, ST_REPLY_GET), id, emit_post, is_reply,
                        meta, NULL);
    if (err == 0 && !is_reply)
        err = exists_by_id(c, ST_TOPIC_LOCK, id);
    if (err == 0 && !is_reply)
        err = run_by(c, ST_TOPIC_DELETE_REPLIES, id, NULL);
    if (err == 0)
        err = run_by(c, post_stmt(is_reply, ST_TOPIC_DELETE, ST_REPLY_DELETE), id, NULL);
    if (err == 0)
        err = clock_tick(c, 1);
    if (err == 0)
        err = commit(c);
    return end_op(c, NULL, err);
}

static int pg_reply_list(struct hb_store_conn *conn, int64_t topic_id, int64_t after_id,
                         struct hb_store_page *page, struct hb_buf *json)
{
    pg_conn *c = pgc(conn);
    bool is_all = topic_id == 0;
    struct params p;
    p_init(&p);
    if (!is_all)
        p_i64(&p, topic_id);
    p_i64(&p, after_id);
    int err = list(c, fixed(is_all ? ST_REPLY_LIST_ALL : ST_REPLY_LIST_TOPIC),
                   fixed(is_all ? ST_REPLY_COUNT_ALL : ST_REPLY_COUNT_TOPIC), &p, page, emit_post,
                   true, json);
    return end_op(c, &p, err);
}

/* ---- Rooms ---- */

static int pg_room_list(struct hb_store_conn *conn, struct hb_store_page *page, struct hb_buf *json)
{
    pg_conn *c = pgc(conn);
    struct params p;
    p_init(&p);
    int err = list(c, fixed(ST_ROOM_LIST), fixed(ST_ROOM_COUNT), &p, page, emit_room, false, json);
    return end_op(c, &p, err);
}

static int pg_room_get(struct hb_store_conn *conn, int64_t id, struct hb_store_meta *meta,
                       struct hb_buf *json)
{
    pg_conn *c = pgc(conn);
    return end_op(c, NULL, get_by_id(c, ST_ROOM_GET, id, emit_room, false, meta, json));
}

static int pg_room_create(struct hb_store_conn *conn, const struct hb_store_room_input *in,
                          struct hb_store_meta *meta, struct hb_buf *json)
{
    pg_conn *c = pgc(conn);
    size_t start = json ? json->len : 0;
    struct params p;
    int64_t id = 0;
    p_init(&p);
    p_time(&p, in->created_us != HB_STORE_TIME_NONE ? in->created_us : hb_clock_unix_us());
    p_str(&p, in->name);
    p_i64(&p, in->headcount >= 0 ? in->headcount : 0);
    p_opt_id(&p, in->author_id);
    int err = p.err < 0 ? p.err : begin_write(c);
    if (err == 0)
        err = insert_id(c, ST_ROOM_INSERT, &p, &id);
    if (err == 0)
        err = get_by_id(c, ST_ROOM_GET, id, emit_room, false, meta, json);
    return commit_emitted(c, &p, err, json, start);
}

static int pg_room_update(struct hb_store_conn *conn, int64_t id,
                          const struct hb_store_room_input *in, struct hb_store_meta *meta,
                          struct hb_buf *json)
{
    pg_conn *c = pgc(conn);
    size_t start = json ? json->len : 0;
    struct params p;
    p_init(&p);
    p_i64(&p, id);
    p_opt_str(&p, in->name);
    if (in->headcount >= 0)
        p_i64(&p, in->headcount);
    else
        p_null(&p);
    p_opt_time(&p, in->created_us);
    int err = p.err < 0 ? p.err : begin_write(c);
    if (err == 0)
        err = update_one(c, ST_ROOM_UPDATE, &p);
    if (err == 0)
        err = get_by_id(c, ST_ROOM_GET, id, emit_room, false, meta, json);
    return commit_emitted(c, &p, err, json, start);
}

static int pg_room_delete(struct hb_store_conn *conn, int64_t id, struct hb_store_meta *meta)
{
    pg_conn *c = pgc(conn);
    int err = begin_write(c);
    if (err == 0)
        err = get_by_id(c, ST_ROOM_GET, id, emit_room, false, meta, NULL);
    if (err == 0)
        err = run_by(c, ST_ROOM_DELETE_LOGS, id, NULL);
    if (err == 0)
        err = run_by(c, ST_ROOM_DELETE, id, NULL);
    if (err == 0)
        err = commit(c);
    return end_op(c, NULL, err);
}

/* Runs a presence statement on (instance, room); *n_changed gets the rows it changed. */
static int run_presence(pg_conn *c, enum stmt_id id, struct hb_str instance, int64_t room,
                        int64_t *n_changed)
{
    struct params p;
    PGresult *res = NULL;
    p_init(&p);
    p_str(&p, instance);
    p_i64(&p, room);
    int err = run(c, id, &p, &res);
    if (err == 0 && n_changed != NULL)
        *n_changed = affected(res);
    PQclear(res);
    p_release(&p);
    return err;
}

/* A leave takes a seat only if this instance holds one in the room: the late leave of an
 * instance already reaped as dead must not take someone else's. The presence row is written
 * before the room row (the lock order of instance_beat too). */
static int pg_room_move_headcount(struct hb_store_conn *conn, int64_t id, int delta,
                                  struct hb_str instance, int64_t *headcount)
{
    pg_conn *c = pgc(conn);
    PGresult *res = NULL;
    int64_t n_taken = 1;
    int err = begin_write(c);
    if (err == 0)
        err =
            run_presence(c, delta > 0 ? ST_PRESENCE_ADD : ST_PRESENCE_TAKE, instance, id, &n_taken);
    if (err == 0) {
        enum stmt_id st = n_taken == 0 ? ST_ROOM_HEADCOUNT
                          : delta > 0  ? ST_ROOM_JOIN
                                       : ST_ROOM_LEAVE;
        err = run_by(c, st, id, &res);
        if (err == 0 && PQntuples(res) == 0)
            err = HB_ENOTFOUND;
        if (err == 0 && headcount != NULL)
            *headcount = v_i64(res, 0, 0);
        PQclear(res);
    }
    if (err == 0 && delta < 0)
        err = run_presence(c, ST_PRESENCE_PRUNE, instance, id, NULL);
    if (err == 0)
        err = commit(c);
    return end_op(c, NULL, err);
}

static int pg_room_reset_headcounts(struct hb_store_conn *conn)
{
    pg_conn *c = pgc(conn);
    int err = begin_write(c);
    if (err == 0)
        err = run(c, ST_PRESENCE_RESET, NULL, NULL);
    if (err == 0)
        err = run(c, ST_ROOM_RESET, NULL, NULL);
    if (err == 0)
        err = run(c, ST_INSTANCE_RESET, NULL, NULL);
    if (err == 0)
        err = commit(c);
    return end_op(c, NULL, err);
}

static int pg_instance_beat(struct hb_store_conn *conn, struct hb_str instance, int64_t now_us,
                            int64_t stale_before_us, int64_t *n_reaped)
{
    /* Two instances reaping the same dead one: the second's DELETE waits for the first's row
     * lock on hiroba_instance, then finds the row gone and gives nothing back twice. */
    pg_conn *c = pgc(conn);
    struct params p;
    PGresult *res = NULL;
    p_init(&p);
    p_str(&p, instance);
    p_time(&p, now_us);
    int err = p.err < 0 ? p.err : begin_write(c);
    if (err == 0)
        err = run(c, ST_INSTANCE_BEAT, &p, NULL);
    if (err == 0) {
        p_release(&p);
        p_str(&p, instance);
        p_time(&p, stale_before_us < HB_STORE_TIME_MIN_US   ? HB_STORE_TIME_MIN_US
                   : stale_before_us > HB_STORE_TIME_MAX_US ? HB_STORE_TIME_MAX_US
                                                            : stale_before_us);
        err = run(c, ST_INSTANCE_REAP, &p, &res);
        if (err == 0 && n_reaped != NULL)
            *n_reaped = PQntuples(res) == 1 ? v_i64(res, 0, 0) : 0;
        PQclear(res);
    }
    if (err == 0)
        err = commit(c);
    return end_op(c, &p, err);
}

static int pg_instance_leave(struct hb_store_conn *conn, struct hb_str instance)
{
    pg_conn *c = pgc(conn);
    struct params p;
    p_init(&p);
    p_str(&p, instance);
    int err = p.err < 0 ? p.err : begin_write(c);
    if (err == 0)
        err = run(c, ST_INSTANCE_LEAVE, &p, NULL);
    if (err == 0)
        err = commit(c);
    return end_op(c, &p, err);
}

/* ---- Chat logs ---- */

static int pg_chatlog_list(struct hb_store_conn *conn, int64_t room_id, int64_t after_id,
                           struct hb_store_page *page, struct hb_buf *json)
{
    pg_conn *c = pgc(conn);
    struct params p;
    p_init(&p);
    p_i64(&p, room_id);
    p_i64(&p, after_id);
    int err = list(c, fixed(ST_LOG_LIST), fixed(ST_LOG_COUNT), &p, page, emit_chatlog, false, json);
    return end_op(c, &p, err);
}

static int pg_chatlog_each(struct hb_store_conn *conn, int64_t room_id, int64_t after_id,
                           int64_t limit, hb_store_chatlog_cb *cb, void *ctx)
{
    pg_conn *c = pgc(conn);
    struct params p;
    PGresult *res = NULL;
    int n = 0;
    p_init(&p);
    p_i64(&p, room_id);
    p_i64(&p, after_id);
    p_i64(&p, limit);
    p_i64(&p, 0);
    int err = run(c, ST_LOG_LIST, &p, &res);
    for (int i = 0; err == 0 && i < PQntuples(res); i++) {
        struct hb_store_chatlog row;
        decode_chatlog(res, i, &row);
        err = cb(ctx, &row);
        if (err > 0)
            err = 0;
        if (err == 0 && n < INT_MAX)
            n++;
    }
    PQclear(res);
    return end_op(c, &p, err < 0 ? err : n);
}

static int last_log_id(pg_conn *c, int64_t room_id, int64_t *id)
{
    PGresult *res;
    int err = run_by(c, ST_LOG_LAST, room_id, &res);
    if (err == 0)
        *id = PQntuples(res) == 1 ? v_i64(res, 0, 0) : 0;
    PQclear(res);
    return err;
}

static int pg_chatlog_last(struct hb_store_conn *conn, int64_t room_id, int64_t *id)
{
    pg_conn *c = pgc(conn);
    return end_op(c, NULL, last_log_id(c, room_id, id));
}

static int pg_chatlog_create(struct hb_store_conn *conn, int64_t room_id, struct hb_str message,
                             int64_t author_id, int64_t *id, int64_t *created_us, int64_t *prev_id)
{
    /* The room's row lock serialises its inserts across every connection and instance, so ids
     * commit in increasing order per room and the last id read here is the previous message. A
     * room deleted meanwhile is HB_ECONFLICT, from the lock query or the deferred foreign key
     * at COMMIT. */
    pg_conn *c = pgc(conn);
    int64_t now = hb_clock_unix_us(), prev = 0, new_id = 0;
    struct params p;
    p_init(&p);
    p_time(&p, now);
    p_str(&p, message);
    p_i64(&p, room_id);
    p_opt_id(&p, author_id);
    int err = p.err < 0 ? p.err : begin_write(c);
    if (err == 0) {
        err = exists_by_id(c, ST_ROOM_LOCK, room_id);
        if (err == HB_ENOTFOUND)
            err = HB_ECONFLICT;
    }
    if (err == 0)
        err = last_log_id(c, room_id, &prev);
    if (err == 0)
        err = insert_id(c, ST_LOG_INSERT, &p, &new_id);
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
    return end_op(c, &p, err);
}

/* A room of a chat batch: whether its row is locked (it exists) and its last message id so far. */
struct batch_room {
    int64_t id;
    bool is_locked, has_last;
    int64_t last;
};

static int cmp_room(const void *a, const void *b)
{
    int64_t x = ((const struct batch_room *)a)->id, y = ((const struct batch_room *)b)->id;
    return (x > y) - (x < y);
}

static struct batch_room *find_room(struct batch_room *rooms, size_t n, int64_t id)
{
    struct batch_room key = {.id = id};
    return bsearch(&key, rooms, n, sizeof(*rooms), cmp_room);
}

/* Locks the rows of rooms[0..n) (sorted, distinct) with one SELECT ... ORDER BY id FOR UPDATE:
 * LockRows sits above the sort, so the rows are locked in ascending id order. A room that is gone
 * stays unlocked. */
static int lock_rooms(pg_conn *c, struct batch_room *rooms, size_t n)
{
    struct hb_buf *buf = &c->scratch;
    hb_buf_reset(buf);
    int err = hb_buf_append_char(buf, '{');
    for (size_t i = 0; err == 0 && i < n; i++)
        err = hb_buf_printf(buf, "%s%lld", i > 0 ? "," : "", (long long)rooms[i].id);
    if (err == 0)
        err = hb_buf_append(buf, "}", 2); /* with the NUL libpq reads up to */
    if (err < 0)
        return err == HB_ETOOLARGE ? HB_EINVAL : err;
    struct params p;
    PGresult *res = NULL;
    p_init(&p);
    p_lit(&p, buf->data);
    err = run(c, ST_ROOMS_LOCK, &p, &res);
    for (int i = 0; err == 0 && i < PQntuples(res); i++) {
        struct batch_room *room = find_room(rooms, n, v_i64(res, i, 0));
        if (room != NULL)
            room->is_locked = true;
    }
    PQclear(res);
    return err;
}

/* Whether PostgreSQL would refuse the message itself (a NUL byte, more than the column's 200
 * characters): such a message fails alone, before it could abort the batch's transaction. */
static bool message_fits(struct hb_str message)
{
    return memchr(message.ptr, '\0', message.len) == NULL && hb_store__utf8_len(message) <= 200;
}

/* One attempt at the batch: BEGIN, lock every distinct room in ascending id order, then in one
 * round trip (pipelined) each locked room's last message id, the insert of each message whose
 * out[i].rc is still 0, and COMMIT. *bad gets the index of a message PostgreSQL refused as a
 * value (HB_EINVAL; the transaction is then lost and the caller runs the batch again without
 * it), else n. */
static int store_batch(pg_conn *c, const struct hb_store_chat_input *in, size_t n,
                       struct hb_store_chat_result *out, struct batch_room *rooms, size_t n_rooms,
                       int64_t now, size_t *bad)
{
    *bad = n;
    for (size_t r = 0; r < n_rooms; r++)
        rooms[r].is_locked = rooms[r].has_last = false;
    int err = begin_write(c);
    if (err == 0)
        err = lock_rooms(c, rooms, n_rooms);
    if (err < 0)
        return end_op(c, NULL, err);
    size_t n_steps = n_rooms + n + 1;
    struct pipe_step *steps = hb_xcalloc(n_steps, sizeof(*steps));
    struct params *ps = hb_xcalloc(n_rooms + n, sizeof(*ps));
    size_t *step_of = hb_xcalloc(n, sizeof(*step_of)); /* a message's insert step, or 0 */
    int k = 0;
    for (size_t r = 0; r < n_rooms; r++) {
        if (!rooms[r].is_locked)
            continue;
        p_i64(&ps[k], rooms[r].id);
        steps[k] = (struct pipe_step){fixed(ST_LOG_LAST), ps[k].n, ps[k].v, NULL};
        k++;
    }
    for (size_t i = 0; i < n; i++) {
        if (out[i].rc < 0 && out[i].rc != HB_ECONFLICT)
            continue;
        struct batch_room *room = find_room(rooms, n_rooms, in[i].room_id);
        out[i].rc = room->is_locked ? 0 : HB_ECONFLICT;
        if (out[i].rc < 0)
            continue;
        struct params *p = &ps[k];
        p_time(p, now);
        p_str(p, in[i].message);
        p_i64(p, in[i].room_id);
        p_opt_id(p, in[i].author_id);
        steps[k] = (struct pipe_step){fixed(ST_LOG_INSERT), p->n, p->v, NULL};
        step_of[i] = (size_t)k++;
    }
    steps[k++] = (struct pipe_step){fixed(ST_COMMIT), 0, NULL, NULL};
    int failed;
    err = pipeline(c, steps, k, false, &failed);
    c->in_tx = false; /* committed, or rolled back by the pipeline */
    for (size_t i = 0; err == HB_EINVAL && i < n; i++) {
        if (out[i].rc == 0 && step_of[i] == (size_t)failed && failed > 0)
            *bad = i;
    }
    if (err == 0) {
        int s = 0;
        for (size_t r = 0; r < n_rooms; r++) {
            if (rooms[r].is_locked)
                rooms[r].last = v_i64(steps[s++].res, 0, 0);
        }
        for (size_t i = 0; i < n; i++) {
            if (out[i].rc < 0)
                continue;
            struct batch_room *room = find_room(rooms, n_rooms, in[i].room_id);
            int64_t new_id = v_i64(steps[step_of[i]].res, 0, 0);
            out[i] = (struct hb_store_chat_result){
                .id = new_id, .created_us = now, .prev_id = room->last};
            room->last = new_id;
        }
        pipe_clear(steps, k);
    }
    for (size_t i = 0; i < n_rooms + n; i++)
        p_release(&ps[i]);
    free(step_of);
    free(ps);
    free(steps);
    return end_op(c, NULL, err);
}

/* Group commit: the batch in one transaction (see store_batch). Every room row is locked before
 * the first insert and in ascending id order; the single-message path locks one room row and the
 * headcount statements lock presence rows first and several rooms in ascending order too, so no
 * two writers can wait on each other in a cycle. A room found gone fails its messages alone
 * (HB_ECONFLICT); as the lock is held to COMMIT, the deferred foreign key cannot fail there. */
static int pg_chatlog_create_many(struct hb_store_conn *conn, const struct hb_store_chat_input *in,
                                  size_t n, struct hb_store_chat_result *out)
{
    pg_conn *c = pgc(conn);
    struct batch_room *rooms = hb_xmalloc(n * sizeof(*rooms));
    for (size_t i = 0; i < n; i++)
        rooms[i] = (struct batch_room){.id = in[i].room_id};
    qsort(rooms, n, sizeof(*rooms), cmp_room);
    size_t n_rooms = 0;
    for (size_t i = 0; i < n; i++) {
        if (n_rooms == 0 || rooms[n_rooms - 1].id != rooms[i].id)
            rooms[n_rooms++] = rooms[i];
    }
    size_t n_left = 0;
    for (size_t i = 0; i < n; i++) {
        out[i] = (struct hb_store_chat_result){.rc = message_fits(in[i].message) ? 0 : HB_EINVAL};
        n_left += out[i].rc == 0;
    }
    int64_t now = hb_clock_unix_us();
    int err = 0;
    size_t bad = n;
    /* A message refused anyway (say, invalid UTF-8) aborts the transaction: it fails alone and
     * the rest runs again; nothing was committed, so nothing is stored twice. */
    while (n_left > 0) {
        err = store_batch(c, in, n, out, rooms, n_rooms, now, &bad);
        if (err != HB_EINVAL || bad == n)
            break;
        out[bad].rc = HB_EINVAL;
        n_left--;
        for (size_t i = 0; i < n; i++) {
            if (out[i].rc == 0 || out[i].rc == HB_ECONFLICT)
                out[i] = (struct hb_store_chat_result){0};
        }
    }
    free(rooms);
    if (err < 0) {
        for (size_t i = 0; i < n; i++)
            out[i].rc = err;
    }
    return err < 0 ? err : 0;
}

const struct hb_store_ops hb_store__pg_ops = {
    .name = "postgres",
    .open = pg_open,
    .close = pg_close,
    .conn_open = pg_conn_open,
    .conn_close = pg_conn_close,
    .migrate = pg_migrate,
    .ping = pg_ping,
    .user_create = pg_user_create,
    .user_get_by_username = pg_user_get_by_username,
    .user_get = pg_user_get,
    .user_set_password = pg_user_set_password,
    .user_set_last_login = pg_user_set_last_login,
    .user_set_active = pg_user_set_active,
    .token_record = pg_token_record,
    .token_is_blacklisted = pg_token_is_blacklisted,
    .token_rotate = pg_token_rotate,
    .token_purge = pg_token_purge,
    .throttle_record = pg_throttle_record,
    .throttle_count = pg_throttle_count,
    .throttle_clear = pg_throttle_clear,
    .throttle_purge = pg_throttle_purge,
    .category_list = pg_category_list,
    .category_get = pg_category_get,
    .category_create = pg_category_create,
    .category_update = pg_category_update,
    .category_delete = pg_category_delete,
    .topic_list = pg_topic_list,
    .post_get = pg_post_get,
    .post_create = pg_post_create,
    .post_update = pg_post_update,
    .post_delete = pg_post_delete,
    .reply_list = pg_reply_list,
    .room_list = pg_room_list,
    .room_get = pg_room_get,
    .room_create = pg_room_create,
    .room_update = pg_room_update,
    .room_delete = pg_room_delete,
    .room_move_headcount = pg_room_move_headcount,
    .room_reset_headcounts = pg_room_reset_headcounts,
    .instance_beat = pg_instance_beat,
    .instance_leave = pg_instance_leave,
    .chatlog_list = pg_chatlog_list,
    .chatlog_each = pg_chatlog_each,
    .chatlog_last = pg_chatlog_last,
    .chatlog_create_many = pg_chatlog_create_many,
    .chatlog_create = pg_chatlog_create,
    .event_clock_read = pg_event_clock_read,
};
