/* SPDX-License-Identifier: MIT */
/* Aborting allocators (core layer): OOM is not a recoverable condition for a server of this size.
 */
#include "core/alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *check(void *p)
{
    if (p == NULL) {
        fputs("out of memory\n", stderr);
        abort();
    }
    return p;
}

void *hb_xmalloc(size_t size)
{
    return check(malloc(size ? size : 1));
}

void *hb_xcalloc(size_t n, size_t size)
{
    return check(calloc(n ? n : 1, size ? size : 1));
}

void *hb_xrealloc(void *ptr, size_t size)
{
    return check(realloc(ptr, size ? size : 1));
}

char *hb_xstrdup(const char *s)
{
    return check(strdup(s));
}
