/* SPDX-License-Identifier: MIT */
/* Django-compatible password hashes (auth layer, API.md §10.1): verifies Django's
 * pbkdf2_sha256 and argon2 (argon2id, and the legacy argon2i) strings, and creates argon2id
 * strings in Django's exact format, so hiroba and a Django project can share auth_user.
 * Every function is CPU- and memory-heavy by design and meant for a worker thread; all are
 * thread-safe (no static mutable state; OpenSSL and libargon2 keep none either). Hash parameters
 * read from a stored hash are capped (HB_PASSWORD_MAX_*) so a hostile row cannot pin a thread
 * or exhaust memory; a hash over a cap never matches. */
#ifndef HB_AUTH_PASSWORD_H
#define HB_AUTH_PASSWORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Defaults for new hashes: the OWASP minimum for Argon2id (t=2, 19 MiB, one lane). */
#define HB_PASSWORD_DEFAULT_T_COST      2
#define HB_PASSWORD_DEFAULT_M_COST_KIB  19456
#define HB_PASSWORD_DEFAULT_PARALLELISM 1

/* Caps on the parameters of hashes verified or created. Django's defaults (pbkdf2 260000 to
 * 1000000 iterations; argon2 t=2, m=102400, p=8) are well inside. */
#define HB_PASSWORD_MAX_ITERATIONS  10000000
#define HB_PASSWORD_MAX_T_COST      64
#define HB_PASSWORD_MAX_M_COST_KIB  1048576 /* 1 GiB */
#define HB_PASSWORD_MAX_PARALLELISM 64
/* Passwords longer than this never match (the request body cap is 1 MiB anyway). */
#define HB_PASSWORD_MAX_LEN (1u << 20)

/* auth_user.password is varchar(128): every string hb_password_hash() writes fits, and a buffer
 * of HB_PASSWORD_ENCODED_MAX + 1 bytes holds it with its NUL. */
#define HB_PASSWORD_ENCODED_MAX 128

/* Argon2id parameters for new hashes (and the bar for hb_password_needs_rehash()). */
struct hb_password_params {
    uint32_t t_cost;      /* passes */
    uint32_t m_cost_kib;  /* memory in KiB; at least 8 * parallelism */
    uint32_t parallelism; /* lanes (libargon2 runs one thread per lane) */
};

/* Sets the defaults above. */
void hb_password_params_init(struct hb_password_params *params);

/* Returns 0 if params can create hashes (each value from 1, or 8 * parallelism for memory, up
 * to its cap), or HB_EINVAL. */
int hb_password_params_check(const struct hb_password_params *params);

/* Hashes password[0..password_len) (UTF-8, as typed: not trimmed or normalised) with Argon2id,
 * a fresh 16-byte salt from the OpenSSL CSPRNG and a 32-byte output, and writes
 *   argon2$argon2id$v=19$m=<m>,t=<t>,p=<p>$<salt>$<hash>
 * (salt and hash in standard base64 without padding) with a NUL into out[0..out_cap).
 * Returns 0, HB_EINVAL if params fail hb_password_params_check() or the password is longer than
 * HB_PASSWORD_MAX_LEN, HB_ETOOLARGE if out_cap is too small (HB_PASSWORD_ENCODED_MAX + 1
 * suffices), HB_ENOMEM if libargon2 could not allocate its memory, or HB_EIO if the random
 * generator or libargon2 failed otherwise. */
int hb_password_hash(const struct hb_password_params *params, const char *password,
                     size_t password_len, char *out, size_t out_cap);

/* Checks password[0..password_len) against encoded (NUL-terminated, as stored in
 * auth_user.password). Understands
 *   pbkdf2_sha256$<iterations>$<salt>$<base64 of 32 bytes, padded>
 *   argon2$argon2id$v=19$m=<m>,t=<t>,p=<p>$<salt>$<hash>   (also argon2i, and v=16 or no v=)
 * and compares in constant time. Returns 0 if the password matches. Returns HB_EAUTH if it does
 * not, and also, without doing the costly work, for an unusable hash ("!..." or empty), an
 * unknown algorithm, a malformed string or parameters over the caps. Returns HB_ENOMEM or HB_EIO
 * if the check could not run (libargon2 out of memory, OpenSSL failure): no match either way. */
int hb_password_verify(const char *password, size_t password_len, const char *encoded);

/* The cost of hb_password_verify() against a hash made with params, for a username that does
 * not exist (API.md §3.2: similar timing in every case). Always returns HB_EAUTH, or HB_ENOMEM /
 * HB_EIO as hb_password_verify() does; HB_EINVAL if params fail hb_password_params_check(). */
int hb_password_verify_dummy(const struct hb_password_params *params, const char *password,
                             size_t password_len);

/* True if encoded should be replaced after a successful login: it is not an argon2id v=19
 * hash, or its m or t is below params (a higher value, or another p, is kept, as API.md
 * §10.1 asks). Unparsable strings also answer true. */
bool hb_password_needs_rehash(const char *encoded, const struct hb_password_params *params);

/* Django's is_password_usable(): false for a string starting with '!' (set_unusable_password()),
 * true otherwise, the empty string included (it still never matches). */
bool hb_password_is_usable(const char *encoded);

#endif
