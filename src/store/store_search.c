/* SPDX-License-Identifier: MIT */
/* Search-term splitting (store layer, API.md §7.3), after DRF's SearchFilter: terms are separated
 * by whitespace and commas, and a double-quoted phrase stays one term. Terms are slices of the
 * input: nothing is copied or allocated. */
#include <stdint.h>

#include "store/store_internal.h"

/* Decodes the code point at p (end exclusive) into *cp, or -1 for a byte that starts no valid
 * sequence. Returns the sequence length (1 for an invalid byte). */
static size_t decode(const unsigned char *p, const unsigned char *end, int32_t *cp)
{
    unsigned char c = p[0];
    size_t n;
    int32_t v;
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
        v = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        v = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        v = c & 0x07;
    } else {
        *cp = -1;
        return 1;
    }
    if ((size_t)(end - p) < n) {
        *cp = -1;
        return 1;
    }
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80) {
            *cp = -1;
            return 1;
        }
        v = (v << 6) | (p[i] & 0x3f);
    }
    *cp = v;
    return n;
}

/* Unicode White_Space, as Python's str.split() and Django's smart_split() see it. */
static bool is_space(int32_t cp)
{
    return (cp >= 0x09 && cp <= 0x0d) || (cp >= 0x1c && cp <= 0x20) || cp == 0x85 || cp == 0xa0 ||
           cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200a) || cp == 0x2028 || cp == 0x2029 ||
           cp == 0x202f || cp == 0x205f || cp == 0x3000;
}

static bool is_separator(int32_t cp)
{
    return cp == ',' || is_space(cp);
}

bool hb_store__search_next(struct hb_str *rest, struct hb_str *term)
{
    if (rest->ptr == NULL)
        return false;
    const unsigned char *p = (const unsigned char *)rest->ptr, *end = p + rest->len;
    for (;;) {
        int32_t cp = 0;
        size_t n = 0;
        while (p < end && (n = decode(p, end, &cp), is_separator(cp)))
            p += n;
        if (p == end) {
            rest->ptr = (const char *)end;
            rest->len = 0;
            return false;
        }
        if (*p == '"') {
            const unsigned char *close = p + 1;
            while (close < end && *close != '"')
                close++;
            if (close < end) {
                term->ptr = (const char *)(p + 1);
                term->len = (size_t)(close - p - 1);
                p = close + 1;
                if (term->len == 0)
                    continue; /* "" matches everything: no filter */
                rest->ptr = (const char *)p;
                rest->len = (size_t)(end - p);
                return true;
            }
        }
        const unsigned char *start = p;
        while (p < end && (n = decode(p, end, &cp), !is_separator(cp)))
            p += n;
        term->ptr = (const char *)start;
        term->len = (size_t)(p - start);
        rest->ptr = (const char *)p;
        rest->len = (size_t)(end - p);
        return true;
    }
}

size_t hb_store__utf8_len(struct hb_str s)
{
    size_t n = 0;
    for (size_t i = 0; i < s.len; i++)
        n += ((unsigned char)s.ptr[i] & 0xc0) != 0x80;
    return n;
}
