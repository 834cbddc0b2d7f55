/* SPDX-License-Identifier: MIT */
/* Unit tests for response building and serialisation (http layer): the status line, header
 * order, Content-Length rules (HEAD, 204, 304, 1xx), Connection for keep-alive and HTTP/1.0,
 * the security headers every response carries, and JSON string escaping. */
#include <stdio.h>

#include "http/http_response.h"
#include "unit.h"

/* Serialises res and replaces the Date value with "D" so the text is stable. */
static const char *serialise(const struct hb_http_response *res, bool is_head, bool keep_alive,
                             int version_minor)
{
    static char out[2048];
    struct hb_buf buf;
    hb_buf_init(&buf, 1 << 20);
    size_t n = hb_http_response_write(res, &buf, is_head, keep_alive, version_minor);
    const char *date = strstr(buf.data, "\r\nDate: ");
    ASSERT(date != NULL);
    date += 8;
    const char *end = strstr(date, "\r\n");
    ASSERT_EQ_INT(end - date, 29); /* "Tue, 15 Nov 1994 08:12:31 GMT" */
    snprintf(out, sizeof(out), "%.*sD%s", (int)(date - buf.data), buf.data, end);
    ASSERT_EQ_INT(n, is_head ? 0 : (res->static_body.ptr ? res->static_body.len : res->body.len));
    hb_buf_release(&buf);
    return out;
}

#define SECURITY                                                                                   \
    "X-Content-Type-Options: nosniff\r\nX-Frame-Options: DENY\r\n"                                 \
    "Referrer-Policy: same-origin\r\nCross-Origin-Opener-Policy: same-origin\r\n"

HB_TEST(http_response, json_detail_keep_alive)
{
    struct hb_http_response res;
    hb_http_response_init(&res);
    hb_http_response_detail(&res, 404, "見つかりませんでした。");
    hb_http_response_header(&res, "Allow", "GET, HEAD, OPTIONS");
    ASSERT_EQ_STR(serialise(&res, false, true, 1),
                  "HTTP/1.1 404 Not Found\r\nDate: D\r\nContent-Type: application/json\r\n"
                  "Content-Length: 46\r\n" SECURITY "Allow: GET, HEAD, OPTIONS\r\n\r\n"
                  "{\"detail\":\"見つかりませんでした。\"}");
    hb_http_response_release(&res);
}

HB_TEST(http_response, head_close_and_http10)
{
    static const char hello[] = "{\"message\":\"Hello, World!\"}";
    struct hb_http_response res;
    hb_http_response_init(&res);
    res.content_type = "application/json";
    res.static_body = (struct hb_str){hello, sizeof(hello) - 1};
    /* HEAD: GET's length, no body. */
    ASSERT_EQ_STR(serialise(&res, true, true, 1),
                  "HTTP/1.1 200 OK\r\nDate: D\r\nContent-Type: application/json\r\n"
                  "Content-Length: 27\r\n" SECURITY "\r\n");
    ASSERT(strstr(serialise(&res, false, false, 1), "Connection: close\r\n\r\n{\"message\"") !=
           NULL);
    ASSERT(strstr(serialise(&res, false, true, 0), "Connection: keep-alive\r\n\r\n") != NULL);
    ASSERT(strstr(serialise(&res, false, true, 1), "Connection") == NULL);
    hb_http_response_release(&res);
}

HB_TEST(http_response, no_length_for_204_304_1xx)
{
    struct hb_http_response res;
    hb_http_response_init(&res);
    res.status = 204;
    ASSERT_EQ_STR(serialise(&res, false, true, 1),
                  "HTTP/1.1 204 No Content\r\nDate: D\r\n" SECURITY "\r\n");
    hb_http_response_reset(&res);
    res.status = 304;
    hb_http_response_header(&res, "ETag", "\"x\"");
    ASSERT_EQ_STR(serialise(&res, false, true, 1),
                  "HTTP/1.1 304 Not Modified\r\nDate: D\r\n" SECURITY "ETag: \"x\"\r\n\r\n");
    hb_http_response_reset(&res);
    ASSERT_EQ_INT(res.status, 200);
    ASSERT(res.content_type == NULL && res.headers.len == 0 && res.body.len == 0);
    res.content_type = "text/html; charset=utf-8";
    res.status = 301;
    ASSERT_EQ_STR(serialise(&res, false, true, 1),
                  "HTTP/1.1 301 Moved Permanently\r\nDate: D\r\nContent-Type: text/html; "
                  "charset=utf-8\r\nContent-Length: 0\r\n" SECURITY "\r\n");
    hb_http_response_release(&res);
}

HB_TEST(http_response, status_texts)
{
    static const int codes[] = {200, 201, 204, 301, 304, 400, 401, 403, 404,
                                405, 408, 413, 414, 415, 429, 431, 500, 503};
    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
        ASSERT(strcmp(hb_http_status_text(codes[i]), "Unknown") != 0);
    ASSERT_EQ_STR(hb_http_status_text(431), "Request Header Fields Too Large");
    ASSERT_EQ_STR(hb_http_status_text(299), "Unknown");
}

HB_TEST(http_response, json_string_escaping)
{
    struct hb_buf buf;
    hb_buf_init(&buf, 1024);
    static const char in[] = "a\"b\\c\n\r\t\x01\x1f\x7f/あ";
    ASSERT_EQ_INT(hb_http_json_string(&buf, in, sizeof(in) - 1), 0);
    ASSERT_EQ_STR(buf.data, "\"a\\\"b\\\\c\\n\\r\\t\\u0001\\u001f\x7f/あ\"");
    hb_buf_reset(&buf);
    ASSERT_EQ_INT(hb_http_json_string(&buf, "x\0y", 3), 0);
    ASSERT_EQ_STR(buf.data, "\"x\\u0000y\"");
    struct hb_buf tiny;
    hb_buf_init(&tiny, 4);
    ASSERT(hb_http_json_string(&tiny, "abcdef", 6) < 0); /* the cap is reported */
    hb_buf_release(&tiny);
    hb_buf_release(&buf);
}

HB_TEST(http_response, date_is_imf_fixdate)
{
    const char *d = hb_http_date_now();
    ASSERT_EQ_INT(strlen(d), 29);
    ASSERT(strcmp(d + 25, " GMT") == 0 && d[3] == ',' && d[4] == ' ');
}
