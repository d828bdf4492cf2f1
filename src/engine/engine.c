/*
 * The job state machine of one partition; see include/chute/engine.h for the
 * contract and engine_int.h for the in-memory model and for what the other
 * files of src/engine/ hold. This file has opening, loading and closing, the
 * commands, persistence and the batch (commit and rollback), and timers.
 *
 * Write path: a command validates, changes memory, and writes the changed row
 * through the store inside the open transaction. A failed write marks the
 * batch failed; the commit then rolls back and reloads memory from the store,
 * which is the state every earlier acknowledgement described.
 */
#include "engine/engine_int.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/clock.h"
#include "common/json.h"
#include "common/log.h"

#define DEFAULT_RETENTION_MS (24LL * 3600 * 1000)
#define DEFAULT_MAX_VARIABLES (4u << 20)
#define SWEEP_LIMIT 10000

const char *chute_durability_name(chute_durability d)
{
    return d == CHUTE_DURABILITY_NORMAL ? "normal" : "full";
}

/* ---- small helpers ------------------------------------------------------ */

int64_t engine_now(const chute_engine *e)
{
    return e->opts.clock(e->opts.clock_ctx);
}

int64_t chute_engine_now(const chute_engine *e)
{
    return engine_now(e);
}

static int blank(const char *s)
{
    if (!s)
        return 1;
    for (; *s; s++) {
        if (!isspace((unsigned char)*s))
            return 0;
    }
    return 1;
}

/* The log hook when the embedding program sets none: a line on stderr, as
 * the engine printed its messages before it had a hook. */
static void log_stderr(void *ctx, chute_log_level level, const char *message)
{
    fprintf(stderr, "chute: %s\n", message);
}

/* ---- persistence -------------------------------------------------------- */

enum { OP_INSERT, OP_UPDATE, OP_DELETE };

static void batch_fail(chute_engine *e, const chute_error *why)
{
    if (!e->batch_failed) {
        e->batch_failed = 1;
        chute_log_emit(e->opts.log, e->opts.log_ctx, CHUTE_LOG_ERROR,
                       "store write failed, the batch will be rolled back: %s",
                       why ? why->message : "out of memory");
    }
}

static int batch_open(chute_engine *e)
{
    if (e->in_batch)
        return 0;
    chute_error err;
    if (store_begin(e->st, &err) != 0) {
        batch_fail(e, &err);
        return -1;
    }
    e->in_batch = 1;
    return 0;
}

/* Writes |j| as the store row for |op|. A completion passes |completed_at|
 * and the |result| document the worker sent. */
static void persist_result(chute_engine *e, const job *j, int op, int64_t completed_at,
                           const char *result, size_t result_len)
{
    if (e->batch_failed || batch_open(e) != 0)
        return;
    chute_error err;
    int rc;
    if (op == OP_DELETE) {
        rc = store_delete(e->st, j->key, &err);
    } else {
        store_job r;
        job_to_row(j, &r);
        r.completed_at = completed_at;
        r.result = result;
        r.result_len = result_len;
        rc = op == OP_INSERT ? store_insert(e->st, &r, &err) : store_update(e->st, &r, &err);
    }
    if (rc != 0)
        batch_fail(e, &err);
    e->batch_changes++;
}

static void persist(chute_engine *e, const job *j, int op, int64_t completed_at)
{
    persist_result(e, j, op, completed_at, NULL, 0);
}

void engine_persist_job(chute_engine *e, const job *j)
{
    persist(e, j, OP_UPDATE, 0);
}

void engine_batch_fail(chute_engine *e, const chute_error *why)
{
    batch_fail(e, why);
}

void engine_persist_definition(chute_engine *e, const store_definition *d)
{
    if (e->batch_failed || batch_open(e) != 0)
        return;
    chute_error err;
    if (store_put_definition(e->st, d, &err) != 0)
        batch_fail(e, &err);
    e->batch_changes++;
}

void engine_persist_instance(chute_engine *e, const store_instance *r)
{
    if (e->batch_failed || batch_open(e) != 0)
        return;
    chute_error err;
    if (store_put_instance(e->st, r, &err) != 0)
        batch_fail(e, &err);
    e->batch_changes++;
}

void engine_persist_timer_start(chute_engine *e, const dtimer *t, int remove)
{
    if (e->batch_failed || batch_open(e) != 0)
        return;
    chute_error err;
    int rc = remove ? store_delete_timer_start(e->st, t->def_key, t->event, &err)
                    : store_put_timer_start(e->st, t->def_key, t->event, t->due, t->repeat, &err);
    if (rc != 0)
        batch_fail(e, &err);
    e->batch_changes++;
}

void engine_persist_decision(chute_engine *e, const store_decision *d)
{
    if (e->batch_failed || batch_open(e) != 0)
        return;
    chute_error err;
    if (store_put_decision(e->st, d, &err) != 0)
        batch_fail(e, &err);
    e->batch_changes++;
}

void engine_persist_message(chute_engine *e, const store_message *m)
{
    if (e->batch_failed || batch_open(e) != 0)
        return;
    chute_error err;
    if (store_put_message(e->st, m, &err) != 0)
        batch_fail(e, &err);
    e->batch_changes++;
}

void engine_delete_message_row(chute_engine *e, int64_t key)
{
    if (e->batch_failed || batch_open(e) != 0)
        return;
    chute_error err;
    if (store_delete_message(e->st, key, &err) != 0)
        batch_fail(e, &err);
    e->batch_changes++;
}

void engine_delete_instance_row(chute_engine *e, int64_t key)
{
    if (e->batch_failed || batch_open(e) != 0)
        return;
    chute_error err;
    if (store_delete_instance(e->st, key, &err) != 0)
        batch_fail(e, &err);
    e->batch_changes++;
}

int engine_sweep_instance_rows(chute_engine *e, int64_t before, int *deleted)
{
    if (e->batch_failed || batch_open(e) != 0)
        return -1;
    chute_error err;
    if (store_sweep_instances(e->st, before, SWEEP_LIMIT, deleted, &err) != 0) {
        batch_fail(e, &err);
        return -1;
    }
    e->batch_changes += (uint64_t)*deleted;
    return 0;
}

void engine_delete_definition_row(chute_engine *e, int64_t key)
{
    if (e->batch_failed || batch_open(e) != 0)
        return;
    chute_error err;
    if (store_delete_definition(e->st, key, &err) != 0)
        batch_fail(e, &err);
    e->batch_changes++;
}

void engine_batch_touch(chute_engine *e)
{
    if (!e->batch_failed)
        batch_open(e);
}

/* ---- open / close / load ------------------------------------------------- */

void chute_engine_options_init(chute_engine_options *opts)
{
    memset(opts, 0, sizeof *opts);
    opts->durability = CHUTE_DURABILITY_FULL;
    opts->partition = 1;
}

static int load_row(void *ctx, const store_job *r)
{
    chute_engine *e = ctx;
    int rc;
    if (r->state < CHUTE_JOB_ACTIVATABLE || r->state > CHUTE_JOB_DELAYED) {
        chute_log_emit(e->opts.log, e->opts.log_ctx, CHUTE_LOG_ERROR,
                       "%s: job %lld has an unknown state %d; left out", e->db_path,
                       (long long)r->key, r->state);
        return 0;
    }
    job *j = job_from_row(e, r, &rc);
    if (!j)
        return rc;
    if (hmap_put(&e->jobs, j->key, j) != 0) {
        job_free(j);
        return CHUTE_ENOMEM;
    }
    if (queue_attach(e, j, r->state) != 0)
        return CHUTE_ENOMEM;
    if (r->state == CHUTE_JOB_ACTIVATABLE && r->deadline > 0)
        j->deadline = r->deadline; /* ready since, as stored */
    if (job_incident_key(j) && hmap_put(&e->incidents, job_incident_key(j), j) != 0)
        return CHUTE_ENOMEM;
    return 0;
}

/* Drops every job from memory (takers stay registered). */
static void clear_jobs(chute_engine *e)
{
    job_scratch_release(e);
    if (e->jobs.slots) {
        for (size_t i = 0; i <= e->jobs.mask; i++) {
            if (e->jobs.slots[i].key)
                job_free(e->jobs.slots[i].value);
        }
    }
    hmap_free(&e->jobs);
    hmap_free(&e->incidents);
    queue_clear(e);
    process_clear(e);
}

static int load_all(chute_engine *e, chute_error *err)
{
    int64_t counter = 0;
    int rc = store_load(e->st, &counter, load_row, e, err);
    if (rc == CHUTE_ENOMEM)
        return chute_error_set(err, rc, "%s: out of memory while loading jobs", e->db_path);
    if (rc != 0)
        return rc;
    /* The counter is saved with every batch that used keys; the max over
     * stored keys guards a file written before the counter row existed. */
    int64_t max_seen = counter;
    if (e->jobs.slots) {
        for (size_t i = 0; i <= e->jobs.mask; i++) {
            job *j = e->jobs.slots[i].value;
            if (!e->jobs.slots[i].key)
                continue;
            int64_t c = j->key - e->partition_base;
            if (c > max_seen)
                max_seen = c;
            int64_t ik = job_incident_key(j);
            if (ik && ik - e->partition_base > max_seen)
                max_seen = ik - e->partition_base;
        }
    }
    rc = deploy_load(e, err);
    if (rc == 0)
        rc = decide_load(e, err);
    if (rc != 0)
        return rc;
    rc = process_load(e, err);
    if (rc == 0)
        rc = process_load_messages(e, err);
    if (rc == 0)
        rc = process_load_timer_starts(e, err);
    if (rc != 0)
        return rc;
    if (deploy_max_counter(e) > max_seen)
        max_seen = deploy_max_counter(e);
    if (decide_max_counter(e) > max_seen)
        max_seen = decide_max_counter(e);
    e->counter = e->saved_counter = max_seen;
    e->next_sweep = INT64_MAX;
    if (e->opts.retention_ms > 0) {
        int64_t oldest = store_oldest_completed(e->st);
        if (oldest != INT64_MAX)
            e->next_sweep = oldest + e->opts.retention_ms;
    }
    return 0;
}

int chute_engine_open(chute_engine **out, const chute_engine_options *opts, chute_error *err)
{
    if (!opts || !opts->data_dir || !*opts->data_dir)
        return chute_error_set(err, CHUTE_EINVAL, "a data directory is required");
    if (opts->partition < 0 || opts->partition > 4095)
        return chute_error_set(err, CHUTE_EINVAL, "partition %d is out of range 1..4095",
                               opts->partition);
    if (opts->durability != CHUTE_DURABILITY_FULL && opts->durability != CHUTE_DURABILITY_NORMAL)
        return chute_error_set(err, CHUTE_EINVAL, "unknown durability mode %d",
                               (int)opts->durability);
    struct stat sb;
    if (stat(opts->data_dir, &sb) != 0) {
        if (errno != ENOENT || mkdir(opts->data_dir, 0750) != 0) {
            return chute_error_set(err, CHUTE_ESTORE, "%s: cannot create the data directory: %s",
                                   opts->data_dir, strerror(errno));
        }
    } else if (!S_ISDIR(sb.st_mode)) {
        return chute_error_set(err, CHUTE_ESTORE, "%s: the data directory is not a directory",
                               opts->data_dir);
    }

    chute_engine *e = calloc(1, sizeof *e);
    if (!e)
        return chute_error_set(err, CHUTE_ENOMEM, "out of memory");
    e->opts = *opts;
    if (e->opts.partition == 0)
        e->opts.partition = 1;
    if (e->opts.retention_ms == 0)
        e->opts.retention_ms = DEFAULT_RETENTION_MS;
    if (e->opts.max_variables_size == 0)
        e->opts.max_variables_size = DEFAULT_MAX_VARIABLES;
    if (!e->opts.clock)
        e->opts.clock = chute_clock_realtime_ms;
    if (!e->opts.log) {
        e->opts.log = log_stderr;
        e->opts.log_ctx = NULL;
    }
    e->partition_base = (int64_t)e->opts.partition << 51;
    hmap_init(&e->jobs);
    hmap_init(&e->incidents);
    hmap_init(&e->defs_by_key);
    hmap_init(&e->instances);
    hmap_init(&e->elements);
    hmap_init(&e->el_incidents);
    hmap_init(&e->awaiters);
    process_init(e);
    hmap_init(&e->msgs);
    process_clear_messages(e);
    e->next_instance_sweep = INT64_MAX;
    queue_init_timers(e);
    e->next_sweep = INT64_MAX;

    size_t n = strlen(opts->data_dir) + 32;
    e->data_dir = strdup(opts->data_dir);
    e->db_path = malloc(n);
    if (!e->data_dir || !e->db_path) {
        chute_engine_close(e);
        return chute_error_set(err, CHUTE_ENOMEM, "out of memory");
    }
    snprintf(e->db_path, n, "%s/partition-%d.db", opts->data_dir, (int)e->opts.partition);
    e->opts.data_dir = e->data_dir;

    int rc = store_open(&e->st, e->db_path, e->opts.durability, e->opts.log, e->opts.log_ctx,
                        e->opts.accept_wal_loss, err);
    if (rc == 0)
        rc = load_all(e, err);
    if (rc != 0) {
        chute_engine_close(e);
        return rc;
    }
    *out = e;
    return 0;
}

void chute_engine_close(chute_engine *e)
{
    if (!e)
        return;
    if (e->st) {
        store_rollback(e->st);
        store_close(e->st);
    }
    clear_jobs(e);
    process_clear_messages(e);
    process_free_awaiters(e);
    deploy_clear(e);
    decide_clear(e);
    free(e->dec_views);
    free(e->proc_views);
    free(e->scratch);
    free(e->retired);
    free(e->views);
    heap_free(&e->timers);
    heap_free(&e->ptimers);
    heap_free(&e->dtimers);
    hmap_free(&e->subs);
    hmap_free(&e->user_tasks);
    heap_free(&e->msg_expiry);
    free(e->graveyard);
    free(e->new_subs);
    queue_free_types(e);
    free(e->data_dir);
    free(e->db_path);
    free(e);
}

const char *chute_engine_db_path(const chute_engine *e)
{
    return e->db_path;
}

chute_durability chute_engine_durability(const chute_engine *e)
{
    return e->opts.durability;
}

/* ---- validation and messages ---------------------------------------------- */

static int check_document(chute_engine *e, const char *doc, size_t len, int strings_only,
                          const char *what, chute_error *err)
{
    if (!doc)
        return 0;
    if (len > e->opts.max_variables_size) {
        return chute_error_set(err, CHUTE_ETOOBIG,
                               "Expected %s to be at most %zu bytes, but it is %zu bytes", what,
                               e->opts.max_variables_size, len);
    }
    return jdoc_check_object(doc, len, strings_only, what, err);
}

static int not_found(chute_error *err, const char *cmd, const char *verb, int64_t key)
{
    return chute_error_set(err, CHUTE_ENOTFOUND,
                           "Command '%s' rejected with code 'NOT_FOUND': Expected to %s job with "
                           "key '%lld', but no such job was found",
                           cmd, verb, (long long)key);
}

static int bad_state(chute_error *err, const char *cmd, const char *verb, const job *j)
{
    return chute_error_set(err, CHUTE_ESTATE,
                           "Command '%s' rejected with code 'INVALID_STATE': Expected to %s job "
                           "with key '%lld', but it is in state '%s'",
                           cmd, verb, (long long)j->key, chute_job_state_name(j->state));
}

static size_t len_or_strlen(const char *s, size_t len)
{
    return s && len == 0 ? strlen(s) : len;
}

int64_t engine_next_key(chute_engine *e)
{
    return e->partition_base + ++e->counter;
}

/* ---- commands --------------------------------------------------------------- */

/* Every check of a creation, without creating anything. */
static int check_spec(chute_engine *e, const chute_job_spec *spec, chute_error *err)
{
    if (blank(spec->type))
        return chute_error_set(err, CHUTE_EINVAL,
                               "Expected to create a job with a type, but the type is blank");
    size_t type_len = strlen(spec->type);
    if (type_len > CHUTE_TYPE_MAX)
        return chute_error_set(err, CHUTE_EINVAL,
                               "Expected a job type of at most %d bytes, but it is %zu bytes",
                               CHUTE_TYPE_MAX, type_len);
    if (spec->retries < 0)
        return chute_error_set(err, CHUTE_EINVAL,
                               "Expected to create a job with retries >= 1, but retries is %d",
                               spec->retries);
    if (spec->delay_ms < 0)
        return chute_error_set(err, CHUTE_EINVAL,
                               "Expected a delay of zero or more milliseconds, but it is %lld",
                               (long long)spec->delay_ms);
    if (spec->delay_ms > CHUTE_DURATION_MAX_MS)
        return chute_error_set(err, CHUTE_EINVAL,
                               "Expected a delay of at most %lld ms (10 years), but it is %lld",
                               (long long)CHUTE_DURATION_MAX_MS, (long long)spec->delay_ms);
    size_t vlen = len_or_strlen(spec->variables, spec->variables_len);
    size_t hlen = len_or_strlen(spec->headers, spec->headers_len);
    int rc = check_document(e, spec->variables, vlen, 0, "variables", err);
    if (rc == 0)
        rc = check_document(e, spec->headers, hlen, 1, "custom headers", err);
    return rc;
}

/*
 * The queue depth limit (see engine.h): |count| more jobs must fit under
 * max_jobs. It is checked before the specs, in O(1), so that a full engine
 * rejects a burst of creates without parsing their documents. |*fit| is set
 * to how many of them would fit (the index of the first one that does not).
 */
static int check_room(chute_engine *e, size_t count, size_t *fit, chute_error *err)
{
    uint64_t max = e->opts.max_jobs;
    uint64_t held = e->jobs.count;
    if (max == 0 || (held <= max && count <= max - held))
        return 0;
    *fit = held < max ? (size_t)(max - held) : 0;
    e->stats.rejected_max_jobs_total++;
    /* The engine does not know how its limit was configured (a flag of
     * chuted, an option of an embedding program), so the message names the
     * figures and the remedy, not a flag. */
    return chute_error_set(err, CHUTE_EBUSY,
                           "Expected to create %zu job%s, but the broker holds %" PRIu64
                           " job%s and its limit is %" PRIu64
                           "; complete or cancel jobs, or raise the limit",
                           count, count == 1 ? "" : "s", held, held == 1 ? "" : "s", max);
}

static int create_checked(chute_engine *e, const chute_job_spec *spec, int64_t *key,
                          chute_error *err);
static void remove_job(chute_engine *e, job *j);

int chute_engine_create(chute_engine *e, const chute_job_spec *spec, int64_t *key, chute_error *err)
{
    size_t fit;
    int rc = check_room(e, 1, &fit, err);
    if (rc == 0)
        rc = check_spec(e, spec, err);
    return rc ? rc : create_checked(e, spec, key, err);
}

int chute_engine_create_batch(chute_engine *e, const chute_job_spec *specs, size_t count,
                              int64_t *keys, size_t *failed, chute_error *err)
{
    size_t fit = 0;
    int rc = check_room(e, count, &fit, err);
    if (rc != 0) {
        if (failed)
            *failed = fit;
        return rc;
    }
    for (size_t i = 0; i < count; i++) {
        rc = check_spec(e, &specs[i], err);
        if (rc != 0) {
            if (failed)
                *failed = i;
            return rc;
        }
    }
    for (size_t i = 0; i < count; i++) {
        rc = create_checked(e, &specs[i], &keys[i], err);
        if (rc != 0) {
            /* Out of memory half-way: the jobs created so far are in the
             * open batch, so cancelling them leaves no row behind. */
            chute_error ignore;
            for (size_t k = 0; k < i; k++)
                chute_engine_cancel(e, keys[k], &ignore);
            if (failed)
                *failed = i;
            return rc;
        }
    }
    return 0;
}

static int create_checked(chute_engine *e, const chute_job_spec *spec, int64_t *key,
                          chute_error *err)
{
    size_t vlen = len_or_strlen(spec->variables, spec->variables_len);
    size_t hlen = len_or_strlen(spec->headers, spec->headers_len);
    int rc;
    jtype *t = queue_type_get(e, spec->type, 1);
    job *j = t ? job_alloc(spec->variables, jdoc_blank(spec->variables, vlen) ? 0 : vlen) : NULL;
    if (!j)
        return chute_error_set(err, CHUTE_ENOMEM, "out of memory creating a job");
    j->type = t;
    j->retries = spec->retries ? spec->retries : CHUTE_DEFAULT_RETRIES;
    j->priority = spec->priority;
    j->created_at = engine_now(e);
    const chute_process_ref *p = &spec->process;
    int has_process = p->process_instance_key || p->process_definition_key ||
                      p->element_instance_key || !blank(p->bpmn_process_id) ||
                      !blank(p->element_id) || p->process_definition_version;
    int has_headers = !jdoc_blank(spec->headers, hlen);
    if (has_headers || has_process) {
        job_ext *x = job_ext_need(j);
        if (!x)
            goto oom;
        if (has_headers) {
            if (job_dup_opt(spec->headers, hlen, &x->headers) != 0)
                goto oom;
            x->headers_len = (uint32_t)hlen;
        }
        if (has_process && job_ext_set_process(x, p) != 0)
            goto oom;
    }
    j->key = engine_next_key(e);
    if (hmap_put(&e->jobs, j->key, j) != 0)
        goto oom;
    if (spec->delay_ms > 0) {
        j->deadline = j->created_at + spec->delay_ms;
        rc = queue_attach(e, j, CHUTE_JOB_DELAYED);
    } else {
        rc = queue_attach(e, j, CHUTE_JOB_ACTIVATABLE);
    }
    if (rc != 0)
        batch_fail(e, NULL);
    persist(e, j, OP_INSERT, 0);
    e->stats.created_total++;
    t->created_total++;
    *key = j->key;
    return 0;
oom:
    job_free(j);
    return chute_error_set(err, CHUTE_ENOMEM, "out of memory creating a job");
}

int engine_create_process_job(chute_engine *e, const chute_job_spec *spec, int32_t retries,
                              int64_t *key, chute_error *err)
{
    if (retries < 0)
        return chute_error_set(err, CHUTE_EINVAL,
                               "Expected the job of element '%s' to have retries of zero or "
                               "more, but it has %d",
                               spec->process.element_id, retries);
    chute_job_spec s = *spec;
    s.retries = retries;
    int rc = check_spec(e, &s, err);
    if (rc != 0)
        return rc;
    rc = create_checked(e, &s, key, err);
    if (rc == 0 && retries == 0) {
        /* Zeebe creates a job with the retries the model gives, 0 included
         * (it then raises an incident when the job fails). */
        job *j = hmap_get(&e->jobs, *key);
        j->retries = retries;
        persist(e, j, OP_UPDATE, 0);
    }
    return rc;
}

int engine_remove_process_job(chute_engine *e, int64_t key, chute_error *err)
{
    job *j = hmap_get(&e->jobs, key);
    if (!j)
        return not_found(err, "CANCEL", "cancel", key);
    queue_detach(e, j);
    j->state = CHUTE_JOB_CANCELED;
    persist(e, j, OP_DELETE, 0);
    remove_job(e, j);
    return 0;
}

int engine_check_variables(chute_engine *e, const char *doc, size_t len, chute_error *err)
{
    return check_document(e, doc, len, 0, "variables", err);
}

int engine_check_room(chute_engine *e, chute_error *err)
{
    size_t fit;
    return check_room(e, 1, &fit, err);
}

int chute_engine_check_activate(const chute_activate_request *req, int for_stream, chute_error *err)
{
    if (blank(req->type))
        return chute_error_set(err, CHUTE_EINVAL,
                               "Expected to activate jobs with a type, but the type is blank");
    if (strlen(req->type) > CHUTE_TYPE_MAX)
        return chute_error_set(err, CHUTE_EINVAL,
                               "Expected a job type of at most %d bytes, but it is %zu bytes",
                               CHUTE_TYPE_MAX, strlen(req->type));
    if (req->worker && strlen(req->worker) > CHUTE_WORKER_MAX)
        return chute_error_set(err, CHUTE_EINVAL,
                               "Expected a worker name of at most %d bytes, but it is %zu bytes",
                               CHUTE_WORKER_MAX, strlen(req->worker));
    if (req->timeout_ms < 1)
        return chute_error_set(err, CHUTE_EINVAL,
                               "Expected to activate jobs with a timeout of at least 1 ms, but "
                               "the timeout is %lld",
                               (long long)req->timeout_ms);
    if (req->timeout_ms > CHUTE_DURATION_MAX_MS)
        return chute_error_set(err, CHUTE_EINVAL,
                               "Expected to activate jobs with a timeout of at most %lld ms (10 "
                               "years), but the timeout is %lld",
                               (long long)CHUTE_DURATION_MAX_MS, (long long)req->timeout_ms);
    if (!for_stream && req->max_jobs < 1)
        return chute_error_set(err, CHUTE_EINVAL,
                               "Expected to activate at least 1 job (maxJobsToActivate), but it "
                               "is %d",
                               req->max_jobs);
    return 0;
}

static int ensure_views(chute_engine *e, size_t n)
{
    if (n <= e->views_cap)
        return 0;
    size_t cap = e->views_cap ? e->views_cap : 32;
    while (cap < n)
        cap *= 2;
    chute_job_view *v = realloc(e->views, cap * sizeof *v);
    if (!v)
        return CHUTE_ENOMEM;
    e->views = v;
    e->views_cap = cap;
    return 0;
}

/* Leases |j|, the top of its type's ready heap, to |worker| for
 * |timeout_ms|. */
static void lease(chute_engine *e, job *j, const char *worker, int64_t timeout_ms)
{
    assert(j->state == CHUTE_JOB_ACTIVATABLE && j->heap_pos != HEAP_NONE);
    int64_t now = engine_now(e);
    if (e->hooks.on_activate)
        e->hooks.on_activate(e->hooks.ctx, j->type->name, now - j->deadline);
    queue_detach(e, j);
    j->deadline = now + timeout_ms;
    if (job_set_worker(j, worker) != 0)
        batch_fail(e, NULL);
    if (queue_attach(e, j, CHUTE_JOB_ACTIVATED) != 0)
        batch_fail(e, NULL);
    persist(e, j, OP_UPDATE, 0);
    e->stats.activated_total++;
    j->type->activated_total++;
}

int engine_activate_into(chute_engine *e, jtype *t, const char *worker, int64_t timeout_ms,
                         uint32_t max, size_t max_bytes, char *const *fetch, size_t nfetch,
                         size_t first_view, size_t *count, chute_error *err)
{
    size_t n = 0, bytes = 0;
    while (n < max && t->ready.count > 0) {
        job *j = heap_top(&t->ready);
        /* The budget counts what is handed out: the filtered variables when
         * the taker asked for some names only. */
        char *filtered = NULL;
        size_t flen = 0;
        job_process *jp = job_process_of(j);
        if (jp && jp->ref.element_instance_key) {
            /* A process job hands out the variables its element sees now. */
            if (process_job_view_variables(e, jp->ref.element_instance_key, fetch, nfetch,
                                           &filtered, &flen) != 0)
                return chute_error_set(err, CHUTE_ENOMEM, "out of memory activating jobs");
        } else if (nfetch > 0 &&
                   jdoc_filter(j->variables, j->variables_len, (const char *const *)fetch, nfetch,
                               &filtered, &flen) != 0)
            return chute_error_set(err, CHUTE_ENOMEM, "out of memory activating jobs");
        size_t size = (filtered ? flen : j->variables_len) + (j->ext ? j->ext->headers_len : 0);
        if ((max_bytes && n > 0 && bytes + size > max_bytes) ||
            ensure_views(e, first_view + n + 1) != 0) {
            free(filtered);
            if (max_bytes && n > 0 && bytes + size > max_bytes)
                break;
            return chute_error_set(err, CHUTE_ENOMEM, "out of memory activating jobs");
        }
        lease(e, j, worker, timeout_ms);
        chute_job_view *v = &e->views[first_view + n];
        job_view(j, v);
        if (filtered) {
            job_scratch_add(e, filtered);
            v->variables = filtered;
            v->variables_len = flen;
        }
        bytes += size;
        n++;
    }
    *count = n;
    return 0;
}

int64_t engine_max_lease(const chute_engine *e)
{
    int64_t m = e->opts.max_job_timeout_ms;
    return m > 0 && m < CHUTE_DURATION_MAX_MS ? m : CHUTE_DURATION_MAX_MS;
}

const char *engine_max_lease_why(const chute_engine *e)
{
    return engine_max_lease(e) < CHUTE_DURATION_MAX_MS ? " (the broker's maximum job timeout)"
                                                       : " (10 years)";
}

int engine_check_lease(const chute_engine *e, const chute_activate_request *req, int for_stream,
                       chute_error *err)
{
    int rc = chute_engine_check_activate(req, for_stream, err);
    if (rc == 0 && req->timeout_ms > engine_max_lease(e))
        rc = chute_error_set(err, CHUTE_EINVAL,
                             "Expected to activate jobs with a timeout of at most %lld ms%s, but "
                             "the timeout is %lld",
                             (long long)engine_max_lease(e), engine_max_lease_why(e),
                             (long long)req->timeout_ms);
    return rc;
}

int chute_engine_activate(chute_engine *e, const chute_activate_request *req, size_t max_bytes,
                          const chute_job_view **jobs, size_t *count, chute_error *err)
{
    int rc = engine_check_lease(e, req, 0, err);
    if (rc != 0)
        return rc;
    job_scratch_release(e);
    *jobs = e->views;
    *count = 0;
    /* Do not create a type for a poll: a client asking for random types
     * must not grow the type table. */
    jtype *t = queue_type_get(e, req->type, 0);
    if (!t)
        return 0;
    rc = engine_activate_into(e, t, req->worker, req->timeout_ms, (uint32_t)req->max_jobs,
                              max_bytes, (char *const *)req->fetch_variables,
                              req->fetch_variables_count, 0, count, err);
    *jobs = e->views;
    return rc;
}

/* Shared checks of complete, fail and throw error: the job must exist and
 * be ACTIVATABLE or ACTIVATED. */
static int settle_lookup(chute_engine *e, int64_t key, const char *cmd, const char *verb, job **out,
                         chute_error *err)
{
    job *j = hmap_get(&e->jobs, key);
    if (!j)
        return not_found(err, cmd, verb, key);
    if (j->state != CHUTE_JOB_ACTIVATABLE && j->state != CHUTE_JOB_ACTIVATED)
        return bad_state(err, cmd, verb, j);
    *out = j;
    return 0;
}

static void remove_job(chute_engine *e, job *j)
{
    hmap_del(&e->jobs, j->key);
    if (job_incident_key(j))
        hmap_del(&e->incidents, job_incident_key(j));
    job_retire(e, j);
}

int chute_engine_complete(chute_engine *e, int64_t key, const char *variables, size_t variables_len,
                          chute_error *err)
{
    job *j = NULL; /* set by settle_lookup on success */
    int rc = settle_lookup(e, key, "COMPLETE", "complete", &j, err);
    if (rc != 0)
        return rc;
    variables_len = len_or_strlen(variables, variables_len);
    if ((rc = check_document(e, variables, variables_len, 0, "variables", err)) != 0)
        return rc;
    queue_detach(e, j);
    j->state = CHUTE_JOB_COMPLETED;
    if (!job_process_of(j) && e->opts.retention_ms > 0) {
        /* The result is kept as sent and merged into the variables only when
         * someone reads the job: completing stays cheap, reading is rare. */
        int64_t now = engine_now(e);
        j->deadline = 0;
        int blank_result = jdoc_blank(variables, variables_len);
        persist_result(e, j, OP_UPDATE, now, blank_result ? NULL : variables,
                       blank_result ? 0 : variables_len);
        if (now + e->opts.retention_ms < e->next_sweep)
            e->next_sweep = now + e->opts.retention_ms;
    } else {
        persist(e, j, OP_DELETE, 0);
    }
    j->type->completed_total++;
    job_process *jp = job_process_of(j);
    int64_t element_key = jp ? jp->ref.element_instance_key : 0;
    remove_job(e, j);
    e->stats.completed_total++;
    if (element_key)
        process_job_completed(e, element_key, variables, variables_len);
    return 0;
}

/* Called by fail and throw error, which allocated the job's ext for the
 * error message they set. */
static int open_incident(chute_engine *e, job *j, int type)
{
    job_ext *x = j->ext;
    assert(x != NULL);
    x->incident_key = engine_next_key(e);
    x->incident_type = (uint8_t)type;
    if (hmap_put(&e->incidents, x->incident_key, j) != 0)
        return CHUTE_ENOMEM;
    e->stats.incidents_total++;
    j->type->incidents_total++;
    return 0;
}

int chute_engine_fail(chute_engine *e, int64_t key, int32_t retries, const char *message,
                      int64_t backoff_ms, const char *variables, size_t variables_len,
                      chute_error *err)
{
    job *j = NULL; /* set by settle_lookup on success */
    int rc = settle_lookup(e, key, "FAIL", "fail", &j, err);
    if (rc != 0)
        return rc;
    if (backoff_ms < 0)
        return chute_error_set(err, CHUTE_EINVAL,
                               "Expected a retry back-off of zero or more milliseconds, but it "
                               "is %lld",
                               (long long)backoff_ms);
    if (backoff_ms > CHUTE_DURATION_MAX_MS)
        return chute_error_set(err, CHUTE_EINVAL,
                               "Expected a retry back-off of at most %lld ms (10 years), but it "
                               "is %lld",
                               (long long)CHUTE_DURATION_MAX_MS, (long long)backoff_ms);
    if (message && strlen(message) > CHUTE_ERROR_MESSAGE_LEN_MAX)
        return chute_error_set(err, CHUTE_EINVAL,
                               "Expected an error message of at most %d bytes, but it is %zu "
                               "bytes",
                               CHUTE_ERROR_MESSAGE_LEN_MAX, strlen(message));
    variables_len = len_or_strlen(variables, variables_len);
    if ((rc = check_document(e, variables, variables_len, 0, "variables", err)) != 0)
        return rc;
    int of_process = process_is_job_of_element(e, j);
    if (!job_ext_need(j) ||
        (!of_process && job_merge_variables(j, variables, variables_len) != 0) ||
        job_set_str(&j->ext->error_message,
                    (retries <= 0 && blank(message)) ? "No more retries left." : message) != 0)
        return chute_error_set(err, CHUTE_ENOMEM, "out of memory failing a job");
    if (of_process) {
        /* A process job's variables are local variables of its element. */
        process_job_variables(e, j->ext->process->ref.element_instance_key, variables,
                              variables_len);
    }
    queue_detach(e, j);
    j->retries = retries;
    int state;
    if (retries > 0 && backoff_ms > 0) {
        j->deadline = engine_now(e) + backoff_ms;
        state = CHUTE_JOB_FAILED;
    } else if (retries > 0) {
        j->deadline = 0;
        state = CHUTE_JOB_ACTIVATABLE;
    } else {
        j->deadline = 0;
        state = CHUTE_JOB_INCIDENT;
        if (open_incident(e, j, CHUTE_INCIDENT_JOB_NO_RETRIES) != 0)
            batch_fail(e, NULL);
    }
    if (queue_attach(e, j, state) != 0)
        batch_fail(e, NULL);
    persist(e, j, OP_UPDATE, 0);
    if (of_process && state == CHUTE_JOB_INCIDENT)
        process_touch_job(e, j);
    e->stats.failed_total++;
    j->type->failed_total++;
    return 0;
}

int chute_engine_throw_error(chute_engine *e, int64_t key, const char *code, const char *message,
                             const char *variables, size_t variables_len, chute_error *err)
{
    job *j = NULL; /* set by settle_lookup on success */
    int rc = settle_lookup(e, key, "THROW_ERROR", "throw an error for", &j, err);
    if (rc != 0)
        return rc;
    if (blank(code))
        return chute_error_set(err, CHUTE_EINVAL,
                               "Expected to throw an error with an error code, but the code is "
                               "blank");
    if (strlen(code) > CHUTE_ERROR_CODE_MAX)
        return chute_error_set(err, CHUTE_EINVAL,
                               "Expected an error code of at most %d bytes, but it is %zu bytes",
                               CHUTE_ERROR_CODE_MAX, strlen(code));
    if (message && strlen(message) > CHUTE_ERROR_MESSAGE_LEN_MAX)
        return chute_error_set(err, CHUTE_EINVAL,
                               "Expected an error message of at most %d bytes, but it is %zu "
                               "bytes",
                               CHUTE_ERROR_MESSAGE_LEN_MAX, strlen(message));
    variables_len = len_or_strlen(variables, variables_len);
    if ((rc = check_document(e, variables, variables_len, 0, "variables", err)) != 0)
        return rc;
    /* A standalone job has no process to catch the error, so the error is
     * unhandled: the incident message says so, like a process without a
     * matching boundary event would. */
    char buf[CHUTE_ERROR_MESSAGE_MAX * 2];
    int of_process = process_is_job_of_element(e, j);
    if (of_process && process_catch_error(e, j, code, variables, variables_len))
        return 0; /* a boundary event caught it; the job went with its element */
    if (of_process)
        /* Catching errors comes with boundary events; until then every
         * error of a process is uncaught, in Zeebe's words. */
        snprintf(buf, sizeof buf,
                 "Expected to throw an error event with the code '%s' with message '%s', but it "
                 "was not caught. No error events are available in the scope.",
                 code, message ? message : "");
    else
        snprintf(buf, sizeof buf,
                 "An error with code '%s' was thrown (message: '%s'), but nothing caught it",
                 code, message ? message : "");
    if (!job_ext_need(j) ||
        (!of_process && job_merge_variables(j, variables, variables_len) != 0) ||
        job_set_str(&j->ext->error_code, code) != 0 ||
        job_set_str(&j->ext->error_message, (of_process || blank(message)) ? buf : message) != 0)
        return chute_error_set(err, CHUTE_ENOMEM, "out of memory throwing an error");
    if (of_process)
        process_job_variables(e, j->ext->process->ref.element_instance_key, variables,
                              variables_len);
    queue_detach(e, j);
    j->deadline = 0;
    if (open_incident(e, j, CHUTE_INCIDENT_UNHANDLED_ERROR_EVENT) != 0)
        batch_fail(e, NULL);
    queue_attach(e, j, CHUTE_JOB_ERROR_THROWN);
    persist(e, j, OP_UPDATE, 0);
    if (of_process)
        process_touch_job(e, j);
    return 0;
}

int chute_engine_update(chute_engine *e, int64_t key, const chute_job_update *u, chute_error *err)
{
    /* Zeebe names the command after what it changes; a changeset with both
     * (REST PATCH) is Camunda's UPDATE. */
    const char *cmd = "UPDATE", *verb = "update";
    if (u->has_retries && !u->has_timeout) {
        cmd = "UPDATE_RETRIES";
        verb = "update retries of";
    } else if (u->has_timeout && !u->has_retries) {
        cmd = "UPDATE_TIMEOUT";
        verb = "update the timeout of";
    }
    job *j = hmap_get(&e->jobs, key);
    if (!j)
        return not_found(err, cmd, verb, key);
    /* Every check first, arguments before state, so that nothing changes
     * unless everything can: the update is one change of the job. */
    if (!u->has_retries && !u->has_timeout)
        return chute_error_set(err, CHUTE_EINVAL,
                               "Expected to update the retries or the timeout of job with key "
                               "'%lld', but the update sets neither",
                               (long long)key);
    if (u->has_retries && u->retries < 1)
        return chute_error_set(err, CHUTE_EINVAL,
                               "Expected to update retries of job with key '%lld' to a value "
                               "of at least 1, but it is %d",
                               (long long)key, u->retries);
    if (u->has_timeout && u->timeout_ms < 1)
        return chute_error_set(err, CHUTE_EINVAL,
                               "Expected to update the timeout of job with key '%lld' to at "
                               "least 1 ms, but it is %lld",
                               (long long)key, (long long)u->timeout_ms);
    if (u->has_timeout && u->timeout_ms > engine_max_lease(e))
        return chute_error_set(err, CHUTE_EINVAL,
                               "Expected to update the timeout of job with key '%lld' to at "
                               "most %lld ms%s, but it is %lld",
                               (long long)key, (long long)engine_max_lease(e),
                               engine_max_lease_why(e), (long long)u->timeout_ms);
    if (u->has_timeout && j->state != CHUTE_JOB_ACTIVATED)
        return bad_state(err, cmd, "update the timeout of", j);
    if (u->has_retries)
        j->retries = u->retries;
    if (u->has_timeout) {
        j->deadline = engine_now(e) + u->timeout_ms;
        heap_update(&e->timers, j);
    }
    persist(e, j, OP_UPDATE, 0);
    return 0;
}

int chute_engine_update_retries(chute_engine *e, int64_t key, int32_t retries, chute_error *err)
{
    chute_job_update u = {.has_retries = 1, .retries = retries};
    return chute_engine_update(e, key, &u, err);
}

int chute_engine_update_timeout(chute_engine *e, int64_t key, int64_t timeout_ms, chute_error *err)
{
    chute_job_update u = {.has_timeout = 1, .timeout_ms = timeout_ms};
    return chute_engine_update(e, key, &u, err);
}

int chute_engine_resolve_incident(chute_engine *e, int64_t incident_key, chute_error *err)
{
    int prc = 0;
    if (process_resolve_incident(e, incident_key, &prc, err))
        return prc;
    job *j = hmap_get(&e->incidents, incident_key);
    if (!j)
        return chute_error_set(err, CHUTE_ENOTFOUND,
                               "Command 'RESOLVE' rejected with code 'NOT_FOUND': Expected to "
                               "resolve incident with key '%lld', but no such incident was found",
                               (long long)incident_key);
    if (j->retries < 1)
        return chute_error_set(err, CHUTE_ESTATE,
                               "Command 'RESOLVE' rejected with code 'INVALID_STATE': Expected "
                               "to resolve incident with key '%lld', but job with key '%lld' has "
                               "no retries left; update its retries first",
                               (long long)incident_key, (long long)j->key);
    /* A job with an incident has its ext, which holds the incident's key. */
    assert(j->ext && j->ext->incident_key == incident_key);
    hmap_del(&e->incidents, incident_key);
    if (job_process_of(j))
        process_job_incident_resolved(e, j, incident_key, j->ext->incident_type,
                                      j->ext->error_message, j->created_at);
    queue_detach(e, j);
    j->ext->incident_key = 0;
    j->ext->incident_type = CHUTE_INCIDENT_NONE;
    j->deadline = 0;
    if (queue_attach(e, j, CHUTE_JOB_ACTIVATABLE) != 0)
        batch_fail(e, NULL);
    persist(e, j, OP_UPDATE, 0);
    return 0;
}

int chute_engine_cancel(chute_engine *e, int64_t key, chute_error *err)
{
    job *j = hmap_get(&e->jobs, key);
    if (!j)
        return not_found(err, "CANCEL", "cancel", key);
    if (process_is_job_of_element(e, j))
        return chute_error_set(err, CHUTE_ESTATE,
                               "Expected to cancel job with key '%lld', but it belongs to process "
                               "instance '%lld'; cancel the process instance instead",
                               (long long)key,
                               (long long)j->ext->process->ref.process_instance_key);
    queue_detach(e, j);
    j->state = CHUTE_JOB_CANCELED;
    persist(e, j, OP_DELETE, 0);
    remove_job(e, j);
    return 0;
}

int chute_engine_assign_job(chute_engine *e, int64_t key, const char *assignee, chute_error *err)
{
    job *j = hmap_get(&e->jobs, key);
    if (!j)
        return not_found(err, "ASSIGN", "assign", key);
    if (assignee && strlen(assignee) > CHUTE_WORKER_MAX)
        return chute_error_set(err, CHUTE_EINVAL,
                               "Expected an assignee of at most %d bytes, but it is %zu bytes",
                               CHUTE_WORKER_MAX, strlen(assignee));
    if (!job_ext_need(j) || job_set_str(&j->ext->assignee, assignee) != 0)
        return chute_error_set(err, CHUTE_ENOMEM, "out of memory assigning a job");
    persist(e, j, OP_UPDATE, 0);
    return 0;
}

int chute_engine_return(chute_engine *e, int64_t key, int64_t deadline, chute_error *err)
{
    job *j = hmap_get(&e->jobs, key);
    if (!j) {
        /* A key we issued whose job is gone (completed, cancelled) needs
         * nothing; only a key never issued is an error. */
        if (key > e->partition_base && key <= e->partition_base + e->counter)
            return 0;
        return not_found(err, "RETURN", "return", key);
    }
    if (j->state != CHUTE_JOB_ACTIVATED || (deadline != 0 && j->deadline != deadline))
        return 0;
    queue_detach(e, j);
    j->deadline = 0;
    if (queue_attach(e, j, CHUTE_JOB_ACTIVATABLE) != 0)
        batch_fail(e, NULL);
    persist(e, j, OP_UPDATE, 0);
    return 0;
}

/* ---- batches -------------------------------------------------------------- */

int chute_engine_dirty(const chute_engine *e)
{
    return e->in_batch || e->batch_failed || e->counter != e->saved_counter || e->dirty_head;
}

int chute_engine_commit(chute_engine *e, chute_error *err)
{
    if (!chute_engine_dirty(e))
        return 0;
    /* Keys are only ever handed out, never given back. */
    assert(e->counter >= e->saved_counter);
    chute_error serr;
    int rc = 0;
    uint64_t t0 = chute_clock_mono_ns();
    process_flush(e);
    if (!e->batch_failed && e->counter != e->saved_counter) {
        if (batch_open(e) == 0 && store_set_counter(e->st, e->counter, &serr) != 0)
            batch_fail(e, &serr);
    }
    if (!e->batch_failed && e->in_batch) {
        if (store_commit(e->st, &serr) != 0) {
            batch_fail(e, &serr);
        }
    }
    if (e->batch_failed) {
        store_rollback(e->st);
        e->in_batch = 0;
        e->batch_failed = 0;
        e->batch_changes = 0;
        /* Undo the batch by rebuilding memory from what is durable. */
        clear_jobs(e);
        chute_error lerr;
        int lrc = load_all(e, &lerr);
        if (lrc != 0)
            chute_log_emit(e->opts.log, e->opts.log_ctx, CHUTE_LOG_ERROR,
                           "reloading after a failed commit failed: %s", lerr.message);
        for (size_t i = 0; i < e->types_cap; i++) {
            for (jtype *t = e->types[i]; t; t = t->hnext)
                delivery_schedule(e, t);
        }
        return chute_error_set(err, CHUTE_ESTORE,
                               "the batch could not be written to %s and was rolled back",
                               e->db_path);
    }
    e->in_batch = 0;
    e->saved_counter = e->counter;
    e->stats.commits++;
    if (e->hooks.on_commit && e->batch_changes)
        e->hooks.on_commit(e->hooks.ctx, e->batch_changes, chute_clock_mono_ns() - t0);
    e->batch_changes = 0;
    return rc;
}

/* ---- time ------------------------------------------------------------------ */

int64_t chute_engine_next_due(const chute_engine *e)
{
    int64_t due = e->next_sweep;
    if (e->next_instance_sweep < due)
        due = e->next_instance_sweep;
    if (process_next_due(e) < due)
        due = process_next_due(e);
    job *top = heap_top(&e->timers);
    if (top && top->deadline < due)
        due = top->deadline;
    return due;
}

int64_t chute_engine_tick(chute_engine *e)
{
    int64_t now = engine_now(e);
    job *j;
    while ((j = heap_top(&e->timers)) && j->deadline <= now) {
        assert(j->state == CHUTE_JOB_ACTIVATED || j->state == CHUTE_JOB_FAILED ||
               j->state == CHUTE_JOB_DELAYED);
        if (j->state == CHUTE_JOB_ACTIVATED) {
            e->stats.timed_out_total++;
            j->type->timed_out_total++;
        }
        queue_detach(e, j);
        /* Lease expiry keeps the retries: the worker did not fail the job,
         * it only ran out of time. The last worker stays on record. */
        if (queue_attach(e, j, CHUTE_JOB_ACTIVATABLE) != 0)
            batch_fail(e, NULL);
        persist(e, j, OP_UPDATE, 0);
    }
    process_tick(e, now);
    process_sweep(e, now);
    if (e->next_sweep <= now && !e->batch_failed && batch_open(e) == 0) {
        int deleted = 0;
        chute_error err;
        if (store_sweep_completed(e->st, now - e->opts.retention_ms, SWEEP_LIMIT, &deleted, &err) !=
            0) {
            batch_fail(e, &err);
        } else {
            int64_t oldest = store_oldest_completed(e->st);
            e->next_sweep = oldest == INT64_MAX ? INT64_MAX : oldest + e->opts.retention_ms;
            /* Never spin on a sweep whose rows are still pending removal. */
            if (e->next_sweep <= now && deleted < SWEEP_LIMIT)
                e->next_sweep = now + 1;
        }
    }
    return chute_engine_next_due(e);
}
