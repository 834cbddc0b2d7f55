/* SPDX-License-Identifier: MIT */
/* Slice helpers (core layer). */
#include "core/str.h"

#include "core/err.h"

static inline unsigned char lower(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

bool hb_str_ieq(struct hb_str a, struct hb_str b)
{
    if (a.len != b.len)
        return false;
    for (size_t i = 0; i < a.len; i++) {
        if (lower((unsigned char)a.ptr[i]) != lower((unsigned char)b.ptr[i]))
            return false;
    }
    return true;
}

struct hb_str hb_str_trim_ows(struct hb_str s)
{
    while (s.len > 0 && (s.ptr[0] == ' ' || s.ptr[0] == '\t')) {
        s.ptr++;
        s.len--;
    }
    while (s.len > 0 && (s.ptr[s.len - 1] == ' ' || s.ptr[s.len - 1] == '\t'))
        s.len--;
    return s;
}

int hb_str_to_u64(struct hb_str s, unsigned long long *out)
{
    unsigned long long v = 0;

    if (s.len == 0 || s.len > 18)
        return HB_EINVAL;
    for (size_t i = 0; i < s.len; i++) {
        if (s.ptr[i] < '0' || s.ptr[i] > '9')
            return HB_EINVAL;
        v = v * 10 + (unsigned long long)(s.ptr[i] - '0');
    }
    *out = v;
    return 0;
}

int hb_hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}
