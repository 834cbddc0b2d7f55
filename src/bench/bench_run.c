/* SPDX-License-Identifier: MIT */
/* The run orchestrator (bench layer): prepares the shared state, starts one worker thread per
 * serial/threads client or per async loop, reports progress from the calling thread while they
 * work, then merges their statistics. Time is measured from just before the first thread
 * starts, so connection set-up is part of every mode's total, as in the seed experiment. */
#include "bench/bench_run.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

#include "bench/bench_internal.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/err.h"

static volatile sig_atomic_t interrupted;

void hb_bench_run_interrupt(void)
{
    interrupted = 1;
}

bool hb_bench_run_is_interrupted(void)
{
    return interrupted != 0;
}

static const char *const mode_names[HB_BENCH_RUN_N_MODES] = {"serial", "threads", "async"};

const char *hb_bench_run_mode_name(enum hb_bench_run_mode mode)
{
    return (unsigned)mode < HB_BENCH_RUN_N_MODES ? mode_names[mode] : "?";
}

int hb_bench_run_mode_from_name(const char *name)
{
    for (int i = 0; i < HB_BENCH_RUN_N_MODES; i++) {
        if (strcmp(name, mode_names[i]) == 0)
            return i;
    }
    return -1;
}

const char *hb_bench__strerror(int err)
{
    if (err == HB_ETIMEDOUT)
        return "timed out";
    /* libuv's texts are libc's in lower case; hiroba's own codes are hb_strerror's. */
    return err <= -1000 && err > -2000 ? hb_strerror(err) : uv_strerror(err);
}

uint64_t hb_bench__take(struct hb_bench__run *run, uint64_t want, uint64_t *first)
{
    uint64_t limit = run->cfg->n_requests;
    uint64_t cur = atomic_load_explicit(&run->n_taken, memory_order_relaxed);
    uint64_t got;
    do {
        if (cur >= limit)
            return 0;
        got = limit - cur < want ? limit - cur : want;
    } while (!atomic_compare_exchange_weak_explicit(&run->n_taken, &cur, cur + got,
                                                    memory_order_relaxed, memory_order_relaxed));
    *first = cur;
    return got;
}

bool hb_bench__has_budget(struct hb_bench__run *run)
{
    return run->is_duration ||
           atomic_load_explicit(&run->n_taken, memory_order_relaxed) < run->cfg->n_requests;
}

/* The async request ring (see struct hb_bench__run). */
static void build_ring(const struct hb_bench_run_config *cfg, struct hb_buf *ring, size_t **off)
{
    size_t n = (size_t)cfg->n_urls + (size_t)cfg->pipeline - 1;
    *off = hb_xcalloc(n + 1, sizeof(size_t));
    hb_buf_init(ring, SIZE_MAX / 2);
    for (size_t i = 0; i < n; i++) {
        (*off)[i] = ring->len;
        size_t u = i % (size_t)cfg->n_urls;
        if (hb_buf_append(ring, cfg->requests[u], cfg->request_lens[u]) < 0)
            HB_BUG("request ring");
    }
    (*off)[n] = ring->len;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

int hb_bench_run(const struct hb_bench_run_config *cfg, enum hb_bench_run_mode mode,
                 hb_bench_run_progress_cb *progress, void *ctx, struct hb_bench_run_result *res)
{
    memset(res, 0, sizeof(*res));
    res->mode = mode;
    hb_bench_stats_init(&res->stats);

    struct hb_bench__run run;
    memset(&run, 0, sizeof(run));
    run.cfg = cfg;
    run.is_duration = cfg->n_requests == 0;

    int n_workers, n_conns;
    if (mode == HB_BENCH_RUN_SERIAL) {
        n_workers = n_conns = 1;
    } else if (mode == HB_BENCH_RUN_THREADS) {
        n_workers = n_conns = cfg->n_threads;
    } else {
        n_conns = cfg->n_connections;
        n_workers = cfg->n_loops;
    }
    /* More clients than requests would only open idle connections. */
    if (!run.is_duration && (uint64_t)n_conns > cfg->n_requests)
        n_conns = (int)cfg->n_requests;
    if (n_workers > n_conns)
        n_workers = n_conns;
    run.n_workers = n_workers;
    run.n_connections = n_conns;
    res->n_workers = n_workers;
    res->n_connections = n_conns;
    res->pipeline = mode == HB_BENCH_RUN_ASYNC ? cfg->pipeline : 1;

    struct hb_buf ring;
    size_t *ring_off = NULL;
    hb_buf_init(&ring, 0);
    if (mode == HB_BENCH_RUN_ASYNC) {
        build_ring(cfg, &ring, &ring_off);
        run.ring = ring.data;
        run.ring_off = ring_off;
    }

    struct hb_bench__worker *workers = hb_xcalloc((size_t)n_workers, sizeof(*workers));
    uv_thread_t *tids = hb_xcalloc((size_t)n_workers, sizeof(*tids));
    int first = 0;
    for (int i = 0; i < n_workers; i++) {
        struct hb_bench__worker *w = &workers[i];
        w->run = &run;
        w->index = i;
        w->n_connections = n_conns / n_workers + (i < n_conns % n_workers ? 1 : 0);
        w->first_connection = first;
        first += w->n_connections;
        hb_bench_stats_init(&w->stats);
    }

    run.start_ns = hb_clock_mono_ns();
    run.end_ns = run.start_ns + (run.is_duration ? cfg->duration_ns : cfg->time_limit_ns);
    void (*body)(void *) =
        mode == HB_BENCH_RUN_ASYNC ? hb_bench__async_worker : hb_bench__sync_worker;
    int err = 0, n_started = 0;
    for (; n_started < n_workers; n_started++) {
        err = uv_thread_create(&tids[n_started], body, &workers[n_started]);
        if (err < 0) {
            /* Stop the ones already running: they see the interrupt within 100 ms. */
            hb_bench_run_interrupt();
            break;
        }
    }

    uint64_t next_progress = run.start_ns;
    while (atomic_load(&run.n_finished) < n_started) {
        uint64_t now = hb_clock_mono_ns();
        if (progress != NULL && now >= next_progress) {
            uint64_t n_done = 0;
            for (int i = 0; i < n_workers; i++)
                n_done += atomic_load_explicit(&workers[i].n_done, memory_order_relaxed);
            progress(ctx, n_done, now - run.start_ns);
            next_progress = now + 100000000u;
        }
        sleep_ms(10);
    }
    for (int i = 0; i < n_started; i++)
        uv_thread_join(&tids[i]);

    uint64_t last = run.start_ns, stop = run.start_ns;
    for (int i = 0; i < n_workers; i++) {
        struct hb_bench__worker *w = &workers[i];
        hb_bench_stats_merge(&res->stats, &w->stats);
        if (w->last_ns > last)
            last = w->last_ns;
        if (w->stop_ns > stop)
            stop = w->stop_ns;
        res->hit_time_limit |= w->hit_time_limit;
        res->gave_up |= w->gave_up;
        if (w->err < 0 && err == 0)
            err = w->err;
        hb_bench_stats_release(&w->stats);
    }
    res->was_interrupted = hb_bench_run_is_interrupted();
    /* A counted run ends with its last response; a timed one when its time is up. */
    if (run.is_duration || res->hit_time_limit || res->was_interrupted || res->gave_up)
        res->elapsed_ns = stop - run.start_ns;
    else
        res->elapsed_ns = (last > run.start_ns ? last : stop) - run.start_ns;
    if (res->elapsed_ns == 0)
        res->elapsed_ns = 1;

    free(tids);
    free(workers);
    free(ring_off);
    hb_buf_release(&ring);
    return err;
}

void hb_bench_run_result_release(struct hb_bench_run_result *res)
{
    hb_bench_stats_release(&res->stats);
}
