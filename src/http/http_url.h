/* SPDX-License-Identifier: MIT */
/* URL pieces (http layer): percent-decoding of paths and lookup in query strings.
 * Both are parsers of untrusted bytes and have a fuzz target (tests/fuzz/fuzz_router.c). */
#ifndef HB_HTTP_URL_H
#define HB_HTTP_URL_H

#include <stdbool.h>

#include "core/arena.h"
#include "core/str.h"

/* Decodes %XX escapes of in into the arena (as Django does before URL matching: an invalid
 * escape is kept as is). With is_form, '+' becomes a space (query strings and form bodies).
 * Returns the decoded slice, NUL-terminated; in itself when it holds nothing to decode. */
struct hb_str hb_http_url_decode(struct hb_arena *arena, struct hb_str in, bool is_form);

/* Finds key in an application/x-www-form-urlencoded string (a query or a form body): pairs are
 * separated by '&' only, a key without '=' has an empty value, and the last occurrence wins
 * (Django's QueryDict.get). Returns true and the decoded value, or false. */
bool hb_http_url_param(struct hb_arena *arena, struct hb_str query, const char *key,
                       struct hb_str *value);

/* Calls fn for every key=value pair of a form-encoded string, both decoded, in order. */
void hb_http_url_each_param(struct hb_arena *arena, struct hb_str query,
                            void (*fn)(void *ctx, struct hb_str key, struct hb_str value),
                            void *ctx);

#endif
