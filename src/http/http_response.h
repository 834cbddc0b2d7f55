/* SPDX-License-Identifier: MIT */
/* An HTTP response under construction and its serialisation (http layer). Handlers set the
 * status, content type, extra headers and body; the server adds the status line, Date,
 * Content-Length, the security headers every response carries (API.md §2.3) and Connection. */
#ifndef HB_HTTP_RESPONSE_H
#define HB_HTTP_RESPONSE_H

#include <stdbool.h>

#include "core/buf.h"
#include "core/str.h"

struct hb_http_response {
    int status;
    const char *content_type;  /* static string, or NULL for none (204, 304) */
    struct hb_buf headers;     /* extra "Name: value\r\n" lines */
    struct hb_buf body;        /* used unless static_body.ptr is set */
    struct hb_str static_body; /* a body that outlives the response (hello, cached files) */
    bool close;                /* close the connection after this response */
    void *_conn;
};

void hb_http_response_init(struct hb_http_response *res);
void hb_http_response_release(struct hb_http_response *res);
/* Empties the response for reuse, keeping its buffers. */
void hb_http_response_reset(struct hb_http_response *res);

/* Appends a header line. name and value must not contain CR or LF (not checked in release). */
void hb_http_response_header(struct hb_http_response *res, const char *name, const char *value);

/* Sets status and a JSON body copied from json (already serialised). */
void hb_http_response_json(struct hb_http_response *res, int status, const char *json, size_t len);

/* Sets status and the body {"detail":"<detail>"}; detail is escaped as a JSON string. */
void hb_http_response_detail(struct hb_http_response *res, int status, const char *detail);

/* Appends s to buf as a JSON string literal with quotes, escaping only what JSON requires. */
int hb_http_json_string(struct hb_buf *buf, const char *s, size_t len);

/* The reason phrase of a status code ("Not Found"). */
const char *hb_http_status_text(int status);

/* The IMF-fixdate for the current second, cached per thread: "Tue, 15 Nov 1994 08:12:31 GMT". */
const char *hb_http_date_now(void);

/* Serialises res as an HTTP/1.1 response into out. is_head omits the body but keeps its length;
 * keep_alive writes "Connection: close" when false (and "keep-alive" for HTTP/1.0 clients that
 * asked for it). Returns the number of body bytes written (0 for HEAD). */
size_t hb_http_response_write(const struct hb_http_response *res, struct hb_buf *out, bool is_head,
                              bool keep_alive, int version_minor);

#endif
