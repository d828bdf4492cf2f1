/*
 * The HTTP API: routes, answers after commit; see http_api.h.
 *
 * A request's method and path name a row of the command table
 * (commands.h); the routes are that table's data, plus the operational
 * endpoints below (/metrics, /healthz, /readyz). The row's command is
 * admitted, decoded into a struct command and run by command_run, whose
 * answer this file encodes as JSON or problem+json.
 *
 * Every command gets a struct call. Its answer (status and body) is
 * prepared at once, or when its long poll ends, and queued on the broker;
 * after the commit it is handed to the transport. A call whose connection
 * went away (on_abort) keeps existing until the broker released it, and
 * then only returns the jobs its answer carried.
 */
#include "server/http_api.h"

#include <http_parser.h>
#include <inttypes.h>
#include <libgen.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "rest.h"
#include "server/commands.h"

#define CT_JSON "application/json"
#define CT_PROBLEM "application/problem+json"
#define CT_METRICS "text/plain; version=0.0.4; charset=utf-8"

typedef struct call {
    broker_pending pend; /* first: the broker hands it back */
    command_call cc;     /* the command layer's poll */
    http_api *api;
    http_request *req; /* NULL once the connection went away */
    const command_def *def;
    int queued;
    struct call *prev, *next; /* in api->polls while waiting */
    uint64_t started;         /* uv_hrtime(), activation only */
    int status;
    char *body;
    size_t len;
    const char *ctype;
    command_lease *jobs; /* leases the answer carries */
    size_t njobs;
} call;

struct http_api {
    uv_loop_t *loop;
    broker *b;
    chute_engine *e;
    http_server *http;
    http_api_config cfg;
    call *polls; /* calls waiting: a long poll, or an awaited process instance */
    int closing;
    char host[256];
    char grpc_host[256];
};

/* ---- answering ------------------------------------------------------------- */

/* ZenBPM's endpoints answer errors in ZenBPM's shape, {"code", "message"},
 * with the same statuses and with Chute's problem titles as codes. */
#define ZEN_PREFIX "/zenbpm/"

static int zen_path(const char *path)
{
    return strncmp(path, ZEN_PREFIX, strlen(ZEN_PREFIX)) == 0 || strcmp(path, "/zenbpm") == 0;
}

/* An error body for |path|: problem+json, or ZenBPM's for its endpoints. */
static int error_body(int status, const char *title, const char *detail, const char *path,
                      char **body, size_t *len, const char **ctype)
{
    if (zen_path(path)) {
        *ctype = CT_JSON;
        return rest_zen_error(title, detail, body, len);
    }
    *ctype = CT_PROBLEM;
    return rest_problem(status, title, detail, path, body, len);
}

static int respond(http_api *a, http_request *req, int status, const char *ctype, const char *extra,
                   char *body, size_t len, http_sent_fn sent, void *ud)
{
    metrics_count_http(a->cfg.metrics, status);
    return http_respond(req, status, ctype, extra, body, len, sent, ud);
}

static void respond_problem(http_api *a, http_request *req, int status, const char *title,
                            const char *detail, const char *extra)
{
    char *body = NULL;
    size_t len = 0;
    const char *ctype;
    if (error_body(status, title, detail, req->path, &body, &len, &ctype) != 0)
        len = 0;
    respond(a, req, status, body ? ctype : NULL, extra, body, len, NULL, NULL);
}

static void respond_error(http_api *a, http_request *req, const chute_error *err)
{
    respond_problem(a, req, rest_http_status(err->code), rest_problem_title(err->code),
                    err->message, NULL);
}

/* ---- calls ----------------------------------------------------------------------- */

static void call_free(call *c)
{
    free(c->body);
    free(c->jobs);
    free(c);
}

static void return_jobs(http_api *a, call *c)
{
    command_return_jobs(a->b, c->jobs, c->njobs);
    c->njobs = 0;
}

static void unlink_poll(call *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else if (c->api->polls == c)
        c->api->polls = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->prev = c->next = NULL;
}

static void on_abort(void *ud, http_request *req)
{
    call *c = ud;
    (void)req;
    c->req = NULL;
    if (command_call_waiting(&c->cc)) {
        command_call_cancel(&c->cc);
        unlink_poll(c);
    }
    if (!c->queued)
        call_free(c);
}

/* A response with leased jobs was written (ok) or dropped. */
static void on_jobs_sent(void *ud, int ok)
{
    call *c = ud;
    if (!ok)
        return_jobs(c->api, c);
    call_free(c);
}

static void on_committed(broker_pending *p, int ok, const chute_error *err)
{
    call *c = (call *)p;
    http_api *a = c->api;
    c->queued = 0;
    if (!ok) {
        /* The batch was undone: its leases no longer exist. */
        c->njobs = 0;
        if (c->req)
            respond_error(a, c->req, err);
        call_free(c);
        return;
    }
    if (!c->req) {
        return_jobs(a, c);
        call_free(c);
        return;
    }
    if (c->def->kind == COMMAND_ACTIVATE)
        metrics_observe_activation(a->cfg.metrics, METRICS_API_REST,
                                   (double)(uv_hrtime() - c->started) / 1e9);
    char *body = c->body;
    c->body = NULL;
    if (c->njobs > 0) {
        if (respond(a, c->req, c->status, c->ctype, NULL, body, c->len, on_jobs_sent, c) != 0) {
            return_jobs(a, c);
            call_free(c);
        }
        return;
    }
    respond(a, c->req, c->status, c->ctype, NULL, body, c->len, NULL, NULL);
    call_free(c);
}

/* Prepares the answer (takes |body|) and queues it after the commit. */
static void queue_answer(call *c, int status, const char *ctype, char *body, size_t len)
{
    c->status = status;
    c->ctype = ctype;
    c->body = body;
    c->len = len;
    c->queued = 1;
    broker_after_commit(c->api->b, &c->pend, on_committed);
}

static void queue_error(call *c, const chute_error *err)
{
    char *body = NULL;
    size_t len = 0;
    const char *ctype;
    int status = rest_http_status(err->code);
    error_body(status, rest_problem_title(err->code), err->message,
               c->req ? c->req->path : c->def->rest_route, &body, &len, &ctype);
    queue_answer(c, status, body ? ctype : NULL, body, body ? len : 0);
}

static void queue_json(call *c, int status, rest_buf *b)
{
    char *body;
    size_t len;
    int rc = rest_buf_finish(b, &body, &len);
    if (rc != 0) {
        chute_error err;
        chute_error_set(&err, rc, "the response does not fit: %s", chute_strerror(rc));
        queue_error(c, &err);
        return;
    }
    queue_answer(c, status, CT_JSON, body, len);
}

/* ---- encoding the answers ------------------------------------------------------------ */

static size_t response_bound(const http_api *a)
{
    return a->cfg.limits.max_body_size;
}

static void answer_jobs(call *c, const chute_job_view *jobs, size_t n)
{
    http_api *a = c->api;
    c->jobs = malloc((n ? n : 1) * sizeof *c->jobs);
    if (!c->jobs) {
        /* Out of memory: the leases run out and the jobs come back. */
        chute_error err;
        chute_error_set(&err, CHUTE_ENOMEM, "out of memory");
        queue_error(c, &err);
        return;
    }
    command_leases_of(jobs, n, c->jobs);
    c->njobs = n;
    rest_buf b;
    /* The budget bounds variables and headers; the rest is bounded per job. */
    rest_buf_init(&b, response_bound(a) * 2 + 4096);
    rest_buf_puts(&b, "{\"jobs\":[");
    for (size_t i = 0; i < n; i++) {
        if (i)
            rest_buf_puts(&b, ",");
        rest_encode_activated_job(&b, &jobs[i]);
    }
    rest_buf_puts(&b, "]}");
    char *body;
    size_t len;
    if (rest_buf_finish(&b, &body, &len) != 0) {
        /* The jobs cannot be answered: give them back in the open batch
         * (they were leased in it) and answer with the error. */
        return_jobs(a, c);
        chute_error err;
        chute_error_set(&err, CHUTE_EBUSY,
                        "the activated jobs do not fit in one response; they were returned");
        queue_error(c, &err);
        return;
    }
    queue_answer(c, 200, CT_JSON, body, len);
}

typedef struct list_walk {
    rest_buf *b;
    size_t soft_max; /* stop before the body would grow past this */
    size_t count;
    int truncated;
} list_walk;

static int visit_job(void *ctx, const chute_job_view *job)
{
    list_walk *w = ctx;
    size_t need = job->variables_len + job->headers_len + strlen(job->error_message) * 6 + 1024;
    if (w->count > 0 && w->b->len + need > w->soft_max) {
        w->truncated = 1;
        return 1;
    }
    if (w->count)
        rest_buf_puts(w->b, ",");
    rest_encode_job(w->b, job);
    w->count++;
    return w->b->failed;
}

static int visit_open_incident(void *ctx, const chute_incident_view *inc, const chute_job_view *job)
{
    list_walk *w = ctx;
    size_t strings = strlen(inc->message) + strlen(inc->bpmn_process_id) + strlen(inc->element_id) +
                     (job ? strlen(job->type) + strlen(job->error_code) : 0);
    if (w->count > 0 && w->b->len + 6 * strings + 1024 > w->soft_max) {
        w->truncated = 1;
        return 1;
    }
    if (w->count)
        rest_buf_puts(w->b, ",");
    rest_encode_incident(w->b, inc, job);
    w->count++;
    return w->b->failed;
}

typedef struct types_walk {
    rest_buf *b;
    size_t count;
    int64_t now;
} types_walk;

static int visit_type(void *ctx, const chute_type_stats *s)
{
    types_walk *w = ctx;
    if (w->count++)
        rest_buf_puts(w->b, ",");
    rest_encode_type_stats(w->b, s, w->now);
    return w->b->failed;
}

static void answer_list(call *c, const command_result *res)
{
    rest_buf b;
    size_t bound = response_bound(c->api);
    int incidents = res->kind == COMMAND_LIST_INCIDENTS;
    rest_buf_init(&b, bound * 2 + 65536);
    rest_buf_puts(&b, incidents ? "{\"incidents\":[" : "{\"jobs\":[");
    list_walk w = {.b = &b, .soft_max = bound};
    int rc = incidents ? command_result_walk_incidents_open(res, visit_open_incident, &w)
                       : command_result_walk(res, visit_job, &w);
    if (rc != 0) {
        chute_error err;
        rest_buf_free(&b);
        chute_error_set(&err, rc, "cannot list jobs: %s", chute_strerror(rc));
        queue_error(c, &err);
        return;
    }
    if (incidents)
        rest_buf_printf(&b, "],\"count\":%zu,\"truncated\":%s}", w.count,
                        w.truncated ? "true" : "false");
    else
        rest_buf_printf(&b, "],\"page\":%lld,\"size\":%lld,\"count\":%zu,\"truncated\":%s}",
                        res->cmd->page, res->cmd->size, w.count, w.truncated ? "true" : "false");
    queue_json(c, 200, &b);
}

static void answer_types(call *c, const command_result *res)
{
    rest_buf b;
    rest_buf_init(&b, 0);
    rest_buf_puts(&b, "{\"types\":[");
    types_walk w = {.b = &b, .now = chute_engine_now(res->engine)};
    int rc = command_result_walk_types(res, visit_type, &w);
    if (rc != 0) {
        chute_error err;
        rest_buf_free(&b);
        chute_error_set(&err, rc, "cannot list job types: %s", chute_strerror(rc));
        queue_error(c, &err);
        return;
    }
    rest_buf_puts(&b, "]}");
    queue_json(c, 200, &b);
}

/* ---- searches ------------------------------------------------------------------------- */

/* The body of a search answer being built: {items: [...], page: {...}}.
 * Entries stop once the body passes the response bound (the first entry
 * always goes in; the hard maximum leaves room for it escaped), and the
 * page still counts them, so a client sees fewer items than totalItems and
 * pages on with from. */
typedef struct search_walk {
    rest_buf *b;
    size_t soft_max;
    size_t count;
} search_walk;

/* Room for one more entry of at most |need| bytes: 0, or 1 when the answer
 * is full. */
static int search_room(search_walk *w, size_t need)
{
    if (w->b->failed || (w->count > 0 && w->b->len + need > w->soft_max))
        return 1;
    if (w->count++)
        rest_buf_puts(w->b, ",");
    return 0;
}

static size_t str_need(const char *s)
{
    return s ? 6 * strlen(s) : 0;
}

static int visit_instance(void *ctx, const chute_instance_view *inst)
{
    search_walk *w = ctx;
    if (search_room(w, 512 + str_need(inst->bpmn_process_id)))
        return 1;
    rest_encode_instance(w->b, inst);
    return w->b->failed;
}

static int visit_element(void *ctx, const chute_element_view *el)
{
    search_walk *w = ctx;
    if (search_room(w, 768 + str_need(el->bpmn_process_id) + str_need(el->element_id) +
                           str_need(el->element_name) + str_need(el->element_type)))
        return 1;
    rest_encode_element(w->b, el);
    return w->b->failed;
}

static int visit_variable(void *ctx, const chute_variable_view *v)
{
    search_walk *w = ctx;
    if (search_room(w, 512 + str_need(v->name) + 6 * v->value_len))
        return 1;
    rest_encode_variable(w->b, v);
    return w->b->failed;
}

static int visit_incident(void *ctx, const chute_incident_view *inc)
{
    search_walk *w = ctx;
    if (search_room(w, 768 + str_need(inc->message) + str_need(inc->bpmn_process_id) +
                           str_need(inc->element_id)))
        return 1;
    rest_encode_process_incident(w->b, inc);
    return w->b->failed;
}

static int visit_user_task(void *ctx, const chute_user_task_view *t)
{
    search_walk *w = ctx;
    if (search_room(w, 1024 + str_need(t->bpmn_process_id) + str_need(t->element_id) +
                           str_need(t->name) + str_need(t->assignee) +
                           str_need(t->candidate_groups) + str_need(t->candidate_users) +
                           str_need(t->form_key) + str_need(t->due_date) +
                           str_need(t->follow_up_date)))
        return 1;
    rest_encode_user_task(w->b, t);
    return w->b->failed;
}

static void answer_search(call *c, const command_result *res)
{
    rest_buf b;
    size_t bound = response_bound(c->api);
    /* A variable of the engine's largest document, escaped six-fold. */
    rest_buf_init(&b, bound * 7 + 65536);
    rest_buf_puts(&b, "{\"items\":[");
    search_walk w = {.b = &b, .soft_max = bound};
    command_page page;
    int rc;
    switch (res->kind) {
    case COMMAND_SEARCH_INSTANCES:
        rc = command_result_walk_instances(res, visit_instance, &w, &page);
        break;
    case COMMAND_SEARCH_ELEMENTS:
        rc = command_result_walk_elements(res, visit_element, &w, &page);
        break;
    case COMMAND_SEARCH_VARIABLES:
        rc = command_result_walk_variables(res, visit_variable, &w, &page);
        break;
    case COMMAND_SEARCH_USER_TASKS:
        rc = command_result_walk_user_tasks(res, visit_user_task, &w, &page);
        break;
    default:
        rc = command_result_walk_incidents(res, visit_incident, &w, &page);
        break;
    }
    if (rc != 0) {
        chute_error err;
        rest_buf_free(&b);
        chute_error_set(&err, rc, "cannot %s: %s", command_kind_words(res->kind),
                        chute_strerror(rc));
        queue_error(c, &err);
        return;
    }
    rest_buf_printf(&b, "],\"page\":{\"totalItems\":%zu,\"hasMoreTotalItems\":%s}}", page.total,
                    page.more ? "true" : "false");
    queue_json(c, 200, &b);
}

/* ---- ZenBPM's job list ---------------------------------------------------------------- */

typedef struct zen_walk {
    rest_buf *b;
    size_t soft_max;
    size_t count;
} zen_walk;

static int visit_zen_job(void *ctx, const chute_job_view *job, const char *assignee)
{
    zen_walk *w = ctx;
    size_t need = 6 * (job->variables_len + strlen(job->type) + strlen(job->error_message) +
                       strlen(job->process.element_id) + strlen(job->worker)) +
                  1024;
    if (w->count > 0 && w->b->len + need > w->soft_max)
        return 1; /* the page is cut where the answer is full */
    if (w->count++)
        rest_buf_puts(w->b, ",");
    rest_encode_zen_job(w->b, job, assignee);
    return w->b->failed;
}

/* {"partitions":[{"partition":N,"items":[...]}],"page","size","count",
 * "totalCount"}: one partition, the one this chuted serves. */
static void answer_zen_list(call *c, const command_result *res)
{
    rest_buf b;
    size_t bound = response_bound(c->api);
    const command_zen_list *f = &res->cmd->zen;
    rest_buf_init(&b, bound * 7 + 65536);
    /* chuted serves one partition, number 1 (its engine's default). */
    rest_buf_puts(&b, "{\"partitions\":[{\"partition\":1,\"items\":[");
    zen_walk w = {.b = &b, .soft_max = bound};
    command_page page;
    int rc = command_result_walk_zen_jobs(res, visit_zen_job, &w, c->api->b, &page);
    if (rc != 0) {
        chute_error err;
        rest_buf_free(&b);
        chute_error_set(&err, rc, "cannot list jobs: %s", chute_strerror(rc));
        queue_error(c, &err);
        return;
    }
    rest_buf_printf(&b, "]}],\"page\":%lld,\"size\":%lld,\"count\":%zu,\"totalCount\":%zu}",
                    f->page, f->size, w.count, page.total);
    queue_json(c, 200, &b);
}

/* Encodes a command's result as its REST answer and queues it. */
static void answer(command_call *cc, const command_result *res)
{
    call *c = (call *)((char *)cc - offsetof(call, cc));
    int status = c->def->rest_status;
    rest_buf b;
    if (c->prev || c->next || c->api->polls == c)
        unlink_poll(c); /* a long poll that ended */
    if (res->rc != 0) {
        queue_error(c, res->err);
        return;
    }
    switch (res->kind) {
    case COMMAND_ACTIVATE:
        answer_jobs(c, res->jobs, res->njobs);
        return;
    case COMMAND_LIST_JOBS:
    case COMMAND_LIST_INCIDENTS:
        answer_list(c, res);
        return;
    case COMMAND_JOB_TYPES:
        answer_types(c, res);
        return;
    case COMMAND_TOPOLOGY:
        rest_buf_init(&b, 0);
        rest_encode_topology(&b, res->host, res->port);
        break;
    case COMMAND_CREATE:
        rest_buf_init(&b, 0);
        if (res->cmd->is_array) {
            rest_buf_puts(&b, "{\"keys\":[");
            for (size_t k = 0; k < res->nkeys; k++)
                rest_buf_printf(&b, "%s\"%" PRId64 "\"", k ? "," : "", res->keys[k]);
            rest_buf_puts(&b, "]}");
        } else {
            rest_buf_printf(&b, "{\"key\":\"%" PRId64 "\"}", res->keys[0]);
        }
        break;
    case COMMAND_GET_JOB:
        rest_buf_init(&b, response_bound(c->api) * 7 + 4096);
        if (zen_path(c->def->rest_route))
            rest_encode_zen_job(&b, &res->job, *res->job.assignee ? res->job.assignee : NULL);
        else
            rest_encode_job(&b, &res->job);
        break;
    case COMMAND_ZEN_LIST_JOBS:
        answer_zen_list(c, res);
        return;
    case COMMAND_DEPLOY:
        rest_buf_init(&b, 0);
        rest_encode_deployment(&b, res->deployment_key, res->procs, res->nprocs);
        break;
    case COMMAND_CREATE_INSTANCE:
        rest_buf_init(&b, response_bound(c->api) * 2 + 4096);
        rest_encode_created_instance(&b, &res->instance, res->awaited);
        break;
    case COMMAND_GET_INSTANCE:
        rest_buf_init(&b, 0);
        rest_encode_instance(&b, &res->instance);
        break;
    case COMMAND_PUBLISH_MESSAGE:
    case COMMAND_CORRELATE_MESSAGE:
        rest_buf_init(&b, 0);
        rest_encode_message(&b, res->message.key, res->kind == COMMAND_CORRELATE_MESSAGE,
                            res->message.process_instance_key);
        break;
    case COMMAND_DELETE_RESOURCE:
        rest_buf_init(&b, 0);
        rest_buf_printf(&b, "{\"resourceKey\":\"%" PRId64 "\"}", res->cmd->key);
        break;
    case COMMAND_SEARCH_INSTANCES:
    case COMMAND_SEARCH_ELEMENTS:
    case COMMAND_SEARCH_VARIABLES:
    case COMMAND_SEARCH_INCIDENTS:
    case COMMAND_SEARCH_USER_TASKS:
        answer_search(c, res);
        return;
    case COMMAND_GET_USER_TASK:
        rest_buf_init(&b, 0);
        rest_encode_user_task(&b, &res->user_task);
        break;
    case COMMAND_GET_PROCESS_XML: {
        char *xml = malloc(res->xml_len + 1);
        if (!xml) {
            chute_error err;
            chute_error_set(&err, CHUTE_ENOMEM, "out of memory");
            queue_error(c, &err);
            return;
        }
        memcpy(xml, res->xml, res->xml_len);
        xml[res->xml_len] = '\0';
        queue_answer(c, 200, "text/xml", xml, res->xml_len);
        return;
    }
    default: /* settled, updated, resolved, cancelled, variables set, user tasks assigned or
              * completed */
        queue_answer(c, status, NULL, NULL, 0);
        return;
    }
    queue_json(c, status, &b);
}

/* REST has no streams: no row of the table makes one, so no push. */
static const command_call_ops call_ops = {answer, NULL};

/* Runs the command of |def| for |req|, whose path held |key| (0: none). */
static void run(http_api *a, http_request *req, const command_def *def, int64_t key)
{
    chute_error err;
    command cmd;
    /* Admitted before decoding: under load a refusal costs nothing, and it
     * is answered at once (queueing it would add to the list that is
     * full). */
    if (command_admit(a->b, def, &err) != 0) {
        respond_error(a, req, &err);
        return;
    }
    if (def->rest_decode) {
        command_rest_in in = {.body = req->body,
                              .len = req->body_len,
                              .query = req->query,
                              .content_type = req->content_type};
        if (def->rest_decode(&in, &cmd, &err) != 0) {
            respond_error(a, req, &err);
            return;
        }
    } else {
        memset(&cmd, 0, sizeof cmd);
        cmd.kind = def->kind;
    }
    cmd.key = key;
    call *c = calloc(1, sizeof *c);
    if (!c) {
        respond_problem(a, req, 503, "RESOURCE_EXHAUSTED", "out of memory", NULL);
        command_free(&cmd);
        return;
    }
    c->api = a;
    c->req = req;
    c->def = def;
    c->started = uv_hrtime();
    http_request_on_abort(req, on_abort, c);
    command_call_init(&c->cc, &call_ops, a->b, response_bound(a));
    c->cc.host = a->grpc_host;
    c->cc.port = a->cfg.gateway ? gateway_port(a->cfg.gateway) : http_server_port(a->http);
    c->cc.no_wait = a->closing;
    command_run(&c->cc, &cmd);
    if (command_call_waiting(&c->cc)) {
        c->next = a->polls;
        if (a->polls)
            a->polls->prev = c;
        a->polls = c;
    }
    command_free(&cmd);
}

/* ---- operations ---------------------------------------------------------------------- */

static void handle_metrics(http_api *a, http_request *req)
{
    metrics_gauges g = {0};
    if (a->cfg.gateway) {
        h2_server_stats hs;
        gateway_get_stats(a->cfg.gateway, &hs);
        g.grpc_connections = hs.connections_open;
        g.grpc_calls = hs.calls_open;
        g.ended_header_bomb = hs.ended_header_bomb;
        g.ended_control_flood = hs.ended_control_flood;
        g.refused_max[METRICS_API_GRPC] = hs.refused_max;
        g.refused_peer[METRICS_API_GRPC] = hs.refused_peer;
        g.requests_timed_out[METRICS_API_GRPC] = hs.requests_timed_out;
        g.accept_failures[METRICS_API_GRPC] = hs.accept_failures;
    }
    http_server_stats st;
    http_server_get_stats(a->http, &st);
    g.http_connections = st.connections_open;
    g.http_requests = st.requests_in_flight;
    g.refused_max[METRICS_API_REST] = st.refused_max;
    g.refused_peer[METRICS_API_REST] = st.refused_peer;
    g.requests_timed_out[METRICS_API_REST] = st.requests_timed_out;
    g.accept_failures[METRICS_API_REST] = st.accept_failures;
    g.long_polls = broker_polls_waiting(a->b);
    broker_stats bs;
    broker_get_stats(a->b, &bs);
    g.rejected_inflight = bs.rejected_inflight;
    g.ready = broker_ready(a->b);
    /* This response is counted before rendering so it shows in itself. */
    metrics_count_http(a->cfg.metrics, 200);
    char *body;
    size_t len;
    int rc = metrics_render(a->cfg.metrics, a->e, &g, &body, &len);
    if (rc != 0) {
        char detail[160];
        if (rc == CHUTE_ETOOBIG)
            snprintf(detail, sizeof detail, "the metrics answer passed its bound of %u MiB",
                     METRICS_MAX_ANSWER >> 20);
        else
            snprintf(detail, sizeof detail, "out of memory rendering the metrics");
        respond_problem(a, req, 503, "RESOURCE_EXHAUSTED", detail, NULL);
        return;
    }
    http_respond(req, 200, CT_METRICS, NULL, body, len, NULL, NULL);
}

static int store_writable(http_api *a)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", chute_engine_db_path(a->e));
    return access(dirname(dir), W_OK) == 0;
}

static void handle_health(http_api *a, http_request *req, int ready)
{
    if (ready) {
        if (!broker_ready(a->b) || !store_writable(a)) {
            respond_problem(a, req, 503, "UNAVAILABLE",
                            a->closing ? "chuted is shutting down"
                                       : "the store does not take commits (the last commit "
                                         "failed, or its directory is not writable)",
                            NULL);
            return;
        }
    }
    char *body = strdup(ready ? "{\"status\":\"READY\"}" : "{\"status\":\"UP\"}");
    respond(a, req, 200, CT_JSON, NULL, body, body ? strlen(body) : 0, NULL, NULL);
}

/* ---- routing ---------------------------------------------------------------------------- */

/*
 * The routes: every row of the command table served over REST, and the
 * operational endpoints. A route is a method and a path pattern whose
 * "{name}" segments are keys. A path that matches routes only by another
 * method is 405 with those methods in Allow; a literal segment is more
 * specific than a key, so /v2/jobs/activation is never a job key.
 */
typedef enum op_kind { OP_NONE, OP_METRICS, OP_HEALTH, OP_READY } op_kind;

static const struct op_route {
    const char *method;
    const char *route;
    op_kind op;
} op_routes[] = {
    {"GET", "/metrics", OP_METRICS},
    {"GET", "/healthz", OP_HEALTH},
    {"GET", "/readyz", OP_READY},
};

#define MAX_SEGMENTS 5

/* Splits |path| into at most |max| segments after the leading '/'; returns
 * how many there are (more than |max| when it is longer). A trailing slash
 * makes an empty last segment. */
static size_t split_path(const char *path, const char **seg, size_t *len, size_t max)
{
    size_t n = 0;
    const char *p = path;
    if (*p == '/')
        p++;
    while (*p && n < max + 1) {
        const char *e = strchr(p, '/');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        if (n < max) {
            seg[n] = p;
            len[n] = l;
        }
        n++;
        if (!e)
            break;
        p = e + 1;
        if (!*p) {
            if (n < max) {
                seg[n] = p;
                len[n] = 0;
            }
            n++;
            break;
        }
    }
    return n;
}

typedef struct path_parts {
    size_t n;
    const char *seg[MAX_SEGMENTS];
    size_t len[MAX_SEGMENTS];
} path_parts;

/*
 * Matches |route| against the split path: returns -1 when it does not
 * match, else the number of literal segments (its specificity), with the
 * key segment (if any) in |*key_seg| and its name in |name|.
 */
static int route_match(const char *route, const path_parts *pp, int *key_seg, char *name,
                       size_t name_cap)
{
    const char *seg[MAX_SEGMENTS];
    size_t len[MAX_SEGMENTS];
    size_t n = split_path(route, seg, len, MAX_SEGMENTS);
    int literal = 0;
    *key_seg = -1;
    if (name_cap)
        name[0] = '\0';
    if (n != pp->n)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (len[i] >= 2 && seg[i][0] == '{' && seg[i][len[i] - 1] == '}') {
            *key_seg = (int)i;
            snprintf(name, name_cap, "%.*s", (int)(len[i] - 2), seg[i] + 1);
            continue;
        }
        if (len[i] != pp->len[i] || memcmp(seg[i], pp->seg[i], len[i]) != 0)
            return -1;
        literal++;
    }
    return literal;
}

static int method_is(const http_request *req, const char *method)
{
    /* A route that serves GET serves HEAD too. */
    return strcmp(req->method_name, method) == 0 ||
           (req->method == HTTP_HEAD && strcmp(method, "GET") == 0);
}

static void allow_add(char *list, size_t cap, const char *method)
{
    size_t w = strlen(list);
    if (strstr(list, method))
        return;
    snprintf(list + w, cap - w, "%s%s", w ? ", " : "", method);
    if (strcmp(method, "GET") == 0)
        allow_add(list, cap, "HEAD");
}

static void method_not_allowed(http_api *a, http_request *req, const char *list)
{
    char extra[96], detail[256];
    snprintf(extra, sizeof extra, "Allow: %s\r\n", list);
    snprintf(detail, sizeof detail, "%s is not allowed on %.80s; use %s", req->method_name,
             req->path, list);
    respond_problem(a, req, 405, "METHOD_NOT_ALLOWED", detail, extra);
}

static void not_found(http_api *a, http_request *req)
{
    char detail[160];
    snprintf(detail, sizeof detail, "No endpoint %.100s (see docs/openapi.yaml)", req->path);
    respond_problem(a, req, 404, "NOT_FOUND", detail, NULL);
}

static void run_op(http_api *a, http_request *req, op_kind op)
{
    if (op == OP_METRICS)
        handle_metrics(a, req);
    else
        handle_health(a, req, op == OP_READY);
}

static void on_request(void *ctx, http_request *req)
{
    http_api *a = ctx;
    path_parts pp;
    pp.n = split_path(req->path, pp.seg, pp.len, MAX_SEGMENTS);
    if (pp.n > MAX_SEGMENTS) {
        not_found(a, req);
        return;
    }
    /* The most specific pattern that matches the path decides; among its
     * routes, the one of the request's method. */
    int best = -1, key_seg = -1;
    const command_def *def = NULL;
    op_kind op = OP_NONE;
    char key_name[32] = "", allow[64] = "";
    for (size_t pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < command_table_len + sizeof op_routes / sizeof *op_routes; i++) {
            const char *method, *route;
            if (i < command_table_len) {
                method = command_table[i].rest_method;
                route = command_table[i].rest_route;
            } else {
                method = op_routes[i - command_table_len].method;
                route = op_routes[i - command_table_len].route;
            }
            if (!route)
                continue;
            int ks;
            char name[32];
            int spec = route_match(route, &pp, &ks, name, sizeof name);
            if (spec < 0)
                continue;
            if (pass == 0) {
                if (spec > best)
                    best = spec;
                continue;
            }
            if (spec != best)
                continue;
            allow_add(allow, sizeof allow, method);
            if (!def && op == OP_NONE && method_is(req, method)) {
                key_seg = ks;
                snprintf(key_name, sizeof key_name, "%s", name);
                if (i < command_table_len)
                    def = &command_table[i];
                else
                    op = op_routes[i - command_table_len].op;
            }
        }
        if (best < 0)
            break;
    }
    if (best < 0) {
        not_found(a, req);
        return;
    }
    if (!def && op == OP_NONE) {
        method_not_allowed(a, req, allow);
        return;
    }
    if (op != OP_NONE) {
        run_op(a, req, op);
        return;
    }
    int64_t key = 0;
    if (key_seg >= 0) {
        chute_error err;
        if (rest_parse_key(pp.seg[key_seg], pp.len[key_seg], key_name, &key, &err) != 0) {
            respond_error(a, req, &err);
            return;
        }
    }
    run(a, req, def, key);
}

/* ---- life cycle ------------------------------------------------------------------------- */

void http_api_config_init(http_api_config *c)
{
    memset(c, 0, sizeof *c);
    c->host = "127.0.0.1";
    c->port = 8080;
    http_limits_init(&c->limits);
    c->grpc_host = "127.0.0.1";
}

int http_api_open(http_api **out, uv_loop_t *loop, broker *b, const http_api_config *cfg,
                  chute_error *err)
{
    http_api *a = calloc(1, sizeof *a);
    if (!a)
        return chute_error_set(err, CHUTE_ENOMEM, "out of memory");
    a->loop = loop;
    a->b = b;
    a->e = broker_engine(b);
    a->cfg = *cfg;
    snprintf(a->host, sizeof a->host, "%s", cfg->host);
    snprintf(a->grpc_host, sizeof a->grpc_host, "%s", cfg->grpc_host ? cfg->grpc_host : cfg->host);
    a->cfg.host = a->host;
    a->cfg.grpc_host = a->grpc_host;
    int rc =
        http_server_open(&a->http, loop, cfg->host, cfg->port, &cfg->limits, on_request, a, err);
    if (rc != 0) {
        free(a);
        return rc;
    }
    http_server_set_error_body(a->http, "application/problem+json", rest_problem);
    *out = a;
    return 0;
}

int http_api_port(const http_api *a)
{
    return http_server_port(a->http);
}

void http_api_shutdown(http_api *a, void (*done)(void *), void *ctx)
{
    if (a->closing)
        return;
    a->closing = 1;
    /* Long polls end now with no jobs, as at their expiry; awaited
     * instances are answered UNAVAILABLE (they run on). */
    while (a->polls)
        command_call_expire(&a->polls->cc);
    broker_flush(a->b);
    http_server_shutdown(a->http, done, ctx);
}

void http_api_free(http_api *a)
{
    if (!a)
        return;
    http_server_free(a->http);
    free(a);
}
