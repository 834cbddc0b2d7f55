/* SPDX-License-Identifier: MIT */
/* Operations endpoints (app layer, API.md §8): liveness, readiness and Prometheus metrics. */
#include "app/app.h"
#include "net/net.h"

int hb_app_healthz(struct hb_http_request *req, struct hb_http_response *res)
{
    (void)req;
    static const char ok[] = "{\"status\":\"ok\"}";
    res->content_type = "application/json";
    res->static_body = (struct hb_str){ok, sizeof(ok) - 1};
    return 0;
}

int hb_app_readyz(struct hb_http_request *req, struct hb_http_response *res)
{
    (void)req;
    if (hb_net_is_draining()) {
        static const char draining[] = "{\"status\":\"unavailable\",\"failed\":[\"shutdown\"]}";
        hb_http_response_json(res, 503, draining, sizeof(draining) - 1);
        return 0;
    }
    if (hb_store_ping(hb_app_reader()) < 0) {
        static const char down[] = "{\"status\":\"unavailable\",\"failed\":[\"database\"]}";
        hb_http_response_json(res, 503, down, sizeof(down) - 1);
        return 0;
    }
    static const char ok[] = "{\"status\":\"ok\"}";
    hb_http_response_json(res, 200, ok, sizeof(ok) - 1);
    return 0;
}

int hb_app_metrics(struct hb_http_request *req, struct hb_http_response *res)
{
    (void)req;
    res->content_type = "text/plain; version=0.0.4; charset=utf-8";
    hb_http_server_metrics(&res->body);
    return 0;
}
