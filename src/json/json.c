/* SPDX-License-Identifier: MIT */
/* JSON parser and writer (json layer). The parser is our own strict recursive-descent parser
 * rather than jansson, because the API needs what jansson cannot give: Python's exact error
 * reasons and positions (line/column/char in code points), integers of any size with their text
 * kept, Python's answer on every edge case (number backtracking, \u escapes near the end), lone
 * surrogates refused, duplicate keys kept in order, and a tree in the request arena instead of
 * malloc'd refcounted nodes. It follows CPython 3.11 Modules/_json.c step by step (scanstring,
 * _parse_object, _match_number) over bytes that were checked to be UTF-8 first, so every byte
 * position maps to Python's code-point position. It is fuzzed (tests/fuzz/fuzz_json.c) with
 * jansson as a differential oracle, and was compared with python3 on 80,000 random documents. The
 * writer appends straight into an hb_buf; its string path copies runs of plain bytes with one
 * memcpy and validates UTF-8 as it goes. Measured on a 100-row topic list (29 KB, mostly Japanese),
 * both the parser and the writer take about a tenth of the time of json_loadb() and of building
 * plus json_dumps() with jansson 2.14. */
#include "json/json.h"

#include <assert.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"

#define F_FITS 0x01 /* HB_JSON_INT: the value fits in int64_t */
#define F_TRUE 0x01 /* HB_JSON_BOOL: true */

struct hb_json {
    uint8_t type;
    uint8_t flags;
    uint32_t key_len; /* object members: key length */
    uint32_t len;     /* string bytes, number text bytes, container children */
    uint32_t n_chars; /* strings: code points */
    const char *key;  /* object members: key, NUL-terminated; otherwise NULL */
    struct hb_json *next;
    union {
        const char *str; /* string bytes or number text, NUL-terminated */
        struct {
            const char *text;
            union {
                int64_t i;
                double d;
            } v;
        } num;
        struct {
            struct hb_json *first, *last;
        } kids;
    } u;
};

/* ---------------------------------------------------------------------------------------------
 * UTF-8
 * ------------------------------------------------------------------------------------------- */

/* Checks the sequence at p (p < end) against RFC 3629 (no overlongs, surrogates or values past
 * U+10FFFF). Returns its length (1..4) when valid. Otherwise returns minus the length of its
 * maximal ill-formed subpart (Unicode 15 §3.9), which is at least 1: the bytes that a decoder
 * replaces by one U+FFFD and that Python's codec names in its message. */
static int utf8_check(const unsigned char *p, const unsigned char *end)
{
    unsigned c = p[0];
    unsigned lo = 0x80, hi = 0xBF;
    int n;

    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
    } else {
        return -1;
    }
    for (int k = 1; k < n; k++) {
        if (p + k >= end || p[k] < lo || p[k] > hi)
            return -k;
        lo = 0x80;
        hi = 0xBF;
    }
    return n;
}

/* Whether p starts a 3-byte sequence (kana, kanji) with a lead other than E0 and ED, whose second
 * byte has a narrower range: the short path for Japanese text. */
static inline bool utf8_is_plain3(const unsigned char *p, const unsigned char *end)
{
    uint32_t v;

    if (end - p >= 4) {
        memcpy(&v, p, 4);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
        v = __builtin_bswap32(v);
#endif
    } else if (end - p == 3) {
        v = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16;
    } else {
        return false;
    }
    return (v & 0xC0C0F0) == 0x8080E0 && ((0xDFFEu >> (v & 0x0F)) & 1);
}

/* utf8_check() with the short path first. */
static inline int utf8_seq(const unsigned char *p, const unsigned char *end)
{
    return utf8_is_plain3(p, end) ? 3 : utf8_check(p, end);
}

/* Returns the number of code points in valid UTF-8 text. */
static size_t utf8_count(const unsigned char *p, size_t len)
{
    size_t n_cont = 0, i = 0;

    /* A continuation byte is 10xxxxxx: bit 7 set, bit 6 clear. */
    for (; i + 8 <= len; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        n_cont += (size_t)__builtin_popcountll(w & ~(w << 1) & 0x8080808080808080ull);
    }
    for (; i < len; i++)
        n_cont += (p[i] & 0xC0) == 0x80;
    return len - n_cont;
}

/* Returns the offset of the first byte at or after i that is not ASCII, or len. */
static size_t skip_ascii(const unsigned char *p, size_t i, size_t len)
{
    while (i + 8 <= len) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        if (w & 0x8080808080808080ull)
            break;
        i += 8;
    }
    while (i < len && p[i] < 0x80)
        i++;
    return i;
}

#define ONES  0x0101010101010101ull
#define HIGHS 0x8080808080808080ull

/* Returns nonzero if any of the 8 bytes in w is below 0x20, '"' or '\\' (exact as an any-test;
 * bytes >= 0x80 must be excluded by the caller, as they can also set the result). */
static uint64_t has_special8(uint64_t w)
{
    uint64_t q = w ^ (ONES * '"'), b = w ^ (ONES * '\\');
    return ((w - ONES * 0x20) & ~w) | ((q - ONES) & ~q) | ((b - ONES) & ~b);
}

static size_t utf8_encode(char *out, uint32_t cp)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* ---------------------------------------------------------------------------------------------
 * Parser
 * ------------------------------------------------------------------------------------------- */

struct parser {
    struct hb_arena *arena;
    const unsigned char *s;
    size_t n;
    char *text;     /* next free byte of the text pool */
    char *text_end; /* for asserts: decoded text never outgrows the input */
    struct hb_json_error *err;
    size_t lone_pos; /* first unpaired surrogate escape, or SIZE_MAX */
};

static bool is_ws(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static size_t skip_ws(const struct parser *ps, size_t i)
{
    while (i < ps->n && is_ws(ps->s[i]))
        i++;
    return i;
}

/* Formats "<reason>: line L column C (char N)" for byte offset pos, as JSONDecodeError does:
 * lines split on LF only, columns and chars count code points. */
static void fail_at(struct parser *ps, const char *reason, size_t pos)
{
    struct hb_json_error *err = ps->err;
    size_t chars = 0, nl_chars = 0;
    size_t line = 1;
    bool seen_nl = false;

    assert(pos <= ps->n);
    for (size_t i = 0; i < pos; i++) {
        unsigned char c = ps->s[i];
        if ((c & 0xC0) == 0x80)
            continue;
        if (c == '\n') {
            line++;
            nl_chars = chars;
            seen_nl = true;
        }
        chars++;
    }
    err->byte_offset = pos;
    err->line = line;
    err->column = seen_nl ? chars - nl_chars : chars + 1;
    err->char_offset = chars;
    snprintf(err->text, sizeof(err->text), "%s: line %zu column %zu (char %zu)", reason, line,
             err->column, chars);
}

/* For reasons Python gives without a position. */
static void fail_plain(struct parser *ps, size_t pos, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void fail_plain(struct parser *ps, size_t pos, const char *fmt, ...)
{
    va_list ap;

    ps->err->byte_offset = pos;
    ps->err->line = 0;
    ps->err->column = 0;
    ps->err->char_offset = 0;
    va_start(ap, fmt);
    /* NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized): clang 14 false positive */
    vsnprintf(ps->err->text, sizeof(ps->err->text), fmt, ap);
    va_end(ap);
}

/* Checks the whole input before parsing, as DRF decodes the body before json.loads() sees it, and
 * words the failure as Python's utf-8 codec does. */
static int check_utf8(struct parser *ps)
{
    const unsigned char *s = ps->s;
    size_t i = 0;

    for (;;) {
        i = skip_ascii(s, i, ps->n);
        if (i == ps->n)
            return 0;
        int k = utf8_seq(s + i, s + ps->n);
        if (k > 0) {
            i += (size_t)k;
            continue;
        }
        size_t bad = (size_t)-k;
        const char *why = "invalid continuation byte";
        if (k == -1 && (s[i] < 0xC2 || s[i] > 0xF4))
            why = "invalid start byte";
        else if (i + bad == ps->n)
            why = "unexpected end of data";
        if (bad == 1)
            fail_plain(ps, i, "'utf-8' codec can't decode byte 0x%02x in position %zu: %s", s[i], i,
                       why);
        else
            fail_plain(ps, i, "'utf-8' codec can't decode bytes in position %zu-%zu: %s", i,
                       i + bad - 1, why);
        return HB_EINVAL;
    }
}

static struct hb_json *new_node(struct parser *ps, enum hb_json_type type)
{
    struct hb_json *node = hb_arena_alloc(ps->arena, sizeof(*node));
    memset(node, 0, sizeof(*node));
    node->type = (uint8_t)type;
    return node;
}

static int hex4(const unsigned char *p, uint32_t *out)
{
    uint32_t v = 0;
    for (int k = 0; k < 4; k++) {
        unsigned c = p[k];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= c - '0';
        else if (c >= 'a' && c <= 'f')
            v |= c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            v |= c - 'A' + 10;
        else
            return -1;
    }
    *out = v;
    return 0;
}

/* Decodes the string whose opening quote is at i - 1 into the text pool (CPython
 * scanstring_unicode). Returns 0 with *next just past the closing quote, or HB_EINVAL. */
static int parse_string(struct parser *ps, size_t i, size_t *next, const char **out,
                        uint32_t *out_len)
{
    const unsigned char *s = ps->s;
    const size_t n = ps->n, begin = i - 1;
    char *start = ps->text, *dst = ps->text;

    for (;;) {
        size_t j = i;
        /* Input is valid UTF-8 by now, so only the three specials matter, eight bytes at a time. */
        while (n - j >= 8) {
            uint64_t w;
            memcpy(&w, s + j, 8);
            if (has_special8(w) & ~w & HIGHS)
                break;
            j += 8;
        }
        while (j < n && s[j] != '"' && s[j] != '\\') {
            if (s[j] < 0x20) {
                fail_at(ps, "Invalid control character at", j);
                return HB_EINVAL;
            }
            j++;
        }
        if (j == n) {
            fail_at(ps, "Unterminated string starting at", begin);
            return HB_EINVAL;
        }
        memcpy(dst, s + i, j - i);
        dst += j - i;
        if (s[j] == '"') {
            *next = j + 1;
            break;
        }
        j++; /* past the backslash */
        if (j == n) {
            fail_at(ps, "Unterminated string starting at", begin);
            return HB_EINVAL;
        }
        if (s[j] != 'u') {
            char c;
            switch (s[j]) {
            case '"':
            case '\\':
            case '/':
                c = (char)s[j];
                break;
            case 'b':
                c = '\b';
                break;
            case 'f':
                c = '\f';
                break;
            case 'n':
                c = '\n';
                break;
            case 'r':
                c = '\r';
                break;
            case 't':
                c = '\t';
                break;
            default:
                fail_at(ps, "Invalid \\escape", j - 1);
                return HB_EINVAL;
            }
            *dst++ = c;
            i = j + 1;
            continue;
        }
        /* \uXXXX: like Python, demand one more character after the four digits, and join a high
         * surrogate with a following \uXXXX only when a character follows that one too. */
        size_t hex = j + 1, end = hex + 4;
        uint32_t cp, lo;
        if (end >= n || hex4(s + hex, &cp) < 0) {
            fail_at(ps, "Invalid \\uXXXX escape", j);
            return HB_EINVAL;
        }
        i = end;
        if (cp >= 0xD800 && cp <= 0xDBFF && end + 6 < n && s[end] == '\\' && s[end + 1] == 'u') {
            if (hex4(s + end + 2, &lo) < 0) {
                fail_at(ps, "Invalid \\uXXXX escape", end + 1);
                return HB_EINVAL;
            }
            if (lo >= 0xDC00 && lo <= 0xDFFF) {
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                i = end + 6;
            }
        }
        if (cp >= 0xD800 && cp <= 0xDFFF) {
            /* Python keeps a lone surrogate; we refuse the document, but only once it has parsed,
             * so that any error Python would report still wins. U+FFFD holds the place. */
            if (ps->lone_pos == SIZE_MAX)
                ps->lone_pos = j - 1;
            cp = 0xFFFD;
        }
        dst += utf8_encode(dst, cp);
    }
    assert(dst < ps->text_end);
    *dst++ = '\0';
    ps->text = dst;
    *out = start;
    *out_len = (uint32_t)(dst - 1 - start);
    return 0;
}

static bool is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

/* Matches a number at i (CPython _match_number_unicode, with its backtracking: "1." is 1 followed
 * by '.', "1e" is 1 followed by 'e'). Returns NULL with *next == i when there is none. */
static struct hb_json *parse_number(struct parser *ps, size_t i, size_t *next, int *status)
{
    const unsigned char *s = ps->s;
    const size_t n = ps->n, start = i;
    bool is_real = false;

    *status = 0;
    if (s[i] == '-') {
        i++;
        if (i >= n)
            return NULL;
    }
    if (s[i] >= '1' && s[i] <= '9') {
        i++;
        while (i < n && is_digit(s[i]))
            i++;
    } else if (s[i] == '0') {
        i++;
    } else {
        return NULL;
    }
    if (i + 1 < n && s[i] == '.' && is_digit(s[i + 1])) {
        is_real = true;
        i += 2;
        while (i < n && is_digit(s[i]))
            i++;
    }
    if (i + 1 < n && (s[i] == 'e' || s[i] == 'E')) {
        size_t e_start = i++;
        if (i + 1 < n && (s[i] == '-' || s[i] == '+'))
            i++;
        while (i < n && is_digit(s[i]))
            i++;
        if (is_digit(s[i - 1]))
            is_real = true;
        else
            i = e_start;
    }

    size_t len = i - start;
    if (!is_real) {
        size_t digits = len - (s[start] == '-');
        if (digits > HB_JSON_MAX_INT_DIGITS) {
            fail_plain(ps, start,
                       "Exceeds the limit (%d digits) for integer string conversion: value has %zu "
                       "digits; use sys.set_int_max_str_digits() to increase the limit",
                       HB_JSON_MAX_INT_DIGITS, digits);
            *status = HB_EINVAL;
            return NULL;
        }
    }

    struct hb_json *node = new_node(ps, is_real ? HB_JSON_REAL : HB_JSON_INT);
    char *text = ps->text;
    memcpy(text, s + start, len);
    text[len] = '\0';
    ps->text += len + 1;
    assert(ps->text <= ps->text_end);
    node->len = (uint32_t)len;
    node->u.num.text = text;
    if (is_real) {
        /* strtod follows LC_NUMERIC; the server never changes it from "C". */
        node->u.num.v.d = strtod(text, NULL);
    } else {
        /* Accumulate negatively so that INT64_MIN fits. */
        bool neg = text[0] == '-';
        int64_t v = 0;
        bool fits = true;
        for (size_t k = neg; k < len && fits; k++) {
            int d = text[k] - '0';
            if (v < (INT64_MIN + d) / 10)
                fits = false;
            else
                v = v * 10 - d;
        }
        if (fits && !neg) {
            if (v == INT64_MIN)
                fits = false;
            else
                v = -v;
        }
        if (fits) {
            node->flags |= F_FITS;
            node->u.num.v.i = v;
        }
    }
    *next = i;
    return node;
}

static struct hb_json *parse_value(struct parser *ps, size_t i, unsigned depth, size_t *next);

static bool matches(const struct parser *ps, size_t i, const char *word, size_t len)
{
    return i + len <= ps->n && memcmp(ps->s + i, word, len) == 0;
}

static struct hb_json *fail_constant(struct parser *ps, size_t i, const char *name)
{
    /* DRF parses with parse_constant=strict_constant (rest_framework/utils/json.py). */
    fail_plain(ps, i, "Out of range float values are not JSON compliant: '%s'", name);
    return NULL;
}

static struct hb_json *fail_depth(struct parser *ps, size_t i)
{
    char reason[64];
    snprintf(reason, sizeof(reason), "Nesting deeper than %d levels at", HB_JSON_MAX_DEPTH);
    fail_at(ps, reason, i);
    return NULL;
}

/* Appends child to the container node. */
static void add_child(struct hb_json *node, struct hb_json *child)
{
    if (node->u.kids.last == NULL)
        node->u.kids.first = child;
    else
        node->u.kids.last->next = child;
    node->u.kids.last = child;
    node->len++;
}

/* Parses the members after the '{' at i - 1 (CPython _parse_object_unicode). */
static struct hb_json *parse_object(struct parser *ps, size_t i, unsigned depth, size_t *next)
{
    const unsigned char *s = ps->s;
    const size_t n = ps->n;
    struct hb_json *obj = new_node(ps, HB_JSON_OBJECT);

    i = skip_ws(ps, i);
    if (i < n && s[i] == '}') {
        *next = i + 1;
        return obj;
    }
    for (;;) {
        const char *key;
        uint32_t key_len;
        if (i >= n || s[i] != '"') {
            fail_at(ps, "Expecting property name enclosed in double quotes", i);
            return NULL;
        }
        if (parse_string(ps, i + 1, &i, &key, &key_len) < 0)
            return NULL;
        i = skip_ws(ps, i);
        if (i >= n || s[i] != ':') {
            fail_at(ps, "Expecting ':' delimiter", i);
            return NULL;
        }
        i = skip_ws(ps, i + 1);
        struct hb_json *val = parse_value(ps, i, depth, &i);
        if (val == NULL)
            return NULL;
        val->key = key;
        val->key_len = key_len;
        add_child(obj, val);
        i = skip_ws(ps, i);
        if (i < n && s[i] == '}')
            break;
        if (i >= n || s[i] != ',') {
            fail_at(ps, "Expecting ',' delimiter", i);
            return NULL;
        }
        i = skip_ws(ps, i + 1);
    }
    *next = i + 1;
    return obj;
}

/* Parses the elements after the '[' at i - 1 (CPython _parse_array_unicode). */
static struct hb_json *parse_array(struct parser *ps, size_t i, unsigned depth, size_t *next)
{
    const unsigned char *s = ps->s;
    const size_t n = ps->n;
    struct hb_json *arr = new_node(ps, HB_JSON_ARRAY);

    i = skip_ws(ps, i);
    if (i < n && s[i] == ']') {
        *next = i + 1;
        return arr;
    }
    for (;;) {
        struct hb_json *val = parse_value(ps, i, depth, &i);
        if (val == NULL)
            return NULL;
        add_child(arr, val);
        i = skip_ws(ps, i);
        if (i < n && s[i] == ']')
            break;
        if (i >= n || s[i] != ',') {
            fail_at(ps, "Expecting ',' delimiter", i);
            return NULL;
        }
        i = skip_ws(ps, i + 1);
    }
    *next = i + 1;
    return arr;
}

/* Parses one value at i (CPython scan_once_unicode). depth counts the enclosing containers. */
static struct hb_json *parse_value(struct parser *ps, size_t i, unsigned depth, size_t *next)
{
    struct hb_json *node;

    if (i >= ps->n) {
        fail_at(ps, "Expecting value", i);
        return NULL;
    }
    switch (ps->s[i]) {
    case '"': {
        node = new_node(ps, HB_JSON_STRING);
        if (parse_string(ps, i + 1, next, &node->u.str, &node->len) < 0)
            return NULL;
        node->n_chars = (uint32_t)utf8_count((const unsigned char *)node->u.str, node->len);
        return node;
    }
    case '{':
        if (depth >= HB_JSON_MAX_DEPTH)
            return fail_depth(ps, i);
        return parse_object(ps, i + 1, depth + 1, next);
    case '[':
        if (depth >= HB_JSON_MAX_DEPTH)
            return fail_depth(ps, i);
        return parse_array(ps, i + 1, depth + 1, next);
    case 'n':
        if (matches(ps, i, "null", 4)) {
            *next = i + 4;
            return new_node(ps, HB_JSON_NULL);
        }
        break;
    case 't':
        if (matches(ps, i, "true", 4)) {
            node = new_node(ps, HB_JSON_BOOL);
            node->flags = F_TRUE;
            *next = i + 4;
            return node;
        }
        break;
    case 'f':
        if (matches(ps, i, "false", 5)) {
            *next = i + 5;
            return new_node(ps, HB_JSON_BOOL);
        }
        break;
    case 'N':
        if (matches(ps, i, "NaN", 3))
            return fail_constant(ps, i, "NaN");
        break;
    case 'I':
        if (matches(ps, i, "Infinity", 8))
            return fail_constant(ps, i, "Infinity");
        break;
    case '-':
        if (matches(ps, i, "-Infinity", 9))
            return fail_constant(ps, i, "-Infinity");
        break;
    default:
        break;
    }
    int status;
    node = parse_number(ps, i, next, &status);
    if (node == NULL && status == 0)
        fail_at(ps, "Expecting value", i);
    return node;
}

int hb_json_parse(struct hb_arena *arena, const char *data, size_t len, const struct hb_json **out,
                  struct hb_json_error *err)
{
    struct hb_json_error local;
    if (err == NULL)
        err = &local;
    struct parser ps = {
        .arena = arena,
        .s = (const unsigned char *)data,
        .n = len,
        .err = err,
        .lone_pos = SIZE_MAX,
    };
    size_t i;

    *out = NULL;
    ps.err->text[0] = '\0';
    if (len >= UINT32_MAX) {
        fail_plain(&ps, 0, "Document too large");
        return HB_ETOOLARGE;
    }
    if (check_utf8(&ps) < 0)
        return HB_EINVAL;
    if (matches(&ps, 0, "\xEF\xBB\xBF", 3)) {
        fail_at(&ps, "Unexpected UTF-8 BOM (decode using utf-8-sig)", 0);
        return HB_EINVAL;
    }
    /* Every decoded string or number, with its NUL, fits in the bytes its token spans plus the
     * delimiter after a number, so one block of len + 1 bytes holds all the document's text. */
    ps.text = hb_arena_alloc(arena, len + 1);
    ps.text_end = ps.text + len + 1;

    struct hb_json *root = parse_value(&ps, skip_ws(&ps, 0), 0, &i);
    if (root == NULL)
        return HB_EINVAL;
    i = skip_ws(&ps, i);
    if (i != len) {
        fail_at(&ps, "Extra data", i);
        return HB_EINVAL;
    }
    if (ps.lone_pos != SIZE_MAX) {
        char reason[48];
        snprintf(reason, sizeof(reason), "Unpaired surrogate %.6s at", data + ps.lone_pos);
        fail_at(&ps, reason, ps.lone_pos);
        return HB_EINVAL;
    }
    *out = root;
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Accessors
 * ------------------------------------------------------------------------------------------- */

enum hb_json_type hb_json_type(const struct hb_json *node)
{
    assert(node != NULL);
    return (enum hb_json_type)node->type;
}

const char *hb_json_type_name(const struct hb_json *node)
{
    static const char *const names[] = {
        [HB_JSON_NULL] = "NoneType", [HB_JSON_BOOL] = "bool",  [HB_JSON_INT] = "int",
        [HB_JSON_REAL] = "float",    [HB_JSON_STRING] = "str", [HB_JSON_ARRAY] = "list",
        [HB_JSON_OBJECT] = "dict",
    };
    assert(node != NULL);
    return names[node->type];
}

static bool is_type(const struct hb_json *node, enum hb_json_type type)
{
    return node != NULL && node->type == type;
}

bool hb_json_is_null(const struct hb_json *node)
{
    return is_type(node, HB_JSON_NULL);
}

bool hb_json_is_bool(const struct hb_json *node)
{
    return is_type(node, HB_JSON_BOOL);
}

bool hb_json_is_int(const struct hb_json *node)
{
    return is_type(node, HB_JSON_INT);
}

bool hb_json_is_real(const struct hb_json *node)
{
    return is_type(node, HB_JSON_REAL);
}

bool hb_json_is_number(const struct hb_json *node)
{
    return is_type(node, HB_JSON_INT) || is_type(node, HB_JSON_REAL);
}

bool hb_json_is_string(const struct hb_json *node)
{
    return is_type(node, HB_JSON_STRING);
}

bool hb_json_is_array(const struct hb_json *node)
{
    return is_type(node, HB_JSON_ARRAY);
}

bool hb_json_is_object(const struct hb_json *node)
{
    return is_type(node, HB_JSON_OBJECT);
}

bool hb_json_bool(const struct hb_json *node)
{
    return is_type(node, HB_JSON_BOOL) && (node->flags & F_TRUE);
}

struct hb_str hb_json_string(const struct hb_json *node)
{
    if (!is_type(node, HB_JSON_STRING))
        return HB_STR_NULL;
    return (struct hb_str){node->u.str, node->len};
}

size_t hb_json_string_chars(const struct hb_json *node)
{
    return is_type(node, HB_JSON_STRING) ? node->n_chars : 0;
}

struct hb_str hb_json_number_text(const struct hb_json *node)
{
    if (!hb_json_is_number(node))
        return HB_STR_NULL;
    return (struct hb_str){node->u.num.text, node->len};
}

bool hb_json_int64(const struct hb_json *node, int64_t *out)
{
    if (!is_type(node, HB_JSON_INT) || !(node->flags & F_FITS))
        return false;
    *out = node->u.num.v.i;
    return true;
}

bool hb_json_whole_int64(const struct hb_json *node, int64_t *out)
{
    if (hb_json_int64(node, out))
        return true;
    if (!is_type(node, HB_JSON_REAL))
        return false;
    /* Python's repr() switches to exponent form at 1e16, which DRF's int() then refuses. */
    double d = node->u.num.v.d;
    if (!(fabs(d) < 1e16) || d != trunc(d))
        return false;
    *out = (int64_t)d;
    return true;
}

double hb_json_real(const struct hb_json *node)
{
    if (is_type(node, HB_JSON_REAL))
        return node->u.num.v.d;
    if (!is_type(node, HB_JSON_INT))
        return 0.0;
    if (node->flags & F_FITS)
        return (double)node->u.num.v.i;
    return strtod(node->u.num.text, NULL);
}

size_t hb_json_len(const struct hb_json *node)
{
    return hb_json_is_array(node) || hb_json_is_object(node) ? node->len : 0;
}

const struct hb_json *hb_json_first(const struct hb_json *node)
{
    return hb_json_is_array(node) || hb_json_is_object(node) ? node->u.kids.first : NULL;
}

const struct hb_json *hb_json_next(const struct hb_json *node)
{
    assert(node != NULL);
    return node->next;
}

struct hb_str hb_json_key(const struct hb_json *member)
{
    if (member == NULL || member->key == NULL)
        return HB_STR_NULL;
    return (struct hb_str){member->key, member->key_len};
}

const struct hb_json *hb_json_getn(const struct hb_json *obj, const char *key, size_t key_len)
{
    const struct hb_json *found = NULL;

    if (!hb_json_is_object(obj))
        return NULL;
    for (const struct hb_json *m = obj->u.kids.first; m != NULL; m = m->next) {
        if (m->key_len == key_len && memcmp(m->key, key, key_len) == 0)
            found = m;
    }
    return found;
}

const struct hb_json *hb_json_get(const struct hb_json *obj, const char *key)
{
    return hb_json_getn(obj, key, strlen(key));
}

static bool utf8_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + len;
    while (p < end) {
        int k = utf8_check(p, end);
        if (k < 0)
            return false;
        p += k;
    }
    return true;
}

struct hb_json *hb_json_object_create(struct hb_arena *arena)
{
    struct hb_json *obj = hb_arena_alloc(arena, sizeof(*obj));
    memset(obj, 0, sizeof(*obj));
    obj->type = HB_JSON_OBJECT;
    return obj;
}

int hb_json_object_add_string(struct hb_arena *arena, struct hb_json *obj, const char *key,
                              size_t key_len, const char *value, size_t value_len)
{
    assert(hb_json_is_object(obj));
    if (key_len >= UINT32_MAX || value_len >= UINT32_MAX || obj->len == UINT32_MAX)
        return HB_ETOOLARGE;
    if (!utf8_valid(key, key_len) || !utf8_valid(value, value_len))
        return HB_EINVAL;
    struct hb_json *val = hb_arena_alloc(arena, sizeof(*val));
    memset(val, 0, sizeof(*val));
    val->type = HB_JSON_STRING;
    val->key = hb_arena_strndup(arena, key, key_len);
    val->key_len = (uint32_t)key_len;
    val->u.str = hb_arena_strndup(arena, value, value_len);
    val->len = (uint32_t)value_len;
    val->n_chars = (uint32_t)utf8_count((const unsigned char *)value, value_len);
    add_child(obj, val);
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Writer
 * ------------------------------------------------------------------------------------------- */

/* Byte classes for the string writer: 0 copied as-is, 1 escaped, 2 starts a UTF-8 sequence
 * (or is ill-formed) and must be checked. */
static const unsigned char str_class[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x00 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x10 */
    0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x20: '"' */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x30 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x40 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, /* 0x50: '\' */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x60 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x70 */
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, /* 0x80 */
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, /* 0x90 */
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, /* 0xA0 */
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, /* 0xB0 */
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, /* 0xC0 */
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, /* 0xD0 */
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, /* 0xE0 */
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, /* 0xF0 */
};

/* Makes room for extra more bytes and returns where they go, or NULL once an error is sticky.
 * hb_buf allocates one byte past cap, so the NUL hb_buf promises can always be written. */
static char *wr_room(struct hb_json_writer *w, size_t extra)
{
    struct hb_buf *buf = w->buf;

    /* cap never exceeds max_len, so room within cap needs no other check. */
    if (buf->data != NULL && buf->cap - buf->len >= extra && w->err == 0)
        return buf->data + buf->len;
    if (w->err != 0)
        return NULL;
    int err = hb_buf_reserve(buf, extra);
    if (err < 0) {
        w->err = err;
        return NULL;
    }
    return buf->data + buf->len;
}

static void wr_done(struct hb_json_writer *w, const char *p)
{
    w->buf->len = (size_t)(p - w->buf->data);
    w->buf->data[w->buf->len] = '\0';
}

/* Called before every key and value: checks the grammar in debug builds, and returns how many
 * bytes of separator the next item needs (the comma, if any). */
static size_t wr_sep_len(const struct hb_json_writer *w, bool is_key)
{
#ifndef NDEBUG
    bool in_object = w->_depth > 0 && ((w->_objects >> (w->_depth - 1)) & 1);
    if (is_key)
        assert(in_object && !w->_after_key);
    else
        assert(!in_object || w->_after_key);
#else
    (void)is_key;
#endif
    return w->_need_comma && !w->_after_key;
}

static char *wr_sep(struct hb_json_writer *w, char *p)
{
    if (w->_need_comma && !w->_after_key)
        *p++ = ',';
    return p;
}

/* Marks that a complete value was written. */
static void wr_value_done(struct hb_json_writer *w)
{
    w->_need_comma = true;
    w->_after_key = false;
}

void hb_json_writer_init(struct hb_json_writer *w, struct hb_buf *buf)
{
    w->buf = buf;
    w->err = 0;
    w->_need_comma = false;
    w->_after_key = false;
    w->_depth = 0;
    w->_objects = 0;
}

int hb_json_writer_finish(struct hb_json_writer *w)
{
    assert(w->err != 0 || (w->_depth == 0 && !w->_after_key));
    return w->err;
}

static void wr_begin(struct hb_json_writer *w, char c, bool is_object)
{
    size_t sep = wr_sep_len(w, false);
    char *p = wr_room(w, sep + 1);

    assert(w->_depth < HB_JSON_MAX_DEPTH);
    if (p != NULL) {
        p = wr_sep(w, p);
        *p++ = c;
        wr_done(w, p);
    }
    if (is_object)
        w->_objects |= (uint64_t)1 << w->_depth;
    else
        w->_objects &= ~((uint64_t)1 << w->_depth);
    w->_depth++;
    w->_need_comma = false;
    w->_after_key = false;
}

static void wr_end(struct hb_json_writer *w, char c, bool is_object)
{
    char *p = wr_room(w, 1);

    assert(w->_depth > 0 && !w->_after_key);
    assert(((w->_objects >> (w->_depth - 1)) & 1) == is_object);
    (void)is_object;
    if (p != NULL) {
        *p++ = c;
        wr_done(w, p);
    }
    w->_depth--;
    wr_value_done(w);
}

void hb_json_write_object_begin(struct hb_json_writer *w)
{
    wr_begin(w, '{', true);
}

void hb_json_write_object_end(struct hb_json_writer *w)
{
    wr_end(w, '}', true);
}

void hb_json_write_array_begin(struct hb_json_writer *w)
{
    wr_begin(w, '[', false);
}

void hb_json_write_array_end(struct hb_json_writer *w)
{
    wr_end(w, ']', false);
}

/* Returns the first byte at or after s that cannot be copied as-is: one to escape, or the start
 * of an ill-formed UTF-8 sequence. ASCII goes eight bytes at a time, then runs of multi-byte
 * characters one character at a time. */
static const unsigned char *scan_plain(const unsigned char *s, const unsigned char *end)
{
    for (;;) {
        while (end - s >= 8) {
            uint64_t w;
            memcpy(&w, s, 8);
            if ((has_special8(w) | w) & HIGHS)
                break;
            s += 8;
        }
        while (s < end && str_class[*s] == 0)
            s++;
        if (s == end || *s < 0x80)
            return s;
        do {
            if (utf8_is_plain3(s, end)) {
                s += 3;
            } else {
                int k = utf8_check(s, end);
                if (k < 0)
                    return s;
                s += k;
            }
        } while (s < end && *s >= 0x80);
    }
}

/* Appends the quoted, escaped string, then the colon for a key. The optimistic reservation
 * covers the common case of nothing to escape; escapes and replacements reserve their own room. */
static void wr_quoted(struct hb_json_writer *w, size_t sep, const unsigned char *s, size_t len,
                      bool is_key)
{
    static const char hexdigits[] = "0123456789abcdef";
    const unsigned char *end = s + len;
    char *p = wr_room(w, sep + len + 3);

    if (p == NULL)
        return;
    p = wr_sep(w, p);
    *p++ = '"';
    for (;;) {
        const unsigned char *run = s;
        s = scan_plain(s, end);
        memcpy(p, run, (size_t)(s - run));
        p += s - run;
        if (s == end)
            break;
        /* An escape (up to 6 bytes for 1 input byte) or U+FFFD (3 bytes for at least 1). */
        wr_done(w, p);
        p = wr_room(w, (size_t)(end - s) + 7);
        if (p == NULL)
            return;
        unsigned char c = *s;
        if (str_class[c] == 1) {
            *p++ = '\\';
            switch (c) {
            case '"':
            case '\\':
                *p++ = (char)c;
                break;
            case '\b':
                *p++ = 'b';
                break;
            case '\f':
                *p++ = 'f';
                break;
            case '\n':
                *p++ = 'n';
                break;
            case '\r':
                *p++ = 'r';
                break;
            case '\t':
                *p++ = 't';
                break;
            default:
                *p++ = 'u';
                *p++ = '0';
                *p++ = '0';
                *p++ = hexdigits[c >> 4];
                *p++ = hexdigits[c & 15];
                break;
            }
            s++;
        } else {
            *p++ = '\xEF'; /* U+FFFD */
            *p++ = '\xBF';
            *p++ = '\xBD';
            s += -utf8_check(s, end);
        }
    }
    *p++ = '"';
    if (is_key)
        *p++ = ':';
    wr_done(w, p);
}

void hb_json_write_keyn(struct hb_json_writer *w, const char *key, size_t len)
{
    wr_quoted(w, wr_sep_len(w, true), (const unsigned char *)key, len, true);
    w->_after_key = true;
}

void hb_json_write_key(struct hb_json_writer *w, const char *key)
{
    hb_json_write_keyn(w, key, strlen(key));
}

void hb_json_write_string(struct hb_json_writer *w, const char *s, size_t len)
{
    wr_quoted(w, wr_sep_len(w, false), (const unsigned char *)s, len, false);
    wr_value_done(w);
}

void hb_json_write_cstr(struct hb_json_writer *w, const char *s)
{
    hb_json_write_string(w, s, strlen(s));
}

void hb_json_write_int(struct hb_json_writer *w, int64_t v)
{
    static const char pairs[201] =
        "00010203040506070809101112131415161718192021222324252627282930313233"
        "34353637383940414243444546474849505152535455565758596061626364656667"
        "6869707172737475767778798081828384858687888990919293949596979899";
    size_t sep = wr_sep_len(w, false);
    char tmp[24], *q = tmp + sizeof(tmp);
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;

    while (u >= 100) {
        unsigned d = (unsigned)(u % 100) * 2;
        u /= 100;
        *--q = pairs[d + 1];
        *--q = pairs[d];
    }
    if (u >= 10) {
        *--q = pairs[u * 2 + 1];
        *--q = pairs[u * 2];
    } else {
        *--q = (char)('0' + u);
    }
    if (v < 0)
        *--q = '-';
    size_t n = (size_t)(tmp + sizeof(tmp) - q);
    char *p = wr_room(w, sep + n);
    if (p != NULL) {
        p = wr_sep(w, p);
        memcpy(p, q, n);
        wr_done(w, p + n);
    }
    wr_value_done(w);
}

void hb_json_write_raw(struct hb_json_writer *w, const char *json, size_t len)
{
    size_t sep = wr_sep_len(w, false);
    char *p = wr_room(w, sep + len);

    if (p != NULL) {
        p = wr_sep(w, p);
        memcpy(p, json, len);
        wr_done(w, p + len);
    }
    wr_value_done(w);
}

void hb_json_write_bool(struct hb_json_writer *w, bool v)
{
    if (v)
        hb_json_write_raw(w, "true", 4);
    else
        hb_json_write_raw(w, "false", 5);
}

void hb_json_write_null(struct hb_json_writer *w)
{
    hb_json_write_raw(w, "null", 4);
}

void hb_json_write_node(struct hb_json_writer *w, const struct hb_json *node)
{
    switch ((enum hb_json_type)node->type) {
    case HB_JSON_NULL:
        hb_json_write_null(w);
        break;
    case HB_JSON_BOOL:
        hb_json_write_bool(w, node->flags & F_TRUE);
        break;
    case HB_JSON_INT:
    case HB_JSON_REAL:
        hb_json_write_raw(w, node->u.num.text, node->len);
        break;
    case HB_JSON_STRING:
        hb_json_write_string(w, node->u.str, node->len);
        break;
    case HB_JSON_ARRAY:
        hb_json_write_array_begin(w);
        for (const struct hb_json *v = node->u.kids.first; v != NULL; v = v->next)
            hb_json_write_node(w, v);
        hb_json_write_array_end(w);
        break;
    case HB_JSON_OBJECT:
        hb_json_write_object_begin(w);
        for (const struct hb_json *v = node->u.kids.first; v != NULL; v = v->next) {
            hb_json_write_keyn(w, v->key, v->key_len);
            hb_json_write_node(w, v);
        }
        hb_json_write_object_end(w);
        break;
    }
}
