/* SPDX-License-Identifier: MIT */
/* Load-generator statistics (bench layer): a latency histogram and the counters of one run.
 * The histogram is log-bucketed like HdrHistogram: values below 256 ns are exact, above that
 * every power of two is split into 128 linear buckets, so a bucket is at most 1/128 of its
 * lower bound wide and a percentile read back as the bucket's midpoint is within 0.4% of the
 * exact value (nearest-rank definition). Values are nanoseconds up to 2^44 (about 4.9 hours);
 * larger ones are clamped. Each worker thread owns one hb_bench_stats and records without
 * locks; the orchestrator merges them at the end. Recording is a few instructions and never
 * allocates. */
#ifndef HB_BENCH_STATS_H
#define HB_BENCH_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HB_BENCH_STATS_SUB_BITS 7 /* 2^7 = 128 buckets per power of two */
#define HB_BENCH_STATS_MAX_BITS 44
#define HB_BENCH_STATS_N_BUCKETS                                                                   \
    ((2u << HB_BENCH_STATS_SUB_BITS) +                                                             \
     (HB_BENCH_STATS_MAX_BITS - HB_BENCH_STATS_SUB_BITS - 1) * (1u << HB_BENCH_STATS_SUB_BITS))
#define HB_BENCH_STATS_MAX_VALUE ((UINT64_C(1) << HB_BENCH_STATS_MAX_BITS) - 1)
#define HB_BENCH_STATS_N_STATUS  1000 /* status codes 0..999; 0 counts anything else */

/* Why a request failed. Each failed request is counted once, under one kind. */
enum hb_bench_stats_err {
    HB_BENCH_STATS_ERR_CONNECT,  /* could not connect (refused, unreachable, connect timeout) */
    HB_BENCH_STATS_ERR_TIMEOUT,  /* no complete response within the request timeout */
    HB_BENCH_STATS_ERR_CLOSED,   /* the server closed the connection before responding */
    HB_BENCH_STATS_ERR_READ,     /* a read failed (connection reset, ...) */
    HB_BENCH_STATS_ERR_WRITE,    /* a write failed */
    HB_BENCH_STATS_ERR_PROTOCOL, /* the response was not valid HTTP/1.x */
    HB_BENCH_STATS_N_ERR
};

struct hb_bench_stats {
    uint64_t *_buckets; /* HB_BENCH_STATS_N_BUCKETS counts, owned */
    uint64_t n_latencies;
    uint64_t min_ns, max_ns;
    double sum_ns, sum_sq_ns; /* for mean and standard deviation */
    uint64_t n_responses;     /* complete responses, any status */
    uint64_t status[HB_BENCH_STATS_N_STATUS];
    uint64_t errors[HB_BENCH_STATS_N_ERR];      /* failed requests (or connects) by kind */
    char error_text[HB_BENCH_STATS_N_ERR][160]; /* the first message of each kind */
    uint64_t bytes_read, bytes_written;
    uint64_t n_connects; /* connections opened, reconnects included */
};

/* Initialises empty statistics (allocates the buckets; aborts on OOM). */
void hb_bench_stats_init(struct hb_bench_stats *s);

/* Frees the buckets. The struct can be initialised again. */
void hb_bench_stats_release(struct hb_bench_stats *s);

/* The bucket that holds value v (clamped to HB_BENCH_STATS_MAX_VALUE). */
static inline unsigned hb_bench_stats_bucket(uint64_t v)
{
    if (v > HB_BENCH_STATS_MAX_VALUE)
        v = HB_BENCH_STATS_MAX_VALUE;
    if (v < (2u << HB_BENCH_STATS_SUB_BITS))
        return (unsigned)v;
    unsigned msb = 63u - (unsigned)__builtin_clzll(v);
    unsigned shift = msb - HB_BENCH_STATS_SUB_BITS;
    unsigned sub = (unsigned)(v >> shift) - (1u << HB_BENCH_STATS_SUB_BITS);
    return (2u << HB_BENCH_STATS_SUB_BITS) + (shift - 1) * (1u << HB_BENCH_STATS_SUB_BITS) + sub;
}

/* Records one latency in nanoseconds. */
static inline void hb_bench_stats_record(struct hb_bench_stats *s, uint64_t latency_ns)
{
    s->_buckets[hb_bench_stats_bucket(latency_ns)]++;
    if (s->n_latencies == 0 || latency_ns < s->min_ns)
        s->min_ns = latency_ns;
    if (latency_ns > s->max_ns)
        s->max_ns = latency_ns;
    s->n_latencies++;
    double d = (double)latency_ns;
    s->sum_ns += d;
    s->sum_sq_ns += d * d;
}

/* Counts one complete response with the given status code. */
static inline void hb_bench_stats_record_status(struct hb_bench_stats *s, int status)
{
    s->status[status > 0 && status < HB_BENCH_STATS_N_STATUS ? status : 0]++;
    s->n_responses++;
}

/* Counts n failures of kind; the first message of each kind is kept (printf format). */
void hb_bench_stats_error(struct hb_bench_stats *s, enum hb_bench_stats_err kind, uint64_t n,
                          const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Total failed requests over every kind. */
uint64_t hb_bench_stats_n_errors(const struct hb_bench_stats *s);

/* Short lower-case name of an error kind: "connect", "timeout", ... */
const char *hb_bench_stats_err_name(enum hb_bench_stats_err kind);

/* Adds src into dst (histogram, counters; first messages kept from dst, else src). */
void hb_bench_stats_merge(struct hb_bench_stats *dst, const struct hb_bench_stats *src);

/* The latency at percentile p (0..100) by nearest rank: the smallest recorded value v such
 * that at least p% of the values are <= v, within 0.4%. 0 recorded values give 0; p = 0 gives
 * the exact minimum and p = 100 the exact maximum. */
uint64_t hb_bench_stats_percentile(const struct hb_bench_stats *s, double p);

/* Mean and standard deviation of the latencies, in nanoseconds (0 when empty). */
double hb_bench_stats_mean(const struct hb_bench_stats *s);
double hb_bench_stats_stddev(const struct hb_bench_stats *s);

/* The lower bound and width of bucket i (exposed for tests and for drawing). */
uint64_t hb_bench_stats_bucket_low(unsigned i);
uint64_t hb_bench_stats_bucket_width(unsigned i);

#endif
