/* SPDX-License-Identifier: MIT */
/* llhttp glue (http layer). llhttp parses and enforces most of RFC 9112 (CL+TE, duplicate or
 * malformed Content-Length, chunk-size syntax); a small scanner here rejects what llhttp 8
 * (built without LLHTTP_STRICT_MODE) accepts but RFC 9112 §2.2/§3/§5 lets a server refuse and
 * hiroba must: bare CR or LF, obs-fold, NUL and other control bytes in the head, a request line
 * with extra whitespace. The callbacks add what the scanner cannot see: header names that are
 * not tokens, chunk data not followed by CRLF (a request-smuggling vector), HTTP/1.0 with
 * Transfer-Encoding. Limits are checked as bytes arrive. */
#include "http/http_parser.h"

#include <string.h>
#include <strings.h>

#include "core/err.h"

static int fail(struct hb_http_parser *p, int status, const char *reason)
{
    p->error_status = status;
    p->error_reason = reason;
    return HPE_USER;
}

static struct hb_http_parser *of(llhttp_t *ll)
{
    return ll->data;
}

static uint32_t off(struct hb_http_parser *p, const char *at)
{
    return (uint32_t)(at - p->_base);
}

/* Extends a span with a contiguous piece (callbacks may split a token across reads). */
static void extend(struct hb_http_parser *p, struct hb_http_span *s, const char *at, size_t len)
{
    if (s->len == 0)
        s->off = off(p, at);
    s->len += (uint32_t)len;
}

static int on_message_begin(llhttp_t *ll)
{
    struct hb_http_parser *p = of(ll);
    p->_url.len = 0;
    p->_n_headers = 0;
    p->_n_fields = 0;
    p->_field_open = false;
    p->_n_host = 0;
    p->_has_te = false;
    p->_chunk_left = 0;
    p->_has_crlf = false;
    p->_trailer_len = 0;
    p->expect_continue = false;
    hb_buf_reset(&p->body);
    return 0;
}

static int on_url(llhttp_t *ll, const char *at, size_t len)
{
    struct hb_http_parser *p = of(ll);
    extend(p, &p->_url, at, len);
    if (p->_url.len > p->limits.max_target_len)
        return fail(p, 414, "request target too long");
    return 0;
}

/* Data callbacks only record: llhttp calls them for partial spans at the end of each execute,
 * so a check made there would fire at a point that depends on how the input was split. Every
 * check runs in a *_complete callback, at a fixed byte of the stream. */

static int on_header_field(llhttp_t *ll, const char *at, size_t len)
{
    struct hb_http_parser *p = of(ll);
    if (p->headers_complete) {
        /* Trailer fields (after a chunked body) are parsed by llhttp but never become headers:
         * merging them would let a trailer override what was checked in the head (RFC 9110
         * §6.5.1). They count against the head limit. */
        p->_trailer_len += len;
        return 0;
    }
    if (!p->_field_open) {
        /* A new field begins (llhttp may deliver one name in several pieces). Fields beyond
         * the array are counted, not stored: the count is checked when the field ends. */
        p->_field_open = true;
        p->_n_fields++;
        if (p->_n_fields <= HB_HTTP_MAX_HEADERS) {
            p->_names[p->_n_fields - 1] = (struct hb_http_span){0, 0};
            p->_values[p->_n_fields - 1] = (struct hb_http_span){UINT32_MAX, 0};
            p->_n_headers = p->_n_fields;
        }
    }
    if (p->_n_fields <= HB_HTTP_MAX_HEADERS)
        extend(p, &p->_names[p->_n_fields - 1], at, len);
    return 0;
}

static int on_header_value(llhttp_t *ll, const char *at, size_t len)
{
    struct hb_http_parser *p = of(ll);
    if (p->headers_complete) {
        p->_trailer_len += len;
        return 0;
    }
    if (!p->_field_open || p->_n_fields > HB_HTTP_MAX_HEADERS)
        return 0; /* ": value" is refused when the field ends */
    struct hb_http_span *v = &p->_values[p->_n_fields - 1];
    if (v->off == UINT32_MAX) {
        v->off = off(p, at);
        v->len = 0;
    }
    v->len += (uint32_t)len;
    return 0;
}

static struct hb_str span_str(const struct hb_http_parser *p, struct hb_http_span s)
{
    if (s.off == UINT32_MAX)
        return (struct hb_str){p->_base, 0};
    return (struct hb_str){p->_base + s.off, s.len};
}

/* RFC 9110 §5.6.2: token = 1*tchar. */
static bool is_token(struct hb_str s)
{
    static const char tchars[] = "!#$%&'*+-.^_`|~";
    if (s.len == 0)
        return false;
    for (size_t i = 0; i < s.len; i++) {
        unsigned char c = (unsigned char)s.ptr[i];
        bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                  (c != '\0' && strchr(tchars, c) != NULL);
        if (!ok)
            return false;
    }
    return true;
}

static int on_header_value_complete(llhttp_t *ll)
{
    struct hb_http_parser *p = of(ll);
    if (p->headers_complete) {
        if (p->_trailer_len > p->limits.max_head_len)
            return fail(p, 431, "trailer fields too large");
        return 0;
    }
    if (!p->_field_open)
        return fail(p, 400, "empty header name"); /* ": value" */
    p->_field_open = false;
    if (p->_n_fields > p->limits.max_headers)
        return fail(p, 431, "too many header fields");
    int i = p->_n_fields - 1;
    if (p->_values[i].off == UINT32_MAX) {
        /* An empty value: point it at the end of the name, a real offset that shifts along. */
        p->_values[i] = (struct hb_http_span){p->_names[i].off + p->_names[i].len, 0};
    }
    struct hb_str name = span_str(p, p->_names[i]);
    struct hb_str value = hb_str_trim_ows(span_str(p, p->_values[i]));
    /* llhttp 8 accepts "X A: b" and "X-A : b"; RFC 9112 §5.1 says reject. */
    if (!is_token(name))
        return fail(p, 400, "header name is not a token");
    if (hb_str_ieq(name, HB_STR("host"))) {
        p->_n_host++;
    } else if (hb_str_ieq(name, HB_STR("transfer-encoding"))) {
        /* hiroba implements only chunked, and only once (RFC 9112 §6.1). */
        if (p->_has_te || !hb_str_ieq(value, HB_STR("chunked")))
            return fail(p, 400, "unsupported transfer-encoding");
        p->_has_te = true;
    } else if (hb_str_ieq(name, HB_STR("expect"))) {
        if (!hb_str_ieq(value, HB_STR("100-continue")))
            return fail(p, 400, "unsupported expectation");
        p->expect_continue = true;
    }
    return 0;
}

static int on_headers_complete(llhttp_t *ll)
{
    struct hb_http_parser *p = of(ll);
    p->headers_complete = true;
    if (ll->http_major != 1)
        return fail(p, 400, "unsupported http version");
    if (ll->http_minor >= 1 && p->_n_host != 1)
        return fail(p, 400, "missing or repeated host");
    if (p->_n_host > 1)
        return fail(p, 400, "repeated host");
    /* HTTP/1.0 has no transfer codings: the framing is faulty (RFC 9112 §6.1). */
    if (ll->http_minor == 0 && p->_has_te)
        return fail(p, 400, "transfer-encoding in http/1.0");
    if ((ll->flags & F_CONTENT_LENGTH) && ll->content_length > p->limits.max_body_len)
        return fail(p, 413, "body too large");
    bool has_body =
        (ll->flags & F_CHUNKED) || ((ll->flags & F_CONTENT_LENGTH) && ll->content_length > 0);
    if (ll->http_minor == 0 || !has_body)
        p->expect_continue = false;
    return 0;
}

static int on_body(llhttp_t *ll, const char *at, size_t len)
{
    struct hb_http_parser *p = of(ll);
    if (hb_buf_append(&p->body, at, len) < 0)
        return fail(p, 413, "body too large");
    if (p->_ll.flags & F_CHUNKED) {
        p->_chunk_left -= len < p->_chunk_left ? len : p->_chunk_left;
        if (p->_chunk_left == 0) {
            p->_crlf_off = off(p, at + len);
            p->_has_crlf = true;
        }
    }
    return 0;
}

static int on_chunk_header(llhttp_t *ll)
{
    struct hb_http_parser *p = of(ll);
    /* Refuse a chunk that cannot fit before its bytes arrive. */
    if (ll->content_length > p->limits.max_body_len - p->body.len)
        return fail(p, 413, "body too large");
    p->_chunk_left = ll->content_length;
    p->_has_crlf = false;
    return 0;
}

static int on_chunk_complete(llhttp_t *ll)
{
    struct hb_http_parser *p = of(ll);
    /* llhttp 8 skips the two bytes after chunk data without looking at them, so "5\r\nhelloXX"
     * would frame differently here than in a strict peer. Both bytes are in the buffer now. */
    if (p->_has_crlf) {
        p->_has_crlf = false;
        if (p->_base[p->_crlf_off] != '\r' || p->_base[p->_crlf_off + 1] != '\n')
            return fail(p, 400, "chunk data not followed by CRLF");
    }
    return 0;
}

static int on_message_complete(llhttp_t *ll)
{
    struct hb_http_parser *p = of(ll);
    p->is_complete = true;
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
    s.on_url = on_url;
    s.on_header_field = on_header_field;
    s.on_header_value = on_header_value;
    s.on_header_value_complete = on_header_value_complete;
    s.on_headers_complete = on_headers_complete;
    s.on_body = on_body;
    s.on_chunk_header = on_chunk_header;
    s.on_chunk_complete = on_chunk_complete;
    s.on_message_complete = on_message_complete;
    settings = s;
    settings_ready = 1;
}

void hb_http_parser_init(struct hb_http_parser *p, const struct hb_http_limits *limits)
{
    memset(p, 0, sizeof(*p));
    settings_init();
    p->limits = *limits;
    if (p->limits.max_headers > HB_HTTP_MAX_HEADERS)
        p->limits.max_headers = HB_HTTP_MAX_HEADERS;
    llhttp_init(&p->_ll, HTTP_REQUEST, &settings);
    p->_ll.data = p;
    hb_buf_init(&p->body, limits->max_body_len);
    p->_scan_in_head = true;
    p->_scan_line_start = true;
}

void hb_http_parser_release(struct hb_http_parser *p)
{
    hb_buf_release(&p->body);
}

/* A byte that needs no attention inside a head line: printable ASCII, space, or obs-text. */
static inline bool is_plain_byte(unsigned char c)
{
    return c >= 0x20 && c != 0x7f;
}

struct scan_error {
    int status;
    const char *reason;
};

static int scan_fail(struct hb_http_parser *p, size_t i, unsigned char prev, struct scan_error *err,
                     int status, const char *reason)
{
    p->_scan_pos = i;
    p->_scan_prev = prev;
    err->status = status;
    err->reason = reason;
    return HB_EPROTO;
}

/* Scans head bytes buf[p->_scan_pos..len) for what RFC 9112 lets us reject, one byte at a time.
 * Stops after the blank line ending the head. Empty lines before the request line are allowed
 * (§2.2). Returns 0, or HB_EPROTO with *err set and _scan_pos at the offending byte. */
static int scan_head(struct hb_http_parser *p, const char *buf, size_t len, struct scan_error *err)
{
    size_t i = p->_scan_pos;
    unsigned char prev = p->_scan_prev;
    bool line_start = p->_scan_line_start;
    size_t limit = p->_start + p->limits.max_head_len; /* offset of the first byte too many */

    size_t end = len < limit ? len : limit;
    for (; i < len; i++) {
        if (!line_start && prev != '\r' && i < end) {
            /* Fast path: skip a run of ordinary bytes (no CR, LF, CTL or DEL; inside the
             * request line no whitespace either). Most of a head is such runs. */
            size_t run = i;
            if (p->_scan_in_request_line) {
                while (run < end && is_plain_byte((unsigned char)buf[run]) && buf[run] != ' ')
                    run++;
                if (p->_scan_n_spaces == 1) {
                    p->_scan_target_len += run - i;
                    if (p->_scan_target_len > p->limits.max_target_len) {
                        size_t over = p->_scan_target_len - p->limits.max_target_len;
                        p->_scan_target_len = p->limits.max_target_len + 1;
                        return scan_fail(p, run - over, (unsigned char)buf[run - over - 1], err,
                                         414, "request target too long");
                    }
                }
            } else {
                while (run < end && (is_plain_byte((unsigned char)buf[run]) || buf[run] == '\t'))
                    run++;
            }
            if (run > i) {
                prev = (unsigned char)buf[run - 1];
                i = run;
                if (i >= len)
                    break;
            }
        }
        unsigned char c = (unsigned char)buf[i];
        if (i >= limit)
            return scan_fail(p, i, prev, err, 431, "head too large");
        if (prev == '\r' && c != '\n')
            return scan_fail(p, i, prev, err, 400, "bare CR");
        if (c == '\n') {
            if (prev != '\r')
                return scan_fail(p, i, prev, err, 400, "bare LF");
            if (line_start && p->has_started) {
                /* The blank line: the head ends here. */
                p->_scan_in_head = false;
                i++;
                break;
            }
            p->_scan_in_request_line = false;
            line_start = true;
        } else if (c != '\r') {
            if ((c < 0x20 && c != '\t') || c == 0x7f)
                return scan_fail(p, i, prev, err, 400, "control byte in head");
            if (line_start && (c == ' ' || c == '\t'))
                return scan_fail(p, i, prev, err, 400,
                                 p->has_started ? "obs-fold" : "whitespace before request line");
            if (!p->has_started) {
                p->has_started = true;
                p->_scan_in_request_line = true;
            }
            if (p->_scan_in_request_line) {
                /* method SP request-target SP HTTP-version, single spaces (RFC 9112 §3). */
                if (c == '\t' || (c == ' ' && prev == ' '))
                    return scan_fail(p, i, prev, err, 400, "whitespace in request line");
                if (c == ' ') {
                    p->_scan_n_spaces++;
                } else if (p->_scan_n_spaces == 1 &&
                           ++p->_scan_target_len > p->limits.max_target_len) {
                    return scan_fail(p, i, prev, err, 414, "request target too long");
                }
            }
            line_start = false;
        }
        prev = c;
    }
    p->_scan_pos = i;
    p->_scan_prev = prev;
    p->_scan_line_start = line_start;
    return 0;
}

/* Runs llhttp over buf[pos..len). Returns the bytes consumed (fewer only when a request
 * completed) or HB_EPROTO. */
static int run_llhttp(struct hb_http_parser *p, const char *buf, size_t pos, size_t len)
{
    p->_base = buf;
    size_t at = pos;
    for (;;) {
        enum llhttp_errno e = llhttp_execute(&p->_ll, buf + at, len - at);
        if (e == HPE_OK)
            return (int)(len - pos);
        if (e == HPE_PAUSED || e == HPE_PAUSED_UPGRADE) {
            at = (size_t)(llhttp_get_error_pos(&p->_ll) - buf);
            if (e == HPE_PAUSED) {
                llhttp_resume(&p->_ll);
            } else {
                /* After an Upgrade or CONNECT request llhttp pauses before the next byte. This
                 * server answers such requests as plain HTTP (RFC 9110 §7.8 lets it ignore
                 * Upgrade), so what follows is parsed as the next request. */
                llhttp_resume_after_upgrade(&p->_ll);
            }
            if (p->is_complete || at >= len)
                return (int)(at - pos);
            continue;
        }
        if (p->error_status == 0) {
            /* A framing or syntax error found by llhttp. */
            p->error_status = 400;
            p->error_reason = llhttp_errno_name(e);
        }
        return HB_EPROTO;
    }
}

int hb_http_parser_execute(struct hb_http_parser *p, const char *buf, size_t pos, size_t len)
{
    struct scan_error scan = {0, NULL};
    if (p->error_status != 0)
        return HB_EPROTO;
    if (pos >= len)
        return 0;
    if (p->_scan_in_head) {
        if (p->_scan_pos < pos)
            p->_scan_pos = pos;
        (void)scan_head(p, buf, len, &scan);
        /* Feed llhttp only what the scanner has approved: up to the end of the head, or up to
         * the offending byte, so an error llhttp finds before it still wins, as it would have
         * with smaller reads. The answer never depends on how the input was split. */
        if (p->_scan_in_head)
            len = p->_scan_pos;
    }
    int n = pos < len ? run_llhttp(p, buf, pos, len) : 0;
    if (n < 0)
        return n;
    if (scan.status != 0) {
        fail(p, scan.status, scan.reason);
        return HB_EPROTO;
    }
    return n;
}

/* A server must accept the absolute-form "http://host/path" (RFC 9112 §3.2.2); routing uses its
 * path. Any other form is returned unchanged. */
static struct hb_str origin_path(struct hb_str target)
{
    size_t scheme_len;
    if (target.len >= 7 && strncasecmp(target.ptr, "http://", 7) == 0)
        scheme_len = 7;
    else if (target.len >= 8 && strncasecmp(target.ptr, "https://", 8) == 0)
        scheme_len = 8;
    else
        return target;
    const char *authority = target.ptr + scheme_len;
    const char *slash = memchr(authority, '/', target.len - scheme_len);
    if (slash == NULL)
        return HB_STR("/");
    return (struct hb_str){slash, (size_t)(target.ptr + target.len - slash)};
}

void hb_http_parser_fill(struct hb_http_parser *p, const char *buf, struct hb_http_request *req)
{
    const char *saved = p->_base;
    p->_base = buf;
    req->method_name = hb_str_from(llhttp_method_name((llhttp_method_t)p->_ll.method));
    req->method = hb_http_method_from_name(req->method_name);
    req->target = span_str(p, p->_url);
    const char *q = memchr(req->target.ptr, '?', req->target.len);
    if (q != NULL) {
        req->path = (struct hb_str){req->target.ptr, (size_t)(q - req->target.ptr)};
        req->query = (struct hb_str){q + 1, req->target.len - req->path.len - 1};
    } else {
        req->path = req->target;
        req->query = (struct hb_str){req->target.ptr + req->target.len, 0};
    }
    req->path = origin_path(req->path);
    req->version_minor = p->_ll.http_minor;
    req->keep_alive = llhttp_should_keep_alive(&p->_ll) != 0;
    req->is_upgrade = p->_ll.upgrade != 0;
    req->n_headers = p->_n_headers;
    for (int i = 0; i < p->_n_headers; i++) {
        req->headers[i].name = span_str(p, p->_names[i]);
        req->headers[i].value = hb_str_trim_ows(span_str(p, p->_values[i]));
    }
    req->body = (struct hb_str){p->body.data ? p->body.data : "", p->body.len};
    p->_base = saved;
}

void hb_http_parser_next(struct hb_http_parser *p, size_t next_start)
{
    p->_start = next_start;
    p->_scan_pos = next_start;
    p->_scan_prev = 0;
    p->_scan_in_head = true;
    p->_scan_line_start = true;
    p->_scan_in_request_line = false;
    p->_scan_n_spaces = 0;
    p->_scan_target_len = 0;
    p->has_started = false;
    p->headers_complete = false;
    p->is_complete = false;
    p->expect_continue = false;
}

void hb_http_parser_shift(struct hb_http_parser *p, size_t n)
{
    p->_start -= n;
    p->_scan_pos -= n;
    if (p->_url.len > 0)
        p->_url.off -= (uint32_t)n;
    for (int i = 0; i < p->_n_headers; i++) {
        p->_names[i].off -= (uint32_t)n;
        if (p->_values[i].off != UINT32_MAX)
            p->_values[i].off -= (uint32_t)n;
    }
    if (p->_has_crlf)
        p->_crlf_off -= (uint32_t)n;
}
