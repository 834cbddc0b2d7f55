/* SPDX-License-Identifier: MIT */
/* The Redis bridge (pubsub layer): a bridge thread with its own uv loop drives two hiredis async
 * connections to one Redis, a subscriber and a publisher, as one session that is ready only when
 * both are. Any failure of either tears the whole session down and a backoff timer starts a new
 * one, so there is a single state machine and on_ready/on_lost alternate strictly. hiredis
 * contexts are never freed from inside a hiredis callback: failed ones go on a reap list that a
 * zero-delay timer empties, because hiredis 0.14 runs connect callbacks outside its own
 * "in callback" guard and would touch a context freed under it. */
#include "pubsub/pubsub_redis.h"

#include <arpa/inet.h>
#include <assert.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <uv.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"
#include "core/str.h"

#define DEFAULT_MAX_MSGS   10000
#define DEFAULT_MAX_BYTES  (16u << 20)
#define DEFAULT_TIMEOUT_MS 1000
#define BACKOFF_MIN_MS     50
#define BACKOFF_MAX_MS     2000
#define PING_EVERY_MS      250
#define WINDOW_MSGS        1000
#define WINDOW_BYTES       (1u << 20)
#define MAX_URL_LEN        2048

/* ---- URL parsing ---- */

static bool has_prefix_ci(const char *s, const char *prefix)
{
    return strncasecmp(s, prefix, strlen(prefix)) == 0;
}

/* Percent-decodes s[0..len) into dst (cap bytes including the NUL). Returns NULL or why not. */
static const char *decode_into(char *dst, size_t cap, const char *s, size_t len,
                               const char *too_long)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '%') {
            int hi = i + 2 < len ? hb_hex_digit(s[i + 1]) : -1;
            int lo = i + 2 < len ? hb_hex_digit(s[i + 2]) : -1;
            if (hi < 0 || lo < 0)
                return "bad percent-encoding in the username or password";
            c = (char)(hi * 16 + lo);
            if (c == '\0')
                return "the username or password holds a NUL byte";
            i += 2;
        }
        if (n + 1 >= cap)
            return too_long;
        dst[n++] = c;
    }
    dst[n] = '\0';
    return NULL;
}

/* Parses a database number: digits only, at most 9 of them (so it fits an int). */
static const char *parse_db(const char *s, size_t len, int *db)
{
    if (len == 0 || len > 9)
        return "the database must be a number (redis://host:6379/0)";
    int v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return "the database must be a number (redis://host:6379/0)";
        v = v * 10 + (s[i] - '0');
    }
    *db = v;
    return NULL;
}

static const char *parse_port(const char *s, size_t len, int *port)
{
    int v = 0;
    if (len == 0 || len > 5)
        return "the port must be a number from 1 to 65535";
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return "the port must be a number from 1 to 65535";
        v = v * 10 + (s[i] - '0');
    }
    if (v < 1 || v > 65535)
        return "the port must be a number from 1 to 65535";
    *port = v;
    return NULL;
}

static const char *parse_host(const char *s, size_t len, struct hb_redis_url *out)
{
    const char *port = NULL;
    size_t port_len = 0;
    if (len > 0 && s[0] == '[') {
        const char *close = memchr(s, ']', len);
        if (close == NULL)
            return "an IPv6 host needs its closing bracket";
        size_t host_len = (size_t)(close - s) - 1;
        if (host_len == 0 || host_len >= INET6_ADDRSTRLEN)
            return "bad IPv6 address";
        memcpy(out->host, s + 1, host_len);
        out->host[host_len] = '\0';
        struct in6_addr addr;
        if (inet_pton(AF_INET6, out->host, &addr) != 1)
            return "bad IPv6 address";
        size_t rest = len - (size_t)(close + 1 - s);
        if (rest > 0) {
            if (close[1] != ':')
                return "unexpected text after the IPv6 address";
            port = close + 2;
            port_len = rest - 1;
        }
    } else {
        const char *colon = memchr(s, ':', len);
        size_t host_len = colon != NULL ? (size_t)(colon - s) : len;
        if (colon != NULL) {
            port = colon + 1;
            port_len = len - host_len - 1;
            if (memchr(port, ':', port_len) != NULL)
                return "an IPv6 host must be in brackets: redis://[::1]:6379";
        }
        if (host_len == 0)
            return "missing host (redis://host:6379)";
        if (host_len >= sizeof(out->host))
            return "the host name is too long";
        for (size_t i = 0; i < host_len; i++) {
            char c = s[i];
            bool is_ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                         (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_';
            if (!is_ok)
                return "the host name holds a character other than letters, digits, '-', '.', '_'";
        }
        memcpy(out->host, s, host_len);
        out->host[host_len] = '\0';
    }
    if (port != NULL)
        return parse_port(port, port_len, &out->port);
    return NULL;
}

/* The query string: only db=N, as redis-py also accepts it. */
static const char *parse_query(const char *s, bool has_db, struct hb_redis_url *out)
{
    while (*s != '\0') {
        const char *amp = strchr(s, '&');
        size_t len = amp != NULL ? (size_t)(amp - s) : strlen(s);
        if (len < 3 || memcmp(s, "db=", 3) != 0)
            return "unsupported url parameter (only ?db=N is understood)";
        if (has_db)
            return "the database is given twice";
        const char *why = parse_db(s + 3, len - 3, &out->db);
        if (why != NULL)
            return why;
        has_db = true;
        s += len + (amp != NULL);
    }
    return NULL;
}

static const char *parse_url(const char *url, struct hb_redis_url *out)
{
    memset(out, 0, sizeof(*out));
    out->port = 6379;
    if (url == NULL || url[0] == '\0')
        return "empty url";
    size_t url_len = strlen(url);
    if (url_len > MAX_URL_LEN)
        return "the url is too long";
    for (size_t i = 0; i < url_len; i++) {
        unsigned char c = (unsigned char)url[i];
        if (c <= 0x20 || c == 0x7f)
            return "the url holds a space or a control character";
    }
    if (strchr(url, '#') != NULL)
        return "the url holds a '#' (percent-encode it as %23 in a password)";

    const char *p;
    if (has_prefix_ci(url, "redis://")) {
        p = url + 8;
    } else if (has_prefix_ci(url, "unix://")) {
        p = url + 7;
        out->is_unix = true;
    } else if (has_prefix_ci(url, "rediss://")) {
        return "rediss:// (TLS) is not supported";
    } else {
        return "the url must start with redis:// or unix://";
    }

    /* Authority up to the first '/', path up to '?', then the query (RFC 3986 §3). */
    const char *query = strchr(p, '?');
    const char *end = query != NULL ? query : p + strlen(p);
    const char *slash = memchr(p, '/', (size_t)(end - p));
    const char *auth_end = slash != NULL ? slash : end;
    const char *at = NULL;
    for (const char *c = p; c < auth_end; c++)
        if (*c == '@')
            at = c;
    if (at != NULL) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        if (colon == NULL)
            return "put the password after a colon: redis://:password@host";
        const char *why = decode_into(out->username, sizeof(out->username), p, (size_t)(colon - p),
                                      "the username is too long");
        if (why == NULL)
            why = decode_into(out->password, sizeof(out->password), colon + 1,
                              (size_t)(at - colon - 1), "the password is too long");
        if (why != NULL)
            return why;
        p = at + 1;
    }

    bool has_db = false;
    if (out->is_unix) {
        if (p != auth_end)
            return "a unix:// url takes no host: unix:///path/to/redis.sock";
        size_t path_len = (size_t)(end - auth_end);
        if (path_len < 2)
            return "missing socket path: unix:///path/to/redis.sock";
        if (path_len >= sizeof(out->path))
            return "the socket path is too long";
        memcpy(out->path, auth_end, path_len);
        out->path[path_len] = '\0';
    } else {
        const char *why = parse_host(p, (size_t)(auth_end - p), out);
        if (why != NULL)
            return why;
        if (slash != NULL && end - slash > 1) {
            why = parse_db(slash + 1, (size_t)(end - slash - 1), &out->db);
            if (why != NULL)
                return why;
            has_db = true;
        }
    }
    if (query != NULL)
        return parse_query(query + 1, has_db, out);
    return NULL;
}

int hb_redis_parse_url(const char *url, struct hb_redis_url *out, const char **why)
{
    const char *reason = parse_url(url, out);
    if (reason == NULL)
        return 0;
    explicit_bzero(out, sizeof(*out));
    if (why != NULL)
        *why = reason;
    return HB_EINVAL;
}

/* ---- The bridge ---- */

/* One queued PUBLISH: the channel with its NUL, then the data bytes. */
struct msg {
    struct msg *next;
    size_t channel_len;
    size_t data_len;
    char bytes[];
};

enum state { ST_WAITING, ST_CONNECTING, ST_READY, ST_STOPPED };

/* A connection's setup steps, in order; each waits for its reply. */
enum step { STEP_CONNECTING, STEP_AUTH, STEP_SELECT, STEP_FINAL, STEP_DONE };

/* One hiredis connection and the uv poll handle that stands in for hiredis's libuv adapter. */
struct link {
    struct hb_redis *r;
    redisAsyncContext *ac; /* NULL once hiredis has started freeing it */
    uv_poll_t poll;
    int events;
    int refs; /* one for the open poll handle, one while on the reap list */
    bool is_sub;
    bool is_zombie; /* no longer part of the session: callbacks only settle accounts */
    enum step step;
    int n_subscribed;
    struct link *next_reap;
};

struct resolve {
    uv_getaddrinfo_t req;
    struct hb_redis *r;
};

struct hb_redis {
    struct hb_redis_url url;
    char where[300]; /* host:port or the socket path, for logs (never the password) */
    char **channels;
    int n_channels;
    const char **sub_argv;
    size_t *sub_argv_len;
    void (*on_message)(void *ctx, const char *channel, const char *data, size_t len);
    void (*on_ready)(void *ctx, bool is_reconnect);
    void (*on_lost)(void *ctx);
    void *ctx;
    size_t max_msgs;
    size_t max_bytes;
    uint64_t timeout_ms;

    uv_thread_t thread;
    uv_loop_t loop;
    uv_async_t wakeup;
    uv_timer_t retry_timer;
    uv_timer_t watchdog;
    uv_timer_t reap_timer;

    /* Shared with publishing threads, under lock. In flight = sent, reply not yet seen. */
    pthread_mutex_t lock;
    struct msg *head, *tail;
    size_t n_queued, queued_bytes;
    size_t n_inflight, inflight_bytes;
    bool is_stopping;

    /* Bridge thread only. */
    enum state state;
    struct link *sub, *pub;
    struct link *reap_list;
    struct resolve *resolving;
    unsigned backoff_ms;
    uint64_t rng;
    uint64_t attempt_start_ms;
    uint64_t lost_at_ms;
    uint64_t last_reply_ms; /* of the publish connection, or when it last went from idle to busy */
    uint64_t last_ping_ms;
    unsigned n_outstanding; /* commands on the publish connection awaiting a reply */
    bool is_ping_pending;
    bool has_been_ready;
    bool is_failure_logged; /* a failure since the last ready was logged: stay quiet */
    bool is_refusal_logged;

    atomic_bool is_ready;
    atomic_uint_least64_t published, received, dropped, reconnects, pending;
};

static void fail_session(struct hb_redis *r, const char *reason);
static void link_advance(struct link *l);
static void on_reap(uv_timer_t *timer);
static void flush(struct hb_redis *r);

static void failf(struct hb_redis *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void failf(struct hb_redis *r, const char *fmt, ...)
{
    char reason[256];
    va_list ap;
    va_start(ap, fmt);
    /* NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized): clang 14 false positive */
    (void)vsnprintf(reason, sizeof(reason), fmt, ap);
    va_end(ap);
    fail_session(r, reason);
}

/* The event hooks. hiredis's own libuv adapter ignores a poll status < 0, which is how libuv
 * reports POLLERR (and then stops the handle): a refused connect would hang until the timeout.
 * Here such an event becomes a read and a write, so hiredis reads the socket error itself. */
static void on_poll(uv_poll_t *poll, int status, int events)
{
    struct link *l = poll->data;
    if (status < 0)
        events = UV_READABLE | UV_WRITABLE;
    if (l->ac != NULL && (events & UV_READABLE))
        redisAsyncHandleRead(l->ac);
    if (l->ac != NULL && (events & UV_WRITABLE))
        redisAsyncHandleWrite(l->ac);
}

static void poll_update(struct link *l, int add, int remove)
{
    l->events = (l->events | add) & ~remove;
    if (l->events != 0)
        (void)uv_poll_start(&l->poll, l->events, on_poll);
    else
        (void)uv_poll_stop(&l->poll);
}

static void ev_add_read(void *data)
{
    poll_update(data, UV_READABLE, 0);
}

static void ev_del_read(void *data)
{
    poll_update(data, 0, UV_READABLE);
}

static void ev_add_write(void *data)
{
    poll_update(data, UV_WRITABLE, 0);
}

static void ev_del_write(void *data)
{
    poll_update(data, 0, UV_WRITABLE);
}

static void link_unref(struct link *l)
{
    assert(l->refs > 0);
    if (--l->refs == 0)
        free(l);
}

static void on_poll_closed(uv_handle_t *handle)
{
    link_unref(handle->data);
}

/* hiredis calls this just before it frees the context, from whichever path freed it. */
static void ev_cleanup(void *data)
{
    struct link *l = data;
    redisAsyncContext *ac = l->ac;
    if (ac == NULL)
        return;
    ac->ev.addRead = ac->ev.delRead = ac->ev.addWrite = ac->ev.delWrite = NULL;
    ac->ev.cleanup = NULL;
    l->ac = NULL;
    uv_close((uv_handle_t *)&l->poll, on_poll_closed);
}

/* Takes l out of the session; the reap timer frees its context outside any hiredis callback. */
static void zombify(struct hb_redis *r, struct link *l)
{
    l->is_zombie = true;
    l->refs++;
    l->next_reap = r->reap_list;
    r->reap_list = l;
    (void)uv_timer_start(&r->reap_timer, on_reap, 0, 0);
}

static void reap(struct hb_redis *r)
{
    while (r->reap_list != NULL) {
        struct link *l = r->reap_list;
        r->reap_list = l->next_reap;
        if (l->ac != NULL)
            redisAsyncFree(l->ac); /* runs ev_cleanup */
        assert(l->ac == NULL);
        link_unref(l);
    }
}

static void on_reap(uv_timer_t *timer)
{
    reap(timer->data);
}

/* Accounts for a sent publish: acknowledged, or given up. Returns whether more are queued. */
static bool settle(struct hb_redis *r, size_t size, bool is_acked)
{
    pthread_mutex_lock(&r->lock);
    assert(r->n_inflight > 0 && r->inflight_bytes >= size);
    r->n_inflight--;
    r->inflight_bytes -= size;
    bool has_queued = r->head != NULL;
    pthread_mutex_unlock(&r->lock);
    atomic_fetch_sub(&r->pending, 1);
    atomic_fetch_add(is_acked ? &r->published : &r->dropped, 1);
    return has_queued;
}

static void note_reply(struct hb_redis *r)
{
    assert(r->n_outstanding > 0);
    r->n_outstanding--;
    r->last_reply_ms = uv_now(&r->loop);
}

/* Before a command on the publish connection: the no-reply clock starts when it becomes busy. */
static void note_command(struct hb_redis *r)
{
    if (r->n_outstanding++ == 0)
        r->last_reply_ms = uv_now(&r->loop);
}

static void on_published(redisAsyncContext *ac, void *reply, void *privdata)
{
    struct link *l = ac->data;
    struct hb_redis *r = l->r;
    const redisReply *rep = reply;
    bool is_acked = rep != NULL && rep->type != REDIS_REPLY_ERROR;
    bool has_queued = settle(r, (size_t)(uintptr_t)privdata, is_acked);
    if (l->is_zombie || rep == NULL)
        return;
    note_reply(r);
    if (!is_acked && !r->is_refusal_logged) {
        hb_log_warn("redis '%s': PUBLISH refused: %s", r->where, rep->str);
        r->is_refusal_logged = true;
    }
    /* Refill the window once half of it is acknowledged. */
    if (has_queued && r->n_outstanding <= WINDOW_MSGS / 2)
        flush(r);
}

/* Sends queued publishes, only when ready and only up to a window of unacknowledged ones: what
 * hiredis holds when a connection fails is lost (it may or may not have reached Redis), while
 * what is still queued is sent after the reconnect. */
static void flush(struct hb_redis *r)
{
    if (r->state != ST_READY)
        return;
    pthread_mutex_lock(&r->lock);
    struct msg *list = NULL, **tail = &list;
    while (r->head != NULL && r->n_inflight < WINDOW_MSGS && r->inflight_bytes < WINDOW_BYTES) {
        struct msg *m = r->head;
        size_t size = m->channel_len + m->data_len;
        r->head = m->next;
        r->n_queued--;
        r->queued_bytes -= size;
        r->n_inflight++;
        r->inflight_bytes += size;
        m->next = NULL;
        *tail = m;
        tail = &m->next;
    }
    if (r->head == NULL)
        r->tail = NULL;
    pthread_mutex_unlock(&r->lock);

    for (struct msg *m = list, *next; m != NULL; m = next) {
        next = m->next;
        size_t size = m->channel_len + m->data_len;
        int rc = REDIS_ERR;
        if (r->pub != NULL) {
            note_command(r);
            /* The reply only needs the size, so the message is freed now: privdata carries the
             * number itself and is never dereferenced. */
            /* NOLINTNEXTLINE(performance-no-int-to-ptr) */
            rc = redisAsyncCommand(r->pub->ac, on_published, (void *)(uintptr_t)size,
                                   "PUBLISH %b %b", m->bytes, m->channel_len,
                                   m->bytes + m->channel_len + 1, m->data_len);
            if (rc != REDIS_OK)
                r->n_outstanding--;
        }
        if (rc != REDIS_OK)
            settle(r, size, false);
        free(m);
    }
}

static void on_pong(redisAsyncContext *ac, void *reply, void *privdata)
{
    (void)privdata;
    struct link *l = ac->data;
    struct hb_redis *r = l->r;
    const redisReply *rep = reply;
    if (l->is_zombie || rep == NULL)
        return;
    note_reply(r);
    r->is_ping_pending = false;
    if (rep->type == REDIS_REPLY_ERROR)
        failf(r, "PING: %s", rep->str);
}

static void check_ready(struct hb_redis *r)
{
    if (r->state != ST_CONNECTING || r->pub == NULL || r->pub->step != STEP_DONE)
        return;
    if (r->n_channels > 0 && (r->sub == NULL || r->sub->step != STEP_DONE))
        return;
    uint64_t now = uv_now(&r->loop);
    r->state = ST_READY;
    r->backoff_ms = BACKOFF_MIN_MS;
    r->last_ping_ms = now;
    r->n_outstanding = 0;
    r->is_ping_pending = false;
    bool is_reconnect = r->has_been_ready;
    r->has_been_ready = true;
    if (is_reconnect) {
        atomic_fetch_add(&r->reconnects, 1);
        hb_log_info("redis '%s': reconnected after %.1f s", r->where,
                    (double)(now - r->lost_at_ms) / 1000.0);
    } else {
        hb_log_info("redis '%s': connected", r->where);
    }
    r->is_failure_logged = false;
    atomic_store(&r->is_ready, true);
    flush(r);
    if (r->on_ready != NULL)
        r->on_ready(r->ctx, is_reconnect);
}

/* Replies to AUTH, SELECT and the publish connection's first PING. */
static void on_setup_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
    (void)privdata;
    struct link *l = ac->data;
    const redisReply *rep = reply;
    if (l->is_zombie || rep == NULL)
        return;
    if (rep->type == REDIS_REPLY_ERROR) {
        const char *cmd = l->step == STEP_AUTH     ? "AUTH"
                          : l->step == STEP_SELECT ? "SELECT"
                                                   : "PING";
        failf(l->r, "%s: %s", cmd, rep->str);
        return;
    }
    link_advance(l);
}

/* Subscription confirmations and messages (RESP2 arrays: kind, channel, payload or count). */
static void on_sub_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
    (void)privdata;
    struct link *l = ac->data;
    struct hb_redis *r = l->r;
    const redisReply *rep = reply;
    if (l->is_zombie || rep == NULL)
        return;
    if (rep->type == REDIS_REPLY_ERROR) {
        failf(r, "SUBSCRIBE: %s", rep->str);
        return;
    }
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements < 3 ||
        rep->element[0]->type != REDIS_REPLY_STRING || rep->element[1]->type != REDIS_REPLY_STRING)
        return;
    const char *kind = rep->element[0]->str;
    if (strcasecmp(kind, "message") == 0 && rep->element[2]->type == REDIS_REPLY_STRING) {
        atomic_fetch_add(&r->received, 1);
        r->on_message(r->ctx, rep->element[1]->str, rep->element[2]->str, rep->element[2]->len);
    } else if (strcasecmp(kind, "subscribe") == 0 && l->step == STEP_FINAL) {
        if (++l->n_subscribed == r->n_channels)
            link_advance(l);
    }
}

/* Sends the next setup command, or marks the connection done. */
static void link_advance(struct link *l)
{
    struct hb_redis *r = l->r;
    const struct hb_redis_url *url = &r->url;
    int rc;
    if (l->step < STEP_AUTH && (url->password[0] != '\0' || url->username[0] != '\0')) {
        l->step = STEP_AUTH;
        if (url->username[0] != '\0')
            rc = redisAsyncCommand(l->ac, on_setup_reply, NULL, "AUTH %s %s", url->username,
                                   url->password);
        else
            rc = redisAsyncCommand(l->ac, on_setup_reply, NULL, "AUTH %s", url->password);
    } else if (l->step < STEP_SELECT && url->db != 0) {
        l->step = STEP_SELECT;
        rc = redisAsyncCommand(l->ac, on_setup_reply, NULL, "SELECT %d", url->db);
    } else if (l->step < STEP_FINAL) {
        /* The publisher's PING proves the server answers commands (NOAUTH shows up here). */
        l->step = STEP_FINAL;
        if (l->is_sub)
            rc = redisAsyncCommandArgv(l->ac, on_sub_reply, NULL, r->n_channels + 1, r->sub_argv,
                                       r->sub_argv_len);
        else
            rc = redisAsyncCommand(l->ac, on_setup_reply, NULL, "PING");
    } else {
        l->step = STEP_DONE;
        check_ready(r);
        return;
    }
    if (rc != REDIS_OK)
        failf(r, "cannot send a command: %s", l->ac->c.errstr);
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    struct link *l = ac->data;
    if (l->is_zombie)
        return;
    if (status != REDIS_OK) {
        /* hiredis copies the error into ac->errstr only after this callback. */
        failf(l->r, "connect: %s", ac->c.errstr[0] != '\0' ? ac->c.errstr : "failed");
        return;
    }
    link_advance(l);
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    (void)status;
    struct link *l = ac->data;
    if (l->is_zombie)
        return;
    failf(l->r, "%s", ac->c.err != 0 ? ac->c.errstr : "connection closed");
}

static struct link *link_open(struct hb_redis *r, const char *ip, bool is_sub)
{
    redisAsyncContext *ac =
        r->url.is_unix ? redisAsyncConnectUnix(r->url.path) : redisAsyncConnect(ip, r->url.port);
    if (ac == NULL) {
        failf(r, "connect: out of memory");
        return NULL;
    }
    if (ac->err != 0) {
        failf(r, "connect: %s", ac->errstr);
        redisAsyncFree(ac);
        return NULL;
    }
    struct link *l = hb_xcalloc(1, sizeof(*l));
    l->r = r;
    l->ac = ac;
    l->is_sub = is_sub;
    l->refs = 1;
    int err = uv_poll_init(&r->loop, &l->poll, ac->c.fd);
    if (err < 0) {
        failf(r, "poll: %s", uv_strerror(err));
        redisAsyncFree(ac);
        free(l);
        return NULL;
    }
    l->poll.data = l;
    ac->data = l;
    ac->ev.data = l;
    ac->ev.addRead = ev_add_read;
    ac->ev.delRead = ev_del_read;
    ac->ev.addWrite = ev_add_write;
    ac->ev.delWrite = ev_del_write;
    ac->ev.cleanup = ev_cleanup;
    /* Setting the connect callback asks for the first write event, which reports the connect. */
    (void)redisAsyncSetConnectCallback(ac, on_connect);
    (void)redisAsyncSetDisconnectCallback(ac, on_disconnect);
    return l;
}

static void open_links(struct hb_redis *r, const char *ip)
{
    r->pub = link_open(r, ip, false);
    if (r->pub != NULL && r->n_channels > 0)
        r->sub = link_open(r, ip, true);
}

/* Prefers IPv4, as hiredis does for names: "localhost" often lists ::1 first while Redis is
 * commonly bound to 127.0.0.1 only. */
static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    struct resolve *rs = req->data;
    struct hb_redis *r = rs->r;
    if (r->resolving == rs && r->state == ST_CONNECTING) {
        r->resolving = NULL;
        const struct addrinfo *pick = NULL;
        for (const struct addrinfo *ai = status == 0 ? res : NULL; ai != NULL; ai = ai->ai_next)
            if (pick == NULL || (ai->ai_family == AF_INET && pick->ai_family != AF_INET))
                pick = ai;
        char ip[INET6_ADDRSTRLEN] = "";
        if (pick != NULL && pick->ai_family == AF_INET)
            (void)uv_ip4_name((const struct sockaddr_in *)(const void *)pick->ai_addr, ip,
                              sizeof(ip));
        else if (pick != NULL && pick->ai_family == AF_INET6)
            (void)uv_ip6_name((const struct sockaddr_in6 *)(const void *)pick->ai_addr, ip,
                              sizeof(ip));
        if (ip[0] != '\0')
            open_links(r, ip);
        else
            failf(r, "resolve: %s", status < 0 ? uv_strerror(status) : "no address");
    }
    uv_freeaddrinfo(res);
    free(rs);
}

static bool is_ip_literal(const char *host)
{
    unsigned char buf[sizeof(struct in6_addr)];
    return inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
}

static void on_watchdog(uv_timer_t *timer);

static void start_attempt(struct hb_redis *r)
{
    r->state = ST_CONNECTING;
    r->attempt_start_ms = uv_now(&r->loop);
    /* The tick bounds how late a timeout is noticed: 10% of it, at most 100 ms. */
    unsigned tick_ms = (unsigned)(r->timeout_ms / 10);
    tick_ms = tick_ms < 10 ? 10 : tick_ms > 100 ? 100 : tick_ms;
    (void)uv_timer_start(&r->watchdog, on_watchdog, tick_ms, tick_ms);
    if (r->url.is_unix || is_ip_literal(r->url.host)) {
        open_links(r, r->url.host);
        return;
    }
    /* getaddrinfo blocks: it runs on libuv's thread pool, never on the bridge loop. */
    struct resolve *rs = hb_xcalloc(1, sizeof(*rs));
    rs->r = r;
    rs->req.data = rs;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    int err = uv_getaddrinfo(&r->loop, &rs->req, on_resolved, r->url.host, NULL, &hints);
    if (err < 0) {
        free(rs);
        failf(r, "resolve: %s", uv_strerror(err));
        return;
    }
    r->resolving = rs;
}

static void on_retry(uv_timer_t *timer)
{
    struct hb_redis *r = timer->data;
    if (r->state == ST_WAITING)
        start_attempt(r);
}

static unsigned next_backoff(struct hb_redis *r)
{
    /* xorshift64: jitter only, so that instances restarted together do not retry in step. */
    r->rng ^= r->rng << 13;
    r->rng ^= r->rng >> 7;
    r->rng ^= r->rng << 17;
    unsigned base = r->backoff_ms;
    r->backoff_ms = base * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : base * 2;
    return base / 2 + (unsigned)(r->rng % (base / 2 + 1));
}

/* Ends the current session (idempotent) and leaves the connections to the reaper. */
static void detach_session(struct hb_redis *r)
{
    atomic_store(&r->is_ready, false);
    uv_timer_stop(&r->watchdog);
    if (r->resolving != NULL) {
        (void)uv_cancel((uv_req_t *)&r->resolving->req);
        r->resolving = NULL; /* on_resolved sees it is stale and only frees it */
    }
    if (r->pub != NULL)
        zombify(r, r->pub);
    if (r->sub != NULL)
        zombify(r, r->sub);
    r->pub = r->sub = NULL;
    r->n_outstanding = 0;
    r->is_ping_pending = false;
}

static void fail_session(struct hb_redis *r, const char *reason)
{
    if (r->state != ST_CONNECTING && r->state != ST_READY)
        return;
    bool was_ready = r->state == ST_READY;
    r->state = ST_WAITING;
    detach_session(r);
    if (was_ready) {
        /* One line per loss: the retries that follow stay quiet until the bridge is back. */
        hb_log_warn("redis '%s': connection lost (%s); reconnecting", r->where, reason);
        r->lost_at_ms = uv_now(&r->loop);
        r->is_failure_logged = true;
        if (r->on_lost != NULL)
            r->on_lost(r->ctx);
    } else if (!r->is_failure_logged) {
        hb_log_warn("redis '%s': %s; retrying", r->where, reason);
        r->is_failure_logged = true;
    }
    (void)uv_timer_start(&r->retry_timer, on_retry, next_backoff(r), 0);
}

static void on_watchdog(uv_timer_t *timer)
{
    struct hb_redis *r = timer->data;
    uint64_t now = uv_now(&r->loop);
    if (r->state == ST_CONNECTING) {
        if (now - r->attempt_start_ms >= r->timeout_ms)
            failf(r, "no answer within %llu ms", (unsigned long long)r->timeout_ms);
        return;
    }
    if (r->state != ST_READY)
        return;
    /* A server that is gone without a FIN (a partition, a frozen host) is noticed here. */
    if (r->n_outstanding > 0 && now - r->last_reply_ms >= r->timeout_ms) {
        failf(r, "no reply within %llu ms", (unsigned long long)r->timeout_ms);
        return;
    }
    if (!r->is_ping_pending && now - r->last_ping_ms >= PING_EVERY_MS) {
        note_command(r);
        if (redisAsyncCommand(r->pub->ac, on_pong, NULL, "PING") != REDIS_OK) {
            failf(r, "cannot send PING");
            return;
        }
        r->is_ping_pending = true;
        r->last_ping_ms = now;
    }
}

static void on_wakeup(uv_async_t *async)
{
    struct hb_redis *r = async->data;
    pthread_mutex_lock(&r->lock);
    bool is_stopping = r->is_stopping;
    pthread_mutex_unlock(&r->lock);
    if (!is_stopping) {
        flush(r);
        return;
    }
    if (r->state == ST_STOPPED)
        return;
    r->state = ST_STOPPED;
    detach_session(r);
    reap(r); /* safe here: no hiredis call is on the stack */
    uv_close((uv_handle_t *)&r->wakeup, NULL);
    uv_close((uv_handle_t *)&r->retry_timer, NULL);
    uv_close((uv_handle_t *)&r->watchdog, NULL);
    uv_close((uv_handle_t *)&r->reap_timer, NULL);
}

static void bridge_main(void *arg)
{
    struct hb_redis *r = arg;
    (void)uv_run(&r->loop, UV_RUN_DEFAULT);
}

static void free_bridge(struct hb_redis *r)
{
    for (int i = 0; i < r->n_channels; i++)
        free(r->channels[i]);
    free(r->channels);
    free(r->sub_argv);
    free(r->sub_argv_len);
    explicit_bzero(&r->url, sizeof(r->url));
    pthread_mutex_destroy(&r->lock);
    free(r);
}

static bool is_valid_config(const struct hb_redis_config *cfg)
{
    if (cfg->n_channels < 0)
        return false;
    if (cfg->n_channels > 0 && (cfg->channels == NULL || cfg->on_message == NULL))
        return false;
    for (int i = 0; i < cfg->n_channels; i++)
        if (cfg->channels[i] == NULL || cfg->channels[i][0] == '\0')
            return false;
    return true;
}

int hb_redis_start(const struct hb_redis_config *cfg, struct hb_redis **out)
{
    struct hb_redis_url url;
    if (cfg == NULL || out == NULL || !is_valid_config(cfg))
        return HB_EINVAL;
    if (hb_redis_parse_url(cfg->url, &url, NULL) < 0)
        return HB_EINVAL;

    struct hb_redis *r = hb_xcalloc(1, sizeof(*r));
    r->url = url;
    explicit_bzero(&url, sizeof(url));
    if (r->url.is_unix)
        (void)snprintf(r->where, sizeof(r->where), "%s", r->url.path);
    else if (strchr(r->url.host, ':') != NULL)
        (void)snprintf(r->where, sizeof(r->where), "[%s]:%d", r->url.host, r->url.port);
    else
        (void)snprintf(r->where, sizeof(r->where), "%s:%d", r->url.host, r->url.port);
    r->n_channels = cfg->n_channels;
    r->channels = hb_xcalloc((size_t)cfg->n_channels + 1, sizeof(*r->channels));
    r->sub_argv = hb_xcalloc((size_t)cfg->n_channels + 1, sizeof(*r->sub_argv));
    r->sub_argv_len = hb_xcalloc((size_t)cfg->n_channels + 1, sizeof(*r->sub_argv_len));
    r->sub_argv[0] = "SUBSCRIBE";
    r->sub_argv_len[0] = strlen("SUBSCRIBE");
    for (int i = 0; i < cfg->n_channels; i++) {
        r->channels[i] = hb_xstrdup(cfg->channels[i]);
        r->sub_argv[i + 1] = r->channels[i];
        r->sub_argv_len[i + 1] = strlen(r->channels[i]);
    }
    r->on_message = cfg->on_message;
    r->on_ready = cfg->on_ready;
    r->on_lost = cfg->on_lost;
    r->ctx = cfg->ctx;
    r->max_msgs = cfg->max_queued_msgs != 0 ? cfg->max_queued_msgs : DEFAULT_MAX_MSGS;
    r->max_bytes = cfg->max_queued_bytes != 0 ? cfg->max_queued_bytes : DEFAULT_MAX_BYTES;
    r->timeout_ms = cfg->timeout_ms != 0 ? cfg->timeout_ms : DEFAULT_TIMEOUT_MS;
    r->backoff_ms = BACKOFF_MIN_MS;
    r->rng = hb_clock_mono_ns() ^ (uint64_t)(uintptr_t)r;
    r->rng |= 1;
    r->state = ST_WAITING;
    pthread_mutex_init(&r->lock, NULL);

    int err = uv_loop_init(&r->loop);
    if (err < 0) {
        free_bridge(r);
        return err;
    }
    (void)uv_async_init(&r->loop, &r->wakeup, on_wakeup);
    (void)uv_timer_init(&r->loop, &r->retry_timer);
    (void)uv_timer_init(&r->loop, &r->watchdog);
    (void)uv_timer_init(&r->loop, &r->reap_timer);
    r->wakeup.data = r->retry_timer.data = r->watchdog.data = r;
    r->reap_timer.data = r;
    (void)uv_timer_start(&r->retry_timer, on_retry, 0, 0);

    /* The bridge thread takes no signals: a write to a dead Redis raises SIGPIPE in the writing
     * thread, and while blocked there it leaves write() to fail with EPIPE instead of killing
     * the process; other signals stay with the threads that handle them. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    err = uv_thread_create(&r->thread, bridge_main, r);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (err < 0) {
        uv_close((uv_handle_t *)&r->wakeup, NULL);
        uv_close((uv_handle_t *)&r->retry_timer, NULL);
        uv_close((uv_handle_t *)&r->watchdog, NULL);
        uv_close((uv_handle_t *)&r->reap_timer, NULL);
        (void)uv_run(&r->loop, UV_RUN_DEFAULT);
        (void)uv_loop_close(&r->loop);
        free_bridge(r);
        return err;
    }
    *out = r;
    return 0;
}

void hb_redis_publish(struct hb_redis *r, const char *channel, const char *data, size_t len)
{
    assert(r != NULL && channel != NULL && (data != NULL || len == 0));
    size_t channel_len = strlen(channel);
    size_t size = channel_len + len;
    /* Allocated before taking the lock so publishers hold it only for the append. */
    struct msg *m = size <= r->max_bytes ? malloc(sizeof(*m) + size + 1) : NULL;
    bool is_queued = false;
    if (m != NULL) {
        m->next = NULL;
        m->channel_len = channel_len;
        m->data_len = len;
        memcpy(m->bytes, channel, channel_len + 1);
        if (len > 0)
            memcpy(m->bytes + channel_len + 1, data, len);
        pthread_mutex_lock(&r->lock);
        is_queued = !r->is_stopping && r->n_queued + r->n_inflight < r->max_msgs &&
                    r->queued_bytes + r->inflight_bytes + size <= r->max_bytes;
        if (is_queued) {
            if (r->tail != NULL)
                r->tail->next = m;
            else
                r->head = m;
            r->tail = m;
            r->n_queued++;
            r->queued_bytes += size;
            atomic_fetch_add(&r->pending, 1);
        }
        pthread_mutex_unlock(&r->lock);
    }
    if (!is_queued) {
        free(m);
        atomic_fetch_add(&r->dropped, 1);
        return;
    }
    (void)uv_async_send(&r->wakeup);
}

bool hb_redis_is_ready(const struct hb_redis *r)
{
    return atomic_load(&r->is_ready);
}

void hb_redis_stats(const struct hb_redis *r, struct hb_redis_stats *out)
{
    out->published = atomic_load(&r->published);
    out->received = atomic_load(&r->received);
    out->dropped = atomic_load(&r->dropped);
    out->reconnects = atomic_load(&r->reconnects);
    out->queued = atomic_load(&r->pending);
}

void hb_redis_stop(struct hb_redis *r)
{
    if (r == NULL)
        return;
    pthread_mutex_lock(&r->lock);
    r->is_stopping = true;
    pthread_mutex_unlock(&r->lock);
    (void)uv_async_send(&r->wakeup);
    (void)uv_thread_join(&r->thread);
    int err = uv_loop_close(&r->loop);
    assert(err == 0);
    (void)err;
    assert(r->n_inflight == 0);
    for (struct msg *m = r->head, *next; m != NULL; m = next) {
        next = m->next;
        atomic_fetch_sub(&r->pending, 1);
        atomic_fetch_add(&r->dropped, 1);
        free(m);
    }
    free_bridge(r);
}
