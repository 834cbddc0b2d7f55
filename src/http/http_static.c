/* SPDX-License-Identifier: MIT */
/* Static file serving (http layer). Files are read on the loop: SPA assets are small and hot in
 * the page cache, so a read costs microseconds; a slow-disk deployment should put a cache or a
 * CDN in front. Symlinks are allowed only while their target stays inside the root. */
#include "http/http_static.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/err.h"
#include "core/str.h"

/* Well under the connection's output cap (net.c OUT_MAX), so a whole file always fits. */
#define MAX_FILE_LEN (32u * 1024 * 1024)

struct hb_http_static {
    char *root; /* as configured */
    const char *csp;
};

static const char placeholder[] =
    "<!doctype html>\n<html lang=\"ja\"><head><meta charset=\"utf-8\">"
    "<title>hiroba</title></head><body><h1>hiroba 広場</h1>"
    "<p>The server is running. The web app is not built yet: run <code>make build</code>.</p>"
    "<p>API: <a href=\"/api/\">/api/</a> &middot; <a href=\"/hello/\">/hello/</a></p>"
    "</body></html>\n";

int hb_http_static_create(const char *root, const char *csp, struct hb_http_static **out)
{
    if (root == NULL || root[0] == '\0')
        return HB_EINVAL;
    struct hb_http_static *st = hb_xcalloc(1, sizeof(*st));
    st->root = hb_xstrdup(root);
    st->csp = csp;
    *out = st;
    return 0;
}

void hb_http_static_destroy(struct hb_http_static *st)
{
    if (st == NULL)
        return;
    free(st->root);
    free(st);
}

int hb_http_static_resolve(const char *path, size_t path_len, char *out, size_t out_len)
{
    size_t n = 0;
    size_t seg_start = 0;

    if (path_len == 0 || path[0] != '/' || out_len == 0)
        return HB_EINVAL;
    for (size_t i = 1; i <= path_len; i++) {
        char c = i < path_len ? path[i] : '/';
        if (c == '%') {
            int hi = i + 1 < path_len ? hb_hex_digit(path[i + 1]) : -1;
            int lo = i + 2 < path_len ? hb_hex_digit(path[i + 2]) : -1;
            if (hi < 0 || lo < 0)
                return HB_EINVAL;
            c = (char)(hi * 16 + lo);
            i += 2;
            /* An encoded separator or NUL would let one segment act as several. */
            if (c == '/' || c == '\\' || c == '\0')
                return HB_EINVAL;
        } else if (c == '/') {
            size_t seg_len = n - seg_start;
            if (seg_len == 0) {
                continue; /* "//" and the trailing slash add nothing */
            }
            /* Dot segments and hidden names ("..", ".", ".env") never name a servable file. */
            if (out[seg_start] == '.')
                return HB_EINVAL;
            if (i < path_len) {
                if (n + 1 >= out_len)
                    return HB_EINVAL;
                out[n++] = '/';
                seg_start = n;
            }
            continue;
        } else if (c == '\\' || c == '\0') {
            return HB_EINVAL;
        }
        if (n + 1 >= out_len)
            return HB_EINVAL;
        out[n++] = c;
    }
    /* A trailing '/' may have been appended before the last empty segment. */
    while (n > 0 && out[n - 1] == '/')
        n--;
    out[n] = '\0';
    return 0;
}

static const char *content_type(const char *name)
{
    static const struct {
        const char *ext;
        const char *type;
    } types[] = {
        {".html", "text/html; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".mjs", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".json", "application/json"},
        {".map", "application/json"},
        {".svg", "image/svg+xml"},
        {".png", "image/png"},
        {".jpg", "image/jpeg"},
        {".jpeg", "image/jpeg"},
        {".gif", "image/gif"},
        {".webp", "image/webp"},
        {".ico", "image/x-icon"},
        {".woff", "font/woff"},
        {".woff2", "font/woff2"},
        {".txt", "text/plain; charset=utf-8"},
        {".wasm", "application/wasm"},
        {".webmanifest", "application/manifest+json"},
    };
    const char *dot = strrchr(name, '.');
    if (dot != NULL && strchr(dot, '/') == NULL) {
        for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
            if (strcasecmp(dot, types[i].ext) == 0)
                return types[i].type;
        }
    }
    return "application/octet-stream";
}

/* Vite names built assets "[name]-[hash][ext]" with an 8-character base64url hash, which may
 * itself hold '-' or '_'. The hash must not be all lower-case letters, so plain names such as
 * "some-abcdefgh.js" are not mistaken for hashed ones (a real hash looks like that 0.07% of the
 * time, and then merely gets the short cache lifetime). */
static bool is_hashed(const char *name)
{
    const char *base = strrchr(name, '/');
    base = base ? base + 1 : name;
    size_t stem = strcspn(base, ".");
    if (stem < 10 || base[stem] != '.' || base[stem - 9] != '-')
        return false;
    bool is_plain_word = true;
    for (size_t i = stem - 8; i < stem; i++) {
        char c = base[i];
        bool is_lower = c >= 'a' && c <= 'z';
        if (!(is_lower || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_'))
            return false;
        if (!is_lower)
            is_plain_word = false;
    }
    return !is_plain_word;
}

/* A qvalue in thousandths (RFC 9110 §12.4.2), or -1 when malformed. */
static int parse_qvalue(struct hb_str v)
{
    if (v.len == 0 || (v.ptr[0] != '0' && v.ptr[0] != '1') || v.len > 5 ||
        (v.len > 1 && v.ptr[1] != '.'))
        return -1;
    int q = (v.ptr[0] - '0') * 1000, scale = 100;
    for (size_t i = 2; i < v.len; i++, scale /= 10) {
        if (v.ptr[i] < '0' || v.ptr[i] > '9')
            return -1;
        q += (v.ptr[i] - '0') * scale;
    }
    return q <= 1000 ? q : -1;
}

/* Accept-Encoding (RFC 9110 §12.5.3): gzip, its alias x-gzip, or "*" with a non-zero weight.
 * An explicit gzip entry wins over "*"; a malformed weight counts as 0. No header: identity
 * (as nginx's gzip_static). */
static bool accepts_gzip(const struct hb_http_request *req)
{
    struct hb_str ae = hb_http_request_header(req, "accept-encoding");
    int gzip_q = -1, star_q = -1;
    size_t i = 0;
    while (i < ae.len) {
        size_t end = i;
        while (end < ae.len && ae.ptr[end] != ',')
            end++;
        struct hb_str item = {ae.ptr + i, end - i};
        i = end + 1;
        const char *semi = memchr(item.ptr, ';', item.len);
        struct hb_str coding =
            hb_str_trim_ows((struct hb_str){item.ptr, semi ? (size_t)(semi - item.ptr) : item.len});
        int q = 1000;
        while (semi != NULL) {
            const char *param = semi + 1;
            size_t left = item.len - (size_t)(param - item.ptr);
            semi = memchr(param, ';', left);
            struct hb_str kv = {param, semi ? (size_t)(semi - param) : left};
            const char *eq = memchr(kv.ptr, '=', kv.len);
            if (eq == NULL)
                continue;
            struct hb_str name = hb_str_trim_ows((struct hb_str){kv.ptr, (size_t)(eq - kv.ptr)});
            struct hb_str value =
                hb_str_trim_ows((struct hb_str){eq + 1, kv.len - (size_t)(eq + 1 - kv.ptr)});
            if (hb_str_ieq(name, HB_STR("q"))) {
                q = parse_qvalue(value);
                if (q < 0)
                    q = 0;
            }
        }
        if (hb_str_ieq(coding, HB_STR("gzip")) || hb_str_ieq(coding, HB_STR("x-gzip"))) {
            if (q > gzip_q)
                gzip_q = q;
        } else if (hb_str_eq(coding, HB_STR("*"))) {
            star_q = q;
        }
    }
    return gzip_q >= 0 ? gzip_q > 0 : star_q > 0;
}

/* Opens root/rel as a regular file whose real path stays inside the root. */
static int open_inside(const char *root, const char *rel, struct stat *st)
{
    char path[PATH_MAX], real[PATH_MAX], real_root[PATH_MAX];
    if (snprintf(path, sizeof(path), "%s/%s", root, rel) >= (int)sizeof(path))
        return -1;
    if (realpath(root, real_root) == NULL || realpath(path, real) == NULL)
        return -1;
    size_t rl = strlen(real_root);
    if (strncmp(real, real_root, rl) != 0 || (real[rl] != '/' && real[rl] != '\0'))
        return -1;
    int fd = open(real, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    if (fstat(fd, st) != 0 || !S_ISREG(st->st_mode) || st->st_size > (off_t)MAX_FILE_LEN) {
        close(fd);
        return -1;
    }
    return fd;
}

static int read_all(int fd, struct hb_buf *body, size_t len)
{
    if (hb_buf_reserve(body, len) < 0)
        return -1;
    size_t got = 0;
    while (got < len) {
        ssize_t n = read(fd, body->data + body->len + got, len - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        got += (size_t)n;
    }
    body->len += got;
    body->data[body->len] = '\0';
    return 0;
}

static void http_date(time_t t, char *out, size_t len)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, len, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

static time_t parse_http_date(struct hb_str s)
{
    char tmp[64];
    struct tm tm;
    if (s.len == 0 || s.len >= sizeof(tmp))
        return (time_t)-1;
    memcpy(tmp, s.ptr, s.len);
    tmp[s.len] = '\0';
    memset(&tm, 0, sizeof(tm));
    const char *end = strptime(tmp, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    if (end == NULL || *end != '\0')
        return (time_t)-1;
    return timegm(&tm);
}

/* If-None-Match: "*" or a comma-separated list of entity tags, compared weakly (a W/ prefix is
 * ignored on either side). */
static bool etag_matches(struct hb_str inm, const char *etag)
{
    size_t el = strlen(etag);
    size_t i = 0;
    while (i < inm.len) {
        size_t end = i;
        while (end < inm.len && inm.ptr[end] != ',')
            end++;
        struct hb_str tag = hb_str_trim_ows((struct hb_str){inm.ptr + i, end - i});
        i = end + 1;
        if (hb_str_eq(tag, HB_STR("*")))
            return true;
        if (tag.len >= 2 && tag.ptr[0] == 'W' && tag.ptr[1] == '/') {
            tag.ptr += 2;
            tag.len -= 2;
        }
        if (tag.len == el && memcmp(tag.ptr, etag, el) == 0)
            return true;
    }
    return false;
}

void hb_http_static_serve(const struct hb_http_static *st, struct hb_http_request *req,
                          struct hb_http_response *res)
{
    char rel[PATH_MAX];
    struct stat sb;
    int fd = -1;
    const char *name = rel;

    if (st->csp != NULL)
        hb_http_response_header(res, "Content-Security-Policy", st->csp);
    if (hb_http_static_resolve(req->path.ptr, req->path.len, rel, sizeof(rel)) == 0 &&
        rel[0] != '\0')
        fd = open_inside(st->root, rel, &sb);
    if (fd < 0) {
        /* Client routes (/topic/3/) reload into the app. */
        name = "index.html";
        fd = open_inside(st->root, name, &sb);
    }
    if (fd < 0) {
        res->status = 200;
        res->content_type = "text/html; charset=utf-8";
        res->static_body = (struct hb_str){placeholder, sizeof(placeholder) - 1};
        hb_http_response_header(res, "Cache-Control", "no-cache");
        return;
    }

    int is_index = strcmp(name, "index.html") == 0 || strstr(name, ".html") != NULL;
    hb_http_response_header(res, "Cache-Control",
                            is_index          ? "no-cache"
                            : is_hashed(name) ? "public, max-age=31536000, immutable"
                                              : "public, max-age=3600");

    /* Pick the representation first: each has its own validators (RFC 9110 §8.8.3). */
    bool is_gzip = false;
    if (accepts_gzip(req)) {
        char gz[PATH_MAX];
        struct stat gsb;
        if (snprintf(gz, sizeof(gz), "%s.gz", name) < (int)sizeof(gz)) {
            int gfd = open_inside(st->root, gz, &gsb);
            if (gfd >= 0) {
                close(fd);
                fd = gfd;
                sb = gsb;
                is_gzip = true;
            }
        }
    }
    char etag[80], last_modified[64];
    snprintf(etag, sizeof(etag), "\"%llx-%llx%s\"", (unsigned long long)sb.st_size,
             (unsigned long long)sb.st_mtim.tv_sec * 1000000000ull +
                 (unsigned long long)sb.st_mtim.tv_nsec,
             is_gzip ? "-gz" : "");
    http_date(sb.st_mtime, last_modified, sizeof(last_modified));
    hb_http_response_header(res, "ETag", etag);
    hb_http_response_header(res, "Last-Modified", last_modified);
    hb_http_response_header(res, "Vary", "Accept-Encoding");
    if (is_gzip)
        hb_http_response_header(res, "Content-Encoding", "gzip");

    struct hb_str inm = hb_http_request_header(req, "if-none-match");
    struct hb_str ims = hb_http_request_header(req, "if-modified-since");
    bool not_modified = false;
    if (inm.ptr != NULL) {
        /* A list of tags, or "*"; weak comparison (RFC 9110 §13.1.2). */
        not_modified = etag_matches(inm, etag);
    } else if (ims.ptr != NULL) {
        time_t since = parse_http_date(ims);
        not_modified = since != (time_t)-1 && sb.st_mtime <= since;
    }
    if (not_modified) {
        close(fd);
        res->status = 304;
        return;
    }

    res->status = 200;
    res->content_type = content_type(name);
    if (read_all(fd, &res->body, (size_t)sb.st_size) < 0) {
        hb_buf_reset(&res->body);
        hb_http_response_detail(res, 500, "サーバエラーが発生しました。");
    }
    res->static_body = HB_STR_NULL;
    close(fd);
}
