/* SPDX-License-Identifier: MIT */
/* libFuzzer target for the request parser (http_parser over llhttp). The input's first two bytes
 * pick the limits (the server's, or small ones so short inputs reach every limit) and a seed for
 * read sizes; the rest is a byte stream a client sent. It is fed twice through the loop
 * http_server.c runs (append a read, execute from the parsed offset, fill/next per request,
 * drop finished bytes and shift): once in the largest reads the buffer allows, once in random
 * small reads. Invariants, checked with abort(): every slice of a filled request lies in the
 * buffer or the body, limits hold, an error has a status the server knows, and both feedings
 * give the same requests and the same answer (the parser promises the split never matters). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/err.h"
#include "http/http_parser.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FULL 1 /* outcome status: the read buffer filled with one request (the server's 413) */

struct outcome {
    int n_requests;
    int status; /* 0, an HTTP status, or FULL */
    uint64_t digest;
};

static void check(int cond)
{
    if (!cond)
        abort();
}

static uint64_t mix(uint64_t h, const void *p, size_t len)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < len; i++)
        h = (h ^ b[i]) * 1099511628211ull;
    return (h ^ len) * 1099511628211ull;
}

static bool inside(struct hb_str s, const char *base, size_t len)
{
    return s.len == 0 || (s.ptr >= base && s.ptr + s.len <= base + len);
}

static uint64_t check_request(const struct hb_http_request *req, const struct hb_buf *buf,
                              const struct hb_http_limits *limits, uint64_t h)
{
    check(req->method_name.ptr != NULL && req->method_name.len > 0);
    check(req->method == hb_http_method_from_name(req->method_name));
    check(req->target.len <= limits->max_target_len);
    check(inside(req->target, buf->data, buf->len));
    check(inside(req->query, buf->data, buf->len));
    check(req->path.len <= req->target.len);
    check(req->n_headers >= 0 && req->n_headers <= limits->max_headers);
    check(req->body.ptr != NULL && req->body.len <= limits->max_body_len);
    check(req->version_minor == 0 || req->version_minor == 1);
    if (req->version_minor == 1)
        check(hb_http_request_header(req, "host").ptr != NULL);
    h = mix(h, req->method_name.ptr, req->method_name.len);
    h = mix(h, req->target.ptr, req->target.len);
    h = mix(h, req->path.ptr, req->path.len);
    h = mix(h, req->query.ptr, req->query.len);
    for (int i = 0; i < req->n_headers; i++) {
        const struct hb_http_header *hd = &req->headers[i];
        check(hd->name.len > 0 && inside(hd->name, buf->data, buf->len));
        check(inside(hd->value, buf->data, buf->len));
        for (size_t k = 0; k < hd->value.len; k++) {
            unsigned char c = (unsigned char)hd->value.ptr[k];
            check(c >= 0x20 || c == '\t');
            check(c != 0x7f);
        }
        h = mix(h, hd->name.ptr, hd->name.len);
        h = mix(h, hd->value.ptr, hd->value.len);
    }
    h = mix(h, req->body.ptr, req->body.len);
    unsigned char flags = (unsigned char)(req->keep_alive | req->version_minor << 1);
    return mix(h, &flags, 1);
}

/* Feeds in[0..len) in reads of at most max_read bytes (0: as large as the buffer allows), with
 * sizes drawn from *rng when rng is not NULL. */
static struct outcome run(const char *in, size_t len, const struct hb_http_limits *limits,
                          uint32_t *rng)
{
    struct outcome out = {0, 0, 1469598103934665603ull};
    struct hb_http_parser p;
    struct hb_buf buf;
    size_t parsed = 0, at = 0;

    hb_http_parser_init(&p, limits);
    /* The server's read buffer: a head, a body, and 64 KiB to spare. */
    hb_buf_init(&buf, limits->max_head_len + limits->max_body_len + 64 * 1024);
    while (at < len && out.status == 0) {
        size_t room = buf.max_len - buf.len, n = len - at;
        if (rng != NULL) {
            *rng ^= *rng << 13;
            *rng ^= *rng >> 17;
            *rng ^= *rng << 5;
            size_t want = (*rng & 7) == 0 ? 1 + (*rng >> 8) % 4096 : 1 + (*rng >> 8) % 17;
            if (n > want)
                n = want;
        }
        if (n > room)
            n = room;
        if (n == 0) {
            out.status = FULL;
            break;
        }
        check(hb_buf_append(&buf, in + at, n) == 0);
        at += n;
        while (parsed < buf.len) {
            int used = hb_http_parser_execute(&p, buf.data, parsed, buf.len);
            if (used < 0) {
                check(used == HB_EPROTO);
                check(p.error_reason != NULL);
                check(p.error_status == 400 || p.error_status == 413 || p.error_status == 414 ||
                      p.error_status == 431);
                out.status = p.error_status;
                /* The error is sticky. */
                check(hb_http_parser_execute(&p, buf.data, parsed, buf.len) == HB_EPROTO);
                break;
            }
            check((size_t)used <= buf.len - parsed);
            parsed += (size_t)used;
            if (!p.is_complete) {
                check(parsed == buf.len);
                break;
            }
            struct hb_http_request req;
            memset(&req, 0, sizeof(req));
            hb_http_parser_fill(&p, buf.data, &req);
            out.digest = check_request(&req, &buf, limits, out.digest);
            out.n_requests++;
            hb_http_parser_next(&p, parsed);
        }
        if (out.status == 0) {
            size_t start = hb_http_parser_request_start(&p);
            check(start <= parsed);
            if (start > 0) {
                hb_buf_consume(&buf, start);
                parsed -= start;
                hb_http_parser_shift(&p, start);
            }
        }
    }
    hb_buf_release(&buf);
    hb_http_parser_release(&p);
    return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct hb_http_limits server = {16 * 1024, 8 * 1024, 100, 1024 * 1024};
    static const struct hb_http_limits small = {512, 96, 8, 200};
    if (size < 2)
        return 0;
    const struct hb_http_limits *limits = (data[0] & 1) ? &small : &server;
    uint32_t rng = ((uint32_t)data[0] << 8 | data[1]) * 2654435761u | 1;
    const char *in = (const char *)data + 2;
    size_t len = size - 2;

    struct outcome whole = run(in, len, limits, NULL);
    struct outcome split = run(in, len, limits, &rng);
    check(whole.n_requests == split.n_requests);
    check(whole.status == split.status);
    check(whole.digest == split.digest);
    return 0;
}
