/* SPDX-License-Identifier: MIT */
/* BBS REST resources (app layer, API.md §4, §7.3, §7.4): the API root, categories, topics and
 * replies. Lookups, validation and lists run on the loop through the worker's reader; every write
 * runs on the thread pool (app_resource.c) and reports topic and reply changes to the live BBS
 * stream through hb_app_bbs_event(). Field errors follow each resource's declared field order. */
#include <string.h>

#include "app/app.h"
#include "app/app_body.h"
#include "app/app_resource.h"
#include "core/err.h"
#include "http/http_url.h"

#define CATEGORY_NAME_MAX 100
#define COMMENT_MAX       2000

void hb_app_bbs_event(struct hb_app *app, const char *type, const char *json, size_t len,
                      int64_t seq)
{
    /* The frame is {"type":"<type>", then the object's keys (API.md §6.8). */
    struct hb_buf frame;
    (void)app;
    if (len < 2 || json[0] != '{')
        return;
    hb_buf_init(&frame, len + 64);
    (void)hb_buf_printf(&frame, "{\"type\":\"%s\",", type);
    (void)hb_buf_append(&frame, json + 1, len - 1);
    hb_app_ws_bbs_publish(frame.data, frame.len, seq);
    hb_buf_release(&frame);
}

/* ---- API root: GET /api/ ---- */

int hb_app_api_root(struct hb_http_request *req, struct hb_http_response *res)
{
    static const char *const names[] = {"topics", "categories", "replies", "rooms"};
    const char *origin = hb_app__origin(req);
    struct hb_buf *out = &res->body;

    hb_http_response_json(res, 200, "", 0);
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        const char *url = hb_arena_printf(req->arena, "%s/api/%s/", origin, names[i]);
        (void)hb_buf_append_char(out, i == 0 ? '{' : ',');
        (void)hb_http_json_string(out, names[i], strlen(names[i]));
        (void)hb_buf_append_char(out, ':');
        (void)hb_http_json_string(out, url, strlen(url));
    }
    (void)hb_buf_append_char(out, '}');
    return 0;
}

/* ---- Categories ---- */

static int category_rows(struct hb_store_conn *conn, void *ctx, struct hb_store_page *page,
                         struct hb_buf *json)
{
    (void)ctx;
    return hb_store_category_list(conn, page, json);
}

int hb_app_category_list(struct hb_http_request *req, struct hb_http_response *res)
{
    return hb_app__list(req, res, category_rows, NULL);
}

/* Validates {"name"} and queues the write. */
static int category_save(struct hb_http_request *req, struct hb_http_response *res,
                         enum hb_app_write_op op, int64_t id)
{
    const struct hb_json *body = hb_app_body_parse(req, res);
    if (body == NULL)
        return 0;
    bool is_partial = req->method == HB_HTTP_PATCH;
    const struct hb_app_string_rule rule = {.is_required = !is_partial,
                                            .max_chars = CATEGORY_NAME_MAX};
    struct hb_app_errors e;
    struct hb_str name = HB_STR_NULL;
    hb_app_errors_init(&e);
    int ok = hb_app_field_string(req->arena, body, "name", &rule, &e, &name);
    if (ok < 0) {
        hb_app_errors_respond(&e, res);
        hb_app_errors_release(&e);
        return 0;
    }
    hb_app_errors_release(&e);
    if (ok == 0) {
        /* PATCH {}: the object as it is. */
        return hb_app__get(req, res, hb_store_category_get);
    }
    struct hb_app_write *job = hb_app__write_create(req, op, name, HB_STR_NULL);
    job->id = id;
    return hb_app__write_queue(req, job);
}

int hb_app_category_create(struct hb_http_request *req, struct hb_http_response *res)
{
    return category_save(req, res, HB_APP_CATEGORY_CREATE, 0);
}

int hb_app_category_get(struct hb_http_request *req, struct hb_http_response *res)
{
    return hb_app__get(req, res, hb_store_category_get);
}

int hb_app_category_update(struct hb_http_request *req, struct hb_http_response *res)
{
    struct hb_store_meta meta;
    if (!hb_app__lookup_owned(req, res, hb_store_category_get, &meta))
        return 0;
    return category_save(req, res, HB_APP_CATEGORY_UPDATE, meta.id);
}

int hb_app_category_delete(struct hb_http_request *req, struct hb_http_response *res)
{
    struct hb_store_meta meta;
    if (!hb_app__lookup_owned(req, res, hb_store_category_get, &meta))
        return 0;
    struct hb_app_write *job =
        hb_app__write_create(req, HB_APP_CATEGORY_DELETE, HB_STR_NULL, HB_STR_NULL);
    job->id = meta.id;
    return hb_app__write_queue(req, job);
}

/* ---- Topics and replies share their input: {parent fk, created_at, comment} ---- */

struct post_kind {
    const char *parent_field; /* "category" or "topic" */
    hb_app_get_cb *parent_get;
    hb_app_get_cb *get;
    enum hb_app_write_op create, update;
};

static const struct post_kind topic_kind = {"category", hb_store_category_get, hb_store_topic_get,
                                            HB_APP_TOPIC_CREATE, HB_APP_TOPIC_UPDATE};
static const struct post_kind reply_kind = {"topic", hb_store_topic_get, hb_store_reply_get,
                                            HB_APP_REPLY_CREATE, HB_APP_REPLY_UPDATE};

/* Validates the body in the order parent, created_at, comment and queues the write. id is 0 for
 * a create. */
static int post_save(struct hb_http_request *req, struct hb_http_response *res,
                     const struct post_kind *kind, int64_t id)
{
    const struct hb_json *body = hb_app_body_parse(req, res);
    if (body == NULL)
        return 0;
    bool is_partial = req->method == HB_HTTP_PATCH;
    bool is_form = hb_app_body_is_form(req);
    const struct hb_app_string_rule comment_rule = {.is_required = !is_partial,
                                                    .max_chars = COMMENT_MAX};
    struct hb_app_errors e;
    int64_t parent_id = 0, created_us = HB_STORE_TIME_NONE;
    struct hb_str parent_text = HB_STR_NULL, comment = HB_STR_NULL;

    hb_app_errors_init(&e);
    int ok_parent = hb_app_field_fk(req->arena, body, kind->parent_field, !is_partial, &e,
                                    &parent_id, &parent_text);
    if (ok_parent > 0) {
        int err =
            parent_id > 0 ? kind->parent_get(hb_app_reader(), parent_id, NULL, NULL) : HB_ENOTFOUND;
        if (err == HB_ENOTFOUND) {
            hb_app_errors_add_fk_missing(req->arena, &e, kind->parent_field, parent_text);
        } else if (err < 0) {
            hb_app_errors_release(&e);
            return hb_app__server_error(res, "parent lookup", err);
        }
    }
    int ok_created = hb_app_field_datetime(body, "created_at", is_form, &e, &created_us);
    int ok_comment = hb_app_field_string(req->arena, body, "comment", &comment_rule, &e, &comment);
    if (hb_app_errors_any(&e)) {
        hb_app_errors_respond(&e, res);
        hb_app_errors_release(&e);
        return 0;
    }
    hb_app_errors_release(&e);
    if (id != 0 && ok_parent == 0 && ok_created == 0 && ok_comment == 0)
        return hb_app__get(req, res, kind->get); /* PATCH {}: unchanged */

    struct hb_app_write *job =
        hb_app__write_create(req, id == 0 ? kind->create : kind->update, comment, parent_text);
    job->id = id;
    job->post.parent_id = ok_parent > 0 ? parent_id : 0;
    job->post.comment = ok_comment > 0 ? hb_app__write_text(job) : HB_STR_NULL;
    job->post.created_us = ok_created > 0 ? created_us : HB_STORE_TIME_NONE;
    return hb_app__write_queue(req, job);
}

/* ---- Topics ---- */

static int topic_rows(struct hb_store_conn *conn, void *ctx, struct hb_store_page *page,
                      struct hb_buf *json)
{
    return hb_store_topic_list(conn, ctx, page, json);
}

int hb_app_topic_list(struct hb_http_request *req, struct hb_http_response *res)
{
    struct hb_store_topic_query query = {.order = HB_STORE_ORDER_ID};
    struct hb_str text;

    /* django-filter's ModelChoiceFilter: empty is no filter; anything that is not an existing
     * category's key is an invalid choice. */
    if (hb_http_url_param(req->arena, req->query, "category", &text) && text.len > 0) {
        int64_t id = 0;
        int err = hb_app_parse_pyint(text, &id) == 0 && id > 0
                      ? hb_store_category_get(hb_app_reader(), id, NULL, NULL)
                      : HB_ENOTFOUND;
        if (err == HB_ENOTFOUND) {
            hb_app_field_error(res, "category",
                               "正しく選択してください。選択したものは候補にありません。");
            return 0;
        }
        if (err < 0)
            return hb_app__server_error(res, "category lookup", err);
        query.category_id = id;
    }
    if (hb_http_url_param(req->arena, req->query, "search", &text))
        query.search = text;
    if (hb_http_url_param(req->arena, req->query, "ordering", &text))
        query.order = hb_store_topic_order_parse(text);
    return hb_app__list(req, res, topic_rows, &query);
}

int hb_app_topic_create(struct hb_http_request *req, struct hb_http_response *res)
{
    return post_save(req, res, &topic_kind, 0);
}

int hb_app_topic_get(struct hb_http_request *req, struct hb_http_response *res)
{
    return hb_app__get(req, res, hb_store_topic_get);
}

int hb_app_topic_update(struct hb_http_request *req, struct hb_http_response *res)
{
    struct hb_store_meta meta;
    if (!hb_app__lookup_owned(req, res, hb_store_topic_get, &meta))
        return 0;
    return post_save(req, res, &topic_kind, meta.id);
}

int hb_app_topic_delete(struct hb_http_request *req, struct hb_http_response *res)
{
    struct hb_store_meta meta;
    if (!hb_app__lookup_owned(req, res, hb_store_topic_get, &meta))
        return 0;
    struct hb_app_write *job =
        hb_app__write_create(req, HB_APP_TOPIC_DELETE, HB_STR_NULL, HB_STR_NULL);
    job->id = meta.id;
    return hb_app__write_queue(req, job);
}

/* ---- Replies ---- */

struct reply_scope {
    int64_t topic_id;
    int64_t after_id;
};

static int reply_rows(struct hb_store_conn *conn, void *ctx, struct hb_store_page *page,
                      struct hb_buf *json)
{
    const struct reply_scope *scope = ctx;
    return hb_store_reply_list(conn, scope->topic_id, scope->after_id, page, json);
}

/* Lists a topic's replies: topic_id <= 0 names no topic (the store reads 0 as "every topic"). */
static int reply_list(struct hb_http_request *req, struct hb_http_response *res, int64_t topic_id,
                      bool has_topic)
{
    struct reply_scope scope = {.topic_id = topic_id};
    if (!hb_app__query_after(req, res, &scope.after_id))
        return 0;
    if (!has_topic || topic_id <= 0)
        return hb_app__list(req, res, hb_app__list_empty, NULL);
    return hb_app__list(req, res, reply_rows, &scope);
}

int hb_app_topic_replies(struct hb_http_request *req, struct hb_http_response *res)
{
    int64_t topic_id = 0;
    /* <int:id> is digits only; beyond 64 bits it names no topic. */
    bool has_topic = hb_app_parse_pyint(req->params[0], &topic_id) == 0;
    return reply_list(req, res, topic_id, has_topic);
}

int hb_app_reply_list(struct hb_http_request *req, struct hb_http_response *res)
{
    /* The stack scopes the list by ?id=<topic>: absent, empty or not a number gives []. */
    struct hb_str text;
    int64_t topic_id = 0;
    bool has_topic = hb_http_url_param(req->arena, req->query, "id", &text) && text.len > 0 &&
                     hb_app_parse_pyint(text, &topic_id) == 0;
    return reply_list(req, res, topic_id, has_topic);
}

/* The detail's ?id= scope (API.md §4.4): absent or empty matches any reply; otherwise it must be
 * the reply's topic. */
static bool reply_in_scope(struct hb_http_request *req, const struct hb_store_meta *meta)
{
    struct hb_str text;
    int64_t topic_id;
    if (!hb_http_url_param(req->arena, req->query, "id", &text) || text.len == 0)
        return true;
    return hb_app_parse_pyint(text, &topic_id) == 0 && topic_id == meta->parent_id;
}

/* Lookup, scope and (for writes) ownership of /api/replies/<id>/. */
static bool reply_lookup(struct hb_http_request *req, struct hb_http_response *res,
                         struct hb_store_meta *meta, struct hb_buf *json, bool is_write)
{
    if (!hb_app__lookup(req, res, hb_store_reply_get, meta, json))
        return false;
    if (!reply_in_scope(req, meta)) {
        hb_app__not_found(res);
        return false;
    }
    if (is_write && !hb_app__may_modify(req, meta->author_id)) {
        hb_app__forbidden(res);
        return false;
    }
    return true;
}

int hb_app_reply_create(struct hb_http_request *req, struct hb_http_response *res)
{
    return post_save(req, res, &reply_kind, 0);
}

int hb_app_reply_get(struct hb_http_request *req, struct hb_http_response *res)
{
    struct hb_store_meta meta;
    hb_http_response_json(res, 200, "", 0);
    (void)reply_lookup(req, res, &meta, &res->body, false);
    return 0;
}

int hb_app_reply_update(struct hb_http_request *req, struct hb_http_response *res)
{
    struct hb_store_meta meta;
    if (!reply_lookup(req, res, &meta, NULL, true))
        return 0;
    return post_save(req, res, &reply_kind, meta.id);
}

int hb_app_reply_delete(struct hb_http_request *req, struct hb_http_response *res)
{
    struct hb_store_meta meta;
    if (!reply_lookup(req, res, &meta, NULL, true))
        return 0;
    struct hb_app_write *job =
        hb_app__write_create(req, HB_APP_REPLY_DELETE, HB_STR_NULL, HB_STR_NULL);
    job->id = meta.id;
    return hb_app__write_queue(req, job);
}
