/* SPDX-License-Identifier: MIT */
/* Timestamps for storage and display (store layer, API.md §2.6 and §9).
 * Every time is carried as int64 microseconds since the Unix epoch (UTC). The database holds UTC
 * text "YYYY-MM-DD HH:MM:SS[.ffffff]" (Django's SQLite form); clients see local time in the
 * configured zone as "YYYY年MM月DD日 HH時MM分SS秒". The zone is the process's TZ: the server
 * calls setenv("TZ", zone) and tzset() once at startup, before any thread starts, and everything
 * here uses localtime_r(), so all functions are thread-safe. Valid times are the years 1 to 9999
 * in UTC, Django's range. */
#ifndef HB_STORE_STORE_TIME_H
#define HB_STORE_STORE_TIME_H

#include <stddef.h>
#include <stdint.h>

#include "core/str.h"

/* "No time given" in input structs: omitted on create means now, on update unchanged. */
#define HB_STORE_TIME_NONE INT64_MIN

/* The smallest and largest valid times: 0001-01-01 00:00:00 and 9999-12-31 23:59:59.999999 UTC. */
#define HB_STORE_TIME_MIN_US (-62135596800LL * 1000000)
#define HB_STORE_TIME_MAX_US (253402300800LL * 1000000 - 1)

/* Buffer sizes, NUL included. */
#define HB_STORE_TIME_DB_SIZE      27 /* "YYYY-MM-DD HH:MM:SS.ffffff" */
#define HB_STORE_TIME_DISPLAY_SIZE 40 /* 33 bytes of UTF-8, with room for a 5-digit year */

/* Writes us as storage text ("2025-01-13 23:56:12", plus ".ffffff" only when the microseconds
 * are non-zero) into out. Returns the length, or 0 (out = "") when us is outside the valid range.
 */
size_t hb_store_time_format_db(int64_t us, char out[static HB_STORE_TIME_DB_SIZE]);

/* Parses storage text written by hiroba or Django: "YYYY-MM-DD HH:MM:SS" with an optional
 * fraction of 1 to 6 digits; a 'T' separator and a trailing "Z"/"+hh:mm" offset are accepted too
 * (other software). Returns 0 and stores the time, or HB_EINVAL. */
int hb_store_time_parse_db(const char *s, size_t len, int64_t *us);

/* Writes us as local display text ("2025年01月14日 08時56分12秒", no fraction) into out.
 * Returns the length, or 0 (out = "") when us is outside the valid range. */
size_t hb_store_time_format_display(int64_t us, char out[static HB_STORE_TIME_DISPLAY_SIZE]);

/* Parses a client's created_at (API.md §2.6): ISO-8601 "YYYY-MM-DD", 'T' or one space, "hh:mm",
 * optional ":ss", optional '.' or ',' and 1 to 6 digits, optional offset "Z", "±hh:mm", "±hhmm"
 * or "±hh"; or the display format. Without an offset the text is local time in the configured
 * zone: a repeated local time takes its first occurrence, and a time in a gap uses the offset in
 * force before the transition. Returns 0 and stores the time, or HB_EINVAL for anything else
 * (including results outside the valid range). */
int hb_store_time_parse_input(struct hb_str s, int64_t *us);

/* Converts local wall-clock seconds (the local time's fields read as if they were UTC) to Unix
 * seconds with the DST rules above. Exposed for tests. */
int64_t hb_store_time_from_local(int64_t local_s);

#endif
