/* SPDX-License-Identifier: MIT */
/* Unit tests for auth/auth_jwt: RFC 7515 Appendix A.1, tokens minted by SimpleJWT itself (which
 * hb_jwt_encode() must reproduce byte for byte), and forged or malformed tokens that must be
 * refused with SimpleJWT's reason. Forgeries are signed with the right key where possible, so a
 * refusal shows the check under test, not the signature, caught them. */
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdint.h>

#include "auth/auth_jwt.h"
#include "core/base64.h"
#include "core/err.h"
#include "unit.h"

/* Vectors from tools/gen-jwt-vectors.py: Debian's python3-djangorestframework-simplejwt 5.2.2
 * (PyJWT 2.6.0, Django 3.2) with SECRET_KEY = SECRET, claims set as named, exp = 2100-01-01. */
static const char SECRET[] = "hiroba-test-secret-key-0123456789-abcdefghij";
static const char SJ_ACCESS_42[] =
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
    "eyJ0b2tlbl90eXBlIjoiYWNjZXNzIiwiZXhwIjo0MTAyNDQ0ODAwLCJpYXQiOjE3MzY4MTI0NTIsImp0aSI6IjAxMjM0"
    "NTY3ODlhYmNkZWYwMTIzNDU2Nzg5YWJjZGVmIiwidXNlcl9pZCI6NDJ9."
    "Mm3Uq2iKk_OyWamxHvIwo4GbKY0VMjPOjanlot0_McA";
static const char SJ_REFRESH_7[] =
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
    "eyJ0b2tlbl90eXBlIjoicmVmcmVzaCIsImV4cCI6NDEwMjQ0NDgwMCwiaWF0IjoxNzM2ODEyNDUyLCJqdGkiOiJmZWRj"
    "YmE5ODc2NTQzMjEwZmVkY2JhOTg3NjU0MzIxMCIsInVzZXJfaWQiOjd9."
    "t1tgs81xdOcD2aPy9WrEhy7n370MqqEveYzpPdsgdxc";
/* RefreshToken() with its own uuid4().hex jti and iat, then exp and user_id set. */
static const char SJ_REFRESH_DEFAULT[] =
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
    "eyJ0b2tlbl90eXBlIjoicmVmcmVzaCIsImV4cCI6NDEwMjQ0NDgwMCwiaWF0IjoxNzk1NTk2NDQwLCJqdGkiOiIwNDJk"
    "Zjc0MGE1MDE0NjI5OWE5Yjk5NzgxMDU2MmM2MiIsInVzZXJfaWQiOjF9."
    "kBCHQdLh0NUplN1qcBqooAhSsykcyEJahGGpjHKRxW8";
static const char SJ_ACCESS_STRING_ID[] =
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
    "eyJ0b2tlbl90eXBlIjoiYWNjZXNzIiwiZXhwIjo0MTAyNDQ0ODAwLCJpYXQiOjE3MzY4MTI0NTIsImp0aSI6IjAwMDAw"
    "MDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAxIiwidXNlcl9pZCI6IjQyIn0."
    "kWdMZVS0OIReJPBk6POWcSQEo-apswY_zjrXmkcERM8";
/* exp = 1736812572 (2025-01-14). */
static const char SJ_ACCESS_EXPIRED[] =
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
    "eyJ0b2tlbl90eXBlIjoiYWNjZXNzIiwiZXhwIjoxNzM2ODEyNTcyLCJpYXQiOjE3MzY4MTI0NTIsImp0aSI6IjAwMDAw"
    "MDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAyIiwidXNlcl9pZCI6M30."
    "FtCM4aCTKUo6VsMwS5RSOY09FN5msUnFjj_qAo5jt_8";
/* PyJWT's jwt.encode() of the SJ_ACCESS_42 claims with algorithm HS512 and "none". */
static const char PYJWT_HS512[] =
    "eyJhbGciOiJIUzUxMiIsInR5cCI6IkpXVCJ9."
    "eyJ0b2tlbl90eXBlIjoiYWNjZXNzIiwiZXhwIjo0MTAyNDQ0ODAwLCJpYXQiOjE3MzY4MTI0NTIsImp0aSI6IjAxMjM0"
    "NTY3ODlhYmNkZWYwMTIzNDU2Nzg5YWJjZGVmIiwidXNlcl9pZCI6NDJ9."
    "a7edjqrvzxuX663LtFNDfyuv6btjusishrwApd7TfgvA80CTy26vI703HQGGSpkbmU79BmyY9OmNnadiZUe7dw";
static const char PYJWT_NONE[] =
    "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0."
    "eyJ0b2tlbl90eXBlIjoiYWNjZXNzIiwiZXhwIjo0MTAyNDQ0ODAwLCJpYXQiOjE3MzY4MTI0NTIsImp0aSI6IjAxMjM0"
    "NTY3ODlhYmNkZWYwMTIzNDU2Nzg5YWJjZGVmIiwidXNlcl9pZCI6NDJ9.";

static const int64_t NOW = 1736812500; /* between the vectors' iat and the expired one's exp */
static const char HS256_HEADER[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
/* A valid payload to vary. */
#define GOOD_CLAIMS                                                                                \
    "\"token_type\":\"access\",\"exp\":4102444800,\"iat\":1736812452,\"jti\":\"abc\""

static struct hb_jwt_key test_key(void)
{
    struct hb_jwt_key key;
    ASSERT_EQ_INT(hb_jwt_key_init(&key, SECRET, strlen(SECRET)), 0);
    return key;
}

/* Builds base64url(header) "." base64url(payload) "." HMAC-SHA256(secret) from raw JSON bytes,
 * with OpenSSL directly rather than the code under test. The result is static. */
static const char *sign_raw(const char *secret, size_t secret_len, const char *header,
                            size_t header_len, const char *payload, size_t payload_len)
{
    static char tok[3 * HB_JWT_MAX_TOKEN_LEN];
    size_t n, total;
    unsigned char mac[32];
    unsigned int mac_len;

    ASSERT_EQ_INT(hb_base64_encode(HB_BASE64_URL, header, header_len, tok, sizeof(tok), &n), 0);
    total = n;
    tok[total++] = '.';
    ASSERT_EQ_INT(
        hb_base64_encode(HB_BASE64_URL, payload, payload_len, tok + total, sizeof(tok) - total, &n),
        0);
    total += n;
    ASSERT(HMAC(EVP_sha256(), secret, (int)secret_len, (const unsigned char *)tok, total, mac,
                &mac_len) != NULL);
    tok[total++] = '.';
    ASSERT_EQ_INT(
        hb_base64_encode(HB_BASE64_URL, mac, mac_len, tok + total, sizeof(tok) - total, &n), 0);
    return tok;
}

static const char *sign(const char *header, const char *payload)
{
    return sign_raw(SECRET, strlen(SECRET), header, strlen(header), payload, strlen(payload));
}

static int decode(const char *tok, int64_t now, struct hb_jwt_claims *claims, const char **reason)
{
    struct hb_jwt_key key = test_key();
    return hb_jwt_decode(&key, tok, strlen(tok), now, claims, reason);
}

/* Expects tok to be refused with the given reason. */
#define EXPECT_REFUSED(tok, now, want_reason)                                                      \
    do {                                                                                           \
        struct hb_jwt_claims c_;                                                                   \
        const char *r_ = NULL;                                                                     \
        ASSERT_EQ_INT(decode((tok), (now), &c_, &r_), HB_EAUTH);                                   \
        ASSERT_EQ_STR(r_, (want_reason));                                                          \
    } while (0)

#define EXPECT_ACCEPTED(tok, now, claims)                                                          \
    do {                                                                                           \
        const char *r_ = "unset";                                                                  \
        int e_ = decode((tok), (now), (claims), &r_);                                              \
        if (e_ != 0)                                                                               \
            HB_FAIL_("decode refused: %s (%s)", hb_err_name(e_), r_ ? r_ : "no reason");           \
        ASSERT(r_ == NULL);                                                                        \
    } while (0)

/* Signs {GOOD_CLAIMS <extra>} with the HS256 header and expects the given reason. */
#define EXPECT_PAYLOAD_REFUSED(payload)                                                            \
    EXPECT_REFUSED(sign(HS256_HEADER, (payload)), NOW, HB_JWT_REASON_INVALID)

HB_TEST(jwt, rfc7515_a1_hs256)
{
    /* RFC 7515 Appendix A.1: the JWK "k" of A.1.1, the JWS Signing Input and the signature. */
    const char k[] =
        "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9"
        "CAow";
    const char input[] =
        "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9."
        "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS"
        "9pc19yb290Ijp0cnVlfQ";
    const char sig[] = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    unsigned char secret[64], mac[32];
    char mac_b64[64];
    size_t secret_len;
    unsigned int mac_len;

    ASSERT_EQ_INT(
        hb_base64_decode(HB_BASE64_URL, k, strlen(k), secret, sizeof(secret), &secret_len), 0);
    ASSERT_EQ_INT(secret_len, 64);
    ASSERT(HMAC(EVP_sha256(), secret, (int)secret_len, (const unsigned char *)input, strlen(input),
                mac, &mac_len) != NULL);
    ASSERT_EQ_INT(hb_base64_encode(HB_BASE64_URL, mac, mac_len, mac_b64, sizeof(mac_b64), NULL), 0);
    ASSERT_EQ_STR(mac_b64, sig);

    /* The whole token through hb_jwt_decode(): the header ({"typ":"JWT",\r\n "alg":"HS256"})
     * and the signature pass, so the first failure is the missing jti while exp (1300819380) is
     * in the future, and expiry once it is not. */
    char tok[256];
    snprintf(tok, sizeof(tok), "%s.%s", input, sig);
    struct hb_jwt_key key;
    struct hb_jwt_claims claims;
    const char *reason;
    ASSERT_EQ_INT(hb_jwt_key_init(&key, secret, secret_len), 0);
    ASSERT_EQ_INT(hb_jwt_decode(&key, tok, strlen(tok), 1300819379, &claims, &reason), HB_EAUTH);
    ASSERT_EQ_STR(reason, HB_JWT_REASON_NO_ID);
    ASSERT_EQ_INT(claims.exp, 1300819380);
    ASSERT(!claims.has_jti);
    ASSERT_EQ_INT(hb_jwt_decode(&key, tok, strlen(tok), 1300819380, &claims, &reason), HB_EAUTH);
    ASSERT_EQ_STR(reason, HB_JWT_REASON_INVALID);
    /* One bit of the signature changed. */
    tok[strlen(tok) - 2] ^= 1;
    ASSERT_EQ_INT(hb_jwt_decode(&key, tok, strlen(tok), 1300819379, &claims, &reason), HB_EAUTH);
    ASSERT_EQ_STR(reason, HB_JWT_REASON_INVALID);
}

HB_TEST(jwt, decodes_simplejwt_tokens)
{
    struct hb_jwt_claims c;

    EXPECT_ACCEPTED(SJ_ACCESS_42, NOW, &c);
    ASSERT_EQ_INT(c.token_type, HB_JWT_TYPE_ACCESS);
    ASSERT_EQ_INT(c.exp, 4102444800);
    ASSERT(c.has_iat);
    ASSERT_EQ_INT(c.iat, 1736812452);
    ASSERT(c.has_jti);
    ASSERT_EQ_STR(c.jti, "0123456789abcdef0123456789abcdef");
    ASSERT_EQ_INT(c.user_state, HB_JWT_USER_OK);
    ASSERT_EQ_INT(c.user_id, 42);

    EXPECT_ACCEPTED(SJ_REFRESH_7, NOW, &c);
    ASSERT_EQ_INT(c.token_type, HB_JWT_TYPE_REFRESH);
    ASSERT_EQ_STR(c.jti, "fedcba9876543210fedcba9876543210");
    ASSERT_EQ_INT(c.user_id, 7);

    EXPECT_ACCEPTED(SJ_REFRESH_DEFAULT, NOW, &c);
    ASSERT_EQ_INT(c.token_type, HB_JWT_TYPE_REFRESH);
    ASSERT_EQ_STR(c.jti, "042df740a50146299a9b997810562c62");
    ASSERT_EQ_INT(c.iat, 1795596440);
    ASSERT_EQ_INT(c.user_id, 1);

    EXPECT_ACCEPTED(SJ_ACCESS_STRING_ID, NOW, &c);
    ASSERT_EQ_INT(c.user_state, HB_JWT_USER_OK);
    ASSERT_EQ_INT(c.user_id, 42);

    EXPECT_ACCEPTED(SJ_ACCESS_EXPIRED, 1736812571, &c);
    ASSERT_EQ_INT(c.user_id, 3);
    EXPECT_REFUSED(SJ_ACCESS_EXPIRED, 1736812572, HB_JWT_REASON_INVALID); /* exp == now */
    EXPECT_REFUSED(SJ_ACCESS_EXPIRED, 1800000000, HB_JWT_REASON_INVALID);
}

HB_TEST(jwt, encode_matches_simplejwt_byte_for_byte)
{
    struct hb_jwt_key key = test_key();
    struct hb_jwt_claims c = {
        .token_type = HB_JWT_TYPE_ACCESS,
        .exp = 4102444800,
        .has_iat = true,
        .iat = 1736812452,
        .has_jti = true,
        .jti = "0123456789abcdef0123456789abcdef",
        .user_state = HB_JWT_USER_OK,
        .user_id = 42,
    };
    char tok[HB_JWT_ENCODED_MAX];
    size_t n = 0;

    ASSERT_EQ_INT(hb_jwt_encode(&key, &c, tok, sizeof(tok), &n), 0);
    ASSERT_EQ_STR(tok, SJ_ACCESS_42);
    ASSERT_EQ_INT(n, strlen(SJ_ACCESS_42));

    c.token_type = HB_JWT_TYPE_REFRESH;
    snprintf(c.jti, sizeof(c.jti), "fedcba9876543210fedcba9876543210");
    c.user_id = 7;
    ASSERT_EQ_INT(hb_jwt_encode(&key, &c, tok, sizeof(tok), NULL), 0);
    ASSERT_EQ_STR(tok, SJ_REFRESH_7);
}

HB_TEST(jwt, round_trip_with_random_jti)
{
    struct hb_jwt_key key = test_key();
    struct hb_jwt_claims in = {.token_type = HB_JWT_TYPE_REFRESH,
                               .exp = NOW + 7 * 86400,
                               .has_iat = true,
                               .iat = NOW,
                               .has_jti = true,
                               .user_state = HB_JWT_USER_OK,
                               .user_id = 2147483647};
    struct hb_jwt_claims out;
    char tok[HB_JWT_ENCODED_MAX], other[HB_JWT_JTI_LEN + 1];
    const char *reason;

    ASSERT_EQ_INT(hb_jwt_jti_generate(in.jti), 0);
    ASSERT_EQ_INT(strlen(in.jti), HB_JWT_JTI_LEN);
    for (size_t i = 0; i < HB_JWT_JTI_LEN; i++)
        ASSERT(strchr("0123456789abcdef", in.jti[i]) != NULL);
    ASSERT_EQ_INT(hb_jwt_jti_generate(other), 0);
    ASSERT(strcmp(in.jti, other) != 0);

    ASSERT_EQ_INT(hb_jwt_encode(&key, &in, tok, sizeof(tok), NULL), 0);
    ASSERT_EQ_INT(hb_jwt_decode(&key, tok, strlen(tok), NOW, &out, &reason), 0);
    ASSERT_EQ_INT(out.token_type, HB_JWT_TYPE_REFRESH);
    ASSERT_EQ_INT(out.exp, in.exp);
    ASSERT_EQ_INT(out.iat, in.iat);
    ASSERT_EQ_STR(out.jti, in.jti);
    ASSERT_EQ_INT(out.user_state, HB_JWT_USER_OK);
    ASSERT_EQ_INT(out.user_id, 2147483647);
    /* Extreme values survive too. */
    in.exp = INT64_MAX;
    in.iat = INT64_MIN;
    in.user_id = INT64_MIN;
    ASSERT_EQ_INT(hb_jwt_encode(&key, &in, tok, sizeof(tok), NULL), 0);
    ASSERT_EQ_INT(hb_jwt_decode(&key, tok, strlen(tok), NOW, &out, &reason), 0);
    ASSERT(out.exp == INT64_MAX && out.iat == INT64_MIN && out.user_id == INT64_MIN);
}

HB_TEST(jwt, encode_refuses_bad_claims)
{
    struct hb_jwt_key key = test_key();
    struct hb_jwt_claims c = {.token_type = HB_JWT_TYPE_ACCESS,
                              .exp = 1,
                              .has_iat = true,
                              .has_jti = true,
                              .jti = "abc",
                              .user_state = HB_JWT_USER_OK};
    char tok[HB_JWT_ENCODED_MAX];

    ASSERT_EQ_INT(hb_jwt_encode(&key, &c, tok, sizeof(tok), NULL), 0);
    ASSERT_EQ_INT(hb_jwt_encode(&key, &c, tok, 40, NULL), HB_ETOOLARGE);
    c.token_type = HB_JWT_TYPE_OTHER;
    ASSERT_EQ_INT(hb_jwt_encode(&key, &c, tok, sizeof(tok), NULL), HB_EINVAL);
    c.token_type = HB_JWT_TYPE_MISSING;
    ASSERT_EQ_INT(hb_jwt_encode(&key, &c, tok, sizeof(tok), NULL), HB_EINVAL);
    c.token_type = HB_JWT_TYPE_ACCESS;
    snprintf(c.jti, sizeof(c.jti), "a\"b");
    ASSERT_EQ_INT(hb_jwt_encode(&key, &c, tok, sizeof(tok), NULL), HB_EINVAL);
    c.jti[0] = '\0';
    ASSERT_EQ_INT(hb_jwt_encode(&key, &c, tok, sizeof(tok), NULL), HB_EINVAL);
    /* The longest jti still fits HB_JWT_ENCODED_MAX with the longest numbers. */
    memset(c.jti, 'x', HB_JWT_JTI_MAX);
    c.jti[HB_JWT_JTI_MAX] = '\0';
    c.exp = c.iat = c.user_id = INT64_MIN;
    ASSERT_EQ_INT(hb_jwt_encode(&key, &c, tok, sizeof(tok), NULL), 0);
    c.user_state = HB_JWT_USER_MISSING;
    ASSERT_EQ_INT(hb_jwt_encode(&key, &c, tok, sizeof(tok), NULL), HB_EINVAL);
    c.user_state = HB_JWT_USER_OK;
    c.has_iat = false;
    ASSERT_EQ_INT(hb_jwt_encode(&key, &c, tok, sizeof(tok), NULL), HB_EINVAL);
}

HB_TEST(jwt, key_rules)
{
    struct hb_jwt_key key;
    struct hb_jwt_claims c;
    const char *reason;

    ASSERT_EQ_INT(hb_jwt_key_init(&key, SECRET, 31), HB_EINVAL);
    ASSERT_EQ_INT(hb_jwt_key_init(&key, "", 0), HB_EINVAL);
    /* A refused key verifies nothing. */
    ASSERT_EQ_INT(hb_jwt_decode(&key, SJ_ACCESS_42, strlen(SJ_ACCESS_42), NOW, &c, &reason),
                  HB_EAUTH);
    ASSERT_EQ_INT(hb_jwt_key_init(&key, SECRET, 32), 0);
    /* The wrong key (a 32-byte prefix of the right one). */
    ASSERT_EQ_INT(hb_jwt_decode(&key, SJ_ACCESS_42, strlen(SJ_ACCESS_42), NOW, &c, &reason),
                  HB_EAUTH);
    ASSERT_EQ_STR(reason, HB_JWT_REASON_INVALID);

    /* Secrets longer than the SHA-256 block (stored pre-hashed) and exactly one block. */
    const size_t lengths[] = {64, 65, 200};
    for (size_t i = 0; i < 3; i++) {
        char secret[200];
        for (size_t j = 0; j < lengths[i]; j++)
            secret[j] = (char)('a' + j % 26);
        const char *payload = "{" GOOD_CLAIMS "}";
        const char *tok = sign_raw(secret, lengths[i], HS256_HEADER, strlen(HS256_HEADER), payload,
                                   strlen(payload));
        ASSERT_EQ_INT(hb_jwt_key_init(&key, secret, lengths[i]), 0);
        ASSERT_EQ_INT(hb_jwt_decode(&key, tok, strlen(tok), NOW, &c, &reason), 0);
        ASSERT_EQ_INT(hb_jwt_key_init(&key, secret, lengths[i] - 1), 0);
        ASSERT_EQ_INT(hb_jwt_decode(&key, tok, strlen(tok), NOW, &c, &reason), HB_EAUTH);
    }
    hb_jwt_key_release(&key);
    ASSERT_EQ_INT(key._len, 0);
}

HB_TEST(jwt, refuses_other_algorithms)
{
    const char *payload = "{" GOOD_CLAIMS "}";

    EXPECT_REFUSED(PYJWT_HS512, NOW, HB_JWT_REASON_INVALID);
    EXPECT_REFUSED(PYJWT_NONE, NOW, HB_JWT_REASON_INVALID);
    /* Other headers, each with a correct HMAC-SHA256 signature: only alg decides. */
    EXPECT_REFUSED(sign("{\"alg\":\"none\",\"typ\":\"JWT\"}", payload), NOW, HB_JWT_REASON_INVALID);
    EXPECT_REFUSED(sign("{\"alg\":\"RS256\",\"typ\":\"JWT\"}", payload), NOW,
                   HB_JWT_REASON_INVALID);
    EXPECT_REFUSED(sign("{\"alg\":\"HS512\"}", payload), NOW, HB_JWT_REASON_INVALID);
    EXPECT_REFUSED(sign("{\"alg\":\"hs256\"}", payload), NOW, HB_JWT_REASON_INVALID);
    EXPECT_REFUSED(sign("{\"alg\":\"HS256 \"}", payload), NOW, HB_JWT_REASON_INVALID);
    EXPECT_REFUSED(sign("{\"alg\":[\"HS256\"]}", payload), NOW, HB_JWT_REASON_INVALID);
    EXPECT_REFUSED(sign("{\"typ\":\"JWT\"}", payload), NOW, HB_JWT_REASON_INVALID);
    EXPECT_REFUSED(sign("{\"alg\":\"HS256\",\"kid\":7}", payload), NOW, HB_JWT_REASON_INVALID);
    EXPECT_REFUSED(sign("[\"HS256\"]", payload), NOW, HB_JWT_REASON_INVALID);
    EXPECT_REFUSED(sign("\"HS256\"", payload), NOW, HB_JWT_REASON_INVALID);
    EXPECT_REFUSED(sign("", payload), NOW, HB_JWT_REASON_INVALID);
    /* An RS256 header over the real signing input, signed by nobody. */
    EXPECT_REFUSED("eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.e30.AAAA", NOW, HB_JWT_REASON_INVALID);

    /* Accepted header variations: any typ, a kid, whitespace, key order, escapes. */
    struct hb_jwt_claims c;
    EXPECT_ACCEPTED(sign("{\"alg\":\"HS256\"}", payload), NOW, &c);
    EXPECT_ACCEPTED(sign("{\"typ\":\"at+jwt\",\"alg\":\"HS256\",\"kid\":\"k1\"}", payload), NOW,
                    &c);
    EXPECT_ACCEPTED(sign(" {\r\n\t\"alg\" : \"HS256\" , \"typ\":null } ", payload), NOW, &c);
    EXPECT_ACCEPTED(sign("{\"\\u0061lg\":\"HS\\u0032\\u00356\"}", payload), NOW, &c);
}

HB_TEST(jwt, refuses_tampering)
{
    char tok[sizeof(SJ_ACCESS_42)];

    /* The payload of the user-7 refresh token under the user-42 access token's signature. */
    const char *p42 = strchr(SJ_ACCESS_42, '.'), *s42 = strrchr(SJ_ACCESS_42, '.');
    const char *p7 = strchr(SJ_REFRESH_7, '.'), *s7 = strrchr(SJ_REFRESH_7, '.');
    char spliced[512];
    snprintf(spliced, sizeof(spliced), "%.*s%.*s%s", (int)(p42 - SJ_ACCESS_42), SJ_ACCESS_42,
             (int)(s7 - p7), p7, s42);
    EXPECT_REFUSED(spliced, NOW, HB_JWT_REASON_INVALID);

    /* Each single-character change in the payload segment. */
    for (size_t i = (size_t)(p42 - SJ_ACCESS_42) + 1; i < (size_t)(s42 - SJ_ACCESS_42); i++) {
        memcpy(tok, SJ_ACCESS_42, sizeof(tok));
        tok[i] = tok[i] == 'A' ? 'B' : 'A';
        EXPECT_REFUSED(tok, NOW, HB_JWT_REASON_INVALID);
    }
    /* A truncated or missing signature. */
    memcpy(tok, SJ_ACCESS_42, sizeof(tok));
    tok[strlen(tok) - 1] = '\0';
    EXPECT_REFUSED(tok, NOW, HB_JWT_REASON_INVALID);
    tok[s42 - SJ_ACCESS_42 + 1] = '\0';
    EXPECT_REFUSED(tok, NOW, HB_JWT_REASON_INVALID);
    /* The right signature twice over (64 bytes). */
    snprintf(spliced, sizeof(spliced), "%sMm3Uq2iKk_OyWamxHvIwo4GbKY0VMjPOjanlot0_McA",
             SJ_ACCESS_42);
    EXPECT_REFUSED(spliced, NOW, HB_JWT_REASON_INVALID);
}

HB_TEST(jwt, refuses_bad_structure_and_base64)
{
    char tok[1024];
    const size_t n = strlen(SJ_ACCESS_42);
    const char *p = strchr(SJ_ACCESS_42, '.'), *s = strrchr(SJ_ACCESS_42, '.');
    const int h_len = (int)(p - SJ_ACCESS_42), p_len = (int)(s - p - 1);

    EXPECT_REFUSED("", NOW, HB_JWT_REASON_INVALID);
    EXPECT_REFUSED("..", NOW, HB_JWT_REASON_INVALID);
    EXPECT_REFUSED("abc", NOW, HB_JWT_REASON_INVALID);
    /* Two segments, four segments, a trailing dot. */
    snprintf(tok, sizeof(tok), "%.*s", (int)(s - SJ_ACCESS_42), SJ_ACCESS_42);
    EXPECT_REFUSED(tok, NOW, HB_JWT_REASON_INVALID);
    snprintf(tok, sizeof(tok), "%s.e30", SJ_ACCESS_42);
    EXPECT_REFUSED(tok, NOW, HB_JWT_REASON_INVALID);
    snprintf(tok, sizeof(tok), "%s.", SJ_ACCESS_42);
    EXPECT_REFUSED(tok, NOW, HB_JWT_REASON_INVALID);
    /* Whitespace around or inside. */
    snprintf(tok, sizeof(tok), " %s", SJ_ACCESS_42);
    EXPECT_REFUSED(tok, NOW, HB_JWT_REASON_INVALID);
    snprintf(tok, sizeof(tok), "%s\n", SJ_ACCESS_42);
    EXPECT_REFUSED(tok, NOW, HB_JWT_REASON_INVALID);
    snprintf(tok, sizeof(tok), "%.*s.\t%s", h_len, SJ_ACCESS_42, p + 1);
    EXPECT_REFUSED(tok, NOW, HB_JWT_REASON_INVALID);
    /* Padding on a segment. The header is 36 characters (no padding possible); the signature
     * is 43, so "=" makes it the padded standard form. */
    snprintf(tok, sizeof(tok), "%s=", SJ_ACCESS_42);
    EXPECT_REFUSED(tok, NOW, HB_JWT_REASON_INVALID);
    snprintf(tok, sizeof(tok), "%.*s==.%s", h_len, SJ_ACCESS_42, p + 1);
    EXPECT_REFUSED(tok, NOW, HB_JWT_REASON_INVALID);
    /* The standard alphabet in place of the URL one (the signature has '_'). */
    memcpy(tok, SJ_ACCESS_42, n + 1);
    for (size_t i = 0; i < n; i++) {
        if (tok[i] == '_')
            tok[i] = '/';
        if (tok[i] == '-')
            tok[i] = '+';
    }
    ASSERT(strcmp(tok, SJ_ACCESS_42) != 0);
    EXPECT_REFUSED(tok, NOW, HB_JWT_REASON_INVALID);
    /* A non-canonical last signature character: the same 32 bytes with a pad bit set. The last
     * of 43 characters carries 4 data bits and 2 zero pad bits; a lenient decoder would accept
     * the altered text as the same signature. */
    struct hb_jwt_key key = test_key();
    struct hb_jwt_claims c;
    const char *reason;
    char sig_tok[512];
    const char *good = sign(HS256_HEADER, "{" GOOD_CLAIMS "}");
    snprintf(sig_tok, sizeof(sig_tok), "%s", good);
    size_t last = strlen(sig_tok) - 1;
    int v;
    const char *alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    v = (int)(strchr(alphabet, sig_tok[last]) - alphabet);
    ASSERT_EQ_INT(v & 3, 0);
    sig_tok[last] = alphabet[v | 1];
    ASSERT_EQ_INT(hb_jwt_decode(&key, good, strlen(good), NOW, &c, &reason), 0);
    ASSERT_EQ_INT(hb_jwt_decode(&key, sig_tok, strlen(sig_tok), NOW, &c, &reason), HB_EAUTH);
    /* A payload segment of a length no bytes encode to (4k + 1). */
    snprintf(tok, sizeof(tok), "%.*s.%.*sA%s", h_len, SJ_ACCESS_42, p_len, p + 1, s);
    EXPECT_REFUSED(tok, NOW, HB_JWT_REASON_INVALID);
}

HB_TEST(jwt, refuses_oversized_tokens)
{
    /* A valid token padded with ignored claims to just under, then just over, the limit. */
    static char payload[HB_JWT_MAX_TOKEN_LEN];
    struct hb_jwt_claims c;
    size_t len;

    for (size_t pad = 5900; pad < 6200; pad += 4) {
        snprintf(payload, sizeof(payload), "{" GOOD_CLAIMS ",\"x\":\"%*s\"}", (int)pad, "");
        const char *tok = sign(HS256_HEADER, payload);
        len = strlen(tok);
        if (len <= HB_JWT_MAX_TOKEN_LEN) {
            EXPECT_ACCEPTED(tok, NOW, &c);
        } else {
            EXPECT_REFUSED(tok, NOW, HB_JWT_REASON_INVALID);
            return;
        }
    }
    HB_FAIL_("never crossed the limit");
}

HB_TEST(jwt, claim_reasons_in_simplejwt_order)
{
    struct hb_jwt_claims c;
    const char *reason;

    /* No exp. */
    EXPECT_REFUSED(sign(HS256_HEADER, "{\"token_type\":\"access\",\"jti\":\"a\"}"), NOW,
                   HB_JWT_REASON_NO_EXP);
    EXPECT_REFUSED(sign(HS256_HEADER, "{}"), NOW, HB_JWT_REASON_NO_EXP);
    /* PyJWT checks nbf and iat before SimpleJWT looks for exp. */
    EXPECT_REFUSED(sign(HS256_HEADER, "{\"nbf\":4102444800}"), NOW, HB_JWT_REASON_INVALID);
    EXPECT_REFUSED(sign(HS256_HEADER, "{\"iat\":\"1\"}"), NOW, HB_JWT_REASON_INVALID);
    /* Expired beats no id. */
    EXPECT_REFUSED(sign(HS256_HEADER, "{\"exp\":1}"), NOW, HB_JWT_REASON_INVALID);
    /* No jti (no type either: id comes first). */
    EXPECT_REFUSED(sign(HS256_HEADER, "{\"exp\":4102444800}"), NOW, HB_JWT_REASON_NO_ID);
    EXPECT_REFUSED(sign(HS256_HEADER, "{\"exp\":4102444800,\"token_type\":\"access\"}"), NOW,
                   HB_JWT_REASON_NO_ID);
    /* No type: the claims are still filled so the caller can check the blacklist first. */
    ASSERT_EQ_INT(decode(sign(HS256_HEADER, "{\"exp\":4102444800,\"jti\":\"j1\",\"user_id\":5}"),
                         NOW, &c, &reason),
                  HB_EAUTH);
    ASSERT_EQ_STR(reason, HB_JWT_REASON_NO_TYPE);
    ASSERT(c.has_jti);
    ASSERT_EQ_STR(c.jti, "j1");
    ASSERT_EQ_INT(c.token_type, HB_JWT_TYPE_MISSING);
    ASSERT_EQ_INT(c.user_id, 5);
    /* Another type is not an error here: the caller says "Token has wrong type". */
    EXPECT_ACCEPTED(sign(HS256_HEADER, "{\"exp\":4102444800,\"jti\":\"j\",\"token_type\":\"id\"}"),
                    NOW, &c);
    ASSERT_EQ_INT(c.token_type, HB_JWT_TYPE_OTHER);
    EXPECT_ACCEPTED(sign(HS256_HEADER, "{\"exp\":4102444800,\"jti\":\"j\",\"token_type\":1}"), NOW,
                    &c);
    ASSERT_EQ_INT(c.token_type, HB_JWT_TYPE_OTHER);
    EXPECT_ACCEPTED(
        sign(HS256_HEADER, "{\"exp\":4102444800,\"jti\":\"j\",\"token_type\":\"Access\"}"), NOW,
        &c);
    ASSERT_EQ_INT(c.token_type, HB_JWT_TYPE_OTHER);
    ASSERT(!c.has_iat);
    ASSERT_EQ_INT(c.user_state, HB_JWT_USER_MISSING);
}

HB_TEST(jwt, time_claims)
{
    struct hb_jwt_claims c;
    char payload[256];

    /* nbf in the past or now is fine; in the future is not. */
    snprintf(payload, sizeof(payload), "{" GOOD_CLAIMS ",\"nbf\":%lld}", (long long)NOW);
    EXPECT_ACCEPTED(sign(HS256_HEADER, payload), NOW, &c);
    snprintf(payload, sizeof(payload), "{" GOOD_CLAIMS ",\"nbf\":%lld}", (long long)NOW + 1);
    EXPECT_PAYLOAD_REFUSED(payload);
    EXPECT_PAYLOAD_REFUSED("{" GOOD_CLAIMS ",\"nbf\":\"0\"}");
    EXPECT_PAYLOAD_REFUSED("{" GOOD_CLAIMS ",\"nbf\":null}");
    /* exp must be a number, not a string, boolean or null. */
    EXPECT_PAYLOAD_REFUSED("{\"token_type\":\"access\",\"jti\":\"a\",\"exp\":\"4102444800\"}");
    EXPECT_PAYLOAD_REFUSED("{\"token_type\":\"access\",\"jti\":\"a\",\"exp\":true}");
    EXPECT_PAYLOAD_REFUSED("{\"token_type\":\"access\",\"jti\":\"a\",\"exp\":null}");
    EXPECT_PAYLOAD_REFUSED("{\"token_type\":\"access\",\"jti\":\"a\",\"exp\":[4102444800]}");
    /* iat must be a number when present. */
    EXPECT_PAYLOAD_REFUSED("{\"token_type\":\"access\",\"jti\":\"a\",\"exp\":4102444800,"
                           "\"iat\":null}");
    /* Fractions and exponents count as their integer part (PyJWT's int()). */
    const struct {
        const char *exp;
        int64_t want;
    } nums[] = {
        {"4102444800.9", 4102444800},
        {"4.1024448e9", 4102444800},
        {"41024448000E-1", 4102444800},
        {"1e400", INT64_MAX},
        {"99999999999999999999999", INT64_MAX},
        {"1736812500.5", 1736812500}, /* == NOW after truncation: expired */
        {"-1e400", INT64_MIN},
        {"0.0000001e7", 1},
        {"0e99999999999", 0},
    };
    for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
        snprintf(payload, sizeof(payload),
                 "{\"token_type\":\"access\",\"jti\":\"a\",\"exp\":4102444800,\"iat\":%s}",
                 nums[i].exp);
        EXPECT_ACCEPTED(sign(HS256_HEADER, payload), NOW, &c);
        if (c.iat != nums[i].want)
            HB_FAIL_("iat %s: got %lld, want %lld", nums[i].exp, (long long)c.iat,
                     (long long)nums[i].want);
        snprintf(payload, sizeof(payload), "{\"token_type\":\"access\",\"jti\":\"a\",\"exp\":%s}",
                 nums[i].exp);
        if (nums[i].want > NOW) {
            EXPECT_ACCEPTED(sign(HS256_HEADER, payload), NOW, &c);
            ASSERT_EQ_INT(c.exp, nums[i].want);
        } else {
            EXPECT_PAYLOAD_REFUSED(payload);
        }
    }
}

HB_TEST(jwt, jti_and_user_id_forms)
{
    struct hb_jwt_claims c;
    char payload[1024];

    /* jti: a string up to 255 bytes, escapes decoded; anything else is unusable. */
    EXPECT_ACCEPTED(sign(HS256_HEADER,
                         "{\"token_type\":\"access\",\"exp\":4102444800,\"jti\":\"\\u00e9\\\"\"}"),
                    NOW, &c);
    ASSERT_EQ_STR(c.jti, "\xc3\xa9\"");
    snprintf(payload, sizeof(payload),
             "{\"token_type\":\"access\",\"exp\":4102444800,\"jti\":\"%s\"}", "");
    EXPECT_ACCEPTED(sign(HS256_HEADER, payload), NOW, &c);
    ASSERT(c.has_jti);
    ASSERT_EQ_STR(c.jti, "");
    snprintf(payload, sizeof(payload),
             "{\"token_type\":\"access\",\"exp\":4102444800,\"jti\":\"%0255d\"}", 0);
    EXPECT_ACCEPTED(sign(HS256_HEADER, payload), NOW, &c);
    ASSERT_EQ_INT(strlen(c.jti), 255);
    snprintf(payload, sizeof(payload),
             "{\"token_type\":\"access\",\"exp\":4102444800,\"jti\":\"%0256d\"}", 0);
    EXPECT_PAYLOAD_REFUSED(payload);
    EXPECT_PAYLOAD_REFUSED("{\"token_type\":\"access\",\"exp\":4102444800,\"jti\":12}");
    EXPECT_PAYLOAD_REFUSED("{\"token_type\":\"access\",\"exp\":4102444800,\"jti\":null}");
    EXPECT_PAYLOAD_REFUSED("{\"token_type\":\"access\",\"exp\":4102444800,\"jti\":\"a\\u0000\"}");

    /* user_id: an integer or a decimal string. */
    const struct {
        const char *json;
        enum hb_jwt_user state;
        int64_t id;
    } ids[] = {
        {"42", HB_JWT_USER_OK, 42},
        {"\"42\"", HB_JWT_USER_OK, 42},
        {"-3", HB_JWT_USER_OK, -3},
        {"0", HB_JWT_USER_OK, 0},
        {"\"000000000000000007\"", HB_JWT_USER_OK, 7},
        {"9223372036854775807", HB_JWT_USER_OK, INT64_MAX},
        {"9223372036854775808", HB_JWT_USER_INVALID, 0},
        {"\"9999999999999999999\"", HB_JWT_USER_INVALID, 0},
        {"\"\"", HB_JWT_USER_INVALID, 0},
        {"\"4a\"", HB_JWT_USER_INVALID, 0},
        {"\"-1\"", HB_JWT_USER_INVALID, 0},
        {"\" 1\"", HB_JWT_USER_INVALID, 0},
        {"1.0", HB_JWT_USER_INVALID, 0},
        {"1e2", HB_JWT_USER_INVALID, 0},
        {"true", HB_JWT_USER_INVALID, 0},
        {"null", HB_JWT_USER_INVALID, 0},
        {"[1]", HB_JWT_USER_INVALID, 0},
        {"{\"id\":1}", HB_JWT_USER_INVALID, 0},
    };
    for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
        snprintf(payload, sizeof(payload), "{" GOOD_CLAIMS ",\"user_id\":%s}", ids[i].json);
        EXPECT_ACCEPTED(sign(HS256_HEADER, payload), NOW, &c);
        if (c.user_state != ids[i].state ||
            (ids[i].state == HB_JWT_USER_OK && c.user_id != ids[i].id))
            HB_FAIL_("user_id %s: got state %d id %lld", ids[i].json, (int)c.user_state,
                     (long long)c.user_id);
    }
}

HB_TEST(jwt, refuses_duplicate_keys)
{
    EXPECT_PAYLOAD_REFUSED("{" GOOD_CLAIMS ",\"exp\":4102444800}");
    EXPECT_PAYLOAD_REFUSED("{" GOOD_CLAIMS ",\"user_id\":1,\"user_id\":2}");
    /* The same key spelled with an escape. */
    EXPECT_PAYLOAD_REFUSED("{" GOOD_CLAIMS ",\"\\u0065xp\":1}");
    EXPECT_PAYLOAD_REFUSED("{" GOOD_CLAIMS ",\"x\":1,\"\\u0078\":1}");
    /* In a nested object. */
    EXPECT_PAYLOAD_REFUSED("{" GOOD_CLAIMS ",\"o\":{\"a\":1,\"b\":{},\"a\":2}}");
    EXPECT_PAYLOAD_REFUSED("{" GOOD_CLAIMS ",\"o\":[{\"a\":1,\"a\":1}]}");
    /* In the header. */
    EXPECT_REFUSED(sign("{\"alg\":\"HS256\",\"alg\":\"HS256\"}", "{" GOOD_CLAIMS "}"), NOW,
                   HB_JWT_REASON_INVALID);
    EXPECT_REFUSED(sign("{\"alg\":\"none\",\"alg\":\"HS256\"}", "{" GOOD_CLAIMS "}"), NOW,
                   HB_JWT_REASON_INVALID);

    /* The same key in sibling or nested objects is fine, and so are near misses. */
    struct hb_jwt_claims c;
    EXPECT_ACCEPTED(sign(HS256_HEADER, "{" GOOD_CLAIMS ",\"o\":{\"exp\":1,\"o\":{\"exp\":2}},"
                                       "\"p\":{\"exp\":3},\"ex\":0,\"expp\":0,\"Exp\":0}"),
                    NOW, &c);
    ASSERT_EQ_INT(c.exp, 4102444800);
}

HB_TEST(jwt, refuses_bad_utf8_and_bad_json)
{
    struct hb_jwt_claims c;
    const char *bad[] = {
        "{" GOOD_CLAIMS ",\"n\":\"\xff\"}",             /* not UTF-8 at all */
        "{" GOOD_CLAIMS ",\"n\":\"\xc0\xaf\"}",         /* overlong '/' */
        "{" GOOD_CLAIMS ",\"n\":\"\xe0\x80\xaf\"}",     /* overlong, 3 bytes */
        "{" GOOD_CLAIMS ",\"n\":\"\xed\xa0\x80\"}",     /* an encoded surrogate */
        "{" GOOD_CLAIMS ",\"n\":\"\xf4\x90\x80\x80\"}", /* above U+10FFFF */
        "{" GOOD_CLAIMS ",\"n\":\"\xe6\x97\"}",         /* truncated sequence */
        "{" GOOD_CLAIMS ",\"\xff\":1}",                 /* in a key */
        "{" GOOD_CLAIMS ",\"n\":\"\\ud800\"}",          /* lone high surrogate escape */
        "{" GOOD_CLAIMS ",\"n\":\"\\udc00\"}",          /* lone low surrogate escape */
        "{" GOOD_CLAIMS ",\"n\":\"\\ud800\\u0041\"}",   /* high + non-low */
        "{" GOOD_CLAIMS ",\"n\":\"\\x41\"}",            /* unknown escape */
        "{" GOOD_CLAIMS ",\"n\":\"\\u00g1\"}",          /* bad hex */
        "{" GOOD_CLAIMS ",\"n\":\"a\tb\"}",             /* raw control character */
        "\xef\xbb\xbf{" GOOD_CLAIMS "}",                /* byte order mark */
        "{" GOOD_CLAIMS ",}",                           /* trailing comma */
        "{" GOOD_CLAIMS "} x",                          /* trailing garbage */
        "{" GOOD_CLAIMS "}{}",                          /* two documents */
        "{" GOOD_CLAIMS ",\"n\":NaN}",                  /* not JSON */
        "{" GOOD_CLAIMS ",\"n\":Infinity}",             /* not JSON */
        "{" GOOD_CLAIMS ",\"n\":01}",                   /* leading zero */
        "{" GOOD_CLAIMS ",\"n\":1.}",                   /* bare point */
        "{" GOOD_CLAIMS ",\"n\":.5}",                   /* no integer part */
        "{" GOOD_CLAIMS ",\"n\":+1}",                   /* plus sign */
        "{" GOOD_CLAIMS ",\"n\":1e}",                   /* empty exponent */
        "{" GOOD_CLAIMS ",\"n\":-}",                    /* bare minus */
        "{" GOOD_CLAIMS ",'n':1}",                      /* single quotes */
        "{" GOOD_CLAIMS ",n:1}",                        /* bare key */
        "{" GOOD_CLAIMS ",\"n\":tru}",                  /* truncated literal */
        "{" GOOD_CLAIMS ",\"n\":[1,]}",                 /* trailing comma in array */
        "{" GOOD_CLAIMS ",\"n\":[1 2]}",                /* missing comma */
        "{" GOOD_CLAIMS ",\"n\" 1}",                    /* missing colon */
        "{" GOOD_CLAIMS ",\"n\":\"abc}",                /* unterminated string */
        "{" GOOD_CLAIMS ",\"n\":\"abc\\\"}",            /* escaped closing quote */
        "{" GOOD_CLAIMS ",\"n\":[}",                    /* unbalanced */
        "{" GOOD_CLAIMS,                                /* unterminated object */
        "[" GOOD_CLAIMS "]",                            /* not an object */
        "\"token\"",                                    /* not an object */
        "null",                                         /* not an object */
        "",                                             /* nothing */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct hb_jwt_key key = test_key();
        const char *reason = NULL;
        const char *tok = sign(HS256_HEADER, bad[i]);
        if (hb_jwt_decode(&key, tok, strlen(tok), NOW, &c, &reason) != HB_EAUTH ||
            strcmp(reason, HB_JWT_REASON_INVALID) != 0)
            HB_FAIL_("payload %zu '%s' was not refused as invalid", i, bad[i]);
    }
    /* A NUL byte inside the decoded payload. */
    const char with_nul[] = "{" GOOD_CLAIMS ",\"n\":\"a\0b\"}";
    const char *tok = sign_raw(SECRET, strlen(SECRET), HS256_HEADER, strlen(HS256_HEADER), with_nul,
                               sizeof(with_nul) - 1);
    EXPECT_REFUSED(tok, NOW, HB_JWT_REASON_INVALID);

    /* Well-formed UTF-8 and escapes of every kind are fine. */
    EXPECT_ACCEPTED(sign(HS256_HEADER, "{" GOOD_CLAIMS ",\"名前\":\"日本語 \xf0\x9f\x98\x80\","
                                       "\"e\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\ud83d\\ude00\","
                                       "\"n\":[-0,0.5e-3,1E+2,true,false,null,{},[]]}"),
                    NOW, &c);
}

HB_TEST(jwt, nesting_and_key_limits)
{
    static char payload[HB_JWT_MAX_TOKEN_LEN];
    struct hb_jwt_claims c;
    size_t o;

    /* 64 levels in all (the payload object is the first) pass; 65 do not. */
    for (int depth = 63; depth <= 64; depth++) {
        o = (size_t)snprintf(payload, sizeof(payload), "{" GOOD_CLAIMS ",\"n\":");
        for (int i = 0; i < depth; i++)
            payload[o++] = '[';
        for (int i = 0; i < depth; i++)
            payload[o++] = ']';
        payload[o++] = '}';
        payload[o] = '\0';
        if (depth == 63)
            EXPECT_ACCEPTED(sign(HS256_HEADER, payload), NOW, &c);
        else
            EXPECT_PAYLOAD_REFUSED(payload);
    }
    /* Up to 256 keys open at once. GOOD_CLAIMS has 4; add 252, then 253. */
    for (int extra = 252; extra <= 253; extra++) {
        o = (size_t)snprintf(payload, sizeof(payload), "{" GOOD_CLAIMS);
        for (int i = 0; i < extra; i++)
            o += (size_t)snprintf(payload + o, sizeof(payload) - o, ",\"k%d\":0", i);
        snprintf(payload + o, sizeof(payload) - o, "}");
        if (extra == 252)
            EXPECT_ACCEPTED(sign(HS256_HEADER, payload), NOW, &c);
        else
            EXPECT_PAYLOAD_REFUSED(payload);
    }
    /* Keys of closed objects do not count. */
    o = (size_t)snprintf(payload, sizeof(payload), "{" GOOD_CLAIMS);
    for (int i = 0; i < 100; i++)
        o += (size_t)snprintf(payload + o, sizeof(payload) - o,
                              ",\"o%d\":{\"a\":0,\"b\":0,\"c\":0}", i);
    snprintf(payload + o, sizeof(payload) - o, "}");
    EXPECT_ACCEPTED(sign(HS256_HEADER, payload), NOW, &c);
}
