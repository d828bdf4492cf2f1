/*
 * Per-type statistics, the metrics hooks, and job listing
 * (chute_engine_list_types, chute_engine_set_hooks, chute_engine_list_jobs).
 */
#include "engine_fixture.h"

typedef struct collected {
    size_t n;
    chute_type_stats s[8];
    char names[8][32];
} collected;

static int collect_type(void *ctx, const chute_type_stats *s)
{
    collected *c = ctx;
    if (c->n < 8) {
        c->s[c->n] = *s;
        snprintf(c->names[c->n], sizeof c->names[0], "%s", s->type);
        c->s[c->n].type = c->names[c->n];
        c->n++;
    }
    return 0;
}

static void test_type_stats(void **state)
{
    fx *f = *state;
    int64_t a = fx_create(f, "beta", 0, NULL);
    f->now += 10;
    int64_t b = fx_create(f, "beta", 0, NULL);
    int64_t c = fx_create(f, "beta", 0, NULL);
    fx_create(f, "alpha", 0, NULL);
    fx_create_delayed(f, "beta", 5000);
    f->now += 100;
    chute_activate_request req = {.type = "beta", .worker = "w", .timeout_ms = 1000,
                                  .max_jobs = 2};
    const chute_job_view *jobs;
    size_t n;
    assert_ok(f, chute_engine_activate(f->e, &req, 0, &jobs, &n, &f->err));
    assert_int_equal(n, 2);
    assert_int_equal(jobs[0].key, a);
    assert_int_equal(jobs[1].key, b);
    assert_ok(f, chute_engine_complete(f->e, a, NULL, 0, &f->err));
    assert_ok(f, chute_engine_fail(f->e, b, 0, "boom", 0, NULL, 0, &f->err));

    collected col = {0};
    assert_int_equal(chute_engine_list_types(f->e, collect_type, &col), 0);
    assert_int_equal(col.n, 2);
    assert_string_equal(col.s[0].type, "alpha"); /* sorted by name */
    assert_string_equal(col.s[1].type, "beta");
    chute_type_stats *s = &col.s[1];
    assert_int_equal(s->activatable, 1); /* c */
    assert_int_equal(s->activated, 0);
    assert_int_equal(s->delayed, 1);
    assert_int_equal(s->incidents, 1); /* b */
    assert_int_equal(s->created_total, 4);
    assert_int_equal(s->activated_total, 2);
    assert_int_equal(s->completed_total, 1);
    assert_int_equal(s->failed_total, 1);
    assert_int_equal(s->incidents_total, 1);
    assert_int_equal(s->oldest_activatable_since, FX_T0 + 10); /* c became ready then */
    assert_int_equal(col.s[0].oldest_activatable_since, FX_T0 + 10);
    (void)c;

    /* A lease that runs out counts as timed out, per type. */
    req.max_jobs = 1;
    assert_ok(f, chute_engine_activate(f->e, &req, 0, &jobs, &n, &f->err));
    assert_int_equal(n, 1);
    f->now += 1000;
    chute_engine_tick(f->e);
    memset(&col, 0, sizeof col);
    chute_engine_list_types(f->e, collect_type, &col);
    assert_int_equal(col.s[1].timed_out_total, 1);
    assert_int_equal(col.s[1].oldest_activatable_since, f->now); /* ready again since now */
}

typedef struct hook_log {
    int activations;
    int64_t last_queued;
    int commits;
    uint64_t changes;
} hook_log;

static void on_activate(void *ctx, const char *type, int64_t queued_ms)
{
    hook_log *h = ctx;
    assert_string_equal(type, "t");
    h->activations++;
    h->last_queued = queued_ms;
}

static void on_commit(void *ctx, uint64_t changes, uint64_t ns)
{
    hook_log *h = ctx;
    (void)ns;
    h->commits++;
    h->changes += changes;
}

static void test_hooks(void **state)
{
    fx *f = *state;
    hook_log h = {0};
    chute_engine_hooks hooks = {on_activate, on_commit, &h};
    chute_engine_set_hooks(f->e, &hooks);
    fx_create(f, "t", 0, NULL);
    fx_create(f, "t", 0, NULL);
    assert_ok(f, chute_engine_commit(f->e, &f->err));
    assert_int_equal(h.commits, 1);
    assert_int_equal(h.changes, 2);
    f->now += 250;
    chute_activate_request req = {.type = "t", .timeout_ms = 1000, .max_jobs = 5};
    const chute_job_view *jobs;
    size_t n;
    assert_ok(f, chute_engine_activate(f->e, &req, 0, &jobs, &n, &f->err));
    assert_int_equal(h.activations, 2);
    assert_int_equal(h.last_queued, 250);
    assert_ok(f, chute_engine_commit(f->e, &f->err));
    assert_int_equal(h.commits, 2);
    assert_int_equal(h.changes, 4);
    /* Nothing to commit: no call. */
    assert_ok(f, chute_engine_commit(f->e, &f->err));
    assert_int_equal(h.commits, 2);
    chute_engine_set_hooks(f->e, NULL);
    fx_create(f, "t", 0, NULL);
    assert_ok(f, chute_engine_commit(f->e, &f->err));
    assert_int_equal(h.commits, 2);
}

typedef struct listed {
    size_t n;
    int64_t keys[16];
    chute_job_state states[16];
    char vars[16][64];
} listed;

static int collect_job(void *ctx, const chute_job_view *v)
{
    listed *l = ctx;
    if (l->n < 16) {
        l->keys[l->n] = v->key;
        l->states[l->n] = v->state;
        snprintf(l->vars[l->n], sizeof l->vars[0], "%.*s", (int)v->variables_len, v->variables);
        l->n++;
    }
    return 0;
}

static void test_list_jobs(void **state)
{
    fx *f = *state;
    int64_t k[6];
    for (int i = 0; i < 6; i++)
        k[i] = fx_create(f, i % 2 ? "odd" : "even", 0, i == 0 ? "{\"a\":1,\"r\":0}" : NULL);
    assert_ok(f, chute_engine_commit(f->e, &f->err));
    assert_ok(f, chute_engine_complete(f->e, k[0], "{\"r\":1}", 0, &f->err));

    listed l = {0};
    assert_int_equal(chute_engine_list_jobs(f->e, NULL, 0, 0, 100, collect_job, &l), 0);
    assert_int_equal(l.n, 5); /* the completed one is not listed by default */
    assert_int_equal(l.keys[0], k[5]); /* newest first */
    assert_int_equal(l.keys[4], k[1]);

    memset(&l, 0, sizeof l);
    chute_engine_list_jobs(f->e, "even", 0, 0, 100, collect_job, &l);
    assert_int_equal(l.n, 2);
    assert_int_equal(l.keys[0], k[4]);
    assert_int_equal(l.keys[1], k[2]);

    memset(&l, 0, sizeof l);
    chute_engine_list_jobs(f->e, NULL, 0, 1, 2, collect_job, &l); /* page */
    assert_int_equal(l.n, 2);
    assert_int_equal(l.keys[0], k[4]);
    assert_int_equal(l.keys[1], k[3]);

    memset(&l, 0, sizeof l);
    chute_engine_list_jobs(f->e, NULL, CHUTE_JOB_COMPLETED, 0, 10, collect_job, &l);
    assert_int_equal(l.n, 1);
    assert_int_equal(l.keys[0], k[0]);
    assert_int_equal(l.states[0], CHUTE_JOB_COMPLETED);
    /* The result is merged into the variables on read; its members win. */
    assert_string_equal(l.vars[0], "{\"a\":1,\"r\":1}");

    /* The open batch is visible (write-through). */
    chute_activate_request req = {.type = "odd", .timeout_ms = 1000, .max_jobs = 1};
    const chute_job_view *jobs;
    size_t n;
    assert_ok(f, chute_engine_activate(f->e, &req, 0, &jobs, &n, &f->err));
    memset(&l, 0, sizeof l);
    chute_engine_list_jobs(f->e, "odd", CHUTE_JOB_ACTIVATED, 0, 10, collect_job, &l);
    assert_int_equal(l.n, 1);
    assert_int_equal(l.keys[0], k[1]);

    /* Retention over: the completed job disappears from the listing. */
    f->now += 25 * 3600 * 1000LL;
    memset(&l, 0, sizeof l);
    chute_engine_list_jobs(f->e, NULL, CHUTE_JOB_COMPLETED, 0, 10, collect_job, &l);
    assert_int_equal(l.n, 0);
}

/* A batch is created all or nothing, and a rejected batch leaves no trace,
 * not even in the counters. */
static void test_create_batch(void **state)
{
    fx *f = *state;
    chute_job_spec specs[3] = {{.type = "b", .variables = "{\"i\":0}"},
                               {.type = "b", .variables = "{\"i\":1}"},
                               {.type = "b", .variables = "[2]"}};
    int64_t keys[3] = {0};
    size_t failed = 99;
    assert_rejected(f, chute_engine_create_batch(f->e, specs, 3, keys, &failed, &f->err),
                    CHUTE_EINVAL);
    assert_int_equal(failed, 2);
    assert_contains(f->err.message, "JSON object");
    chute_engine_stats st;
    chute_engine_get_stats(f->e, &st);
    assert_int_equal(st.jobs, 0);
    assert_int_equal(st.created_total, 0);
    assert_false(chute_engine_dirty(f->e)); /* nothing to commit, no key used */

    specs[2].variables = "{\"i\":2}";
    assert_ok(f, chute_engine_create_batch(f->e, specs, 3, keys, &failed, &f->err));
    assert_int_equal(keys[0], FX_KEY_BASE(1) + 1);
    assert_int_equal(keys[2], FX_KEY_BASE(1) + 3);
    chute_engine_get_stats(f->e, &st);
    assert_int_equal(st.created_total, 3);
    assert_int_equal(st.activatable, 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        FX_TEST(test_type_stats),
        FX_TEST(test_hooks),
        FX_TEST(test_list_jobs),
        FX_TEST(test_create_batch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
