/* SPDX-License-Identifier: MIT */
/* Tests for the three run modes (src/bench/bench_run.c, bench_sync.c, bench_async.c) against
 * a small in-process server on a loopback port that can misbehave on purpose: close after every
 * response, hang up at once, answer chunked, or never answer. They check exact request counts
 * on both sides, error kinds, timeouts, timed and constant-rate runs. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench/bench_run.h"
#include "client/http_client.h"
#include "core/buf.h"
#include "core/clock.h"
#include "unit.h"

enum fake_behavior { FAKE_OK, FAKE_CLOSE_EACH, FAKE_HANGUP, FAKE_CHUNKED, FAKE_SILENT };

#define FAKE_MAX_CLIENTS 256

struct fake_client {
    int fd;
    int matched; /* how much of "\r\n\r\n" the last bytes matched */
};

struct fake_server {
    int listen_fd;
    int port;
    enum fake_behavior behavior;
    int stop_pipe[2];
    pthread_t tid;
    _Atomic unsigned long n_requests;
    struct fake_client clients[FAKE_MAX_CLIENTS];
    int n_clients;
};

static const char ok_response[] = "HTTP/1.1 200 OK\r\nContent-Length: 27\r\n\r\n"
                                  "{\"message\":\"Hello, World!\"}";
static const char close_response[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
                                     "Connection: close\r\n\r\nok";
static const char chunked_response[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                                       "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";

static void drop_client(struct fake_server *fs, int i)
{
    close(fs->clients[i].fd);
    fs->clients[i] = fs->clients[--fs->n_clients];
}

/* Handles readable bytes of client i. Returns false when it was dropped. */
static bool serve_client(struct fake_server *fs, int i)
{
    struct fake_client *fc = &fs->clients[i];
    char buf[8192];
    ssize_t n = recv(fc->fd, buf, sizeof(buf), 0);
    if (n <= 0) {
        drop_client(fs, i);
        return false;
    }
    static const char end[] = "\r\n\r\n";
    int n_new = 0;
    for (ssize_t k = 0; k < n; k++) {
        if (buf[k] == end[fc->matched]) {
            if (++fc->matched == 4) {
                n_new++;
                fc->matched = 0;
            }
        } else {
            fc->matched = buf[k] == '\r' ? 1 : 0;
        }
    }
    fs->n_requests += (unsigned long)n_new;
    if (fs->behavior == FAKE_SILENT)
        return true;
    for (int r = 0; r < n_new; r++) {
        const char *resp = fs->behavior == FAKE_CHUNKED      ? chunked_response
                           : fs->behavior == FAKE_CLOSE_EACH ? close_response
                                                             : ok_response;
        size_t len = strlen(resp);
        if (send(fc->fd, resp, len, MSG_NOSIGNAL) != (ssize_t)len) {
            drop_client(fs, i);
            return false;
        }
        if (fs->behavior == FAKE_CLOSE_EACH) {
            drop_client(fs, i);
            return false;
        }
    }
    return true;
}

static void *fake_main(void *arg)
{
    struct fake_server *fs = arg;
    for (;;) {
        struct pollfd pfds[FAKE_MAX_CLIENTS + 2];
        pfds[0] = (struct pollfd){.fd = fs->stop_pipe[0], .events = POLLIN};
        pfds[1] = (struct pollfd){.fd = fs->listen_fd, .events = POLLIN};
        for (int i = 0; i < fs->n_clients; i++)
            pfds[i + 2] = (struct pollfd){.fd = fs->clients[i].fd, .events = POLLIN};
        int n_clients = fs->n_clients;
        if (poll(pfds, (nfds_t)n_clients + 2, -1) < 0 && errno != EINTR)
            break;
        if (pfds[0].revents)
            break;
        /* Walk backwards: dropping client i moves the last one into its place. */
        for (int i = n_clients - 1; i >= 0; i--) {
            if (pfds[i + 2].revents)
                serve_client(fs, i);
        }
        if (pfds[1].revents) {
            int fd = accept(fs->listen_fd, NULL, NULL);
            if (fd >= 0 && (fs->behavior == FAKE_HANGUP || fs->n_clients == FAKE_MAX_CLIENTS))
                close(fd);
            else if (fd >= 0)
                fs->clients[fs->n_clients++] = (struct fake_client){fd, 0};
        }
    }
    for (int i = 0; i < fs->n_clients; i++)
        close(fs->clients[i].fd);
    return NULL;
}

static void fake_start(struct fake_server *fs, enum fake_behavior behavior)
{
    memset(fs, 0, sizeof(*fs));
    fs->behavior = behavior;
    fs->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
    ASSERT(fs->listen_fd >= 0);
    int one = 1;
    setsockopt(fs->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ASSERT(bind(fs->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
    ASSERT(listen(fs->listen_fd, 512) == 0);
    socklen_t len = sizeof(sa);
    getsockname(fs->listen_fd, (struct sockaddr *)&sa, &len);
    fs->port = ntohs(sa.sin_port);
    ASSERT(pipe(fs->stop_pipe) == 0);
    ASSERT(pthread_create(&fs->tid, NULL, fake_main, fs) == 0);
}

static void fake_stop(struct fake_server *fs)
{
    ASSERT(write(fs->stop_pipe[1], "x", 1) == 1);
    pthread_join(fs->tid, NULL);
    close(fs->listen_fd);
    close(fs->stop_pipe[0]);
    close(fs->stop_pipe[1]);
}

/* A config for GET requests over three URLs to 127.0.0.1:port. */
struct setup {
    struct hb_bench_run_config cfg;
    struct hb_buf reqs[3];
    const char *ptrs[3];
    size_t lens[3];
};

static void setup_init(struct setup *st, int port)
{
    static const char *const targets[] = {"/hello/", "/test/", "/aaa/"};
    memset(st, 0, sizeof(*st));
    struct hb_bench_run_config *cfg = &st->cfg;
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    memcpy(&cfg->addr, &sa, sizeof(sa));
    cfg->addr_len = sizeof(sa);
    snprintf(cfg->peer, sizeof(cfg->peer), "127.0.0.1:%d", port);
    for (int i = 0; i < 3; i++) {
        hb_buf_init(&st->reqs[i], 4096);
        struct hb_http_client_request req = {
            .method = "GET", .host = HB_STR("127.0.0.1"), .target = hb_str_from(targets[i])};
        ASSERT_EQ_INT(hb_http_client_format_request(&st->reqs[i], &req), 0);
        st->ptrs[i] = st->reqs[i].data;
        st->lens[i] = st->reqs[i].len;
    }
    cfg->n_urls = 3;
    cfg->requests = st->ptrs;
    cfg->request_lens = st->lens;
    cfg->time_limit_ns = 20000000000ull;
    cfg->timeout_ms = 5000;
    cfg->n_threads = 3;
    cfg->n_loops = 2;
    cfg->n_connections = 8;
    cfg->pipeline = 1;
}

static void setup_release(struct setup *st)
{
    for (int i = 0; i < 3; i++)
        hb_buf_release(&st->reqs[i]);
}

static void expect_all_ok(const struct hb_bench_run_result *res, uint64_t n)
{
    const struct hb_bench_stats *s = &res->stats;
    if (hb_bench_stats_n_errors(s) != 0) {
        for (int k = 0; k < HB_BENCH_STATS_N_ERR; k++) {
            if (s->errors[k])
                fprintf(stderr, "%s: %s\n", hb_bench_stats_err_name(k), s->error_text[k]);
        }
    }
    ASSERT_EQ_INT(hb_bench_stats_n_errors(s), 0);
    ASSERT_EQ_INT(s->n_responses, n);
    ASSERT_EQ_INT(s->n_latencies, n);
    ASSERT_EQ_INT(s->status[200], n);
    ASSERT(!res->hit_time_limit && !res->gave_up && !res->was_interrupted);
    ASSERT(res->elapsed_ns > 0);
}

static void run_counted(enum hb_bench_run_mode mode, enum fake_behavior behavior, int pipeline,
                        uint64_t n)
{
    struct fake_server fs;
    struct setup st;
    fake_start(&fs, behavior);
    setup_init(&st, fs.port);
    st.cfg.n_requests = n;
    st.cfg.pipeline = pipeline;
    struct hb_bench_run_result res;
    ASSERT_EQ_INT(hb_bench_run(&st.cfg, mode, NULL, NULL, &res), 0);
    expect_all_ok(&res, n);
    ASSERT_EQ_INT(res.stats.bytes_written, (n / 3) * (st.lens[0] + st.lens[1] + st.lens[2]) +
                                               (n % 3 > 0 ? st.lens[0] : 0) +
                                               (n % 3 > 1 ? st.lens[1] : 0));
    fake_stop(&fs);
    ASSERT_EQ_INT(fs.n_requests, n);
    hb_bench_run_result_release(&res);
    setup_release(&st);
}

HB_TEST(bench_run, serial_exact_count)
{
    run_counted(HB_BENCH_RUN_SERIAL, FAKE_OK, 1, 600);
}

HB_TEST(bench_run, threads_exact_count)
{
    run_counted(HB_BENCH_RUN_THREADS, FAKE_OK, 1, 601);
}

HB_TEST(bench_run, async_exact_count)
{
    run_counted(HB_BENCH_RUN_ASYNC, FAKE_OK, 1, 2000);
}

HB_TEST(bench_run, async_pipelined_exact_count)
{
    run_counted(HB_BENCH_RUN_ASYNC, FAKE_OK, 16, 5003);
}

HB_TEST(bench_run, chunked_responses)
{
    run_counted(HB_BENCH_RUN_SERIAL, FAKE_CHUNKED, 1, 50);
    run_counted(HB_BENCH_RUN_ASYNC, FAKE_CHUNKED, 4, 400);
}

HB_TEST(bench_run, connection_close_reconnects)
{
    for (int mode = 0; mode < HB_BENCH_RUN_N_MODES; mode++) {
        struct fake_server fs;
        struct setup st;
        fake_start(&fs, FAKE_CLOSE_EACH);
        setup_init(&st, fs.port);
        st.cfg.n_requests = 60;
        struct hb_bench_run_result res;
        ASSERT_EQ_INT(hb_bench_run(&st.cfg, mode, NULL, NULL, &res), 0);
        expect_all_ok(&res, 60);
        /* One connection per response, plus at most one per client that reconnected just as
         * another client took the last request. */
        ASSERT(res.stats.n_connects >= 60 && res.stats.n_connects <= 60 + 8);
        fake_stop(&fs);
        hb_bench_run_result_release(&res);
        setup_release(&st);
    }
}

HB_TEST(bench_run, server_hangs_up)
{
    for (int mode = 0; mode < HB_BENCH_RUN_N_MODES; mode++) {
        struct fake_server fs;
        struct setup st;
        fake_start(&fs, FAKE_HANGUP);
        setup_init(&st, fs.port);
        st.cfg.n_requests = 6;
        struct hb_bench_run_result res;
        ASSERT_EQ_INT(hb_bench_run(&st.cfg, mode, NULL, NULL, &res), 0);
        const struct hb_bench_stats *s = &res.stats;
        ASSERT_EQ_INT(s->n_responses, 0);
        /* Each request fails once, as closed (or reset, when the hang-up races the write). */
        ASSERT_EQ_INT(s->errors[HB_BENCH_STATS_ERR_CLOSED] + s->errors[HB_BENCH_STATS_ERR_READ] +
                          s->errors[HB_BENCH_STATS_ERR_WRITE],
                      6);
        if (s->errors[HB_BENCH_STATS_ERR_CLOSED] > 0)
            ASSERT(strstr(s->error_text[HB_BENCH_STATS_ERR_CLOSED], "before responding"));
        fake_stop(&fs);
        hb_bench_run_result_release(&res);
        setup_release(&st);
    }
}

HB_TEST(bench_run, silent_server_times_out)
{
    for (int mode = 0; mode < HB_BENCH_RUN_N_MODES; mode++) {
        struct fake_server fs;
        struct setup st;
        fake_start(&fs, FAKE_SILENT);
        setup_init(&st, fs.port);
        st.cfg.n_requests = 2;
        st.cfg.timeout_ms = 200;
        struct hb_bench_run_result res;
        uint64_t t0 = hb_clock_mono_ns();
        ASSERT_EQ_INT(hb_bench_run(&st.cfg, mode, NULL, NULL, &res), 0);
        uint64_t took_ms = (hb_clock_mono_ns() - t0) / 1000000;
        ASSERT_EQ_INT(res.stats.errors[HB_BENCH_STATS_ERR_TIMEOUT], 2);
        ASSERT(strstr(res.stats.error_text[HB_BENCH_STATS_ERR_TIMEOUT], "within 200 ms"));
        ASSERT(took_ms >= 190 && took_ms < 3000);
        fake_stop(&fs);
        hb_bench_run_result_release(&res);
        setup_release(&st);
    }
}

HB_TEST(bench_run, refused_gives_up)
{
    /* A port with no listener: bind one, learn its number, close it. */
    struct fake_server fs;
    fake_start(&fs, FAKE_OK);
    int port = fs.port;
    fake_stop(&fs);
    for (int mode = 0; mode < HB_BENCH_RUN_N_MODES; mode++) {
        struct setup st;
        setup_init(&st, port);
        st.cfg.n_requests = 10;
        struct hb_bench_run_result res;
        ASSERT_EQ_INT(hb_bench_run(&st.cfg, mode, NULL, NULL, &res), 0);
        ASSERT(res.gave_up);
        ASSERT_EQ_INT(res.stats.n_responses, 0);
        ASSERT(res.stats.errors[HB_BENCH_STATS_ERR_CONNECT] > 0);
        ASSERT(strstr(res.stats.error_text[HB_BENCH_STATS_ERR_CONNECT], "refused"));
        hb_bench_run_result_release(&res);
        setup_release(&st);
    }
}

HB_TEST(bench_run, timed_runs_stop_on_time)
{
    for (int mode = 0; mode < HB_BENCH_RUN_N_MODES; mode++) {
        struct fake_server fs;
        struct setup st;
        fake_start(&fs, FAKE_OK);
        setup_init(&st, fs.port);
        st.cfg.duration_ns = 300000000;
        struct hb_bench_run_result res;
        ASSERT_EQ_INT(hb_bench_run(&st.cfg, mode, NULL, NULL, &res), 0);
        ASSERT(res.stats.n_responses > 10);
        ASSERT_EQ_INT(hb_bench_stats_n_errors(&res.stats), 0);
        ASSERT(res.elapsed_ns >= 290000000 && res.elapsed_ns < 1000000000);
        fake_stop(&fs);
        /* The server saw at most the in-flight requests more than were answered. */
        ASSERT(fs.n_requests >= res.stats.n_responses);
        ASSERT(fs.n_requests <= res.stats.n_responses + 8);
        hb_bench_run_result_release(&res);
        setup_release(&st);
    }
}

HB_TEST(bench_run, constant_rate)
{
    for (int mode = 0; mode < HB_BENCH_RUN_N_MODES; mode++) {
        struct fake_server fs;
        struct setup st;
        fake_start(&fs, FAKE_OK);
        setup_init(&st, fs.port);
        st.cfg.duration_ns = 500000000;
        st.cfg.rate = 400;
        struct hb_bench_run_result res;
        ASSERT_EQ_INT(hb_bench_run(&st.cfg, mode, NULL, NULL, &res), 0);
        /* 400/s for 0.5 s is 200 requests; allow for the edges of the schedule. */
        if (res.stats.n_responses < 150 || res.stats.n_responses > 205)
            HB_FAIL_("mode %d: %llu responses at 400/s over 0.5 s", mode,
                     (unsigned long long)res.stats.n_responses);
        ASSERT_EQ_INT(hb_bench_stats_n_errors(&res.stats), 0);
        fake_stop(&fs);
        hb_bench_run_result_release(&res);
        setup_release(&st);
    }
}

HB_TEST(bench_run, mode_names)
{
    ASSERT_EQ_STR(hb_bench_run_mode_name(HB_BENCH_RUN_SERIAL), "serial");
    ASSERT_EQ_INT(hb_bench_run_mode_from_name("threads"), HB_BENCH_RUN_THREADS);
    ASSERT_EQ_INT(hb_bench_run_mode_from_name("async"), HB_BENCH_RUN_ASYNC);
    ASSERT_EQ_INT(hb_bench_run_mode_from_name("fast"), -1);
}
