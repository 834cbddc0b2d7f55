/* SPDX-License-Identifier: MIT */
/* Serial and threads modes (bench layer): each worker thread is one blocking keep-alive client
 * sending one request at a time, the way a thread pool of `requests` sessions would. Each
 * request costs one send(2) and one recv(2) in the common case; a closed or broken connection
 * is reopened before the next request. */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "bench/bench_internal.h"
#include "client/client_sync.h"
#include "client/http_client.h"
#include "core/clock.h"
#include "core/err.h"

#define READ_BUF_LEN 16384

static void sleep_until(uint64_t when_ns)
{
    struct timespec ts = {.tv_sec = (time_t)(when_ns / 1000000000u),
                          .tv_nsec = (long)(when_ns % 1000000000u)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {
        if (hb_bench_run_is_interrupted())
            return;
    }
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

/* Outcome of waiting for one response. */
enum wait_result { GOT_RESPONSE, FAILED, CUT_OFF };

/* Reads until the response to the one request in flight is complete. On GOT_RESPONSE,
 * *keep_alive says whether the connection can be reused. */
static enum wait_result wait_response(struct hb_bench__worker *w, struct hb_client_sync *conn,
                                      struct hb_http_client *parser, char *buf, bool *keep_alive)
{
    const struct hb_bench_run_config *cfg = w->run->cfg;
    for (;;) {
        ssize_t n = hb_client_sync_recv(conn, buf, READ_BUF_LEN);
        if (n > 0) {
            w->stats.bytes_read += (uint64_t)n;
            size_t pos = 0;
            while (pos < (size_t)n) {
                int used = hb_http_client_parse(parser, buf + pos, (size_t)n - pos);
                if (used < 0) {
                    hb_bench_stats_error(&w->stats, HB_BENCH_STATS_ERR_PROTOCOL, 1,
                                         "bad response from %s: %s", cfg->peer,
                                         parser->error_reason);
                    return FAILED;
                }
                pos += (size_t)used;
                if (parser->is_complete)
                    break;
            }
            if (!parser->is_complete)
                continue;
            if (pos < (size_t)n) {
                hb_bench_stats_error(&w->stats, HB_BENCH_STATS_ERR_PROTOCOL, 1,
                                     "bad response from %s: bytes after the response", cfg->peer);
                return FAILED;
            }
            *keep_alive = parser->is_keep_alive;
            return GOT_RESPONSE;
        }
        if (n == 0) {
            int err = hb_http_client_finish(parser);
            if (err == 0 && parser->is_complete) {
                *keep_alive = false;
                return GOT_RESPONSE;
            }
            hb_bench_stats_error(
                &w->stats, HB_BENCH_STATS_ERR_CLOSED, 1, "%s closed the connection %s", cfg->peer,
                parser->has_started ? "in the middle of a response" : "before responding");
            return FAILED;
        }
        if (n == HB_ETIMEDOUT) {
            if (hb_clock_mono_ns() + 1000000u >= w->run->end_ns)
                return CUT_OFF;
            hb_bench_stats_error(&w->stats, HB_BENCH_STATS_ERR_TIMEOUT, 1,
                                 "no response from %s within %llu ms", cfg->peer,
                                 (unsigned long long)cfg->timeout_ms);
            return FAILED;
        }
        hb_bench_stats_error(&w->stats, HB_BENCH_STATS_ERR_READ, 1, "read from %s: %s", cfg->peer,
                             hb_bench__strerror((int)n));
        return FAILED;
    }
}

void hb_bench__sync_worker(void *arg)
{
    struct hb_bench__worker *w = arg;
    struct hb_bench__run *run = w->run;
    const struct hb_bench_run_config *cfg = run->cfg;
    char buf[READ_BUF_LEN];
    struct hb_client_sync conn;
    struct hb_http_client parser;
    hb_client_sync_init(&conn);
    hb_http_client_init(&parser, cfg->is_head);

    /* With a rate, worker i sends its k-th request at start + (i + k * n) / rate. */
    uint64_t interval_ns = 0, phase_ns = 0;
    if (cfg->rate > 0) {
        interval_ns = (uint64_t)((double)run->n_workers * 1e9 / cfg->rate);
        phase_ns = (uint64_t)((double)w->index * 1e9 / cfg->rate);
    }
    uint64_t n_sent = 0, n_done = 0;
    int n_connect_failures = 0; /* in a row */

    while (!hb_bench_run_is_interrupted()) {
        uint64_t now = hb_clock_mono_ns();
        if (now >= run->end_ns)
            break;
        uint64_t due_ns = 0;
        if (interval_ns > 0) {
            due_ns = run->start_ns + phase_ns + n_sent * interval_ns;
            if (due_ns >= run->end_ns)
                break;
            if (due_ns > now) {
                sleep_until(due_ns);
                continue; /* re-check the clock and the interrupt flag */
            }
        }
        if (!hb_bench__has_budget(run))
            break;
        if (conn.fd < 0) {
            if (n_connect_failures >= HB_BENCH__MAX_CONNECT_FAILURES) {
                w->gave_up = true;
                break;
            }
            if (n_connect_failures > 0)
                sleep_until(min_u64(now + HB_BENCH__BACKOFF_NS, run->end_ns));
            uint64_t left_ms = (run->end_ns - now) / 1000000u + 1;
            int err = hb_client_sync_connect(&conn, (const struct sockaddr *)&cfg->addr,
                                             cfg->addr_len, min_u64(cfg->timeout_ms, left_ms));
            if (err < 0) {
                n_connect_failures++;
                if (err != HB_ETIMEDOUT || hb_clock_mono_ns() < run->end_ns)
                    hb_bench_stats_error(&w->stats, HB_BENCH_STATS_ERR_CONNECT, 1,
                                         "connect to %s: %s", cfg->peer, hb_bench__strerror(err));
                continue;
            }
            n_connect_failures = 0;
            w->stats.n_connects++;
            hb_http_client_reset(&parser);
        }

        uint64_t seq;
        if (run->is_duration) {
            seq = n_sent * (uint64_t)run->n_workers + (uint64_t)w->index;
        } else if (hb_bench__take(run, 1, &seq) == 0) {
            break;
        }
        n_sent++;
        size_t u = (size_t)(seq % (uint64_t)cfg->n_urls);
        uint64_t sent_ns = hb_clock_mono_ns();
        /* Stop waiting at the end of the run, not only at the request timeout. */
        uint64_t left_ms = sent_ns < run->end_ns ? (run->end_ns - sent_ns) / 1000000u + 1 : 1;
        hb_client_sync_set_timeout(&conn, min_u64(cfg->timeout_ms, left_ms));
        int err = hb_client_sync_send(&conn, cfg->requests[u], cfg->request_lens[u]);
        if (err < 0) {
            if (err == HB_ETIMEDOUT && hb_clock_mono_ns() + 1000000u >= run->end_ns) {
                w->hit_time_limit = !run->is_duration;
                break;
            }
            hb_bench_stats_error(&w->stats, HB_BENCH_STATS_ERR_WRITE, 1, "write to %s: %s",
                                 cfg->peer, hb_bench__strerror(err));
            hb_client_sync_close(&conn);
            continue;
        }
        w->stats.bytes_written += cfg->request_lens[u];

        bool keep_alive = false;
        enum wait_result r = wait_response(w, &conn, &parser, buf, &keep_alive);
        if (r == CUT_OFF) {
            w->hit_time_limit = !run->is_duration;
            break;
        }
        if (r == FAILED) {
            hb_client_sync_close(&conn);
            continue;
        }
        uint64_t done_ns = hb_clock_mono_ns();
        uint64_t from = interval_ns > 0 ? due_ns : sent_ns;
        hb_bench_stats_record(&w->stats, done_ns > from ? done_ns - from : 0);
        hb_bench_stats_record_status(&w->stats, parser.status);
        hb_http_client_next(&parser);
        w->last_ns = done_ns;
        atomic_store_explicit(&w->n_done, ++n_done, memory_order_relaxed);
        if (!keep_alive)
            hb_client_sync_close(&conn);
    }
    if (!run->is_duration && hb_bench__has_budget(run) && !hb_bench_run_is_interrupted() &&
        !w->gave_up)
        w->hit_time_limit = true;
    hb_client_sync_close(&conn);
    w->stop_ns = hb_clock_mono_ns();
    atomic_fetch_add(&run->n_finished, 1);
}
