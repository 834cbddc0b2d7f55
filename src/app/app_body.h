/* SPDX-License-Identifier: MIT */
/* Request bodies and field validation, DRF style (app layer, API.md §2.2 and §2.4).
 * hb_app_body_parse() turns a JSON or form-encoded body into one JSON object tree (form values
 * become strings), answering 415 and 400 itself. Field checks then run in the resource's
 * declared order and collect {"field":["message",...]} errors in that order. */
#ifndef HB_APP_BODY_H
#define HB_APP_BODY_H

#include <stdbool.h>
#include <stdint.h>

#include "core/buf.h"
#include "http/http_request.h"
#include "http/http_response.h"
#include "json/json.h"

/* Parses req's body as any JSON value (a form body gives an object). Returns it, or NULL after
 * writing the answer (415, or 400 for a parse error) into res. An empty body is an empty
 * object. */
const struct hb_json *hb_app_body_parse_value(struct hb_http_request *req,
                                              struct hb_http_response *res);

/* Parses req's body. Returns the object, or NULL after writing the answer (415, or 400 for a
 * parse error, a non-object, or null) into res. An empty body is an empty object. */
const struct hb_json *hb_app_body_parse(struct hb_http_request *req, struct hb_http_response *res);

/* Validation errors in field order. */
struct hb_app_errors {
    struct hb_buf json;
    const char *current; /* the field whose array is open */
};

void hb_app_errors_init(struct hb_app_errors *e);
void hb_app_errors_release(struct hb_app_errors *e);
bool hb_app_errors_any(const struct hb_app_errors *e);

/* Adds message under field; messages of one field must be added consecutively. */
void hb_app_errors_add(struct hb_app_errors *e, const char *field, const char *message);

/* Writes 400 with the collected errors into res. */
void hb_app_errors_respond(struct hb_app_errors *e, struct hb_http_response *res);

/* A string field's rules (§2.4). */
struct hb_app_string_rule {
    bool is_required;
    bool allow_blank;
    bool keep_whitespace; /* the login password is not trimmed */
    size_t min_chars;     /* 0: none */
    size_t max_chars;     /* 0: none */
};

/* Checks obj[field] against rule. Returns 1 and the (trimmed, arena-owned) value in *out, 0 when
 * the field is absent and optional, or -1 after adding the error to e. */
int hb_app_field_string(struct hb_arena *arena, const struct hb_json *obj, const char *field,
                        const struct hb_app_string_rule *rule, struct hb_app_errors *e,
                        struct hb_str *out);

/* Counts the code points of valid UTF-8 text. */
size_t hb_app_utf8_chars(struct hb_str s);

/* Removes leading and trailing whitespace as Python's str.strip() does (Unicode White_Space and
 * the ASCII separators 0x1c-0x1f). */
struct hb_str hb_app_trim(struct hb_str s);

/* Parses a DRF integer: a JSON integer, a number with a zero fraction, or a string of either.
 * Returns 0 and the value, HB_EINVAL for anything else (booleans included), or HB_ETOOLARGE
 * for integers beyond 64 bits. */
int hb_app_parse_int(const struct hb_json *node, int64_t *out);

/* Parses decimal digits with an optional sign, trimmed, as a query-parameter integer. */
int hb_app_parse_int_text(struct hb_str text, int64_t *out);

/* Parses text as Python's int() does for ASCII: surrounding whitespace, an optional sign, digits
 * with single underscores between them. Returns 0 and the value, HB_EINVAL, or HB_ETOOLARGE with
 * *out saturated to INT64_MAX or INT64_MIN by the sign (query parameters, primary keys). */
int hb_app_parse_pyint(struct hb_str text, int64_t *out);

/* True when req's body is form-encoded: an empty value of an optional field then counts as
 * absent (§2.4). */
bool hb_app_body_is_form(const struct hb_http_request *req);

/* Checks the foreign key obj[field] (§2.4): a JSON integer, or a string Python's int() accepts.
 * Returns 1 with *id and *text (the value as given, for the does-not-exist message); *id is 0
 * when the value cannot name a row (not positive, or beyond 64 bits). Returns 0 when the field is
 * absent and not required, or -1 after adding the error to e (required, null, "" (DRF turns it
 * into null), or the wrong type). The caller checks that the row exists. */
int hb_app_field_fk(struct hb_arena *arena, const struct hb_json *obj, const char *field,
                    bool is_required, struct hb_app_errors *e, int64_t *id, struct hb_str *text);

/* Adds 主キー "<text>" は不正です - データが存在しません。 under field. */
void hb_app_errors_add_fk_missing(struct hb_arena *arena, struct hb_app_errors *e,
                                  const char *field, struct hb_str text);

/* Checks the optional datetime obj[field] (§2.6): ISO-8601 or the display format. Returns 1 with
 * *us, 0 when absent (or an empty form value), or -1 after adding the error to e. */
int hb_app_field_datetime(const struct hb_json *obj, const char *field, bool is_form,
                          struct hb_app_errors *e, int64_t *us);

/* Checks the integer obj[field] (§2.4) against [min, max]. Returns 1 with *out, 0 when absent and
 * not required (or an empty form value of an optional field), or -1 after adding the error. */
int hb_app_field_int(struct hb_arena *arena, const struct hb_json *obj, const char *field,
                     bool is_required, bool is_form, int64_t min, int64_t max,
                     struct hb_app_errors *e, int64_t *out);

#endif
