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
    int64_t proc_key; /* DEPLOY: the first process's key */
    const char *host;
    int port;
    size_t listed;
    char listed_types[256];
    /* CREATE_INSTANCE, GET_INSTANCE */
    int64_t instance_key;
    chute_instance_state instance_state;
    int awaited;
    char variables[256];
    int64_t set_key; /* SET_VARIABLES */
    /* SEARCH_*: entries visited, the page's count, the first entry's key
     * and, for variables, names and values "a=1,b=2". */
    size_t items;
    command_page page;
    int64_t first_key;
    char found[256];
    int64_t incident_key;     /* LIST_INCIDENTS, INSTANCE_DETAILS: the last one */
    chute_message_result msg; /* PUBLISH_MESSAGE, CORRELATE_MESSAGE */
    /* GET_USER_TASK: the task's key, "assignee@element groups users" */
    int64_t task_key;
    char task[256];
    /* INSTANCE_DETAILS: "event:TIMER@due" or "event:MESSAGE name/key" per
     * wait, and the element instance of the last one. */
    char waits[256];
    int64_t wait_owner;
    /* DEPLOY: its decisions, "id@version/graph version" each */
    size_t ndecs;
    char decs[256];
    /* EVALUATE_DECISION: the decision, the output, the failure, the key
     * and "id=output" per evaluated decision */
    int64_t decision_key;
    char output[128];
    char failed_id[64];
    char failure[512];
    int64_t evaluation_key;
    char evaluated[256];
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
    command_call acall; /* awaits a process instance */
    seen as;
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

static void found_add(seen *s, int64_t key, const char *text)
{
    size_t w = strlen(s->found);
    if (s->items++ == 0)
        s->first_key = key;
    snprintf(s->found + w, sizeof s->found - w, "%s%s", w ? "," : "", text);
}

static int visit_instance(void *ctx, const chute_instance_view *inst)
{
    found_add(ctx, inst->key, chute_instance_state_name(inst->state));
    return 0;
}

static int visit_element(void *ctx, const chute_element_view *el)
{
    found_add(ctx, el->key, el->element_id);
    return 0;
}

static int visit_variable(void *ctx, const chute_variable_view *v)
{
    char text[128];
    snprintf(text, sizeof text, "%s=%.*s", v->name, (int)v->value_len, v->value);
    found_add(ctx, v->key, text);
    return 0;
}

static int visit_incident(void *ctx, const chute_incident_view *inc)
{
    found_add(ctx, inc->key, chute_incident_type_name(inc->type));
    return 0;
}

/* LIST_INCIDENTS, INSTANCE_DETAILS: "TYPE@element/jobtype" per incident,
 * "-" for no element or no job. */
static int visit_incident_job(void *ctx, const chute_incident_view *inc, const chute_job_view *job)
{
    seen *s = ctx;
    char text[160];
    snprintf(text, sizeof text, "%s@%s/%s%s", chute_incident_type_name(inc->type),
             *inc->element_id ? inc->element_id : "-", job ? job->type : "-",
             inc->resolved ? " (resolved)" : "");
    s->incident_key = inc->key;
    size_t w = strlen(s->listed_types);
    snprintf(s->listed_types + w, sizeof s->listed_types - w, "%s%s", w ? "," : "",
             job ? job->type : "-");
    s->listed++;
    found_add(s, inc->key, text);
    return 0;
}

static int visit_wait(void *ctx, const chute_wait_view *w)
{
    seen *s = ctx;
    size_t n = strlen(s->waits);
    if (w->is_timer)
        snprintf(s->waits + n, sizeof s->waits - n, "%s%s:TIMER@%lld", n ? "," : "", w->element_id,
                 (long long)w->due);
    else
        snprintf(s->waits + n, sizeof s->waits - n, "%s%s:MESSAGE %s/%s", n ? "," : "",
                 w->element_id, w->message_name, w->correlation_key);
    s->wait_owner = w->element_instance_key;
    return 0;
}

/* A user task as "assignee@element groups users" ("-" unassigned). */
static void task_text(const chute_user_task_view *t, char *out, size_t cap)
{
    snprintf(out, cap, "%s@%s %s %s", t->assignee[0] ? t->assignee : "-", t->element_id,
             t->candidate_groups, t->candidate_users);
}

static int visit_user_task(void *ctx, const chute_user_task_view *t)
{
    char text[256];
    task_text(t, text, sizeof text);
    found_add(ctx, t->key, text);
    return 0;
}

/* Visits what a search found, as an encoder would. */
static void walk_search(seen *s, const command_result *res)
{
    switch (res->kind) {
    case COMMAND_SEARCH_INSTANCES:
        assert_int_equal(command_result_walk_instances(res, visit_instance, s, &s->page), 0);
        break;
    case COMMAND_SEARCH_ELEMENTS:
        assert_int_equal(command_result_walk_elements(res, visit_element, s, &s->page), 0);
        break;
    case COMMAND_SEARCH_VARIABLES:
        assert_int_equal(command_result_walk_variables(res, visit_variable, s, &s->page), 0);
        break;
    case COMMAND_SEARCH_INCIDENTS:
        assert_int_equal(command_result_walk_incidents(res, visit_incident, s, &s->page), 0);
        break;
    case COMMAND_SEARCH_USER_TASKS:
        assert_int_equal(command_result_walk_user_tasks(res, visit_user_task, s, &s->page), 0);
        break;
    case COMMAND_GET_USER_TASK:
        s->task_key = res->user_task.key;
        task_text(&res->user_task, s->task, sizeof s->task);
        break;
    default:
        break;
    }
}

static void record(seen *s, const command_result *res)
{
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
    s->proc_key = s->nprocs ? res->procs[0].key : 0;
    s->port = res->port;
    if (res->rc == 0 && res->kind == COMMAND_LIST_JOBS)
        assert_int_equal(command_result_walk(res, visit_list, s), 0);
    if (res->rc == 0 && res->kind == COMMAND_LIST_INCIDENTS)
        assert_int_equal(command_result_walk_incidents_open(res, visit_incident_job, s), 0);
    if (res->rc == 0 && res->kind == COMMAND_INSTANCE_DETAILS) {
        /* The instance first: the walk ends its view. */
        s->instance_key = res->instance.key;
        s->instance_state = res->instance.state;
        snprintf(s->variables, sizeof s->variables, "%.*s", (int)res->instance.variables_len,
                 res->instance.variables ? res->instance.variables : "");
        assert_int_equal(
            command_result_walk_instance(res, visit_element, visit_incident_job, visit_wait, s), 0);
    }
    if (res->rc == 0 && res->kind == COMMAND_JOB_TYPES)
        assert_int_equal(command_result_walk_types(res, visit_type, s), 0);
    if (res->rc == 0 &&
        (res->kind == COMMAND_CREATE_INSTANCE || res->kind == COMMAND_GET_INSTANCE)) {
        s->instance_key = res->instance.key;
        s->instance_state = res->instance.state;
        s->awaited = res->awaited;
        snprintf(s->variables, sizeof s->variables, "%.*s", (int)res->instance.variables_len,
                 res->instance.variables ? res->instance.variables : "");
    }
    if (res->rc == 0 && res->kind == COMMAND_SET_VARIABLES)
        s->set_key = res->key;
    if (res->rc == 0 &&
        (res->kind == COMMAND_PUBLISH_MESSAGE || res->kind == COMMAND_CORRELATE_MESSAGE))
        s->msg = res->message;
    if (res->rc == 0 && res->kind == COMMAND_DEPLOY) {
        s->ndecs = res->ndecs;
        for (size_t i = 0; i < res->ndecs; i++) {
            size_t w = strlen(s->decs);
            snprintf(s->decs + w, sizeof s->decs - w, "%s%s@%d/%d", w ? "," : "",
                     res->decs[i].decision_id, res->decs[i].version,
                     res->decs[i].requirements_version);
        }
    }
    if (res->rc == 0 && res->kind == COMMAND_EVALUATE_DECISION) {
        const chute_decision_evaluation *ev = res->evaluation;
        s->decision_key = ev->decision.key;
        snprintf(s->output, sizeof s->output, "%s", ev->output);
        snprintf(s->failed_id, sizeof s->failed_id, "%s", ev->failed_decision_id);
        snprintf(s->failure, sizeof s->failure, "%s", ev->failure_message);
        s->evaluation_key = ev->key;
        for (size_t i = 0; i < ev->nevaluated; i++) {
            size_t w = strlen(s->evaluated);
            snprintf(s->evaluated + w, sizeof s->evaluated - w, "%s%s=%s", w ? "," : "",
                     ev->evaluated[i].decision_id, ev->evaluated[i].output);
        }
    }
    if (res->rc == 0)
        walk_search(s, res);
}

static void on_answer(command_call *call, const command_result *res)
{
    fx *f = (fx *)((char *)call - offsetof(fx, call));
    record(&f->s, res);
}

/* The answers of the second call, which awaits an instance while the
 * first one runs other commands. */
static void on_await_answer(command_call *call, const command_result *res)
{
    fx *f = (fx *)((char *)call - offsetof(fx, acall));
    record(&f->as, res);
}

static void on_push(command_call *call, const chute_job_view *jobs, size_t n)
{
    fx *f = (fx *)((char *)call - offsetof(fx, call));
    f->pushed += n;
    f->pushed_key = jobs[n - 1].key;
}

static const command_call_ops ops = {on_answer, on_push};
static const command_call_ops await_ops = {on_await_answer, NULL};

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
    command_call_cancel(&f->acall);
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
    d = command_find_grpc("/gateway_protocol.Gateway/CreateProcessInstanceWithResult");
    assert_non_null(d);
    assert_int_equal(d->kind, COMMAND_CREATE_INSTANCE);
    assert_int_equal(d->load, BROKER_LOAD_ADDS);
    d = command_find_grpc("/gateway_protocol.Gateway/CreateProcessInstance");
    assert_non_null(d);
    assert_string_equal(d->rest_route, "/v2/process-instances");
    assert_int_equal(d->rest_status, 200);
    d = command_find_grpc("/gateway_protocol.Gateway/SetVariables");
    assert_non_null(d);
    assert_string_equal(d->rest_method, "PUT");
    d = command_find_grpc("/gateway_protocol.Gateway/ModifyProcessInstance");
    assert_non_null(d);
    assert_int_equal(d->kind, COMMAND_MODIFY_INSTANCE);
    assert_int_equal(d->load, BROKER_LOAD_ADDS);
    assert_string_equal(d->rest_route, "/v2/process-instances/{processInstanceKey}/modification");
    assert_int_equal(d->rest_status, 204);
    d = command_find_grpc("/gateway_protocol.Gateway/MigrateProcessInstance");
    assert_non_null(d);
    assert_int_equal(d->kind, COMMAND_MIGRATE_INSTANCE);
    assert_string_equal(d->rest_route, "/v2/process-instances/{processInstanceKey}/migration");
    assert_int_equal(d->rest_status, 204);
    /* Signals have a row of their own, so that their refusal is specific. */
    d = command_find_grpc("/gateway_protocol.Gateway/BroadcastSignal");
    assert_non_null(d);
    assert_int_equal(d->kind, COMMAND_BROADCAST_SIGNAL);
    assert_string_equal(d->rest_method, "POST");
    assert_string_equal(d->rest_route, "/v2/signals/broadcast");
    d = command_find_grpc("/gateway_protocol.Gateway/PublishMessage");
    assert_non_null(d);
    assert_int_equal(d->kind, COMMAND_PUBLISH_MESSAGE);
    assert_int_equal(d->load, BROKER_LOAD_ADDS);
    assert_string_equal(d->rest_method, "POST");
    assert_string_equal(d->rest_route, "/v2/messages/publication");
    assert_int_equal(d->rest_status, 200);
    /* The correlation is REST only (Camunda 8.8 has no RPC for it). */
    const command_def *corr = NULL;
    for (size_t i = 0; i < command_table_len; i++)
        if (command_table[i].kind == COMMAND_CORRELATE_MESSAGE)
            corr = &command_table[i];
    assert_non_null(corr);
    assert_null(corr->grpc_service);
    assert_string_equal(corr->rest_route, "/v2/messages/correlation");
    assert_int_equal(corr->load, BROKER_LOAD_ADDS);
    assert_int_equal(corr->rest_status, 200);
    d = command_find_grpc("/chute.v1.Chute/AssignUserTask");
    assert_non_null(d);
    assert_int_equal(d->kind, COMMAND_ASSIGN_USER_TASK);
    assert_string_equal(d->rest_route, "/v2/user-tasks/{userTaskKey}/assignment");
    assert_int_equal(d->rest_status, 204);
    d = command_find_grpc("/chute.v1.Chute/ListUserTasks");
    assert_non_null(d);
    assert_int_equal(d->kind, COMMAND_SEARCH_USER_TASKS);
    d = command_find_grpc("/chute.v1.Chute/CompleteUserTask");
    assert_non_null(d);
    assert_string_equal(d->rest_route, "/v2/user-tasks/{userTaskKey}/completion");
    d = command_find_grpc("/gateway_protocol.Gateway/EvaluateDecision");
    assert_non_null(d);
    assert_int_equal(d->kind, COMMAND_EVALUATE_DECISION);
    assert_int_equal(d->load, BROKER_LOAD_ADDS);
    assert_string_equal(d->rest_method, "POST");
    assert_string_equal(d->rest_route, "/v2/decision-definitions/evaluation");
    assert_int_equal(d->rest_status, 200);
    assert_null(command_find_grpc("/chute.v1.Chute/EvaluateDecision"));
    assert_null(command_find_grpc("/chute.v1.Chute/CompleteJob")); /* wrong service */
    assert_null(command_find_grpc("/gateway_protocol.Gateway/"));
    /* Every row has a way in, and a REST row its success status. */
    for (size_t i = 0; i < command_table_len; i++) {
        const command_def *r = &command_table[i];
        assert_true(r->grpc_service || r->rest_route);
        /* A bidirectional stream (ZenBPM's JobStream) has no request
         * message to decode: the gateway decodes each message of it. */
        assert_true((r->grpc_service != NULL) == (r->grpc_decode != NULL) ||
                    r->kind == COMMAND_JOB_STREAM);
        if (r->rest_route)
            assert_true(r->rest_status >= 200 && r->rest_status < 300);
    }
    char methods[512];
    command_grpc_methods("/gateway_protocol.Gateway/", methods, sizeof methods);
    assert_non_null(strstr(methods, "ActivateJobs, StreamActivatedJobs, Topology"));
    assert_non_null(strstr(methods, "CreateProcessInstance, CreateProcessInstanceWithResult, "
                                    "CancelProcessInstance, SetVariables, DeleteResource, "
                                    "PublishMessage, ModifyProcessInstance, "
                                    "MigrateProcessInstance"));
    assert_null(strstr(methods, "CreateJob"));
    assert_null(strstr(methods, "BroadcastSignal")); /* refused, not served */
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

/* ---- decisions ------------------------------------------------------------------------ */

/* "level" requires "band": a failure of band (two rules under UNIQUE for
 * 5..9) fails level. */
static const char levels_dmn[] =
    "<definitions xmlns=\"https://www.omg.org/spec/DMN/20191111/MODEL/\" id=\"levels\" "
    "name=\"Levels\" namespace=\"x\">"
    "<decision id=\"level\" name=\"Level\"><informationRequirement><requiredDecision "
    "href=\"#band\"/></informationRequirement><literalExpression><text>upper case(band)</text>"
    "</literalExpression></decision>"
    "<decision id=\"band\" name=\"Band\"><decisionTable><input id=\"i\" label=\"Score\">"
    "<inputExpression><text>score</text></inputExpression></input><output id=\"o\" name=\"band\"/>"
    "<rule id=\"r1\"><inputEntry><text>&gt;= 5</text></inputEntry><outputEntry><text>\"high\""
    "</text></outputEntry></rule>"
    "<rule id=\"r2\"><inputEntry><text>&lt; 10</text></inputEntry><outputEntry><text>\"low\""
    "</text></outputEntry></rule></decisionTable></decision></definitions>";

static void test_decisions(void **state)
{
    fx *f = *state;
    static const char p_xml[] =
        "<definitions xmlns=\"http://www.omg.org/spec/BPMN/20100524/MODEL\" id=\"d\">"
        "<process id=\"p\" isExecutable=\"true\"><startEvent id=\"s\"/></process>"
        "</definitions>";
    /* A deployment answers its decisions, beside its processes. */
    chute_resource r[2] = {
        {.name = "levels.dmn", .content = (const uint8_t *)levels_dmn, .len = strlen(levels_dmn)},
        {.name = "p.bpmn", .content = (const uint8_t *)p_xml, .len = strlen(p_xml)}};
    command c = {.kind = COMMAND_DEPLOY, .resources = r, .nresources = 2};
    seen *s = run(f, &c);
    assert_int_equal(s->rc, 0);
    assert_int_equal(s->nprocs, 1);
    assert_int_equal(s->ndecs, 2);
    assert_string_equal(s->decs, "level@1/1,band@1/1");
    /* Evaluated by id: the output, a fresh key, each decision once. */
    command ev = {.kind = COMMAND_EVALUATE_DECISION,
                  .decision_id = "level",
                  .variables = "{\"score\":12}",
                  .variables_len = 12};
    s = run(f, &ev);
    assert_int_equal(s->rc, 0);
    assert_string_equal(s->output, "\"HIGH\"");
    assert_string_equal(s->failed_id, "");
    assert_string_equal(s->evaluated, "band=\"high\",level=\"HIGH\"");
    int64_t level = s->decision_key, key = s->evaluation_key;
    assert_true(key > level);
    /* By key (no id), as Zeebe takes it. */
    command bykey = {.kind = COMMAND_EVALUATE_DECISION,
                     .decision_id = "",
                     .decision_key = level,
                     .variables = "{\"score\":1}",
                     .variables_len = 11};
    s = run(f, &bykey);
    assert_int_equal(s->rc, 0);
    assert_int_equal(s->decision_key, level);
    assert_string_equal(s->output, "\"LOW\"");
    assert_true(s->evaluation_key > key);
    /* An evaluation that fails is an answer naming the decision that
     * failed, not an error. */
    ev.variables = "{\"score\":7}";
    ev.variables_len = 11;
    s = run(f, &ev);
    assert_int_equal(s->answered, 1);
    assert_int_equal(s->rc, 0);
    assert_string_equal(s->output, "null");
    assert_string_equal(s->failed_id, "band");
    assert_non_null(strstr(s->failure, "Expected to evaluate decision 'level', but failed to "
                                       "evaluate its required decision 'band'"));
    assert_string_equal(s->evaluated, "band=null");
    /* Errors: an unknown decision, variables that are no object, nothing
     * named. */
    command unknown = {.kind = COMMAND_EVALUATE_DECISION, .decision_id = "nope"};
    s = run(f, &unknown);
    assert_int_equal(s->rc, CHUTE_ENOTFOUND);
    assert_string_equal(
        s->message, "Expected to evaluate decision 'nope', but no decision found for id 'nope'");
    ev.variables = "[1]";
    ev.variables_len = 3;
    s = run(f, &ev);
    assert_int_equal(s->rc, CHUTE_EINVAL);
    command none = {.kind = COMMAND_EVALUATE_DECISION, .decision_id = ""};
    s = run(f, &none);
    assert_int_equal(s->rc, CHUTE_EINVAL);
    assert_non_null(strstr(s->message, "Expected either a decision id or a valid decision key"));
    /* Refused under load, before the engine sees it. */
    const command_def *d = command_find_grpc("/gateway_protocol.Gateway/EvaluateDecision");
    assert_non_null(d);
    assert_int_equal(d->load, BROKER_LOAD_ADDS);
}

/* ---- process instances ---------------------------------------------------------------
 *
 * The tests marked "runtime" need the process runtime of the engine; the
 * others check rules of the command layer that hold before any engine
 * call, or the broker's timers.
 */

static const char pay_xml[] =
    "<definitions xmlns=\"http://www.omg.org/spec/BPMN/20100524/MODEL\" "
    "xmlns:zeebe=\"http://camunda.org/schema/zeebe/1.0\" id=\"d\">"
    "<process id=\"pay-process\" isExecutable=\"true\"><startEvent id=\"s\"/>"
    "<sequenceFlow id=\"f1\" sourceRef=\"s\" targetRef=\"t\"/>"
    "<serviceTask id=\"t\" name=\"Pay\"><extensionElements>"
    "<zeebe:taskDefinition type=\"pay\"/></extensionElements></serviceTask>"
    "<sequenceFlow id=\"f2\" sourceRef=\"t\" targetRef=\"e\"/><endEvent id=\"e\"/>"
    "</process></definitions>";

static const char straight_xml[] =
    "<definitions xmlns=\"http://www.omg.org/spec/BPMN/20100524/MODEL\" id=\"d\">"
    "<process id=\"straight\" isExecutable=\"true\"><startEvent id=\"s\"/>"
    "<sequenceFlow id=\"f1\" sourceRef=\"s\" targetRef=\"e\"/><endEvent id=\"e\"/>"
    "</process></definitions>";

/*
 * Skips a test that needs the process runtime while the engine only has
 * its placeholder, which refuses every instance call ("process instances
 * are not built yet"); with the runtime the probe is a plain NOT_FOUND and
 * the test runs.
 */
static void need_runtime(fx *f)
{
    chute_instance_spec spec = {.bpmn_process_id = "probe", .version = -1};
    chute_instance_view v;
    chute_awaiter *a = NULL;
    chute_error err;
    if (chute_engine_create_instance(f->e, &spec, NULL, &v, &a, &err) == CHUTE_EINVAL &&
        strstr(err.message, "not built yet")) {
        print_message("needs the process runtime (the engine has its placeholder): skipped\n");
        skip();
    }
}

/* Deploys |xml| as |name| and returns its process's key. */
static int64_t deploy(fx *f, const char *name, const char *xml)
{
    chute_resource r = {.name = name, .content = (const uint8_t *)xml, .len = strlen(xml)};
    command c = {.kind = COMMAND_DEPLOY, .resources = &r, .nresources = 1};
    seen *s = run(f, &c);
    assert_int_equal(s->rc, 0);
    assert_int_equal(s->nprocs, 1);
    return s->proc_key;
}

static command create_cmd(const char *id, const char *vars)
{
    command c = {.kind = COMMAND_CREATE_INSTANCE,
                 .bpmn_process_id = id,
                 .version = -1,
                 .variables = vars,
                 .variables_len = vars ? strlen(vars) : 0};
    return c;
}

/* Creates an instance of |id| (runtime) and returns its key. */
static int64_t create_instance(fx *f, const char *id, const char *vars)
{
    command c = create_cmd(id, vars);
    seen *s = run(f, &c);
    assert_int_equal(s->rc, 0);
    assert_true(s->instance_key > 0);
    return s->instance_key;
}

/* Runs an awaiting create through the second call. */
static seen *start_await(fx *f, const command *c)
{
    memset(&f->as, 0, sizeof f->as);
    command_call_init(&f->acall, &await_ops, f->b, 4 << 20);
    command_run(&f->acall, c);
    broker_flush(f->b);
    return &f->as;
}

static chute_instance_state instance_state(fx *f, int64_t key)
{
    command get = {.kind = COMMAND_GET_INSTANCE, .key = key};
    seen *s = run(f, &get);
    assert_int_equal(s->rc, 0);
    return s->instance_state;
}

/* Activates the one job of type "pay" and completes it with |vars|. */
static void complete_pay(fx *f, const char *vars)
{
    int64_t job = activate_one(f, "pay");
    command done = {.kind = COMMAND_COMPLETE,
                    .key = job,
                    .variables = vars,
                    .variables_len = vars ? strlen(vars) : 0};
    assert_int_equal(run(f, &done)->rc, 0);
}

static void test_create_instance_rules(void **state)
{
    fx *f = *state;
    /* Neither an id nor a key: Zeebe's words, before the engine is asked. */
    command none = create_cmd("", NULL);
    seen *s = run(f, &none);
    assert_int_equal(s->rc, CHUTE_EINVAL);
    assert_string_equal(s->message, "Expected at least a bpmnProcessId or a key greater than -1, "
                                    "but none given");
    none.process_definition_key = -1;
    assert_int_equal(run(f, &none)->rc, CHUTE_EINVAL);
    command starts = create_cmd("pay-process", NULL);
    starts.start_instructions = 1;
    s = run(f, &starts);
    assert_int_equal(s->rc, CHUTE_EINVAL);
    assert_non_null(strstr(s->message, "startInstructions"));
    /* An await with a negative requestTimeout, and one while the front
     * end closes: refused, nothing waits. */
    command aw = create_cmd("pay-process", NULL);
    aw.await = 1;
    aw.request_timeout_ms = -1;
    s = start_await(f, &aw);
    assert_int_equal(s->answered, 1);
    assert_int_equal(s->rc, CHUTE_EINVAL);
    assert_non_null(strstr(s->message, "requestTimeout"));
    assert_false(command_call_waiting(&f->acall));
    aw.request_timeout_ms = CHUTE_DURATION_MAX_MS + 1;
    assert_int_equal(start_await(f, &aw)->rc, CHUTE_EINVAL);
    aw.request_timeout_ms = 0;
    memset(&f->as, 0, sizeof f->as);
    command_call_init(&f->acall, &await_ops, f->b, 4 << 20);
    f->acall.no_wait = 1;
    command_run(&f->acall, &aw);
    assert_int_equal(f->as.answered, 1);
    assert_int_equal(f->as.rc, CHUTE_EUNAVAIL);
    assert_false(command_call_waiting(&f->acall));
}

static void test_search_rules(void **state)
{
    fx *f = *state;
    /* Elements and variables are listed per instance. */
    command elements = {.kind = COMMAND_SEARCH_ELEMENTS};
    seen *s = run(f, &elements);
    assert_int_equal(s->rc, CHUTE_EINVAL);
    assert_non_null(strstr(s->message, "processInstanceKey"));
    /* A scope key alone names its instance while it is active; an unknown
     * one matches nothing. */
    command variables = {.kind = COMMAND_SEARCH_VARIABLES, .search = {.scope_key = 7}};
    s = run(f, &variables);
    assert_int_equal(s->rc, 0);
    assert_int_equal(s->items, 0);
    /* Another tenant matches nothing, without asking the engine. */
    command other = {.kind = COMMAND_SEARCH_VARIABLES, .search = {.no_match = 1}};
    s = run(f, &other);
    assert_int_equal(s->rc, 0);
    assert_int_equal(s->items, 0);
    assert_int_equal(s->page.total, 0);
    command instances = {.kind = COMMAND_SEARCH_INSTANCES, .search = {.no_match = 1}};
    s = run(f, &instances);
    assert_int_equal(s->rc, 0);
    assert_int_equal(s->page.total, 0);
    /* A fresh engine has no incidents. */
    command incidents = {.kind = COMMAND_SEARCH_INCIDENTS, .search = {.limit = 10}};
    s = run(f, &incidents);
    assert_int_equal(s->rc, 0);
    assert_int_equal(s->page.total, 0);
    assert_false(s->page.more);
}

typedef struct timer_probe {
    broker_timer t;
    int fired;
} timer_probe;

static void on_probe(broker_timer *t)
{
    ((timer_probe *)t)->fired++;
}

/* Runs the loop until |*flag| is set or |rounds| pass. */
static void run_until(fx *f, const int *flag, int rounds)
{
    while (!*flag && rounds-- > 0)
        uv_run(&f->loop, UV_RUN_ONCE);
}

static void test_broker_timers(void **state)
{
    fx *f = *state;
    chute_error err;
    timer_probe a = {0}, b = {0}, c = {0};
    assert_false(broker_timer_armed(&a.t));
    assert_int_equal(broker_timer_start(f->b, &a.t, 30, on_probe, &err), 0);
    assert_int_equal(broker_timer_start(f->b, &b.t, 20, on_probe, &err), 0);
    assert_int_equal(broker_timer_start(f->b, &c.t, 60000, on_probe, &err), 0);
    assert_true(broker_timer_armed(&b.t));
    broker_timer_cancel(f->b, &b.t);
    assert_false(broker_timer_armed(&b.t));
    broker_timer_cancel(f->b, &b.t); /* twice is fine */
    /* Time is the engine's: the timer fires once its clock has passed. */
    f->now += 30;
    run_until(f, &a.fired, 1000);
    assert_int_equal(a.fired, 1);
    assert_int_equal(b.fired, 0);
    assert_int_equal(c.fired, 0);
    assert_false(broker_timer_armed(&a.t));
    assert_true(broker_timer_armed(&c.t));
    broker_timer_cancel(f->b, &c.t);
}

static void test_create_instance_and_get(void **state) /* runtime */
{
    fx *f = *state;
    need_runtime(f);
    int64_t pdk = deploy(f, "pay.bpmn", pay_xml);
    command c = create_cmd("pay-process", "{\"a\":1}");
    seen *s = run(f, &c);
    assert_int_equal(s->rc, 0);
    assert_int_equal(s->kind, COMMAND_CREATE_INSTANCE);
    assert_false(s->awaited);
    assert_int_equal(s->instance_state, CHUTE_INSTANCE_ACTIVE);
    int64_t key = s->instance_key;
    assert_int_equal(instance_state(f, key), CHUTE_INSTANCE_ACTIVE);
    /* By key, when no id is given. */
    command by_key = create_cmd("", NULL);
    by_key.process_definition_key = pdk;
    s = run(f, &by_key);
    assert_int_equal(s->rc, 0);
    assert_true(s->instance_key != key);
    /* Unknown id, version, key: NOT_FOUND in the engine's words. */
    command unknown = create_cmd("nope", NULL);
    s = run(f, &unknown);
    assert_int_equal(s->rc, CHUTE_ENOTFOUND);
    assert_non_null(strstr(s->message, "Expected to find process definition with process ID "
                                       "'nope', but none found"));
    command old = create_cmd("pay-process", NULL);
    old.version = 7;
    assert_int_equal(run(f, &old)->rc, CHUTE_ENOTFOUND);
    by_key.process_definition_key = pdk + 1000;
    assert_int_equal(run(f, &by_key)->rc, CHUTE_ENOTFOUND);
    /* Variables that are not an object, or not JSON. */
    command bad = create_cmd("pay-process", "[1]");
    assert_int_equal(run(f, &bad)->rc, CHUTE_EINVAL);
    command broken = create_cmd("pay-process", "{\"a\":");
    assert_int_equal(run(f, &broken)->rc, CHUTE_EINVAL);
    command get = {.kind = COMMAND_GET_INSTANCE, .key = key + 1000};
    assert_int_equal(run(f, &get)->rc, CHUTE_ENOTFOUND);
}

static void test_await_completes_with_variables(void **state) /* runtime */
{
    fx *f = *state;
    need_runtime(f);
    deploy(f, "pay.bpmn", pay_xml);
    const char *fetch[] = {"a", "c"};
    command c = create_cmd("pay-process", "{\"a\":1,\"b\":2}");
    c.await = 1;
    c.fetch_names = fetch;
    c.nfetch = 2;
    seen *as = start_await(f, &c);
    assert_int_equal(as->answered, 0);
    assert_true(command_call_waiting(&f->acall));
    /* The job's completion ends the instance: the awaited call is
     * answered from inside that engine call, once. */
    complete_pay(f, "{\"c\":3}");
    assert_int_equal(as->answered, 1);
    assert_int_equal(as->rc, 0);
    assert_true(as->awaited);
    assert_int_equal(as->instance_state, CHUTE_INSTANCE_COMPLETED);
    assert_non_null(strstr(as->variables, "\"a\":1"));
    assert_non_null(strstr(as->variables, "\"c\":3"));
    assert_null(strstr(as->variables, "\"b\""));
    assert_false(command_call_waiting(&f->acall));
}

static void test_await_ends_at_once(void **state) /* runtime */
{
    fx *f = *state;
    need_runtime(f);
    deploy(f, "straight.bpmn", straight_xml);
    command c = create_cmd("straight", "{\"x\":true}");
    c.await = 1;
    seen *as = start_await(f, &c);
    assert_int_equal(as->answered, 1);
    assert_int_equal(as->rc, 0);
    assert_true(as->awaited);
    assert_int_equal(as->instance_state, CHUTE_INSTANCE_COMPLETED);
    assert_non_null(strstr(as->variables, "\"x\":true"));
    assert_false(command_call_waiting(&f->acall));
}

static void test_await_timeout(void **state) /* runtime */
{
    fx *f = *state;
    need_runtime(f);
    deploy(f, "pay.bpmn", pay_xml);
    command c = create_cmd("pay-process", NULL);
    c.await = 1;
    c.request_timeout_ms = 50;
    seen *as = start_await(f, &c);
    assert_int_equal(as->answered, 0);
    f->now += 49;
    uv_run(&f->loop, UV_RUN_NOWAIT);
    assert_int_equal(as->answered, 0);
    f->now += 1;
    run_until(f, &as->answered, 1000);
    assert_int_equal(as->answered, 1);
    assert_int_equal(as->rc, CHUTE_ETIMEDOUT);
    assert_non_null(strstr(as->message, "requestTimeout of 50 ms"));
    assert_non_null(strstr(as->message, "keeps running"));
    assert_false(command_call_waiting(&f->acall));
    /* The instance runs on; its end answers nobody again. */
    int64_t key = f->acall.await_key;
    assert_int_equal(instance_state(f, key), CHUTE_INSTANCE_ACTIVE);
    complete_pay(f, NULL);
    assert_int_equal(as->answered, 1);
    assert_int_equal(instance_state(f, key), CHUTE_INSTANCE_COMPLETED);
}

static void test_await_default_timeout(void **state) /* runtime */
{
    fx *f = *state;
    need_runtime(f);
    deploy(f, "pay.bpmn", pay_xml);
    command c = create_cmd("pay-process", NULL);
    c.await = 1;
    seen *as = start_await(f, &c);
    assert_true(command_call_waiting(&f->acall));
    assert_int_equal(f->acall.await_timeout_ms, COMMAND_DEFAULT_AWAIT_TIMEOUT_MS);
    f->now += COMMAND_DEFAULT_AWAIT_TIMEOUT_MS;
    run_until(f, &as->answered, 1000);
    assert_int_equal(as->rc, CHUTE_ETIMEDOUT);
}

static void test_await_client_gone(void **state) /* runtime */
{
    fx *f = *state;
    need_runtime(f);
    deploy(f, "pay.bpmn", pay_xml);
    command c = create_cmd("pay-process", NULL);
    c.await = 1;
    seen *as = start_await(f, &c);
    int64_t key = f->acall.await_key;
    assert_true(command_call_waiting(&f->acall));
    /* The client went away: the awaiter leaves the engine, the timer the
     * broker; the instance's end and the timeout answer nothing. */
    command_call_cancel(&f->acall);
    assert_false(command_call_waiting(&f->acall));
    assert_false(broker_timer_armed(&f->acall.await_timer));
    command_call_cancel(&f->acall); /* twice is fine */
    complete_pay(f, NULL);
    f->now += 60000;
    uv_run(&f->loop, UV_RUN_NOWAIT);
    assert_int_equal(as->answered, 0);
    assert_int_equal(instance_state(f, key), CHUTE_INSTANCE_COMPLETED);
}

static void test_await_terminated_and_closing(void **state) /* runtime */
{
    fx *f = *state;
    need_runtime(f);
    deploy(f, "pay.bpmn", pay_xml);
    command c = create_cmd("pay-process", NULL);
    c.await = 1;
    seen *as = start_await(f, &c);
    int64_t key = f->acall.await_key;
    /* Cancelled while awaited: an error, at once. */
    command cancel = {.kind = COMMAND_CANCEL_INSTANCE, .key = key};
    assert_int_equal(run(f, &cancel)->rc, 0);
    assert_int_equal(as->answered, 1);
    assert_int_equal(as->rc, CHUTE_ESTATE);
    assert_non_null(strstr(as->message, "terminated"));
    assert_false(command_call_waiting(&f->acall));
    assert_int_equal(instance_state(f, key), CHUTE_INSTANCE_TERMINATED);
    /* The front end closes: UNAVAILABLE, once; the instance runs on. */
    as = start_await(f, &c);
    key = f->acall.await_key;
    command_call_expire(&f->acall);
    assert_int_equal(as->answered, 1);
    assert_int_equal(as->rc, CHUTE_EUNAVAIL);
    assert_false(command_call_waiting(&f->acall));
    command_call_expire(&f->acall);
    complete_pay(f, NULL);
    assert_int_equal(as->answered, 1);
    assert_int_equal(instance_state(f, key), CHUTE_INSTANCE_COMPLETED);
}

static void test_set_variables_and_searches(void **state) /* runtime */
{
    fx *f = *state;
    need_runtime(f);
    deploy(f, "pay.bpmn", pay_xml);
    int64_t key = create_instance(f, "pay-process", "{\"a\":1}");
    command set = {.kind = COMMAND_SET_VARIABLES,
                   .key = key,
                   .variables = "{\"b\":\"x\"}",
                   .variables_len = 9};
    seen *s = run(f, &set);
    assert_int_equal(s->rc, 0);
    assert_true(s->set_key > 0);
    command set_bad = set;
    set_bad.variables = "[";
    set_bad.variables_len = 1;
    assert_int_equal(run(f, &set_bad)->rc, CHUTE_EINVAL);
    command set_none = set;
    set_none.key = key + 1000;
    assert_int_equal(run(f, &set_none)->rc, CHUTE_ENOTFOUND);

    command vars = {.kind = COMMAND_SEARCH_VARIABLES,
                    .search = {.process_instance_key = key, .limit = 100}};
    s = run(f, &vars);
    assert_int_equal(s->rc, 0);
    assert_int_equal(s->page.total, 2);
    assert_string_equal(s->found, "a=1,b=\"x\"");
    vars.search.name = "b";
    s = run(f, &vars);
    assert_int_equal(s->page.total, 1);
    assert_string_equal(s->found, "b=\"x\"");
    /* The root scope's key alone finds the same variables. */
    command by_scope = {.kind = COMMAND_SEARCH_VARIABLES,
                        .search = {.scope_key = key, .limit = 100}};
    s = run(f, &by_scope);
    assert_int_equal(s->rc, 0);
    assert_int_equal(s->page.total, 2);
    /* An unknown instance has no variables: no error. */
    vars.search.process_instance_key = key + 1000;
    s = run(f, &vars);
    assert_int_equal(s->rc, 0);
    assert_int_equal(s->page.total, 0);

    command elements = {.kind = COMMAND_SEARCH_ELEMENTS,
                        .search = {.process_instance_key = key, .element_id = "t"}};
    s = run(f, &elements);
    assert_int_equal(s->rc, 0);
    assert_int_equal(s->page.total, 1);
    assert_string_equal(s->found, "t");
    elements.search.element_id = NULL;
    elements.search.element_type = "PROCESS";
    s = run(f, &elements);
    assert_int_equal(s->page.total, 1);
    assert_int_equal(s->first_key, key);

    create_instance(f, "pay-process", NULL);
    create_instance(f, "pay-process", NULL);
    command instances = {.kind = COMMAND_SEARCH_INSTANCES,
                         .search = {.bpmn_process_id = "pay-process", .limit = 100}};
    s = run(f, &instances);
    assert_int_equal(s->page.total, 3);
    assert_int_equal(s->items, 3);
    assert_string_equal(s->found, "ACTIVE,ACTIVE,ACTIVE");
    /* A page: the count stays the whole. */
    instances.search.from = 1;
    instances.search.limit = 1;
    s = run(f, &instances);
    assert_int_equal(s->page.total, 3);
    assert_int_equal(s->items, 1);
    instances.search.from = 0;
    instances.search.limit = 100;
    instances.search.state = CHUTE_INSTANCE_COMPLETED;
    assert_int_equal(run(f, &instances)->page.total, 0);
    instances.search.state = 0;
    instances.search.process_instance_key = key;
    s = run(f, &instances);
    assert_int_equal(s->page.total, 1);
    assert_int_equal(s->first_key, key);

    /* A failed job of the instance is an incident of it. */
    command incidents = {.kind = COMMAND_SEARCH_INCIDENTS,
                         .search = {.process_instance_key = key, .limit = 100}};
    assert_int_equal(run(f, &incidents)->page.total, 0);
    int64_t job = activate_one(f, "pay");
    chute_job_view v;
    chute_error err;
    assert_int_equal(chute_engine_get(f->e, job, &v, &err), 0);
    command fail = {.kind = COMMAND_FAIL, .key = job, .retries = 0, .error_message = "no"};
    assert_int_equal(run(f, &fail)->rc, 0);
    s = run(f, &incidents);
    assert_int_equal(s->page.total, v.process.process_instance_key == key ? 1 : 0);
    if (s->items)
        assert_string_equal(s->found, "JOB_NO_RETRIES");
    incidents.search.incident_state = 2; /* RESOLVED */
    assert_int_equal(run(f, &incidents)->page.total, 0);
    instances.search.process_instance_key = 0;
    instances.search.has_incident = 1;
    s = run(f, &instances);
    assert_int_equal(s->page.total, 1);
}

static void test_cancel_and_delete(void **state) /* runtime */
{
    fx *f = *state;
    need_runtime(f);
    int64_t pdk = deploy(f, "pay.bpmn", pay_xml);
    int64_t key = create_instance(f, "pay-process", NULL);
    /* A definition with active instances stays. */
    command del = {.kind = COMMAND_DELETE_RESOURCE, .key = pdk};
    assert_int_equal(run(f, &del)->rc, CHUTE_ESTATE);
    command cancel = {.kind = COMMAND_CANCEL_INSTANCE, .key = key};
    assert_int_equal(run(f, &cancel)->rc, 0);
    assert_int_equal(run(f, &cancel)->rc, CHUTE_ENOTFOUND);
    assert_int_equal(instance_state(f, key), CHUTE_INSTANCE_TERMINATED);
    assert_int_equal(run(f, &del)->rc, 0);
    assert_int_equal(run(f, &del)->rc, CHUTE_ENOTFOUND);
    command again = create_cmd("pay-process", NULL);
    assert_int_equal(run(f, &again)->rc, CHUTE_ENOTFOUND);
}

static const char gate_xml[] =
    "<definitions xmlns=\"http://www.omg.org/spec/BPMN/20100524/MODEL\" "
    "xmlns:zeebe=\"http://camunda.org/schema/zeebe/1.0\" id=\"d\">"
    "<process id=\"gate\" isExecutable=\"true\"><startEvent id=\"s\"/>"
    "<sequenceFlow id=\"f1\" sourceRef=\"s\" targetRef=\"g\"/><exclusiveGateway id=\"g\"/>"
    "<sequenceFlow id=\"f2\" sourceRef=\"g\" targetRef=\"e\">"
    "<conditionExpression>=x &gt; 10</conditionExpression></sequenceFlow><endEvent id=\"e\"/>"
    "</process></definitions>";

/* GetProcessInstance's command: the instance, its element instances and its
 * incidents; and ListIncidents listing incidents of processes (on an
 * element, on a job) beside those of standalone jobs. */
static void test_instance_details_and_process_incidents(void **state) /* runtime */
{
    fx *f = *state;
    need_runtime(f);
    deploy(f, "pay.bpmn", pay_xml);
    deploy(f, "gate.bpmn", gate_xml);
    int64_t key = create_instance(f, "pay-process", "{\"amount\":5}");
    command details = {.kind = COMMAND_INSTANCE_DETAILS, .key = key};
    seen *s = run(f, &details);
    assert_int_equal(s->rc, 0);
    assert_int_equal(s->instance_key, key);
    assert_int_equal(s->instance_state, CHUTE_INSTANCE_ACTIVE);
    assert_string_equal(s->variables, "{\"amount\":5}");
    assert_string_equal(s->found, "pay-process,s,t"); /* the process, its start, the task */
    assert_int_equal(s->listed, 0);

    /* The task's job fails without retries: an incident on the job. */
    int64_t job = activate_one(f, "pay");
    command fail = {.kind = COMMAND_FAIL, .key = job, .retries = 0, .error_message = "card"};
    assert_int_equal(run(f, &fail)->rc, 0);
    /* A gateway no flow leaves: an incident on the element, without a job. */
    int64_t gate = create_instance(f, "gate", "{\"x\":1}");
    /* And one of a standalone job. */
    create(f, "solo");
    int64_t solo = activate_one(f, "solo");
    command fail_solo = {.kind = COMMAND_FAIL, .key = solo, .retries = 0, .error_message = "x"};
    assert_int_equal(run(f, &fail_solo)->rc, 0);

    command all = {.kind = COMMAND_LIST_INCIDENTS};
    s = run(f, &all);
    assert_int_equal(s->listed, 3);
    assert_string_equal(s->found, "JOB_NO_RETRIES@t/pay,CONDITION_ERROR@g/-,JOB_NO_RETRIES@-/solo");
    /* A job type filter leaves out the incident without a job. */
    command pay_only = {.kind = COMMAND_LIST_INCIDENTS, .type = "pay"};
    s = run(f, &pay_only);
    assert_string_equal(s->found, "JOB_NO_RETRIES@t/pay");
    command limited = {.kind = COMMAND_LIST_INCIDENTS, .limit = 2};
    assert_int_equal(run(f, &limited)->listed, 2);

    details.key = gate;
    s = run(f, &details);
    assert_int_equal(s->rc, 0);
    assert_string_equal(s->found, "gate,s,g,CONDITION_ERROR@g/-");
    int64_t incident = s->incident_key;

    /* Fixed and resolved, the gateway's instance completes and keeps the
     * resolved incident in its history. */
    command fix = {
        .kind = COMMAND_SET_VARIABLES, .key = gate, .variables = "{\"x\":11}", .variables_len = 8};
    assert_int_equal(run(f, &fix)->rc, 0);
    command resolve = {.kind = COMMAND_RESOLVE_INCIDENT, .key = incident};
    assert_int_equal(run(f, &resolve)->rc, 0);
    s = run(f, &details);
    assert_int_equal(s->rc, 0);
    assert_int_equal(s->instance_state, CHUTE_INSTANCE_COMPLETED);
    assert_string_equal(s->found, "gate,s,g,e,CONDITION_ERROR@g/- (resolved)");
    assert_string_equal(s->variables, "{\"x\":11}");

    /* An ended instance is still shown. */
    command cancel = {.kind = COMMAND_CANCEL_INSTANCE, .key = key};
    assert_int_equal(run(f, &cancel)->rc, 0);
    details.key = key;
    s = run(f, &details);
    assert_int_equal(s->rc, 0);
    assert_int_equal(s->instance_state, CHUTE_INSTANCE_TERMINATED);
    assert_string_equal(s->found, "pay-process,s,t");
    s = run(f, &all);
    assert_string_equal(s->found, "JOB_NO_RETRIES@-/solo");

    details.key = 12345;
    s = run(f, &details);
    assert_int_equal(s->rc, CHUTE_ENOTFOUND);
}

/* ---- modification, migration, signals ---------------------------------------------------- */

static void test_signal_refused(void **state)
{
    fx *f = *state;
    command c = {.kind = COMMAND_BROADCAST_SIGNAL, .signal_name = "order-cancelled"};
    seen *s = run(f, &c);
    assert_int_equal(s->answered, 1);
    assert_int_equal(s->rc, CHUTE_EUNIMPL);
    assert_non_null(strstr(s->message, "Expected to broadcast signal 'order-cancelled', but "
                                       "signals are not supported by Chute yet"));
}

static void test_modify_migrate_rules(void **state)
{
    fx *f = *state;
    /* A variable instruction for another scope than the flow scope. */
    command_variable_instruction v = {
        .variables = "{\"a\":1}", .variables_len = 7, .scope_id = "sub"};
    command_activation a = {.element_id = "t", .ancestor_key = -1, .vars = &v, .nvars = 1};
    command m = {.kind = COMMAND_MODIFY_INSTANCE, .key = 42, .activate = &a, .nactivate = 1};
    seen *s = run(f, &m);
    assert_int_equal(s->rc, CHUTE_EINVAL);
    assert_non_null(strstr(s->message, "got scopeId 'sub'"));
    /* No target definition. */
    command mig = {.kind = COMMAND_MIGRATE_INSTANCE, .key = 42};
    s = run(f, &mig);
    assert_int_equal(s->rc, CHUTE_EINVAL);
    assert_non_null(strstr(s->message, "targetProcessDefinitionKey, but none was given"));
}

static const char two_tasks_xml[] =
    "<definitions xmlns=\"http://www.omg.org/spec/BPMN/20100524/MODEL\" "
    "xmlns:zeebe=\"http://camunda.org/schema/zeebe/1.0\" id=\"d\">"
    "<process id=\"two\" isExecutable=\"true\"><startEvent id=\"s\"/>"
    "<sequenceFlow id=\"f1\" sourceRef=\"s\" targetRef=\"a\"/>"
    "<serviceTask id=\"a\"><extensionElements><zeebe:taskDefinition type=\"ta\"/>"
    "</extensionElements></serviceTask>"
    "<sequenceFlow id=\"f2\" sourceRef=\"a\" targetRef=\"b\"/>"
    "<serviceTask id=\"b\"><extensionElements><zeebe:taskDefinition type=\"tb\"/>"
    "</extensionElements></serviceTask>"
    "<sequenceFlow id=\"f3\" sourceRef=\"b\" targetRef=\"e\"/><endEvent id=\"e\"/>"
    "</process></definitions>";

/* The same process, version 2: b is followed by one more task. */
static const char two_tasks_v2_xml[] =
    "<definitions xmlns=\"http://www.omg.org/spec/BPMN/20100524/MODEL\" "
    "xmlns:zeebe=\"http://camunda.org/schema/zeebe/1.0\" id=\"d\">"
    "<process id=\"two\" isExecutable=\"true\"><startEvent id=\"s\"/>"
    "<sequenceFlow id=\"f1\" sourceRef=\"s\" targetRef=\"a\"/>"
    "<serviceTask id=\"a\"><extensionElements><zeebe:taskDefinition type=\"ta\"/>"
    "</extensionElements></serviceTask>"
    "<sequenceFlow id=\"f2\" sourceRef=\"a\" targetRef=\"b\"/>"
    "<serviceTask id=\"b\"><extensionElements><zeebe:taskDefinition type=\"tb\"/>"
    "</extensionElements></serviceTask>"
    "<sequenceFlow id=\"f3\" sourceRef=\"b\" targetRef=\"c\"/>"
    "<serviceTask id=\"c\"><extensionElements><zeebe:taskDefinition type=\"tc\"/>"
    "</extensionElements></serviceTask>"
    "<sequenceFlow id=\"f4\" sourceRef=\"c\" targetRef=\"e\"/><endEvent id=\"e\"/>"
    "</process></definitions>";

static void test_modify_and_migrate(void **state) /* runtime */
{
    fx *f = *state;
    need_runtime(f);
    int64_t v1 = deploy(f, "two.bpmn", two_tasks_xml);
    int64_t key = create_instance(f, "two", "{\"x\":1}");
    int64_t job_a = activate_one(f, "ta");
    chute_job_view jv;
    chute_error err;
    assert_int_equal(chute_engine_get(f->e, job_a, &jv, &err), 0);
    int64_t elem_a = jv.process.element_instance_key;

    /* Terminate a, put a token at b with two variable documents (merged,
     * the later wins). */
    command_variable_instruction vars[2] = {
        {.variables = "{\"y\":2,\"z\":1}", .variables_len = 13, .scope_id = ""},
        {.variables = "{\"z\":3}", .variables_len = 7, .scope_id = ""}};
    command_activation act = {.element_id = "b", .ancestor_key = -1, .vars = vars, .nvars = 2};
    int64_t term = elem_a;
    command mod = {.kind = COMMAND_MODIFY_INSTANCE,
                   .key = key,
                   .activate = &act,
                   .nactivate = 1,
                   .terminate = &term,
                   .nterminate = 1};
    seen *s = run(f, &mod);
    assert_int_equal(s->rc, 0);
    assert_int_equal(s->kind, COMMAND_MODIFY_INSTANCE);
    command done = {.kind = COMMAND_COMPLETE, .key = job_a};
    assert_int_equal(run(f, &done)->rc, CHUTE_ENOTFOUND); /* a's job went with it */
    int64_t job_b = activate_one(f, "tb");
    assert_int_equal(chute_engine_get(f->e, job_b, &jv, &err), 0);
    assert_string_equal(jv.process.element_id, "b");
    command details = {.kind = COMMAND_INSTANCE_DETAILS, .key = key};
    s = run(f, &details);
    assert_string_equal(s->variables, "{\"x\":1,\"y\":2,\"z\":3}");

    /* The engine's refusals come through as they are. */
    command_activation nope = {.element_id = "nope"};
    command bad = {.kind = COMMAND_MODIFY_INSTANCE, .key = key, .activate = &nope, .nactivate = 1};
    s = run(f, &bad);
    assert_int_equal(s->rc, CHUTE_EINVAL);
    assert_non_null(strstr(s->message, "'nope'"));
    bad.key = 12345;
    assert_int_equal(run(f, &bad)->rc, CHUTE_ENOTFOUND);

    /* Migrate to version 2 (b keeps its id): b's job now belongs to v2, and
     * its completion goes on to c, which v1 has not. */
    int64_t v2 = deploy(f, "two.bpmn", two_tasks_v2_xml);
    assert_true(v2 != v1);
    chute_mapping_instruction map = {"b", "b"};
    command mig = {.kind = COMMAND_MIGRATE_INSTANCE,
                   .key = key,
                   .process_definition_key = v2,
                   .mappings = &map,
                   .nmappings = 1};
    s = run(f, &mig);
    assert_int_equal(s->rc, 0);
    chute_instance_view iv;
    assert_int_equal(chute_engine_get_instance(f->e, key, &iv, &err), 0);
    assert_int_equal(iv.process_definition_key, v2);
    assert_int_equal(iv.version, 2);
    done.key = job_b;
    assert_int_equal(run(f, &done)->rc, 0);
    int64_t job_c = activate_one(f, "tc");
    done.key = job_c;
    assert_int_equal(run(f, &done)->rc, 0);
    assert_int_equal(instance_state(f, key), CHUTE_INSTANCE_COMPLETED);
    /* An ended instance cannot be migrated; an unknown target neither. */
    assert_int_equal(run(f, &mig)->rc, CHUTE_ENOTFOUND);
    int64_t other = create_instance(f, "two", NULL);
    mig.key = other;
    mig.process_definition_key = 999;
    assert_int_equal(run(f, &mig)->rc, CHUTE_ENOTFOUND);
    /* Terminating the last token ends the instance. */
    assert_int_equal(chute_engine_get(f->e, activate_one(f, "ta"), &jv, &err), 0);
    term = jv.process.element_instance_key;
    command last = {
        .kind = COMMAND_MODIFY_INSTANCE, .key = other, .terminate = &term, .nterminate = 1};
    assert_int_equal(run(f, &last)->rc, 0);
    assert_int_equal(instance_state(f, other), CHUTE_INSTANCE_TERMINATED);
}

static const char waiter_xml[] =
    "<definitions xmlns=\"http://www.omg.org/spec/BPMN/20100524/MODEL\" "
    "xmlns:zeebe=\"http://camunda.org/schema/zeebe/1.0\" id=\"d\">"
    "<message id=\"m_paid\" name=\"paid\"><extensionElements>"
    "<zeebe:subscription correlationKey=\"=orderId\"/></extensionElements></message>"
    "<process id=\"waiter\" isExecutable=\"true\"><startEvent id=\"s\"/>"
    "<sequenceFlow id=\"f1\" sourceRef=\"s\" targetRef=\"g\"/><eventBasedGateway id=\"g\"/>"
    "<sequenceFlow id=\"f2\" sourceRef=\"g\" targetRef=\"paid\"/>"
    "<sequenceFlow id=\"f3\" sourceRef=\"g\" targetRef=\"late\"/>"
    "<intermediateCatchEvent id=\"paid\"><messageEventDefinition messageRef=\"m_paid\"/>"
    "</intermediateCatchEvent>"
    "<intermediateCatchEvent id=\"late\"><timerEventDefinition>"
    "<timeDuration>PT1H</timeDuration></timerEventDefinition></intermediateCatchEvent>"
    "<sequenceFlow id=\"f4\" sourceRef=\"paid\" targetRef=\"e1\"/><endEvent id=\"e1\"/>"
    "<sequenceFlow id=\"f5\" sourceRef=\"late\" targetRef=\"e2\"/><endEvent id=\"e2\"/>"
    "</process></definitions>";

/* GetProcessInstance shows what an instance waits on: the timer and the
 * subscription of an event-based gateway; nothing once it ended. */
static void test_instance_waits(void **state) /* runtime */
{
    fx *f = *state;
    need_runtime(f);
    deploy(f, "waiter.bpmn", waiter_xml);
    int64_t key = create_instance(f, "waiter", "{\"orderId\":\"o-7\"}");
    command details = {.kind = COMMAND_INSTANCE_DETAILS, .key = key};
    seen *s = run(f, &details);
    assert_int_equal(s->rc, 0);
    char want[128];
    snprintf(want, sizeof want, "late:TIMER@%lld,paid:MESSAGE paid/o-7",
             (long long)(T0 + 3600 * 1000));
    assert_string_equal(s->waits, want);
    assert_true(s->wait_owner != key); /* the gateway's element instance waits */
    command cancel = {.kind = COMMAND_CANCEL_INSTANCE, .key = key};
    assert_int_equal(run(f, &cancel)->rc, 0);
    s = run(f, &details);
    assert_int_equal(s->rc, 0);
    assert_string_equal(s->waits, "");
}

/* ---- messages ---------------------------------------------------------------------------- */

/* An instance waits at a message catch event for "paid" with its orderId,
 * then ends. */
static const char wait_xml[] =
    "<bpmn:definitions xmlns:bpmn=\"http://www.omg.org/spec/BPMN/20100524/MODEL\" "
    "xmlns:zeebe=\"http://camunda.org/schema/zeebe/1.0\" id=\"d\">"
    "<bpmn:message id=\"m\" name=\"paid\"><bpmn:extensionElements>"
    "<zeebe:subscription correlationKey=\"=orderId\"/></bpmn:extensionElements></bpmn:message>"
    "<bpmn:process id=\"wait-paid\" isExecutable=\"true\"><bpmn:startEvent id=\"s\"/>"
    "<bpmn:sequenceFlow id=\"f1\" sourceRef=\"s\" targetRef=\"wait\"/>"
    "<bpmn:intermediateCatchEvent id=\"wait\"><bpmn:messageEventDefinition messageRef=\"m\"/>"
    "</bpmn:intermediateCatchEvent>"
    "<bpmn:sequenceFlow id=\"f2\" sourceRef=\"wait\" targetRef=\"e\"/><bpmn:endEvent id=\"e\"/>"
    "</bpmn:process></bpmn:definitions>";

/* Skips a test that needs the message runtime while the engine only has
 * its placeholder (CHUTE_EUNIMPL). */
static void need_messages(fx *f)
{
    chute_message_spec spec = {.name = "probe", .correlation_key = "probe"};
    chute_message_result r;
    chute_error err;
    if (chute_engine_publish_message(f->e, &spec, &r, &err) == CHUTE_EUNIMPL) {
        print_message("needs the message runtime (the engine has its placeholder): skipped\n");
        skip();
    }
    broker_flush(f->b);
}

static command publish_cmd(const char *name, const char *key, int64_t ttl_ms, const char *id,
                           const char *vars)
{
    command c = {.kind = COMMAND_PUBLISH_MESSAGE,
                 .message_name = name,
                 .correlation_key = key,
                 .ttl_ms = ttl_ms,
                 .message_id = id ? id : "",
                 .variables = vars,
                 .variables_len = vars ? strlen(vars) : 0};
    return c;
}

static command correlate_cmd(const char *name, const char *key, const char *vars)
{
    command c = publish_cmd(name, key, 0, NULL, vars);
    c.kind = COMMAND_CORRELATE_MESSAGE;
    return c;
}

/* The root variables of the instance |key|, into |f->s.variables|. */
static const char *root_variables(fx *f, int64_t key)
{
    command details = {.kind = COMMAND_INSTANCE_DETAILS, .key = key};
    seen *s = run(f, &details);
    assert_int_equal(s->rc, 0);
    return s->variables;
}

static void test_publish_correlates_to_a_waiting_instance(void **state) /* runtime */
{
    fx *f = *state;
    need_runtime(f);
    need_messages(f);
    deploy(f, "wait.bpmn", wait_xml);
    int64_t pi = create_instance(f, "wait-paid", "{\"orderId\":\"o-1\"}");
    assert_int_equal(instance_state(f, pi), CHUTE_INSTANCE_ACTIVE);
    /* Another key reaches nobody, and a publication is no error for that. */
    command other = publish_cmd("paid", "o-2", 0, NULL, NULL);
    seen *s = run(f, &other);
    assert_int_equal(s->rc, 0);
    assert_true(s->msg.key > 0);
    assert_int_equal(s->msg.correlated, 0);
    int64_t other_key = s->msg.key;
    assert_int_equal(instance_state(f, pi), CHUTE_INSTANCE_ACTIVE);
    /* Its key: the instance gets the message and its variables, and ends. */
    command paid = publish_cmd("paid", "o-1", 0, NULL, "{\"amount\":5}");
    s = run(f, &paid);
    assert_int_equal(s->rc, 0);
    int64_t first = s->msg.key;
    assert_true(first > other_key);
    assert_int_equal(s->msg.correlated, 1);
    assert_int_equal(s->msg.process_instance_key, pi);
    assert_int_equal(instance_state(f, pi), CHUTE_INSTANCE_COMPLETED);
    assert_non_null(strstr(root_variables(f, pi), "\"amount\":5"));
    /* Again: nothing waits any more. */
    s = run(f, &paid);
    assert_int_equal(s->rc, 0);
    assert_true(s->msg.key > first);
    assert_int_equal(s->msg.correlated, 0);
}

static void test_publish_buffers_for_its_ttl(void **state) /* runtime */
{
    fx *f = *state;
    need_runtime(f);
    need_messages(f);
    deploy(f, "wait.bpmn", wait_xml);
    /* Published before anyone waits, with a time to live: the instance that
     * opens its subscription later gets it. */
    command early = publish_cmd("paid", "o-3", 60000, NULL, "{\"early\":true}");
    seen *s = run(f, &early);
    assert_int_equal(s->rc, 0);
    assert_int_equal(s->msg.correlated, 0);
    int64_t pi = create_instance(f, "wait-paid", "{\"orderId\":\"o-3\"}");
    broker_flush(f->b);
    assert_int_equal(instance_state(f, pi), CHUTE_INSTANCE_COMPLETED);
    assert_non_null(strstr(root_variables(f, pi), "\"early\":true"));
    /* Never twice to instances of one process. */
    int64_t second = create_instance(f, "wait-paid", "{\"orderId\":\"o-3\"}");
    broker_flush(f->b);
    assert_int_equal(instance_state(f, second), CHUTE_INSTANCE_ACTIVE);
    /* Without a time to live nothing is kept. */
    command gone = publish_cmd("paid", "o-4", 0, NULL, NULL);
    assert_int_equal(run(f, &gone)->rc, 0);
    int64_t late = create_instance(f, "wait-paid", "{\"orderId\":\"o-4\"}");
    broker_flush(f->b);
    assert_int_equal(instance_state(f, late), CHUTE_INSTANCE_ACTIVE);
}

static void test_publish_errors(void **state) /* runtime */
{
    fx *f = *state;
    need_messages(f);
    /* A second message with the same id while the first lives: Zeebe's
     * words, ALREADY_EXISTS. */
    command one = publish_cmd("paid", "o-5", 60000, "m-1", NULL);
    seen *s = run(f, &one);
    assert_int_equal(s->rc, 0);
    s = run(f, &one);
    assert_int_equal(s->rc, CHUTE_EEXIST);
    assert_non_null(strstr(s->message, "Expected to publish a new message with id 'm-1', but a "
                                       "message with that id was already published"));
    /* The id is per name and correlation key. */
    command other_key = publish_cmd("paid", "o-6", 60000, "m-1", NULL);
    assert_int_equal(run(f, &other_key)->rc, 0);
    command blank = publish_cmd("", "o-5", 0, NULL, NULL);
    assert_int_equal(run(f, &blank)->rc, CHUTE_EINVAL);
    command negative = publish_cmd("paid", "o-5", -1, NULL, NULL);
    assert_int_equal(run(f, &negative)->rc, CHUTE_EINVAL);
    command not_object = publish_cmd("paid", "o-5", 0, NULL, "[1]");
    assert_int_equal(run(f, &not_object)->rc, CHUTE_EINVAL);
    command malformed = publish_cmd("paid", "o-5", 0, NULL, "{\"a\":");
    assert_int_equal(run(f, &malformed)->rc, CHUTE_EINVAL);
    /* A correlation's own error is the engine's, not NOT_FOUND. */
    command corr_blank = correlate_cmd("", "o-5", NULL);
    assert_int_equal(run(f, &corr_blank)->rc, CHUTE_EINVAL);
    command corr_bad = correlate_cmd("paid", "o-5", "[1]");
    assert_int_equal(run(f, &corr_bad)->rc, CHUTE_EINVAL);
}

static void test_correlate(void **state) /* runtime */
{
    fx *f = *state;
    need_runtime(f);
    need_messages(f);
    deploy(f, "wait.bpmn", wait_xml);
    /* Nothing waits: NOT_FOUND in Zeebe's words, and nothing is kept for a
     * later subscription. */
    command early = correlate_cmd("paid", "o-7", "{\"x\":1}");
    seen *s = run(f, &early);
    assert_int_equal(s->rc, CHUTE_ENOTFOUND);
    assert_string_equal(s->message,
                        "Command 'CORRELATE' rejected with code 'NOT_FOUND': Expected to find "
                        "subscription for message with name 'paid' and correlation key 'o-7', "
                        "but none was found.");
    int64_t pi = create_instance(f, "wait-paid", "{\"orderId\":\"o-7\"}");
    broker_flush(f->b);
    assert_int_equal(instance_state(f, pi), CHUTE_INSTANCE_ACTIVE);
    /* Now it waits: the message's key and the instance it reached. */
    command now = correlate_cmd("paid", "o-7", "{\"x\":2}");
    s = run(f, &now);
    assert_int_equal(s->rc, 0);
    assert_true(s->msg.key > 0);
    assert_int_equal(s->msg.process_instance_key, pi);
    assert_int_equal(instance_state(f, pi), CHUTE_INSTANCE_COMPLETED);
    assert_non_null(strstr(root_variables(f, pi), "\"x\":2"));
    /* A time to live or an id given anyway is not used: a correlation
     * keeps nothing, so it can be repeated. */
    command with_ttl = correlate_cmd("paid", "o-8", NULL);
    with_ttl.ttl_ms = 60000;
    with_ttl.message_id = "c-1";
    assert_int_equal(run(f, &with_ttl)->rc, CHUTE_ENOTFOUND);
    assert_int_equal(run(f, &with_ttl)->rc, CHUTE_ENOTFOUND);
    int64_t late = create_instance(f, "wait-paid", "{\"orderId\":\"o-8\"}");
    broker_flush(f->b);
    assert_int_equal(instance_state(f, late), CHUTE_INSTANCE_ACTIVE);
}

/* ---- user tasks ----------------------------------------------------------------------- */

/* The row of a REST route. */
static const command_def *rest_row(const char *method, const char *route)
{
    for (size_t i = 0; i < command_table_len; i++) {
        const command_def *d = &command_table[i];
        if (d->rest_route && strcmp(d->rest_method, method) == 0 &&
            strcmp(d->rest_route, route) == 0)
            return d;
    }
    fail_msg("no row for %s %s", method, route);
    return NULL;
}

/* Decodes |body| with the REST row of |method| |route|, sets |key| as the
 * front end does, and runs it. */
static seen *run_rest(fx *f, const char *method, const char *route, int64_t key, const char *body,
                      int *decoded)
{
    const command_def *d = rest_row(method, route);
    command c;
    chute_error err;
    memset(&f->s, 0, sizeof f->s);
    if (d->rest_decode) {
        command_rest_in in = {.body = body, .len = strlen(body), .query = "", .content_type = ""};
        *decoded = d->rest_decode(&in, &c, &err);
        if (*decoded != 0) {
            f->s.rc = *decoded;
            snprintf(f->s.message, sizeof f->s.message, "%s", err.message);
            return &f->s;
        }
    } else {
        memset(&c, 0, sizeof c);
        c.kind = d->kind;
        *decoded = 0;
    }
    c.key = key;
    seen *s = run(f, &c);
    command_free(&c);
    return s;
}

#define TASK "/v2/user-tasks/{userTaskKey}"

/* What holds before any task exists: the routes decode into their
 * commands, and a key of no open task is NOT_FOUND for every command. */
static void test_user_task_rules(void **state)
{
    fx *f = *state;
    int decoded;
    seen *s = run_rest(f, "POST", "/v2/user-tasks/search", 0,
                       "{\"filter\":{\"state\":\"CREATED\",\"assignee\":\"anna\"}}", &decoded);
    assert_int_equal(decoded, 0);
    assert_int_equal(s->rc, 0);
    assert_int_equal(s->kind, COMMAND_SEARCH_USER_TASKS);
    assert_int_equal(s->page.total, 0);
    s = run_rest(f, "POST", "/v2/user-tasks/search", 0, "{\"filter\":{\"state\":\"DONE\"}}",
                 &decoded);
    assert_int_equal(decoded, CHUTE_EINVAL);
    assert_non_null(strstr(s->message, "user task state"));
    s = run_rest(f, "POST", TASK "/assignment", 5, "{\"allowOverride\":false}", &decoded);
    assert_int_equal(decoded, CHUTE_EINVAL);
    assert_string_equal(s->message, "No assignee provided.");
    s = run_rest(f, "POST", TASK "/assignment", 5, "{\"assignee\":\"anna\"}", &decoded);
    assert_int_equal(decoded, 0);
    assert_int_equal(s->rc, CHUTE_ENOTFOUND);
    assert_non_null(strstr(s->message, "'5'"));
    s = run_rest(f, "DELETE", TASK "/assignee", 5, "", &decoded);
    assert_int_equal(s->kind, COMMAND_ASSIGN_USER_TASK);
    assert_int_equal(s->rc, CHUTE_ENOTFOUND);
    s = run_rest(f, "POST", TASK "/completion", 5, "", &decoded);
    assert_int_equal(s->kind, COMMAND_COMPLETE_USER_TASK);
    assert_int_equal(s->rc, CHUTE_ENOTFOUND);
    s = run_rest(f, "GET", TASK, 5, "", &decoded);
    assert_int_equal(s->kind, COMMAND_GET_USER_TASK);
    assert_int_equal(s->rc, CHUTE_ENOTFOUND);
    /* A filter no open task can match asks the engine nothing. */
    command none = {.kind = COMMAND_SEARCH_USER_TASKS, .search = {.no_match = 1, .limit = 10}};
    s = run(f, &none);
    assert_int_equal(s->rc, 0);
    assert_int_equal(s->items, 0);
}

static const char review_xml[] =
    "<bpmn:definitions xmlns:bpmn=\"http://www.omg.org/spec/BPMN/20100524/MODEL\" "
    "xmlns:zeebe=\"http://camunda.org/schema/zeebe/1.0\" id=\"d\">"
    "<bpmn:process id=\"review-process\" isExecutable=\"true\"><bpmn:startEvent id=\"s\"/>"
    "<bpmn:sequenceFlow id=\"f1\" sourceRef=\"s\" targetRef=\"review\"/>"
    "<bpmn:userTask id=\"review\" name=\"Review\"><bpmn:extensionElements><zeebe:userTask/>"
    "<zeebe:assignmentDefinition assignee=\"=reviewer\" candidateGroups=\"ops,sales\"/>"
    "</bpmn:extensionElements></bpmn:userTask>"
    "<bpmn:sequenceFlow id=\"f2\" sourceRef=\"review\" targetRef=\"e\"/><bpmn:endEvent id=\"e\"/>"
    "</bpmn:process></bpmn:definitions>";

/* Skips a test that needs the user task runtime while the engine has its
 * placeholder: an instance of the review process then lists no task. */
static int64_t review_instance(fx *f, const char *vars)
{
    need_runtime(f);
    deploy(f, "review.bpmn", review_xml);
    int64_t key = create_instance(f, "review-process", vars);
    command all = {.kind = COMMAND_SEARCH_USER_TASKS, .search = {.limit = 100}};
    if (run(f, &all)->items == 0) {
        print_message("needs the user task runtime (the engine has its placeholder): skipped\n");
        skip();
    }
    return key;
}

static void test_user_task_lifecycle(void **state) /* runtime */
{
    fx *f = *state;
    int64_t pi = review_instance(f, "{\"reviewer\":\"anna\"}");
    int64_t other = create_instance(f, "review-process", "{\"reviewer\":\"bob\"}");
    command all = {.kind = COMMAND_SEARCH_USER_TASKS, .search = {.limit = 100}};
    seen *s = run(f, &all);
    assert_int_equal(s->page.total, 2);
    assert_string_equal(s->found, "anna@review [\"ops\",\"sales\"] [],"
                                  "bob@review [\"ops\",\"sales\"] []");
    int64_t task = s->first_key;

    /* The filters: of the engine and of the command layer. */
    command by = {.kind = COMMAND_SEARCH_USER_TASKS,
                  .search = {.process_instance_key = pi, .limit = 100}};
    s = run(f, &by);
    assert_int_equal(s->page.total, 1);
    assert_int_equal(s->first_key, task);
    by.search = (command_search){.assignee = "bob", .limit = 100};
    s = run(f, &by);
    assert_int_equal(s->page.total, 1);
    assert_true(s->first_key != task);
    by.search = (command_search){.assignee = "", .limit = 100};
    assert_int_equal(run(f, &by)->page.total, 0);
    by.search = (command_search){.candidate_group = "sales", .element_id = "review", .limit = 100};
    assert_int_equal(run(f, &by)->page.total, 2);
    by.search = (command_search){.candidate_group = "sale", .limit = 100};
    assert_int_equal(run(f, &by)->page.total, 0);
    by.search =
        (command_search){.user_task_key = task, .bpmn_process_id = "review-process", .limit = 100};
    assert_int_equal(run(f, &by)->page.total, 1);
    by.search = (command_search){.from = 1, .limit = 1};
    s = run(f, &by);
    assert_int_equal(s->page.total, 2);
    assert_int_equal(s->items, 1);

    int decoded;
    s = run_rest(f, "GET", TASK, task, "", &decoded);
    assert_int_equal(s->rc, 0);
    assert_int_equal(s->task_key, task);
    assert_string_equal(s->task, "anna@review [\"ops\",\"sales\"] []");

    /* Assignment: another assignee is replaced unless allowOverride is
     * false; unassigning always works. */
    s = run_rest(f, "POST", TASK "/assignment", task,
                 "{\"assignee\":\"carl\",\"allowOverride\":false}", &decoded);
    assert_int_equal(s->rc, CHUTE_ESTATE);
    s = run_rest(f, "POST", TASK "/assignment", task, "{\"assignee\":\"carl\"}", &decoded);
    assert_int_equal(s->rc, 0);
    assert_string_equal(run_rest(f, "GET", TASK, task, "", &decoded)->task,
                        "carl@review [\"ops\",\"sales\"] []");
    command unassign = {.kind = COMMAND_ASSIGN_USER_TASK, .key = task, .no_override = 1};
    assert_int_equal(run(f, &unassign)->rc, 0);
    by.search = (command_search){.assignee = "", .limit = 100};
    s = run(f, &by);
    assert_int_equal(s->page.total, 1);
    assert_int_equal(s->first_key, task);
    s = run_rest(f, "POST", TASK "/assignment", task,
                 "{\"assignee\":\"dora\",\"allowOverride\":false}", &decoded);
    assert_int_equal(s->rc, 0); /* nobody held it */
    by.search = (command_search){.assigned = 1, .limit = 100};
    assert_int_equal(run(f, &by)->page.total, 2);

    /* Completion: the variables merge, the instance completes, the task
     * is gone. */
    s = run_rest(f, "POST", TASK "/completion", task, "{\"variables\":[1]}", &decoded);
    assert_int_equal(s->rc, CHUTE_EINVAL);
    s = run_rest(f, "POST", TASK "/completion", task, "{\"variables\":{\"approved\":true}}",
                 &decoded);
    assert_int_equal(s->rc, 0);
    assert_int_equal(instance_state(f, pi), CHUTE_INSTANCE_COMPLETED);
    command details = {.kind = COMMAND_INSTANCE_DETAILS, .key = pi};
    s = run(f, &details);
    assert_non_null(strstr(s->variables, "\"approved\":true"));
    assert_int_equal(run_rest(f, "GET", TASK, task, "", &decoded)->rc, CHUTE_ENOTFOUND);
    assert_int_equal(run_rest(f, "POST", TASK "/completion", task, "", &decoded)->rc,
                     CHUTE_ENOTFOUND);
    s = run(f, &all);
    assert_int_equal(s->page.total, 1);
    assert_int_equal(instance_state(f, other), CHUTE_INSTANCE_ACTIVE);

    /* A cancelled instance leaves no task behind. */
    command cancel = {.kind = COMMAND_CANCEL_INSTANCE, .key = other};
    assert_int_equal(run(f, &cancel)->rc, 0);
    assert_int_equal(run(f, &all)->page.total, 0);
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
        cmocka_unit_test_setup_teardown(test_decisions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_create_instance_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_search_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_broker_timers, setup, teardown),
        /* These need the process runtime. */
        cmocka_unit_test_setup_teardown(test_create_instance_and_get, setup, teardown),
        cmocka_unit_test_setup_teardown(test_await_completes_with_variables, setup, teardown),
        cmocka_unit_test_setup_teardown(test_await_ends_at_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_await_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_await_default_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_await_client_gone, setup, teardown),
        cmocka_unit_test_setup_teardown(test_await_terminated_and_closing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_set_variables_and_searches, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_and_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_instance_details_and_process_incidents, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_signal_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_modify_migrate_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_modify_and_migrate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_instance_waits, setup, teardown),
        /* These need the message runtime. */
        cmocka_unit_test_setup_teardown(test_publish_correlates_to_a_waiting_instance, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_publish_buffers_for_its_ttl, setup, teardown),
        cmocka_unit_test_setup_teardown(test_publish_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_correlate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_user_task_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_user_task_lifecycle, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
