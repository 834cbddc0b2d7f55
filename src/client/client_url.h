/* SPDX-License-Identifier: MIT */
/* Target URLs for the load generator (client layer): parses http:// URLs, says whether the
 * host is loopback, and resolves it to a socket address. Only plain http:// is supported; a
 * host that is not an IP literal is resolved only when it is "localhost" or the caller allows
 * remote targets, so a typo never sends load to a machine nobody meant to test. */
#ifndef HB_CLIENT_URL_H
#define HB_CLIENT_URL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#define HB_CLIENT_URL_MAX_HOST   255
#define HB_CLIENT_URL_MAX_TARGET 8192

struct hb_client_url {
    char host[HB_CLIENT_URL_MAX_HOST + 1];        /* without IPv6 brackets: "127.0.0.1", "::1" */
    char host_header[HB_CLIENT_URL_MAX_HOST + 9]; /* Host header: host[:port], brackets for v6 */
    int port;
    char target[HB_CLIENT_URL_MAX_TARGET + 2]; /* origin-form: "/path?query", never empty */
    bool is_ipv6;
};

/* Parses text as http://host[:port][/path][?query][#fragment]. The fragment is dropped and an
 * empty path becomes "/". Returns 0, or HB_EINVAL with *reason set to a static phrase ("only
 * http:// URLs are supported", "bad port", ...) suitable for a one-line error. */
int hb_client_url_parse(struct hb_client_url *url, const char *text, const char **reason);

/* True when the host is an address in 127.0.0.0/8, ::1 (or ::ffff:127.x.y.z), or the name
 * "localhost" (any case). Decided from the text alone: no name is resolved. */
bool hb_client_url_is_loopback(const struct hb_client_url *url);

/* True when a and b have the same host and port, so one connection can carry both. */
bool hb_client_url_same_origin(const struct hb_client_url *a, const struct hb_client_url *b);

/* Resolves the host (getaddrinfo, blocking) into addr. A name that url_is_loopback accepted
 * must resolve to a loopback address, or HB_EPERM is returned. Returns 0, HB_ENOTFOUND when the
 * name does not resolve, or HB_EPERM. */
int hb_client_url_resolve(const struct hb_client_url *url, struct sockaddr_storage *addr,
                          socklen_t *addr_len);

/* Formats addr as "127.0.0.1:8000" or "[::1]:8000" into out (at least 64 bytes). */
void hb_client_url_format_addr(const struct sockaddr *addr, char *out, size_t out_len);

#endif
