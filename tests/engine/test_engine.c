/*
 * Engine unit tests: create/get, keys, every rejection, every transition,
 * updates (retries and timeout, all or nothing), the queue depth limit
 * (max_jobs), timers (lease expiry, back-off, delay, retention), ordering,
 * budgets, fetchVariable filtering and statistics. Checked against the contract in
 * include/chute/engine.h and the Semantics section of the Zeebe gateway
 * reference, with a fake clock.
 */
#include "engine_fixture.h"

#define K0 (FX_KEY_BASE(1) + 1) /* partition 1's first key: 2251799813685249 */

/* ---- create and get ------------------------------------------------------ */

static void test_create_defaults(void **state)
{
    fx *f = *state;
    chute_job_spec s;
    memset(&s, 0, sizeof s);
    s.type = "email";
    int64_t key = 0;
    assert_ok(f, chute_engine_create(f->e, &s, &key, &f->err));
    /* The reference: partition 1's first key is 2251799813685249. */
    assert_int_equal(key, INT64_C(2251799813685249));
    assert_int_equal(key, K0);

    chute_job_view v = fx_get(f, key);
    assert_string_equal(v.type, "email");
    assert_int_equal(v.state, CHUTE_JOB_ACTIVATABLE);
    assert_int_equal(v.retries, CHUTE_DEFAULT_RETRIES);
    assert_int_equal(v.retries, 3);
    assert_int_equal(v.priority, 0);
    assert_int_equal(v.created_at, FX_T0);
    assert_int_equal(v.deadline, 0);
    assert_non_null(v.worker);
    assert_string_equal(v.worker, "");
    assert_non_null(v.headers);
    assert_json_equal(v.headers, "{}");
    assert_int_equal(v.headers_len, strlen(v.headers));
    assert_non_null(v.variables);
    assert_json_equal(v.variables, "{}");
    assert_int_equal(v.variables_len, strlen(v.variables));
    assert_string_equal(v.error_code, "");
    assert_string_equal(v.error_message, "");
    assert_int_equal(v.incident_key, 0);
    assert_int_equal(v.incident_type, CHUTE_INCIDENT_NONE);
    assert_int_equal(v.completed_at, 0);
    assert_int_equal(v.process.process_instance_key, 0);
    assert_int_equal(v.process.process_definition_key, 0);
    assert_int_equal(v.process.process_definition_version, 0);
    assert_int_equal(v.process.element_instance_key, 0);
    assert_non_null(v.process.bpmn_process_id);
    assert_string_equal(v.process.bpmn_process_id, "");
    assert_non_null(v.process.element_id);
    assert_string_equal(v.process.element_id, "");
    assert_int_equal(chute_engine_now(f->e), FX_T0);
}

static void test_create_all_fields(void **state)
{
    fx *f = *state;
    f->now = FX_T0 + 1234;
    chute_job_spec s;
    memset(&s, 0, sizeof s);
    s.type = "payment";
    s.headers = "{\"h1\":\"v1\",\"h2\":\"v 2\"}";
    s.variables = "{\"a\":1,\"b\":[1,2],\"c\":{\"d\":\"e\"}}";
    s.retries = 7;
    s.priority = 9;
    s.process.process_instance_key = 11;
    s.process.process_definition_key = 22;
    s.process.process_definition_version = 3;
    s.process.element_instance_key = 44;
    s.process.bpmn_process_id = "order-process";
    s.process.element_id = "charge";
    int64_t key = fx_create_spec(f, &s);

    chute_job_view v = fx_get(f, key);
    assert_string_equal(v.type, "payment");
    assert_int_equal(v.state, CHUTE_JOB_ACTIVATABLE);
    assert_int_equal(v.retries, 7);
    assert_int_equal(v.priority, 9);
    assert_int_equal(v.created_at, FX_T0 + 1234);
    assert_json_equal(v.headers, "{\"h1\":\"v1\",\"h2\":\"v 2\"}");
    assert_int_equal(v.headers_len, strlen(v.headers));
    assert_json_equal(v.variables, "{\"a\":1,\"b\":[1,2],\"c\":{\"d\":\"e\"}}");
    assert_int_equal(v.variables_len, strlen(v.variables));
    assert_int_equal(v.process.process_instance_key, 11);
    assert_int_equal(v.process.process_definition_key, 22);
    assert_int_equal(v.process.process_definition_version, 3);
    assert_int_equal(v.process.element_instance_key, 44);
    assert_string_equal(v.process.bpmn_process_id, "order-process");
    assert_string_equal(v.process.element_id, "charge");
}

/* Explicit lengths: only |len| bytes are the document; blank means none. */
static void test_create_lengths_and_blank_documents(void **state)
{
    fx *f = *state;
    char vars[] = "{\"a\":1}GARBAGE";
    char hdrs[] = "{\"x\":\"y\"}]]]";
    chute_job_spec s;
    memset(&s, 0, sizeof s);
    s.type = "t";
    s.variables = vars;
    s.variables_len = 7;
    s.headers = hdrs;
    s.headers_len = 9;
    int64_t k1 = fx_create_spec(f, &s);
    chute_job_view v = fx_get(f, k1);
    assert_json_equal(v.variables, "{\"a\":1}");
    assert_json_equal(v.headers, "{\"x\":\"y\"}");

    memset(&s, 0, sizeof s);
    s.type = "t";
    s.variables = "  \n\t ";
    s.headers = "   ";
    int64_t k2 = fx_create_spec(f, &s);
    v = fx_get(f, k2);
    assert_json_equal(v.variables, "{}");
    assert_json_equal(v.headers, "{}");

    /* The type as bytes is copied: changing the caller's buffer later does
     * not change the job. */
    char type[] = "mutable";
    memset(&s, 0, sizeof s);
    s.type = type;
    int64_t k3 = fx_create_spec(f, &s);
    type[0] = 'X';
    v = fx_get(f, k3);
    assert_string_equal(v.type, "mutable");
}

static void test_keys_strictly_increasing(void **state)
{
    fx *f = *state;
    int64_t prev = 0;
    for (int i = 0; i < 200; i++) {
        int64_t k = fx_create(f, i % 2 ? "a" : "b", i % 5, NULL);
        assert_true(k > prev);
        assert_true(k > FX_KEY_BASE(1));
        assert_true(k < FX_KEY_BASE(2));
        assert_int_equal(k >> 51, 1);
        prev = k;
        if (i % 3 == 0) {
            /* Keys keep increasing whatever happens in between. */
            int64_t got = fx_activate_one(f, i % 2 ? "a" : "b", "w", 1000);
            assert_ok(f, chute_engine_complete(f->e, got, NULL, 0, &f->err));
        }
    }
}

static void test_keys_partition(void **state)
{
    fx *f = *state;
    fx_close(f);
    f->opts.partition = 2;
    fx_open(f);
    int64_t k1 = fx_create(f, "t", 0, NULL);
    int64_t k2 = fx_create(f, "t", 0, NULL);
    assert_int_equal(k1 >> 51, 2);
    assert_true(k1 > FX_KEY_BASE(2));
    assert_true(k2 > k1);
    assert_int_equal(k2 >> 51, 2);
}

/* ---- rejections ------------------------------------------------------------ */

static void test_reject_type(void **state)
{
    fx *f = *state;
    int64_t keep = fx_create(f, "t", 0, NULL);
    fx_commit(f);
    chute_engine_stats before = fx_stats(f);
    chute_job_spec s;
    int64_t key;
    const char *blank[] = {"", " ", "   ", "\t\n"};
    for (size_t i = 0; i < sizeof blank / sizeof blank[0]; i++) {
        memset(&s, 0, sizeof s);
        s.type = blank[i];
        key = -7;
        assert_rejected(f, chute_engine_create(f->e, &s, &key, &f->err), CHUTE_EINVAL);
    }
    memset(&s, 0, sizeof s);
    s.type = NULL;
    assert_rejected(f, chute_engine_create(f->e, &s, &key, &f->err), CHUTE_EINVAL);

    char longtype[CHUTE_TYPE_MAX + 2];
    memset(longtype, 'x', sizeof longtype);
    longtype[CHUTE_TYPE_MAX + 1] = '\0'; /* 1025 bytes */
    s.type = longtype;
    assert_rejected(f, chute_engine_create(f->e, &s, &key, &f->err), CHUTE_EINVAL);

    /* Nothing changed: no job, nothing in the batch. */
    chute_engine_stats after = fx_stats(f);
    assert_int_equal(after.jobs, before.jobs);
    assert_int_equal(after.created_total, before.created_total);
    assert_int_equal(chute_engine_dirty(f->e), 0);
    assert_state(f, keep, CHUTE_JOB_ACTIVATABLE);

    longtype[CHUTE_TYPE_MAX] = '\0'; /* exactly 1024 bytes is fine */
    int64_t k = fx_create(f, longtype, 0, NULL);
    chute_job_view v = fx_get(f, k);
    assert_int_equal(strlen(v.type), CHUTE_TYPE_MAX);
    assert_true(k > keep);
}

static void test_reject_retries_negative(void **state)
{
    fx *f = *state;
    chute_job_spec s;
    memset(&s, 0, sizeof s);
    s.type = "t";
    s.retries = -1;
    int64_t key;
    assert_rejected(f, chute_engine_create(f->e, &s, &key, &f->err), CHUTE_EINVAL);
    s.retries = 1;
    key = fx_create_spec(f, &s);
    assert_int_equal(fx_get(f, key).retries, 1);
}

static void test_reject_variables_not_object(void **state)
{
    fx *f = *state;
    const char *bad[] = {"[1]", "3", "\"x\"", "null", "true", "[]"};
    chute_job_spec s;
    int64_t key;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memset(&s, 0, sizeof s);
        s.type = "t";
        s.variables = bad[i];
        assert_rejected(f, chute_engine_create(f->e, &s, &key, &f->err), CHUTE_EINVAL);
        assert_contains(f->err.message, "object");
    }
    assert_int_equal(fx_stats(f).jobs, 0);
}

static void test_reject_variables_malformed(void **state)
{
    fx *f = *state;
    chute_job_spec s;
    int64_t key;
    memset(&s, 0, sizeof s);
    s.type = "t";
    s.variables = "{\"a\": 1,}";
    assert_rejected(f, chute_engine_create(f->e, &s, &key, &f->err), CHUTE_EINVAL);
    assert_contains(f->err.message, "line 1");
    assert_contains(f->err.message, "column");

    s.variables = "{\n  \"a\": 1,\n  \"b\": tru\n}";
    assert_rejected(f, chute_engine_create(f->e, &s, &key, &f->err), CHUTE_EINVAL);
    assert_contains(f->err.message, "line 3");
    assert_contains(f->err.message, "column");

    s.variables = "{\"a\":1} trailing";
    assert_rejected(f, chute_engine_create(f->e, &s, &key, &f->err), CHUTE_EINVAL);

    s.variables = "{";
    assert_rejected(f, chute_engine_create(f->e, &s, &key, &f->err), CHUTE_EINVAL);
    assert_contains(f->err.message, "line 1");
    assert_int_equal(fx_stats(f).jobs, 0);
}

static void test_reject_headers(void **state)
{
    fx *f = *state;
    const char *bad[] = {"{\"a\":1}", "{\"a\":\"ok\",\"b\":{\"c\":\"d\"}}", "{\"a\":null}",
                         "{\"a\":true}", "[\"x\"]", "\"x\"", "{\"a\":\"b\""};
    chute_job_spec s;
    int64_t key;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memset(&s, 0, sizeof s);
        s.type = "t";
        s.headers = bad[i];
        assert_rejected(f, chute_engine_create(f->e, &s, &key, &f->err), CHUTE_EINVAL);
    }
    assert_int_equal(fx_stats(f).jobs, 0);
}

static void test_reject_too_big(void **state)
{
    fx *f = *state;
    fx_close(f);
    f->opts.max_variables_size = 64;
    fx_open(f);
    char big[200];
    snprintf(big, sizeof big, "{\"a\":\"%0150d\"}", 0);
    chute_job_spec s;
    int64_t key;
    memset(&s, 0, sizeof s);
    s.type = "t";
    s.variables = big;
    assert_rejected(f, chute_engine_create(f->e, &s, &key, &f->err), CHUTE_ETOOBIG);
    assert_int_equal(fx_stats(f).jobs, 0);

    int64_t k = fx_create(f, "t", 0, "{\"a\":1}");
    assert_int_equal(fx_activate_one(f, "t", "w", 1000), k);
    assert_rejected(f, chute_engine_complete(f->e, k, big, strlen(big), &f->err),
                    CHUTE_ETOOBIG);
    assert_state(f, k, CHUTE_JOB_ACTIVATED);
    assert_rejected(f, chute_engine_fail(f->e, k, 1, "x", 0, big, strlen(big), &f->err),
                    CHUTE_ETOOBIG);
    assert_state(f, k, CHUTE_JOB_ACTIVATED);
    assert_rejected(f, chute_engine_throw_error(f->e, k, "E", "m", big, strlen(big), &f->err),
                    CHUTE_ETOOBIG);
    assert_state(f, k, CHUTE_JOB_ACTIVATED);
}

/* Durations whose deadline would overflow int64 (2^63-1 ms) were taken:
 * the job stayed ACTIVATED or DELAYED forever. Every duration is bounded by
 * CHUTE_DURATION_MAX_MS, named in the message; max_job_timeout_ms lowers
 * the bound for leases. */
static void test_reject_durations_past_the_maximum(void **state)
{
    fx *f = *state;
    const int64_t huge = INT64_MAX;
    chute_job_spec spec = {.type = "d", .delay_ms = huge};
    int64_t key;
    assert_rejected(f, chute_engine_create(f->e, &spec, &key, &f->err), CHUTE_EINVAL);
    assert_contains(f->err.message, "delay of at most 315360000000 ms");
    spec.delay_ms = CHUTE_DURATION_MAX_MS;
    assert_ok(f, chute_engine_create(f->e, &spec, &key, &f->err));
    assert_int_equal(fx_state(f, key), CHUTE_JOB_DELAYED);

    fx_create(f, "t", 0, NULL);
    chute_activate_request r = {.type = "t", .worker = "w", .max_jobs = 1, .timeout_ms = huge};
    const chute_job_view *jobs;
    size_t n;
    assert_rejected(f, chute_engine_activate(f->e, &r, 0, &jobs, &n, &f->err), CHUTE_EINVAL);
    assert_contains(f->err.message, "timeout of at most 315360000000 ms");
    assert_rejected(f, chute_engine_check_activate(&r, 1, &f->err), CHUTE_EINVAL);
    chute_taker *tk;
    assert_rejected(f,
                    chute_engine_stream_add(f->e, &r, 1, 0, NULL, NULL, &tk, &f->err),
                    CHUTE_EINVAL);
    r.timeout_ms = 60000;
    assert_ok(f, chute_engine_activate(f->e, &r, 0, &jobs, &n, &f->err));
    assert_int_equal(n, 1);
    key = jobs[0].key;
    chute_job_update u = {.has_timeout = 1, .timeout_ms = huge};
    assert_rejected(f, chute_engine_update(f->e, key, &u, &f->err), CHUTE_EINVAL);
    assert_contains(f->err.message, "at most 315360000000 ms (10 years)");
    assert_rejected(f, chute_engine_fail(f->e, key, 2, "x", huge, NULL, 0, &f->err),
                    CHUTE_EINVAL);
    assert_contains(f->err.message, "retry back-off of at most 315360000000 ms");
    assert_int_equal(fx_state(f, key), CHUTE_JOB_ACTIVATED);

    /* The operator's cap on leases. */
    f->opts.max_job_timeout_ms = 600000;
    fx_reopen(f);
    fx_create(f, "c", 0, NULL);
    chute_activate_request c = {.type = "c", .worker = "w", .max_jobs = 1, .timeout_ms = 3600000};
    assert_rejected(f, chute_engine_activate(f->e, &c, 0, &jobs, &n, &f->err), CHUTE_EINVAL);
    assert_contains(f->err.message, "at most 600000 ms (the broker's maximum job timeout)");
    c.timeout_ms = 600000;
    assert_ok(f, chute_engine_activate(f->e, &c, 0, &jobs, &n, &f->err));
    assert_int_equal(n, 1);
    u.timeout_ms = 600001;
    assert_rejected(f, chute_engine_update(f->e, jobs[0].key, &u, &f->err), CHUTE_EINVAL);
}

static void test_reject_activate_arguments(void **state)
{
    fx *f = *state;
    fx_create(f, "t", 0, NULL);
    chute_activate_request r;
    const chute_job_view *jobs;
    size_t n;

    memset(&r, 0, sizeof r);
    r.type = "t";
    r.worker = "w";
    r.max_jobs = 1;
    r.timeout_ms = 0;
    assert_rejected(f, chute_engine_activate(f->e, &r, 0, &jobs, &n, &f->err), CHUTE_EINVAL);
    assert_rejected(f, chute_engine_check_activate(&r, 0, &f->err), CHUTE_EINVAL);
    assert_rejected(f, chute_engine_check_activate(&r, 1, &f->err), CHUTE_EINVAL);
    r.timeout_ms = -5;
    assert_rejected(f, chute_engine_activate(f->e, &r, 0, &jobs, &n, &f->err), CHUTE_EINVAL);

    r.timeout_ms = 1000;
    r.max_jobs = 0;
    assert_rejected(f, chute_engine_activate(f->e, &r, 0, &jobs, &n, &f->err), CHUTE_EINVAL);
    assert_rejected(f, chute_engine_check_activate(&r, 0, &f->err), CHUTE_EINVAL);
    /* For a stream max_jobs is not checked. */
    assert_int_equal(chute_engine_check_activate(&r, 1, &f->err), 0);
    r.max_jobs = -3;
    assert_rejected(f, chute_engine_activate(f->e, &r, 0, &jobs, &n, &f->err), CHUTE_EINVAL);

    r.max_jobs = 1;
    const char *blank[] = {"", "  "};
    for (size_t i = 0; i < 2; i++) {
        r.type = blank[i];
        assert_rejected(f, chute_engine_activate(f->e, &r, 0, &jobs, &n, &f->err), CHUTE_EINVAL);
        assert_rejected(f, chute_engine_check_activate(&r, 0, &f->err), CHUTE_EINVAL);
    }
    r.type = NULL;
    assert_rejected(f, chute_engine_check_activate(&r, 0, &f->err), CHUTE_EINVAL);

    /* Nothing was activated by the rejected calls. */
    assert_int_equal(fx_stats(f).activated, 0);
    assert_int_equal(fx_stats(f).activatable, 1);

    /* A valid request with no worker is fine: worker "". */
    r.type = "t";
    r.worker = NULL;
    assert_int_equal(chute_engine_check_activate(&r, 0, &f->err), 0);
    assert_ok(f, chute_engine_activate(f->e, &r, 0, &jobs, &n, &f->err));
    assert_int_equal(n, 1);
    assert_string_equal(jobs[0].worker, "");
}

/* The bounds the header defines: worker, error code and error message. */
static void test_reject_limits(void **state)
{
    fx *f = *state;
    int64_t k = fx_create(f, "t", 0, NULL);
    static char big[CHUTE_ERROR_MESSAGE_LEN_MAX + 2];
    memset(big, 'w', sizeof big);

    big[CHUTE_WORKER_MAX + 1] = '\0';
    chute_activate_request r = {.type = "t", .worker = big, .timeout_ms = 1000, .max_jobs = 1};
    const chute_job_view *jobs;
    size_t n;
    assert_rejected(f, chute_engine_activate(f->e, &r, 0, &jobs, &n, &f->err), CHUTE_EINVAL);
    assert_rejected(f, chute_engine_check_activate(&r, 0, &f->err), CHUTE_EINVAL);
    assert_state(f, k, CHUTE_JOB_ACTIVATABLE);
    big[CHUTE_WORKER_MAX] = '\0';
    assert_ok(f, chute_engine_activate(f->e, &r, 0, &jobs, &n, &f->err));
    assert_int_equal(n, 1);
    assert_int_equal(strlen(jobs[0].worker), CHUTE_WORKER_MAX);

    memset(big, 'c', sizeof big);
    big[CHUTE_ERROR_CODE_MAX + 1] = '\0';
    assert_rejected(f, chute_engine_throw_error(f->e, k, big, "m", NULL, 0, &f->err),
                    CHUTE_EINVAL);
    assert_state(f, k, CHUTE_JOB_ACTIVATED);

    memset(big, 'm', sizeof big);
    big[CHUTE_ERROR_MESSAGE_LEN_MAX + 1] = '\0';
    assert_rejected(f, chute_engine_fail(f->e, k, 1, big, 0, NULL, 0, &f->err), CHUTE_EINVAL);
    assert_rejected(f, chute_engine_throw_error(f->e, k, "E", big, NULL, 0, &f->err),
                    CHUTE_EINVAL);
    assert_state(f, k, CHUTE_JOB_ACTIVATED);
    big[CHUTE_ERROR_MESSAGE_LEN_MAX] = '\0';
    assert_ok(f, chute_engine_fail(f->e, k, 0, big, 0, NULL, 0, &f->err));
    chute_job_view v = fx_get(f, k);
    assert_int_equal(v.state, CHUTE_JOB_INCIDENT);
    assert_int_equal(strlen(v.error_message), CHUTE_ERROR_MESSAGE_LEN_MAX);
}

static void test_not_found_unknown(void **state)
{
    fx *f = *state;
    fx_create(f, "t", 0, NULL);
    int64_t k = K0 + 999; /* 2251799813686248 */
    chute_job_view v;
    assert_rejected(f, chute_engine_complete(f->e, k, NULL, 0, &f->err), CHUTE_ENOTFOUND);
    assert_string_equal(f->err.message,
                        "Command 'COMPLETE' rejected with code 'NOT_FOUND': Expected to complete "
                        "job with key '2251799813686248', but no such job was found");
    assert_rejected(f, chute_engine_fail(f->e, k, 1, "m", 0, NULL, 0, &f->err), CHUTE_ENOTFOUND);
    assert_contains(f->err.message, "Command 'FAIL' rejected with code 'NOT_FOUND'");
    assert_contains(f->err.message, "'2251799813686248'");
    assert_rejected(f, chute_engine_throw_error(f->e, k, "E", "m", NULL, 0, &f->err),
                    CHUTE_ENOTFOUND);
    assert_contains(f->err.message, "Command 'THROW_ERROR' rejected with code 'NOT_FOUND'");
    assert_contains(f->err.message, "'2251799813686248'");
    assert_rejected(f, chute_engine_update_retries(f->e, k, 2, &f->err), CHUTE_ENOTFOUND);
    assert_contains(f->err.message, "NOT_FOUND");
    assert_contains(f->err.message, "2251799813686248");
    assert_rejected(f, chute_engine_update_timeout(f->e, k, 1000, &f->err), CHUTE_ENOTFOUND);
    assert_contains(f->err.message, "2251799813686248");
    assert_rejected(f, chute_engine_cancel(f->e, k, &f->err), CHUTE_ENOTFOUND);
    assert_contains(f->err.message, "2251799813686248");
    assert_rejected(f, chute_engine_get(f->e, k, &v, &f->err), CHUTE_ENOTFOUND);
    assert_contains(f->err.message, "2251799813686248");
    assert_rejected(f, chute_engine_return(f->e, k, 0, &f->err), CHUTE_ENOTFOUND);
    assert_rejected(f, chute_engine_resolve_incident(f->e, k, &f->err), CHUTE_ENOTFOUND);
    assert_contains(f->err.message, "2251799813686248");
    /* Zero and negative keys are just unknown. */
    assert_rejected(f, chute_engine_complete(f->e, 0, NULL, 0, &f->err), CHUTE_ENOTFOUND);
    assert_rejected(f, chute_engine_complete(f->e, -1, NULL, 0, &f->err), CHUTE_ENOTFOUND);
}

static void test_not_found_completed_and_canceled(void **state)
{
    fx *f = *state;
    int64_t done = fx_create(f, "t", 0, NULL);
    assert_int_equal(fx_activate_one(f, "t", "w", 1000), done);
    assert_ok(f, chute_engine_complete(f->e, done, NULL, 0, &f->err));
    assert_state(f, done, CHUTE_JOB_COMPLETED); /* retained: 24 h by default */

    char keystr[32];
    snprintf(keystr, sizeof keystr, "'%" PRId64 "'", done);
    char expect[256];
    snprintf(expect, sizeof expect,
             "Command 'COMPLETE' rejected with code 'NOT_FOUND': Expected to complete job with "
             "key '%" PRId64 "', but no such job was found",
             done);
    assert_rejected(f, chute_engine_complete(f->e, done, NULL, 0, &f->err), CHUTE_ENOTFOUND);
    assert_string_equal(f->err.message, expect);
    assert_rejected(f, chute_engine_fail(f->e, done, 1, "m", 0, NULL, 0, &f->err),
                    CHUTE_ENOTFOUND);
    assert_contains(f->err.message, keystr);
    assert_rejected(f, chute_engine_throw_error(f->e, done, "E", "m", NULL, 0, &f->err),
                    CHUTE_ENOTFOUND);
    assert_rejected(f, chute_engine_update_retries(f->e, done, 5, &f->err), CHUTE_ENOTFOUND);
    assert_rejected(f, chute_engine_update_timeout(f->e, done, 5, &f->err), CHUTE_ENOTFOUND);
    assert_rejected(f, chute_engine_cancel(f->e, done, &f->err), CHUTE_ENOTFOUND);
    assert_state(f, done, CHUTE_JOB_COMPLETED);

    int64_t gone = fx_create(f, "t", 0, NULL);
    assert_ok(f, chute_engine_cancel(f->e, gone, &f->err));
    snprintf(keystr, sizeof keystr, "'%" PRId64 "'", gone);
    assert_rejected(f, chute_engine_complete(f->e, gone, NULL, 0, &f->err), CHUTE_ENOTFOUND);
    assert_contains(f->err.message, keystr);
    assert_rejected(f, chute_engine_fail(f->e, gone, 1, "m", 0, NULL, 0, &f->err),
                    CHUTE_ENOTFOUND);
    assert_rejected(f, chute_engine_throw_error(f->e, gone, "E", "m", NULL, 0, &f->err),
                    CHUTE_ENOTFOUND);
    assert_rejected(f, chute_engine_update_retries(f->e, gone, 5, &f->err), CHUTE_ENOTFOUND);
    assert_rejected(f, chute_engine_update_timeout(f->e, gone, 5, &f->err), CHUTE_ENOTFOUND);
    assert_rejected(f, chute_engine_cancel(f->e, gone, &f->err), CHUTE_ENOTFOUND);
    assert_state(f, gone, FX_GONE);
}

/* Puts a fresh job of |type| into |st| (FAILED with back-off, INCIDENT,
 * ERROR_THROWN or DELAYED) and returns its key. */
static int64_t job_in_state(fx *f, const char *type, chute_job_state st)
{
    if (st == CHUTE_JOB_DELAYED)
        return fx_create_delayed(f, type, 60000);
    int64_t k = fx_create(f, type, 0, NULL);
    assert_int_equal(fx_activate_one(f, type, "w", 60000), k);
    switch (st) {
    case CHUTE_JOB_FAILED:
        assert_ok(f, chute_engine_fail(f->e, k, 2, "later", 60000, NULL, 0, &f->err));
        break;
    case CHUTE_JOB_INCIDENT:
        assert_ok(f, chute_engine_fail(f->e, k, 0, "no more", 0, NULL, 0, &f->err));
        break;
    case CHUTE_JOB_ERROR_THROWN:
        assert_ok(f, chute_engine_throw_error(f->e, k, "E1", "thrown", NULL, 0, &f->err));
        break;
    default:
        break;
    }
    assert_state(f, k, st);
    return k;
}

static void test_estate_settle_in_wrong_state(void **state)
{
    fx *f = *state;
    const chute_job_state states[] = {CHUTE_JOB_FAILED, CHUTE_JOB_INCIDENT,
                                       CHUTE_JOB_ERROR_THROWN, CHUTE_JOB_DELAYED};
    for (size_t i = 0; i < 4; i++) {
        char type[16];
        snprintf(type, sizeof type, "s%zu", i);
        int64_t k = job_in_state(f, type, states[i]);
        chute_job_view before = fx_get(f, k);
        int32_t retries = before.retries;
        int64_t deadline = before.deadline;
        char keystr[32];
        snprintf(keystr, sizeof keystr, "%" PRId64, k);
        assert_rejected(f, chute_engine_complete(f->e, k, "{\"z\":1}", 0, &f->err), CHUTE_ESTATE);
        assert_contains(f->err.message, keystr);
        assert_rejected(f, chute_engine_fail(f->e, k, 1, "again", 0, NULL, 0, &f->err),
                        CHUTE_ESTATE);
        assert_contains(f->err.message, keystr);
        assert_rejected(f, chute_engine_throw_error(f->e, k, "E2", "again", NULL, 0, &f->err),
                        CHUTE_ESTATE);
        assert_contains(f->err.message, keystr);
        assert_rejected(f, chute_engine_update_timeout(f->e, k, 1000, &f->err), CHUTE_ESTATE);
        assert_contains(f->err.message, keystr);
        chute_job_view v = fx_get(f, k);
        assert_int_equal(v.state, states[i]);
        assert_int_equal(v.retries, retries);
        assert_int_equal(v.deadline, deadline);
        assert_json_equal(v.variables, "{}");
    }
}

static void test_estate_update_timeout_not_activated(void **state)
{
    fx *f = *state;
    int64_t k = fx_create(f, "t", 0, NULL);
    assert_rejected(f, chute_engine_update_timeout(f->e, k, 1000, &f->err), CHUTE_ESTATE);
    chute_job_view v = fx_get(f, k);
    assert_int_equal(v.state, CHUTE_JOB_ACTIVATABLE);
    assert_int_equal(v.deadline, 0);
    /* Activated, then timed out: not activated any more. */
    assert_int_equal(fx_activate_one(f, "t", "w", 100), k);
    fx_tick_at(f, FX_T0 + 100);
    assert_state(f, k, CHUTE_JOB_ACTIVATABLE);
    assert_rejected(f, chute_engine_update_timeout(f->e, k, 1000, &f->err), CHUTE_ESTATE);
    /* Activated: a timeout < 1 is an invalid argument. */
    assert_int_equal(fx_activate_one(f, "t", "w", 100), k);
    assert_rejected(f, chute_engine_update_timeout(f->e, k, 0, &f->err), CHUTE_EINVAL);
    assert_rejected(f, chute_engine_update_timeout(f->e, k, -10, &f->err), CHUTE_EINVAL);
    assert_int_equal(fx_get(f, k).deadline, FX_T0 + 200);
}

static void test_update_retries(void **state)
{
    fx *f = *state;
    int64_t k = fx_create(f, "t", 0, NULL);
    assert_rejected(f, chute_engine_update_retries(f->e, k, 0, &f->err), CHUTE_EINVAL);
    assert_rejected(f, chute_engine_update_retries(f->e, k, -1, &f->err), CHUTE_EINVAL);
    assert_int_equal(fx_get(f, k).retries, 3);
    /* Accepted in ACTIVATABLE and ACTIVATED; the state is unchanged. */
    assert_ok(f, chute_engine_update_retries(f->e, k, 5, &f->err));
    chute_job_view v = fx_get(f, k);
    assert_int_equal(v.retries, 5);
    assert_int_equal(v.state, CHUTE_JOB_ACTIVATABLE);
    assert_int_equal(fx_activate_one(f, "t", "w", 1000), k);
    assert_ok(f, chute_engine_update_retries(f->e, k, 1, &f->err));
    v = fx_get(f, k);
    assert_int_equal(v.retries, 1);
    assert_int_equal(v.state, CHUTE_JOB_ACTIVATED);
    assert_int_equal(v.deadline, FX_T0 + 1000);
    assert_rejected(f, chute_engine_update_retries(f->e, k, 0, &f->err), CHUTE_EINVAL);
    assert_int_equal(fx_get(f, k).retries, 1);
}

/* ---- update: retries and timeout in one change ------------------------------ */

static void test_update_both(void **state)
{
    fx *f = *state;
    int64_t k = fx_create(f, "t", 0, NULL);
    assert_int_equal(fx_activate_one(f, "t", "w", 1000), k);
    fx_commit(f);
    f->now = FX_T0 + 200;
    chute_job_update u = {.has_retries = 1, .retries = 9, .has_timeout = 1, .timeout_ms = 5000};
    assert_ok(f, chute_engine_update(f->e, k, &u, &f->err));
    chute_job_view v = fx_get(f, k);
    assert_int_equal(v.retries, 9);
    assert_int_equal(v.deadline, FX_T0 + 5200);
    assert_int_equal(v.state, CHUTE_JOB_ACTIVATED);
    assert_string_equal(v.worker, "w");
    assert_int_equal(chute_engine_next_due(f->e), FX_T0 + 5200);
    /* Both changes are one durable change of the job. */
    fx_commit(f);
    fx_reopen(f);
    v = fx_get(f, k);
    assert_int_equal(v.retries, 9);
    assert_int_equal(v.deadline, FX_T0 + 5200);
    assert_int_equal(v.state, CHUTE_JOB_ACTIVATED);
    /* The old deadline passes: still leased; the new one ends the lease. */
    fx_tick_at(f, FX_T0 + 1000);
    assert_state(f, k, CHUTE_JOB_ACTIVATED);
    fx_tick_at(f, FX_T0 + 5200);
    v = fx_get(f, k);
    assert_int_equal(v.state, CHUTE_JOB_ACTIVATABLE);
    assert_int_equal(v.retries, 9);
}

static void test_update_retries_invalid_keeps_timeout(void **state)
{
    fx *f = *state;
    int64_t k = fx_create(f, "t", 0, NULL);
    assert_int_equal(fx_activate_one(f, "t", "w", 1000), k);
    fx_commit(f);
    chute_job_update u = {.has_retries = 1, .retries = 0, .has_timeout = 1, .timeout_ms = 60000};
    assert_rejected(f, chute_engine_update(f->e, k, &u, &f->err), CHUTE_EINVAL);
    assert_contains(f->err.message, "retries");
    /* Nothing changed, nothing joined the batch. */
    assert_int_equal(chute_engine_dirty(f->e), 0);
    chute_job_view v = fx_get(f, k);
    assert_int_equal(v.deadline, FX_T0 + 1000);
    assert_int_equal(v.retries, 3);
    assert_int_equal(chute_engine_next_due(f->e), FX_T0 + 1000);
    /* A timeout out of range with valid retries: the retries stay too. */
    u = (chute_job_update){.has_retries = 1, .retries = 7, .has_timeout = 1, .timeout_ms = 0};
    assert_rejected(f, chute_engine_update(f->e, k, &u, &f->err), CHUTE_EINVAL);
    assert_contains(f->err.message, "timeout");
    v = fx_get(f, k);
    assert_int_equal(v.retries, 3);
    assert_int_equal(v.deadline, FX_T0 + 1000);
    assert_int_equal(chute_engine_dirty(f->e), 0);
    /* The lease still ends at the old deadline. */
    fx_tick_at(f, FX_T0 + 1000);
    assert_state(f, k, CHUTE_JOB_ACTIVATABLE);
}

static void test_update_timeout_rejected_keeps_retries(void **state)
{
    fx *f = *state;
    int64_t k = fx_create(f, "t", 0, NULL);
    fx_commit(f);
    /* Not activated: the timeout is rejected, so the retries are not set. */
    chute_job_update u = {.has_retries = 1, .retries = 7, .has_timeout = 1, .timeout_ms = 5000};
    assert_rejected(f, chute_engine_update(f->e, k, &u, &f->err), CHUTE_ESTATE);
    assert_contains(f->err.message, "Command 'UPDATE' rejected with code 'INVALID_STATE'");
    assert_contains(f->err.message, "ACTIVATABLE");
    assert_int_equal(chute_engine_dirty(f->e), 0);
    chute_job_view v = fx_get(f, k);
    assert_int_equal(v.retries, 3);
    assert_int_equal(v.state, CHUTE_JOB_ACTIVATABLE);
    /* The same in an incident: retries alone would be accepted there. */
    assert_int_equal(fx_activate_one(f, "t", "w", 1000), k);
    assert_ok(f, chute_engine_fail(f->e, k, 0, "no more", 0, NULL, 0, &f->err));
    fx_commit(f);
    assert_rejected(f, chute_engine_update(f->e, k, &u, &f->err), CHUTE_ESTATE);
    assert_int_equal(chute_engine_dirty(f->e), 0);
    v = fx_get(f, k);
    assert_int_equal(v.retries, 0);
    assert_int_equal(v.state, CHUTE_JOB_INCIDENT);
    u.has_timeout = 0;
    assert_ok(f, chute_engine_update(f->e, k, &u, &f->err));
    assert_int_equal(fx_get(f, k).retries, 7);
}

static void test_update_not_found_and_empty(void **state)
{
    fx *f = *state;
    int64_t k = fx_create(f, "t", 0, NULL);
    int64_t unknown = K0 + 999;
    chute_job_update both = {.has_retries = 1, .retries = 2, .has_timeout = 1, .timeout_ms = 10};
    assert_rejected(f, chute_engine_update(f->e, unknown, &both, &f->err), CHUTE_ENOTFOUND);
    assert_string_equal(f->err.message,
                        "Command 'UPDATE' rejected with code 'NOT_FOUND': Expected to update "
                        "job with key '2251799813686248', but no such job was found");
    /* One field: Zeebe's command names, as the wrappers always gave. */
    chute_job_update r = {.has_retries = 1, .retries = 2};
    assert_rejected(f, chute_engine_update(f->e, unknown, &r, &f->err), CHUTE_ENOTFOUND);
    assert_contains(f->err.message, "Command 'UPDATE_RETRIES' rejected with code 'NOT_FOUND'");
    chute_job_update t = {.has_timeout = 1, .timeout_ms = 10};
    assert_rejected(f, chute_engine_update(f->e, unknown, &t, &f->err), CHUTE_ENOTFOUND);
    assert_contains(f->err.message, "Command 'UPDATE_TIMEOUT' rejected with code 'NOT_FOUND'");
    /* A completed job is not found either. */
    assert_int_equal(fx_activate_one(f, "t", "w", 1000), k);
    assert_ok(f, chute_engine_complete(f->e, k, NULL, 0, &f->err));
    assert_rejected(f, chute_engine_update(f->e, k, &both, &f->err), CHUTE_ENOTFOUND);
    /* An update that sets nothing is an invalid argument. */
    int64_t k2 = fx_create(f, "t", 0, NULL);
    chute_job_update none = {0};
    assert_rejected(f, chute_engine_update(f->e, k2, &none, &f->err), CHUTE_EINVAL);
    assert_contains(f->err.message, "sets neither");
}

/* ---- queue depth limit (max_jobs) ----------------------------------------- */

static void open_with_max_jobs(fx *f, uint64_t max)
{
    f->opts.max_jobs = max;
    fx_open(f);
}

static int create_rc(fx *f, const char *type, int64_t *key)
{
    chute_job_spec s = {.type = type};
    memset(&f->err, 0, sizeof f->err);
    return chute_engine_create(f->e, &s, key, &f->err);
}

static void test_depth_limit_create(void **state)
{
    fx *f = *state;
    open_with_max_jobs(f, 3);
    int64_t k[3];
    for (int i = 0; i < 3; i++)
        k[i] = fx_create(f, "t", 0, NULL);
    fx_commit(f);
    int64_t key = 0;
    assert_rejected(f, create_rc(f, "t", &key), CHUTE_EBUSY);
    assert_int_equal(key, 0);
    assert_string_equal(f->err.message, "Expected to create 1 job, but the broker holds 3 jobs "
                                        "and its limit is 3; complete or cancel jobs, or raise "
                                        "the limit");
    /* The limit is checked first: a full broker refuses even a bad spec at once. */
    chute_job_spec bad = {.type = ""};
    assert_rejected(f, chute_engine_create(f->e, &bad, &key, &f->err), CHUTE_EBUSY);
    chute_engine_stats s = fx_stats(f);
    assert_int_equal(s.jobs, 3);
    assert_int_equal(s.created_total, 3);
    assert_int_equal(s.rejected_max_jobs_total, 2);
    assert_int_equal(chute_engine_dirty(f->e), 0);
    /* Jobs held are never touched by the limit. */
    for (int i = 0; i < 3; i++)
        assert_state(f, k[i], CHUTE_JOB_ACTIVATABLE);
    /* Completing one makes room for exactly one. */
    assert_int_equal(fx_activate_one(f, "t", "w", 1000), k[0]);
    assert_ok(f, chute_engine_complete(f->e, k[0], NULL, 0, &f->err));
    assert_state(f, k[0], CHUTE_JOB_COMPLETED); /* retained, and not counted */
    int64_t k3 = fx_create(f, "t", 0, NULL);
    assert_rejected(f, create_rc(f, "t", &key), CHUTE_EBUSY);
    /* Cancelling one does too. */
    assert_ok(f, chute_engine_cancel(f->e, k3, &f->err));
    fx_create(f, "t", 0, NULL);
    assert_rejected(f, create_rc(f, "t", &key), CHUTE_EBUSY);
    assert_int_equal(fx_stats(f).rejected_max_jobs_total, 4);
}

static void test_depth_limit_counts_every_state(void **state)
{
    fx *f = *state;
    open_with_max_jobs(f, 5);
    /* One job in each state that is held: activated, failed (back-off),
     * incident, error thrown, delayed. */
    int64_t a = fx_create(f, "a", 0, NULL);
    assert_int_equal(fx_activate_one(f, "a", "w", 60000), a);
    int64_t b = fx_create(f, "b", 0, NULL);
    assert_int_equal(fx_activate_one(f, "b", "w", 60000), b);
    assert_ok(f, chute_engine_fail(f->e, b, 2, "later", 60000, NULL, 0, &f->err));
    int64_t c = fx_create(f, "c", 0, NULL);
    assert_int_equal(fx_activate_one(f, "c", "w", 60000), c);
    assert_ok(f, chute_engine_fail(f->e, c, 0, "no more", 0, NULL, 0, &f->err));
    int64_t d = fx_create(f, "d", 0, NULL);
    assert_int_equal(fx_activate_one(f, "d", "w", 60000), d);
    assert_ok(f, chute_engine_throw_error(f->e, d, "E", "m", NULL, 0, &f->err));
    fx_create_delayed(f, "e", 60000);
    int64_t key;
    assert_rejected(f, create_rc(f, "f", &key), CHUTE_EBUSY);
    assert_contains(f->err.message, "holds 5 jobs");
    /* Commands on held jobs still work at the limit. */
    assert_ok(f, chute_engine_update_retries(f->e, c, 1, &f->err));
    assert_ok(f, chute_engine_resolve_incident(f->e, fx_get(f, c).incident_key, &f->err));
    assert_ok(f, chute_engine_update_timeout(f->e, a, 1000, &f->err));
    assert_ok(f, chute_engine_complete(f->e, a, NULL, 0, &f->err));
    assert_ok(f, create_rc(f, "f", &key));
}

static void test_depth_limit_batch_all_or_nothing(void **state)
{
    fx *f = *state;
    open_with_max_jobs(f, 3);
    int64_t first = fx_create(f, "t", 0, NULL);
    fx_commit(f);
    chute_job_spec specs[3] = {{.type = "t"}, {.type = "t"}, {.type = "t"}};
    int64_t keys[3] = {0, 0, 0};
    size_t failed = 99;
    /* 1 held + 3 > 3: the whole batch is refused; job 2 is the first that
     * does not fit. */
    assert_rejected(f, chute_engine_create_batch(f->e, specs, 3, keys, &failed, &f->err),
                    CHUTE_EBUSY);
    assert_int_equal(failed, 2);
    assert_string_equal(f->err.message, "Expected to create 3 jobs, but the broker holds 1 job "
                                        "and its limit is 3; complete or cancel jobs, or raise "
                                        "the limit");
    assert_int_equal(keys[0], 0);
    chute_engine_stats s = fx_stats(f);
    assert_int_equal(s.jobs, 1);
    assert_int_equal(s.created_total, 1);
    assert_int_equal(s.rejected_max_jobs_total, 1);
    assert_int_equal(chute_engine_dirty(f->e), 0);
    /* Nothing reached the store either. */
    fx_reopen(f);
    assert_int_equal(fx_stats(f).jobs, 1);
    assert_state(f, first, CHUTE_JOB_ACTIVATABLE);
    assert_int_equal(fx_activate_keys(f, "t", "w", 1000, 10, NULL), 1);
    /* A batch that exactly fills the limit is taken. */
    assert_ok(f, chute_engine_create_batch(f->e, specs, 2, keys, &failed, &f->err));
    assert_int_equal(fx_stats(f).jobs, 3);
    /* Full: even one more is refused, index 0. */
    assert_rejected(f, chute_engine_create_batch(f->e, specs, 1, keys, &failed, &f->err),
                    CHUTE_EBUSY);
    assert_int_equal(failed, 0);
    /* An empty batch adds nothing and is always taken. */
    assert_ok(f, chute_engine_create_batch(f->e, specs, 0, keys, &failed, &f->err));
}

static void test_depth_limit_recovered_over_limit(void **state)
{
    fx *f = *state;
    fx_open(f); /* no limit: 0 */
    assert_int_equal(f->opts.max_jobs, 0);
    int64_t k[4];
    for (int i = 0; i < 4; i++)
        k[i] = fx_create(f, "t", 0, NULL);
    fx_commit(f);
    /* Reopened with a limit below what it holds: every job is recovered and
     * served; only creates are refused until enough jobs leave. */
    fx_close(f);
    open_with_max_jobs(f, 2);
    assert_int_equal(fx_stats(f).jobs, 4);
    int64_t key;
    assert_rejected(f, create_rc(f, "t", &key), CHUTE_EBUSY);
    assert_contains(f->err.message, "holds 4 jobs and its limit is 2");
    for (int i = 0; i < 2; i++) {
        assert_int_equal(fx_activate_one(f, "t", "w", 1000), k[i]);
        assert_ok(f, chute_engine_complete(f->e, k[i], NULL, 0, &f->err));
        assert_rejected(f, create_rc(f, "t", &key), CHUTE_EBUSY);
    }
    assert_int_equal(fx_activate_one(f, "t", "w", 1000), k[2]);
    assert_ok(f, chute_engine_complete(f->e, k[2], NULL, 0, &f->err));
    assert_ok(f, create_rc(f, "t", &key));
}

static void test_resolve_rejections(void **state)
{
    fx *f = *state;
    int64_t plain = fx_create(f, "t", 0, NULL);
    /* A job key that has no incident, and a made-up key. */
    assert_rejected(f, chute_engine_resolve_incident(f->e, plain, &f->err), CHUTE_ENOTFOUND);
    assert_rejected(f, chute_engine_resolve_incident(f->e, K0 + 12345, &f->err),
                    CHUTE_ENOTFOUND);
    assert_rejected(f, chute_engine_resolve_incident(f->e, 0, &f->err), CHUTE_ENOTFOUND);

    int64_t k = job_in_state(f, "t2", CHUTE_JOB_INCIDENT);
    int64_t inc = fx_get(f, k).incident_key;
    assert_true(inc != 0);
    /* Retries are 0: resolve must wait for update retries. */
    assert_rejected(f, chute_engine_resolve_incident(f->e, inc, &f->err), CHUTE_ESTATE);
    chute_job_view v = fx_get(f, k);
    assert_int_equal(v.state, CHUTE_JOB_INCIDENT);
    assert_int_equal(v.incident_key, inc);
    assert_int_equal(fx_list_incidents(f).count, 1);
}

static void test_throw_error_blank_code(void **state)
{
    fx *f = *state;
    int64_t k = fx_create(f, "t", 0, NULL);
    assert_int_equal(fx_activate_one(f, "t", "w", 1000), k);
    assert_rejected(f, chute_engine_throw_error(f->e, k, "", "m", NULL, 0, &f->err), CHUTE_EINVAL);
    assert_rejected(f, chute_engine_throw_error(f->e, k, "  ", "m", NULL, 0, &f->err),
                    CHUTE_EINVAL);
    assert_rejected(f, chute_engine_throw_error(f->e, k, NULL, "m", NULL, 0, &f->err),
                    CHUTE_EINVAL);
    assert_state(f, k, CHUTE_JOB_ACTIVATED);
    assert_int_equal(fx_list_incidents(f).count, 0);
}

static void test_settle_variables_rejected(void **state)
{
    fx *f = *state;
    int64_t k = fx_create(f, "t", 0, "{\"a\":1}");
    assert_int_equal(fx_activate_one(f, "t", "w", 1000), k);
    assert_rejected(f, chute_engine_complete(f->e, k, "[1]", 3, &f->err), CHUTE_EINVAL);
    assert_rejected(f, chute_engine_complete(f->e, k, "{\"a\":", 0, &f->err), CHUTE_EINVAL);
    assert_contains(f->err.message, "line 1");
    assert_rejected(f, chute_engine_fail(f->e, k, 1, "m", 0, "3", 0, &f->err), CHUTE_EINVAL);
    assert_rejected(f, chute_engine_throw_error(f->e, k, "E", "m", "\"x\"", 0, &f->err),
                    CHUTE_EINVAL);
    chute_job_view v = fx_get(f, k);
    assert_int_equal(v.state, CHUTE_JOB_ACTIVATED);
    assert_int_equal(v.retries, 3);
    assert_json_equal(v.variables, "{\"a\":1}");
    /* Blank variables mean none. */
    assert_ok(f, chute_engine_complete(f->e, k, "  ", 0, &f->err));
    assert_json_equal(fx_get(f, k).variables, "{\"a\":1}");
}

/* ---- transitions --------------------------------------------------------- */

static void test_activate_sets_lease(void **state)
{
    fx *f = *state;
    int64_t k = fx_create(f, "t", 0, "{\"x\":\"y\"}");
    f->now = FX_T0 + 10;
    chute_activate_request r;
    memset(&r, 0, sizeof r);
    r.type = "t";
    r.worker = "worker-1";
    r.timeout_ms = 5000;
    r.max_jobs = 10;
    const chute_job_view *jobs;
    size_t n;
    assert_ok(f, chute_engine_activate(f->e, &r, 0, &jobs, &n, &f->err));
    assert_int_equal(n, 1);
    assert_int_equal(jobs[0].key, k);
    assert_int_equal(jobs[0].state, CHUTE_JOB_ACTIVATED);
    assert_string_equal(jobs[0].worker, "worker-1");
    assert_int_equal(jobs[0].deadline, FX_T0 + 10 + 5000);
    assert_int_equal(jobs[0].retries, 3);
    assert_json_equal(jobs[0].variables, "{\"x\":\"y\"}");
    assert_int_equal(jobs[0].variables_len, strlen(jobs[0].variables));

    chute_job_view v = fx_get(f, k);
    assert_int_equal(v.state, CHUTE_JOB_ACTIVATED);
    assert_string_equal(v.worker, "worker-1");
    assert_int_equal(v.deadline, FX_T0 + 5010);
    assert_int_equal(chute_engine_next_due(f->e), FX_T0 + 5010);
    assert_true(chute_engine_dirty(f->e) != 0);

    /* Leased: nobody else gets it. */
    assert_int_equal(fx_activate_keys(f, "t", "worker-2", 1000, 10, NULL), 0);
    assert_int_equal(fx_activate_keys(f, "other", "worker-2", 1000, 10, NULL), 0);
}

static void test_complete_activated_merges(void **state)
{
    fx *f = *state;
    int64_t k1 = fx_create(f, "t", 0, "{\"a\":1}");
    int64_t k2 = fx_create(f, "t", 0, "{\"a\":1,\"keep\":true}");
    int64_t k3 = fx_create(f, "t", 0, "{\"a\":1}");
    int64_t got[3];
    assert_int_equal(fx_activate_keys(f, "t", "w", 10000, 3, got), 3);
    f->now = FX_T0 + 77;
    assert_ok(f, chute_engine_complete(f->e, k1, "{\"b\":2}", 0, &f->err));
    assert_ok(f, chute_engine_complete(f->e, k2, "{\"a\":3}", 0, &f->err));
    assert_ok(f, chute_engine_complete(f->e, k3, NULL, 0, &f->err));

    chute_job_view v = fx_get(f, k1);
    assert_int_equal(v.state, CHUTE_JOB_COMPLETED);
    assert_int_equal(v.completed_at, FX_T0 + 77);
    assert_json_equal(v.variables, "{\"a\":1,\"b\":2}");
    assert_int_equal(v.variables_len, strlen(v.variables));
    v = fx_get(f, k2);
    assert_int_equal(v.state, CHUTE_JOB_COMPLETED);
    assert_json_equal(v.variables, "{\"a\":3,\"keep\":true}");
    v = fx_get(f, k3);
    assert_json_equal(v.variables, "{\"a\":1}");

    /* Completed jobs are never handed out again. */
    fx_tick_at(f, FX_T0 + 20000);
    assert_int_equal(fx_activate_keys(f, "t", "w", 10000, 3, NULL), 0);
}

static void test_complete_activatable(void **state)
{
    fx *f = *state;
    /* Never activated: accepted. */
    int64_t k1 = fx_create(f, "t", 0, NULL);
    assert_ok(f, chute_engine_complete(f->e, k1, NULL, 0, &f->err));
    assert_state(f, k1, CHUTE_JOB_COMPLETED);

    /* A late worker after the lease ran out and nobody re-took the job. */
    int64_t k2 = fx_create(f, "t", 0, "{\"v\":0}");
    assert_int_equal(fx_activate_one(f, "t", "slow", 1000), k2);
    fx_tick_at(f, FX_T0 + 1000);
    assert_state(f, k2, CHUTE_JOB_ACTIVATABLE);
    assert_ok(f, chute_engine_complete(f->e, k2, "{\"v\":1}", 0, &f->err));
    chute_job_view v = fx_get(f, k2);
    assert_int_equal(v.state, CHUTE_JOB_COMPLETED);
    assert_json_equal(v.variables, "{\"v\":1}");
    assert_int_equal(fx_activate_keys(f, "t", "w", 1000, 10, NULL), 0);

    /* Fail and throw error are also accepted in ACTIVATABLE. */
    int64_t k3 = fx_create(f, "t", 0, NULL);
    assert_ok(f, chute_engine_fail(f->e, k3, 1, "m", 0, NULL, 0, &f->err));
    assert_state(f, k3, CHUTE_JOB_ACTIVATABLE);
    assert_int_equal(fx_get(f, k3).retries, 1);
    assert_ok(f, chute_engine_throw_error(f->e, k3, "E", "m", NULL, 0, &f->err));
    assert_state(f, k3, CHUTE_JOB_ERROR_THROWN);
}

static void test_lease_expiry(void **state)
{
    fx *f = *state;
    int64_t k = fx_create(f, "t", 0, NULL);
    assert_int_equal(chute_engine_next_due(f->e), INT64_MAX);
    for (int round = 0; round < 3; round++) {
        int64_t t = f->now;
        char worker[16];
        snprintf(worker, sizeof worker, "w%d", round);
        assert_int_equal(fx_activate_one(f, "t", worker, 1000), k);
        assert_int_equal(chute_engine_next_due(f->e), t + 1000);
        /* 1 ms before the deadline: still leased. */
        assert_int_equal(fx_tick_at(f, t + 999), t + 1000);
        chute_job_view v = fx_get(f, k);
        assert_int_equal(v.state, CHUTE_JOB_ACTIVATED);
        assert_int_equal(fx_activate_keys(f, "t", "x", 1000, 1, NULL), 0);
        /* At the deadline: back in the queue, retries untouched. */
        assert_int_equal(fx_tick_at(f, t + 1000), INT64_MAX);
        v = fx_get(f, k);
        assert_int_equal(v.state, CHUTE_JOB_ACTIVATABLE);
        assert_int_equal(v.retries, 3);
        assert_int_equal(v.deadline, 0);
        assert_int_equal(chute_engine_next_due(f->e), INT64_MAX);
    }
    assert_int_equal(fx_stats(f).timed_out_total, 3);
    /* Another worker takes it, retries still 3. */
    const chute_job_view *jobs;
    size_t n;
    chute_activate_request r = {.type = "t", .worker = "w9", .timeout_ms = 50, .max_jobs = 5};
    assert_ok(f, chute_engine_activate(f->e, &r, 0, &jobs, &n, &f->err));
    assert_int_equal(n, 1);
    assert_int_equal(jobs[0].retries, 3);
    assert_string_equal(jobs[0].worker, "w9");
    assert_int_equal(jobs[0].deadline, f->now + 50);
}

static void test_lease_expiry_far_past(void **state)
{
    fx *f = *state;
    /* Several leases that ran out long ago all return in one tick. */
    int64_t keys[5];
    for (int i = 0; i < 5; i++)
        fx_create(f, "t", 0, NULL);
    for (int i = 0; i < 5; i++) {
        f->now = FX_T0 + i;
        keys[i] = fx_activate_one(f, "t", "w", 100 + i);
    }
    fx_tick_at(f, FX_T0 + 1000000);
    for (int i = 0; i < 5; i++) {
        chute_job_view v = fx_get(f, keys[i]);
        assert_int_equal(v.state, CHUTE_JOB_ACTIVATABLE);
        assert_int_equal(v.retries, 3);
    }
    /* Back in creation order. */
    int64_t got[5];
    assert_int_equal(fx_activate_keys(f, "t", "w", 100, 5, got), 5);
    for (int i = 0; i < 5; i++)
        assert_int_equal(got[i], keys[i]);
}

static void test_fail_no_backoff(void **state)
{
    fx *f = *state;
    int64_t k = fx_create(f, "t", 0, "{\"a\":1}");
    assert_int_equal(fx_activate_one(f, "t", "w", 1000), k);
    assert_ok(f, chute_engine_fail(f->e, k, 2, "flaky", 0, "{\"tries\":1}", 0, &f->err));
    chute_job_view v = fx_get(f, k);
    assert_int_equal(v.state, CHUTE_JOB_ACTIVATABLE);
    assert_int_equal(v.retries, 2);
    assert_string_equal(v.error_message, "flaky");
    assert_int_equal(v.incident_key, 0);
    assert_json_equal(v.variables, "{\"a\":1,\"tries\":1}");
    /* Activatable at once, without a tick. */
    const chute_job_view *jobs;
    size_t n;
    chute_activate_request r = {.type = "t", .worker = "w2", .timeout_ms = 3000, .max_jobs = 1};
    assert_ok(f, chute_engine_activate(f->e, &r, 0, &jobs, &n, &f->err));
    assert_int_equal(n, 1);
    assert_int_equal(jobs[0].key, k);
    assert_int_equal(jobs[0].retries, 2);
    assert_string_equal(jobs[0].worker, "w2");
    /* The lease timer of the failed activation is gone: the second lease
     * ends at its own deadline. */
    assert_int_equal(chute_engine_next_due(f->e), FX_T0 + 3000);
    fx_tick_at(f, FX_T0 + 1000);
    assert_state(f, k, CHUTE_JOB_ACTIVATED);
    fx_tick_at(f, FX_T0 + 3000);
    assert_state(f, k, CHUTE_JOB_ACTIVATABLE);
    assert_int_equal(fx_get(f, k).retries, 2);
}

static void test_fail_backoff(void **state)
{
    fx *f = *state;
    int64_t k = fx_create(f, "t", 0, NULL);
    assert_int_equal(fx_activate_one(f, "t", "w", 1000), k);
    f->now = FX_T0 + 100;
    assert_ok(f, chute_engine_fail(f->e, k, 1, "try later", 5000, NULL, 0, &f->err));
    chute_job_view v = fx_get(f, k);
    assert_int_equal(v.state, CHUTE_JOB_FAILED);
    assert_int_equal(v.retries, 1);
    assert_int_equal(v.deadline, FX_T0 + 5100);
    assert_string_equal(v.error_message, "try later");
    assert_int_equal(v.incident_key, 0);
    assert_int_equal(chute_engine_next_due(f->e), FX_T0 + 5100);
    assert_int_equal(fx_activate_keys(f, "t", "w", 1000, 1, NULL), 0);

    /* The old lease (ending at T0+1000) does not bring it back. */
    fx_tick_at(f, FX_T0 + 1000);
    assert_state(f, k, CHUTE_JOB_FAILED);
    /* 1 ms before: still waiting. */
    assert_int_equal(fx_tick_at(f, FX_T0 + 5099), FX_T0 + 5100);
    assert_state(f, k, CHUTE_JOB_FAILED);
    assert_int_equal(fx_activate_keys(f, "t", "w", 1000, 1, NULL), 0);
    /* At the time: activatable. */
    assert_int_equal(fx_tick_at(f, FX_T0 + 5100), INT64_MAX);
    v = fx_get(f, k);
    assert_int_equal(v.state, CHUTE_JOB_ACTIVATABLE);
    assert_int_equal(v.deadline, 0);
    assert_int_equal(v.retries, 1);
    int64_t got[1];
    assert_int_equal(fx_activate_keys(f, "t", "w", 1000, 1, got), 1);
    assert_int_equal(got[0], k);
    assert_int_equal(fx_get(f, k).retries, 1);
}

static void test_fail_no_retries_incident(void **state)
{
    fx *f = *state;
    int64_t k1 = fx_create(f, "t", 0, NULL);
    int64_t k2 = fx_create(f, "t", 0, NULL);
    int64_t k3 = fx_create(f, "t", 0, NULL);
    int64_t k4 = fx_create(f, "t", 0, NULL);
    assert_int_equal(fx_activate_keys(f, "t", "w", 1000, 4, NULL), 4);

    assert_ok(f, chute_engine_fail(f->e, k1, 0, "disk full", 0, NULL, 0, &f->err));
    chute_job_view v = fx_get(f, k1);
    assert_int_equal(v.state, CHUTE_JOB_INCIDENT);
    assert_int_equal(v.retries, 0);
    assert_string_equal(v.error_message, "disk full");
    assert_true(v.incident_key != 0);
    assert_int_equal(v.incident_type, CHUTE_INCIDENT_JOB_NO_RETRIES);
    int64_t inc1 = v.incident_key;

    f->now += 1;
    assert_ok(f, chute_engine_fail(f->e, k2, 0, "", 0, NULL, 0, &f->err));
    v = fx_get(f, k2);
    assert_int_equal(v.state, CHUTE_JOB_INCIDENT);
    assert_string_equal(v.error_message, "No more retries left.");
    int64_t inc2 = v.incident_key;
    assert_true(inc2 != 0 && inc2 != inc1);

    f->now += 1;
    assert_ok(f, chute_engine_fail(f->e, k3, 0, NULL, 0, NULL, 0, &f->err));
    v = fx_get(f, k3);
    assert_string_equal(v.error_message, "No more retries left.");

    /* Retries are stored exactly, also when negative. A back-off with no
     * retries left still raises the incident. */
    f->now += 1;
    assert_ok(f, chute_engine_fail(f->e, k4, -2, "neg", 5000, NULL, 0, &f->err));
    v = fx_get(f, k4);
    assert_int_equal(v.state, CHUTE_JOB_INCIDENT);
    assert_int_equal(v.retries, -2);
    assert_int_equal(v.incident_type, CHUTE_INCIDENT_JOB_NO_RETRIES);

    fx_incidents in = fx_list_incidents(f);
    assert_int_equal(in.count, 4);
    assert_int_equal(in.job_keys[0], k1);
    assert_int_equal(in.incident_keys[0], inc1);
    assert_int_equal(in.types[0], CHUTE_INCIDENT_JOB_NO_RETRIES);
    assert_string_equal(in.messages[0], "disk full");
    assert_int_equal(in.job_keys[1], k2);
    assert_int_equal(in.incident_keys[1], inc2);
    assert_string_equal(in.messages[1], "No more retries left.");
    assert_int_equal(in.job_keys[2], k3);
    assert_int_equal(in.job_keys[3], k4);

    /* Nothing brings them back by time alone. */
    assert_int_equal(chute_engine_next_due(f->e), INT64_MAX);
    fx_tick_at(f, FX_T0 + 10000000);
    assert_state(f, k1, CHUTE_JOB_INCIDENT);
    assert_state(f, k4, CHUTE_JOB_INCIDENT);
    assert_int_equal(fx_activate_keys(f, "t", "w", 1000, 4, NULL), 0);
}

static int stop_after_first(void *ctx, const chute_job_view *job)
{
    (void)job;
    (*(int *)ctx)++;
    return 1;
}

static void test_list_incidents_stops(void **state)
{
    fx *f = *state;
    job_in_state(f, "a", CHUTE_JOB_INCIDENT);
    job_in_state(f, "b", CHUTE_JOB_ERROR_THROWN);
    int calls = 0;
    chute_engine_list_incidents(f->e, stop_after_first, &calls);
    assert_int_equal(calls, 1);
    assert_int_equal(fx_list_incidents(f).count, 2);
}

static void test_resolve_after_update_retries(void **state)
{
    fx *f = *state;
    int64_t k = job_in_state(f, "t", CHUTE_JOB_INCIDENT);
    int64_t inc = fx_get(f, k).incident_key;
    assert_ok(f, chute_engine_update_retries(f->e, k, 2, &f->err));
    chute_job_view v = fx_get(f, k);
    assert_int_equal(v.state, CHUTE_JOB_INCIDENT); /* still, until resolved */
    assert_int_equal(v.retries, 2);
    assert_int_equal(fx_activate_keys(f, "t", "w", 1000, 1, NULL), 0);

    assert_ok(f, chute_engine_resolve_incident(f->e, inc, &f->err));
    v = fx_get(f, k);
    assert_int_equal(v.state, CHUTE_JOB_ACTIVATABLE);
    assert_int_equal(v.incident_key, 0);
    assert_int_equal(v.retries, 2);
    assert_int_equal(fx_list_incidents(f).count, 0);
    assert_int_equal(fx_stats(f).incidents, 0);
    /* Resolving it twice: the incident is gone. */
    assert_rejected(f, chute_engine_resolve_incident(f->e, inc, &f->err), CHUTE_ENOTFOUND);

    const chute_job_view *jobs;
    size_t n;
    chute_activate_request r = {.type = "t", .worker = "w", .timeout_ms = 1000, .max_jobs = 1};
    assert_ok(f, chute_engine_activate(f->e, &r, 0, &jobs, &n, &f->err));
    assert_int_equal(n, 1);
    assert_int_equal(jobs[0].key, k);
    assert_int_equal(jobs[0].retries, 2);
    /* A new failure with no retries raises a new incident with a new key. */
    assert_ok(f, chute_engine_fail(f->e, k, 0, "again", 0, NULL, 0, &f->err));
    v = fx_get(f, k);
    assert_int_equal(v.state, CHUTE_JOB_INCIDENT);
    assert_true(v.incident_key != 0 && v.incident_key != inc);
}

static void test_throw_error(void **state)
{
    fx *f = *state;
    int64_t k = fx_create(f, "t", 0, "{\"a\":1}");
    assert_int_equal(fx_activate_one(f, "t", "w", 1000), k);
    assert_ok(f, chute_engine_throw_error(f->e, k, "E42", "bad thing", "{\"x\":1}", 0, &f->err));
    chute_job_view v = fx_get(f, k);
    assert_int_equal(v.state, CHUTE_JOB_ERROR_THROWN);
    assert_true(v.incident_key != 0);
    assert_int_equal(v.incident_type, CHUTE_INCIDENT_UNHANDLED_ERROR_EVENT);
    assert_string_equal(v.error_code, "E42");
    assert_string_equal(v.error_message, "bad thing");
    assert_int_equal(v.retries, 3);
    assert_json_equal(v.variables, "{\"a\":1,\"x\":1}");
    int64_t inc = v.incident_key;

    fx_incidents in = fx_list_incidents(f);
    assert_int_equal(in.count, 1);
    assert_int_equal(in.job_keys[0], k);
    assert_int_equal(in.incident_keys[0], inc);
    assert_int_equal(in.types[0], CHUTE_INCIDENT_UNHANDLED_ERROR_EVENT);
    assert_int_equal(fx_activate_keys(f, "t", "w", 1000, 1, NULL), 0);
    /* The lease does not bring it back either. */
    fx_tick_at(f, FX_T0 + 5000);
    assert_state(f, k, CHUTE_JOB_ERROR_THROWN);

    /* Retries are left (3): resolve makes it activatable. */
    assert_ok(f, chute_engine_resolve_incident(f->e, inc, &f->err));
    v = fx_get(f, k);
    assert_int_equal(v.state, CHUTE_JOB_ACTIVATABLE);
    assert_int_equal(v.incident_key, 0);
    assert_int_equal(fx_list_incidents(f).count, 0);
    assert_int_equal(fx_activate_one(f, "t", "w", 1000), k);
}

static void test_cancel(void **state)
{
    fx *f = *state;
    int64_t ready = fx_create(f, "t", 0, NULL);
    int64_t leased = fx_create(f, "t", 0, NULL);
    int64_t other = fx_create(f, "t", 0, NULL);
    assert_int_equal(fx_activate_one(f, "t", "w", 1000), ready);
    assert_int_equal(fx_activate_one(f, "t", "w", 1000), leased);
    /* ready returns to the queue: */
    assert_ok(f, chute_engine_fail(f->e, ready, 3, "x", 0, NULL, 0, &f->err));
    int64_t failed = job_in_state(f, "u", CHUTE_JOB_FAILED);
    int64_t incident = job_in_state(f, "u", CHUTE_JOB_INCIDENT);
    int64_t thrown = job_in_state(f, "u", CHUTE_JOB_ERROR_THROWN);
    int64_t delayed = job_in_state(f, "u", CHUTE_JOB_DELAYED);
    int64_t inc1 = fx_get(f, incident).incident_key;
    int64_t inc2 = fx_get(f, thrown).incident_key;
    assert_int_equal(fx_list_incidents(f).count, 2);

    int64_t all[] = {ready, leased, failed, incident, thrown, delayed};
    for (size_t i = 0; i < 6; i++) {
        assert_ok(f, chute_engine_cancel(f->e, all[i], &f->err));
        assert_state(f, all[i], FX_GONE);
        assert_rejected(f, chute_engine_cancel(f->e, all[i], &f->err), CHUTE_ENOTFOUND);
    }
    assert_int_equal(fx_list_incidents(f).count, 0);
    assert_rejected(f, chute_engine_resolve_incident(f->e, inc1, &f->err), CHUTE_ENOTFOUND);
    assert_rejected(f, chute_engine_resolve_incident(f->e, inc2, &f->err), CHUTE_ENOTFOUND);

    /* No timer of a cancelled job brings anything back. */
    fx_tick_at(f, FX_T0 + 100000000);
    for (size_t i = 0; i < 6; i++)
        assert_state(f, all[i], FX_GONE);
    int64_t got[5];
    assert_int_equal(fx_activate_keys(f, "t", "w", 1000, 5, got), 1);
    assert_int_equal(got[0], other);
    assert_int_equal(fx_activate_keys(f, "u", "w", 1000, 5, NULL), 0);
    chute_engine_stats s = fx_stats(f);
    assert_int_equal(s.jobs, 1);
    assert_int_equal(s.incidents, 0);
    assert_int_equal(s.timed_out_total, 0);
}

static void test_update_timeout(void **state)
{
    fx *f = *state;
    int64_t k = fx_create(f, "t", 0, NULL);
    assert_int_equal(fx_activate_one(f, "t", "w", 1000), k);
    assert_int_equal(fx_get(f, k).deadline, FX_T0 + 1000);
    f->now = FX_T0 + 500;
    assert_ok(f, chute_engine_update_timeout(f->e, k, 2000, &f->err));
    chute_job_view v = fx_get(f, k);
    assert_int_equal(v.deadline, FX_T0 + 2500);
    assert_int_equal(v.state, CHUTE_JOB_ACTIVATED);
    assert_string_equal(v.worker, "w");
    assert_int_equal(chute_engine_next_due(f->e), FX_T0 + 2500);
    /* The old deadline passes: still leased. */
    fx_tick_at(f, FX_T0 + 1000);
    assert_state(f, k, CHUTE_JOB_ACTIVATED);
    fx_tick_at(f, FX_T0 + 2499);
    assert_state(f, k, CHUTE_JOB_ACTIVATED);
    /* Extend it again, then shorten it. */
    assert_ok(f, chute_engine_update_timeout(f->e, k, 100000, &f->err));
    assert_int_equal(fx_get(f, k).deadline, FX_T0 + 102499);
    assert_int_equal(chute_engine_next_due(f->e), FX_T0 + 102499);
    fx_tick_at(f, FX_T0 + 2500);
    assert_state(f, k, CHUTE_JOB_ACTIVATED);
    assert_ok(f, chute_engine_update_timeout(f->e, k, 10, &f->err));
    assert_int_equal(fx_get(f, k).deadline, FX_T0 + 2510);
    assert_int_equal(chute_engine_next_due(f->e), FX_T0 + 2510);
    fx_tick_at(f, FX_T0 + 2509);
    assert_state(f, k, CHUTE_JOB_ACTIVATED);
    fx_tick_at(f, FX_T0 + 2510);
    v = fx_get(f, k);
    assert_int_equal(v.state, CHUTE_JOB_ACTIVATABLE);
    assert_int_equal(v.retries, 3);
}

static void test_delayed(void **state)
{
    fx *f = *state;
    int64_t early = fx_create(f, "t", 0, NULL);
    int64_t k = fx_create_delayed(f, "t", 1000);
    chute_job_view v = fx_get(f, k);
    assert_int_equal(v.state, CHUTE_JOB_DELAYED);
    assert_int_equal(v.deadline, FX_T0 + 1000);
    assert_int_equal(v.created_at, FX_T0);
    assert_int_equal(chute_engine_next_due(f->e), FX_T0 + 1000);
    int64_t got[5];
    assert_int_equal(fx_activate_keys(f, "t", "w", 100000, 5, got), 1);
    assert_int_equal(got[0], early);
    assert_int_equal(fx_tick_at(f, FX_T0 + 999), FX_T0 + 1000);
    assert_state(f, k, CHUTE_JOB_DELAYED);
    assert_int_equal(fx_activate_keys(f, "t", "w", 1000, 5, NULL), 0);
    fx_tick_at(f, FX_T0 + 1000);
    v = fx_get(f, k);
    assert_int_equal(v.state, CHUTE_JOB_ACTIVATABLE);
    assert_int_equal(v.deadline, 0);
    assert_int_equal(v.retries, 3);
    assert_int_equal(fx_activate_keys(f, "t", "w", 1000, 5, got), 1);
    assert_int_equal(got[0], k);
}

static void test_retention(void **state)
{
    fx *f = *state;
    fx_close(f);
    f->opts.retention_ms = 60000;
    fx_open(f);
    int64_t k = fx_create(f, "t", 0, "{\"a\":1}");
    assert_int_equal(fx_activate_one(f, "t", "w", 1000), k);
    f->now = FX_T0 + 10;
    assert_ok(f, chute_engine_complete(f->e, k, "{\"b\":2}", 0, &f->err));
    chute_job_view v = fx_get(f, k);
    assert_int_equal(v.state, CHUTE_JOB_COMPLETED);
    assert_int_equal(v.completed_at, FX_T0 + 10);
    assert_json_equal(v.variables, "{\"a\":1,\"b\":2}");
    assert_string_equal(v.type, "t");
    /* The lease timer is gone; the retention timer is next. */
    assert_int_equal(chute_engine_next_due(f->e), FX_T0 + 60010);
    assert_int_equal(fx_stats(f).jobs, 0);

    fx_tick_at(f, FX_T0 + 60009);
    assert_state(f, k, CHUTE_JOB_COMPLETED);
    assert_int_equal(fx_tick_at(f, FX_T0 + 60010), INT64_MAX);
    assert_state(f, k, FX_GONE);
    assert_rejected(f, chute_engine_complete(f->e, k, NULL, 0, &f->err), CHUTE_ENOTFOUND);
}

static void test_retention_default_24h(void **state)
{
    fx *f = *state;
    int64_t k = fx_create(f, "t", 0, NULL);
    assert_ok(f, chute_engine_complete(f->e, k, NULL, 0, &f->err));
    fx_tick_at(f, FX_T0 + 24 * 3600 * 1000LL - 1);
    assert_state(f, k, CHUTE_JOB_COMPLETED);
    fx_tick_at(f, FX_T0 + 24 * 3600 * 1000LL);
    assert_state(f, k, FX_GONE);
}

static void test_retention_off(void **state)
{
    fx *f = *state;
    fx_close(f);
    f->opts.retention_ms = -1;
    fx_open(f);
    int64_t k = fx_create(f, "t", 0, NULL);
    assert_ok(f, chute_engine_complete(f->e, k, NULL, 0, &f->err));
    assert_state(f, k, FX_GONE);
    assert_rejected(f, chute_engine_complete(f->e, k, NULL, 0, &f->err), CHUTE_ENOTFOUND);
    assert_int_equal(chute_engine_next_due(f->e), INT64_MAX);
}

static void test_process_job_not_retained(void **state)
{
    fx *f = *state;
    chute_job_spec s;
    memset(&s, 0, sizeof s);
    s.type = "t";
    s.process.process_instance_key = 42;
    s.process.element_instance_key = 43;
    s.process.bpmn_process_id = "p";
    s.process.element_id = "e";
    int64_t k = fx_create_spec(f, &s);
    assert_ok(f, chute_engine_complete(f->e, k, NULL, 0, &f->err));
    assert_state(f, k, FX_GONE);
}

/* ---- ordering and budgets ------------------------------------------------ */

static void test_priority_then_fifo(void **state)
{
    fx *f = *state;
    int64_t a = fx_create(f, "t", 0, NULL);
    int64_t b = fx_create(f, "t", 5, NULL);
    int64_t c = fx_create(f, "t", 0, NULL);
    int64_t other = fx_create(f, "u", 100, NULL);
    int64_t d = fx_create(f, "t", 5, NULL);
    int64_t e = fx_create(f, "t", 10, NULL);
    int64_t g = fx_create(f, "t", -1, NULL);
    int64_t h = fx_create(f, "t", 0, NULL);
    int64_t expect[] = {e, b, d, a, c, h, g};
    int64_t got[10];
    assert_int_equal(fx_activate_keys(f, "t", "w", 1000, 10, got), 7);
    for (int i = 0; i < 7; i++)
        assert_int_equal(got[i], expect[i]);
    assert_int_equal(fx_activate_one(f, "u", "w", 1000), other);
}

static void test_order_interleaved(void **state)
{
    fx *f = *state;
    int64_t a = fx_create(f, "t", 0, NULL);
    int64_t b = fx_create(f, "t", 0, NULL);
    int64_t c = fx_create(f, "t", 0, NULL);
    assert_int_equal(fx_activate_one(f, "t", "w", 1000), a);
    int64_t d = fx_create(f, "t", 0, NULL);
    assert_int_equal(fx_activate_one(f, "t", "w", 1000), b);
    /* a comes back (fail, no back-off): it was created first. */
    assert_ok(f, chute_engine_fail(f->e, a, 2, "x", 0, NULL, 0, &f->err));
    assert_int_equal(fx_activate_one(f, "t", "w", 1000), a);
    /* The leases of a and b run out: a, b, c, d in creation order. */
    fx_tick_at(f, FX_T0 + 1000);
    int64_t got[4];
    assert_int_equal(fx_activate_keys(f, "t", "w", 1000, 2, got), 2);
    assert_int_equal(got[0], a);
    assert_int_equal(got[1], b);
    int64_t hi = fx_create(f, "t", 1, NULL);
    assert_int_equal(fx_activate_one(f, "t", "w", 1000), hi);
    /* b comes back through a back-off, a stays leased. */
    assert_ok(f, chute_engine_fail(f->e, b, 2, "x", 10, NULL, 0, &f->err));
    fx_tick_at(f, f->now + 10);
    int64_t e = fx_create(f, "t", 0, NULL);
    assert_int_equal(fx_activate_keys(f, "t", "w", 1000, 4, got), 4);
    assert_int_equal(got[0], b);
    assert_int_equal(got[1], c);
    assert_int_equal(got[2], d);
    assert_int_equal(got[3], e);
}

static void test_order_many(void **state)
{
    fx *f = *state;
    /* 300 jobs of 5 priorities created in a scrambled order; activation in
     * chunks yields priority desc, then key (creation) asc. */
    enum { N = 300 };
    int64_t keys[N];
    int prio[N];
    for (int i = 0; i < N; i++) {
        prio[i] = (i * 7) % 5;
        keys[i] = fx_create(f, "t", prio[i], NULL);
    }
    int64_t got[N];
    size_t total = 0;
    while (total < N) {
        size_t n = fx_activate_keys(f, "t", "w", 1000, 17, got + total);
        assert_true(n > 0);
        total += n;
    }
    assert_int_equal(total, N);
    size_t idx = 0;
    for (int p = 4; p >= 0; p--) {
        for (int i = 0; i < N; i++) {
            if (prio[i] == p) {
                assert_int_equal(got[idx], keys[i]);
                idx++;
            }
        }
    }
    assert_int_equal(idx, N);
}

static void test_max_jobs(void **state)
{
    fx *f = *state;
    int64_t k[5];
    for (int i = 0; i < 5; i++)
        k[i] = fx_create(f, "t", 0, NULL);
    int64_t got[5];
    assert_int_equal(fx_activate_keys(f, "t", "w", 1000, 2, got), 2);
    assert_int_equal(got[0], k[0]);
    assert_int_equal(got[1], k[1]);
    assert_int_equal(fx_activate_keys(f, "t", "w", 1000, 2, got), 2);
    assert_int_equal(got[0], k[2]);
    assert_int_equal(got[1], k[3]);
    assert_int_equal(fx_activate_keys(f, "t", "w", 1000, 2, got), 1);
    assert_int_equal(got[0], k[4]);
    assert_int_equal(fx_activate_keys(f, "t", "w", 1000, 2, got), 0);
}

static void test_max_bytes(void **state)
{
    fx *f = *state;
    int64_t k[4];
    for (int i = 0; i < 4; i++) {
        chute_job_spec s;
        memset(&s, 0, sizeof s);
        s.type = "t";
        s.variables = "{\"data\":\"0123456789012345678901234567890123456789\"}";
        s.headers = "{\"h\":\"v\"}";
        k[i] = fx_create_spec(f, &s);
    }
    chute_job_view v = fx_get(f, k[0]);
    size_t one = v.variables_len + v.headers_len;
    assert_true(one > 40);

    chute_activate_request r = {.type = "t", .worker = "w", .timeout_ms = 1000, .max_jobs = 10};
    const chute_job_view *jobs;
    size_t n;
    /* 2.5 jobs' worth: two fit. */
    assert_ok(f, chute_engine_activate(f->e, &r, one * 2 + one / 2, &jobs, &n, &f->err));
    assert_int_equal(n, 2);
    assert_int_equal(jobs[0].key, k[0]);
    assert_int_equal(jobs[1].key, k[1]);
    /* Exactly one job's worth: one fits (the sum is not past the budget). */
    assert_ok(f, chute_engine_activate(f->e, &r, one, &jobs, &n, &f->err));
    assert_int_equal(n, 1);
    assert_int_equal(jobs[0].key, k[2]);
    /* Smaller than one job: still one, so it is not stuck. */
    assert_ok(f, chute_engine_activate(f->e, &r, 1, &jobs, &n, &f->err));
    assert_int_equal(n, 1);
    assert_int_equal(jobs[0].key, k[3]);
    assert_ok(f, chute_engine_activate(f->e, &r, 1, &jobs, &n, &f->err));
    assert_int_equal(n, 0);
    /* The jobs held back by the budget stayed activatable (checked above by
     * getting them in later calls); none was activated twice. */
    assert_int_equal(fx_stats(f).activated, 4);
}

static void test_max_bytes_counts_filtered_view(void **state)
{
    fx *f = *state;
    /* The budget is about the view as sent: with a fetchVariable filter
     * that drops the big variable, all jobs fit. */
    char big[600];
    snprintf(big, sizeof big, "{\"small\":1,\"big\":\"%0500d\"}", 7);
    for (int i = 0; i < 3; i++)
        fx_create(f, "t", 0, big);
    const char *names[] = {"small"};
    chute_activate_request r = {.type = "t",
                                .worker = "w",
                                .timeout_ms = 1000,
                                .max_jobs = 10,
                                .fetch_variables = names,
                                .fetch_variables_count = 1};
    const chute_job_view *jobs;
    size_t n;
    assert_ok(f, chute_engine_activate(f->e, &r, 200, &jobs, &n, &f->err));
    assert_int_equal(n, 3);
    for (size_t i = 0; i < n; i++)
        assert_json_equal(jobs[i].variables, "{\"small\":1}");
}

static void test_fetch_variables(void **state)
{
    fx *f = *state;
    const char *vars = "{\"a\":1,\"b\":{\"c\":2},\"d\":\"x\",\"e\":null}";
    int64_t k1 = fx_create(f, "t", 0, vars);
    int64_t k2 = fx_create(f, "t", 0, vars);
    int64_t k3 = fx_create(f, "t", 0, vars);
    int64_t k4 = fx_create(f, "t", 0, vars);
    const chute_job_view *jobs;
    size_t n;

    const char *names[] = {"a", "b", "zzz"};
    chute_activate_request r = {.type = "t",
                                .worker = "w",
                                .timeout_ms = 1000,
                                .max_jobs = 1,
                                .fetch_variables = names,
                                .fetch_variables_count = 3};
    assert_ok(f, chute_engine_activate(f->e, &r, 0, &jobs, &n, &f->err));
    assert_int_equal(n, 1);
    assert_int_equal(jobs[0].key, k1);
    assert_json_equal(jobs[0].variables, "{\"a\":1,\"b\":{\"c\":2}}");
    assert_int_equal(jobs[0].variables_len, strlen(jobs[0].variables));

    /* Only top-level names: "c" is nested, so nothing. A null value is a
     * value. */
    const char *nested[] = {"c", "e"};
    r.fetch_variables = nested;
    r.fetch_variables_count = 2;
    assert_ok(f, chute_engine_activate(f->e, &r, 0, &jobs, &n, &f->err));
    assert_int_equal(n, 1);
    assert_int_equal(jobs[0].key, k2);
    assert_json_equal(jobs[0].variables, "{\"e\":null}");

    const char *missing[] = {"nope"};
    r.fetch_variables = missing;
    r.fetch_variables_count = 1;
    assert_ok(f, chute_engine_activate(f->e, &r, 0, &jobs, &n, &f->err));
    assert_int_equal(n, 1);
    assert_int_equal(jobs[0].key, k3);
    assert_json_equal(jobs[0].variables, "{}");

    /* Empty list: all variables. */
    r.fetch_variables = NULL;
    r.fetch_variables_count = 0;
    assert_ok(f, chute_engine_activate(f->e, &r, 0, &jobs, &n, &f->err));
    assert_int_equal(n, 1);
    assert_int_equal(jobs[0].key, k4);
    assert_json_equal(jobs[0].variables, vars);

    /* The job keeps all its variables; get is not filtered. */
    assert_json_equal(fx_get(f, k1).variables, vars);
    assert_json_equal(fx_get(f, k2).variables, vars);
}

/* ---- statistics, names, misc ---------------------------------------------- */

static void test_stats(void **state)
{
    fx *f = *state;
    chute_engine_stats s = fx_stats(f);
    assert_int_equal(s.jobs, 0);
    assert_int_equal(s.created_total, 0);
    assert_int_equal(s.commits, 0);

    int64_t k[5];
    for (int i = 0; i < 5; i++)
        k[i] = fx_create(f, "t", 0, NULL);
    fx_create_delayed(f, "t", 1000000);
    s = fx_stats(f);
    assert_int_equal(s.jobs, 6);
    assert_int_equal(s.activatable, 5);
    assert_int_equal(s.delayed, 1);
    assert_int_equal(s.created_total, 6);

    int64_t got[3];
    assert_int_equal(fx_activate_keys(f, "t", "w", 1000, 3, got), 3);
    s = fx_stats(f);
    assert_int_equal(s.activatable, 2);
    assert_int_equal(s.activated, 3);
    assert_int_equal(s.activated_total, 3);

    assert_ok(f, chute_engine_complete(f->e, k[0], NULL, 0, &f->err));
    assert_ok(f, chute_engine_fail(f->e, k[1], 2, "b", 500, NULL, 0, &f->err));
    assert_ok(f, chute_engine_fail(f->e, k[2], 0, "i", 0, NULL, 0, &f->err));
    s = fx_stats(f);
    assert_int_equal(s.jobs, 5);
    assert_int_equal(s.activatable, 2);
    assert_int_equal(s.activated, 0);
    assert_int_equal(s.failed, 1);
    assert_int_equal(s.delayed, 1);
    assert_int_equal(s.incidents, 1);
    assert_int_equal(s.completed_total, 1);
    assert_int_equal(s.failed_total, 2);
    assert_int_equal(s.incidents_total, 1);

    /* One lease runs out; the back-off ends. */
    assert_int_equal(fx_activate_one(f, "t", "w", 100), k[3]);
    fx_tick_at(f, FX_T0 + 500);
    s = fx_stats(f);
    assert_int_equal(s.timed_out_total, 1);
    assert_int_equal(s.activatable, 3);
    assert_int_equal(s.failed, 0);
    assert_int_equal(s.activated_total, 4);

    assert_int_equal(fx_activate_one(f, "t", "w", 100), k[1]);
    assert_ok(f, chute_engine_throw_error(f->e, k[1], "E", "m", NULL, 0, &f->err));
    s = fx_stats(f);
    assert_int_equal(s.incidents, 2);
    assert_int_equal(s.incidents_total, 2);
    assert_int_equal(s.activated_total, 5);

    assert_ok(f, chute_engine_cancel(f->e, k[4], &f->err));
    s = fx_stats(f);
    assert_int_equal(s.jobs, 4);
    assert_int_equal(s.activatable, 1);

    uint64_t commits = s.commits;
    fx_commit(f);
    assert_int_equal(fx_stats(f).commits, commits + 1);
    assert_int_equal(fx_stats(f).waiters, 0);
    assert_int_equal(fx_stats(f).streams, 0);
}

static void test_dirty_and_commit(void **state)
{
    fx *f = *state;
    assert_int_equal(chute_engine_dirty(f->e), 0);
    assert_int_equal(chute_engine_commit(f->e, &f->err), 0); /* nothing: 0 at once */
    int64_t k = fx_create(f, "t", 0, NULL);
    assert_true(chute_engine_dirty(f->e) != 0);
    fx_commit(f);
    /* A read or a rejected command does not dirty the batch. */
    fx_get(f, k);
    assert_rejected(f, chute_engine_complete(f->e, k + 100, NULL, 0, &f->err), CHUTE_ENOTFOUND);
    assert_int_equal(chute_engine_dirty(f->e), 0);
    /* Activation and timers do. */
    assert_int_equal(fx_activate_one(f, "t", "w", 10), k);
    assert_true(chute_engine_dirty(f->e) != 0);
    fx_commit(f);
    fx_tick_at(f, FX_T0 + 10);
    assert_state(f, k, CHUTE_JOB_ACTIVATABLE);
    assert_true(chute_engine_dirty(f->e) != 0);
    fx_commit(f);
}

static void test_names(void **state)
{
    (void)state;
    assert_string_equal(chute_job_state_name(CHUTE_JOB_ACTIVATABLE), "ACTIVATABLE");
    assert_string_equal(chute_job_state_name(CHUTE_JOB_ACTIVATED), "ACTIVATED");
    assert_string_equal(chute_job_state_name(CHUTE_JOB_FAILED), "FAILED");
    assert_string_equal(chute_job_state_name(CHUTE_JOB_INCIDENT), "INCIDENT");
    assert_string_equal(chute_job_state_name(CHUTE_JOB_ERROR_THROWN), "ERROR_THROWN");
    assert_string_equal(chute_job_state_name(CHUTE_JOB_DELAYED), "DELAYED");
    assert_string_equal(chute_job_state_name(CHUTE_JOB_COMPLETED), "COMPLETED");
    assert_string_equal(chute_job_state_name(CHUTE_JOB_CANCELED), "CANCELED");
    assert_non_null(chute_job_state_name((chute_job_state)99));
    assert_string_equal(chute_incident_type_name(CHUTE_INCIDENT_JOB_NO_RETRIES),
                        "JOB_NO_RETRIES");
    assert_string_equal(chute_incident_type_name(CHUTE_INCIDENT_UNHANDLED_ERROR_EVENT),
                        "UNHANDLED_ERROR_EVENT");
    assert_non_null(chute_incident_type_name(CHUTE_INCIDENT_NONE));
    assert_true(strcasecmp(chute_durability_name(CHUTE_DURABILITY_FULL), "full") == 0);
    assert_true(strcasecmp(chute_durability_name(CHUTE_DURABILITY_NORMAL), "normal") == 0);
    /* The error model of chute.h. */
    assert_string_equal(chute_err_name(CHUTE_ENOTFOUND), "ENOTFOUND");
    assert_int_equal(chute_err_grpc_status(CHUTE_ENOTFOUND), 5);
    assert_int_equal(chute_err_grpc_status(CHUTE_ESTATE), 9);
    assert_int_equal(chute_err_grpc_status(CHUTE_EINVAL), 3);
    assert_int_equal(chute_err_grpc_status(0), 0);
    assert_int_equal(chute_err_grpc_status(-999), 2);
}

static void test_options_init(void **state)
{
    (void)state;
    chute_engine_options o;
    memset(&o, 0x5A, sizeof o);
    chute_engine_options_init(&o);
    assert_int_equal(o.durability, CHUTE_DURABILITY_FULL);
    assert_true(o.partition == 1 || o.partition == 0);
    assert_true(o.retention_ms == 0 || o.retention_ms == 24 * 3600 * 1000LL);
    assert_true(o.max_variables_size == 0 || o.max_variables_size == 4u * 1024 * 1024);
    /* No queue depth limit unless the embedding program asks for one. */
    assert_int_equal(o.max_jobs, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        FX_TEST(test_create_defaults),
        FX_TEST(test_create_all_fields),
        FX_TEST(test_create_lengths_and_blank_documents),
        FX_TEST(test_keys_strictly_increasing),
        FX_TEST(test_keys_partition),
        FX_TEST(test_reject_type),
        FX_TEST(test_reject_retries_negative),
        FX_TEST(test_reject_variables_not_object),
        FX_TEST(test_reject_variables_malformed),
        FX_TEST(test_reject_headers),
        FX_TEST(test_reject_too_big),
        FX_TEST(test_reject_activate_arguments),
        FX_TEST(test_reject_durations_past_the_maximum),
        FX_TEST(test_reject_limits),
        FX_TEST(test_not_found_unknown),
        FX_TEST(test_not_found_completed_and_canceled),
        FX_TEST(test_estate_settle_in_wrong_state),
        FX_TEST(test_estate_update_timeout_not_activated),
        FX_TEST(test_update_retries),
        FX_TEST(test_update_both),
        FX_TEST(test_update_retries_invalid_keeps_timeout),
        FX_TEST(test_update_timeout_rejected_keeps_retries),
        FX_TEST(test_update_not_found_and_empty),
        FX_TEST_CLOSED(test_depth_limit_create),
        FX_TEST_CLOSED(test_depth_limit_counts_every_state),
        FX_TEST_CLOSED(test_depth_limit_batch_all_or_nothing),
        FX_TEST_CLOSED(test_depth_limit_recovered_over_limit),
        FX_TEST(test_resolve_rejections),
        FX_TEST(test_throw_error_blank_code),
        FX_TEST(test_settle_variables_rejected),
        FX_TEST(test_activate_sets_lease),
        FX_TEST(test_complete_activated_merges),
        FX_TEST(test_complete_activatable),
        FX_TEST(test_lease_expiry),
        FX_TEST(test_lease_expiry_far_past),
        FX_TEST(test_fail_no_backoff),
        FX_TEST(test_fail_backoff),
        FX_TEST(test_fail_no_retries_incident),
        FX_TEST(test_list_incidents_stops),
        FX_TEST(test_resolve_after_update_retries),
        FX_TEST(test_throw_error),
        FX_TEST(test_cancel),
        FX_TEST(test_update_timeout),
        FX_TEST(test_delayed),
        FX_TEST(test_retention),
        FX_TEST(test_retention_default_24h),
        FX_TEST(test_retention_off),
        FX_TEST(test_process_job_not_retained),
        FX_TEST(test_priority_then_fifo),
        FX_TEST(test_order_interleaved),
        FX_TEST(test_order_many),
        FX_TEST(test_max_jobs),
        FX_TEST(test_max_bytes),
        FX_TEST(test_max_bytes_counts_filtered_view),
        FX_TEST(test_fetch_variables),
        FX_TEST(test_stats),
        FX_TEST(test_dirty_and_commit),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_options_init),
    };
    return cmocka_run_group_tests_name("engine", tests, NULL, NULL);
}
