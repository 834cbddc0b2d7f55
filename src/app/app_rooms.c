/* SPDX-License-Identifier: MIT */
/* Chat REST resources (app layer, API.md §5.1, §7.2, §7.4): rooms and their read-only message
 * history. Messages themselves are only created over the WebSocket. Room names are unique; the
 * store reports a taken name at write time, and validation looks it up itself only when other
 * fields fail too, so that every error of the body is listed at once as DRF lists them. */
#include <string.h>

#include "app/app.h"
#include "app/app_body.h"
#include "app/app_resource.h"
#include "core/err.h"

#define ROOM_NAME_MAX  200
#define HEADCOUNT_MAX  2147483647
#define ROOM_NAME_USED "この 部屋名 を持った room が既に存在します。"

static int room_rows(struct hb_store_conn *conn, void *ctx, struct hb_store_page *page,
                     struct hb_buf *json)
{
    (void)ctx;
    return hb_store_room_list(conn, page, json);
}

int hb_app_room_list(struct hb_http_request *req, struct hb_http_response *res)
{
    return hb_app__list(req, res, room_rows, NULL);
}

/* Whether another room than self_id is called name. Reads every room: this runs only on the
 * error path of a body that fails on another field as well. */
static bool name_taken(struct hb_http_request *req, struct hb_str name, int64_t self_id)
{
    struct hb_buf rooms;
    const struct hb_json *list = NULL;
    bool is_taken = false;

    hb_buf_init(&rooms, (size_t)256 * 1024 * 1024);
    if (hb_store_room_list(hb_app_reader(), NULL, &rooms) == 0 &&
        hb_json_parse(req->arena, rooms.data, rooms.len, &list, NULL) == 0) {
        for (const struct hb_json *r = hb_json_first(list); r != NULL; r = hb_json_next(r)) {
            int64_t id = 0;
            if (hb_str_eq(hb_json_string(hb_json_get(r, "name")), name) &&
                hb_json_int64(hb_json_get(r, "id"), &id) && id != self_id) {
                is_taken = true;
                break;
            }
        }
    }
    hb_buf_release(&rooms);
    return is_taken;
}

/* Validates in the order created_at, name, headcount and queues the write; id is 0 for a
 * create. */
static int room_save(struct hb_http_request *req, struct hb_http_response *res, int64_t id)
{
    const struct hb_json *body = hb_app_body_parse(req, res);
    if (body == NULL)
        return 0;
    bool is_partial = req->method == HB_HTTP_PATCH;
    bool is_form = hb_app_body_is_form(req);
    const struct hb_app_string_rule name_rule = {.is_required = !is_partial,
                                                 .max_chars = ROOM_NAME_MAX};
    struct hb_app_errors e;
    struct hb_str name = HB_STR_NULL;
    int64_t created_us = HB_STORE_TIME_NONE, headcount = -1;

    /* Does headcount fail? Then a taken name must be reported with it. */
    hb_app_errors_init(&e);
    bool is_headcount_bad = hb_app_field_int(req->arena, body, "headcount", false, is_form, 0,
                                             HEADCOUNT_MAX, &e, &headcount) < 0;
    hb_app_errors_release(&e);

    hb_app_errors_init(&e);
    int ok_created = hb_app_field_datetime(body, "created_at", is_form, &e, &created_us);
    int ok_name = hb_app_field_string(req->arena, body, "name", &name_rule, &e, &name);
    if (ok_name > 0 && (ok_created < 0 || is_headcount_bad) && name_taken(req, name, id))
        hb_app_errors_add(&e, "name", ROOM_NAME_USED);
    int ok_headcount = hb_app_field_int(req->arena, body, "headcount", false, is_form, 0,
                                        HEADCOUNT_MAX, &e, &headcount);
    if (hb_app_errors_any(&e)) {
        hb_app_errors_respond(&e, res);
        hb_app_errors_release(&e);
        return 0;
    }
    hb_app_errors_release(&e);
    if (id != 0 && ok_created == 0 && ok_name == 0 && ok_headcount == 0)
        return hb_app__get(req, res, hb_store_room_get); /* PATCH {}: unchanged */

    struct hb_app_write *job = hb_app__write_create(
        req, id == 0 ? HB_APP_ROOM_CREATE : HB_APP_ROOM_UPDATE, name, HB_STR_NULL);
    job->id = id;
    job->room.name = ok_name > 0 ? hb_app__write_text(job) : HB_STR_NULL;
    job->room.headcount = ok_headcount > 0 ? headcount : -1;
    job->room.created_us = ok_created > 0 ? created_us : HB_STORE_TIME_NONE;
    return hb_app__write_queue(req, job);
}

int hb_app_room_create(struct hb_http_request *req, struct hb_http_response *res)
{
    return room_save(req, res, 0);
}

int hb_app_room_get(struct hb_http_request *req, struct hb_http_response *res)
{
    return hb_app__get(req, res, hb_store_room_get);
}

int hb_app_room_update(struct hb_http_request *req, struct hb_http_response *res)
{
    struct hb_store_meta meta;
    if (!hb_app__lookup_owned(req, res, hb_store_room_get, &meta))
        return 0;
    return room_save(req, res, meta.id);
}

int hb_app_room_delete(struct hb_http_request *req, struct hb_http_response *res)
{
    struct hb_store_meta meta;
    if (!hb_app__lookup_owned(req, res, hb_store_room_get, &meta))
        return 0;
    struct hb_app_write *job =
        hb_app__write_create(req, HB_APP_ROOM_DELETE, HB_STR_NULL, HB_STR_NULL);
    job->id = meta.id;
    return hb_app__write_queue(req, job);
}

/* ---- History: GET /api/rooms/<digits>/chatlogs/ ---- */

struct chatlog_scope {
    int64_t room_id;
    int64_t after_id;
};

static int chatlog_rows(struct hb_store_conn *conn, void *ctx, struct hb_store_page *page,
                        struct hb_buf *json)
{
    const struct chatlog_scope *scope = ctx;
    return hb_store_chatlog_list(conn, scope->room_id, scope->after_id, page, json);
}

int hb_app_room_chatlogs(struct hb_http_request *req, struct hb_http_response *res)
{
    struct chatlog_scope scope = {0};
    if (!hb_app__query_after(req, res, &scope.after_id))
        return 0;
    /* <int:id> is digits only; 0 or beyond 64 bits names no room: an empty history. */
    if (hb_app_parse_pyint(req->params[0], &scope.room_id) != 0 || scope.room_id <= 0)
        return hb_app__list(req, res, hb_app__list_empty, NULL);
    return hb_app__list(req, res, chatlog_rows, &scope);
}
