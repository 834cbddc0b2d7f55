/* SPDX-License-Identifier: MIT */
/* Plumbing shared by the BBS and chat REST resources (app layer, API.md §2, §4.2, §7.2): detail
 * ids, ownership, list pagination with DRF's absolute next/previous links, query integers, and
 * the write job that runs every store write on the thread pool. Reads run on the loop through
 * the worker's reader; writes go to hb_store_writer() from the pool and answer from the loop. */
#ifndef HB_APP_RESOURCE_H
#define HB_APP_RESOURCE_H

#include <stdbool.h>
#include <stdint.h>

#include "app/app.h"
#include "core/buf.h"

/* Cap on one object's JSON (a comment is at most 2000 code points). */
#define HB_APP_OBJECT_MAX ((size_t)64 * 1024)

/* ---- Answers ---- */

/* 404 {"detail":"見つかりませんでした。"}. Returns 0 (a handler's return). */
int hb_app__not_found(struct hb_http_response *res);

/* 403 {"detail":"このアクションを実行する権限がありません。"}. Returns 0. */
int hb_app__forbidden(struct hb_http_response *res);

/* 500 {"detail":"サーバエラーが発生しました。"} after logging "<what>: <error>". Returns 0. */
int hb_app__server_error(struct hb_http_response *res, const char *what, int err);

/* Answers a store read that failed with err: 404 for HB_ENOTFOUND, else 500. Returns 0. */
int hb_app__read_failed(struct hb_http_response *res, const char *what, int err);

/* ---- Ids and ownership ---- */

/* Parses a detail route's <id> segment as Django's int() lookup does (leading zeros and a sign
 * allowed). Returns false for text that is no integer or cannot name a row (<= 0, beyond 64
 * bits): the caller answers 404 (API.md §2.1). */
bool hb_app__parse_id(struct hb_str text, int64_t *id);

/* True when the request's user may modify a row of author author_id: its author, or staff
 * (API.md §4.2). A row without an author (0) is staff-only. */
bool hb_app__may_modify(const struct hb_http_request *req, int64_t author_id);

/* A store get call: hb_store_category_get() and its siblings. */
typedef int hb_app_get_cb(struct hb_store_conn *conn, int64_t id, struct hb_store_meta *meta,
                          struct hb_buf *json);

/* Looks up the row named by the detail route's <id> (req->params[0]) on the worker's reader.
 * Returns true with *meta filled (and the object appended to json when it is not NULL), or
 * false after answering 404 (not an integer, or no such row) or 500. */
bool hb_app__lookup(struct hb_http_request *req, struct hb_http_response *res, hb_app_get_cb *get,
                    struct hb_store_meta *meta, struct hb_buf *json);

/* hb_app__lookup(), then the ownership check of PUT, PATCH and DELETE: false after a 404 or a
 * 403 (API.md §2.9 step 7, before the body is read). */
bool hb_app__lookup_owned(struct hb_http_request *req, struct hb_http_response *res,
                          hb_app_get_cb *get, struct hb_store_meta *meta);

/* Answers GET of a detail route: 200 with the object, or 404. Returns 0. */
int hb_app__get(struct hb_http_request *req, struct hb_http_response *res, hb_app_get_cb *get);

/* ---- Query parameters ---- */

/* Reads ?after= (API.md §7.4) into *after (0 when absent or empty). Returns true, or false after
 * writing the 400 into res. */
bool hb_app__query_after(struct hb_http_request *req, struct hb_http_response *res, int64_t *after);

/* "scheme://host[:port]" for absolute URLs (API.md §4.5), arena-owned. */
const char *hb_app__origin(struct hb_http_request *req);

/* ---- Lists ---- */

/* Writes one list into json: the whole list when page is NULL, else that page (filling
 * page->count and page->number). Returns 0 or a store error (HB_ENOTFOUND: no such page). */
typedef int hb_app_list_cb(struct hb_store_conn *conn, void *ctx, struct hb_store_page *page,
                           struct hb_buf *json);

/* Answers a list request (API.md §7.2): a plain array, or a page with count, next, previous
 * and results when ?page= or ?page_size= is given or the server has a default page size; an
 * invalid page is 404 {"detail":"不正なページです。"}. Runs fn on the worker's reader. Returns 0.
 */
int hb_app__list(struct hb_http_request *req, struct hb_http_response *res, hb_app_list_cb *fn,
                 void *ctx);

/* A list callback for a list that is empty by definition (/api/replies/ without a topic). */
int hb_app__list_empty(struct hb_store_conn *conn, void *ctx, struct hb_store_page *page,
                       struct hb_buf *json);

/* ---- Writes ---- */

enum hb_app_write_op {
    HB_APP_CATEGORY_CREATE,
    HB_APP_CATEGORY_UPDATE,
    HB_APP_CATEGORY_DELETE,
    HB_APP_TOPIC_CREATE,
    HB_APP_TOPIC_UPDATE,
    HB_APP_TOPIC_DELETE,
    HB_APP_REPLY_CREATE,
    HB_APP_REPLY_UPDATE,
    HB_APP_REPLY_DELETE,
    HB_APP_ROOM_CREATE,
    HB_APP_ROOM_UPDATE,
    HB_APP_ROOM_DELETE,
};

/* One store write, heap-allocated (it outlives the request if the client goes away). */
struct hb_app_write {
    struct hb_app *app;
    enum hb_app_write_op op;
    int64_t id;                      /* update and delete */
    struct hb_store_post_input post; /* topics and replies (comment: hb_app__write_text()) */
    struct hb_store_room_input room; /* rooms (name: hb_app__write_text()) */
    char *text;                      /* owned copy of the comment or name */
    size_t text_len;
    char *fk_text; /* owned copy of the foreign key as given, for a late 400 */
    /* Results, filled on the pool. */
    int rc;
    struct hb_store_meta meta;
    struct hb_buf json;
};

/* Allocates a write job for op with its text (a name or comment; may be empty) and foreign key
 * text copied from the request. */
struct hb_app_write *hb_app__write_create(struct hb_http_request *req, enum hb_app_write_op op,
                                          struct hb_str text, struct hb_str fk_text);

/* The job's owned copy of its text, for post.comment or room.name. */
static inline struct hb_str hb_app__write_text(const struct hb_app_write *job)
{
    return (struct hb_str){job->text, job->text_len};
}

/* Queues job on the thread pool; it answers from the loop and frees itself. Returns HB_EAGAIN
 * (the handler's return). */
int hb_app__write_queue(struct hb_http_request *req, struct hb_app_write *job);

#endif
