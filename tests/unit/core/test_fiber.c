/* SPDX-License-Identifier: MIT */
/* Unit tests for core/fiber: switching, nesting, the fiber's local value and its cleanup, stack
 * reuse, deep stacks. */
#include <string.h>

#include "core/fiber.h"
#include "unit.h"

static char trace[64];

static void note(char c)
{
    size_t n = strlen(trace);
    trace[n] = c;
    trace[n + 1] = '\0';
}

static void two_steps(void *arg)
{
    note(*(const char *)arg);
    hb_fiber_yield();
    note((char)(*(const char *)arg + 1));
}

HB_TEST(fiber, resume_yield_finish)
{
    trace[0] = '\0';
    ASSERT(hb_fiber_current() == NULL);
    static char a = 'a';
    struct hb_fiber *f = hb_fiber_create(two_steps, &a);
    ASSERT(f != NULL);
    note('1');
    ASSERT(!hb_fiber_resume(f)); /* runs to its yield */
    note('2');
    ASSERT(hb_fiber_resume(f)); /* runs to its end: freed */
    note('3');
    ASSERT_EQ_STR(trace, "1a2b3");
    ASSERT(hb_fiber_current() == NULL);
    hb_fiber_yield(); /* outside fibers: a no-op */
}

static struct hb_fiber *inner;

static void inner_fn(void *arg)
{
    (void)arg;
    note('i');
    hb_fiber_yield(); /* back to outer, which resumed it */
    note('j');
}

static void outer_fn(void *arg)
{
    (void)arg;
    struct hb_fiber *self = hb_fiber_current();
    inner = hb_fiber_create(inner_fn, NULL);
    note('o');
    ASSERT(!hb_fiber_resume(inner));
    ASSERT(hb_fiber_current() == self); /* inner yielded back here */
    note('p');
    hb_fiber_yield();
    note('q');
}

HB_TEST(fiber, nesting_and_resuming_from_elsewhere)
{
    trace[0] = '\0';
    struct hb_fiber *outer = hb_fiber_create(outer_fn, NULL);
    ASSERT(!hb_fiber_resume(outer));
    /* inner is parked inside outer's turn; the thread resumes it directly now. */
    ASSERT(hb_fiber_resume(inner));
    ASSERT(hb_fiber_resume(outer));
    ASSERT_EQ_STR(trace, "oipjq");
}

static int n_cleaned;

static void cleanup(void *value)
{
    ASSERT(value == &n_cleaned);
    ASSERT(hb_fiber_current() != NULL); /* on the fiber's own stack, before it ends */
    n_cleaned++;
}

static void with_local(void *arg)
{
    (void)arg;
    struct hb_fiber *self = hb_fiber_current();
    ASSERT(hb_fiber_local(self) == NULL);
    hb_fiber_set_local(self, &n_cleaned, cleanup);
    hb_fiber_yield();
    ASSERT(hb_fiber_local(self) == &n_cleaned);
}

HB_TEST(fiber, local_value_cleaned_at_end)
{
    n_cleaned = 0;
    struct hb_fiber *f = hb_fiber_create(with_local, NULL);
    ASSERT(!hb_fiber_resume(f));
    ASSERT_EQ_INT(n_cleaned, 0);
    ASSERT(hb_fiber_resume(f));
    ASSERT_EQ_INT(n_cleaned, 1);
}

static int deep(int n)
{
    volatile char pad[1024];
    pad[0] = (char)n;
    return n == 0 ? pad[0] : deep(n - 1) + 1 + (pad[0] - (char)n);
}

static void deep_fn(void *arg)
{
    *(int *)arg = deep(100); /* ~100 KiB of stack: well inside HB_FIBER_STACK_SIZE */
}

HB_TEST(fiber, many_fibers_reuse_stacks)
{
    for (int i = 0; i < 500; i++) {
        int out = 0;
        struct hb_fiber *f = hb_fiber_create(deep_fn, &out);
        ASSERT(f != NULL);
        ASSERT(hb_fiber_resume(f));
        ASSERT_EQ_INT(out, 100);
    }
    hb_fiber_thread_release();
}
