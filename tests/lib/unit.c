/* SPDX-License-Identifier: MIT */
/* hb-unit runner: `hb-unit [suite]` runs every registered test (or one suite's), each in a
 * forked child with a 30 s alarm, and prints one line per test and a closing summary. */
#include "unit.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static struct hb_unit_test *tests;

void hb_unit_register(struct hb_unit_test *test)
{
    test->next = tests;
    tests = test;
}

static int run_one(const struct hb_unit_test *t)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        return 0;
    if (pid == 0) {
        alarm(30);
        t->fn();
        fflush(NULL);
        _exit(0);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0)
        ;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 1;
    if (WIFSIGNALED(status))
        fprintf(stderr, "  killed by signal %d%s\n", WTERMSIG(status),
                WTERMSIG(status) == SIGALRM ? " (timeout)" : "");
    return 0;
}

int main(int argc, char **argv)
{
    const char *suite = argc > 1 ? argv[1] : NULL;
    int passed = 0, failed = 0;

    /* Registration order is reversed; run in file order. */
    struct hb_unit_test *rev = NULL;
    while (tests != NULL) {
        struct hb_unit_test *t = tests;
        tests = t->next;
        t->next = rev;
        rev = t;
    }
    for (struct hb_unit_test *t = rev; t != NULL; t = t->next) {
        if (suite != NULL && strcmp(suite, t->suite) != 0)
            continue;
        if (run_one(t)) {
            printf("ok   %s.%s\n", t->suite, t->name);
            passed++;
        } else {
            printf("FAIL %s.%s\n", t->suite, t->name);
            failed++;
        }
    }
    printf("%d passed, %d failed\n", passed, failed);
    if (passed + failed == 0) {
        fprintf(stderr, "no test matched '%s'\n", suite ? suite : "");
        return 1;
    }
    return failed == 0 ? 0 : 1;
}
