/*
 * The job record (see engine_int.h): its allocation with the variables
 * inline, its rare fields, merges of variables, its store row both ways,
 * and views. Views point into the engine, so what they point to is freed
 * late: memory made for a view joins the scratch, and a job that leaves
 * memory is retired, both freed at the next call that hands out views. The
 * reads that hand out views (get, list_incidents, list_jobs) are here too.
 */
#include "engine/engine_int.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"

/* ---- allocation and rare fields --------------------------------------------- */

static int empty(const char *s)
{
    return !s || !*s;
}

int job_dup_opt(const char *s, size_t len, char **out)
{
    *out = NULL;
    if (!s || len == 0)
        return 0;
    char *p = malloc(len + 1);
    if (!p)
        return CHUTE_ENOMEM;
    memcpy(p, s, len);
    p[len] = '\0';
    *out = p;
    return 0;
}

int job_set_str(char **field, const char *s)
{
    char *n = NULL;
    if (job_dup_opt(s, s ? strlen(s) : 0, &n) != 0)
        return CHUTE_ENOMEM;
    free(*field);
    *field = n;
    return 0;
}

job *job_alloc(const char *vars, size_t vlen)
{
    size_t size = offsetof(job, inline_vars) + (vlen ? vlen + 1 : 0);
    if (size < sizeof(job))
        size = sizeof(job);
    job *j = calloc(1, size);
    if (!j)
        return NULL;
    j->heap_pos = HEAP_NONE;
    if (vlen) {
        memcpy(j->inline_vars, vars, vlen);
        j->inline_vars[vlen] = '\0';
        j->variables = j->inline_vars;
        j->variables_len = (uint32_t)vlen;
    }
    return j;
}

int job_ext_set_process(job_ext *x, const chute_process_ref *p)
{
    /* Built beside the old fields (|p| may point into them), which then go. */
    job_process *n = calloc(1, sizeof *n);
    if (!n)
        return CHUTE_ENOMEM;
    n->ref = *p;
    n->ref.bpmn_process_id = NULL;
    n->ref.element_id = NULL;
    if (job_set_str((char **)&n->ref.bpmn_process_id, p->bpmn_process_id) ||
        job_set_str((char **)&n->ref.element_id, p->element_id)) {
        free((char *)n->ref.bpmn_process_id);
        free((char *)n->ref.element_id);
        free(n);
        return CHUTE_ENOMEM;
    }
    job_process *old = x->process;
    x->process = n;
    if (old) {
        free((char *)old->ref.bpmn_process_id);
        free((char *)old->ref.element_id);
        free(old);
    }
    return 0;
}

/* Size of an ext holding a worker name of |worker_len| bytes. */
static size_t ext_size(size_t worker_len)
{
    size_t size = offsetof(job_ext, worker) + worker_len + 1;
    return size < sizeof(job_ext) ? sizeof(job_ext) : size;
}

job_ext *job_ext_need(job *j)
{
    if (!j->ext)
        j->ext = calloc(1, ext_size(0));
    return j->ext;
}

int job_set_worker(job *j, const char *worker)
{
    if (!worker)
        worker = "";
    job_ext *x = j->ext;
    if (x ? strcmp(x->worker, worker) == 0 : *worker == '\0')
        return 0;
    size_t len = strlen(worker);
    job_ext *n = realloc(x, ext_size(len));
    if (!n)
        return CHUTE_ENOMEM;
    if (!x)
        memset(n, 0, offsetof(job_ext, worker));
    memcpy(n->worker, worker, len + 1);
    j->ext = n;
    return 0;
}

void job_free(job *j)
{
    if (!j)
        return;
    if (j->variables != j->inline_vars)
        free(j->variables);
    job_ext *x = j->ext;
    if (x) {
        free(x->headers);
        free(x->error_code);
        free(x->error_message);
        free(x->assignee);
        if (x->process) {
            free((char *)x->process->ref.bpmn_process_id);
            free((char *)x->process->ref.element_id);
            free(x->process);
        }
        free(x);
    }
    free(j);
}

int job_merge_variables(job *j, const char *add, size_t add_len)
{
    if (jdoc_blank(add, add_len))
        return 0;
    char *merged;
    size_t merged_len;
    int rc;
    if (!j->variables) {
        rc = job_dup_opt(add, add_len, &merged);
        merged_len = add_len;
    } else {
        rc = jdoc_merge(j->variables, j->variables_len, add, add_len, &merged, &merged_len);
    }
    if (rc != 0)
        return rc;
    if (j->variables != j->inline_vars)
        free(j->variables);
    j->variables = merged;
    j->variables_len = (uint32_t)merged_len;
    return 0;
}

/* ---- scratch: what views point to ------------------------------------------- */

void job_scratch_add(chute_engine *e, void *p)
{
    if (e->nscratch == e->scratch_cap) {
        size_t cap = e->scratch_cap ? e->scratch_cap * 2 : 64;
        void **n = realloc(e->scratch, cap * sizeof *n);
        if (!n) {
            /* Cannot track it: free now is wrong (a view points to it), so
             * keep it alive for good. Only reachable when out of memory. */
            return;
        }
        e->scratch = n;
        e->scratch_cap = cap;
    }
    e->scratch[e->nscratch++] = p;
}

void job_retire(chute_engine *e, job *j)
{
    /* A job leaves memory detached: no heap may keep a pointer to it. */
    assert(j->heap_pos == HEAP_NONE);
    if (e->nretired == e->retired_cap) {
        size_t cap = e->retired_cap ? e->retired_cap * 2 : 64;
        job **n = realloc(e->retired, cap * sizeof *n);
        if (!n) {
            job_free(j); /* out of memory: give up the grace period */
            return;
        }
        e->retired = n;
        e->retired_cap = cap;
    }
    e->retired[e->nretired++] = j;
}

void job_scratch_release(chute_engine *e)
{
    for (size_t i = 0; i < e->nscratch; i++)
        free(e->scratch[i]);
    e->nscratch = 0;
    for (size_t i = 0; i < e->nretired; i++)
        job_free(e->retired[i]);
    e->nretired = 0;
}

/* ---- rows ------------------------------------------------------------------- */

void job_to_row(const job *j, store_job *r)
{
    memset(r, 0, sizeof *r);
    r->key = j->key;
    r->type = j->type->name;
    r->state = j->state;
    r->retries = j->retries;
    r->priority = j->priority;
    r->created_at = j->created_at;
    r->deadline = j->deadline;
    r->variables = j->variables;
    r->variables_len = j->variables_len;
    const job_ext *x = j->ext;
    if (x) {
        r->worker = job_worker(j);
        r->headers = x->headers;
        r->headers_len = x->headers_len;
        r->error_code = x->error_code;
        r->error_message = x->error_message;
        r->incident_key = x->incident_key;
        r->incident_type = x->incident_type;
        if (x->process)
            r->process = x->process->ref;
        r->assignee = x->assignee;
    }
}

job *job_from_row(chute_engine *e, const store_job *r, int *rc)
{
    *rc = CHUTE_ENOMEM;
    jtype *t = queue_type_get(e, r->type, 1);
    job *j = t ? job_alloc(r->variables, r->variables ? r->variables_len : 0) : NULL;
    if (!j)
        return NULL;
    j->key = r->key;
    j->type = t;
    j->retries = r->retries;
    j->priority = r->priority;
    j->created_at = r->created_at;
    j->deadline = r->deadline;
    const chute_process_ref *p = &r->process;
    int has_process = p->process_instance_key || p->process_definition_key ||
                      p->element_instance_key || p->bpmn_process_id || p->element_id ||
                      p->process_definition_version;
    int has_headers = r->headers && r->headers_len;
    if (!has_headers && !has_process && empty(r->worker) && empty(r->error_code) &&
        empty(r->error_message) && !r->incident_key && empty(r->assignee)) {
        *rc = 0;
        return j; /* the common case: nothing rare to keep */
    }
    if (job_set_worker(j, r->worker) != 0 || !job_ext_need(j))
        goto oom;
    job_ext *x = j->ext;
    x->incident_key = r->incident_key;
    x->incident_type = (uint8_t)r->incident_type;
    if (has_headers) {
        if (job_dup_opt(r->headers, r->headers_len, &x->headers))
            goto oom;
        x->headers_len = (uint32_t)r->headers_len;
    }
    if (job_set_str(&x->error_code, r->error_code) ||
        job_set_str(&x->error_message, r->error_message) ||
        job_set_str(&x->assignee, r->assignee) ||
        (has_process && job_ext_set_process(x, p) != 0))
        goto oom;
    *rc = 0;
    return j;
oom:
    job_free(j);
    return NULL;
}

/* ---- views ------------------------------------------------------------------ */

/* A view of a store row; its strings live as long as the row. */
static void view_of_row(const store_job *r, chute_job_view *v)
{
    memset(v, 0, sizeof *v);
    v->key = r->key;
    v->type = r->type;
    v->state = (chute_job_state)r->state;
    v->retries = r->retries;
    v->priority = r->priority;
    v->created_at = r->created_at;
    v->deadline = (r->state == CHUTE_JOB_ACTIVATED || r->state == CHUTE_JOB_FAILED ||
                   r->state == CHUTE_JOB_DELAYED)
                      ? r->deadline
                      : 0;
    v->worker = r->worker ? r->worker : "";
    v->headers = r->headers ? r->headers : "{}";
    v->headers_len = r->headers ? r->headers_len : 2;
    v->variables = r->variables ? r->variables : "{}";
    v->variables_len = r->variables ? r->variables_len : 2;
    v->error_code = r->error_code ? r->error_code : "";
    v->error_message = r->error_message ? r->error_message : "";
    v->incident_key = r->incident_key;
    v->incident_type = (chute_incident_type)r->incident_type;
    v->completed_at = r->state == CHUTE_JOB_COMPLETED ? r->completed_at : 0;
    v->process = r->process;
    v->assignee = r->assignee ? r->assignee : "";
    if (!v->process.bpmn_process_id)
        v->process.bpmn_process_id = "";
    if (!v->process.element_id)
        v->process.element_id = "";
}

/* A job in memory is shown exactly as its store row would be: one set of
 * rules for views ("" and "{}" for missing strings, which deadline shows). */
void job_view(const job *j, chute_job_view *v)
{
    store_job r;
    job_to_row(j, &r);
    view_of_row(&r, v);
}

/* ---- reads ------------------------------------------------------------------ */

/* Copies a completed row into scratch memory and a view: the row's strings
 * die with the statement, the view must outlive it. */
static int get_row(void *ctx, const store_job *r)
{
    void **args = ctx;
    chute_engine *e = args[0];
    chute_job_view *v = args[1];
    if (r->state != CHUTE_JOB_COMPLETED)
        return CHUTE_ENOTFOUND; /* a row in flux; memory is the truth */
    if (e->opts.retention_ms <= 0 || r->completed_at + e->opts.retention_ms <= engine_now(e))
        return CHUTE_ENOTFOUND;
    int rc;
    job *j = job_from_row(e, r, &rc);
    if (!j)
        return rc;
    j->state = CHUTE_JOB_COMPLETED;
    if (!jdoc_blank(r->result, r->result_len) &&
        job_merge_variables(j, r->result, r->result_len) != 0) {
        job_free(j);
        return CHUTE_ENOMEM;
    }
    job_view(j, v);
    v->completed_at = r->completed_at;
    v->deadline = 0;
    job_retire(e, j);
    return 0;
}

int chute_engine_get(chute_engine *e, int64_t key, chute_job_view *out, chute_error *err)
{
    job_scratch_release(e);
    job *j = hmap_get(&e->jobs, key);
    if (j) {
        job_view(j, out);
        job_process *p = job_process_of(j);
        char *vars;
        size_t len;
        if (p && process_is_job_of_element(e, j)) {
            /* A process job's variables are its element's, as activation
             * hands them out. */
            if (process_job_view_variables(e, p->ref.element_instance_key, NULL, 0, &vars,
                                           &len) != 0)
                return chute_error_set(err, CHUTE_ENOMEM, "out of memory reading a job");
            job_scratch_add(e, vars);
            out->variables = vars;
            out->variables_len = len;
        }
        return 0;
    }
    void *args[2] = {e, out};
    int rc = store_get(e->st, key, get_row, args, err);
    if (rc == CHUTE_ENOTFOUND)
        return chute_error_set(err, CHUTE_ENOTFOUND,
                               "Expected to get job with key '%lld', but no such job was found",
                               (long long)key);
    if (rc == CHUTE_ENOMEM)
        return chute_error_set(err, rc, "out of memory reading a job");
    return rc;
}

static int by_incident_key(const void *a, const void *b)
{
    int64_t x = job_incident_key(*(job *const *)a), y = job_incident_key(*(job *const *)b);
    return x < y ? -1 : x > y;
}

int chute_engine_list_incidents(chute_engine *e, chute_job_visit_fn fn, void *ctx)
{
    job_scratch_release(e);
    size_t n = e->incidents.count, k = 0;
    if (n == 0)
        return 0;
    job **list = malloc(n * sizeof *list);
    if (!list)
        return CHUTE_ENOMEM;
    for (size_t i = 0; i <= e->incidents.mask; i++) {
        if (e->incidents.slots[i].key)
            list[k++] = e->incidents.slots[i].value;
    }
    assert(k == n);
    qsort(list, k, sizeof *list, by_incident_key);
    int rc = 0;
    for (size_t i = 0; i < k && rc == 0; i++) {
        chute_job_view v;
        job_view(list[i], &v);
        rc = fn(ctx, &v);
    }
    free(list);
    return rc > 0 ? 0 : rc;
}

typedef struct list_ctx {
    chute_engine *e;
    chute_job_visit_fn fn;
    void *ctx;
} list_ctx;

static int list_row(void *ctx, const store_job *r)
{
    list_ctx *l = ctx;
    if (r->state == CHUTE_JOB_COMPLETED &&
        (l->e->opts.retention_ms <= 0 ||
         r->completed_at + l->e->opts.retention_ms <= engine_now(l->e)))
        return 0; /* expired, awaiting the sweep */
    chute_job_view v;
    view_of_row(r, &v);
    char *merged = NULL;
    if (r->state == CHUTE_JOB_COMPLETED && !jdoc_blank(r->result, r->result_len)) {
        size_t merged_len;
        if (jdoc_merge(r->variables, r->variables_len, r->result, r->result_len, &merged,
                        &merged_len) != 0)
            return CHUTE_ENOMEM;
        v.variables = merged;
        v.variables_len = merged_len;
    }
    int rc = l->fn(l->ctx, &v);
    free(merged);
    return rc;
}

int chute_engine_list_jobs(chute_engine *e, const char *type, chute_job_state state,
                           size_t offset, size_t limit, chute_job_visit_fn fn, void *ctx)
{
    job_scratch_release(e);
    list_ctx l = {e, fn, ctx};
    chute_error err;
    return store_list(e->st, type, (int)state, offset, limit, list_row, &l, &err);
}
