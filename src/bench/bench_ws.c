/* SPDX-License-Identifier: MIT */
/* `hiroba bench ws` placeholder (bench layer). TODO(#7): chat load over WebSocket once the
 * server's /ws/chat/ endpoint exists: N clients per room, M rooms, a send rate per client, and
 * the fan-out latency distribution from each message's send stamp to each delivery. */
#include "bench/bench_ws.h"

#include <stdio.h>
#include <string.h>

static const char usage[] =
    "usage: hiroba bench ws [options] URL\n"
    "\n"
    "WebSocket chat load (not yet implemented): clients join chat rooms, send messages at a\n"
    "fixed rate and measure how long each message takes to reach every subscriber.\n";

int hb_bench_ws_main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(usage, stdout);
            return 0;
        }
    }
    fputs("hiroba bench ws: not yet implemented (needs the server's WebSocket chat)\n", stderr);
    return 2;
}
