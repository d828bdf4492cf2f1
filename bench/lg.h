/*
 * The load generator's view of a job queue: one small interface that each
 * backend (chute, beanstalkd, PostgreSQL, Redis) implements in its native
 * protocol, so that every scenario in loadgen.c drives all of them the same
 * way.
 *
 * A connection (lg_conn) is used by one thread at a time. Jobs carry a
 * payload of a fixed size that starts with the intended send time in ns
 * (CLOCK_MONOTONIC), so a consumer can tell how late it got the job without
 * any clock shared through the broker.
 */
#ifndef CHUTE_BENCH_LG_H
#define CHUTE_BENCH_LG_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The payload every job carries: a JSON object (Chute's variables must be
 * one) of exactly LG_PAYLOAD bytes, {"t":<ns>,"n":<seq>,"p":"xxx..."}. */
#define LG_PAYLOAD 128

/* One job as a consumer holds it between taking and completing it. */
typedef struct lg_job {
    int64_t handle; /* the broker's key / id */
    int64_t t_ns;   /* the intended send time carried in the payload */
    char *value;    /* Redis only: the list element itself (LREM needs it); malloc'd */
} lg_job;

typedef struct lg_conn lg_conn;

typedef struct lg_backend {
    const char *name;
    /* Opens one connection to |addr| (host:port). 0 or -1 (message on stderr). */
    int (*open)(lg_conn **out, const char *addr);
    void (*close)(lg_conn *c);
    /* Creates |n| jobs on |queue| in one round trip (one commit where the
     * broker has a notion of it). 0 or -1. */
    int (*put)(lg_conn *c, const char *queue, char *const *payloads, int n);
    /* Takes up to |max| jobs; when none is ready waits up to |wait_ms| for
     * the first (0: answer at once). Returns the count or -1. */
    int (*take)(lg_conn *c, const char *queue, lg_job *out, int max, int wait_ms);
    /* Completes (acknowledges, deletes) |n| taken jobs. May return before the
     * broker answered (Chute: asynchronous completes); flush waits. 0 or -1. */
    int (*done)(lg_conn *c, const char *queue, lg_job *jobs, int n);
    /* Waits until every completion sent on |c| is answered. Returns the
     * number of completions that failed since the last flush. */
    int (*flush)(lg_conn *c);
    /* Optional: a push consumer (Chute's job stream). Calls |on_job| for
     * each job as it arrives and completes it, until *stop is set and
     * |until_ns| passed or on_job returns non-zero. NULL: loadgen polls with
     * take/done. */
    int (*consume)(lg_conn *c, const char *queue, void (*on_job)(void *ud, int64_t t_ns),
                   void *ud, atomic_int *stop, int64_t until_ns);
    /* Optional: opens |n| idle workers long polling |queue| and keeps them
     * waiting (re-polling when a poll times out) until idle_stop. */
    void *(*idle_start)(const char *addr, const char *queue, int n);
    void (*idle_stop)(void *h);
} lg_backend;

extern const lg_backend lg_chute, lg_beanstalk, lg_redis, lg_pg;

/* ---- shared helpers (lg_util.c) ---------------------------------------- */

int64_t lg_now_ns(void);
void lg_sleep_until(int64_t t_ns);
/* Writes the payload for (t_ns, seq) into |buf| (LG_PAYLOAD + 1 bytes). */
void lg_payload(char *buf, int64_t t_ns, int64_t seq);
/* The "t" field of a payload, or 0. */
int64_t lg_payload_t(const char *p, size_t len);
/* Splits "host:port". 0 or -1. */
int lg_split_addr(const char *addr, char *host, size_t hostlen, int *port);
/* A blocking TCP connection to 127.0.0.1-style |addr| with TCP_NODELAY. fd or -1. */
int lg_tcp_connect(const char *addr);
/* Writes all of |buf|. 0 or -1. */
int lg_write_all(int fd, const void *buf, size_t len);

/* CPU ticks (utime + stime) of |pid| and all its descendants. */
long long lg_tree_cpu_ticks(pid_t pid);
/* VmRSS of |pid| in kB, or -1. */
long long lg_rss_kb(pid_t pid);

/* A buffered reader over a socket, for the line protocols. */
typedef struct lg_reader {
    int fd;
    char *buf;
    size_t cap, start, end;
} lg_reader;
void lg_reader_init(lg_reader *r, int fd);
void lg_reader_free(lg_reader *r);
/* Reads one line without its "\r\n" into a pointer valid until the next
 * call; NULL on EOF or error. */
char *lg_read_line(lg_reader *r, size_t *len);
/* Reads exactly |n| bytes (plus the trailing "\r\n"); pointer valid until the next call. */
char *lg_read_exact(lg_reader *r, size_t n);

/* ---- idle helper for the raw-socket protocols --------------------------- */

/* Opens |n| sockets to |addr|, sends |setup| once on each, then |poll| and
 * sends |poll| again each time an answer arrives (a long poll that timed
 * out), from one thread, until lg_raw_idle_stop. */
void *lg_raw_idle_start(const char *addr, int n, const char *setup, const char *poll);
void lg_raw_idle_stop(void *h);

/* ---- process instances (lg_process.c; Chute only) ----------------------- */

typedef struct lg_process_opts {
    const char *addr;
    const char *resource_name; /* e.g. "order-process.bpmn" */
    const char *xml;           /* the BPMN document to deploy */
    size_t xml_len;
    const char *bpmn_process_id; /* NULL: the first process of the deployment */
    long long n;                 /* instances per round */
    int inflight;                /* CreateProcessInstanceWithResult calls open at once */
    int conns;                   /* connections those calls are spread over */
    int concurrency;             /* handler threads of each job worker */
    int max_jobs_active;         /* jobs each worker holds at most */
    int stream;                  /* workers also keep a job stream open */
    double max_secs;             /* bound on one round */
} lg_process_opts;

typedef struct lg_process_result {
    long long done, failed;
    double secs, rate;             /* instances completed per second */
    double p50_ms, p99_ms, max_ms; /* creation to completion */
} lg_process_result;

typedef struct lg_process lg_process;

/* Deploys the model and opens one worker per job type. 0 or -1 (message on
 * stderr). */
int lg_process_open(lg_process **out, const lg_process_opts *opts);
/* Runs one round. 0, or -1 when an instance failed or did not complete in
 * time (|out| is filled either way). */
int lg_process_round(lg_process *p, int round, lg_process_result *out);
void lg_process_close(lg_process *p);

/* ---- timer accuracy (lg_timer.c; Chute only) ---------------------------- */

typedef struct lg_timer_opts {
    const char *addr;
    long long n;      /* instances, each with one timer */
    int64_t delay_ms; /* the timer's duration */
    int inflight;     /* CreateProcessInstance calls open at once */
    int conns;        /* connections they (and the reads) are spread over */
    double max_secs;  /* bound on the creation; the reads get 10 s more */
    const char *dump; /* non-NULL: "key due_ms lateness_ms" per instance to this file */
} lg_timer_opts;

typedef struct lg_timer_result {
    long long created, measured, anomalies, missing;
    double create_secs, create_rate;
    /* endedAt - (startedAt + delay) of each timer event, engine clock, ms */
    double min_ms, p50_ms, p99_ms, p999_ms, max_ms;
} lg_timer_result;

/* Deploys the timer model, creates the instances, reads every timer's
 * firing back. 0, or -1 when an instance failed, fired twice or not in
 * time (|out| holds what was measured). */
int lg_timer_run(const lg_timer_opts *o, lg_timer_result *out);

#endif
