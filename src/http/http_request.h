/* SPDX-License-Identifier: MIT */
/* A parsed HTTP/1.1 request (http layer): a value type whose slices point into the connection's
 * read buffer and the parser's body buffer. Everything is valid until the request ends. */
#ifndef HB_HTTP_REQUEST_H
#define HB_HTTP_REQUEST_H

#include <stdbool.h>

#include "core/arena.h"
#include "core/str.h"

#define HB_HTTP_MAX_HEADERS 100
#define HB_HTTP_MAX_PARAMS  4

enum hb_http_method {
    HB_HTTP_OTHER = 0,
    HB_HTTP_GET,
    HB_HTTP_POST,
    HB_HTTP_PUT,
    HB_HTTP_PATCH,
    HB_HTTP_DELETE,
    HB_HTTP_HEAD,
    HB_HTTP_OPTIONS,
};

struct hb_http_header {
    struct hb_str name;
    struct hb_str value;
};

struct hb_http_request {
    enum hb_http_method method;
    struct hb_str method_name; /* as sent, upper-case */
    struct hb_str target;      /* the raw request target */
    struct hb_str path;        /* target up to '?', still percent-encoded */
    struct hb_str query;       /* after '?', without it; empty when absent */
    int version_minor;         /* HTTP/1.<minor> */
    bool keep_alive;           /* the client allows another request on this connection */
    bool is_upgrade;           /* Connection: upgrade with an Upgrade header */
    struct hb_http_header headers[HB_HTTP_MAX_HEADERS];
    int n_headers;
    struct hb_str body; /* de-chunked; empty when there is none */

    /* Set by the server before the handler runs. */
    struct hb_str decoded_path;               /* path, percent-decoded */
    struct hb_str params[HB_HTTP_MAX_PARAMS]; /* pattern parameters, in order */
    int n_params;
    const struct hb_http_route *route; /* the matched row */
    struct hb_arena *arena;            /* freed when the request ends */
    const char *peer;                  /* client address text */
    void *user;                        /* set by the auth guard; owned by the arena */
    void *app;                         /* the application context (server config) */
    void *_conn;
};

struct hb_http_route;

/* Returns the value of the first header named name (case-insensitive), or a NULL slice. */
struct hb_str hb_http_request_header(const struct hb_http_request *req, const char *name);

/* Maps an upper-case method name to its enum (HB_HTTP_OTHER when unknown). */
enum hb_http_method hb_http_method_from_name(struct hb_str name);

#endif
