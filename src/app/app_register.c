/* SPDX-License-Identifier: MIT */
/* Sign-up: POST /api/register/ (app layer, API.md §3.5). Django's username and email rules,
 * checked on the loop; the argon2id hash and the insert run on the thread pool. */
#include <locale.h>
#include <stdlib.h>
#include <string.h>
#include <wctype.h>

#include "app/app.h"
#include "app/app_body.h"
#include "auth/auth_password.h"
#include "core/alloc.h"
#include "core/err.h"
#include "core/log.h"

#define USERNAME_TAKEN "同じユーザー名が既に登録済みです。"

/* Decodes one UTF-8 code point at s[*i]; invalid bytes give U+FFFD. */
static unsigned long next_cp(struct hb_str s, size_t *i)
{
    unsigned char c = (unsigned char)s.ptr[(*i)++];
    int extra = c >= 0xf0 ? 3 : c >= 0xe0 ? 2 : c >= 0xc0 ? 1 : 0;
    unsigned long cp = extra == 3 ? c & 7u : extra == 2 ? c & 15u : extra == 1 ? c & 31u : c;
    for (int k = 0; k < extra && *i < s.len; k++)
        cp = cp << 6 | ((unsigned char)s.ptr[(*i)++] & 63u);
    return cp;
}

/* Django's UnicodeUsernameValidator: ^[\w.@+-]+\Z. */
static bool username_chars_ok(struct hb_str s)
{
    static locale_t utf8;
    if (utf8 == (locale_t)0)
        utf8 = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
    for (size_t i = 0; i < s.len;) {
        unsigned long cp = next_cp(s, &i);
        if (cp < 128) {
            char c = (char)cp;
            if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  strchr("_@.+-", c) != NULL) ||
                c == '\0')
                return false;
        } else if (utf8 == (locale_t)0 || !iswalnum_l((wint_t)cp, utf8)) {
            return false;
        }
    }
    return true;
}

static bool is_atext(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != '\0' && strchr("!#$%&'*+/=?^_`{|}~-", c) != NULL);
}

/* Django's EmailValidator, for ASCII addresses: a dot-atom or quoted local part; a domain of
 * dot-separated labels ending in a 2+ letter (or xn--) top-level label, localhost, or a
 * bracketed literal. */
static bool email_ok(struct hb_str s)
{
    const char *at = NULL;
    for (size_t i = 0; i < s.len; i++) {
        if (s.ptr[i] == '@')
            at = s.ptr + i;
    }
    if (at == NULL || at == s.ptr || at == s.ptr + s.len - 1)
        return false;
    struct hb_str local = {s.ptr, (size_t)(at - s.ptr)};
    struct hb_str domain = {at + 1, s.len - local.len - 1};
    if (local.ptr[0] == '"') {
        if (local.len < 2 || local.ptr[local.len - 1] != '"')
            return false;
    } else {
        bool prev_dot = true;
        for (size_t i = 0; i < local.len; i++) {
            char c = local.ptr[i];
            if (c == '.') {
                if (prev_dot)
                    return false;
                prev_dot = true;
            } else if (is_atext(c)) {
                prev_dot = false;
            } else {
                return false;
            }
        }
        if (prev_dot)
            return false;
    }
    if (hb_str_eq_lit(domain, "localhost"))
        return true;
    if (domain.ptr[0] == '[')
        return domain.ptr[domain.len - 1] == ']' && domain.len > 2;
    size_t label_start = 0, n_labels = 0;
    for (size_t i = 0; i <= domain.len; i++) {
        if (i < domain.len && domain.ptr[i] != '.')
            continue;
        struct hb_str label = {domain.ptr + label_start, i - label_start};
        if (label.len == 0 || label.len > 63 || label.ptr[0] == '-' ||
            label.ptr[label.len - 1] == '-')
            return false;
        for (size_t k = 0; k < label.len; k++) {
            char c = label.ptr[k];
            if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-'))
                return false;
        }
        if (i == domain.len) {
            /* The top-level label: letters only, or an IDN xn-- label. */
            bool is_alpha = label.len >= 2;
            for (size_t k = 0; k < label.len && is_alpha; k++)
                is_alpha = (label.ptr[k] | 32) >= 'a' && (label.ptr[k] | 32) <= 'z';
            if (!is_alpha && !(label.len > 4 && strncasecmp(label.ptr, "xn--", 4) == 0))
                return false;
        }
        n_labels++;
        label_start = i + 1;
    }
    return n_labels >= 2;
}

struct register_job {
    struct hb_app *app;
    char *username;
    char *email;
    char *password;
    size_t password_len;
    int rc;
};

struct hash_job {
    struct register_job *job;
    char hash[HB_PASSWORD_ENCODED_MAX + 1];
};

static void hash_run(void *arg)
{
    struct hash_job *h = arg;
    struct hb_password_params params;
    hb_password_params_init(&params);
    h->job->rc =
        hb_password_hash(&params, h->job->password, h->job->password_len, h->hash, sizeof(h->hash));
}

static void register_work(void *arg)
{
    struct register_job *job = arg;
    struct hash_job h = {.job = job};
    hb_app_hash_run(hash_run, &h);
    const char *hash = h.hash;
    memset(job->password, 0, job->password_len);
    if (job->rc < 0)
        return;
    struct hb_store_user_input in = {.username = hb_str_from(job->username),
                                     .password = hb_str_from(hash),
                                     .email = hb_str_from(job->email)};
    int64_t id;
    job->rc = hb_store_user_create(hb_store_writer(job->app->store), &in, &id);
}

static int register_done(struct hb_http_request *req, struct hb_http_response *res, void *arg)
{
    struct register_job *job = arg;
    (void)req;
    if (job->rc == HB_EEXIST) {
        static const char taken[] = "{\"username\":[\"" USERNAME_TAKEN "\"]}";
        hb_http_response_json(res, 400, taken, sizeof(taken) - 1);
    } else if (job->rc < 0) {
        hb_log_error("register: %s", hb_strerror(job->rc));
        hb_http_response_detail(res, 500, "サーバエラーが発生しました。");
    } else {
        static const char ok[] = "{\"message\":\"会員登録完了\"}";
        hb_http_response_json(res, 201, ok, sizeof(ok) - 1);
    }
    free(job->username);
    free(job->email);
    free(job->password);
    free(job);
    return 0;
}

int hb_app_register(struct hb_http_request *req, struct hb_http_response *res)
{
    static const struct hb_app_string_rule username_rule = {.is_required = true};
    static const struct hb_app_string_rule email_rule = {.allow_blank = true, .max_chars = 254};
    static const struct hb_app_string_rule password_rule = {
        .is_required = true, .min_chars = 8, .max_chars = 4096};
    const struct hb_json *body = hb_app_body_parse(req, res);
    if (body == NULL)
        return 0;
    struct hb_app_errors e;
    struct hb_str username = HB_STR(""), email = HB_STR(""), password, confirm;
    hb_app_errors_init(&e);

    if (hb_app_field_string(req->arena, body, "username", &username_rule, &e, &username) > 0) {
        /* Several failures list: characters, uniqueness, length. */
        if (!username_chars_ok(username))
            hb_app_errors_add(&e, "username",
                              "有効なユーザー名を入力してください。半角英数、 @/./+/-/_ "
                              "を使用できます。");
        struct hb_store_user existing;
        if (hb_store_user_get_by_username(hb_app_reader(), username, &existing) == 0)
            hb_app_errors_add(&e, "username", USERNAME_TAKEN);
        if (hb_app_utf8_chars(username) > 150)
            hb_app_errors_add(&e, "username",
                              "この項目が150文字より長くならないようにしてください。");
    }
    int ok_email = hb_app_field_string(req->arena, body, "email", &email_rule, &e, &email);
    if (ok_email > 0 && email.len > 0) {
        if (!email_ok(email)) {
            hb_app_errors_add(&e, "email", "有効なメールアドレスを入力してください。");
        } else {
            /* Django's normalize_email(): the domain part is lower-cased. */
            char *copy = hb_arena_strndup(req->arena, email.ptr, email.len);
            for (char *p = strrchr(copy, '@'); p != NULL && *p; p++)
                *p = (char)((*p >= 'A' && *p <= 'Z') ? *p + 32 : *p);
            email = hb_str_from(copy);
        }
    }
    int ok_pass = hb_app_field_string(req->arena, body, "password", &password_rule, &e, &password);
    int ok_conf =
        hb_app_field_string(req->arena, body, "password_confirm", &password_rule, &e, &confirm);
    if (!hb_app_errors_any(&e) && ok_pass > 0 && ok_conf > 0 && !hb_str_eq(password, confirm))
        hb_app_errors_add(&e, "password", "パスワードが一致していません");
    if (hb_app_errors_any(&e)) {
        hb_app_errors_respond(&e, res);
        hb_app_errors_release(&e);
        return 0;
    }
    hb_app_errors_release(&e);

    struct register_job *job = hb_xcalloc(1, sizeof(*job));
    job->app = req->app;
    job->username = hb_xstrdup(username.ptr);
    job->email = hb_xmalloc(email.len + 1);
    memcpy(job->email, email.ptr, email.len);
    job->email[email.len] = '\0';
    job->password = hb_xmalloc(password.len + 1);
    memcpy(job->password, password.ptr, password.len);
    job->password_len = password.len;
    hb_http_server_queue_work(req, register_work, register_done, job);
    return HB_EAGAIN;
}
