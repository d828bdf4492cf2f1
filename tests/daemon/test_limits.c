/*
 * chuted's load limits over gRPC, against a real daemon started per test
 * (temp dir, ephemeral port) with the limit under test:
 *
 *   --max-jobs 3: the C client's CreateJob and CreateJobs get
 *     RESOURCE_EXHAUSTED (CHUTE_EBUSY) with the server's message, a refused
 *     batch creates nothing, and a completed job makes room again.
 *   --max-inflight 4: 200 CreateJob calls and 20 CompleteJob calls go out in
 *     one write on one HTTP/2 connection (the raw test client of
 *     tests/support, so that they arrive in one read and wait for one
 *     commit): some creates are refused with gRPC status 8, the others
 *     succeed, every complete succeeds (a
 *     worker settling jobs is never refused for load), and the jobs that
 *     exist afterwards are exactly those whose creates were answered OK.
 *   --max-connections 2 --request-timeout 500ms: the flags reach the
 *     transport: a request 1 byte short of its message is answered
 *     DEADLINE_EXCEEDED, a third connection gets GOAWAY(ENHANCE_YOUR_CALM),
 *     and the log names the descriptor limit and the refusal.
 *
 * When this tree has no chuted the test SKIPs (exit 77).
 */
#include "chuted_fixture.h"
#include "h2_test_client.h"

#include <chute/client.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

typedef struct limits_fx {
    chuted_proc d;
    chute_client *client;
} limits_fx;

static int start(void **state, const char *const *args)
{
    limits_fx *f = calloc(1, sizeof *f);
    if (!f || chuted_start_args(&f->d, args) != 0) {
        free(f);
        return -1;
    }
    chute_error err;
    if (chute_client_open(&f->client, f->d.address, NULL, &err) != 0) {
        fprintf(stderr, "open: %s\n", err.message);
        chuted_cleanup(&f->d);
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static const char *const max_jobs_args[] = {"--max-jobs", "3", NULL};
static const char *const max_inflight_args[] = {"--max-inflight", "4", NULL};
static const char *const caps_args[] = {"--max-connections", "2", "--request-timeout", "500ms",
                                        NULL};

static int setup_max_jobs(void **state)
{
    return start(state, max_jobs_args);
}

static int setup_max_inflight(void **state)
{
    return start(state, max_inflight_args);
}

static int setup_caps(void **state)
{
    return start(state, caps_args);
}

static int teardown(void **state)
{
    limits_fx *f = *state;
    if (f) {
        chute_client_close(f->client);
        chuted_cleanup(&f->d);
        free(f);
    }
    return 0;
}

/* Activates (no long poll) up to |max| jobs of |type|, completes them if
 * |complete|, and returns how many there were; their keys go to |keys|. */
static size_t take_all(chute_client *c, const char *type, int32_t max, int complete, int64_t *keys)
{
    chute_client_activate_request req = {.type = type,
                                         .worker = "limits",
                                         .timeout_ms = 60000,
                                         .max_jobs = max,
                                         .request_timeout_ms = -1};
    chute_job_list jobs;
    chute_error err;
    int rc = chute_client_activate_jobs(c, &req, &jobs, NULL, &err);
    if (rc != 0)
        fail_msg("ActivateJobs: %s", err.message);
    size_t n = jobs.count;
    for (size_t i = 0; i < n; i++) {
        if (keys)
            keys[i] = jobs.jobs[i]->key;
        if (complete && chute_client_complete_job(c, jobs.jobs[i]->key, NULL, NULL, &err) != 0)
            fail_msg("CompleteJob: %s", err.message);
    }
    chute_job_list_free(&jobs);
    return n;
}

/* ---- --max-jobs through the C client ----------------------------------------- */

static void test_max_jobs(void **state)
{
    limits_fx *f = *state;
    chute_error err;
    chute_client_job_spec spec = {.type = "lim"};
    int64_t key;
    for (int i = 0; i < 3; i++)
        assert_int_equal(chute_client_create_job(f->client, &spec, &key, NULL, &err), 0);

    /* The fourth: RESOURCE_EXHAUSTED (the client's CHUTE_EBUSY) with what
     * the limit is and what to do. */
    memset(&err, 0, sizeof err);
    assert_int_equal(chute_client_create_job(f->client, &spec, &key, NULL, &err), CHUTE_EBUSY);
    assert_int_equal(err.code, CHUTE_EBUSY);
    printf("# CreateJob over --max-jobs: %s\n", err.message);
    assert_non_null(strstr(err.message, "the broker holds 3 jobs and its limit is 3"));
    assert_non_null(strstr(err.message, "complete or cancel jobs, or raise the limit"));

    /* Completing one makes room for one; a batch of two does not fit and
     * creates nothing. */
    int64_t done;
    assert_int_equal(take_all(f->client, "lim", 1, 1, &done), 1);
    chute_client_job_spec two[2] = {{.type = "lim"}, {.type = "lim"}};
    int64_t keys[2];
    memset(&err, 0, sizeof err);
    assert_int_equal(chute_client_create_jobs(f->client, two, 2, keys, NULL, &err), CHUTE_EBUSY);
    printf("# CreateJobs over --max-jobs: %s\n", err.message);
    assert_non_null(strstr(err.message, "job 1 of the batch"));
    assert_non_null(strstr(err.message, "Expected to create 2 jobs, but the broker holds 2 jobs"));
    assert_int_equal(take_all(f->client, "lim", 100, 0, NULL), 2);

    /* The room is there for exactly one job. */
    assert_int_equal(chute_client_create_job(f->client, &spec, &key, NULL, &err), 0);
    assert_int_equal(chute_client_create_job(f->client, &spec, &key, NULL, &err), CHUTE_EBUSY);

    /* Everything else is still served at the limit. */
    chute_job_info *info = NULL;
    assert_int_equal(chute_client_get_job(f->client, done, &info, NULL, &err), 0);
    assert_string_equal(info->state, "COMPLETED");
    chute_job_info_free(info);
}

/* ---- --max-inflight: a raw burst on one connection -------------------------------- */

#define BURST_CREATES 200
#define BURST_COMPLETES 20
#define BURST_CALLS (BURST_CREATES + BURST_COMPLETES)

static void put_varint(uint8_t *p, size_t *len, uint64_t v)
{
    while (v >= 0x80) {
        p[(*len)++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[(*len)++] = (uint8_t)v;
}

/* The key in a framed CreateJobResponse (field 1, varint). */
static int64_t response_key(const h2tc_call *call)
{
    assert_true(call->len >= 7 && call->data[5] == 0x08);
    uint64_t v = 0;
    for (size_t i = 6, shift = 0; i < call->len && shift < 64; i++, shift += 7) {
        v |= (uint64_t)(call->data[i] & 0x7f) << shift;
        if (!(call->data[i] & 0x80))
            break;
    }
    return (int64_t)v;
}

static int has_key(const int64_t *keys, size_t n, int64_t k)
{
    for (size_t i = 0; i < n; i++)
        if (keys[i] == k)
            return 1;
    return 0;
}

static void test_max_inflight_burst(void **state)
{
    limits_fx *f = *state;
    chute_error err;

    /* Jobs a worker holds, to settle inside the burst. */
    chute_client_job_spec specs[BURST_COMPLETES];
    int64_t held[BURST_COMPLETES];
    for (int i = 0; i < BURST_COMPLETES; i++)
        specs[i] = (chute_client_job_spec){.type = "held"};
    assert_int_equal(chute_client_create_jobs(f->client, specs, BURST_COMPLETES, held, NULL, &err),
                     0);
    assert_int_equal(take_all(f->client, "held", 100, 0, NULL), BURST_COMPLETES);

    h2tc_client c;
    h2tc_options big_window = {.initial_window = 1 << 20};
    assert_int_equal(h2tc_connect(&c, f->d.port, &big_window), 0);
    static const uint8_t create[] = {0x0a, 5, 'b', 'u', 'r', 's', 't'};
    for (int i = 0; i < BURST_CREATES; i++)
        assert_non_null(h2tc_start(&c, "/chute.v1.Chute/CreateJob", create, sizeof create, NULL));
    /* The completes come last, when the commit's list is long full. */
    for (int i = 0; i < BURST_COMPLETES; i++) {
        uint8_t m[16] = {0x08};
        size_t len = 1;
        put_varint(m, &len, (uint64_t)held[i]);
        assert_non_null(h2tc_start(&c, "/gateway_protocol.Gateway/CompleteJob", m, len, NULL));
    }
    /* All of it in one write, then read until every call ended. */
    int run = h2tc_run(&c, 20000);
    if (run == -1)
        fail_msg("only %d of %d calls ended within 20 s", c.nclosed, c.ncalls);
    assert_int_equal(run, 0);

    int ok = 0, exhausted = 0;
    int64_t ok_keys[BURST_CREATES];
    for (int i = 0; i < BURST_CREATES; i++) {
        h2tc_call *call = c.calls[i];
        if (call->grpc_status == 0) {
            ok_keys[ok++] = response_key(call);
        } else if (call->grpc_status == 8) {
            if (!exhausted)
                printf("# CreateJob over --max-inflight: %s\n", call->grpc_message);
            exhausted++;
            /* Percent-encoding (gRPC's grpc-message) leaves this text as it is. */
            assert_non_null(strstr(call->grpc_message, "the limit (--max-inflight)"));
        } else {
            fail_msg("CreateJob %d: grpc-status %d (%s)", i, call->grpc_status, call->grpc_message);
        }
    }
    for (int i = BURST_CREATES; i < BURST_CALLS; i++) {
        if (c.calls[i]->grpc_status != 0)
            fail_msg("CompleteJob %d was refused: grpc-status %d (%s)", i - BURST_CREATES,
                     c.calls[i]->grpc_status, c.calls[i]->grpc_message);
    }
    h2tc_free(&c);
    printf("# burst of %d CreateJob with --max-inflight 4: %d OK, %d RESOURCE_EXHAUSTED\n",
           BURST_CREATES, ok, exhausted);
    assert_true(exhausted > 0);
    assert_true(ok >= 4);
    assert_int_equal(ok + exhausted, BURST_CREATES);

    /* Exactly the jobs whose creates were answered OK exist; the completed
     * ones are gone. */
    int64_t got[BURST_CREATES + 1];
    size_t n = take_all(f->client, "burst", BURST_CREATES + 1, 0, got);
    assert_int_equal(n, (size_t)ok);
    for (size_t i = 0; i < n; i++)
        assert_true(has_key(ok_keys, (size_t)ok, got[i]));
    assert_int_equal(take_all(f->client, "held", 100, 0, NULL), 0);
    chute_job_info *info = NULL;
    assert_int_equal(chute_client_get_job(f->client, held[0], &info, NULL, &err), 0);
    assert_string_equal(info->state, "COMPLETED");
    chute_job_info_free(info);
}

/* The whole log of the test's chuted, NUL-terminated (malloc'd). */
static char *read_log(const chuted_proc *d)
{
    FILE *f = fopen(d->log, "r");
    assert_non_null(f);
    size_t cap = 1 << 20, n;
    char *b = malloc(cap + 1);
    n = fread(b, 1, cap, f);
    fclose(f);
    b[n] = '\0';
    return b;
}

static void test_connection_cap_and_request_timeout(void **state)
{
    limits_fx *f = *state;
    chute_error err;
    chute_client_job_spec spec = {.type = "caps"};
    int64_t key;
    /* Connection 1: the C client's, in use. */
    assert_int_equal(chute_client_create_job(f->client, &spec, &key, NULL, &err), 0);

    /* Connection 2: a request 1 byte short of its message. */
    h2tc_client a;
    assert_int_equal(h2tc_connect(&a, f->d.port, NULL), 0);
    uint8_t part[5 + 9] = {0};
    h2tc_frame_prefix(part, 0, 10);
    h2tc_request hold = {.hold = 1};
    h2tc_call *call = h2tc_start_raw(&a, "/chute.v1.Chute/CreateJob", part, sizeof part, &hold);
    assert_non_null(call);
    assert_int_equal(h2tc_run(&a, 10000), 0);
    assert_int_equal(call->grpc_status, 4); /* DEADLINE_EXCEEDED */
    assert_non_null(strstr(call->grpc_message, "9 of the 10 bytes"));

    /* Connection 3: over --max-connections 2. */
    h2tc_client b;
    assert_int_equal(h2tc_connect(&b, f->d.port, NULL), 0);
    h2tc_call *refused = h2tc_start(&b, "/chute.v1.Chute/CreateJob", NULL, 0, NULL);
    assert_non_null(refused);
    /* The GOAWAY (last stream 0) ends the call unprocessed, or the
     * connection ends first. */
    int run = h2tc_run(&b, 10000);
    assert_true(run == 0 || run == -2);
    assert_int_equal(refused->grpc_status, -1); /* never answered */
    assert_true(b.goaway);
    assert_int_equal(b.goaway_code, NGHTTP2_ENHANCE_YOUR_CALM);
    h2tc_free(&b);
    h2tc_free(&a);
    /* Connection 1 serves on. */
    assert_int_equal(chute_client_create_job(f->client, &spec, &key, NULL, &err), 0);

    char *log = read_log(&f->d);
    assert_non_null(strstr(log, "file descriptors: up to"));
    assert_non_null(strstr(log, "at most 2 connections per listener"));
    assert_non_null(strstr(log, "gRPC listener: connection from 127.0.0.1 refused"));
    assert_non_null(strstr(log, "did not arrive within 500 ms"));
    free(log);
}

int main(void)
{
    if (!chuted_path()) {
        fprintf(stderr, "# SKIPPED: test_client_limits needs chuted, which this tree did not "
                        "build\n");
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_max_jobs, setup_max_jobs, teardown),
        cmocka_unit_test_setup_teardown(test_max_inflight_burst, setup_max_inflight, teardown),
        cmocka_unit_test_setup_teardown(test_connection_cap_and_request_timeout, setup_caps,
                                        teardown),
    };
    return cmocka_run_group_tests_name("limits", tests, NULL, NULL);
}
