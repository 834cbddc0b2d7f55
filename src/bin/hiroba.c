/* SPDX-License-Identifier: MIT */
/* The hiroba command line (bin layer): the composition root. It only picks the command and
 * hands over to the layer that implements it. Exit codes: 0 success, 2 bad usage, 1 failure. */
#include <stdio.h>
#include <string.h>

#include "app/app.h"
#include "bench/bench_main.h"

static const char usage[] =
    "usage: hiroba <command> [options]\n"
    "\n"
    "hiroba (広場) is a bulletin-board and real-time chat server.\n"
    "\n"
    "commands:\n"
    "  serve            run the HTTP/WebSocket server (default 127.0.0.1:8000)\n"
    "  migrate          create or upgrade the database schema\n"
    "  createsuperuser  create a staff account\n"
    "  bench URL...     load generator: async vs threads vs serial\n"
    "\n"
    "Run 'hiroba <command> --help' for a command's options.\n";

int main(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
        !strcmp(argv[1], "help")) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "serve"))
        return hb_app_serve_main(argc - 2, argv + 2);
    if (!strcmp(cmd, "migrate"))
        return hb_app_migrate_main(argc - 2, argv + 2);
    if (!strcmp(cmd, "bench"))
        return hb_bench_main(argc - 1, argv + 1);
    if (!strcmp(cmd, "createsuperuser"))
        return hb_app_createsuperuser_main(argc - 2, argv + 2);
    fprintf(stderr, "hiroba: unknown command '%s' (see 'hiroba --help')\n", cmd);
    return 2;
}
