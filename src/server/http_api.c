/*
 * The HTTP API: routes, engine calls, answers after commit; see http_api.h.
 *
 * Every request that reads or changes the engine gets a struct call. Its
 * answer (status and body) is prepared at once, or when its long poll ends,
 * and queued on the broker; after the commit it is handed to the transport.
 * A call whose connection went away (on_abort) keeps existing until the
 * broker released it, and then only returns the jobs its answer carried.
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

#define CT_JSON "application/json"
#define CT_PROBLEM "application/problem+json"
#define CT_METRICS "text/plain; version=0.0.4; charset=utf-8"

#define LIST_DEFAULT_SIZE 100
#define LIST_MAX_SIZE 1000
#define INCIDENT_DEFAULT_LIMIT 1000
#define INCIDENT_MAX_LIMIT 10000
#define DEFAULT_REQUEST_TIMEOUT_MS 10000

typedef struct job_ref {
    int64_t key;
    int64_t deadline;
} job_ref;

typedef struct call {
    broker_pending pend; /* first: the broker hands it back */
    http_api *api;
    http_request *req; /* NULL once the connection went away */
    broker_poll bp;
    int polling;
    int queued;
    struct call *prev, *next; /* in api->polls while polling */
    uint64_t started;         /* uv_hrtime(), activation only */
    int activation;
    int status;
    char *body;
    size_t len;
    const char *ctype;
    job_ref *jobs; /* leases the answer carries */
    size_t njobs;
} call;

struct http_api {
    uv_loop_t *loop;
    broker *b;
    chute_engine *e;
    http_server *http;
    http_api_config cfg;
    call *polls; /* calls waiting in a long poll */
    int closing;
    char host[256];
    char grpc_host[256];
};

/* ---- answering ------------------------------------------------------------- */

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
    if (rest_problem(status, title, detail, req->path, &body, &len) != 0)
        len = 0;
    respond(a, req, status, body ? CT_PROBLEM : NULL, extra, body, len, NULL, NULL);
}

static void respond_error(http_api *a, http_request *req, const chute_error *err)
{
    respond_problem(a, req, rest_http_status(err->code), rest_problem_title(err->code),
                    err->message, NULL);
}

static void respond_json(http_api *a, http_request *req, int status, rest_buf *b)
{
    char *body;
    size_t len;
    int rc = rest_buf_finish(b, &body, &len);
    if (rc != 0) {
        chute_error err;
        chute_error_set(&err, rc, "the response does not fit: %s", chute_strerror(rc));
        respond_error(a, req, &err);
        return;
    }
    respond(a, req, status, CT_JSON, NULL, body, len, NULL, NULL);
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
    chute_error err;
    for (size_t i = 0; i < c->njobs; i++)
        chute_engine_return(a->e, c->jobs[i].key, c->jobs[i].deadline, &err);
    c->njobs = 0;
    broker_kick(a->b);
}

static void unlink_poll(call *c)
{
    c->polling = 0;
    if (c->prev)
        c->prev->next = c->next;
    else
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
    if (c->polling) {
        broker_poll_cancel(c->api->b, &c->bp);
        unlink_poll(c);
    }
    if (!c->queued)
        call_free(c);
}

/* A call for a command of |load|, or NULL when the request was answered
 * already: refused by the broker's admission (503 at once: the answer waits
 * for no commit, and queueing it would add to the list that is full) or out
 * of memory. */
static call *call_new(http_api *a, http_request *req, broker_load load)
{
    chute_error err;
    if (broker_admit(a->b, load, &err) != 0) {
        respond_error(a, req, &err);
        return NULL;
    }
    call *c = calloc(1, sizeof *c);
    if (!c) {
        respond_problem(a, req, 503, "RESOURCE_EXHAUSTED", "out of memory", NULL);
        return NULL;
    }
    c->api = a;
    c->req = req;
    http_request_on_abort(req, on_abort, c);
    return c;
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
    if (c->activation)
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

static void queue(call *c)
{
    c->queued = 1;
    broker_after_commit(c->api->b, &c->pend, on_committed);
}

/* Prepares the answer (takes |body|) and queues it. */
static void queue_answer(call *c, int status, const char *ctype, char *body, size_t len)
{
    c->status = status;
    c->ctype = ctype;
    c->body = body;
    c->len = len;
    queue(c);
}

static void queue_error(call *c, const chute_error *err)
{
    char *body = NULL;
    size_t len = 0;
    int status = rest_http_status(err->code);
    rest_problem(status, rest_problem_title(err->code), err->message, c->req ? c->req->path : "",
                 &body, &len);
    queue_answer(c, status, body ? CT_PROBLEM : NULL, body, body ? len : 0);
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

static void queue_empty(call *c)
{
    queue_answer(c, 204, NULL, NULL, 0);
}

/* ---- activation ------------------------------------------------------------------------ */

static size_t response_bound(const http_api *a)
{
    return a->cfg.limits.max_body_size;
}

static size_t activation_budget(const http_api *a, const chute_activate_request *req)
{
    size_t per_job = 512 + 6 * (strlen(req->type) + (req->worker ? strlen(req->worker) : 0));
    size_t max = response_bound(a);
    size_t reserve = per_job * (size_t)(req->max_jobs > 0 ? req->max_jobs : 1);
    return reserve < max / 2 ? max - reserve : max / 2;
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
    for (size_t i = 0; i < n; i++) {
        c->jobs[i].key = jobs[i].key;
        c->jobs[i].deadline = jobs[i].deadline;
    }
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

#define CALL_OF(p) ((call *)((char *)(p)-offsetof(call, bp)))

static void poll_jobs(broker_poll *bp, const chute_job_view *jobs, size_t n)
{
    call *c = CALL_OF(bp);
    unlink_poll(c);
    answer_jobs(c, jobs, n);
}

static void answer_no_jobs(call *c)
{
    char *body = strdup("{\"jobs\":[]}");
    queue_answer(c, 200, CT_JSON, body, body ? strlen(body) : 0);
}

static void poll_expired(broker_poll *bp)
{
    call *c = CALL_OF(bp);
    unlink_poll(c);
    answer_no_jobs(c);
}

static void handle_activate(http_api *a, http_request *req)
{
    rest_activate ra;
    chute_error err;
    if (rest_decode_activate(req->body, req->body_len, &ra, &err) != 0) {
        respond_error(a, req, &err);
        return;
    }
    if (chute_engine_check_activate(&ra.req, 0, &err) != 0) {
        respond_error(a, req, &err);
        rest_activate_free(&ra);
        return;
    }
    call *c = call_new(a, req, BROKER_LOAD_DRAINS);
    if (!c) {
        rest_activate_free(&ra);
        return;
    }
    c->activation = 1;
    c->started = uv_hrtime();
    size_t budget = activation_budget(a, &ra.req);
    const chute_job_view *jobs;
    size_t n = 0;
    if (chute_engine_activate(a->e, &ra.req, budget, &jobs, &n, &err) != 0) {
        queue_error(c, &err);
    } else if (n > 0) {
        answer_jobs(c, jobs, n);
    } else if (ra.request_timeout_ms < 0 || a->closing) {
        answer_no_jobs(c);
    } else {
        int64_t wait = ra.request_timeout_ms ? ra.request_timeout_ms : DEFAULT_REQUEST_TIMEOUT_MS;
        if (broker_poll_start(a->b, &c->bp, &ra.req, budget, wait, poll_jobs, poll_expired, &err) !=
            0) {
            queue_error(c, &err);
        } else {
            c->polling = 1;
            c->next = a->polls;
            if (a->polls)
                a->polls->prev = c;
            a->polls = c;
        }
    }
    rest_activate_free(&ra);
}

/* ---- job commands --------------------------------------------------------------------- */

typedef enum job_cmd { CMD_COMPLETE, CMD_FAIL, CMD_ERROR, CMD_UPDATE } job_cmd;

static void handle_job_command(http_api *a, http_request *req, int64_t key, job_cmd cmd)
{
    rest_command rc_;
    chute_error err;
    int rc;
    switch (cmd) {
    case CMD_COMPLETE:
        rc = rest_decode_completion(req->body, req->body_len, &rc_, &err);
        break;
    case CMD_FAIL:
        rc = rest_decode_failure(req->body, req->body_len, &rc_, &err);
        break;
    case CMD_ERROR:
        rc = rest_decode_error(req->body, req->body_len, &rc_, &err);
        break;
    default:
        rc = rest_decode_job_update(req->body, req->body_len, &rc_, &err);
        break;
    }
    if (rc != 0) {
        respond_error(a, req, &err);
        return;
    }
    /* Settling a job makes room: only the update can be refused for load. */
    call *c = call_new(a, req, cmd == CMD_UPDATE ? BROKER_LOAD_ADDS : BROKER_LOAD_DRAINS);
    if (!c) {
        rest_command_free(&rc_);
        return;
    }
    switch (cmd) {
    case CMD_COMPLETE:
        rc = chute_engine_complete(a->e, key, rc_.variables, rc_.variables_len, &err);
        break;
    case CMD_FAIL:
        rc = chute_engine_fail(a->e, key, rc_.retries, rc_.error_message, rc_.backoff_ms,
                               rc_.variables, rc_.variables_len, &err);
        break;
    case CMD_ERROR:
        rc = chute_engine_throw_error(a->e, key, rc_.error_code, rc_.error_message, rc_.variables,
                                      rc_.variables_len, &err);
        break;
    default: {
        /* One changeset, all or nothing: the engine checks both fields
         * before it changes either. */
        chute_job_update u = {.has_retries = rc_.has_retries,
                              .retries = rc_.retries,
                              .has_timeout = rc_.has_timeout,
                              .timeout_ms = rc_.timeout_ms};
        rc = chute_engine_update(a->e, key, &u, &err);
        break;
    }
    }
    rest_command_free(&rc_);
    if (rc != 0)
        queue_error(c, &err);
    else
        queue_empty(c);
}

static void handle_resolve(http_api *a, http_request *req, int64_t key)
{
    chute_error err;
    call *c = call_new(a, req, BROKER_LOAD_ADDS);
    if (!c)
        return;
    if (chute_engine_resolve_incident(a->e, key, &err) != 0)
        queue_error(c, &err);
    else
        queue_empty(c);
}

static void handle_topology(http_api *a, http_request *req)
{
    rest_buf b;
    rest_buf_init(&b, 0);
    int port = a->cfg.gateway ? gateway_port(a->cfg.gateway) : http_server_port(a->http);
    rest_encode_topology(&b, a->grpc_host, port);
    respond_json(a, req, 200, &b);
}

/* ---- Chute's own endpoints ----------------------------------------------------------- */

static void handle_create(http_api *a, http_request *req)
{
    rest_create rc_;
    chute_error err;
    if (rest_decode_create(req->body, req->body_len, &rc_, &err) != 0) {
        respond_error(a, req, &err);
        return;
    }
    int64_t *keys = calloc(rc_.count ? rc_.count : 1, sizeof *keys);
    call *c = keys ? call_new(a, req, BROKER_LOAD_ADDS) : NULL;
    if (!c) {
        if (!keys)
            respond_problem(a, req, 503, "RESOURCE_EXHAUSTED", "out of memory", NULL);
        free(keys);
        rest_create_free(&rc_);
        return;
    }
    size_t i = 0;
    int rc = chute_engine_create_batch(a->e, rc_.specs, rc_.count, keys, &i, &err);
    if (rc != 0) {
        if (rc_.is_array) {
            chute_error wrapped;
            chute_error_set(&wrapped, err.code, "job %zu of the batch: %s", i, err.message);
            queue_error(c, &wrapped);
        } else {
            queue_error(c, &err);
        }
    } else {
        rest_buf b;
        rest_buf_init(&b, 0);
        if (rc_.is_array) {
            rest_buf_puts(&b, "{\"keys\":[");
            for (size_t k = 0; k < rc_.count; k++)
                rest_buf_printf(&b, "%s\"%" PRId64 "\"", k ? "," : "", keys[k]);
            rest_buf_puts(&b, "]}");
        } else {
            rest_buf_printf(&b, "{\"key\":\"%" PRId64 "\"}", keys[0]);
        }
        queue_json(c, 201, &b);
    }
    free(keys);
    rest_create_free(&rc_);
}

static void handle_get_job(http_api *a, http_request *req, int64_t key)
{
    chute_error err;
    chute_job_view v;
    call *c = call_new(a, req, BROKER_LOAD_ADDS);
    if (!c)
        return;
    if (chute_engine_get(a->e, key, &v, &err) != 0) {
        queue_error(c, &err);
        return;
    }
    rest_buf b;
    rest_buf_init(&b, response_bound(a) * 2 + 4096);
    rest_encode_job(&b, &v);
    queue_json(c, 200, &b);
}

static void handle_cancel(http_api *a, http_request *req, int64_t key)
{
    chute_error err;
    call *c = call_new(a, req, BROKER_LOAD_ADDS);
    if (!c)
        return;
    if (chute_engine_cancel(a->e, key, &err) != 0)
        queue_error(c, &err);
    else
        queue_empty(c);
}

typedef struct list_walk {
    rest_buf *b;
    size_t soft_max; /* stop before the body would grow past this */
    size_t count;
    size_t limit;
    const char *type;
    int truncated;
    int incidents;
} list_walk;

static int visit_job(void *ctx, const chute_job_view *job)
{
    list_walk *w = ctx;
    if (w->type && strcmp(w->type, job->type) != 0)
        return 0;
    size_t need = job->variables_len + job->headers_len + strlen(job->error_message) * 6 + 1024;
    if (w->count > 0 && w->b->len + need > w->soft_max) {
        w->truncated = 1;
        return 1;
    }
    if (w->count)
        rest_buf_puts(w->b, ",");
    if (w->incidents)
        rest_encode_incident(w->b, job);
    else
        rest_encode_job(w->b, job);
    w->count++;
    return w->b->failed || (w->limit && w->count >= w->limit);
}

static int query_number(http_api *a, http_request *req, const char *name, long long lo,
                        long long hi, long long dflt, long long *out)
{
    char v[32];
    chute_error err;
    int rc = rest_query_get(req->query, name, v, sizeof v, &err);
    if (rc < 0) {
        respond_error(a, req, &err);
        return -1;
    }
    if (rc == 0 || v[0] == '\0') {
        *out = dflt;
        return 0;
    }
    char *end;
    long long x = strtoll(v, &end, 10);
    if (*end != '\0' || x < lo || x > hi) {
        chute_error_set(&err, CHUTE_EINVAL,
                        "Expected the query parameter '%s' to be an integer from %lld to %lld, "
                        "but got '%s'",
                        name, lo, hi, v);
        respond_error(a, req, &err);
        return -1;
    }
    *out = x;
    return 0;
}

static int query_type(http_api *a, http_request *req, char *type, size_t cap, int *has)
{
    chute_error err;
    int rc = rest_query_get(req->query, "type", type, cap, &err);
    if (rc < 0) {
        respond_error(a, req, &err);
        return -1;
    }
    *has = rc == 1 && type[0] != '\0';
    return 0;
}

static void handle_list_jobs(http_api *a, http_request *req)
{
    char type[CHUTE_TYPE_MAX + 1], state_s[32];
    int has_type;
    long long page, size;
    chute_error err;
    if (query_type(a, req, type, sizeof type, &has_type) != 0 ||
        query_number(a, req, "page", 1, 1000000000, 1, &page) != 0 ||
        query_number(a, req, "size", 1, LIST_MAX_SIZE, LIST_DEFAULT_SIZE, &size) != 0)
        return;
    chute_job_state state = 0;
    int rc = rest_query_get(req->query, "state", state_s, sizeof state_s, &err);
    if (rc < 0) {
        respond_error(a, req, &err);
        return;
    }
    if (rc == 1 && state_s[0]) {
        for (int s = CHUTE_JOB_ACTIVATABLE; s <= CHUTE_JOB_COMPLETED; s++) {
            if (strcasecmp(state_s, chute_job_state_name((chute_job_state)s)) == 0)
                state = (chute_job_state)s;
        }
        if (!state) {
            chute_error_set(&err, CHUTE_EINVAL,
                            "Expected state to be one of ACTIVATABLE, ACTIVATED, FAILED, "
                            "INCIDENT, ERROR_THROWN, DELAYED, COMPLETED, but got '%.31s'",
                            state_s);
            respond_error(a, req, &err);
            return;
        }
    }
    call *c = call_new(a, req, BROKER_LOAD_ADDS);
    if (!c)
        return;
    rest_buf b;
    size_t bound = response_bound(a);
    rest_buf_init(&b, bound * 2 + 65536);
    rest_buf_puts(&b, "{\"jobs\":[");
    list_walk w = {.b = &b, .soft_max = bound};
    rc = chute_engine_list_jobs(a->e, has_type ? type : NULL, state,
                                (size_t)(page - 1) * (size_t)size, (size_t)size, visit_job, &w);
    if (rc != 0) {
        rest_buf_free(&b);
        chute_error_set(&err, rc, "cannot list jobs: %s", chute_strerror(rc));
        queue_error(c, &err);
        return;
    }
    rest_buf_printf(&b, "],\"page\":%lld,\"size\":%lld,\"count\":%zu,\"truncated\":%s}", page, size,
                    w.count, w.truncated ? "true" : "false");
    queue_json(c, 200, &b);
}

static void handle_list_incidents(http_api *a, http_request *req)
{
    char type[CHUTE_TYPE_MAX + 1];
    int has_type;
    long long limit;
    if (query_type(a, req, type, sizeof type, &has_type) != 0 ||
        query_number(a, req, "limit", 1, INCIDENT_MAX_LIMIT, INCIDENT_DEFAULT_LIMIT, &limit) != 0)
        return;
    call *c = call_new(a, req, BROKER_LOAD_ADDS);
    if (!c)
        return;
    rest_buf b;
    size_t bound = response_bound(a);
    rest_buf_init(&b, bound * 2 + 65536);
    rest_buf_puts(&b, "{\"incidents\":[");
    list_walk w = {.b = &b,
                   .soft_max = bound,
                   .limit = (size_t)limit,
                   .type = has_type ? type : NULL,
                   .incidents = 1};
    chute_engine_list_incidents(a->e, visit_job, &w);
    rest_buf_printf(&b, "],\"count\":%zu,\"truncated\":%s}", w.count,
                    w.truncated ? "true" : "false");
    queue_json(c, 200, &b);
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

static void handle_job_types(http_api *a, http_request *req)
{
    call *c = call_new(a, req, BROKER_LOAD_ADDS);
    if (!c)
        return;
    rest_buf b;
    rest_buf_init(&b, 0);
    rest_buf_puts(&b, "{\"types\":[");
    types_walk w = {.b = &b, .now = chute_engine_now(a->e)};
    int rc = chute_engine_list_types(a->e, visit_type, &w);
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

/* ---- operations ---------------------------------------------------------------------- */

static void handle_metrics(http_api *a, http_request *req)
{
    metrics_gauges g = {0};
    if (a->cfg.gateway) {
        h2_server_stats hs;
        gateway_get_stats(a->cfg.gateway, &hs);
        g.grpc_connections = hs.connections_open;
        g.grpc_calls = hs.calls_open;
    }
    http_server_stats st;
    http_server_get_stats(a->http, &st);
    g.http_connections = st.connections_open;
    g.http_requests = st.requests_in_flight;
    g.long_polls = broker_polls_waiting(a->b);
    broker_stats bs;
    broker_get_stats(a->b, &bs);
    g.rejected_inflight = bs.rejected_inflight;
    g.ready = broker_ready(a->b);
    /* This response is counted before rendering so it shows in itself. */
    metrics_count_http(a->cfg.metrics, 200);
    char *body;
    size_t len;
    if (metrics_render(a->cfg.metrics, a->e, &g, &body, &len) != 0) {
        respond_problem(a, req, 503, "RESOURCE_EXHAUSTED", "out of memory", NULL);
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

/* Splits |path| into at most |max| segments after the leading '/'. */
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
            /* A trailing slash: an empty last segment. */
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

static int seg_is(const char *s, size_t n, const char *lit)
{
    return strlen(lit) == n && memcmp(s, lit, n) == 0;
}

static int allowed(http_request *req, const char *methods)
{
    /* |methods| like "GET,HEAD" or "POST". */
    const char *m = req->method_name;
    size_t ml = strlen(m);
    const char *p = methods;
    while (*p) {
        const char *e = strchr(p, ',');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        if (l == ml && memcmp(p, m, l) == 0)
            return 1;
        if (!e)
            break;
        p = e + 1;
    }
    return 0;
}

static void method_not_allowed(http_api *a, http_request *req, const char *methods)
{
    char extra[96], detail[256], list[64];
    size_t k = 0;
    for (const char *p = methods; *p && k + 3 < sizeof list; p++) {
        list[k++] = *p;
        if (*p == ',')
            list[k++] = ' ';
    }
    list[k] = '\0';
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

/* Returns non-zero when |req| may go on (method allowed); else answered 405. */
static int check_method(http_api *a, http_request *req, const char *methods)
{
    if (allowed(req, methods))
        return 1;
    method_not_allowed(a, req, methods);
    return 0;
}

static int parse_key(http_api *a, http_request *req, const char *s, size_t n, const char *what,
                     int64_t *key)
{
    chute_error err;
    if (rest_parse_key(s, n, what, key, &err) != 0) {
        respond_error(a, req, &err);
        return -1;
    }
    return 0;
}

static void on_request(void *ctx, http_request *req)
{
    http_api *a = ctx;
    const char *seg[5];
    size_t len[5];
    size_t n = split_path(req->path, seg, len, 5);
    int64_t key;
    if (n > 5) {
        not_found(a, req);
        return;
    }
    if (n >= 1 && seg_is(seg[0], len[0], "v2")) {
        if (n == 3 && seg_is(seg[1], len[1], "jobs") && seg_is(seg[2], len[2], "activation")) {
            if (check_method(a, req, "POST"))
                handle_activate(a, req);
            return;
        }
        if (n == 2 && seg_is(seg[1], len[1], "topology")) {
            if (check_method(a, req, "GET,HEAD"))
                handle_topology(a, req);
            return;
        }
        if (n == 4 && seg_is(seg[1], len[1], "jobs")) {
            job_cmd cmd;
            if (seg_is(seg[3], len[3], "completion"))
                cmd = CMD_COMPLETE;
            else if (seg_is(seg[3], len[3], "failure"))
                cmd = CMD_FAIL;
            else if (seg_is(seg[3], len[3], "error"))
                cmd = CMD_ERROR;
            else {
                not_found(a, req);
                return;
            }
            if (check_method(a, req, "POST") &&
                parse_key(a, req, seg[2], len[2], "jobKey", &key) == 0)
                handle_job_command(a, req, key, cmd);
            return;
        }
        if (n == 3 && seg_is(seg[1], len[1], "jobs")) {
            if (check_method(a, req, "PATCH") &&
                parse_key(a, req, seg[2], len[2], "jobKey", &key) == 0)
                handle_job_command(a, req, key, CMD_UPDATE);
            return;
        }
        if (n == 4 && seg_is(seg[1], len[1], "incidents") && seg_is(seg[3], len[3], "resolution")) {
            if (check_method(a, req, "POST") &&
                parse_key(a, req, seg[2], len[2], "incidentKey", &key) == 0)
                handle_resolve(a, req, key);
            return;
        }
    } else if (n >= 1 && seg_is(seg[0], len[0], "v1")) {
        if (n == 2 && seg_is(seg[1], len[1], "jobs")) {
            if (!check_method(a, req, "GET,HEAD,POST"))
                return;
            if (req->method == HTTP_POST)
                handle_create(a, req);
            else
                handle_list_jobs(a, req);
            return;
        }
        if (n == 3 && seg_is(seg[1], len[1], "jobs")) {
            if (!check_method(a, req, "GET,HEAD,DELETE") ||
                parse_key(a, req, seg[2], len[2], "key", &key) != 0)
                return;
            if (req->method == HTTP_DELETE)
                handle_cancel(a, req, key);
            else
                handle_get_job(a, req, key);
            return;
        }
        if (n == 2 && seg_is(seg[1], len[1], "incidents")) {
            if (check_method(a, req, "GET,HEAD"))
                handle_list_incidents(a, req);
            return;
        }
        if (n == 2 && seg_is(seg[1], len[1], "job-types")) {
            if (check_method(a, req, "GET,HEAD"))
                handle_job_types(a, req);
            return;
        }
    } else if (n == 1 && seg_is(seg[0], len[0], "metrics")) {
        if (check_method(a, req, "GET,HEAD"))
            handle_metrics(a, req);
        return;
    } else if (n == 1 && seg_is(seg[0], len[0], "healthz")) {
        if (check_method(a, req, "GET,HEAD"))
            handle_health(a, req, 0);
        return;
    } else if (n == 1 && seg_is(seg[0], len[0], "readyz")) {
        if (check_method(a, req, "GET,HEAD"))
            handle_health(a, req, 1);
        return;
    }
    not_found(a, req);
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
    /* Long polls end now with no jobs, as at their expiry. */
    while (a->polls) {
        call *c = a->polls;
        broker_poll_cancel(a->b, &c->bp);
        unlink_poll(c);
        answer_no_jobs(c);
    }
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
