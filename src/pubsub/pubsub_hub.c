/* SPDX-License-Identifier: MIT */
/* Worker fan-out queues (pubsub layer). Each worker has a FIFO of (channel, payload) guarded by
 * a mutex and drained by its uv_async callback; the queue is swapped out under the lock and
 * delivered outside it, so publishers never wait for delivery. */
#include "pubsub/pubsub_hub.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <uv.h>

#include "core/alloc.h"

struct item {
    struct item *next;
    int64_t channel;
    void *payload;
};

struct slot {
    struct hb_hub *hub;
    pthread_mutex_t lock;
    uv_async_t async;
    struct item *head, *tail;
    void *worker_ctx;
    bool is_attached;
};

struct hb_hub {
    int n_workers;
    struct hb_hub_payload_ops ops;
    hb_hub_deliver_cb *deliver;
    hb_hub_batch_end_cb *batch_end;
    struct slot *slots;
};

struct hb_hub *hb_hub_create(int n_workers, const struct hb_hub_payload_ops *ops,
                             hb_hub_deliver_cb *deliver)
{
    struct hb_hub *hub = hb_xcalloc(1, sizeof(*hub));
    hub->n_workers = n_workers;
    hub->ops = *ops;
    hub->deliver = deliver;
    hub->slots = hb_xcalloc((size_t)n_workers, sizeof(*hub->slots));
    for (int i = 0; i < n_workers; i++) {
        hub->slots[i].hub = hub;
        pthread_mutex_init(&hub->slots[i].lock, NULL);
    }
    return hub;
}

void hb_hub_destroy(struct hb_hub *hub)
{
    if (hub == NULL)
        return;
    for (int i = 0; i < hub->n_workers; i++)
        pthread_mutex_destroy(&hub->slots[i].lock);
    free(hub->slots);
    free(hub);
}

static struct item *take_all(struct slot *s)
{
    pthread_mutex_lock(&s->lock);
    struct item *list = s->head;
    s->head = s->tail = NULL;
    pthread_mutex_unlock(&s->lock);
    return list;
}

static void on_async(uv_async_t *async)
{
    struct slot *s = async->data;
    struct hb_hub *hub = s->hub;
    for (struct item *it = take_all(s), *next; it != NULL; it = next) {
        next = it->next;
        hub->deliver(s->worker_ctx, it->channel, it->payload);
        hub->ops.unref(it->payload);
        free(it);
    }
    if (hub->batch_end != NULL)
        hub->batch_end(s->worker_ctx);
}

void hb_hub_set_batch_end(struct hb_hub *hub, hb_hub_batch_end_cb *batch_end)
{
    hub->batch_end = batch_end;
}

void hb_hub_attach(struct hb_hub *hub, int index, void *uv_loop, void *worker_ctx)
{
    struct slot *s = &hub->slots[index];
    uv_async_init(uv_loop, &s->async, on_async);
    s->async.data = s;
    /* The hub must not keep a draining loop alive. */
    uv_unref((uv_handle_t *)&s->async);
    pthread_mutex_lock(&s->lock);
    s->worker_ctx = worker_ctx;
    s->is_attached = true;
    pthread_mutex_unlock(&s->lock);
}

void hb_hub_detach(struct hb_hub *hub, int index)
{
    struct slot *s = &hub->slots[index];
    pthread_mutex_lock(&s->lock);
    s->is_attached = false;
    pthread_mutex_unlock(&s->lock);
    for (struct item *it = take_all(s), *next; it != NULL; it = next) {
        next = it->next;
        hub->ops.unref(it->payload);
        free(it);
    }
    if (!uv_is_closing((uv_handle_t *)&s->async))
        uv_close((uv_handle_t *)&s->async, NULL);
}

void hb_hub_publish(struct hb_hub *hub, int64_t channel, void *payload)
{
    for (int i = 0; i < hub->n_workers; i++) {
        struct slot *s = &hub->slots[i];
        struct item *it = hb_xmalloc(sizeof(*it));
        it->next = NULL;
        it->channel = channel;
        it->payload = payload;
        pthread_mutex_lock(&s->lock);
        if (!s->is_attached) {
            pthread_mutex_unlock(&s->lock);
            free(it);
            continue;
        }
        hub->ops.ref(payload);
        if (s->tail != NULL)
            s->tail->next = it;
        else
            s->head = it;
        s->tail = it;
        uv_async_send(&s->async);
        pthread_mutex_unlock(&s->lock);
    }
}
