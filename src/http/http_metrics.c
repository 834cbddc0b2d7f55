/* SPDX-License-Identifier: MIT */
/* Per-worker request counters and latency histograms (http layer). */
#include "http/http_metrics.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"

#define N_BUCKETS   13
#define N_SLOTS     1024
#define MAX_WORKERS 256

static const uint64_t bucket_ns[N_BUCKETS] = {
    1000000,   2500000,   5000000,    10000000,   25000000,   50000000,    100000000,
    250000000, 500000000, 1000000000, 2500000000, 5000000000, 10000000000,
};
static const char *const bucket_text[N_BUCKETS] = {
    "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1",
    "0.25",  "0.5",    "1",     "2.5",  "5",     "10",
};

struct slot {
    uint32_t key; /* route << 16 | method << 10 | status; 0 = empty */
    uint64_t count;
};

struct histogram {
    uint64_t buckets[N_BUCKETS];
    uint64_t count;
    uint64_t sum_ns;
};

struct hb_http_metrics {
    int n_routes;
    struct slot slots[N_SLOTS];
    struct histogram *hist; /* n_routes + 2 */
};

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct hb_http_metrics *registry[MAX_WORKERS];
static hb_http_metrics_extra_cb *extra_cb;

static const char *const method_names[] = {"OTHER", "GET",    "POST", "PUT",
                                           "PATCH", "DELETE", "HEAD", "OPTIONS"};

struct hb_http_metrics *hb_http_metrics_create(int n_routes)
{
    struct hb_http_metrics *m = hb_xcalloc(1, sizeof(*m));
    m->n_routes = n_routes;
    m->hist = hb_xcalloc((size_t)n_routes + 2, sizeof(*m->hist));
    return m;
}

void hb_http_metrics_destroy(struct hb_http_metrics *m)
{
    if (m == NULL)
        return;
    free(m->hist);
    free(m);
}

/* NOLINTNEXTLINE(readability-non-const-parameter): the check misses __atomic_store_n's write */
static void add(uint64_t *p, uint64_t v)
{
    __atomic_store_n(p, __atomic_load_n(p, __ATOMIC_RELAXED) + v, __ATOMIC_RELAXED);
}

static uint64_t load(const uint64_t *p)
{
    return __atomic_load_n(p, __ATOMIC_RELAXED);
}

void hb_http_metrics_record(struct hb_http_metrics *m, int route, enum hb_http_method method,
                            int status, uint64_t duration_ns)
{
    uint32_t key = ((uint32_t)route + 1) << 16 | (uint32_t)method << 10 | (uint32_t)status;
    uint32_t h = (key * 2654435761u) % N_SLOTS;
    for (int i = 0; i < N_SLOTS; i++) {
        struct slot *s = &m->slots[(h + (uint32_t)i) % N_SLOTS];
        uint32_t k = __atomic_load_n(&s->key, __ATOMIC_RELAXED);
        if (k == 0) {
            __atomic_store_n(&s->key, key, __ATOMIC_RELEASE);
            k = key;
        }
        if (k == key) {
            add(&s->count, 1);
            break;
        }
    }
    struct histogram *hist = &m->hist[route];
    for (int b = 0; b < N_BUCKETS; b++) {
        if (duration_ns <= bucket_ns[b]) {
            add(&hist->buckets[b], 1);
            break;
        }
    }
    add(&hist->count, 1);
    add(&hist->sum_ns, duration_ns);
}

void hb_http_metrics_register(struct hb_http_metrics *m)
{
    pthread_mutex_lock(&registry_lock);
    for (int i = 0; i < MAX_WORKERS; i++) {
        if (registry[i] == NULL) {
            registry[i] = m;
            break;
        }
    }
    pthread_mutex_unlock(&registry_lock);
}

void hb_http_metrics_unregister(struct hb_http_metrics *m)
{
    pthread_mutex_lock(&registry_lock);
    for (int i = 0; i < MAX_WORKERS; i++) {
        if (registry[i] == m)
            registry[i] = NULL;
    }
    pthread_mutex_unlock(&registry_lock);
}

void hb_http_metrics_set_extra(hb_http_metrics_extra_cb *cb)
{
    extra_cb = cb;
}

static const char *route_label(const char *const *labels, int n_routes, int route)
{
    if (route < n_routes)
        return labels[route];
    return route == n_routes ? "unmatched" : "spa";
}

void hb_http_metrics_render(struct hb_buf *out, const char *const *labels, int n_routes,
                            long open_conns)
{
    /* Sum the per-worker tables into one scratch table keyed the same way. */
    struct hb_http_metrics *sum = hb_http_metrics_create(n_routes);
    pthread_mutex_lock(&registry_lock);
    for (int w = 0; w < MAX_WORKERS; w++) {
        struct hb_http_metrics *m = registry[w];
        if (m == NULL || m->n_routes != n_routes)
            continue;
        for (int i = 0; i < N_SLOTS; i++) {
            uint32_t key = __atomic_load_n(&m->slots[i].key, __ATOMIC_ACQUIRE);
            if (key == 0)
                continue;
            uint64_t count = load(&m->slots[i].count);
            uint32_t h = (key * 2654435761u) % N_SLOTS;
            for (int j = 0; j < N_SLOTS; j++) {
                struct slot *s = &sum->slots[(h + (uint32_t)j) % N_SLOTS];
                if (s->key == 0)
                    s->key = key;
                if (s->key == key) {
                    s->count += count;
                    break;
                }
            }
        }
        for (int r = 0; r < n_routes + 2; r++) {
            for (int b = 0; b < N_BUCKETS; b++)
                sum->hist[r].buckets[b] += load(&m->hist[r].buckets[b]);
            sum->hist[r].count += load(&m->hist[r].count);
            sum->hist[r].sum_ns += load(&m->hist[r].sum_ns);
        }
    }
    pthread_mutex_unlock(&registry_lock);

    (void)hb_buf_append_str(out, "# HELP hiroba_http_requests_total Finished HTTP requests.\n"
                                 "# TYPE hiroba_http_requests_total counter\n");
    for (int i = 0; i < N_SLOTS; i++) {
        uint32_t key = sum->slots[i].key;
        if (key == 0)
            continue;
        int route = (int)(key >> 16) - 1;
        int method = (int)((key >> 10) & 63);
        int status = (int)(key & 1023);
        (void)hb_buf_printf(out,
                            "hiroba_http_requests_total{route=\"%s\",method=\"%s\",status=\"%d\"} "
                            "%llu\n",
                            route_label(labels, n_routes, route),
                            method_names[method < 8 ? method : 0], status,
                            (unsigned long long)sum->slots[i].count);
    }
    (void)hb_buf_append_str(
        out, "# HELP hiroba_http_request_duration_seconds End of head to last byte.\n"
             "# TYPE hiroba_http_request_duration_seconds histogram\n");
    for (int r = 0; r < n_routes + 2; r++) {
        const struct histogram *h = &sum->hist[r];
        if (h->count == 0)
            continue;
        const char *label = route_label(labels, n_routes, r);
        uint64_t cumulative = 0;
        for (int b = 0; b < N_BUCKETS; b++) {
            cumulative += h->buckets[b];
            (void)hb_buf_printf(
                out,
                "hiroba_http_request_duration_seconds_bucket{route=\"%s\",le=\"%s\"} "
                "%llu\n",
                label, bucket_text[b], (unsigned long long)cumulative);
        }
        (void)hb_buf_printf(out,
                            "hiroba_http_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} "
                            "%llu\n"
                            "hiroba_http_request_duration_seconds_sum{route=\"%s\"} %.9f\n"
                            "hiroba_http_request_duration_seconds_count{route=\"%s\"} %llu\n",
                            label, (unsigned long long)h->count, label, (double)h->sum_ns / 1e9,
                            label, (unsigned long long)h->count);
    }
    (void)hb_buf_printf(out,
                        "# HELP hiroba_http_connections_open Open TCP connections.\n"
                        "# TYPE hiroba_http_connections_open gauge\n"
                        "hiroba_http_connections_open %ld\n",
                        open_conns);
    if (extra_cb != NULL)
        extra_cb(out);
    hb_http_metrics_destroy(sum);
}
