/* SPDX-License-Identifier: MIT */
/* Async mode (bench layer): each worker thread runs one libuv loop with its share of the
 * connections. The hot path is built to cost less than wrk's: requests are pre-built in one
 * ring, so a batch of k pipelined requests is one contiguous slice and one write(2)
 * (uv_try_write, straight from the read callback, no poll for writability); every connection of
 * a loop reads into the loop's one buffer and llhttp parses it in place; one clock read per read
 * callback timestamps every response in it; nothing is allocated after start-up. Timeouts are
 * checked by one 100 ms tick per loop rather than a timer per request. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "bench/bench_internal.h"
#include "client/client_conn.h"
#include "client/http_client.h"
#include "core/alloc.h"
#include "core/err.h"

#define READ_BUF_LEN ((size_t)64 * 1024)
#define TICK_MS      100

struct aworker;

struct aconn {
    struct hb_client_conn conn;
    struct aworker *aw;
    struct hb_http_client parser;
    uint64_t *sent_ns; /* `pipeline` slots: when each request in flight was sent (or due) */
    uint32_t head;     /* slot of the oldest request in flight */
    uint32_t n_out;    /* written, awaiting their responses */
    uint32_t n_unsent; /* handed out, waiting for the write in progress to finish */
    uint32_t url_next; /* round-robin position of the next request */
    uint64_t n_sent;   /* requests sent, for the rate schedule */
    uint64_t phase_ns; /* rate schedule: due(k) = start + phase + k * interval */
    uint64_t interval_ns;
    uint64_t progress_ns; /* last sign of life: connect start, first write, any read */
    uv_timer_t timer;     /* rate pacing and reconnect back-off */
    int n_connect_failures;
    bool is_done; /* retired: will not reconnect */
};

struct aworker {
    struct hb_bench__worker *base;
    struct hb_bench__run *run;
    const struct hb_bench_run_config *cfg;
    struct hb_bench_stats *stats;
    uv_loop_t loop;
    uv_timer_t tick;
    uv_timer_t end;
    struct aconn *conns;
    int n_conns;
    int n_live; /* connections not retired */
    uint32_t pipeline;
    uint64_t *slots;
    char *read_buf;
    uint64_t n_returned; /* requests handed back by closed connections before being sent */
    uint64_t n_done;
    bool is_stopping;
    bool is_finished;
};

static void conn_start(struct aconn *c);

/* Hands c up to want requests: first any its worker got back from closed connections, else
 * from the run's budget, in which case the requests continue the run's global round-robin
 * order, so a counted run splits exactly over the URLs as serial does. */
static uint64_t take(struct aconn *c, uint64_t want)
{
    struct aworker *aw = c->aw;
    if (aw->run->is_duration)
        return want;
    if (aw->n_returned > 0) {
        uint64_t got = aw->n_returned < want ? aw->n_returned : want;
        aw->n_returned -= got;
        return got;
    }
    uint64_t first;
    uint64_t got = hb_bench__take(aw->run, want, &first);
    if (got > 0 && c->n_unsent == 0)
        c->url_next = (uint32_t)(first % (uint64_t)aw->cfg->n_urls);
    return got;
}

static bool has_work(struct aworker *aw)
{
    return aw->run->is_duration || aw->n_returned > 0 || hb_bench__has_budget(aw->run);
}

static void on_handle_closed(uv_handle_t *handle)
{
    (void)handle;
}

static void finish_worker(struct aworker *aw)
{
    if (aw->is_finished)
        return;
    aw->is_finished = true;
    if (aw->base->stop_ns == 0)
        aw->base->stop_ns = uv_hrtime();
    uv_close((uv_handle_t *)&aw->tick, on_handle_closed);
    uv_close((uv_handle_t *)&aw->end, on_handle_closed);
    for (int i = 0; i < aw->n_conns; i++)
        uv_close((uv_handle_t *)&aw->conns[i].timer, on_handle_closed);
}

static void retire(struct aconn *c)
{
    if (c->is_done)
        return;
    c->is_done = true;
    uv_timer_stop(&c->timer);
    if (--c->aw->n_live == 0)
        finish_worker(c->aw);
}

/* Closes c without counting anything: unsent requests go back to the worker's pool. */
static void shut(struct aconn *c)
{
    if (!c->aw->run->is_duration)
        c->aw->n_returned += c->n_unsent;
    c->n_unsent = 0;
    c->n_out = 0;
    hb_client_conn_close(&c->conn);
}

/* Closes c, counting its requests in flight as failed with kind (a connect failure counts
 * once); fmt describes the failure. */
static void drop(struct aconn *c, enum hb_bench_stats_err kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void drop(struct aconn *c, enum hb_bench_stats_err kind, const char *fmt, ...)
{
    uint64_t n = kind == HB_BENCH_STATS_ERR_CONNECT ? 1 : c->n_out;
    if (n > 0) {
        char msg[160];
        va_list ap;
        va_start(ap, fmt);
        /* NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized): clang 14 false positive */
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        hb_bench_stats_error(c->aw->stats, kind, n, "%s", msg);
    }
    shut(c);
}

static void flush(struct aconn *c)
{
    struct aworker *aw = c->aw;
    if (c->n_unsent == 0 || c->conn.is_writing || !c->conn.is_connected)
        return;
    uint32_t k = c->n_unsent;
    const size_t *off = aw->run->ring_off;
    const char *bytes = aw->run->ring + off[c->url_next];
    size_t len = off[c->url_next + k] - off[c->url_next];
    uint64_t now = uv_hrtime();
    if (c->n_out == 0)
        c->progress_ns = now;
    for (uint32_t i = 0; i < k; i++) {
        uint64_t t = now;
        if (c->interval_ns > 0) {
            /* Latency counts from when the request was due (coordinated omission), or from when
             * it left, if the millisecond timer let it leave a little early. */
            uint64_t due = aw->run->start_ns + c->phase_ns + (c->n_sent + i) * c->interval_ns;
            t = due < now ? due : now;
        }
        c->sent_ns[(c->head + c->n_out + i) % aw->pipeline] = t;
    }
    c->n_sent += k;
    c->n_out += k;
    c->n_unsent = 0;
    c->url_next = (uint32_t)((c->url_next + k) % (uint32_t)aw->cfg->n_urls);
    aw->stats->bytes_written += len;
    int err = hb_client_conn_write(&c->conn, bytes, len);
    if (err < 0)
        drop(c, HB_BENCH_STATS_ERR_WRITE, "write to %s: %s", aw->cfg->peer, uv_strerror(err));
}

static void arm_timer(struct aconn *c, uint64_t delay_ns);

/* Sends what the connection may send now: up to `pipeline` requests in flight, or with a rate
 * the next request once it is due. A connection with nothing left to do closes. */
static void pump(struct aconn *c)
{
    struct aworker *aw = c->aw;
    if (aw->is_stopping || !c->conn.is_connected)
        return;
    uint32_t busy = c->n_out + c->n_unsent;
    uint64_t want;
    if (c->interval_ns > 0) {
        if (busy > 0 || uv_is_active((uv_handle_t *)&c->timer))
            return;
        uint64_t due = aw->run->start_ns + c->phase_ns + c->n_sent * c->interval_ns;
        if (due >= aw->run->end_ns)
            return; /* nothing more is due before the end */
        uint64_t now = uv_hrtime();
        if (due > now + 1000000u) {
            arm_timer(c, due - now);
            return;
        }
        want = 1;
    } else {
        want = aw->pipeline - busy;
        if (want == 0)
            return;
    }
    uint64_t got = take(c, want);
    if (got == 0) {
        if (busy == 0) {
            retire(c);
            hb_client_conn_close(&c->conn);
        }
        return;
    }
    c->n_unsent += (uint32_t)got;
    flush(c);
}

static void on_timer(uv_timer_t *timer)
{
    struct aconn *c = timer->data;
    if (c->is_done || c->aw->is_stopping)
        return;
    if (!c->conn.is_open)
        conn_start(c); /* back-off over: reconnect */
    else
        pump(c); /* a request is due */
}

static void arm_timer(struct aconn *c, uint64_t delay_ns)
{
    uv_timer_start(&c->timer, on_timer, (delay_ns + 999999u) / 1000000u, 0);
}

static void on_connect(struct hb_client_conn *conn, int status)
{
    struct aconn *c = conn->data;
    struct aworker *aw = c->aw;
    if (status < 0) {
        c->n_connect_failures++;
        drop(c, HB_BENCH_STATS_ERR_CONNECT, "connect to %s: %s", aw->cfg->peer,
             uv_strerror(status));
        return;
    }
    c->n_connect_failures = 0;
    aw->stats->n_connects++;
    hb_http_client_reset(&c->parser);
    c->head = 0;
    c->n_out = 0;
    pump(c);
}

static void complete(struct aconn *c, uint64_t now)
{
    struct aworker *aw = c->aw;
    uint64_t from = c->sent_ns[c->head];
    c->head = c->head + 1 == aw->pipeline ? 0 : c->head + 1;
    c->n_out--;
    hb_bench_stats_record(aw->stats, now > from ? now - from : 0);
    hb_bench_stats_record_status(aw->stats, c->parser.status);
    hb_http_client_next(&c->parser);
}

static void count_done(struct aworker *aw, uint64_t n, uint64_t now)
{
    aw->n_done += n;
    atomic_store_explicit(&aw->base->n_done, aw->n_done, memory_order_relaxed);
    aw->base->last_ns = now;
}

/* The server closed the connection (EOF) or reading failed. */
static void on_end(struct aconn *c, ssize_t nread, uint64_t now)
{
    struct aworker *aw = c->aw;
    if (nread != UV_EOF) {
        drop(c, HB_BENCH_STATS_ERR_READ, "read from %s: %s", aw->cfg->peer,
             uv_strerror((int)nread));
        return;
    }
    /* A body delimited by the close (no Content-Length, not chunked) ends here. */
    if (hb_http_client_finish(&c->parser) == 0 && c->parser.is_complete && c->n_out > 0) {
        complete(c, now);
        count_done(aw, 1, now);
    }
    drop(c, HB_BENCH_STATS_ERR_CLOSED, "%s closed the connection %s", aw->cfg->peer,
         c->parser.has_started ? "in the middle of a response" : "before responding");
}

static void on_read(struct hb_client_conn *conn, const char *buf, ssize_t nread)
{
    struct aconn *c = conn->data;
    struct aworker *aw = c->aw;
    uint64_t now = uv_hrtime();
    if (nread < 0) {
        on_end(c, nread, now);
        return;
    }
    aw->stats->bytes_read += (uint64_t)nread;
    c->progress_ns = now;
    size_t pos = 0, len = (size_t)nread;
    uint64_t n_done = 0;
    bool is_keep_alive = true;
    while (pos < len) {
        if (c->n_out == 0) {
            hb_bench_stats_error(aw->stats, HB_BENCH_STATS_ERR_PROTOCOL, 1,
                                 "bad response from %s: bytes nobody asked for", aw->cfg->peer);
            shut(c);
            goto out;
        }
        int used = hb_http_client_parse(&c->parser, buf + pos, len - pos);
        if (used < 0) {
            drop(c, HB_BENCH_STATS_ERR_PROTOCOL, "bad response from %s: %s", aw->cfg->peer,
                 c->parser.error_reason);
            goto out;
        }
        pos += (size_t)used;
        if (c->parser.is_complete) {
            is_keep_alive = c->parser.is_keep_alive;
            complete(c, now);
            n_done++;
            if (!is_keep_alive)
                break;
        }
    }
    if (!is_keep_alive) {
        drop(c, HB_BENCH_STATS_ERR_CLOSED,
             "%s closed the connection (Connection: close) with requests in flight", aw->cfg->peer);
    } else {
        pump(c);
    }
out:
    if (n_done > 0)
        count_done(aw, n_done, now);
}

static void on_write(struct hb_client_conn *conn, int status)
{
    struct aconn *c = conn->data;
    if (status < 0) {
        drop(c, HB_BENCH_STATS_ERR_WRITE, "write to %s: %s", c->aw->cfg->peer, uv_strerror(status));
        return;
    }
    flush(c);
}

static void on_close(struct hb_client_conn *conn)
{
    struct aconn *c = conn->data;
    struct aworker *aw = c->aw;
    if (c->is_done)
        return;
    if (aw->is_stopping || !has_work(aw)) {
        retire(c);
        return;
    }
    if (c->n_connect_failures >= HB_BENCH__MAX_CONNECT_FAILURES) {
        aw->base->gave_up = true;
        retire(c);
        return;
    }
    if (c->n_connect_failures > 0)
        arm_timer(c, HB_BENCH__BACKOFF_NS);
    else
        conn_start(c);
}

static const struct hb_client_conn_ops conn_ops = {
    .on_connect = on_connect,
    .on_read = on_read,
    .on_write = on_write,
    .on_close = on_close,
};

static void conn_start(struct aconn *c)
{
    struct aworker *aw = c->aw;
    c->progress_ns = uv_hrtime();
    c->n_out = 0;
    c->n_unsent = 0;
    int err = hb_client_conn_open(&c->conn, &aw->loop, (const struct sockaddr *)&aw->cfg->addr,
                                  aw->read_buf, READ_BUF_LEN, &conn_ops, c);
    if (err < 0) {
        c->n_connect_failures++;
        hb_bench_stats_error(aw->stats, HB_BENCH_STATS_ERR_CONNECT, 1, "connect to %s: %s",
                             aw->cfg->peer, uv_strerror(err));
        if (c->n_connect_failures >= HB_BENCH__MAX_CONNECT_FAILURES) {
            aw->base->gave_up = true;
            retire(c);
        } else {
            arm_timer(c, HB_BENCH__BACKOFF_NS);
        }
    }
}

static void stop_all(struct aworker *aw)
{
    if (aw->is_stopping)
        return;
    aw->is_stopping = true;
    aw->base->stop_ns = uv_hrtime();
    for (int i = 0; i < aw->n_conns; i++) {
        struct aconn *c = &aw->conns[i];
        if (c->is_done)
            continue;
        if (c->conn.is_open && !c->conn.is_closing)
            hb_client_conn_close(&c->conn); /* on_close retires it */
        else
            retire(c); /* waiting to reconnect, or closing already */
    }
}

static void on_end_timer(uv_timer_t *timer)
{
    struct aworker *aw = timer->data;
    if (!aw->run->is_duration) {
        /* The time limit came before the requests were done. */
        bool is_busy = has_work(aw);
        for (int i = 0; i < aw->n_conns && !is_busy; i++)
            is_busy = aw->conns[i].n_out > 0;
        aw->base->hit_time_limit = is_busy;
    }
    stop_all(aw);
}

static void on_tick(uv_timer_t *timer)
{
    struct aworker *aw = timer->data;
    if (hb_bench_run_is_interrupted()) {
        stop_all(aw);
        return;
    }
    uint64_t now = uv_hrtime();
    uint64_t timeout_ns = aw->cfg->timeout_ms * 1000000u;
    for (int i = 0; i < aw->n_conns; i++) {
        struct aconn *c = &aw->conns[i];
        if (c->is_done || !c->conn.is_open || c->conn.is_closing ||
            now - c->progress_ns < timeout_ns)
            continue;
        if (!c->conn.is_connected) {
            c->n_connect_failures++;
            drop(c, HB_BENCH_STATS_ERR_CONNECT, "connect to %s: timed out after %llu ms",
                 aw->cfg->peer, (unsigned long long)aw->cfg->timeout_ms);
        } else if (c->n_out > 0) {
            drop(c, HB_BENCH_STATS_ERR_TIMEOUT, "no response from %s within %llu ms", aw->cfg->peer,
                 (unsigned long long)aw->cfg->timeout_ms);
        }
    }
}

void hb_bench__async_worker(void *arg)
{
    struct hb_bench__worker *w = arg;
    struct aworker aw;
    memset(&aw, 0, sizeof(aw));
    aw.base = w;
    aw.run = w->run;
    aw.cfg = w->run->cfg;
    aw.stats = &w->stats;
    aw.pipeline = (uint32_t)aw.cfg->pipeline;
    aw.n_conns = w->n_connections;

    int err = uv_loop_init(&aw.loop);
    if (err < 0) {
        w->err = err;
        w->stop_ns = uv_hrtime();
        atomic_fetch_add(&aw.run->n_finished, 1);
        return;
    }
    aw.read_buf = hb_xmalloc(READ_BUF_LEN);
    aw.conns = hb_xcalloc((size_t)aw.n_conns, sizeof(*aw.conns));
    aw.slots = hb_xcalloc((size_t)aw.n_conns * aw.pipeline, sizeof(uint64_t));
    uv_timer_init(&aw.loop, &aw.tick);
    uv_timer_init(&aw.loop, &aw.end);
    aw.tick.data = &aw;
    aw.end.data = &aw;

    double rate = aw.cfg->rate;
    int n_total = aw.run->n_connections;
    for (int i = 0; i < aw.n_conns; i++) {
        struct aconn *c = &aw.conns[i];
        int global = w->first_connection + i;
        c->aw = &aw;
        c->sent_ns = aw.slots + (size_t)i * aw.pipeline;
        c->url_next = (uint32_t)(global % aw.cfg->n_urls);
        hb_http_client_init(&c->parser, aw.cfg->is_head);
        if (rate > 0) {
            c->interval_ns = (uint64_t)((double)n_total * 1e9 / rate);
            c->phase_ns = (uint64_t)((double)global * 1e9 / rate);
        }
        uv_timer_init(&aw.loop, &c->timer);
        c->timer.data = c;
    }
    aw.n_live = aw.n_conns;

    uint64_t now = uv_hrtime();
    uint64_t left_ms = now < aw.run->end_ns ? (aw.run->end_ns - now + 999999u) / 1000000u : 0;
    uv_timer_start(&aw.end, on_end_timer, left_ms, 0);
    uv_timer_start(&aw.tick, on_tick, TICK_MS, TICK_MS);
    for (int i = 0; i < aw.n_conns; i++)
        conn_start(&aw.conns[i]);
    if (aw.n_conns == 0)
        finish_worker(&aw);

    uv_run(&aw.loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&aw.loop) != 0)
        HB_BUG("async worker: handles left open");

    free(aw.slots);
    free(aw.conns);
    free(aw.read_buf);
    atomic_fetch_add(&aw.run->n_finished, 1);
}
