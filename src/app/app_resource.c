/* SPDX-License-Identifier: MIT */
/* Plumbing shared by the REST resources (app layer): answers, ids, ownership, DRF page-number
 * pagination with its absolute links, and the write job. A write job owns copies of everything
 * it needs, because the connection (and the request arena) may go away while it runs. */
#include "app/app_resource.h"

#include <assert.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/app_body.h"
#include "core/alloc.h"
#include "core/err.h"
#include "core/log.h"
#include "http/http_url.h"

#define PAGE_SIZE_DEFAULT 10
#define PAGE_SIZE_MAX     100
#define LIST_MAX          ((size_t)256 * 1024 * 1024)

int hb_app__not_found(struct hb_http_response *res)
{
    hb_http_response_detail(res, 404, "見つかりませんでした。");
    return 0;
}

int hb_app__forbidden(struct hb_http_response *res)
{
    hb_http_response_detail(res, 403, "このアクションを実行する権限がありません。");
    return 0;
}

int hb_app__server_error(struct hb_http_response *res, const char *what, int err)
{
    hb_log_error("%s: %s", what, hb_strerror(err));
    hb_http_response_detail(res, 500, "サーバエラーが発生しました。");
    return 0;
}

int hb_app__read_failed(struct hb_http_response *res, const char *what, int err)
{
    if (err == HB_ENOTFOUND)
        return hb_app__not_found(res);
    return hb_app__server_error(res, what, err);
}

bool hb_app__parse_id(struct hb_str text, int64_t *id)
{
    int64_t n;
    if (hb_app_parse_pyint(text, &n) != 0 || n <= 0)
        return false;
    *id = n;
    return true;
}

bool hb_app__may_modify(const struct hb_http_request *req, int64_t author_id)
{
    const struct hb_app_user *user = req->user;
    assert(user != NULL); /* every resource route requires authentication */
    return user->is_staff || (author_id != 0 && author_id == user->id);
}

bool hb_app__lookup(struct hb_http_request *req, struct hb_http_response *res, hb_app_get_cb *get,
                    struct hb_store_meta *meta, struct hb_buf *json)
{
    int64_t id;
    assert(req->n_params >= 1);
    if (!hb_app__parse_id(req->params[0], &id)) {
        hb_app__not_found(res);
        return false;
    }
    int err = get(hb_app_reader(), id, meta, json);
    if (err < 0) {
        hb_app__read_failed(res, "lookup", err);
        return false;
    }
    return true;
}

bool hb_app__lookup_owned(struct hb_http_request *req, struct hb_http_response *res,
                          hb_app_get_cb *get, struct hb_store_meta *meta)
{
    if (!hb_app__lookup(req, res, get, meta, NULL))
        return false;
    if (!hb_app__may_modify(req, meta->author_id)) {
        hb_app__forbidden(res);
        return false;
    }
    return true;
}

int hb_app__get(struct hb_http_request *req, struct hb_http_response *res, hb_app_get_cb *get)
{
    struct hb_store_meta meta;
    hb_http_response_json(res, 200, "", 0);
    (void)hb_app__lookup(req, res, get, &meta, &res->body);
    return 0;
}

bool hb_app__query_after(struct hb_http_request *req, struct hb_http_response *res, int64_t *after)
{
    struct hb_str text;
    *after = 0;
    if (!hb_http_url_param(req->arena, req->query, "after", &text) || text.len == 0)
        return true;
    int64_t n = 0;
    int err = hb_app_parse_int_text(text, &n);
    if (err == HB_ETOOLARGE) {
        struct hb_str t = hb_app_trim(text);
        n = t.len > 0 && t.ptr[0] == '-' ? INT64_MIN : INT64_MAX;
    } else if (err < 0) {
        hb_app_field_error(res, "after", "有効な整数を入力してください。");
        return false;
    }
    if (n < 0) {
        hb_app_field_error(res, "after", "この値は0以上にしてください。");
        return false;
    }
    *after = n;
    return true;
}

const char *hb_app__origin(struct hb_http_request *req)
{
    const struct hb_app *app = req->app;
    struct hb_str host = hb_http_request_header(req, "host");
    /* hiroba terminates no TLS and trusts no proxy header yet, so the scheme is http. */
    if (host.ptr == NULL || host.len == 0) {
        /* HTTP/1.0 without Host: Django falls back to the server's own name and port. */
        bool is_v6 = strchr(app->cfg.listen_host, ':') != NULL;
        return hb_arena_printf(req->arena, "http://%s%s%s:%d", is_v6 ? "[" : "",
                               app->cfg.listen_host, is_v6 ? "]" : "", app->cfg.listen_port);
    }
    return hb_arena_printf(req->arena, "http://%.*s", (int)host.len, host.ptr);
}

/* ---- Pagination links ---- */

struct query_pair {
    struct hb_str key, value;
    size_t order; /* position in the query, for a stable sort */
};

struct pairs {
    struct hb_arena *arena;
    struct query_pair *items;
    size_t n, cap;
};

static void collect_pair(void *ctx, struct hb_str key, struct hb_str value)
{
    struct pairs *p = ctx;
    if (p->n == p->cap)
        return; /* cannot happen: cap counts every separator */
    p->items[p->n] = (struct query_pair){key, value, p->n};
    p->n++;
}

static int compare_pairs(const void *a, const void *b)
{
    const struct query_pair *x = a, *y = b;
    size_t n = x->key.len < y->key.len ? x->key.len : y->key.len;
    int c = n > 0 ? memcmp(x->key.ptr, y->key.ptr, n) : 0;
    if (c != 0)
        return c;
    if (x->key.len != y->key.len)
        return x->key.len < y->key.len ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

/* Python's quote_plus(): unreserved bytes as they are, space as '+', the rest %XX. */
static void append_quoted(struct hb_buf *out, struct hb_str s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < s.len; i++) {
        unsigned char c = (unsigned char)s.ptr[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '_' || c == '.' || c == '-' || c == '~') {
            (void)hb_buf_append_char(out, (char)c);
        } else if (c == ' ') {
            (void)hb_buf_append_char(out, '+');
        } else {
            char esc[3] = {'%', hex[c >> 4], hex[c & 15]};
            (void)hb_buf_append(out, esc, 3);
        }
    }
}

/* Appends the URL of page number (0: no page parameter) as a JSON string, as DRF's
 * replace_query_param()/remove_query_param() build it: the request's parameters decoded, page
 * replaced, sorted by name, encoded again. */
static void append_link(struct hb_http_request *req, struct hb_buf *out, int64_t number)
{
    struct pairs p = {.arena = req->arena};
    p.cap = 2;
    for (size_t i = 0; i < req->query.len; i++)
        p.cap += req->query.ptr[i] == '&' || req->query.ptr[i] == ';';
    p.items = hb_arena_alloc(req->arena, p.cap * sizeof(*p.items));
    hb_http_url_each_param(req->arena, req->query, collect_pair, &p);

    size_t kept = 0;
    for (size_t i = 0; i < p.n; i++) {
        if (!hb_str_eq_lit(p.items[i].key, "page"))
            p.items[kept++] = p.items[i];
    }
    p.n = kept;
    if (number > 0) {
        char *text = hb_arena_printf(req->arena, "%lld", (long long)number);
        p.items[p.n] = (struct query_pair){HB_STR("page"), hb_str_from(text), p.n};
        p.n++;
    }
    qsort(p.items, p.n, sizeof(*p.items), compare_pairs);

    struct hb_buf url;
    hb_buf_init(&url, LIST_MAX);
    (void)hb_buf_append_str(&url, hb_app__origin(req));
    (void)hb_buf_append(&url, req->path.ptr, req->path.len);
    for (size_t i = 0; i < p.n; i++) {
        (void)hb_buf_append_char(&url, i == 0 ? '?' : '&');
        append_quoted(&url, p.items[i].key);
        (void)hb_buf_append_char(&url, '=');
        append_quoted(&url, p.items[i].value);
    }
    (void)hb_http_json_string(out, url.data, url.len);
    hb_buf_release(&url);
}

/* ---- Lists ---- */

int hb_app__list_empty(struct hb_store_conn *conn, void *ctx, struct hb_store_page *page,
                       struct hb_buf *json)
{
    (void)conn;
    (void)ctx;
    if (page != NULL) {
        page->count = 0;
        if (page->number == HB_STORE_PAGE_LAST)
            page->number = 1;
        if (page->number != 1)
            return HB_ENOTFOUND;
    }
    return hb_buf_append(json, "[]", 2);
}

int hb_app__list(struct hb_http_request *req, struct hb_http_response *res, hb_app_list_cb *fn,
                 void *ctx)
{
    const struct hb_app *app = req->app;
    struct hb_str page_text = HB_STR_NULL, size_text = HB_STR_NULL;
    bool has_page = hb_http_url_param(req->arena, req->query, "page", &page_text);
    bool has_size = hb_http_url_param(req->arena, req->query, "page_size", &size_text);
    int err;

    if (!has_page && !has_size && app->cfg.page_size <= 0) {
        hb_http_response_json(res, 200, "", 0);
        err = fn(hb_app_reader(), ctx, NULL, &res->body);
        if (err < 0) {
            hb_buf_reset(&res->body);
            return hb_app__server_error(res, "list", err);
        }
        return 0;
    }

    /* DRF's PageNumberPagination: an unusable page_size means the default, a page that is not
     * an integer (or "last") is invalid. */
    struct hb_store_page page = {
        .size = app->cfg.page_size > 0 ? app->cfg.page_size : PAGE_SIZE_DEFAULT, .number = 1};
    int64_t n;
    if (has_size) {
        err = hb_app_parse_pyint(size_text, &n);
        if ((err == 0 || err == HB_ETOOLARGE) && n > 0)
            page.size = n < PAGE_SIZE_MAX ? n : PAGE_SIZE_MAX;
    }
    bool is_valid = true;
    if (page_text.len > 0) {
        if (hb_str_eq_lit(page_text, "last"))
            page.number = HB_STORE_PAGE_LAST;
        else if (hb_app_parse_pyint(page_text, &n) == 0 && n >= 1)
            page.number = n;
        else
            is_valid = false;
    }

    struct hb_buf rows;
    hb_buf_init(&rows, LIST_MAX);
    err = is_valid ? fn(hb_app_reader(), ctx, &page, &rows) : HB_ENOTFOUND;
    if (err == HB_ENOTFOUND) {
        hb_http_response_detail(res, 404, "不正なページです。");
    } else if (err < 0) {
        hb_app__server_error(res, "list", err);
    } else {
        int64_t n_pages = page.count == 0 ? 1 : (page.count - 1) / page.size + 1;
        struct hb_buf *out = &res->body;
        hb_http_response_json(res, 200, "", 0);
        (void)hb_buf_reserve(out, rows.len + 256);
        (void)hb_buf_printf(out, "{\"count\":%lld,\"next\":", (long long)page.count);
        if (page.number < n_pages)
            append_link(req, out, page.number + 1);
        else
            (void)hb_buf_append_str(out, "null");
        (void)hb_buf_append_str(out, ",\"previous\":");
        if (page.number > 1)
            append_link(req, out, page.number == 2 ? 0 : page.number - 1);
        else
            (void)hb_buf_append_str(out, "null");
        (void)hb_buf_append_str(out, ",\"results\":");
        (void)hb_buf_append(out, rows.data, rows.len);
        if (hb_buf_append_char(out, '}') < 0) {
            hb_buf_reset(out);
            hb_app__server_error(res, "list", HB_ETOOLARGE);
        }
    }
    hb_buf_release(&rows);
    return 0;
}

/* ---- Writes ---- */

struct hb_app_write *hb_app__write_create(struct hb_http_request *req, enum hb_app_write_op op,
                                          struct hb_str text, struct hb_str fk_text)
{
    const struct hb_app_user *user = req->user;
    struct hb_app_write *job = hb_xcalloc(1, sizeof(*job));
    job->app = req->app;
    job->op = op;
    job->text = hb_xmalloc(text.len + 1);
    if (text.len > 0)
        memcpy(job->text, text.ptr, text.len);
    job->text[text.len] = '\0';
    job->text_len = text.len;
    job->fk_text = hb_xmalloc(fk_text.len + 1);
    if (fk_text.len > 0)
        memcpy(job->fk_text, fk_text.ptr, fk_text.len);
    job->fk_text[fk_text.len] = '\0';
    job->post =
        (struct hb_store_post_input){.created_us = HB_STORE_TIME_NONE, .author_id = user->id};
    job->room = (struct hb_store_room_input){
        .headcount = -1, .created_us = HB_STORE_TIME_NONE, .author_id = user->id};
    hb_buf_init(&job->json, HB_APP_OBJECT_MAX);
    return job;
}

static const char *const op_names[] = {
    [HB_APP_CATEGORY_CREATE] = "category create", [HB_APP_CATEGORY_UPDATE] = "category update",
    [HB_APP_CATEGORY_DELETE] = "category delete", [HB_APP_TOPIC_CREATE] = "topic create",
    [HB_APP_TOPIC_UPDATE] = "topic update",       [HB_APP_TOPIC_DELETE] = "topic delete",
    [HB_APP_REPLY_CREATE] = "reply create",       [HB_APP_REPLY_UPDATE] = "reply update",
    [HB_APP_REPLY_DELETE] = "reply delete",       [HB_APP_ROOM_CREATE] = "room create",
    [HB_APP_ROOM_UPDATE] = "room update",         [HB_APP_ROOM_DELETE] = "room delete",
};

/* Sends one small deletion event: {"id":N} or {"id":N,"topic":M}. */
static void deleted_event(struct hb_app *app, const char *type, int64_t id, int64_t topic_id,
                          int64_t seq)
{
    char json[64];
    int len = topic_id > 0 ? snprintf(json, sizeof(json), "{\"id\":%lld,\"topic\":%lld}",
                                      (long long)id, (long long)topic_id)
                           : snprintf(json, sizeof(json), "{\"id\":%lld}", (long long)id);
    hb_app_bbs_event(app, type, json, (size_t)len, seq);
}

static int category_delete(struct hb_app_write *job, struct hb_store_conn *db)
{
    struct hb_buf ids;
    hb_buf_init(&ids, LIST_MAX);
    int err = hb_store_category_delete(db, job->id, &ids);
    size_t n = ids.len / sizeof(int64_t);
    /* The clock went up by one per topic: the events take its last n values, in order. */
    int64_t clock = hb_store_event_clock(db);
    for (size_t i = 0; err == 0 && i < n; i++) {
        int64_t topic_id;
        memcpy(&topic_id, ids.data + i * sizeof(int64_t), sizeof(topic_id));
        deleted_event(job->app, "topic.deleted", topic_id, 0,
                      clock > 0 ? clock - (int64_t)n + 1 + (int64_t)i : 0);
    }
    hb_buf_release(&ids);
    return err;
}

/* /ws/bbs/ streams events in commit order (API.md §6.8). On SQLite every write already goes
 * through the one writer in turn, so holding this lock from the write to its event costs no
 * throughput and makes the events leave in the order the commits happened. */
static pthread_mutex_t commit_order_lock = PTHREAD_MUTEX_INITIALIZER;

static void write_work_ordered(struct hb_app_write *job);

static void write_work(void *arg)
{
    struct hb_app_write *job = arg;
    bool is_serial = strcmp(hb_store_backend_name(job->app->store), "sqlite") == 0;
    if (is_serial)
        pthread_mutex_lock(&commit_order_lock);
    write_work_ordered(job);
    if (is_serial)
        pthread_mutex_unlock(&commit_order_lock);
}

static void write_work_ordered(struct hb_app_write *job)
{
    struct hb_store_conn *db = hb_store_writer(job->app->store);
    struct hb_str text = {job->text, job->text_len};
    struct hb_store_meta *meta = &job->meta;
    struct hb_buf *json = &job->json;
    const char *event = NULL;
    int err = HB_EINVAL;

    switch (job->op) {
    case HB_APP_CATEGORY_CREATE:
        err = hb_store_category_create(db, text, job->post.author_id, meta, json);
        break;
    case HB_APP_CATEGORY_UPDATE:
        err = hb_store_category_update(db, job->id, text, meta, json);
        break;
    case HB_APP_CATEGORY_DELETE:
        err = category_delete(job, db);
        break;
    case HB_APP_TOPIC_CREATE:
        err = hb_store_topic_create(db, &job->post, meta, json);
        event = "topic.created";
        break;
    case HB_APP_TOPIC_UPDATE:
        err = hb_store_topic_update(db, job->id, &job->post, meta, json);
        event = "topic.updated";
        break;
    case HB_APP_TOPIC_DELETE:
        err = hb_store_topic_delete(db, job->id, meta);
        if (err == 0)
            deleted_event(job->app, "topic.deleted", job->id, 0, hb_store_event_clock(db));
        break;
    case HB_APP_REPLY_CREATE:
        err = hb_store_reply_create(db, &job->post, meta, json);
        event = "reply.created";
        break;
    case HB_APP_REPLY_UPDATE:
        err = hb_store_reply_update(db, job->id, &job->post, meta, json);
        event = "reply.updated";
        break;
    case HB_APP_REPLY_DELETE:
        err = hb_store_reply_delete(db, job->id, meta);
        if (err == 0)
            deleted_event(job->app, "reply.deleted", job->id, meta->parent_id,
                          hb_store_event_clock(db));
        break;
    case HB_APP_ROOM_CREATE:
        err = hb_store_room_create(db, &job->room, meta, json);
        break;
    case HB_APP_ROOM_UPDATE:
        err = hb_store_room_update(db, job->id, &job->room, meta, json);
        break;
    case HB_APP_ROOM_DELETE:
        err = hb_store_room_delete(db, job->id, meta);
        if (err == 0)
            hb_app_ws_room_deleted(job->id);
        break;
    default:
        HB_BUG("unknown write op");
    }
    if (err == 0 && event != NULL)
        hb_app_bbs_event(job->app, event, json->data, json->len, hb_store_event_clock(db));
    job->rc = err;
}

static bool is_create(enum hb_app_write_op op)
{
    return op == HB_APP_CATEGORY_CREATE || op == HB_APP_TOPIC_CREATE || op == HB_APP_REPLY_CREATE ||
           op == HB_APP_ROOM_CREATE;
}

static bool is_delete(enum hb_app_write_op op)
{
    return op == HB_APP_CATEGORY_DELETE || op == HB_APP_TOPIC_DELETE || op == HB_APP_REPLY_DELETE ||
           op == HB_APP_ROOM_DELETE;
}

static int write_done(struct hb_http_request *req, struct hb_http_response *res, void *arg)
{
    struct hb_app_write *job = arg;
    struct hb_app_errors e;

    switch (job->rc) {
    case 0:
        if (is_delete(job->op)) {
            res->status = 204;
            res->content_type = NULL;
            hb_buf_reset(&res->body);
        } else {
            hb_http_response_json(res, is_create(job->op) ? 201 : 200, job->json.data,
                                  job->json.len);
        }
        break;
    case HB_ENOTFOUND:
        /* Deleted by someone else between the lookup and the write. */
        hb_app__not_found(res);
        break;
    case HB_ECONFLICT:
        /* The parent was deleted after validation: the answer validation would now give. */
        hb_app_errors_init(&e);
        hb_app_errors_add_fk_missing(
            req->arena, &e,
            job->op == HB_APP_TOPIC_CREATE || job->op == HB_APP_TOPIC_UPDATE ? "category" : "topic",
            hb_str_from(job->fk_text));
        hb_app_errors_respond(&e, res);
        hb_app_errors_release(&e);
        break;
    case HB_EEXIST: {
        static const char taken[] = "{\"name\":[\"この 部屋名 を持った room が既に存在します。\"]}";
        hb_http_response_json(res, 400, taken, sizeof(taken) - 1);
        break;
    }
    default:
        hb_app__server_error(res, op_names[job->op], job->rc);
    }
    hb_buf_release(&job->json);
    free(job->text);
    free(job->fk_text);
    free(job);
    return 0;
}

int hb_app__write_queue(struct hb_http_request *req, struct hb_app_write *job)
{
    hb_http_server_queue_work(req, write_work, write_done, job);
    return HB_EAGAIN;
}
