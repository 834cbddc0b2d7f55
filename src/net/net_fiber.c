/* SPDX-License-Identifier: MIT */
/* Waiting inside fibers on a worker's loop (net layer). A waiting fiber leaves a small heap
 * record with libuv handles behind it; the handle's callback closes them and resumes the fiber.
 * Outside a fiber, or on a thread with no worker loop, the same calls block the thread. */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <uv.h>

#include "core/alloc.h"
#include "core/fiber.h"
#include "net/net.h"

/* The loop of the fiber running on this thread, or NULL where waits must block. */
static uv_loop_t *fiber_loop(void)
{
    struct hb_net_worker *worker = hb_net_worker_current();
    if (hb_fiber_current() == NULL || worker == NULL)
        return NULL;
    return hb_net_worker_loop(worker);
}

/* ---- waiting for a socket or a pause ---- */

struct waiter {
    uv_poll_t poll;
    uv_timer_t timer;
    struct hb_fiber *fiber;
    int *status; /* on the fiber's stack */
    int n_open;
    bool has_poll;
    bool is_done;
};

static void waiter_closed(uv_handle_t *handle)
{
    struct waiter *w = handle->data;
    if (--w->n_open == 0)
        free(w);
}

static void waiter_finish(struct waiter *w, int status)
{
    if (w->is_done)
        return;
    w->is_done = true;
    if (w->has_poll)
        uv_close((uv_handle_t *)&w->poll, waiter_closed);
    uv_close((uv_handle_t *)&w->timer, waiter_closed);
    *w->status = status;
    (void)hb_fiber_resume(w->fiber);
}

static void on_poll(uv_poll_t *poll, int status, int events)
{
    (void)events;
    waiter_finish(poll->data, status < 0 ? status : 0);
}

static void on_timer(uv_timer_t *timer)
{
    waiter_finish(timer->data, 0);
}

static int block_wait(int fd, int events, int timeout_ms)
{
    struct pollfd p = {.fd = fd,
                       .events = (short)((events & HB_NET_READABLE ? POLLIN : 0) |
                                         (events & HB_NET_WRITABLE ? POLLOUT : 0))};
    int n = poll(fd >= 0 ? &p : NULL, fd >= 0 ? 1 : 0, timeout_ms);
    return n < 0 && errno != EINTR ? -errno : 0;
}

int hb_net_fiber_wait(int fd, int events, int timeout_ms)
{
    uv_loop_t *loop = fiber_loop();
    if (loop == NULL)
        return block_wait(fd, events, timeout_ms);
    int status = 0;
    struct waiter *w = hb_xcalloc(1, sizeof(*w));
    w->fiber = hb_fiber_current();
    w->status = &status;
    uv_timer_init(loop, &w->timer);
    w->timer.data = w;
    w->n_open = 1;
    if (fd >= 0) {
        int err = uv_poll_init(loop, &w->poll, fd);
        if (err == 0) {
            w->poll.data = w;
            w->has_poll = true;
            w->n_open++;
            err = uv_poll_start(&w->poll,
                                (events & HB_NET_READABLE ? UV_READABLE : 0) |
                                    (events & HB_NET_WRITABLE ? UV_WRITABLE : 0),
                                on_poll);
        }
        if (err < 0) {
            w->is_done = true;
            if (w->has_poll)
                uv_close((uv_handle_t *)&w->poll, waiter_closed);
            uv_close((uv_handle_t *)&w->timer, waiter_closed);
            return err;
        }
    }
    if (timeout_ms >= 0)
        uv_timer_start(&w->timer, on_timer, (uint64_t)timeout_ms, 0);
    hb_fiber_yield();
    return status;
}

/* ---- running a step on the thread pool ---- */

struct offload {
    uv_work_t req;
    void (*fn)(void *arg);
    void *arg;
    struct hb_fiber *fiber;
};

static void offload_run(uv_work_t *req)
{
    struct offload *o = req->data;
    o->fn(o->arg);
}

static void offload_after(uv_work_t *req, int status)
{
    struct offload *o = req->data;
    (void)status;
    (void)hb_fiber_resume(o->fiber);
}

void hb_net_fiber_offload(void (*fn)(void *arg), void *arg)
{
    uv_loop_t *loop = fiber_loop();
    struct offload o = {.fn = fn, .arg = arg, .fiber = hb_fiber_current()};
    o.req.data = &o;
    if (loop == NULL || uv_queue_work(loop, &o.req, offload_run, offload_after) != 0) {
        fn(arg);
        return;
    }
    hb_fiber_yield();
}

/* ---- parking ---- */

void hb_net_fiber_park(void)
{
    hb_fiber_yield();
}

static void unpark_closed(uv_handle_t *handle)
{
    free(handle);
}

static void on_unpark(uv_timer_t *timer)
{
    struct hb_fiber *f = timer->data;
    uv_close((uv_handle_t *)timer, unpark_closed);
    (void)hb_fiber_resume(f);
}

void hb_net_fiber_unpark(struct hb_fiber *f)
{
    struct hb_net_worker *worker = hb_net_worker_current();
    if (worker == NULL)
        return;
    uv_timer_t *timer = hb_xmalloc(sizeof(*timer));
    uv_timer_init(hb_net_worker_loop(worker), timer);
    timer->data = f;
    uv_timer_start(timer, on_unpark, 0, 0);
}
