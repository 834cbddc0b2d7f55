/* SPDX-License-Identifier: MIT */
/* The whole HTTP API surface in one table (app layer): method, pattern, handler, auth rule and
 * the OPTIONS label. Rows with the same pattern share the first row's auth rule. Patterns:
 * <int:id> matches digits only; <id> any segment without '/' or '.' (the handler 404s a
 * non-integer after authentication, API.md §2.1). HEAD and OPTIONS are implied. */
#include "app/app.h"

const struct hb_http_route hb_app_routes[] = {
    /* accounts and tokens (API.md §3, §7.1) */
    {HB_HTTP_POST, "/api/register/", hb_app_register, HB_AUTH_OPTIONAL, "Register"},
    {HB_HTTP_POST, "/api/token/", hb_app_token, HB_AUTH_NONE, "Token Obtain Pair"},
    {HB_HTTP_POST, "/api/token/refresh/", hb_app_token_refresh, HB_AUTH_NONE, "Token Refresh"},
    {HB_HTTP_POST, "/api/token/verify/", hb_app_token_verify, HB_AUTH_NONE, "Token Verify"},
    {HB_HTTP_POST, "/api/logout/", hb_app_logout, HB_AUTH_REQUIRED, "Logout"},
    {HB_HTTP_GET, "/api/me/", hb_app_me, HB_AUTH_REQUIRED, "Me"},
    {HB_HTTP_GET, "/api/schema/", hb_app_schema, HB_AUTH_NONE, "Schema"},
    /* BBS (API.md §4) */
    {HB_HTTP_GET, "/api/", hb_app_api_root, HB_AUTH_REQUIRED, "Api Root"},
    {HB_HTTP_GET, "/api/categories/", hb_app_category_list, HB_AUTH_REQUIRED, "Category List"},
    {HB_HTTP_POST, "/api/categories/", hb_app_category_create, HB_AUTH_REQUIRED, "Category List"},
    {HB_HTTP_GET, "/api/categories/<id>/", hb_app_category_get, HB_AUTH_REQUIRED,
     "Category Instance"},
    {HB_HTTP_PUT, "/api/categories/<id>/", hb_app_category_update, HB_AUTH_REQUIRED,
     "Category Instance"},
    {HB_HTTP_PATCH, "/api/categories/<id>/", hb_app_category_update, HB_AUTH_REQUIRED,
     "Category Instance"},
    {HB_HTTP_DELETE, "/api/categories/<id>/", hb_app_category_delete, HB_AUTH_REQUIRED,
     "Category Instance"},
    {HB_HTTP_GET, "/api/topics/", hb_app_topic_list, HB_AUTH_REQUIRED, "Topic List"},
    {HB_HTTP_POST, "/api/topics/", hb_app_topic_create, HB_AUTH_REQUIRED, "Topic List"},
    {HB_HTTP_GET, "/api/topics/<int:id>/replies/", hb_app_topic_replies, HB_AUTH_REQUIRED,
     "Topic Reply List"},
    {HB_HTTP_GET, "/api/topics/<id>/", hb_app_topic_get, HB_AUTH_REQUIRED, "Topic Instance"},
    {HB_HTTP_PUT, "/api/topics/<id>/", hb_app_topic_update, HB_AUTH_REQUIRED, "Topic Instance"},
    {HB_HTTP_PATCH, "/api/topics/<id>/", hb_app_topic_update, HB_AUTH_REQUIRED, "Topic Instance"},
    {HB_HTTP_DELETE, "/api/topics/<id>/", hb_app_topic_delete, HB_AUTH_REQUIRED, "Topic Instance"},
    {HB_HTTP_GET, "/api/replies/", hb_app_reply_list, HB_AUTH_REQUIRED, "Reply List"},
    {HB_HTTP_POST, "/api/replies/", hb_app_reply_create, HB_AUTH_REQUIRED, "Reply List"},
    {HB_HTTP_GET, "/api/replies/<id>/", hb_app_reply_get, HB_AUTH_REQUIRED, "Reply Instance"},
    {HB_HTTP_PUT, "/api/replies/<id>/", hb_app_reply_update, HB_AUTH_REQUIRED, "Reply Instance"},
    {HB_HTTP_PATCH, "/api/replies/<id>/", hb_app_reply_update, HB_AUTH_REQUIRED, "Reply Instance"},
    {HB_HTTP_DELETE, "/api/replies/<id>/", hb_app_reply_delete, HB_AUTH_REQUIRED, "Reply Instance"},
    /* chat rooms (API.md §5) */
    {HB_HTTP_GET, "/api/rooms/", hb_app_room_list, HB_AUTH_REQUIRED, "Room List"},
    {HB_HTTP_POST, "/api/rooms/", hb_app_room_create, HB_AUTH_REQUIRED, "Room List"},
    {HB_HTTP_GET, "/api/rooms/<int:id>/chatlogs/", hb_app_room_chatlogs, HB_AUTH_REQUIRED,
     "Chat Log List"},
    {HB_HTTP_GET, "/api/rooms/<id>/", hb_app_room_get, HB_AUTH_REQUIRED, "Room Instance"},
    {HB_HTTP_PUT, "/api/rooms/<id>/", hb_app_room_update, HB_AUTH_REQUIRED, "Room Instance"},
    {HB_HTTP_PATCH, "/api/rooms/<id>/", hb_app_room_update, HB_AUTH_REQUIRED, "Room Instance"},
    {HB_HTTP_DELETE, "/api/rooms/<id>/", hb_app_room_delete, HB_AUTH_REQUIRED, "Room Instance"},
    /* WebSocket (API.md §6): the handshake is an HTTP handler */
    {HB_HTTP_GET, "/ws/chat/<id>/", hb_app_ws_chat, HB_AUTH_NONE, "Chat Socket"},
    {HB_HTTP_GET, "/ws/bbs/", hb_app_ws_bbs, HB_AUTH_NONE, "BBS Socket"},
    /* demo (API.md §7.6) */
    {HB_HTTP_GET, "/hello/", hb_app_hello, HB_AUTH_NONE, "Hello"},
    {HB_HTTP_GET, "/test/", hb_app_hello, HB_AUTH_NONE, "Test"},
    {HB_HTTP_GET, "/aaa/", hb_app_hello, HB_AUTH_NONE, "Aaa"},
    {HB_HTTP_GET, "/slow/", hb_app_slow, HB_AUTH_NONE, "Slow"},
    /* operations (API.md §8) */
    {HB_HTTP_GET, "/healthz", hb_app_healthz, HB_AUTH_NONE, "Healthz"},
    {HB_HTTP_GET, "/readyz", hb_app_readyz, HB_AUTH_NONE, "Readyz"},
    {HB_HTTP_GET, "/metrics", hb_app_metrics, HB_AUTH_NONE, "Metrics"},
};

const size_t hb_app_n_routes = sizeof(hb_app_routes) / sizeof(hb_app_routes[0]);
