/* SPDX-License-Identifier: MIT */
/* Line logger (core layer). Lines are assembled in a stack buffer and written at once. */
#include "core/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static bool log_is_json;
static enum hb_log_level log_min = HB_LOG_INFO;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void hb_log_setup(bool is_json, enum hb_log_level min_level)
{
    log_is_json = is_json;
    log_min = min_level;
}

bool hb_log_enabled(enum hb_log_level level)
{
    return level >= log_min;
}

struct line {
    char data[4096];
    size_t len;
};

static void put(struct line *l, const char *s, size_t n)
{
    if (n > sizeof(l->data) - 2 - l->len)
        n = sizeof(l->data) - 2 - l->len;
    memcpy(l->data + l->len, s, n);
    l->len += n;
}

static void puts_(struct line *l, const char *s)
{
    put(l, s, strlen(s));
}

/* Writes s as a JSON string body (without quotes), escaping what JSON requires. */
static void put_json(struct line *l, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        char esc[8];
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            put(l, esc, 2);
        } else if (c < 0x20) {
            int n = snprintf(esc, sizeof(esc), "\\u%04x", c);
            put(l, esc, (size_t)n);
        } else {
            put(l, (const char *)&c, 1);
        }
    }
}

static void put_prefix(struct line *l, enum hb_log_level level)
{
    struct timeval tv;
    struct tm tm;
    char ts[40];

    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    size_t n = strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(ts + n, sizeof(ts) - n, ".%03dZ", (int)(tv.tv_usec / 1000));
    if (log_is_json) {
        puts_(l, "{\"ts\":\"");
        puts_(l, ts);
        puts_(l, "\",\"level\":\"");
        puts_(l, level_names[level]);
        puts_(l, "\",\"msg\":\"");
    } else {
        puts_(l, ts);
        puts_(l, " ");
        puts_(l, level_names[level]);
        puts_(l, " ");
    }
}

static void flush(struct line *l)
{
    l->data[l->len++] = '\n';
    ssize_t off = 0;
    while ((size_t)off < l->len) {
        ssize_t n = write(STDERR_FILENO, l->data + off, l->len - (size_t)off);
        if (n <= 0)
            break;
        off += n;
    }
}

void hb_log(enum hb_log_level level, const char *fmt, ...)
{
    struct line l = {.len = 0};
    char msg[2048];
    va_list ap;

    if (level < log_min)
        return;
    va_start(ap, fmt);
    /* NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized): clang 14 false positive */
    (void)vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    put_prefix(&l, level);
    if (log_is_json) {
        put_json(&l, msg);
        puts_(&l, "\"}");
    } else {
        puts_(&l, msg);
    }
    flush(&l);
}

void hb_log_fields(enum hb_log_level level, const char *msg, const struct hb_log_field *fields,
                   int n_fields)
{
    struct line l = {.len = 0};

    if (level < log_min)
        return;
    put_prefix(&l, level);
    if (log_is_json) {
        put_json(&l, msg);
        puts_(&l, "\"");
        for (int i = 0; i < n_fields; i++) {
            puts_(&l, ",\"");
            put_json(&l, fields[i].key);
            puts_(&l, fields[i].is_num ? "\":" : "\":\"");
            put_json(&l, fields[i].value);
            if (!fields[i].is_num)
                puts_(&l, "\"");
        }
        puts_(&l, "}");
    } else {
        puts_(&l, msg);
        for (int i = 0; i < n_fields; i++) {
            puts_(&l, " ");
            puts_(&l, fields[i].key);
            puts_(&l, "=");
            puts_(&l, fields[i].value);
        }
    }
    flush(&l);
}
