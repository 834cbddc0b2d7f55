/* SPDX-License-Identifier: MIT */
/* Event loops, listeners and TCP connections (net layer): the only code that includes <uv.h>.
 * hb_net_serve() runs N worker threads, each with its own libuv loop and its own SO_REUSEPORT
 * listener, so the kernel spreads connections over workers with no shared accept lock. A
 * connection belongs to one worker for its whole life; every callback for it runs on that
 * worker's thread. A connection is freed only after its handler's on_close has run. */
#ifndef HB_NET_NET_H
#define HB_NET_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/buf.h"
#include "core/fiber.h"

struct hb_net;
struct hb_net_worker;
struct hb_conn;

/* The nread values of on_read that are not errors (libuv's UV_EOF and UV_ENOBUFS). */
#define HB_NET_EOF    (-4095)
#define HB_NET_NOBUFS (-105)

/* Callbacks a protocol layer (http_server) gives the net layer. All run on the conn's worker. */
struct hb_conn_handler {
    /* A new connection: set its data with hb_conn_set_data(). */
    void (*on_open)(struct hb_conn *conn);
    /* Gives the space the next read lands in. *len == 0 pauses reading until resumed. */
    void (*on_alloc)(struct hb_conn *conn, char **base, size_t *len);
    /* nread > 0 bytes landed in the space from on_alloc. nread < 0: HB_NET_EOF (the peer
     * half-closed; it may still read), HB_NET_NOBUFS (on_alloc gave no space; reading is
     * stopped until hb_conn_read_start()), or another error (a libuv status), after which the
     * handler closes the connection. */
    void (*on_read)(struct hb_conn *conn, ssize_t nread);
    /* The timer set by hb_conn_set_timeout() fired. */
    void (*on_timeout)(struct hb_conn *conn);
    /* Everything written so far reached the kernel. Optional. */
    void (*on_drain)(struct hb_conn *conn);
    /* The server is shutting down: finish what is in flight and close. */
    void (*on_shutdown)(struct hb_conn *conn);
    /* The connection is closed; release the data. The conn is freed after this returns. */
    void (*on_close)(struct hb_conn *conn);
};

struct hb_net_config {
    const char *host; /* IPv4 or IPv6 literal */
    int port;
    int n_workers;
    int backlog;
    int max_conns;        /* across workers; beyond it over_capacity is written, then close */
    int max_conns_per_ip; /* per peer address; 0: HB_NET_DEFAULT_MAX_CONNS_PER_IP; < 0: none */
    const char *const *trusted_peers; /* exempt from max_conns_per_ip; NULL: loopback only */
    int n_trusted_peers;
    const char *over_capacity; /* full HTTP response bytes written to refused connections */
    int drain_timeout_ms;      /* shutdown: connections still open after this are closed */
    const struct hb_conn_handler *handler;
    /* Called on each worker thread after its loop exists and before it accepts, and after its
     * loop has stopped. Optional. */
    void (*on_worker_start)(struct hb_net_worker *worker, void *ctx);
    void (*on_worker_stop)(struct hb_net_worker *worker, void *ctx);
    void *ctx;
};

/* API.md §11: 512 connections per client address, except trusted proxies. */
#define HB_NET_DEFAULT_MAX_CONNS_PER_IP 512

/* Binds every worker's listener (so a bad address fails before anything runs), then runs the
 * workers until SIGTERM or SIGINT and the drain that follows. A second signal exits at once.
 * Returns 0 after a clean drain, or a negative error (bind failure: the message is logged). */
int hb_net_serve(const struct hb_net_config *cfg);

/* The port the listeners are bound to (useful with port 0), or 0 before they are. */
int hb_net_bound_port(void);

/* Asks a running hb_net_serve() to shut down as if signalled. Thread-safe. */
void hb_net_stop(void);

/* True once shutdown has begun. */
bool hb_net_is_draining(void);

/* Open TCP connections across all workers (a gauge for /metrics). */
long hb_net_open_conns(void);

int hb_net_worker_index(const struct hb_net_worker *worker);
void *hb_net_worker_data(const struct hb_net_worker *worker);
void hb_net_worker_set_data(struct hb_net_worker *worker, void *data);
/* The worker of the calling thread, or NULL outside worker threads. */
struct hb_net_worker *hb_net_worker_current(void);

/* The libuv loop of a worker, typed as void * so callers need not include <uv.h>: only code in
 * layers allowed to include <uv.h> may use it. */
void *hb_net_worker_loop(struct hb_net_worker *worker);

void *hb_conn_data(const struct hb_conn *conn);
void hb_conn_set_data(struct hb_conn *conn, void *data);
struct hb_net_worker *hb_conn_worker(const struct hb_conn *conn);

/* Hands the connection to another protocol (an HTTP upgrade to WebSocket): every later callback
 * goes to handler. The caller must have released its own data first or pass it on with
 * hb_conn_set_data(). */
void hb_conn_set_handler(struct hb_conn *conn, const struct hb_conn_handler *handler);

/* The peer address as text ("127.0.0.1"), valid for the connection's life. */
const char *hb_conn_peer(const struct hb_conn *conn);

/* The buffer to append outgoing bytes to; hb_conn_flush() sends them. Valid until close. */
struct hb_buf *hb_conn_out(struct hb_conn *conn);

/* Sends what is in hb_conn_out(): tries a direct write first and queues the rest. */
void hb_conn_flush(struct hb_conn *conn);

/* Bytes accepted by hb_conn_flush() but not yet taken by the kernel. */
size_t hb_conn_pending(const struct hb_conn *conn);

/* Stops or resumes reading (backpressure, or while a request is being answered). */
void hb_conn_read_stop(struct hb_conn *conn);
void hb_conn_read_start(struct hb_conn *conn);

/* Arms the connection's one timer (timeout_ms > 0) or stops it (0). */
void hb_conn_set_timeout(struct hb_conn *conn, uint64_t timeout_ms);

/* Arms a second, application timer that calls cb(conn) once; 0 stops it. Used by handlers that
 * wait (GET /slow/); it cannot outlive the connection. */
void hb_conn_set_app_timer(struct hb_conn *conn, uint64_t timeout_ms,
                           void (*cb)(struct hb_conn *conn));

/* Closes now: pending output is dropped. on_close runs later, from the loop. */
void hb_conn_close(struct hb_conn *conn);

/* Closes after pending output is written: shuts down the write side, discards further input
 * for a short linger (so the peer reads the response rather than a reset), then closes. */
void hb_conn_close_after_write(struct hb_conn *conn);

bool hb_conn_is_closing(const struct hb_conn *conn);

/* Runs work(arg) in a fiber on the conn's loop (core/fiber.h), then done(conn, arg) there too,
 * with the same guarantees as hb_conn_queue_work(). work may wait with hb_net_fiber_wait() and
 * the other hb_net_fiber_* calls; each gives the loop back until what it waits for happens. */
void hb_conn_run_fiber(struct hb_conn *conn, void (*work)(void *arg),
                       void (*done)(struct hb_conn *conn, void *arg), void *arg);

/* ---- Fibers on a worker's loop ----
 * Inside a fiber on a worker thread these park the fiber and let the loop run; anywhere else
 * they block the calling thread, which is right on pool and background threads. */

#define HB_NET_READABLE 1
#define HB_NET_WRITABLE 2

/* Waits until fd is ready for one of events (HB_NET_READABLE | HB_NET_WRITABLE), or timeout_ms
 * passes (< 0: no limit; fd < 0: just the pause). Returns 0, or a negative errno. */
int hb_net_fiber_wait(int fd, int events, int timeout_ms);

/* Runs fn(arg) on the thread pool and waits for it: CPU-heavy steps of a fiber. */
void hb_net_fiber_offload(void (*fn)(void *arg), void *arg);

/* Parks the running fiber until somebody calls hb_net_fiber_unpark() for it. */
void hb_net_fiber_park(void);

/* Schedules the parked fiber f (of this thread) to carry on at the loop's next turn. */
void hb_net_fiber_unpark(struct hb_fiber *f);

/* Runs work(arg) on the thread pool, then done(conn, arg) on the conn's loop. The conn stays
 * allocated until done has run, but may be closing by then (check hb_conn_is_closing()). */
void hb_conn_queue_work(struct hb_conn *conn, void (*work)(void *arg),
                        void (*done)(struct hb_conn *conn, void *arg), void *arg);

#endif
