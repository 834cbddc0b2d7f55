/* SPDX-License-Identifier: MIT */
/* Request arena (core layer): a bump allocator over a chain of blocks, with deferred cleanups.
 * Everything allocated for one request comes from its arena and is freed by one hb_arena_reset().
 * The first block is kept across resets, so a keep-alive connection allocates nothing in steady
 * state. Not thread-safe: an arena belongs to one request on one loop. */
#ifndef HB_CORE_ARENA_H
#define HB_CORE_ARENA_H

#include <stddef.h>

struct hb_arena_block;
struct hb_arena_defer;

struct hb_arena {
    struct hb_arena_block *_head;   /* current block; older blocks follow */
    struct hb_arena_block *_large;  /* allocations bigger than a block, one each */
    struct hb_arena_defer *_defers; /* run in reverse order of registration */
    size_t _block_size;
};

/* Initialises an empty arena whose blocks are block_size bytes (larger requests get their own). */
void hb_arena_init(struct hb_arena *arena, size_t block_size);

/* Runs the deferred cleanups and frees every block. The arena can be initialised again. */
void hb_arena_release(struct hb_arena *arena);

/* Runs the deferred cleanups and frees all memory but the first block, ready for reuse. */
void hb_arena_reset(struct hb_arena *arena);

/* Returns size bytes aligned for any type, valid until the next reset. Aborts on OOM. */
void *hb_arena_alloc(struct hb_arena *arena, size_t size);

/* Copies len bytes and appends a NUL. */
char *hb_arena_strndup(struct hb_arena *arena, const char *s, size_t len);

/* printf into the arena. Returns the NUL-terminated result. */
char *hb_arena_printf(struct hb_arena *arena, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Registers fn(arg) to run at the next reset or release, after cleanups registered later. */
void hb_arena_defer(struct hb_arena *arena, void (*fn)(void *arg), void *arg);

#endif
