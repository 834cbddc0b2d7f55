/* SPDX-License-Identifier: MIT */
/* BBS and chat REST resources (app layer, API.md §4, §5): placeholders until issue #4 lands. */
#include "app/app.h"

static int not_yet(struct hb_http_response *res)
{
    hb_http_response_detail(res, 501, "Not implemented yet.");
    return 0;
}

int hb_app_api_root(struct hb_http_request *req, struct hb_http_response *res)
{
    (void)req;
    return not_yet(res);
}

int hb_app_category_list(struct hb_http_request *req, struct hb_http_response *res)
{
    (void)req;
    return not_yet(res);
}

int hb_app_category_create(struct hb_http_request *req, struct hb_http_response *res)
{
    (void)req;
    return not_yet(res);
}

int hb_app_category_get(struct hb_http_request *req, struct hb_http_response *res)
{
    (void)req;
    return not_yet(res);
}

int hb_app_category_update(struct hb_http_request *req, struct hb_http_response *res)
{
    (void)req;
    return not_yet(res);
}

int hb_app_category_delete(struct hb_http_request *req, struct hb_http_response *res)
{
    (void)req;
    return not_yet(res);
}

int hb_app_topic_list(struct hb_http_request *req, struct hb_http_response *res)
{
    (void)req;
    return not_yet(res);
}

int hb_app_topic_create(struct hb_http_request *req, struct hb_http_response *res)
{
    (void)req;
    return not_yet(res);
}

int hb_app_topic_get(struct hb_http_request *req, struct hb_http_response *res)
{
    (void)req;
    return not_yet(res);
}

int hb_app_topic_update(struct hb_http_request *req, struct hb_http_response *res)
{
    (void)req;
    return not_yet(res);
}

int hb_app_topic_delete(struct hb_http_request *req, struct hb_http_response *res)
{
    (void)req;
    return not_yet(res);
}

int hb_app_topic_replies(struct hb_http_request *req, struct hb_http_response *res)
{
    (void)req;
    return not_yet(res);
}

int hb_app_reply_list(struct hb_http_request *req, struct hb_http_response *res)
{
    (void)req;
    return not_yet(res);
}

int hb_app_reply_create(struct hb_http_request *req, struct hb_http_response *res)
{
    (void)req;
    return not_yet(res);
}

int hb_app_reply_get(struct hb_http_request *req, struct hb_http_response *res)
{
    (void)req;
    return not_yet(res);
}

int hb_app_reply_update(struct hb_http_request *req, struct hb_http_response *res)
{
    (void)req;
    return not_yet(res);
}

int hb_app_reply_delete(struct hb_http_request *req, struct hb_http_response *res)
{
    (void)req;
    return not_yet(res);
}

int hb_app_room_list(struct hb_http_request *req, struct hb_http_response *res)
{
    (void)req;
    return not_yet(res);
}

int hb_app_room_create(struct hb_http_request *req, struct hb_http_response *res)
{
    (void)req;
    return not_yet(res);
}

int hb_app_room_get(struct hb_http_request *req, struct hb_http_response *res)
{
    (void)req;
    return not_yet(res);
}

int hb_app_room_update(struct hb_http_request *req, struct hb_http_response *res)
{
    (void)req;
    return not_yet(res);
}

int hb_app_room_delete(struct hb_http_request *req, struct hb_http_response *res)
{
    (void)req;
    return not_yet(res);
}

int hb_app_room_chatlogs(struct hb_http_request *req, struct hb_http_response *res)
{
    (void)req;
    return not_yet(res);
}
