/* SPDX-License-Identifier: MIT */
/* Body parsing and field checks (app layer). Messages are DRF's Japanese catalogue, verbatim. */
#include "app/app_body.h"

#include <stdio.h>
#include <string.h>

#include "core/err.h"
#include "http/http_url.h"
#include "store/store_time.h"

struct form_ctx {
    struct hb_arena *arena;
    struct hb_json *obj;
    bool is_bad;
};

static void add_pair(void *ctx, struct hb_str key, struct hb_str value)
{
    struct form_ctx *fc = ctx;
    if (hb_json_object_add_string(fc->arena, fc->obj, key.ptr, key.len, value.ptr, value.len) < 0)
        fc->is_bad = true;
}

static bool media_type_is(struct hb_str ctype, const char *want)
{
    size_t n = 0;
    while (n < ctype.len && ctype.ptr[n] != ';')
        n++;
    return hb_str_ieq(hb_str_trim_ows((struct hb_str){ctype.ptr, n}), hb_str_from(want));
}

const struct hb_json *hb_app_body_parse_value(struct hb_http_request *req,
                                              struct hb_http_response *res)
{
    struct hb_str ctype = hb_http_request_header(req, "content-type");
    if (req->body.len == 0)
        return hb_json_object_create(req->arena);
    if (ctype.ptr != NULL && media_type_is(ctype, "application/x-www-form-urlencoded")) {
        struct form_ctx fc = {req->arena, hb_json_object_create(req->arena), false};
        hb_http_url_each_param(req->arena, req->body, add_pair, &fc);
        if (!fc.is_bad)
            return fc.obj;
        hb_http_response_detail(res, 400, "不正な形式のリクエストです。");
        return NULL;
    }
    if (ctype.ptr == NULL || !media_type_is(ctype, "application/json")) {
        char *msg = hb_arena_printf(
            req->arena, "リクエストのメディアタイプ \"%.*s\" はサポートされていません。",
            (int)ctype.len, ctype.ptr ? ctype.ptr : "");
        hb_http_response_detail(res, 415, msg);
        return NULL;
    }
    const struct hb_json *doc = NULL;
    struct hb_json_error jerr;
    if (hb_json_parse(req->arena, req->body.ptr, req->body.len, &doc, &jerr) < 0) {
        hb_http_response_detail(res, 400,
                                hb_arena_printf(req->arena, "JSON parse error - %s", jerr.text));
        return NULL;
    }
    return doc;
}

const struct hb_json *hb_app_body_parse(struct hb_http_request *req, struct hb_http_response *res)
{
    const struct hb_json *doc = hb_app_body_parse_value(req, res);
    if (doc == NULL || hb_json_is_object(doc))
        return doc;
    struct hb_app_errors e;
    hb_app_errors_init(&e);
    if (hb_json_is_null(doc))
        hb_app_errors_add(&e, "non_field_errors", "No data provided");
    else
        hb_app_errors_add(&e, "non_field_errors",
                          hb_arena_printf(req->arena,
                                          "不正なデータです。%s 型ではなく辞書を入力してください。",
                                          hb_json_type_name(doc)));
    hb_app_errors_respond(&e, res);
    hb_app_errors_release(&e);
    return NULL;
}

void hb_app_errors_init(struct hb_app_errors *e)
{
    hb_buf_init(&e->json, (size_t)1024 * 1024);
    e->current = NULL;
}

void hb_app_errors_release(struct hb_app_errors *e)
{
    hb_buf_release(&e->json);
}

bool hb_app_errors_any(const struct hb_app_errors *e)
{
    return e->json.len > 0;
}

void hb_app_errors_add(struct hb_app_errors *e, const char *field, const char *message)
{
    if (e->current != NULL && strcmp(e->current, field) == 0) {
        (void)hb_buf_append_char(&e->json, ',');
    } else {
        (void)hb_buf_append_str(&e->json, e->json.len == 0 ? "{" : "],");
        (void)hb_http_json_string(&e->json, field, strlen(field));
        (void)hb_buf_append(&e->json, ":[", 2);
        e->current = field;
    }
    (void)hb_http_json_string(&e->json, message, strlen(message));
}

void hb_app_errors_respond(struct hb_app_errors *e, struct hb_http_response *res)
{
    hb_http_response_json(res, 400, e->json.data, e->json.len);
    (void)hb_buf_append(&res->body, "]}", 2);
}

size_t hb_app_utf8_chars(struct hb_str s)
{
    size_t n = 0;
    for (size_t i = 0; i < s.len; i++)
        n += ((unsigned char)s.ptr[i] & 0xc0) != 0x80;
    return n;
}

/* Length of the whitespace character at s[i..), or 0. */
static size_t space_at(const char *s, size_t len, size_t i)
{
    unsigned char c = (unsigned char)s[i];
    if (c == ' ' || (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x1f))
        return 1;
    if (c == 0xc2 && i + 1 < len &&
        ((unsigned char)s[i + 1] == 0x85 || (unsigned char)s[i + 1] == 0xa0))
        return 2;
    if (i + 2 >= len)
        return 0;
    unsigned char c1 = (unsigned char)s[i + 1], c2 = (unsigned char)s[i + 2];
    if (c == 0xe1 && c1 == 0x9a && c2 == 0x80) /* U+1680 */
        return 3;
    if (c == 0xe2 && c1 == 0x80 && (c2 <= 0x8a || c2 == 0xa8 || c2 == 0xa9 || c2 == 0xaf))
        return 3;                              /* U+2000..U+200A, U+2028, U+2029, U+202F */
    if (c == 0xe2 && c1 == 0x81 && c2 == 0x9f) /* U+205F */
        return 3;
    if (c == 0xe3 && c1 == 0x80 && c2 == 0x80) /* U+3000 */
        return 3;
    return 0;
}

struct hb_str hb_app_trim(struct hb_str s)
{
    size_t n;
    while (s.len > 0 && (n = space_at(s.ptr, s.len, 0)) > 0) {
        s.ptr += n;
        s.len -= n;
    }
    for (;;) {
        /* Look back for a whitespace character that ends exactly at the end. */
        size_t cut = 0;
        for (size_t back = 1; back <= 3 && back <= s.len; back++) {
            size_t k = space_at(s.ptr, s.len, s.len - back);
            if (k == back) {
                cut = back;
                break;
            }
        }
        if (cut == 0)
            break;
        s.len -= cut;
    }
    return s;
}

int hb_app_field_string(struct hb_arena *arena, const struct hb_json *obj, const char *field,
                        const struct hb_app_string_rule *rule, struct hb_app_errors *e,
                        struct hb_str *out)
{
    const struct hb_json *v = hb_json_get(obj, field);
    struct hb_str s;

    if (v == NULL) {
        if (!rule->is_required)
            return 0;
        hb_app_errors_add(e, field, "この項目は必須です。");
        return -1;
    }
    if (hb_json_is_null(v)) {
        hb_app_errors_add(e, field, "この項目はnullにできません。");
        return -1;
    }
    if (hb_json_is_string(v)) {
        s = hb_json_string(v);
    } else if (hb_json_is_number(v)) {
        s = hb_json_number_text(v); /* DRF's str(): 123 becomes "123" */
    } else {
        hb_app_errors_add(e, field, "Not a valid string.");
        return -1;
    }
    if (!rule->keep_whitespace)
        s = hb_app_trim(s);
    if (s.len == 0 && !rule->allow_blank) {
        hb_app_errors_add(e, field, "この項目は空にできません。");
        return -1;
    }
    size_t n = hb_app_utf8_chars(s);
    bool is_bad = false;
    if (rule->max_chars > 0 && n > rule->max_chars) {
        hb_app_errors_add(e, field,
                          hb_arena_printf(arena,
                                          "この項目が%zu文字より長くならないようにしてください。",
                                          rule->max_chars));
        is_bad = true;
    } else if (rule->min_chars > 0 && n < rule->min_chars && s.len > 0) {
        hb_app_errors_add(e, field,
                          hb_arena_printf(arena, "この項目は少なくとも%zu文字以上にしてください。",
                                          rule->min_chars));
        is_bad = true;
    }
    if (memchr(s.ptr, '\0', s.len) != NULL) {
        hb_app_errors_add(e, field, "何か文字を入力してください。");
        is_bad = true;
    }
    if (is_bad)
        return -1;
    *out = (struct hb_str){hb_arena_strndup(arena, s.ptr, s.len), s.len};
    return 1;
}

int hb_app_parse_int_text(struct hb_str text, int64_t *out)
{
    struct hb_str t = hb_app_trim(text);
    bool is_negative = false;
    if (t.len > 0 && (t.ptr[0] == '-' || t.ptr[0] == '+')) {
        is_negative = t.ptr[0] == '-';
        t.ptr++;
        t.len--;
    }
    /* A zero fraction ("3.0") is an integer to DRF. */
    const char *dot = memchr(t.ptr, '.', t.len);
    if (dot != NULL) {
        for (const char *p = dot + 1; p < t.ptr + t.len; p++) {
            if (*p != '0')
                return HB_EINVAL;
        }
        if (dot + 1 == t.ptr + t.len && dot == t.ptr)
            return HB_EINVAL;
        t.len = (size_t)(dot - t.ptr);
    }
    unsigned long long v = 0;
    if (t.len == 0)
        return HB_EINVAL;
    for (size_t i = 0; i < t.len; i++) {
        if (t.ptr[i] < '0' || t.ptr[i] > '9')
            return HB_EINVAL;
        if (v > (unsigned long long)INT64_MAX / 10)
            return HB_ETOOLARGE;
        v = v * 10 + (unsigned long long)(t.ptr[i] - '0');
    }
    if (v > (unsigned long long)INT64_MAX)
        return HB_ETOOLARGE;
    *out = is_negative ? -(int64_t)v : (int64_t)v;
    return 0;
}

int hb_app_parse_int(const struct hb_json *node, int64_t *out)
{
    if (hb_json_is_bool(node) || hb_json_is_null(node))
        return HB_EINVAL;
    if (hb_json_is_number(node) || hb_json_is_string(node)) {
        struct hb_str text =
            hb_json_is_string(node) ? hb_json_string(node) : hb_json_number_text(node);
        if (hb_json_is_real(node)) {
            int64_t v;
            if (!hb_json_whole_int64(node, &v))
                return HB_EINVAL;
            *out = v;
            return 0;
        }
        return hb_app_parse_int_text(text, out);
    }
    return HB_EINVAL;
}

int hb_app_parse_pyint(struct hb_str text, int64_t *out)
{
    struct hb_str t = hb_app_trim(text);
    bool is_negative = false;
    if (t.len > 0 && (t.ptr[0] == '-' || t.ptr[0] == '+')) {
        is_negative = t.ptr[0] == '-';
        t.ptr++;
        t.len--;
    }
    if (t.len == 0)
        return HB_EINVAL;
    uint64_t v = 0;
    bool is_over = false, after_digit = false;
    for (size_t i = 0; i < t.len; i++) {
        char c = t.ptr[i];
        if (c == '_') {
            /* Python allows one underscore between two digits ("1_000"). */
            if (!after_digit || i + 1 == t.len)
                return HB_EINVAL;
            after_digit = false;
            continue;
        }
        if (c < '0' || c > '9')
            return HB_EINVAL;
        after_digit = true;
        if (v > (UINT64_MAX - 9) / 10)
            is_over = true;
        else
            v = v * 10 + (uint64_t)(c - '0');
    }
    if (is_over || v > (uint64_t)INT64_MAX + (is_negative ? 1 : 0)) {
        *out = is_negative ? INT64_MIN : INT64_MAX;
        return HB_ETOOLARGE;
    }
    *out = is_negative ? (int64_t)(0 - v) : (int64_t)v;
    return 0;
}

bool hb_app_body_is_form(const struct hb_http_request *req)
{
    struct hb_str ctype = hb_http_request_header(req, "content-type");
    return req->body.len > 0 && ctype.ptr != NULL &&
           media_type_is(ctype, "application/x-www-form-urlencoded");
}

static bool is_empty_string(const struct hb_json *v)
{
    return hb_json_is_string(v) && hb_json_string(v).len == 0;
}

int hb_app_field_fk(struct hb_arena *arena, const struct hb_json *obj, const char *field,
                    bool is_required, struct hb_app_errors *e, int64_t *id, struct hb_str *text)
{
    const struct hb_json *v = hb_json_get(obj, field);
    int64_t n = 0;

    if (v == NULL) {
        if (!is_required)
            return 0;
        hb_app_errors_add(e, field, "この項目は必須です。");
        return -1;
    }
    /* DRF's RelatedField turns "" into None before validating. */
    if (hb_json_is_null(v) || is_empty_string(v)) {
        hb_app_errors_add(e, field, "この項目はnullにできません。");
        return -1;
    }
    if (hb_json_is_string(v)) {
        *text = hb_json_string(v);
        int err = hb_app_parse_pyint(*text, &n);
        if (err == HB_ETOOLARGE)
            n = 0; /* beyond 64 bits: names no row */
        if (err == HB_EINVAL) {
            hb_app_errors_add(e, field,
                              "不正な型です。str 型ではなく主キーの値を入力してください。");
            return -1;
        }
    } else if (hb_json_is_int(v)) {
        *text = hb_json_number_text(v);
        if (!hb_json_int64(v, &n))
            n = 0; /* beyond 64 bits: names no row */
    } else {
        hb_app_errors_add(
            e, field,
            hb_arena_printf(arena, "不正な型です。%s 型ではなく主キーの値を入力してください。",
                            hb_json_type_name(v)));
        return -1;
    }
    *id = n > 0 ? n : 0;
    return 1;
}

void hb_app_errors_add_fk_missing(struct hb_arena *arena, struct hb_app_errors *e,
                                  const char *field, struct hb_str text)
{
    hb_app_errors_add(e, field,
                      hb_arena_printf(arena, "主キー \"%.*s\" は不正です - データが存在しません。",
                                      (int)text.len, text.ptr));
}

int hb_app_field_datetime(const struct hb_json *obj, const char *field, bool is_form,
                          struct hb_app_errors *e, int64_t *us)
{
    const struct hb_json *v = hb_json_get(obj, field);
    if (v == NULL || (is_form && is_empty_string(v)))
        return 0;
    if (hb_json_is_null(v)) {
        hb_app_errors_add(e, field, "この項目はnullにできません。");
        return -1;
    }
    if (!hb_json_is_string(v) || hb_store_time_parse_input(hb_json_string(v), us) < 0) {
        hb_app_errors_add(e, field,
                          "日時の形式が違います。以下のどれかの形式にしてください: "
                          "YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z]。");
        return -1;
    }
    return 1;
}

int hb_app_field_int(struct hb_arena *arena, const struct hb_json *obj, const char *field,
                     bool is_required, bool is_form, int64_t min, int64_t max,
                     struct hb_app_errors *e, int64_t *out)
{
    const struct hb_json *v = hb_json_get(obj, field);
    int64_t n;

    if (v == NULL || (is_form && !is_required && is_empty_string(v))) {
        if (!is_required)
            return 0;
        hb_app_errors_add(e, field, "この項目は必須です。");
        return -1;
    }
    if (hb_json_is_null(v)) {
        hb_app_errors_add(e, field, "この項目はnullにできません。");
        return -1;
    }
    int err = hb_app_parse_int(v, &n);
    if (err == HB_ETOOLARGE) {
        struct hb_str t =
            hb_app_trim(hb_json_is_string(v) ? hb_json_string(v) : hb_json_number_text(v));
        n = t.len > 0 && t.ptr[0] == '-' ? INT64_MIN : INT64_MAX;
    } else if (err < 0) {
        hb_app_errors_add(e, field, "有効な整数を入力してください。");
        return -1;
    }
    if (n < min) {
        hb_app_errors_add(
            e, field, hb_arena_printf(arena, "この値は%lld以上にしてください。", (long long)min));
        return -1;
    }
    if (n > max) {
        hb_app_errors_add(
            e, field, hb_arena_printf(arena, "この値は%lld以下にしてください。", (long long)max));
        return -1;
    }
    *out = n;
    return 1;
}
