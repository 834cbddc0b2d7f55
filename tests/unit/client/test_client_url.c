/* SPDX-License-Identifier: MIT */
/* Tests for target URLs (src/client/client_url.c): what parses, what is refused and why, and
 * the loopback policy that keeps `hiroba bench` from loading other machines by accident. */
#include <netinet/in.h>
#include <string.h>

#include "client/client_url.h"
#include "core/err.h"
#include "unit.h"

static struct hb_client_url parse_ok(const char *text)
{
    struct hb_client_url url;
    const char *reason = NULL;
    int err = hb_client_url_parse(&url, text, &reason);
    if (err != 0)
        HB_FAIL_("'%s': %s", text, reason ? reason : "?");
    return url;
}

static const char *parse_bad(const char *text)
{
    struct hb_client_url url;
    const char *reason = NULL;
    int err = hb_client_url_parse(&url, text, &reason);
    if (err != HB_EINVAL || reason == NULL)
        HB_FAIL_("'%s' parsed (err %d)", text, err);
    return reason;
}

HB_TEST(client_url, parses_host_port_target)
{
    struct hb_client_url u = parse_ok("http://127.0.0.1:8000/hello/?x=1#frag");
    ASSERT_EQ_STR(u.host, "127.0.0.1");
    ASSERT_EQ_INT(u.port, 8000);
    ASSERT_EQ_STR(u.target, "/hello/?x=1");
    ASSERT_EQ_STR(u.host_header, "127.0.0.1:8000");

    u = parse_ok("HTTP://localhost");
    ASSERT_EQ_STR(u.host, "localhost");
    ASSERT_EQ_INT(u.port, 80);
    ASSERT_EQ_STR(u.target, "/");
    ASSERT_EQ_STR(u.host_header, "localhost");

    u = parse_ok("http://[::1]:9000?q");
    ASSERT_EQ_STR(u.host, "::1");
    ASSERT(u.is_ipv6);
    ASSERT_EQ_STR(u.target, "/?q");
    ASSERT_EQ_STR(u.host_header, "[::1]:9000");
}

HB_TEST(client_url, refuses_bad_urls)
{
    ASSERT(strstr(parse_bad("https://127.0.0.1/"), "only http://") != NULL);
    ASSERT(strstr(parse_bad("ftp://127.0.0.1/"), "only http://") != NULL);
    ASSERT(strstr(parse_bad("127.0.0.1:8000/hello/"), "expected http://") != NULL);
    parse_bad("http://");
    parse_bad("http:///path");
    parse_bad("http://127.0.0.1:/");
    parse_bad("http://127.0.0.1:0/");
    parse_bad("http://127.0.0.1:65536/");
    parse_bad("http://127.0.0.1:80x/");
    parse_bad("http://user@127.0.0.1/");
    parse_bad("http://[::1/");
    parse_bad("http://[zz::1]/");
    parse_bad("http://bad host/");
    parse_bad("http://127.0.0.1/a b");
    parse_bad("http://127.0.0.1/a\x01");
}

HB_TEST(client_url, loopback_policy)
{
    static const char *const loopback[] = {"http://127.0.0.1/",      "http://127.1.2.3:1/",
                                           "http://localhost:8000/", "http://LocalHost/",
                                           "http://[::1]/",          "http://[::ffff:127.0.0.1]/"};
    static const char *const remote[] = {"http://10.0.0.1/",
                                         "http://192.0.2.1/",
                                         "http://0.0.0.0/",
                                         "http://example.com/",
                                         "http://localhost.example.com/",
                                         "http://[::2]/",
                                         "http://128.0.0.1/"};
    for (size_t i = 0; i < sizeof(loopback) / sizeof(loopback[0]); i++) {
        struct hb_client_url u = parse_ok(loopback[i]);
        if (!hb_client_url_is_loopback(&u))
            HB_FAIL_("'%s' should be loopback", loopback[i]);
    }
    for (size_t i = 0; i < sizeof(remote) / sizeof(remote[0]); i++) {
        struct hb_client_url u = parse_ok(remote[i]);
        if (hb_client_url_is_loopback(&u))
            HB_FAIL_("'%s' should not be loopback", remote[i]);
    }
}

HB_TEST(client_url, same_origin)
{
    struct hb_client_url a = parse_ok("http://127.0.0.1:8000/hello/");
    struct hb_client_url b = parse_ok("http://127.0.0.1:8000/test/");
    struct hb_client_url c = parse_ok("http://127.0.0.1:8001/test/");
    struct hb_client_url d = parse_ok("http://localhost:8000/test/");
    ASSERT(hb_client_url_same_origin(&a, &b));
    ASSERT(!hb_client_url_same_origin(&a, &c));
    ASSERT(!hb_client_url_same_origin(&a, &d));
}

HB_TEST(client_url, resolves_literals)
{
    struct hb_client_url u = parse_ok("http://127.0.0.1:8123/");
    struct sockaddr_storage ss;
    socklen_t len = 0;
    ASSERT_EQ_INT(hb_client_url_resolve(&u, &ss, &len), 0);
    ASSERT_EQ_INT(ss.ss_family, AF_INET);
    char text[64];
    hb_client_url_format_addr((struct sockaddr *)&ss, text, sizeof(text));
    ASSERT_EQ_STR(text, "127.0.0.1:8123");

    u = parse_ok("http://localhost:8123/");
    ASSERT_EQ_INT(hb_client_url_resolve(&u, &ss, &len), 0);
    hb_client_url_format_addr((struct sockaddr *)&ss, text, sizeof(text));
    ASSERT(strcmp(text, "127.0.0.1:8123") == 0 || strcmp(text, "[::1]:8123") == 0);
}
