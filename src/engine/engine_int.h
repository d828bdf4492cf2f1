/*
 * The engine's in-memory model, shared by the files of src/engine/:
 *
 *   job.c       the job record: its allocation, its rare fields (job_ext),
 *               its variables, its store row (both ways) and its views
 *               (chute_job_view), with the scratch memory that keeps views
 *               valid; and the reads that hand out views (get,
 *               list_incidents, list_jobs).
 *   queue.c     the type table, the ready heaps and the order of the timer
 *               heap; attach and detach, which put a job in the heap its
 *               state calls for and keep the counters by state; per-type
 *               statistics and the metrics hooks.
 *   delivery.c  takers (long-poll waiters and streams) and dispatch, which
 *               hands ready jobs to them.
 *   engine.c    open, load and close; the commands (create, activate,
 *               complete, fail, throw error, update, resolve, cancel,
 *               return); persistence, the batch and its commit or rollback;
 *               timers (tick) and the sweep of retained results.
 *   handler.c   in-process handlers and chute_engine_run.
 * A function one file offers the others is declared below under its file,
 * with that file's name as its prefix (job_, queue_, delivery_, engine_).
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
 * position field serves both heaps. The one exception is a job whose attach
 * ran out of memory: it is in no heap (HEAP_NONE) although its state wants
 * one, and the batch is marked failed, so the commit reloads consistent
 * state. The asserts in queue.c hold the rule with that exception. Completed
 * jobs leave memory; standalone ones stay as rows in the store until their
 * retention ends.
 *
 * A job has an open incident exactly when it is INCIDENT or ERROR_THROWN;
 * its ext then holds the incident's key and type (the fail or throw that
 * opened it allocated the ext).
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
    int64_t deadline;       /* epoch ms; meaning depends on state (see engine.h); while
                               ACTIVATABLE, when it became activatable */
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
    int64_t emptied_at; /* epoch ms it last came to hold no job and no taker; meaningful
                           only while it holds none (metrics drop types idle for long) */
} jtype;

/*
 * A deployed process definition (deploy.c). |model| is the executable
 * model parsed from |content| (a restart parses the stored bytes again),
 * released with deploy_model_free.
 */
typedef struct procdef {
    int64_t key;
    char *bpmn_process_id;
    int32_t version;
    char *resource_name;
    uint64_t checksum; /* FNV-1a 64 of content */
    int64_t deployment_key;
    uint8_t *content;
    size_t len;
    void *model;
} procdef;

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
    procdef **defs; /* every deployed definition, in key order */
    size_t ndefs, defs_cap;
    hmap defs_by_key;
    chute_process_view *proc_views; /* what chute_engine_deploy hands out */
    size_t proc_views_cap;
    heap timers;
    jtype **types;          /* hash table of types */
    size_t ntypes, types_cap;
    jtype *dispatch_head;   /* types that may have work for their takers */

    int64_t next_sweep;     /* when the oldest retained result expires */

    /* Memory handed out in views: freed at the next call that hands out
     * views (job_scratch_release), so a view stays valid while its holder
     * settles other jobs. */
    void **scratch;
    size_t nscratch, scratch_cap;
    job **retired;          /* jobs removed from memory, freed with the scratch */
    size_t nretired, retired_cap;
    chute_job_view *views;  /* activation results */
    size_t views_cap;

    chute_engine_stats stats;
    chute_engine_hooks hooks;
    uint64_t batch_changes; /* rows written in the open batch */
    volatile int stop;
};

/* ---- job.c: the job record and its views ---------------------------------- */

/* Allocates a zeroed job (in no heap) that holds a copy of the |vlen| bytes
 * of |vars| (none when |vlen| is 0) in its own allocation; NULL when out of
 * memory. */
job *job_alloc(const char *vars, size_t vlen);

/* Frees |j| and all it owns, at once. NULL is a no-op. A job that left
 * memory while views may point into it goes to job_retire instead. */
void job_free(job *j);

/* A job of |e| rebuilt from the store row |r| (its type is created if
 * needed; the state is left to the caller). NULL with |*rc| set when out of
 * memory. */
job *job_from_row(chute_engine *e, const store_job *r, int *rc);

/* The store row of |j|; its strings point into |j|. */
void job_to_row(const job *j, store_job *r);

/* The view of |j|, with the same rules as a view of its store row ("" and
 * "{}" for missing strings, which deadline shows); its strings point into
 * |j|. */
void job_view(const job *j, chute_job_view *v);

/* Copies |len| bytes of |s| into |*out|, or sets it to NULL when |len| is
 * 0: empty strings cost nothing per job. 0 or CHUTE_ENOMEM. */
int job_dup_opt(const char *s, size_t len, char **out);

/* Replaces |*field| with a copy of |s| ("" and NULL become NULL). */
int job_set_str(char **field, const char *s);

/* The job's rare fields, allocated (all empty) on first need; NULL when out
 * of memory. */
job_ext *job_ext_need(job *j);

/* Gives |x| its own copy of the process fields |p|. */
int job_ext_set_process(job_ext *x, const chute_process_ref *p);

/* Records |worker| (NULL or "" for none) as the job's worker. */
int job_set_worker(job *j, const char *worker);

/* Merges the JSON object |add| into the job's variables (top level, |add|
 * wins); a blank |add| changes nothing. */
int job_merge_variables(job *j, const char *add, size_t add_len);

/* Keeps |p| (malloc'd, pointed to by a view) until job_scratch_release. */
void job_scratch_add(chute_engine *e, void *p);

/* Frees |j|, a job removed from memory, at the next job_scratch_release, so
 * that views of it stay valid until the next call that hands out views. */
void job_retire(chute_engine *e, job *j);

/* Frees the scratch and the retired jobs: every view handed out so far
 * ends. Called first by each function that hands out views. */
void job_scratch_release(chute_engine *e);

static inline const char *job_worker(const job *j)
{
    return j->ext && j->ext->worker[0] ? j->ext->worker : NULL;
}

static inline int64_t job_incident_key(const job *j)
{
    return j->ext ? j->ext->incident_key : 0;
}

static inline job_process *job_process_of(const job *j)
{
    return j->ext ? j->ext->process : NULL;
}

/* ---- queue.c: types, ready heaps, counters --------------------------------- */

/* The type called |name|, created (with an empty ready heap) when |create|
 * is non-zero and it is unknown; NULL when unknown, or out of memory. */
jtype *queue_type_get(chute_engine *e, const char *name, int create);

/* Sets up the engine's timer heap (ordered by deadline, then key). */
void queue_init_timers(chute_engine *e);

/* Takes |j| out of the heap its state put it in and out of the counters of
 * that state. */
void queue_detach(chute_engine *e, job *j);

/* Notes the time when |t| comes to hold no job and no taker. */
void queue_note_if_empty(chute_engine *e, jtype *t);

/* Puts |j| (detached) into |state|, its counters and the heap that state
 * needs; a job that becomes ACTIVATABLE gets deadline = now (ready since)
 * and wakes its type's takers. CHUTE_ENOMEM if the heap cannot grow (the
 * caller marks the batch failed, which reloads consistent state). */
int queue_attach(chute_engine *e, job *j, int state);

/* Empties every heap and the counters by state (the jobs are freed by the
 * caller). Types, their totals and their takers stay. */
void queue_clear(chute_engine *e);

/* Frees every type, with its takers (without calling them), at close. */
void queue_free_types(chute_engine *e);

/* ---- delivery.c: takers and dispatch --------------------------------------- */

/* Puts |t| on the dispatch list if it has takers: the next
 * chute_engine_dispatch looks at it. */
void delivery_schedule(chute_engine *e, jtype *t);

/* Frees the takers of |t| without calling them. */
void delivery_free_takers(jtype *t);

/* ---- engine.c: commands, commit, timers ------------------------------------- */

int64_t engine_now(const chute_engine *e);

/* A new key from the partition's key space. */
int64_t engine_next_key(chute_engine *e);

/* Fails the open batch: its commit rolls back and memory is rebuilt from
 * the store (for a change half made in memory). */
void engine_batch_fail(chute_engine *e, const chute_error *why);

/* Writes |d| in the open batch (opening it); a failure fails the batch. */
void engine_persist_definition(chute_engine *e, const store_definition *d);

/* ---- deploy.c: process definitions ------------------------------------------- */

/* Rebuilds the definitions from the store (at open and after a failed
 * commit), parsing each resource again. */
int deploy_load(chute_engine *e, chute_error *err);

/* Frees every definition. */
void deploy_clear(chute_engine *e);

/* The largest key counter the definitions use (for the key counter's
 * recovery). */
int64_t deploy_max_counter(const chute_engine *e);

/* ---- deploy_model.c: the resource parser behind deploy.c -------------------- */

/* The processes a resource defines, parsed. */
typedef struct parsed_resource {
    size_t nprocesses;
    char **ids;   /* bpmnProcessId of each process */
    void **models; /* the executable model of each (deploy_model_free) */
} parsed_resource;

struct model_errors;
struct model_process;

/*
 * Parses |r| into |out| (BPMN with every FEEL expression parsed). Returns
 * 0, CHUTE_EINVAL with |errs| saying why (model_errors_format words it),
 * or CHUTE_ENOMEM. |errs| must be zeroed before its first use and cleared
 * with model_errors_clear.
 */
int deploy_parse(const chute_resource *r, parsed_resource *out, struct model_errors *errs);
void deploy_parsed_free(parsed_resource *p);
void deploy_model_free(void *model);

/* The process a definition's model runs (NULL for a definition that no
 * longer parses). */
const struct model_process *deploy_process_of(const void *model);

/* The longest lease a worker may ask for: the option max_job_timeout_ms,
 * or CHUTE_DURATION_MAX_MS; and the words that say where the bound comes
 * from, for messages. */
int64_t engine_max_lease(const chute_engine *e);
const char *engine_max_lease_why(const chute_engine *e);

/* chute_engine_check_activate plus the engine's lease bound: every way of
 * taking jobs (activation, waiters, streams) checks with this. */
int engine_check_lease(const chute_engine *e, const chute_activate_request *req, int for_stream,
                       chute_error *err);

/* Leases up to |max| ready jobs of |t| to |worker| and writes their views
 * into e->views from index |first_view| on (|*count| of them); |max_bytes|
 * and |fetch| as for chute_engine_activate. */
int engine_activate_into(chute_engine *e, jtype *t, const char *worker, int64_t timeout_ms,
                         uint32_t max, size_t max_bytes, char *const *fetch, size_t nfetch,
                         size_t first_view, size_t *count, chute_error *err);

#endif
