/* SPDX-License-Identifier: MIT */
/* What the bench layer's files share (bench layer, not for other layers): the state of one run
 * as its worker threads see it. bench_run.c creates it and the workers; bench_sync.c and
 * bench_async.c are the two kinds of worker. */
#ifndef HB_BENCH_INTERNAL_H
#define HB_BENCH_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "bench/bench_run.h"
#include "bench/bench_stats.h"

/* A client that failed to connect this many times in a row stops, so a server that went away
 * ends the run in about a second instead of at the time limit. Attempts are 10 ms apart. */
#define HB_BENCH__MAX_CONNECT_FAILURES 50
#define HB_BENCH__BACKOFF_NS           10000000u

struct hb_bench__run {
    const struct hb_bench_run_config *cfg;
    uint64_t start_ns; /* monotonic; rate schedules count from here */
    uint64_t end_ns;   /* start + duration, or start + time limit */
    bool is_duration;  /* n_requests == 0 */
    int n_workers;
    int n_connections; /* connections over all workers */
    /* Async mode: every request in round-robin order, n_urls + pipeline - 1 of them back to
     * back, so any run of up to `pipeline` consecutive requests is one contiguous slice. */
    const char *ring;
    const size_t *ring_off;   /* n_urls + pipeline offsets into ring, plus the end */
    _Atomic uint64_t n_taken; /* requests handed out (may overshoot n_requests) */
    _Atomic int n_finished;   /* workers that have returned */
};

struct hb_bench__worker {
    _Alignas(64) _Atomic uint64_t n_done; /* responses so far, for the progress line */
    struct hb_bench__run *run;
    int index;
    int n_connections;    /* this worker's share */
    int first_connection; /* global index of its first connection (rate phases) */
    struct hb_bench_stats stats;
    uint64_t last_ns;    /* time of the last response */
    uint64_t stop_ns;    /* time the worker stopped */
    bool hit_time_limit; /* the time limit cut requests off */
    bool gave_up;        /* stopped after HB_BENCH__MAX_CONNECT_FAILURES connects failed */
    int err;             /* a fatal setup error (the loop could not start) */
};

/* Hands out up to want requests of a run with a request budget. Returns how many (0 when the
 * budget is spent) and the sequence number of the first in *first. Thread-safe. */
uint64_t hb_bench__take(struct hb_bench__run *run, uint64_t want, uint64_t *first);

/* True while requests remain in the budget (always true in duration mode). */
bool hb_bench__has_budget(struct hb_bench__run *run);

/* Parses a duration: "250ms", "10s", "1.5s", "2m", "1h", "100us"; a bare number is seconds.
 * Accepts 1 ns to 7 days. Returns false for anything else. */
bool hb_bench__parse_duration(const char *text, uint64_t *out_ns);

/* A lower-case description of err, a hiroba code or a negative errno ("connection refused"),
 * for one-line messages. The string is static. */
const char *hb_bench__strerror(int err);

/* Worker thread bodies: arg is a struct hb_bench__worker. */
void hb_bench__sync_worker(void *arg);
void hb_bench__async_worker(void *arg);

#endif
