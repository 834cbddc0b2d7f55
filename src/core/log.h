/* SPDX-License-Identifier: MIT */
/* Logging to stderr, one line per event, as text or JSON lines (core layer).
 * Each line is written with one write(2), so lines from several worker threads never interleave.
 * Callers never pass tokens, passwords or the Sec-WebSocket-Protocol header. */
#ifndef HB_CORE_LOG_H
#define HB_CORE_LOG_H

#include <stdbool.h>

enum hb_log_level { HB_LOG_DEBUG, HB_LOG_INFO, HB_LOG_WARN, HB_LOG_ERROR };

/* Chooses the format (JSON lines when is_json) and the lowest level written. Call before any
 * thread logs. */
void hb_log_setup(bool is_json, enum hb_log_level min_level);

/* True when lines at level would be written. */
bool hb_log_enabled(enum hb_log_level level);

/* Writes one line: the message text. In JSON mode it becomes {"ts":..,"level":..,"msg":..}. */
void hb_log(enum hb_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A structured field for hb_log_fields: is_num values are written bare in JSON. */
struct hb_log_field {
    const char *key;
    const char *value;
    bool is_num;
};

/* Writes one line made of msg and fields: "msg key=value ..." as text, or a JSON object. */
void hb_log_fields(enum hb_log_level level, const char *msg, const struct hb_log_field *fields,
                   int n_fields);

#define hb_log_debug(...) hb_log(HB_LOG_DEBUG, __VA_ARGS__)
#define hb_log_info(...)  hb_log(HB_LOG_INFO, __VA_ARGS__)
#define hb_log_warn(...)  hb_log(HB_LOG_WARN, __VA_ARGS__)
#define hb_log_error(...) hb_log(HB_LOG_ERROR, __VA_ARGS__)

#endif
