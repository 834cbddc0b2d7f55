/* SPDX-License-Identifier: MIT */
/* Byte slices (core layer): a pointer and a length, not NUL-terminated, never owning.
 * A slice is valid as long as the memory it points into. */
#ifndef HB_CORE_STR_H
#define HB_CORE_STR_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

struct hb_str {
    const char *ptr;
    size_t len;
};

#define HB_STR(lit) ((struct hb_str){(lit), sizeof(lit) - 1})
#define HB_STR_NULL ((struct hb_str){NULL, 0})

static inline struct hb_str hb_str_from(const char *s)
{
    return (struct hb_str){s, s ? strlen(s) : 0};
}

static inline bool hb_str_eq(struct hb_str a, struct hb_str b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

static inline bool hb_str_eq_lit(struct hb_str a, const char *lit)
{
    return hb_str_eq(a, hb_str_from(lit));
}

/* ASCII case-insensitive equality (header names, tokens). */
bool hb_str_ieq(struct hb_str a, struct hb_str b);

/* True if s starts with prefix. */
static inline bool hb_str_starts(struct hb_str s, struct hb_str prefix)
{
    return s.len >= prefix.len && memcmp(s.ptr, prefix.ptr, prefix.len) == 0;
}

/* Removes leading and trailing spaces and tabs (HTTP OWS). */
struct hb_str hb_str_trim_ows(struct hb_str s);

/* Parses s as a non-negative decimal integer of at most 18 digits with no sign or spaces.
 * Returns 0 and stores the value, or HB_EINVAL. */
int hb_str_to_u64(struct hb_str s, unsigned long long *out);

/* The value of hexadecimal digit c (0-9, a-f, A-F), or -1. */
int hb_hex_digit(char c);

#endif
