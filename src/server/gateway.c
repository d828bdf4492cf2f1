/*
 * gRPC dispatch onto the engine; see gateway.h.
 *
 * Replies are queued on g->pending and released by flush() after the
 * engine's commit. Three kinds of calls need more than a queued reply:
 *
 *   - ActivateJobs (struct poll): may wait as an engine waiter for up to its
 *     requestTimeout; its response carries leased jobs, and if the response
 *     never reaches the client (stream reset, connection lost) those jobs go
 *     back to the queue at once (invariant 4).
 *   - StreamActivatedJobs (struct stream): an engine stream with credit; each
 *     pushed job is one message; credit comes back as the transport hands
 *     messages to HTTP/2 within the client's window (invariant 5), and
 *     messages that never go out return their job.
 *   - everything else: one reply (an empty or small message, or an error).
 *
 * A call whose client went away before its reply was released is marked
 * closed by the transport's on_close; the pending reply then only returns
 * its jobs.
 *
 * Before a method is decoded the broker admits it (broker_admit, the load
 * rule shared with the HTTP API) by the load class of its route; a refused
 * call ends at once with RESOURCE_EXHAUSTED and nothing queued. Unknown
 * methods are not asked.
 */
#include "server/gateway.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chute_codec.h"
#include "gateway_codec.h"
#include "server/metrics.h"

#define PATH_GATEWAY "/gateway_protocol.Gateway/"
#define PATH_CHUTE "/chute.v1.Chute/"
/* Room kept in a response for protobuf framing of each job beyond its
 * variables and headers (key, worker, type, process fields, tags). */
#define JOB_OVERHEAD 256

typedef enum call_kind { CALL_UNARY, CALL_POLL, CALL_STREAM } call_kind;

/* Leased jobs carried by one message: returned to the queue if it is never
 * sent. */
typedef struct job_ref {
    int64_t key;
    int64_t deadline;
} job_ref;

typedef struct job_tag {
    struct stream *stream; /* the stream that owes credit for it, or NULL */
    size_t count;
    job_ref jobs[];
} job_tag;

/* State shared by polls and streams. */
typedef struct callctx {
    call_kind kind;
    gateway *g;
    h2_call *call;
    int closed;        /* the transport's on_close ran: call is gone */
    int finished;      /* h2_call_finish was called */
    unsigned refs;     /* pending replies pointing here */
} callctx;

typedef struct poll {
    callctx c;
    broker_poll bp;   /* the engine waiter and expiry, while waiting */
    uint64_t started; /* uv_hrtime() when the request arrived */
} poll;

typedef struct stream {
    callctx c;
    chute_taker *taker;
} stream;

typedef struct reply {
    broker_pending pend; /* first: the broker hands it back */
    gateway *g;
    h2_call *call;
    callctx *ctx;    /* NULL for unary calls */
    uint8_t *msg;    /* framed message (5-byte prefix included), or NULL */
    size_t len;
    job_tag *tag;    /* jobs the message carries, or NULL */
    int finish;      /* finish the call after the message */
    int status;
    char *message;   /* grpc-message for a non-OK status */
} reply;

struct gateway {
    broker *b;
    chute_engine *e;
    gateway_config cfg;
    h2_server *h2;
    int closing;
    void (*done)(void *);
    void *done_ctx;
    char host[256];
};

/* ---- reply queue -------------------------------------------------------- */

static void kick(gateway *g)
{
    broker_kick(g->b);
}

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
        free(tag); /* the jobs' leases run out and they are handed out again */
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

/*
 * Asks the broker whether a command of |load| may run now; if not, ends the
 * call at once with RESOURCE_EXHAUSTED (not queued: its answer waits for no
 * commit) and returns 0.
 */
static int admit(gateway *g, h2_call *call, broker_load load)
{
    chute_error err;
    if (broker_admit(g->b, load, &err) == 0)
        return 1;
    h2_call_finish(call, chute_err_grpc_status(err.code), err.message);
    return 0;
}

static void ctx_release(callctx *c);

/* Gives the jobs of |tag| back to the queue (their message never left). */
static void return_jobs(gateway *g, job_tag *tag)
{
    chute_error err;
    for (size_t i = 0; i < tag->count; i++)
        chute_engine_return(g->e, tag->jobs[i].key, tag->jobs[i].deadline, &err);
    kick(g);
}

static void stream_credit(stream *s, size_t n)
{
    if (s && !s->c.closed && s->taker)
        chute_engine_stream_credit(s->c.g->e, s->taker, (uint32_t)n);
}

/* Releases one reply after the commit (ok) or after a failed commit. */
static void release(gateway *g, reply *r, int ok, const chute_error *cerr)
{
    callctx *c = r->ctx;
    int gone = c && c->closed;
    if (!ok) {
        /* The batch was undone: leases in it no longer exist. Streams keep
         * going (their credit comes back); every other call gets the error. */
        if (r->tag && r->tag->stream)
            stream_credit(r->tag->stream, r->tag->count);
        if (!gone && !(c && c->kind == CALL_STREAM)) {
            if (!c || !c->finished) {
                h2_call_finish(r->call, chute_err_grpc_status(cerr->code), cerr->message);
                if (c)
                    c->finished = 1;
            }
        }
        free(r->tag);
    } else if (gone || (c && c->finished)) {
        if (r->tag) {
            return_jobs(g, r->tag);
            free(r->tag);
        }
    } else {
        if (r->msg) {
            int rc = h2_call_send(r->call, r->msg + 5, r->len - 5, r->tag);
            if (rc != 0 && r->tag) {
                /* Not queued: no callback will name the tag. */
                if (r->tag->stream)
                    stream_credit(r->tag->stream, r->tag->count);
                return_jobs(g, r->tag);
                free(r->tag);
            }
        } else if (r->tag) {
            /* A job too large for any message: back to the queue. */
            return_jobs(g, r->tag);
            free(r->tag);
        }
        if (r->finish) {
            h2_call_finish(r->call, r->status, r->message);
            if (c)
                c->finished = 1;
            if (c && c->kind == CALL_POLL)
                metrics_observe_activation(
                    g->cfg.metrics, METRICS_API_GRPC,
                    (double)(uv_hrtime() - ((poll *)c)->started) / 1e9);
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
    free(c);
}

static void on_sent(void *ud, h2_call *call, void *tag)
{
    (void)ud;
    (void)call;
    job_tag *t = tag;
    if (!t)
        return;
    stream_credit(t->stream, t->count);
    free(t);
}

static void on_unsent(void *ud, h2_call *call, void *tag)
{
    callctx *c = ud;
    (void)call;
    job_tag *t = tag;
    if (!t)
        return;
    return_jobs(c->g, t);
    free(t);
}

static void on_close(void *ud, h2_call *call, h2_close_reason reason)
{
    callctx *c = ud;
    gateway *g = c->g;
    (void)call;
    (void)reason;
    if (c->kind == CALL_POLL) {
        poll *p = (poll *)c;
        broker_poll_cancel(g->b, &p->bp);
    } else if (c->kind == CALL_STREAM) {
        stream *s = (stream *)c;
        if (s->taker) {
            chute_engine_taker_remove(g->e, s->taker);
            s->taker = NULL;
        }
    }
    c->closed = 1;
    c->call = NULL;
    ctx_release(c);
}

static const h2_call_observer observer = {on_sent, on_unsent, on_close};

static int ctx_attach(gateway *g, callctx *c, call_kind kind, h2_call *call)
{
    c->kind = kind;
    c->g = g;
    c->call = call;
    return h2_call_set_observer(call, &observer, c);
}

/* ---- job messages ------------------------------------------------------------ */

static job_tag *tag_of(const chute_job_view *jobs, size_t n, stream *s)
{
    job_tag *t = malloc(sizeof *t + n * sizeof t->jobs[0]);
    if (!t)
        return NULL;
    t->stream = s;
    t->count = n;
    for (size_t i = 0; i < n; i++) {
        t->jobs[i].key = jobs[i].key;
        t->jobs[i].deadline = jobs[i].deadline;
    }
    return t;
}

/* How many bytes of variables and headers fit in one response. */
static size_t activation_budget(const gateway *g, const chute_activate_request *req)
{
    size_t per_job = JOB_OVERHEAD + strlen(req->type) + (req->worker ? strlen(req->worker) : 0);
    size_t max = g->cfg.limits.max_message_size;
    size_t reserve = per_job * (size_t)(req->max_jobs > 0 ? req->max_jobs : 1);
    return reserve < max / 2 ? max - reserve : max / 2;
}

/* Queues the response of an ActivateJobs call that got |n| jobs. */
static void reply_jobs(gateway *g, poll *p, const chute_job_view *jobs, size_t n)
{
    job_tag *tag = tag_of(jobs, n, NULL);
    uint8_t *msg = NULL;
    size_t len = 0;
    chute_error err;
    if (!tag || codec_encode_activate_jobs_response(jobs, n, g->cfg.limits.max_message_size,
                                                    &msg, &len, &err) != 0) {
        /* Queue the jobs for return after the commit, then the error. */
        if (tag)
            reply_message(g, p->c.call, &p->c, NULL, 0, tag, 0);
        reply_status(g, p->c.call, &p->c, H2_GRPC_RESOURCE_EXHAUSTED,
                     "the activated jobs do not fit in one response; they were returned");
        return;
    }
    reply_message(g, p->c.call, &p->c, msg, len, tag, 1);
}

#define POLL_OF(bp) ((poll *)((char *)(bp) - offsetof(poll, bp)))

static void poll_jobs(broker_poll *bp, const chute_job_view *jobs, size_t n)
{
    poll *p = POLL_OF(bp);
    reply_jobs(p->c.g, p, jobs, n);
}

/* A long poll that found nothing ends with OK and no message. */
static void poll_expired(broker_poll *bp)
{
    poll *p = POLL_OF(bp);
    reply_status(p->c.g, p->c.call, &p->c, 0, NULL);
}

static void stream_deliver(void *ctx, chute_taker *taker, const chute_job_view *jobs, size_t n)
{
    stream *s = ctx;
    gateway *g = s->c.g;
    (void)taker;
    for (size_t i = 0; i < n; i++) {
        job_tag *tag = tag_of(&jobs[i], 1, s);
        uint8_t *msg = NULL;
        size_t len = 0;
        chute_error err;
        if (!tag) {
            continue; /* out of memory: the lease runs out and the job comes back */
        }
        if (codec_encode_activated_job(&jobs[i], g->cfg.limits.max_message_size, &msg, &len,
                                       &err) != 0) {
            fprintf(stderr, "chuted: job %lld cannot be pushed to a stream: %s\n",
                    (long long)jobs[i].key, err.message);
            msg = NULL;
        }
        reply_message(g, s->c.call, &s->c, msg, len, tag, 0);
    }
}

/* ---- handlers ---------------------------------------------------------------- */

static void handle_activate(gateway *g, h2_call *call, const char *rpc, const uint8_t *msg,
                            size_t len)
{
    (void)rpc;
    codec_activate a;
    chute_error err;
    if (codec_decode_activate_jobs(msg, len, &a, &err) != 0) {
        reply_error(g, call, NULL, &err);
        return;
    }
    if (chute_engine_check_activate(&a.req, 0, &err) != 0) {
        reply_error(g, call, NULL, &err);
        codec_activate_free(&a);
        return;
    }
    poll *p = calloc(1, sizeof *p);
    if (!p || ctx_attach(g, &p->c, CALL_POLL, call) != 0) {
        free(p);
        reply_status(g, call, NULL, H2_GRPC_RESOURCE_EXHAUSTED, "out of memory");
        codec_activate_free(&a);
        return;
    }
    p->c.closed = 0;
    p->started = uv_hrtime();
    size_t budget = activation_budget(g, &a.req);
    const chute_job_view *jobs;
    size_t n = 0;
    if (chute_engine_activate(g->e, &a.req, budget, &jobs, &n, &err) != 0) {
        reply_error(g, call, &p->c, &err);
    } else if (n > 0) {
        reply_jobs(g, p, jobs, n);
    } else if (a.request_timeout_ms < 0) {
        reply_status(g, call, &p->c, 0, NULL);
    } else {
        int64_t wait = a.request_timeout_ms ? a.request_timeout_ms
                                            : CODEC_DEFAULT_REQUEST_TIMEOUT_MS;
        if (broker_poll_start(g->b, &p->bp, &a.req, budget, wait, poll_jobs, poll_expired,
                              &err) != 0)
            reply_error(g, call, &p->c, &err);
    }
    codec_activate_free(&a);
}

static void handle_stream(gateway *g, h2_call *call, const char *rpc, const uint8_t *msg,
                          size_t len)
{
    (void)rpc;
    codec_activate a;
    chute_error err;
    if (codec_decode_stream_activated_jobs(msg, len, &a, &err) != 0) {
        reply_error(g, call, NULL, &err);
        return;
    }
    if (chute_engine_check_activate(&a.req, 1, &err) != 0) {
        reply_error(g, call, NULL, &err);
        codec_activate_free(&a);
        return;
    }
    stream *s = calloc(1, sizeof *s);
    if (!s || ctx_attach(g, &s->c, CALL_STREAM, call) != 0) {
        free(s);
        reply_status(g, call, NULL, H2_GRPC_RESOURCE_EXHAUSTED, "out of memory");
        codec_activate_free(&a);
        return;
    }
    if (chute_engine_stream_add(g->e, &a.req, g->cfg.stream_credit, 0, stream_deliver, s,
                                &s->taker, &err) != 0)
        reply_error(g, call, &s->c, &err);
    else
        kick(g); /* a new stream is fed from the backlog at the next flush */
    codec_activate_free(&a);
}

/* Queues an empty response message and OK. */
static void reply_empty(gateway *g, h2_call *call)
{
    uint8_t *m = malloc(5);
    if (!m) {
        reply_status(g, call, NULL, H2_GRPC_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    codec_frame_empty(m);
    reply_message(g, call, NULL, m, 5, NULL, 1);
}

typedef int (*decode_fn)(const uint8_t *, size_t, codec_job_command *, chute_error *);

static void handle_job_command(gateway *g, h2_call *call, const char *rpc, const uint8_t *msg,
                               size_t len)
{
    codec_job_command c;
    chute_error err;
    int rc;
    decode_fn decode = NULL;
    if (strcmp(rpc, "CompleteJob") == 0)
        decode = codec_decode_complete_job;
    else if (strcmp(rpc, "FailJob") == 0)
        decode = codec_decode_fail_job;
    else if (strcmp(rpc, "ThrowError") == 0)
        decode = codec_decode_throw_error;
    else if (strcmp(rpc, "UpdateJobRetries") == 0)
        decode = codec_decode_update_job_retries;
    else if (strcmp(rpc, "UpdateJobTimeout") == 0)
        decode = codec_decode_update_job_timeout;
    else
        decode = codec_decode_resolve_incident;
    if ((rc = decode(msg, len, &c, &err)) != 0) {
        reply_error(g, call, NULL, &err);
        return;
    }
    if (decode == codec_decode_complete_job)
        rc = chute_engine_complete(g->e, c.key, c.variables, c.variables_len, &err);
    else if (decode == codec_decode_fail_job)
        rc = chute_engine_fail(g->e, c.key, c.retries, c.error_message, c.backoff_ms,
                               c.variables, c.variables_len, &err);
    else if (decode == codec_decode_throw_error)
        rc = chute_engine_throw_error(g->e, c.key, c.error_code, c.error_message, c.variables,
                                      c.variables_len, &err);
    else if (decode == codec_decode_update_job_retries)
        rc = chute_engine_update_retries(g->e, c.key, c.retries, &err);
    else if (decode == codec_decode_update_job_timeout)
        rc = chute_engine_update_timeout(g->e, c.key, c.timeout_ms, &err);
    else
        rc = chute_engine_resolve_incident(g->e, c.key, &err);
    codec_job_command_free(&c);
    if (rc != 0)
        reply_error(g, call, NULL, &err);
    else
        reply_empty(g, call);
}

static void handle_topology(gateway *g, h2_call *call, const char *rpc, const uint8_t *msg,
                            size_t len)
{
    (void)rpc;
    chute_error err;
    uint8_t *out;
    size_t out_len;
    if (codec_decode_topology(msg, len, &err) != 0 ||
        codec_encode_topology(g->host, gateway_port(g), 1, &out, &out_len, &err) != 0) {
        reply_error(g, call, NULL, &err);
        return;
    }
    reply_message(g, call, NULL, out, out_len, NULL, 1);
}

static void handle_create(gateway *g, h2_call *call, const char *rpc, const uint8_t *msg,
                          size_t len)
{
    int batch = strcmp(rpc, "CreateJobs") == 0;
    codec_create c;
    chute_error err;
    int rc = batch ? codec_decode_create_jobs(msg, len, &c, &err)
                   : codec_decode_create_job(msg, len, &c, &err);
    if (rc != 0) {
        reply_error(g, call, NULL, &err);
        return;
    }
    int64_t *keys = calloc(c.count ? c.count : 1, sizeof *keys);
    if (!keys) {
        codec_create_free(&c);
        reply_status(g, call, NULL, H2_GRPC_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    size_t i = 0;
    rc = chute_engine_create_batch(g->e, c.specs, c.count, keys, &i, &err);
    if (rc != 0) {
        if (batch) {
            chute_error wrapped;
            chute_error_set(&wrapped, err.code, "job %zu of the batch: %s", i, err.message);
            reply_error(g, call, NULL, &wrapped);
        } else {
            reply_error(g, call, NULL, &err);
        }
    } else {
        uint8_t *out;
        size_t out_len;
        rc = batch ? codec_encode_create_jobs_response(keys, c.count, &out, &out_len, &err)
                   : codec_encode_create_job_response(keys[0], &out, &out_len, &err);
        if (rc != 0)
            reply_error(g, call, NULL, &err);
        else
            reply_message(g, call, NULL, out, out_len, NULL, 1);
    }
    free(keys);
    codec_create_free(&c);
}

static void handle_get(gateway *g, h2_call *call, const char *rpc, const uint8_t *msg,
                       size_t len)
{
    (void)rpc;
    codec_job_command c;
    chute_error err;
    chute_job_view v;
    uint8_t *out;
    size_t out_len;
    if (codec_decode_get_job(msg, len, &c, &err) != 0) {
        reply_error(g, call, NULL, &err);
        return;
    }
    int rc = chute_engine_get(g->e, c.key, &v, &err);
    codec_job_command_free(&c);
    if (rc == 0)
        rc = codec_encode_get_job_response(&v, g->cfg.limits.max_message_size, &out, &out_len,
                                           &err);
    if (rc != 0)
        reply_error(g, call, NULL, &err);
    else
        reply_message(g, call, NULL, out, out_len, NULL, 1);
}

static void handle_cancel(gateway *g, h2_call *call, const char *rpc, const uint8_t *msg,
                          size_t len)
{
    (void)rpc;
    codec_job_command c;
    chute_error err;
    if (codec_decode_cancel_job(msg, len, &c, &err) != 0) {
        reply_error(g, call, NULL, &err);
        return;
    }
    int rc = chute_engine_cancel(g->e, c.key, &err);
    codec_job_command_free(&c);
    if (rc != 0)
        reply_error(g, call, NULL, &err);
    else
        reply_empty(g, call);
}

typedef struct incident_walk {
    codec_incident_list list;
    const char *type;
    size_t limit;
    int rc;
    chute_error err;
} incident_walk;

static int visit_incident(void *ctx, const chute_job_view *job)
{
    incident_walk *w = ctx;
    if (w->type && strcmp(w->type, job->type) != 0)
        return 0;
    int rc = codec_incident_list_add(&w->list, job, &w->err);
    if (rc == CHUTE_ETOOBIG)
        return 1; /* the response is full: stop, send what fits */
    if (rc != 0) {
        w->rc = rc;
        return 1;
    }
    return w->list.count >= w->limit;
}

static void handle_list_incidents(gateway *g, h2_call *call, const char *rpc, const uint8_t *msg,
                                  size_t len)
{
    (void)rpc;
    codec_list_incidents l;
    chute_error err;
    if (codec_decode_list_incidents(msg, len, &l, &err) != 0) {
        reply_error(g, call, NULL, &err);
        return;
    }
    incident_walk w = {.type = l.type, .limit = l.limit};
    codec_incident_list_init(&w.list, g->cfg.limits.max_message_size);
    chute_engine_list_incidents(g->e, visit_incident, &w);
    uint8_t *out;
    size_t out_len;
    if (w.rc != 0)
        reply_error(g, call, NULL, &w.err);
    else if (codec_incident_list_finish(&w.list, &out, &out_len, &err) != 0)
        reply_error(g, call, NULL, &err);
    else
        reply_message(g, call, NULL, out, out_len, NULL, 1);
    codec_incident_list_free(&w.list);
    codec_list_incidents_free(&l);
}

static void unimplemented(gateway *g, h2_call *call, const char *path)
{
    char m[512];
    if (strncmp(path, PATH_GATEWAY, strlen(PATH_GATEWAY)) == 0)
        snprintf(m, sizeof m,
                 "Method %s is not implemented: Chute is a job broker and serves the job RPCs of "
                 "gateway_protocol.Gateway (Topology, ActivateJobs, StreamActivatedJobs, "
                 "CompleteJob, FailJob, ThrowError, UpdateJobRetries, UpdateJobTimeout, "
                 "ResolveIncident)",
                 path);
    else
        snprintf(m, sizeof m, "Method %s is not implemented by Chute", path);
    reply_status(g, call, NULL, H2_GRPC_UNIMPLEMENTED, m);
}

/*
 * Every method served: its service, its name, its handler and its load class
 * for the broker's admission. Settling a job (complete, fail, throw error),
 * taking jobs and the topology are never refused for load; everything else
 * brings work and is refused while the commit is full.
 */
typedef void (*handler_fn)(gateway *g, h2_call *call, const char *rpc, const uint8_t *msg,
                           size_t len);

static const struct route {
    const char *service;
    const char *rpc;
    handler_fn fn;
    broker_load load;
} routes[] = {
    {PATH_GATEWAY, "ActivateJobs", handle_activate, BROKER_LOAD_DRAINS},
    {PATH_GATEWAY, "StreamActivatedJobs", handle_stream, BROKER_LOAD_DRAINS},
    {PATH_GATEWAY, "Topology", handle_topology, BROKER_LOAD_DRAINS},
    {PATH_GATEWAY, "CompleteJob", handle_job_command, BROKER_LOAD_DRAINS},
    {PATH_GATEWAY, "FailJob", handle_job_command, BROKER_LOAD_DRAINS},
    {PATH_GATEWAY, "ThrowError", handle_job_command, BROKER_LOAD_DRAINS},
    {PATH_GATEWAY, "UpdateJobRetries", handle_job_command, BROKER_LOAD_ADDS},
    {PATH_GATEWAY, "UpdateJobTimeout", handle_job_command, BROKER_LOAD_ADDS},
    {PATH_GATEWAY, "ResolveIncident", handle_job_command, BROKER_LOAD_ADDS},
    {PATH_CHUTE, "CreateJob", handle_create, BROKER_LOAD_ADDS},
    {PATH_CHUTE, "CreateJobs", handle_create, BROKER_LOAD_ADDS},
    {PATH_CHUTE, "GetJob", handle_get, BROKER_LOAD_ADDS},
    {PATH_CHUTE, "ListIncidents", handle_list_incidents, BROKER_LOAD_ADDS},
    {PATH_CHUTE, "CancelJob", handle_cancel, BROKER_LOAD_ADDS},
};

static void on_request(void *ctx, h2_call *call, const char *path, const uint8_t *msg,
                       size_t len)
{
    gateway *g = ctx;
    for (size_t i = 0; i < sizeof routes / sizeof *routes; i++) {
        const struct route *r = &routes[i];
        size_t n = strlen(r->service);
        if (strncmp(path, r->service, n) != 0 || strcmp(path + n, r->rpc) != 0)
            continue;
        /* Admitted before decoding: under load a refusal costs nothing. */
        if (admit(g, call, r->load))
            r->fn(g, call, r->rpc, msg, len);
        return;
    }
    unimplemented(g, call, path);
}

/* ---- life cycle ---------------------------------------------------------------- */

void gateway_config_init(gateway_config *c)
{
    memset(c, 0, sizeof *c);
    c->host = "127.0.0.1";
    c->port = 26500;
    h2_limits_init(&c->limits);
    c->stream_credit = 32;
}

int gateway_open(gateway **out, uv_loop_t *loop, broker *b, const gateway_config *cfg,
                 chute_error *err)
{
    gateway *g = calloc(1, sizeof *g);
    if (!g)
        return chute_error_set(err, CHUTE_ENOMEM, "out of memory");
    g->b = b;
    g->e = broker_engine(b);
    g->cfg = *cfg;
    snprintf(g->host, sizeof g->host, "%s", cfg->host);
    g->cfg.host = g->host;
    int rc = h2_server_open(&g->h2, loop, cfg->host, cfg->port, &cfg->limits, on_request, g, err);
    if (rc != 0) {
        free(g);
        return rc;
    }
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
