/* SPDX-License-Identifier: MIT */
/* Inside the store layer: the backend vtable, the structs every backend shares, and the helpers
 * that turn rows into JSON and search text into terms. Include it only from src/store/ and its
 * unit tests. store.c checks arguments, locks the connection and dispatches to a backend, so a
 * backend op runs with its connection locked and conn->store->ops == the backend's own table. */
#ifndef HB_STORE_STORE_INTERNAL_H
#define HB_STORE_STORE_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/str.h"
#include "store/store.h"

#define HB_STORE_THREAD_WRITERS_MAX 256
/* Connections each worker thread's fibers share (hb_store_options.fiber_conns). */
#define HB_STORE_FIBER_CONNS_MAX     64
#define HB_STORE_FIBER_CONNS_DEFAULT 8

struct hb_store {
    const struct hb_store_ops *ops;
    struct hb_store_options opts;
    void *backend;                /* the backend's per-database state */
    struct hb_store_conn *writer; /* opened by hb_store_open() */
    bool readers_share_writer;    /* set by the backend (:memory:) */
    /* A server database (PostgreSQL) takes concurrent writers: each thread that asks for the
     * writer gets its own connection (thread_writers), so pool threads write in parallel. */
    bool writers_per_thread;
    long generation; /* tells this store from an older one at the same address */
    pthread_mutex_t writers_lock;
    struct hb_store_conn *thread_writers[HB_STORE_THREAD_WRITERS_MAX];
    int n_thread_writers;
    atomic_long fault_countdown; /* hb_store_inject_fault(): > 0 counts calls down */
    int fault_err;
};

/* The head of every backend's connection struct. */
struct hb_store_conn {
    struct hb_store *store;
    pthread_mutex_t mu;
    bool is_writer;
    int64_t event_clock; /* what the last write that ticked the event clock made it */
};

/* Initialises the head of a backend connection. */
void hb_store__conn_init(struct hb_store_conn *conn, struct hb_store *store, bool is_writer);

/* Small pieces both backends use (store.c). */
/* Cuts buf back to len bytes (a read-back undone); NULL is a no-op. */
void hb_store__truncate(struct hb_buf *buf, size_t len);
/* Fills meta (may be NULL). */
void hb_store__set_meta(struct hb_store_meta *meta, int64_t id, int64_t parent_id,
                        int64_t author_id);
/* The scope column of hiroba_login_failure: "ip" or "account". */
const char *hb_store__scope_text(enum hb_store_throttle_scope scope);

/* Destroys the head's mutex. */
void hb_store__conn_release(struct hb_store_conn *conn);

/* The operations a backend implements. Arguments are already checked as store.c documents
 * (non-NULL conn and structs, writes only on the writer); each op returns what store.h says. */
struct hb_store_ops {
    const char *name;
    /* Parses url (the whole URL) into store->backend and may set readers_share_writer. */
    int (*open)(struct hb_store *store, const char *url);
    void (*close)(struct hb_store *store);
    int (*conn_open)(struct hb_store *store, bool is_writer, struct hb_store_conn **out);
    void (*conn_close)(struct hb_store_conn *conn);
    int (*migrate)(struct hb_store_conn *conn);
    int (*ping)(struct hb_store_conn *conn);

    int (*user_create)(struct hb_store_conn *conn, const struct hb_store_user_input *in,
                       int64_t *id);
    int (*user_get_by_username)(struct hb_store_conn *conn, struct hb_str username,
                                struct hb_store_user *out);
    int (*user_get)(struct hb_store_conn *conn, int64_t id, struct hb_store_user *out);
    int (*user_set_password)(struct hb_store_conn *conn, int64_t id, struct hb_str hash);
    int (*user_set_last_login)(struct hb_store_conn *conn, int64_t id, int64_t at_us);
    int (*user_set_active)(struct hb_store_conn *conn, int64_t id, bool is_active);

    int (*token_record)(struct hb_store_conn *conn, const struct hb_store_token *tok);
    int (*token_is_blacklisted)(struct hb_store_conn *conn, struct hb_str jti, bool *out);
    /* Blacklists old and records new_tok (may be NULL) in one transaction. */
    int (*token_rotate)(struct hb_store_conn *conn, const struct hb_store_token *old,
                        const struct hb_store_token *new_tok, int64_t now_us);
    int (*token_purge)(struct hb_store_conn *conn, int64_t now_us, int64_t *n_deleted);

    int (*throttle_record)(struct hb_store_conn *conn, enum hb_store_throttle_scope scope,
                           struct hb_str key, int64_t at_us);
    int (*throttle_count)(struct hb_store_conn *conn, enum hb_store_throttle_scope scope,
                          struct hb_str key, int64_t since_us, int64_t *n, int64_t *oldest_us);
    int (*throttle_clear)(struct hb_store_conn *conn, enum hb_store_throttle_scope scope,
                          struct hb_str key);
    int (*throttle_purge)(struct hb_store_conn *conn, int64_t before_us);

    int (*category_list)(struct hb_store_conn *conn, struct hb_store_page *page,
                         struct hb_buf *json);
    int (*category_get)(struct hb_store_conn *conn, int64_t id, struct hb_store_meta *meta,
                        struct hb_buf *json);
    int (*category_create)(struct hb_store_conn *conn, struct hb_str name, int64_t author_id,
                           struct hb_store_meta *meta, struct hb_buf *json);
    int (*category_update)(struct hb_store_conn *conn, int64_t id, struct hb_str name,
                           struct hb_store_meta *meta, struct hb_buf *json);
    int (*category_delete)(struct hb_store_conn *conn, int64_t id, struct hb_buf *topic_ids);

    int (*topic_list)(struct hb_store_conn *conn, const struct hb_store_topic_query *query,
                      struct hb_store_page *page, struct hb_buf *json);
    /* The post ops serve topics (is_reply false) and replies (true). */
    int (*post_get)(struct hb_store_conn *conn, bool is_reply, int64_t id,
                    struct hb_store_meta *meta, struct hb_buf *json);
    int (*post_create)(struct hb_store_conn *conn, bool is_reply,
                       const struct hb_store_post_input *in, struct hb_store_meta *meta,
                       struct hb_buf *json);
    int (*post_update)(struct hb_store_conn *conn, bool is_reply, int64_t id,
                       const struct hb_store_post_input *in, struct hb_store_meta *meta,
                       struct hb_buf *json);
    int (*post_delete)(struct hb_store_conn *conn, bool is_reply, int64_t id,
                       struct hb_store_meta *meta);
    int (*reply_list)(struct hb_store_conn *conn, int64_t topic_id, int64_t after_id,
                      struct hb_store_page *page, struct hb_buf *json);

    int (*room_list)(struct hb_store_conn *conn, struct hb_store_page *page, struct hb_buf *json);
    int (*room_get)(struct hb_store_conn *conn, int64_t id, struct hb_store_meta *meta,
                    struct hb_buf *json);
    int (*room_create)(struct hb_store_conn *conn, const struct hb_store_room_input *in,
                       struct hb_store_meta *meta, struct hb_buf *json);
    int (*room_update)(struct hb_store_conn *conn, int64_t id, const struct hb_store_room_input *in,
                       struct hb_store_meta *meta, struct hb_buf *json);
    int (*room_delete)(struct hb_store_conn *conn, int64_t id, struct hb_store_meta *meta);
    /* delta is +1 or -1; instance is 1 to HB_STORE_INSTANCE_MAX bytes. */
    int (*room_move_headcount)(struct hb_store_conn *conn, int64_t id, int delta,
                               struct hb_str instance, int64_t *headcount);
    int (*room_reset_headcounts)(struct hb_store_conn *conn);
    int (*instance_beat)(struct hb_store_conn *conn, struct hb_str instance, int64_t now_us,
                         int64_t stale_before_us, int64_t *n_reaped);
    int (*instance_leave)(struct hb_store_conn *conn, struct hb_str instance);

    int (*chatlog_list)(struct hb_store_conn *conn, int64_t room_id, int64_t after_id,
                        struct hb_store_page *page, struct hb_buf *json);
    int (*chatlog_each)(struct hb_store_conn *conn, int64_t room_id, int64_t after_id,
                        int64_t limit, hb_store_chatlog_cb *cb, void *ctx);
    int (*chatlog_last)(struct hb_store_conn *conn, int64_t room_id, int64_t *id);
    /* Optional (NULL: store.c calls chatlog_create for each). Inputs are checked; rc of each
     * result is set by the backend. */
    int (*chatlog_create_many)(struct hb_store_conn *conn, const struct hb_store_chat_input *in,
                               size_t n, struct hb_store_chat_result *out);
    int (*chatlog_create)(struct hb_store_conn *conn, int64_t room_id, struct hb_str message,
                          int64_t author_id, int64_t *id, int64_t *created_us, int64_t *prev_id);
    /* Optional (NULL: the backend has no event clock; hb_store_event_clock_read gives 0). */
    int (*event_clock_read)(struct hb_store_conn *conn, int64_t *n);
};

extern const struct hb_store_ops hb_store__sqlite_ops;
extern const struct hb_store_ops hb_store__pg_ops;

/* ---- JSON output (store_json.c) ----
 * TODO(#json): switch to src/json's streaming writer once it lands; the escaping rules are the
 * same (API.md §2.3: only '"', '\' and control characters are escaped). */

/* Appends s as a JSON string. Invalid UTF-8 (possible in rows other software wrote) becomes
 * U+FFFD, so the output is always valid JSON. */
int hb_store__json_str(struct hb_buf *buf, const char *s, size_t len);

/* Appends the display form of us as a JSON string, or null when us is out of range (a
 * created_at the store could not parse). */
int hb_store__json_time(struct hb_buf *buf, int64_t us);

/* Appends {"id":..,"username":".."}, or null when author_id is 0. */
int hb_store__json_author(struct hb_buf *buf, int64_t author_id, struct hb_str username);

struct hb_store__category_row {
    int64_t id;
    struct hb_str name;
    int64_t author_id;
    struct hb_str author_username;
};

struct hb_store__post_row {
    int64_t id;
    int64_t parent_id;
    int64_t created_us;
    struct hb_str comment;
    int64_t author_id;
    struct hb_str author_username;
};

struct hb_store__room_row {
    int64_t id;
    int64_t created_us;
    struct hb_str name;
    int64_t headcount;
    int64_t author_id;
    struct hb_str author_username;
};

/* Append one resource object with API.md §2.5's keys. On failure the buffer may hold part of
 * the object; callers truncate back to where they started. */
int hb_store__json_category(struct hb_buf *buf, const struct hb_store__category_row *row);
int hb_store__json_post(struct hb_buf *buf, bool is_reply, const struct hb_store__post_row *row);
int hb_store__json_room(struct hb_buf *buf, const struct hb_store__room_row *row);

/* ---- Search terms (store_search.c, API.md §7.3) ---- */

/* Takes the next search term from *rest, advancing it. Terms are split on Unicode White_Space
 * and commas; "a double-quoted phrase" is one term without its quotes (an unmatched quote is an
 * ordinary character). Returns true with a non-empty term, or false when none is left. */
bool hb_store__search_next(struct hb_str *rest, struct hb_str *term);

/* The number of code points in s (bytes that do not start a UTF-8 sequence are not counted). */
size_t hb_store__utf8_len(struct hb_str s);

#endif
