/* SPDX-License-Identifier: MIT */
/* Base64 encoding and strict decoding (core layer, RFC 4648), libc only.
 * Three forms are supported: the standard alphabet with '=' padding (Django's pbkdf2 hashes,
 * Sec-WebSocket-Accept), the standard alphabet without padding (the salt and hash of a PHC
 * argon2 string) and the URL-safe alphabet without padding (JWT segments, RFC 7515 §2).
 * Decoding accepts only the canonical text of some byte string: the wrong alphabet, whitespace,
 * missing or extra padding, and non-zero trailing bits are all refused, so each byte string has
 * exactly one accepted encoding. */
#ifndef HB_CORE_BASE64_H
#define HB_CORE_BASE64_H

#include <stddef.h>

enum hb_base64_mode {
    HB_BASE64_STD,       /* RFC 4648 §4 alphabet (+/), padded with '=' to a multiple of 4 */
    HB_BASE64_STD_NOPAD, /* RFC 4648 §4 alphabet (+/), no padding */
    HB_BASE64_URL,       /* RFC 4648 §5 alphabet (-_), no padding */
};

/* Returns the length of the text that encoding len bytes produces in mode, not counting the
 * NUL. len must be below SIZE_MAX / 4 * 3 (asserted). */
size_t hb_base64_encoded_len(enum hb_base64_mode mode, size_t len);

/* Returns an upper bound on the number of bytes that decoding text_len characters produces
 * (exact for canonical text in the unpadded modes). */
size_t hb_base64_decoded_max(size_t text_len);

/* Encodes src[0..len) into out, followed by a NUL. out_cap counts the NUL, so it must be at
 * least hb_base64_encoded_len(mode, len) + 1. src may be NULL when len is 0.
 * Returns 0 and stores the text length (without the NUL) in *out_len if out_len is not NULL,
 * or HB_ETOOLARGE if out is too small (out is then left unspecified). */
int hb_base64_encode(enum hb_base64_mode mode, const void *src, size_t len, char *out,
                     size_t out_cap, size_t *out_len);

/* Decodes the text src[0..len) (not NUL-terminated) into out[0..out_cap).
 * Returns 0 and stores the number of bytes written in *out_len, HB_EINVAL if src is not the
 * canonical encoding of a byte string in mode (a character outside the alphabet, whitespace,
 * '=' where the mode has no padding or in the wrong place, a length that no byte string
 * encodes to, or non-zero bits after the last byte), or HB_ETOOLARGE if the result does not
 * fit in out_cap bytes. An empty src decodes to zero bytes. On failure out may have been
 * partly written. */
int hb_base64_decode(enum hb_base64_mode mode, const char *src, size_t len, void *out,
                     size_t out_cap, size_t *out_len);

#endif
