/* SPDX-License-Identifier: MIT */
/* The storage interface's front (store layer): picks the backend from the URL scheme, checks
 * arguments, and runs each backend op with its connection's mutex held. Every public call goes
 * through enter()/leave(), so the locking rule of store.h lives in one place. */
#include "store/store.h"

#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/err.h"
#include "core/fiber.h"
#include "net/net.h"
#include "store/store_internal.h"

#define DEFAULT_BUSY_TIMEOUT_MS 5000
#define HEADCOUNT_MAX           2147483647LL

void hb_store__conn_init(struct hb_store_conn *conn, struct hb_store *store, bool is_writer)
{
    conn->store = store;
    conn->is_writer = is_writer;
    pthread_mutex_init(&conn->mu, NULL);
}

void hb_store__conn_release(struct hb_store_conn *conn)
{
    pthread_mutex_destroy(&conn->mu);
}

void hb_store__truncate(struct hb_buf *buf, size_t len)
{
    if (buf != NULL && buf->len > len) {
        buf->len = len;
        buf->data[len] = '\0';
    }
}

void hb_store__set_meta(struct hb_store_meta *meta, int64_t id, int64_t parent_id,
                        int64_t author_id)
{
    if (meta != NULL) {
        meta->id = id;
        meta->parent_id = parent_id;
        meta->author_id = author_id;
    }
}

const char *hb_store__scope_text(enum hb_store_throttle_scope scope)
{
    return scope == HB_STORE_THROTTLE_IP ? "ip" : "account";
}

int hb_store_open(const char *url, const struct hb_store_options *opts, struct hb_store **out)
{
    if (url == NULL || out == NULL)
        return HB_EINVAL;
    const struct hb_store_ops *ops;
    if (strncmp(url, "sqlite:", 7) == 0)
        ops = &hb_store__sqlite_ops;
    else if (strncmp(url, "postgres://", 11) == 0 || strncmp(url, "postgresql://", 13) == 0)
        ops = &hb_store__pg_ops;
    else
        return HB_EINVAL;

    struct hb_store *store = hb_xcalloc(1, sizeof(*store));
    store->ops = ops;
    if (opts != NULL)
        store->opts = *opts;
    if (store->opts.busy_timeout_ms <= 0)
        store->opts.busy_timeout_ms = DEFAULT_BUSY_TIMEOUT_MS;
    atomic_init(&store->fault_countdown, 0);
    static atomic_long generations;
    store->generation = atomic_fetch_add(&generations, 1) + 1;
    store->writers_per_thread = ops == &hb_store__pg_ops;
    pthread_mutex_init(&store->writers_lock, NULL);

    int err = ops->open(store, url);
    if (err < 0) {
        free(store);
        return err;
    }
    err = ops->conn_open(store, true, &store->writer);
    if (err < 0)
        goto fail;
    *out = store;
    return 0;

fail:
    hb_store_destroy(store);
    return err;
}

void hb_store_destroy(struct hb_store *store)
{
    if (store == NULL)
        return;
    if (store->writer != NULL)
        store->ops->conn_close(store->writer);
    for (int i = 0; i < store->n_thread_writers; i++)
        store->ops->conn_close(store->thread_writers[i]);
    pthread_mutex_destroy(&store->writers_lock);
    store->ops->close(store);
    free(store);
}

const char *hb_store_backend_name(const struct hb_store *store)
{
    return store->ops->name;
}

/* ---- Connections of fibers ----
 * A fiber on a worker's loop (an API handler, PostgreSQL only) holds one connection of its
 * thread's small pool from its first store call to its end: its statements wait on the socket
 * without blocking the loop, and no other fiber's statements can come between them. Past the
 * pool's size a fiber parks until another gives its connection back. */

struct lease_wait {
    struct lease_wait *next;
    struct hb_fiber *fiber;
    struct hb_store_conn *conn;
    bool is_served;
};

struct fiber_pool {
    long generation;
    struct hb_store_conn *idle[HB_STORE_FIBER_CONNS_MAX];
    int n_idle;
    int n_open;
    struct lease_wait *head, *tail;
};

static _Thread_local struct fiber_pool fiber_pool;

static void lease_return(void *arg)
{
    struct hb_store_conn *conn = arg;
    struct fiber_pool *fp = &fiber_pool;
    struct lease_wait *w = fp->head;
    if (w != NULL) {
        fp->head = w->next;
        if (fp->head == NULL)
            fp->tail = NULL;
        w->conn = conn;
        w->is_served = true;
        hb_net_fiber_unpark(w->fiber);
        return;
    }
    fp->idle[fp->n_idle++] = conn;
}

static struct hb_store_conn *lease(struct hb_store *store, struct hb_fiber *f)
{
    struct hb_store_conn *conn = hb_fiber_local(f);
    if (conn != NULL)
        return conn;
    struct fiber_pool *fp = &fiber_pool;
    if (fp->generation != store->generation) {
        memset(fp, 0, sizeof(*fp));
        fp->generation = store->generation;
    }
    int max = store->opts.fiber_conns > 0 ? store->opts.fiber_conns : HB_STORE_FIBER_CONNS_DEFAULT;
    if (max > HB_STORE_FIBER_CONNS_MAX)
        max = HB_STORE_FIBER_CONNS_MAX;
    if (fp->n_idle > 0) {
        conn = fp->idle[--fp->n_idle];
    } else if (fp->n_open < max) {
        fp->n_open++; /* counted before the connect parks this fiber */
        if (store->ops->conn_open(store, true, &conn) < 0) {
            fp->n_open--;
            return NULL; /* the database is unreachable: this call fails with HB_EDB */
        }
    } else {
        struct lease_wait w = {.fiber = f};
        if (fp->tail != NULL)
            fp->tail->next = &w;
        else
            fp->head = &w;
        fp->tail = &w;
        while (!w.is_served)
            hb_net_fiber_park();
        conn = w.conn;
    }
    hb_fiber_set_local(f, conn, lease_return);
    return conn;
}

void hb_store_thread_release(struct hb_store *store)
{
    struct fiber_pool *fp = &fiber_pool;
    if (fp->generation != store->generation)
        return;
    while (fp->n_idle > 0)
        store->ops->conn_close(fp->idle[--fp->n_idle]);
    memset(fp, 0, sizeof(*fp));
}

struct hb_store_conn *hb_store_writer(struct hb_store *store)
{
    static _Thread_local long tw_generation;
    static _Thread_local struct hb_store_conn *tw_conn;
    if (!store->writers_per_thread)
        return store->writer;
    struct hb_fiber *f = hb_fiber_current();
    if (f != NULL && hb_net_worker_current() != NULL)
        return lease(store, f);
    if (tw_generation == store->generation)
        return tw_conn;
    struct hb_store_conn *conn = NULL;
    pthread_mutex_lock(&store->writers_lock);
    if (store->n_thread_writers < HB_STORE_THREAD_WRITERS_MAX &&
        store->ops->conn_open(store, true, &conn) == 0)
        store->thread_writers[store->n_thread_writers++] = conn;
    pthread_mutex_unlock(&store->writers_lock);
    /* Past the limit, or with the database unreachable: the shared writer, whose mutex
     * serialises its callers. */
    tw_conn = conn != NULL ? conn : store->writer;
    tw_generation = store->generation;
    return tw_conn;
}

int hb_store_reader_open(struct hb_store *store, struct hb_store_conn **out)
{
    if (store == NULL || out == NULL)
        return HB_EINVAL;
    if (store->readers_share_writer) {
        *out = store->writer;
        return 0;
    }
    return store->ops->conn_open(store, false, out);
}

void hb_store_reader_close(struct hb_store_conn *conn)
{
    if (conn == NULL || conn == conn->store->writer)
        return;
    conn->store->ops->conn_close(conn);
}

void hb_store_inject_fault(struct hb_store *store, long nth, int err)
{
    store->fault_err = err < 0 ? err : HB_EDB;
    atomic_store(&store->fault_countdown, nth > 0 ? nth : 0);
}

/* Checks the connection, applies an injected fault and takes the lock. On success the caller
 * must call leave(). */
static int enter(struct hb_store_conn *conn, bool is_write)
{
    if (conn == NULL)
        return HB_EDB; /* no connection to be had (a fiber's, with the database down) */
    if (is_write && !conn->is_writer)
        return HB_EPERM;
    struct hb_store *store = conn->store;
    long n = atomic_load(&store->fault_countdown);
    while (n > 0 && !atomic_compare_exchange_weak(&store->fault_countdown, &n, n - 1))
        ;
    if (n == 1)
        return store->fault_err;
    pthread_mutex_lock(&conn->mu);
    return 0;
}

static int leave(struct hb_store_conn *conn, int err)
{
    pthread_mutex_unlock(&conn->mu);
    return err;
}

/* Runs ops->op(conn, ...) under the rules above. */
#define CALL(conn, is_write, op, ...)                                                              \
    do {                                                                                           \
        int err_ = enter((conn), (is_write));                                                      \
        if (err_ < 0)                                                                              \
            return err_;                                                                           \
        return leave((conn), (conn)->store->ops->op((conn), __VA_ARGS__));                         \
    } while (0)

static bool str_ok(struct hb_str s)
{
    return s.ptr != NULL || s.len == 0;
}

static bool str_present(struct hb_str s, size_t max_len)
{
    return s.ptr != NULL && s.len > 0 && s.len <= max_len;
}

int hb_store_migrate(struct hb_store *store)
{
    if (store == NULL)
        return HB_EINVAL;
    int err = enter(store->writer, true);
    if (err < 0)
        return err;
    return leave(store->writer, store->ops->migrate(store->writer));
}

int hb_store_ping(struct hb_store_conn *conn)
{
    int err = enter(conn, false);
    if (err < 0)
        return err;
    return leave(conn, conn->store->ops->ping(conn));
}

/* ---- Users ---- */

int hb_store_user_create(struct hb_store_conn *conn, const struct hb_store_user_input *in,
                         int64_t *id)
{
    if (in == NULL || !str_present(in->username, HB_STORE_USERNAME_MAX) || !str_ok(in->password) ||
        in->password.len > HB_STORE_PASSWORD_MAX || !str_ok(in->email) ||
        in->email.len > HB_STORE_EMAIL_MAX)
        return HB_EINVAL;
    CALL(conn, true, user_create, in, id);
}

int hb_store_user_get_by_username(struct hb_store_conn *conn, struct hb_str username,
                                  struct hb_store_user *out)
{
    if (out == NULL || !str_ok(username))
        return HB_EINVAL;
    if (username.len == 0 || username.len > HB_STORE_USERNAME_MAX)
        return HB_ENOTFOUND;
    CALL(conn, false, user_get_by_username, username, out);
}

int hb_store_user_get(struct hb_store_conn *conn, int64_t id, struct hb_store_user *out)
{
    if (out == NULL)
        return HB_EINVAL;
    CALL(conn, false, user_get, id, out);
}

int hb_store_user_set_password(struct hb_store_conn *conn, int64_t id, struct hb_str hash)
{
    if (!str_ok(hash) || hash.len > HB_STORE_PASSWORD_MAX)
        return HB_EINVAL;
    CALL(conn, true, user_set_password, id, hash);
}

int hb_store_user_set_last_login(struct hb_store_conn *conn, int64_t id, int64_t at_us)
{
    if (at_us < HB_STORE_TIME_MIN_US || at_us > HB_STORE_TIME_MAX_US)
        return HB_EINVAL;
    CALL(conn, true, user_set_last_login, id, at_us);
}

int hb_store_user_set_active(struct hb_store_conn *conn, int64_t id, bool is_active)
{
    CALL(conn, true, user_set_active, id, is_active);
}

/* ---- Tokens ---- */

#define JTI_MAX 255

static bool time_ok(int64_t us)
{
    return us >= HB_STORE_TIME_MIN_US && us <= HB_STORE_TIME_MAX_US;
}

static bool token_ok(const struct hb_store_token *tok)
{
    return tok != NULL && str_present(tok->jti, JTI_MAX) && time_ok(tok->created_us) &&
           time_ok(tok->expires_us);
}

int hb_store_token_record(struct hb_store_conn *conn, const struct hb_store_token *tok)
{
    if (!token_ok(tok))
        return HB_EINVAL;
    CALL(conn, true, token_record, tok);
}

int hb_store_token_blacklist(struct hb_store_conn *conn, const struct hb_store_token *tok,
                             int64_t now_us)
{
    if (!token_ok(tok) || !time_ok(now_us))
        return HB_EINVAL;
    CALL(conn, true, token_rotate, tok, NULL, now_us);
}

int hb_store_token_is_blacklisted(struct hb_store_conn *conn, struct hb_str jti, bool *out)
{
    if (out == NULL || !str_ok(jti))
        return HB_EINVAL;
    if (jti.len == 0 || jti.len > JTI_MAX) {
        *out = false;
        return 0;
    }
    CALL(conn, false, token_is_blacklisted, jti, out);
}

int hb_store_token_rotate(struct hb_store_conn *conn, const struct hb_store_token *old,
                          const struct hb_store_token *new_tok, int64_t now_us)
{
    if (!token_ok(old) || (new_tok != NULL && !token_ok(new_tok)) || !time_ok(now_us))
        return HB_EINVAL;
    CALL(conn, true, token_rotate, old, new_tok, now_us);
}

int hb_store_token_purge(struct hb_store_conn *conn, int64_t now_us, int64_t *n_deleted)
{
    if (!time_ok(now_us))
        return HB_EINVAL;
    CALL(conn, true, token_purge, now_us, n_deleted);
}

/* ---- Throttle ---- */

#define THROTTLE_KEY_MAX 4096

static bool scope_ok(enum hb_store_throttle_scope scope)
{
    return scope == HB_STORE_THROTTLE_ACCOUNT || scope == HB_STORE_THROTTLE_IP;
}

int hb_store_throttle_record(struct hb_store_conn *conn, enum hb_store_throttle_scope scope,
                             struct hb_str key, int64_t at_us)
{
    if (!scope_ok(scope) || !str_present(key, THROTTLE_KEY_MAX) || !time_ok(at_us))
        return HB_EINVAL;
    CALL(conn, true, throttle_record, scope, key, at_us);
}

int hb_store_throttle_count(struct hb_store_conn *conn, enum hb_store_throttle_scope scope,
                            struct hb_str key, int64_t since_us, int64_t *n, int64_t *oldest_us)
{
    if (!scope_ok(scope) || !str_ok(key) || key.len > THROTTLE_KEY_MAX || n == NULL ||
        oldest_us == NULL)
        return HB_EINVAL;
    if (since_us < HB_STORE_TIME_MIN_US)
        since_us = HB_STORE_TIME_MIN_US;
    if (since_us > HB_STORE_TIME_MAX_US)
        since_us = HB_STORE_TIME_MAX_US;
    CALL(conn, false, throttle_count, scope, key, since_us, n, oldest_us);
}

int hb_store_throttle_clear(struct hb_store_conn *conn, enum hb_store_throttle_scope scope,
                            struct hb_str key)
{
    if (!scope_ok(scope) || !str_ok(key) || key.len > THROTTLE_KEY_MAX)
        return HB_EINVAL;
    CALL(conn, true, throttle_clear, scope, key);
}

int hb_store_throttle_purge(struct hb_store_conn *conn, int64_t before_us)
{
    if (!time_ok(before_us))
        return HB_EINVAL;
    CALL(conn, true, throttle_purge, before_us);
}

/* ---- BBS ---- */

/* Column limits of API.md §11 in bytes (code points times 4); the app checks code points. */
#define CATEGORY_NAME_MAX ((size_t)100 * 4)
#define COMMENT_MAX       ((size_t)2000 * 4)
#define ROOM_NAME_MAX     ((size_t)200 * 4)
#define MESSAGE_MAX       ((size_t)200 * 4)

static bool page_ok(const struct hb_store_page *page)
{
    return page == NULL ||
           (page->size >= 1 && (page->number >= 1 || page->number == HB_STORE_PAGE_LAST));
}

int hb_store_category_list(struct hb_store_conn *conn, struct hb_store_page *page,
                           struct hb_buf *json)
{
    if (json == NULL)
        return HB_EINVAL;
    if (!page_ok(page))
        return HB_ENOTFOUND;
    CALL(conn, false, category_list, page, json);
}

int hb_store_category_get(struct hb_store_conn *conn, int64_t id, struct hb_store_meta *meta,
                          struct hb_buf *json)
{
    CALL(conn, false, category_get, id, meta, json);
}

int hb_store_category_create(struct hb_store_conn *conn, struct hb_str name, int64_t author_id,
                             struct hb_store_meta *meta, struct hb_buf *json)
{
    if (!str_present(name, CATEGORY_NAME_MAX) || author_id < 0)
        return HB_EINVAL;
    CALL(conn, true, category_create, name, author_id, meta, json);
}

int hb_store_category_update(struct hb_store_conn *conn, int64_t id, struct hb_str name,
                             struct hb_store_meta *meta, struct hb_buf *json)
{
    if (!str_present(name, CATEGORY_NAME_MAX))
        return HB_EINVAL;
    CALL(conn, true, category_update, id, name, meta, json);
}

int hb_store_category_delete(struct hb_store_conn *conn, int64_t id,
                             struct hb_buf *deleted_topic_ids)
{
    CALL(conn, true, category_delete, id, deleted_topic_ids);
}

enum hb_store_topic_order hb_store_topic_order_parse(struct hb_str ordering)
{
    /* DRF's OrderingFilter: the valid terms in order. The first one decides; after created_at,
     * the first id term (if any) decides the tie-break; anything later cannot matter. */
    int created = 0; /* 0: not seen, 1: asc, -1: desc */
    const char *p = ordering.ptr, *end = ordering.ptr ? ordering.ptr + ordering.len : NULL;
    while (p != NULL && p < end) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *term_end = comma ? comma : end;
        struct hb_str term = hb_str_trim_ows((struct hb_str){p, (size_t)(term_end - p)});
        p = comma ? comma + 1 : end;
        bool is_desc = term.len > 0 && term.ptr[0] == '-';
        struct hb_str field = {term.ptr + is_desc, term.len - is_desc};
        if (hb_str_eq_lit(field, "id")) {
            if (created == 0)
                return is_desc ? HB_STORE_ORDER_ID_DESC : HB_STORE_ORDER_ID;
            if (created > 0)
                return is_desc ? HB_STORE_ORDER_CREATED_THEN_ID_DESC : HB_STORE_ORDER_CREATED;
            return is_desc ? HB_STORE_ORDER_CREATED_DESC_THEN_ID_DESC : HB_STORE_ORDER_CREATED_DESC;
        }
        if (hb_str_eq_lit(field, "created_at") && created == 0)
            created = is_desc ? -1 : 1;
    }
    if (created == 0)
        return HB_STORE_ORDER_ID;
    return created > 0 ? HB_STORE_ORDER_CREATED : HB_STORE_ORDER_CREATED_DESC;
}

int hb_store_topic_list(struct hb_store_conn *conn, const struct hb_store_topic_query *query,
                        struct hb_store_page *page, struct hb_buf *json)
{
    static const struct hb_store_topic_query all = {0};
    if (json == NULL || (query != NULL && !str_ok(query->search)))
        return HB_EINVAL;
    if (query == NULL)
        query = &all;
    if (query->order < HB_STORE_ORDER_ID || query->order > HB_STORE_ORDER_CREATED_DESC_THEN_ID_DESC)
        return HB_EINVAL;
    if (!page_ok(page))
        return HB_ENOTFOUND;
    CALL(conn, false, topic_list, query, page, json);
}

static bool post_input_ok(const struct hb_store_post_input *in, bool is_create)
{
    if (in == NULL || in->parent_id < 0 || in->author_id < 0 || !str_ok(in->comment))
        return false;
    if (in->comment.ptr != NULL && (in->comment.len == 0 || in->comment.len > COMMENT_MAX))
        return false;
    if (in->created_us != HB_STORE_TIME_NONE && !time_ok(in->created_us))
        return false;
    return !is_create || (in->parent_id > 0 && in->comment.ptr != NULL);
}

int hb_store_topic_get(struct hb_store_conn *conn, int64_t id, struct hb_store_meta *meta,
                       struct hb_buf *json)
{
    CALL(conn, false, post_get, false, id, meta, json);
}

int hb_store_topic_create(struct hb_store_conn *conn, const struct hb_store_post_input *in,
                          struct hb_store_meta *meta, struct hb_buf *json)
{
    if (!post_input_ok(in, true))
        return HB_EINVAL;
    CALL(conn, true, post_create, false, in, meta, json);
}

int hb_store_topic_update(struct hb_store_conn *conn, int64_t id,
                          const struct hb_store_post_input *in, struct hb_store_meta *meta,
                          struct hb_buf *json)
{
    if (!post_input_ok(in, false))
        return HB_EINVAL;
    CALL(conn, true, post_update, false, id, in, meta, json);
}

int hb_store_topic_delete(struct hb_store_conn *conn, int64_t id, struct hb_store_meta *meta)
{
    CALL(conn, true, post_delete, false, id, meta);
}

int hb_store_reply_list(struct hb_store_conn *conn, int64_t topic_id, int64_t after_id,
                        struct hb_store_page *page, struct hb_buf *json)
{
    if (json == NULL)
        return HB_EINVAL;
    if (!page_ok(page))
        return HB_ENOTFOUND;
    CALL(conn, false, reply_list, topic_id, after_id, page, json);
}

int hb_store_reply_get(struct hb_store_conn *conn, int64_t id, struct hb_store_meta *meta,
                       struct hb_buf *json)
{
    CALL(conn, false, post_get, true, id, meta, json);
}

int hb_store_reply_create(struct hb_store_conn *conn, const struct hb_store_post_input *in,
                          struct hb_store_meta *meta, struct hb_buf *json)
{
    if (!post_input_ok(in, true))
        return HB_EINVAL;
    CALL(conn, true, post_create, true, in, meta, json);
}

int hb_store_reply_update(struct hb_store_conn *conn, int64_t id,
                          const struct hb_store_post_input *in, struct hb_store_meta *meta,
                          struct hb_buf *json)
{
    if (!post_input_ok(in, false))
        return HB_EINVAL;
    CALL(conn, true, post_update, true, id, in, meta, json);
}

int hb_store_reply_delete(struct hb_store_conn *conn, int64_t id, struct hb_store_meta *meta)
{
    CALL(conn, true, post_delete, true, id, meta);
}

/* ---- Rooms ---- */

static bool room_input_ok(const struct hb_store_room_input *in, bool is_create)
{
    if (in == NULL || in->author_id < 0 || !str_ok(in->name))
        return false;
    if (in->name.ptr != NULL && (in->name.len == 0 || in->name.len > ROOM_NAME_MAX))
        return false;
    if (in->headcount < -1 || in->headcount > HEADCOUNT_MAX)
        return false;
    if (in->created_us != HB_STORE_TIME_NONE && !time_ok(in->created_us))
        return false;
    return !is_create || in->name.ptr != NULL;
}

int hb_store_room_list(struct hb_store_conn *conn, struct hb_store_page *page, struct hb_buf *json)
{
    if (json == NULL)
        return HB_EINVAL;
    if (!page_ok(page))
        return HB_ENOTFOUND;
    CALL(conn, false, room_list, page, json);
}

int hb_store_room_get(struct hb_store_conn *conn, int64_t id, struct hb_store_meta *meta,
                      struct hb_buf *json)
{
    CALL(conn, false, room_get, id, meta, json);
}

int hb_store_room_create(struct hb_store_conn *conn, const struct hb_store_room_input *in,
                         struct hb_store_meta *meta, struct hb_buf *json)
{
    if (!room_input_ok(in, true))
        return HB_EINVAL;
    CALL(conn, true, room_create, in, meta, json);
}

int hb_store_room_update(struct hb_store_conn *conn, int64_t id,
                         const struct hb_store_room_input *in, struct hb_store_meta *meta,
                         struct hb_buf *json)
{
    if (!room_input_ok(in, false))
        return HB_EINVAL;
    CALL(conn, true, room_update, id, in, meta, json);
}

int hb_store_room_delete(struct hb_store_conn *conn, int64_t id, struct hb_store_meta *meta)
{
    CALL(conn, true, room_delete, id, meta);
}

static bool instance_ok(struct hb_str instance)
{
    return instance.ptr != NULL && instance.len > 0 && instance.len <= HB_STORE_INSTANCE_MAX;
}

int hb_store_room_join(struct hb_store_conn *conn, int64_t id, struct hb_str instance,
                       int64_t *headcount)
{
    if (!instance_ok(instance))
        return HB_EINVAL;
    CALL(conn, true, room_move_headcount, id, 1, instance, headcount);
}

int hb_store_room_leave(struct hb_store_conn *conn, int64_t id, struct hb_str instance,
                        int64_t *headcount)
{
    if (!instance_ok(instance))
        return HB_EINVAL;
    CALL(conn, true, room_move_headcount, id, -1, instance, headcount);
}

int hb_store_instance_beat(struct hb_store_conn *conn, struct hb_str instance, int64_t now_us,
                           int64_t stale_before_us, int64_t *n_reaped)
{
    if (!instance_ok(instance))
        return HB_EINVAL;
    CALL(conn, true, instance_beat, instance, now_us, stale_before_us, n_reaped);
}

int hb_store_instance_leave(struct hb_store_conn *conn, struct hb_str instance)
{
    if (!instance_ok(instance))
        return HB_EINVAL;
    CALL(conn, true, instance_leave, instance);
}

int hb_store_room_reset_headcounts(struct hb_store_conn *conn)
{
    int err = enter(conn, true);
    if (err < 0)
        return err;
    return leave(conn, conn->store->ops->room_reset_headcounts(conn));
}

/* ---- Chat logs ---- */

int hb_store_chatlog_list(struct hb_store_conn *conn, int64_t room_id, int64_t after_id,
                          struct hb_store_page *page, struct hb_buf *json)
{
    if (json == NULL)
        return HB_EINVAL;
    if (!page_ok(page))
        return HB_ENOTFOUND;
    CALL(conn, false, chatlog_list, room_id, after_id, page, json);
}

int hb_store_chatlog_each(struct hb_store_conn *conn, int64_t room_id, int64_t after_id,
                          int64_t limit, hb_store_chatlog_cb *cb, void *ctx)
{
    if (cb == NULL || limit < 1)
        return HB_EINVAL;
    CALL(conn, false, chatlog_each, room_id, after_id, limit, cb, ctx);
}

int hb_store_chatlog_create_many(struct hb_store_conn *conn, const struct hb_store_chat_input *in,
                                 size_t n, struct hb_store_chat_result *out)
{
    if ((n > 0 && (in == NULL || out == NULL)))
        return HB_EINVAL;
    int err = enter(conn, true);
    for (size_t i = 0; i < n; i++)
        out[i] = (struct hb_store_chat_result){.rc = err};
    if (err < 0)
        return err;
    const struct hb_store_ops *ops = conn->store->ops;
    bool all_valid = true;
    for (size_t i = 0; i < n; i++) {
        if (!str_present(in[i].message, MESSAGE_MAX) || in[i].author_id < 0) {
            out[i].rc = HB_EINVAL;
            all_valid = false;
        }
    }
    if (ops->chatlog_create_many != NULL && all_valid)
        return leave(conn, n > 0 ? ops->chatlog_create_many(conn, in, n, out) : 0);
    for (size_t i = 0; i < n; i++) {
        if (out[i].rc == 0)
            out[i].rc = ops->chatlog_create(conn, in[i].room_id, in[i].message, in[i].author_id,
                                            &out[i].id, &out[i].created_us, &out[i].prev_id);
    }
    return leave(conn, 0);
}

int64_t hb_store_event_clock(const struct hb_store_conn *conn)
{
    return conn != NULL ? conn->event_clock : 0;
}

int hb_store_event_clock_read(struct hb_store_conn *conn, int64_t *n)
{
    if (n == NULL)
        return HB_EINVAL;
    *n = 0;
    if (conn == NULL)
        return HB_EDB; /* as enter() does */
    if (conn->store->ops->event_clock_read == NULL)
        return 0;
    CALL(conn, false, event_clock_read, n);
}

int hb_store_chatlog_last(struct hb_store_conn *conn, int64_t room_id, int64_t *id)
{
    if (id == NULL)
        return HB_EINVAL;
    CALL(conn, false, chatlog_last, room_id, id);
}

int hb_store_chatlog_create(struct hb_store_conn *conn, int64_t room_id, struct hb_str message,
                            int64_t author_id, int64_t *id, int64_t *created_us, int64_t *prev_id)
{
    if (!str_present(message, MESSAGE_MAX) || author_id < 0)
        return HB_EINVAL;
    CALL(conn, true, chatlog_create, room_id, message, author_id, id, created_us, prev_id);
}
