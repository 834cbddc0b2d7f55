/* SPDX-License-Identifier: MIT */
/* Unit tests for the core layer: arena, buf, str, err. */
#include "core/arena.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/str.h"
#include "unit.h"

static int n_deferred;

static void count_defer(void *arg)
{
    (void)arg;
    n_deferred++;
}

HB_TEST(core, arena_alloc_reset_keeps_first_block)
{
    struct hb_arena arena;
    hb_arena_init(&arena, 1024);
    char *a = hb_arena_alloc(&arena, 10);
    char *b = hb_arena_alloc(&arena, 10);
    ASSERT(b - a == 16); /* 16-byte alignment */
    char *big = hb_arena_alloc(&arena, 100000);
    memset(big, 'x', 100000);
    hb_arena_defer(&arena, count_defer, NULL);
    hb_arena_defer(&arena, count_defer, NULL);
    hb_arena_reset(&arena);
    ASSERT_EQ_INT(n_deferred, 2);
    char *c = hb_arena_alloc(&arena, 10);
    ASSERT(c == a); /* the first block is reused */
    ASSERT_EQ_STR(hb_arena_printf(&arena, "%d-%s", 42, "x"), "42-x");
    ASSERT_EQ_STR(hb_arena_strndup(&arena, "hello", 3), "hel");
    hb_arena_release(&arena);
}

HB_TEST(core, buf_cap_is_hard)
{
    struct hb_buf buf;
    hb_buf_init(&buf, 8);
    ASSERT_EQ_INT(hb_buf_append_str(&buf, "12345"), 0);
    ASSERT_EQ_INT(hb_buf_append_str(&buf, "6789"), HB_ETOOLARGE);
    ASSERT_EQ_STR(buf.data, "12345"); /* unchanged after a failed append */
    ASSERT_EQ_INT(hb_buf_append_str(&buf, "678"), 0);
    ASSERT_EQ_INT(buf.len, 8);
    hb_buf_consume(&buf, 3);
    ASSERT_EQ_STR(buf.data, "45678");
    hb_buf_reset(&buf);
    ASSERT_EQ_INT(hb_buf_append_i64(&buf, -1234567), 0);
    ASSERT_EQ_STR(buf.data, "-1234567");
    ASSERT_EQ_INT(hb_buf_printf(&buf, "%s", "toolong"), HB_ETOOLARGE);
    hb_buf_release(&buf);
}

HB_TEST(core, str_helpers)
{
    unsigned long long v = 0;
    ASSERT(hb_str_ieq(HB_STR("Content-Length"), HB_STR("content-length")));
    ASSERT(!hb_str_ieq(HB_STR("Content-Length"), HB_STR("content-lengt")));
    struct hb_str t = hb_str_trim_ows(HB_STR(" \t abc \t"));
    ASSERT_EQ_MEM(t.ptr, t.len, "abc");
    ASSERT_EQ_INT(hb_str_to_u64(HB_STR("0012"), &v), 0);
    ASSERT_EQ_INT(v, 12);
    ASSERT_EQ_INT(hb_str_to_u64(HB_STR("-1"), &v), HB_EINVAL);
    ASSERT_EQ_INT(hb_str_to_u64(HB_STR(""), &v), HB_EINVAL);
    ASSERT_EQ_INT(hb_str_to_u64(HB_STR("1234567890123456789"), &v), HB_EINVAL);
}

HB_TEST(core, err_names)
{
    ASSERT_EQ_STR(hb_err_name(HB_EPROTO), "HB_EPROTO");
    ASSERT_EQ_STR(hb_strerror(HB_ETOOLARGE), "too large");
    ASSERT_EQ_STR(hb_err_name(-2), "UNKNOWN");
}
