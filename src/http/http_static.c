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

#define MAX_FILE_LEN (64u * 1024 * 1024)

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

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int hb_http_static_resolve(const char *path, size_t path_len, char *out, size_t out_len)
{
    size_t n = 0;
    size_t seg_start = 0;

    if (path_len == 0 || path[0] != '/')
        return HB_EINVAL;
    for (size_t i = 1; i <= path_len; i++) {
        char c = i < path_len ? path[i] : '/';
        if (c == '%') {
            int hi = i + 1 < path_len ? hexval(path[i + 1]) : -1;
            int lo = i + 2 < path_len ? hexval(path[i + 2]) : -1;
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

/* Vite names built assets name-<hash>.ext, with a hash of 8 or more [A-Za-z0-9_-]. */
static int is_hashed(const char *name)
{
    const char *base = strrchr(name, '/');
    base = base ? base + 1 : name;
    const char *dot = strrchr(base, '.');
    if (dot == NULL)
        return 0;
    const char *p = dot;
    int n = 0;
    while (p > base && (p[-1] == '_' || (p[-1] >= '0' && p[-1] <= '9') ||
                        (p[-1] >= 'a' && p[-1] <= 'z') || (p[-1] >= 'A' && p[-1] <= 'Z'))) {
        p--;
        n++;
    }
    return n >= 8 && p > base && (p[-1] == '-' || p[-1] == '.');
}

static int accepts_gzip(const struct hb_http_request *req)
{
    struct hb_str ae = hb_http_request_header(req, "accept-encoding");
    for (size_t i = 0; i + 4 <= ae.len; i++) {
        if (strncasecmp(ae.ptr + i, "gzip", 4) != 0)
            continue;
        /* "gzip;q=0" refuses it. */
        size_t j = i + 4;
        while (j < ae.len && ae.ptr[j] == ' ')
            j++;
        if (j + 3 < ae.len && ae.ptr[j] == ';' && strncmp(ae.ptr + j + 1, "q=0", 3) == 0 &&
            (j + 4 >= ae.len || ae.ptr[j + 4] == ',' || ae.ptr[j + 4] == ' ' ||
             (ae.ptr[j + 4] == '.' && strspn(ae.ptr + j + 5, "0") >= ae.len - j - 5)))
            return 0;
        return 1;
    }
    return 0;
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
    char etag[64], last_modified[64];
    snprintf(etag, sizeof(etag), "\"%llx-%llx\"", (unsigned long long)sb.st_size,
             (unsigned long long)sb.st_mtim.tv_sec * 1000000000ull +
                 (unsigned long long)sb.st_mtim.tv_nsec);
    http_date(sb.st_mtime, last_modified, sizeof(last_modified));
    hb_http_response_header(res, "ETag", etag);
    hb_http_response_header(res, "Last-Modified", last_modified);
    hb_http_response_header(res, "Vary", "Accept-Encoding");

    struct hb_str inm = hb_http_request_header(req, "if-none-match");
    struct hb_str ims = hb_http_request_header(req, "if-modified-since");
    bool not_modified = false;
    if (inm.ptr != NULL) {
        /* A list of tags, or "*"; weak comparison (RFC 9110 §13.1.2). */
        size_t el = strlen(etag);
        for (size_t i = 0; i < inm.len && !not_modified; i++) {
            if (inm.ptr[i] == '*' || (i + el <= inm.len && memcmp(inm.ptr + i, etag, el) == 0))
                not_modified = true;
        }
    } else if (ims.ptr != NULL) {
        time_t since = parse_http_date(ims);
        not_modified = since != (time_t)-1 && sb.st_mtime <= since;
    }
    if (not_modified) {
        close(fd);
        res->status = 304;
        return;
    }

    if (accepts_gzip(req)) {
        char gz[PATH_MAX];
        struct stat gsb;
        if (snprintf(gz, sizeof(gz), "%s.gz", name) < (int)sizeof(gz)) {
            int gfd = open_inside(st->root, gz, &gsb);
            if (gfd >= 0) {
                close(fd);
                fd = gfd;
                sb = gsb;
                hb_http_response_header(res, "Content-Encoding", "gzip");
            }
        }
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
