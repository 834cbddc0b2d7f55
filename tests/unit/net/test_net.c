/* SPDX-License-Identifier: MIT */
/* Unit tests for the net layer: hb_net_serve() runs in a thread with a small echo handler on a
 * loopback port, and plain blocking sockets drive it. Covers the connection cap and the
 * per-address cap (with loopback not trusted), half-close, refusing an address another process
 * already listens on, and stopping. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "core/alloc.h"
#include "net/net.h"
#include "unit.h"

#define BUSY "busy\n"

struct echo {
    char buf[4096];
};

static _Atomic int n_closed;

static void echo_open(struct hb_conn *conn)
{
    hb_conn_set_data(conn, hb_xcalloc(1, sizeof(struct echo)));
}

static void echo_alloc(struct hb_conn *conn, char **base, size_t *len)
{
    struct echo *e = hb_conn_data(conn);
    *base = e->buf;
    *len = sizeof(e->buf);
}

static void echo_read(struct hb_conn *conn, ssize_t nread)
{
    struct echo *e = hb_conn_data(conn);
    if (nread == HB_NET_EOF) {
        /* The peer half-closed: it can still read this. */
        (void)hb_buf_append_str(hb_conn_out(conn), "bye\n");
        hb_conn_flush(conn);
        hb_conn_close_after_write(conn);
        return;
    }
    if (nread < 0) {
        hb_conn_close(conn);
        return;
    }
    (void)hb_buf_append(hb_conn_out(conn), e->buf, (size_t)nread);
    hb_conn_flush(conn);
}

static void echo_timeout(struct hb_conn *conn)
{
    hb_conn_close(conn);
}

static void echo_close(struct hb_conn *conn)
{
    free(hb_conn_data(conn));
    n_closed++;
}

static const struct hb_conn_handler echo_handler = {
    .on_open = echo_open,
    .on_alloc = echo_alloc,
    .on_read = echo_read,
    .on_timeout = echo_timeout,
    .on_close = echo_close,
};

struct run {
    struct hb_net_config cfg;
    pthread_t thread;
    int rc;
};

static void *serve_thread(void *arg)
{
    struct run *run = arg;
    run->rc = hb_net_serve(&run->cfg);
    return NULL;
}

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sin);
    ASSERT(bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0);
    ASSERT(getsockname(fd, (struct sockaddr *)&sin, &len) == 0);
    close(fd);
    return ntohs(sin.sin_port);
}

static void start(struct run *run, int max_conns, int max_per_ip, const char *const *trusted,
                  int n_trusted)
{
    memset(run, 0, sizeof(*run));
    run->cfg = (struct hb_net_config){
        .host = "127.0.0.1",
        .port = free_port(),
        .n_workers = 2,
        .backlog = 64,
        .max_conns = max_conns,
        .max_conns_per_ip = max_per_ip,
        .trusted_peers = trusted,
        .n_trusted_peers = n_trusted,
        .over_capacity = BUSY,
        .drain_timeout_ms = 2000,
        .handler = &echo_handler,
    };
    ASSERT(pthread_create(&run->thread, NULL, serve_thread, run) == 0);
    for (int i = 0; i < 200 && hb_net_bound_port() == 0; i++)
        usleep(5000);
    ASSERT_EQ_INT(hb_net_bound_port(), run->cfg.port);
}

static int stop(struct run *run)
{
    hb_net_stop();
    ASSERT(pthread_join(run->thread, NULL) == 0);
    return run->rc;
}

static int dial(int port)
{
    struct sockaddr_in sin = {.sin_family = AF_INET,
                              .sin_port = htons((uint16_t)port),
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct timeval tv = {.tv_sec = 3};
    /* The listeners start just after the port is bound: retry a refused connect briefly. */
    for (int attempt = 0;; attempt++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        ASSERT(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == 0);
        if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0)
            return fd;
        ASSERT(errno == ECONNREFUSED && attempt < 100);
        close(fd);
        usleep(10000);
    }
}

/* Reads until the peer closes (or 3 s pass); returns what arrived, NUL-terminated. */
static char *read_all(int fd, char *out, size_t out_len)
{
    size_t n = 0;
    for (;;) {
        ssize_t got = recv(fd, out + n, out_len - 1 - n, 0);
        if (got <= 0)
            break;
        n += (size_t)got;
    }
    out[n] = '\0';
    return out;
}

/* Sends s and expects it echoed back. */
static void expect_echo(int fd, const char *s)
{
    char buf[256];
    size_t len = strlen(s), n = 0;
    ASSERT(send(fd, s, len, 0) == (ssize_t)len);
    while (n < len) {
        ssize_t got = recv(fd, buf + n, sizeof(buf) - n, 0);
        ASSERT(got > 0);
        n += (size_t)got;
    }
    ASSERT_EQ_MEM(buf, n, s);
}

HB_TEST(net, echo_half_close_and_stop)
{
    struct run run;
    char buf[256];
    n_closed = 0;
    start(&run, 100, -1, NULL, 0);
    int fd = dial(run.cfg.port);
    expect_echo(fd, "hello\n");
    ASSERT(shutdown(fd, SHUT_WR) == 0);
    ASSERT_EQ_STR(read_all(fd, buf, sizeof(buf)), "bye\n");
    close(fd);
    int idle = dial(run.cfg.port);
    expect_echo(idle, "x");
    ASSERT(hb_net_open_conns() >= 1);
    ASSERT_EQ_INT(stop(&run), 0);
    ASSERT_EQ_INT(hb_net_open_conns(), 0);
    ASSERT_EQ_INT(n_closed, 2); /* every connection the handler saw was closed through it */
    ASSERT_EQ_STR(read_all(idle, buf, sizeof(buf)), "");
    close(idle);
}

HB_TEST(net, connection_cap_answers_then_closes)
{
    struct run run;
    char buf[256];
    start(&run, 2, -1, NULL, 0);
    int a = dial(run.cfg.port), b = dial(run.cfg.port);
    expect_echo(a, "a");
    expect_echo(b, "b");
    int c = dial(run.cfg.port);
    /* Unread request bytes must not turn the answer into a reset. */
    ASSERT(send(c, "GET / HTTP/1.1\r\n\r\n", 18, 0) == 18);
    ASSERT_EQ_STR(read_all(c, buf, sizeof(buf)), BUSY);
    close(c);
    close(a);
    usleep(100000);
    int d = dial(run.cfg.port);
    expect_echo(d, "d");
    close(b);
    close(d);
    ASSERT_EQ_INT(stop(&run), 0);
}

HB_TEST(net, per_address_cap_spares_trusted_peers)
{
    static const char *const trusted[] = {"192.0.2.1"}; /* loopback is not trusted here */
    struct run run;
    char buf[256];
    int fds[3];
    start(&run, 100, 3, trusted, 1);
    for (int i = 0; i < 3; i++) {
        fds[i] = dial(run.cfg.port);
        expect_echo(fds[i], "ok");
    }
    int extra = dial(run.cfg.port);
    ASSERT_EQ_STR(read_all(extra, buf, sizeof(buf)), BUSY);
    close(extra);
    /* A slot frees when a connection closes. */
    close(fds[0]);
    usleep(100000);
    fds[0] = dial(run.cfg.port);
    expect_echo(fds[0], "again");
    for (int i = 0; i < 3; i++)
        close(fds[i]);
    ASSERT_EQ_INT(stop(&run), 0);

    /* Loopback trusted by default: no per-address cap. */
    start(&run, 100, 2, NULL, 0);
    for (int i = 0; i < 3; i++) {
        fds[i] = dial(run.cfg.port);
        expect_echo(fds[i], "ok");
    }
    for (int i = 0; i < 3; i++)
        close(fds[i]);
    ASSERT_EQ_INT(stop(&run), 0);
}

HB_TEST(net, per_address_table_survives_churn)
{
    static const char *const trusted[] = {"192.0.2.1"};
    struct run run;
    start(&run, 8, 8, trusted, 1);
    for (int round = 0; round < 50; round++) {
        int fds[4];
        for (int i = 0; i < 4; i++) {
            fds[i] = dial(run.cfg.port);
            expect_echo(fds[i], "x");
        }
        for (int i = 0; i < 4; i++)
            close(fds[i]);
        for (int i = 0; i < 100 && hb_net_open_conns() > 0; i++)
            usleep(2000);
    }
    ASSERT_EQ_INT(hb_net_open_conns(), 0);
    ASSERT_EQ_INT(stop(&run), 0);
}

HB_TEST(net, address_in_use_is_refused)
{
    /* Another process's listener, with or without SO_REUSEPORT, makes serve fail at once. */
    for (int shared = 0; shared < 2; shared++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        int one = 1;
        struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t len = sizeof(sin);
        if (shared)
            ASSERT(setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) == 0);
        ASSERT(bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0);
        ASSERT(listen(fd, 8) == 0);
        ASSERT(getsockname(fd, (struct sockaddr *)&sin, &len) == 0);
        struct hb_net_config cfg = {
            .host = "127.0.0.1",
            .port = ntohs(sin.sin_port),
            .n_workers = 2,
            .backlog = 8,
            .max_conns = 10,
            .handler = &echo_handler,
        };
        ASSERT_EQ_INT(hb_net_serve(&cfg), -EADDRINUSE);
        close(fd);
    }
    struct hb_net_config bad = {.host = "not-an-ip", .port = 1, .n_workers = 1};
    ASSERT(hb_net_serve(&bad) < 0);
}

HB_TEST(net, port_zero_binds_every_worker_to_one_port)
{
    struct run run;
    start(&run, 100, -1, NULL, 0);
    ASSERT_EQ_INT(stop(&run), 0);
    memset(&run, 0, sizeof(run));
    run.cfg = (struct hb_net_config){.host = "127.0.0.1",
                                     .port = 0,
                                     .n_workers = 3,
                                     .backlog = 8,
                                     .max_conns = 100,
                                     .drain_timeout_ms = 1000,
                                     .handler = &echo_handler};
    ASSERT(pthread_create(&run.thread, NULL, serve_thread, &run) == 0);
    for (int i = 0; i < 200 && hb_net_bound_port() == 0; i++)
        usleep(5000);
    int port = hb_net_bound_port();
    ASSERT(port > 0);
    for (int i = 0; i < 12; i++) {
        int fd = dial(port);
        expect_echo(fd, "p");
        close(fd);
    }
    ASSERT_EQ_INT(stop(&run), 0);
}
