/* SPDX-License-Identifier: MIT */
/* HS256 JSON Web Tokens compatible with djangorestframework-simplejwt (auth layer, API.md §10.2).
 * Sans-I/O: tokens are minted into caller buffers and checked against a caller-supplied clock.
 * Decoding is strict and runs in bounded time and stack: a token over HB_JWT_MAX_TOKEN_LEN
 * bytes, any deviation from canonical base64url, an alg other than exactly "HS256", a header or
 * payload that is not a UTF-8 JSON object without duplicate keys, or a signature that does not
 * match (compared in constant time) is refused with SimpleJWT's reason text.
 * The blacklist and the expected-type check ("Token has wrong type") belong to the caller. */
#ifndef HB_AUTH_JWT_H
#define HB_AUTH_JWT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Secrets shorter than this are refused (API.md §10.2). */
#define HB_JWT_MIN_SECRET_LEN 32
/* Tokens longer than this are refused before any decoding. */
#define HB_JWT_MAX_TOKEN_LEN 8192
/* A minted jti: 128 random bits as lowercase hex. */
#define HB_JWT_JTI_LEN 32
/* The longest jti accepted from a token (token_blacklist_outstandingtoken.jti is varchar(255)). */
#define HB_JWT_JTI_MAX 255
/* Enough for any token hb_jwt_encode() writes, NUL included. */
#define HB_JWT_ENCODED_MAX 1024

/* The reasons SimpleJWT gives, word for word (API.md §10.2). The last two are produced by the
 * caller, which checks the blacklist and the expected token type. */
#define HB_JWT_REASON_INVALID     "Token is invalid or expired"
#define HB_JWT_REASON_NO_EXP      "Token has no 'exp' claim"
#define HB_JWT_REASON_NO_ID       "Token has no id"
#define HB_JWT_REASON_NO_TYPE     "Token has no type"
#define HB_JWT_REASON_WRONG_TYPE  "Token has wrong type"
#define HB_JWT_REASON_BLACKLISTED "Token is blacklisted"

/* The signing key. A value type: embed it or keep it on the stack; it owns no memory.
 * Secrets longer than the SHA-256 block are stored pre-hashed, as HMAC itself does (RFC 2104
 * §2), so any secret length fits. */
struct hb_jwt_key {
    unsigned char _bytes[64];
    size_t _len;
};

/* Copies secret[0..len) into key. Returns 0, or HB_EINVAL if len < HB_JWT_MIN_SECRET_LEN
 * (key is then zeroed and unusable). secret may be freed afterwards. */
int hb_jwt_key_init(struct hb_jwt_key *key, const void *secret, size_t len);

/* Wipes the key material. */
void hb_jwt_key_release(struct hb_jwt_key *key);

enum hb_jwt_type {
    HB_JWT_TYPE_MISSING = 0, /* no token_type claim */
    HB_JWT_TYPE_ACCESS,      /* "access" */
    HB_JWT_TYPE_REFRESH,     /* "refresh" */
    HB_JWT_TYPE_OTHER,       /* any other value, string or not: always the wrong type */
};

enum hb_jwt_user {
    HB_JWT_USER_MISSING = 0, /* no user_id claim */
    HB_JWT_USER_OK,          /* a JSON integer, or a string of 1 to 18 ASCII digits */
    HB_JWT_USER_INVALID,     /* present but neither (float, other string, object, ...) */
};

/* The claims hiroba reads and writes. Other claims in a decoded token (aud, iss, custom) are
 * checked for JSON validity and otherwise ignored, as SimpleJWT does. */
struct hb_jwt_claims {
    enum hb_jwt_type token_type;
    int64_t exp;  /* Unix seconds; always present in a token that decodes */
    bool has_iat; /* iat is optional in a decoded token; hb_jwt_encode() requires it */
    int64_t iat;
    bool has_jti;
    char jti[HB_JWT_JTI_MAX + 1]; /* NUL-terminated UTF-8, valid when has_jti */
    enum hb_jwt_user user_state;
    int64_t user_id; /* valid when user_state == HB_JWT_USER_OK */
};

/* Fills out[0..HB_JWT_JTI_LEN] with 32 lowercase hex digits from the OpenSSL CSPRNG and a NUL.
 * Returns 0, or HB_EIO if the generator failed (out then holds an empty string). */
int hb_jwt_jti_generate(char out[HB_JWT_JTI_LEN + 1]);

/* Mints a token: the header exactly {"alg":"HS256","typ":"JWT"}, then the payload
 * {"token_type":..,"exp":..,"iat":..,"jti":"..","user_id":..} in that order, compact, as
 * SimpleJWT writes it. claims must have token_type ACCESS or REFRESH, has_iat and has_jti set,
 * a jti of 1 to HB_JWT_JTI_MAX characters from [0-9A-Za-z_-], and user_state HB_JWT_USER_OK.
 * Writes the NUL-terminated token into out[0..out_cap) and its length into *out_len (if not
 * NULL). Returns 0, HB_EINVAL for claims that break those rules (or a key that
 * hb_jwt_key_init() refused), HB_ETOOLARGE if out_cap is too small (HB_JWT_ENCODED_MAX always
 * suffices), or HB_EIO if OpenSSL's HMAC failed. Thread-safe. */
int hb_jwt_encode(const struct hb_jwt_key *key, const struct hb_jwt_claims *claims, char *out,
                  size_t out_cap, size_t *out_len);

/* Decodes and verifies token[0..len) (not NUL-terminated) at Unix time now, in the order of
 * API.md §10.2 steps 1, 2, 4 and 5:
 *   1. three base64url segments, a JSON object header with "alg" exactly "HS256" (any typ, kid
 *      ignored but a string if present, as PyJWT requires), an HMAC-SHA256 signature that
 *      matches;
 *   2. a JSON object payload; "exp" a number greater than now ("nbf", if present, a number not
 *      greater than now; "iat", if present, a number); a fractional number counts as its
 *      integer part, as PyJWT's int() makes it;
 *   4. "jti" present;
 *   5. "token_type" present.
 * Returns 0 when all hold; out is then filled and *reason set to NULL. Otherwise returns
 * HB_EAUTH and points *reason at the static reason text of the first failed check
 * (HB_JWT_REASON_INVALID, _NO_EXP, _NO_ID or _NO_TYPE). A jti that is not a string of at most
 * HB_JWT_JTI_MAX bytes without NUL counts as invalid (it could not be blacklisted).
 * For _NO_ID and _NO_TYPE, out is filled as far as the token allows (has_jti tells), so a caller
 * that must check the blacklist before the type (step 3) can. Returns HB_EIO, with the invalid
 * reason, if OpenSSL's HMAC failed. out is unspecified on any failure other than those two.
 * Thread-safe; uses about 12 KiB of stack and no heap. */
int hb_jwt_decode(const struct hb_jwt_key *key, const char *token, size_t len, int64_t now,
                  struct hb_jwt_claims *out, const char **reason);

#endif
