/* SPDX-License-Identifier: MIT */
/* Unit tests for core/base64: the RFC 4648 §10 vectors in all three modes, round trips over
 * every length and byte value, and the strict decoder's refusals. */
#include "core/base64.h"
#include "core/err.h"
#include "unit.h"

/* RFC 4648 §10, plus the unpadded forms the other two modes produce. */
static const struct {
    const char *raw, *std, *nopad;
} rfc4648[] = {
    {"", "", ""},
    {"f", "Zg==", "Zg"},
    {"fo", "Zm8=", "Zm8"},
    {"foo", "Zm9v", "Zm9v"},
    {"foob", "Zm9vYg==", "Zm9vYg"},
    {"fooba", "Zm9vYmE=", "Zm9vYmE"},
    {"foobar", "Zm9vYmFy", "Zm9vYmFy"},
};

static void expect_decode(enum hb_base64_mode mode, const char *text, const char *want)
{
    char out[64];
    size_t n = 12345;
    int err = hb_base64_decode(mode, text, strlen(text), out, sizeof(out), &n);
    if (err != 0)
        HB_FAIL_("decode '%s' (mode %d): %s", text, (int)mode, hb_err_name(err));
    ASSERT_EQ_MEM(out, n, want);
}

static void expect_reject(enum hb_base64_mode mode, const char *text)
{
    char out[64];
    size_t n;
    int err = hb_base64_decode(mode, text, strlen(text), out, sizeof(out), &n);
    if (err != HB_EINVAL)
        HB_FAIL_("decode '%s' (mode %d): got %s, want HB_EINVAL", text, (int)mode,
                 hb_err_name(err));
}

HB_TEST(base64, rfc4648_vectors)
{
    for (size_t i = 0; i < sizeof(rfc4648) / sizeof(rfc4648[0]); i++) {
        const char *raw = rfc4648[i].raw;
        char out[32];
        size_t n = 99;

        ASSERT_EQ_INT(hb_base64_encode(HB_BASE64_STD, raw, strlen(raw), out, sizeof(out), &n), 0);
        ASSERT_EQ_STR(out, rfc4648[i].std);
        ASSERT_EQ_INT(n, strlen(rfc4648[i].std));
        ASSERT_EQ_INT(hb_base64_encoded_len(HB_BASE64_STD, strlen(raw)), n);
        ASSERT_EQ_INT(hb_base64_encode(HB_BASE64_STD_NOPAD, raw, strlen(raw), out, sizeof(out), &n),
                      0);
        ASSERT_EQ_STR(out, rfc4648[i].nopad);
        ASSERT_EQ_INT(hb_base64_encode(HB_BASE64_URL, raw, strlen(raw), out, sizeof(out), &n), 0);
        ASSERT_EQ_STR(out, rfc4648[i].nopad);
        ASSERT_EQ_INT(hb_base64_encoded_len(HB_BASE64_URL, strlen(raw)), n);

        expect_decode(HB_BASE64_STD, rfc4648[i].std, raw);
        expect_decode(HB_BASE64_STD_NOPAD, rfc4648[i].nopad, raw);
        expect_decode(HB_BASE64_URL, rfc4648[i].nopad, raw);
    }
}

HB_TEST(base64, alphabets_differ)
{
    /* 0xfb 0xff encodes to the characters for 62 and 63 in every position that matters. */
    const char raw[] = "\xfb\xff\xbf";
    char out[16];

    ASSERT_EQ_INT(hb_base64_encode(HB_BASE64_STD, raw, 3, out, sizeof(out), NULL), 0);
    ASSERT_EQ_STR(out, "+/+/");
    ASSERT_EQ_INT(hb_base64_encode(HB_BASE64_URL, raw, 3, out, sizeof(out), NULL), 0);
    ASSERT_EQ_STR(out, "-_-_");
    expect_decode(HB_BASE64_STD, "+/+/", raw);
    expect_decode(HB_BASE64_URL, "-_-_", raw);
    expect_reject(HB_BASE64_STD, "-_-_");
    expect_reject(HB_BASE64_STD_NOPAD, "-_-_");
    expect_reject(HB_BASE64_URL, "+/+/");
}

HB_TEST(base64, round_trip_every_length_and_byte)
{
    unsigned char raw[300], back[300];
    char text[512];
    const enum hb_base64_mode modes[] = {HB_BASE64_STD, HB_BASE64_STD_NOPAD, HB_BASE64_URL};

    for (size_t i = 0; i < sizeof(raw); i++)
        raw[i] = (unsigned char)(i * 7 + 3);
    for (size_t m = 0; m < 3; m++) {
        for (size_t len = 0; len <= sizeof(raw); len++) {
            size_t n, n_back;
            ASSERT_EQ_INT(hb_base64_encode(modes[m], raw, len, text, sizeof(text), &n), 0);
            ASSERT_EQ_INT(n, hb_base64_encoded_len(modes[m], len));
            ASSERT(hb_base64_decoded_max(n) >= len);
            ASSERT_EQ_INT(hb_base64_decode(modes[m], text, n, back, sizeof(back), &n_back), 0);
            ASSERT_EQ_INT(n_back, len);
            ASSERT(memcmp(raw, back, len) == 0);
        }
    }
}

HB_TEST(base64, strict_decode_refusals)
{
    /* Padding where the mode has none, or in the wrong place, or missing. */
    expect_reject(HB_BASE64_URL, "Zg==");
    expect_reject(HB_BASE64_URL, "Zm8=");
    expect_reject(HB_BASE64_STD_NOPAD, "Zg==");
    expect_reject(HB_BASE64_STD, "Zg");
    expect_reject(HB_BASE64_STD, "Zg=");
    expect_reject(HB_BASE64_STD, "Zg===");
    expect_reject(HB_BASE64_STD, "Z===");
    expect_reject(HB_BASE64_STD, "====");
    expect_reject(HB_BASE64_STD, "Zg=A");
    expect_reject(HB_BASE64_STD, "Zg==Zm8=");
    /* Whitespace, NUL and foreign characters. */
    expect_reject(HB_BASE64_URL, "Zm9v YmFy");
    expect_reject(HB_BASE64_URL, "Zm9v\nYmFy");
    expect_reject(HB_BASE64_URL, " Zm9");
    expect_reject(HB_BASE64_STD, "Zm9v\r\n");
    expect_reject(HB_BASE64_URL, "Zm9v.A");
    expect_reject(HB_BASE64_URL, "Zm\xc3\xa9");
    char with_nul[] = "Zm\0v";
    char out[8];
    size_t n;
    ASSERT_EQ_INT(hb_base64_decode(HB_BASE64_URL, with_nul, 4, out, sizeof(out), &n), HB_EINVAL);
    /* A length no byte string encodes to. */
    expect_reject(HB_BASE64_URL, "Z");
    expect_reject(HB_BASE64_URL, "Zm9vY");
    /* Non-zero bits after the last byte: "Zh" and "Zm9" are "Zg" and "Zm8" with one pad bit set. */
    expect_reject(HB_BASE64_URL, "Zh");
    expect_reject(HB_BASE64_URL, "Zm9");
    expect_reject(HB_BASE64_STD, "Zh==");
    expect_reject(HB_BASE64_STD, "Zm9=");
    expect_reject(HB_BASE64_STD_NOPAD, "Zh");
}

HB_TEST(base64, capacity_limits)
{
    char out[8];
    size_t n;

    /* Encoding needs room for the NUL. */
    ASSERT_EQ_INT(hb_base64_encode(HB_BASE64_STD, "foo", 3, out, 4, &n), HB_ETOOLARGE);
    ASSERT_EQ_INT(hb_base64_encode(HB_BASE64_STD, "foo", 3, out, 5, &n), 0);
    ASSERT_EQ_INT(hb_base64_encode(HB_BASE64_STD, "", 0, out, 0, &n), HB_ETOOLARGE);
    ASSERT_EQ_INT(hb_base64_encode(HB_BASE64_STD, NULL, 0, out, 1, &n), 0);
    ASSERT_EQ_STR(out, "");
    /* Decoding refuses output that does not fit. */
    ASSERT_EQ_INT(hb_base64_decode(HB_BASE64_URL, "Zm9vYmFy", 8, out, 5, &n), HB_ETOOLARGE);
    ASSERT_EQ_INT(hb_base64_decode(HB_BASE64_URL, "Zm9vYmFy", 8, out, 6, &n), 0);
    ASSERT_EQ_MEM(out, n, "foobar");
    ASSERT_EQ_INT(hb_base64_decode(HB_BASE64_URL, "", 0, out, 0, &n), 0);
    ASSERT_EQ_INT(n, 0);
}
