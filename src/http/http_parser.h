/* SPDX-License-Identifier: MIT */
/* Sans-I/O HTTP/1.1 request parser (http layer): glue over llhttp that adds hiroba's limits and
 * RFC 9112 strictness. The caller keeps every byte of the current request in one buffer and
 * feeds ranges of it; the parser records offsets, so the buffer may move (realloc, compaction
 * between requests) without invalidating anything. It stops after each complete request, so
 * pipelined requests are handed out one at a time, in order.
 *
 * The answer to bad input never depends on how the bytes were split into reads: limits and
 * byte checks apply at the first offending byte (tests/unit/http/test_http_parser.c feeds every
 * case whole, byte by byte and in odd chunk sizes). Trailer fields of chunked bodies are
 * checked by llhttp, counted against the head limit and dropped: they never become headers. */
#ifndef HB_HTTP_PARSER_H
#define HB_HTTP_PARSER_H

#include <llhttp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "http/http_request.h"

struct hb_http_limits {
    size_t max_head_len;   /* request line + headers, bytes (431) */
    size_t max_target_len; /* request target, bytes (414) */
    int max_headers;       /* header fields (431), at most HB_HTTP_MAX_HEADERS */
    size_t max_body_len;   /* declared or de-chunked body, bytes (413) */
};

struct hb_http_span {
    uint32_t off;
    uint32_t len;
};

struct hb_http_parser {
    llhttp_t _ll;
    struct hb_http_limits limits;
    const char *_base; /* the buffer of the current execute call */
    size_t _start;     /* offset of the current request's first byte */
    /* head scanner (RFC 9112 strictness llhttp leaves to us) */
    size_t _scan_pos;
    unsigned char _scan_prev;
    bool _scan_in_head;
    bool _scan_line_start;
    bool _scan_in_request_line;
    int _scan_n_spaces;      /* SPs seen on the request line */
    size_t _scan_target_len; /* request-target bytes seen on the request line */
    /* the request being parsed, as offsets into the buffer */
    struct hb_http_span _url;
    struct hb_http_span _names[HB_HTTP_MAX_HEADERS];
    struct hb_http_span _values[HB_HTTP_MAX_HEADERS];
    int _n_headers;   /* fields stored (at most HB_HTTP_MAX_HEADERS) */
    int _n_fields;    /* fields begun, stored or not */
    bool _field_open; /* a field's name has begun and its value is not complete */
    int _n_host;
    bool _has_te;
    /* chunked framing checks llhttp 8 (non-strict build) leaves to us */
    uint64_t _chunk_left; /* data bytes of the current chunk not yet seen */
    uint32_t _crlf_off;   /* offset of the CRLF that must follow the current chunk's data */
    bool _has_crlf;       /* _crlf_off is set and still to be checked */
    size_t _trailer_len;  /* bytes of trailer fields (counted against max_head_len) */
    struct hb_buf body;   /* de-chunked body of the current request */
    /* state the caller reads */
    bool has_started;      /* a byte of a request line has arrived (not just empty lines) */
    bool headers_complete; /* the head is parsed (the body may still be arriving) */
    bool is_complete;      /* a whole request is ready: call hb_http_parser_take() */
    bool expect_continue;  /* Expect: 100-continue on an HTTP/1.1 request with a body */
    int error_status;      /* after HB_EPROTO: 400, 413, 414 or 431 */
    const char *error_reason;
};

/* Initialises a parser for requests within limits. */
void hb_http_parser_init(struct hb_http_parser *p, const struct hb_http_limits *limits);

/* Frees the body buffer. */
void hb_http_parser_release(struct hb_http_parser *p);

/* Parses buf[pos..len), where buf holds every byte since the current request's first byte
 * (request_start, see hb_http_parser_request_start()). Returns the number of bytes consumed:
 * fewer than offered only when a request completed (is_complete is then set). Returns HB_EPROTO on
 * bad input; error_status says which answer to give, and the connection must close. */
int hb_http_parser_execute(struct hb_http_parser *p, const char *buf, size_t pos, size_t len);

/* Offset of the current request's first byte in the caller's buffer. */
static inline size_t hb_http_parser_request_start(const struct hb_http_parser *p)
{
    return p->_start;
}

/* Fills req from the completed request, with slices into buf (the same buffer, possibly moved)
 * and into the parser's body buffer. They stay valid until the next execute call. */
void hb_http_parser_fill(struct hb_http_parser *p, const char *buf, struct hb_http_request *req);

/* Ends the current request: the next byte at offset next_start starts a new one. */
void hb_http_parser_next(struct hb_http_parser *p, size_t next_start);

/* Shifts every recorded offset down by n after the caller dropped n leading bytes. */
void hb_http_parser_shift(struct hb_http_parser *p, size_t n);

#endif
