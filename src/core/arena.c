/* SPDX-License-Identifier: MIT */
/* Bump allocator with deferred cleanups (core layer). Invariant: _head is NULL or the block
 * allocations come from; the chain's last block is the one kept across resets. */
#include "core/arena.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"

#define ALIGN 16

struct hb_arena_block {
    struct hb_arena_block *next;
    size_t used;
    size_t size;
    _Alignas(ALIGN) unsigned char data[];
};

struct hb_arena_defer {
    struct hb_arena_defer *next;
    void (*fn)(void *arg);
    void *arg;
};

void hb_arena_init(struct hb_arena *arena, size_t block_size)
{
    arena->_head = NULL;
    arena->_large = NULL;
    arena->_defers = NULL;
    arena->_block_size = block_size < 256 ? 256 : block_size;
}

static void run_defers(struct hb_arena *arena)
{
    /* A cleanup may itself allocate from nothing but must not register new cleanups. */
    while (arena->_defers != NULL) {
        struct hb_arena_defer *d = arena->_defers;
        arena->_defers = d->next;
        d->fn(d->arg);
    }
}

static void free_large(struct hb_arena *arena)
{
    while (arena->_large != NULL) {
        struct hb_arena_block *b = arena->_large;
        arena->_large = b->next;
        free(b);
    }
}

void hb_arena_release(struct hb_arena *arena)
{
    run_defers(arena);
    free_large(arena);
    while (arena->_head != NULL) {
        struct hb_arena_block *b = arena->_head;
        arena->_head = b->next;
        free(b);
    }
}

void hb_arena_reset(struct hb_arena *arena)
{
    run_defers(arena);
    free_large(arena);
    while (arena->_head != NULL && arena->_head->next != NULL) {
        struct hb_arena_block *b = arena->_head;
        arena->_head = b->next;
        free(b);
    }
    if (arena->_head != NULL)
        arena->_head->used = 0;
}

void *hb_arena_alloc(struct hb_arena *arena, size_t size)
{
    struct hb_arena_block *b = arena->_head;

    size = (size + ALIGN - 1) & ~(size_t)(ALIGN - 1);
    if (size > arena->_block_size / 2) {
        /* A large allocation gets its own block, so the current block's space stays usable. */
        struct hb_arena_block *lb = hb_xmalloc(sizeof(*lb) + size);
        lb->next = arena->_large;
        lb->used = lb->size = size;
        arena->_large = lb;
        return lb->data;
    }
    if (b == NULL || b->size - b->used < size) {
        struct hb_arena_block *nb = hb_xmalloc(sizeof(*nb) + arena->_block_size);
        nb->used = 0;
        nb->size = arena->_block_size;
        nb->next = b;
        arena->_head = nb;
        b = nb;
    }
    void *p = b->data + b->used;
    b->used += size;
    return p;
}

char *hb_arena_strndup(struct hb_arena *arena, const char *s, size_t len)
{
    char *p = hb_arena_alloc(arena, len + 1);
    if (len > 0)
        memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

char *hb_arena_printf(struct hb_arena *arena, const char *fmt, ...)
{
    va_list ap;
    char small[256];
    int n;

    va_start(ap, fmt);
    /* NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized): clang 14 false positive */
    n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0)
        return hb_arena_strndup(arena, "", 0);
    if ((size_t)n < sizeof(small))
        return hb_arena_strndup(arena, small, (size_t)n);
    char *p = hb_arena_alloc(arena, (size_t)n + 1);
    va_start(ap, fmt);
    (void)vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}

void hb_arena_defer(struct hb_arena *arena, void (*fn)(void *arg), void *arg)
{
    struct hb_arena_defer *d = hb_arena_alloc(arena, sizeof(*d));
    d->fn = fn;
    d->arg = arg;
    d->next = arena->_defers;
    arena->_defers = d;
}
