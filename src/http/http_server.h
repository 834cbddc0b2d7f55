/* SPDX-License-Identifier: MIT */
/* The HTTP/1.1 connection engine (http layer): reads bytes from net connections, parses
 * requests with http_parser, enforces limits and deadlines, routes, runs the auth guard and the
 * handler, and writes responses in order, batched into one write per read batch. One request
 * per connection is in a handler at a time; pipelined requests wait in the read buffer, so
 * responses can never be reordered. */
#ifndef HB_HTTP_SERVER_H
#define HB_HTTP_SERVER_H

#include <stdbool.h>
#include <stdint.h>

#include "http/http_parser.h"
#include "http/http_router.h"
#include "net/net.h"

/* Runs the route group's auth rule before the method check (API.md §2.9). Returns 0 to go on,
 * or 1 when it has written the answer (a 401) into res. */
typedef int hb_http_guard_cb(struct hb_http_request *req, struct hb_http_response *res,
                             int auth_rule);

struct hb_http_server_config {
    const struct hb_http_router *router;
    struct hb_http_limits limits;
    uint64_t head_timeout_ms;      /* from a request's first byte to the end of its head */
    uint64_t body_timeout_ms;      /* between two reads of a body */
    uint64_t keepalive_timeout_ms; /* idle between requests */
    bool access_log;
    hb_http_guard_cb *guard;         /* NULL: every auth rule passes */
    hb_http_handler_cb *fallback;    /* GET/HEAD outside the routes and /api/ (the SPA) */
    const char *const *cors_origins; /* exact "scheme://host[:port]", or "*" */
    int n_cors_origins;
    const char *const *allowed_hosts; /* NULL: any Host */
    int n_allowed_hosts;
    void *app; /* handed to handlers as req->app */
    /* Run /api/, /ws/ and /readyz handlers (with the guard) on the thread pool, for a store whose
     * calls wait on the network. Handlers must then not arm loop timers (hb_http_server_sleep). */
    bool offload_handlers;
    /* With offload_handlers: run them as fibers on the loop instead (net.h hb_conn_run_fiber),
     * for a store whose waits park the fiber (PostgreSQL). Work they queue runs inline in the
     * fiber; CPU-heavy steps must go through hb_net_fiber_offload(). */
    bool offload_in_fibers;
};

/* Sets the configuration every connection uses. Call once before hb_net_serve(); cfg and what
 * it points to must outlive the server. */
void hb_http_server_configure(const struct hb_http_server_config *cfg);

/* The net callbacks that run HTTP on a connection. */
const struct hb_conn_handler *hb_http_server_conn_handler(void);

/* Per-worker setup and teardown (metrics tables); call from the net worker hooks. */
void hb_http_server_worker_start(struct hb_net_worker *worker);
void hb_http_server_worker_stop(struct hb_net_worker *worker);

/* Called when a connection changes protocol: take it with hb_conn_set_handler() and
 * hb_conn_set_data(). early[0..early_len) are bytes the client sent after the request head.
 * If the connection closes before the switch, cb runs from its close with early == NULL and
 * must then only free data. */
typedef void hb_http_upgrade_cb(struct hb_conn *conn, void *data, const char *early,
                                size_t early_len);

/* Makes the current response a protocol switch: head (the whole 101 response head, copied) is
 * written as is, then cb receives the connection. The handler returns 0 afterwards. */
void hb_http_server_upgrade(struct hb_http_request *req, struct hb_http_response *res,
                            const char *head, size_t head_len, hb_http_upgrade_cb *cb, void *data);

/* Completes a response whose handler returned HB_EAGAIN. Must run on the request's worker. */
void hb_http_server_finish(struct hb_http_response *res);

/* Calls cb(req, res) after delay_ms on the request's loop; the handler returns HB_EAGAIN and cb
 * returns like a handler. Nothing runs if the connection closes first. */
void hb_http_server_sleep(struct hb_http_request *req, uint64_t delay_ms, hb_http_handler_cb *cb);

/* Runs work(arg) on the thread pool, then done(req, res, arg) on the request's loop, which
 * returns like a handler. The handler that calls this returns HB_EAGAIN. When the connection
 * closed meanwhile, done still runs (to free arg) but its answer is dropped. */
void hb_http_server_queue_work(struct hb_http_request *req, void (*work)(void *arg),
                               int (*done)(struct hb_http_request *req,
                                           struct hb_http_response *res, void *arg),
                               void *arg);

/* Writes the Prometheus metrics of every worker into out. */
void hb_http_server_metrics(struct hb_buf *out);

/* Sends a response of status with {"detail":...} to a raw connection and closes it (503 when
 * over capacity). Returns the full response bytes, static. */
const char *hb_http_server_busy_response(void);

#endif
