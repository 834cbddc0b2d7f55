/* SPDX-License-Identifier: MIT */
/* libFuzzer target for what the server does with a request target before a handler runs:
 * percent-decoding (hb_http_url_decode), route matching on the decoded path, query lookup
 * (hb_http_url_param, hb_http_url_each_param) and the static-file resolver. The input is
 * "path?query"; a path of an absolute form is matched as sent. Invariants, checked with abort():
 * decoding never grows and returns the input when there is nothing to decode; parameters are
 * slices of the matched path with the segment rules of their kind; the resolver's output stays
 * inside the root (no dot segments, no hidden names, no NUL, backslash or leading '/') and fits
 * the buffer it was given, however small. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/err.h"
#include "http/http_router.h"
#include "http/http_static.h"
#include "http/http_url.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int cond)
{
    if (!cond)
        abort();
}

static int handler(struct hb_http_request *req, struct hb_http_response *res)
{
    (void)req;
    (void)res;
    return 0;
}

static const struct hb_http_route routes[] = {
    {HB_HTTP_GET, "/hello/", handler, 0, "Hello"},
    {HB_HTTP_GET, "/slow/", handler, 0, "Slow"},
    {HB_HTTP_GET, "/healthz", handler, 0, "Healthz"},
    {HB_HTTP_GET, "/api/topics/", handler, 1, "Topic List"},
    {HB_HTTP_POST, "/api/topics/", handler, 2, "Topic List"},
    {HB_HTTP_GET, "/api/topics/<id>/", handler, 1, "Topic Instance"},
    {HB_HTTP_DELETE, "/api/topics/<id>/", handler, 2, "Topic Instance"},
    {HB_HTTP_GET, "/api/topics/<int:id>/replies/", handler, 1, "Reply List"},
    {HB_HTTP_GET, "/api/rooms/<int:room>/chatlogs/<int:id>/", handler, 1, "Chat Log"},
    {HB_HTTP_POST, "/api/token/", handler, 0, "Token"},
    {HB_HTTP_GET, "/", handler, 0, "Root"},
};

static struct hb_http_router *router;

static void check_params(const struct hb_http_route_group *g, struct hb_str path,
                         const struct hb_str *params, int n_params)
{
    check(n_params >= 0 && n_params <= HB_HTTP_MAX_PARAMS);
    int n_want = 0;
    for (const char *p = g->pattern; (p = strchr(p, '<')) != NULL; p++)
        n_want++;
    check(n_params == n_want);
    const char *at = g->pattern;
    for (int i = 0; i < n_params; i++) {
        struct hb_str s = params[i];
        check(s.len > 0 && s.ptr >= path.ptr && s.ptr + s.len <= path.ptr + path.len);
        check(s.ptr[-1] == '/' && (s.ptr + s.len == path.ptr + path.len || s.ptr[s.len] == '/'));
        at = strchr(at, '<');
        bool is_int = strncmp(at + 1, "int:", 4) == 0;
        at++;
        for (size_t k = 0; k < s.len; k++) {
            check(s.ptr[k] != '/' && s.ptr[k] != '.');
            if (is_int)
                check(s.ptr[k] >= '0' && s.ptr[k] <= '9');
        }
    }
}

static void check_resolved(const char *out, size_t out_len)
{
    size_t n = strlen(out);
    check(n < out_len);
    check(n == 0 || (out[0] != '/' && out[n - 1] != '/'));
    check(strchr(out, '\\') == NULL);
    /* Every segment is non-empty and starts with something other than '.'. */
    const char *seg = out;
    while (n > 0) {
        const char *slash = strchr(seg, '/');
        size_t len = slash ? (size_t)(slash - seg) : strlen(seg);
        check(len > 0 && seg[0] != '.');
        if (slash == NULL)
            break;
        seg = slash + 1;
    }
}

static void collect(void *ctx, struct hb_str key, struct hb_str value)
{
    size_t *total = ctx;
    check(key.len == 0 || key.ptr != NULL);
    check(value.len == 0 || value.ptr != NULL);
    *total += key.len + value.len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (router == NULL)
        check(hb_http_router_create(routes, sizeof(routes) / sizeof(routes[0]), &router) == 0);
    if (size > 64 * 1024)
        return 0;
    struct hb_arena arena;
    hb_arena_init(&arena, 4096);
    struct hb_str target = {(const char *)data, size};
    const char *q = memchr(target.ptr, '?', target.len);
    struct hb_str path = {target.ptr, q ? (size_t)(q - target.ptr) : target.len};
    struct hb_str query = q ? (struct hb_str){q + 1, target.len - path.len - 1} : HB_STR_NULL;

    /* Percent-decoding, as the server does before matching. */
    struct hb_str decoded = hb_http_url_decode(&arena, path, false);
    check(decoded.len <= path.len);
    if (memchr(path.ptr, '%', path.len) == NULL)
        check(decoded.ptr == path.ptr && decoded.len == path.len);
    struct hb_str form = hb_http_url_decode(&arena, path, true);
    check(form.len <= path.len);

    struct hb_str params[HB_HTTP_MAX_PARAMS];
    int n_params = -1;
    const struct hb_http_route_group *g = hb_http_router_match(router, decoded, params, &n_params);
    if (g != NULL) {
        check_params(g, decoded, params, n_params);
        check(g->allow != NULL && g->label != NULL);
        for (int m = HB_HTTP_OTHER; m <= HB_HTTP_OPTIONS; m++) {
            const struct hb_http_route *r = hb_http_route_for_method(g, (enum hb_http_method)m);
            check(r == NULL || strcmp(r->pattern, g->pattern) == 0);
        }
    }

    /* Query lookup: any key, repeated keys, the last wins. */
    struct hb_str value;
    if (hb_http_url_param(&arena, query, "ms", &value))
        check(value.len <= query.len);
    size_t total = 0;
    hb_http_url_each_param(&arena, query, collect, &total);
    check(total <= query.len);

    /* The static resolver, with a roomy buffer and with one sized from the input. */
    static char out[4096];
    if (hb_http_static_resolve(path.ptr, path.len, out, sizeof(out)) == 0)
        check_resolved(out, sizeof(out));
    size_t small = size > 0 ? data[size - 1] % 32 : 0;
    char tiny[32];
    if (hb_http_static_resolve(path.ptr, path.len, tiny, small) == 0)
        check_resolved(tiny, small);
    hb_arena_release(&arena);
    return 0;
}
