/* SPDX-License-Identifier: MIT */
/* Allocation helpers that abort on out-of-memory (core layer).
 * Only for small fixed-size allocations; sizes that come from input go through hb_buf with a cap.
 */
#ifndef HB_CORE_ALLOC_H
#define HB_CORE_ALLOC_H

#include <stddef.h>

/* malloc/calloc/realloc/strdup that never return NULL: they abort the process instead. */
void *hb_xmalloc(size_t size);
void *hb_xcalloc(size_t n, size_t size);
void *hb_xrealloc(void *ptr, size_t size);
char *hb_xstrdup(const char *s);

#endif
