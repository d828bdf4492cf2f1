/*
 * The engine's in-memory model, shared by engine.c (commands, queues,
 * timers, takers) and handler.c (in-process handlers and the run loop).
 *
 * Every job that is not completed lives in memory:
 *   - `jobs` maps its key to it;
 *   - if ACTIVATABLE it sits in its type's `ready` heap (priority, then key);
 *   - if ACTIVATED, FAILED (back-off) or DELAYED it sits in the engine's
 *     `timers` heap, ordered by `deadline`: the lease end, or the time it
 *     becomes activatable again;
 *   - if it has an open incident, `incidents` maps the incident key to it.
 * A job is in at most one heap at a time, and which one follows from its
 * state (ACTIVATABLE: ready; ACTIVATED, FAILED, DELAYED: timers), so one
 * position field serves both heaps. Completed jobs leave memory; standalone
 * ones stay as rows in the store until their retention ends.
 */
#ifndef CHUTE_ENGINE_INT_H
#define CHUTE_ENGINE_INT_H

#include <stddef.h>

#include <chute/engine.h>

#include "common/heap.h"
#include "common/hmap.h"
#include "store/store.h"

struct jtype;

/* Process fields, allocated only for jobs that belong to a process. */
typedef struct job_process {
    chute_process_ref ref; /* strings owned (malloc'd) */
} job_process;

/*
 * What most jobs never need: a job queued since its creation, with no
 * custom headers and no process, has none of this. It is allocated on first
 * need (creation with headers or a process, the first lease, a fail or a
 * thrown error) and freed with the job. The worker's name is kept in the
 * same allocation, so a first lease costs one allocation as the separate
 * name did before; a lease by another worker reallocates it.
 */
typedef struct job_ext {
    char *headers;          /* JSON object of strings, NULL for none */
    char *error_code;       /* of a thrown error, NULL for none */
    char *error_message;    /* of the last fail or throw, NULL for none */
    job_process *process;   /* NULL for standalone jobs */
    int64_t incident_key;   /* 0 when no incident is open */
    uint32_t headers_len;
    uint8_t incident_type;  /* chute_incident_type */
    char worker[];          /* of the current or last lease, "" if never leased */
} job_ext;

/*
 * A job in memory. The hot part (what queuing, leasing and settling touch)
 * and the variables share one allocation: |variables| points at
 * |inline_vars| from creation or load until a fail or a thrown error
 * merges new variables in (or a read of a retained result merges the
 * result); the merged text is then a separate allocation, and the inline
 * text stays unused until the job is freed (free |variables| only when it
 * is not |inline_vars|).
 */
typedef struct job {
    int64_t key;
    struct jtype *type;
    char *variables;        /* JSON object text, NULL for none ("{}") */
    job_ext *ext;           /* NULL until one of its fields is needed */
    int64_t created_at;     /* epoch ms */
    int64_t deadline;       /* epoch ms; meaning depends on state (see engine.h) */
    uint32_t variables_len;
    int32_t retries, priority;
    uint32_t heap_pos;      /* in type->ready or engine->timers (by state), or HEAP_NONE */
    uint8_t state;          /* chute_job_state */
    char inline_vars[];     /* the variables as created or loaded, NUL-terminated */
} job;

typedef enum taker_kind { TAKER_WAITER, TAKER_STREAM } taker_kind;

struct chute_taker {
    taker_kind kind;
    struct jtype *type;
    char *worker;
    int64_t timeout_ms;
    int32_t max_jobs;       /* waiters only */
    uint32_t credit;        /* streams only */
    size_t max_bytes;
    char **fetch;
    size_t nfetch;
    chute_deliver_fn deliver;
    void *ctx;
    struct chute_taker *prev, *next; /* in the type's waiter FIFO or stream ring */
};

/* A job type: its ready queue and who waits for it. */
typedef struct jtype {
    char *name;
    struct jtype *hnext;           /* chain in the type table */
    heap ready;
    chute_taker *waiters_head, *waiters_tail;
    chute_taker *streams;          /* ring, served from here (round robin) */
    uint32_t nstreams;
    int dispatch_queued;           /* on engine->dispatch list */
    struct jtype *dispatch_next;
    /* in-process handler, if registered */
    chute_handler_fn handler;
    void *handler_ctx;
    chute_handler_options handler_opts;
    uint64_t count[CHUTE_JOB_CANCELED + 1]; /* jobs in memory by state */
    uint64_t created_total, activated_total, completed_total, failed_total, timed_out_total,
        incidents_total;
} jtype;

struct chute_engine {
    chute_engine_options opts; /* clock and log always set (defaults filled in at open) */
    char *data_dir;
    char *db_path;
    store *st;
    int64_t partition_base; /* partition << 51 */
    int64_t counter;        /* last key counter handed out */
    int64_t saved_counter;  /* counter as last written to the store */
    int in_batch;           /* a transaction is open */
    int batch_failed;       /* a write of the open batch failed: commit must roll back */

    hmap jobs;
    hmap incidents;
    heap timers;
    jtype **types;          /* hash table of types */
    size_t ntypes, types_cap;
    jtype *dispatch_head;   /* types that may have work for their takers */

    int64_t next_sweep;     /* when the oldest retained result expires */

    /* Memory handed out in views: freed at the next call that hands out
     * views, so a view stays valid while its holder settles other jobs. */
    void **scratch;
    size_t nscratch, scratch_cap;
    job **graveyard;        /* jobs removed from memory, freed with the scratch */
    size_t ngrave, grave_cap;
    chute_job_view *views;  /* activation results */
    size_t views_cap;

    chute_engine_stats stats;
    chute_engine_hooks hooks;
    uint64_t batch_changes; /* rows written in the open batch */
    volatile int stop;
};

/* Internals used by handler.c. */
int64_t engine_now(const chute_engine *e);
void engine_release_scratch(chute_engine *e);
int engine_activate_into(chute_engine *e, jtype *t, const char *worker, int64_t timeout_ms,
                         uint32_t max, size_t max_bytes, char *const *fetch, size_t nfetch,
                         size_t first_view, size_t *count, chute_error *err);
jtype *engine_type_get(chute_engine *e, const char *name, int create);
void engine_view_of(chute_engine *e, const job *j, chute_job_view *v);

#endif
