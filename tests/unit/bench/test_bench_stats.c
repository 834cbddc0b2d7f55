/* SPDX-License-Identifier: MIT */
/* Tests for the latency histogram and counters (src/bench/bench_stats.c): the bucket layout is
 * contiguous and fine enough, and percentiles read back from it stay within 1% of the exact
 * nearest-rank percentiles of random data of several shapes. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench_stats.h"
#include "unit.h"

/* xorshift64*: a small deterministic generator, so a failure can be replayed. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng_next(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1dull;
}

static double rng_unit(void)
{
    return (double)(rng_next() >> 11) / 9007199254740992.0; /* [0, 1) */
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static uint64_t exact_percentile(const uint64_t *sorted, size_t n, double p)
{
    if (p <= 0)
        return sorted[0];
    size_t rank = (size_t)ceil(p * (double)n / 100.0 - 1e-9);
    if (rank < 1)
        rank = 1;
    if (rank > n)
        rank = n;
    return sorted[rank - 1];
}

static const double checked[] = {0, 1, 10, 25, 50, 75, 90, 95, 99, 99.5, 99.9, 99.99, 99.999, 100};

static void check_within_one_percent(uint64_t *values, size_t n, const char *shape)
{
    struct hb_bench_stats s;
    hb_bench_stats_init(&s);
    for (size_t i = 0; i < n; i++)
        hb_bench_stats_record(&s, values[i]);
    qsort(values, n, sizeof(values[0]), cmp_u64);
    ASSERT_EQ_INT(s.n_latencies, n);
    ASSERT_EQ_INT(s.min_ns, values[0]);
    ASSERT_EQ_INT(s.max_ns, values[n - 1]);
    for (size_t k = 0; k < sizeof(checked) / sizeof(checked[0]); k++) {
        double want = (double)exact_percentile(values, n, checked[k]);
        double got = (double)hb_bench_stats_percentile(&s, checked[k]);
        double err = fabs(got - want) / (want > 0 ? want : 1);
        if (err > 0.01)
            HB_FAIL_("%s p%g: got %.0f, exact %.0f (error %.3f%%)", shape, checked[k], got, want,
                     err * 100);
    }
    hb_bench_stats_release(&s);
}

#define N_VALUES 200000

HB_TEST(bench_stats, log_uniform_1us_to_10s)
{
    uint64_t *v = malloc(N_VALUES * sizeof(*v));
    for (size_t i = 0; i < N_VALUES; i++)
        v[i] = (uint64_t)(1e3 * pow(10, 7 * rng_unit()));
    check_within_one_percent(v, N_VALUES, "log-uniform");
    free(v);
}

HB_TEST(bench_stats, exponential_around_200us)
{
    uint64_t *v = malloc(N_VALUES * sizeof(*v));
    for (size_t i = 0; i < N_VALUES; i++)
        v[i] = 20000 + (uint64_t)(-200000.0 * log(1.0 - rng_unit()));
    check_within_one_percent(v, N_VALUES, "exponential");
    free(v);
}

HB_TEST(bench_stats, narrow_normal_around_50ms)
{
    /* The /slow/?ms=50 shape: everything within a few hundred microseconds of 50 ms. */
    uint64_t *v = malloc(N_VALUES * sizeof(*v));
    for (size_t i = 0; i < N_VALUES; i++) {
        double u1 = rng_unit() + 1e-12, u2 = rng_unit();
        double z = sqrt(-2 * log(u1)) * cos(2 * M_PI * u2);
        v[i] = (uint64_t)(50e6 + 150e3 * z);
    }
    check_within_one_percent(v, N_VALUES, "normal");
    free(v);
}

HB_TEST(bench_stats, bimodal_with_outliers)
{
    uint64_t *v = malloc(N_VALUES * sizeof(*v));
    for (size_t i = 0; i < N_VALUES; i++) {
        uint64_t r = rng_next() % 1000;
        if (r < 990)
            v[i] = 30000 + rng_next() % 20000; /* 30-50 us */
        else if (r < 999)
            v[i] = 5000000 + rng_next() % 1000000; /* 5-6 ms */
        else
            v[i] = 1000000000ull + rng_next() % 2000000000ull; /* 1-3 s stalls */
    }
    check_within_one_percent(v, N_VALUES, "bimodal");
    free(v);
}

HB_TEST(bench_stats, small_sets_and_tiny_values)
{
    /* Below 256 ns every value has its own bucket: exact. */
    uint64_t v[] = {7, 3, 255, 100, 0, 1, 200};
    size_t n = sizeof(v) / sizeof(v[0]);
    struct hb_bench_stats s;
    hb_bench_stats_init(&s);
    for (size_t i = 0; i < n; i++)
        hb_bench_stats_record(&s, v[i]);
    qsort(v, n, sizeof(v[0]), cmp_u64);
    for (size_t k = 0; k < sizeof(checked) / sizeof(checked[0]); k++)
        ASSERT_EQ_INT(hb_bench_stats_percentile(&s, checked[k]),
                      exact_percentile(v, n, checked[k]));
    hb_bench_stats_release(&s);

    /* One value: every percentile is that value. */
    hb_bench_stats_init(&s);
    hb_bench_stats_record(&s, 123456789);
    ASSERT_EQ_INT(hb_bench_stats_percentile(&s, 50), 123456789);
    ASSERT_EQ_INT(hb_bench_stats_percentile(&s, 99.9), 123456789);
    hb_bench_stats_release(&s);
}

HB_TEST(bench_stats, empty_and_huge)
{
    struct hb_bench_stats s;
    hb_bench_stats_init(&s);
    ASSERT_EQ_INT(hb_bench_stats_percentile(&s, 50), 0);
    ASSERT(hb_bench_stats_mean(&s) == 0);
    hb_bench_stats_record(&s, UINT64_MAX);
    ASSERT_EQ_INT(hb_bench_stats_bucket(UINT64_MAX), HB_BENCH_STATS_N_BUCKETS - 1);
    ASSERT_EQ_INT(s.n_latencies, 1);
    hb_bench_stats_release(&s);
}

HB_TEST(bench_stats, buckets_tile_the_range)
{
    /* Bucket i+1 starts where bucket i ends, and each is at most 1/128 of its start wide. */
    for (unsigned i = 0; i + 1 < HB_BENCH_STATS_N_BUCKETS; i++) {
        uint64_t low = hb_bench_stats_bucket_low(i), width = hb_bench_stats_bucket_width(i);
        if (hb_bench_stats_bucket_low(i + 1) != low + width)
            HB_FAIL_("gap after bucket %u", i);
        ASSERT_EQ_INT(hb_bench_stats_bucket(low), i);
        ASSERT_EQ_INT(hb_bench_stats_bucket(low + width - 1), i);
        if (low >= 256 && (double)width / (double)low > 1.0 / 128 + 1e-12)
            HB_FAIL_("bucket %u too wide: %llu at %llu", i, (unsigned long long)width,
                     (unsigned long long)low);
    }
    unsigned last = HB_BENCH_STATS_N_BUCKETS - 1;
    ASSERT_EQ_INT(hb_bench_stats_bucket_low(last) + hb_bench_stats_bucket_width(last) - 1,
                  HB_BENCH_STATS_MAX_VALUE);
}

HB_TEST(bench_stats, merge_equals_recording_together)
{
    struct hb_bench_stats a, b, all;
    hb_bench_stats_init(&a);
    hb_bench_stats_init(&b);
    hb_bench_stats_init(&all);
    for (int i = 0; i < 10000; i++) {
        uint64_t v = 1000 + rng_next() % 10000000;
        hb_bench_stats_record(i % 3 ? &a : &b, v);
        hb_bench_stats_record(&all, v);
    }
    hb_bench_stats_record_status(&a, 200);
    hb_bench_stats_record_status(&b, 200);
    hb_bench_stats_record_status(&b, 503);
    hb_bench_stats_error(&b, HB_BENCH_STATS_ERR_TIMEOUT, 2, "no response within %d ms", 10);
    b.bytes_read = 5;
    a.bytes_read = 7;
    hb_bench_stats_merge(&a, &b);
    for (size_t k = 0; k < sizeof(checked) / sizeof(checked[0]); k++)
        ASSERT_EQ_INT(hb_bench_stats_percentile(&a, checked[k]),
                      hb_bench_stats_percentile(&all, checked[k]));
    ASSERT_EQ_INT(a.n_latencies, 10000);
    ASSERT_EQ_INT(a.min_ns, all.min_ns);
    ASSERT_EQ_INT(a.max_ns, all.max_ns);
    ASSERT(fabs(hb_bench_stats_mean(&a) - hb_bench_stats_mean(&all)) <
           1e-6 * hb_bench_stats_mean(&all));
    ASSERT_EQ_INT(a.status[200], 2);
    ASSERT_EQ_INT(a.status[503], 1);
    ASSERT_EQ_INT(a.n_responses, 3);
    ASSERT_EQ_INT(a.errors[HB_BENCH_STATS_ERR_TIMEOUT], 2);
    ASSERT_EQ_STR(a.error_text[HB_BENCH_STATS_ERR_TIMEOUT], "no response within 10 ms");
    ASSERT_EQ_INT(a.bytes_read, 12);
    hb_bench_stats_release(&a);
    hb_bench_stats_release(&b);
    hb_bench_stats_release(&all);
}

HB_TEST(bench_stats, errors_keep_the_first_message)
{
    struct hb_bench_stats s;
    hb_bench_stats_init(&s);
    hb_bench_stats_error(&s, HB_BENCH_STATS_ERR_CONNECT, 1, "connect to %s: %s", "127.0.0.1:1",
                         "connection refused");
    hb_bench_stats_error(&s, HB_BENCH_STATS_ERR_CONNECT, 3, "second");
    hb_bench_stats_error(&s, HB_BENCH_STATS_ERR_CLOSED, 1, "closed");
    ASSERT_EQ_INT(s.errors[HB_BENCH_STATS_ERR_CONNECT], 4);
    ASSERT_EQ_STR(s.error_text[HB_BENCH_STATS_ERR_CONNECT],
                  "connect to 127.0.0.1:1: connection refused");
    ASSERT_EQ_INT(hb_bench_stats_n_errors(&s), 5);
    ASSERT_EQ_STR(hb_bench_stats_err_name(HB_BENCH_STATS_ERR_CLOSED), "closed");
    hb_bench_stats_record_status(&s, 1234); /* out of range: counted as "other" */
    ASSERT_EQ_INT(s.status[0], 1);
    hb_bench_stats_release(&s);
}
