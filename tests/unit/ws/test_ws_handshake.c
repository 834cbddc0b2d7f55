/* SPDX-License-Identifier: MIT */
/* Unit tests for ws_handshake: the RFC 6455 accept example, each rejection of API.md §6.1 in its
 * order, and the two subprotocol modes of §6.2. */
#include "core/buf.h"
#include "core/err.h"
#include "core/str.h"
#include "unit.h"
#include "ws/ws_handshake.h"

#define KEY "dGhlIHNhbXBsZSBub25jZQ==" /* RFC 6455 §1.3 */

/* A valid upgrade offering protos[0..n). */
static struct hb_ws_handshake_request good_request(const struct hb_str *protos, size_t n)
{
    return (struct hb_ws_handshake_request){
        .method = HB_STR("GET"),
        .upgrade = HB_STR("websocket"),
        .connection = HB_STR("Upgrade"),
        .version = HB_STR("13"),
        .key = HB_STR(KEY),
        .protocols = protos,
        .n_protocols = n,
    };
}

static void expect_reject(const struct hb_ws_handshake_request *req, int status,
                          const char *header_name, const char *header_value)
{
    struct hb_ws_handshake hs;
    int err = hb_ws_handshake_check(req, &hs);
    ASSERT_EQ_INT(err, status == 403 ? HB_EPERM : HB_EPROTO);
    ASSERT_EQ_INT(hs.status, status);
    if (header_name == NULL) {
        ASSERT(hs.reject_header_name == NULL);
    } else {
        ASSERT_EQ_STR(hs.reject_header_name, header_name);
        ASSERT_EQ_STR(hs.reject_header_value, header_value);
    }
}

HB_TEST(ws_handshake, rfc6455_accept_example)
{
    char accept[HB_WS_ACCEPT_LEN + 1];
    ASSERT_EQ_INT(hb_ws_handshake_accept(HB_STR(KEY), accept), 0);
    ASSERT_EQ_STR(accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

HB_TEST(ws_handshake, seed_mode_echoes_first_entry)
{
    struct hb_str protos[] = {HB_STR(" eyJhbGciOiJIUzI1NiJ9.e30.sig , other")};
    struct hb_ws_handshake_request req = good_request(protos, 1);
    struct hb_ws_handshake hs;

    ASSERT_EQ_INT(hb_ws_handshake_check(&req, &hs), 0);
    ASSERT_EQ_INT(hs.status, 101);
    ASSERT_EQ_INT(hs.mode, HB_WS_MODE_SEED);
    ASSERT_EQ_MEM(hs.token.ptr, hs.token.len, "eyJhbGciOiJIUzI1NiJ9.e30.sig");
    ASSERT_EQ_MEM(hs.protocol.ptr, hs.protocol.len, "eyJhbGciOiJIUzI1NiJ9.e30.sig");
    ASSERT(hs.protocol.ptr == hs.token.ptr); /* the same bytes, not a copy */
    ASSERT_EQ_STR(hs.accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");

    struct hb_buf out;
    hb_buf_init(&out, 4096);
    ASSERT_EQ_INT(hb_ws_handshake_write_response(&hs, &out), 0);
    ASSERT_EQ_STR(out.data, "HTTP/1.1 101 Switching Protocols\r\n"
                            "Upgrade: websocket\r\n"
                            "Connection: Upgrade\r\n"
                            "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
                            "Sec-WebSocket-Protocol: eyJhbGciOiJIUzI1NiJ9.e30.sig\r\n"
                            "\r\n");
    hb_buf_release(&out);
}

HB_TEST(ws_handshake, seed_mode_skips_empty_entries_and_headers)
{
    struct hb_str protos[] = {HB_STR(""), HB_STR(" , ,tok"), HB_STR("second")};
    struct hb_ws_handshake_request req = good_request(protos, 3);
    struct hb_ws_handshake hs;

    ASSERT_EQ_INT(hb_ws_handshake_check(&req, &hs), 0);
    ASSERT_EQ_INT(hs.mode, HB_WS_MODE_SEED);
    ASSERT_EQ_MEM(hs.token.ptr, hs.token.len, "tok");
    ASSERT_EQ_MEM(hs.protocol.ptr, hs.protocol.len, "tok");
}

HB_TEST(ws_handshake, v1_mode_in_one_header)
{
    struct hb_str protos[] = {HB_STR("hiroba.v1, jwt.a.b")};
    struct hb_ws_handshake_request req = good_request(protos, 1);
    struct hb_ws_handshake hs;

    ASSERT_EQ_INT(hb_ws_handshake_check(&req, &hs), 0);
    ASSERT_EQ_INT(hs.mode, HB_WS_MODE_V1);
    ASSERT_EQ_MEM(hs.token.ptr, hs.token.len, "jwt.a.b");
    ASSERT_EQ_MEM(hs.protocol.ptr, hs.protocol.len, "hiroba.v1");

    struct hb_buf out;
    hb_buf_init(&out, 4096);
    ASSERT_EQ_INT(hb_ws_handshake_write_response(&hs, &out), 0);
    ASSERT(strstr(out.data, "\r\nSec-WebSocket-Protocol: hiroba.v1\r\n\r\n") != NULL);
    ASSERT(strstr(out.data, "jwt") == NULL); /* the token is never echoed in v1 mode */
    hb_buf_release(&out);
}

HB_TEST(ws_handshake, v1_mode_anywhere_across_headers)
{
    struct hb_str protos[] = {HB_STR("jwt.first"), HB_STR("other, hiroba.v1")};
    struct hb_ws_handshake_request req = good_request(protos, 2);
    struct hb_ws_handshake hs;

    ASSERT_EQ_INT(hb_ws_handshake_check(&req, &hs), 0);
    ASSERT_EQ_INT(hs.mode, HB_WS_MODE_V1);
    ASSERT_EQ_MEM(hs.token.ptr, hs.token.len, "jwt.first");
    ASSERT_EQ_MEM(hs.protocol.ptr, hs.protocol.len, "hiroba.v1");
}

HB_TEST(ws_handshake, v1_is_case_sensitive)
{
    struct hb_str protos[] = {HB_STR("Hiroba.V1, jwt")};
    struct hb_ws_handshake_request req = good_request(protos, 1);
    struct hb_ws_handshake hs;

    ASSERT_EQ_INT(hb_ws_handshake_check(&req, &hs), 0);
    ASSERT_EQ_INT(hs.mode, HB_WS_MODE_SEED);
    ASSERT_EQ_MEM(hs.token.ptr, hs.token.len, "Hiroba.V1");
}

HB_TEST(ws_handshake, no_subprotocol_is_403)
{
    struct hb_ws_handshake_request req = good_request(NULL, 0);
    expect_reject(&req, 403, NULL, NULL);

    struct hb_str blank[] = {HB_STR(" , "), HB_STR("")};
    req = good_request(blank, 2);
    expect_reject(&req, 403, NULL, NULL);

    struct hb_str only_v1[] = {HB_STR("hiroba.v1"), HB_STR("hiroba.v1")};
    req = good_request(only_v1, 2);
    expect_reject(&req, 403, NULL, NULL);

    /* Bytes that must not be copied into a response header. */
    struct hb_str unsafe[] = {HB_STR("to ken")};
    req = good_request(unsafe, 1);
    expect_reject(&req, 403, NULL, NULL);
}

HB_TEST(ws_handshake, not_an_upgrade_is_426)
{
    struct hb_str protos[] = {HB_STR("tok")};
    struct hb_ws_handshake_request req = good_request(protos, 1);

    req.upgrade = HB_STR_NULL;
    expect_reject(&req, 426, "Upgrade", "websocket");
    req.upgrade = HB_STR("h2c");
    expect_reject(&req, 426, "Upgrade", "websocket");
    req.upgrade = HB_STR("WebSocket");
    req.connection = HB_STR("keep-alive");
    expect_reject(&req, 426, "Upgrade", "websocket");
    req.connection = HB_STR_NULL;
    expect_reject(&req, 426, "Upgrade", "websocket");

    /* Token lists and case do not matter. */
    struct hb_ws_handshake hs;
    req.connection = HB_STR("keep-alive, Upgrade");
    req.upgrade = HB_STR("foo/1, WEBSOCKET");
    ASSERT_EQ_INT(hb_ws_handshake_check(&req, &hs), 0);

    /* Checked first: a POST that is not an upgrade is still a 426. */
    req = good_request(protos, 1);
    req.method = HB_STR("POST");
    req.upgrade = HB_STR_NULL;
    expect_reject(&req, 426, "Upgrade", "websocket");
}

HB_TEST(ws_handshake, version_not_13_is_426)
{
    struct hb_str protos[] = {HB_STR("tok")};
    struct hb_ws_handshake_request req = good_request(protos, 1);
    struct hb_ws_handshake hs;

    req.version = HB_STR_NULL;
    expect_reject(&req, 426, "Sec-WebSocket-Version", "13");
    req.version = HB_STR("8");
    expect_reject(&req, 426, "Sec-WebSocket-Version", "13");
    req.version = HB_STR("13, 8");
    expect_reject(&req, 426, "Sec-WebSocket-Version", "13");
    req.version = HB_STR(" 13 ");
    ASSERT_EQ_INT(hb_ws_handshake_check(&req, &hs), 0);

    /* Checked before the key and the method. */
    req = good_request(protos, 1);
    req.version = HB_STR("12");
    req.key = HB_STR_NULL;
    req.method = HB_STR("POST");
    expect_reject(&req, 426, "Sec-WebSocket-Version", "13");
}

HB_TEST(ws_handshake, bad_key_or_method_is_400)
{
    static const char *const bad_keys[] = {
        "",
        "dGhlIHNhbXBsZSBub25jZQ=",     /* too short */
        "dGhlIHNhbXBsZSBub25jZQ===",   /* too long */
        "dGhlIHNhbXBsZSBub25jZQAA",    /* no padding: 18 bytes */
        "dGhlIHNhbXBsZSBub25jZR==",    /* non-canonical last character */
        "dGhlIHNhbXBsZSBub2!jZQ==",    /* outside the alphabet */
        "dGhlIHNhbXBsZSBub25j",        /* 15 bytes */
        "dGhlIHNhbXBsZSBub25jZQ==dGhl" /* trailing garbage */
    };
    struct hb_str protos[] = {HB_STR("tok")};
    struct hb_ws_handshake_request req = good_request(protos, 1);

    req.key = HB_STR_NULL;
    expect_reject(&req, 400, NULL, NULL);
    for (size_t i = 0; i < sizeof(bad_keys) / sizeof(bad_keys[0]); i++) {
        req.key = hb_str_from(bad_keys[i]);
        expect_reject(&req, 400, NULL, NULL);
    }

    req = good_request(protos, 1);
    req.method = HB_STR("POST");
    expect_reject(&req, 400, NULL, NULL);
    req.method = HB_STR("get");
    expect_reject(&req, 400, NULL, NULL);

    /* Checked before the subprotocol. */
    req = good_request(NULL, 0);
    req.key = HB_STR("short");
    expect_reject(&req, 400, NULL, NULL);

    /* Surrounding whitespace is not part of the key. */
    struct hb_ws_handshake hs;
    req = good_request(protos, 1);
    req.key = HB_STR(" " KEY "\t");
    ASSERT_EQ_INT(hb_ws_handshake_check(&req, &hs), 0);
    ASSERT_EQ_STR(hs.accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

HB_TEST(ws_handshake, response_respects_buffer_cap)
{
    struct hb_str protos[] = {HB_STR("tok")};
    struct hb_ws_handshake_request req = good_request(protos, 1);
    struct hb_ws_handshake hs;
    struct hb_buf out;

    ASSERT_EQ_INT(hb_ws_handshake_check(&req, &hs), 0);
    hb_buf_init(&out, 64);
    ASSERT_EQ_INT(hb_buf_append_str(&out, "x"), 0);
    ASSERT_EQ_INT(hb_ws_handshake_write_response(&hs, &out), HB_ETOOLARGE);
    ASSERT_EQ_STR(out.data, "x");
    hb_buf_release(&out);
}
