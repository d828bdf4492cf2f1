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
 *   deploy.c    process definitions (deploy_model.c parses them through
 *               src/model and src/feel).
 *   process.c   process instances: tokens, scopes, variables, mappings,
 *               the jobs of elements, incidents on elements, the reads.
 *   pstate.c    an instance as one store row (binary, bounds-checked).
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
    char *assignee;         /* ZenBPM's assignment, NULL for none */
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
    uint32_t instances; /* its ACTIVE process instances (DeleteResource waits for 0) */
} procdef;

/* ---- process instances (process.c, pstate.c) --------------------------------
 *
 * Every ACTIVE process instance lives in memory: `instances` maps its key
 * to its pinst, `elements` maps the key of each of its active element
 * instances (the root, whose key is the instance's, included) to the
 * einst, and `el_incidents` maps the key of an open incident raised on an
 * element (not on a job) to the einst. An einst that waits for a job has
 * its key in job_key, and the job's process fields point back to it.
 *
 * Tokens: a scope einst (the root now; sub-processes in part 2) counts in
 * `tokens` its active children plus the tokens queued for it and the
 * tokens waiting at its joins (`joins`, per flow of the process); it
 * completes when the count falls to 0. Work a command sets off (activate
 * an element, take a flow) goes through the engine's work queue (`work`),
 * so a long path through the model needs no recursion.
 *
 * Persistence: a touched instance is marked dirty; the commit serialises
 * each dirty instance into one row (pstate.c) in the batch's transaction.
 */

/* One variable of a scope. |name| is NUL-terminated (|name_len| bytes);
 * |value| is the JSON text as given. |parsed| caches the value for FEEL. */
typedef struct pvar {
    char *name;
    char *value;
    uint32_t name_len, value_len;
    int64_t key;
    struct json_t *parsed;
} pvar;

/* The variables of a scope, sorted by name (bytes, then length). */
typedef struct pscope {
    pvar *v;
    uint32_t n, cap;
} pscope;

/* Where a step of an element failed, so that resolving its incident tries
 * that step again. */
enum { STAGE_ACTIVATE = 0, STAGE_COMPLETE = 1, STAGE_LEAVE = 2 };

struct pinst;
struct einst;

/* A timer of an element instance: its own (a timer catch event) or one of
 * a timer boundary event attached to it. In the engine's `ptimers` heap
 * (by due, then key) while pending. */
typedef struct ptimer {
    int64_t due;       /* epoch ms */
    int64_t every_ms;  /* cycles: the interval's exact part */
    int64_t every_months;
    int64_t repeat;    /* cycles: repetitions left after this one (-1: forever) */
    uint32_t event;    /* the timer event's element index */
    uint32_t heap_pos;
    struct einst *owner;
    struct ptimer *next; /* the owner's list */
} ptimer;

/* An open message subscription of an element instance: its own (a catch
 * event, a receive task), one of a message boundary event attached to it,
 * or one of the events after an event-based gateway. In the engine's
 * `subs` index (by hash of name and correlation key) while open. */
typedef struct psub {
    char *name;
    char *ckey;
    uint64_t hash;
    uint32_t event; /* the catching event's element index */
    struct einst *owner;
    struct psub *next;          /* the owner's list */
    struct psub *hprev, *hnext; /* the index chain of its hash */
} psub;

/* A buffered message (time to live > 0), in the engine's `msgs` index by
 * hash of name and correlation key (oldest first) and `msg_expiry` heap. */
typedef struct pmsg {
    int64_t key;
    int64_t expires; /* epoch ms */
    char *name, *ckey, *id;
    char *vars;
    uint32_t vars_len;
    uint32_t nprocs;
    char **procs; /* the bpmnProcessIds it was correlated to */
    uint64_t hash;
    uint32_t heap_pos;
    struct pmsg *hprev, *hnext;
} pmsg;

/* The next firing of a process's timer start event. */
typedef struct dtimer {
    int64_t due;
    int64_t every_ms, every_months;
    int64_t repeat; /* cycles: firings left after this one (-1: forever) */
    int64_t def_key;
    uint32_t event;
    uint32_t heap_pos;
} dtimer;

/* A native user task's state (its element instance waits for it). */
typedef struct putask {
    char *assignee;         /* NULL: unassigned */
    char *candidate_groups; /* JSON array text */
    char *candidate_users;
    char *form_key, *due_date, *follow_up_date; /* NULL: none */
    int32_t priority;
} putask;

/* The body of a multi-instance activity: the collection it fans out over
 * and how far it got. */
typedef struct pmulti {
    char *items;      /* the input collection, a JSON array text */
    uint32_t n;       /* its length */
    uint32_t next;    /* the next item to start an inner instance for */
    uint32_t completed;
} pmulti;

typedef struct einst {
    int64_t key;
    struct pinst *pi;
    struct einst *scope; /* flow scope; NULL for the root */
    uint32_t elem;       /* index in the process's elements; MODEL_NONE for the root */
    uint8_t state;       /* chute_instance_state */
    uint8_t stage;
    uint8_t incident_type; /* of an open incident on the element (not its job) */
    int64_t incident_key;  /* 0: none */
    int64_t incident_at;
    char *incident_msg;
    int64_t job_key; /* 0: none */
    int64_t started_at;
    pscope vars;     /* local variables */
    uint32_t tokens; /* scopes: see above */
    uint32_t *joins; /* scopes: tokens waiting per flow, NULL until one waits */
    ptimer *timers;  /* pending timers, NULL for none */
    psub *subs;      /* open message subscriptions, NULL for none */
    putask *ut;      /* a native user task waiting for its completion, NULL otherwise */
    pmulti *mi;      /* the body of a multi-instance activity, NULL otherwise */
    int64_t child_key; /* a call activity: the instance it started, 0 for none */
    struct einst *prev, *next; /* the instance's active element instances, by activation */
} einst;

/* An ended element instance, kept for the element-instance search. */
typedef struct phist {
    int64_t key, scope_key, started_at, ended_at;
    uint32_t elem;
    uint8_t state;
} phist;

/* A resolved incident of an instance, kept for the incident search. */
typedef struct pinc {
    int64_t key, element_key, job_key, created_at;
    uint32_t elem;
    uint8_t type;
    char *message;
} pinc;

/* A CreateProcessInstanceWithResult waiting for its instance. Awaiters live
 * in the engine's `awaiters` map by instance key, not in the instance, so
 * a reload after a failed commit (which rebuilds every instance) leaves
 * the handles the transport holds valid. */
struct chute_awaiter {
    int64_t instance_key;
    chute_instance_done_fn done;
    void *ctx;
    char **fetch;
    size_t nfetch;
    struct chute_awaiter *next;
};

typedef struct pinst {
    int64_t key;
    procdef *def;
    const struct model_process *proc;
    uint8_t state;
    uint8_t dirty;
    int64_t started_at, ended_at;
    char *start_ckey; /* the correlation key of the message that started it, NULL if none */
    int64_t parent_key; /* the call activity's element instance that started it, 0 for none */
    int64_t parent_pi_key; /* that element instance's process instance */
    einst *root;
    einst *head, *tail; /* active element instances, the root first */
    phist *hist;
    uint32_t nhist, hist_cap, hist_dropped;
    pinc *incs;
    uint32_t nincs, incs_cap;
    struct pinst *dirty_next;
} pinst;

/* One unit of work of the queue: activate |elem| in |scope|, or take
 * |flow| in |scope|. */
typedef struct pwork {
    einst *scope;
    uint32_t index;
    uint8_t is_flow;
} pwork;

/* A deployed decision (decide.c). Decisions of one resource share its
 * parsed definitions (|shared|, reference counted). */
struct dmn_definitions;
typedef struct dmn_shared {
    struct dmn_definitions *defs;
    uint8_t *content;
    size_t len;
    unsigned refs;
} dmn_shared;

typedef struct decdef {
    int64_t key;
    char *decision_id;
    int32_t version;
    int64_t requirements_key;
    char *resource_name;
    uint64_t checksum;
    int64_t deployment_key;
    dmn_shared *shared;
    uint32_t index; /* in shared->defs->decisions */
} decdef;

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
    decdef **decs; /* every deployed decision, in key order */
    size_t ndecs, decs_cap;
    chute_decision_view *dec_views; /* the last deployment's decisions */
    size_t ndec_views, dec_views_cap;
    size_t proc_views_cap;
    heap timers;
    hmap instances;    /* key -> pinst, ACTIVE ones */
    hmap elements;     /* key -> einst, active ones */
    hmap el_incidents; /* incident key -> einst */
    hmap awaiters;     /* instance key -> chute_awaiter list */
    heap ptimers;      /* pending timers of element instances */
    heap dtimers;      /* timer start events of the latest process definitions */
    hmap subs;         /* hash of name and correlation key -> psub chain */
    hmap user_tasks;   /* element instance key -> einst of an open native user task */
    hmap msgs;         /* the same hash -> pmsg chain, oldest first */
    heap msg_expiry;   /* buffered messages by expiry */
    psub **new_subs;   /* opened by the running command: checked against buffered messages */
    size_t nnew_subs, new_subs_cap;
    pinst *dirty_head; /* instances to write at the commit */
    pwork *work;       /* the work queue of the running command */
    size_t nwork, work_head, work_cap;
    uint32_t steps;    /* activations by the running command */
    int64_t next_instance_sweep; /* when the oldest retained ended instance expires */
    void **graveyard;  /* ended instances and element instances, freed after the command */
    size_t ngrave, grave_cap;
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

/* Writes or deletes a buffered message's row in the open batch. */
void engine_persist_message(chute_engine *e, const store_message *m);
void engine_delete_message_row(chute_engine *e, int64_t key);

/* The same for an instance row, its deletion, a sweep of ended instance
 * rows, and the deletion of a definition. */
void engine_persist_instance(chute_engine *e, const store_instance *r);
void engine_delete_instance_row(chute_engine *e, int64_t key);
int engine_sweep_instance_rows(chute_engine *e, int64_t before, int *deleted);
void engine_delete_definition_row(chute_engine *e, int64_t key);

/* Rewrites the row of job |j| in the open batch. */
void engine_persist_job(chute_engine *e, const job *j);

/* Opens the batch (for a change that is written only at the commit). */
void engine_batch_touch(chute_engine *e);

/* Creates the job of a process element (no queue depth check: a process
 * that moves on must not be refused half way). */
int engine_create_process_job(chute_engine *e, const chute_job_spec *spec, int32_t retries,
                              int64_t *key, chute_error *err);

/* Removes a process job (its element was terminated). */
int engine_remove_process_job(chute_engine *e, int64_t key, chute_error *err);

/* Checks a variables document against the engine's bounds. */
int engine_check_variables(chute_engine *e, const char *doc, size_t len, chute_error *err);

/* The queue depth limit for one more job (CHUTE_EBUSY). */
int engine_check_room(chute_engine *e, chute_error *err);

/* ---- deploy.c: process definitions ------------------------------------------- */

/* Rebuilds the definitions from the store (at open and after a failed
 * commit), parsing each resource again. */
int deploy_load(chute_engine *e, chute_error *err);

/* Frees every definition. */
void deploy_clear(chute_engine *e);

/* The definition of |id| at |version| (its latest when < 0), or NULL. */
procdef *deploy_find(const chute_engine *e, const char *id, int32_t version);

/* Removes the definition |d| (no active instance runs it) from memory and,
 * in the open batch, from the store. */
int deploy_delete(chute_engine *e, procdef *d, chute_error *err);

/* The largest key counter the definitions use (for the key counter's
 * recovery). */
int64_t deploy_max_counter(const chute_engine *e);

/* ---- process.c: process instances ------------------------------------------- */

/* A job of element instance |key| was completed with |vars| (a checked
 * object or blank): the element completes and its tokens move on. */
void process_job_completed(chute_engine *e, int64_t element_key, const char *vars, size_t len);

/* A job of element instance |key| failed or threw with |vars|: they become
 * local variables of the element. */
void process_job_variables(chute_engine *e, int64_t element_key, const char *vars, size_t len);

/* The variables a job of element instance |key| hands out, filtered by
 * |fetch| (none: all visible), as a new JSON object text in |*out|
 * (malloc'd). 0 or CHUTE_ENOMEM; an unknown element gives "{}". */
int process_job_view_variables(chute_engine *e, int64_t element_key, char *const *fetch,
                               size_t nfetch, char **out, size_t *out_len);

/* Resolves an element incident |key| if it is one: 1 when it was (|*rc|
 * then holds the result), 0 when |key| is not an element incident. */
int process_resolve_incident(chute_engine *e, int64_t key, int *rc, chute_error *err);

/* Marks the instance of |j| (a process job) as changed: its incident
 * state is in the instance row. */
void process_touch_job(chute_engine *e, const job *j);

/* A resolved incident of process job |j|, kept in its instance's history. */
void process_job_incident_resolved(chute_engine *e, const job *j, int64_t incident_key,
                                   int type, const char *message, int64_t created_at);

/* Non-zero when |j| is the job an active element instance waits for. */
int process_is_job_of_element(chute_engine *e, const job *j);

/* Non-zero when an element of |pi| or its job has an open incident. */
int process_has_incident(chute_engine *e, const pinst *pi);

/* Variables of a scope: set (a new one gets |key|, or a new key when 0),
 * free all. */
int pscope_set(chute_engine *e, pscope *s, const char *name, size_t nlen, const char *value,
               size_t vlen, int64_t key);
void pscope_free(pscope *s);

/* Writes every dirty instance in the open batch (before the commit). */
void process_flush(chute_engine *e);

/* Frees every instance (at close and before a reload). */
void process_clear(chute_engine *e);

/* Frees every awaiter without calling it (at close). */
void process_free_awaiters(chute_engine *e);

/* Rebuilds the active instances from the store. */
int process_load(chute_engine *e, chute_error *err);

/* Removes ended instances past their retention (from tick). */
void process_sweep(chute_engine *e, int64_t now);

/* Fires the process timers due at |now| (from tick). */
void process_tick(chute_engine *e, int64_t now);

/* The due time of the next process timer, or INT64_MAX. */
int64_t process_next_due(const chute_engine *e);

/* Schedules the timer start events of |d| (a new latest version) and
 * cancels those of the version it replaces, |prev| (may be NULL). */
void process_timer_starts_deployed(chute_engine *e, procdef *d, procdef *prev);

/* Cancels the timer start events of |d| (deleted). */
void process_timer_starts_cancel(chute_engine *e, int64_t def_key);

/* Rebuilds the timer start events from the store. */
int process_load_timer_starts(chute_engine *e, chute_error *err);

/* Writes a timer start's row (or deletes it) in the open batch. */
void engine_persist_timer_start(chute_engine *e, const dtimer *t, int remove);

/* Sets up the timer heap (at open). */
void process_init(chute_engine *e);

/* A process job threw |code|: when a boundary event catches it (from the
 * job's element outwards), the element is left that way and 1 is
 * returned; 0 when nothing catches it. */
int process_catch_error(chute_engine *e, const job *j, const char *code, const char *vars,
                        size_t len);

/* Messages (process.c): rebuilds the buffered messages from the store, and
 * frees them all. */
int process_load_messages(chute_engine *e, chute_error *err);
void process_clear_messages(chute_engine *e);

/* Indexes the subscriptions of a loaded element instance. */
int process_index_subs(chute_engine *e, einst *ei);

/* Puts |t| (due set) into the engine's timer heap and its owner's list. */
int process_timer_add(chute_engine *e, ptimer *t);

/* Frees what the last command left in the graveyard. */
void process_bury(chute_engine *e);

/* ---- pstate.c: an instance as one store row --------------------------------- */

/* Serialises |pi| into |*out| (malloc'd, |*len| bytes). */
int pstate_encode(const pinst *pi, uint8_t **out, size_t *len);

/* Rebuilds an instance from |data|, the row of instance |key| of
 * definition |def| (NULL when only variables are read: element indices
 * are then not checked), without putting it into the engine's maps. NULL
 * with |err| set (CHUTE_ECORRUPT: the data is damaged; CHUTE_ENOMEM). */
pinst *pstate_decode(chute_engine *e, int64_t key, procdef *def, const void *data, size_t len,
                     chute_error *err);

/* Frees a user task's state. */
void putask_free(putask *ut);

/* Frees an instance and everything it owns (element instances included). */
void pinst_free(pinst *pi);
void einst_free(einst *ei);

/* ---- decide.c: decisions ----------------------------------------------------- */

struct model_errors;

/* Non-zero when |r| is a DMN resource (by its namespace). */
int decide_is_dmn(const chute_resource *r);

/* Parses a DMN resource (CHUTE_EINVAL with |errs| filled). */
int decide_parse(const chute_resource *r, struct dmn_definitions **out, struct model_errors *errs);

/* Adds the decisions of the parsed resource |defs| (taken) deployed as |r|
 * in deployment |dkey|, appending their views to e->dec_views. */
int decide_add(chute_engine *e, const chute_resource *r, struct dmn_definitions *defs,
               int64_t dkey, int64_t now, chute_error *err);

/* Writes a decision's row in the open batch. */
void engine_persist_decision(chute_engine *e, const store_decision *d);

/* The largest key counter the decisions use. */
int64_t decide_max_counter(const chute_engine *e);

/* Rebuilds the decisions from the store; frees them all. */
int decide_load(chute_engine *e, chute_error *err);
void decide_clear(chute_engine *e);

/* The latest decision |id|, or NULL. */
decdef *decide_find(const chute_engine *e, const char *id);

/* Evaluates |d| with the variables |env| gives: 0 with the result, or -1
 * with |msg| saying why. */
struct feel_env;
int decide_eval(const decdef *d, const struct feel_env *env, char **result, size_t *len,
                char *msg, size_t msg_cap);

/* ---- deploy_model.c: the resource parser behind deploy.c -------------------- */

/* The processes a resource defines, parsed. */
typedef struct parsed_resource {
    struct dmn_definitions *dmn; /* a DMN resource's decisions (then no processes) */
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
