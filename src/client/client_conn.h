/* SPDX-License-Identifier: MIT */
/* An asynchronous client TCP connection on a libuv loop (client layer), built for load
 * generation: the caller embeds the struct (no allocation per connection or per request),
 * writes bytes it keeps alive itself (pre-built requests, never copied), and every connection
 * of a loop reads into one shared buffer that is only valid during the read callback, which
 * suits parsers that work in place (http_client). All callbacks run on the loop's thread.
 * Lifecycle: open -> on_connect -> (write / on_read)* -> close -> on_close; after on_close the
 * struct may be opened again (a reconnect) or freed. */
#ifndef HB_CLIENT_CONN_H
#define HB_CLIENT_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <uv.h>

struct hb_client_conn;

struct hb_client_conn_ops {
    /* The connection is up (status 0) or could not be made (a negative libuv status); after a
     * failure the caller closes it. */
    void (*on_connect)(struct hb_client_conn *conn, int status);
    /* nread > 0 bytes arrived in buf (shared; valid only during the call); nread < 0 is EOF
     * (UV_EOF) or an error, and the caller closes the connection. */
    void (*on_read)(struct hb_client_conn *conn, const char *buf, ssize_t nread);
    /* A write that could not finish at once has finished (status 0) or failed. Optional. */
    void (*on_write)(struct hb_client_conn *conn, int status);
    /* The handle is closed: the struct may be reused or freed. */
    void (*on_close)(struct hb_client_conn *conn);
};

struct hb_client_conn {
    uv_tcp_t _tcp;
    uv_connect_t _connect;
    uv_write_t _write;
    uv_buf_t _pending; /* the part of a write the kernel did not take at once */
    const struct hb_client_conn_ops *_ops;
    char *_read_buf; /* shared by the loop's connections */
    size_t _read_buf_len;
    bool is_open;      /* between open and on_close */
    bool is_connected; /* on_connect(0) ran and close has not been called */
    bool is_writing;   /* a write is queued: wait for on_write before writing again */
    bool is_closing;   /* close was called; on_close is coming */
    void *data;        /* the caller's */
};

/* Starts connecting conn to addr on loop with TCP_NODELAY. Reads land in read_buf[0..len),
 * which must outlive the connection and may be shared by every connection of the loop.
 * Returns 0: on_connect runs (unless close comes first), and on_close after a close. Or returns
 * a negative libuv status: no callback runs, and the struct can be opened again once the loop
 * has turned (is_open is false again); UV_EBUSY means it is still closing. */
int hb_client_conn_open(struct hb_client_conn *conn, uv_loop_t *loop, const struct sockaddr *addr,
                        char *read_buf, size_t read_buf_len, const struct hb_client_conn_ops *ops,
                        void *data);

/* Writes buf[0..len), which the caller keeps valid and unchanged until the write is done.
 * Tries the kernel at once (uv_try_write); what it does not take is queued, is_writing is set
 * and on_write follows. Returns 0 or a negative libuv status (the caller closes). Must not be
 * called while is_writing or before on_connect(0). */
int hb_client_conn_write(struct hb_client_conn *conn, const char *buf, size_t len);

/* Closes the connection; a queued write fails with UV_ECANCELED first. on_close runs later from
 * the loop. Calling it again while closing does nothing. */
void hb_client_conn_close(struct hb_client_conn *conn);

#endif
