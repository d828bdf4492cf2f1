/* The command layer: the table of commands and command_run; see commands.h. */
#include "server/commands.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chute_codec.h"
#include "common/json.h"
#include "gateway_codec.h"
#include "rest.h"

#define GW "/gateway_protocol.Gateway/"
#define CH "/chute.v1.Chute/"
#define ZB "/grpc.ZenBpm/"

/* ---- decoders the table needs beyond the codecs' own ------------------------ */

static int grpc_topology(const uint8_t *msg, size_t len, command *out, chute_error *err)
{
    memset(out, 0, sizeof *out);
    int rc = codec_decode_topology(msg, len, err);
    if (rc == 0)
        out->kind = COMMAND_TOPOLOGY;
    return rc;
}

/* REST decoders of a body alone. */
#define REST_BODY(fn)                                                                              \
    static int rest_##fn(const command_rest_in *in, command *out, chute_error *err)                \
    {                                                                                              \
        return rest_decode_##fn(in->body, in->len, out, err);                                      \
    }
REST_BODY(activate)
REST_BODY(completion)
REST_BODY(failure)
REST_BODY(error)
REST_BODY(job_update)
REST_BODY(create)
REST_BODY(create_instance)
REST_BODY(set_variables)
REST_BODY(search_instances)
REST_BODY(search_elements)
REST_BODY(search_variables)
REST_BODY(search_incidents)
REST_BODY(modification)
REST_BODY(migration)
REST_BODY(signal)
REST_BODY(publish_message)
REST_BODY(correlate_message)
REST_BODY(search_user_tasks)
REST_BODY(user_task_assignment)
REST_BODY(user_task_completion)
REST_BODY(evaluate_decision)
#undef REST_BODY

static int rest_deployment(const command_rest_in *in, command *out, chute_error *err)
{
    return rest_decode_deployment(in->content_type, in->body, in->len, out, err);
}

static int rest_list_jobs(const command_rest_in *in, command *out, chute_error *err)
{
    return rest_decode_list_jobs(in->query, out, err);
}

static int rest_list_incidents(const command_rest_in *in, command *out, chute_error *err)
{
    return rest_decode_list_incidents(in->query, out, err);
}

/* ZenBPM's job endpoints. */
static int rest_zen_list_jobs(const command_rest_in *in, command *out, chute_error *err)
{
    return rest_decode_zen_list_jobs(in->query, out, err);
}

static int rest_zen_complete(const command_rest_in *in, command *out, chute_error *err)
{
    return rest_decode_zen_complete(in->body, in->len, out, err);
}

static int rest_zen_fail(const command_rest_in *in, command *out, chute_error *err)
{
    return rest_decode_zen_fail(in->body, in->len, out, err);
}

static int rest_zen_assign(const command_rest_in *in, command *out, chute_error *err)
{
    return rest_decode_zen_assign(in->body, in->len, out, err);
}

/* ---- the table ------------------------------------------------------------------ */

/*
 * Settling a job (complete, fail, throw error), taking jobs and the
 * topology are never refused for load; everything else brings work or
 * reads, and is refused while the commit is full.
 */
#define DRAINS BROKER_LOAD_DRAINS
#define ADDS BROKER_LOAD_ADDS

/* One row a command, its gRPC side, then its REST side. */
// clang-format off
const command_def command_table[] = {
    /* name, kind, load,
     *     gRPC service, gRPC decoder,     REST method, route, decoder, status */
    {"ActivateJobs", COMMAND_ACTIVATE, DRAINS,
        GW, codec_decode_activate_jobs,          "POST", "/v2/jobs/activation", rest_activate, 200},
    {"StreamActivatedJobs", COMMAND_STREAM, DRAINS,
        GW, codec_decode_stream_activated_jobs,  NULL, NULL, NULL, 0},
    {"Topology", COMMAND_TOPOLOGY, DRAINS,
        GW, grpc_topology,                       "GET", "/v2/topology", NULL, 200},
    {"CompleteJob", COMMAND_COMPLETE, DRAINS,
        GW, codec_decode_complete_job,           "POST", "/v2/jobs/{jobKey}/completion", rest_completion, 204},
    {"FailJob", COMMAND_FAIL, DRAINS,
        GW, codec_decode_fail_job,               "POST", "/v2/jobs/{jobKey}/failure", rest_failure, 204},
    {"ThrowError", COMMAND_THROW_ERROR, DRAINS,
        GW, codec_decode_throw_error,            "POST", "/v2/jobs/{jobKey}/error", rest_error, 204},
    {"UpdateJobRetries", COMMAND_UPDATE, ADDS,
        GW, codec_decode_update_job_retries,     NULL, NULL, NULL, 0},
    {"UpdateJobTimeout", COMMAND_UPDATE, ADDS,
        GW, codec_decode_update_job_timeout,     NULL, NULL, NULL, 0},
    {"UpdateJob", COMMAND_UPDATE, ADDS,
        NULL, NULL,                              "PATCH", "/v2/jobs/{jobKey}", rest_job_update, 204},
    {"ResolveIncident", COMMAND_RESOLVE_INCIDENT, ADDS,
        GW, codec_decode_resolve_incident,       "POST", "/v2/incidents/{incidentKey}/resolution", NULL, 204},
    {"ListJobs", COMMAND_LIST_JOBS, ADDS,
        NULL, NULL,                              "GET", "/v1/jobs", rest_list_jobs, 200},
    /* POST /v1/jobs takes one job or an array: both are this row. */
    {"CreateJob", COMMAND_CREATE, ADDS,
        CH, codec_decode_create_job,             "POST", "/v1/jobs", rest_create, 201},
    {"CreateJobs", COMMAND_CREATE, ADDS,
        CH, codec_decode_create_jobs,            NULL, NULL, NULL, 0},
    {"GetJob", COMMAND_GET_JOB, ADDS,
        CH, codec_decode_get_job,                "GET", "/v1/jobs/{key}", NULL, 200},
    {"CancelJob", COMMAND_CANCEL_JOB, ADDS,
        CH, codec_decode_cancel_job,             "DELETE", "/v1/jobs/{key}", NULL, 204},
    {"ListIncidents", COMMAND_LIST_INCIDENTS, ADDS,
        CH, codec_decode_list_incidents,         "GET", "/v1/incidents", rest_list_incidents, 200},
    {"ListJobTypes", COMMAND_JOB_TYPES, ADDS,
        NULL, NULL,                              "GET", "/v1/job-types", NULL, 200},
    {"DeployResource", COMMAND_DEPLOY, ADDS,
        GW, codec_decode_deploy_resource,        "POST", "/v2/deployments", rest_deployment, 200},
    {"DeployProcess", COMMAND_DEPLOY, ADDS,
        GW, codec_decode_deploy_process,         NULL, NULL, NULL, 0},
    {"GetProcessDefinitionXml", COMMAND_GET_PROCESS_XML, ADDS,
        NULL, NULL,                              "GET", "/v2/process-definitions/{processDefinitionKey}/xml", NULL, 200},
    /* POST /v2/process-instances with awaitCompletion is this row too. */
    {"CreateProcessInstance", COMMAND_CREATE_INSTANCE, ADDS,
        GW, codec_decode_create_process_instance, "POST", "/v2/process-instances", rest_create_instance, 200},
    {"CreateProcessInstanceWithResult", COMMAND_CREATE_INSTANCE, ADDS,
        GW, codec_decode_create_process_instance_with_result, NULL, NULL, NULL, 0},
    {"CancelProcessInstance", COMMAND_CANCEL_INSTANCE, ADDS,
        GW, codec_decode_cancel_process_instance, "POST", "/v2/process-instances/{processInstanceKey}/cancellation", NULL, 204},
    {"SetVariables", COMMAND_SET_VARIABLES, ADDS,
        GW, codec_decode_set_variables,          "PUT", "/v2/element-instances/{elementInstanceKey}/variables", rest_set_variables, 204},
    /* Camunda 8.8 answers a deletion 200. */
    {"DeleteResource", COMMAND_DELETE_RESOURCE, ADDS,
        GW, codec_decode_delete_resource,        "POST", "/v2/resources/{resourceKey}/deletion", NULL, 200},
    {"GetProcessInstance", COMMAND_GET_INSTANCE, ADDS,
        NULL, NULL,                              "GET", "/v2/process-instances/{processInstanceKey}", NULL, 200},
    {"SearchProcessInstances", COMMAND_SEARCH_INSTANCES, ADDS,
        NULL, NULL,                              "POST", "/v2/process-instances/search", rest_search_instances, 200},
    {"SearchElementInstances", COMMAND_SEARCH_ELEMENTS, ADDS,
        NULL, NULL,                              "POST", "/v2/element-instances/search", rest_search_elements, 200},
    {"SearchVariables", COMMAND_SEARCH_VARIABLES, ADDS,
        NULL, NULL,                              "POST", "/v2/variables/search", rest_search_variables, 200},
    {"SearchIncidents", COMMAND_SEARCH_INCIDENTS, ADDS,
        NULL, NULL,                              "POST", "/v2/incidents/search", rest_search_incidents, 200},
    {"PublishMessage", COMMAND_PUBLISH_MESSAGE, ADDS,
        GW, codec_decode_publish_message,        "POST", "/v2/messages/publication", rest_publish_message, 200},
    /* Camunda 8.8's correlation has no RPC: a publication that must correlate. */
    {"CorrelateMessage", COMMAND_CORRELATE_MESSAGE, ADDS,
        NULL, NULL,                              "POST", "/v2/messages/correlation", rest_correlate_message, 200},
    {"ModifyProcessInstance", COMMAND_MODIFY_INSTANCE, ADDS,
        GW, codec_decode_modify_process_instance, "POST", "/v2/process-instances/{processInstanceKey}/modification", rest_modification, 204},
    {"MigrateProcessInstance", COMMAND_MIGRATE_INSTANCE, ADDS,
        GW, codec_decode_migrate_process_instance, "POST", "/v2/process-instances/{processInstanceKey}/migration", rest_migration, 204},
    /* A row so that the refusal is specific, not "unknown method". */
    {"BroadcastSignal", COMMAND_BROADCAST_SIGNAL, ADDS,
        GW, codec_decode_broadcast_signal,       "POST", "/v2/signals/broadcast", rest_signal, 200},
    /* Reads of process instances that the gateway protocol has no RPC for. */
    {"GetProcessInstance", COMMAND_INSTANCE_DETAILS, ADDS,
        CH, codec_decode_get_process_instance,   NULL, NULL, NULL, 0},
    /* ZenBPM's job API: its bidirectional JobStream, whose requests come
     * as messages of the stream (the gateway decodes each one), and its
     * REST job endpoints under /zenbpm/v1 (ZenBPM's /v1 is Chute's own).
     * A fail with an errorCode decodes as a THROW_ERROR. */
    {"JobStream", COMMAND_JOB_STREAM, DRAINS,
        ZB, NULL,                                NULL, NULL, NULL, 0},
    {"ZenListJobs", COMMAND_ZEN_LIST_JOBS, ADDS,
        NULL, NULL,                              "GET", "/zenbpm/v1/jobs", rest_zen_list_jobs, 200},
    {"ZenGetJob", COMMAND_GET_JOB, ADDS,
        NULL, NULL,                              "GET", "/zenbpm/v1/jobs/{jobKey}", NULL, 200},
    {"ZenCompleteJob", COMMAND_COMPLETE, DRAINS,
        NULL, NULL,                              "POST", "/zenbpm/v1/jobs/{jobKey}/complete", rest_zen_complete, 204},
    {"ZenFailJob", COMMAND_FAIL, DRAINS,
        NULL, NULL,                              "POST", "/zenbpm/v1/jobs/{jobKey}/fail", rest_zen_fail, 204},
    {"ZenAssignJob", COMMAND_ASSIGN_JOB, ADDS,
        NULL, NULL,                              "POST", "/zenbpm/v1/jobs/{jobKey}/assign", rest_zen_assign, 204},
    /* Native user tasks: Camunda's v2 endpoints, and chute.v1 for the CLI
     * (the gateway protocol has no user task RPC). DELETE .../assignee is
     * an assignment with no assignee. */
    {"SearchUserTasks", COMMAND_SEARCH_USER_TASKS, ADDS,
        NULL, NULL,                              "POST", "/v2/user-tasks/search", rest_search_user_tasks, 200},
    {"ListUserTasks", COMMAND_SEARCH_USER_TASKS, ADDS,
        CH, codec_decode_list_user_tasks,        NULL, NULL, NULL, 0},
    {"GetUserTask", COMMAND_GET_USER_TASK, ADDS,
        NULL, NULL,                              "GET", "/v2/user-tasks/{userTaskKey}", NULL, 200},
    {"AssignUserTask", COMMAND_ASSIGN_USER_TASK, ADDS,
        CH, codec_decode_assign_user_task,       "POST", "/v2/user-tasks/{userTaskKey}/assignment", rest_user_task_assignment, 204},
    {"UnassignUserTask", COMMAND_ASSIGN_USER_TASK, ADDS,
        NULL, NULL,                              "DELETE", "/v2/user-tasks/{userTaskKey}/assignee", NULL, 204},
    {"CompleteUserTask", COMMAND_COMPLETE_USER_TASK, ADDS,
        CH, codec_decode_complete_user_task,     "POST", "/v2/user-tasks/{userTaskKey}/completion", rest_user_task_completion, 204},
    /* An evaluation spends a key (Zeebe's decisionEvaluationKey), so it
     * is answered after the commit like any write. */
    {"EvaluateDecision", COMMAND_EVALUATE_DECISION, ADDS,
        GW, codec_decode_evaluate_decision,      "POST", "/v2/decision-definitions/evaluation", rest_evaluate_decision, 200},
};
// clang-format on

const size_t command_table_len = sizeof command_table / sizeof command_table[0];

const command_def *command_find_grpc(const char *path)
{
    for (size_t i = 0; i < command_table_len; i++) {
        const command_def *d = &command_table[i];
        if (!d->grpc_service)
            continue;
        size_t n = strlen(d->grpc_service);
        if (strncmp(path, d->grpc_service, n) == 0 && strcmp(path + n, d->name) == 0)
            return d;
    }
    return NULL;
}

void command_grpc_methods(const char *service, char *buf, size_t cap)
{
    size_t w = 0;
    if (cap)
        buf[0] = '\0';
    for (size_t i = 0; i < command_table_len && w < cap; i++) {
        const command_def *d = &command_table[i];
        /* A row that only refuses (signals) is not a method Chute serves. */
        if (!d->grpc_service || strcmp(d->grpc_service, service) != 0 ||
            d->kind == COMMAND_BROADCAST_SIGNAL)
            continue;
        int k = snprintf(buf + w, cap - w, "%s%s", w ? ", " : "", d->name);
        if (k < 0)
            break;
        w += (size_t)k;
    }
}

int command_admit(broker *b, const command_def *d, chute_error *err)
{
    return broker_admit(b, d->load, err);
}

size_t command_activation_budget(size_t max_response, const chute_activate_request *req)
{
    /* Beyond variables and headers a job's encoding is bounded: its key,
     * process fields, retries and deadline (512 B at most), and its type
     * and worker, which JSON may escape to 6 bytes each. */
    size_t per_job = 512 + 6 * (strlen(req->type) + (req->worker ? strlen(req->worker) : 0));
    size_t reserve = per_job * (size_t)(req->max_jobs > 0 ? req->max_jobs : 1);
    return reserve < max_response / 2 ? max_response - reserve : max_response / 2;
}

/* ---- leases ------------------------------------------------------------------------ */

void command_leases_of(const chute_job_view *jobs, size_t n, command_lease *out)
{
    for (size_t i = 0; i < n; i++) {
        out[i].key = jobs[i].key;
        out[i].deadline = jobs[i].deadline;
    }
}

void command_return_jobs(broker *b, const command_lease *jobs, size_t n)
{
    chute_engine *e = broker_engine(b);
    chute_error err;
    for (size_t i = 0; i < n; i++)
        chute_engine_return(e, jobs[i].key, jobs[i].deadline, &err);
    broker_kick(b);
}

/* ---- running ------------------------------------------------------------------------- */

void command_call_init(command_call *c, const command_call_ops *ops, broker *b, size_t max_response)
{
    memset(c, 0, sizeof *c);
    c->ops = ops;
    c->b = b;
    c->max_response = max_response;
}

static void answer(command_call *call, const command *cmd, command_result *res)
{
    res->cmd = cmd;
    if (cmd)
        res->kind = cmd->kind;
    call->ops->answer(call, res);
}

static void answer_error(command_call *call, const command *cmd, const chute_error *err)
{
    command_result res = {.rc = err->code ? err->code : CHUTE_EINTERNAL, .err = err};
    answer(call, cmd, &res);
}

#define CALL_OF_POLL(p) ((command_call *)((char *)(p)-offsetof(command_call, bp)))

static void poll_jobs(broker_poll *bp, const chute_job_view *jobs, size_t n)
{
    command_result res = {.kind = COMMAND_ACTIVATE, .jobs = jobs, .njobs = n};
    answer(CALL_OF_POLL(bp), NULL, &res);
}

static void poll_expired(broker_poll *bp)
{
    command_result res = {.kind = COMMAND_ACTIVATE};
    answer(CALL_OF_POLL(bp), NULL, &res);
}

static void run_activate(command_call *call, const command *cmd)
{
    chute_engine *e = broker_engine(call->b);
    chute_error err;
    if (chute_engine_check_activate(&cmd->req, 0, &err) != 0) {
        answer_error(call, cmd, &err);
        return;
    }
    if (cmd->request_timeout_ms > CHUTE_DURATION_MAX_MS) {
        chute_error_set(&err, CHUTE_EINVAL,
                        "Expected to activate jobs with a requestTimeout of at most %lld ms (10 "
                        "years), but it is %lld",
                        (long long)CHUTE_DURATION_MAX_MS, (long long)cmd->request_timeout_ms);
        answer_error(call, cmd, &err);
        return;
    }
    size_t budget = command_activation_budget(call->max_response, &cmd->req);
    command_result res = {0};
    if (chute_engine_activate(e, &cmd->req, budget, &res.jobs, &res.njobs, &err) != 0) {
        answer_error(call, cmd, &err);
    } else if (res.njobs > 0 || cmd->request_timeout_ms < 0 || call->no_wait) {
        answer(call, cmd, &res);
    } else {
        int64_t wait =
            cmd->request_timeout_ms ? cmd->request_timeout_ms : COMMAND_DEFAULT_REQUEST_TIMEOUT_MS;
        if (broker_poll_start(call->b, &call->bp, &cmd->req, budget, wait, poll_jobs, poll_expired,
                              &err) != 0)
            answer_error(call, cmd, &err);
    }
}

static void stream_deliver(void *ctx, chute_taker *taker, const chute_job_view *jobs, size_t n)
{
    command_call *call = ctx;
    (void)taker;
    call->ops->push(call, jobs, n);
}

static void run_stream(command_call *call, const command *cmd)
{
    chute_error err;
    if (!call->ops->push) {
        chute_error_set(&err, CHUTE_EUNIMPL, "Job streams are served over gRPC only");
        answer_error(call, cmd, &err);
        return;
    }
    if (chute_engine_check_activate(&cmd->req, 1, &err) != 0 ||
        chute_engine_stream_add(broker_engine(call->b), &cmd->req, call->stream_credit, 0,
                                stream_deliver, call, &call->taker, &err) != 0) {
        answer_error(call, cmd, &err);
        return;
    }
    broker_kick(call->b); /* a new stream is fed from the backlog at the next flush */
}

static void run_create(command_call *call, const command *cmd)
{
    chute_error err;
    int64_t *keys = calloc(cmd->count ? cmd->count : 1, sizeof *keys);
    if (!keys) {
        chute_error_set(&err, CHUTE_ENOMEM, "out of memory");
        answer_error(call, cmd, &err);
        return;
    }
    size_t failed = 0;
    if (chute_engine_create_batch(broker_engine(call->b), cmd->specs, cmd->count, keys, &failed,
                                  &err) != 0) {
        if (cmd->is_array) {
            chute_error wrapped;
            chute_error_set(&wrapped, err.code, "job %zu of the batch: %s", failed, err.message);
            answer_error(call, cmd, &wrapped);
        } else {
            answer_error(call, cmd, &err);
        }
    } else {
        command_result res = {.keys = keys, .nkeys = cmd->count};
        answer(call, cmd, &res);
    }
    free(keys);
}

/* ---- process instances ------------------------------------------------------------- */

#define CALL_OF_AWAIT_TIMER(t) ((command_call *)((char *)(t)-offsetof(command_call, await_timer)))

/* The await of |call| is over: nothing of it is left in the engine or the
 * broker after this. Does not answer. */
static void await_end(command_call *call)
{
    call->awaiting = 0;
    call->awaiter = NULL;
    broker_timer_cancel(call->b, &call->await_timer);
}

/* Stops waiting for the instance (it runs on) and answers |code|. */
static void await_abandon(command_call *call, int code, const char *why)
{
    chute_error err;
    int64_t key = call->await_key;
    if (call->awaiter)
        chute_engine_await_remove(broker_engine(call->b), call->awaiter);
    await_end(call);
    chute_error_set(&err, code, "%s; process instance '%lld' was created and keeps running", why,
                    (long long)key);
    command_result res = {.kind = COMMAND_CREATE_INSTANCE, .rc = code, .err = &err};
    call->ops->answer(call, &res);
}

/* The awaited instance ended, inside the engine call that ended it. */
static void instance_done(void *ctx, const chute_instance_view *inst)
{
    command_call *call = ctx;
    if (!call->awaiting)
        return; /* not ours any more: never answer twice */
    await_end(call);
    command_result res = {.kind = COMMAND_CREATE_INSTANCE, .instance = *inst, .awaited = 1};
    chute_error err;
    if (inst->state != CHUTE_INSTANCE_COMPLETED) {
        res.rc = chute_error_set(&err, CHUTE_ESTATE,
                                 "Expected process instance '%lld' of process '%s' to complete, "
                                 "but it was %s before it completed",
                                 (long long)inst->key, inst->bpmn_process_id,
                                 inst->state == CHUTE_INSTANCE_TERMINATED ? "terminated"
                                                                          : "left unfinished");
        res.err = &err;
    }
    call->ops->answer(call, &res);
}

static void await_expired(broker_timer *t)
{
    command_call *call = CALL_OF_AWAIT_TIMER(t);
    char why[160];
    snprintf(why, sizeof why,
             "Expected the process instance to complete within the requestTimeout of %lld ms, "
             "but it did not",
             (long long)call->await_timeout_ms);
    await_abandon(call, CHUTE_ETIMEDOUT, why);
}

/* Zeebe's rule: a non-empty bpmnProcessId wins (with its version, < 0 the
 * latest), else a processDefinitionKey. */
static int instance_spec(const command *cmd, chute_instance_spec *spec, chute_error *err)
{
    memset(spec, 0, sizeof *spec);
    spec->variables = cmd->variables ? cmd->variables : "";
    spec->variables_len = cmd->variables ? cmd->variables_len : 0;
    if (cmd->bpmn_process_id && cmd->bpmn_process_id[0]) {
        spec->bpmn_process_id = cmd->bpmn_process_id;
        spec->version = cmd->version;
    } else if (cmd->process_definition_key > 0) {
        spec->process_definition_key = cmd->process_definition_key;
        spec->bpmn_process_id = "";
        spec->version = -1;
    } else {
        return chute_error_set(err, CHUTE_EINVAL,
                               "Expected at least a bpmnProcessId or a key greater than -1, but "
                               "none given");
    }
    if (cmd->start_instructions > 0)
        return chute_error_set(err, CHUTE_EINVAL,
                               "Expected to create an instance without startInstructions, but "
                               "got %zu: Chute starts every instance at its none start event",
                               cmd->start_instructions);
    return 0;
}

static void run_create_instance(command_call *call, const command *cmd)
{
    chute_engine *e = broker_engine(call->b);
    chute_instance_spec spec;
    chute_error err;
    command_result res = {0};
    chute_awaiter *none = NULL;
    if (instance_spec(cmd, &spec, &err) != 0) {
        answer_error(call, cmd, &err);
        return;
    }
    if (!cmd->await) {
        if (chute_engine_create_instance(e, &spec, NULL, &res.instance, &none, &err) != 0)
            answer_error(call, cmd, &err);
        else
            answer(call, cmd, &res);
        return;
    }
    int64_t wait = cmd->request_timeout_ms;
    if (wait < 0 || wait > CHUTE_DURATION_MAX_MS) {
        chute_error_set(&err, CHUTE_EINVAL,
                        "Expected to create a process instance with a requestTimeout from 0 (the "
                        "server's default, %d ms) to %lld ms, but it is %lld",
                        COMMAND_DEFAULT_AWAIT_TIMEOUT_MS, (long long)CHUTE_DURATION_MAX_MS,
                        (long long)wait);
        answer_error(call, cmd, &err);
        return;
    }
    if (call->no_wait) {
        /* Refused before anything happens: the front end closes. */
        chute_error_set(&err, CHUTE_EUNAVAIL, "chuted is shutting down");
        answer_error(call, cmd, &err);
        return;
    }
    /* The engine copies the fetch names: the command may go when this
     * returns. */
    chute_instance_await aw = {.done = instance_done,
                               .ctx = call,
                               .fetch_variables = cmd->fetch_names,
                               .fetch_variables_count = cmd->nfetch};
    call->awaiting = 1;
    call->await_timeout_ms = wait ? wait : COMMAND_DEFAULT_AWAIT_TIMEOUT_MS;
    if (chute_engine_create_instance(e, &spec, &aw, &res.instance, &call->awaiter, &err) != 0) {
        /* The callback did not run and will not. */
        await_end(call);
        answer_error(call, cmd, &err);
        return;
    }
    if (!call->awaiting) {
        /* It ended inside the create, and instance_done answered. */
        call->awaiter = NULL;
        return;
    }
    call->await_key = res.instance.key;
    if (broker_timer_start(call->b, &call->await_timer, call->await_timeout_ms, await_expired,
                           &err) != 0)
        await_abandon(call, err.code,
                      err.code == CHUTE_EUNAVAIL
                          ? "Expected to await the process instance, but chuted "
                            "is shutting down"
                          : "Expected to await the process instance, but chuted "
                            "is out of memory");
}

/* ---- messages ------------------------------------------------------------------------ */

/* Publishes the message of a PUBLISH_MESSAGE or CORRELATE_MESSAGE into
 * |out|. A correlation is a publication that keeps nothing (no time to
 * live, no id) and must reach an open subscription or a message start
 * event: when it reached none it is NOT_FOUND, as Zeebe rejects its
 * CORRELATE command. */
static int run_message(chute_engine *e, const command *cmd, chute_message_result *out,
                       chute_error *err)
{
    int correlate = cmd->kind == COMMAND_CORRELATE_MESSAGE;
    chute_message_spec spec = {.name = cmd->message_name ? cmd->message_name : "",
                               .correlation_key = cmd->correlation_key ? cmd->correlation_key : "",
                               .ttl_ms = correlate ? 0 : cmd->ttl_ms,
                               .message_id = correlate || !cmd->message_id ? "" : cmd->message_id,
                               .variables = cmd->variables ? cmd->variables : "",
                               .variables_len = cmd->variables ? cmd->variables_len : 0};
    memset(out, 0, sizeof *out);
    int rc = chute_engine_publish_message(e, &spec, out, err);
    if (rc != 0 || !correlate || out->correlated > 0)
        return rc;
    return chute_error_set(err, CHUTE_ENOTFOUND,
                           "Command 'CORRELATE' rejected with code 'NOT_FOUND': Expected to find "
                           "subscription for message with name '%.1024s' and correlation key "
                           "'%.1024s', but none was found.",
                           spec.name, spec.correlation_key);
}

/* ZenBPM's assign: the job must exist and not be done; the assignee is
 * kept by the broker (the engine has no field for it yet). */
static int run_assign(command_call *call, const command *cmd, chute_error *err)
{
    chute_job_view v;
    int rc = chute_engine_get(broker_engine(call->b), cmd->key, &v, err);
    if (rc != 0)
        return rc;
    if (v.state == CHUTE_JOB_COMPLETED)
        return chute_error_set(err, CHUTE_ESTATE,
                               "Expected to assign job %lld, but it is completed",
                               (long long)cmd->key);
    return chute_engine_assign_job(broker_engine(call->b), cmd->key, cmd->assignee, err);
}

/* ---- modification and migration ------------------------------------------------------- */

/*
 * The variables of one activate instruction, for the engine: it sets one
 * document as local variables of the new token's flow scope (the process
 * instance, Zeebe's global scope, for a top-level element). So every
 * variable instruction must leave scopeId empty, and several documents are
 * merged in request order (later ones win). |*merged| is a document made
 * here (free it), or NULL.
 */
static int activation_variables(const command *cmd, size_t i, chute_activate_instruction *out,
                                char **merged, chute_error *err)
{
    const command_activation *a = &cmd->activate[i];
    *merged = NULL;
    for (size_t j = 0; j < a->nvars; j++) {
        const command_variable_instruction *v = &a->vars[j];
        if (v->scope_id && v->scope_id[0])
            return chute_error_set(err, CHUTE_EINVAL,
                                   "Expected to modify process instance '%lld' with variable "
                                   "instructions for the flow scope of element '%s' (scopeId "
                                   "empty), but got scopeId '%.200s': Chute sets the variables "
                                   "of an activate instruction on the flow scope of the element "
                                   "it activates",
                                   (long long)cmd->key, a->element_id, v->scope_id);
        if (!v->variables || jdoc_blank(v->variables, v->variables_len))
            continue;
        if (!out->variables) {
            out->variables = v->variables;
            out->variables_len = v->variables_len;
            continue;
        }
        char *m;
        size_t mlen;
        int rc = jdoc_check_object(out->variables, out->variables_len, 0, "variables", err);
        if (rc == 0)
            rc = jdoc_check_object(v->variables, v->variables_len, 0, "variables", err);
        if (rc == 0 && (rc = jdoc_merge(out->variables, out->variables_len, v->variables,
                                        v->variables_len, &m, &mlen)) != 0)
            chute_error_set(err, rc, "out of memory merging variable instructions");
        if (rc != 0) {
            free(*merged);
            *merged = NULL;
            return rc;
        }
        free(*merged);
        *merged = m;
        out->variables = m;
        out->variables_len = mlen;
    }
    return 0;
}

static int run_modify(chute_engine *e, const command *cmd, chute_error *err)
{
    size_t n = cmd->nactivate;
    chute_activate_instruction *acts = calloc(n ? n : 1, sizeof *acts);
    char **merged = calloc(n ? n : 1, sizeof *merged);
    int rc = 0;
    if (!acts || !merged)
        rc = chute_error_set(err, CHUTE_ENOMEM, "out of memory modifying a process instance");
    for (size_t i = 0; i < n && rc == 0; i++) {
        acts[i].element_id = cmd->activate[i].element_id;
        /* Zeebe's -1 (and proto3's 0) mean "the only active flow scope". */
        acts[i].ancestor_key =
            cmd->activate[i].ancestor_key > 0 ? cmd->activate[i].ancestor_key : 0;
        rc = activation_variables(cmd, i, &acts[i], &merged[i], err);
    }
    if (rc == 0)
        rc = chute_engine_modify_instance(e, cmd->key, acts, n, cmd->terminate, cmd->nterminate,
                                          err);
    for (size_t i = 0; merged && i < n; i++)
        free(merged[i]);
    free(merged);
    free(acts);
    return rc;
}

static int run_migrate(chute_engine *e, const command *cmd, chute_error *err)
{
    if (cmd->process_definition_key <= 0)
        return chute_error_set(err, CHUTE_EINVAL,
                               "Expected to migrate process instance '%lld' to the process "
                               "definition of a targetProcessDefinitionKey, but none was given",
                               (long long)cmd->key);
    return chute_engine_migrate_instance(e, cmd->key, cmd->process_definition_key, cmd->mappings,
                                         cmd->nmappings, err);
}

/* Signals: refused with what to use instead. */
static int refuse_signal(const command *cmd, chute_error *err)
{
    return chute_error_set(err, CHUTE_EUNIMPL,
                           "Expected to broadcast signal '%.200s', but signals are not supported "
                           "by Chute yet: no signal start, catch or throw event runs (publish a "
                           "message to wake a waiting instance instead)",
                           cmd->signal_name ? cmd->signal_name : "");
}

/* What every search checks before its entries are walked. */
static int check_search(const command *cmd, chute_error *err)
{
    const char *what = cmd->kind == COMMAND_SEARCH_ELEMENTS ? "element instances" : "variables";
    if ((cmd->kind == COMMAND_SEARCH_ELEMENTS || cmd->kind == COMMAND_SEARCH_VARIABLES) &&
        cmd->search.process_instance_key == 0 && cmd->search.scope_key == 0 &&
        !cmd->search.no_match)
        return chute_error_set(err, CHUTE_EINVAL,
                               "Expected a filter on processInstanceKey (or on the scope key of "
                               "an active element instance) to search %s, but there is none: "
                               "Chute lists %s per process instance",
                               what, what);
    return 0;
}

void command_run(command_call *call, const command *cmd)
{
    chute_engine *e = broker_engine(call->b);
    command_result res = {.engine = e};
    chute_error err;
    int rc = 0;
    switch (cmd->kind) {
    case COMMAND_ACTIVATE:
        run_activate(call, cmd);
        return;
    case COMMAND_STREAM:
        run_stream(call, cmd);
        return;
    case COMMAND_CREATE:
        run_create(call, cmd);
        return;
    case COMMAND_CREATE_INSTANCE:
        run_create_instance(call, cmd);
        return;
    case COMMAND_CANCEL_INSTANCE:
        rc = chute_engine_cancel_instance(e, cmd->key, &err);
        break;
    case COMMAND_SET_VARIABLES:
        rc = chute_engine_set_variables(e, cmd->key, cmd->variables ? cmd->variables : "",
                                        cmd->variables ? cmd->variables_len : 0, cmd->local,
                                        &res.key, &err);
        break;
    case COMMAND_DELETE_RESOURCE:
        rc = chute_engine_delete_resource(e, cmd->key, &err);
        break;
    case COMMAND_PUBLISH_MESSAGE:
    case COMMAND_CORRELATE_MESSAGE:
        rc = run_message(e, cmd, &res.message, &err);
        break;
    case COMMAND_GET_INSTANCE:
        rc = chute_engine_get_instance(e, cmd->key, &res.instance, &err);
        break;
    case COMMAND_SEARCH_INSTANCES:
    case COMMAND_SEARCH_ELEMENTS:
    case COMMAND_SEARCH_VARIABLES:
    case COMMAND_SEARCH_INCIDENTS:
        rc = check_search(cmd, &err); /* the encoder walks them: command_result_walk_* */
        break;
    case COMMAND_TOPOLOGY:
        res.host = call->host;
        res.port = call->port;
        break;
    case COMMAND_COMPLETE:
        rc = chute_engine_complete(e, cmd->key, cmd->variables, cmd->variables_len, &err);
        break;
    case COMMAND_FAIL:
        rc = chute_engine_fail(e, cmd->key, cmd->retries, cmd->error_message, cmd->backoff_ms,
                               cmd->variables, cmd->variables_len, &err);
        break;
    case COMMAND_THROW_ERROR:
        rc = chute_engine_throw_error(e, cmd->key, cmd->error_code, cmd->error_message,
                                      cmd->variables, cmd->variables_len, &err);
        break;
    case COMMAND_UPDATE: {
        /* One changeset, all or nothing: the engine checks every field
         * before it changes any. */
        chute_job_update u = {.has_retries = cmd->has_retries,
                              .retries = cmd->retries,
                              .has_timeout = cmd->has_timeout,
                              .timeout_ms = cmd->timeout_ms};
        rc = chute_engine_update(e, cmd->key, &u, &err);
        break;
    }
    case COMMAND_RESOLVE_INCIDENT:
        rc = chute_engine_resolve_incident(e, cmd->key, &err);
        break;
    case COMMAND_GET_JOB:
        rc = chute_engine_get(e, cmd->key, &res.job, &err);
        break;
    case COMMAND_CANCEL_JOB:
        rc = chute_engine_cancel(e, cmd->key, &err);
        break;
    case COMMAND_DEPLOY:
        rc = chute_engine_deploy(e, cmd->resources, cmd->nresources, &res.deployment_key,
                                 &res.procs, &res.nprocs, &err);
        if (rc == 0)
            chute_engine_deployed_decisions(e, &res.decs, &res.ndecs);
        break;
    case COMMAND_EVALUATE_DECISION: {
        chute_decision_evaluation *ev = NULL;
        rc = chute_engine_evaluate(e, cmd->decision_key, cmd->decision_id, cmd->variables,
                                   cmd->variables ? cmd->variables_len : 0, &ev, &err);
        if (rc == 0) {
            res.evaluation = ev;
            answer(call, cmd, &res);
            chute_decision_evaluation_free(ev);
            return;
        }
        break;
    }
    case COMMAND_GET_PROCESS_XML:
        rc = chute_engine_get_process(e, cmd->key, &res.process, &res.xml, &res.xml_len, &err);
        break;
    case COMMAND_INSTANCE_DETAILS:
        /* NOT_FOUND here; its elements and incidents are walked by the
         * encoder (command_result_walk_instance). */
        rc = chute_engine_get_instance(e, cmd->key, &res.instance, &err);
        break;
    case COMMAND_LIST_JOBS:
    case COMMAND_LIST_INCIDENTS:
    case COMMAND_JOB_TYPES:
        break; /* the encoder walks them: command_result_walk */
    case COMMAND_ZEN_LIST_JOBS:
        break; /* the encoder walks them: command_result_walk_zen_jobs */
    case COMMAND_ASSIGN_JOB:
        rc = run_assign(call, cmd, &err);
        break;
    case COMMAND_MODIFY_INSTANCE:
        rc = run_modify(e, cmd, &err);
        break;
    case COMMAND_MIGRATE_INSTANCE:
        rc = run_migrate(e, cmd, &err);
        break;
    case COMMAND_BROADCAST_SIGNAL:
        rc = refuse_signal(cmd, &err);
        break;
    case COMMAND_SEARCH_USER_TASKS:
        break; /* the encoder walks them: command_result_walk_user_tasks */
    case COMMAND_GET_USER_TASK:
        rc = chute_engine_get_user_task(e, cmd->key, &res.user_task, &err);
        break;
    case COMMAND_ASSIGN_USER_TASK: {
        /* No assignee unassigns, whoever holds the task: an override is
         * refused only for a new assignee. */
        const char *who = cmd->assignee ? cmd->assignee : "";
        rc = chute_engine_assign_user_task(e, cmd->key, who, !who[0] || !cmd->no_override, &err);
        break;
    }
    case COMMAND_COMPLETE_USER_TASK:
        rc = chute_engine_complete_user_task(e, cmd->key, cmd->variables, cmd->variables_len, &err);
        break;
    default:
        rc = chute_error_set(&err, CHUTE_EUNIMPL, "Command %s is not implemented",
                             command_kind_words(cmd->kind));
        break;
    }
    if (rc != 0)
        answer_error(call, cmd, &err);
    else
        answer(call, cmd, &res);
}

int command_call_waiting(const command_call *call)
{
    return broker_poll_waiting(&call->bp) || call->awaiting;
}

void command_call_cancel(command_call *call)
{
    if (call->awaiting) {
        if (call->awaiter)
            chute_engine_await_remove(broker_engine(call->b), call->awaiter);
        await_end(call);
    }
    broker_poll_cancel(call->b, &call->bp);
    if (call->taker) {
        chute_engine_taker_remove(broker_engine(call->b), call->taker);
        call->taker = NULL;
    }
}

void command_call_expire(command_call *call)
{
    if (call->awaiting) {
        await_abandon(call, CHUTE_EUNAVAIL,
                      "Expected the process instance to complete, but chuted is shutting down");
        return;
    }
    if (!broker_poll_waiting(&call->bp))
        return;
    broker_poll_cancel(call->b, &call->bp);
    poll_expired(&call->bp);
}

void command_call_credit(command_call *call, uint32_t n)
{
    if (call->taker)
        chute_engine_stream_credit(broker_engine(call->b), call->taker, n);
}

/* ---- lists ------------------------------------------------------------------------------- */

int command_result_walk(const command_result *res, chute_job_visit_fn fn, void *ctx)
{
    const command *cmd = res->cmd;
    return chute_engine_list_jobs(res->engine, cmd->type, cmd->state,
                                  (size_t)(cmd->page - 1) * (size_t)cmd->size, (size_t)cmd->size,
                                  fn, ctx);
}

/* ---- incidents -------------------------------------------------------------------- */

typedef struct incident_walk {
    chute_engine *e;
    const char *type; /* job type filter, or NULL */
    size_t limit;     /* 0: no limit */
    size_t count;
    command_incident_fn fn;
    void *ctx;
} incident_walk;

/*
 * Hands one incident of chute_engine_search_incidents on with its job. The
 * job of an open incident is in memory (a job with an incident is never
 * evicted), so chute_engine_get reads no store and frees nothing the
 * incident views point into (live jobs, element instances, definitions, or
 * the instance the search holds). A resolved incident's job is not looked
 * up: it may be gone, and only the incident is shown.
 */
static int visit_incident(void *ctx, const chute_incident_view *inc)
{
    incident_walk *w = ctx;
    chute_job_view job, *jp = NULL;
    chute_error err;
    if (inc->job_key && !inc->resolved && chute_engine_get(w->e, inc->job_key, &job, &err) == 0)
        jp = &job;
    if (w->type && (!jp || strcmp(w->type, jp->type) != 0))
        return 0;
    if (w->fn(w->ctx, inc, jp))
        return 1;
    return w->limit && ++w->count >= w->limit;
}

int command_result_walk_incidents_open(const command_result *res, command_incident_fn fn, void *ctx)
{
    incident_walk w = {
        .e = res->engine, .type = res->cmd->type, .limit = res->cmd->limit, .fn = fn, .ctx = ctx};
    return chute_engine_search_incidents(res->engine, 0, visit_incident, &w);
}

int command_result_walk_instance(const command_result *res, chute_element_visit_fn element_fn,
                                 command_incident_fn incident_fn, chute_wait_visit_fn wait_fn,
                                 void *ctx)
{
    chute_error err;
    int64_t key = res->cmd->key;
    int rc = chute_engine_list_elements(res->engine, key, element_fn, ctx, &err);
    if (rc != 0)
        return rc;
    incident_walk w = {.e = res->engine, .fn = incident_fn, .ctx = ctx};
    rc = chute_engine_search_incidents(res->engine, key, visit_incident, &w);
    if (rc != 0)
        return rc;
    return chute_engine_list_waits(res->engine, key, wait_fn, ctx, &err);
}

/* ---- searches ------------------------------------------------------------------------------- */

/* The page of a search being walked: which matches are visited, and how
 * many are counted. */
typedef struct window {
    const command_search *s;
    command_page *page;
    size_t seen;    /* matches so far */
    size_t cap;     /* matches counted at most */
    size_t scanned; /* entries the engine handed out */
    int full;       /* the visitor said the answer is full */
    size_t limit;
    /* The visitor: one of these, by the search. */
    chute_instance_visit_fn instance_fn;
    chute_element_visit_fn element_fn;
    chute_variable_visit_fn variable_fn;
    chute_incident_visit_fn incident_fn;
    chute_user_task_visit_fn user_task_fn;
    void *ctx;
} window;

static void window_init(window *w, const command_search *s, command_page *page, void *ctx)
{
    memset(w, 0, sizeof *w);
    w->s = s;
    w->page = page;
    w->ctx = ctx;
    w->limit = s->limit ? s->limit : REST_SEARCH_DEFAULT_LIMIT;
    w->cap = s->from + w->limit + COMMAND_SEARCH_COUNT_MAX;
    page->total = 0;
    page->more = 0;
}

/* One more match: 1 to visit it, 0 to count it only, -1 to stop the walk
 * (the count is full). */
static int window_step(window *w)
{
    if (w->seen >= w->cap) {
        w->page->more = 1;
        return -1;
    }
    size_t i = w->seen++;
    w->page->total = w->seen;
    return !w->full && i >= w->s->from && i - w->s->from < w->limit;
}

static int str_differs(const char *want, const char *got)
{
    return want && strcmp(want, got ? got : "") != 0;
}

static int key_differs(int64_t want, int64_t got)
{
    return want && want != got;
}

static int visit_instance(void *ctx, const chute_instance_view *inst)
{
    window *w = ctx;
    const command_search *s = w->s;
    w->scanned++;
    if (s->has_version && inst->version != s->version)
        return 0;
    int step = window_step(w);
    if (step < 0)
        return 1;
    if (step && w->instance_fn(w->ctx, inst))
        w->full = 1;
    return 0;
}

int command_result_walk_instances(const command_result *res, chute_instance_visit_fn fn, void *ctx,
                                  command_page *page)
{
    const command_search *s = &res->cmd->search;
    window w;
    window_init(&w, s, page, ctx);
    w.instance_fn = fn;
    if (s->no_match)
        return 0;
    chute_instance_filter f = {.key = s->process_instance_key,
                               .process_definition_key = s->process_definition_key,
                               .bpmn_process_id = s->bpmn_process_id,
                               .state = s->state,
                               .has_incident = s->has_incident};
    int rc = chute_engine_list_instances(res->engine, &f, 0, COMMAND_SEARCH_SCAN_MAX,
                                         visit_instance, &w);
    if (w.scanned >= COMMAND_SEARCH_SCAN_MAX)
        page->more = 1;
    return rc;
}

static int visit_element(void *ctx, const chute_element_view *el)
{
    window *w = ctx;
    const command_search *s = w->s;
    if (key_differs(s->process_definition_key, el->process_definition_key) ||
        str_differs(s->bpmn_process_id, el->bpmn_process_id) ||
        key_differs(s->element_instance_key, el->key) ||
        str_differs(s->element_id, el->element_id) ||
        str_differs(s->element_type, el->element_type) || (s->state && s->state != el->state) ||
        (s->has_incident > 0 && !el->incident_key) || (s->has_incident < 0 && el->incident_key) ||
        key_differs(s->incident_key, el->incident_key) ||
        key_differs(s->scope_key, el->flow_scope_key))
        return 0;
    int step = window_step(w);
    if (step < 0)
        return 1;
    if (step && w->element_fn(w->ctx, el))
        w->full = 1;
    return 0;
}

int command_result_walk_elements(const command_result *res, chute_element_visit_fn fn, void *ctx,
                                 command_page *page)
{
    const command_search *s = &res->cmd->search;
    window w;
    chute_error err;
    window_init(&w, s, page, ctx);
    w.element_fn = fn;
    if (s->no_match)
        return 0;
    int64_t pi = s->process_instance_key;
    if (pi == 0 && chute_engine_element_instance(res->engine, s->scope_key, &pi, &err) != 0)
        return 0;
    int rc = chute_engine_list_elements(res->engine, pi, visit_element, &w, &err);
    return rc == CHUTE_ENOTFOUND ? 0 : rc;
}

static int visit_variable(void *ctx, const chute_variable_view *v)
{
    window *w = ctx;
    const command_search *s = w->s;
    if (str_differs(s->name, v->name) || key_differs(s->variable_key, v->key))
        return 0;
    int step = window_step(w);
    if (step < 0)
        return 1;
    if (step && w->variable_fn(w->ctx, v))
        w->full = 1;
    return 0;
}

int command_result_walk_variables(const command_result *res, chute_variable_visit_fn fn, void *ctx,
                                  command_page *page)
{
    const command_search *s = &res->cmd->search;
    window w;
    chute_error err;
    window_init(&w, s, page, ctx);
    w.variable_fn = fn;
    if (s->no_match)
        return 0;
    int64_t pi = s->process_instance_key;
    /* A scope alone names its instance while it is active. */
    if (pi == 0 && chute_engine_element_instance(res->engine, s->scope_key, &pi, &err) != 0)
        return 0;
    int rc = chute_engine_list_variables(res->engine, pi, s->scope_key, visit_variable, &w, &err);
    return rc == CHUTE_ENOTFOUND ? 0 : rc;
}

static int visit_process_incident(void *ctx, const chute_incident_view *inc)
{
    window *w = ctx;
    const command_search *s = w->s;
    if (key_differs(s->incident_key, inc->key) ||
        key_differs(s->process_definition_key, inc->process_definition_key) ||
        str_differs(s->bpmn_process_id, inc->bpmn_process_id) ||
        str_differs(s->error_type, chute_incident_type_name(inc->type)) ||
        str_differs(s->element_id, inc->element_id) ||
        key_differs(s->element_instance_key, inc->element_instance_key) ||
        key_differs(s->job_key, inc->job_key) || (s->incident_state == 1 && inc->resolved) ||
        (s->incident_state == 2 && !inc->resolved))
        return 0;
    int step = window_step(w);
    if (step < 0)
        return 1;
    if (step && w->incident_fn(w->ctx, inc))
        w->full = 1;
    return 0;
}

int command_result_walk_incidents(const command_result *res, chute_incident_visit_fn fn, void *ctx,
                                  command_page *page)
{
    const command_search *s = &res->cmd->search;
    window w;
    window_init(&w, s, page, ctx);
    w.incident_fn = fn;
    if (s->no_match)
        return 0;
    return chute_engine_search_incidents(res->engine, s->process_instance_key,
                                         visit_process_incident, &w);
}

int command_result_walk_types(const command_result *res,
                              int (*fn)(void *ctx, const chute_type_stats *s), void *ctx)
{
    return chute_engine_list_types(res->engine, fn, ctx);
}

/* ---- ZenBPM's job list ----------------------------------------------------------------------- */

/* A match of the list, with what the order needs. */
typedef struct zen_entry {
    int64_t key;
    int64_t created_at;
    int state; /* the ZenBPM state's order: active, completed, failed */
    char *type;
} zen_entry;

typedef struct zen_scan {
    const command_zen_list *f;
    broker *b;
    zen_entry *v;
    size_t n, cap;
    size_t scanned;
    int rc;
} zen_scan;

static int zen_state_matches(command_zen_state want, chute_job_state s)
{
    switch (want) {
    case COMMAND_ZEN_ANY:
        return 1;
    case COMMAND_ZEN_COMPLETED:
        return s == CHUTE_JOB_COMPLETED;
    case COMMAND_ZEN_FAILED:
        return s == CHUTE_JOB_INCIDENT || s == CHUTE_JOB_ERROR_THROWN;
    case COMMAND_ZEN_ACTIVE:
        return s == CHUTE_JOB_ACTIVATABLE || s == CHUTE_JOB_ACTIVATED || s == CHUTE_JOB_FAILED ||
               s == CHUTE_JOB_DELAYED;
    default: /* TERMINATED: Chute keeps no cancelled job */
        return 0;
    }
}

static int zen_state_rank(chute_job_state s)
{
    const char *n = command_zen_state_name(s);
    return n[0] == 'a' ? 0 : n[0] == 'c' ? 1 : n[0] == 'f' ? 2 : 3;
}

static int visit_zen(void *ctx, const chute_job_view *job)
{
    zen_scan *z = ctx;
    const command_zen_list *f = z->f;
    z->scanned++;
    if (!zen_state_matches(f->state, job->state) ||
        (f->process_instance_key && job->process.process_instance_key != f->process_instance_key))
        return 0;
    if (f->assignee) {
        const char *who = job->assignee && *job->assignee ? job->assignee : job->worker;
        if (strcmp(who, f->assignee) != 0)
            return 0;
    }
    if (z->n == z->cap) {
        size_t cap = z->cap ? z->cap * 2 : 64;
        zen_entry *v = realloc(z->v, cap * sizeof *v);
        if (!v) {
            z->rc = CHUTE_ENOMEM;
            return 1;
        }
        z->v = v;
        z->cap = cap;
    }
    zen_entry *e = &z->v[z->n];
    e->key = job->key;
    e->created_at = job->created_at;
    e->state = zen_state_rank(job->state);
    e->type = NULL;
    if (f->sort_by == COMMAND_ZEN_SORT_TYPE && !(e->type = strdup(job->type))) {
        z->rc = CHUTE_ENOMEM;
        return 1;
    }
    z->n++;
    return 0;
}

static command_zen_sort zen_sort_by;
static int zen_sort_desc;

static int zen_cmp(const void *a, const void *b)
{
    const zen_entry *x = a, *y = b;
    int c = 0;
    switch (zen_sort_by) {
    case COMMAND_ZEN_SORT_CREATED_AT:
        c = (x->created_at > y->created_at) - (x->created_at < y->created_at);
        break;
    case COMMAND_ZEN_SORT_TYPE:
        c = strcmp(x->type, y->type);
        break;
    case COMMAND_ZEN_SORT_STATE:
        c = x->state - y->state;
        break;
    case COMMAND_ZEN_SORT_KEY:
        break;
    }
    if (c == 0)
        c = (x->key > y->key) - (x->key < y->key); /* keys grow with creation */
    return zen_sort_desc ? -c : c;
}

int command_result_walk_zen_jobs(const command_result *res, command_zen_visit_fn fn, void *ctx,
                                 broker *b, command_page *page)
{
    const command_zen_list *f = &res->cmd->zen;
    zen_scan z = {.f = f, .b = b};
    int rc = 0;
    page->total = 0;
    page->more = 0;
    if (f->state == COMMAND_ZEN_TERMINATED)
        return 0;
    /* Every state but COMPLETED in one walk, the retained completed jobs
     * in another. */
    if (f->state != COMMAND_ZEN_COMPLETED)
        rc = chute_engine_list_jobs(res->engine, f->type, 0, 0, COMMAND_SEARCH_SCAN_MAX, visit_zen,
                                    &z);
    if (rc == 0 && z.rc == 0 && (f->state == COMMAND_ZEN_ANY || f->state == COMMAND_ZEN_COMPLETED))
        rc = chute_engine_list_jobs(res->engine, f->type, CHUTE_JOB_COMPLETED, 0,
                                    COMMAND_SEARCH_SCAN_MAX, visit_zen, &z);
    if (rc == 0)
        rc = z.rc;
    if (rc == 0) {
        zen_sort_by = f->sort_by; /* the loop thread is the only one */
        zen_sort_desc = f->descending;
        if (z.n > 1)
            qsort(z.v, z.n, sizeof *z.v, zen_cmp);
        page->total = z.n;
        page->more = z.scanned >= COMMAND_SEARCH_SCAN_MAX;
        size_t from = (size_t)(f->page - 1) * (size_t)f->size;
        for (size_t i = from; i < z.n && i - from < (size_t)f->size; i++) {
            chute_job_view v;
            chute_error err;
            if (chute_engine_get(res->engine, z.v[i].key, &v, &err) != 0)
                continue; /* gone between the scan and now: cannot happen on one thread */
            if (fn(ctx, &v, *v.assignee ? v.assignee : NULL))
                break;
        }
    }
    for (size_t i = 0; i < z.n; i++)
        free(z.v[i].type);
    free(z.v);
    return rc;
}

/* ---- user tasks ------------------------------------------------------------------------ */

static int visit_user_task(void *ctx, const chute_user_task_view *t)
{
    window *w = ctx;
    const command_search *s = w->s;
    const char *groups = t->candidate_groups ? t->candidate_groups : "";
    const char *users = t->candidate_users ? t->candidate_users : "";
    if (key_differs(s->process_definition_key, t->process_definition_key) ||
        key_differs(s->element_instance_key, t->key) || key_differs(s->user_task_key, t->key) ||
        str_differs(s->name, t->name) || (s->has_priority && s->priority != t->priority) ||
        (s->assigned > 0 && !(t->assignee && t->assignee[0])) ||
        (s->candidate_group && !jdoc_array_has(groups, strlen(groups), s->candidate_group)) ||
        (s->candidate_user && !jdoc_array_has(users, strlen(users), s->candidate_user)))
        return 0;
    int step = window_step(w);
    if (step < 0)
        return 1;
    if (step && w->user_task_fn(w->ctx, t))
        w->full = 1;
    return 0;
}

int command_result_walk_user_tasks(const command_result *res, chute_user_task_visit_fn fn,
                                   void *ctx, command_page *page)
{
    const command_search *s = &res->cmd->search;
    window w;
    window_init(&w, s, page, ctx);
    w.user_task_fn = fn;
    if (s->no_match)
        return 0;
    chute_user_task_filter f = {.process_instance_key = s->process_instance_key,
                                .assignee = s->assignee,
                                .element_id = s->element_id,
                                .bpmn_process_id = s->bpmn_process_id};
    return chute_engine_list_user_tasks(res->engine, &f, visit_user_task, &w);
}
