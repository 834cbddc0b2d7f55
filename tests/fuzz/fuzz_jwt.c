/* SPDX-License-Identifier: MIT */
/* libFuzzer target for auth_jwt and core/base64. Each input is used three ways: as a token as
 * it stands (structure, base64url, header JSON, signature check); as a payload and as a header
 * JSON document, signed here with the fixed key so the fuzzer reaches the payload parser that a
 * forged token never gets to; and as base64 text in every mode. Invariants are checked with
 * abort(): base64 decoding is canonical (re-encoding gives the input back), and a token that
 * decodes re-encodes to one that decodes to the same claims. */
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth_jwt.h"
#include "core/base64.h"
#include "core/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char SECRET[] = "hiroba-test-secret-key-0123456789-abcdefghij";
static const char HS256_HEADER[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
static const char GOOD_PAYLOAD[] = "{\"token_type\":\"access\",\"exp\":4102444800,\"jti\":\"a\"}";
static const int64_t NOW = 1736812500;

#define MAX_FUZZ_LEN HB_JWT_MAX_TOKEN_LEN

static void check(int cond)
{
    if (!cond)
        abort();
}

static bool same_claims(const struct hb_jwt_claims *a, const struct hb_jwt_claims *b)
{
    return a->token_type == b->token_type && a->exp == b->exp && a->has_iat == b->has_iat &&
           (!a->has_iat || a->iat == b->iat) && a->has_jti == b->has_jti &&
           strcmp(a->jti, b->jti) == 0 && a->user_state == b->user_state &&
           a->user_id == b->user_id;
}

static void decode_token(const struct hb_jwt_key *key, const char *tok, size_t len)
{
    struct hb_jwt_claims claims, again;
    const char *reason = "unset";
    int err = hb_jwt_decode(key, tok, len, NOW, &claims, &reason);

    if (err != 0) {
        check(err == HB_EAUTH && reason != NULL);
        return;
    }
    check(reason == NULL && claims.exp > NOW && claims.has_jti &&
          claims.token_type != HB_JWT_TYPE_MISSING);
    /* Re-mint what hiroba can mint, and read it back. */
    if (claims.token_type == HB_JWT_TYPE_OTHER || !claims.has_iat ||
        claims.user_state != HB_JWT_USER_OK)
        return;
    char out[HB_JWT_ENCODED_MAX];
    err = hb_jwt_encode(key, &claims, out, sizeof(out), NULL);
    if (err == HB_EINVAL)
        return; /* a jti hiroba would not mint (empty or other characters) */
    check(err == 0);
    check(hb_jwt_decode(key, out, strlen(out), NOW, &again, &reason) == 0);
    check(same_claims(&claims, &again));
}

/* Encodes header and payload, signs them with SECRET and decodes the result. */
static void sign_and_decode(const struct hb_jwt_key *key, const void *header, size_t header_len,
                            const void *payload, size_t payload_len)
{
    static char tok[2 * MAX_FUZZ_LEN + 128];
    size_t n, total;
    unsigned char mac[32];
    unsigned int mac_len = 0;

    if (hb_base64_encode(HB_BASE64_URL, header, header_len, tok, sizeof(tok), &n) < 0)
        return;
    total = n;
    tok[total++] = '.';
    if (hb_base64_encode(HB_BASE64_URL, payload, payload_len, tok + total, sizeof(tok) - total,
                         &n) < 0)
        return;
    total += n;
    check(HMAC(EVP_sha256(), SECRET, (int)strlen(SECRET), (const unsigned char *)tok, total, mac,
               &mac_len) != NULL);
    tok[total++] = '.';
    check(hb_base64_encode(HB_BASE64_URL, mac, mac_len, tok + total, sizeof(tok) - total, &n) == 0);
    decode_token(key, tok, total + n);
}

static void base64_round_trip(const uint8_t *data, size_t size)
{
    static unsigned char raw[MAX_FUZZ_LEN];
    static char text[MAX_FUZZ_LEN + 8];
    const enum hb_base64_mode modes[] = {HB_BASE64_STD, HB_BASE64_STD_NOPAD, HB_BASE64_URL};

    for (size_t m = 0; m < 3; m++) {
        size_t n, n_text;
        if (hb_base64_decode(modes[m], (const char *)data, size, raw, sizeof(raw), &n) != 0)
            continue;
        /* Canonical: the decoded bytes encode back to exactly the input. */
        check(hb_base64_encode(modes[m], raw, n, text, sizeof(text), &n_text) == 0);
        check(n_text == size && memcmp(text, data, size) == 0);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct hb_jwt_key key;

    if (size > MAX_FUZZ_LEN)
        return 0;
    check(hb_jwt_key_init(&key, SECRET, strlen(SECRET)) == 0);
    decode_token(&key, (const char *)data, size);
    sign_and_decode(&key, HS256_HEADER, strlen(HS256_HEADER), data, size);
    sign_and_decode(&key, data, size, GOOD_PAYLOAD, strlen(GOOD_PAYLOAD));
    base64_round_trip(data, size);
    return 0;
}
