/* SPDX-License-Identifier: MIT */
/* `hiroba bench ws` (bench layer): WebSocket chat load. It logs in once over REST (register,
 * then a token), creates the rooms bench-1..bench-R if they do not exist, and opens C chat
 * sockets spread round-robin over the rooms on one libuv loop, with a ramp (a bounded number
 * of handshakes in flight, retries with backoff). Once every socket is open, each sends
 * {"message":"<sender>:<seq>:<send time ns>"} at a fixed rate for the duration; every socket
 * of a room receives every message of the room (the sender too), so the latency of each
 * delivery is read back from the stamp (CLOCK_MONOTONIC, same process) into bench_stats's
 * histogram. A message's expected deliveries are the sockets of its room open when it was sent;
 * after a drain, drops = expected - delivered. The WebSocket client side (masked client frames,
 * unmasked server frames, RFC 6455 §5) is written here: the bench layer must not use ws/. */
#ifndef HB_BENCH_WS_H
#define HB_BENCH_WS_H

/* Entry point for `hiroba bench ws ...` (argv[0] is "ws"). Prints the report (text or --json)
 * on stdout. Returns 0 when every expected delivery arrived without error, 1 on runtime
 * failures (one line per cause on stderr: refused, login failed, drops, errors), 2 on bad
 * usage. */
int hb_bench_ws_main(int argc, char **argv);

#endif
