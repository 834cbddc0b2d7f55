/* SPDX-License-Identifier: MIT */
/* Histogram arithmetic and counters (bench layer). The bucket layout is documented in the
 * header; the inverse mapping here must stay in step with hb_bench_stats_bucket(). */
#include "bench/bench_stats.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"

_Static_assert(HB_BENCH_STATS_N_BUCKETS ==
                   (2u << HB_BENCH_STATS_SUB_BITS) +
                       (HB_BENCH_STATS_MAX_BITS - HB_BENCH_STATS_SUB_BITS - 1) *
                           (1u << HB_BENCH_STATS_SUB_BITS),
               "bucket count");

void hb_bench_stats_init(struct hb_bench_stats *s)
{
    memset(s, 0, sizeof(*s));
    s->_buckets = hb_xcalloc(HB_BENCH_STATS_N_BUCKETS, sizeof(uint64_t));
}

void hb_bench_stats_release(struct hb_bench_stats *s)
{
    free(s->_buckets);
    s->_buckets = NULL;
}

void hb_bench_stats_error(struct hb_bench_stats *s, enum hb_bench_stats_err kind, uint64_t n,
                          const char *fmt, ...)
{
    if (s->errors[kind] == 0) {
        va_list ap;
        va_start(ap, fmt);
        /* NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized): clang 14 false positive */
        vsnprintf(s->error_text[kind], sizeof(s->error_text[kind]), fmt, ap);
        va_end(ap);
    }
    s->errors[kind] += n;
}

uint64_t hb_bench_stats_n_errors(const struct hb_bench_stats *s)
{
    uint64_t n = 0;
    for (int i = 0; i < HB_BENCH_STATS_N_ERR; i++)
        n += s->errors[i];
    return n;
}

const char *hb_bench_stats_err_name(enum hb_bench_stats_err kind)
{
    static const char *const names[HB_BENCH_STATS_N_ERR] = {
        [HB_BENCH_STATS_ERR_CONNECT] = "connect", [HB_BENCH_STATS_ERR_TIMEOUT] = "timeout",
        [HB_BENCH_STATS_ERR_CLOSED] = "closed",   [HB_BENCH_STATS_ERR_READ] = "read",
        [HB_BENCH_STATS_ERR_WRITE] = "write",     [HB_BENCH_STATS_ERR_PROTOCOL] = "protocol",
    };
    return (unsigned)kind < HB_BENCH_STATS_N_ERR ? names[kind] : "unknown";
}

void hb_bench_stats_merge(struct hb_bench_stats *dst, const struct hb_bench_stats *src)
{
    for (unsigned i = 0; i < HB_BENCH_STATS_N_BUCKETS; i++)
        dst->_buckets[i] += src->_buckets[i];
    if (src->n_latencies > 0) {
        if (dst->n_latencies == 0 || src->min_ns < dst->min_ns)
            dst->min_ns = src->min_ns;
        if (src->max_ns > dst->max_ns)
            dst->max_ns = src->max_ns;
    }
    dst->n_latencies += src->n_latencies;
    dst->sum_ns += src->sum_ns;
    dst->sum_sq_ns += src->sum_sq_ns;
    dst->n_responses += src->n_responses;
    for (int i = 0; i < HB_BENCH_STATS_N_STATUS; i++)
        dst->status[i] += src->status[i];
    for (int i = 0; i < HB_BENCH_STATS_N_ERR; i++) {
        if (dst->errors[i] == 0 && src->errors[i] > 0)
            memcpy(dst->error_text[i], src->error_text[i], sizeof(dst->error_text[i]));
        dst->errors[i] += src->errors[i];
    }
    dst->bytes_read += src->bytes_read;
    dst->bytes_written += src->bytes_written;
    dst->n_connects += src->n_connects;
}

uint64_t hb_bench_stats_bucket_low(unsigned i)
{
    const unsigned linear = 2u << HB_BENCH_STATS_SUB_BITS, per = 1u << HB_BENCH_STATS_SUB_BITS;
    if (i < linear)
        return i;
    unsigned j = i - linear;
    unsigned shift = j / per + 1;
    uint64_t sub = per + j % per;
    return sub << shift;
}

uint64_t hb_bench_stats_bucket_width(unsigned i)
{
    const unsigned linear = 2u << HB_BENCH_STATS_SUB_BITS, per = 1u << HB_BENCH_STATS_SUB_BITS;
    if (i < linear)
        return 1;
    return UINT64_C(1) << ((i - linear) / per + 1);
}

uint64_t hb_bench_stats_percentile(const struct hb_bench_stats *s, double p)
{
    if (s->n_latencies == 0)
        return 0;
    if (p <= 0)
        return s->min_ns;
    if (p >= 100)
        return s->max_ns;
    /* Nearest rank: the ceil(p/100 * n)-th smallest value (the epsilon absorbs rounding). */
    uint64_t rank = (uint64_t)ceil(p * (double)s->n_latencies / 100.0 - 1e-9);
    if (rank < 1)
        rank = 1;
    uint64_t seen = 0;
    for (unsigned i = 0; i < HB_BENCH_STATS_N_BUCKETS; i++) {
        seen += s->_buckets[i];
        if (seen >= rank) {
            uint64_t v = hb_bench_stats_bucket_low(i) + (hb_bench_stats_bucket_width(i) - 1) / 2;
            if (v < s->min_ns)
                v = s->min_ns;
            if (v > s->max_ns)
                v = s->max_ns;
            return v;
        }
    }
    return s->max_ns;
}

double hb_bench_stats_mean(const struct hb_bench_stats *s)
{
    return s->n_latencies ? s->sum_ns / (double)s->n_latencies : 0.0;
}

double hb_bench_stats_stddev(const struct hb_bench_stats *s)
{
    if (s->n_latencies < 2)
        return 0.0;
    double n = (double)s->n_latencies;
    double var = (s->sum_sq_ns - s->sum_ns * s->sum_ns / n) / (n - 1);
    return var > 0 ? sqrt(var) : 0.0;
}
