/* SPDX-License-Identifier: MIT */
/* WebSocket chat and the live BBS stream (app layer, API.md §6). The handshake runs as an HTTP
 * handler; the connection is then handed to this file's net handler and a ws_session. A chat
 * message is stored first on the thread pool (the database gives its id), then published on the
 * hub under one lock, so every worker receives messages in id order; each worker writes the
 * frame, serialised once and shared by refcount, to its own sockets of that room. Resume
 * (?after=) subscribes before reading history and buffers live messages until the replay is
 * out, skipping ids already replayed: no gap, no duplicate. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/app.h"
#include "app/app_body.h"
#include "core/alloc.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"
#include "core/str.h"
#include "http/http_metrics.h"
#include "http/http_url.h"
#include "net/net.h"
#include "pubsub/pubsub_hub.h"
#include "ws/ws_handshake.h"
#include "ws/ws_session.h"

#define N_BUCKETS        256
#define QUEUE_MAX_BYTES  ((size_t)1024 * 1024)
#define QUEUE_MAX_FRAMES 1024u
#define HEARTBEAT_MS     30000
#define REPLAY_MAX       100000
#define MESSAGE_MAX      200
#define BBS_CHANNEL      0
#define TEXTS_MAX        1024 /* messages of one socket waiting to be stored */

enum event_kind { EV_MESSAGE, EV_PRESENCE, EV_BBS, EV_ROOM_GONE };

/* One published event, shared by every worker and socket. */
struct event {
    atomic_int refs;
    enum event_kind kind;
    int64_t id;             /* EV_MESSAGE: the chat log id */
    struct hb_ws_msg *seed; /* EV_MESSAGE: the seed frame */
    struct hb_ws_msg *v1;   /* the typed frame (message, presence, BBS event) */
};

struct pending {
    struct pending *next;
    struct event *ev;
};

struct text {
    struct text *next;
    char *data;
    size_t len;
};

struct client {
    struct hb_conn *conn;
    struct hb_ws_session *session;
    struct client *prev, *next; /* the worker's bucket of its room */
    struct ws_worker *worker;
    int64_t room; /* BBS_CHANNEL for /ws/bbs/ */
    int64_t user_id;
    char username[HB_STORE_USERNAME_MAX + 1];
    int64_t after;   /* -1: no replay */
    int64_t base_id; /* the room's last message before this socket subscribed */
    int64_t last_id;
    struct pending *pending, *pending_tail;
    struct text *texts, *texts_tail; /* client messages waiting to be stored, in arrival order */
    size_t n_texts;                  /* length of that queue */
    bool is_storing;                 /* one store job at a time keeps a socket's order */
    bool is_v1;
    bool is_linked;
    bool is_joined; /* this socket added one to headcount */
    bool is_replaying;
    bool awaiting_pong;
    bool is_dirty;             /* on the worker's dirty list */
    struct client *dirty_next; /* that list */
};

struct ws_worker {
    struct client *buckets[N_BUCKETS];
    struct client *dirty; /* sockets the current hub batch queued frames for */
};

static struct hb_hub *hub;
static struct hb_app *ws_app;
static _Thread_local struct ws_worker *this_worker;
static _Thread_local char read_buf[64 * 1024];
static atomic_long n_open[2], n_fanned[2], n_dropped[2];

/* ---- events ---- */

static void event_ref(void *p)
{
    atomic_fetch_add(&((struct event *)p)->refs, 1);
}

static void event_unref(void *p)
{
    struct event *ev = p;
    if (atomic_fetch_sub(&ev->refs, 1) != 1)
        return;
    if (ev->seed != NULL)
        hb_ws_msg_unref(ev->seed);
    if (ev->v1 != NULL)
        hb_ws_msg_unref(ev->v1);
    free(ev);
}

static struct event *event_create(enum event_kind kind, int64_t id, const struct hb_str *seed,
                                  const struct hb_str *v1)
{
    struct event *ev = hb_xcalloc(1, sizeof(*ev));
    atomic_init(&ev->refs, 1);
    ev->kind = kind;
    ev->id = id;
    if (seed != NULL)
        ev->seed = hb_ws_msg_create(HB_WS_OP_TEXT, seed->ptr, seed->len);
    if (v1 != NULL)
        ev->v1 = hb_ws_msg_create(HB_WS_OP_TEXT, v1->ptr, v1->len);
    return ev;
}

static void publish(int64_t channel, struct event *ev)
{
    hb_hub_publish(hub, channel, ev);
    event_unref(ev);
}

/* ---- sockets ---- */

static int endpoint(const struct client *c)
{
    return c->room == BBS_CHANNEL ? 1 : 0;
}

static void flush_client(struct client *c)
{
    if (hb_conn_is_closing(c->conn))
        return;
    (void)hb_ws_session_flush(c->session, hb_conn_out(c->conn));
    hb_conn_flush(c->conn);
    if (hb_ws_session_state(c->session) == HB_WS_CLOSED)
        hb_conn_close_after_write(c->conn);
}

static void close_with(struct client *c, int code)
{
    (void)hb_ws_session_close(c->session, code, NULL, 0);
    flush_client(c);
    hb_conn_close_after_write(c->conn);
}

/* Queues a shared frame, or closes a consumer that fell behind past the bound (1013). */
static void send_msg(struct client *c, struct hb_ws_msg *msg)
{
    if (hb_ws_session_state(c->session) != HB_WS_OPEN)
        return;
    /* Frames move from the session to the connection's output at every flush, so the bound
     * counts both: what the session holds and what the kernel has not taken yet. */
    size_t queued = hb_ws_session_queued_bytes(c->session) + hb_conn_pending(c->conn);
    if (queued + hb_ws_msg_frame_len(msg) > QUEUE_MAX_BYTES ||
        hb_ws_session_queued_frames(c->session) >= QUEUE_MAX_FRAMES) {
        atomic_fetch_add(&n_dropped[endpoint(c)], 1);
        /* Output not yet handed to the kernel starts at a frame boundary: drop it so the close
         * frame is next on the wire rather than behind a megabyte the client will never read. */
        hb_buf_reset(hb_conn_out(c->conn));
        close_with(c, 1013);
        return;
    }
    if (hb_ws_session_send_msg(c->session, msg) == 0)
        atomic_fetch_add(&n_fanned[endpoint(c)], 1);
}

static void send_text(struct client *c, const char *json)
{
    struct hb_ws_msg *m = hb_ws_msg_create(HB_WS_OP_TEXT, json, strlen(json));
    send_msg(c, m);
    hb_ws_msg_unref(m);
}

static void deliver_to(struct client *c, struct event *ev)
{
    if (ev->kind == EV_MESSAGE) {
        if (c->is_replaying) {
            struct pending *p = hb_xmalloc(sizeof(*p));
            event_ref(ev);
            p->ev = ev;
            p->next = NULL;
            if (c->pending_tail != NULL)
                c->pending_tail->next = p;
            else
                c->pending = p;
            c->pending_tail = p;
            return;
        }
        if (ev->id <= c->last_id)
            return; /* already replayed */
        c->last_id = ev->id;
        send_msg(c, c->is_v1 ? ev->v1 : ev->seed);
    } else if (ev->kind == EV_ROOM_GONE) {
        close_with(c, 4404);
    } else if (ev->kind == EV_PRESENCE) {
        if (c->is_v1 && !c->is_replaying)
            send_msg(c, ev->v1);
    } else {
        send_msg(c, ev->v1);
    }
}

/* Runs on each worker's loop for every published event. Frames are queued; the sockets are
 * flushed once at the end of the hub's batch (deliver_batch_end), so a burst of messages costs
 * one write per socket rather than one per message and socket. */
static void deliver(void *worker_ctx, int64_t channel, void *payload)
{
    struct ws_worker *w = worker_ctx;
    struct event *ev = payload;
    for (struct client *c = w->buckets[(uint64_t)channel % N_BUCKETS], *next; c != NULL; c = next) {
        next = c->next;
        if (c->room != channel || hb_conn_is_closing(c->conn))
            continue;
        deliver_to(c, ev);
        if (!c->is_dirty) {
            c->is_dirty = true;
            c->dirty_next = w->dirty;
            w->dirty = c;
        }
    }
}

/* Clients are freed only from a close callback, a later loop turn: every one listed is alive. */
static void deliver_batch_end(void *worker_ctx)
{
    struct ws_worker *w = worker_ctx;
    struct client *c = w->dirty;
    w->dirty = NULL;
    while (c != NULL) {
        struct client *next = c->dirty_next;
        c->is_dirty = false;
        c->dirty_next = NULL;
        flush_client(c);
        c = next;
    }
}

static void link_client(struct client *c)
{
    struct client **head = &c->worker->buckets[(uint64_t)c->room % N_BUCKETS];
    c->next = *head;
    c->prev = NULL;
    if (*head != NULL)
        (*head)->prev = c;
    *head = c;
    c->is_linked = true;
}

static void unlink_client(struct client *c)
{
    if (!c->is_linked)
        return;
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        c->worker->buckets[(uint64_t)c->room % N_BUCKETS] = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    c->is_linked = false;
}

/* ---- presence and headcount (thread pool) ---- */

void hb_app_ws_deliver_presence(int64_t room, int64_t headcount)
{
    if (hub == NULL)
        return;
    char json[80];
    snprintf(json, sizeof(json), "{\"type\":\"presence\",\"headcount\":%lld}",
             (long long)headcount);
    struct hb_str b = {.ptr = json, .len = strlen(json)};
    publish(room, event_create(EV_PRESENCE, 0, NULL, &b));
}

struct leave_job {
    int64_t room;
    int64_t headcount;
    int rc;
};

static void leave_work(void *arg)
{
    struct leave_job *job = arg;
    job->rc = hb_store_room_leave(hb_store_writer(ws_app->store), job->room, hb_app_instance(),
                                  &job->headcount);
}

static void leave_done(struct hb_conn *conn, void *arg)
{
    struct leave_job *job = arg;
    (void)conn;
    if (job->rc == 0)
        hb_app_relay_presence(job->room, job->headcount);
    free(job);
}

/* ---- replay (thread pool) ---- */

struct replay_row {
    struct replay_row *next;
    int64_t id;
    struct hb_ws_msg *frame;
};

struct join_job {
    struct client *c; /* touched only in done, on the loop */
    int64_t room;
    int64_t after;
    bool is_v1;
    int64_t headcount;
    int64_t base_id; /* the room's last message before the socket subscribed */
    int rc;
    struct replay_row *rows, *tail;
};

static int collect_row(void *ctx, const struct hb_store_chatlog *row)
{
    struct join_job *job = ctx;
    struct hb_buf b;
    hb_buf_init(&b, (size_t)64 * 1024);
    int err =
        hb_store_chatlog_write_json(&b, job->is_v1 ? HB_STORE_CHAT_V1 : HB_STORE_CHAT_SEED, row);
    if (err == 0) {
        struct replay_row *r = hb_xmalloc(sizeof(*r));
        r->next = NULL;
        r->id = row->id;
        r->frame = hb_ws_msg_create(HB_WS_OP_TEXT, b.data, b.len);
        if (job->tail != NULL)
            job->tail->next = r;
        else
            job->rows = r;
        job->tail = r;
    }
    hb_buf_release(&b);
    return err;
}

static void join_work(void *arg)
{
    struct join_job *job = arg;
    struct hb_store_conn *db = hb_store_writer(ws_app->store);
    job->rc = hb_store_room_join(db, job->room, hb_app_instance(), &job->headcount);
    if (job->rc == 0 && job->after >= 0) {
        int n = hb_store_chatlog_each(db, job->room, job->after, REPLAY_MAX, collect_row, job);
        if (n < 0)
            job->rc = n;
    }
}

static void join_done(struct hb_conn *conn, void *arg)
{
    struct join_job *job = arg;
    struct client *c = hb_conn_is_closing(conn) ? NULL : hb_conn_data(conn);
    if (c != NULL && job->rc == 0) {
        c->is_joined = true;
        hb_app_relay_joined(job->room, job->base_id);
        for (struct replay_row *r = job->rows; r != NULL; r = r->next) {
            send_msg(c, r->frame);
            c->last_id = r->id;
        }
        /* Live messages that arrived during the replay, minus the ones it already held. */
        c->is_replaying = false;
        for (struct pending *p = c->pending, *next; p != NULL; p = next) {
            next = p->next;
            deliver_to(c, p->ev);
            event_unref(p->ev);
            free(p);
        }
        c->pending = c->pending_tail = NULL;
        flush_client(c);
        hb_app_relay_presence(job->room, job->headcount);
    } else if (job->rc == 0) {
        /* The socket closed while joining: give the seat back. */
        struct leave_job *lj = hb_xcalloc(1, sizeof(*lj));
        lj->room = job->room;
        hb_conn_queue_work(conn, leave_work, leave_done, lj);
    } else if (c != NULL) {
        close_with(c, job->rc == HB_ENOTFOUND ? 4404 : 1011);
    }
    for (struct replay_row *r = job->rows, *next; r != NULL; r = next) {
        next = r->next;
        hb_ws_msg_unref(r->frame);
        free(r);
    }
    free(job);
}

/* ---- chat messages (thread pool) ---- */

struct store_job {
    struct store_job *next; /* in the group-commit queue */
    int64_t room;
    int64_t author_id;
    char *username;
    char *text;
    size_t len;
    int rc;
    bool is_done; /* stored by another job's thread (under the relay's write lock) */
};

#define GROUP_MAX 256

static pthread_mutex_t group_lock = PTHREAD_MUTEX_INITIALIZER;
static struct store_job *group_head, *group_tail;

static void publish_stored(struct store_job *job, const struct hb_store_chat_result *r)
{
    struct hb_store_chatlog row = {.id = r->id,
                                   .room_id = job->room,
                                   .created_us = r->created_us,
                                   .message = {job->text, job->len},
                                   .author_id = job->author_id,
                                   .author_username = hb_str_from(job->username)};
    struct hb_buf seed, v1;
    hb_buf_init(&seed, (size_t)64 * 1024);
    hb_buf_init(&v1, (size_t)64 * 1024);
    (void)hb_store_chatlog_write_json(&seed, HB_STORE_CHAT_SEED, &row);
    (void)hb_store_chatlog_write_json(&v1, HB_STORE_CHAT_V1, &row);
    hb_app_relay_message(job->room, r->id, r->prev_id, &seed, &v1);
    hb_buf_release(&seed);
    hb_buf_release(&v1);
}

/* Group commit: each job joins the queue, then waits for the relay's write lock; whoever gets
 * it stores every queued message in one transaction and publishes them in id order, so a burst
 * from many sockets costs one commit, not one each. A job already stored by another leader just
 * returns. Its own thread is still in here until then, so a leader never touches a freed job. */
static void store_work(void *arg)
{
    struct store_job *job = arg;
    pthread_mutex_lock(&group_lock);
    job->next = NULL;
    if (group_tail != NULL)
        group_tail->next = job;
    else
        group_head = job;
    group_tail = job;
    pthread_mutex_unlock(&group_lock);

    hb_app_relay_write_begin();
    if (!job->is_done) {
        struct store_job *batch[GROUP_MAX];
        size_t n = 0;
        pthread_mutex_lock(&group_lock);
        while (group_head != NULL && n < GROUP_MAX) {
            batch[n++] = group_head;
            group_head = group_head->next;
        }
        if (group_head == NULL)
            group_tail = NULL;
        pthread_mutex_unlock(&group_lock);
        struct hb_store_chat_input in[GROUP_MAX];
        struct hb_store_chat_result out[GROUP_MAX];
        for (size_t i = 0; i < n; i++)
            in[i] = (struct hb_store_chat_input){
                .room_id = batch[i]->room,
                .message = {batch[i]->text, batch[i]->len},
                .author_id = batch[i]->author_id,
            };
        (void)hb_store_chatlog_create_many(hb_store_writer(ws_app->store), in, n, out);
        for (size_t i = 0; i < n; i++) {
            batch[i]->rc = out[i].rc;
            if (out[i].rc == 0)
                publish_stored(batch[i], &out[i]);
            batch[i]->is_done = true;
        }
    }
    hb_app_relay_write_end();
}

static void store_next(struct client *c);

static void store_done(struct hb_conn *conn, void *arg)
{
    struct store_job *job = arg;
    struct client *c = hb_conn_is_closing(conn) ? NULL : hb_conn_data(conn);
    if (c != NULL) {
        c->is_storing = false;
        if (job->rc < 0) {
            hb_log_error("chat: storing a message in room %lld: %s", (long long)job->room,
                         hb_strerror(job->rc));
            close_with(c, job->rc == HB_ECONFLICT ? 4404 : 1011);
        } else {
            store_next(c);
        }
    }
    free(job->username);
    free(job->text);
    free(job);
}

/* Starts storing the socket's oldest waiting message unless one is being stored: messages of
 * one socket are stored (and so numbered) in the order they arrived. */
static void store_next(struct client *c)
{
    struct text *t = c->texts;
    if (c->is_storing || t == NULL)
        return;
    c->texts = t->next;
    c->n_texts--;
    if (c->texts == NULL)
        c->texts_tail = NULL;
    struct store_job *job = hb_xcalloc(1, sizeof(*job));
    job->room = c->room;
    job->author_id = c->user_id;
    job->username = hb_xstrdup(c->username);
    job->text = t->data;
    job->len = t->len;
    free(t);
    c->is_storing = true;
    hb_conn_queue_work(c->conn, store_work, store_done, job);
}

static void v1_error(struct client *c, const char *code, const char *detail)
{
    char json[256];
    snprintf(json, sizeof(json), "{\"type\":\"error\",\"code\":\"%s\",\"detail\":\"%s\"}", code,
             detail);
    send_text(c, json);
}

static void on_text(struct hb_ws_session *s, const char *data, size_t len)
{
    struct client *c = hb_ws_session_user(s);
    if (c->room == BBS_CHANNEL)
        return; /* client frames on /ws/bbs/ are ignored */
    struct hb_arena arena;
    hb_arena_init(&arena, 1024);
    const struct hb_json *doc = NULL;
    const struct hb_json *msg = NULL;
    if (hb_json_parse(&arena, data, len, &doc, NULL) == 0 && hb_json_is_object(doc))
        msg = hb_json_get(doc, "message");
    if (msg == NULL) {
        close_with(c, 4400);
        goto out;
    }
    if (c->is_v1) {
        const struct hb_json *type = hb_json_get(doc, "type");
        if (type != NULL &&
            !(hb_json_is_string(type) && hb_str_eq_lit(hb_json_string(type), "message"))) {
            v1_error(c, "unsupported_type", "Unsupported frame type.");
            goto out;
        }
    }
    const char *code = NULL, *detail = NULL;
    struct hb_str text = HB_STR_NULL;
    if (hb_json_is_null(msg)) {
        code = "null", detail = "この項目はnullにできません。";
    } else if (!hb_json_is_string(msg)) {
        code = "invalid", detail = "Not a valid string.";
    } else {
        text = hb_app_trim(hb_json_string(msg));
        if (text.len == 0)
            code = "blank", detail = "この項目は空にできません。";
        else if (hb_app_utf8_chars(text) > MESSAGE_MAX)
            code = "max_length", detail = "この項目が200文字より長くならないようにしてください。";
        else if (memchr(text.ptr, '\0', text.len) != NULL)
            code = "null_characters", detail = "何か文字を入力してください。";
    }
    if (code != NULL) {
        /* Seed mode drops an invalid message silently [compat]. */
        if (c->is_v1)
            v1_error(c, code, detail);
        goto out;
    }
    if (c->n_texts >= TEXTS_MAX) {
        /* A client sending faster than the database stores is throttled by being closed. */
        close_with(c, 1013);
        goto out;
    }
    struct text *t = hb_xmalloc(sizeof(*t));
    c->n_texts++;
    t->next = NULL;
    t->data = hb_xmalloc(text.len + 1);
    memcpy(t->data, text.ptr, text.len);
    t->len = text.len;
    if (c->texts_tail != NULL)
        c->texts_tail->next = t;
    else
        c->texts = t;
    c->texts_tail = t;
    store_next(c);
out:
    hb_arena_release(&arena);
}

static void on_binary(struct hb_ws_session *s, const char *data, size_t len)
{
    (void)data;
    (void)len;
    close_with(hb_ws_session_user(s), 1003);
}

static void on_session_close(struct hb_ws_session *s, int code)
{
    struct client *c = hb_ws_session_user(s);
    (void)code;
    flush_client(c);
    hb_conn_close_after_write(c->conn);
}

/* ---- the connection after the upgrade ---- */

static void ws_on_alloc(struct hb_conn *conn, char **base, size_t *len)
{
    (void)conn;
    /* hb_ws_session_feed() keeps no pointer into its input: one buffer per loop serves all. */
    *base = read_buf;
    *len = sizeof(read_buf);
}

static void ws_on_read(struct hb_conn *conn, ssize_t nread)
{
    struct client *c = hb_conn_data(conn);
    if (nread < 0) {
        hb_ws_session_abort(c->session);
        hb_conn_close(conn);
        return;
    }
    c->awaiting_pong = false;
    hb_conn_set_timeout(conn, HEARTBEAT_MS);
    (void)hb_ws_session_feed(c->session, read_buf, (size_t)nread);
    flush_client(c);
}

static void ws_on_timeout(struct hb_conn *conn)
{
    struct client *c = hb_conn_data(conn);
    if (c->awaiting_pong) {
        /* Nothing for a whole heartbeat after our ping: drop the TCP connection. */
        hb_ws_session_abort(c->session);
        hb_conn_close(conn);
        return;
    }
    c->awaiting_pong = true;
    (void)hb_ws_session_ping(c->session, NULL, 0);
    flush_client(c);
    hb_conn_set_timeout(conn, HEARTBEAT_MS);
}

static void ws_on_shutdown(struct hb_conn *conn)
{
    close_with(hb_conn_data(conn), 1001);
}

static void client_free(struct client *c)
{
    for (struct text *t = c->texts, *next; t != NULL; t = next) {
        next = t->next;
        free(t->data);
        free(t);
    }
    for (struct pending *p = c->pending, *next; p != NULL; p = next) {
        next = p->next;
        event_unref(p->ev);
        free(p);
    }
    if (c->session != NULL)
        hb_ws_session_destroy(c->session);
    free(c);
}

static void ws_on_close(struct hb_conn *conn)
{
    struct client *c = hb_conn_data(conn);
    if (c == NULL)
        return;
    unlink_client(c);
    if (hb_ws_session_state(c->session) != HB_WS_CLOSED)
        hb_ws_session_abort(c->session);
    atomic_fetch_sub(&n_open[endpoint(c)], 1);
    if (c->is_joined) {
        hb_app_relay_left(c->room);
        struct leave_job *lj = hb_xcalloc(1, sizeof(*lj));
        lj->room = c->room;
        hb_conn_queue_work(conn, leave_work, leave_done, lj);
    }
    hb_conn_set_data(conn, NULL);
    client_free(c);
}

static const struct hb_conn_handler ws_handler = {
    .on_alloc = ws_on_alloc,
    .on_read = ws_on_read,
    .on_timeout = ws_on_timeout,
    .on_shutdown = ws_on_shutdown,
    .on_close = ws_on_close,
};

static void ws_start(struct hb_conn *conn, void *data, const char *early, size_t early_len)
{
    struct client *c = data;
    if (early == NULL) {
        client_free(c); /* the connection closed before the switch */
        return;
    }
    struct hb_ws_session_config cfg = {
        .on_text = on_text, .on_binary = on_binary, .on_close = on_session_close, .user = c};
    c->conn = conn;
    c->worker = this_worker;
    c->session = hb_ws_session_create(&cfg);
    hb_conn_set_handler(conn, &ws_handler);
    hb_conn_set_data(conn, c);
    atomic_fetch_add(&n_open[endpoint(c)], 1);
    link_client(c);
    if (c->room != BBS_CHANNEL) {
        struct join_job *job = hb_xcalloc(1, sizeof(*job));
        job->room = c->room;
        job->after = c->after;
        job->base_id = c->base_id;
        job->is_v1 = c->is_v1;
        c->is_replaying = true;
        hb_conn_queue_work(conn, join_work, join_done, job);
    }
    hb_conn_set_timeout(conn, HEARTBEAT_MS);
    hb_conn_read_start(conn);
    if (early_len > 0)
        (void)hb_ws_session_feed(c->session, early, early_len);
    flush_client(c);
}

/* ---- the handshake (an HTTP handler) ---- */

static int reject(struct hb_http_response *res, int status)
{
    res->status = status;
    res->content_type = NULL;
    hb_buf_reset(&res->body);
    return 0;
}

static int handshake(struct hb_http_request *req, struct hb_http_response *res, int64_t room)
{
    struct hb_app *app = req->app;
    struct hb_str protocols[16];
    size_t n_protocols = 0;
    for (int i = 0; i < req->n_headers && n_protocols < 16; i++) {
        if (hb_str_ieq(req->headers[i].name, HB_STR("sec-websocket-protocol")))
            protocols[n_protocols++] = req->headers[i].value;
    }
    struct hb_ws_handshake_request hreq = {
        .method = req->method_name,
        .upgrade = hb_http_request_header(req, "upgrade"),
        .connection = hb_http_request_header(req, "connection"),
        .version = hb_http_request_header(req, "sec-websocket-version"),
        .key = hb_http_request_header(req, "sec-websocket-key"),
        .protocols = protocols,
        .n_protocols = n_protocols,
    };
    struct hb_ws_handshake hs;
    if (hb_ws_handshake_check(&hreq, &hs) != 0) {
        if (hs.reject_header_name != NULL)
            hb_http_response_header(res, hs.reject_header_name, hs.reject_header_value);
        return reject(res, hs.status);
    }
    /* The access token from the subprotocol, checked before any 101 (API.md §6.1). */
    struct hb_jwt_claims claims;
    const char *reason = NULL;
    struct hb_store_user u;
    int64_t base_id = 0;
    if (hb_jwt_decode(&app->jwt_key, hs.token.ptr, hs.token.len, hb_clock_unix_us() / 1000000,
                      &claims, &reason) != 0 ||
        claims.token_type != HB_JWT_TYPE_ACCESS || claims.user_state != HB_JWT_USER_OK ||
        hb_store_user_get(hb_app_reader(), claims.user_id, &u) != 0 || !u.is_active)
        return reject(res, 403);
    if (room != BBS_CHANNEL) {
        struct hb_str id = req->params[0];
        int64_t v;
        struct hb_store_meta meta;
        struct hb_buf scratch;
        hb_buf_init(&scratch, (size_t)64 * 1024);
        bool ok = hb_app_parse_int_text(id, &v) == 0 && v > 0 && id.ptr[0] >= '0' &&
                  id.ptr[0] <= '9' && hb_store_room_get(hb_app_reader(), v, &meta, &scratch) == 0;
        hb_buf_release(&scratch);
        if (!ok)
            return reject(res, 403);
        room = v;
        /* Read before the socket subscribes, which it does after this handler: a message after
         * this id reaches it live, and one up to it may still be on its way through Redis when
         * the socket's join starts this instance's sequencer for the room (at this id). Read at
         * the join instead, such a message would be taken for one already delivered. */
        if (hb_store_chatlog_last(hb_app_reader(), room, &base_id) != 0)
            return reject(res, 500);
    }
    int64_t after = -1;
    struct hb_str after_text;
    if (hb_http_url_param(req->arena, req->query, "after", &after_text) &&
        (hb_app_parse_int_text(after_text, &after) != 0 || after < 0))
        return reject(res, 400);

    struct hb_buf head;
    hb_buf_init(&head, 4096);
    if (hb_ws_handshake_write_response(&hs, &head) < 0) {
        hb_buf_release(&head);
        return reject(res, 500);
    }
    struct client *c = hb_xcalloc(1, sizeof(*c));
    c->room = room;
    c->user_id = u.id;
    snprintf(c->username, sizeof(c->username), "%s", u.username);
    c->after = room == BBS_CHANNEL ? -1 : after;
    c->base_id = base_id;
    c->is_v1 = hs.mode == HB_WS_MODE_V1;
    hb_http_server_upgrade(req, res, head.data, head.len, ws_start, c);
    hb_buf_release(&head);
    return 0;
}

int hb_app_ws_chat(struct hb_http_request *req, struct hb_http_response *res)
{
    return handshake(req, res, -1);
}

int hb_app_ws_bbs(struct hb_http_request *req, struct hb_http_response *res)
{
    return handshake(req, res, BBS_CHANNEL);
}

/* ---- process and worker lifecycle ---- */

void hb_app_ws_deliver_message(int64_t room, int64_t id, const char *seed, size_t seed_len,
                               const char *v1, size_t v1_len)
{
    if (hub == NULL)
        return;
    struct hb_str s = {.ptr = seed, .len = seed_len};
    struct hb_str v = {.ptr = v1, .len = v1_len};
    publish(room, event_create(EV_MESSAGE, id, &s, &v));
}

void hb_app_ws_deliver_bbs(const char *json, size_t len)
{
    if (hub == NULL)
        return;
    struct hb_str b = {.ptr = json, .len = len};
    publish(BBS_CHANNEL, event_create(EV_BBS, 0, NULL, &b));
}

void hb_app_ws_deliver_room_gone(int64_t room)
{
    if (hub != NULL && room != BBS_CHANNEL)
        publish(room, event_create(EV_ROOM_GONE, 0, NULL, NULL));
}

void hb_app_ws_bbs_publish(const char *json, size_t len, int64_t seq)
{
    hb_app_relay_bbs(json, len, seq);
}

void hb_app_ws_room_deleted(int64_t room)
{
    hb_app_relay_room_gone(room);
}

static void ws_metrics(struct hb_buf *out)
{
    static const char *const names[2] = {"chat", "bbs"};
    (void)hb_buf_append_str(out, "# HELP hiroba_ws_connections_open Open WebSockets.\n"
                                 "# TYPE hiroba_ws_connections_open gauge\n");
    for (int i = 0; i < 2; i++)
        (void)hb_buf_printf(out, "hiroba_ws_connections_open{endpoint=\"%s\"} %ld\n", names[i],
                            atomic_load(&n_open[i]));
    (void)hb_buf_append_str(out, "# HELP hiroba_ws_messages_fanned_out_total Frames queued.\n"
                                 "# TYPE hiroba_ws_messages_fanned_out_total counter\n");
    for (int i = 0; i < 2; i++)
        (void)hb_buf_printf(out, "hiroba_ws_messages_fanned_out_total{endpoint=\"%s\"} %ld\n",
                            names[i], atomic_load(&n_fanned[i]));
    (void)hb_buf_append_str(out, "# HELP hiroba_ws_messages_dropped_total Frames not queued.\n"
                                 "# TYPE hiroba_ws_messages_dropped_total counter\n");
    for (int i = 0; i < 2; i++)
        (void)hb_buf_printf(out, "hiroba_ws_messages_dropped_total{endpoint=\"%s\"} %ld\n",
                            names[i], atomic_load(&n_dropped[i]));
}

void hb_app_ws_start(struct hb_app *app)
{
    static const struct hb_hub_payload_ops ops = {event_ref, event_unref};
    ws_app = app;
    hub = hb_hub_create(app->cfg.workers, &ops, deliver);
    hb_hub_set_batch_end(hub, deliver_batch_end);
    hb_http_metrics_set_extra(ws_metrics);
}

void hb_app_ws_stop(void)
{
    hb_hub_destroy(hub);
    hub = NULL;
}

void hb_app_ws_worker_start(struct hb_net_worker *worker)
{
    this_worker = hb_xcalloc(1, sizeof(*this_worker));
    hb_hub_attach(hub, hb_net_worker_index(worker), hb_net_worker_loop(worker), this_worker);
}

void hb_app_ws_worker_stop(struct hb_net_worker *worker)
{
    hb_hub_detach(hub, hb_net_worker_index(worker));
    free(this_worker);
    this_worker = NULL;
}
