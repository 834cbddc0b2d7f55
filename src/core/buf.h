/* SPDX-License-Identifier: MIT */
/* Capped growable byte buffer (core layer), after curl's dynbuf.
 * Any size that comes from input goes through an hb_buf: appends past the cap fail with
 * HB_ETOOLARGE and leave the buffer unchanged. The data is kept NUL-terminated for convenience. */
#ifndef HB_CORE_BUF_H
#define HB_CORE_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct hb_buf {
    char *data; /* owned; NULL until the first append */
    size_t len;
    size_t cap;     /* allocated bytes, excluding the NUL */
    size_t max_len; /* hard cap on len */
};

/* Initialises an empty buffer that may hold at most max_len bytes. Allocates nothing. */
void hb_buf_init(struct hb_buf *buf, size_t max_len);

/* Frees the storage. The buffer can be initialised again. */
void hb_buf_release(struct hb_buf *buf);

/* Empties the buffer, keeping its storage. */
static inline void hb_buf_reset(struct hb_buf *buf)
{
    buf->len = 0;
    if (buf->data != NULL)
        buf->data[0] = '\0';
}

/* Makes room for at least extra more bytes. Returns 0 or HB_ETOOLARGE. */
int hb_buf_reserve(struct hb_buf *buf, size_t extra);

/* Appends len bytes. Returns 0 or HB_ETOOLARGE. */
int hb_buf_append(struct hb_buf *buf, const void *data, size_t len);

/* Appends a NUL-terminated string. */
int hb_buf_append_str(struct hb_buf *buf, const char *s);

/* Appends one byte. */
int hb_buf_append_char(struct hb_buf *buf, char c);

/* Appends formatted text. Returns 0, HB_ETOOLARGE or HB_EINVAL. */
int hb_buf_printf(struct hb_buf *buf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int hb_buf_vprintf(struct hb_buf *buf, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

/* Appends the decimal form of v. */
int hb_buf_append_u64(struct hb_buf *buf, unsigned long long v);
int hb_buf_append_i64(struct hb_buf *buf, long long v);

/* Removes the first n bytes, moving the rest to the front. */
void hb_buf_consume(struct hb_buf *buf, size_t n);

/* Moves the storage out: the caller owns the returned pointer (may be NULL when empty) and the
 * buffer is left empty. */
char *hb_buf_detach(struct hb_buf *buf, size_t *len);

#endif
