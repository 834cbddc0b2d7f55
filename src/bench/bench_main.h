/* SPDX-License-Identifier: MIT */
/* `hiroba bench` (bench layer): the load generator's command line. It parses the options,
 * checks the targets (http:// only, loopback unless --allow-remote), pre-builds the requests,
 * runs the chosen modes (serial, threads, async) one after another and prints the report
 * (text, --json, --svg). `hiroba bench ws` goes to bench_ws. */
#ifndef HB_BENCH_MAIN_H
#define HB_BENCH_MAIN_H

/* Runs `hiroba bench ...`; argv[0] is "bench". Writes the report to stdout and one-line errors
 * to stderr. Returns the exit code: 0 when every request got a response, 2 for bad usage (bad
 * option, bad URL, non-loopback target without --allow-remote), 1 for a runtime failure
 * (unreachable target, failed requests, the time limit reached, an unwritable file). */
int hb_bench_main(int argc, char **argv);

#endif
