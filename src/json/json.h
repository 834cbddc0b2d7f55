/* SPDX-License-Identifier: MIT */
/* JSON (json layer): a strict parser for request bodies and a streaming writer for responses.
 * The parser turns bytes into an immutable tree allocated from a request arena and, on bad input,
 * produces the reason Python's json module gives (the stack answers
 * {"detail":"JSON parse error - <reason>"}). The writer appends compact UTF-8 JSON to an hb_buf,
 * escaping only '"', '\' and control characters, and allocates nothing beyond that buffer.
 * No vendor type appears here: callers see only struct hb_json and plain C types. */
#ifndef HB_JSON_JSON_H
#define HB_JSON_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/str.h"

/* ---------------------------------------------------------------------------------------------
 * Parsed documents
 * ------------------------------------------------------------------------------------------- */

/* Containers may nest this deep: 64 nested arrays parse, the 65th '[' is an error (API.md §2.2). */
#define HB_JSON_MAX_DEPTH 64

/* Integers with more digits than this are refused, as Python 3.11 does (sys.int_info). */
#define HB_JSON_MAX_INT_DIGITS 4300

enum hb_json_type {
    HB_JSON_NULL,
    HB_JSON_BOOL,
    HB_JSON_INT,    /* a number written without fraction or exponent: 42, -0, 2^70 */
    HB_JSON_REAL,   /* any other number: 3.0, 1e2, 0.5 */
    HB_JSON_STRING, /* valid UTF-8, may contain NUL (from \u0000) */
    HB_JSON_ARRAY,
    HB_JSON_OBJECT, /* members in document order, duplicates kept; lookups find the last */
};

/* One value of a parsed document. Opaque; every node is valid until its arena is reset. */
struct hb_json;

/* Why a parse failed. text is the reason as Python's json.loads() words it, position included:
 * "Expecting value: line 1 column 10 (char 9)". line and column count from 1 (column in code
 * points, lines split on LF only), char_offset is 0-based in code points, byte_offset in bytes.
 * Reasons without a position (too many integer digits) have line 0. */
#define HB_JSON_ERROR_TEXT_MAX 192
struct hb_json_error {
    char text[HB_JSON_ERROR_TEXT_MAX];
    size_t byte_offset;
    size_t line;
    size_t column;
    size_t char_offset;
};

/* Parses data[0..len) (any bytes, not NUL-terminated) as one JSON text: RFC 8259 with Python's
 * json module for the edge cases, plus hiroba's rules. Refused: syntax errors and trailing data,
 * invalid UTF-8 anywhere (Python's codec wording), a UTF-8 BOM, NaN/Infinity/-Infinity (DRF's
 * strict wording), lone surrogate escapes, nesting deeper than HB_JSON_MAX_DEPTH, integers of more
 * than HB_JSON_MAX_INT_DIGITS digits. Accepted like Python: any top-level value, integers of any
 * size (see hb_json_number_text()), reals that overflow a double (they read as +-inf).
 * Returns 0 and stores the root in *out, HB_EINVAL on bad input (err, if not NULL, says why), or
 * HB_ETOOLARGE if len >= 4 GiB. The tree and its strings live in arena (about 48 bytes per value
 * plus len bytes of text); data may be freed as soon as this returns. */
int hb_json_parse(struct hb_arena *arena, const char *data, size_t len, const struct hb_json **out,
                  struct hb_json_error *err);

/* Returns node's type. node must not be NULL. */
enum hb_json_type hb_json_type(const struct hb_json *node);

/* Returns the Python type name DRF puts in its messages: "str", "int", "float", "bool", "list",
 * "dict", or "NoneType" for null. Static string. */
const char *hb_json_type_name(const struct hb_json *node);

/* Type predicates. Each returns false for a NULL node, so hb_json_get() results can be tested
 * directly. hb_json_is_number() is true for HB_JSON_INT and HB_JSON_REAL. */
bool hb_json_is_null(const struct hb_json *node);
bool hb_json_is_bool(const struct hb_json *node);
bool hb_json_is_int(const struct hb_json *node);
bool hb_json_is_real(const struct hb_json *node);
bool hb_json_is_number(const struct hb_json *node);
bool hb_json_is_string(const struct hb_json *node);
bool hb_json_is_array(const struct hb_json *node);
bool hb_json_is_object(const struct hb_json *node);

/* Returns the value of a bool node (false for any other node). */
bool hb_json_bool(const struct hb_json *node);

/* Returns a string node's decoded bytes, NUL-terminated after len (the text may itself contain
 * NUL), valid while the arena lives. HB_STR_NULL for any other node. */
struct hb_str hb_json_string(const struct hb_json *node);

/* Returns a string node's length in Unicode code points (U+1F600 counts 1), 0 for other nodes. */
size_t hb_json_string_chars(const struct hb_json *node);

/* Returns a number node's text exactly as written in the input ("-12", "3.0", "1E+2",
 * "123456789012345678901234567890"), NUL-terminated. HB_STR_NULL for any other node. This is what
 * goes into 主キー "<value as given>" は不正です when the value does not fit. */
struct hb_str hb_json_number_text(const struct hb_json *node);

/* For an HB_JSON_INT node that fits in int64_t: stores it and returns true. Returns false for an
 * integer beyond 64-bit range and for every other node (reals included), leaving *out alone. */
bool hb_json_int64(const struct hb_json *node, int64_t *out);

/* Like hb_json_int64(), and also accepts a real with a zero fraction that DRF's IntegerField
 * accepts: one whose Python str() ends in ".0", i.e. a whole value below 1e16 in magnitude
 * (3.0, 1e2, -0.0 give 3, 100, 0; 1.5 and 1e16 are refused). */
bool hb_json_whole_int64(const struct hb_json *node, int64_t *out);

/* Returns a number node's value as a double (an integer is converted, rounding if needed; an
 * overflowing real gives +-inf). 0.0 for other nodes. */
double hb_json_real(const struct hb_json *node);

/* Returns the number of elements of an array or members of an object (duplicate keys counted
 * each time), 0 for other nodes. */
size_t hb_json_len(const struct hb_json *node);

/* Iteration over an array's elements or an object's members, in document order:
 *   for (const struct hb_json *v = hb_json_first(arr); v != NULL; v = hb_json_next(v))
 * hb_json_first() returns NULL for an empty container or a scalar. An object member is its value
 * node; hb_json_key() gives its key. Duplicate keys appear each time they were written. */
const struct hb_json *hb_json_first(const struct hb_json *node);
const struct hb_json *hb_json_next(const struct hb_json *node);

/* Returns the key of an object member (NUL-terminated, may contain NUL), HB_STR_NULL for a node
 * that is not an object member. */
struct hb_str hb_json_key(const struct hb_json *member);

/* Looks key up in an object; when the key is duplicated the last one wins (Python's dict).
 * Returns the member's value, or NULL if obj is NULL, not an object, or has no such key.
 * O(number of members). hb_json_getn() takes a key that need not be NUL-terminated. */
const struct hb_json *hb_json_get(const struct hb_json *obj, const char *key);
const struct hb_json *hb_json_getn(const struct hb_json *obj, const char *key, size_t key_len);

/* Builds an empty object in arena, so that bodies decoded from other media types
 * (application/x-www-form-urlencoded) can be validated by the same code as JSON bodies. */
struct hb_json *hb_json_object_create(struct hb_arena *arena);

/* Appends the member key: value (a string) to obj, copying both into arena. A repeated key is
 * appended again, and lookups find the last, as for parsed objects. Returns 0, HB_EINVAL if key or
 * value is not valid UTF-8 (obj unchanged), or HB_ETOOLARGE if either is 4 GiB or more. */
int hb_json_object_add_string(struct hb_arena *arena, struct hb_json *obj, const char *key,
                              size_t key_len, const char *value, size_t value_len);

/* ---------------------------------------------------------------------------------------------
 * Streaming writer
 * ------------------------------------------------------------------------------------------- */

/* Writes compact JSON into a borrowed hb_buf: begin/end containers, keys and values, with commas
 * and colons placed automatically. Errors are sticky (BearSSL style): the first failure (the
 * buffer's cap, HB_ETOOLARGE) turns every later call into a no-op and is returned by
 * hb_json_writer_finish(); the buffer then holds a truncated text the caller must discard.
 * Misuse (a value where a key is due, unbalanced ends, nesting past 64) is an assert. */
struct hb_json_writer {
    struct hb_buf *buf; /* borrowed; must outlive the writer */
    int err;            /* first failure, 0 while all is well */
    bool _need_comma;   /* the next key or value follows a sibling */
    bool _after_key;    /* inside an object, a key was written and its value is due */
    unsigned _depth;    /* open containers */
    uint64_t _objects;  /* bit d set: the container at depth d+1 is an object */
};

/* Starts writing at the end of buf (whatever it already holds is kept). */
void hb_json_writer_init(struct hb_json_writer *w, struct hb_buf *buf);

/* Returns 0 if everything was written, else the sticky error. Asserts that every container that
 * was begun was ended. */
int hb_json_writer_finish(struct hb_json_writer *w);

void hb_json_write_object_begin(struct hb_json_writer *w);
void hb_json_write_object_end(struct hb_json_writer *w);
void hb_json_write_array_begin(struct hb_json_writer *w);
void hb_json_write_array_end(struct hb_json_writer *w);

/* Writes a member key (escaped like a string) and the colon. hb_json_write_key() takes a
 * NUL-terminated key; HB_JSON_KEY() a string literal, with its length known at compile time. */
void hb_json_write_keyn(struct hb_json_writer *w, const char *key, size_t len);
void hb_json_write_key(struct hb_json_writer *w, const char *key);
#define HB_JSON_KEY(w, lit) hb_json_write_keyn((w), "" lit, sizeof(lit) - 1)

/* Writes s[0..len) as a JSON string. Escapes '"', '\' and bytes below 0x20 (\b \f \n \r \t, others
 * as \u00XX); copies every other byte as-is. Input is expected to be UTF-8; an ill-formed sequence
 * is written as U+FFFD (one per maximal ill-formed subpart), so the output is always valid JSON.
 * hb_json_write_cstr() takes a NUL-terminated string. */
void hb_json_write_string(struct hb_json_writer *w, const char *s, size_t len);
void hb_json_write_cstr(struct hb_json_writer *w, const char *s);

/* Writes a decimal integer, a boolean, null. */
void hb_json_write_int(struct hb_json_writer *w, int64_t v);
void hb_json_write_bool(struct hb_json_writer *w, bool v);
void hb_json_write_null(struct hb_json_writer *w);

/* Writes json[0..len), which must be one complete, valid JSON value (pre-serialised, e.g. a cached
 * author object), as the next value. Not checked. */
void hb_json_write_raw(struct hb_json_writer *w, const char *json, size_t len);

/* Writes a parsed value (numbers as their original text, objects with duplicate keys as they
 * were), so that parsing the output gives the same tree. */
void hb_json_write_node(struct hb_json_writer *w, const struct hb_json *node);

#endif
