/* The command layer: the table of commands and command_run; see commands.h. */
#include "server/commands.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chute_codec.h"
#include "gateway_codec.h"
#include "rest.h"

#define GW "/gateway_protocol.Gateway/"
#define CH "/chute.v1.Chute/"

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
    /* Reads of process instances that the gateway protocol has no RPC for. */
    {"GetProcessInstance", COMMAND_INSTANCE_DETAILS, ADDS,
        CH, codec_decode_get_process_instance,   NULL, NULL, NULL, 0},
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
        if (!d->grpc_service || strcmp(d->grpc_service, service) != 0)
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
    res->kind = cmd ? cmd->kind : COMMAND_ACTIVATE;
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
    command_result res = {.jobs = jobs, .njobs = n};
    answer(CALL_OF_POLL(bp), NULL, &res);
}

static void poll_expired(broker_poll *bp)
{
    command_result res = {0};
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
        break;
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
    return broker_poll_waiting(&call->bp);
}

void command_call_cancel(command_call *call)
{
    broker_poll_cancel(call->b, &call->bp);
    if (call->taker) {
        chute_engine_taker_remove(broker_engine(call->b), call->taker);
        call->taker = NULL;
    }
}

void command_call_expire(command_call *call)
{
    if (!command_call_waiting(call))
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
                                 command_incident_fn incident_fn, void *ctx)
{
    chute_error err;
    int64_t key = res->cmd->key;
    int rc = chute_engine_list_elements(res->engine, key, element_fn, ctx, &err);
    if (rc != 0)
        return rc;
    incident_walk w = {.e = res->engine, .fn = incident_fn, .ctx = ctx};
    return chute_engine_search_incidents(res->engine, key, visit_incident, &w);
}

int command_result_walk_types(const command_result *res,
                              int (*fn)(void *ctx, const chute_type_stats *s), void *ctx)
{
    return chute_engine_list_types(res->engine, fn, ctx);
}
