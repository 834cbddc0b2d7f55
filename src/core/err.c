/* SPDX-License-Identifier: MIT */
/* Error names and texts, generated from the one X-macro table in err.h (core layer). */
#include "core/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *hb_err_name(int err)
{
    switch (err) {
#define HB_ERR_NAME(name, value, text)                                                             \
    case value:                                                                                    \
        return #name;
        HB_ERR_MAP(HB_ERR_NAME)
#undef HB_ERR_NAME
    default:
        return "UNKNOWN";
    }
}

const char *hb_strerror(int err)
{
    switch (err) {
#define HB_ERR_TEXT(name, value, text)                                                             \
    case value:                                                                                    \
        return text;
        HB_ERR_MAP(HB_ERR_TEXT)
#undef HB_ERR_TEXT
    default:
        return err < 0 && err > -1000 ? strerror(-err) : "unknown error";
    }
}

void hb__bug(const char *file, int line, const char *msg)
{
    fprintf(stderr, "BUG at %s:%d: %s\n", file, line, msg);
    abort();
}
