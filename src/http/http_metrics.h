/* SPDX-License-Identifier: MIT */
/* Request metrics (http layer): per-worker counters with no locks on the hot path, summed when
 * /metrics is scraped (API.md §8). Each worker writes only its own table; a scrape reads every
 * table with relaxed atomic loads, so a value may lag by a request but is never torn. */
#ifndef HB_HTTP_METRICS_H
#define HB_HTTP_METRICS_H

#include <stdint.h>

#include "core/buf.h"
#include "http/http_request.h"

struct hb_http_metrics;

/* Creates the calling worker's table, for n_routes route groups plus "unmatched" and "spa". */
struct hb_http_metrics *hb_http_metrics_create(int n_routes);
void hb_http_metrics_destroy(struct hb_http_metrics *m);

/* Route indices beyond the router's groups. */
#define HB_HTTP_METRICS_UNMATCHED(n_routes) (n_routes)
#define HB_HTTP_METRICS_SPA(n_routes)       ((n_routes) + 1)

/* Counts one finished request. */
void hb_http_metrics_record(struct hb_http_metrics *m, int route, enum hb_http_method method,
                            int status, uint64_t duration_ns);

/* Registers or unregisters a table to be summed by hb_http_metrics_render(). */
void hb_http_metrics_register(struct hb_http_metrics *m);
void hb_http_metrics_unregister(struct hb_http_metrics *m);

/* Counter added by other layers (WebSocket): a named extra sample line appended verbatim
 * by the callback, so hb_http_metrics_render stays the one place that writes the format. */
typedef void hb_http_metrics_extra_cb(struct hb_buf *out);
void hb_http_metrics_set_extra(hb_http_metrics_extra_cb *cb);

/* Writes the Prometheus text exposition of every registered table. labels[i] names route i. */
void hb_http_metrics_render(struct hb_buf *out, const char *const *labels, int n_routes,
                            long open_conns);

#endif
