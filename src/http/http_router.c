/* SPDX-License-Identifier: MIT */
/* Route matching (http layer). A linear scan over compiled groups: the API has about twenty
 * patterns, and comparing pre-split segments beats building a trie at this size. */
#include "http/http_router.h"

#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/log.h"

#define MAX_SEGMENTS 8

enum seg_kind { SEG_LITERAL, SEG_INT, SEG_ANY };

struct segment {
    enum seg_kind kind;
    struct hb_str text;
};

struct group {
    struct hb_http_route_group pub;
    struct segment segs[MAX_SEGMENTS];
    int n_segs;
    bool has_trailing_slash;
    bool is_literal; /* no parameters: the path must equal the pattern */
    struct hb_str literal;
    char *label, *allow; /* owned; pub.label and pub.allow point at them */
};

struct hb_http_router {
    struct group *groups;
    int n_groups;
};

static bool is_param_name(const char *name, size_t len)
{
    if (len == 0)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (!(c == '_' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
              (c >= 'A' && c <= 'Z')))
            return false;
    }
    return true;
}

/* Splits "/a/<int:id>/b/" into segments and builds the metrics label "/a/{id}/b/". */
static int compile(struct group *g, const char *pattern)
{
    const char *p = pattern;
    struct hb_buf label;
    hb_buf_init(&label, 1024);
    if (*p != '/')
        return HB_EINVAL;
    while (*p == '/' && p[1] != '\0') {
        const char *start = ++p;
        while (*p != '\0' && *p != '/')
            p++;
        if (g->n_segs == MAX_SEGMENTS || p == start)
            goto fail;
        struct segment *s = &g->segs[g->n_segs++];
        s->text = (struct hb_str){start, (size_t)(p - start)};
        s->kind = SEG_LITERAL;
        (void)hb_buf_append_char(&label, '/');
        if (start[0] == '<') {
            /* A whole segment "<name>" or "<int:name>". */
            const char *name = start + 1;
            s->kind = SEG_ANY;
            if (strncmp(name, "int:", 4) == 0) {
                s->kind = SEG_INT;
                name += 4;
            }
            if (p - 1 < name || p[-1] != '>' || !is_param_name(name, (size_t)(p - 1 - name)))
                goto fail;
            (void)hb_buf_append_char(&label, '{');
            (void)hb_buf_append(&label, name, (size_t)(p - 1 - name));
            (void)hb_buf_append_char(&label, '}');
        } else {
            if (memchr(start, '<', (size_t)(p - start)) || memchr(start, '>', (size_t)(p - start)))
                goto fail;
            (void)hb_buf_append(&label, start, (size_t)(p - start));
        }
    }
    g->has_trailing_slash = *p == '/';
    g->is_literal = strchr(pattern, '<') == NULL;
    g->literal = hb_str_from(pattern);
    if (g->has_trailing_slash)
        (void)hb_buf_append_char(&label, '/');
    if (label.len == 0)
        (void)hb_buf_append_char(&label, '/');
    g->label = hb_buf_detach(&label, NULL);
    g->pub.label = g->label;
    return 0;

fail:
    hb_buf_release(&label);
    return HB_EINVAL;
}

static const char *const method_names[] = {"",      "GET",    "POST", "PUT",
                                           "PATCH", "DELETE", "HEAD", "OPTIONS"};

static void build_allow(struct group *g)
{
    struct hb_buf allow;
    hb_buf_init(&allow, 256);
    static const enum hb_http_method order[] = {HB_HTTP_GET, HB_HTTP_POST, HB_HTTP_PUT,
                                                HB_HTTP_PATCH, HB_HTTP_DELETE};
    for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
        if (g->pub.by_method[order[i]] == NULL)
            continue;
        (void)hb_buf_append_str(&allow, method_names[order[i]]);
        (void)hb_buf_append(&allow, ", ", 2);
    }
    if (g->pub.by_method[HB_HTTP_GET] != NULL)
        (void)hb_buf_append_str(&allow, "HEAD, ");
    (void)hb_buf_append_str(&allow, "OPTIONS");
    g->allow = hb_buf_detach(&allow, NULL);
    g->pub.allow = g->allow;
}

int hb_http_router_create(const struct hb_http_route *routes, size_t n_routes,
                          struct hb_http_router **out)
{
    struct hb_http_router *r = hb_xcalloc(1, sizeof(*r));
    r->groups = hb_xcalloc(n_routes, sizeof(*r->groups));
    for (size_t i = 0; i < n_routes; i++) {
        const struct hb_http_route *route = &routes[i];
        struct group *g = NULL;
        for (int j = 0; j < r->n_groups; j++) {
            if (strcmp(r->groups[j].pub.pattern, route->pattern) == 0)
                g = &r->groups[j];
        }
        if (g == NULL) {
            g = &r->groups[r->n_groups];
            g->pub.pattern = route->pattern;
            g->pub.name = route->name;
            g->pub.auth = route->auth;
            g->pub.index = r->n_groups++;
            if (compile(g, route->pattern) < 0) {
                hb_log_error("route '%s': malformed pattern", route->pattern);
                r->n_groups--;
                hb_http_router_destroy(r);
                return HB_EINVAL;
            }
        }
        g->pub.by_method[route->method] = route;
    }
    for (int j = 0; j < r->n_groups; j++)
        build_allow(&r->groups[j]);
    *out = r;
    return 0;
}

void hb_http_router_destroy(struct hb_http_router *router)
{
    if (router == NULL)
        return;
    for (int j = 0; j < router->n_groups; j++) {
        free(router->groups[j].label);
        free(router->groups[j].allow);
    }
    free(router->groups);
    free(router);
}

int hb_http_router_n_groups(const struct hb_http_router *router)
{
    return router->n_groups;
}

const struct hb_http_route_group *hb_http_router_group(const struct hb_http_router *router, int i)
{
    return &router->groups[i].pub;
}

static bool match_group(const struct group *g, struct hb_str path, struct hb_str *params,
                        int *n_params)
{
    if (g->is_literal) {
        /* Most routes: one comparison instead of a walk over the segments. */
        if (!hb_str_eq(path, g->literal))
            return false;
        *n_params = 0;
        return true;
    }
    size_t pos = 0;
    int n = 0;
    for (int i = 0; i < g->n_segs; i++) {
        if (pos >= path.len || path.ptr[pos] != '/')
            return false;
        pos++;
        size_t start = pos;
        while (pos < path.len && path.ptr[pos] != '/')
            pos++;
        struct hb_str seg = {path.ptr + start, pos - start};
        const struct segment *s = &g->segs[i];
        if (s->kind == SEG_LITERAL) {
            if (!hb_str_eq(seg, s->text))
                return false;
            continue;
        }
        if (seg.len == 0)
            return false;
        for (size_t k = 0; k < seg.len; k++) {
            char c = seg.ptr[k];
            if (s->kind == SEG_INT ? (c < '0' || c > '9') : c == '.')
                return false;
        }
        if (n < HB_HTTP_MAX_PARAMS)
            params[n++] = seg;
    }
    if (g->has_trailing_slash) {
        if (pos + 1 != path.len || path.ptr[pos] != '/')
            return false;
    } else if (pos != path.len) {
        return false;
    }
    *n_params = n;
    return true;
}

const struct hb_http_route_group *hb_http_router_match(const struct hb_http_router *router,
                                                       struct hb_str path, struct hb_str *params,
                                                       int *n_params)
{
    for (int j = 0; j < router->n_groups; j++) {
        if (match_group(&router->groups[j], path, params, n_params))
            return &router->groups[j].pub;
    }
    return NULL;
}

const struct hb_http_route *hb_http_route_for_method(const struct hb_http_route_group *group,
                                                     enum hb_http_method method)
{
    if (method == HB_HTTP_HEAD)
        method = HB_HTTP_GET;
    if (method == HB_HTTP_OTHER)
        return NULL;
    return group->by_method[method];
}
