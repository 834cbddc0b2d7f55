/* SPDX-License-Identifier: MIT */
/* JSON output of store rows (store layer): compact UTF-8, only '"', '\' and control characters
 * escaped (API.md §2.3), keys in API.md §2.5's order. Rows are written from borrowed column
 * memory straight into the caller's buffer: nothing is allocated per row. */
#include <stdio.h>

#include "core/err.h"
#include "store/store_internal.h"

/* Returns the length of the valid UTF-8 sequence at s[0..len), or 0 if it is not one
 * (RFC 3629: no overlongs, no surrogates, nothing above U+10FFFF). */
static size_t utf8_seq(const unsigned char *s, size_t len)
{
    unsigned char c = s[0];
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        return len >= 2 && (s[1] & 0xc0) == 0x80 ? 2 : 0;
    if (c >= 0xe0 && c <= 0xef) {
        if (len < 3 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80)
            return 0;
        if ((c == 0xe0 && s[1] < 0xa0) || (c == 0xed && s[1] > 0x9f))
            return 0;
        return 3;
    }
    if (c >= 0xf0 && c <= 0xf4) {
        if (len < 4 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 || (s[3] & 0xc0) != 0x80)
            return 0;
        if ((c == 0xf0 && s[1] < 0x90) || (c == 0xf4 && s[1] > 0x8f))
            return 0;
        return 4;
    }
    return 0;
}

int hb_store__json_str(struct hb_buf *buf, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    if (len == 0)
        return hb_buf_append(buf, "\"\"", 2);
    const unsigned char *p = (const unsigned char *)s, *end = p + len;
    int err = hb_buf_reserve(buf, len + 2);
    if (err < 0)
        return err;
    err = hb_buf_append_char(buf, '"');
    while (err == 0 && p < end) {
        /* Copy the longest run that needs no escaping in one append. */
        const unsigned char *run = p;
        size_t n;
        while (p < end && (n = utf8_seq(p, (size_t)(end - p))) != 0 &&
               (n > 1 || (*p >= 0x20 && *p != '"' && *p != '\\')))
            p += n;
        if (p > run)
            err = hb_buf_append(buf, run, (size_t)(p - run));
        if (err < 0 || p == end)
            break;
        char esc[6] = {'\\', 0, 0, 0, 0, 0};
        size_t esc_len = 2;
        switch (*p) {
        case '"':
            esc[1] = '"';
            break;
        case '\\':
            esc[1] = '\\';
            break;
        case '\b':
            esc[1] = 'b';
            break;
        case '\f':
            esc[1] = 'f';
            break;
        case '\n':
            esc[1] = 'n';
            break;
        case '\r':
            esc[1] = 'r';
            break;
        case '\t':
            esc[1] = 't';
            break;
        default:
            if (*p < 0x20) {
                esc[1] = 'u';
                esc[2] = '0';
                esc[3] = '0';
                esc[4] = hex[*p >> 4];
                esc[5] = hex[*p & 0xf];
                esc_len = 6;
            } else {
                /* A byte that starts no valid sequence: U+FFFD. */
                esc[0] = '\xef';
                esc[1] = '\xbf';
                esc[2] = '\xbd';
                esc_len = 3;
            }
        }
        err = hb_buf_append(buf, esc, esc_len);
        p++;
    }
    if (err == 0)
        err = hb_buf_append_char(buf, '"');
    return err;
}

int hb_store__json_time(struct hb_buf *buf, int64_t us)
{
    char text[HB_STORE_TIME_DISPLAY_SIZE];
    size_t n = hb_store_time_format_display(us, text);
    if (n == 0)
        return hb_buf_append(buf, "null", 4);
    int err = hb_buf_reserve(buf, n + 2);
    if (err < 0)
        return err;
    hb_buf_append_char(buf, '"');
    hb_buf_append(buf, text, n);
    return hb_buf_append_char(buf, '"');
}

int hb_store__json_author(struct hb_buf *buf, int64_t author_id, struct hb_str username)
{
    if (author_id == 0)
        return hb_buf_append(buf, "null", 4);
    int err = hb_buf_printf(buf, "{\"id\":%lld,\"username\":", (long long)author_id);
    if (err == 0)
        err = hb_store__json_str(buf, username.ptr, username.len);
    if (err == 0)
        err = hb_buf_append_char(buf, '}');
    return err;
}

/* Small helpers so the row writers read like the JSON they write. Each returns the first
 * error and does nothing once one happened. */
static void put(struct hb_buf *buf, int *err, const char *lit)
{
    if (*err == 0)
        *err = hb_buf_append_str(buf, lit);
}

static void put_i64(struct hb_buf *buf, int *err, int64_t v)
{
    if (*err == 0)
        *err = hb_buf_append_i64(buf, v);
}

static void put_str(struct hb_buf *buf, int *err, struct hb_str s)
{
    if (*err == 0)
        *err = hb_store__json_str(buf, s.ptr, s.len);
}

static void put_time(struct hb_buf *buf, int *err, int64_t us)
{
    if (*err == 0)
        *err = hb_store__json_time(buf, us);
}

static void put_author(struct hb_buf *buf, int *err, int64_t id, struct hb_str username)
{
    if (*err == 0)
        *err = hb_store__json_author(buf, id, username);
}

int hb_store__json_category(struct hb_buf *buf, const struct hb_store__category_row *row)
{
    int err = 0;
    put(buf, &err, "{\"id\":");
    put_i64(buf, &err, row->id);
    put(buf, &err, ",\"name\":");
    put_str(buf, &err, row->name);
    put(buf, &err, ",\"author\":");
    put_author(buf, &err, row->author_id, row->author_username);
    put(buf, &err, "}");
    return err;
}

int hb_store__json_post(struct hb_buf *buf, bool is_reply, const struct hb_store__post_row *row)
{
    int err = 0;
    put(buf, &err, "{\"id\":");
    put_i64(buf, &err, row->id);
    put(buf, &err, is_reply ? ",\"topic\":" : ",\"category\":");
    put_i64(buf, &err, row->parent_id);
    put(buf, &err, ",\"created_at\":");
    put_time(buf, &err, row->created_us);
    put(buf, &err, ",\"comment\":");
    put_str(buf, &err, row->comment);
    put(buf, &err, ",\"author\":");
    put_author(buf, &err, row->author_id, row->author_username);
    put(buf, &err, "}");
    return err;
}

int hb_store__json_room(struct hb_buf *buf, const struct hb_store__room_row *row)
{
    int err = 0;
    put(buf, &err, "{\"id\":");
    put_i64(buf, &err, row->id);
    put(buf, &err, ",\"created_at\":");
    put_time(buf, &err, row->created_us);
    put(buf, &err, ",\"name\":");
    put_str(buf, &err, row->name);
    put(buf, &err, ",\"headcount\":");
    put_i64(buf, &err, row->headcount);
    put(buf, &err, ",\"author\":");
    put_author(buf, &err, row->author_id, row->author_username);
    put(buf, &err, "}");
    return err;
}

int hb_store_chatlog_write_json(struct hb_buf *json, enum hb_store_chat_format format,
                                const struct hb_store_chatlog *row)
{
    if (json == NULL || row == NULL)
        return HB_EINVAL;
    size_t start = json->len;
    int err = 0;
    switch (format) {
    case HB_STORE_CHAT_REST:
        put(json, &err, "{\"id\":");
        put_i64(json, &err, row->id);
        put(json, &err, ",\"created_at\":");
        put_time(json, &err, row->created_us);
        put(json, &err, ",\"message\":");
        put_str(json, &err, row->message);
        put(json, &err, ",\"room\":");
        put_i64(json, &err, row->room_id);
        put(json, &err, ",\"author\":");
        put_author(json, &err, row->author_id, row->author_username);
        put(json, &err, "}");
        break;
    case HB_STORE_CHAT_SEED:
    case HB_STORE_CHAT_V1:
        put(json, &err, format == HB_STORE_CHAT_V1 ? "{\"type\":\"message\",\"id\":" : "{\"id\":");
        put_i64(json, &err, row->id);
        put(json, &err, ",\"message\":");
        put_str(json, &err, row->message);
        put(json, &err, ",\"created_at\":");
        put_time(json, &err, row->created_us);
        if (format == HB_STORE_CHAT_V1) {
            put(json, &err, ",\"room\":");
            put_i64(json, &err, row->room_id);
            put(json, &err, ",\"author\":");
            put_author(json, &err, row->author_id, row->author_username);
        }
        put(json, &err, "}");
        break;
    default:
        return HB_EINVAL;
    }
    if (err < 0) {
        json->len = start;
        if (json->data != NULL)
            json->data[start] = '\0';
    }
    return err;
}
