/* SPDX-License-Identifier: MIT */
/* The storage interface (store layer): the one view of the database the application has. Users,
 * tokens, login throttling, categories, topics, replies, rooms and chat logs, on Django's schema
 * (API.md §9). Backends sit behind a vtable (store_backend.h); nothing above src/store/ sees
 * sqlite3.h or libpq-fe.h.
 *
 * Threading. A struct hb_store is the database; a struct hb_store_conn is one connection to it,
 * and every operation is a plain synchronous call on a connection. The caller picks the thread:
 *   - Readers: each worker opens its own with hb_store_reader_open() and calls read operations on
 *     its event loop. SQLite reads in WAL mode never wait for writers, so they are short and
 *     bounded. A reader refuses write operations with HB_EPERM.
 *   - The writer: one connection per store, hb_store_writer(), for every write (and any read that
 *     must see the writer's own transaction). Writes may wait for SQLite's write lock (another
 *     process such as Django, a checkpoint), so they run on the thread pool, never on a loop.
 * A call on a NULL connection fails with HB_EDB (no connection could be had).
 * Every call locks its connection's mutex for its whole duration, so the writer may be used from
 * any number of pool threads at once: they queue on the mutex, which hands over faster and more
 * fairly than SQLite's sleeping busy handler, keeps one prepared-statement cache warm, and lets
 * a multi-statement write (a cascade, a token rotation) run as one BEGIN IMMEDIATE transaction.
 * SQLite allows one writer at a time anyway, so a pool of writer connections would only trade
 * the mutex for busy-waiting. busy_timeout still covers other processes sharing the file.
 * PostgreSQL takes concurrent writers (its row locks order what must be ordered), so there
 * hb_store_writer() gives each calling thread a writer connection of its own, opened on first
 * use and closed by hb_store_destroy().
 * A reader's mutex is uncontended (one worker) and costs a few nanoseconds.
 *
 * Errors: 0 on success, or a negative code: HB_ENOTFOUND (no such row, or page), HB_EEXIST
 * (a unique value is taken), HB_ECONFLICT (the parent row a new or updated row points to does
 * not exist), HB_EINVAL (bad argument: NULL where a value is required, a string too long for its
 * column's contract), HB_EPERM (a write on a reader), HB_EBUSY (the database stayed locked past
 * the busy timeout), HB_ETOOLARGE (the output buffer's cap), HB_EDB (anything else; the store
 * logs the backend's message). No call crashes on bad input.
 *
 * Output: list, get, create and update calls append compact UTF-8 JSON to a caller's hb_buf,
 * written straight from the result rows with the key orders of API.md §2.5 and created_at in the
 * display format (store_time.h). On failure the buffer is left as it was. An object always
 * starts with {"id": so a caller can splice keys in front of it (the /ws/bbs/ event frames). */
#ifndef HB_STORE_STORE_H
#define HB_STORE_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/str.h"
#include "store/store_time.h"

struct hb_store;
struct hb_store_conn;

/* ---- Opening and connections ---- */

struct hb_store_options {
    bool is_durable;     /* SQLite synchronous=FULL instead of NORMAL (--durable) */
    int busy_timeout_ms; /* how long a call waits for a lock held by another connection; 0: 5000 */
    int fiber_conns;     /* PostgreSQL: connections per worker thread for fibers; 0: 8, max 64 */
};

/* Opens the database named by url and its writer connection. URLs: "sqlite:///relative/path",
 * "sqlite:////absolute/path" (Django's dj-database-url convention; a relative path is resolved
 * against the working directory now), "sqlite:///:memory:" (one private database: readers share
 * the writer connection). The file is created if missing; the schema is not touched until
 * hb_store_migrate(). opts may be NULL for the defaults. Returns 0 and the store in *out, or
 * HB_EINVAL (unknown scheme, empty path) or HB_EDB (cannot open; logged with the path). */
int hb_store_open(const char *url, const struct hb_store_options *opts, struct hb_store **out);

/* Closes the writer and frees the store. Every reader must have been closed. NULL is a no-op. */
void hb_store_destroy(struct hb_store *store);

/* "sqlite" or "postgres". Static string. */
const char *hb_store_backend_name(const struct hb_store *store);

/* Creates what is missing of the schema (API.md §9): Django's tables with Django's DDL and index
 * names, hiroba's author_id columns, hiroba_migrations, hiroba_topic_fts with its triggers (the
 * index is rebuilt when a trigger was missing) and hiroba_login_failure. Writes nothing to
 * django_migrations and never changes Django's columns. Idempotent: when nothing is missing it
 * changes nothing. Runs on the writer in one transaction; call it at startup, before workers
 * open readers (it is cheap when there is nothing to do). */
int hb_store_migrate(struct hb_store *store);

/* The shared writer connection. Borrowed: valid until hb_store_destroy(). Thread-safe. */
struct hb_store_conn *hb_store_writer(struct hb_store *store);

/* Inside a fiber on a worker thread (core/fiber.h, PostgreSQL), hb_store_writer() gives the
 * fiber's own connection instead: taken from the thread's pool at its first call (parking the
 * fiber while all hb_store_options.fiber_conns are taken), held to the fiber's end, and NULL
 * (every call then fails with HB_EDB) when the database cannot be reached. Its calls park the
 * fiber while they wait for the server. hb_store_thread_release() closes the thread's idle
 * ones when the worker stops. */
void hb_store_thread_release(struct hb_store *store);

/* Opens a read-only connection for one worker thread (query_only). For a :memory: database it
 * returns the writer instead. Returns 0 or HB_EDB. */
int hb_store_reader_open(struct hb_store *store, struct hb_store_conn **out);

/* Closes a reader from hb_store_reader_open(). NULL and the writer are no-ops. */
void hb_store_reader_close(struct hb_store_conn *conn);

/* Readiness probe: a trivial query (SELECT 1). Returns 0 or an error. */
int hb_store_ping(struct hb_store_conn *conn);

/* Fault injection for tests of the layers above: the nth operation from now (1 = the next one)
 * on any connection of the store fails with err instead of running; nth <= 0 disarms. */
void hb_store_inject_fault(struct hb_store *store, long nth, int err);

/* ---- Users (auth_user) ---- */

/* Sizes of the fixed buffers in struct hb_store_user, NUL excluded: the column's code-point limit
 * times 4 bytes of UTF-8, and room for any real password hash. */
#define HB_STORE_USERNAME_MAX 600
#define HB_STORE_EMAIL_MAX    1016
#define HB_STORE_PASSWORD_MAX 511

struct hb_store_user {
    int64_t id;
    bool is_active, is_staff, is_superuser;
    char username[HB_STORE_USERNAME_MAX + 1];
    char email[HB_STORE_EMAIL_MAX + 1];
    /* The stored hash, or "" when the stored text does not fit (it then never verifies). */
    char password[HB_STORE_PASSWORD_MAX + 1];
};

struct hb_store_user_input {
    struct hb_str username; /* ≤ HB_STORE_USERNAME_MAX bytes */
    struct hb_str password; /* the hash text, ≤ HB_STORE_PASSWORD_MAX bytes */
    struct hb_str email;    /* may be empty (ptr NULL counts as empty) */
    bool is_staff, is_superuser;
};

/* Inserts an active user with empty first and last names, last_login NULL and date_joined now.
 * Returns 0 and the new id, HB_EEXIST when the username is taken, or HB_EINVAL. */
int hb_store_user_create(struct hb_store_conn *conn, const struct hb_store_user_input *in,
                         int64_t *id);

/* Finds a user by exact (case-sensitive) username. Returns 0 or HB_ENOTFOUND. */
int hb_store_user_get_by_username(struct hb_store_conn *conn, struct hb_str username,
                                  struct hb_store_user *out);

/* Finds a user by id. Returns 0 or HB_ENOTFOUND. */
int hb_store_user_get(struct hb_store_conn *conn, int64_t id, struct hb_store_user *out);

/* Replaces the password hash. Returns 0, HB_ENOTFOUND or HB_EINVAL. */
int hb_store_user_set_password(struct hb_store_conn *conn, int64_t id, struct hb_str hash);

/* Sets last_login. Returns 0 or HB_ENOTFOUND. */
int hb_store_user_set_last_login(struct hb_store_conn *conn, int64_t id, int64_t at_us);

/* Sets is_active. Returns 0 or HB_ENOTFOUND. */
int hb_store_user_set_active(struct hb_store_conn *conn, int64_t id, bool is_active);

/* ---- Tokens (token_blacklist_*, API.md §9, §10) ---- */

/* A refresh token's identity. jti is 1 to 255 bytes. user_id 0, or an id with no user, is
 * stored as NULL. The token text itself is never stored (the column gets ''). */
struct hb_store_token {
    struct hb_str jti;
    int64_t user_id;
    int64_t created_us; /* iat */
    int64_t expires_us; /* exp */
};

/* Records an outstanding token (at login). Returns 0, HB_EEXIST (jti known) or HB_EINVAL. */
int hb_store_token_record(struct hb_store_conn *conn, const struct hb_store_token *tok);

/* Blacklists tok in one transaction: inserts its outstanding row if missing, then the
 * blacklisted row stamped now_us. Returns 0, or HB_EEXIST when it was already blacklisted. */
int hb_store_token_blacklist(struct hb_store_conn *conn, const struct hb_store_token *tok,
                             int64_t now_us);

/* Sets *out to whether jti is blacklisted. Returns 0 or an error. */
int hb_store_token_is_blacklisted(struct hb_store_conn *conn, struct hb_str jti, bool *out);

/* Refresh rotation in one transaction: blacklists old (as above) and, when new_tok is not NULL,
 * records it as outstanding. Of two concurrent rotations of one token exactly one returns 0; the
 * other gets HB_EEXIST ("Token is blacklisted") and changes nothing. API.md §9 records a rotated
 * token only when it is itself blacklisted, which is new_tok == NULL. */
int hb_store_token_rotate(struct hb_store_conn *conn, const struct hb_store_token *old,
                          const struct hb_store_token *new_tok, int64_t now_us);

/* Deletes outstanding tokens whose expires_at is before now_us, with their blacklist rows.
 * Stores the number of outstanding rows deleted in *n_deleted (may be NULL). */
int hb_store_token_purge(struct hb_store_conn *conn, int64_t now_us, int64_t *n_deleted);

/* ---- Login throttling (hiroba_login_failure, API.md §7.5) ---- */

enum hb_store_throttle_scope { HB_STORE_THROTTLE_ACCOUNT, HB_STORE_THROTTLE_IP };

/* Records one failed login for (scope, key) at at_us. key is 1 to 4096 bytes. */
int hb_store_throttle_record(struct hb_store_conn *conn, enum hb_store_throttle_scope scope,
                             struct hb_str key, int64_t at_us);

/* Counts the failures of (scope, key) strictly after since_us (now minus the window) into *n, and
 * stores the oldest of them in *oldest_us (HB_STORE_TIME_NONE when *n is 0). */
int hb_store_throttle_count(struct hb_store_conn *conn, enum hb_store_throttle_scope scope,
                            struct hb_str key, int64_t since_us, int64_t *n, int64_t *oldest_us);

/* Forgets every failure of (scope, key) (a successful login clears its account key). */
int hb_store_throttle_clear(struct hb_store_conn *conn, enum hb_store_throttle_scope scope,
                            struct hb_str key);

/* Deletes failures at or before before_us, in every scope. */
int hb_store_throttle_purge(struct hb_store_conn *conn, int64_t before_us);

/* ---- Common types for the BBS and chat resources ---- */

/* Pagination (API.md §7.2). Pass NULL for a plain list. */
struct hb_store_page {
    int64_t size;   /* in: rows per page, ≥ 1 */
    int64_t number; /* in: 1-based page, or HB_STORE_PAGE_LAST; out: the page written */
    int64_t count;  /* out: rows in the whole filtered list */
};
#define HB_STORE_PAGE_LAST (-1)

/* What a caller needs of a row beyond its JSON: ownership and scoping checks, event frames. */
struct hb_store_meta {
    int64_t id;
    int64_t parent_id; /* topic: its category; reply: its topic; chat log: its room; else 0 */
    int64_t author_id; /* 0 when no author is recorded */
};

/* A list call appends one JSON array. With a page it writes only that page's rows and fills
 * page->count; a page number beyond the last (page 1 always exists) or below 1 gives
 * HB_ENOTFOUND. The count and the rows come from one snapshot. A get/create/update call fills
 * meta and appends the object when meta and json are not NULL (either may be NULL).
 * Creates stamp created_at now unless a time is given, and record author_id (0: none). */

/* ---- Categories (bbs_category) ---- */

/* Category: {"id","name","author"}, ascending id. */
int hb_store_category_list(struct hb_store_conn *conn, struct hb_store_page *page,
                           struct hb_buf *json);
int hb_store_category_get(struct hb_store_conn *conn, int64_t id, struct hb_store_meta *meta,
                          struct hb_buf *json);
int hb_store_category_create(struct hb_store_conn *conn, struct hb_str name, int64_t author_id,
                             struct hb_store_meta *meta, struct hb_buf *json);
/* Renames. HB_ENOTFOUND when the category is gone. */
int hb_store_category_update(struct hb_store_conn *conn, int64_t id, struct hb_str name,
                             struct hb_store_meta *meta, struct hb_buf *json);
/* Deletes the category's topics' replies, its topics, then it, in one transaction. When
 * deleted_topic_ids is not NULL, the deleted topics' ids are appended to it as raw int64_t values
 * in ascending order (for topic.deleted events). HB_ENOTFOUND when the category is gone. */
int hb_store_category_delete(struct hb_store_conn *conn, int64_t id,
                             struct hb_buf *deleted_topic_ids);

/* ---- Topics and replies (bbs_topic, bbs_reply) ---- */

/* Topic and reply input. On update a field left at its "unchanged" value keeps the stored one. */
struct hb_store_post_input {
    int64_t parent_id;     /* topic: category id; reply: topic id; 0 = unchanged (update) */
    struct hb_str comment; /* ptr NULL = unchanged (update) */
    int64_t created_us;    /* HB_STORE_TIME_NONE = now (create) / unchanged (update) */
    int64_t author_id;     /* create only; 0 = none */
};

/* Topic list order (API.md §7.3); every order ends with ascending id unless it says otherwise. */
enum hb_store_topic_order {
    HB_STORE_ORDER_ID,                       /* id */
    HB_STORE_ORDER_ID_DESC,                  /* -id */
    HB_STORE_ORDER_CREATED,                  /* created_at, id */
    HB_STORE_ORDER_CREATED_DESC,             /* -created_at, id */
    HB_STORE_ORDER_CREATED_THEN_ID_DESC,     /* created_at, -id */
    HB_STORE_ORDER_CREATED_DESC_THEN_ID_DESC /* -created_at, -id */
};

/* Parses ?ordering= (comma-separated id, -id, created_at, -created_at; unknown terms ignored,
 * none valid means id). */
enum hb_store_topic_order hb_store_topic_order_parse(struct hb_str ordering);

struct hb_store_topic_query {
    int64_t category_id; /* 0 = every category */
    /* ?search= as given: terms split on whitespace (U+3000 included) and commas, a double-quoted
     * phrase kept whole; a topic matches when its comment contains every term (ASCII
     * case-insensitively; FTS5 trigram for terms of 3+ code points, a scan for shorter ones).
     * Empty: no filter. */
    struct hb_str search;
    enum hb_store_topic_order order;
};

/* Topic: {"id","category","created_at","comment","author"}. */
int hb_store_topic_list(struct hb_store_conn *conn, const struct hb_store_topic_query *query,
                        struct hb_store_page *page, struct hb_buf *json);
int hb_store_topic_get(struct hb_store_conn *conn, int64_t id, struct hb_store_meta *meta,
                       struct hb_buf *json);
/* HB_ECONFLICT when the category does not exist. */
int hb_store_topic_create(struct hb_store_conn *conn, const struct hb_store_post_input *in,
                          struct hb_store_meta *meta, struct hb_buf *json);
/* Partial update. HB_ENOTFOUND when the topic is gone, HB_ECONFLICT for a missing category. */
int hb_store_topic_update(struct hb_store_conn *conn, int64_t id,
                          const struct hb_store_post_input *in, struct hb_store_meta *meta,
                          struct hb_buf *json);
/* Deletes the topic's replies, then it, in one transaction; meta (may be NULL) gets the deleted
 * row's. HB_ENOTFOUND when the topic is gone. */
int hb_store_topic_delete(struct hb_store_conn *conn, int64_t id, struct hb_store_meta *meta);

/* Reply: {"id","topic","created_at","comment","author"}. Lists the replies of topic_id (0: of
 * every topic) with id > after_id (0: all), ascending id; an unknown topic gives []. */
int hb_store_reply_list(struct hb_store_conn *conn, int64_t topic_id, int64_t after_id,
                        struct hb_store_page *page, struct hb_buf *json);
int hb_store_reply_get(struct hb_store_conn *conn, int64_t id, struct hb_store_meta *meta,
                       struct hb_buf *json);
/* HB_ECONFLICT when the topic does not exist. */
int hb_store_reply_create(struct hb_store_conn *conn, const struct hb_store_post_input *in,
                          struct hb_store_meta *meta, struct hb_buf *json);
int hb_store_reply_update(struct hb_store_conn *conn, int64_t id,
                          const struct hb_store_post_input *in, struct hb_store_meta *meta,
                          struct hb_buf *json);
int hb_store_reply_delete(struct hb_store_conn *conn, int64_t id, struct hb_store_meta *meta);

/* ---- Rooms (chat_room) ---- */

struct hb_store_room_input {
    struct hb_str name; /* ptr NULL = unchanged (update); required on create */
    int64_t headcount;  /* 0 to 2147483647; -1 = 0 (create) / unchanged (update) */
    int64_t created_us; /* HB_STORE_TIME_NONE = now (create) / unchanged (update) */
    int64_t author_id;  /* create only; 0 = none */
};

/* Room: {"id","created_at","name","headcount","author"}, ascending id. */
int hb_store_room_list(struct hb_store_conn *conn, struct hb_store_page *page, struct hb_buf *json);
int hb_store_room_get(struct hb_store_conn *conn, int64_t id, struct hb_store_meta *meta,
                      struct hb_buf *json);
/* HB_EEXIST when the name is taken (case-sensitive). */
int hb_store_room_create(struct hb_store_conn *conn, const struct hb_store_room_input *in,
                         struct hb_store_meta *meta, struct hb_buf *json);
/* HB_ENOTFOUND when the room is gone, HB_EEXIST when another room has the name. */
int hb_store_room_update(struct hb_store_conn *conn, int64_t id,
                         const struct hb_store_room_input *in, struct hb_store_meta *meta,
                         struct hb_buf *json);
/* Deletes the room's chat logs, then it, in one transaction. */
int hb_store_room_delete(struct hb_store_conn *conn, int64_t id, struct hb_store_meta *meta);

/* Atomically adds one to / takes one from headcount (never below 0, never above 2147483647) and
 * stores the new value in *headcount (may be NULL). HB_ENOTFOUND when the room is gone. The same
 * transaction moves the instance's own count of the room's sockets (hiroba_presence), so the
 * seats of an instance that dies can be given back by the others (hb_store_instance_beat). */
int hb_store_room_join(struct hb_store_conn *conn, int64_t id, struct hb_str instance,
                       int64_t *headcount);
int hb_store_room_leave(struct hb_store_conn *conn, int64_t id, struct hb_str instance,
                        int64_t *headcount);

/* Sets every room's headcount to 0 and forgets every instance and its presence rows
 * (single-instance startup, API.md §6.3). */
int hb_store_room_reset_headcounts(struct hb_store_conn *conn);

/* The longest instance id (hiroba_instance.id is varchar(64)). */
#define HB_STORE_INSTANCE_MAX 64

/* Records that instance is alive at now_us (hiroba_instance.beat_at), then repairs headcount for
 * every other instance whose last beat is older than stale_before_us: its presence counts are
 * taken from chat_room.headcount (never below 0) and its rows deleted, in one transaction. Stores
 * the number of instances so reaped in *n_reaped (may be NULL). */
int hb_store_instance_beat(struct hb_store_conn *conn, struct hb_str instance, int64_t now_us,
                           int64_t stale_before_us, int64_t *n_reaped);

/* Gives back every seat instance holds and forgets it (a clean shutdown). */
int hb_store_instance_leave(struct hb_store_conn *conn, struct hb_str instance);

/* ---- Chat logs (chat_chatlog) ---- */

/* One chat log row as the store reads it. Strings are borrowed. */
struct hb_store_chatlog {
    int64_t id;
    int64_t room_id;
    int64_t created_us;
    struct hb_str message;
    int64_t author_id;             /* 0: none recorded, or the account is gone */
    struct hb_str author_username; /* empty when author_id is 0 */
};

enum hb_store_chat_format {
    HB_STORE_CHAT_REST, /* {"id","created_at","message","room","author"} (API.md §2.5) */
    HB_STORE_CHAT_SEED, /* {"id","message","created_at"} (API.md §6.5 seed frame) */
    HB_STORE_CHAT_V1    /* {"type":"message","id","message","created_at","room","author"} */
};

/* Appends row as one JSON object in the given format. Returns 0 or HB_ETOOLARGE (buffer left as
 * it was). Pure formatting: no connection needed, so live fan-out and replay share it. */
int hb_store_chatlog_write_json(struct hb_buf *json, enum hb_store_chat_format format,
                                const struct hb_store_chatlog *row);

/* Lists the room's chat logs with id > after_id (0: all), ascending id, in the REST format. An
 * unknown room gives []. */
int hb_store_chatlog_list(struct hb_store_conn *conn, int64_t room_id, int64_t after_id,
                          struct hb_store_page *page, struct hb_buf *json);

/* Called once per row by hb_store_chatlog_each(). The row is valid during the call only. Return 0
 * to go on, or a negative code to stop (it becomes the result). It runs with the connection
 * locked: it must not call the store on the same connection. */
typedef int hb_store_chatlog_cb(void *ctx, const struct hb_store_chatlog *row);

/* Calls cb for at most limit (≥ 1) chat logs of the room with id > after_id, ascending: resume
 * replay in batches (API.md §6.6). Returns the number of rows delivered, or a negative code. */
int hb_store_chatlog_each(struct hb_store_conn *conn, int64_t room_id, int64_t after_id,
                          int64_t limit, hb_store_chatlog_cb *cb, void *ctx);

/* One message of hb_store_chatlog_create_many() and what became of it. */
struct hb_store_chat_input {
    int64_t room_id;
    struct hb_str message;
    int64_t author_id;
};

struct hb_store_chat_result {
    int rc; /* 0, HB_ECONFLICT (the room is gone) or HB_EINVAL; as hb_store_chatlog_create */
    int64_t id, created_us, prev_id;
};

/* Stores n messages, in order, as hb_store_chatlog_create() would one by one, in as few
 * transactions as the backend can (group commit: one for the lot on SQLite). Each message gets
 * its own result; a message for a room that is gone fails alone. Returns 0, or an error that
 * failed every message (then every rc holds it). */
int hb_store_chatlog_create_many(struct hb_store_conn *conn, const struct hb_store_chat_input *in,
                                 size_t n, struct hb_store_chat_result *out);

/* Stores in *id the room's highest chat log id, 0 when it has none (or the room is gone). */
int hb_store_chatlog_last(struct hb_store_conn *conn, int64_t room_id, int64_t *id);

/* ---- The BBS event clock (API.md §6.8: /ws/bbs/ events in commit order) ----
 * On PostgreSQL, where writers on several connections and instances commit concurrently, every
 * topic and reply create, update and delete advances a clock in its own transaction (a category
 * delete by the number of its topics), so the values follow commit order with no holes. After
 * such a write, hb_store_event_clock() gives the value it made on that connection: its events
 * carry clock - k + 1 .. clock. On SQLite the one writer already orders commits: both give 0. */
int64_t hb_store_event_clock(const struct hb_store_conn *conn);

/* The clock's current value (0 on SQLite). */
int hb_store_event_clock_read(struct hb_store_conn *conn, int64_t *n);

/* Stores a message stamped now. Returns 0 with the new id, its created_at and the id of the
 * room's previous message (0 when it is the first), any pointer may be NULL; HB_ECONFLICT when the
 * room is gone, or HB_EINVAL. Inserts into one room are serialised by the backend, so a room's ids
 * commit in increasing order and (prev_id, id) chain every message of a room: an instance that
 * receives message N from another knows whether it has seen the one before it. */
int hb_store_chatlog_create(struct hb_store_conn *conn, int64_t room_id, struct hb_str message,
                            int64_t author_id, int64_t *id, int64_t *created_us, int64_t *prev_id);

#endif
