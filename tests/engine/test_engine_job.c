/*
 * Engine unit tests for the in-memory job record (src/engine/engine_int.h):
 * variables kept inline with the job and replaced by merges, the rare
 * fields (headers, process, worker, errors, incident) allocated on first
 * need, views that outlive the settling of their job, and the one heap
 * position that the ready queues and the timers share.
 */
#include "engine_fixture.h"

/* ---- variables: inline, then replaced -------------------------------------- */

/* A job's variables are replaced by a fail, replaced again by a second fail
 * and merged once more at completion; every step shows the merged document,
 * in memory, in the retained result, and after a reopen. */
static void test_variables_replaced_twice_then_completed(void **state)
{
    fx *f = *state;
    int64_t k = fx_create(f, "t", 0, "{\"a\":1}");
    assert_int_equal(fx_activate_one(f, "t", "w", 1000), k);
    assert_ok(f, chute_engine_fail(f->e, k, 2, "first", 0, "{\"b\":2}", 0, &f->err));
    chute_job_view v = fx_get(f, k);
    assert_int_equal(v.state, CHUTE_JOB_ACTIVATABLE);
    assert_json_equal(v.variables, "{\"a\":1,\"b\":2}");
    assert_int_equal(v.variables_len, strlen(v.variables));

    assert_int_equal(fx_activate_one(f, "t", "w", 1000), k);
    assert_ok(f, chute_engine_fail(f->e, k, 1, "second", 0, "{\"a\":3,\"c\":[1]}", 0, &f->err));
    v = fx_get(f, k);
    assert_json_equal(v.variables, "{\"a\":3,\"b\":2,\"c\":[1]}");
    assert_int_equal(v.variables_len, strlen(v.variables));
    assert_string_equal(v.error_message, "second");

    /* The replaced variables are what the store holds: a reopen loads them
     * back inline. */
    fx_commit(f);
    fx_reopen(f);
    v = fx_get(f, k);
    assert_json_equal(v.variables, "{\"a\":3,\"b\":2,\"c\":[1]}");
    assert_int_equal(v.retries, 1);

    const chute_job_view *jobs;
    size_t n;
    chute_activate_request r = {.type = "t", .worker = "w2", .timeout_ms = 1000, .max_jobs = 1};
    assert_ok(f, chute_engine_activate(f->e, &r, 0, &jobs, &n, &f->err));
    assert_int_equal(n, 1);
    assert_json_equal(jobs[0].variables, "{\"a\":3,\"b\":2,\"c\":[1]}");
    assert_ok(f, chute_engine_fail(f->e, k, 1, "third", 0, "{\"d\":true}", 0, &f->err));
    assert_int_equal(fx_activate_one(f, "t", "w3", 1000), k);
    assert_ok(f, chute_engine_complete(f->e, k, "{\"e\":\"done\"}", 0, &f->err));
    v = fx_get(f, k);
    assert_int_equal(v.state, CHUTE_JOB_COMPLETED);
    assert_json_equal(v.variables, "{\"a\":3,\"b\":2,\"c\":[1],\"d\":true,\"e\":\"done\"}");
    fx_commit(f);
    fx_reopen(f);
    v = fx_get(f, k);
    assert_json_equal(v.variables, "{\"a\":3,\"b\":2,\"c\":[1],\"d\":true,\"e\":\"done\"}");
    assert_string_equal(v.worker, "w3");
}

/* A job created without variables gets them from a fail, then a thrown
 * error adds more; a blank document changes nothing. */
static void test_variables_added_to_job_without_any(void **state)
{
    fx *f = *state;
    int64_t k = fx_create(f, "t", 0, NULL);
    int64_t blank = fx_create(f, "t", 0, "  \n ");
    assert_string_equal(fx_get(f, k).variables, "{}");
    assert_string_equal(fx_get(f, blank).variables, "{}");
    assert_int_equal(fx_activate_keys(f, "t", "w", 1000, 2, NULL), 2);
    assert_ok(f, chute_engine_fail(f->e, k, 1, "", 0, "{\"x\":1}", 0, &f->err));
    assert_ok(f, chute_engine_fail(f->e, blank, 1, "", 0, " ", 0, &f->err));
    assert_json_equal(fx_get(f, k).variables, "{\"x\":1}");
    assert_string_equal(fx_get(f, blank).variables, "{}");
    assert_int_equal(fx_get(f, blank).variables_len, 2);

    assert_int_equal(fx_activate_keys(f, "t", "w", 1000, 2, NULL), 2);
    assert_ok(f, chute_engine_throw_error(f->e, k, "E1", "m", "{\"y\":2}", 0, &f->err));
    assert_json_equal(fx_get(f, k).variables, "{\"x\":1,\"y\":2}");
    assert_ok(f, chute_engine_complete(f->e, blank, NULL, 0, &f->err));
    assert_string_equal(fx_get(f, blank).variables, "{}");
    assert_ok(f, chute_engine_cancel(f->e, k, &f->err));
    assert_state(f, k, FX_GONE);
}

/* Views stay valid until the next call that hands out views, also when their
 * job is settled meanwhile: completed and cancelled jobs are buried, and a
 * merge leaves the inline text of the view in place. */
static void test_views_outlive_settling(void **state)
{
    fx *f = *state;
    int64_t k[4];
    k[0] = fx_create(f, "t", 0, "{\"n\":0,\"pad\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}");
    k[1] = fx_create(f, "t", 0, "{\"n\":1}");
    k[2] = fx_create(f, "t", 0, "{\"n\":2}");
    k[3] = fx_create(f, "t", 0, NULL);
    const chute_job_view *jobs;
    size_t n;
    chute_activate_request r = {
        .type = "t", .worker = "view-worker", .timeout_ms = 1000, .max_jobs = 4};
    assert_ok(f, chute_engine_activate(f->e, &r, 0, &jobs, &n, &f->err));
    assert_int_equal(n, 4);
    assert_ok(f, chute_engine_complete(f->e, k[0], "{\"r\":1}", 0, &f->err));
    assert_ok(f, chute_engine_fail(f->e, k[1], 2, "x", 0, "{\"n\":10,\"more\":true}", 0, &f->err));
    assert_ok(f, chute_engine_cancel(f->e, k[2], &f->err));
    assert_ok(f, chute_engine_throw_error(f->e, k[3], "E", "", "{\"z\":0}", 0, &f->err));
    assert_ok(f, chute_engine_commit(f->e, &f->err));

    assert_json_equal(jobs[0].variables,
                      "{\"n\":0,\"pad\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}");
    assert_json_equal(jobs[1].variables, "{\"n\":1}");
    assert_json_equal(jobs[2].variables, "{\"n\":2}");
    assert_string_equal(jobs[3].variables, "{}");
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(jobs[i].key, k[i]);
        assert_string_equal(jobs[i].worker, "view-worker");
        assert_string_equal(jobs[i].type, "t");
        assert_int_equal(jobs[i].variables_len, strlen(jobs[i].variables));
    }
    assert_json_equal(fx_get(f, k[1]).variables, "{\"n\":10,\"more\":true}");
}

/* ---- rare fields ------------------------------------------------------------ */

static char long_name[300];

/* The worker's name is kept with the rare fields: a new worker, a longer
 * name, no name, and a job that had headers and a process before its first
 * lease all keep every other field. */
static void test_worker_changes_keep_other_fields(void **state)
{
    fx *f = *state;
    memset(long_name, 'w', sizeof long_name - 1);
    chute_job_spec s;
    memset(&s, 0, sizeof s);
    s.type = "t";
    s.headers = "{\"h\":\"v\"}";
    s.variables = "{\"a\":1}";
    s.process.process_instance_key = 5;
    s.process.bpmn_process_id = "proc";
    s.process.element_id = "task";
    int64_t k = fx_create_spec(f, &s);
    int64_t plain = fx_create(f, "t", 1, NULL);

    /* The plain job goes first (priority 1); nothing rare is shown for it. */
    chute_job_view v = fx_get(f, plain);
    assert_string_equal(v.worker, "");
    assert_string_equal(v.headers, "{}");
    assert_string_equal(v.error_message, "");
    assert_int_equal(v.process.process_instance_key, 0);
    assert_string_equal(v.process.bpmn_process_id, "");

    const char *workers[] = {"a", long_name, "b", NULL, "a"};
    const char *shown[] = {"a", long_name, "b", "", "a"};
    int64_t t = FX_T0;
    for (size_t i = 0; i < 5; i++) {
        chute_activate_request r = {
            .type = "t", .worker = workers[i], .timeout_ms = 10, .max_jobs = 2};
        const chute_job_view *jobs;
        size_t n;
        assert_ok(f, chute_engine_activate(f->e, &r, 0, &jobs, &n, &f->err));
        assert_int_equal(n, 2);
        assert_int_equal(jobs[0].key, plain);
        assert_int_equal(jobs[1].key, k);
        assert_string_equal(jobs[0].worker, shown[i]);
        assert_string_equal(jobs[1].worker, shown[i]);
        assert_json_equal(jobs[1].headers, "{\"h\":\"v\"}");
        assert_int_equal(jobs[1].headers_len, strlen(jobs[1].headers));
        assert_string_equal(jobs[1].process.bpmn_process_id, "proc");
        assert_string_equal(jobs[1].process.element_id, "task");
        assert_int_equal(jobs[1].process.process_instance_key, 5);
        if (i == 1) {
            /* An error message set under one worker stays under the next. */
            assert_ok(f, chute_engine_fail(f->e, k, 3, "slow", 0, NULL, 0, &f->err));
            assert_ok(f, chute_engine_fail(f->e, plain, 3, "slower", 0, NULL, 0, &f->err));
        } else {
            t += 10;
            fx_tick_at(f, t);
        }
        assert_int_equal(fx_get(f, k).state, CHUTE_JOB_ACTIVATABLE);
        assert_string_equal(fx_get(f, k).worker, shown[i]);
        assert_string_equal(fx_get(f, k).error_message, i >= 1 ? "slow" : "");
        assert_string_equal(fx_get(f, plain).error_message, i >= 1 ? "slower" : "");
    }
    fx_commit(f);
    fx_reopen(f);
    v = fx_get(f, k);
    assert_string_equal(v.worker, "a");
    assert_string_equal(v.error_message, "slow");
    assert_json_equal(v.headers, "{\"h\":\"v\"}");
    assert_string_equal(v.process.bpmn_process_id, "proc");
    assert_json_equal(v.variables, "{\"a\":1}");
    v = fx_get(f, plain);
    assert_string_equal(v.worker, "a");
    assert_string_equal(v.headers, "{}");
    assert_string_equal(v.process.bpmn_process_id, "");
}

/* Every combination of rare fields survives a reopen, and a job that never
 * had any comes back without them. */
static void test_rare_fields_survive_reopen(void **state)
{
    fx *f = *state;
    chute_job_spec s;
    memset(&s, 0, sizeof s);
    s.type = "t";
    s.headers = "{\"only\":\"headers\"}";
    int64_t headers_only = fx_create_spec(f, &s);
    memset(&s, 0, sizeof s);
    s.type = "t";
    s.process.element_instance_key = 9;
    s.process.process_definition_key = 8;
    s.process.process_definition_version = 2;
    s.variables = "{\"p\":1}";
    int64_t process_only = fx_create_spec(f, &s);
    memset(&s, 0, sizeof s);
    s.type = "t";
    s.headers = "{\"x\":\"y\"}";
    s.process.process_instance_key = 1;
    s.process.bpmn_process_id = "bp";
    s.process.element_id = "el";
    s.variables = "{\"both\":1}";
    int64_t both = fx_create_spec(f, &s);
    int64_t plain = fx_create(f, "t", 0, "{\"plain\":true}");
    int64_t failed = fx_create(f, "u", 0, "{\"f\":0}");
    assert_int_equal(fx_activate_one(f, "u", "wu", 1000), failed);
    assert_ok(f, chute_engine_fail(f->e, failed, 2, "oops", 0, "{\"f\":1}", 0, &f->err));
    int64_t thrown = fx_create(f, "u", 0, NULL);
    assert_int_equal(fx_activate_one(f, "u", "wu", 1000), failed);
    assert_int_equal(fx_activate_one(f, "u", "wv", 1000), thrown);
    assert_ok(f, chute_engine_throw_error(f->e, thrown, "CODE", "msg", NULL, 0, &f->err));
    int64_t inc = fx_get(f, thrown).incident_key;
    fx_commit(f);
    fx_reopen(f);

    chute_job_view v = fx_get(f, headers_only);
    assert_json_equal(v.headers, "{\"only\":\"headers\"}");
    assert_string_equal(v.variables, "{}");
    assert_int_equal(v.process.element_instance_key, 0);
    v = fx_get(f, process_only);
    assert_string_equal(v.headers, "{}");
    assert_int_equal(v.process.element_instance_key, 9);
    assert_int_equal(v.process.process_definition_key, 8);
    assert_int_equal(v.process.process_definition_version, 2);
    assert_string_equal(v.process.bpmn_process_id, "");
    assert_json_equal(v.variables, "{\"p\":1}");
    v = fx_get(f, both);
    assert_json_equal(v.headers, "{\"x\":\"y\"}");
    assert_int_equal(v.process.process_instance_key, 1);
    assert_string_equal(v.process.bpmn_process_id, "bp");
    assert_string_equal(v.process.element_id, "el");
    assert_json_equal(v.variables, "{\"both\":1}");
    v = fx_get(f, plain);
    assert_string_equal(v.headers, "{}");
    assert_string_equal(v.worker, "");
    assert_string_equal(v.error_code, "");
    assert_string_equal(v.error_message, "");
    assert_int_equal(v.incident_key, 0);
    assert_json_equal(v.variables, "{\"plain\":true}");
    v = fx_get(f, failed);
    assert_int_equal(v.state, CHUTE_JOB_ACTIVATED);
    assert_string_equal(v.worker, "wu");
    assert_string_equal(v.error_message, "oops");
    assert_json_equal(v.variables, "{\"f\":1}");
    v = fx_get(f, thrown);
    assert_int_equal(v.state, CHUTE_JOB_ERROR_THROWN);
    assert_string_equal(v.worker, "wv");
    assert_string_equal(v.error_code, "CODE");
    assert_int_equal(v.incident_key, inc);

    /* A process job is not retained after completion; the others are. */
    assert_int_equal(fx_activate_keys(f, "t", "w", 1000, 4, NULL), 4);
    assert_ok(f, chute_engine_complete(f->e, both, NULL, 0, &f->err));
    assert_ok(f, chute_engine_complete(f->e, headers_only, "{\"r\":1}", 0, &f->err));
    assert_state(f, both, FX_GONE);
    v = fx_get(f, headers_only);
    assert_int_equal(v.state, CHUTE_JOB_COMPLETED);
    assert_json_equal(v.headers, "{\"only\":\"headers\"}");
    assert_json_equal(v.variables, "{\"r\":1}");
    assert_string_equal(v.worker, "w");
}

/* An incident opened by a fail with variables is resolved, the job is taken
 * again and completed; another job with an open incident is cancelled and
 * its incident goes with it. */
static void test_incident_resolved_then_completed(void **state)
{
    fx *f = *state;
    int64_t k = fx_create(f, "t", 0, "{\"a\":1}");
    int64_t other = fx_create(f, "t", 0, NULL);
    assert_int_equal(fx_activate_keys(f, "t", "w1", 1000, 2, NULL), 2);
    assert_ok(f, chute_engine_fail(f->e, k, 0, "no luck", 0, "{\"b\":2}", 0, &f->err));
    assert_ok(f, chute_engine_fail(f->e, other, 0, NULL, 0, NULL, 0, &f->err));
    int64_t inc = fx_get(f, k).incident_key;
    int64_t inc_other = fx_get(f, other).incident_key;
    assert_int_equal(fx_list_incidents(f).count, 2);

    assert_ok(f, chute_engine_cancel(f->e, other, &f->err));
    fx_incidents in = fx_list_incidents(f);
    assert_int_equal(in.count, 1);
    assert_int_equal(in.job_keys[0], k);
    assert_rejected(f, chute_engine_resolve_incident(f->e, inc_other, &f->err), CHUTE_ENOTFOUND);

    assert_ok(f, chute_engine_update_retries(f->e, k, 1, &f->err));
    assert_ok(f, chute_engine_resolve_incident(f->e, inc, &f->err));
    chute_job_view v = fx_get(f, k);
    assert_int_equal(v.state, CHUTE_JOB_ACTIVATABLE);
    assert_int_equal(v.incident_key, 0);
    assert_int_equal(v.incident_type, CHUTE_INCIDENT_NONE);
    assert_string_equal(v.error_message, "no luck");
    assert_json_equal(v.variables, "{\"a\":1,\"b\":2}");
    assert_int_equal(fx_stats(f).incidents, 0);

    assert_int_equal(fx_activate_one(f, "t", "w2", 1000), k);
    assert_ok(f, chute_engine_complete(f->e, k, "{\"c\":3}", 0, &f->err));
    fx_commit(f);
    fx_reopen(f);
    v = fx_get(f, k);
    assert_int_equal(v.state, CHUTE_JOB_COMPLETED);
    assert_int_equal(v.incident_key, 0);
    assert_string_equal(v.worker, "w2");
    assert_json_equal(v.variables, "{\"a\":1,\"b\":2,\"c\":3}");
    assert_int_equal(fx_list_incidents(f).count, 0);
    assert_int_equal(fx_stats(f).jobs, 0);
}

/* ---- the shared heap position ---------------------------------------------------- */

#define MIX_JOBS 400
#define MIX_TYPES 3

typedef struct mix {
    int64_t keys[MIX_JOBS];
    size_t n;
    uint64_t rng;
} mix;

static uint32_t mix_rand(mix *m, uint32_t below)
{
    m->rng = m->rng * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(m->rng >> 33) % below;
}

static const char *mix_type(uint32_t i)
{
    static const char *names[MIX_TYPES] = {"m0", "m1", "m2"};
    return names[i % MIX_TYPES];
}

/* Checks every job against the gauges and the timers: each live job is
 * counted once, and the next due timer is the earliest deadline shown. */
static void mix_check(fx *f, mix *m)
{
    uint64_t count[CHUTE_JOB_CANCELED + 1] = {0};
    int64_t earliest = INT64_MAX;
    uint64_t live = 0;
    for (size_t i = 0; i < m->n; i++) {
        chute_job_view v;
        if (chute_engine_get(f->e, m->keys[i], &v, &f->err) != 0)
            continue;
        count[v.state]++;
        if (v.state == CHUTE_JOB_COMPLETED)
            continue;
        live++;
        if (v.state == CHUTE_JOB_ACTIVATED || v.state == CHUTE_JOB_FAILED ||
            v.state == CHUTE_JOB_DELAYED) {
            assert_true(v.deadline > f->now); /* ticked: nothing overdue */
            if (v.deadline < earliest)
                earliest = v.deadline;
        }
    }
    chute_engine_stats s = fx_stats(f);
    assert_int_equal(s.jobs, live);
    assert_int_equal(s.activatable, count[CHUTE_JOB_ACTIVATABLE]);
    assert_int_equal(s.activated, count[CHUTE_JOB_ACTIVATED]);
    assert_int_equal(s.failed, count[CHUTE_JOB_FAILED]);
    assert_int_equal(s.delayed, count[CHUTE_JOB_DELAYED]);
    assert_int_equal(s.incidents, count[CHUTE_JOB_INCIDENT] + count[CHUTE_JOB_ERROR_THROWN]);
    int64_t due = chute_engine_next_due(f->e);
    if (earliest != INT64_MAX)
        assert_int_equal(due, earliest);
    else
        assert_true(due > f->now + 3600 * 1000); /* only the retention sweep */
}

/* Jobs move between the ready queues and the timers in every way the engine
 * knows (lease, expiry, fail with and without back-off, delay, return,
 * timeout update, settling from either heap, incidents and their
 * resolution), in a pseudo-random order. The heaps' own assertions check
 * each position on the way; the gauges, the next due timer and finally the
 * activation order check the result. */
static void test_heaps_share_position(void **state)
{
    fx *f = *state;
    mix *m = calloc(1, sizeof *m);
    assert_non_null(m);
    m->rng = 42;
    for (int step = 0; step < 6000; step++) {
        uint32_t op = mix_rand(m, 12);
        int64_t k = m->n ? m->keys[mix_rand(m, (uint32_t)m->n)] : 0;
        chute_job_view v;
        memset(&v, 0, sizeof v);
        int have =
            k && chute_engine_get(f->e, k, &v, &f->err) == 0 && v.state != CHUTE_JOB_COMPLETED;
        chute_error ignore;
        switch (op) {
        case 0:
        case 1:
            if (m->n < MIX_JOBS) {
                chute_job_spec s;
                memset(&s, 0, sizeof s);
                s.type = mix_type(mix_rand(m, MIX_TYPES));
                s.priority = (int32_t)mix_rand(m, 4);
                s.delay_ms = mix_rand(m, 3) == 0 ? 1 + mix_rand(m, 40) : 0;
                s.variables = "{\"v\":1}";
                m->keys[m->n++] = fx_create_spec(f, &s);
            }
            break;
        case 2:
        case 3: {
            chute_activate_request r = {.type = mix_type(mix_rand(m, MIX_TYPES)),
                                        .worker = mix_rand(m, 2) ? "w" : "other",
                                        .timeout_ms = 1 + mix_rand(m, 50),
                                        .max_jobs = 1 + (int32_t)mix_rand(m, 5)};
            const chute_job_view *jobs;
            size_t n;
            assert_ok(f, chute_engine_activate(f->e, &r, 0, &jobs, &n, &f->err));
            break;
        }
        case 4:
            if (have)
                chute_engine_complete(f->e, k, "{\"done\":1}", 0, &ignore);
            break;
        case 5:
            if (have) {
                uint32_t how = mix_rand(m, 4);
                int32_t retries = how == 0 ? 0 : 2;
                int64_t backoff = how == 1 ? 1 + mix_rand(m, 30) : 0;
                chute_engine_fail(f->e, k, retries, "f", backoff, how == 2 ? "{\"w\":2}" : NULL, 0,
                                  &ignore);
            }
            break;
        case 6:
            if (have && mix_rand(m, 3) == 0)
                chute_engine_throw_error(f->e, k, "E", "t", NULL, 0, &ignore);
            break;
        case 7:
            if (have && mix_rand(m, 4) == 0)
                assert_ok(f, chute_engine_cancel(f->e, k, &f->err));
            break;
        case 8:
            if (have && v.state == CHUTE_JOB_ACTIVATED)
                assert_ok(f, chute_engine_update_timeout(f->e, k, 1 + mix_rand(m, 60), &f->err));
            break;
        case 9:
            if (have)
                assert_ok(f, chute_engine_return(f->e, k, 0, &f->err));
            break;
        case 10:
            if (have && v.incident_key) {
                assert_ok(f, chute_engine_update_retries(f->e, k, 1, &f->err));
                assert_ok(f, chute_engine_resolve_incident(f->e, v.incident_key, &f->err));
            }
            break;
        default:
            fx_tick_at(f, f->now + mix_rand(m, 15));
            break;
        }
        if (step % 500 == 499) {
            fx_commit(f);
            chute_engine_tick(f->e);
            mix_check(f, m);
        }
    }
    chute_engine_tick(f->e);
    mix_check(f, m);

    /* Drain each ready queue: priority first, then creation order. */
    for (uint32_t t = 0; t < MIX_TYPES; t++) {
        chute_activate_request r = {
            .type = mix_type(t), .worker = "drain", .timeout_ms = 1000000, .max_jobs = MIX_JOBS};
        const chute_job_view *jobs;
        size_t n;
        assert_ok(f, chute_engine_activate(f->e, &r, 0, &jobs, &n, &f->err));
        for (size_t i = 1; i < n; i++) {
            assert_true(
                jobs[i - 1].priority > jobs[i].priority ||
                (jobs[i - 1].priority == jobs[i].priority && jobs[i - 1].key < jobs[i].key));
        }
    }
    assert_int_equal(fx_stats(f).activatable, 0);
    fx_commit(f);
    mix_check(f, m);
    free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        FX_TEST(test_variables_replaced_twice_then_completed),
        FX_TEST(test_variables_added_to_job_without_any),
        FX_TEST(test_views_outlive_settling),
        FX_TEST(test_worker_changes_keep_other_fields),
        FX_TEST(test_rare_fields_survive_reopen),
        FX_TEST(test_incident_resolved_then_completed),
        FX_TEST(test_heaps_share_position),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
