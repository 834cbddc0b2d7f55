/* SPDX-License-Identifier: MIT */
/* Capped byte buffer (core layer). Invariant: len <= cap, len <= max_len, data[len] == 0. */
#include "core/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/err.h"

void hb_buf_init(struct hb_buf *buf, size_t max_len)
{
    buf->data = NULL;
    buf->len = 0;
    buf->cap = 0;
    buf->max_len = max_len;
}

void hb_buf_release(struct hb_buf *buf)
{
    free(buf->data);
    hb_buf_init(buf, buf->max_len);
}

int hb_buf_reserve(struct hb_buf *buf, size_t extra)
{
    if (extra > buf->max_len - buf->len)
        return HB_ETOOLARGE;
    size_t need = buf->len + extra;
    if (need <= buf->cap && buf->data != NULL)
        return 0;
    size_t cap = buf->cap ? buf->cap : 64;
    while (cap < need)
        cap = cap > ((size_t)-1) / 4 ? need : cap * 2;
    if (cap > buf->max_len)
        cap = buf->max_len;
    buf->data = hb_xrealloc(buf->data, cap + 1);
    buf->cap = cap;
    buf->data[buf->len] = '\0';
    return 0;
}

int hb_buf_append(struct hb_buf *buf, const void *data, size_t len)
{
    int err = hb_buf_reserve(buf, len);
    if (err < 0)
        return err;
    if (len > 0)
        memcpy(buf->data + buf->len, data, len);
    buf->len += len;
    buf->data[buf->len] = '\0';
    return 0;
}

int hb_buf_append_str(struct hb_buf *buf, const char *s)
{
    return hb_buf_append(buf, s, strlen(s));
}

int hb_buf_append_char(struct hb_buf *buf, char c)
{
    return hb_buf_append(buf, &c, 1);
}

int hb_buf_vprintf(struct hb_buf *buf, const char *fmt, va_list ap)
{
    va_list ap2;
    int n;

    va_copy(ap2, ap);
    /* NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized): clang 14 false positive */
    n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return HB_EINVAL;
    int err = hb_buf_reserve(buf, (size_t)n);
    if (err < 0)
        return err;
    (void)vsnprintf(buf->data + buf->len, (size_t)n + 1, fmt, ap);
    buf->len += (size_t)n;
    return 0;
}

int hb_buf_printf(struct hb_buf *buf, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int err = hb_buf_vprintf(buf, fmt, ap);
    va_end(ap);
    return err;
}

int hb_buf_append_u64(struct hb_buf *buf, unsigned long long v)
{
    char tmp[24];
    size_t i = sizeof(tmp);
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    return hb_buf_append(buf, tmp + i, sizeof(tmp) - i);
}

int hb_buf_append_i64(struct hb_buf *buf, long long v)
{
    if (v < 0) {
        int err = hb_buf_append_char(buf, '-');
        if (err < 0)
            return err;
        return hb_buf_append_u64(buf, (unsigned long long)0 - (unsigned long long)v);
    }
    return hb_buf_append_u64(buf, (unsigned long long)v);
}

void hb_buf_consume(struct hb_buf *buf, size_t n)
{
    if (n >= buf->len) {
        hb_buf_reset(buf);
        return;
    }
    memmove(buf->data, buf->data + n, buf->len - n);
    buf->len -= n;
    buf->data[buf->len] = '\0';
}

char *hb_buf_detach(struct hb_buf *buf, size_t *len)
{
    char *p = buf->data;
    if (len != NULL)
        *len = buf->len;
    hb_buf_init(buf, buf->max_len);
    return p;
}
