/*
 * The store: durable state of one partition. The only module that speaks SQL.
 *
 * The engine writes through it: every change to a job is one statement inside
 * the open transaction (store_begin .. store_commit), so one commit makes a
 * whole batch of commands durable with one sync. On open, store_load hands
 * back every job that is not completed, from which the engine rebuilds its
 * queues, leases, timers and incidents.
 *
 * Schema (PRAGMA user_version = 3; each version migrates from the one
 * before):
 *   jobs(key INTEGER PRIMARY KEY, type, state, retries, priority, created_at,
 *        deadline, worker, headers, variables, error_code, error_message,
 *        incident_key, incident_type, completed_at, process fields..., result,
 *        assignee (version 3))
 *   meta(name TEXT PRIMARY KEY, value INTEGER)   -- 'key_counter'
 *   process_definitions(key, bpmn_process_id, version, resource_name,
 *        checksum, deployment_key, deployed_at, content)   -- version 2
 *  *   process_instances(key, definition_key, bpmn_process_id, version, state,
 *        has_incident, started_at, ended_at, data)   -- version 3
 * Completed standalone jobs stay as rows (state 7) until their retention
 * ends; a partial index on completed_at finds the expired ones.
 */
#ifndef CHUTE_STORE_H
#define CHUTE_STORE_H

#include <chute/engine.h>

typedef struct store store;

/* One job row. Strings may be NULL (stored as NULL, read back as NULL). */
typedef struct store_job {
    int64_t key;
    const char *type;
    int state;
    int32_t retries;
    int32_t priority;
    int64_t created_at;
    int64_t deadline;
    const char *worker;
    const char *headers;
    size_t headers_len;
    const char *variables;
    size_t variables_len;
    const char *error_code;
    const char *error_message;
    int64_t incident_key;
    int incident_type;
    int64_t completed_at;
    chute_process_ref process;
    const char *result; /* variables given at completion (COMPLETED rows), NULL if none */
    size_t result_len;
    const char *assignee; /* who the job is assigned to (ZenBPM), NULL if nobody */
} store_job;

/* Opens or creates the database at |path|, switches it to WAL with the
 * synchronous level of |durability|, checks it (quick_check) and migrates
 * the schema. Holds an flock on |path|.lock until store_close (one owner per
 * file) and starts the thread that checkpoints the WAL (store.c). Errors:
 * CHUTE_ESTORE (cannot open/create, or another process owns the file),
 * CHUTE_ECORRUPT (not a database, fails the check, or a newer schema); the
 * message names |path|.
 *
 * The store's messages (a checkpoint that failed, a checkpoint thread that
 * could not start) go to |log| with |log_ctx| (none when |log| is NULL),
 * from store_open on until store_close returns. The checkpoint thread calls
 * it too, so |log| must be safe to call from another thread, as
 * chute_log_fn promises (include/chute/engine.h).
 *
 * Before SQLite reads the database, the write-ahead log is checked
 * (walcheck.h): when it holds committed transactions past a damaged frame,
 * which SQLite's recovery would drop without a word, the log is copied to
 * |path|-wal.damaged-<UTC time> and the open fails with CHUTE_ECORRUPT
 * naming the file, the frame and the transactions lost, unless
 * |accept_wal_loss| is set (then the loss is logged and the open goes on).
 * A torn last write is not damage. */
int store_open(store **out, const char *path, chute_durability durability, chute_log_fn log,
               void *log_ctx, int accept_wal_loss, chute_error *err);
void store_close(store *s);

int store_begin(store *s, chute_error *err);
int store_commit(store *s, chute_error *err);
void store_rollback(store *s);

int store_insert(store *s, const store_job *j, chute_error *err);
/* Rewrites every mutable column of the row |j->key|. */
int store_update(store *s, const store_job *j, chute_error *err);
int store_delete(store *s, int64_t key, chute_error *err);
int store_set_counter(store *s, int64_t counter, chute_error *err);

/* Reads the key counter and calls |fn| for every job that is not completed,
 * in key order; the row's strings live until |fn| returns. Stops with |fn|'s
 * non-zero return value. */
typedef int (*store_row_fn)(void *ctx, const store_job *j);
int store_load(store *s, int64_t *counter, store_row_fn fn, void *ctx, chute_error *err);

/* Calls |fn| with the row |key| if it exists (any state). Returns
 * CHUTE_ENOTFOUND if there is no such row, else fn's result. */
int store_get(store *s, int64_t key, store_row_fn fn, void *ctx, chute_error *err);

/* Deletes up to |limit| completed rows with completed_at <= |before|; sets
 * |*deleted|. */
int store_sweep_completed(store *s, int64_t before, int limit, int *deleted, chute_error *err);

/* Calls |fn| for rows newest first (key descending), of |type| (NULL: any)
 * and |state| (0: any but completed), skipping |offset| and at most |limit|. */
int store_list(store *s, const char *type, int state, size_t offset, size_t limit,
               store_row_fn fn, void *ctx, chute_error *err);

/* The smallest completed_at of a completed row, or INT64_MAX. */
int64_t store_oldest_completed(store *s);

/* One deployed process definition (schema version 2). */
typedef struct store_definition {
    int64_t key;
    const char *bpmn_process_id;
    int32_t version;
    const char *resource_name;
    uint64_t checksum; /* of the resource's bytes */
    int64_t deployment_key;
    int64_t deployed_at;
    const void *content; /* the resource's bytes */
    size_t len;
} store_definition;

/* Inserts |d| in the open transaction (strings and content not kept). */
int store_put_definition(store *s, const store_definition *d, chute_error *err);

/* Calls |fn| for every definition in key order; the row's strings and
 * content live until |fn| returns. */
typedef int (*store_definition_fn)(void *ctx, const store_definition *d);
int store_load_definitions(store *s, store_definition_fn fn, void *ctx, chute_error *err);

/* Deletes the definition |key| in the open transaction. */
int store_delete_definition(store *s, int64_t key, chute_error *err);

/* One process instance (schema version 3): the columns searches filter
 * on, and |data|, the engine's serialised state of the instance. */
typedef struct store_instance {
    int64_t key;
    int64_t definition_key;
    const char *bpmn_process_id;
    int32_t version;
    int state; /* chute_instance_state */
    int has_incident;
    int64_t started_at, ended_at;
    const void *data;
    size_t len;
} store_instance;

typedef int (*store_instance_fn)(void *ctx, const store_instance *r);

/* Inserts or replaces the row of |r->key| in the open transaction. */
int store_put_instance(store *s, const store_instance *r, chute_error *err);

/* Calls |fn| for every ACTIVE instance in key order. */
int store_load_instances(store *s, store_instance_fn fn, void *ctx, chute_error *err);

/* Calls |fn| with the row |key|; CHUTE_ENOTFOUND when there is none. */
int store_get_instance(store *s, int64_t key, store_instance_fn fn, void *ctx, chute_error *err);

/* Zero fields match anything; has_incident 1: with, -1: without. */
typedef struct store_instance_filter {
    int64_t key, definition_key;
    const char *bpmn_process_id;
    int state;
    int has_incident;
} store_instance_filter;

/* Rows matching |f|, newest first, skipping |offset|, at most |limit|. */
int store_list_instances(store *s, const store_instance_filter *f, size_t offset, size_t limit,
                         store_instance_fn fn, void *ctx, chute_error *err);

/* One decision of a deployed DMN resource (schema version 3). */
typedef struct store_decision {
    int64_t key;
    const char *decision_id;
    int32_t version;
    int64_t requirements_key;
    const char *resource_name;
    uint64_t checksum;
    int64_t deployment_key;
    int64_t deployed_at;
    const void *content;
    size_t len;
} store_decision;

typedef int (*store_decision_fn)(void *ctx, const store_decision *d);
int store_put_decision(store *s, const store_decision *d, chute_error *err);
int store_load_decisions(store *s, store_decision_fn fn, void *ctx, chute_error *err);

/* The next due time of a process's timer start event (schema version 3),
 * with the cycle's repetitions left (-1: forever). */
int store_put_timer_start(store *s, int64_t def_key, uint32_t event, int64_t due, int64_t repeat,
                          chute_error *err);
int store_delete_timer_start(store *s, int64_t def_key, uint32_t event, chute_error *err);
typedef int (*store_timer_start_fn)(void *ctx, int64_t def_key, uint32_t event, int64_t due,
                                    int64_t repeat);
int store_load_timer_starts(store *s, store_timer_start_fn fn, void *ctx, chute_error *err);

/* A buffered message (schema version 3). |correlated| is a JSON array of
 * the bpmnProcessIds it went to. */
typedef struct store_message {
    int64_t key;
    const char *name, *correlation_key, *message_id;
    int64_t expires_at;
    const char *variables;
    size_t variables_len;
    const char *correlated;
} store_message;

typedef int (*store_message_fn)(void *ctx, const store_message *m);

int store_put_message(store *s, const store_message *m, chute_error *err);
int store_delete_message(store *s, int64_t key, chute_error *err);
/* Calls |fn| for every message in key order. */
int store_load_messages(store *s, store_message_fn fn, void *ctx, chute_error *err);

/* Deletes the row of instance |key| (if any). */
int store_delete_instance(store *s, int64_t key, chute_error *err);

/* Deletes up to |limit| ended instances with ended_at <= |before|. */
int store_sweep_instances(store *s, int64_t before, int limit, int *deleted, chute_error *err);

/* The smallest ended_at of an ended instance, or INT64_MAX. */
int64_t store_oldest_ended_instance(store *s);

#endif
