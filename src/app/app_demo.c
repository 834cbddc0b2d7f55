/* SPDX-License-Identifier: MIT */
/* Demo endpoints (app layer, API.md §7.6): the seed's hello world and a timer-based slow
 * endpoint that shows waiting never blocks a loop. */
#include "app/app.h"
#include "core/err.h"
#include "http/http_url.h"

static const char hello[] = "{\"message\":\"Hello, World!\"}";

int hb_app_hello(struct hb_http_request *req, struct hb_http_response *res)
{
    (void)req;
    _Static_assert(sizeof(hello) - 1 == 27, "the hello body is exactly 27 bytes");
    res->content_type = "application/json";
    res->static_body = (struct hb_str){hello, sizeof(hello) - 1};
    return 0;
}

static int slow_done(struct hb_http_request *req, struct hb_http_response *res)
{
    res->content_type = "application/json";
    (void)hb_buf_printf(&res->body, "{\"message\":\"Hello, World!\",\"slept_ms\":%s}",
                        (const char *)req->user);
    return 0;
}

int hb_app_slow(struct hb_http_request *req, struct hb_http_response *res)
{
    struct hb_str ms;
    if (!hb_http_url_param(req->arena, req->query, "ms", &ms)) {
        hb_app_field_error(res, "ms", "この項目は必須です。");
        return 0;
    }
    /* DRF's IntegerField: optional sign, digits, surrounding spaces trimmed. */
    struct hb_str t = hb_str_trim_ows(ms);
    bool is_negative = t.len > 0 && t.ptr[0] == '-';
    if (t.len > 0 && (t.ptr[0] == '-' || t.ptr[0] == '+')) {
        t.ptr++;
        t.len--;
    }
    unsigned long long v;
    if (t.len > 12 || hb_str_to_u64(t, &v) < 0) {
        hb_app_field_error(res, "ms", "有効な整数を入力してください。");
        return 0;
    }
    if (is_negative && v > 0) {
        hb_app_field_error(res, "ms", "この値は0以上にしてください。");
        return 0;
    }
    if (v > 10000) {
        hb_app_field_error(res, "ms", "この値は10000以下にしてください。");
        return 0;
    }
    req->user = hb_arena_printf(req->arena, "%llu", v);
    hb_http_server_sleep(req, v, slow_done);
    return HB_EAGAIN;
}

void hb_app_field_error(struct hb_http_response *res, const char *field, const char *message)
{
    res->status = 400;
    res->content_type = "application/json";
    hb_buf_reset(&res->body);
    (void)hb_buf_append_char(&res->body, '{');
    (void)hb_http_json_string(&res->body, field, strlen(field));
    (void)hb_buf_append(&res->body, ":[", 2);
    (void)hb_http_json_string(&res->body, message, strlen(message));
    (void)hb_buf_append(&res->body, "]}", 2);
}
