/* SPDX-License-Identifier: MIT */
/* The hb-unit test framework: tests register themselves at load time (no central list to edit),
 * and the runner forks each test into its own process with a timeout (libuv's runner).
 * Assertion macros print both sides on failure (libuv task.h). */
#ifndef HB_TESTS_UNIT_H
#define HB_TESTS_UNIT_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct hb_unit_test {
    const char *suite; /* the test file's module name, e.g. "http_parser" */
    const char *name;
    void (*fn)(void);
    struct hb_unit_test *next;
};

void hb_unit_register(struct hb_unit_test *test);

/* HB_TEST(suite, name) { body }: suite must equal the file name without "test_". */
#define HB_TEST(suite, name)                                                                       \
    static void test_##suite##_##name(void);                                                       \
    static struct hb_unit_test reg_##suite##_##name = {#suite, #name, test_##suite##_##name,       \
                                                       NULL};                                      \
    __attribute__((constructor)) static void ctor_##suite##_##name(void)                           \
    {                                                                                              \
        hb_unit_register(&reg_##suite##_##name);                                                   \
    }                                                                                              \
    static void test_##suite##_##name(void)

#define HB_FAIL_(...)                                                                              \
    do {                                                                                           \
        fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);                                            \
        fprintf(stderr, __VA_ARGS__);                                                              \
        fputc('\n', stderr);                                                                       \
        exit(1);                                                                                   \
    } while (0)

#define ASSERT(cond)                                                                               \
    do {                                                                                           \
        if (!(cond))                                                                               \
            HB_FAIL_("assertion failed: %s", #cond);                                               \
    } while (0)

#define ASSERT_EQ_INT(got, want)                                                                   \
    do {                                                                                           \
        long long g_ = (long long)(got), w_ = (long long)(want);                                   \
        if (g_ != w_)                                                                              \
            HB_FAIL_("%s == %s: got %lld, want %lld", #got, #want, g_, w_);                        \
    } while (0)

#define ASSERT_EQ_STR(got, want)                                                                   \
    do {                                                                                           \
        const char *g_ = (got), *w_ = (want);                                                      \
        if (g_ == NULL || w_ == NULL || strcmp(g_, w_) != 0)                                       \
            HB_FAIL_("%s == %s: got \"%s\", want \"%s\"", #got, #want, g_ ? g_ : "(null)",         \
                     w_ ? w_ : "(null)");                                                          \
    } while (0)

/* Compares a (ptr, len) pair with a NUL-terminated string. */
#define ASSERT_EQ_MEM(ptr, len, want)                                                              \
    do {                                                                                           \
        const char *w_ = (want);                                                                   \
        size_t l_ = (size_t)(len);                                                                 \
        if (l_ != strlen(w_) || memcmp((ptr), w_, l_) != 0)                                        \
            HB_FAIL_("%s == %s: got \"%.*s\", want \"%s\"", #ptr, #want, (int)l_,                  \
                     (const char *)(ptr), w_);                                                     \
    } while (0)

#endif
