/* SPDX-License-Identifier: MIT */
/* The `hiroba bench` command line (bench layer). Options are parsed by hand (no getopt global
 * state, so the entry point can run more than once in a process, as the unit tests do). Every
 * usage problem is one line on stderr and exit code 2; every runtime problem one line per
 * cause and exit code 1; the report goes to stdout. */
#include "bench/bench_main.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <unistd.h>

#include "bench/bench_internal.h"
#include "bench/bench_report.h"
#include "bench/bench_run.h"
#include "bench/bench_ws.h"
#include "client/client_sync.h"
#include "client/client_url.h"
#include "client/http_client.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "core/err.h"

#define MAX_URLS      64
#define MAX_HEADERS   64
#define MAX_BODY_LEN  ((size_t)16 * 1024 * 1024)
#define NS_PER_S      1000000000ull
#define MAX_IN_FLIGHT 1000000                     /* connections x pipeline */
#define MAX_RING_LEN  ((size_t)256 * 1024 * 1024) /* pre-built request bytes */

static const char usage[] =
    "usage: hiroba bench [options] URL [URL...]\n"
    "       hiroba bench ws [options] URL       (WebSocket chat load; see 'hiroba bench ws "
    "--help')\n"
    "\n"
    "Sends HTTP/1.1 requests to the URLs, round-robin over one keep-alive connection or many,\n"
    "and reports time, requests/s, latency percentiles, status codes and errors per mode.\n"
    "URLs are http:// only, share one host and port, and must be loopback (127.0.0.0/8, ::1,\n"
    "localhost) unless --allow-remote is given.\n"
    "\n"
    "modes:\n"
    "  -m, --mode MODE        serial, threads, async, all, or a list such as serial,async\n"
    "                         (default async)\n"
    "                         serial: one connection, one request at a time\n"
    "                         threads: N threads, each a blocking keep-alive client\n"
    "                         async: an event loop per core, C connections, optional pipelining\n"
    "  -t, --threads N        threads mode: client threads (default 5)\n"
    "  -l, --loops N          async mode: event loops (default: one per core)\n"
    "  -c, --connections N    async mode: connections over all loops (default 50)\n"
    "  -p, --pipeline N       async mode: requests in flight per connection (default 1)\n"
    "\n"
    "how much:\n"
    "  -n, --requests N       send N requests per mode (k and M suffixes: 10k)\n"
    "  -d, --duration T       run each mode for T: 500ms, 10s, 2m (default 10s without -n)\n"
    "  -R, --rate R           send R requests/s in total on a fixed schedule; latency counts\n"
    "                         from when each request was due (corrects coordinated omission)\n"
    "      --timeout T        per connect and per response (default 10s)\n"
    "      --time-limit T     cap on each mode's time, even with -n (default 300s)\n"
    "\n"
    "what to send:\n"
    "  -X, --method M         request method (default GET, or POST with a body)\n"
    "  -H, --header 'K: V'    add a header; repeatable (e.g. 'Authorization: Bearer ...')\n"
    "      --body TEXT        request body (a JSON body gets Content-Type: application/json)\n"
    "      --body-file FILE   request body from a file\n"
    "\n"
    "output:\n"
    "      --json             print one JSON object instead of the text report\n"
    "      --svg FILE         draw the comparison (time per mode, latency percentiles)\n"
    "  -q, --quiet            no progress bar (there is none when stdout is not a terminal)\n"
    "      --allow-remote     allow targets that are not loopback\n"
    "  -h, --help             show this help\n"
    "\n"
    "exit status: 0 every request answered, 1 failures (see stderr), 2 bad usage\n"
    "\n"
    "example (the seed workload):\n"
    "  hiroba bench --mode all -n 600 http://127.0.0.1:8000/hello/ \\\n"
    "      http://127.0.0.1:8000/test/ http://127.0.0.1:8000/aaa/\n";

struct options {
    bool modes[HB_BENCH_RUN_N_MODES];
    uint64_t n_requests;
    uint64_t duration_ns;
    uint64_t time_limit_ns;
    uint64_t timeout_ms;
    double rate;
    int n_threads, n_loops, n_connections, pipeline;
    const char *method;
    const char *headers[MAX_HEADERS];
    int n_headers;
    const char *body;
    const char *body_file;
    const char *svg_path;
    bool is_json, is_quiet, allow_remote;
    const char *urls[MAX_URLS];
    int n_urls;
};

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...)
{
    va_list ap;
    fputs("hiroba bench: ", stderr);
    va_start(ap, fmt);
    /* NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized): clang 14 false positive */
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs(" (see 'hiroba bench --help')\n", stderr);
    return 2;
}

/* "600", "10k", "2M": a count in [min, max]. */
static bool parse_count(const char *text, uint64_t min, uint64_t max, uint64_t *out)
{
    char *end;
    errno = 0;
    if (text[0] < '0' || text[0] > '9')
        return false;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno != 0)
        return false;
    if (*end == 'k' || *end == 'K') {
        v *= 1000;
        end++;
    } else if (*end == 'M' || *end == 'm') {
        v *= 1000000;
        end++;
    }
    if (*end != '\0' || v < min || v > max)
        return false;
    *out = v;
    return true;
}

static bool parse_int(const char *text, int min, int max, int *out)
{
    uint64_t v;
    if (!parse_count(text, (uint64_t)min, (uint64_t)max, &v))
        return false;
    *out = (int)v;
    return true;
}

bool hb_bench__parse_duration(const char *text, uint64_t *out_ns)
{
    char *end;
    errno = 0;
    if ((text[0] < '0' || text[0] > '9') && text[0] != '.')
        return false;
    double v = strtod(text, &end);
    if (errno != 0 || !isfinite(v) || v < 0)
        return false;
    double scale;
    if (*end == '\0' || strcmp(end, "s") == 0)
        scale = 1e9;
    else if (strcmp(end, "ms") == 0)
        scale = 1e6;
    else if (strcmp(end, "us") == 0)
        scale = 1e3;
    else if (strcmp(end, "m") == 0 || strcmp(end, "min") == 0)
        scale = 60e9;
    else if (strcmp(end, "h") == 0)
        scale = 3600e9;
    else
        return false;
    double ns = v * scale;
    if (ns < 1 || ns > 7 * 24 * 3600e9)
        return false;
    *out_ns = (uint64_t)ns;
    return true;
}

enum opt_id {
    OPT_MODE,
    OPT_THREADS,
    OPT_LOOPS,
    OPT_CONNECTIONS,
    OPT_PIPELINE,
    OPT_REQUESTS,
    OPT_DURATION,
    OPT_RATE,
    OPT_TIMEOUT,
    OPT_TIME_LIMIT,
    OPT_METHOD,
    OPT_HEADER,
    OPT_BODY,
    OPT_BODY_FILE,
    OPT_JSON,
    OPT_SVG,
    OPT_QUIET,
    OPT_ALLOW_REMOTE,
    OPT_HELP
};

static const struct opt_def {
    const char *long_name;
    char short_name;
    bool has_arg;
    enum opt_id id;
} opt_defs[] = {
    {"mode", 'm', true, OPT_MODE},         {"threads", 't', true, OPT_THREADS},
    {"loops", 'l', true, OPT_LOOPS},       {"connections", 'c', true, OPT_CONNECTIONS},
    {"pipeline", 'p', true, OPT_PIPELINE}, {"requests", 'n', true, OPT_REQUESTS},
    {"duration", 'd', true, OPT_DURATION}, {"rate", 'R', true, OPT_RATE},
    {"timeout", 0, true, OPT_TIMEOUT},     {"time-limit", 0, true, OPT_TIME_LIMIT},
    {"method", 'X', true, OPT_METHOD},     {"header", 'H', true, OPT_HEADER},
    {"body", 0, true, OPT_BODY},           {"body-file", 0, true, OPT_BODY_FILE},
    {"json", 0, false, OPT_JSON},          {"svg", 0, true, OPT_SVG},
    {"quiet", 'q', false, OPT_QUIET},      {"allow-remote", 0, false, OPT_ALLOW_REMOTE},
    {"help", 'h', false, OPT_HELP},
};

static bool parse_modes(struct options *o, const char *text)
{
    memset(o->modes, 0, sizeof(o->modes));
    if (strcmp(text, "all") == 0) {
        for (int i = 0; i < HB_BENCH_RUN_N_MODES; i++)
            o->modes[i] = true;
        return true;
    }
    char copy[64];
    if (strlen(text) >= sizeof(copy) || text[0] == '\0')
        return false;
    strcpy(copy, text);
    char *save = NULL;
    for (char *tok = strtok_r(copy, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
        int m = hb_bench_run_mode_from_name(tok);
        if (m < 0)
            return false;
        o->modes[m] = true;
    }
    return true;
}

/* Applies one option. Returns 0, or the exit code for a usage error (or 0 with *is_help). */
static int apply_option(struct options *o, const struct opt_def *d, const char *val, bool *is_help)
{
    uint64_t v;
    switch (d->id) {
    case OPT_MODE:
        if (!parse_modes(o, val))
            return usage_error("bad --mode '%s': expected serial, threads, async or all", val);
        return 0;
    case OPT_THREADS:
        if (!parse_int(val, 1, 1024, &o->n_threads))
            return usage_error("bad --threads '%s': expected 1 to 1024", val);
        return 0;
    case OPT_LOOPS:
        if (!parse_int(val, 1, 256, &o->n_loops))
            return usage_error("bad --loops '%s': expected 1 to 256", val);
        return 0;
    case OPT_CONNECTIONS:
        if (!parse_int(val, 1, 100000, &o->n_connections))
            return usage_error("bad --connections '%s': expected 1 to 100000", val);
        return 0;
    case OPT_PIPELINE:
        if (!parse_int(val, 1, 1024, &o->pipeline))
            return usage_error("bad --pipeline '%s': expected 1 to 1024", val);
        return 0;
    case OPT_REQUESTS:
        if (!parse_count(val, 1, 1000000000, &o->n_requests))
            return usage_error("bad --requests '%s': expected 1 to 1000000000", val);
        return 0;
    case OPT_DURATION:
        if (!hb_bench__parse_duration(val, &o->duration_ns))
            return usage_error("bad --duration '%s': expected e.g. 500ms, 10s, 2m", val);
        return 0;
    case OPT_RATE: {
        char *end;
        o->rate = strtod(val, &end);
        if (*end != '\0' || !isfinite(o->rate) || o->rate <= 0 || o->rate > 1e8)
            return usage_error("bad --rate '%s': expected requests per second", val);
        return 0;
    }
    case OPT_TIMEOUT:
        if (!hb_bench__parse_duration(val, &v) || v < 1000000)
            return usage_error("bad --timeout '%s': expected e.g. 2s, at least 1ms", val);
        o->timeout_ms = v / 1000000;
        return 0;
    case OPT_TIME_LIMIT:
        if (!hb_bench__parse_duration(val, &o->time_limit_ns) ||
            o->time_limit_ns > 24ull * 3600 * NS_PER_S)
            return usage_error("bad --time-limit '%s': expected e.g. 60s, at most 24h", val);
        return 0;
    case OPT_METHOD:
        o->method = val;
        return 0;
    case OPT_HEADER:
        if (o->n_headers == MAX_HEADERS)
            return usage_error("too many --header options (at most %d)", MAX_HEADERS);
        o->headers[o->n_headers++] = val;
        return 0;
    case OPT_BODY:
        o->body = val;
        return 0;
    case OPT_BODY_FILE:
        o->body_file = val;
        return 0;
    case OPT_JSON:
        o->is_json = true;
        return 0;
    case OPT_SVG:
        o->svg_path = val;
        return 0;
    case OPT_QUIET:
        o->is_quiet = true;
        return 0;
    case OPT_ALLOW_REMOTE:
        o->allow_remote = true;
        return 0;
    case OPT_HELP:
        *is_help = true;
        return 0;
    }
    return 0;
}

static int parse_args(struct options *o, int argc, char **argv, bool *is_help)
{
    bool no_more_options = false;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (no_more_options || arg[0] != '-' || arg[1] == '\0') {
            if (o->n_urls == MAX_URLS)
                return usage_error("too many URLs (at most %d)", MAX_URLS);
            o->urls[o->n_urls++] = arg;
            continue;
        }
        if (strcmp(arg, "--") == 0) {
            no_more_options = true;
            continue;
        }
        const struct opt_def *d = NULL;
        const char *val = NULL;
        if (arg[1] == '-') {
            const char *name = arg + 2;
            size_t name_len = strcspn(name, "=");
            for (size_t k = 0; k < sizeof(opt_defs) / sizeof(opt_defs[0]); k++) {
                if (strlen(opt_defs[k].long_name) == name_len &&
                    strncmp(opt_defs[k].long_name, name, name_len) == 0)
                    d = &opt_defs[k];
            }
            if (d == NULL)
                return usage_error("unknown option '%s'", arg);
            if (name[name_len] == '=') {
                if (!d->has_arg)
                    return usage_error("option '--%s' takes no value", d->long_name);
                val = name + name_len + 1;
            }
        } else {
            for (size_t k = 0; k < sizeof(opt_defs) / sizeof(opt_defs[0]); k++) {
                if (opt_defs[k].short_name == arg[1])
                    d = &opt_defs[k];
            }
            if (d == NULL)
                return usage_error("unknown option '%s'", arg);
            if (arg[2] != '\0') {
                if (!d->has_arg)
                    return usage_error("unknown option '%s'", arg);
                val = arg + 2;
            }
        }
        if (d->has_arg && val == NULL) {
            if (i + 1 >= argc)
                return usage_error("option '%s' needs a value", arg);
            val = argv[++i];
        }
        int code = apply_option(o, d, val, is_help);
        if (code != 0 || *is_help)
            return code;
    }
    return 0;
}

/* Reads the body file into buf. Returns 0 or an exit code after printing the error. */
static int read_body_file(const char *path, struct hb_buf *buf)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "hiroba bench: open '%s': %s\n", path, hb_bench__strerror(-errno));
        return 1;
    }
    char chunk[65536];
    size_t n;
    int code = 0;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        if (hb_buf_append(buf, chunk, n) < 0) {
            fprintf(stderr, "hiroba bench: '%s' is larger than %zu bytes\n", path, MAX_BODY_LEN);
            code = 1;
            break;
        }
    }
    if (code == 0 && ferror(f)) {
        fprintf(stderr, "hiroba bench: read '%s': %s\n", path, hb_bench__strerror(-errno));
        code = 1;
    }
    fclose(f);
    return code;
}

struct progress_ctx {
    const char *mode;
    uint64_t total;
    uint64_t duration_ns;
};

static void on_progress(void *ctx, uint64_t n_done, uint64_t elapsed_ns)
{
    const struct progress_ctx *p = ctx;
    hb_bench_report_progress(stdout, p->mode, n_done, p->total, elapsed_ns, p->duration_ns);
}

static void on_sigint(int sig)
{
    (void)sig;
    hb_bench_run_interrupt();
}

/* Lets a run with many connections open as many sockets as the hard limit allows. */
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

/* Prints one line per kind of failure and returns true when the mode failed. */
static bool report_failures(const struct hb_bench_run_result *res, uint64_t n_requests)
{
    const char *mode = hb_bench_run_mode_name(res->mode);
    const struct hb_bench_stats *s = &res->stats;
    bool failed = false;
    for (int k = 0; k < HB_BENCH_STATS_N_ERR; k++) {
        if (s->errors[k] == 0)
            continue;
        fprintf(stderr, "hiroba bench: %s: %llu %s error%s: %s\n", mode,
                (unsigned long long)s->errors[k],
                hb_bench_stats_err_name((enum hb_bench_stats_err)k), s->errors[k] == 1 ? "" : "s",
                s->error_text[k]);
        failed = true;
    }
    if (res->gave_up) {
        fprintf(stderr, "hiroba bench: %s: stopped after repeated connection failures\n", mode);
        failed = true;
    }
    if (res->hit_time_limit) {
        fprintf(stderr, "hiroba bench: %s: time limit reached after %llu of %llu responses\n", mode,
                (unsigned long long)s->n_responses, (unsigned long long)n_requests);
        failed = true;
    }
    if (res->was_interrupted) {
        fprintf(stderr, "hiroba bench: %s: interrupted\n", mode);
        failed = true;
    }
    if (s->n_responses == 0 && !failed) {
        fprintf(stderr, "hiroba bench: %s: no response at all\n", mode);
        failed = true;
    }
    return failed;
}

static int run_bench(struct options *o)
{
    /* Targets. */
    int code = 0;
    struct hb_buf body, reqs[MAX_URLS];
    hb_buf_init(&body, MAX_BODY_LEN);
    for (int i = 0; i < o->n_urls; i++)
        hb_buf_init(&reqs[i], (size_t)64 * 1024 + 2 * MAX_BODY_LEN);
    struct hb_bench_run_result results[HB_BENCH_RUN_N_MODES];
    int n_results = 0;
    const char *req_ptrs[MAX_URLS];
    size_t req_lens[MAX_URLS];
    struct hb_bench_run_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    struct hb_client_url *urls = hb_xcalloc((size_t)o->n_urls, sizeof(*urls));

    for (int i = 0; i < o->n_urls; i++) {
        const char *reason;
        if (hb_client_url_parse(&urls[i], o->urls[i], &reason) < 0) {
            code = usage_error("bad URL '%s': %s", o->urls[i], reason);
            goto out;
        }
        if (!hb_client_url_same_origin(&urls[0], &urls[i])) {
            code = usage_error("URLs must share one host and port: '%s' and '%s'", o->urls[0],
                               o->urls[i]);
            goto out;
        }
    }
    if (!o->allow_remote && !hb_client_url_is_loopback(&urls[0])) {
        code = usage_error("refusing non-loopback target '%s' (only 127.0.0.0/8, ::1 and "
                           "localhost; pass --allow-remote to load another machine)",
                           urls[0].host);
        goto out;
    }

    bool has_body = o->body != NULL || o->body_file != NULL;
    if (o->body != NULL && o->body_file != NULL) {
        code = usage_error("use --body or --body-file, not both");
        goto out;
    }
    if (o->body != NULL && hb_buf_append_str(&body, o->body) < 0) {
        code = usage_error("--body is larger than %zu bytes", MAX_BODY_LEN);
        goto out;
    }
    if (o->body_file != NULL) {
        code = read_body_file(o->body_file, &body);
        if (code != 0)
            goto out;
    }
    const char *method = o->method ? o->method : (has_body ? "POST" : "GET");
    size_t max_len = 0;
    for (int i = 0; i < o->n_urls; i++) {
        struct hb_http_client_request req = {
            .method = method,
            .host = hb_str_from(urls[i].host_header),
            .target = hb_str_from(urls[i].target),
            .headers = o->headers,
            .n_headers = o->n_headers,
            .body = {body.data ? body.data : "", body.len},
            .has_body = has_body,
        };
        int err = hb_http_client_format_request(&reqs[i], &req);
        if (err == HB_EINVAL) {
            code = usage_error("bad --method '%s' or --header (expected 'Name: value')", method);
            goto out;
        }
        if (err < 0) {
            code = usage_error("request too large");
            goto out;
        }
        req_ptrs[i] = reqs[i].data;
        req_lens[i] = reqs[i].len;
        max_len = reqs[i].len > max_len ? reqs[i].len : max_len;
    }
    /* The async mode keeps n_urls + pipeline - 1 requests back to back. */
    if (max_len * ((size_t)o->n_urls + (size_t)o->pipeline - 1) > MAX_RING_LEN) {
        code = usage_error("requests too large for --pipeline %d (at most %zu MiB in flight)",
                           o->pipeline, MAX_RING_LEN >> 20);
        goto out;
    }

    /* The address, and a first connection so an unreachable target fails fast and clearly. */
    int err = hb_client_url_resolve(&urls[0], &cfg.addr, &cfg.addr_len);
    if (err == HB_EPERM) {
        code = usage_error("'%s' does not resolve to a loopback address", urls[0].host);
        goto out;
    }
    if (err < 0) {
        fprintf(stderr, "hiroba bench: cannot resolve '%s'\n", urls[0].host);
        code = 1;
        goto out;
    }
    hb_client_url_format_addr((const struct sockaddr *)&cfg.addr, cfg.peer, sizeof(cfg.peer));
    struct hb_client_sync probe;
    hb_client_sync_init(&probe);
    err = hb_client_sync_connect(&probe, (const struct sockaddr *)&cfg.addr, cfg.addr_len,
                                 o->timeout_ms);
    hb_client_sync_close(&probe);
    if (err < 0) {
        fprintf(stderr, "hiroba bench: connect to %s: %s\n", cfg.peer, hb_bench__strerror(err));
        code = 1;
        goto out;
    }

    cfg.n_urls = o->n_urls;
    cfg.requests = req_ptrs;
    cfg.request_lens = req_lens;
    cfg.is_head = strcasecmp(method, "HEAD") == 0;
    cfg.n_requests = o->n_requests;
    cfg.duration_ns = o->duration_ns;
    cfg.time_limit_ns = o->time_limit_ns;
    cfg.rate = o->rate;
    cfg.timeout_ms = o->timeout_ms;
    cfg.n_threads = o->n_threads;
    cfg.n_loops = o->n_loops;
    cfg.n_connections = o->n_connections;
    cfg.pipeline = o->pipeline;
    raise_fd_limit(o->n_connections > o->n_threads ? o->n_connections : o->n_threads);

    struct sigaction sa, old_int, old_pipe;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    /* libuv writes with write(2): a reset connection must be an error, not a signal. */
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, &old_pipe);

    bool show_progress = !o->is_json && !o->is_quiet && isatty(STDOUT_FILENO);
    for (int m = 0; m < HB_BENCH_RUN_N_MODES && !hb_bench_run_is_interrupted(); m++) {
        if (!o->modes[m])
            continue;
        struct progress_ctx pc = {hb_bench_run_mode_name((enum hb_bench_run_mode)m), o->n_requests,
                                  o->duration_ns};
        err = hb_bench_run(&cfg, (enum hb_bench_run_mode)m, show_progress ? on_progress : NULL, &pc,
                           &results[n_results]);
        n_results++;
        if (show_progress)
            hb_bench_report_progress_clear(stdout);
        if (err < 0) {
            fprintf(stderr, "hiroba bench: %s: cannot start: %s\n", pc.mode,
                    hb_bench__strerror(err));
            code = 1;
            break;
        }
    }
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGPIPE, &old_pipe, NULL);

    struct hb_bench_report report = {
        .urls = o->urls,
        .n_urls = o->n_urls,
        .method = method,
        .peer = cfg.peer,
        .n_requests = o->n_requests,
        .duration_ns = o->duration_ns,
        .rate = o->rate,
        .results = results,
        .n_results = n_results,
    };
    if (o->is_json)
        hb_bench_report_json(stdout, &report);
    else
        hb_bench_report_text(stdout, &report);
    fflush(stdout);
    for (int i = 0; i < n_results; i++) {
        if (report_failures(&results[i], o->n_requests))
            code = 1;
    }
    if (o->svg_path != NULL) {
        err = hb_bench_report_svg(o->svg_path, &report);
        if (err < 0) {
            fprintf(stderr, "hiroba bench: write '%s': %s\n", o->svg_path, hb_bench__strerror(err));
            code = 1;
        }
    }

out:
    for (int i = 0; i < n_results; i++)
        hb_bench_run_result_release(&results[i]);
    for (int i = 0; i < o->n_urls; i++)
        hb_buf_release(&reqs[i]);
    hb_buf_release(&body);
    free(urls);
    return code;
}

int hb_bench_main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "ws") == 0)
        return hb_bench_ws_main(argc - 1, argv + 1);

    struct options o;
    memset(&o, 0, sizeof(o));
    o.modes[HB_BENCH_RUN_ASYNC] = true;
    o.time_limit_ns = 300 * NS_PER_S;
    o.timeout_ms = 10000;
    o.n_threads = 5;
    o.n_connections = 50;
    o.pipeline = 1;
    long n_cpus = sysconf(_SC_NPROCESSORS_ONLN);
    o.n_loops = n_cpus > 0 ? (n_cpus > 256 ? 256 : (int)n_cpus) : 1;

    bool is_help = false;
    int code = parse_args(&o, argc, argv, &is_help);
    if (code != 0)
        return code;
    if (is_help) {
        fputs(usage, stdout);
        return 0;
    }
    if (o.n_urls == 0) {
        fputs(usage, stderr);
        return 2;
    }
    if (o.n_requests > 0 && o.duration_ns > 0)
        return usage_error("use --requests or --duration, not both");
    if (o.n_requests == 0 && o.duration_ns == 0)
        o.duration_ns = 10 * NS_PER_S;
    if (o.duration_ns > o.time_limit_ns)
        return usage_error("--duration is longer than --time-limit (%llu s)",
                           (unsigned long long)(o.time_limit_ns / NS_PER_S));
    if (o.rate > 0 && o.pipeline > 1)
        return usage_error("--rate sends one request at a time per connection: drop --pipeline");
    if ((uint64_t)o.n_connections * (uint64_t)o.pipeline > MAX_IN_FLIGHT)
        return usage_error("--connections x --pipeline is over %d requests in flight",
                           MAX_IN_FLIGHT);
    return run_bench(&o);
}
