/* SPDX-License-Identifier: MIT */
/* Fibers (core layer): stackful coroutines on ucontext, for code written in blocking style that
 * must not block its thread. A fiber runs fn(arg) on a stack of its own; it gives the thread back
 * with hb_fiber_yield() and carries on where it stopped when somebody resumes it. Fibers belong
 * to the thread that created them: created, resumed and finished there, never shared.
 *
 * Resuming nests: a fiber may resume another, which yields back to it. A fiber's stack is
 * HB_FIBER_STACK_SIZE bytes with a guard page below it; stacks are reused per thread. Under
 * AddressSanitizer every switch is announced to it, so stack checking follows the fibers. */
#ifndef HB_CORE_FIBER_H
#define HB_CORE_FIBER_H

#include <stdbool.h>
#include <stddef.h>

#define HB_FIBER_STACK_SIZE ((size_t)256 * 1024)

struct hb_fiber;

typedef void hb_fiber_cb(void *arg);

/* A new fiber that runs fn(arg) once first resumed. NULL when no stack can be mapped. */
struct hb_fiber *hb_fiber_create(hb_fiber_cb *fn, void *arg);

/* Runs f until it yields or its function returns. Returns true when it returned: f is then
 * destroyed (its cleanup ran first), and must not be used again. */
bool hb_fiber_resume(struct hb_fiber *f);

/* Inside a fiber: goes back to whoever resumed it. Returns when the fiber is resumed. */
void hb_fiber_yield(void);

/* The fiber running on this thread, or NULL outside fibers. */
struct hb_fiber *hb_fiber_current(void);

/* A value the fiber carries (one per fiber), and what releases it: cleanup(value) runs on the
 * fiber's own stack right after its function returns. */
void hb_fiber_set_local(struct hb_fiber *f, void *value, hb_fiber_cb *cleanup);
void *hb_fiber_local(const struct hb_fiber *f);

/* Unmaps the stacks this thread keeps for reuse. */
void hb_fiber_thread_release(void);

#endif
