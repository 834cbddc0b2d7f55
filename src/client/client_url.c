/* SPDX-License-Identifier: MIT */
/* URL parsing and loopback policy (client layer). The parser is deliberately narrow: what a
 * load generator needs from RFC 3986 is scheme, host, port and an origin-form target. */
#include "client/client_url.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/err.h"

static int bad(const char **reason, const char *why)
{
    *reason = why;
    return HB_EINVAL;
}

static bool is_host_char(unsigned char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '-' || ch == '.' || ch == '_';
}

int hb_client_url_parse(struct hb_client_url *url, const char *text, const char **reason)
{
    static const char scheme[] = "http://";
    memset(url, 0, sizeof(*url));
    *reason = NULL;

    if (strncasecmp(text, "https://", 8) == 0)
        return bad(reason, "only http:// URLs are supported");
    if (strncasecmp(text, scheme, sizeof(scheme) - 1) != 0)
        return bad(reason, strstr(text, "://") != NULL ? "only http:// URLs are supported"
                                                       : "expected http://host[:port]/path");
    const char *p = text + sizeof(scheme) - 1;
    size_t auth_len = strcspn(p, "/?#");
    if (memchr(p, '@', auth_len) != NULL)
        return bad(reason, "user names in URLs are not supported");

    /* Host: an IPv6 literal in brackets, or a name or IPv4 address. */
    const char *host = p, *host_end;
    if (*p == '[') {
        host = p + 1;
        host_end = memchr(host, ']', auth_len);
        if (host_end == NULL)
            return bad(reason, "unclosed '[' in host");
        for (const char *q = host; q < host_end; q++) {
            if (!strchr("0123456789abcdefABCDEF:.", *q))
                return bad(reason, "bad IPv6 address");
        }
        url->is_ipv6 = true;
        p = host_end + 1;
    } else {
        while (p < text + sizeof(scheme) - 1 + auth_len && *p != ':') {
            if (!is_host_char((unsigned char)*p))
                return bad(reason, "bad character in host");
            p++;
        }
        host_end = p;
    }
    size_t host_len = (size_t)(host_end - host);
    if (host_len == 0)
        return bad(reason, "missing host");
    if (host_len > HB_CLIENT_URL_MAX_HOST)
        return bad(reason, "host too long");
    memcpy(url->host, host, host_len);
    if (url->is_ipv6) {
        struct in6_addr a6;
        if (inet_pton(AF_INET6, url->host, &a6) != 1)
            return bad(reason, "bad IPv6 address");
    }

    /* Port. */
    url->port = 80;
    const char *auth_end = text + sizeof(scheme) - 1 + auth_len;
    if (p < auth_end) {
        if (*p != ':' || p + 1 == auth_end)
            return bad(reason, "bad port");
        long port = 0;
        for (p++; p < auth_end; p++) {
            if (*p < '0' || *p > '9' || port > 65535)
                return bad(reason, "bad port");
            port = port * 10 + (*p - '0');
        }
        if (port < 1 || port > 65535)
            return bad(reason, "bad port");
        url->port = (int)port;
    }
    if (url->is_ipv6)
        snprintf(url->host_header, sizeof(url->host_header), "[%s]", url->host);
    else
        snprintf(url->host_header, sizeof(url->host_header), "%s", url->host);
    if (url->port != 80) {
        size_t n = strlen(url->host_header);
        snprintf(url->host_header + n, sizeof(url->host_header) - n, ":%d", url->port);
    }

    /* Target: path and query, without the fragment. */
    size_t target_len = strcspn(auth_end, "#");
    if (target_len > HB_CLIENT_URL_MAX_TARGET)
        return bad(reason, "URL too long");
    for (size_t i = 0; i < target_len; i++) {
        unsigned char ch = (unsigned char)auth_end[i];
        if (ch <= 0x20 || ch == 0x7f)
            return bad(reason, "space or control character in URL");
    }
    size_t at = 0;
    if (target_len == 0 || auth_end[0] == '?')
        url->target[at++] = '/';
    memcpy(url->target + at, auth_end, target_len);
    return 0;
}

static bool is_loopback_v4(const struct in_addr *a)
{
    return (ntohl(a->s_addr) >> 24) == 127;
}

static bool is_loopback_v6(const struct in6_addr *a)
{
    return IN6_IS_ADDR_LOOPBACK(a) || (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
}

static bool is_loopback_addr(const struct sockaddr *sa)
{
    /* Copy rather than cast: the struct types differ, and aliasing them is undefined. */
    if (sa->sa_family == AF_INET) {
        struct sockaddr_in in;
        memcpy(&in, sa, sizeof(in));
        return is_loopback_v4(&in.sin_addr);
    }
    if (sa->sa_family == AF_INET6) {
        struct sockaddr_in6 in6;
        memcpy(&in6, sa, sizeof(in6));
        return is_loopback_v6(&in6.sin6_addr);
    }
    return false;
}

bool hb_client_url_is_loopback(const struct hb_client_url *url)
{
    if (strcasecmp(url->host, "localhost") == 0)
        return true;
    struct in_addr a4;
    struct in6_addr a6;
    if (!url->is_ipv6 && inet_pton(AF_INET, url->host, &a4) == 1)
        return is_loopback_v4(&a4);
    if (url->is_ipv6 && inet_pton(AF_INET6, url->host, &a6) == 1)
        return is_loopback_v6(&a6);
    return false;
}

bool hb_client_url_same_origin(const struct hb_client_url *a, const struct hb_client_url *b)
{
    return a->port == b->port && strcasecmp(a->host, b->host) == 0;
}

int hb_client_url_resolve(const struct hb_client_url *url, struct sockaddr_storage *addr,
                          socklen_t *addr_len)
{
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV | AI_ADDRCONFIG;
    char port[8];
    snprintf(port, sizeof(port), "%d", url->port);
    int rc = getaddrinfo(url->host, port, &hints, &res);
    if (rc != 0) {
        /* AI_ADDRCONFIG hides ::1 on hosts with no IPv6 route; try again without it. */
        hints.ai_flags = AI_NUMERICSERV;
        rc = getaddrinfo(url->host, port, &hints, &res);
    }
    if (rc != 0 || res == NULL)
        return HB_ENOTFOUND;
    bool must_be_loopback = hb_client_url_is_loopback(url);
    int err = HB_EPERM;
    for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
        if (must_be_loopback && !is_loopback_addr(ai->ai_addr))
            continue;
        if (ai->ai_addrlen > sizeof(*addr))
            continue;
        memcpy(addr, ai->ai_addr, ai->ai_addrlen);
        *addr_len = ai->ai_addrlen;
        err = 0;
        break;
    }
    freeaddrinfo(res);
    return err;
}

void hb_client_url_format_addr(const struct sockaddr *addr, char *out, size_t out_len)
{
    char host[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (addr->sa_family == AF_INET) {
        struct sockaddr_in in;
        memcpy(&in, addr, sizeof(in));
        inet_ntop(AF_INET, &in.sin_addr, host, sizeof(host));
        port = ntohs(in.sin_port);
        snprintf(out, out_len, "%s:%d", host, port);
    } else if (addr->sa_family == AF_INET6) {
        struct sockaddr_in6 in6;
        memcpy(&in6, addr, sizeof(in6));
        inet_ntop(AF_INET6, &in6.sin6_addr, host, sizeof(host));
        port = ntohs(in6.sin6_port);
        snprintf(out, out_len, "[%s]:%d", host, port);
    } else {
        snprintf(out, out_len, "?");
    }
}
