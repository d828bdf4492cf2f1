/*
 * Unit tests of the Prometheus rendering (src/server/metrics.c) on a real
 * engine in a temp dir: a strict check of the text format (every sample
 * belongs to a family declared by # TYPE, histogram buckets are cumulative
 * and end in +Inf = _count) and the figures after known work.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server/metrics.h"

/* Finds the value of the sample named exactly |name| (with labels). */
static double sample(const char *text, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        if (strncmp(p, name, n) == 0 && p[n] == ' ')
            return strtod(p + n + 1, NULL);
    }
    fail_msg("no sample %s", name);
    return -1;
}

/* A strict reading of the 0.0.4 text format, enough for what we emit. */
static void check_format(const char *text)
{
    char families[64][96];
    char types[64][16];
    int nf = 0;
    const char *p = text;
    assert_true(strlen(text) > 0 && text[strlen(text) - 1] == '\n');
    while (*p) {
        const char *e = strchr(p, '\n');
        assert_non_null(e);
        char line[2048];
        size_t l = (size_t)(e - p);
        assert_true(l < sizeof line);
        memcpy(line, p, l);
        line[l] = '\0';
        p = e + 1;
        if (strncmp(line, "# HELP ", 7) == 0)
            continue;
        if (strncmp(line, "# TYPE ", 7) == 0) {
            char name[96], type[16];
            assert_int_equal(sscanf(line + 7, "%95s %15s", name, type), 2);
            assert_true(strcmp(type, "counter") == 0 || strcmp(type, "gauge") == 0 ||
                        strcmp(type, "histogram") == 0);
            for (int i = 0; i < nf; i++)
                assert_string_not_equal(families[i], name); /* declared once */
            assert_true(nf < 64);
            snprintf(families[nf], sizeof families[nf], "%s", name);
            snprintf(types[nf], sizeof types[nf], "%s", type);
            nf++;
            assert_memory_equal(name, "chute_", 6);
            if (strcmp(type, "counter") == 0)
                assert_non_null(strstr(name, "_total"));
            continue;
        }
        assert_true(line[0] != '#');
        /* name{labels} value */
        size_t i = 0;
        while (isalnum((unsigned char)line[i]) || line[i] == '_' || line[i] == ':')
            i++;
        char name[96];
        assert_true(i > 0 && i < sizeof name);
        memcpy(name, line, i);
        name[i] = '\0';
        if (line[i] == '{') {
            i++;
            while (line[i] != '}') {
                while (isalnum((unsigned char)line[i]) || line[i] == '_')
                    i++;
                assert_int_equal(line[i], '=');
                assert_int_equal(line[i + 1], '"');
                i += 2;
                while (line[i] != '"') {
                    assert_true(line[i] != '\0');
                    if (line[i] == '\\') {
                        assert_true(line[i + 1] == '\\' || line[i + 1] == '"' ||
                                    line[i + 1] == 'n');
                        i++;
                    }
                    i++;
                }
                i++;
                if (line[i] == ',')
                    i++;
            }
            i++;
        }
        assert_int_equal(line[i], ' ');
        char *end;
        const char *v = line + i + 1;
        if (strcmp(v, "+Inf") != 0) {
            strtod(v, &end);
            assert_true(end != v && *end == '\0');
        }
        /* The sample belongs to the last declared family. */
        assert_true(nf > 0);
        const char *fam = families[nf - 1];
        size_t fl = strlen(fam);
        int ok = strcmp(name, fam) == 0;
        if (strcmp(types[nf - 1], "histogram") == 0)
            ok = strncmp(name, fam, fl) == 0 &&
                 (strcmp(name + fl, "_bucket") == 0 || strcmp(name + fl, "_sum") == 0 ||
                  strcmp(name + fl, "_count") == 0);
        if (!ok)
            fail_msg("sample %s outside its family %s", name, fam);
    }
}

static int64_t fake_now = 1700000000000LL;
static int64_t clock_fn(void *ctx)
{
    (void)ctx;
    return fake_now;
}

static void test_render_after_work(void **state)
{
    (void)state;
    char dir[] = "/tmp/chute-metrics-XXXXXX";
    assert_non_null(mkdtemp(dir));
    chute_engine_options o;
    chute_engine_options_init(&o);
    o.data_dir = dir;
    o.clock = clock_fn;
    o.max_jobs = 3;
    chute_engine *e;
    chute_error err;
    assert_int_equal(chute_engine_open(&e, &o, &err), 0);
    metrics *m;
    assert_int_equal(metrics_new(&m), 0);
    metrics_install(m, e);

    chute_job_spec spec = {.type = "we\"ird\\type\n"};
    int64_t k;
    for (int i = 0; i < 3; i++)
        assert_int_equal(chute_engine_create(e, &spec, &k, &err), 0);
    /* The fourth is refused by the queue depth limit. */
    assert_int_equal(chute_engine_create(e, &spec, &k, &err), CHUTE_EBUSY);
    assert_int_equal(chute_engine_commit(e, &err), 0);
    fake_now += 2500;
    chute_activate_request req = {
        .type = spec.type, .worker = "w", .timeout_ms = 1000, .max_jobs = 2};
    const chute_job_view *jobs;
    size_t n;
    assert_int_equal(chute_engine_activate(e, &req, 0, &jobs, &n, &err), 0);
    assert_int_equal(n, 2);
    int64_t done = jobs[0].key;
    assert_int_equal(chute_engine_complete(e, done, NULL, 0, &err), 0);
    assert_int_equal(chute_engine_commit(e, &err), 0);
    metrics_observe_activation(m, METRICS_API_REST, 0.003);
    metrics_observe_activation(m, METRICS_API_GRPC, 12.0);
    metrics_count_http(m, 204);
    metrics_count_http(m, 204);

    metrics_gauges g = {
        .grpc_connections = 2, .http_connections = 1, .ready = 1, .rejected_inflight = 5};
    char *text;
    size_t len;
    assert_int_equal(metrics_render(m, e, &g, &text, &len), 0);
    assert_int_equal(strlen(text), len);
    check_format(text);
    const char *t = "type=\"we\\\"ird\\\\type\\n\"";
    char name[256];
#define AT(fmt) (snprintf(name, sizeof name, fmt, t), sample(text, name))
    assert_true(AT("chute_jobs{%s,state=\"activatable\"}") == 1);
    assert_true(AT("chute_jobs{%s,state=\"activated\"}") == 1);
    assert_true(AT("chute_jobs_created_total{%s}") == 3);
    assert_true(AT("chute_jobs_activated_total{%s}") == 2);
    assert_true(AT("chute_jobs_completed_total{%s}") == 1);
    assert_true(AT("chute_jobs_failed_total{%s}") == 0);
    assert_true(AT("chute_oldest_activatable_job_age_seconds{%s}") == 2.5);
    /* Two jobs waited 2.5 s each in the queue. */
    assert_true(sample(text, "chute_job_queue_time_seconds_count") == 2);
    assert_true(sample(text, "chute_job_queue_time_seconds_bucket{le=\"1\"}") == 0);
    assert_true(sample(text, "chute_job_queue_time_seconds_bucket{le=\"5\"}") == 2);
    assert_true(sample(text, "chute_job_queue_time_seconds_sum") == 5.0);
    assert_true(sample(text, "chute_activation_request_duration_seconds_bucket{api=\"rest\","
                             "le=\"0.0025\"}") == 0);
    assert_true(sample(text, "chute_activation_request_duration_seconds_bucket{api=\"rest\","
                             "le=\"0.005\"}") == 1);
    assert_true(sample(text, "chute_activation_request_duration_seconds_bucket{api=\"grpc\","
                             "le=\"10\"}") == 0);
    assert_true(sample(text, "chute_activation_request_duration_seconds_bucket{api=\"grpc\","
                             "le=\"+Inf\"}") == 1);
    assert_true(sample(text, "chute_commit_batch_changes_count") >= 2);
    assert_true(sample(text, "chute_commit_duration_seconds_count") ==
                sample(text, "chute_commit_batch_changes_count"));
    assert_true(sample(text, "chute_http_responses_total{code=\"204\"}") == 2);
    assert_true(sample(text, "chute_connections{protocol=\"grpc\"}") == 2);
    assert_true(sample(text, "chute_ready") == 1);
    assert_true(sample(text, "chute_requests_rejected_total{reason=\"max_jobs\"}") == 1);
    assert_true(sample(text, "chute_requests_rejected_total{reason=\"max_inflight\"}") == 5);
    assert_true(sample(text, "chute_process_resident_memory_bytes") > 0);
    free(text);

    /* Without an engine or gauges it still renders what it has. */
    assert_int_equal(metrics_render(m, NULL, NULL, &text, &len), 0);
    check_format(text);
    free(text);

    metrics_uninstall(e);
    metrics_free(m);
    chute_engine_close(e);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

/* 3 000 job types (an attacker naming a new type per job): the answer
 * shows the first METRICS_MAX_TYPES by name and sums the rest; once the
 * jobs are gone the types' series are gone too. */
static void test_many_types_bounded_then_healed(void **state)
{
    (void)state;
    char dir[] = "/tmp/chute-metrics-XXXXXX";
    assert_non_null(mkdtemp(dir));
    chute_engine_options o;
    chute_engine_options_init(&o);
    o.data_dir = dir;
    o.clock = clock_fn;
    chute_engine *e;
    chute_error err;
    assert_int_equal(chute_engine_open(&e, &o, &err), 0);
    enum { N = 3000 };
    static int64_t keys[N];
    for (int i = 0; i < N; i++) {
        char type[32];
        snprintf(type, sizeof type, "t%05d", i);
        chute_job_spec spec = {.type = type};
        assert_int_equal(chute_engine_create(e, &spec, &keys[i], &err), 0);
    }
    assert_int_equal(chute_engine_commit(e, &err), 0);
    char *text;
    size_t len;
    assert_int_equal(metrics_render(NULL, e, NULL, &text, &len), 0);
    check_format(text);
    assert_true(sample(text, "chute_metrics_job_types{series=\"shown\"}") == METRICS_MAX_TYPES);
    assert_true(sample(text, "chute_metrics_job_types{series=\"folded\"}") == N - METRICS_MAX_TYPES);
    assert_true(sample(text, "chute_jobs{type=\"t00000\",state=\"activatable\"}") == 1);
    assert_true(sample(text, "chute_jobs{type=\"t00999\",state=\"activatable\"}") == 1);
    assert_null(strstr(text, "type=\"t01000\""));
    assert_true(sample(text, "chute_jobs{type=\"" METRICS_OTHER_TYPES "\",state=\"activatable\"}") ==
                N - METRICS_MAX_TYPES);
    assert_true(sample(text, "chute_jobs_created_total{type=\"" METRICS_OTHER_TYPES "\"}") ==
                N - METRICS_MAX_TYPES);
    free(text);

    for (int i = 0; i < N; i++)
        assert_int_equal(chute_engine_cancel(e, keys[i], &err), 0);
    assert_int_equal(chute_engine_commit(e, &err), 0);
    /* Just emptied: scrapes still see the final counters for a while. */
    assert_int_equal(metrics_render(NULL, e, NULL, &text, &len), 0);
    assert_true(sample(text, "chute_jobs_created_total{type=\"t00000\"}") == 1);
    assert_true(sample(text, "chute_metrics_job_types{series=\"idle\"}") == 0);
    free(text);
    fake_now += METRICS_IDLE_GRACE_MS;
    assert_int_equal(metrics_render(NULL, e, NULL, &text, &len), 0);
    check_format(text);
    assert_true(sample(text, "chute_metrics_job_types{series=\"shown\"}") == 0);
    assert_true(sample(text, "chute_metrics_job_types{series=\"folded\"}") == 0);
    assert_null(strstr(text, "{type=\""));
    assert_true(sample(text, "chute_metrics_job_types{series=\"idle\"}") == N);
    free(text);

    chute_engine_close(e);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

/* What the transports ended or refused is rendered per protocol and
 * reason, in the strict text format. */
static void test_hostile_client_counters(void **state)
{
    (void)state;
    metrics *m;
    assert_int_equal(metrics_new(&m), 0);
    metrics_gauges g = {
        .ended_header_bomb = 1,
        .ended_control_flood = 2,
        .refused_max = {3, 4},
        .refused_peer = {5, 6},
        .requests_timed_out = {7, 8},
        .accept_failures = {9, 10},
    };
    char *text;
    size_t len;
    assert_int_equal(metrics_render(m, NULL, &g, &text, &len), 0);
    check_format(text);
    assert_true(sample(text, "chute_connections_ended_total{protocol=\"grpc\","
                             "reason=\"header_bomb\"}") == 1);
    assert_true(sample(text, "chute_connections_ended_total{protocol=\"grpc\","
                             "reason=\"control_flood\"}") == 2);
    assert_true(sample(text, "chute_connections_ended_total{protocol=\"grpc\","
                             "reason=\"max_connections\"}") == 3);
    assert_true(sample(text, "chute_connections_ended_total{protocol=\"http\","
                             "reason=\"max_connections\"}") == 4);
    assert_true(sample(text, "chute_connections_ended_total{protocol=\"grpc\","
                             "reason=\"max_connections_per_peer\"}") == 5);
    assert_true(sample(text, "chute_connections_ended_total{protocol=\"http\","
                             "reason=\"max_connections_per_peer\"}") == 6);
    assert_true(sample(text, "chute_connections_ended_total{protocol=\"http\","
                             "reason=\"request_timeout\"}") == 8);
    assert_true(sample(text, "chute_requests_timed_out_total{protocol=\"grpc\"}") == 7);
    assert_true(sample(text, "chute_requests_timed_out_total{protocol=\"http\"}") == 8);
    assert_true(sample(text, "chute_accept_failures_total{protocol=\"grpc\"}") == 9);
    assert_true(sample(text, "chute_accept_failures_total{protocol=\"http\"}") == 10);
    free(text);
    metrics_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_render_after_work),
        cmocka_unit_test(test_many_types_bounded_then_healed),
        cmocka_unit_test(test_hostile_client_counters),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
