/* SPDX-License-Identifier: MIT */
/* The application (app layer): the context every handler reaches through req->app, the route
 * table, and the entry points the CLI calls. It owns the process-lifetime objects: config,
 * router, static files (and, as they land, the store and the auth keys). */
#ifndef HB_APP_APP_H
#define HB_APP_APP_H

#include "app/app_config.h"
#include "auth/auth_jwt.h"
#include "http/http_router.h"
#include "http/http_server.h"
#include "http/http_static.h"
#include "store/store.h"

/* A route group's auth rule (API.md §2.8). */
enum hb_app_auth { HB_AUTH_NONE = 0, HB_AUTH_OPTIONAL, HB_AUTH_REQUIRED };

struct hb_app {
    struct hb_app_config cfg;
    struct hb_http_router *router;
    struct hb_http_static *static_files;
    struct hb_http_server_config http;
    char **cors_origins;
    char **allowed_hosts;
    char *secret_key; /* the JWT signing key, >= 32 bytes */
    struct hb_store *store;
    struct hb_jwt_key jwt_key;
};

/* The authenticated user of a request (req->user), set by the auth guard; arena-owned. */
struct hb_app_user {
    int64_t id;
    bool is_staff;
    char *username;
    char *email;
};

/* The calling worker's read connection (opened at worker start), for short reads on the loop.
 * Writes go through hb_store_writer(app->store) on the thread pool. */
struct hb_store_conn *hb_app_reader(void);

/* Opens the store named by cfg and brings its schema up to date. Returns 0, or a negative error
 * after logging one line. */
int hb_app_store_open(const struct hb_app_config *cfg, struct hb_store **out);

/* The route table: every HTTP route of the API in one array (app_routes.c). */
extern const struct hb_http_route hb_app_routes[];
extern const size_t hb_app_n_routes;

/* The auth guard (app_guard.c): runs a route group's auth rule (API.md §2.8). */
int hb_app_guard(struct hb_http_request *req, struct hb_http_response *res, int auth_rule);

/* Accounts and tokens (app_auth.c, API.md §3 and §7.1). */
int hb_app_register(struct hb_http_request *req, struct hb_http_response *res);
int hb_app_token(struct hb_http_request *req, struct hb_http_response *res);
int hb_app_token_refresh(struct hb_http_request *req, struct hb_http_response *res);
int hb_app_token_verify(struct hb_http_request *req, struct hb_http_response *res);
int hb_app_logout(struct hb_http_request *req, struct hb_http_response *res);
int hb_app_me(struct hb_http_request *req, struct hb_http_response *res);

/* The BBS and chat REST resources (app_bbs.c, app_rooms.c, app_resource.c; API.md §4, §5,
 * §7.2-7.4). PUT and PATCH share a handler, which reads req->method. */
int hb_app_api_root(struct hb_http_request *req, struct hb_http_response *res);
int hb_app_category_list(struct hb_http_request *req, struct hb_http_response *res);
int hb_app_category_create(struct hb_http_request *req, struct hb_http_response *res);
int hb_app_category_get(struct hb_http_request *req, struct hb_http_response *res);
int hb_app_category_update(struct hb_http_request *req, struct hb_http_response *res);
int hb_app_category_delete(struct hb_http_request *req, struct hb_http_response *res);
int hb_app_topic_list(struct hb_http_request *req, struct hb_http_response *res);
int hb_app_topic_create(struct hb_http_request *req, struct hb_http_response *res);
int hb_app_topic_get(struct hb_http_request *req, struct hb_http_response *res);
int hb_app_topic_update(struct hb_http_request *req, struct hb_http_response *res);
int hb_app_topic_delete(struct hb_http_request *req, struct hb_http_response *res);
int hb_app_topic_replies(struct hb_http_request *req, struct hb_http_response *res);
int hb_app_reply_list(struct hb_http_request *req, struct hb_http_response *res);
int hb_app_reply_create(struct hb_http_request *req, struct hb_http_response *res);
int hb_app_reply_get(struct hb_http_request *req, struct hb_http_response *res);
int hb_app_reply_update(struct hb_http_request *req, struct hb_http_response *res);
int hb_app_reply_delete(struct hb_http_request *req, struct hb_http_response *res);
int hb_app_room_list(struct hb_http_request *req, struct hb_http_response *res);
int hb_app_room_create(struct hb_http_request *req, struct hb_http_response *res);
int hb_app_room_get(struct hb_http_request *req, struct hb_http_response *res);
int hb_app_room_update(struct hb_http_request *req, struct hb_http_response *res);
int hb_app_room_delete(struct hb_http_request *req, struct hb_http_response *res);
int hb_app_room_chatlogs(struct hb_http_request *req, struct hb_http_response *res);

/* The live BBS stream's hook (API.md §6.8), called once per committed topic or reply write made
 * through the REST API, on the thread-pool thread that made it, right after the store call
 * returned (two concurrent writes may call it in either order). type is "topic.created",
 * "topic.updated", "topic.deleted", "reply.created", "reply.updated" or "reply.deleted". json is
 * the object the frame flattens after "type", starting with {"id": : the REST object for created
 * and updated, {"id":N} for topic.deleted (one call per topic of a deleted category, none for
 * the replies removed with them), {"id":N,"topic":M} for reply.deleted. Borrowed for the call.
 * seq: the event's value of the store's event clock (hb_store_event_clock), 0 where the store
 * orders commits itself (SQLite). */
void hb_app_bbs_event(struct hb_app *app, const char *type, const char *json, size_t len,
                      int64_t seq);

/* GET /api/schema/: OpenAPI 3.1 generated from the route table (app_schema.c). */
int hb_app_schema(struct hb_http_request *req, struct hb_http_response *res);

/* WebSocket chat and the live BBS stream (app_ws.c, API.md §6). */
int hb_app_ws_chat(struct hb_http_request *req, struct hb_http_response *res);
int hb_app_ws_bbs(struct hb_http_request *req, struct hb_http_response *res);
/* Streams a BBS event frame (already JSON) to every /ws/bbs/ socket. Thread-safe. */
void hb_app_ws_bbs_publish(const char *json, size_t len, int64_t seq);
/* Closes every socket of a deleted room with 4404 (API.md §5.1). Thread-safe. */
void hb_app_ws_room_deleted(int64_t room);
/* What the relay hands to this instance's sockets (app_relay.c calls them). Thread-safe. */
void hb_app_ws_deliver_message(int64_t room, int64_t id, const char *seed, size_t seed_len,
                               const char *v1, size_t v1_len);
void hb_app_ws_deliver_presence(int64_t room, int64_t headcount);
void hb_app_ws_deliver_room_gone(int64_t room);
void hb_app_ws_deliver_bbs(const char *json, size_t len);
void hb_app_ws_start(struct hb_app *app);
void hb_app_ws_stop(void);
void hb_app_ws_worker_start(struct hb_net_worker *worker);
void hb_app_ws_worker_stop(struct hb_net_worker *worker);

/* Chat order, headcount and events across instances (app_relay.c). The instance id names this
 * process in hiroba_instance/hiroba_presence and in Redis events. */
struct hb_str hb_app_instance(void);
int hb_app_relay_start(struct hb_app *app);
void hb_app_relay_stop(void);
/* A message this instance stored, offered to the room's sequencer and published to Redis. Call
 * between hb_app_relay_write_begin() and _end(), with the insert inside them, so this instance's
 * messages reach the sequencer in id order (pool threads only: the insert waits on the database).
 */
void hb_app_relay_write_begin(void);
void hb_app_relay_write_end(void);
void hb_app_relay_message(int64_t room, int64_t id, int64_t prev, const struct hb_buf *seed,
                          const struct hb_buf *v1);
/* Local delivery plus Redis, for events this instance originates. Thread-safe. */
void hb_app_relay_presence(int64_t room, int64_t headcount);
void hb_app_relay_room_gone(int64_t room);
/* A BBS event: with seq > 0 (PostgreSQL's event clock) every instance delivers its events in seq
 * order, holding one whose predecessor has not arrived for up to 50 ms; seq 0 goes out at once. */
void hb_app_relay_bbs(const char *json, size_t len, int64_t seq);
/* A socket of this instance joined (last_id: the last message before it subscribed) or left. */
void hb_app_relay_joined(int64_t room, int64_t last_id);
void hb_app_relay_left(int64_t room);

/* Demo and operations handlers (app_demo.c, app_ops.c). */
int hb_app_hello(struct hb_http_request *req, struct hb_http_response *res);
int hb_app_slow(struct hb_http_request *req, struct hb_http_response *res);
int hb_app_healthz(struct hb_http_request *req, struct hb_http_response *res);
int hb_app_readyz(struct hb_http_request *req, struct hb_http_response *res);
int hb_app_metrics(struct hb_http_request *req, struct hb_http_response *res);

/* Writes a validation error {"<field>":["<message>"]} with status 400. */
void hb_app_field_error(struct hb_http_response *res, const char *field, const char *message);

/* `hiroba serve ARGS`: runs the server until a signal. Returns the process exit code. */
int hb_app_serve_main(int argc, char **argv);

/* Runs fn(arg), a password hash or verify: at most half the cores hash at once, at nice 19.
 * Inside an API fiber (PostgreSQL) it runs on the thread pool while the fiber waits, so the
 * loop never hashes; on a pool thread it runs right there. */
void hb_app_hash_run(void (*fn)(void *arg), void *arg);

/* Starts and stops the hourly purge of expired tokens and old login failures (app_purge.c). */
void hb_app_purge_start(struct hb_store *store);
void hb_app_purge_stop(void);

/* `hiroba createsuperuser ARGS`: a staff account; the password from a terminal prompt or
 * HIROBA_SUPERUSER_PASSWORD. Returns the process exit code. */
int hb_app_createsuperuser_main(int argc, char **argv);

/* `hiroba migrate ARGS`. Returns the process exit code. */
int hb_app_migrate_main(int argc, char **argv);

#endif
