/*
 * Redis with the reliable-queue pattern (hiredis): producers LPUSH, a worker
 * moves a job to its processing list with LMOVE (BLMOVE when it waits) and
 * removes it from there with LREM once handled. Batches are pipelines.
 */
#include "lg.h"

#include <hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct lg_conn {
    redisContext *rc;
    char proc[160]; /* this connection's processing list */
};

static atomic_int conn_seq;

static int rd_open(lg_conn **out, const char *addr)
{
    char host[128];
    int port;
    if (lg_split_addr(addr, host, sizeof host, &port) != 0)
        return -1;
    redisContext *rc = redisConnect(host, port);
    if (!rc || rc->err) {
        fprintf(stderr, "loadgen: redis: cannot connect to %s: %s\n", addr,
                rc ? rc->errstr : "out of memory");
        if (rc)
            redisFree(rc);
        return -1;
    }
    lg_conn *c = calloc(1, sizeof *c);
    c->rc = rc;
    snprintf(c->proc, sizeof c->proc, "%d", atomic_fetch_add(&conn_seq, 1));
    *out = c;
    return 0;
}

static void rd_close(lg_conn *c)
{
    if (!c)
        return;
    redisFree(c->rc);
    free(c);
}

static int check(redisReply *r, const char *what)
{
    if (!r || r->type == REDIS_REPLY_ERROR) {
        fprintf(stderr, "loadgen: redis: %s: %s\n", what, r ? r->str : "connection lost");
        return -1;
    }
    return 0;
}

static int rd_put(lg_conn *c, const char *queue, char *const *payloads, int n)
{
    const char **argv = malloc(sizeof *argv * (size_t)(n + 2));
    size_t *lens = malloc(sizeof *lens * (size_t)(n + 2));
    argv[0] = "LPUSH";
    lens[0] = 5;
    argv[1] = queue;
    lens[1] = strlen(queue);
    for (int i = 0; i < n; i++) {
        argv[i + 2] = payloads[i];
        lens[i + 2] = strlen(payloads[i]);
    }
    redisReply *r = redisCommandArgv(c->rc, n + 2, argv, lens);
    free(argv);
    free(lens);
    int rc = check(r, "LPUSH");
    if (r)
        freeReplyObject(r);
    return rc;
}

static int take_reply(redisReply *r, lg_job *j)
{
    if (r->type != REDIS_REPLY_STRING)
        return 0;
    j->handle = 0;
    j->t_ns = lg_payload_t(r->str, r->len);
    j->value = malloc(r->len + 1);
    memcpy(j->value, r->str, r->len);
    j->value[r->len] = '\0';
    return 1;
}

static int rd_take(lg_conn *c, const char *queue, lg_job *out, int max, int wait_ms)
{
    char proc[400];
    snprintf(proc, sizeof proc, "%s:processing:%s", queue, c->proc);
    for (int i = 0; i < max; i++)
        redisAppendCommand(c->rc, "LMOVE %s %s RIGHT LEFT", queue, proc);
    int got = 0, failed = 0;
    for (int i = 0; i < max; i++) {
        redisReply *r = NULL;
        if (redisGetReply(c->rc, (void **)&r) != REDIS_OK || check(r, "LMOVE") != 0) {
            failed = 1;
            if (!r)
                break;
        } else
            got += take_reply(r, &out[got]);
        freeReplyObject(r);
    }
    if (failed)
        return -1;
    if (got > 0 || wait_ms <= 0)
        return got;
    redisReply *r = redisCommand(c->rc, "BLMOVE %s %s RIGHT LEFT %.3f", queue, proc,
                                 wait_ms / 1000.0);
    if (check(r, "BLMOVE") != 0) {
        if (r)
            freeReplyObject(r);
        return -1;
    }
    got = take_reply(r, &out[0]);
    freeReplyObject(r);
    return got;
}

static int rd_done(lg_conn *c, const char *queue, lg_job *jobs, int n)
{
    char proc[400];
    snprintf(proc, sizeof proc, "%s:processing:%s", queue, c->proc);
    for (int i = 0; i < n; i++)
        redisAppendCommand(c->rc, "LREM %s 1 %s", proc, jobs[i].value);
    int rc = 0;
    for (int i = 0; i < n; i++) {
        redisReply *r = NULL;
        if (redisGetReply(c->rc, (void **)&r) != REDIS_OK || check(r, "LREM") != 0)
            rc = -1;
        if (r)
            freeReplyObject(r);
        free(jobs[i].value);
        jobs[i].value = NULL;
        if (!r)
            break;
    }
    return rc;
}

static int rd_flush(lg_conn *c)
{
    return 0;
}

static void *rd_idle_start(const char *addr, const char *queue, int n)
{
    char poll[300];
    snprintf(poll, sizeof poll, "BLMOVE %s %s:processing:idle RIGHT LEFT 10\r\n", queue, queue);
    return lg_raw_idle_start(addr, n, NULL, poll);
}

const lg_backend lg_redis = {
    .name = "redis",
    .open = rd_open,
    .close = rd_close,
    .put = rd_put,
    .take = rd_take,
    .done = rd_done,
    .flush = rd_flush,
    .idle_start = rd_idle_start,
    .idle_stop = lg_raw_idle_stop,
};
