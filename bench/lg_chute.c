/*
 * Chute through its C client (gRPC over h2c): CreateJobs for a batch in one
 * commit, ActivateJobs up to 1 000 per request, asynchronous CompleteJob
 * calls multiplexed on the connection (a bounded number in flight), and
 * StreamActivatedJobs as the push consumer.
 */
#include "lg.h"

#include <chute/client.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Completions in flight per connection before done() waits. */
#define INFLIGHT_MAX 4096

struct lg_conn {
    chute_client *client;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int inflight;
    int failed;
    chute_client_job_spec *specs;
    size_t nspecs;
};

static int ch_open(lg_conn **out, const char *addr)
{
    chute_client *cl;
    chute_error err;
    if (chute_client_open(&cl, addr, NULL, &err) != 0) {
        fprintf(stderr, "loadgen: chute: open %s: %s\n", addr, err.message);
        return -1;
    }
    lg_conn *c = calloc(1, sizeof *c);
    c->client = cl;
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    *out = c;
    return 0;
}

static int ch_flush(lg_conn *c)
{
    pthread_mutex_lock(&c->mu);
    while (c->inflight > 0)
        pthread_cond_wait(&c->cv, &c->mu);
    int f = c->failed;
    c->failed = 0;
    pthread_mutex_unlock(&c->mu);
    return f;
}

static void ch_close(lg_conn *c)
{
    if (!c)
        return;
    ch_flush(c);
    chute_client_close(c->client);
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->cv);
    free(c->specs);
    free(c);
}

static int ch_put(lg_conn *c, const char *queue, char *const *payloads, int n)
{
    if ((size_t)n > c->nspecs) {
        free(c->specs);
        c->specs = calloc((size_t)n, sizeof *c->specs);
        c->nspecs = (size_t)n;
    }
    for (int i = 0; i < n; i++)
        c->specs[i] = (chute_client_job_spec){.type = queue, .variables = payloads[i]};
    chute_error err;
    for (int off = 0; off < n; off += 10000) {
        size_t k = (size_t)(n - off < 10000 ? n - off : 10000);
        if (chute_client_create_jobs(c->client, c->specs + off, k, NULL, NULL, &err) != 0) {
            fprintf(stderr, "loadgen: chute: CreateJobs: %s\n", err.message);
            return -1;
        }
    }
    return 0;
}

static int ch_take(lg_conn *c, const char *queue, lg_job *out, int max, int wait_ms)
{
    chute_client_activate_request req = {
        .type = queue,
        .worker = "loadgen",
        .timeout_ms = 60000,
        .max_jobs = max,
        .request_timeout_ms = wait_ms > 0 ? wait_ms : -1,
    };
    chute_job_list list = {0};
    chute_error err;
    if (chute_client_activate_jobs(c->client, &req, &list, NULL, &err) != 0) {
        fprintf(stderr, "loadgen: chute: ActivateJobs: %s\n", err.message);
        return -1;
    }
    int n = (int)list.count;
    for (int i = 0; i < n; i++) {
        out[i].handle = list.jobs[i]->key;
        out[i].t_ns = lg_payload_t(list.jobs[i]->variables, strlen(list.jobs[i]->variables));
        out[i].value = NULL;
    }
    chute_job_list_free(&list);
    return n;
}

static void completed(void *ud, int rc, const chute_error *err)
{
    lg_conn *c = ud;
    pthread_mutex_lock(&c->mu);
    c->inflight--;
    if (rc != 0)
        c->failed++;
    if (c->inflight == 0 || c->inflight == INFLIGHT_MAX / 2)
        pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

static int complete_one(lg_conn *c, int64_t key)
{
    pthread_mutex_lock(&c->mu);
    while (c->inflight >= INFLIGHT_MAX)
        pthread_cond_wait(&c->cv, &c->mu);
    c->inflight++;
    pthread_mutex_unlock(&c->mu);
    chute_error err;
    if (chute_client_complete_job_async(c->client, key, NULL, NULL, completed, c, &err) != 0) {
        pthread_mutex_lock(&c->mu);
        c->inflight--;
        c->failed++;
        pthread_mutex_unlock(&c->mu);
        return -1;
    }
    return 0;
}

static int ch_done(lg_conn *c, const char *queue, lg_job *jobs, int n)
{
    for (int i = 0; i < n; i++)
        if (complete_one(c, jobs[i].handle) != 0)
            return -1;
    return 0;
}

typedef struct stream_ctx {
    lg_conn *c;
    void (*on_job)(void *ud, int64_t t_ns);
    void *ud;
    atomic_int *stop;
} stream_ctx;

static int stream_job(void *ud, chute_job *job)
{
    stream_ctx *s = ud;
    s->on_job(s->ud, lg_payload_t(job->variables, strlen(job->variables)));
    complete_one(s->c, job->key);
    chute_job_free(job);
    return atomic_load(s->stop);
}

static int ch_consume(lg_conn *c, const char *queue, void (*on_job)(void *ud, int64_t t_ns),
                      void *ud, atomic_int *stop, int64_t until_ns)
{
    stream_ctx s = {c, on_job, ud, stop};
    chute_client_activate_request req = {
        .type = queue, .worker = "loadgen", .timeout_ms = 60000};
    while (!atomic_load(stop)) {
        int64_t left_ms = (until_ns - lg_now_ns()) / 1000000;
        if (left_ms <= 0)
            break;
        chute_call_options co;
        chute_call_options_init(&co);
        co.deadline_ms = left_ms;
        chute_error err;
        int rc = chute_client_stream_jobs(c->client, &req, stream_job, &s, &co, &err);
        if (rc != 0 && rc != CHUTE_ETIMEDOUT) {
            fprintf(stderr, "loadgen: chute: stream: %s\n", err.message);
            usleep(10000);
        }
    }
    ch_flush(c);
    return 0;
}

/* ---- idle: long polls of 10 s, re-issued when they come back empty ------- */

typedef struct ch_idle {
    chute_client **clients;
    atomic_int *again;
    int n;
    char queue[128];
    atomic_int stop;
    atomic_int outstanding;
    pthread_t thread;
} ch_idle;

typedef struct poll_slot {
    ch_idle *h;
    int i;
} poll_slot;

static poll_slot *slots;

static void poll_done(void *ud, int rc, const chute_error *err, chute_job_list *jobs)
{
    poll_slot *s = ud;
    chute_job_list_free(jobs);
    atomic_store(&s->h->again[s->i], 1);
    atomic_fetch_sub(&s->h->outstanding, 1);
}

static void issue(ch_idle *h, int i)
{
    chute_client_activate_request req = {.type = h->queue,
                                         .worker = "idle",
                                         .timeout_ms = 60000,
                                         .max_jobs = 32,
                                         .request_timeout_ms = 10000};
    chute_error err;
    atomic_fetch_add(&h->outstanding, 1);
    if (chute_client_activate_jobs_async(h->clients[i], &req, NULL, poll_done, &slots[i], &err) !=
        0) {
        atomic_fetch_sub(&h->outstanding, 1);
        atomic_store(&h->again[i], 1);
    }
}

static void *ch_idle_main(void *arg)
{
    ch_idle *h = arg;
    while (!atomic_load(&h->stop)) {
        usleep(50000);
        for (int i = 0; i < h->n; i++)
            if (atomic_exchange(&h->again[i], 0))
                issue(h, i);
    }
    return NULL;
}

static void *ch_idle_start(const char *addr, const char *queue, int n)
{
    ch_idle *h = calloc(1, sizeof *h);
    h->clients = calloc((size_t)n, sizeof *h->clients);
    h->again = calloc((size_t)n, sizeof *h->again);
    slots = calloc((size_t)n, sizeof *slots);
    snprintf(h->queue, sizeof h->queue, "%s", queue);
    for (int i = 0; i < n; i++) {
        chute_error err;
        if (chute_client_open(&h->clients[i], addr, NULL, &err) != 0) {
            fprintf(stderr, "loadgen: chute: idle client %d: %s\n", i, err.message);
            break;
        }
        h->n = i + 1;
        slots[i] = (poll_slot){h, i};
        issue(h, i);
    }
    pthread_create(&h->thread, NULL, ch_idle_main, h);
    return h;
}

static void ch_idle_stop(void *arg)
{
    ch_idle *h = arg;
    if (!h)
        return;
    atomic_store(&h->stop, 1);
    pthread_join(h->thread, NULL);
    /* Closing a client fails its open long poll (the callback runs). */
    for (int i = 0; i < h->n; i++)
        chute_client_close(h->clients[i]);
    free(h->clients);
    free(h->again);
    free(slots);
    slots = NULL;
    free(h);
}

const lg_backend lg_chute = {
    .name = "chute",
    .open = ch_open,
    .close = ch_close,
    .put = ch_put,
    .take = ch_take,
    .done = ch_done,
    .flush = ch_flush,
    .consume = ch_consume,
    .idle_start = ch_idle_start,
    .idle_stop = ch_idle_stop,
};
