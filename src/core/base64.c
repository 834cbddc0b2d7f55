/* SPDX-License-Identifier: MIT */
/* Base64 (RFC 4648) for the core layer: table-driven encode, and a decoder that accepts only
 * canonical text. Decoding runs in time linear in the input and never reads past src + len;
 * it is used on untrusted bytes (JWT segments) before any signature is checked. */
#include "core/base64.h"

#include <assert.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/err.h"

static const char std_alphabet[64] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char url_alphabet[64] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Maps a character to its 6-bit value in the given alphabet, or -1. Written as a function
 * rather than a 256-entry table per alphabet; the branches are cheap next to HMAC. */
static int sextet(enum hb_base64_mode mode, unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (mode == HB_BASE64_URL) {
        if (c == '-')
            return 62;
        if (c == '_')
            return 63;
    } else {
        if (c == '+')
            return 62;
        if (c == '/')
            return 63;
    }
    return -1;
}

size_t hb_base64_encoded_len(enum hb_base64_mode mode, size_t len)
{
    assert(len < SIZE_MAX / 4 * 3);
    size_t full = len / 3, rest = len % 3;
    if (mode == HB_BASE64_STD)
        return (full + (rest != 0)) * 4;
    return full * 4 + (rest == 0 ? 0 : rest + 1);
}

size_t hb_base64_decoded_max(size_t text_len)
{
    return text_len / 4 * 3 + (text_len % 4 * 3) / 4;
}

int hb_base64_encode(enum hb_base64_mode mode, const void *src, size_t len, char *out,
                     size_t out_cap, size_t *out_len)
{
    const unsigned char *in = src;
    const char *alphabet = mode == HB_BASE64_URL ? url_alphabet : std_alphabet;
    size_t need = hb_base64_encoded_len(mode, len);
    size_t o = 0, i = 0;

    if (out_cap == 0 || need > out_cap - 1)
        return HB_ETOOLARGE;
    for (; len - i >= 3; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = alphabet[v >> 18];
        out[o++] = alphabet[(v >> 12) & 63];
        out[o++] = alphabet[(v >> 6) & 63];
        out[o++] = alphabet[v & 63];
    }
    if (len - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;
        out[o++] = alphabet[v >> 18];
        out[o++] = alphabet[(v >> 12) & 63];
        if (mode == HB_BASE64_STD) {
            out[o++] = '=';
            out[o++] = '=';
        }
    } else if (len - i == 2) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
        out[o++] = alphabet[v >> 18];
        out[o++] = alphabet[(v >> 12) & 63];
        out[o++] = alphabet[(v >> 6) & 63];
        if (mode == HB_BASE64_STD)
            out[o++] = '=';
    }
    assert(o == need);
    out[o] = '\0';
    if (out_len != NULL)
        *out_len = o;
    return 0;
}

int hb_base64_decode(enum hb_base64_mode mode, const char *src, size_t len, void *out,
                     size_t out_cap, size_t *out_len)
{
    const unsigned char *in = (const unsigned char *)src;
    unsigned char *dst = out;
    size_t n_data = len, o = 0;

    if (mode == HB_BASE64_STD) {
        /* Padded text is whole quads; at most two '=' and only at the very end. */
        if (len % 4 != 0)
            return HB_EINVAL;
        if (len > 0 && in[len - 1] == '=')
            n_data--;
        if (len > 1 && in[len - 2] == '=')
            n_data--;
        if (n_data % 4 == 1)
            return HB_EINVAL;
    } else if (len % 4 == 1) {
        /* One leftover character carries only 6 bits: no byte string encodes to it. */
        return HB_EINVAL;
    }
    if (hb_base64_decoded_max(n_data) > out_cap)
        return HB_ETOOLARGE;

    uint32_t acc = 0;
    int n_bits = 0;
    for (size_t i = 0; i < n_data; i++) {
        int v = sextet(mode, in[i]);
        if (v < 0)
            return HB_EINVAL;
        acc = (acc << 6 | (uint32_t)v) & 0xffffff;
        n_bits += 6;
        if (n_bits >= 8) {
            n_bits -= 8;
            dst[o++] = (unsigned char)(acc >> n_bits);
        }
    }
    /* RFC 4648 §3.5: the pad bits of the last character must be zero, or several texts would
     * decode to the same bytes (and a signature could be "re-encoded" without changing it). */
    if (n_bits > 0 && (acc & ((1u << n_bits) - 1)) != 0)
        return HB_EINVAL;
    *out_len = o;
    return 0;
}
