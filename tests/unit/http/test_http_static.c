/* SPDX-License-Identifier: MIT */
/* Unit tests for static files (http layer): the pure path resolver against every way out of the
 * root, then hb_http_static_serve() on a temporary directory: content types, cache headers,
 * validators and 304, precompressed variants and Accept-Encoding, fallbacks, symlinks. */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/err.h"
#include "http/http_static.h"
#include "unit.h"

static const char *resolve(const char *path)
{
    static char out[PATH_MAX];
    if (hb_http_static_resolve(path, strlen(path), out, sizeof(out)) != 0)
        return "(refused)";
    return out;
}

HB_TEST(http_static, resolve_plain_paths)
{
    ASSERT_EQ_STR(resolve("/"), "");
    ASSERT_EQ_STR(resolve("/index.html"), "index.html");
    ASSERT_EQ_STR(resolve("/assets/index-AbCdEf12.js"), "assets/index-AbCdEf12.js");
    ASSERT_EQ_STR(resolve("/assets/"), "assets");
    ASSERT_EQ_STR(resolve("/topic/3/"), "topic/3");
    ASSERT_EQ_STR(resolve("//assets//x.js"), "assets/x.js"); /* empty segments add nothing */
    ASSERT_EQ_STR(resolve("//"), "");
    ASSERT_EQ_STR(resolve("/a%20b.txt"), "a b.txt");
    ASSERT_EQ_STR(resolve("/%E3%81%82.txt"), "\xe3\x81\x82.txt");
    ASSERT_EQ_STR(resolve("/a..b"), "a..b"); /* not a dot segment */
    ASSERT_EQ_STR(resolve("/a./b.."), "a./b..");
    ASSERT_EQ_STR(resolve("/a%25b"), "a%b");
}

HB_TEST(http_static, resolve_refuses_dot_segments)
{
    static const char *const bad[] = {
        "/..",     "/../etc/passwd", "/a/../b",   "/a/..",       "/.",
        "/./a",    "/a/./b",         "/%2e%2e/x", "/%2E%2e/x",   "/.%2e/x",
        "/%2e./x", "/a/%2e%2e",      "/%2e",      "/%2e%2e%2fx", "/assets/../../etc/passwd",
        "/...",    "/a/.../b",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (strcmp(resolve(bad[i]), "(refused)") != 0)
            HB_FAIL_("'%s' resolved to '%s'", bad[i], resolve(bad[i]));
    }
}

HB_TEST(http_static, resolve_refuses_encoded_separators_nul_backslash)
{
    static const char *const bad[] = {
        "/%2F..",
        "/%2f..%2f..%2fetc/passwd",
        "/a%2Fb",
        "/a%5cb",
        "/a%5Cb",
        "/a\\b",
        "/..\\..\\etc\\passwd",
        "/%00",
        "/a%00.js",
        "/index.html%00.txt",
        "/a%",
        "/a%2",
        "/a%zz",
        "/a%g0",
        "",
        "a/b",
        "%2Fetc/passwd",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (strcmp(resolve(bad[i]), "(refused)") != 0)
            HB_FAIL_("'%s' resolved to '%s'", bad[i], resolve(bad[i]));
    }
    /* A raw NUL inside the slice. */
    char out[64];
    ASSERT_EQ_INT(hb_http_static_resolve("/a\0b", 4, out, sizeof(out)), HB_EINVAL);
}

HB_TEST(http_static, resolve_refuses_hidden_names)
{
    static const char *const bad[] = {"/.env",   "/.git/config", "/assets/.hidden",
                                      "/a/.b/c", "/%2eenv",      "/.well-known/x"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (strcmp(resolve(bad[i]), "(refused)") != 0)
            HB_FAIL_("'%s' resolved to '%s'", bad[i], resolve(bad[i]));
    }
}

HB_TEST(http_static, resolve_respects_the_output_size)
{
    char out[8];
    ASSERT_EQ_INT(hb_http_static_resolve("/abcdefg", 8, out, sizeof(out)), 0);
    ASSERT_EQ_STR(out, "abcdefg"); /* 7 bytes and the NUL: exactly full */
    ASSERT_EQ_INT(hb_http_static_resolve("/abcdefgh", 9, out, sizeof(out)), HB_EINVAL);
    ASSERT_EQ_INT(hb_http_static_resolve("/a/b/c/d", 8, out, sizeof(out)), 0);
    ASSERT_EQ_STR(out, "a/b/c/d");
    ASSERT_EQ_INT(hb_http_static_resolve("/", 1, out, 0), HB_EINVAL);
    ASSERT_EQ_INT(hb_http_static_resolve("/", 1, out, 1), 0);
    ASSERT_EQ_STR(out, "");
    static char longpath[PATH_MAX * 2];
    memset(longpath, 'a', sizeof(longpath) - 1);
    longpath[0] = '/';
    static char big[PATH_MAX];
    ASSERT_EQ_INT(hb_http_static_resolve(longpath, strlen(longpath), big, sizeof(big)), HB_EINVAL);
}

/* ---- serving from a temporary directory ---- */

static char root[64];

static void write_file(const char *rel, const char *content, time_t mtime)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", root, rel);
    FILE *f = fopen(path, "wb");
    ASSERT(f != NULL);
    fputs(content, f);
    fclose(f);
    if (mtime != 0) {
        struct timespec ts[2] = {{mtime, 0}, {mtime, 0}};
        ASSERT(utimensat(AT_FDCWD, path, ts, 0) == 0);
    }
}

static void make_tree(bool with_index)
{
    char path[PATH_MAX];
    snprintf(root, sizeof(root), "/tmp/hb-static-XXXXXX");
    ASSERT(mkdtemp(root) != NULL);
    snprintf(path, sizeof(path), "%s/assets", root);
    ASSERT(mkdir(path, 0755) == 0);
    if (with_index)
        write_file("index.html", "<!doctype html><title>app</title>", 1700000000);
    write_file("assets/index-AbCdEf12.js", "console.log(1)", 1700000000);
    write_file("assets/index-AbCdEf12.js.gz", "GZIPPED", 1700000001);
    write_file("assets/app.css", "body{}", 0);
    write_file("robots.txt", "User-agent: *", 0);
    write_file(".env", "SECRET=1", 0);
    snprintf(path, sizeof(path), "%s/etc", root);
    ASSERT(symlink("/etc", path) == 0);
    snprintf(path, sizeof(path), "%s/inside.txt", root);
    ASSERT(symlink("robots.txt", path) == 0);
    snprintf(path, sizeof(path), "%s/passwd", root);
    ASSERT(symlink("/etc/passwd", path) == 0);
}

static void remove_tree(void)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
    ASSERT(system(cmd) == 0);
}

struct served {
    struct hb_http_response res;
    char headers[4096];
    char body[4096];
};

static void serve(const struct hb_http_static *st, const char *path, const char *h1, const char *v1,
                  const char *h2, const char *v2, struct served *out)
{
    struct hb_http_request req;
    memset(&req, 0, sizeof(req));
    req.method = HB_HTTP_GET;
    req.path = hb_str_from(path);
    if (h1 != NULL)
        req.headers[req.n_headers++] = (struct hb_http_header){hb_str_from(h1), hb_str_from(v1)};
    if (h2 != NULL)
        req.headers[req.n_headers++] = (struct hb_http_header){hb_str_from(h2), hb_str_from(v2)};
    hb_http_response_init(&out->res);
    hb_http_static_serve(st, &req, &out->res);
    snprintf(out->headers, sizeof(out->headers), "%.*s", (int)out->res.headers.len,
             out->res.headers.data ? out->res.headers.data : "");
    struct hb_str body = out->res.static_body.ptr != NULL
                             ? out->res.static_body
                             : (struct hb_str){out->res.body.data, out->res.body.len};
    snprintf(out->body, sizeof(out->body), "%.*s", (int)body.len, body.ptr ? body.ptr : "");
    hb_http_response_release(&out->res);
}

/* The value of a header line in a served response, or "". */
static const char *header(const struct served *s, const char *name)
{
    static char value[512];
    char want[64];
    snprintf(want, sizeof(want), "%s: ", name);
    const char *p = strstr(s->headers, want);
    if (p == NULL)
        return "";
    p += strlen(want);
    size_t n = strcspn(p, "\r");
    snprintf(value, sizeof(value), "%.*s", (int)n, p);
    return value;
}

HB_TEST(http_static, content_types_and_cache_headers)
{
    struct hb_http_static *st;
    struct served s;
    make_tree(true);
    ASSERT_EQ_INT(hb_http_static_create(root, "default-src 'self'", &st), 0);

    serve(st, "/assets/index-AbCdEf12.js", NULL, NULL, NULL, NULL, &s);
    ASSERT_EQ_INT(s.res.status, 200);
    ASSERT_EQ_STR(s.res.content_type, "text/javascript; charset=utf-8");
    ASSERT_EQ_STR(s.body, "console.log(1)");
    ASSERT_EQ_STR(header(&s, "Cache-Control"), "public, max-age=31536000, immutable");
    ASSERT_EQ_STR(header(&s, "Content-Security-Policy"), "default-src 'self'");
    ASSERT_EQ_STR(header(&s, "Last-Modified"), "Tue, 14 Nov 2023 22:13:20 GMT");
    ASSERT_EQ_STR(header(&s, "Vary"), "Accept-Encoding");
    ASSERT(header(&s, "ETag")[0] == '"');
    ASSERT_EQ_STR(header(&s, "Content-Encoding"), "");

    serve(st, "/assets/app.css", NULL, NULL, NULL, NULL, &s);
    ASSERT_EQ_STR(s.res.content_type, "text/css; charset=utf-8");
    ASSERT_EQ_STR(header(&s, "Cache-Control"), "public, max-age=3600");
    serve(st, "/robots.txt", NULL, NULL, NULL, NULL, &s);
    ASSERT_EQ_STR(s.res.content_type, "text/plain; charset=utf-8");
    serve(st, "/index.html", NULL, NULL, NULL, NULL, &s);
    ASSERT_EQ_STR(s.res.content_type, "text/html; charset=utf-8");
    ASSERT_EQ_STR(header(&s, "Cache-Control"), "no-cache");
    hb_http_static_destroy(st);
    remove_tree();
}

HB_TEST(http_static, fallbacks_and_ways_out)
{
    struct hb_http_static *st;
    struct served s;
    make_tree(true);
    ASSERT_EQ_INT(hb_http_static_create(root, NULL, &st), 0);
    static const char *const to_index[] = {
        "/",
        "/topic/3/",
        "/rooms/1",
        "/assets/",
        "/.env",
        "/etc/passwd",
        "/passwd",
        "/etc",
        "/../etc/passwd",
        "/%2e%2e/passwd",
        "/a%00",
        "/%2F..%2Fetc",
        "/nonexistent.js",
    };
    for (size_t i = 0; i < sizeof(to_index) / sizeof(to_index[0]); i++) {
        serve(st, to_index[i], NULL, NULL, NULL, NULL, &s);
        ASSERT_EQ_INT(s.res.status, 200);
        if (strcmp(s.body, "<!doctype html><title>app</title>") != 0)
            HB_FAIL_("'%s' served '%s'", to_index[i], s.body);
        ASSERT_EQ_STR(header(&s, "Cache-Control"), "no-cache");
        ASSERT_EQ_STR(header(&s, "Content-Security-Policy"), "");
    }
    /* A symlink that stays inside the root is fine. */
    serve(st, "/inside.txt", NULL, NULL, NULL, NULL, &s);
    ASSERT_EQ_STR(s.body, "User-agent: *");
    hb_http_static_destroy(st);
    remove_tree();

    /* No index.html: the placeholder page. */
    make_tree(false);
    ASSERT_EQ_INT(hb_http_static_create(root, NULL, &st), 0);
    serve(st, "/topic/3/", NULL, NULL, NULL, NULL, &s);
    ASSERT_EQ_INT(s.res.status, 200);
    ASSERT_EQ_STR(s.res.content_type, "text/html; charset=utf-8");
    ASSERT(strstr(s.body, "hiroba") != NULL);
    hb_http_static_destroy(st);
    remove_tree();
    /* A root that does not exist yet is allowed (placeholder); an empty one is not. */
    ASSERT_EQ_INT(hb_http_static_create("/nonexistent/hiroba", NULL, &st), 0);
    serve(st, "/", NULL, NULL, NULL, NULL, &s);
    ASSERT(strstr(s.body, "hiroba") != NULL);
    hb_http_static_destroy(st);
    ASSERT_EQ_INT(hb_http_static_create("", NULL, &st), HB_EINVAL);
}

HB_TEST(http_static, validators_and_304)
{
    struct hb_http_static *st;
    struct served s;
    char etag[128], lm[128];
    make_tree(true);
    ASSERT_EQ_INT(hb_http_static_create(root, NULL, &st), 0);
    serve(st, "/assets/app.css", NULL, NULL, NULL, NULL, &s);
    snprintf(etag, sizeof(etag), "%s", header(&s, "ETag"));
    snprintf(lm, sizeof(lm), "%s", header(&s, "Last-Modified"));
    char weak[160], list[200];
    snprintf(weak, sizeof(weak), "W/%s", etag);
    snprintf(list, sizeof(list), "\"other\", %s", etag);

    const char *const match[] = {etag, weak, list, "*"};
    for (size_t i = 0; i < 4; i++) {
        serve(st, "/assets/app.css", "If-None-Match", match[i], NULL, NULL, &s);
        ASSERT_EQ_INT(s.res.status, 304);
        ASSERT_EQ_STR(s.body, "");
        ASSERT_EQ_STR(header(&s, "ETag"), etag);
        ASSERT(s.res.content_type == NULL);
    }
    serve(st, "/assets/app.css", "If-None-Match", "\"other\"", NULL, NULL, &s);
    ASSERT_EQ_INT(s.res.status, 200);
    serve(st, "/assets/app.css", "If-Modified-Since", lm, NULL, NULL, &s);
    ASSERT_EQ_INT(s.res.status, 304);
    serve(st, "/assets/app.css", "If-Modified-Since", "Sun, 06 Nov 1994 08:49:37 GMT", NULL, NULL,
          &s);
    ASSERT_EQ_INT(s.res.status, 200);
    serve(st, "/assets/app.css", "If-Modified-Since", "yesterday", NULL, NULL, &s);
    ASSERT_EQ_INT(s.res.status, 200);
    /* If-None-Match wins over If-Modified-Since (RFC 9110 §13.1.3). */
    serve(st, "/assets/app.css", "If-None-Match", "\"other\"", "If-Modified-Since", lm, &s);
    ASSERT_EQ_INT(s.res.status, 200);
    hb_http_static_destroy(st);
    remove_tree();
}

HB_TEST(http_static, precompressed_variants)
{
    struct hb_http_static *st;
    struct served s;
    char plain_etag[128];
    make_tree(true);
    ASSERT_EQ_INT(hb_http_static_create(root, NULL, &st), 0);
    const char *js = "/assets/index-AbCdEf12.js";
    serve(st, js, NULL, NULL, NULL, NULL, &s);
    ASSERT_EQ_STR(s.body, "console.log(1)");
    snprintf(plain_etag, sizeof(plain_etag), "%s", header(&s, "ETag"));

    static const char *const gzip_ok[] = {
        "gzip", "GZIP",         "gzip, deflate, br", "br;q=1, gzip;q=0.5", "x-gzip",
        "*",    "deflate,gzip", " gzip ; q=1.0",     "gzip;q=0.001"};
    for (size_t i = 0; i < sizeof(gzip_ok) / sizeof(gzip_ok[0]); i++) {
        serve(st, js, "Accept-Encoding", gzip_ok[i], NULL, NULL, &s);
        if (strcmp(s.body, "GZIPPED") != 0)
            HB_FAIL_("Accept-Encoding '%s' got '%s'", gzip_ok[i], s.body);
        ASSERT_EQ_STR(header(&s, "Content-Encoding"), "gzip");
        ASSERT_EQ_STR(s.res.content_type, "text/javascript; charset=utf-8");
        ASSERT_EQ_STR(header(&s, "Vary"), "Accept-Encoding");
        /* Two representations, two entity tags. */
        ASSERT(strcmp(header(&s, "ETag"), plain_etag) != 0);
    }
    static const char *const gzip_no[] = {
        "",          "identity",     "deflate, br",         "gzip;q=0",
        "gzip; q=0", "gzip;q=0.000", "br, gzip;q=0, *;q=0", "gzipx",
        "xgzip",     "*;q=0"};
    for (size_t i = 0; i < sizeof(gzip_no) / sizeof(gzip_no[0]); i++) {
        serve(st, js, "Accept-Encoding", gzip_no[i], NULL, NULL, &s);
        if (strcmp(s.body, "console.log(1)") != 0)
            HB_FAIL_("Accept-Encoding '%s' got '%s'", gzip_no[i], s.body);
        ASSERT_EQ_STR(header(&s, "Content-Encoding"), "");
        ASSERT_EQ_STR(header(&s, "ETag"), plain_etag);
    }
    /* The .gz file itself is not a way around anything, and 304 follows the variant's tag. */
    serve(st, js, "Accept-Encoding", "gzip", NULL, NULL, &s);
    char gz_etag[128];
    snprintf(gz_etag, sizeof(gz_etag), "%s", header(&s, "ETag"));
    serve(st, js, "Accept-Encoding", "gzip", "If-None-Match", gz_etag, &s);
    ASSERT_EQ_INT(s.res.status, 304);
    ASSERT_EQ_STR(header(&s, "Content-Encoding"), "gzip");
    serve(st, js, "If-None-Match", gz_etag, NULL, NULL, &s);
    ASSERT_EQ_INT(s.res.status, 200);
    /* No .gz sibling: identity even when gzip is accepted. */
    serve(st, "/assets/app.css", "Accept-Encoding", "gzip", NULL, NULL, &s);
    ASSERT_EQ_STR(s.body, "body{}");
    ASSERT_EQ_STR(header(&s, "Content-Encoding"), "");
    hb_http_static_destroy(st);
    remove_tree();
}

HB_TEST(http_static, hashed_names_get_immutable_caching)
{
    static const char *const hashed[] = {"assets/index-AbCdEf12.js", "assets/index-D-x3_aQ1.js",
                                         "assets/vendor-12345678.css", "x-AbCdEf12.js.map",
                                         "logo-aB3_-xYz.svg"};
    static const char *const plain[] = {"assets/app.css",   "assets/react-dom.js",
                                        "some-abcdefgh.js", "assets/index-AbCdEf1.js",
                                        "index-AbCdEf12",   "assets/index-AbCd+f12.js"};
    struct hb_http_static *st;
    struct served s;
    make_tree(true);
    ASSERT_EQ_INT(hb_http_static_create(root, NULL, &st), 0);
    for (int pass = 0; pass < 2; pass++) {
        const char *const *names = pass == 0 ? hashed : plain;
        size_t n =
            pass == 0 ? sizeof(hashed) / sizeof(hashed[0]) : sizeof(plain) / sizeof(plain[0]);
        for (size_t i = 0; i < n; i++) {
            char path[256];
            snprintf(path, sizeof(path), "%s/%s", root, names[i]);
            FILE *f = fopen(path, "wb");
            ASSERT(f != NULL);
            fputs("x", f);
            fclose(f);
            snprintf(path, sizeof(path), "/%s", names[i]);
            serve(st, path, NULL, NULL, NULL, NULL, &s);
            ASSERT_EQ_STR(s.body, "x");
            const char *want =
                pass == 0 ? "public, max-age=31536000, immutable" : "public, max-age=3600";
            if (strcmp(header(&s, "Cache-Control"), want) != 0)
                HB_FAIL_("'%s': Cache-Control '%s'", names[i], header(&s, "Cache-Control"));
        }
    }
    hb_http_static_destroy(st);
    remove_tree();
}
