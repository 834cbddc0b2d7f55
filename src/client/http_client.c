/* SPDX-License-Identifier: MIT */
/* llhttp glue for the client side (client layer). llhttp does the framing; this file pauses it
 * after each final response so the caller sees pipelined responses one by one, and keeps only
 * counters, never bytes, so parsing happens in place in the caller's read buffer. */
#include "client/http_client.h"

#include <limits.h>
#include <string.h>

#include "core/err.h"

static struct hb_http_client *of(llhttp_t *ll)
{
    return ll->data;
}

static void clear_response(struct hb_http_client *c)
{
    c->status = 0;
    c->version_minor = 0;
    c->body_len = 0;
    c->has_started = false;
    c->headers_complete = false;
    c->is_complete = false;
    c->is_keep_alive = false;
}

static int on_message_begin(llhttp_t *ll)
{
    struct hb_http_client *c = of(ll);
    clear_response(c);
    c->has_started = true;
    return 0;
}

static int on_headers_complete(llhttp_t *ll)
{
    struct hb_http_client *c = of(ll);
    c->status = ll->status_code;
    c->version_minor = ll->http_minor;
    c->headers_complete = true;
    /* 1 tells llhttp the message has no body (llhttp.h, on_headers_complete): a response to
     * HEAD, and 1xx, 204 and 304 never have one, whatever Content-Length says (RFC 9110 §6.4.1);
     * llhttp itself honours a Content-Length on them. */
    int status = ll->status_code;
    return c->_is_head || status < 200 || status == 204 || status == 304 ? 1 : 0;
}

static int on_body(llhttp_t *ll, const char *at, size_t len)
{
    struct hb_http_client *c = of(ll);
    c->body_len += len;
    if (c->on_body != NULL)
        c->on_body(c->ctx, at, len);
    return 0;
}

static int on_message_complete(llhttp_t *ll)
{
    struct hb_http_client *c = of(ll);
    int status = ll->status_code;
    if (status >= 100 && status < 200 && status != 101) {
        /* An interim response (100 Continue, 103 Early Hints): the final one follows. */
        clear_response(c);
        return 0;
    }
    c->is_complete = true;
    c->is_keep_alive = llhttp_should_keep_alive(ll) != 0 && status != 101 && !ll->upgrade;
    if (ll->upgrade) {
        /* llhttp stops by itself with HPE_PAUSED_UPGRADE: what follows is another protocol. */
        c->_is_upgraded = true;
        return 0;
    }
    c->_is_closed = !c->is_keep_alive;
    return HPE_PAUSED;
}

static llhttp_settings_t settings;
static int settings_ready;

static void settings_init(void)
{
    /* Idempotent and race-free in practice: every thread writes the same values. */
    if (settings_ready)
        return;
    llhttp_settings_t s;
    llhttp_settings_init(&s);
    s.on_message_begin = on_message_begin;
    s.on_headers_complete = on_headers_complete;
    s.on_body = on_body;
    s.on_message_complete = on_message_complete;
    settings = s;
    settings_ready = 1;
}

void hb_http_client_init(struct hb_http_client *c, bool is_head)
{
    memset(c, 0, sizeof(*c));
    settings_init();
    c->_is_head = is_head;
    llhttp_init(&c->_ll, HTTP_RESPONSE, &settings);
    c->_ll.data = c;
}

void hb_http_client_reset(struct hb_http_client *c)
{
    hb_http_client_body_cb *sink = c->on_body;
    void *ctx = c->ctx;
    hb_http_client_init(c, c->_is_head);
    c->on_body = sink;
    c->ctx = ctx;
}

static int fail(struct hb_http_client *c, const char *reason)
{
    c->_has_failed = true;
    c->error_reason = reason;
    return HB_EPROTO;
}

int hb_http_client_parse(struct hb_http_client *c, const char *buf, size_t len)
{
    if (c->is_complete)
        HB_BUG("hb_http_client_parse on a completed response");
    if (c->_has_failed)
        return HB_EPROTO;
    if (len == 0)
        return 0;
    if (c->_is_upgraded)
        return fail(c, "bytes after a protocol switch");
    if (c->_is_closed)
        return fail(c, "bytes after a response that closes the connection");
    if (len > INT_MAX)
        len = INT_MAX;
    enum llhttp_errno e = llhttp_execute(&c->_ll, buf, len);
    if (e == HPE_OK)
        return (int)len;
    if (e == HPE_PAUSED || e == HPE_PAUSED_UPGRADE) {
        size_t used = (size_t)(llhttp_get_error_pos(&c->_ll) - buf);
        if (e == HPE_PAUSED) {
            llhttp_resume(&c->_ll);
        } else {
            /* The message completed and HTTP ended; whatever follows is another protocol. */
            c->_is_upgraded = true;
            c->is_keep_alive = false;
            if (!c->headers_complete)
                return fail(c, "protocol switch without a response");
            c->is_complete = true;
        }
        if (used == 0 && !c->is_complete)
            return fail(c, "parser made no progress");
        return (int)used;
    }
    return fail(c, llhttp_get_error_reason(&c->_ll) ? llhttp_get_error_reason(&c->_ll)
                                                    : llhttp_errno_name(e));
}

void hb_http_client_next(struct hb_http_client *c)
{
    clear_response(c);
}

int hb_http_client_finish(struct hb_http_client *c)
{
    if (c->_has_failed)
        return HB_EPROTO;
    if (c->is_complete || !c->has_started)
        return 0;
    enum llhttp_errno e = llhttp_finish(&c->_ll);
    if (e == HPE_PAUSED) {
        /* on_message_complete ran: the close delimited the body (RFC 9112 §6.3 item 8). */
        llhttp_resume(&c->_ll);
        return 0;
    }
    if (e == HPE_OK && c->is_complete)
        return 0;
    return HB_ECLOSED;
}

static bool is_token_char(unsigned char ch)
{
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
           (ch != 0 && strchr("!#$%&'*+-.^_`|~", ch) != NULL);
}

/* A header line "Name: value": a token, a colon, a value without CR, LF or NUL. */
static bool is_valid_header(const char *line, size_t *name_len)
{
    size_t i = 0;
    while (is_token_char((unsigned char)line[i]))
        i++;
    if (i == 0 || line[i] != ':')
        return false;
    *name_len = i;
    for (const char *p = line + i; *p != '\0'; p++) {
        if (*p == '\r' || *p == '\n')
            return false;
    }
    return true;
}

static bool has_header(const struct hb_http_client_request *req, const char *name)
{
    struct hb_str want = hb_str_from(name);
    for (int i = 0; i < req->n_headers; i++) {
        const char *colon = strchr(req->headers[i], ':');
        if (colon == NULL)
            continue;
        struct hb_str got = {req->headers[i], (size_t)(colon - req->headers[i])};
        if (hb_str_ieq(got, want))
            return true;
    }
    return false;
}

int hb_http_client_format_request(struct hb_buf *out, const struct hb_http_client_request *req)
{
    if (req->method == NULL || req->method[0] == '\0')
        return HB_EINVAL;
    for (const char *p = req->method; *p != '\0'; p++) {
        if (!is_token_char((unsigned char)*p))
            return HB_EINVAL;
    }
    if (req->target.len == 0 || req->target.ptr[0] != '/')
        return HB_EINVAL;
    for (size_t i = 0; i < req->target.len; i++) {
        unsigned char ch = (unsigned char)req->target.ptr[i];
        if (ch <= 0x20 || ch == 0x7f)
            return HB_EINVAL;
    }
    for (size_t i = 0; i < req->host.len; i++) {
        unsigned char ch = (unsigned char)req->host.ptr[i];
        if (ch <= 0x20 || ch == 0x7f)
            return HB_EINVAL;
    }
    for (int i = 0; i < req->n_headers; i++) {
        size_t name_len;
        if (!is_valid_header(req->headers[i], &name_len))
            return HB_EINVAL;
    }

    size_t start = out->len;
    int err = 0;
    err |= hb_buf_append_str(out, req->method);
    err |= hb_buf_append_char(out, ' ');
    err |= hb_buf_append(out, req->target.ptr, req->target.len);
    err |= hb_buf_append_str(out, " HTTP/1.1\r\n");
    if (!has_header(req, "host")) {
        err |= hb_buf_append_str(out, "Host: ");
        err |= hb_buf_append(out, req->host.ptr, req->host.len);
        err |= hb_buf_append_str(out, "\r\n");
    }
    if (!has_header(req, "user-agent"))
        err |= hb_buf_append_str(out, "User-Agent: hiroba-bench\r\n");
    for (int i = 0; i < req->n_headers; i++) {
        err |= hb_buf_append_str(out, req->headers[i]);
        err |= hb_buf_append_str(out, "\r\n");
    }
    bool has_body = req->has_body || req->body.len > 0;
    if (has_body) {
        if (!has_header(req, "content-type")) {
            size_t i = 0;
            while (i < req->body.len && (req->body.ptr[i] == ' ' || req->body.ptr[i] == '\t' ||
                                         req->body.ptr[i] == '\r' || req->body.ptr[i] == '\n'))
                i++;
            bool is_json =
                i < req->body.len && (req->body.ptr[i] == '{' || req->body.ptr[i] == '[');
            err |= hb_buf_append_str(out, is_json ? "Content-Type: application/json\r\n"
                                                  : "Content-Type: application/octet-stream\r\n");
        }
        if (!has_header(req, "content-length")) {
            err |= hb_buf_append_str(out, "Content-Length: ");
            err |= hb_buf_append_u64(out, req->body.len);
            err |= hb_buf_append_str(out, "\r\n");
        }
    }
    err |= hb_buf_append_str(out, "\r\n");
    if (req->body.len > 0)
        err |= hb_buf_append(out, req->body.ptr, req->body.len);
    if (err != 0) {
        /* Every failure is HB_ETOOLARGE: undo the partial request. */
        out->len = start;
        if (out->data != NULL)
            out->data[start] = '\0';
        return HB_ETOOLARGE;
    }
    return 0;
}
