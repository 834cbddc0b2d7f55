/* SPDX-License-Identifier: MIT */
/* Fuzz target: arbitrary bytes through hb_json_parse(). Oracles: a failure always has a reason
 * and a position inside the input; a success re-serialises with the writer into text that parses
 * back to the same tree and serialises to the same bytes; and jansson, parsing the same bytes,
 * agrees (it may only refuse what it cannot represent: integers past 64 bits, reals that
 * overflow, NUL in keys; we may only refuse nesting past 64 and a NUL byte after the value). The
 * raw input is also written as one string, which must always parse back, to itself when it is valid
 * UTF-8. */
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/err.h"
#include "json/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            abort();                                                                               \
    } while (0)

/* Trees are equal: same types, same strings and number texts, same keys in the same order. */
static bool same_tree(const struct hb_json *a, const struct hb_json *b)
{
    if (hb_json_type(a) != hb_json_type(b) || !hb_str_eq(hb_json_key(a), hb_json_key(b)))
        return false;
    switch (hb_json_type(a)) {
    case HB_JSON_NULL:
        return true;
    case HB_JSON_BOOL:
        return hb_json_bool(a) == hb_json_bool(b);
    case HB_JSON_INT:
    case HB_JSON_REAL:
        return hb_str_eq(hb_json_number_text(a), hb_json_number_text(b));
    case HB_JSON_STRING:
        return hb_str_eq(hb_json_string(a), hb_json_string(b)) &&
               hb_json_string_chars(a) == hb_json_string_chars(b);
    case HB_JSON_ARRAY:
    case HB_JSON_OBJECT:
        if (hb_json_len(a) != hb_json_len(b))
            return false;
        for (a = hb_json_first(a), b = hb_json_first(b); a != NULL; a = hb_json_next(a)) {
            if (b == NULL || !same_tree(a, b))
                return false;
            b = hb_json_next(b);
        }
        return b == NULL;
    }
    return false;
}

/* Whether jansson may refuse a document we accept: it has no big integers, no infinite reals and
 * no NUL in keys. */
static bool beyond_jansson(const struct hb_json *node)
{
    int64_t v;
    struct hb_str key = hb_json_key(node);

    if (key.ptr != NULL && memchr(key.ptr, '\0', key.len) != NULL)
        return true;
    switch (hb_json_type(node)) {
    case HB_JSON_INT:
        return !hb_json_int64(node, &v);
    case HB_JSON_REAL: {
        double d = hb_json_real(node);
        return d > 1.7976931348623157e308 || d < -1.7976931348623157e308;
    }
    case HB_JSON_ARRAY:
    case HB_JSON_OBJECT:
        for (const struct hb_json *c = hb_json_first(node); c != NULL; c = hb_json_next(c)) {
            if (beyond_jansson(c))
                return true;
        }
        return false;
    default:
        return false;
    }
}

/* Our tree and jansson's hold the same values (jansson keeps the last of duplicate keys). */
static bool same_as_jansson(const struct hb_json *node, const json_t *j)
{
    int64_t v;

    switch (hb_json_type(node)) {
    case HB_JSON_NULL:
        return json_is_null(j);
    case HB_JSON_BOOL:
        return json_is_boolean(j) && hb_json_bool(node) == json_is_true(j);
    case HB_JSON_INT:
        return json_is_integer(j) && hb_json_int64(node, &v) && v == json_integer_value(j);
    case HB_JSON_REAL:
        return json_is_real(j) && hb_json_real(node) == json_real_value(j);
    case HB_JSON_STRING: {
        struct hb_str s = hb_json_string(node);
        return json_is_string(j) && json_string_length(j) == s.len &&
               memcmp(json_string_value(j), s.ptr, s.len) == 0;
    }
    case HB_JSON_ARRAY: {
        size_t i = 0;
        if (!json_is_array(j) || json_array_size(j) != hb_json_len(node))
            return false;
        for (const struct hb_json *c = hb_json_first(node); c != NULL; c = hb_json_next(c), i++) {
            if (!same_as_jansson(c, json_array_get(j, i)))
                return false;
        }
        return true;
    }
    case HB_JSON_OBJECT: {
        size_t n_unique = 0;
        if (!json_is_object(j))
            return false;
        for (const struct hb_json *c = hb_json_first(node); c != NULL; c = hb_json_next(c)) {
            struct hb_str key = hb_json_key(c);
            if (hb_json_getn(node, key.ptr, key.len) != c)
                continue; /* shadowed by a later duplicate */
            n_unique++;
            if (!same_as_jansson(c, json_object_getn(j, key.ptr, key.len)))
                return false;
        }
        return n_unique == json_object_size(j);
    }
    }
    return false;
}

static void check_round_trip(struct hb_arena *arena, const struct hb_json *root)
{
    struct hb_buf buf, buf2;
    struct hb_json_writer w;
    const struct hb_json *again;
    struct hb_json_error err;

    hb_buf_init(&buf, (size_t)1 << 30);
    hb_json_writer_init(&w, &buf);
    hb_json_write_node(&w, root);
    CHECK(hb_json_writer_finish(&w) == 0);
    for (size_t i = 0; i < buf.len; i++)
        CHECK((unsigned char)buf.data[i] >= 0x20);
    CHECK(hb_json_parse(arena, buf.data, buf.len, &again, &err) == 0);
    CHECK(same_tree(root, again));

    hb_buf_init(&buf2, (size_t)1 << 30);
    hb_json_writer_init(&w, &buf2);
    hb_json_write_node(&w, again);
    CHECK(hb_json_writer_finish(&w) == 0);
    CHECK(buf2.len == buf.len && memcmp(buf2.data, buf.data, buf.len) == 0);
    hb_buf_release(&buf2);
    hb_buf_release(&buf);
}

static void check_jansson(const uint8_t *data, size_t size, int rc, const struct hb_json *root,
                          const struct hb_json_error *err)
{
    json_error_t jerr;
    json_t *j = json_loadb((const char *)data, size, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);

    if (rc == 0 && j == NULL)
        CHECK(beyond_jansson(root));
    if (rc != 0 && j != NULL) {
        /* jansson takes a NUL byte after a value for the end of input; Python and we do not. */
        const uint8_t *nul = memchr(data, '\0', size);
        CHECK(strncmp(err->text, "Nesting deeper", 14) == 0 ||
              (nul != NULL && (size_t)(nul - data) <= err->byte_offset));
    }
    if (rc == 0 && j != NULL)
        CHECK(same_as_jansson(root, j));
    json_decref(j);
}

/* Writes the input as one JSON string: it must parse back, and to itself if it was UTF-8. */
static void check_string_writer(struct hb_arena *arena, const uint8_t *data, size_t size,
                                bool is_utf8)
{
    struct hb_buf buf;
    struct hb_json_writer w;
    const struct hb_json *s;

    hb_buf_init(&buf, (size_t)1 << 30);
    hb_json_writer_init(&w, &buf);
    hb_json_write_string(&w, (const char *)data, size);
    CHECK(hb_json_writer_finish(&w) == 0);
    CHECK(hb_json_parse(arena, buf.data, buf.len, &s, NULL) == 0);
    CHECK(hb_json_is_string(s));
    if (is_utf8)
        CHECK(hb_str_eq(hb_json_string(s), (struct hb_str){(const char *)data, size}));
    hb_buf_release(&buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct hb_arena arena;
    struct hb_json_error err;
    const struct hb_json *root = NULL;

    hb_arena_init(&arena, 4096);
    int rc = hb_json_parse(&arena, (const char *)data, size, &root, &err);
    if (rc == 0) {
        CHECK(root != NULL);
        check_round_trip(&arena, root);
    } else {
        CHECK(rc == HB_EINVAL && root == NULL);
        CHECK(err.text[0] != '\0' && strlen(err.text) < sizeof(err.text));
        CHECK(err.byte_offset <= size);
    }
    check_jansson(data, size, rc, root, &err);
    bool is_utf8 = rc == 0 || strncmp(err.text, "'utf-8' codec", 13) != 0;
    check_string_writer(&arena, data, size, is_utf8);
    hb_arena_release(&arena);
    return 0;
}
