/* SPDX-License-Identifier: MIT */
/* Percent-decoding and form parameter lookup (http layer). */
#include "http/http_url.h"

#include <string.h>

struct hb_str hb_http_url_decode(struct hb_arena *arena, struct hb_str in, bool is_form)
{
    if (in.len == 0)
        return in; /* memchr() must not see a NULL pointer, even for 0 bytes */
    if (memchr(in.ptr, '%', in.len) == NULL && (!is_form || memchr(in.ptr, '+', in.len) == NULL))
        return in;
    char *out = hb_arena_alloc(arena, in.len + 1);
    size_t n = 0;
    for (size_t i = 0; i < in.len; i++) {
        char c = in.ptr[i];
        if (c == '%') {
            int hi = i + 1 < in.len ? hb_hex_digit(in.ptr[i + 1]) : -1;
            int lo = i + 2 < in.len ? hb_hex_digit(in.ptr[i + 2]) : -1;
            if (hi >= 0 && lo >= 0) {
                out[n++] = (char)(hi * 16 + lo);
                i += 2;
                continue;
            }
        }
        out[n++] = (is_form && c == '+') ? ' ' : c;
    }
    out[n] = '\0';
    return (struct hb_str){out, n};
}

void hb_http_url_each_param(struct hb_arena *arena, struct hb_str query,
                            void (*fn)(void *ctx, struct hb_str key, struct hb_str value),
                            void *ctx)
{
    size_t i = 0;
    while (i < query.len) {
        size_t end = i;
        /* Only '&' separates: Python's parse_qsl (which Django's QueryDict uses) stopped
         * splitting on ';' in 3.9.2. */
        while (end < query.len && query.ptr[end] != '&')
            end++;
        struct hb_str pair = {query.ptr + i, end - i};
        if (pair.len > 0) {
            const char *eq = memchr(pair.ptr, '=', pair.len);
            struct hb_str key = pair, value = {pair.ptr + pair.len, 0};
            if (eq != NULL) {
                key.len = (size_t)(eq - pair.ptr);
                value = (struct hb_str){eq + 1, pair.len - key.len - 1};
            }
            fn(ctx, hb_http_url_decode(arena, key, true), hb_http_url_decode(arena, value, true));
        }
        i = end + 1;
    }
}

struct find {
    const char *key;
    bool found;
    struct hb_str value;
};

static void find_cb(void *ctx, struct hb_str key, struct hb_str value)
{
    struct find *f = ctx;
    if (hb_str_eq_lit(key, f->key)) {
        f->found = true;
        f->value = value;
    }
}

bool hb_http_url_param(struct hb_arena *arena, struct hb_str query, const char *key,
                       struct hb_str *value)
{
    struct find f = {key, false, HB_STR_NULL};
    hb_http_url_each_param(arena, query, find_cb, &f);
    if (f.found)
        *value = f.value;
    return f.found;
}
