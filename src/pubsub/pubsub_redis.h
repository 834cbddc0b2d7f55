/* SPDX-License-Identifier: MIT */
/* The Redis bridge (pubsub layer): shares events between hiroba instances through Redis pub/sub.
 * One bridge thread runs its own libuv loop with two hiredis async connections, one SUBSCRIBEd
 * and one for PUBLISH (a subscribed connection cannot publish), so no worker loop ever waits on
 * Redis. Publishing from any thread is a bounded, mutex-guarded append plus uv_async_send; the
 * bridge reconnects with backoff and reports each (re)established subscription, because Redis
 * pub/sub keeps nothing for a disconnected subscriber and the caller catches up from its database.
 */
#ifndef HB_PUBSUB_REDIS_H
#define HB_PUBSUB_REDIS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct hb_redis;

/* Where to connect, as parsed from a URL. The password stays in memory only as long as the
 * struct; hb_redis_stop() wipes its copy. */
struct hb_redis_url {
    bool is_unix;       /* path is set instead of host and port */
    char host[256];     /* host name or IP literal (an IPv6 one without its brackets) */
    int port;           /* 1..65535, 6379 by default */
    char path[108];     /* unix socket path (sun_path's size) */
    char username[128]; /* Redis 6 ACL user, "" for none */
    char password[256]; /* "" for none; percent-decoded */
    int db;             /* SELECTed when not 0 */
};

/* Parses url, one of
 *   redis://[[username]:password@]host[:port][/db][?db=N]   (host may be [IPv6])
 *   unix://[[username]:password@]/path/to/socket[?db=N]
 * with percent-encoding allowed in the username and password (as redis-py reads them).
 * Returns 0 and fills *out, or HB_EINVAL and points *why (when why is not NULL) at a static,
 * lower-case sentence saying what is wrong, which never quotes the password. TLS (rediss://) is
 * refused: hiredis 0.14 cannot speak it. */
int hb_redis_parse_url(const char *url, struct hb_redis_url *out, const char **why);

/* Counters since start; each is read atomically on its own, not as one snapshot. */
struct hb_redis_stats {
    uint64_t published;  /* PUBLISH commands Redis acknowledged */
    uint64_t received;   /* messages handed to on_message */
    uint64_t dropped;    /* publishes given up: queue full, unacknowledged when a connection
                            failed, refused by Redis, or still queued at stop */
    uint64_t reconnects; /* subscriptions re-established after a loss (on_ready with true) */
    uint64_t queued;     /* publishes accepted and neither acknowledged nor dropped yet */
};

struct hb_redis_config {
    const char *url; /* as for hb_redis_parse_url; copied */
    /* Channels to SUBSCRIBE to (copied); n_channels may be 0 for a publish-only bridge. */
    const char *const *channels;
    int n_channels;
    /* Called on the bridge thread for every message received on a subscribed channel, in the
     * order Redis delivered them; channel and data are borrowed until the callback returns.
     * data is binary (may hold NUL bytes). On a (re)connect, messages on the channels confirmed
     * first may arrive shortly before on_ready. Required when n_channels > 0. */
    void (*on_message)(void *ctx, const char *channel, const char *data, size_t len);
    /* Called on the bridge thread each time the bridge becomes ready: every SUBSCRIBE confirmed
     * and the publish connection answering. is_reconnect is false the first time. Whatever was
     * published elsewhere while the bridge was not ready was missed: catch up here. May be NULL. */
    void (*on_ready)(void *ctx, bool is_reconnect);
    /* Called on the bridge thread once when a ready bridge loses either connection (not again
     * for each failed retry, and not at stop). May be NULL. None of the callbacks may call
     * hb_redis_stop(); they may publish. */
    void (*on_lost)(void *ctx);
    void *ctx;
    /* Bounds on publishes waiting for Redis (queued while disconnected, or sent and not yet
     * acknowledged); beyond them hb_redis_publish() drops and counts. 0 means the default:
     * 10 000 messages, 16 MiB. */
    size_t max_queued_msgs;
    size_t max_queued_bytes;
    /* A connection attempt (connect, AUTH, SELECT, SUBSCRIBE) that takes longer, or a publish
     * connection that leaves a PING or PUBLISH unanswered this long, is failed and retried.
     * 0 means the default, 1000 ms. */
    unsigned timeout_ms;
};

/* Validates cfg, copies what it needs and starts the bridge thread, which connects in the
 * background (retrying with backoff, 50 ms doubling to 2 s with jitter, for as long as it
 * runs); this call never waits for Redis. Returns 0 and sets *out, HB_EINVAL for a bad URL (call
 * hb_redis_parse_url for the reason) or bad arguments, or a libuv error if the thread or its
 * loop cannot be created. The bridge logs one line when it connects, when it loses Redis, and
 * the first time a (re)connection attempt fails, never one per retry. */
int hb_redis_start(const struct hb_redis_config *cfg, struct hb_redis **out);

/* Publishes data[0..len) on channel (NUL-terminated). Callable from any thread; never waits on
 * Redis: the message is copied into a FIFO the bridge sends from, pipelining at most 1000
 * messages (1 MiB) awaiting Redis's acknowledgement. While disconnected, messages wait (within
 * the bounds) and go out after reconnecting; beyond the bounds they are dropped and counted.
 * When a connection fails, the sent but unacknowledged ones are counted as dropped (Redis may or
 * may not have relayed them): delivery is at most once. */
void hb_redis_publish(struct hb_redis *r, const char *channel, const char *data, size_t len);

/* True while both connections are up and every channel is subscribed. Any thread. */
bool hb_redis_is_ready(const struct hb_redis *r);

/* Fills *out with the counters. Any thread. */
void hb_redis_stats(const struct hb_redis *r, struct hb_redis_stats *out);

/* Stops the bridge: closes the connections without calling on_lost, joins the thread, counts
 * messages still queued as dropped and frees everything. Returns promptly whether or not Redis
 * is reachable (a host-name lookup already running is waited for). No other call on r may run
 * concurrently or follow. r may be NULL. */
void hb_redis_stop(struct hb_redis *r);

#endif
