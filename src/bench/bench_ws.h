/* SPDX-License-Identifier: MIT */
/* `hiroba bench ws` (bench layer): WebSocket chat load, reserved until the server speaks
 * WebSocket. The planned shape reuses what HTTP load already has: client_conn for the
 * connections on one libuv loop per core, a sans-I/O frame codec beside http_client for the
 * upgrade and the frames, bench_stats for fan-out latency (send time stamped in each message,
 * read back by every subscriber), and bench_report for the output. */
#ifndef HB_BENCH_WS_H
#define HB_BENCH_WS_H

/* Entry point for `hiroba bench ws ...` (argv[0] is "ws"). Until WebSocket chat exists it prints
 * "not yet implemented" and returns 2; --help describes what it will do and returns 0. */
int hb_bench_ws_main(int argc, char **argv);

#endif
