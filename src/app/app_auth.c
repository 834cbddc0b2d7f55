/* SPDX-License-Identifier: MIT */
/* Accounts and tokens (app layer, API.md §3, §7.1, §7.5): register, login, refresh with
 * rotation, verify, logout by blacklisting, and the current user. Validation and token decoding
 * run on the loop (microseconds); password hashing and every store write run on the thread pool,
 * and the response is written from the job's completion. */
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "app/app.h"
#include "app/app_body.h"
#include "auth/auth_password.h"
#include "core/alloc.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"

#define THROTTLE_WINDOW_US     (15LL * 60 * 1000000)
#define THROTTLE_ACCOUNT_LIMIT 10
#define THROTTLE_IP_LIMIT      100

/* Password hashing is the one CPU-heavy job (argon2id, ~19 MiB, tens of ms). Left alone, the
 * thread pool would run four at once and take every core from the event loops; a semaphore
 * keeps it to half the cores (at least one), so reads stay fast under a login storm. */
static sem_t hash_slots;
static pthread_once_t hash_slots_once = PTHREAD_ONCE_INIT;

static void hash_slots_init(void)
{
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    sem_init(&hash_slots, 0, ncpu > 3 ? (unsigned)(ncpu / 2) : 1u);
}

static void hash_begin(void)
{
    pthread_once(&hash_slots_once, hash_slots_init);
    while (sem_wait(&hash_slots) != 0)
        ;
    /* Hashing yields the CPU to the event loops: nice 19 for this thread while it hashes. */
    (void)setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 19);
}

static void hash_end(void)
{
    /* Back to normal for the database work this pool thread does next (an unprivileged process
     * may not be allowed to: the thread then stays nice, which costs only its own latency). */
    (void)setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 0);
    sem_post(&hash_slots);
}

struct hash_call {
    void (*fn)(void *arg);
    void *arg;
};

static void hash_call_run(void *arg)
{
    struct hash_call *call = arg;
    hash_begin();
    call->fn(call->arg);
    hash_end();
}

void hb_app_hash_run(void (*fn)(void *arg), void *arg)
{
    struct hash_call call = {fn, arg};
    hb_net_fiber_offload(hash_call_run, &call);
}

static int64_t now_us(void)
{
    return hb_clock_unix_us();
}

/* {"detail":"<detail>","code":"<code>"} (SimpleJWT's token errors). */
static void token_error(struct hb_http_response *res, int status, const char *detail,
                        const char *code)
{
    hb_http_response_detail(res, status, detail);
    if (code != NULL) {
        res->body.len--; /* reopen the object */
        (void)hb_buf_append_str(&res->body, ",\"code\":");
        (void)hb_http_json_string(&res->body, code, strlen(code));
        (void)hb_buf_append_char(&res->body, '}');
    }
    if (status == 401)
        hb_http_response_header(res, "WWW-Authenticate", "Bearer realm=\"api\"");
}

static void server_error(struct hb_http_response *res)
{
    hb_http_response_detail(res, 500, "サーバエラーが発生しました。");
}

/* Mints one token. Returns 0 or an error. */
static int mint(const struct hb_app *app, enum hb_jwt_type type, int64_t user_id, int64_t iat,
                int64_t exp, char *out, char *jti_out)
{
    struct hb_jwt_claims c = {.token_type = type,
                              .exp = exp,
                              .has_iat = true,
                              .iat = iat,
                              .has_jti = true,
                              .user_state = HB_JWT_USER_OK,
                              .user_id = user_id};
    int err = hb_jwt_jti_generate(c.jti);
    if (err < 0)
        return err;
    if (jti_out != NULL)
        memcpy(jti_out, c.jti, HB_JWT_JTI_LEN + 1);
    return hb_jwt_encode(&app->jwt_key, &c, out, HB_JWT_ENCODED_MAX, NULL);
}

/* ---- login: POST /api/token/ ---- */

struct login_job {
    struct hb_app *app;
    char *username;
    char *password;
    size_t password_len;
    char peer[64];
    int rc; /* 0 ok, HB_EAUTH bad credentials, other: failure */
    char refresh[HB_JWT_ENCODED_MAX];
    char access[HB_JWT_ENCODED_MAX];
};

struct verify_call {
    struct login_job *job;
    struct hb_store_user *u;
    const struct hb_password_params *params;
    int err;    /* in: the user lookup's; out: the verdict */
    char *hash; /* rehash: the new hash, HB_PASSWORD_ENCODED_MAX + 1 bytes */
};

static void verify_run(void *arg)
{
    struct verify_call *call = arg;
    struct login_job *job = call->job;
    if (call->err == 0 && call->u->is_active && hb_password_is_usable(call->u->password)) {
        call->err = hb_password_verify(job->password, job->password_len, call->u->password);
    } else {
        /* Unknown, inactive or unusable: the same work, the same answer (API.md §3.2). */
        (void)hb_password_verify_dummy(call->params, job->password, job->password_len);
        call->err = call->err == 0 || call->err == HB_ENOTFOUND ? HB_EAUTH : call->err;
    }
}

static void rehash_run(void *arg)
{
    struct verify_call *call = arg;
    call->err = hb_password_hash(call->params, call->job->password, call->job->password_len,
                                 call->hash, HB_PASSWORD_ENCODED_MAX + 1);
}

static void login_work(void *arg)
{
    struct login_job *job = arg;
    struct hb_app *app = job->app;
    struct hb_store_conn *db = hb_store_writer(app->store);
    struct hb_store_user *u = hb_xcalloc(1, sizeof(*u));
    struct hb_password_params params;
    int64_t t = now_us();

    hb_password_params_init(&params);
    struct verify_call call = {.job = job, .u = u, .params = &params};
    call.err = hb_store_user_get_by_username(db, hb_str_from(job->username), u);
    hb_app_hash_run(verify_run, &call);
    int err = call.err;
    if (err == HB_EAUTH) {
        (void)hb_store_throttle_record(db, HB_STORE_THROTTLE_ACCOUNT, hb_str_from(job->username),
                                       t);
        (void)hb_store_throttle_record(db, HB_STORE_THROTTLE_IP, hb_str_from(job->peer), t);
        job->rc = HB_EAUTH;
        goto out;
    }
    if (err < 0) {
        job->rc = err;
        goto out;
    }
    (void)hb_store_throttle_clear(db, HB_STORE_THROTTLE_ACCOUNT, hb_str_from(job->username));
    if (hb_password_needs_rehash(u->password, &params)) {
        char hash[HB_PASSWORD_ENCODED_MAX + 1];
        call.hash = hash;
        hb_app_hash_run(rehash_run, &call);
        if (call.err == 0)
            (void)hb_store_user_set_password(db, u->id, hb_str_from(hash));
    }
    int64_t now = t / 1000000;
    char jti[HB_JWT_JTI_LEN + 1];
    err =
        mint(app, HB_JWT_TYPE_REFRESH, u->id, now, now + app->cfg.refresh_ttl_s, job->refresh, jti);
    if (err == 0)
        err = mint(app, HB_JWT_TYPE_ACCESS, u->id, now, now + app->cfg.access_ttl_s, job->access,
                   NULL);
    if (err == 0) {
        struct hb_store_token tok = {.jti = hb_str_from(jti),
                                     .user_id = u->id,
                                     .created_us = now * 1000000,
                                     .expires_us = (now + app->cfg.refresh_ttl_s) * 1000000LL};
        err = hb_store_token_record(db, &tok);
    }
    job->rc = err;
out:
    /* The password copy is wiped before it is freed. */
    memset(job->password, 0, job->password_len);
    free(u);
}

static int login_done(struct hb_http_request *req, struct hb_http_response *res, void *arg)
{
    struct login_job *job = arg;
    (void)req;
    if (job->rc == HB_EAUTH) {
        token_error(res, 401, "No active account found with the given credentials", NULL);
    } else if (job->rc < 0) {
        hb_log_error("login: %s", hb_strerror(job->rc));
        server_error(res);
    } else {
        res->status = 200;
        res->content_type = "application/json";
        (void)hb_buf_printf(&res->body, "{\"refresh\":\"%s\",\"access\":\"%s\"}", job->refresh,
                            job->access);
    }
    free(job->username);
    free(job->password);
    free(job);
    return 0;
}

/* Answers 429 when key already has too many failures in the window (API.md §7.5). */
static bool throttled(struct hb_http_response *res, enum hb_store_throttle_scope scope,
                      struct hb_str key, int64_t limit, int64_t t)
{
    int64_t n = 0, oldest = 0;
    if (hb_store_throttle_count(hb_app_reader(), scope, key, t - THROTTLE_WINDOW_US, &n, &oldest) !=
            0 ||
        n < limit)
        return false;
    int64_t wait_us = oldest + THROTTLE_WINDOW_US - t;
    long long wait_s = wait_us <= 0 ? 1 : (wait_us + 999999) / 1000000;
    char msg[160], retry[24];
    snprintf(msg, sizeof(msg),
             "リクエストの処理は絞られました。 Expected available in %lld second%s.", wait_s,
             wait_s == 1 ? "" : "s");
    snprintf(retry, sizeof(retry), "%lld", wait_s);
    hb_http_response_detail(res, 429, msg);
    hb_http_response_header(res, "Retry-After", retry);
    return true;
}

int hb_app_token(struct hb_http_request *req, struct hb_http_response *res)
{
    static const struct hb_app_string_rule username_rule = {.is_required = true};
    static const struct hb_app_string_rule password_rule = {.is_required = true,
                                                            .keep_whitespace = true};
    const struct hb_json *body = hb_app_body_parse(req, res);
    if (body == NULL)
        return 0;
    struct hb_app_errors e;
    struct hb_str username, password;
    hb_app_errors_init(&e);
    int ok_user = hb_app_field_string(req->arena, body, "username", &username_rule, &e, &username);
    int ok_pass = hb_app_field_string(req->arena, body, "password", &password_rule, &e, &password);
    if (ok_user <= 0 || ok_pass <= 0) {
        hb_app_errors_respond(&e, res);
        hb_app_errors_release(&e);
        return 0;
    }
    hb_app_errors_release(&e);

    int64_t t = now_us();
    if (throttled(res, HB_STORE_THROTTLE_ACCOUNT, username, THROTTLE_ACCOUNT_LIMIT, t) ||
        throttled(res, HB_STORE_THROTTLE_IP, hb_str_from(req->peer), THROTTLE_IP_LIMIT, t))
        return 0;

    struct login_job *job = hb_xcalloc(1, sizeof(*job));
    job->app = req->app;
    job->username = hb_xstrdup(username.ptr);
    job->password = hb_xmalloc(password.len + 1);
    memcpy(job->password, password.ptr, password.len);
    job->password[password.len] = '\0';
    job->password_len = password.len;
    snprintf(job->peer, sizeof(job->peer), "%s", req->peer);
    hb_http_server_queue_work(req, login_work, login_done, job);
    return HB_EAGAIN;
}

/* ---- refresh: POST /api/token/refresh/ ---- */

struct refresh_job {
    struct hb_app *app;
    struct hb_jwt_claims old;
    int rc;
    char refresh[HB_JWT_ENCODED_MAX];
    char access[HB_JWT_ENCODED_MAX];
};

static void refresh_work(void *arg)
{
    struct refresh_job *job = arg;
    struct hb_app *app = job->app;
    int64_t t = now_us();
    int64_t now = t / 1000000;
    struct hb_store_token old = {.jti = hb_str_from(job->old.jti),
                                 .user_id = job->old.user_id,
                                 .created_us = (job->old.has_iat ? job->old.iat : now) * 1000000,
                                 .expires_us = job->old.exp * 1000000};
    /* Blacklisting the presented token is the atomic step: of two concurrent refreshes with one
     * token, exactly one gets past it (API.md §3.1). */
    int err = hb_store_token_rotate(hb_store_writer(app->store), &old, NULL, t);
    if (err == 0)
        err = mint(app, HB_JWT_TYPE_REFRESH, job->old.user_id, now, now + app->cfg.refresh_ttl_s,
                   job->refresh, NULL);
    if (err == 0)
        err = mint(app, HB_JWT_TYPE_ACCESS, job->old.user_id, job->old.has_iat ? job->old.iat : now,
                   now + app->cfg.access_ttl_s, job->access, NULL);
    job->rc = err;
}

static int refresh_done(struct hb_http_request *req, struct hb_http_response *res, void *arg)
{
    struct refresh_job *job = arg;
    (void)req;
    if (job->rc == HB_EEXIST) {
        token_error(res, 401, HB_JWT_REASON_BLACKLISTED, "token_not_valid");
    } else if (job->rc < 0) {
        hb_log_error("refresh: %s", hb_strerror(job->rc));
        server_error(res);
    } else {
        res->status = 200;
        res->content_type = "application/json";
        (void)hb_buf_printf(&res->body, "{\"access\":\"%s\",\"refresh\":\"%s\"}", job->access,
                            job->refresh);
    }
    free(job);
    return 0;
}

/* Reads body[field] as a token string: 0 and the text, or 1 after answering 400. */
static int token_field(struct hb_http_request *req, struct hb_http_response *res,
                       const struct hb_json *body, const char *field, struct hb_str *out)
{
    static const struct hb_app_string_rule rule = {.is_required = true};
    struct hb_app_errors e;
    hb_app_errors_init(&e);
    int ok = hb_app_field_string(req->arena, body, field, &rule, &e, out);
    if (ok <= 0)
        hb_app_errors_respond(&e, res);
    hb_app_errors_release(&e);
    return ok <= 0;
}

static bool is_blacklisted(const struct hb_jwt_claims *c)
{
    bool yes = false;
    return c->has_jti &&
           hb_store_token_is_blacklisted(hb_app_reader(), hb_str_from(c->jti), &yes) == 0 && yes;
}

/* Decodes a token that must be a refresh token, in SimpleJWT's order: decode and signature,
 * exp, blacklist, jti, type. Returns NULL or the failure reason. */
static const char *check_refresh(const struct hb_app *app, struct hb_str token,
                                 struct hb_jwt_claims *c)
{
    const char *reason = NULL;
    int64_t now = now_us() / 1000000;
    int err = hb_jwt_decode(&app->jwt_key, token.ptr, token.len, now, c, &reason);
    if (err != 0 && reason != NULL && strcmp(reason, HB_JWT_REASON_NO_TYPE) != 0)
        return reason;
    if (is_blacklisted(c))
        return HB_JWT_REASON_BLACKLISTED;
    if (err != 0)
        return reason;
    if (c->token_type != HB_JWT_TYPE_REFRESH)
        return HB_JWT_REASON_WRONG_TYPE;
    return NULL;
}

int hb_app_token_refresh(struct hb_http_request *req, struct hb_http_response *res)
{
    struct hb_app *app = req->app;
    const struct hb_json *body = hb_app_body_parse(req, res);
    struct hb_str token;
    if (body == NULL || token_field(req, res, body, "refresh", &token))
        return 0;
    struct refresh_job *job = hb_xcalloc(1, sizeof(*job));
    const char *reason = check_refresh(app, token, &job->old);
    if (reason != NULL) {
        token_error(res, 401, reason, "token_not_valid");
        free(job);
        return 0;
    }
    struct hb_store_user u;
    if (job->old.user_state != HB_JWT_USER_OK ||
        hb_store_user_get(hb_app_reader(), job->old.user_id, &u) != 0 || !u.is_active) {
        token_error(res, 401, "No active account found for the given token.", NULL);
        free(job);
        return 0;
    }
    job->app = app;
    hb_http_server_queue_work(req, refresh_work, refresh_done, job);
    return HB_EAGAIN;
}

/* ---- verify: POST /api/token/verify/ ---- */

int hb_app_token_verify(struct hb_http_request *req, struct hb_http_response *res)
{
    const struct hb_app *app = req->app;
    const struct hb_json *body = hb_app_body_parse(req, res);
    struct hb_str token;
    if (body == NULL || token_field(req, res, body, "token", &token))
        return 0;
    struct hb_jwt_claims c;
    const char *reason = NULL;
    int err = hb_jwt_decode(&app->jwt_key, token.ptr, token.len, now_us() / 1000000, &c, &reason);
    /* Any type verifies, even none (SimpleJWT's UntypedToken). */
    if (err != 0 && strcmp(reason, HB_JWT_REASON_NO_TYPE) != 0) {
        token_error(res, 401, reason, "token_not_valid");
        return 0;
    }
    if (is_blacklisted(&c)) {
        static const char body_bl[] = "{\"non_field_errors\":[\"Token is blacklisted\"]}";
        hb_http_response_json(res, 400, body_bl, sizeof(body_bl) - 1);
        return 0;
    }
    hb_http_response_json(res, 200, "{}", 2);
    return 0;
}

/* ---- logout: POST /api/logout/ ---- */

struct logout_job {
    struct hb_app *app;
    struct hb_jwt_claims claims;
    int rc;
};

static void logout_work(void *arg)
{
    struct logout_job *job = arg;
    int64_t t = now_us();
    struct hb_store_token tok = {
        .jti = hb_str_from(job->claims.jti),
        .user_id = job->claims.user_state == HB_JWT_USER_OK ? job->claims.user_id : 0,
        .created_us = (job->claims.has_iat ? job->claims.iat : t / 1000000) * 1000000,
        .expires_us = job->claims.exp * 1000000};
    job->rc = hb_store_token_blacklist(hb_store_writer(job->app->store), &tok, t);
}

static void logout_error(struct hb_http_response *res, const char *reason)
{
    res->status = 400;
    res->content_type = "application/json";
    hb_buf_reset(&res->body);
    (void)hb_buf_append_str(&res->body, "{\"error\":");
    (void)hb_http_json_string(&res->body, reason, strlen(reason));
    (void)hb_buf_append_char(&res->body, '}');
}

static int logout_done(struct hb_http_request *req, struct hb_http_response *res, void *arg)
{
    struct logout_job *job = arg;
    (void)req;
    if (job->rc == HB_EEXIST) {
        logout_error(res, HB_JWT_REASON_BLACKLISTED);
    } else if (job->rc < 0) {
        hb_log_error("logout: %s", hb_strerror(job->rc));
        server_error(res);
    } else {
        static const char ok[] = "{\"message\":\"ログアウト成功しました\"}";
        hb_http_response_json(res, 200, ok, sizeof(ok) - 1);
    }
    free(job);
    return 0;
}

int hb_app_logout(struct hb_http_request *req, struct hb_http_response *res)
{
    struct hb_app *app = req->app;
    const struct hb_json *body = hb_app_body_parse_value(req, res);
    if (body == NULL)
        return 0;
    const struct hb_json *v = hb_json_is_object(body) ? hb_json_get(body, "refresh") : NULL;
    if (v == NULL || !hb_json_is_string(v)) {
        static const char required[] = "{\"refresh\":[\"この項目は必須です。\"]}";
        hb_http_response_json(res, 400, required, sizeof(required) - 1);
        return 0;
    }
    struct logout_job *job = hb_xcalloc(1, sizeof(*job));
    const char *reason = check_refresh(app, hb_json_string(v), &job->claims);
    if (reason != NULL) {
        logout_error(res, reason);
        free(job);
        return 0;
    }
    job->app = app;
    hb_http_server_queue_work(req, logout_work, logout_done, job);
    return HB_EAGAIN;
}

/* ---- me: GET /api/me/ ---- */

int hb_app_me(struct hb_http_request *req, struct hb_http_response *res)
{
    const struct hb_app_user *u = req->user;
    res->status = 200;
    res->content_type = "application/json";
    (void)hb_buf_printf(&res->body, "{\"id\":%lld,\"username\":", (long long)u->id);
    (void)hb_http_json_string(&res->body, u->username, strlen(u->username));
    (void)hb_buf_append_str(&res->body, ",\"email\":");
    (void)hb_http_json_string(&res->body, u->email, strlen(u->email));
    (void)hb_buf_append_str(&res->body,
                            u->is_staff ? ",\"is_staff\":true}" : ",\"is_staff\":false}");
    return 0;
}
