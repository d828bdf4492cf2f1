/*
 * Process instances through a real chuted (Chute only): the scenario
 * `process` of loadgen.
 *
 * Set-up: deploys one BPMN resource (DeployResource) and opens one job
 * worker of the C client (<chute/worker.h>, each on its own connection) per
 * job type of the model; a handler completes its job with one variable
 * (a blocking CompleteJob, as handlers do).
 *
 * A round: N instances are created with CreateProcessInstanceWithResult,
 * at most `inflight` calls open at a time, spread over `conns` connections;
 * each call is answered when its instance has completed. The C client has
 * no call for it (the RPC is recent), so the calls go through the client's
 * transport (src/client/transport.h) with the request packed by the codec's
 * protobuf code: loadgen's own gRPC path, the same connection machinery as
 * the client's. Per instance, the time from sending the request to the
 * response is the latency from creation to completion; the round's rate is
 * N over the time from the first request to the last response.
 */
#define _GNU_SOURCE /* memmem */
#include "lg.h"

#include <chute/client.h>
#include <chute/worker.h>

#include "client/transport.h"
#include "codec/grpc_frame.h"
#include "gateway.pb-c.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LG_PROCESS_MAX_TYPES 16
#define LG_PROCESS_MAX_CONNS 16

typedef struct pworker {
    chute_client *client;
    chute_worker *worker;
    char type[128];
    char vars[192];
    atomic_llong handled, failed;
} pworker;

struct lg_process {
    lg_process_opts o;
    char bpid[256];
    pworker workers[LG_PROCESS_MAX_TYPES];
    int nworkers;
    chute_client *creators[LG_PROCESS_MAX_CONNS];
    int nconns;
};

/* ---- the model's job types ------------------------------------------------------- */

/* The job types of |xml|: every zeebe:taskDefinition type="..." (static
 * types only; the two models of the benchmark have no expressions). */
static int scan_types(const char *xml, size_t len, char types[][128], int max)
{
    int n = 0;
    const char *p = xml, *end = xml + len;
    const char *tag = "taskDefinition";
    while ((p = memmem(p, (size_t)(end - p), tag, strlen(tag))) != NULL) {
        p += strlen(tag);
        const char *gt = memchr(p, '>', (size_t)(end - p));
        const char *t = memmem(p, (size_t)((gt ? gt : end) - p), "type=\"", 6);
        if (!t)
            continue;
        t += 6;
        const char *q = memchr(t, '"', (size_t)(end - t));
        if (!q || q - t == 0 || q - t >= 128)
            continue;
        int dup = 0;
        for (int i = 0; i < n; i++)
            dup |= strncmp(types[i], t, (size_t)(q - t)) == 0 && types[i][q - t] == 0;
        if (!dup && n < max) {
            memcpy(types[n], t, (size_t)(q - t));
            types[n][q - t] = 0;
            n++;
        }
        p = q;
    }
    return n;
}

static void handle(chute_job_client *jc, const chute_job *job, void *ud)
{
    pworker *w = ud;
    chute_error err;
    if (chute_job_complete(jc, w->vars, &err) == 0)
        atomic_fetch_add(&w->handled, 1);
    else
        atomic_fetch_add(&w->failed, 1);
}

static void worker_error(void *ud, const chute_error *err)
{
    pworker *w = ud;
    fprintf(stderr, "loadgen: process: worker %s: %s\n", w->type, err->message);
}

/* ---- set-up and tear-down ------------------------------------------------------------ */

int lg_process_open(lg_process **out, const lg_process_opts *opts)
{
    lg_process *p = calloc(1, sizeof *p);
    p->o = *opts;
    if (p->o.conns < 1)
        p->o.conns = 1;
    if (p->o.conns > LG_PROCESS_MAX_CONNS)
        p->o.conns = LG_PROCESS_MAX_CONNS;
    chute_error err;
    chute_client *admin;
    if (chute_client_open(&admin, opts->addr, NULL, &err) != 0) {
        fprintf(stderr, "loadgen: process: open %s: %s\n", opts->addr, err.message);
        free(p);
        return -1;
    }
    chute_client_resource res = {opts->resource_name, (const uint8_t *)opts->xml, opts->xml_len};
    chute_deployment *dep = NULL;
    if (chute_client_deploy(admin, &res, 1, &dep, NULL, &err) != 0 || dep->nprocesses < 1) {
        fprintf(stderr, "loadgen: process: deploying %s failed: %s\n", opts->resource_name,
                dep ? "no process in it" : err.message);
        chute_deployment_free(dep);
        chute_client_close(admin);
        free(p);
        return -1;
    }
    snprintf(p->bpid, sizeof p->bpid, "%s",
             opts->bpmn_process_id ? opts->bpmn_process_id : dep->processes[0].bpmn_process_id);
    int found = 0;
    for (size_t i = 0; i < dep->nprocesses; i++)
        found |= strcmp(dep->processes[i].bpmn_process_id, p->bpid) == 0;
    fprintf(stderr, "loadgen: process: deployed %s: %s version %d\n", opts->resource_name, p->bpid,
            found ? dep->processes[0].version : -1);
    chute_deployment_free(dep);
    chute_client_close(admin);
    if (!found) {
        fprintf(stderr, "loadgen: process: %s does not define process %s\n", opts->resource_name,
                p->bpid);
        free(p);
        return -1;
    }

    char types[LG_PROCESS_MAX_TYPES][128];
    int nt = scan_types(opts->xml, opts->xml_len, types, LG_PROCESS_MAX_TYPES);
    if (nt == 0) {
        fprintf(stderr, "loadgen: process: %s has no service task\n", opts->resource_name);
        free(p);
        return -1;
    }
    for (int i = 0; i < nt; i++) {
        pworker *w = &p->workers[i];
        memcpy(w->type, types[i], sizeof w->type);
        snprintf(w->vars, sizeof w->vars, "{\"%.60s\":true,\"lastStep\":\"%.60s\"}", types[i],
                 types[i]);
        if (chute_client_open(&w->client, opts->addr, NULL, &err) != 0) {
            fprintf(stderr, "loadgen: process: open %s: %s\n", opts->addr, err.message);
            lg_process_close(p);
            return -1;
        }
        chute_worker_options wo;
        chute_worker_options_init(&wo);
        wo.type = w->type;
        wo.handler = handle;
        wo.user_data = w;
        wo.name = "loadgen-process";
        wo.timeout_ms = 60000;
        wo.concurrency = opts->concurrency > 0 ? opts->concurrency : 16;
        wo.max_jobs_active = opts->max_jobs_active > 0 ? opts->max_jobs_active : 64;
        wo.stream_enabled = opts->stream;
        wo.on_error = worker_error;
        if (chute_worker_open(&w->worker, w->client, &wo, &err) != 0) {
            fprintf(stderr, "loadgen: process: worker %s: %s\n", w->type, err.message);
            chute_client_close(w->client);
            w->client = NULL;
            lg_process_close(p);
            return -1;
        }
        p->nworkers = i + 1;
    }
    for (int i = 0; i < p->o.conns; i++) {
        if (chute_client_open(&p->creators[i], opts->addr, NULL, &err) != 0) {
            fprintf(stderr, "loadgen: process: open %s: %s\n", opts->addr, err.message);
            lg_process_close(p);
            return -1;
        }
        p->nconns = i + 1;
    }
    fprintf(stderr,
            "loadgen: process: %d workers (concurrency %d, %d jobs active, stream %s), %d "
            "creator connections\n",
            p->nworkers, opts->concurrency, opts->max_jobs_active, opts->stream ? "on" : "off",
            p->nconns);
    *out = p;
    return 0;
}

void lg_process_close(lg_process *p)
{
    if (!p)
        return;
    long long handled = 0, failed = 0;
    for (int i = 0; i < p->nworkers; i++) {
        chute_worker_close(p->workers[i].worker);
        chute_client_close(p->workers[i].client);
        handled += atomic_load(&p->workers[i].handled);
        failed += atomic_load(&p->workers[i].failed);
    }
    for (int i = 0; i < p->nconns; i++)
        chute_client_close(p->creators[i]);
    fprintf(stderr, "loadgen: process: workers completed %lld jobs, %lld completions failed\n",
            handled, failed);
    free(p);
}

/* ---- a round ----------------------------------------------------------------------------- */

typedef struct round_state {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int inflight;
    long long done, failed;
    int64_t *sent_ns, *lat_ns;
    char first_error[256];
} round_state;

typedef struct call_ctx {
    round_state *r;
    long long idx;
} call_ctx;

static void on_done(void *ud, int rc, const chute_error *err)
{
    call_ctx *c = ud;
    round_state *r = c->r;
    int64_t now = lg_now_ns();
    pthread_mutex_lock(&r->mu);
    if (rc == 0) {
        r->lat_ns[r->done++] = now - r->sent_ns[c->idx];
    } else {
        if (r->failed++ == 0)
            snprintf(r->first_error, sizeof r->first_error, "%d %.200s", rc,
                     err ? err->message : "");
    }
    r->inflight--;
    pthread_cond_signal(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

int lg_process_round(lg_process *p, int round, lg_process_result *out)
{
    long long n = p->o.n;
    round_state r;
    memset(&r, 0, sizeof r);
    pthread_mutex_init(&r.mu, NULL);
    pthread_cond_init(&r.cv, NULL);
    r.sent_ns = calloc((size_t)n, sizeof *r.sent_ns);
    r.lat_ns = calloc((size_t)n, sizeof *r.lat_ns);
    call_ctx *ctx = calloc((size_t)n, sizeof *ctx);
    int inflight_max = p->o.inflight > 0 ? p->o.inflight : 256;
    int64_t t0 = lg_now_ns();
    int64_t hard_end = t0 + (int64_t)(p->o.max_secs * 1e9);
    long long issued = 0;
    int rc = 0;
    char vars[256];
    while (issued < n && rc == 0) {
        pthread_mutex_lock(&r.mu);
        while (r.inflight >= inflight_max && lg_now_ns() < hard_end) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += 50000000;
            if (ts.tv_nsec >= 1000000000) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000;
            }
            pthread_cond_timedwait(&r.cv, &r.mu, &ts);
        }
        int go = r.inflight < inflight_max && r.failed == 0;
        if (go)
            r.inflight++;
        pthread_mutex_unlock(&r.mu);
        if (!go)
            break;
        /* The amount decides the review branch of the gateway model: half
         * the instances take it. */
        snprintf(vars, sizeof vars,
                 "{\"orderId\":\"bench-%d-%lld\",\"amount\":%lld,\"items\":%lld,"
                 "\"customer\":\"c-%lld\"}",
                 round, issued, 1 + issued % 200, 1 + issued % 5, issued % 1000);
        GatewayProtocol__CreateProcessInstanceRequest cr;
        gateway_protocol__create_process_instance_request__init(&cr);
        cr.bpmnprocessid = p->bpid;
        cr.version = -1;
        cr.variables = vars;
        GatewayProtocol__CreateProcessInstanceWithResultRequest m;
        gateway_protocol__create_process_instance_with_result_request__init(&m);
        m.request = &cr;
        m.requesttimeout = (int64_t)(p->o.max_secs * 1000) + 5000;
        /* Only what the benchmark reads: no variables back. */
        char *fetch[] = {"lastStep"};
        m.fetchvariables = fetch;
        m.n_fetchvariables = 1;
        uint8_t *body;
        size_t len;
        chute_error err;
        if (codec_pack_framed(&m.base, 0, &body, &len, &err) != 0) {
            fprintf(stderr, "loadgen: process: pack: %s\n", err.message);
            rc = -1;
            break;
        }
        ctx[issued] = (call_ctx){&r, issued};
        r.sent_ns[issued] = lg_now_ns();
        ccall_cbs cbs = {NULL, on_done};
        int crc =
            ctransport_call_start(p->creators[issued % p->nconns],
                                  "/gateway_protocol.Gateway/CreateProcessInstanceWithResult", body,
                                  len, m.requesttimeout + 5000, 0, &cbs, &ctx[issued], NULL, &err);
        free(body);
        if (crc != 0) {
            fprintf(stderr, "loadgen: process: call: %s\n", err.message);
            pthread_mutex_lock(&r.mu);
            r.inflight--;
            pthread_mutex_unlock(&r.mu);
            rc = -1;
            break;
        }
        issued++;
    }
    /* Every call ends (answered, failed or past its deadline). */
    pthread_mutex_lock(&r.mu);
    while (r.inflight > 0)
        pthread_cond_wait(&r.cv, &r.mu);
    pthread_mutex_unlock(&r.mu);
    int64_t t1 = lg_now_ns();
    memset(out, 0, sizeof *out);
    out->done = r.done;
    out->failed = r.failed;
    out->secs = (double)(t1 - t0) / 1e9;
    out->rate = (double)r.done / out->secs;
    if (r.done > 0) {
        qsort(r.lat_ns, (size_t)r.done, sizeof *r.lat_ns, cmp_i64);
        out->p50_ms = r.lat_ns[(size_t)(r.done * 0.50)] / 1e6;
        out->p99_ms = r.lat_ns[(size_t)(r.done * 0.99)] / 1e6;
        out->max_ms = r.lat_ns[r.done - 1] / 1e6;
    }
    if (r.failed)
        fprintf(stderr, "loadgen: process: %lld instances failed, first: %s\n", r.failed,
                r.first_error);
    if (r.done < n)
        rc = -1;
    free(r.sent_ns);
    free(r.lat_ns);
    free(ctx);
    pthread_cond_destroy(&r.cv);
    pthread_mutex_destroy(&r.mu);
    return rc;
}
