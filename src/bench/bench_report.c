/* SPDX-License-Identifier: MIT */
/* Report formatting (bench layer). JSON schema (one object):
 *   {"target": "127.0.0.1:8000", "method": "GET", "urls": [..], "requests_per_mode": N|null,
 *    "duration_s": T|null, "rate": R|null,
 *    "modes": [{"mode": "serial"|"threads"|"async", "workers", "connections", "pipeline",
 *               "elapsed_s", "requests" (complete responses), "errors", "rps",
 *               "speedup_vs_serial": x|null, "status": {"200": n, ..},
 *               "errors_by_kind": {"connect": n, ..}, "error_messages": {"timeout": "..", ..},
 *               "latency_ms": {"min","mean","stddev","p50","p90","p99","p99_9","max"},
 *               "latency_distribution": [[percentile, ms], ..],
 *               "bytes_read", "bytes_written", "connects",
 *               "hit_time_limit", "interrupted", "gave_up"}, ..]}
 * The SVG has no scripts and no external references, so it can be attached anywhere. */
#include "bench/bench_report.h"

#include <errno.h>
#include <math.h>
#include <string.h>

static const char *const mode_colors[HB_BENCH_RUN_N_MODES] = {"#d62728", "#ff7f0e", "#1f77b4"};

const char *hb_bench_report_format_ns(char *out, size_t out_len, double ns)
{
    if (ns < 1e3)
        snprintf(out, out_len, "%.0fns", ns);
    else if (ns < 1e6)
        snprintf(out, out_len, "%.1fus", ns / 1e3);
    else if (ns < 1e9)
        snprintf(out, out_len, "%.2fms", ns / 1e6);
    else
        snprintf(out, out_len, "%.2fs", ns / 1e9);
    return out;
}

static void format_bytes(char *out, size_t out_len, uint64_t n)
{
    if (n < 1024)
        snprintf(out, out_len, "%llu B", (unsigned long long)n);
    else if (n < 1024ull * 1024)
        snprintf(out, out_len, "%.1f KiB", (double)n / 1024);
    else if (n < 1024ull * 1024 * 1024)
        snprintf(out, out_len, "%.1f MiB", (double)n / (1024.0 * 1024));
    else
        snprintf(out, out_len, "%.2f GiB", (double)n / (1024.0 * 1024 * 1024));
}

static double rps(const struct hb_bench_run_result *res)
{
    return (double)res->stats.n_responses * 1e9 / (double)res->elapsed_ns;
}

/* The serial result, or NULL when serial did not run or completed nothing. */
static const struct hb_bench_run_result *serial_of(const struct hb_bench_report *r)
{
    for (int i = 0; i < r->n_results; i++) {
        if (r->results[i].mode == HB_BENCH_RUN_SERIAL && r->results[i].stats.n_responses > 0)
            return &r->results[i];
    }
    return NULL;
}

static void describe_clients(char *out, size_t out_len, const struct hb_bench_run_result *res)
{
    switch (res->mode) {
    case HB_BENCH_RUN_SERIAL:
        snprintf(out, out_len, "1 connection, one request at a time");
        break;
    case HB_BENCH_RUN_THREADS:
        snprintf(out, out_len, "%d thread%s, one blocking connection each", res->n_workers,
                 res->n_workers == 1 ? "" : "s");
        break;
    default:
        snprintf(out, out_len, "%d event loop%s, %d connection%s, pipeline %d", res->n_workers,
                 res->n_workers == 1 ? "" : "s", res->n_connections,
                 res->n_connections == 1 ? "" : "s", res->pipeline);
        break;
    }
}

void hb_bench_report_text(FILE *out, const struct hb_bench_report *r)
{
    char a[32], b[32];
    fprintf(out, "%s %d URL%s on %s", r->method, r->n_urls, r->n_urls == 1 ? "" : "s (round-robin)",
            r->peer);
    if (r->n_requests > 0)
        fprintf(out, ", %llu requests per mode", (unsigned long long)r->n_requests);
    else
        fprintf(out, ", %s per mode",
                hb_bench_report_format_ns(a, sizeof(a), (double)r->duration_ns));
    if (r->rate > 0)
        fprintf(out, ", at %.0f req/s (latency from the scheduled send time)", r->rate);
    fputs("\n", out);

    for (int i = 0; i < r->n_results; i++) {
        const struct hb_bench_run_result *res = &r->results[i];
        const struct hb_bench_stats *s = &res->stats;
        char clients[128];
        describe_clients(clients, sizeof(clients), res);
        fprintf(out, "\n%-8s %s\n", hb_bench_run_mode_name(res->mode), clients);
        fprintf(out, "  requests  %llu in %.3f s, %.1f req/s, %llu error%s\n",
                (unsigned long long)s->n_responses, (double)res->elapsed_ns / 1e9, rps(res),
                (unsigned long long)hb_bench_stats_n_errors(s),
                hb_bench_stats_n_errors(s) == 1 ? "" : "s");
        if (s->n_latencies > 0) {
            static const struct {
                const char *name;
                double p;
            } pts[] = {{"min", 0},  {"p50", 50},     {"p90", 90},
                       {"p99", 99}, {"p99.9", 99.9}, {"max", 100}};
            fputs("  latency  ", out);
            for (size_t k = 0; k < sizeof(pts) / sizeof(pts[0]); k++)
                fprintf(out, " %s %s", pts[k].name,
                        hb_bench_report_format_ns(a, sizeof(a),
                                                  (double)hb_bench_stats_percentile(s, pts[k].p)));
            fprintf(out, "  (mean %s, sd %s)\n",
                    hb_bench_report_format_ns(a, sizeof(a), hb_bench_stats_mean(s)),
                    hb_bench_report_format_ns(b, sizeof(b), hb_bench_stats_stddev(s)));
        }
        if (s->n_responses > 0) {
            fputs("  status   ", out);
            for (int code = 0; code < HB_BENCH_STATS_N_STATUS; code++) {
                if (s->status[code] > 0)
                    fprintf(out, " %s%d: %llu", code == 0 ? "other " : "", code,
                            (unsigned long long)s->status[code]);
            }
            fputs("\n", out);
        }
        for (int k = 0; k < HB_BENCH_STATS_N_ERR; k++) {
            if (s->errors[k] > 0)
                fprintf(out, "  errors    %s: %llu (%s)\n",
                        hb_bench_stats_err_name((enum hb_bench_stats_err)k),
                        (unsigned long long)s->errors[k], s->error_text[k]);
        }
        format_bytes(a, sizeof(a), s->bytes_read);
        format_bytes(b, sizeof(b), s->bytes_written);
        fprintf(out, "  transfer  read %s, written %s, %llu connection%s opened\n", a, b,
                (unsigned long long)s->n_connects, s->n_connects == 1 ? "" : "s");
        if (res->hit_time_limit)
            fputs("  stopped   at the time limit, before every request was done\n", out);
        if (res->gave_up)
            fputs("  stopped   connecting kept failing\n", out);
        if (res->was_interrupted)
            fputs("  stopped   interrupted\n", out);
    }

    const struct hb_bench_run_result *serial = serial_of(r);
    if (r->n_results > 1 || serial != NULL) {
        fprintf(out, "\n%-8s %10s %12s %10s %10s\n", "mode", "time", "req/s", "p99",
                serial ? "speed-up" : "");
        for (int i = 0; i < r->n_results; i++) {
            const struct hb_bench_run_result *res = &r->results[i];
            fprintf(out, "%-8s %8.3f s %12.1f %10s", hb_bench_run_mode_name(res->mode),
                    (double)res->elapsed_ns / 1e9, rps(res),
                    hb_bench_report_format_ns(a, sizeof(a),
                                              (double)hb_bench_stats_percentile(&res->stats, 99)));
            if (serial != NULL)
                fprintf(out, " %9.2fx", rps(res) / rps(serial));
            fputs("\n", out);
        }
    }
}

static void json_string(FILE *out, const char *s)
{
    fputc('"', out);
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(out, "\\%c", *p);
        else if (*p < 0x20 || *p == 0x7f)
            fprintf(out, "\\u%04x", *p);
        else
            fputc(*p, out);
    }
    fputc('"', out);
}

/* A finite number for JSON (NaN and infinities are not JSON). */
static double json_num(double v)
{
    return isfinite(v) ? v : 0.0;
}

static const double curve_points[] = {0,    25,   50,    75,    90,     95, 99,
                                      99.5, 99.9, 99.95, 99.99, 99.999, 100};

void hb_bench_report_json(FILE *out, const struct hb_bench_report *r)
{
    const struct hb_bench_run_result *serial = serial_of(r);
    fputs("{\"target\":", out);
    json_string(out, r->peer);
    fputs(",\"method\":", out);
    json_string(out, r->method);
    fputs(",\"urls\":[", out);
    for (int i = 0; i < r->n_urls; i++) {
        if (i > 0)
            fputc(',', out);
        json_string(out, r->urls[i]);
    }
    fputs("],\"requests_per_mode\":", out);
    if (r->n_requests > 0)
        fprintf(out, "%llu", (unsigned long long)r->n_requests);
    else
        fputs("null", out);
    fputs(",\"duration_s\":", out);
    if (r->n_requests == 0)
        fprintf(out, "%.3f", (double)r->duration_ns / 1e9);
    else
        fputs("null", out);
    fputs(",\"rate\":", out);
    if (r->rate > 0)
        fprintf(out, "%.3f", r->rate);
    else
        fputs("null", out);
    fputs(",\"modes\":[", out);
    for (int i = 0; i < r->n_results; i++) {
        const struct hb_bench_run_result *res = &r->results[i];
        const struct hb_bench_stats *s = &res->stats;
        if (i > 0)
            fputc(',', out);
        fprintf(out,
                "{\"mode\":\"%s\",\"workers\":%d,\"connections\":%d,\"pipeline\":%d,"
                "\"elapsed_s\":%.6f,\"requests\":%llu,\"errors\":%llu,\"rps\":%.3f,"
                "\"speedup_vs_serial\":",
                hb_bench_run_mode_name(res->mode), res->n_workers, res->n_connections,
                res->pipeline, (double)res->elapsed_ns / 1e9, (unsigned long long)s->n_responses,
                (unsigned long long)hb_bench_stats_n_errors(s), json_num(rps(res)));
        if (serial != NULL)
            fprintf(out, "%.4f", json_num(rps(res) / rps(serial)));
        else
            fputs("null", out);
        fputs(",\"status\":{", out);
        int n = 0;
        for (int code = 0; code < HB_BENCH_STATS_N_STATUS; code++) {
            if (s->status[code] > 0)
                fprintf(out, "%s\"%d\":%llu", n++ ? "," : "", code,
                        (unsigned long long)s->status[code]);
        }
        fputs("},\"errors_by_kind\":{", out);
        for (int k = 0; k < HB_BENCH_STATS_N_ERR; k++)
            fprintf(out, "%s\"%s\":%llu", k ? "," : "",
                    hb_bench_stats_err_name((enum hb_bench_stats_err)k),
                    (unsigned long long)s->errors[k]);
        fputs("},\"error_messages\":{", out);
        n = 0;
        for (int k = 0; k < HB_BENCH_STATS_N_ERR; k++) {
            if (s->errors[k] == 0)
                continue;
            fprintf(out, "%s\"%s\":", n++ ? "," : "",
                    hb_bench_stats_err_name((enum hb_bench_stats_err)k));
            json_string(out, s->error_text[k]);
        }
        fprintf(out,
                "},\"latency_ms\":{\"min\":%.6f,\"mean\":%.6f,\"stddev\":%.6f,\"p50\":%.6f,"
                "\"p90\":%.6f,\"p99\":%.6f,\"p99_9\":%.6f,\"max\":%.6f}",
                (double)hb_bench_stats_percentile(s, 0) / 1e6, hb_bench_stats_mean(s) / 1e6,
                hb_bench_stats_stddev(s) / 1e6, (double)hb_bench_stats_percentile(s, 50) / 1e6,
                (double)hb_bench_stats_percentile(s, 90) / 1e6,
                (double)hb_bench_stats_percentile(s, 99) / 1e6,
                (double)hb_bench_stats_percentile(s, 99.9) / 1e6,
                (double)hb_bench_stats_percentile(s, 100) / 1e6);
        fputs(",\"latency_distribution\":[", out);
        for (size_t k = 0; k < sizeof(curve_points) / sizeof(curve_points[0]); k++)
            fprintf(out, "%s[%g,%.6f]", k ? "," : "", curve_points[k],
                    (double)hb_bench_stats_percentile(s, curve_points[k]) / 1e6);
        fprintf(out,
                "],\"bytes_read\":%llu,\"bytes_written\":%llu,\"connects\":%llu,"
                "\"hit_time_limit\":%s,\"interrupted\":%s,\"gave_up\":%s}",
                (unsigned long long)s->bytes_read, (unsigned long long)s->bytes_written,
                (unsigned long long)s->n_connects, res->hit_time_limit ? "true" : "false",
                res->was_interrupted ? "true" : "false", res->gave_up ? "true" : "false");
    }
    fputs("]}\n", out);
}

/* An axis label: "1ms", "20us", "500ms", "2s". */
static const char *tick_label(char *out, size_t out_len, double ns)
{
    if (ns >= 1e9)
        snprintf(out, out_len, "%gs", ns / 1e9);
    else if (ns >= 1e6)
        snprintf(out, out_len, "%gms", ns / 1e6);
    else if (ns >= 1e3)
        snprintf(out, out_len, "%gus", ns / 1e3);
    else
        snprintf(out, out_len, "%gns", ns);
    return out;
}

/* Writes text with XML's five special characters escaped. */
static void xml_text(FILE *out, const char *s)
{
    for (; *s != '\0'; s++) {
        switch (*s) {
        case '<':
            fputs("&lt;", out);
            break;
        case '>':
            fputs("&gt;", out);
            break;
        case '&':
            fputs("&amp;", out);
            break;
        case '"':
            fputs("&quot;", out);
            break;
        case '\'':
            fputs("&apos;", out);
            break;
        default:
            fputc(*s, out);
        }
    }
}

int hb_bench_report_svg(const char *path, const struct hb_bench_report *r)
{
    FILE *out = fopen(path, "w");
    if (out == NULL)
        return -errno;
    const double width = 820, left = 90, right = 30, bar_h = 26, gap = 10;
    const double plot_w = width - left - right;
    double bars_top = 70;
    double bars_h = r->n_results * (bar_h + gap);
    double curve_top = bars_top + bars_h + 80, curve_h = 300;
    double height = curve_top + curve_h + 60;
    const struct hb_bench_run_result *serial = serial_of(r);
    char a[32];

    fprintf(out,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
            "viewBox=\"0 0 %.0f %.0f\" font-family=\"sans-serif\" font-size=\"13\">\n"
            "<rect width=\"100%%\" height=\"100%%\" fill=\"#ffffff\"/>\n",
            width, height, width, height);
    fputs("<text x=\"20\" y=\"30\" font-size=\"17\" font-weight=\"bold\">hiroba bench: ", out);
    xml_text(out, r->method);
    fprintf(out, " %d URL%s on ", r->n_urls, r->n_urls == 1 ? "" : "s");
    xml_text(out, r->peer);
    fputs("</text>\n<text x=\"20\" y=\"52\" fill=\"#555\">", out);
    if (r->n_requests > 0)
        fprintf(out, "%llu requests per mode", (unsigned long long)r->n_requests);
    else
        fprintf(out, "%s per mode",
                hb_bench_report_format_ns(a, sizeof(a), (double)r->duration_ns));
    fputs(": total time (bar), requests/s", out);
    if (serial != NULL)
        fputs(" and speed-up over serial", out);
    fputs("</text>\n", out);

    /* Bars: total time per mode. */
    double max_s = 0;
    for (int i = 0; i < r->n_results; i++) {
        double t = (double)r->results[i].elapsed_ns / 1e9;
        if (t > max_s)
            max_s = t;
    }
    if (max_s <= 0)
        max_s = 1;
    for (int i = 0; i < r->n_results; i++) {
        const struct hb_bench_run_result *res = &r->results[i];
        double y = bars_top + i * (bar_h + gap);
        double t = (double)res->elapsed_ns / 1e9;
        double w = plot_w * 0.7 * t / max_s;
        if (w < 1)
            w = 1;
        fprintf(out,
                "<text x=\"%.0f\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n"
                "<rect x=\"%.0f\" y=\"%.1f\" width=\"%.1f\" height=\"%.0f\" fill=\"%s\"/>\n"
                "<text x=\"%.1f\" y=\"%.1f\">%.3f s, %.0f req/s",
                left - 10, y + bar_h * 0.68, hb_bench_run_mode_name(res->mode), left, y, w, bar_h,
                mode_colors[res->mode], left + w + 8, y + bar_h * 0.68, t, rps(res));
        if (serial != NULL)
            fprintf(out, ", %.2fx", rps(res) / rps(serial));
        fputs("</text>\n", out);
    }

    /* Latency percentile curves: x is log10(1 / (1 - p)), y is log10(latency). */
    double lo = 1e18, hi = 0;
    for (int i = 0; i < r->n_results; i++) {
        const struct hb_bench_stats *s = &r->results[i].stats;
        if (s->n_latencies == 0)
            continue;
        double mn = (double)(s->min_ns > 0 ? s->min_ns : 1), mx = (double)s->max_ns;
        lo = mn < lo ? mn : lo;
        hi = mx > hi ? mx : hi;
    }
    fprintf(out,
            "<text x=\"20\" y=\"%.0f\" font-size=\"15\" font-weight=\"bold\">latency by "
            "percentile",
            curve_top - 30);
    if (r->rate > 0)
        fputs(" (from the scheduled send time)", out);
    fputs("</text>\n", out);
    const double x_decades = 5; /* up to 99.999% */
    fprintf(out,
            "<rect x=\"%.0f\" y=\"%.0f\" width=\"%.0f\" height=\"%.0f\" fill=\"none\" "
            "stroke=\"#999\"/>\n",
            left, curve_top, plot_w, curve_h);
    static const char *const x_labels[] = {"0%", "90%", "99%", "99.9%", "99.99%", "99.999%"};
    fprintf(out,
            "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"end\" fill=\"#555\">percentile</text>\n",
            left + plot_w, curve_top + curve_h + 36);
    for (int k = 0; k <= (int)x_decades; k++) {
        double x = left + plot_w * k / x_decades;
        fprintf(out,
                "<line x1=\"%.1f\" y1=\"%.0f\" x2=\"%.1f\" y2=\"%.0f\" stroke=\"#eee\"/>\n"
                "<text x=\"%.1f\" y=\"%.0f\" text-anchor=\"middle\" fill=\"#555\">%s</text>\n",
                x, curve_top, x, curve_top + curve_h, x, curve_top + curve_h + 18, x_labels[k]);
    }
    if (hi > 0) {
        double y_lo = floor(log10(lo)), y_hi = ceil(log10(hi));
        if (y_hi <= y_lo)
            y_hi = y_lo + 1;
        /* Decades, and 2x and 5x within them when the range is narrow. */
        static const double steps[] = {1, 2, 5};
        int n_steps = y_hi - y_lo <= 2 ? 3 : 1;
        for (int decade = (int)y_lo; decade <= (int)y_hi; decade++) {
            for (int k = 0; k < n_steps; k++) {
                double v = steps[k] * pow(10, decade);
                double pos = log10(v);
                if (pos > y_hi + 1e-9)
                    break;
                double y = curve_top + curve_h - curve_h * (pos - y_lo) / (y_hi - y_lo);
                fprintf(out,
                        "<line x1=\"%.0f\" y1=\"%.1f\" x2=\"%.0f\" y2=\"%.1f\" stroke=\"%s\"/>\n"
                        "<text x=\"%.0f\" y=\"%.1f\" text-anchor=\"end\" fill=\"#555\">%s</text>\n",
                        left, y, left + plot_w, y, k == 0 ? "#e4e4e4" : "#f4f4f4", left - 6, y + 4,
                        tick_label(a, sizeof(a), v));
            }
        }
        for (int i = 0; i < r->n_results; i++) {
            const struct hb_bench_stats *s = &r->results[i].stats;
            if (s->n_latencies == 0)
                continue;
            fprintf(out, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"",
                    mode_colors[r->results[i].mode]);
            /* Stop where the percentiles run out of samples: 1 - p < 1/n. */
            double x_max = log10((double)s->n_latencies);
            if (x_max > x_decades)
                x_max = x_decades;
            int n_points = (int)(x_max / 0.05 + 1e-9);
            for (int k = 0; k <= n_points; k++) {
                double xd = k * 0.05;
                double p = 100.0 * (1.0 - pow(10, -xd));
                double v = (double)hb_bench_stats_percentile(s, p);
                if (v < 1)
                    v = 1;
                double x = left + plot_w * xd / x_decades;
                double y = curve_top + curve_h - curve_h * (log10(v) - y_lo) / (y_hi - y_lo);
                fprintf(out, "%.1f,%.1f ", x, y);
            }
            fputs("\"/>\n", out);
        }
    }
    /* Legend. */
    double ly = curve_top + curve_h + 48;
    for (int i = 0; i < r->n_results; i++) {
        double lx = left + i * 150;
        fprintf(out,
                "<rect x=\"%.0f\" y=\"%.0f\" width=\"14\" height=\"14\" fill=\"%s\"/>"
                "<text x=\"%.0f\" y=\"%.0f\">%s</text>\n",
                lx, ly - 11, mode_colors[r->results[i].mode], lx + 20, ly,
                hb_bench_run_mode_name(r->results[i].mode));
    }
    fputs("</svg>\n", out);
    int err = ferror(out) ? -EIO : 0;
    if (fclose(out) != 0 && err == 0)
        err = -errno;
    return err;
}

void hb_bench_report_progress(FILE *out, const char *mode, uint64_t n_done, uint64_t total,
                              uint64_t elapsed_ns, uint64_t duration_ns)
{
    enum { WIDTH = 30 };
    double frac = total > 0 ? (double)n_done / (double)total
                            : (duration_ns > 0 ? (double)elapsed_ns / (double)duration_ns : 0);
    if (frac > 1)
        frac = 1;
    char bar[WIDTH + 1];
    int filled = (int)(frac * WIDTH);
    for (int i = 0; i < WIDTH; i++)
        bar[i] = i < filled ? '#' : '.';
    bar[WIDTH] = '\0';
    double secs = (double)elapsed_ns / 1e9;
    fprintf(out, "\r\033[K%-8s [%s] %3.0f%%  %llu req  %.0f req/s  %.1f s", mode, bar, frac * 100,
            (unsigned long long)n_done, secs > 0 ? (double)n_done / secs : 0.0, secs);
    fflush(out);
}

void hb_bench_report_progress_clear(FILE *out)
{
    fputs("\r\033[K", out);
    fflush(out);
}
