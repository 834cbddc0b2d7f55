/* SPDX-License-Identifier: MIT */
/* Unit tests for store_time: storage text both ways, display text, client input forms (API.md
 * §2.6) with offsets, and the DST rules for local times. Each test sets TZ itself, as the
 * server does once at startup. */
#include <stdlib.h>
#include <time.h>

#include "core/err.h"
#include "store/store_time.h"
#include "unit.h"

/* 2025-01-13 23:56:12 UTC = 2025年01月14日 08時56分12秒 in Tokyo (API.md's example). */
#define T0 1736812572LL
#define S  1000000LL

static void zone(const char *tz)
{
    setenv("TZ", tz, 1);
    tzset();
}

static int64_t input(const char *text)
{
    int64_t us = 42;
    int err = hb_store_time_parse_input(hb_str_from(text), &us);
    return err < 0 ? err : us;
}

static int64_t db(const char *text)
{
    int64_t us = 42;
    int err = hb_store_time_parse_db(text, strlen(text), &us);
    return err < 0 ? err : us;
}

static const char *fmt_db(int64_t us)
{
    static char out[HB_STORE_TIME_DB_SIZE];
    hb_store_time_format_db(us, out);
    return out;
}

static const char *fmt_display(int64_t us)
{
    static char out[HB_STORE_TIME_DISPLAY_SIZE];
    hb_store_time_format_display(us, out);
    return out;
}

HB_TEST(store_time, db_text_round_trip)
{
    ASSERT_EQ_STR(fmt_db(0), "1970-01-01 00:00:00");
    ASSERT_EQ_STR(fmt_db(T0 * S), "2025-01-13 23:56:12");
    ASSERT_EQ_STR(fmt_db(T0 * S + 123456), "2025-01-13 23:56:12.123456");
    ASSERT_EQ_STR(fmt_db(T0 * S + 5), "2025-01-13 23:56:12.000005");
    ASSERT_EQ_STR(fmt_db(-S / 2), "1969-12-31 23:59:59.500000");
    ASSERT_EQ_STR(fmt_db(HB_STORE_TIME_MIN_US), "0001-01-01 00:00:00");
    ASSERT_EQ_STR(fmt_db(HB_STORE_TIME_MAX_US), "9999-12-31 23:59:59.999999");
    ASSERT_EQ_STR(fmt_db(HB_STORE_TIME_MAX_US + 1), "");
    ASSERT_EQ_STR(fmt_db(HB_STORE_TIME_NONE), "");
    ASSERT_EQ_STR(fmt_db(951782400LL * S), "2000-02-29 00:00:00");

    ASSERT_EQ_INT(db("2025-01-13 23:56:12"), T0 * S);
    ASSERT_EQ_INT(db("2025-01-13 23:56:12.123456"), T0 * S + 123456);
    ASSERT_EQ_INT(db("2025-01-13 23:56:12.5"), T0 * S + 500000);
    ASSERT_EQ_INT(db("2025-01-13T23:56:12"), T0 * S);
    ASSERT_EQ_INT(db("2025-01-13 23:56:12+00:00"), T0 * S);
    ASSERT_EQ_INT(db("2025-01-14 08:56:12+09:00"), T0 * S);
    ASSERT_EQ_INT(db("2025-01-13 23:56:12.123456789"), T0 * S + 123456);
    ASSERT_EQ_INT(db("1969-12-31 23:59:59.500000"), -S / 2);
    ASSERT_EQ_INT(db("0001-01-01 00:00:00"), HB_STORE_TIME_MIN_US);
    ASSERT_EQ_INT(db("9999-12-31 23:59:59.999999"), HB_STORE_TIME_MAX_US);
    for (int64_t us = -3 * S; us < 3 * S; us += 250001)
        ASSERT_EQ_INT(db(fmt_db(us)), us);

    const char *bad[] = {"",
                         "2025-01-13",
                         "2025-01-13 23:56",
                         "2025-13-01 00:00:00",
                         "2025-02-29 00:00:00",
                         "2025-01-13 24:00:00",
                         "2025-01-13 23:56:12.",
                         "2025-01-13 23:56:12 ",
                         "0000-12-31 00:00:00",
                         "2025/01/13 23:56:12",
                         "x025-01-13 23:56:12"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (db(bad[i]) != HB_EINVAL)
            HB_FAIL_("'%s' parsed", bad[i]);
    int64_t us;
    ASSERT_EQ_INT(hb_store_time_parse_db(NULL, 0, &us), HB_EINVAL);
}

HB_TEST(store_time, display_in_zone)
{
    zone("Asia/Tokyo");
    ASSERT_EQ_STR(fmt_display(T0 * S), "2025年01月14日 08時56分12秒");
    ASSERT_EQ_STR(fmt_display(T0 * S + 999999), "2025年01月14日 08時56分12秒"); /* no rounding */
    ASSERT_EQ_STR(fmt_display(0), "1970年01月01日 09時00分00秒");
    ASSERT_EQ_STR(fmt_display(-1), "1970年01月01日 08時59分59秒");
    ASSERT_EQ_STR(fmt_display(HB_STORE_TIME_NONE), "");
    zone("UTC");
    ASSERT_EQ_STR(fmt_display(T0 * S), "2025年01月13日 23時56分12秒");
    zone("America/New_York");
    ASSERT_EQ_STR(fmt_display(T0 * S), "2025年01月13日 18時56分12秒");
    /* 2024-07-01 12:00 UTC is 08:00 EDT. */
    ASSERT_EQ_STR(fmt_display(1719835200LL * S), "2024年07月01日 08時00分00秒");
}

HB_TEST(store_time, input_iso_forms)
{
    zone("Asia/Tokyo");
    ASSERT_EQ_INT(input("2025-01-14T08:56:12"), T0 * S); /* local time */
    ASSERT_EQ_INT(input("2025-01-14 08:56:12"), T0 * S);
    ASSERT_EQ_INT(input("2025-01-14T08:56"), (T0 - 12) * S);
    ASSERT_EQ_INT(input("2025-01-13T23:56:12Z"), T0 * S);
    ASSERT_EQ_INT(input("2025-01-14T08:56:12+09:00"), T0 * S);
    ASSERT_EQ_INT(input("2025-01-14T08:56:12+0900"), T0 * S);
    ASSERT_EQ_INT(input("2025-01-14T08:56:12+09"), T0 * S);
    ASSERT_EQ_INT(input("2025-01-13T18:56:12-05:00"), T0 * S);
    ASSERT_EQ_INT(input("2025-01-14T05:26:12+05:30"), T0 * S);
    ASSERT_EQ_INT(input("2025-01-13T23:56Z"), (T0 - 12) * S);
    ASSERT_EQ_INT(input("2025-01-14T08:56:12.1"), T0 * S + 100000);
    ASSERT_EQ_INT(input("2025-01-14T08:56:12,123456"), T0 * S + 123456);
    ASSERT_EQ_INT(input("2025-01-13T23:56:12.000001Z"), T0 * S + 1);
    ASSERT_EQ_INT(input("2024-02-29T09:00:00"), 1709164800LL * S);
    ASSERT_EQ_INT(input("0001-01-01T00:00Z"), HB_STORE_TIME_MIN_US);
    ASSERT_EQ_INT(input("9999-12-31T23:59:59.999999Z"), HB_STORE_TIME_MAX_US);
}

HB_TEST(store_time, input_display_form)
{
    zone("Asia/Tokyo");
    ASSERT_EQ_INT(input("2025年01月14日 08時56分12秒"), T0 * S);
    char text[HB_STORE_TIME_DISPLAY_SIZE];
    for (int64_t s = T0 - 86400 * 400; s < T0; s += 86400 * 7 + 3607) {
        hb_store_time_format_display(s * S, text);
        ASSERT_EQ_INT(input(text), s * S); /* output parses back to itself */
    }
    zone("America/New_York");
    ASSERT_EQ_INT(input("2025年01月13日 18時56分12秒"), T0 * S);
}

HB_TEST(store_time, input_rejects)
{
    zone("Asia/Tokyo");
    const char *bad[] = {"",
                         "123",
                         "1736812572",
                         "2025-01-14",
                         "2025-01-14T",
                         "2025-13-01T00:00",
                         "2025-00-10T00:00",
                         "2025-02-29T00:00",
                         "2025-04-31T00:00",
                         "2025-01-14T24:00",
                         "2025-01-14T08:60",
                         "2025-01-14T08:56:60",
                         "2025-1-14T08:56",
                         "2025-01-14T8:56",
                         "2025-01-14T08:56.5",
                         "2025-01-14T08:56:12.",
                         "2025-01-14T08:56:12.1234567",
                         "2025-01-14T08:56:12+24:00",
                         "2025-01-14T08:56:12+09:60",
                         "2025-01-14T08:56:12+9",
                         "2025-01-14T08:56:12 +09:00",
                         "2025-01-14T08:56:12z",
                         "2025-01-14T08:56:12 ",
                         " 2025-01-14T08:56:12",
                         "2025-01-14  08:56:12",
                         "2025-01-14t08:56:12",
                         "0000-01-01T00:00Z",
                         "0001-01-01T00:00+09:00", /* before year 1 in UTC */
                         "9999-12-31T23:59-01:00", /* after 9999 in UTC */
                         "2025年01月14日 08時56分12",
                         "2025年1月14日 08時56分12秒",
                         "2025年01月14日08時56分12秒",
                         "2025年01月14日 08時56分12秒 ",
                         "２０２５-01-14T08:56"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (input(bad[i]) != HB_EINVAL)
            HB_FAIL_("'%s' accepted as %lld", bad[i], (long long)input(bad[i]));
    int64_t us;
    ASSERT_EQ_INT(hb_store_time_parse_input((struct hb_str){NULL, 5}, &us), HB_EINVAL);
    ASSERT_EQ_INT(hb_store_time_parse_input((struct hb_str){"2025-01-14T08:56\0", 17}, &us),
                  HB_EINVAL);
}

HB_TEST(store_time, dst_gap_and_repeat)
{
    zone("America/New_York");
    /* 2024-03-10 02:30 does not exist (02:00 EST -> 03:00 EDT): the offset before, -05:00. */
    ASSERT_EQ_INT(input("2024-03-10T02:30"), input("2024-03-10T07:30Z"));
    /* 2024-11-03 01:30 happens twice (EDT, then EST): the first, -04:00. */
    ASSERT_EQ_INT(input("2024-11-03T01:30"), input("2024-11-03T05:30Z"));
    /* Either side of the transitions: plain offsets. */
    ASSERT_EQ_INT(input("2024-03-10T01:59"), input("2024-03-10T06:59Z"));
    ASSERT_EQ_INT(input("2024-03-10T03:00"), input("2024-03-10T07:00Z"));
    ASSERT_EQ_INT(input("2024-11-03T00:59"), input("2024-11-03T04:59Z"));
    ASSERT_EQ_INT(input("2024-11-03T02:00"), input("2024-11-03T07:00Z"));
    /* An explicit offset is never reinterpreted. */
    ASSERT_EQ_INT(input("2024-11-03T01:30-05:00"), input("2024-11-03T06:30Z"));
    zone("Australia/Lord_Howe"); /* a 30-minute DST shift: +10:30 / +11:00 */
    ASSERT_EQ_INT(input("2024-10-06T02:15"), input("2024-10-05T15:45Z")); /* gap */
    ASSERT_EQ_INT(input("2024-04-07T01:45"), input("2024-04-06T14:45Z")); /* first of two */
}
