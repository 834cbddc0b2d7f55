/* SPDX-License-Identifier: MIT */
/* `hiroba bench ws` (bench layer): chat load over WebSocket on one libuv loop. The run has four
 * phases: connect (a ramp of at most MAX_HANDSHAKES upgrades in flight), send (a per-socket
 * timer on a fixed schedule, spread so that sockets do not fire together), drain (until every
 * expected delivery arrived or the drain time passed) and close. Setup over REST is blocking
 * and happens before the loop starts. Every socket embeds its client_conn and two write
 * buffers (one in the kernel's hands, one filling), so a slow socket never blocks others. */
#include "bench/bench_ws.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include <uv.h>

#include "bench/bench_internal.h"
#include "bench/bench_report.h"
#include "bench/bench_run.h"
#include "bench/bench_stats.h"
#include "client/client_conn.h"
#include "client/client_sync.h"
#include "client/client_url.h"
#include "client/http_client.h"
#include "core/alloc.h"
#include "core/arena.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/err.h"
#include "json/json.h"

#define NS_PER_S       1000000000ull
#define NS_PER_MS      1000000ull
#define MAX_HANDSHAKES 64 /* upgrades in flight during the ramp */
#define MAX_ATTEMPTS   5  /* connects per socket before it gives up */
#define READ_BUF_LEN   ((size_t)64 * 1024)
#define MAX_FRAME_LEN  ((size_t)1 << 20)
#define MAX_OUT_LEN    ((size_t)4 << 20)
#define MAX_RESP_LEN   ((size_t)16 << 20)
#define MAX_ROOMS      10000
#define MAX_CLIENTS    100000
#define MAX_LOOPS      64
#define MAX_URLS       16 /* instances one run spreads its sockets over */
#define TICK_MS        10

static const char usage[] =
    "usage: hiroba bench ws [options] URL [URL...]\n"
    "\n"
    "WebSocket chat load: logs in once, creates the rooms bench-1..bench-R if needed, opens C\n"
    "chat sockets over them (with a ramp), and has each send messages at a fixed rate. Every\n"
    "socket of a room receives every message of the room; the report gives deliveries/s, the\n"
    "send-to-delivery latency percentiles, drops (expected deliveries that never came) and\n"
    "errors. URL is the server's base, e.g. http://127.0.0.1:8000, and must be loopback unless\n"
    "--allow-remote is given. Several URLs (instances of one site, up to 16) share the sockets\n"
    "round-robin within each room, so a room's members sit on different instances; login and\n"
    "room creation go through the first URL.\n"
    "\n"
    "options:\n"
    "  -c, --connections N    chat sockets (default 50)\n"
    "      --rooms N          rooms, sockets spread round-robin (default 1)\n"
    "  -R, --rate R           messages/s per socket (default 1; 0 holds idle sockets)\n"
    "  -l, --loops N          client event loops, each on its own thread with an equal share\n"
    "                         of the sockets (default 1); results are merged\n"
    "  -d, --duration T       sending time: 500ms, 10s, 2m (default 10s)\n"
    "      --drain T          wait at most T for late deliveries (default 2s)\n"
    "      --timeout T        per REST call and for the connect phase (default 10s)\n"
    "      --time-limit T     cap on the whole run (default 300s)\n"
    "      --username NAME    account to log in with, registered if needed (default bench)\n"
    "      --password PASS    its password (default bench-password-0123)\n"
    "      --server-pid PID[,PID...]\n"
    "                         also report the CPU time (user + system) the process PID used\n"
    "                         from the start of sending until the run closed, from\n"
    "                         /proc/PID/stat (a server on this machine); several PIDs are\n"
    "                         summed (the instances of a multi-URL run)\n"
    "      --json             print one JSON object instead of the text report\n"
    "  -q, --quiet            no progress lines on stderr\n"
    "      --allow-remote     allow a target that is not loopback\n"
    "  -h, --help             show this help\n"
    "\n"
    "exit status: 0 every delivery arrived, 1 drops or failures (see stderr), 2 bad usage\n";

struct options {
    int n_clients, n_rooms, n_loops;
    int server_pids[MAX_URLS];
    int n_server_pids; /* 0: no CPU report */
    double rate;
    uint64_t duration_ns, drain_ns, timeout_ns, time_limit_ns;
    const char *username, *password;
    const char *url; /* urls[0]: the one REST setup goes through */
    const char *urls[MAX_URLS];
    int n_urls;
    bool is_json, is_quiet, allow_remote;
};

enum sock_state { SOCK_IDLE, SOCK_CONNECTING, SOCK_OPEN, SOCK_DONE };

enum phase { PHASE_CONNECT, PHASE_SEND, PHASE_DRAIN, PHASE_CLOSE };

struct bench;

struct sock {
    struct hb_client_conn conn;
    uv_timer_t timer; /* the send schedule, or the reconnect backoff */
    struct bench *b;
    int index, room;
    int target; /* which URL (struct target) the socket connects to */
    enum sock_state state;
    int attempts;
    bool is_upgraded;
    struct hb_http_client http;
    struct hb_buf in;  /* unparsed frame bytes */
    struct hb_buf msg; /* a fragmented message being reassembled */
    struct hb_buf out[2];
    int out_busy; /* index of the buffer the kernel holds, while conn.is_writing */
    uint64_t seq;
    uint64_t offset_ns; /* this socket's place in the schedule */
};

/* What the loops share. Sockets of one room may live on different loops, so a message's
 * expected deliveries (the room's open sockets) and the drain condition (every expected delivery
 * arrived, whichever loop received it) are global: room_open is updated atomically on open and
 * close only, and the per-delivery counters stay loop-local and are published on each tick. */
/* One base URL: where its sockets connect. */
struct target {
    struct sockaddr_storage addr;
    socklen_t addr_len;
    char peer[80];
};

struct shared {
    const struct options *o;
    struct target targets[MAX_URLS];
    struct hb_buf *upgrade; /* one pre-built upgrade request per URL and room: [url][room] */
    _Atomic int *room_open; /* open sockets per room, over every loop */
    _Atomic int n_settled;  /* sockets that opened, or failed before opening */
    _Atomic int n_open;
    _Atomic int n_draining;         /* loops whose sending is over and published */
    _Atomic uint64_t send_start_ns; /* 0 until every socket settled */
    uint64_t start_ns, deadline_ns;
    /* --server-pid: its CPU seconds at the start of sending and when the first loop closed. */
    double cpu_start_s, cpu_end_s;
    uint64_t cpu_end_ns;
    _Atomic bool is_cpu_sampled;
    struct bench *loops;
};

struct bench {
    const struct options *o;
    struct shared *sh;
    int id;
    uv_loop_t loop;
    uv_timer_t tick;
    char *read_buf;
    struct sock *socks; /* this loop's share: the sockets first .. first + n_socks - 1 */
    int first, n_socks;
    enum phase phase;
    int next_to_open, n_handshaking, n_open, n_failed, n_open_peak;
    int n_settled; /* this loop's sockets that opened, or failed before opening */
    uint64_t connect_ns, send_start_ns, send_end_ns, drain_end_ns;
    uint64_t last_delivery_ns;
    uint64_t last_progress_ns;
    uint64_t n_sent, n_expected, n_delivered, n_foreign, n_closed_by_server;
    _Atomic uint64_t pub_expected, pub_delivered; /* the counters as of the last tick */
    uint32_t rng;
    struct hb_bench_stats stats;
};

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...)
{
    va_list ap;
    fputs("hiroba bench ws: ", stderr);
    va_start(ap, fmt);
    /* NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized): clang 14 false positive */
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs(" (see 'hiroba bench ws --help')\n", stderr);
    return 2;
}

static int fail_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int fail_line(const char *fmt, ...)
{
    va_list ap;
    fputs("hiroba bench ws: ", stderr);
    va_start(ap, fmt);
    /* NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized): clang 14 false positive */
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return 1;
}

static bool parse_int(const char *text, long min, long max, int *out)
{
    char *end;
    errno = 0;
    if (text[0] < '0' || text[0] > '9')
        return false;
    long v = strtol(text, &end, 10);
    if (*end == 'k' || *end == 'K') {
        v *= 1000;
        end++;
    }
    if (errno != 0 || *end != '\0' || v < min || v > max)
        return false;
    *out = (int)v;
    return true;
}

/* A duration of the shared syntax (hb_bench__parse_duration), at most a day. */
static bool parse_duration(const char *text, uint64_t *out_ns)
{
    return hb_bench__parse_duration(text, out_ns) && *out_ns <= 24ull * 3600 * 1000000000;
}

static bool is_opt(const char *name, const char *long_name, const char *short_name)
{
    return strcmp(name, long_name) == 0 || (short_name != NULL && strcmp(name, short_name) == 0);
}

/* "PID[,PID...]" into o->server_pids (at most MAX_URLS of them). */
static bool parse_pids(const char *text, struct options *o)
{
    char one[16];
    o->n_server_pids = 0;
    for (const char *p = text;; p++) {
        const char *comma = strchr(p, ',');
        size_t len = comma != NULL ? (size_t)(comma - p) : strlen(p);
        if (len == 0 || len >= sizeof(one) || o->n_server_pids == MAX_URLS)
            return false;
        memcpy(one, p, len);
        one[len] = '\0';
        if (!parse_int(one, 1, 1 << 30, &o->server_pids[o->n_server_pids++]))
            return false;
        if (comma == NULL)
            return true;
        p = comma;
    }
}

/* Returns 0, an exit code, or -1 for --help. */
static int parse_args(struct options *o, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (arg[0] != '-' || arg[1] == '\0') {
            if (o->n_urls == MAX_URLS)
                return usage_error("more than %d URLs", MAX_URLS);
            o->urls[o->n_urls++] = arg;
            o->url = o->urls[0];
            continue;
        }
        const char *name = arg;
        const char *val = NULL;
        char name_buf[32];
        const char *eq = strchr(arg, '=');
        if (arg[1] == '-' && eq != NULL && (size_t)(eq - arg) < sizeof(name_buf)) {
            memcpy(name_buf, arg, (size_t)(eq - arg));
            name_buf[eq - arg] = '\0';
            name = name_buf;
            val = eq + 1;
        }
        if (is_opt(name, "--help", "-h"))
            return -1;
        if (is_opt(name, "--json", NULL)) {
            o->is_json = true;
            continue;
        }
        if (is_opt(name, "--quiet", "-q")) {
            o->is_quiet = true;
            continue;
        }
        if (is_opt(name, "--allow-remote", NULL)) {
            o->allow_remote = true;
            continue;
        }
        if (val == NULL) {
            if (i + 1 >= argc)
                return usage_error("option '%s' needs a value or is unknown", arg);
            val = argv[++i];
        }
        if (is_opt(name, "--connections", "-c")) {
            if (!parse_int(val, 1, MAX_CLIENTS, &o->n_clients))
                return usage_error("bad --connections '%s': expected 1 to %d", val, MAX_CLIENTS);
        } else if (is_opt(name, "--loops", "-l")) {
            if (!parse_int(val, 1, MAX_LOOPS, &o->n_loops))
                return usage_error("bad --loops '%s': expected 1 to %d", val, MAX_LOOPS);
        } else if (is_opt(name, "--server-pid", NULL)) {
            if (!parse_pids(val, o))
                return usage_error("bad --server-pid '%s': expected process ids, comma-separated",
                                   val);
        } else if (is_opt(name, "--rooms", NULL)) {
            if (!parse_int(val, 1, MAX_ROOMS, &o->n_rooms))
                return usage_error("bad --rooms '%s': expected 1 to %d", val, MAX_ROOMS);
        } else if (is_opt(name, "--rate", "-R")) {
            char *end;
            o->rate = strtod(val, &end);
            if (end == val || *end != '\0' || !isfinite(o->rate) || o->rate < 0 || o->rate > 100000)
                return usage_error("bad --rate '%s': expected messages/s per socket", val);
        } else if (is_opt(name, "--duration", "-d")) {
            if (!parse_duration(val, &o->duration_ns))
                return usage_error("bad --duration '%s': expected e.g. 500ms, 10s, 2m", val);
        } else if (is_opt(name, "--drain", NULL)) {
            if (!parse_duration(val, &o->drain_ns))
                return usage_error("bad --drain '%s': expected e.g. 2s", val);
        } else if (is_opt(name, "--timeout", NULL)) {
            if (!parse_duration(val, &o->timeout_ns) || o->timeout_ns < NS_PER_MS)
                return usage_error("bad --timeout '%s': expected e.g. 2s, at least 1ms", val);
        } else if (is_opt(name, "--time-limit", NULL)) {
            if (!parse_duration(val, &o->time_limit_ns))
                return usage_error("bad --time-limit '%s': expected e.g. 60s", val);
        } else if (is_opt(name, "--username", NULL)) {
            o->username = val;
        } else if (is_opt(name, "--password", NULL)) {
            o->password = val;
        } else {
            return usage_error("unknown option '%s'", arg);
        }
    }
    return 0;
}

/* ---- Setup over REST: blocking, one connection per call. ---- */

struct rest {
    const struct options *o;
    struct sockaddr_storage *addr;
    socklen_t addr_len;
    const struct hb_client_url *url;
    const char *prefix; /* the URL's path without its final slash: "" for the root */
    char auth[2100];    /* "Authorization: Bearer ..." once logged in */
};

static void on_body(void *ctx, const char *at, size_t len)
{
    (void)hb_buf_append(ctx, at, len);
}

/* Sends one request and reads the whole response into *status and resp. Returns 0 or a
 * negative error (connect, send, timeout, HB_EPROTO). */
static int rest_call(struct rest *r, const char *method, const char *path, const char *body,
                     int *status, struct hb_buf *resp)
{
    char target[512];
    snprintf(target, sizeof(target), "%s%s", r->prefix, path);
    const char *headers[1] = {r->auth};
    struct hb_http_client_request req = {
        .method = method,
        .host = hb_str_from(r->url->host_header),
        .target = hb_str_from(target),
        .headers = headers,
        .n_headers = r->auth[0] != '\0' ? 1 : 0,
        .body = body != NULL ? hb_str_from(body) : hb_str_from(""),
        .has_body = body != NULL,
    };
    struct hb_buf out;
    hb_buf_init(&out, (size_t)1 << 20);
    int err = hb_http_client_format_request(&out, &req);
    if (err < 0) {
        hb_buf_release(&out);
        return err;
    }
    uint64_t timeout_ms = r->o->timeout_ns / NS_PER_MS;
    struct hb_client_sync c;
    hb_client_sync_init(&c);
    err = hb_client_sync_connect(&c, (const struct sockaddr *)r->addr, r->addr_len, timeout_ms);
    if (err == 0)
        err = hb_client_sync_send(&c, out.data, out.len);
    hb_buf_release(&out);
    struct hb_http_client http;
    hb_http_client_init(&http, strcmp(method, "HEAD") == 0);
    http.on_body = on_body;
    http.ctx = resp;
    hb_buf_reset(resp);
    char buf[16384];
    while (err == 0 && !http.is_complete) {
        ssize_t n = hb_client_sync_recv(&c, buf, sizeof(buf));
        if (n < 0) {
            err = (int)n;
        } else if (n == 0) {
            err = hb_http_client_finish(&http);
            if (err == 0 && !http.is_complete)
                err = HB_ECLOSED;
        } else {
            size_t off = 0;
            while (err == 0 && off < (size_t)n && !http.is_complete) {
                int used = hb_http_client_parse(&http, buf + off, (size_t)n - off);
                if (used < 0)
                    err = used;
                else
                    off += (size_t)used;
            }
        }
    }
    hb_client_sync_close(&c);
    if (err == 0)
        *status = http.status;
    return err;
}

/* The string member key of a JSON object in buf, copied into out (NUL-terminated). */
static bool json_get_string(const struct hb_buf *buf, const char *key, char *out, size_t out_len)
{
    struct hb_arena arena;
    hb_arena_init(&arena, 4096);
    const struct hb_json *root;
    bool ok = false;
    if (buf->len > 0 && hb_json_parse(&arena, buf->data, buf->len, &root, NULL) == 0 &&
        hb_json_is_object(root)) {
        const struct hb_json *v = hb_json_get(root, key);
        if (v != NULL && hb_json_is_string(v)) {
            struct hb_str s = hb_json_string(v);
            if (s.len < out_len) {
                memcpy(out, s.ptr, s.len);
                out[s.len] = '\0';
                ok = true;
            }
        }
    }
    hb_arena_release(&arena);
    return ok;
}

/* The "id" of the object in buf, or of the element of the array in buf (a list, or a page's
 * "results") whose "name" is name. Returns the id or -1. */
static int64_t json_find_id(const struct hb_buf *buf, const char *name)
{
    struct hb_arena arena;
    hb_arena_init(&arena, 65536);
    const struct hb_json *root;
    int64_t id = -1;
    if (buf->len == 0 || hb_json_parse(&arena, buf->data, buf->len, &root, NULL) < 0)
        goto out;
    if (name == NULL) {
        const struct hb_json *v = hb_json_is_object(root) ? hb_json_get(root, "id") : NULL;
        if (v == NULL || !hb_json_int64(v, &id))
            id = -1;
        goto out;
    }
    if (hb_json_is_object(root))
        root = hb_json_get(root, "results");
    if (root == NULL || !hb_json_is_array(root))
        goto out;
    for (const struct hb_json *e = hb_json_first(root); e != NULL; e = hb_json_next(e)) {
        const struct hb_json *n = hb_json_is_object(e) ? hb_json_get(e, "name") : NULL;
        const struct hb_json *v = hb_json_is_object(e) ? hb_json_get(e, "id") : NULL;
        if (n != NULL && v != NULL && hb_json_is_string(n) &&
            hb_str_eq_lit(hb_json_string(n), name) && hb_json_int64(v, &id))
            break;
        id = -1;
    }
out:
    hb_arena_release(&arena);
    return id;
}

/* Appends s as a JSON string (the inputs are user names and passwords: escape the basics). */
static void append_json_string(struct hb_buf *b, const char *s)
{
    hb_buf_append_char(b, '"');
    for (; *s != '\0'; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            hb_buf_printf(b, "\\%c", ch);
        else if (ch < 0x20)
            hb_buf_printf(b, "\\u%04x", ch);
        else
            hb_buf_append_char(b, (char)ch);
    }
    hb_buf_append_char(b, '"');
}

/* Logs in (registering first) and finds or creates the rooms. Returns 0 or an exit code after
 * printing one line. */
static int rest_setup(struct rest *r, char *token, size_t token_len, int64_t *room_ids)
{
    const struct options *o = r->o;
    struct hb_buf body, resp, list;
    hb_buf_init(&body, 65536);
    hb_buf_init(&resp, MAX_RESP_LEN);
    hb_buf_init(&list, MAX_RESP_LEN); /* before any goto out: it is released there */
    int status = 0, code = 0;

    hb_buf_append_str(&body, "{\"username\":");
    append_json_string(&body, o->username);
    hb_buf_append_str(&body, ",\"password\":");
    append_json_string(&body, o->password);
    size_t login_len = body.len;
    hb_buf_append_str(&body, ",\"password_confirm\":");
    append_json_string(&body, o->password);
    hb_buf_append_str(&body, "}");
    int err = rest_call(r, "POST", "/api/register/", body.data, &status, &resp);
    if (err < 0) {
        code = fail_line("connect to %s: %s", r->url->host_header, hb_bench__strerror(err));
        goto out;
    }
    if (status != 201 && status != 200 && status != 400) {
        code = fail_line("register '%s': HTTP %d from %s (is it a hiroba server?)", o->username,
                         status, r->url->host_header);
        goto out;
    }
    body.len = login_len;
    hb_buf_append_str(&body, "}");
    err = rest_call(r, "POST", "/api/token/", body.data, &status, &resp);
    if (err < 0) {
        code = fail_line("login: %s", hb_bench__strerror(err));
        goto out;
    }
    if (status != 200 || !json_get_string(&resp, "access", token, token_len)) {
        code = fail_line("login as '%s' failed: HTTP %d (wrong --password for an existing user?)",
                         o->username, status);
        goto out;
    }
    snprintf(r->auth, sizeof(r->auth), "Authorization: Bearer %s", token);

    bool has_list = false;
    for (int i = 0; i < o->n_rooms; i++) {
        char name[32];
        snprintf(name, sizeof(name), "bench-%d", i + 1);
        hb_buf_reset(&body);
        hb_buf_printf(&body, "{\"name\":\"%s\"}", name);
        err = rest_call(r, "POST", "/api/rooms/", body.data, &status, &resp);
        if (err < 0) {
            code = fail_line("create room '%s': %s", name, hb_bench__strerror(err));
            goto out;
        }
        if (status == 201) {
            room_ids[i] = json_find_id(&resp, NULL);
        } else if (status == 400) {
            /* The name is taken: read the list once and look the rooms up there. */
            if (!has_list) {
                err = rest_call(r, "GET", "/api/rooms/", NULL, &status, &list);
                if (err < 0 || status != 200) {
                    code = fail_line("list rooms: %s",
                                     err < 0 ? hb_bench__strerror(err) : "unexpected status");
                    goto out;
                }
                has_list = true;
            }
            room_ids[i] = json_find_id(&list, name);
        } else {
            code = fail_line("create room '%s': HTTP %d", name, status);
            goto out;
        }
        if (room_ids[i] < 0) {
            code = fail_line("create room '%s': no room id in the answer", name);
            goto out;
        }
    }
out:
    hb_buf_release(&list);
    hb_buf_release(&body);
    hb_buf_release(&resp);
    return code;
}

/* ---- The WebSocket client side. ---- */

static uint32_t next_rand(struct bench *b)
{
    /* xorshift32: mask keys need only be unpredictable to proxies, not to attackers. */
    uint32_t x = b->rng;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    b->rng = x;
    return x;
}

static void sock_close(struct sock *s);
static void maybe_start_sending(struct bench *b);

static void sock_error(struct sock *s, enum hb_bench_stats_err kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void sock_error(struct sock *s, enum hb_bench_stats_err kind, const char *fmt, ...)
{
    char text[160];
    va_list ap;
    va_start(ap, fmt);
    /* NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized): clang 14 false positive */
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    hb_bench_stats_error(&s->b->stats, kind, 1, "%s", text);
    sock_close(s);
}

static void flush(struct sock *s)
{
    if (s->conn.is_writing || !s->conn.is_connected)
        return;
    int idle = 1 - s->out_busy;
    if (s->out[idle].len == 0)
        return;
    s->out_busy = idle;
    int err = hb_client_conn_write(&s->conn, s->out[idle].data, s->out[idle].len);
    if (err < 0) {
        sock_error(s, HB_BENCH_STATS_ERR_WRITE, "write: %s", uv_strerror(err));
        return;
    }
    if (!s->conn.is_writing)
        hb_buf_reset(&s->out[idle]);
}

/* Queues one masked client frame (RFC 6455 §5.2, §5.3). */
static int send_frame(struct sock *s, int opcode, const char *payload, size_t len)
{
    /* out[out_busy] is the kernel's (or empty); new frames go to the other one. */
    struct hb_buf *out = &s->out[1 - s->out_busy];
    unsigned char head[14];
    size_t n = 0;
    head[n++] = (unsigned char)(0x80 | opcode);
    if (len < 126) {
        head[n++] = (unsigned char)(0x80 | len);
    } else if (len < 65536) {
        head[n++] = 0x80 | 126;
        head[n++] = (unsigned char)(len >> 8);
        head[n++] = (unsigned char)len;
    } else {
        head[n++] = 0x80 | 127;
        for (int i = 7; i >= 0; i--)
            head[n++] = (unsigned char)((uint64_t)len >> (8 * i));
    }
    uint32_t key = next_rand(s->b);
    unsigned char mask[4];
    memcpy(mask, &key, 4);
    memcpy(head + n, mask, 4);
    n += 4;
    if (hb_buf_reserve(out, n + len) < 0)
        return HB_ETOOLARGE;
    hb_buf_append(out, head, n);
    char *dst = out->data + out->len;
    for (size_t i = 0; i < len; i++)
        dst[i] = (char)(payload[i] ^ mask[i & 3]);
    out->len += len;
    flush(s);
    return 0;
}

/* The first character of the string value of "message" in data[0..len), or NULL. JSON allows
 * whitespace around the colon: hiroba writes compact JSON, but the Django stack's consumer
 * (json.dumps) writes "message": "...", and clients must only JSON-parse (API.md §6.5). */
static const char *find_message(const char *data, size_t len)
{
    static const char key[] = "\"message\"";
    const char *end = data + len;
    const char *p = memmem(data, len, key, sizeof(key) - 1);
    if (p == NULL)
        return NULL;
    p += sizeof(key) - 1;
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    if (p == end || *p++ != ':')
        return NULL;
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p < end && *p == '"' ? p + 1 : NULL;
}

/* A text message from the server: a seed chat frame {"id":..,"message":"i:seq:ns",...}. */
static void on_message(struct sock *s, const char *data, size_t len, uint64_t now)
{
    struct bench *b = s->b;
    const char *end = data + len;
    const char *p = find_message(data, len);
    unsigned long long parts[3] = {0, 0, 0};
    int n_parts = 0;
    if (p != NULL) {
        while (n_parts < 3 && p < end && *p >= '0' && *p <= '9') {
            unsigned long long v = 0;
            while (p < end && *p >= '0' && *p <= '9')
                v = v * 10 + (unsigned long long)(*p++ - '0');
            parts[n_parts++] = v;
            if (p < end && *p == ':')
                p++;
            else
                break;
        }
    }
    if (n_parts != 3 || p >= end || *p != '"' || parts[0] >= (unsigned long long)b->o->n_clients ||
        parts[2] > now || parts[2] < b->sh->start_ns) {
        b->n_foreign++; /* someone else's message in a bench room */
        return;
    }
    b->n_delivered++;
    b->last_delivery_ns = now;
    hb_bench_stats_record(&b->stats, now - parts[2]);
    hb_bench_stats_record_status(&b->stats, 200);
}

/* Parses the complete frames in s->in. Returns false when the socket was closed. */
static bool parse_frames(struct sock *s)
{
    size_t off = 0;
    const unsigned char *d = (const unsigned char *)s->in.data;
    uint64_t now = hb_clock_mono_ns();
    bool ok = true;
    while (s->in.len - off >= 2) {
        const unsigned char *h = d + off;
        size_t avail = s->in.len - off;
        bool fin = (h[0] & 0x80) != 0;
        int opcode = h[0] & 0x0f;
        if ((h[1] & 0x80) != 0 || (h[0] & 0x70) != 0) {
            sock_error(s, HB_BENCH_STATS_ERR_PROTOCOL, "masked or reserved-bit server frame");
            return false;
        }
        uint64_t len = h[1] & 0x7f;
        size_t hlen = 2;
        if (len == 126) {
            if (avail < 4)
                break;
            len = ((uint64_t)h[2] << 8) | h[3];
            hlen = 4;
        } else if (len == 127) {
            if (avail < 10)
                break;
            len = 0;
            for (int i = 0; i < 8; i++)
                len = (len << 8) | h[2 + i];
            hlen = 10;
        }
        if (len > MAX_FRAME_LEN) {
            sock_error(s, HB_BENCH_STATS_ERR_PROTOCOL, "server frame of %llu bytes",
                       (unsigned long long)len);
            return false;
        }
        if (avail < hlen + len)
            break;
        const char *payload = (const char *)h + hlen;
        off += hlen + (size_t)len;
        switch (opcode) {
        case 0x1:
        case 0x2:
        case 0x0:
            if (opcode != 0 && s->msg.len != 0) {
                sock_error(s, HB_BENCH_STATS_ERR_PROTOCOL, "new message inside a fragmented one");
                return false;
            }
            if (fin && s->msg.len == 0) {
                on_message(s, payload, (size_t)len, now);
            } else {
                if (hb_buf_append(&s->msg, payload, (size_t)len) < 0) {
                    sock_error(s, HB_BENCH_STATS_ERR_PROTOCOL, "message over %zu bytes",
                               MAX_FRAME_LEN);
                    return false;
                }
                if (fin) {
                    on_message(s, s->msg.data, s->msg.len, now);
                    hb_buf_reset(&s->msg);
                }
            }
            break;
        case 0x8: {
            int code =
                len >= 2 ? ((unsigned char)payload[0] << 8) | (unsigned char)payload[1] : 1005;
            s->b->n_closed_by_server++;
            if (s->b->phase == PHASE_CLOSE) {
                sock_close(s);
            } else {
                sock_error(s, HB_BENCH_STATS_ERR_CLOSED, "server closed the socket with %d", code);
            }
            return false;
        }
        case 0x9:
            if (send_frame(s, 0xA, payload, (size_t)len) < 0)
                ok = false;
            break;
        case 0xA:
            break;
        default:
            sock_error(s, HB_BENCH_STATS_ERR_PROTOCOL, "unknown opcode %d", opcode);
            return false;
        }
        if (!ok || s->state != SOCK_OPEN)
            return false;
    }
    hb_buf_consume(&s->in, off);
    return true;
}

static void sock_became_open(struct sock *s)
{
    struct bench *b = s->b;
    s->state = SOCK_OPEN;
    b->n_handshaking--;
    b->n_open++;
    if (b->n_open > b->n_open_peak)
        b->n_open_peak = b->n_open;
    atomic_fetch_add(&b->sh->room_open[s->room], 1);
    atomic_fetch_add(&b->sh->n_open, 1);
    b->n_settled++;
    atomic_fetch_add(&b->sh->n_settled, 1);
    b->stats.n_connects++;
    maybe_start_sending(b);
}

static void on_read(struct hb_client_conn *conn, const char *buf, ssize_t nread)
{
    struct sock *s = conn->data;
    struct bench *b = s->b;
    if (nread < 0) {
        if (b->phase == PHASE_CLOSE)
            sock_close(s);
        else if (nread == UV_EOF)
            sock_error(s, HB_BENCH_STATS_ERR_CLOSED, "server closed the connection");
        else
            sock_error(s, HB_BENCH_STATS_ERR_READ, "read: %s", uv_strerror((int)nread));
        return;
    }
    b->stats.bytes_read += (uint64_t)nread;
    size_t off = 0;
    if (!s->is_upgraded) {
        while (off < (size_t)nread && !s->http.is_complete) {
            int used = hb_http_client_parse(&s->http, buf + off, (size_t)nread - off);
            if (used < 0) {
                sock_error(s, HB_BENCH_STATS_ERR_PROTOCOL, "handshake: %s", s->http.error_reason);
                return;
            }
            off += (size_t)used;
        }
        if (!s->http.is_complete)
            return;
        if (s->http.status != 101) {
            sock_error(s, HB_BENCH_STATS_ERR_PROTOCOL, "handshake answered with HTTP %d",
                       s->http.status);
            return;
        }
        s->is_upgraded = true;
        sock_became_open(s);
    }
    if (off == (size_t)nread)
        return;
    if (hb_buf_append(&s->in, buf + off, (size_t)nread - off) < 0) {
        sock_error(s, HB_BENCH_STATS_ERR_PROTOCOL, "frame over %zu bytes", MAX_FRAME_LEN);
        return;
    }
    parse_frames(s);
}

static void on_write(struct hb_client_conn *conn, int status)
{
    struct sock *s = conn->data;
    if (status < 0) {
        if (status != UV_ECANCELED)
            sock_error(s, HB_BENCH_STATS_ERR_WRITE, "write: %s", uv_strerror(status));
        return;
    }
    hb_buf_reset(&s->out[s->out_busy]);
    flush(s);
}

static void open_sock(struct sock *s);

static void on_retry_timer(uv_timer_t *t)
{
    open_sock(t->data);
}

static void on_connect(struct hb_client_conn *conn, int status)
{
    struct sock *s = conn->data;
    struct bench *b = s->b;
    if (status < 0) {
        s->attempts++;
        s->state = SOCK_IDLE;
        hb_client_conn_close(conn);
        if (s->attempts >= MAX_ATTEMPTS || b->phase != PHASE_CONNECT) {
            b->n_handshaking--;
            b->n_failed++;
            b->n_settled++;
            atomic_fetch_add(&b->sh->n_settled, 1);
            s->state = SOCK_DONE;
            hb_bench_stats_error(&b->stats, HB_BENCH_STATS_ERR_CONNECT, 1, "connect to %s: %s",
                                 b->sh->targets[s->target].peer, uv_strerror(status));
            maybe_start_sending(b);
            return;
        }
        /* Back off: 10 ms, 20 ms, 40 ms, ... The socket keeps its handshake slot. */
        uv_timer_start(&s->timer, on_retry_timer, 10u << s->attempts, 0);
        return;
    }
    hb_http_client_reset(&s->http);
    s->is_upgraded = false;
    const struct hb_buf *req = &b->sh->upgrade[s->target * b->o->n_rooms + s->room];
    int idle = 1 - s->out_busy;
    hb_buf_append(&s->out[idle], req->data, req->len);
    flush(s);
}

static void on_conn_close(struct hb_client_conn *conn)
{
    struct sock *s = conn->data;
    hb_buf_reset(&s->out[0]);
    hb_buf_reset(&s->out[1]);
    hb_buf_reset(&s->in);
    hb_buf_reset(&s->msg);
}

static const struct hb_client_conn_ops conn_ops = {
    .on_connect = on_connect,
    .on_read = on_read,
    .on_write = on_write,
    .on_close = on_conn_close,
};

static void open_sock(struct sock *s)
{
    struct bench *b = s->b;
    if (s->conn.is_open) {
        /* Still closing from the last attempt: try again on the next tick. */
        uv_timer_start(&s->timer, on_retry_timer, 1, 0);
        return;
    }
    s->state = SOCK_CONNECTING;
    int err = hb_client_conn_open(&s->conn, &b->loop,
                                  (const struct sockaddr *)&b->sh->targets[s->target].addr,
                                  b->read_buf, READ_BUF_LEN, &conn_ops, s);
    if (err < 0) {
        s->state = SOCK_DONE;
        b->n_handshaking--;
        b->n_failed++;
        b->n_settled++;
        atomic_fetch_add(&b->sh->n_settled, 1);
        hb_bench_stats_error(&b->stats, HB_BENCH_STATS_ERR_CONNECT, 1, "connect to %s: %s",
                             b->sh->targets[s->target].peer, uv_strerror(err));
        maybe_start_sending(b);
    }
}

/* Closes a socket for good (any phase). */
static void sock_close(struct sock *s)
{
    struct bench *b = s->b;
    if (s->state == SOCK_DONE)
        return;
    if (s->state == SOCK_OPEN) {
        b->n_open--;
        atomic_fetch_sub(&b->sh->room_open[s->room], 1);
        atomic_fetch_sub(&b->sh->n_open, 1);
    } else if (s->state == SOCK_CONNECTING || s->attempts > 0) {
        b->n_handshaking--;
        b->n_failed++;
        b->n_settled++;
        atomic_fetch_add(&b->sh->n_settled, 1);
    }
    s->state = SOCK_DONE;
    uv_timer_stop(&s->timer);
    hb_client_conn_close(&s->conn);
    maybe_start_sending(b);
}

/* ---- The schedule. ---- */

static uint64_t due_ns(const struct sock *s, uint64_t seq)
{
    double period_ns = 1e9 / s->b->o->rate;
    return s->b->send_start_ns + s->offset_ns + (uint64_t)(period_ns * (double)seq);
}

static void on_send_timer(uv_timer_t *t)
{
    struct sock *s = t->data;
    struct bench *b = s->b;
    if (s->state != SOCK_OPEN || b->phase != PHASE_SEND)
        return;
    uint64_t now = hb_clock_mono_ns();
    char text[96], frame[128];
    while (due_ns(s, s->seq) <= now && due_ns(s, s->seq) < b->send_end_ns) {
        now = hb_clock_mono_ns();
        snprintf(text, sizeof(text), "%d:%llu:%llu", s->index, (unsigned long long)s->seq,
                 (unsigned long long)now);
        int len = snprintf(frame, sizeof(frame), "{\"message\":\"%s\"}", text);
        s->seq++;
        if (send_frame(s, 0x1, frame, (size_t)len) < 0) {
            sock_error(s, HB_BENCH_STATS_ERR_WRITE, "outbound buffer over %zu bytes", MAX_OUT_LEN);
            return;
        }
        if (s->state != SOCK_OPEN)
            return;
        b->n_sent++;
        b->n_expected +=
            (uint64_t)atomic_load_explicit(&b->sh->room_open[s->room], memory_order_relaxed);
        b->stats.bytes_written += (uint64_t)len;
    }
    uint64_t next = due_ns(s, s->seq);
    if (next >= b->send_end_ns)
        return;
    uint64_t wait_ns = next > now ? next - now : 0;
    uv_timer_start(&s->timer, on_send_timer, (wait_ns + NS_PER_MS - 1) / NS_PER_MS, 0);
}

/* User + system CPU seconds of process pid (fields 14 and 15 of /proc/pid/stat, counted
 * after the command name, which may hold spaces and parentheses), or -1. */
static double process_cpu_s(int pid)
{
    char path[64], line[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    size_t n = fread(line, 1, sizeof(line) - 1, f);
    fclose(f);
    line[n] = '\0';
    const char *p = strrchr(line, ')');
    unsigned long long utime = 0, stime = 0;
    if (p == NULL || sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime,
                            &stime) != 2)
        return -1;
    long hz = sysconf(_SC_CLK_TCK);
    return (double)(utime + stime) / (double)(hz > 0 ? hz : 100);
}

/* The CPU seconds of every --server-pid, summed (the instances of one site), or -1 when one of
 * them cannot be read. */
static double servers_cpu_s(const struct options *o)
{
    double sum = 0;
    for (int i = 0; i < o->n_server_pids; i++) {
        double one = process_cpu_s(o->server_pids[i]);
        if (one < 0)
            return -1;
        sum += one;
    }
    return sum;
}

/* Starts this loop's senders once every socket of every loop settled. The loop that sees it
 * first fixes the common start, a little ahead when other loops must notice it on their tick,
 * so that every loop's schedule starts at the same instant. */
static void maybe_start_sending(struct bench *b)
{
    struct shared *sh = b->sh;
    if (b->phase != PHASE_CONNECT || atomic_load(&sh->n_settled) < b->o->n_clients)
        return;
    uint64_t now = hb_clock_mono_ns();
    uint64_t start = 0;
    uint64_t mine = now + (b->o->n_loops > 1 ? 2ull * TICK_MS * NS_PER_MS : 0);
    bool is_first = atomic_compare_exchange_strong(&sh->send_start_ns, &start, mine);
    if (is_first) {
        start = mine;
        if (b->o->n_server_pids > 0)
            sh->cpu_start_s = servers_cpu_s(b->o);
    }
    b->phase = PHASE_SEND;
    b->connect_ns = now - sh->start_ns;
    b->send_start_ns = start;
    b->send_end_ns = start + b->o->duration_ns;
    if (!b->o->is_quiet && is_first)
        fprintf(stderr, "hiroba bench ws: %d sockets open in %.2fs%s\n", atomic_load(&sh->n_open),
                (double)b->connect_ns / 1e9,
                atomic_load(&sh->n_open) < b->o->n_clients ? " (some failed)" : "");
    if (b->o->rate <= 0)
        return;
    double period_ns = 1e9 / b->o->rate;
    for (int i = 0; i < b->n_socks; i++) {
        struct sock *s = &b->socks[i];
        if (s->state != SOCK_OPEN)
            continue;
        /* Spread the sockets over one period so they do not all send in the same tick. */
        s->offset_ns = (uint64_t)(period_ns * (double)s->index / (double)b->o->n_clients);
        uint64_t due = start + s->offset_ns;
        uv_timer_start(&s->timer, on_send_timer, due > now ? (due - now) / NS_PER_MS : 0, 0);
    }
}

static void close_all(struct bench *b)
{
    struct shared *sh = b->sh;
    /* The server's work for the run ends here: sample its CPU before the closes add to it. */
    if (b->phase != PHASE_CONNECT && b->o->n_server_pids > 0 &&
        !atomic_exchange(&sh->is_cpu_sampled, true)) {
        sh->cpu_end_s = servers_cpu_s(b->o);
        sh->cpu_end_ns = hb_clock_mono_ns();
    }
    b->phase = PHASE_CLOSE;
    uv_timer_stop(&b->tick);
    for (int i = 0; i < b->n_socks; i++) {
        struct sock *s = &b->socks[i];
        sock_close(s);
        uv_close((uv_handle_t *)&s->timer, NULL);
    }
    uv_close((uv_handle_t *)&b->tick, NULL);
}

/* True when every delivery expected by any loop arrived at some loop. Published counters lag
 * the real ones, so this never closes early: the expected ones are final once every loop is
 * draining, and the delivered ones only grow. */
static bool all_delivered(const struct shared *sh)
{
    if (atomic_load(&sh->n_draining) < sh->o->n_loops)
        return false;
    uint64_t expected = 0, delivered = 0;
    for (int i = 0; i < sh->o->n_loops; i++) {
        expected += atomic_load(&sh->loops[i].pub_expected);
        delivered += atomic_load(&sh->loops[i].pub_delivered);
    }
    return delivered >= expected;
}

static void on_tick(uv_timer_t *t)
{
    struct bench *b = t->data;
    struct shared *sh = b->sh;
    uint64_t now = hb_clock_mono_ns();
    atomic_store(&b->pub_expected, b->n_expected);
    atomic_store(&b->pub_delivered, b->n_delivered);
    if (hb_bench_run_is_interrupted() || now >= sh->deadline_ns) {
        if (b->phase == PHASE_CONNECT)
            hb_bench_stats_error(&b->stats, HB_BENCH_STATS_ERR_TIMEOUT,
                                 (uint64_t)(b->n_socks - b->n_settled),
                                 "sockets still connecting after the time limit");
        close_all(b);
        return;
    }
    switch (b->phase) {
    case PHASE_CONNECT:
        while (b->n_handshaking < MAX_HANDSHAKES && b->next_to_open < b->n_socks) {
            b->n_handshaking++;
            open_sock(&b->socks[b->next_to_open++]);
        }
        if (!b->o->is_quiet && b->id == 0 && now - b->last_progress_ns > NS_PER_S) {
            b->last_progress_ns = now;
            fprintf(stderr, "hiroba bench ws: connecting: %d of %d open\n",
                    atomic_load(&sh->n_open), b->o->n_clients);
        }
        maybe_start_sending(b); /* another loop's socket may have been the last to settle */
        break;
    case PHASE_SEND:
        if (now >= b->send_end_ns) {
            b->phase = PHASE_DRAIN;
            b->drain_end_ns = now + b->o->drain_ns;
            atomic_fetch_add(&sh->n_draining, 1); /* after this tick's final pub_expected */
        }
        break;
    case PHASE_DRAIN:
        if (all_delivered(sh) || now >= b->drain_end_ns)
            close_all(b);
        break;
    case PHASE_CLOSE:
        break;
    }
}

static void on_sigint(int sig)
{
    (void)sig;
    hb_bench_run_interrupt();
}

static void raise_fd_limit(int n_needed)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return;
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < (rlim_t)n_needed + 64) {
        rl.rlim_cur = rl.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
    }
}

/* ---- Report. ---- */

/* The loops' results, merged. */
struct totals {
    struct hb_bench_stats stats;
    uint64_t connect_ns;
    int n_open_peak;
    uint64_t n_sent, n_expected, n_delivered, n_foreign;
    uint64_t send_start_ns, last_delivery_ns;
};

static void merge_loops(const struct shared *sh, struct totals *t)
{
    memset(t, 0, sizeof(*t));
    hb_bench_stats_init(&t->stats);
    for (int i = 0; i < sh->o->n_loops; i++) {
        const struct bench *b = &sh->loops[i];
        hb_bench_stats_merge(&t->stats, &b->stats);
        if (b->connect_ns > t->connect_ns)
            t->connect_ns = b->connect_ns;
        t->n_open_peak += b->n_open_peak;
        t->n_sent += b->n_sent;
        t->n_expected += b->n_expected;
        t->n_delivered += b->n_delivered;
        t->n_foreign += b->n_foreign;
        if (b->last_delivery_ns > t->last_delivery_ns)
            t->last_delivery_ns = b->last_delivery_ns;
    }
    t->send_start_ns = atomic_load(&sh->send_start_ns);
}

static void report(const struct shared *sh, const struct totals *t, double elapsed_s)
{
    const struct options *o = sh->o;
    const struct hb_bench_stats *st = &t->stats;
    uint64_t drops = t->n_expected > t->n_delivered ? t->n_expected - t->n_delivered : 0;
    double send_s = (double)o->duration_ns / 1e9;
    uint64_t pct[5] = {
        hb_bench_stats_percentile(st, 50),  hb_bench_stats_percentile(st, 90),
        hb_bench_stats_percentile(st, 99),  hb_bench_stats_percentile(st, 99.9),
        hb_bench_stats_percentile(st, 100),
    };
    uint64_t n_errors = hb_bench_stats_n_errors(st);
    /* The time from the start of sending to the last delivery: past the duration when the
     * server fell behind, so deliveries / max(duration, last) is the rate it really sustained. */
    double last_s = t->last_delivery_ns > t->send_start_ns
                        ? (double)(t->last_delivery_ns - t->send_start_ns) / 1e9
                        : 0;
    char cpu[96] = "null";
    bool has_cpu = o->n_server_pids > 0 && sh->cpu_start_s >= 0 && sh->cpu_end_s >= 0 &&
                   sh->cpu_end_ns > t->send_start_ns;
    double cpu_s = has_cpu ? sh->cpu_end_s - sh->cpu_start_s : 0;
    double window_s = has_cpu ? (double)(sh->cpu_end_ns - t->send_start_ns) / 1e9 : 0;
    if (has_cpu)
        snprintf(cpu, sizeof(cpu), "{\"cpu_s\":%.2f,\"window_s\":%.3f}", cpu_s, window_s);
    if (o->is_json) {
        printf("{\"mode\":\"ws\",\"url\":\"%s\",\"urls\":[", o->url);
        for (int i = 0; i < o->n_urls; i++)
            printf("%s\"%s\"", i > 0 ? "," : "", o->urls[i]);
        printf("],\"peer\":\"%s\",\"connections\":%d,\"rooms\":%d,"
               "\"loops\":%d,\"rate_per_connection\":%g,\"duration_s\":%.3f,\"elapsed_s\":%.3f,"
               "\"connect_s\":%.3f,\"connected\":%d,\"sent\":%llu,\"sent_per_s\":%.1f,"
               "\"expected\":%llu,\"delivered\":%llu,\"delivered_per_s\":%.1f,\"drops\":%llu,"
               "\"foreign\":%llu,\"errors\":%llu,\"last_delivery_s\":%.3f,\"server\":%s,"
               "\"latency_ns\":{\"min\":%llu,\"mean\":%.0f,"
               "\"p50\":%llu,\"p90\":%llu,\"p99\":%llu,\"p99_9\":%llu,\"max\":%llu}}\n",
               sh->targets[0].peer, o->n_clients, o->n_rooms, o->n_loops, o->rate, send_s,
               elapsed_s, (double)t->connect_ns / 1e9, t->n_open_peak,
               (unsigned long long)t->n_sent, (double)t->n_sent / send_s,
               (unsigned long long)t->n_expected, (unsigned long long)t->n_delivered,
               (double)t->n_delivered / send_s, (unsigned long long)drops,
               (unsigned long long)t->n_foreign, (unsigned long long)n_errors, last_s, cpu,
               (unsigned long long)st->min_ns, hb_bench_stats_mean(st), (unsigned long long)pct[0],
               (unsigned long long)pct[1], (unsigned long long)pct[2], (unsigned long long)pct[3],
               (unsigned long long)pct[4]);
        return;
    }
    char txt[5][32];
    for (int i = 0; i < 5; i++)
        hb_bench_report_format_ns(txt[i], sizeof(txt[i]), (double)pct[i]);
    printf("hiroba bench ws:");
    for (int i = 0; i < o->n_urls; i++)
        printf("%s %s (%s)", i > 0 ? "," : "", o->urls[i], sh->targets[i].peer);
    printf("\n");
    printf("  sockets     %d over %d room%s on %d loop%s, %d open (connected in %.2fs)\n",
           o->n_clients, o->n_rooms, o->n_rooms == 1 ? "" : "s", o->n_loops,
           o->n_loops == 1 ? "" : "s", t->n_open_peak, (double)t->connect_ns / 1e9);
    printf("  sent        %llu messages in %.2fs (%.1f/s; %g/s per socket)\n",
           (unsigned long long)t->n_sent, send_s, (double)t->n_sent / send_s, o->rate);
    printf("  delivered   %llu of %llu expected (%.1f messages/s)\n",
           (unsigned long long)t->n_delivered, (unsigned long long)t->n_expected,
           (double)t->n_delivered / send_s);
    printf("  latency     p50 %s  p90 %s  p99 %s  p99.9 %s  max %s\n", txt[0], txt[1], txt[2],
           txt[3], txt[4]);
    printf("  drops       %llu\n", (unsigned long long)drops);
    printf("  errors      %llu\n", (unsigned long long)n_errors);
    if (has_cpu)
        printf(
            "  server      %.2f CPU s over %.2fs (%.0f%% of a core), %.0f deliveries per CPU s\n",
            cpu_s, window_s, 100 * cpu_s / window_s,
            cpu_s > 0 ? (double)t->n_delivered / cpu_s : 0);
}

/* Sets up loop `id` and its share of the sockets (a contiguous range of indices, so each
 * loop holds sockets of every room and deliveries cross loops like they cross clients). */
static void loop_init(struct shared *sh, struct bench *b, int id, struct sock *all)
{
    const struct options *o = sh->o;
    b->o = o;
    b->sh = sh;
    b->id = id;
    b->first = (int)((long long)o->n_clients * id / o->n_loops);
    b->n_socks = (int)((long long)o->n_clients * (id + 1) / o->n_loops) - b->first;
    b->socks = all + b->first;
    hb_bench_stats_init(&b->stats);
    b->read_buf = hb_xmalloc(READ_BUF_LEN);
    b->rng = (0x9e3779b9u * (uint32_t)(id + 1)) ^ (uint32_t)hb_clock_mono_ns();
    if (b->rng == 0)
        b->rng = 1;
    uv_loop_init(&b->loop);
    for (int i = 0; i < b->n_socks; i++) {
        struct sock *s = &b->socks[i];
        s->b = b;
        s->index = b->first + i;
        s->room = s->index % o->n_rooms;
        /* The k-th member of a room (k = index / rooms) goes to URL k mod n: every room has
         * members on every instance, and deliveries cross instances. */
        s->target = (s->index / o->n_rooms) % o->n_urls;
        hb_http_client_init(&s->http, false);
        hb_buf_init(&s->in, MAX_FRAME_LEN + 16);
        hb_buf_init(&s->msg, MAX_FRAME_LEN);
        hb_buf_init(&s->out[0], MAX_OUT_LEN);
        hb_buf_init(&s->out[1], MAX_OUT_LEN);
        uv_timer_init(&b->loop, &s->timer);
        s->timer.data = s;
    }
    uv_timer_init(&b->loop, &b->tick);
    b->tick.data = b;
    b->last_progress_ns = sh->start_ns;
}

static void loop_release(struct bench *b)
{
    uv_loop_close(&b->loop);
    for (int i = 0; i < b->n_socks; i++) {
        struct sock *s = &b->socks[i];
        hb_buf_release(&s->in);
        hb_buf_release(&s->msg);
        hb_buf_release(&s->out[0]);
        hb_buf_release(&s->out[1]);
    }
    free(b->read_buf);
    hb_bench_stats_release(&b->stats);
}

static void loop_body(void *arg)
{
    struct bench *b = arg;
    uv_timer_start(&b->tick, on_tick, 0, TICK_MS);
    uv_run(&b->loop, UV_RUN_DEFAULT);
}

/* A base URL, parsed and resolved, with its path prefix. */
struct base {
    struct hb_client_url url;
    char prefix[HB_CLIENT_URL_MAX_TARGET + 2]; /* the path without its final slash: "" for / */
};

/* Parses every URL (each must be loopback unless --allow-remote) before anything connects, so
 * a bad one is a usage error; then resolves them into sh->targets. Returns 0 or an exit code. */
static int parse_bases(const struct options *o, struct base *bases, struct shared *sh)
{
    for (int i = 0; i < o->n_urls; i++) {
        struct hb_client_url *url = &bases[i].url;
        const char *reason;
        if (hb_client_url_parse(url, o->urls[i], &reason) < 0)
            return usage_error("bad URL '%s': %s", o->urls[i], reason);
        if (!o->allow_remote && !hb_client_url_is_loopback(url))
            return usage_error("refusing non-loopback target '%s' (only 127.0.0.0/8, ::1 and "
                               "localhost; pass --allow-remote to load another machine)",
                               url->host);
        char *prefix = bases[i].prefix;
        snprintf(prefix, sizeof(bases[i].prefix), "%s", url->target);
        char *q = strchr(prefix, '?');
        if (q != NULL)
            *q = '\0';
        size_t plen = strlen(prefix);
        while (plen > 0 && prefix[plen - 1] == '/')
            prefix[--plen] = '\0';
    }
    for (int i = 0; i < o->n_urls; i++) {
        struct target *t = &sh->targets[i];
        int err = hb_client_url_resolve(&bases[i].url, &t->addr, &t->addr_len);
        if (err == HB_EPERM)
            return usage_error("'%s' does not resolve to a loopback address", bases[i].url.host);
        if (err < 0)
            return fail_line("cannot resolve '%s'", bases[i].url.host);
        hb_client_url_format_addr((const struct sockaddr *)&t->addr, t->peer, sizeof(t->peer));
    }
    return 0;
}

static int run(const struct options *o)
{
    struct shared *sh = hb_xcalloc(1, sizeof(*sh));
    sh->o = o;
    struct base *bases = hb_xcalloc((size_t)o->n_urls, sizeof(*bases));
    int code = parse_bases(o, bases, sh);
    if (code != 0) {
        free(bases);
        free(sh);
        return code;
    }

    /* Setup over REST, through the first URL: the instances share one database. */
    struct rest r = {.o = o,
                     .addr = &sh->targets[0].addr,
                     .addr_len = sh->targets[0].addr_len,
                     .url = &bases[0].url,
                     .prefix = bases[0].prefix};
    char token[2048];
    int64_t *room_ids = hb_xcalloc((size_t)o->n_rooms, sizeof(*room_ids));
    code = rest_setup(&r, token, sizeof(token), room_ids);
    if (code != 0) {
        free(room_ids);
        free(bases);
        free(sh);
        return code;
    }

    int n_upgrades = o->n_urls * o->n_rooms;
    sh->upgrade = hb_xcalloc((size_t)n_upgrades, sizeof(*sh->upgrade));
    for (int u = 0; u < o->n_urls; u++) {
        for (int i = 0; i < o->n_rooms; i++) {
            struct hb_buf *req = &sh->upgrade[u * o->n_rooms + i];
            hb_buf_init(req, 8192);
            hb_buf_printf(req,
                          "GET %s/ws/chat/%lld/ HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\n"
                          "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                          "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: %s\r\n\r\n",
                          bases[u].prefix, (long long)room_ids[i], bases[u].url.host_header, token);
        }
    }
    free(room_ids);
    free(bases);

    raise_fd_limit(o->n_clients);
    sh->room_open = hb_xcalloc((size_t)o->n_rooms, sizeof(*sh->room_open));
    struct sock *socks = hb_xcalloc((size_t)o->n_clients, sizeof(*socks));
    sh->loops = hb_xcalloc((size_t)o->n_loops, sizeof(*sh->loops));
    sh->start_ns = hb_clock_mono_ns();
    sh->deadline_ns = sh->start_ns + o->time_limit_ns;
    uint64_t connect_limit = sh->start_ns + o->timeout_ns + (uint64_t)o->n_clients * NS_PER_MS;
    if (connect_limit + o->duration_ns + o->drain_ns < sh->deadline_ns)
        sh->deadline_ns = connect_limit + o->duration_ns + o->drain_ns;
    for (int i = 0; i < o->n_loops; i++)
        loop_init(sh, &sh->loops[i], i, socks);

    struct sigaction sa, old_int, old_pipe;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, &old_pipe);

    /* Loop 0 runs on this thread; the others get one thread each. */
    uv_thread_t *tids = hb_xcalloc((size_t)o->n_loops, sizeof(*tids));
    int n_started = 1;
    for (; n_started < o->n_loops; n_started++) {
        if (uv_thread_create(&tids[n_started], loop_body, &sh->loops[n_started]) != 0) {
            fail_line("cannot start loop thread %d", n_started);
            hb_bench_run_interrupt(); /* the started loops stop on their next tick */
            break;
        }
    }
    loop_body(&sh->loops[0]);
    for (int i = 1; i < n_started; i++)
        uv_thread_join(&tids[i]);
    for (int i = n_started; i < o->n_loops; i++) {
        /* Never started: close its handles so the loop can be released. */
        close_all(&sh->loops[i]);
        uv_run(&sh->loops[i].loop, UV_RUN_DEFAULT);
    }
    free(tids);
    double elapsed_s = (double)(hb_clock_mono_ns() - sh->start_ns) / 1e9;
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGPIPE, &old_pipe, NULL);

    struct totals t;
    merge_loops(sh, &t);
    report(sh, &t, elapsed_s);
    fflush(stdout);
    code = 0;
    const struct hb_bench_stats *st = &t.stats;
    for (int k = 0; k < HB_BENCH_STATS_N_ERR; k++) {
        if (st->errors[k] == 0)
            continue;
        fail_line("%llu %s error%s: %s", (unsigned long long)st->errors[k],
                  hb_bench_stats_err_name((enum hb_bench_stats_err)k),
                  st->errors[k] == 1 ? "" : "s", st->error_text[k]);
        code = 1;
    }
    if (t.n_expected > t.n_delivered)
        code = fail_line("%llu of %llu expected deliveries never arrived",
                         (unsigned long long)(t.n_expected - t.n_delivered),
                         (unsigned long long)t.n_expected);
    if (hb_bench_run_is_interrupted())
        code = fail_line("interrupted");
    if (t.n_open_peak == 0 && code == 0)
        code = fail_line("no socket could be opened");

    hb_bench_stats_release(&t.stats);
    for (int i = 0; i < o->n_loops; i++)
        loop_release(&sh->loops[i]);
    for (int i = 0; i < n_upgrades; i++)
        hb_buf_release(&sh->upgrade[i]);
    free(sh->upgrade);
    free(socks);
    free(sh->loops);
    free(sh->room_open);
    free(sh);
    return code;
}

int hb_bench_ws_main(int argc, char **argv)
{
    struct options o = {
        .n_clients = 50,
        .n_rooms = 1,
        .n_loops = 1,
        .rate = 1,
        .duration_ns = 10 * NS_PER_S,
        .drain_ns = 2 * NS_PER_S,
        .timeout_ns = 10 * NS_PER_S,
        .time_limit_ns = 300 * NS_PER_S,
        .username = "bench",
        .password = "bench-password-0123",
    };
    int code = parse_args(&o, argc, argv);
    if (code == -1) {
        fputs(usage, stdout);
        return 0;
    }
    if (code != 0)
        return code;
    if (o.n_urls == 0) {
        fputs(usage, stderr);
        return 2;
    }
    if (o.n_rooms > o.n_clients)
        return usage_error("--rooms %d is more than --connections %d", o.n_rooms, o.n_clients);
    if (o.n_loops > o.n_clients)
        return usage_error("--loops %d is more than --connections %d", o.n_loops, o.n_clients);
    return run(&o);
}
