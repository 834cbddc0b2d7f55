/* SPDX-License-Identifier: MIT */
/* Timestamps for storage and display (store layer). Calendar arithmetic is done here with
 * Howard Hinnant's days-from-civil algorithms, so UTC conversions never touch libc's global time
 * zone state; localtime_r() is asked only for the zone's UTC offset at an instant. */
#include "store/store_time.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/err.h"

#define US_PER_S 1000000LL

struct civil {
    int64_t year;
    int month, day, hour, minute, second;
    int64_t micro;
};

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static bool is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int64_t y, int m)
{
    static const int n[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : n[m - 1];
}

static bool civil_valid(const struct civil *c)
{
    return c->year >= 1 && c->year <= 9999 && c->month >= 1 && c->month <= 12 && c->day >= 1 &&
           c->day <= days_in_month(c->year, c->month) && c->hour <= 23 && c->minute <= 59 &&
           c->second <= 59;
}

/* Seconds since the epoch of the civil time read as UTC. */
static int64_t civil_seconds(const struct civil *c)
{
    return days_from_civil(c->year, c->month, c->day) * 86400 + (int64_t)c->hour * 3600 +
           (int64_t)c->minute * 60 + c->second;
}

static void civil_from_seconds(int64_t s, struct civil *c)
{
    int64_t days = floor_div(s, 86400);
    int64_t rem = s - days * 86400;
    civil_from_days(days, &c->year, &c->month, &c->day);
    c->hour = (int)(rem / 3600);
    c->minute = (int)(rem / 60 % 60);
    c->second = (int)(rem % 60);
}

/* The configured zone's UTC offset in seconds at Unix time t. */
static int64_t utc_offset(int64_t t)
{
    /* List responses format a date per row, and localtime_r() takes glibc's global lock: cache
     * the offset per thread for the quarter hour (every zone changes offset on a quarter-hour
     * boundary of UTC in modern times). */
    static _Thread_local int64_t cached_window = INT64_MIN;
    static _Thread_local int64_t cached_offset;
    static _Thread_local char cached_tz[64];
    int64_t window = floor_div(t, 900);
    /* TZ tells a switch to another zone apart (tests switch zones; the server sets it once before
     * its threads start). Not tzname: glibc clears and refills it inside every localtime_r, under
     * a lock this read would not hold, so another thread may see NULL there. */
    const char *tz = getenv("TZ");
    if (tz == NULL)
        tz = "";
    bool is_same_zone = strlen(tz) < sizeof(cached_tz) && strcmp(cached_tz, tz) == 0;
    if (window == cached_window && is_same_zone)
        return cached_offset;
    time_t tt = (time_t)t;
    struct tm tm;
    if (localtime_r(&tt, &tm) == NULL)
        return 0;
    cached_window = window;
    cached_offset = tm.tm_gmtoff;
    snprintf(cached_tz, sizeof(cached_tz), "%s", tz);
    return cached_offset;
}

int64_t hb_store_time_from_local(int64_t local_s)
{
    /* Offsets a day either side of the wall time bracket any transition near it (zones never
     * change twice within two days). A candidate is valid when the zone really has that offset
     * at that instant: two valid ones are a repeated hour (take the first), none is a gap (use
     * the offset from before the transition), as Python's zoneinfo does with fold=0. */
    int64_t before = utc_offset(local_s - 86400);
    int64_t after = utc_offset(local_s + 86400);
    int64_t c1 = local_s - before, c2 = local_s - after;
    bool ok1 = utc_offset(c1) == before, ok2 = utc_offset(c2) == after;
    if (ok1 && ok2)
        return c1 < c2 ? c1 : c2;
    if (ok2)
        return c2;
    return c1;
}

size_t hb_store_time_format_db(int64_t us, char out[static HB_STORE_TIME_DB_SIZE])
{
    out[0] = '\0';
    if (us < HB_STORE_TIME_MIN_US || us > HB_STORE_TIME_MAX_US)
        return 0;
    int64_t s = floor_div(us, US_PER_S);
    int micro = (int)(us - s * US_PER_S);
    struct civil c;
    civil_from_seconds(s, &c);
    int n;
    if (micro != 0)
        n = snprintf(out, HB_STORE_TIME_DB_SIZE, "%04d-%02d-%02d %02d:%02d:%02d.%06d", (int)c.year,
                     c.month, c.day, c.hour, c.minute, c.second, micro);
    else
        n = snprintf(out, HB_STORE_TIME_DB_SIZE, "%04d-%02d-%02d %02d:%02d:%02d", (int)c.year,
                     c.month, c.day, c.hour, c.minute, c.second);
    return n > 0 ? (size_t)n : 0;
}

size_t hb_store_time_format_display(int64_t us, char out[static HB_STORE_TIME_DISPLAY_SIZE])
{
    out[0] = '\0';
    if (us < HB_STORE_TIME_MIN_US || us > HB_STORE_TIME_MAX_US)
        return 0;
    int64_t s = floor_div(us, US_PER_S);
    struct civil c;
    civil_from_seconds(s + utc_offset(s), &c);
    if (c.year < 0 || c.year > 9999) {
        int n = snprintf(out, HB_STORE_TIME_DISPLAY_SIZE, "%04d年%02d月%02d日 %02d時%02d分%02d秒",
                         (int)c.year, c.month, c.day, c.hour, c.minute, c.second);
        return n > 0 && n < HB_STORE_TIME_DISPLAY_SIZE ? (size_t)n : 0;
    }
    /* The hot path of every list: digits by hand rather than through vfprintf. */
    char *p = out;
    int year = (int)c.year;
    *p++ = (char)('0' + year / 1000);
    *p++ = (char)('0' + year / 100 % 10);
    *p++ = (char)('0' + year / 10 % 10);
    *p++ = (char)('0' + year % 10);
    const int parts[5] = {c.month, c.day, c.hour, c.minute, c.second};
    static const char *const units[6] = {"年", "月", "日 ", "時", "分", "秒"};
    memcpy(p, units[0], 3);
    p += 3;
    for (int i = 0; i < 5; i++) {
        *p++ = (char)('0' + parts[i] / 10);
        *p++ = (char)('0' + parts[i] % 10);
        size_t n = strlen(units[i + 1]);
        memcpy(p, units[i + 1], n);
        p += n;
    }
    *p = '\0';
    return (size_t)(p - out);
}

/* A cursor over the text being parsed. Every reader returns false on a mismatch. */
struct cursor {
    const char *p, *end;
};

static bool at_end(const struct cursor *cur)
{
    return cur->p == cur->end;
}

static bool peek_is(const struct cursor *cur, char c)
{
    return cur->p < cur->end && *cur->p == c;
}

static bool eat(struct cursor *cur, const char *lit)
{
    size_t n = strlen(lit);
    if ((size_t)(cur->end - cur->p) < n || memcmp(cur->p, lit, n) != 0)
        return false;
    cur->p += n;
    return true;
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Exactly n digits. */
static bool digits(struct cursor *cur, int n, int64_t *out)
{
    int64_t v = 0;
    if (cur->end - cur->p < n)
        return false;
    for (int i = 0; i < n; i++) {
        if (!is_digit(cur->p[i]))
            return false;
        v = v * 10 + (cur->p[i] - '0');
    }
    cur->p += n;
    *out = v;
    return true;
}

static bool digits_int(struct cursor *cur, int n, int *out)
{
    int64_t v;
    if (!digits(cur, n, &v))
        return false;
    *out = (int)v;
    return true;
}

/* min_digits to max_digits digits of a fraction, scaled to microseconds; digits past the sixth
 * are dropped. */
static bool fraction(struct cursor *cur, int min_digits, int max_digits, int64_t *micro)
{
    int n = 0;
    int64_t v = 0;
    while (cur->p < cur->end && is_digit(*cur->p) && n < max_digits) {
        if (n < 6)
            v = v * 10 + (*cur->p - '0');
        cur->p++;
        n++;
    }
    if (n < min_digits)
        return false;
    for (int i = n; i < 6; i++)
        v *= 10;
    *micro = v;
    return true;
}

/* "Z", "±hh:mm", "±hhmm" or "±hh", as seconds east of UTC. */
static bool offset(struct cursor *cur, int64_t *out)
{
    if (eat(cur, "Z")) {
        *out = 0;
        return true;
    }
    int sign;
    if (eat(cur, "+"))
        sign = 1;
    else if (eat(cur, "-"))
        sign = -1;
    else
        return false;
    int hh, mm = 0;
    if (!digits_int(cur, 2, &hh))
        return false;
    bool has_minutes = eat(cur, ":") || (cur->p < cur->end && is_digit(*cur->p));
    if (has_minutes && !digits_int(cur, 2, &mm))
        return false;
    if (hh > 23 || mm > 59)
        return false;
    *out = (int64_t)sign * (hh * 3600 + mm * 60);
    return true;
}

/* "YYYY-MM-DD" */
static bool iso_date(struct cursor *cur, struct civil *c)
{
    return digits(cur, 4, &c->year) && eat(cur, "-") && digits_int(cur, 2, &c->month) &&
           eat(cur, "-") && digits_int(cur, 2, &c->day);
}

static int finish(const struct civil *c, bool has_offset, int64_t offset_s, int64_t *us)
{
    if (!civil_valid(c))
        return HB_EINVAL;
    int64_t wall = civil_seconds(c);
    int64_t s = has_offset ? wall - offset_s : hb_store_time_from_local(wall);
    int64_t v = s * US_PER_S + c->micro;
    if (v < HB_STORE_TIME_MIN_US || v > HB_STORE_TIME_MAX_US)
        return HB_EINVAL;
    *us = v;
    return 0;
}

int hb_store_time_parse_db(const char *s, size_t len, int64_t *us)
{
    if (s == NULL)
        return HB_EINVAL;
    struct cursor cur = {s, s + len};
    struct civil c = {0};
    if (!iso_date(&cur, &c))
        return HB_EINVAL;
    if (!eat(&cur, " ") && !eat(&cur, "T"))
        return HB_EINVAL;
    if (!digits_int(&cur, 2, &c.hour) || !eat(&cur, ":") || !digits_int(&cur, 2, &c.minute) ||
        !eat(&cur, ":") || !digits_int(&cur, 2, &c.second))
        return HB_EINVAL;
    if (eat(&cur, ".") && !fraction(&cur, 1, 9, &c.micro))
        return HB_EINVAL;
    int64_t off = 0;
    if (!at_end(&cur) && (!offset(&cur, &off) || !at_end(&cur)))
        return HB_EINVAL;
    if (!civil_valid(&c))
        return HB_EINVAL;
    int64_t v = (civil_seconds(&c) - off) * US_PER_S + c.micro;
    if (v < HB_STORE_TIME_MIN_US || v > HB_STORE_TIME_MAX_US)
        return HB_EINVAL;
    *us = v;
    return 0;
}

static int parse_iso(struct cursor cur, int64_t *us)
{
    struct civil c = {0};
    if (!iso_date(&cur, &c))
        return HB_EINVAL;
    if (!eat(&cur, "T") && !eat(&cur, " "))
        return HB_EINVAL;
    if (!digits_int(&cur, 2, &c.hour) || !eat(&cur, ":") || !digits_int(&cur, 2, &c.minute))
        return HB_EINVAL;
    if (eat(&cur, ":")) {
        if (!digits_int(&cur, 2, &c.second))
            return HB_EINVAL;
        if ((peek_is(&cur, '.') || peek_is(&cur, ',')) &&
            (cur.p++, !fraction(&cur, 1, 6, &c.micro)))
            return HB_EINVAL;
    }
    int64_t off = 0;
    bool has_offset = !at_end(&cur);
    if (has_offset && !offset(&cur, &off))
        return HB_EINVAL;
    if (!at_end(&cur))
        return HB_EINVAL;
    return finish(&c, has_offset, off, us);
}

static int parse_display(struct cursor cur, int64_t *us)
{
    struct civil c = {0};
    if (!digits(&cur, 4, &c.year) || !eat(&cur, "年") || !digits_int(&cur, 2, &c.month) ||
        !eat(&cur, "月") || !digits_int(&cur, 2, &c.day) || !eat(&cur, "日 ") ||
        !digits_int(&cur, 2, &c.hour) || !eat(&cur, "時") || !digits_int(&cur, 2, &c.minute) ||
        !eat(&cur, "分") || !digits_int(&cur, 2, &c.second) || !eat(&cur, "秒") || !at_end(&cur))
        return HB_EINVAL;
    return finish(&c, false, 0, us);
}

int hb_store_time_parse_input(struct hb_str s, int64_t *us)
{
    if (s.ptr == NULL || s.len < 4)
        return HB_EINVAL;
    struct cursor cur = {s.ptr, s.ptr + s.len};
    /* The fifth byte tells the forms apart: '-' for ISO-8601, the first byte of 年 otherwise. */
    if (s.len > 4 && s.ptr[4] == '-')
        return parse_iso(cur, us);
    return parse_display(cur, us);
}
