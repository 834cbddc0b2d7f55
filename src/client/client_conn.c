/* SPDX-License-Identifier: MIT */
/* libuv glue for client connections (client layer). Writes go through uv_try_write first: on
 * loopback the kernel nearly always takes a whole batch of requests, so the common path is one
 * write(2) and no uv_write_t bookkeeping; only a remainder is queued. */
#include "client/client_conn.h"

#include <assert.h>
#include <string.h>

static struct hb_client_conn *conn_of_handle(void *handle)
{
    return (struct hb_client_conn *)((char *)handle - offsetof(struct hb_client_conn, _tcp));
}

static void on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
    struct hb_client_conn *conn = conn_of_handle(handle);
    (void)suggested;
    buf->base = conn->_read_buf;
    buf->len = conn->_read_buf_len;
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    struct hb_client_conn *conn = conn_of_handle(stream);
    (void)buf;
    if (nread == 0 || conn->is_closing)
        return; /* EAGAIN, or bytes that raced with a close */
    conn->_ops->on_read(conn, nread > 0 ? conn->_read_buf : NULL, nread);
}

static void on_connect(uv_connect_t *req, int status)
{
    struct hb_client_conn *conn = req->data;
    if (conn->is_closing)
        return; /* UV_ECANCELED from a close during connect: on_close follows */
    if (status == 0) {
        status = uv_read_start((uv_stream_t *)&conn->_tcp, on_alloc, on_read);
        conn->is_connected = status == 0;
    }
    conn->_ops->on_connect(conn, status);
}

static void on_close_silent(uv_handle_t *handle)
{
    struct hb_client_conn *conn = conn_of_handle(handle);
    conn->is_open = false;
    conn->is_closing = false;
}

int hb_client_conn_open(struct hb_client_conn *conn, uv_loop_t *loop, const struct sockaddr *addr,
                        char *read_buf, size_t read_buf_len, const struct hb_client_conn_ops *ops,
                        void *data)
{
    if (conn->is_open)
        return UV_EBUSY;
    memset(conn, 0, sizeof(*conn));
    conn->_ops = ops;
    conn->_read_buf = read_buf;
    conn->_read_buf_len = read_buf_len;
    conn->data = data;
    int err = uv_tcp_init(loop, &conn->_tcp);
    if (err < 0)
        return err;
    conn->is_open = true;
    (void)uv_tcp_nodelay(&conn->_tcp, 1);
    conn->_connect.data = conn;
    err = uv_tcp_connect(&conn->_connect, &conn->_tcp, addr, on_connect);
    if (err < 0) {
        /* Failed at once (EMFILE, a bad address): no callback may run, by the libuv rule. */
        conn->is_closing = true;
        uv_close((uv_handle_t *)&conn->_tcp, on_close_silent);
        return err;
    }
    return 0;
}

static void on_write(uv_write_t *req, int status)
{
    struct hb_client_conn *conn = req->data;
    conn->is_writing = false;
    if (conn->_ops->on_write != NULL && !conn->is_closing)
        conn->_ops->on_write(conn, status);
}

int hb_client_conn_write(struct hb_client_conn *conn, const char *buf, size_t len)
{
    assert(conn->is_connected && !conn->is_writing);
    /* libuv's buffers are not const, but a write never changes them: drop the qualifier
     * without a cast that -Wcast-qual (or an int-to-pointer round trip) would flag. */
    char *base;
    memcpy(&base, &buf, sizeof(base));
    uv_buf_t b = uv_buf_init(base, (unsigned int)len);
    int n = uv_try_write((uv_stream_t *)&conn->_tcp, &b, 1);
    if (n == (int)len)
        return 0;
    if (n < 0 && n != UV_EAGAIN)
        return n;
    if (n > 0) {
        b.base += n;
        b.len -= (size_t)n;
    }
    conn->_pending = b;
    conn->_write.data = conn;
    int err = uv_write(&conn->_write, (uv_stream_t *)&conn->_tcp, &conn->_pending, 1, on_write);
    if (err < 0)
        return err;
    conn->is_writing = true;
    return 0;
}

static void on_close(uv_handle_t *handle)
{
    struct hb_client_conn *conn = conn_of_handle(handle);
    conn->is_open = false;
    conn->is_closing = false;
    conn->is_writing = false;
    conn->_ops->on_close(conn);
}

void hb_client_conn_close(struct hb_client_conn *conn)
{
    if (!conn->is_open || conn->is_closing)
        return;
    conn->is_closing = true;
    conn->is_connected = false;
    uv_close((uv_handle_t *)&conn->_tcp, on_close);
}
