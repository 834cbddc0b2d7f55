/* SPDX-License-Identifier: MIT */
/* Unit tests for the Redis bridge against a real redis-server started on a free loopback port
 * (fork/exec; a missing redis-server fails the test, it is never skipped). Covers ordered,
 * binary-safe delivery to two bridges, SIGKILL and restart of Redis (reconnect, resubscribe,
 * on_ready(true), queued messages sent or counted as dropped), a frozen Redis noticed by PING,
 * the queue bounds, prompt stop while Redis is unreachable or mute, one log line per loss, and
 * the URL parser. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#endif

#include "core/clock.h"
#include "core/err.h"
#include "pubsub/pubsub_redis.h"
#include "unit.h"

#define N_SEQ 20000

static const char *const channel_of[2] = {"hb:chat", "hb:bbs"};

static uint64_t now_ms(void)
{
    return hb_clock_mono_ns() / 1000000;
}

#define WAIT_FOR(cond, ms)                                                                         \
    do {                                                                                           \
        uint64_t deadline_ = now_ms() + (ms);                                                      \
        while (!(cond)) {                                                                          \
            if (now_ms() > deadline_)                                                              \
                HB_FAIL_("timed out after %d ms waiting for %s", (int)(ms), #cond);                \
            usleep(2000);                                                                          \
        }                                                                                          \
    } while (0)

/* ---- A throw-away redis-server ---- */

static pid_t redis_pid = -1;

static void redis_kill(void)
{
    if (redis_pid > 0) {
        kill(redis_pid, SIGKILL);
        waitpid(redis_pid, NULL, 0);
        redis_pid = -1;
    }
}

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sa_len = sizeof(sa);
    ASSERT(fd >= 0);
    ASSERT(bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
    ASSERT(getsockname(fd, (struct sockaddr *)&sa, &sa_len) == 0);
    close(fd);
    return ntohs(sa.sin_port);
}

static bool port_accepts(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bool is_up = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
    close(fd);
    return is_up;
}

/* Starts redis-server on 127.0.0.1:port with extra arguments (NULL-terminated, may be NULL). */
static void redis_start_args(int port, const char *const *extra)
{
    static bool is_registered;
    char port_s[16];
    snprintf(port_s, sizeof(port_s), "%d", port);
    const char *argv[32] = {"redis-server", "--port", port_s,  "--bind", "127.0.0.1",  "--save", "",
                            "--appendonly", "no",     "--dir", "/tmp",   "--loglevel", "warning"};
    int argc = 13;
    for (int i = 0; extra != NULL && extra[i] != NULL; i++)
        argv[argc++] = extra[i];
    ASSERT(argc < 32);
    fflush(NULL);
    pid_t pid = fork();
    ASSERT(pid >= 0);
    if (pid == 0) {
        /* Dies with the test process even when the test is killed by its alarm. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int null_fd = open("/dev/null", O_WRONLY);
        dup2(null_fd, STDOUT_FILENO);
        execvp("redis-server", (char *const *)(uintptr_t)argv);
        fprintf(stderr, "exec redis-server: %s (install Debian's redis-server package)\n",
                strerror(errno));
        _exit(127);
    }
    redis_pid = pid;
    if (!is_registered) {
        atexit(redis_kill);
        is_registered = true;
    }
    uint64_t deadline = now_ms() + 5000;
    while (!port_accepts(port)) {
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            redis_pid = -1;
            HB_FAIL_("redis-server exited with status %d before listening on port %d",
                     WIFEXITED(status) ? WEXITSTATUS(status) : -1, port);
        }
        if (now_ms() > deadline)
            HB_FAIL_("redis-server did not listen on port %d within 5 s", port);
        usleep(5000);
    }
}

static void redis_start(int port)
{
    redis_start_args(port, NULL);
}

/* hb-unit ends each test with _exit(), which skips LeakSanitizer's exit-time check: run it here
 * once everything is stopped and freed. */
static void assert_no_leaks(void)
{
#if defined(__SANITIZE_ADDRESS__)
    ASSERT_EQ_INT(__lsan_do_recoverable_leak_check(), 0);
#endif
}

/* ---- A bridge with recording callbacks ---- */

struct peer {
    struct hb_redis *r;
    atomic_int n_ready, n_reconnected, n_lost;
    atomic_int n_bad;  /* malformed, wrong channel, or out of order */
    atomic_int n_gaps; /* a publisher's sequence skipped numbers */
    atomic_int n_got[2];
    int last_seq[2]; /* bridge thread only */
    atomic_uchar seen[2][N_SEQ];
};

/* Message seq of publisher pub: 'A'+pub, seq as 4 little-endian bytes, a NUL, then seq % 64
 * pattern bytes that include NULs. */
static size_t make_msg(int pub, int seq, char *buf)
{
    size_t n = 0;
    buf[n++] = (char)('A' + pub);
    for (int i = 0; i < 4; i++)
        buf[n++] = (char)((unsigned)seq >> (8 * i));
    buf[n++] = '\0';
    for (int i = 0; i < seq % 64; i++)
        buf[n++] = (char)((seq * 7 + i * 13) & 0xff);
    return n;
}

static void on_message(void *ctx, const char *channel, const char *data, size_t len)
{
    struct peer *p = ctx;
    char want[128];
    int pub = len >= 6 ? data[0] - 'A' : -1;
    if (pub != 0 && pub != 1) {
        atomic_fetch_add(&p->n_bad, 1);
        return;
    }
    int seq = 0;
    for (int i = 0; i < 4; i++)
        seq |= (int)((unsigned)(unsigned char)data[1 + i] << (8 * i));
    size_t want_len = seq >= 0 && seq < N_SEQ ? make_msg(pub, seq, want) : 0;
    if (want_len != len || memcmp(want, data, len) != 0 || strcmp(channel, channel_of[pub]) != 0 ||
        seq <= p->last_seq[pub]) {
        atomic_fetch_add(&p->n_bad, 1);
        return;
    }
    if (seq != p->last_seq[pub] + 1)
        atomic_fetch_add(&p->n_gaps, 1);
    p->last_seq[pub] = seq;
    atomic_store(&p->seen[pub][seq], 1);
    atomic_fetch_add(&p->n_got[pub], 1);
}

static void on_ready(void *ctx, bool is_reconnect)
{
    struct peer *p = ctx;
    atomic_fetch_add(is_reconnect ? &p->n_reconnected : &p->n_ready, 1);
}

static void on_lost(void *ctx)
{
    struct peer *p = ctx;
    atomic_fetch_add(&p->n_lost, 1);
}

static struct peer *peer_new(void)
{
    struct peer *p = calloc(1, sizeof(*p));
    ASSERT(p != NULL);
    p->last_seq[0] = p->last_seq[1] = -1;
    return p;
}

static void peer_start_url(struct peer *p, const char *url, size_t max_msgs, size_t max_bytes)
{
    struct hb_redis_config cfg = {.url = url,
                                  .channels = channel_of,
                                  .n_channels = 2,
                                  .on_message = on_message,
                                  .on_ready = on_ready,
                                  .on_lost = on_lost,
                                  .ctx = p,
                                  .max_queued_msgs = max_msgs,
                                  .max_queued_bytes = max_bytes};
    ASSERT_EQ_INT(hb_redis_start(&cfg, &p->r), 0);
}

static void peer_start(struct peer *p, int port)
{
    char url[64];
    snprintf(url, sizeof(url), "redis://127.0.0.1:%d", port);
    peer_start_url(p, url, 0, 0);
}

static void peer_free(struct peer *p)
{
    hb_redis_stop(p->r);
    free(p);
}

static void publish_range(struct peer *p, int pub, int from, int to)
{
    char buf[128];
    for (int seq = from; seq < to; seq++) {
        size_t len = make_msg(pub, seq, buf);
        hb_redis_publish(p->r, channel_of[pub], buf, len);
    }
}

static int count_seen(struct peer *p, int pub, int from, int to)
{
    int n = 0;
    for (int seq = from; seq < to; seq++)
        n += atomic_load(&p->seen[pub][seq]);
    return n;
}

static struct hb_redis_stats stats_of(const struct peer *p)
{
    struct hb_redis_stats st;
    hb_redis_stats(p->r, &st);
    return st;
}

/* ---- Capturing the bridge's log lines ---- */

static int saved_stderr = -1;
static char log_path[64];

static int count_log(const char *needle);
static void print_log(void);

/* On a failed assertion (exit(1)) the captured lines, failure included, reach the real stderr. */
static void dump_log_at_exit(void)
{
    if (saved_stderr >= 0) {
        (void)count_log("");
        print_log();
    }
}

static void capture_log(void)
{
    static bool is_registered;
    if (!is_registered) {
        atexit(dump_log_at_exit);
        is_registered = true;
    }
    snprintf(log_path, sizeof(log_path), "/tmp/hb-redis-log-XXXXXX");
    int fd = mkstemp(log_path);
    ASSERT(fd >= 0);
    fflush(stderr);
    saved_stderr = dup(STDERR_FILENO);
    dup2(fd, STDERR_FILENO);
    close(fd);
}

/* Restores stderr, echoes what was logged, and returns how many lines contain needle. */
static int count_log(const char *needle)
{
    if (saved_stderr >= 0) {
        fflush(stderr);
        dup2(saved_stderr, STDERR_FILENO);
        close(saved_stderr);
        saved_stderr = -1;
    }
    FILE *f = fopen(log_path, "r");
    ASSERT(f != NULL);
    char line[1024];
    int n = 0;
    while (fgets(line, sizeof(line), f) != NULL) {
        if (strstr(line, needle) != NULL)
            n++;
    }
    fclose(f);
    return n;
}

static void print_log(void)
{
    FILE *f = fopen(log_path, "r");
    char line[1024];
    while (f != NULL && fgets(line, sizeof(line), f) != NULL)
        fprintf(stderr, "  log: %s", line);
    if (f != NULL)
        fclose(f);
    unlink(log_path);
}

/* ---- Tests ---- */

HB_TEST(pubsub_redis, two_bridges_ordered_binary)
{
    int port = free_port();
    redis_start(port);
    struct peer *a = peer_new(), *b = peer_new();
    peer_start(a, port);
    /* b goes through the name lookup (on libuv's thread pool) and must pick 127.0.0.1. */
    char url[64];
    snprintf(url, sizeof(url), "redis://localhost:%d", port);
    peer_start_url(b, url, 0, 0);
    WAIT_FOR(atomic_load(&a->n_ready) == 1 && atomic_load(&b->n_ready) == 1, 5000);
    ASSERT(hb_redis_is_ready(a->r) && hb_redis_is_ready(b->r));

    uint64_t t0 = now_ms();
    publish_range(a, 0, 0, 10000);
    publish_range(b, 1, 0, 100);
    WAIT_FOR(atomic_load(&a->n_got[0]) == 10000 && atomic_load(&b->n_got[0]) == 10000 &&
                 atomic_load(&a->n_got[1]) == 100 && atomic_load(&b->n_got[1]) == 100,
             10000);
    fprintf(stderr, "  10000+100 messages to 2 bridges in %llu ms\n",
            (unsigned long long)(now_ms() - t0));
    ASSERT_EQ_INT(atomic_load(&a->n_bad) + atomic_load(&b->n_bad), 0);
    ASSERT_EQ_INT(atomic_load(&a->n_gaps) + atomic_load(&b->n_gaps), 0);

    WAIT_FOR(stats_of(a).queued == 0 && stats_of(b).queued == 0, 2000);
    struct hb_redis_stats sa = stats_of(a), sb = stats_of(b);
    ASSERT_EQ_INT(sa.published, 10000);
    ASSERT_EQ_INT(sb.published, 100);
    ASSERT_EQ_INT(sa.dropped + sb.dropped, 0);
    ASSERT_EQ_INT(sa.received, 10100);
    ASSERT_EQ_INT(sb.received, 10100);
    ASSERT_EQ_INT(sa.reconnects + sb.reconnects, 0);
    ASSERT_EQ_INT(atomic_load(&a->n_reconnected) + atomic_load(&a->n_lost), 0);

    peer_free(a);
    peer_free(b);
    redis_kill();
    assert_no_leaks();
}

HB_TEST(pubsub_redis, redis_killed_and_restarted)
{
    int port = free_port();
    redis_start(port);
    capture_log();
    struct peer *a = peer_new(), *b = peer_new();
    peer_start(a, port);
    peer_start(b, port);
    WAIT_FOR(atomic_load(&a->n_ready) == 1 && atomic_load(&b->n_ready) == 1, 5000);
    publish_range(a, 0, 0, 10);
    WAIT_FOR(atomic_load(&a->n_got[0]) == 10 && atomic_load(&b->n_got[0]) == 10, 5000);

    redis_kill();
    uint64_t t0 = now_ms();
    WAIT_FOR(atomic_load(&a->n_lost) == 1 && atomic_load(&b->n_lost) == 1, 2000);
    ASSERT(!hb_redis_is_ready(a->r) && !hb_redis_is_ready(b->r));
    uint64_t t_lost = now_ms() - t0;

    /* Published while down: kept in the queue, sent after the reconnect. */
    publish_range(a, 0, 10, 210);
    ASSERT_EQ_INT(stats_of(a).queued, 200);
    usleep(300 * 1000); /* a few failed retries, which must not be logged one by one */

    redis_start(port);
    t0 = now_ms();
    WAIT_FOR(atomic_load(&a->n_reconnected) == 1 && atomic_load(&b->n_reconnected) == 1, 5000);
    uint64_t t_back = now_ms() - t0;
    ASSERT(hb_redis_is_ready(a->r) && hb_redis_is_ready(b->r));
    WAIT_FOR(stats_of(a).queued == 0, 2000);
    struct hb_redis_stats sa = stats_of(a);
    ASSERT_EQ_INT(sa.published + sa.dropped, 210);
    /* a's own subscription is confirmed before its queue is flushed, so a sees every message
     * Redis acknowledged; the rest are counted as dropped. */
    WAIT_FOR(count_seen(a, 0, 10, 210) == (int)(sa.published - 10), 2000);
    ASSERT_EQ_INT(count_seen(a, 0, 10, 210) + (int)sa.dropped, 200);

    /* After the restart both bridges get everything both publish. */
    publish_range(a, 0, 210, 310);
    publish_range(b, 1, 0, 100);
    WAIT_FOR(count_seen(a, 0, 210, 310) == 100 && count_seen(b, 0, 210, 310) == 100 &&
                 count_seen(a, 1, 0, 100) == 100 && count_seen(b, 1, 0, 100) == 100,
             5000);
    ASSERT_EQ_INT(atomic_load(&a->n_bad) + atomic_load(&b->n_bad), 0);
    ASSERT_EQ_INT(stats_of(a).reconnects, 1);
    ASSERT_EQ_INT(stats_of(b).reconnects, 1);
    ASSERT_EQ_INT(atomic_load(&a->n_lost), 1);
    ASSERT_EQ_INT(atomic_load(&a->n_ready), 1);

    peer_free(a);
    peer_free(b);
    redis_kill();
    int n_lost_lines = count_log("connection lost");
    int n_back_lines = count_log("reconnected after");
    int n_retry_lines = count_log("retrying");
    print_log();
    fprintf(stderr, "  loss noticed in %llu ms, back %llu ms after the restart\n",
            (unsigned long long)t_lost, (unsigned long long)t_back);
    ASSERT_EQ_INT(n_lost_lines, 2);
    ASSERT_EQ_INT(n_back_lines, 2);
    ASSERT_EQ_INT(n_retry_lines, 0);
    assert_no_leaks();
}

/* Killed in the middle of a burst: some publishes acknowledged, some in hiredis's buffers, some
 * still queued. Every one must end up acknowledged or counted as dropped, none lost track of. */
HB_TEST(pubsub_redis, redis_killed_mid_burst)
{
    int port = free_port();
    redis_start(port);
    capture_log();
    struct peer *a = peer_new();
    peer_start(a, port);
    WAIT_FOR(atomic_load(&a->n_ready) == 1, 5000);

    publish_range(a, 0, 0, 8000);
    WAIT_FOR(stats_of(a).published > 0, 2000);
    redis_kill();
    WAIT_FOR(atomic_load(&a->n_lost) == 1, 2000);
    struct hb_redis_stats st = stats_of(a);
    ASSERT_EQ_INT(st.published + st.dropped + st.queued, 8000);
    redis_start(port);
    WAIT_FOR(atomic_load(&a->n_reconnected) == 1, 5000);
    WAIT_FOR(stats_of(a).queued == 0, 2000);
    st = stats_of(a);
    fprintf(stderr, "  8000 published around a SIGKILL: %llu acknowledged, %llu dropped\n",
            (unsigned long long)st.published, (unsigned long long)st.dropped);
    ASSERT_EQ_INT(st.published + st.dropped, 8000);
    /* Only the window sent and unacknowledged when Redis died is lost; the rest waited. */
    ASSERT(st.dropped <= 1000);
    ASSERT_EQ_INT(atomic_load(&a->n_bad), 0);
    ASSERT(atomic_load(&a->n_got[0]) <= (int)st.published);

    peer_free(a);
    redis_kill();
    (void)count_log("");
    print_log();
    assert_no_leaks();
}

HB_TEST(pubsub_redis, frozen_redis_noticed_by_ping)
{
    int port = free_port();
    redis_start(port);
    struct peer *a = peer_new();
    peer_start(a, port);
    WAIT_FOR(atomic_load(&a->n_ready) == 1, 5000);

    /* SIGSTOP keeps the sockets open: only the unanswered PING can tell. */
    kill(redis_pid, SIGSTOP);
    uint64_t t0 = now_ms();
    WAIT_FOR(atomic_load(&a->n_lost) == 1, 3000);
    uint64_t t_lost = now_ms() - t0;
    fprintf(stderr, "  frozen redis noticed in %llu ms\n", (unsigned long long)t_lost);
    ASSERT(t_lost >= 700 && t_lost < 2000);
    ASSERT(!hb_redis_is_ready(a->r));

    kill(redis_pid, SIGCONT);
    WAIT_FOR(atomic_load(&a->n_reconnected) == 1, 5000);
    publish_range(a, 0, 0, 3);
    WAIT_FOR(atomic_load(&a->n_got[0]) == 3, 2000);
    ASSERT_EQ_INT(atomic_load(&a->n_bad), 0);

    peer_free(a);
    redis_kill();
    assert_no_leaks();
}

HB_TEST(pubsub_redis, queue_bounds_while_down)
{
    int port = free_port(); /* nothing listens yet */
    char url[64];
    snprintf(url, sizeof(url), "redis://127.0.0.1:%d", port);
    capture_log();
    struct peer *a = peer_new(), *c = peer_new();
    peer_start_url(a, url, 5, 0);
    peer_start_url(c, url, 0, 100);

    publish_range(a, 0, 0, 20);
    struct hb_redis_stats sa = stats_of(a);
    ASSERT_EQ_INT(sa.dropped, 15);
    ASSERT_EQ_INT(sa.queued, 5);
    /* Byte bound: channel + data counted. A 208-byte message never fits; 8 + 32 = 40 bytes fit
     * twice in 100. The channel is one nobody here subscribes to. */
    char big[200] = {0}, small[32] = {0};
    hb_redis_publish(c->r, "hb:other", big, sizeof(big));
    for (int i = 0; i < 3; i++)
        hb_redis_publish(c->r, "hb:other", small, sizeof(small));
    struct hb_redis_stats sc = stats_of(c);
    ASSERT_EQ_INT(sc.dropped, 2);
    ASSERT_EQ_INT(sc.queued, 2);

    usleep(400 * 1000); /* several refused connects */
    ASSERT(!hb_redis_is_ready(a->r));
    ASSERT_EQ_INT(atomic_load(&a->n_ready) + atomic_load(&a->n_lost), 0);

    redis_start(port);
    WAIT_FOR(atomic_load(&a->n_ready) == 1 && atomic_load(&c->n_ready) == 1, 5000);
    ASSERT_EQ_INT(atomic_load(&a->n_reconnected), 0);
    WAIT_FOR(stats_of(a).queued == 0 && stats_of(c).queued == 0, 2000);
    ASSERT_EQ_INT(stats_of(a).published, 5);
    ASSERT_EQ_INT(stats_of(c).published, 2);
    /* The five that fitted are the first five, in order. */
    WAIT_FOR(count_seen(a, 0, 0, 5) == 5, 2000);
    ASSERT_EQ_INT(atomic_load(&a->n_gaps), 0);
    ASSERT_EQ_INT(atomic_load(&a->n_bad), 0);

    peer_free(a);
    peer_free(c);
    redis_kill();
    int n_retry_lines = count_log("retrying");
    int n_connected_lines = count_log("': connected");
    print_log();
    ASSERT_EQ_INT(n_retry_lines, 2); /* one per bridge, however many retries */
    ASSERT_EQ_INT(n_connected_lines, 2);
    assert_no_leaks();
}

HB_TEST(pubsub_redis, stop_while_unreachable_or_mute)
{
    /* Refused: nothing listens. */
    int port = free_port();
    struct peer *a = peer_new();
    peer_start(a, port);
    publish_range(a, 0, 0, 10);
    usleep(300 * 1000);
    uint64_t t0 = now_ms();
    peer_free(a);
    uint64_t t_refused = now_ms() - t0;

    /* Mute: a listener that never accepts, so connects succeed and nothing ever answers. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sa_len = sizeof(sa);
    ASSERT(bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
    ASSERT(listen(fd, 64) == 0);
    ASSERT(getsockname(fd, (struct sockaddr *)&sa, &sa_len) == 0);
    char url[64];
    snprintf(url, sizeof(url), "redis://127.0.0.1:%d/3", ntohs(sa.sin_port));
    struct peer *m = peer_new();
    capture_log();
    peer_start_url(m, url, 0, 0);
    usleep(1500 * 1000);
    ASSERT(!hb_redis_is_ready(m->r));
    ASSERT_EQ_INT(atomic_load(&m->n_ready) + atomic_load(&m->n_lost), 0);
    t0 = now_ms();
    peer_free(m);
    uint64_t t_mute = now_ms() - t0;
    close(fd);
    int n_timeout_lines = count_log("no answer within 1000 ms; retrying");
    print_log();

    fprintf(stderr, "  stop took %llu ms (refused), %llu ms (mute)\n",
            (unsigned long long)t_refused, (unsigned long long)t_mute);
    ASSERT(t_refused < 200);
    ASSERT(t_mute < 200);
    ASSERT_EQ_INT(n_timeout_lines, 1);
    assert_no_leaks();
}

HB_TEST(pubsub_redis, unix_socket_auth_select)
{
    int port = free_port();
    char sock[64], url[128];
    snprintf(sock, sizeof(sock), "/tmp/hb-redis-%d.sock", port);
    const char *const extra[] = {"--unixsocket", sock, "--requirepass", "s3 cr@t", NULL};
    redis_start_args(port, extra);
    capture_log();

    /* The password is percent-encoded; db 2 is SELECTed on both connections. */
    snprintf(url, sizeof(url), "unix://:s3%%20cr%%40t@%s?db=2", sock);
    struct peer *a = peer_new();
    peer_start_url(a, url, 0, 0);
    snprintf(url, sizeof(url), "redis://:wrong@127.0.0.1:%d", port);
    struct peer *wrong = peer_new();
    peer_start_url(wrong, url, 0, 0);
    snprintf(url, sizeof(url), "redis://127.0.0.1:%d", port);
    struct peer *none = peer_new();
    peer_start_url(none, url, 0, 0);
    snprintf(url, sizeof(url), "unix://:s3%%20cr%%40t@%s?db=99", sock);
    struct peer *bad_db = peer_new();
    peer_start_url(bad_db, url, 0, 0);

    WAIT_FOR(atomic_load(&a->n_ready) == 1, 5000);
    publish_range(a, 0, 0, 50);
    publish_range(a, 1, 0, 50);
    WAIT_FOR(atomic_load(&a->n_got[0]) == 50 && atomic_load(&a->n_got[1]) == 50, 5000);
    ASSERT_EQ_INT(atomic_load(&a->n_bad) + atomic_load(&a->n_gaps), 0);
    usleep(300 * 1000); /* the others keep retrying meanwhile */
    ASSERT(!hb_redis_is_ready(wrong->r) && !hb_redis_is_ready(none->r));
    ASSERT(!hb_redis_is_ready(bad_db->r));
    ASSERT_EQ_INT(atomic_load(&wrong->n_ready) + atomic_load(&none->n_ready) +
                      atomic_load(&bad_db->n_ready),
                  0);

    peer_free(a);
    peer_free(wrong);
    peer_free(none);
    peer_free(bad_db);
    redis_kill();
    unlink(sock);
    int n_wrongpass = count_log("AUTH: WRONGPASS");
    int n_noauth = count_log("NOAUTH");
    int n_bad_db = count_log("SELECT: ERR DB index is out of range");
    int n_password = count_log("s3 cr@t");
    print_log();
    ASSERT_EQ_INT(n_wrongpass, 1);
    ASSERT_EQ_INT(n_noauth, 1);
    ASSERT_EQ_INT(n_bad_db, 1);
    ASSERT_EQ_INT(n_password, 0);
    assert_no_leaks();
}

HB_TEST(pubsub_redis, start_rejects_bad_config)
{
    struct hb_redis *r = (struct hb_redis *)(uintptr_t)1;
    static const char *const channels[] = {"c"};
    struct hb_redis_config cfg = {
        .url = "http://localhost", .channels = channels, .n_channels = 1, .on_message = on_message};
    ASSERT_EQ_INT(hb_redis_start(&cfg, &r), HB_EINVAL);
    ASSERT(r == (struct hb_redis *)(uintptr_t)1);
    cfg.url = "redis://127.0.0.1:1";
    cfg.on_message = NULL;
    ASSERT_EQ_INT(hb_redis_start(&cfg, &r), HB_EINVAL);
    cfg.on_message = on_message;
    cfg.n_channels = -1;
    ASSERT_EQ_INT(hb_redis_start(&cfg, &r), HB_EINVAL);
    static const char *const empty[] = {""};
    cfg.channels = empty;
    cfg.n_channels = 1;
    ASSERT_EQ_INT(hb_redis_start(&cfg, &r), HB_EINVAL);
    ASSERT_EQ_INT(hb_redis_start(NULL, &r), HB_EINVAL);
    ASSERT(r == (struct hb_redis *)(uintptr_t)1);
}

HB_TEST(pubsub_redis, url_valid)
{
    struct hb_redis_url u;
    const char *why = NULL;

    ASSERT_EQ_INT(hb_redis_parse_url("redis://127.0.0.1", &u, &why), 0);
    ASSERT_EQ_STR(u.host, "127.0.0.1");
    ASSERT_EQ_INT(u.port, 6379);
    ASSERT_EQ_INT(u.db, 0);
    ASSERT(!u.is_unix && u.password[0] == '\0' && u.username[0] == '\0');

    ASSERT_EQ_INT(hb_redis_parse_url("redis://localhost:6380/2", &u, &why), 0);
    ASSERT_EQ_STR(u.host, "localhost");
    ASSERT_EQ_INT(u.port, 6380);
    ASSERT_EQ_INT(u.db, 2);

    ASSERT_EQ_INT(hb_redis_parse_url("redis://:s%40cr%3At@redis-1.internal:1/0", &u, &why), 0);
    ASSERT_EQ_STR(u.password, "s@cr:t");
    ASSERT_EQ_STR(u.username, "");
    ASSERT_EQ_STR(u.host, "redis-1.internal");
    ASSERT_EQ_INT(u.port, 1);

    ASSERT_EQ_INT(hb_redis_parse_url("redis://hiroba:pw@h", &u, &why), 0);
    ASSERT_EQ_STR(u.username, "hiroba");
    ASSERT_EQ_STR(u.password, "pw");

    /* The last '@' ends the userinfo, as in redis-py. */
    ASSERT_EQ_INT(hb_redis_parse_url("redis://:p@ss@h", &u, &why), 0);
    ASSERT_EQ_STR(u.password, "p@ss");
    ASSERT_EQ_STR(u.host, "h");

    ASSERT_EQ_INT(hb_redis_parse_url("redis://[::1]:7000/3", &u, &why), 0);
    ASSERT_EQ_STR(u.host, "::1");
    ASSERT_EQ_INT(u.port, 7000);
    ASSERT_EQ_INT(u.db, 3);

    ASSERT_EQ_INT(hb_redis_parse_url("REDIS://h?db=4", &u, &why), 0);
    ASSERT_EQ_INT(u.db, 4);
    ASSERT_EQ_INT(hb_redis_parse_url("redis://h:6379/", &u, &why), 0);
    ASSERT_EQ_INT(u.db, 0);

    ASSERT_EQ_INT(hb_redis_parse_url("unix:///run/redis/redis.sock?db=1", &u, &why), 0);
    ASSERT(u.is_unix);
    ASSERT_EQ_STR(u.path, "/run/redis/redis.sock");
    ASSERT_EQ_INT(u.db, 1);
    ASSERT_EQ_INT(hb_redis_parse_url("unix://:pw@/tmp/a@b.sock", &u, &why), 0);
    ASSERT_EQ_STR(u.password, "pw");
    ASSERT_EQ_STR(u.path, "/tmp/a@b.sock");
}

static void expect_bad(const char *url, const char *reason_part)
{
    struct hb_redis_url u;
    const char *why = NULL;
    int err = hb_redis_parse_url(url, &u, &why);
    if (err != HB_EINVAL)
        HB_FAIL_("'%s' parsed (%d), want HB_EINVAL", url ? url : "(null)", err);
    if (why == NULL || strstr(why, reason_part) == NULL)
        HB_FAIL_("'%s': got reason \"%s\", want one containing \"%s\"", url ? url : "(null)",
                 why ? why : "(null)", reason_part);
    /* A failed parse leaves nothing behind, the password least of all. */
    ASSERT(u.host[0] == '\0' && u.password[0] == '\0');
}

HB_TEST(pubsub_redis, url_invalid)
{
    char long_pw[400], long_host[400];
    snprintf(long_pw, sizeof(long_pw), "redis://:%0300d@h", 0);
    snprintf(long_host, sizeof(long_host), "redis://%0300d", 0);

    expect_bad(NULL, "empty");
    expect_bad("", "empty");
    expect_bad("http://h", "must start with redis:// or unix://");
    expect_bad("h:6379", "must start with");
    expect_bad("rediss://h", "TLS");
    expect_bad("redis://", "missing host");
    expect_bad("redis://:pw@/0", "missing host");
    expect_bad("redis://h:0", "port must be a number from 1 to 65535");
    expect_bad("redis://h:65536", "port");
    expect_bad("redis://h:", "port");
    expect_bad("redis://h:63x9", "port");
    expect_bad("redis://h:-1", "port");
    expect_bad("redis://h/x", "database must be a number");
    expect_bad("redis://h/1/2", "database");
    expect_bad("redis://h/1234567890", "database");
    expect_bad("redis://h/-1", "database");
    expect_bad("redis://::1", "brackets");
    expect_bad("redis://[::1", "closing bracket");
    expect_bad("redis://[zz::]:1", "IPv6");
    expect_bad("redis://[]", "IPv6");
    expect_bad("redis://[::1]x", "after the IPv6");
    expect_bad("redis://h ost", "space");
    expect_bad("redis://h\n", "control");
    expect_bad("redis://h\x7f", "control");
    expect_bad("redis://pw@h", "colon");
    expect_bad("redis://:%zz@h", "percent-encoding");
    expect_bad("redis://:%4@h", "percent-encoding");
    expect_bad("redis://:%00@h", "NUL");
    expect_bad("redis://h?foo=1", "parameter");
    expect_bad("redis://h?db=x", "database");
    expect_bad("redis://h/1?db=2", "twice");
    expect_bad("redis://h#frag", "'#'");
    expect_bad("redis://h_o$t", "host name holds");
    expect_bad("redis://h%41", "host name holds");
    expect_bad("unix://host/tmp/r.sock", "takes no host");
    expect_bad("unix://", "missing socket path");
    expect_bad("unix:///", "missing socket path");
    expect_bad(long_pw, "password is too long");
    expect_bad(long_host, "host name is too long");
}
