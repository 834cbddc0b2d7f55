/* SPDX-License-Identifier: MIT */
/* The auth guard (app layer, API.md §2.8): validates the Authorization header before a route's
 * handler and method check, exactly as SimpleJWT's JWTAuthentication answers. The user is read
 * on the loop through the worker's reader: one indexed lookup. */
#include <string.h>

#include "app/app.h"
#include "core/clock.h"

#define WWW_AUTHENTICATE "Bearer realm=\"api\""

static int unauthorized(struct hb_http_response *res, const char *json)
{
    hb_http_response_json(res, 401, json, strlen(json));
    hb_http_response_header(res, "WWW-Authenticate", WWW_AUTHENTICATE);
    return 1;
}

static int token_invalid(struct hb_http_request *req, struct hb_http_response *res,
                         const char *reason)
{
    struct hb_buf *b = &res->body;
    hb_http_response_json(res, 401, "", 0);
    (void)hb_buf_append_str(b, "{\"detail\":\"Given token not valid for any token type\","
                               "\"code\":\"token_not_valid\",\"messages\":[{\"token_class\":"
                               "\"AccessToken\",\"token_type\":\"access\",\"message\":");
    (void)hb_http_json_string(b, reason, strlen(reason));
    (void)hb_buf_append_str(b, "}]}");
    hb_http_response_header(res, "WWW-Authenticate", WWW_AUTHENTICATE);
    (void)req;
    return 1;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

int hb_app_guard(struct hb_http_request *req, struct hb_http_response *res, int auth_rule)
{
    const struct hb_app *app = req->app;
    if (auth_rule == HB_AUTH_NONE)
        return 0;

    /* The header split on runs of whitespace (Python's str.split()). */
    struct hb_str header = hb_http_request_header(req, "authorization");
    struct hb_str words[3];
    int n_words = 0;
    for (size_t i = 0; header.ptr != NULL && i < header.len;) {
        while (i < header.len && is_space(header.ptr[i]))
            i++;
        size_t start = i;
        while (i < header.len && !is_space(header.ptr[i]))
            i++;
        if (i > start) {
            if (n_words < 3)
                words[n_words] = (struct hb_str){header.ptr + start, i - start};
            n_words++;
        }
    }
    if (n_words == 0 || !hb_str_eq_lit(words[0], "Bearer")) {
        if (auth_rule != HB_AUTH_REQUIRED)
            return 0;
        return unauthorized(res, "{\"detail\":\"認証情報が含まれていません。\"}");
    }
    if (n_words != 2)
        return unauthorized(res, "{\"detail\":\"Authorization header must contain two "
                                 "space-delimited values\",\"code\":\"bad_authorization_header\"}");

    struct hb_jwt_claims claims;
    const char *reason = NULL;
    int64_t now = hb_clock_unix_us() / 1000000;
    if (hb_jwt_decode(&app->jwt_key, words[1].ptr, words[1].len, now, &claims, &reason) != 0)
        return token_invalid(req, res, reason);
    if (claims.token_type != HB_JWT_TYPE_ACCESS)
        return token_invalid(req, res, HB_JWT_REASON_WRONG_TYPE);
    if (claims.user_state == HB_JWT_USER_MISSING)
        return unauthorized(res, "{\"detail\":\"Token contained no recognizable user "
                                 "identification\",\"code\":\"token_not_valid\"}");

    struct hb_store_user *u = hb_arena_alloc(req->arena, sizeof(*u));
    if (claims.user_state != HB_JWT_USER_OK ||
        hb_store_user_get(hb_app_reader(), claims.user_id, u) != 0)
        return unauthorized(res, "{\"detail\":\"User not found\",\"code\":\"user_not_found\"}");
    if (!u->is_active)
        return unauthorized(res, "{\"detail\":\"User is inactive\",\"code\":\"user_inactive\"}");
    struct hb_app_user *user = hb_arena_alloc(req->arena, sizeof(*user));
    user->id = u->id;
    user->is_staff = u->is_staff;
    user->username = u->username;
    user->email = u->email;
    req->user = user;
    return 0;
}
