/* SPDX-License-Identifier: MIT */
/* The whole HTTP API surface in one table (app layer): method, pattern, handler, auth rule and
 * the OPTIONS label. Rows with the same pattern share the first row's auth rule. */
#include "app/app.h"

const struct hb_http_route hb_app_routes[] = {
    /* demo (API.md §7.6) */
    {HB_HTTP_GET, "/hello/", hb_app_hello, HB_AUTH_NONE, "Hello"},
    {HB_HTTP_GET, "/test/", hb_app_hello, HB_AUTH_NONE, "Test"},
    {HB_HTTP_GET, "/aaa/", hb_app_hello, HB_AUTH_NONE, "Aaa"},
    {HB_HTTP_GET, "/slow/", hb_app_slow, HB_AUTH_NONE, "Slow"},
    /* operations (API.md §8) */
    {HB_HTTP_GET, "/healthz", hb_app_healthz, HB_AUTH_NONE, "Healthz"},
    {HB_HTTP_GET, "/readyz", hb_app_readyz, HB_AUTH_NONE, "Readyz"},
    {HB_HTTP_GET, "/metrics", hb_app_metrics, HB_AUTH_NONE, "Metrics"},
};

const size_t hb_app_n_routes = sizeof(hb_app_routes) / sizeof(hb_app_routes[0]);
