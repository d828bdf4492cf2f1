/*
 * gRPC dispatch onto the command layer; see gateway.h.
 *
 * A request's path names its row in the command table (commands.h); it is
 * admitted, decoded into a struct command and run by command_run, whose
 * answer this file encodes as the gRPC response. Replies are queued on the
 * broker (broker_after_commit) and released after the engine's commit.
 * Three kinds of calls need more than a queued reply:
 *
 *   - ActivateJobs (a CALL_POLL gcall): may wait as an engine waiter for up to its
 *     requestTimeout; its response carries leased jobs, and if the response
 *     never reaches the client (stream reset, connection lost) those jobs go
 *     back to the queue at once (invariant 4).
 *   - StreamActivatedJobs (a CALL_STREAM gcall): an engine stream with credit; each
 *     pushed job is one message; credit comes back as the transport hands
 *     messages to HTTP/2 within the client's window (invariant 5), and
 *     messages that never go out return their job.
 *   - grpc.ZenBpm/JobStream (a CALL_ZSTREAM zcall): ZenBPM's bidirectional
 *     job stream. The transport dispatches it when its headers end and
 *     hands each request message on as it arrives (h2.h, "Client
 *     streaming"); each subscription is an engine stream of its own (a
 *     zsub), with credit as for StreamActivatedJobs, and a complete or a
 *     fail runs as its own command, answered in the stream only when it
 *     could not be applied. See "ZenBPM's job stream" below.
 *   - CreateProcessInstanceWithResult (a CALL_AWAIT gcall): waits, through
 *     the command layer, for the instance to end or its requestTimeout to
 *     pass; a client that goes away stops the wait (the instance runs on).
 *   - everything else: one reply (an empty or small message, or an error).
 *
 * A call whose client went away before its reply was released is marked
 * closed by the transport's on_close; the pending reply then only returns
 * its jobs.
 *
 * Before a method is decoded the command layer admits it (command_admit,
 * the rule shared with the HTTP API) by the load class of its row; a
 * refused call ends at once with RESOURCE_EXHAUSTED and nothing queued.
 * Unknown methods are not asked.
 */
#include "server/gateway.h"

#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chute_codec.h"
#include "gateway_codec.h"
#include "common/hmap.h"
#include "server/commands.h"
#include "zenbpm_codec.h"
#include "server/log.h"
#include "server/metrics.h"

#define PATH_GATEWAY "/gateway_protocol.Gateway/"

typedef enum call_kind { CALL_UNARY, CALL_POLL, CALL_STREAM, CALL_AWAIT, CALL_ZSTREAM } call_kind;

/* Leased jobs carried by one message: returned to the queue if it is never
 * sent. */
typedef struct job_tag {
    struct gcall *stream; /* the stream that owes credit for it, or NULL */
    struct zsub *sub;     /* the ZenBPM subscription that does, or NULL */
    size_t count;
    command_lease jobs[];
} job_tag;

/* State shared by polls and streams. */
typedef struct callctx {
    call_kind kind;
    gateway *g;
    h2_call *call;
    int closed;    /* the transport's on_close ran: call is gone */
    int finished;  /* h2_call_finish was called */
    unsigned refs; /* pending replies pointing here */
} callctx;

/* A call and its command: a long poll or a stream lives on the heap until
 * the transport closed it and no reply points to it; a unary call lives on
 * the stack of on_request, which answers it. */
typedef struct gcall {
    callctx c;        /* first: ctx_release frees it */
    command_call cc;  /* the command layer's waiter or stream */
    uint64_t started; /* uv_hrtime() when the request arrived */
} gcall;

typedef struct reply {
    broker_pending pend; /* first: the broker hands it back */
    gateway *g;
    h2_call *call;
    callctx *ctx; /* NULL for unary calls */
    uint8_t *msg; /* framed message (5-byte prefix included), or NULL */
    size_t len;
    job_tag *tag; /* jobs the message carries, or NULL */
    int finish;   /* finish the call after the message */
    int status;
    char *message; /* grpc-message for a non-OK status */
} reply;

struct gateway {
    broker *b;
    chute_engine *e;
    gateway_config cfg;
    h2_server *h2;
    int closing;
    uv_loop_t *loop;
    log_limit push_log; /* jobs too large for a stream message: a few lines a window */
    void (*done)(void *);
    void *done_ctx;
    char host[256];
};

static void tag_credit(job_tag *t);
static void tag_free(job_tag *t);
static void zcall_free(callctx *c);

/* ---- reply queue -------------------------------------------------------- */

static void on_committed(broker_pending *p, int ok, const chute_error *err);

static void queue_reply(gateway *g, reply *r)
{
    if (r->ctx)
        r->ctx->refs++;
    broker_after_commit(g->b, &r->pend, on_committed);
}

static reply *reply_new(gateway *g, h2_call *call, callctx *ctx)
{
    reply *r = calloc(1, sizeof *r);
    if (r) {
        r->g = g;
        r->call = call;
        r->ctx = ctx;
    }
    return r;
}

/* Queues an error (or a bare OK) that ends the call. */
static void reply_status(gateway *g, h2_call *call, callctx *ctx, int status, const char *msg)
{
    reply *r = reply_new(g, call, ctx);
    if (!r) {
        if (!ctx || !ctx->closed)
            h2_call_finish(call, H2_GRPC_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    r->finish = 1;
    r->status = status;
    r->message = msg ? strdup(msg) : NULL;
    queue_reply(g, r);
}

static void reply_error(gateway *g, h2_call *call, callctx *ctx, const chute_error *err)
{
    reply_status(g, call, ctx, chute_err_grpc_status(err->code), err->message);
}

/* Queues one message; |finish| ends the call with OK after it. Takes |msg|. */
static void reply_message(gateway *g, h2_call *call, callctx *ctx, uint8_t *msg, size_t len,
                          job_tag *tag, int finish)
{
    reply *r = reply_new(g, call, ctx);
    if (!r) {
        free(msg);
        tag_free(tag); /* the jobs' leases run out and they are handed out again */
        if (!ctx || !ctx->closed)
            h2_call_finish(call, H2_GRPC_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    r->msg = msg;
    r->len = len;
    r->tag = tag;
    r->finish = finish;
    queue_reply(g, r);
}

static void ctx_release(callctx *c);

/* Gives the jobs of |tag| back to the queue (their message never left). */
static void return_jobs(gateway *g, job_tag *tag)
{
    command_return_jobs(g->b, tag->jobs, tag->count);
}

static void stream_credit(gcall *s, size_t n)
{
    if (s && !s->c.closed)
        command_call_credit(&s->cc, (uint32_t)n);
}

/* Releases one reply after the commit (ok) or after a failed commit. */
static void release(gateway *g, reply *r, int ok, const chute_error *cerr)
{
    callctx *c = r->ctx;
    int gone = c && c->closed;
    if (!ok) {
        /* The batch was undone: leases in it no longer exist. Streams keep
         * going (their credit comes back); every other call gets the error. */
        if (r->tag)
            tag_credit(r->tag);
        if (!gone && !(c && (c->kind == CALL_STREAM || c->kind == CALL_ZSTREAM))) {
            if (!c || !c->finished) {
                h2_call_finish(r->call, chute_err_grpc_status(cerr->code), cerr->message);
                if (c)
                    c->finished = 1;
            }
        }
        tag_free(r->tag);
    } else if (gone || (c && c->finished)) {
        if (r->tag) {
            return_jobs(g, r->tag);
            tag_free(r->tag);
        }
    } else {
        if (r->msg) {
            int rc = h2_call_send(r->call, r->msg + 5, r->len - 5, r->tag);
            if (rc != 0 && r->tag) {
                /* Not queued: no callback will name the tag. */
                tag_credit(r->tag);
                return_jobs(g, r->tag);
                tag_free(r->tag);
            }
        } else if (r->tag) {
            /* A job too large for any message: back to the queue. */
            tag_credit(r->tag);
            return_jobs(g, r->tag);
            tag_free(r->tag);
        }
        if (r->finish) {
            h2_call_finish(r->call, r->status, r->message);
            if (c)
                c->finished = 1;
            if (c && c->kind == CALL_POLL)
                metrics_observe_activation(g->cfg.metrics, METRICS_API_GRPC,
                                           (double)(uv_hrtime() - ((gcall *)c)->started) / 1e9);
        }
    }
    free(r->msg);
    free(r->message);
    if (c) {
        c->refs--;
        ctx_release(c);
    }
    free(r);
}

static void on_committed(broker_pending *p, int ok, const chute_error *err)
{
    reply *r = (reply *)p;
    release(r->g, r, ok, err);
}

/* ---- call contexts ----------------------------------------------------------- */

static void ctx_release(callctx *c)
{
    if (!c->closed || c->refs > 0)
        return;
    if (c->kind == CALL_ZSTREAM)
        zcall_free(c);
    else
        free(c);
}

static void on_sent(void *ud, h2_call *call, void *tag)
{
    (void)ud;
    (void)call;
    job_tag *t = tag;
    if (!t)
        return;
    tag_credit(t);
    tag_free(t);
}

static void on_unsent(void *ud, h2_call *call, void *tag)
{
    callctx *c = ud;
    (void)call;
    job_tag *t = tag;
    if (!t)
        return;
    return_jobs(c->g, t);
    tag_free(t);
}

static void zcall_close(callctx *c);

static void on_close(void *ud, h2_call *call, h2_close_reason reason)
{
    callctx *c = ud;
    gateway *g = c->g;
    (void)call;
    (void)reason;
    (void)g;
    if (c->kind == CALL_ZSTREAM)
        zcall_close(c);
    else if (c->kind != CALL_UNARY)
        command_call_cancel(&((gcall *)c)->cc);
    c->closed = 1;
    c->call = NULL;
    ctx_release(c);
}

static const h2_call_observer observer = {on_sent, on_unsent, on_close, NULL, NULL};

static int ctx_attach(gateway *g, callctx *c, call_kind kind, h2_call *call)
{
    c->kind = kind;
    c->g = g;
    c->call = call;
    return h2_call_set_observer(call, &observer, c);
}

/* ---- job messages ------------------------------------------------------------ */

static job_tag *tag_of(const chute_job_view *jobs, size_t n, gcall *s)
{
    job_tag *t = malloc(sizeof *t + n * sizeof t->jobs[0]);
    if (!t)
        return NULL;
    t->stream = s;
    t->sub = NULL;
    t->count = n;
    command_leases_of(jobs, n, t->jobs);
    return t;
}

/* Queues the response of an ActivateJobs call that got |n| jobs. */
static void reply_jobs(gateway *g, callctx *c, const chute_job_view *jobs, size_t n)
{
    job_tag *tag = tag_of(jobs, n, NULL);
    uint8_t *msg = NULL;
    size_t len = 0;
    chute_error err;
    if (!tag || codec_encode_activate_jobs_response(jobs, n, g->cfg.limits.max_message_size, &msg,
                                                    &len, &err) != 0) {
        /* Queue the jobs for return after the commit, then the error. */
        if (tag)
            reply_message(g, c->call, c, NULL, 0, tag, 0);
        reply_status(g, c->call, c, H2_GRPC_RESOURCE_EXHAUSTED,
                     "the activated jobs do not fit in one response; they were returned");
        return;
    }
    reply_message(g, c->call, c, msg, len, tag, 1);
}

/* ---- answers ------------------------------------------------------------------- */

#define GCALL_OF(cc) ((gcall *)((char *)(cc)-offsetof(gcall, cc)))

/* The context of a reply: NULL for unary calls, which end with it. */
static callctx *reply_ctx(gcall *c)
{
    return c->c.kind == CALL_UNARY ? NULL : &c->c;
}

/* Queues an empty response message and OK. */
static void reply_empty(gateway *g, h2_call *call, callctx *ctx)
{
    uint8_t *m = malloc(5);
    if (!m) {
        reply_status(g, call, ctx, H2_GRPC_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    codec_frame_empty(m);
    reply_message(g, call, ctx, m, 5, NULL, 1);
}

typedef struct incident_walk {
    codec_incident_list list;
    int rc;
    chute_error err;
} incident_walk;

static int visit_incident(void *ctx, const chute_incident_view *inc, const chute_job_view *job)
{
    incident_walk *w = ctx;
    int rc = codec_incident_list_add_search(&w->list, inc, job, &w->err);
    if (rc == CHUTE_ETOOBIG)
        return 1; /* the response is full: stop, send what fits */
    if (rc != 0) {
        w->rc = rc;
        return 1;
    }
    return 0;
}

static void reply_incidents(gateway *g, h2_call *call, const command_result *res)
{
    incident_walk w = {0};
    chute_error err;
    uint8_t *out;
    size_t out_len;
    codec_incident_list_init(&w.list, g->cfg.limits.max_message_size);
    int rc = command_result_walk_incidents_open(res, visit_incident, &w);
    if (rc != 0 && w.rc == 0) {
        w.rc = rc;
        chute_error_set(&w.err, rc, "cannot list incidents: %s", chute_strerror(rc));
    }
    if (w.rc != 0)
        reply_error(g, call, NULL, &w.err);
    else if (codec_incident_list_finish(&w.list, &out, &out_len, &err) != 0)
        reply_error(g, call, NULL, &err);
    else
        reply_message(g, call, NULL, out, out_len, NULL, 1);
    codec_incident_list_free(&w.list);
}

/* ---- GetProcessInstance ---------------------------------------------------------- */

typedef struct detail_walk {
    codec_instance_detail d;
    int rc;
    chute_error err;
} detail_walk;

static int visit_detail_element(void *ctx, const chute_element_view *el)
{
    detail_walk *w = ctx;
    if (w->rc == 0)
        w->rc = codec_instance_detail_add_element(&w->d, el, &w->err);
    return w->rc != 0;
}

static int visit_detail_incident(void *ctx, const chute_incident_view *inc,
                                 const chute_job_view *job)
{
    detail_walk *w = ctx;
    if (w->rc == 0)
        w->rc = codec_instance_detail_add_incident(&w->d, inc, job, &w->err);
    return w->rc != 0;
}

static int visit_detail_wait(void *ctx, const chute_wait_view *wv)
{
    detail_walk *w = ctx;
    if (w->rc == 0)
        w->rc = codec_instance_detail_add_wait(&w->d, wv, &w->err);
    return w->rc != 0;
}

/* The instance is encoded first: the walk of its elements ends its view. */
static void reply_instance(gateway *g, h2_call *call, const command_result *res)
{
    detail_walk w = {0};
    uint8_t *out;
    size_t out_len;
    w.rc =
        codec_instance_detail_begin(&w.d, &res->instance, g->cfg.limits.max_message_size, &w.err);
    if (w.rc == 0) {
        int rc = command_result_walk_instance(res, visit_detail_element, visit_detail_incident,
                                              visit_detail_wait, &w);
        if (rc != 0 && w.rc == 0) {
            w.rc = rc;
            chute_error_set(&w.err, rc, "cannot read process instance %lld: %s",
                            (long long)res->instance.key, chute_strerror(rc));
        }
    }
    if (w.rc == 0)
        w.rc = codec_instance_detail_finish(&w.d, &out, &out_len, &w.err);
    if (w.rc != 0)
        reply_error(g, call, NULL, &w.err);
    else
        reply_message(g, call, NULL, out, out_len, NULL, 1);
    codec_instance_detail_free(&w.d);
}

/* ---- ListUserTasks ---------------------------------------------------------------- */

typedef struct user_task_walk {
    codec_user_task_list l;
    size_t count;
    int rc;
    chute_error err;
} user_task_walk;

static int visit_user_task(void *ctx, const chute_user_task_view *t)
{
    user_task_walk *w = ctx;
    int rc = codec_user_task_list_add(&w->l, t, &w->err);
    if (rc < 0)
        w->rc = rc;
    else if (rc == 0)
        w->count++;
    return rc != 0; /* full (the response is truncated) or failed: stop */
}

static void reply_user_tasks(gateway *g, h2_call *call, const command_result *res)
{
    user_task_walk w = {0};
    command_page page;
    uint8_t *out;
    size_t out_len;
    codec_user_task_list_init(&w.l, g->cfg.limits.max_message_size);
    int rc = command_result_walk_user_tasks(res, visit_user_task, &w, &page);
    if (rc != 0 && w.rc == 0) {
        w.rc = rc;
        chute_error_set(&w.err, rc, "cannot list user tasks: %s", chute_strerror(rc));
    }
    if (w.rc == 0 && page.total > w.count)
        w.l.truncated = 1; /* the limit (or the size bound) left tasks out */
    if (w.rc == 0)
        w.rc = codec_user_task_list_finish(&w.l, &out, &out_len, &w.err);
    if (w.rc != 0)
        reply_error(g, call, NULL, &w.err);
    else
        reply_message(g, call, NULL, out, out_len, NULL, 1);
    codec_user_task_list_free(&w.l);
}

/* Encodes a command's result as its gRPC response and queues it. */
static void answer(command_call *cc, const command_result *res)
{
    gcall *c = GCALL_OF(cc);
    gateway *g = c->c.g;
    h2_call *call = c->c.call;
    size_t max = g->cfg.limits.max_message_size;
    chute_error err;
    uint8_t *out = NULL;
    size_t out_len = 0;
    int rc = 0;
    if (res->rc != 0) {
        reply_error(g, call, reply_ctx(c), res->err);
        return;
    }
    switch (res->kind) {
    case COMMAND_ACTIVATE:
        /* A long poll that found nothing ends with OK and no message. */
        if (res->njobs > 0)
            reply_jobs(g, &c->c, res->jobs, res->njobs);
        else
            reply_status(g, call, &c->c, 0, NULL);
        return;
    case COMMAND_TOPOLOGY:
        rc = codec_encode_topology(res->host, res->port, 1, &out, &out_len, &err);
        break;
    case COMMAND_CREATE:
        rc = res->cmd->is_array
                 ? codec_encode_create_jobs_response(res->keys, res->nkeys, &out, &out_len, &err)
                 : codec_encode_create_job_response(res->keys[0], &out, &out_len, &err);
        break;
    case COMMAND_GET_JOB:
        rc = codec_encode_get_job_response(&res->job, max, &out, &out_len, &err);
        break;
    case COMMAND_LIST_INCIDENTS:
        reply_incidents(g, call, res);
        return;
    case COMMAND_INSTANCE_DETAILS:
        reply_instance(g, call, res);
        return;
    case COMMAND_SEARCH_USER_TASKS:
        reply_user_tasks(g, call, res);
        return;
    case COMMAND_DEPLOY:
        rc = codec_encode_deploy_response(res->deployment_key, res->procs, res->nprocs, res->decs,
                                          res->ndecs, res->cmd->legacy, &out, &out_len, &err);
        break;
    case COMMAND_EVALUATE_DECISION:
        rc = codec_encode_evaluate_decision_response(res->evaluation, max, &out, &out_len, &err);
        break;
    case COMMAND_CREATE_INSTANCE:
        /* The call's kind says which response: CreateProcessInstanceWithResult
         * is the only awaited one over gRPC. */
        rc = codec_encode_create_instance_response(&res->instance, c->c.kind == CALL_AWAIT, max,
                                                   &out, &out_len, &err);
        break;
    case COMMAND_SET_VARIABLES:
        rc = codec_encode_set_variables_response(res->key, &out, &out_len, &err);
        break;
    case COMMAND_PUBLISH_MESSAGE:
        rc = codec_encode_publish_message_response(res->message.key, &out, &out_len, &err);
        break;
    default: /* settled, updated, resolved, cancelled, deleted: an empty response */
        reply_empty(g, call, reply_ctx(c));
        return;
    }
    if (rc != 0)
        reply_error(g, call, reply_ctx(c), &err);
    else
        reply_message(g, call, reply_ctx(c), out, out_len, NULL, 1);
}

static void push(command_call *cc, const chute_job_view *jobs, size_t n)
{
    gcall *c = GCALL_OF(cc);
    gateway *g = c->c.g;
    for (size_t i = 0; i < n; i++) {
        job_tag *tag = tag_of(&jobs[i], 1, c);
        uint8_t *msg = NULL;
        size_t len = 0;
        chute_error err;
        if (!tag) {
            continue; /* out of memory: the lease runs out and the job comes back */
        }
        if (codec_encode_activated_job(&jobs[i], g->cfg.limits.max_message_size, &msg, &len,
                                       &err) != 0) {
            chuted_log_limited(&g->push_log, uv_now(g->loop),
                               "job %lld cannot be pushed to a stream: %s", (long long)jobs[i].key,
                               err.message);
            msg = NULL;
        }
        reply_message(g, c->c.call, &c->c, msg, len, tag, 0);
    }
}

static const command_call_ops call_ops = {answer, push};

/* ---- requests -------------------------------------------------------------------- */

static void unimplemented(gateway *g, h2_call *call, const char *path)
{
    char m[1024], methods[512];
    if (strncmp(path, PATH_GATEWAY, strlen(PATH_GATEWAY)) == 0) {
        command_grpc_methods(PATH_GATEWAY, methods, sizeof methods);
        snprintf(m, sizeof m,
                 "Method %s is not implemented: Chute serves these RPCs of "
                 "gateway_protocol.Gateway: %s",
                 path, methods);
    } else {
        snprintf(m, sizeof m, "Method %s is not implemented by Chute", path);
    }
    reply_status(g, call, NULL, H2_GRPC_UNIMPLEMENTED, m);
}

static void zstream_open(gateway *g, h2_call *call);

static void on_request(void *ctx, h2_call *call, const char *path, const uint8_t *msg, size_t len)
{
    gateway *g = ctx;
    const command_def *d = command_find_grpc(path);
    chute_error err;
    command cmd;
    if (!d) {
        unimplemented(g, call, path);
        return;
    }
    /* Admitted before decoding: under load a refusal costs nothing. */
    if (command_admit(g->b, d, &err) != 0) {
        h2_call_finish(call, chute_err_grpc_status(err.code), err.message);
        return;
    }
    if (d->kind == COMMAND_JOB_STREAM) {
        zstream_open(g, call); /* its requests come as messages of the stream */
        return;
    }
    if (d->grpc_decode(msg, len, &cmd, &err) != 0) {
        reply_error(g, call, NULL, &err);
        return;
    }
    /* Polls, streams and awaits outlive this function: their context lives
     * until the transport closes the call and no reply points to it. A
     * unary call is answered inside command_run. */
    gcall unary, *c = &unary;
    call_kind kind = cmd.kind == COMMAND_ACTIVATE                       ? CALL_POLL
                     : cmd.kind == COMMAND_STREAM                       ? CALL_STREAM
                     : cmd.kind == COMMAND_CREATE_INSTANCE && cmd.await ? CALL_AWAIT
                                                                        : CALL_UNARY;
    if (kind != CALL_UNARY) {
        c = calloc(1, sizeof *c);
        if (!c || ctx_attach(g, &c->c, kind, call) != 0) {
            free(c);
            reply_status(g, call, NULL, H2_GRPC_RESOURCE_EXHAUSTED, "out of memory");
            command_free(&cmd);
            return;
        }
        c->started = uv_hrtime();
    } else {
        memset(c, 0, sizeof *c);
        c->c.kind = CALL_UNARY;
        c->c.g = g;
        c->c.call = call;
    }
    command_call_init(&c->cc, &call_ops, g->b, g->cfg.limits.max_message_size);
    c->cc.host = g->host;
    c->cc.port = gateway_port(g);
    c->cc.stream_credit = g->cfg.stream_credit;
    command_run(&c->cc, &cmd);
    command_free(&cmd);
}

/* ---- ZenBPM's job stream ----------------------------------------------------------
 *
 * One JobStream call is one zcall. Its client is named by the client_id
 * request header (a generated name when absent), which becomes the worker
 * of every job pushed to it. Each TYPE_SUBSCRIBE adds a zsub: an engine
 * stream of that type with the gateway's stream credit, leasing its jobs
 * for zenbpm_lock_ms, so the engine's round robin among streams with
 * credit spreads a type's jobs over its clients and a client that stops
 * reading stops getting jobs once its credit is spent. TYPE_UNSUBSCRIBE
 * removes it; a zsub that still owes credit for messages in flight lives
 * on, dead, until they are settled or the call ends.
 *
 * A complete or a fail runs as one command of its own; only one that
 * cannot be applied is answered, in the stream, with an ErrorResult (its
 * gRPC status code and message) and the job's key, and the stream stays
 * open. So does a message that cannot be decoded. The call ends when the
 * client half-closes (OK), when its request side breaks (the transport's
 * status), when it goes away, or at shutdown (UNAVAILABLE).
 *
 * Every job pushed is remembered (|held|, key to lease) until the stream
 * settles it; when the call ends, those jobs go back to the queue at once,
 * as undelivered messages do (invariant 4): nobody is left to settle them
 * over this stream. A job whose lease ran out and was re-leased since is
 * left alone (chute_engine_return checks the lease).
 */

#define ZEN_CLIENT_ID "client_id"
#define ZEN_MAX_SUBSCRIPTIONS 64 /* job types one JobStream may subscribe to */

typedef struct zsub {
    command_call cc; /* the engine stream of one job type */
    struct zcall *z;
    struct zsub *next;
    char *type;
    size_t inflight; /* job messages queued that owe this subscription credit */
    int dead;        /* unsubscribed */
} zsub;

typedef struct zcall {
    callctx c; /* first: ctx_release frees it */
    char *client_id;
    zsub *subs;
    size_t nsubs; /* in |subs|, dead ones included */
    hmap held;    /* key -> lease deadline of jobs pushed and not settled here */
    size_t held_mark;
} zcall;

#define ZSUB_OF_CC(cc) ((zsub *)((char *)(cc)-offsetof(zsub, cc)))

static void tag_credit(job_tag *t)
{
    if (!t)
        return;
    if (t->stream)
        stream_credit(t->stream, t->count);
    if (t->sub && !t->sub->dead && !t->sub->z->c.closed)
        command_call_credit(&t->sub->cc, (uint32_t)t->count);
}

static void tag_free(job_tag *t)
{
    if (!t)
        return;
    if (t->sub && t->sub->inflight > 0)
        t->sub->inflight--;
    free(t);
}

static void sub_free(zsub *s)
{
    free(s->type);
    free(s);
}

static void zcall_free(callctx *c)
{
    zcall *z = (zcall *)c;
    while (z->subs) {
        zsub *s = z->subs;
        z->subs = s->next;
        sub_free(s);
    }
    hmap_free(&z->held);
    free(z->client_id);
    free(z);
}

/* Drops dead subscriptions that no message owes credit to any more. */
static void zcall_sweep(zcall *z)
{
    for (zsub **p = &z->subs; *p;) {
        zsub *s = *p;
        if (s->dead && s->inflight == 0) {
            *p = s->next;
            z->nsubs--;
            sub_free(s);
        } else {
            p = &s->next;
        }
    }
}

/* The live subscription of |type|, or NULL. */
static zsub *zcall_find(zcall *z, const char *type)
{
    for (zsub *s = z->subs; s; s = s->next)
        if (!s->dead && strcmp(s->type, type) == 0)
            return s;
    return NULL;
}

/* Queues an ErrorResult about |key| (0: no job) in the stream. */
static void zreply_error(zcall *z, uint32_t code, const char *message, int64_t key)
{
    gateway *g = z->c.g;
    uint8_t *msg = NULL;
    size_t len = 0;
    chute_error err;
    if (z->c.closed || z->c.finished)
        return;
    if (codec_encode_job_stream_error(code, message, key, &msg, &len, &err) != 0)
        return; /* out of memory: the client does not hear of it */
    reply_message(g, z->c.call, &z->c, msg, len, NULL, 0);
}

/* Forgets jobs pushed here whose lease ran out: the map stays as large as
 * what the stream really holds. */
static void held_prune(zcall *z)
{
    int64_t now = chute_engine_now(z->c.g->e);
    int64_t *expired = NULL;
    size_t n = 0;
    if (z->held.count == 0)
        return;
    expired = malloc(z->held.count * sizeof *expired);
    if (!expired)
        return;
    for (size_t i = 0; z->held.slots && i <= z->held.mask; i++) {
        hmap_slot *sl = &z->held.slots[i];
        if (sl->key && (int64_t)(intptr_t)sl->value < now)
            expired[n++] = sl->key;
    }
    for (size_t i = 0; i < n; i++)
        hmap_del(&z->held, expired[i]);
    free(expired);
}

static void held_put(zcall *z, int64_t key, int64_t deadline)
{
    if (z->held.count >= 2 * z->held_mark + 64) {
        held_prune(z);
        z->held_mark = z->held.count;
    }
    /* Out of memory: the job is not returned at the end of the call, its
     * lease runs out instead. */
    (void)hmap_put(&z->held, key, (void *)(intptr_t)deadline);
}

/* The call ends: its subscriptions leave the engine and the jobs it holds
 * go back to the queue. */
static void zcall_close(callctx *c)
{
    zcall *z = (zcall *)c;
    gateway *g = c->g;
    for (zsub *s = z->subs; s; s = s->next) {
        if (!s->dead)
            command_call_cancel(&s->cc);
        s->dead = 1;
    }
    size_t n = 0;
    command_lease *leases = z->held.count ? malloc(z->held.count * sizeof *leases) : NULL;
    for (size_t i = 0; leases && z->held.slots && i <= z->held.mask; i++) {
        hmap_slot *sl = &z->held.slots[i];
        if (sl->key) {
            leases[n].key = sl->key;
            leases[n].deadline = (int64_t)(intptr_t)sl->value;
            n++;
        }
    }
    if (n)
        command_return_jobs(g->b, leases, n);
    free(leases);
    hmap_free(&z->held);
    hmap_init(&z->held);
}

/* A subscription's answer: it runs only for an error (a stream is never
 * answered otherwise). */
static void zsub_answer(command_call *cc, const command_result *res)
{
    zsub *s = ZSUB_OF_CC(cc);
    if (res->rc == 0)
        return;
    char m[1200];
    snprintf(m, sizeof m, "Expected to subscribe to job type '%.100s', but: %.1000s", s->type,
             res->err->message);
    zreply_error(s->z, (uint32_t)chute_err_grpc_status(res->err->code), m, 0);
}

/* Jobs the engine leased to a subscription: one WaitingJob message each. */
static void zsub_push(command_call *cc, const chute_job_view *jobs, size_t n)
{
    zsub *s = ZSUB_OF_CC(cc);
    zcall *z = s->z;
    gateway *g = z->c.g;
    for (size_t i = 0; i < n; i++) {
        job_tag *tag = tag_of(&jobs[i], 1, NULL);
        uint8_t *msg = NULL;
        size_t len = 0;
        chute_error err;
        if (!tag)
            continue; /* out of memory: the lease runs out and the job comes back */
        tag->sub = s;
        s->inflight++;
        if (codec_encode_waiting_job(&jobs[i], g->cfg.limits.max_message_size, &msg, &len, &err) !=
            0) {
            chuted_log_limited(&g->push_log, uv_now(g->loop),
                               "job %lld cannot be pushed to a JobStream: %s",
                               (long long)jobs[i].key, err.message);
            msg = NULL; /* its tag returns it after the commit */
        } else {
            held_put(z, jobs[i].key, jobs[i].deadline);
        }
        reply_message(g, z->c.call, &z->c, msg, len, tag, 0);
    }
}

static const command_call_ops zsub_ops = {zsub_answer, zsub_push};

/* A complete or a fail of the stream, run as a command of its own. */
typedef struct zsettle {
    command_call cc;
    zcall *z;
} zsettle;

static void zsettle_answer(command_call *cc, const command_result *res)
{
    zsettle *st = (zsettle *)((char *)cc - offsetof(zsettle, cc));
    int64_t key = res->cmd ? res->cmd->key : 0;
    if (res->rc == 0) {
        hmap_del(&st->z->held, key);
        return; /* applied: ZenBPM does not answer it */
    }
    zreply_error(st->z, (uint32_t)chute_err_grpc_status(res->err->code), res->err->message, key);
}

static const command_call_ops zsettle_ops = {zsettle_answer, NULL};

static void zstream_subscribe(zcall *z, command *cmd)
{
    gateway *g = z->c.g;
    zsub *s = zcall_find(z, cmd->req.type);
    if (s)
        return; /* already subscribed: a repeat changes nothing */
    {
        /* A dead subscription of the type is not revived: the messages it
         * still has in flight owe their credit to it, not to a new one. */
        zcall_sweep(z);
        if (z->nsubs >= ZEN_MAX_SUBSCRIPTIONS) {
            char m[300];
            snprintf(m, sizeof m,
                     "Expected to subscribe to job type '%.100s', but this stream already has "
                     "%d subscriptions, the most one JobStream may have",
                     cmd->req.type, ZEN_MAX_SUBSCRIPTIONS);
            zreply_error(z, H2_GRPC_RESOURCE_EXHAUSTED, m, 0);
            return;
        }
        s = calloc(1, sizeof *s);
        if (!s || !(s->type = strdup(cmd->req.type))) {
            free(s);
            zreply_error(z, H2_GRPC_RESOURCE_EXHAUSTED, "out of memory", 0);
            return;
        }
        s->z = z;
        s->next = z->subs;
        z->subs = s;
        z->nsubs++;
    }
    s->dead = 1; /* until the engine took it */
    command_call_init(&s->cc, &zsub_ops, g->b, g->cfg.limits.max_message_size);
    s->cc.stream_credit = g->cfg.stream_credit;
    cmd->req.worker = z->client_id;
    cmd->req.timeout_ms = g->cfg.zenbpm_lock_ms;
    command_run(&s->cc, cmd);
    if (s->cc.taker)
        s->dead = 0;
    zcall_sweep(z);
}

static void zstream_unsubscribe(zcall *z, const command *cmd)
{
    zsub *s = zcall_find(z, cmd->type);
    if (!s) {
        char m[300];
        snprintf(m, sizeof m,
                 "Expected to unsubscribe from job type '%.100s', but this stream is not "
                 "subscribed to it",
                 cmd->type);
        zreply_error(z, H2_GRPC_NOT_FOUND, m, 0);
        return;
    }
    command_call_cancel(&s->cc);
    s->dead = 1;
    zcall_sweep(z);
}

static void zstream_message(void *ud, h2_call *call, const uint8_t *msg, size_t len)
{
    zcall *z = ud;
    (void)call;
    command cmd;
    chute_error err;
    int64_t key = 0;
    if (z->c.finished)
        return;
    if (codec_decode_job_stream_request(msg, len, &cmd, &key, &err) != 0) {
        zreply_error(z, (uint32_t)chute_err_grpc_status(err.code), err.message, key);
        return;
    }
    switch (cmd.kind) {
    case COMMAND_STREAM:
        zstream_subscribe(z, &cmd);
        break;
    case COMMAND_UNSUBSCRIBE:
        zstream_unsubscribe(z, &cmd);
        break;
    default: { /* COMPLETE, FAIL, THROW_ERROR */
        zsettle st;
        command_call_init(&st.cc, &zsettle_ops, z->c.g->b, z->c.g->cfg.limits.max_message_size);
        st.z = z;
        command_run(&st.cc, &cmd);
        break;
    }
    }
    command_free(&cmd);
}

/* The client half-closed (it sends nothing more), or its request side
 * broke: the call ends, after what is queued. */
static void zstream_request_end(void *ud, h2_call *call, int grpc_status, const char *message)
{
    zcall *z = ud;
    (void)call;
    if (z->c.finished || z->c.closed)
        return;
    zcall_close(&z->c);
    reply_status(z->c.g, z->c.call, &z->c, grpc_status, grpc_status ? message : NULL);
}

static const h2_call_observer zobserver = {on_sent, on_unsent, on_close, zstream_message,
                                           zstream_request_end};

static int is_streaming(void *ctx, const char *path)
{
    (void)ctx;
    const command_def *d = command_find_grpc(path);
    return d && d->kind == COMMAND_JOB_STREAM;
}

static void zstream_open(gateway *g, h2_call *call)
{
    static uint64_t seq;
    zcall *z = calloc(1, sizeof *z);
    const char *id = h2_call_header(call, ZEN_CLIENT_ID);
    char gen[64];
    if (!id || !*id) {
        /* ZenBPM generates one too: unique within this chuted's life. */
        snprintf(gen, sizeof gen, "zen-%" PRIx64 "-%" PRIu64, (uint64_t)uv_hrtime(), ++seq);
        id = gen;
    }
    if (!z || !(z->client_id = strdup(id))) {
        free(z);
        h2_call_finish(call, H2_GRPC_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    hmap_init(&z->held);
    z->c.kind = CALL_ZSTREAM;
    z->c.g = g;
    z->c.call = call;
    if (h2_call_set_observer(call, &zobserver, z) != 0) {
        free(z->client_id);
        free(z);
        h2_call_finish(call, H2_GRPC_CANCELLED, NULL);
    }
}

/* ---- life cycle ---------------------------------------------------------------- */

void gateway_config_init(gateway_config *c)
{
    memset(c, 0, sizeof *c);
    c->host = "127.0.0.1";
    c->port = 26500;
    h2_limits_init(&c->limits);
    c->stream_credit = 32;
    c->zenbpm_lock_ms = GATEWAY_ZENBPM_LOCK_MS;
}

int gateway_open(gateway **out, uv_loop_t *loop, broker *b, const gateway_config *cfg,
                 chute_error *err)
{
    gateway *g = calloc(1, sizeof *g);
    if (!g)
        return chute_error_set(err, CHUTE_ENOMEM, "out of memory");
    g->b = b;
    g->loop = loop;
    g->e = broker_engine(b);
    g->cfg = *cfg;
    snprintf(g->host, sizeof g->host, "%s", cfg->host);
    g->cfg.host = g->host;
    if (g->cfg.zenbpm_lock_ms <= 0)
        g->cfg.zenbpm_lock_ms = GATEWAY_ZENBPM_LOCK_MS;
    int rc = h2_server_open(&g->h2, loop, cfg->host, cfg->port, &cfg->limits, on_request, g, err);
    if (rc != 0) {
        free(g);
        return rc;
    }
    h2_server_set_streaming(g->h2, is_streaming);
    /* Out of memory here only means every JobStream client gets a
     * generated id. */
    (void)h2_server_keep_header(g->h2, ZEN_CLIENT_ID);
    *out = g;
    return 0;
}

int gateway_port(const gateway *g)
{
    return h2_server_port(g->h2);
}

void gateway_get_stats(const gateway *g, h2_server_stats *out)
{
    h2_server_get_stats(g->h2, out);
}

static void on_h2_down(void *ctx)
{
    gateway *g = ctx;
    /* Jobs whose messages were dropped by the shutdown were returned in
     * on_unsent: make that durable before the engine closes. */
    broker_flush(g->b);
    if (g->done)
        g->done(g->done_ctx);
}

void gateway_shutdown(gateway *g, void (*done)(void *), void *ctx)
{
    if (g->closing)
        return;
    g->closing = 1;
    g->done = done;
    g->done_ctx = ctx;
    /* Answer what is pending first, then let the transport end the rest. */
    broker_flush(g->b);
    h2_server_shutdown(g->h2, H2_GRPC_UNAVAILABLE, "chuted is shutting down", on_h2_down, g);
}

void gateway_free(gateway *g)
{
    if (!g)
        return;
    h2_server_free(g->h2);
    free(g);
}
