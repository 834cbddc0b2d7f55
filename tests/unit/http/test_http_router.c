/* SPDX-License-Identifier: MIT */
/* Unit tests for the route table (http layer): literal and parameter segments, trailing slashes,
 * groups and their Allow strings, metrics labels, and malformed patterns. */
#include "core/err.h"
#include "http/http_router.h"
#include "unit.h"

static int handler(struct hb_http_request *req, struct hb_http_response *res)
{
    (void)req;
    (void)res;
    return 0;
}

static const struct hb_http_route routes[] = {
    {HB_HTTP_GET, "/hello/", handler, 0, "Hello"},
    {HB_HTTP_GET, "/healthz", handler, 0, "Healthz"},
    {HB_HTTP_DELETE, "/api/topics/<id>/", handler, 2, "Topic Instance"},
    {HB_HTTP_PATCH, "/api/topics/<id>/", handler, 2, "Topic Instance"},
    {HB_HTTP_GET, "/api/topics/<id>/", handler, 1, "Topic Instance"},
    {HB_HTTP_PUT, "/api/topics/<id>/", handler, 2, "Topic Instance"},
    {HB_HTTP_POST, "/api/topics/", handler, 1, "Topic List"},
    {HB_HTTP_GET, "/api/topics/", handler, 1, "Topic List"},
    {HB_HTTP_GET, "/api/topics/<int:id>/replies/", handler, 1, "Reply List"},
    {HB_HTTP_POST, "/api/token/", handler, 0, "Token"},
    {HB_HTTP_GET, "/api/rooms/<int:room>/chatlogs/<int:id>/", handler, 1, "Chat Log"},
    {HB_HTTP_GET, "/", handler, 0, "Root"},
};

static struct hb_http_router *make(void)
{
    struct hb_http_router *r = NULL;
    ASSERT_EQ_INT(hb_http_router_create(routes, sizeof(routes) / sizeof(routes[0]), &r), 0);
    return r;
}

/* Matches path; returns the group's pattern or "" and the params joined with ",". */
static const char *match(const struct hb_http_router *r, const char *path, char *params_out)
{
    struct hb_str params[HB_HTTP_MAX_PARAMS];
    int n = -1;
    const struct hb_http_route_group *g = hb_http_router_match(r, hb_str_from(path), params, &n);
    params_out[0] = '\0';
    if (g == NULL)
        return "";
    for (int i = 0; i < n; i++) {
        strncat(params_out, params[i].ptr, params[i].len);
        if (i + 1 < n)
            strcat(params_out, ",");
    }
    return g->pattern;
}

#define ASSERT_MATCH(r, path, want_pattern, want_params)                                           \
    do {                                                                                           \
        char p_[256];                                                                              \
        ASSERT_EQ_STR(match((r), (path), p_), (want_pattern));                                     \
        ASSERT_EQ_STR(p_, (want_params));                                                          \
    } while (0)

HB_TEST(http_router, literal)
{
    struct hb_http_router *r = make();
    ASSERT_MATCH(r, "/hello/", "/hello/", "");
    ASSERT_MATCH(r, "/healthz", "/healthz", "");
    ASSERT_MATCH(r, "/api/topics/", "/api/topics/", "");
    ASSERT_MATCH(r, "/", "/", "");
    ASSERT_MATCH(r, "/Hello/", "", ""); /* case-sensitive, as Django */
    ASSERT_MATCH(r, "/hello/x/", "", "");
    ASSERT_MATCH(r, "/hellox/", "", "");
    ASSERT_MATCH(r, "/hell/", "", "");
    ASSERT_MATCH(r, "", "", "");
    ASSERT_MATCH(r, "hello/", "", "");
    hb_http_router_destroy(r);
}

HB_TEST(http_router, trailing_slash)
{
    struct hb_http_router *r = make();
    ASSERT_MATCH(r, "/hello", "", "");    /* the server redirects this (APPEND_SLASH) */
    ASSERT_MATCH(r, "/hello//", "", "");  /* one slash only */
    ASSERT_MATCH(r, "//hello/", "", "");  /* no empty segments */
    ASSERT_MATCH(r, "/healthz/", "", ""); /* patterns without the slash do not take one */
    ASSERT_MATCH(r, "/api/topics/7", "", "");
    ASSERT_MATCH(r, "/api/topics//", "", "");
    ASSERT_MATCH(r, "//", "", "");
    hb_http_router_destroy(r);
}

HB_TEST(http_router, any_segment_param)
{
    struct hb_http_router *r = make();
    ASSERT_MATCH(r, "/api/topics/7/", "/api/topics/<id>/", "7");
    ASSERT_MATCH(r, "/api/topics/abc/", "/api/topics/<id>/", "abc");
    ASSERT_MATCH(r, "/api/topics/-1/", "/api/topics/<id>/", "-1");
    ASSERT_MATCH(r, "/api/topics/\xe3\x81\x82/", "/api/topics/<id>/", "\xe3\x81\x82");
    ASSERT_MATCH(r, "/api/topics/1.json/", "", ""); /* no '.' (format suffixes 404) */
    ASSERT_MATCH(r, "/api/topics/../", "", "");
    ASSERT_MATCH(r, "/api/topics/a/b/", "", "");
    hb_http_router_destroy(r);
}

HB_TEST(http_router, int_param)
{
    struct hb_http_router *r = make();
    ASSERT_MATCH(r, "/api/topics/12/replies/", "/api/topics/<int:id>/replies/", "12");
    ASSERT_MATCH(r, "/api/topics/0012/replies/", "/api/topics/<int:id>/replies/", "0012");
    ASSERT_MATCH(r, "/api/topics/abc/replies/", "", ""); /* API.md §2.1 example: 404 */
    ASSERT_MATCH(r, "/api/topics/-1/replies/", "", "");
    ASSERT_MATCH(r, "/api/topics/1a/replies/", "", "");
    ASSERT_MATCH(r, "/api/topics//replies/", "", "");
    ASSERT_MATCH(r, "/api/rooms/3/chatlogs/44/", "/api/rooms/<int:room>/chatlogs/<int:id>/",
                 "3,44");
    ASSERT_MATCH(r, "/api/rooms/3/chatlogs/x/", "", "");
    hb_http_router_destroy(r);
}

HB_TEST(http_router, allow_strings_in_drf_order)
{
    struct hb_http_router *r = make();
    char params[64];
    struct hb_str p[HB_HTTP_MAX_PARAMS];
    int n;
    const struct hb_http_route_group *detail =
        hb_http_router_match(r, HB_STR("/api/topics/1/"), p, &n);
    ASSERT(detail != NULL);
    /* Declared DELETE, PATCH, GET, PUT: listed GET, PUT, PATCH, DELETE, HEAD, OPTIONS. */
    ASSERT_EQ_STR(detail->allow, "GET, PUT, PATCH, DELETE, HEAD, OPTIONS");
    const struct hb_http_route_group *list = hb_http_router_match(r, HB_STR("/api/topics/"), p, &n);
    ASSERT_EQ_STR(list->allow, "GET, POST, HEAD, OPTIONS");
    const struct hb_http_route_group *token = hb_http_router_match(r, HB_STR("/api/token/"), p, &n);
    ASSERT_EQ_STR(token->allow, "POST, OPTIONS"); /* no GET: no HEAD */
    ASSERT_EQ_STR(hb_http_router_match(r, HB_STR("/hello/"), p, &n)->allow, "GET, HEAD, OPTIONS");
    (void)params;
    hb_http_router_destroy(r);
}

HB_TEST(http_router, groups_methods_labels)
{
    struct hb_http_router *r = make();
    struct hb_str p[HB_HTTP_MAX_PARAMS];
    int n;
    ASSERT_EQ_INT(hb_http_router_n_groups(r), 8);
    const struct hb_http_route_group *detail =
        hb_http_router_match(r, HB_STR("/api/topics/1/"), p, &n);
    /* The first row of a pattern sets the group's auth rule and name. */
    ASSERT_EQ_INT(detail->auth, 2);
    ASSERT_EQ_STR(detail->name, "Topic Instance");
    ASSERT_EQ_STR(detail->label, "/api/topics/{id}/");
    ASSERT(hb_http_route_for_method(detail, HB_HTTP_GET) == &routes[4]);
    ASSERT(hb_http_route_for_method(detail, HB_HTTP_HEAD) == &routes[4]); /* HEAD runs GET */
    ASSERT(hb_http_route_for_method(detail, HB_HTTP_POST) == NULL);
    ASSERT(hb_http_route_for_method(detail, HB_HTTP_OPTIONS) == NULL);
    ASSERT(hb_http_route_for_method(detail, HB_HTTP_OTHER) == NULL);
    const struct hb_http_route_group *token = hb_http_router_match(r, HB_STR("/api/token/"), p, &n);
    ASSERT(hb_http_route_for_method(token, HB_HTTP_HEAD) == NULL);
    const struct hb_http_route_group *logs =
        hb_http_router_match(r, HB_STR("/api/rooms/1/chatlogs/2/"), p, &n);
    ASSERT_EQ_STR(logs->label, "/api/rooms/{room}/chatlogs/{id}/");
    ASSERT_EQ_STR(hb_http_router_match(r, HB_STR("/"), p, &n)->label, "/");
    ASSERT_EQ_STR(hb_http_router_match(r, HB_STR("/healthz"), p, &n)->label, "/healthz");
    for (int i = 0; i < hb_http_router_n_groups(r); i++)
        ASSERT_EQ_INT(hb_http_router_group(r, i)->index, i);
    hb_http_router_destroy(r);
}

HB_TEST(http_router, malformed_patterns_are_refused)
{
    static const char *const bad[] = {
        "hello/", "", "/a//b/", "/<id", "/<>/", "/<int:>/", "/a/<id>x/", "/1/2/3/4/5/6/7/8/9/",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct hb_http_route rows[] = {
            {HB_HTTP_GET, "/ok/", handler, 0, "Ok"},
            {HB_HTTP_GET, bad[i], handler, 0, "Bad"},
        };
        struct hb_http_router *r = (struct hb_http_router *)1;
        if (hb_http_router_create(rows, 2, &r) != HB_EINVAL)
            HB_FAIL_("pattern '%s' accepted", bad[i]);
    }
}
