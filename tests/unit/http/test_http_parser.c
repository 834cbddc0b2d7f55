/* SPDX-License-Identifier: MIT */
/* Unit tests for the sans-I/O request parser (http layer): whole requests, byte-at-a-time and
 * odd chunk sizes, pipelining, chunked bodies, every limit (431, 414, 413) and every framing
 * refusal (RFC 9112 §2.2, §5, §6). The feeding loop mirrors http_server.c: one growing buffer,
 * execute from the parsed offset, fill/next on completion, then drop finished bytes and shift. */
#include <stdio.h>

#include "core/buf.h"
#include "core/err.h"
#include "http/http_parser.h"
#include "unit.h"

#define MAX_REQS 16

struct got {
    int n;                     /* completed requests */
    char reqs[MAX_REQS][1024]; /* "METHOD target 1.x ka|name=value|...|body=..." */
    int error_status;          /* 0, or the status of the refusal */
    bool saw_continue;         /* expect_continue was set after the head of a request */
};

static const struct hb_http_limits default_limits = {
    .max_head_len = 16 * 1024,
    .max_target_len = 8 * 1024,
    .max_headers = 100,
    .max_body_len = 1024 * 1024,
};

static void describe(const struct hb_http_request *req, char *out, size_t out_len)
{
    int n = snprintf(out, out_len, "%.*s %.*s 1.%d %s", (int)req->method_name.len,
                     req->method_name.ptr, (int)req->target.len, req->target.ptr,
                     req->version_minor, req->keep_alive ? "ka" : "close");
    for (int i = 0; i < req->n_headers && n > 0 && (size_t)n < out_len; i++)
        n += snprintf(out + n, out_len - (size_t)n, "|%.*s=%.*s", (int)req->headers[i].name.len,
                      req->headers[i].name.ptr, (int)req->headers[i].value.len,
                      req->headers[i].value.ptr);
    if (req->body.len > 0 && n > 0 && (size_t)n < out_len)
        snprintf(out + n, out_len - (size_t)n, "|body=%.*s", (int)req->body.len, req->body.ptr);
}

/* Feeds in[0..len) in pieces of chunk bytes (0: all at once) through parser limits. */
static void feed(const char *in, size_t len, size_t chunk, const struct hb_http_limits *limits,
                 struct got *got)
{
    struct hb_http_parser p;
    struct hb_buf buf;
    size_t parsed = 0;

    memset(got, 0, sizeof(*got));
    hb_http_parser_init(&p, limits);
    hb_buf_init(&buf, 64u * 1024 * 1024);
    if (chunk == 0)
        chunk = len;
    for (size_t at = 0; at < len && got->error_status == 0;) {
        size_t n = len - at < chunk ? len - at : chunk;
        ASSERT_EQ_INT(hb_buf_append(&buf, in + at, n), 0);
        at += n;
        while (parsed < buf.len) {
            int used = hb_http_parser_execute(&p, buf.data, parsed, buf.len);
            if (used < 0) {
                ASSERT_EQ_INT(used, HB_EPROTO);
                got->error_status = p.error_status;
                ASSERT(p.error_reason != NULL);
                break;
            }
            parsed += (size_t)used;
            if (!p.is_complete) {
                ASSERT_EQ_INT(parsed, buf.len); /* all consumed unless a request completed */
                if (p.headers_complete && p.expect_continue)
                    got->saw_continue = true;
                break;
            }
            struct hb_http_request req;
            memset(&req, 0, sizeof(req));
            hb_http_parser_fill(&p, buf.data, &req);
            ASSERT(got->n < MAX_REQS);
            describe(&req, got->reqs[got->n], sizeof(got->reqs[0]));
            got->n++;
            hb_http_parser_next(&p, parsed);
        }
        /* Drop the finished requests' bytes, as the server does between reads. */
        size_t start = hb_http_parser_request_start(&p);
        if (start > 0 && got->error_status == 0) {
            hb_buf_consume(&buf, start);
            parsed -= start;
            hb_http_parser_shift(&p, start);
        }
    }
    hb_buf_release(&buf);
    hb_http_parser_release(&p);
}

/* Feeds s whole, byte by byte and in several odd chunk sizes; every way must agree. */
static void feed_all_ways(const char *s, size_t len, const struct hb_http_limits *limits,
                          struct got *got)
{
    static const size_t chunks[] = {1, 2, 3, 7, 13, 64, 1000};
    feed(s, len, 0, limits, got);
    for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
        struct got other;
        feed(s, len, chunks[i], limits, &other);
        if (other.n != got->n || other.error_status != got->error_status)
            HB_FAIL_("chunk %zu: %d requests, status %d; whole: %d requests, status %d", chunks[i],
                     other.n, other.error_status, got->n, got->error_status);
        for (int k = 0; k < got->n; k++)
            ASSERT_EQ_STR(other.reqs[k], got->reqs[k]);
    }
}

#define FEED(lit, got) feed_all_ways((lit), sizeof(lit) - 1, &default_limits, (got))

/* Expects the input, fed every way, to be refused with status after n_ok requests. */
static void expect_refused(const char *s, size_t len, int status, int n_ok)
{
    struct got got;
    feed_all_ways(s, len, &default_limits, &got);
    if (got.error_status != status || got.n != n_ok)
        HB_FAIL_("\"%.*s\": status %d after %d requests, want %d after %d",
                 (int)(len < 80 ? len : 80), s, got.error_status, got.n, status, n_ok);
}

#define REFUSED(lit, status) expect_refused((lit), sizeof(lit) - 1, (status), 0)

HB_TEST(http_parser, whole_request)
{
    struct got got;
    FEED("GET /hello/?a=1&b=2 HTTP/1.1\r\n"
         "Host: example.com\r\n"
         "User-Agent:  curl/8 \t\r\n"
         "Accept: */*\r\n"
         "\r\n",
         &got);
    ASSERT_EQ_INT(got.error_status, 0);
    ASSERT_EQ_INT(got.n, 1);
    ASSERT_EQ_STR(got.reqs[0], "GET /hello/?a=1&b=2 1.1 ka|Host=example.com|User-Agent=curl/8"
                               "|Accept=*/*");
}

HB_TEST(http_parser, request_fields)
{
    static const char in[] = "DELETE /api/x/?q=%20 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n";
    struct hb_http_parser p;
    struct hb_http_request req;
    hb_http_parser_init(&p, &default_limits);
    ASSERT_EQ_INT(hb_http_parser_execute(&p, in, 0, sizeof(in) - 1), (int)sizeof(in) - 1);
    ASSERT(p.is_complete);
    memset(&req, 0, sizeof(req));
    hb_http_parser_fill(&p, in, &req);
    ASSERT_EQ_INT(req.method, HB_HTTP_DELETE);
    ASSERT_EQ_MEM(req.method_name.ptr, req.method_name.len, "DELETE");
    ASSERT_EQ_MEM(req.path.ptr, req.path.len, "/api/x/");
    ASSERT_EQ_MEM(req.query.ptr, req.query.len, "q=%20");
    ASSERT_EQ_INT(req.version_minor, 0);
    ASSERT(req.keep_alive);
    ASSERT_EQ_INT(req.body.len, 0);
    ASSERT_EQ_MEM(hb_http_request_header(&req, "CONNECTION").ptr,
                  hb_http_request_header(&req, "connection").len, "keep-alive");
    ASSERT(hb_http_request_header(&req, "host").ptr == NULL);
    hb_http_parser_release(&p);
}

HB_TEST(http_parser, http10_closes_by_default_and_options_star)
{
    struct got got;
    FEED("GET / HTTP/1.0\r\n\r\n", &got);
    ASSERT_EQ_INT(got.n, 1);
    ASSERT_EQ_STR(got.reqs[0], "GET / 1.0 close");
    FEED("OPTIONS * HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", &got);
    ASSERT_EQ_INT(got.n, 1);
    ASSERT_EQ_STR(got.reqs[0], "OPTIONS * 1.1 close|Host=a|Connection=close");
}

HB_TEST(http_parser, empty_lines_before_request_line)
{
    struct got got;
    FEED("\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", &got);
    ASSERT_EQ_INT(got.error_status, 0);
    ASSERT_EQ_INT(got.n, 1);
    ASSERT_EQ_STR(got.reqs[0], "GET / 1.1 ka|Host=a");
}

HB_TEST(http_parser, empty_header_value)
{
    struct got got;
    FEED("GET / HTTP/1.1\r\nHost: a\r\nX-Empty:\r\nX-Spaces:   \r\nX-After: b\r\n\r\n", &got);
    ASSERT_EQ_INT(got.error_status, 0);
    ASSERT_EQ_STR(got.reqs[0], "GET / 1.1 ka|Host=a|X-Empty=|X-Spaces=|X-After=b");
}

HB_TEST(http_parser, body_content_length)
{
    struct got got;
    FEED("POST /api/topics/ HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\nhello world", &got);
    ASSERT_EQ_INT(got.error_status, 0);
    ASSERT_EQ_INT(got.n, 1);
    ASSERT_EQ_STR(got.reqs[0],
                  "POST /api/topics/ 1.1 ka|Host=a|Content-Length=11|body=hello world");
}

HB_TEST(http_parser, body_chunked)
{
    struct got got;
    FEED("POST /x/ HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
         "5\r\nhello\r\n"
         "6;ext=1\r\n world\r\n"
         "0\r\n"
         "X-Trailer: t\r\n"
         "\r\n"
         "GET /next/ HTTP/1.1\r\nHost: a\r\n\r\n",
         &got);
    ASSERT_EQ_INT(got.error_status, 0);
    ASSERT_EQ_INT(got.n, 2);
    ASSERT_EQ_STR(got.reqs[0], "POST /x/ 1.1 ka|Host=a|Transfer-Encoding=chunked|body=hello world");
    ASSERT_EQ_STR(got.reqs[1], "GET /next/ 1.1 ka|Host=a");
}

HB_TEST(http_parser, chunked_malformed)
{
    REFUSED(
        "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
        400);
    REFUSED("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n",
            400);
}

HB_TEST(http_parser, pipelined_in_one_buffer)
{
    struct got got;
    FEED("GET /1/ HTTP/1.1\r\nHost: a\r\n\r\n"
         "POST /2/ HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc"
         "GET /3/ HTTP/1.1\r\nHost: a\r\n\r\n"
         "POST /4/ HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nz\r\n0\r\n\r\n"
         "HEAD /5/ HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
         &got);
    ASSERT_EQ_INT(got.error_status, 0);
    ASSERT_EQ_INT(got.n, 5);
    ASSERT_EQ_STR(got.reqs[0], "GET /1/ 1.1 ka|Host=a");
    ASSERT_EQ_STR(got.reqs[1], "POST /2/ 1.1 ka|Host=a|Content-Length=3|body=abc");
    ASSERT_EQ_STR(got.reqs[2], "GET /3/ 1.1 ka|Host=a");
    ASSERT_EQ_STR(got.reqs[3], "POST /4/ 1.1 ka|Host=a|Transfer-Encoding=chunked|body=z");
    ASSERT_EQ_STR(got.reqs[4], "HEAD /5/ 1.1 close|Host=a|Connection=close");
}

HB_TEST(http_parser, pipelined_after_upgrade_request)
{
    /* An Upgrade request the server answers as plain HTTP must not stall what follows it. */
    struct got got;
    FEED("GET /1/ HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"
         "GET /2/ HTTP/1.1\r\nHost: a\r\n\r\n",
         &got);
    ASSERT_EQ_INT(got.error_status, 0);
    ASSERT_EQ_INT(got.n, 2);
    ASSERT_EQ_STR(got.reqs[1], "GET /2/ 1.1 ka|Host=a");
}

HB_TEST(http_parser, bad_request_after_good_one)
{
    expect_refused(
        "GET /1/ HTTP/1.1\r\nHost: a\r\n\r\nGET /2/ HTTP/1.1\nHost: a\r\n\r\n",
        sizeof("GET /1/ HTTP/1.1\r\nHost: a\r\n\r\nGET /2/ HTTP/1.1\nHost: a\r\n\r\n") - 1, 400, 1);
}

HB_TEST(http_parser, expect_continue)
{
    struct got got;
    FEED("POST /x/ HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhi",
         &got);
    ASSERT_EQ_INT(got.n, 1);
    /* Seen only when the head arrived before the body (not when fed whole). */
    struct got split;
    static const char head[] =
        "POST /x/ HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhi";
    feed(head, sizeof(head) - 1, sizeof(head) - 3, &default_limits, &split);
    ASSERT(split.saw_continue);
    ASSERT_EQ_INT(split.n, 1);
    /* No body, or HTTP/1.0: no 100 Continue. */
    static const char nobody[] = "GET /x/ HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n\r\n";
    feed(nobody, sizeof(nobody) - 1, 1, &default_limits, &split);
    ASSERT(!split.saw_continue);
    REFUSED("POST /x/ HTTP/1.1\r\nHost: a\r\nExpect: something\r\nContent-Length: 2\r\n\r\nhi",
            400);
}

/* ---- limits ---- */

static char *repeat(char *out, const char *prefix, char c, size_t n, const char *suffix)
{
    size_t pl = strlen(prefix), sl = strlen(suffix);
    memcpy(out, prefix, pl);
    memset(out + pl, c, n);
    memcpy(out + pl + n, suffix, sl + 1);
    return out;
}

HB_TEST(http_parser, head_over_16k_is_431)
{
    static char in[40000];
    /* The whole head in one piece (the end of the head arrives with the excess). */
    repeat(in, "GET / HTTP/1.1\r\nHost: a\r\nX-Big: ", 'x', 17000, "\r\n\r\n");
    expect_refused(in, strlen(in), 431, 0);
    /* Never-ending header. */
    repeat(in, "GET / HTTP/1.1\r\nHost: a\r\nX-Big: ", 'x', 30000, "");
    expect_refused(in, strlen(in), 431, 0);
    /* Just under the limit passes: 16384 bytes of head including the blank line. */
    size_t fixed = strlen("GET / HTTP/1.1\r\nHost: a\r\nX-Big: \r\n\r\n");
    repeat(in, "GET / HTTP/1.1\r\nHost: a\r\nX-Big: ", 'x', 16384 - fixed, "\r\n\r\n");
    ASSERT_EQ_INT(strlen(in), 16384);
    struct got got;
    feed_all_ways(in, strlen(in), &default_limits, &got);
    ASSERT_EQ_INT(got.error_status, 0);
    ASSERT_EQ_INT(got.n, 1);
    repeat(in, "GET / HTTP/1.1\r\nHost: a\r\nX-Big: ", 'x', 16385 - fixed, "\r\n\r\n");
    expect_refused(in, strlen(in), 431, 0);
}

HB_TEST(http_parser, head_limit_counts_each_request_of_a_pipeline)
{
    /* Two 10 KiB heads back to back are fine: the limit is per request. */
    static char in[40000];
    static char one[12000];
    repeat(one, "GET / HTTP/1.1\r\nHost: a\r\nX-Big: ", 'x', 10000, "\r\n\r\n");
    snprintf(in, sizeof(in), "%s%s", one, one);
    struct got got;
    feed_all_ways(in, strlen(in), &default_limits, &got);
    ASSERT_EQ_INT(got.error_status, 0);
    ASSERT_EQ_INT(got.n, 2);
}

HB_TEST(http_parser, more_than_100_fields_is_431)
{
    static char in[8000];
    size_t n = (size_t)snprintf(in, sizeof(in), "GET / HTTP/1.1\r\nHost: a\r\n");
    for (int i = 1; i < 100; i++)
        n += (size_t)snprintf(in + n, sizeof(in) - n, "X-%d: v\r\n", i);
    snprintf(in + n, sizeof(in) - n, "\r\n");
    struct got got;
    feed_all_ways(in, strlen(in), &default_limits, &got); /* exactly 100 */
    ASSERT_EQ_INT(got.error_status, 0);
    ASSERT_EQ_INT(got.n, 1);
    snprintf(in + n, sizeof(in) - n, "X-101: v\r\n\r\n");
    expect_refused(in, strlen(in), 431, 0);
}

HB_TEST(http_parser, target_over_8k_is_414)
{
    static char in[20000];
    repeat(in, "GET /", 'a', 8191, " HTTP/1.1\r\nHost: a\r\n\r\n"); /* 8192 bytes: fine */
    struct got got;
    feed_all_ways(in, strlen(in), &default_limits, &got);
    ASSERT_EQ_INT(got.error_status, 0);
    ASSERT_EQ_INT(got.n, 1);
    repeat(in, "GET /", 'a', 8192, " HTTP/1.1\r\nHost: a\r\n\r\n");
    expect_refused(in, strlen(in), 414, 0);
    /* A target beyond both limits is still a 414, whatever the head size. */
    repeat(in, "GET /", 'a', 17000, " HTTP/1.1\r\nHost: a\r\n\r\n");
    expect_refused(in, strlen(in), 414, 0);
}

HB_TEST(http_parser, body_declared_too_large_is_413)
{
    REFUSED("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1048577\r\n\r\n", 413);
    REFUSED("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999\r\n\r\n", 413);
    /* Exactly the limit is accepted. */
    static char in[1100000];
    repeat(in, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1048576\r\n\r\n", 'b', 1048576, "");
    struct got got;
    feed(in, strlen(in), 0, &default_limits, &got);
    ASSERT_EQ_INT(got.error_status, 0);
    ASSERT_EQ_INT(got.n, 1);
    feed(in, strlen(in), 4096, &default_limits, &got);
    ASSERT_EQ_INT(got.error_status, 0);
    ASSERT_EQ_INT(got.n, 1);
}

HB_TEST(http_parser, body_chunked_too_large_is_413)
{
    struct hb_http_limits small = default_limits;
    small.max_body_len = 10;
    static const char ok[] =
        "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n12345\r\n"
        "5\r\n67890\r\n0\r\n\r\n";
    struct got got;
    feed_all_ways(ok, sizeof(ok) - 1, &small, &got);
    ASSERT_EQ_INT(got.error_status, 0);
    ASSERT_EQ_INT(got.n, 1);
    static const char big[] =
        "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n12345\r\n"
        "6\r\n678901\r\n0\r\n\r\n";
    feed_all_ways(big, sizeof(big) - 1, &small, &got);
    ASSERT_EQ_INT(got.error_status, 413);
    /* Default limits: one chunk declared larger than the whole limit. */
    REFUSED("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
            "100001\r\n",
            413);
}

/* ---- framing (RFC 9112 §6.3) ---- */

HB_TEST(http_parser, content_length_and_transfer_encoding_is_400)
{
    REFUSED("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"
            "0\r\n\r\n",
            400);
    REFUSED("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n"
            "0\r\n\r\n",
            400);
}

HB_TEST(http_parser, bad_content_length_is_400)
{
    REFUSED("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
            400);
    REFUSED("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc", 400);
    REFUSED("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 3\r\n\r\nabc", 400);
    REFUSED("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: abc\r\n\r\n", 400);
    REFUSED("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", 400);
    REFUSED("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +3\r\n\r\nabc", 400);
    REFUSED("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1 2\r\n\r\nabc", 400);
    REFUSED("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x10\r\n\r\n", 400);
}

HB_TEST(http_parser, transfer_encoding_other_than_chunked_is_400)
{
    REFUSED("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", 400);
    REFUSED("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 400);
    REFUSED("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n",
            400);
    REFUSED("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
            "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            400);
    REFUSED("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity\r\n\r\n", 400);
    /* HTTP/1.0 has no chunked coding (RFC 9112 §6.1). */
    REFUSED("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400);
}

HB_TEST(http_parser, transfer_encoding_is_case_insensitive)
{
    struct got got;
    FEED("POST / HTTP/1.1\r\nHost: a\r\ntransfer-encoding:  Chunked \r\n\r\n1\r\nx\r\n0\r\n\r\n",
         &got);
    ASSERT_EQ_INT(got.error_status, 0);
    ASSERT_EQ_INT(got.n, 1);
}

HB_TEST(http_parser, bare_cr_is_400)
{
    REFUSED("GET / HTTP/1.1\rHost: a\r\n\r\n", 400);
    REFUSED("GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n", 400);
    REFUSED("GET / HTTP/1.1\r\nHost: a\r\n\r\r\n", 400);
    REFUSED("GET /\r HTTP/1.1\r\nHost: a\r\n\r\n", 400);
}

HB_TEST(http_parser, bare_lf_is_400)
{
    REFUSED("GET / HTTP/1.1\nHost: a\r\n\r\n", 400);
    REFUSED("GET / HTTP/1.1\r\nHost: a\n\r\n", 400);
    REFUSED("GET / HTTP/1.1\r\nHost: a\r\n\n", 400);
    REFUSED("\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", 400);
}

HB_TEST(http_parser, obs_fold_is_400)
{
    REFUSED("GET / HTTP/1.1\r\nHost: a\r\nX-Folded: one\r\n two\r\n\r\n", 400);
    REFUSED("GET / HTTP/1.1\r\nHost: a\r\nX-Folded: one\r\n\ttwo\r\n\r\n", 400);
    /* Whitespace before the first header or the request line. */
    REFUSED("GET / HTTP/1.1\r\n Host: a\r\n\r\n", 400);
    REFUSED(" GET / HTTP/1.1\r\nHost: a\r\n\r\n", 400);
}

HB_TEST(http_parser, control_bytes_in_head_are_400)
{
    expect_refused("GET / HTTP/1.1\r\nHost: a\r\nX-A: a\0b\r\n\r\n",
                   sizeof("GET / HTTP/1.1\r\nHost: a\r\nX-A: a\0b\r\n\r\n") - 1, 400, 0);
    expect_refused("GET / HTTP/1.1\r\nHost: a\r\nX-\0A: ab\r\n\r\n",
                   sizeof("GET / HTTP/1.1\r\nHost: a\r\nX-\0A: ab\r\n\r\n") - 1, 400, 0);
    expect_refused("GET /\0 HTTP/1.1\r\nHost: a\r\n\r\n",
                   sizeof("GET /\0 HTTP/1.1\r\nHost: a\r\n\r\n") - 1, 400, 0);
    REFUSED("GET / HTTP/1.1\r\nHost: a\r\nX-A: a\x01"
            "b\r\n\r\n",
            400);
    REFUSED("GET / HTTP/1.1\r\nHost: a\r\nX-A: a\x7f"
            "b\r\n\r\n",
            400);
    REFUSED("GET / HTTP/1.1\r\nHost: a\r\nX\x1b"
            "A: ab\r\n\r\n",
            400);
    /* A tab inside a value and obs-text (bytes >= 0x80) are allowed. */
    struct got got;
    FEED("GET / HTTP/1.1\r\nHost: a\r\nX-A: a\tb \xe3\x81\x82\r\n\r\n", &got);
    ASSERT_EQ_INT(got.error_status, 0);
    ASSERT_EQ_STR(got.reqs[0], "GET / 1.1 ka|Host=a|X-A=a\tb \xe3\x81\x82");
}

HB_TEST(http_parser, malformed_names_and_lines_are_400)
{
    REFUSED("GET / HTTP/1.1\r\nHost: a\r\nX A: b\r\n\r\n", 400);
    REFUSED("GET / HTTP/1.1\r\nHost: a\r\nX-A : b\r\n\r\n", 400);
    REFUSED("GET / HTTP/1.1\r\nHost: a\r\n: b\r\n\r\n", 400);
    REFUSED("GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n", 400);
    REFUSED("GET / HTTP/1.1\r\nHost: a\r\nX-\xe3: b\r\n\r\n", 400);
    REFUSED("GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    REFUSED("GET / HTTP/1.1 \r\nHost: a\r\n\r\n", 400);
    REFUSED("GET / HTTP/1.x\r\nHost: a\r\n\r\n", 400);
    REFUSED("GET / XTTP/1.1\r\nHost: a\r\n\r\n", 400);
    REFUSED("G@T / HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    REFUSED("GET / HTTP/2.0\r\nHost: a\r\n\r\n", 400);
    REFUSED("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 400);
    REFUSED("GET /a b HTTP/1.1\r\nHost: a\r\n\r\n", 400);
}

HB_TEST(http_parser, host_rules)
{
    REFUSED("GET / HTTP/1.1\r\n\r\n", 400);
    REFUSED("GET / HTTP/1.1\r\nX-A: b\r\n\r\n", 400);
    REFUSED("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400);
    REFUSED("GET / HTTP/1.0\r\nHost: a\r\nhost: a\r\n\r\n", 400);
    struct got got;
    FEED("GET / HTTP/1.0\r\n\r\n", &got); /* HTTP/1.0 needs no Host */
    ASSERT_EQ_INT(got.error_status, 0);
    FEED("GET / HTTP/1.1\r\nHost:\r\n\r\n", &got); /* empty Host is allowed (RFC 9112 §3.2) */
    ASSERT_EQ_INT(got.error_status, 0);
    ASSERT_EQ_INT(got.n, 1);
}

HB_TEST(http_parser, error_is_sticky)
{
    static const char bad[] = "GET / HTTP/1.1\nHost: a\r\n\r\n";
    static const char good[] = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
    struct hb_http_parser p;
    hb_http_parser_init(&p, &default_limits);
    ASSERT_EQ_INT(hb_http_parser_execute(&p, bad, 0, sizeof(bad) - 1), HB_EPROTO);
    ASSERT_EQ_INT(p.error_status, 400);
    hb_http_parser_next(&p, 0);
    ASSERT_EQ_INT(hb_http_parser_execute(&p, good, 0, sizeof(good) - 1), HB_EPROTO);
    hb_http_parser_release(&p);
}

HB_TEST(http_parser, parser_is_reusable_across_many_requests)
{
    /* 200 keep-alive requests through one parser, each compacted away. */
    struct hb_http_parser p;
    struct hb_buf buf;
    hb_http_parser_init(&p, &default_limits);
    hb_buf_init(&buf, 1u << 20);
    for (int i = 0; i < 200; i++) {
        ASSERT_EQ_INT(hb_buf_printf(&buf,
                                    "POST /r/%d/ HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n"
                                    "\r\n%c",
                                    i, 'a' + i % 26),
                      0);
        int n = hb_http_parser_execute(&p, buf.data, 0, buf.len);
        ASSERT_EQ_INT(n, (int)buf.len);
        ASSERT(p.is_complete);
        struct hb_http_request req;
        memset(&req, 0, sizeof(req));
        hb_http_parser_fill(&p, buf.data, &req);
        char want[32];
        snprintf(want, sizeof(want), "/r/%d/", i);
        ASSERT_EQ_MEM(req.path.ptr, req.path.len, want);
        ASSERT_EQ_INT(req.body.len, 1);
        ASSERT_EQ_INT(req.body.ptr[0], 'a' + i % 26);
        hb_http_parser_next(&p, (size_t)n);
        hb_buf_consume(&buf, (size_t)n);
        hb_http_parser_shift(&p, (size_t)n);
    }
    hb_buf_release(&buf);
    hb_http_parser_release(&p);
}

HB_TEST(http_parser, empty_header_name_is_400)
{
    REFUSED("GET / HTTP/1.1\r\n: b\r\nHost: a\r\n\r\n", 400);
    REFUSED("GET / HTTP/1.1\r\nHost: a\r\n:\r\n\r\n", 400);
    REFUSED("GET / HTTP/1.1\r\nHost: a\r\n: b\r\n\r\n", 400);
}

HB_TEST(http_parser, absolute_form_routes_on_its_path)
{
    static const char in[] =
        "GET http://example.com/hello/?x=1 HTTP/1.1\r\nHost: example.com\r\n\r\n"
        "GET HTTPS://example.com HTTP/1.1\r\nHost: example.com\r\n\r\n";
    struct hb_http_parser p;
    struct hb_http_request req;
    hb_http_parser_init(&p, &default_limits);
    int n = hb_http_parser_execute(&p, in, 0, sizeof(in) - 1);
    ASSERT(n > 0 && p.is_complete);
    memset(&req, 0, sizeof(req));
    hb_http_parser_fill(&p, in, &req);
    ASSERT_EQ_MEM(req.path.ptr, req.path.len, "/hello/");
    ASSERT_EQ_MEM(req.query.ptr, req.query.len, "x=1");
    ASSERT_EQ_MEM(req.target.ptr, req.target.len, "http://example.com/hello/?x=1");
    hb_http_parser_next(&p, (size_t)n);
    int n2 = hb_http_parser_execute(&p, in, (size_t)n, sizeof(in) - 1);
    ASSERT_EQ_INT(n2, (int)(sizeof(in) - 1) - n);
    ASSERT(p.is_complete);
    hb_http_parser_fill(&p, in, &req);
    ASSERT_EQ_MEM(req.path.ptr, req.path.len, "/");
    hb_http_parser_release(&p);
}

HB_TEST(http_parser, raw_utf8_in_target_is_accepted)
{
    struct got got;
    FEED("GET /\xe3\x81\x82/ HTTP/1.1\r\nHost: a\r\n\r\n", &got);
    ASSERT_EQ_INT(got.error_status, 0);
    ASSERT_EQ_STR(got.reqs[0], "GET /\xe3\x81\x82/ 1.1 ka|Host=a");
}

HB_TEST(http_parser, upgrade_with_body_and_connect_then_more)
{
    struct got got;
    FEED("POST /u/ HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: h2c\r\n"
         "Content-Length: 2\r\n\r\nxy"
         "CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n"
         "GET /after/ HTTP/1.1\r\nHost: a\r\n\r\n",
         &got);
    ASSERT_EQ_INT(got.error_status, 0);
    ASSERT_EQ_INT(got.n, 3);
    ASSERT_EQ_STR(got.reqs[0], "POST /u/ 1.1 ka|Host=a|Connection=upgrade|Upgrade=h2c"
                               "|Content-Length=2|body=xy");
    ASSERT_EQ_STR(got.reqs[1], "CONNECT a:443 1.1 ka|Host=a:443");
    ASSERT_EQ_STR(got.reqs[2], "GET /after/ 1.1 ka|Host=a");
}

HB_TEST(http_parser, trailers_never_become_headers)
{
    struct got got;
    FEED("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n"
         "Host: evil\r\nAuthorization: Bearer x\r\n\r\n",
         &got);
    ASSERT_EQ_INT(got.error_status, 0);
    ASSERT_EQ_STR(got.reqs[0], "POST / 1.1 ka|Host=a|Transfer-Encoding=chunked|body=x");
    /* Trailers count against the head limit. */
    static char in[40000];
    repeat(in, "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-T: ", 't',
           17000, "\r\n\r\n");
    expect_refused(in, strlen(in), 431, 0);
}
