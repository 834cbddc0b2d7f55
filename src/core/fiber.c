/* SPDX-License-Identifier: MIT */
/* Fibers on ucontext (core layer). See fiber.h. */
#include "core/fiber.h"

#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include "core/alloc.h"

#if defined(__SANITIZE_ADDRESS__)
#define HAS_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HAS_ASAN 1
#endif
#endif

#ifdef HAS_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

#define STACKS_KEPT 64

struct hb_fiber {
    ucontext_t ctx;           /* the fiber's own, while it is not running */
    ucontext_t caller;        /* whoever resumed it, while it runs */
    struct hb_fiber *resumer; /* the fiber that resumed this one; NULL for the thread */
    char *mapping;            /* guard page, then the stack */
    hb_fiber_cb *fn;
    void *arg;
    void *local;
    hb_fiber_cb *cleanup;
    bool has_started;
    bool is_done;
    const void *caller_bottom; /* the resumer's stack, for the sanitizer */
    size_t caller_size;
};

static _Thread_local struct hb_fiber *current;
static _Thread_local struct hb_fiber *starting;
static _Thread_local char *kept[STACKS_KEPT];
static _Thread_local int n_kept;

/* ---- the sanitizer's view of stack switches ---- */

static void switch_start(void **fake_stack, const void *bottom, size_t size)
{
#ifdef HAS_ASAN
    __sanitizer_start_switch_fiber(fake_stack, bottom, size);
#else
    (void)fake_stack, (void)bottom, (void)size;
#endif
}

/* NOLINTNEXTLINE(readability-non-const-parameter): ASan builds write *old_size */
static void switch_finish(void *fake_stack, const void **old_bottom, size_t *old_size)
{
#ifdef HAS_ASAN
    __sanitizer_finish_switch_fiber(fake_stack, old_bottom, old_size);
#else
    (void)fake_stack, (void)old_bottom, (void)old_size;
#endif
}

/* ---- stacks ---- */

static size_t page_size(void)
{
    static size_t size;
    if (size == 0)
        size = (size_t)sysconf(_SC_PAGESIZE);
    return size;
}

static char *stack_take(void)
{
    if (n_kept > 0) {
        char *m = kept[--n_kept];
#ifdef HAS_ASAN
        ASAN_UNPOISON_MEMORY_REGION(m + page_size(), HB_FIBER_STACK_SIZE);
#endif
        return m;
    }
    size_t len = page_size() + HB_FIBER_STACK_SIZE;
    char *m =
        mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED)
        return NULL;
    (void)mprotect(m, page_size(), PROT_NONE); /* an overflow faults instead of corrupting */
    return m;
}

static void stack_give_back(char *m)
{
    if (n_kept < STACKS_KEPT)
        kept[n_kept++] = m;
    else
        (void)munmap(m, page_size() + HB_FIBER_STACK_SIZE);
}

void hb_fiber_thread_release(void)
{
    while (n_kept > 0)
        (void)munmap(kept[--n_kept], page_size() + HB_FIBER_STACK_SIZE);
}

/* ---- switching ---- */

static void entry(void)
{
    struct hb_fiber *f = starting;
    starting = NULL;
    switch_finish(NULL, &f->caller_bottom, &f->caller_size);
    f->fn(f->arg);
    if (f->cleanup != NULL)
        f->cleanup(f->local);
    f->is_done = true;
    switch_start(NULL, f->caller_bottom, f->caller_size); /* this stack is done with */
    setcontext(&f->caller);
    abort(); /* setcontext returns only on failure */
}

/* Apart, so that getcontext (which returns twice) clobbers no local of the caller. */
__attribute__((noinline)) static bool make_context(struct hb_fiber *f)
{
    if (getcontext(&f->ctx) != 0)
        return false;
    f->ctx.uc_stack.ss_sp = f->mapping + page_size();
    f->ctx.uc_stack.ss_size = HB_FIBER_STACK_SIZE;
    f->ctx.uc_link = NULL;
    makecontext(&f->ctx, entry, 0);
    return true;
}

struct hb_fiber *hb_fiber_create(hb_fiber_cb *fn, void *arg)
{
    char *m = stack_take();
    if (m == NULL)
        return NULL;
    struct hb_fiber *f = hb_xcalloc(1, sizeof(*f));
    f->mapping = m;
    f->fn = fn;
    f->arg = arg;
    if (!make_context(f)) {
        stack_give_back(m);
        free(f);
        return NULL;
    }
    return f;
}

bool hb_fiber_resume(struct hb_fiber *f)
{
    if (!f->has_started) {
        f->has_started = true;
        starting = f;
    }
    f->resumer = current;
    current = f;
    void *fake_stack = NULL;
    switch_start(&fake_stack, f->mapping + page_size(), HB_FIBER_STACK_SIZE);
    swapcontext(&f->caller, &f->ctx);
    switch_finish(fake_stack, NULL, NULL);
    current = f->resumer;
    if (!f->is_done)
        return false;
    stack_give_back(f->mapping);
    free(f);
    return true;
}

void hb_fiber_yield(void)
{
    struct hb_fiber *f = current;
    if (f == NULL)
        return;
    void *fake_stack = NULL;
    switch_start(&fake_stack, f->caller_bottom, f->caller_size);
    swapcontext(&f->ctx, &f->caller);
    /* Resumed, perhaps from somewhere else: the new resumer's stack is the one to go back to. */
    switch_finish(fake_stack, &f->caller_bottom, &f->caller_size);
}

struct hb_fiber *hb_fiber_current(void)
{
    return current;
}

void hb_fiber_set_local(struct hb_fiber *f, void *value, hb_fiber_cb *cleanup)
{
    f->local = value;
    f->cleanup = cleanup;
}

void *hb_fiber_local(const struct hb_fiber *f)
{
    return f->local;
}
