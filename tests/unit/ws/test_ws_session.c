/* SPDX-License-Identifier: MIT */
/* Unit tests for ws_session: client frames built and masked here, fed whole, split and a byte at
 * a time; the server's answers compared byte for byte; every protocol violation of RFC 6455 with
 * the close code API.md §6.7 names; shared payload refcounts; idle memory. */
#include <malloc.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"
#include "unit.h"
#include "ws/ws_session.h"

/* ---- A tiny client -------------------------------------------------------------------------- */

static const uint8_t mask_key[4] = {0x37, 0xfa, 0x21, 0x3d};

/* Appends one client frame to out: FIN, RSV bits, opcode, masked or not, the minimal length
 * encoding unless len_form forces 126 or 127. */
static void frame_ex(struct hb_buf *out, int fin, int rsv, int op, const void *payload, size_t len,
                     int masked, int len_form)
{
    uint8_t hdr[14];
    size_t n = 0;
    const uint8_t *p = payload;

    hdr[n++] = (uint8_t)((fin ? 0x80 : 0) | (rsv << 4) | op);
    int form = len_form ? len_form : len < 126 ? 0 : len <= 0xffff ? 126 : 127;
    uint8_t m = masked ? 0x80 : 0;
    if (form == 0) {
        hdr[n++] = (uint8_t)(m | len);
    } else if (form == 126) {
        hdr[n++] = (uint8_t)(m | 126);
        hdr[n++] = (uint8_t)(len >> 8);
        hdr[n++] = (uint8_t)len;
    } else {
        hdr[n++] = (uint8_t)(m | 127);
        for (int i = 0; i < 8; i++)
            hdr[n++] = (uint8_t)((uint64_t)len >> (56 - 8 * i));
    }
    if (masked) {
        memcpy(hdr + n, mask_key, 4);
        n += 4;
    }
    ASSERT_EQ_INT(hb_buf_append(out, hdr, n), 0);
    for (size_t i = 0; i < len; i++) {
        char c = (char)(masked ? p[i] ^ mask_key[i % 4] : p[i]);
        ASSERT_EQ_INT(hb_buf_append_char(out, c), 0);
    }
}

static void frame(struct hb_buf *out, int fin, int op, const void *payload, size_t len)
{
    frame_ex(out, fin, 0, op, payload, len, 1, 0);
}

static void close_frame(struct hb_buf *out, int code, const char *reason, size_t reason_len)
{
    uint8_t payload[125] = {(uint8_t)(code >> 8), (uint8_t)code};
    memcpy(payload + 2, reason, reason_len);
    frame(out, 1, 0x8, payload, 2 + reason_len);
}

/* ---- The app side ------------------------------------------------------------------------- */

static struct {
    int n_text, n_binary, n_close, close_code;
    size_t last_len;
    char last[HB_WS_MAX_MESSAGE_LEN + 1];
    int close_in_text; /* when set, on_text closes the session with this code */
} rec;

static void on_text(struct hb_ws_session *s, const char *data, size_t len)
{
    rec.n_text++;
    memcpy(rec.last, data, len);
    rec.last[len] = '\0';
    rec.last_len = len;
    if (rec.close_in_text != 0)
        ASSERT_EQ_INT(hb_ws_session_close(s, rec.close_in_text, "bye", 3), 0);
}

static void on_binary(struct hb_ws_session *s, const char *data, size_t len)
{
    (void)s;
    rec.n_binary++;
    memcpy(rec.last, data, len);
    rec.last_len = len;
}

static void on_close(struct hb_ws_session *s, int code)
{
    ASSERT_EQ_INT(hb_ws_session_state(s), HB_WS_CLOSED);
    rec.n_close++;
    rec.close_code = code;
}

static struct hb_ws_session *new_session(void)
{
    struct hb_ws_session_config cfg = {
        .on_text = on_text, .on_binary = on_binary, .on_close = on_close, .user = &rec};
    memset(&rec, 0, sizeof(rec));
    return hb_ws_session_create(&cfg);
}

/* Feeds data in pieces of step bytes (0: all at once); returns the last result. */
static int feed(struct hb_ws_session *s, const struct hb_buf *in, size_t step)
{
    int err = 0;
    if (step == 0)
        return hb_ws_session_feed(s, in->data, in->len);
    for (size_t off = 0; off < in->len; off += step) {
        size_t n = in->len - off < step ? in->len - off : step;
        err = hb_ws_session_feed(s, in->data + off, n);
    }
    return err;
}

/* Checks that the session queued exactly the bytes want[0..len). */
static void expect_output(struct hb_ws_session *s, const void *want, size_t len)
{
    struct hb_buf out;
    hb_buf_init(&out, 1 << 20);
    ASSERT_EQ_INT(hb_ws_session_flush(s, &out), 0);
    ASSERT_EQ_INT(out.len, len);
    ASSERT(len == 0 || memcmp(out.data, want, len) == 0);
    ASSERT_EQ_INT(hb_ws_session_queued_bytes(s), 0);
    ASSERT_EQ_INT(hb_ws_session_queued_frames(s), 0);
    hb_buf_release(&out);
}

#define EXPECT_OUTPUT(s, lit) expect_output((s), (lit), sizeof(lit) - 1)

/* A violation fails the session at once with code and err, queues exactly one close frame, and
 * stays failed. */
static void expect_failure(const struct hb_buf *in, size_t step, int code, int err)
{
    struct hb_ws_session *s = new_session();
    uint8_t close_bytes[4] = {0x88, 0x02, (uint8_t)(code >> 8), (uint8_t)code};

    ASSERT_EQ_INT(feed(s, in, step), err);
    ASSERT_EQ_INT(hb_ws_session_state(s), HB_WS_CLOSED);
    ASSERT_EQ_INT(hb_ws_session_error(s), err);
    ASSERT_EQ_INT(hb_ws_session_close_code(s), code);
    ASSERT_EQ_INT(rec.n_close, 1);
    ASSERT_EQ_INT(rec.close_code, code);
    ASSERT_EQ_INT(rec.n_text, 0);
    expect_output(s, close_bytes, 4);
    /* Sticky: more input changes nothing and sends nothing. */
    ASSERT_EQ_INT(hb_ws_session_feed(s, "\x81\x80\0\0\0\0", 6), err);
    ASSERT_EQ_INT(hb_ws_session_send_text(s, "x", 1), HB_ECLOSED);
    expect_output(s, "", 0);
    ASSERT_EQ_INT(rec.n_close, 1);
    hb_ws_session_destroy(s);
}

static void expect_failure_all_splits(const struct hb_buf *in, int code, int err)
{
    expect_failure(in, 0, code, err);
    expect_failure(in, 1, code, err);
    expect_failure(in, 3, code, err);
}

/* ---- Messages ------------------------------------------------------------------------------ */

HB_TEST(ws_session, masked_text_frame)
{
    struct hb_ws_session *s = new_session();
    struct hb_buf in;
    hb_buf_init(&in, 1 << 20);
    frame(&in, 1, 0x1, "{\"message\":\"こんにちは\"}", strlen("{\"message\":\"こんにちは\"}"));

    ASSERT_EQ_INT(feed(s, &in, 0), 0);
    ASSERT_EQ_INT(rec.n_text, 1);
    ASSERT_EQ_STR(rec.last, "{\"message\":\"こんにちは\"}");
    ASSERT_EQ_INT(hb_ws_session_state(s), HB_WS_OPEN);
    expect_output(s, "", 0);
    ASSERT(hb_ws_session_user(s) == &rec);
    hb_ws_session_destroy(s);
    hb_buf_release(&in);
}

HB_TEST(ws_session, several_messages_in_one_read_and_empty_message)
{
    struct hb_ws_session *s = new_session();
    struct hb_buf in;
    hb_buf_init(&in, 1 << 20);
    frame(&in, 1, 0x1, "one", 3);
    frame(&in, 1, 0x1, "", 0);
    frame(&in, 1, 0x2, "\x00\x01", 2);
    frame(&in, 1, 0x1, "three", 5);

    ASSERT_EQ_INT(feed(s, &in, 0), 0);
    ASSERT_EQ_INT(rec.n_text, 3);
    ASSERT_EQ_INT(rec.n_binary, 1);
    ASSERT_EQ_STR(rec.last, "three");
    hb_ws_session_destroy(s);
    hb_buf_release(&in);
}

HB_TEST(ws_session, fragmented_message)
{
    for (size_t step = 0; step <= 7; step++) {
        struct hb_ws_session *s = new_session();
        struct hb_buf in;
        hb_buf_init(&in, 1 << 20);
        frame(&in, 0, 0x1, "Hel", 3);
        frame(&in, 0, 0x0, "", 0);
        frame(&in, 0, 0x0, "lo, \xe3\x81", 6); /* a character split across fragments */
        frame(&in, 1, 0x0, "\x93 world", 7);

        ASSERT_EQ_INT(feed(s, &in, step), 0);
        ASSERT_EQ_INT(rec.n_text, 1);
        ASSERT_EQ_STR(rec.last, "Hello, \xe3\x81\x93 world");
        ASSERT_EQ_INT(hb_ws_session_state(s), HB_WS_OPEN);
        hb_ws_session_destroy(s);
        hb_buf_release(&in);
    }
}

HB_TEST(ws_session, fragments_fed_byte_at_a_time)
{
    struct hb_ws_session *s = new_session();
    struct hb_buf in;
    char big[3000];
    hb_buf_init(&in, 1 << 20);
    memset(big, 'a', sizeof(big));
    frame(&in, 0, 0x2, big, 200);
    frame(&in, 1, 0x0, big, sizeof(big)); /* 126 length form */
    frame(&in, 1, 0x1, "after", 5);

    ASSERT_EQ_INT(feed(s, &in, 1), 0);
    ASSERT_EQ_INT(rec.n_binary, 1);
    ASSERT_EQ_INT(rec.n_text, 1);
    ASSERT_EQ_STR(rec.last, "after");
    hb_ws_session_destroy(s);
    hb_buf_release(&in);
}

HB_TEST(ws_session, ping_gets_pong_even_between_fragments)
{
    struct hb_ws_session *s = new_session();
    struct hb_buf in;
    hb_buf_init(&in, 1 << 20);
    frame(&in, 1, 0x9, "hi", 2);
    ASSERT_EQ_INT(feed(s, &in, 0), 0);
    EXPECT_OUTPUT(s, "\x8a\x02hi");

    hb_buf_reset(&in);
    frame(&in, 0, 0x1, "ab", 2);
    frame(&in, 1, 0x9, "", 0);
    frame(&in, 1, 0xa, "unsolicited", 11); /* pongs are ignored */
    frame(&in, 1, 0x0, "cd", 2);
    ASSERT_EQ_INT(feed(s, &in, 1), 0);
    EXPECT_OUTPUT(s, "\x8a\x00");
    ASSERT_EQ_INT(rec.n_text, 1);
    ASSERT_EQ_STR(rec.last, "abcd");
    hb_ws_session_destroy(s);
    hb_buf_release(&in);
}

HB_TEST(ws_session, message_of_exactly_64k_is_delivered)
{
    static char big[HB_WS_MAX_MESSAGE_LEN];
    struct hb_ws_session *s = new_session();
    struct hb_buf in;
    hb_buf_init(&in, 1 << 20);
    memset(big, 'x', sizeof(big));
    frame(&in, 0, 0x1, big, 1000);
    frame(&in, 1, 0x0, big, sizeof(big) - 1000);
    ASSERT_EQ_INT(feed(s, &in, 0), 0);
    ASSERT_EQ_INT(rec.n_text, 1);
    ASSERT_EQ_INT(rec.last_len, HB_WS_MAX_MESSAGE_LEN);

    hb_buf_reset(&in);
    frame(&in, 1, 0x2, big, sizeof(big)); /* one 64 KiB frame, 127 length form not needed */
    ASSERT_EQ_INT(feed(s, &in, 1000), 0);
    ASSERT_EQ_INT(rec.n_binary, 1);
    ASSERT_EQ_INT(rec.last_len, HB_WS_MAX_MESSAGE_LEN);
    hb_ws_session_destroy(s);
    hb_buf_release(&in);
}

/* ---- Violations ---------------------------------------------------------------------------- */

HB_TEST(ws_session, message_over_64k_is_1009)
{
    static char big[HB_WS_MAX_MESSAGE_LEN + 1];
    struct hb_buf in;
    hb_buf_init(&in, 1 << 20);
    frame(&in, 1, 0x1, big, sizeof(big));
    expect_failure_all_splits(&in, 1009, HB_ETOOLARGE);

    /* Over the limit only after reassembly. */
    hb_buf_reset(&in);
    frame(&in, 0, 0x1, big, 40000);
    frame(&in, 1, 0x0, big, sizeof(big) - 40000);
    expect_failure(&in, 0, 1009, HB_ETOOLARGE);
    expect_failure(&in, 4096, 1009, HB_ETOOLARGE);

    /* Fail fast: the header alone is enough, the payload need not arrive. */
    hb_buf_reset(&in);
    frame_ex(&in, 1, 0, 0x2, "", 0, 1, 127);
    in.data[1] = (char)0xff;
    memcpy(in.data + 2, "\x00\x00\x00\x00\x00\x01\x00\x01", 8); /* 65537 */
    expect_failure(&in, 0, 1009, HB_ETOOLARGE);
    hb_buf_release(&in);
}

HB_TEST(ws_session, unmasked_frame_is_1002)
{
    struct hb_buf in;
    hb_buf_init(&in, 1 << 20);
    frame_ex(&in, 1, 0, 0x1, "hello", 5, 0, 0);
    expect_failure_all_splits(&in, 1002, HB_EPROTO);
    hb_buf_release(&in);
}

HB_TEST(ws_session, reserved_bits_are_1002)
{
    for (int rsv = 1; rsv <= 7; rsv++) {
        struct hb_buf in;
        hb_buf_init(&in, 1 << 20);
        frame_ex(&in, 1, rsv, 0x1, "hello", 5, 1, 0);
        expect_failure_all_splits(&in, 1002, HB_EPROTO);
        hb_buf_release(&in);
    }
}

HB_TEST(ws_session, unknown_opcodes_are_1002)
{
    static const int ops[] = {0x3, 0x4, 0x5, 0x6, 0x7, 0xb, 0xc, 0xd, 0xe, 0xf};
    for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
        struct hb_buf in;
        hb_buf_init(&in, 1 << 20);
        frame(&in, 1, ops[i], "", 0);
        expect_failure_all_splits(&in, 1002, HB_EPROTO);
        hb_buf_release(&in);
    }
}

HB_TEST(ws_session, control_frame_over_125_is_1002)
{
    char payload[126] = {0};
    struct hb_buf in;
    hb_buf_init(&in, 1 << 20);
    frame(&in, 1, 0x9, payload, 126);
    expect_failure_all_splits(&in, 1002, HB_EPROTO);
    hb_buf_reset(&in);
    frame(&in, 1, 0x8, payload, 126);
    expect_failure_all_splits(&in, 1002, HB_EPROTO);

    /* 125 is fine. */
    struct hb_ws_session *s = new_session();
    hb_buf_reset(&in);
    frame(&in, 1, 0x9, payload, 125);
    ASSERT_EQ_INT(feed(s, &in, 0), 0);
    ASSERT_EQ_INT(hb_ws_session_queued_bytes(s), 127);
    hb_ws_session_destroy(s);
    hb_buf_release(&in);
}

HB_TEST(ws_session, fragmented_control_frame_is_1002)
{
    struct hb_buf in;
    hb_buf_init(&in, 1 << 20);
    frame(&in, 0, 0x9, "hi", 2);
    expect_failure_all_splits(&in, 1002, HB_EPROTO);
    hb_buf_reset(&in);
    frame(&in, 0, 0x8, "\x03\xe8", 2);
    expect_failure_all_splits(&in, 1002, HB_EPROTO);
    hb_buf_release(&in);
}

HB_TEST(ws_session, bad_fragment_sequences_are_1002)
{
    struct hb_buf in;
    hb_buf_init(&in, 1 << 20);
    frame(&in, 1, 0x0, "orphan", 6); /* continuation with nothing to continue */
    expect_failure_all_splits(&in, 1002, HB_EPROTO);

    hb_buf_reset(&in);
    frame(&in, 0, 0x1, "a", 1);
    frame(&in, 1, 0x1, "b", 1); /* a new message inside a fragmented one */
    expect_failure_all_splits(&in, 1002, HB_EPROTO);
    hb_buf_release(&in);
}

HB_TEST(ws_session, non_minimal_length_is_1002)
{
    struct hb_buf in;
    hb_buf_init(&in, 1 << 20);
    frame_ex(&in, 1, 0, 0x1, "short", 5, 1, 126);
    expect_failure_all_splits(&in, 1002, HB_EPROTO);
    hb_buf_reset(&in);
    frame_ex(&in, 1, 0, 0x1, "short", 5, 1, 127);
    expect_failure_all_splits(&in, 1002, HB_EPROTO);
    hb_buf_release(&in);
}

HB_TEST(ws_session, invalid_utf8_is_1007)
{
    static const char *const bad[] = {
        "\xff",             /* never valid */
        "abc\xc0\xaf",      /* overlong */
        "\xed\xa0\x80",     /* surrogate */
        "\xf4\x90\x80\x80", /* past U+10FFFF */
        "ok\xe3\x81",       /* truncated at the end of the message */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct hb_buf in;
        hb_buf_init(&in, 1 << 20);
        frame(&in, 1, 0x1, bad[i], strlen(bad[i]));
        expect_failure_all_splits(&in, 1007, HB_EPROTO);
        hb_buf_release(&in);
    }

    /* Truncated in the final fragment. */
    struct hb_buf in;
    hb_buf_init(&in, 1 << 20);
    frame(&in, 0, 0x1, "ok", 2);
    frame(&in, 1, 0x0, "\xe3\x81", 2);
    expect_failure_all_splits(&in, 1007, HB_EPROTO);
    hb_buf_release(&in);
}

HB_TEST(ws_session, invalid_utf8_fails_fast_before_fin)
{
    for (size_t step = 0; step <= 2; step++) {
        struct hb_buf in;
        hb_buf_init(&in, 1 << 20);
        frame(&in, 0, 0x1, "ok \xff more", 9); /* FIN not set, nothing more sent */
        expect_failure(&in, step, 1007, HB_EPROTO);
        hb_buf_release(&in);
    }

    /* Invalid bytes in the middle of a long first fragment: the close is queued as soon as they
     * arrive, before the rest of the frame. */
    static char big[5000];
    memset(big, 'a', sizeof(big));
    big[100] = (char)0xc0;
    struct hb_ws_session *s = new_session();
    struct hb_buf in;
    hb_buf_init(&in, 1 << 20);
    frame(&in, 0, 0x1, big, sizeof(big));
    ASSERT_EQ_INT(hb_ws_session_feed(s, in.data, 120), HB_EPROTO);
    ASSERT_EQ_INT(rec.close_code, 1007);
    EXPECT_OUTPUT(s, "\x88\x02\x03\xef");
    hb_ws_session_destroy(s);
    hb_buf_release(&in);
}

HB_TEST(ws_session, binary_is_not_utf8_checked)
{
    struct hb_ws_session *s = new_session();
    struct hb_buf in;
    hb_buf_init(&in, 1 << 20);
    frame(&in, 1, 0x2, "\xff\xfe", 2);
    ASSERT_EQ_INT(feed(s, &in, 0), 0);
    ASSERT_EQ_INT(rec.n_binary, 1);
    ASSERT_EQ_INT(rec.last_len, 2);
    hb_ws_session_destroy(s);
    hb_buf_release(&in);
}

/* ---- Closing ------------------------------------------------------------------------------- */

HB_TEST(ws_session, client_close_is_echoed)
{
    static const int codes[] = {1000, 1001, 1003, 1007, 1011, 1013, 3000, 4999};
    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
        for (size_t step = 0; step <= 1; step++) {
            struct hb_ws_session *s = new_session();
            struct hb_buf in;
            hb_buf_init(&in, 1 << 20);
            close_frame(&in, codes[i], "bye \xc3\xa9", 6);
            frame(&in, 1, 0x1, "after close", 11); /* ignored */

            ASSERT_EQ_INT(feed(s, &in, step), HB_ECLOSED);
            ASSERT_EQ_INT(hb_ws_session_error(s), 0);
            ASSERT_EQ_INT(rec.n_close, 1);
            ASSERT_EQ_INT(rec.close_code, codes[i]);
            ASSERT_EQ_INT(rec.n_text, 0);
            uint8_t want[4] = {0x88, 0x02, (uint8_t)(codes[i] >> 8), (uint8_t)codes[i]};
            expect_output(s, want, 4);
            ASSERT_EQ_INT(hb_ws_session_send_text(s, "x", 1), HB_ECLOSED);
            ASSERT_EQ_INT(hb_ws_session_close(s, 1000, NULL, 0), HB_ECLOSED);
            hb_ws_session_destroy(s);
            hb_buf_release(&in);
        }
    }
}

HB_TEST(ws_session, client_close_without_code_gets_1000)
{
    struct hb_ws_session *s = new_session();
    struct hb_buf in;
    hb_buf_init(&in, 1 << 20);
    frame(&in, 1, 0x8, "", 0);
    ASSERT_EQ_INT(feed(s, &in, 0), HB_ECLOSED);
    EXPECT_OUTPUT(s, "\x88\x02\x03\xe8");
    ASSERT_EQ_INT(rec.close_code, 1000);
    hb_ws_session_destroy(s);
    hb_buf_release(&in);
}

HB_TEST(ws_session, invalid_close_codes_are_1002)
{
    static const int codes[] = {0, 999, 1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000, 65535};
    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
        struct hb_buf in;
        hb_buf_init(&in, 1 << 20);
        close_frame(&in, codes[i], "", 0);
        expect_failure_all_splits(&in, 1002, HB_EPROTO);
        hb_buf_release(&in);
    }
}

HB_TEST(ws_session, close_payload_of_one_byte_is_1002)
{
    struct hb_buf in;
    hb_buf_init(&in, 1 << 20);
    frame(&in, 1, 0x8, "\x03", 1);
    expect_failure_all_splits(&in, 1002, HB_EPROTO);
    hb_buf_release(&in);
}

HB_TEST(ws_session, close_reason_invalid_utf8_is_1002)
{
    struct hb_buf in;
    hb_buf_init(&in, 1 << 20);
    close_frame(&in, 1000, "ok\xff", 3);
    expect_failure_all_splits(&in, 1002, HB_EPROTO);
    hb_buf_reset(&in);
    close_frame(&in, 1000, "\xe3\x81", 2); /* truncated */
    expect_failure_all_splits(&in, 1002, HB_EPROTO);
    hb_buf_release(&in);
}

HB_TEST(ws_session, server_close_waits_for_the_client)
{
    struct hb_ws_session *s = new_session();
    struct hb_buf in;
    hb_buf_init(&in, 1 << 20);

    ASSERT_EQ_INT(hb_ws_session_send_text(s, "last", 4), 0);
    ASSERT_EQ_INT(hb_ws_session_close(s, 1000 + 13, "slow", 4), 0);
    ASSERT_EQ_INT(hb_ws_session_state(s), HB_WS_CLOSING);
    ASSERT_EQ_INT(hb_ws_session_close(s, 1000, NULL, 0), HB_ECLOSED);
    ASSERT_EQ_INT(hb_ws_session_send_text(s, "x", 1), HB_ECLOSED);
    ASSERT_EQ_INT(hb_ws_session_ping(s, "", 0), HB_ECLOSED);
    EXPECT_OUTPUT(s, "\x81\x04last\x88\x06\x03\xf5slow");

    /* Messages and pings in flight are ignored; the client's close ends the session. */
    frame(&in, 1, 0x1, "late", 4);
    frame(&in, 1, 0x9, "p", 1);
    ASSERT_EQ_INT(feed(s, &in, 0), 0);
    ASSERT_EQ_INT(rec.n_text, 0);
    ASSERT_EQ_INT(rec.n_close, 0);
    hb_buf_reset(&in);
    close_frame(&in, 1000, "", 0);
    ASSERT_EQ_INT(feed(s, &in, 1), HB_ECLOSED);
    ASSERT_EQ_INT(rec.n_close, 1);
    ASSERT_EQ_INT(rec.close_code, 1013);
    expect_output(s, "", 0);
    hb_ws_session_destroy(s);
    hb_buf_release(&in);
}

HB_TEST(ws_session, close_in_the_middle_of_a_message)
{
    struct hb_ws_session *s = new_session();
    struct hb_buf in;
    hb_buf_init(&in, 1 << 20);
    frame(&in, 0, 0x1, "part one ", 9);
    frame(&in, 1, 0x0, "part two", 8);
    size_t first = 2 + 4 + 9 + 3; /* the first frame and part of the second */

    ASSERT_EQ_INT(hb_ws_session_feed(s, in.data, first), 0);
    ASSERT(hb_ws_session_memory(s) > 9000); /* wslay's context is alive mid-message */
    ASSERT_EQ_INT(hb_ws_session_close(s, 1013, NULL, 0), 0);
    ASSERT(hb_ws_session_memory(s) < 1024); /* and given back at once */
    ASSERT_EQ_INT(hb_ws_session_feed(s, in.data + first, in.len - first), 0);
    ASSERT_EQ_INT(rec.n_text, 0); /* the rest of the message is ignored */
    hb_buf_reset(&in);
    frame(&in, 1, 0x8, "", 0);
    ASSERT_EQ_INT(feed(s, &in, 0), HB_ECLOSED);
    ASSERT_EQ_INT(rec.close_code, 1013);
    EXPECT_OUTPUT(s, "\x88\x02\x03\xf5");
    hb_ws_session_destroy(s);
    hb_buf_release(&in);
}

HB_TEST(ws_session, close_from_a_callback)
{
    struct hb_ws_session *s = new_session();
    struct hb_buf in;
    hb_buf_init(&in, 1 << 20);
    rec.close_in_text = 4400;
    frame(&in, 1, 0x1, "not json", 8);
    frame(&in, 1, 0x9, "x", 1); /* no pong after our close */
    frame(&in, 1, 0x1, "second", 6);
    ASSERT_EQ_INT(feed(s, &in, 0), 0);
    ASSERT_EQ_INT(rec.n_text, 1);
    EXPECT_OUTPUT(s, "\x88\x05\x11\x30"
                     "bye");
    ASSERT_EQ_INT(hb_ws_session_state(s), HB_WS_CLOSING);
    hb_ws_session_destroy(s); /* never answered: on_close does not run */
    ASSERT_EQ_INT(rec.n_close, 0);
    hb_buf_release(&in);
}

HB_TEST(ws_session, close_arguments_are_checked)
{
    struct hb_ws_session *s = new_session();
    char reason[124];
    memset(reason, 'r', sizeof(reason));
    ASSERT_EQ_INT(hb_ws_session_close(s, 1005, NULL, 0), HB_EINVAL);
    ASSERT_EQ_INT(hb_ws_session_close(s, 999, NULL, 0), HB_EINVAL);
    ASSERT_EQ_INT(hb_ws_session_close(s, 1000, reason, 124), HB_EINVAL);
    ASSERT_EQ_INT(hb_ws_session_close(s, 1000, "\xff", 1), HB_EINVAL);
    ASSERT_EQ_INT(hb_ws_session_ping(s, reason, 126), HB_EINVAL);
    ASSERT_EQ_INT(hb_ws_session_state(s), HB_WS_OPEN);
    ASSERT_EQ_INT(hb_ws_session_close(s, 1001, reason, 123), 0);
    ASSERT_EQ_INT(hb_ws_session_queued_bytes(s), 2 + 125);
    hb_ws_session_destroy(s);
}

HB_TEST(ws_session, abort_reports_1006_once)
{
    struct hb_ws_session *s = new_session();
    hb_ws_session_abort(s);
    ASSERT_EQ_INT(rec.n_close, 1);
    ASSERT_EQ_INT(rec.close_code, 1006);
    ASSERT_EQ_INT(hb_ws_session_feed(s, "\x81", 1), HB_ECLOSED);
    hb_ws_session_abort(s);
    ASSERT_EQ_INT(rec.n_close, 1);
    hb_ws_session_destroy(s);

    /* After a close of our own, the code we sent. */
    s = new_session();
    ASSERT_EQ_INT(hb_ws_session_close(s, 1001, NULL, 0), 0);
    hb_ws_session_abort(s);
    ASSERT_EQ_INT(rec.close_code, 1001);
    hb_ws_session_destroy(s);
}

/* ---- Output -------------------------------------------------------------------------------- */

HB_TEST(ws_session, send_text_is_an_unmasked_server_frame)
{
    static char big[70000];
    struct hb_ws_session *s = new_session();
    struct hb_buf out;

    ASSERT_EQ_INT(hb_ws_session_send_text(s, "hello", 5), 0);
    ASSERT_EQ_INT(hb_ws_session_ping(s, "hb", 2), 0);
    EXPECT_OUTPUT(s, "\x81\x05hello\x89\x02hb");

    memset(big, 'z', sizeof(big));
    ASSERT_EQ_INT(hb_ws_session_send_text(s, big, 300), 0);
    ASSERT_EQ_INT(hb_ws_session_send_text(s, big, 70000), 0);
    ASSERT_EQ_INT(hb_ws_session_queued_frames(s), 2);
    ASSERT_EQ_INT(hb_ws_session_queued_bytes(s), 4 + 300 + 10 + 70000);
    hb_buf_init(&out, 1 << 20);
    ASSERT_EQ_INT(hb_ws_session_flush(s, &out), 0);
    ASSERT_EQ_MEM(out.data, 4, "\x81\x7e\x01\x2c");
    ASSERT(memcmp(out.data + 304, "\x81\x7f\0\0\0\0\0\x01\x11\x70", 10) == 0);
    ASSERT_EQ_INT(out.len, 4 + 300 + 10 + 70000);
    hb_buf_release(&out);

    /* A buffer too small for the queue: nothing is taken. */
    ASSERT_EQ_INT(hb_ws_session_send_text(s, "hello", 5), 0);
    hb_buf_init(&out, 6);
    ASSERT_EQ_INT(hb_ws_session_flush(s, &out), HB_ETOOLARGE);
    ASSERT_EQ_INT(out.len, 0);
    ASSERT_EQ_INT(hb_ws_session_queued_bytes(s), 7);
    hb_buf_release(&out);
    hb_ws_session_destroy(s);
}

HB_TEST(ws_session, shared_payload_refcount)
{
    struct hb_ws_session *a = new_session(), *b = new_session();
    struct hb_ws_msg *msg = hb_ws_msg_create(HB_WS_OP_TEXT, "{\"id\":1}", 8);

    ASSERT_EQ_INT(hb_ws_msg_frame_len(msg), 10);
    ASSERT_EQ_INT(hb_ws_session_send_msg(a, msg), 0);
    ASSERT_EQ_INT(hb_ws_session_send_msg(b, msg), 0);
    ASSERT_EQ_INT(hb_ws_session_send_msg(b, msg), 0);
    hb_ws_msg_unref(msg); /* the queues keep it alive */

    /* Zero-copy: both sessions point at the same bytes. */
    struct hb_ws_iov iov_a[4], iov_b[4];
    size_t len_a, len_b;
    ASSERT_EQ_INT(hb_ws_session_take_output(a, iov_a, 4, &len_a), 1);
    ASSERT_EQ_INT(hb_ws_session_take_output(b, iov_b, 1, &len_b), 1);
    ASSERT(iov_a[0].base == iov_b[0].base);
    ASSERT_EQ_MEM(iov_a[0].base, iov_a[0].len, "\x81\x08{\"id\":1}");
    ASSERT_EQ_INT(len_a, 10);
    ASSERT(!hb_ws_session_want_write(a));
    ASSERT(hb_ws_session_want_write(b));

    /* Short writes: the frame stays queued (and referenced) until its last byte. */
    hb_ws_session_written(a, 3);
    ASSERT_EQ_INT(hb_ws_session_queued_bytes(a), 7);
    ASSERT_EQ_INT(hb_ws_session_queued_frames(a), 1);
    hb_ws_session_written(a, 7);
    ASSERT_EQ_INT(hb_ws_session_queued_frames(a), 0);
    hb_ws_session_destroy(a);

    /* b still holds two references; a second take is outstanding with the first. */
    ASSERT_EQ_INT(hb_ws_session_take_output(b, iov_b + 1, 3, &len_b), 1);
    ASSERT_EQ_MEM(iov_b[0].base, iov_b[0].len, "\x81\x08{\"id\":1}");
    hb_ws_session_written(b, 10);
    ASSERT_EQ_INT(hb_ws_session_queued_frames(b), 1);
    hb_ws_session_destroy(b); /* drops the last reference: ASan reports any leak */
}

HB_TEST(ws_session, pong_queued_after_taken_output_keeps_order)
{
    struct hb_ws_session *s = new_session();
    struct hb_buf in;
    struct hb_ws_iov iov[4];
    size_t len;
    hb_buf_init(&in, 1 << 20);

    ASSERT_EQ_INT(hb_ws_session_send_text(s, "a", 1), 0);
    ASSERT_EQ_INT(hb_ws_session_take_output(s, iov, 4, &len), 1);
    frame(&in, 1, 0x9, "p", 1);
    ASSERT_EQ_INT(feed(s, &in, 0), 0);
    ASSERT_EQ_INT(hb_ws_session_queued_frames(s), 2);
    ASSERT_EQ_INT(hb_ws_session_take_output(s, iov + 1, 3, &len), 1);
    ASSERT_EQ_MEM(iov[1].base, iov[1].len, "\x8a\x01p");
    hb_ws_session_written(s, 3 + 3);
    ASSERT_EQ_INT(hb_ws_session_queued_bytes(s), 0);
    hb_ws_session_destroy(s);
    hb_buf_release(&in);
}

/* ---- Memory -------------------------------------------------------------------------------- */

HB_TEST(ws_session, idle_session_is_small)
{
    static char big[50000];
    struct hb_buf in;
    hb_buf_init(&in, 1 << 20);
    ASSERT_EQ_INT(hb_buf_reserve(&in, sizeof(big) + 100), 0); /* allocated before measuring */
    memset(big, 'm', sizeof(big));

    struct mallinfo2 before = mallinfo2();
    struct hb_ws_session *s = new_session();
    size_t idle = hb_ws_session_memory(s);
    ASSERT(idle <= 1024);

    /* Mid-message, wslay's context and the reassembly buffer exist... */
    frame(&in, 0, 0x1, big, sizeof(big));
    ASSERT_EQ_INT(feed(s, &in, 7000), 0);
    ASSERT(hb_ws_session_memory(s) > 50000);
    /* ...and are given back once it is delivered. */
    hb_buf_reset(&in);
    frame(&in, 1, 0x0, "!", 1);
    frame(&in, 1, 0x9, "", 0);
    ASSERT_EQ_INT(feed(s, &in, 0), 0);
    ASSERT_EQ_INT(rec.last_len, sizeof(big) + 1);
    expect_output(s, "\x8a\x00", 2);
    ASSERT_EQ_INT(hb_ws_session_memory(s), idle);

    /* Measured by the allocator too (glibc; zero under ASan, which replaces it). */
    struct mallinfo2 after = mallinfo2();
    if (before.uordblks != 0)
        ASSERT(after.uordblks - before.uordblks <= 1024);
    hb_ws_session_destroy(s);
    hb_buf_release(&in);
}
