/* SPDX-License-Identifier: MIT */
/* Response building and serialisation (http layer). The whole response is appended to the
 * connection's output buffer so a read batch of pipelined requests leaves in one write. */
#include "http/http_response.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "json/json.h"

#define HEADERS_MAX ((size_t)64 * 1024)
#define BODY_MAX    ((size_t)256 * 1024 * 1024)

void hb_http_response_init(struct hb_http_response *res)
{
    memset(res, 0, sizeof(*res));
    hb_buf_init(&res->headers, HEADERS_MAX);
    hb_buf_init(&res->body, BODY_MAX);
    res->status = 200;
}

void hb_http_response_release(struct hb_http_response *res)
{
    hb_buf_release(&res->headers);
    hb_buf_release(&res->body);
}

void hb_http_response_reset(struct hb_http_response *res)
{
    hb_buf_reset(&res->headers);
    hb_buf_reset(&res->body);
    res->status = 200;
    res->content_type = NULL;
    res->static_body = HB_STR_NULL;
    res->close = false;
}

void hb_http_response_header(struct hb_http_response *res, const char *name, const char *value)
{
    (void)hb_buf_append_str(&res->headers, name);
    (void)hb_buf_append(&res->headers, ": ", 2);
    (void)hb_buf_append_str(&res->headers, value);
    (void)hb_buf_append(&res->headers, "\r\n", 2);
}

void hb_http_response_json(struct hb_http_response *res, int status, const char *json, size_t len)
{
    res->status = status;
    res->content_type = "application/json";
    res->static_body = HB_STR_NULL;
    hb_buf_reset(&res->body);
    (void)hb_buf_append(&res->body, json, len);
}

int hb_http_json_string(struct hb_buf *buf, const char *s, size_t len)
{
    /* One JSON escaper in the tree: the json layer's writer. */
    struct hb_json_writer w;
    hb_json_writer_init(&w, buf);
    hb_json_write_string(&w, s, len);
    return hb_json_writer_finish(&w);
}

void hb_http_response_detail(struct hb_http_response *res, int status, const char *detail)
{
    res->status = status;
    res->content_type = "application/json";
    res->static_body = HB_STR_NULL;
    hb_buf_reset(&res->body);
    (void)hb_buf_append(&res->body, "{\"detail\":", 10);
    (void)hb_http_json_string(&res->body, detail, strlen(detail));
    (void)hb_buf_append_char(&res->body, '}');
}

const char *hb_http_status_text(int status)
{
    switch (status) {
    case 100:
        return "Continue";
    case 101:
        return "Switching Protocols";
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 204:
        return "No Content";
    case 301:
        return "Moved Permanently";
    case 304:
        return "Not Modified";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 409:
        return "Conflict";
    case 413:
        return "Content Too Large";
    case 414:
        return "URI Too Long";
    case 415:
        return "Unsupported Media Type";
    case 426:
        return "Upgrade Required";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 503:
        return "Service Unavailable";
    default:
        return "Unknown";
    }
}

const char *hb_http_date_now(void)
{
    static _Thread_local time_t cached_sec;
    static _Thread_local char cached[40];
    time_t now = time(NULL);
    if (now != cached_sec) {
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(cached, sizeof(cached), "%a, %d %b %Y %H:%M:%S GMT", &tm);
        cached_sec = now;
    }
    return cached;
}

/* Every response carries Django's default security headers (API.md §2.3). */
static const char security_headers[] = "X-Content-Type-Options: nosniff\r\n"
                                       "X-Frame-Options: DENY\r\n"
                                       "Referrer-Policy: same-origin\r\n"
                                       "Cross-Origin-Opener-Policy: same-origin\r\n";

size_t hb_http_response_write(const struct hb_http_response *res, struct hb_buf *out, bool is_head,
                              bool keep_alive, int version_minor)
{
    struct hb_str body = res->static_body.ptr != NULL
                             ? res->static_body
                             : (struct hb_str){res->body.data, res->body.len};
    bool has_length = res->status >= 200 && res->status != 204 && res->status != 304;

    (void)hb_buf_reserve(out, 256 + sizeof(security_headers) + res->headers.len +
                                  (is_head ? 0 : body.len));
    (void)hb_buf_append(out, "HTTP/1.1 ", 9);
    (void)hb_buf_append_u64(out, (unsigned)res->status);
    (void)hb_buf_append_char(out, ' ');
    (void)hb_buf_append_str(out, hb_http_status_text(res->status));
    (void)hb_buf_append(out, "\r\nDate: ", 8);
    (void)hb_buf_append_str(out, hb_http_date_now());
    (void)hb_buf_append(out, "\r\n", 2);
    if (res->content_type != NULL) {
        (void)hb_buf_append(out, "Content-Type: ", 14);
        (void)hb_buf_append_str(out, res->content_type);
        (void)hb_buf_append(out, "\r\n", 2);
    }
    if (has_length) {
        (void)hb_buf_append(out, "Content-Length: ", 16);
        (void)hb_buf_append_u64(out, body.len);
        (void)hb_buf_append(out, "\r\n", 2);
    }
    (void)hb_buf_append(out, security_headers, sizeof(security_headers) - 1);
    (void)hb_buf_append(out, res->headers.data ? res->headers.data : "", res->headers.len);
    if (!keep_alive)
        (void)hb_buf_append(out, "Connection: close\r\n", 19);
    else if (version_minor == 0)
        (void)hb_buf_append(out, "Connection: keep-alive\r\n", 24);
    (void)hb_buf_append(out, "\r\n", 2);
    if (is_head || !has_length)
        return 0;
    (void)hb_buf_append(out, body.ptr, body.len);
    return body.len;
}
