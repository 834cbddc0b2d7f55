/* SPDX-License-Identifier: MIT */
/* The route table (http layer). Routes are data: rows of {method, pattern, handler, auth, name}
 * (kore, nginx command tables). Rows with the same pattern form a group, which knows its Allow
 * header and its auth rule. Patterns are literal segments plus parameters:
 *   <int:name>  a segment of ASCII digits only (nested routes: /api/topics/<int:id>/replies/)
 *   <name>      any non-empty segment without '/' or '.' (detail routes; the handler decides
 *               whether it names a row, after authentication: API.md §2.1). */
#ifndef HB_HTTP_ROUTER_H
#define HB_HTTP_ROUTER_H

#include <stddef.h>

#include "http/http_request.h"
#include "http/http_response.h"

/* Returns 0 when res is complete, or HB_EAGAIN when the handler will call
 * hb_http_server_finish() later (a timer, the thread pool). */
typedef int hb_http_handler_cb(struct hb_http_request *req, struct hb_http_response *res);

/* Fields in the order of the table rows, which are positional initialisers (app_routes.c, tests):
 * 8 bytes of padding per row is cheaper than rows that no longer read as the table. */
/* NOLINTNEXTLINE(clang-analyzer-optin.performance.Padding) */
struct hb_http_route {
    enum hb_http_method method;
    const char *pattern;
    hb_http_handler_cb *handler;
    int auth;         /* the application's auth rule for the pattern (the first row's counts) */
    const char *name; /* the OPTIONS label, e.g. "Topic List" */
};

struct hb_http_route_group {
    const char *pattern;
    const char *label; /* the metrics label: parameters shown as {name} */
    const char *allow; /* "GET, POST, HEAD, OPTIONS" */
    const char *name;
    int auth;
    int index; /* 0..n_groups-1, for metrics */
    const struct hb_http_route *by_method[HB_HTTP_OPTIONS + 1];
};

struct hb_http_router;

/* Compiles routes (which must outlive the router). Returns 0, or HB_EINVAL for a malformed
 * pattern (logged). */
int hb_http_router_create(const struct hb_http_route *routes, size_t n_routes,
                          struct hb_http_router **out);
void hb_http_router_destroy(struct hb_http_router *router);

int hb_http_router_n_groups(const struct hb_http_router *router);
const struct hb_http_route_group *hb_http_router_group(const struct hb_http_router *router, int i);

/* Matches a decoded path. Returns the group or NULL; fills params (slices into path) and
 * *n_params. */
const struct hb_http_route_group *hb_http_router_match(const struct hb_http_router *router,
                                                       struct hb_str path, struct hb_str *params,
                                                       int *n_params);

/* The row for method in group: GET's for HEAD; NULL when the method is not routed. */
const struct hb_http_route *hb_http_route_for_method(const struct hb_http_route_group *group,
                                                     enum hb_http_method method);

#endif
