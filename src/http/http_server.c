/* SPDX-License-Identifier: MIT */
/* HTTP/1.1 over net connections (http layer). The read buffer holds every byte from the start
 * of the current request; the parser records offsets into it. A request is answered before the
 * next one is parsed, and everything answered during one read batch is flushed with one write.
 * pump() is the one place that parses, flushes and decides whether to read on: it stops parsing
 * pipelined requests while the output is above a high-water mark, after a response that closes
 * the connection, and once the client has half-closed and everything it sent is answered. */
#include "http/http_server.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"
#include "http/http_metrics.h"
#include "http/http_url.h"

#define RBUF_INITIAL   4096
#define OUT_HIGH_WATER ((size_t)1024 * 1024)

struct worker_state {
    struct hb_http_metrics *metrics;
    unsigned long long next_request_id;
    int index;
};

struct hconn {
    struct hb_conn *conn;
    struct worker_state *ws;
    struct hb_buf rbuf;
    size_t parsed; /* bytes of rbuf given to the parser */
    struct hb_http_parser parser;
    struct hb_http_request req;
    struct hb_http_response res;
    struct hb_arena arena;
    const struct hb_http_route_group *group; /* matched group of the request in flight */
    hb_http_handler_cb *sleep_cb;
    uint64_t start_ns;
    bool is_busy;           /* a request is being answered */
    bool is_done;           /* the last response is written (or queued): nothing more is parsed */
    bool is_head_timer_set; /* the head deadline of the current request is armed */
    bool sent_continue;
    bool close_after_response;      /* shutting down: the next response closes */
    bool peer_eof;                  /* the client half-closed: answer what it sent, then close */
    hb_http_upgrade_cb *upgrade_cb; /* set by hb_http_server_upgrade(): hand the conn over */
    void *upgrade_data;
    /* Offloaded handlers (cfg->offload_handlers): the route runs on a pool thread or a fiber. */
    bool is_offloaded; /* the pool thread or fiber owns req and res until offload_done */
    bool is_orphan;    /* the connection closed meanwhile: offload_done frees hc */
    bool offload_rc;   /* run_route's result */
    int (*then)(struct hb_http_request *req, struct hb_http_response *res, void *arg);
    void *then_arg;
};

static const struct hb_http_server_config *cfg;

void hb_http_server_configure(const struct hb_http_server_config *config)
{
    cfg = config;
}

#define BUSY_BODY "{\"detail\":\"サーバが混雑しています。\"}"

static const char busy_response[] = "HTTP/1.1 503 Service Unavailable\r\n"
                                    "Content-Type: application/json\r\n"
                                    "Content-Length: 49\r\n"
                                    "Connection: close\r\n\r\n" BUSY_BODY;

const char *hb_http_server_busy_response(void)
{
    _Static_assert(sizeof(BUSY_BODY) - 1 == 49, "Content-Length of the 503 body");
    return busy_response;
}

/* ---- workers and metrics ---- */

void hb_http_server_worker_start(struct hb_net_worker *worker)
{
    struct worker_state *ws = hb_xcalloc(1, sizeof(*ws));
    ws->metrics = hb_http_metrics_create(hb_http_router_n_groups(cfg->router));
    ws->index = hb_net_worker_index(worker);
    hb_http_metrics_register(ws->metrics);
    hb_net_worker_set_data(worker, ws);
}

void hb_http_server_worker_stop(struct hb_net_worker *worker)
{
    struct worker_state *ws = hb_net_worker_data(worker);
    hb_http_metrics_unregister(ws->metrics);
    hb_http_metrics_destroy(ws->metrics);
    free(ws);
    hb_net_worker_set_data(worker, NULL);
}

void hb_http_server_metrics(struct hb_buf *out)
{
    int n = hb_http_router_n_groups(cfg->router);
    const char **labels = hb_xcalloc((size_t)n + 1, sizeof(*labels));
    for (int i = 0; i < n; i++)
        labels[i] = hb_http_router_group(cfg->router, i)->label;
    hb_http_metrics_render(out, labels, n, hb_net_open_conns());
    free(labels);
}

/* ---- connection lifecycle ---- */

static void on_open(struct hb_conn *conn)
{
    struct hconn *hc = hb_xcalloc(1, sizeof(*hc));
    hc->conn = conn;
    hc->ws = hb_net_worker_data(hb_conn_worker(conn));
    hb_buf_init(&hc->rbuf, cfg->limits.max_head_len + cfg->limits.max_body_len + (size_t)64 * 1024);
    hb_http_parser_init(&hc->parser, &cfg->limits);
    hb_http_response_init(&hc->res);
    hc->res._conn = hc;
    hb_arena_init(&hc->arena, 4096);
    hb_conn_set_data(conn, hc);
    hb_conn_set_timeout(conn, cfg->keepalive_timeout_ms);
}

static void release_hconn(struct hconn *hc);

static void on_close(struct hb_conn *conn)
{
    struct hconn *hc = hb_conn_data(conn);
    if (hc == NULL)
        return;
    if (hc->is_offloaded) {
        hc->is_orphan = true; /* the pool thread still uses it: offload_done frees it */
        return;
    }
    if (hc->upgrade_cb != NULL)
        hc->upgrade_cb(conn, hc->upgrade_data, NULL, 0); /* never taken over: let it free */
    release_hconn(hc);
}

static void release_hconn(struct hconn *hc)
{
    hb_arena_release(&hc->arena);
    hb_http_response_release(&hc->res);
    hb_http_parser_release(&hc->parser);
    hb_buf_release(&hc->rbuf);
    free(hc);
}

static void on_alloc(struct hb_conn *conn, char **base, size_t *len)
{
    struct hconn *hc = hb_conn_data(conn);
    struct hb_buf *b = &hc->rbuf;
    if (b->cap - b->len < 1024 || b->data == NULL) {
        size_t want = b->cap ? b->cap : RBUF_INITIAL;
        if (hb_buf_reserve(b, want) < 0 && hb_buf_reserve(b, b->max_len - b->len) < 0) {
            *base = NULL;
            *len = 0;
            return;
        }
    }
    *base = b->data + b->len;
    *len = b->cap - b->len;
}

/* ---- answering ---- */

static void add_cors(struct hconn *hc)
{
    struct hb_str origin = hb_http_request_header(&hc->req, "origin");
    if (origin.ptr == NULL)
        return;
    for (int i = 0; i < cfg->n_cors_origins; i++) {
        const char *o = cfg->cors_origins[i];
        if (strcmp(o, "*") == 0) {
            hb_http_response_header(&hc->res, "Access-Control-Allow-Origin", "*");
            break;
        }
        if (!hb_str_eq_lit(origin, "null") && hb_str_eq_lit(origin, o)) {
            hb_http_response_header(&hc->res, "Access-Control-Allow-Origin", o);
            break;
        }
    }
    hb_http_response_header(&hc->res, "Vary", "Origin");
}

static void process(struct hconn *hc);

static void log_request(struct hconn *hc, size_t n_bytes, uint64_t duration_ns)
{
    char status[8], bytes[24], dur[32], id[32];
    snprintf(status, sizeof(status), "%d", hc->res.status);
    snprintf(bytes, sizeof(bytes), "%zu", n_bytes);
    snprintf(dur, sizeof(dur), "%.3f", (double)duration_ns / 1e6);
    snprintf(id, sizeof(id), "%x-%llx", hc->ws->index, hc->ws->next_request_id);
    char *path = hb_arena_strndup(&hc->arena, hc->req.path.ptr, hc->req.path.len);
    char *method = hb_arena_strndup(&hc->arena, hc->req.method_name.ptr, hc->req.method_name.len);
    struct hb_log_field fields[] = {
        {"method", method, false},
        {"path", path, false},
        {"status", status, true},
        {"bytes", bytes, true},
        {"duration_ms", dur, true},
        {"request_id", id, false},
        {"peer", hb_conn_peer(hc->conn), false},
    };
    hb_log_fields(HB_LOG_INFO, "request", fields, (int)(sizeof(fields) / sizeof(fields[0])));
}

/* Writes the finished response, records it, and readies the connection for the next request. */
static void finish(struct hconn *hc)
{
    struct hb_http_request *req = &hc->req;
    struct hb_http_response *res = &hc->res;
    bool keep_alive =
        req->keep_alive && !res->close && !hc->close_after_response && !hb_net_is_draining();

    size_t n = 0;
    if (hc->upgrade_cb != NULL) {
        /* The handler wrote the whole 101 head; nothing of HTTP's is added to it. */
        (void)hb_buf_append(hb_conn_out(hc->conn), res->body.data, res->body.len);
        keep_alive = true;
        hc->is_done = true;
    } else {
        if (hc->group != NULL)
            hb_http_response_header(res, "Allow", hc->group->allow);
        add_cors(hc);
        n = hb_http_response_write(res, hb_conn_out(hc->conn), req->method == HB_HTTP_HEAD,
                                   keep_alive, req->version_minor);
    }
    uint64_t duration_ns = hb_clock_mono_ns() - hc->start_ns;
    int n_groups = hb_http_router_n_groups(cfg->router);
    int route = hc->group != NULL ? hc->group->index
                : req->route == NULL &&
                        (req->method == HB_HTTP_GET || req->method == HB_HTTP_HEAD) &&
                        (res->status == 200 || res->status == 304)
                    ? HB_HTTP_METRICS_SPA(n_groups)
                    : HB_HTTP_METRICS_UNMATCHED(n_groups);
    hb_http_metrics_record(hc->ws->metrics, route, req->method, res->status, duration_ns);
    hc->ws->next_request_id++;
    if (cfg->access_log)
        log_request(hc, n, duration_ns);

    hb_arena_reset(&hc->arena);
    hb_http_response_reset(res);
    hc->group = NULL;
    hc->is_busy = false;
    hc->is_head_timer_set = false;
    hc->sent_continue = false;
    memset(req, 0, offsetof(struct hb_http_request, headers));
    req->n_headers = 0;
    hb_http_parser_next(&hc->parser, hc->parsed);
    if (!keep_alive) {
        /* Bytes pipelined after this request are never answered (RFC 9112 §9.6). */
        hc->is_done = true;
        hb_conn_close_after_write(hc->conn);
    }
}

/* Answers a request that cannot be parsed or breaks a limit, then closes (framing can no longer
 * be trusted). */
static void answer_error(struct hconn *hc, int status)
{
    static const struct {
        int status;
        const char *detail;
    } details[] = {
        {400, "不正な形式のリクエストです。"},     {408, "リクエストがタイムアウトしました。"},
        {413, "リクエストボディが大きすぎます。"}, {414, "リクエストURIが長すぎます。"},
        {431, "リクエストヘッダが大きすぎます。"},
    };
    const char *detail = details[0].detail;
    for (size_t i = 0; i < sizeof(details) / sizeof(details[0]); i++) {
        if (details[i].status == status)
            detail = details[i].detail;
    }
    assert(!hc->is_busy);
    hc->start_ns = hb_clock_mono_ns();
    hb_http_response_reset(&hc->res);
    hb_http_response_detail(&hc->res, status, detail);
    hc->res.close = true;
    hc->group = NULL;
    /* The request may be half-parsed: log what is known. */
    if (hc->req.method_name.ptr == NULL)
        hc->req.method_name = HB_STR("-");
    if (hc->req.path.ptr == NULL)
        hc->req.path = HB_STR("-");
    hc->req.version_minor = 1;
    hc->req.keep_alive = false;
    finish(hc);
}

static const char *method_text(const struct hb_http_request *req, struct hb_arena *arena)
{
    return hb_arena_strndup(arena, req->method_name.ptr, req->method_name.len);
}

static bool host_allowed(const struct hb_http_request *req)
{
    if (cfg->allowed_hosts == NULL)
        return true;
    struct hb_str host = hb_http_request_header(req, "host");
    /* Compare without the port. */
    for (size_t i = host.len; i > 0; i--) {
        if (host.ptr[i - 1] == ':') {
            if (host.ptr[0] != '[' || host.ptr[i - 2] == ']')
                host.len = i - 1;
            break;
        }
        if (host.ptr[i - 1] == ']')
            break;
    }
    for (int i = 0; i < cfg->n_allowed_hosts; i++) {
        if (hb_str_ieq(host, hb_str_from(cfg->allowed_hosts[i])))
            return true;
    }
    return false;
}

static bool is_preflight(const struct hb_http_request *req)
{
    return req->method == HB_HTTP_OPTIONS && hb_http_request_header(req, "origin").ptr != NULL &&
           hb_http_request_header(req, "access-control-request-method").ptr != NULL;
}

static void answer_preflight(struct hconn *hc)
{
    struct hb_http_response *res = &hc->res;
    struct hb_str origin = hb_http_request_header(&hc->req, "origin");
    res->status = 200;
    res->content_type = "text/html; charset=utf-8";
    for (int i = 0; i < cfg->n_cors_origins; i++) {
        if (strcmp(cfg->cors_origins[i], "*") == 0 ||
            (!hb_str_eq_lit(origin, "null") && hb_str_eq_lit(origin, cfg->cors_origins[i]))) {
            hb_http_response_header(res, "Access-Control-Allow-Methods",
                                    "DELETE, GET, OPTIONS, PATCH, POST, PUT");
            hb_http_response_header(res, "Access-Control-Allow-Headers",
                                    "accept, accept-encoding, authorization, content-type, dnt, "
                                    "origin, user-agent, x-csrftoken, x-requested-with");
            hb_http_response_header(res, "Access-Control-Max-Age", "86400");
            break;
        }
    }
}

static void answer_options(struct hconn *hc)
{
    struct hb_buf *b = &hc->res.body;
    hc->res.status = 200;
    hc->res.content_type = "application/json";
    (void)hb_buf_append_str(b, "{\"name\":");
    const char *name = hc->group->name ? hc->group->name : "";
    (void)hb_http_json_string(b, name, strlen(name));
    (void)hb_buf_append_str(b, ",\"description\":\"\",\"renders\":[\"application/json\"],"
                               "\"parses\":[\"application/json\","
                               "\"application/x-www-form-urlencoded\"]}");
}

static bool run_route(struct hconn *hc);

/* Runs a queued job's done callback after its connection is gone, on a throwaway request, so
 * it frees its argument; nobody is answered. */
static void
done_for_nobody(int (*done)(struct hb_http_request *, struct hb_http_response *, void *), void *arg)
{
    struct hb_http_request req = {0};
    struct hb_http_response res;
    struct hb_arena arena;
    hb_arena_init(&arena, 256);
    req.arena = &arena;
    hb_http_response_init(&res);
    (void)done(&req, &res, arg);
    hb_http_response_release(&res);
    hb_arena_release(&arena);
}

/* ---- offloaded handlers ----
 * With a store whose calls wait on the network (PostgreSQL), API routes run as fibers on the
 * loop (their waits park the fiber) or on the thread pool: a handler's store calls then never
 * hold up the loop. The loop does not touch req and res meanwhile (the connection is busy); work
 * the handler queues runs at once in the same fiber or pool thread, and its done callback runs
 * on the loop afterwards, as it would have. */

static void offload_work(void *arg)
{
    struct hconn *hc = arg;
    hc->offload_rc = run_route(hc);
}

static void offload_done(struct hb_conn *conn, void *arg)
{
    struct hconn *hc = arg;
    hc->is_offloaded = false;
    int (*then)(struct hb_http_request *, struct hb_http_response *, void *) = hc->then;
    hc->then = NULL;
    if (hc->is_orphan) {
        if (then != NULL)
            done_for_nobody(then, hc->then_arg);
        if (hc->upgrade_cb != NULL)
            hc->upgrade_cb(conn, hc->upgrade_data, NULL, 0);
        release_hconn(hc);
        return;
    }
    bool is_complete = hc->offload_rc;
    if (then != NULL)
        is_complete = then(&hc->req, &hc->res, hc->then_arg) != HB_EAGAIN;
    if (is_complete)
        hb_http_server_finish(&hc->res);
}

static void offload(struct hconn *hc)
{
    hc->is_offloaded = true;
    if (cfg->offload_in_fibers)
        hb_conn_run_fiber(hc->conn, offload_work, offload_done, hc);
    else
        hb_conn_queue_work(hc->conn, offload_work, offload_done, hc);
}

/* Routes and runs one parsed request. Returns true when the response is complete. */
static bool handle(struct hconn *hc)
{
    struct hb_http_request *req = &hc->req;
    struct hb_http_response *res = &hc->res;

    if (!host_allowed(req)) {
        hb_http_response_detail(res, 400, "不正な形式のリクエストです。");
        return true;
    }
    if (is_preflight(req)) {
        answer_preflight(hc);
        return true;
    }
    req->decoded_path = hb_http_url_decode(&hc->arena, req->path, false);
    hc->group = hb_http_router_match(cfg->router, req->decoded_path, req->params, &req->n_params);
    if (hc->group == NULL) {
        struct hb_str p = req->decoded_path;
        bool is_ws = hb_str_starts(p, HB_STR("/ws/"));
        if (p.len > 0 && p.ptr[p.len - 1] != '/' && !is_ws) {
            /* APPEND_SLASH: redirect when the slashed form routes (API.md §2.1). */
            char *slashed = hb_arena_alloc(&hc->arena, p.len + 2);
            memcpy(slashed, p.ptr, p.len);
            slashed[p.len] = '/';
            slashed[p.len + 1] = '\0';
            struct hb_str params[HB_HTTP_MAX_PARAMS];
            int n_params;
            if (hb_http_router_match(cfg->router, (struct hb_str){slashed, p.len + 1}, params,
                                     &n_params) != NULL) {
                char *loc =
                    hb_arena_printf(&hc->arena, "%.*s/%s%.*s", (int)req->path.len, req->path.ptr,
                                    req->query.len ? "?" : "", (int)req->query.len, req->query.ptr);
                res->status = 301;
                res->content_type = "text/html; charset=utf-8";
                hb_http_response_header(res, "Location", loc);
                return true;
            }
        }
        /* /ws/ paths never fall through to the SPA (API.md §6.1). */
        bool is_api = hb_str_starts(p, HB_STR("/api/")) || hb_str_eq_lit(p, "/api") || is_ws;
        if (!is_api && cfg->fallback != NULL &&
            (req->method == HB_HTTP_GET || req->method == HB_HTTP_HEAD))
            return cfg->fallback(req, res) != HB_EAGAIN;
        hb_http_response_detail(res, 404, "見つかりませんでした。");
        return true;
    }
    /* The routes that reach the store; /healthz, /metrics and the demo routes stay on the loop. */
    if (cfg->offload_handlers && (hb_str_starts(req->decoded_path, HB_STR("/api/")) ||
                                  hb_str_starts(req->decoded_path, HB_STR("/ws/")) ||
                                  hb_str_eq_lit(req->decoded_path, "/readyz"))) {
        offload(hc);
        return false;
    }
    return run_route(hc);
}

/* The auth guard, the method check and the handler. Returns true when the response is
 * complete. */
static bool run_route(struct hconn *hc)
{
    struct hb_http_request *req = &hc->req;
    struct hb_http_response *res = &hc->res;
    if (cfg->guard != NULL && cfg->guard(req, res, hc->group->auth) != 0)
        return true;
    req->route = hb_http_route_for_method(hc->group, req->method);
    if (req->route == NULL) {
        if (req->method == HB_HTTP_OPTIONS) {
            answer_options(hc);
            return true;
        }
        char *msg = hb_arena_printf(&hc->arena, "メソッド \"%s\" は許されていません。",
                                    method_text(req, &hc->arena));
        hb_http_response_detail(res, 405, msg);
        return true;
    }
    return req->route->handler(req, res) != HB_EAGAIN;
}

static void dispatch(struct hconn *hc)
{
    struct hb_http_request *req = &hc->req;
    hb_http_parser_fill(&hc->parser, hc->rbuf.data, req);
    req->arena = &hc->arena;
    req->peer = hb_conn_peer(hc->conn);
    req->app = cfg->app;
    req->_conn = hc;
    req->route = NULL;
    req->user = NULL;
    req->n_params = 0;
    hc->start_ns = hb_clock_mono_ns();
    hc->is_busy = true;
    if (handle(hc))
        finish(hc);
}

/* Drops the bytes of finished requests from the front of the read buffer. */
static void compact(struct hconn *hc)
{
    size_t start = hb_http_parser_request_start(&hc->parser);
    if (start == 0)
        return;
    hb_buf_consume(&hc->rbuf, start);
    hc->parsed -= start;
    hb_http_parser_shift(&hc->parser, start);
}

static void arm_timer(struct hconn *hc)
{
    struct hb_http_parser *p = &hc->parser;
    if (hc->is_busy) {
        hb_conn_set_timeout(hc->conn, 0);
    } else if (p->headers_complete) {
        hb_conn_set_timeout(hc->conn, cfg->body_timeout_ms);
    } else if (p->has_started || hc->parsed > hb_http_parser_request_start(p)) {
        /* The head deadline runs from the request's first byte and is never extended, so a
         * client that trickles bytes costs one timer, not a thread. */
        if (!hc->is_head_timer_set) {
            hc->is_head_timer_set = true;
            hb_conn_set_timeout(hc->conn, cfg->head_timeout_ms);
        }
    } else {
        hb_conn_set_timeout(hc->conn, hb_net_is_draining() ? 1 : cfg->keepalive_timeout_ms);
    }
}

/* Parses and answers the requests waiting in the read buffer, one at a time, until one is in a
 * handler, the input runs out, or the output passes the high-water mark. */
static void process(struct hconn *hc)
{
    struct hb_http_parser *p = &hc->parser;
    while (!hc->is_busy && !hc->is_done && !hb_conn_is_closing(hc->conn) &&
           hc->parsed < hc->rbuf.len && hb_conn_pending(hc->conn) <= OUT_HIGH_WATER) {
        int n = hb_http_parser_execute(p, hc->rbuf.data, hc->parsed, hc->rbuf.len);
        if (n < 0) {
            answer_error(hc, p->error_status ? p->error_status : 400);
            return;
        }
        hc->parsed += (size_t)n;
        if (p->is_complete) {
            dispatch(hc);
            continue;
        }
        if (p->headers_complete && p->expect_continue && !hc->sent_continue) {
            hc->sent_continue = true;
            (void)hb_buf_append_str(hb_conn_out(hc->conn), "HTTP/1.1 100 Continue\r\n\r\n");
        }
        break;
    }
}

/* Runs the connection forward after any event: parses, flushes, then decides whether to read
 * on, wait for the output to drain, or close. */
/* Gives the connection to the protocol the request upgraded to, with the bytes that arrived
 * after the request head. hc is freed. */
static void take_over(struct hconn *hc)
{
    struct hb_conn *conn = hc->conn;
    hb_http_upgrade_cb *cb = hc->upgrade_cb;
    void *data = hc->upgrade_data;
    size_t n = hc->rbuf.len > hc->parsed ? hc->rbuf.len - hc->parsed : 0;
    char *early = hb_xmalloc(n + 1);
    if (n > 0)
        memcpy(early, hc->rbuf.data + hc->parsed, n);
    hb_conn_set_data(conn, NULL);
    hb_conn_set_timeout(conn, 0);
    release_hconn(hc);
    cb(conn, data, early, n);
    free(early);
}

static void pump(struct hconn *hc)
{
    struct hb_conn *conn = hc->conn;
    for (;;) {
        process(hc);
        hb_conn_flush(conn);
        if (hc->upgrade_cb != NULL && hc->is_done && !hb_conn_is_closing(conn)) {
            take_over(hc);
            return;
        }
        if (hb_conn_is_closing(conn) || hc->is_busy || hc->is_done || hc->parsed >= hc->rbuf.len ||
            hb_conn_pending(conn) > OUT_HIGH_WATER)
            break;
        /* Parsing stopped at the high-water mark but the flush took everything: go on. */
    }
    if (hb_conn_is_closing(conn) || hc->is_done)
        return;
    if (!hc->is_busy) {
        compact(hc);
        if (hc->peer_eof && hc->parsed >= hc->rbuf.len) {
            /* Everything the client sent is answered; a partial request can never complete. */
            hc->is_done = true;
            if (hb_conn_pending(conn) == 0)
                hb_conn_close(conn);
            else
                hb_conn_close_after_write(conn);
            return;
        }
        if (hc->peer_eof || hb_conn_pending(conn) > OUT_HIGH_WATER)
            hb_conn_read_stop(conn); /* resumed by on_drain */
        else
            hb_conn_read_start(conn);
    }
    arm_timer(hc);
}

static void on_read(struct hb_conn *conn, ssize_t nread)
{
    struct hconn *hc = hb_conn_data(conn);
    if (nread == HB_NET_NOBUFS) {
        /* The read buffer is full. While a handler runs, that is backpressure: pump() reads on
         * when it finishes. Otherwise the request cannot fit: a chunked body whose framing
         * overhead passed the buffer (the head alone never can). */
        hb_conn_read_stop(conn);
        if (!hc->is_busy && !hc->is_done) {
            answer_error(hc, hc->parser.headers_complete ? 413 : 431);
            hb_conn_flush(conn);
        }
        return;
    }
    if (nread == HB_NET_EOF && !hc->is_done) {
        /* A half-close: the client may still read what it asked for (RFC 9112 §9.6). */
        hc->peer_eof = true;
        hb_conn_read_stop(conn);
        if (!hc->is_busy)
            pump(hc);
        return;
    }
    if (nread < 0) {
        hb_conn_close(conn);
        return;
    }
    hc->rbuf.len += (size_t)nread;
    hc->rbuf.data[hc->rbuf.len] = '\0';
    if (hc->is_busy || hc->is_done)
        return; /* buffered: the handler's finish parses it */
    if (hc->parser.headers_complete)
        hc->is_head_timer_set = false; /* body reads re-arm the idle timer */
    pump(hc);
}

static void on_timeout(struct hb_conn *conn)
{
    struct hconn *hc = hb_conn_data(conn);
    if (hc->is_busy)
        return;
    if (!hc->is_done && (hc->parser.has_started || hc->parser.headers_complete)) {
        hb_conn_read_stop(conn);
        answer_error(hc, 408);
        hb_conn_flush(conn);
        return;
    }
    hb_conn_close(conn);
}

static void on_drain(struct hb_conn *conn)
{
    struct hconn *hc = hb_conn_data(conn);
    if (!hc->is_busy && !hc->is_done)
        pump(hc);
}

static void on_shutdown(struct hb_conn *conn)
{
    struct hconn *hc = hb_conn_data(conn);
    hc->close_after_response = true;
    if (hc->is_busy || hc->is_done || hc->parser.has_started || hc->parsed < hc->rbuf.len)
        return; /* the response in progress closes the connection */
    hc->is_done = true;
    if (hb_conn_pending(conn) == 0)
        hb_conn_close(conn);
    else
        hb_conn_close_after_write(conn);
}

void hb_http_server_upgrade(struct hb_http_request *req, struct hb_http_response *res,
                            const char *head, size_t head_len, hb_http_upgrade_cb *cb, void *data)
{
    struct hconn *hc = req->_conn;
    res->status = 101;
    res->content_type = NULL;
    hb_buf_reset(&res->body);
    (void)hb_buf_append(&res->body, head, head_len);
    hc->upgrade_cb = cb;
    hc->upgrade_data = data;
}

void hb_http_server_finish(struct hb_http_response *res)
{
    struct hconn *hc = res->_conn;
    finish(hc);
    pump(hc);
}

static void on_sleep_done(struct hb_conn *conn)
{
    struct hconn *hc = hb_conn_data(conn);
    if (hc->sleep_cb(&hc->req, &hc->res) != HB_EAGAIN)
        hb_http_server_finish(&hc->res);
}

void hb_http_server_sleep(struct hb_http_request *req, uint64_t delay_ms, hb_http_handler_cb *cb)
{
    struct hconn *hc = req->_conn;
    hc->sleep_cb = cb;
    hb_conn_set_app_timer(hc->conn, delay_ms ? delay_ms : 1, on_sleep_done);
}

struct queued {
    struct hconn *hc;
    void (*work)(void *arg);
    int (*done)(struct hb_http_request *req, struct hb_http_response *res, void *arg);
    void *arg;
};

static void queued_work(void *arg)
{
    struct queued *q = arg;
    q->work(q->arg);
}

static void queued_done(struct hb_conn *conn, void *arg)
{
    struct queued *q = arg;
    struct hconn *hc = hb_conn_data(conn);
    if (hb_conn_is_closing(conn) || hc == NULL) {
        done_for_nobody(q->done, q->arg); /* the connection is gone */
        free(q);
        return;
    }
    int rc = q->done(&hc->req, &hc->res, q->arg);
    free(q);
    if (rc != HB_EAGAIN)
        hb_http_server_finish(&hc->res);
}

void hb_http_server_queue_work(struct hb_http_request *req, void (*work)(void *arg),
                               int (*done)(struct hb_http_request *req,
                                           struct hb_http_response *res, void *arg),
                               void *arg)
{
    struct hconn *hc = req->_conn;
    if (hc->is_offloaded) {
        /* Called by an offloaded handler, on its pool thread or fiber: work now, done after. */
        work(arg);
        hc->then = done;
        hc->then_arg = arg;
        return;
    }
    struct queued *q = hb_xmalloc(sizeof(*q));
    q->hc = hc;
    q->work = work;
    q->done = done;
    q->arg = arg;
    hb_conn_queue_work(hc->conn, queued_work, queued_done, q);
}

static const struct hb_conn_handler handler = {
    .on_open = on_open,
    .on_alloc = on_alloc,
    .on_read = on_read,
    .on_timeout = on_timeout,
    .on_drain = on_drain,
    .on_shutdown = on_shutdown,
    .on_close = on_close,
};

const struct hb_conn_handler *hb_http_server_conn_handler(void)
{
    return &handler;
}
