/*
 * The RPCs of <chute/client.h> on top of the transport: protobuf encoding
 * and decoding (protobuf-c code generated from proto/), the conversion of
 * protocol messages into the owned structs of the public API, and the
 * blocking forms (a condition variable the I/O thread signals).
 */
#include "client/rpc.h"

#include "codec/grpc_frame.h"

#include "chute.pb-c.h"
#include "gateway.pb-c.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define GW "/gateway_protocol.Gateway/"
#define CH "/chute.v1.Chute/"

/* ---- owned copies ----------------------------------------------------------- */

static char *xstrdup(const char *s)
{
    return strdup(s ? s : "");
}

void chute_job_free(chute_job *j)
{
    if (!j)
        return;
    free(j->type);
    free(j->custom_headers);
    free(j->variables);
    free(j->worker);
    free(j->tenant_id);
    free(j->bpmn_process_id);
    free(j->element_id);
    free(j);
}

static chute_job *job_new(int64_t key, const char *type, const char *headers, const char *vars,
                          int32_t retries, int64_t deadline, const char *worker, const char *tenant,
                          int64_t pik, const char *bpid, int32_t pdv, int64_t pdk, const char *eid,
                          int64_t eik)
{
    chute_job *j = calloc(1, sizeof *j);
    if (!j)
        return NULL;
    j->key = key;
    j->type = xstrdup(type);
    j->custom_headers = xstrdup(headers && *headers ? headers : "{}");
    j->variables = xstrdup(vars && *vars ? vars : "{}");
    j->retries = retries;
    j->deadline = deadline;
    j->worker = xstrdup(worker);
    j->tenant_id = xstrdup(tenant);
    j->process_instance_key = pik;
    j->bpmn_process_id = xstrdup(bpid);
    j->process_definition_version = pdv;
    j->process_definition_key = pdk;
    j->element_id = xstrdup(eid);
    j->element_instance_key = eik;
    if (!j->type || !j->custom_headers || !j->variables || !j->worker || !j->tenant_id ||
        !j->bpmn_process_id || !j->element_id) {
        chute_job_free(j);
        return NULL;
    }
    return j;
}

chute_job *chute_job_dup(const chute_job *s)
{
    return job_new(s->key, s->type, s->custom_headers, s->variables, s->retries, s->deadline,
                   s->worker, s->tenant_id, s->process_instance_key, s->bpmn_process_id,
                   s->process_definition_version, s->process_definition_key, s->element_id,
                   s->element_instance_key);
}

static chute_job *job_from_pb(const GatewayProtocol__ActivatedJob *a)
{
    return job_new(a->key, a->type, a->customheaders, a->variables, a->retries, a->deadline,
                   a->worker, a->tenantid, a->processinstancekey, a->bpmnprocessid,
                   a->processdefinitionversion, a->processdefinitionkey, a->elementid,
                   a->elementinstancekey);
}

void chute_job_list_free(chute_job_list *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->count; i++)
        chute_job_free(l->jobs[i]);
    free(l->jobs);
    l->jobs = NULL;
    l->count = 0;
}

static int list_add(chute_job_list *l, chute_job *j)
{
    chute_job **n = realloc(l->jobs, (l->count + 1) * sizeof *n);
    if (!n)
        return CHUTE_ENOMEM;
    l->jobs = n;
    l->jobs[l->count++] = j;
    return 0;
}

size_t crpc_min_job_bytes(const char *type, const char *worker)
{
    /* A gateway always sends the key (a partition-1 key takes 8 varint
     * bytes), the type, the worker and the deadline (6 bytes for epoch ms)
     * behind the 5-byte prefix; everything else only adds. */
    return CODEC_FRAME_PREFIX + (1 + 8) + (2 + strlen(type ? type : "")) +
           (2 + strlen(worker ? worker : "")) + (1 + 6);
}

/* ---- the generic call ---------------------------------------------------------- */

typedef struct rpc_wait {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done;
    int rc;
    chute_error err;
    const ProtobufCMessageDescriptor *desc;
    ProtobufCMessage *resp;
    int nmsg;
} rpc_wait;

static int wait_on_message(void *ud, const uint8_t *data, size_t len, chute_error *err)
{
    rpc_wait *w = ud;
    if (++w->nmsg > 1)
        return chute_error_set(err, CHUTE_EINTERNAL,
                               "the server sent more than one response message to a unary call");
    w->resp = protobuf_c_message_unpack(w->desc, NULL, len, data);
    if (!w->resp)
        return chute_error_set(err, CHUTE_EINTERNAL, "cannot decode the server's %s",
                               w->desc->short_name);
    return 0;
}

static void wait_on_done(void *ud, int rc, const chute_error *err)
{
    rpc_wait *w = ud;
    pthread_mutex_lock(&w->mu);
    w->rc = rc;
    if (rc < 0)
        w->err = *err;
    else if (!w->resp) {
        w->rc = CHUTE_EINTERNAL;
        chute_error_set(&w->err, CHUTE_EINTERNAL, "the server sent no %s", w->desc->short_name);
    }
    w->done = 1;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

static int64_t deadline_of(chute_client *c, const chute_call_options *co, int64_t fallback)
{
    if (co && co->deadline_ms > 0)
        return co->deadline_ms;
    if (co && co->deadline_ms < 0)
        return 0;
    int64_t d = ctransport_default_deadline(c);
    return d > 0 ? d : fallback;
}

static int pack(const ProtobufCMessage *m, uint8_t **buf, size_t *len, chute_error *err)
{
    return codec_pack_framed(m, 0, buf, len, err);
}

/* A blocking unary call: on success |*resp| is the decoded response (free
 * it with protobuf_c_message_free_unpacked). */
static int rpc_unary(chute_client *c, const char *path, const ProtobufCMessage *req,
                     const ProtobufCMessageDescriptor *desc, ProtobufCMessage **resp,
                     int64_t deadline_ms, chute_error *err)
{
    if (!c)
        return chute_error_set(err, CHUTE_EINVAL, "no client");
    if (ctransport_on_io_thread(c))
        return chute_error_set(err, CHUTE_EINVAL,
                               "a blocking call was made on the client's I/O thread (from a "
                               "callback); use the asynchronous form there");
    uint8_t *body;
    size_t len;
    int r = pack(req, &body, &len, err);
    if (r < 0)
        return r;
    rpc_wait w;
    memset(&w, 0, sizeof w);
    pthread_mutex_init(&w.mu, NULL);
    pthread_cond_init(&w.cv, NULL);
    w.desc = desc;
    ccall_cbs cbs = {wait_on_message, wait_on_done};
    r = ctransport_call_start(c, path, body, len, deadline_ms, 0, &cbs, &w, NULL, err);
    free(body);
    if (r == 0) {
        pthread_mutex_lock(&w.mu);
        while (!w.done)
            pthread_cond_wait(&w.cv, &w.mu);
        pthread_mutex_unlock(&w.mu);
        r = w.rc;
        if (r < 0) {
            if (err)
                *err = w.err;
            if (w.resp)
                protobuf_c_message_free_unpacked(w.resp, NULL);
        } else {
            *resp = w.resp;
        }
    }
    pthread_cond_destroy(&w.cv);
    pthread_mutex_destroy(&w.mu);
    return r;
}

/* ---- asynchronous commands -------------------------------------------------- */

typedef struct async_cmd {
    chute_done_cb cb;
    void *user_data;
} async_cmd;

static void async_cmd_done(void *ud, int rc, const chute_error *err)
{
    async_cmd *a = ud;
    if (a->cb)
        a->cb(a->user_data, rc, err);
    free(a);
}

static int rpc_async(chute_client *c, const char *path, const ProtobufCMessage *req,
                     const chute_call_options *co, chute_done_cb cb, void *user_data,
                     chute_error *err)
{
    uint8_t *body;
    size_t len;
    int r = pack(req, &body, &len, err);
    if (r < 0)
        return r;
    async_cmd *a = malloc(sizeof *a);
    if (!a) {
        free(body);
        return chute_error_set(err, CHUTE_ENOMEM, "out of memory");
    }
    a->cb = cb;
    a->user_data = user_data;
    ccall_cbs cbs = {NULL, async_cmd_done};
    r = ctransport_call_start(c, path, body, len, deadline_of(c, co, 0), 0, &cbs, a, NULL, err);
    free(body);
    if (r < 0)
        free(a);
    return r;
}

/* ---- the gateway ------------------------------------------------------------- */

static int empty_call(chute_client *c, const char *path, const ProtobufCMessage *req,
                      const ProtobufCMessageDescriptor *desc, const chute_call_options *co,
                      chute_error *err)
{
    ProtobufCMessage *resp = NULL;
    int r = rpc_unary(c, path, req, desc, &resp, deadline_of(c, co, 0), err);
    if (r == 0)
        protobuf_c_message_free_unpacked(resp, NULL);
    return r;
}

static void complete_req(GatewayProtocol__CompleteJobRequest *m, int64_t key, const char *vars)
{
    gateway_protocol__complete_job_request__init(m);
    m->jobkey = key;
    m->variables = (char *)(vars ? vars : "");
}

int chute_client_complete_job(chute_client *c, int64_t key, const char *vars,
                              const chute_call_options *co, chute_error *err)
{
    GatewayProtocol__CompleteJobRequest m;
    complete_req(&m, key, vars);
    return empty_call(c, GW "CompleteJob", &m.base,
                      &gateway_protocol__complete_job_response__descriptor, co, err);
}

int chute_client_complete_job_async(chute_client *c, int64_t key, const char *vars,
                                    const chute_call_options *co, chute_done_cb cb, void *ud,
                                    chute_error *err)
{
    GatewayProtocol__CompleteJobRequest m;
    complete_req(&m, key, vars);
    return rpc_async(c, GW "CompleteJob", &m.base, co, cb, ud, err);
}

static void fail_req(GatewayProtocol__FailJobRequest *m, int64_t key, int32_t retries,
                     const char *msg, int64_t backoff, const char *vars)
{
    gateway_protocol__fail_job_request__init(m);
    m->jobkey = key;
    m->retries = retries;
    m->errormessage = (char *)(msg ? msg : "");
    m->retrybackoff = backoff;
    m->variables = (char *)(vars ? vars : "");
}

int chute_client_fail_job(chute_client *c, int64_t key, int32_t retries, const char *msg,
                          int64_t backoff, const char *vars, const chute_call_options *co,
                          chute_error *err)
{
    GatewayProtocol__FailJobRequest m;
    fail_req(&m, key, retries, msg, backoff, vars);
    return empty_call(c, GW "FailJob", &m.base, &gateway_protocol__fail_job_response__descriptor,
                      co, err);
}

int chute_client_fail_job_async(chute_client *c, int64_t key, int32_t retries, const char *msg,
                                int64_t backoff, const char *vars, const chute_call_options *co,
                                chute_done_cb cb, void *ud, chute_error *err)
{
    GatewayProtocol__FailJobRequest m;
    fail_req(&m, key, retries, msg, backoff, vars);
    return rpc_async(c, GW "FailJob", &m.base, co, cb, ud, err);
}

static void throw_req(GatewayProtocol__ThrowErrorRequest *m, int64_t key, const char *code,
                      const char *msg, const char *vars)
{
    gateway_protocol__throw_error_request__init(m);
    m->jobkey = key;
    m->errorcode = (char *)(code ? code : "");
    m->errormessage = (char *)(msg ? msg : "");
    m->variables = (char *)(vars ? vars : "");
}

int chute_client_throw_error(chute_client *c, int64_t key, const char *code, const char *msg,
                             const char *vars, const chute_call_options *co, chute_error *err)
{
    GatewayProtocol__ThrowErrorRequest m;
    throw_req(&m, key, code, msg, vars);
    return empty_call(c, GW "ThrowError", &m.base,
                      &gateway_protocol__throw_error_response__descriptor, co, err);
}

int chute_client_throw_error_async(chute_client *c, int64_t key, const char *code, const char *msg,
                                   const char *vars, const chute_call_options *co, chute_done_cb cb,
                                   void *ud, chute_error *err)
{
    GatewayProtocol__ThrowErrorRequest m;
    throw_req(&m, key, code, msg, vars);
    return rpc_async(c, GW "ThrowError", &m.base, co, cb, ud, err);
}

int chute_client_update_job_retries(chute_client *c, int64_t key, int32_t retries,
                                    const chute_call_options *co, chute_error *err)
{
    GatewayProtocol__UpdateJobRetriesRequest m;
    gateway_protocol__update_job_retries_request__init(&m);
    m.jobkey = key;
    m.retries = retries;
    return empty_call(c, GW "UpdateJobRetries", &m.base,
                      &gateway_protocol__update_job_retries_response__descriptor, co, err);
}

int chute_client_update_job_timeout(chute_client *c, int64_t key, int64_t timeout_ms,
                                    const chute_call_options *co, chute_error *err)
{
    GatewayProtocol__UpdateJobTimeoutRequest m;
    gateway_protocol__update_job_timeout_request__init(&m);
    m.jobkey = key;
    m.timeout = timeout_ms;
    return empty_call(c, GW "UpdateJobTimeout", &m.base,
                      &gateway_protocol__update_job_timeout_response__descriptor, co, err);
}

int chute_client_resolve_incident(chute_client *c, int64_t incident_key,
                                  const chute_call_options *co, chute_error *err)
{
    GatewayProtocol__ResolveIncidentRequest m;
    gateway_protocol__resolve_incident_request__init(&m);
    m.incidentkey = incident_key;
    return empty_call(c, GW "ResolveIncident", &m.base,
                      &gateway_protocol__resolve_incident_response__descriptor, co, err);
}

void chute_topology_free(chute_topology *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->broker_count; i++) {
        free(t->brokers[i].host);
        free(t->brokers[i].version);
        free(t->brokers[i].partitions);
    }
    free(t->brokers);
    free(t->gateway_version);
    free(t->cluster_id);
    free(t);
}

int chute_client_topology(chute_client *c, chute_topology **out, const chute_call_options *co,
                          chute_error *err)
{
    GatewayProtocol__TopologyRequest m;
    gateway_protocol__topology_request__init(&m);
    ProtobufCMessage *resp = NULL;
    int r = rpc_unary(c, GW "Topology", &m.base, &gateway_protocol__topology_response__descriptor,
                      &resp, deadline_of(c, co, 0), err);
    if (r < 0)
        return r;
    GatewayProtocol__TopologyResponse *tr = (GatewayProtocol__TopologyResponse *)resp;
    chute_topology *t = calloc(1, sizeof *t);
    int ok = t != NULL;
    if (ok) {
        t->cluster_size = tr->clustersize;
        t->partitions_count = tr->partitionscount;
        t->replication_factor = tr->replicationfactor;
        t->gateway_version = xstrdup(tr->gatewayversion);
        t->cluster_id = xstrdup(tr->clusterid);
        t->brokers = calloc(tr->n_brokers ? tr->n_brokers : 1, sizeof *t->brokers);
        ok = t->gateway_version && t->cluster_id && t->brokers;
    }
    for (size_t i = 0; ok && i < tr->n_brokers; i++) {
        const GatewayProtocol__BrokerInfo *b = tr->brokers[i];
        chute_broker_info *o = &t->brokers[i];
        t->broker_count++;
        o->node_id = b->nodeid;
        o->port = b->port;
        o->host = xstrdup(b->host);
        o->version = xstrdup(b->version);
        o->partitions = calloc(b->n_partitions ? b->n_partitions : 1, sizeof *o->partitions);
        ok = o->host && o->version && o->partitions;
        for (size_t k = 0; ok && k < b->n_partitions; k++) {
            o->partitions[k].partition_id = b->partitions[k]->partitionid;
            o->partitions[k].role = (int32_t)b->partitions[k]->role;
            o->partitions[k].health = (int32_t)b->partitions[k]->health;
            o->partition_count++;
        }
    }
    protobuf_c_message_free_unpacked(resp, NULL);
    if (!ok) {
        chute_topology_free(t);
        return chute_error_set(err, CHUTE_ENOMEM, "out of memory");
    }
    *out = t;
    return 0;
}

/* ---- activation ------------------------------------------------------------- */

typedef struct activate_ctx {
    chute_job_list jobs;
    size_t min_bytes, max_bytes;
    crpc_activate_cb cb;
    void *user_data;
} activate_ctx;

static int activate_on_message(void *ud, const uint8_t *data, size_t len, chute_error *err)
{
    activate_ctx *a = ud;
    GatewayProtocol__ActivateJobsResponse *m =
        gateway_protocol__activate_jobs_response__unpack(NULL, len, data);
    if (!m)
        return chute_error_set(err, CHUTE_EINTERNAL,
                               "cannot decode the server's ActivateJobsResponse");
    int r = 0;
    for (size_t i = 0; i < m->n_jobs && r == 0; i++) {
        size_t sz =
            CODEC_FRAME_PREFIX + gateway_protocol__activated_job__get_packed_size(m->jobs[i]);
        if (!a->min_bytes || sz < a->min_bytes)
            a->min_bytes = sz;
        if (sz > a->max_bytes)
            a->max_bytes = sz;
        chute_job *j = job_from_pb(m->jobs[i]);
        if (!j || list_add(&a->jobs, j) < 0) {
            chute_job_free(j);
            r = chute_error_set(err, CHUTE_ENOMEM, "out of memory");
        }
    }
    gateway_protocol__activate_jobs_response__free_unpacked(m, NULL);
    return r;
}

static void activate_on_done(void *ud, int rc, const chute_error *err)
{
    activate_ctx *a = ud;
    /* Jobs that arrived before a failure are still leased to us: hand
     * them over even then, the caller decides what to do with them. */
    a->cb(a->user_data, rc, err, &a->jobs, a->min_bytes, a->max_bytes);
    chute_job_list_free(&a->jobs);
    free(a);
}

static void activate_req(GatewayProtocol__ActivateJobsRequest *m,
                         const chute_client_activate_request *r)
{
    gateway_protocol__activate_jobs_request__init(m);
    m->type = (char *)(r->type ? r->type : "");
    m->worker = (char *)(r->worker ? r->worker : "");
    m->timeout = r->timeout_ms;
    m->maxjobstoactivate = r->max_jobs;
    m->requesttimeout = r->request_timeout_ms;
    m->n_fetchvariable = r->fetch_variable_count;
    m->fetchvariable = (char **)r->fetch_variables;
    m->n_tenantids = r->tenant_id_count;
    m->tenantids = (char **)r->tenant_ids;
}

int crpc_activate_start(chute_client *c, const chute_client_activate_request *req,
                        int64_t deadline_ms, crpc_activate_cb cb, void *user_data, ccall **out,
                        chute_error *err)
{
    GatewayProtocol__ActivateJobsRequest m;
    activate_req(&m, req);
    uint8_t *body;
    size_t len;
    int r = pack(&m.base, &body, &len, err);
    if (r < 0)
        return r;
    activate_ctx *a = calloc(1, sizeof *a);
    if (!a) {
        free(body);
        return chute_error_set(err, CHUTE_ENOMEM, "out of memory");
    }
    a->cb = cb;
    a->user_data = user_data;
    ccall_cbs cbs = {activate_on_message, activate_on_done};
    r = ctransport_call_start(c, GW "ActivateJobs", body, len, deadline_ms, 0, &cbs, a, out, err);
    free(body);
    if (r < 0)
        free(a);
    return r;
}

static int64_t activate_deadline(chute_client *c, const chute_client_activate_request *req,
                                 const chute_call_options *co)
{
    /* As the Java client: the long poll plus 10 s for the network. */
    int64_t lp = req->request_timeout_ms == 0
                     ? 10000
                     : (req->request_timeout_ms < 0 ? 0 : req->request_timeout_ms);
    return deadline_of(c, co, lp + 10000);
}

typedef struct activate_wait {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done;
    int rc;
    chute_error err;
    chute_job_list jobs;
} activate_wait;

static void activate_wait_cb(void *ud, int rc, const chute_error *err, chute_job_list *jobs,
                             size_t mn, size_t mx)
{
    activate_wait *w = ud;
    pthread_mutex_lock(&w->mu);
    w->rc = rc;
    if (rc < 0)
        w->err = *err;
    w->jobs = *jobs;
    jobs->jobs = NULL;
    jobs->count = 0;
    w->done = 1;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

int chute_client_activate_jobs(chute_client *c, const chute_client_activate_request *req,
                               chute_job_list *out, const chute_call_options *co, chute_error *err)
{
    out->jobs = NULL;
    out->count = 0;
    if (ctransport_on_io_thread(c))
        return chute_error_set(err, CHUTE_EINVAL,
                               "a blocking call was made on the client's I/O thread");
    activate_wait w;
    memset(&w, 0, sizeof w);
    pthread_mutex_init(&w.mu, NULL);
    pthread_cond_init(&w.cv, NULL);
    int r =
        crpc_activate_start(c, req, activate_deadline(c, req, co), activate_wait_cb, &w, NULL, err);
    if (r == 0) {
        pthread_mutex_lock(&w.mu);
        while (!w.done)
            pthread_cond_wait(&w.cv, &w.mu);
        pthread_mutex_unlock(&w.mu);
        r = w.rc;
        if (r < 0) {
            if (err)
                *err = w.err;
            /* Jobs that did arrive stay leased until their timeout; there
             * is no one to hand them to. */
            chute_job_list_free(&w.jobs);
        } else {
            *out = w.jobs;
        }
    }
    pthread_cond_destroy(&w.cv);
    pthread_mutex_destroy(&w.mu);
    return r;
}

typedef struct activate_async {
    chute_activate_cb cb;
    void *user_data;
} activate_async;

static void activate_async_cb(void *ud, int rc, const chute_error *err, chute_job_list *jobs,
                              size_t mn, size_t mx)
{
    activate_async *a = ud;
    chute_job_list l = *jobs;
    jobs->jobs = NULL;
    jobs->count = 0;
    a->cb(a->user_data, rc, err, &l);
    chute_job_list_free(&l);
    free(a);
}

int chute_client_activate_jobs_async(chute_client *c, const chute_client_activate_request *req,
                                     const chute_call_options *co, chute_activate_cb cb,
                                     void *user_data, chute_error *err)
{
    activate_async *a = malloc(sizeof *a);
    if (!a)
        return chute_error_set(err, CHUTE_ENOMEM, "out of memory");
    a->cb = cb;
    a->user_data = user_data;
    int r =
        crpc_activate_start(c, req, activate_deadline(c, req, co), activate_async_cb, a, NULL, err);
    if (r < 0)
        free(a);
    return r;
}

/* ---- the job stream ------------------------------------------------------------- */

typedef struct stream_ctx {
    crpc_stream_job_cb on_job;
    void (*on_done)(void *, int, const chute_error *);
    void *user_data;
} stream_ctx;

static int stream_on_message(void *ud, const uint8_t *data, size_t len, chute_error *err)
{
    stream_ctx *s = ud;
    GatewayProtocol__ActivatedJob *m = gateway_protocol__activated_job__unpack(NULL, len, data);
    if (!m)
        return chute_error_set(err, CHUTE_EINTERNAL, "cannot decode a streamed ActivatedJob");
    chute_job *j = job_from_pb(m);
    gateway_protocol__activated_job__free_unpacked(m, NULL);
    if (!j)
        return chute_error_set(err, CHUTE_ENOMEM, "out of memory");
    int r = s->on_job(s->user_data, j, len + CODEC_FRAME_PREFIX);
    if (r < 0)
        return chute_error_set(err, r, "the stream was ended by its owner");
    return 0;
}

static void stream_on_done(void *ud, int rc, const chute_error *err)
{
    stream_ctx *s = ud;
    s->on_done(s->user_data, rc, err);
    free(s);
}

int crpc_stream_start(chute_client *c, const chute_client_activate_request *req,
                      int64_t deadline_ms, crpc_stream_job_cb on_job,
                      void (*on_done)(void *, int, const chute_error *), void *user_data,
                      ccall **out, chute_error *err)
{
    GatewayProtocol__StreamActivatedJobsRequest m;
    gateway_protocol__stream_activated_jobs_request__init(&m);
    m.type = (char *)(req->type ? req->type : "");
    m.worker = (char *)(req->worker ? req->worker : "");
    m.timeout = req->timeout_ms;
    m.n_fetchvariable = req->fetch_variable_count;
    m.fetchvariable = (char **)req->fetch_variables;
    m.n_tenantids = req->tenant_id_count;
    m.tenantids = (char **)req->tenant_ids;
    uint8_t *body;
    size_t len;
    int r = pack(&m.base, &body, &len, err);
    if (r < 0)
        return r;
    stream_ctx *s = malloc(sizeof *s);
    if (!s) {
        free(body);
        return chute_error_set(err, CHUTE_ENOMEM, "out of memory");
    }
    s->on_job = on_job;
    s->on_done = on_done;
    s->user_data = user_data;
    ccall_cbs cbs = {stream_on_message, stream_on_done};
    r = ctransport_call_start(c, GW "StreamActivatedJobs", body, len, deadline_ms,
                              CCALL_FLOW_CONTROLLED, &cbs, s, out, err);
    free(body);
    if (r < 0)
        free(s);
    return r;
}

/* The blocking stream: jobs cross from the I/O thread to the caller through
 * a small queue; credit is granted only for the room left in it. */
#define STREAM_QUEUE 16

typedef struct stream_wait {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    chute_job *q[STREAM_QUEUE + 1];
    size_t head, count;
    size_t min_bytes, max_bytes;
    uint64_t received;
    int done;
    int rc;
    chute_error err;
} stream_wait;

static int stream_wait_job(void *ud, chute_job *j, size_t bytes)
{
    stream_wait *w = ud;
    pthread_mutex_lock(&w->mu);
    if (w->count > STREAM_QUEUE) {
        /* Cannot happen while the server honours flow control. */
        pthread_mutex_unlock(&w->mu);
        chute_job_free(j);
        return CHUTE_EINTERNAL;
    }
    w->q[(w->head + w->count) % (STREAM_QUEUE + 1)] = j;
    w->count++;
    w->received++;
    if (!w->min_bytes || bytes < w->min_bytes)
        w->min_bytes = bytes;
    if (bytes > w->max_bytes)
        w->max_bytes = bytes;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    return 0;
}

static void stream_wait_done(void *ud, int rc, const chute_error *err)
{
    stream_wait *w = ud;
    pthread_mutex_lock(&w->mu);
    w->done = 1;
    w->rc = rc;
    if (rc < 0)
        w->err = *err;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

int chute_client_stream_jobs(chute_client *c, const chute_client_activate_request *req,
                             chute_stream_job_cb on_job, void *user_data,
                             const chute_call_options *co, chute_error *err)
{
    if (ctransport_on_io_thread(c))
        return chute_error_set(err, CHUTE_EINVAL,
                               "a blocking call was made on the client's I/O thread");
    stream_wait w;
    memset(&w, 0, sizeof w);
    pthread_mutex_init(&w.mu, NULL);
    pthread_cond_init(&w.cv, NULL);
    ccall *call = NULL;
    size_t floor_bytes = crpc_min_job_bytes(req->type, req->worker);
    int r = crpc_stream_start(c, req, deadline_of(c, co, 0), stream_wait_job, stream_wait_done, &w,
                              &call, err);
    if (r < 0)
        goto out;
    ccall_set_credit(call, STREAM_QUEUE, 0, floor_bytes, floor_bytes);
    int stopped = 0;
    pthread_mutex_lock(&w.mu);
    for (;;) {
        while (!w.count && !w.done)
            pthread_cond_wait(&w.cv, &w.mu);
        if (!w.count)
            break;
        chute_job *j = w.q[w.head];
        w.head = (w.head + 1) % (STREAM_QUEUE + 1);
        w.count--;
        size_t room = STREAM_QUEUE - w.count;
        uint64_t seen = w.received;
        size_t mn = w.min_bytes ? w.min_bytes : floor_bytes;
        size_t mx = w.max_bytes > mn ? w.max_bytes : mn;
        pthread_mutex_unlock(&w.mu);
        int stop = stopped ? 1 : on_job(user_data, j);
        if (stopped)
            chute_job_free(j); /* leased but unwanted: it times out on the broker */
        if (stop && !stopped) {
            stopped = 1;
            ccall_cancel(call);
        } else if (!stopped) {
            ccall_set_credit(call, (int)room, seen, mn, mx);
        }
        pthread_mutex_lock(&w.mu);
    }
    pthread_mutex_unlock(&w.mu);
    r = stopped ? 0 : w.rc;
    if (r < 0 && err)
        *err = w.err;
    ccall_release(call);
out:
    pthread_cond_destroy(&w.cv);
    pthread_mutex_destroy(&w.mu);
    return r;
}

/* ---- Chute's own service ----------------------------------------------------- */

static void spec_req(Chute__V1__CreateJobRequest *m, const chute_client_job_spec *s)
{
    chute__v1__create_job_request__init(m);
    m->type = (char *)(s->type ? s->type : "");
    m->variables = (char *)(s->variables ? s->variables : "");
    m->customheaders = (char *)(s->custom_headers ? s->custom_headers : "");
    m->retries = s->retries;
    m->priority = s->priority;
    m->delay = s->delay_ms;
}

int chute_client_create_job(chute_client *c, const chute_client_job_spec *spec, int64_t *key,
                            const chute_call_options *co, chute_error *err)
{
    Chute__V1__CreateJobRequest m;
    spec_req(&m, spec);
    ProtobufCMessage *resp = NULL;
    int r = rpc_unary(c, CH "CreateJob", &m.base, &chute__v1__create_job_response__descriptor,
                      &resp, deadline_of(c, co, 0), err);
    if (r < 0)
        return r;
    if (key)
        *key = ((Chute__V1__CreateJobResponse *)resp)->key;
    protobuf_c_message_free_unpacked(resp, NULL);
    return 0;
}

int chute_client_create_jobs(chute_client *c, const chute_client_job_spec *specs, size_t count,
                             int64_t *keys, const chute_call_options *co, chute_error *err)
{
    Chute__V1__CreateJobsRequest m;
    chute__v1__create_jobs_request__init(&m);
    Chute__V1__CreateJobRequest *items = calloc(count ? count : 1, sizeof *items);
    Chute__V1__CreateJobRequest **ptrs = calloc(count ? count : 1, sizeof *ptrs);
    if (!items || !ptrs) {
        free(items);
        free(ptrs);
        return chute_error_set(err, CHUTE_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < count; i++) {
        spec_req(&items[i], &specs[i]);
        ptrs[i] = &items[i];
    }
    m.n_jobs = count;
    m.jobs = ptrs;
    ProtobufCMessage *resp = NULL;
    int r = rpc_unary(c, CH "CreateJobs", &m.base, &chute__v1__create_jobs_response__descriptor,
                      &resp, deadline_of(c, co, 0), err);
    free(items);
    free(ptrs);
    if (r < 0)
        return r;
    Chute__V1__CreateJobsResponse *cr = (Chute__V1__CreateJobsResponse *)resp;
    if (cr->n_keys != count) {
        protobuf_c_message_free_unpacked(resp, NULL);
        return chute_error_set(err, CHUTE_EINTERNAL,
                               "the server returned %zu keys for %zu created jobs", cr->n_keys,
                               count);
    }
    if (keys)
        memcpy(keys, cr->keys, count * sizeof *keys);
    protobuf_c_message_free_unpacked(resp, NULL);
    return 0;
}

void chute_job_info_free(chute_job_info *i)
{
    if (!i)
        return;
    free(i->type);
    free(i->state);
    free(i->worker);
    free(i->variables);
    free(i->custom_headers);
    free(i->error_code);
    free(i->error_message);
    free(i);
}

int chute_client_get_job(chute_client *c, int64_t key, chute_job_info **out,
                         const chute_call_options *co, chute_error *err)
{
    Chute__V1__GetJobRequest m;
    chute__v1__get_job_request__init(&m);
    m.key = key;
    ProtobufCMessage *resp = NULL;
    int r = rpc_unary(c, CH "GetJob", &m.base, &chute__v1__get_job_response__descriptor, &resp,
                      deadline_of(c, co, 0), err);
    if (r < 0)
        return r;
    const Chute__V1__Job *j = ((Chute__V1__GetJobResponse *)resp)->job;
    if (!j) {
        protobuf_c_message_free_unpacked(resp, NULL);
        return chute_error_set(err, CHUTE_EINTERNAL, "the server's GetJobResponse has no job");
    }
    chute_job_info *i = calloc(1, sizeof *i);
    if (i) {
        i->key = j->key;
        i->retries = j->retries;
        i->priority = j->priority;
        i->deadline = j->deadline;
        i->incident_key = j->incidentkey;
        i->created_at = j->createdat;
        i->completed_at = j->completedat;
        i->type = xstrdup(j->type);
        i->state = xstrdup(j->state);
        i->worker = xstrdup(j->worker);
        i->variables = xstrdup(j->variables && *j->variables ? j->variables : "{}");
        i->custom_headers =
            xstrdup(j->customheaders && *j->customheaders ? j->customheaders : "{}");
        i->error_code = xstrdup(j->errorcode);
        i->error_message = xstrdup(j->errormessage);
    }
    protobuf_c_message_free_unpacked(resp, NULL);
    if (!i || !i->type || !i->state || !i->worker || !i->variables || !i->custom_headers ||
        !i->error_code || !i->error_message) {
        chute_job_info_free(i);
        return chute_error_set(err, CHUTE_ENOMEM, "out of memory");
    }
    *out = i;
    return 0;
}

static void incident_clear(chute_incident *i)
{
    free(i->type);
    free(i->job_type);
    free(i->error_message);
    free(i->error_code);
    free(i->bpmn_process_id);
    free(i->element_id);
    free(i->state);
}

/* Copies |in| into |o|; 0 when out of memory (|o| then holds what was
 * copied, for incident_clear). */
static int incident_copy(chute_incident *o, const Chute__V1__Incident *in)
{
    o->key = in->key;
    o->job_key = in->jobkey;
    o->retries = in->retries;
    o->process_instance_key = in->processinstancekey;
    o->process_definition_key = in->processdefinitionkey;
    o->element_instance_key = in->elementinstancekey;
    o->created_at = in->createdat;
    o->type = xstrdup(in->type);
    o->job_type = xstrdup(in->jobtype);
    o->error_message = xstrdup(in->errormessage);
    o->error_code = xstrdup(in->errorcode);
    o->bpmn_process_id = xstrdup(in->bpmnprocessid);
    o->element_id = xstrdup(in->elementid);
    /* A server from before process incidents sends no state: its incidents
     * are all open. */
    o->state = xstrdup(in->state && *in->state ? in->state : "ACTIVE");
    return o->type && o->job_type && o->error_message && o->error_code && o->bpmn_process_id &&
           o->element_id && o->state;
}

void chute_incident_list_free(chute_incident_list *l)
{
    if (!l)
        return;
    for (size_t k = 0; k < l->count; k++)
        incident_clear(&l->items[k]);
    free(l->items);
    l->items = NULL;
    l->count = 0;
}

int chute_client_list_incidents(chute_client *c, const char *job_type, int32_t limit,
                                chute_incident_list *out, const chute_call_options *co,
                                chute_error *err)
{
    out->items = NULL;
    out->count = 0;
    Chute__V1__ListIncidentsRequest m;
    chute__v1__list_incidents_request__init(&m);
    m.type = (char *)(job_type ? job_type : "");
    m.limit = limit;
    ProtobufCMessage *resp = NULL;
    int r =
        rpc_unary(c, CH "ListIncidents", &m.base, &chute__v1__list_incidents_response__descriptor,
                  &resp, deadline_of(c, co, 0), err);
    if (r < 0)
        return r;
    Chute__V1__ListIncidentsResponse *lr = (Chute__V1__ListIncidentsResponse *)resp;
    chute_incident_list l = {calloc(lr->n_incidents ? lr->n_incidents : 1, sizeof(chute_incident)),
                             0};
    int ok = l.items != NULL;
    for (size_t k = 0; ok && k < lr->n_incidents; k++) {
        l.count++;
        ok = incident_copy(&l.items[k], lr->incidents[k]);
    }
    protobuf_c_message_free_unpacked(resp, NULL);
    if (!ok) {
        chute_incident_list_free(&l);
        return chute_error_set(err, CHUTE_ENOMEM, "out of memory");
    }
    *out = l;
    return 0;
}

int chute_client_cancel_job(chute_client *c, int64_t key, const chute_call_options *co,
                            chute_error *err)
{
    Chute__V1__CancelJobRequest m;
    chute__v1__cancel_job_request__init(&m);
    m.key = key;
    return empty_call(c, CH "CancelJob", &m.base, &chute__v1__cancel_job_response__descriptor, co,
                      err);
}

/* ---- process instances ------------------------------------------------------------- */

void chute_created_instance_free(chute_created_instance *i)
{
    if (!i)
        return;
    free(i->bpmn_process_id);
    free(i->variables);
    free(i);
}

static chute_created_instance *created_new(int64_t key, int64_t pdk, const char *bpid,
                                           int32_t version, const char *vars)
{
    chute_created_instance *i = calloc(1, sizeof *i);
    if (!i)
        return NULL;
    i->key = key;
    i->process_definition_key = pdk;
    i->version = version;
    i->bpmn_process_id = xstrdup(bpid);
    i->variables = xstrdup(vars && *vars ? vars : "{}");
    if (!i->bpmn_process_id || !i->variables) {
        chute_created_instance_free(i);
        return NULL;
    }
    return i;
}

int chute_client_create_instance(chute_client *c, const chute_client_instance_spec *spec,
                                 chute_created_instance **out, const chute_call_options *co,
                                 chute_error *err)
{
    GatewayProtocol__CreateProcessInstanceRequest m;
    gateway_protocol__create_process_instance_request__init(&m);
    m.bpmnprocessid = (char *)(spec->bpmn_process_id ? spec->bpmn_process_id : "");
    m.version = spec->version;
    m.processdefinitionkey = spec->process_definition_key;
    m.variables = (char *)(spec->variables ? spec->variables : "");
    ProtobufCMessage *resp = NULL;
    chute_created_instance *i;
    int r;
    if (!spec->with_result) {
        r = rpc_unary(c, GW "CreateProcessInstance", &m.base,
                      &gateway_protocol__create_process_instance_response__descriptor, &resp,
                      deadline_of(c, co, 0), err);
        if (r < 0)
            return r;
        const GatewayProtocol__CreateProcessInstanceResponse *cr =
            (GatewayProtocol__CreateProcessInstanceResponse *)resp;
        i = created_new(cr->processinstancekey, cr->processdefinitionkey, cr->bpmnprocessid,
                        cr->version, NULL);
    } else {
        GatewayProtocol__CreateProcessInstanceWithResultRequest w;
        gateway_protocol__create_process_instance_with_result_request__init(&w);
        w.request = &m;
        w.requesttimeout = spec->request_timeout_ms;
        w.n_fetchvariables = spec->fetch_variable_count;
        w.fetchvariables = (char **)spec->fetch_variables;
        /* The server waits up to requestTimeout (0: 10 s); the call waits
         * that long and 10 s more, as the Java client does. */
        int64_t wait = spec->request_timeout_ms > 0 ? spec->request_timeout_ms : 10000;
        r = rpc_unary(c, GW "CreateProcessInstanceWithResult", &w.base,
                      &gateway_protocol__create_process_instance_with_result_response__descriptor,
                      &resp, deadline_of(c, co, wait + 10000), err);
        if (r < 0)
            return r;
        const GatewayProtocol__CreateProcessInstanceWithResultResponse *cr =
            (GatewayProtocol__CreateProcessInstanceWithResultResponse *)resp;
        i = created_new(cr->processinstancekey, cr->processdefinitionkey, cr->bpmnprocessid,
                        cr->version, cr->variables);
    }
    protobuf_c_message_free_unpacked(resp, NULL);
    if (!i)
        return chute_error_set(err, CHUTE_ENOMEM, "out of memory");
    *out = i;
    return 0;
}

int chute_client_cancel_instance(chute_client *c, int64_t key, const chute_call_options *co,
                                 chute_error *err)
{
    GatewayProtocol__CancelProcessInstanceRequest m;
    gateway_protocol__cancel_process_instance_request__init(&m);
    m.processinstancekey = key;
    return empty_call(c, GW "CancelProcessInstance", &m.base,
                      &gateway_protocol__cancel_process_instance_response__descriptor, co, err);
}

int chute_client_set_variables(chute_client *c, int64_t element_instance_key, const char *variables,
                               int local, int64_t *key, const chute_call_options *co,
                               chute_error *err)
{
    GatewayProtocol__SetVariablesRequest m;
    gateway_protocol__set_variables_request__init(&m);
    m.elementinstancekey = element_instance_key;
    m.variables = (char *)(variables ? variables : "");
    m.local = local ? 1 : 0;
    ProtobufCMessage *resp = NULL;
    int r = rpc_unary(c, GW "SetVariables", &m.base,
                      &gateway_protocol__set_variables_response__descriptor, &resp,
                      deadline_of(c, co, 0), err);
    if (r < 0)
        return r;
    if (key)
        *key = ((GatewayProtocol__SetVariablesResponse *)resp)->key;
    protobuf_c_message_free_unpacked(resp, NULL);
    return 0;
}

void chute_instance_info_free(chute_instance_info *i)
{
    if (!i)
        return;
    free(i->bpmn_process_id);
    free(i->state);
    free(i->variables);
    for (size_t k = 0; k < i->element_count; k++) {
        free(i->elements[k].element_id);
        free(i->elements[k].element_name);
        free(i->elements[k].element_type);
        free(i->elements[k].state);
    }
    free(i->elements);
    for (size_t k = 0; k < i->incident_count; k++)
        incident_clear(&i->incidents[k]);
    free(i->incidents);
    for (size_t k = 0; k < i->wait_count; k++) {
        free(i->waits[k].element_id);
        free(i->waits[k].message_name);
        free(i->waits[k].correlation_key);
    }
    free(i->waits);
    free(i);
}

/* Fills |i| from |r|; 0 when out of memory (|i| holds what was copied). */
static int instance_info_copy(chute_instance_info *i,
                              const Chute__V1__GetProcessInstanceResponse *r)
{
    const Chute__V1__ProcessInstance *p = r->instance;
    i->key = p->key;
    i->version = p->version;
    i->process_definition_key = p->processdefinitionkey;
    i->has_incident = p->hasincident;
    i->started_at = p->startedat;
    i->ended_at = p->endedat;
    i->truncated = r->truncated;
    i->bpmn_process_id = xstrdup(p->bpmnprocessid);
    i->state = xstrdup(p->state);
    i->variables = xstrdup(p->variables && *p->variables ? p->variables : "{}");
    i->elements = calloc(r->n_elements ? r->n_elements : 1, sizeof *i->elements);
    i->incidents = calloc(r->n_incidents ? r->n_incidents : 1, sizeof *i->incidents);
    if (!i->bpmn_process_id || !i->state || !i->variables || !i->elements || !i->incidents)
        return 0;
    for (size_t k = 0; k < r->n_elements; k++) {
        const Chute__V1__ElementInstance *e = r->elements[k];
        chute_element_instance *o = &i->elements[k];
        i->element_count++;
        o->key = e->key;
        o->flow_scope_key = e->flowscopekey;
        o->started_at = e->startedat;
        o->ended_at = e->endedat;
        o->incident_key = e->incidentkey;
        o->job_key = e->jobkey;
        o->element_id = xstrdup(e->elementid);
        o->element_name = xstrdup(e->elementname);
        o->element_type = xstrdup(e->elementtype);
        o->state = xstrdup(e->state);
        if (!o->element_id || !o->element_name || !o->element_type || !o->state)
            return 0;
    }
    for (size_t k = 0; k < r->n_incidents; k++) {
        i->incident_count++;
        if (!incident_copy(&i->incidents[k], r->incidents[k]))
            return 0;
    }
    i->waits = calloc(r->n_waits ? r->n_waits : 1, sizeof *i->waits);
    if (!i->waits)
        return 0;
    for (size_t k = 0; k < r->n_waits; k++) {
        const Chute__V1__Wait *w = r->waits[k];
        chute_instance_wait *o = &i->waits[k];
        i->wait_count++;
        o->element_instance_key = w->elementinstancekey;
        o->is_timer = strcmp(w->kind, "TIMER") == 0;
        o->due = w->due;
        o->element_id = xstrdup(w->elementid);
        o->message_name = xstrdup(w->messagename);
        o->correlation_key = xstrdup(w->correlationkey);
        if (!o->element_id || !o->message_name || !o->correlation_key)
            return 0;
    }
    return 1;
}

int chute_client_get_instance(chute_client *c, int64_t key, chute_instance_info **out,
                              const chute_call_options *co, chute_error *err)
{
    Chute__V1__GetProcessInstanceRequest m;
    chute__v1__get_process_instance_request__init(&m);
    m.key = key;
    ProtobufCMessage *resp = NULL;
    int r = rpc_unary(c, CH "GetProcessInstance", &m.base,
                      &chute__v1__get_process_instance_response__descriptor, &resp,
                      deadline_of(c, co, 0), err);
    if (r < 0)
        return r;
    const Chute__V1__GetProcessInstanceResponse *gr = (Chute__V1__GetProcessInstanceResponse *)resp;
    if (!gr->instance) {
        protobuf_c_message_free_unpacked(resp, NULL);
        return chute_error_set(err, CHUTE_EINTERNAL,
                               "the server's GetProcessInstanceResponse has no instance");
    }
    chute_instance_info *i = calloc(1, sizeof *i);
    int ok = i && instance_info_copy(i, gr);
    protobuf_c_message_free_unpacked(resp, NULL);
    if (!ok) {
        chute_instance_info_free(i);
        return chute_error_set(err, CHUTE_ENOMEM, "out of memory");
    }
    *out = i;
    return 0;
}

/* ---- messages ------------------------------------------------------------------------ */

int chute_client_publish_message(chute_client *c, const chute_client_message_spec *spec,
                                 int64_t *key, const chute_call_options *co, chute_error *err)
{
    if (!spec)
        return chute_error_set(err, CHUTE_EINVAL, "no message to publish");
    GatewayProtocol__PublishMessageRequest m;
    gateway_protocol__publish_message_request__init(&m);
    m.name = (char *)(spec->name ? spec->name : "");
    m.correlationkey = (char *)(spec->correlation_key ? spec->correlation_key : "");
    m.timetolive = spec->ttl_ms;
    m.messageid = (char *)(spec->message_id ? spec->message_id : "");
    m.variables = (char *)(spec->variables ? spec->variables : "");
    ProtobufCMessage *resp = NULL;
    int r = rpc_unary(c, GW "PublishMessage", &m.base,
                      &gateway_protocol__publish_message_response__descriptor, &resp,
                      deadline_of(c, co, 0), err);
    if (r < 0)
        return r;
    if (key)
        *key = ((GatewayProtocol__PublishMessageResponse *)resp)->key;
    protobuf_c_message_free_unpacked(resp, NULL);
    return 0;
}

/* ---- user tasks -------------------------------------------------------------------- */

static void strings_free(char **v, size_t n)
{
    for (size_t k = 0; k < n; k++)
        free(v[k]);
    free(v);
}

static void user_task_clear(chute_user_task *t)
{
    free(t->bpmn_process_id);
    free(t->element_id);
    free(t->name);
    free(t->assignee);
    strings_free(t->candidate_groups, t->candidate_group_count);
    strings_free(t->candidate_users, t->candidate_user_count);
    free(t->form_key);
    free(t->due_date);
    free(t->follow_up_date);
}

/* Copies |n| strings; NULL when out of memory (what was copied is freed). */
static char **strings_copy(char *const *in, size_t n)
{
    char **v = calloc(n ? n : 1, sizeof *v);
    for (size_t k = 0; v && k < n; k++) {
        if (!(v[k] = xstrdup(in[k]))) {
            strings_free(v, k);
            return NULL;
        }
    }
    return v;
}

/* Copies |in| into |o|; 0 when out of memory (|o| then holds what was
 * copied, for user_task_clear). */
static int user_task_copy(chute_user_task *o, const Chute__V1__UserTask *in)
{
    o->key = in->key;
    o->process_instance_key = in->processinstancekey;
    o->process_definition_key = in->processdefinitionkey;
    o->priority = in->priority;
    o->created_at = in->createdat;
    o->bpmn_process_id = xstrdup(in->bpmnprocessid);
    o->element_id = xstrdup(in->elementid);
    o->name = xstrdup(in->name);
    o->assignee = xstrdup(in->assignee);
    o->form_key = xstrdup(in->formkey);
    o->due_date = xstrdup(in->duedate);
    o->follow_up_date = xstrdup(in->followupdate);
    if ((o->candidate_groups = strings_copy(in->candidategroups, in->n_candidategroups)))
        o->candidate_group_count = in->n_candidategroups;
    if ((o->candidate_users = strings_copy(in->candidateusers, in->n_candidateusers)))
        o->candidate_user_count = in->n_candidateusers;
    return o->bpmn_process_id && o->element_id && o->name && o->assignee && o->form_key &&
           o->due_date && o->follow_up_date && o->candidate_groups && o->candidate_users;
}

void chute_user_task_list_free(chute_user_task_list *l)
{
    if (!l)
        return;
    for (size_t k = 0; k < l->count; k++)
        user_task_clear(&l->items[k]);
    free(l->items);
    l->items = NULL;
    l->count = 0;
    l->truncated = 0;
}

int chute_client_list_user_tasks(chute_client *c, const chute_client_user_task_filter *f,
                                 chute_user_task_list *out, const chute_call_options *co,
                                 chute_error *err)
{
    static const chute_client_user_task_filter any = {0};
    if (!f)
        f = &any;
    out->items = NULL;
    out->count = 0;
    out->truncated = 0;
    Chute__V1__ListUserTasksRequest m;
    chute__v1__list_user_tasks_request__init(&m);
    m.assignee = (char *)(f->assignee ? f->assignee : "");
    m.unassigned = f->unassigned ? 1 : 0;
    m.processinstancekey = f->process_instance_key;
    m.elementid = (char *)(f->element_id ? f->element_id : "");
    m.bpmnprocessid = (char *)(f->bpmn_process_id ? f->bpmn_process_id : "");
    m.limit = f->limit;
    ProtobufCMessage *resp = NULL;
    int r =
        rpc_unary(c, CH "ListUserTasks", &m.base, &chute__v1__list_user_tasks_response__descriptor,
                  &resp, deadline_of(c, co, 0), err);
    if (r < 0)
        return r;
    Chute__V1__ListUserTasksResponse *lr = (Chute__V1__ListUserTasksResponse *)resp;
    chute_user_task_list l = {calloc(lr->n_tasks ? lr->n_tasks : 1, sizeof(chute_user_task)), 0,
                              lr->truncated};
    int ok = l.items != NULL;
    for (size_t k = 0; ok && k < lr->n_tasks; k++) {
        l.count++;
        ok = user_task_copy(&l.items[k], lr->tasks[k]);
    }
    protobuf_c_message_free_unpacked(resp, NULL);
    if (!ok) {
        chute_user_task_list_free(&l);
        return chute_error_set(err, CHUTE_ENOMEM, "out of memory");
    }
    *out = l;
    return 0;
}

int chute_client_assign_user_task(chute_client *c, int64_t key, const char *assignee,
                                  int allow_override, const chute_call_options *co,
                                  chute_error *err)
{
    Chute__V1__AssignUserTaskRequest m;
    chute__v1__assign_user_task_request__init(&m);
    m.key = key;
    m.assignee = (char *)(assignee ? assignee : "");
    m.nooverride = !allow_override;
    return empty_call(c, CH "AssignUserTask", &m.base,
                      &chute__v1__assign_user_task_response__descriptor, co, err);
}

int chute_client_unassign_user_task(chute_client *c, int64_t key, const chute_call_options *co,
                                    chute_error *err)
{
    return chute_client_assign_user_task(c, key, "", 1, co, err);
}

int chute_client_complete_user_task(chute_client *c, int64_t key, const char *variables,
                                    const chute_call_options *co, chute_error *err)
{
    Chute__V1__CompleteUserTaskRequest m;
    chute__v1__complete_user_task_request__init(&m);
    m.key = key;
    m.variables = (char *)(variables ? variables : "");
    return empty_call(c, CH "CompleteUserTask", &m.base,
                      &chute__v1__complete_user_task_response__descriptor, co, err);
}

/* ---- deployment ------------------------------------------------------------------ */

int chute_client_deploy(chute_client *c, const chute_client_resource *res, size_t n,
                        chute_deployment **out, const chute_call_options *co, chute_error *err)
{
    GatewayProtocol__DeployResourceRequest m;
    gateway_protocol__deploy_resource_request__init(&m);
    GatewayProtocol__Resource *items = calloc(n ? n : 1, sizeof *items);
    GatewayProtocol__Resource **ptrs = calloc(n ? n : 1, sizeof *ptrs);
    if (!items || !ptrs) {
        free(items);
        free(ptrs);
        return chute_error_set(err, CHUTE_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        gateway_protocol__resource__init(&items[i]);
        items[i].name = (char *)res[i].name;
        items[i].content.data = (uint8_t *)res[i].content;
        items[i].content.len = res[i].len;
        ptrs[i] = &items[i];
    }
    m.n_resources = n;
    m.resources = ptrs;
    ProtobufCMessage *resp = NULL;
    int r = rpc_unary(c, GW "DeployResource", &m.base,
                      &gateway_protocol__deploy_resource_response__descriptor, &resp,
                      deadline_of(c, co, 0), err);
    free(items);
    free(ptrs);
    if (r < 0)
        return r;
    GatewayProtocol__DeployResourceResponse *d = (GatewayProtocol__DeployResourceResponse *)resp;
    chute_deployment *dep = calloc(1, sizeof *dep);
    size_t np = 0;
    for (size_t i = 0; i < d->n_deployments; i++)
        np += d->deployments[i]->metadata_case == GATEWAY_PROTOCOL__DEPLOYMENT__METADATA_PROCESS;
    if (dep)
        dep->processes = calloc(np ? np : 1, sizeof *dep->processes);
    if (!dep || !dep->processes) {
        free(dep);
        protobuf_c_message_free_unpacked(resp, NULL);
        return chute_error_set(err, CHUTE_ENOMEM, "out of memory");
    }
    dep->key = d->key;
    for (size_t i = 0; i < d->n_deployments; i++) {
        const GatewayProtocol__ProcessMetadata *p = d->deployments[i]->process;
        if (d->deployments[i]->metadata_case != GATEWAY_PROTOCOL__DEPLOYMENT__METADATA_PROCESS)
            continue;
        chute_deployed_process *q = &dep->processes[dep->nprocesses];
        q->bpmn_process_id = strdup(p->bpmnprocessid);
        q->resource_name = strdup(p->resourcename);
        q->version = p->version;
        q->key = p->processdefinitionkey;
        dep->nprocesses++;
        if (!q->bpmn_process_id || !q->resource_name) {
            chute_deployment_free(dep);
            protobuf_c_message_free_unpacked(resp, NULL);
            return chute_error_set(err, CHUTE_ENOMEM, "out of memory");
        }
    }
    protobuf_c_message_free_unpacked(resp, NULL);
    *out = dep;
    return 0;
}

void chute_deployment_free(chute_deployment *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->nprocesses; i++) {
        free(d->processes[i].bpmn_process_id);
        free(d->processes[i].resource_name);
    }
    free(d->processes);
    free(d);
}
