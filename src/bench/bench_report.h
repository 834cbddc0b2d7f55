/* SPDX-License-Identifier: MIT */
/* Load-generator output (bench layer): the text report for people, JSON for scripts, a
 * self-contained SVG chart (time per mode as bars, latency percentile curves), and the live
 * progress line. Nothing here measures; it only formats finished results. The speed-up of a
 * mode is its requests/s over serial's, so it is defined only when serial ran. */
#ifndef HB_BENCH_REPORT_H
#define HB_BENCH_REPORT_H

#include <stdint.h>
#include <stdio.h>

#include "bench/bench_run.h"

/* What was asked for and what came back. Everything is borrowed. */
struct hb_bench_report {
    const char *const *urls;
    int n_urls;
    const char *method;
    const char *peer;                          /* "127.0.0.1:8000" */
    uint64_t n_requests;                       /* per mode; 0 for a timed run */
    uint64_t duration_ns;                      /* for a timed run */
    double rate;                               /* 0 for as fast as possible */
    const struct hb_bench_run_result *results; /* in the order the modes ran */
    int n_results;
};

/* Writes the human-readable report: one block per mode, then a comparison table. */
void hb_bench_report_text(FILE *out, const struct hb_bench_report *r);

/* Writes one JSON object (schema in the .c file's header comment), newline-terminated. */
void hb_bench_report_json(FILE *out, const struct hb_bench_report *r);

/* Writes the SVG chart to path. Returns 0 or a negative errno. */
int hb_bench_report_svg(const char *path, const struct hb_bench_report *r);

/* Redraws the progress line for a run in progress (terminal only): a bar over total requests,
 * or over the duration when total is 0. */
void hb_bench_report_progress(FILE *out, const char *mode, uint64_t n_done, uint64_t total,
                              uint64_t elapsed_ns, uint64_t duration_ns);

/* Erases the progress line. */
void hb_bench_report_progress_clear(FILE *out);

/* Formats a duration for people: "812ns", "81.2us", "1.23ms", "2.01s". Returns out. */
const char *hb_bench_report_format_ns(char *out, size_t out_len, double ns);

#endif
