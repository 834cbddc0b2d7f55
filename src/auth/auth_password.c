/* SPDX-License-Identifier: MIT */
/* Django password hashes (auth layer) on OpenSSL's PBKDF2 and libargon2's raw hashing.
 * Stored strings are parsed strictly into a struct before any hashing; the derived key is then
 * compared with CRYPTO_memcmp and wiped. Parsing mirrors what Django's own check would accept:
 * Django re-encodes a pbkdf2 hash and compares the text, so non-canonical numbers or base64 never
 * matched there either. */
#include "auth/auth_password.h"

#include <argon2.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>

#include "core/base64.h"
#include "core/err.h"

#define PBKDF2_LEN    32
#define NEW_SALT_LEN  16
#define NEW_HASH_LEN  32
#define MIN_SALT_LEN  ARGON2_MIN_SALT_LENGTH /* 8 */
#define MAX_SALT_LEN  64
#define MIN_HASH_LEN  ARGON2_MIN_OUTLEN /* 4 */
#define MAX_HASH_LEN  64
#define PBKDF2_PREFIX "pbkdf2_sha256$"
#define ARGON2_PREFIX "argon2$"

/* The fixed salt of the dummy verification; its value is irrelevant. */
static const unsigned char dummy_salt[NEW_SALT_LEN] = "hiroba-dummy-slt";

struct argon2_hash {
    argon2_type type;
    uint32_t version; /* ARGON2_VERSION_10 or ARGON2_VERSION_13 */
    uint32_t t_cost, m_cost_kib, parallelism;
    unsigned char salt[MAX_SALT_LEN];
    size_t salt_len;
    unsigned char hash[MAX_HASH_LEN];
    size_t hash_len;
};

void hb_password_params_init(struct hb_password_params *params)
{
    params->t_cost = HB_PASSWORD_DEFAULT_T_COST;
    params->m_cost_kib = HB_PASSWORD_DEFAULT_M_COST_KIB;
    params->parallelism = HB_PASSWORD_DEFAULT_PARALLELISM;
}

static bool argon2_params_ok(uint32_t t_cost, uint32_t m_cost_kib, uint32_t parallelism)
{
    return t_cost >= 1 && t_cost <= HB_PASSWORD_MAX_T_COST && parallelism >= 1 &&
           parallelism <= HB_PASSWORD_MAX_PARALLELISM && m_cost_kib >= 8 * parallelism &&
           m_cost_kib <= HB_PASSWORD_MAX_M_COST_KIB;
}

int hb_password_params_check(const struct hb_password_params *params)
{
    return argon2_params_ok(params->t_cost, params->m_cost_kib, params->parallelism) ? 0
                                                                                     : HB_EINVAL;
}

bool hb_password_is_usable(const char *encoded)
{
    return encoded[0] != '!';
}

static int argon2_err(int rc)
{
    switch (rc) {
    case ARGON2_OK:
        return 0;
    case ARGON2_MEMORY_ALLOCATION_ERROR:
        return HB_ENOMEM;
    case ARGON2_THREAD_FAIL:
        return HB_EIO;
    default:
        return HB_EINVAL;
    }
}

/* Reads a decimal number of 1 to 10 digits without a leading zero, up to max, at *p, and
 * advances *p past it. */
static int read_u32(const char **p, uint32_t max, uint32_t *out)
{
    const char *s = *p;
    uint64_t v = 0;
    size_t n = 0;

    while (s[n] >= '0' && s[n] <= '9') {
        if (n == 10)
            return HB_EINVAL;
        v = v * 10 + (uint64_t)(s[n] - '0');
        n++;
    }
    if (n == 0 || (n > 1 && s[0] == '0') || v > max)
        return HB_EINVAL;
    *out = (uint32_t)v;
    *p = s + n;
    return 0;
}

static int expect(const char **p, const char *lit)
{
    size_t n = strlen(lit);
    if (strncmp(*p, lit, n) != 0)
        return HB_EINVAL;
    *p += n;
    return 0;
}

/* Parses "argon2$argon2id$v=19$m=..,t=..,p=..$salt$hash" (Django's "argon2" + a PHC string). */
static int parse_argon2(const char *encoded, struct argon2_hash *h)
{
    const char *p = encoded, *salt, *dollar;

    if (expect(&p, ARGON2_PREFIX "argon2") < 0)
        return HB_EINVAL;
    if (expect(&p, "id$") == 0)
        h->type = Argon2_id;
    else if (expect(&p, "i$") == 0)
        h->type = Argon2_i;
    else
        return HB_EINVAL;
    /* Hashes from before Argon2 1.3 carry no version. */
    h->version = ARGON2_VERSION_10;
    if (expect(&p, "v=") == 0) {
        uint32_t v;
        if (read_u32(&p, 255, &v) < 0 || (v != ARGON2_VERSION_10 && v != ARGON2_VERSION_13) ||
            expect(&p, "$") < 0)
            return HB_EINVAL;
        h->version = v;
    }
    if (expect(&p, "m=") < 0 || read_u32(&p, HB_PASSWORD_MAX_M_COST_KIB, &h->m_cost_kib) < 0 ||
        expect(&p, ",t=") < 0 || read_u32(&p, HB_PASSWORD_MAX_T_COST, &h->t_cost) < 0 ||
        expect(&p, ",p=") < 0 || read_u32(&p, HB_PASSWORD_MAX_PARALLELISM, &h->parallelism) < 0 ||
        expect(&p, "$") < 0)
        return HB_EINVAL;
    if (!argon2_params_ok(h->t_cost, h->m_cost_kib, h->parallelism))
        return HB_EINVAL;
    salt = p;
    dollar = strchr(salt, '$');
    if (dollar == NULL ||
        hb_base64_decode(HB_BASE64_STD_NOPAD, salt, (size_t)(dollar - salt), h->salt,
                         sizeof(h->salt), &h->salt_len) < 0 ||
        h->salt_len < MIN_SALT_LEN)
        return HB_EINVAL;
    p = dollar + 1;
    if (hb_base64_decode(HB_BASE64_STD_NOPAD, p, strlen(p), h->hash, sizeof(h->hash),
                         &h->hash_len) < 0 ||
        h->hash_len < MIN_HASH_LEN)
        return HB_EINVAL;
    return 0;
}

static int verify_argon2(const char *password, size_t password_len, const char *encoded)
{
    struct argon2_hash h;
    unsigned char out[MAX_HASH_LEN];
    int err;

    if (parse_argon2(encoded, &h) < 0)
        return HB_EAUTH;
    err = argon2_err(argon2_hash(h.t_cost, h.m_cost_kib, h.parallelism, password, password_len,
                                 h.salt, h.salt_len, out, h.hash_len, NULL, 0, h.type, h.version));
    if (err == 0)
        err = CRYPTO_memcmp(out, h.hash, h.hash_len) == 0 ? 0 : HB_EAUTH;
    else if (err == HB_EINVAL)
        err = HB_EAUTH;
    OPENSSL_cleanse(out, sizeof(out));
    return err;
}

/* pbkdf2_sha256$<iterations>$<salt>$<hash>: the salt is used as its literal text. */
static int verify_pbkdf2(const char *password, size_t password_len, const char *encoded)
{
    const char *p = encoded + strlen(PBKDF2_PREFIX), *salt, *dollar;
    unsigned char want[PBKDF2_LEN + 2], got[PBKDF2_LEN];
    uint32_t iterations;
    size_t want_len;
    int err;

    if (read_u32(&p, HB_PASSWORD_MAX_ITERATIONS, &iterations) < 0 || iterations == 0 ||
        expect(&p, "$") < 0)
        return HB_EAUTH;
    salt = p;
    dollar = strchr(salt, '$');
    if (dollar == NULL || dollar == salt)
        return HB_EAUTH;
    p = dollar + 1;
    if (hb_base64_decode(HB_BASE64_STD, p, strlen(p), want, sizeof(want), &want_len) < 0 ||
        want_len != PBKDF2_LEN)
        return HB_EAUTH;
    if (PKCS5_PBKDF2_HMAC(password, (int)password_len, (const unsigned char *)salt,
                          (int)(dollar - salt), (int)iterations, EVP_sha256(), PBKDF2_LEN,
                          got) != 1)
        return HB_EIO;
    err = CRYPTO_memcmp(got, want, PBKDF2_LEN) == 0 ? 0 : HB_EAUTH;
    OPENSSL_cleanse(got, sizeof(got));
    return err;
}

int hb_password_verify(const char *password, size_t password_len, const char *encoded)
{
    if (password_len > HB_PASSWORD_MAX_LEN || !hb_password_is_usable(encoded))
        return HB_EAUTH;
    if (strncmp(encoded, PBKDF2_PREFIX, strlen(PBKDF2_PREFIX)) == 0)
        return verify_pbkdf2(password, password_len, encoded);
    if (strncmp(encoded, ARGON2_PREFIX, strlen(ARGON2_PREFIX)) == 0)
        return verify_argon2(password, password_len, encoded);
    return HB_EAUTH;
}

int hb_password_verify_dummy(const struct hb_password_params *params, const char *password,
                             size_t password_len)
{
    unsigned char out[NEW_HASH_LEN];
    int err;

    if (hb_password_params_check(params) < 0)
        return HB_EINVAL;
    if (password_len > HB_PASSWORD_MAX_LEN)
        return HB_EAUTH;
    err = argon2_err(argon2id_hash_raw(params->t_cost, params->m_cost_kib, params->parallelism,
                                       password, password_len, dummy_salt, sizeof(dummy_salt), out,
                                       sizeof(out)));
    OPENSSL_cleanse(out, sizeof(out));
    if (err == HB_EINVAL)
        return HB_EIO;
    return err < 0 ? err : HB_EAUTH;
}

int hb_password_hash(const struct hb_password_params *params, const char *password,
                     size_t password_len, char *out, size_t out_cap)
{
    unsigned char salt[NEW_SALT_LEN], hash[NEW_HASH_LEN];
    char salt_b64[32], hash_b64[48];
    int err, n;

    if (hb_password_params_check(params) < 0 || password_len > HB_PASSWORD_MAX_LEN)
        return HB_EINVAL;
    if (RAND_bytes(salt, sizeof(salt)) != 1)
        return HB_EIO;
    err = argon2_err(argon2id_hash_raw(params->t_cost, params->m_cost_kib, params->parallelism,
                                       password, password_len, salt, sizeof(salt), hash,
                                       sizeof(hash)));
    if (err < 0)
        goto done;
    err =
        hb_base64_encode(HB_BASE64_STD_NOPAD, salt, sizeof(salt), salt_b64, sizeof(salt_b64), NULL);
    if (err == 0)
        err = hb_base64_encode(HB_BASE64_STD_NOPAD, hash, sizeof(hash), hash_b64, sizeof(hash_b64),
                               NULL);
    if (err < 0) {
        err = HB_EIO;
        goto done;
    }
    n = snprintf(out, out_cap, ARGON2_PREFIX "argon2id$v=19$m=%u,t=%u,p=%u$%s$%s",
                 (unsigned)params->m_cost_kib, (unsigned)params->t_cost,
                 (unsigned)params->parallelism, salt_b64, hash_b64);
    if (n < 0 || (size_t)n >= out_cap)
        err = HB_ETOOLARGE;

done:
    if (err == HB_EINVAL)
        err = HB_EIO; /* params were checked: libargon2 refusing them is its failure */
    OPENSSL_cleanse(hash, sizeof(hash));
    OPENSSL_cleanse(hash_b64, sizeof(hash_b64));
    return err;
}

bool hb_password_needs_rehash(const char *encoded, const struct hb_password_params *params)
{
    struct argon2_hash h;

    if (strncmp(encoded, ARGON2_PREFIX, strlen(ARGON2_PREFIX)) != 0 ||
        parse_argon2(encoded, &h) < 0)
        return true;
    return h.type != Argon2_id || h.version != ARGON2_VERSION_13 ||
           h.m_cost_kib < params->m_cost_kib || h.t_cost < params->t_cost;
}
