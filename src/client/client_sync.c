/* SPDX-License-Identifier: MIT */
/* Blocking client sockets (client layer). connect() runs non-blocking under poll() so it can
 * time out; afterwards the socket is blocking and the kernel enforces the timeouts. */
#include "client/client_sync.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/time.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/err.h"

void hb_client_sync_init(struct hb_client_sync *c)
{
    c->fd = -1;
    c->_timeout_ms = 0;
}

static int set_blocking(int fd, int is_blocking)
{
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0)
        return -errno;
    flags = is_blocking ? (flags & ~O_NONBLOCK) : (flags | O_NONBLOCK);
    return fcntl(fd, F_SETFL, flags) < 0 ? -errno : 0;
}

int hb_client_sync_connect(struct hb_client_sync *c, const struct sockaddr *addr,
                           socklen_t addr_len, uint64_t timeout_ms)
{
    hb_client_sync_close(c);
    int fd = socket(addr->sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -errno;
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));

    int err = 0;
    if (connect(fd, addr, addr_len) < 0) {
        if (errno != EINPROGRESS) {
            err = -errno;
            goto fail;
        }
        uint64_t deadline = hb_clock_mono_ns() + timeout_ms * 1000000u;
        for (;;) {
            uint64_t now = hb_clock_mono_ns();
            if (now >= deadline) {
                err = HB_ETIMEDOUT;
                goto fail;
            }
            struct pollfd pfd = {.fd = fd, .events = POLLOUT};
            int n = poll(&pfd, 1, (int)((deadline - now + 999999u) / 1000000u));
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0) {
                err = -errno;
                goto fail;
            }
            if (n > 0)
                break;
        }
        int so_error = 0;
        socklen_t len = sizeof(so_error);
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &len) < 0) {
            err = -errno;
            goto fail;
        }
        if (so_error != 0) {
            err = -so_error;
            goto fail;
        }
    }
    err = set_blocking(fd, 1);
    if (err < 0)
        goto fail;
    c->fd = fd;
    c->_timeout_ms = 0;
    hb_client_sync_set_timeout(c, timeout_ms);
    return 0;

fail:
    close(fd);
    return err;
}

void hb_client_sync_set_timeout(struct hb_client_sync *c, uint64_t timeout_ms)
{
    if (timeout_ms == 0)
        timeout_ms = 1;
    if (c->fd < 0 || timeout_ms == c->_timeout_ms)
        return;
    struct timeval tv = {.tv_sec = (time_t)(timeout_ms / 1000),
                         .tv_usec = (suseconds_t)(timeout_ms % 1000) * 1000};
    (void)setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    (void)setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    c->_timeout_ms = timeout_ms;
}

static int map_errno(int e)
{
    return (e == EAGAIN || e == EWOULDBLOCK) ? HB_ETIMEDOUT : -e;
}

int hb_client_sync_send(struct hb_client_sync *c, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = send(c->fd, buf, len, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return map_errno(errno);
        }
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

ssize_t hb_client_sync_recv(struct hb_client_sync *c, char *buf, size_t cap)
{
    for (;;) {
        ssize_t n = recv(c->fd, buf, cap, 0);
        if (n >= 0)
            return n;
        if (errno != EINTR)
            return map_errno(errno);
    }
}

void hb_client_sync_close(struct hb_client_sync *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    c->_timeout_ms = 0;
}
