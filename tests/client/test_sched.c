/* Unit tests of the worker's pure parts: the poll schedule of the seed, the
 * stream credit accounting and the back-off supplier. No daemon needed. */
#include "client/sched.h"

#include <chute/worker.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

static void test_threshold_count(void **state)
{
    assert_int_equal(csched_threshold_count(0.3, 3), 1);
    assert_int_equal(csched_threshold_count(0.3, 32), 10);
    assert_int_equal(csched_threshold_count(0.0, 32), 0);
    assert_int_equal(csched_threshold_count(1.0, 5), 5);
    assert_int_equal(csched_threshold_count(0.5, 4), 2);
    assert_int_equal(csched_threshold_count(0.25, 4), 1);
}

/* The example of the seed: 10 jobs, MaxJobsActive 3, PollThreshold 0.3,
 * one handler. It takes 3 jobs; after two are handled (one left, the
 * threshold of 1) it polls for 2; and so on until all 10 are done. */
static void test_seed_example(void **state)
{
    csched s;
    int64_t now = 1000;
    csched_init(&s, 3, 1, 0.3, 0, 100, now);
    int backlog = 10, polls[16], npolls = 0, done = 0;

    int n = csched_poll_size(&s, now, 0);
    assert_int_equal(n, 3); /* poll on open */
    while (done < 10) {
        if (n > 0) {
            csched_poll_started(&s, n);
            assert_int_equal(csched_poll_size(&s, now, 1), 0); /* one poll at a time */
            int got = n < backlog ? n : backlog;
            backlog -= got;
            polls[npolls++] = n;
            csched_jobs_arrived(&s, got, 0);
            csched_poll_done(&s, now, 0, got, 0);
        }
        /* handle one job (1 ms each, well within the poll interval) */
        now += 1;
        csched_job_done(&s);
        done++;
        n = csched_poll_size(&s, now, 1);
        if (backlog == 0 && n > 0)
            n = 0; /* the broker would answer empty; not part of the order */
    }
    assert_int_equal(npolls, 5);
    assert_int_equal(polls[0], 3);
    assert_int_equal(polls[1], 2);
    assert_int_equal(polls[2], 2);
    assert_int_equal(polls[3], 2);
    assert_int_equal(polls[4], 2); /* asks for 2, the last one comes */
}

static void test_threshold_first_time_only(void **state)
{
    csched s;
    csched_init(&s, 3, 1, 0.3, 0, 100, 0);
    csched_poll_started(&s, 3);
    csched_jobs_arrived(&s, 3, 0);
    csched_poll_done(&s, 0, 0, 3, 0);
    csched_job_done(&s);
    assert_int_equal(csched_poll_size(&s, 1, 1), 0); /* held 2 > 1 */
    csched_job_done(&s);
    assert_int_equal(csched_poll_size(&s, 2, 1), 2); /* reached the threshold */
    csched_poll_started(&s, 2);
    csched_poll_done(&s, 3, 0, 0, 0); /* nothing came */
    csched_job_done(&s);
    /* Not armed again (never above the threshold since): wait the interval. */
    assert_int_equal(csched_poll_size(&s, 4, 1), 0);
    assert_int_equal(csched_poll_size(&s, 102, 0), 0);
    assert_int_equal(csched_poll_size(&s, 103, 0), 3);
}

static void test_empty_poll_waits_interval(void **state)
{
    csched s;
    csched_init(&s, 32, 4, 0.3, 0, 100, 0);
    assert_int_equal(csched_poll_size(&s, 0, 0), 32);
    csched_poll_started(&s, 32);
    assert_int_equal(csched_next_wakeup(&s), INT64_MAX);
    csched_poll_done(&s, 50, 0, 0, 0);
    assert_int_equal(csched_poll_size(&s, 149, 0), 0);
    assert_int_equal(csched_next_wakeup(&s), 150);
    assert_int_equal(csched_poll_size(&s, 150, 0), 32);
}

static void test_error_backs_off(void **state)
{
    csched s;
    csched_init(&s, 32, 4, 0.3, 0, 100, 0);
    csched_poll_started(&s, 32);
    csched_poll_done(&s, 10, -13, 0, 400);
    /* neither a handled job nor the timer polls during the back-off */
    assert_int_equal(csched_poll_size(&s, 409, 1), 0);
    assert_int_equal(csched_poll_size(&s, 409, 0), 0);
    assert_int_equal(csched_poll_size(&s, 410, 0), 32);
    assert_int_equal(s.backoff_delay, 400);
    csched_poll_started(&s, 32);
    csched_poll_done(&s, 420, 0, 0, 0);
    assert_int_equal(s.backoff_delay, 0); /* a success resets it */
}

static void test_poll_size_counts_held(void **state)
{
    csched s;
    csched_init(&s, 32, 10, 0.3, 0, 100, 0);
    csched_poll_started(&s, 32);
    csched_jobs_arrived(&s, 25, 0);
    csched_poll_done(&s, 0, 0, 25, 0);
    for (int i = 0; i < 15; i++)
        csched_job_done(&s);
    assert_int_equal(s.held, 10);
    assert_int_equal(csched_poll_size(&s, 1, 1), 22);
}

/* With streaming, the credit and the polls together never let the worker
 * hold more than max_jobs_active + concurrency, whatever the order of
 * events. A fake broker pushes whenever the stream's allowance permits and
 * answers polls in full from an endless backlog. */
static void test_stream_bound_random(void **state)
{
    srand(7);
    for (int round = 0; round < 50; round++) {
        csched s;
        int64_t now = 0;
        int max = 1 + rand() % 40, conc = 1 + rand() % 12;
        csched_init(&s, max, conc, 0.3, 1, 100, now);
        s.stream_open = 1;
        int allowance = csched_stream_credit(&s); /* what the server may push */
        int poll_n = 0, polling = 0;
        for (int step = 0; step < 5000; step++) {
            now += rand() % 50;
            switch (rand() % 4) {
            case 0: /* the stream pushes one job if it may */
                if (allowance > 0) {
                    allowance--;
                    csched_jobs_arrived(&s, 1, 1);
                }
                break;
            case 1: /* a handler finishes */
                if (s.held > 0) {
                    csched_job_done(&s);
                    int c = csched_stream_credit(&s);
                    if (c > allowance)
                        allowance = c; /* credit never shrinks */
                }
                break;
            case 2: /* the control thread runs */
                if (!polling) {
                    int n = csched_poll_size(&s, now, 1);
                    if (n > 0) {
                        csched_poll_started(&s, n);
                        polling = 1;
                        poll_n = n;
                    }
                }
                break;
            case 3: /* a poll answers with everything it asked for */
                if (polling) {
                    csched_jobs_arrived(&s, poll_n, 0);
                    csched_poll_done(&s, now, 0, poll_n, 0);
                    polling = 0;
                }
                break;
            }
            assert_true(s.held + (polling ? poll_n : 0) + allowance <= max + conc);
            assert_true(s.held <= max + conc);
        }
    }
}

static void test_backfill_thins_out(void **state)
{
    csched s;
    csched_init(&s, 4, 2, 0.3, 1, 100, 0);
    s.stream_open = 1;
    csched_poll_started(&s, 4);
    csched_poll_done(&s, 0, 0, 0, 0);
    int64_t prev = 100;
    assert_int_equal(s.next_poll_at, 100);
    for (int i = 0; i < 10; i++) {
        int64_t t = s.next_poll_at;
        csched_poll_started(&s, 1);
        csched_poll_done(&s, t, 0, 0, 0);
        assert_true(s.next_poll_at - t >= prev);
        assert_true(s.next_poll_at - t <= 10000);
        prev = s.next_poll_at - t;
    }
    assert_int_equal(prev, 10000);
    csched_poll_started(&s, 1);
    csched_poll_done(&s, 0, 0, 1, 0); /* found one: back to the interval */
    assert_int_equal(s.next_poll_at, 100);
    /* backfill never starts on a handled job, only on the timer */
    assert_int_equal(csched_poll_size(&s, 50, 1), 0);
}

static void test_backoff_policy(void **state)
{
    chute_backoff_policy p;
    chute_backoff_policy_init(&p);
    assert_int_equal(chute_backoff_next(&p, 0, 0.5), 50);
    assert_int_equal(chute_backoff_next(&p, 50, 0.5), 80);
    assert_int_equal(chute_backoff_next(&p, 80, 0.5), 128);
    assert_int_equal(chute_backoff_next(&p, 4000, 0.5), 5000);
    assert_int_equal(chute_backoff_next(&p, 5000, 0.5), 5000);
    /* jitter: +-10 % */
    assert_int_equal(chute_backoff_next(&p, 5000, 0.0), 4500);
    assert_int_equal(chute_backoff_next(&p, 5000, 0.999999), 5500);
    int64_t d = 0;
    for (int i = 0; i < 100; i++) {
        d = chute_backoff_exponential(NULL, d);
        assert_true(d >= 45 && d <= 5500);
    }
    assert_true(d >= 4500);
}

static void test_pool_growth(void **state)
{
    assert_true(csched_pool_should_grow(1, 4, 0, 1));
    assert_false(csched_pool_should_grow(4, 4, 0, 10));
    assert_false(csched_pool_should_grow(2, 4, 2, 2));
    assert_true(csched_pool_should_grow(2, 4, 1, 2));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_threshold_count),
        cmocka_unit_test(test_seed_example),
        cmocka_unit_test(test_threshold_first_time_only),
        cmocka_unit_test(test_empty_poll_waits_interval),
        cmocka_unit_test(test_error_backs_off),
        cmocka_unit_test(test_poll_size_counts_held),
        cmocka_unit_test(test_stream_bound_random),
        cmocka_unit_test(test_backfill_thins_out),
        cmocka_unit_test(test_backoff_policy),
        cmocka_unit_test(test_pool_growth),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
