/* SPDX-License-Identifier: MIT */
/* One load-generator run (bench layer): sends pre-built HTTP/1.1 requests to one address in
 * one of three modes and fills a result with timing, latency and error statistics.
 *   serial   one connection, one request at a time (the seed experiment's plain loop);
 *   threads  N threads, each a blocking keep-alive client (the seed's thread pool);
 *   async    one libuv loop per thread, C connections spread over the loops, up to `pipeline`
 *            requests in flight per connection (the seed's event loop).
 * A run stops after n_requests, or after duration_ns, and in any case at time_limit_ns. With a
 * rate, requests are sent on a fixed schedule and each latency is measured from the time the
 * request was due rather than when it was sent (wrk2's correction for coordinated omission).
 * Worker threads share nothing on the hot path but one atomic request counter. */
#ifndef HB_BENCH_RUN_H
#define HB_BENCH_RUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "bench/bench_stats.h"

enum hb_bench_run_mode {
    HB_BENCH_RUN_SERIAL,
    HB_BENCH_RUN_THREADS,
    HB_BENCH_RUN_ASYNC,
    HB_BENCH_RUN_N_MODES
};

/* What to send and how hard. Everything is borrowed for the duration of hb_bench_run(). */
struct hb_bench_run_config {
    struct sockaddr_storage addr; /* the one address every URL shares */
    socklen_t addr_len;
    char peer[80]; /* the address as text, for messages: "127.0.0.1:8000" */
    /* One pre-built request per URL, sent round-robin. */
    int n_urls;
    const char *const *requests;
    const size_t *request_lens;
    bool is_head;           /* HEAD requests: responses have no body */
    uint64_t n_requests;    /* requests per run; 0 means run for duration_ns */
    uint64_t duration_ns;   /* with n_requests == 0 */
    uint64_t time_limit_ns; /* hard cap on a run's time, > 0 */
    double rate;            /* total requests per second; 0 means as fast as possible */
    uint64_t timeout_ms;    /* per connect and per response, > 0 */
    int n_threads;          /* threads mode */
    int n_loops;            /* async mode: event loops (threads) */
    int n_connections;      /* async mode: connections over all loops */
    int pipeline;           /* async mode: requests in flight per connection, >= 1 */
};

struct hb_bench_run_result {
    enum hb_bench_run_mode mode;
    int n_workers;     /* threads (serial: 1) or event loops */
    int n_connections; /* connections kept open at once */
    int pipeline;
    uint64_t elapsed_ns;  /* from start to the last response (or to the end of the duration) */
    bool hit_time_limit;  /* stopped by time_limit_ns before n_requests were done */
    bool was_interrupted; /* stopped by hb_bench_run_interrupt() */
    bool gave_up;         /* clients stopped because connecting kept failing */
    struct hb_bench_stats stats;
};

/* Called on the calling thread about ten times a second while a run is going. */
typedef void hb_bench_run_progress_cb(void *ctx, uint64_t n_done, uint64_t elapsed_ns);

/* Runs one mode to its end on worker threads and fills res (release it with
 * hb_bench_run_result_release()). Failed requests are counted in res->stats, not returned.
 * progress may be NULL. Returns 0, or a negative error when the workers could not start. */
int hb_bench_run(const struct hb_bench_run_config *cfg, enum hb_bench_run_mode mode,
                 hb_bench_run_progress_cb *progress, void *ctx, struct hb_bench_run_result *res);

/* Frees what a result owns. */
void hb_bench_run_result_release(struct hb_bench_run_result *res);

/* Asks the run in progress (and any later one) to stop soon. Async-signal-safe. */
void hb_bench_run_interrupt(void);

/* True once hb_bench_run_interrupt() was called. */
bool hb_bench_run_is_interrupted(void);

/* "serial", "threads", "async". */
const char *hb_bench_run_mode_name(enum hb_bench_run_mode mode);

/* The mode called name, or -1. */
int hb_bench_run_mode_from_name(const char *name);

#endif
