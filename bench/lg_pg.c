/*
 * PostgreSQL as a job queue (libpq): the usual queue table, batches fetched
 * with `FOR UPDATE SKIP LOCKED LIMIT n` and leased by an UPDATE in the same
 * statement (one commit), deleted on completion (one commit per batch).
 * Producers insert a batch in one statement and NOTIFY; an idle worker
 * LISTENs and waits on the socket instead of polling in a loop.
 *
 * The lease (leased_until) is what makes this the same contract as Chute's
 * (at least once, a job comes back when its worker vanishes: a reaper, not
 * run here, clears expired leases). Holding the row lock for the whole
 * handler instead would save the second commit but ties a transaction to
 * every job in progress.
 */
#include "lg.h"

#include <libpq-fe.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct lg_conn {
    PGconn *pg;
    char listening[128];
    char *buf;
    size_t cap;
};

static const char *SCHEMA =
    "SET client_min_messages = warning;"
    "SELECT pg_advisory_lock(42);"
    "CREATE TABLE IF NOT EXISTS jobs (id bigserial PRIMARY KEY, queue text NOT NULL,"
    " payload text NOT NULL, leased_until timestamptz);"
    "CREATE INDEX IF NOT EXISTS jobs_ready ON jobs (queue, id) WHERE leased_until IS NULL;"
    "SELECT pg_advisory_unlock(42);";

static const char *TAKE =
    "UPDATE jobs SET leased_until = now() + interval '60 seconds' WHERE id = ANY(ARRAY("
    "SELECT id FROM jobs WHERE queue = $1 AND leased_until IS NULL ORDER BY id LIMIT $2"
    " FOR UPDATE SKIP LOCKED)) RETURNING id, payload";

static const char *PUT = "WITH ins AS (INSERT INTO jobs (queue, payload)"
                         " SELECT $1, unnest($2::text[])) SELECT pg_notify($1, '')";

static const char *DONE = "DELETE FROM jobs WHERE id = ANY($1::bigint[])";

static int ok(PGconn *pg, PGresult *r, const char *what)
{
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        fprintf(stderr, "loadgen: postgres: %s: %s", what, PQerrorMessage(pg));
        return -1;
    }
    return 0;
}

static PGconn *connect_pg(const char *addr)
{
    char host[128], conninfo[300];
    int port;
    if (lg_split_addr(addr, host, sizeof host, &port) != 0)
        return NULL;
    snprintf(conninfo, sizeof conninfo, "host=%s port=%d dbname=postgres user=postgres", host,
             port);
    PGconn *pg = PQconnectdb(conninfo);
    if (PQstatus(pg) != CONNECTION_OK) {
        fprintf(stderr, "loadgen: postgres: cannot connect to %s: %s", addr, PQerrorMessage(pg));
        PQfinish(pg);
        return NULL;
    }
    return pg;
}

static int pg_open(lg_conn **out, const char *addr)
{
    PGconn *pg = connect_pg(addr);
    if (!pg)
        return -1;
    PGresult *r = PQexec(pg, SCHEMA);
    int rc = ok(pg, r, "schema");
    PQclear(r);
    if (rc == 0) {
        r = PQprepare(pg, "take", TAKE, 2, NULL);
        rc |= ok(pg, r, "prepare take");
        PQclear(r);
        r = PQprepare(pg, "put", PUT, 2, NULL);
        rc |= ok(pg, r, "prepare put");
        PQclear(r);
        r = PQprepare(pg, "done", DONE, 1, NULL);
        rc |= ok(pg, r, "prepare done");
        PQclear(r);
    }
    if (rc != 0) {
        PQfinish(pg);
        return -1;
    }
    lg_conn *c = calloc(1, sizeof *c);
    c->pg = pg;
    c->cap = 1 << 16;
    c->buf = malloc(c->cap);
    *out = c;
    return 0;
}

static void pg_close(lg_conn *c)
{
    if (!c)
        return;
    PQfinish(c->pg);
    free(c->buf);
    free(c);
}

static void need(lg_conn *c, size_t n)
{
    if (n > c->cap) {
        c->cap = n * 2;
        c->buf = realloc(c->buf, c->cap);
    }
}

static int pg_put(lg_conn *c, const char *queue, char *const *payloads, int n)
{
    /* A text[] literal: every element quoted, '"' and '\' escaped. */
    need(c, (size_t)n * (2 * LG_PAYLOAD + 4) + 4);
    char *p = c->buf;
    *p++ = '{';
    for (int i = 0; i < n; i++) {
        if (i)
            *p++ = ',';
        *p++ = '"';
        for (const char *s = payloads[i]; *s; s++) {
            if (*s == '"' || *s == '\\')
                *p++ = '\\';
            *p++ = *s;
        }
        *p++ = '"';
    }
    *p++ = '}';
    *p = '\0';
    const char *vals[2] = {queue, c->buf};
    PGresult *r = PQexecPrepared(c->pg, "put", 2, vals, NULL, NULL, 0);
    int rc = ok(c->pg, r, "insert");
    PQclear(r);
    return rc;
}

static int listen_on(lg_conn *c, const char *queue)
{
    if (strcmp(c->listening, queue) == 0)
        return 0;
    char sql[300];
    snprintf(sql, sizeof sql, "LISTEN \"%s\"", queue);
    PGresult *r = PQexec(c->pg, sql);
    int rc = ok(c->pg, r, "listen");
    PQclear(r);
    if (rc == 0)
        snprintf(c->listening, sizeof c->listening, "%s", queue);
    return rc;
}

static int drain_notifies(lg_conn *c)
{
    int n = 0;
    PGnotify *nt;
    while ((nt = PQnotifies(c->pg))) {
        n++;
        PQfreemem(nt);
    }
    return n;
}

static int fetch(lg_conn *c, const char *queue, lg_job *out, int max)
{
    char maxs[16];
    snprintf(maxs, sizeof maxs, "%d", max);
    const char *vals[2] = {queue, maxs};
    PGresult *r = PQexecPrepared(c->pg, "take", 2, vals, NULL, NULL, 0);
    if (ok(c->pg, r, "take") != 0) {
        PQclear(r);
        return -1;
    }
    int n = PQntuples(r);
    for (int i = 0; i < n; i++) {
        out[i].handle = strtoll(PQgetvalue(r, i, 0), NULL, 10);
        out[i].t_ns = lg_payload_t(PQgetvalue(r, i, 1), (size_t)PQgetlength(r, i, 1));
        out[i].value = NULL;
    }
    PQclear(r);
    return n;
}

static int pg_take(lg_conn *c, const char *queue, lg_job *out, int max, int wait_ms)
{
    if (wait_ms > 0 && listen_on(c, queue) != 0)
        return -1;
    drain_notifies(c);
    int n = fetch(c, queue, out, max);
    if (n != 0 || wait_ms <= 0)
        return n;
    /* Empty: sleep on the socket until a NOTIFY (or the wait ends), then
     * fetch once more. A notification sent since LISTEN is queued, so none
     * is missed between the fetch and the wait. */
    drain_notifies(c);
    struct pollfd p = {.fd = PQsocket(c->pg), .events = POLLIN};
    if (poll(&p, 1, wait_ms) > 0) {
        PQconsumeInput(c->pg);
        drain_notifies(c);
    }
    return fetch(c, queue, out, max);
}

static int pg_done(lg_conn *c, const char *queue, lg_job *jobs, int n)
{
    need(c, (size_t)n * 22 + 4);
    char *p = c->buf;
    *p++ = '{';
    for (int i = 0; i < n; i++)
        p += sprintf(p, "%s%lld", i ? "," : "", (long long)jobs[i].handle);
    *p++ = '}';
    *p = '\0';
    const char *vals[1] = {c->buf};
    PGresult *r = PQexecPrepared(c->pg, "done", 1, vals, NULL, NULL, 0);
    int rc = ok(c->pg, r, "delete");
    PQclear(r);
    return rc;
}

static int pg_flush(lg_conn *c)
{
    return 0;
}

/* ---- idle: LISTEN, and a poll every 10 s per worker ---------------------- */

typedef struct pg_idle {
    lg_conn **conns;
    int n;
    char queue[128];
    atomic_int stop;
    pthread_t thread;
} pg_idle;

static void *pg_idle_main(void *arg)
{
    pg_idle *h = arg;
    lg_job j;
    int64_t next = lg_now_ns() + 10000000000LL;
    while (!atomic_load(&h->stop)) {
        usleep(100000);
        if (lg_now_ns() < next)
            continue;
        next += 10000000000LL;
        for (int i = 0; i < h->n && !atomic_load(&h->stop); i++)
            fetch(h->conns[i], h->queue, &j, 1);
    }
    return NULL;
}

static void *pg_idle_start(const char *addr, const char *queue, int n)
{
    pg_idle *h = calloc(1, sizeof *h);
    h->conns = calloc((size_t)n, sizeof *h->conns);
    snprintf(h->queue, sizeof h->queue, "%s", queue);
    for (int i = 0; i < n; i++) {
        if (pg_open(&h->conns[i], addr) != 0 || listen_on(h->conns[i], queue) != 0) {
            fprintf(stderr, "loadgen: postgres: idle connection %d failed\n", i);
            break;
        }
        h->n = i + 1;
    }
    pthread_create(&h->thread, NULL, pg_idle_main, h);
    return h;
}

static void pg_idle_stop(void *arg)
{
    pg_idle *h = arg;
    if (!h)
        return;
    atomic_store(&h->stop, 1);
    pthread_join(h->thread, NULL);
    for (int i = 0; i < h->n; i++)
        pg_close(h->conns[i]);
    free(h->conns);
    free(h);
}

const lg_backend lg_pg = {
    .name = "postgres",
    .open = pg_open,
    .close = pg_close,
    .put = pg_put,
    .take = pg_take,
    .done = pg_done,
    .flush = pg_flush,
    .idle_start = pg_idle_start,
    .idle_stop = pg_idle_stop,
};
