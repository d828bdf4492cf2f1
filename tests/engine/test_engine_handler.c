/*
 * Engine unit tests for in-process handlers and chute_engine_run. The clock
 * is fake, so every run is given until_ms = the fake now: it must process
 * what is ready and return without sleeping. An alarm guards against a run
 * that never returns.
 */
#include "engine_fixture.h"

#include <signal.h>

enum hmode {
    H_COMPLETE,           /* complete with {"done":true} */
    H_FAIL_THEN_COMPLETE, /* first attempt: fail with retries - 1, no back-off */
    H_FAIL_NO_RETRIES,    /* fail with retries 0 */
    H_BACKOFF_THEN_COMPLETE,
    H_THROW,
    H_NOTHING_THEN_COMPLETE, /* first attempt: leave it leased */
    H_STOP,                  /* complete, then chute_engine_stop */
};

typedef struct hctx {
    enum hmode mode;
    int calls;
    int dirty_at_first_call;
    size_t n;
    int64_t keys[256];
    int attempts[256];
    char worker[64];
    int64_t deadline;
    int64_t now_at_call;
    chute_job_state state;
    int rc_errors;
} hctx;

static int *attempt_of(hctx *h, int64_t key)
{
    for (size_t i = 0; i < h->n; i++)
        if (h->keys[i] == key)
            return &h->attempts[i];
    assert_true(h->n < 256);
    h->keys[h->n] = key;
    h->attempts[h->n] = 0;
    return &h->attempts[h->n++];
}

static void handler(void *ctx, chute_engine *e, const chute_job_view *job)
{
    hctx *h = ctx;
    if (h->calls == 0)
        h->dirty_at_first_call = chute_engine_dirty(e);
    h->calls++;
    snprintf(h->worker, sizeof h->worker, "%s", job->worker);
    h->deadline = job->deadline;
    h->state = job->state;
    h->now_at_call = chute_engine_now(e);
    int64_t key = job->key;
    int32_t retries = job->retries;
    int attempt = ++*attempt_of(h, key);
    chute_error err;
    int rc = 0;
    switch (h->mode) {
    case H_COMPLETE:
        rc = chute_engine_complete(e, key, "{\"done\":true}", 0, &err);
        break;
    case H_FAIL_THEN_COMPLETE:
        if (attempt == 1)
            rc = chute_engine_fail(e, key, retries - 1, "retry", 0, "{\"failed\":1}", 0, &err);
        else
            rc = chute_engine_complete(e, key, "{\"done\":true}", 0, &err);
        break;
    case H_FAIL_NO_RETRIES:
        rc = chute_engine_fail(e, key, 0, "handler gave up", 0, NULL, 0, &err);
        break;
    case H_BACKOFF_THEN_COMPLETE:
        if (attempt == 1)
            rc = chute_engine_fail(e, key, retries - 1, "later", 1000, NULL, 0, &err);
        else
            rc = chute_engine_complete(e, key, NULL, 0, &err);
        break;
    case H_THROW:
        rc = chute_engine_throw_error(e, key, "BIZ", "business error", NULL, 0, &err);
        break;
    case H_NOTHING_THEN_COMPLETE:
        if (attempt > 1)
            rc = chute_engine_complete(e, key, NULL, 0, &err);
        break;
    case H_STOP:
        rc = chute_engine_complete(e, key, NULL, 0, &err);
        chute_engine_stop(e);
        break;
    }
    if (rc != 0)
        h->rc_errors++;
}

static int guarded_setup(void **state)
{
    alarm(60); /* a run that never returns fails the test program */
    return fx_setup(state);
}

static int guarded_teardown(void **state)
{
    alarm(0);
    return fx_teardown(state);
}

#define H_TEST(fn) cmocka_unit_test_setup_teardown(fn, guarded_setup, guarded_teardown)

static void run_now(fx *f)
{
    int rc = chute_engine_run(f->e, f->now, &f->err);
    if (rc != 0)
        fail_msg("run: %s %s", chute_err_name(rc), f->err.message);
}

static void test_run_completes_all(void **state)
{
    fx *f = *state;
    hctx h = {.mode = H_COMPLETE};
    assert_ok(f, chute_engine_register_handler(f->e, "h", handler, &h, NULL, &f->err));
    int64_t k[40];
    for (int i = 0; i < 40; i++) {
        char vars[32];
        snprintf(vars, sizeof vars, "{\"i\":%d}", i);
        k[i] = fx_create(f, "h", 0, vars);
    }
    int64_t other = fx_create(f, "other", 0, NULL);
    fx_commit(f);
    run_now(f);
    assert_int_equal(h.calls, 40); /* more than one round of 32 */
    assert_int_equal(h.rc_errors, 0);
    assert_string_equal(h.worker, "in-process");
    assert_int_equal(h.deadline, FX_T0 + 30000);
    assert_int_equal(h.state, CHUTE_JOB_ACTIVATED);
    /* The leases were committed before the handler was called. */
    assert_int_equal(h.dirty_at_first_call, 0);
    for (int i = 0; i < 40; i++) {
        chute_job_view v = fx_get(f, k[i]);
        assert_int_equal(v.state, CHUTE_JOB_COMPLETED);
        char expect[48];
        snprintf(expect, sizeof expect, "{\"i\":%d,\"done\":true}", i);
        assert_json_equal(v.variables, expect);
    }
    assert_state(f, other, CHUTE_JOB_ACTIVATABLE);
    /* What the handlers did is committed. */
    assert_int_equal(chute_engine_dirty(f->e), 0);
    chute_engine_stats s = fx_stats(f);
    assert_int_equal(s.completed_total, 40);
    assert_int_equal(s.activated_total, 40);
    assert_int_equal(s.jobs, 1);
    fx_reopen(f);
    assert_state(f, k[0], CHUTE_JOB_COMPLETED);
    assert_state(f, k[39], CHUTE_JOB_COMPLETED);
    assert_state(f, other, CHUTE_JOB_ACTIVATABLE);
}

static void test_run_fail_paths(void **state)
{
    fx *f = *state;
    hctx retry = {.mode = H_FAIL_THEN_COMPLETE};
    hctx giveup = {.mode = H_FAIL_NO_RETRIES};
    hctx thrower = {.mode = H_THROW};
    assert_ok(f, chute_engine_register_handler(f->e, "retry", handler, &retry, NULL, &f->err));
    assert_ok(f, chute_engine_register_handler(f->e, "giveup", handler, &giveup, NULL, &f->err));
    assert_ok(f, chute_engine_register_handler(f->e, "throw", handler, &thrower, NULL, &f->err));
    int64_t r[5], g[3], t[2];
    for (int i = 0; i < 5; i++)
        r[i] = fx_create(f, "retry", 0, NULL);
    for (int i = 0; i < 3; i++)
        g[i] = fx_create(f, "giveup", 0, NULL);
    for (int i = 0; i < 2; i++)
        t[i] = fx_create(f, "throw", 0, NULL);
    run_now(f);
    assert_int_equal(retry.calls, 10);
    assert_int_equal(giveup.calls, 3);
    assert_int_equal(thrower.calls, 2);
    assert_int_equal(retry.rc_errors + giveup.rc_errors + thrower.rc_errors, 0);
    for (int i = 0; i < 5; i++) {
        chute_job_view v = fx_get(f, r[i]);
        assert_int_equal(v.state, CHUTE_JOB_COMPLETED);
        assert_json_equal(v.variables, "{\"failed\":1,\"done\":true}");
    }
    for (int i = 0; i < 3; i++) {
        chute_job_view v = fx_get(f, g[i]);
        assert_int_equal(v.state, CHUTE_JOB_INCIDENT);
        assert_string_equal(v.error_message, "handler gave up");
    }
    for (int i = 0; i < 2; i++) {
        chute_job_view v = fx_get(f, t[i]);
        assert_int_equal(v.state, CHUTE_JOB_ERROR_THROWN);
        assert_string_equal(v.error_code, "BIZ");
    }
    assert_int_equal(fx_list_incidents(f).count, 5);
    chute_engine_stats s = fx_stats(f);
    assert_int_equal(s.completed_total, 5);
    assert_int_equal(s.incidents, 5);
    assert_int_equal(chute_engine_dirty(f->e), 0);
}

static void test_run_backoff_and_delay(void **state)
{
    fx *f = *state;
    hctx h = {.mode = H_BACKOFF_THEN_COMPLETE};
    assert_ok(f, chute_engine_register_handler(f->e, "h", handler, &h, NULL, &f->err));
    int64_t k = fx_create(f, "h", 0, NULL);
    int64_t d = fx_create_delayed(f, "h", 500);
    run_now(f);
    assert_int_equal(h.calls, 1);
    assert_state(f, k, CHUTE_JOB_FAILED);
    assert_state(f, d, CHUTE_JOB_DELAYED);
    f->now = FX_T0 + 500;
    run_now(f);
    assert_int_equal(h.calls, 2); /* the delayed job, first attempt: back-off */
    assert_state(f, d, CHUTE_JOB_FAILED);
    assert_state(f, k, CHUTE_JOB_FAILED);
    f->now = FX_T0 + 1000;
    run_now(f);
    assert_int_equal(h.calls, 3);
    assert_state(f, k, CHUTE_JOB_COMPLETED);
    assert_state(f, d, CHUTE_JOB_FAILED);
    f->now = FX_T0 + 1500;
    run_now(f);
    assert_int_equal(h.calls, 4);
    assert_state(f, d, CHUTE_JOB_COMPLETED);
    assert_int_equal(h.rc_errors, 0);
    assert_int_equal(chute_engine_dirty(f->e), 0);
}

static void test_run_unsettled_job_times_out(void **state)
{
    fx *f = *state;
    hctx h = {.mode = H_NOTHING_THEN_COMPLETE};
    chute_handler_options o = {.worker = "mine", .timeout_ms = 2000, .max_jobs = 1};
    assert_ok(f, chute_engine_register_handler(f->e, "h", handler, &h, &o, &f->err));
    int64_t k = fx_create(f, "h", 0, NULL);
    run_now(f);
    assert_int_equal(h.calls, 1);
    assert_string_equal(h.worker, "mine");
    assert_int_equal(h.deadline, FX_T0 + 2000);
    chute_job_view v = fx_get(f, k);
    assert_int_equal(v.state, CHUTE_JOB_ACTIVATED);
    assert_string_equal(v.worker, "mine");
    assert_int_equal(v.deadline, FX_T0 + 2000);
    f->now = FX_T0 + 1999;
    run_now(f);
    assert_int_equal(h.calls, 1);
    f->now = FX_T0 + 2000;
    run_now(f);
    assert_int_equal(h.calls, 2);
    v = fx_get(f, k);
    assert_int_equal(v.state, CHUTE_JOB_COMPLETED);
    assert_int_equal(v.retries, 3); /* the timeout cost no retry */
    assert_int_equal(fx_stats(f).timed_out_total, 1);
}

static void test_run_handler_options(void **state)
{
    fx *f = *state;
    hctx h = {.mode = H_COMPLETE};
    chute_handler_options o = {.worker = "w-opt", .timeout_ms = 5000, .max_jobs = 2};
    assert_ok(f, chute_engine_register_handler(f->e, "h", handler, &h, &o, &f->err));
    for (int i = 0; i < 5; i++)
        fx_create(f, "h", 0, NULL);
    run_now(f);
    assert_int_equal(h.calls, 5);
    assert_string_equal(h.worker, "w-opt");
    assert_int_equal(h.deadline, FX_T0 + 5000);
    assert_int_equal(fx_stats(f).completed_total, 5);
}

static void test_register_rejections(void **state)
{
    fx *f = *state;
    hctx h = {.mode = H_COMPLETE};
    assert_ok(f, chute_engine_register_handler(f->e, "h", handler, &h, NULL, &f->err));
    assert_rejected(f, chute_engine_register_handler(f->e, "h", handler, &h, NULL, &f->err),
                    CHUTE_EEXIST);
    assert_rejected(f, chute_engine_register_handler(f->e, "", handler, &h, NULL, &f->err),
                    CHUTE_EINVAL);
    /* Another type is fine. */
    assert_ok(f, chute_engine_register_handler(f->e, "h2", handler, &h, NULL, &f->err));
}

static void test_run_idle_returns(void **state)
{
    fx *f = *state;
    /* No handler, jobs of other types, a pending timer: returns at once. */
    fx_create(f, "nobody", 0, NULL);
    fx_create_delayed(f, "nobody", 100000);
    run_now(f);
    hctx h = {.mode = H_COMPLETE};
    assert_ok(f, chute_engine_register_handler(f->e, "h", handler, &h, NULL, &f->err));
    run_now(f);
    assert_int_equal(h.calls, 0);
    assert_int_equal(fx_stats(f).activatable, 1);
}

static void test_run_stop(void **state)
{
    fx *f = *state;
    fx_close(f);
    f->opts.retention_ms = -1;
    fx_open(f);
    hctx h = {.mode = H_STOP};
    chute_handler_options o = {.max_jobs = 1};
    assert_ok(f, chute_engine_register_handler(f->e, "h", handler, &h, &o, &f->err));
    for (int i = 0; i < 3; i++)
        fx_create(f, "h", 0, NULL);
    int rc = chute_engine_run(f->e, INT64_MAX, &f->err);
    assert_int_equal(rc, 0);
    /* One job per round; the stop ends the run after that round. */
    assert_int_equal(h.calls, 1);
    assert_int_equal(chute_engine_dirty(f->e), 0);
    assert_int_equal(fx_stats(f).completed_total, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        H_TEST(test_run_completes_all),
        H_TEST(test_run_fail_paths),
        H_TEST(test_run_backoff_and_delay),
        H_TEST(test_run_unsettled_job_times_out),
        H_TEST(test_run_handler_options),
        H_TEST(test_register_rejections),
        H_TEST(test_run_idle_returns),
        H_TEST(test_run_stop),
    };
    return cmocka_run_group_tests_name("engine_handler", tests, NULL, NULL);
}
