/*
 * Timer accuracy through a real chuted (Chute only): the scenario `timers`
 * of loadgen.
 *
 * Deploys a model start -> timer catch event (a duration of `delay` ms) ->
 * end, then creates N instances of it as fast as it can (plain
 * CreateProcessInstance calls, at most `inflight` open at a time over
 * `conns` connections, through the client's transport as lg_process.c
 * does). Once every timer should have fired, it reads each instance with
 * Chute's GetProcessInstance (the engine's element instances, epoch ms)
 * and takes, per instance, the timer event's element instance:
 *
 *   lateness = endedAt(timer event) - (startedAt(timer event) + delay)
 *
 * startedAt is when the engine activated the event and armed its timer
 * (the command that created the instance); endedAt is when the engine
 * fired it and completed the event. Both come from the engine's clock
 * (CLOCK_REALTIME, whole ms), so the figure is the engine's own lateness
 * in firing, before the commit of the firing's batch; it has a resolution
 * of 1 ms (truncation of both stamps: a value is within -1..+1 ms of the
 * exact one). Each instance must have completed, with exactly one
 * element instance of the event (a timer fires once).
 */
#include "lg.h"

#include <chute/client.h>

#include "client/transport.h"
#include "codec/grpc_frame.h"
#include "gateway.pb-c.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LG_TIMER_MAX_CONNS 16

typedef struct create_state {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int inflight;
    long long done, failed;
    int64_t *keys;
    char first_error[256];
} create_state;

typedef struct create_ctx {
    create_state *s;
    long long idx;
} create_ctx;

static int on_created(void *ud, const uint8_t *data, size_t len, chute_error *err)
{
    create_ctx *c = ud;
    GatewayProtocol__CreateProcessInstanceResponse *r =
        gateway_protocol__create_process_instance_response__unpack(NULL, len, data);
    if (!r)
        return chute_error_set(err, CHUTE_EINTERNAL, "undecodable CreateProcessInstanceResponse");
    c->s->keys[c->idx] = r->processinstancekey;
    gateway_protocol__create_process_instance_response__free_unpacked(r, NULL);
    return 0;
}

static void on_create_done(void *ud, int rc, const chute_error *err)
{
    create_ctx *c = ud;
    create_state *s = c->s;
    pthread_mutex_lock(&s->mu);
    if (rc == 0 && s->keys[c->idx] > 0) {
        s->done++;
    } else if (s->failed++ == 0) {
        snprintf(s->first_error, sizeof s->first_error, "%d %.200s", rc,
                 rc && err ? err->message : "no key");
    }
    s->inflight--;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

static int64_t realtime_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- reading the instances back ------------------------------------------------------ */

typedef struct reader {
    chute_client *client;
    const int64_t *keys;
    long long from, to; /* this reader's share of keys */
    int64_t delay_ms;
    int64_t *lateness; /* per key; INT64_MIN while not measured */
    int64_t *due;      /* per key: startedAt + delay */
    long long measured, anomalies;
    char first_anomaly[256];
    int64_t deadline_ns;
} reader;

static void *read_instances(void *arg)
{
    reader *r = arg;
    long long left = r->to - r->from;
    while (left > 0 && lg_now_ns() < r->deadline_ns) {
        for (long long i = r->from; i < r->to; i++) {
            if (r->lateness[i] != INT64_MIN)
                continue;
            chute_instance_info *info = NULL;
            chute_error err;
            if (chute_client_get_instance(r->client, r->keys[i], &info, NULL, &err) != 0) {
                if (r->anomalies++ == 0)
                    snprintf(r->first_anomaly, sizeof r->first_anomaly, "instance %lld: %.200s",
                             (long long)r->keys[i], err.message);
                r->lateness[i] = INT64_MAX;
                left--;
                continue;
            }
            const chute_element_instance *ev = NULL;
            int events = 0;
            for (size_t k = 0; k < info->element_count; k++) {
                if (strcmp(info->elements[k].element_id, "wait") == 0) {
                    ev = &info->elements[k];
                    events++;
                }
            }
            if (strcmp(info->state, "COMPLETED") == 0) {
                if (events != 1 || strcmp(ev->state, "COMPLETED") != 0) {
                    if (r->anomalies++ == 0)
                        snprintf(r->first_anomaly, sizeof r->first_anomaly,
                                 "instance %lld completed with %d timer element instances",
                                 (long long)r->keys[i], events);
                    r->lateness[i] = INT64_MAX;
                } else {
                    r->due[i] = ev->started_at + r->delay_ms;
                    r->lateness[i] = ev->ended_at - r->due[i];
                    r->measured++;
                }
                left--;
            }
            chute_instance_info_free(info);
        }
        if (left > 0)
            usleep(100000);
    }
    return NULL;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* ---- the run ------------------------------------------------------------------------------ */

int lg_timer_run(const lg_timer_opts *o, lg_timer_result *out)
{
    memset(out, 0, sizeof *out);
    int nconns = o->conns < 1 ? 1 : o->conns > LG_TIMER_MAX_CONNS ? LG_TIMER_MAX_CONNS : o->conns;
    chute_error err;
    chute_client *conns[LG_TIMER_MAX_CONNS] = {0};
    int rc = -1;
    for (int i = 0; i < nconns; i++) {
        if (chute_client_open(&conns[i], o->addr, NULL, &err) != 0) {
            fprintf(stderr, "loadgen: timers: open %s: %s\n", o->addr, err.message);
            goto out;
        }
    }
    /* The model: start -> timer (delay) -> end. */
    char xml[1024];
    int xml_len = snprintf(
        xml, sizeof xml,
        "<bpmn:definitions xmlns:bpmn=\"http://www.omg.org/spec/BPMN/20100524/MODEL\" "
        "id=\"bench-timer-defs\"><bpmn:process id=\"bench-timer\" isExecutable=\"true\">"
        "<bpmn:startEvent id=\"s\"/><bpmn:sequenceFlow id=\"f1\" sourceRef=\"s\" "
        "targetRef=\"wait\"/><bpmn:intermediateCatchEvent id=\"wait\"><bpmn:timerEventDefinition>"
        "<bpmn:timeDuration>PT%lld.%03lldS</bpmn:timeDuration></bpmn:timerEventDefinition>"
        "</bpmn:intermediateCatchEvent><bpmn:sequenceFlow id=\"f2\" sourceRef=\"wait\" "
        "targetRef=\"e\"/><bpmn:endEvent id=\"e\"/></bpmn:process></bpmn:definitions>",
        (long long)(o->delay_ms / 1000), (long long)(o->delay_ms % 1000));
    chute_client_resource res = {"bench-timer.bpmn", (const uint8_t *)xml, (size_t)xml_len};
    chute_deployment *dep = NULL;
    if (chute_client_deploy(conns[0], &res, 1, &dep, NULL, &err) != 0) {
        fprintf(stderr, "loadgen: timers: deploy: %s\n", err.message);
        goto out;
    }
    chute_deployment_free(dep);

    long long n = o->n;
    create_state s;
    memset(&s, 0, sizeof s);
    pthread_mutex_init(&s.mu, NULL);
    pthread_cond_init(&s.cv, NULL);
    s.keys = calloc((size_t)n, sizeof *s.keys);
    create_ctx *ctx = calloc((size_t)n, sizeof *ctx);
    int64_t *lateness = malloc((size_t)n * sizeof *lateness);
    int64_t *due = calloc((size_t)n, sizeof *due);
    int inflight_max = o->inflight > 0 ? o->inflight : 512;
    int64_t hard_end = lg_now_ns() + (int64_t)(o->max_secs * 1e9);

    /* One request body for every instance: no variables. */
    GatewayProtocol__CreateProcessInstanceRequest cr;
    gateway_protocol__create_process_instance_request__init(&cr);
    cr.bpmnprocessid = "bench-timer";
    cr.version = -1;
    uint8_t *body;
    size_t len;
    if (codec_pack_framed(&cr.base, 0, &body, &len, &err) != 0) {
        fprintf(stderr, "loadgen: timers: pack: %s\n", err.message);
        goto free_run;
    }
    int64_t t0 = lg_now_ns();
    long long issued = 0;
    while (issued < n) {
        pthread_mutex_lock(&s.mu);
        while (s.inflight >= inflight_max && lg_now_ns() < hard_end) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += 50000000;
            if (ts.tv_nsec >= 1000000000) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000;
            }
            pthread_cond_timedwait(&s.cv, &s.mu, &ts);
        }
        int go = s.inflight < inflight_max && s.failed == 0;
        if (go)
            s.inflight++;
        pthread_mutex_unlock(&s.mu);
        if (!go)
            break;
        ctx[issued] = (create_ctx){&s, issued};
        ccall_cbs cbs = {on_created, on_create_done};
        if (ctransport_call_start(conns[issued % nconns],
                                  "/gateway_protocol.Gateway/CreateProcessInstance", body, len,
                                  30000, 0, &cbs, &ctx[issued], NULL, &err) != 0) {
            fprintf(stderr, "loadgen: timers: call: %s\n", err.message);
            pthread_mutex_lock(&s.mu);
            s.inflight--;
            pthread_mutex_unlock(&s.mu);
            break;
        }
        issued++;
    }
    pthread_mutex_lock(&s.mu);
    while (s.inflight > 0)
        pthread_cond_wait(&s.cv, &s.mu);
    pthread_mutex_unlock(&s.mu);
    int64_t t1 = lg_now_ns();
    int64_t created_ms = realtime_ms();
    free(body);
    out->created = s.done;
    out->create_secs = (double)(t1 - t0) / 1e9;
    out->create_rate = (double)s.done / out->create_secs;
    if (s.failed || s.done < n) {
        fprintf(stderr, "loadgen: timers: %lld of %lld creates failed, first: %s\n", s.failed, n,
                s.first_error);
        goto free_run;
    }
    fprintf(stderr, "loadgen: timers: created %lld instances in %.2f s (%.0f/s)\n", s.done,
            out->create_secs, out->create_rate);

    /* Every timer is due by created_ms + delay: read the instances after it,
     * again for those whose timer has not fired yet, until max_secs. */
    int64_t until = created_ms + o->delay_ms + 200;
    while (realtime_ms() < until)
        usleep(20000);
    for (long long i = 0; i < n; i++)
        lateness[i] = INT64_MIN;
    reader rd[LG_TIMER_MAX_CONNS];
    pthread_t th[LG_TIMER_MAX_CONNS];
    for (int i = 0; i < nconns; i++) {
        rd[i] = (reader){.client = conns[i],
                         .keys = s.keys,
                         .from = n * i / nconns,
                         .to = n * (i + 1) / nconns,
                         .delay_ms = o->delay_ms,
                         .lateness = lateness,
                         .due = due,
                         .deadline_ns = hard_end + (int64_t)10e9};
        pthread_create(&th[i], NULL, read_instances, &rd[i]);
    }
    long long anomalies = 0;
    for (int i = 0; i < nconns; i++) {
        pthread_join(th[i], NULL);
        out->measured += rd[i].measured;
        if (rd[i].anomalies && anomalies == 0)
            fprintf(stderr, "loadgen: timers: %s\n", rd[i].first_anomaly);
        anomalies += rd[i].anomalies;
    }
    out->anomalies = anomalies;
    out->missing = n - out->measured - anomalies;
    if (o->dump) {
        FILE *f = fopen(o->dump, "w");
        if (f) {
            for (long long i = 0; i < n; i++)
                if (lateness[i] != INT64_MIN && lateness[i] != INT64_MAX)
                    fprintf(f, "%lld %lld %lld\n", (long long)s.keys[i], (long long)due[i],
                            (long long)lateness[i]);
            fclose(f);
        }
    }
    if (out->measured > 0) {
        /* The measured values first, sorted. */
        long long m = 0;
        for (long long i = 0; i < n; i++)
            if (lateness[i] != INT64_MIN && lateness[i] != INT64_MAX)
                lateness[m++] = lateness[i];
        qsort(lateness, (size_t)m, sizeof *lateness, cmp_i64);
        out->min_ms = (double)lateness[0];
        out->p50_ms = (double)lateness[(size_t)(m * 0.50)];
        out->p99_ms = (double)lateness[(size_t)(m * 0.99)];
        out->p999_ms = (double)lateness[(size_t)(m * 0.999)];
        out->max_ms = (double)lateness[m - 1];
    }
    rc = out->measured == n ? 0 : -1;
    if (rc != 0)
        fprintf(stderr, "loadgen: timers: %lld measured, %lld anomalies, %lld timers not fired\n",
                out->measured, anomalies, out->missing);
free_run:
    free(s.keys);
    free(ctx);
    free(lateness);
    free(due);
    pthread_cond_destroy(&s.cv);
    pthread_mutex_destroy(&s.mu);
out:
    for (int i = 0; i < nconns; i++)
        chute_client_close(conns[i]);
    return rc;
}
