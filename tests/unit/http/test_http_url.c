/* SPDX-License-Identifier: MIT */
/* Unit tests for percent-decoding and form/query parameters (http layer), following Django's
 * QueryDict: '+' is a space in forms, a repeated key keeps its last value, only '&' separates. */
#include "core/arena.h"
#include "http/http_url.h"
#include "unit.h"

static struct hb_arena arena;

static const char *decode(const char *in, bool is_form)
{
    struct hb_str out = hb_http_url_decode(&arena, hb_str_from(in), is_form);
    return hb_arena_strndup(&arena, out.ptr, out.len);
}

static const char *param(const char *query, const char *key)
{
    struct hb_str value;
    if (!hb_http_url_param(&arena, hb_str_from(query), key, &value))
        return "(absent)";
    return hb_arena_strndup(&arena, value.ptr, value.len);
}

HB_TEST(http_url, percent_decoding)
{
    hb_arena_init(&arena, 1024);
    ASSERT_EQ_STR(decode("/hello/", false), "/hello/");
    ASSERT_EQ_STR(decode("/a%20b/", false), "/a b/");
    ASSERT_EQ_STR(decode("%E3%81%82", false), "\xe3\x81\x82");
    ASSERT_EQ_STR(decode("%e3%81%82", false), "\xe3\x81\x82");
    ASSERT_EQ_STR(decode("%2F%2f", false), "//");
    ASSERT_EQ_STR(decode("%25", false), "%");
    ASSERT_EQ_STR(decode("%2541", false), "%41"); /* decoded once only */
    /* Invalid escapes are kept as they are (Django's unquote). */
    ASSERT_EQ_STR(decode("%", false), "%");
    ASSERT_EQ_STR(decode("a%", false), "a%");
    ASSERT_EQ_STR(decode("%4", false), "%4");
    ASSERT_EQ_STR(decode("%zz%4g%g4", false), "%zz%4g%g4");
    ASSERT_EQ_STR(decode("%%41", false), "%A");
    /* '+' is a space only in forms. */
    ASSERT_EQ_STR(decode("a+b", false), "a+b");
    ASSERT_EQ_STR(decode("a+b%2B", true), "a b+");
    ASSERT_EQ_STR(decode("", true), "");
    /* An encoded NUL decodes to a NUL inside the slice. */
    struct hb_str nul = hb_http_url_decode(&arena, HB_STR("a%00b"), false);
    ASSERT_EQ_INT(nul.len, 3);
    ASSERT(nul.ptr[1] == '\0' && nul.ptr[2] == 'b');
    /* Nothing to decode: the input itself comes back, no copy. */
    struct hb_str in = HB_STR("/plain/");
    ASSERT(hb_http_url_decode(&arena, in, true).ptr == in.ptr);
    /* An empty slice with no storage is fine. */
    ASSERT_EQ_INT(hb_http_url_decode(&arena, HB_STR_NULL, true).len, 0);
    hb_arena_release(&arena);
}

HB_TEST(http_url, params)
{
    hb_arena_init(&arena, 1024);
    ASSERT_EQ_STR(param("ms=100", "ms"), "100");
    ASSERT_EQ_STR(param("a=1&ms=2&b=3", "ms"), "2");
    ASSERT_EQ_STR(param("ms=1&ms=2&ms=3", "ms"), "3"); /* the last value wins */
    ASSERT_EQ_STR(param("ms=1&ms=", "ms"), "");
    ASSERT_EQ_STR(param("ms", "ms"), ""); /* a bare key is an empty value */
    ASSERT_EQ_STR(param("ms=", "ms"), "");
    ASSERT_EQ_STR(param("mss=1&m=2", "ms"), "(absent)");
    ASSERT_EQ_STR(param("", "ms"), "(absent)");
    ASSERT_EQ_STR(param("&&ms=5&&", "ms"), "5");
    ASSERT_EQ_STR(param("ms=a=b", "ms"), "a=b"); /* split at the first '=' */
    ASSERT_EQ_STR(param("m%73=4", "ms"), "4");   /* keys are decoded too */
    ASSERT_EQ_STR(param("q=a+b%20c%2B", "q"), "a b c+");
    ASSERT_EQ_STR(param("q=%E6%97%A5%E6%9C%AC", "q"), "\xe6\x97\xa5\xe6\x9c\xac");
    ASSERT_EQ_STR(param("q=100%", "q"), "100%");
    ASSERT_EQ_STR(param("a+b=1", "a b"), "1");
    /* Only '&' separates pairs (Python's parse_qsl since 3.9.2, which Django uses). */
    ASSERT_EQ_STR(param("ms=1;x=2", "ms"), "1;x=2");
    ASSERT_EQ_STR(param("x=1;ms=2", "ms"), "(absent)");
    hb_arena_release(&arena);
}

struct pairs {
    char text[256];
};

static void collect(void *ctx, struct hb_str key, struct hb_str value)
{
    struct pairs *p = ctx;
    size_t n = strlen(p->text);
    snprintf(p->text + n, sizeof(p->text) - n, "[%.*s=%.*s]", (int)key.len, key.ptr, (int)value.len,
             value.ptr);
}

HB_TEST(http_url, each_param_in_order)
{
    struct pairs p = {""};
    hb_arena_init(&arena, 1024);
    hb_http_url_each_param(&arena, HB_STR("a=1&b=&c&a=2&=x&d=%41+"), collect, &p);
    ASSERT_EQ_STR(p.text, "[a=1][b=][c=][a=2][=x][d=A ]");
    hb_arena_release(&arena);
}
