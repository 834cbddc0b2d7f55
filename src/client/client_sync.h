/* SPDX-License-Identifier: MIT */
/* A blocking TCP client connection (client layer), for the serial and threads modes of the
 * load generator: one socket, one request at a time, each call bounded by a timeout. The socket
 * stays in blocking mode with SO_RCVTIMEO/SO_SNDTIMEO, so a request costs one send and usually
 * one recv, as in the seed experiment's thread pool; the timeout is changed only when a caller
 * asks for a different one. */
#ifndef HB_CLIENT_SYNC_H
#define HB_CLIENT_SYNC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

struct hb_client_sync {
    int fd;               /* -1 when closed */
    uint64_t _timeout_ms; /* the socket's current SO_RCVTIMEO/SO_SNDTIMEO */
};

/* Initialises a closed connection. */
void hb_client_sync_init(struct hb_client_sync *c);

/* Connects to addr with TCP_NODELAY, waiting at most timeout_ms (> 0). Returns 0, a negative
 * errno (-ECONNREFUSED, ...) or HB_ETIMEDOUT. On failure the connection stays closed. */
int hb_client_sync_connect(struct hb_client_sync *c, const struct sockaddr *addr,
                           socklen_t addr_len, uint64_t timeout_ms);

/* Sets the timeout of the following send and recv calls (milliseconds, > 0). */
void hb_client_sync_set_timeout(struct hb_client_sync *c, uint64_t timeout_ms);

/* Sends all len bytes. Returns 0, a negative errno (-EPIPE, -ECONNRESET) or HB_ETIMEDOUT. */
int hb_client_sync_send(struct hb_client_sync *c, const char *buf, size_t len);

/* Receives up to cap bytes. Returns the count (> 0), 0 when the peer closed, a negative errno
 * or HB_ETIMEDOUT. */
ssize_t hb_client_sync_recv(struct hb_client_sync *c, char *buf, size_t cap);

/* Closes the socket if open. Safe to call twice. */
void hb_client_sync_close(struct hb_client_sync *c);

#endif
