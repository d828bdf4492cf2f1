/* ISO 8601 durations, dates, repeating intervals and cron expressions
 * (src/common/isotime.c), against values computed by hand. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/isotime.h"

/* 2025-12-04T12:00:00Z, a Thursday. */
#define T0 INT64_C(1764849600000)

static void test_durations(void **state)
{
    (void)state;
    iso_duration d;
    assert_int_equal(iso_parse_duration("PT10S", 5, &d), 0);
    assert_int_equal(d.ms, 10000);
    assert_int_equal(iso_parse_duration(" P1DT2H30M0.5S ", 15, &d), 0);
    assert_int_equal(d.ms, 86400000 + 2 * 3600000 + 30 * 60000 + 500);
    assert_int_equal(iso_parse_duration("P1Y2M", 5, &d), 0);
    assert_int_equal(d.months, 14);
    assert_int_equal(iso_parse_duration("P2W", 3, &d), 0);
    assert_int_equal(d.ms, 14 * 86400000LL);
    assert_int_equal(iso_parse_duration("PT", 2, &d), -1);
    assert_int_equal(iso_parse_duration("10S", 3, &d), -1);
    assert_int_equal(iso_parse_duration("-PT1S", 5, &d), -1);
    /* A month from January 31st is the last day of February. */
    int64_t jan31;
    assert_int_equal(iso_parse_datetime("2026-01-31T08:00:00Z", 20, &jan31), 0);
    iso_duration month = {1, 0};
    int64_t feb;
    assert_int_equal(iso_parse_datetime("2026-02-28T08:00:00Z", 20, &feb), 0);
    assert_int_equal(iso_add(jan31, &month), feb);
}

static void test_dates(void **state)
{
    (void)state;
    int64_t t;
    assert_int_equal(iso_parse_datetime("2025-12-04T12:00:00Z", 20, &t), 0);
    assert_int_equal(t, T0);
    assert_int_equal(iso_parse_datetime("2025-12-04T13:00:00+01:00", 25, &t), 0);
    assert_int_equal(t, T0);
    assert_int_equal(iso_parse_datetime("2025-12-04T12:00:00.250Z", 24, &t), 0);
    assert_int_equal(t, T0 + 250);
    assert_int_equal(iso_parse_datetime("2025-12-04", 10, &t), 0);
    assert_int_equal(t, T0 - 12 * 3600000);
    assert_int_equal(iso_parse_datetime("2025-02-30T00:00:00Z", 20, &t), -1);
    assert_int_equal(iso_parse_datetime("tomorrow", 8, &t), -1);
}

static void test_cycles(void **state)
{
    (void)state;
    iso_cycle c;
    assert_int_equal(iso_parse_cycle("R5/PT10S", 8, &c), 0);
    assert_int_equal(c.repeat, 5);
    assert_int_equal(c.every.ms, 10000);
    assert_int_equal(iso_parse_cycle("R/P1D", 5, &c), 0);
    assert_int_equal(c.repeat, -1);
    const char *with_start = "R3/2025-12-04T12:00:00Z/PT1H";
    assert_int_equal(iso_parse_cycle(with_start, strlen(with_start), &c), 0);
    assert_int_equal(c.start, T0);
    assert_int_equal(iso_parse_cycle("R5/PT0S", 7, &c), -1);
    assert_int_equal(iso_parse_cycle("PT10S", 5, &c), -1);
}

static int64_t next(const char *expr, int64_t after)
{
    iso_cron c;
    assert_int_equal(iso_parse_cron(expr, strlen(expr), &c), 0);
    return iso_cron_next(&c, after);
}

static void test_cron(void **state)
{
    (void)state;
    assert_int_equal(next("0 0 9 * * MON-FRI", T0), T0 + 21 * 3600000); /* Friday 09:00 */
    assert_int_equal(next("*/15 * * * * *", T0), T0 + 15000);
    assert_int_equal(next("0 30 2 1 JAN ?", T0), T0 + 2385000000LL); /* 2026-01-01T02:30 */
    assert_int_equal(next("@daily", T0), T0 + 12 * 3600000);
    assert_int_equal(next("0 0 12 * * 7", T0), T0 + 3 * 86400000LL); /* Sunday noon */
    assert_int_equal(next("0 0 12 * * *", T0), T0 + 86400000LL);     /* strictly after */
    assert_int_equal(next("5/20 * * * * *", T0), T0 + 5000);
    iso_cron c;
    assert_int_equal(iso_parse_cron("0 0 25 * * *", 12, &c), -1); /* no hour 25 */
    assert_int_equal(iso_parse_cron("0 0 * * *", 9, &c), -1);     /* five fields */
    assert_int_equal(iso_parse_cron("R/PT1S", 6, &c), -1);
    /* February 30th never comes. */
    assert_int_equal(iso_parse_cron("0 0 0 30 FEB *", 14, &c), 0);
    assert_int_equal(iso_cron_next(&c, T0), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_durations),
        cmocka_unit_test(test_dates),
        cmocka_unit_test(test_cycles),
        cmocka_unit_test(test_cron),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
