/*
 * The command layer (src/server/commands.c) without sockets: a real engine
 * in a temporary directory, a real broker on a libuv loop that never opens
 * a socket, and a front end of the test's own that records every answer.
 * Each command kind runs once on its success path and once on an error
 * path; the shared rules (admission, batch errors, budgets, polls,
 * streams, list filters) are checked where they live.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <chute/engine.h>

#include "server/commands.h"

#define T0 INT64_C(1700000000000)

/* One recorded answer. */
typedef struct seen {
    int answered;
    command_kind kind;
    int rc;
    char message[CHUTE_ERROR_MESSAGE_MAX];
    size_t njobs;
    int64_t job_key;
    size_t nkeys;
    int64_t keys[4];
    int64_t got_key; /* GET_JOB */
    size_t nprocs;   /* DEPLOY */
    int32_t version;
    const char *host;
    int port;
    size_t listed;
    char listed_types[256];
} seen;

typedef struct fx {
    char dir[64];
    int64_t now;
    chute_engine *e;
    uv_loop_t loop;
    broker *b;
    command_call call;
    seen s;
    size_t pushed;
    int64_t pushed_key;
} fx;

static int64_t clock_of(void *ctx)
{
    return ((fx *)ctx)->now;
}

static int visit_list(void *ctx, const chute_job_view *job)
{
    seen *s = ctx;
    size_t w = strlen(s->listed_types);
    snprintf(s->listed_types + w, sizeof s->listed_types - w, "%s%s", w ? "," : "", job->type);
    s->listed++;
    return 0;
}

static int visit_type(void *ctx, const chute_type_stats *st)
{
    return visit_list(ctx, &(chute_job_view){.type = st->type});
}

static void on_answer(command_call *call, const command_result *res)
{
    fx *f = (fx *)((char *)call - offsetof(fx, call));
    seen *s = &f->s;
    s->answered++;
    s->kind = res->kind;
    s->rc = res->rc;
    snprintf(s->message, sizeof s->message, "%s", res->rc ? res->err->message : "");
    s->njobs = res->njobs;
    s->job_key = res->njobs ? res->jobs[0].key : 0;
    s->nkeys = res->nkeys;
    for (size_t i = 0; i < res->nkeys && i < 4; i++)
        s->keys[i] = res->keys[i];
    s->got_key = res->kind == COMMAND_GET_JOB && res->rc == 0 ? res->job.key : 0;
    s->host = res->host;
    s->nprocs = res->kind == COMMAND_DEPLOY ? res->nprocs : 0;
    s->version = s->nprocs ? res->procs[0].version : 0;
    s->port = res->port;
    if (res->rc == 0 && (res->kind == COMMAND_LIST_JOBS || res->kind == COMMAND_LIST_INCIDENTS))
        assert_int_equal(command_result_walk(res, visit_list, s), 0);
    if (res->rc == 0 && res->kind == COMMAND_JOB_TYPES)
        assert_int_equal(command_result_walk_types(res, visit_type, s), 0);
}

static void on_push(command_call *call, const chute_job_view *jobs, size_t n)
{
    fx *f = (fx *)((char *)call - offsetof(fx, call));
    f->pushed += n;
    f->pushed_key = jobs[n - 1].key;
}

static const command_call_ops ops = {on_answer, on_push};

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    snprintf(f->dir, sizeof f->dir, "/tmp/chute-cmd-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    f->now = T0;
    chute_engine_options o;
    chute_engine_options_init(&o);
    o.data_dir = f->dir;
    o.clock = clock_of;
    o.clock_ctx = f;
    chute_error err;
    assert_int_equal(chute_engine_open(&f->e, &o, &err), 0);
    assert_int_equal(uv_loop_init(&f->loop), 0);
    assert_int_equal(broker_open(&f->b, &f->loop, f->e, &err), 0);
    *state = f;
    return 0;
}

static void closed(void *ctx)
{
    *(int *)ctx = 1;
}

static int teardown(void **state)
{
    fx *f = *state;
    int done = 0;
    command_call_cancel(&f->call);
    broker_close(f->b, closed, &done);
    while (!done)
        uv_run(&f->loop, UV_RUN_ONCE);
    broker_free(f->b);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    chute_engine_close(f->e);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

/* Runs |c| through a fresh call and commits, like a front end would. */
static seen *run(fx *f, const command *c)
{
    memset(&f->s, 0, sizeof f->s);
    command_call_init(&f->call, &ops, f->b, 4 << 20);
    f->call.host = "gateway.example";
    f->call.port = 26500;
    f->call.stream_credit = 8;
    command_run(&f->call, c);
    broker_flush(f->b);
    return &f->s;
}

static int64_t create(fx *f, const char *type)
{
    chute_job_spec spec = {.type = type, .retries = 1};
    command c = {.kind = COMMAND_CREATE, .specs = &spec, .count = 1};
    seen *s = run(f, &c);
    assert_int_equal(s->rc, 0);
    assert_int_equal(s->nkeys, 1);
    return s->keys[0];
}

static int64_t activate_one(fx *f, const char *type)
{
    command c = {.kind = COMMAND_ACTIVATE,
                 .req = {.type = type, .worker = "w", .timeout_ms = 60000, .max_jobs = 1},
                 .request_timeout_ms = -1};
    seen *s = run(f, &c);
    assert_int_equal(s->rc, 0);
    assert_int_equal(s->njobs, 1);
    return s->job_key;
}

/* ---- the table ------------------------------------------------------------------------ */

static void test_table_finds_grpc_methods(void **state)
{
    (void)state;
    const command_def *d = command_find_grpc("/gateway_protocol.Gateway/CompleteJob");
    assert_non_null(d);
    assert_int_equal(d->kind, COMMAND_COMPLETE);
    assert_int_equal(d->load, BROKER_LOAD_DRAINS);
    assert_string_equal(d->rest_route, "/v2/jobs/{jobKey}/completion");
    d = command_find_grpc("/chute.v1.Chute/CreateJobs");
    assert_non_null(d);
    assert_int_equal(d->kind, COMMAND_CREATE);
    assert_int_equal(d->load, BROKER_LOAD_ADDS);
    assert_null(command_find_grpc("/gateway_protocol.Gateway/CreateProcessInstance"));
    assert_null(command_find_grpc("/chute.v1.Chute/CompleteJob")); /* wrong service */
    assert_null(command_find_grpc("/gateway_protocol.Gateway/"));
    /* Every row has a way in, and a REST row its success status. */
    for (size_t i = 0; i < command_table_len; i++) {
        const command_def *r = &command_table[i];
        assert_true(r->grpc_service || r->rest_route);
        assert_true((r->grpc_service != NULL) == (r->grpc_decode != NULL));
        if (r->rest_route)
            assert_true(r->rest_status >= 200 && r->rest_status < 300);
    }
    char methods[512];
    command_grpc_methods("/gateway_protocol.Gateway/", methods, sizeof methods);
    assert_non_null(strstr(methods, "ActivateJobs, StreamActivatedJobs, Topology"));
    assert_null(strstr(methods, "CreateJob"));
}

static void on_pending(broker_pending *p, int ok, const chute_error *err)
{
    (void)p;
    (void)err;
    assert_true(ok);
}

static void test_admission_by_load_class(void **state)
{
    fx *f = *state;
    chute_error err;
    const command_def *adds = command_find_grpc("/chute.v1.Chute/CreateJob");
    const command_def *drains = command_find_grpc("/gateway_protocol.Gateway/FailJob");
    broker_set_max_inflight(f->b, 1);
    assert_int_equal(command_admit(f->b, adds, &err), 0);
    /* One answer waits for the commit (as a front end queues it): the
     * list is full for ADDS, never for DRAINS. */
    broker_pending p;
    broker_after_commit(f->b, &p, on_pending);
    assert_int_equal(command_admit(f->b, adds, &err), CHUTE_EBUSY);
    assert_int_equal(command_admit(f->b, drains, &err), 0);
    broker_flush(f->b);
    assert_int_equal(command_admit(f->b, adds, &err), 0);
}

static void test_activation_budget(void **state)
{
    (void)state;
    chute_activate_request one = {.type = "abc", .worker = "w", .max_jobs = 1};
    /* 512 + 6 * (3 + 1) = 536 reserved per job. */
    assert_int_equal(command_activation_budget(100000, &one), 100000 - 536);
    chute_activate_request many = {.type = "abc", .worker = NULL, .max_jobs = 1000};
    /* The reserve would pass half the answer: half is kept for payloads. */
    assert_int_equal(command_activation_budget(100000, &many), 50000);
}

/* ---- each kind: success and an error ------------------------------------------------ */

static void test_create_one_batch_and_batch_error(void **state)
{
    fx *f = *state;
    chute_job_spec specs[3] = {{.type = "a"}, {.type = "b"}, {.type = ""}};
    command one = {.kind = COMMAND_CREATE, .specs = specs, .count = 1};
    seen *s = run(f, &one);
    assert_int_equal(s->rc, 0);
    assert_int_equal(s->nkeys, 1);
    command batch = {.kind = COMMAND_CREATE, .specs = specs, .count = 2, .is_array = 1};
    s = run(f, &batch);
    assert_int_equal(s->rc, 0);
    assert_int_equal(s->nkeys, 2);
    assert_true(s->keys[1] > s->keys[0]);
    /* A batch error names the job; nothing of the batch is created. */
    command bad = {.kind = COMMAND_CREATE, .specs = specs, .count = 3, .is_array = 1};
    s = run(f, &bad);
    assert_int_equal(s->rc, CHUTE_EINVAL);
    assert_non_null(strstr(s->message, "job 2 of the batch: "));
    command bad_one = {.kind = COMMAND_CREATE, .specs = &specs[2], .count = 1};
    s = run(f, &bad_one);
    assert_int_equal(s->rc, CHUTE_EINVAL);
    assert_null(strstr(s->message, "of the batch"));
    command list = {.kind = COMMAND_LIST_JOBS, .page = 1, .size = 100};
    s = run(f, &list);
    assert_int_equal(s->listed, 3);
}

static void test_activate_now_and_errors(void **state)
{
    fx *f = *state;
    int64_t key = create(f, "pay");
    assert_int_equal(activate_one(f, "pay"), key);
    command blank = {.kind = COMMAND_ACTIVATE,
                     .req = {.type = "", .timeout_ms = 1000, .max_jobs = 1}};
    seen *s = run(f, &blank);
    assert_int_equal(s->answered, 1);
    assert_int_equal(s->rc, CHUTE_EINVAL);
    /* Nothing queued and requestTimeout < 0: answered at once, no jobs. */
    command none = {.kind = COMMAND_ACTIVATE,
                    .req = {.type = "pay", .timeout_ms = 1000, .max_jobs = 1},
                    .request_timeout_ms = -1};
    s = run(f, &none);
    assert_int_equal(s->answered, 1);
    assert_int_equal(s->rc, 0);
    assert_int_equal(s->njobs, 0);
}

static void test_long_poll_waits_then_gets_the_job(void **state)
{
    fx *f = *state;
    command c = {.kind = COMMAND_ACTIVATE,
                 .req = {.type = "later", .worker = "w", .timeout_ms = 1000, .max_jobs = 4},
                 .request_timeout_ms = 0}; /* the default wait */
    seen *s = run(f, &c);
    assert_int_equal(s->answered, 0);
    assert_true(command_call_waiting(&f->call));
    /* A job of the type arrives: the poll is answered at the next flush.
     * (create() would reset the call: create on the engine directly.) */
    chute_job_spec spec = {.type = "later"};
    int64_t key;
    chute_error err;
    assert_int_equal(chute_engine_create(f->e, &spec, &key, &err), 0);
    broker_flush(f->b);
    assert_int_equal(s->answered, 1);
    assert_int_equal(s->njobs, 1);
    assert_int_equal(s->job_key, key);
    assert_false(command_call_waiting(&f->call));
}

static void test_poll_expire_and_no_wait(void **state)
{
    fx *f = *state;
    command c = {.kind = COMMAND_ACTIVATE,
                 .req = {.type = "idle", .timeout_ms = 1000, .max_jobs = 1},
                 .request_timeout_ms = 60000};
    seen *s = run(f, &c);
    assert_true(command_call_waiting(&f->call));
    command_call_expire(&f->call);
    assert_int_equal(s->answered, 1);
    assert_int_equal(s->njobs, 0);
    assert_false(command_call_waiting(&f->call));
    /* A front end that closes does not start polls. */
    memset(&f->s, 0, sizeof f->s);
    command_call_init(&f->call, &ops, f->b, 4 << 20);
    f->call.no_wait = 1;
    command_run(&f->call, &c);
    assert_int_equal(f->s.answered, 1);
    assert_false(command_call_waiting(&f->call));
}

static void test_stream_pushes_and_errors(void **state)
{
    fx *f = *state;
    int64_t key = create(f, "streamed");
    command c = {.kind = COMMAND_STREAM,
                 .req = {.type = "streamed", .worker = "w", .timeout_ms = 1000}};
    seen *s = run(f, &c);
    assert_int_equal(s->answered, 0); /* a stream answers only errors */
    assert_non_null(f->call.taker);
    assert_int_equal(f->pushed, 1); /* fed from the backlog at the flush */
    assert_int_equal(f->pushed_key, key);
    command_call_cancel(&f->call);
    assert_null(f->call.taker);
    /* A front end without streams (REST) gets UNIMPLEMENTED, no taker. */
    static const command_call_ops no_push = {on_answer, NULL};
    memset(&f->s, 0, sizeof f->s);
    command_call_init(&f->call, &no_push, f->b, 4 << 20);
    command_run(&f->call, &c);
    assert_int_equal(f->s.rc, CHUTE_EUNIMPL);
    assert_null(f->call.taker);
    command bad = {.kind = COMMAND_STREAM, .req = {.type = "streamed", .timeout_ms = 0}};
    s = run(f, &bad);
    assert_int_equal(s->answered, 1);
    assert_int_equal(s->rc, CHUTE_EINVAL);
    assert_null(f->call.taker);
}

static void test_topology(void **state)
{
    fx *f = *state;
    command c = {.kind = COMMAND_TOPOLOGY};
    seen *s = run(f, &c);
    assert_int_equal(s->rc, 0);
    assert_string_equal(s->host, "gateway.example");
    assert_int_equal(s->port, 26500);
}

static void test_complete_fail_throw(void **state)
{
    fx *f = *state;
    create(f, "j");
    int64_t key = activate_one(f, "j");
    command done = {
        .kind = COMMAND_COMPLETE, .key = key, .variables = "{\"x\":1}", .variables_len = 7};
    seen *s = run(f, &done);
    assert_int_equal(s->rc, 0);
    s = run(f, &done); /* completed: gone */
    assert_int_equal(s->rc, CHUTE_ENOTFOUND);

    create(f, "j");
    key = activate_one(f, "j");
    command fail = {.kind = COMMAND_FAIL, .key = key, .retries = 0, .error_message = "boom"};
    s = run(f, &fail);
    assert_int_equal(s->rc, 0);
    command fail_bad = {.kind = COMMAND_FAIL, .key = 42, .error_message = ""};
    s = run(f, &fail_bad);
    assert_int_equal(s->rc, CHUTE_ENOTFOUND);

    create(f, "k");
    key = activate_one(f, "k");
    command thrown = {
        .kind = COMMAND_THROW_ERROR, .key = key, .error_code = "E1", .error_message = "no"};
    s = run(f, &thrown);
    assert_int_equal(s->rc, 0);
    command thrown_bad = {
        .kind = COMMAND_THROW_ERROR, .key = key + 1000, .error_code = "E1", .error_message = ""};
    s = run(f, &thrown_bad);
    assert_int_equal(s->rc, CHUTE_ENOTFOUND);

    /* Both the failed job and the thrown error are incidents now. */
    command incidents = {.kind = COMMAND_LIST_INCIDENTS};
    s = run(f, &incidents);
    assert_int_equal(s->listed, 2);
    command only_k = {.kind = COMMAND_LIST_INCIDENTS, .type = "k"};
    s = run(f, &only_k);
    assert_int_equal(s->listed, 1);
    assert_string_equal(s->listed_types, "k");
    command limited = {.kind = COMMAND_LIST_INCIDENTS, .limit = 1};
    s = run(f, &limited);
    assert_int_equal(s->listed, 1);
}

static void test_update_resolve(void **state)
{
    fx *f = *state;
    create(f, "u");
    int64_t key = activate_one(f, "u");
    command fail = {.kind = COMMAND_FAIL, .key = key, .retries = 0, .error_message = "x"};
    assert_int_equal(run(f, &fail)->rc, 0);
    chute_job_view v;
    chute_error err;
    assert_int_equal(chute_engine_get(f->e, key, &v, &err), 0);
    int64_t incident = v.incident_key;
    assert_true(incident != 0);

    /* Resolving with no retries left is refused. */
    command resolve = {.kind = COMMAND_RESOLVE_INCIDENT, .key = incident};
    assert_int_equal(run(f, &resolve)->rc, CHUTE_ESTATE);
    /* A changeset is all or nothing: a bad timeout keeps the retries. */
    command both_bad = {.kind = COMMAND_UPDATE,
                        .key = key,
                        .has_retries = 1,
                        .retries = 3,
                        .has_timeout = 1,
                        .timeout_ms = 0};
    assert_int_equal(run(f, &both_bad)->rc, CHUTE_EINVAL);
    assert_int_equal(chute_engine_get(f->e, key, &v, &err), 0);
    assert_int_equal(v.retries, 0);
    command retries = {.kind = COMMAND_UPDATE, .key = key, .has_retries = 1, .retries = 2};
    assert_int_equal(run(f, &retries)->rc, 0);
    assert_int_equal(run(f, &resolve)->rc, 0);
    assert_int_equal(chute_engine_get(f->e, key, &v, &err), 0);
    assert_int_equal(v.state, CHUTE_JOB_ACTIVATABLE);
    assert_int_equal(v.retries, 2);
    assert_int_equal(run(f, &resolve)->rc, CHUTE_ENOTFOUND);
}

static void test_get_cancel_types(void **state)
{
    fx *f = *state;
    int64_t key = create(f, "g");
    create(f, "h");
    command get = {.kind = COMMAND_GET_JOB, .key = key};
    seen *s = run(f, &get);
    assert_int_equal(s->rc, 0);
    assert_int_equal(s->got_key, key);
    command types = {.kind = COMMAND_JOB_TYPES};
    s = run(f, &types);
    assert_int_equal(s->listed, 2);
    command only_h = {.kind = COMMAND_LIST_JOBS, .type = "h", .page = 1, .size = 10};
    s = run(f, &only_h);
    assert_int_equal(s->listed, 1);
    assert_string_equal(s->listed_types, "h");
    command cancel = {.kind = COMMAND_CANCEL_JOB, .key = key};
    assert_int_equal(run(f, &cancel)->rc, 0);
    assert_int_equal(run(f, &cancel)->rc, CHUTE_ENOTFOUND);
    assert_int_equal(run(f, &get)->rc, CHUTE_ENOTFOUND);
}

static void test_deploy(void **state)
{
    fx *f = *state;
    static const char xml[] =
        "<definitions xmlns=\"http://www.omg.org/spec/BPMN/20100524/MODEL\" id=\"d\">"
        "<process id=\"p\" isExecutable=\"true\"><startEvent id=\"s\"/></process>"
        "</definitions>";
    chute_resource r = {.name = "p.bpmn", .content = (const uint8_t *)xml, .len = sizeof xml - 1};
    command c = {.kind = COMMAND_DEPLOY, .resources = &r, .nresources = 1};
    seen *s = run(f, &c);
    assert_int_equal(s->rc, 0);
    assert_int_equal(s->nprocs, 1);
    assert_int_equal(s->version, 1);
    static const char bad[] = "<definitions/>";
    chute_resource b = {.name = "bad.bpmn", .content = (const uint8_t *)bad, .len = sizeof bad - 1};
    command cb = {.kind = COMMAND_DEPLOY, .resources = &b, .nresources = 1};
    s = run(f, &cb);
    assert_int_equal(s->rc, CHUTE_EINVAL);
    assert_non_null(strstr(s->message, "Expected to deploy new resources"));
    assert_non_null(strstr(s->message, "'bad.bpmn'"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_finds_grpc_methods),
        cmocka_unit_test(test_activation_budget),
        cmocka_unit_test_setup_teardown(test_admission_by_load_class, setup, teardown),
        cmocka_unit_test_setup_teardown(test_create_one_batch_and_batch_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_activate_now_and_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_long_poll_waits_then_gets_the_job, setup, teardown),
        cmocka_unit_test_setup_teardown(test_poll_expire_and_no_wait, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stream_pushes_and_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_topology, setup, teardown),
        cmocka_unit_test_setup_teardown(test_complete_fail_throw, setup, teardown),
        cmocka_unit_test_setup_teardown(test_update_resolve, setup, teardown),
        cmocka_unit_test_setup_teardown(test_get_cancel_types, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deploy, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
