/* SPDX-License-Identifier: MIT */
/* Static files for the SPA (http layer, API.md §7.8): the named file from the build directory,
 * else index.html for client routes, else a placeholder page. Validators (ETag,
 * Last-Modified, 304), long caching for hashed asset names, precompressed .gz variants, and no
 * way out of the root: encoded slashes, NUL, dot segments and symlinks leaving it all fail. */
#ifndef HB_HTTP_STATIC_H
#define HB_HTTP_STATIC_H

#include <stddef.h>

#include "http/http_request.h"
#include "http/http_response.h"

struct hb_http_static;

/* Serves files under root (which need not exist yet: then the placeholder). csp, if not NULL,
 * is sent as Content-Security-Policy. Returns 0 or HB_EINVAL. */
int hb_http_static_create(const char *root, const char *csp, struct hb_http_static **out);
void hb_http_static_destroy(struct hb_http_static *st);

/* Answers a GET or HEAD for req->path into res. */
void hb_http_static_serve(const struct hb_http_static *st, struct hb_http_request *req,
                          struct hb_http_response *res);

/* Maps a raw (percent-encoded) request path to a relative file path in out ("assets/x.js";
 * "" for the root). Returns 0, or HB_EINVAL for a path that tries to leave the root or is not
 * representable (encoded '/', '\\' or NUL, dot segments, hidden names). Pure, for tests. */
int hb_http_static_resolve(const char *path, size_t path_len, char *out, size_t out_len);

#endif
