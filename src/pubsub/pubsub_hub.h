/* SPDX-License-Identifier: MIT */
/* In-process fan-out across worker loops (pubsub layer). Any thread publishes a refcounted
 * payload on a channel; every attached worker receives it on its own loop, in publish order, and
 * hands it to the deliver callback. Publishing is a mutex-guarded append plus uv_async_send per
 * worker, so a payload serialised once is shared by every worker and every socket. */
#ifndef HB_PUBSUB_HUB_H
#define HB_PUBSUB_HUB_H

#include <stdint.h>

struct hb_hub;

/* Refcount hooks of a payload: the hub takes one ref per worker and drops it after delivery. */
struct hb_hub_payload_ops {
    void (*ref)(void *payload);
    void (*unref)(void *payload);
};

/* Runs on the worker's loop thread for each delivered payload. */
typedef void hb_hub_deliver_cb(void *worker_ctx, int64_t channel, void *payload);

/* Runs on the worker's loop after each batch of deliveries (every payload published since the
 * last wake-up): the place to flush what the deliveries queued, one write per socket per batch. */
typedef void hb_hub_batch_end_cb(void *worker_ctx);

/* Creates a hub for up to n_workers workers. */
struct hb_hub *hb_hub_create(int n_workers, const struct hb_hub_payload_ops *ops,
                             hb_hub_deliver_cb *deliver);
void hb_hub_destroy(struct hb_hub *hub);

/* Sets the batch-end callback (NULL: none). Call before attaching workers. */
void hb_hub_set_batch_end(struct hb_hub *hub, hb_hub_batch_end_cb *batch_end);

/* Attaches worker index, on that worker's thread, with its libuv loop (a uv_loop_t *) and the
 * context handed to deliver. Detach on the same thread before the loop ends. */
void hb_hub_attach(struct hb_hub *hub, int index, void *uv_loop, void *worker_ctx);
void hb_hub_detach(struct hb_hub *hub, int index);

/* Publishes payload on channel to every attached worker. Thread-safe. Calls to publish made in
 * one order (for instance under the caller's lock) are delivered in that order everywhere. */
void hb_hub_publish(struct hb_hub *hub, int64_t channel, void *payload);

#endif
