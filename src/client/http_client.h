/* SPDX-License-Identifier: MIT */
/* Sans-I/O HTTP/1.1 client side (client layer): formats requests and parses responses with
 * llhttp in response mode. The parser reads bytes in place and keeps none of them, so each read
 * can be fed straight from a buffer shared by many connections. It stops after every complete
 * response, so pipelined responses in one buffer come out one at a time, in order. Framing is
 * RFC 9112 §6: Content-Length, chunked, or a body that ends when the server closes; interim 1xx
 * responses are skipped. An error is sticky: the connection cannot be trusted any more. */
#ifndef HB_CLIENT_HTTP_CLIENT_H
#define HB_CLIENT_HTTP_CLIENT_H

#include <llhttp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/str.h"

/* Receives de-chunked body bytes of the current response, valid only during the call. */
typedef void hb_http_client_body_cb(void *ctx, const char *at, size_t len);

struct hb_http_client {
    llhttp_t _ll;
    bool _is_head;     /* requests are HEAD: responses carry no body */
    bool _is_upgraded; /* a 101 ended HTTP on this connection */
    bool _is_closed;   /* a response said the connection ends after it */
    bool _has_failed;  /* sticky error */
    /* The current response, as far as it has been parsed. */
    int status;               /* status code, set once the head is complete */
    int version_minor;        /* HTTP/1.x */
    uint64_t body_len;        /* body bytes so far, after de-chunking */
    bool has_started;         /* a byte of a final (non-1xx) response has arrived */
    bool headers_complete;    /* the head is parsed */
    bool is_complete;         /* a whole response is parsed: read it, then hb_http_client_next() */
    bool is_keep_alive;       /* with is_complete: the connection may carry another request */
    const char *error_reason; /* after HB_EPROTO: a static description */
    /* Optional body sink (checks and tests); NULL by default. */
    hb_http_client_body_cb *on_body;
    void *ctx;
};

/* Prepares c for the responses of one connection. With is_head the requests are HEAD, so the
 * responses have no body whatever their headers say (RFC 9110 §9.3.2). */
void hb_http_client_init(struct hb_http_client *c, bool is_head);

/* Forgets everything for a new connection, keeping is_head and the body sink. */
void hb_http_client_reset(struct hb_http_client *c);

/* Parses buf[0..len) (at most INT_MAX bytes are looked at). Returns the number of bytes
 * consumed: fewer than len only when a response completed (is_complete is then set, and the
 * rest of buf belongs to the next response). Returns HB_EPROTO on a malformed response or bytes
 * after a response that ended the connection (error_reason says which); the error is sticky.
 * Must not be called while is_complete is set. Each call either consumes a byte, completes a
 * response or fails, so a caller's loop over a buffer always ends. */
int hb_http_client_parse(struct hb_http_client *c, const char *buf, size_t len);

/* Moves past a completed response: clears is_complete and the per-response fields. */
void hb_http_client_next(struct hb_http_client *c);

/* The server closed the connection. Returns 0 when no response was in progress, or when the
 * close ended a body delimited by it (is_complete is then set); HB_ECLOSED when a response was
 * cut short; HB_EPROTO after an earlier error. */
int hb_http_client_finish(struct hb_http_client *c);

/* A request to format. Every pointer is borrowed for the call only. */
struct hb_http_client_request {
    const char *method;         /* "GET"; upper-case token */
    struct hb_str host;         /* Host header value: host[:port] */
    struct hb_str target;       /* origin-form: path and query, starting with '/' */
    const char *const *headers; /* extra "Name: value" lines, without CRLF */
    int n_headers;
    struct hb_str body; /* empty for none */
    bool has_body;      /* send Content-Length even for an empty body */
};

/* Appends the request's bytes to out. Adds Host and User-Agent unless given in headers,
 * Content-Length when there is a body, and a Content-Type for a body when none is given
 * (application/json when the body starts with '{' or '[', else application/octet-stream).
 * Returns 0, HB_EINVAL for a header line without a name and a colon or with CR, LF or NUL, or
 * for a bad method or target, or HB_ETOOLARGE from out's cap. */
int hb_http_client_format_request(struct hb_buf *out, const struct hb_http_client_request *req);

#endif
