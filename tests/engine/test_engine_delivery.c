/*
 * Engine unit tests for takers: long-poll waiters (FIFO, one shot) and
 * streams (round robin among those with credit, before waiters, fed from
 * the backlog), credit, removal, and chute_engine_return.
 */
#include "engine_fixture.h"

#define MAX_LOG 256

/* Every delivery of every taker, in order. */
typedef struct dlog {
    size_t n;
    int taker[MAX_LOG]; /* the taker's id */
    int64_t key[MAX_LOG];
    chute_job_state state[MAX_LOG];
    int64_t deadline[MAX_LOG];
    int32_t retries[MAX_LOG];
    char worker[MAX_LOG][32];
    char variables[MAX_LOG][128];
    size_t calls;
} dlog;

typedef struct taker_ctx {
    dlog *log;
    int id;
    size_t calls;
    size_t jobs;
    size_t last_count;
    chute_taker *self;
    chute_taker *seen; /* the taker pointer the callback was given */
} taker_ctx;

static void on_deliver(void *ctx, chute_taker *taker, const chute_job_view *jobs, size_t count)
{
    taker_ctx *t = ctx;
    assert_true(count >= 1);
    t->calls++;
    t->jobs += count;
    t->last_count = count;
    t->seen = taker;
    t->log->calls++;
    for (size_t i = 0; i < count; i++) {
        size_t j = t->log->n++;
        assert_true(j < MAX_LOG);
        t->log->taker[j] = t->id;
        t->log->key[j] = jobs[i].key;
        t->log->state[j] = jobs[i].state;
        t->log->deadline[j] = jobs[i].deadline;
        t->log->retries[j] = jobs[i].retries;
        snprintf(t->log->worker[j], sizeof t->log->worker[j], "%s", jobs[i].worker);
        snprintf(t->log->variables[j], sizeof t->log->variables[j], "%s", jobs[i].variables);
    }
}

static chute_taker *add_waiter(fx *f, taker_ctx *t, dlog *log, int id, const char *type,
                               int32_t max_jobs)
{
    memset(t, 0, sizeof *t);
    t->log = log;
    t->id = id;
    chute_activate_request r = {
        .type = type, .worker = "waiter", .timeout_ms = 5000, .max_jobs = max_jobs};
    chute_taker *out = NULL;
    assert_ok(f, chute_engine_waiter_add(f->e, &r, 0, on_deliver, t, &out, &f->err));
    assert_non_null(out);
    t->self = out;
    return out;
}

static chute_taker *add_stream(fx *f, taker_ctx *t, dlog *log, int id, const char *type,
                               uint32_t credit)
{
    memset(t, 0, sizeof *t);
    t->log = log;
    t->id = id;
    char worker[16];
    snprintf(worker, sizeof worker, "stream%d", id);
    chute_activate_request r = {.type = type, .worker = worker, .timeout_ms = 7000};
    chute_taker *out = NULL;
    assert_ok(f, chute_engine_stream_add(f->e, &r, credit, 0, on_deliver, t, &out, &f->err));
    assert_non_null(out);
    t->self = out;
    return out;
}

/* ---- long-poll waiters ----------------------------------------------------- */

static void test_waiter_served_after_create(void **state)
{
    fx *f = *state;
    dlog log = {0};
    taker_ctx w;
    chute_taker *wt = add_waiter(f, &w, &log, 1, "t", 5);
    assert_int_equal(fx_stats(f).waiters, 1);
    assert_int_equal(chute_engine_dispatch(f->e), 0);
    assert_int_equal(w.calls, 0);

    fx_create(f, "other", 0, NULL);
    assert_int_equal(chute_engine_dispatch(f->e), 0);
    assert_int_equal(w.calls, 0);

    f->now = FX_T0 + 3;
    int64_t k = fx_create(f, "t", 0, "{\"a\":1}");
    assert_int_equal(chute_engine_dispatch(f->e), 1);
    assert_int_equal(w.calls, 1);
    assert_int_equal(w.jobs, 1);
    assert_ptr_equal(w.seen, wt);
    assert_int_equal(log.key[0], k);
    assert_int_equal(log.state[0], CHUTE_JOB_ACTIVATED);
    assert_int_equal(log.deadline[0], FX_T0 + 3 + 5000);
    assert_string_equal(log.worker[0], "waiter");
    assert_json_equal(log.variables[0], "{\"a\":1}");
    /* The delivery is an activation: in the batch, visible in get. */
    assert_true(chute_engine_dirty(f->e) != 0);
    chute_job_view v = fx_get(f, k);
    assert_int_equal(v.state, CHUTE_JOB_ACTIVATED);
    assert_string_equal(v.worker, "waiter");
    assert_int_equal(v.deadline, FX_T0 + 5003);

    /* One shot: the waiter is gone. */
    assert_int_equal(fx_stats(f).waiters, 0);
    int64_t k2 = fx_create(f, "t", 0, NULL);
    assert_int_equal(chute_engine_dispatch(f->e), 0);
    assert_int_equal(w.calls, 1);
    assert_state(f, k2, CHUTE_JOB_ACTIVATABLE);
}

static void test_waiter_takes_up_to_max_jobs(void **state)
{
    fx *f = *state;
    dlog log = {0};
    int64_t k[5];
    for (int i = 0; i < 5; i++)
        k[i] = fx_create(f, "t", i == 3 ? 1 : 0, NULL);
    taker_ctx w;
    add_waiter(f, &w, &log, 1, "t", 3);
    /* Served by dispatch, not by registration. */
    assert_int_equal(w.calls, 0);
    assert_int_equal(chute_engine_dispatch(f->e), 3);
    assert_int_equal(w.calls, 1);
    assert_int_equal(w.last_count, 3);
    /* Priority, then creation order. */
    assert_int_equal(log.key[0], k[3]);
    assert_int_equal(log.key[1], k[0]);
    assert_int_equal(log.key[2], k[1]);
    assert_state(f, k[2], CHUTE_JOB_ACTIVATABLE);
    assert_state(f, k[4], CHUTE_JOB_ACTIVATABLE);
    assert_int_equal(fx_stats(f).waiters, 0);
}

static void test_waiters_fifo(void **state)
{
    fx *f = *state;
    dlog log = {0};
    taker_ctx w1, w2, w3;
    add_waiter(f, &w1, &log, 1, "t", 1);
    add_waiter(f, &w2, &log, 2, "t", 1);
    add_waiter(f, &w3, &log, 3, "t", 1);
    assert_int_equal(fx_stats(f).waiters, 3);
    int64_t a = fx_create(f, "t", 0, NULL);
    assert_int_equal(chute_engine_dispatch(f->e), 1);
    assert_int_equal(w1.jobs, 1);
    assert_int_equal(w2.jobs, 0);
    assert_int_equal(w3.jobs, 0);
    assert_int_equal(log.key[0], a);
    int64_t b = fx_create(f, "t", 0, NULL);
    int64_t c = fx_create(f, "t", 0, NULL);
    assert_int_equal(chute_engine_dispatch(f->e), 2);
    assert_int_equal(w2.jobs, 1);
    assert_int_equal(w3.jobs, 1);
    assert_int_equal(log.taker[1], 2);
    assert_int_equal(log.key[1], b);
    assert_int_equal(log.taker[2], 3);
    assert_int_equal(log.key[2], c);
    assert_int_equal(fx_stats(f).waiters, 0);
}

static void test_waiter_per_type(void **state)
{
    fx *f = *state;
    dlog log = {0};
    taker_ctx wa, wb;
    add_waiter(f, &wa, &log, 1, "a", 5);
    add_waiter(f, &wb, &log, 2, "b", 5);
    int64_t kb = fx_create(f, "b", 0, NULL);
    assert_int_equal(chute_engine_dispatch(f->e), 1);
    assert_int_equal(wa.calls, 0);
    assert_int_equal(wb.calls, 1);
    assert_int_equal(log.key[0], kb);
    assert_int_equal(fx_stats(f).waiters, 1);
}

static void test_waiter_remove(void **state)
{
    fx *f = *state;
    dlog log = {0};
    taker_ctx w1, w2;
    chute_taker *t1 = add_waiter(f, &w1, &log, 1, "t", 1);
    add_waiter(f, &w2, &log, 2, "t", 1);
    chute_engine_taker_remove(f->e, t1);
    assert_int_equal(fx_stats(f).waiters, 1);
    fx_create(f, "t", 0, NULL);
    assert_int_equal(chute_engine_dispatch(f->e), 1);
    assert_int_equal(w1.calls, 0);
    assert_int_equal(w2.calls, 1);
}

static void test_waiter_rejects_bad_request(void **state)
{
    fx *f = *state;
    taker_ctx t;
    memset(&t, 0, sizeof t);
    chute_taker *out = (chute_taker *)&t; /* must stay untouched */
    chute_activate_request r = {.type = "t", .worker = "w", .timeout_ms = 0, .max_jobs = 1};
    assert_rejected(f, chute_engine_waiter_add(f->e, &r, 0, on_deliver, &t, &out, &f->err),
                    CHUTE_EINVAL);
    r.timeout_ms = 10;
    r.max_jobs = 0;
    assert_rejected(f, chute_engine_waiter_add(f->e, &r, 0, on_deliver, &t, &out, &f->err),
                    CHUTE_EINVAL);
    r.max_jobs = 1;
    r.type = " ";
    assert_rejected(f, chute_engine_waiter_add(f->e, &r, 0, on_deliver, &t, &out, &f->err),
                    CHUTE_EINVAL);
    r.type = "t";
    r.timeout_ms = 0;
    assert_rejected(f, chute_engine_stream_add(f->e, &r, 1, 0, on_deliver, &t, &out, &f->err),
                    CHUTE_EINVAL);
    r.timeout_ms = 10;
    r.type = "";
    assert_rejected(f, chute_engine_stream_add(f->e, &r, 1, 0, on_deliver, &t, &out, &f->err),
                    CHUTE_EINVAL);
    assert_ptr_equal(out, (chute_taker *)&t);
    assert_int_equal(fx_stats(f).waiters, 0);
    assert_int_equal(fx_stats(f).streams, 0);
}

/* The request is copied: the caller's strings may go away. */
static void test_waiter_request_copied(void **state)
{
    fx *f = *state;
    dlog log = {0};
    taker_ctx w;
    memset(&w, 0, sizeof w);
    w.log = &log;
    char type[8] = "copy";
    char worker[8] = "wk";
    char name[8] = "a";
    const char *names[] = {name};
    chute_activate_request r = {.type = type,
                                .worker = worker,
                                .timeout_ms = 100,
                                .max_jobs = 1,
                                .fetch_variables = names,
                                .fetch_variables_count = 1};
    chute_taker *out;
    assert_ok(f, chute_engine_waiter_add(f->e, &r, 0, on_deliver, &w, &out, &f->err));
    memset(type, 'X', 7);
    memset(worker, 'X', 7);
    memset(name, 'X', 7);
    fx_create(f, "copy", 0, "{\"a\":1,\"b\":2}");
    assert_int_equal(chute_engine_dispatch(f->e), 1);
    assert_string_equal(log.worker[0], "wk");
    assert_json_equal(log.variables[0], "{\"a\":1}");
}

/* ---- streams ------------------------------------------------------------- */

static void test_stream_round_robin(void **state)
{
    fx *f = *state;
    dlog log = {0};
    taker_ctx s1, s2, s3;
    add_stream(f, &s1, &log, 1, "t", 100);
    add_stream(f, &s2, &log, 2, "t", 100);
    add_stream(f, &s3, &log, 3, "t", 100);
    assert_int_equal(fx_stats(f).streams, 3);
    /* One job at a time: the streams take turns. */
    int seen[4] = {0};
    int prev = 0;
    for (int i = 0; i < 9; i++) {
        int64_t k = fx_create(f, "t", 0, NULL);
        assert_int_equal(chute_engine_dispatch(f->e), 1);
        assert_int_equal(log.n, (size_t)i + 1);
        assert_int_equal(log.key[i], k);
        int who = log.taker[i];
        assert_true(who != prev);
        seen[who]++;
        prev = who;
        assert_int_equal(log.state[i], CHUTE_JOB_ACTIVATED);
        assert_int_equal(log.deadline[i], f->now + 7000);
        char worker[16];
        snprintf(worker, sizeof worker, "stream%d", who);
        assert_string_equal(log.worker[i], worker);
    }
    assert_int_equal(seen[1], 3);
    assert_int_equal(seen[2], 3);
    assert_int_equal(seen[3], 3);
    /* The order repeats: a strict rotation. */
    for (int i = 3; i < 9; i++)
        assert_int_equal(log.taker[i], log.taker[i - 3]);

    /* Many at once: spread evenly. */
    for (int i = 0; i < 30; i++)
        fx_create(f, "t", 0, NULL);
    assert_int_equal(chute_engine_dispatch(f->e), 30);
    assert_int_equal(s1.jobs, 13);
    assert_int_equal(s2.jobs, 13);
    assert_int_equal(s3.jobs, 13);
    /* Streams stay registered. */
    assert_int_equal(fx_stats(f).streams, 3);
}

static void test_stream_credit(void **state)
{
    fx *f = *state;
    dlog log = {0};
    taker_ctx s;
    chute_taker *st = add_stream(f, &s, &log, 1, "t", 2);
    int64_t k[3];
    for (int i = 0; i < 3; i++)
        k[i] = fx_create(f, "t", 0, NULL);
    assert_int_equal(chute_engine_dispatch(f->e), 2);
    assert_int_equal(s.jobs, 2);
    assert_int_equal(log.key[0], k[0]);
    assert_int_equal(log.key[1], k[1]);
    /* No credit: the third waits in the queue. */
    assert_state(f, k[2], CHUTE_JOB_ACTIVATABLE);
    assert_int_equal(chute_engine_dispatch(f->e), 0);
    assert_int_equal(s.jobs, 2);
    /* Credit back: it flows. */
    chute_engine_stream_credit(f->e, st, 1);
    assert_int_equal(chute_engine_dispatch(f->e), 1);
    assert_int_equal(s.jobs, 3);
    assert_int_equal(log.key[2], k[2]);
    assert_state(f, k[2], CHUTE_JOB_ACTIVATED);
    /* Credit is used up again. */
    fx_create(f, "t", 0, NULL);
    assert_int_equal(chute_engine_dispatch(f->e), 0);
    chute_engine_stream_credit(f->e, st, 5);
    assert_int_equal(chute_engine_dispatch(f->e), 1);
    assert_int_equal(s.jobs, 4);
}

static void test_stream_zero_credit_passes_job_on(void **state)
{
    fx *f = *state;
    dlog log = {0};
    taker_ctx s0, s1, w;
    chute_taker *t0 = add_stream(f, &s0, &log, 1, "t", 0);
    int64_t k = fx_create(f, "t", 0, NULL);
    /* Nobody can take it: it stays queued. */
    assert_int_equal(chute_engine_dispatch(f->e), 0);
    assert_int_equal(s0.calls, 0);
    assert_state(f, k, CHUTE_JOB_ACTIVATABLE);
    /* A waiter can. */
    add_waiter(f, &w, &log, 3, "t", 1);
    assert_int_equal(chute_engine_dispatch(f->e), 1);
    assert_int_equal(w.jobs, 1);
    assert_int_equal(s0.calls, 0);
    assert_int_equal(log.key[0], k);
    /* And another stream with credit can. */
    add_stream(f, &s1, &log, 2, "t", 5);
    int64_t k2 = fx_create(f, "t", 0, NULL);
    int64_t k3 = fx_create(f, "t", 0, NULL);
    assert_int_equal(chute_engine_dispatch(f->e), 2);
    assert_int_equal(s1.jobs, 2);
    assert_int_equal(s0.calls, 0);
    assert_int_equal(log.key[1], k2);
    assert_int_equal(log.key[2], k3);
    /* Credit for s0: it joins the rotation. */
    chute_engine_stream_credit(f->e, t0, 10);
    for (int i = 0; i < 4; i++)
        fx_create(f, "t", 0, NULL);
    assert_int_equal(chute_engine_dispatch(f->e), 4);
    assert_int_equal(s0.jobs, 2);
    assert_int_equal(s1.jobs, 4);
}

static void test_streams_before_waiters(void **state)
{
    fx *f = *state;
    dlog log = {0};
    taker_ctx w, s;
    add_waiter(f, &w, &log, 1, "t", 10);
    add_stream(f, &s, &log, 2, "t", 1);
    int64_t k = fx_create(f, "t", 0, NULL);
    assert_int_equal(chute_engine_dispatch(f->e), 1);
    assert_int_equal(s.jobs, 1);
    assert_int_equal(w.calls, 0);
    assert_int_equal(log.key[0], k);
    assert_int_equal(fx_stats(f).waiters, 1);
    /* The stream has no credit left: the waiter gets the next ones. */
    int64_t k2 = fx_create(f, "t", 0, NULL);
    int64_t k3 = fx_create(f, "t", 0, NULL);
    assert_int_equal(chute_engine_dispatch(f->e), 2);
    assert_int_equal(w.calls, 1);
    assert_int_equal(w.jobs, 2);
    assert_int_equal(log.key[1], k2);
    assert_int_equal(log.key[2], k3);
    assert_int_equal(s.jobs, 1);
}

static void test_stream_fed_from_backlog(void **state)
{
    fx *f = *state;
    dlog log = {0};
    int64_t k[4];
    for (int i = 0; i < 4; i++)
        k[i] = fx_create(f, "t", 0, NULL);
    taker_ctx s;
    add_stream(f, &s, &log, 1, "t", 3);
    chute_engine_dispatch(f->e);
    assert_int_equal(s.jobs, 3);
    assert_int_equal(log.key[0], k[0]);
    assert_int_equal(log.key[1], k[1]);
    assert_int_equal(log.key[2], k[2]);
    assert_state(f, k[3], CHUTE_JOB_ACTIVATABLE);
}

static void test_stream_gets_timer_jobs(void **state)
{
    fx *f = *state;
    dlog log = {0};
    taker_ctx s;
    add_stream(f, &s, &log, 1, "t", 10);
    int64_t k = fx_create_delayed(f, "t", 100);
    assert_int_equal(chute_engine_dispatch(f->e), 0);
    fx_tick_at(f, FX_T0 + 100);
    assert_int_equal(chute_engine_dispatch(f->e), 1);
    assert_int_equal(log.key[0], k);
    /* Its lease runs out: it comes back to the stream with retries kept. */
    fx_tick_at(f, FX_T0 + 100 + 7000);
    assert_int_equal(chute_engine_dispatch(f->e), 1);
    assert_int_equal(log.key[1], k);
    assert_int_equal(log.retries[1], 3);
    /* A back-off ends: delivered again. */
    assert_ok(f, chute_engine_fail(f->e, k, 2, "x", 50, NULL, 0, &f->err));
    assert_int_equal(chute_engine_dispatch(f->e), 0);
    fx_tick_at(f, f->now + 50);
    assert_int_equal(chute_engine_dispatch(f->e), 1);
    assert_int_equal(log.key[2], k);
    assert_int_equal(log.retries[2], 2);
}

static void test_stream_fetch_variables(void **state)
{
    fx *f = *state;
    dlog log = {0};
    taker_ctx s;
    memset(&s, 0, sizeof s);
    s.log = &log;
    const char *names[] = {"b"};
    chute_activate_request r = {.type = "t",
                                .worker = "w",
                                .timeout_ms = 100,
                                .fetch_variables = names,
                                .fetch_variables_count = 1};
    chute_taker *out;
    assert_ok(f, chute_engine_stream_add(f->e, &r, 5, 0, on_deliver, &s, &out, &f->err));
    int64_t k = fx_create(f, "t", 0, "{\"a\":1,\"b\":2}");
    assert_int_equal(chute_engine_dispatch(f->e), 1);
    assert_json_equal(log.variables[0], "{\"b\":2}");
    assert_json_equal(fx_get(f, k).variables, "{\"a\":1,\"b\":2}");
}

static void test_stream_remove(void **state)
{
    fx *f = *state;
    dlog log = {0};
    taker_ctx s1, s2;
    chute_taker *t1 = add_stream(f, &s1, &log, 1, "t", 10);
    chute_taker *t2 = add_stream(f, &s2, &log, 2, "t", 10);
    chute_engine_taker_remove(f->e, t1);
    assert_int_equal(fx_stats(f).streams, 1);
    for (int i = 0; i < 3; i++)
        fx_create(f, "t", 0, NULL);
    assert_int_equal(chute_engine_dispatch(f->e), 3);
    assert_int_equal(s1.calls, 0);
    assert_int_equal(s2.jobs, 3);
    chute_engine_taker_remove(f->e, t2);
    assert_int_equal(fx_stats(f).streams, 0);
    int64_t k = fx_create(f, "t", 0, NULL);
    assert_int_equal(chute_engine_dispatch(f->e), 0);
    assert_int_equal(s2.jobs, 3);
    assert_state(f, k, CHUTE_JOB_ACTIVATABLE);
}

static void test_return(void **state)
{
    fx *f = *state;
    dlog log = {0};
    taker_ctx s;
    add_stream(f, &s, &log, 1, "t", 10);
    int64_t a = fx_create(f, "t", 0, NULL);
    assert_ok(f, chute_engine_update_retries(f->e, a, 2, &f->err));
    int64_t b = fx_create(f, "t", 0, NULL);
    assert_int_equal(chute_engine_dispatch(f->e), 2);
    assert_int_equal(log.key[0], a);
    /* The stream went away before the jobs were sent. */
    chute_engine_taker_remove(f->e, s.self);
    assert_ok(f, chute_engine_return(f->e, a, log.deadline[0], &f->err));
    assert_ok(f, chute_engine_return(f->e, b, log.deadline[1], &f->err));
    chute_job_view v = fx_get(f, a);
    assert_int_equal(v.state, CHUTE_JOB_ACTIVATABLE);
    assert_int_equal(v.retries, 2);
    assert_int_equal(v.deadline, 0);
    assert_int_equal(fx_get(f, b).retries, 3);
    assert_int_equal(chute_engine_next_due(f->e), INT64_MAX);
    /* At once, no tick, and still in creation order. */
    int64_t got[2];
    assert_int_equal(fx_activate_keys(f, "t", "w", 1000, 2, got), 2);
    assert_int_equal(got[0], a);
    assert_int_equal(got[1], b);
    assert_int_equal(fx_stats(f).timed_out_total, 0);
    assert_rejected(f, chute_engine_return(f->e, b + 1000, 0, &f->err), CHUTE_ENOTFOUND);
}

/* A job returned after a failed delivery goes to the next taker at once. */
static void test_return_redelivered(void **state)
{
    fx *f = *state;
    dlog log = {0};
    taker_ctx s1, s2;
    add_stream(f, &s1, &log, 1, "t", 1);
    int64_t k = fx_create(f, "t", 0, NULL);
    assert_int_equal(chute_engine_dispatch(f->e), 1);
    assert_int_equal(log.taker[0], 1);
    chute_engine_taker_remove(f->e, s1.self); /* its connection is gone */
    add_stream(f, &s2, &log, 2, "t", 1);
    assert_ok(f, chute_engine_return(f->e, k, log.deadline[0], &f->err));
    assert_int_equal(chute_engine_dispatch(f->e), 1);
    assert_int_equal(log.taker[1], 2);
    assert_int_equal(log.key[1], k);
    assert_int_equal(log.retries[1], 3);
    assert_string_equal(log.worker[1], "stream2");
    assert_int_equal(s1.jobs, 1);
}

/* Return of a job that is no longer ACTIVATED: 0 and nothing changes. */
static void test_return_not_activated(void **state)
{
    fx *f = *state;
    int64_t a = fx_create(f, "t", 0, NULL);
    int64_t b = fx_create(f, "t", 0, NULL);
    int64_t c = fx_create(f, "t", 0, NULL);
    assert_int_equal(fx_activate_keys(f, "t", "w", 1000, 3, NULL), 3);
    /* Returned twice: the second is a no-op. */
    assert_ok(f, chute_engine_return(f->e, c, 0, &f->err));
    assert_int_equal(chute_engine_return(f->e, c, 0, &f->err), 0);
    assert_state(f, c, CHUTE_JOB_ACTIVATABLE);
    /* Failed with a back-off: stays FAILED. */
    assert_ok(f, chute_engine_fail(f->e, b, 1, "x", 1000, NULL, 0, &f->err));
    assert_int_equal(chute_engine_return(f->e, b, 0, &f->err), 0);
    assert_state(f, b, CHUTE_JOB_FAILED);
    /* Completed (and retained): the header says 0, "already completed". */
    assert_ok(f, chute_engine_complete(f->e, a, NULL, 0, &f->err));
    memset(&f->err, 0, sizeof f->err);
    int rc = chute_engine_return(f->e, a, 0, &f->err);
    if (rc != 0)
        fail_msg("return of a completed job: %s (%s), expected 0", chute_err_name(rc),
                 f->err.message);
    assert_state(f, a, CHUTE_JOB_COMPLETED);
}

/* A delivery that failed is returned after the lease already ran out and
 * another worker took the job: the header says return is then a no-op. */
static void test_return_after_relet(void **state)
{
    fx *f = *state;
    dlog log = {0};
    taker_ctx s;
    add_stream(f, &s, &log, 1, "t", 10);
    int64_t k = fx_create(f, "t", 0, NULL);
    assert_int_equal(chute_engine_dispatch(f->e), 1);
    chute_engine_taker_remove(f->e, s.self);
    fx_tick_at(f, FX_T0 + 7000); /* the stream's lease runs out */
    assert_int_equal(fx_activate_one(f, "t", "w2", 60000), k);
    assert_int_equal(chute_engine_return(f->e, k, log.deadline[0], &f->err), 0);
    chute_job_view v = fx_get(f, k);
    assert_int_equal(v.state, CHUTE_JOB_ACTIVATED);
    assert_string_equal(v.worker, "w2");
    assert_int_equal(v.deadline, FX_T0 + 67000);
}

static void test_waiter_max_bytes(void **state)
{
    fx *f = *state;
    dlog log = {0};
    taker_ctx w;
    memset(&w, 0, sizeof w);
    w.log = &log;
    for (int i = 0; i < 3; i++)
        fx_create(f, "t", 0, "{\"data\":\"0123456789012345678901234567890123456789\"}");
    chute_activate_request r = {.type = "t", .worker = "w", .timeout_ms = 100, .max_jobs = 10};
    chute_taker *out;
    assert_ok(f, chute_engine_waiter_add(f->e, &r, 10, on_deliver, &w, &out, &f->err));
    assert_int_equal(chute_engine_dispatch(f->e), 1); /* at least one, however small */
    assert_int_equal(w.jobs, 1);
    assert_int_equal(fx_stats(f).activatable, 2);
}

static void test_dispatch_priority_to_streams(void **state)
{
    fx *f = *state;
    dlog log = {0};
    int64_t lo = fx_create(f, "t", 0, NULL);
    int64_t hi = fx_create(f, "t", 9, NULL);
    taker_ctx s;
    add_stream(f, &s, &log, 1, "t", 1);
    chute_engine_dispatch(f->e);
    assert_int_equal(s.jobs, 1);
    assert_int_equal(log.key[0], hi);
    assert_state(f, lo, CHUTE_JOB_ACTIVATABLE);
}

static void test_close_with_takers(void **state)
{
    fx *f = *state;
    dlog log = {0};
    taker_ctx s, w;
    add_stream(f, &s, &log, 1, "t", 10);
    add_waiter(f, &w, &log, 2, "u", 1);
    /* Close removes every taker without calling it (teardown closes). */
    fx_close(f);
    assert_int_equal(s.calls, 0);
    assert_int_equal(w.calls, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        FX_TEST(test_waiter_served_after_create),
        FX_TEST(test_waiter_takes_up_to_max_jobs),
        FX_TEST(test_waiters_fifo),
        FX_TEST(test_waiter_per_type),
        FX_TEST(test_waiter_remove),
        FX_TEST(test_waiter_rejects_bad_request),
        FX_TEST(test_waiter_request_copied),
        FX_TEST(test_stream_round_robin),
        FX_TEST(test_stream_credit),
        FX_TEST(test_stream_zero_credit_passes_job_on),
        FX_TEST(test_streams_before_waiters),
        FX_TEST(test_stream_fed_from_backlog),
        FX_TEST(test_stream_gets_timer_jobs),
        FX_TEST(test_stream_fetch_variables),
        FX_TEST(test_stream_remove),
        FX_TEST(test_return),
        FX_TEST(test_return_not_activated),
        FX_TEST(test_return_redelivered),
        FX_TEST(test_return_after_relet),
        FX_TEST(test_waiter_max_bytes),
        FX_TEST(test_dispatch_priority_to_streams),
        FX_TEST(test_close_with_takers),
    };
    return cmocka_run_group_tests_name("engine_delivery", tests, NULL, NULL);
}
