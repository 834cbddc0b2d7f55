/* SPDX-License-Identifier: MIT */
/* Tests for the client-side HTTP parser and request formatter (src/client/http_client.c):
 * framing by Content-Length, chunked and close, keep-alive rules, pipelined responses in one
 * buffer, every split of a buffer giving the same result, HEAD, 1xx, and malformed input. */
#include <stdbool.h>
#include <string.h>

#include "client/http_client.h"
#include "core/buf.h"
#include "core/err.h"
#include "unit.h"

#define MAX_SEEN 16

/* What a caller saw: each complete response, then whether parsing failed. */
struct seen {
    int n;
    int status[MAX_SEEN];
    unsigned long long body_len[MAX_SEEN];
    bool keep_alive[MAX_SEEN];
    char body[4096];
    size_t body_used;
    bool failed;
};

static void collect_body(void *ctx, const char *at, size_t len)
{
    struct seen *s = ctx;
    if (s->body_used + len < sizeof(s->body)) {
        memcpy(s->body + s->body_used, at, len);
        s->body_used += len;
    }
}

/* Feeds buf[0..len) the way a client does: parse, take each complete response, go on. */
static void feed(struct hb_http_client *c, struct seen *s, const char *buf, size_t len)
{
    size_t pos = 0;
    while (pos < len && !s->failed) {
        int used = hb_http_client_parse(c, buf + pos, len - pos);
        if (used < 0) {
            s->failed = true;
            return;
        }
        pos += (size_t)used;
        if (c->is_complete) {
            ASSERT(s->n < MAX_SEEN);
            s->status[s->n] = c->status;
            s->body_len[s->n] = (unsigned long long)c->body_len;
            s->keep_alive[s->n] = c->is_keep_alive;
            s->n++;
            hb_http_client_next(c);
        } else {
            ASSERT(used > 0);
        }
    }
}

static void run_whole(const char *text, bool is_head, struct seen *s)
{
    struct hb_http_client c;
    memset(s, 0, sizeof(*s));
    hb_http_client_init(&c, is_head);
    c.on_body = collect_body;
    c.ctx = s;
    feed(&c, s, text, strlen(text));
}

HB_TEST(http_client, content_length)
{
    struct seen s;
    run_whole("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 27\r\n\r\n"
              "{\"message\":\"Hello, World!\"}",
              false, &s);
    ASSERT(!s.failed);
    ASSERT_EQ_INT(s.n, 1);
    ASSERT_EQ_INT(s.status[0], 200);
    ASSERT_EQ_INT(s.body_len[0], 27);
    ASSERT(s.keep_alive[0]);
    ASSERT_EQ_MEM(s.body, s.body_used, "{\"message\":\"Hello, World!\"}");
}

HB_TEST(http_client, chunked_with_extensions_and_trailers)
{
    struct seen s;
    run_whole("HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n"
              "5;name=value\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\n",
              false, &s);
    ASSERT(!s.failed);
    ASSERT_EQ_INT(s.n, 1);
    ASSERT_EQ_INT(s.status[0], 201);
    ASSERT_EQ_INT(s.body_len[0], 11);
    ASSERT_EQ_MEM(s.body, s.body_used, "hello world");
}

static const char pipelined[] =
    "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc"
    "HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nnope\r\n0\r\n\r\n"
    "HTTP/1.1 204 No Content\r\n\r\n"
    "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
    "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 2\r\nConnection: close\r\n\r\nxx";

static void check_pipelined(const struct seen *s)
{
    ASSERT(!s->failed);
    ASSERT_EQ_INT(s->n, 5);
    ASSERT_EQ_INT(s->status[0], 200);
    ASSERT_EQ_INT(s->body_len[0], 3);
    ASSERT_EQ_INT(s->status[1], 404);
    ASSERT_EQ_INT(s->body_len[1], 4);
    ASSERT_EQ_INT(s->status[2], 204);
    ASSERT_EQ_INT(s->body_len[2], 0);
    ASSERT_EQ_INT(s->status[3], 200);
    ASSERT_EQ_INT(s->status[4], 500);
    ASSERT(s->keep_alive[0] && s->keep_alive[1] && s->keep_alive[2] && s->keep_alive[3]);
    ASSERT(!s->keep_alive[4]);
    ASSERT_EQ_MEM(s->body, s->body_used, "abcnopexx");
}

HB_TEST(http_client, pipelined_in_one_buffer)
{
    struct seen s;
    run_whole(pipelined, false, &s);
    check_pipelined(&s);

    /* The first call stops right after the first response. */
    struct hb_http_client c;
    hb_http_client_init(&c, false);
    int used = hb_http_client_parse(&c, pipelined, strlen(pipelined));
    ASSERT_EQ_INT(used, strlen("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc"));
    ASSERT(c.is_complete);
}

HB_TEST(http_client, every_split_gives_the_same_result)
{
    size_t len = strlen(pipelined);
    for (size_t cut = 0; cut <= len; cut++) {
        struct seen s;
        struct hb_http_client c;
        memset(&s, 0, sizeof(s));
        hb_http_client_init(&c, false);
        c.on_body = collect_body;
        c.ctx = &s;
        feed(&c, &s, pipelined, cut);
        feed(&c, &s, pipelined + cut, len - cut);
        check_pipelined(&s);
    }
}

HB_TEST(http_client, byte_at_a_time)
{
    size_t len = strlen(pipelined);
    struct seen s;
    struct hb_http_client c;
    memset(&s, 0, sizeof(s));
    hb_http_client_init(&c, false);
    c.on_body = collect_body;
    c.ctx = &s;
    for (size_t i = 0; i < len; i++)
        feed(&c, &s, pipelined + i, 1);
    check_pipelined(&s);
}

HB_TEST(http_client, keep_alive_rules)
{
    struct seen s;
    run_whole("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", false, &s);
    ASSERT_EQ_INT(s.n, 1);
    ASSERT(!s.keep_alive[0]);
    run_whole("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", false, &s);
    ASSERT_EQ_INT(s.n, 1);
    ASSERT(!s.keep_alive[0]);
    run_whole("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n", false, &s);
    ASSERT_EQ_INT(s.n, 1);
    ASSERT(s.keep_alive[0]);
}

HB_TEST(http_client, bytes_after_connection_close_fail)
{
    struct seen s;
    run_whole("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\nx"
              "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
              false, &s);
    ASSERT_EQ_INT(s.n, 1);
    ASSERT(s.failed);
}

HB_TEST(http_client, body_until_close)
{
    struct hb_http_client c;
    struct seen s;
    memset(&s, 0, sizeof(s));
    hb_http_client_init(&c, false);
    c.on_body = collect_body;
    c.ctx = &s;
    const char *text = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nall of it";
    feed(&c, &s, text, strlen(text));
    ASSERT_EQ_INT(s.n, 0);
    ASSERT(c.has_started);
    ASSERT_EQ_INT(hb_http_client_finish(&c), 0);
    ASSERT(c.is_complete);
    ASSERT(!c.is_keep_alive);
    ASSERT_EQ_INT(c.status, 200);
    ASSERT_EQ_INT(c.body_len, 9);
    ASSERT_EQ_MEM(s.body, s.body_used, "all of it");
}

HB_TEST(http_client, close_cuts_response_short)
{
    struct hb_http_client c;
    hb_http_client_init(&c, false);
    /* Nothing received: a clean close between responses. */
    ASSERT_EQ_INT(hb_http_client_finish(&c), 0);
    ASSERT(!c.is_complete);

    const char *text = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf";
    ASSERT_EQ_INT(hb_http_client_parse(&c, text, strlen(text)), strlen(text));
    ASSERT_EQ_INT(hb_http_client_finish(&c), HB_ECLOSED);
    ASSERT(!c.is_complete);

    hb_http_client_reset(&c);
    text = "HTTP/1.1 200 OK\r\nContent-Le";
    ASSERT_EQ_INT(hb_http_client_parse(&c, text, strlen(text)), strlen(text));
    ASSERT(c.has_started);
    ASSERT_EQ_INT(hb_http_client_finish(&c), HB_ECLOSED);
}

HB_TEST(http_client, interim_responses_are_skipped)
{
    struct seen s;
    run_whole("HTTP/1.1 100 Continue\r\n\r\n"
              "HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n"
              "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
              false, &s);
    ASSERT(!s.failed);
    ASSERT_EQ_INT(s.n, 1);
    ASSERT_EQ_INT(s.status[0], 200);
    ASSERT_EQ_INT(s.body_len[0], 2);
}

HB_TEST(http_client, head_responses_have_no_body)
{
    struct seen s;
    run_whole("HTTP/1.1 200 OK\r\nContent-Length: 27\r\n\r\n"
              "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
              true, &s);
    ASSERT(!s.failed);
    ASSERT_EQ_INT(s.n, 2);
    ASSERT_EQ_INT(s.body_len[0], 0);
    ASSERT_EQ_INT(s.body_len[1], 0);
    ASSERT(s.keep_alive[0] && s.keep_alive[1]);
}

HB_TEST(http_client, no_body_statuses)
{
    struct seen s;
    run_whole("HTTP/1.1 304 Not Modified\r\nContent-Length: 50\r\n\r\n"
              "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nz",
              false, &s);
    ASSERT(!s.failed);
    ASSERT_EQ_INT(s.n, 2);
    ASSERT_EQ_INT(s.status[0], 304);
    ASSERT_EQ_INT(s.body_len[0], 0);
    ASSERT_EQ_INT(s.body_len[1], 1);
}

HB_TEST(http_client, switching_protocols_ends_http)
{
    struct seen s;
    run_whole("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
              "\r\n\x81\x05hello",
              false, &s);
    ASSERT_EQ_INT(s.n, 1);
    ASSERT_EQ_INT(s.status[0], 101);
    ASSERT(!s.keep_alive[0]);
    ASSERT(s.failed); /* the frame bytes are not HTTP */
}

HB_TEST(http_client, malformed_is_sticky)
{
    static const char *const bad[] = {
        "HTTP/1.1 2x0 OK\r\n\r\n",
        "SMTP ready\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
        "HTTP/1.1 200 OK\r\nBad Header\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct hb_http_client c;
        hb_http_client_init(&c, false);
        int used = hb_http_client_parse(&c, bad[i], strlen(bad[i]));
        if (used != HB_EPROTO)
            HB_FAIL_("input %zu: got %d, want HB_EPROTO", i, used);
        ASSERT(c.error_reason != NULL);
        ASSERT_EQ_INT(hb_http_client_parse(&c, "HTTP/1.1 200 OK\r\n", 17), HB_EPROTO);
        ASSERT_EQ_INT(hb_http_client_finish(&c), HB_EPROTO);
    }
}

HB_TEST(http_client, reset_starts_a_new_connection)
{
    struct hb_http_client c;
    hb_http_client_init(&c, false);
    ASSERT_EQ_INT(hb_http_client_parse(&c, "garbage\r\n", 9), HB_EPROTO);
    hb_http_client_reset(&c);
    const char *ok = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    ASSERT_EQ_INT(hb_http_client_parse(&c, ok, strlen(ok)), strlen(ok));
    ASSERT(c.is_complete);
}

HB_TEST(http_client, format_get)
{
    struct hb_buf out;
    hb_buf_init(&out, 4096);
    struct hb_http_client_request req = {
        .method = "GET", .host = HB_STR("127.0.0.1:8000"), .target = HB_STR("/hello/?a=1")};
    ASSERT_EQ_INT(hb_http_client_format_request(&out, &req), 0);
    ASSERT_EQ_STR(out.data, "GET /hello/?a=1 HTTP/1.1\r\nHost: 127.0.0.1:8000\r\n"
                            "User-Agent: hiroba-bench\r\n\r\n");
    hb_buf_release(&out);
}

HB_TEST(http_client, format_json_post_with_auth)
{
    struct hb_buf out;
    hb_buf_init(&out, 4096);
    const char *headers[] = {"Authorization: Bearer abc.def", "Host: example.test"};
    struct hb_http_client_request req = {.method = "POST",
                                         .host = HB_STR("127.0.0.1"),
                                         .target = HB_STR("/api/topics/"),
                                         .headers = headers,
                                         .n_headers = 2,
                                         .body = HB_STR(" {\"title\":\"hi\"}")};
    ASSERT_EQ_INT(hb_http_client_format_request(&out, &req), 0);
    ASSERT_EQ_STR(out.data, "POST /api/topics/ HTTP/1.1\r\nUser-Agent: hiroba-bench\r\n"
                            "Authorization: Bearer abc.def\r\nHost: example.test\r\n"
                            "Content-Type: application/json\r\nContent-Length: 15\r\n\r\n"
                            " {\"title\":\"hi\"}");
    hb_buf_release(&out);
}

HB_TEST(http_client, format_empty_body_and_binary)
{
    struct hb_buf out;
    hb_buf_init(&out, 4096);
    struct hb_http_client_request req = {.method = "PUT",
                                         .host = HB_STR("h"),
                                         .target = HB_STR("/"),
                                         .body = HB_STR(""),
                                         .has_body = true};
    ASSERT_EQ_INT(hb_http_client_format_request(&out, &req), 0);
    ASSERT(strstr(out.data, "Content-Length: 0\r\n") != NULL);
    hb_buf_reset(&out);
    req.body = HB_STR("x=1");
    ASSERT_EQ_INT(hb_http_client_format_request(&out, &req), 0);
    ASSERT(strstr(out.data, "Content-Type: application/octet-stream\r\n") != NULL);
    hb_buf_release(&out);
}

HB_TEST(http_client, format_rejects_bad_input)
{
    struct hb_buf out;
    hb_buf_init(&out, 4096);
    const char *no_colon[] = {"Authorization Bearer"};
    const char *crlf[] = {"X-A: 1\r\nX-B: 2"};
    const char *empty_name[] = {": v"};
    struct hb_http_client_request req = {
        .method = "GET", .host = HB_STR("h"), .target = HB_STR("/"), .n_headers = 1};
    req.headers = no_colon;
    ASSERT_EQ_INT(hb_http_client_format_request(&out, &req), HB_EINVAL);
    req.headers = crlf;
    ASSERT_EQ_INT(hb_http_client_format_request(&out, &req), HB_EINVAL);
    req.headers = empty_name;
    ASSERT_EQ_INT(hb_http_client_format_request(&out, &req), HB_EINVAL);
    req.n_headers = 0;
    req.method = "G ET";
    ASSERT_EQ_INT(hb_http_client_format_request(&out, &req), HB_EINVAL);
    req.method = "GET";
    req.target = HB_STR("no-slash");
    ASSERT_EQ_INT(hb_http_client_format_request(&out, &req), HB_EINVAL);
    ASSERT_EQ_INT(out.len, 0);
    hb_buf_release(&out);

    /* Over the cap: nothing is left behind. */
    hb_buf_init(&out, 10);
    req.target = HB_STR("/");
    ASSERT_EQ_INT(hb_http_client_format_request(&out, &req), HB_ETOOLARGE);
    ASSERT_EQ_INT(out.len, 0);
    hb_buf_release(&out);
}
