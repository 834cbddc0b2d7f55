/* SPDX-License-Identifier: MIT */
/* Unit tests for src/json: the parser's tree and its Python-worded errors (the expected texts were
 * taken from python3.11 -c 'import json; json.loads(...)'), and the writer's escaping. */
#include <stdint.h>
#include <string.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/err.h"
#include "json/json.h"
#include "unit.h"

/* Parses a literal (its length taken with sizeof, so embedded NULs count) and asserts success. */
#define PARSE_OK(arena, lit) parse_ok((arena), "" lit, sizeof(lit) - 1)
#define PARSE_ERR(lit)       parse_err("" lit, sizeof(lit) - 1)

static const struct hb_json *parse_ok(struct hb_arena *arena, const char *s, size_t len)
{
    const struct hb_json *root = NULL;
    struct hb_json_error err;
    int rc = hb_json_parse(arena, s, len, &root, &err);
    if (rc != 0)
        HB_FAIL_("parse of \"%.*s\" failed: %s", (int)len, s, err.text);
    ASSERT(root != NULL);
    return root;
}

/* Returns the error text of a parse that must fail (static storage, valid until the next call). */
static const char *parse_err(const char *s, size_t len)
{
    static struct hb_json_error err;
    struct hb_arena arena;
    const struct hb_json *root = (const struct hb_json *)&err;

    hb_arena_init(&arena, 1024);
    int rc = hb_json_parse(&arena, s, len, &root, &err);
    if (rc != HB_EINVAL)
        HB_FAIL_("parse of \"%.*s\" returned %d, want HB_EINVAL", (int)len, s, rc);
    ASSERT(root == NULL);
    hb_arena_release(&arena);
    return err.text;
}

/* Writes node with the writer into a fresh buffer; the caller releases buf. */
static void serialise(const struct hb_json *node, struct hb_buf *buf)
{
    struct hb_json_writer w;
    hb_buf_init(buf, 1 << 20);
    hb_json_writer_init(&w, buf);
    hb_json_write_node(&w, node);
    ASSERT_EQ_INT(hb_json_writer_finish(&w), 0);
}

HB_TEST(json, valid_document)
{
    struct hb_arena arena;
    hb_arena_init(&arena, 1024);
    const struct hb_json *root =
        PARSE_OK(&arena, " {\"name\" : \"広場\", \"n\":-12,\"r\":2.5,\"ok\":true,\"no\":false,"
                         "\"nil\":null,\"list\":[1,\"a\",[]],\"obj\":{}} \r\n");

    ASSERT_EQ_INT(hb_json_type(root), HB_JSON_OBJECT);
    ASSERT_EQ_STR(hb_json_type_name(root), "dict");
    ASSERT_EQ_INT(hb_json_len(root), 8);

    const struct hb_json *name = hb_json_get(root, "name");
    ASSERT(hb_json_is_string(name));
    ASSERT_EQ_MEM(hb_json_string(name).ptr, hb_json_string(name).len, "広場");
    ASSERT_EQ_INT(hb_json_string(name).len, 6);
    ASSERT_EQ_INT(hb_json_string_chars(name), 2);
    ASSERT_EQ_STR(hb_json_type_name(name), "str");

    int64_t v = 0;
    const struct hb_json *n = hb_json_get(root, "n");
    ASSERT(hb_json_is_int(n) && hb_json_is_number(n) && !hb_json_is_real(n));
    ASSERT(hb_json_int64(n, &v));
    ASSERT_EQ_INT(v, -12);
    ASSERT_EQ_STR(hb_json_type_name(n), "int");

    const struct hb_json *r = hb_json_get(root, "r");
    ASSERT(hb_json_is_real(r) && hb_json_is_number(r));
    ASSERT(hb_json_real(r) == 2.5);
    ASSERT(!hb_json_int64(r, &v));
    ASSERT(!hb_json_whole_int64(r, &v));
    ASSERT_EQ_STR(hb_json_type_name(r), "float");
    ASSERT_EQ_MEM(hb_json_number_text(r).ptr, hb_json_number_text(r).len, "2.5");

    ASSERT(hb_json_bool(hb_json_get(root, "ok")));
    ASSERT(hb_json_is_bool(hb_json_get(root, "no")) && !hb_json_bool(hb_json_get(root, "no")));
    ASSERT_EQ_STR(hb_json_type_name(hb_json_get(root, "ok")), "bool");
    ASSERT(hb_json_is_null(hb_json_get(root, "nil")));
    ASSERT_EQ_STR(hb_json_type_name(hb_json_get(root, "nil")), "NoneType");

    const struct hb_json *list = hb_json_get(root, "list");
    ASSERT(hb_json_is_array(list));
    ASSERT_EQ_STR(hb_json_type_name(list), "list");
    ASSERT_EQ_INT(hb_json_len(list), 3);
    const struct hb_json *e = hb_json_first(list);
    ASSERT(hb_json_int64(e, &v) && v == 1);
    ASSERT(hb_json_key(e).ptr == NULL);
    e = hb_json_next(e);
    ASSERT_EQ_MEM(hb_json_string(e).ptr, hb_json_string(e).len, "a");
    e = hb_json_next(e);
    ASSERT(hb_json_is_array(e) && hb_json_len(e) == 0 && hb_json_first(e) == NULL);
    ASSERT(hb_json_next(e) == NULL);

    ASSERT(hb_json_is_object(hb_json_get(root, "obj")));
    ASSERT_EQ_INT(hb_json_len(hb_json_get(root, "obj")), 0);

    /* Absent keys, lookups on non-objects and NULL nodes are all just "not there". */
    ASSERT(hb_json_get(root, "missing") == NULL);
    ASSERT(hb_json_get(root, "Name") == NULL);
    ASSERT(hb_json_get(list, "name") == NULL);
    ASSERT(hb_json_get(NULL, "name") == NULL);
    ASSERT(!hb_json_is_string(NULL) && !hb_json_is_null(NULL) && !hb_json_is_object(NULL));
    ASSERT(hb_json_string(n).ptr == NULL && hb_json_number_text(name).ptr == NULL);

    /* Members come in document order with their keys. */
    const char *keys[] = {"name", "n", "r", "ok", "no", "nil", "list", "obj"};
    size_t i = 0;
    for (const struct hb_json *m = hb_json_first(root); m != NULL; m = hb_json_next(m), i++)
        ASSERT_EQ_MEM(hb_json_key(m).ptr, hb_json_key(m).len, keys[i]);
    ASSERT_EQ_INT(i, 8);
    hb_arena_release(&arena);
}

HB_TEST(json, scalars_at_top_level)
{
    struct hb_arena arena;
    int64_t v;
    hb_arena_init(&arena, 1024);
    ASSERT(hb_json_is_null(PARSE_OK(&arena, "null")));
    ASSERT(hb_json_bool(PARSE_OK(&arena, "\ttrue\n")));
    ASSERT(hb_json_int64(PARSE_OK(&arena, "0"), &v) && v == 0);
    ASSERT(hb_json_is_string(PARSE_OK(&arena, "\"\"")));
    /* The input need not be NUL-terminated: only len bytes are read. */
    const struct hb_json *num = parse_ok(&arena, "1234567", 3);
    ASSERT(hb_json_int64(num, &v) && v == 123);
    ASSERT_EQ_STR(hb_json_number_text(num).ptr, "123");
    hb_arena_release(&arena);
}

HB_TEST(json, strings_decode_escapes)
{
    struct hb_arena arena;
    hb_arena_init(&arena, 1024);
    const struct hb_json *s = PARSE_OK(&arena, "\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\\u00e9\\u3042\"");
    ASSERT_EQ_MEM(hb_json_string(s).ptr, hb_json_string(s).len, "a\"b\\c/d\b\f\n\r\té\xe3\x81\x82");
    ASSERT_EQ_INT(hb_json_string_chars(s), 14);

    /* \u0000 decodes to a NUL inside the string; the length says where it ends. */
    s = PARSE_OK(&arena, "\"a\\u0000b\"");
    ASSERT_EQ_INT(hb_json_string(s).len, 3);
    ASSERT(memcmp(hb_json_string(s).ptr, "a\0b", 4) == 0);

    /* Raw UTF-8 is kept as it is; DEL and U+2028 need no escape. */
    s = PARSE_OK(&arena, "\"\x7f\xe2\x80\xa8\xf0\x9f\x98\x80\"");
    ASSERT_EQ_INT(hb_json_string(s).len, 8);
    ASSERT_EQ_INT(hb_json_string_chars(s), 3);

    /* Keys decode the same way. */
    const struct hb_json *o = PARSE_OK(&arena, "{\"\\u006bey\":1,\"\\u0000\":2}");
    ASSERT(hb_json_get(o, "key") != NULL);
    ASSERT(hb_json_getn(o, "\0", 1) != NULL);
    hb_arena_release(&arena);
}

HB_TEST(json, surrogate_pairs_and_lone_surrogates)
{
    struct hb_arena arena;
    hb_arena_init(&arena, 1024);
    const struct hb_json *s = PARSE_OK(&arena, "\"x\\ud83d\\ude00y\\uD800\\uDC00\"");
    ASSERT_EQ_MEM(hb_json_string(s).ptr, hb_json_string(s).len,
                  "x\xf0\x9f\x98\x80y\xf0\x90\x80\x80");
    ASSERT_EQ_INT(hb_json_string_chars(s), 4);
    hb_arena_release(&arena);

    ASSERT_EQ_STR(PARSE_ERR("\"\\ud800\""),
                  "Unpaired surrogate \\ud800 at: line 1 column 2 (char 1)");
    ASSERT_EQ_STR(PARSE_ERR("[\"\\udc00\"]"),
                  "Unpaired surrogate \\udc00 at: line 1 column 3 (char 2)");
    ASSERT_EQ_STR(PARSE_ERR("\"\\ud83d\\u0041\""),
                  "Unpaired surrogate \\ud83d at: line 1 column 2 (char 1)");
    ASSERT_EQ_STR(PARSE_ERR("{\"\\ud83dx\":1}"),
                  "Unpaired surrogate \\ud83d at: line 1 column 3 (char 2)");
    /* Python keeps lone surrogates, so an error it does report after one comes first. */
    ASSERT_EQ_STR(PARSE_ERR("[\"\\ud800\", x]"), "Expecting value: line 1 column 12 (char 11)");
    /* A high surrogate followed by a broken escape is Python's \uXXXX error. */
    ASSERT_EQ_STR(PARSE_ERR("\"\\ud800\\uzz00\""),
                  "Invalid \\uXXXX escape: line 1 column 9 (char 8)");
}

HB_TEST(json, errors_word_like_python)
{
    static const struct {
        const char *in, *want;
    } cases[] = {
        {"", "Expecting value: line 1 column 1 (char 0)"},
        {"   ", "Expecting value: line 1 column 4 (char 3)"},
        {"{\"title\": }", "Expecting value: line 1 column 11 (char 10)"},
        {"{'a': 1}", "Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"},
        {"{\"a\":1,}",
         "Expecting property name enclosed in double quotes: line 1 column 8 (char 7)"},
        {"{\"a\" 1}", "Expecting ':' delimiter: line 1 column 6 (char 5)"},
        {"{\"a\":1 \"b\":2}", "Expecting ',' delimiter: line 1 column 8 (char 7)"},
        {"[1 2]", "Expecting ',' delimiter: line 1 column 4 (char 3)"},
        {"[1,]", "Expecting value: line 1 column 4 (char 3)"},
        {"[", "Expecting value: line 1 column 2 (char 1)"},
        {"{}x", "Extra data: line 1 column 3 (char 2)"},
        {"{} {}", "Extra data: line 1 column 4 (char 3)"},
        {"01", "Extra data: line 1 column 2 (char 1)"},
        {"1.", "Extra data: line 1 column 2 (char 1)"},
        {"[1e]", "Expecting ',' delimiter: line 1 column 3 (char 2)"},
        {"-", "Expecting value: line 1 column 1 (char 0)"},
        {"tru", "Expecting value: line 1 column 1 (char 0)"},
        {"\"abc", "Unterminated string starting at: line 1 column 1 (char 0)"},
        {"{\"a\":\"b\\", "Unterminated string starting at: line 1 column 6 (char 5)"},
        {"\"a\tb\"", "Invalid control character at: line 1 column 3 (char 2)"},
        {"\"\\x\"", "Invalid \\escape: line 1 column 2 (char 1)"},
        {"\"\\u12\"", "Invalid \\uXXXX escape: line 1 column 3 (char 2)"},
        {"\"\\u1234", "Invalid \\uXXXX escape: line 1 column 3 (char 2)"},
        {"NaN", "Out of range float values are not JSON compliant: 'NaN'"},
        {"[Infinity]", "Out of range float values are not JSON compliant: 'Infinity'"},
        {"{\"a\":-Infinity}", "Out of range float values are not JSON compliant: '-Infinity'"},
        {"\xef\xbb\xbf{}",
         "Unexpected UTF-8 BOM (decode using utf-8-sig): line 1 column 1 (char 0)"},
        /* Lines split on LF; columns and chars count code points, not bytes. */
        {"{\n  \"a\": 1,\n  \"b\" 2\n}", "Expecting ':' delimiter: line 3 column 7 (char 18)"},
        {"[\"広場\" \"x\"]", "Expecting ',' delimiter: line 1 column 7 (char 6)"},
        {"\r\n\r\n  }", "Expecting value: line 3 column 3 (char 6)"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        ASSERT_EQ_STR(parse_err(cases[i].in, strlen(cases[i].in)), cases[i].want);

    /* A NUL byte outside a string is just an unexpected character. */
    ASSERT_EQ_STR(PARSE_ERR("[1,\0]"), "Expecting value: line 1 column 4 (char 3)");
}

HB_TEST(json, error_positions)
{
    struct hb_arena arena;
    struct hb_json_error err;
    const struct hb_json *root;
    const char *in = "{\n\"あ\": x}";

    hb_arena_init(&arena, 1024);
    ASSERT_EQ_INT(hb_json_parse(&arena, in, strlen(in), &root, &err), HB_EINVAL);
    ASSERT_EQ_STR(err.text, "Expecting value: line 2 column 6 (char 7)");
    ASSERT_EQ_INT(err.line, 2);
    ASSERT_EQ_INT(err.column, 6);
    ASSERT_EQ_INT(err.char_offset, 7);
    ASSERT_EQ_INT(err.byte_offset, 9);
    /* err may be NULL when the caller only needs the verdict. */
    ASSERT_EQ_INT(hb_json_parse(&arena, in, strlen(in), &root, NULL), HB_EINVAL);
    hb_arena_release(&arena);
}

HB_TEST(json, invalid_utf8_rejected)
{
    static const struct {
        const char *in, *want;
    } cases[] = {
        {"\"\xff\"", "'utf-8' codec can't decode byte 0xff in position 1: invalid start byte"},
        {"\"a\x80\"", "'utf-8' codec can't decode byte 0x80 in position 2: invalid start byte"},
        {"\"\xc0\xaf\"", "'utf-8' codec can't decode byte 0xc0 in position 1: invalid start byte"},
        {"\"\xe0\x80\xaf\"",
         "'utf-8' codec can't decode byte 0xe0 in position 1: invalid continuation byte"},
        {"\"\xed\xa0\x80\"", /* a UTF-8-encoded surrogate */
         "'utf-8' codec can't decode byte 0xed in position 1: invalid continuation byte"},
        {"\"\xe3\x81\"", "'utf-8' codec can't decode bytes in position 1-2: invalid continuation "
                         "byte"},
        {"\"\xf4\x90\x80\x80\"", /* past U+10FFFF */
         "'utf-8' codec can't decode byte 0xf4 in position 1: invalid continuation byte"},
        {"\"\xe3\x81", "'utf-8' codec can't decode bytes in position 1-2: unexpected end of data"},
        /* Outside strings too, and before any syntax error, as DRF decodes the body first. */
        {"[1,,\xfe]", "'utf-8' codec can't decode byte 0xfe in position 4: invalid start byte"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        ASSERT_EQ_STR(parse_err(cases[i].in, strlen(cases[i].in)), cases[i].want);
}

HB_TEST(json, big_integers_keep_their_text)
{
    struct hb_arena arena;
    int64_t v = 42;
    hb_arena_init(&arena, 1024);

    const struct hb_json *big = PARSE_OK(&arena, "123456789012345678901234567890");
    ASSERT(hb_json_is_int(big));
    ASSERT_EQ_STR(hb_json_type_name(big), "int");
    ASSERT(!hb_json_int64(big, &v));
    ASSERT_EQ_INT(v, 42);
    ASSERT(!hb_json_whole_int64(big, &v));
    ASSERT_EQ_STR(hb_json_number_text(big).ptr, "123456789012345678901234567890");
    ASSERT(hb_json_real(big) > 1.2e29 && hb_json_real(big) < 1.3e29);

    ASSERT(hb_json_int64(PARSE_OK(&arena, "9223372036854775807"), &v));
    ASSERT(v == INT64_MAX);
    ASSERT(hb_json_int64(PARSE_OK(&arena, "-9223372036854775808"), &v));
    ASSERT(v == INT64_MIN);
    ASSERT(!hb_json_int64(PARSE_OK(&arena, "9223372036854775808"), &v));
    ASSERT(!hb_json_int64(PARSE_OK(&arena, "-9223372036854775809"), &v));
    ASSERT(hb_json_int64(PARSE_OK(&arena, "-0"), &v) && v == 0);
    ASSERT_EQ_STR(PARSE_ERR("[00]"), "Expecting ',' delimiter: line 1 column 3 (char 2)");

    /* In an object, with the text as given for 主キー "<value as given>". */
    const struct hb_json *o = PARSE_OK(&arena, "{\"category\": -99999999999999999999}");
    const struct hb_json *c = hb_json_get(o, "category");
    ASSERT(hb_json_is_int(c) && !hb_json_int64(c, &v));
    ASSERT_EQ_MEM(hb_json_number_text(c).ptr, hb_json_number_text(c).len, "-99999999999999999999");

    /* Python's int() digit limit: 4300 digits parse, 4301 do not. */
    static char digits[4302];
    memset(digits, '7', sizeof(digits));
    ASSERT(hb_json_is_int(parse_ok(&arena, digits, 4300)));
    ASSERT_EQ_STR(parse_err(digits, 4301),
                  "Exceeds the limit (4300 digits) for integer string conversion: value has 4301 "
                  "digits; use sys.set_int_max_str_digits() to increase the limit");
    hb_arena_release(&arena);
}

HB_TEST(json, reals_and_whole_reals)
{
    struct hb_arena arena;
    int64_t v = 0;
    hb_arena_init(&arena, 1024);

    const struct hb_json *r = PARSE_OK(&arena, "3.0");
    ASSERT(hb_json_is_real(r) && !hb_json_int64(r, &v));
    ASSERT(hb_json_whole_int64(r, &v) && v == 3);
    ASSERT_EQ_STR(hb_json_number_text(r).ptr, "3.0");
    ASSERT(hb_json_whole_int64(PARSE_OK(&arena, "1E2"), &v) && v == 100);
    ASSERT(hb_json_whole_int64(PARSE_OK(&arena, "-0.0"), &v) && v == 0);
    ASSERT(hb_json_whole_int64(PARSE_OK(&arena, "9999999999999998.0"), &v));
    ASSERT(v == 9999999999999998LL);
    ASSERT(hb_json_whole_int64(PARSE_OK(&arena, "12"), &v) && v == 12);
    ASSERT(!hb_json_whole_int64(PARSE_OK(&arena, "1.5"), &v));
    ASSERT(!hb_json_whole_int64(PARSE_OK(&arena, "1e16"), &v)); /* str() gives '1e+16' */
    ASSERT(!hb_json_whole_int64(PARSE_OK(&arena, "true"), &v));
    ASSERT(!hb_json_whole_int64(PARSE_OK(&arena, "\"3\""), &v));

    /* Like Python, an overflowing real parses (as inf), and an underflowing one as 0. */
    r = PARSE_OK(&arena, "-1e400");
    ASSERT(hb_json_is_real(r) && hb_json_real(r) < -1e308);
    ASSERT(!hb_json_whole_int64(r, &v));
    ASSERT(hb_json_real(PARSE_OK(&arena, "1e-400")) == 0.0);
    ASSERT(hb_json_real(PARSE_OK(&arena, "-12.5e-1")) == -1.25);
    hb_arena_release(&arena);
}

HB_TEST(json, duplicate_keys_last_wins)
{
    struct hb_arena arena;
    int64_t v = 0;
    hb_arena_init(&arena, 1024);

    const struct hb_json *o = PARSE_OK(&arena, "{\"a\":1,\"b\":2,\"a\":3,\"a\":\"x\",\"b\":4}");
    ASSERT_EQ_INT(hb_json_len(o), 5);
    ASSERT_EQ_MEM(hb_json_string(hb_json_get(o, "a")).ptr, 1, "x");
    ASSERT(hb_json_int64(hb_json_get(o, "b"), &v) && v == 4);
    ASSERT(hb_json_int64(hb_json_getn(o, "bb", 1), &v) && v == 4);
    hb_arena_release(&arena);
}

HB_TEST(json, depth_64_ok_65_rejected)
{
    struct hb_arena arena;
    char in[2 * 65 + 8];
    hb_arena_init(&arena, 1024);

    memset(in, '[', 64);
    memset(in + 64, ']', 64);
    const struct hb_json *node = parse_ok(&arena, in, 128);
    for (int d = 1; d < 64; d++) {
        ASSERT(hb_json_is_array(node) && hb_json_len(node) == 1);
        node = hb_json_first(node);
    }
    ASSERT(hb_json_is_array(node) && hb_json_len(node) == 0);

    memset(in, '[', 65);
    memset(in + 65, ']', 65);
    ASSERT_EQ_STR(parse_err(in, 130),
                  "Nesting deeper than 64 levels at: line 1 column 65 (char 64)");

    /* Objects count the same: 63 arrays around one object is 64 deep, around two is 65. */
    memset(in, '[', 63);
    memcpy(in + 63, "{}", 2);
    memset(in + 65, ']', 63);
    parse_ok(&arena, in, 128);
    memset(in, '[', 63);
    memcpy(in + 63, "{\"\":{}}", 7);
    memset(in + 70, ']', 63);
    ASSERT_EQ_STR(parse_err(in, 133),
                  "Nesting deeper than 64 levels at: line 1 column 68 (char 67)");
    hb_arena_release(&arena);
}

HB_TEST(json, form_object_builder)
{
    struct hb_arena arena;
    hb_arena_init(&arena, 1024);

    struct hb_json *o = hb_json_object_create(&arena);
    ASSERT(hb_json_is_object(o) && hb_json_len(o) == 0);
    ASSERT_EQ_INT(hb_json_object_add_string(&arena, o, "name", 4, "a", 1), 0);
    ASSERT_EQ_INT(hb_json_object_add_string(&arena, o, "name", 4, "広場", 6), 0);
    ASSERT_EQ_INT(hb_json_object_add_string(&arena, o, "bad", 3, "\xff", 1), HB_EINVAL);
    ASSERT_EQ_INT(hb_json_len(o), 2);
    const struct hb_json *name = hb_json_get(o, "name");
    ASSERT_EQ_STR(hb_json_string(name).ptr, "広場");
    ASSERT_EQ_INT(hb_json_string_chars(name), 2);
    ASSERT(hb_json_get(o, "bad") == NULL);

    struct hb_buf buf;
    serialise(o, &buf);
    ASSERT_EQ_STR(buf.data, "{\"name\":\"a\",\"name\":\"広場\"}");
    hb_buf_release(&buf);
    hb_arena_release(&arena);
}

HB_TEST(json, writer_compact_output)
{
    struct hb_buf buf;
    struct hb_json_writer w;

    hb_buf_init(&buf, 4096);
    hb_buf_append_str(&buf, "prefix:");
    hb_json_writer_init(&w, &buf);
    hb_json_write_array_begin(&w);
    for (int i = 0; i < 2; i++) {
        hb_json_write_object_begin(&w);
        HB_JSON_KEY(&w, "id");
        hb_json_write_int(&w, i + 1);
        hb_json_write_key(&w, "name");
        hb_json_write_cstr(&w, "雑談");
        HB_JSON_KEY(&w, "author");
        if (i == 0)
            hb_json_write_raw(&w, "{\"id\":7,\"username\":\"u\"}", 23);
        else
            hb_json_write_null(&w);
        HB_JSON_KEY(&w, "flags");
        hb_json_write_array_begin(&w);
        hb_json_write_bool(&w, true);
        hb_json_write_bool(&w, false);
        hb_json_write_array_begin(&w);
        hb_json_write_array_end(&w);
        hb_json_write_object_begin(&w);
        hb_json_write_object_end(&w);
        hb_json_write_array_end(&w);
        hb_json_write_object_end(&w);
    }
    hb_json_write_array_end(&w);
    ASSERT_EQ_INT(hb_json_writer_finish(&w), 0);
    ASSERT_EQ_STR(buf.data, "prefix:[{\"id\":1,\"name\":\"雑談\",\"author\":{\"id\":7,\"username\":"
                            "\"u\"},\"flags\":[true,false,[],{}]},{\"id\":2,\"name\":\"雑談\","
                            "\"author\":null,\"flags\":[true,false,[],{}]}]");
    ASSERT_EQ_INT(buf.len, strlen(buf.data));
    hb_buf_release(&buf);
}

HB_TEST(json, writer_integers)
{
    static const struct {
        int64_t v;
        const char *want;
    } cases[] = {
        {0, "0"},
        {7, "7"},
        {10, "10"},
        {-1, "-1"},
        {99, "99"},
        {100, "100"},
        {-123456789, "-123456789"},
        {1000000000000LL, "1000000000000"},
        {INT64_MAX, "9223372036854775807"},
        {INT64_MIN, "-9223372036854775808"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct hb_buf buf;
        struct hb_json_writer w;
        hb_buf_init(&buf, 64);
        hb_json_writer_init(&w, &buf);
        hb_json_write_int(&w, cases[i].v);
        ASSERT_EQ_INT(hb_json_writer_finish(&w), 0);
        ASSERT_EQ_STR(buf.data, cases[i].want);
        hb_buf_release(&buf);
    }
}

HB_TEST(json, writer_escapes_only_what_it_must)
{
    struct hb_buf buf;
    struct hb_json_writer w;
    char all[32];

    for (int i = 0; i < 32; i++)
        all[i] = (char)i;
    hb_buf_init(&buf, 4096);
    hb_json_writer_init(&w, &buf);
    hb_json_write_array_begin(&w);
    hb_json_write_string(&w, all, sizeof(all));
    hb_json_write_cstr(&w, "q\"b\\s/ DEL\x7f é あ 😀 \xe2\x80\xa8");
    hb_json_write_array_end(&w);
    ASSERT_EQ_INT(hb_json_writer_finish(&w), 0);
    ASSERT_EQ_STR(buf.data,
                  "[\"\\u0000\\u0001\\u0002\\u0003\\u0004\\u0005\\u0006\\u0007\\b\\t\\n\\u000b\\f"
                  "\\r\\u000e\\u000f\\u0010\\u0011\\u0012\\u0013\\u0014\\u0015\\u0016\\u0017\\u0018"
                  "\\u0019\\u001a\\u001b\\u001c\\u001d\\u001e\\u001f\","
                  "\"q\\\"b\\\\s/ DEL\x7f é あ 😀 \xe2\x80\xa8\"]");

    /* What was written parses back to the same strings. */
    struct hb_arena arena;
    hb_arena_init(&arena, 1024);
    const struct hb_json *root = parse_ok(&arena, buf.data, buf.len);
    const struct hb_json *s = hb_json_first(root);
    ASSERT_EQ_INT(hb_json_string(s).len, 32);
    ASSERT(memcmp(hb_json_string(s).ptr, all, 32) == 0);
    ASSERT_EQ_STR(hb_json_string(hb_json_next(s)).ptr, "q\"b\\s/ DEL\x7f é あ 😀 \xe2\x80\xa8");
    hb_arena_release(&arena);
    hb_buf_release(&buf);
}

HB_TEST(json, writer_replaces_invalid_utf8)
{
    static const struct {
        const char *in, *want;
    } cases[] = {
        {"a\xff"
         "b",
         "\"a\xef\xbf\xbd"
         "b\""},
        {"\xc0\xaf", "\"\xef\xbf\xbd\xef\xbf\xbd\""},                 /* overlong */
        {"\xed\xa0\x80", "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\""}, /* surrogate */
        {"\xe3\x81", "\"\xef\xbf\xbd\""},                             /* truncated */
        {"\xe3\x81\"", "\"\xef\xbf\xbd\\\"\""},                       /* then a quote */
        {"\xf0\x9f\x98", "\"\xef\xbf\xbd\""},                         /* truncated 4-byte */
        {"\xf4\x90\x80\x80", "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\""},
        {"\x80\xe3\x81\x82", "\"\xef\xbf\xbd\xe3\x81\x82\""},
    };
    struct hb_arena arena;
    hb_arena_init(&arena, 1024);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct hb_buf buf;
        struct hb_json_writer w;
        hb_buf_init(&buf, 64);
        hb_json_writer_init(&w, &buf);
        hb_json_write_cstr(&w, cases[i].in);
        ASSERT_EQ_INT(hb_json_writer_finish(&w), 0);
        ASSERT_EQ_STR(buf.data, cases[i].want);
        parse_ok(&arena, buf.data, buf.len);
        hb_buf_release(&buf);
    }
    hb_arena_release(&arena);
}

HB_TEST(json, writer_error_is_sticky)
{
    struct hb_buf buf;
    struct hb_json_writer w;

    hb_buf_init(&buf, 16);
    hb_json_writer_init(&w, &buf);
    hb_json_write_object_begin(&w);
    HB_JSON_KEY(&w, "k");
    hb_json_write_cstr(&w, "0123456789abcdef");
    ASSERT_EQ_INT(w.err, HB_ETOOLARGE);
    HB_JSON_KEY(&w, "x");
    hb_json_write_int(&w, 1);
    hb_json_write_object_end(&w);
    ASSERT_EQ_INT(hb_json_writer_finish(&w), HB_ETOOLARGE);
    ASSERT(buf.len <= 16);
    hb_buf_release(&buf);

    /* Escapes grow the output past the optimistic reservation: the cap still holds. */
    hb_buf_init(&buf, 20);
    hb_json_writer_init(&w, &buf);
    hb_json_write_string(&w, "\x01\x01\x01\x01", 4);
    ASSERT_EQ_INT(hb_json_writer_finish(&w), HB_ETOOLARGE);
    ASSERT(buf.len <= 20);
    hb_buf_release(&buf);
}

HB_TEST(json, node_round_trip)
{
    static const char *docs[] = {
        ("{\"a\":[1,-0,2.50,1E+2,123456789012345678901234567890],\"b\":{\"c\":null,\"d\":true},"
         "\"a\":\"dup\",\"\\u0000\":\"\\u001f\\\"\\\\/\\ud83d\\ude00\"}"),
        "  [ \"広場\" , { } , [ ] , false ]  ",
        "-1.5e-300",
        "\"\"",
    };
    static const char *want[] = {
        ("{\"a\":[1,-0,2.50,1E+2,123456789012345678901234567890],\"b\":{\"c\":null,\"d\":true},"
         "\"a\":\"dup\",\"\\u0000\":\"\\u001f\\\"\\\\/😀\"}"),
        "[\"広場\",{},[],false]",
        "-1.5e-300",
        "\"\"",
    };
    struct hb_arena arena;
    hb_arena_init(&arena, 1024);
    for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
        struct hb_buf buf, buf2;
        const struct hb_json *root = parse_ok(&arena, docs[i], strlen(docs[i]));
        serialise(root, &buf);
        ASSERT_EQ_STR(buf.data, want[i]);
        serialise(parse_ok(&arena, buf.data, buf.len), &buf2);
        ASSERT_EQ_STR(buf2.data, buf.data);
        hb_buf_release(&buf);
        hb_buf_release(&buf2);
    }
    hb_arena_release(&arena);
}
