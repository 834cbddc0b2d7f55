/* SPDX-License-Identifier: MIT */
/* Request accessors (http layer). */
#include "http/http_request.h"

struct hb_str hb_http_request_header(const struct hb_http_request *req, const char *name)
{
    struct hb_str want = hb_str_from(name);
    for (int i = 0; i < req->n_headers; i++) {
        if (hb_str_ieq(req->headers[i].name, want))
            return req->headers[i].value;
    }
    return HB_STR_NULL;
}

enum hb_http_method hb_http_method_from_name(struct hb_str name)
{
    static const struct {
        const char *name;
        enum hb_http_method method;
    } methods[] = {
        {"GET", HB_HTTP_GET},         {"POST", HB_HTTP_POST},     {"PUT", HB_HTTP_PUT},
        {"PATCH", HB_HTTP_PATCH},     {"DELETE", HB_HTTP_DELETE}, {"HEAD", HB_HTTP_HEAD},
        {"OPTIONS", HB_HTTP_OPTIONS},
    };
    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
        if (hb_str_eq_lit(name, methods[i].name))
            return methods[i].method;
    }
    return HB_HTTP_OTHER;
}
