/* SPDX-License-Identifier: MIT */
/* HS256 JWT minting and strict verification (auth layer), after SimpleJWT 5 on PyJWT 2.
 * The JSON reader here is deliberately tiny and private: it accepts RFC 8259 JSON in strict
 * UTF-8 only, refuses duplicate keys at every depth, and keeps its state in a fixed-size struct on
 * the stack, so the header (parsed before the signature is known to be good) cannot make it
 * allocate or run long. Everything is reentrant: no static mutable state. */
#include "auth/auth_jwt.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>

#include "core/base64.h"
#include "core/err.h"
#include "core/str.h"

#define MAC_LEN 32
/* JSON nesting limit (API.md §11) and the most keys the open objects of one document may hold
 * at once; real headers and payloads have fewer than ten. */
#define MAX_DEPTH 64
#define MAX_KEYS  256

/* base64url of {"alg":"HS256","typ":"JWT"}, the header PyJWT writes (sorted keys, compact). */
static const char header_b64[] = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9";

int hb_jwt_key_init(struct hb_jwt_key *key, const void *secret, size_t len)
{
    memset(key, 0, sizeof(*key));
    if (len < HB_JWT_MIN_SECRET_LEN)
        return HB_EINVAL;
    if (len <= sizeof(key->_bytes)) {
        memcpy(key->_bytes, secret, len);
        key->_len = len;
        return 0;
    }
    /* RFC 2104 §2: a key longer than the block size is replaced by its hash. */
    unsigned int md_len = 0;
    if (EVP_Digest(secret, len, key->_bytes, &md_len, EVP_sha256(), NULL) != 1) {
        memset(key, 0, sizeof(*key));
        return HB_EIO;
    }
    key->_len = md_len;
    return 0;
}

void hb_jwt_key_release(struct hb_jwt_key *key)
{
    OPENSSL_cleanse(key, sizeof(*key));
}

static int hmac_sha256(const struct hb_jwt_key *key, const char *data, size_t len,
                       unsigned char mac[MAC_LEN])
{
    unsigned int mac_len = 0;
    if (key->_len == 0)
        return HB_EINVAL;
    if (HMAC(EVP_sha256(), key->_bytes, (int)key->_len, (const unsigned char *)data, len, mac,
             &mac_len) == NULL ||
        mac_len != MAC_LEN)
        return HB_EIO;
    return 0;
}

int hb_jwt_jti_generate(char out[HB_JWT_JTI_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char raw[HB_JWT_JTI_LEN / 2];

    out[0] = '\0';
    if (RAND_bytes(raw, sizeof(raw)) != 1)
        return HB_EIO;
    for (size_t i = 0; i < sizeof(raw); i++) {
        out[2 * i] = hex[raw[i] >> 4];
        out[2 * i + 1] = hex[raw[i] & 15];
    }
    out[HB_JWT_JTI_LEN] = '\0';
    return 0;
}

static bool is_token_char(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
           c == '-';
}

int hb_jwt_encode(const struct hb_jwt_key *key, const struct hb_jwt_claims *claims, char *out,
                  size_t out_cap, size_t *out_len)
{
    const char *type;
    switch (claims->token_type) {
    case HB_JWT_TYPE_ACCESS:
        type = "access";
        break;
    case HB_JWT_TYPE_REFRESH:
        type = "refresh";
        break;
    default:
        return HB_EINVAL;
    }
    if (!claims->has_iat || !claims->has_jti || claims->user_state != HB_JWT_USER_OK)
        return HB_EINVAL;
    size_t jti_len = strnlen(claims->jti, sizeof(claims->jti));
    if (jti_len == 0 || jti_len > HB_JWT_JTI_MAX)
        return HB_EINVAL;
    for (size_t i = 0; i < jti_len; i++) {
        if (!is_token_char(claims->jti[i]))
            return HB_EINVAL;
    }

    char payload[512];
    int n = snprintf(payload, sizeof(payload),
                     "{\"token_type\":\"%s\",\"exp\":%lld,\"iat\":%lld,\"jti\":\"%s\","
                     "\"user_id\":%lld}",
                     type, (long long)claims->exp, (long long)claims->iat, claims->jti,
                     (long long)claims->user_id);
    if (n < 0 || (size_t)n >= sizeof(payload))
        return HB_EINVAL;

    size_t h_len = sizeof(header_b64) - 1;
    size_t p_len = hb_base64_encoded_len(HB_BASE64_URL, (size_t)n);
    size_t s_len = hb_base64_encoded_len(HB_BASE64_URL, MAC_LEN);
    size_t total = h_len + 1 + p_len + 1 + s_len;
    if (out_cap <= total)
        return HB_ETOOLARGE;

    memcpy(out, header_b64, h_len);
    out[h_len] = '.';
    int err = hb_base64_encode(HB_BASE64_URL, payload, (size_t)n, out + h_len + 1,
                               out_cap - h_len - 1, NULL);
    if (err < 0)
        return err;
    size_t signed_len = h_len + 1 + p_len;
    unsigned char mac[MAC_LEN];
    err = hmac_sha256(key, out, signed_len, mac);
    if (err < 0)
        return err;
    out[signed_len] = '.';
    err = hb_base64_encode(HB_BASE64_URL, mac, MAC_LEN, out + signed_len + 1,
                           out_cap - signed_len - 1, NULL);
    if (err < 0)
        return err;
    if (out_len != NULL)
        *out_len = total;
    return 0;
}

/* ---- A strict, allocation-free JSON reader for one top-level object. ---- */

enum kind { K_STRING, K_NUMBER, K_OBJECT, K_ARRAY, K_TRUE, K_FALSE, K_NULL };

struct number {
    bool is_integer;   /* no fraction and no exponent */
    bool is_exact;     /* the value fits in int64 (no saturation) */
    int64_t truncated; /* the value rounded toward zero, saturated to int64 */
};

struct value {
    enum kind kind;
    struct hb_str str; /* K_STRING: the raw text between the quotes (escapes not decoded) */
    struct number num; /* K_NUMBER */
};

struct json {
    const unsigned char *p, *end;
    size_t n_keys;
    struct hb_str keys[MAX_KEYS]; /* raw keys of the objects currently open, outermost first */
};

/* Called for each member of the top-level object; returns 0 or HB_EINVAL. */
typedef int member_cb(void *ctx, struct hb_str key, const struct value *v);

static void skip_ws(struct json *js)
{
    while (js->p < js->end && (*js->p == ' ' || *js->p == '\t' || *js->p == '\n' || *js->p == '\r'))
        js->p++;
}

static int hex4(const unsigned char *p, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= c - '0';
        else if (c >= 'a' && c <= 'f')
            v |= c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            v |= c - 'A' + 10;
        else
            return HB_EINVAL;
    }
    *out = v;
    return 0;
}

/* Length of the well-formed UTF-8 sequence at p (RFC 3629 §4: no overlongs, no surrogates,
 * nothing above U+10FFFF), or 0. */
static size_t utf8_len(const unsigned char *p, const unsigned char *end)
{
    size_t avail = (size_t)(end - p);
    unsigned char c = p[0], lo = 0x80, hi = 0xbf;
    size_t n;

    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        n = 2;
    else if (c >= 0xe0 && c <= 0xef)
        n = 3;
    else if (c >= 0xf0 && c <= 0xf4)
        n = 4;
    else
        return 0;
    if (c == 0xe0)
        lo = 0xa0;
    else if (c == 0xed)
        hi = 0x9f;
    else if (c == 0xf0)
        lo = 0x90;
    else if (c == 0xf4)
        hi = 0x8f;
    if (avail < n || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++) {
        if (p[i] < 0x80 || p[i] > 0xbf)
            return 0;
    }
    return n;
}

/* Reads a string at js->p (which points at the opening quote) and stores its raw body. Escapes
 * are checked here, surrogate pairs included, so next_cp() can trust the body. */
static int read_string(struct json *js, struct hb_str *body)
{
    const unsigned char *start = ++js->p;

    while (js->p < js->end) {
        unsigned char c = *js->p;
        if (c == '"') {
            *body = (struct hb_str){(const char *)start, (size_t)(js->p - start)};
            js->p++;
            return 0;
        }
        if (c < 0x20)
            return HB_EINVAL;
        if (c >= 0x80) {
            size_t n = utf8_len(js->p, js->end);
            if (n == 0)
                return HB_EINVAL;
            js->p += n;
            continue;
        }
        if (c != '\\') {
            js->p++;
            continue;
        }
        if (js->end - js->p < 2)
            return HB_EINVAL;
        c = js->p[1];
        if (strchr("\"\\/bfnrt", c) != NULL && c != '\0') {
            js->p += 2;
            continue;
        }
        unsigned u, u2;
        if (c != 'u' || js->end - js->p < 6 || hex4(js->p + 2, &u) < 0)
            return HB_EINVAL;
        js->p += 6;
        if (u >= 0xdc00 && u <= 0xdfff)
            return HB_EINVAL; /* a lone low surrogate */
        if (u >= 0xd800 && u <= 0xdbff) {
            if (js->end - js->p < 6 || js->p[0] != '\\' || js->p[1] != 'u' ||
                hex4(js->p + 2, &u2) < 0 || u2 < 0xdc00 || u2 > 0xdfff)
                return HB_EINVAL; /* a high surrogate not followed by a low one */
            js->p += 6;
        }
    }
    return HB_EINVAL;
}

/* Returns the next code point of a body that read_string() accepted, advancing *p. */
static unsigned next_cp(const unsigned char **p)
{
    const unsigned char *s = *p;
    unsigned cp = 0;

    if (s[0] == '\\') {
        switch (s[1]) {
        case 'b':
            cp = '\b';
            break;
        case 'f':
            cp = '\f';
            break;
        case 'n':
            cp = '\n';
            break;
        case 'r':
            cp = '\r';
            break;
        case 't':
            cp = '\t';
            break;
        case 'u':
            hex4(s + 2, &cp);
            if (cp >= 0xd800 && cp <= 0xdbff) {
                unsigned lo = 0xdc00;
                hex4(s + 8, &lo);
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                *p = s + 12;
                return cp;
            }
            *p = s + 6;
            return cp;
        default:
            cp = s[1];
        }
        *p = s + 2;
        return cp;
    }
    if (s[0] < 0x80) {
        *p = s + 1;
        return s[0];
    }
    if (s[0] < 0xe0) {
        *p = s + 2;
        return (s[0] & 0x1fu) << 6 | (s[1] & 0x3fu);
    }
    if (s[0] < 0xf0) {
        *p = s + 3;
        return (s[0] & 0x0fu) << 12 | (s[1] & 0x3fu) << 6 | (s[2] & 0x3fu);
    }
    *p = s + 4;
    return (s[0] & 0x07u) << 18 | (s[1] & 0x3fu) << 12 | (s[2] & 0x3fu) << 6 | (s[3] & 0x3fu);
}

/* Compares two string bodies by their decoded text, so "alg" equals "a\u006cg". A plain
 * literal (no quotes or backslashes) is its own body. */
static bool str_eq(struct hb_str a, struct hb_str b)
{
    const unsigned char *pa = (const unsigned char *)a.ptr, *ea = pa + a.len;
    const unsigned char *pb = (const unsigned char *)b.ptr, *eb = pb + b.len;

    while (pa < ea && pb < eb) {
        if (next_cp(&pa) != next_cp(&pb))
            return false;
    }
    return pa == ea && pb == eb;
}

/* Decodes a string body into out as UTF-8 with a NUL. Returns 0, or HB_ETOOLARGE if more than
 * cap - 1 bytes would be needed, or HB_EINVAL if the text contains U+0000. */
static int str_copy(struct hb_str s, char *out, size_t cap)
{
    const unsigned char *p = (const unsigned char *)s.ptr, *end = p + s.len;
    size_t o = 0;

    while (p < end) {
        unsigned cp = next_cp(&p);
        unsigned char tmp[4];
        size_t n;
        if (cp == 0)
            return HB_EINVAL;
        if (cp < 0x80) {
            tmp[0] = (unsigned char)cp;
            n = 1;
        } else if (cp < 0x800) {
            tmp[0] = (unsigned char)(0xc0 | cp >> 6);
            tmp[1] = (unsigned char)(0x80 | (cp & 0x3f));
            n = 2;
        } else if (cp < 0x10000) {
            tmp[0] = (unsigned char)(0xe0 | cp >> 12);
            tmp[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
            tmp[2] = (unsigned char)(0x80 | (cp & 0x3f));
            n = 3;
        } else {
            tmp[0] = (unsigned char)(0xf0 | cp >> 18);
            tmp[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
            tmp[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
            tmp[3] = (unsigned char)(0x80 | (cp & 0x3f));
            n = 4;
        }
        if (cap - o <= n)
            return HB_ETOOLARGE;
        memcpy(out + o, tmp, n);
        o += n;
    }
    out[o] = '\0';
    return 0;
}

static bool is_digit(const unsigned char *p, const unsigned char *end)
{
    return p < end && *p >= '0' && *p <= '9';
}

/* Reads a number (RFC 8259 §6 grammar; no NaN or Infinity) and computes its value rounded toward
 * zero, exactly, without floating point: the digits before the decimal point, shifted by the
 * exponent, saturated to int64. */
static int read_number(struct json *js, struct number *num)
{
    const unsigned char *p = js->p, *end = js->end;
    bool negative = false;

    if (p < end && *p == '-') {
        negative = true;
        p++;
    }
    if (!is_digit(p, end))
        return HB_EINVAL;
    const unsigned char *int_start = p;
    if (*p == '0')
        p++;
    else
        while (is_digit(p, end))
            p++;
    const unsigned char *int_end = p, *frac_start = p, *frac_end = p;
    if (p < end && *p == '.') {
        p++;
        if (!is_digit(p, end))
            return HB_EINVAL;
        frac_start = p;
        while (is_digit(p, end))
            p++;
        frac_end = p;
    }
    long exponent = 0;
    bool has_exp = false;
    if (p < end && (*p == 'e' || *p == 'E')) {
        bool exp_negative = false;
        has_exp = true;
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            exp_negative = *p++ == '-';
        if (!is_digit(p, end))
            return HB_EINVAL;
        while (is_digit(p, end)) {
            /* Past 100000 every exponent gives the same saturated or zero result. */
            if (exponent < 100000)
                exponent = exponent * 10 + (*p - '0');
            p++;
        }
        if (exp_negative)
            exponent = -exponent;
    }
    js->p = p;

    /* The integer part is the first n_int + exponent digits of int||frac, padded with zeros. */
    const uint64_t limit = negative ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    long n_int = (long)(int_end - int_start), n_frac = (long)(frac_end - frac_start);
    long n_take = n_int + exponent;
    uint64_t mag = 0;
    bool saturated = false;
    for (long i = 0; i < n_take && !saturated; i++) {
        unsigned d = 0;
        if (i < n_int)
            d = int_start[i] - '0';
        else if (i - n_int < n_frac)
            d = frac_start[i - n_int] - '0';
        else if (mag == 0)
            break; /* zeros shifted left stay zero */
        if (mag > (limit - d) / 10) {
            saturated = true;
            mag = limit;
        } else {
            mag = mag * 10 + d;
        }
    }
    num->is_integer = !has_exp && frac_start == frac_end;
    num->is_exact = !saturated;
    if (!negative)
        num->truncated = (int64_t)mag;
    else if (mag > (uint64_t)INT64_MAX)
        num->truncated = INT64_MIN;
    else
        num->truncated = -(int64_t)mag;
    return 0;
}

static int read_literal(struct json *js, const char *lit)
{
    size_t n = strlen(lit);
    if ((size_t)(js->end - js->p) < n || memcmp(js->p, lit, n) != 0)
        return HB_EINVAL;
    js->p += n;
    return 0;
}

static int read_value(struct json *js, int depth, struct value *v);

/* Reads the members of an object; js->p points just past '{'. Keys are checked against the
 * other keys of the same object for duplicates. fn, if not NULL, sees each member. */
static int read_object(struct json *js, int depth, member_cb *fn, void *ctx)
{
    size_t base = js->n_keys;
    int err;

    skip_ws(js);
    if (js->p < js->end && *js->p == '}') {
        js->p++;
        return 0;
    }
    for (;;) {
        struct hb_str key;
        struct value v;
        skip_ws(js);
        if (js->p >= js->end || *js->p != '"')
            return HB_EINVAL;
        err = read_string(js, &key);
        if (err < 0)
            return err;
        for (size_t i = base; i < js->n_keys; i++) {
            if (str_eq(js->keys[i], key))
                return HB_EINVAL;
        }
        if (js->n_keys == MAX_KEYS)
            return HB_EINVAL;
        js->keys[js->n_keys++] = key;
        skip_ws(js);
        if (js->p >= js->end || *js->p != ':')
            return HB_EINVAL;
        js->p++;
        err = read_value(js, depth, &v);
        if (err < 0)
            return err;
        if (fn != NULL) {
            err = fn(ctx, key, &v);
            if (err < 0)
                return err;
        }
        skip_ws(js);
        if (js->p < js->end && *js->p == ',') {
            js->p++;
            continue;
        }
        if (js->p < js->end && *js->p == '}') {
            js->p++;
            js->n_keys = base;
            return 0;
        }
        return HB_EINVAL;
    }
}

static int read_array(struct json *js, int depth)
{
    int err;

    skip_ws(js);
    if (js->p < js->end && *js->p == ']') {
        js->p++;
        return 0;
    }
    for (;;) {
        struct value v;
        err = read_value(js, depth, &v);
        if (err < 0)
            return err;
        skip_ws(js);
        if (js->p < js->end && *js->p == ',') {
            js->p++;
            continue;
        }
        if (js->p < js->end && *js->p == ']') {
            js->p++;
            return 0;
        }
        return HB_EINVAL;
    }
}

/* Reads one value of any kind. depth counts the containers already open around it. */
static int read_value(struct json *js, int depth, struct value *v)
{
    skip_ws(js);
    if (js->p >= js->end)
        return HB_EINVAL;
    switch (*js->p) {
    case '"':
        v->kind = K_STRING;
        return read_string(js, &v->str);
    case '{':
    case '[':
        if (depth >= MAX_DEPTH)
            return HB_EINVAL;
        v->kind = *js->p == '{' ? K_OBJECT : K_ARRAY;
        js->p++;
        return v->kind == K_OBJECT ? read_object(js, depth + 1, NULL, NULL)
                                   : read_array(js, depth + 1);
    case 't':
        v->kind = K_TRUE;
        return read_literal(js, "true");
    case 'f':
        v->kind = K_FALSE;
        return read_literal(js, "false");
    case 'n':
        v->kind = K_NULL;
        return read_literal(js, "null");
    default:
        v->kind = K_NUMBER;
        return read_number(js, &v->num);
    }
}

/* Parses doc[0..len) as exactly one JSON object (surrounding whitespace allowed), calling fn
 * for each top-level member. */
static int parse_object_doc(const unsigned char *doc, size_t len, member_cb *fn, void *ctx)
{
    struct json js;
    int err;

    js.p = doc;
    js.end = doc + len;
    js.n_keys = 0;
    skip_ws(&js);
    if (js.p >= js.end || *js.p != '{')
        return HB_EINVAL;
    js.p++;
    err = read_object(&js, 1, fn, ctx);
    if (err < 0)
        return err;
    skip_ws(&js);
    return js.p == js.end ? 0 : HB_EINVAL;
}

/* ---- Token validation. ---- */

struct header_state {
    bool is_hs256;
};

static int on_header_member(void *ctx, struct hb_str key, const struct value *v)
{
    struct header_state *st = ctx;

    if (str_eq(key, HB_STR("alg")))
        st->is_hs256 = v->kind == K_STRING && str_eq(v->str, HB_STR("HS256"));
    else if (str_eq(key, HB_STR("kid")) && v->kind != K_STRING)
        return HB_EINVAL; /* PyJWT: "Key ID header parameter must be a string" */
    return 0;
}

/* A claim as found in the payload: present or not, its value kept for checks after parsing. */
struct claim {
    bool present;
    struct value v;
};

struct payload_state {
    struct claim exp, nbf, iat, jti, token_type, user_id;
};

static int on_payload_member(void *ctx, struct hb_str key, const struct value *v)
{
    struct payload_state *st = ctx;
    struct claim *c = NULL;

    if (str_eq(key, HB_STR("exp")))
        c = &st->exp;
    else if (str_eq(key, HB_STR("nbf")))
        c = &st->nbf;
    else if (str_eq(key, HB_STR("iat")))
        c = &st->iat;
    else if (str_eq(key, HB_STR("jti")))
        c = &st->jti;
    else if (str_eq(key, HB_STR("token_type")))
        c = &st->token_type;
    else if (str_eq(key, HB_STR("user_id")))
        c = &st->user_id;
    if (c != NULL) {
        c->present = true;
        c->v = *v;
    }
    return 0;
}

/* user_id: an integer, or a string of decimal digits (a CharField primary key in Django would
 * carry other text, but auth_user.id is an integer). */
static void read_user_id(const struct claim *c, struct hb_jwt_claims *out)
{
    out->user_state = HB_JWT_USER_MISSING;
    out->user_id = 0;
    if (!c->present)
        return;
    out->user_state = HB_JWT_USER_INVALID;
    if (c->v.kind == K_NUMBER) {
        if (c->v.num.is_integer && c->v.num.is_exact) {
            out->user_state = HB_JWT_USER_OK;
            out->user_id = c->v.num.truncated;
        }
        return;
    }
    if (c->v.kind != K_STRING || c->v.str.len == 0 || c->v.str.len > 18)
        return;
    int64_t id = 0;
    for (size_t i = 0; i < c->v.str.len; i++) {
        char ch = c->v.str.ptr[i];
        if (ch < '0' || ch > '9')
            return;
        id = id * 10 + (ch - '0');
    }
    out->user_state = HB_JWT_USER_OK;
    out->user_id = id;
}

/* A present time claim must be a number; its value is PyJWT's int(). */
static bool time_claim(const struct claim *c, int64_t *value)
{
    if (c->v.kind != K_NUMBER)
        return false;
    *value = c->v.num.truncated;
    return true;
}

static int check_payload(const unsigned char *doc, size_t len, int64_t now,
                         struct hb_jwt_claims *out, const char **reason)
{
    struct payload_state st;
    int64_t t, exp;

    memset(&st, 0, sizeof(st));
    memset(out, 0, sizeof(*out));
    *reason = HB_JWT_REASON_INVALID;
    if (parse_object_doc(doc, len, on_payload_member, &st) < 0)
        return HB_EAUTH;

    /* PyJWT's order: iat, nbf, exp; then SimpleJWT's own check that exp exists. */
    if (st.iat.present) {
        if (!time_claim(&st.iat, &t))
            return HB_EAUTH;
        out->has_iat = true;
        out->iat = t;
    }
    if (st.nbf.present && (!time_claim(&st.nbf, &t) || t > now))
        return HB_EAUTH;
    if (st.exp.present && (!time_claim(&st.exp, &exp) || exp <= now))
        return HB_EAUTH;
    if (!st.exp.present) {
        *reason = HB_JWT_REASON_NO_EXP;
        return HB_EAUTH;
    }
    out->exp = exp;

    if (st.jti.present) {
        if (st.jti.v.kind != K_STRING || str_copy(st.jti.v.str, out->jti, sizeof(out->jti)) < 0)
            return HB_EAUTH;
        out->has_jti = true;
    }
    if (st.token_type.present) {
        const struct value *v = &st.token_type.v;
        out->token_type = HB_JWT_TYPE_OTHER;
        if (v->kind == K_STRING && str_eq(v->str, HB_STR("access")))
            out->token_type = HB_JWT_TYPE_ACCESS;
        else if (v->kind == K_STRING && str_eq(v->str, HB_STR("refresh")))
            out->token_type = HB_JWT_TYPE_REFRESH;
    }
    read_user_id(&st.user_id, out);

    if (!out->has_jti) {
        *reason = HB_JWT_REASON_NO_ID;
        return HB_EAUTH;
    }
    if (out->token_type == HB_JWT_TYPE_MISSING) {
        *reason = HB_JWT_REASON_NO_TYPE;
        return HB_EAUTH;
    }
    *reason = NULL;
    return 0;
}

int hb_jwt_decode(const struct hb_jwt_key *key, const char *token, size_t len, int64_t now,
                  struct hb_jwt_claims *out, const char **reason)
{
    /* Every decoded segment fits here: together they are at most 3/4 of the token. */
    unsigned char buf[HB_JWT_MAX_TOKEN_LEN / 4 * 3];
    unsigned char mac[MAC_LEN], sig[MAC_LEN];
    size_t dots[2], n_dots = 0, n;
    int err;

    *reason = HB_JWT_REASON_INVALID;
    if (len > HB_JWT_MAX_TOKEN_LEN)
        return HB_EAUTH;
    for (size_t i = 0; i < len; i++) {
        if (token[i] != '.')
            continue;
        if (n_dots == 2)
            return HB_EAUTH;
        dots[n_dots++] = i;
    }
    if (n_dots != 2)
        return HB_EAUTH;

    /* Step 1: header, then signature; the payload is parsed only once it is authentic. */
    struct header_state hs = {false};
    if (hb_base64_decode(HB_BASE64_URL, token, dots[0], buf, sizeof(buf), &n) < 0 ||
        parse_object_doc(buf, n, on_header_member, &hs) < 0 || !hs.is_hs256)
        return HB_EAUTH;
    const char *sig_b64 = token + dots[1] + 1;
    if (hb_base64_decode(HB_BASE64_URL, sig_b64, len - dots[1] - 1, sig, sizeof(sig), &n) < 0 ||
        n != MAC_LEN)
        return HB_EAUTH;
    err = hmac_sha256(key, token, dots[1], mac);
    if (err < 0)
        return err == HB_EINVAL ? HB_EAUTH : err;
    if (CRYPTO_memcmp(mac, sig, MAC_LEN) != 0)
        return HB_EAUTH;

    /* Steps 2, 4 and 5. */
    const char *payload_b64 = token + dots[0] + 1;
    if (hb_base64_decode(HB_BASE64_URL, payload_b64, dots[1] - dots[0] - 1, buf, sizeof(buf), &n) <
        0)
        return HB_EAUTH;
    return check_payload(buf, n, now, out, reason);
}
