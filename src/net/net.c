/* SPDX-License-Identifier: MIT */
/* Worker loops, SO_REUSEPORT listeners and connections over libuv (net layer).
 * Invariants: a conn is touched only on its worker's thread; it is freed in the close callback
 * of its last uv handle, after on_close, and only when no thread-pool work still refers to it. */
#include "net/net.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "core/alloc.h"
#include "core/err.h"
#include "core/log.h"

#define OUT_MAX           ((size_t)64 * 1024 * 1024)
#define LINGER_MS         2000
#define REFUSED_LINGER_MS 1000

_Static_assert(HB_NET_EOF == UV_EOF, "HB_NET_EOF is libuv's UV_EOF");
_Static_assert(HB_NET_NOBUFS == UV_ENOBUFS, "HB_NET_NOBUFS is libuv's UV_ENOBUFS");

struct hb_conn {
    const struct hb_conn_handler *handler; /* the protocol on this connection */
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_timer_t app_timer;
    uv_write_t write_req;
    uv_shutdown_t shutdown_req;
    struct hb_net_worker *worker;
    void *data;
    void (*app_timer_cb)(struct hb_conn *conn);
    uint64_t deadline;       /* loop time the handler's timeout is due; 0: none */
    uint64_t armed_deadline; /* loop time the uv timer fires (<= deadline when armed) */
    struct hb_buf out;       /* appended by the protocol layer */
    struct hb_buf inflight;  /* owned by the queued uv_write */
    struct hb_conn *prev, *next;
    int n_handles_open;
    int n_work; /* thread-pool jobs still referring to the conn */
    bool is_reading;
    bool is_writing;
    bool is_closing;
    bool is_lingering;
    bool close_after_write;
    bool has_on_close_run;
    bool is_counted_per_ip; /* holds a slot in the per-address table */
    unsigned char peer_key[16];
    char peer[INET6_ADDRSTRLEN];
};

struct hb_net_worker {
    struct hb_net *net;
    int index;
    uv_loop_t loop;
    uv_tcp_t listener;
    uv_async_t wake;
    uv_timer_t drain_timer;
    uint64_t drain_deadline;
    pthread_t thread;
    int fd;
    struct hb_conn *conns; /* list of open conns, for shutdown */
    void *data;
    bool is_stopping;
};

struct hb_net {
    const struct hb_net_config *cfg;
    struct hb_net_worker *workers;
    int max_per_ip; /* 0: no per-address limit */
    /* A copy of cfg->over_capacity (NULL if none): uv_buf_t wants a char *. */
    char *over_capacity;
    size_t over_capacity_len;
};

/* Connections per peer address, across workers: an open-addressed table with linear probing
 * and backward-shift deletion, sized for every connection to come from a different address.
 * Touched only on accept and close of untrusted peers, under one mutex. */
struct ip_slot {
    unsigned char key[16];
    int count; /* 0: empty */
};

static pthread_mutex_t ip_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ip_slot *ip_slots;
static size_t ip_mask;
static size_t ip_used;

static _Atomic long n_open_conns;
static _Atomic int stop_requested;
static _Atomic int bound_port;
static _Atomic int draining;
static uv_async_t *main_wake;
static _Thread_local struct hb_net_worker *current_worker;

long hb_net_open_conns(void)
{
    return atomic_load_explicit(&n_open_conns, memory_order_relaxed);
}

bool hb_net_is_draining(void)
{
    return atomic_load(&draining) != 0;
}

int hb_net_worker_index(const struct hb_net_worker *worker)
{
    return worker->index;
}

void *hb_net_worker_data(const struct hb_net_worker *worker)
{
    return worker->data;
}

void hb_net_worker_set_data(struct hb_net_worker *worker, void *data)
{
    worker->data = data;
}

struct hb_net_worker *hb_net_worker_current(void)
{
    return current_worker;
}

void *hb_net_worker_loop(struct hb_net_worker *worker)
{
    return &worker->loop;
}

void *hb_conn_data(const struct hb_conn *conn)
{
    return conn->data;
}

void hb_conn_set_data(struct hb_conn *conn, void *data)
{
    conn->data = data;
}

struct hb_net_worker *hb_conn_worker(const struct hb_conn *conn)
{
    return conn->worker;
}

const char *hb_conn_peer(const struct hb_conn *conn)
{
    return conn->peer;
}

void hb_conn_set_handler(struct hb_conn *conn, const struct hb_conn_handler *handler)
{
    conn->handler = handler;
}

struct hb_buf *hb_conn_out(struct hb_conn *conn)
{
    return &conn->out;
}

size_t hb_conn_pending(const struct hb_conn *conn)
{
    return conn->out.len + conn->inflight.len;
}

bool hb_conn_is_closing(const struct hb_conn *conn)
{
    return conn->is_closing;
}

/* ---- connections per address ---- */

static size_t ip_hash(const unsigned char *key)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (int i = 0; i < 16; i++)
        h = (h ^ key[i]) * 1099511628211ull;
    return (size_t)h;
}

/* Counts one more connection from key. Returns false (and counts nothing) at the limit. */
static bool ip_acquire(const unsigned char *key, int limit)
{
    bool ok = false;
    pthread_mutex_lock(&ip_lock);
    size_t i = ip_hash(key) & ip_mask;
    while (ip_slots[i].count > 0 && memcmp(ip_slots[i].key, key, 16) != 0)
        i = (i + 1) & ip_mask;
    if (ip_slots[i].count == 0 && 2 * (ip_used + 1) > ip_mask + 1) {
        ok = false; /* cannot happen while the table is sized for every connection */
    } else if (ip_slots[i].count < limit) {
        if (ip_slots[i].count == 0)
            ip_used++;
        memcpy(ip_slots[i].key, key, 16);
        ip_slots[i].count++;
        ok = true;
    }
    pthread_mutex_unlock(&ip_lock);
    return ok;
}

static void ip_release(const unsigned char *key)
{
    pthread_mutex_lock(&ip_lock);
    size_t i = ip_hash(key) & ip_mask;
    while (ip_slots[i].count > 0 && memcmp(ip_slots[i].key, key, 16) != 0)
        i = (i + 1) & ip_mask;
    assert(ip_slots[i].count > 0);
    if (ip_slots[i].count > 0 && --ip_slots[i].count == 0) {
        ip_used--;
        /* Backward-shift deletion keeps every probe chain unbroken. */
        size_t hole = i;
        for (size_t j = (i + 1) & ip_mask; ip_slots[j].count > 0; j = (j + 1) & ip_mask) {
            size_t home = ip_hash(ip_slots[j].key) & ip_mask;
            if (((j - home) & ip_mask) >= ((j - hole) & ip_mask)) {
                ip_slots[hole] = ip_slots[j];
                ip_slots[j].count = 0;
                hole = j;
            }
        }
    }
    pthread_mutex_unlock(&ip_lock);
}

/* The peer as a 16-byte key (IPv4 as v4-mapped IPv6) and as text. Returns false when unknown. */
static bool peer_address(uv_tcp_t *tcp, unsigned char key[16], char *text, size_t text_len)
{
    struct sockaddr_storage ss;
    int ss_len = sizeof(ss);
    if (uv_tcp_getpeername(tcp, (struct sockaddr *)&ss, &ss_len) != 0)
        return false;
    memset(key, 0, 16);
    if (ss.ss_family == AF_INET) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)&ss;
        key[10] = key[11] = 0xff;
        memcpy(key + 12, &sin->sin_addr, 4);
        uv_ip4_name(sin, text, text_len);
    } else {
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&ss;
        memcpy(key, &sin6->sin6_addr, 16);
        uv_ip6_name(sin6, text, text_len);
    }
    return true;
}

static bool is_trusted_peer(const struct hb_net_config *cfg, const unsigned char key[16],
                            const char *text)
{
    if (cfg->trusted_peers == NULL) {
        static const unsigned char v4_mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        static const unsigned char v6_loopback[16] = {0, 0, 0, 0, 0, 0, 0, 0,
                                                      0, 0, 0, 0, 0, 0, 0, 1};
        return (memcmp(key, v4_mapped, 12) == 0 && key[12] == 127) ||
               memcmp(key, v6_loopback, 16) == 0;
    }
    for (int i = 0; i < cfg->n_trusted_peers; i++) {
        if (strcmp(cfg->trusted_peers[i], text) == 0)
            return true;
    }
    return false;
}

/* ---- closing ---- */

static void conn_free_if_done(struct hb_conn *conn)
{
    if (conn->n_handles_open > 0 || conn->n_work > 0)
        return;
    hb_buf_release(&conn->out);
    hb_buf_release(&conn->inflight);
    free(conn);
}

static void on_handle_closed(uv_handle_t *handle)
{
    struct hb_conn *conn = handle->data;
    if (--conn->n_handles_open == 0) {
        if (!conn->has_on_close_run) {
            conn->has_on_close_run = true;
            conn->handler->on_close(conn);
            conn->data = NULL;
        }
        atomic_fetch_sub_explicit(&n_open_conns, 1, memory_order_relaxed);
        if (conn->is_counted_per_ip) {
            conn->is_counted_per_ip = false;
            ip_release(conn->peer_key);
        }
    }
    conn_free_if_done(conn);
}

void hb_conn_close(struct hb_conn *conn)
{
    if (conn->is_closing)
        return;
    conn->is_closing = true;
    if (conn->prev != NULL)
        conn->prev->next = conn->next;
    else
        conn->worker->conns = conn->next;
    if (conn->next != NULL)
        conn->next->prev = conn->prev;
    conn->prev = conn->next = NULL;
    uv_close((uv_handle_t *)&conn->tcp, on_handle_closed);
    uv_close((uv_handle_t *)&conn->timer, on_handle_closed);
    uv_close((uv_handle_t *)&conn->app_timer, on_handle_closed);
}

static void on_linger_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    struct hb_conn *conn = stream->data;
    free(buf->base);
    if (nread < 0)
        hb_conn_close(conn);
}

static void linger_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
    (void)handle;
    (void)suggested;
    buf->base = hb_xmalloc(4096);
    buf->len = 4096;
}

static void on_linger_timeout(uv_timer_t *timer)
{
    hb_conn_close(timer->data);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    struct hb_conn *conn = req->data;
    if (status < 0 || conn->is_closing) {
        hb_conn_close(conn);
        return;
    }
    /* Read and discard until the peer closes, so unread input does not turn our close into a
     * reset that could destroy the response before the peer reads it. */
    conn->is_lingering = true;
    uv_timer_start(&conn->timer, on_linger_timeout, LINGER_MS, 0);
    uv_read_stop((uv_stream_t *)&conn->tcp);
    if (uv_read_start((uv_stream_t *)&conn->tcp, linger_alloc, on_linger_read) != 0)
        hb_conn_close(conn);
}

static void start_linger(struct hb_conn *conn)
{
    conn->shutdown_req.data = conn;
    if (uv_shutdown(&conn->shutdown_req, (uv_stream_t *)&conn->tcp, on_shutdown) != 0)
        hb_conn_close(conn);
}

void hb_conn_close_after_write(struct hb_conn *conn)
{
    if (conn->is_closing || conn->close_after_write)
        return;
    conn->close_after_write = true;
    hb_conn_read_stop(conn);
    if (!conn->is_writing && conn->out.len == 0)
        start_linger(conn);
}

/* ---- writing ---- */

static void start_write(struct hb_conn *conn);

static void on_write(uv_write_t *req, int status)
{
    struct hb_conn *conn = req->data;
    conn->is_writing = false;
    hb_buf_reset(&conn->inflight);
    if (conn->is_closing)
        return;
    if (status < 0) {
        hb_conn_close(conn);
        return;
    }
    if (conn->out.len > 0) {
        start_write(conn);
        return;
    }
    if (conn->close_after_write) {
        start_linger(conn);
        return;
    }
    if (conn->handler->on_drain != NULL)
        conn->handler->on_drain(conn);
}

static void start_write(struct hb_conn *conn)
{
    /* Swap buffers: the queued write owns inflight while the protocol appends to out. */
    struct hb_buf tmp = conn->inflight;
    conn->inflight = conn->out;
    conn->out = tmp;
    uv_buf_t b = uv_buf_init(conn->inflight.data, (unsigned)conn->inflight.len);
    conn->write_req.data = conn;
    conn->is_writing = true;
    if (uv_write(&conn->write_req, (uv_stream_t *)&conn->tcp, &b, 1, on_write) != 0) {
        conn->is_writing = false;
        hb_conn_close(conn);
    }
}

void hb_conn_flush(struct hb_conn *conn)
{
    if (conn->is_closing || conn->is_writing || conn->out.len == 0)
        return;
    /* Most responses fit the socket buffer: one write(2), no queued request. */
    uv_buf_t b = uv_buf_init(conn->out.data, (unsigned)conn->out.len);
    int n = uv_try_write((uv_stream_t *)&conn->tcp, &b, 1);
    if (n == (int)conn->out.len) {
        hb_buf_reset(&conn->out);
        if (conn->close_after_write)
            start_linger(conn);
        return;
    }
    if (n < 0 && n != UV_EAGAIN) {
        hb_conn_close(conn);
        return;
    }
    if (n > 0)
        hb_buf_consume(&conn->out, (size_t)n);
    start_write(conn);
}

/* ---- reading ---- */

static void on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
    struct hb_conn *conn = handle->data;
    char *base = NULL;
    size_t len = 0;
    (void)suggested;
    conn->handler->on_alloc(conn, &base, &len);
    buf->base = base;
    buf->len = len;
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    struct hb_conn *conn = stream->data;
    (void)buf;
    if (nread == 0 || conn->is_closing)
        return;
    if (nread == UV_ENOBUFS) {
        /* The handler had no room: reading stops until it resumes it. */
        hb_conn_read_stop(conn);
    }
    conn->handler->on_read(conn, nread);
}

void hb_conn_read_stop(struct hb_conn *conn)
{
    if (conn->is_reading && !conn->is_lingering) {
        uv_read_stop((uv_stream_t *)&conn->tcp);
        conn->is_reading = false;
    }
}

void hb_conn_read_start(struct hb_conn *conn)
{
    if (conn->is_reading || conn->is_closing || conn->close_after_write)
        return;
    if (uv_read_start((uv_stream_t *)&conn->tcp, on_alloc, on_read) == 0)
        conn->is_reading = true;
    else
        hb_conn_close(conn);
}

/* ---- timers ---- */

/* The connection timer is re-armed after nearly every request (keep-alive, head deadline), so it
 * is lazy: a later deadline than the armed one is only recorded, and when the timer fires early
 * it re-arms itself for the rest. Stopping only clears the deadline. This keeps libuv's timer
 * heap out of the per-request path. */
static void on_timer(uv_timer_t *timer)
{
    struct hb_conn *conn = timer->data;
    if (conn->is_closing || conn->deadline == 0)
        return;
    uint64_t now = uv_now(&conn->worker->loop);
    if (now < conn->deadline) {
        conn->armed_deadline = conn->deadline;
        uv_timer_start(&conn->timer, on_timer, conn->deadline - now, 0);
        return;
    }
    conn->deadline = 0;
    conn->handler->on_timeout(conn);
}

void hb_conn_set_timeout(struct hb_conn *conn, uint64_t timeout_ms)
{
    if (conn->is_closing || conn->is_lingering)
        return;
    if (timeout_ms == 0) {
        conn->deadline = 0;
        return;
    }
    uint64_t deadline = uv_now(&conn->worker->loop) + timeout_ms;
    conn->deadline = deadline;
    if (uv_is_active((uv_handle_t *)&conn->timer) && conn->armed_deadline <= deadline)
        return; /* fires early, then re-arms for the rest */
    conn->armed_deadline = deadline;
    uv_timer_start(&conn->timer, on_timer, timeout_ms, 0);
}

static void on_app_timer(uv_timer_t *timer)
{
    struct hb_conn *conn = timer->data;
    if (!conn->is_closing && conn->app_timer_cb != NULL)
        conn->app_timer_cb(conn);
}

void hb_conn_set_app_timer(struct hb_conn *conn, uint64_t timeout_ms,
                           void (*cb)(struct hb_conn *conn))
{
    if (conn->is_closing)
        return;
    conn->app_timer_cb = cb;
    if (timeout_ms == 0 || cb == NULL) {
        uv_timer_stop(&conn->app_timer);
    } else {
        /* From now, not from the loop's cached time (up to a loop turn old): a handler's pause
         * must not end early as measured by its own clock. */
        uv_update_time(&conn->worker->loop);
        uv_timer_start(&conn->app_timer, on_app_timer, timeout_ms, 0);
    }
}

/* ---- thread pool ---- */

struct work {
    uv_work_t req;
    struct hb_conn *conn;
    void (*work)(void *arg);
    void (*done)(struct hb_conn *conn, void *arg);
    void *arg;
};

static void work_run(uv_work_t *req)
{
    struct work *w = req->data;
    w->work(w->arg);
}

/* The job is done: its done callback, then the conn may go. */
static void work_finish(struct work *w)
{
    struct hb_conn *conn = w->conn;
    conn->n_work--;
    w->done(conn, w->arg);
    free(w);
    conn_free_if_done(conn);
}

static void work_after(uv_work_t *req, int status)
{
    (void)status;
    work_finish(req->data);
}

static struct work *work_create(struct hb_conn *conn, void (*work)(void *arg),
                                void (*done)(struct hb_conn *conn, void *arg), void *arg)
{
    struct work *w = hb_xcalloc(1, sizeof(*w));
    w->req.data = w;
    w->conn = conn;
    w->work = work;
    w->done = done;
    w->arg = arg;
    conn->n_work++;
    return w;
}

static void work_queue(struct work *w)
{
    if (uv_queue_work(&w->conn->worker->loop, &w->req, work_run, work_after) != 0) {
        /* Cannot happen with a valid loop; run inline rather than lose the callback. */
        w->work(w->arg);
        work_finish(w);
    }
}

void hb_conn_queue_work(struct hb_conn *conn, void (*work)(void *arg),
                        void (*done)(struct hb_conn *conn, void *arg), void *arg)
{
    work_queue(work_create(conn, work, done, arg));
}

static void fiber_run(void *arg)
{
    struct work *w = arg;
    w->work(w->arg);
    work_finish(w);
}

void hb_conn_run_fiber(struct hb_conn *conn, void (*work)(void *arg),
                       void (*done)(struct hb_conn *conn, void *arg), void *arg)
{
    struct work *w = work_create(conn, work, done, arg);
    struct hb_fiber *f = hb_fiber_create(fiber_run, w);
    if (f != NULL) {
        (void)hb_fiber_resume(f);
        return;
    }
    hb_log_warn("fiber: no stack, running on the thread pool");
    work_queue(w);
}

/* ---- accepting ---- */

/* A refused connection: the over-capacity answer is written, the write side shut down, and
 * input discarded briefly, so the peer reads the answer instead of a reset (its request bytes,
 * unread, would otherwise turn our close into an RST). Not counted in n_open_conns. */
struct refused {
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_write_t write_req;
    uv_shutdown_t shutdown_req;
    int n_handles_open;
    bool is_closing;
};

static void on_refused_closed(uv_handle_t *handle)
{
    struct refused *r = handle->data;
    if (--r->n_handles_open == 0)
        free(r);
}

static void refused_close(struct refused *r)
{
    if (r->is_closing)
        return;
    r->is_closing = true;
    uv_close((uv_handle_t *)&r->tcp, on_refused_closed);
    uv_close((uv_handle_t *)&r->timer, on_refused_closed);
}

static void on_refused_timeout(uv_timer_t *timer)
{
    refused_close(timer->data);
}

static void on_refused_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    free(buf->base);
    if (nread < 0)
        refused_close(stream->data);
}

static void on_refused_shutdown(uv_shutdown_t *req, int status)
{
    struct refused *r = req->data;
    if (status < 0 || r->is_closing ||
        uv_read_start((uv_stream_t *)&r->tcp, linger_alloc, on_refused_read) != 0)
        refused_close(r);
}

static void on_refused_written(uv_write_t *req, int status)
{
    struct refused *r = req->data;
    r->shutdown_req.data = r;
    if (status < 0 || r->is_closing ||
        uv_shutdown(&r->shutdown_req, (uv_stream_t *)&r->tcp, on_refused_shutdown) != 0)
        refused_close(r);
}

/* Accepts the pending connection and answers it with the over-capacity message. */
static void refuse(struct hb_net_worker *worker, uv_stream_t *server)
{
    const struct hb_net *net = worker->net;
    struct refused *r = hb_xcalloc(1, sizeof(*r));
    uv_tcp_init(&worker->loop, &r->tcp);
    uv_timer_init(&worker->loop, &r->timer);
    r->tcp.data = r->timer.data = r->write_req.data = r;
    r->n_handles_open = 2;
    if (uv_accept(server, (uv_stream_t *)&r->tcp) != 0 || net->over_capacity == NULL) {
        refused_close(r);
        return;
    }
    uv_timer_start(&r->timer, on_refused_timeout, REFUSED_LINGER_MS, 0);
    uv_buf_t b = uv_buf_init(net->over_capacity, (unsigned)net->over_capacity_len);
    if (uv_write(&r->write_req, (uv_stream_t *)&r->tcp, &b, 1, on_refused_written) != 0)
        refused_close(r);
}

static void on_connection(uv_stream_t *server, int status)
{
    struct hb_net_worker *worker = server->data;
    const struct hb_net_config *cfg = worker->net->cfg;
    if (status < 0 || worker->is_stopping)
        return;

    long n_open = atomic_load_explicit(&n_open_conns, memory_order_relaxed);
    if (n_open >= cfg->max_conns) {
        refuse(worker, server);
        return;
    }

    struct hb_conn *conn = hb_xcalloc(1, sizeof(*conn));
    conn->worker = worker;
    hb_buf_init(&conn->out, OUT_MAX);
    hb_buf_init(&conn->inflight, OUT_MAX);
    uv_tcp_init(&worker->loop, &conn->tcp);
    uv_timer_init(&worker->loop, &conn->timer);
    uv_timer_init(&worker->loop, &conn->app_timer);
    conn->tcp.data = conn->timer.data = conn->app_timer.data = conn;
    conn->n_handles_open = 3;
    atomic_fetch_add_explicit(&n_open_conns, 1, memory_order_relaxed);
    conn->next = worker->conns;
    if (worker->conns != NULL)
        worker->conns->prev = conn;
    worker->conns = conn;
    conn->has_on_close_run = true; /* until the handler sees it */
    if (uv_accept(server, (uv_stream_t *)&conn->tcp) != 0) {
        hb_conn_close(conn);
        return;
    }
    bool has_peer = peer_address(&conn->tcp, conn->peer_key, conn->peer, sizeof(conn->peer));
    if (has_peer && worker->net->max_per_ip > 0 &&
        !is_trusted_peer(cfg, conn->peer_key, conn->peer)) {
        if (!ip_acquire(conn->peer_key, worker->net->max_per_ip)) {
            /* Over the per-address limit: answer like a full server. */
            if (worker->net->over_capacity != NULL) {
                uv_buf_t b = uv_buf_init(worker->net->over_capacity,
                                         (unsigned)worker->net->over_capacity_len);
                (void)uv_try_write((uv_stream_t *)&conn->tcp, &b, 1);
            }
            hb_conn_close_after_write(conn);
            return;
        }
        conn->is_counted_per_ip = true;
    }
    uv_tcp_nodelay(&conn->tcp, 1);
    conn->has_on_close_run = false;
    conn->handler = cfg->handler;
    cfg->handler->on_open(conn);
    hb_conn_read_start(conn);
}

/* Binds a listening socket for host:port; is_shared sets SO_REUSEPORT. *port is updated to the
 * bound port (for port 0). */
static int bind_listener(const struct hb_net_config *cfg, int *port, bool is_shared, int *out_fd)
{
    struct sockaddr_storage ss;
    socklen_t ss_len;
    memset(&ss, 0, sizeof(ss));
    if (uv_ip4_addr(cfg->host, *port, (struct sockaddr_in *)&ss) == 0) {
        ss_len = sizeof(struct sockaddr_in);
    } else if (uv_ip6_addr(cfg->host, *port, (struct sockaddr_in6 *)&ss) == 0) {
        ss_len = sizeof(struct sockaddr_in6);
    } else {
        hb_log_error("listen '%s:%d': not an IP address", cfg->host, cfg->port);
        return HB_EINVAL;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int one = 1;
    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if ((is_shared && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) ||
        bind(fd, (struct sockaddr *)&ss, ss_len) != 0) {
        int err = -errno;
        hb_log_error("listen '%s:%d': %s", cfg->host, cfg->port, strerror(-err));
        close(fd);
        return err;
    }
    ss_len = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &ss_len) == 0)
        *port = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                              : ((struct sockaddr_in6 *)&ss)->sin6_port);
    *out_fd = fd;
    return 0;
}

/* Binds one SO_REUSEPORT listener per worker. SO_REUSEPORT would also let this process share a
 * port with another process of the same user that is already listening (a second hiroba
 * started by mistake would silently get half the connections), so a probe without it first
 * checks that the address is free. */
static int bind_workers(const struct hb_net_config *cfg, struct hb_net_worker *workers)
{
    int port = cfg->port, probe = -1;
    int err = bind_listener(cfg, &port, false, &probe);
    if (err < 0)
        return err;
    close(probe);
    for (int i = 0; i < cfg->n_workers; i++) {
        err = bind_listener(cfg, &port, true, &workers[i].fd);
        if (err < 0)
            return err;
    }
    atomic_store(&bound_port, port);
    return 0;
}

int hb_net_bound_port(void)
{
    return atomic_load(&bound_port);
}

/* ---- shutdown ---- */

static void on_walk_close(uv_handle_t *handle, void *arg)
{
    (void)arg;
    if (!uv_is_closing(handle))
        uv_close(handle, NULL);
}

static void force_close_all(struct hb_net_worker *worker)
{
    while (worker->conns != NULL)
        hb_conn_close(worker->conns);
}

static void on_drain_timer(uv_timer_t *timer)
{
    struct hb_net_worker *worker = timer->data;
    if (worker->conns != NULL && uv_now(&worker->loop) < worker->drain_deadline)
        return;
    /* Empty, or past the deadline: close what is left and let the loop end. */
    force_close_all(worker);
    uv_close((uv_handle_t *)&worker->drain_timer, NULL);
    uv_close((uv_handle_t *)&worker->wake, NULL);
}

static void on_worker_wake(uv_async_t *async)
{
    struct hb_net_worker *worker = async->data;
    const struct hb_net_config *cfg = worker->net->cfg;
    if (worker->is_stopping)
        return;
    worker->is_stopping = true;
    uv_close((uv_handle_t *)&worker->listener, NULL);
    for (struct hb_conn *c = worker->conns, *next; c != NULL; c = next) {
        next = c->next;
        if (c->handler->on_shutdown != NULL && !c->has_on_close_run)
            c->handler->on_shutdown(c);
        else if (!c->close_after_write)
            hb_conn_close(c);
    }
    /* Poll for an empty connection list; past the deadline, close whatever is left. */
    worker->drain_deadline = uv_now(&worker->loop) + (uint64_t)cfg->drain_timeout_ms;
    uv_timer_init(&worker->loop, &worker->drain_timer);
    worker->drain_timer.data = worker;
    uv_timer_start(&worker->drain_timer, on_drain_timer, 0, 20);
}

static void *worker_main(void *arg)
{
    struct hb_net_worker *worker = arg;
    const struct hb_net_config *cfg = worker->net->cfg;
    current_worker = worker;
    if (cfg->on_worker_start != NULL)
        cfg->on_worker_start(worker, cfg->ctx);
    uv_run(&worker->loop, UV_RUN_DEFAULT);
    uv_walk(&worker->loop, on_walk_close, NULL);
    uv_run(&worker->loop, UV_RUN_DEFAULT);
    if (cfg->on_worker_stop != NULL)
        cfg->on_worker_stop(worker, cfg->ctx);
    return NULL;
}

static void stop_all(struct hb_net *net)
{
    atomic_store(&draining, 1);
    for (int i = 0; i < net->cfg->n_workers; i++)
        uv_async_send(&net->workers[i].wake);
}

static void on_signal(uv_signal_t *sig, int signum)
{
    (void)signum;
    struct hb_net *net = sig->data;
    if (atomic_load(&draining)) {
        hb_log_warn("second signal: exiting now");
        _exit(1);
    }
    hb_log_info("signal %d: draining", signum);
    stop_all(net);
}

static void on_main_wake(uv_async_t *async)
{
    struct hb_net *net = async->data;
    if (!atomic_load(&draining))
        stop_all(net);
}

void hb_net_stop(void)
{
    atomic_store(&stop_requested, 1);
    if (main_wake != NULL)
        uv_async_send(main_wake);
}

static void on_main_close_walk(uv_handle_t *handle, void *arg)
{
    (void)arg;
    if (!uv_is_closing(handle))
        uv_close(handle, NULL);
}

static void on_workers_done(uv_async_t *async)
{
    uv_walk(async->loop, on_main_close_walk, NULL);
}

struct join_ctx {
    struct hb_net *net;
    uv_async_t *done;
};

static void *joiner(void *arg)
{
    struct join_ctx *jc = arg;
    for (int i = 0; i < jc->net->cfg->n_workers; i++)
        pthread_join(jc->net->workers[i].thread, NULL);
    uv_async_send(jc->done);
    return NULL;
}

int hb_net_serve(const struct hb_net_config *cfg)
{
    struct hb_net net = {.cfg = cfg};
    int err = 0, n_started = 0;

    net.workers = hb_xcalloc((size_t)cfg->n_workers, sizeof(*net.workers));
    if (cfg->over_capacity != NULL) {
        net.over_capacity = hb_xstrdup(cfg->over_capacity);
        net.over_capacity_len = strlen(net.over_capacity);
    }
    for (int i = 0; i < cfg->n_workers; i++)
        net.workers[i].fd = -1;
    err = bind_workers(cfg, net.workers);
    if (err < 0)
        goto fail;
    signal(SIGPIPE, SIG_IGN);
    net.max_per_ip = cfg->max_conns_per_ip == 0  ? HB_NET_DEFAULT_MAX_CONNS_PER_IP
                     : cfg->max_conns_per_ip < 0 ? 0
                                                 : cfg->max_conns_per_ip;
    if (net.max_per_ip > 0) {
        /* At most one slot per open connection, kept under half full. */
        size_t n = 64;
        while (n < 2 * (size_t)cfg->max_conns + 2 * (size_t)cfg->n_workers)
            n *= 2;
        ip_slots = hb_xcalloc(n, sizeof(*ip_slots));
        ip_mask = n - 1;
    }

    uv_loop_t main_loop;
    uv_loop_init(&main_loop);
    uv_signal_t sig_term, sig_int;
    uv_async_t wake, done;
    uv_signal_init(&main_loop, &sig_term);
    uv_signal_init(&main_loop, &sig_int);
    sig_term.data = sig_int.data = &net;
    uv_signal_start(&sig_term, on_signal, SIGTERM);
    uv_signal_start(&sig_int, on_signal, SIGINT);
    uv_async_init(&main_loop, &wake, on_main_wake);
    wake.data = &net;
    main_wake = &wake;
    uv_async_init(&main_loop, &done, on_workers_done);

    for (int i = 0; i < cfg->n_workers; i++) {
        struct hb_net_worker *w = &net.workers[i];
        w->net = &net;
        w->index = i;
        uv_loop_init(&w->loop);
        uv_tcp_init(&w->loop, &w->listener);
        w->listener.data = w;
        uv_async_init(&w->loop, &w->wake, on_worker_wake);
        w->wake.data = w;
        err = uv_tcp_open(&w->listener, w->fd);
        if (err == 0)
            err = uv_listen((uv_stream_t *)&w->listener, cfg->backlog, on_connection);
        if (err < 0) {
            hb_log_error("listen '%s:%d': %s", cfg->host, cfg->port, uv_strerror(err));
            break;
        }
        w->fd = -1; /* owned by the uv handle now */
    }
    if (err == 0) {
        for (int i = 0; i < cfg->n_workers; i++) {
            if (pthread_create(&net.workers[i].thread, NULL, worker_main, &net.workers[i]) != 0)
                HB_BUG("pthread_create failed");
            n_started++;
        }
        bool is_v6 = strchr(cfg->host, ':') != NULL;
        hb_log_info("listening on http://%s%s%s:%d/ with %d workers", is_v6 ? "[" : "", cfg->host,
                    is_v6 ? "]" : "", hb_net_bound_port(), cfg->n_workers);
        if (atomic_load(&stop_requested))
            stop_all(&net);
        pthread_t jt;
        struct join_ctx jc = {&net, &done};
        pthread_create(&jt, NULL, joiner, &jc);
        uv_run(&main_loop, UV_RUN_DEFAULT);
        pthread_join(jt, NULL);
    } else {
        uv_walk(&main_loop, on_main_close_walk, NULL);
        uv_run(&main_loop, UV_RUN_DEFAULT);
        for (int i = 0; i < cfg->n_workers; i++) {
            if (net.workers[i].net == NULL)
                continue;
            uv_walk(&net.workers[i].loop, on_walk_close, NULL);
            uv_run(&net.workers[i].loop, UV_RUN_DEFAULT);
            uv_loop_close(&net.workers[i].loop);
        }
    }
    main_wake = NULL;
    uv_loop_close(&main_loop);
    for (int i = 0; i < n_started; i++)
        uv_loop_close(&net.workers[i].loop);

fail:
    for (int i = 0; i < cfg->n_workers; i++) {
        if (net.workers[i].fd >= 0)
            close(net.workers[i].fd);
    }
    free(net.workers);
    free(net.over_capacity);
    free(ip_slots);
    ip_slots = NULL;
    ip_used = 0;
    atomic_store(&bound_port, 0);
    atomic_store(&stop_requested, 0);
    atomic_store(&draining, 0);
    return err;
}
